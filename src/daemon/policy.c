/*
 * Who may create what, decided by the rules of tunbrokerd.conf(5) on the
 * identity the kernel reported, never on anything the client said about
 * itself.  How rules combine is in conf.h; the order in which a rule's
 * checks run (so which objection is cited) is in tunbrokerd.conf(5).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <net/if.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "policy.h"

/* What a device gets when the request leaves it out. */
#define DEFAULT_NAME	"tun%d"
#define DEFAULT_TAP_NAME	"tap%d"
#define DEFAULT_MTU	1500

/* Room for "rule NAME (FILE:LINE)" in a sentence. */
#define CITE_MAX	256

/* Writes name into buf with anything unprintable as \xHH, for sentences. */
static const char *
escape_name(const char *name, char *buf, size_t size)
{
	size_t used = 0;

	for (; *name != '\0' && used + 5 < size; name++) {
		unsigned char c = (unsigned char)*name;

		if (isprint(c) && c != '\\')
			buf[used++] = (char)c;
		else
			used += (size_t)snprintf(buf + used, size - used,
			    "\\x%02x", c);
	}
	buf[used] = '\0';
	return buf;
}

int
policy_check_name(const char *name, struct tb_error *err)
{
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
	char shown[4 * TB_IFNAME_MAX + 1];
	size_t len = strnlen(name, TB_IFNAME_MAX), i;
	bool template = false;

	escape_name(name, shown, sizeof(shown));
	if (len == 0)
		return tb_error_set(err, -EINVAL, "name is empty");
	if (len > IFNAMSIZ - 1)
		return tb_error_set(err, -EINVAL,
		    "name \"%s\" is longer than %d bytes", shown, IFNAMSIZ - 1);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return tb_error_set(err, -EINVAL,
		    "name \"%s\" is not allowed", shown);
	for (i = 0; i < len; i++) {
		if (name[i] == '%' && name[i + 1] == 'd' && !template) {
			template = true;
			i++;
		} else if (name[i] == '%' && name[i + 1] == 'd') {
			return tb_error_set(err, -EINVAL,
			    "name \"%s\" has more than one %%d", shown);
		} else if (strchr(allowed, name[i]) == NULL) {
			return tb_error_set(err, -EINVAL,
			    "name \"%s\" has a character other than letters, "
			    "digits, '_', '.', '-' and one %%d", shown);
		}
	}
	return 0;
}

/* "user alice (uid 1000)", or "uid 1000" for a uid without a name. */
static const char *
describe_user(uid_t uid, char *buf, size_t size)
{
	struct passwd pw, *found = NULL;
	char scratch[1024];

	if (getpwuid_r(uid, &pw, scratch, sizeof(scratch), &found) == 0 &&
	    found != NULL)
		snprintf(buf, size, "user %s (uid %u)", found->pw_name,
		    (unsigned)uid);
	else
		snprintf(buf, size, "uid %u", (unsigned)uid);
	return buf;
}

/* "rule vpn (/etc/tunbroker/tunbrokerd.conf:12)", as sentences cite it. */
static const char *
cite_rule(const struct policy_rule *rule, char *buf, size_t size)
{
	snprintf(buf, size, "rule %s (%s:%u)", rule->name, rule->file,
	    rule->line);
	return buf;
}

static bool
gid_listed(const struct policy_rule *rule, gid_t gid)
{
	size_t i;

	for (i = 0; i < rule->ngroups; i++) {
		if (rule->groups[i] == gid)
			return true;
	}
	return false;
}

/* Whether rule is about who: its uid, primary or supplementary groups. */
static bool
rule_matches(const struct policy_rule *rule, const struct peer_identity *who)
{
	size_t i;

	for (i = 0; i < rule->nusers; i++) {
		if (rule->users[i] == who->uid)
			return true;
	}
	if (gid_listed(rule, who->gid))
		return true;
	for (i = 0; i < who->ngroups; i++) {
		if (gid_listed(rule, who->groups[i]))
			return true;
	}
	return false;
}

/* Whether a lies in range: same family, as long a prefix, same network. */
static bool
addr_within(const struct tb_addr *a, const struct tb_addr *range)
{
	return a->prefixlen >= range->prefixlen && tb_addr_len(a) != 0 &&
	    tb_addr_same_prefix(a, range, range->prefixlen);
}

