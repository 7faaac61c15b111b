/*
 * Devices in clients' network namespaces, end to end: a real tunbrokerd,
 * an unprivileged client (uid 65534) that names a namespace with its
 * request, and the kernel's view of both namespaces afterwards.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <unistd.h>

#include "addr.h"
#include "codec.h"
#include "fdpass.h"
#include "netinfo.h"
#include "testlib.h"
#include "tunclient.h"

#define ALLOW_NAMESPACES	"users = 65534\nnamespaces = own\nqueues = 4\n" \
	"routes = 198.18.0.0/15\n"

/* What the unprivileged client asks for. */
struct ask {
	const char *socket_path;
	const char *name;
	const char *addrs[2];
	unsigned mtu;
	const char *netns_path;	/* opened by the client; "self" too */
	int netns_fd;		/* or one it inherits; -1 */
	int enter_fd;		/* a namespace to be in first, or -1 */
	const char *release;	/* RELEASE this name instead of creating */
	unsigned queues;
	const char *bridge;	/* a TAP joining this bridge */
	const char *route;
	bool persist;		/* TUNSETPERSIST, and keep no descriptor */
	bool hold;		/* with persist: pass the descriptor on still */
	int chan;
};

/* What it got. */
struct outcome {
	int code;
	char text[TB_ERROR_TEXT_MAX];
	char name[IFNAMSIZ];
	unsigned ifindex;
	unsigned mtu;
	bool has_netns;
	uint64_t dev, ino;
	size_t nleases;		/* LIST right after */
	bool listed;		/* the device was among them */
	int fd;
};

static int
client_netns_fd(const struct ask *a)
{
	if (a->netns_fd >= 0)
		return fcntl(a->netns_fd, F_DUPFD_CLOEXEC, 3);
	if (strcmp(a->netns_path, "self") == 0)
		return open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return open(a->netns_path, O_RDONLY | O_CLOEXEC);
}

/* As uid 65534: one request, then LIST; the outcome goes to a->chan. */
static int
client_run(const struct ask *a)
{
	struct tunclient_request *req = NULL;
	struct tunclient_lease *lease = NULL;
	struct tunclient_conn *conn = NULL;
	struct tunclient_lease_info *list = NULL;
	struct outcome out = { .fd = -1 };
	int fd = -1, nsfd = -1, r;
	size_t i;

	r = tunclient_request_new(&req);
	if (r == 0 && a->name != NULL)
		r = tunclient_request_set_name(req, a->name);
	for (i = 0; r == 0 && i < 2 && a->addrs[i] != NULL; i++)
		r = tunclient_request_add_address(req, a->addrs[i]);
	if (r == 0 && a->mtu != 0)
		r = tunclient_request_set_mtu(req, a->mtu);
	if (r == 0 && a->queues != 0)
		r = tunclient_request_set_queues(req, a->queues);
	if (r == 0 && a->route != NULL)
		r = tunclient_request_add_route(req, a->route, 0);
	if (r == 0 && a->bridge != NULL &&
	    (r = tunclient_request_set_type(req, TUNCLIENT_TAP)) == 0)
		r = tunclient_request_set_bridge(req, a->bridge);
	if (r == 0 && (a->netns_path != NULL || a->netns_fd >= 0)) {
		if ((nsfd = client_netns_fd(a)) < 0)
			r = -errno;
		else
			r = tunclient_request_set_netns_fd(req, nsfd);
	}
	if (r != 0) {
		snprintf(out.text, sizeof(out.text), "builder: %s (%s)",
		    tunclient_request_error(req), strerror(-r));
	} else if ((r = tunclient_connect(a->socket_path, &conn)) != 0) {
		snprintf(out.text, sizeof(out.text), "connect: %s",
		    strerror(-r));
	} else if (a->release != NULL) {
		if ((r = tunclient_release(conn, a->release)) != 0)
			snprintf(out.text, sizeof(out.text), "%s",
			    tunclient_conn_error(conn));
	} else if ((r = tunclient_request(conn, req, &lease)) != 0) {
		snprintf(out.text, sizeof(out.text), "%s",
		    tunclient_conn_error(conn));
	} else {
		snprintf(out.name, sizeof(out.name), "%s",
		    tunclient_lease_name(lease));
		out.ifindex = tunclient_lease_ifindex(lease);
		out.mtu = tunclient_lease_mtu(lease);
		out.has_netns = tunclient_lease_netns(lease, &out.dev,
		    &out.ino) == 0;
		fd = tunclient_lease_fd(lease, 0);
		if (a->persist) {
			if (ioctl(fd, TUNSETPERSIST, 1) != 0)
				r = -errno;
			if (!a->hold)
				fd = -1;
		}
	}
	if (conn != NULL && tunclient_list(conn, &list, &out.nleases) == 0) {
		for (i = 0; i < out.nleases; i++)
			out.listed |= strcmp(list[i].name, out.name) == 0;
	}
	out.code = r;
	r = tb_send(a->chan, &out, sizeof(out), &fd, fd >= 0 ? 1 : 0);
	tunclient_lease_info_free(list);
	tunclient_lease_free(lease);
	tunclient_close(conn);
	tunclient_request_free(req);
	if (nsfd >= 0)
		close(nsfd);
	return r == 0 ? 0 : 1;
}

