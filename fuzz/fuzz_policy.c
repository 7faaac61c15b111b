/*
 * libFuzzer target for the policy parser: tunbrokerd.conf(5) read by
 * conf_load(), then printed as --check-config prints it, then asked a few
 * fixed questions through policy_check_create(); the subnets the granting
 * rules' pools hand out must be distinct and inside their pools.
 *
 * The input is the whole main file.  It is written to a memfd and loaded
 * through /proc/self/fd/N, whose drop-in directory (N.d) never exists.
 * The user and group database is a fixed table defined here in place of
 * libc's, so that a run neither depends on the machine's accounts nor
 * waits on an NSS module.  A broken invariant calls abort().
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "policy.h"
#include "pool.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* The accounts the seeds name; uids and gids are the same numbers. */
static const struct account {
	const char *name;
	unsigned id;
} accounts[] = {
	{ "root", 0 }, { "kvm", 108 }, { "alice", 1000 }, { "bob", 1001 },
	{ "vpn", 1100 }, { "tunbroker", 1200 }, { "nobody", 65534 },
	{ "nogroup", 65534 },
};

static const struct account *
account_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(accounts) / sizeof(accounts[0]); i++) {
		if (strcmp(accounts[i].name, name) == 0)
			return &accounts[i];
	}
	return NULL;
}

static const struct account *
account_by_id(unsigned id)
{
	size_t i;

	for (i = 0; i < sizeof(accounts) / sizeof(accounts[0]); i++) {
		if (accounts[i].id == id)
			return &accounts[i];
	}
	return NULL;
}

static struct passwd *
fill_passwd(struct passwd *pw, const struct account *a)
{
	if (a == NULL)
		return NULL;
	memset(pw, 0, sizeof(*pw));
	pw->pw_name = (char *)(uintptr_t)a->name;
	pw->pw_passwd = (char *)(uintptr_t)"x";
	pw->pw_uid = a->id;
	pw->pw_gid = a->id;
	pw->pw_dir = (char *)(uintptr_t)"/";
	pw->pw_shell = (char *)(uintptr_t)"/bin/sh";
	return pw;
}

static struct group *
fill_group(struct group *gr, const struct account *a)
{
	static char *no_members[] = { NULL };

	if (a == NULL)
		return NULL;
	memset(gr, 0, sizeof(*gr));
	gr->gr_name = (char *)(uintptr_t)a->name;
	gr->gr_passwd = (char *)(uintptr_t)"x";
	gr->gr_gid = a->id;
	gr->gr_mem = no_members;
	return gr;
}

struct passwd *
getpwnam(const char *name)
{
	static struct passwd pw;

	return fill_passwd(&pw, account_by_name(name));
}

struct passwd *
getpwuid(uid_t uid)
{
	static struct passwd pw;

	return fill_passwd(&pw, account_by_id(uid));
}

int
getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t size,
    struct passwd **result)
{
	(void)buf;
	(void)size;
	*result = fill_passwd(pw, account_by_id(uid));
	return 0;
}

struct group *
getgrnam(const char *name)
{
	static struct group gr;

	return fill_group(&gr, account_by_name(name));
}

struct group *
getgrgid(gid_t gid)
{
	static struct group gr;

	return fill_group(&gr, account_by_id(gid));
}

