#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "dispatch.h"
#include "log.h"
#include "tun.h"

/* The kernel's bounds on an interface MTU that we let clients choose. */
#define MTU_MIN		68
#define MTU_MAX		65535
#define MTU_MIN_IPV6	1280

/*
 * A TUN's transmit queue is a ring of this many pointers per queue,
 * allocated at once: the bound keeps one request from pinning megabytes.
 */
#define TXQUEUELEN_MAX	65536

/* The priority Linux gives an IPv6 route without one (IP6_RT_PRIO_USER). */
#define IPV6_DEFAULT_METRIC	1024

static void
reply_error(struct reply *reply, uint32_t seq, const struct tb_error *err)
{
	if (tb_encode_error(&reply->msg, seq, err) != 0)
		reply->close_connection = true;
}

void
reply_release(struct reply *reply)
{
	tb_builder_release(&reply->msg);
	/* The client may have closed its copy already: ours is the last. */
	while (reply->nfds > 0)
		closer_close(reply->closer, reply->fds[--reply->nfds]);
}

/* Writes the request's addresses as "a/p,b/q" into buf, for logs. */
static const char *
format_addrs(const struct tb_addr *addrs, size_t n, char *buf, size_t size)
{
	char one[TB_ADDR_TEXT_MAX];
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++) {
		int w = snprintf(buf + used, size - used, "%s%s",
		    i > 0 ? "," : "",
		    tb_addr_format(&addrs[i], true, one, sizeof(one)));
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return n == 0 ? "-" : buf;
}

/* The address the peer pairs with: the first one of the peer's family. */
static const struct tb_addr *
peer_partner(const struct tb_create_request *req)
{
	size_t i;

	for (i = 0; i < req->naddrs; i++) {
		if (req->addrs[i].family == req->peer.family)
			return &req->addrs[i];
	}
	return NULL;
}

/*
 * Refuses offloads without a header to describe them, and the
 * combinations TUNSETOFFLOAD would refuse.
 */
static int
validate_offload(const struct tb_create_request *req, struct tb_error *err)
{
	char names[TB_OFFLOAD_TEXT_MAX];

	if (req->offload != 0 && req->vnet_hdr == 0)
		return tb_error_set(err, -EINVAL, "offload %s needs "
		    "vnet-hdr: without the header no offload can be described",
		    tb_offload_format(req->offload, names, sizeof(names)));
	return tb_offload_check(req->offload, err);
}

/* An Ethernet address a device may take: unicast and not all zero. */
static int
validate_mac(const struct tb_create_request *req, struct tb_error *err)
{
	static const uint8_t zero[TB_MAC_LEN];
	char text[TB_MAC_TEXT_MAX];

	if (!req->has_mac)
		return 0;
	tb_mac_format(req->mac, text, sizeof(text));
	if (req->device_type != TB_DEVICE_TAP)
		return tb_error_set(err, -EINVAL, "mac %s: only a TAP device "
		    "has an Ethernet address", text);
	if (req->mac[0] & 1)
		return tb_error_set(err, -EINVAL, "mac %s is a multicast "
		    "address", text);
	if (memcmp(req->mac, zero, sizeof(zero)) == 0)
		return tb_error_set(err, -EINVAL, "mac %s is all zero", text);
	return 0;
}

/* Routes go on the link: their prefixes must be networks. */
static int
validate_routes(const struct tb_create_request *req, struct tb_error *err)
{
	char text[TB_ADDR_TEXT_MAX];
	struct tb_addr net;
	size_t i;

	for (i = 0; i < req->nroutes; i++) {
		if (!tb_addr_has_host_bits(&req->routes[i].dst))
			continue;
		net = req->routes[i].dst;
		tb_addr_mask(&net);
		return tb_error_set(err, -EINVAL, "route %s has host bits set "
		    "(the network is %s)", tb_addr_format(&req->routes[i].dst,
		    true, text, sizeof(text)), tb_addr_format(&net, true,
		    (char[TB_ADDR_TEXT_MAX]){ 0 }, TB_ADDR_TEXT_MAX));
	}
	return 0;
}

/*
 * Checks what the kernel would refuse late, so that we refuse it early.
 * A name that is already an interface is left to TUNSETIFF, whose
 * IFF_TUN_EXCL refuses it without a race (and build_device() says which
 * interface has it).
 */
