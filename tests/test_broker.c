/*
 * The broker end to end: a real tunbrokerd process in a fresh network
 * namespace, an unprivileged client using libtunclient, and the kernel's
 * own view of the device it got.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "codec.h"
#include "fdpass.h"
#include "netinfo.h"
#include "testlib.h"
#include "tunclient.h"

#define ALLOW_NOBODY	"users = 65534\n"

/* What an unprivileged client asks for. */
struct ask {
	const char *socket_path;
	const char *name;
	const char *addrs[4];
	const char *peer;
	unsigned mtu;
};

/* What it got, as reported to the test process. */
struct outcome {
	int code;
	char text[TB_ERROR_TEXT_MAX];
	char name[IFNAMSIZ];
	unsigned ifindex;
	unsigned mtu;
	size_t naddrs;
	char addrs[4][64];
	int fd;			/* the device, now the test's; or -1 */
};

/*
 * Runs as the unprivileged user: requests a device through libtunclient
 * and sends the outcome, with the device's fd, back over chan.
 */
static int
client_request(void *arg, int chan)
{
	const struct ask *a = arg;
	struct tunclient_request *req = NULL;
	struct tunclient_lease *lease = NULL;
	struct tunclient_conn *conn = NULL;
	struct outcome out = { .fd = -1 };
	int fd = -1, r;
	size_t i;

	r = tunclient_request_new(&req);
	if (r == 0 && a->name != NULL)
		r = tunclient_request_set_name(req, a->name);
	for (i = 0; r == 0 && i < 4 && a->addrs[i] != NULL; i++)
		r = tunclient_request_add_address(req, a->addrs[i]);
	if (r == 0 && a->peer != NULL)
		r = tunclient_request_set_peer(req, a->peer);
	if (r == 0 && a->mtu != 0)
		r = tunclient_request_set_mtu(req, a->mtu);
	if (r != 0) {
		snprintf(out.text, sizeof(out.text), "builder: %s",
		    tunclient_request_error(req));
	} else if ((r = tunclient_connect(a->socket_path, &conn)) != 0) {
		snprintf(out.text, sizeof(out.text), "connect: %s",
		    strerror(-r));
	} else if ((r = tunclient_request(conn, req, &lease)) != 0) {
		snprintf(out.text, sizeof(out.text), "%s",
		    tunclient_conn_error(conn));
	} else {
		snprintf(out.name, sizeof(out.name), "%s",
		    tunclient_lease_name(lease));
		out.ifindex = tunclient_lease_ifindex(lease);
		out.mtu = tunclient_lease_mtu(lease);
		out.naddrs = tunclient_lease_address_count(lease);
		for (i = 0; i < out.naddrs && i < 4; i++)
			tunclient_lease_address(lease, i, out.addrs[i], 64);
		fd = tunclient_lease_fd(lease, 0);
	}
	out.code = r;
	r = tb_send(chan, &out, sizeof(out), &fd, fd >= 0 ? 1 : 0);
	tunclient_lease_free(lease);
	tunclient_close(conn);
	tunclient_request_free(req);
	return r == 0 ? 0 : 1;
}

/* Asks as uid 65534 and returns what happened. */
static struct outcome
ask_as_nobody(struct ask a)
{
	struct outcome out;
	int fds[TB_MSG_MAX_FDS];
	size_t nfds;

	nfds = testlib_report_as(TESTLIB_UID, client_request, &a, &out,
	    sizeof(out), fds);
	out.fd = testlib_report_fd(fds, nfds, out.code == 0);
	return out;
}

/* The kernel's view of the link called name, which must exist. */
static struct netinfo_link
link_of(const char *name)
{
	struct netinfo_link link;

	ck_assert_int_eq(netinfo_link_by_name(name, &link), 0);
	return link;
}

