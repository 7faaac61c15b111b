/*
 * The devices this broker owns and whom they belong to: one lease per
 * ifindex.  The table holds what rtnetlink said last (see linkwatch.h),
 * so counting is a plain look-up that never asks the kernel.
 */
#ifndef TUNBROKER_LEASE_H
#define TUNBROKER_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "pool.h"
#include "protocol.h"

/* The alias that marks a device as ours, followed by the owner's uid. */
#define LEASE_ALIAS_PREFIX	"tunbroker:uid="

/*
 * The namespace of a lease in the broker's own namespace.  A device in a
 * client's namespace is keyed by that namespace's id as the broker's
 * namespace knows it (RTM_NEWNSID), which link events from there carry.
 */
#define LEASE_NSID_HOME		(-1)

struct lease {
	int nsid;		/* LEASE_NSID_HOME, or the namespace's id */
	unsigned ifindex;	/* in that namespace */
	uid_t uid;
	char name[TB_IFNAME_MAX];
	time_t created;		/* when granted, or adopted at start-up */
	bool carrier_lost;	/* last seen without carrier: watch it */
};

struct lease_table;

int lease_table_new(struct lease_table **out);
void lease_table_free(struct lease_table *t);

/*
 * Records a device made for uid; an existing lease of ifindex takes
 * the new uid and name but keeps its creation time.  0 or -ENOMEM.
 */
int lease_table_add(struct lease_table *t, uid_t uid, unsigned ifindex,
    const char *name);

/*
 * The address pools of the table's devices: a subnet taken for a device
 * (pool_alloc_take, keyed by pool_device_key(nsid, ifindex)) is held
 * until its lease ends, by any of the removals below.
 */
struct pool_alloc *lease_table_pools(struct lease_table *t);

/*
 * Ends the lease of ifindex and frees the pool subnets its device held;
 * 0, or -ENOENT if there is none.
 */
int lease_table_remove(struct lease_table *t, unsigned ifindex);

/*
 * The same three for a device in the namespace of id nsid: ifindex is
 * its index there.  Leases of the broker's namespace (the functions
 * without _ns, which work on those alone) use LEASE_NSID_HOME.
 */
int lease_table_add_ns(struct lease_table *t, int nsid, uid_t uid,
    unsigned ifindex, const char *name);
int lease_table_remove_ns(struct lease_table *t, int nsid, unsigned ifindex);
const struct lease *lease_table_find_ns(const struct lease_table *t, int nsid,
    unsigned ifindex);

void lease_table_rename_ns(struct lease_table *t, int nsid, unsigned ifindex,
    const char *name);

void lease_table_set_carrier_lost_ns(struct lease_table *t, int nsid,
    unsigned ifindex, bool lost);

/* The live leases in the namespace nsid. */
unsigned lease_table_count_nsid(const struct lease_table *t, int nsid);

/* Ends every lease in the namespace nsid (it died); how many ended. */
unsigned lease_table_remove_nsid(struct lease_table *t, int nsid);

/* The lease of ifindex, or NULL; valid until the table next changes. */
const struct lease *lease_table_find_by_ifindex(const struct lease_table *t,
    unsigned ifindex);

/* The lease of the device called name, or NULL; same validity. */
const struct lease *lease_table_find_by_name(const struct lease_table *t,
    const char *name);

/* Follows a rename seen by rtnetlink. */
void lease_table_rename(struct lease_table *t, unsigned ifindex,
    const char *name);

/* Records whether the device of ifindex was last seen without carrier. */
void lease_table_set_carrier_lost(struct lease_table *t, unsigned ifindex,
    bool lost);

/* The live leases of uid. */
unsigned lease_table_count_uid(const struct lease_table *t, uid_t uid);

/* Every live lease. */
unsigned lease_table_count(const struct lease_table *t);

/* The i-th lease (i < lease_table_count()), in no particular order. */
const struct lease *lease_table_at(const struct lease_table *t, size_t i);

/* Writes "tunbroker:uid=N" into buf (TB_IFALIAS_MAX is ample). */
void lease_alias_format(uid_t uid, char *buf, size_t size);

/* Reads an alias written by lease_alias_format(); -EINVAL if it is not. */
int lease_alias_parse(const char *alias, uid_t *uid);

#endif /* TUNBROKER_LEASE_H */
