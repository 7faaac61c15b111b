/*
 * bench/scale: how the broker behaves as leases pile up.  In one run:
 * grant latency (p50, p99) and the broker's resident memory with 0, 1,000
 * and 10,000 live leases; the time to RELEASE 1,000 leases at once; and,
 * as the baseline the broker avoids, the kernel's own "%d" name scan
 * (TUNSETIFF "tst%d" done in-process) with the same numbers of interfaces
 * present.  See bench/RESULTS.md.
 *
 * Runs as root in a network namespace of its own and starts its own
 * tunbrokerd (argv[1], else $TUNBROKERD, else ./tunbrokerd) with a
 * configuration that serves uid 0: the benchmark is its only client and
 * runs as root, so the leases are root's and the quotas are raised to
 * allow 11,000 of them.
 *
 * Usage: scale [--ipv6-off] [--releases-only] [TUNBROKERD]; --ipv6-off
 * sets net.ipv6.conf.default.disable_ipv6 in the benchmark's namespace,
 * since the kernel's IPv6 set-up of each new device costs time linear in
 * the number of devices (see the main program's comment);
 * --releases-only fills straight to 10,000 leases and times only the
 * releases.  The broker's stderr goes to $SCALE_LOG if set, else nowhere.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <linux/if_tun.h>
#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "fdpass.h"
#include "tunclient.h"

#define GRANTS		200	/* timed grants per phase */
#define KERNEL_CREATES	50	/* timed in-process "%d" creations per phase */
#define RELEASES	1000
#define MAX_LEASES	10000
#define NOFILE		(MAX_LEASES + 2000)
/* RELEASE requests in flight at once: their replies fit the socket. */
#define RELEASE_WINDOW	128

static const unsigned phases[] = { 0, 1000, 10000 };
#define NPHASES		(sizeof(phases) / sizeof(phases[0]))

struct filler {
	char name[IFNAMSIZ];
	int fd;
};

struct phase_result {
	double grant_p50, grant_p99;	/* ms */
	double kernel_p50, kernel_p99;	/* ms */
	long rss_kib;
};

static struct filler fillers[MAX_LEASES];
static unsigned nfillers;
static unsigned address_seq;

static void
die(const char *what, int err)
{
	fprintf(stderr, "scale: %s: %s\n", what, strerror(err));
	exit(1);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-quantile of n samples, which it sorts. */
static double
quantile(double *v, size_t n, double q)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i];
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0)
		die(path, errno);
}

