/*
 * The daemon's kernel-facing layer: tun_create() and the rtnetlink calls,
 * checked against what the kernel reports back.  Every case runs in its
 * own network namespace.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_tun.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "addr.h"
#include "netinfo.h"
#include "netlink.h"
#include "testlib.h"
#include "tun.h"

#define OTHER_GID	4321	/* differs from TESTLIB_UID, to catch a swap */

/*
 * tun_create() for one single-queue TUN, with its index looked up the way
 * a test can: returns its result, *fd the queue or -1.
 */
static int
try_create(const char *name, uid_t uid, gid_t gid, int *fd,
    char name_out[TB_IFNAME_MAX], unsigned *ifindex, struct tb_error *err)
{
	struct tun_spec spec = { .name = name, .uid = uid, .gid = gid };
	int fds[TB_MAX_QUEUES], rc;
	size_t i;

	for (i = 0; i < TB_MAX_QUEUES; i++)
		fds[i] = -1;
	rc = tun_create(&spec, fds, name_out, err);
	*fd = fds[0];
	*ifindex = rc == 0 ? if_nametoindex(name_out) : 0;
	return rc;
}

/* netlink_configure_link() with just an MTU, or just up. */
static int
set_mtu(struct netlink *nl, unsigned ifindex, unsigned mtu,
    struct tb_error *err)
{
	struct netlink_link_config cfg = { .mtu = mtu };

	return netlink_configure_link(nl, ifindex, &cfg, err);
}

static int
set_up(struct netlink *nl, unsigned ifindex, struct tb_error *err)
{
	struct netlink_link_config cfg = { .up = true };

	return netlink_configure_link(nl, ifindex, &cfg, err);
}

/* Creates a TUN device that must succeed and returns its fd. */
static int
create_tun(const char *name, char name_out[TB_IFNAME_MAX], unsigned *ifindex)
{
	struct tb_error err = { 0 };
	int fd, rc;

	rc = try_create(name, TESTLIB_UID, TESTLIB_GID, &fd, name_out, ifindex,
	    &err);
	ck_assert_msg(rc == 0, "try_create(\"%s\"): %d %s", name, rc, err.text);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static struct netlink *
open_netlink(void)
{
	struct tb_error err = { 0 };
	struct netlink *nl;

	ck_assert_msg(netlink_open(&nl, &err) == 0, "%s", err.text);
	ck_assert_ptr_nonnull(nl);
	return nl;
}

static struct tb_addr
addr(const char *text)
{
	struct tb_addr a;

	ck_assert_int_eq(tb_addr_parse(text, false, &a, NULL), 0);
	return a;
}

/* True if link has exactly this address (and peer, or no peer). */
static bool
has_addr(const struct netinfo_link *link, const char *local, const char *peer)
{
	struct tb_addr l = addr(local), p;
	size_t i;

	if (peer != NULL)
		p = addr(peer);
	for (i = 0; i < link->naddrs; i++) {
		const struct netinfo_addr *a = &link->addrs[i];

		if (memcmp(&a->local, &l, sizeof(l)) != 0)
			continue;
		if (peer == NULL)
			return !a->has_peer;
		return a->has_peer && memcmp(&a->peer, &p, sizeof(p)) == 0;
	}
	return false;
}

static struct netinfo_link
link_info(const char *name)
{
	struct netinfo_link link;
	int rc;

	rc = netinfo_link_by_name(name, &link);
	ck_assert_msg(rc == 0, "netinfo_link_by_name(\"%s\"): %s", name,
	    strerror(-rc));
	return link;
}

static void
assert_no_link(const char *name)
{
	struct netinfo_link link;

	ck_assert_int_eq(netinfo_link_by_name(name, &link), -ENODEV);
}

/* Connects a UDP socket to dst and returns the source address chosen. */
static int
route_source(const char *dst, char *src, size_t size)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int s, rc = 0;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, dst, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(9);
		len = sizeof(*sin);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, dst, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(9);
		len = sizeof(*sin6);
	}
	s = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	if (connect(s, (struct sockaddr *)&ss, len) == -1) {
		rc = -errno;
		goto out;
	}
	len = sizeof(ss);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&ss, &len), 0);
	ck_assert_ptr_nonnull(inet_ntop(ss.ss_family, ss.ss_family == AF_INET ?
	    (void *)&sin->sin_addr : (void *)&sin6->sin6_addr, src,
	    (socklen_t)size));
