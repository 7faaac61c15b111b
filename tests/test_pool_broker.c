/*
 * Address pools end to end: a real tunbrokerd in a fresh network
 * namespace hands unprivileged clients (uid 65534) subnets from its pools,
 * and the kernel's own view of each device says which address it has.
 * No two live devices share a subnet: not under 64 clients at once, not
 * after a lease ends and its subnet is reused, not after the broker is
 * killed and a new one adopts the devices, not across a reload.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "fdpass.h"
#include "netinfo.h"
#include "testlib.h"
#include "tunclient.h"

/* Two pools of each kind, and a rule for uid 65534 that names them. */
#define POOLS \
	"[pool lab4]\nprefix = 198.18.64.0/23\nsubnet = 30\n\n" \
	"[pool lab6]\nprefix = 2001:db8:1::/48\n\n" \
	"[pool p2p]\nprefix = 198.18.70.0/30\nsubnet = 31\n\n" \
	"[pool tiny]\nprefix = 198.18.72.0/29\nsubnet = 30\n\n"

/* What an unprivileged client asks for. */
struct ask {
	const char *socket_path;
	bool auto4, auto6;
	const char *addr, *addr2, *peer; /* requested, or NULL */
	const char *netns_path;		/* a namespace for the device */
	int start;		/* read end of a barrier pipe, or -1 */
};

/* What it got, as reported to the test process. */
struct outcome {
	int code;
	char text[TB_ERROR_TEXT_MAX];
	char name[IFNAMSIZ];
	size_t naddrs;
	char addrs[4][TB_ADDR_TEXT_MAX];
	int fd;			/* the device, now the test's; or -1 */
};

/*
 * Runs as the unprivileged user: requests a device through libtunclient
 * and sends the outcome, with the device's fd, back over chan.
 */
static int
client_request(void *arg, int chan)
{
	const struct ask *a = arg;
	struct tunclient_request *req = NULL;
	struct tunclient_lease *lease = NULL;
	struct tunclient_conn *conn = NULL;
	struct outcome out = { .fd = -1 };
	char go;
	int fd = -1, nsfd = -1, r;
	size_t i;

	/* Wait for the others: the barrier's write end closes. */
	if (a->start >= 0 && read(a->start, &go, 1) < 0)
		return 1;
	r = tunclient_request_new(&req);
	if (r == 0 && a->auto4)
		r = tunclient_request_add_auto_address(req, AF_INET);
	if (r == 0 && a->auto6)
		r = tunclient_request_add_auto_address(req, AF_INET6);
	if (r == 0 && a->addr != NULL)
		r = tunclient_request_add_address(req, a->addr);
	if (r == 0 && a->addr2 != NULL)
		r = tunclient_request_add_address(req, a->addr2);
	if (r == 0 && a->peer != NULL)
		r = tunclient_request_set_peer(req, a->peer);
	if (r == 0 && a->netns_path != NULL) {
		if ((nsfd = open(a->netns_path, O_RDONLY | O_CLOEXEC)) < 0)
			r = -errno;
		else
			r = tunclient_request_set_netns_fd(req, nsfd);
	}
	if (r != 0) {
		snprintf(out.text, sizeof(out.text), "builder: %s",
		    tunclient_request_error(req));
	} else if ((r = tunclient_connect(a->socket_path, &conn)) != 0) {
		snprintf(out.text, sizeof(out.text), "connect: %s",
		    strerror(-r));
	} else if ((r = tunclient_request(conn, req, &lease)) != 0) {
		snprintf(out.text, sizeof(out.text), "%s",
		    tunclient_conn_error(conn));
	} else {
		snprintf(out.name, sizeof(out.name), "%s",
		    tunclient_lease_name(lease));
		out.naddrs = tunclient_lease_address_count(lease);
		for (i = 0; i < out.naddrs && i < 4; i++)
			tunclient_lease_address(lease, i, out.addrs[i],
			    sizeof(out.addrs[i]));
		fd = tunclient_lease_fd(lease, 0);
	}
	out.code = r;
	r = tb_send(chan, &out, sizeof(out), &fd, fd >= 0 ? 1 : 0);
	tunclient_lease_free(lease);
	tunclient_close(conn);
	tunclient_request_free(req);
	if (nsfd >= 0)
		close(nsfd);
	return r == 0 ? 0 : 1;
}

