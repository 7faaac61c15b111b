/*
 * Configuring links over rtnetlink: one synchronous request, one
 * acknowledgement.  Every function returns 0 or a negative errno and, on
 * failure, a sentence in err naming the step and its values, followed by
 * the kernel's own explanation (extended ack) when it gave one.
 */
#ifndef TUNBROKER_NETLINK_H
#define TUNBROKER_NETLINK_H

#include <stdbool.h>

#include <linux/netlink.h>

#include "error.h"
#include "protocol.h"

/* The kernel's bound on an interface alias, NUL included (IFALIASZ). */
#define TB_IFALIAS_MAX	256

/* One NETLINK_ROUTE socket in the namespace of the caller at open time. */
struct netlink;
struct netlink_link;

/* Opens a handle; *out is NULL on failure.  The socket is SOCK_CLOEXEC. */
int netlink_open(struct netlink **out, struct tb_error *err);

/*
 * Makes a handle of fd, a NETLINK_ROUTE socket that is not bound yet: one
 * the namespace helper (nsopen.h) opened inside a client's namespace, so
 * that every request on the handle acts there.  The handle owns fd from
 * the call on, even on failure.
 */
int netlink_open_fd(int fd, struct netlink **out, struct tb_error *err);

/* Closes nl; NULL is fine. */
void netlink_close(struct netlink *nl);

/*
 * Between these two, the requests that change things (configure, add an
 * address or a route, delete) are not sent one by one: they go to the
 * kernel in as few writes as fit, which handles them in order, and
 * netlink_batch_end() waits until the kernel has handled them all and
 * returns the first failure, naming its step.  Only the last request of
 * each write asks for an ack; the kernel reports a failure without being
 * asked.  Each call inside the batch returns 0 unless sending a full batch
 * failed.  Reads (netlink_get_link...) are not batched, except the one
 * netlink_batch_end_link() ends a batch with.
 */
void netlink_batch_begin(struct netlink *nl);
int netlink_batch_end(struct netlink *nl, struct tb_error *err);

/*
 * netlink_batch_end() with an RTM_GETLINK of ifindex as the batch's last
 * request, in the same write: *link is the link as the kernel has it once
 * the batch is done.  Returns 0 or the first failure, as
 * netlink_batch_end().
 */
int netlink_batch_end_link(struct netlink *nl, unsigned ifindex,
    struct netlink_link *link, struct tb_error *err);

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
 * "tentative" for a second.  (The kernel still adds such an address's
 * local route from its address work, a moment after the ack: until then a
 * packet to the address arriving through the device is dropped.)  An
 * address that is already there is -EEXIST.
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

/*
 * What netlink_configure_link() sets on a link, in one RTM_NEWLINK.
 * Zero, NULL and false leave a setting as it is.
 */
struct netlink_link_config {
	const char *alias;		/* IFLA_IFALIAS */
	unsigned mtu;
	unsigned txqueuelen;
	const uint8_t *mac;		/* TB_MAC_LEN bytes: an Ethernet address */
	unsigned master;		/* ifindex of a bridge to join */
	bool no_ipv6_link_local;	/* IPv6 address generation mode none */
	bool up;			/* IFF_UP */
};

/*
 * Applies cfg to ifindex in one request, so a device is configured in one
 * round trip: the kernel applies the address, MTU, master, flags, queue
 * length and alias in that order and undoes none if a later one fails
 * (the caller deletes the device then).
 */
int netlink_configure_link(struct netlink *nl, unsigned ifindex,
    const struct netlink_link_config *cfg, struct tb_error *err);

/*
 * Adds a route to route->dst through ifindex (no gateway: the device is
 * the next hop), with route->metric as its priority (0: the kernel's
 * default).  It goes with the device.  Host bits in dst are -EINVAL.
 */
int netlink_add_route(struct netlink *nl, unsigned ifindex,
    const struct tb_route *route, struct tb_error *err);

/* Deletes the link ifindex (RTM_DELLINK), whoever holds its queue fds. */
int netlink_delete_link(struct netlink *nl, unsigned ifindex,
    struct tb_error *err);

