/*
 * The address-pool allocator alone (src/daemon/pool.c): lowest free
 * subnet first, what each subnet size gives the device, exhaustion,
 * release and reuse, reloads that change the pools under live holdings,
 * adopted addresses, and ten thousand leases.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "pool.h"
#include "testlib.h"

static char *
text(const char *s)
{
	return (char *)(uintptr_t)s;
}

static struct tb_addr
parse(const char *cidr)
{
	struct tb_error err;
	struct tb_addr a;

	ck_assert_msg(tb_addr_parse(cidr, true, &a, &err) == 0, "%s",
	    err.text);
	return a;
}

static struct pool_def
def(const char *name, const char *prefix, unsigned subnet)
{
	return (struct pool_def){ .name = text(name),
	    .file = text("/etc/tunbrokerd.conf"), .line = 7,
	    .prefix = parse(prefix), .subnet = subnet };
}

/* Takes a subnet of pool name for ifindex and returns it as text. */
static const char *
take(struct pool_alloc *pa, unsigned ifindex, int family, const char *name,
    char *buf, size_t size)
{
	char *names[1] = { text(name) };
	struct tb_error err;
	struct tb_addr a;
	int r;

	r = pool_alloc_take(pa, ifindex, family, names, 1, &a, &err);
	ck_assert_msg(r == 0, "take %u from %s: %s", ifindex, name, err.text);
	return tb_addr_format(&a, true, buf, size);
}

/* Checks that pool name gives ifindex the subnet want, as text. */
static void
assert_takes(struct pool_alloc *pa, unsigned ifindex, int family,
    const char *name, const char *want)
{
	char t[TB_ADDR_TEXT_MAX];

	ck_assert_str_eq(take(pa, ifindex, family, name, t, sizeof(t)), want);
}

/* Checks that a, as text with its prefix, is want. */
static void
assert_addr(const struct tb_addr *a, const char *want)
{
	char t[TB_ADDR_TEXT_MAX];

	ck_assert_str_eq(tb_addr_format(a, true, t, sizeof(t)), want);
}

static struct pool_alloc *
alloc_with(const struct pool_def *defs, size_t n)
{
	struct pool_alloc *pa;

	ck_assert_int_eq(pool_alloc_new(&pa), 0);
	ck_assert_int_eq(pool_alloc_configure(pa, defs, n), 0);
	return pa;
}

START_TEST(slash30_gives_first_host_lowest_first)
{
	struct pool_def d = def("v4", "198.18.64.0/28", 30);
	struct pool_alloc *pa = alloc_with(&d, 1);

	assert_takes(pa, 10, AF_INET, "v4", "198.18.64.1/30");
	assert_takes(pa, 11, AF_INET, "v4", "198.18.64.5/30");
	assert_takes(pa, 12, AF_INET, "v4", "198.18.64.9/30");
	/* The lowest free one comes back first. */
	pool_alloc_release(pa, 11);
	ck_assert_uint_eq(pool_alloc_held(pa, "v4"), 2);
	assert_takes(pa, 13, AF_INET, "v4", "198.18.64.5/30");
	assert_takes(pa, 14, AF_INET, "v4", "198.18.64.13/30");
	pool_alloc_free(pa);
}
END_TEST

START_TEST(slash31_gives_lower_address)
{
	struct pool_def d = def("p2p", "198.18.64.0/30", 31);
	struct pool_alloc *pa = alloc_with(&d, 1);

	assert_takes(pa, 1, AF_INET, "p2p", "198.18.64.0/31");
	assert_takes(pa, 2, AF_INET, "p2p", "198.18.64.2/31");
	pool_alloc_free(pa);
}
END_TEST

