/*
 * Asynchronous packet devices on real TUN/TAP devices in a fresh network
 * namespace: what the kernel says a descriptor is, packets both ways, the
 * receive budget, ownership of the descriptor, the send queue, shutdown by
 * call and by interrupt, and an interface deleted under a live device.
 *
 * Writes to a TUN device only return EAGAIN while the packets written stay
 * charged to the device's socket, and the kernel normally consumes them
 * before write(2) returns.  The send-queue cases make them stay: tc
 * redirects what is written into the egress of a second TUN device, where
 * tbf lets it out slowly, and TUNSETSNDBUF makes the budget small.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "testlib.h"
#include "tunclient.h"

#define TEST_PORT	4000
#define PAYLOAD		"through the device"

/* What the callbacks of a device saw. */
struct rec {
	int packets;		/* every packet delivered */
	int matched;		/* UDP to TEST_PORT carrying PAYLOAD */
	int matched4, matched6;
	int wakeup_packets;	/* since the loop iteration began */
	int errors, last_error;
	int shutdowns;
	size_t unsent;
	int writables;
	size_t queued_at_writable;
	bool free_on_packet, free_on_shutdown;
	int64_t shutdown_at_ms;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
now_ms(void)
{
	return now_us() / 1000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Runs a shell command in the test's namespace; it must succeed. */
__attribute__((format(printf, 1, 2)))
static void
run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	ck_assert_msg(status == 0, "\"%s\" failed (status 0x%x)", cmd, status);
}

/* Opens /dev/net/tun and attaches it to name with flags (blocking fd). */
static int
tun_open(const char *name, int flags)
{
	struct ifreq ifr;
	int fd;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "/dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = (short)flags;
	ck_assert_msg(ioctl(fd, TUNSETIFF, &ifr) == 0, "TUNSETIFF %s: %s",
	    name, strerror(errno));
	return fd;
}

/*
 * Waits up to 5 s for the local route of IPv6 address addr.  The kernel
 * adds the route of an address added with nodad from its address work, a
 * moment after the address (which sockets can bind at once): a packet to
 * the address that comes in through the device before then is one to
 * forward, and is dropped (Ip6InAddrErrors).  On a busy machine that
 * moment was long enough to lose a test's first IPv6 packet.
 */
static void
wait_local_route6(const char *addr)
{
	char cmd[128], line[256];
	bool found;
	FILE *p;
	int i;

	snprintf(cmd, sizeof(cmd), "ip -6 route show table local %s", addr);
	for (i = 0; i < 500; i++) {
		ck_assert_ptr_nonnull(p = popen(cmd, "r"));
		found = fgets(line, sizeof(line), p) != NULL;
		ck_assert_int_eq(pclose(p), 0);
		if (found)
			return;
		usleep(10 * 1000);
	}
	ck_abort_msg("no local route for %s after 5 s", addr);
}

/* Up, with room for floods, 198.18.0.1/24 and 2001:db8::1/64. */
static void
link_configure(const char *name)
{
	run("ip link set dev %s up txqueuelen 1000", name);
	run("ip addr add 198.18.0.1/24 dev %s", name);
	run("ip -6 addr add 2001:db8::1/64 dev %s nodad", name);
	wait_local_route6("2001:db8::1");
}

/* A TUN device ready for traffic; returns its blocking fd. */
static int
tun_ready(const char *name)
{
	int fd = tun_open(name, IFF_TUN | IFF_NO_PI);

	link_configure(name);
	return fd;
}

/* Sends PAYLOAD from s to addr:TEST_PORT, which lies behind the device. */
static void
send_datagram(int s, int family, const char *addr)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
	    .sin6_port = htons(TEST_PORT) };
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons(TEST_PORT) };
	ssize_t n;

	if (family == AF_INET) {
		inet_pton(AF_INET, addr, &sin.sin_addr);
		n = sendto(s, PAYLOAD, strlen(PAYLOAD), 0,
		    (struct sockaddr *)&sin, sizeof(sin));
	} else {
		inet_pton(AF_INET6, addr, &sin6.sin6_addr);
		n = sendto(s, PAYLOAD, strlen(PAYLOAD), 0,
		    (struct sockaddr *)&sin6, sizeof(sin6));
	}
	ck_assert_msg(n == (ssize_t)strlen(PAYLOAD), "sendto %s: %s", addr,
	    strerror(errno));
}

/* Receives one datagram on s within two seconds; its length. */
static ssize_t
recv_datagram(int s, char *buf, size_t size)
{
	struct pollfd pfd = { .fd = s, .events = POLLIN };

	if (poll(&pfd, 1, 2000) != 1)
		return -1;
	return recv(s, buf, size, MSG_DONTWAIT);
}

/*
 * The IP version of a UDP packet to TEST_PORT whose payload begins with
 * PAYLOAD, or 0 for any other packet (the kernel sends MLD reports and
 * router solicitations too).
 */
static int
udp_match(const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t hdr;

	if (len < 1)
		return 0;
	if (p[0] >> 4 == 4 && len >= 20 && p[9] == IPPROTO_UDP)
		hdr = (size_t)(p[0] & 15) * 4;
	else if (p[0] >> 4 == 6 && len >= 40 && p[6] == IPPROTO_UDP)
		hdr = 40;
	else
		return 0;
	if (len < hdr + 8 + strlen(PAYLOAD) ||
	    ((p[hdr + 2] << 8) | p[hdr + 3]) != TEST_PORT ||
	    memcmp(p + hdr + 8, PAYLOAD, strlen(PAYLOAD)) != 0)
		return 0;
	return p[0] >> 4;
}

/* Adds data to a ones'-complement sum. */
static uint32_t
csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Builds a UDP packet from 198.18.0.2 (or 2001:db8::2) to 198.18.0.1 (or
 * 2001:db8::1) port TEST_PORT with payload_len bytes, PAYLOAD first; its
 * length.  The checksums are right: IPv6 requires the UDP one.
 */
