/*
 * bench/grant: the time from asking for a configured TUN device to holding
 * its descriptor, through tunbrokerd (on an established connection, as a
 * library client asks, and on a connection made for the one request, as
 * `tunctl request` does), against in the same run
 *   (a) the limit: the same creation and configuration done with raw
 *       system calls (TUNSETIFF, TUNSETOWNER, rtnetlink) by a helper
 *       process that passes the descriptor back over a socketpair,
 *   (b) `ip tuntap add` + `ip addr add` + `ip link set up`, then opening
 *       the device, and
 *   (c) Debian's qemu-bridge-helper handing over a TAP descriptor, where
 *       it is installed.
 * Every device gets a fixed unique name, MTU 1400, link up and one unique
 * /30 from 198.18.0.0/15 (qemu-bridge-helper: a TAP in a bridge, no
 * address).  Each method is measured sequentially and with 64 concurrent
 * client processes; p50 and p99 in milliseconds.
 *
 * Runs as root in network and mount namespaces of its own (its files on a tmpfs
 * there, qemu-bridge-helper's ACL on an overlay of /etc), starts its own
 * tunbrokerd (argv[1], else $TUNBROKERD, else ./tunbrokerd) with a
 * configuration in a temporary directory, and deletes the devices it made
 * in batches, outside the timed sections: RTM_DELLINK, then close.
 * Clients run as root, matched by a rule for uid 0: the broker does the
 * same work for any uid, and a root client can delete its own batch.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tunclient.h"

#define CLIENTS		64		/* concurrent client processes */
#define BATCH		64		/* live devices before a deletion */
#define MTU		1400
#define OWNER		65534		/* (b)'s `ip tuntap ... user` */
#define BRIDGE		"br0"
#define BRIDGE_HELPER	"/usr/lib/qemu/qemu-bridge-helper"
#define BRIDGE_CONF	"/etc/qemu/bridge.conf"

extern char **environ;

enum method { BROKER, BROKER_CONNECT, LIMIT, IPROUTE, QEMU, NMETHODS };

static const char *const method_names[NMETHODS] = {
	"broker", "broker+connect", "(a) raw syscalls+fd pass",
	"(b) ip tuntap/addr/link", "(c) qemu-bridge-helper",
};

struct options {
	bool run[NMETHODS];	/* the methods measured (--methods) */
	unsigned sequential;	/* requests per method, one client */
	unsigned per_client;	/* requests per concurrent client */
	unsigned rounds;	/* concurrent rounds */
};

/* One device made and held: what deleting it needs. */
struct held {
	int fd;
	unsigned ifindex;
};

/* What every timed request needs to know. */
struct context {
	const char *socket_path;
	bool have_qemu;
};

