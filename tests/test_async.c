/*
 * Asynchronous requests on a libevent loop: a real tunbrokerd in a fresh
 * network namespace answering an unprivileged client (uid 65534) that
 * keeps several requests in flight on one connection, cancels them, frees
 * the connection under them and outlives the broker; plus a scripted peer
 * for what the real broker never does (fill the socket, break the
 * protocol).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "codec.h"
#include "fdpass.h"
#include "netinfo.h"
#include "testlib.h"
#include "tunclient.h"

#define ALLOW_NOBODY	"users = 65534\n"
#define SLOTS_MAX	2048

/*
 * Where a client running as uid 65534 says what went wrong: Check's
 * assertions do not work in that process, so it records the line and the
 * condition here (shared memory) and on stderr, and exits non-zero.
 */
struct report {
	int line;
	char what[512];
};

static struct report *report;

__attribute__((format(printf, 2, 3)))
static int
expect_failed(int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(report->what, sizeof(report->what), fmt, ap);
	va_end(ap);
	report->line = line;
	fprintf(stderr, "test_async.c:%d: expected %s\n", line, report->what);
	return 1;
}

#define EXPECT(cond) do {						\
	if (!(cond))							\
		return expect_failed(__LINE__, "%s", #cond);		\
} while (0)

#define EXPECT_INT(got, want) do {					\
	long long got_ = (got), want_ = (want);				\
	if (got_ != want_)						\
		return expect_failed(__LINE__, "%s == %s, got %lld",	\
		    #got, #want, got_);					\
} while (0)

/* What the unprivileged client needs to know. */
struct scenario {
	const char *socket_path;
	const char *log_path;
	int go_fd;		/* written to once requests are in flight */
};

