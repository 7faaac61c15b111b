/*
 * Hostile clients against a live broker in a fresh network namespace:
 * random bytes, malformed, truncated and oversized messages, descriptors
 * where none belong, floods of idle and short-lived connections, a client
 * that stalls and one that never reads.  Throughout each case an
 * unprivileged, well-behaved client keeps asking for devices: it must be
 * served every time and quickly, and afterwards the broker must hold no
 * more descriptors, memory or devices than before the abuse.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "fdpass.h"
#include "testlib.h"
#include "tunclient.h"

#define ALLOW_NOBODY		"users = 65534\n"
/* What the well-behaved client must see in every case. */
#define MIN_REQUESTS		20
#define SLOWEST_ALLOWED_US	(100 * 1000)
/* The broker's default [limits] connections-per-user. */
#define CONNECTIONS_PER_USER	16
/* Growth of the broker's resident memory we tolerate, in kB. */
#define RSS_SLACK_KB		2048
/* The fixed seed of every pseudo-random choice. */
#define SEED			0x74756e62u	/* "tunb" */

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* splitmix64: the same sequence on every libc. */
static uint64_t
rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static unsigned
rng_below(uint64_t *state, unsigned n)
{
	return (unsigned)(rng_next(state) % n);
}

/*
 * ---------------------------------------------------------------------
 * The well-behaved client: a child running as TESTLIB_UID that requests,
 * checks and closes devices until told to stop, with its tally in memory
 * shared with the test.
 * ---------------------------------------------------------------------
 */

/* Request latencies by upper bound in ms; the last bucket is the rest. */
static const unsigned latency_bucket_ms[] = { 1, 2, 5, 10, 20, 50, 100 };
#define NBUCKETS \
	(sizeof(latency_bucket_ms) / sizeof(latency_bucket_ms[0]) + 1)

struct client_stats {
	int stop;			/* set by the test */
	unsigned requests;		/* served and checked */
	unsigned failures;
	uint64_t max_us;
	unsigned histogram[NBUCKETS];
	char first_failure[256];
};

struct well_behaved {
	struct client_stats *stats;	/* MAP_SHARED with the child */
	pid_t pid;
};

/*
 * Connects, asks for a TUN device with 198.18.N.1/24, and checks with
 * TUNGETIFF that the descriptor received is that device.  *us is the time
 * from connecting to holding the lease.  0 with the lease in *out, or -1
 * with the reason in why.
 */
static int
request_one_device(const char *socket_path, unsigned n, uint64_t *us,
    struct tunclient_lease **out, char *why, size_t whysize)
{
	struct tunclient_request *req = NULL;
	struct tunclient_conn *conn = NULL;
	struct tunclient_lease *lease = NULL;
	struct ifreq ifr;
	char cidr[32];
	uint64_t start;
	int fd, r, ok = -1;

	snprintf(cidr, sizeof(cidr), "198.18.%u.1/24", n % 256);
	if ((r = tunclient_request_new(&req)) != 0 ||
	    (r = tunclient_request_add_address(req, cidr)) != 0) {
		snprintf(why, whysize, "building the request: %s",
		    strerror(-r));
		goto out;
	}
	start = now_us();
	if ((r = tunclient_connect(socket_path, &conn)) != 0) {
		snprintf(why, whysize, "request %u: connect: %s", n,
		    strerror(-r));
		goto out;
	}
	if ((r = tunclient_request(conn, req, &lease)) != 0) {
		snprintf(why, whysize, "request %u (%s): %d %s", n, cidr, r,
		    tunclient_conn_error(conn));
		goto out;
	}
	*us = now_us() - start;
	fd = tunclient_lease_fd(lease, 0);
	memset(&ifr, 0, sizeof(ifr));
	if (fd < 0 || ioctl(fd, TUNGETIFF, &ifr) < 0) {
		snprintf(why, whysize, "request %u: TUNGETIFF on fd %d: %s", n,
		    fd, strerror(errno));
		goto out;
	}
	if (strcmp(ifr.ifr_name, tunclient_lease_name(lease)) != 0 ||
	    !(ifr.ifr_flags & IFF_TUN)) {
		snprintf(why, whysize, "request %u: the fd is %s (flags 0x%x), "
		    "the lease says %s", n, ifr.ifr_name,
		    (unsigned)ifr.ifr_flags, tunclient_lease_name(lease));
		goto out;
	}
	ok = 0;
	*out = lease;
	lease = NULL;
out:
	tunclient_lease_free(lease);
	tunclient_close(conn);
	tunclient_request_free(req);
	return ok;
}

static void
client_record(struct client_stats *st, int ok, uint64_t us, const char *why)
{
	size_t i;

	if (ok != 0) {
		if (__atomic_fetch_add(&st->failures, 1, __ATOMIC_RELAXED) == 0)
			snprintf(st->first_failure, sizeof(st->first_failure),
			    "%s", why);
		return;
	}
	for (i = 0; i < NBUCKETS - 1; i++) {
		if (us < latency_bucket_ms[i] * 1000u)
			break;
	}
	st->histogram[i]++;
	if (us > st->max_us)
		st->max_us = us;
	__atomic_fetch_add(&st->requests, 1, __ATOMIC_RELEASE);
}

/*
 * Starts the client; it stops after limit requests (0: when told).  Its
 * pace leaves the 2-core CI machines room for the broker and the abuse.
 * It holds each device until it has the next one, as a real client would
 * hold a device while using it: by then the broker has long closed its
 * copy of the descriptor, and the device's teardown happens in the
 * client's own close().
 */
static void
client_start(struct well_behaved *c, const char *socket_path, unsigned limit)
{
	c->stats = mmap(NULL, sizeof(*c->stats), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(c->stats, MAP_FAILED);
	memset(c->stats, 0, sizeof(*c->stats));
	fflush(NULL);
	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		struct client_stats *st = c->stats;
		struct tunclient_lease *held = NULL, *lease;
		char why[256] = "";
		uint64_t us = 0;
		unsigned n;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setgroups(0, NULL) != 0 ||
		    setresgid(TESTLIB_GID, TESTLIB_GID, TESTLIB_GID) != 0 ||
		    setresuid(TESTLIB_UID, TESTLIB_UID, TESTLIB_UID) != 0)
			_exit(125);
		for (n = 0; n < 100000 && (limit == 0 || n < limit) &&
		    !__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE); n++) {
			int ok = request_one_device(socket_path, n, &us,
			    &lease, why, sizeof(why));

			client_record(st, ok, us, why);
			if (ok == 0) {
				tunclient_lease_free(held);
				held = lease;
			}
			usleep(1000);
		}
		tunclient_lease_free(held);
		_exit(0);
	}
}

static unsigned
client_requests(const struct well_behaved *c)
{
	return __atomic_load_n(&c->stats->requests, __ATOMIC_ACQUIRE);
}

/*
 * Waits for the child to exit, after telling it to stop or, for one with
 * a limit, on its own; 20 s at most.
 */
static void
client_join(struct well_behaved *c, bool tell_to_stop)
{
	int i, status = 0;
	pid_t done = 0;

	if (tell_to_stop)
		__atomic_store_n(&c->stats->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 2000 && done == 0; i++) {
		done = waitpid(c->pid, &status, WNOHANG);
		if (done == 0)
			usleep(10 * 1000);
	}
	if (done == 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &status, 0);
		ck_abort_msg("the well-behaved client did not stop within 20 s "
		    "(%u requests so far)", client_requests(c));
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the well-behaved client ended with status 0x%x", status);
}

