/*
 * The policy decision on configurations built here: every grant and every
 * refusal, how rules combine, and the sentence each refusal carries.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "policy.h"
#include "testlib.h"

#define MAIN_FILE	"/etc/tunbroker/tunbrokerd.conf"
#define DROPIN_FILE	"/etc/tunbroker/tunbrokerd.conf.d/50-vm.conf"

/* uids and gids with no name on any sane test machine. */
#define ALICE		4000
#define BOB		4001
#define STAFF		4100
#define VPN_GROUP	4200

/*
 * The structs hold the daemon's own strings as char *; the tests point
 * them at literals, which nothing writes through.
 */
static char *
text(const char *s)
{
	return (char *)(uintptr_t)s;
}

static char *star[1];
static char *files[2];
static char *vpn_names[1];
static char *vm_names[1];

static void
init_strings(void)
{
	star[0] = text("*");
	files[0] = text(MAIN_FILE);
	files[1] = text(DROPIN_FILE);
	vpn_names[0] = text("vpn*");
	vm_names[0] = text("vm*");
}

/* A rule with conf.h's defaults, defined at MAIN_FILE:line. */
static struct policy_rule
rule(const char *name, unsigned line)
{
	return (struct policy_rule){
		.name = text(name),
		.file = text(MAIN_FILE),
		.line = line,
		.device_types = 1u << TB_DEVICE_TUN,
		.names = star,
		.nnames = 1,
		.mtu_min = 68,
		.mtu_max = 65535,
		.max_queues = 1,
		.max_devices = 1,
	};
}

/* The default configuration, holding rules from the main file. */
static struct broker_config
config(struct policy_rule *rules, size_t nrules)
{
	struct broker_config cfg;

	conf_init_default(&cfg);
	cfg.rules = rules;
	cfg.nrules = nrules;
	cfg.files = files;
	cfg.nfiles = 1;
	return cfg;
}

static struct tb_addr
addr(const char *text)
{
	struct tb_error err;
	struct tb_addr a;

	ck_assert_msg(tb_addr_parse(text, true, &a, &err) == 0, "%s", err.text);
	return a;
}

/* A request for a TUN device; name may be "" for the default. */
static struct tb_create_request
request(const char *name, unsigned mtu)
{
	struct tb_create_request req = { .device_type = TB_DEVICE_TUN,
	    .mtu = mtu };

	snprintf(req.name, sizeof(req.name), "%s", name);
	return req;
}

static void
add_addr(struct tb_create_request *req, const char *text)
{
	req->addrs[req->naddrs++] = addr(text);
}

/* Checks that who gets code and, for a refusal, exactly the sentence. */
static void
expect(const struct broker_config *cfg, const struct peer_identity *who,
    const struct tb_create_request *req, unsigned live, int code,
    const char *text)
{
	struct tb_error err = { .code = 0 };
	int r;

	r = policy_check_create(cfg, who, req, live, &err);
	ck_assert_msg(r == code, "got %d (%s), want %d", r, err.text, code);
	if (code != 0) {
		ck_assert_int_eq(err.code, code);
		ck_assert_str_eq(err.text, text);
	}
}

static const struct peer_identity alice = { .uid = ALICE, .gid = ALICE };

START_TEST(no_rule_matches)
{
	uid_t bob[] = { BOB };
	struct policy_rule rules[] = { rule("bob", 3) };
	struct broker_config cfg = config(rules, 1);
	struct tb_create_request req = request("", 0);

	rules[0].users = bob;
	rules[0].nusers = 1;
	expect(&cfg, &alice, &req, 0, -EACCES,
	    "no rule in " MAIN_FILE " matches uid 4000");
	cfg.nfiles = 2;
	expect(&cfg, &alice, &req, 0, -EACCES,
	    "no rule in " MAIN_FILE " or its drop-ins matches uid 4000");
	/* With no file at all, nobody is allowed anything. */
	conf_init_default(&cfg);
	expect(&cfg, &alice, &req, 0, -EACCES,
	    "no rule matches uid 4000: no configuration file was read");
}
END_TEST

START_TEST(root_is_not_special)
{
	uid_t users[] = { ALICE };
	struct policy_rule rules[] = { rule("alice", 3) };
	struct broker_config cfg = config(rules, 1);
	struct tb_create_request req = request("", 0);
	struct peer_identity root = { .uid = 0, .gid = 0 };

	rules[0].users = users;
	rules[0].nusers = 1;
	expect(&cfg, &root, &req, 0, -EACCES,
	    "no rule in " MAIN_FILE " matches user root (uid 0)");
	users[0] = 0;
	expect(&cfg, &root, &req, 0, 0, NULL);
}
END_TEST

