/*
 * Passing messages and descriptors over a SOCK_SEQPACKET pair: what
 * arrives is usable and close-on-exec, what is refused leaks nothing, and
 * a vanished peer is an error code, never a signal.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "fdpass.h"
#include "testlib.h"

static void
make_pair(int sv[2], int extra_flags)
{
	ck_assert_int_eq(socketpair(AF_UNIX,
	    SOCK_SEQPACKET | SOCK_CLOEXEC | extra_flags, 0, sv), 0);
}

static void
make_pipe(int p[2])
{
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
}

static bool
fd_is_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	ck_assert_int_ne(flags, -1);
	return (flags & FD_CLOEXEC) != 0;
}

/* A PING, the smallest valid message, to carry descriptors. */
static void
encode_ping(struct tb_builder *b, uint32_t seq)
{
	ck_assert_int_eq(tb_encode_simple(b, TB_MSG_PING, seq), 0);
}

/* Receives into a buffer that holds any valid message. */
static ssize_t
recv_any(int sock, uint8_t **buf, int *fds, size_t *nfds,
    struct tb_error *err)
{
	*buf = malloc(TB_MSG_MAX_SIZE);
	ck_assert_ptr_nonnull(*buf);
	memset(err, 0, sizeof(*err));
	return tb_recv(sock, *buf, TB_MSG_MAX_SIZE, fds, nfds, err);
}