static void
client_free(struct well_behaved *c)
{
	munmap(c->stats, sizeof(*c->stats));
	c->stats = NULL;
}

/* Waits until the client has been served n times in all; 20 s at most. */
static void
client_wait_requests(const struct well_behaved *c, unsigned n)
{
	int i;

	for (i = 0; i < 2000 && client_requests(c) < n &&
	    c->stats->failures == 0; i++)
		usleep(10 * 1000);
	ck_assert_msg(c->stats->failures == 0,
	    "the well-behaved client was refused: %s",
	    c->stats->first_failure);
	ck_assert_msg(client_requests(c) >= n,
	    "the well-behaved client made only %u of %u requests in 20 s",
	    client_requests(c), n);
}

/*
 * ---------------------------------------------------------------------
 * The broker under test and what it holds
 * ---------------------------------------------------------------------
 */

/* The broker's resident memory, in kB. */
static long
broker_rss_kb(pid_t pid)
{
	char path[64], *text, *line;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = testlib_read_file(path);
	ck_assert_ptr_nonnull(text);
	line = strstr(text, "\nVmRSS:");
	if (line != NULL)
		kb = strtol(line + strlen("\nVmRSS:"), NULL, 10);
	free(text);
	ck_assert_int_gt(kb, 0);
	return kb;
}

/* The names of the links in this namespace other than lo, comma-separated. */
static void
extra_links(char *buf, size_t size)
{
	DIR *dir = opendir("/sys/class/net");
	struct dirent *d;
	size_t used = 0;

	ck_assert_ptr_nonnull(dir);
	buf[0] = '\0';
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || strcmp(d->d_name, "lo") == 0)
			continue;
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
		    used > 0 ? "," : "", d->d_name);
		if (used >= size)
			break;
	}
	closedir(dir);
}

/*
 * The broker's descriptors once it has let go of connections that are
 * closing (its own start-up probe, a client that just left): the same
 * count five times over 100 ms, within 2 s.
 */
static int
broker_settled_fds(pid_t pid)
{
	int i, same = 0, last = -1, n;

	for (i = 0; i < 100 && same < 5; i++) {
		n = testlib_count_fds(pid);
		same = n == last ? same + 1 : 1;
		last = n;
		usleep(20 * 1000);
	}
	ck_assert_msg(same >= 5, "the broker's descriptors do not settle");
	return last;
}

struct abuse {
	const char *name;
	struct testlib_broker b;
	struct well_behaved client;
	int fds_before;
	long rss_before_kb;
	unsigned requests_before;	/* when the abuse began */
	unsigned rounds;
};

/* Starts a broker configured with config (NULL: testlib's, for nobody). */
static void
broker_start(struct testlib_broker *b, const char *config)
{
	if (config == NULL)
		testlib_broker_start(b, ALLOW_NOBODY);
	else
		testlib_broker_start_config(b, config);
}

/*
 * Enters a namespace, starts a broker, warms it up with a few requests,
 * records its descriptors and memory, and starts the well-behaved client.
 */
static void
abuse_begin(struct abuse *a, const char *name, const char *config)
{
	const char *old = getenv("ASAN_OPTIONS");
	struct well_behaved warmup;
	struct rlimit rl;
	char *opts;
	int i, fds;

	memset(a, 0, sizeof(*a));
	a->name = name;
	testlib_enter_netns();
	/*
	 * Freed memory must be reusable at once for the RSS comparison: no
	 * quarantine, not even the 1 MB thread-local one that ASan keeps
	 * with quarantine_size_mb=0 alone.
	 */
	ck_assert_int_ge(asprintf(&opts, "%s%squarantine_size_mb=0:"
	    "thread_local_quarantine_size_kb=0:detect_leaks=1",
	    old != NULL ? old : "", old != NULL && *old != '\0' ? ":" : ""), 0);
	setenv("ASAN_OPTIONS", opts, 1);
	free(opts);
	/* Room for a thousand connections and a hundred pipes. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 4096 && rl.rlim_max > rl.rlim_cur) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	ck_assert_msg(rl.rlim_cur >= 1400, "RLIMIT_NOFILE %lu is too low",
	    (unsigned long)rl.rlim_cur);

	broker_start(&a->b, config);
	a->fds_before = broker_settled_fds(a->b.pid);
	client_start(&warmup, a->b.socket_path, 10);
	client_join(&warmup, false);
	ck_assert_msg(warmup.stats->failures == 0 &&
	    warmup.stats->requests == 10, "warm-up: %u served, %u failed: %s",
	    warmup.stats->requests, warmup.stats->failures,
	    warmup.stats->first_failure);
	client_free(&warmup);
	for (i = 0; i < 2000; i++) {	/* up to 20 s, as in abuse_end() */
		if ((fds = testlib_count_fds(a->b.pid)) == a->fds_before)
			break;
		usleep(10 * 1000);
	}
	ck_assert_msg(fds == a->fds_before,
	    "the broker holds %d descriptors after the warm-up, %d before",
	    fds, a->fds_before);
	a->rss_before_kb = broker_rss_kb(a->b.pid);

	client_start(&a->client, a->b.socket_path, 0);
	client_wait_requests(&a->client, 2);
	a->requests_before = client_requests(&a->client);
}

/*
 * Runs round(a, n) for n = 0, 1, ... until the well-behaved client has
 * been served MIN_REQUESTS times since the abuse began (at least once,
 * at most max_rounds times), so the two overlap however short one round
 * is.
 */
static void
abuse_run(struct abuse *a, void (*round)(struct abuse *, unsigned),
    unsigned max_rounds)
{
	do {
		round(a, a->rounds++);
	} while (a->rounds < max_rounds &&
	    client_requests(&a->client) - a->requests_before < MIN_REQUESTS);
}

/*
 * Stops the client and checks everything the issue promises: every
 * request served, none slow, and the broker alive, clean and back to the
 * descriptors, memory and devices it had.
 */