/* Runs the client as uid 65534 (in a->enter_fd's namespace, if set). */
static struct outcome
ask(struct ask a)
{
	struct outcome out;
	int chan[2], fds[TB_MSG_MAX_FDS], status;
	size_t nfds;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    chan), 0);
	a.chan = chan[1];
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if ((a.enter_fd >= 0 && setns(a.enter_fd, CLONE_NEWNET) != 0) ||
		    setgroups(0, NULL) != 0 ||
		    setresgid(TESTLIB_GID, TESTLIB_GID, TESTLIB_GID) != 0 ||
		    setresuid(TESTLIB_UID, TESTLIB_UID, TESTLIB_UID) != 0)
			_exit(125);
		_exit(client_run(&a));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "client status 0x%x", status);
	close(chan[1]);
	nfds = testlib_recv_report(chan[0], &out, sizeof(out), fds);
	close(chan[0]);
	out.fd = testlib_report_fd(fds, nfds, out.code == 0 &&
	    a.release == NULL && (!a.persist || a.hold));
	return out;
}

/* ask(), which must be granted. */
static struct outcome
ask_ok(struct ask a)
{
	struct outcome out = ask(a);

	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	return out;
}

static struct ask
ask_in(const struct testlib_broker *b, const char *netns_path)
{
	return (struct ask){ .socket_path = b->socket_path,
	    .netns_path = netns_path, .netns_fd = -1, .enter_fd = -1 };
}

/* What the kernel says of one link in a namespace. */
struct probe {
	const char *name;
	struct netinfo_link link;
};

static int
probe_link(void *arg)
{
	struct probe *p = arg;

	return netinfo_link_by_name(p->name, &p->link);
}

/* netinfo_link_by_name() in the namespace netns_fd. */
static int
link_in(int netns_fd, const char *name, struct netinfo_link *out)
{
	struct probe p = { .name = name };
	int r = testlib_in_netns(netns_fd, probe_link, &p);

	*out = p.link;
	return r;
}

static int
link_gone_here(void *arg)
{
	const char *const *name = arg;

	return netinfo_link_gone_within(*name, 5000);
}

/* Polls until the link is gone from the namespace; false if it stays. */
static bool
link_gone_in(int netns_fd, const char *name)
{
	return testlib_in_netns(netns_fd, link_gone_here, &name) != 0;
}

