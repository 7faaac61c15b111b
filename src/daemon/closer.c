#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "closer.h"

/*
 * The interface group a device joins just before it is deleted, so that a
 * batch goes in one RTM_DELLINK.  Only this thread ever sets it, and only
 * on devices it is about to delete.
 */
#define DOOMED_GROUP	0x74626b72u	/* "tbkr" */

/* The most operations one pass takes from the queue. */
#define BATCH_MAX	1024
/* Group requests in flight at once: their acks must fit the socket. */
#define DOOM_MAX	64
/* Seconds a deletion's acknowledgement may take before it counts as lost. */
#define ACK_WAIT_MAX	30
/* Room for reports of finished deletions the loop has not read yet. */
#define DONE_PIPE_SIZE	(1 << 20)
/* Closes the loop holds for one write: PIPE_BUF bytes, written whole. */
#define HOLD_MAX	(PIPE_BUF / 8)
/*
 * Threads that only close.  A close that turns out to be a device's last
 * waits out RCU grace periods (tens of ms); with one thread, every close
 * queued behind it came after the client's own and was a last close too,
 * so a client creating devices quickly outran the teardown and its quota
 * filled with devices it had closed.  Several threads wait those periods
 * out side by side, and the cheap closes go on meanwhile.
 */
#define CLOSE_THREADS	4

/*
 * One queued operation, or the report of a finished deletion; 8 bytes, so
 * a pipe write of one is atomic.
 */
struct closer_op {
	int32_t kind;		/* a report: the result, 0 or -errno */
	int32_t value;		/* a descriptor or an ifindex */
};

/* What a queued operation is: closes go to their own pipe. */
enum { OP_CLOSE = 1, OP_DELETE = 2 };

struct closer {
	int queue[2];		/* a pipe of struct closer_op */
	int closes[2];		/* a pipe of descriptors for the close threads */
	pthread_t close_threads[CLOSE_THREADS];
	size_t nclose_threads;
	int done[2];		/* reports of finished deletions */
	struct mnl_socket *nl;	/* NULL if none could be opened */
	uint32_t seq;
	pthread_t thread;
	atomic_bool stopping;	/* nobody reads done any more: drop reports */
	struct event *done_ev;	/* NULL until closer_watch() */
	closer_done_cb done_cb;
	void *done_arg;
	/*
	 * Closes asked for during one turn of the loop, written to the queue
	 * together at its end (flush_ev): one write and one wake-up of the
	 * thread for a turn's grants, not one each.  Loop thread only.
	 */
	struct event *flush_ev;	/* NULL until closer_watch(): no holding */
	struct closer_op held[HOLD_MAX];
	size_t nheld;
};

/* Sends one request and waits for its acknowledgement; 0 or -errno. */
static int
request(struct closer *c, struct nlmsghdr *nlh)
{
	char buf[8192] __attribute__((aligned(8)));
	const struct nlmsghdr *msg;
	unsigned waited = 0;
	ssize_t n;
	int len;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++c->seq;
	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		if ((n = mnl_socket_recvfrom(c->nl, buf, sizeof(buf))) < 0) {
			if (errno == EINTR)
				continue;
			/* A big group under a busy rtnl lock takes seconds. */
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    ++waited < ACK_WAIT_MAX)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ?
			    -ETIMEDOUT : -errno;
		}
		len = (int)n;
		for (msg = (const struct nlmsghdr *)(void *)buf;
		    mnl_nlmsg_ok(msg, len); msg = mnl_nlmsg_next(msg, &len)) {
			const struct nlmsgerr *e;

			if (msg->nlmsg_seq != c->seq ||
			    msg->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(msg);
			return e->error;
		}
	}
}

