/*
 * Interrupts and the blocking calls they release: the interrupt object's
 * own state, tunclient_recv() and tunclient_send() on pipes and socket
 * pairs released by a thread, a signal handler or a timeout, and on a
 * real TUN device in its own network namespace.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_tun.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "testlib.h"
#include "tunclient.h"

#define MS		(1000 * 1000)	/* nanoseconds */
#define DELAY_MS	50		/* before a helper thread acts */
#define LONG_WAIT_MS	5000		/* bounds every wait meant to be released */
#define RELEASE_MAX_MS	10		/* from a trigger to the call's return */

/* Nanoseconds on the monotonic clock. */
static int64_t
now_ns(void)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (int64_t)ts.tv_sec * 1000 * MS + ts.tv_nsec;
}

static double
ms_between(int64_t from, int64_t to)
{
	return (double)(to - from) / MS;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * MS };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* True if fd polls ready for events right now. */
static bool
polls_ready(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n = poll(&pfd, 1, 0);

	ck_assert_int_ge(n, 0);
	return n == 1 && (pfd.revents & events) != 0;
}

static struct tunclient_interrupt *
interrupt_new(void)
{
	struct tunclient_interrupt *intr;

	ck_assert_int_eq(tunclient_interrupt_new(&intr), 0);
	ck_assert_ptr_nonnull(intr);
	return intr;
}

static void
assert_lowered(const struct tunclient_interrupt *intr)
{
	ck_assert(!tunclient_interrupt_is_triggered(intr));
	ck_assert_uint_eq(tunclient_interrupt_value(intr), 0);
	ck_assert(!polls_ready(tunclient_interrupt_fd(intr), POLLIN));
}

static void
assert_raised(const struct tunclient_interrupt *intr, uint64_t value)
{
	ck_assert(tunclient_interrupt_is_triggered(intr));
	ck_assert_uint_eq(tunclient_interrupt_value(intr), value);
	ck_assert(polls_ready(tunclient_interrupt_fd(intr), POLLIN));
}

static void
seqpacket_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
}

