#include "config.h"

#include <dirent.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "fdpass.h"
#include "netinfo.h"
#include "testlib.h"

/* Why this machine cannot run privileged tests, or NULL if it can. */
static const char *
privilege_missing(void)
{
	pid_t pid;
	int status;

	if (geteuid() != 0)
		return "not running as root";
	if (access("/dev/net/tun", R_OK | W_OK) != 0)
		return "no usable /dev/net/tun";
	pid = fork();
	if (pid < 0)
		return "cannot fork";
	if (pid == 0)
		_exit(unshare(CLONE_NEWNET | CLONE_NEWNS) == 0 ? 0 : 1);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return "cannot create a network namespace (unshare failed)";
	return NULL;
}

int
testlib_run(Suite *suite, bool needs_privilege)
{
	const char *why;
	SRunner *runner;
	int failed;

	runner = srunner_create(suite);	/* which owns suite from here */
	if (needs_privilege && (why = privilege_missing()) != NULL) {
		printf("1..0 # SKIP privileged tests cannot run: %s\n", why);
		srunner_free(runner);
		return 0;
	}
	srunner_run_all(runner, CK_ENV);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? 0 : 1;
}

/* Brings lo up in the current namespace. */
static int
loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd, r = 0;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		r = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		r = -errno;
	close(fd);
	return r;
}

void
testlib_enter_netns(void)
{
	ck_assert_msg(unshare(CLONE_NEWNET | CLONE_NEWNS) == 0,
	    "unshare: %s", strerror(errno));
	/* Private mounts, and a /sys that shows this namespace's links. */
	ck_assert_msg(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
	    "making mounts private: %s", strerror(errno));
	umount2("/sys", MNT_DETACH);
	ck_assert_msg(mount("sysfs", "/sys", "sysfs", 0, NULL) == 0,
	    "mounting /sys: %s", strerror(errno));
	ck_assert_msg(loopback_up() == 0, "bringing lo up");
}

char *
testlib_mkdtemp(void)
{
	char *dir = strdup("/tmp/tunbroker-test.XXXXXX");

	ck_assert_ptr_nonnull(dir);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	return dir;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
testlib_rmtree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
testlib_count_fds(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/fd");
	else
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	ck_assert_msg(dir != NULL, "%s: %s", path, strerror(errno));
	while ((d = readdir(dir)) != NULL)
		n += d->d_name[0] != '.';
	closedir(dir);
	/* Not counting the one opendir() itself held. */
	return pid == 0 ? n - 1 : n;
}

int
testlib_broker_settled_fds(struct testlib_broker *b)
{
	int last = testlib_count_fds(b->pid), now, still = 0, i;

	for (i = 0; i < 200 && still < 10; i++) {
		usleep(10 * 1000);
		now = testlib_count_fds(b->pid);
		still = now == last ? still + 1 : 0;
		last = now;
	}
	return last;
}

bool
testlib_fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

uint16_t
testlib_inet_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len == 1)
		sum += (uint32_t)(p[0] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

size_t
testlib_udp4_packet(uint8_t *buf, const char *src, uint16_t sport,
    const char *dst, uint16_t dport, const void *payload, size_t len)
{
	struct iphdr *ip = (struct iphdr *)(void *)buf;
	struct udphdr *udp = (struct udphdr *)(void *)(buf + 20);

	memset(buf, 0, 28);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons((uint16_t)(28 + len));
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	inet_pton(AF_INET, src, &ip->saddr);
	inet_pton(AF_INET, dst, &ip->daddr);
	ip->check = testlib_inet_checksum(ip, 20);
	udp->source = htons(sport);
	udp->dest = htons(dport);
	udp->len = htons((uint16_t)(8 + len));
	memcpy(buf + 28, payload, len);
	return 28 + len;	/* UDP checksum 0: none, as IPv4 allows */
}

int
testlib_udp_socket(int family, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr),
		    1);
		len = sizeof(*sin6);
	}
	ck_assert_msg(bind(fd, (struct sockaddr *)&ss, len) == 0, "bind %s: %s",
	    addr, strerror(errno));
	return fd;
}

