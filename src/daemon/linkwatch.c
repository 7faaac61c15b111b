#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <net/if.h>
#include <linux/if_tun.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "array.h"
#include "linkwatch.h"
#include "log.h"
#include "netns.h"
#include "nsopen.h"
#include "tun.h"

/* A link notification with its TUN info is well under 2 KiB; batches fit. */
#define LINKWATCH_BUFFER_SIZE	32768

/* A client's namespace with leases in it, and a descriptor of it. */
struct linkwatch_netns {
	int nsid;
	int fd;
};

struct linkwatch {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	struct lease_table *leases;
	struct netlink *nl;
	struct event *ev;
	struct event *recheck_ev;	/* devices without carrier, twice a second */
	struct closer *closer;		/* NULL: close inline */
	bool all_nsid;			/* hears other namespaces' links */
	int self_nsid;			/* our own namespace's id, or -1 */
	struct nsopen *nsopen;		/* opens probes in other namespaces */
	struct linkwatch_netns *netns;	/* namespaces holding our leases */
	size_t nnetns, netns_cap;
	char buf[LINKWATCH_BUFFER_SIZE] __attribute__((aligned(8)));
};

int
linkwatch_open(struct linkwatch **out, struct lease_table *leases,
    struct netlink *nl, struct tb_error *err)
{
	struct linkwatch *lw;
	int rcvbuf = 1 << 20, one = 1, rc;

	*out = NULL;
	if ((lw = calloc(1, sizeof(*lw))) == NULL)
		return tb_error_set(err, -ENOMEM,
		    "opening the link watch: %s", strerror(ENOMEM));
	lw->leases = leases;
	lw->nl = nl;
	lw->self_nsid = NETNSA_NSID_NOT_ASSIGNED;
	lw->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (lw->sock == NULL ||
	    mnl_socket_bind(lw->sock, 1u << (RTNLGRP_LINK - 1) |
	    1u << (RTNLGRP_NSID - 1), MNL_SOCKET_AUTOPID) == -1) {
		rc = -errno;
		tb_error_set(err, rc, "opening the link watch socket: %s",
		    strerror(-rc));
		linkwatch_close(lw);
		return rc;
	}
	lw->portid = mnl_socket_get_portid(lw->sock);
	/*
	 * A burst of grants is several notifications each; room for more
	 * makes an overrun, and the dump that repairs it, rarer.  The kernel
	 * caps it at net.core.rmem_max, which is no failure.
	 */
	(void)setsockopt(mnl_socket_get_fd(lw->sock), SOL_SOCKET, SO_RCVBUF,
	    &rcvbuf, sizeof(rcvbuf));
	/*
	 * Link events of the clients' namespaces the broker placed devices
	 * in, tagged with their ids.  Setting it, and hearing them later,
	 * takes CAP_NET_BROADCAST at this moment, before privileges drop.
	 */
	if (mnl_socket_setsockopt(lw->sock, NETLINK_LISTEN_ALL_NSID, &one,
	    sizeof(one)) == 0)
		lw->all_nsid = true;
	else
		log_info("no CAP_NET_BROADCAST to hear link events of other "
		    "namespaces (%s): devices cannot be placed in clients' "
		    "namespaces", strerror(errno));
	*out = lw;
	return 0;
}

void
linkwatch_close(struct linkwatch *lw)
{
	if (lw == NULL)
		return;
	if (lw->ev != NULL)
		event_free(lw->ev);
	if (lw->recheck_ev != NULL)
		event_free(lw->recheck_ev);
	if (lw->sock != NULL)
		mnl_socket_close(lw->sock);
	while (lw->nnetns > 0)
		close(lw->netns[--lw->nnetns].fd);
	free(lw->netns);
	free(lw);
}

