/*
 * The listening socket and the connected clients: accept, identify each
 * peer from the kernel, read one message at a time, hand it to dispatch and
 * send the reply with its descriptors.
 *
 * The server never blocks on a client and holds nothing a client can grow:
 * every socket is non-blocking, a request is answered before the next one
 * is read (except a RELEASE, whose answer waits for the kernel while the
 * connection's next requests are served, up to PEER_RELEASES_MAX of them
 * at once), a reply that does not fit in the client's socket drops the
 * client, and the [limits] of the configuration in force bound the number
 * of connections, their idle time and the size of a request.
 */
#ifndef TUNBROKER_SERVER_H
#define TUNBROKER_SERVER_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>

#include "dispatch.h"

struct peer;

/* A RELEASE whose reply waits for the kernel to delete the link. */
struct pending_release {
	TAILQ_ENTRY(pending_release) entry;
	struct peer *peer;
	uint32_t seq;
	unsigned ifindex;
	char name[TB_IFNAME_MAX];
};

struct server {
	struct event_base *base;
	struct broker *broker;
	char *path;
	int listen_fd;
	struct event *listen_ev;
	bool activated;		/* listen_fd came from the service manager */
	dev_t sock_dev;		/* the socket file we made, so that we */
	ino_t sock_ino;		/* never unlink someone else's */
	struct event *accept_pause_ev;	/* resumes accepting after EMFILE */
	LIST_HEAD(peer_list, peer) peers;
	unsigned npeers;
	TAILQ_HEAD(, pending_release) releases;	/* oldest first */
	uint8_t *buf;		/* TB_MSG_MAX_SIZE bytes for requests */
};

/*
 * Listens on the socket the service manager passed (socket activation,
 * sd_listen_fds(3)): exactly one listening AF_UNIX SOCK_SEQPACKET socket,
 * which is used as it is, wherever it is bound, and never removed; any
 * other passed descriptor is a start-up error.  Without one, binds and
 * listens on path with the mode and group of b's configuration: creates
 * missing parent directories (mode 0755), replaces a stale socket only if
 * nothing listens on it, and refuses (-EADDRINUSE) when a broker does.
 * s->path is the path listened on either way.  Returns 0 or a negative
 * errno with a sentence in err.
 */
int server_open(struct server *s, struct event_base *base, struct broker *b,
    const char *path, struct tb_error *err);

/*
 * Disconnects every client, stops listening and removes the socket unless
 * it came from socket activation.
 */
void server_close(struct server *s);

/*
 * The closer's report that the deletion of ifindex ended with result
 * (a closer_done_cb, arg the server): answers every RELEASE waiting for
 * it.
 */
void server_release_done(unsigned ifindex, int result, void *arg);

#endif /* TUNBROKER_SERVER_H */