bool
testlib_read_udp_from_device(int fd, int version, const char *payload)
{
	size_t plen = strlen(payload);
	uint8_t pkt[2048];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t hdr = version == 4 ? 20 : 40;
	int i;

	for (i = 0; i < 50; i++) {
		ssize_t n;

		if (poll(&pfd, 1, 2000) != 1)
			return false;
		n = read(fd, pkt, sizeof(pkt));
		ck_assert_int_gt(n, 0);
		if ((pkt[0] >> 4) != version || (size_t)n != hdr + 8 + plen)
			continue;
		if (pkt[version == 4 ? 9 : 6] != IPPROTO_UDP)
			continue;
		if (memcmp(pkt + hdr + 8, payload, plen) == 0)
			return true;
	}
	return false;
}

char *
testlib_read_file(const char *path)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			char *grown = realloc(buf, cap + 8192);

			ck_assert_ptr_nonnull(grown);
			buf = grown;
			cap += 8192;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

char *
testlib_strf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(r, 0);
	return s;
}

void
testlib_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * True once a broker on path answers a PING: it has dropped its
 * privileges and runs its loop, which accepting a connection alone does
 * not show.
 */
static bool
broker_answers(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct pollfd pfd = { .events = POLLIN };
	struct tb_builder ping;
	struct tb_header reply;
	bool answered = false;
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(tb_encode_simple(&ping, TB_MSG_PING, 1), 0);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
	    send(fd, ping.buf, ping.len, MSG_NOSIGNAL) == (ssize_t)ping.len) {
		pfd.fd = fd;
		answered = poll(&pfd, 1, 10000) == 1 &&
		    recv(fd, &reply, sizeof(reply), 0) == sizeof(reply) &&
		    reply.type == TB_MSG_PONG;
	}
	tb_builder_release(&ping);
	close(fd);
	return answered;
}

void
testlib_broker_reload(struct testlib_broker *b)
{
	const char *line = "reloaded policy";
	char *log;
	int i, before;

	log = testlib_read_file(b->log_path);
	before = testlib_count_occurrences(log, line);
	free(log);
	ck_assert_int_eq(kill(b->pid, SIGHUP), 0);
	for (i = 0; i < 500; i++) {
		log = testlib_read_file(b->log_path);
		if (testlib_count_occurrences(log, line) > before) {
			free(log);
			return;
		}
		free(log);
		usleep(10 * 1000);
	}
	ck_abort_msg("the broker did not reload");
}

char *
testlib_broker_log_with(struct testlib_broker *b, const char *needle)
{
	char *log = NULL;
	int i;

	for (i = 0; i < 500; i++) {
		free(log);
		log = testlib_read_file(b->log_path);
		if (log != NULL && strstr(log, needle) != NULL)
			return log;
		usleep(10 * 1000);
	}
	ck_abort_msg("no \"%s\" in the broker's log:\n%s", needle,
	    log != NULL ? log : "(unreadable)");
	return NULL;
}

bool
testlib_broker_alive(struct testlib_broker *b)
{
	return waitpid(b->pid, NULL, WNOHANG) == 0;
}

bool
testlib_broker_launch(struct testlib_broker *b, int *status)
{
	const char *daemon = getenv("TUNBROKERD");
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	pid_t done;
	int i;

	ck_assert_msg(daemon != NULL, "TUNBROKERD is not set");
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		int log = open(b->log_path, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0644);

		if (log < 0 || dup2(log, STDOUT_FILENO) < 0 ||
		    dup2(log, STDERR_FILENO) < 0)
			_exit(126);
		execl(daemon, daemon, "--foreground", "--verbose", "--socket",
		    b->socket_path, "--config", b->config_path, (char *)NULL);
		_exit(127);
	}
	/* Up to 10 s: a sanitized build on a loaded machine starts slowly. */
	for (i = 0; i < 1000; i++) {
		done = waitpid(b->pid, status, WNOHANG);
		ck_assert_int_ge(done, 0);
		if (done == b->pid)
			return false;
		if (broker_answers(b->socket_path))
			return true;
		nanosleep(&pause, NULL);
	}
	ck_abort_msg("tunbrokerd neither listened nor exited in 10 s");
	return false;
}