int
linkwatch_delete(struct linkwatch *lw, unsigned ifindex)
{
	char buf[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct ifinfomsg))]
	    __attribute__((aligned(8)));
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	/* The deletion waits for RCU in the kernel: on the closer's thread. */
	if (closer_delete(lw->closer, ifindex))
		return 0;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_DELLINK;
	/* No NLM_F_ACK: the kernel answers only a failure. */
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++lw->seq;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	if (mnl_socket_sendto(lw->sock, nlh, nlh->nlmsg_len) == -1)
		return -errno;
	return 0;
}

void
linkwatch_set_nsopen(struct linkwatch *lw, struct nsopen *nsopen)
{
	lw->nsopen = nsopen;
}

static struct linkwatch_netns *
linkwatch_netns_find(const struct linkwatch *lw, int nsid)
{
	size_t i;

	for (i = 0; i < lw->nnetns; i++) {
		if (lw->netns[i].nsid == nsid)
			return &lw->netns[i];
	}
	return NULL;
}

int
linkwatch_keep_netns(struct linkwatch *lw, int nsid, int fd)
{
	int copy;

	if (nsid == LEASE_NSID_HOME || linkwatch_netns_find(lw, nsid) != NULL)
		return 0;
	if (array_reserve(&lw->netns, &lw->netns_cap, lw->nnetns + 1,
	    sizeof(*lw->netns), 8) != 0)
		return -ENOMEM;
	if ((copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -errno;
	lw->netns[lw->nnetns++] = (struct linkwatch_netns){ nsid, copy };
	return 0;
}

/* Lets go of the namespaces where no lease is left, so that they may die. */
static void
linkwatch_drop_unused_netns(struct linkwatch *lw)
{
	size_t i = 0;

	while (i < lw->nnetns) {
		if (lease_table_count_nsid(lw->leases, lw->netns[i].nsid) > 0) {
			i++;
			continue;
		}
		close(lw->netns[i].fd);
		lw->netns[i] = lw->netns[--lw->nnetns];
	}
}

bool
linkwatch_hears_namespaces(const struct linkwatch *lw)
{
	return lw != NULL && lw->all_nsid;
}

int
linkwatch_delete_ns(struct linkwatch *lw, int nsid, unsigned ifindex)
{
	char buf[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct ifinfomsg)) +
	    MNL_ATTR_HDRLEN + MNL_ALIGN(sizeof(int32_t))]
	    __attribute__((aligned(8)));
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (nsid == LEASE_NSID_HOME)
		return linkwatch_delete(lw, ifindex);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_DELLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++lw->seq;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	mnl_attr_put_u32(nlh, IFLA_TARGET_NETNSID, (uint32_t)nsid);
	if (mnl_socket_sendto(lw->sock, nlh, nlh->nlmsg_len) == -1)
		return -errno;
	return 0;
}

static bool
link_carrier_lost(const struct netlink_link *link)
{
	return link->has_carrier && !link->carrier;
}

/*
 * Whether nobody holds a queue of the TUN any more.  A multi-queue device
 * says so in its counts; for the others, a lost carrier is the kernel's
 * hint (it drops the carrier when the last queue detaches) and an attempt
 * to attach is the proof: it fails with EBUSY while someone holds the one
 * queue.  *probe_fd gets the attached probe, to close after deleting.
 */
static bool
link_abandoned(const struct netlink_link *link, int *probe_fd)
{
	*probe_fd = -1;
	/*
	 * The kernel itself deletes a device that is not persistent on its
	 * last close; probing one then would race with that teardown.
	 */
	if (!link->is_tun || !link->persistent)
		return false;
	if (link->has_queues)
		return link->queues == 0 && link->disabled_queues == 0;
	if (!link->has_carrier || link->carrier)
		return false;
	if (tun_attach_if_unheld(link->name, link->tun_type, probe_fd) != 0)
		return false;
	/* The name may have passed to another device since the event. */
	if (if_nametoindex(link->name) != link->ifindex) {
		close(*probe_fd);
		*probe_fd = -1;
		return false;
	}
	return true;
}

