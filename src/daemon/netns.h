/*
 * Network namespaces clients name: what identifies one, and whether a
 * client may have a device placed in the one it sent.
 */
#ifndef TUNBROKER_NETNS_H
#define TUNBROKER_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "policy.h"

/* The network namespace of the calling process; 0 or a negative errno. */
int netns_self(struct netns_id *id);

/*
 * The network namespace a socket belongs to (SIOCGSKNS, which needs
 * CAP_NET_ADMIN over it).  For a connection accepted on a Unix socket that
 * is the namespace the client was in when it made its socket.  Returns 0
 * or a negative errno.
 */
int netns_of_socket(int sock, struct netns_id *id);

/*
 * Decides whether client who may have a device placed in the network
 * namespace fd (borrowed) names.  fd must be an nsfs file of a network
 * namespace (not O_PATH).  The client may use it when the user namespace
 * owning it belongs to who->uid (NS_GET_USERNS, NS_GET_OWNER_UID), or when
 * it is the namespace of the client's connection (who->netns; no process
 * id is involved, so a recycled pid cannot fool it).  The broker's own
 * namespace home is always allowed, and *is_home tells the caller to treat
 * the request as one without a namespace.
 *
 * Returns 0 with *id set; -EBADF (not a namespace, or not a network one),
 * or -EPERM (someone else's), with a sentence starting "netns:".
 */
int netns_check(int fd, const struct peer_identity *who,
    const struct netns_id *home, struct netns_id *id, bool *is_home,
    struct tb_error *err);

/*
 * The id the broker's namespace knows the namespace fd by, assigning one
 * (RTM_NEWNSID) if it has none: link events from that namespace reach
 * the link watch tagged with it (NETLINK_LISTEN_ALL_NSID), and
 * IFLA_TARGET_NETNSID names it in requests.  The id lasts as long as the
 * namespace.  Returns 0 with *nsid >= 0, or a negative errno.
 */
int netns_nsid(int fd, int *nsid, struct tb_error *err);

/*
 * The id the broker's namespace gives itself, if someone gave it one
 * (-1 otherwise): events and dumps tagged with it are the broker's own.
 */
int netns_self_nsid(int *nsid);

/*
 * Every id the broker's namespace has given another namespace (an
 * RTM_GETNSID dump): *ids is an array of *n of them, for the caller to
 * free.  0 or a negative errno.
 */
int netns_list_nsids(int **ids, size_t *n, struct tb_error *err);

#endif /* TUNBROKER_NETNS_H */