START_TEST(matches_uid_group_and_supplementary_group)
{
	uid_t users[] = { BOB, ALICE };
	gid_t groups[] = { STAFF, VPN_GROUP };
	gid_t supplementary[] = { 20, VPN_GROUP };
	struct policy_rule rules[] = { rule("r", 1) };
	struct broker_config cfg = config(rules, 1);
	struct tb_create_request req = request("", 0);
	struct peer_identity who = { .uid = ALICE, .gid = ALICE };

	rules[0].users = users;
	rules[0].nusers = 2;
	expect(&cfg, &who, &req, 0, 0, NULL);
	/* Groups only: the primary group, then a supplementary one. */
	rules[0].nusers = 0;
	rules[0].groups = groups;
	rules[0].ngroups = 2;
	expect(&cfg, &who, &req, 0, -EACCES,
	    "no rule in " MAIN_FILE " matches uid 4000");
	who.gid = STAFF;
	expect(&cfg, &who, &req, 0, 0, NULL);
	who.gid = ALICE;
	who.groups = supplementary;
	who.ngroups = 2;
	expect(&cfg, &who, &req, 0, 0, NULL);
	who.ngroups = 1;
	expect(&cfg, &who, &req, 0, -EACCES,
	    "no rule in " MAIN_FILE " matches uid 4000");
}
END_TEST

/* One rule for alice, changed by each test. */
static struct policy_rule alice_rules[1];
static uid_t alice_users[] = { ALICE };
static struct broker_config alice_cfg;

static void
setup_alice(void)
{
	alice_rules[0] = rule("vpn", 12);
	alice_rules[0].users = alice_users;
	alice_rules[0].nusers = 1;
	alice_cfg = config(alice_rules, 1);
}

#define CITE	"rule vpn (" MAIN_FILE ":12)"

START_TEST(defaults_grant_a_plain_request)
{
	struct tb_create_request req = request("", 0);

	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	/* But no address at all: the default ranges are none. */
	add_addr(&req, "198.18.0.1/24");
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "address 198.18.0.1/24 is outside the ranges " CITE " allows");
}
END_TEST

START_TEST(device_types)
{
	struct tb_create_request req = request("", 0);

	req.device_type = TB_DEVICE_TAP;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "device-type tap is not one " CITE " allows");
	alice_rules[0].device_types |= 1u << TB_DEVICE_TAP;
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	alice_rules[0].device_types = 1u << TB_DEVICE_TAP;
	req.device_type = TB_DEVICE_TUN;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "device-type tun is not one " CITE " allows");
	req.device_type = 99;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "device-type unknown is not one " CITE " allows");
}
END_TEST

START_TEST(names)
{
	char *patterns[] = { text("vpn%d"), text("vm*") };
	struct tb_create_request req;

	alice_rules[0].names = patterns;
	alice_rules[0].nnames = 2;
	req = request("vpn%d", 0);
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	req = request("vm7", 0);
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	req = request("vm%d", 0);
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	/* A pattern matches the name as written, not what %d becomes. */
	req = request("vpn0", 0);
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "name vpn0 matches no names pattern " CITE " allows");
	req = request("", 0);
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "name tun%d (the default) matches no names pattern " CITE
	    " allows");
	/* An empty list allows no name at all. */
	alice_rules[0].nnames = 0;
	req = request("vm7", 0);
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "name vm7 matches no names pattern " CITE " allows");
}
END_TEST

/* A TAP asked for without a name is judged by the name it will get. */
START_TEST(tap_default_name)
{
	char *patterns[] = { text("tap*") };
	struct tb_create_request req = request("", 0);

	alice_rules[0].device_types |= 1u << TB_DEVICE_TAP;
	alice_rules[0].names = patterns;
	alice_rules[0].nnames = 1;
	req.device_type = TB_DEVICE_TAP;
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	req.device_type = TB_DEVICE_TUN;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "name tun%d (the default) matches no names pattern " CITE
	    " allows");
	patterns[0] = text("tun*");
	req.device_type = TB_DEVICE_TAP;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "name tap%d (the default) matches no names pattern " CITE
	    " allows");
}
END_TEST

