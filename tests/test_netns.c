/*
 * Network namespaces a client names: the namespace helper that opens
 * descriptors inside one (nsopen.h), and the check of whether a client
 * may use it (netns.h).  Every case runs in its own network namespace and
 * reads the kernel's state back.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <linux/capability.h>
#include <linux/if_tun.h>
#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "addr.h"
#include "netinfo.h"
#include "netlink.h"
#include "netns.h"
#include "nsopen.h"
#include "privs.h"
#include "testlib.h"

static struct netns_id
id_of(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return (struct netns_id){ (uint64_t)st.st_dev, (uint64_t)st.st_ino };
}

/* The value of a "Key:\tvalue" line of /proc/PID/status. */
static char *
status_field(pid_t pid, const char *key)
{
	char *path = testlib_strf("/proc/%d/status", (int)pid);
	char *text = testlib_read_file(path), *line, *value = NULL;
	size_t klen = strlen(key);

	ck_assert_ptr_nonnull(text);
	for (line = text; line != NULL && *line != '\0';
	    line = strchr(line, '\n') != NULL ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			line += klen + 1;
			line += strspn(line, " \t");
			value = strndup(line, strcspn(line, "\n"));
			break;
		}
	}
	free(text);
	free(path);
	ck_assert_ptr_nonnull(value);
	return value;
}

/* The helper keeps CAP_SYS_ADMIN and CAP_NET_ADMIN, and nothing else. */
START_TEST(helper_capabilities)
{
	struct tb_error err = { 0 };
	struct nsopen *h;
	char *eff, *prm, *bnd, *nnp;
	pid_t pid;
	int i;

	testlib_enter_netns();
	ck_assert_msg(nsopen_start(&h, &err) == 0, "%s", err.text);
	pid = nsopen_pid(h);
	ck_assert_int_gt(pid, 0);
	/* Its privilege drop is done once it answers a request. */
	{
		struct testlib_ns_child c;
		int tun[1], nl;

		testlib_ns_child_start(&c, false);
		ck_assert_msg(nsopen_open(h, c.netns_fd, 1, tun, &nl, &err) == 0,
		    "%s", err.text);
		close(tun[0]);
		close(nl);
		testlib_ns_child_stop(&c);
	}
	eff = status_field(pid, "CapEff");
	prm = status_field(pid, "CapPrm");
	bnd = status_field(pid, "CapBnd");
	nnp = status_field(pid, "NoNewPrivs");
	ck_assert_str_eq(eff, "0000000000201000");
	ck_assert_str_eq(prm, "0000000000201000");
	ck_assert_str_eq(bnd, "0000000000201000");
	ck_assert_str_eq(nnp, "1");
	/*
	 * It holds its socket, stdio and the namespace it returns to, once
	 * it has closed its copies of what it sent (after sending them).
	 */
	for (i = 0; i < 200 && testlib_count_fds(pid) > 5; i++)
		usleep(5 * 1000);
	ck_assert_int_le(testlib_count_fds(pid), 5);
	free(eff);
	free(prm);
	free(bnd);
	free(nnp);

	nsopen_stop(h);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
}
END_TEST

/* What the broker half does with the helper's descriptors. */
struct broker_side {
	struct nsopen *h;
	int netns_fd;
	int report;	/* pipe: one byte, 0 when all went well */
	int hold;	/* pipe: keep the device until it closes */
};

/*
 * As the broker would, with CAP_NET_ADMIN alone: creates "nstest0" on a
 * descriptor the helper opened in the namespace, configures it over the
 * helper's rtnetlink socket, and holds it until told to stop.
 */
static int
broker_side(struct broker_side *b)
{
	struct tb_error err = { 0 };
	struct netlink *nl = NULL;
	struct tb_addr a;
	struct ifreq ifr;
	int tun[2], nlfd;
	char byte = 1, ignored;

	if (privs_drop(&err) != 0) {
		fprintf(stderr, "%s\n", err.text);
		goto out;
	}
	if (nsopen_open(b->h, b->netns_fd, 2, tun, &nlfd, &err) != 0) {
		fprintf(stderr, "%s\n", err.text);
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "nstest0");
	ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE |
	    IFF_TUN_EXCL);
	if (ioctl(tun[0], TUNSETIFF, &ifr) != 0 ||
	    ioctl(tun[0], TUNSETOWNER, (unsigned long)TESTLIB_UID) != 0) {
		perror("TUNSETIFF");
		goto out;
	}
	/* The second queue finds the device in its own file's namespace. */
	ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE);
	if (ioctl(tun[1], TUNSETIFF, &ifr) != 0) {
		perror("TUNSETIFF queue 2");
		goto out;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "nstest0");
	if (ioctl(nlfd, SIOCGIFINDEX, &ifr) != 0) {
		perror("SIOCGIFINDEX");
		goto out;
	}
	if (netlink_open_fd(nlfd, &nl, &err) != 0 ||
	    netlink_configure_link(nl, (unsigned)ifr.ifr_ifindex,
	    &(struct netlink_link_config){ .mtu = 1400, .up = true },
	    &err) != 0 ||
	    tb_addr_parse("198.18.7.1/24", true, &a, &err) != 0 ||
	    netlink_add_address(nl, (unsigned)ifr.ifr_ifindex, &a, NULL,
	    &err) != 0) {
		fprintf(stderr, "%s\n", err.text);
		goto out;
	}
	byte = 0;