static size_t
build_udp(int version, uint8_t *pkt, size_t payload_len)
{
	size_t hdr = version == 4 ? 20 : 40, udp_len = 8 + payload_len;
	uint8_t *udp = pkt + hdr;
	uint32_t sum;

	memset(pkt, 0, hdr + udp_len);
	if (version == 4) {
		pkt[0] = 0x45;
		put16(pkt + 2, (unsigned)(hdr + udp_len));
		pkt[8] = 64;
		pkt[9] = IPPROTO_UDP;
		inet_pton(AF_INET, "198.18.0.2", pkt + 12);
		inet_pton(AF_INET, "198.18.0.1", pkt + 16);
		put16(pkt + 10, csum_fold(csum_add(0, pkt, 20)));
		sum = csum_add(0, pkt + 12, 8);
	} else {
		pkt[0] = 0x60;
		put16(pkt + 4, (unsigned)udp_len);
		pkt[6] = IPPROTO_UDP;
		pkt[7] = 64;
		inet_pton(AF_INET6, "2001:db8::2", pkt + 8);
		inet_pton(AF_INET6, "2001:db8::1", pkt + 24);
		sum = csum_add(0, pkt + 8, 32);
	}
	put16(udp, 5000);
	put16(udp + 2, TEST_PORT);
	put16(udp + 4, (unsigned)udp_len);
	memcpy(udp + 8, PAYLOAD, strlen(PAYLOAD));
	sum += IPPROTO_UDP + (uint32_t)udp_len;
	sum = csum_fold(csum_add(sum, udp, udp_len));
	put16(udp + 6, sum == 0 ? 0xffff : sum);
	return hdr + udp_len;
}

static void
on_packet(struct tunclient_device *dev, const void *data, size_t len,
    void *arg)
{
	struct rec *r = arg;
	int v = udp_match(data, len);

	r->packets++;
	r->wakeup_packets++;
	r->matched += v != 0;
	r->matched4 += v == 4;
	r->matched6 += v == 6;
	if (r->free_on_packet)
		tunclient_device_free(dev);
}

static void
on_writable(struct tunclient_device *dev, void *arg)
{
	struct rec *r = arg;

	r->writables++;
	r->queued_at_writable = tunclient_device_queued(dev);
}

static void
on_error(struct tunclient_device *dev, int err, void *arg)
{
	struct rec *r = arg;

	(void)dev;
	r->errors++;
	r->last_error = err;
}

static void
on_shutdown(struct tunclient_device *dev, size_t unsent, void *arg)
{
	struct rec *r = arg;

	r->shutdowns++;
	r->unsent = unsent;
	r->shutdown_at_ms = now_ms();
	if (r->free_on_shutdown)
		tunclient_device_free(dev);
}

static const struct tunclient_device_callbacks all_cbs = {
	.packet = on_packet,
	.writable = on_writable,
	.error = on_error,
	.shutdown = on_shutdown,
};

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/*
 * Turns the loop until cond holds or ms pass; a 5 ms ticker makes every
 * EVLOOP_ONCE return soon.  Leaves the result to the caller to assert.
 */
#define RUN_UNTIL(base, cond, ms) do {					\
	struct timeval tick_ = { 0, 5000 };				\
	struct event *ticker_ = event_new((base), -1, EV_PERSIST,	\
	    on_tick, NULL);						\
	int64_t end_ = now_ms() + (ms);					\
									\
	ck_assert_ptr_nonnull(ticker_);					\
	event_add(ticker_, &tick_);					\
	while (!(cond) && now_ms() < end_)				\
		event_base_loop((base), EVLOOP_ONCE);			\
	event_free(ticker_);						\
} while (0)

static struct event_base *
new_base(void)
{
	struct event_base *base = event_base_new();

	ck_assert_ptr_nonnull(base);
	return base;
}

static bool
fd_is_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	ck_assert_int_ge(flags, 0);
	return (flags & O_NONBLOCK) != 0;
}

static void
check_info(struct event_base *base, int fd, enum tunclient_device_type type,
    const char *name, bool vnet_hdr, bool multi_queue)
{
	const struct tunclient_device_info *info;
	struct tunclient_device *dev;

	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_BORROW,
	    NULL, NULL, &dev), 0);
	info = tunclient_device_info(dev);
	ck_assert_int_eq(info->type, type);
	ck_assert_str_eq(info->name, name);
	ck_assert_int_eq(info->vnet_hdr, vnet_hdr);
	ck_assert_int_eq(info->multi_queue, multi_queue);
	ck_assert_int_eq(!!(info->flags & IFF_NO_PI), 1);
	ck_assert_int_eq(tunclient_device_fd(dev), fd);
	tunclient_device_free(dev);
	close(fd);
}

START_TEST(info_reports_what_the_kernel_says)
{
	struct event_base *base;

	testlib_enter_netns();
	base = new_base();
	check_info(base, tun_open("tun-plain", IFF_TUN | IFF_NO_PI),
	    TUNCLIENT_TUN, "tun-plain", false, false);
	check_info(base, tun_open("tap-plain", IFF_TAP | IFF_NO_PI),
	    TUNCLIENT_TAP, "tap-plain", false, false);
	check_info(base, tun_open("tun-vnet", IFF_TUN | IFF_NO_PI |
	    IFF_VNET_HDR), TUNCLIENT_TUN, "tun-vnet", true, false);
	check_info(base, tun_open("tap-mq", IFF_TAP | IFF_NO_PI |
	    IFF_MULTI_QUEUE), TUNCLIENT_TAP, "tap-mq", false, true);
	check_info(base, tun_open("tap-both", IFF_TAP | IFF_NO_PI |
	    IFF_MULTI_QUEUE | IFF_VNET_HDR), TUNCLIENT_TAP, "tap-both", true,
	    true);
	event_base_free(base);
}
END_TEST

/* new() refuses fd with want, and leaves fd open and as it was. */
static void
check_refused(struct event_base *base, int fd, int want)
{
	struct tunclient_device *dev = (struct tunclient_device *)&dev;
	int flags = fcntl(fd, F_GETFL);

	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_OWN, NULL,
	    NULL, &dev), want);
	ck_assert_ptr_null(dev);
	ck_assert(testlib_fd_is_open(fd));
	ck_assert_int_eq(fcntl(fd, F_GETFL), flags);
	close(fd);
}

/* A borrowing device's info for fd, copied; the device is freed. */
static struct tunclient_device_info
info_of(struct event_base *base, int fd)
{
	struct tunclient_device_info info;
	struct tunclient_device *dev;

	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_BORROW,
	    NULL, NULL, &dev), 0);
	info = *tunclient_device_info(dev);
	tunclient_device_free(dev);
	return info;
}

#ifndef TUN_F_USO4
#define TUN_F_USO4	0x20
#define TUN_F_USO6	0x40
#endif

/*
 * The header size comes from the descriptor; the offloads from the
 * interface as it is now, whoever set them, and only while the interface
 * is in the caller's namespace.
 */
