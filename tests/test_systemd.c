/*
 * tunbrokerd under a service manager, in a fresh network namespace:
 * socket activation through systemd-socket-activate(1), the sd_notify(3)
 * messages read from a NOTIFY_SOCKET the test binds, and SIGTERM, after
 * which clients keep their devices.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"
#include "tunclient.h"

#define SOCKET_ACTIVATE	"/usr/bin/systemd-socket-activate"

/* Fills b's paths under a fresh directory; the rule lets uid 0 in. */
static void
broker_prepare(struct testlib_broker *b)
{
	memset(b, 0, sizeof(*b));
	b->dir = testlib_mkdtemp();
	b->socket_path = testlib_strf("%s/socket", b->dir);
	b->config_path = testlib_strf("%s/tunbrokerd.conf", b->dir);
	b->log_path = testlib_strf("%s/broker.log", b->dir);
	testlib_write_file(b->config_path, "[rule root]\nusers = 0\n"
	    "addresses = 198.18.0.0/15\nmax-devices = 4\n");
}

static void
broker_free(struct testlib_broker *b)
{
	testlib_rmtree(b->dir);
	free(b->dir);
	free(b->socket_path);
	free(b->config_path);
	free(b->log_path);
}

/* Sends SIGTERM and returns the broker's wait status. */
static int
broker_terminate(struct testlib_broker *b)
{
	int status;

	ck_assert_int_eq(kill(b->pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(b->pid, &status, 0), b->pid);
	return status;
}

/* True if b's log, read now, contains text. */
static bool
log_has(const struct testlib_broker *b, const char *text)
{
	char *log = testlib_read_file(b->log_path);
	bool found = log != NULL && strstr(log, text) != NULL;

	free(log);
	return found;
}

/*
 * Runs systemd-socket-activate listening on b->socket_path (type
 * seqpacket or stream), which runs tunbrokerd on the first connection.
 * Returns once the socket exists.
 */
static void
activate_start(struct testlib_broker *b, bool seqpacket)
{
	const char *daemon = getenv("TUNBROKERD");
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	char *listen = testlib_strf("--listen=%s", b->socket_path);
	int i;

	ck_assert_ptr_nonnull(daemon);
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		int log = open(b->log_path, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0644);

		if (log < 0 || dup2(log, STDOUT_FILENO) < 0 ||
		    dup2(log, STDERR_FILENO) < 0)
			_exit(126);
		if (seqpacket)
			execl(SOCKET_ACTIVATE, SOCKET_ACTIVATE, "--seqpacket",
			    listen, daemon, "--foreground", "--verbose",
			    "--socket", b->socket_path, "--config",
			    b->config_path, (char *)NULL);
		else
			execl(SOCKET_ACTIVATE, SOCKET_ACTIVATE, listen, daemon,
			    "--foreground", "--verbose", "--config",
			    b->config_path, (char *)NULL);
		_exit(127);
	}
	free(listen);
	for (i = 0; i < 500 && access(b->socket_path, F_OK) != 0; i++)
		nanosleep(&pause, NULL);
	ck_assert_msg(access(b->socket_path, F_OK) == 0,
	    "systemd-socket-activate did not make %s; its log:\n%s",
	    b->socket_path, testlib_read_file(b->log_path));
}

/*
 * systemd-socket-activate makes the socket file at bind(2), a moment
 * before listen(2): until then a connection is refused.
 */
static int
connect_when_listening(const char *path, struct tunclient_conn **conn)
{
	int i, r = -ECONNREFUSED;

	for (i = 0; i < 500 && r == -ECONNREFUSED; i++) {
		if ((r = tunclient_connect(path, conn)) == -ECONNREFUSED)
			usleep(10 * 1000);
	}
	return r;
}

START_TEST(activated_socket_serves_and_stays)
{
	struct tunclient_status status;
	struct tunclient_conn *conn;
	struct testlib_broker b;
	struct stat st;
	int wstatus;

	testlib_enter_netns();
	broker_prepare(&b);
	activate_start(&b, true);
	/* The first connection makes systemd-socket-activate exec the broker. */
	ck_assert_int_eq(connect_when_listening(b.socket_path, &conn), 0);
	ck_assert_msg(tunclient_status(conn, &status) == 0, "STATUS: %s; "
	    "log:\n%s", tunclient_conn_error(conn),
	    testlib_read_file(b.log_path));
	ck_assert_int_eq(tunclient_ping(conn), 0);
	tunclient_close(conn);
	ck_assert_msg(log_has(&b, "socket-activated: listening on "),
	    "the broker did not log its activation:\n%s",
	    testlib_read_file(b.log_path));
	wstatus = broker_terminate(&b);
	ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
	    "status 0x%x; log:\n%s", wstatus, testlib_read_file(b.log_path));
	/* systemd's socket: the broker must leave it for the next one. */
	ck_assert_msg(lstat(b.socket_path, &st) == 0 && S_ISSOCK(st.st_mode),
	    "the broker removed the socket it was passed");
	broker_free(&b);
}
END_TEST

