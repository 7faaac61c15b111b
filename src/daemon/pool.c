/*
 * Address pools (see pool.h).  Addresses are counted in units: an IPv4
 * address is one unit, an IPv6 /64 is one (pools hand out nothing smaller),
 * so every range fits in 64 bits.  A pool's subnets are numbered from 0 at
 * its prefix; subnet i spans units base + (i << shift) onwards.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "array.h"
#include "pool.h"

/* One subnet index of a pool, held by refs holdings (usually one). */
struct pool_held {
	uint64_t index;
	unsigned refs;
};

/* A configured pool and the sorted indices of its held subnets. */
struct pool_state {
	char *name;
	char *file;
	unsigned line;
	struct tb_addr prefix;
	unsigned subnet;
	uint8_t family;
	uint64_t base;		/* the first unit */
	uint64_t last;		/* the last unit */
	uint64_t count;		/* subnets */
	unsigned shift;		/* log2 of the units in a subnet */
	struct pool_held *held;	/* sorted by index, distinct */
	size_t nheld, cap;
};

/* Units first..last of family, carried by a device (pool_device_key()). */
struct pool_holding {
	uint64_t device;
	uint8_t family;
	uint64_t first, last;
};

struct pool_alloc {
	struct pool_state *pools;
	size_t npools;
	struct pool_holding *holdings;	/* sorted by device */
	size_t nholdings, cap;
};

int
pool_alloc_new(struct pool_alloc **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? 0 : -ENOMEM;
}

static void
pool_states_free(struct pool_state *pools, size_t n)
{
	while (n > 0) {
		n--;
		free(pools[n].name);
		free(pools[n].file);
		free(pools[n].held);
	}
	free(pools);
}

void
pool_alloc_free(struct pool_alloc *pa)
{
	if (pa == NULL)
		return;
	pool_states_free(pa->pools, pa->npools);
	free(pa->holdings);
	free(pa);
}

/* The unit an address lies in: the address (IPv4) or its /64 (IPv6). */
static uint64_t
addr_unit(const struct tb_addr *a)
{
	uint64_t v = 0;
	size_t i, n = a->family == AF_INET ? 4 : 8;

	for (i = 0; i < n; i++)
		v = v << 8 | a->addr[i];
	return v;
}

/* The address whose unit is v, with host part host (IPv6: the low half). */
static void
unit_addr(uint8_t family, uint64_t v, uint64_t host, uint8_t prefixlen,
    struct tb_addr *a)
{
	size_t i, n = family == AF_INET ? 4 : 8;

	memset(a, 0, sizeof(*a));
	a->family = family;
	a->prefixlen = prefixlen;
	if (family == AF_INET)
		v += host;
	for (i = n; i > 0; i--, v >>= 8)
		a->addr[i - 1] = (uint8_t)v;
	for (i = 16; family == AF_INET6 && i > 8; i--, host >>= 8)
		a->addr[i - 1] = (uint8_t)host;
}

uint64_t
pool_subnet_count(const struct pool_def *def)
{
	unsigned subnet = def->prefix.family == AF_INET ? def->subnet : 64;
	unsigned bits = subnet - def->prefix.prefixlen;

	if (def->prefix.prefixlen > subnet)
		return 0;
	return bits >= 64 ? UINT64_MAX : (uint64_t)1 << bits;
}

/* How many units one subnet of def spans, as a shift. */
static unsigned
subnet_shift(const struct pool_def *def)
{
	return def->prefix.family == AF_INET ? 32 - def->subnet : 0;
}

void
pool_subnet_address(const struct pool_def *def, uint64_t index,
    struct tb_addr *addr)
{
	unsigned shift = subnet_shift(def);
	uint64_t first = addr_unit(&def->prefix) + (index << shift);

	/* A /31 has no network or broadcast address (RFC 3021). */
	if (def->prefix.family == AF_INET)
		unit_addr(AF_INET, first, def->subnet == 31 ? 0 : 1,
		    (uint8_t)def->subnet, addr);
	else
		unit_addr(AF_INET6, first, 1, 64, addr);
}

