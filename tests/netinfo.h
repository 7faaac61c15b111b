/*
 * Test helper: a link's state as the kernel reports it over rtnetlink, so
 * tests check what really happened rather than what a function returned.
 */
#ifndef TUNBROKER_NETINFO_H
#define TUNBROKER_NETINFO_H

#include <stdbool.h>
#include <stddef.h>

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
	bool has_owner;		/* a TUN/TAP device with an owner */
	unsigned owner;
	bool has_group;		/* a TUN/TAP device with a group */
	unsigned group;
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

#endif /* TUNBROKER_NETINFO_H */