START_TEST(info_reports_vnet_hdr_and_offloads)
{
	struct tunclient_device_info info;
	struct event_base *base;
	int fd, plain, size = 12;

	testlib_enter_netns();
	base = new_base();
	plain = tun_open("tun-noff", IFF_TUN | IFF_NO_PI);
	info = info_of(base, plain);
	ck_assert(!info.vnet_hdr);
	ck_assert_uint_eq(info.vnet_hdr_size, 0);
	ck_assert(info.offload_known);
	ck_assert_uint_eq(info.offload, 0);

	fd = tun_open("tun-off", IFF_TUN | IFF_NO_PI | IFF_VNET_HDR);
	info = info_of(base, fd);
	ck_assert(info.vnet_hdr);
	ck_assert_uint_eq(info.vnet_hdr_size, 10);	/* the kernel's own */
	ck_assert_int_eq(ioctl(fd, TUNSETVNETHDRSZ, &size), 0);
	ck_assert_int_eq(ioctl(fd, TUNSETOFFLOAD,
	    (unsigned long)(TUN_F_CSUM | TUN_F_TSO4)), 0);
	info = info_of(base, fd);
	ck_assert_uint_eq(info.vnet_hdr_size, 12);
	ck_assert(info.offload_known);
	ck_assert_uint_eq(info.offload,
	    TUNCLIENT_OFFLOAD_CSUM | TUNCLIENT_OFFLOAD_TSO4);
	/* A holder changes them; a new device sees the change. */
	ck_assert_int_eq(ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM |
	    TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6)), 0);
	info = info_of(base, fd);
	ck_assert_uint_eq(info.offload, TUNCLIENT_OFFLOAD_CSUM |
	    TUNCLIENT_OFFLOAD_TSO6 | TUNCLIENT_OFFLOAD_TSO_ECN |
	    TUNCLIENT_OFFLOAD_USO4 | TUNCLIENT_OFFLOAD_USO6);

	/* From another namespace the interface is out of view. */
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	info = info_of(base, fd);
	ck_assert_str_eq(info.name, "tun-off");
	ck_assert_uint_eq(info.vnet_hdr_size, 12);
	ck_assert(!info.offload_known);
	ck_assert_uint_eq(info.offload, 0);
	close(fd);
	close(plain);
	event_base_free(base);
}
END_TEST

START_TEST(refuses_what_is_not_an_attached_tun)
{
	struct tunclient_device *dev;
	struct event_base *base;
	char path[] = "/tmp/test_device.XXXXXX";
	int p[2], s[2], fd;

	testlib_enter_netns();
	base = new_base();
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	check_refused(base, p[0], -ENOTTY);
	check_refused(base, p[1], -ENOTTY);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, s),
	    0);
	check_refused(base, s[0], -ENOTTY);
	close(s[1]);
	check_refused(base, testlib_udp_socket(AF_INET, "127.0.0.1", 0),
	    -ENOTTY);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	check_refused(base, fd, -ENOTTY);
	check_refused(base, open("/dev/net/tun", O_RDWR | O_CLOEXEC),
	    -EBADFD);

	ck_assert_int_eq(tunclient_device_new(base, 1000, TUNCLIENT_OWN, NULL,
	    NULL, &dev), -EBADF);
	ck_assert_int_eq(tunclient_device_new(base, -1, TUNCLIENT_OWN, NULL,
	    NULL, &dev), -EBADF);
	fd = tun_open("tun0", IFF_TUN | IFF_NO_PI);
	ck_assert_int_eq(tunclient_device_new(NULL, fd, TUNCLIENT_OWN, NULL,
	    NULL, &dev), -EINVAL);
	ck_assert_int_eq(tunclient_device_new(base, fd, 7, NULL, NULL, &dev),
	    -EINVAL);
	close(fd);
	event_base_free(base);
}
END_TEST

START_TEST(receives_ipv4_and_ipv6)
{
	struct tunclient_device *dev;
	struct event_base *base;
	struct rec r = { 0 };
	int fd, s4, s6;

	testlib_enter_netns();
	base = new_base();
	fd = tun_ready("tun0");
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_OWN,
	    &all_cbs, &r, &dev), 0);
	ck_assert(fd_is_nonblocking(fd));
	s4 = testlib_udp_socket(AF_INET, "198.18.0.1", 0);
	s6 = testlib_udp_socket(AF_INET6, "2001:db8::1", 0);
	send_datagram(s4, AF_INET, "198.18.0.2");
	send_datagram(s6, AF_INET6, "2001:db8::2");
	RUN_UNTIL(base, r.matched4 == 1 && r.matched6 == 1, 2000);
	ck_assert_int_eq(r.matched4, 1);
	ck_assert_int_eq(r.matched6, 1);
	ck_assert_int_eq(r.errors, 0);
	tunclient_device_free(dev);
	close(s4);
	close(s6);
	event_base_free(base);
}
END_TEST

START_TEST(sends_ipv4_and_ipv6)
{
	uint8_t pkt[128];
	struct tunclient_device *dev;
	struct event_base *base;
	struct rec r = { 0 };
	struct iovec iov[3];
	char buf[128];
	size_t len;
	int fd, s4, s6;

	testlib_enter_netns();
	base = new_base();
	fd = tun_ready("tun0");
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_OWN,
	    &all_cbs, &r, &dev), 0);
	s4 = testlib_udp_socket(AF_INET, "198.18.0.1", TEST_PORT);
	s6 = testlib_udp_socket(AF_INET6, "2001:db8::1", TEST_PORT);

	len = build_udp(4, pkt, strlen(PAYLOAD));
	ck_assert_int_eq(tunclient_device_send(dev, pkt, len), 0);
	ck_assert_int_eq(recv_datagram(s4, buf, sizeof(buf)),
	    (ssize_t)strlen(PAYLOAD));
	ck_assert_int_eq(memcmp(buf, PAYLOAD, strlen(PAYLOAD)), 0);

	len = build_udp(6, pkt, strlen(PAYLOAD));
	ck_assert_int_eq(tunclient_device_send(dev, pkt, len), 0);
	ck_assert_int_eq(recv_datagram(s6, buf, sizeof(buf)),
	    (ssize_t)strlen(PAYLOAD));
	ck_assert_int_eq(memcmp(buf, PAYLOAD, strlen(PAYLOAD)), 0);

	/* Gathered from three pieces, it is still one packet. */
	iov[0] = (struct iovec){ pkt, 10 };
	iov[1] = (struct iovec){ pkt + 10, 40 };
	iov[2] = (struct iovec){ pkt + 50, len - 50 };
	ck_assert_int_eq(tunclient_device_sendv(dev, iov, 3), 0);
	ck_assert_int_eq(recv_datagram(s6, buf, sizeof(buf)),
	    (ssize_t)strlen(PAYLOAD));
	ck_assert_int_eq(tunclient_device_sendv(dev, iov, 0), -EINVAL);

	/* A malformed packet is the caller's error, not the device's. */
	ck_assert_int_eq(tunclient_device_send(dev, "\x70\0\0\0", 4),
	    -EINVAL);
	ck_assert_int_eq(tunclient_device_send(dev, pkt, len), 0);
	ck_assert_int_eq(recv_datagram(s6, buf, sizeof(buf)),
	    (ssize_t)strlen(PAYLOAD));
	RUN_UNTIL(base, false, 20);
	ck_assert_int_eq(r.errors, 0);
	ck_assert_uint_eq(tunclient_device_queued(dev), 0);
	tunclient_device_free(dev);
	close(s4);
	close(s6);
	event_base_free(base);
}
END_TEST

