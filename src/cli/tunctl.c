/*
 * tunctl: ask tunbrokerd for a device from the shell, or run a program with
 * one.  See tunctl(1).  Uses nothing but the public libtunclient API.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tunclient.h"

/* Exit statuses, as tunctl(1) documents them. */
#define EXIT_FAILED	1
#define EXIT_USAGE	2
#define EXIT_NOEXEC	127

struct request_options {
	bool json;
	char **exec_argv;	/* NULL without --exec */
	bool vnet_hdr, offload;	/* --vnet-hdr and a non-empty --offload */
};

/* The offload names tunctl(1) documents, and their bits. */
static const struct {
	const char *name;
	unsigned bit;
} offload_names[] = {
	{ "csum", TUNCLIENT_OFFLOAD_CSUM },
	{ "tso4", TUNCLIENT_OFFLOAD_TSO4 },
	{ "tso6", TUNCLIENT_OFFLOAD_TSO6 },
	{ "tso-ecn", TUNCLIENT_OFFLOAD_TSO_ECN },
	{ "uso4", TUNCLIENT_OFFLOAD_USO4 },
	{ "uso6", TUNCLIENT_OFFLOAD_USO6 },
};

#define NOFFLOADS	(sizeof(offload_names) / sizeof(offload_names[0]))

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: tunctl [--socket PATH] request [--tap] [--name NAME] [--address CIDR]...\n"
	    "              [--peer ADDR] [--mtu N] [--route CIDR[,metric=N]]... [--mac MAC]\n"
	    "              [--bridge NAME] [--queues N] [--vnet-hdr[=SIZE]] [--offload LIST]\n"
	    "              [--txqueuelen N] [--netns PATH|self]\n"
	    "              [--json] [--exec -- PROGRAM [ARGS...]]\n"
	    "       tunctl [--socket PATH] status\n"
	    "       tunctl [--socket PATH] list [--json]\n"
	    "       tunctl [--socket PATH] release NAME\n"
	    "       tunctl --help | --version\n"
	    "\n"
	    "  --socket PATH     the broker's socket (default: $" TUNCLIENT_SOCKET_ENV
	    ", else " TUNCLIENT_DEFAULT_SOCKET ")\n"
	    "request             create a device and hold it until SIGINT or SIGTERM\n"
	    "  --tap             a TAP (Ethernet) device instead of a TUN\n"
	    "  --name NAME       a name, or a template such as vpn%%d\n"
	    "  --address CIDR    an IPv4 or IPv6 address with prefix length (repeatable);\n"
	    "                    auto or auto6: a free subnet from a pool of the policy\n"
	    "  --peer ADDR       the point-to-point peer address\n"
	    "  --mtu N           the MTU (68 to 65535)\n"
	    "  --route CIDR[,metric=N]  a route through the device (repeatable)\n"
	    "  --mac MAC         a TAP's Ethernet address (default: random)\n"
	    "  --bridge NAME     make the TAP a port of bridge NAME\n"
	    "  --queues N        a multi-queue device with N queues (1 to 16)\n"
	    "  --vnet-hdr[=SIZE] a virtio-net header of SIZE bytes (10, the default, or 12)\n"
	    "  --offload LIST    offloads: csum,tso4,tso6,tso-ecn,uso4,uso6\n"
	    "  --txqueuelen N    the transmit queue length (1 to 65536)\n"
	    "  --netns PATH      create it in the network namespace PATH (self: mine)\n"
	    "  --json            describe the device as a JSON object\n"
	    "  --exec -- PROG    run PROG with the device as fd 3 instead of holding it\n"
	    "status              show the broker's version\n"
	    "list                show my devices, a line each: name ifindex uid\n"
	    "                    (root: every device); --json for a JSON array\n"
	    "release NAME        delete my device NAME\n");
}