/* Asks, without waiting, for ifindex to join DOOMED_GROUP. */
static int
doom_send(struct closer *c, unsigned ifindex)
{
	char buf[256] __attribute__((aligned(8)));	/* one small request */
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++c->seq;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	mnl_attr_put_u32(nlh, IFLA_GROUP, DOOMED_GROUP);
	return mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

/*
 * Puts the device of every op (all deletions) into DOOMED_GROUP: the
 * requests all go out first and the acknowledgements are collected after,
 * so a batch costs one wait, not one a device.  result[i] gets 0 for a
 * device that joined, else why not (-ENODEV: gone already).  Returns how
 * many joined.
 */
static size_t
doom_all(struct closer *c, const struct closer_op *ops, size_t n,
    int *result)
{
	char buf[8192] __attribute__((aligned(8)));
	const struct nlmsghdr *msg;
	uint32_t first_seq = c->seq + 1, k;
	size_t sent = 0, acked = 0, joined = 0, i;
	uint32_t seq_of[DOOM_MAX];
	unsigned waited = 0;
	ssize_t got;
	int len;

	for (i = 0; i < n; i++) {
		seq_of[i] = c->seq + 1;
		if ((result[i] = doom_send(c, (unsigned)ops[i].value)) == 0) {
			result[i] = -ETIMEDOUT;	/* until its ack comes */
			sent++;
		}
	}
	while (acked < sent) {
		/* A lost ack (ENOBUFS) or a silent kernel ends the wait. */
		if ((got = mnl_socket_recvfrom(c->nl, buf, sizeof(buf))) < 0) {
			if (errno == EINTR || ((errno == EAGAIN ||
			    errno == EWOULDBLOCK) && ++waited < ACK_WAIT_MAX))
				continue;
			break;
		}
		len = (int)got;
		for (msg = (const struct nlmsghdr *)(void *)buf;
		    mnl_nlmsg_ok(msg, len); msg = mnl_nlmsg_next(msg, &len)) {
			int error;

			if (msg->nlmsg_type != NLMSG_ERROR ||
			    msg->nlmsg_seq < first_seq ||
			    msg->nlmsg_seq > c->seq)
				continue;
			error = ((const struct nlmsgerr *)
			    mnl_nlmsg_get_payload(msg))->error;
			acked++;
			joined += error == 0;
			/* Acks come in order; find the op by its sequence. */
			for (k = 0; k < n; k++) {
				if (seq_of[k] == msg->nlmsg_seq) {
					result[k] = error;
					break;
				}
			}
		}
	}
	return joined;
}

/* Deletes every device of DOOMED_GROUP with one request; 0 or -errno. */
static int
delete_doomed(struct closer *c)
{
	char buf[256] __attribute__((aligned(8)));	/* one small request */
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_DELLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, IFLA_GROUP, DOOMED_GROUP);
	return request(c, nlh);
}

/*
 * Tells the loop how the deletion of ifindex ended.  Blocks while the
 * loop is behind (the pipe is large), but never once the loop has stopped
 * reading: then nobody waits for the report.
 */
static void
report(struct closer *c, unsigned ifindex, int result)
{
	struct closer_op done = { .kind = result, .value = (int32_t)ifindex };
	struct pollfd pfd = { .fd = c->done[1], .events = POLLOUT };

	while (!atomic_load(&c->stopping)) {
		if (write(c->done[1], &done, sizeof(done)) ==
		    (ssize_t)sizeof(done))
			return;
		if (errno != EAGAIN && errno != EINTR)
			return;
		(void)poll(&pfd, 1, 100);
	}
}

/* Takes the next operation: waiting for the first of a pass, not after. */
static bool
take(struct closer *c, struct closer_op *op, bool wait)
{
	struct pollfd pfd = { .fd = c->queue[0], .events = POLLIN };
	ssize_t n;

	if (!wait && poll(&pfd, 1, 0) != 1)
		return false;
	do {
		n = read(c->queue[0], op, sizeof(*op));
	} while (n < 0 && errno == EINTR);
	return n == sizeof(*op);
}

/*
 * Deletes the devices of ops[0..n) with one group request and reports
 * each; result has room for n.
 */