/* Deletes an abandoned device without waiting for the kernel's teardown. */
static void
linkwatch_delete_abandoned(struct linkwatch *lw, const struct lease *l,
    int probe_fd)
{
	int r;

	log_info("lease uid=%u %s ifindex=%u: last queue detached, deleting",
	    (unsigned)l->uid, l->name, l->ifindex);
	if ((r = linkwatch_delete(lw, l->ifindex)) != 0)
		log_warn("deleting %s (ifindex %u): %s", l->name, l->ifindex,
		    strerror(-r));
	/* The last close of a queue waits for RCU: off the loop. */
	if (probe_fd >= 0)
		closer_close(lw->closer, probe_fd);
}

void
linkwatch_set_closer(struct linkwatch *lw, struct closer *closer)
{
	lw->closer = closer;
}

/* A leased device a dump saw alive, or a namespace it could not read. */
struct linkwatch_key {
	int nsid;
	unsigned ifindex;	/* 0: the whole namespace nsid */
};

/* What a dump collects: the leased devices it saw alive. */
struct linkwatch_seen {
	struct linkwatch *lw;
	int nsid;		/* the namespace being dumped */
	struct linkwatch_key *keys;
	size_t n, cap;
};

static int
seen_add(struct linkwatch_seen *seen, int nsid, unsigned ifindex)
{
	if (array_reserve(&seen->keys, &seen->cap, seen->n + 1,
	    sizeof(*seen->keys), 64) != 0)
		return -ENOMEM;
	seen->keys[seen->n++] = (struct linkwatch_key){ nsid, ifindex };
	return 0;
}

static bool
seen_has(const struct linkwatch_seen *seen, const struct lease *l)
{
	size_t i;

	for (i = 0; i < seen->n; i++) {
		if (seen->keys[i].nsid == l->nsid &&
		    (seen->keys[i].ifindex == l->ifindex ||
		    seen->keys[i].ifindex == 0))
			return true;
	}
	return false;
}

/*
 * One link of a client's namespace: adopt it, delete it if abandoned, or
 * leave it alone.  Whoever is root in that namespace may set any alias,
 * so the alias must name the uid the device's owner is, which inside an
 * unprivileged user namespace can be none but its creator's.
 */
static int
linkwatch_sync_foreign_link(struct linkwatch_seen *seen,
    const struct netlink_link *link, uid_t uid)
{
	struct linkwatch *lw = seen->lw;
	bool known;
	int r;

	if (!link->has_owner || link->owner != (uint32_t)uid)
		return 0;
	if (link->persistent && link->has_queues && link->queues == 0 &&
	    link->disabled_queues == 0) {
		log_info("lease uid=%u %s ifindex=%u nsid=%d: nobody holds "
		    "it, deleting", (unsigned)uid, link->name, link->ifindex,
		    seen->nsid);
		if ((r = linkwatch_delete_ns(lw, seen->nsid,
		    link->ifindex)) != 0)
			log_warn("deleting %s (ifindex %u, nsid %d): %s",
			    link->name, link->ifindex, seen->nsid,
			    strerror(-r));
		return 0;
	}
	known = lease_table_find_ns(lw->leases, seen->nsid,
	    link->ifindex) != NULL;
	if ((r = seen_add(seen, seen->nsid, link->ifindex)) != 0 ||
	    (r = lease_table_add_ns(lw->leases, seen->nsid, uid,
	    link->ifindex, link->name)) != 0)
		return r;
	if (!known)
		log_info("lease uid=%u %s ifindex=%u nsid=%d: adopted",
		    (unsigned)uid, link->name, link->ifindex, seen->nsid);
	return 0;
}