/* Routes must lie within a prefix; bridges are exact names. */
START_TEST(routes_and_bridges)
{
	struct tb_addr prefixes[] = { addr("198.18.4.0/24"),
	    addr("2001:db8:4::/48") };
	char *bridges[] = { text("br0"), text("br.lan") };
	struct tb_create_request req = request("", 0);

	req.device_type = TB_DEVICE_TAP;
	alice_rules[0].device_types |= 1u << TB_DEVICE_TAP;
	req.routes[0].dst = addr("198.18.4.128/25");
	req.nroutes = 1;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "route 198.18.4.128/25 is outside the route prefixes " CITE
	    " allows");
	alice_rules[0].routes = prefixes;
	alice_rules[0].nroutes = 2;
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	req.routes[1].dst = addr("2001:db8:4:1::/64");
	req.routes[2].dst = addr("198.18.4.0/24");
	req.nroutes = 3;
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	/* Overlapping is not lying within. */
	req.routes[3].dst = addr("198.18.0.0/16");
	req.nroutes = 4;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "route 198.18.0.0/16 is outside the route prefixes " CITE
	    " allows");
	req.routes[3].dst = addr("0.0.0.0/0");
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "route 0.0.0.0/0 is outside the route prefixes " CITE " allows");
	req.nroutes = 0;

	snprintf(req.bridge, sizeof(req.bridge), "br0");
	alice_rules[0].nbridges = 0;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "bridge br0 is not one of the bridges " CITE " allows");
	alice_rules[0].bridges = bridges;
	alice_rules[0].nbridges = 2;
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	snprintf(req.bridge, sizeof(req.bridge), "br.lan");
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	snprintf(req.bridge, sizeof(req.bridge), "br0x");
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "bridge br0x is not one of the bridges " CITE " allows");
	snprintf(req.bridge, sizeof(req.bridge), "brXlan");
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "bridge brXlan is not one of the bridges " CITE " allows");
}
END_TEST

START_TEST(ipv4_range_edges)
{
	struct tb_addr ranges[] = { addr("198.18.0.0/16") };
	static const struct {
		const char *addr;
		bool allowed;
	} cases[] = {
		{ "198.18.0.0/16", true },
		{ "198.18.0.1/24", true },
		{ "198.18.255.255/32", true },
		{ "198.19.0.0/32", false },
		{ "198.17.255.255/32", false },
		{ "198.18.0.1/15", false },	/* a wider network */
		{ "198.18.0.1/0", false },
		{ "::ffff:198.18.0.1/128", false },	/* not IPv4 */
	};
	char want[256];
	size_t i;

	alice_rules[0].addresses = ranges;
	alice_rules[0].naddresses = 1;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tb_create_request req = request("", 0);

		add_addr(&req, cases[i].addr);
		snprintf(want, sizeof(want),
		    "address %s is outside the ranges " CITE " allows",
		    cases[i].addr);
		expect(&alice_cfg, &alice, &req, 0, cases[i].allowed ? 0 :
		    -EPERM, want);
	}
}
END_TEST

START_TEST(ipv6_range_edges)
{
	struct tb_addr ranges[] = { addr("2001:db8::/32"),
	    addr("2001:db9:8000::/33") };
	static const struct {
		const char *addr;
		bool allowed;
	} cases[] = {
		{ "2001:db8::1/64", true },
		{ "2001:db8:ffff::1/64", true },
		{ "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128", true },
		{ "2001:db8::/32", true },
		{ "2001:db9::1/64", false },
		{ "2001:db7:ffff::1/64", false },
		{ "2001:db8::1/31", false },
		{ "2001:db9:8000::1/64", true },	/* bit 33 of the range */
		{ "2001:db9:7fff::1/64", false },
		{ "198.18.0.1/32", false },
	};
	char want[256];
	size_t i;

	alice_rules[0].addresses = ranges;
	alice_rules[0].naddresses = 2;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tb_create_request req = request("", 0);

		add_addr(&req, cases[i].addr);
		snprintf(want, sizeof(want),
		    "address %s is outside the ranges " CITE " allows",
		    cases[i].addr);
		expect(&alice_cfg, &alice, &req, 0, cases[i].allowed ? 0 :
		    -EPERM, want);
	}
}
END_TEST

