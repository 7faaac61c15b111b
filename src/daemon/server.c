#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "codec.h"
#include "fdpass.h"
#include "log.h"
#include "netns.h"
#include "server.h"

/*
 * How long accepting pauses when the process is out of descriptors: the
 * listening socket stays readable, so retrying at once would spin.
 */
#define ACCEPT_PAUSE_MS	100

/*
 * Connections the kernel queues before we accept them.  Kept short on
 * purpose: the queue is first come, first served, so a client that floods
 * it with connect/close makes everyone else wait behind the whole queue.
 * With SOMAXCONN (4096) a well-behaved client waited about 300 ms behind a
 * flood; with 128 it waits a few ms, and a full queue makes connect(2)
 * wait (or fail with EAGAIN when non-blocking) instead.
 */
#define LISTEN_BACKLOG	128

/*
 * RELEASEs of one connection waiting for the kernel at once; at this many
 * the broker reads no more of its requests until one is answered, so a
 * client cannot grow the list.  Enough to keep the closer's batches full.
 */
#define PEER_RELEASES_MAX	256

/*
 * The [limits] are read from s->broker->config each time they are used,
 * never copied: SIGHUP swaps the configuration under a running server.
 *
 * There is no separate limit on the time a client may take to send a
 * complete message: on SOCK_SEQPACKET the kernel delivers a message whole
 * or not at all, so a client that "sends half a message and stalls" has
 * sent nothing, and the idle timeout is what closes its connection.
 */
static const struct broker_limits *
server_limits(const struct server *s)
{
	return &s->broker->config.limits;
}

struct peer {
	LIST_ENTRY(peer) entry;
	struct server *server;
	int fd;
	struct event *ev;
	struct event *idle_ev;
	unsigned idle_s;	/* the timeout idle_ev was armed with */
	unsigned releases;	/* its entries in server->releases */
	bool reading;		/* ev is armed */
	bool netns_read;	/* who.netns was looked up */
	struct peer_identity who;
};

static void
peer_free(struct peer *p)
{
	struct pending_release *r, *next;

	/* The deletions go on; nobody is left to tell. */
	for (r = TAILQ_FIRST(&p->server->releases); r != NULL &&
	    p->releases > 0; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->peer == p) {
			TAILQ_REMOVE(&p->server->releases, r, entry);
			p->releases--;
			free(r);
		}
	}
	LIST_REMOVE(p, entry);
	p->server->npeers--;
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->idle_ev != NULL)
		event_free(p->idle_ev);
	close(p->fd);
	free(p->who.groups);
	free(p);
}

/* Reads the client's identity from the kernel: SO_PEERCRED, SO_PEERGROUPS. */
static int
peer_identify(int fd, struct peer_identity *who)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t *groups = NULL, *grown;
	size_t cap = 16;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	who->pid = cred.pid;
	who->uid = cred.uid;
	who->gid = cred.gid;
	for (;;) {
		if ((grown = realloc(groups, cap * sizeof(gid_t))) == NULL) {
			free(groups);
			return -ENOMEM;
		}
		groups = grown;
		len = (socklen_t)(cap * sizeof(gid_t));
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups,
		    &len) == 0)
			break;
		/* ERANGE tells the size needed in len. */
		if (errno != ERANGE || len / sizeof(gid_t) <= cap) {
			int r = -errno;

			free(groups);
			return r;
		}
		cap = len / sizeof(gid_t);
	}
	who->groups = groups;
	who->ngroups = len / sizeof(gid_t);
	return 0;
}

/*
 * (Re)starts p's idle timer with the idle-timeout in force now; 0 there
 * means no timeout.
 */
static int
peer_arm_idle_timer(struct peer *p)
{
	struct timeval tv = { .tv_sec = 0 };

	p->idle_s = server_limits(p->server)->idle_timeout_s;
	if (p->idle_s == 0)
		return event_del(p->idle_ev);
	tv.tv_sec = (time_t)p->idle_s;
	return event_add(p->idle_ev, &tv);
}

static void
peer_idle(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;

	(void)fd;
	(void)what;
	log_debug("uid=%u pid=%d silent for %u s, the [limits] idle-timeout; "
	    "disconnecting", (unsigned)p->who.uid, (int)p->who.pid, p->idle_s);
	peer_free(p);
}

