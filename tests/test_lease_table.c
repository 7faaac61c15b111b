/*
 * The broker's lease table against a plain model: thousands of random
 * adds, removals, renames and look-ups, names shared by several leases
 * included, must agree with it at every step.  The table's hash indexes
 * are what make look-ups with ten thousand leases cheap; this is what
 * keeps them right.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"
#include "testlib.h"

#define KEYS	3000

struct model {
	bool live;
	uid_t uid;
	char name[TB_IFNAME_MAX];
};

/* Leases in the broker's namespace; a client's namespace's in other. */
#define OTHER_NSID	5
static struct model model[KEYS + 1];	/* by ifindex; 0 unused */
static struct model other[KEYS + 1];

/* Whether any live lease of the model is called name. */
static bool
model_has_name(const char *name)
{
	size_t i;

	for (i = 1; i <= KEYS; i++) {
		if (model[i].live && strcmp(model[i].name, name) == 0)
			return true;
	}
	return false;
}

static unsigned
model_count(void)
{
	unsigned i, n = 0;

	for (i = 1; i <= KEYS; i++)
		n += model[i].live + other[i].live;
	return n;
}

static void
check_all(const struct lease_table *t)
{
	const struct lease *l;
	unsigned i, n = model_count();

	ck_assert_uint_eq(lease_table_count(t), n);
	for (i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(l = lease_table_at(t, i));
		ck_assert(l->nsid == OTHER_NSID ? other[l->ifindex].live :
		    model[l->ifindex].live);
	}
	ck_assert_ptr_null(lease_table_at(t, n));
	for (i = 1; i <= KEYS; i++) {
		l = lease_table_find_by_ifindex(t, i);
		ck_assert(model[i].live == (l != NULL));
		if (l == NULL)
			continue;
		ck_assert_int_eq(l->nsid, LEASE_NSID_HOME);
		ck_assert_str_eq(l->name, model[i].name);
		ck_assert_uint_eq(l->uid, model[i].uid);
		l = lease_table_find_by_name(t, model[i].name);
		ck_assert_ptr_nonnull(l);
		ck_assert_str_eq(l->name, model[i].name);
	}
}

START_TEST(table_matches_model)
{
	struct lease_table *t;
	char name[TB_IFNAME_MAX];
	unsigned k, step;
	int r;

	srand(6);
	ck_assert_int_eq(lease_table_new(&t), 0);
	for (step = 0; step < 400000; step++) {
		k = (unsigned)rand() % KEYS + 1;
		/* Fewer names than keys: some leases share one. */
		snprintf(name, sizeof(name), "tun%u", (unsigned)rand() % 4000);
		switch (rand() % 11) {
		case 0: case 1: case 2: case 3:
			ck_assert_int_eq(lease_table_add(t, k % 7, k, name), 0);
			model[k].live = true;
			model[k].uid = k % 7;
			snprintf(model[k].name, sizeof(name), "%s", name);
			break;
		case 4: case 5: case 6:
			r = lease_table_remove(t, k);
			ck_assert_int_eq(r, model[k].live ? 0 : -ENOENT);
			model[k].live = false;
			break;
		case 7:
			lease_table_rename(t, k, name);
			if (model[k].live)
				snprintf(model[k].name, sizeof(name), "%s",
				    name);
			break;
		case 8:
			/* The same ifindex in another namespace is another. */
			if (rand() % 2 == 0) {
				ck_assert_int_eq(lease_table_add_ns(t,
				    OTHER_NSID, 1, k, "other"), 0);
				other[k].live = true;
			} else {
				ck_assert_int_eq(lease_table_remove_ns(t,
				    OTHER_NSID, k), other[k].live ? 0 :
				    -ENOENT);
				other[k].live = false;
			}
			ck_assert(other[k].live == (lease_table_find_ns(t,
			    OTHER_NSID, k) != NULL));
			break;
		default:
			ck_assert(model_has_name(name) ==
			    (lease_table_find_by_name(t, name) != NULL));
			break;
		}
		if (step % 50000 == 0)
			check_all(t);
	}
	check_all(t);
	ck_assert_uint_eq(lease_table_count_nsid(t, OTHER_NSID),
	    model_count() - lease_table_count_nsid(t, LEASE_NSID_HOME));
	/* The namespace dies: its leases end, the others stay. */
	for (k = 1; k <= KEYS; k++)
		other[k].live = false;
	lease_table_remove_nsid(t, OTHER_NSID);
	check_all(t);
	for (k = 1; k <= KEYS; k++) {
		if (model[k].live)
			ck_assert_int_eq(lease_table_remove(t, k), 0);
	}
	ck_assert_uint_eq(lease_table_count(t), 0);
	lease_table_free(t);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("lease_table");
	TCase *tc = tcase_create("lease_table");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, table_matches_model);
	suite_add_tcase(s, tc);
	return testlib_run(s, false);
}
