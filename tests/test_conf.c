/* tunbrokerd.conf(5): what is accepted, and how each mistake is reported. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "testlib.h"

static char *dir;

static void
setup(void)
{
	dir = testlib_mkdtemp();
}

static void
teardown(void)
{
	testlib_rmtree(dir);
	free(dir);
}

/* Writes text to dir/name (making dir/tunbrokerd.conf.d if needed). */
static char *
write_conf(const char *name, const char *text)
{
	char *path, *dropins;
	FILE *f;

	ck_assert_int_ge(asprintf(&dropins, "%s/tunbrokerd.conf.d", dir), 0);
	mkdir(dropins, 0755);
	free(dropins);
	ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static char *
main_conf(const char *text)
{
	return write_conf("tunbrokerd.conf", text);
}

/* Loads text as the main file, which must be accepted. */
static void
load_ok(const char *text, struct broker_config *cfg)
{
	struct tb_error err;
	char *path = main_conf(text);

	ck_assert_msg(conf_load(path, cfg, &err) == 0, "%s", err.text);
	free(path);
}

/* Loads text, expecting -EINVAL and exactly "DIR/tunbrokerd.conf:want". */
static void
expect_error(const char *text, const char *want)
{
	struct broker_config cfg = { .nrules = 4242 };
	struct tb_error err;
	char *path = main_conf(text), *full;

	ck_assert_int_ge(asprintf(&full, "%s:%s", path, want), 0);
	ck_assert_int_eq(conf_load(path, &cfg, &err), -EINVAL);
	ck_assert_str_eq(err.text, full);
	/* A failed load leaves the caller's configuration alone. */
	ck_assert_uint_eq(cfg.nrules, 4242);
	free(full);
	free(path);
}

static const char *
addr_text(const struct tb_addr *a)
{
	static char buf[TB_ADDR_TEXT_MAX];

	return tb_addr_format(a, true, buf, sizeof(buf));
}

START_TEST(every_key)
{
	struct broker_config cfg;
	const struct policy_rule *r;

	load_ok("# comment\n"
	    "; another\n"
	    "[socket]\n"
	    "mode = 0640\n"
	    "group = nogroup\n"
	    "\n"
	    "[limits]\n"
	    "connections = 100\n"
	    "connections-per-user = 5\n"
	    "devices-per-user = 7\n"
	    "idle-timeout = 30\n"
	    "message-size = 4096\n"
	    "\n"
	    "[rule vpn]\n"
	    "users = nobody, 1000 2000\n"
	    "groups = 65534,4242\n"
	    "device-types = tun, tap\n"
	    "names = vpn%d vm*\n"
	    "addresses = 198.18.0.0/15, 2001:db8::/32, 198.19.7.7\n"
	    "routes = 198.18.0.0/16 2001:db8:1::/48\n"
	    "mtu = 1280-9000\n"
	    "queues = 4\n"
	    "offload = yes\n"
	    "bridges = br0, br-lan\n"
	    "namespaces = own\n"
	    "max-devices = 3\n", &cfg);
	ck_assert_uint_eq(cfg.socket_mode, 0640);
	ck_assert(cfg.has_socket_group);
	ck_assert_uint_eq(cfg.socket_group, 65534);
	ck_assert_uint_eq(cfg.limits.connections, 100);
	ck_assert_uint_eq(cfg.limits.connections_per_user, 5);
	ck_assert_uint_eq(cfg.limits.devices_per_user, 7);
	ck_assert_uint_eq(cfg.limits.idle_timeout_s, 30);
	ck_assert_uint_eq(cfg.limits.message_size, 4096);
	ck_assert_uint_eq(cfg.nfiles, 1);
	ck_assert_uint_eq(cfg.nrules, 1);
	r = &cfg.rules[0];
	ck_assert_str_eq(r->name, "vpn");
	ck_assert_str_eq(r->file, cfg.files[0]);
	ck_assert_uint_eq(r->line, 14);
	ck_assert_uint_eq(r->nusers, 3);
	ck_assert_uint_eq(r->users[0], 65534);
	ck_assert_uint_eq(r->users[1], 1000);
	ck_assert_uint_eq(r->users[2], 2000);
	ck_assert_uint_eq(r->ngroups, 2);
	ck_assert_uint_eq(r->groups[0], 65534);
	ck_assert_uint_eq(r->groups[1], 4242);
	ck_assert_uint_eq(r->device_types,
	    (1u << TB_DEVICE_TUN) | (1u << TB_DEVICE_TAP));
	ck_assert_uint_eq(r->nnames, 2);
	ck_assert_str_eq(r->names[0], "vpn%d");
	ck_assert_str_eq(r->names[1], "vm*");
	ck_assert_uint_eq(r->naddresses, 3);
	ck_assert_str_eq(addr_text(&r->addresses[0]), "198.18.0.0/15");
	ck_assert_str_eq(addr_text(&r->addresses[1]), "2001:db8::/32");
	ck_assert_str_eq(addr_text(&r->addresses[2]), "198.19.7.7/32");
	ck_assert_uint_eq(r->nroutes, 2);
	ck_assert_str_eq(addr_text(&r->routes[0]), "198.18.0.0/16");
	ck_assert_str_eq(addr_text(&r->routes[1]), "2001:db8:1::/48");
	ck_assert_uint_eq(r->mtu_min, 1280);
	ck_assert_uint_eq(r->mtu_max, 9000);
	ck_assert_uint_eq(r->max_queues, 4);
	ck_assert(r->offload);
	ck_assert_uint_eq(r->nbridges, 2);
	ck_assert_str_eq(r->bridges[0], "br0");
	ck_assert_str_eq(r->bridges[1], "br-lan");
	ck_assert_int_eq(r->namespaces, POLICY_NETNS_OWN);
	ck_assert_uint_eq(r->max_devices, 3);
	conf_free(&cfg);
}
END_TEST

START_TEST(defaults)
{
	struct broker_config cfg;
	const struct policy_rule *r;

	load_ok("[socket]\n", &cfg);
	ck_assert_uint_eq(cfg.socket_mode, 0660);
	ck_assert(!cfg.has_socket_group);
	ck_assert_uint_eq(cfg.limits.connections, 256);
	ck_assert_uint_eq(cfg.limits.connections_per_user, 16);
	ck_assert_uint_eq(cfg.limits.devices_per_user, 64);
	ck_assert_uint_eq(cfg.limits.idle_timeout_s, 60);
	ck_assert_uint_eq(cfg.limits.message_size, 65536);
	ck_assert_uint_eq(cfg.nrules, 0);
	conf_free(&cfg);

	load_ok("[rule only-users]\nusers = 0\n", &cfg);
	ck_assert_uint_eq(cfg.nrules, 1);
	r = &cfg.rules[0];
	ck_assert_uint_eq(r->line, 1);
	ck_assert_uint_eq(r->ngroups, 0);
	ck_assert_uint_eq(r->device_types, 1u << TB_DEVICE_TUN);
	ck_assert_uint_eq(r->nnames, 1);
	ck_assert_str_eq(r->names[0], "*");
	ck_assert_uint_eq(r->naddresses, 0);
	ck_assert_uint_eq(r->nroutes, 0);
	ck_assert_uint_eq(r->mtu_min, 68);
	ck_assert_uint_eq(r->mtu_max, 65535);
	ck_assert_uint_eq(r->max_queues, 1);
	ck_assert(!r->offload);
	ck_assert_uint_eq(r->nbridges, 0);
	ck_assert_int_eq(r->namespaces, POLICY_NETNS_NONE);
	ck_assert_uint_eq(r->max_devices, 1);
	conf_free(&cfg);

	conf_init_default(&cfg);
	ck_assert_uint_eq(cfg.limits.devices_per_user, 64);
	ck_assert_uint_eq(cfg.nrules, 0);
	ck_assert_uint_eq(cfg.nfiles, 0);
	conf_free(&cfg);
}
END_TEST

START_TEST(values_and_lists)
{
	static const char *const truths[] = { "yes", "true", "1" };
	static const char *const lies[] = { "no", "false", "0" };
	struct broker_config cfg;
	char text[128];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "[rule a]\ngroups = 1\noffload = %s\n"
		    "[rule b]\ngroups = 1\noffload = %s\n", truths[i], lies[i]);
		load_ok(text, &cfg);
		ck_assert(cfg.rules[0].offload);
		ck_assert(!cfg.rules[1].offload);
		conf_free(&cfg);
	}
	/* One MTU, commas and blanks, and lists continued on indented lines. */
	load_ok("[rule a]\n"
	    "users = 1,2 ,3\t4\n"
	    "  5, 6\n"
	    "\n"
	    "\t7\n"
	    "mtu = 1400\n"
	    "device-types = tap\n"
	    "addresses = 2001:db8::/32,\n"
	    "    198.18.0.0/15\n"
	    "namespaces = none ; why\n", &cfg);
	ck_assert_uint_eq(cfg.rules[0].nusers, 7);
	ck_assert_uint_eq(cfg.rules[0].users[6], 7);
	ck_assert_uint_eq(cfg.rules[0].mtu_min, 1400);
	ck_assert_uint_eq(cfg.rules[0].mtu_max, 1400);
	ck_assert_uint_eq(cfg.rules[0].device_types, 1u << TB_DEVICE_TAP);
	ck_assert_uint_eq(cfg.rules[0].naddresses, 2);
	ck_assert_int_eq(cfg.rules[0].addresses[1].family, AF_INET);
	ck_assert_int_eq(cfg.rules[0].namespaces, POLICY_NETNS_NONE);
	conf_free(&cfg);
	/* The range ends are allowed. */
	load_ok("[limits]\nmessage-size = 16\nidle-timeout = 86400\n"
	    "[rule a]\ngroups = 1\nmtu = 68-65535\nqueues = 16\n"
	    "max-devices = 65536\n", &cfg);
	ck_assert_uint_eq(cfg.limits.message_size, 16);
	ck_assert_uint_eq(cfg.rules[0].max_queues, 16);
	conf_free(&cfg);
}
END_TEST

