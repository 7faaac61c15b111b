/*
 * bench/datapath: packets per second through a TUN device, for a raw
 * blocking read()/write() loop (the limit) and for libtunclient's
 * asynchronous device on libevent, measured in the same run, and the ratio
 * of the two.  See bench/RESULTS.md.
 *
 * Receive (kernel to fd): the device's queue is first filled with a known
 * number of UDP datagrams sent to an address behind it, then drained; the
 * drain is timed, so the reader alone sets the pace.  Send (fd to kernel):
 * prebuilt IPv4 UDP packets are written into the device for a local socket.
 *
 * Runs as root in a network namespace of its own; it never touches the
 * host's interfaces.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "tunclient.h"

#define DEVICE		"bench0"
#define LOCAL		"198.18.0.1"	/* the device's address */
#define REMOTE		"198.18.0.2"	/* "behind" the device */
#define PORT		9
#define BATCH		64		/* sendmmsg batch for prefilling */

struct options {
	unsigned long packets;		/* per round */
	unsigned rounds;
	unsigned budget;
};

/* One timed run. */
struct sample {
	double seconds;		/* wall clock */
	double cpu;		/* the measuring thread's CPU time */
	unsigned long packets;
};

static void
die(const char *what)
{
	fprintf(stderr, "datapath: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double
clock_seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Applies one SIOCSIF* request to the device. */
static void
ifreq_set(int sock, unsigned long request, struct ifreq *ifr, const char *what)
{
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", DEVICE);
	if (ioctl(sock, request, ifr) < 0)
		die(what);
}

static void
set_inet(struct sockaddr *sa, const char *addr)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)sa;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin->sin_addr);
}

static void
write_sysctl(const char *path, const char *value)
{
	FILE *f = fopen(path, "we");

	if (f == NULL || fputs(value, f) < 0 || fclose(f) != 0)
		die(path);
}

/*
 * Enters a fresh network namespace and creates the device there with
 * 198.18.0.1/24, up, with a queue long enough to hold queue_len packets.
 * Returns its descriptor (blocking).
 */