/* Prints "tunctl: what: why" on stderr. */
__attribute__((format(printf, 1, 2)))
static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("tunctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The broker's sentence when there is one, else the errno's text. */
static const char *
conn_why(const struct tunclient_conn *conn, int r)
{
	const char *text = conn != NULL ? tunclient_conn_error(conn) : "";

	return text[0] != '\0' ? text : strerror(-r);
}

static int
open_connection(const char *path, struct tunclient_conn **conn)
{
	int r = tunclient_connect(path, conn);

	if (r != 0) {
		if (path == NULL)
			path = getenv(TUNCLIENT_SOCKET_ENV);
		if (path == NULL || path[0] == '\0')
			path = TUNCLIENT_DEFAULT_SOCKET;
		fail("connecting to %s: %s", path, strerror(-r));
	}
	return r;
}

static int
cmd_status(const char *socket_path, int argc, char **argv)
{
	struct tunclient_status st;
	struct tunclient_conn *conn;
	int r;

	if (argc > 1) {
		fail("status: unexpected argument \"%s\"", argv[1]);
		return EXIT_USAGE;
	}
	if (open_connection(socket_path, &conn) != 0)
		return EXIT_FAILED;
	r = tunclient_status(conn, &st);
	if (r != 0)
		fail("status: %s", conn_why(conn, r));
	else
		printf("broker %s\nprotocol %u\n", st.broker_version,
		    st.protocol_version);
	tunclient_close(conn);
	return r == 0 ? 0 : EXIT_FAILED;
}

/* Writes s as a JSON string. */
static void json_string(const char *s);

static void
print_leases(const struct tunclient_lease_info *list, size_t n, bool json)
{
	size_t i;

	if (json)
		putchar('[');
	for (i = 0; i < n; i++) {
		if (!json) {
			printf("%s %u %u\n", list[i].name, list[i].ifindex,
			    (unsigned)list[i].uid);
			continue;
		}
		printf("%s{\"name\":", i > 0 ? "," : "");
		json_string(list[i].name);
		printf(",\"ifindex\":%u,\"uid\":%u}", list[i].ifindex,
		    (unsigned)list[i].uid);
	}
	if (json)
		puts("]");
}

static int
cmd_list(const char *socket_path, int argc, char **argv)
{
	struct tunclient_lease_info *list;
	struct tunclient_conn *conn;
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	size_t n;
	int r;

	if (argc > 2 || (argc == 2 && !json)) {
		fail("list: unexpected argument \"%s\"", argv[argc - 1]);
		return EXIT_USAGE;
	}
	if (open_connection(socket_path, &conn) != 0)
		return EXIT_FAILED;
	if ((r = tunclient_list(conn, &list, &n)) != 0) {
		fail("list: %s", conn_why(conn, r));
	} else {
		print_leases(list, n, json);
		tunclient_lease_info_free(list);
		if (fflush(stdout) != 0) {
			fail("writing to standard output: %s", strerror(errno));
			r = -EIO;
		}
	}
	tunclient_close(conn);
	return r == 0 ? 0 : EXIT_FAILED;
}

static int
cmd_release(const char *socket_path, int argc, char **argv)
{
	struct tunclient_conn *conn;
	int r;

	if (argc != 2) {
		fail(argc < 2 ? "release: which device? (release NAME)" :
		    "release: unexpected argument \"%s\"", argv[argc - 1]);
		return EXIT_USAGE;
	}
	if (open_connection(socket_path, &conn) != 0)
		return EXIT_FAILED;
	if ((r = tunclient_release(conn, argv[1])) != 0)
		fail("release: %s", conn_why(conn, r));
	tunclient_close(conn);
	return r == 0 ? 0 : EXIT_FAILED;
}

/* Writes s as a JSON string. */
static void
json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* The device's options beyond addresses, as JSON members. */
static void
print_options_json(const struct tunclient_lease *lease)
{
	char text[64];
	unsigned metric, offload = tunclient_lease_offload(lease);
	uint64_t dev, ino;
	size_t i, n = 0;

	printf(",\"routes\":[");
	for (i = 0; i < tunclient_lease_route_count(lease); i++) {
		if (tunclient_lease_route(lease, i, text, sizeof(text),
		    &metric) != 0)
			continue;
		printf("%s{\"dst\":", i > 0 ? "," : "");
		json_string(text);
		printf(",\"metric\":%u}", metric);
	}
	putchar(']');
	if (tunclient_lease_mac(lease, text, sizeof(text)) == 0) {
		printf(",\"mac\":");
		json_string(text);
	}
	if (tunclient_lease_bridge(lease) != NULL) {
		printf(",\"bridge\":");
		json_string(tunclient_lease_bridge(lease));
	}
	printf(",\"queues\":%zu,\"multi_queue\":%s,\"vnet_hdr\":%u,"
	    "\"offload\":[", tunclient_lease_fd_count(lease),
	    tunclient_lease_multi_queue(lease) ? "true" : "false",
	    tunclient_lease_vnet_hdr(lease));
	for (i = 0; i < NOFFLOADS; i++) {
		if (offload & offload_names[i].bit) {
			printf("%s", n++ > 0 ? "," : "");
			json_string(offload_names[i].name);
		}
	}
	printf("],\"txqueuelen\":%u", tunclient_lease_txqueuelen(lease));
	if (tunclient_lease_netns(lease, &dev, &ino) == 0)
		printf(",\"netns\":{\"dev\":%llu,\"ino\":%llu}",
		    (unsigned long long)dev, (unsigned long long)ino);
}

static void
print_lease_json(const struct tunclient_lease *lease)
{
	char addr[64];
	size_t i;

	printf("{\"name\":");
	json_string(tunclient_lease_name(lease));
	printf(",\"type\":\"%s\",\"ifindex\":%u,\"mtu\":%u,\"addresses\":[",
	    tunclient_lease_type(lease) == TUNCLIENT_TAP ? "tap" : "tun",
	    tunclient_lease_ifindex(lease), tunclient_lease_mtu(lease));
	for (i = 0; i < tunclient_lease_address_count(lease); i++) {
		if (tunclient_lease_address(lease, i, addr, sizeof(addr)) != 0)
			continue;
		if (i > 0)
			putchar(',');
		json_string(addr);
	}
	putchar(']');
	if (tunclient_lease_peer(lease, addr, sizeof(addr)) == 0) {
		printf(",\"peer\":");
		json_string(addr);
	}
	print_options_json(lease);
	printf("}\n");
}

/* Holds the device until SIGINT or SIGTERM arrives. */
static int
hold_until_signal(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigwait(&set, &sig) != 0) {
		fail("waiting for a signal: %s", strerror(errno));
		return EXIT_FAILED;
	}
	return 0;
}