START_TEST(every_address_and_the_peer)
{
	struct tb_addr ranges[] = { addr("198.18.0.0/15"),
	    addr("2001:db8::/32") };
	struct tb_create_request req = request("", 0);

	alice_rules[0].addresses = ranges;
	alice_rules[0].naddresses = 2;
	add_addr(&req, "198.18.0.1/24");
	add_addr(&req, "2001:db8::1/64");
	req.peer = addr("198.19.255.254");
	req.has_peer = true;
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	/* The first address outside, in request order, is the one cited. */
	add_addr(&req, "203.0.113.5/24");
	add_addr(&req, "2001:db9::1/64");
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "address 203.0.113.5/24 is outside the ranges " CITE " allows");
	req.naddrs = 2;
	req.peer = addr("198.20.0.1");
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "peer 198.20.0.1 is outside the ranges " CITE " allows");
}
END_TEST

START_TEST(mtu_range)
{
	struct tb_create_request req = request("", 1280);

	alice_rules[0].mtu_min = 1280;
	alice_rules[0].mtu_max = 1400;
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	req.mtu = 1400;
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	req.mtu = 1279;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "mtu 1279 is outside the range 1280-1400 " CITE " allows");
	req.mtu = 1401;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "mtu 1401 is outside the range 1280-1400 " CITE " allows");
	/* No MTU asked for is taken as 1500. */
	req.mtu = 0;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "mtu 1500 (the default) is outside the range 1280-1400 " CITE
	    " allows");
	alice_rules[0].mtu_max = 1500;
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
}
END_TEST

/* type, name, addresses, peer, mtu, quota: each shadows what follows. */
START_TEST(auto_addresses_need_a_pool_of_the_family)
{
	char *v4[] = { text("lab4") };
	struct tb_create_request req = request("", 0);
	const struct policy_rule *granted = NULL;
	struct tb_error err;

	req.auto_inet = true;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "auto-address IPv4 needs an IPv4 pool, and " CITE " names "
	    "no pools");
	alice_rules[0].pools = v4;
	alice_rules[0].npools = 1;
	alice_rules[0].pool_inet = true;
	/* A pool is its own permission: no addresses range is needed. */
	ck_assert_int_eq(policy_check_create_rule(&alice_cfg, &alice, &req, 0,
	    &granted, &err), 0);
	ck_assert_ptr_eq(granted, &alice_rules[0]);
	req.auto_inet6 = true;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "auto-address IPv6 needs an IPv6 pool, and " CITE " names none");
	alice_rules[0].pool_inet6 = true;
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	/* After the addresses, before the MTU. */
	add_addr(&req, "203.0.113.5/24");
	alice_rules[0].pool_inet = false;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "address 203.0.113.5/24 is outside the ranges " CITE " allows");
	req.naddrs = 0;
	req.mtu = 40000;
	alice_rules[0].mtu_max = 1500;
	expect(&alice_cfg, &alice, &req, 0, -EPERM,
	    "auto-address IPv4 needs an IPv4 pool, and " CITE " names none");
	/* A refusal grants no rule. */
	ck_assert_int_eq(policy_check_create_rule(&alice_cfg, &alice, &req, 0,
	    &granted, &err), -EPERM);
	ck_assert_ptr_null(granted);
}
END_TEST

START_TEST(check_order)
{
	struct tb_addr ranges[] = { addr("198.18.0.0/15") };
	struct tb_create_request req = request("eth0", 9000);

	alice_rules[0].names = vpn_names;
	alice_rules[0].addresses = ranges;
	alice_rules[0].naddresses = 1;
	alice_rules[0].mtu_max = 1500;
	add_addr(&req, "203.0.113.5/24");
	req.peer = addr("203.0.113.6");
	req.has_peer = true;
	req.device_type = TB_DEVICE_TAP;
	expect(&alice_cfg, &alice, &req, 5, -EPERM,
	    "device-type tap is not one " CITE " allows");
	req.device_type = TB_DEVICE_TUN;
	expect(&alice_cfg, &alice, &req, 5, -EPERM,
	    "name eth0 matches no names pattern " CITE " allows");
	snprintf(req.name, sizeof(req.name), "vpn1");
	expect(&alice_cfg, &alice, &req, 5, -EPERM,
	    "address 203.0.113.5/24 is outside the ranges " CITE " allows");
	req.addrs[0] = addr("198.18.0.1/24");
	expect(&alice_cfg, &alice, &req, 5, -EPERM,
	    "peer 203.0.113.6 is outside the ranges " CITE " allows");
	req.peer = addr("198.18.0.2");
	expect(&alice_cfg, &alice, &req, 5, -EPERM,
	    "mtu 9000 is outside the range 68-1500 " CITE " allows");
	req.mtu = 1500;
	expect(&alice_cfg, &alice, &req, 5, -EDQUOT,
	    "uid 4000 already holds 5 devices, as many as max-devices of "
	    CITE " allows");
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
}
END_TEST