/* Runs fn as uid 65534 and fails the test with its report if it failed. */
static void
run_as_nobody(int (*fn)(void *), struct scenario *sc)
{
	int rc;

	report = mmap(NULL, sizeof(*report), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(report, MAP_FAILED);
	rc = testlib_run_as_user(fn, sc);
	ck_assert_msg(rc == 0, "client exited with %d; line %d: %s", rc,
	    report->line, report->what);
	munmap(report, sizeof(*report));
	report = NULL;
}

struct world;

/* One request's outcome as its callback saw it. */
struct slot {
	struct world *w;
	int index;
	int calls;
	int result;
	char error[TB_ERROR_TEXT_MAX];
	struct tunclient_lease *lease;
	int ticks;		/* the loop's timer ticks when it completed */
	struct tunclient_pending *pending;
};

/* A client's loop, connection and requests. */
struct world {
	struct event_base *base;
	struct tunclient_async *conn;
	struct event *ticker;	/* a 1 ms timer, deleted by the last callback */
	int ticks;
	int go_fd;		/* where on_tick asks for the broker to go on */
	int expected;		/* callbacks to wait for */
	int done;
	int free_in_slot;	/* this slot's callback frees conn (-1: none) */
	int poke_in_slot;	/* this one requests and frees again (-1: none) */
	int poke_request;	/* what that request returned */
	struct tunclient_request *poke_req;
	struct slot slots[SLOTS_MAX];
};

static void
on_lease(int result, struct tunclient_lease *lease, const char *error,
    void *arg)
{
	struct slot *s = arg;
	struct world *w = s->w;

	s->calls++;
	s->result = result;
	snprintf(s->error, sizeof(s->error), "%s", error);
	tunclient_lease_free(s->lease);
	s->lease = lease;
	s->ticks = w->ticks;
	if (++w->done == w->expected && w->ticker != NULL)
		event_del(w->ticker);
	if (s->index == w->poke_in_slot) {
		w->poke_request = tunclient_async_request(w->conn, w->poke_req,
		    on_lease, s, NULL);
		tunclient_async_free(w->conn);
	}
	if (s->index == w->free_in_slot) {
		tunclient_async_free(w->conn);
		w->conn = NULL;
	}
}

/* Counts ticks; at the 20th, has the stopped broker resumed. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct world *w = arg;

	(void)fd;
	(void)what;
	if (++w->ticks == 20 && write(w->go_fd, "c", 1) != 1)
		w->go_fd = -1;
}

/* A new world connected to path; 0 or a negative errno. */
static int
world_open(struct world *w, const char *path)
{
	int i;

	memset(w, 0, sizeof(*w));
	w->free_in_slot = w->poke_in_slot = -1;
	for (i = 0; i < SLOTS_MAX; i++) {
		w->slots[i].w = w;
		w->slots[i].index = i;
	}
	if ((w->base = event_base_new()) == NULL)
		return -ENOMEM;
	return tunclient_async_connect(w->base, path, &w->conn);
}

static void
world_close(struct world *w)
{
	int i;

	for (i = 0; i < SLOTS_MAX; i++)
		tunclient_lease_free(w->slots[i].lease);
	tunclient_async_free(w->conn);
	if (w->ticker != NULL)
		event_free(w->ticker);
	tunclient_request_free(w->poke_req);
	event_base_free(w->base);
}

/* A request for a device called name with up to two addresses. */
static struct tunclient_request *
make_request(const char *name, const char *addr, const char *addr2)
{
	struct tunclient_request *req;

	if (tunclient_request_new(&req) != 0)
		return NULL;
	if ((name != NULL && tunclient_request_set_name(req, name) != 0) ||
	    (addr != NULL && tunclient_request_add_address(req, addr) != 0) ||
	    (addr2 != NULL && tunclient_request_add_address(req, addr2) != 0)) {
		tunclient_request_free(req);
		return NULL;
	}
	return req;
}

/* Sends a request for name with one address; 0 or a negative errno. */
static int
send_request(struct world *w, int i, const char *name, const char *addr)
{
	struct tunclient_request *req = make_request(name, addr, NULL);
	int r;

	if (req == NULL)
		return -EINVAL;
	r = tunclient_async_request(w->conn, req, on_lease, &w->slots[i],
	    &w->slots[i].pending);
	/* The request is copied at once: freeing it here is allowed. */
	tunclient_request_free(req);
	if (r == 0)
		w->expected++;
	return r;
}

/* Polls until the link called name exists (or not); false on timeout. */
static bool
link_settles(const char *name, bool present)
{
	struct netinfo_link link;
	int i, r;

	for (i = 0; i < 300; i++) {
		r = netinfo_link_by_name(name, &link);
		if (present ? r == 0 : r == -ENODEV)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/* The kernel has name, with cidr among its addresses. */
static bool
link_has_address(const char *name, const char *cidr)
{
	struct netinfo_link link;

	return netinfo_link_by_name(name, &link) == 0 &&
	    netinfo_link_has_address(&link, cidr);
}

/* The name of the device fd is attached to, as the kernel says. */
static bool
fd_is_device(int fd, const char *name)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	return ioctl(fd, TUNGETIFF, &ifr) == 0 &&
	    strcmp(ifr.ifr_name, name) == 0;
}

/*
 * A root process that signals the broker when an unprivileged client asks
 * it to, through a pipe: 'c' continues it, 'k' kills it.  It continues
 * it and exits when the pipe closes; *go is the write end.
 */
static pid_t
broker_remote_start(struct testlib_broker *b, int *go)
{
	int p[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[1]);
		while (read(p[0], &c, 1) == 1)
			kill(b->pid, c == 'k' ? SIGKILL : SIGCONT);
		/* Never leave it stopped, even when the test failed. */
		kill(b->pid, SIGCONT);
		_exit(0);
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

/* Closes the pipe and waits for the remote to exit. */
static void
broker_remote_stop(pid_t pid, int go)
{
	int status;

	close(go);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
}

/* One request: a working lease, delivered on a loop that kept running. */
static int
client_one(void *arg)
{
	const struct scenario *sc = arg;
	struct timeval ms = { 0, 1000 };
	struct tunclient_request *req;
	struct netinfo_link link;
	struct world *w = calloc(1, sizeof(*w));
	struct slot *s = &w->slots[0];
	char text[64];
	const char *name;

	alarm(20);
	EXPECT_INT(world_open(w, sc->socket_path), 0);
	w->go_fd = sc->go_fd;
	w->ticker = event_new(w->base, -1, EV_PERSIST, on_tick, w);
	EXPECT(w->ticker != NULL && event_add(w->ticker, &ms) == 0);
	req = make_request("async0", "198.18.0.1/24", "2001:db8::1/64");
	EXPECT(req != NULL);
	EXPECT_INT(tunclient_async_request(w->conn, req, on_lease, s, NULL),
	    0);
	w->expected = 1;
	tunclient_request_free(req);
	EXPECT_INT(tunclient_async_in_flight(w->conn), 1);
	EXPECT_INT(s->calls, 0);

	/* Returns once the callback deleted the timer: nothing else is armed. */
	EXPECT(event_base_dispatch(w->base) >= 0);
	EXPECT_INT(s->calls, 1);
	if (s->result != 0)
		return expect_failed(__LINE__, "a lease, got %d: %s",
		    s->result, s->error);
	EXPECT_INT(tunclient_async_in_flight(w->conn), 0);
	/* The broker was stopped until the 20th tick. */
	EXPECT(w->go_fd >= 0);
	EXPECT(s->ticks >= 20);
	EXPECT(strcmp(s->error, "") == 0);

	name = tunclient_lease_name(s->lease);
	EXPECT(strcmp(name, "async0") == 0);
	EXPECT_INT(tunclient_lease_fd_count(s->lease), 1);
	EXPECT(fd_is_device(tunclient_lease_fd(s->lease, 0), "async0"));
	EXPECT_INT(tunclient_lease_address_count(s->lease), 2);
	EXPECT_INT(tunclient_lease_address(s->lease, 0, text, sizeof(text)), 0);
	EXPECT(strcmp(text, "198.18.0.1/24") == 0);
	EXPECT_INT(tunclient_lease_address(s->lease, 1, text, sizeof(text)), 0);
	EXPECT(strcmp(text, "2001:db8::1/64") == 0);
	EXPECT_INT(netinfo_link_by_name("async0", &link), 0);
	EXPECT_INT(link.ifindex, tunclient_lease_ifindex(s->lease));
	EXPECT(link_has_address("async0", "198.18.0.1/24"));
	world_close(w);
	free(w);
	return 0;
}

START_TEST(one_request_on_a_running_loop)
{
	struct testlib_broker b;
	struct scenario sc;
	pid_t remote;
	int go;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	/* Stopped, it cannot answer before the loop has ticked a while. */
	remote = broker_remote_start(&b, &go);
	ck_assert_int_eq(kill(b.pid, SIGSTOP), 0);
	sc = (struct scenario){ .socket_path = b.socket_path, .go_fd = go };
	run_as_nobody(client_one, &sc);
	broker_remote_stop(remote, go);
	ck_assert(link_settles("async0", false));
	testlib_broker_stop(&b);
}
END_TEST

#define PIPELINED	8

/* Eight requests sent before the loop runs; each gets its own reply. */
static int
client_pipeline(void *arg)
{
	const struct scenario *sc = arg;
	struct world *w = calloc(1, sizeof(*w));
	char addr[32], text[64];
	int i, j;

	alarm(20);
	EXPECT_INT(world_open(w, sc->socket_path), 0);
	for (i = 0; i < PIPELINED; i++) {
		snprintf(addr, sizeof(addr), "198.18.%d.1/24", i + 1);
		EXPECT_INT(send_request(w, i, "pipe%d", addr), 0);
	}
	EXPECT_INT(tunclient_async_in_flight(w->conn), PIPELINED);
	EXPECT(event_base_dispatch(w->base) >= 0);
	EXPECT_INT(tunclient_async_in_flight(w->conn), 0);
	for (i = 0; i < PIPELINED; i++) {
		struct slot *s = &w->slots[i];

		EXPECT_INT(s->calls, 1);
		if (s->result != 0)
			return expect_failed(__LINE__, "request %d: %d: %s", i,
			    s->result, s->error);
		snprintf(addr, sizeof(addr), "198.18.%d.1/24", i + 1);
		EXPECT_INT(tunclient_lease_address(s->lease, 0, text,
		    sizeof(text)), 0);
		if (strcmp(text, addr) != 0)
			return expect_failed(__LINE__,
			    "request %d got the lease for %s", i, text);
		EXPECT(strncmp(tunclient_lease_name(s->lease), "pipe", 4) == 0);
		EXPECT(link_has_address(tunclient_lease_name(s->lease), addr));
		for (j = 0; j < i; j++)
			EXPECT(strcmp(tunclient_lease_name(s->lease),
			    tunclient_lease_name(w->slots[j].lease)) != 0);
	}
	world_close(w);
	free(w);
	return 0;
}

START_TEST(pipelined_requests_matched)
{
	struct testlib_broker b;
	struct scenario sc;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	sc = (struct scenario){ .socket_path = b.socket_path, .go_fd = -1 };
	run_as_nobody(client_pipeline, &sc);
	testlib_broker_stop(&b);
}
END_TEST

/* Granted and refused requests in flight together. */
static int
client_mixed(void *arg)
{
	const struct scenario *sc = arg;
	struct world *w = calloc(1, sizeof(*w));
	struct slot *s = w->slots;

	alarm(20);
	EXPECT_INT(world_open(w, sc->socket_path), 0);
	EXPECT_INT(send_request(w, 0, "mix0", "198.18.20.1/24"), 0);
	EXPECT_INT(send_request(w, 1, "busy0", "198.18.21.1/24"), 0);
	EXPECT_INT(send_request(w, 2, "mix2", "198.18.22.1/24"), 0);
	/* The broker answers in order: mix0 exists by then. */
	EXPECT_INT(send_request(w, 3, "mix0", "198.18.23.1/24"), 0);
	EXPECT(event_base_dispatch(w->base) >= 0);
	EXPECT_INT(tunclient_async_in_flight(w->conn), 0);

	EXPECT(s[0].calls == 1 && s[0].result == 0 && s[0].lease != NULL);
	EXPECT(strcmp(tunclient_lease_name(s[0].lease), "mix0") == 0);
	EXPECT(s[2].calls == 1 && s[2].result == 0 && s[2].lease != NULL);
	EXPECT(strcmp(tunclient_lease_name(s[2].lease), "mix2") == 0);
	EXPECT_INT(s[1].calls, 1);
	EXPECT_INT(s[1].result, -EEXIST);
	EXPECT(s[1].lease == NULL);
	if (strstr(s[1].error, "busy0") == NULL ||
	    strstr(s[1].error, "exists") == NULL)
		return expect_failed(__LINE__, "a clear refusal, got: %s",
		    s[1].error);
	EXPECT_INT(s[3].calls, 1);
	EXPECT_INT(s[3].result, -EEXIST);
	EXPECT(s[3].lease == NULL && strstr(s[3].error, "mix0") != NULL);
	world_close(w);
	free(w);
	return 0;
}

START_TEST(granted_and_refused_together)
{
	struct ifreq ifr = { .ifr_name = "busy0" };
	struct testlib_broker b;
	struct scenario sc;
	int fd;

	testlib_enter_netns();
	/* Someone else's device. */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	ck_assert_int_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
	testlib_broker_start(&b, ALLOW_NOBODY);
	sc = (struct scenario){ .socket_path = b.socket_path, .go_fd = -1 };
	run_as_nobody(client_mixed, &sc);
	ck_assert(link_settles("busy0", true));
	close(fd);
	testlib_broker_stop(&b);
}
END_TEST

/* One of three requests cancelled: no callback, and no device left. */
static int
client_cancel(void *arg)
{
	const struct scenario *sc = arg;
	struct world *w = calloc(1, sizeof(*w));
	struct slot *s = w->slots;

	alarm(20);
	EXPECT_INT(world_open(w, sc->socket_path), 0);
	EXPECT_INT(send_request(w, 0, "cancel0", "198.18.30.1/24"), 0);
	EXPECT_INT(send_request(w, 1, "cancel1", "198.18.31.1/24"), 0);
	EXPECT_INT(send_request(w, 2, "cancel2", "198.18.32.1/24"), 0);
	EXPECT(s[1].pending != NULL);
	tunclient_async_cancel(s[1].pending);
	w->expected--;
	/* Sent, so still in flight until its reply comes. */
	EXPECT_INT(tunclient_async_in_flight(w->conn), 3);
	EXPECT(event_base_dispatch(w->base) >= 0);
	EXPECT_INT(tunclient_async_in_flight(w->conn), 0);
	EXPECT_INT(s[1].calls, 0);
	EXPECT(s[0].calls == 1 && s[0].result == 0);
	EXPECT(s[2].calls == 1 && s[2].result == 0);
	EXPECT(link_settles("cancel1", false));
	EXPECT(link_settles("cancel0", true));
	EXPECT(link_settles("cancel2", true));
	world_close(w);
	free(w);
	return 0;
}

START_TEST(cancel_closes_the_device)
{
	struct testlib_broker b;
	struct scenario sc;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	sc = (struct scenario){ .socket_path = b.socket_path, .go_fd = -1 };
	run_as_nobody(client_cancel, &sc);
	/* The broker did create it: the library closed it. */
	free(testlib_broker_log_with(&b, "create cancel1 "));
	ck_assert(link_settles("cancel1", false));
	testlib_broker_stop(&b);
}
END_TEST

/* True once the broker's log has needle, polling up to 3 s. */
static bool
log_shows(const char *path, const char *needle)
{
	char *log;
	bool found;
	int i;

	for (i = 0; i < 300; i++) {
		log = testlib_read_file(path);
		found = log != NULL && strstr(log, needle) != NULL;
		free(log);
		if (found)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/*
 * Freeing a connection with requests in flight: each callback runs once
 * with -ECANCELED before free returns, even one that calls back in; and a
 * callback that frees the connection on the loop is safe.
 */
static int
client_free(void *arg)
{
	const struct scenario *sc = arg;
	struct world *w = calloc(1, sizeof(*w));
	struct slot *s = w->slots;
	char name[16];
	int i;

	alarm(20);
	EXPECT_INT(world_open(w, sc->socket_path), 0);
	w->poke_in_slot = 1;
	w->poke_req = make_request("free9", NULL, NULL);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "free%d", i);
		EXPECT_INT(send_request(w, i, name, "198.18.40.1/24"), 0);
	}
	tunclient_async_free(w->conn);
	for (i = 0; i < 3; i++) {
		EXPECT_INT(s[i].calls, 1);
		EXPECT_INT(s[i].result, -ECANCELED);
		EXPECT(s[i].lease == NULL && s[i].error[0] != '\0');
	}
	/* Inside free, new requests are refused and free again does nothing. */
	EXPECT_INT(w->poke_request, -ESHUTDOWN);
	w->conn = NULL;
	/* The broker's reply found nobody: whatever it created is gone. */
	EXPECT(log_shows(sc->log_path, "disconnect"));
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "free%d", i);
		EXPECT(link_settles(name, false));
	}
	world_close(w);

	/* A callback frees the connection from the loop. */
	EXPECT_INT(world_open(w, sc->socket_path), 0);
	w->free_in_slot = 0;
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "onloop%d", i);
		EXPECT_INT(send_request(w, i, name, "198.18.41.1/24"), 0);
	}
	EXPECT(event_base_dispatch(w->base) >= 0);
	EXPECT(w->conn == NULL);
	EXPECT(s[0].calls == 1 && s[0].result == 0 && s[0].lease != NULL);
	for (i = 1; i < 3; i++) {
		EXPECT_INT(s[i].calls, 1);
		EXPECT_INT(s[i].result, -ECANCELED);
	}
	world_close(w);
	free(w);
	return 0;
}

