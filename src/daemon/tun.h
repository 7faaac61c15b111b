/* Creating TUN devices through /dev/net/tun. */
#ifndef TUNBROKER_TUN_H
#define TUNBROKER_TUN_H

#include <sys/types.h>

#include "error.h"
#include "protocol.h"

/*
 * Creates a non-persistent TUN device named name (a fixed name, or a
 * template with exactly one %d; NULL means "tun%d") with
 * IFF_TUN|IFF_NO_PI|IFF_TUN_EXCL, so an existing interface of that name is
 * an error (-EBUSY) and never taken over, and sets its owner to uid and its
 * group to gid (TUNSETOWNER, TUNSETGROUP).
 *
 * On success returns 0, *fd is the device's one queue fd (O_CLOEXEC; the
 * caller owns it, and the device disappears when its last queue fd is
 * closed), name_out holds the name the kernel gave it and *ifindex its
 * index.  On failure returns a negative errno with a sentence in err naming
 * the step and the value, leaves nothing behind (the device goes with its
 * fd), and sets *fd to -1, name_out to "" and *ifindex to 0.
 */
int tun_create(const char *name, uid_t uid, gid_t gid, int *fd,
    char name_out[TB_IFNAME_MAX], unsigned *ifindex, struct tb_error *err);

/* Reads the MTU of the device called name, as the kernel has it now. */
int tun_get_mtu(const char *name, unsigned *mtu, struct tb_error *err);

#endif /* TUNBROKER_TUN_H */