static bool
addr_allowed(const struct policy_rule *rule, const struct tb_addr *a)
{
	size_t i;

	for (i = 0; i < rule->naddresses; i++) {
		if (addr_within(a, &rule->addresses[i]))
			return true;
	}
	return false;
}

static bool
name_allowed(const struct policy_rule *rule, const char *name)
{
	size_t i;

	for (i = 0; i < rule->nnames; i++) {
		if (fnmatch(rule->names[i], name, 0) == 0)
			return true;
	}
	return false;
}

static const char *
device_type_name(uint32_t type)
{
	switch (type) {
	case TB_DEVICE_TUN:
		return "tun";
	case TB_DEVICE_TAP:
		return "tap";
	default:
		return "unknown";
	}
}

static bool
route_allowed(const struct policy_rule *rule, const struct tb_addr *dst)
{
	size_t i;

	for (i = 0; i < rule->nroutes; i++) {
		if (addr_within(dst, &rule->routes[i]))
			return true;
	}
	return false;
}

/*
 * Bridges are exact names: the configuration refuses anything but a name
 * (no pattern characters), so a bridge an administrator creates later is
 * never allowed by accident.
 */
static bool
bridge_allowed(const struct policy_rule *rule, const char *bridge)
{
	size_t i;

	for (i = 0; i < rule->nbridges; i++) {
		if (strcmp(rule->bridges[i], bridge) == 0)
			return true;
	}
	return false;
}

/*
 * The objection of rule to the options after the MTU: routes, bridge,
 * queues, offload and network namespace, in that order.
 */
static int
device_options_objection(const struct policy_rule *rule,
    const struct tb_create_request *req, const char *cite,
    struct tb_error *err)
{
	char text[TB_ADDR_TEXT_MAX], shown[80], offloads[TB_OFFLOAD_TEXT_MAX];
	unsigned queues = req->queues != 0 ? req->queues : 1;
	size_t i;

	for (i = 0; i < req->nroutes; i++) {
		if (!route_allowed(rule, &req->routes[i].dst))
			return tb_error_set(err, -EPERM,
			    "route %s is outside the route prefixes %s allows",
			    tb_addr_format(&req->routes[i].dst, true, text,
			    sizeof(text)), cite);
	}
	if (req->bridge[0] != '\0' && !bridge_allowed(rule, req->bridge))
		return tb_error_set(err, -EPERM,
		    "bridge %s is not one of the bridges %s allows",
		    escape_name(req->bridge, shown, sizeof(shown)), cite);
	if (queues > rule->max_queues)
		return tb_error_set(err, -EPERM,
		    "queues %u is more than the %u %s allows", queues,
		    rule->max_queues, cite);
	if (req->offload != 0 && !rule->offload)
		return tb_error_set(err, -EPERM,
		    "offload %s is not allowed by %s (offload = no)",
		    tb_offload_format(req->offload, offloads,
		    sizeof(offloads)), cite);
	if (req->has_netns && rule->namespaces != POLICY_NETNS_OWN)
		return tb_error_set(err, -EPERM,
		    "netns: placing the device in another network namespace "
		    "is not allowed by %s (namespaces = none)", cite);
	return 0;
}

/*
 * The first part of req that rule does not allow, in the order
 * tunbrokerd.conf(5) documents: 0, or -EPERM with a sentence in err.
 */
