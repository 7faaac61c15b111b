#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <net/if.h>
#include <linux/if_tun.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "tun.h"

/* A name the kernel would truncate must be refused, not silently cut. */
_Static_assert(TB_IFNAME_MAX == IFNAMSIZ, "TB_IFNAME_MAX is IFNAMSIZ");

/* Explains the errnos of TUNSETIFF that strerror() alone leaves cryptic. */
static const char *
tun_create_hint(int rc, const char *name)
{
	switch (rc) {
	case -EBUSY:
		return " (an interface with that name exists)";
	case -ENFILE:
		return " (every name the template allows is taken)";
	case -EPERM:
		return " (creating devices needs CAP_NET_ADMIN)";
	case -EINVAL:
		if (strchr(name, '%') != NULL)
			return " (a template needs exactly one %d)";
		return " (not a valid interface name)";
	default:
		return "";
	}
}

/*
 * The next number to try for each template the broker has completed.  The
 * kernel's own "%d" walks every interface on each creation, so creating
 * grows linear in the number of devices; a counter per template makes it
 * O(1) amortised.  The loop is single-threaded, and a template evicted
 * from this small table merely starts again at 0, skipping names in use.
 */
#define TEMPLATE_SLOTS		16
#define TEMPLATE_ATTEMPTS	64

static struct template_counter {
	char template[IFNAMSIZ];
	unsigned long next;
	unsigned long last_used;
} template_counters[TEMPLATE_SLOTS];
static unsigned long template_clock;

static struct template_counter *
template_counter_get(const char *template)
{
	struct template_counter *t, *victim = &template_counters[0];
	size_t i;

	for (i = 0; i < TEMPLATE_SLOTS; i++) {
		t = &template_counters[i];
		if (strcmp(t->template, template) == 0)
			goto found;
		if (t->last_used < victim->last_used)
			victim = t;
	}
	t = victim;
	snprintf(t->template, sizeof(t->template), "%s", template);
	t->next = 0;
found:
	t->last_used = ++template_clock;
	return t;
}

/*
 * Creates the device on tunfd under a name the broker completes from
 * template ("vpn%d" becomes vpn0, vpn1, ...), skipping names that exist
 * (IFF_TUN_EXCL refuses them, so no interface is ever taken over).
 * Returns 0 with ifr holding the name, -ENOSPC when the template is not
 * ours to complete (not exactly one "%d", no number fits in IFNAMSIZ, or
 * TEMPLATE_ATTEMPTS names in a row are taken: the caller lets the kernel
 * choose), or TUNSETIFF's negative errno.
 */
static int
tun_set_iff_template(int tunfd, const char *template, short flags,
    struct ifreq *ifr)
{
	const char *pct = strchr(template, '%');
	struct template_counter *t;
	int i, n, rc;

	if (pct == NULL || pct[1] != 'd' || strchr(pct + 2, '%') != NULL)
		return -ENOSPC;
	t = template_counter_get(template);
	for (i = 0; i < TEMPLATE_ATTEMPTS; i++) {
		if (t->next > INT_MAX)
			t->next = 0;
		memset(ifr, 0, sizeof(*ifr));
		n = snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%.*s%lu%s",
		    (int)(pct - template), template, t->next, pct + 2);
		if (n < 0 || n >= IFNAMSIZ) {
			if (t->next == 0)
				return -ENOSPC;
			t->next = 0;
			continue;
		}
		t->next++;
		ifr->ifr_flags = flags;
		if (ioctl(tunfd, TUNSETIFF, ifr) == 0)
			return 0;
		rc = -errno;
		if (rc != -EBUSY && rc != -EEXIST)
			return rc;
	}
	return -ENOSPC;
}

/* The kernel's TUN_F_* bits for our TB_OFFLOAD_* ones. */
#ifndef TUN_F_USO4
#define TUN_F_USO4	0x20
#define TUN_F_USO6	0x40
#endif

static unsigned
tun_offload_flags(unsigned offload)
{
	static const struct {
		unsigned ours, kernels;
	} map[] = {
		{ TB_OFFLOAD_CSUM, TUN_F_CSUM },
		{ TB_OFFLOAD_TSO4, TUN_F_TSO4 },
		{ TB_OFFLOAD_TSO6, TUN_F_TSO6 },
		{ TB_OFFLOAD_TSO_ECN, TUN_F_TSO_ECN },
		{ TB_OFFLOAD_USO4, TUN_F_USO4 },
		{ TB_OFFLOAD_USO6, TUN_F_USO6 },
	};
	unsigned flags = 0;
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (offload & map[i].ours)
			flags |= map[i].kernels;
	}
	return flags;
}

/* Opens /dev/net/tun in the broker's namespace for each slot still -1. */
static int
tun_open_queues(int *fds, size_t n, const char *name, struct tb_error *err)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if (fds[i] != -1)
			continue;
		if ((fds[i] = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) == -1) {
			rc = -errno;
			return tb_error_set(err, rc, "creating device \"%s\": "
			    "opening /dev/net/tun: %s", name, strerror(-rc));
		}
	}
	return 0;
}