static void
abuse_end(struct abuse *a)
{
	struct client_stats *st = a->client.stats;
	char hist[256], links[256], *log;
	long rss = 0;
	size_t i, used = 0;
	int fds = 0, tries;

	client_wait_requests(&a->client, a->requests_before + MIN_REQUESTS);
	client_join(&a->client, true);
	for (i = 0; i < NBUCKETS; i++) {
		if (i < NBUCKETS - 1)
			used += (size_t)snprintf(hist + used,
			    sizeof(hist) - used, "<%ums:%u ",
			    latency_bucket_ms[i], st->histogram[i]);
		else
			snprintf(hist + used, sizeof(hist) - used, ">=100ms:%u",
			    st->histogram[i]);
	}
	ck_assert_msg(testlib_broker_alive(&a->b),
	    "%s: the broker died; its log:\n%s", a->name,
	    testlib_read_file(a->b.log_path));

	/*
	 * Closing is asynchronous, and the kernel's teardown waits for the
	 * rtnl lock, which other namespaces' cleanup can hold for seconds on
	 * a busy machine: give the broker up to 20 s to let go.
	 */
	for (tries = 0; tries < 2000; tries++) {
		fds = testlib_count_fds(a->b.pid);
		rss = broker_rss_kb(a->b.pid);
		extra_links(links, sizeof(links));
		if (fds == a->fds_before &&
		    rss <= a->rss_before_kb + RSS_SLACK_KB && links[0] == '\0')
			break;
		usleep(10 * 1000);
	}
	fprintf(stderr, "# %s: %u rounds; client: %u requests, %u failed, "
	    "slowest %.1f ms [%s]; broker fds %d -> %d, VmRSS %ld -> %ld kB\n",
	    a->name, a->rounds, st->requests, st->failures,
	    (double)st->max_us / 1000.0, hist, a->fds_before, fds,
	    a->rss_before_kb, rss);

	ck_assert_msg(st->failures == 0, "%s: %u requests failed, first: %s",
	    a->name, st->failures, st->first_failure);
	ck_assert_msg(st->requests >= MIN_REQUESTS, "%s: only %u requests",
	    a->name, st->requests);
	ck_assert_msg(st->max_us < SLOWEST_ALLOWED_US,
	    "%s: the slowest request took %.1f ms [%s]", a->name,
	    (double)st->max_us / 1000.0, hist);
	ck_assert_msg(fds == a->fds_before,
	    "%s: the broker holds %d descriptors, %d before", a->name, fds,
	    a->fds_before);
	ck_assert_msg(rss <= a->rss_before_kb + RSS_SLACK_KB,
	    "%s: the broker's VmRSS grew from %ld to %ld kB", a->name,
	    a->rss_before_kb, rss);
	ck_assert_msg(links[0] == '\0', "%s: devices left behind: %s",
	    a->name, links);
	log = testlib_read_file(a->b.log_path);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(strstr(log, "Sanitizer") == NULL &&
	    strstr(log, "runtime error") == NULL,
	    "%s: the sanitizers spoke; the broker's log:\n%s", a->name, log);
	free(log);
	client_free(&a->client);
	testlib_broker_stop(&a->b);
}

/*
 * ---------------------------------------------------------------------
 * Raw clients, for what the library would never send
 * ---------------------------------------------------------------------
 */

/* Connects to path; a full backlog makes it fail after 5 s, not hang. */
static int
raw_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv)), 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	    "connect %s: %s", path, strerror(errno));
	return fd;
}

/* Sends one datagram with nfds descriptors (any number); 0 or -errno. */
static int
raw_send(int fd, const void *buf, size_t len, const int *fds, size_t nfds)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf,
	    .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	char *control = NULL;
	struct cmsghdr *cmsg;
	ssize_t n;

	if (nfds > 0) {
		control = calloc(1, CMSG_SPACE(sizeof(int) * nfds));
		ck_assert_ptr_nonnull(control);
		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&mh);
		ck_assert_ptr_nonnull(cmsg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	free(control);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* A reply as read by a raw client. */
struct reply {
	uint8_t buf[TB_MSG_MAX_SIZE];
	struct tb_msg msg;
	struct tb_error error;		/* for an ERROR reply */
};

/*
 * Waits up to timeout_ms for one message from the broker.  Returns 1 with
 * a reply that must parse, 0 at the end of the stream, -ECONNRESET when
 * the broker closed the connection with requests of ours unread (reported
 * once, before the replies still queued), or -ETIMEDOUT.
 */
static int
read_reply(int fd, int timeout_ms, struct reply *r)
{
	struct tb_error err = { 0 };
	int fds[TB_MSG_MAX_FDS];
	size_t nfds;
	ssize_t n;

	if (poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1,
	    timeout_ms) != 1)
		return -ETIMEDOUT;
	n = tb_recv(fd, r->buf, sizeof(r->buf), fds, &nfds, &err);
	if (n == 0 || n == -ECONNRESET)
		return (int)n;
	ck_assert_msg(n > 0, "receiving a reply: %s", err.text);
	tb_close_fds(fds, nfds);
	ck_assert_msg(tb_msg_parse(&r->msg, r->buf, (size_t)n, 0, &err) == 0,
	    "the broker sent a malformed reply: %s", err.text);
	memset(&r->error, 0, sizeof(r->error));
	if (r->msg.hdr.type == TB_MSG_ERROR)
		tb_decode_error(&r->msg, &r->error);
	return 1;
}

/* True once the broker closes fd within timeout_ms, whatever it sent. */
static bool
closed_within(int fd, int timeout_ms)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
	struct reply *r = malloc(sizeof(*r));
	int got;

	ck_assert_ptr_nonnull(r);
	do {
		int left = (int)((deadline - now_us()) / 1000u);

		got = read_reply(fd, left > 0 ? left : 0, r);
	} while (got == 1 && now_us() < deadline);
	free(r);
	return got == 0 || got == -ECONNRESET;
}

#define ANY_SEQ	UINT64_MAX

/*
 * Checks that the broker answers what was sent on fd with an ERROR
 * carrying a negative errno (and seq, unless ANY_SEQ), then closes fd.
 * Returns the errno.
 */
static int
expect_error_then_close(int fd, uint64_t seq, const char *what)
{
	struct reply *r = malloc(sizeof(*r));
	int got, code;

	ck_assert_ptr_nonnull(r);
	got = read_reply(fd, 5000, r);
	ck_assert_msg(got == 1, "%s: %s instead of an ERROR reply", what,
	    got == -ETIMEDOUT ? "no reply in 5 s" : "the connection closed");
	ck_assert_msg(r->msg.hdr.type == TB_MSG_ERROR,
	    "%s: a %s reply instead of an ERROR", what,
	    tb_msg_type_name(r->msg.hdr.type));
	ck_assert_msg(r->error.code < 0, "%s: ERROR with errno %d", what,
	    r->error.code);
	ck_assert_msg(seq == ANY_SEQ || r->msg.hdr.seq == seq,
	    "%s: the ERROR has seq %u, not %u", what, r->msg.hdr.seq,
	    (unsigned)seq);
	code = r->error.code;
	free(r);
	ck_assert_msg(closed_within(fd, 5000),
	    "%s: the connection stayed open after \"%s\"", what,
	    strerror(-code));
	return code;
}

/*
 * A message under construction with full control over every byte:
 * attribute lengths are whatever the caller says.
 */
struct raw_msg {
	uint8_t buf[4096];
	size_t len;
};

static void
raw_begin(struct raw_msg *m, uint8_t type, uint32_t seq)
{
	struct tb_header hdr = { .magic = TB_PROTO_MAGIC,
	    .version = TB_PROTO_VERSION, .type = type, .seq = seq };

	memset(m, 0, sizeof(*m));
	memcpy(m->buf, &hdr, sizeof(hdr));
	m->len = sizeof(hdr);
}

/* Appends an attribute claiming attr_len bytes, with plen bytes after it. */
static void
raw_attr_len(struct raw_msg *m, uint16_t type, uint16_t attr_len,
    const void *payload, size_t plen)
{
	struct tb_attr attr = { .len = attr_len, .type = type };

	ck_assert_uint_le(m->len + TB_ALIGN(sizeof(attr) + plen),
	    sizeof(m->buf));
	memcpy(m->buf + m->len, &attr, sizeof(attr));
	if (plen > 0)
		memcpy(m->buf + m->len + sizeof(attr), payload, plen);
	m->len += TB_ALIGN(sizeof(attr) + plen);
}