static void
die(const char *what)
{
	fprintf(stderr, "grant: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
die_rc(const char *what, int rc)
{
	errno = -rc;
	die(what);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Device number i's name and its /30 (the first host address). */
static void
device_params(unsigned i, char name[IFNAMSIZ], struct in_addr *addr)
{
	snprintf(name, IFNAMSIZ, "tb%u", i);
	addr->s_addr = htonl((198u << 24 | 18u << 16) +
	    ((i * 4u) & 0x1ffffu) + 1u);
}

/* ---------------------------------------------------------------------
 * rtnetlink, written out here so that the limit owes nothing to the
 * daemon's code.
 */

/* Sends one request and waits for its ack; 0 or a negative errno. */
static int
rtnl_call(int nl, struct nlmsghdr *nlh)
{
	static uint32_t seq;
	char buf[4096] __attribute__((aligned(8)));
	struct nlmsghdr *m;
	ssize_t n;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++seq;
	if (send(nl, nlh, nlh->nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		if ((n = recv(nl, buf, sizeof(buf), 0)) < 0)
			return -errno;
		for (m = (struct nlmsghdr *)buf; NLMSG_OK(m, (size_t)n);
		    m = NLMSG_NEXT(m, n)) {
			if (m->nlmsg_seq == nlh->nlmsg_seq &&
			    m->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(m))->error;
		}
	}
}

static void
rta_put(struct nlmsghdr *nlh, unsigned short type, const void *data,
    size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nlh +
	    NLMSG_ALIGN(nlh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static int
rtnl_open(void)
{
	int one = 1, nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_ROUTE);

	if (nl < 0)
		die("socket(NETLINK_ROUTE)");
	setsockopt(nl, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return nl;
}

struct link_req {
	struct nlmsghdr nlh;
	struct ifinfomsg ifi;
	char attrs[256];
};

/* RTM_NEWLINK: MTU and up in one message. */
static int
rtnl_mtu_up(int nl, unsigned ifindex)
{
	struct link_req r = { .nlh = { .nlmsg_len = NLMSG_LENGTH(sizeof(r.ifi)),
	    .nlmsg_type = RTM_NEWLINK }, .ifi = { .ifi_family = AF_UNSPEC,
	    .ifi_index = (int)ifindex, .ifi_flags = IFF_UP,
	    .ifi_change = IFF_UP } };
	uint32_t mtu = MTU;

	rta_put(&r.nlh, IFLA_MTU, &mtu, sizeof(mtu));
	return rtnl_call(nl, &r.nlh);
}

static int
rtnl_add_addr(int nl, unsigned ifindex, const struct in_addr *addr)
{
	struct {
		struct nlmsghdr nlh;
		struct ifaddrmsg ifa;
		char attrs[64];
	} r = { .nlh = { .nlmsg_len = NLMSG_LENGTH(sizeof(r.ifa)),
	    .nlmsg_type = RTM_NEWADDR,
	    .nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL },
	    .ifa = { .ifa_family = AF_INET, .ifa_prefixlen = 30,
	    .ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = ifindex } };

	rta_put(&r.nlh, IFA_LOCAL, addr, sizeof(*addr));
	rta_put(&r.nlh, IFA_ADDRESS, addr, sizeof(*addr));
	return rtnl_call(nl, &r.nlh);
}

/*
 * The interface group the benchmark deletes its devices from, a batch at
 * a time: one RTM_DELLINK waits out RCU grace periods (about 33 ms) for a
 * whole group as for one device.  Not the broker's own group.
 */
#define BENCH_GROUP	0x62656e63u	/* "benc" */

/* Puts ifindex into BENCH_GROUP; 0 or a negative errno. */
static int
rtnl_doom_link(int nl, unsigned ifindex)
{
	struct link_req r = { .nlh = { .nlmsg_len = NLMSG_LENGTH(sizeof(r.ifi)),
	    .nlmsg_type = RTM_NEWLINK }, .ifi = { .ifi_family = AF_UNSPEC,
	    .ifi_index = (int)ifindex } };
	uint32_t group = BENCH_GROUP;

	rta_put(&r.nlh, IFLA_GROUP, &group, sizeof(group));
	return rtnl_call(nl, &r.nlh);
}

/* Deletes the n links of ifindex with one RTM_DELLINK of their group. */
static void
rtnl_del_links(int nl, const unsigned *ifindex, size_t n)
{
	struct link_req r = { .nlh = { .nlmsg_len = NLMSG_LENGTH(sizeof(r.ifi)),
	    .nlmsg_type = RTM_DELLINK }, .ifi = { .ifi_family = AF_UNSPEC } };
	uint32_t group = BENCH_GROUP;
	size_t i, doomed = 0;
	int rc;

	for (i = 0; i < n; i++) {
		if ((rc = rtnl_doom_link(nl, ifindex[i])) == 0)
			doomed++;
		else if (rc != -ENODEV)
			die_rc("RTM_NEWLINK group", rc);
	}
	if (doomed == 0)
		return;
	rta_put(&r.nlh, IFLA_GROUP, &group, sizeof(group));
	if ((rc = rtnl_call(nl, &r.nlh)) != 0)
		die_rc("RTM_DELLINK group", rc);
}

/* Deletes the held devices, then closes their descriptors. */
static void
release_batch(int nl, struct held *h, unsigned n)
{
	unsigned ifindex[BATCH] = { 0 }, i;

	for (i = 0; i < n; i++)
		ifindex[i] = h[i].ifindex;
	rtnl_del_links(nl, ifindex, n);
	for (i = 0; i < n; i++)
		close(h[i].fd);
}

/* ---------------------------------------------------------------------
 * The methods.  Each makes device number i, returns the milliseconds it
 * took and fills *h; t_connect (broker only) gets the time including the
 * connection.
 */

/*
 * Device number i through the broker: on conn, an established connection
 * (as (a)'s socketpair is), or with conn NULL on a connection of its own,
 * made in the timed section and closed after it.
 */
static double
grant_broker(const struct context *ctx, struct tunclient_conn *conn,
    unsigned i, struct held *h)
{
	struct tunclient_conn *fresh = NULL;
	struct tunclient_request *req;
	struct tunclient_lease *lease;
	char name[IFNAMSIZ], cidr[32];
	struct in_addr addr;
	double t0, t1;
	int rc;

	device_params(i, name, &addr);
	snprintf(cidr, sizeof(cidr), "%s/30", inet_ntoa(addr));
	if ((rc = tunclient_request_new(&req)) != 0 ||
	    (rc = tunclient_request_set_name(req, name)) != 0 ||
	    (rc = tunclient_request_add_address(req, cidr)) != 0 ||
	    (rc = tunclient_request_set_mtu(req, MTU)) != 0)
		die_rc("building a request", rc);
	t0 = now_ms();
	if (conn == NULL &&
	    (rc = tunclient_connect(ctx->socket_path, &fresh)) != 0)
		die_rc("tunclient_connect", rc);
	if ((rc = tunclient_request(conn != NULL ? conn : fresh, req,
	    &lease)) != 0) {
		fprintf(stderr, "grant: %s: %s\n", name,
		    tunclient_conn_error(conn != NULL ? conn : fresh));
		die_rc("tunclient_request", rc);
	}
	t1 = now_ms();
	h->ifindex = tunclient_lease_ifindex(lease);
	h->fd = tunclient_lease_take_fd(lease, 0);
	tunclient_lease_free(lease);
	if (fresh != NULL)
		tunclient_close(fresh);
	tunclient_request_free(req);
	return t1 - t0;
}

/* An established connection to the broker. */
static struct tunclient_conn *
broker_connect(const struct context *ctx)
{
	struct tunclient_conn *conn;
	int rc;

	if ((rc = tunclient_connect(ctx->socket_path, &conn)) != 0)
		die_rc("tunclient_connect", rc);
	return conn;
}

/*
 * The limit's helper: for each index read from sock, creates and
 * configures the device and sends back its descriptor and ifindex.
 */
static void
limit_helper(int sock)
{
	int nl = rtnl_open(), ctl, fd, rc;
	char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8)));
	unsigned i, ifindex;
	struct in_addr addr;
	struct ifreq ifr;

	if ((ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket");
	while (read(sock, &i, sizeof(i)) == sizeof(i)) {
		struct iovec iov = { .iov_base = &ifindex,
		    .iov_len = sizeof(ifindex) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
		    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cmsg;

		memset(&ifr, 0, sizeof(ifr));
		device_params(i, ifr.ifr_name, &addr);
		if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0)
			die("/dev/net/tun");
		ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL);
		if (ioctl(fd, TUNSETIFF, &ifr) < 0)
			die("TUNSETIFF");
		if (ioctl(fd, TUNSETOWNER, (unsigned long)0) < 0)
			die("TUNSETOWNER");
		if (ioctl(ctl, SIOCGIFINDEX, &ifr) < 0)
			die("SIOCGIFINDEX");
		ifindex = (unsigned)ifr.ifr_ifindex;
		if ((rc = rtnl_mtu_up(nl, ifindex)) != 0)
			die_rc("RTM_NEWLINK", rc);
		if ((rc = rtnl_add_addr(nl, ifindex, &addr)) != 0)
			die_rc("RTM_NEWADDR", rc);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
		if (sendmsg(sock, &msg, 0) < 0)
			die("sendmsg");
		close(fd);	/* in flight: not the last reference */
	}
	_exit(0);
}

/* Receives one int and one descriptor from sock. */
static int
recv_fd(int sock, unsigned *value)
{
	char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8)));
	struct iovec iov = { .iov_base = value, .iov_len = sizeof(*value) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0)
		die("recvmsg");
	cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg == NULL || cmsg->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(fd));
	return fd;
}