static int
rule_objection(const struct policy_rule *rule,
    const struct tb_create_request *req, struct tb_error *err)
{
	char cite[CITE_MAX], text[TB_ADDR_TEXT_MAX], shown[80];
	const char *name = req->name[0] != '\0' ? req->name :
	    req->device_type == TB_DEVICE_TAP ? DEFAULT_TAP_NAME : DEFAULT_NAME;
	unsigned mtu = req->mtu != 0 ? req->mtu : DEFAULT_MTU;
	size_t i;

	cite_rule(rule, cite, sizeof(cite));
	if (req->device_type >= 32 ||
	    (rule->device_types & (1u << req->device_type)) == 0)
		return tb_error_set(err, -EPERM,
		    "device-type %s is not one %s allows",
		    device_type_name(req->device_type), cite);
	if (!name_allowed(rule, name))
		return tb_error_set(err, -EPERM,
		    "name %s%s matches no names pattern %s allows",
		    escape_name(name, shown, sizeof(shown)),
		    req->name[0] != '\0' ? "" : " (the default)", cite);
	for (i = 0; i < req->naddrs; i++) {
		if (!addr_allowed(rule, &req->addrs[i]))
			return tb_error_set(err, -EPERM,
			    "address %s is outside the ranges %s allows",
			    tb_addr_format(&req->addrs[i], true, text,
			    sizeof(text)), cite);
	}
	if (req->has_peer && !addr_allowed(rule, &req->peer))
		return tb_error_set(err, -EPERM,
		    "peer %s is outside the ranges %s allows",
		    tb_addr_format(&req->peer, false, text, sizeof(text)), cite);
	/* A pool is its own permission: addresses need not cover it. */
	if (req->auto_inet && !rule->pool_inet)
		return tb_error_set(err, -EPERM,
		    "auto-address IPv4 needs an IPv4 pool, and %s names %s",
		    cite, rule->npools == 0 ? "no pools" : "none");
	if (req->auto_inet6 && !rule->pool_inet6)
		return tb_error_set(err, -EPERM,
		    "auto-address IPv6 needs an IPv6 pool, and %s names %s",
		    cite, rule->npools == 0 ? "no pools" : "none");
	if (mtu < rule->mtu_min || mtu > rule->mtu_max)
		return tb_error_set(err, -EPERM,
		    "mtu %u%s is outside the range %u-%u %s allows", mtu,
		    req->mtu != 0 ? "" : " (the default)", rule->mtu_min,
		    rule->mtu_max, cite);
	return device_options_objection(rule, req, cite, err);
}

/* The refusal when no rule is about who. */
static int
refuse_unknown(const struct broker_config *cfg,
    const struct peer_identity *who, struct tb_error *err)
{
	char user[128];

	describe_user(who->uid, user, sizeof(user));
	if (cfg->nfiles == 0)
		return tb_error_set(err, -EACCES,
		    "no rule matches %s: no configuration file was read", user);
	return tb_error_set(err, -EACCES, "no rule in %s%s matches %s",
	    cfg->files[0], cfg->nfiles > 1 ? " or its drop-ins" : "", user);
}

int
policy_check_create(const struct broker_config *cfg,
    const struct peer_identity *who, const struct tb_create_request *req,
    unsigned live_devices, struct tb_error *err)
{
	const struct policy_rule *granted;

	return policy_check_create_rule(cfg, who, req, live_devices, &granted,
	    err);
}

int
policy_check_create_rule(const struct broker_config *cfg,
    const struct peer_identity *who, const struct tb_create_request *req,
    unsigned live_devices, const struct policy_rule **granted,
    struct tb_error *err)
{
	const struct policy_rule *rule;
	struct tb_error first, other;
	char user[128], cite[CITE_MAX];
	bool matched = false;
	size_t i;

	*granted = NULL;
	if (live_devices >= cfg->limits.devices_per_user)
		return tb_error_set(err, -EDQUOT,
		    "%s already holds %u devices, as many as [limits] "
		    "devices-per-user allows",
		    describe_user(who->uid, user, sizeof(user)), live_devices);
	for (i = 0; i < cfg->nrules; i++) {
		rule = &cfg->rules[i];
		if (!rule_matches(rule, who))
			continue;
		/* Only the first matching rule's objection is told. */
		if (rule_objection(rule, req, matched ? &other : &first) != 0) {
			matched = true;
			continue;
		}
		/* This rule grants; its quota is the one that counts. */
		if (live_devices >= rule->max_devices)
			return tb_error_set(err, -EDQUOT,
			    "%s already holds %u devices, as many as max-devices "
			    "of %s allows",
			    describe_user(who->uid, user, sizeof(user)),
			    live_devices, cite_rule(rule, cite, sizeof(cite)));
		*granted = rule;
		return 0;
	}
	if (!matched)
		return refuse_unknown(cfg, who, err);
	if (err != NULL)
		*err = first;
	return first.code;
}