/* Sends the write ends of n pipes and checks each copy leads to its pipe. */
static void
pass_pipes(size_t n)
{
	int pipes[3][2], sent[3] = { -1, -1, -1 }, got[TB_MSG_MAX_FDS];
	struct tb_builder b;
	struct tb_error err;
	struct tb_msg msg;
	size_t nfds = 99, i;
	uint8_t *buf;
	char c;
	int sv[2];

	ck_assert_uint_le(n, 3);
	make_pair(sv, 0);
	for (i = 0; i < n; i++) {
		make_pipe(pipes[i]);
		sent[i] = pipes[i][1];
	}
	encode_ping(&b, 42);
	ck_assert_int_eq(tb_send(sv[0], b.buf, b.len, sent, n), 0);

	ck_assert_int_eq(recv_any(sv[1], &buf, got, &nfds, &err),
	    (ssize_t)b.len);
	ck_assert_mem_eq(buf, b.buf, b.len);
	ck_assert_uint_eq(nfds, n);
	ck_assert_int_eq(tb_msg_parse(&msg, buf, b.len, 0, &err), 0);
	ck_assert_uint_eq(msg.hdr.seq, 42);

	for (i = 0; i < n; i++) {
		ck_assert_int_ge(got[i], 0);
		ck_assert_int_ne(got[i], sent[i]);
		ck_assert_msg(fd_is_cloexec(got[i]),
		    "received descriptor %d is not close-on-exec", got[i]);
		/* The received copy writes into the very same pipe. */
		c = (char)('a' + i);
		ck_assert_int_eq(write(got[i], &c, 1), 1);
		c = 0;
		ck_assert_int_eq(read(pipes[i][0], &c, 1), 1);
		ck_assert_int_eq(c, 'a' + (int)i);
		/* The sender's descriptor is still its own and still works. */
		ck_assert(testlib_fd_is_open(sent[i]));
		c = 'z';
		ck_assert_int_eq(write(sent[i], &c, 1), 1);
		ck_assert_int_eq(read(pipes[i][0], &c, 1), 1);
		ck_assert_int_eq(c, 'z');
	}
	tb_close_fds(got, nfds);
	for (i = 0; i < n; i++) {
		/* Closing the copy left the sender's end open. */
		ck_assert(testlib_fd_is_open(sent[i]));
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
	free(buf);
	tb_builder_release(&b);
	close(sv[0]);
	close(sv[1]);
}

START_TEST(test_no_fds)
{
	pass_pipes(0);
}
END_TEST

START_TEST(test_one_fd)
{
	pass_pipes(1);
}
END_TEST

START_TEST(test_three_fds)
{
	pass_pipes(3);
}
END_TEST

/* TB_MSG_MAX_FDS is a limit that can be reached, not only approached. */
START_TEST(test_max_fds)
{
	int sent[TB_MSG_MAX_FDS], got[TB_MSG_MAX_FDS], p[2], sv[2];
	struct tb_builder b;
	struct tb_error err;
	size_t nfds, i;
	uint8_t *buf;
	int before;

	make_pair(sv, 0);
	make_pipe(p);
	for (i = 0; i < TB_MSG_MAX_FDS; i++)
		sent[i] = p[1];
	encode_ping(&b, 1);
	before = testlib_count_fds(0);
	ck_assert_int_eq(tb_send(sv[0], b.buf, b.len, sent, TB_MSG_MAX_FDS),
	    0);
	ck_assert_int_eq(recv_any(sv[1], &buf, got, &nfds, &err),
	    (ssize_t)b.len);
	ck_assert_uint_eq(nfds, TB_MSG_MAX_FDS);
	ck_assert_int_eq(testlib_count_fds(0), before + TB_MSG_MAX_FDS);
	tb_close_fds(got, nfds);
	ck_assert_int_eq(testlib_count_fds(0), before);
	free(buf);
	tb_builder_release(&b);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* More descriptors than a message may carry, as a hostile peer sends them. */
START_TEST(test_too_many_fds_received)
{
	enum { NFDS = 70 };
	union {
		char buf[CMSG_SPACE(sizeof(int) * NFDS)];
		struct cmsghdr align;
	} control;
	int sent[NFDS], got[TB_MSG_MAX_FDS], p[2], sv[2];
	struct tb_builder b;
	struct tb_error err;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *cmsg;
	size_t nfds = 99, i;
	uint8_t *buf;
	int before;

	make_pair(sv, 0);
	make_pipe(p);
	for (i = 0; i < NFDS; i++)
		sent[i] = p[1];
	encode_ping(&b, 1);

	memset(&control, 0, sizeof(control));
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = b.buf;
	iov.iov_len = b.len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	cmsg = CMSG_FIRSTHDR(&mh);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int) * NFDS);
	memcpy(CMSG_DATA(cmsg), sent, sizeof(sent));

	before = testlib_count_fds(0);
	ck_assert_int_eq(sendmsg(sv[0], &mh, MSG_NOSIGNAL), (ssize_t)b.len);
	ck_assert_int_eq(recv_any(sv[1], &buf, got, &nfds, &err), -EMSGSIZE);
	ck_assert_int_eq(err.code, -EMSGSIZE);
	ck_assert_int_eq(err.detail, TB_DECODE_CTRUNC);
	ck_assert_msg(strstr(err.text, "64") != NULL, "error text: %s",
	    err.text);
	ck_assert_uint_eq(nfds, 0);
	ck_assert_int_eq(testlib_count_fds(0), before);

	/* The connection goes on: the next message arrives whole. */
	ck_assert_int_eq(tb_send(sv[0], b.buf, b.len, sent, 1), 0);
	ck_assert_int_eq(tb_recv(sv[1], buf, TB_MSG_MAX_SIZE, got, &nfds,
	    &err), (ssize_t)b.len);
	ck_assert_uint_eq(nfds, 1);
	tb_close_fds(got, nfds);
	ck_assert_int_eq(testlib_count_fds(0), before);

	free(buf);
	tb_builder_release(&b);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_message_bigger_than_buffer)
{
	int got[TB_MSG_MAX_FDS], sent[2], p[2], sv[2];
	uint8_t big[200], small[100];
	struct tb_error err;
	size_t nfds = 99;
	int before;

	make_pair(sv, 0);
	make_pipe(p);
	sent[0] = p[0];
	sent[1] = p[1];
	memset(big, 0x5a, sizeof(big));
	before = testlib_count_fds(0);
	ck_assert_int_eq(tb_send(sv[0], big, sizeof(big), sent, 2), 0);
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(tb_recv(sv[1], small, sizeof(small), got, &nfds,
	    &err), -EMSGSIZE);
	ck_assert_int_eq(err.code, -EMSGSIZE);
	ck_assert_int_eq(err.detail, TB_DECODE_TOO_BIG);
	ck_assert_msg(strstr(err.text, "200") != NULL &&
	    strstr(err.text, "100") != NULL, "error text: %s", err.text);
	ck_assert_uint_eq(nfds, 0);
	ck_assert_int_eq(testlib_count_fds(0), before);
	/* The sender's own descriptors were never at stake. */
	ck_assert(testlib_fd_is_open(p[0]));
	ck_assert(testlib_fd_is_open(p[1]));
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_peer_closed)
{
	int got[TB_MSG_MAX_FDS], sv[2];
	struct tb_error err;
	size_t nfds = 99;
	uint8_t *buf;

	make_pair(sv, 0);
	close(sv[0]);
	ck_assert_int_eq(recv_any(sv[1], &buf, got, &nfds, &err), 0);
	ck_assert_uint_eq(nfds, 0);
	free(buf);
	close(sv[1]);
}
END_TEST