static void
close_pair(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/*
 * Sends on fd, made non-blocking, until the socket is full, so that a
 * send must wait for POLLOUT.
 */
static void
fill_socket(int fd)
{
	char packet[1024] = { 0 };
	int flags, i;

	flags = fcntl(fd, F_GETFL);
	ck_assert_int_ge(flags, 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
	for (i = 0; i < 100000; i++) {
		if (send(fd, packet, sizeof(packet), 0) < 0)
			break;
	}
	ck_assert_msg(i < 100000 && errno == EAGAIN,
	    "filling the socket: %d sends, then %s", i, strerror(errno));
	ck_assert(!polls_ready(fd, POLLOUT));
}

/* tunclient_send() or tunclient_recv(), for helpers that test both. */
static ssize_t
transfer(bool sending, int fd, void *buf, size_t len,
    struct tunclient_interrupt *intr, int timeout_ms)
{
	if (sending)
		return tunclient_send(fd, buf, len, intr, timeout_ms);
	return tunclient_recv(fd, buf, len, intr, timeout_ms);
}

/* A thread that triggers an interrupt DELAY_MS after it starts. */
struct delayed_trigger {
	pthread_t thread;
	struct tunclient_interrupt *intr;
	int64_t fired;		/* when it triggered */
	int result;		/* what the trigger returned */
};

static void *
delayed_trigger_run(void *arg)
{
	struct delayed_trigger *dt = arg;

	sleep_ms(DELAY_MS);
	dt->fired = now_ns();
	dt->result = tunclient_interrupt_trigger(dt->intr);
	return NULL;
}

/*
 * Blocks in a transfer on fd that only an interrupt can end, triggers it
 * from another thread, and checks the call returned -EINTR promptly.
 */
static void
assert_released_by_thread(bool sending, int fd, const char *what)
{
	struct delayed_trigger dt = { .intr = interrupt_new() };
	char buf[1024] = { 0 };
	int64_t start, returned;
	ssize_t r;

	start = now_ns();
	ck_assert_int_eq(pthread_create(&dt.thread, NULL, delayed_trigger_run,
	    &dt), 0);
	r = transfer(sending, fd, buf, sizeof(buf), dt.intr, LONG_WAIT_MS);
	returned = now_ns();
	ck_assert_int_eq(pthread_join(dt.thread, NULL), 0);

	ck_assert_int_eq(dt.result, 0);
	ck_assert_msg(r == -EINTR, "%s returned %zd, not -EINTR", what, r);
	ck_assert_msg(returned >= dt.fired,
	    "%s returned %.3f ms before the trigger", what,
	    ms_between(returned, dt.fired));
	ck_assert_msg(ms_between(dt.fired, returned) < RELEASE_MAX_MS,
	    "%s returned %.3f ms after the trigger", what,
	    ms_between(dt.fired, returned));
	ck_assert_msg(ms_between(start, returned) >= DELAY_MS - 1,
	    "%s did not wait for the trigger", what);
	fprintf(stderr, "# %s: released %.3f ms after the trigger\n", what,
	    ms_between(dt.fired, returned));
	assert_raised(dt.intr, 1);
	tunclient_interrupt_free(dt.intr);
}

/* Checks a transfer that nothing releases ends by its timeout. */
static void
assert_times_out(bool sending, int fd, struct tunclient_interrupt *intr,
    const char *what)
{
	char buf[1024] = { 0 };
	int64_t start;
	double elapsed;
	ssize_t r;

	start = now_ns();
	r = transfer(sending, fd, buf, sizeof(buf), intr, 100);
	elapsed = ms_between(start, now_ns());
	ck_assert_msg(r == -ETIMEDOUT, "%s returned %zd, not -ETIMEDOUT",
	    what, r);
	ck_assert_msg(elapsed >= 100 && elapsed < 300,
	    "%s with a 100 ms timeout took %.3f ms", what, elapsed);

	start = now_ns();
	r = transfer(sending, fd, buf, sizeof(buf), intr, 0);
	elapsed = ms_between(start, now_ns());
	ck_assert_msg(r == -ETIMEDOUT, "%s returned %zd, not -ETIMEDOUT",
	    what, r);
	ck_assert_msg(elapsed < RELEASE_MAX_MS,
	    "%s with a 0 ms timeout took %.3f ms", what, elapsed);
}

START_TEST(interrupt_state)
{
	struct tunclient_interrupt *intr = interrupt_new();
	int fd = tunclient_interrupt_fd(intr);
	int flags;

	ck_assert_int_ge(fd, 0);
	flags = fcntl(fd, F_GETFD);
	ck_assert_int_ge(flags, 0);
	ck_assert(flags & FD_CLOEXEC);
	assert_lowered(intr);

	ck_assert_int_eq(tunclient_interrupt_trigger(intr), 0);
	assert_raised(intr, 1);
	ck_assert_int_eq(tunclient_interrupt_reset(intr), 0);
	assert_lowered(intr);

	/* 0 means "not triggered", so it cannot be a value. */
	ck_assert_int_eq(tunclient_interrupt_trigger_value(intr, 0), -EINVAL);
	assert_lowered(intr);

	/* The first value raised since the reset is the one kept. */
	ck_assert_int_eq(tunclient_interrupt_trigger_value(intr, 15), 0);
	assert_raised(intr, 15);
	ck_assert_int_eq(tunclient_interrupt_trigger_value(intr, 9), 0);
	assert_raised(intr, 15);
	ck_assert_int_eq(tunclient_interrupt_trigger(intr), 0);
	assert_raised(intr, 15);

	ck_assert_int_eq(tunclient_interrupt_reset(intr), 0);
	assert_lowered(intr);
	/* Resetting a lowered interrupt changes nothing. */
	ck_assert_int_eq(tunclient_interrupt_reset(intr), 0);
	assert_lowered(intr);

	/* Reset re-arms: the next trigger counts, with its own value. */
	ck_assert_int_eq(tunclient_interrupt_trigger_value(intr, 9), 0);
	assert_raised(intr, 9);
	ck_assert_int_eq(tunclient_interrupt_reset(intr), 0);
	assert_lowered(intr);

	tunclient_interrupt_free(intr);
	ck_assert(!testlib_fd_is_open(fd));
	tunclient_interrupt_free(NULL);
}
END_TEST

START_TEST(recv_released_by_thread)
{
	int sv[2], pipefd[2];

	seqpacket_pair(sv);
	assert_released_by_thread(false, sv[0], "recv on a socket");
	close_pair(sv);

	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	assert_released_by_thread(false, pipefd[0], "recv on a pipe");
	close_pair(pipefd);
}
END_TEST

static struct tunclient_interrupt *alarm_intr;
static volatile sig_atomic_t alarm_count;
static volatile sig_atomic_t alarm_trigger_result;
static volatile sig_atomic_t alarm_errno_kept;

/* Triggers alarm_intr with the signal's number, as a program would. */
static void
on_alarm(int sig)
{
	int saved_errno = errno;

	errno = ENOTRECOVERABLE;	/* a value nothing else sets */
	alarm_trigger_result = tunclient_interrupt_trigger_value(alarm_intr,
	    (uint64_t)sig);
	alarm_errno_kept = errno == ENOTRECOVERABLE;
	alarm_count++;
	errno = saved_errno;
}

START_TEST(recv_released_by_signal)
{
	struct itimerval timer = { .it_value = { 0, DELAY_MS * 1000 } };
	struct itimerval off = { .it_value = { 0, 0 } };
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	char buf[64];
	int64_t start;
	double elapsed;
	ssize_t r;
	int sv[2];

	seqpacket_pair(sv);
	alarm_intr = interrupt_new();
	alarm_trigger_result = -1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART */
	ck_assert_int_eq(sigaction(SIGALRM, &sa, &old), 0);

	start = now_ns();
	ck_assert_int_eq(setitimer(ITIMER_REAL, &timer, NULL), 0);
	r = tunclient_recv(sv[0], buf, sizeof(buf), alarm_intr, LONG_WAIT_MS);
	elapsed = ms_between(start, now_ns());
	ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
	ck_assert_int_eq(sigaction(SIGALRM, &old, NULL), 0);

	ck_assert_int_eq(alarm_count, 1);
	ck_assert_int_eq(alarm_trigger_result, 0);
	ck_assert_msg(alarm_errno_kept, "the trigger changed errno");
	ck_assert_msg(r == -EINTR, "recv returned %zd, not -EINTR", r);
	ck_assert_msg(elapsed >= DELAY_MS - 1 && elapsed < LONG_WAIT_MS / 2,
	    "recv returned after %.3f ms, the alarm was at %d ms", elapsed,
	    DELAY_MS);
	assert_raised(alarm_intr, SIGALRM);

	tunclient_interrupt_free(alarm_intr);
	alarm_intr = NULL;
	close_pair(sv);
}
END_TEST

START_TEST(recv_timeout)
{
	struct tunclient_interrupt *intr = interrupt_new();
	int sv[2];

	seqpacket_pair(sv);
	assert_times_out(false, sv[0], intr, "recv on a socket");
	assert_lowered(intr);
	tunclient_interrupt_free(intr);
	close_pair(sv);
}
END_TEST

/*
 * An interrupt raised before the call wins over a packet already waiting,
 * and leaves that packet for the next call.
 */
START_TEST(trigger_before_call)
{
	struct tunclient_interrupt *intr = interrupt_new();
	const char packet[] = "already waiting";
	char buf[64];
	int64_t start;
	double elapsed;
	ssize_t r;
	int sv[2];

	seqpacket_pair(sv);
	ck_assert_int_eq(send(sv[1], packet, sizeof(packet), 0),
	    (ssize_t)sizeof(packet));
	ck_assert_int_eq(tunclient_interrupt_trigger(intr), 0);

	start = now_ns();
	r = tunclient_recv(sv[0], buf, sizeof(buf), intr, LONG_WAIT_MS);
	elapsed = ms_between(start, now_ns());
	ck_assert_int_eq(r, -EINTR);
	ck_assert_msg(elapsed < RELEASE_MAX_MS, "recv took %.3f ms", elapsed);

	/* A send that could go at once is not made either. */
	start = now_ns();
	r = tunclient_send(sv[0], packet, sizeof(packet), intr, LONG_WAIT_MS);
	elapsed = ms_between(start, now_ns());
	ck_assert_int_eq(r, -EINTR);
	ck_assert_msg(elapsed < RELEASE_MAX_MS, "send took %.3f ms", elapsed);
	ck_assert_int_eq(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);

	/* After a reset the waiting packet is still there. */
	ck_assert_int_eq(tunclient_interrupt_reset(intr), 0);
	r = tunclient_recv(sv[0], buf, sizeof(buf), intr, LONG_WAIT_MS);
	ck_assert_int_eq(r, (ssize_t)sizeof(packet));
	ck_assert_mem_eq(buf, packet, sizeof(packet));

	tunclient_interrupt_free(intr);
	close_pair(sv);
}
END_TEST

/* A thread that sends one packet DELAY_MS after it starts. */
struct delayed_send {
	pthread_t thread;
	int fd;
	const char *packet;
	size_t len;
	ssize_t result;
};

static void *
delayed_send_run(void *arg)
{
	struct delayed_send *ds = arg;

	sleep_ms(DELAY_MS);
	ds->result = send(ds->fd, ds->packet, ds->len, 0);
	return NULL;
}

START_TEST(data_arrives)
{
	struct tunclient_interrupt *intr = interrupt_new();
	const char first[] = "sent before the call", second[] = "sent later";
	struct delayed_send ds = { .packet = second, .len = sizeof(second) };
	char buf[256];
	ssize_t r;
	int sv[2];

	seqpacket_pair(sv);
	r = tunclient_send(sv[1], first, sizeof(first), intr, LONG_WAIT_MS);
	ck_assert_int_eq(r, (ssize_t)sizeof(first));
	r = tunclient_recv(sv[0], buf, sizeof(buf), intr, LONG_WAIT_MS);
	ck_assert_int_eq(r, (ssize_t)sizeof(first));
	ck_assert_mem_eq(buf, first, sizeof(first));

	/* A packet that arrives while the call waits. */
	ds.fd = sv[1];
	ck_assert_int_eq(pthread_create(&ds.thread, NULL, delayed_send_run,
	    &ds), 0);
	r = tunclient_recv(sv[0], buf, sizeof(buf), intr, LONG_WAIT_MS);
	ck_assert_int_eq(pthread_join(ds.thread, NULL), 0);
	ck_assert_int_eq(ds.result, (ssize_t)sizeof(second));
	ck_assert_int_eq(r, (ssize_t)sizeof(second));
	ck_assert_mem_eq(buf, second, sizeof(second));

	assert_lowered(intr);
	tunclient_interrupt_free(intr);
	close_pair(sv);
}
END_TEST

START_TEST(timeout_zero_takes_what_is_ready)
{
	char buf[16];
	int sv[2];

	/* Timeout 0 is "only what is ready now", not "give up at once". */
	seqpacket_pair(sv);
	ck_assert_int_eq(tunclient_send(sv[1], "abc", 3, NULL, 0), 3);
	ck_assert_int_eq(tunclient_recv(sv[0], buf, sizeof(buf), NULL, 0), 3);
	ck_assert_mem_eq(buf, "abc", 3);
	ck_assert_int_eq(tunclient_recv(sv[0], buf, sizeof(buf), NULL, 0),
	    -ETIMEDOUT);
	close_pair(sv);
}
END_TEST

static void *
trigger_once_run(void *arg)
{
	tunclient_interrupt_trigger(arg);
	return NULL;
}

START_TEST(reset_racing_trigger_stays_consistent)
{
	struct tunclient_interrupt *intr = interrupt_new();
	pthread_t thread;
	char buf[8];
	int i, sv[2], bad = 0, survived = 0;

	/*
	 * Whatever the interleaving, once both are done every view agrees:
	 * the descriptor a loop polls, is_triggered, value, and what a
	 * blocking call does.
	 */
	seqpacket_pair(sv);
	for (i = 0; i < 2000; i++) {
		bool readable, triggered, valued, interrupts;

		ck_assert_int_eq(pthread_create(&thread, NULL,
		    trigger_once_run, intr), 0);
		ck_assert_int_eq(tunclient_interrupt_reset(intr), 0);
		ck_assert_int_eq(pthread_join(thread, NULL), 0);
		readable = polls_ready(tunclient_interrupt_fd(intr), POLLIN);
		triggered = tunclient_interrupt_is_triggered(intr);
		valued = tunclient_interrupt_value(intr) != 0;
		interrupts = tunclient_recv(sv[0], buf, sizeof(buf), intr, 0) ==
		    -EINTR;
		if (readable != triggered || triggered != valued ||
		    valued != interrupts)
			bad++;
		survived += triggered;
		ck_assert_int_eq(tunclient_interrupt_reset(intr), 0);
	}
	ck_assert_msg(bad == 0, "%d of 2000 races left the views disagreeing",
	    bad);
	/* Both outcomes happen: the race was really run. */
	ck_assert_int_gt(survived, 0);
	close_pair(sv);
	tunclient_interrupt_free(intr);
}
END_TEST

START_TEST(send_on_full_socket)
{
	struct tunclient_interrupt *intr = interrupt_new();
	int sv[2];

	seqpacket_pair(sv);
	fill_socket(sv[1]);
	assert_released_by_thread(true, sv[1], "send on a full socket");
	assert_times_out(true, sv[1], intr, "send on a full socket");
	assert_lowered(intr);
	tunclient_interrupt_free(intr);
	close_pair(sv);
}
END_TEST

/* Without an interrupt only data or the timeout ends the wait. */
START_TEST(null_interrupt)
{
	const char packet[] = "no interrupt";
	char buf[64];
	ssize_t r;
	int sv[2];

	seqpacket_pair(sv);
	assert_times_out(false, sv[0], NULL, "recv without an interrupt");
	r = tunclient_send(sv[1], packet, sizeof(packet), NULL, LONG_WAIT_MS);
	ck_assert_int_eq(r, (ssize_t)sizeof(packet));
	r = tunclient_recv(sv[0], buf, sizeof(buf), NULL, LONG_WAIT_MS);
	ck_assert_int_eq(r, (ssize_t)sizeof(packet));
	ck_assert_mem_eq(buf, packet, sizeof(packet));

	fill_socket(sv[1]);
	assert_times_out(true, sv[1], NULL, "send without an interrupt");
	close_pair(sv);
}
END_TEST

#define STORM_THREADS	4
#define STORM_TRIGGERS	10000

struct storm_thread {
	pthread_t thread;
	struct tunclient_interrupt *intr;
	pthread_barrier_t *start;
	uint64_t value;
	int failures;
};

static void *
storm_run(void *arg)
{
	struct storm_thread *st = arg;
	int i;

	pthread_barrier_wait(st->start);
	for (i = 0; i < STORM_TRIGGERS; i++) {
		if (tunclient_interrupt_trigger_value(st->intr, st->value) != 0)
			st->failures++;
	}
	return NULL;
}

/*
 * Triggers from several threads while the main thread reads and resets:
 * nothing the sanitizers see, and the interrupt still works afterwards.
 */
START_TEST(trigger_storm)
{
	struct tunclient_interrupt *intr = interrupt_new();
	struct storm_thread st[STORM_THREADS];
	pthread_barrier_t start;
	unsigned long rounds = 0, raised = 0;
	uint64_t value;
	int64_t begin;
	int i;

	ck_assert_int_eq(pthread_barrier_init(&start, NULL,
	    STORM_THREADS + 1), 0);
	for (i = 0; i < STORM_THREADS; i++) {
		st[i] = (struct storm_thread){
			.intr = intr, .start = &start, .value = (uint64_t)i + 1,
		};
		ck_assert_int_eq(pthread_create(&st[i].thread, NULL, storm_run,
		    &st[i]), 0);
	}
	pthread_barrier_wait(&start);
	begin = now_ns();
	while (ms_between(begin, now_ns()) < 100) {
		raised += tunclient_interrupt_is_triggered(intr);
		value = tunclient_interrupt_value(intr);
		ck_assert_uint_le(value, STORM_THREADS);
		ck_assert_int_eq(tunclient_interrupt_reset(intr), 0);
		rounds++;
	}
	for (i = 0; i < STORM_THREADS; i++) {
		ck_assert_int_eq(pthread_join(st[i].thread, NULL), 0);
		ck_assert_int_eq(st[i].failures, 0);
	}
	pthread_barrier_destroy(&start);
	fprintf(stderr, "# storm: %lu resets, raised in %lu of them\n",
	    rounds, raised);

	ck_assert_int_eq(tunclient_interrupt_trigger_value(intr, 99), 0);
	ck_assert(tunclient_interrupt_is_triggered(intr));
	value = tunclient_interrupt_value(intr);
	ck_assert_msg(value == 99 || (value >= 1 && value <= STORM_THREADS),
	    "value %llu after the storm", (unsigned long long)value);
	ck_assert(polls_ready(tunclient_interrupt_fd(intr), POLLIN));
	ck_assert_int_eq(tunclient_interrupt_reset(intr), 0);
	assert_lowered(intr);
	tunclient_interrupt_free(intr);
}
END_TEST

#define TUN_NAME	"intr0"

/* Creates TUN_NAME with 198.18.0.1/24, up, and returns its queue's fd. */
static int
tun_up(void)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "/dev/net/tun: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", TUN_NAME);
	ck_assert_msg(ioctl(fd, TUNSETIFF, &ifr) == 0, "TUNSETIFF: %s",
	    strerror(errno));
	ck_assert_int_eq(system("ip addr add 198.18.0.1/24 dev " TUN_NAME
	    " && ip link set " TUN_NAME " up"), 0);
	return fd;
}