/*
 * Replaces tunctl with argv[0], the lease's descriptors as fd 3 onward and
 * TUNCLIENT_IFNAME and TUNCLIENT_FDS describing them.  Returns only on
 * failure.
 */
static int
exec_with_lease(struct tunclient_lease *lease, char **argv)
{
	size_t n = tunclient_lease_fd_count(lease), i;
	int high[64];
	char fdlist[64 * 8] = "";
	size_t used = 0;
	sigset_t none;

	if (n > sizeof(high) / sizeof(high[0])) {
		fail("passing descriptors: %zu queues are more than tunctl passes",
		    n);
		return EXIT_FAILED;
	}
	/*
	 * Every descriptor out of the way of the targets 3..3+n-1 first, so
	 * that moving one into place never closes another still to move.
	 */
	for (i = 0; i < n; i++) {
		high[i] = fcntl(tunclient_lease_fd(lease, i), F_DUPFD_CLOEXEC,
		    (int)(3 + n));
		if (high[i] < 0) {
			fail("passing descriptor %zu: %s", i, strerror(errno));
			return EXIT_FAILED;
		}
	}
	for (i = 0; i < n; i++) {
		/* dup2 leaves the copy without FD_CLOEXEC: it is inherited. */
		if (dup2(high[i], (int)(3 + i)) < 0) {
			fail("passing descriptor %zu: %s", i, strerror(errno));
			return EXIT_FAILED;
		}
		used += (size_t)snprintf(fdlist + used, sizeof(fdlist) - used,
		    "%s%zu", i > 0 ? "," : "", 3 + i);
	}
	if (setenv("TUNCLIENT_IFNAME", tunclient_lease_name(lease), 1) != 0 ||
	    setenv("TUNCLIENT_FDS", fdlist, 1) != 0) {
		fail("setting the environment: %s", strerror(errno));
		return EXIT_FAILED;
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
	fail("executing %s: %s", argv[0], strerror(errno));
	return EXIT_NOEXEC;
}

/* Reads a number from min to max for option name; false if it is not one. */
static bool
parse_number(const char *name, const char *text, unsigned long min,
    unsigned long max, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' ||
	    v < min || v > max) {
		fail("request: --%s \"%s\" is not a number from %lu to %lu",
		    name, text, min, max);
		return false;
	}
	*out = (unsigned)v;
	return true;
}

