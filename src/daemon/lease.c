#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "array.h"
#include "lease.h"

/*
 * A dense array, so that iterating is a walk and removing is a swap with
 * the last, and two hash indexes into it, by ifindex and by name: every
 * request and every link event looks a lease up, and with ten thousand
 * leases a linear scan each time was a tenth of the broker's time while
 * it released a thousand of them.  The indexes use linear probing with
 * backward-shift deletion, and hold positions in the array plus one (0 is
 * an empty slot); they have twice the array's capacity, so they are never
 * more than half full.
 */
struct lease_table {
	struct lease *leases;
	size_t n;
	size_t cap;
	uint32_t *by_ifindex;
	uint32_t *by_name;
	size_t mask;		/* index slots - 1 */
	struct pool_alloc *pools;
};

enum lease_key { KEY_IFINDEX, KEY_NAME };

/* The key of a lease: its namespace and its index there. */
static size_t
hash_ifindex(int nsid, unsigned ifindex)
{
	uint64_t key = (uint64_t)(uint32_t)nsid << 32 | ifindex;

	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32);
}

/* FNV-1a over the name's bytes. */
static size_t
hash_name(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h;
}

static uint32_t *
index_of(const struct lease_table *t, enum lease_key key)
{
	return key == KEY_IFINDEX ? t->by_ifindex : t->by_name;
}

/* The slot where the lease at pos starts probing in the index of key. */
static size_t
home_slot(const struct lease_table *t, enum lease_key key, size_t pos)
{
	const struct lease *l = &t->leases[pos];

	return (key == KEY_IFINDEX ? hash_ifindex(l->nsid, l->ifindex) :
	    hash_name(l->name)) & t->mask;
}

static void
index_insert(struct lease_table *t, enum lease_key key, size_t pos)
{
	uint32_t *slots = index_of(t, key);
	size_t i = home_slot(t, key, pos);

	while (slots[i] != 0)
		i = (i + 1) & t->mask;
	slots[i] = (uint32_t)pos + 1;
}

/* The slot that holds pos in the index of key; pos must be in it. */
static size_t
index_slot(const struct lease_table *t, enum lease_key key, size_t pos)
{
	const uint32_t *slots = index_of(t, key);
	size_t i = home_slot(t, key, pos);

	while (slots[i] != (uint32_t)pos + 1)
		i = (i + 1) & t->mask;
	return i;
}

/* Takes pos out of the index of key, closing the gap behind it. */
static void
index_erase(struct lease_table *t, enum lease_key key, size_t pos)
{
	uint32_t *slots = index_of(t, key);
	size_t hole = index_slot(t, key, pos), j = hole, home;

	for (;;) {
		j = (j + 1) & t->mask;
		if (slots[j] == 0)
			break;
		home = home_slot(t, key, slots[j] - 1);
		/* Moves back unless its home lies in (hole, j], cyclically. */
		if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
			slots[hole] = slots[j];
			hole = j;
		}
	}
	slots[hole] = 0;
}

/* Sizes both indexes for the array's capacity and fills them. */
static int
index_rebuild(struct lease_table *t)
{
	size_t size = 32, i;
	uint32_t *a, *b;

	while (size < 2 * t->cap)
		size *= 2;
	a = calloc(size, sizeof(*a));
	b = calloc(size, sizeof(*b));
	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	free(t->by_ifindex);
	free(t->by_name);
	t->by_ifindex = a;
	t->by_name = b;
	t->mask = size - 1;
	for (i = 0; i < t->n; i++) {
		index_insert(t, KEY_IFINDEX, i);
		index_insert(t, KEY_NAME, i);
	}
	return 0;
}

