/*
 * icmp-echo: answers ICMP and ICMPv6 echo requests on a TUN descriptor.
 *
 * An example of a program that takes an inherited device fd, as
 * `tunctl request --address 198.18.0.1/24 --exec -- icmp-echo` gives it.
 * The fd is an IFF_TUN|IFF_NO_PI device, so every read is one raw IPv4 or
 * IPv6 packet and every write sends one.  Packets come from whatever the
 * kernel routes to the device, so every length is checked before use.
 *
 * The packet logic (echo_reply_*) works on a buffer and knows nothing about
 * where the packet came from; the device runs on libtunclient's
 * asynchronous API, and SIGINT or SIGTERM stop it through an interrupt,
 * flushing the replies still queued.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "tunclient.h"

#define IPV4_HEADER_SIZE	20
#define IPV6_HEADER_SIZE	40
#define ICMP_HEADER_SIZE	8	/* type, code, checksum, id, sequence */
#define IPPROTO_ICMP_NUMBER	1
#define IPPROTO_ICMPV6_NUMBER	58
#define ICMP_ECHO_REPLY		0
#define ICMP_ECHO_REQUEST	8
#define ICMPV6_ECHO_REQUEST	128
#define ICMPV6_ECHO_REPLY	129
#define REPLY_HOP_LIMIT		64

/* The largest IPv6 packet without a jumbo payload; IPv4 tops out lower. */
#define PACKET_MAX		(IPV6_HEADER_SIZE + 65535)

/* What a reply was, for --verbose. */
struct echo_info {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t src[16];	/* the reply's source: the request's destination */
	uint8_t dst[16];
	uint16_t id;
	uint16_t seq;
};

/* How long queued replies may take to leave once asked to stop. */
#define FLUSH_DEADLINE_MS	1000

/* The running responder, as its callbacks see it. */
struct responder {
	struct tunclient_device *dev;
	const char *label;
	unsigned long long count;	/* stop after this many; 0: never */
	unsigned long long replies;
	bool verbose;
	int status;			/* main()'s exit status */
	uint8_t pkt[PACKET_MAX];	/* the reply is built in place here */
};

/* What the signal handler raises; nothing else is global. */
static struct tunclient_interrupt *stop_interrupt;

static uint16_t
load16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
store16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Adds len bytes to a ones'-complement sum (RFC 1071), big-endian words. */
static uint64_t
checksum_add(uint64_t sum, const uint8_t *data, size_t len)
{
	while (len >= 2) {
		sum += load16(data);
		data += 2;
		len -= 2;
	}
	if (len == 1)
		sum += (uint64_t)data[0] << 8;
	return sum;
}