void
testlib_broker_start_config(struct testlib_broker *b, const char *config)
{
	int status;

	memset(b, 0, sizeof(*b));
	b->dir = testlib_mkdtemp();
	b->socket_path = testlib_strf("%s/run/socket", b->dir);
	b->config_path = testlib_strf("%s/tunbrokerd.conf", b->dir);
	b->log_path = testlib_strf("%s/broker.log", b->dir);
	testlib_write_file(b->config_path, config);
	if (!testlib_broker_launch(b, &status))
		ck_abort_msg("tunbrokerd exited (status 0x%x) instead of "
		    "listening; its log:\n%s", status,
		    testlib_read_file(b->log_path));
}

void
testlib_broker_start(struct testlib_broker *b, const char *access_lines)
{
	char *config;

	/*
	 * access_lines say whom the rule matches; it allows the test ranges.
	 * Quotas are far from reach: a device counts until the kernel has
	 * torn it down, which a loaded machine can delay by many requests.
	 * The quota tests write their own.
	 */
	config = testlib_strf("[socket]\nmode = 0666\ngroup = %d\n\n"
	    "[limits]\ndevices-per-user = 4096\n\n[rule test]\n%s\n"
	    "addresses = 198.18.0.0/15, 2001:db8::/32\nmax-devices = 4096\n",
	    TESTLIB_GID, access_lines);
	testlib_broker_start_config(b, config);
	free(config);
}

void
testlib_broker_crash(struct testlib_broker *b)
{
	int status;

	ck_assert_int_eq(kill(b->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(b->pid, &status, 0), b->pid);
}

void
testlib_broker_relaunch(struct testlib_broker *b)
{
	int status;

	ck_assert_msg(testlib_broker_launch(b, &status),
	    "tunbrokerd exited (0x%x): %s", status,
	    testlib_read_file(b->log_path));
}

void
testlib_broker_stop(struct testlib_broker *b)
{
	int status;
	char *log;

	ck_assert_int_eq(kill(b->pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(b->pid, &status, 0), b->pid);
	log = testlib_read_file(b->log_path);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "tunbrokerd ended with status 0x%x; its log:\n%s", status, log);
	ck_assert_msg(access(b->socket_path, F_OK) != 0,
	    "tunbrokerd left its socket %s behind", b->socket_path);
	free(log);
	if (b->dir != NULL)
		testlib_rmtree(b->dir);
	free(b->dir);
	free(b->socket_path);
	free(b->config_path);
	free(b->log_path);
	memset(b, 0, sizeof(*b));
}

int
testlib_run_as(uid_t uid, int (*fn)(void *arg), void *arg)
{
	gid_t gid = uid == TESTLIB_UID ? TESTLIB_GID : (gid_t)uid;
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (uid != 0 && (setgroups(0, NULL) != 0 ||
		    setresgid(gid, gid, gid) != 0 ||
		    setresuid(uid, uid, uid) != 0)) {
			fprintf(stderr, "dropping privileges: %s\n",
			    strerror(errno));
			_exit(125);
		}
		exit(fn(arg));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int
testlib_run_as_user(int (*fn)(void *arg), void *arg)
{
	return testlib_run_as(TESTLIB_UID, fn, arg);
}

size_t
testlib_recv_report(int chan, void *report, size_t len, int *fds)
{
	struct tb_error err = { 0 };
	size_t nfds = 0;
	ssize_t n;

	n = tb_recv(chan, report, len, fds, &nfds, &err);
	ck_assert_msg(n == (ssize_t)len, "client report: %s", err.text);
	return nfds;
}

int
testlib_report_fd(const int *fds, size_t nfds, bool granted)
{
	ck_assert_int_eq(nfds, granted ? 1 : 0);
	return nfds > 0 ? fds[0] : -1;
}

/* What testlib_report_as() hands its child: the function and the channel. */
struct reporter {
	int (*fn)(void *arg, int chan);
	void *arg;
	int chan;
};

static int
run_reporter(void *arg)
{
	const struct reporter *r = arg;

	return r->fn(r->arg, r->chan);
}

size_t
testlib_report_as(uid_t uid, int (*fn)(void *arg, int chan), void *arg,
    void *report, size_t len, int *fds)
{
	struct reporter r = { .fn = fn, .arg = arg };
	int chan[2];
	size_t nfds;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    chan), 0);
	r.chan = chan[1];
	ck_assert_int_eq(testlib_run_as(uid, run_reporter, &r), 0);
	close(chan[1]);
	nfds = testlib_recv_report(chan[0], report, len, fds);
	close(chan[0]);
	return nfds;
}

