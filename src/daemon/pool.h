/*
 * Address pools: which subnet of which [pool] each live device holds, and
 * the lowest free one for the next `--address auto` (tunbrokerd.conf(5)).
 *
 * The truth is a set of holdings: for each device (a key from
 * pool_device_key(): its namespace's id and its ifindex), the subnets
 * it was given and any other address it carries that a pool could cover.
 * From it, each configured pool keeps the sorted indices of its subnets
 * that are held, so that finding the lowest free one is a binary search.
 * Holdings outlive the pools: a reload that drops or reshapes a pool
 * keeps every device's subnet held, and the new pools are laid over the
 * same holdings.  Pure logic, no system calls: the lease table owns one
 * (lease.h), and ending a lease releases what its device held.
 */
#ifndef TUNBROKER_POOL_H
#define TUNBROKER_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "error.h"
#include "protocol.h"

struct pool_alloc;

/*
 * Names a device for the allocator: ifindexes are per namespace, so the
 * key holds the id of the device's namespace too (LEASE_NSID_HOME, -1,
 * for the broker's own).
 */
static inline uint64_t
pool_device_key(int nsid, unsigned ifindex)
{
	return (uint64_t)(uint32_t)nsid << 32 | ifindex;
}

int pool_alloc_new(struct pool_alloc **out);

/* Frees pa; NULL is fine. */
void pool_alloc_free(struct pool_alloc *pa);

/*
 * Takes the n pools defs as those new subnets come from (copied), in place
 * of the previous ones; holdings stay.  0 or -ENOMEM, leaving the
 * previous pools in force.
 */
int pool_alloc_configure(struct pool_alloc *pa, const struct pool_def *defs,
    size_t n);

/*
 * Gives the device the lowest free subnet of family (AF_INET or
 * AF_INET6) in the first of the pools named by names[0..n) that is of that
 * family and has one, and writes into *addr what the device gets: the
 * first host of a /30 (198.18.64.1/30), the lower address of a /31
 * (198.18.64.0/31), ::1 of a /64.  Returns 0; -ENOSPC when every such pool
 * is full, with a sentence naming them; -ENOENT when none of the names is
 * a configured pool of family; -ENOMEM.
 */
int pool_alloc_take(struct pool_alloc *pa, uint64_t device, int family,
    char *const *names, size_t n, struct tb_addr *addr, struct tb_error *err);

/*
 * Records that the device carries addr (an address it was given
 * explicitly, or one read back from an adopted device): the pool subnets
 * it lies in are held until the device's release.  Recording the same
 * address twice is one holding.  0 or -ENOMEM.
 */
int pool_alloc_hold(struct pool_alloc *pa, uint64_t device,
    const struct tb_addr *addr);

/* Frees every subnet the device holds; nothing held is fine. */
void pool_alloc_release(struct pool_alloc *pa, uint64_t device);

/* The number of subnets of the pool called name that are held now. */
size_t pool_alloc_held(const struct pool_alloc *pa, const char *name);

/*
 * The subnet index'th of def (0-based) as the device gets it: what
 * pool_alloc_take() writes for that subnet.  index must be below
 * pool_subnet_count(def).
 */
void pool_subnet_address(const struct pool_def *def, uint64_t index,
    struct tb_addr *addr);

/* How many subnets def holds, saturated at UINT64_MAX. */
uint64_t pool_subnet_count(const struct pool_def *def);

#endif /* TUNBROKER_POOL_H */