START_TEST(slash64_gives_host_one)
{
	struct pool_def d = def("v6", "2001:db8:1::/48", 64);
	struct pool_alloc *pa = alloc_with(&d, 1);

	assert_takes(pa, 1, AF_INET6, "v6", "2001:db8:1::1/64");
	assert_takes(pa, 2, AF_INET6, "v6", "2001:db8:1:1::1/64");
	assert_takes(pa, 3, AF_INET6, "v6", "2001:db8:1:2::1/64");
	/* The last /64 of a /48, by holding all but it. */
	pool_alloc_free(pa);
	d = def("v6", "2001:db8:1:fffe::/63", 64);
	pa = alloc_with(&d, 1);
	assert_takes(pa, 1, AF_INET6, "v6", "2001:db8:1:fffe::1/64");
	assert_takes(pa, 2, AF_INET6, "v6", "2001:db8:1:ffff::1/64");
	pool_alloc_free(pa);
}
END_TEST

START_TEST(exhaustion_names_the_pool)
{
	struct pool_def d = def("tiny", "198.18.64.0/29", 30);
	struct pool_alloc *pa = alloc_with(&d, 1);
	char *names[1] = { text("tiny") };
	char t[TB_ADDR_TEXT_MAX];
	struct tb_error err;
	struct tb_addr a;

	take(pa, 1, AF_INET, "tiny", t, sizeof(t));
	take(pa, 2, AF_INET, "tiny", t, sizeof(t));
	ck_assert_int_eq(pool_alloc_take(pa, 3, AF_INET, names, 1, &a, &err),
	    -ENOSPC);
	ck_assert_int_eq(err.code, -ENOSPC);
	ck_assert_msg(strstr(err.text, "pool tiny (198.18.64.0/29 in /30 "
	    "subnets, 2 of them, /etc/tunbrokerd.conf:7)") != NULL, "%s",
	    err.text);
	/* A failed take holds nothing: ifindex 3 releases nothing. */
	pool_alloc_release(pa, 3);
	ck_assert_uint_eq(pool_alloc_held(pa, "tiny"), 2);
	pool_alloc_release(pa, 1);
	assert_takes(pa, 3, AF_INET, "tiny", "198.18.64.1/30");
	pool_alloc_free(pa);
}
END_TEST

START_TEST(first_pool_with_room_of_the_family)
{
	struct pool_def d[3] = {
		def("six", "2001:db8:2::/64", 64),
		def("small", "198.18.64.0/30", 30),
		def("big", "198.18.65.0/24", 31),
	};
	struct pool_alloc *pa = alloc_with(d, 3);
	char *names[3] = { text("six"), text("small"), text("big") };
	char *only6[1] = { text("six") };
	struct tb_error err;
	struct tb_addr a;

	ck_assert_int_eq(pool_alloc_take(pa, 1, AF_INET, names, 3, &a, &err),
	    0);
	assert_addr(&a, "198.18.64.1/30");
	ck_assert_int_eq(pool_alloc_take(pa, 2, AF_INET, names, 3, &a, &err),
	    0);
	assert_addr(&a, "198.18.65.0/31");
	ck_assert_int_eq(pool_alloc_take(pa, 3, AF_INET6, names, 3, &a, &err),
	    0);
	assert_addr(&a, "2001:db8:2::1/64");
	/* Both pools of the family named when all are full. */
	ck_assert_int_eq(pool_alloc_take(pa, 4, AF_INET6, names, 3, &a, &err),
	    -ENOSPC);
	ck_assert_ptr_nonnull(strstr(err.text, "pool six"));
	/* No pool of the family at all. */
	ck_assert_int_eq(pool_alloc_take(pa, 4, AF_INET, only6, 1, &a, &err),
	    -ENOENT);
	pool_alloc_free(pa);
}
END_TEST