START_TEST(budget_spreads_a_flood_over_wakeups)
{
	struct tunclient_device *dev;
	struct event_base *base;
	struct rec r = { 0 };
	int fd, s, i, wakeups = 0, max_per_wakeup = 0;
	int64_t end;

	testlib_enter_netns();
	base = new_base();
	fd = tun_ready("tun0");
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_OWN,
	    &all_cbs, &r, &dev), 0);
	ck_assert_int_eq(tunclient_device_set_budget(dev, 0), -EINVAL);
	ck_assert_int_eq(tunclient_device_set_budget(dev, 65537), -EINVAL);
	ck_assert_int_eq(tunclient_device_set_budget(dev, 4), 0);
	s = testlib_udp_socket(AF_INET, "198.18.0.1", 0);
	for (i = 0; i < 100; i++)
		send_datagram(s, AF_INET, "198.18.0.2");

	/* One EVLOOP_ONCE is one wakeup of the device at most. */
	end = now_ms() + 5000;
	while (r.matched < 100 && now_ms() < end) {
		r.wakeup_packets = 0;
		event_base_loop(base, EVLOOP_ONCE);
		wakeups += r.wakeup_packets > 0;
		if (r.wakeup_packets > max_per_wakeup)
			max_per_wakeup = r.wakeup_packets;
	}
	ck_assert_int_eq(r.matched, 100);
	ck_assert_int_le(max_per_wakeup, 4);
	ck_assert_int_ge(wakeups, 25);
	tunclient_device_free(dev);
	close(s);
	event_base_free(base);
}
END_TEST

START_TEST(borrowed_fd_outlives_the_device)
{
	struct tunclient_device *dev;
	struct event_base *base;
	struct rec r = { 0 };
	struct pollfd pfd;
	char buf[2048];
	ssize_t n;
	int fd, s, flags;

	testlib_enter_netns();
	base = new_base();
	fd = tun_ready("tun0");
	flags = fcntl(fd, F_GETFL);
	ck_assert(!fd_is_nonblocking(fd));
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_BORROW,
	    &all_cbs, &r, &dev), 0);
	ck_assert(fd_is_nonblocking(fd));
	s = testlib_udp_socket(AF_INET, "198.18.0.1", 0);
	send_datagram(s, AF_INET, "198.18.0.2");
	RUN_UNTIL(base, r.matched == 1, 2000);
	ck_assert_int_eq(r.matched, 1);
	tunclient_device_free(dev);

	/* Open, blocking again, and still the device's queue. */
	ck_assert(testlib_fd_is_open(fd));
	ck_assert_int_eq(fcntl(fd, F_GETFL), flags);
	send_datagram(s, AF_INET, "198.18.0.2");
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	do {
		ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
		n = read(fd, buf, sizeof(buf));
		ck_assert_int_gt(n, 0);
	} while (udp_match(buf, (size_t)n) != 4);

	/* A descriptor that was non-blocking stays so. */
	ck_assert_int_eq(fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_BORROW,
	    &all_cbs, &r, &dev), 0);
	tunclient_device_free(dev);
	ck_assert(fd_is_nonblocking(fd));
	close(fd);
	close(s);
	event_base_free(base);
}
END_TEST

START_TEST(owned_fd_is_closed_off_the_loop)
{
	struct tunclient_device *dev;
	struct event_base *base;
	struct rec r = { 0 };
	int64_t start, took;
	int fd, i;

	testlib_enter_netns();
	base = new_base();
	fd = tun_ready("tun0");
	ck_assert_uint_ne(if_nametoindex("tun0"), 0);
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_OWN,
	    &all_cbs, &r, &dev), 0);
	start = now_us();
	tunclient_device_free(dev);
	took = now_us() - start;
	/* The last close alone takes about 24 ms. */
	ck_assert_msg(took < 5000, "freeing took %lld us", (long long)took);
	for (i = 0; i < 100 && testlib_fd_is_open(fd); i++)
		sleep_ms(10);
	ck_assert_msg(!testlib_fd_is_open(fd), "the fd was not closed");
	for (i = 0; i < 100 && if_nametoindex("tun0") != 0; i++)
		sleep_ms(10);
	ck_assert_msg(if_nametoindex("tun0") == 0, "tun0 still exists");
	event_base_free(base);
}
END_TEST

/*
 * Makes writes to device a back up: a's ingress is redirected into the
 * egress of b, where tbf lets rate through, and a's socket may hold only
 * 4 KiB of packets the kernel has not let go of.
 */
static void
throttle(int fd_a, const char *a, const char *b, const char *rate)
{
	int sndbuf = 4096;

	run("tc qdisc add dev %s ingress", a);
	run("tc filter add dev %s parent ffff: protocol all u32 match u32 0 0 "
	    "action mirred egress redirect dev %s", a, b);
	run("tc qdisc add dev %s root tbf rate %s burst 1600 limit 10000000",
	    b, rate);
	ck_assert_int_eq(ioctl(fd_a, TUNSETSNDBUF, &sndbuf), 0);
}

/*
 * A throttled device on base, and a collector device reading what comes
 * out of the other end.
 */
struct throttled {
	struct tunclient_device *dev, *collector;
	struct rec r, collected;
	uint8_t pkt[1400];
	size_t len;
};

static void
throttled_setup(struct event_base *base, struct throttled *t,
    const char *rate)
{
	int fd, fd_out;

	memset(t, 0, sizeof(*t));
	fd = tun_ready("tun0");
	fd_out = tun_open("tun1", IFF_TUN | IFF_NO_PI);
	run("ip link set dev tun1 up");
	throttle(fd, "tun0", "tun1", rate);
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_OWN,
	    &all_cbs, &t->r, &t->dev), 0);
	ck_assert_int_eq(tunclient_device_new(base, fd_out, TUNCLIENT_OWN,
	    &all_cbs, &t->collected, &t->collector), 0);
	t->len = build_udp(4, t->pkt, sizeof(t->pkt) - 20 - 8);
}