/* Starts a limit helper; returns our end of its socketpair. */
static int
limit_start(pid_t *pid)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	if ((*pid = fork()) < 0)
		die("fork");
	if (*pid == 0) {
		close(sv[0]);
		limit_helper(sv[1]);
	}
	close(sv[1]);
	return sv[0];
}

static double
grant_limit(int helper, unsigned i, struct held *h)
{
	double t0 = now_ms();

	if (write(helper, &i, sizeof(i)) != sizeof(i))
		die("write to the limit helper");
	if ((h->fd = recv_fd(helper, &h->ifindex)) < 0)
		die("no descriptor from the limit helper");
	return now_ms() - t0;
}

/* Runs argv to its end; dies unless it exits 0. */
static void
run(const char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int status;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
	    O_WRONLY, 0);
	/* posix_spawn's argv is not const only for historical reasons. */
	if ((errno = posix_spawn(&pid, argv[0], &fa, NULL,
	    (char *const *)(uintptr_t)argv, environ)))
		die(argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "grant: %s %s failed\n", argv[0], argv[1]);
		exit(1);
	}
}

static double
grant_iproute(unsigned i, struct held *h)
{
	char name[IFNAMSIZ], cidr[32], owner[16];
	struct in_addr addr;
	struct ifreq ifr;
	double t0;

	device_params(i, name, &addr);
	snprintf(cidr, sizeof(cidr), "%s/30", inet_ntoa(addr));
	snprintf(owner, sizeof(owner), "%u", OWNER);
	{
		const char *add[] = { "/usr/sbin/ip", "tuntap", "add", "mode", "tun",
		    "name", name, "user", owner, NULL };
		const char *addr_add[] = { "/usr/sbin/ip", "addr", "add", cidr,
		    "dev", name, NULL };
		const char *up[] = { "/usr/sbin/ip", "link", "set", name, "mtu",
		    "1400", "up", NULL };

		t0 = now_ms();
		run(add);
		run(addr_add);
		run(up);
	}
	/* The owner opens it: the descriptor in hand ends the grant. */
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if ((h->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0 ||
	    ioctl(h->fd, TUNSETIFF, &ifr) < 0)
		die("attaching to the ip-made device");
	t0 = now_ms() - t0;
	if ((h->ifindex = if_nametoindex(name)) == 0)
		die("if_nametoindex");
	return t0;
}

static double
grant_qemu(struct held *h)
{
	char fdarg[32];
	const char *argv[] = { BRIDGE_HELPER, "--br=" BRIDGE, fdarg, NULL };
	struct ifreq ifr;
	unsigned dummy;
	int sv[2], status;
	double t;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	snprintf(fdarg, sizeof(fdarg), "--fd=%d", sv[1]);
	fcntl(sv[1], F_SETFD, 0);
	t = now_ms();
	if ((errno = posix_spawn(&pid, argv[0], NULL, NULL,
	    (char *const *)(uintptr_t)argv, environ)))
		die(argv[0]);
	close(sv[1]);
	h->fd = recv_fd(sv[0], &dummy);
	t = now_ms() - t;
	close(sv[0]);
	if (waitpid(pid, &status, 0) != pid || h->fd < 0) {
		fprintf(stderr, "grant: qemu-bridge-helper failed\n");
		exit(1);
	}
	if (ioctl(h->fd, TUNGETIFF, &ifr) < 0)
		die("TUNGETIFF");
	if ((h->ifindex = if_nametoindex(ifr.ifr_name)) == 0)
		die("if_nametoindex");
	return t;
}

/* ---------------------------------------------------------------------
 * Sequential and concurrent runs.
 */

/* Samples of one method, in milliseconds. */
struct samples {
	double *v;
	size_t n;
	double wall_ms;		/* concurrent: first start to last done */
};

/*
 * One client's run of count requests of method m from device number
 * first on: times into t, deleting the devices untimed every BATCH and at
 * the end.
 */
static void
client_run(const struct context *ctx, enum method m, unsigned first,
    unsigned count, double *t, int nl)
{
	static struct held held[BATCH];
	struct tunclient_conn *conn = NULL;
	unsigned i, n = 0;
	pid_t helper = 0;
	int sock = -1;

	if (m == LIMIT)
		sock = limit_start(&helper);
	if (m == BROKER)
		conn = broker_connect(ctx);
	for (i = 0; i < count; i++) {
		switch (m) {
		case BROKER:
		case BROKER_CONNECT:
			t[i] = grant_broker(ctx, conn, first + i, &held[n]);
			break;
		case LIMIT:
			t[i] = grant_limit(sock, first + i, &held[n]);
			break;
		case IPROUTE:
			t[i] = grant_iproute(first + i, &held[n]);
			break;
		case QEMU:
			t[i] = grant_qemu(&held[n]);
			break;
		default:
			abort();
		}
		if (++n == BATCH || i + 1 == count) {
			release_batch(nl, held, n);
			n = 0;
		}
	}
	if (sock >= 0) {
		close(sock);
		waitpid(helper, NULL, 0);
	}
	if (conn != NULL)
		tunclient_close(conn);
}

static void
add_samples(struct samples *s, const double *v, size_t n)
{
	s->v = realloc(s->v, (s->n + n) * sizeof(*v));
	if (s->v == NULL)
		die("realloc");
	memcpy(s->v + s->n, v, n * sizeof(*v));
	s->n += n;
}

/*
 * A round of CLIENTS processes, each making per_client devices of method
 * m at once; they hold them until all are done, then the parent deletes
 * them all.
 */
static void
concurrent_round(const struct context *ctx, enum method m, unsigned first,
    unsigned per_client, struct samples *s)
{
	size_t n = (size_t)CLIENTS * per_client;
	double *t, wall;
	unsigned *ifindex;
	int start[2], done[2], finish[2], nl, c;
	pid_t pids[CLIENTS];
	char b;

	t = mmap(NULL, n * sizeof(double) + n * sizeof(unsigned),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		die("mmap");
	ifindex = (unsigned *)(t + n);
	if (pipe2(start, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0 ||
	    pipe2(finish, O_CLOEXEC) < 0)
		die("pipe");
	fflush(NULL);
	for (c = 0; c < CLIENTS; c++) {
		if ((pids[c] = fork()) < 0)
			die("fork");
		if (pids[c] == 0) {
			struct held h[64];
			struct tunclient_conn *conn = NULL;
			unsigned j, base = (unsigned)c * per_client;
			pid_t helper = 0;
			int sock = -1;

			close(start[1]);
			close(done[0]);
			close(finish[1]);
			if (m == LIMIT)
				sock = limit_start(&helper);
			if (m == BROKER)
				conn = broker_connect(ctx);
			/* Everyone starts together. */
			if (read(start[0], &b, 1) < 0)
				_exit(1);
			for (j = 0; j < per_client; j++) {
				unsigned dev = first + base + j;

				switch (m) {
				case BROKER:
				case BROKER_CONNECT:
					t[base + j] = grant_broker(ctx, conn,
					    dev, &h[j]);
					break;
				case LIMIT:
					t[base + j] = grant_limit(sock, dev,
					    &h[j]);
					break;
				case IPROUTE:
					t[base + j] = grant_iproute(dev, &h[j]);
					break;
				case QEMU:
					t[base + j] = grant_qemu(&h[j]);
					break;
				default:
					abort();
				}
				ifindex[base + j] = h[j].ifindex;
			}
			if (write(done[1], "", 1) != 1)
				_exit(1);
			/* Hold until the parent has deleted them. */
			if (read(finish[0], &b, 1) < 0)
				_exit(1);
			for (j = 0; j < per_client; j++)
				close(h[j].fd);
			if (sock >= 0) {
				close(sock);
				waitpid(helper, NULL, 0);
			}
			if (conn != NULL)
				tunclient_close(conn);
			_exit(0);
		}
	}
	close(start[0]);
	close(done[1]);
	close(finish[0]);
	usleep(100 * 1000);	/* let the helpers and clients settle */
	wall = now_ms();
	close(start[1]);
	for (c = 0; c < CLIENTS; c++) {
		if (read(done[0], &b, 1) != 1) {
			fprintf(stderr, "grant: a client failed\n");
			exit(1);
		}
	}
	s->wall_ms += now_ms() - wall;
	nl = rtnl_open();
	rtnl_del_links(nl, ifindex, n);
	close(nl);
	close(finish[1]);
	for (c = 0; c < CLIENTS; c++)
		waitpid(pids[c], NULL, 0);
	close(done[0]);
	add_samples(s, t, n);
	munmap(t, n * sizeof(double) + n * sizeof(unsigned));
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of s; s is sorted. */
static double
quantile(struct samples *s, double q)
{
	size_t k;

	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof(s->v[0]), compare_double);
	k = (size_t)(q * (double)s->n + 0.999999);
	return s->v[k == 0 ? 0 : k - 1];
}

static void
report(const char *mode, struct samples *s, const bool *run, bool have_qemu)
{
	double p50[NMETHODS], p99[NMETHODS];
	int m;

	for (m = 0; m < NMETHODS; m++) {
		p50[m] = quantile(&s[m], 0.50);
		p99[m] = quantile(&s[m], 0.99);
	}
	for (m = 0; m < NMETHODS; m++) {
		printf("%-10s %-26s ", mode, method_names[m]);
		if (m == QEMU && run[m] && !have_qemu) {
			printf("%8s %8s  not installed\n", "-", "-");
			continue;
		}
		if (!run[m]) {
			printf("%8s %8s  not measured (--methods)\n", "-", "-");
			continue;
		}
		printf("%8.3f %8.3f %6zu", p50[m], p99[m], s[m].n);
		if (s[m].wall_ms > 0)
			printf(" %7.0f/s", (double)s[m].n * 1e3 / s[m].wall_ms);
		if (m == LIMIT)
			printf("  broker/(a) p50 %.2f p99 %.2f", p50[BROKER] /
			    p50[LIMIT], p99[BROKER] / p99[LIMIT]);
		else if (m == IPROUTE || m == QEMU)
			printf("  %s/broker p50 %.1f p99 %.1f",
			    m == IPROUTE ? "(b)" : "(c)", p50[m] / p50[BROKER],
			    p99[m] / p99[BROKER]);
		printf("\n");
	}
	fflush(stdout);
}

/* ---------------------------------------------------------------------
 * Set-up: namespaces, bridge, broker.
 */

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		die(path);
}

/* Makes BRIDGE, up, and lets qemu-bridge-helper use it, in our mounts. */
static bool
qemu_setup(const char *dir)
{
	char upper[256], work[256], opts[600];
	const char *add[] = { "/usr/sbin/ip", "link", "add", BRIDGE, "type",
	    "bridge", NULL };
	const char *up[] = { "/usr/sbin/ip", "link", "set", BRIDGE, "up", NULL };

	if (access(BRIDGE_HELPER, X_OK) != 0)
		return false;
	run(add);
	run(up);
	/*
	 * The helper reads only /etc/qemu/bridge.conf: an overlay on /etc,
	 * in our own mounts, with its upper layer on our tmpfs, gives it one
	 * without touching the host's /etc.
	 */
	snprintf(upper, sizeof(upper), "%s/etc-upper", dir);
	snprintf(work, sizeof(work), "%s/etc-work", dir);
	if (mkdir(upper, 0755) < 0 || mkdir(work, 0755) < 0)
		die("mkdir");
	snprintf(opts, sizeof(opts), "lowerdir=/etc,upperdir=%s,workdir=%s",
	    upper, work);
	if (mount("overlay", "/etc", "overlay", 0, opts) < 0)
		die("mounting an overlay on /etc");
	if (mkdir("/etc/qemu", 0755) < 0 && errno != EEXIST)
		die("/etc/qemu");
	write_file(BRIDGE_CONF, "allow " BRIDGE "\n");
	return true;
}

static pid_t
broker_start(const char *daemon, const char *dir, char *socket_path,
    size_t size)
{
	char conf[256], log[256];
	struct tunclient_conn *conn;
	pid_t pid;
	int i, fd;

	snprintf(conf, sizeof(conf), "%s/tunbrokerd.conf", dir);
	snprintf(log, sizeof(log), "%s/tunbrokerd.log", dir);
	snprintf(socket_path, size, "%s/socket", dir);
	write_file(conf, "[socket]\nmode = 0600\n\n"
	    "[limits]\nconnections = 4096\nconnections-per-user = 4096\n"
	    "devices-per-user = 65536\n\n"
	    "[rule bench]\nusers = 0\nnames = tb* bench*\n"
	    "addresses = 198.18.0.0/15\nmax-devices = 65536\n");
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644)) < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(126);
		execl(daemon, daemon, "--foreground", "--socket", socket_path,
		    "--config", conf, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 1000; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			fprintf(stderr, "grant: %s exited; see %s\n", daemon,
			    log);
			exit(1);
		}
		if (tunclient_connect(socket_path, &conn) == 0) {
			int rc = tunclient_ping(conn);

			tunclient_close(conn);
			if (rc == 0)
				return pid;
		}
		usleep(10 * 1000);
	}
	fprintf(stderr, "grant: %s did not answer in 10 s\n", daemon);
	exit(1);
}

