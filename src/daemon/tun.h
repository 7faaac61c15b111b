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
 * For a template the broker picks the number itself, from a counter kept
 * per template and skipping names that exist, so that creating stays O(1)
 * however many interfaces there are; only when 64 names in a row are
 * taken, or no number fits, does the kernel's own scan choose.
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

/*
 * Tells whether anybody holds a queue of the existing single-queue device
 * called name, of type tun_type (IFF_TUN or IFF_TAP), by attaching to it:
 * the kernel refuses (-EBUSY) a second queue on such a device.  The
 * kernel reports queue counts only for multi-queue devices, and a lost
 * carrier is only a hint (TUNSETCARRIER needs no privilege either).
 *
 * Returns 0 with *fd attached when nobody held it (the caller owns *fd and
 * should delete the device before closing it), -EBUSY when someone does,
 * or another negative errno.
 */
int tun_attach_if_unheld(const char *name, int tun_type, int *fd);

#endif /* TUNBROKER_TUN_H */