START_TEST(grant_configures_device)
{
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	char *log;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .addrs = { "198.18.0.1/24", "2001:db8::1/64" }, .mtu = 1400 });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_int_ge(out.fd, 0);
	ck_assert_str_eq(out.name, "tun0");
	ck_assert_uint_eq(out.mtu, 1400);
	ck_assert_uint_eq(out.naddrs, 2);
	ck_assert_str_eq(out.addrs[0], "198.18.0.1/24");
	ck_assert_str_eq(out.addrs[1], "2001:db8::1/64");

	/* The kernel's view, not the broker's word for it. */
	ck_assert_int_eq(netinfo_link_by_name(out.name, &link), 0);
	ck_assert_uint_eq(link.ifindex, out.ifindex);
	ck_assert_str_eq(link.kind, "tun");
	ck_assert_uint_eq(link.mtu, 1400);
	ck_assert_msg(link.flags & IFF_UP, "link is not up");
	ck_assert_msg(link.has_owner && link.owner == TESTLIB_UID,
	    "owner is not the client");
	ck_assert_msg(link.has_group && link.group == TESTLIB_GID,
	    "group is not the client's");
	ck_assert_uint_eq(link.naddrs, 2);
	ck_assert(netinfo_link_has_address(&link, "198.18.0.1/24"));
	ck_assert(netinfo_link_has_address(&link, "2001:db8::1/64"));

	/* One grant line naming the client. */
	log = testlib_broker_log_with(&b, "grant uid=65534 pid=");
	ck_assert_ptr_nonnull(strstr(log, "create tun0"));
	free(log);

	/* The device lives exactly as long as the client's fd. */
	close(out.fd);
	ck_assert_msg(netinfo_link_gone_within("tun0", 2000),
	    "tun0 outlived its fd");
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(packets_flow_both_ways)
{
	static const char to_socket[] = "into the namespace";
	static const char to_device[] = "out through the device";
	struct sockaddr_in dst = { .sin_family = AF_INET,
	    .sin_port = htons(5000) };
	struct sockaddr_in6 dst6 = { .sin6_family = AF_INET6,
	    .sin6_port = htons(5000) };
	struct testlib_broker b;
	struct outcome out;
	uint8_t pkt[20 + 8 + sizeof(to_socket) - 1];
	char buf[256];
	ssize_t n;
	int sock, sock6;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .addrs = { "198.18.0.1/24", "2001:db8::1/64" }, .mtu = 1400 });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	sock = testlib_udp_socket(AF_INET, "198.18.0.1", 4000);
	sock6 = testlib_udp_socket(AF_INET6, "2001:db8::1", 4000);

	/* An IPv4 UDP packet written into the fd reaches the socket. */
	ck_assert_uint_eq(testlib_udp4_packet(pkt, "198.18.0.2", 5000,
	    "198.18.0.1", 4000, to_socket, sizeof(to_socket) - 1), sizeof(pkt));
	ck_assert_int_eq(write(out.fd, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	ck_assert_int_eq(poll(&(struct pollfd){ .fd = sock, .events = POLLIN },
	    1, 2000), 1);
	n = recv(sock, buf, sizeof(buf), 0);
	ck_assert_int_eq(n, (ssize_t)sizeof(to_socket) - 1);
	ck_assert_int_eq(memcmp(buf, to_socket, (size_t)n), 0);

	/* Datagrams to addresses behind the device come out of the fd. */
	inet_pton(AF_INET, "198.18.0.2", &dst.sin_addr);
	ck_assert_int_eq(sendto(sock, to_device, strlen(to_device), 0,
	    (struct sockaddr *)&dst, sizeof(dst)), (ssize_t)strlen(to_device));
	ck_assert_msg(testlib_read_udp_from_device(out.fd, 4, to_device),
	    "IPv4 datagram to 198.18.0.2 did not come out of the device");
	inet_pton(AF_INET6, "2001:db8::2", &dst6.sin6_addr);
	ck_assert_int_eq(sendto(sock6, to_device, strlen(to_device), 0,
	    (struct sockaddr *)&dst6, sizeof(dst6)), (ssize_t)strlen(to_device));
	ck_assert_msg(testlib_read_udp_from_device(out.fd, 6, to_device),
	    "IPv6 datagram to 2001:db8::2 did not come out of the device");

	close(sock);
	close(sock6);
	close(out.fd);
	ck_assert(netinfo_link_gone_within(out.name, 2000));
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(peer_and_template)
{
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	char text[TB_ADDR_TEXT_MAX];

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .name = "vpn%d", .addrs = { "198.18.0.1/32" },
	    .peer = "198.18.0.2" });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_str_eq(out.name, "vpn0");
	ck_assert_uint_eq(out.mtu, 1500);	/* as the kernel reports it */
	ck_assert_int_eq(netinfo_link_by_name("vpn0", &link), 0);
	ck_assert_uint_eq(link.naddrs, 1);
	ck_assert(link.addrs[0].has_peer);
	ck_assert_str_eq(tb_addr_format(&link.addrs[0].peer, false, text,
	    sizeof(text)), "198.18.0.2");
	close(out.fd);
	testlib_broker_stop(&b);
}
END_TEST