static void
raw_attr(struct raw_msg *m, uint16_t type, const void *payload, size_t plen)
{
	raw_attr_len(m, type, (uint16_t)(TB_ATTR_HEADER_SIZE + plen), payload,
	    plen);
}

static void
raw_u32(struct raw_msg *m, uint16_t type, uint32_t value)
{
	raw_attr(m, type, &value, sizeof(value));
}

static void
raw_string(struct raw_msg *m, uint16_t type, const char *s)
{
	raw_attr(m, type, s, strlen(s) + 1);
}

static void
raw_addr(struct raw_msg *m, uint16_t type, uint8_t family, uint8_t prefixlen,
    const char *bytes, size_t nbytes)
{
	struct tb_addr a = { .family = family, .prefixlen = prefixlen };

	memcpy(a.addr, bytes, nbytes);
	raw_attr(m, type, &a, sizeof(a));
}

#define V4_ADDR(a, b, c, d)	(const char[]){ a, b, c, d }, 4
#define ADDR_198_18_200_1	V4_ADDR((char)198, 18, (char)200, 1)

/* Seals the header's length to the bytes written so far. */
static void
raw_end(struct raw_msg *m)
{
	uint32_t length = (uint32_t)m->len;

	memcpy(m->buf + offsetof(struct tb_header, length), &length,
	    sizeof(length));
}

/* The attributes of a valid CREATE, without the header. */
static void
raw_create_body(struct raw_msg *m)
{
	raw_u32(m, TB_ATTR_DEVICE_TYPE, TB_DEVICE_TUN);
	raw_string(m, TB_ATTR_IFNAME, "abuse0");
	raw_addr(m, TB_ATTR_ADDRESS, AF_INET, 24, ADDR_198_18_200_1);
	raw_u32(m, TB_ATTR_MTU, 1400);
}

static void
raw_valid_create(struct raw_msg *m, uint32_t seq)
{
	raw_begin(m, TB_MSG_CREATE, seq);
	raw_create_body(m);
	raw_end(m);
}

static void
raw_set_header(struct raw_msg *m, size_t offset, const void *v, size_t n)
{
	memcpy(m->buf + offset, v, n);
}

#define SET_HEADER(m, field, value) do {				\
	__typeof__(((struct tb_header *)0)->field) v_ = (value);	\
	raw_set_header((m), offsetof(struct tb_header, field), &v_,	\
	    sizeof(v_));						\
} while (0)

/*
 * ---------------------------------------------------------------------
 * 1. Random bytes
 * ---------------------------------------------------------------------
 */

/*
 * Fills m with the next datagram of the random stream, 0 to 300 bytes:
 * half of them bytes and nothing else, the rest behind a valid header,
 * some with attributes of plausible types and lengths, some a bare
 * header of a real request type that the broker answers without hanging
 * up, so that connections get reused.
 */
static void
random_datagram(uint64_t *rng, struct raw_msg *m)
{
	struct tb_header hdr = { .magic = TB_PROTO_MAGIC,
	    .version = TB_PROTO_VERSION };
	unsigned len = rng_below(rng, 301), kind = rng_below(rng, 4), i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < len; i++)
		m->buf[i] = (uint8_t)rng_next(rng);
	m->len = len;
	if (kind < 2 || len < TB_HEADER_SIZE)
		return;
	hdr.type = (uint8_t)rng_below(rng, 128);
	if (kind == 3 && rng_below(rng, 2) == 0)
		hdr.type = (uint8_t)(TB_MSG_PING + rng_below(rng, 5));
	hdr.seq = (uint32_t)rng_next(rng);
	memcpy(m->buf, &hdr, sizeof(hdr));
	m->len = sizeof(hdr);
	if (kind == 3 && rng_below(rng, 3) == 0) {
		len = TB_HEADER_SIZE;
	} else if (kind == 3) {
		while (m->len + TB_ATTR_HEADER_SIZE <= len) {
			uint16_t type = (uint16_t)rng_below(rng, 14);
			uint16_t plen = (uint16_t)rng_below(rng, 28);
			uint8_t payload[32];

			if (rng_below(rng, 8) == 0)
				type |= TB_ATTR_F_OPTIONAL;
			for (i = 0; i < plen; i++)
				payload[i] = (uint8_t)rng_next(rng);
			if (m->len + TB_ALIGN(TB_ATTR_HEADER_SIZE + plen) > len)
				break;
			raw_attr_len(m, type, rng_below(rng, 10) == 0 ?
			    (uint16_t)rng_below(rng, 64) :
			    (uint16_t)(TB_ATTR_HEADER_SIZE + plen), payload,
			    plen);
		}
	}
	m->len = len;
	raw_end(m);
}

/* The seq a reply to m must echo: whatever sits where a header keeps it. */
static uint32_t
random_expected_seq(const struct raw_msg *m)
{
	uint32_t seq = 0;

	if (m->len >= TB_HEADER_SIZE)
		memcpy(&seq, m->buf + offsetof(struct tb_header, seq),
		    sizeof(seq));
	return seq;
}

#define RANDOM_DATAGRAMS	2000
#define BURST_MAX		5

struct random_tally {
	unsigned sent, errors, other_replies, closes, connections, bursts;
};

/*
 * Sends n datagrams of the stream on fd before reading anything, then
 * reads the replies: one for each datagram, in order, up to the first one
 * that makes the broker hang up (an ERROR, or an empty datagram, which
 * reads as the end of the stream).  Returns true if fd is still open.
 */
static bool
random_burst(int fd, uint64_t *rng, unsigned n, unsigned first,
    struct random_tally *t, struct reply *r)
{
	struct raw_msg burst[BURST_MAX];
	unsigned k, sent, expected, answered = 0;
	bool has_empty = false, last_was_error = false;
	int err, got;

	/* All drawn first, so that the stream does not depend on timing. */
	for (k = 0; k < n; k++)
		random_datagram(rng, &burst[k]);
	for (sent = 0; sent < n; sent++) {
		err = raw_send(fd, burst[sent].buf, burst[sent].len, NULL, 0);
		/* The broker may have hung up on an earlier one already. */
		if (err == -EPIPE || err == -ECONNRESET)
			break;
		ck_assert_msg(err == 0, "datagram %u: %s", first + sent,
		    strerror(-err));
	}
	t->sent += sent;
	for (expected = 0; expected < sent && burst[expected].len > 0;
	    expected++)
		;
	has_empty = expected < sent;
	for (;;) {
		if (answered == expected) {
			if (!has_empty && !last_was_error)
				return true;
			/* A refusal (LIST, CREATE from root) keeps it open. */
			if (closed_within(fd, has_empty ? 5000 : 100))
				break;
			ck_assert_msg(!has_empty, "datagram %u: an empty "
			    "datagram left the connection open",
			    first + expected);
			return true;
		}
		got = read_reply(fd, 5000, r);
		if (got == -ECONNRESET)
			continue;	/* reported once; replies may follow */
		if (got == 0) {
			ck_assert_msg(last_was_error, "datagram %u (%zu "
			    "bytes): closed without a reply", first + answered,
			    burst[answered].len);
			break;
		}
		ck_assert_msg(got == 1, "datagram %u: no reply in 5 s",
		    first + answered);
		k = answered++;
		ck_assert_msg(r->msg.hdr.seq == random_expected_seq(&burst[k]),
		    "datagram %u: reply seq %u, not %u", first + k,
		    r->msg.hdr.seq, random_expected_seq(&burst[k]));
		last_was_error = r->msg.hdr.type == TB_MSG_ERROR;
		if (last_was_error) {
			ck_assert_msg(r->error.code < 0, "datagram %u: ERROR "
			    "with errno %d", first + k, r->error.code);
			t->errors++;
		} else {
			ck_assert_msg(r->msg.hdr.type == TB_MSG_PONG ||
			    r->msg.hdr.type == TB_MSG_STATUS_REPLY ||
			    r->msg.hdr.type == TB_MSG_LEASES,
			    "datagram %u: unexpected %s reply", first + k,
			    tb_msg_type_name(r->msg.hdr.type));
			t->other_replies++;
		}
	}
	t->closes++;
	return false;
}