START_TEST(held_addresses_are_skipped)
{
	struct pool_def d[2] = {
		def("v4", "198.18.64.0/28", 30),
		def("v6", "2001:db8:3::/62", 64),
	};
	struct pool_alloc *pa = alloc_with(d, 2);
	struct tb_addr held;

	/* An adopted device shows 198.18.64.1/30 and 2001:db8:3::1/64. */
	held = parse("198.18.64.1/30");
	ck_assert_int_eq(pool_alloc_hold(pa, 5, &held), 0);
	ck_assert_int_eq(pool_alloc_hold(pa, 5, &held), 0);
	held = parse("2001:db8:3::1/64");
	ck_assert_int_eq(pool_alloc_hold(pa, 5, &held), 0);
	/* Another device carries an address in the third /30. */
	held = parse("198.18.64.10/32");
	ck_assert_int_eq(pool_alloc_hold(pa, 6, &held), 0);
	assert_takes(pa, 7, AF_INET, "v4", "198.18.64.5/30");
	assert_takes(pa, 8, AF_INET, "v4", "198.18.64.13/30");
	assert_takes(pa, 7, AF_INET6, "v6", "2001:db8:3:1::1/64");
	/* Holding the same address twice was one holding: one release. */
	pool_alloc_release(pa, 5);
	assert_takes(pa, 9, AF_INET, "v4", "198.18.64.1/30");
	assert_takes(pa, 9, AF_INET6, "v6", "2001:db8:3::1/64");
	pool_alloc_free(pa);
}
END_TEST

START_TEST(reload_keeps_holdings)
{
	struct pool_def old = def("old", "198.18.64.0/29", 30);
	struct pool_def fresh[2] = {
		/* The same range in /31s, and one that is new. */
		def("again", "198.18.64.0/29", 31),
		def("new", "198.18.70.0/30", 30),
	};
	struct pool_alloc *pa = alloc_with(&old, 1);
	char *names[1] = { text("old") };
	char t[TB_ADDR_TEXT_MAX];
	struct tb_error err;
	struct tb_addr a;

	take(pa, 1, AF_INET, "old", t, sizeof(t));	/* .0/30 */
	ck_assert_int_eq(pool_alloc_configure(pa, fresh, 2), 0);
	/* The pool is gone: nothing comes from it any more. */
	ck_assert_int_eq(pool_alloc_take(pa, 2, AF_INET, names, 1, &a, &err),
	    -ENOENT);
	/* Lease 1's /30 covers the first two /31s of the new pool. */
	ck_assert_uint_eq(pool_alloc_held(pa, "again"), 2);
	assert_takes(pa, 2, AF_INET, "again", "198.18.64.4/31");
	assert_takes(pa, 3, AF_INET, "again", "198.18.64.6/31");
	pool_alloc_release(pa, 1);
	assert_takes(pa, 4, AF_INET, "again", "198.18.64.0/31");
	assert_takes(pa, 5, AF_INET, "new", "198.18.70.1/30");
	/* And back: the /31s held map onto the /30s they lie in. */
	ck_assert_int_eq(pool_alloc_configure(pa, &old, 1), 0);
	ck_assert_uint_eq(pool_alloc_held(pa, "old"), 2);
	ck_assert_int_eq(pool_alloc_take(pa, 6, AF_INET, names, 1, &a, &err),
	    -ENOSPC);
	pool_alloc_release(pa, 4);
	ck_assert_int_eq(pool_alloc_take(pa, 6, AF_INET, names, 1, &a, &err),
	    0);
	assert_addr(&a, "198.18.64.1/30");
	ck_assert_int_eq(pool_alloc_configure(pa, NULL, 0), 0);
	pool_alloc_free(pa);
}
END_TEST

