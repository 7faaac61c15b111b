/*
 * Configuring links over rtnetlink: one synchronous request, one
 * acknowledgement.  Every function returns 0 or a negative errno and, on
 * failure, a sentence in err naming the step and its values, followed by
 * the kernel's own explanation (extended ack) when it gave one.
 */
#ifndef TUNBROKER_NETLINK_H
#define TUNBROKER_NETLINK_H

#include "error.h"
#include "protocol.h"

/* One NETLINK_ROUTE socket in the namespace of the caller at open time. */
struct netlink;

/* Opens a handle; *out is NULL on failure.  The socket is SOCK_CLOEXEC. */
int netlink_open(struct netlink **out, struct tb_error *err);

/* Closes nl; NULL is fine. */
void netlink_close(struct netlink *nl);

/*
 * Adds an address to the link ifindex.
 *
 * Without peer, addr is the local address and its prefix ("198.18.0.1/24"
 * gives the device the route to 198.18.0.0/24).
 *
 * With peer, the link is point-to-point: IFA_LOCAL is addr, IFA_ADDRESS is
 * peer, and the prefix length is peer's; addr's own prefix length is
 * ignored.  So addr 198.18.0.1/24 with peer 198.18.0.2/32 is
 * `ip addr add 198.18.0.1 peer 198.18.0.2/32`: the kernel routes just the
 * peer through the device, and 198.18.0.3 stays unreachable.  A peer with a
 * shorter prefix (198.18.0.2/24) routes the peer's whole network through
 * the device.  A peer of another family than addr is -EINVAL.
 *
 * IPv6 addresses get IFA_F_NODAD, so they are usable at once instead of
 * "tentative" for a second.  An address that is already there is -EEXIST.
 *
 * Add addresses after netlink_set_up().  Linux (seen on 6.18) replaces
 * the route to an IPv6 peer with one to the local address whenever the
 * link (re)gains its carrier, even after an up, from a delayed link event;
 * so an IPv6 peer's address goes in with IFA_F_NOPREFIXROUTE and its route
 * is added explicitly, which that event leaves alone.
 */
int netlink_add_address(struct netlink *nl, unsigned ifindex,
    const struct tb_addr *addr, const struct tb_addr *peer,
    struct tb_error *err);

/* Sets the MTU of ifindex; the kernel refuses one outside the device's range. */
int netlink_set_mtu(struct netlink *nl, unsigned ifindex, unsigned mtu,
    struct tb_error *err);

/* Sets ifindex administratively up (IFF_UP). */
int netlink_set_up(struct netlink *nl, unsigned ifindex,
    struct tb_error *err);

/* Deletes the link ifindex (RTM_DELLINK), whoever holds its queue fds. */
int netlink_delete_link(struct netlink *nl, unsigned ifindex,
    struct tb_error *err);

#endif /* TUNBROKER_NETLINK_H */