/* Reads one client's outcome, and the device's fd with it, from chan. */
static struct outcome
read_outcome(int chan)
{
	struct outcome out;
	int fds[TB_MSG_MAX_FDS];
	size_t nfds = testlib_recv_report(chan, &out, sizeof(out), fds);

	out.fd = testlib_report_fd(fds, nfds, out.code == 0);
	return out;
}

/* Asks for what a says as uid 65534 and returns what happened. */
static struct outcome
ask_for(struct ask a)
{
	struct outcome out;
	int fds[TB_MSG_MAX_FDS];
	size_t nfds;

	nfds = testlib_report_as(TESTLIB_UID, client_request, &a, &out,
	    sizeof(out), fds);
	out.fd = testlib_report_fd(fds, nfds, out.code == 0);
	return out;
}

/* Asks for automatic addresses alone. */
static struct outcome
ask(const char *socket_path, bool auto4, bool auto6)
{
	return ask_for((struct ask){ .socket_path = socket_path,
	    .auto4 = auto4, .auto6 = auto6, .start = -1 });
}

/* The same, which must be granted. */
static struct outcome
ask_ok(const char *socket_path, bool auto4, bool auto6)
{
	struct outcome out = ask(socket_path, auto4, auto6);

	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	return out;
}

/* Starts a broker whose config is POOLS and rule_lines in [rule test]. */
static void
start_broker(struct testlib_broker *b, const char *rule_lines)
{
	char *config;

	config = testlib_strf("[socket]\nmode = 0666\n\n[limits]\n"
	    "connections-per-user = 128\ndevices-per-user = 4096\n\n%s"
	    "[rule test]\nusers = 65534\nmax-devices = 4096\n%s", POOLS,
	    rule_lines);
	testlib_broker_start_config(b, config);
	free(config);
}

/* The kernel's addresses of the link name, which must exist. */
static struct netinfo_link
kernel_link(const char *name)
{
	struct netinfo_link link;
	int r;

	r = netinfo_link_by_name(name, &link);
	ck_assert_msg(r == 0, "%s: %s", name, strerror(-r));
	return link;
}

/* Whether the kernel shows cidr (address/prefix) on the link name. */
static bool
kernel_has(const char *name, const char *cidr)
{
	struct netinfo_link link = kernel_link(name);

	return netinfo_link_has_address(&link, cidr);
}

/* Checks that the reply said cidr and that the kernel shows it. */
static void
assert_got(const struct outcome *out, size_t i, const char *cidr)
{
	ck_assert_uint_gt(out->naddrs, i);
	ck_assert_str_eq(out->addrs[i], cidr);
	ck_assert_msg(kernel_has(out->name, cidr), "%s does not show %s",
	    out->name, cidr);
}

/*
 * Closes the test's fd of a device and waits until the broker has seen it
 * go (the lease ends when rtnetlink tells it), so that its subnet is free.
 */
static void
end_lease(const struct testlib_broker *b, struct outcome *out)
{
	char *what = testlib_strf(" %s ifindex=", out->name);
	char *log;
	int i;

	ck_assert_int_eq(close(out->fd), 0);
	out->fd = -1;
	for (i = 0; i < 1000; i++) {
		log = testlib_read_file(b->log_path);
		/* "lease uid=65534 tun0 ifindex=N: ended, ..." */
		if (log != NULL && strstr(log, "ended") != NULL) {
			const char *at = log;
			bool ended = false;

			while ((at = strstr(at, what)) != NULL) {
				const char *eol = strchr(at, '\n');

				if (eol != NULL && memmem(at, (size_t)(eol - at),
				    ": ended", 7) != NULL)
					ended = true;
				at += strlen(what);
			}
			free(log);
			if (ended) {
				free(what);
				return;
			}
		} else {
			free(log);
		}
		usleep(10 * 1000);
	}
	ck_abort_msg("the broker did not see %s go", out->name);
}

