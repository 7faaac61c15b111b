#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "fdpass.h"

/* Room for the most descriptors one message may carry. */
#define CMSG_ROOM	CMSG_SPACE(sizeof(int) * TB_MSG_MAX_FDS)

int
tb_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_ROOM];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;
	ssize_t n;

	if (nfds > TB_MSG_MAX_FDS)
		return -EINVAL;
	if (nfds > 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* SOCK_SEQPACKET sends all of a message or nothing. */
	return (size_t)n == len ? 0 : -EIO;
}

void
tb_close_fds(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Moves every SCM_RIGHTS descriptor in mh into fds; returns how many. */
static size_t
collect_fds(struct msghdr *mh, int *fds)
{
	struct cmsghdr *cmsg;
	size_t n = 0, count, i;
	int fd;

	for (cmsg = CMSG_FIRSTHDR(mh); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(mh, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < count; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			/* The control buffer bounds the count; be sure. */
			if (n < TB_MSG_MAX_FDS)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

ssize_t
tb_recv(int sock, void *buf, size_t size, int *fds, size_t *nfds,
    struct tb_error *err)
{
	union {
		char buf[CMSG_ROOM];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n;

	*nfds = 0;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_TRUNC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return tb_error_set(err, -errno, "receiving a message: %s",
		    strerror(errno));
	*nfds = collect_fds(&mh, fds);
	if (n == 0) {
		/*
		 * End of stream, or an empty datagram, which no valid message
		 * is: either way nothing it carried is handed back.
		 */
		tb_close_fds(fds, *nfds);
		*nfds = 0;
		return 0;
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		tb_close_fds(fds, *nfds);
		*nfds = 0;
		return tb_error_set_detail(err, -EMSGSIZE, TB_DECODE_CTRUNC,
		    "a message came with more than %u descriptors (ancillary data truncated)",
		    TB_MSG_MAX_FDS);
	}
	if ((size_t)n > size || (mh.msg_flags & MSG_TRUNC)) {
		tb_close_fds(fds, *nfds);
		*nfds = 0;
		return tb_error_set_detail(err, -EMSGSIZE, TB_DECODE_TOO_BIG,
		    "message of %zd bytes is over the limit of %zu", n, size);
	}
	return n;
}