static void
random_round(struct abuse *a, unsigned round)
{
	uint64_t rng = SEED + round;
	struct random_tally t = { 0 };
	struct reply *r = malloc(sizeof(*r));
	unsigned i, n;
	int fd = -1;

	ck_assert_ptr_nonnull(r);
	/* Datagrams bounce off a connection the broker has hung up on. */
	for (i = 0; t.sent < RANDOM_DATAGRAMS && i < 4 * RANDOM_DATAGRAMS;
	    i += n) {
		/* One datagram, or a burst sent before reading any reply. */
		n = rng_below(&rng, 4) == 0 ? 2 + rng_below(&rng, BURST_MAX - 1)
		    : 1;
		if (n > RANDOM_DATAGRAMS - t.sent)
			n = RANDOM_DATAGRAMS - t.sent;
		t.bursts += n > 1;
		if (fd < 0) {
			fd = raw_connect(a->b.socket_path);
			t.connections++;
		}
		/* Fresh or reused, as the dice say, when there is a choice. */
		if (!random_burst(fd, &rng, n, i, &t, r) ||
		    rng_below(&rng, 2) == 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	free(r);
	ck_assert_uint_eq(t.sent, RANDOM_DATAGRAMS);
	if (round == 0)
		fprintf(stderr, "# random bytes: %u datagrams (%u bursts) sent "
		    "on %u connections: %u ERROR, %u other replies, %u hang-ups"
		    "\n", t.sent, t.bursts, t.connections, t.errors,
		    t.other_replies, t.closes);
}

START_TEST(random_bytes)
{
	struct abuse a;

	abuse_begin(&a, "random bytes", NULL);
	abuse_run(&a, random_round, 3);
	abuse_end(&a);
}
END_TEST

/*
 * ---------------------------------------------------------------------
 * 2. Every malformed header and attribute
 * ---------------------------------------------------------------------
 */

#define MUT_SEQ		0x4d555400u

/*
 * Builds malformed CREATE number i into m; returns what is wrong with it,
 * or NULL past the last one.  *seq is the seq the ERROR must echo.
 */
static const char *
build_mutation(unsigned i, struct raw_msg *m, uint64_t *seq)
{
	static const char v6[16] = { 0x20, 0x01, 0x0d, (char)0xb8 };
	char long_name[TB_IFNAME_MAX + 2];
	unsigned k;

	*seq = MUT_SEQ + i;
	raw_valid_create(m, (uint32_t)*seq);
	switch (i) {
	/* The header. */
	case 0:
		m->len = 1;
		*seq = 0;
		return "a 1-byte header";
	case 1:
		m->len = 8;
		*seq = 0;
		return "an 8-byte header";
	case 2:
		m->len = TB_HEADER_SIZE - 1;
		*seq = 0;
		return "a 15-byte header";
	case 3:
		SET_HEADER(m, magic, 0x54424e52u);
		return "bad magic (byte-swapped)";
	case 4:
		SET_HEADER(m, magic, 0);
		return "bad magic (zero)";
	case 5:
		SET_HEADER(m, version, 0);
		return "version 0";
	case 6:
		SET_HEADER(m, version, TB_PROTO_VERSION + 1);
		return "version 2";
	case 7:
		SET_HEADER(m, version, 255);
		return "version 255";
	case 8:
		SET_HEADER(m, length, (uint32_t)m->len + 1);
		return "length field one too many";
	case 9:
		SET_HEADER(m, length, (uint32_t)m->len - 1);
		return "length field one too few";
	case 10:
		SET_HEADER(m, length, 0);
		return "length field 0";
	case 11:
		SET_HEADER(m, length, UINT32_MAX);
		return "length field 2^32-1";
	case 12:
		SET_HEADER(m, flags, 1);
		return "flag 0x0001 set";
	case 13:
		SET_HEADER(m, flags, 0x8000);
		return "flag 0x8000 set";
	case 14:
		SET_HEADER(m, type, 0);
		return "type 0";
	case 15:
		SET_HEADER(m, type, TB_MSG_RELEASE + 1);
		return "type 6 (unknown request)";
	case 16:
		SET_HEADER(m, type, 63);
		return "type 63";
	case 17:
		SET_HEADER(m, type, TB_MSG_ERROR);
		return "type ERROR from a client";
	case 18:
		SET_HEADER(m, type, TB_MSG_CREATED);
		return "type CREATED from a client";
	case 19:
		SET_HEADER(m, type, TB_MSG_RELEASED + 1);
		return "type 70";
	case 20:
		SET_HEADER(m, type, TB_MSG_TYPE_MAX);
		return "type 127";
	case 21:
		SET_HEADER(m, type, TB_MSG_TYPE_MAX + 1);
		return "type 128";
	case 22:
		SET_HEADER(m, type, 255);
		return "type 255";
	/* Attribute lengths. */
	case 23: case 24: case 25:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_attr_len(m, TB_ATTR_MTU, (uint16_t)(i - 23 == 2 ? 3 :
		    i - 23), "\x78\x05\0\0", 4);
		raw_end(m);
		return "attribute len 0, 1 or 3";
	case 26:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_attr_len(m, TB_ATTR_MTU, 12, "\x78\x05\0\0", 4);
		raw_end(m);
		return "attribute len running 4 bytes past the end";
	case 27:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_create_body(m);
		raw_attr_len(m, TB_ATTR_IFNAME, UINT16_MAX, "x", 2);
		raw_end(m);
		return "attribute len 65535";
	case 28: case 29: case 30:
		m->len += i - 27;	/* stray zero bytes */
		raw_end(m);
		return "1 to 3 stray bytes after the last attribute";
	case 31:
		m->len += 4;		/* an attribute of len 0 */
		raw_end(m);
		return "4 zero bytes after the last attribute";
	/* Strings. */
	case 32:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_attr(m, TB_ATTR_IFNAME, "abuse0x", 7);
		raw_end(m);
		return "unterminated IFNAME";
	case 33:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_attr(m, TB_ATTR_IFNAME, "ab\0cd", 6);
		raw_end(m);
		return "IFNAME with an embedded NUL";
	case 34:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_attr(m, TB_ATTR_IFNAME, NULL, 0);
		raw_end(m);
		return "empty IFNAME payload";
	case 35:
		memset(long_name, 'a', sizeof(long_name) - 1);
		long_name[sizeof(long_name) - 1] = '\0';
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_string(m, TB_ATTR_IFNAME, long_name);
		raw_end(m);
		return "IFNAME of 17 bytes";
	/* Wrong sizes. */
	case 36: case 37: case 38: case 39: {
		static const size_t sizes[] = { 0, 2, 5, 8 };

		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_attr(m, TB_ATTR_MTU, "\x78\x05\0\0\0\0\0\0",
		    sizes[i - 36]);
		raw_end(m);
		return "MTU of 0, 2, 5 or 8 bytes";
	}
	case 40:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_attr(m, TB_ATTR_DEVICE_TYPE, "\1\0", 2);
		raw_end(m);
		return "DEVICE_TYPE of 2 bytes";
	case 41: case 42: {
		struct tb_addr addr = { .family = AF_INET, .prefixlen = 24 };

		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_attr(m, i == 41 ? TB_ATTR_ADDRESS : TB_ATTR_PEER, &addr,
		    sizeof(addr) - 1);
		raw_end(m);
		return "ADDRESS or PEER of 19 bytes";
	}
	case 43: {
		uint8_t big[sizeof(struct tb_addr) + 4] = { AF_INET, 24 };

		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_attr(m, TB_ATTR_ADDRESS, big, sizeof(big));
		raw_end(m);
		return "ADDRESS of 24 bytes";
	}
	/* Repetition. */
	case 44:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_create_body(m);
		raw_string(m, TB_ATTR_IFNAME, "abuse1");
		raw_end(m);
		return "IFNAME twice";
	case 45:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_create_body(m);
		raw_u32(m, TB_ATTR_MTU, 1400);
		raw_end(m);
		return "MTU twice";
	case 46:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_create_body(m);
		raw_u32(m, TB_ATTR_DEVICE_TYPE, TB_DEVICE_TUN);
		raw_end(m);
		return "DEVICE_TYPE twice";
	case 47:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_create_body(m);
		raw_addr(m, TB_ATTR_PEER, AF_INET, 32,
		    V4_ADDR((char)198, 18, (char)200, 2));
		raw_addr(m, TB_ATTR_PEER, AF_INET, 32,
		    V4_ADDR((char)198, 18, (char)200, 3));
		raw_end(m);
		return "PEER twice";
	/* Attributes that do not belong. */
	case 48:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_create_body(m);
		raw_u32(m, TB_ATTR_TYPE_MAX + 1, 0);
		raw_end(m);
		return "unknown mandatory attribute 12";
	case 49:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_create_body(m);
		raw_u32(m, TB_ATTR_TYPE_MASK, 0);
		raw_end(m);
		return "unknown mandatory attribute 32767";
	case 50:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_create_body(m);
		raw_u32(m, TB_ATTR_UNSPEC, 0);
		raw_end(m);
		return "attribute UNSPEC (0)";
	case 51:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_create_body(m);
		raw_u32(m, TB_ATTR_FD_COUNT, 1);
		raw_end(m);
		return "FD_COUNT in a CREATE";
	case 52:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_create_body(m);
		raw_u32(m, TB_ATTR_ERRNO | TB_ATTR_F_OPTIONAL, 1);
		raw_end(m);
		return "known ERRNO flagged optional in a CREATE";
	case 53:
		SET_HEADER(m, type, TB_MSG_PING);
		return "a PING carrying CREATE's attributes";
	/* Addresses. */
	case 54:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		for (k = 0; k < TB_MAX_ADDRESSES + 1; k++)
			raw_addr(m, TB_ATTR_ADDRESS, AF_INET, 32,
			    V4_ADDR((char)198, 18, (char)201, (char)k));
		raw_end(m);
		return "65 addresses";
	case 55: case 56: case 57: case 58: {
		static const uint8_t families[] = { 0, 1, 3, 255 };

		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_addr(m, TB_ATTR_ADDRESS, families[i - 55], 24,
		    ADDR_198_18_200_1);
		raw_end(m);
		return "address family 0, 1, 3 or 255";
	}
	case 59:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_addr(m, TB_ATTR_ADDRESS, AF_INET, 33, ADDR_198_18_200_1);
		raw_end(m);
		return "IPv4 prefix length 33";
	case 60:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_addr(m, TB_ATTR_ADDRESS, AF_INET6, 129, v6, sizeof(v6));
		raw_end(m);
		return "IPv6 prefix length 129";
	case 61:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_addr(m, TB_ATTR_ADDRESS, AF_INET, 24, ADDR_198_18_200_1);
		m->buf[m->len - 18] = 1;	/* reserved[0] */
		raw_end(m);
		return "address with reserved bytes set";
	case 62:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_addr(m, TB_ATTR_ADDRESS, AF_INET, 24,
		    (const char[]){ (char)198, 18, (char)200, 1, 9 }, 5);
		raw_end(m);
		return "IPv4 address with bytes after its 4";
	case 63:
		raw_begin(m, TB_MSG_CREATE, (uint32_t)*seq);
		raw_addr(m, TB_ATTR_ADDRESS, AF_INET, 24, ADDR_198_18_200_1);
		raw_addr(m, TB_ATTR_PEER, 7, 32, ADDR_198_18_200_1);
		raw_end(m);
		return "PEER of family 7";
	}
	return NULL;
}

static void
malformed_round(struct abuse *a, unsigned round)
{
	struct raw_msg m;
	const char *what;
	uint64_t seq;
	unsigned i;

	for (i = 0; (what = build_mutation(i, &m, &seq)) != NULL; i++) {
		char label[128];
		int fd = raw_connect(a->b.socket_path);

		snprintf(label, sizeof(label), "mutation %u (%s)", i, what);
		ck_assert_int_eq(raw_send(fd, m.buf, m.len, NULL, 0), 0);
		expect_error_then_close(fd, seq, label);
		close(fd);
	}
	if (round == 0)
		fprintf(stderr, "# malformed: %u mutations, each refused with "
		    "an ERROR and a hang-up\n", i);
}

START_TEST(malformed_headers_and_attributes)
{
	struct reply *r = malloc(sizeof(*r));
	struct abuse a;
	struct raw_msg m;
	int fd;

	ck_assert_ptr_nonnull(r);
	abuse_begin(&a, "malformed", NULL);
	/*
	 * The base of every mutation is itself valid: the policy refuses
	 * root, without hanging up.
	 */
	raw_valid_create(&m, 1);
	fd = raw_connect(a.b.socket_path);
	ck_assert_int_eq(raw_send(fd, m.buf, m.len, NULL, 0), 0);
	ck_assert_int_eq(read_reply(fd, 5000, r), 1);
	ck_assert_int_eq(r->msg.hdr.type, TB_MSG_ERROR);
	ck_assert_int_eq(r->error.code, -EACCES);
	ck_assert(!closed_within(fd, 100));
	close(fd);
	free(r);
	abuse_run(&a, malformed_round, 50);
	abuse_end(&a);
}
END_TEST

/*
 * ---------------------------------------------------------------------
 * 3. Truncated and oversized messages
 * ---------------------------------------------------------------------
 */

/* Sends a message of size bytes with a valid header claiming size. */
static void
send_oversized(struct abuse *a, size_t size)
{
	int sndbuf = 4 * 1024 * 1024;
	uint8_t *big = calloc(1, size);
	struct raw_msg m;
	char label[64];
	int fd, r;

	ck_assert_ptr_nonnull(big);
	raw_valid_create(&m, 77);
	memcpy(big, m.buf, m.len);
	memcpy(big + offsetof(struct tb_header, length), &(uint32_t){
	    (uint32_t)size }, sizeof(uint32_t));
	fd = raw_connect(a->b.socket_path);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
	    sizeof(sndbuf)), 0);
	r = raw_send(fd, big, size, NULL, 0);
	ck_assert_msg(r == 0, "sending %zu bytes: %s", size, strerror(-r));
	snprintf(label, sizeof(label), "a message of %zu bytes", size);
	/* Too big to read whole: its seq cannot be trusted. */
	expect_error_then_close(fd, ANY_SEQ, label);
	close(fd);
	free(big);
}