START_TEST(free_cancels_what_is_in_flight)
{
	struct testlib_broker b;
	struct scenario sc;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	sc = (struct scenario){ .socket_path = b.socket_path,
	    .log_path = b.log_path, .go_fd = -1 };
	run_as_nobody(client_free, &sc);
	testlib_broker_stop(&b);
}
END_TEST

/* The broker dies with requests in flight: each fails, nothing hangs. */
static int
client_broker_dies(void *arg)
{
	const struct scenario *sc = arg;
	struct world *w = calloc(1, sizeof(*w));
	struct slot *s = w->slots;
	char name[16];
	int i;

	alarm(20);
	EXPECT_INT(world_open(w, sc->socket_path), 0);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "dies%d", i);
		EXPECT_INT(send_request(w, i, name, "198.18.60.1/24"), 0);
	}
	EXPECT_INT(tunclient_async_in_flight(w->conn), 3);
	EXPECT_INT(write(sc->go_fd, "k", 1), 1);
	EXPECT(event_base_dispatch(w->base) >= 0);
	EXPECT_INT(tunclient_async_in_flight(w->conn), 0);
	for (i = 0; i < 3; i++) {
		EXPECT_INT(s[i].calls, 1);
		EXPECT_INT(s[i].result, -ECONNRESET);
		EXPECT(s[i].lease == NULL);
		EXPECT(strstr(s[i].error, "closed the connection") != NULL);
	}
	EXPECT_INT(send_request(w, 3, "dies3", NULL), -ECONNRESET);
	world_close(w);
	free(w);
	return 0;
}

