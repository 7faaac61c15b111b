#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "privs.h"

#define CAP_BIT(cap)	(UINT64_C(1) << (cap))

/* The three per-thread capability sets, as 64-bit masks. */
struct cap_sets {
	uint64_t effective;
	uint64_t permitted;
	uint64_t inheritable;
};

/* capget(2) with version 3 (64-bit sets); 0 or a negative errno. */
static int
caps_get(struct cap_sets *sets)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	sets->effective = (uint64_t)data[1].effective << 32 | data[0].effective;
	sets->permitted = (uint64_t)data[1].permitted << 32 | data[0].permitted;
	sets->inheritable = (uint64_t)data[1].inheritable << 32 |
	    data[0].inheritable;
	return 0;
}

/* capset(2) with version 3; 0 or a negative errno. */
static int
caps_set(const struct cap_sets *sets)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	int i;

	for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		data[i].effective = (uint32_t)(sets->effective >> (32 * i));
		data[i].permitted = (uint32_t)(sets->permitted >> (32 * i));
		data[i].inheritable =
		    (uint32_t)(sets->inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

/*
 * The highest capability this kernel knows: the number past which
 * PR_CAPBSET_READ fails with EINVAL, as /proc/sys/kernel/cap_last_cap would
 * say.  Asked of the kernel rather than read from /proc because the unit's
 * ProcSubset=pid hides /proc/sys, and so that no descriptor is open for a
 * moment while clients may already be connecting.
 */
static int
last_cap(void)
{
	int last;

	for (last = 0; last < 63; last++) {
		if (prctl(PR_CAPBSET_READ, (unsigned long)last + 1, 0, 0, 0) < 0)
			break;
	}
	return last;
}

/* The bounding set as a mask, for the debug log and the check after. */
static uint64_t
bounding_set(int last)
{
	uint64_t set = 0;
	int cap;

	for (cap = 0; cap <= last; cap++) {
		if (prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0) == 1)
			set |= CAP_BIT(cap);
	}
	return set;
}

/* Removes every capability not in keep from the bounding set. */
static int
drop_bounding_set(int last, uint64_t keep, struct tb_error *err)
{
	int cap;

	for (cap = 0; cap <= last; cap++) {
		if ((keep & CAP_BIT(cap)) != 0 ||
		    prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0)
			return tb_error_set(err, -errno,
			    "dropping capability %d from the bounding set: %s",
			    cap, strerror(errno));
	}
	return 0;
}

int
privs_drop(struct tb_error *err)
{
	return privs_keep(CAP_BIT(CAP_NET_ADMIN), "CAP_NET_ADMIN", err);
}

int
privs_keep(uint64_t keep, const char *names, struct tb_error *err)
{
	struct cap_sets sets;
	int last = last_cap(), r;

	if ((r = caps_get(&sets)) != 0)
		return tb_error_set(err, r, "reading our capabilities: %s",
		    strerror(-r));
	if ((sets.permitted & keep) != keep)
		return tb_error_set(err, -EPERM,
		    "tunbrokerd needs %s: start it as root, or "
		    "with that capability (its permitted set is 0x%" PRIx64 ")",
		    names, sets.permitted);

	/* The bounding set needs CAP_SETPCAP, so it goes first. */
	if (sets.permitted & CAP_BIT(CAP_SETPCAP)) {
		sets.effective |= CAP_BIT(CAP_SETPCAP);
		if ((r = caps_set(&sets)) != 0)
			return tb_error_set(err, r,
			    "raising CAP_SETPCAP to drop capabilities: %s",
			    strerror(-r));
		if ((r = drop_bounding_set(last, keep, err)) != 0)
			return r;
	} else {
		log_debug("no CAP_SETPCAP: the bounding set stays as it is; "
		    "no_new_privs keeps execve from using it");
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return tb_error_set(err, -errno,
		    "clearing the ambient capabilities: %s", strerror(errno));
	sets = (struct cap_sets){ .effective = keep, .permitted = keep };
	if ((r = caps_set(&sets)) != 0)
		return tb_error_set(err, r,
		    "keeping only %s: %s", names, strerror(-r));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return tb_error_set(err, -errno, "setting no_new_privs: %s",
		    strerror(errno));

	/* Believe the kernel, not the calls above. */
	if ((r = caps_get(&sets)) != 0)
		return tb_error_set(err, r, "reading our capabilities: %s",
		    strerror(-r));
	if (sets.effective != keep || sets.permitted != keep ||
	    sets.inheritable != 0)
		return tb_error_set(err, -EPERM,
		    "capabilities are effective 0x%" PRIx64 " permitted 0x%"
		    PRIx64 " inheritable 0x%" PRIx64 " after dropping all but "
		    "%s", sets.effective, sets.permitted,
		    sets.inheritable, names);
	log_debug("capabilities: effective 0x%" PRIx64 ", permitted 0x%"
	    PRIx64 ", inheritable 0, bounding 0x%" PRIx64 ", ambient none; "
	    "no_new_privs %d; uid %u kept to re-read the configuration",
	    sets.effective, sets.permitted, bounding_set(last),
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), (unsigned)getuid());
	return 0;
}

bool
privs_have(int cap)
{
	struct cap_sets sets;

	return caps_get(&sets) == 0 && (sets.permitted & CAP_BIT(cap)) != 0;
}
