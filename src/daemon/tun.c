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
 * Runs a SIOCGIF* request for the device we just named.  The tun fd offers
 * no ioctl for these, so a throw-away datagram socket in the same namespace
 * does.
 */
static int
link_ioctl(const char *name, unsigned long request, const char *what,
    struct ifreq *ifr, struct tb_error *err)
{
	int s, rc = 0;

	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s == -1) {
		rc = -errno;
		return tb_error_set(err, rc, "looking up the %s of \"%s\": "
		    "socket: %s", what, name, strerror(-rc));
	}
	memset(ifr, 0, sizeof(*ifr));
	strncpy(ifr->ifr_name, name, sizeof(ifr->ifr_name) - 1);
	if (ioctl(s, request, ifr) == -1) {
		rc = -errno;
		tb_error_set(err, rc, "looking up the %s of \"%s\": %s", what,
		    name, strerror(-rc));
	}
	close(s);
	return rc;
}

static int
tun_ifindex(const char *name, unsigned *ifindex, struct tb_error *err)
{
	struct ifreq ifr;
	int rc;

	if ((rc = link_ioctl(name, SIOCGIFINDEX, "index", &ifr, err)) == 0)
		*ifindex = (unsigned)ifr.ifr_ifindex;
	return rc;
}

int
tun_get_mtu(const char *name, unsigned *mtu, struct tb_error *err)
{
	struct ifreq ifr;
	int rc;

	if ((rc = link_ioctl(name, SIOCGIFMTU, "MTU", &ifr, err)) == 0)
		*mtu = (unsigned)ifr.ifr_mtu;
	return rc;
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
tun_set_iff_template(int tunfd, const char *template, struct ifreq *ifr)
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
		/* IFF_TUN_EXCL is 0x8000, the sign bit of the short ifr_flags. */
		ifr->ifr_flags = (short)(IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL);
		if (ioctl(tunfd, TUNSETIFF, ifr) == 0)
			return 0;
		rc = -errno;
		if (rc != -EBUSY && rc != -EEXIST)
			return rc;
	}
	return -ENOSPC;
}

int
tun_create(const char *name, uid_t uid, gid_t gid, int *fd,
    char name_out[TB_IFNAME_MAX], unsigned *ifindex, struct tb_error *err)
{
	struct ifreq ifr;
	size_t len;
	int tunfd = -1, rc;

	*fd = -1;
	name_out[0] = '\0';
	*ifindex = 0;

	if (name == NULL)
		name = "tun%d";
	len = strlen(name);
	/* The kernel would quietly turn "" into "tun%d". */
	if (len == 0)
		return tb_error_set(err, -EINVAL,
		    "creating TUN device \"\": the name is empty");
	if (len >= IFNAMSIZ)
		return tb_error_set(err, -EINVAL,
		    "creating TUN device \"%s\": the name is %zu bytes long, "
		    "at most %d are allowed", name, len, IFNAMSIZ - 1);

	tunfd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tunfd == -1) {
		rc = -errno;
		tb_error_set(err, rc, "creating TUN device \"%s\": "
		    "opening /dev/net/tun: %s", name, strerror(-rc));
		goto fail;
	}

	rc = tun_set_iff_template(tunfd, name, &ifr);
	if (rc == -ENOSPC) {
		/* No name of our own fitted: let the kernel scan. */
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, name, len);
		/* IFF_TUN_EXCL is 0x8000, the sign bit of the short ifr_flags. */
		ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL);
		rc = ioctl(tunfd, TUNSETIFF, &ifr) == -1 ? -errno : 0;
	}
	if (rc != 0) {
		tb_error_set(err, rc, "creating TUN device \"%s\": %s%s", name,
		    strerror(-rc), tun_create_hint(rc, name));
		goto fail;
	}
	/* TUNSETIFF wrote back the name the kernel chose for a template. */
	memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
	name_out[IFNAMSIZ - 1] = '\0';

	if (ioctl(tunfd, TUNSETOWNER, (unsigned long)uid) == -1) {
		rc = -errno;
		tb_error_set(err, rc, "setting the owner of TUN device \"%s\" "
		    "to uid %lu: %s", name_out, (unsigned long)uid,
		    strerror(-rc));
		goto fail;
	}
	if (ioctl(tunfd, TUNSETGROUP, (unsigned long)gid) == -1) {
		rc = -errno;
		tb_error_set(err, rc, "setting the group of TUN device \"%s\" "
		    "to gid %lu: %s", name_out, (unsigned long)gid,
		    strerror(-rc));
		goto fail;
	}
	if ((rc = tun_ifindex(name_out, ifindex, err)) != 0)
		goto fail;

	*fd = tunfd;
	return 0;
fail:
	/* Not persistent: closing its only queue fd deletes the device. */
	if (tunfd != -1)
		close(tunfd);
	name_out[0] = '\0';
	*ifindex = 0;
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
