/*
 * Keeping the lease table true to the kernel.  A NETLINK_ROUTE socket
 * subscribed to link notifications, read on the broker's loop: a leased
 * device that is deleted ends its lease; a leased TUN whose last queue is
 * detached is deleted, whatever flags its holder set (TUNSETPERSIST needs
 * no privilege), so the broker, not the fd, owns each device's life.
 *
 * Deletions go out on the watch socket without NLM_F_ACK and nothing
 * waits for them: the RTM_DELLINK notification that follows ends the
 * lease, and a refusal comes back as an error message read like any other.
 */
#ifndef TUNBROKER_LINKWATCH_H
#define TUNBROKER_LINKWATCH_H

#include <stdbool.h>

#include <event2/event.h>

#include "closer.h"
#include "error.h"
#include "lease.h"
#include "netlink.h"

struct linkwatch;

/*
 * Opens the watch socket (non-blocking, close-on-exec), subscribed at once
 * so that no event after this call is missed.  nl serves the dumps.
 */
int linkwatch_open(struct linkwatch **out, struct lease_table *leases,
    struct netlink *nl, struct tb_error *err);

/* Closes lw; NULL is fine. */
void linkwatch_close(struct linkwatch *lw);

/*
 * Rebuilds the table from a dump of the kernel's links: every TUN with
 * our alias (LEASE_ALIAS_PREFIX) and a queue attached is leased to the
 * uid in its alias; one with none is deleted; a lease whose device is gone
 * ends.  Devices without our alias are never touched.  Run at start-up,
 * before serving, and again whenever notifications were lost.
 */
int linkwatch_sync(struct linkwatch *lw, struct tb_error *err);

/* Hands the closes of probe descriptors to closer (NULL: inline). */
void linkwatch_set_closer(struct linkwatch *lw, struct closer *closer);

/* Starts reading notifications on base. */
int linkwatch_start(struct linkwatch *lw, struct event_base *base,
    struct tb_error *err);

/*
 * Asks the kernel to delete ifindex and returns without waiting for the
 * kernel's teardown to be acknowledged: 0 or a negative errno from the
 * send.  The lease ends when the deletion is seen.
 */
int linkwatch_delete(struct linkwatch *lw, unsigned ifindex);

struct nsopen;

/*
 * Lets the watch probe devices in clients' namespaces through the
 * namespace helper (nsopen.h); without it, an abandoned single-queue
 * device there lives until its namespace ends.
 */
void linkwatch_set_nsopen(struct linkwatch *lw, struct nsopen *nsopen);

/*
 * Keeps a copy of fd, the namespace the broker knows by nsid, while
 * leases live in it, so that an abandoned single-queue device there can
 * be told from a held one (the copy keeps the namespace alive as long as
 * its leases, which their devices' queues do anyway).  0 or a negative
 * errno, which only costs that probing.
 */
int linkwatch_keep_netns(struct linkwatch *lw, int nsid, int fd);

/*
 * Whether link events of other namespaces reach the watch, so that leases
 * of devices placed in clients' namespaces end when the devices go (it
 * needed CAP_NET_BROADCAST when opened).  Without it no namespace is
 * served.
 */
bool linkwatch_hears_namespaces(const struct linkwatch *lw);

/*
 * linkwatch_delete() for the device ifindex of the namespace nsid
 * (RTM_DELLINK with IFLA_TARGET_NETNSID); LEASE_NSID_HOME is ours.
 */
int linkwatch_delete_ns(struct linkwatch *lw, int nsid, unsigned ifindex);

#endif /* TUNBROKER_LINKWATCH_H */