static void
truncated_round(struct abuse *a, unsigned round)
{
	struct raw_msg m;
	size_t len;

	raw_valid_create(&m, 99);
	for (len = 0; len < m.len; len++) {
		char label[64];
		int fd = raw_connect(a->b.socket_path);

		ck_assert_int_eq(raw_send(fd, m.buf, len, NULL, 0), 0);
		snprintf(label, sizeof(label), "a CREATE cut to %zu of %zu "
		    "bytes", len, m.len);
		/* An empty datagram reads as the end of the stream. */
		if (len == 0)
			ck_assert_msg(closed_within(fd, 5000), "%s", label);
		else
			expect_error_then_close(fd, len < TB_HEADER_SIZE ? 0 :
			    99, label);
		close(fd);
	}
	send_oversized(a, TB_MSG_MAX_SIZE + 1);
	send_oversized(a, 200000);
	if (round == 0)
		fprintf(stderr, "# truncated: %zu prefixes and messages of "
		    "%u and 200000 bytes refused\n", m.len,
		    TB_MSG_MAX_SIZE + 1);
}

START_TEST(truncated_and_oversized)
{
	struct abuse a;

	abuse_begin(&a, "truncated/oversized", NULL);
	abuse_run(&a, truncated_round, 50);
	abuse_end(&a);
}
END_TEST