START_TEST(test_empty_datagram_with_fds)
{
	int got[TB_MSG_MAX_FDS], p[2], sv[2];
	struct tb_error err;
	size_t nfds = 99;
	uint8_t buf[16];
	int before;

	/* An empty datagram reads like the end of the connection ... */
	make_pair(sv, 0);
	make_pipe(p);
	before = testlib_count_fds(0);
	ck_assert_int_eq(tb_send(sv[0], buf, 0, p, 2), 0);
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(tb_recv(sv[1], buf, sizeof(buf), got, &nfds, &err), 0);
	/* ... and whatever it carried is closed, not handed back. */
	ck_assert_uint_eq(nfds, 0);
	ck_assert_int_eq(testlib_count_fds(0), before);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_nonblocking_nothing)
{
	int got[TB_MSG_MAX_FDS], sv[2];
	struct tb_error err;
	size_t nfds = 99;
	uint8_t *buf;

	make_pair(sv, SOCK_NONBLOCK);
	ck_assert_int_eq(recv_any(sv[1], &buf, got, &nfds, &err), -EAGAIN);
	ck_assert_int_eq(err.code, -EAGAIN);
	ck_assert_uint_eq(nfds, 0);
	free(buf);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_send_full_nonblocking)
{
	uint8_t msg[1024];
	int sv[2], r, i;

	make_pair(sv, SOCK_NONBLOCK);
	memset(msg, 0, sizeof(msg));
	for (i = 0; i < 100000; i++) {
		r = tb_send(sv[0], msg, sizeof(msg), NULL, 0);
		if (r != 0)
			break;
	}
	ck_assert_int_eq(r, -EAGAIN);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_send_too_many_fds)
{
	int fds[TB_MSG_MAX_FDS + 1], got[TB_MSG_MAX_FDS], p[2], sv[2];
	struct tb_builder b;
	struct tb_error err;
	size_t nfds, i;
	uint8_t *buf;

	make_pair(sv, SOCK_NONBLOCK);
	make_pipe(p);
	for (i = 0; i < TB_MSG_MAX_FDS + 1; i++)
		fds[i] = p[1];
	encode_ping(&b, 1);
	ck_assert_int_eq(tb_send(sv[0], b.buf, b.len, fds,
	    TB_MSG_MAX_FDS + 1), -EINVAL);
	/* Nothing went out. */
	ck_assert_int_eq(recv_any(sv[1], &buf, got, &nfds, &err), -EAGAIN);
	free(buf);
	tb_builder_release(&b);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_send_to_closed_peer)
{
	struct tb_builder b;
	int sv[2], p[2];

	/* Default disposition: a SIGPIPE would kill this test. */
	ck_assert(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
	make_pair(sv, 0);
	make_pipe(p);
	close(sv[1]);
	encode_ping(&b, 1);
	ck_assert_int_eq(tb_send(sv[0], b.buf, b.len, NULL, 0), -EPIPE);
	ck_assert_int_eq(tb_send(sv[0], b.buf, b.len, &p[0], 1), -EPIPE);
	ck_assert(testlib_fd_is_open(p[0]));
	close(sv[0]);

	/*
	 * Linux raises no SIGPIPE for SOCK_SEQPACKET, but does for a stream
	 * socket: the promise must hold whatever the socket is.
	 */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	close(sv[1]);
	ck_assert_int_eq(tb_send(sv[0], b.buf, b.len, NULL, 0), -EPIPE);
	tb_builder_release(&b);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
}
END_TEST

START_TEST(test_close_fds)
{
	int p[2], fds[3];

	make_pipe(p);
	fds[0] = p[0];
	fds[1] = -1;
	fds[2] = p[1];
	tb_close_fds(fds, 3);
	ck_assert_int_eq(fds[0], -1);
	ck_assert_int_eq(fds[1], -1);
	ck_assert_int_eq(fds[2], -1);
	ck_assert(!testlib_fd_is_open(p[0]));
	ck_assert_int_eq(errno, EBADF);
	ck_assert(!testlib_fd_is_open(p[1]));

	/* Nothing to close is fine too. */
	tb_close_fds(fds, 0);
}
END_TEST

static Suite *
fdpass_suite(void)
{
	Suite *s = suite_create("fdpass");
	TCase *tc;

	tc = tcase_create("passing");
	tcase_add_test(tc, test_no_fds);
	tcase_add_test(tc, test_one_fd);
	tcase_add_test(tc, test_three_fds);
	tcase_add_test(tc, test_max_fds);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusing");
	tcase_add_test(tc, test_too_many_fds_received);
	tcase_add_test(tc, test_message_bigger_than_buffer);
	tcase_add_test(tc, test_empty_datagram_with_fds);
	tcase_add_test(tc, test_send_too_many_fds);
	suite_add_tcase(s, tc);

	tc = tcase_create("connection");
	tcase_add_test(tc, test_peer_closed);
	tcase_add_test(tc, test_nonblocking_nothing);
	tcase_add_test(tc, test_send_full_nonblocking);
	tcase_add_test(tc, test_send_to_closed_peer);
	tcase_add_test(tc, test_close_fds);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return testlib_run(fdpass_suite(), false);
}