/* Sends until count packets are queued; how many sends succeeded. */
static int
fill_queue(struct throttled *t, size_t count)
{
	int sent = 0, i;

	for (i = 0; i < 10000 && tunclient_device_queued(t->dev) < count;
	    i++) {
		ck_assert_int_eq(tunclient_device_send(t->dev, t->pkt, t->len),
		    0);
		sent++;
	}
	ck_assert_uint_eq(tunclient_device_queued(t->dev), count);
	return sent;
}

START_TEST(send_queue_bound_and_writable_again)
{
	struct event_base *base;
	struct throttled t;
	int sent, r, i;

	testlib_enter_netns();
	base = new_base();
	throttled_setup(base, &t, "10mbit");
	ck_assert_int_eq(tunclient_device_set_queue_limit(t.dev, 0), -EINVAL);
	ck_assert_int_eq(tunclient_device_set_queue_limit(t.dev, 8), 0);
	for (sent = 0, i = 0; i < 10000; i++) {
		if ((r = tunclient_device_send(t.dev, t.pkt, t.len)) != 0)
			break;
		sent++;
	}
	ck_assert_int_eq(r, -ENOBUFS);
	ck_assert_uint_eq(tunclient_device_queued(t.dev), 8);
	ck_assert_int_eq(tunclient_device_try_send(t.dev, t.pkt, t.len),
	    -EAGAIN);
	ck_assert_int_eq(t.r.writables, 0);

	RUN_UNTIL(base, t.r.writables > 0, 5000);
	ck_assert_int_eq(t.r.writables, 1);
	ck_assert_uint_le(t.r.queued_at_writable, 4);
	RUN_UNTIL(base, tunclient_device_queued(t.dev) == 0 &&
	    t.collected.matched >= sent, 5000);
	ck_assert_uint_eq(tunclient_device_queued(t.dev), 0);
	RUN_UNTIL(base, false, 30);
	ck_assert_int_eq(t.collected.matched, sent);
	ck_assert_int_eq(t.r.writables, 1);
	ck_assert_int_eq(t.r.errors, 0);
	tunclient_device_free(t.dev);
	tunclient_device_free(t.collector);
	event_base_free(base);
}
END_TEST

START_TEST(shutdown_flush_sends_everything)
{
	struct event_base *base;
	struct throttled t;
	int sent;

	testlib_enter_netns();
	base = new_base();
	throttled_setup(base, &t, "10mbit");
	sent = fill_queue(&t, 20);
	t.r.free_on_shutdown = true;
	ck_assert_int_eq(tunclient_device_shutdown(t.dev, 0, 1000), -EINVAL);
	ck_assert_int_eq(tunclient_device_shutdown(t.dev,
	    TUNCLIENT_SHUTDOWN_FLUSH, 10000), 0);
	/* The callback comes from the loop, not from inside the call. */
	ck_assert_int_eq(t.r.shutdowns, 0);
	ck_assert_int_eq(tunclient_device_shutdown(t.dev,
	    TUNCLIENT_SHUTDOWN_DROP, 0), -EALREADY);
	ck_assert_int_eq(tunclient_device_send(t.dev, t.pkt, t.len),
	    -ESHUTDOWN);
	RUN_UNTIL(base, t.r.shutdowns > 0, 5000);
	ck_assert_int_eq(t.r.shutdowns, 1);
	ck_assert_uint_eq(t.r.unsent, 0);
	RUN_UNTIL(base, t.collected.matched >= sent, 5000);
	RUN_UNTIL(base, false, 30);
	ck_assert_int_eq(t.collected.matched, sent);
	ck_assert_int_eq(t.r.shutdowns, 1);
	tunclient_device_free(t.collector);
	event_base_free(base);
}
END_TEST

START_TEST(shutdown_drop_drops_the_queue)
{
	struct event_base *base;
	struct throttled t;
	int sent;

	testlib_enter_netns();
	base = new_base();
	throttled_setup(base, &t, "10mbit");
	sent = fill_queue(&t, 20);
	ck_assert_int_eq(tunclient_device_shutdown(t.dev,
	    TUNCLIENT_SHUTDOWN_DROP, 1000), 0);
	ck_assert_int_eq(t.r.shutdowns, 0);
	RUN_UNTIL(base, t.r.shutdowns > 0, 5000);
	ck_assert_int_eq(t.r.shutdowns, 1);
	ck_assert_uint_eq(t.r.unsent, 20);
	ck_assert_uint_eq(tunclient_device_queued(t.dev), 0);
	/* What the kernel took before still comes out; nothing more. */
	RUN_UNTIL(base, t.collected.matched >= sent - 20, 5000);
	RUN_UNTIL(base, false, 50);
	ck_assert_int_eq(t.collected.matched, sent - 20);
	ck_assert_int_eq(t.r.shutdowns, 1);
	/* Only free() is left to do, and it may come later. */
	tunclient_device_free(t.dev);
	tunclient_device_free(t.collector);
	event_base_free(base);
}
END_TEST

START_TEST(shutdown_deadline_drops_the_rest)
{
	struct event_base *base;
	struct throttled t;
	int64_t start, took;

	testlib_enter_netns();
	base = new_base();
	/* 8 kbit/s: a 1400-byte packet every 1.4 s. */
	throttled_setup(base, &t, "8kbit");
	fill_queue(&t, 10);
	start = now_ms();
	ck_assert_int_eq(tunclient_device_shutdown(t.dev,
	    TUNCLIENT_SHUTDOWN_FLUSH, 100), 0);
	RUN_UNTIL(base, t.r.shutdowns > 0, 5000);
	ck_assert_int_eq(t.r.shutdowns, 1);
	took = t.r.shutdown_at_ms - start;
	ck_assert_msg(took >= 90 && took < 1000, "deadline after %lld ms",
	    (long long)took);
	ck_assert_uint_ge(t.r.unsent, 9);
	ck_assert_uint_le(t.r.unsent, 10);
	RUN_UNTIL(base, false, 30);
	ck_assert_int_eq(t.r.shutdowns, 1);
	tunclient_device_free(t.dev);
	tunclient_device_free(t.collector);
	event_base_free(base);
}
END_TEST

static void *
trigger_later(void *arg)
{
	sleep_ms(20);
	tunclient_interrupt_trigger(arg);
	return NULL;
}