/* Reads "csum,tso4,..." into bits; false, having said why, if it cannot. */
static bool
parse_offload(const char *text, unsigned *bits)
{
	const char *p = text;
	size_t i, len;

	*bits = 0;
	while (*p != '\0') {
		len = strcspn(p, ",");
		for (i = 0; i < NOFFLOADS; i++) {
			if (strlen(offload_names[i].name) == len &&
			    strncmp(p, offload_names[i].name, len) == 0)
				break;
		}
		if (i == NOFFLOADS) {
			fail("request: --offload \"%s\": \"%.*s\" is none of "
			    "csum, tso4, tso6, tso-ecn, uso4, uso6", text,
			    (int)len, p);
			return false;
		}
		*bits |= offload_names[i].bit;
		p += len;
		if (*p == ',')
			p++;
	}
	return true;
}

/* --route CIDR[,metric=N] */
static int
add_route(struct tunclient_request *req, const char *arg)
{
	char cidr[128];
	const char *comma = strchr(arg, ',');
	unsigned metric = 0;
	size_t len = comma != NULL ? (size_t)(comma - arg) : strlen(arg);

	if (len >= sizeof(cidr)) {
		fail("request: --route \"%s\" is too long", arg);
		return EXIT_USAGE;
	}
	memcpy(cidr, arg, len);
	cidr[len] = '\0';
	if (comma != NULL && (strncmp(comma + 1, "metric=", 7) != 0 ||
	    !parse_number("route metric", comma + 8, 0, UINT32_MAX, &metric))) {
		if (strncmp(comma + 1, "metric=", 7) != 0)
			fail("request: --route \"%s\": after the network only "
			    ",metric=N may follow", arg);
		return EXIT_USAGE;
	}
	return tunclient_request_add_route(req, cidr, metric);
}

/* --netns PATH, or self for the caller's own namespace. */
static int
set_netns(struct tunclient_request *req, const char *path)
{
	const char *file = strcmp(path, "self") == 0 ? "/proc/self/ns/net" :
	    path;
	int fd, r;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		fail("request: --netns %s: %s", file, strerror(errno));
		return EXIT_USAGE;
	}
	r = tunclient_request_set_netns_fd(req, fd);
	close(fd);
	return r;
}

/* --address CIDR, auto or auto6 */
static int
add_address(struct tunclient_request *req, const char *arg)
{
	if (strcmp(arg, "auto") == 0)
		return tunclient_request_add_auto_address(req, AF_INET);
	if (strcmp(arg, "auto6") == 0)
		return tunclient_request_add_auto_address(req, AF_INET6);
	return tunclient_request_add_address(req, arg);
}