out:
	close(s);
	return rc;
}

START_TEST(tun_fixed_name)
{
	char name[TB_IFNAME_MAX];
	struct netinfo_link link;
	struct ifreq ifr;
	unsigned ifindex;
	int fd;

	testlib_enter_netns();
	fd = create_tun("tb-vpn0", name, &ifindex);
	ck_assert_str_eq(name, "tb-vpn0");
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);

	link = link_info("tb-vpn0");
	ck_assert_uint_eq(link.ifindex, ifindex);
	ck_assert_str_eq(link.kind, "tun");
	ck_assert_uint_ne(link.flags & IFF_POINTOPOINT, 0);

	/* A layer-3 device without the 4-byte packet-information header. */
	memset(&ifr, 0, sizeof(ifr));
	ck_assert_int_eq(ioctl(fd, TUNGETIFF, &ifr), 0);
	ck_assert_str_eq(ifr.ifr_name, "tb-vpn0");
	ck_assert_int_eq(ifr.ifr_flags & (IFF_TUN | IFF_TAP | IFF_NO_PI),
	    IFF_TUN | IFF_NO_PI);
	ck_assert_int_eq(ifr.ifr_flags & IFF_PERSIST, 0);
	close(fd);
}
END_TEST

START_TEST(tun_template_name)
{
	char name0[TB_IFNAME_MAX], name1[TB_IFNAME_MAX], name2[TB_IFNAME_MAX];
	unsigned ifindex0, ifindex1, ifindex2;
	int fd0, fd1, fd2;

	testlib_enter_netns();
	fd0 = create_tun("tb%d", name0, &ifindex0);
	fd1 = create_tun("tb%d", name1, &ifindex1);
	fd2 = create_tun(NULL, name2, &ifindex2);
	ck_assert_str_eq(name0, "tb0");
	ck_assert_str_eq(name1, "tb1");
	ck_assert_str_eq(name2, "tun0");
	ck_assert_uint_ne(ifindex0, ifindex1);
	ck_assert_uint_eq(link_info("tb0").ifindex, ifindex0);
	ck_assert_uint_eq(link_info("tb1").ifindex, ifindex1);
	ck_assert_uint_eq(link_info("tun0").ifindex, ifindex2);
	close(fd0);
	close(fd1);
	close(fd2);
}
END_TEST

START_TEST(tun_owner_group)
{
	struct tb_error err = { 0 };
	char name[TB_IFNAME_MAX];
	struct netinfo_link link;
	unsigned ifindex;
	int fd;

	testlib_enter_netns();
	ck_assert_int_eq(try_create("tb-owned", TESTLIB_UID, OTHER_GID, &fd,
	    name, &ifindex, &err), 0);
	link = link_info("tb-owned");
	ck_assert(link.has_owner);
	ck_assert_uint_eq(link.owner, TESTLIB_UID);
	ck_assert(link.has_group);
	ck_assert_uint_eq(link.group, OTHER_GID);
	close(fd);
}
END_TEST