/* Polls LIST until the client holds n leases; false if it never does. */
static bool
leases_become(const struct testlib_broker *b, size_t n)
{
	struct outcome out;
	struct ask a = ask_in(b, NULL);
	int i;

	a.release = "none-such";
	for (i = 0; i < 500; i++) {
		out = ask(a);
		if (out.nleases == n)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/* A UDP socket inside a namespace, bound to addr:port. */
struct udp_in_ns {
	const char *addr;
	int port;
	int sock;
};

static int
udp_socket_here(void *arg)
{
	struct udp_in_ns *u = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)u->port) };
	struct ifreq ifr = { .ifr_name = "lo" };

	u->sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u->sock < 0)
		return -errno;
	/* lo up, as a container's would be. */
	if (ioctl(u->sock, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		(void)ioctl(u->sock, SIOCSIFFLAGS, &ifr);
	}
	inet_pton(AF_INET, u->addr, &sa.sin_addr);
	if (bind(u->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

/* Runs a shell command line in the caller's namespace; its exit status. */
static int
shell(void *arg)
{
	int status = system(arg);

	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/*
 * The set-up of most tests here: a fresh namespace, a broker that allows
 * clients' namespaces, and a rootless container (uid 65534's own user and
 * network namespace); returns the path of the container's namespace.
 */
static char *
start_broker_and_container(struct testlib_broker *b,
    struct testlib_ns_child *c)
{
	testlib_enter_netns();
	testlib_broker_start(b, ALLOW_NAMESPACES);
	testlib_ns_child_start(c, false);
	return testlib_strf("/proc/%d/ns/net", (int)c->pid);
}

/* Ends what start_broker_and_container() started, and frees path. */
static void
stop_broker_and_container(struct testlib_broker *b,
    struct testlib_ns_child *c, char *path)
{
	testlib_ns_child_stop(c);
	free(path);
	testlib_broker_stop(b);
}

/*
 * The rootless-container case: uid 65534 made a user and a network
 * namespace; the device it asks for appears there, configured, and
 * nowhere else, carries traffic there, counts as its lease, and the
 * lease ends when the device goes.
 */
START_TEST(device_in_own_namespace)
{
	static const char to_socket[] = "into the container";
	static const char to_device[] = "out of the container";
	struct sockaddr_in dst = { .sin_family = AF_INET,
	    .sin_port = htons(5000) };
	struct testlib_ns_child c;
	struct testlib_broker b;
	struct udp_in_ns u = { .addr = "198.18.5.1", .port = 4000 };
	struct netinfo_link link;
	struct outcome out;
	struct ask a;
	struct stat st;
	uint8_t pkt[20 + 8 + sizeof(to_socket) - 1];
	char buf[128], *path;
	ssize_t n;

	path = start_broker_and_container(&b, &c);
	a = ask_in(&b, path);
	a.name = "ctr0";
	a.addrs[0] = "198.18.5.1/24";
	a.addrs[1] = "2001:db8:5::1/64";
	a.mtu = 1400;
	a.route = "198.19.0.0/16";
	out = ask_ok(a);
	ck_assert_str_eq(out.name, "ctr0");
	ck_assert_uint_eq(out.mtu, 1400);
	ck_assert_int_eq(fstat(c.netns_fd, &st), 0);
	ck_assert(out.has_netns);
	ck_assert(out.dev == (uint64_t)st.st_dev && out.ino == (uint64_t)st.st_ino);
	ck_assert(out.listed);
	ck_assert_uint_eq(out.nleases, 1);

	/* There, as asked; here, nothing. */
	ck_assert_int_eq(link_in(c.netns_fd, "ctr0", &link), 0);
	ck_assert_str_eq(link.kind, "tun");
	ck_assert_uint_eq(link.ifindex, out.ifindex);
	ck_assert_uint_eq(link.mtu, 1400);
	ck_assert(link.flags & IFF_UP);
	ck_assert(netinfo_link_has_address(&link, "198.18.5.1/24"));
	ck_assert(netinfo_link_has_address(&link, "2001:db8:5::1/64"));
	ck_assert(link.has_owner && link.owner == TESTLIB_UID);
	ck_assert_int_eq(netinfo_link_by_name("ctr0", &link), -ENODEV);
	ck_assert_int_eq(testlib_in_netns(c.netns_fd, shell,
	    (char[]){ "ip route show 198.19.0.0/16 | grep -q 'dev ctr0'" }), 0);

	/* Traffic flows inside the namespace, both ways. */
	ck_assert_int_eq(testlib_in_netns(c.netns_fd, udp_socket_here, &u), 0);
	ck_assert_uint_eq(testlib_udp4_packet(pkt, "198.18.5.2", 5000,
	    "198.18.5.1", 4000, to_socket, sizeof(to_socket) - 1), sizeof(pkt));
	ck_assert_int_eq(write(out.fd, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	ck_assert_int_eq(poll(&(struct pollfd){ .fd = u.sock, .events = POLLIN },
	    1, 2000), 1);
	n = recv(u.sock, buf, sizeof(buf), 0);
	ck_assert_int_eq(n, (ssize_t)sizeof(to_socket) - 1);
	ck_assert_int_eq(memcmp(buf, to_socket, (size_t)n), 0);
	inet_pton(AF_INET, "198.18.5.2", &dst.sin_addr);
	ck_assert_int_eq(sendto(u.sock, to_device, strlen(to_device), 0,
	    (struct sockaddr *)&dst, sizeof(dst)), (ssize_t)strlen(to_device));
	ck_assert_msg(testlib_read_udp_from_device(out.fd, 4, to_device),
	    "the datagram to 198.18.5.2 did not come out of the device");
	close(u.sock);

	/* The last queue closed: the device goes, and its lease with it. */
	close(out.fd);
	ck_assert_msg(link_gone_in(c.netns_fd, "ctr0"), "ctr0 outlived its fd");
	ck_assert_msg(leases_become(&b, 0), "the lease outlived ctr0");
	stop_broker_and_container(&b, &c, path);
}
END_TEST

/* RELEASE deletes a device in the client's namespace. */
START_TEST(release_in_namespace)
{
	struct testlib_ns_child c;
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out, rel;
	struct ask a;
	char *path;

	path = start_broker_and_container(&b, &c);
	a = ask_in(&b, path);
	a.name = "rel0";
	out = ask_ok(a);
	ck_assert_int_eq(link_in(c.netns_fd, "rel0", &link), 0);

	a = ask_in(&b, NULL);
	a.release = "rel0";
	rel = ask(a);
	ck_assert_msg(rel.code == 0, "release refused: %s", rel.text);
	ck_assert_msg(link_gone_in(c.netns_fd, "rel0"),
	    "rel0 outlived its release");
	ck_assert_msg(leases_become(&b, 0), "the lease outlived rel0");
	close(out.fd);
	stop_broker_and_container(&b, &c, path);
}
END_TEST

/* A namespace root made is not the client's: refused, with the owner. */
START_TEST(refuse_someone_elses_namespace)
{
	struct testlib_ns_child roots;
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	struct ask a;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NAMESPACES);
	testlib_ns_child_start(&roots, true);
	a = ask_in(&b, NULL);
	a.netns_fd = roots.netns_fd;
	a.name = "theft0";
	out = ask(a);
	ck_assert_int_eq(out.code, -EPERM);
	ck_assert_msg(strstr(out.text, "netns: namespace is owned by uid 0, "
	    "not 65534") != NULL, "%s", out.text);
	ck_assert_int_eq(link_in(roots.netns_fd, "theft0", &link), -ENODEV);
	ck_assert_int_eq(netinfo_link_by_name("theft0", &link), -ENODEV);
	testlib_ns_child_stop(&roots);
	testlib_broker_stop(&b);
}
END_TEST

/* A descriptor that is not a namespace is refused as such. */
START_TEST(refuse_not_a_namespace)
{
	struct testlib_broker b;
	struct outcome out;
	struct ask a;
	int pipefd[2];

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NAMESPACES);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	a = ask_in(&b, NULL);
	a.netns_fd = pipefd[0];
	out = ask(a);
	ck_assert_int_eq(out.code, -EBADF);
	ck_assert_msg(strstr(out.text, "netns: descriptor is not a network "
	    "namespace") != NULL, "%s", out.text);
	close(pipefd[0]);
	close(pipefd[1]);
	testlib_broker_stop(&b);
}
END_TEST

/* namespaces = none (the default) refuses, citing the rule. */
START_TEST(refuse_by_policy)
{
	struct testlib_ns_child c;
	struct testlib_broker b;
	struct outcome out;
	char *path;

	testlib_enter_netns();
	testlib_broker_start(&b, "users = 65534\n");
	testlib_ns_child_start(&c, false);
	path = testlib_strf("/proc/%d/ns/net", (int)c.pid);
	out = ask(ask_in(&b, path));
	ck_assert_int_eq(out.code, -EPERM);
	ck_assert_msg(strstr(out.text, "netns: placing the device in another "
	    "network namespace is not allowed by rule test (") != NULL &&
	    strstr(out.text, "(namespaces = none)") != NULL, "%s", out.text);
	stop_broker_and_container(&b, &c, path);
}
END_TEST

/*
 * --netns self: a client living in a namespace root made may have its
 * device there, because it is the namespace it connected from.
 */
START_TEST(self_namespace)
{
	struct testlib_ns_child roots;
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	struct ask a;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NAMESPACES);
	testlib_ns_child_start(&roots, true);
	a = ask_in(&b, "self");
	a.enter_fd = roots.netns_fd;
	a.name = "self0";
	a.addrs[0] = "198.18.6.1/24";
	out = ask_ok(a);
	ck_assert(out.has_netns);
	ck_assert_int_eq(link_in(roots.netns_fd, "self0", &link), 0);
	ck_assert(netinfo_link_has_address(&link, "198.18.6.1/24"));
	ck_assert_int_eq(netinfo_link_by_name("self0", &link), -ENODEV);
	close(out.fd);
	ck_assert(link_gone_in(roots.netns_fd, "self0"));

	/* From the broker's own namespace, self is no namespace at all. */
	a = ask_in(&b, "self");
	a.name = "home0";
	out = ask_ok(a);
	ck_assert(!out.has_netns);
	ck_assert_int_eq(netinfo_link_by_name("home0", &link), 0);
	close(out.fd);
	testlib_ns_child_stop(&roots);
	testlib_broker_stop(&b);
}
END_TEST

/* A failure after the device exists leaves nothing in either namespace. */
START_TEST(failure_leaves_nothing)
{
	struct testlib_ns_child c;
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	struct ask a;
	char *path;

	path = start_broker_and_container(&b, &c);
	a = ask_in(&b, path);
	a.name = "half0";
	/* The second address is refused by the kernel, once the first is on. */
	a.addrs[0] = "198.18.5.1/24";
	a.addrs[1] = "198.18.5.1/24";
	out = ask(a);
	ck_assert_int_eq(out.code, -EEXIST);
	ck_assert_int_eq(link_in(c.netns_fd, "half0", &link), -ENODEV);
	ck_assert_int_eq(netinfo_link_by_name("half0", &link), -ENODEV);
	ck_assert_uint_eq(out.nleases, 0);
	stop_broker_and_container(&b, &c, path);
}
END_TEST

/*
 * A device left persistent in a namespace goes when the namespace dies,
 * and its lease ends then (the namespace's id is withdrawn).  A broker
 * restarted since it granted the device has no descriptor of the
 * namespace to probe the device with, so this is how its lease ends.
 */
START_TEST(lease_ends_with_namespace)
{
	struct testlib_ns_child c;
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	struct ask a;
	char *path, *log;

	path = start_broker_and_container(&b, &c);
	a = ask_in(&b, path);
	a.name = "kept0";
	a.persist = true;
	a.hold = true;
	out = ask_ok(a);
	testlib_broker_crash(&b);
	testlib_broker_relaunch(&b);
	ck_assert(leases_become(&b, 1));
	close(out.fd);
	/* Persistent, single-queue, unheld: it stays while its home does. */
	usleep(1500 * 1000);
	ck_assert_int_eq(link_in(c.netns_fd, "kept0", &link), 0);
	testlib_ns_child_stop(&c);
	ck_assert_msg(leases_become(&b, 0), "the lease outlived its namespace");
	log = testlib_read_file(b.log_path);
	ck_assert_msg(log != NULL && strstr(log, "is gone: 1 lease ended"),
	    "%s", log);
	free(log);
	free(path);
	testlib_broker_stop(&b);
}
END_TEST

/* Whether process pid has a descriptor of the namespace netns_fd names. */
static bool
holds_netns(pid_t pid, int netns_fd)
{
	char *dir = testlib_strf("/proc/%d/fd", (int)pid), *want, link[64];
	struct dirent *d;
	struct stat st;
	bool found = false;
	DIR *dp;
	ssize_t n;

	ck_assert_int_eq(fstat(netns_fd, &st), 0);
	want = testlib_strf("net:[%llu]", (unsigned long long)st.st_ino);
	dp = opendir(dir);
	ck_assert_ptr_nonnull(dp);
	while (!found && (d = readdir(dp)) != NULL) {
		char *path = testlib_strf("%s/%s", dir, d->d_name);

		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = strcmp(link, want) == 0;
		}
		free(path);
	}
	closedir(dp);
	free(want);
	free(dir);
	return found;
}

/*
 * A single-queue device in a namespace whose holder set it persistent
 * and closed it is found unheld through the namespace helper and
 * deleted there; its lease ends and the namespace is let go.
 */
START_TEST(abandoned_single_queue_deleted)
{
	struct testlib_ns_child c;
	struct testlib_broker b;
	struct ask a;
	char *path;

	path = start_broker_and_container(&b, &c);
	a = ask_in(&b, path);
	a.name = "sq0";
	a.persist = true;
	ask_ok(a);
	ck_assert_msg(link_gone_in(c.netns_fd, "sq0"),
	    "the abandoned sq0 was not deleted");
	ck_assert_msg(leases_become(&b, 0), "the lease outlived sq0");
	/* With no lease left there, the broker lets the namespace go. */
	ck_assert(!holds_netns(b.pid, c.netns_fd));
	stop_broker_and_container(&b, &c, path);
}
END_TEST

/*
 * A device held, though persistent and without carrier, is no orphan:
 * the probe finds it held and leaves it.
 */
START_TEST(held_single_queue_kept)
{
	struct testlib_ns_child c;
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	struct ask a;
	char *path;

	path = start_broker_and_container(&b, &c);
	a = ask_in(&b, path);
	a.name = "held0";
	a.persist = true;
	a.hold = true;
	out = ask_ok(a);
	ck_assert(holds_netns(b.pid, c.netns_fd));
	ck_assert_int_eq(ioctl(out.fd, TUNSETCARRIER, &(int){ 0 }), 0);
	/* Rechecks come twice a second: give it several. */
	usleep(2000 * 1000);
	ck_assert_int_eq(link_in(c.netns_fd, "held0", &link), 0);
	ck_assert(leases_become(&b, 1));
	close(out.fd);
	ck_assert_msg(link_gone_in(c.netns_fd, "held0"),
	    "held0 outlived its last holder");
	ck_assert(leases_become(&b, 0));
	stop_broker_and_container(&b, &c, path);
}
END_TEST

/*
 * A multi-queue device in a namespace whose queues all closed, though
 * persistent, is deleted there by the broker, and its lease ends.
 */
START_TEST(abandoned_multiqueue_deleted)
{
	struct testlib_ns_child c;
	struct testlib_broker b;
	struct ask a;
	char *path;

	path = start_broker_and_container(&b, &c);
	a = ask_in(&b, path);
	a.name = "mq0";
	a.queues = 2;
	a.persist = true;
	ask_ok(a);
	ck_assert_msg(link_gone_in(c.netns_fd, "mq0"),
	    "the abandoned mq0 was not deleted");
	ck_assert_msg(leases_become(&b, 0), "the lease outlived mq0");
	stop_broker_and_container(&b, &c, path);
}
END_TEST

/*
 * A broker that crashed and restarted adopts the devices it had placed in
 * clients' namespaces: they count and show again, and their leases end
 * when they go.
 */
START_TEST(restart_adopts_namespace_devices)
{
	struct testlib_ns_child c;
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	struct ask a;
	char *path, *log;

	path = start_broker_and_container(&b, &c);
	a = ask_in(&b, path);
	a.name = "adopt0";
	out = ask_ok(a);

	testlib_broker_crash(&b);
	testlib_broker_relaunch(&b);
	ck_assert_msg(leases_become(&b, 1), "the new broker did not adopt adopt0");
	log = testlib_read_file(b.log_path);
	ck_assert_msg(log != NULL && strstr(log, "adopt0") != NULL &&
	    strstr(log, "adopted") != NULL, "%s", log);
	free(log);
	ck_assert_int_eq(link_in(c.netns_fd, "adopt0", &link), 0);

	close(out.fd);
	ck_assert(link_gone_in(c.netns_fd, "adopt0"));
	ck_assert_msg(leases_become(&b, 0), "the adopted lease outlived adopt0");
	stop_broker_and_container(&b, &c, path);
}
END_TEST

/*
 * A bridge named with a namespace is the one in that namespace: a TAP
 * joins the container's bridge, and takes its MTU.
 */
START_TEST(bridge_in_namespace)
{
	struct testlib_ns_child c;
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	struct ask a;
	char *path;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_NAMESPACES
	    "device-types = tun, tap\nbridges = nsbr0\n");
	testlib_ns_child_start(&c, false);
	ck_assert_int_eq(testlib_in_netns(c.netns_fd, shell,
	    (char[]){ "ip link add name nsbr0 mtu 1400 type bridge && "
	    "ip link set nsbr0 up" }), 0);
	path = testlib_strf("/proc/%d/ns/net", (int)c.pid);
	a = ask_in(&b, path);
	a.name = "nstap0";
	a.bridge = "nsbr0";
	out = ask_ok(a);
	ck_assert_int_eq(link_in(c.netns_fd, "nstap0", &link), 0);
	ck_assert_uint_eq(link.mtu, 1400);
	ck_assert_int_eq(testlib_in_netns(c.netns_fd, shell,
	    (char[]){ "ip -o link show dev nstap0 | grep -q ' master nsbr0 '" }),
	    0);
	ck_assert_int_eq(netinfo_link_by_name("nsbr0", &link), -ENODEV);
	close(out.fd);

	/* At home there is no such bridge, and the request says so. */
	a = ask_in(&b, NULL);
	a.name = "hometap0";
	a.bridge = "nsbr0";
	out = ask(a);
	ck_assert_int_eq(out.code, -ENODEV);
	stop_broker_and_container(&b, &c, path);
}
END_TEST

/*
 * Root of a client's namespace can relabel a device there as anyone's:
 * a restarted broker adopts only a device whose label names its owner,
 * so a forged label charges nobody else's quota.
 */
START_TEST(restart_ignores_forged_labels)
{
	struct testlib_ns_child c;
	struct testlib_broker b;
	struct outcome real, fake;
	struct ask a;
	char *path, *forge, *log;

	path = start_broker_and_container(&b, &c);
	a = ask_in(&b, path);
	a.name = "real0";
	real = ask_ok(a);
	a.name = "fake0";
	fake = ask_ok(a);
	/* As the container's root, who has no privilege outside it. */
	forge = testlib_strf("setpriv --reuid=%d --regid=%d --clear-groups "
	    "nsenter --target %d --user --net --preserve-credentials "
	    "ip link set fake0 alias tunbroker:uid=1000", TESTLIB_UID,
	    TESTLIB_GID, (int)c.pid);
	ck_assert_int_eq(shell(forge), 0);

	testlib_broker_crash(&b);
	testlib_broker_relaunch(&b);
	ck_assert(leases_become(&b, 1));
	log = testlib_read_file(b.log_path);
	ck_assert_msg(log != NULL && strstr(log, "real0 ifindex") != NULL &&
	    strstr(log, "fake0 ifindex") == NULL, "%s", log);
	free(log);
	close(real.fd);
	close(fake.fd);
	testlib_ns_child_stop(&c);
	free(forge);
	free(path);
	testlib_broker_stop(&b);
}
END_TEST

/*
 * A broker started without a capability namespaces need serves the rest
 * and refuses namespaces, saying which capability it lacked.
 */
static void
refuse_without(int cap, const char *why)
{
	struct testlib_ns_child c;
	struct testlib_broker b;
	struct outcome out;
	char *path;

	testlib_enter_netns();
	ck_assert_int_eq(prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0), 0);
	testlib_broker_start(&b, ALLOW_NAMESPACES);
	testlib_ns_child_start(&c, false);
	path = testlib_strf("/proc/%d/ns/net", (int)c.pid);
	out = ask(ask_in(&b, path));
	ck_assert_int_eq(out.code, -EOPNOTSUPP);
	ck_assert_msg(strstr(out.text, why) != NULL, "%s", out.text);
	out = ask_ok(ask_in(&b, NULL));
	close(out.fd);
	testlib_ns_child_stop(&c);
	free(path);
	testlib_broker_stop(&b);
}

