#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"

/*
 * An array searched linearly: a look-up happens once per request and once
 * per link event, and even ten thousand leases are a few hundred KiB
 * scanned in microseconds.
 */
struct lease_table {
	struct lease *leases;
	size_t n;
	size_t cap;
	struct pool_alloc *pools;
};

int
lease_table_new(struct lease_table **out)
{
	struct lease_table *t;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	if (pool_alloc_new(&t->pools) != 0) {
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
	free(t);
}

static struct lease *
lease_slot_ns(const struct lease_table *t, int nsid, unsigned ifindex)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (t->leases[i].ifindex == ifindex &&
		    t->leases[i].nsid == nsid)
			return &t->leases[i];
	}
	return NULL;
}

static struct lease *
lease_slot(const struct lease_table *t, unsigned ifindex)
{
	return lease_slot_ns(t, LEASE_NSID_HOME, ifindex);
}

static void
lease_set_name(struct lease *l, const char *name)
{
	snprintf(l->name, sizeof(l->name), "%s", name);
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
	struct lease *l, *grown;

	if ((l = lease_slot_ns(t, nsid, ifindex)) == NULL) {
		if (t->n == t->cap) {
			size_t cap = t->cap == 0 ? 16 : t->cap * 2;

			grown = realloc(t->leases, cap * sizeof(*grown));
			if (grown == NULL)
				return -ENOMEM;
			t->leases = grown;
			t->cap = cap;
		}
		l = &t->leases[t->n++];
		l->created = time(NULL);
		l->carrier_lost = false;
	}
	l->uid = uid;
	l->ifindex = ifindex;
	l->nsid = nsid;
	lease_set_name(l, name);
	return 0;
}

int
lease_table_remove(struct lease_table *t, unsigned ifindex)
{
	return lease_table_remove_ns(t, LEASE_NSID_HOME, ifindex);
}

int
lease_table_remove_ns(struct lease_table *t, int nsid, unsigned ifindex)
{
	struct lease *l = lease_slot_ns(t, nsid, ifindex);

	/* Whatever the device held is free once it is gone. */
	pool_alloc_release(t->pools, pool_device_key(nsid, ifindex));
	if (l == NULL)
		return -ENOENT;
	*l = t->leases[--t->n];
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
			t->leases[i] = t->leases[--t->n];
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
	return lease_slot(t, ifindex);
}

const struct lease *
lease_table_find_by_name(const struct lease_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (strcmp(t->leases[i].name, name) == 0)
			return &t->leases[i];
	}
	return NULL;
}

void
lease_table_rename(struct lease_table *t, unsigned ifindex, const char *name)
{
	struct lease *l = lease_slot(t, ifindex);

	if (l != NULL && name[0] != '\0')
		lease_set_name(l, name);
}

void
lease_table_rename_ns(struct lease_table *t, int nsid, unsigned ifindex,
    const char *name)
{
	struct lease *l = lease_slot_ns(t, nsid, ifindex);

	if (l != NULL && name[0] != '\0')
		lease_set_name(l, name);
}

void
lease_table_set_carrier_lost(struct lease_table *t, unsigned ifindex,
    bool lost)
{
	struct lease *l = lease_slot(t, ifindex);

	if (l != NULL)
		l->carrier_lost = lost;
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