/* The broker's VmRSS in KiB. */
static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		die(path, errno);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* Starts tunbrokerd on socket; returns its pid once it accepts. */
static pid_t
broker_start(const char *daemon, const char *socket_path,
    const char *config_path)
{
	struct tunclient_conn *conn;
	pid_t pid;
	int i, null;

	if ((pid = fork()) < 0)
		die("fork", errno);
	if (pid == 0) {
		null = open(getenv("SCALE_LOG") ? getenv("SCALE_LOG") : "/dev/null", O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC, 0600);
		if (null < 0 || dup2(null, STDOUT_FILENO) < 0 ||
		    dup2(null, STDERR_FILENO) < 0)
			_exit(126);
		execl(daemon, daemon, "--foreground", "--socket", socket_path,
		    "--config", config_path, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 1000; i++) {
		if (tunclient_connect(socket_path, &conn) == 0) {
			tunclient_close(conn);
			return pid;
		}
		usleep(10000);
	}
	fprintf(stderr, "scale: %s did not listen on %s within 10 s\n",
	    daemon, socket_path);
	exit(1);
}

/*
 * One grant through conn: a TUN with one IPv4 /32 (when with_address) or
 * none, named by the broker from its default template.  Returns the
 * lease; exits on failure.
 */
static struct tunclient_lease *
grant(struct tunclient_conn *conn, int with_address)
{
	struct tunclient_request *req;
	struct tunclient_lease *lease;
	char cidr[32];
	unsigned n;
	int r;

	if ((r = tunclient_request_new(&req)) != 0)
		die("tunclient_request_new", -r);
	if (with_address) {
		/* 198.18.0.0/15 holds 131,072 addresses; skip .0. */
		n = ++address_seq;
		snprintf(cidr, sizeof(cidr), "198.%u.%u.%u/32",
		    18 + ((n >> 16) & 1), (n >> 8) & 0xff, n & 0xff);
		if ((r = tunclient_request_add_address(req, cidr)) != 0)
			die(cidr, -r);
	}
	if ((r = tunclient_request(conn, req, &lease)) != 0) {
		fprintf(stderr, "scale: request: %s\n",
		    tunclient_conn_error(conn));
		exit(1);
	}
	tunclient_request_free(req);
	return lease;
}

/* Brings the number of live leases the benchmark holds up to target. */
static void
fill_to(struct tunclient_conn *conn, unsigned target)
{
	struct tunclient_lease *lease;
	struct filler *f;

	while (nfillers < target) {
		lease = grant(conn, 0);
		f = &fillers[nfillers++];
		snprintf(f->name, sizeof(f->name), "%s",
		    tunclient_lease_name(lease));
		f->fd = tunclient_lease_take_fd(lease, 0);
		tunclient_lease_free(lease);
	}
}

/*
 * Times GRANTS sequential grants on one connection; each lease's fd is
 * closed at once so the number of live leases stays as it is (the device
 * goes with its last close), and waits until the devices are gone.
 */
static void
time_grants(struct tunclient_conn *conn, struct phase_result *res)
{
	static char granted[GRANTS][IFNAMSIZ];
	struct tunclient_lease *lease;
	double t[GRANTS], t0;
	size_t i;

	for (i = 0; i < GRANTS; i++) {
		t0 = now_ms();
		lease = grant(conn, 1);
		t[i] = now_ms() - t0;
		snprintf(granted[i], IFNAMSIZ, "%s",
		    tunclient_lease_name(lease));
		tunclient_lease_free(lease);
	}
	res->grant_p50 = quantile(t, GRANTS, 0.5);
	res->grant_p99 = quantile(t, GRANTS, 0.99);
	/*
	 * Whoever closes a device last tears it down, often the broker's
	 * closer thread, at tens of ms each with thousands of devices:
	 * what comes next is not timed until they are all gone.
	 */
	t0 = now_ms();
	for (i = 0; i < GRANTS; i++) {
		while (if_nametoindex(granted[i]) != 0 &&
		    now_ms() - t0 < 60000)
			usleep(10000);
	}
}

/*
 * Times KERNEL_CREATES in-process TUNSETIFF calls with the template
 * "tst%d": the kernel's dev_alloc_name walks every interface each time.
 * The fds are closed only after the timing (a last close blocks).
 */
static void
time_kernel_template(struct phase_result *res)
{
	double t[KERNEL_CREATES], t0;
	int fds[KERNEL_CREATES];
	struct ifreq ifr;
	size_t i;

	for (i = 0; i < KERNEL_CREATES; i++) {
		if ((fds[i] = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0)
			die("/dev/net/tun", errno);
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "tst%%d");
		ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL);
		t0 = now_ms();
		if (ioctl(fds[i], TUNSETIFF, &ifr) < 0)
			die("TUNSETIFF tst%d", errno);
		t[i] = now_ms() - t0;
	}
	for (i = 0; i < KERNEL_CREATES; i++)
		close(fds[i]);
	res->kernel_p50 = quantile(t, KERNEL_CREATES, 0.5);
	res->kernel_p99 = quantile(t, KERNEL_CREATES, 0.99);
}

/*
 * RELEASEs the fillers [first, last) over one connection of its own,
 * RELEASE_WINDOW requests in flight at a time (the protocol lets a client
 * send ahead and match replies by sequence number).  Returns when every
 * reply is in; exits on any refusal.
 */