START_TEST(tun_name_clash)
{
	struct tb_error err = { 0 };
	char name[TB_IFNAME_MAX], name2[TB_IFNAME_MAX];
	struct netinfo_link before, after;
	unsigned ifindex, ifindex2 = 42;
	int fd, fd2 = 42;

	testlib_enter_netns();
	fd = create_tun("vpn0", name, &ifindex);
	/* Another user asking for the same name must not get the device. */
	ck_assert_int_eq(try_create("vpn0", 1000, 1000, &fd2, name2, &ifindex2,
	    &err), -EBUSY);
	ck_assert_int_eq(err.code, -EBUSY);
	ck_assert_str_eq(err.text, "creating device \"vpn0\": Device or "
	    "resource busy (an interface with that name exists)");
	ck_assert_int_eq(fd2, -1);
	ck_assert_uint_eq(ifindex2, 0);
	ck_assert_str_eq(name2, "");
	after = link_info("vpn0");
	ck_assert_uint_eq(after.ifindex, ifindex);
	ck_assert_uint_eq(after.owner, TESTLIB_UID);
	ck_assert_uint_eq(after.group, TESTLIB_GID);

	/* Nor an interface that is not a TUN at all. */
	before = link_info("lo");
	ck_assert_int_eq(try_create("lo", TESTLIB_UID, TESTLIB_GID, &fd2,
	    name2, &ifindex2, &err), -EBUSY);
	ck_assert_ptr_nonnull(strstr(err.text, "\"lo\""));
	after = link_info("lo");
	ck_assert_uint_eq(after.ifindex, before.ifindex);
	ck_assert_uint_eq(after.flags & IFF_UP, IFF_UP);
	ck_assert_str_eq(after.kind, "");
	close(fd);
}
END_TEST

START_TEST(tun_bad_names)
{
	struct tb_error err = { 0 };
	char name[TB_IFNAME_MAX];
	unsigned ifindex;
	int fd;

	testlib_enter_netns();
	/* 16 bytes: one too many for IFNAMSIZ with its NUL. */
	ck_assert_int_eq(try_create("tb-0123456789abc", TESTLIB_UID,
	    TESTLIB_GID, &fd, name, &ifindex, &err), -EINVAL);
	ck_assert_int_eq(err.code, -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.text, "\"tb-0123456789abc\""));
	ck_assert_int_eq(fd, -1);
	assert_no_link("tb-0123456789ab");

	ck_assert_int_eq(try_create("", TESTLIB_UID, TESTLIB_GID, &fd, name,
	    &ifindex, &err), -EINVAL);
	assert_no_link("tun0");

	ck_assert_int_eq(try_create("tb%d%d", TESTLIB_UID, TESTLIB_GID, &fd,
	    name, &ifindex, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.text, "\"tb%d%d\""));

	/* 15 bytes is the longest name there is. */
	fd = create_tun("tb-0123456789ab", name, &ifindex);
	ck_assert_str_eq(name, "tb-0123456789ab");
	ck_assert_uint_eq(link_info("tb-0123456789ab").ifindex, ifindex);
	close(fd);
}
END_TEST

START_TEST(tun_close_removes)
{
	char name[TB_IFNAME_MAX];
	unsigned ifindex;
	int fd;

	testlib_enter_netns();
	fd = create_tun("tb-gone", name, &ifindex);
	link_info("tb-gone");
	close(fd);
	assert_no_link("tb-gone");
	/* And the name is free again. */
	close(create_tun("tb-gone", name, &ifindex));
}
END_TEST