/* Folds a sum into the 16-bit checksum; a valid region folds to 0. */
static uint16_t
checksum_finish(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The ICMPv6 checksum: pseudo-header (RFC 8200 8.1) plus the message. */
static uint16_t
icmp6_checksum(const uint8_t *src, const uint8_t *dst, const uint8_t *icmp,
    size_t icmp_len)
{
	uint8_t length_and_next[8] = { 0 };
	uint64_t sum = 0;

	length_and_next[0] = (uint8_t)(icmp_len >> 24);
	length_and_next[1] = (uint8_t)(icmp_len >> 16);
	length_and_next[2] = (uint8_t)(icmp_len >> 8);
	length_and_next[3] = (uint8_t)icmp_len;
	length_and_next[7] = IPPROTO_ICMPV6_NUMBER;
	sum = checksum_add(sum, src, 16);
	sum = checksum_add(sum, dst, 16);
	sum = checksum_add(sum, length_and_next, sizeof(length_and_next));
	return checksum_finish(checksum_add(sum, icmp, icmp_len));
}

/*
 * True for addresses an echo reply must not be sent from or to.  A
 * subnet-directed broadcast cannot be told apart without the device's
 * prefix, which this program does not know, so it is answered like any
 * unicast destination.
 */
static bool
ipv4_is_unreplyable(const uint8_t *a)
{
	return (a[0] & 0xf0) == 0xe0 ||		/* multicast */
	    (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0) ||
	    (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255);
}

static bool
ipv6_is_unreplyable(const uint8_t *a)
{
	static const uint8_t unspecified[16];

	return a[0] == 0xff || memcmp(a, unspecified, 16) == 0;
}

/*
 * Turns the IPv4 packet in pkt (len bytes, as read) into an ICMP echo
 * reply in place.  Returns the reply's length, or 0 if the packet is not a
 * well-formed, unfragmented echo request with valid checksums, in which
 * case pkt may not be used as a reply.  IP options are not echoed.
 */
static size_t
echo_reply_ipv4(uint8_t *pkt, size_t len, struct echo_info *info)
{
	size_t header_len, total_len, icmp_len;
	uint8_t *icmp, addr[4];

	if (len < IPV4_HEADER_SIZE || pkt[0] >> 4 != 4)
		return 0;
	header_len = (size_t)(pkt[0] & 0x0f) * 4;
	total_len = load16(pkt + 2);
	if (header_len < IPV4_HEADER_SIZE || total_len != len ||
	    total_len < header_len + ICMP_HEADER_SIZE)
		return 0;
	if ((load16(pkt + 6) & 0x3fff) != 0)	/* MF set or an offset */
		return 0;
	if (pkt[9] != IPPROTO_ICMP_NUMBER ||
	    checksum_finish(checksum_add(0, pkt, header_len)) != 0)
		return 0;
	if (ipv4_is_unreplyable(pkt + 12) || ipv4_is_unreplyable(pkt + 16))
		return 0;
	icmp = pkt + header_len;
	icmp_len = total_len - header_len;
	if (icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0 ||
	    checksum_finish(checksum_add(0, icmp, icmp_len)) != 0)
		return 0;

	if (header_len > IPV4_HEADER_SIZE) {
		memmove(pkt + IPV4_HEADER_SIZE, icmp, icmp_len);
		icmp = pkt + IPV4_HEADER_SIZE;
	}
	pkt[0] = 0x45;
	store16(pkt + 2, (uint16_t)(IPV4_HEADER_SIZE + icmp_len));
	pkt[8] = REPLY_HOP_LIMIT;
	memcpy(addr, pkt + 12, 4);
	memcpy(pkt + 12, pkt + 16, 4);
	memcpy(pkt + 16, addr, 4);
	store16(pkt + 10, 0);
	store16(pkt + 10, checksum_finish(checksum_add(0, pkt, IPV4_HEADER_SIZE)));

	icmp[0] = ICMP_ECHO_REPLY;
	store16(icmp + 2, 0);
	store16(icmp + 2, checksum_finish(checksum_add(0, icmp, icmp_len)));

	memset(info, 0, sizeof(*info));
	info->family = AF_INET;
	memcpy(info->src, pkt + 12, 4);
	memcpy(info->dst, pkt + 16, 4);
	info->id = load16(icmp + 4);
	info->seq = load16(icmp + 6);
	return IPV4_HEADER_SIZE + icmp_len;
}

/*
 * Turns the IPv6 packet in pkt (len bytes, as read) into an ICMPv6 echo
 * reply in place.  Returns the reply's length, or 0 if the packet is not an
 * echo request directly after the fixed header with a valid checksum.
 * Extension headers and jumbograms are not handled: such packets are
 * ignored.
 */
static size_t
echo_reply_ipv6(uint8_t *pkt, size_t len, struct echo_info *info)
{
	size_t icmp_len;
	uint8_t *icmp, addr[16];

	if (len < IPV6_HEADER_SIZE || pkt[0] >> 4 != 6)
		return 0;
	icmp_len = load16(pkt + 4);
	if (icmp_len != len - IPV6_HEADER_SIZE || icmp_len < ICMP_HEADER_SIZE)
		return 0;
	if (pkt[6] != IPPROTO_ICMPV6_NUMBER)
		return 0;
	if (ipv6_is_unreplyable(pkt + 8) || ipv6_is_unreplyable(pkt + 24))
		return 0;
	icmp = pkt + IPV6_HEADER_SIZE;
	if (icmp[0] != ICMPV6_ECHO_REQUEST || icmp[1] != 0 ||
	    icmp6_checksum(pkt + 8, pkt + 24, icmp, icmp_len) != 0)
		return 0;

	pkt[7] = REPLY_HOP_LIMIT;
	memcpy(addr, pkt + 8, 16);
	memcpy(pkt + 8, pkt + 24, 16);
	memcpy(pkt + 24, addr, 16);
	icmp[0] = ICMPV6_ECHO_REPLY;
	store16(icmp + 2, 0);
	store16(icmp + 2, icmp6_checksum(pkt + 8, pkt + 24, icmp, icmp_len));

	memset(info, 0, sizeof(*info));
	info->family = AF_INET6;
	memcpy(info->src, pkt + 8, 16);
	memcpy(info->dst, pkt + 24, 16);
	info->id = load16(icmp + 4);
	info->seq = load16(icmp + 6);
	return len;
}

/* Turns an echo request into its reply in place; 0 means ignore it. */
static size_t
echo_reply(uint8_t *pkt, size_t len, struct echo_info *info)
{
	if (len == 0)
		return 0;
	switch (pkt[0] >> 4) {
	case 4:
		return echo_reply_ipv4(pkt, len, info);
	case 6:
		return echo_reply_ipv6(pkt, len, info);
	default:
		return 0;
	}
}

static void
print_reply(const struct echo_info *info)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	inet_ntop(info->family, info->src, src, sizeof(src));
	inet_ntop(info->family, info->dst, dst, sizeof(dst));
	printf("echo reply %s -> %s id %u seq %u\n", src, dst,
	    (unsigned)info->id, (unsigned)info->seq);
}