START_TEST(missing_file)
{
	struct broker_config cfg;
	struct tb_error err;

	ck_assert_int_eq(conf_load("/nonexistent/tunbrokerd.conf", &cfg, &err),
	    -ENOENT);
	ck_assert_str_eq(err.text,
	    "/nonexistent/tunbrokerd.conf: No such file or directory");
}
END_TEST

START_TEST(not_a_file)
{
	struct broker_config cfg;
	struct tb_error err;
	char *want;

	ck_assert_int_ge(asprintf(&want, "%s: not a regular file", dir), 0);
	ck_assert_int_eq(conf_load(dir, &cfg, &err), -EINVAL);
	ck_assert_str_eq(err.text, want);
	free(want);
}
END_TEST

START_TEST(syntax_errors)
{
	expect_error("users = nobody\n[rule a]\n",
	    "1: key \"users\" is outside any section");
	expect_error("[rule a\nusers = nobody\n",
	    "1: syntax error: expected [SECTION] or KEY = VALUE");
	expect_error("[rule a]\nusers nobody\n",
	    "2: syntax error: expected [SECTION] or KEY = VALUE");
	expect_error("[sockets]\nmode = 0660\n", "1: unknown section [sockets]");
	expect_error("[socket]\n[access]\nusers = 1\n",
	    "2: unknown section [access]");
	expect_error("[socket] junk\n",
	    "1: unexpected text after [socket]: \"junk\"");
	expect_error("[rule]\nusers = 1\n",
	    "1: rule name \"\" must be 1 to 64 letters, digits, '_', '.' "
	    "or '-'");
	expect_error("[rule a/b]\nusers = 1\n",
	    "1: rule name \"a/b\" must be 1 to 64 letters, digits, '_', '.' "
	    "or '-'");
	expect_error("[socket]\nmode = 0660\nsize = 3\n",
	    "3: unknown key \"size\" in [socket]");
	expect_error("[limits]\nconnection = 3\n",
	    "2: unknown key \"connection\" in [limits]");
	expect_error("[rule vpn]\nusers = 1\nuser = 2\n",
	    "3: unknown key \"user\" in [rule vpn]");
	expect_error("[socket]\nmode = 0600\nmode = 0660\n",
	    "3: mode is given twice in [socket] (first on line 2)");
	expect_error("[rule a]\nusers = 1\nusers = 2\n",
	    "3: users is given twice in [rule a] (first on line 2)");
	expect_error("[rule a]\nusers = 1\nmtu = 1280\n  1500\n",
	    "4: mtu takes one value: \"1500\" is indented, so it would "
	    "continue it");
}
END_TEST