/* Queues, header size and offload, as the kernel and each fd report them. */
START_TEST(tun_multi_queue)
{
	struct tun_spec spec = { .name = "tb-mq", .queues = 3,
	    .vnet_hdr = 12, .offload = TB_OFFLOAD_CSUM | TB_OFFLOAD_TSO4 };
	struct tb_error err = { 0 };
	char name[TB_IFNAME_MAX];
	struct netinfo_link link;
	int fds[TB_MAX_QUEUES], size;
	struct ifreq ifr;
	size_t i;
	bool on;

	testlib_enter_netns();
	for (i = 0; i < TB_MAX_QUEUES; i++)
		fds[i] = -1;
	ck_assert_msg(tun_create(&spec, fds, name, &err) == 0, "%s",
	    err.text);
	link = link_info("tb-mq");
	ck_assert(link.multi_queue);
	ck_assert(link.vnet_hdr);
	ck_assert_uint_eq(link.num_queues, 3);
	ck_assert_int_eq(netinfo_feature("tb-mq", "tx-tcp-segmentation", &on),
	    0);
	ck_assert(on);
	for (i = 0; i < 3; i++) {
		memset(&ifr, 0, sizeof(ifr));
		ck_assert_int_eq(ioctl(fds[i], TUNGETIFF, &ifr), 0);
		ck_assert_str_eq(ifr.ifr_name, "tb-mq");
		ck_assert(ifr.ifr_flags & IFF_MULTI_QUEUE);
		ck_assert_int_eq(ioctl(fds[i], TUNGETVNETHDRSZ, &size), 0);
		ck_assert_int_eq(size, 12);
		close(fds[i]);
	}
	ck_assert_int_eq(fds[3], -1);
	assert_no_link("tb-mq");
}
END_TEST

/*
 * A queue that cannot attach (its slot holds a file that is no tun) fails
 * the whole create: every slot closed and -1, the first queue's device
 * gone, the step and the queue named.  The kernel gives the broker no way
 * to make a real second attach fail, so this is where that path is shown.
 */