int
testlib_count_occurrences(const char *text, const char *what)
{
	int n = 0;

	while (text != NULL && (text = strstr(text, what)) != NULL) {
		n++;
		text += strlen(what);
	}
	return n;
}

/* Writes text to /proc/self/NAME, as the namespace child maps its ids. */
static bool
write_self(const char *name, const char *text)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return false;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text);
}

void
testlib_ns_child_start(struct testlib_ns_child *c, bool as_root)
{
	char path[64], uid_map[32], gid_map[32], ready;
	int pipefd[2];

	snprintf(uid_map, sizeof(uid_map), "0 %d 1", TESTLIB_UID);
	snprintf(gid_map, sizeof(gid_map), "0 %d 1", TESTLIB_GID);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	fflush(NULL);
	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		close(pipefd[0]);
		if (!as_root && (setgroups(0, NULL) != 0 ||
		    setresgid(TESTLIB_GID, TESTLIB_GID, TESTLIB_GID) != 0 ||
		    setresuid(TESTLIB_UID, TESTLIB_UID, TESTLIB_UID) != 0 ||
		    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0 ||
		    unshare(CLONE_NEWUSER) != 0 ||
		    !write_self("setgroups", "deny") ||
		    !write_self("uid_map", uid_map) ||
		    !write_self("gid_map", gid_map)))
			_exit(1);
		if (unshare(CLONE_NEWNET) != 0 || write(pipefd[1], "", 1) != 1)
			_exit(1);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	ck_assert_msg(read(pipefd[0], &ready, 1) == 1,
	    "the namespace child failed to unshare its namespaces");
	close(pipefd[0]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)c->pid);
	c->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(c->netns_fd >= 0, "open %s: %s", path, strerror(errno));
}

void
testlib_ns_child_stop(struct testlib_ns_child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	if (c->netns_fd >= 0)
		close(c->netns_fd);
	c->pid = -1;
	c->netns_fd = -1;
}

int
testlib_in_netns(int netns_fd, int (*fn)(void *arg), void *arg)
{
	int home, r;

	home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(home, 0);
	ck_assert_msg(setns(netns_fd, CLONE_NEWNET) == 0, "setns: %s",
	    strerror(errno));
	r = fn(arg);
	ck_assert_msg(setns(home, CLONE_NEWNET) == 0, "setns back: %s",
	    strerror(errno));
	close(home);
	return r;
}

int
testlib_count_tun_links(void)
{
	struct if_nameindex *all = if_nameindex(), *i;
	struct netinfo_link link;
	int n = 0;

	ck_assert_ptr_nonnull(all);
	for (i = all; i->if_index != 0; i++) {
		if (netinfo_link_by_name(i->if_name, &link) == 0 &&
		    strcmp(link.kind, "tun") == 0)
			n++;
	}
	if_freenameindex(all);
	return n;
}