/* A passed socket of the wrong type is a clear start-up error. */
START_TEST(activated_stream_socket_is_refused)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct testlib_broker b;
	int fd, wstatus;

	testlib_enter_netns();
	broker_prepare(&b);
	activate_start(&b, false);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", b.socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(waitpid(b.pid, &wstatus, 0), b.pid);
	close(fd);
	ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 1,
	    "status 0x%x", wstatus);
	ck_assert_msg(log_has(&b, "is not a listening AF_UNIX SOCK_SEQPACKET "
	    "socket"), "no clear error; log:\n%s",
	    testlib_read_file(b.log_path));
	broker_free(&b);
}
END_TEST

/* A datagram socket bound at path, for the broker's sd_notify(). */
static int
notify_bind(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Reads notify messages until one starts with prefix, for up to
 * timeout_s; true if it came.  Other messages (WATCHDOG=1 between them)
 * are skipped.
 */
static bool
notify_expect(int fd, const char *prefix, double timeout_s, char *got,
    size_t size)
{
	double end = now() + timeout_s;
	ssize_t n;
	int left;

	while ((left = (int)((end - now()) * 1000)) > 0) {
		if (poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1,
		    left) != 1)
			break;
		n = recv(fd, got, size - 1, 0);
		if (n < 0)
			break;
		got[n] = '\0';
		if (strncmp(got, prefix, strlen(prefix)) == 0)
			return true;
	}
	return false;
}

START_TEST(notify_messages)
{
	struct testlib_broker b;
	char *notify_path, msg[512];
	int fd, wstatus;

	testlib_enter_netns();
	broker_prepare(&b);
	notify_path = testlib_strf("%s/notify", b.dir);
	fd = notify_bind(notify_path);
	/* WATCHDOG_PID must name the broker: the child about to exec it. */
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", notify_path, 1), 0);
	ck_assert_int_eq(setenv("WATCHDOG_USEC", "200000", 1), 0);
	ck_assert_int_eq(setenv("WATCHDOG_PID", "self", 1), 0);
	fflush(NULL);
	b.pid = fork();
	ck_assert_int_ge(b.pid, 0);
	if (b.pid == 0) {
		char pid[32];
		int log = open(b.log_path, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0644);

		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if (log < 0 || setenv("WATCHDOG_PID", pid, 1) != 0 ||
		    dup2(log, STDERR_FILENO) < 0)
			_exit(126);
		execl(getenv("TUNBROKERD"), "tunbrokerd", "--foreground",
		    "--verbose", "--socket", b.socket_path, "--config",
		    b.config_path, (char *)NULL);
		_exit(127);
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");

	/* A sanitized build starts slowly: READY=1 within 10 s. */
	ck_assert_msg(notify_expect(fd, "READY=1", 10, msg, sizeof(msg)),
	    "no READY=1; log:\n%s", testlib_read_file(b.log_path));
	ck_assert_msg(access(b.socket_path, F_OK) == 0,
	    "READY=1 before the socket exists");
	ck_assert_msg(notify_expect(fd, "STATUS=serving 0 devices for 0 "
	    "connections", 0.5, msg, sizeof(msg)), "no STATUS=");
	ck_assert_msg(notify_expect(fd, "WATCHDOG=1", 0.5, msg, sizeof(msg)),
	    "no WATCHDOG=1");
	ck_assert_msg(notify_expect(fd, "WATCHDOG=1", 0.5, msg, sizeof(msg)),
	    "WATCHDOG=1 is not repeated");

	ck_assert_int_eq(kill(b.pid, SIGHUP), 0);
	ck_assert_msg(notify_expect(fd, "RELOADING=1", 2, msg, sizeof(msg)),
	    "no RELOADING=1 on SIGHUP");
	ck_assert_msg(strstr(msg, "\nMONOTONIC_USEC=") != NULL,
	    "RELOADING=1 without MONOTONIC_USEC=: %s", msg);
	ck_assert_msg(notify_expect(fd, "READY=1", 2, msg, sizeof(msg)),
	    "no READY=1 after the reload");

	ck_assert_int_eq(kill(b.pid, SIGTERM), 0);
	ck_assert_msg(notify_expect(fd, "STOPPING=1", 2, msg, sizeof(msg)),
	    "no STOPPING=1 on SIGTERM");
	ck_assert_int_eq(waitpid(b.pid, &wstatus, 0), b.pid);
	ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
	    "status 0x%x; log:\n%s", wstatus, testlib_read_file(b.log_path));
	ck_assert_msg(access(b.socket_path, F_OK) != 0,
	    "the broker left the socket it made");
	close(fd);
	free(notify_path);
	broker_free(&b);
}
END_TEST

