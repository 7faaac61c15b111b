/*
 * Who may do what.  For now the answer comes from the [access] lists of
 * tunbrokerd.conf; the decision takes the client's identity as the kernel
 * reported it, never anything the client said about itself.
 */
#ifndef TUNBROKER_POLICY_H
#define TUNBROKER_POLICY_H

#include <sys/types.h>

#include "codec.h"
#include "conf.h"

/* A client's identity from SO_PEERCRED and SO_PEERGROUPS. */
struct peer_identity {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t *groups;		/* supplementary groups */
	size_t ngroups;
};

/*
 * Decides whether who may create the device req describes.  Returns 0, or
 * -EACCES with a sentence naming the user.
 */
int policy_check_create(const struct broker_config *cfg,
    const struct peer_identity *who, const struct tb_create_request *req,
    struct tb_error *err);

#endif /* TUNBROKER_POLICY_H */