/* A NUL byte, which fputs() could not write. */
static void
expect_nul_error(void)
{
	static const char text[] = "[socket]\nmode = 06\00060\n";
	struct broker_config cfg;
	struct tb_error err;
	char *path = main_conf(""), *want;
	FILE *f = fopen(path, "we");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, sizeof(text) - 1, f),
	    sizeof(text) - 1);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_ge(asprintf(&want, "%s:2: the line holds a NUL byte",
	    path), 0);
	ck_assert_int_eq(conf_load(path, &cfg, &err), -EINVAL);
	ck_assert_str_eq(err.text, want);
	free(want);
	free(path);
}

START_TEST(line_limits)
{
	char line[300];

	memset(line, 'x', sizeof(line));
	memcpy(line, "#", 1);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	expect_error(line, "1: the line is longer than 197 characters "
	    "(continue a list on indented lines)");
	expect_nul_error();
}
END_TEST

START_TEST(value_errors)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "[socket]\nmode = 999\n",
		    "2: mode: \"999\" is not an octal mode from 0 to 0777" },
		{ "[socket]\nmode = 01777\n",
		    "2: mode: \"01777\" is not an octal mode from 0 to 0777" },
		{ "[socket]\nmode =\n",
		    "2: mode: \"\" is not an octal mode from 0 to 0777" },
		{ "[socket]\nmode = -1\n",
		    "2: mode: \"-1\" is not an octal mode from 0 to 0777" },
		{ "[socket]\ngroup = no-such-group-here\n",
		    "2: group: no such group \"no-such-group-here\"" },
		{ "[limits]\nconnections = 0\n",
		    "2: connections: \"0\" is not a number from 1 to 65536" },
		{ "[limits]\nconnections-per-user = 65537\n",
		    "2: connections-per-user: \"65537\" is not a number from 1 "
		    "to 65536" },
		{ "[limits]\ndevices-per-user = -1\n",
		    "2: devices-per-user: \"-1\" is not a number from 1 to "
		    "65536" },
		{ "[limits]\nidle-timeout = 1m\n",
		    "2: idle-timeout: \"1m\" is not a number from 1 to 86400" },
		{ "[limits]\nmessage-size = 15\n",
		    "2: message-size: \"15\" is not a number from 16 to 65536" },
		{ "[limits]\nmessage-size = 65537\n",
		    "2: message-size: \"65537\" is not a number from 16 to "
		    "65536" },
		{ "[rule a]\nusers = nobody, no-such-user-here\n",
		    "2: users: no such user \"no-such-user-here\"" },
		{ "[rule a]\n\ngroups = nogroup no-such-group-here\n",
		    "3: groups: no such group \"no-such-group-here\"" },
		{ "[rule a]\nusers = ,\n", "2: users: a value is needed" },
		{ "[rule a]\nusers = 1\ndevice-types = tun, tan\n",
		    "3: device-types: \"tan\" is not tun or tap" },
		{ "[rule a]\nusers = 1\nnames = "
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
		    "3: names: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxx\" is longer than 64 characters" },
		{ "[rule a]\nusers = 1\naddresses = 198.18.0.1/15\n",
		    "3: addresses: 198.18.0.1/15 has host bits set: the network "
		    "is 198.18.0.0/15" },
		{ "[rule a]\nusers = 1\naddresses = 2001:db8::1/32\n",
		    "3: addresses: 2001:db8::1/32 has host bits set: the network "
		    "is 2001:db8::/32" },
		{ "[rule a]\nusers = 1\naddresses = vpn.example\n",
		    "3: addresses: \"vpn.example\" is not an IPv4 or IPv6 "
		    "address" },
		{ "[rule a]\nusers = 1\naddresses = 198.18.0.0/33\n",
		    "3: addresses: address \"198.18.0.0/33\" has an invalid "
		    "prefix length (0 to 32)" },
		{ "[rule a]\nusers = 1\nroutes = 198.18.0.0/8\n",
		    "3: routes: 198.18.0.0/8 has host bits set: the network is "
		    "198.0.0.0/8" },
		{ "[rule a]\nusers = 1\nmtu = 67\n",
		    "3: mtu: \"67\" is not N or A-B with 68 <= A <= B <= 65535" },
		{ "[rule a]\nusers = 1\nmtu = 65536\n",
		    "3: mtu: \"65536\" is not N or A-B with 68 <= A <= B <= "
		    "65535" },
		{ "[rule a]\nusers = 1\nmtu = 1500-1280\n",
		    "3: mtu: \"1500-1280\" is not N or A-B with 68 <= A <= B <= "
		    "65535" },
		{ "[rule a]\nusers = 1\nmtu = 1280-\n",
		    "3: mtu: \"1280-\" is not N or A-B with 68 <= A <= B <= "
		    "65535" },
		{ "[rule a]\nusers = 1\nmtu = -1500\n",
		    "3: mtu: \"-1500\" is not N or A-B with 68 <= A <= B <= "
		    "65535" },
		{ "[rule a]\nusers = 1\nqueues = 0\n",
		    "3: queues: \"0\" is not a number from 1 to 16" },
		{ "[rule a]\nusers = 1\nqueues = 17\n",
		    "3: queues: \"17\" is not a number from 1 to 16" },
		{ "[rule a]\nusers = 1\noffload = maybe\n",
		    "3: offload: \"maybe\" is not yes or no" },
		{ "[rule a]\nusers = 1\nbridges = br0 br/1\n",
		    "3: bridges: \"br/1\" is not an interface name" },
		{ "[rule a]\nusers = 1\nbridges = br%d\n",
		    "3: bridges: \"br%d\" is not an interface name" },
		{ "[rule a]\nusers = 1\nbridges = abcdefghijklmnop\n",
		    "3: bridges: \"abcdefghijklmnop\" is not an interface name" },
		{ "[rule a]\nusers = 1\nnamespaces = all\n",
		    "3: namespaces: \"all\" is not none or own" },
		{ "[rule a]\nusers = 1\nmax-devices = 0\n",
		    "3: max-devices: \"0\" is not a number from 1 to 65536" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i].text, cases[i].want);
}
END_TEST