out:
	if (write(b->report, &byte, 1) != 1)
		return 1;
	while (read(b->hold, &ignored, 1) > 0)
		;
	netlink_close(nl);
	return byte;
}

static int
read_nstest0(void *arg)
{
	return netinfo_link_by_name("nstest0", arg);
}

/*
 * With descriptors from the helper, a process holding CAP_NET_ADMIN alone
 * creates a multi-queue device in a user's namespace and sets its MTU,
 * address and state there: the kernel shows it there, and not at home.
 */
START_TEST(helper_descriptors_configure_there)
{
	struct tb_error err = { 0 };
	struct testlib_ns_child c;
	struct broker_side b = { .h = NULL };
	struct netinfo_link link;
	int report[2], hold[2], status, i;
	char byte;
	pid_t pid;

	testlib_enter_netns();
	testlib_ns_child_start(&c, false);
	ck_assert_msg(nsopen_start(&b.h, &err) == 0, "%s", err.text);
	ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	b.netns_fd = c.netns_fd;
	b.report = report[1];
	b.hold = hold[0];
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(hold[1]);
		_exit(broker_side(&b));
	}
	close(report[1]);
	close(hold[0]);
	ck_assert_int_eq(read(report[0], &byte, 1), 1);
	ck_assert_msg(byte == 0, "the CAP_NET_ADMIN side failed (its stderr "
	    "says why)");

	ck_assert_int_eq(testlib_in_netns(c.netns_fd, read_nstest0, &link), 0);
	ck_assert_str_eq(link.kind, "tun");
	ck_assert_uint_eq(link.mtu, 1400);
	ck_assert(link.flags & IFF_UP);
	ck_assert_uint_eq(link.naddrs, 1);
	ck_assert_uint_eq(link.addrs[0].local.prefixlen, 24);
	ck_assert(link.has_owner && link.owner == TESTLIB_UID);
	ck_assert_uint_eq(if_nametoindex("nstest0"), 0);

	close(hold[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The device goes with its last queue, in its namespace. */
	for (i = 0; i < 500 && testlib_in_netns(c.netns_fd, read_nstest0,
	    &link) != -ENODEV; i++)
		usleep(10 * 1000);
	ck_assert_int_eq(testlib_in_netns(c.netns_fd, read_nstest0, &link),
	    -ENODEV);
	nsopen_stop(b.h);
	testlib_ns_child_stop(&c);
	close(report[0]);
}
END_TEST

/* The helper answers an unusable namespace with a sentence, and lives. */
START_TEST(helper_refuses_and_survives)
{
	struct tb_error err = { 0 };
	struct testlib_ns_child c;
	struct nsopen *h;
	int pipefd[2], tun[TB_MAX_QUEUES], nl, uts;

	testlib_enter_netns();
	ck_assert_msg(nsopen_start(&h, &err) == 0, "%s", err.text);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	ck_assert_int_eq(nsopen_open(h, pipefd[0], 1, tun, &nl, &err),
	    -EINVAL);
	ck_assert_msg(strstr(err.text, "setns") != NULL, "%s", err.text);
	ck_assert_int_eq(nl, -1);
	uts = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(uts, 0);
	ck_assert_int_eq(nsopen_open(h, uts, 1, tun, &nl, &err), -EINVAL);
	ck_assert_int_eq(nsopen_open(h, uts, 0, tun, &nl, &err), -EINVAL);
	ck_assert_int_eq(nsopen_open(h, uts, TB_MAX_QUEUES + 1, tun, &nl,
	    &err), -EINVAL);

	testlib_ns_child_start(&c, false);
	ck_assert_msg(nsopen_open(h, c.netns_fd, TB_MAX_QUEUES, tun, &nl,
	    &err) == 0, "%s", err.text);
	for (int i = 0; i < TB_MAX_QUEUES; i++)
		close(tun[i]);
	close(nl);
	testlib_ns_child_stop(&c);
	close(uts);
	close(pipefd[0]);
	close(pipefd[1]);
	nsopen_stop(h);
}
END_TEST

/* A helper that died is reported, not waited for. */
START_TEST(helper_gone)
{
	struct tb_error err = { 0 };
	struct testlib_ns_child c;
	struct nsopen *h;
	int tun[1], nl;

	testlib_enter_netns();
	testlib_ns_child_start(&c, false);
	ck_assert_msg(nsopen_start(&h, &err) == 0, "%s", err.text);
	ck_assert_int_eq(kill(nsopen_pid(h), SIGKILL), 0);
	ck_assert_int_eq(nsopen_open(h, c.netns_fd, 1, tun, &nl, &err),
	    -EPIPE);
	ck_assert_msg(strstr(err.text, "helper") != NULL, "%s", err.text);
	ck_assert_int_eq(nsopen_open(h, c.netns_fd, 1, tun, &nl, &err),
	    -EOPNOTSUPP);
	nsopen_stop(h);
	testlib_ns_child_stop(&c);
}
END_TEST

static struct peer_identity
client(uid_t uid)
{
	return (struct peer_identity){ .uid = uid, .gid = uid };
}

/* Only a network namespace's nsfs file is a namespace descriptor. */
START_TEST(check_refuses_what_is_not_a_netns)
{
	struct peer_identity who = client(TESTLIB_UID);
	struct tb_error err = { 0 };
	struct netns_id home, id;
	bool is_home;
	int pipefd[2], fd;

	testlib_enter_netns();
	ck_assert_int_eq(netns_self(&home), 0);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	ck_assert_int_eq(netns_check(pipefd[0], &who, &home, &id, &is_home,
	    &err), -EBADF);
	ck_assert_msg(strstr(err.text, "netns: descriptor is not a network "
	    "namespace") != NULL, "%s", err.text);

	fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(netns_check(fd, &who, &home, &id, &is_home, &err),
	    -EBADF);
	ck_assert_msg(strstr(err.text, "UTS namespace, not a network") != NULL,
	    "%s", err.text);
	close(fd);

	fd = open("/proc/self/ns/net", O_PATH | O_CLOEXEC);
	ck_assert_int_eq(netns_check(fd, &who, &home, &id, &is_home, &err),
	    -EBADF);
	ck_assert_msg(strstr(err.text, "O_PATH") != NULL, "%s", err.text);
	close(fd);
	close(pipefd[0]);
	close(pipefd[1]);
}
END_TEST

/* The owner of a namespace's user namespace decides. */
START_TEST(check_ownership)
{
	struct tb_error err = { 0 };
	struct testlib_ns_child mine, roots;
	struct peer_identity who = client(TESTLIB_UID), other = client(1000);
	struct netns_id home, id;
	bool is_home;
	int fd;

	testlib_enter_netns();
	ck_assert_int_eq(netns_self(&home), 0);
	testlib_ns_child_start(&mine, false);
	testlib_ns_child_start(&roots, true);

	ck_assert_msg(netns_check(mine.netns_fd, &who, &home, &id, &is_home,
	    &err) == 0, "%s", err.text);
	ck_assert(!is_home);
	ck_assert(id.ino == id_of(mine.netns_fd).ino);

	ck_assert_int_eq(netns_check(mine.netns_fd, &other, &home, &id,
	    &is_home, &err), -EPERM);
	ck_assert_msg(strstr(err.text, "netns: namespace is owned by uid "
	    "65534, not 1000") != NULL, "%s", err.text);

	ck_assert_int_eq(netns_check(roots.netns_fd, &who, &home, &id,
	    &is_home, &err), -EPERM);
	ck_assert_msg(strstr(err.text, "owned by uid 0, not 65534") != NULL,
	    "%s", err.text);

	/* Root's namespace is fine when the client connected from it. */
	who.has_netns = true;
	who.netns = id_of(roots.netns_fd);
	ck_assert_msg(netns_check(roots.netns_fd, &who, &home, &id, &is_home,
	    &err) == 0, "%s", err.text);

	/* The broker's own namespace is no namespace at all. */
	fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(netns_check(fd, &other, &home, &id, &is_home, &err),
	    0);
	ck_assert(is_home);
	close(fd);
	testlib_ns_child_stop(&mine);
	testlib_ns_child_stop(&roots);
}
END_TEST

/*
 * A connection accepted on a Unix socket belongs to the namespace the
 * client made its socket in: that is what "the client's own namespace"
 * is checked against.
 */
START_TEST(connection_namespace)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct netns_id id, want;
	char *dir = testlib_mkdtemp();
	int listener, conn, ns, home, s;

	testlib_enter_netns();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
	listener = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(listener, 4), 0);

	home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(setns(home, CLONE_NEWNET), 0);
	ck_assert_int_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(conn, 0);

	ck_assert_int_eq(netns_of_socket(conn, &id), 0);
	want = id_of(ns);
	ck_assert(id.dev == want.dev && id.ino == want.ino);
	ck_assert_int_eq(netns_of_socket(listener, &id), 0);
	want = id_of(home);
	ck_assert(id.dev == want.dev && id.ino == want.ino);
	close(s);
	close(conn);
	close(listener);
	close(ns);
	close(home);
	testlib_rmtree(dir);
	free(dir);
}
END_TEST

static Suite *
netns_suite(void)
{
	Suite *s = suite_create("netns");
	TCase *tc = tcase_create("netns");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, helper_capabilities);
	tcase_add_test(tc, helper_descriptors_configure_there);
	tcase_add_test(tc, helper_refuses_and_survives);
	tcase_add_test(tc, helper_gone);
	tcase_add_test(tc, check_refuses_what_is_not_a_netns);
	tcase_add_test(tc, check_ownership);
	tcase_add_test(tc, connection_namespace);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testlib_run(netns_suite(), true);
}