/*
 * ---------------------------------------------------------------------
 * 4. Descriptors attached to requests
 * ---------------------------------------------------------------------
 */

#define PIPES	100

static void
fds_round(struct abuse *a, unsigned round)
{
	static const size_t counts[] = { 1, 10, TB_MSG_MAX_FDS, PIPES };
	static const uint8_t types[] = { TB_MSG_PING, TB_MSG_CREATE };
	int readers[PIPES], writers[PIPES], p[2];
	struct raw_msg m;
	size_t i, t, c;

	for (i = 0; i < PIPES; i++) {
		ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
		readers[i] = p[0];
		writers[i] = p[1];
	}
	for (t = 0; t < 2; t++) {
		for (c = 0; c < 4; c++) {
			char label[64];
			uint32_t seq = (uint32_t)(100 + t * 10 + c);
			int fd = raw_connect(a->b.socket_path);

			if (types[t] == TB_MSG_PING) {
				raw_begin(&m, TB_MSG_PING, seq);
				raw_end(&m);
			} else {
				raw_valid_create(&m, seq);
			}
			ck_assert_int_eq(raw_send(fd, m.buf, m.len, writers,
			    counts[c]), 0);
			snprintf(label, sizeof(label), "%s with %zu fds",
			    tb_msg_type_name(types[t]), counts[c]);
			/* Past 64 the kernel truncates: no header to trust. */
			expect_error_then_close(fd, counts[c] > TB_MSG_MAX_FDS ?
			    ANY_SEQ : seq, label);
			close(fd);
		}
	}
	/* Once we close our ends, no writer is left anywhere. */
	for (i = 0; i < PIPES; i++)
		close(writers[i]);
	for (i = 0; i < PIPES; i++) {
		char byte;
		int tries;
		ssize_t n = -1;

		for (tries = 0; tries < 200; tries++) {
			if ((n = read(readers[i], &byte, 1)) == 0)
				break;
			usleep(10 * 1000);
		}
		ck_assert_msg(n == 0, "the broker still holds the write end "
		    "of pipe %zu", i);
		close(readers[i]);
	}
	if (round == 0)
		fprintf(stderr, "# fds: PING and CREATE with 1, 10, 64 and "
		    "100 descriptors refused; none kept\n");
}

START_TEST(fds_attached)
{
	struct abuse a;

	abuse_begin(&a, "fds attached", NULL);
	abuse_run(&a, fds_round, 50);
	abuse_end(&a);
}
END_TEST

/*
 * ---------------------------------------------------------------------
 * 5. A thousand idle connections
 * ---------------------------------------------------------------------
 */

#define IDLE_CONNECTIONS	1000

static void
idle_round(struct abuse *a, unsigned round)
{
	struct pollfd *pfds = calloc(IDLE_CONNECTIONS, sizeof(*pfds));
	struct reply *r = malloc(sizeof(*r));
	unsigned held = 0, refused_error = 0, refused_closed = 0, i;
	int answered = 0, tries;

	ck_assert_ptr_nonnull(pfds);
	ck_assert_ptr_nonnull(r);
	for (i = 0; i < IDLE_CONNECTIONS; i++) {
		pfds[i].fd = raw_connect(a->b.socket_path);
		pfds[i].events = POLLIN;
	}
	/* Until the broker has decided about all but those it keeps. */
	for (tries = 0; tries < 500; tries++) {
		answered = poll(pfds, IDLE_CONNECTIONS, 0);
		ck_assert_int_ge(answered, 0);
		if (answered >= IDLE_CONNECTIONS - CONNECTIONS_PER_USER)
			break;
		usleep(10 * 1000);
	}
	usleep(100 * 1000);	/* a straggler would show now */
	ck_assert_int_ge(poll(pfds, IDLE_CONNECTIONS, 0), 0);
	for (i = 0; i < IDLE_CONNECTIONS; i++) {
		int got;

		if (pfds[i].revents == 0) {
			held++;
			continue;
		}
		got = read_reply(pfds[i].fd, 0, r);
		if (got == 0 || got == -ECONNRESET) {
			refused_closed++;
			continue;
		}
		ck_assert_msg(got == 1 && r->msg.hdr.type == TB_MSG_ERROR &&
		    r->error.code == -EUSERS, "connection %u: not refused "
		    "with -EUSERS (type %u, errno %d)", i, r->msg.hdr.type,
		    r->error.code);
		ck_assert_msg(closed_within(pfds[i].fd, 5000),
		    "connection %u: refused but left open", i);
		refused_error++;
	}
	if (round == 0)
		fprintf(stderr, "# idle: %u connections: %u held, %u refused "
		    "with -EUSERS, %u closed without a word\n",
		    IDLE_CONNECTIONS, held, refused_error, refused_closed);
	ck_assert_msg(held <= CONNECTIONS_PER_USER, "the broker holds %u "
	    "connections of one uid (limit %u)", held, CONNECTIONS_PER_USER);
	for (i = 0; i < IDLE_CONNECTIONS; i++)
		close(pfds[i].fd);
	free(pfds);
	free(r);
}