static int
validate_create(const struct tb_create_request *req, struct tb_error *err)
{
	char text[TB_ADDR_TEXT_MAX];
	struct tb_error why;
	size_t i;
	int r;

	if (req->name[0] != '\0' &&
	    (r = policy_check_name(req->name, err)) != 0)
		return r;
	if (req->mtu != 0 && (req->mtu < MTU_MIN || req->mtu > MTU_MAX))
		return tb_error_set(err, -EINVAL,
		    "mtu %u is outside %u to %u", req->mtu, MTU_MIN, MTU_MAX);
	for (i = 0; req->mtu != 0 && i < req->naddrs; i++) {
		if (req->addrs[i].family == AF_INET6 &&
		    req->mtu < MTU_MIN_IPV6)
			return tb_error_set(err, -EINVAL,
			    "mtu %u is below the %u that IPv6 address %s needs",
			    req->mtu, MTU_MIN_IPV6,
			    tb_addr_format(&req->addrs[i], true, text,
			    sizeof(text)));
	}
	if (req->auto_inet6 && req->mtu != 0 && req->mtu < MTU_MIN_IPV6)
		return tb_error_set(err, -EINVAL,
		    "mtu %u is below the %u that an IPv6 auto-address needs",
		    req->mtu, MTU_MIN_IPV6);
	if (req->naddrs + req->auto_inet + req->auto_inet6 > TB_MAX_ADDRESSES)
		return tb_error_set(err, -EINVAL,
		    "%zu addresses and %d auto-addresses are more than the %d "
		    "a device may have", req->naddrs,
		    req->auto_inet + req->auto_inet6, TB_MAX_ADDRESSES);
	if (req->has_peer && peer_partner(req) == NULL)
		return tb_error_set(err, -EINVAL,
		    "peer %s has no local address of its family to pair with",
		    tb_addr_format(&req->peer, false, text, sizeof(text)));
	if (req->bridge[0] != '\0' && req->device_type != TB_DEVICE_TAP)
		return tb_error_set(err, -EINVAL, "bridge %s: only a TAP "
		    "device can join a bridge", req->bridge);
	if (req->bridge[0] != '\0' &&
	    (r = policy_check_name(req->bridge, &why)) != 0)
		return tb_error_set(err, r, "bridge: %s", why.text);
	if (strchr(req->bridge, '%') != NULL)
		return tb_error_set(err, -EINVAL, "bridge %s: a bridge is an "
		    "existing interface, not a template", req->bridge);
	if (req->txqueuelen > TXQUEUELEN_MAX)
		return tb_error_set(err, -EINVAL, "txqueuelen %u is over %u",
		    req->txqueuelen, TXQUEUELEN_MAX);
	if ((r = validate_mac(req, err)) != 0 ||
	    (r = validate_routes(req, err)) != 0 ||
	    (r = validate_offload(req, err)) != 0)
		return r;
	return 0;
}

/*
 * Where a device is made and configured: the broker's own namespace, or
 * (with netns) the client's, through a rtnetlink socket and /dev/net/tun
 * files that live there.
 */
struct target {
	struct netlink *nl;
	bool own_nl;			/* nl is ours to close */
	int fds[TB_MAX_QUEUES];		/* opened there, or -1 */
	int nsid;			/* LEASE_NSID_HOME, or its id */
	struct netns_id id;		/* with an nsid: which namespace */
	int netns_fd;			/* with an nsid: the client's, borrowed */
};

/*
 * Gets descriptors inside the client's namespace netns_fd (checked by
 * netns_check() already) from the namespace helper, and gives the
 * namespace an id first, so that the device's link events reach the
 * link watch from its creation on.
 */
static int
target_open(struct broker *b, const struct tb_create_request *req,
    int netns_fd, struct target *t, struct tb_error *err)
{
	unsigned queues = req->queues != 0 ? req->queues : 1;
	int nl_fd, r;
	size_t i;

	for (i = 0; i < TB_MAX_QUEUES; i++)
		t->fds[i] = -1;
	t->nl = b->nl;
	t->own_nl = false;
	t->nsid = LEASE_NSID_HOME;
	t->netns_fd = netns_fd;
	if (!req->has_netns)
		return 0;
	if (!linkwatch_hears_namespaces(b->watch))
		return tb_error_set(err, -EOPNOTSUPP, "netns: this broker "
		    "cannot follow devices in other namespaces (it started "
		    "without CAP_NET_BROADCAST), so it places none there");
	if ((r = netns_nsid(netns_fd, &t->nsid, err)) != 0)
		return r;
	if ((r = nsopen_open(b->nsopen, netns_fd, queues, t->fds, &nl_fd,
	    err)) != 0)
		return r;
	if ((r = netlink_open_fd(nl_fd, &t->nl, err)) != 0) {
		t->nl = NULL;
		return r;
	}
	t->own_nl = true;
	return 0;
}