/* Ten thousand leases in a /15 of /30s and a /48 of /64s. */
START_TEST(ten_thousand_leases)
{
	struct pool_def d[2] = {
		def("v4", "198.18.0.0/15", 30),
		def("v6", "2001:db8:4::/48", 64),
	};
	struct pool_alloc *pa = alloc_with(d, 2);
	char *n4[1] = { text("v4") }, *n6[1] = { text("v6") };
	struct tb_error err;
	struct tb_addr a, b;
	uint32_t v4, expect;
	unsigned i;

	for (i = 0; i < 10000; i++) {
		ck_assert_int_eq(pool_alloc_take(pa, 100 + i, AF_INET, n4, 1,
		    &a, &err), 0);
		ck_assert_int_eq(pool_alloc_take(pa, 100 + i, AF_INET6, n6, 1,
		    &b, &err), 0);
		memcpy(&v4, a.addr, 4);
		expect = (198u << 24 | 18u << 16) + i * 4 + 1;
		ck_assert_uint_eq(ntohl(v4), expect);
		ck_assert_uint_eq((unsigned)b.addr[6] << 8 | b.addr[7], i);
	}
	ck_assert_uint_eq(pool_alloc_held(pa, "v4"), 10000);
	/* Free every other one, in a scattered order, and take them back. */
	for (i = 0; i < 10000; i += 2)
		pool_alloc_release(pa, 100 + (i * 7919) % 10000);
	ck_assert_uint_eq(pool_alloc_held(pa, "v4"), 5000);
	ck_assert_uint_eq(pool_alloc_held(pa, "v6"), 5000);
	for (i = 0; i < 5000; i++)
		ck_assert_int_eq(pool_alloc_take(pa, 20000 + i, AF_INET, n4, 1,
		    &a, &err), 0);
	ck_assert_uint_eq(pool_alloc_held(pa, "v4"), 10000);
	/* Full up to 10000 subnets: the next is the 10001st. */
	ck_assert_int_eq(pool_alloc_take(pa, 30000, AF_INET, n4, 1, &a,
	    &err), 0);
	memcpy(&v4, a.addr, 4);
	ck_assert_uint_eq(ntohl(v4),
	    (198u << 24 | 18u << 16) + 10000 * 4 + 1);
	pool_alloc_free(pa);
}
END_TEST

/* A device that holds nothing, in an allocator that holds nothing. */
START_TEST(release_without_holdings)
{
	struct pool_alloc *pa;
	struct tb_addr a = parse("198.18.0.1/24");

	ck_assert_int_eq(pool_alloc_new(&pa), 0);
	pool_alloc_release(pa, 1);
	ck_assert_int_eq(pool_alloc_hold(pa, 2, &a), 0);
	pool_alloc_release(pa, 1);
	pool_alloc_release(pa, 2);
	pool_alloc_release(pa, 2);
	ck_assert_uint_eq(pool_alloc_held(pa, "none"), 0);
	pool_alloc_free(pa);
}
END_TEST

START_TEST(subnet_arithmetic)
{
	struct pool_def d = def("v4", "198.18.128.0/17", 30);
	struct tb_addr a;

	ck_assert_uint_eq(pool_subnet_count(&d), 8192);
	pool_subnet_address(&d, 8191, &a);
	assert_addr(&a, "198.18.255.253/30");
	d = def("v4", "198.18.0.0/15", 31);
	ck_assert_uint_eq(pool_subnet_count(&d), 65536);
	pool_subnet_address(&d, 65535, &a);
	assert_addr(&a, "198.19.255.254/31");
	d = def("v6", "2001:db8::/32", 64);
	ck_assert_uint_eq(pool_subnet_count(&d), (uint64_t)1 << 32);
	pool_subnet_address(&d, 0xffffffffu, &a);
	assert_addr(&a, "2001:db8:ffff:ffff::1/64");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("allocator");

	tcase_add_test(tc, slash30_gives_first_host_lowest_first);
	tcase_add_test(tc, slash31_gives_lower_address);
	tcase_add_test(tc, slash64_gives_host_one);
	tcase_add_test(tc, exhaustion_names_the_pool);
	tcase_add_test(tc, first_pool_with_room_of_the_family);
	tcase_add_test(tc, held_addresses_are_skipped);
	tcase_add_test(tc, reload_keeps_holdings);
	tcase_add_test(tc, ten_thousand_leases);
	tcase_add_test(tc, release_without_holdings);
	tcase_add_test(tc, subnet_arithmetic);
	suite_add_tcase(s, tc);
	return testlib_run(s, false);
}