/* The position of index in p->held, or where it would go. */
static size_t
held_search(const struct pool_state *p, uint64_t index)
{
	size_t lo = 0, hi = p->nheld, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (p->held[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Room for extra more held indices in p, so that adding cannot fail. */
static int
held_reserve(struct pool_state *p, size_t extra)
{
	return array_reserve(&p->held, &p->cap, p->nheld + extra,
	    sizeof(*p->held), 16);
}

/* Adds one reference to index; room must have been reserved. */
static void
held_add(struct pool_state *p, uint64_t index)
{
	size_t i = held_search(p, index);

	if (i < p->nheld && p->held[i].index == index) {
		p->held[i].refs++;
		return;
	}
	memmove(&p->held[i + 1], &p->held[i],
	    (p->nheld - i) * sizeof(p->held[0]));
	p->held[i] = (struct pool_held){ .index = index, .refs = 1 };
	p->nheld++;
}

static void
held_drop(struct pool_state *p, uint64_t index)
{
	size_t i = held_search(p, index);

	if (i >= p->nheld || p->held[i].index != index ||
	    --p->held[i].refs > 0)
		return;
	memmove(&p->held[i], &p->held[i + 1],
	    (p->nheld - i - 1) * sizeof(p->held[0]));
	p->nheld--;
}

/*
 * The subnet indices of p that h overlaps, in *lo..*hi; false if none.
 * A holding spans at most one IPv4 /30, so that is at most two subnets.
 */
static bool
holding_cover(const struct pool_state *p, const struct pool_holding *h,
    uint64_t *lo, uint64_t *hi)
{
	uint64_t first, last;

	if (h->family != p->family || h->last < p->base || h->first > p->last)
		return false;
	first = h->first > p->base ? h->first : p->base;
	last = h->last < p->last ? h->last : p->last;
	*lo = (first - p->base) >> p->shift;
	*hi = (last - p->base) >> p->shift;
	return true;
}

/* Adds or drops h's references in every pool of pools[0..n). */
static void
holding_apply(struct pool_state *pools, size_t n,
    const struct pool_holding *h, bool add)
{
	uint64_t lo, hi, i;
	size_t k;

	for (k = 0; k < n; k++) {
		if (!holding_cover(&pools[k], h, &lo, &hi))
			continue;
		for (i = lo; i <= hi; i++) {
			if (add)
				held_add(&pools[k], i);
			else
				held_drop(&pools[k], i);
		}
	}
}

static int
pool_state_init(struct pool_state *p, const struct pool_def *def)
{
	memset(p, 0, sizeof(*p));
	p->name = strdup(def->name);
	p->file = strdup(def->file != NULL ? def->file : "");
	if (p->name == NULL || p->file == NULL)
		return -ENOMEM;
	p->line = def->line;
	p->prefix = def->prefix;
	p->subnet = def->subnet;
	p->family = def->prefix.family;
	p->shift = subnet_shift(def);
	p->count = pool_subnet_count(def);
	p->base = addr_unit(&def->prefix);
	p->last = p->base + ((p->count - 1) << p->shift) +
	    (((uint64_t)1 << p->shift) - 1);
	return 0;
}

int
pool_alloc_configure(struct pool_alloc *pa, const struct pool_def *defs,
    size_t n)
{
	struct pool_state *pools;
	uint64_t lo, hi;
	size_t i, k;

	if (n == 0) {
		pool_states_free(pa->pools, pa->npools);
		pa->pools = NULL;
		pa->npools = 0;
		return 0;
	}
	if ((pools = calloc(n, sizeof(*pools))) == NULL)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		if (pool_state_init(&pools[k], &defs[k]) != 0)
			goto nomem;
		/* Room first, so that laying the holdings over cannot fail. */
		for (i = 0; i < pa->nholdings; i++) {
			if (!holding_cover(&pools[k], &pa->holdings[i], &lo,
			    &hi))
				continue;
			if (held_reserve(&pools[k], hi - lo + 1) != 0)
				goto nomem;
			holding_apply(&pools[k], 1, &pa->holdings[i], true);
		}
	}
	pool_states_free(pa->pools, pa->npools);
	pa->pools = pools;
	pa->npools = n;
	return 0;
nomem:
	pool_states_free(pools, n);
	return -ENOMEM;
}

/* The first holding of device, or where one would go. */
static size_t
holding_search(const struct pool_alloc *pa, uint64_t device)
{
	size_t lo = 0, hi = pa->nholdings, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (pa->holdings[mid].device < device)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Records h, and its references in every pool; nothing changes on error. */
static int
holding_add(struct pool_alloc *pa, const struct pool_holding *h)
{
	uint64_t lo, hi;
	size_t i;

	for (i = holding_search(pa, h->device); i < pa->nholdings &&
	    pa->holdings[i].device == h->device; i++) {
		if (pa->holdings[i].family == h->family &&
		    pa->holdings[i].first == h->first &&
		    pa->holdings[i].last == h->last)
			return 0;
	}
	if (array_reserve(&pa->holdings, &pa->cap, pa->nholdings + 1,
	    sizeof(*pa->holdings), 64) != 0)
		return -ENOMEM;
	for (i = 0; i < pa->npools; i++) {
		if (holding_cover(&pa->pools[i], h, &lo, &hi) &&
		    held_reserve(&pa->pools[i], hi - lo + 1) != 0)
			return -ENOMEM;
	}
	/* After the last holding of its device: ifindexes mostly grow. */
	i = h->device == UINT64_MAX ? pa->nholdings :
	    holding_search(pa, h->device + 1);
	memmove(&pa->holdings[i + 1], &pa->holdings[i],
	    (pa->nholdings - i) * sizeof(pa->holdings[0]));
	pa->holdings[i] = *h;
	pa->nholdings++;
	holding_apply(pa->pools, pa->npools, h, true);
	return 0;
}

int
pool_alloc_hold(struct pool_alloc *pa, uint64_t device,
    const struct tb_addr *addr)
{
	struct pool_holding h = { .device = device, .family = addr->family };

	if (addr->family != AF_INET && addr->family != AF_INET6)
		return 0;
	h.first = h.last = addr_unit(addr);
	return holding_add(pa, &h);
}

void
pool_alloc_release(struct pool_alloc *pa, uint64_t device)
{
	size_t first = holding_search(pa, device), end = first;

	while (end < pa->nholdings && pa->holdings[end].device == device)
		holding_apply(pa->pools, pa->npools, &pa->holdings[end++],
		    false);
	/* Most devices hold nothing, and holdings may not exist at all. */
	if (end == first)
		return;
	memmove(&pa->holdings[first], &pa->holdings[end],
	    (pa->nholdings - end) * sizeof(pa->holdings[0]));
	pa->nholdings -= end - first;
}

static const struct pool_state *
pool_find(const struct pool_alloc *pa, const char *name)
{
	size_t i;

	for (i = 0; i < pa->npools; i++) {
		if (strcmp(pa->pools[i].name, name) == 0)
			return &pa->pools[i];
	}
	return NULL;
}

size_t
pool_alloc_held(const struct pool_alloc *pa, const char *name)
{
	const struct pool_state *p = pool_find(pa, name);

	return p != NULL ? p->nheld : 0;
}

/*
 * The lowest subnet index of p that nobody holds.  The held indices are
 * sorted and distinct, so held[i].index - i never decreases, and the
 * first i where it is not 0 is the first gap.
 */
static uint64_t
pool_lowest_free(const struct pool_state *p)
{
	size_t lo = 0, hi = p->nheld, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (p->held[mid].index == mid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Appends "name (prefix in /N subnets, FILE:LINE)" to buf at *used. */
static void
describe_pool(const struct pool_state *p, char *buf, size_t size,
    size_t *used)
{
	char text[TB_ADDR_TEXT_MAX];
	int w;

	if (*used >= size)
		return;
	w = snprintf(buf + *used, size - *used, "%s%s (%s in /%u subnets, "
	    "%" PRIu64 " of them, %s:%u)", *used > 0 ? ", " : "", p->name,
	    tb_addr_format(&p->prefix, true, text, sizeof(text)), p->subnet,
	    p->count, p->file, p->line);
	if (w > 0)
		*used += (size_t)w;
}

int
pool_alloc_take(struct pool_alloc *pa, uint64_t device, int family,
    char *const *names, size_t n, struct tb_addr *addr, struct tb_error *err)
{
	const char *fam = family == AF_INET ? "IPv4" : "IPv6";
	char full[TB_ERROR_TEXT_MAX];
	const struct pool_state *p;
	struct pool_def def;
	struct pool_holding h = { .device = device,
	    .family = (uint8_t)family };
	size_t i, used = 0, nfull = 0;
	uint64_t index;
	int r;

	full[0] = '\0';
	for (i = 0; i < n; i++) {
		if ((p = pool_find(pa, names[i])) == NULL ||
		    p->family != family)
			continue;
		if ((index = pool_lowest_free(p)) >= p->count) {
			describe_pool(p, full, sizeof(full), &used);
			nfull++;
			continue;
		}
		h.first = p->base + (index << p->shift);
		h.last = h.first + (((uint64_t)1 << p->shift) - 1);
		if ((r = holding_add(pa, &h)) != 0)
			return tb_error_set(err, r, "auto-address %s: "
			    "recording a subnet of pool %s: %s", fam, p->name,
			    strerror(-r));
		def = (struct pool_def){ .prefix = p->prefix,
		    .subnet = p->subnet };
		pool_subnet_address(&def, index, addr);
		return 0;
	}
	if (nfull == 0)
		return tb_error_set(err, -ENOENT,
		    "auto-address %s: no %s pool is configured among those "
		    "named", fam, fam);
	return tb_error_set(err, -ENOSPC,
	    "auto-address %s: every subnet is held in %s %s", fam,
	    nfull == 1 ? "pool" : "pools", full);
}