/* The broker numbers a template itself, from 0, one after the other. */
START_TEST(template_numbered_by_broker)
{
	struct testlib_broker b;
	struct outcome first, second;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	first = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .name = "vpn%d" });
	ck_assert_msg(first.code == 0, "refused: %s", first.text);
	second = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .name = "vpn%d" });
	ck_assert_msg(second.code == 0, "refused: %s", second.text);
	ck_assert_str_eq(first.name, "vpn0");
	ck_assert_str_eq(second.name, "vpn1");
	close(first.fd);
	close(second.fd);
	testlib_broker_stop(&b);
}
END_TEST

/* A name the broker would pick that someone else holds is skipped. */
START_TEST(template_skips_foreign_device)
{
	struct testlib_broker b;
	struct netinfo_link before, after;
	struct outcome out;

	testlib_enter_netns();
	ck_assert_int_eq(system("ip tuntap add dev vpn0 mode tun"), 0);
	ck_assert_int_eq(netinfo_link_by_name("vpn0", &before), 0);
	testlib_broker_start(&b, ALLOW_NOBODY);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .name = "vpn%d", .addrs = { "198.18.0.1/32" } });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_str_ne(out.name, "vpn0");
	ck_assert_int_eq(strncmp(out.name, "vpn", 3), 0);
	ck_assert_int_eq(netinfo_link_by_name("vpn0", &after), 0);
	ck_assert_uint_eq(after.ifindex, before.ifindex);
	ck_assert_uint_eq(after.flags, before.flags);
	ck_assert_uint_eq(after.naddrs, 0);
	ck_assert(!after.has_owner || after.owner != TESTLIB_UID);
	close(out.fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(user_not_allowed)
{
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	char *log;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 12345\ngroups = 54321\n");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .name = "denied0", .addrs = { "198.18.0.1/24" } });
	ck_assert_int_eq(out.code, -EACCES);
	ck_assert_int_eq(out.fd, -1);
	/* No rule matches: the sentence says so and names the user. */
	ck_assert_msg(strstr(out.text, "matches user nobody (uid 65534)") != NULL,
	    "refusal: %s", out.text);
	ck_assert_ptr_nonnull(strstr(out.text, b.config_path));
	ck_assert_int_eq(netinfo_link_by_name("denied0", &link), -ENODEV);
	log = testlib_read_file(b.log_path);
	ck_assert_ptr_nonnull(strstr(log, "refuse uid=65534 pid="));
	free(log);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(group_allows)
{
	struct testlib_broker b;
	struct outcome out;

	testlib_enter_netns();
	testlib_broker_start(&b, "groups = 65534\n");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	close(out.fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(name_in_use_untouched)
{
	struct ifreq ifr = { .ifr_name = "busy0" };
	struct testlib_broker b;
	struct netinfo_link before, after;
	struct outcome out;
	int fd;

	testlib_enter_netns();
	/* Someone else's device, owned by root, with no address. */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	ck_assert_int_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
	ck_assert_int_eq(netinfo_link_by_name("busy0", &before), 0);

	testlib_broker_start(&b, ALLOW_NOBODY);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .name = "busy0", .addrs = { "198.18.0.1/24" }, .mtu = 1280 });
	/* Refused before TUNSETIFF is tried: the name is an interface. */
	ck_assert_int_eq(out.code, -EEXIST);
	ck_assert_msg(strstr(out.text, "busy0") != NULL &&
	    strstr(out.text, "exists") != NULL, "unclear refusal: %s",
	    out.text);

	ck_assert_int_eq(netinfo_link_by_name("busy0", &after), 0);
	ck_assert_uint_eq(after.ifindex, before.ifindex);
	ck_assert_uint_eq(after.mtu, before.mtu);
	ck_assert_uint_eq(after.flags, before.flags);
	ck_assert_uint_eq(after.naddrs, 0);
	ck_assert(!after.has_owner || after.owner != TESTLIB_UID);
	close(fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(failure_part_way_leaves_nothing)
{
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	/* The second, identical address fails after the device exists. */
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .name = "half0",
	    .addrs = { "198.18.0.1/24", "198.18.0.1/24" } });
	ck_assert_int_eq(out.code, -EEXIST);
	ck_assert_msg(strstr(out.text, "198.18.0.1/24") != NULL,
	    "the error does not name the address: %s", out.text);
	ck_assert_int_eq(netinfo_link_by_name("half0", &link), -ENODEV);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(bad_values_refused_early)
{
	static const struct {
		struct ask ask;
		int code;
		const char *words;
	} cases[] = {
		{ { .addrs = { "2001:db8::1/64" }, .mtu = 1000 }, -EINVAL,
		    "2001:db8::1/64" },
		{ { .addrs = { "2001:db8::1/64" }, .peer = "198.18.0.2" },
		    -EINVAL, "198.18.0.2" },
		{ { .name = "x%d%d" }, -EINVAL, "x%d%d" },
	};
	struct testlib_broker b;
	struct netinfo_link link;
	size_t i;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ask a = cases[i].ask;
		struct outcome out;

		a.socket_path = b.socket_path;
		out = ask_as_nobody(a);
		ck_assert_msg(out.code == cases[i].code,
		    "case %zu: got %d (%s)", i, out.code, out.text);
		ck_assert_msg(strstr(out.text, cases[i].words) != NULL,
		    "case %zu: \"%s\" does not name %s", i, out.text,
		    cases[i].words);
	}
	/* Nothing was created along the way. */
	ck_assert_int_eq(netinfo_link_by_name("tun0", &link), -ENODEV);
	testlib_broker_stop(&b);
}
END_TEST

/* A raw client for what the library would never send. */
static int
raw_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Receives one reply on a raw client and checks it is an ERROR. */
static struct tb_error
expect_error_reply(int fd, uint32_t seq)
{
	uint8_t buf[TB_MSG_MAX_SIZE];
	int fds[TB_MSG_MAX_FDS];
	struct tb_error err = { 0 }, got = { 0 };
	struct tb_msg msg;
	size_t nfds;
	ssize_t n;

	ck_assert_int_eq(poll(&(struct pollfd){ .fd = fd, .events = POLLIN },
	    1, 5000), 1);
	n = tb_recv(fd, buf, sizeof(buf), fds, &nfds, &err);
	ck_assert_msg(n > 0, "no reply: %s", err.text);
	ck_assert_int_eq(nfds, 0);
	ck_assert_int_eq(tb_msg_parse(&msg, buf, (size_t)n, nfds, &err), 0);
	ck_assert_int_eq(msg.hdr.type, TB_MSG_ERROR);
	ck_assert_uint_eq(msg.hdr.seq, seq);
	tb_decode_error(&msg, &got);
	return got;
}

/* True once the broker has closed the connection. */
static bool
closed_by_broker(int fd)
{
	char c;

	if (poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 5000) != 1)
		return false;
	return recv(fd, &c, 1, 0) == 0;
}

START_TEST(garbage_does_not_stop_service)
{
	static const char garbage[] = "GET / HTTP/1.0\r\n\r\n";
	struct tunclient_conn *conn;
	struct tb_error err;
	struct testlib_broker b;
	struct outcome out;
	uint32_t seq;
	int fd;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	fd = raw_connect(b.socket_path);
	ck_assert_int_eq(send(fd, garbage, sizeof(garbage), 0),
	    (ssize_t)sizeof(garbage));
	/* Whatever sits where a header keeps its sequence number is echoed. */
	memcpy(&seq, garbage + offsetof(struct tb_header, seq), sizeof(seq));
	err = expect_error_reply(fd, seq);
	ck_assert_int_eq(err.code, -EPROTO);
	ck_assert_ptr_nonnull(strstr(err.text, "magic"));
	ck_assert(closed_by_broker(fd));
	close(fd);

	/* The next client is served as if nothing happened. */
	ck_assert(testlib_broker_alive(&b));
	ck_assert_int_eq(tunclient_connect(b.socket_path, &conn), 0);
	ck_assert_int_eq(tunclient_ping(conn), 0);
	tunclient_close(conn);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .addrs = { "198.18.0.1/24" } });
	ck_assert_msg(out.code == 0, "refused after garbage: %s", out.text);
	close(out.fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(client_fds_refused_and_closed)
{
	struct tb_builder msg;
	struct testlib_broker b;
	struct tb_error err;
	int fd, pipefd[2], before;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	before = testlib_broker_settled_fds(&b);
	fd = raw_connect(b.socket_path);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	ck_assert_int_eq(tb_encode_simple(&msg, TB_MSG_PING, 7), 0);
	ck_assert_int_eq(tb_send(fd, msg.buf, msg.len, pipefd, 2), 0);
	tb_builder_release(&msg);
	err = expect_error_reply(fd, 7);
	ck_assert_int_eq(err.code, -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.text, "descriptors"));
	ck_assert(closed_by_broker(fd));
	close(fd);
	close(pipefd[0]);
	close(pipefd[1]);
	/* The broker kept none of them. */
	ck_assert_int_eq(testlib_broker_settled_fds(&b), before);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(status_ping_and_unsupported)
{
	struct tunclient_status st;
	struct tunclient_conn *conn;
	struct tb_builder msg;
	struct tb_error err;
	struct testlib_broker b;
	int fd;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	ck_assert_int_eq(tunclient_connect(b.socket_path, &conn), 0);
	ck_assert_int_eq(tunclient_ping(conn), 0);
	ck_assert_int_eq(tunclient_status(conn, &st), 0);
	ck_assert_str_eq(st.broker_version, PACKAGE_VERSION);
	ck_assert_uint_eq(st.protocol_version, TB_PROTO_VERSION);
	tunclient_close(conn);

	/* Releasing what is not ours: a clear error, no hang-up. */
	fd = raw_connect(b.socket_path);
	ck_assert_int_eq(tb_encode_release(&msg, TB_MSG_RELEASE, 9, "nothere0"),
	    0);
	ck_assert_int_eq(tb_send(fd, msg.buf, msg.len, NULL, 0), 0);
	tb_builder_release(&msg);
	err = expect_error_reply(fd, 9);
	ck_assert_int_eq(err.code, -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.text, "nothere0"));
	ck_assert_int_eq(tb_encode_simple(&msg, TB_MSG_PING, 10), 0);
	ck_assert_int_eq(tb_send(fd, msg.buf, msg.len, NULL, 0), 0);
	tb_builder_release(&msg);
	ck_assert_int_eq(poll(&(struct pollfd){ .fd = fd, .events = POLLIN },
	    1, 5000), 1);
	close(fd);
	testlib_broker_stop(&b);
}
END_TEST