/* A NOTIFY_SOCKET nobody listens on changes nothing. */
START_TEST(notify_socket_absent)
{
	struct testlib_broker b;
	int wstatus;

	testlib_enter_netns();
	broker_prepare(&b);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1), 0);
	ck_assert_int_eq(setenv("WATCHDOG_USEC", "100000", 1), 0);
	ck_assert_msg(testlib_broker_launch(&b, &wstatus),
	    "the broker exited (0x%x); log:\n%s", wstatus,
	    testlib_read_file(b.log_path));
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	usleep(300 * 1000);
	ck_assert(testlib_broker_alive(&b));
	testlib_broker_stop(&b);
}
END_TEST

/* A client keeps a working device across the broker's SIGTERM. */
START_TEST(device_survives_sigterm)
{
	static const uint8_t packet[20] = {
		0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 253, 0, 0,
		198, 18, 0, 1, 198, 18, 0, 2,
	};
	struct tunclient_request *req;
	struct tunclient_lease *lease;
	struct tunclient_conn *conn;
	struct testlib_broker b;
	char name[IF_NAMESIZE];
	int fd, wstatus;

	testlib_enter_netns();
	broker_prepare(&b);
	ck_assert(testlib_broker_launch(&b, &wstatus));
	ck_assert_int_eq(tunclient_request_new(&req), 0);
	ck_assert_int_eq(tunclient_request_add_address(req, "198.18.0.1/24"),
	    0);
	ck_assert_int_eq(tunclient_connect(b.socket_path, &conn), 0);
	ck_assert_msg(tunclient_request(conn, req, &lease) == 0, "refused: %s",
	    tunclient_conn_error(conn));
	snprintf(name, sizeof(name), "%s", tunclient_lease_name(lease));
	fd = tunclient_lease_take_fd(lease, 0);
	ck_assert_int_ge(fd, 0);
	tunclient_lease_free(lease);
	tunclient_request_free(req);

	/* The connection stays open across the stop, as a real client's. */
	wstatus = broker_terminate(&b);
	ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
	    "status 0x%x; log:\n%s", wstatus, testlib_read_file(b.log_path));
	ck_assert_msg(access(b.socket_path, F_OK) != 0,
	    "the broker left the socket it made");
	tunclient_close(conn);
	ck_assert_msg(if_nametoindex(name) != 0, "%s is gone", name);
	ck_assert_int_eq(write(fd, packet, sizeof(packet)),
	    (ssize_t)sizeof(packet));
	close(fd);
	broker_free(&b);
}
END_TEST

/*
 * Reads journal datagrams on fd until one holds every field of want (a
 * NULL-terminated list of "NAME=value" lines); false after timeout_s.
 */
static bool
journal_expect(int fd, const char *const *want, double timeout_s,
    char *got, size_t size)
{
	double end = now() + timeout_s;
	const char *const *w;
	char line[256], inner[258];
	ssize_t n;
	int left;

	while ((left = (int)((end - now()) * 1000)) > 0) {
		if (poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1,
		    left) != 1)
			break;
		if ((n = recv(fd, got, size - 1, 0)) < 0)
			break;
		got[n] = '\0';
		for (w = want; *w != NULL; w++) {
			snprintf(line, sizeof(line), "%s\n", *w);
			snprintf(inner, sizeof(inner), "\n%s", line);
			if (strncmp(got, line, strlen(line)) != 0 &&
			    strstr(got, inner) == NULL)
				break;
		}
		if (*w == NULL)
			return true;
	}
	return false;
}