/* What the broker needs to know of a link from an RTM_NEWLINK message. */
struct netlink_link {
	unsigned ifindex;
	char name[TB_IFNAME_MAX];
	char alias[TB_IFALIAS_MAX];	/* "" without one */
	char kind[16];			/* IFLA_INFO_KIND: "tun", "bridge"... */
	unsigned mtu;
	unsigned txqueuelen;
	unsigned master;		/* IFLA_MASTER: 0 without one */
	bool up;			/* IFF_UP */
	bool has_mac;
	uint8_t mac[TB_MAC_LEN];	/* IFLA_ADDRESS, when 6 bytes */
	bool has_carrier;		/* IFLA_CARRIER was there */
	bool carrier;
	bool is_tun;			/* IFLA_INFO_KIND "tun" (TUN or TAP) */
	int tun_type;			/* IFF_TUN or IFF_TAP */
	bool persistent;		/* TUNSETPERSIST */
	/* Queue counts: the kernel reports them for multi-queue devices only. */
	bool has_queues;
	unsigned queues;		/* attached queues */
	unsigned disabled_queues;	/* held but detached (TUNSETQUEUE) */
	bool has_owner;			/* IFLA_TUN_OWNER: a TUN with an owner */
	uint32_t owner;			/* as the reader's user namespace sees it */
};

/*
 * Reads an RTM_NEWLINK or RTM_DELLINK message into *link; -EBADMSG if it
 * is not one or is malformed.
 */
int netlink_parse_link(const struct nlmsghdr *msg, struct netlink_link *link);

/*
 * Dumps every link of the namespace (RTM_GETLINK) and calls fn for each;
 * fn returning non-zero stops the dump with that value (the rest of the
 * dump is still read, so the socket stays usable).
 */
int netlink_dump_links(struct netlink *nl,
    int (*fn)(const struct netlink_link *link, void *arg), void *arg,
    struct tb_error *err);

/*
 * netlink_dump_links() of the namespace the broker's namespace knows by
 * nsid (IFLA_TARGET_NETNSID), for a handle opened with CAP_NET_ADMIN over
 * it; a dump the broker makes shows owners as its own uids.
 */
int netlink_dump_links_ns(struct netlink *nl, int nsid,
    int (*fn)(const struct netlink_link *link, void *arg), void *arg,
    struct tb_error *err);

/* netlink_get_link() in the namespace nsid (IFLA_TARGET_NETNSID). */
int netlink_get_link_ns(struct netlink *nl, int nsid, unsigned ifindex,
    struct netlink_link *link, struct tb_error *err);

/*
 * Dumps every IPv4 and IPv6 address of the namespace (RTM_GETADDR) and
 * calls fn with each one's ifindex and local address (IFA_LOCAL, else
 * IFA_ADDRESS) with its prefix length, and for a point-to-point one again
 * with the peer (IFA_ADDRESS); fn returning non-zero stops the dump with
 * that value, as netlink_dump_links() does.
 */
int netlink_dump_addresses(struct netlink *nl,
    int (*fn)(unsigned ifindex, const struct tb_addr *addr, void *arg),
    void *arg, struct tb_error *err);

/*
 * netlink_dump_addresses() of the namespace nsid (IFA_TARGET_NETNSID),
 * for a handle with CAP_NET_ADMIN over it.
 */
int netlink_dump_addresses_ns(struct netlink *nl, int nsid,
    int (*fn)(unsigned ifindex, const struct tb_addr *addr, void *arg),
    void *arg, struct tb_error *err);

/* Reads the link ifindex (RTM_GETLINK); -ENODEV if there is none. */
int netlink_get_link(struct netlink *nl, unsigned ifindex,
    struct netlink_link *link, struct tb_error *err);

/*
 * The index of the link called name in nl's namespace (SIOCGIFINDEX on
 * nl's own socket: no round trip, no throw-away socket); -ENODEV if there
 * is none.
 */
int netlink_ifindex(struct netlink *nl, const char *name, unsigned *ifindex,
    struct tb_error *err);

/* Reads the link called name; -ENODEV if there is none. */
int netlink_get_link_by_name(struct netlink *nl, const char *name,
    struct netlink_link *link, struct tb_error *err);

#endif /* TUNBROKER_NETLINK_H */
