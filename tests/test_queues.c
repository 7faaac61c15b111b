/*
 * Multi-queue devices, the virtio-net header and offloads, end to end: a
 * real tunbrokerd in a fresh network namespace, clients running as uid
 * 65534, and the kernel's own view of what they got (rtnetlink's
 * IFLA_TUN_*, the interface's ethtool features, the queue descriptors).
 *
 * Requests go out raw (tb_encode_create), not through the library's
 * builder, so that values the builder would refuse reach the broker too;
 * the library's side is its own case, with N devices on N threads.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "codec.h"
#include "fdpass.h"
#include "netinfo.h"
#include "testlib.h"
#include "tunclient.h"

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4	5
#endif

#define LOCAL		"198.18.0.1"
#define REMOTE		"198.18.0.2"
#define FLOW_PORT	10000	/* first destination port of the flows */
#define FLOWS_MAX	4096	/* flows tried before giving up */

/* What a uid 65534 client sends, and where it reports. */
struct ask {
	const char *socket_path;
	struct tb_create_request req;
};

/* What it got: the reply, and (in the test process) the queues. */
struct outcome {
	int code;
	char text[TB_ERROR_TEXT_MAX + 16];
	char name[TB_IFNAME_MAX];
	unsigned ifindex;
	uint32_t fd_count, queues, vnet_hdr, offload;
	size_t nfds;
	int fds[TB_MAX_QUEUES];
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one reply on sock into out, keeping its descriptors in fds. */
static void
read_reply(int sock, struct outcome *out, int *fds, size_t *nfds)
{
	struct tb_created_reply rep;
	struct tb_error err = { 0 };
	struct tb_msg msg;
	uint8_t *buf;
	ssize_t n;
	int r;

	if ((buf = malloc(TB_MSG_MAX_SIZE)) == NULL) {
		out->code = -ENOMEM;
		return;
	}
	n = tb_recv(sock, buf, TB_MSG_MAX_SIZE, fds, nfds, &err);
	if (n <= 0) {
		out->code = n < 0 ? (int)n : -ECONNRESET;
		snprintf(out->text, sizeof(out->text), "recv: %s",
		    n < 0 ? err.text : "closed");
	} else if ((r = tb_msg_parse(&msg, buf, (size_t)n, *nfds, &err)) != 0) {
		out->code = r;
		snprintf(out->text, sizeof(out->text), "parse: %s", err.text);
	} else if (msg.hdr.type == TB_MSG_ERROR) {
		tb_decode_error(&msg, &err);
		out->code = err.code;
		snprintf(out->text, sizeof(out->text), "%s", err.text);
	} else if ((r = tb_decode_created(&msg, &rep, &err)) != 0) {
		out->code = r;
		snprintf(out->text, sizeof(out->text), "decode: %s", err.text);
	} else {
		snprintf(out->name, sizeof(out->name), "%s", rep.name);
		out->ifindex = rep.ifindex;
		out->fd_count = rep.fd_count;
		out->queues = rep.queues;
		out->vnet_hdr = rep.vnet_hdr;
		out->offload = rep.offload;
	}
	free(buf);
}

/* Runs as uid 65534: sends the CREATE and passes the reply back. */
static int
client_create(void *arg, int chan)
{
	const struct ask *a = arg;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct outcome out = { .code = 0 };
	struct tb_builder bld = { 0 };
	int sock, fds[TB_MSG_MAX_FDS], r;
	size_t nfds = 0;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->socket_path);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock == -1 || connect(sock, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		out.code = -errno;
		snprintf(out.text, sizeof(out.text), "connect: %s",
		    strerror(errno));
	} else if ((r = tb_encode_create(&bld, 7, &a->req)) != 0 ||
	    (r = tb_send(sock, bld.buf, bld.len, NULL, 0)) != 0) {
		out.code = r;
		snprintf(out.text, sizeof(out.text), "send: %s", strerror(-r));
	} else {
		read_reply(sock, &out, fds, &nfds);
	}
	tb_builder_release(&bld);
	out.nfds = nfds;
	r = tb_send(chan, &out, sizeof(out), fds, nfds);
	tb_close_fds(fds, nfds);
	if (sock != -1)
		close(sock);
	return r == 0 ? 0 : 1;
}

/* Sends req as uid 65534; the queues in the outcome are the test's. */
static struct outcome
create_as_nobody(const char *socket_path, const struct tb_create_request *req)
{
	static struct ask a;
	struct outcome out;
	int fds[TB_MSG_MAX_FDS];
	size_t nfds, i;

	a.socket_path = socket_path;
	a.req = *req;
	nfds = testlib_report_as(TESTLIB_UID, client_create, &a, &out,
	    sizeof(out), fds);
	ck_assert_uint_eq(nfds, out.nfds);
	ck_assert_uint_le(nfds, TB_MAX_QUEUES);
	for (i = 0; i < TB_MAX_QUEUES; i++)
		out.fds[i] = i < nfds ? fds[i] : -1;
	return out;
}