START_TEST(tun_queue_attach_failure_leaves_nothing)
{
	struct tun_spec spec = { .name = "tb-half", .queues = 3 };
	struct tb_error err = { 0 };
	char name[TB_IFNAME_MAX] = "x";
	int fds[TB_MAX_QUEUES], notun;
	size_t i;

	testlib_enter_netns();
	for (i = 0; i < TB_MAX_QUEUES; i++)
		fds[i] = -1;
	notun = open("/dev/null", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(notun, 0);
	fds[1] = notun;
	ck_assert_int_eq(tun_create(&spec, fds, name, &err), -ENOTTY);
	ck_assert_str_eq(err.text, "attaching queue 2 of device \"tb-half\": "
	    "Inappropriate ioctl for device");
	ck_assert_str_eq(name, "");
	for (i = 0; i < TB_MAX_QUEUES; i++)
		ck_assert_int_eq(fds[i], -1);
	/* tun_create() owned the file it was given, and closed it. */
	ck_assert(!testlib_fd_is_open(notun));
	assert_no_link("tb-half");

	spec.queues = TB_MAX_QUEUES + 1;
	ck_assert_int_eq(tun_create(&spec, fds, name, &err), -EINVAL);
	ck_assert_str_eq(err.text, "creating device \"tb-half\": 17 queues, "
	    "at most 16 are allowed");
}
END_TEST

START_TEST(netlink_configure)
{
	struct tb_error err = { 0 };
	char name[TB_IFNAME_MAX], src[INET6_ADDRSTRLEN];
	struct netinfo_link link;
	struct netlink *nl;
	struct tb_addr a4 = addr("198.18.0.1/24"), a6 = addr("2001:db8::1/64");
	unsigned ifindex;
	int fd;

	testlib_enter_netns();
	fd = create_tun("tb-cfg", name, &ifindex);
	nl = open_netlink();
	/* The daemon's order: addresses last (see netlink.h). */
	ck_assert_msg(set_mtu(nl, ifindex, 1400, &err) == 0, "%s",
	    err.text);
	ck_assert_msg(set_up(nl, ifindex, &err) == 0, "%s", err.text);
	ck_assert_msg(netlink_add_address(nl, ifindex, &a4, NULL, &err) == 0,
	    "%s", err.text);
	ck_assert_msg(netlink_add_address(nl, ifindex, &a6, NULL, &err) == 0,
	    "%s", err.text);

	link = link_info("tb-cfg");
	ck_assert_uint_eq(link.mtu, 1400);
	ck_assert_uint_eq(link.flags & IFF_UP, IFF_UP);
	ck_assert_uint_eq(link.naddrs, 2);
	ck_assert(has_addr(&link, "198.18.0.1/24", NULL));
	ck_assert(has_addr(&link, "2001:db8::1/64", NULL));

	/* The prefixes route through the device, from these addresses. */
	ck_assert_int_eq(route_source("198.18.0.77", src, sizeof(src)), 0);
	ck_assert_str_eq(src, "198.18.0.1");
	/* No DAD: the IPv6 address is a usable source right away. */
	ck_assert_int_eq(route_source("2001:db8::77", src, sizeof(src)), 0);
	ck_assert_str_eq(src, "2001:db8::1");

	netlink_close(nl);
	netlink_close(NULL);
	close(fd);
}
END_TEST

START_TEST(netlink_peer)
{
	struct tb_error err = { 0 };
	char name[TB_IFNAME_MAX], src[INET6_ADDRSTRLEN];
	struct netinfo_link link;
	struct netlink *nl;
	struct tb_addr a4 = addr("198.18.0.1/24"), p4 = addr("198.18.0.2/32");
	struct tb_addr a6 = addr("2001:db8::1/64"), p6 = addr("2001:db8::2/128");
	unsigned ifindex;
	int fd;

	testlib_enter_netns();
	fd = create_tun("tb-p2p", name, &ifindex);
	nl = open_netlink();

	ck_assert_int_eq(netlink_add_address(nl, ifindex, &a4, &p6, &err),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.text, "198.18.0.1"));
	ck_assert_ptr_nonnull(strstr(err.text, "2001:db8::2/128"));
	ck_assert_uint_eq(link_info("tb-p2p").naddrs, 0);

	/* Up first, or the IPv6 peer gets no route (see netlink.h). */
	ck_assert_msg(set_up(nl, ifindex, &err) == 0, "%s", err.text);
	ck_assert_msg(netlink_add_address(nl, ifindex, &a4, &p4, &err) == 0,
	    "%s", err.text);
	ck_assert_msg(netlink_add_address(nl, ifindex, &a6, &p6, &err) == 0,
	    "%s", err.text);

	link = link_info("tb-p2p");
	ck_assert_uint_eq(link.naddrs, 2);
	ck_assert(has_addr(&link, "198.18.0.1/32", "198.18.0.2/32"));
	ck_assert(has_addr(&link, "2001:db8::1/128", "2001:db8::2/128"));

	/* Only the peer is behind the device; its neighbours are not. */
	ck_assert_int_eq(route_source("198.18.0.2", src, sizeof(src)), 0);
	ck_assert_str_eq(src, "198.18.0.1");
	ck_assert_int_eq(route_source("198.18.0.3", src, sizeof(src)),
	    -ENETUNREACH);
	ck_assert_int_eq(route_source("2001:db8::2", src, sizeof(src)), 0);
	ck_assert_str_eq(src, "2001:db8::1");
	ck_assert_int_eq(route_source("2001:db8::3", src, sizeof(src)),
	    -ENETUNREACH);

	netlink_close(nl);
	close(fd);
}
END_TEST

