#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <net/if.h>
#include <linux/if_tun.h>

#include <errno.h>
#include <fcntl.h>
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

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, len);
	/* IFF_TUN_EXCL is 0x8000, the sign bit of the short ifr_flags. */
	ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL);
	if (ioctl(tunfd, TUNSETIFF, &ifr) == -1) {
		rc = -errno;
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