/* Sends reply to p; false if p must be dropped (it is not reading). */
static bool
peer_send(struct peer *p, struct reply *reply)
{
	int r;

	if (reply->msg.buf == NULL)
		return false;
	/*
	 * Never wait for a client: a reply that finds its socket full means
	 * the client is not reading what it asked for, and we drop it rather
	 * than queue replies for it.
	 */
	r = tb_send(p->fd, reply->msg.buf, reply->msg.len, reply->fds,
	    reply->nfds);
	if (r == -EAGAIN) {
		log_warn("uid=%u pid=%d does not read its replies (its socket "
		    "is full); disconnecting", (unsigned)p->who.uid,
		    (int)p->who.pid);
		return false;
	}
	if (r != 0) {
		log_warn("uid=%u pid=%d: sending reply: %s; disconnecting",
		    (unsigned)p->who.uid, (int)p->who.pid, strerror(-r));
		return false;
	}
	dispatch_reply_sent(&p->who, reply);
	return true;
}

/*
 * The reply to a message of len bytes, over the [limits] message-size
 * limit: a TOO_BIG error that echoes its sequence number if it has one.
 */
static void
peer_too_big(struct peer *p, size_t len, unsigned limit, struct reply *reply)
{
	struct tb_error err, ignored;
	struct tb_msg msg;

	/* Parsed only for the header: the message is refused regardless. */
	(void)tb_msg_parse(&msg, p->server->buf, len, 0, &ignored);
	tb_error_set_detail(&err, -EMSGSIZE, TB_DECODE_TOO_BIG,
	    "message of %zu bytes is over the %u bytes [limits] message-size "
	    "allows", len, limit);
	dispatch_malformed(&p->who, &msg, &err, reply);
}

static bool peer_wait_release(struct peer *, uint32_t,
    const struct reply *);

/* Reads and answers one message; libevent calls again while more wait. */
static void
peer_read(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	struct server *s = p->server;
	int fds[TB_MSG_MAX_FDS];
	struct reply reply;
	struct tb_error err = { 0 };
	struct tb_msg msg;
	unsigned limit;
	size_t nfds;
	ssize_t n;
	bool keep;

	(void)what;
	/* Room for any message, so that one over the limit is seen whole. */
	n = tb_recv(fd, s->buf, TB_MSG_MAX_SIZE, fds, &nfds, &err);
	if (n == -EAGAIN)
		return;
	if (n == 0 || (n < 0 && err.detail == 0)) {
		log_debug("uid=%u pid=%d disconnected%s%s",
		    (unsigned)p->who.uid, (int)p->who.pid,
		    n < 0 ? ": " : "", n < 0 ? err.text : "");
		peer_free(p);
		return;
	}
	if (peer_arm_idle_timer(p) != 0) {
		log_warn("uid=%u pid=%d: cannot restart the idle timer; "
		    "disconnecting", (unsigned)p->who.uid, (int)p->who.pid);
		tb_close_fds(fds, nfds);
		peer_free(p);
		return;
	}
	/*
	 * Only a request naming a namespace carries a descriptor: the
	 * connection's own namespace is read for the first such, rather than
	 * for every connection.  Without it only the namespace's owner can
	 * vouch for a netns.
	 */
	if (nfds > 0 && !p->netns_read) {
		p->who.has_netns = netns_of_socket(fd, &p->who.netns) == 0;
		p->netns_read = true;
	}
	limit = server_limits(s)->message_size;
	if (n < 0) {
		memset(&msg, 0, sizeof(msg));
		dispatch_malformed(&p->who, &msg, &err, &reply);
	} else if ((size_t)n > limit) {
		peer_too_big(p, (size_t)n, limit, &reply);
	} else if (tb_msg_parse(&msg, s->buf, (size_t)n, nfds, &err) != 0) {
		dispatch_malformed(&p->who, &msg, &err, &reply);
	} else {
		dispatch_message(s->broker, &p->who, &msg, fds, &reply);
	}
	/* Requests carry no descriptors we keep. */
	tb_close_fds(fds, nfds);
	if (reply.release_ifindex != 0) {
		keep = peer_wait_release(p, msg.hdr.seq, &reply);
	} else {
		keep = peer_send(p, &reply) && !reply.close_connection;
		reply_release(&reply);
	}
	if (!keep)
		peer_free(p);
}

/*
 * Keeps the RELEASE with sequence number seq until the closer reports its
 * deletion; false if p must be dropped.
 */
static bool
peer_wait_release(struct peer *p, uint32_t seq, const struct reply *reply)
{
	struct pending_release *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("uid=%u pid=%d: out of memory for a release; "
		    "disconnecting", (unsigned)p->who.uid, (int)p->who.pid);
		return false;
	}
	r->peer = p;
	r->seq = seq;
	r->ifindex = reply->release_ifindex;
	memcpy(r->name, reply->release_name, sizeof(r->name));
	TAILQ_INSERT_TAIL(&p->server->releases, r, entry);
	/* At the bound, its next requests wait in its own socket. */
	if (++p->releases >= PEER_RELEASES_MAX && p->reading) {
		if (event_del(p->ev) != 0)
			return false;
		p->reading = false;
	}
	return true;
}