START_TEST(netlink_errors)
{
	struct tb_error err = { 0 };
	char name[TB_IFNAME_MAX];
	struct netlink *nl;
	struct tb_addr a4 = addr("198.18.0.1/24");
	unsigned ifindex;
	int fd;

	testlib_enter_netns();
	fd = create_tun("tb-err", name, &ifindex);
	nl = open_netlink();

	ck_assert_int_eq(netlink_add_address(nl, 999999, &a4, NULL, &err),
	    -ENODEV);
	ck_assert_int_eq(err.code, -ENODEV);
	ck_assert_ptr_nonnull(strstr(err.text,
	    "adding address 198.18.0.1/24 to ifindex 999999: "));

	ck_assert_int_eq(netlink_add_address(nl, ifindex, &a4, NULL, &err), 0);
	ck_assert_int_eq(netlink_add_address(nl, ifindex, &a4, NULL, &err),
	    -EEXIST);
	ck_assert_ptr_nonnull(strstr(err.text, "198.18.0.1/24"));
	ck_assert_ptr_nonnull(strstr(err.text, "File exists"));

	/* Below the TUN minimum of 68: the kernel says why, and we pass it on. */
	ck_assert_int_eq(set_mtu(nl, ifindex, 10, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.text, "configuring ifindex "));
	ck_assert_ptr_nonnull(strstr(err.text, "(kernel: "));
	ck_assert_uint_eq(link_info("tb-err").mtu, 1500);

	ck_assert_int_eq(set_up(nl, 999999, &err), -ENODEV);
	ck_assert_ptr_nonnull(strstr(err.text, "999999"));
	ck_assert_int_eq(netlink_delete_link(nl, 999999, &err), -ENODEV);
	ck_assert_ptr_nonnull(strstr(err.text, "999999"));
	/* 0 would address links by name (or group) instead of by index. */
	ck_assert_int_eq(netlink_delete_link(nl, 0, &err), -EINVAL);

	/* The socket is still in step after all those errors. */
	ck_assert_msg(set_up(nl, ifindex, &err) == 0, "%s", err.text);
	ck_assert_uint_eq(link_info("tb-err").flags & IFF_UP, IFF_UP);

	netlink_close(nl);
	close(fd);
}
END_TEST

/* The requests of a batch all run; its end names the first failure. */
START_TEST(netlink_batch)
{
	struct tb_error err = { 0 };
	char name[TB_IFNAME_MAX];
	struct netinfo_link link;
	struct netlink *nl;
	struct tb_addr a4 = addr("198.18.0.1/24"), a6 = addr("2001:db8::1/64");
	struct netlink_link_config mtu = { .mtu = 1400 }, up = { .up = true };
	unsigned ifindex;
	int fd;

	testlib_enter_netns();
	fd = create_tun("tb-batch", name, &ifindex);
	nl = open_netlink();
	netlink_batch_begin(nl);
	ck_assert_int_eq(netlink_configure_link(nl, ifindex, &mtu, &err), 0);
	ck_assert_int_eq(netlink_configure_link(nl, ifindex, &up, &err), 0);
	ck_assert_int_eq(netlink_add_address(nl, ifindex, &a4, NULL, &err), 0);
	ck_assert_int_eq(netlink_add_address(nl, ifindex, &a4, NULL, &err), 0);
	ck_assert_int_eq(netlink_add_address(nl, ifindex, &a6, NULL, &err), 0);
	ck_assert_int_eq(netlink_batch_end(nl, &err), -EEXIST);
	ck_assert_msg(strstr(err.text, "adding address 198.18.0.1/24 to "
	    "ifindex ") != NULL && strstr(err.text, "File exists") != NULL,
	    "%s", err.text);
	link = link_info("tb-batch");
	ck_assert_uint_eq(link.mtu, 1400);
	ck_assert_uint_eq(link.flags & IFF_UP, IFF_UP);
	ck_assert_uint_eq(link.naddrs, 2);
	ck_assert(has_addr(&link, "2001:db8::1/64", NULL));

	/* An empty batch is no request; the socket is still in step. */
	netlink_batch_begin(nl);
	ck_assert_int_eq(netlink_batch_end(nl, &err), 0);
	mtu.mtu = 1300;
	ck_assert_int_eq(netlink_configure_link(nl, ifindex, &mtu, &err), 0);
	ck_assert_uint_eq(link_info("tb-batch").mtu, 1300);
	netlink_close(nl);
	close(fd);
}
END_TEST

/*
 * Only a write's last request asks for an ack: a failure of that last
 * one, and failures in a batch of several writes, are still reported.
 */
