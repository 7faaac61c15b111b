/*
 * The namespace helper; nsopen.h says why it exists.  The helper side is
 * deliberately dumb: one fixed-size request (a queue count) with exactly
 * one descriptor, setns(2) there, open, setns(2) back, reply.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "nsopen.h"
#include "privs.h"
#include "protocol.h"

/* How long the broker waits for the helper before giving it up. */
#define NSOPEN_TIMEOUT_SEC	10

struct nsopen {
	int sock;
	pid_t pid;
};

/* Broker to helper, with the namespace's descriptor. */
struct nsopen_request {
	uint32_t queues;
};

/* Where the helper failed, so the broker's sentence can say it. */
enum nsopen_step {
	NSOPEN_STEP_NONE = 0,
	NSOPEN_STEP_REQUEST,	/* the request was malformed */
	NSOPEN_STEP_SETNS,
	NSOPEN_STEP_TUN,
	NSOPEN_STEP_NETLINK,
};

/* Helper to broker; on success queues + 1 descriptors ride with it. */
struct nsopen_reply {
	int32_t error;		/* 0 or a negative errno */
	uint32_t step;		/* enum nsopen_step */
};

/* The descriptors that fit in one reply: every queue and the socket. */
#define NSOPEN_MAX_FDS	(TB_MAX_QUEUES + 1)

/* Closes every descriptor from lo up except keep (close_range(2)). */
static void
close_all_but(int lo, int keep)
{
	if (keep > lo)
		syscall(SYS_close_range, (unsigned)lo, (unsigned)keep - 1, 0u);
	syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u);
}

static void
close_fds(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * Sends one message with nfds descriptors over a SOCK_SEQPACKET socket;
 * 0 or a negative errno.
 */
static int
send_with_fds(int sock, const void *buf, size_t len, const int *fds,
    size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * NSOPEN_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf,
	    .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	memset(&control, 0, sizeof(control));
	if (nfds > 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/*
 * Receives one message into buf and up to NSOPEN_MAX_FDS descriptors
 * (close-on-exec) into fds.  Returns its length (0: the peer is gone), or
 * a negative errno; -EMSGSIZE when the message or its descriptors were
 * truncated.  Whatever the result, the caller owns and closes *nfds fds.
 */
static ssize_t
recv_with_fds(int sock, void *buf, size_t size, int *fds, size_t *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * NSOPEN_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *cmsg;
	ssize_t n;
	size_t k;

	*nfds = 0;
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (k > NSOPEN_MAX_FDS - *nfds)
			k = NSOPEN_MAX_FDS - *nfds;
		memcpy(fds + *nfds, CMSG_DATA(cmsg), k * sizeof(int));
		*nfds += k;
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	return n;
}

/*
 * The helper's one job: in the namespace netns, open queues /dev/net/tun
 * descriptors and a rtnetlink socket, come back home and send them.
 * Exits if it cannot come back, rather than serve from a wrong namespace.
 */
static void
helper_serve(int sock, int home, int netns, uint32_t queues)
{
	struct nsopen_reply rep = { .error = 0 };
	int fds[NSOPEN_MAX_FDS];
	size_t n = 0;

	if (setns(netns, CLONE_NEWNET) < 0) {
		rep = (struct nsopen_reply){ -errno, NSOPEN_STEP_SETNS };
		goto reply;
	}
	for (; n < queues; n++) {
		fds[n] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fds[n] < 0) {
			rep = (struct nsopen_reply){ -errno, NSOPEN_STEP_TUN };
			break;
		}
	}
	if (rep.error == 0) {
		fds[n] = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
		    NETLINK_ROUTE);
		if (fds[n] < 0)
			rep = (struct nsopen_reply){ -errno,
			    NSOPEN_STEP_NETLINK };
		else
			n++;
	}
	if (setns(home, CLONE_NEWNET) < 0) {
		log_error("namespace helper: returning to its own network "
		    "namespace: %s", strerror(errno));
		_exit(1);
	}
	if (rep.error != 0)
		close_fds(fds, n);
reply:
	if (send_with_fds(sock, &rep, sizeof(rep), fds,
	    rep.error == 0 ? n : 0) != 0)
		_exit(1);
	if (rep.error == 0)
		close_fds(fds, n);
}

/* The helper process: serves until the broker's end closes. */
static void __attribute__((noreturn))
helper_main(int sock, pid_t broker)
{
	struct nsopen_request req;
	struct nsopen_reply bad = { -EINVAL, NSOPEN_STEP_REQUEST };
	struct tb_error err;
	int fds[NSOPEN_MAX_FDS], home;
	size_t nfds;
	ssize_t n;

	close_all_but(3, sock);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    getppid() != broker)
		_exit(1);
	if (privs_keep((UINT64_C(1) << CAP_SYS_ADMIN) |
	    (UINT64_C(1) << CAP_NET_ADMIN), "CAP_SYS_ADMIN and CAP_NET_ADMIN",
	    &err) != 0) {
		log_error("namespace helper: %s", err.text);
		_exit(1);
	}
	if ((home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
		log_error("namespace helper: opening /proc/self/ns/net: %s",
		    strerror(errno));
		_exit(1);
	}
	for (;;) {
		n = recv_with_fds(sock, &req, sizeof(req), fds, &nfds);
		if (n == 0)
			_exit(0);
		if (n != (ssize_t)sizeof(req) || nfds != 1 || req.queues < 1 ||
		    req.queues > TB_MAX_QUEUES) {
			close_fds(fds, nfds);
			if (n < 0 && n != -EMSGSIZE)
				_exit(1);
			if (send_with_fds(sock, &bad, sizeof(bad), NULL, 0) != 0)
				_exit(1);
			continue;
		}
		helper_serve(sock, home, fds[0], req.queues);
		close(fds[0]);
	}
}

int
nsopen_start(struct nsopen **out, struct tb_error *err)
{
	struct timeval timeout = { .tv_sec = NSOPEN_TIMEOUT_SEC };
	struct nsopen *h;
	pid_t broker = getpid();
	int sv[2];

	*out = NULL;
	if (!privs_have(CAP_SYS_ADMIN))
		return tb_error_set(err, -EPERM, "no CAP_SYS_ADMIN to give "
		    "the namespace helper: devices cannot be placed in "
		    "clients' network namespaces");
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return tb_error_set(err, -ENOMEM, "starting the namespace "
		    "helper: %s", strerror(ENOMEM));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		free(h);
		return tb_error_set(err, -errno, "starting the namespace "
		    "helper: socketpair: %s", strerror(errno));
	}
	h->pid = fork();
	if (h->pid < 0) {
		close(sv[0]);
		close(sv[1]);
		free(h);
		return tb_error_set(err, -errno, "starting the namespace "
		    "helper: fork: %s", strerror(errno));
	}
	if (h->pid == 0)
		helper_main(sv[1], broker);
	close(sv[1]);
	h->sock = sv[0];
	/* The helper is ours, but a wedged one must not wedge the broker. */
	(void)setsockopt(h->sock, SOL_SOCKET, SO_RCVTIMEO, &timeout,
	    sizeof(timeout));
	*out = h;
	return 0;
}