START_TEST(pools)
{
	struct broker_config cfg;
	struct tb_error err;
	char *path, *dropin;

	load_ok("[pool lab4]\nprefix = 198.18.128.0/17\n"
	    "[pool lab6]\nprefix = 2001:db8:1::/48\n"
	    "[pool p2p]\nprefix = 198.19.0.0/24\nsubnet = 31\n"
	    "[rule a]\nusers = 1\npools = p2p,\n  lab6\n"
	    "[rule b]\nusers = 2\npools = lab6\n[rule c]\nusers = 3\n", &cfg);
	ck_assert_uint_eq(cfg.npools, 3);
	ck_assert_str_eq(cfg.pools[0].name, "lab4");
	ck_assert_str_eq(addr_text(&cfg.pools[0].prefix), "198.18.128.0/17");
	ck_assert_uint_eq(cfg.pools[0].subnet, 30);
	ck_assert_uint_eq(cfg.pools[0].line, 1);
	ck_assert_str_eq(cfg.pools[1].name, "lab6");
	ck_assert_uint_eq(cfg.pools[1].subnet, 64);
	ck_assert_uint_eq(cfg.pools[2].subnet, 31);
	ck_assert_uint_eq(cfg.rules[0].npools, 2);
	ck_assert_str_eq(cfg.rules[0].pools[0], "p2p");
	ck_assert_str_eq(cfg.rules[0].pools[1], "lab6");
	ck_assert_uint_eq(cfg.rules[0].pools_line, 10);
	ck_assert(cfg.rules[0].pool_inet && cfg.rules[0].pool_inet6);
	ck_assert(!cfg.rules[1].pool_inet && cfg.rules[1].pool_inet6);
	ck_assert(!cfg.rules[2].pool_inet && !cfg.rules[2].pool_inet6);
	conf_free(&cfg);

	/* A rule may name a pool that a later drop-in defines. */
	path = main_conf("[rule a]\nusers = 1\npools = late\n");
	dropin = write_conf("tunbrokerd.conf.d/50-pool.conf",
	    "[pool late]\nprefix = 198.18.0.0/24\n");
	ck_assert_msg(conf_load(path, &cfg, &err) == 0, "%s", err.text);
	ck_assert(cfg.rules[0].pool_inet);
	ck_assert_str_eq(cfg.pools[0].file, dropin);
	conf_free(&cfg);
	free(dropin);
	free(path);
}
END_TEST