START_TEST(interrupt_from_another_thread)
{
	struct tunclient_interrupt *intr;
	struct tunclient_device *dev;
	struct event_base *base;
	struct rec r = { .free_on_shutdown = true };
	pthread_t thread;
	int64_t start;
	int fd;

	testlib_enter_netns();
	base = new_base();
	fd = tun_ready("tun0");
	ck_assert_int_eq(tunclient_interrupt_new(&intr), 0);
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_OWN,
	    &all_cbs, &r, &dev), 0);
	ck_assert_int_eq(tunclient_device_attach_interrupt(dev, intr,
	    TUNCLIENT_SHUTDOWN_FLUSH, 1000), 0);
	start = now_ms();
	ck_assert_int_eq(pthread_create(&thread, NULL, trigger_later, intr),
	    0);
	/* Returns once the device, freed in its callback, left the loop. */
	ck_assert_int_eq(event_base_dispatch(base), 1);
	ck_assert_int_lt(now_ms() - start, 1000);
	ck_assert_int_eq(pthread_join(thread, NULL), 0);
	ck_assert_int_eq(r.shutdowns, 1);
	ck_assert_uint_eq(r.unsent, 0);
	tunclient_interrupt_free(intr);
	event_base_free(base);
}
END_TEST

static struct tunclient_interrupt *signal_intr;

static void
on_sigusr1(int sig)
{
	tunclient_interrupt_trigger_value(signal_intr, (uint64_t)sig);
}

static void
raise_sigusr1(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	raise(SIGUSR1);
}

START_TEST(interrupt_from_a_signal_handler)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	struct timeval later = { 0, 20000 };
	struct tunclient_device *dev;
	struct event_base *base;
	struct rec r = { .free_on_shutdown = true };
	int fd;

	testlib_enter_netns();
	base = new_base();
	fd = tun_ready("tun0");
	ck_assert_int_eq(tunclient_interrupt_new(&signal_intr), 0);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_OWN,
	    &all_cbs, &r, &dev), 0);
	ck_assert_int_eq(tunclient_device_attach_interrupt(dev, signal_intr,
	    TUNCLIENT_SHUTDOWN_DROP, 0), 0);
	ck_assert_int_eq(event_base_once(base, -1, EV_TIMEOUT, raise_sigusr1,
	    NULL, &later), 0);
	ck_assert_int_eq(event_base_dispatch(base), 1);
	ck_assert_int_eq(r.shutdowns, 1);
	ck_assert_uint_eq(tunclient_interrupt_value(signal_intr), SIGUSR1);
	tunclient_interrupt_free(signal_intr);
	event_base_free(base);
}
END_TEST

#define MANY	100

static void
on_ignore(struct tunclient_device *dev, const void *data, size_t len,
    void *arg)
{
	(void)dev;
	(void)data;
	(void)len;
	(void)arg;
}

static void
on_many_shutdown(struct tunclient_device *dev, size_t unsent, void *arg)
{
	int *count = arg;

	(void)unsent;
	(*count)++;
	tunclient_device_free(dev);
}

START_TEST(one_trigger_stops_a_hundred_devices)
{
	struct tunclient_device_callbacks cbs = { .packet = on_ignore,
	    .shutdown = on_many_shutdown };
	static int shutdowns[MANY];
	struct tunclient_interrupt *intr;
	struct tunclient_device *dev;
	struct event_base *base;
	pthread_t thread;
	int64_t start;
	int i, fd;

	testlib_enter_netns();
	base = new_base();
	ck_assert_int_eq(tunclient_interrupt_new(&intr), 0);
	for (i = 0; i < MANY; i++) {
		fd = tun_open("mq0", IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE);
		ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_OWN,
		    &cbs, &shutdowns[i], &dev), 0);
		ck_assert_int_eq(tunclient_device_attach_interrupt(dev, intr,
		    i % 2 ? TUNCLIENT_SHUTDOWN_DROP : TUNCLIENT_SHUTDOWN_FLUSH,
		    1000), 0);
	}
	start = now_ms();
	ck_assert_int_eq(pthread_create(&thread, NULL, trigger_later, intr),
	    0);
	ck_assert_int_eq(event_base_dispatch(base), 1);
	ck_assert_int_lt(now_ms() - start, 1000);
	ck_assert_int_eq(pthread_join(thread, NULL), 0);
	for (i = 0; i < MANY; i++)
		ck_assert_int_eq(shutdowns[i], 1);
	tunclient_interrupt_free(intr);
	event_base_free(base);
}
END_TEST

START_TEST(deleted_interface_fails_once_without_spinning)
{
	struct tunclient_device *dev;
	struct event_base *base;
	struct rec r = { 0 };
	struct rusage before, after;
	int64_t cpu_us;
	int fd, s;

	testlib_enter_netns();
	base = new_base();
	fd = tun_ready("tun0");
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_OWN,
	    &all_cbs, &r, &dev), 0);
	s = testlib_udp_socket(AF_INET, "198.18.0.1", 0);
	send_datagram(s, AF_INET, "198.18.0.2");
	RUN_UNTIL(base, r.matched == 1, 2000);
	ck_assert_int_eq(r.matched, 1);

	run("ip link delete dev tun0");
	RUN_UNTIL(base, r.errors > 0, 2000);
	ck_assert_int_eq(r.errors, 1);
	ck_assert_int_eq(r.last_error, -EBADFD);

	ck_assert_int_eq(getrusage(RUSAGE_SELF, &before), 0);
	RUN_UNTIL(base, false, 300);
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &after), 0);
	cpu_us = (after.ru_utime.tv_sec - before.ru_utime.tv_sec +
	    after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1000000 +
	    after.ru_utime.tv_usec - before.ru_utime.tv_usec +
	    after.ru_stime.tv_usec - before.ru_stime.tv_usec;
	ck_assert_msg(cpu_us < 50000, "%lld us of CPU in 300 ms",
	    (long long)cpu_us);
	ck_assert_int_eq(r.errors, 1);
	ck_assert_int_eq(r.shutdowns, 0);

	/* Everything says why, and nothing calls back again. */
	ck_assert_int_eq(tunclient_device_send(dev, "\x45", 1), -EBADFD);
	ck_assert_int_eq(tunclient_device_shutdown(dev,
	    TUNCLIENT_SHUTDOWN_DROP, 0), -EBADFD);
	ck_assert_int_eq(tunclient_device_try_recv(dev, &r, 1), -EBADFD);
	RUN_UNTIL(base, false, 20);
	ck_assert_int_eq(r.errors, 1);
	tunclient_device_free(dev);
	close(s);
	event_base_free(base);
}
END_TEST