/* Async-signal-safe: raising an interrupt is one write(2). */
static void
on_stop_signal(int signo)
{
	tunclient_interrupt_trigger_value(stop_interrupt, (uint64_t)signo);
}

static void
on_packet(struct tunclient_device *dev, const void *data, size_t len,
    void *arg)
{
	struct responder *r = arg;
	struct echo_info info;
	size_t reply_len;
	int err;

	/* The view is read-only and short-lived: build the reply in a copy. */
	memcpy(r->pkt, data, len);
	if ((reply_len = echo_reply(r->pkt, len, &info)) == 0)
		return;
	err = tunclient_device_send(dev, r->pkt, reply_len);
	if (err == -ENOBUFS)
		return;		/* the queue is full: drop, as a router would */
	if (err < 0) {
		fprintf(stderr, "icmp-echo: write to %s: %s\n", r->label,
		    strerror(-err));
		r->status = 1;
		tunclient_device_shutdown(dev, TUNCLIENT_SHUTDOWN_DROP, 0);
		return;
	}
	r->replies++;
	if (r->verbose)
		print_reply(&info);
	if (r->count != 0 && r->replies == r->count)
		tunclient_device_shutdown(dev, TUNCLIENT_SHUTDOWN_FLUSH,
		    FLUSH_DEADLINE_MS);
}

/* The device is gone (deleted, or its fd failed): report and stop. */
static void
on_error(struct tunclient_device *dev, int err, void *arg)
{
	struct responder *r = arg;

	fprintf(stderr, "icmp-echo: %s: %s\n", r->label, strerror(-err));
	r->status = 1;
	tunclient_device_free(dev);
	r->dev = NULL;
}

/* Stopped by --count or a signal; freeing it leaves the loop empty. */
static void
on_shutdown(struct tunclient_device *dev, size_t unsent, void *arg)
{
	struct responder *r = arg;

	if (unsent > 0)
		fprintf(stderr, "icmp-echo: %s: %zu replies not sent\n",
		    r->label, unsent);
	tunclient_device_free(dev);
	r->dev = NULL;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: icmp-echo [--fd N] [--count N] [--verbose]\n");
}

