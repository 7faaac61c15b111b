/*
 * Asynchronous requests to the broker on the caller's libevent loop: many
 * CREATE requests in flight on one non-blocking connection, each reply
 * matched to its request by the sequence number it echoes.
 *
 * Callbacks run only from this file's event handlers and from
 * tunclient_async_free(), never from inside tunclient_async_request() or
 * tunclient_async_cancel(), so a caller is never re-entered from a call
 * it made.  A callback may free the connection: the handler that called it
 * is told through conn->freed and touches nothing of conn afterwards.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "fdpass.h"
#include "internal.h"

/* Requests waiting for room in the socket, at most; more get -ENOBUFS. */
#define ASYNC_QUEUE_MAX		1024
/* Replies handled per wakeup, so that one connection cannot hog the loop. */
#define ASYNC_READ_BUDGET	16

#define ASYNC_PEER_CLOSED	"the broker closed the connection"

struct tunclient_pending {
	TAILQ_ENTRY(tunclient_pending) entry;		/* conn->pending */
	TAILQ_ENTRY(tunclient_pending) out_entry;	/* conn->outq */
	struct tunclient_async *conn;
	uint32_t seq;
	bool queued;		/* in conn->outq: the broker has not seen it */
	tunclient_lease_cb cb;	/* NULL once cancelled */
	void *arg;
	struct tb_builder msg;	/* the encoded request, kept until sent */
	int netns_fd;		/* our copy of the request's, until sent */
};

TAILQ_HEAD(pending_list, tunclient_pending);

struct tunclient_async {
	int sock;		/* -1 once the connection is dead */
	struct event *read_ev;	/* armed while anything is in flight */
	struct event *write_ev;	/* armed while outq waits for room */
	uint32_t next_seq;
	struct pending_list pending;	/* in flight, oldest first */
	struct pending_list outq;	/* the unsent ones among them */
	size_t npending;
	size_t nqueued;
	bool dead;		/* no request can be sent any more */
	bool freeing;		/* tunclient_async_free() is running */
	bool *freed;		/* a running handler's "conn is gone" flag */
	uint8_t *buf;		/* TB_MSG_MAX_SIZE bytes for replies */
};

static void async_on_readable(evutil_socket_t, short, void *);
static void async_on_writable(evutil_socket_t, short, void *);

int
tunclient_async_connect(struct event_base *base, const char *path,
    struct tunclient_async **out)
{
	struct tunclient_async *conn;
	int r;