/* Sets the per-device settings TUNSETIFF leaves out, on its first queue. */
static int
tun_set_owner_and_offload(int tunfd, const struct tun_spec *spec,
    const char *name, struct tb_error *err)
{
	char offloads[TB_OFFLOAD_TEXT_MAX];
	int rc;

	if (ioctl(tunfd, TUNSETOWNER, (unsigned long)spec->uid) == -1) {
		rc = -errno;
		return tb_error_set(err, rc, "setting the owner of device "
		    "\"%s\" to uid %lu: %s", name, (unsigned long)spec->uid,
		    strerror(-rc));
	}
	if (ioctl(tunfd, TUNSETGROUP, (unsigned long)spec->gid) == -1) {
		rc = -errno;
		return tb_error_set(err, rc, "setting the group of device "
		    "\"%s\" to gid %lu: %s", name, (unsigned long)spec->gid,
		    strerror(-rc));
	}
	if (spec->vnet_hdr != 0 &&
	    ioctl(tunfd, TUNSETVNETHDRSZ, &(int){ (int)spec->vnet_hdr }) == -1) {
		rc = -errno;
		return tb_error_set(err, rc, "setting vnet-hdr %u on device "
		    "\"%s\": %s", spec->vnet_hdr, name, strerror(-rc));
	}
	if (spec->offload != 0 && ioctl(tunfd, TUNSETOFFLOAD,
	    (unsigned long)tun_offload_flags(spec->offload)) == -1) {
		rc = -errno;
		return tb_error_set(err, rc, "setting offload %s on device "
		    "\"%s\": %s", tb_offload_format(spec->offload, offloads,
		    sizeof(offloads)), name, strerror(-rc));
	}
	return 0;
}

int
tun_create(const struct tun_spec *spec, int fds[TB_MAX_QUEUES],
    char name_out[TB_IFNAME_MAX], struct tb_error *err)
{
	const char *name = spec->name != NULL ? spec->name :
	    spec->tap ? "tap%d" : "tun%d";
	size_t nqueues = spec->queues != 0 ? spec->queues : 1, len, i;
	struct ifreq ifr;
	short flags;
	int rc;

	name_out[0] = '\0';
	len = strlen(name);
	/* The kernel would quietly turn "" into "tun%d". */
	if (len == 0) {
		rc = tb_error_set(err, -EINVAL,
		    "creating device \"\": the name is empty");
		goto fail;
	}
	if (len >= IFNAMSIZ) {
		rc = tb_error_set(err, -EINVAL,
		    "creating device \"%s\": the name is %zu bytes long, "
		    "at most %d are allowed", name, len, IFNAMSIZ - 1);
		goto fail;
	}
	if (nqueues > TB_MAX_QUEUES) {
		rc = tb_error_set(err, -EINVAL, "creating device \"%s\": "
		    "%zu queues, at most %d are allowed", name, nqueues,
		    TB_MAX_QUEUES);
		goto fail;
	}
	if ((rc = tun_open_queues(fds, nqueues, name, err)) != 0)
		goto fail;

	flags = (short)((spec->tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI |
	    (spec->queues != 0 ? IFF_MULTI_QUEUE : 0) |
	    (spec->vnet_hdr != 0 ? IFF_VNET_HDR : 0));
	/* IFF_TUN_EXCL is 0x8000, the sign bit of the short ifr_flags. */
	rc = tun_set_iff_template(fds[0], name, (short)(flags | IFF_TUN_EXCL),
	    &ifr);
	if (rc == -ENOSPC) {
		/* No name of our own fitted: let the kernel scan. */
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, name, len);
		ifr.ifr_flags = (short)(flags | IFF_TUN_EXCL);
		rc = ioctl(fds[0], TUNSETIFF, &ifr) == -1 ? -errno : 0;
	}
	if (rc != 0) {
		tb_error_set(err, rc, "creating device \"%s\": %s%s", name,
		    strerror(-rc), tun_create_hint(rc, name));
		goto fail;
	}
	/* TUNSETIFF wrote back the name the kernel chose for a template. */
	memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
	name_out[IFNAMSIZ - 1] = '\0';

	if ((rc = tun_set_owner_and_offload(fds[0], spec, name_out, err)) != 0)
		goto fail;
	/* The other queues attach to it by name, without IFF_TUN_EXCL. */
	for (i = 1; i < nqueues; i++) {
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, name_out, IFNAMSIZ);
		ifr.ifr_flags = flags;
		if (ioctl(fds[i], TUNSETIFF, &ifr) == -1) {
			rc = -errno;
			tb_error_set(err, rc, "attaching queue %zu of device "
			    "\"%s\": %s", i + 1, name_out, strerror(-rc));
			goto fail;
		}
	}
	return 0;
fail:
	/* Not persistent: closing its queue fds deletes the device. */
	for (i = 0; i < nqueues && i < TB_MAX_QUEUES; i++) {
		if (fds[i] != -1)
			close(fds[i]);
		fds[i] = -1;
	}
	name_out[0] = '\0';
	return rc;
}

int
tun_attach_if_unheld(const char *name, int tun_type, int *fd)
{
	struct ifreq ifr;
	int tunfd, rc;

	*fd = -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = (short)((tun_type & (IFF_TUN | IFF_TAP)) | IFF_NO_PI);
	if ((tunfd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) == -1)
		return -errno;
	if (ioctl(tunfd, TUNSETIFF, &ifr) == -1) {
		rc = -errno;
		close(tunfd);
		return rc;
	}
	*fd = tunfd;
	return 0;
}
