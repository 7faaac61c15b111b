/*
 * Who may do what, by the rules of tunbrokerd.conf(5).  The decision takes
 * the client's identity as the kernel reported it, never anything the
 * client said about itself.
 */
#ifndef TUNBROKER_POLICY_H
#define TUNBROKER_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec.h"
#include "conf.h"

/* A network namespace as fstat() of its nsfs file shows it. */
struct netns_id {
	uint64_t dev;
	uint64_t ino;
};

/*
 * A client's identity from SO_PEERCRED and SO_PEERGROUPS, and the network
 * namespace its connection was made in (SIOCGSKNS).
 */
struct peer_identity {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t *groups;		/* supplementary groups */
	size_t ngroups;
	bool has_netns;		/* netns could be read */
	struct netns_id netns;
};

/*
 * Checks a requested device name or template: 1 to IFNAMSIZ-1 bytes of
 * letters, digits, '_', '.' and '-', at most one "%d", not "." or "..".
 * Returns 0 or -EINVAL with a sentence naming the name.
 */
int policy_check_name(const char *name, struct tb_error *err);

/*
 * Decides whether who, holding live_devices devices now, may create the
 * device req describes (see conf.h for how rules combine).  Returns 0;
 * -EACCES when no rule matches who; -EPERM when rules match but none
 * allows every part of req; -EDQUOT past a quota.  The sentence names the
 * field, the value and the rule (FILE:LINE) that refused.
 */
int policy_check_create(const struct broker_config *cfg,
    const struct peer_identity *who, const struct tb_create_request *req,
    unsigned live_devices, struct tb_error *err);

/*
 * The same, and on success *granted is the rule that allowed req (whose
 * pools an auto-address comes from); it points into cfg.
 */
int policy_check_create_rule(const struct broker_config *cfg,
    const struct peer_identity *who, const struct tb_create_request *req,
    unsigned live_devices, const struct policy_rule **granted,
    struct tb_error *err);

#endif /* TUNBROKER_POLICY_H */