void
server_release_done(unsigned ifindex, int result, void *arg)
{
	struct server *s = arg;
	struct pending_release *r, *next;
	struct reply reply;
	struct peer *p;

	for (r = TAILQ_FIRST(&s->releases); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->ifindex != ifindex)
			continue;
		TAILQ_REMOVE(&s->releases, r, entry);
		p = r->peer;
		p->releases--;
		dispatch_release_done(s->broker, &p->who, r->seq, r->name,
		    ifindex, result, &reply);
		free(r);
		if (!peer_send(p, &reply) || reply.close_connection) {
			reply_release(&reply);
			/* next may be p's: start over, p's entries gone. */
			peer_free(p);
			next = TAILQ_FIRST(&s->releases);
			continue;
		}
		reply_release(&reply);
		if (!p->reading && p->releases < PEER_RELEASES_MAX) {
			if (event_add(p->ev, NULL) != 0) {
				peer_free(p);
				next = TAILQ_FIRST(&s->releases);
				continue;
			}
			p->reading = true;
		}
	}
}

/*
 * Decides whether who may hold one more connection under the [limits] in
 * force; -EUSERS with a sentence naming the limit if not.
 */
static int
server_admit(const struct server *s, const struct peer_identity *who,
    struct tb_error *err)
{
	const struct broker_limits *limits = server_limits(s);
	const struct peer *p;
	unsigned same_uid = 0;

	if (s->npeers >= limits->connections)
		return tb_error_set(err, -EUSERS,
		    "the broker already has %u connection%s, the most [limits] "
		    "connections allows; uid %u must wait", s->npeers,
		    s->npeers == 1 ? "" : "s", (unsigned)who->uid);
	LIST_FOREACH(p, &s->peers, entry) {
		if (p->who.uid == who->uid)
			same_uid++;
	}
	if (same_uid >= limits->connections_per_user)
		return tb_error_set(err, -EUSERS,
		    "uid %u already has %u connection%s, the most [limits] "
		    "connections-per-user allows", (unsigned)who->uid,
		    same_uid, same_uid == 1 ? "" : "s");
	return 0;
}

/*
 * Tells a client over a connection limit why, then closes fd.  The ERROR
 * has sequence number 0: the client has asked nothing yet.  The socket is
 * fresh, so the one short message fits; if it does not, the client only
 * loses the sentence.
 */
static void
server_refuse(int fd, const struct peer_identity *who,
    const struct tb_error *err)
{
	struct tb_builder msg;

	log_info("refuse uid=%u pid=%d connection: %s", (unsigned)who->uid,
	    (int)who->pid, err->text);
	if (tb_encode_error(&msg, 0, err) == 0)
		(void)tb_send(fd, msg.buf, msg.len, NULL, 0);
	tb_builder_release(&msg);
	close(fd);
}

/* Out of descriptors: stop accepting for a moment instead of spinning. */
static void
server_pause_accepting(struct server *s)
{
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };

	if (event_del(s->listen_ev) != 0 ||
	    evtimer_add(s->accept_pause_ev, &tv) != 0)
		log_error("cannot pause accepting connections");
}

static void
server_resume_accepting(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	(void)fd;
	(void)what;
	if (event_add(s->listen_ev, NULL) != 0)
		log_error("cannot resume accepting connections");
}

static void
server_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct server *s = arg;
	struct peer_identity who = { .groups = NULL };
	struct tb_error err;
	struct peer *p;
	int fd, r;

	(void)what;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			log_warn("accepting a connection: %s; pausing %d ms",
			    strerror(errno), ACCEPT_PAUSE_MS);
			server_pause_accepting(s);
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED) {
			log_warn("accepting a connection: %s",
			    strerror(errno));
		}
		return;
	}
	if ((r = peer_identify(fd, &who)) != 0) {
		log_warn("identifying a client: %s", strerror(-r));
		close(fd);
		return;
	}
	if (server_admit(s, &who, &err) != 0) {
		server_refuse(fd, &who, &err);
		free(who.groups);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("accepting a connection: out of memory");
		free(who.groups);
		close(fd);
		return;
	}
	p->fd = fd;
	p->server = s;
	p->who = who;
	LIST_INSERT_HEAD(&s->peers, p, entry);
	s->npeers++;
	p->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, peer_read, p);
	p->idle_ev = evtimer_new(s->base, peer_idle, p);
	p->reading = p->ev != NULL && event_add(p->ev, NULL) == 0;
	if (!p->reading || p->idle_ev == NULL || peer_arm_idle_timer(p) != 0) {
		log_warn("uid=%u pid=%d: cannot watch the connection",
		    (unsigned)p->who.uid, (int)p->who.pid);
		peer_free(p);
		return;
	}
	log_debug("uid=%u gid=%u pid=%d connected", (unsigned)p->who.uid,
	    (unsigned)p->who.gid, (int)p->who.pid);
	/*
	 * A client sends its request as soon as it has connected: read it
	 * now rather than after another turn of the loop.  (p may be gone
	 * after this.)
	 */
	peer_read(fd, EV_READ, p);
}