START_TEST(pool_errors)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "[rule a]\nusers = 1\npools = nope\n",
		    "3: pools: rule a names pool nope, which no [pool nope] "
		    "defines" },
		{ "[rule a]\nusers = 1\npools = x, x\n",
		    "3: pools: pool x is named twice" },
		{ "[rule a]\nusers = 1\npools = a/b\n",
		    "3: pools: \"a/b\" is not a pool name" },
		{ "[pool a]\nsubnet = 30\n", "1: pool a has no prefix" },
		{ "[pool a]\nprefix = 198.18.0.0/16\n[pool a]\n",
		    "3: pool a is already defined at %s:1" },
		{ "[pool a/b]\n", "1: pool name \"a/b\" must be 1 to 64 "
		    "letters, digits, '_', '.' or '-'" },
		{ "[pool a]\nprefix = 198.18.0.1/16\n",
		    "2: prefix: 198.18.0.1/16 has host bits set: the network "
		    "is 198.18.0.0/16" },
		{ "[pool a]\nprefix = 198.18.0.0/16\nsubnet = 29\n",
		    "3: subnet: /29 is not one an IPv4 pool hands out: 30 or "
		    "31" },
		{ "[pool a]\nprefix = 198.18.0.0/16\nsubnet = 32\n",
		    "3: subnet: /32 is not one an IPv4 pool hands out: 30 or "
		    "31" },
		{ "[pool a]\nprefix = 2001:db8::/32\nsubnet = 56\n",
		    "3: subnet: /56 is not one an IPv6 pool hands out: 64" },
		{ "[pool a]\nsubnet = 65\nprefix = 2001:db8::/32\n",
		    "2: subnet: /65 is not one an IPv6 pool hands out: 64" },
		{ "[pool a]\nprefix = 198.18.0.0/31\n",
		    "2: prefix: 198.18.0.0/31 is smaller than one /30 subnet" },
		{ "[pool a]\nprefix = 2001:db8::/80\n",
		    "2: prefix: 2001:db8::/80 is smaller than one /64 subnet" },
		{ "[pool a]\nprefix = 0.0.0.0/0\n",
		    "2: prefix: 0.0.0.0/0 is a whole address family, not a "
		    "pool" },
		{ "[pool a]\nprefix = 198.18.0.0/16\n"
		    "[pool b]\n\nprefix = 198.18.4.0/24\n",
		    "5: prefix: 198.18.4.0/24 of pool b overlaps 198.18.0.0/16 "
		    "of pool a (%s:1)" },
		{ "[pool a]\nprefix = 198.18.0.0/16\nsize = 3\n",
		    "3: unknown key \"size\" in [pool a]" },
		{ "[pool a]\nprefix = 198.18.0.0/16\nprefix = 198.19.0.0/16\n",
		    "3: prefix is given twice in [pool a] (first on line 2)" },
	};
	const char *mark;
	char *path = main_conf(""), *want;
	size_t i;

	/* "%s" in a case stands for the main file's path. */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if ((mark = strstr(cases[i].want, "%s")) == NULL) {
			expect_error(cases[i].text, cases[i].want);
			continue;
		}
		ck_assert_int_ge(asprintf(&want, "%.*s%s%s",
		    (int)(mark - cases[i].want), cases[i].want, path,
		    mark + 2), 0);
		expect_error(cases[i].text, want);
		free(want);
	}
	free(path);
}
END_TEST