static void
release_pipelined(const char *socket_path, unsigned first, unsigned last)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	static uint8_t buf[TB_MSG_MAX_SIZE];
	int fds[TB_MSG_MAX_FDS];
	struct tb_builder b;
	struct tb_error err;
	struct tb_msg msg;
	unsigned next = first, done = 0;
	size_t nfds;
	ssize_t n;
	int sock, r;

	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", socket_path);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sun,
	    sizeof(sun)) != 0)
		die("connecting for releases", errno);
	while (done < last - first) {
		while (next < last && next - first - done < RELEASE_WINDOW) {
			if ((r = tb_encode_release(&b, TB_MSG_RELEASE,
			    next + 1, fillers[next].name)) != 0 ||
			    (r = tb_send(sock, b.buf, b.len, NULL, 0)) != 0)
				die("sending RELEASE", -r);
			tb_builder_release(&b);
			next++;
		}
		n = tb_recv(sock, buf, sizeof(buf), fds, &nfds, &err);
		if (n <= 0)
			die("reading RELEASED", n == 0 ? ECONNRESET : (int)-n);
		tb_close_fds(fds, nfds);
		if (tb_msg_parse(&msg, buf, (size_t)n, nfds, &err) != 0)
			die("parsing RELEASED", -err.code);
		if (msg.hdr.type != TB_MSG_RELEASED) {
			if (tb_decode_error(&msg, &err) == 0)
				fprintf(stderr, "scale: release seq %u: %s\n",
				    msg.hdr.seq, err.text);
			exit(1);
		}
		done++;
	}
	close(sock);
}

/* How many of the fillers [first, last) the kernel still has. */
static unsigned
count_present(unsigned first, unsigned last)
{
	unsigned i, left = 0;

	for (i = first; i < last; i++)
		left += if_nametoindex(fillers[i].name) != 0;
	return left;
}

/*
 * RELEASEs the last RELEASES filler leases at once (pipelined on one
 * connection) and returns the ms until every RELEASED is in; *present
 * gets how many of the devices the kernel still had right then, and
 * *gone_ms the ms until it had none.
 */
static double
time_releases(const char *socket_path, unsigned *present, double *gone_ms)
{
	unsigned first = nfillers - RELEASES, i, left;
	double t0 = now_ms(), replied;

	release_pipelined(socket_path, first, nfillers);
	replied = now_ms() - t0;
	*present = left = count_present(first, nfillers);
	while (left != 0 && now_ms() - t0 < 60000)
		left = count_present(first, nfillers);
	*gone_ms = now_ms() - t0;
	if (left != 0)
		fprintf(stderr, "scale: %u devices still there after 60 s\n",
		    left);
	for (i = first; i < nfillers; i++)
		close(fillers[i].fd);
	nfillers = first;
	return replied;
}

/*
 * Deletes what is left through the broker, outside any timing: closing
 * thousands of device descriptors one by one would wait out an RCU grace
 * period each (minutes), where the broker deletes them a group at a time.
 */
static void
release_the_rest(const char *socket_path)
{
	unsigned i;

	release_pipelined(socket_path, 0, nfillers);
	for (i = 0; i < nfillers; i++)
		close(fillers[i].fd);
	nfillers = 0;
}