START_TEST(deleted_interface_ends_a_flush)
{
	struct event_base *base;
	struct throttled t;

	testlib_enter_netns();
	base = new_base();
	throttled_setup(base, &t, "8kbit");
	fill_queue(&t, 10);
	ck_assert_int_eq(tunclient_device_shutdown(t.dev,
	    TUNCLIENT_SHUTDOWN_FLUSH, 10000), 0);
	run("ip link delete dev tun0");
	RUN_UNTIL(base, t.r.shutdowns > 0, 2000);
	ck_assert_int_eq(t.r.errors, 1);
	ck_assert_int_eq(t.r.last_error, -EBADFD);
	ck_assert_int_eq(t.r.shutdowns, 1);
	ck_assert_uint_eq(t.r.unsent, 10);
	RUN_UNTIL(base, false, 30);
	ck_assert_int_eq(t.r.errors, 1);
	ck_assert_int_eq(t.r.shutdowns, 1);
	tunclient_device_free(t.dev);
	tunclient_device_free(t.collector);
	event_base_free(base);
}
END_TEST

START_TEST(free_inside_the_packet_callback)
{
	struct tunclient_device *dev;
	struct event_base *base;
	struct rec r = { .free_on_packet = true };
	char buf[2048];
	int fd, s, i, left = 0;
	ssize_t n;

	testlib_enter_netns();
	base = new_base();
	fd = tun_ready("tun0");
	/* lo and the device's own chatter aside, ten datagrams wait. */
	s = testlib_udp_socket(AF_INET, "198.18.0.1", 0);
	for (i = 0; i < 10; i++)
		send_datagram(s, AF_INET, "198.18.0.2");
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_BORROW,
	    &all_cbs, &r, &dev), 0);
	RUN_UNTIL(base, r.packets > 0, 2000);
	RUN_UNTIL(base, false, 20);
	ck_assert_int_eq(r.packets, 1);
	/* The rest is still in the borrowed fd, blocking again. */
	ck_assert(!fd_is_nonblocking(fd));
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		left += udp_match(buf, (size_t)n) == 4;
	ck_assert_int_eq(left, 10 - r.matched);
	close(fd);
	close(s);
	event_base_free(base);
}
END_TEST

struct waits {
	int readable, writable, other;
};

static void
on_readable_wait(struct tunclient_device *dev, void *arg)
{
	(void)dev;
	((struct waits *)arg)->readable++;
}

static void
on_writable_wait(struct tunclient_device *dev, void *arg)
{
	(void)dev;
	((struct waits *)arg)->writable++;
}

static void
on_other_wait(struct tunclient_device *dev, void *arg)
{
	(void)dev;
	((struct waits *)arg)->other++;
}

/* try_recv until the test datagram comes; its IP version or 0. */
static int
try_recv_datagram(struct tunclient_device *dev)
{
	uint8_t head[20], rest[2048];
	struct iovec iov[2] = { { head, sizeof(head) },
	    { rest, sizeof(rest) } };
	uint8_t whole[sizeof(head) + sizeof(rest)];
	ssize_t n;
	int v;

	while ((n = tunclient_device_try_recvv(dev, iov, 2)) > 0) {
		memcpy(whole, head, sizeof(head));
		memcpy(whole + sizeof(head), rest, sizeof(rest));
		if ((v = udp_match(whole, (size_t)n)) != 0)
			return v;
	}
	ck_assert_int_eq(n, -EAGAIN);
	return 0;
}

START_TEST(try_io_and_one_shot_waits)
{
	struct tunclient_device_callbacks cbs = { .error = on_error };
	struct tunclient_device *dev;
	struct event_base *base;
	struct waits w = { 0 };
	struct rec r = { 0 };
	uint8_t pkt[128], buf[2048];
	struct iovec iov[2];
	size_t len;
	int fd, s, sock;

	testlib_enter_netns();
	base = new_base();
	fd = tun_ready("tun0");
	/* No packet callback: the caller drives receiving. */
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_OWN, &cbs,
	    &r, &dev), 0);
	s = testlib_udp_socket(AF_INET, "198.18.0.1", 0);
	sock = testlib_udp_socket(AF_INET, "198.18.0.1", TEST_PORT);
	while (tunclient_device_try_recv(dev, buf, sizeof(buf)) > 0)
		;	/* the device's own chatter */
	ck_assert_int_eq(tunclient_device_try_recv(dev, buf, sizeof(buf)),
	    -EAGAIN);

	/* A replaced wait never runs; the new one runs once. */
	ck_assert_int_eq(tunclient_device_wait_readable(dev, on_other_wait,
	    &w), 0);
	ck_assert_int_eq(tunclient_device_wait_readable(dev,
	    on_readable_wait, &w), 0);
	send_datagram(s, AF_INET, "198.18.0.2");
	RUN_UNTIL(base, w.readable > 0, 2000);
	ck_assert_int_eq(w.readable, 1);
	ck_assert_int_eq(try_recv_datagram(dev), 4);
	RUN_UNTIL(base, false, 20);
	ck_assert_int_eq(w.readable, 1);
	ck_assert_int_eq(w.other, 0);

	/* A cancelled wait does not run, though the device is readable. */
	ck_assert_int_eq(tunclient_device_wait_readable(dev, on_other_wait,
	    &w), 0);
	ck_assert_int_eq(tunclient_device_wait_readable(dev, NULL, NULL), 0);
	send_datagram(s, AF_INET, "198.18.0.2");
	RUN_UNTIL(base, false, 50);
	ck_assert_int_eq(w.other, 0);
	ck_assert_int_eq(try_recv_datagram(dev), 4);

	ck_assert_int_eq(tunclient_device_wait_writable(dev,
	    on_writable_wait, &w), 0);
	RUN_UNTIL(base, w.writable > 0, 2000);
	ck_assert_int_eq(w.writable, 1);
	len = build_udp(4, pkt, strlen(PAYLOAD));
	ck_assert_int_eq(tunclient_device_try_send(dev, pkt, len),
	    (ssize_t)len);
	ck_assert_int_eq(recv_datagram(sock, (char *)buf, sizeof(buf)),
	    (ssize_t)strlen(PAYLOAD));
	iov[0] = (struct iovec){ pkt, 7 };
	iov[1] = (struct iovec){ pkt + 7, len - 7 };
	ck_assert_int_eq(tunclient_device_try_sendv(dev, iov, 2),
	    (ssize_t)len);
	ck_assert_int_eq(recv_datagram(sock, (char *)buf, sizeof(buf)),
	    (ssize_t)strlen(PAYLOAD));
	ck_assert_int_eq(r.errors, 0);
	tunclient_device_free(dev);
	close(s);
	close(sock);
	event_base_free(base);
}
END_TEST