START_TEST(rule_needs_someone)
{
	expect_error("[rule a]\nmtu = 1280\n",
	    "1: rule a has neither users nor groups: it would match nobody");
	/* Found when the next section starts, still citing the rule. */
	expect_error("[socket]\n[rule a]\nnames = x*\n[rule b]\nusers = 1\n",
	    "2: rule a has neither users nor groups: it would match nobody");
	expect_error("[rule a]\n", "1: rule a has neither users nor groups: "
	    "it would match nobody");
}
END_TEST

START_TEST(first_error_wins)
{
	expect_error("[rule a]\nusers = x-no-user\n[bogus]\nk = v\n",
	    "2: users: no such user \"x-no-user\"");
	expect_error("[rule a]\nusers nobody\n[bogus]\n",
	    "2: syntax error: expected [SECTION] or KEY = VALUE");
}
END_TEST

START_TEST(duplicate_rule_names)
{
	char *want;

	ck_assert_int_ge(asprintf(&want, "3: rule a is already defined at "
	    "%s/tunbrokerd.conf:1", dir), 0);
	expect_error("[rule a]\nusers = 1\n[rule a]\nusers = 2\n", want);
	free(want);
}
END_TEST

START_TEST(duplicate_rule_names_across_files)
{
	struct broker_config cfg;
	struct tb_error err;
	char *path, *dropin, *want;

	path = main_conf("[rule vpn]\nusers = 1\n");
	dropin = write_conf("tunbrokerd.conf.d/50-more.conf",
	    "# more\n[rule other]\nusers = 2\n[rule vpn]\ngroups = 3\n");
	ck_assert_int_ge(asprintf(&want, "%s:4: rule vpn is already defined "
	    "at %s:1", dropin, path), 0);
	ck_assert_int_eq(conf_load(path, &cfg, &err), -EINVAL);
	ck_assert_str_eq(err.text, want);
	free(want);
	free(dropin);
	free(path);
}
END_TEST

START_TEST(dropins_in_name_order)
{
	struct broker_config cfg;
	struct tb_error err;
	char *path, *a, *b, *d;

	path = main_conf("[socket]\nmode = 0600\n[limits]\nconnections = 10\n"
	    "devices-per-user = 5\n[rule main]\nusers = 1\n");
	b = write_conf("tunbrokerd.conf.d/20-b.conf",
	    "[limits]\ndevices-per-user = 9\n[rule b]\nusers = 3\n");
	a = write_conf("tunbrokerd.conf.d/10-a.conf",
	    "[limits]\ndevices-per-user = 7\nidle-timeout = 5\n"
	    "[rule a]\nusers = 2\n[socket]\nmode = 0666\n");
	/* Neither of these is a drop-in. */
	free(write_conf("tunbrokerd.conf.d/README", "[bogus]\n"));
	free(write_conf("tunbrokerd.conf.d/.hidden.conf", "[bogus]\n"));
	free(write_conf("tunbrokerd.conf.d/30-c.conf.orig", "[bogus]\n"));
	ck_assert_int_ge(asprintf(&d, "%s/tunbrokerd.conf.d/15-dir.conf", dir),
	    0);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	free(d);

	ck_assert_msg(conf_load(path, &cfg, &err) == 0, "%s", err.text);
	ck_assert_uint_eq(cfg.nfiles, 3);
	ck_assert_str_eq(cfg.files[0], path);
	ck_assert_str_eq(cfg.files[1], a);
	ck_assert_str_eq(cfg.files[2], b);
	/* Later files replace [socket] and [limits] keys they give. */
	ck_assert_uint_eq(cfg.socket_mode, 0666);
	ck_assert_uint_eq(cfg.limits.connections, 10);
	ck_assert_uint_eq(cfg.limits.devices_per_user, 9);
	ck_assert_uint_eq(cfg.limits.idle_timeout_s, 5);
	/* Rules accumulate in file order, each knowing where it came from. */
	ck_assert_uint_eq(cfg.nrules, 3);
	ck_assert_str_eq(cfg.rules[0].name, "main");
	ck_assert_str_eq(cfg.rules[0].file, path);
	ck_assert_uint_eq(cfg.rules[0].line, 6);
	ck_assert_str_eq(cfg.rules[1].name, "a");
	ck_assert_str_eq(cfg.rules[1].file, a);
	ck_assert_uint_eq(cfg.rules[1].line, 4);
	ck_assert_str_eq(cfg.rules[2].name, "b");
	ck_assert_str_eq(cfg.rules[2].file, b);
	ck_assert_uint_eq(cfg.rules[2].line, 3);
	conf_free(&cfg);
	free(a);
	free(b);
	free(path);
}
END_TEST