int
lease_table_new(struct lease_table **out)
{
	struct lease_table *t;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	if (index_rebuild(t) != 0 || pool_alloc_new(&t->pools) != 0) {
		free(t->by_ifindex);
		free(t->by_name);
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

struct pool_alloc *
lease_table_pools(struct lease_table *t)
{
	return t->pools;
}

void
lease_table_free(struct lease_table *t)
{
	if (t == NULL)
		return;
	pool_alloc_free(t->pools);
	free(t->leases);
	free(t->by_ifindex);
	free(t->by_name);
	free(t);
}

/* The position of the lease of ifindex in namespace nsid, or -1. */
static ssize_t
lease_pos(const struct lease_table *t, int nsid, unsigned ifindex)
{
	size_t i = hash_ifindex(nsid, ifindex) & t->mask;
	const struct lease *l;

	for (; t->by_ifindex[i] != 0; i = (i + 1) & t->mask) {
		l = &t->leases[t->by_ifindex[i] - 1];
		if (l->ifindex == ifindex && l->nsid == nsid)
			return (ssize_t)t->by_ifindex[i] - 1;
	}
	return -1;
}

static struct lease *
lease_slot_ns(const struct lease_table *t, int nsid, unsigned ifindex)
{
	ssize_t pos = lease_pos(t, nsid, ifindex);

	return pos < 0 ? NULL : &t->leases[pos];
}

/* Renames the lease at pos, keeping the name index right. */
static void
lease_set_name(struct lease_table *t, size_t pos, const char *name)
{
	index_erase(t, KEY_NAME, pos);
	snprintf(t->leases[pos].name, sizeof(t->leases[pos].name), "%s",
	    name);
	index_insert(t, KEY_NAME, pos);
}

int
lease_table_add(struct lease_table *t, uid_t uid, unsigned ifindex,
    const char *name)
{
	return lease_table_add_ns(t, LEASE_NSID_HOME, uid, ifindex, name);
}

int
lease_table_add_ns(struct lease_table *t, int nsid, uid_t uid,
    unsigned ifindex, const char *name)
{
	struct lease *l;
	ssize_t pos;

	if ((pos = lease_pos(t, nsid, ifindex)) >= 0) {
		t->leases[pos].uid = uid;
		lease_set_name(t, (size_t)pos, name);
		return 0;
	}
	if (t->n == t->cap) {
		/* The indexes hold positions as uint32_t; doubling must fit. */
		if (t->cap > (UINT32_MAX - 1) / 2)
			return -ENOMEM;
		if (array_reserve(&t->leases, &t->cap, t->n + 1,
		    sizeof(*t->leases), 16) != 0)
			return -ENOMEM;
		/* Without room in the indexes, the old capacity stays. */
		if (index_rebuild(t) != 0) {
			t->cap = t->n;
			return -ENOMEM;
		}
	}
	l = &t->leases[t->n];
	memset(l, 0, sizeof(*l));
	l->created = time(NULL);
	l->carrier_lost = false;
	l->nsid = nsid;
	l->uid = uid;
	l->ifindex = ifindex;
	snprintf(l->name, sizeof(l->name), "%s", name);
	index_insert(t, KEY_IFINDEX, t->n);
	index_insert(t, KEY_NAME, t->n);
	t->n++;
	return 0;
}

/* Ends the lease at pos: the last lease moves into its place. */
static void
lease_remove_at(struct lease_table *t, size_t pos)
{
	size_t last = t->n - 1;

	index_erase(t, KEY_IFINDEX, pos);
	index_erase(t, KEY_NAME, pos);
	if (pos != last) {
		t->by_ifindex[index_slot(t, KEY_IFINDEX, last)] =
		    (uint32_t)pos + 1;
		t->by_name[index_slot(t, KEY_NAME, last)] = (uint32_t)pos + 1;
		t->leases[pos] = t->leases[last];
	}
	t->n--;
}

int
lease_table_remove(struct lease_table *t, unsigned ifindex)
{
	return lease_table_remove_ns(t, LEASE_NSID_HOME, ifindex);
}

int
lease_table_remove_ns(struct lease_table *t, int nsid, unsigned ifindex)
{
	ssize_t pos = lease_pos(t, nsid, ifindex);

	/* Whatever the device held is free once it is gone. */
	pool_alloc_release(t->pools, pool_device_key(nsid, ifindex));
	if (pos < 0)
		return -ENOENT;
	lease_remove_at(t, (size_t)pos);
	return 0;
}

unsigned
lease_table_remove_nsid(struct lease_table *t, int nsid)
{
	unsigned removed = 0;
	size_t i = 0;

	while (nsid != LEASE_NSID_HOME && i < t->n) {
		if (t->leases[i].nsid == nsid) {
			pool_alloc_release(t->pools, pool_device_key(nsid,
			    t->leases[i].ifindex));
			lease_remove_at(t, i);
			removed++;
		} else {
			i++;
		}
	}
	return removed;
}

const struct lease *
lease_table_find_ns(const struct lease_table *t, int nsid, unsigned ifindex)
{
	return lease_slot_ns(t, nsid, ifindex);
}

const struct lease *
lease_table_find_by_ifindex(const struct lease_table *t, unsigned ifindex)
{
	return lease_slot_ns(t, LEASE_NSID_HOME, ifindex);
}

const struct lease *
lease_table_find_by_name(const struct lease_table *t, const char *name)
{
	size_t i = hash_name(name) & t->mask;

	for (; t->by_name[i] != 0; i = (i + 1) & t->mask) {
		if (strcmp(t->leases[t->by_name[i] - 1].name, name) == 0)
			return &t->leases[t->by_name[i] - 1];
	}
	return NULL;
}

void
lease_table_rename(struct lease_table *t, unsigned ifindex, const char *name)
{
	lease_table_rename_ns(t, LEASE_NSID_HOME, ifindex, name);
}

void
lease_table_rename_ns(struct lease_table *t, int nsid, unsigned ifindex,
    const char *name)
{
	ssize_t pos = lease_pos(t, nsid, ifindex);

	if (pos >= 0 && name[0] != '\0' &&
	    strcmp(t->leases[pos].name, name) != 0)
		lease_set_name(t, (size_t)pos, name);
}

void
lease_table_set_carrier_lost(struct lease_table *t, unsigned ifindex,
    bool lost)
{
	lease_table_set_carrier_lost_ns(t, LEASE_NSID_HOME, ifindex, lost);
}

void
lease_table_set_carrier_lost_ns(struct lease_table *t, int nsid,
    unsigned ifindex, bool lost)
{
	struct lease *l = lease_slot_ns(t, nsid, ifindex);

	if (l != NULL)
		l->carrier_lost = lost;
}

unsigned
lease_table_count_nsid(const struct lease_table *t, int nsid)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < t->n; i++)
		n += t->leases[i].nsid == nsid;
	return n;
}

unsigned
lease_table_count_uid(const struct lease_table *t, uid_t uid)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < t->n; i++)
		n += t->leases[i].uid == uid;
	return n;
}

unsigned
lease_table_count(const struct lease_table *t)
{
	return (unsigned)t->n;
}

const struct lease *
lease_table_at(const struct lease_table *t, size_t i)
{
	return i < t->n ? &t->leases[i] : NULL;
}

void
lease_alias_format(uid_t uid, char *buf, size_t size)
{
	snprintf(buf, size, LEASE_ALIAS_PREFIX "%u", (unsigned)uid);
}

int
lease_alias_parse(const char *alias, uid_t *uid)
{
	const char *digits = alias + strlen(LEASE_ALIAS_PREFIX);
	char *end;
	uintmax_t v;

	if (strncmp(alias, LEASE_ALIAS_PREFIX,
	    strlen(LEASE_ALIAS_PREFIX)) != 0 ||
	    *digits < '0' || *digits > '9')
		return -EINVAL;
	errno = 0;
	v = strtoumax(digits, &end, 10);
	if (errno != 0 || *end != '\0' || v >= (uid_t)-1)
		return -EINVAL;
	*uid = (uid_t)v;
	return 0;
}