START_TEST(quota)
{
	struct tb_create_request req = request("", 0);

	alice_rules[0].max_devices = 2;
	expect(&alice_cfg, &alice, &req, 0, 0, NULL);
	expect(&alice_cfg, &alice, &req, 1, 0, NULL);
	expect(&alice_cfg, &alice, &req, 2, -EDQUOT,
	    "uid 4000 already holds 2 devices, as many as max-devices of "
	    CITE " allows");
	expect(&alice_cfg, &alice, &req, 3, -EDQUOT,
	    "uid 4000 already holds 3 devices, as many as max-devices of "
	    CITE " allows");
}
END_TEST

START_TEST(devices_per_user_first)
{
	struct tb_create_request req = request("", 0);
	struct peer_identity stranger = { .uid = BOB, .gid = BOB };

	alice_rules[0].max_devices = 100;
	alice_cfg.limits.devices_per_user = 3;
	expect(&alice_cfg, &alice, &req, 2, 0, NULL);
	expect(&alice_cfg, &alice, &req, 3, -EDQUOT,
	    "uid 4000 already holds 3 devices, as many as [limits] "
	    "devices-per-user allows");
	/* Before any rule is looked at, and even for a rule's objection. */
	expect(&alice_cfg, &stranger, &req, 3, -EDQUOT,
	    "uid 4001 already holds 3 devices, as many as [limits] "
	    "devices-per-user allows");
	req.device_type = TB_DEVICE_TAP;
	expect(&alice_cfg, &alice, &req, 3, -EDQUOT,
	    "uid 4000 already holds 3 devices, as many as [limits] "
	    "devices-per-user allows");
}
END_TEST

/* Three rules for alice: two narrow ones, then a catch-all. */
static struct policy_rule combo_rules[4];
static struct broker_config combo_cfg;
static struct tb_addr combo_ranges[1];
static uid_t bob_users[] = { BOB };

static void
setup_combo(void)
{
	combo_ranges[0] = addr("198.18.0.0/15");
	/* Bob's rule, first in the file, would grant anything to alice. */
	combo_rules[0] = rule("bob", 2);
	combo_rules[0].users = bob_users;
	combo_rules[0].nusers = 1;
	combo_rules[0].max_devices = 100;
	combo_rules[1] = rule("vpn", 10);
	combo_rules[1].users = alice_users;
	combo_rules[1].nusers = 1;
	combo_rules[1].names = vpn_names;
	combo_rules[1].addresses = combo_ranges;
	combo_rules[1].naddresses = 1;
	combo_rules[1].max_devices = 2;
	combo_rules[2] = rule("vm", 20);
	combo_rules[2].users = alice_users;
	combo_rules[2].nusers = 1;
	combo_rules[2].names = vm_names;
	combo_rules[2].device_types = 1u << TB_DEVICE_TAP;
	combo_rules[2].max_devices = 8;
	combo_rules[2].file = text(DROPIN_FILE);
	combo_rules[3] = rule("any", 30);
	combo_rules[3].users = alice_users;
	combo_rules[3].nusers = 1;
	combo_rules[3].file = text(DROPIN_FILE);
	combo_rules[3].max_devices = 4;
	combo_cfg = config(combo_rules, 3);
	combo_cfg.nfiles = 2;
}

START_TEST(first_granting_rule_wins)
{
	struct tb_create_request req = request("vpn%d", 0);

	add_addr(&req, "198.18.0.1/24");
	expect(&combo_cfg, &alice, &req, 1, 0, NULL);
	/* Its quota is the one that counts, even if a later rule's is more. */
	combo_cfg.nrules = 4;
	expect(&combo_cfg, &alice, &req, 2, -EDQUOT,
	    "uid 4000 already holds 2 devices, as many as max-devices of "
	    "rule vpn (" MAIN_FILE ":10) allows");
}
END_TEST

START_TEST(refusing_rule_does_not_block_a_later_grant)
{
	struct tb_create_request req = request("vm%d", 0);

	/* vpn refuses the name; vm grants the tap device. */
	req.device_type = TB_DEVICE_TAP;
	expect(&combo_cfg, &alice, &req, 7, 0, NULL);
	expect(&combo_cfg, &alice, &req, 8, -EDQUOT,
	    "uid 4000 already holds 8 devices, as many as max-devices of "
	    "rule vm (" DROPIN_FILE ":20) allows");
	/* vpn and vm both refuse; the catch-all grants. */
	req = request("other0", 0);
	combo_cfg.nrules = 4;
	expect(&combo_cfg, &alice, &req, 0, 0, NULL);
}
END_TEST