START_TEST(dropin_errors)
{
	struct broker_config cfg;
	struct tb_error err;
	char *path, *bad, *want, *d;
	FILE *f;

	path = main_conf("[rule main]\nusers = 1\n");
	/* A drop-in starts outside any section, whatever came before. */
	bad = write_conf("tunbrokerd.conf.d/10-bad.conf", "\nusers = 2\n");
	ck_assert_int_ge(asprintf(&want,
	    "%s:2: key \"users\" is outside any section", bad), 0);
	ck_assert_int_eq(conf_load(path, &cfg, &err), -EINVAL);
	ck_assert_str_eq(err.text, want);
	free(want);
	ck_assert_int_eq(unlink(bad), 0);
	free(bad);

	/* No directory at all is fine; a file in its place is not. */
	ck_assert_int_ge(asprintf(&d, "%s.d", path), 0);
	ck_assert_int_eq(rmdir(d), 0);
	ck_assert_msg(conf_load(path, &cfg, &err) == 0, "%s", err.text);
	ck_assert_uint_eq(cfg.nfiles, 1);
	conf_free(&cfg);
	f = fopen(d, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_ge(asprintf(&want, "%s: Not a directory", d), 0);
	ck_assert_int_eq(conf_load(path, &cfg, &err), -ENOTDIR);
	ck_assert_str_eq(err.text, want);
	free(want);
	free(d);
	free(path);
}
END_TEST

/* memcmp() of n items, where an empty array may be NULL. */
#define assert_items_eq(x, y, n) do {					\
	if ((n) > 0)							\
		ck_assert_mem_eq((x), (y), (n) * sizeof(*(x)));		\
} while (0)

/* Everything but where each rule was written. */
static void
assert_same_config(const struct broker_config *a,
    const struct broker_config *b)
{
	size_t i, j;

	ck_assert_uint_eq(a->socket_mode, b->socket_mode);
	ck_assert_int_eq(a->has_socket_group, b->has_socket_group);
	ck_assert_uint_eq(a->socket_group, b->socket_group);
	ck_assert_mem_eq(&a->limits, &b->limits, sizeof(a->limits));
	ck_assert_uint_eq(a->nrules, b->nrules);
	for (i = 0; i < a->nrules; i++) {
		const struct policy_rule *x = &a->rules[i], *y = &b->rules[i];

		ck_assert_str_eq(x->name, y->name);
		ck_assert_uint_eq(x->nusers, y->nusers);
		assert_items_eq(x->users, y->users, x->nusers);
		ck_assert_uint_eq(x->ngroups, y->ngroups);
		assert_items_eq(x->groups, y->groups, x->ngroups);
		ck_assert_uint_eq(x->device_types, y->device_types);
		ck_assert_uint_eq(x->nnames, y->nnames);
		for (j = 0; j < x->nnames; j++)
			ck_assert_str_eq(x->names[j], y->names[j]);
		ck_assert_uint_eq(x->naddresses, y->naddresses);
		assert_items_eq(x->addresses, y->addresses, x->naddresses);
		ck_assert_uint_eq(x->nroutes, y->nroutes);
		assert_items_eq(x->routes, y->routes, x->nroutes);
		ck_assert_uint_eq(x->mtu_min, y->mtu_min);
		ck_assert_uint_eq(x->mtu_max, y->mtu_max);
		ck_assert_uint_eq(x->max_queues, y->max_queues);
		ck_assert_int_eq(x->offload, y->offload);
		ck_assert_uint_eq(x->nbridges, y->nbridges);
		for (j = 0; j < x->nbridges; j++)
			ck_assert_str_eq(x->bridges[j], y->bridges[j]);
		ck_assert_int_eq(x->namespaces, y->namespaces);
		ck_assert_uint_eq(x->max_devices, y->max_devices);
		ck_assert_uint_eq(x->npools, y->npools);
		for (j = 0; j < x->npools; j++)
			ck_assert_str_eq(x->pools[j], y->pools[j]);
		ck_assert_int_eq(x->pool_inet, y->pool_inet);
		ck_assert_int_eq(x->pool_inet6, y->pool_inet6);
	}
	ck_assert_uint_eq(a->npools, b->npools);
	for (i = 0; i < a->npools; i++) {
		ck_assert_str_eq(a->pools[i].name, b->pools[i].name);
		ck_assert_mem_eq(&a->pools[i].prefix, &b->pools[i].prefix,
		    sizeof(a->pools[i].prefix));
		ck_assert_uint_eq(a->pools[i].subnet, b->pools[i].subnet);
	}
}

/* conf_print's output reads back as the same configuration. */
static void
assert_print_round_trips(const char *text)
{
	struct broker_config first, second;
	struct tb_error err;
	char *path, *printed;
	FILE *f;

	load_ok(text, &first);
	ck_assert_int_ge(asprintf(&path, "%s/printed.conf", dir), 0);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	conf_print(&first, f);
	ck_assert_int_eq(fclose(f), 0);
	printed = testlib_read_file(path);
	ck_assert_msg(conf_load(path, &second, &err) == 0, "%s\n%s", err.text,
	    printed);
	assert_same_config(&first, &second);
	/* Each rule says where it was defined. */
	if (first.nrules > 0)
		ck_assert_ptr_nonnull(strstr(printed, "# defined at "));
	free(printed);
	conf_free(&first);
	conf_free(&second);
	free(path);
}

