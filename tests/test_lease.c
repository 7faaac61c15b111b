/*
 * Lease tracking end to end: a real tunbrokerd in a fresh network
 * namespace follows every way a device can end (the client's last close,
 * a client that set the device persistent, RELEASE, deletion by someone
 * else), rebuilds its table after a crash, and never touches devices it
 * did not create.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "fdpass.h"
#include "netinfo.h"
#include "testlib.h"
#include "tunclient.h"

#define ALLOW_NOBODY	"users = 65534\n"
#define OTHER_UID	65533

/* What a client child reports back to the test. */
struct report {
	int code;
	char text[TB_ERROR_TEXT_MAX];
	char name[IFNAMSIZ];
	size_t nleases;
	struct tunclient_lease_info leases[8];
};

/* What a client child is to do. */
struct job {
	const char *socket_path;
	enum { JOB_GRANT, JOB_LIST, JOB_RELEASE } what;
	const char *name;	/* JOB_RELEASE */
	int chan;
};

/* Runs in the child: one request through libtunclient, reported on chan. */
static int
run_job(void *arg)
{
	const struct job *j = arg;
	struct tunclient_lease_info *list = NULL;
	struct tunclient_request *req = NULL;
	struct tunclient_lease *lease = NULL;
	struct tunclient_conn *conn = NULL;
	struct report rep = { .code = 0 };
	int fd = -1, r;

	if ((r = tunclient_connect(j->socket_path, &conn)) != 0) {
		snprintf(rep.text, sizeof(rep.text), "connect: %s",
		    strerror(-r));
	} else if (j->what == JOB_GRANT) {
		if ((r = tunclient_request_new(&req)) == 0 &&
		    (r = tunclient_request(conn, req, &lease)) == 0) {
			snprintf(rep.name, sizeof(rep.name), "%s",
			    tunclient_lease_name(lease));
			fd = tunclient_lease_fd(lease, 0);
		}
	} else if (j->what == JOB_LIST) {
		if ((r = tunclient_list(conn, &list, &rep.nleases)) == 0 &&
		    rep.nleases > 0)
			memcpy(rep.leases, list, (rep.nleases < 8 ?
			    rep.nleases : 8) * sizeof(*list));
	} else {
		r = tunclient_release(conn, j->name);
	}
	if (r != 0 && conn != NULL)
		snprintf(rep.text, sizeof(rep.text), "%s",
		    tunclient_conn_error(conn));
	rep.code = r;
	r = tb_send(j->chan, &rep, sizeof(rep), &fd, fd >= 0 ? 1 : 0);
	tunclient_lease_info_free(list);
	tunclient_lease_free(lease);
	tunclient_request_free(req);
	tunclient_close(conn);
	return r == 0 ? 0 : 1;
}

/* Like testlib_run_as_user(), for a uid of our choosing. */
static int
run_as(uid_t uid, int (*fn)(void *), void *arg)
{
	pid_t pid;
	int status;

	if (uid == TESTLIB_UID)
		return testlib_run_as_user(fn, arg);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (uid != 0 && (setgroups(0, NULL) != 0 ||
		    setresgid(uid, uid, uid) != 0 ||
		    setresuid(uid, uid, uid) != 0))
			_exit(125);
		_exit(fn(arg));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Runs job j as uid; *fd gets a granted device's descriptor. */
static struct report
run_job_as(uid_t uid, struct job j, int *fd)
{
	struct report rep;
	struct tb_error err;
	int chan[2], fds[TB_MSG_MAX_FDS];
	size_t nfds;
	ssize_t n;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    chan), 0);
	j.chan = chan[1];
	ck_assert_int_eq(run_as(uid, run_job, &j), 0);
	close(chan[1]);
	n = tb_recv(chan[0], &rep, sizeof(rep), fds, &nfds, &err);
	close(chan[0]);
	ck_assert_msg(n == (ssize_t)sizeof(rep), "client report: %s",
	    err.text);
	if (fd != NULL)
		*fd = nfds > 0 ? fds[0] : -1;
	else if (nfds > 0)
		close(fds[0]);
	return rep;
}

/* A device for uid 65534; its fd is now the test's. */
static int
grant(const struct testlib_broker *b, char name[IFNAMSIZ])
{
	struct report rep;
	int fd;

	rep = run_job_as(TESTLIB_UID, (struct job){ .socket_path =
	    b->socket_path, .what = JOB_GRANT }, &fd);
	ck_assert_msg(rep.code == 0, "grant: %s", rep.text);
	ck_assert_int_ge(fd, 0);
	memcpy(name, rep.name, IFNAMSIZ);
	return fd;
}