static void
delete_ops(struct closer *c, const struct closer_op *ops, size_t n,
    int *result)
{
	size_t i, joined = 0;
	int deleted;

	for (i = 0; i < n; i++)
		result[i] = -EOPNOTSUPP;	/* no rtnetlink socket */
	/*
	 * Groups of DOOM_MAX keep every ack within the socket's buffer; the
	 * deletion waits until all have joined, since each RTM_DELLINK
	 * waits out RCU grace periods however many devices it takes.
	 */
	for (i = 0; c->nl != NULL && i < n; i += DOOM_MAX)
		joined += doom_all(c, ops + i, n - i < DOOM_MAX ? n - i :
		    DOOM_MAX, result + i);
	deleted = joined > 0 ? delete_doomed(c) : 0;
	for (i = 0; i < n; i++)
		report(c, (unsigned)ops[i].value, result[i] == 0 ? deleted :
		    result[i]);
}

/*
 * Each pass takes every deletion queued and deletes those devices with one
 * group request: a RELEASE waits for at most the pass before its own.
 * (Closes go to the close threads, so no last close holds up a pass.)
 */
static void *
closer_run(void *arg)
{
	static struct closer_op ops[BATCH_MAX];
	static int result[BATCH_MAX];
	struct closer *c = arg;
	size_t n;

	for (;;) {
		if (!take(c, &ops[0], true))
			return NULL;	/* the write end closed: stop */
		for (n = 1; n < BATCH_MAX && take(c, &ops[n], false); n++)
			;
		delete_ops(c, ops, n, result);
	}
}

/* A close thread: closes each descriptor it reads until the pipe ends. */
static void *
closer_close_run(void *arg)
{
	struct closer *c = arg;
	struct closer_op op;
	ssize_t n;

	for (;;) {
		n = read(c->closes[0], &op, sizeof(op));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(op))
			return NULL;	/* the write end closed: stop */
		close(op.value);
	}
}

