/*
 * Shared helpers for the Check suites: running a suite with TAP output,
 * fresh network namespaces for tests that touch the kernel, unprivileged
 * children, and a real tunbrokerd process to talk to.
 */
#ifndef TUNBROKER_TESTLIB_H
#define TUNBROKER_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>

/* The uid and gid tests use for an unprivileged client. */
#define TESTLIB_UID	65534
#define TESTLIB_GID	65534

/*
 * Runs suite with TAP on stdout (one line a test case, for automake's TAP
 * driver) and returns main()'s exit status.  A suite that needs privilege
 * is reported as skipped, with the reason, when the machine cannot create
 * a network namespace; each of its cases then calls testlib_enter_netns().
 */
int testlib_run(Suite *suite, bool needs_privilege);

/*
 * Moves the calling process (a forked Check test) into a new network and
 * mount namespace with lo up.  Fails the test if that is impossible.
 */
void testlib_enter_netns(void);

/* A throw-away directory, mode 0755, removed by testlib_rmtree(). */
char *testlib_mkdtemp(void);
void testlib_rmtree(const char *path);

/* A running tunbrokerd in the current namespace. */
struct testlib_broker {
	pid_t pid;
	char *dir;		/* its temporary directory */
	char *socket_path;
	char *config_path;
	char *log_path;		/* its stderr */
};

/*
 * Starts tunbrokerd (from $TUNBROKERD, set by the test harness) with a
 * config holding one rule, [rule test], whose match lines are
 * access_lines (e.g. "users = 65534\n") and which allows the test
 * address ranges, and waits until its socket accepts connections.
 */
void testlib_broker_start(struct testlib_broker *b, const char *access_lines);

/*
 * Starts tunbrokerd, as testlib_broker_start() does, with config as its
 * whole configuration file, for tests that need sections of their own.
 */
void testlib_broker_start_config(struct testlib_broker *b, const char *config);

/*
 * Starts tunbrokerd on b->socket_path with b->config_path, its output in
 * b->log_path.  Returns true once it answers a PING (it has dropped its
 * privileges and serves), false if it exited first (*status is then its
 * wait status).
 */
bool testlib_broker_launch(struct testlib_broker *b, int *status);

/*
 * Stops the broker with SIGTERM, checks it exited 0 and removed its
 * socket, and frees b (removing b->dir, if set).
 */
void testlib_broker_stop(struct testlib_broker *b);

/* Kills the broker with SIGKILL, as a crash would, and reaps it. */
void testlib_broker_crash(struct testlib_broker *b);

/*
 * Starts the broker again (testlib_broker_launch()); fails the test, with
 * its log, if it exits instead.
 */
void testlib_broker_relaunch(struct testlib_broker *b);

/*
 * Sends the broker SIGHUP and waits until it logs one more "reloaded
 * policy" line; fails the test after 5 s.
 */
void testlib_broker_reload(struct testlib_broker *b);

/*
 * The broker's log once it holds needle, waiting up to 5 s: a grant is
 * logged just after its reply is sent.  Fails the test, with the log, if
 * needle never comes.  The caller frees the text.
 */
char *testlib_broker_log_with(struct testlib_broker *b, const char *needle);

/* True while the broker process has not exited. */
bool testlib_broker_alive(struct testlib_broker *b);

/*
 * Runs fn(arg) in a forked child with uid and gid TESTLIB_UID/GID and no
 * supplementary groups, and returns the child's exit status (or 128+signal).
 * fn reports through its return value: Check's assertions do not work in
 * the grandchild it runs in.
 */
int testlib_run_as_user(int (*fn)(void *arg), void *arg);

/*
 * testlib_run_as_user() for any uid: the child takes uid, and the same
 * number as its gid (TESTLIB_GID for TESTLIB_UID); uid 0 stays root.
 */
int testlib_run_as(uid_t uid, int (*fn)(void *arg), void *arg);

