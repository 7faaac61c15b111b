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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
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
};

/* Runs in the child: one request through libtunclient, reported on chan. */
static int
run_job(void *arg, int chan)
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
	r = tb_send(chan, &rep, sizeof(rep), &fd, fd >= 0 ? 1 : 0);
	tunclient_lease_info_free(list);
	tunclient_lease_free(lease);
	tunclient_request_free(req);
	tunclient_close(conn);
	return r == 0 ? 0 : 1;
}

/* Runs job j as uid; *fd gets a granted device's descriptor. */
static struct report
run_job_as(uid_t uid, struct job j, int *fd)
{
	struct report rep;
	int fds[TB_MSG_MAX_FDS];
	size_t nfds;

	nfds = testlib_report_as(uid, run_job, &j, &rep, sizeof(rep), fds);
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
	ck_assert(netinfo_link_gone_within(name, 2000));
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
	testlib_broker_reload(&b);
	fd = grant(&b, name);
	rep = run_job_as(TESTLIB_UID, (struct job){ .socket_path =
	    b.socket_path, .what = JOB_GRANT }, NULL);
	ck_assert_int_eq(rep.code, -EDQUOT);
	/* The holder may keep it alive past its fd; the broker may not. */
	set_persist(fd);
	close(fd);
	ck_assert_msg(netinfo_link_gone_within(name, 1000),
	    "%s outlived its last queue by a second", name);
	ck_assert(leases_become(&b, 0));
	close(grant(&b, again));
	ck_assert(netinfo_link_gone_within(again, 2000));
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
	ck_assert_msg(netinfo_link_gone_within(name, 1000),
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

	/* RELEASED comes once the kernel has deleted it: no waiting. */
	rep = release_as(&b, TESTLIB_UID, name);
	ck_assert_msg(rep.code == 0, "%s", rep.text);
	ck_assert_uint_eq(if_nametoindex(name), 0);
	ck_assert(netinfo_link_gone_within(name, 0));
	ck_assert_uint_eq(list_as(&b, 0).nleases, 1);
	/* Root may release anyone's. */
	rep = release_as(&b, 0, other);
	ck_assert_msg(rep.code == 0, "%s", rep.text);
	ck_assert_uint_eq(if_nametoindex(other), 0);
	ck_assert_uint_eq(list_as(&b, 0).nleases, 0);
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
	testlib_broker_crash(&b);
	write_quota(&b, 1);
	testlib_broker_relaunch(&b);

	rep = list_as(&b, TESTLIB_UID);
	ck_assert_uint_eq(rep.nleases, 1);
	ck_assert_str_eq(rep.leases[0].name, name);
	rep = run_job_as(TESTLIB_UID, (struct job){ .socket_path =
	    b.socket_path, .what = JOB_GRANT }, NULL);
	ck_assert_int_eq(rep.code, -EDQUOT);
	close(fd);
	ck_assert_msg(netinfo_link_gone_within(name, 1000),
	    "the new broker left %s behind", name);
	ck_assert(leases_become(&b, 0));
	testlib_broker_stop(&b);
}
END_TEST

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
	sock = testlib_udp_socket(AF_INET, "198.18.0.1", 4000);

	/* Traffic both ways throughout; the broker dies and comes back. */
	for (i = 0; i < 900; i++) {
		if (i == 300)
			testlib_broker_crash(&b);
		if (i == 600)
			testlib_broker_relaunch(&b);
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
	ck_assert_msg(netinfo_link_gone_within(name, 2000),
	    "%s was left behind", name);
	ck_assert(netinfo_link_gone_within(second_name, 1000));
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
	ck_assert(netinfo_link_gone_within("orphan0", 1000));
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

/* The interface group the broker's closer deletes devices from. */
#define DOOMED_GROUP	"0x74626b72"
/* Devices for the LIST paging test: more than one LEASES holds. */
#define MANY		(TB_MAX_LEASES + 60)
/* RELEASEs a test keeps in flight on one connection. */
#define WINDOW		100

/*
 * Restarts b's configuration as one that lets root hold MANY devices,
 * and raises our descriptor limit to hold them.
 */
static void
allow_root_many(struct testlib_broker *b)
{
	struct rlimit rl = { MANY + 256, MANY + 256 };
	char *conf;

	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	conf = testlib_strf("[socket]\nmode = 0666\n[limits]\n"
	    "devices-per-user = %u\n[rule test]\nusers = 0, 65534\n"
	    "addresses = 198.18.0.0/15\nmax-devices = %u\n", MANY + 10,
	    MANY + 10);
	testlib_write_file(b->config_path, conf);
	free(conf);
	testlib_broker_reload(b);
}

/* Grants n devices to root (us) on conn; names and fds into the arrays. */
static void
grant_many(struct tunclient_conn *conn, size_t n, char (*names)[IFNAMSIZ],
    int *fds)
{
	struct tunclient_request *req;
	struct tunclient_lease *lease;
	size_t i;
	int r;

	ck_assert_int_eq(tunclient_request_new(&req), 0);
	for (i = 0; i < n; i++) {
		r = tunclient_request(conn, req, &lease);
		ck_assert_msg(r == 0, "grant %zu: %s", i,
		    tunclient_conn_error(conn));
		snprintf(names[i], IFNAMSIZ, "%s", tunclient_lease_name(lease));
		fds[i] = tunclient_lease_take_fd(lease, 0);
		tunclient_lease_free(lease);
	}
	tunclient_request_free(req);
}

/* A raw connection to b, for requests sent ahead of their replies. */
static int
raw_connect(const struct testlib_broker *b)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(sock, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", b->socket_path);
	ck_assert_int_eq(connect(sock, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	return sock;
}

/* Sends one message built by the codec (r is its result). */
static void
raw_send(int sock, struct tb_builder *msg, int r)
{
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(tb_send(sock, msg->buf, msg->len, NULL, 0), 0);
	tb_builder_release(msg);
}

/* Receives and parses one reply into msg, whose bytes live in buf. */
static void
raw_recv(int sock, uint8_t *buf, struct tb_msg *msg)
{
	int fds[TB_MSG_MAX_FDS];
	struct tb_error err;
	size_t nfds;
	ssize_t n;

	n = tb_recv(sock, buf, TB_MSG_MAX_SIZE, fds, &nfds, &err);
	ck_assert_msg(n > 0, "reading a reply: %s", n == 0 ? "closed" :
	    err.text);
	tb_close_fds(fds, nfds);
	ck_assert_msg(tb_msg_parse(msg, buf, (size_t)n, nfds, &err) == 0,
	    "parsing a reply: %s", err.text);
}

/*
 * RELEASEs names[0..n) on one connection, WINDOW of them in flight, with a
 * PING after every tenth: the PONGs must not wait for the deletions, and
 * each RELEASED must find its device already gone.  Sequence numbers:
 * RELEASE of names[i] is i + 1, PINGs count down from UINT32_MAX.
 */
static void
release_pipelined(const struct testlib_broker *b, char (*names)[IFNAMSIZ],
    size_t n)
{
	uint8_t *buf = malloc(TB_MSG_MAX_SIZE);
	size_t sent = 0, released = 0, pings = 0, pongs = 0;
	struct tb_builder msg;
	struct tb_msg reply;
	char name[TB_IFNAME_MAX];
	struct tb_error err;
	int sock = raw_connect(b);

	ck_assert_ptr_nonnull(buf);
	while (released < n || pongs < pings) {
		while (sent < n && sent - released < WINDOW) {
			raw_send(sock, &msg, tb_encode_release(&msg,
			    TB_MSG_RELEASE, (uint32_t)sent + 1, names[sent]));
			if (++sent % 10 == 0) {
				raw_send(sock, &msg, tb_encode_simple(&msg,
				    TB_MSG_PING, UINT32_MAX - (uint32_t)pings));
				pings++;
			}
		}
		raw_recv(sock, buf, &reply);
		if (reply.hdr.type == TB_MSG_PONG) {
			pongs++;
			continue;
		}
		if (reply.hdr.type == TB_MSG_ERROR) {
			tb_decode_error(&reply, &err);
			ck_abort_msg("release seq %u: %s", reply.hdr.seq,
			    err.text);
		}
		ck_assert_int_eq(reply.hdr.type, TB_MSG_RELEASED);
		ck_assert_int_eq(tb_decode_release(&reply, name, &err), 0);
		ck_assert_uint_ge(reply.hdr.seq, 1);
		ck_assert_uint_le(reply.hdr.seq, sent);
		ck_assert_str_eq(name, names[reply.hdr.seq - 1]);
		ck_assert_msg(if_nametoindex(name) == 0,
		    "%s still there after its RELEASED", name);
		released++;
	}
	close(sock);
	free(buf);
}

START_TEST(pipelined_releases_answered_when_gone)
{
	char (*names)[IFNAMSIZ] = calloc(200, IFNAMSIZ);
	struct tunclient_conn *conn;
	struct testlib_broker b;
	int fds[200];
	size_t i;

	ck_assert_ptr_nonnull(names);
	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	allow_root_many(&b);
	ck_assert_int_eq(tunclient_connect(b.socket_path, &conn), 0);
	grant_many(conn, 200, names, fds);
	release_pipelined(&b, names, 200);
	ck_assert_uint_eq(list_as(&b, 0).nleases, 0);
	for (i = 0; i < 200; i++)
		close(fds[i]);
	tunclient_close(conn);
	free(names);
	testlib_broker_stop(&b);
}
END_TEST

/*
 * A deletion the kernel refuses is an ERROR, not a RELEASED: a device
 * without link operations (lo) in the closer's group makes the group
 * deletion fail with EOPNOTSUPP.
 */
START_TEST(failed_deletion_is_an_error)
{
	struct testlib_broker b;
	char name[IFNAMSIZ];
	struct report rep;
	int fd;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	fd = grant(&b, name);
	run("ip link set lo group " DOOMED_GROUP);
	rep = release_as(&b, TESTLIB_UID, name);
	ck_assert_int_eq(rep.code, -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(rep.text, name));
	ck_assert_uint_ne(if_nametoindex(name), 0);
	ck_assert_uint_eq(list_as(&b, TESTLIB_UID).nleases, 1);
	run("ip link set lo group default");
	rep = release_as(&b, TESTLIB_UID, name);
	ck_assert_msg(rep.code == 0, "%s", rep.text);
	ck_assert_uint_eq(if_nametoindex(name), 0);
	close(fd);
	testlib_broker_stop(&b);
}
END_TEST

/*
 * SIGTERM with RELEASEs in flight: each one the broker read is carried
 * out and answered before it exits, and a RELEASED is never sent for a
 * device still there.  Those it had not read yet are dropped with the
 * connection, their devices untouched.
 */
START_TEST(stop_answers_releases_in_flight)
{
	char (*names)[IFNAMSIZ] = calloc(100, IFNAMSIZ);
	uint8_t *buf = malloc(TB_MSG_MAX_SIZE);
	struct tunclient_conn *conn;
	struct testlib_broker b;
	struct tb_builder msg;
	struct tb_msg reply;
	char name[TB_IFNAME_MAX];
	struct tb_error err;
	size_t i, released = 0, gone = 0;
	int fds[100], sock, r, chunk[TB_MSG_MAX_FDS];
	bool reset = false;
	ssize_t n;
	size_t nfds;

	ck_assert(names != NULL && buf != NULL);
	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NOBODY);
	allow_root_many(&b);
	ck_assert_int_eq(tunclient_connect(b.socket_path, &conn), 0);
	grant_many(conn, 100, names, fds);
	tunclient_close(conn);
	sock = raw_connect(&b);
	for (i = 0; i < 100; i++)
		raw_send(sock, &msg, tb_encode_release(&msg, TB_MSG_RELEASE,
		    (uint32_t)i + 1, names[i]));
	/* Stop it mid-way: once the first is done, before all are. */
	ck_assert(netinfo_link_gone_within(names[0], 5000));
	testlib_broker_stop(&b);
	/*
	 * The replies wait in our socket, then the end of the connection.
	 * Having closed with requests of ours unread, the broker left an
	 * ECONNRESET that the kernel reports first, once.
	 */
	for (;;) {
		n = tb_recv(sock, buf, TB_MSG_MAX_SIZE, chunk, &nfds, &err);
		if (n == -ECONNRESET && !reset) {
			reset = true;
			continue;
		}
		if (n <= 0)
			break;
		tb_close_fds(chunk, nfds);
		ck_assert_int_eq(tb_msg_parse(&reply, buf, (size_t)n, nfds,
		    &err), 0);
		ck_assert_int_eq(reply.hdr.type, TB_MSG_RELEASED);
		ck_assert_int_eq(tb_decode_release(&reply, name, &err), 0);
		ck_assert_uint_eq(if_nametoindex(name), 0);
		released++;
	}
	ck_assert_msg(n == 0, "%s", err.text);
	for (i = 0; i < 100; i++)
		gone += if_nametoindex(names[i]) == 0;
	ck_assert_uint_eq(gone, released);
	ck_assert_uint_gt(released, 0);
	for (i = 0; i < 100; i++)
		close(fds[i]);
	r = close(sock);
	ck_assert_int_eq(r, 0);
	free(buf);
	free(names);
}
END_TEST

/* The leases one raw LIST (after cursor) returns; *next its cursor. */
static size_t
raw_list(int sock, uint32_t cursor, struct tb_lease *leases, uint32_t *next)
{
	uint8_t *buf = malloc(TB_MSG_MAX_SIZE);
	struct tb_builder msg;
	struct tb_msg reply;
	struct tb_error err;
	size_t n;
	int r;

	ck_assert_ptr_nonnull(buf);
	r = tb_builder_init(&msg, TB_MSG_LIST, 7);
	if (r == 0 && cursor != 0)
		tb_builder_put_u32(&msg, TB_ATTR_CURSOR, cursor);
	raw_send(sock, &msg, r != 0 ? r : tb_builder_finish(&msg));
	raw_recv(sock, buf, &reply);
	ck_assert_int_eq(reply.hdr.type, TB_MSG_LEASES);
	ck_assert_int_eq(tb_decode_leases(&reply, leases, TB_MAX_LEASES, &n,
	    &err), 0);
	*next = tb_msg_u32(&reply, TB_ATTR_CURSOR);
	free(buf);
	return n;
}

/*
 * More leases than one LEASES holds: the broker pages them in ifindex
 * order with a cursor, and tunclient_list() gathers every page.
 */
START_TEST(list_pages_past_one_reply)
{
	char (*names)[IFNAMSIZ] = calloc(MANY, IFNAMSIZ);
	struct tb_lease *page = calloc(TB_MAX_LEASES, sizeof(*page));
	struct tunclient_lease_info *list;
	struct tunclient_conn *conn;
	struct testlib_broker b;
	uint32_t cursor;
	size_t n, i;
	int *fds = calloc(MANY, sizeof(*fds)), sock;

	ck_assert(names != NULL && page != NULL && fds != NULL);
	testlib_enter_netns();
	/* The kernel's IPv6 set-up of each device grows with their number. */
	testlib_write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6",
	    "1\n");
	testlib_broker_start(&b, ALLOW_NOBODY);
	allow_root_many(&b);
	ck_assert_int_eq(tunclient_connect(b.socket_path, &conn), 0);
	grant_many(conn, MANY, names, fds);

	ck_assert_int_eq(tunclient_list(conn, &list, &n), 0);
	ck_assert_uint_eq(n, MANY);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(list[i].name, names[i]);
		ck_assert_uint_eq(list[i].ifindex, if_nametoindex(names[i]));
		ck_assert(i == 0 || list[i].ifindex > list[i - 1].ifindex);
	}
	/* On the wire: a full page with a cursor, then the rest without. */
	sock = raw_connect(&b);
	ck_assert_uint_eq(raw_list(sock, 0, page, &cursor), TB_MAX_LEASES);
	ck_assert_uint_eq(cursor, list[TB_MAX_LEASES - 1].ifindex);
	ck_assert_uint_eq(page[0].ifindex, list[0].ifindex);
	ck_assert_uint_eq(raw_list(sock, cursor, page, &cursor),
	    MANY - TB_MAX_LEASES);
	ck_assert_uint_eq(cursor, 0);
	ck_assert_uint_eq(page[0].ifindex, list[TB_MAX_LEASES].ifindex);
	close(sock);
	/* uid 65534 holds none of them. */
	ck_assert_uint_eq(list_as(&b, TESTLIB_UID).nleases, 0);
	tunclient_lease_info_free(list);

	/* One by one, their last closes would take a minute of RCU waits. */
	release_pipelined(&b, names, MANY);
	ck_assert_int_eq(tunclient_list(conn, &list, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(list);
	for (i = 0; i < MANY; i++)
		close(fds[i]);
	tunclient_close(conn);
	free(fds);
	free(page);
	free(names);
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
	tcase_add_test(tc, pipelined_releases_answered_when_gone);
	tcase_add_test(tc, failed_deletion_is_an_error);
	tcase_add_test(tc, stop_answers_releases_in_flight);
	tcase_add_test(tc, external_deletion_ends_lease);
	tcase_add_test(tc, list_shows_own_leases);
	tcase_add_test(tc, restart_adopts_held_devices);
	tcase_add_test(tc, crash_with_traffic_flowing);
	tcase_add_test(tc, startup_deletes_own_orphans_only);
	suite_add_tcase(s, tc);
	tc = tcase_create("many");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, list_pages_past_one_reply);
	suite_add_tcase(s, tc);
	return testlib_run(s, true);
}