/* A TUN called name with LOCAL/24, so REMOTE is behind it. */
static struct tb_create_request
request(const char *name, unsigned queues, unsigned vnet_hdr,
    unsigned offload)
{
	struct tb_create_request req;

	memset(&req, 0, sizeof(req));
	req.device_type = TB_DEVICE_TUN;
	snprintf(req.name, sizeof(req.name), "%s", name);
	ck_assert_int_eq(tb_addr_parse(LOCAL "/24", false, &req.addrs[0],
	    NULL), 0);
	req.naddrs = 1;
	req.queues = queues;
	req.vnet_hdr = vnet_hdr;
	req.offload = offload;
	return req;
}

static void
close_queues(struct outcome *out)
{
	size_t i;

	for (i = 0; i < TB_MAX_QUEUES; i++) {
		if (out->fds[i] >= 0)
			close(out->fds[i]);
		out->fds[i] = -1;
	}
}

/* Sends one datagram to REMOTE:port, a flow of its own. */
static void
send_flow(int sock, uint16_t port)
{
	struct sockaddr_in dst = { .sin_family = AF_INET,
	    .sin_port = htons(port) };

	inet_pton(AF_INET, REMOTE, &dst.sin_addr);
	ck_assert_int_eq(sendto(sock, "flow", 4, 0, (struct sockaddr *)&dst,
	    sizeof(dst)), 4);
}

/*
 * Whether the len bytes at p (after any virtio-net header) are an IPv4
 * UDP datagram to REMOTE on one of the flows' ports.
 */
static bool
is_flow_packet(const uint8_t *p, size_t len)
{
	struct in_addr remote;
	size_t ihl;
	uint16_t port;

	inet_pton(AF_INET, REMOTE, &remote);
	if (len < 28 || p[0] >> 4 != 4 || p[9] != IPPROTO_UDP)
		return false;
	ihl = (size_t)(p[0] & 0xf) * 4;
	if (len < ihl + 8 || memcmp(p + 16, &remote, 4) != 0)
		return false;
	port = (uint16_t)(p[ihl + 2] << 8 | p[ihl + 3]);
	return port >= FLOW_PORT && port < FLOW_PORT + FLOWS_MAX;
}

/* Reads what queue fd holds now; returns how many were flow packets. */
static unsigned
drain_queue(int fd)
{
	uint8_t buf[2048];
	unsigned n = 0;
	ssize_t len;

	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		if (is_flow_packet(buf, (size_t)len))
			n++;
	}
	ck_assert_msg(len < 0 && errno == EAGAIN, "reading a queue: %s",
	    len < 0 ? strerror(errno) : "end of file");
	return n;
}

static void
set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	ck_assert_int_ge(flags, 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
}

