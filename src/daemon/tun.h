/* Creating TUN devices through /dev/net/tun. */
#ifndef TUNBROKER_TUN_H
#define TUNBROKER_TUN_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "protocol.h"

/* What tun_create() makes. */
struct tun_spec {
	const char *name;	/* a name or a template; NULL: "tun%d"/"tap%d" */
	bool tap;		/* IFF_TAP, else IFF_TUN */
	unsigned queues;	/* 0: single-queue; N: IFF_MULTI_QUEUE, N fds */
	unsigned vnet_hdr;	/* 0, or IFF_VNET_HDR with this header size */
	unsigned offload;	/* TB_OFFLOAD_* (TUNSETOFFLOAD) */
	uid_t uid;		/* TUNSETOWNER */
	gid_t gid;		/* TUNSETGROUP */
};

/*
 * Creates a non-persistent device as spec says, with IFF_NO_PI and
 * IFF_TUN_EXCL, so an existing interface of that name is an error (-EBUSY)
 * and never taken over.
 *
 * For a template the broker picks the number itself, from a counter kept
 * per template and skipping names that exist, so that creating stays O(1)
 * however many interfaces there are; only when 64 names in a row are
 * taken, or no number fits, does the kernel's own scan choose.
 *
 * fds has a slot per queue (max(1, spec->queues) of them); a slot holding
 * an open /dev/net/tun file is used as it is (so a caller can open them in
 * another network namespace, where the device is then created), and a
 * slot holding -1 is opened here, in the broker's namespace.  tun_create()
 * owns what the slots hold from the call on.
 *
 * On success returns 0 with every slot a queue of the device (O_CLOEXEC;
 * the caller owns them, and the device disappears when its last queue fd
 * is closed) and name_out its name.  On failure returns a negative errno
 * with a sentence in err naming the step and the value, closes every slot
 * and sets it to -1 (so nothing is left behind), and sets name_out to "".
 */
int tun_create(const struct tun_spec *spec, int fds[TB_MAX_QUEUES],
    char name_out[TB_IFNAME_MAX], struct tb_error *err);

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