/* One link of the dump: adopt it, delete it, or leave it alone. */
static int
linkwatch_sync_link(const struct netlink_link *link, void *arg)
{
	struct linkwatch_seen *seen = arg;
	struct lease l = { .ifindex = link->ifindex };
	bool known;
	uid_t uid;
	int probe_fd, r;

	if (!link->is_tun || lease_alias_parse(link->alias, &uid) != 0)
		return 0;
	if (seen->nsid != LEASE_NSID_HOME)
		return linkwatch_sync_foreign_link(seen, link, uid);
	l.uid = uid;
	snprintf(l.name, sizeof(l.name), "%s", link->name);
	if (link_abandoned(link, &probe_fd)) {
		linkwatch_delete_abandoned(seen->lw, &l, probe_fd);
		return 0;
	}
	known = lease_table_find_by_ifindex(seen->lw->leases,
	    link->ifindex) != NULL;
	if ((r = seen_add(seen, LEASE_NSID_HOME, link->ifindex)) != 0 ||
	    (r = lease_table_add(seen->lw->leases, uid, link->ifindex,
	    link->name)) != 0)
		return r;
	lease_table_set_carrier_lost(seen->lw->leases, link->ifindex,
	    link_carrier_lost(link));
	if (!known)
		log_info("lease uid=%u %s ifindex=%u: adopted", (unsigned)uid,
		    link->name, link->ifindex);
	return 0;
}

/*
 * Dumps the links of every namespace the broker's namespace has an id
 * for: the devices placed in clients' namespaces.  A namespace that
 * cannot be read now (it is dying, say) keeps its leases; its id's
 * withdrawal ends them.
 */
static int
linkwatch_sync_foreign(struct linkwatch *lw, struct linkwatch_seen *seen,
    struct tb_error *err)
{
	struct tb_error ignored;
	int *ids, r = 0;
	size_t n, i;

	if (!lw->all_nsid)
		return 0;
	if ((r = netns_list_nsids(&ids, &n, err)) != 0)
		return r;
	(void)netns_self_nsid(&lw->self_nsid);
	for (i = 0; i < n && r == 0; i++) {
		if (ids[i] == lw->self_nsid)
			continue;
		seen->nsid = ids[i];
		r = netlink_dump_links_ns(lw->nl, ids[i], linkwatch_sync_link,
		    seen, &ignored);
		if (r < 0) {
			log_debug("%s", ignored.text);
			r = seen_add(seen, ids[i], 0);
		}
	}
	free(ids);
	if (r < 0)
		return tb_error_set(err, r, "rebuilding the lease table: %s",
		    strerror(-r));
	return r;
}