START_TEST(refusal_cites_the_first_matching_rule)
{
	struct tb_create_request req = request("other0", 0);

	/* bob's rule does not match alice; vpn is the first that does. */
	expect(&combo_cfg, &alice, &req, 0, -EPERM,
	    "name other0 matches no names pattern rule vpn (" MAIN_FILE
	    ":10) allows");
	req = request("vm0", 0);
	add_addr(&req, "198.18.0.1/24");
	expect(&combo_cfg, &alice, &req, 0, -EPERM,
	    "name vm0 matches no names pattern rule vpn (" MAIN_FILE
	    ":10) allows");
	/* A grant leaves no refusal behind. */
	combo_rules[2].naddresses = 1;
	combo_rules[2].addresses = combo_ranges;
	combo_rules[2].device_types = 1u << TB_DEVICE_TUN;
	expect(&combo_cfg, &alice, &req, 0, 0, NULL);
}
END_TEST

START_TEST(names_are_hardened)
{
	static const char *const good[] = { "vpn0", "tb%d", "a.b-c_D9", "%d",
	    "abcdefghijklmno", "x%dy", "..." };
	static const struct {
		const char *name;
		const char *text;
	} bad[] = {
		{ "", "name is empty" },
		{ "abcdefghijklmnop", "name \"abcdefghijklmnop\" is longer "
		    "than 15 bytes" },
		{ ".", "name \".\" is not allowed" },
		{ "..", "name \"..\" is not allowed" },
		{ "x%d%d", "name \"x%d%d\" has more than one %d" },
		{ "a b", "name \"a b\" has a character other than letters, "
		    "digits, '_', '.', '-' and one %d" },
		{ "a/b", "name \"a/b\" has a character other than letters, "
		    "digits, '_', '.', '-' and one %d" },
		{ "a:0", "name \"a:0\" has a character other than letters, "
		    "digits, '_', '.', '-' and one %d" },
		{ "x%s", "name \"x%s\" has a character other than letters, "
		    "digits, '_', '.', '-' and one %d" },
		{ "x%", "name \"x%\" has a character other than letters, "
		    "digits, '_', '.', '-' and one %d" },
		{ "t\xc3\xbcn\n", "name \"t\\xc3\\xbcn\\x0a\" has a character "
		    "other than letters, digits, '_', '.', '-' and one %d" },
	};
	struct tb_error err;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(policy_check_name(good[i], &err) == 0,
		    "%s: %s", good[i], err.text);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(policy_check_name(bad[i].name, &err), -EINVAL);
		ck_assert_str_eq(err.text, bad[i].text);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("policy");
	TCase *who = tcase_create("who");
	TCase *what = tcase_create("what");
	TCase *combined = tcase_create("combined");

	init_strings();
	tcase_add_test(who, no_rule_matches);
	tcase_add_test(who, root_is_not_special);
	tcase_add_test(who, matches_uid_group_and_supplementary_group);
	suite_add_tcase(s, who);

	tcase_add_checked_fixture(what, setup_alice, NULL);
	tcase_add_test(what, defaults_grant_a_plain_request);
	tcase_add_test(what, device_types);
	tcase_add_test(what, names);
	tcase_add_test(what, tap_default_name);
	tcase_add_test(what, routes_and_bridges);
	tcase_add_test(what, ipv4_range_edges);
	tcase_add_test(what, ipv6_range_edges);
	tcase_add_test(what, every_address_and_the_peer);
	tcase_add_test(what, mtu_range);
	tcase_add_test(what, auto_addresses_need_a_pool_of_the_family);
	tcase_add_test(what, check_order);
	tcase_add_test(what, quota);
	tcase_add_test(what, devices_per_user_first);
	tcase_add_test(what, names_are_hardened);
	suite_add_tcase(s, what);

	tcase_add_checked_fixture(combined, setup_combo, NULL);
	tcase_add_test(combined, first_granting_rule_wins);
	tcase_add_test(combined, refusing_rule_does_not_block_a_later_grant);
	tcase_add_test(combined, refusal_cites_the_first_matching_rule);
	suite_add_tcase(s, combined);
	return testlib_run(s, false);
}
