/*
 * What a client can make the broker hold, against a real tunbrokerd with
 * small [limits] in a fresh network namespace: connections in total and
 * per uid, idle connections, oversized requests, a client that never
 * reads, and the capabilities the broker keeps once it serves.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "fdpass.h"
#include "testlib.h"
#include "tunclient.h"

/* The policy every broker here runs with, after its [limits]. */
#define RULE_FOR_NOBODY \
	"[rule nobody]\n" \
	"users = 65534\n" \
	"addresses = 198.18.0.0/15\n" \
	"max-devices = 4\n"

/* Fills b's paths under a fresh directory and writes its configuration. */
static void
broker_prepare(struct testlib_broker *b, const char *limits_lines)
{
	char *config;
	FILE *f;

	memset(b, 0, sizeof(*b));
	b->dir = testlib_mkdtemp();
	b->socket_path = testlib_strf("%s/run/socket", b->dir);
	b->config_path = testlib_strf("%s/tunbrokerd.conf", b->dir);
	b->log_path = testlib_strf("%s/broker.log", b->dir);
	config = testlib_strf("[socket]\nmode = 0666\ngroup = %d\n[limits]\n%s"
	    RULE_FOR_NOBODY, TESTLIB_GID, limits_lines);
	f = fopen(b->config_path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(config, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	free(config);
}

/* Starts a broker whose [limits] section is limits_lines. */
static void
broker_start(struct testlib_broker *b, const char *limits_lines)
{
	int status;

	broker_prepare(b, limits_lines);
	if (!testlib_broker_launch(b, &status))
		ck_abort_msg("tunbrokerd exited (status 0x%x) instead of "
		    "listening; its log:\n%s", status,
		    testlib_read_file(b->log_path));
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A raw client, connected as the test process (uid 0). */
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

/* Sends a PING; false if the broker has closed the connection. */
static bool
send_ping(int fd, uint32_t seq)
{
	struct tb_builder msg;
	int r;

	ck_assert_int_eq(tb_encode_simple(&msg, TB_MSG_PING, seq), 0);
	r = tb_send(fd, msg.buf, msg.len, NULL, 0);
	tb_builder_release(&msg);
	ck_assert_msg(r == 0 || r == -EPIPE || r == -ECONNRESET,
	    "sending a PING: %s", strerror(-r));
	return r == 0;
}

/*
 * Waits up to timeout_ms for one reply on fd and parses it into msg
 * (pointing into buf); false if none came.
 */
static bool
recv_reply(int fd, uint8_t *buf, struct tb_msg *msg, int timeout_ms)
{
	int fds[TB_MSG_MAX_FDS];
	struct tb_error err = { 0 };
	size_t nfds;
	ssize_t n;

	if (poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1,
	    timeout_ms) != 1)
		return false;
	n = tb_recv(fd, buf, TB_MSG_MAX_SIZE, fds, &nfds, &err);
	if (n <= 0)
		return false;
	ck_assert_int_eq(nfds, 0);
	ck_assert_msg(tb_msg_parse(msg, buf, (size_t)n, 0, &err) == 0,
	    "reply does not parse: %s", err.text);
	return true;
}

/* Pings over a raw connection; true if the PONG came back. */
static bool
ping_ok(int fd, uint32_t seq)
{
	static uint8_t buf[TB_MSG_MAX_SIZE];
	struct tb_msg msg;

	return send_ping(fd, seq) && recv_reply(fd, buf, &msg, 5000) &&
	    msg.hdr.type == TB_MSG_PONG && msg.hdr.seq == seq;
}

/* Receives one ERROR with sequence number seq and returns it. */
static struct tb_error
expect_error_reply(int fd, uint32_t seq)
{
	static uint8_t buf[TB_MSG_MAX_SIZE];
	struct tb_error got = { 0 };
	struct tb_msg msg;

	ck_assert_msg(recv_reply(fd, buf, &msg, 5000), "no reply");
	ck_assert_int_eq(msg.hdr.type, TB_MSG_ERROR);
	ck_assert_uint_eq(msg.hdr.seq, seq);
	tb_decode_error(&msg, &got);
	return got;
}

/* True once the broker has closed the connection (within timeout_ms). */
static bool
closed_by_broker(int fd, int timeout_ms)
{
	char c;

	if (poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1,
	    timeout_ms) != 1)
		return false;
	return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

/* True if the log of b contains text. */
static bool
log_has(const struct testlib_broker *b, const char *text)
{
	char *log = testlib_read_file(b->log_path);
	bool found = log != NULL && strstr(log, text) != NULL;

	free(log);
	return found;
}

/*
 * Run as uid 65534: connects and requests a device with an address, then
 * lets it go.  0 if granted.
 */
static int
nobody_gets_device(void *arg)
{
	const char *socket_path = arg;
	struct tunclient_request *req = NULL;
	struct tunclient_lease *lease = NULL;
	struct tunclient_conn *conn = NULL;
	int r;

	if ((r = tunclient_request_new(&req)) == 0)
		r = tunclient_request_add_address(req, "198.18.0.1/24");
	if (r == 0 && (r = tunclient_connect(socket_path, &conn)) == 0 &&
	    (r = tunclient_request(conn, req, &lease)) != 0)
		fprintf(stderr, "refused: %s\n", tunclient_conn_error(conn));
	if (r == 0 && tunclient_lease_fd(lease, 0) < 0)
		r = -EBADF;
	tunclient_lease_free(lease);
	tunclient_close(conn);
	tunclient_request_free(req);
	return r == 0 ? 0 : 1;
}

/* Run as uid 65534: one ping.  0 if answered. */
static int
nobody_pings(void *arg)
{
	struct tunclient_conn *conn;
	int r;

	if ((r = tunclient_connect(arg, &conn)) != 0)
		return 1;
	r = tunclient_ping(conn);
	tunclient_close(conn);
	return r == 0 ? 0 : 1;
}

/* Connects until the broker accepts one more (a slot frees on close). */
static int
connect_when_admitted(const char *path)
{
	int i, fd;

	for (i = 0; i < 200; i++) {
		fd = raw_connect(path);
		if (ping_ok(fd, 1))
			return fd;
		close(fd);
		usleep(10 * 1000);
	}
	ck_abort_msg("the broker never admitted the connection again");
	return -1;
}

START_TEST(connections_per_user)
{
	struct tunclient_conn *conn;
	struct testlib_broker b;
	struct tb_error err;
	int fds[3], extra, i;

	testlib_enter_netns();
	broker_start(&b, "connections-per-user = 3\n");
	for (i = 0; i < 3; i++) {
		fds[i] = raw_connect(b.socket_path);
		ck_assert_msg(ping_ok(fds[i], 1), "connection %d not served", i);
	}
	/* The fourth is told why, without having asked anything, and closed. */
	extra = raw_connect(b.socket_path);
	err = expect_error_reply(extra, 0);
	ck_assert_int_eq(err.code, -EUSERS);
	ck_assert_str_eq(err.text, "uid 0 already has 3 connections, the most "
	    "[limits] connections-per-user allows");
	ck_assert(closed_by_broker(extra, 5000));
	close(extra);
	ck_assert(log_has(&b, "refuse uid=0 pid="));

	/* Through libtunclient the refusal reads as the broker's sentence. */
	ck_assert_int_eq(tunclient_connect(b.socket_path, &conn), 0);
	ck_assert_int_eq(tunclient_ping(conn), -EUSERS);
	ck_assert_str_eq(tunclient_conn_error(conn), "uid 0 already has 3 "
	    "connections, the most [limits] connections-per-user allows");
	tunclient_close(conn);

	/* Another uid is not affected; the three still are served. */
	ck_assert_int_eq(testlib_run_as_user(nobody_pings, b.socket_path), 0);
	for (i = 0; i < 3; i++)
		ck_assert(ping_ok(fds[i], 2));

	/* Closing one makes room for one. */
	close(fds[0]);
	fds[0] = connect_when_admitted(b.socket_path);
	extra = raw_connect(b.socket_path);
	ck_assert_int_eq(expect_error_reply(extra, 0).code, -EUSERS);
	close(extra);
	for (i = 0; i < 3; i++)
		close(fds[i]);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(connections_in_total)
{
	struct testlib_broker b;
	struct tb_error err;
	int fds[4], extra, i;

	testlib_enter_netns();
	broker_start(&b, "connections = 4\nconnections-per-user = 16\n");
	for (i = 0; i < 4; i++) {
		fds[i] = raw_connect(b.socket_path);
		ck_assert(ping_ok(fds[i], 1));
	}
	extra = raw_connect(b.socket_path);
	err = expect_error_reply(extra, 0);
	ck_assert_int_eq(err.code, -EUSERS);
	ck_assert_str_eq(err.text, "the broker already has 4 connections, the "
	    "most [limits] connections allows; uid 0 must wait");
	ck_assert(closed_by_broker(extra, 5000));
	close(extra);
	/* Every uid counts towards the total. */
	ck_assert_int_ne(testlib_run_as_user(nobody_pings, b.socket_path), 0);

	close(fds[3]);
	fds[3] = connect_when_admitted(b.socket_path);
	for (i = 0; i < 4; i++)
		close(fds[i]);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(idle_connection_closed)
{
	struct testlib_broker b;
	double start, closed_at = 0;
	uint32_t seq = 1;
	int idle, active;

	testlib_enter_netns();
	broker_start(&b, "idle-timeout = 1\n");
	start = now();
	idle = raw_connect(b.socket_path);
	active = raw_connect(b.socket_path);
	/* The active client pings every 300 ms for 3 s. */
	while (now() - start < 3.0) {
		ck_assert_msg(ping_ok(active, seq++),
		    "an active connection was dropped after %.1f s",
		    now() - start);
		if (closed_at == 0 && closed_by_broker(idle, 0))
			closed_at = now() - start;
		usleep(300 * 1000);
	}
	ck_assert_msg(closed_at > 0, "the idle connection is still open "
	    "after 3 s");
	ck_assert_msg(closed_at >= 0.9 && closed_at <= 2.2,
	    "the idle connection was closed after %.2f s, not about 1 s",
	    closed_at);
	ck_assert(log_has(&b, "silent for 1 s"));
	close(idle);
	close(active);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(oversized_request_refused)
{
	static const uint8_t pad[80];
	struct testlib_broker b;
	struct tb_builder msg;
	struct tb_msg parsed;
	struct tb_error err;
	int fd;

	testlib_enter_netns();
	broker_start(&b, "message-size = 64\n");
	/* A valid PING of 100 bytes: an optional attribute is skipped. */
	ck_assert_int_eq(tb_builder_init(&msg, TB_MSG_PING, 42), 0);
	tb_builder_put(&msg, TB_ATTR_F_OPTIONAL | 100, pad, sizeof(pad));
	ck_assert_int_eq(tb_builder_finish(&msg), 0);
	ck_assert_uint_eq(msg.len, 100);
	ck_assert_msg(tb_msg_parse(&parsed, msg.buf, msg.len, 0, &err) == 0,
	    "the request is not valid: %s", err.text);

	fd = raw_connect(b.socket_path);
	ck_assert(ping_ok(fd, 41));	/* 16 bytes: within the limit */
	ck_assert_int_eq(tb_send(fd, msg.buf, msg.len, NULL, 0), 0);
	err = expect_error_reply(fd, 42);
	ck_assert_int_eq(err.code, -EMSGSIZE);
	ck_assert_str_eq(err.text, "message of 100 bytes is over the 64 bytes "
	    "[limits] message-size allows");
	ck_assert(closed_by_broker(fd, 5000));
	close(fd);
	tb_builder_release(&msg);

	fd = raw_connect(b.socket_path);
	ck_assert(ping_ok(fd, 1));
	close(fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(client_that_never_reads)
{
	struct tunclient_conn *good;
	struct testlib_broker b;
	struct tb_builder ping;
	double slowest = 0, t;
	int fd, before, sent = 0, r = 0;

	testlib_enter_netns();
	broker_start(&b, "idle-timeout = 60\n");
	ck_assert_int_eq(tunclient_connect(b.socket_path, &good), 0);
	ck_assert_int_eq(tunclient_ping(good), 0);
	/* Once the start-up probe's connection is gone too. */
	before = testlib_broker_settled_fds(&b);

	fd = raw_connect(b.socket_path);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(tb_encode_simple(&ping, TB_MSG_PING, 1), 0);
	/* Requests without end, never a read; the good client meanwhile. */
	while (sent < 100000) {
		r = tb_send(fd, ping.buf, ping.len, NULL, 0);
		if (r == -EAGAIN) {
			poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1,
			    100);
			continue;
		}
		if (r != 0)
			break;
		if (++sent % 50 == 0) {
			t = now();
			ck_assert_int_eq(tunclient_ping(good), 0);
			if (now() - t > slowest)
				slowest = now() - t;
		}
	}
	tb_builder_release(&ping);
	ck_assert_msg(r == -EPIPE || r == -ECONNRESET,
	    "the client that never reads was not dropped after %d requests "
	    "(last send: %s)", sent, strerror(-r));
	close(fd);
	ck_assert_msg(slowest < 0.1, "a ping took %.3f s during the flood",
	    slowest);
	ck_assert(log_has(&b, "does not read its replies"));

	/* Nothing of the dropped client stays, and service goes on. */
	ck_assert_int_eq(tunclient_ping(good), 0);
	ck_assert_int_eq(testlib_count_fds(b.pid), before);
	ck_assert_int_eq(testlib_run_as_user(nobody_gets_device,
	    b.socket_path), 0);
	tunclient_close(good);
	testlib_broker_stop(&b);
}
END_TEST

/* The value of field (e.g. "CapEff:") in /proc/pid/status, as a number. */
static unsigned long long
status_field(pid_t pid, const char *field, int base)
{
	unsigned long long value;
	char path[64], *text, *at;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = testlib_read_file(path);
	ck_assert_ptr_nonnull(text);
	at = strstr(text, field);
	ck_assert_msg(at != NULL, "no %s in %s", field, path);
	value = strtoull(at + strlen(field), NULL, base);
	free(text);
	return value;
}

START_TEST(keeps_only_net_admin)
{
	const unsigned long long net_admin = 1ull << CAP_NET_ADMIN;
	struct testlib_broker b;
	int fd;

	testlib_enter_netns();
	broker_start(&b, "");
	/* Its socket listens before it drops; it answers only after. */
	fd = raw_connect(b.socket_path);
	ck_assert(ping_ok(fd, 1));
	close(fd);
	ck_assert_uint_eq(status_field(b.pid, "CapEff:", 16), net_admin);
	ck_assert_uint_eq(status_field(b.pid, "CapPrm:", 16), net_admin);
	ck_assert_uint_eq(status_field(b.pid, "CapBnd:", 16), net_admin);
	ck_assert_uint_eq(status_field(b.pid, "CapInh:", 16), 0);
	ck_assert_uint_eq(status_field(b.pid, "CapAmb:", 16), 0);
	ck_assert_uint_eq(status_field(b.pid, "NoNewPrivs:", 10), 1);
	ck_assert_uint_eq(status_field(b.pid, "Uid:", 10), 0);
	ck_assert(log_has(&b, "capabilities: effective 0x1000, permitted "
	    "0x1000, inheritable 0, bounding 0x1000, ambient none; "
	    "no_new_privs 1"));
	/* What it kept is enough to create and configure a device. */
	ck_assert_int_eq(testlib_run_as_user(nobody_gets_device,
	    b.socket_path), 0);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(refuses_to_start_without_net_admin)
{
	struct testlib_broker b;
	char *log;
	int status;

	testlib_enter_netns();
	broker_prepare(&b, "");
	/* Root whose bounding set lacks it: the broker's exec cannot get it. */
	ck_assert_int_eq(prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0), 0);
	/*
	 * It binds its socket before it looks at its capabilities, so it may
	 * be seen listening for a moment: either way it must exit by itself.
	 */
	if (testlib_broker_launch(&b, &status))
		ck_assert_int_eq(waitpid(b.pid, &status, 0), b.pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	log = testlib_read_file(b.log_path);
	ck_assert_msg(strstr(log, "tunbrokerd needs CAP_NET_ADMIN") != NULL,
	    "unclear failure: %s", log);
	free(log);
	ck_assert_msg(access(b.socket_path, F_OK) != 0,
	    "the socket stayed behind");
	testlib_rmtree(b.dir);
	free(b.dir);
	free(b.socket_path);
	free(b.config_path);
	free(b.log_path);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, connections_per_user);
	tcase_add_test(tc, connections_in_total);
	tcase_add_test(tc, idle_connection_closed);
	tcase_add_test(tc, oversized_request_refused);
	tcase_add_test(tc, client_that_never_reads);
	tcase_add_test(tc, keeps_only_net_admin);
	tcase_add_test(tc, refuses_to_start_without_net_admin);
	suite_add_tcase(s, tc);
	return testlib_run(s, true);
}