static int
make_device(unsigned long queue_len)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd, sock;

	if (unshare(CLONE_NEWNET) < 0)
		die("unshare(CLONE_NEWNET) (run as root)");
	/* No IPv6 chatter (router solicitations) among the counted packets. */
	write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0)
		die("/dev/net/tun");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", DEVICE);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		die("TUNSETIFF");
	if ((sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket");
	memset(&ifr, 0, sizeof(ifr));
	set_inet(&ifr.ifr_addr, LOCAL);
	ifreq_set(sock, SIOCSIFADDR, &ifr, "SIOCSIFADDR");
	set_inet(&ifr.ifr_netmask, "255.255.255.0");
	ifreq_set(sock, SIOCSIFNETMASK, &ifr, "SIOCSIFNETMASK");
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_qlen = (int)queue_len;
	ifreq_set(sock, SIOCSIFTXQLEN, &ifr, "SIOCSIFTXQLEN");
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_UP;
	ifreq_set(sock, SIOCSIFFLAGS, &ifr, "SIOCSIFFLAGS");
	close(sock);
	return fd;
}

/* The device's TX drop counter (packets the kernel could not queue). */
static unsigned long
device_tx_dropped(void)
{
	unsigned long v[16];
	char line[512];
	FILE *f = fopen("/proc/net/dev", "re");
	char *p;

	if (f == NULL)
		die("/proc/net/dev");
	while (fgets(line, sizeof(line), f) != NULL) {
		if ((p = strstr(line, DEVICE ":")) == NULL)
			continue;
		/* rx: bytes packets errs drop fifo frame compressed multicast,
		 * tx: bytes packets errs drop ... */
		if (sscanf(p + strlen(DEVICE) + 1,
		    "%lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu",
		    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		    &v[8], &v[9], &v[10], &v[11]) == 12) {
			fclose(f);
			return v[11];
		}
	}
	fclose(f);
	fprintf(stderr, "datapath: %s not in /proc/net/dev\n", DEVICE);
	exit(1);
}

/*
 * Queues count UDP datagrams of payload bytes towards the device and
 * returns how many the kernel really queued there.
 */
static unsigned long
prefill(int udp, size_t payload, unsigned long count)
{
	static char data[2048];
	struct mmsghdr msgs[BATCH];
	struct iovec iov = { .iov_base = data, .iov_len = payload };
	unsigned long sent = 0, dropped = device_tx_dropped();
	int i, n;

	for (i = 0; i < BATCH; i++) {
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (sent < count) {
		unsigned want = count - sent < BATCH ? (unsigned)(count - sent) :
		    BATCH;

		n = sendmmsg(udp, msgs, want, 0);
		if (n < 0 && errno != ENOBUFS && errno != EINTR)
			die("sendmmsg");
		if (n > 0)
			sent += (unsigned long)n;
	}
	return sent - (device_tx_dropped() - dropped);
}

/* The raw limit: one blocking read(2) per packet. */
static struct sample
raw_receive(int fd, unsigned long count, size_t expect_len)
{
	static char buf[65536];
	struct sample s = { .packets = count };
	double t0 = clock_seconds(CLOCK_MONOTONIC);
	double c0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
	unsigned long i;

	for (i = 0; i < count; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0)
			die("read");
		if ((size_t)n != expect_len) {
			fprintf(stderr, "datapath: read %zd bytes, expected %zu\n",
			    n, expect_len);
			exit(1);
		}
	}
	s.seconds = clock_seconds(CLOCK_MONOTONIC) - t0;
	s.cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
	return s;
}

struct async_receive {
	struct event_base *base;
	unsigned long want, got;
	size_t expect_len;
	int bad;
};

static void
on_packet(struct tunclient_device *dev, const void *data, size_t len,
    void *arg)
{
	struct async_receive *ar = arg;

	(void)dev;
	(void)data;
	if (len != ar->expect_len)
		ar->bad++;
	if (++ar->got == ar->want)
		event_base_loopbreak(ar->base);
}

/* The same drain through an asynchronous device on libevent. */
static struct sample
async_receive(int fd, unsigned long count, size_t expect_len,
    unsigned budget)
{
	struct async_receive ar = { .want = count, .expect_len = expect_len };
	struct tunclient_device_callbacks cbs = { .packet = on_packet };
	struct tunclient_device *dev;
	struct sample s = { .packets = count };
	double t0, c0;
	int r;

	if ((ar.base = event_base_new()) == NULL)
		die("event_base_new");
	r = tunclient_device_new(ar.base, fd, TUNCLIENT_BORROW, &cbs, &ar,
	    &dev);
	if (r == 0)
		r = tunclient_device_set_budget(dev, budget);
	if (r != 0) {
		errno = -r;
		die("tunclient_device_new");
	}
	t0 = clock_seconds(CLOCK_MONOTONIC);
	c0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
	event_base_dispatch(ar.base);
	s.seconds = clock_seconds(CLOCK_MONOTONIC) - t0;
	s.cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
	tunclient_device_free(dev);
	event_base_free(ar.base);
	if (ar.got != count || ar.bad != 0) {
		fprintf(stderr, "datapath: async receive got %lu of %lu "
		    "(%d of the wrong size)\n", ar.got, count, ar.bad);
		exit(1);
	}
	return s;
}

/* The Internet checksum. */
static uint16_t
checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len == 1)
		sum += (uint32_t)(p[0] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* An IPv4 UDP packet from REMOTE to LOCAL:PORT with payload bytes. */
static size_t
build_packet(uint8_t *pkt, size_t payload)
{
	struct iphdr *ip = (struct iphdr *)(void *)pkt;
	struct udphdr *udp = (struct udphdr *)(void *)(pkt + sizeof(*ip));
	size_t len = sizeof(*ip) + sizeof(*udp) + payload;

	memset(pkt, 0, len);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons((uint16_t)len);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	inet_pton(AF_INET, REMOTE, &ip->saddr);
	inet_pton(AF_INET, LOCAL, &ip->daddr);
	ip->check = checksum(ip, sizeof(*ip));
	udp->source = htons(PORT);
	udp->dest = htons(PORT);
	udp->len = htons((uint16_t)(sizeof(*udp) + payload));
	return len;	/* UDP checksum 0: none, which IPv4 allows */
}

static struct sample
raw_send(int fd, const uint8_t *pkt, size_t len, unsigned long count)
{
	struct sample s = { .packets = count };
	double t0 = clock_seconds(CLOCK_MONOTONIC);
	double c0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
	unsigned long i;

	for (i = 0; i < count; i++) {
		if (write(fd, pkt, len) != (ssize_t)len)
			die("write");
	}
	s.seconds = clock_seconds(CLOCK_MONOTONIC) - t0;
	s.cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
	return s;
}

struct async_send {
	struct event_base *base;
	struct tunclient_device *dev;
	struct event *more;
	const uint8_t *pkt;
	size_t len;
	unsigned long left;
	unsigned budget;
	int failed;
};

/* Sends up to a budget of packets per loop turn, as a program would. */
static void
send_some(evutil_socket_t fd, short what, void *arg)
{
	struct async_send *as = arg;
	unsigned i;
	int r;

	(void)fd;
	(void)what;
	for (i = 0; i < as->budget && as->left > 0; i++) {
		r = tunclient_device_send(as->dev, as->pkt, as->len);
		if (r == -ENOBUFS)
			return;		/* the writable callback resumes */
		if (r != 0) {
			as->failed = r;
			event_base_loopbreak(as->base);
			return;
		}
		as->left--;
	}
	if (as->left > 0)
		event_active(as->more, EV_TIMEOUT, 0);
	else if (tunclient_device_queued(as->dev) == 0)
		event_base_loopbreak(as->base);
}

static void
on_writable(struct tunclient_device *dev, void *arg)
{
	struct async_send *as = arg;

	(void)dev;
	event_active(as->more, EV_TIMEOUT, 0);
}

static struct sample
async_send(int fd, const uint8_t *pkt, size_t len, unsigned long count,
    unsigned budget)
{
	struct async_send as = { .pkt = pkt, .len = len, .left = count,
	    .budget = budget };
	struct tunclient_device_callbacks cbs = { .writable = on_writable };
	struct sample s = { .packets = count };
	double t0, c0;
	int r;

	if ((as.base = event_base_new()) == NULL)
		die("event_base_new");
	r = tunclient_device_new(as.base, fd, TUNCLIENT_BORROW, &cbs, &as,
	    &as.dev);
	if (r != 0) {
		errno = -r;
		die("tunclient_device_new");
	}
	as.more = event_new(as.base, -1, 0, send_some, &as);
	t0 = clock_seconds(CLOCK_MONOTONIC);
	c0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
	event_active(as.more, EV_TIMEOUT, 0);
	event_base_dispatch(as.base);
	s.seconds = clock_seconds(CLOCK_MONOTONIC) - t0;
	s.cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
	if (as.failed != 0) {
		errno = -as.failed;
		die("tunclient_device_send");
	}
	event_free(as.more);
	tunclient_device_free(as.dev);
	event_base_free(as.base);
	return s;
}

/*
 * Keeps the measuring thread on one CPU: migrations between runs cost more
 * than the difference being measured.
 */
static void
pin_to_last_cpu(void)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&set);
	CPU_SET(n > 0 ? (int)n - 1 : 0, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity");
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of n values (n <= 64); v is reordered. */
static double
median(double *v, unsigned n)
{
	qsort(v, n, sizeof(v[0]), compare_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double
rate(const struct sample *s)
{
	return (double)s->packets / s->seconds;
}

static double
cpu_ns_per_packet(const struct sample *s)
{
	return s->cpu * 1e9 / (double)s->packets;
}

/* The median of f over n samples. */
static double
median_of(const struct sample *s, unsigned n,
    double (*f)(const struct sample *))
{
	double v[64];
	unsigned i;

	for (i = 0; i < n; i++)
		v[i] = f(&s[i]);
	return median(v, n);
}

/*
 * The ratio is the median of each round's async/raw ratio: the two runs of
 * a round are back to back, so drift in the machine cancels out.
 */
static void
report(const char *direction, size_t payload, const struct sample *raw,
    const struct sample *async, unsigned rounds)
{
	double ratios[64];
	unsigned i;

	for (i = 0; i < rounds; i++)
		ratios[i] = rate(&async[i]) / rate(&raw[i]);
	printf("%-8s %7zu %12.0f %12.0f %7.3f %10.0f %10.0f\n", direction,
	    payload, median_of(raw, rounds, rate),
	    median_of(async, rounds, rate), median(ratios, rounds),
	    median_of(raw, rounds, cpu_ns_per_packet),
	    median_of(async, rounds, cpu_ns_per_packet));
	fflush(stdout);
}

/* Measures both receive and send for one payload size. */
static void
measure(int fd, int udp, size_t payload, const struct options *o)
{
	struct sample raw[64], async[64];
	uint8_t pkt[2048];
	size_t len = sizeof(struct iphdr) + sizeof(struct udphdr) + payload;
	unsigned i;

	/* Pairs back to back, in alternating order, so neither goes first. */
	for (i = 0; i < o->rounds; i++) {
		if (i % 2 == 0)
			raw[i] = raw_receive(fd, prefill(udp, payload,
			    o->packets), len);
		async[i] = async_receive(fd, prefill(udp, payload,
		    o->packets), len, o->budget);
		if (i % 2 == 1)
			raw[i] = raw_receive(fd, prefill(udp, payload,
			    o->packets), len);
	}
	report("receive", payload, raw, async, o->rounds);

	build_packet(pkt, payload);
	for (i = 0; i < o->rounds; i++) {
		if (i % 2 == 0)
			raw[i] = raw_send(fd, pkt, len, o->packets);
		async[i] = async_send(fd, pkt, len, o->packets, o->budget);
		if (i % 2 == 1)
			raw[i] = raw_send(fd, pkt, len, o->packets);
	}
	report("send", payload, raw, async, o->rounds);
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: datapath [--packets N] [--rounds N] [--budget N]\n"
	    "  --packets N  packets per timed run (default 200000)\n"
	    "  --rounds N   runs per figure; the median is reported (default 5)\n"
	    "  --budget N   the async device's packets per wakeup (default 64)\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "packets", required_argument, NULL, 'p' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "budget", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .packets = 200000, .rounds = 5, .budget = 64 };
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons(PORT) };
	int c, fd, udp, sink, small = 1;

	while ((c = getopt_long(argc, argv, "p:r:b:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.packets = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o.rounds = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			o.budget = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o.packets == 0 || o.rounds == 0 || o.rounds > 63 ||
	    o.budget == 0) {
		usage(stderr);
		return 2;
	}

	pin_to_last_cpu();
	fd = make_device(o.packets + 1024);
	/* Where received-direction datagrams come from... */
	if ((udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket");
	inet_pton(AF_INET, REMOTE, &sin.sin_addr);
	if (connect(udp, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect");
	/* ...and where sent packets land: a socket that drops them cheaply. */
	if ((sink = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket");
	setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	inet_pton(AF_INET, LOCAL, &sin.sin_addr);
	if (bind(sink, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind");

	printf("# datapath: %lu packets a run, median of %u runs, budget %u\n",
	    o.packets, o.rounds, o.budget);
	printf("%-8s %7s %12s %12s %7s %10s %10s\n", "# dir", "payload",
	    "raw_pps", "async_pps", "ratio", "raw_ns/p", "async_ns/p");
	measure(fd, udp, 64, &o);
	measure(fd, udp, 1400, &o);
	close(sink);
	close(udp);
	close(fd);
	return 0;
}