START_TEST(broker_dies_under_requests)
{
	struct testlib_broker b;
	struct scenario sc;
	pid_t remote;
	int go, status;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	/*
	 * Stopped, the broker accepts no connection and answers nothing, but
	 * the kernel still completes a connect: requests stay in flight
	 * until the client has the broker killed.
	 */
	remote = broker_remote_start(&b, &go);
	ck_assert_int_eq(kill(b.pid, SIGSTOP), 0);
	sc = (struct scenario){ .socket_path = b.socket_path, .go_fd = go };
	run_as_nobody(client_broker_dies, &sc);
	broker_remote_stop(remote, go);
	ck_assert_int_eq(waitpid(b.pid, &status, 0), b.pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	testlib_rmtree(b.dir);
	free(b.dir);
	free(b.socket_path);
	free(b.config_path);
	free(b.log_path);
}
END_TEST

START_TEST(connect_errors)
{
	struct event_base *base;
	struct tunclient_async *conn = (void *)1;
	char longpath[200];

	testlib_enter_netns();
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ck_assert_int_eq(tunclient_async_connect(base, "/nonexistent/socket",
	    &conn), -ENOENT);
	ck_assert_ptr_null(conn);
	setenv(TUNCLIENT_SOCKET_ENV, "/nonexistent/socket", 1);
	ck_assert_int_eq(tunclient_async_connect(base, NULL, &conn), -ENOENT);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(tunclient_async_connect(base, longpath, &conn),
	    -ENAMETOOLONG);
	tunclient_async_free(NULL);
	tunclient_async_cancel(NULL);
	event_base_free(base);
}
END_TEST

/*
 * A scripted broker: listens at path and, for each connection, calls
 * script(fd, arg) in a child process.
 */
struct scripted {
	char *dir;
	char *path;
	pid_t pid;
	int go[2];		/* the script may wait for a byte here */
};

static void
scripted_start(struct scripted *sb, void (*script)(struct scripted *, int))
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int lfd, fd;

	sb->dir = testlib_mkdtemp();
	ck_assert_int_ge(asprintf(&sb->path, "%s/socket", sb->dir), 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sb->path);
	ck_assert_int_eq(pipe2(sb->go, O_CLOEXEC), 0);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	sb->pid = fork();
	ck_assert_int_ge(sb->pid, 0);
	if (sb->pid == 0) {
		close(sb->go[1]);
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			_exit(2);
		script(sb, fd);
		_exit(0);
	}
	close(sb->go[0]);
	close(lfd);
}