/*
 * With stderr connected to the journal ($JOURNAL_STREAM), a grant is
 * logged with structured fields.  A journal socket of the test's own, in
 * a /run of this mount namespace, stands in for journald.
 */
START_TEST(journal_fields)
{
	static const char *const want_grant[] = {
		"TUNBROKER_UID=0", "TUNBROKER_RESULT=grant",
		"PRIORITY=6", NULL,
	};
	static const char *const want_refuse[] = {
		"TUNBROKER_UID=0", "TUNBROKER_RESULT=refuse",
		"TUNBROKER_DEVICE=bad0", NULL,
	};
	struct tunclient_request *req;
	struct tunclient_lease *lease;
	struct tunclient_conn *conn;
	struct testlib_broker b;
	char msg[4096], *expect, *stream;
	struct stat st;
	int fd, wstatus;

	testlib_enter_netns();
	ck_assert_int_eq(mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"), 0);
	ck_assert_int_eq(mkdir("/run/systemd", 0755), 0);
	ck_assert_int_eq(mkdir("/run/systemd/journal", 0755), 0);
	fd = notify_bind("/run/systemd/journal/socket");
	broker_prepare(&b);
	/* The broker's stderr is b.log_path: make it "the journal stream". */
	testlib_write_file(b.log_path, "");
	ck_assert_int_eq(stat(b.log_path, &st), 0);
	stream = testlib_strf("%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	ck_assert_int_eq(setenv("JOURNAL_STREAM", stream, 1), 0);
	free(stream);
	/* testlib_broker_launch() truncates the log file; the inode stays. */
	ck_assert(testlib_broker_launch(&b, &wstatus));
	unsetenv("JOURNAL_STREAM");

	ck_assert_int_eq(tunclient_connect(b.socket_path, &conn), 0);
	ck_assert_int_eq(tunclient_request_new(&req), 0);
	ck_assert_int_eq(tunclient_request_add_address(req, "198.18.0.1/24"),
	    0);
	ck_assert_int_eq(tunclient_request(conn, req, &lease), 0);
	ck_assert_msg(journal_expect(fd, want_grant, 5, msg, sizeof(msg)),
	    "no grant with its fields in the journal; last:\n%s", msg);
	expect = testlib_strf("TUNBROKER_DEVICE=%s\n", tunclient_lease_name(lease));
	ck_assert_msg(strstr(msg, expect) != NULL, "no %s in:\n%s", expect,
	    msg);
	free(expect);
	expect = testlib_strf("MESSAGE=grant uid=0 pid=%d create %s ", (int)getpid(),
	    tunclient_lease_name(lease));
	ck_assert_msg(strstr(msg, expect) != NULL, "no %s in:\n%s", expect,
	    msg);
	free(expect);
	tunclient_lease_free(lease);
	tunclient_request_free(req);

	/* A name outside the test ranges' rule: refused, with the device. */
	ck_assert_int_eq(tunclient_request_new(&req), 0);
	ck_assert_int_eq(tunclient_request_set_name(req, "bad0"), 0);
	ck_assert_int_eq(tunclient_request_add_address(req, "192.0.2.1/24"),
	    0);
	ck_assert_int_ne(tunclient_request(conn, req, &lease), 0);
	ck_assert_msg(journal_expect(fd, want_refuse, 5, msg, sizeof(msg)),
	    "no refusal with its fields in the journal; last:\n%s", msg);
	tunclient_request_free(req);
	tunclient_close(conn);
	/* Nothing on stderr but what precedes log_init(). */
	ck_assert_msg(!log_has(&b, "grant uid="), "the grant went to stderr "
	    "too:\n%s", testlib_read_file(b.log_path));
	testlib_broker_stop(&b);
	close(fd);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("systemd");
	TCase *tc = tcase_create("systemd");

	tcase_set_timeout(tc, 60);
	if (access(SOCKET_ACTIVATE, X_OK) == 0) {
		tcase_add_test(tc, activated_socket_serves_and_stays);
		tcase_add_test(tc, activated_stream_socket_is_refused);
	} else {
		printf("# %s is missing (Debian package systemd): socket "
		    "activation is not tested\n", SOCKET_ACTIVATE);
	}
	tcase_add_test(tc, notify_messages);
	tcase_add_test(tc, notify_socket_absent);
	tcase_add_test(tc, device_survives_sigterm);
	tcase_add_test(tc, journal_fields);
	suite_add_tcase(s, tc);
	return testlib_run(s, true);
}