/*
 * Runs a tunbrokerd that must refuse to start; returns its exit status
 * and, in *output, what it said.
 */
static int
run_failing_broker(const char *socket_path, const char *config_path,
    char **output)
{
	char cmd[1024], buf[4096];
	size_t n;
	FILE *p;
	int status;

	/* timeout only matters if the broker wrongly starts: status 124. */
	snprintf(cmd, sizeof(cmd),
	    "timeout 10 '%s' --foreground --socket '%s' --config '%s' 2>&1",
	    getenv("TUNBROKERD"), socket_path, config_path);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	status = pclose(p);
	*output = strdup(buf);
	return WEXITSTATUS(status);
}

START_TEST(socket_hygiene)
{
	struct testlib_broker b, stale;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	char *dir, *out, path[100], run[256];
	int fd, status;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	/* Parents created 0755; socket mode from the config. */
	snprintf(run, sizeof(run), "%s/run", b.dir);
	ck_assert_int_eq(stat(run, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_int_eq(lstat(b.socket_path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0666);
	ck_assert_uint_eq(st.st_gid, TESTLIB_GID);

	/* A second broker on a live socket refuses and leaves it alone. */
	ck_assert_int_eq(run_failing_broker(b.socket_path, b.config_path,
	    &out), 1);
	ck_assert_msg(strstr(out, "another broker is listening") != NULL,
	    "second broker said: %s", out);
	free(out);
	ck_assert(testlib_broker_alive(&b));
	ck_assert_int_eq(lstat(b.socket_path, &st), 0);

	/* A stale socket (nobody listening) is replaced... */
	dir = testlib_mkdtemp();
	snprintf(path, sizeof(path), "%s/stale", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	stale = (struct testlib_broker){ .socket_path = strdup(path),
	    .config_path = strdup(b.config_path) };
	ck_assert_int_ge(asprintf(&stale.log_path, "%s/stale.log", dir), 0);
	ck_assert(testlib_broker_launch(&stale, &status));
	out = testlib_read_file(stale.log_path);
	ck_assert_msg(strstr(out, "removed stale socket") != NULL,
	    "broker said: %s", out);
	free(out);
	/* ... and removed on exit. */
	testlib_broker_stop(&stale);

	/* A regular file in the way is never replaced. */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(run_failing_broker(path, b.config_path, &out), 1);
	ck_assert_msg(strstr(out, "is not a socket") != NULL, "broker said: %s",
	    out);
	free(out);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	testlib_broker_stop(&b);
	testlib_rmtree(dir);
	free(dir);
}
END_TEST

/* The pid of the process listening on path, from the kernel. */
static pid_t
listener_pid(const char *path)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = raw_connect(path);

	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len),
	    0);
	close(fd);
	return cred.pid;
}

START_TEST(detaches_when_ready)
{
	struct testlib_broker b;
	char cmd[1024];
	pid_t pid;
	int i, status;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	/* The same configuration, a broker that detaches on its own socket. */
	snprintf(cmd, sizeof(cmd),
	    "'%s' --socket '%s/detached' --config '%s' 2>/dev/null",
	    getenv("TUNBROKERD"), b.dir, b.config_path);
	status = system(cmd);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "detaching broker: status 0x%x", status);
	/* Its first process exits only once the socket serves. */
	snprintf(cmd, sizeof(cmd), "%s/detached", b.dir);
	pid = listener_pid(cmd);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_ne(pid, b.pid);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	for (i = 0; i < 500 && access(cmd, F_OK) == 0; i++)
		usleep(10 * 1000);
	ck_assert_msg(access(cmd, F_OK) != 0,
	    "the detached broker left its socket behind");

	/*
	 * A failure after detaching (the socket is taken) still reaches the
	 * caller as a non-zero status.
	 */
	snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' --config '%s' 2>/dev/null",
	    getenv("TUNBROKERD"), b.socket_path, b.config_path);
	status = system(cmd);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "status 0x%x", status);
	ck_assert(testlib_broker_alive(&b));
	testlib_broker_stop(&b);
}
END_TEST

