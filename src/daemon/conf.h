/*
 * tunbrokerd.conf: where the socket lives and who may ask for devices.
 *
 *   [socket]
 *   mode = 0660
 *   group = tunbroker
 *   [access]
 *   users = alice, 1000
 *   groups = tunbroker
 */
#ifndef TUNBROKER_CONF_H
#define TUNBROKER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

struct broker_config {
	mode_t socket_mode;
	bool has_socket_group;
	gid_t socket_group;
	uid_t *users;		/* allowed to request devices */
	size_t nusers;
	gid_t *groups;		/* members allowed to request devices */
	size_t ngroups;
};

/* The configuration in force when there is no file: nobody is allowed. */
void conf_init_default(struct broker_config *cfg);

/*
 * Reads path into cfg.  Returns 0; -ENOENT when the file does not exist;
 * or -EINVAL with "PATH:LINE: what is wrong" in err.  cfg is only written
 * on success.
 */
int conf_load(const char *path, struct broker_config *cfg,
    struct tb_error *err);

void conf_free(struct broker_config *cfg);

#endif /* TUNBROKER_CONF_H */