int
main(int argc, char **argv)
{
	const char *daemon = NULL;
	struct rlimit rl = { NOFILE, NOFILE };
	struct phase_result res[NPHASES];
	struct tunclient_conn *conn;
	char dir[] = "/tmp/tunbroker-scale.XXXXXX";
	char socket_path[128], config_path[128], config[512];
	double release_ms, gone_ms;
	unsigned present;
	int ipv6_off = 0, releases_only = 0, r, status, i;
	pid_t broker;
	size_t p;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ipv6-off") == 0)
			ipv6_off = 1;
		else if (strcmp(argv[i], "--releases-only") == 0)
			releases_only = 1;
		else
			daemon = argv[i];
	}
	if (daemon == NULL)
		daemon = getenv("TUNBROKERD");
	if (daemon == NULL || daemon[0] == '\0')
		daemon = "./tunbrokerd";
	if (geteuid() != 0) {
		fprintf(stderr, "scale: needs root (a namespace of its own, "
		    "and 10,000 devices)\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) != 0)
		die("unshare(CLONE_NEWNET)", errno);
	/*
	 * Bringing a device up with IPv6 on adds its fe80::/64 and ff00::/8
	 * routes, and the kernel's IPv6 routing code walks every device's
	 * routes to do it: a cost that grows with the number of devices
	 * whoever creates them.  --ipv6-off takes it out of the measurement.
	 */
	if (ipv6_off)
		write_text("/proc/sys/net/ipv6/conf/default/disable_ipv6",
		    "1\n");
	/* Inherited by the broker through exec. */
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("setrlimit(RLIMIT_NOFILE)", errno);
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", errno);
	snprintf(socket_path, sizeof(socket_path), "%s/socket", dir);
	snprintf(config_path, sizeof(config_path), "%s/tunbrokerd.conf", dir);
	snprintf(config, sizeof(config),
	    "[socket]\nmode = 0600\n\n[limits]\ndevices-per-user = %u\n\n"
	    "[rule bench]\nusers = 0\naddresses = 198.18.0.0/15\n"
	    "max-devices = %u\n", MAX_LEASES + 1000, MAX_LEASES + 1000);
	write_text(config_path, config);

	broker = broker_start(daemon, socket_path, config_path);
	if ((r = tunclient_connect(socket_path, &conn)) != 0)
		die("connect", -r);

	for (p = 0; p < NPHASES && !releases_only; p++) {
		fill_to(conn, phases[p]);
		/* Let the deletions of the previous phase settle. */
		usleep(200000);
		time_kernel_template(&res[p]);
		time_grants(conn, &res[p]);
		usleep(200000);
		res[p].rss_kib = rss_kib(broker);
	}
	fill_to(conn, MAX_LEASES);
	usleep(200000);
	release_ms = time_releases(socket_path, &present, &gone_ms);

	printf("IPv6 on new devices: %s\n", ipv6_off ? "off" : "on");
	if (!releases_only) {
		printf("live leases  broker p50 ms  p99 ms  x@0    kernel %%d "
		    "p50 ms  p99 ms  x@0    broker RSS KiB\n");
		for (p = 0; p < NPHASES; p++)
			printf("%11u  %13.3f  %6.3f  %5.2f  %16.3f  %6.3f  "
			    "%5.2f  %14ld\n", phases[p], res[p].grant_p50,
			    res[p].grant_p99,
			    res[p].grant_p50 / res[0].grant_p50,
			    res[p].kernel_p50, res[p].kernel_p99,
			    res[p].kernel_p50 / res[0].kernel_p50,
			    res[p].rss_kib);
		printf("memory per lease: %.0f bytes ((RSS@%u - RSS@0) / "
		    "%u)\n", (double)(res[NPHASES - 1].rss_kib -
		    res[0].rss_kib) * 1024.0 / MAX_LEASES, MAX_LEASES,
		    MAX_LEASES);
	}
	printf("release %u of %u leases at once (RELEASE pipelined on one "
	    "connection, %u in flight): every RELEASED in %.0f ms; devices "
	    "still present then: %u; none left after %.0f ms\n", RELEASES,
	    MAX_LEASES, RELEASE_WINDOW, release_ms, present, gone_ms);
	printf("targets: ");
	if (!releases_only)
		printf("p50@10k <= 2x p50@0: %s; memory per lease < 1 KiB: "
		    "%s; ", res[NPHASES - 1].grant_p50 <= 2 *
		    res[0].grant_p50 ? "met" : "MISSED",
		    (res[NPHASES - 1].rss_kib - res[0].rss_kib) * 1024 <
		    1024L * MAX_LEASES ? "met" : "MISSED");
	printf("%u releases < 2 s: %s\n", RELEASES,
	    gone_ms < 2000 ? "met" : "MISSED");

	release_the_rest(socket_path);
	tunclient_close(conn);
	kill(broker, SIGTERM);
	waitpid(broker, &status, 0);
	/* The namespace and the devices in it go when we exit. */
	unlink(config_path);
	unlink(socket_path);
	rmdir(dir);
	return 0;
}