/* Parses request's options into req and o; returns 0 or an exit status. */
static int
parse_request(int argc, char **argv, struct tunclient_request *req,
    struct request_options *o)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "address", required_argument, NULL, 'a' },
		{ "peer", required_argument, NULL, 'p' },
		{ "mtu", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "exec", no_argument, NULL, 'e' },
		{ "tap", no_argument, NULL, 'T' },
		{ "mac", required_argument, NULL, 'M' },
		{ "route", required_argument, NULL, 'r' },
		{ "bridge", required_argument, NULL, 'b' },
		{ "queues", required_argument, NULL, 'q' },
		{ "vnet-hdr", optional_argument, NULL, 'v' },
		{ "offload", required_argument, NULL, 'o' },
		{ "txqueuelen", required_argument, NULL, 't' },
		{ "netns", required_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned n;
	int c, r = 0;

	optind = 0;	/* glibc: start afresh after main's own parse */
	while ((c = getopt_long(argc, argv, "+n:a:p:m:je", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'n':
			r = tunclient_request_set_name(req, optarg);
			break;
		case 'a':
			r = add_address(req, optarg);
			break;
		case 'p':
			r = tunclient_request_set_peer(req, optarg);
			break;
		case 'm':
			if (!parse_number("mtu", optarg, 68, 65535, &n))
				return EXIT_USAGE;
			r = tunclient_request_set_mtu(req, n);
			break;
		case 'T':
			r = tunclient_request_set_type(req, TUNCLIENT_TAP);
			break;
		case 'M':
			r = tunclient_request_set_mac(req, optarg);
			break;
		case 'r':
			if ((r = add_route(req, optarg)) == EXIT_USAGE)
				return EXIT_USAGE;
			break;
		case 'b':
			r = tunclient_request_set_bridge(req, optarg);
			break;
		case 'q':
			if (!parse_number("queues", optarg, 1,
			    TUNCLIENT_MAX_QUEUES, &n))
				return EXIT_USAGE;
			r = tunclient_request_set_queues(req, n);
			break;
		case 'v':
			n = 10;
			if (optarg != NULL &&
			    !parse_number("vnet-hdr", optarg, 10, 12, &n))
				return EXIT_USAGE;
			r = tunclient_request_set_vnet_hdr(req, n);
			o->vnet_hdr = true;
			break;
		case 'o':
			if (!parse_offload(optarg, &n))
				return EXIT_USAGE;
			r = tunclient_request_set_offload(req, n);
			o->offload = n != 0;
			break;
		case 't':
			if (!parse_number("txqueuelen", optarg, 1, 65536, &n))
				return EXIT_USAGE;
			r = tunclient_request_set_txqueuelen(req, n);
			break;
		case 'N':
			if ((r = set_netns(req, optarg)) == EXIT_USAGE)
				return EXIT_USAGE;
			break;
		case 'j':
			o->json = true;
			break;
		case 'e':
			if (optind < argc && strcmp(argv[optind], "--") == 0)
				optind++;
			if (optind >= argc) {
				fail("request: --exec needs a program");
				return EXIT_USAGE;
			}
			o->exec_argv = argv + optind;
			return 0;
		default:
			return EXIT_USAGE;
		}
		if (r != 0) {
			fail("request: %s", tunclient_request_error(req));
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fail("request: unexpected argument \"%s\"", argv[optind]);
		return EXIT_USAGE;
	}
	return 0;
}

/* Checks what the options mean together, once all are known. */
static int
check_request_options(const struct request_options *o)
{
	if (o->json && o->exec_argv != NULL) {
		fail("request: --json describes a device tunctl holds; with --exec the program holds it");
		return EXIT_USAGE;
	}
	/* The broker would refuse it too, but this is a usage error. */
	if (o->offload && !o->vnet_hdr) {
		fail("request: --offload needs --vnet-hdr: without the header no offload can be described");
		return EXIT_USAGE;
	}
	return 0;
}

static int
cmd_request(const char *socket_path, int argc, char **argv)
{
	struct request_options o = { .json = false };
	struct tunclient_request *req = NULL;
	struct tunclient_lease *lease = NULL;
	struct tunclient_conn *conn = NULL;
	sigset_t stop;
	int r, status = EXIT_FAILED;

	if (tunclient_request_new(&req) != 0) {
		fail("request: out of memory");
		return EXIT_FAILED;
	}
	if ((status = parse_request(argc, argv, req, &o)) != 0 ||
	    (status = check_request_options(&o)) != 0)
		goto out;
	status = EXIT_FAILED;
	/* Blocked now so that a signal during the request is not lost. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	if (open_connection(socket_path, &conn) != 0)
		goto out;
	if ((r = tunclient_request(conn, req, &lease)) != 0) {
		fail("request: %s", conn_why(conn, r));
		goto out;
	}
	tunclient_close(conn);
	conn = NULL;

	if (o.exec_argv != NULL) {
		status = exec_with_lease(lease, o.exec_argv);
		goto out;
	}
	if (o.json)
		print_lease_json(lease);
	else
		printf("%s\n", tunclient_lease_name(lease));
	if (fflush(stdout) != 0) {
		fail("writing to standard output: %s", strerror(errno));
		goto out;
	}
	status = hold_until_signal();
out:
	tunclient_lease_free(lease);
	tunclient_close(conn);
	tunclient_request_free(req);
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "+s:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("tunctl %s (libtunclient %s)\n", PACKAGE_VERSION,
			    tunclient_version());
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fail("no command given (request, status, list or release)");
		usage(stderr);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "request") == 0)
		return cmd_request(socket_path, argc, argv);
	if (strcmp(argv[0], "status") == 0)
		return cmd_status(socket_path, argc, argv);
	if (strcmp(argv[0], "list") == 0)
		return cmd_list(socket_path, argc, argv);
	if (strcmp(argv[0], "release") == 0)
		return cmd_release(socket_path, argc, argv);
	fail("unknown command \"%s\" (request, status, list or release)",
	    argv[0]);
	usage(stderr);
	return EXIT_USAGE;
}