START_TEST(thousand_idle_connections)
{
	struct abuse a;

	abuse_begin(&a, "idle connections", NULL);
	abuse_run(&a, idle_round, 3);
	abuse_end(&a);
}
END_TEST

/*
 * ---------------------------------------------------------------------
 * 6. A connect/close flood
 * ---------------------------------------------------------------------
 */

static void
flood_round(struct abuse *a, unsigned round)
{
	struct raw_msg ping, create;
	uint64_t start = now_us();
	unsigned i, with_request = 0;

	raw_begin(&ping, TB_MSG_PING, 1);
	raw_end(&ping);
	raw_valid_create(&create, 2);
	for (i = 0; i < 5000; i++) {
		int fd = raw_connect(a->b.socket_path);

		/* Some leave a request behind that nobody will read. */
		if (i % 7 == 3 || i % 11 == 5) {
			struct raw_msg *m = i % 7 == 3 ? &ping : &create;

			ck_assert_int_eq(raw_send(fd, m->buf, m->len, NULL, 0),
			    0);
			with_request++;
		}
		close(fd);
	}
	if (round == 0)
		fprintf(stderr, "# flood: 5000 connect/close cycles (%u with "
		    "a request) in %.0f ms\n", with_request,
		    (double)(now_us() - start) / 1000.0);
}

START_TEST(connect_close_flood)
{
	struct abuse a;

	abuse_begin(&a, "connect/close flood", NULL);
	abuse_run(&a, flood_round, 2);
	abuse_end(&a);
}
END_TEST

/*
 * ---------------------------------------------------------------------
 * 7. Half a message, and silence
 * ---------------------------------------------------------------------
 */

#define IDLE_TIMEOUT_CONFIG \
	"[socket]\nmode = 0666\ngroup = 65534\n" \
	"[limits]\nidle-timeout = 1\n" \
	"[rule test]\n" ALLOW_NOBODY \
	"addresses = 198.18.0.0/15, 2001:db8::/32\nmax-devices = 64\n"

#define SILENT	4

static void
stall_round(struct abuse *a, unsigned round)
{
	struct raw_msg m;
	int half, pinged, silent[SILENT], i;
	uint64_t start, closed_at[SILENT + 1];
	struct reply *r = malloc(sizeof(*r));

	ck_assert_ptr_nonnull(r);
	/* The first 8 bytes of a header are a whole (short) datagram. */
	raw_valid_create(&m, 5);
	half = raw_connect(a->b.socket_path);
	ck_assert_int_eq(raw_send(half, m.buf, 8, NULL, 0), 0);
	expect_error_then_close(half, 0, "half a header");
	close(half);

	/* Silent from the start, and silent after one exchange. */
	start = now_us();
	for (i = 0; i < SILENT; i++)
		silent[i] = raw_connect(a->b.socket_path);
	pinged = raw_connect(a->b.socket_path);
	raw_begin(&m, TB_MSG_PING, 6);
	raw_end(&m);
	ck_assert_int_eq(raw_send(pinged, m.buf, m.len, NULL, 0), 0);
	ck_assert_int_eq(read_reply(pinged, 5000, r), 1);
	ck_assert_int_eq(r->msg.hdr.type, TB_MSG_PONG);
	free(r);
	for (i = 0; i <= SILENT; i++) {
		int fd = i < SILENT ? silent[i] : pinged;

		ck_assert_msg(closed_within(fd, 3500), "a silent connection "
		    "was still open %.1f s after it connected",
		    (double)(now_us() - start) / 1e6);
		closed_at[i] = now_us() - start;
		close(fd);
	}
	for (i = 0; i <= SILENT; i++)
		ck_assert_msg(closed_at[i] >= 500 * 1000 &&
		    closed_at[i] <= 3000 * 1000, "silent connection %d closed "
		    "after %.2f s with idle-timeout = 1", i,
		    (double)closed_at[i] / 1e6);
	if (round == 0)
		fprintf(stderr, "# stall: half a header refused; %d silent "
		    "connections closed after %.2f to %.2f s\n", SILENT + 1,
		    (double)closed_at[0] / 1e6,
		    (double)closed_at[SILENT] / 1e6);
}

START_TEST(half_message_and_silence)
{
	struct abuse a;

	abuse_begin(&a, "stalled clients", IDLE_TIMEOUT_CONFIG);
	abuse_run(&a, stall_round, 5);
	abuse_end(&a);
}
END_TEST

/*
 * ---------------------------------------------------------------------
 * 8. A client that never reads
 * ---------------------------------------------------------------------
 */

#define PINGS	10000

static void
never_reads_round(struct abuse *a, unsigned round)
{
	struct reply *r = malloc(sizeof(*r));
	unsigned sent = 0, replies = 0;
	struct raw_msg m;
	uint64_t start = now_us();
	bool reset = false;
	int fd, err = 0, got = 1;

	ck_assert_ptr_nonnull(r);
	raw_begin(&m, TB_MSG_PING, 8);
	raw_end(&m);
	fd = raw_connect(a->b.socket_path);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	/* As fast as the socket takes them; a full one gets 200 ms. */
	while (sent < PINGS) {
		if ((err = raw_send(fd, m.buf, m.len, NULL, 0)) == 0) {
			sent++;
			continue;
		}
		if (err != -EAGAIN || poll(&(struct pollfd){ .fd = fd,
		    .events = POLLOUT }, 1, 200) != 1)
			break;
	}
	/*
	 * Now read: what the broker answered before it gave up on us, then
	 * the end of the stream (after ECONNRESET, for the PINGs it left).
	 */
	while (replies <= PINGS && now_us() - start < 10 * 1000 * 1000) {
		got = read_reply(fd, 2000, r);
		if (got == -ECONNRESET) {
			reset = true;
			continue;
		}
		if (got != 1)
			break;
		ck_assert_int_eq(r->msg.hdr.type, TB_MSG_PONG);
		replies++;
	}
	ck_assert_msg(got == 0, "%u PINGs sent (then %s), %u PONGs read, and "
	    "the connection is still open", sent,
	    err != 0 ? strerror(-err) : "done", replies);
	ck_assert_uint_lt(replies, sent);
	close(fd);
	free(r);
	if (round == 0)
		fprintf(stderr, "# never reads: %u PINGs sent before %s; the "
		    "broker answered %u, then dropped us%s\n", sent,
		    err != 0 ? strerror(-err) : "the end", replies,
		    reset ? " (ECONNRESET)" : "");
}

START_TEST(never_reads)
{
	struct abuse a;

	abuse_begin(&a, "never reads", NULL);
	abuse_run(&a, never_reads_round, 20);
	abuse_end(&a);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("abuse");
	TCase *tc = tcase_create("abuse");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, random_bytes);
	tcase_add_test(tc, malformed_headers_and_attributes);
	tcase_add_test(tc, truncated_and_oversized);
	tcase_add_test(tc, fds_attached);
	tcase_add_test(tc, thousand_idle_connections);
	tcase_add_test(tc, connect_close_flood);
	tcase_add_test(tc, half_message_and_silence);
	tcase_add_test(tc, never_reads);
	suite_add_tcase(s, tc);
	return testlib_run(s, true);
}