/* Parses a decimal number of at most max; false if text is not one. */
static bool
parse_number(const char *text, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

/* The first fd of a TUNCLIENT_FDS list ("3" or "3,4"); -1 if malformed. */
static int
fd_from_list(const char *list)
{
	char first[16];
	size_t n = strcspn(list, ",");
	unsigned long long fd;

	if (n == 0 || n >= sizeof(first))
		return -1;
	memcpy(first, list, n);
	first[n] = '\0';
	if (!parse_number(first, INT_MAX, &fd))
		return -1;
	return (int)fd;
}

/*
 * Answers echo requests on fd until --count replies, a stop signal, or
 * the device's end; returns the exit status.
 */
static int
run(int fd, const char *label, unsigned long long count, bool verbose)
{
	static struct responder r;
	struct tunclient_device_callbacks cbs = {
		.packet = on_packet,
		.error = on_error,
		.shutdown = on_shutdown,
	};
	struct event_base *base;
	struct sigaction sa;
	int err;

	r.label = label;
	r.count = count;
	r.verbose = verbose;
	if (verbose)
		setvbuf(stdout, NULL, _IOLBF, 0);
	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "icmp-echo: cannot create an event loop\n");
		return 1;
	}
	if ((err = tunclient_interrupt_new(&stop_interrupt)) != 0 ||
	    (err = tunclient_device_new(base, fd, TUNCLIENT_OWN, &cbs, &r,
	    &r.dev)) != 0 ||
	    (err = tunclient_device_attach_interrupt(r.dev, stop_interrupt,
	    TUNCLIENT_SHUTDOWN_FLUSH, FLUSH_DEADLINE_MS)) != 0) {
		fprintf(stderr, "icmp-echo: %s: %s\n", label, strerror(-err));
		r.status = 1;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0) {
		fprintf(stderr, "icmp-echo: signals: %s\n", strerror(errno));
		r.status = 1;
		goto out;
	}
	/* Returns once the device is freed and nothing else is pending. */
	event_base_dispatch(base);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "icmp-echo: stdout: %s\n", strerror(errno));
		r.status = 1;
	}
out:
	tunclient_device_free(r.dev);
	event_base_free(base);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	tunclient_interrupt_free(stop_interrupt);
	return r.status;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "fd", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char label[64];
	unsigned long long count = 0, value;
	bool verbose = false;
	int fd = -1, opt;

	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (!parse_number(optarg, INT_MAX, &value)) {
				fprintf(stderr, "icmp-echo: --fd: not a "
				    "descriptor number: %s\n", optarg);
				usage(stderr);
				return 2;
			}
			fd = (int)value;
			break;
		case 'c':
			if (!parse_number(optarg, ULLONG_MAX, &count)) {
				fprintf(stderr, "icmp-echo: --count: not a "
				    "number: %s\n", optarg);
				usage(stderr);
				return 2;
			}
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "icmp-echo: %s: option needs a value\n",
			    argv[optind - 1]);
			usage(stderr);
			return 2;
		default:
			fprintf(stderr, "icmp-echo: %s: not a valid option\n",
			    argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "icmp-echo: unexpected argument: %s\n",
		    argv[optind]);
		usage(stderr);
		return 2;
	}

	if (fd >= 0) {
		snprintf(label, sizeof(label), "fd %d", fd);
	} else {
		const char *list = getenv("TUNCLIENT_FDS");
		const char *ifname = getenv("TUNCLIENT_IFNAME");

		if (list == NULL) {
			fprintf(stderr, "icmp-echo: no device: give --fd N, "
			    "or run under tunctl request --exec\n");
			usage(stderr);
			return 2;
		}
		fd = fd_from_list(list);
		if (fd < 0) {
			fprintf(stderr, "icmp-echo: TUNCLIENT_FDS: not a "
			    "comma-separated list of descriptors: \"%s\"\n",
			    list);
			return 1;
		}
		if (ifname != NULL && *ifname != '\0')
			snprintf(label, sizeof(label), "%s (fd %d)", ifname, fd);
		else
			snprintf(label, sizeof(label), "fd %d", fd);
	}
	if (fcntl(fd, F_GETFD) < 0) {
		fprintf(stderr, "icmp-echo: %s: %s\n", label, strerror(errno));
		return 1;
	}
	return run(fd, label, count, verbose);
}