static int
compare_ifindexes(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* The devices of one namespace a dump adopted, sorted. */
struct linkwatch_home {
	struct lease_table *leases;
	int nsid;		/* LEASE_NSID_HOME, or the namespace's id */
	unsigned *ifindexes;
	size_t n;
};

/*
 * One address of the dump: if its device is one of ours, the pool subnet
 * it lies in is held.  Adopted devices carry no other record of the
 * subnets they were given, and a subnet on a live device is taken,
 * whoever put it there.
 */
static int
linkwatch_sync_address(unsigned ifindex, const struct tb_addr *addr,
    void *arg)
{
	struct linkwatch_home *home = arg;

	if (bsearch(&ifindex, home->ifindexes, home->n,
	    sizeof(home->ifindexes[0]), compare_ifindexes) == NULL)
		return 0;
	return pool_alloc_hold(lease_table_pools(home->leases),
	    pool_device_key(home->nsid, ifindex), addr);
}

/*
 * Holds the pool subnets of the addresses on the devices of namespace
 * nsid that seen holds (one dump of the namespace, whatever their number).
 */
static int
linkwatch_sync_addresses(struct linkwatch *lw,
    const struct linkwatch_seen *seen, int nsid, struct tb_error *err)
{
	struct linkwatch_home home = { .leases = lw->leases, .nsid = nsid };
	size_t i;
	int r;

	if (seen->n == 0)
		return 0;
	if ((home.ifindexes = calloc(seen->n, sizeof(unsigned))) == NULL)
		return tb_error_set(err, -ENOMEM, "rebuilding the lease "
		    "table: %s", strerror(ENOMEM));
	for (i = 0; i < seen->n; i++) {
		if (seen->keys[i].nsid == nsid && seen->keys[i].ifindex != 0)
			home.ifindexes[home.n++] = seen->keys[i].ifindex;
	}
	qsort(home.ifindexes, home.n, sizeof(home.ifindexes[0]),
	    compare_ifindexes);
	if (home.n == 0)
		r = 0;
	else if (nsid == LEASE_NSID_HOME)
		r = netlink_dump_addresses(lw->nl, linkwatch_sync_address,
		    &home, err);
	else
		r = netlink_dump_addresses_ns(lw->nl, nsid,
		    linkwatch_sync_address, &home, err);
	free(home.ifindexes);
	if (r < 0)
		return tb_error_set(err, r, "rebuilding the lease table: %s",
		    strerror(-r));
	return r;
}

/*
 * The same for each client's namespace a dump adopted devices in.  One
 * that cannot be read now (it is dying, say) is skipped: its devices go
 * with it.
 */
static int
linkwatch_sync_foreign_addresses(struct linkwatch *lw,
    const struct linkwatch_seen *seen, struct tb_error *err)
{
	struct tb_error why;
	int last = LEASE_NSID_HOME, r;
	size_t i;

	for (i = 0; i < seen->n; i++) {
		if (seen->keys[i].nsid == LEASE_NSID_HOME ||
		    seen->keys[i].nsid == last)
			continue;
		last = seen->keys[i].nsid;
		r = linkwatch_sync_addresses(lw, seen, last, &why);
		if (r == -ENOMEM) {
			if (err != NULL)
				*err = why;
			return r;
		}
		if (r < 0)
			log_warn("%s", why.text);
	}
	return 0;
}

int
linkwatch_sync(struct linkwatch *lw, struct tb_error *err)
{
	struct linkwatch_seen seen = { .lw = lw, .nsid = LEASE_NSID_HOME };
	const struct lease *l;
	size_t i = 0;
	int r;

	r = netlink_dump_links(lw->nl, linkwatch_sync_link, &seen, err);
	if (r < 0)
		r = tb_error_set(err, r, "rebuilding the lease table: %s",
		    strerror(-r));
	if (r == 0)
		r = linkwatch_sync_addresses(lw, &seen, LEASE_NSID_HOME, err);
	if (r == 0)
		r = linkwatch_sync_foreign(lw, &seen, err);
	if (r == 0)
		r = linkwatch_sync_foreign_addresses(lw, &seen, err);
	while (r == 0 && (l = lease_table_at(lw->leases, i)) != NULL) {
		if (seen_has(&seen, l)) {
			i++;
			continue;
		}
		log_info("lease uid=%u %s ifindex=%u%s: ended, device gone",
		    (unsigned)l->uid, l->name, l->ifindex,
		    l->nsid != LEASE_NSID_HOME ? " (another namespace)" : "");
		lease_table_remove_ns(lw->leases, l->nsid, l->ifindex);
	}
	free(seen.keys);
	linkwatch_drop_unused_netns(lw);
	return r;
}

/*
 * The ifindex a link notification is about (0 if it is too short), read
 * before its attributes: most notifications are about devices that are
 * not leased, and are dropped without being parsed.
 */
static unsigned
link_message_ifindex(const struct nlmsghdr *msg)
{
	const struct ifinfomsg *ifi;

	if (msg->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return 0;
	ifi = mnl_nlmsg_get_payload(msg);
	return ifi->ifi_index > 0 ? (unsigned)ifi->ifi_index : 0;
}

/*
 * A link notification from the client's namespace nsid: follow deletions,
 * renames, and abandonment of a multi-queue device (whose queue counts
 * the kernel reports).  A single-queue device there cannot be probed from
 * here, so one left persistent lives until its namespace does.
 */
static void
linkwatch_foreign_event(struct linkwatch *lw, const struct nlmsghdr *msg,
    int nsid)
{
	struct netlink_link link;
	const struct lease *l;
	unsigned ifindex = link_message_ifindex(msg);
	int r;

	if (ifindex == 0 ||
	    (l = lease_table_find_ns(lw->leases, nsid, ifindex)) == NULL ||
	    netlink_parse_link(msg, &link) != 0)
		return;
	if (msg->nlmsg_type == RTM_DELLINK) {
		log_info("lease uid=%u %s ifindex=%u nsid=%d: ended, device "
		    "deleted or moved away", (unsigned)l->uid, l->name,
		    l->ifindex, nsid);
		lease_table_remove_ns(lw->leases, nsid, link.ifindex);
		return;
	}
	lease_table_rename_ns(lw->leases, nsid, link.ifindex, link.name);
	/* A single-queue one is probed from linkwatch_recheck(). */
	lease_table_set_carrier_lost_ns(lw->leases, nsid, link.ifindex,
	    link_carrier_lost(&link));
	if (link.is_tun && link.persistent && link.has_queues &&
	    link.queues == 0 && link.disabled_queues == 0) {
		log_info("lease uid=%u %s ifindex=%u nsid=%d: last queue "
		    "detached, deleting", (unsigned)l->uid, l->name,
		    l->ifindex, nsid);
		if ((r = linkwatch_delete_ns(lw, nsid, link.ifindex)) != 0)
			log_warn("deleting %s (ifindex %u, nsid %d): %s",
			    link.name, link.ifindex, nsid, strerror(-r));
	}
}

/* A namespace lost its id: it died, and its devices with it. */
static void
linkwatch_nsid_event(struct linkwatch *lw, const struct nlmsghdr *msg)
{
	const struct nlattr *attr;
	unsigned ended;
	int nsid = NETNSA_NSID_NOT_ASSIGNED;

	if (msg->nlmsg_len < mnl_nlmsg_size(sizeof(struct rtgenmsg)))
		return;
	mnl_attr_for_each(attr, msg, sizeof(struct rtgenmsg)) {
		if (mnl_attr_get_type(attr) == NETNSA_NSID &&
		    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			nsid = (int)mnl_attr_get_u32(attr);
	}
	if (nsid < 0 || (ended = lease_table_remove_nsid(lw->leases,
	    nsid)) == 0)
		return;
	log_info("namespace nsid=%d is gone: %u lease%s ended", nsid, ended,
	    ended == 1 ? "" : "s");
}

/* A link notification: follow renames, deletions and abandonment. */
static void
linkwatch_link_event(struct linkwatch *lw, const struct nlmsghdr *msg)
{
	struct netlink_link link;
	const struct lease *l;
	unsigned ifindex = link_message_ifindex(msg);
	int probe_fd;

	if (ifindex == 0 ||
	    (l = lease_table_find_by_ifindex(lw->leases, ifindex)) == NULL ||
	    netlink_parse_link(msg, &link) != 0)
		return;
	if (msg->nlmsg_type == RTM_DELLINK) {
		log_info("lease uid=%u %s ifindex=%u: ended, device deleted",
		    (unsigned)l->uid, l->name, l->ifindex);
		lease_table_remove(lw->leases, link.ifindex);
		return;
	}
	lease_table_rename(lw->leases, link.ifindex, link.name);
	lease_table_set_carrier_lost(lw->leases, link.ifindex,
	    link_carrier_lost(&link));
	if (link_abandoned(&link, &probe_fd))
		linkwatch_delete_abandoned(lw, l, probe_fd);
}

/* The kernel's answer to one of our deletions: only failures come. */
static void
linkwatch_error(const struct nlmsghdr *msg)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(msg);

	if (msg->nlmsg_len < mnl_nlmsg_size(sizeof(*e)) || e->error == 0)
		return;
	/* Gone already: the holder or an administrator was quicker. */
	if (e->error == -ENODEV)
		log_debug("deleting a device: already gone");
	else
		log_warn("deleting a device: %s", strerror(-e->error));
}

/* One datagram of notifications, all from the namespace nsid. */
static void
linkwatch_batch(struct linkwatch *lw, int len, int nsid)
{
	const struct nlmsghdr *msg;

	for (msg = (const struct nlmsghdr *)lw->buf; mnl_nlmsg_ok(msg, len);
	    msg = mnl_nlmsg_next(msg, &len)) {
		if (msg->nlmsg_type == NLMSG_ERROR)
			linkwatch_error(msg);
		else if ((msg->nlmsg_type == RTM_NEWLINK ||
		    msg->nlmsg_type == RTM_DELLINK) && nsid != LEASE_NSID_HOME)
			linkwatch_foreign_event(lw, msg, nsid);
		else if (msg->nlmsg_type == RTM_NEWLINK ||
		    msg->nlmsg_type == RTM_DELLINK)
			linkwatch_link_event(lw, msg);
		else if (msg->nlmsg_type == RTM_DELNSID &&
		    nsid == LEASE_NSID_HOME)
			linkwatch_nsid_event(lw, msg);
	}
	if (nsid != LEASE_NSID_HOME || lw->nnetns > 0)
		linkwatch_drop_unused_netns(lw);
}

/*
 * Receives one datagram into lw->buf; *nsid is the id of the namespace it
 * comes from (NETLINK_LISTEN_ALL_NSID), LEASE_NSID_HOME for our own.
 */
static ssize_t
linkwatch_recv(struct linkwatch *lw, int *nsid)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = lw->buf, .iov_len = sizeof(lw->buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *cmsg;
	ssize_t n;

	*nsid = LEASE_NSID_HOME;
	if ((n = recvmsg(mnl_socket_get_fd(lw->sock), &mh, 0)) < 0)
		return -1;
	for (cmsg = CMSG_FIRSTHDR(&mh); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&mh, cmsg)) {
		if (cmsg->cmsg_level == SOL_NETLINK &&
		    cmsg->cmsg_type == NETLINK_LISTEN_ALL_NSID &&
		    cmsg->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(nsid, CMSG_DATA(cmsg), sizeof(int));
	}
	/* Should anyone give our namespace an id, that is us too. */
	if (*nsid < 0 || *nsid == lw->self_nsid)
		*nsid = LEASE_NSID_HOME;
	return n;
}

/*
 * Drains the socket.  An overrun (ENOBUFS) means notifications were lost:
 * the table is rebuilt from a dump rather than trusted.
 */
static void
linkwatch_read(evutil_socket_t fd, short what, void *arg)
{
	struct linkwatch *lw = arg;
	struct tb_error err;
	ssize_t n;
	int nsid;

	(void)fd;
	(void)what;
	for (;;) {
		n = linkwatch_recv(lw, &nsid);
		if (n > 0) {
			linkwatch_batch(lw, (int)n, nsid);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == ENOBUFS) {
			log_warn("link notifications lost: rebuilding the "
			    "lease table");
			if (linkwatch_sync(lw, &err) != 0)
				log_error("%s", err.text);
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			log_error("reading link notifications: %s",
			    strerror(errno));
		return;
	}
}

/*
 * Whether nobody holds the single-queue device link of the client's
 * namespace netns_fd: a /dev/net/tun file the namespace helper opens
 * there tries to attach, as link_abandoned() does at home, and the name
 * must still be the device's.  *probe_fd gets the attached probe.
 */
static bool
linkwatch_foreign_abandoned(struct linkwatch *lw, int netns_fd,
    const struct netlink_link *link, int *probe_fd)
{
	struct tb_error err;
	struct ifreq ifr;
	bool abandoned = false;
	int nl_fd;

	*probe_fd = -1;
	if (nsopen_open(lw->nsopen, netns_fd, 1, probe_fd, &nl_fd, &err) != 0) {
		log_debug("probing %s: %s", link->name, err.text);
		return false;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", link->name);
	ifr.ifr_flags = (short)((link->tun_type & (IFF_TUN | IFF_TAP)) |
	    IFF_NO_PI);
	if (ioctl(*probe_fd, TUNSETIFF, &ifr) == 0) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", link->name);
		abandoned = ioctl(nl_fd, SIOCGIFINDEX, &ifr) == 0 &&
		    (unsigned)ifr.ifr_ifindex == link->ifindex;
	}
	close(nl_fd);
	if (!abandoned) {
		closer_close(lw->closer, *probe_fd);
		*probe_fd = -1;
	}
	return abandoned;
}

/* linkwatch_recheck() for a device in a client's namespace. */
static void
linkwatch_recheck_foreign(struct linkwatch *lw, const struct lease *l)
{
	const struct linkwatch_netns *ns = linkwatch_netns_find(lw, l->nsid);
	struct netlink_link link;
	struct tb_error err;
	int probe_fd, r;

	/* Without the namespace (adopted at start-up), it waits for its end. */
	if (ns == NULL || lw->nsopen == NULL ||
	    netlink_get_link_ns(lw->nl, l->nsid, l->ifindex, &link, &err) != 0)
		return;
	lease_table_set_carrier_lost_ns(lw->leases, l->nsid, l->ifindex,
	    link_carrier_lost(&link));
	if (!link.is_tun || !link.persistent || link.has_queues ||
	    !link_carrier_lost(&link) ||
	    !linkwatch_foreign_abandoned(lw, ns->fd, &link, &probe_fd))
		return;
	log_info("lease uid=%u %s ifindex=%u nsid=%d: last queue detached, "
	    "deleting", (unsigned)l->uid, l->name, l->ifindex, l->nsid);
	if ((r = linkwatch_delete_ns(lw, l->nsid, l->ifindex)) != 0)
		log_warn("deleting %s (ifindex %u, nsid %d): %s", l->name,
		    l->ifindex, l->nsid, strerror(-r));
	closer_close(lw->closer, probe_fd);
}

/*
 * Looks again at each leased device last seen without carrier.  The
 * kernel announces the carrier's loss, not the last close after it: a
 * holder that drops the carrier (TUNSETCARRIER), sets the device
 * persistent and then closes it causes no notification at all.
 */
static void
linkwatch_recheck(evutil_socket_t fd, short what, void *arg)
{
	struct linkwatch *lw = arg;
	struct netlink_link link;
	const struct lease *l;
	struct tb_error err;
	int probe_fd;
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; (l = lease_table_at(lw->leases, i)) != NULL; i++) {
		if (!l->carrier_lost)
			continue;
		if (l->nsid != LEASE_NSID_HOME) {
			linkwatch_recheck_foreign(lw, l);
			continue;
		}
		/* Gone (-ENODEV): its RTM_DELLINK ends the lease. */
		if (netlink_get_link(lw->nl, l->ifindex, &link, &err) != 0)
			continue;
		lease_table_set_carrier_lost(lw->leases, l->ifindex,
		    link_carrier_lost(&link));
		if (link_abandoned(&link, &probe_fd))
			linkwatch_delete_abandoned(lw, l, probe_fd);
	}
}

int
linkwatch_start(struct linkwatch *lw, struct event_base *base,
    struct tb_error *err)
{
	/*
	 * Twice a second, so that a device whose holder dropped its carrier
	 * before the last close still goes within a second of it.
	 */
	const struct timeval tick = { .tv_usec = 500 * 1000 };

	lw->ev = event_new(base, mnl_socket_get_fd(lw->sock),
	    EV_READ | EV_PERSIST, linkwatch_read, lw);
	lw->recheck_ev = event_new(base, -1, EV_PERSIST, linkwatch_recheck,
	    lw);
	if (lw->ev == NULL || event_add(lw->ev, NULL) != 0 ||
	    lw->recheck_ev == NULL || event_add(lw->recheck_ev, &tick) != 0)
		return tb_error_set(err, -ENOMEM,
		    "watching link notifications: %s", strerror(ENOMEM));
	return 0;
}