START_TEST(netlink_batch_acks)
{
	struct tb_error err = { 0 };
	char name[TB_IFNAME_MAX];
	struct netlink *nl;
	struct tb_addr a;
	unsigned ifindex, i;
	int fd, rc;

	testlib_enter_netns();
	fd = create_tun("tb-acks", name, &ifindex);
	nl = open_netlink();
	a = addr("198.18.1.1/24");
	ck_assert_int_eq(netlink_add_address(nl, ifindex, &a, NULL, &err), 0);
	netlink_batch_begin(nl);
	ck_assert_int_eq(netlink_configure_link(nl, ifindex,
	    &(struct netlink_link_config){ .up = true }, &err), 0);
	ck_assert_int_eq(netlink_add_address(nl, ifindex, &a, NULL, &err), 0);
	ck_assert_int_eq(netlink_batch_end(nl, &err), -EEXIST);
	ck_assert_msg(strstr(err.text, "adding address 198.18.1.1/24") !=
	    NULL, "%s", err.text);

	/*
	 * 70 requests take two writes; the 68th fails and those after it
	 * still run.
	 */
	a = addr("198.18.1.1/24");
	netlink_batch_begin(nl);
	for (i = 0; i < 70; i++) {
		if (i == 67)
			rc = netlink_add_address(nl, ifindex, &a, NULL, &err);
		else
			rc = netlink_configure_link(nl, ifindex,
			    &(struct netlink_link_config){ .mtu = 1300 + i },
			    &err);
		ck_assert_int_eq(rc, 0);
	}
	ck_assert_int_eq(netlink_batch_end(nl, &err), -EEXIST);
	ck_assert_msg(strstr(err.text, "198.18.1.1/24") != NULL, "%s",
	    err.text);
	ck_assert_uint_eq(link_info("tb-acks").mtu, 1369);

	/* The socket is still in step. */
	ck_assert_int_eq(netlink_configure_link(nl, ifindex,
	    &(struct netlink_link_config){ .mtu = 1280 }, &err), 0);
	ck_assert_uint_eq(link_info("tb-acks").mtu, 1280);
	netlink_close(nl);
	close(fd);
}
END_TEST

/*
 * A batch can end with a read of the link, in the same write: the link as
 * the batch left it, and the batch's first failure if it had one.
 */
START_TEST(netlink_batch_link)
{
	struct tb_error err = { 0 };
	char name[TB_IFNAME_MAX];
	struct netlink_link link;
	struct netlink *nl;
	struct tb_addr a = addr("198.18.2.1/24");
	unsigned ifindex;
	int fd;

	testlib_enter_netns();
	fd = create_tun("tb-read", name, &ifindex);
	nl = open_netlink();
	netlink_batch_begin(nl);
	ck_assert_int_eq(netlink_configure_link(nl, ifindex,
	    &(struct netlink_link_config){ .mtu = 1420, .txqueuelen = 77,
	    .up = true }, &err), 0);
	ck_assert_int_eq(netlink_add_address(nl, ifindex, &a, NULL, &err), 0);
	ck_assert_msg(netlink_batch_end_link(nl, ifindex, &link, &err) == 0,
	    "%s", err.text);
	ck_assert_uint_eq(link.ifindex, ifindex);
	ck_assert_str_eq(link.name, "tb-read");
	ck_assert_uint_eq(link.mtu, 1420);
	ck_assert_uint_eq(link.txqueuelen, 77);
	ck_assert(link.is_tun);

	/* A failure on the way is reported; the link is still read. */
	netlink_batch_begin(nl);
	ck_assert_int_eq(netlink_add_address(nl, ifindex, &a, NULL, &err), 0);
	ck_assert_int_eq(netlink_configure_link(nl, ifindex,
	    &(struct netlink_link_config){ .mtu = 1300 }, &err), 0);
	ck_assert_int_eq(netlink_batch_end_link(nl, ifindex, &link, &err),
	    -EEXIST);
	ck_assert_msg(strstr(err.text, "adding address 198.18.2.1/24") !=
	    NULL, "%s", err.text);
	ck_assert_uint_eq(link.mtu, 1300);

	/* A link that is gone (the last close deleted it) fails the read. */
	close(fd);
	netlink_batch_begin(nl);
	ck_assert_int_eq(netlink_batch_end_link(nl, ifindex, &link, &err),
	    -ENODEV);
	ck_assert_msg(strstr(err.text, "reading back link ifindex") != NULL,
	    "%s", err.text);
	netlink_close(nl);
}
END_TEST

