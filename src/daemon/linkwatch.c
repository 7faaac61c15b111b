#include "config.h"

#include <sys/socket.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <net/if.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "linkwatch.h"
#include "log.h"
#include "tun.h"

/* A link notification with its TUN info is well under 2 KiB; batches fit. */
#define LINKWATCH_BUFFER_SIZE	32768

struct linkwatch {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	struct lease_table *leases;
	struct netlink *nl;
	struct event *ev;
	struct event *recheck_ev;	/* devices without carrier, twice a second */
	struct closer *closer;		/* NULL: close inline */
	char buf[LINKWATCH_BUFFER_SIZE] __attribute__((aligned(8)));
};

int
linkwatch_open(struct linkwatch **out, struct lease_table *leases,
    struct netlink *nl, struct tb_error *err)
{
	struct linkwatch *lw;
	int rcvbuf = 1 << 20, rc;

	*out = NULL;
	if ((lw = calloc(1, sizeof(*lw))) == NULL)
		return tb_error_set(err, -ENOMEM,
		    "opening the link watch: %s", strerror(ENOMEM));
	lw->leases = leases;
	lw->nl = nl;
	lw->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (lw->sock == NULL ||
	    mnl_socket_bind(lw->sock, 1u << (RTNLGRP_LINK - 1),
	    MNL_SOCKET_AUTOPID) == -1) {
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

/* What a dump collects: the leased devices it saw alive. */
struct linkwatch_seen {
	struct linkwatch *lw;
	unsigned *ifindexes;
	size_t n, cap;
};

static int
seen_add(struct linkwatch_seen *seen, unsigned ifindex)
{
	unsigned *grown;

	if (seen->n == seen->cap) {
		size_t cap = seen->cap == 0 ? 64 : seen->cap * 2;

		grown = realloc(seen->ifindexes, cap * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		seen->ifindexes = grown;
		seen->cap = cap;
	}
	seen->ifindexes[seen->n++] = ifindex;
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
	l.uid = uid;
	snprintf(l.name, sizeof(l.name), "%s", link->name);
	if (link_abandoned(link, &probe_fd)) {
		linkwatch_delete_abandoned(seen->lw, &l, probe_fd);
		return 0;
	}
	known = lease_table_find_by_ifindex(seen->lw->leases,
	    link->ifindex) != NULL;
	if ((r = seen_add(seen, link->ifindex)) != 0 ||
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

static int
compare_ifindexes(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

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
	struct linkwatch_seen *seen = arg;

	if (bsearch(&ifindex, seen->ifindexes, seen->n,
	    sizeof(seen->ifindexes[0]), compare_ifindexes) == NULL)
		return 0;
	return pool_alloc_hold(lease_table_pools(seen->lw->leases), ifindex,
	    addr);
}

int
linkwatch_sync(struct linkwatch *lw, struct tb_error *err)
{
	struct linkwatch_seen seen = { .lw = lw };
	const struct lease *l;
	size_t i = 0;
	int r;

	r = netlink_dump_links(lw->nl, linkwatch_sync_link, &seen, err);
	if (seen.n > 0)
		qsort(seen.ifindexes, seen.n, sizeof(seen.ifindexes[0]),
		    compare_ifindexes);
	if (r == 0 && seen.n > 0) {
		r = netlink_dump_addresses(lw->nl, linkwatch_sync_address,
		    &seen, err);
	}
	if (r < 0)
		r = tb_error_set(err, r, "rebuilding the lease table: %s",
		    strerror(-r));
	while (r == 0 && (l = lease_table_at(lw->leases, i)) != NULL) {
		/* seen is sorted once the dump is complete. */
		if (bsearch(&l->ifindex, seen.ifindexes, seen.n,
		    sizeof(seen.ifindexes[0]), compare_ifindexes) != NULL) {
			i++;
			continue;
		}
		log_info("lease uid=%u %s ifindex=%u: ended, device gone",
		    (unsigned)l->uid, l->name, l->ifindex);
		lease_table_remove(lw->leases, l->ifindex);
	}
	free(seen.ifindexes);
	return r;
}

/* A link notification: follow renames, deletions and abandonment. */
static void
linkwatch_link_event(struct linkwatch *lw, const struct nlmsghdr *msg)
{
	struct netlink_link link;
	const struct lease *l;
	int probe_fd;

	if (netlink_parse_link(msg, &link) != 0 ||
	    (l = lease_table_find_by_ifindex(lw->leases, link.ifindex)) ==
	    NULL)
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

static void
linkwatch_batch(struct linkwatch *lw, int len)
{
	const struct nlmsghdr *msg;

	for (msg = (const struct nlmsghdr *)lw->buf; mnl_nlmsg_ok(msg, len);
	    msg = mnl_nlmsg_next(msg, &len)) {
		if (msg->nlmsg_type == NLMSG_ERROR)
			linkwatch_error(msg);
		else if (msg->nlmsg_type == RTM_NEWLINK ||
		    msg->nlmsg_type == RTM_DELLINK)
			linkwatch_link_event(lw, msg);
	}
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

	(void)fd;
	(void)what;
	for (;;) {
		n = mnl_socket_recvfrom(lw->sock, lw->buf, sizeof(lw->buf));
		if (n > 0) {
			linkwatch_batch(lw, (int)n);
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