static void
target_close(struct target *t)
{
	if (t->own_nl)
		netlink_close(t->nl);
	t->nl = NULL;
}

/* Closes a device's queue fds without blocking the loop on the last one. */
static void
close_queues(struct broker *b, int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (fds[i] == -1)
			continue;
		if (b->closer != NULL)
			closer_close(b->closer, fds[i]);
		else
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * Finds the bridge a TAP is to join, in the device's namespace: it must
 * be a bridge, not any link that can be a master.
 */
static int
find_bridge(struct target *t, const char *name, struct netlink_link *br,
    struct tb_error *err)
{
	int r;

	if ((r = netlink_get_link_by_name(t->nl, name, br, err)) == -ENODEV)
		return tb_error_set(err, -ENODEV, "bridge %s does not exist",
		    name);
	if (r != 0)
		return r;
	if (strcmp(br->kind, "bridge") != 0)
		return tb_error_set(err, -EINVAL, "bridge %s is not a bridge "
		    "(its kind is \"%s\")", name, br->kind);
	return 0;
}

/* The addresses a device got from pools, added after the requested ones. */
struct pool_addresses {
	struct tb_addr addrs[2];
	size_t n;
};

/*
 * Takes a subnet for the device from the pools of the granting rule for each
 * family the request asks an auto-address of, and holds the pool subnets
 * any requested address or the peer lies in, so that no later
 * auto-address overlaps them.
 * On failure whatever was taken stays recorded under device: the caller
 * releases it with the device.
 */
static int
take_pool_addresses(struct broker *b, const struct policy_rule *rule,
    uint64_t device, const struct tb_create_request *req,
    struct pool_addresses *autos, struct tb_error *err)
{
	struct pool_alloc *pa = lease_table_pools(b->leases);
	size_t i;
	int r;

	autos->n = 0;
	if (req->auto_inet) {
		if ((r = pool_alloc_take(pa, device, AF_INET, rule->pools,
		    rule->npools, &autos->addrs[autos->n], err)) != 0)
			return r;
		autos->n++;
	}
	if (req->auto_inet6) {
		if ((r = pool_alloc_take(pa, device, AF_INET6, rule->pools,
		    rule->npools, &autos->addrs[autos->n], err)) != 0)
			return r;
		autos->n++;
	}
	for (i = 0; i < req->naddrs; i++) {
		if ((r = pool_alloc_hold(pa, device, &req->addrs[i])) != 0)
			return tb_error_set(err, r, "recording address %s: %s",
			    tb_addr_format(&req->addrs[i], true,
			    (char[TB_ADDR_TEXT_MAX]){ 0 }, TB_ADDR_TEXT_MAX),
			    strerror(-r));
	}
	/* The peer is routed through the device: its subnet is taken too. */
	if (req->has_peer && (r = pool_alloc_hold(pa, device,
	    &req->peer)) != 0)
		return tb_error_set(err, r, "recording peer: %s", strerror(-r));
	return 0;
}

/*
 * Whether the client asked for anything IPv6 on the device.  One that did
 * not gets no IPv6 link-local address: each one is a route in the same
 * fe80::/64 node of the kernel's table, whose insertion grows with the
 * number of devices (a grant at 10,000 devices took 40 times as long).
 */
static bool
wants_ipv6(const struct tb_create_request *req)
{
	size_t i;

	for (i = 0; i < req->naddrs; i++) {
		if (req->addrs[i].family == AF_INET6)
			return true;
	}
	for (i = 0; i < req->nroutes; i++) {
		if (req->routes[i].dst.family == AF_INET6)
			return true;
	}
	return req->auto_inet6;
}

/*
 * Applies the owner's label, link settings, addresses and routes to a
 * fresh device and reads it back into *link, in as few round trips as the
 * kernel allows (one, unless the routes overflow a write).  The label
 * (interface alias) is how a restarted broker knows the device is its own
 * and whose it is.
 */
static int
configure_device(struct target *t, unsigned ifindex, uid_t uid,
    const struct tb_create_request *req, const struct netlink_link *bridge,
    const struct pool_addresses *autos, struct netlink_link *link,
    struct tb_error *err)
{
	const struct tb_addr *partner = req->has_peer ? peer_partner(req) :
	    NULL;
	char alias[TB_IFALIAS_MAX];
	struct netlink_link_config cfg = {
		.alias = alias,
		.mtu = req->mtu != 0 ? req->mtu :
		    bridge != NULL ? bridge->mtu : 0,
		.txqueuelen = req->txqueuelen,
		.mac = req->has_mac ? req->mac : NULL,
		.master = bridge != NULL ? bridge->ifindex : 0,
		.no_ipv6_link_local = !wants_ipv6(req),
	};
	/*
	 * Up after the settings (the kernel applies a link's flags before
	 * its IPv6 settings within one request) and before the addresses
	 * (Linux drops the route to an IPv6 peer otherwise).
	 */
	const struct netlink_link_config up = { .up = true };
	struct tb_error ignored;
	size_t i;
	int r;

	lease_alias_format(uid, alias, sizeof(alias));
	netlink_batch_begin(t->nl);
	if ((r = netlink_configure_link(t->nl, ifindex, &cfg, err)) != 0 ||
	    (r = netlink_configure_link(t->nl, ifindex, &up, err)) != 0)
		goto fail;
	for (i = 0; i < req->naddrs; i++) {
		r = netlink_add_address(t->nl, ifindex, &req->addrs[i],
		    &req->addrs[i] == partner ? &req->peer : NULL, err);
		if (r != 0)
			goto fail;
	}
	for (i = 0; i < autos->n; i++) {
		r = netlink_add_address(t->nl, ifindex, &autos->addrs[i], NULL,
		    err);
		if (r != 0)
			goto fail;
	}
	for (i = 0; i < req->nroutes; i++) {
		if ((r = netlink_add_route(t->nl, ifindex, &req->routes[i],
		    err)) != 0)
			goto fail;
	}
	return netlink_batch_end_link(t->nl, ifindex, link, err);
fail:
	netlink_batch_end(t->nl, &ignored);
	return r;
}

/*
 * Describes the device for the reply as link, read back from the kernel
 * once configured, has it.
 */
static int
describe_device(const struct netlink_link *link,
    const struct tb_create_request *req, const struct netlink_link *bridge,
    const struct pool_addresses *autos, struct tb_created_reply *rep,
    struct tb_error *err)
{
	size_t i;

	rep->ifindex = link->ifindex;
	rep->device_type = req->device_type;
	rep->mtu = link->mtu;
	rep->txqueuelen = link->txqueuelen;
	if (req->device_type == TB_DEVICE_TAP && link->has_mac) {
		memcpy(rep->mac, link->mac, TB_MAC_LEN);
		rep->has_mac = true;
	}
	if (bridge != NULL && link->master == bridge->ifindex)
		snprintf(rep->bridge, sizeof(rep->bridge), "%s", bridge->name);
	else if (bridge != NULL)
		return tb_error_set(err, -EIO, "device %s did not join bridge "
		    "%s", rep->name, bridge->name);
	memcpy(rep->addrs, req->addrs, req->naddrs * sizeof(req->addrs[0]));
	rep->naddrs = req->naddrs;
	/* validate_create() left room for them. */
	memcpy(rep->addrs + rep->naddrs, autos->addrs,
	    autos->n * sizeof(autos->addrs[0]));
	rep->naddrs += autos->n;
	rep->peer = req->peer;
	rep->has_peer = req->has_peer;
	memcpy(rep->routes, req->routes,
	    req->nroutes * sizeof(req->routes[0]));
	rep->nroutes = req->nroutes;
	/* Only the broker holds the queues yet: the kernel must count all. */
	if (req->queues != 0 && (!link->has_queues ||
	    link->queues != req->queues))
		return tb_error_set(err, -EIO, "device %s has %u queues "
		    "attached, not the %u made", rep->name,
		    link->has_queues ? link->queues : 0, req->queues);
	/* IPv6 has no metric 0: the kernel gives such a route its default. */
	for (i = 0; i < rep->nroutes; i++) {
		if (rep->routes[i].dst.family == AF_INET6 &&
		    rep->routes[i].metric == 0)
			rep->routes[i].metric = IPV6_DEFAULT_METRIC;
	}
	rep->queues = req->queues;
	rep->vnet_hdr = req->vnet_hdr;
	rep->offload = req->offload;
	rep->fd_count = req->queues != 0 ? req->queues : 1;
	return 0;
}

/*
 * Creates and configures the device in t; on success fds hold its queues
 * and rep describes it.  On failure nothing of it is left.
 */
static int
build_device(struct broker *b, struct target *t,
    const struct peer_identity *who, const struct policy_rule *rule,
    const struct tb_create_request *req, const struct netlink_link *bridge,
    struct tb_created_reply *rep,
    int fds[TB_MAX_QUEUES], struct tb_error *err)
{
	struct tun_spec spec = {
		.name = req->name[0] != '\0' ? req->name : NULL,
		.tap = req->device_type == TB_DEVICE_TAP,
		.queues = req->queues,
		.vnet_hdr = req->vnet_hdr,
		.offload = req->offload,
		.uid = who->uid,
		.gid = who->gid,
	};
	struct pool_addresses autos = { .n = 0 };
	struct netlink_link link;
	struct tb_error ignored;
	unsigned ifindex = 0;
	int r;

	memcpy(fds, t->fds, sizeof(t->fds));
	for (r = 0; r < TB_MAX_QUEUES; r++)
		t->fds[r] = -1;
	if ((r = tun_create(&spec, fds, rep->name, err)) != 0) {
		unsigned taken;

		/* IFF_TUN_EXCL refused a name that exists: say which. */
		if (r == -EBUSY && spec.name != NULL &&
		    strchr(spec.name, '%') == NULL &&
		    netlink_ifindex(t->nl, spec.name, &taken, &ignored) == 0)
			r = tb_error_set(err, -EEXIST, "name %s is taken: an "
			    "interface of that name exists (ifindex %u)",
			    spec.name, taken);
		return r;
	}
	if ((r = netlink_ifindex(t->nl, rep->name, &ifindex, err)) != 0)
		goto fail;
	if ((r = take_pool_addresses(b, rule, pool_device_key(t->nsid, ifindex),
	    req, &autos, err)) != 0 ||
	    (r = configure_device(t, ifindex, who->uid, req, bridge, &autos,
	    &link, err)) != 0 ||
	    (r = describe_device(&link, req, bridge, &autos, rep, err)) != 0)
		goto fail;
	if (t->nsid != LEASE_NSID_HOME) {
		rep->has_netns = true;
		rep->netns = (struct tb_netns){ .dev = t->id.dev,
		    .ino = t->id.ino };
	}
	if ((r = lease_table_add_ns(b->leases, t->nsid, who->uid, ifindex,
	    rep->name)) != 0) {
		tb_error_set(err, r, "recording the lease of %s: %s",
		    rep->name, strerror(-r));
		goto fail;
	}
	/* Only costs the probing of an abandoned device there. */
	if (t->nsid != LEASE_NSID_HOME &&
	    (r = linkwatch_keep_netns(b->watch, t->nsid, t->netns_fd)) != 0)
		log_warn("lease of %s in nsid %d: keeping its namespace: %s",
		    rep->name, t->nsid, strerror(-r));
	return 0;
fail:
	/* Delete at once rather than leave it to the last close. */
	if (ifindex != 0) {
		netlink_delete_link(t->nl, ifindex, &ignored);
		pool_alloc_release(lease_table_pools(b->leases),
		    pool_device_key(t->nsid, ifindex));
	}
	close_queues(b, fds, TB_MAX_QUEUES);
	return r;
}

/*
 * A TAP without an MTU of its own takes its bridge's, so the policy must
 * judge that MTU as if the client had asked for it: a bridge is no way
 * around a rule's mtu range.  The rule that grants it then is the one
 * whose pools serve auto-addresses (*rule).
 */
static int
check_bridge_mtu(struct broker *b, const struct peer_identity *who,
    const struct tb_create_request *req, const struct netlink_link *bridge,
    const struct policy_rule **rule, struct tb_error *err)
{
	struct tb_create_request *effective;
	struct tb_error why;
	int r;

	if (req->mtu != 0)
		return 0;
	if ((effective = malloc(sizeof(*effective))) == NULL)
		return tb_error_set(err, -ENOMEM, "checking the mtu of bridge "
		    "%s: %s", bridge->name, strerror(ENOMEM));
	*effective = *req;
	effective->mtu = bridge->mtu;
	r = policy_check_create_rule(&b->config, who, effective,
	    lease_table_count_uid(b->leases, who->uid), rule, &why);
	free(effective);
	if (r != 0)
		return tb_error_set(err, r, "with the mtu of bridge %s (%u): %s",
		    bridge->name, bridge->mtu, why.text);
	return 0;
}

/*
 * Checks the namespace a request names, before the policy sees it.  The
 * broker's own namespace counts as none: *req then points to *local, a
 * copy without it (on the heap, a request is large), which the caller
 * frees.
 */
static int
resolve_netns(struct broker *b, const struct peer_identity *who,
    const struct tb_create_request **req, struct tb_create_request **local,
    int netns_fd, struct netns_id *id, struct tb_error *err)
{
	bool is_home;
	int r;

	*local = NULL;
	if (!(*req)->has_netns)
		return 0;
	if ((r = netns_check(netns_fd, who, &b->home, id, &is_home, err)) != 0)
		return r;
	if (!is_home)
		return 0;
	if ((*local = malloc(sizeof(**local))) == NULL)
		return tb_error_set(err, -ENOMEM, "netns: %s",
		    strerror(ENOMEM));
	**local = **req;
	(*local)->has_netns = false;
	*req = *local;
	return 0;
}

static int
create_device(struct broker *b, const struct peer_identity *who,
    const struct tb_create_request *req, const int *msg_fds,
    struct tb_created_reply *rep, int fds[TB_MAX_QUEUES],
    struct tb_error *err)
{
	struct tb_create_request *local = NULL;
	const struct policy_rule *rule;
	struct netns_id id = { 0, 0 };
	struct netlink_link bridge;
	struct target t;
	/* The codec holds a netns attribute to exactly one descriptor. */
	int netns_fd = req->has_netns ? msg_fds[0] : -1, r;

	if ((r = resolve_netns(b, who, &req, &local, netns_fd, &id,
	    err)) != 0 || (r = validate_create(req, err)) != 0)
		goto out;
	r = policy_check_create_rule(&b->config, who, req,
	    lease_table_count_uid(b->leases, who->uid), &rule, err);
	if (r != 0)
		goto out;
	if ((r = target_open(b, req, netns_fd, &t, err)) != 0)
		goto close;
	t.id = id;
	/*
	 * The bridge is looked up only for a client the policy allows it,
	 * and in the device's namespace.
	 */
	if (req->bridge[0] != '\0' &&
	    ((r = find_bridge(&t, req->bridge, &bridge, err)) != 0 ||
	    (r = check_bridge_mtu(b, who, req, &bridge, &rule, err)) != 0))
		goto close;
	r = build_device(b, &t, who, rule, req,
	    req->bridge[0] != '\0' ? &bridge : NULL, rep, fds, err);
close:
	close_queues(b, t.fds, TB_MAX_QUEUES);
	target_close(&t);
out:
	free(local);
	return r;
}

static void
handle_create(struct broker *b, const struct peer_identity *who,
    const struct tb_msg *msg, const int *fds, struct reply *reply)
{
	char addrs[512], mac[TB_MAC_TEXT_MAX], vnet[80] = "", netns[56] = "";
	char offloads[TB_OFFLOAD_TEXT_MAX];
	struct tb_create_request req = { .device_type = 0 };
	struct tb_created_reply rep = { .mtu = 0 };
	struct tb_error err = { 0 };
	int queues[TB_MAX_QUEUES], r;
	size_t i;

	for (i = 0; i < TB_MAX_QUEUES; i++)
		queues[i] = -1;
	if ((r = tb_decode_create(msg, &req, &err)) == 0)
		r = create_device(b, who, &req, fds, &rep, queues, &err);
	if (r != 0) {
		log_client(LOG_INFO, who, req.name[0] != '\0' ? req.name : NULL,
		    "refuse", "refuse uid=%u pid=%d create name=%s: %s",
		    (unsigned)who->uid, (int)who->pid,
		    req.name[0] != '\0' ? req.name : "-", err.text);
		reply_error(reply, msg->hdr.seq, &err);
		return;
	}
	reply->closer = b->closer;
	for (i = 0; i < rep.fd_count; i++)
		reply->fds[reply->nfds++] = queues[i];
	if (tb_encode_created(&reply->msg, msg->hdr.seq, &rep) != 0) {
		reply->close_connection = true;
		return;
	}
	if (rep.has_mac)
		tb_mac_format(rep.mac, mac, sizeof(mac));
	if (rep.vnet_hdr != 0)
		snprintf(vnet, sizeof(vnet), " vnet-hdr=%u offload=%s",
		    rep.vnet_hdr, tb_offload_format(rep.offload, offloads,
		    sizeof(offloads)));
	if (rep.has_netns)
		snprintf(netns, sizeof(netns), " netns=%llu:%llu",
		    (unsigned long long)rep.netns.dev,
		    (unsigned long long)rep.netns.ino);
	snprintf(reply->grant_device, sizeof(reply->grant_device), "%s",
	    rep.name);
	snprintf(reply->grant_log, sizeof(reply->grant_log),
	    "grant uid=%u pid=%d create %s type=%s ifindex=%u addresses=%s "
	    "mtu=%u%s%s%s%s queues=%u%s%s", (unsigned)who->uid, (int)who->pid,
	    rep.name, rep.device_type == TB_DEVICE_TAP ? "tap" : "tun",
	    rep.ifindex,
	    format_addrs(rep.addrs, rep.naddrs, addrs, sizeof(addrs)),
	    rep.mtu, rep.has_mac ? " mac=" : "", rep.has_mac ? mac : "",
	    rep.bridge[0] != '\0' ? " bridge=" : "", rep.bridge,
	    rep.fd_count, vnet, netns);
}

void
dispatch_reply_sent(const struct peer_identity *who,
    const struct reply *reply)
{
	if (reply->grant_log[0] != '\0')
		log_client(LOG_INFO, who, reply->grant_device, "grant", "%s",
		    reply->grant_log);
}

static void
handle_status(const struct tb_msg *msg, struct reply *reply)
{
	struct tb_status_reply rep = { .proto_version = TB_PROTO_VERSION };

	snprintf(rep.broker_version, sizeof(rep.broker_version), "%s",
	    PACKAGE_VERSION);
	if (tb_encode_status_reply(&reply->msg, msg->hdr.seq, &rep) != 0)
		reply->close_connection = true;
}

/* Root sees every lease; anyone else sees their own. */
static bool
lease_visible(const struct peer_identity *who, const struct lease *l)
{
	return who->uid == 0 || l->uid == who->uid;
}

static int
lease_by_ifindex(const void *a, const void *b)
{
	uint32_t x = ((const struct tb_lease *)a)->ifindex;
	uint32_t y = ((const struct tb_lease *)b)->ifindex;

	return (x > y) - (x < y);
}

/*
 * Answers one page: the visible leases with an ifindex above the request's
 * cursor, in ifindex order, at most TB_MAX_LEASES; when more remain, the
 * reply's cursor is the last ifindex it carries.  Devices made between
 * two pages get higher ifindexes, so they come in a later page.
 */
static void
handle_list(struct broker *b, const struct peer_identity *who,
    const struct tb_msg *msg, struct reply *reply)
{
	uint32_t after = tb_msg_u32(msg, TB_ATTR_CURSOR), cursor = 0;
	struct tb_lease *out;
	struct tb_error err;
	const struct lease *l;
	size_t i, n = 0;

	out = calloc(lease_table_count(b->leases) + 1, sizeof(*out));
	if (out == NULL) {
		tb_error_set(&err, -ENOMEM, "listing leases: %s",
		    strerror(ENOMEM));
		reply_error(reply, msg->hdr.seq, &err);
		return;
	}
	for (i = 0; (l = lease_table_at(b->leases, i)) != NULL; i++) {
		if (!lease_visible(who, l) || l->ifindex <= after)
			continue;
		out[n].ifindex = l->ifindex;
		out[n].uid = (uint32_t)l->uid;
		snprintf(out[n].name, sizeof(out[n].name), "%s", l->name);
		n++;
	}
	qsort(out, n, sizeof(*out), lease_by_ifindex);
	if (n > TB_MAX_LEASES) {
		n = TB_MAX_LEASES;
		cursor = out[n - 1].ifindex;
	}
	if (tb_encode_leases(&reply->msg, msg->hdr.seq, out, n, cursor) != 0)
		reply->close_connection = true;
	free(out);
}

/*
 * Deletes one of the caller's devices (root: any leased device).  The
 * closer thread deletes it, and the reply waits for the kernel's answer
 * there (reply->release_ifindex), so that RELEASED means the device is
 * gone; the loop goes on meanwhile.  Without room on the closer's queue
 * the deletion is done here, waiting.
 */
static void
handle_release(struct broker *b, const struct peer_identity *who,
    const struct tb_msg *msg, struct reply *reply)
{
	char name[TB_IFNAME_MAX] = "";
	const struct lease *l;
	struct tb_error err;
	unsigned ifindex = 0;
	int r;

	if ((r = tb_decode_release(msg, name, &err)) == 0) {
		l = lease_table_find_by_name(b->leases, name);
		if (l == NULL || !lease_visible(who, l)) {
			r = tb_error_set(&err, -ENOENT,
			    "ifname %s is not a device of yours", name);
		} else if (l->nsid != LEASE_NSID_HOME) {
			/*
			 * The closer deletes in the broker's namespace only:
			 * a device in a client's namespace is deleted without
			 * waiting, and answered once the deletion is sent.
			 */
			if ((r = linkwatch_delete_ns(b->watch, l->nsid,
			    l->ifindex)) != 0)
				tb_error_set(&err, r, "deleting %s (ifindex "
				    "%u): %s", name, l->ifindex,
				    strerror(-r));
		} else if (closer_delete(b->closer, (ifindex = l->ifindex))) {
			reply->release_ifindex = ifindex;
			snprintf(reply->release_name,
			    sizeof(reply->release_name), "%s", name);
			return;
		} else {
			r = netlink_delete_link(b->nl, ifindex, &err);
		}
	}
	if (r != 0 && ifindex == 0) {
		log_client(LOG_INFO, who, name[0] != '\0' ? name : NULL,
		    "refuse", "refuse uid=%u pid=%d release %s: %s",
		    (unsigned)who->uid, (int)who->pid,
		    name[0] != '\0' ? name : "-", err.text);
		reply_error(reply, msg->hdr.seq, &err);
		return;
	}
	dispatch_release_done(b, who, msg->hdr.seq, name, ifindex, r, reply);
}

void
dispatch_release_done(struct broker *b, const struct peer_identity *who,
    uint32_t seq, const char *name, unsigned ifindex, int result,
    struct reply *reply)
{
	const struct lease *l;
	struct tb_error err;

	memset(reply, 0, sizeof(*reply));
	if (result == 0 || result == -ENODEV) {
		if ((l = lease_table_find_by_ifindex(b->leases, ifindex)) !=
		    NULL) {
			log_info("lease uid=%u %s ifindex=%u: ended, device "
			    "deleted", (unsigned)l->uid, l->name, ifindex);
			lease_table_remove(b->leases, ifindex);
		}
		log_client(LOG_INFO, who, name, "grant",
		    "grant uid=%u pid=%d release %s", (unsigned)who->uid,
		    (int)who->pid, name);
		if (tb_encode_release(&reply->msg, TB_MSG_RELEASED, seq,
		    name) != 0)
			reply->close_connection = true;
		return;
	}
	tb_error_set(&err, result, "deleting %s (ifindex %u): %s", name,
	    ifindex, strerror(-result));
	log_client(LOG_INFO, who, name, "refuse",
	    "refuse uid=%u pid=%d release %s: %s", (unsigned)who->uid,
	    (int)who->pid, name, err.text);
	reply_error(reply, seq, &err);
}

void
dispatch_message(struct broker *b, const struct peer_identity *who,
    const struct tb_msg *msg, const int *fds, struct reply *reply)
{
	struct tb_error err;

	memset(reply, 0, sizeof(*reply));
	log_debug("uid=%u pid=%d sent %s seq=%u", (unsigned)who->uid,
	    (int)who->pid, tb_msg_type_name(msg->hdr.type), msg->hdr.seq);
	switch (msg->hdr.type) {
	case TB_MSG_PING:
		if (tb_encode_simple(&reply->msg, TB_MSG_PONG,
		    msg->hdr.seq) != 0)
			reply->close_connection = true;
		break;
	case TB_MSG_STATUS:
		handle_status(msg, reply);
		break;
	case TB_MSG_CREATE:
		handle_create(b, who, msg, fds, reply);
		break;
	case TB_MSG_LIST:
		handle_list(b, who, msg, reply);
		break;
	case TB_MSG_RELEASE:
		handle_release(b, who, msg, reply);
		break;
	default:
		tb_error_set(&err, -EBADMSG,
		    "%s (%u) is not a request a client may send",
		    tb_msg_type_name(msg->hdr.type), msg->hdr.type);
		log_client(LOG_INFO, who, NULL, "refuse",
		    "refuse uid=%u pid=%d: %s", (unsigned)who->uid,
		    (int)who->pid, err.text);
		reply_error(reply, msg->hdr.seq, &err);
		reply->close_connection = true;
		break;
	}
}

void
dispatch_malformed(const struct peer_identity *who, const struct tb_msg *msg,
    const struct tb_error *err, struct reply *reply)
{
	memset(reply, 0, sizeof(*reply));
	log_client(LOG_INFO, who, NULL, "refuse",
	    "refuse uid=%u pid=%d malformed message: %s", (unsigned)who->uid,
	    (int)who->pid, err->text);
	reply_error(reply, msg->header_ok ? msg->hdr.seq : 0, err);
	reply->close_connection = true;
}