/* Replaces the broker's configuration file with text. */
static void
rewrite_config(const struct testlib_broker *b, const char *path,
    const char *text)
{
	FILE *f = fopen(path != NULL ? path : b->config_path, "we");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Sends SIGHUP and waits until the log shows expect after that moment. */
static void
reload(struct testlib_broker *b, const char *expect)
{
	char *log = testlib_read_file(b->log_path);
	size_t from = strlen(log);
	bool seen = false;
	int i;

	free(log);
	ck_assert_int_eq(kill(b->pid, SIGHUP), 0);
	for (i = 0; i < 500 && !seen; i++) {
		usleep(10 * 1000);
		log = testlib_read_file(b->log_path);
		seen = strlen(log) > from && strstr(log + from, expect) != NULL;
		free(log);
	}
	ck_assert_msg(seen, "no \"%s\" in the log after SIGHUP", expect);
}

#define TEST_RULE(match, extra) \
	"[socket]\nmode = 0666\n[rule test]\n" match \
	"addresses = 198.18.0.0/15, 2001:db8::/32\n" extra

/* Requests devices as uid 65534 until told to stop; counts failures. */
static int
request_loop(void *arg)
{
	const char *socket_path = arg;
	struct tunclient_request *req;
	struct tunclient_lease *lease;
	struct tunclient_conn *conn;
	int i, failed = 0;

	if (tunclient_request_new(&req) != 0 ||
	    tunclient_request_add_address(req, "198.18.7.1/24") != 0)
		return 100;
	for (i = 0; i < 60; i++) {
		if (tunclient_connect(socket_path, &conn) != 0) {
			failed++;
			continue;
		}
		if (tunclient_request(conn, req, &lease) != 0) {
			fprintf(stderr, "request %d: %s\n", i,
			    tunclient_conn_error(conn));
			failed++;
		}
		tunclient_lease_free(lease);
		tunclient_close(conn);
	}
	tunclient_request_free(req);
	return failed;
}

START_TEST(reload_under_load)
{
	struct testlib_broker b;
	struct outcome held, out;
	pid_t client;
	int status, i;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	/* A device granted before the reloads, held throughout. */
	held = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .name = "held0", .addrs = { "198.18.9.1/24" } });
	ck_assert_msg(held.code == 0, "%s", held.text);

	/* A client keeps requesting while the policy is swapped under it. */
	client = fork();
	ck_assert_int_ge(client, 0);
	if (client == 0)
		_exit(testlib_run_as_user(request_loop, b.socket_path));
	for (i = 0; i < 5; i++) {
		rewrite_config(&b, NULL, TEST_RULE("users = 65534\n",
		    "max-devices = 64\n"));
		reload(&b, "reloaded policy: 1 rules from 1 files");
		/* A broken file keeps the policy in force and says where. */
		rewrite_config(&b, NULL, TEST_RULE("users = 65534\n",
		    "mtu = 9000-100\n"));
		reload(&b, "tunbrokerd.conf:6:");
	}
	ck_assert_int_eq(waitpid(client, &status, 0), client);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the client was refused %d times during reloads",
	    WEXITSTATUS(status));

	/* The live device was not touched by any of it. */
	ck_assert(testlib_fd_is_open(held.fd));
	ck_assert_int_eq(netinfo_link_by_name("held0",
	    &(struct netinfo_link){ .mtu = 0 }), 0);

	/* A new policy takes effect: this range is no longer granted. */
	rewrite_config(&b, NULL,
	    "[socket]\nmode = 0666\n[rule narrow]\nusers = 65534\n"
	    "addresses = 198.18.200.0/24\n");
	reload(&b, "reloaded policy: 1 rules from 1 files");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .addrs = { "198.18.7.1/24" } });
	ck_assert_int_eq(out.code, -EPERM);
	ck_assert_ptr_nonnull(strstr(out.text, "rule narrow"));
	close(held.fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(dropin_grants_what_main_refuses)
{
	struct testlib_broker b;
	struct outcome out;
	char *dir, *dropin;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .addrs = { "203.0.113.1/24" } });
	ck_assert_int_eq(out.code, -EPERM);
	ck_assert_msg(strstr(out.text, "203.0.113.1/24") != NULL &&
	    strstr(out.text, "rule test") != NULL, "%s", out.text);

	/* A drop-in adds a rule after the main file's; it grants. */
	ck_assert_int_ge(asprintf(&dir, "%s.d", b.config_path), 0);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_ge(asprintf(&dropin, "%s/50-docs.conf", dir), 0);
	rewrite_config(&b, dropin, "[rule docs]\nusers = 65534\n"
	    "addresses = 203.0.113.0/24\n");
	reload(&b, "reloaded policy: 2 rules from 2 files");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .addrs = { "203.0.113.1/24" } });
	ck_assert_msg(out.code == 0, "%s", out.text);
	close(out.fd);
	free(dropin);
	free(dir);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(quota_counts_live_devices)
{
	struct testlib_broker b;
	struct outcome first, second, out;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	rewrite_config(&b, NULL, TEST_RULE("users = 65534\n",
	    "max-devices = 2\n"));
	reload(&b, "reloaded policy");
	first = ask_as_nobody((struct ask){ .socket_path = b.socket_path });
	second = ask_as_nobody((struct ask){ .socket_path = b.socket_path });
	ck_assert_msg(first.code == 0 && second.code == 0, "%s %s",
	    first.text, second.text);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path });
	ck_assert_int_eq(out.code, -EDQUOT);
	ck_assert_ptr_nonnull(strstr(out.text, "rule test"));
	/* A device that is gone no longer counts. */
	close(first.fd);
	ck_assert(netinfo_link_gone_within(first.name, 2000));
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path });
	ck_assert_msg(out.code == 0, "%s", out.text);
	close(out.fd);
	close(second.fd);
	testlib_broker_stop(&b);
}
END_TEST