	*out = NULL;
	if ((conn = calloc(1, sizeof(*conn))) == NULL)
		return -ENOMEM;
	conn->sock = -1;
	conn->next_seq = 1;
	TAILQ_INIT(&conn->pending);
	TAILQ_INIT(&conn->outq);
	if ((conn->buf = malloc(TB_MSG_MAX_SIZE)) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	/* A Unix connect completes at once or fails (-EAGAIN: backlog full). */
	if ((r = client_socket_connect(path, SOCK_NONBLOCK, &conn->sock)) != 0)
		goto fail;
	conn->read_ev = event_new(base, conn->sock, EV_READ | EV_PERSIST,
	    async_on_readable, conn);
	conn->write_ev = event_new(base, conn->sock, EV_WRITE,
	    async_on_writable, conn);
	if (conn->read_ev == NULL || conn->write_ev == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	*out = conn;
	return 0;
fail:
	tunclient_async_free(conn);
	return r;
}

/*
 * Stops all I/O on conn for good.  Closing the socket also makes the
 * kernel close the descriptors of replies not yet received, so devices
 * created for requests nobody waits for any more go away.
 */
static void
async_shut(struct tunclient_async *conn)
{
	conn->dead = true;
	if (conn->read_ev != NULL)
		event_free(conn->read_ev);
	if (conn->write_ev != NULL)
		event_free(conn->write_ev);
	conn->read_ev = conn->write_ev = NULL;
	if (conn->sock >= 0)
		close(conn->sock);
	conn->sock = -1;
}

/* Forgets p, which the caller took out of every list. */
/* Drops what only sending needed: the message and its descriptor. */
static void
pending_sent(struct tunclient_pending *p)
{
	tb_builder_release(&p->msg);
	if (p->netns_fd != -1)
		close(p->netns_fd);
	p->netns_fd = -1;
}

/* Sends p's message with its descriptor, if it has one. */
static int
pending_send(int sock, const struct tunclient_pending *p)
{
	return tb_send(sock, p->msg.buf, p->msg.len, &p->netns_fd,
	    p->netns_fd != -1);
}

static void
pending_destroy(struct tunclient_pending *p)
{
	pending_sent(p);
	free(p);
}

/* Takes p off conn's lists; reading stops once nothing is in flight. */
static void
pending_unlink(struct tunclient_pending *p)
{
	struct tunclient_async *conn = p->conn;

	TAILQ_REMOVE(&conn->pending, p, entry);
	if (--conn->npending == 0 && conn->read_ev != NULL)
		event_del(conn->read_ev);
	if (p->queued) {
		TAILQ_REMOVE(&conn->outq, p, out_entry);
		p->queued = false;
		if (--conn->nqueued == 0 && conn->write_ev != NULL)
			event_del(conn->write_ev);
	}
}

/*
 * Ends p with result: its callback gets lease (or, for a cancelled request,
 * the lease is freed, closing the device).  p is gone before the callback
 * runs, so the callback may do anything with the connection, free it
 * included.
 */
static void
pending_complete(struct tunclient_pending *p, int result,
    struct tunclient_lease *lease, const char *error)
{
	tunclient_lease_cb cb = p->cb;
	void *arg = p->arg;

	pending_unlink(p);
	pending_destroy(p);
	if (cb != NULL)
		cb(result, lease, error, arg);
	else
		tunclient_lease_free(lease);
}

/*
 * Completes every request in list (conn->pending or conn->outq) with
 * err.  Stops early when a callback freed the connection and *freed
 * (NULL inside tunclient_async_free) says so.
 */
static void
async_complete_all(struct pending_list *list, const struct tb_error *err,
    const bool *freed)
{
	struct tunclient_pending *p;

	while ((p = TAILQ_FIRST(list)) != NULL) {
		pending_complete(p, err->code, NULL, err->text);
		if (freed != NULL && *freed)
			return;
	}
}

/* The connection failed: it dies, and every request in flight with it. */
static void
async_fail(struct tunclient_async *conn, const struct tb_error *err,
    const bool *freed)
{
	async_shut(conn);
	async_complete_all(&conn->pending, err, freed);
}

void
tunclient_async_free(struct tunclient_async *conn)
{
	struct tb_error err;

	/* A callback run by this very call may free conn again: a no-op. */
	if (conn == NULL || conn->freeing)
		return;
	conn->freeing = true;
	if (conn->freed != NULL)
		*conn->freed = true;
	async_shut(conn);
	tb_error_set(&err, -ECANCELED,
	    "the connection was closed before the broker answered");
	async_complete_all(&conn->pending, &err, NULL);
	free(conn->buf);
	free(conn);
}

/* Puts p at the end of the queue of requests waiting for room. */
static int
async_enqueue(struct tunclient_async *conn, struct tunclient_pending *p)
{
	if (conn->nqueued == 0 && event_add(conn->write_ev, NULL) != 0)
		return -ENOMEM;
	TAILQ_INSERT_TAIL(&conn->outq, p, out_entry);
	p->queued = true;
	conn->nqueued++;
	return 0;
}

/*
 * Sends p now, or queues it behind those already waiting so that the
 * broker sees requests in the order they were made.  -ECONNRESET once the
 * broker has closed the connection.
 */
static int
async_send_or_queue(struct tunclient_async *conn, struct tunclient_pending *p)
{
	int r;

	if (conn->nqueued > 0)
		return async_enqueue(conn, p);
	r = pending_send(conn->sock, p);
	if (r == -EAGAIN)
		return async_enqueue(conn, p);
	if (r == -EPIPE || r == -ECONNRESET) {
		/* Replies already received stay readable: no async_shut. */
		conn->dead = true;
		return -ECONNRESET;
	}
	if (r == 0)
		pending_sent(p);
	return r;
}

int
tunclient_async_request(struct tunclient_async *conn,
    const struct tunclient_request *req, tunclient_lease_cb cb, void *arg,
    struct tunclient_pending **pending)
{
	struct tunclient_pending *p;
	int r;

	if (pending != NULL)
		*pending = NULL;
	if (cb == NULL)
		return -EINVAL;
	if (conn->freeing)
		return -ESHUTDOWN;
	if (conn->dead)
		return -ECONNRESET;
	if (conn->nqueued >= ASYNC_QUEUE_MAX)
		return -ENOBUFS;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->conn = conn;
	p->cb = cb;
	p->arg = arg;
	p->netns_fd = -1;
	p->seq = conn->next_seq++;
	if (req->netns_fd != -1 &&
	    (p->netns_fd = fcntl(req->netns_fd, F_DUPFD_CLOEXEC, 3)) == -1) {
		r = -errno;
		goto fail;
	}
	if ((r = tb_encode_create(&p->msg, p->seq, &req->spec)) != 0)
		goto fail;
	if (conn->npending == 0 && event_add(conn->read_ev, NULL) != 0) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = async_send_or_queue(conn, p)) != 0) {
		if (conn->npending == 0)
			event_del(conn->read_ev);
		goto fail;
	}
	TAILQ_INSERT_TAIL(&conn->pending, p, entry);
	conn->npending++;
	if (pending != NULL)
		*pending = p;
	return 0;
fail:
	pending_destroy(p);
	return r;
}

void
tunclient_async_cancel(struct tunclient_pending *p)
{
	if (p == NULL)
		return;
	if (p->queued) {
		/* The broker never saw it: nothing will be created. */
		pending_unlink(p);
		pending_destroy(p);
		return;
	}
	/* Its reply still comes; the handler closes what it carries. */
	p->cb = NULL;
	p->arg = NULL;
}