START_TEST(refuse_without_sys_admin)
{
	refuse_without(CAP_SYS_ADMIN, "no namespace helper");
}
END_TEST

START_TEST(refuse_without_net_broadcast)
{
	refuse_without(CAP_NET_BROADCAST, "CAP_NET_BROADCAST");
}
END_TEST

static Suite *
nsbroker_suite(void)
{
	Suite *s = suite_create("nsbroker");
	TCase *tc = tcase_create("nsbroker");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, device_in_own_namespace);
	tcase_add_test(tc, release_in_namespace);
	tcase_add_test(tc, refuse_someone_elses_namespace);
	tcase_add_test(tc, refuse_not_a_namespace);
	tcase_add_test(tc, refuse_by_policy);
	tcase_add_test(tc, self_namespace);
	tcase_add_test(tc, failure_leaves_nothing);
	tcase_add_test(tc, lease_ends_with_namespace);
	tcase_add_test(tc, abandoned_multiqueue_deleted);
	tcase_add_test(tc, abandoned_single_queue_deleted);
	tcase_add_test(tc, held_single_queue_kept);
	tcase_add_test(tc, restart_adopts_namespace_devices);
	tcase_add_test(tc, bridge_in_namespace);
	tcase_add_test(tc, restart_ignores_forged_labels);
	tcase_add_test(tc, refuse_without_sys_admin);
	tcase_add_test(tc, refuse_without_net_broadcast);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testlib_run(nsbroker_suite(), true);
}
