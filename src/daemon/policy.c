#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdbool.h>

#include "policy.h"

static bool
uid_listed(const struct broker_config *cfg, uid_t uid)
{
	size_t i;

	for (i = 0; i < cfg->nusers; i++) {
		if (cfg->users[i] == uid)
			return true;
	}
	return false;
}

static bool
gid_listed(const struct broker_config *cfg, gid_t gid)
{
	size_t i;

	for (i = 0; i < cfg->ngroups; i++) {
		if (cfg->groups[i] == gid)
			return true;
	}
	return false;
}

int
policy_check_create(const struct broker_config *cfg,
    const struct peer_identity *who, const struct tb_create_request *req,
    struct tb_error *err)
{
	const struct passwd *pw;
	size_t i;

	(void)req;	/* the access lists grant all or nothing */
	if (uid_listed(cfg, who->uid) || gid_listed(cfg, who->gid))
		return 0;
	for (i = 0; i < who->ngroups; i++) {
		if (gid_listed(cfg, who->groups[i]))
			return 0;
	}
	pw = getpwuid(who->uid);
	return tb_error_set(err, -EACCES,
	    "user %s (uid %u) is not allowed to request devices",
	    pw != NULL ? pw->pw_name : "?", (unsigned)who->uid);
}