/* Waits for the script to end; returns its exit status. */
static int
scripted_stop(struct scripted *sb)
{
	int status;

	close(sb->go[1]);
	ck_assert_int_eq(waitpid(sb->pid, &status, 0), sb->pid);
	testlib_rmtree(sb->dir);
	free(sb->dir);
	free(sb->path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * Refuses every request, naming the device asked for, once told to start;
 * exits 7 if it saw a request for "gone".
 */
static void
script_refuse_all(struct scripted *sb, int fd)
{
	static uint8_t buf[TB_MSG_MAX_SIZE];
	struct tb_create_request req;
	struct tb_error e;
	struct tb_builder b;
	struct tb_msg msg;
	int fds[TB_MSG_MAX_FDS];
	bool saw_gone = false;
	size_t nfds;
	ssize_t n;
	char c;

	if (read(sb->go[0], &c, 1) != 1)
		_exit(3);
	while ((n = tb_recv(fd, buf, sizeof(buf), fds, &nfds, NULL)) > 0) {
		if (tb_msg_parse(&msg, buf, (size_t)n, nfds, NULL) != 0 ||
		    tb_decode_create(&msg, &req, NULL) != 0)
			_exit(4);
		saw_gone |= strcmp(req.name, "gone") == 0;
		tb_error_set(&e, -EACCES, "%s", req.name);
		if (tb_encode_error(&b, msg.hdr.seq, &e) != 0 ||
		    tb_send(fd, b.buf, b.len, NULL, 0) != 0)
			_exit(5);
		tb_builder_release(&b);
	}
	_exit(saw_gone ? 7 : 0);
}

/*
 * More requests than the socket holds: the rest wait in the library's
 * bounded queue and go out in order; a queued one cancelled never
 * reaches the broker.
 */
START_TEST(queued_requests_go_out_in_order)
{
	struct scripted sb;
	struct world *w = calloc(1, sizeof(*w));
	char name[16];
	int i, n, r;

	testlib_enter_netns();
	scripted_start(&sb, script_refuse_all);
	ck_assert_int_eq(world_open(w, sb.path), 0);
	/* The broker reads nothing yet: the socket fills, then the queue. */
	for (n = 0; n < SLOTS_MAX; n++) {
		snprintf(name, sizeof(name), "q%d", n);
		if ((r = send_request(w, n, name, NULL)) != 0)
			break;
	}
	ck_assert_int_eq(r, -ENOBUFS);
	ck_assert_int_lt(n, SLOTS_MAX);
	ck_assert_uint_eq(tunclient_async_in_flight(w->conn), n);
	/* The last one is surely queued: cancelling it drops it at once. */
	tunclient_async_cancel(w->slots[n - 1].pending);
	w->expected--;
	ck_assert_uint_eq(tunclient_async_in_flight(w->conn), n - 1);
	/* Room again for one, queued behind the others. */
	ck_assert_int_eq(send_request(w, n - 1, "gone", NULL), 0);
	tunclient_async_cancel(w->slots[n - 1].pending);
	w->expected--;

	ck_assert_int_eq(write(sb.go[1], "g", 1), 1);
	ck_assert_int_ge(event_base_dispatch(w->base), 0);
	ck_assert_uint_eq(tunclient_async_in_flight(w->conn), 0);
	for (i = 0; i < n - 1; i++) {
		snprintf(name, sizeof(name), "q%d", i);
		ck_assert_int_eq(w->slots[i].calls, 1);
		ck_assert_int_eq(w->slots[i].result, -EACCES);
		ck_assert_str_eq(w->slots[i].error, name);
	}
	ck_assert_int_eq(w->slots[n - 1].calls, 0);
	world_close(w);
	free(w);
	ck_assert_int_eq(scripted_stop(&sb), 0);
}
END_TEST

/* Answers the first request, then one nobody asked. */
static void
script_unknown_seq(struct scripted *sb, int fd)
{
	static uint8_t buf[TB_MSG_MAX_SIZE];
	struct tb_error e = { .code = -EACCES, .text = "first" };
	struct tb_builder b;
	struct tb_msg msg;
	int fds[TB_MSG_MAX_FDS];
	size_t nfds;
	ssize_t n;
	char c;

	(void)sb;
	n = tb_recv(fd, buf, sizeof(buf), fds, &nfds, NULL);
	if (n <= 0 || tb_msg_parse(&msg, buf, (size_t)n, nfds, NULL) != 0)
		_exit(3);
	tb_encode_error(&b, msg.hdr.seq, &e);
	tb_send(fd, b.buf, b.len, NULL, 0);
	tb_builder_release(&b);
	tb_encode_error(&b, msg.hdr.seq + 1000, &e);
	tb_send(fd, b.buf, b.len, NULL, 0);
	tb_builder_release(&b);
	/* Hold the connection until the client closes it. */
	while (recv(fd, &c, 1, 0) > 0)
		;
}

/* A reply for no request: everything in flight fails, the connection dies. */
START_TEST(unknown_reply_kills_the_connection)
{
	struct scripted sb;
	struct world *w = calloc(1, sizeof(*w));

	testlib_enter_netns();
	scripted_start(&sb, script_unknown_seq);
	ck_assert_int_eq(world_open(w, sb.path), 0);
	ck_assert_int_eq(send_request(w, 0, "a0", NULL), 0);
	ck_assert_int_eq(send_request(w, 1, "a1", NULL), 0);
	ck_assert_int_eq(send_request(w, 2, "a2", NULL), 0);
	ck_assert_int_ge(event_base_dispatch(w->base), 0);
	ck_assert_int_eq(w->slots[0].calls, 1);
	ck_assert_int_eq(w->slots[0].result, -EACCES);
	ck_assert_str_eq(w->slots[0].error, "first");
	ck_assert_int_eq(w->slots[1].calls, 1);
	ck_assert_int_eq(w->slots[1].result, -EPROTO);
	ck_assert_ptr_nonnull(strstr(w->slots[1].error, "sequence number"));
	ck_assert_int_eq(w->slots[2].calls, 1);
	ck_assert_int_eq(w->slots[2].result, -EPROTO);
	ck_assert_uint_eq(tunclient_async_in_flight(w->conn), 0);
	ck_assert_int_eq(send_request(w, 3, "a3", NULL), -ECONNRESET);
	world_close(w);
	free(w);
	ck_assert_int_eq(scripted_stop(&sb), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("async");
	TCase *tc = tcase_create("async");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, one_request_on_a_running_loop);
	tcase_add_test(tc, pipelined_requests_matched);
	tcase_add_test(tc, granted_and_refused_together);
	tcase_add_test(tc, cancel_closes_the_device);
	tcase_add_test(tc, free_cancels_what_is_in_flight);
	tcase_add_test(tc, broker_dies_under_requests);
	tcase_add_test(tc, connect_errors);
	tcase_add_test(tc, queued_requests_go_out_in_order);
	tcase_add_test(tc, unknown_reply_kills_the_connection);
	suite_add_tcase(s, tc);
	return testlib_run(s, true);
}