START_TEST(queues_are_one_multi_queue_device)
{
	struct tb_create_request req = request("mq%d", 4, 0, 0);
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	struct ifreq ifr;
	size_t i;
	int tries;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 65534\nqueues = 4\n");
	out = create_as_nobody(b.socket_path, &req);
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_uint_eq(out.nfds, 4);
	ck_assert_uint_eq(out.fd_count, 4);
	ck_assert_uint_eq(out.queues, 4);

	/* The kernel: one multi-queue TUN with four queues attached. */
	ck_assert_int_eq(netinfo_link_by_name(out.name, &link), 0);
	ck_assert_uint_eq(link.ifindex, out.ifindex);
	ck_assert_str_eq(link.kind, "tun");
	ck_assert(link.multi_queue);
	ck_assert(!link.vnet_hdr);
	ck_assert(link.has_num_queues);
	ck_assert_uint_eq(link.num_queues, 4);
	ck_assert_uint_eq(link.num_disabled_queues, 0);
	ck_assert(link.has_owner);
	ck_assert_uint_eq(link.owner, TESTLIB_UID);

	/* Each descriptor is a queue of that device. */
	for (i = 0; i < 4; i++) {
		memset(&ifr, 0, sizeof(ifr));
		ck_assert_int_eq(ioctl(out.fds[i], TUNGETIFF, &ifr), 0);
		ck_assert_str_eq(ifr.ifr_name, out.name);
		ck_assert(ifr.ifr_flags & IFF_MULTI_QUEUE);
		ck_assert(!(ifr.ifr_flags & IFF_VNET_HDR));
		ck_assert_int_eq(fcntl(out.fds[i], F_GETFD) & FD_CLOEXEC,
		    FD_CLOEXEC);
	}

	/* Closing one detaches one queue; the device stays. */
	close(out.fds[3]);
	out.fds[3] = -1;
	for (tries = 0; tries < 500; tries++) {
		ck_assert_int_eq(netinfo_link_by_name(out.name, &link), 0);
		if (link.num_queues == 3)
			break;
		usleep(10 * 1000);
	}
	ck_assert_uint_eq(link.num_queues, 3);
	close_queues(&out);
	ck_assert(netinfo_link_gone_within(out.name, 5000));
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(every_queue_receives_traffic)
{
	struct tb_create_request req = request("mqrx%d", 4, 0, 0);
	unsigned got[4] = { 0 }, total = 0, sent = 0, q;
	struct testlib_broker b;
	struct outcome out;
	bool all;
	int sock;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 65534\nqueues = 4\n");
	out = create_as_nobody(b.socket_path, &req);
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	for (q = 0; q < 4; q++)
		set_nonblocking(out.fds[q]);
	sock = testlib_udp_socket(AF_INET, LOCAL, 0);

	/*
	 * The kernel picks a transmit queue by each flow's hash: flows to
	 * distinct ports spread over the queues.  A batch of 64 at a time,
	 * drained before the next, stays far below the queues' length.
	 */
	do {
		for (q = 0; q < 64; q++)
			send_flow(sock, (uint16_t)(FLOW_PORT + sent++));
		all = true;
		for (q = 0; q < 4; q++) {
			got[q] += drain_queue(out.fds[q]);
			all = all && got[q] > 0;
		}
	} while (!all && sent < FLOWS_MAX);
	for (q = 0; q < 4; q++) {
		ck_assert_msg(got[q] > 0, "queue %u received none of %u flows "
		    "(%u %u %u %u)", q, sent, got[0], got[1], got[2], got[3]);
		total += got[q];
	}
	/* Each datagram came out of exactly one queue. */
	ck_assert_uint_eq(total, sent);

	close(sock);
	close_queues(&out);
	ck_assert(netinfo_link_gone_within(out.name, 5000));
	testlib_broker_stop(&b);
}
END_TEST

/*
 * The library's side, as uid 65534: a lease of N queues becomes N
 * devices, each on an event_base of its own run by a thread of its own,
 * and all of them receive at once.
 */
#define THREADS	4

struct queue_thread {
	struct event_base *base;
	struct tunclient_device *dev;
	pthread_t thread;
	atomic_uint packets;
	atomic_bool running;
	bool wrong_thread;	/* a callback ran off the device's thread */
	bool shut;
};

static void
on_queue_packet(struct tunclient_device *dev, const void *data, size_t len,
    void *arg)
{
	struct queue_thread *t = arg;

	(void)dev;
	if (!pthread_equal(pthread_self(), t->thread))
		t->wrong_thread = true;
	if (is_flow_packet(data, len))
		atomic_fetch_add(&t->packets, 1);
}

static void
on_queue_shutdown(struct tunclient_device *dev, size_t unsent, void *arg)
{
	struct queue_thread *t = arg;

	(void)unsent;
	t->shut = true;
	tunclient_device_free(dev);
	t->dev = NULL;
}

static void *
run_queue(void *arg)
{
	struct queue_thread *t = arg;

	atomic_store(&t->running, true);
	/* Returns once the device, its last event, is freed. */
	event_base_dispatch(t->base);
	return NULL;
}

/* Exit codes of threaded_client, for the assertion's message. */
enum {
	TC_OK, TC_SETUP, TC_REQUEST, TC_DEVICE, TC_INFO, TC_THREAD, TC_QUIET,
	TC_WRONG_THREAD, TC_SHUTDOWN,
};

static int
threaded_client(void *arg)
{
	static const struct tunclient_device_callbacks cbs = {
		.packet = on_queue_packet,
		.shutdown = on_queue_shutdown,
	};
	const char *socket_path = arg;
	struct queue_thread threads[THREADS];
	struct tunclient_request *req = NULL;
	struct tunclient_lease *lease = NULL;
	struct tunclient_conn *conn = NULL;
	struct tunclient_interrupt *intr = NULL;
	const struct tunclient_device_info *info;
	unsigned sent = 0, i, j;
	int sock, rc = TC_OK;
	int64_t end;
	bool all;

	memset(threads, 0, sizeof(threads));
	if (tunclient_request_new(&req) != 0 ||
	    tunclient_request_set_name(req, "mqt%d") != 0 ||
	    tunclient_request_add_address(req, LOCAL "/24") != 0 ||
	    tunclient_request_set_queues(req, THREADS) != 0 ||
	    tunclient_interrupt_new(&intr) != 0 ||
	    tunclient_connect(socket_path, &conn) != 0)
		return TC_SETUP;
	if (tunclient_request(conn, req, &lease) != 0) {
		fprintf(stderr, "request: %s\n", tunclient_conn_error(conn));
		return TC_REQUEST;
	}
	if (tunclient_lease_fd_count(lease) != THREADS ||
	    !tunclient_lease_multi_queue(lease))
		return TC_REQUEST;
	/* Each device is made for the base its thread will run. */
	for (i = 0; i < THREADS; i++) {
		if ((threads[i].base = event_base_new()) == NULL ||
		    tunclient_device_from_lease(threads[i].base, lease, i,
		    &cbs, &threads[i], &threads[i].dev) != 0 ||
		    tunclient_device_attach_interrupt(threads[i].dev, intr,
		    TUNCLIENT_SHUTDOWN_DROP, 0) != 0)
			return TC_DEVICE;
		info = tunclient_device_info(threads[i].dev);
		if (!info->multi_queue ||
		    strcmp(info->name, tunclient_lease_name(lease)) != 0)
			return TC_INFO;
	}
	for (i = 0; i < THREADS; i++) {
		if (pthread_create(&threads[i].thread, NULL, run_queue,
		    &threads[i]) != 0)
			return TC_THREAD;
	}
	for (i = 0; i < THREADS; i++) {
		while (!atomic_load(&threads[i].running))
			sched_yield();
	}

	/* Flows until every thread's device has had some, 10 s at most. */
	if ((sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return TC_SETUP;
	end = now_ms() + 10000;
	do {
		struct sockaddr_in dst = { .sin_family = AF_INET };

		inet_pton(AF_INET, REMOTE, &dst.sin_addr);
		for (j = 0; j < 16 && sent < FLOWS_MAX; j++) {
			dst.sin_port = htons((uint16_t)(FLOW_PORT + sent++));
			if (sendto(sock, "flow", 4, 0, (struct sockaddr *)&dst,
			    sizeof(dst)) != 4)
				return TC_SETUP;
		}
		usleep(1000);
		all = true;
		for (i = 0; i < THREADS; i++)
			all = all && atomic_load(&threads[i].packets) > 0;
	} while (!all && now_ms() < end);
	close(sock);

	/* One trigger stops every device, each on its own thread. */
	tunclient_interrupt_trigger(intr);
	for (i = 0; i < THREADS; i++)
		pthread_join(threads[i].thread, NULL);
	for (i = 0; i < THREADS; i++) {
		fprintf(stderr, "thread %u: %u packets\n", i,
		    atomic_load(&threads[i].packets));
		if (atomic_load(&threads[i].packets) == 0 && rc == TC_OK)
			rc = TC_QUIET;
		if (threads[i].wrong_thread && rc == TC_OK)
			rc = TC_WRONG_THREAD;
		if ((!threads[i].shut || threads[i].dev != NULL) &&
		    rc == TC_OK)
			rc = TC_SHUTDOWN;
		event_base_free(threads[i].base);
	}
	tunclient_lease_free(lease);
	tunclient_interrupt_free(intr);
	tunclient_close(conn);
	tunclient_request_free(req);
	return rc;
}

START_TEST(n_devices_on_n_threads)
{
	struct testlib_broker b;
	int status;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 65534\nqueues = 4\n");
	status = testlib_run_as_user(threaded_client, b.socket_path);
	ck_assert_msg(status == TC_OK, "threaded client failed with %d "
	    "(enum in test_queues.c)", status);
	testlib_broker_stop(&b);
}
END_TEST

/* Waits for one packet on fd (blocking read with poll); returns its length. */
static ssize_t
read_packet(int fd, uint8_t *buf, size_t size)
{
	ck_assert_int_eq(poll(&(struct pollfd){ .fd = fd, .events = POLLIN },
	    1, 5000), 1);
	return read(fd, buf, size);
}

/* Reads until a flow packet comes; returns its length, header included. */
static ssize_t
read_flow_packet(int fd, size_t hdr_size, uint8_t *buf, size_t size)
{
	ssize_t n;
	int i;

	for (i = 0; i < 100; i++) {
		n = read_packet(fd, buf, size);
		ck_assert_int_gt(n, (ssize_t)hdr_size);
		if (is_flow_packet(buf + hdr_size, (size_t)n - hdr_size))
			return n;
	}
	ck_abort_msg("no flow packet in 100");
	return -1;
}

/* Checks a device with a header of hdr_size bytes, both ways. */
static void
check_vnet_hdr(const char *socket_path, const char *name, unsigned hdr_size)
{
	static const char payload[] = "behind a header";
	struct tb_create_request req = request(name, 0, hdr_size, 0);
	uint8_t buf[2048], pkt[12 + 28 + sizeof(payload) - 1];
	uint32_t ip[(28 + sizeof(payload) + 3) / 4];
	struct virtio_net_hdr hdr;
	struct netinfo_link link;
	struct outcome out;
	struct ifreq ifr;
	int size = 0, sock;
	ssize_t n;
	size_t len;

	out = create_as_nobody(socket_path, &req);
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_uint_eq(out.nfds, 1);
	ck_assert_uint_eq(out.vnet_hdr, hdr_size);
	ck_assert_int_eq(netinfo_link_by_name(out.name, &link), 0);
	ck_assert(link.vnet_hdr);
	ck_assert(!link.multi_queue);
	memset(&ifr, 0, sizeof(ifr));
	ck_assert_int_eq(ioctl(out.fds[0], TUNGETIFF, &ifr), 0);
	ck_assert(ifr.ifr_flags & IFF_VNET_HDR);
	ck_assert_int_eq(ioctl(out.fds[0], TUNGETVNETHDRSZ, &size), 0);
	ck_assert_int_eq(size, (int)hdr_size);

	/* What comes out is the header, then the IP packet. */
	sock = testlib_udp_socket(AF_INET, LOCAL, 4000);
	send_flow(sock, FLOW_PORT);
	n = read_flow_packet(out.fds[0], hdr_size, buf, sizeof(buf));
	ck_assert_int_eq(n, (ssize_t)(hdr_size + 28 + 4));
	memcpy(&hdr, buf, sizeof(hdr));
	ck_assert_uint_eq(hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	ck_assert_uint_eq(hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);

	/* A packet behind a zero header goes in. */
	/* Built aligned, as testlib_udp4_packet() wants, then framed. */
	memset(pkt, 0, hdr_size);
	len = testlib_udp4_packet((uint8_t *)ip, REMOTE, 5000, LOCAL, 4000,
	    payload, sizeof(payload) - 1);
	memcpy(pkt + hdr_size, ip, len);
	ck_assert_int_eq(write(out.fds[0], pkt, hdr_size + len),
	    (ssize_t)(hdr_size + len));
	ck_assert_int_eq(poll(&(struct pollfd){ .fd = sock, .events = POLLIN },
	    1, 5000), 1);
	n = recv(sock, buf, sizeof(buf), 0);
	ck_assert_int_eq(n, (ssize_t)sizeof(payload) - 1);
	ck_assert_int_eq(memcmp(buf, payload, (size_t)n), 0);
	close(sock);
	close_queues(&out);
	ck_assert(netinfo_link_gone_within(out.name, 5000));
}

START_TEST(vnet_hdr_frames_every_packet)
{
	struct testlib_broker b;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 65534\n");
	check_vnet_hdr(b.socket_path, "vnet10", TB_VNET_HDR_SIZE);
	check_vnet_hdr(b.socket_path, "vnet12", TB_VNET_HDR_SIZE_MRG);
	testlib_broker_stop(&b);
}
END_TEST

/* The features `ethtool -k` shows for each offload the broker sets. */
static const struct {
	const char *feature;
	unsigned offload;
} features[] = {
	{ "tx-checksum-ip-generic", TB_OFFLOAD_CSUM },
	{ "tx-tcp-segmentation", TB_OFFLOAD_TSO4 },
	{ "tx-tcp6-segmentation", TB_OFFLOAD_TSO6 },
	{ "tx-tcp-ecn-segmentation", TB_OFFLOAD_TSO_ECN },
	{ "tx-udp-segmentation", TB_OFFLOAD_USO4 | TB_OFFLOAD_USO6 },
};

/* The kernel's features of name are exactly offload. */
static void
check_features(const char *name, unsigned offload)
{
	bool on;
	size_t i;

	for (i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		ck_assert_int_eq(netinfo_feature(name, features[i].feature,
		    &on), 0);
		ck_assert_msg(on == ((offload & features[i].offload) != 0),
		    "%s: %s is %s", name, features[i].feature,
		    on ? "on" : "off");
	}
	ck_assert_int_eq(netinfo_legacy_offload(name, ETHTOOL_GTXCSUM, &on), 0);
	ck_assert_int_eq(on, (offload & TB_OFFLOAD_CSUM) != 0);
	ck_assert_int_eq(netinfo_legacy_offload(name, ETHTOOL_GTSO, &on), 0);
	ck_assert_int_eq(on, (offload & (TB_OFFLOAD_TSO4 | TB_OFFLOAD_TSO6))
	    != 0);
}

START_TEST(offloads_show_in_the_features)
{
	static const unsigned cases[] = {
		0,
		TB_OFFLOAD_CSUM,
		TB_OFFLOAD_CSUM | TB_OFFLOAD_TSO4,
		TB_OFFLOAD_CSUM | TB_OFFLOAD_TSO6 | TB_OFFLOAD_TSO_ECN,
		TB_OFFLOAD_CSUM | TB_OFFLOAD_USO4 | TB_OFFLOAD_USO6,
		TB_OFFLOAD_ALL,
	};
	struct tb_create_request req;
	struct testlib_broker b;
	struct outcome out;
	size_t i;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 65534\noffload = yes\nqueues = 2\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req = request("off%d", i % 2 == 0 ? 2 : 0, TB_VNET_HDR_SIZE,
		    cases[i]);
		out = create_as_nobody(b.socket_path, &req);
		ck_assert_msg(out.code == 0, "refused 0x%x: %s", cases[i],
		    out.text);
		ck_assert_uint_eq(out.offload, cases[i]);
		check_features(out.name, cases[i]);
		close_queues(&out);
		ck_assert(netinfo_link_gone_within(out.name, 5000));
	}
	testlib_broker_stop(&b);
}
END_TEST

/* Adds the Internet checksum of len bytes at p to sum, unfolded. */
static uint32_t
sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t
fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * Answers the SYN at syn (an IPv4 TCP packet) with a SYN-ACK from its
 * destination, offering an MSS of 1460 and a 64 KiB window, into pkt.
 */
static size_t
syn_ack(const uint8_t *syn, uint8_t *pkt)
{
	size_t ihl = (size_t)(syn[0] & 0xf) * 4;
	const uint8_t *tcp = syn + ihl;
	uint8_t *t = pkt + 20;
	uint32_t seq, sum;
	uint16_t csum;

	memset(pkt, 0, 44);
	pkt[0] = 0x45;
	pkt[3] = 44;
	pkt[8] = 64;
	pkt[9] = IPPROTO_TCP;
	memcpy(pkt + 12, syn + 16, 4);		/* from whom it was for */
	memcpy(pkt + 16, syn + 12, 4);
	csum = htons(fold(sum16(0, pkt, 20)));
	memcpy(pkt + 10, &csum, 2);
	memcpy(t, tcp + 2, 2);			/* ports swapped */
	memcpy(t + 2, tcp, 2);
	memcpy(t + 4, "\0\0\x10\0", 4);		/* our sequence: 4096 */
	memcpy(&seq, tcp + 4, 4);
	seq = htonl(ntohl(seq) + 1);
	memcpy(t + 8, &seq, 4);
	t[12] = 6 << 4;				/* 24 bytes: one option */
	t[13] = 0x12;				/* SYN, ACK */
	t[14] = 0xff;
	t[15] = 0xff;
	memcpy(t + 20, "\x02\x04\x05\xb4", 4);	/* MSS 1460 */
	sum = sum16(0, pkt + 12, 8) + IPPROTO_TCP + 24;
	csum = htons(fold(sum16(sum, t, 24)));
	memcpy(t + 16, &csum, 2);
	return 44;
}

/* Whether the packet at p is IPv4 TCP with the SYN flag alone. */
static bool
is_syn(const uint8_t *p, size_t len)
{
	size_t ihl = (size_t)(p[0] & 0xf) * 4;

	return len >= ihl + 20 && p[0] >> 4 == 4 && p[9] == IPPROTO_TCP &&
	    (p[ihl + 13] & 0x3f) == 0x02;
}

/*
 * With csum and tso4, the kernel hands the device whole TCP bursts: one
 * packet longer than the MTU, which the header marks TCPV4 with the
 * segment size and a checksum left to complete.
 */
START_TEST(tso_hands_over_large_segments)
{
	struct tb_create_request req = request("tso0", 0, TB_VNET_HDR_SIZE,
	    TB_OFFLOAD_CSUM | TB_OFFLOAD_TSO4);
	struct sockaddr_in dst = { .sin_family = AF_INET,
	    .sin_port = htons(7000) };
	static uint8_t data[60000], buf[70000];
	struct virtio_net_hdr hdr;
	struct testlib_broker b;
	struct outcome out;
	uint8_t pkt[10 + 44];
	bool gso = false;
	ssize_t n;
	int sock, i;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 65534\noffload = yes\n");
	out = create_as_nobody(b.socket_path, &req);
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(sock, 0);
	inet_pton(AF_INET, REMOTE, &dst.sin_addr);
	ck_assert_int_eq(connect(sock, (struct sockaddr *)&dst, sizeof(dst)),
	    -1);
	ck_assert_int_eq(errno, EINPROGRESS);

	/* Play the far end of the handshake through the device. */
	for (i = 0; i < 100; i++) {
		n = read_packet(out.fds[0], buf, sizeof(buf));
		if (n > 10 && is_syn(buf + 10, (size_t)n - 10))
			break;
	}
	ck_assert_int_lt(i, 100);
	memset(pkt, 0, 10);
	ck_assert_int_eq(write(out.fds[0], pkt, 10 + syn_ack(buf + 10,
	    pkt + 10)), (ssize_t)sizeof(pkt));
	ck_assert_int_eq(poll(&(struct pollfd){ .fd = sock, .events = POLLOUT },
	    1, 5000), 1);
	ck_assert_int_eq(getsockopt(sock, SOL_SOCKET, SO_ERROR, &i,
	    &(socklen_t){ sizeof(i) }), 0);
	ck_assert_int_eq(i, 0);

	ck_assert_int_gt(send(sock, data, sizeof(data), 0), 3000);
	for (i = 0; i < 100 && !gso; i++) {
		n = read_packet(out.fds[0], buf, sizeof(buf));
		ck_assert_int_gt(n, 10);
		memcpy(&hdr, buf, sizeof(hdr));
		if (hdr.gso_type != VIRTIO_NET_HDR_GSO_TCPV4)
			continue;
		gso = true;
		ck_assert_int_gt(n - 10, 1500);
		ck_assert_uint_gt(hdr.gso_size, 0);
		ck_assert_uint_le(hdr.gso_size, 1460);
		ck_assert(hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
		ck_assert_uint_eq(hdr.csum_start, 20);	/* the TCP header */
		ck_assert_uint_eq(hdr.csum_offset, 16);
	}
	ck_assert_msg(gso, "no TCPV4 GSO packet came out of the device");
	close(sock);
	close_queues(&out);
	ck_assert(netinfo_link_gone_within(out.name, 5000));
	testlib_broker_stop(&b);
}
END_TEST

/* With csum, uso4 and uso6, a UDP_SEGMENT send comes out in one piece. */
START_TEST(uso_hands_over_large_datagrams)
{
	struct tb_create_request req = request("uso0", 0, TB_VNET_HDR_SIZE,
	    TB_OFFLOAD_CSUM | TB_OFFLOAD_USO4 | TB_OFFLOAD_USO6);
	struct sockaddr_in dst = { .sin_family = AF_INET,
	    .sin_port = htons(FLOW_PORT) };
	static uint8_t data[4000], buf[70000];
	struct virtio_net_hdr hdr;
	struct testlib_broker b;
	struct outcome out;
	int sock, seg = 1000;
	ssize_t n;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 65534\noffload = yes\n");
	out = create_as_nobody(b.socket_path, &req);
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	sock = testlib_udp_socket(AF_INET, LOCAL, 0);
	ck_assert_int_eq(setsockopt(sock, SOL_UDP, UDP_SEGMENT, &seg,
	    sizeof(seg)), 0);
	inet_pton(AF_INET, REMOTE, &dst.sin_addr);
	ck_assert_int_eq(sendto(sock, data, sizeof(data), 0,
	    (struct sockaddr *)&dst, sizeof(dst)), (ssize_t)sizeof(data));
	n = read_flow_packet(out.fds[0], 10, buf, sizeof(buf));
	memcpy(&hdr, buf, sizeof(hdr));
	ck_assert_uint_eq(hdr.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
	ck_assert_uint_eq(hdr.gso_size, 1000);
	ck_assert(hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	ck_assert_int_eq(n, 10 + 28 + (ssize_t)sizeof(data));
	close(sock);
	close_queues(&out);
	ck_assert(netinfo_link_gone_within(out.name, 5000));
	testlib_broker_stop(&b);
}
END_TEST

/* template with its "%s", if any, replaced by cite (freed by the caller). */
static char *
with_cite(const char *template, const char *cite)
{
	const char *at = strstr(template, "%s");

	if (at == NULL)
		return testlib_strf("%s", template);
	return testlib_strf("%.*s%s%s", (int)(at - template), template, cite,
	    at + 2);
}

START_TEST(refusals_name_the_value_and_rule)
{
	struct {
		unsigned queues, vnet_hdr, offload;
		int code;
		const char *text;	/* %s: the rule's citation */
	} cases[] = {
		{ 3, 0, 0, -EPERM, "queues 3 is more than the 2 %s allows" },
		{ 17, 0, 0, -EINVAL, "queues 17 is outside 1 to 16" },
		{ 0, 11, 0, -EINVAL, "vnet-hdr 11 is neither 10 nor 12" },
		{ 0, 0, TB_OFFLOAD_CSUM, -EINVAL, "offload csum needs "
		    "vnet-hdr: without the header no offload can be described" },
		{ 0, 10, TB_OFFLOAD_TSO4, -EINVAL, "offload tso4 needs csum: "
		    "the kernel segments only packets whose checksum it may "
		    "leave partial" },
		{ 0, 10, TB_OFFLOAD_CSUM | TB_OFFLOAD_USO4, -EINVAL,
		    "offload csum,uso4: the kernel takes uso4 and uso6 only "
		    "together" },
		{ 0, 10, TB_OFFLOAD_CSUM | TB_OFFLOAD_TSO_ECN, -EINVAL,
		    "offload csum,tso-ecn: tso-ecn needs tso4 or tso6" },
		{ 0, 10, TB_OFFLOAD_CSUM | 0x40, -EINVAL,
		    "offload csum,0x40 has unknown bits 0x40" },
		{ 0, 10, TB_OFFLOAD_CSUM | TB_OFFLOAD_TSO4, -EPERM,
		    "offload csum,tso4 is not allowed by %s (offload = no)" },
	};
	struct tb_create_request req;
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	char *cite, *want;
	size_t i;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 65534\nqueues = 2\n");
	/* testlib's configuration opens [rule test] on line 8. */
	cite = testlib_strf("rule test (%s:8)", b.config_path);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req = request("refused0", cases[i].queues, cases[i].vnet_hdr,
		    cases[i].offload);
		out = create_as_nobody(b.socket_path, &req);
		want = with_cite(cases[i].text, cite);
		ck_assert_int_eq(out.code, cases[i].code);
		ck_assert_str_eq(out.text, want);
		ck_assert_uint_eq(out.nfds, 0);
		ck_assert_int_eq(netinfo_link_by_name("refused0", &link),
		    -ENODEV);
		free(want);
	}
	free(cite);
	testlib_broker_stop(&b);
}
END_TEST

/*
 * A multi-queue device that fails after it exists (its second, equal
 * address) is deleted with all its queues, and the broker holds no more
 * descriptors than before.
 */
START_TEST(failure_part_way_leaves_nothing)
{
	struct tb_create_request req = request("halfmq0", 4, 12,
	    TB_OFFLOAD_CSUM | TB_OFFLOAD_TSO4);
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	int before;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 65534\nqueues = 4\noffload = yes\n");
	before = testlib_broker_settled_fds(&b);
	req.addrs[1] = req.addrs[0];
	req.naddrs = 2;
	out = create_as_nobody(b.socket_path, &req);
	ck_assert_int_eq(out.code, -EEXIST);
	ck_assert_msg(strstr(out.text, "198.18.0.1/24") != NULL,
	    "the error does not name the address: %s", out.text);
	ck_assert_uint_eq(out.nfds, 0);
	ck_assert_int_eq(netinfo_link_by_name("halfmq0", &link), -ENODEV);
	ck_assert_int_eq(testlib_broker_settled_fds(&b), before);

	/* A good one, then closed: back to the same count too. */
	req.naddrs = 1;
	out = create_as_nobody(b.socket_path, &req);
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_uint_eq(out.nfds, 4);
	close_queues(&out);
	ck_assert(netinfo_link_gone_within("halfmq0", 5000));
	ck_assert_int_eq(testlib_broker_settled_fds(&b), before);
	testlib_broker_stop(&b);
}
END_TEST

/*
 * A holder may make the device persistent (TUNSETPERSIST needs no
 * privilege); the broker still deletes a multi-queue device once the
 * kernel counts no queue attached.
 */
START_TEST(persistent_multi_queue_device_deleted_after_last_close)
{
	struct tb_create_request req = request("mqp%d", 3, 0, 0);
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 65534\nqueues = 4\n");
	out = create_as_nobody(b.socket_path, &req);
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_int_eq(ioctl(out.fds[1], TUNSETPERSIST, 1UL), 0);
	/* A detached queue still holds the device. */
	ck_assert_int_eq(ioctl(out.fds[2], TUNSETQUEUE, &(struct ifreq){
	    .ifr_flags = IFF_DETACH_QUEUE }), 0);
	close(out.fds[0]);
	close(out.fds[1]);
	out.fds[0] = out.fds[1] = -1;
	ck_assert_int_eq(netinfo_link_by_name(out.name, &link), 0);
	ck_assert_uint_eq(link.num_queues, 0);
	ck_assert_uint_eq(link.num_disabled_queues, 1);
	close_queues(&out);
	ck_assert_msg(netinfo_link_gone_within(out.name, 5000),
	    "the persistent multi-queue device outlived its last queue");
	testlib_broker_stop(&b);
}
END_TEST

/*
 * The lowest descriptor limit under which process pid has exactly free
 * numbers left, given the ones it holds now.
 */
static rlim_t
limit_leaving(pid_t pid, unsigned free)
{
	char path[64];
	bool used[4096] = { false };
	struct dirent *d;
	unsigned fd, left = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	ck_assert_ptr_nonnull(dir = opendir(path));
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		fd = (unsigned)strtoul(d->d_name, NULL, 10);
		ck_assert_uint_lt(fd, 4096);
		used[fd] = true;
	}
	closedir(dir);
	for (fd = 0; fd < 4096; fd++) {
		if (!used[fd] && ++left > free)
			return fd;
	}
	ck_abort_msg("no limit leaves %u descriptors", free);
	return 0;
}

/*
 * The broker running out of descriptors while it opens the queues (a
 * real limit, RLIMIT_NOFILE, not a hook): the queues already open are
 * closed, no device is made, and the next request succeeds.  Three
 * numbers are left: the client's connection and two queues of four.
 */
START_TEST(out_of_descriptors_part_way_leaves_nothing)
{
	struct tb_create_request req = request("mqlim%d", 4, 0, 0);
	struct rlimit normal, low;
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	int before;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 65534\nqueues = 4\n");
	before = testlib_broker_settled_fds(&b);
	ck_assert_int_eq(prlimit(b.pid, RLIMIT_NOFILE, NULL, &normal), 0);
	low = normal;
	low.rlim_cur = limit_leaving(b.pid, 3);
	ck_assert_int_eq(prlimit(b.pid, RLIMIT_NOFILE, &low, NULL), 0);
	out = create_as_nobody(b.socket_path, &req);
	ck_assert_int_eq(out.code, -EMFILE);
	ck_assert_str_eq(out.text, "creating device \"mqlim%d\": opening "
	    "/dev/net/tun: Too many open files");
	ck_assert_uint_eq(out.nfds, 0);
	ck_assert_int_eq(netinfo_link_by_name("mqlim0", &link), -ENODEV);
	ck_assert_int_eq(testlib_broker_settled_fds(&b), before);

	ck_assert_int_eq(prlimit(b.pid, RLIMIT_NOFILE, &normal, NULL), 0);
	out = create_as_nobody(b.socket_path, &req);
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_uint_eq(out.nfds, 4);
	close_queues(&out);
	ck_assert(netinfo_link_gone_within(out.name, 5000));
	testlib_broker_stop(&b);
}
END_TEST

static Suite *
queues_suite(void)
{
	Suite *s = suite_create("queues");
	TCase *tc = tcase_create("queues");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, queues_are_one_multi_queue_device);
	tcase_add_test(tc, every_queue_receives_traffic);
	tcase_add_test(tc, n_devices_on_n_threads);
	tcase_add_test(tc, vnet_hdr_frames_every_packet);
	tcase_add_test(tc, offloads_show_in_the_features);
	tcase_add_test(tc, tso_hands_over_large_segments);
	tcase_add_test(tc, uso_hands_over_large_datagrams);
	tcase_add_test(tc, refusals_name_the_value_and_rule);
	tcase_add_test(tc, failure_part_way_leaves_nothing);
	tcase_add_test(tc, out_of_descriptors_part_way_leaves_nothing);
	tcase_add_test(tc, persistent_multi_queue_device_deleted_after_last_close);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testlib_run(queues_suite(), true);
}