/* Creates each missing directory above path with mode 0755. */
static int
make_parents(const char *path, struct tb_error *err)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	for (slash = strchr(dir + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0) {
			/* The umask must not make it unreachable for clients. */
			if (chmod(dir, 0755) < 0)
				return tb_error_set(err, -errno,
				    "setting the mode of %s: %s", dir,
				    strerror(errno));
		} else if (errno != EEXIST) {
			return tb_error_set(err, -errno, "creating %s: %s",
			    dir, strerror(errno));
		}
		*slash = '/';
	}
	return 0;
}

/*
 * Removes a socket left by a broker that is gone; refuses when one still
 * listens there or when path is something other than a socket.
 */
static int
remove_stale_socket(const struct sockaddr_un *sun, struct tb_error *err)
{
	struct stat st;
	int fd, r;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : tb_error_set(err, -errno,
		    "examining %s: %s", sun->sun_path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return tb_error_set(err, -EEXIST,
		    "%s exists and is not a socket; not replacing it",
		    sun->sun_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return tb_error_set(err, -errno, "socket: %s", strerror(errno));
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (r == 0)
		return tb_error_set(err, -EADDRINUSE,
		    "another broker is listening on %s", sun->sun_path);
	if (errno != ECONNREFUSED)
		return tb_error_set(err, -errno,
		    "probing the existing socket %s: %s", sun->sun_path,
		    strerror(errno));
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return tb_error_set(err, -errno, "removing stale socket %s: %s",
		    sun->sun_path, strerror(errno));
	log_info("removed stale socket %s", sun->sun_path);
	return 0;
}

/* Binds fd to sun with the configured mode and group, never wider. */
static int
bind_socket(int fd, const struct sockaddr_un *sun,
    const struct broker_config *cfg, struct stat *st, struct tb_error *err)
{
	mode_t old_umask;
	int r;

	/* Born private; opened to its final mode only once it is ours. */
	old_umask = umask(0177);
	r = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
	umask(old_umask);
	if (r < 0)
		return tb_error_set(err, -errno, "binding %s: %s",
		    sun->sun_path, strerror(errno));
	if (lstat(sun->sun_path, st) < 0)
		return tb_error_set(err, -errno, "examining %s: %s",
		    sun->sun_path, strerror(errno));
	if (cfg->has_socket_group &&
	    chown(sun->sun_path, (uid_t)-1, cfg->socket_group) < 0)
		return tb_error_set(err, -errno,
		    "setting group %u on %s: %s", (unsigned)cfg->socket_group,
		    sun->sun_path, strerror(errno));
	if (chmod(sun->sun_path, cfg->socket_mode) < 0)
		return tb_error_set(err, -errno, "setting mode %04o on %s: %s",
		    (unsigned)cfg->socket_mode, sun->sun_path, strerror(errno));
	return 0;
}

/*
 * Takes the socket systemd passed, if any: 1 if s now listens on it, 0 if
 * the broker was not socket-activated, or a negative errno when what was
 * passed is not exactly one listening AF_UNIX SOCK_SEQPACKET socket.
 */
static int
adopt_activated_socket(struct server *s, struct tb_error *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(sun);
	int n, fd = SD_LISTEN_FDS_START, r, flags;

	/* Unsets LISTEN_FDS and friends: they are not for our children. */
	n = sd_listen_fds(1);
	if (n < 0)
		return tb_error_set(err, n, "reading the sockets passed by the "
		    "service manager (LISTEN_FDS): %s", strerror(-n));
	if (n == 0)
		return 0;
	if (n != 1)
		return tb_error_set(err, -EINVAL, "the service manager passed "
		    "%d sockets; tunbrokerd listens on exactly one", n);
	r = sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0);
	if (r < 0)
		return tb_error_set(err, r, "examining the socket passed by "
		    "the service manager: %s", strerror(-r));
	if (r == 0)
		return tb_error_set(err, -EINVAL, "the socket passed by the "
		    "service manager is not a listening AF_UNIX SOCK_SEQPACKET "
		    "socket (ListenSequentialPacket= in the .socket unit)");
	if ((flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return tb_error_set(err, -errno, "setting up the socket passed "
		    "by the service manager: %s", strerror(errno));
	if (getsockname(fd, (struct sockaddr *)&sun, &len) < 0)
		return tb_error_set(err, -errno, "examining the socket passed "
		    "by the service manager: %s", strerror(errno));
	if (len <= offsetof(struct sockaddr_un, sun_path) ||
	    sun.sun_path[0] == '\0')
		snprintf(sun.sun_path, sizeof(sun.sun_path), "(abstract or "
		    "unnamed)");
	sun.sun_path[sizeof(sun.sun_path) - 1] = '\0';
	if ((s->path = strdup(sun.sun_path)) == NULL)
		return tb_error_set(err, -ENOMEM, "out of memory");
	s->listen_fd = fd;
	s->activated = true;
	return 1;
}

int
server_open(struct server *s, struct event_base *base, struct broker *b,
    const char *path, struct tb_error *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int r;

	memset(s, 0, sizeof(*s));
	s->listen_fd = -1;
	s->base = base;
	s->broker = b;
	LIST_INIT(&s->peers);
	TAILQ_INIT(&s->releases);
	if ((s->buf = malloc(TB_MSG_MAX_SIZE)) == NULL) {
		r = tb_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = adopt_activated_socket(s, err)) < 0)
		goto fail;
	if (r > 0) {
		if (strcmp(s->path, path) != 0)
			log_warn("the service manager passed a socket on %s, "
			    "not on %s; listening on it", s->path, path);
		log_info("socket-activated: listening on %s, passed by the "
		    "service manager", s->path);
		goto watch;
	}
	if (path[0] != '/' || strlen(path) >= sizeof(sun.sun_path)) {
		r = tb_error_set(err, -EINVAL,
		    "socket path \"%s\" must be absolute and under %zu bytes",
		    path, sizeof(sun.sun_path));
		goto fail;
	}
	strcpy(sun.sun_path, path);
	if ((s->path = strdup(path)) == NULL) {
		r = tb_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = make_parents(path, err)) != 0 ||
	    (r = remove_stale_socket(&sun, err)) != 0)
		goto fail;
	s->listen_fd = socket(AF_UNIX,
	    SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		r = tb_error_set(err, -errno, "socket: %s", strerror(errno));
		goto fail;
	}
	if ((r = bind_socket(s->listen_fd, &sun, &b->config, &st, err)) != 0)
		goto fail_unlink;
	s->sock_dev = st.st_dev;
	s->sock_ino = st.st_ino;
	if (listen(s->listen_fd, LISTEN_BACKLOG) < 0) {
		r = tb_error_set(err, -errno, "listening on %s: %s", path,
		    strerror(errno));
		goto fail_unlink;
	}
watch:
	s->listen_ev = event_new(base, s->listen_fd, EV_READ | EV_PERSIST,
	    server_accept, s);
	s->accept_pause_ev = evtimer_new(base, server_resume_accepting, s);
	if (s->listen_ev == NULL || s->accept_pause_ev == NULL ||
	    event_add(s->listen_ev, NULL) != 0) {
		r = tb_error_set(err, -ENOMEM, "watching %s", s->path);
		goto fail_unlink;
	}
	return 0;
fail_unlink:
	if (!s->activated)
		unlink(path);
fail:
	server_close(s);
	return r;
}

/* Unlinks the socket file if it is still the one we bound. */
static void
remove_own_socket(struct server *s)
{
	struct stat st;

	if (s->path == NULL || s->activated || s->sock_ino == 0)
		return;
	if (lstat(s->path, &st) == 0 && st.st_dev == s->sock_dev &&
	    st.st_ino == s->sock_ino)
		unlink(s->path);
}

void
server_close(struct server *s)
{
	while (!LIST_EMPTY(&s->peers))
		peer_free(LIST_FIRST(&s->peers));
	if (s->listen_ev != NULL)
		event_free(s->listen_ev);
	if (s->accept_pause_ev != NULL)
		event_free(s->accept_pause_ev);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	remove_own_socket(s);
	free(s->path);
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->listen_fd = -1;
	TAILQ_INIT(&s->releases);
}
