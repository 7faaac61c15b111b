/*
 * Test helper: a link's state as the kernel reports it over rtnetlink, so
 * tests check what really happened rather than what a function returned.
 */
#ifndef TUNBROKER_NETINFO_H
#define TUNBROKER_NETINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

/*
 * One address.  Without a peer, local carries the address's prefix length.
 * With a peer (IFA_LOCAL differs from IFA_ADDRESS), local carries its
 * family's full length and peer the address's prefix length, as
 * `ip addr` shows "198.18.0.1 peer 198.18.0.2/32".
 */
struct netinfo_addr {
	struct tb_addr local;
	struct tb_addr peer;
	bool has_peer;
};

#define NETINFO_ADDRS_MAX	32

struct netinfo_link {
	unsigned ifindex;
	char name[16];
	unsigned mtu;
	unsigned flags;		/* IFF_*, including IFF_LOWER_UP etc. */
	char kind[16];		/* IFLA_INFO_KIND ("tun"), "" if none */
	int tun_type;		/* IFLA_TUN_TYPE: IFF_TUN or IFF_TAP; 0 */
	bool has_mac;		/* IFLA_ADDRESS of 6 bytes */
	uint8_t mac[6];
	unsigned master;	/* IFLA_MASTER: a bridge's ifindex; 0 */
	unsigned txqueuelen;	/* IFLA_TXQLEN */
	bool has_owner;		/* a TUN/TAP device with an owner */
	unsigned owner;
	bool has_group;		/* a TUN/TAP device with a group */
	unsigned group;
	bool vnet_hdr;		/* IFLA_TUN_VNET_HDR */
	bool multi_queue;	/* IFLA_TUN_MULTI_QUEUE */
	bool has_num_queues;	/* IFLA_TUN_NUM_QUEUES was there */
	unsigned num_queues;	/* queues attached */
	unsigned num_disabled_queues;
	size_t nlinklocal;	/* IPv6 link-local (fe80::/10) addresses */
	size_t naddrs;		/* IPv4 and IPv6, without fe80::/10 */
	struct netinfo_addr addrs[NETINFO_ADDRS_MAX];
};

/*
 * Fills out from the link called name in the caller's network namespace.
 * Returns 0, -ENODEV if there is no such link, -E2BIG if it has more than
 * NETINFO_ADDRS_MAX addresses, or another negative errno.
 */
int netinfo_link_by_name(const char *name, struct netinfo_link *out);

/*
 * Polls every 10 ms, for up to ms, until the caller's namespace has no
 * link called name (ms 0: looks once); false if it stays.
 */
bool netinfo_link_gone_within(const char *name, int ms);

/*
 * Whether link has cidr among its addresses, written as tb_addr_format()
 * writes it with its prefix ("198.18.0.1/24").
 */
bool netinfo_link_has_address(const struct netinfo_link *link,
    const char *cidr);

/*
 * Whether the feature called feature (its ethtool name, as `ethtool -k`
 * shows it: "tx-tcp-segmentation") is active on the link called name,
 * read with ETHTOOL_GFEATURES.  0, -ENOENT for an unknown feature name,
 * or another negative errno.
 */
int netinfo_feature(const char *name, const char *feature, bool *active);

/*
 * The same through the old single-value calls (ETHTOOL_GTXCSUM,
 * ETHTOOL_GTSO, ...), a second path through the kernel to the same bits.
 */
int netinfo_legacy_offload(const char *name, unsigned cmd, bool *on);

/* A route of the main table, as RTM_GETROUTE reports it. */
struct netinfo_route {
	struct tb_addr dst;	/* 0.0.0.0/0 or ::/0 for a default route */
	unsigned oif;		/* RTA_OIF; 0 if none */
	unsigned metric;	/* RTA_PRIORITY; 0 if none */
	unsigned protocol;	/* rtm_protocol: RTPROT_STATIC, _KERNEL... */
};

#define NETINFO_ROUTES_MAX	64

/*
 * Fills out with the unicast routes of the main table (IPv4 and IPv6)
 * through ifindex, or through any link when ifindex is 0; *n is their
 * number.  Returns 0, -E2BIG past NETINFO_ROUTES_MAX, or a negative errno.
 */
int netinfo_routes(unsigned ifindex, struct netinfo_route *out, size_t max,
    size_t *n);

/*
 * Creates a link of kind ("bridge", "dummy", "veth") called name, with a
 * peer called peer for a veth (NULL otherwise); 0 or a negative errno.
 */
int netinfo_add_link(const char *name, const char *kind, const char *peer);

/*
 * Sets the link called name: its MTU (0: unchanged), its master (the link
 * called master; NULL: unchanged) and IFF_UP when up.
 */
int netinfo_set_link(const char *name, unsigned mtu, const char *master,
    bool up);

#endif /* TUNBROKER_NETINFO_H */