START_TEST(print_round_trips)
{
	assert_print_round_trips("");
	assert_print_round_trips("[socket]\nmode = 0600\ngroup = 4242\n"
	    "[limits]\nconnections = 3\nmessage-size = 100\n"
	    "[rule vpn]\nusers = nobody, 1000\nnames = vpn%d\n"
	    "addresses = 198.18.0.0/15, 2001:db8::/32\nmtu = 1280-1500\n"
	    "max-devices = 2\n"
	    "[rule vm]\ngroups = 65534\ndevice-types = tap\nbridges = br0\n"
	    "offload = yes\nqueues = 4\nnames = vm*\nmax-devices = 8\n"
	    "routes = 198.18.0.0/16\nnamespaces = own\nmtu = 9000\n");
	assert_print_round_trips("[pool v4]\nprefix = 198.18.128.0/17\n"
	    "[pool p2p]\nprefix = 198.19.0.0/24\nsubnet = 31\n"
	    "[rule pools]\nusers = 1\npools = p2p, v4, v6\n"
	    "[pool v6]\nprefix = 2001:db8:100::/40\nsubnet = 64\n"
	    "[rule none]\nusers = 2\n");
	/* Lists longer than one line may be (197 characters) still fit. */
	assert_print_round_trips("[rule many]\nusers = 1001, 1002, 1003, 1004\n"
	    "  1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014\n"
	    "  1015, 1016, 1017, 1018, 1019, 1020, 1021, 1022, 1023, 1024\n"
	    "  1025, 1026, 1027, 1028, 1029, 1030, 1031, 1032, 1033, 1034\n"
	    "  1035, 1036, 1037, 1038, 1039, 1040, 1041, 1042, 1043, 1044\n"
	    "addresses = 198.18.0.0/24, 198.18.1.0/24, 198.18.2.0/24\n"
	    "  2001:db8:1::/48, 2001:db8:2::/48, 2001:db8:3::/48\n"
	    "  2001:db8:4::/48, 2001:db8:5::/48, 2001:db8:6::/48\n"
	    "  2001:db8:7::/48, 2001:db8:8::/48, 2001:db8:9::/48\n");
}
END_TEST

START_TEST(name_patterns_hold_name_characters)
{
	struct broker_config cfg;
	struct tb_error err;
	char *path;

	/* A pattern that would print as an INI comment is refused. */
	path = main_conf("[rule r]\nusers = 1\nnames=;x\n");
	ck_assert_int_eq(conf_load(path, &cfg, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.text, "\";x\" may hold only"));
	free(path);
	path = main_conf("[rule r]\nusers = 1\nnames = vpn[0-9]*, tb%d, x?\n");
	ck_assert_msg(conf_load(path, &cfg, &err) == 0, "%s", err.text);
	conf_free(&cfg);
	free(path);
}
END_TEST

START_TEST(print_shows_files_and_defaults)
{
	struct broker_config cfg;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	load_ok("[rule r]\nusers = 0\n", &cfg);
	f = open_memstream(&out, &len);
	ck_assert_ptr_nonnull(f);
	conf_print(&cfg, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(strstr(out, cfg.files[0]));
	ck_assert_ptr_nonnull(strstr(out, "\n[limits]\nconnections = 256\n"
	    "connections-per-user = 16\ndevices-per-user = 64\n"
	    "idle-timeout = 60\nmessage-size = 65536\n"));
	ck_assert_ptr_nonnull(strstr(out, "[rule r]\n# user 0 is root\n"
	    "users = 0\ndevice-types = tun\nnames = *\n# addresses: none\n"
	    "# routes: none\nmtu = 68-65535\nqueues = 1\noffload = no\n"
	    "# bridges: none\nnamespaces = none\nmax-devices = 1\n"));
	free(out);
	conf_free(&cfg);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_key);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, values_and_lists);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, not_a_file);
	tcase_add_test(tc, syntax_errors);
	tcase_add_test(tc, line_limits);
	tcase_add_test(tc, value_errors);
	tcase_add_test(tc, pools);
	tcase_add_test(tc, pool_errors);
	tcase_add_test(tc, rule_needs_someone);
	tcase_add_test(tc, first_error_wins);
	tcase_add_test(tc, duplicate_rule_names);
	tcase_add_test(tc, duplicate_rule_names_across_files);
	tcase_add_test(tc, dropins_in_name_order);
	tcase_add_test(tc, dropin_errors);
	tcase_add_test(tc, print_round_trips);
	tcase_add_test(tc, name_patterns_hold_name_characters);
	tcase_add_test(tc, print_shows_files_and_defaults);
	suite_add_tcase(s, tc);
	return testlib_run(s, false);
}
