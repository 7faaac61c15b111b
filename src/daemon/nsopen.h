/*
 * The namespace helper: a small process, forked before the broker drops
 * its privileges, that opens /dev/net/tun and a rtnetlink socket inside a
 * client's network namespace and hands them to the broker.
 *
 * Why it exists: a TUN device is created in the namespace of the process
 * that opened /dev/net/tun, and addresses and routes can only be set over
 * a rtnetlink socket that lives in the device's namespace (moving a device
 * with IFLA_NET_NS_FD flushes its addresses, and RTM_NEWADDR/RTM_NEWROUTE
 * name no namespace).  Getting such descriptors takes setns(2), so
 * CAP_SYS_ADMIN, which the broker itself must not keep.  The helper keeps
 * CAP_SYS_ADMIN for setns(2) and CAP_NET_ADMIN, because rtnetlink checks
 * the capabilities of whoever opened the socket; it reads nothing but one
 * fixed-size request from the broker (never from a client), over a
 * SOCK_SEQPACKET socketpair, and exits when the broker's end closes.  The
 * broker validates the namespace (netns.h) before it asks.  The link
 * watch uses it too, to probe whether anyone still holds a device it
 * placed in a client's namespace.
 */
#ifndef TUNBROKER_NSOPEN_H
#define TUNBROKER_NSOPEN_H

#include <sys/types.h>

#include "error.h"

/* The broker's end of the helper. */
struct nsopen;

/*
 * Forks the helper.  Call it once, before privs_drop() and before any
 * thread starts: the child closes every descriptor but its end of the
 * socketpair and stderr, keeps only CAP_SYS_ADMIN and CAP_NET_ADMIN, sets
 * no_new_privs and serves until the broker's end closes (or the broker
 * dies: PR_SET_PDEATHSIG).  Returns 0 with *out set, or a negative errno
 * with a sentence in err and *out NULL (-EPERM: the process lacks
 * CAP_SYS_ADMIN, so namespaces cannot be served).
 */
int nsopen_start(struct nsopen **out, struct tb_error *err);

/*
 * Opens, inside the network namespace netns_fd (borrowed; the caller has
 * validated it), queues descriptors of /dev/net/tun (O_RDWR|O_CLOEXEC) into
 * tun_fds and one NETLINK_ROUTE socket (SOCK_CLOEXEC, not bound) into
 * *nl_fd.  queues is 1 to TB_MAX_QUEUES.  The descriptors are the
 * caller's.  Returns 0, or a negative errno with a sentence in err and
 * nothing open (-EPIPE: the helper is gone).
 */
int nsopen_open(struct nsopen *h, int netns_fd, unsigned queues,
    int *tun_fds, int *nl_fd, struct tb_error *err);

/* Closes the broker's end and reaps the helper; NULL is fine. */
void nsopen_stop(struct nsopen *h);

/* The helper's process id, for tests and logs. */
pid_t nsopen_pid(const struct nsopen *h);

#endif /* TUNBROKER_NSOPEN_H */