size_t
tunclient_async_in_flight(const struct tunclient_async *conn)
{
	return conn->npending;
}

/* Sends what waits in the queue, in order, until the socket is full. */
static void
async_on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct tunclient_async *conn = arg;
	struct tunclient_pending *p;
	struct tb_error err;
	bool freed = false;
	int r;

	(void)what;
	conn->freed = &freed;
	while ((p = TAILQ_FIRST(&conn->outq)) != NULL) {
		r = pending_send(fd, p);
		if (r == -EAGAIN) {
			event_add(conn->write_ev, NULL);
			break;
		}
		if (r == -EPIPE || r == -ECONNRESET) {
			/*
			 * Those sent may still have replies to read before
			 * the end of the connection; the unsent never will.
			 */
			conn->dead = true;
			tb_error_set(&err, -ECONNRESET, ASYNC_PEER_CLOSED);
			async_complete_all(&conn->outq, &err, &freed);
			break;
		}
		if (r != 0) {
			tb_error_set(&err, r, "sending the request: %s",
			    strerror(-r));
			pending_complete(p, r, NULL, err.text);
			if (freed)
				return;
			continue;
		}
		TAILQ_REMOVE(&conn->outq, p, out_entry);
		p->queued = false;
		conn->nqueued--;
		pending_sent(p);
	}
	if (!freed)
		conn->freed = NULL;
}

/* The request in flight that a reply with sequence number seq answers. */
static struct tunclient_pending *
async_find(struct tunclient_async *conn, uint32_t seq)
{
	struct tunclient_pending *p;

	/* The broker answers in order, so this stops at the first, usually. */
	TAILQ_FOREACH(p, &conn->pending, entry) {
		if (p->queued)
			break;
		if (p->seq == seq)
			return p;
	}
	return NULL;
}

/* Hands p its reply: a lease made of the reply and fds, or the refusal. */
static void
async_deliver(struct tunclient_pending *p, const struct tb_msg *reply,
    int *fds, size_t nfds)
{
	struct tunclient_lease *lease = NULL;
	struct tb_error err = { 0 };
	int r;

	if ((r = client_reply_verdict(reply, TB_MSG_CREATED, &err)) != 0)
		tb_close_fds(fds, nfds);
	else
		r = client_lease_from_created(reply, fds, nfds, &err, &lease);
	pending_complete(p, r, lease, err.text);
}

/*
 * Receives one reply and delivers it.  Returns false when there is
 * nothing more to do in this wakeup: the socket is empty, or the
 * connection failed (everything in flight has then been completed).
 */
static bool
async_receive_one(struct tunclient_async *conn, const bool *freed)
{
	int fds[TB_MSG_MAX_FDS];
	struct tb_error err = { 0 };
	struct tunclient_pending *p;
	struct tb_msg reply;
	size_t nfds;
	ssize_t n;
	int code;

	n = tb_recv(conn->sock, conn->buf, TB_MSG_MAX_SIZE, fds, &nfds, &err);
	if (n == -EAGAIN)
		return false;
	/*
	 * Reported once, before what the broker left queued (its reason for
	 * closing, say); the next read gets that, then the end.
	 */
	if (n == -ECONNRESET)
		return true;
	if (n == 0) {
		tb_error_set(&err, -ECONNRESET, ASYNC_PEER_CLOSED);
	} else if (n < 0 && err.detail == 0) {
		/* err says what the socket reported. */
	} else if (n < 0 || tb_msg_parse(&reply, conn->buf, (size_t)n, nfds,
	    &err) != 0) {
		tb_error_set(&err, -EPROTO, "malformed reply from the broker: %s",
		    err.text);
	} else if (client_refused_connection(&reply, &err, &code)) {
		/* err holds the broker's reason; every request fails with it. */
	} else if ((p = async_find(conn, reply.hdr.seq)) == NULL) {
		tb_error_set(&err, -EPROTO,
		    "the broker answered with sequence number %u, which no "
		    "request in flight has", reply.hdr.seq);
	} else {
		async_deliver(p, &reply, fds, nfds);
		return true;
	}
	tb_close_fds(fds, nfds);
	async_fail(conn, &err, freed);
	return false;
}

/* Handles the replies that have arrived, a bounded number per wakeup. */
static void
async_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct tunclient_async *conn = arg;
	bool freed = false;
	int i;

	(void)fd;
	(void)what;
	/*
	 * A callback may free conn, which then sets freed and is gone; the
	 * pointer to our local never outlives this function.
	 */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
	conn->freed = &freed;
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif
	for (i = 0; i < ASYNC_READ_BUDGET && conn->npending > 0; i++) {
		if (!async_receive_one(conn, &freed) || freed)
			break;
	}
	if (!freed)
		conn->freed = NULL;
}
