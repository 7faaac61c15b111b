#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"

struct lease {
	uid_t uid;
	unsigned ifindex;
	char name[TB_IFNAME_MAX];
};

struct lease_table {
	struct lease *leases;
	size_t n;
	size_t cap;
};

int
lease_table_new(struct lease_table **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? 0 : -ENOMEM;
}

void
lease_table_free(struct lease_table *t)
{
	if (t == NULL)
		return;
	free(t->leases);
	free(t);
}

int
lease_table_add(struct lease_table *t, uid_t uid, unsigned ifindex,
    const char *name)
{
	struct lease *grown;

	if (t->n == t->cap) {
		size_t cap = t->cap == 0 ? 16 : t->cap * 2;

		if ((grown = realloc(t->leases, cap * sizeof(*grown))) == NULL)
			return -ENOMEM;
		t->leases = grown;
		t->cap = cap;
	}
	t->leases[t->n].uid = uid;
	t->leases[t->n].ifindex = ifindex;
	strncpy(t->leases[t->n].name, name, TB_IFNAME_MAX - 1);
	t->leases[t->n].name[TB_IFNAME_MAX - 1] = '\0';
	t->n++;
	return 0;
}

/* Whether the kernel still has the device: same index, same name. */
static bool
lease_alive(const struct lease *l)
{
	char name[IF_NAMESIZE];

	return if_indextoname(l->ifindex, name) != NULL &&
	    strcmp(name, l->name) == 0;
}

/* Drops the leases of devices that are gone; O(n) lookups. */
static void
prune(struct lease_table *t)
{
	size_t i = 0;

	while (i < t->n) {
		if (lease_alive(&t->leases[i]))
			i++;
		else
			t->leases[i] = t->leases[--t->n];
	}
}

unsigned
lease_table_count_uid(struct lease_table *t, uid_t uid)
{
	unsigned n = 0;
	size_t i;

	prune(t);
	for (i = 0; i < t->n; i++)
		n += t->leases[i].uid == uid;
	return n;
}

unsigned
lease_table_count(struct lease_table *t)
{
	prune(t);
	return (unsigned)t->n;
}