START_TEST(auto_and_auto6_on_the_device)
{
	struct testlib_broker b;
	struct outcome first, second;

	testlib_enter_netns();
	start_broker(&b, "pools = lab4, lab6\n");
	first = ask_ok(b.socket_path, true, true);
	ck_assert_uint_eq(first.naddrs, 2);
	assert_got(&first, 0, "198.18.64.1/30");
	assert_got(&first, 1, "2001:db8:1::1/64");
	second = ask_ok(b.socket_path, true, true);
	assert_got(&second, 0, "198.18.64.5/30");
	assert_got(&second, 1, "2001:db8:1:1::1/64");
	/* One family alone. */
	close(second.fd);
	second = ask_ok(b.socket_path, false, true);
	ck_assert_uint_eq(second.naddrs, 1);
	ck_assert_str_ne(second.addrs[0], "2001:db8:1::1/64");
	ck_assert(kernel_has(second.name, second.addrs[0]));
	close(first.fd);
	close(second.fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(slash31_pool)
{
	struct testlib_broker b;
	struct outcome first, second;

	testlib_enter_netns();
	start_broker(&b, "pools = p2p\n");
	first = ask_ok(b.socket_path, true, false);
	assert_got(&first, 0, "198.18.70.0/31");
	second = ask_ok(b.socket_path, true, false);
	assert_got(&second, 0, "198.18.70.2/31");
	close(first.fd);
	close(second.fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(subnet_reused_when_the_lease_ends)
{
	struct testlib_broker b;
	struct outcome first, second, third;

	testlib_enter_netns();
	start_broker(&b, "pools = lab4\n");
	first = ask_ok(b.socket_path, true, false);
	assert_got(&first, 0, "198.18.64.1/30");
	second = ask_ok(b.socket_path, true, false);
	assert_got(&second, 0, "198.18.64.5/30");
	end_lease(&b, &first);
	third = ask_ok(b.socket_path, true, false);
	assert_got(&third, 0, "198.18.64.1/30");
	/* The one still live kept its own. */
	ck_assert(kernel_has(second.name, "198.18.64.5/30"));
	close(second.fd);
	close(third.fd);
	testlib_broker_stop(&b);
}
END_TEST

#define CONCURRENT	64

/*
 * 64 clients at once, each as uid 65534 in its own process, released
 * together: every one gets a subnet, no two the same, and the kernel
 * shows each on its device.
 */
START_TEST(concurrent_clients_get_distinct_subnets)
{
	struct testlib_broker b;
	struct outcome out[CONCURRENT];
	pid_t pids[CONCURRENT];
	struct ask a = { .auto4 = true, .auto6 = true };
	int chan[2], start[2], status, i, j;

	testlib_enter_netns();
	start_broker(&b, "pools = lab4, lab6\n");
	a.socket_path = b.socket_path;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    chan), 0);
	ck_assert_int_eq(pipe2(start, O_CLOEXEC), 0);
	a.start = start[0];
	fflush(NULL);
	for (i = 0; i < CONCURRENT; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			close(start[1]);
			if (setgroups(0, NULL) != 0 ||
			    setresgid(TESTLIB_GID, TESTLIB_GID,
			    TESTLIB_GID) != 0 ||
			    setresuid(TESTLIB_UID, TESTLIB_UID,
			    TESTLIB_UID) != 0)
				_exit(125);
			_exit(client_request(&a, chan[1]));
		}
	}
	/* Go: every child's read() returns at once. */
	close(start[1]);
	close(start[0]);
	close(chan[1]);
	for (i = 0; i < CONCURRENT; i++)
		out[i] = read_outcome(chan[0]);
	for (i = 0; i < CONCURRENT; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "client %d: status 0x%x", i, status);
	}
	close(chan[0]);
	for (i = 0; i < CONCURRENT; i++) {
		ck_assert_msg(out[i].code == 0, "client %d refused: %s", i,
		    out[i].text);
		ck_assert_uint_eq(out[i].naddrs, 2);
		ck_assert(kernel_has(out[i].name, out[i].addrs[0]));
		ck_assert(kernel_has(out[i].name, out[i].addrs[1]));
		for (j = 0; j < i; j++) {
			ck_assert_str_ne(out[i].addrs[0], out[j].addrs[0]);
			ck_assert_str_ne(out[i].addrs[1], out[j].addrs[1]);
		}
	}
	/* The lowest 64 of each pool: 198.18.64.1/30 ... 198.18.64.253/30. */
	for (i = 0; i < CONCURRENT; i++)
		ck_assert(strncmp(out[i].addrs[0], "198.18.64.", 10) == 0);
	for (i = 0; i < CONCURRENT; i++)
		close(out[i].fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(restart_does_not_hand_out_held_subnets)
{
	struct testlib_broker b;
	struct outcome first, second, third, fourth;

	testlib_enter_netns();
	start_broker(&b, "pools = lab4, lab6\n");
	first = ask_ok(b.socket_path, true, true);
	assert_got(&first, 0, "198.18.64.1/30");
	second = ask_ok(b.socket_path, true, true);
	assert_got(&second, 0, "198.18.64.5/30");
	assert_got(&second, 1, "2001:db8:1:1::1/64");
	/* The devices stay with the clients while the broker is gone. */
	testlib_broker_crash(&b);
	testlib_broker_relaunch(&b);
	third = ask_ok(b.socket_path, true, true);
	assert_got(&third, 0, "198.18.64.9/30");
	assert_got(&third, 1, "2001:db8:1:2::1/64");
	/* An adopted device's subnet is freed when it goes, as any other. */
	end_lease(&b, &first);
	fourth = ask_ok(b.socket_path, true, true);
	assert_got(&fourth, 0, "198.18.64.1/30");
	assert_got(&fourth, 1, "2001:db8:1::1/64");
	close(second.fd);
	close(third.fd);
	close(fourth.fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(exhausted_pool_is_refused_cleanly)
{
	struct testlib_broker b;
	struct outcome first, second, third;

	testlib_enter_netns();
	start_broker(&b, "pools = tiny\n");
	first = ask_ok(b.socket_path, true, false);
	assert_got(&first, 0, "198.18.72.1/30");
	second = ask_ok(b.socket_path, true, false);
	assert_got(&second, 0, "198.18.72.5/30");
	third = ask(b.socket_path, true, false);
	ck_assert_int_eq(third.code, -ENOSPC);
	ck_assert_msg(strstr(third.text, "every subnet is held in pool tiny "
	    "(198.18.72.0/29 in /30 subnets, 2 of them, ") != NULL, "%s",
	    third.text);
	/* Nothing was left of the device that got no subnet. */
	ck_assert_int_eq(testlib_count_tun_links(), 2);
	/* Once one goes, its subnet serves the next. */
	end_lease(&b, &second);
	third = ask_ok(b.socket_path, true, false);
	assert_got(&third, 0, "198.18.72.5/30");
	close(first.fd);
	close(third.fd);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(rule_without_pool_refuses)
{
	struct testlib_broker b;
	struct outcome out;

	testlib_enter_netns();
	start_broker(&b, "pools = lab4\n");
	out = ask(b.socket_path, true, true);
	ck_assert_int_eq(out.code, -EPERM);
	ck_assert_msg(strstr(out.text, "auto-address IPv6 needs an IPv6 "
	    "pool, and rule test (") != NULL, "%s", out.text);
	ck_assert_int_eq(testlib_count_tun_links(), 0);
	testlib_broker_stop(&b);
}
END_TEST

/*
 * A device's own addresses and peer hold the pool subnets they lie in,
 * before and after a restart, so no automatic address overlaps them.
 */
START_TEST(requested_addresses_and_peers_hold_subnets)
{
	struct testlib_broker b;
	struct ask a = { .addr = "198.18.64.2/30", .peer = "198.18.64.9",
	    .start = -1 };
	struct outcome given, first, second, third;

	testlib_enter_netns();
	start_broker(&b, "pools = lab4\naddresses = 198.18.0.0/15\n");
	a.socket_path = b.socket_path;
	given = ask_for(a);
	ck_assert_msg(given.code == 0, "refused: %s", given.text);
	/* .0/30 holds the address, .8/30 the peer. */
	first = ask_ok(b.socket_path, true, false);
	assert_got(&first, 0, "198.18.64.5/30");
	second = ask_ok(b.socket_path, true, false);
	assert_got(&second, 0, "198.18.64.13/30");
	/* A new broker learns the same from the kernel. */
	testlib_broker_crash(&b);
	testlib_broker_relaunch(&b);
	third = ask_ok(b.socket_path, true, false);
	assert_got(&third, 0, "198.18.64.17/30");
	close(given.fd);
	close(first.fd);
	close(second.fd);
	close(third.fd);
	testlib_broker_stop(&b);
}
END_TEST

/*
 * A request that fails after its subnet was taken (the kernel refuses the
 * same address twice) leaves neither the device nor the subnet behind.
 */
START_TEST(failure_after_the_take_frees_the_subnet)
{
	struct testlib_broker b;
	struct ask a = { .auto4 = true, .addr = "198.18.0.1/24",
	    .addr2 = "198.18.0.1/24", .start = -1 };
	struct outcome failed, next;

	testlib_enter_netns();
	start_broker(&b, "pools = lab4\naddresses = 198.18.0.0/15\n");
	a.socket_path = b.socket_path;
	failed = ask_for(a);
	ck_assert_msg(failed.code != 0, "granted %s", failed.name);
	ck_assert_int_eq(testlib_count_tun_links(), 0);
	next = ask_ok(b.socket_path, true, false);
	assert_got(&next, 0, "198.18.64.1/30");
	close(next.fd);
	testlib_broker_stop(&b);
}
END_TEST

/* What the kernel shows of one link in another namespace. */
struct probe {
	const char *name;
	const char *cidr;
	bool has;
};

static int
probe_address(void *arg)
{
	struct probe *p = arg;
	struct netinfo_link link;

	if (netinfo_link_by_name(p->name, &link) != 0)
		return -ENODEV;
	p->has = kernel_has(p->name, p->cidr);
	return 0;
}

/* Whether the broker logged the end of a lease in a client's namespace. */
static bool
foreign_lease_ended(const struct testlib_broker *b)
{
	char *log = testlib_read_file(b->log_path), *line, *save = NULL;
	bool ended = false;

	for (line = log != NULL ? strtok_r(log, "\n", &save) : NULL;
	    line != NULL && !ended; line = strtok_r(NULL, "\n", &save))
		ended = (strstr(line, " nsid=") != NULL &&
		    strstr(line, ": ended") != NULL) ||
		    strstr(line, " lease ended") != NULL ||
		    strstr(line, " leases ended") != NULL;
	free(log);
	return ended;
}

/*
 * A device placed in a client's namespace draws from the same pools: the
 * kernel shows its subnet there, no device here gets the same, and the
 * subnet comes back when that namespace (and so its lease) ends.
 */
START_TEST(client_namespace_devices_share_the_pools)
{
	struct testlib_broker b;
	struct testlib_ns_child c;
	struct ask a = { .auto4 = true, .start = -1 };
	struct outcome there, here, after, again, next;
	struct probe p = { .cidr = "198.18.64.1/30" };
	char *path;
	int i;

	testlib_enter_netns();
	start_broker(&b, "pools = lab4\nnamespaces = own\n");
	testlib_ns_child_start(&c, false);
	path = testlib_strf("/proc/%d/ns/net", (int)c.pid);
	a.socket_path = b.socket_path;
	a.netns_path = path;
	there = ask_for(a);
	ck_assert_msg(there.code == 0, "refused: %s", there.text);
	ck_assert_str_eq(there.addrs[0], "198.18.64.1/30");
	p.name = there.name;
	ck_assert_int_eq(testlib_in_netns(c.netns_fd, probe_address, &p), 0);
	ck_assert_msg(p.has, "%s shows no 198.18.64.1/30 in its namespace",
	    there.name);
	here = ask_ok(b.socket_path, true, false);
	assert_got(&here, 0, "198.18.64.5/30");
	/* A new broker reads the subnet back from the client's namespace. */
	testlib_broker_crash(&b);
	testlib_broker_relaunch(&b);
	after = ask_ok(b.socket_path, true, false);
	assert_got(&after, 0, "198.18.64.9/30");
	/* The namespace goes, and the device and its lease with it. */
	close(there.fd);
	testlib_ns_child_stop(&c);
	for (i = 0; i < 500 && !foreign_lease_ended(&b); i++)
		usleep(10 * 1000);
	ck_assert_msg(foreign_lease_ended(&b), "the lease outlived %s",
	    there.name);
	again = ask_ok(b.socket_path, true, false);
	assert_got(&again, 0, "198.18.64.1/30");
	/*
	 * The device here kept its own, though it may well have the same
	 * ifindex as the one that went had in its namespace.
	 */
	next = ask_ok(b.socket_path, true, false);
	assert_got(&next, 0, "198.18.64.13/30");
	ck_assert(kernel_has(here.name, "198.18.64.5/30"));
	close(here.fd);
	close(after.fd);
	close(again.fd);
	close(next.fd);
	free(path);
	testlib_broker_stop(&b);
}
END_TEST

/* Writes config and reloads the broker with it. */
static void
reload(struct testlib_broker *b, const char *config)
{
	testlib_write_file(b->config_path, config);
	testlib_broker_reload(b);
}

/*
 * A reload that reshapes the pool under a live lease: the lease keeps its
 * subnet, and the new pool hands out only what nobody holds.
 */
START_TEST(reload_keeps_subnets_of_changed_pools)
{
	struct testlib_broker b;
	struct outcome first, second;

	testlib_enter_netns();
	start_broker(&b, "pools = tiny\n");
	first = ask_ok(b.socket_path, true, false);
	assert_got(&first, 0, "198.18.72.1/30");
	reload(&b, "[socket]\nmode = 0666\n[pool halves]\n"
	    "prefix = 198.18.72.0/29\nsubnet = 31\n[rule test]\n"
	    "users = 65534\nmax-devices = 8\npools = halves\n");
	second = ask_ok(b.socket_path, true, false);
	/* .0/31 and .2/31 lie in the /30 the first device holds. */
	assert_got(&second, 0, "198.18.72.4/31");
	ck_assert(kernel_has(first.name, "198.18.72.1/30"));
	close(first.fd);
	close(second.fd);
	testlib_broker_stop(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pool_broker");
	TCase *tc = tcase_create("pools");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, auto_and_auto6_on_the_device);
	tcase_add_test(tc, slash31_pool);
	tcase_add_test(tc, subnet_reused_when_the_lease_ends);
	tcase_add_test(tc, concurrent_clients_get_distinct_subnets);
	tcase_add_test(tc, restart_does_not_hand_out_held_subnets);
	tcase_add_test(tc, exhausted_pool_is_refused_cleanly);
	tcase_add_test(tc, rule_without_pool_refuses);
	tcase_add_test(tc, reload_keeps_subnets_of_changed_pools);
	tcase_add_test(tc, requested_addresses_and_peers_hold_subnets);
	tcase_add_test(tc, failure_after_the_take_frees_the_subnet);
	tcase_add_test(tc, client_namespace_devices_share_the_pools);
	suite_add_tcase(s, tc);
	return testlib_run(s, true);
}