/*
 * Runs fn(arg, chan) as uid (testlib_run_as()); fn sends one report of
 * len bytes over chan with tb_send(), with any descriptors, and returns 0.
 * Receives the report into report and its descriptors into fds (room for
 * TB_MSG_MAX_FDS; they are now the caller's) and returns their number.
 * Fails the test unless fn returned 0 and the whole report came.
 */
size_t testlib_report_as(uid_t uid, int (*fn)(void *arg, int chan),
    void *arg, void *report, size_t len, int *fds);

/*
 * Receives one report of exactly len bytes from chan, as
 * testlib_report_as() does, for children the caller runs itself.
 */
size_t testlib_recv_report(int chan, void *report, size_t len, int *fds);

/*
 * The device descriptor among a report's fds, or -1; fails the test unless
 * there is exactly one when granted and none otherwise.
 */
int testlib_report_fd(const int *fds, size_t nfds, bool granted);

/* The number of TUN and TAP links in the caller's namespace. */
int testlib_count_tun_links(void);

/* How many times what occurs in text (NULL: none), e.g. in a broker log. */
int testlib_count_occurrences(const char *text, const char *what);

/*
 * The broker's descriptor count once its connections have all closed:
 * polls until the count holds still for 100 ms (closes are asynchronous).
 */
int testlib_broker_settled_fds(struct testlib_broker *b);

/* The number of descriptors process pid (0: this one) has open. */
int testlib_count_fds(pid_t pid);

/* True if fd is an open descriptor in this process. */
bool testlib_fd_is_open(int fd);

/* The Internet checksum of len bytes, ready to store. */
uint16_t testlib_inet_checksum(const void *data, size_t len);

/*
 * Writes into buf an IPv4 UDP packet from src:sport to dst:dport carrying
 * payload, with its header checksum; returns its length.
 */
size_t testlib_udp4_packet(uint8_t *buf, const char *src, uint16_t sport,
    const char *dst, uint16_t dport, const void *payload, size_t len);

/*
 * A UDP socket of family (AF_INET or AF_INET6) bound to addr:port (port
 * 0: any); fails the test if it cannot be made.
 */
int testlib_udp_socket(int family, const char *addr, uint16_t port);

/*
 * Reads packets from the TUN device fd until one carries payload in a UDP
 * datagram of IP version (4 or 6); false once two seconds pass without a
 * packet, or after 50 others.  Other packets (IPv6's router solicitations,
 * MLD) are skipped.
 */
bool testlib_read_udp_from_device(int fd, int version, const char *payload);

/* A newly allocated string, printf-style; fails the test if out of memory. */
char *testlib_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes text to path, replacing it; fails the test on any error. */
void testlib_write_file(const char *path, const char *text);

/* The text of a file, NUL-terminated (caller frees), or NULL. */
char *testlib_read_file(const char *path);

/*
 * A process of uid TESTLIB_UID in a user and a network namespace it made
 * itself (unshare(CLONE_NEWUSER|CLONE_NEWNET)), as a rootless container
 * has them, with itself mapped to root inside; or, with as_root, a network namespace root made (as
 * `ip netns add` does), owned by the initial user namespace.  netns_fd
 * is its /proc/PID/ns/net, opened by the caller (O_CLOEXEC); the process
 * is dumpable, so uid TESTLIB_UID may open that file too.
 */
struct testlib_ns_child {
	pid_t pid;
	int netns_fd;
};

void testlib_ns_child_start(struct testlib_ns_child *c, bool as_root);

/* Kills and reaps the process and closes netns_fd. */
void testlib_ns_child_stop(struct testlib_ns_child *c);

/*
 * Runs fn(arg) inside the network namespace netns_fd and returns its
 * result, coming back afterwards; the caller must be root.
 */
int testlib_in_netns(int netns_fd, int (*fn)(void *arg), void *arg);

#endif /* TUNBROKER_TESTLIB_H */