static const char *
step_name(uint32_t step)
{
	switch (step) {
	case NSOPEN_STEP_REQUEST:
		return "the helper refused the request";
	case NSOPEN_STEP_SETNS:
		return "entering it (setns)";
	case NSOPEN_STEP_TUN:
		return "opening /dev/net/tun in it";
	case NSOPEN_STEP_NETLINK:
		return "opening a rtnetlink socket in it";
	default:
		return "the helper's reply";
	}
}

/*
 * Gives up a helper that died or broke the exchange: a late answer must
 * never be taken for the next request's, so it is ended, not reused.
 */
static int
nsopen_lost(struct nsopen *h, int rc, const char *why, struct tb_error *err)
{
	if (h->sock >= 0) {
		close(h->sock);
		h->sock = -1;
	}
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
			;
		h->pid = -1;
	}
	return tb_error_set(err, rc, "netns: the namespace helper %s: "
	    "namespaces cannot be served until tunbrokerd restarts", why);
}

int
nsopen_open(struct nsopen *h, int netns_fd, unsigned queues,
    int *tun_fds, int *nl_fd, struct tb_error *err)
{
	struct nsopen_request req = { .queues = queues };
	struct nsopen_reply rep;
	int fds[NSOPEN_MAX_FDS];
	size_t nfds, i;
	ssize_t n;
	int rc;

	*nl_fd = -1;
	for (i = 0; i < queues && i < TB_MAX_QUEUES; i++)
		tun_fds[i] = -1;
	if (queues < 1 || queues > TB_MAX_QUEUES)
		return tb_error_set(err, -EINVAL, "netns: %u queues: 1 to %d "
		    "are possible", queues, TB_MAX_QUEUES);
	if (h == NULL || h->sock < 0)
		return tb_error_set(err, -EOPNOTSUPP, "netns: this broker "
		    "has no namespace helper (it lacks CAP_SYS_ADMIN, or the "
		    "helper died): devices cannot be placed in other "
		    "namespaces");
	if ((rc = send_with_fds(h->sock, &req, sizeof(req), &netns_fd, 1)) != 0)
		return nsopen_lost(h, -EPIPE, "is gone", err);
	n = recv_with_fds(h->sock, &rep, sizeof(rep), fds, &nfds);
	if (n <= 0 && n != -EMSGSIZE) {
		close_fds(fds, nfds);
		return nsopen_lost(h, -EPIPE, n == -EAGAIN ?
		    "did not answer" : "is gone", err);
	}
	if (n != (ssize_t)sizeof(rep) ||
	    (rep.error == 0 && nfds != queues + 1) ||
	    (rep.error != 0 && (nfds != 0 || rep.error > 0 ||
	    rep.error < -4095))) {
		close_fds(fds, nfds);
		return nsopen_lost(h, -EPROTO, "answered out of turn", err);
	}
	if (rep.error != 0)
		return tb_error_set(err, rep.error, "netns: %s: %s",
		    step_name(rep.step), strerror(-rep.error));
	memcpy(tun_fds, fds, queues * sizeof(int));
	*nl_fd = fds[queues];
	return 0;
}

void
nsopen_stop(struct nsopen *h)
{
	if (h == NULL)
		return;
	if (h->sock >= 0)
		close(h->sock);
	/* It exits when it reads the end of the socket. */
	while (h->pid > 0 && waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
		;
	free(h);
}

pid_t
nsopen_pid(const struct nsopen *h)
{
	return h != NULL ? h->pid : -1;
}
