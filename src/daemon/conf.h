/*
 * tunbrokerd.conf(5): the socket, the limits, and the policy rules.
 *
 * One main file, then the drop-ins of the directory named like it with
 * ".d" appended (its files ending in ".conf"), in name order.  [socket]
 * and [limits] keys given again later replace earlier ones; rules
 * accumulate.
 *
 *   [socket]
 *   mode = 0660                  octal, default 0660
 *   group = tunbroker            name or gid; default the broker's group
 *
 *   [limits]
 *   connections = 256            client connections open at once
 *   connections-per-user = 16    ... from one uid
 *   devices-per-user = 64        live devices one uid holds, whatever
 *                                the rules say
 *   idle-timeout = 60            seconds a connection may stay silent
 *   message-size = 65536         bytes a request may have (<= 65536)
 *
 *   [rule NAME]                  any number; NAME unique over all files
 *   users = alice, 1000          whom it matches: users and/or groups
 *   groups = vpn                 (a rule needs at least one of the two)
 *   device-types = tun           tun, tap                (default: tun)
 *   names = vpn*, tb%d           globs for the requested name or template
 *                                                        (default: *)
 *   addresses = 198.18.0.0/15    CIDRs every requested address and peer
 *                                must lie in        (default: none)
 *   routes = 198.18.0.0/15       route prefixes allowed (default: none)
 *   mtu = 1280-9000              range, or one value (default: 68-65535)
 *   queues = 1                   most queues         (default: 1)
 *   offload = no                 yes or no           (default: no)
 *   bridges = br0                bridges a TAP may join (default: none)
 *   namespaces = none            none or own         (default: none)
 *   max-devices = 4              live devices of the uid (default: 1)
 *   pools = lab4, lab6           pools --address auto/auto6 may draw
 *                                from, in order      (default: none)
 *
 *   [pool NAME]                  any number; NAME unique over all files
 *   prefix = 198.18.128.0/17     the range the pool hands out
 *   subnet = 30                  what one lease gets: 30 or 31 for IPv4,
 *                                64 for IPv6 (default: 30 or 64)
 *
 * Pools may not overlap; a rule may name a pool defined in any file.
 * How rules combine: a request is granted by the first rule, in file order
 * over the main file and then the drop-ins, that matches the client (its
 * uid, primary or supplementary groups) and allows every part of the
 * request; that rule's max-devices is the quota.  If rules match but none
 * allows the request, it is refused (-EPERM) with the first matching
 * rule's first objection.  If no rule matches, -EACCES.  Root is not
 * special.  Quotas are -EDQUOT.
 */
#ifndef TUNBROKER_CONF_H
#define TUNBROKER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "error.h"
#include "protocol.h"

/* Bounds on what a client can make the broker hold. */
struct broker_limits {
	unsigned connections;
	unsigned connections_per_user;
	unsigned devices_per_user;
	unsigned idle_timeout_s;
	unsigned message_size;
};

enum policy_netns {
	POLICY_NETNS_NONE = 0,	/* devices stay in the broker's namespace */
	POLICY_NETNS_OWN = 1,	/* the client's own namespaces are allowed */
};

/* One [rule NAME] section. */
struct policy_rule {
	char *name;
	char *file;			/* where the section starts, for */
	unsigned line;			/* sentences that cite the rule */
	uid_t *users;
	size_t nusers;
	gid_t *groups;
	size_t ngroups;
	unsigned device_types;		/* 1 << TB_DEVICE_TUN | ... */
	char **names;			/* fnmatch(3) patterns */
	size_t nnames;
	struct tb_addr *addresses;	/* allowed ranges */
	size_t naddresses;
	struct tb_addr *routes;		/* allowed route prefixes */
	size_t nroutes;
	unsigned mtu_min;
	unsigned mtu_max;
	unsigned max_queues;
	bool offload;
	char **bridges;
	size_t nbridges;
	enum policy_netns namespaces;
	unsigned max_devices;
	char **pools;			/* [pool] names, in the order tried */
	size_t npools;
	unsigned pools_line;		/* where pools = is, for errors */
	bool pool_inet;			/* one of pools is IPv4 */
	bool pool_inet6;		/* ... IPv6 */
};

/*
 * One [pool NAME] section: auto-addresses come from prefix, one subnet of
 * prefix length subnet per lease.
 */
struct pool_def {
	char *name;
	char *file;			/* where the section starts */
	unsigned line;
	struct tb_addr prefix;		/* a network: no host bits */
	unsigned subnet;		/* 30 or 31 (IPv4), 64 (IPv6) */
};

struct broker_config {
	mode_t socket_mode;
	bool has_socket_group;
	gid_t socket_group;
	struct broker_limits limits;
	struct policy_rule *rules;	/* in the order they apply */
	size_t nrules;
	struct pool_def *pools;		/* in the order defined */
	size_t npools;
	char **files;			/* the files read, in order */
	size_t nfiles;
};

/* The configuration in force when there is no file: nobody is allowed. */
void conf_init_default(struct broker_config *cfg);

/*
 * Reads path and its drop-in directory into cfg.  Returns 0; -ENOENT when
 * path does not exist; or -EINVAL with "FILE:LINE: what is wrong" in err.
 * cfg is only written on success, so a failed reload leaves the old one.
 */
int conf_load(const char *path, struct broker_config *cfg,
    struct tb_error *err);

/* Writes the effective configuration, as --check-config shows it. */
void conf_print(const struct broker_config *cfg, FILE *out);

void conf_free(struct broker_config *cfg);

#endif /* TUNBROKER_CONF_H */