static int memfd = -1;
static char path[64];
static FILE *devnull;
static bool verbose;		/* FUZZ_VERBOSE=1: show what each input gave */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = memfd_create("tunbrokerd.conf", MFD_CLOEXEC);
	devnull = fopen("/dev/null", "we");
	if (memfd < 0 || devnull == NULL) {
		perror("fuzz_policy: setup");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

/* Replaces the memfd's contents with the input. */
static void
write_input(const uint8_t *data, size_t size)
{
	size_t off = 0;
	ssize_t n;

	if (ftruncate(memfd, 0) != 0)
		abort();
	while (off < size) {
		n = pwrite(memfd, data + off, size - off, (off_t)off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
}

static struct tb_addr
addr(int family, const char *text, uint8_t prefixlen)
{
	struct tb_addr a;

	memset(&a, 0, sizeof(a));
	a.family = (uint8_t)family;
	a.prefixlen = prefixlen;
	if (inet_pton(family, text, a.addr) != 1)
		abort();
	return a;
}

/* Whether a (a subnet's address with its prefix) lies in def's prefix. */
static bool
in_pool(const struct tb_addr *a, const struct pool_def *def)
{
	unsigned bits = def->prefix.prefixlen;

	if (a->family != def->prefix.family || a->prefixlen != def->subnet)
		return false;
	if (memcmp(a->addr, def->prefix.addr, bits / 8) != 0)
		return false;
	return bits % 8 == 0 || ((a->addr[bits / 8] ^
	    def->prefix.addr[bits / 8]) & (0xff00u >> (bits % 8))) == 0;
}

/* Whether a lies in one of the pools rule names. */
static bool
in_rule_pools(const struct broker_config *cfg,
    const struct policy_rule *rule, const struct tb_addr *a)
{
	size_t i, j;

	for (i = 0; i < rule->npools; i++) {
		for (j = 0; j < cfg->npools; j++) {
			if (strcmp(cfg->pools[j].name, rule->pools[i]) == 0 &&
			    in_pool(a, &cfg->pools[j]))
				return true;
		}
	}
	return false;
}

/*
 * Takes a few subnets of each family from the pools a granting rule
 * names: each lies in one of its pools and differs from the one before.
 */
static void
take_subnets(const struct broker_config *cfg, struct pool_alloc *pa,
    const struct policy_rule *rule, size_t id)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct tb_addr a, prev;
	struct tb_error err;
	size_t f, k;
	int r;

	check(rule->pool_inet && rule->pool_inet6);
	for (f = 0; f < 2; f++) {
		memset(&prev, 0, sizeof(prev));
		for (k = 0; k < 3; k++) {
			r = pool_alloc_take(pa, (unsigned)(id * 8 + k + 1),
			    families[f], rule->pools, rule->npools, &a, &err);
			check(r == 0 || r == -ENOSPC);
			if (r != 0)
				break;
			check(memcmp(&a, &prev, sizeof(a)) != 0);
			check(in_rule_pools(cfg, rule, &a));
			prev = a;
		}
	}
}

/* Asks the loaded policy about a few clients and requests. */
static void
ask_policy(const struct broker_config *cfg)
{
	static gid_t groups[] = { 27, 100, 1000 };
	const struct peer_identity who[] = {
		{ .pid = 1, .uid = 0, .gid = 0 },
		{ .pid = 2, .uid = 1000, .gid = 1000, .groups = groups,
		    .ngroups = 3 },
		{ .pid = 3, .uid = 65534, .gid = 65534 },
	};
	struct tb_create_request req[4];
	const struct policy_rule *granted;
	struct pool_alloc *pa;
	struct tb_error err;
	size_t i, j;
	int r;

	memset(req, 0, sizeof(req));
	req[0].device_type = TB_DEVICE_TUN;
	req[1].device_type = TB_DEVICE_TUN;
	snprintf(req[1].name, sizeof(req[1].name), "vpn0");
	req[1].addrs[0] = addr(AF_INET, "198.18.0.1", 24);
	req[1].addrs[1] = addr(AF_INET6, "2001:db8::1", 64);
	req[1].naddrs = 2;
	req[1].peer = addr(AF_INET, "198.18.0.2", 32);
	req[1].has_peer = true;
	req[1].mtu = 1400;
	req[2].device_type = TB_DEVICE_TAP;
	snprintf(req[2].name, sizeof(req[2].name), "tap%%d");
	req[2].mtu = 9000;
	req[3].device_type = TB_DEVICE_TUN;
	req[3].auto_inet = true;
	req[3].auto_inet6 = true;

	check(pool_alloc_new(&pa) == 0);
	check(pool_alloc_configure(pa, cfg->pools, cfg->npools) == 0);

	for (i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		for (j = 0; j < sizeof(req) / sizeof(req[0]); j++) {
			memset(&err, 0, sizeof(err));
			r = policy_check_create_rule(cfg, &who[i], &req[j],
			    (unsigned)j * 2, &granted, &err);
			check(r == 0 || r == -EACCES || r == -EPERM ||
			    r == -EDQUOT);
			check((r == 0) == (granted != NULL));
			if (r != 0) {
				check(memchr(err.text, '\0',
				    sizeof(err.text)) != NULL);
				check(err.text[0] != '\0');
			} else if (req[j].auto_inet) {
				take_subnets(cfg, pa, granted, i * 8 + j);
			}
		}
	}
	pool_alloc_free(pa);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct broker_config cfg, untouched;
	struct tb_error err;
	size_t plen = strlen(path);
	int r;

	write_input(data, size);
	conf_init_default(&cfg);
	memcpy(&untouched, &cfg, sizeof(cfg));
	memset(&err, 0, sizeof(err));
	r = conf_load(path, &cfg, &err);
	if (r != 0) {
		/* "FILE:LINE: what is wrong", and nothing else changed. */
		if (verbose)
			fprintf(stderr, "%s\n", err.text);
		check(r < 0 && err.code == r);
		check(memchr(err.text, '\0', sizeof(err.text)) != NULL);
		if (strncmp(err.text, path, plen) != 0 ||
		    err.text[plen] != ':') {
			fprintf(stderr, "error does not start with \"%s:\": "
			    "%s\n", path, err.text);
			abort();
		}
		check(memcmp(&cfg, &untouched, sizeof(cfg)) == 0);
		return 0;
	}
	check(cfg.nfiles >= 1);
	conf_print(&cfg, verbose ? stderr : devnull);
	ask_policy(&cfg);
	conf_free(&cfg);
	return 0;
}