/*
 * Receives the next IPv4 packet from a TUN fd, skipping what else the
 * kernel sends there (IPv6 router solicitations, MLD reports).
 */
static ssize_t
recv_ipv4(int fd, uint8_t *buf, size_t len, struct tunclient_interrupt *intr)
{
	int64_t start = now_ns();
	ssize_t r;
	int left;

	for (;;) {
		left = LONG_WAIT_MS - (int)ms_between(start, now_ns());
		r = tunclient_recv(fd, buf, len, intr, left > 0 ? left : 0);
		if (r < 0 || (r > 0 && buf[0] >> 4 == 4))
			return r;
	}
}

START_TEST(tun_recv_ipv4)
{
	struct tunclient_interrupt *intr = interrupt_new();
	struct sockaddr_in to = {
		.sin_family = AF_INET, .sin_port = htons(9999),
	};
	const char payload[] = "through the tun";
	uint8_t buf[2048];
	struct in_addr dst;
	size_t ihl;
	ssize_t r;
	int fd, udp;

	testlib_enter_netns();
	fd = tun_up();
	ck_assert_int_eq(inet_pton(AF_INET, "198.18.0.2", &to.sin_addr), 1);
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(udp, 0);
	ck_assert_int_eq(sendto(udp, payload, sizeof(payload), 0,
	    (struct sockaddr *)&to, sizeof(to)), (ssize_t)sizeof(payload));

	r = recv_ipv4(fd, buf, sizeof(buf), intr);
	ck_assert_msg(r > 0, "recv returned %zd", r);
	ihl = (size_t)(buf[0] & 0x0f) * 4;
	ck_assert_int_eq(buf[0] >> 4, 4);
	ck_assert_int_eq(buf[9], IPPROTO_UDP);
	memcpy(&dst, &buf[16], sizeof(dst));
	ck_assert_uint_eq(dst.s_addr, to.sin_addr.s_addr);
	ck_assert_int_eq(r, (ssize_t)(ihl + 8 + sizeof(payload)));
	ck_assert_int_eq(buf[ihl + 2] << 8 | buf[ihl + 3], 9999);
	ck_assert_mem_eq(&buf[ihl + 8], payload, sizeof(payload));

	close(udp);
	close(fd);
	tunclient_interrupt_free(intr);
}
END_TEST