/*
 * Reads --methods: a comma-separated list of connect, a, b and c, the
 * methods measured besides the broker on an established connection.
 */
static int
parse_methods(const char *list, bool *run)
{
	static const char *const names[] = { "connect", "a", "b", "c" };
	static const enum method methods[] = { BROKER_CONNECT, LIMIT,
	    IPROUTE, QEMU };
	const char *p = list;
	size_t i, len;

	for (i = 0; i < 4; i++)
		run[methods[i]] = false;
	while (*p != '\0') {
		len = strcspn(p, ",");
		for (i = 0; i < 4; i++) {
			if (len == strlen(names[i]) &&
			    strncmp(p, names[i], len) == 0)
				break;
		}
		if (i == 4)
			return -1;
		run[methods[i]] = true;
		p += len;
		if (*p == ',' && *++p == '\0')
			return -1;
	}
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: grant [--sequential N] [--per-client M] "
	    "[--rounds R] [--methods LIST] [TUNBROKERD]\n"
	    "  --sequential N  requests per method, one client (default 1000)\n"
	    "  --per-client M  requests per client, 64 clients (default 8)\n"
	    "  --rounds R      concurrent rounds per method (default 4)\n"
	    "  --methods LIST  the methods besides the broker, of "
	    "connect,a,b,c (default all)\n"
	    "  TUNBROKERD      the daemon to run (default $TUNBROKERD, else "
	    "./tunbrokerd)\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sequential", required_argument, NULL, 's' },
		{ "per-client", required_argument, NULL, 'm' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "methods", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .run = { true, true, true, true, true },
	    .sequential = 1000, .per_client = 8, .rounds = 4 };
	struct samples seq[NMETHODS] = { { 0 } }, conc[NMETHODS] = { { 0 } };
	char dir[] = "/tmp/tunbroker-grant.XXXXXX", socket_path[256];
	const char *daemon = getenv("TUNBROKERD");
	struct context ctx = { .socket_path = socket_path };
	unsigned next = 0, r, chunk, k;
	double *t;
	pid_t broker;
	int c, nl, m;

	while ((c = getopt_long(argc, argv, "s:m:r:M:h", longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 's':
			o.sequential = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			o.per_client = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o.rounds = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'M':
			if (parse_methods(optarg, o.run) != 0) {
				fprintf(stderr, "grant: --methods %s: a list of "
				    "connect, a, b and c, such as a,c\n",
				    optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		daemon = argv[optind];
	if (daemon == NULL || *daemon == '\0')
		daemon = "./tunbrokerd";
	if (o.sequential == 0 || o.per_client == 0 || o.per_client > 64 ||
	    o.rounds == 0) {
		usage(stderr);
		return 2;
	}

	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
		die("unshare(CLONE_NEWNET | CLONE_NEWNS) (run as root)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("making mounts private");
	/* No IPv6 addresses or router solicitations on the new links. */
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	/* Our files live in our mounts only, and vanish with them. */
	if (mount("tmpfs", dir, "tmpfs", 0, "mode=0700") < 0)
		die("mounting a tmpfs");
	ctx.have_qemu = qemu_setup(dir);
	broker = broker_start(daemon, dir, socket_path, sizeof(socket_path));
	nl = rtnl_open();

	printf("# grant: %u sequential requests a method; %d clients x %u "
	    "requests x %u rounds concurrent\n", o.sequential, CLIENTS,
	    o.per_client, o.rounds);
	printf("# %-8s %-26s %8s %8s %6s (concurrent: grants/s)\n", "mode",
	    "method", "p50_ms", "p99_ms", "n");

	/*
	 * Sequential: the methods take turns a batch at a time, so that
	 * drift in the machine falls on all of them alike, and each batch
	 * starts the turn one method later, so that none always follows the
	 * same one (and the teardown that one leaves to the kernel).
	 */
	if ((t = calloc(BATCH, sizeof(*t))) == NULL)
		die("calloc");
	for (r = 0, k = 0; r < o.sequential; r += chunk, k++) {
		chunk = o.sequential - r < BATCH ? o.sequential - r : BATCH;
		for (c = 0; c < NMETHODS; c++) {
			m = (int)((k + (unsigned)c) % NMETHODS);
			if (!o.run[m] || (m == QEMU && !ctx.have_qemu))
				continue;
			client_run(&ctx, (enum method)m, next, chunk, t, nl);
			next += chunk;
			add_samples(&seq[m], t, chunk);
		}
	}
	report("sequential", seq, o.run, ctx.have_qemu);

	for (r = 0; r < o.rounds; r++) {
		for (c = 0; c < NMETHODS; c++) {
			m = (int)((r + (unsigned)c) % NMETHODS);
			if (!o.run[m] || (m == QEMU && !ctx.have_qemu))
				continue;
			concurrent_round(&ctx, (enum method)m, next,
			    o.per_client, &conc[m]);
			next += CLIENTS * o.per_client;
		}
	}
	report("concurrent", conc, o.run, ctx.have_qemu);

	kill(broker, SIGTERM);
	waitpid(broker, NULL, 0);
	close(nl);
	umount2("/etc", MNT_DETACH);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return 0;
}
