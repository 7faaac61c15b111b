/*
 * Giving up privilege before serving: of all capabilities only
 * CAP_NET_ADMIN stays, and nothing the process executes can gain more.
 */
#ifndef TUNBROKER_PRIVS_H
#define TUNBROKER_PRIVS_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/*
 * Keeps CAP_NET_ADMIN alone in the permitted and effective sets, empties
 * the inheritable and ambient sets, removes every other capability from
 * the bounding set (where the process may: that needs CAP_SETPCAP, which
 * root has), and sets no_new_privs.  Call it once the socket is bound and
 * given its group, before serving.
 *
 * The uid stays what it was, 0 when started as root: the broker re-reads
 * its root-owned configuration on SIGHUP, which uid 0 may do without
 * CAP_DAC_OVERRIDE.
 *
 * Returns 0, or a negative errno with a sentence in err: -EPERM ("tunbrokerd
 * needs CAP_NET_ADMIN") when the process was started without it.
 */
int privs_drop(struct tb_error *err);

/*
 * privs_drop() for another set: keeps the capabilities whose bits
 * (1 << CAP_X) are in keep, named in words by names for the sentences.
 * The namespace helper (nsopen.h) keeps CAP_SYS_ADMIN and CAP_NET_ADMIN.
 */
int privs_keep(uint64_t keep, const char *names, struct tb_error *err);

/* Whether cap is in the permitted set now. */
bool privs_have(int cap);

#endif /* TUNBROKER_PRIVS_H */