int
closer_start(struct closer **out)
{
	struct closer *c;
	sigset_t all, old;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	atomic_init(&c->stopping, false);
	if (pipe2(c->queue, O_CLOEXEC) < 0) {
		r = -errno;
		free(c);
		return r;
	}
	if (pipe2(c->done, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		close(c->queue[0]);
		close(c->queue[1]);
		free(c);
		return r;
	}
	/* Not fatal: the default 64 KiB only makes report() wait sooner. */
	(void)fcntl(c->done[1], F_SETPIPE_SZ, DONE_PIPE_SIZE);
	/* The loop must never wait on the pipe: full means do it inline. */
	if (fcntl(c->queue[1], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		goto fail_closes;
	}
	/* Without rtnetlink, deletions fall back to the caller. */
	c->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (c->nl != NULL && mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(c->nl);
		c->nl = NULL;
	}
	if (c->nl != NULL) {
		struct timeval wait = { .tv_sec = 1 };
		int one = 1;

		/* Acks without the request echoed; and never wait forever. */
		mnl_socket_setsockopt(c->nl, NETLINK_CAP_ACK, &one,
		    sizeof(one));
		setsockopt(mnl_socket_get_fd(c->nl), SOL_SOCKET, SO_RCVTIMEO,
		    &wait, sizeof(wait));
	}
	if (pipe2(c->closes, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail_closes;
	}
	/* The loop must never wait on this pipe either. */
	if (fcntl(c->closes[1], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* The close threads first: with none, there is nothing to stop. */
	do {
		r = -pthread_create(&c->close_threads[c->nclose_threads], NULL,
		    closer_close_run, c);
	} while (r == 0 && ++c->nclose_threads < CLOSE_THREADS);
	if (c->nclose_threads > 0)
		r = -pthread_create(&c->thread, NULL, closer_run, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		/* Ending the pipe ends the close threads that did start. */
		close(c->closes[1]);
		c->closes[1] = -1;
		while (c->nclose_threads > 0)
			pthread_join(c->close_threads[--c->nclose_threads],
			    NULL);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	close(c->closes[0]);
	if (c->closes[1] != -1)
		close(c->closes[1]);
fail_closes:
	if (c->nl != NULL)
		mnl_socket_close(c->nl);
	close(c->queue[0]);
	close(c->queue[1]);
	close(c->done[0]);
	close(c->done[1]);
	free(c);
	return r;
}

/* Hands every report waiting in the done pipe to the callback. */
static void
closer_read_done(evutil_socket_t fd, short what, void *arg)
{
	struct closer *c = arg;
	struct closer_op done[64];
	ssize_t n, i;

	(void)fd;
	(void)what;
	while ((n = read(c->done[0], done, sizeof(done))) > 0) {
		/* Reports are written whole, so reads return whole ones. */
		for (i = 0; i < n / (ssize_t)sizeof(done[0]); i++) {
			if (c->done_cb != NULL)
				c->done_cb((unsigned)done[i].value,
				    done[i].kind, c->done_arg);
		}
	}
}

/* Writes the held closes to the queue; if it is full, closes them here. */
static void
flush_held(struct closer *c)
{
	size_t i, len = c->nheld * sizeof(c->held[0]);

	if (c->nheld == 0)
		return;
	/* At most PIPE_BUF bytes: the pipe takes all of them or none. */
	if (write(c->closes[1], c->held, len) != (ssize_t)len) {
		for (i = 0; i < c->nheld; i++)
			close(c->held[i].value);
	}
	c->nheld = 0;
}

static void
closer_on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush_held(arg);
}

int
closer_watch(struct closer *c, struct event_base *base, closer_done_cb cb,
    void *arg)
{
	if (c == NULL)
		return 0;
	c->done_cb = cb;
	c->done_arg = arg;
	c->done_ev = event_new(base, c->done[0], EV_READ | EV_PERSIST,
	    closer_read_done, c);
	if (c->done_ev == NULL || event_add(c->done_ev, NULL) != 0)
		return -ENOMEM;
	c->flush_ev = event_new(base, -1, 0, closer_on_flush, c);
	return c->flush_ev != NULL ? 0 : -ENOMEM;
}

/* Queues op; false if there is no room (or no closer). */
static bool
queue_op(struct closer *c, int kind, int value)
{
	struct closer_op op = { .kind = kind, .value = value };

	return c != NULL &&
	    write(c->queue[1], &op, sizeof(op)) == (ssize_t)sizeof(op);
}

/*
 * Active events run after those already active in the same turn, so the
 * flush comes once the turn's other callbacks have held their closes.
 */
void
closer_close(struct closer *c, int fd)
{
	if (c != NULL && c->flush_ev != NULL) {
		c->held[c->nheld].kind = OP_CLOSE;
		c->held[c->nheld].value = fd;
		if (++c->nheld == HOLD_MAX)
			flush_held(c);
		else if (c->nheld == 1)
			event_active(c->flush_ev, EV_TIMEOUT, 0);
		return;
	}
	if (c == NULL || write(c->closes[1], &(struct closer_op){
	    .kind = OP_CLOSE, .value = fd }, sizeof(struct closer_op)) !=
	    (ssize_t)sizeof(struct closer_op))
		close(fd);
}

bool
closer_delete(struct closer *c, unsigned ifindex)
{
	if (c == NULL || c->nl == NULL || ifindex > INT32_MAX)
		return false;
	return queue_op(c, OP_DELETE, (int)ifindex);
}

void
closer_stop(struct closer *c)
{
	struct pollfd pfd;

	if (c == NULL)
		return;
	flush_held(c);
	close(c->closes[1]);
	while (c->nclose_threads > 0)
		pthread_join(c->close_threads[--c->nclose_threads], NULL);
	close(c->closes[0]);
	close(c->queue[1]);
	/* Deliver the reports of what is still queued while it finishes. */
	pfd.fd = c->done[0];
	pfd.events = POLLIN;
	while (pthread_tryjoin_np(c->thread, NULL) != 0) {
		if (poll(&pfd, 1, 10) == 1)
			closer_read_done(c->done[0], EV_READ, c);
	}
	closer_read_done(c->done[0], EV_READ, c);
	atomic_store(&c->stopping, true);
	close(c->queue[0]);
	close(c->done[0]);
	close(c->done[1]);
	if (c->done_ev != NULL)
		event_free(c->done_ev);
	if (c->flush_ev != NULL)
		event_free(c->flush_ev);
	if (c->nl != NULL)
		mnl_socket_close(c->nl);
	free(c);
}