/*
 * A link told to generate no IPv6 link-local address gets none when it
 * comes up, while one left alone gets its own.
 */
START_TEST(netlink_no_link_local)
{
	struct tb_error err = { 0 };
	char plain[TB_IFNAME_MAX], bare[TB_IFNAME_MAX];
	struct netlink_link_config none = { .no_ipv6_link_local = true };
	struct netlink_link_config up = { .up = true };
	struct netlink *nl;
	unsigned plain_ifindex, bare_ifindex;
	int fd_plain, fd_bare, i;

	testlib_enter_netns();
	fd_plain = create_tun("tb-plain", plain, &plain_ifindex);
	fd_bare = create_tun("tb-bare", bare, &bare_ifindex);
	nl = open_netlink();
	ck_assert_msg(netlink_configure_link(nl, bare_ifindex, &none, &err) ==
	    0, "%s", err.text);
	ck_assert_int_eq(netlink_configure_link(nl, bare_ifindex, &up, &err),
	    0);
	ck_assert_int_eq(netlink_configure_link(nl, plain_ifindex, &up, &err),
	    0);
	for (i = 0; i < 200 && link_info("tb-plain").nlinklocal == 0; i++)
		usleep(10 * 1000);
	ck_assert_uint_eq(link_info("tb-plain").nlinklocal, 1);
	ck_assert_uint_eq(link_info("tb-bare").nlinklocal, 0);
	netlink_close(nl);
	close(fd_plain);
	close(fd_bare);
}
END_TEST

START_TEST(netlink_delete)
{
	struct tb_error err = { 0 };
	char name[TB_IFNAME_MAX];
	struct netlink *nl;
	unsigned ifindex;
	int fd;

	testlib_enter_netns();
	fd = create_tun("tb-del", name, &ifindex);
	nl = open_netlink();
	/* The broker's teardown: it works while a client still holds the fd. */
	ck_assert_msg(netlink_delete_link(nl, ifindex, &err) == 0, "%s",
	    err.text);
	assert_no_link("tb-del");
	ck_assert_int_eq(netlink_delete_link(nl, ifindex, &err), -ENODEV);
	netlink_close(nl);
	close(fd);
}
END_TEST

static Suite *
netlink_suite(void)
{
	Suite *s = suite_create("netlink");
	TCase *tc;

	tc = tcase_create("tun");
	tcase_add_test(tc, tun_fixed_name);
	tcase_add_test(tc, tun_template_name);
	tcase_add_test(tc, tun_owner_group);
	tcase_add_test(tc, tun_multi_queue);
	tcase_add_test(tc, tun_queue_attach_failure_leaves_nothing);
	tcase_add_test(tc, tun_name_clash);
	tcase_add_test(tc, tun_bad_names);
	tcase_add_test(tc, tun_close_removes);
	suite_add_tcase(s, tc);

	tc = tcase_create("rtnetlink");
	tcase_add_test(tc, netlink_configure);
	tcase_add_test(tc, netlink_peer);
	tcase_add_test(tc, netlink_errors);
	tcase_add_test(tc, netlink_delete);
	tcase_add_test(tc, netlink_batch);
	tcase_add_test(tc, netlink_batch_acks);
	tcase_add_test(tc, netlink_batch_link);
	tcase_add_test(tc, netlink_no_link_local);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testlib_run(netlink_suite(), true);
}