static struct report
list_as(const struct testlib_broker *b, uid_t uid)
{
	struct report rep = run_job_as(uid, (struct job){ .socket_path =
	    b->socket_path, .what = JOB_LIST }, NULL);

	ck_assert_msg(rep.code == 0, "list as %u: %s", (unsigned)uid,
	    rep.text);
	return rep;
}

static struct report
release_as(const struct testlib_broker *b, uid_t uid, const char *name)
{
	return run_job_as(uid, (struct job){ .socket_path = b->socket_path,
	    .what = JOB_RELEASE, .name = name }, NULL);
}

/* Polls up to ms for the link called name to be gone. */
static bool
link_gone_within(const char *name, int ms)
{
	struct netinfo_link link;
	int i;

	for (i = 0; i <= ms / 10; i++) {
		if (netinfo_link_by_name(name, &link) == -ENODEV)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/* Polls until root's LIST shows n leases; false if it never does. */
static bool
leases_become(const struct testlib_broker *b, size_t n)
{
	int i;

	for (i = 0; i < 100; i++) {
		if (list_as(b, 0).nleases == n)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

static void
run(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

/* A persistent TUN called name with no queue attached, as `ip` leaves it. */
static void
make_persistent_tun(const char *name, const char *alias)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip tuntap add mode tun name %s", name);
	run(cmd);
	if (alias != NULL) {
		snprintf(cmd, sizeof(cmd), "ip link set dev %s alias '%s'",
		    name, alias);
		run(cmd);
	}
}

static void
set_persist(int fd)
{
	ck_assert_int_eq(ioctl(fd, TUNSETPERSIST, 1), 0);
}

/* Kills the broker without warning, as a crash would. */
static void
crash(struct testlib_broker *b)
{
	int status;

	ck_assert_int_eq(kill(b->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(b->pid, &status, 0), b->pid);
}

static void
relaunch(struct testlib_broker *b)
{
	int status;

	ck_assert_msg(testlib_broker_launch(b, &status),
	    "tunbrokerd exited (0x%x): %s", status,
	    testlib_read_file(b->log_path));
}

static int
count_lines_with(const char *text, const char *what)
{
	int n = 0;

	while (text != NULL && (text = strstr(text, what)) != NULL) {
		n++;
		text += strlen(what);
	}
	return n;
}

/* Replaces the rule so that uid 65534 may hold max devices. */
static void
write_quota(const struct testlib_broker *b, unsigned max)
{
	FILE *f = fopen(b->config_path, "we");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "[socket]\nmode = 0666\n[rule test]\nusers = 65534\n"
	    "addresses = 198.18.0.0/15, 2001:db8::/32\nmax-devices = %u\n",
	    max);
	ck_assert_int_eq(fclose(f), 0);
}

/* Sends SIGHUP and waits until the broker says it reloaded. */
static void
reload(struct testlib_broker *b)
{
	char *log;
	int i, before;

	log = testlib_read_file(b->log_path);
	before = count_lines_with(log, "reloaded policy");
	free(log);
	ck_assert_int_eq(kill(b->pid, SIGHUP), 0);
	for (i = 0; i < 500; i++) {
		log = testlib_read_file(b->log_path);
		if (count_lines_with(log, "reloaded policy") > before) {
			free(log);
			return;
		}
		free(log);
		usleep(10 * 1000);
	}
	ck_abort_msg("the broker did not reload");
}

START_TEST(client_close_ends_lease)
{
	struct testlib_broker b;
	struct report rep;
	char name[IFNAMSIZ];
	int fd;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	fd = grant(&b, name);
	rep = list_as(&b, TESTLIB_UID);
	ck_assert_uint_eq(rep.nleases, 1);
	ck_assert_str_eq(rep.leases[0].name, name);
	ck_assert_uint_eq(rep.leases[0].uid, TESTLIB_UID);
	ck_assert_uint_eq(rep.leases[0].ifindex, if_nametoindex(name));
	close(fd);
	ck_assert(link_gone_within(name, 2000));
	ck_assert(leases_become(&b, 0));
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(persistent_device_deleted_on_last_close)
{
	struct testlib_broker b;
	char name[IFNAMSIZ], again[IFNAMSIZ];
	struct report rep;
	int fd;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	write_quota(&b, 1);
	reload(&b);
	fd = grant(&b, name);
	rep = run_job_as(TESTLIB_UID, (struct job){ .socket_path =
	    b.socket_path, .what = JOB_GRANT }, NULL);
	ck_assert_int_eq(rep.code, -EDQUOT);
	/* The holder may keep it alive past its fd; the broker may not. */
	set_persist(fd);
	close(fd);
	ck_assert_msg(link_gone_within(name, 1000),
	    "%s outlived its last queue by a second", name);
	ck_assert(leases_become(&b, 0));
	close(grant(&b, again));
	ck_assert(link_gone_within(again, 2000));
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(carrier_dropped_before_last_close)
{
	struct testlib_broker b;
	char name[IFNAMSIZ];
	int fd, off = 0;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	fd = grant(&b, name);
	/* Carrier first: the last close then changes nothing visible. */
	ck_assert_int_eq(ioctl(fd, TUNSETCARRIER, &off), 0);
	usleep(100 * 1000);
	set_persist(fd);
	close(fd);
	ck_assert_msg(link_gone_within(name, 1000),
	    "%s outlived its last queue by a second", name);
	ck_assert(leases_become(&b, 0));
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(release_ends_lease)
{
	struct testlib_broker b;
	char name[IFNAMSIZ], other[IFNAMSIZ];
	struct report rep;
	int fd, fd2;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	fd = grant(&b, name);
	fd2 = grant(&b, other);
	set_persist(fd);
	/* Not a device of another user's: refused, naming it. */
	rep = release_as(&b, OTHER_UID, name);
	ck_assert_int_eq(rep.code, -ENOENT);
	ck_assert_ptr_nonnull(strstr(rep.text, name));
	rep = release_as(&b, TESTLIB_UID, "nosuch0");
	ck_assert_int_eq(rep.code, -ENOENT);
	ck_assert_ptr_nonnull(strstr(rep.text, "nosuch0"));
	ck_assert_int_ne(if_nametoindex(name), 0);

	rep = release_as(&b, TESTLIB_UID, name);
	ck_assert_msg(rep.code == 0, "%s", rep.text);
	ck_assert(link_gone_within(name, 1000));
	/* Root may release anyone's. */
	rep = release_as(&b, 0, other);
	ck_assert_msg(rep.code == 0, "%s", rep.text);
	ck_assert(link_gone_within(other, 1000));
	ck_assert(leases_become(&b, 0));
	close(fd);
	close(fd2);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(external_deletion_ends_lease)
{
	struct testlib_broker b;
	char name[IFNAMSIZ], cmd[64];
	int fd;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	fd = grant(&b, name);
	snprintf(cmd, sizeof(cmd), "ip link delete %s", name);
	run(cmd);
	ck_assert(leases_become(&b, 0));
	close(fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(list_shows_own_leases)
{
	struct testlib_broker b;
	char one[IFNAMSIZ], two[IFNAMSIZ];
	struct report rep;
	int fd1, fd2;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	fd1 = grant(&b, one);
	fd2 = grant(&b, two);
	ck_assert_uint_eq(list_as(&b, TESTLIB_UID).nleases, 2);
	ck_assert_uint_eq(list_as(&b, OTHER_UID).nleases, 0);
	rep = list_as(&b, 0);
	ck_assert_uint_eq(rep.nleases, 2);
	ck_assert(strcmp(rep.leases[0].name, one) == 0 ||
	    strcmp(rep.leases[1].name, one) == 0);
	close(fd1);
	close(fd2);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(restart_adopts_held_devices)
{
	struct testlib_broker b;
	char name[IFNAMSIZ];
	struct report rep;
	int fd;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	fd = grant(&b, name);
	/* Persistent: only the new broker can make it go. */
	set_persist(fd);
	crash(&b);
	write_quota(&b, 1);
	relaunch(&b);

	rep = list_as(&b, TESTLIB_UID);
	ck_assert_uint_eq(rep.nleases, 1);
	ck_assert_str_eq(rep.leases[0].name, name);
	rep = run_job_as(TESTLIB_UID, (struct job){ .socket_path =
	    b.socket_path, .what = JOB_GRANT }, NULL);
	ck_assert_int_eq(rep.code, -EDQUOT);
	close(fd);
	ck_assert_msg(link_gone_within(name, 1000),
	    "the new broker left %s behind", name);
	ck_assert(leases_become(&b, 0));
	testlib_broker_stop(&b);
}
END_TEST

/* A UDP socket bound to 198.18.0.1:port, non-blocking. */
static int
bound_udp(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, "198.18.0.1", &sin.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Waits up to a second for fd to be readable. */
static bool
readable(int fd)
{
	return poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 1000) == 1;
}

/*
 * One round trip through the device: a datagram to 198.18.0.2 must come
 * out of the fd (other packets the kernel sends there are skipped), and a
 * packet written into the fd must reach the socket.
 */
static bool
round_trip(int dev, int sock, unsigned i)
{
	struct sockaddr_in peer = { .sin_family = AF_INET,
	    .sin_port = htons(9) };
	uint8_t pkt[64], buf[2048];
	char payload[16];
	size_t len, plen;
	ssize_t n;
	int tries;

	plen = (size_t)snprintf(payload, sizeof(payload), "round %u", i);
	inet_pton(AF_INET, "198.18.0.2", &peer.sin_addr);
	if (sendto(sock, payload, plen, 0, (struct sockaddr *)&peer,
	    sizeof(peer)) != (ssize_t)plen)
		return false;
	for (tries = 0;; tries++) {
		if (tries == 8 || !readable(dev))
			return false;
		n = read(dev, buf, sizeof(buf));
		if (n == (ssize_t)(28 + plen) &&
		    memcmp(buf + 28, payload, plen) == 0)
			break;
	}
	len = testlib_udp4_packet(pkt, "198.18.0.2", 9, "198.18.0.1", 4000,
	    payload, plen);
	if (write(dev, pkt, len) != (ssize_t)len || !readable(sock))
		return false;
	n = recv(sock, buf, sizeof(buf), 0);
	return n == (ssize_t)plen && memcmp(buf, payload, plen) == 0;
}

START_TEST(crash_with_traffic_flowing)
{
	struct testlib_broker b;
	char name[IFNAMSIZ], second_name[IFNAMSIZ], cmd[256];
	struct report rep;
	int dev, second, sock;
	unsigned i, lost = 0;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	dev = grant(&b, name);
	/* Persistent, so that only a broker can make it go at the end. */
	set_persist(dev);
	snprintf(cmd, sizeof(cmd), "echo 1 >/proc/sys/net/ipv6/conf/%s/"
	    "disable_ipv6 && ip addr add 198.18.0.1/24 dev %s", name, name);
	run(cmd);
	sock = bound_udp(4000);

	/* Traffic both ways throughout; the broker dies and comes back. */
	for (i = 0; i < 900; i++) {
		if (i == 300)
			crash(&b);
		if (i == 600)
			relaunch(&b);
		lost += !round_trip(dev, sock, i);
	}
	ck_assert_msg(lost == 0, "%u of 900 round trips lost", lost);

	/* The new broker serves at once and counts the adopted lease. */
	second = grant(&b, second_name);
	rep = list_as(&b, TESTLIB_UID);
	ck_assert_uint_eq(rep.nleases, 2);
	close(second);
	close(dev);
	close(sock);
	/* Nothing is left behind once the clients are gone. */
	ck_assert_msg(link_gone_within(name, 2000), "%s was left behind",
	    name);
	ck_assert(link_gone_within(second_name, 1000));
	ck_assert(leases_become(&b, 0));
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(startup_deletes_own_orphans_only)
{
	struct testlib_broker b;
	char alias[64];

	testlib_enter_netns();
	snprintf(alias, sizeof(alias), "tunbroker:uid=%u", TESTLIB_UID);
	make_persistent_tun("orphan0", alias);
	make_persistent_tun("foreign0", NULL);
	make_persistent_tun("foreign1", "tunbroker-ish device");
	make_persistent_tun("foreign2", "tunbroker:uid=x");
	testlib_broker_start(&b, ALLOW_NOBODY);
	ck_assert(link_gone_within("orphan0", 1000));
	ck_assert_uint_ne(if_nametoindex("foreign0"), 0);
	ck_assert_uint_ne(if_nametoindex("foreign1"), 0);
	ck_assert_uint_ne(if_nametoindex("foreign2"), 0);
	ck_assert_uint_eq(list_as(&b, 0).nleases, 0);
	/* Nor does root's RELEASE reach them. */
	ck_assert_int_eq(release_as(&b, 0, "foreign0").code, -ENOENT);
	ck_assert_uint_ne(if_nametoindex("foreign0"), 0);
	testlib_broker_stop(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("lease");
	TCase *tc = tcase_create("lease");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, client_close_ends_lease);
	tcase_add_test(tc, persistent_device_deleted_on_last_close);
	tcase_add_test(tc, carrier_dropped_before_last_close);
	tcase_add_test(tc, release_ends_lease);
	tcase_add_test(tc, external_deletion_ends_lease);
	tcase_add_test(tc, list_shows_own_leases);
	tcase_add_test(tc, restart_adopts_held_devices);
	tcase_add_test(tc, crash_with_traffic_flowing);
	tcase_add_test(tc, startup_deletes_own_orphans_only);
	suite_add_tcase(s, tc);
	return testlib_run(s, true);
}