/* A thread that deletes TUN_NAME DELAY_MS after it starts. */
struct delayed_delete {
	pthread_t thread;
	int64_t started;	/* when it ran ip(8) */
	int status;
};

static void *
delayed_delete_run(void *arg)
{
	struct delayed_delete *dd = arg;

	sleep_ms(DELAY_MS);
	dd->started = now_ns();
	dd->status = system("ip link delete " TUN_NAME);
	return NULL;
}

/* Deleting the interface ends a blocked receive with an error. */
START_TEST(tun_deleted)
{
	struct tunclient_interrupt *intr = interrupt_new();
	struct delayed_delete dd = { .status = -1 };
	uint8_t buf[2048] = { 0 };
	int64_t returned;
	ssize_t r;
	int fd;

	testlib_enter_netns();
	fd = tun_up();
	ck_assert_int_eq(pthread_create(&dd.thread, NULL, delayed_delete_run,
	    &dd), 0);
	r = recv_ipv4(fd, buf, sizeof(buf), intr);
	returned = now_ns();
	ck_assert_int_eq(pthread_join(dd.thread, NULL), 0);
	ck_assert_int_eq(dd.status, 0);
	ck_assert_msg(r == -EBADFD, "recv returned %zd (%s), not -EBADFD", r,
	    r < 0 ? strerror((int)-r) : "a packet");
	ck_assert_msg(returned >= dd.started &&
	    ms_between(dd.started, returned) < 1000,
	    "recv returned %.3f ms after ip(8) started",
	    ms_between(dd.started, returned));
	fprintf(stderr, "# recv after the delete: %zd, %.3f ms after ip(8) "
	    "started\n", r, ms_between(dd.started, returned));

	/* Later calls fail at once as well; they never block or spin. */
	r = tunclient_recv(fd, buf, sizeof(buf), intr, LONG_WAIT_MS);
	ck_assert_int_eq(r, -EBADFD);
	r = tunclient_send(fd, buf, 28, intr, LONG_WAIT_MS);
	ck_assert_int_eq(r, -EBADFD);
	assert_lowered(intr);

	close(fd);
	tunclient_interrupt_free(intr);
}
END_TEST

static Suite *
interrupt_suite(void)
{
	Suite *s = suite_create("interrupt");
	TCase *tc;

	tc = tcase_create("interrupt");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, interrupt_state);
	tcase_add_test(tc, recv_released_by_thread);
	tcase_add_test(tc, recv_released_by_signal);
	tcase_add_test(tc, recv_timeout);
	tcase_add_test(tc, trigger_before_call);
	tcase_add_test(tc, data_arrives);
	tcase_add_test(tc, send_on_full_socket);
	tcase_add_test(tc, null_interrupt);
	tcase_add_test(tc, trigger_storm);
	tcase_add_test(tc, timeout_zero_takes_what_is_ready);
	tcase_add_test(tc, reset_racing_trigger_stays_consistent);
	suite_add_tcase(s, tc);

	tc = tcase_create("tun");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, tun_recv_ipv4);
	tcase_add_test(tc, tun_deleted);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testlib_run(interrupt_suite(), true);
}