START_TEST(settings_are_checked)
{
	struct tunclient_device *dev;
	struct event_base *base;
	struct rec r = { 0 };
	int fd, s;

	testlib_enter_netns();
	base = new_base();
	fd = tun_ready("tun0");
	ck_assert_int_eq(tunclient_device_new(base, fd, TUNCLIENT_OWN,
	    &all_cbs, &r, &dev), 0);
	ck_assert_int_eq(tunclient_device_set_mtu(dev, 0), -EINVAL);
	ck_assert_int_eq(tunclient_device_set_mtu(dev, 1500), 0);
	ck_assert_int_eq(tunclient_device_set_queue_limit(dev, 1 << 20), 0);
	ck_assert_int_eq(tunclient_device_set_queue_limit(dev,
	    (1 << 20) + 1), -EINVAL);
	ck_assert_int_eq(tunclient_device_attach_interrupt(dev, NULL,
	    TUNCLIENT_SHUTDOWN_DROP, 0), 0);
	s = testlib_udp_socket(AF_INET, "198.18.0.1", 0);
	send_datagram(s, AF_INET, "198.18.0.2");
	RUN_UNTIL(base, r.matched == 1, 2000);
	ck_assert_int_eq(r.matched, 1);
	tunclient_device_free(dev);
	tunclient_device_free(NULL);
	close(s);
	event_base_free(base);
}
END_TEST

START_TEST(device_from_a_lease)
{
	struct tunclient_request *req;
	struct tunclient_lease *lease;
	struct tunclient_conn *conn;
	struct tunclient_device *dev, *again;
	struct testlib_broker b;
	struct event_base *base;
	struct rec r = { 0 };
	int fd;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 0\n");
	base = new_base();
	ck_assert_int_eq(tunclient_connect(b.socket_path, &conn), 0);
	ck_assert_int_eq(tunclient_request_new(&req), 0);
	ck_assert_int_eq(tunclient_request_set_name(req, "leased0"), 0);
	ck_assert_int_eq(tunclient_request(conn, req, &lease), 0);

	ck_assert_int_eq(tunclient_device_from_lease(base, lease, 1, &all_cbs,
	    &r, &dev), -ERANGE);
	/* A failure puts the descriptor back into the lease. */
	fd = tunclient_lease_fd(lease, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(tunclient_device_from_lease(NULL, lease, 0, &all_cbs,
	    &r, &dev), -EINVAL);
	ck_assert_ptr_null(dev);
	ck_assert_int_eq(tunclient_lease_fd(lease, 0), fd);

	ck_assert_int_eq(tunclient_device_from_lease(base, lease, 0, &all_cbs,
	    &r, &dev), 0);
	ck_assert_int_eq(tunclient_lease_fd(lease, 0), -EBADF);
	ck_assert_int_eq(tunclient_device_fd(dev), fd);
	ck_assert_str_eq(tunclient_device_info(dev)->name, "leased0");
	ck_assert_int_eq(tunclient_device_info(dev)->type, TUNCLIENT_TUN);
	ck_assert(tunclient_device_info(dev)->offload_known);
	ck_assert_uint_eq(tunclient_device_info(dev)->vnet_hdr_size, 0);
	ck_assert_int_eq(tunclient_device_from_lease(base, lease, 0, &all_cbs,
	    &r, &again), -EBADF);
	ck_assert_ptr_null(again);
	tunclient_lease_free(lease);
	ck_assert(testlib_fd_is_open(fd));
	tunclient_device_free(dev);

	tunclient_request_free(req);
	tunclient_close(conn);
	event_base_free(base);
	testlib_broker_stop(&b);
}
END_TEST

/*
 * A device made from a lease reads offloads only from the interface with
 * the lease's ifindex: in another namespace, a namesake is not it.
 */
START_TEST(lease_device_ignores_a_namesake)
{
	struct tunclient_request *req;
	struct tunclient_lease *lease;
	struct tunclient_conn *conn;
	struct tunclient_device *dev;
	struct testlib_broker b;
	struct event_base *base;
	int pads[3], namesake;
	unsigned i;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 0\n");
	base = new_base();
	ck_assert_int_eq(tunclient_connect(b.socket_path, &conn), 0);
	ck_assert_int_eq(tunclient_request_new(&req), 0);
	ck_assert_int_eq(tunclient_request_set_name(req, "leased1"), 0);
	ck_assert_int_eq(tunclient_request(conn, req, &lease), 0);

	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	for (i = 0; i < 3; i++)
		pads[i] = tun_open(i == 0 ? "pad0" : i == 1 ? "pad1" : "pad2",
		    IFF_TUN | IFF_NO_PI);
	namesake = tun_open("leased1", IFF_TUN | IFF_NO_PI);
	ck_assert_uint_ne(if_nametoindex("leased1"),
	    tunclient_lease_ifindex(lease));
	ck_assert_int_eq(tunclient_device_from_lease(base, lease, 0, NULL,
	    NULL, &dev), 0);
	ck_assert_str_eq(tunclient_device_info(dev)->name, "leased1");
	ck_assert(!tunclient_device_info(dev)->offload_known);
	tunclient_device_free(dev);
	close(namesake);
	for (i = 0; i < 3; i++)
		close(pads[i]);

	tunclient_lease_free(lease);
	tunclient_request_free(req);
	tunclient_close(conn);
	event_base_free(base);
	testlib_broker_stop(&b);
}
END_TEST

static Suite *
device_suite(void)
{
	Suite *s = suite_create("device");
	TCase *tc = tcase_create("device");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, info_reports_what_the_kernel_says);
	tcase_add_test(tc, info_reports_vnet_hdr_and_offloads);
	tcase_add_test(tc, refuses_what_is_not_an_attached_tun);
	tcase_add_test(tc, receives_ipv4_and_ipv6);
	tcase_add_test(tc, sends_ipv4_and_ipv6);
	tcase_add_test(tc, budget_spreads_a_flood_over_wakeups);
	tcase_add_test(tc, borrowed_fd_outlives_the_device);
	tcase_add_test(tc, owned_fd_is_closed_off_the_loop);
	tcase_add_test(tc, send_queue_bound_and_writable_again);
	tcase_add_test(tc, shutdown_flush_sends_everything);
	tcase_add_test(tc, shutdown_drop_drops_the_queue);
	tcase_add_test(tc, shutdown_deadline_drops_the_rest);
	tcase_add_test(tc, interrupt_from_another_thread);
	tcase_add_test(tc, interrupt_from_a_signal_handler);
	tcase_add_test(tc, one_trigger_stops_a_hundred_devices);
	tcase_add_test(tc, deleted_interface_fails_once_without_spinning);
	tcase_add_test(tc, deleted_interface_ends_a_flush);
	tcase_add_test(tc, free_inside_the_packet_callback);
	tcase_add_test(tc, try_io_and_one_shot_waits);
	tcase_add_test(tc, settings_are_checked);
	tcase_add_test(tc, device_from_a_lease);
	tcase_add_test(tc, lease_device_ignores_a_namesake);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testlib_run(device_suite(), true);
}