/*
 * A device asked for with no IPv6 address or route gets no IPv6
 * link-local address (at 10,000 devices they slowed every grant); one
 * with an IPv6 address gets its link-local as usual.
 */
START_TEST(ipv6_link_local_only_when_asked)
{
	struct testlib_broker b;
	struct outcome v4, v6;
	int i;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	v4 = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .addrs = { "198.18.0.1/24" } });
	ck_assert_msg(v4.code == 0, "refused: %s", v4.text);
	v6 = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .addrs = { "198.18.1.1/24", "2001:db8::1/64" } });
	ck_assert_msg(v6.code == 0, "refused: %s", v6.text);
	for (i = 0; i < 200 && link_of(v6.name).nlinklocal == 0; i++)
		usleep(10 * 1000);
	ck_assert_uint_eq(link_of(v6.name).nlinklocal, 1);
	ck_assert_uint_eq(link_of(v4.name).nlinklocal, 0);
	close(v4.fd);
	close(v6.fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(bad_names_refused)
{
	static const char *const names[] = { "a/b", "..", "x y", "a:b",
	    "%d%d", "vpn%s" };
	struct testlib_broker b;
	struct outcome out;
	size_t i;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
		    .name = names[i] });
		ck_assert_msg(out.code == -EINVAL, "\"%s\": %d %s", names[i],
		    out.code, out.text);
		ck_assert_msg(strstr(out.text, names[i]) != NULL,
		    "the refusal does not name \"%s\": %s", names[i], out.text);
	}
	testlib_broker_stop(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("broker");
	TCase *tc = tcase_create("broker");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, grant_configures_device);
	tcase_add_test(tc, packets_flow_both_ways);
	tcase_add_test(tc, peer_and_template);
	tcase_add_test(tc, template_numbered_by_broker);
	tcase_add_test(tc, template_skips_foreign_device);
	tcase_add_test(tc, user_not_allowed);
	tcase_add_test(tc, group_allows);
	tcase_add_test(tc, name_in_use_untouched);
	tcase_add_test(tc, failure_part_way_leaves_nothing);
	tcase_add_test(tc, bad_values_refused_early);
	tcase_add_test(tc, garbage_does_not_stop_service);
	tcase_add_test(tc, client_fds_refused_and_closed);
	tcase_add_test(tc, status_ping_and_unsupported);
	tcase_add_test(tc, socket_hygiene);
	tcase_add_test(tc, detaches_when_ready);
	tcase_add_test(tc, reload_under_load);
	tcase_add_test(tc, dropin_grants_what_main_refuses);
	tcase_add_test(tc, quota_counts_live_devices);
	tcase_add_test(tc, bad_names_refused);
	tcase_add_test(tc, ipv6_link_local_only_when_asked);
	suite_add_tcase(s, tc);
	return testlib_run(s, true);
}
