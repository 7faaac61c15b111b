#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "array.h"
#include "netns.h"

#ifndef SIOCGSKNS
#define SIOCGSKNS	0x894C
#endif

static int
netns_id_of_fd(int fd, struct netns_id *id)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	return 0;
}

static bool
netns_id_equal(const struct netns_id *a, const struct netns_id *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

int
netns_self(struct netns_id *id)
{
	int fd, r;

	if ((fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	r = netns_id_of_fd(fd, id);
	close(fd);
	return r;
}

int
netns_of_socket(int sock, struct netns_id *id)
{
	int fd, r;

	if ((fd = ioctl(sock, SIOCGSKNS)) < 0)
		return -errno;
	r = netns_id_of_fd(fd, id);
	close(fd);
	return r;
}

/* The name of a namespace type, for the sentence refusing it. */
static const char *
nstype_name(int type)
{
	switch (type) {
	case CLONE_NEWNS:
		return "mount";
	case CLONE_NEWUTS:
		return "UTS";
	case CLONE_NEWIPC:
		return "IPC";
	case CLONE_NEWUSER:
		return "user";
	case CLONE_NEWPID:
		return "PID";
	case CLONE_NEWCGROUP:
		return "cgroup";
	case CLONE_NEWTIME:
		return "time";
	default:
		return "unknown";
	}
}

/*
 * The uid owning the user namespace that owns the namespace fd, as the
 * broker's user namespace sees it; 0 or a negative errno.
 */
static int
netns_owner_uid(int fd, uid_t *uid)
{
	int userns, r = 0;

	if ((userns = ioctl(fd, NS_GET_USERNS)) < 0)
		return -errno;
	if (ioctl(userns, NS_GET_OWNER_UID, uid) < 0)
		r = -errno;
	close(userns);
	return r;
}

int
netns_check(int fd, const struct peer_identity *who,
    const struct netns_id *home, struct netns_id *id, bool *is_home,
    struct tb_error *err)
{
	struct statfs sfs;
	uid_t owner;
	int type, r;

	*is_home = false;
	/* Before any ioctl: on another file its number may mean anything. */
	if (fstatfs(fd, &sfs) < 0)
		return tb_error_set(err, -EBADF, "netns: descriptor cannot be "
		    "examined: %s", strerror(errno));
	if (sfs.f_type != NSFS_MAGIC)
		return tb_error_set(err, -EBADF, "netns: descriptor is not a "
		    "network namespace (open /proc/PID/ns/net or "
		    "/run/netns/NAME)");
	if ((type = ioctl(fd, NS_GET_NSTYPE)) < 0)
		return tb_error_set(err, -EBADF, "netns: descriptor is not a "
		    "usable namespace: %s%s", strerror(errno),
		    errno == EBADF ? " (an O_PATH descriptor?)" : "");
	if (type != CLONE_NEWNET)
		return tb_error_set(err, -EBADF, "netns: descriptor is a %s "
		    "namespace, not a network namespace", nstype_name(type));
	if ((r = netns_id_of_fd(fd, id)) != 0)
		return tb_error_set(err, r, "netns: descriptor cannot be "
		    "examined: %s", strerror(-r));
	if (netns_id_equal(id, home)) {
		*is_home = true;
		return 0;
	}
	if (who->has_netns && netns_id_equal(id, &who->netns))
		return 0;
	if ((r = netns_owner_uid(fd, &owner)) != 0)
		return tb_error_set(err, -EPERM, "netns: the owner of "
		    "namespace %llu:%llu cannot be read (%s), so it is not "
		    "known to be uid %u's", (unsigned long long)id->dev,
		    (unsigned long long)id->ino, strerror(-r),
		    (unsigned)who->uid);
	if (owner != who->uid)
		return tb_error_set(err, -EPERM, "netns: namespace is owned "
		    "by uid %u, not %u, and is not the one the client "
		    "connected from", (unsigned)owner, (unsigned)who->uid);
	return 0;
}

/*
 * One RTM_GETNSID or RTM_NEWNSID about the namespace fd on sock.  A
 * GETNSID stores the id it answers (-1: none yet) in *nsid.  0 or a
 * negative errno.
 */
static int
nsid_request(struct mnl_socket *sock, uint16_t type, int fd, int *nsid)
{
	char buf[8192] __attribute__((aligned(8)));
	const struct nlmsghdr *msg;
	struct nlmsghdr *nlh;
	struct rtgenmsg *g;
	struct nlattr *attr;
	uint32_t portid = mnl_socket_get_portid(sock), seq = 1;
	ssize_t n;
	int len;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)fd);
	if (type == RTM_NEWNSID)
		mnl_attr_put_u32(nlh, NETNSA_NSID,
		    (uint32_t)NETNSA_NSID_NOT_ASSIGNED);
	if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		if ((n = mnl_socket_recvfrom(sock, buf, sizeof(buf))) < 0)
			return -errno;
		len = (int)n;
		for (msg = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(msg, len);
		    msg = mnl_nlmsg_next(msg, &len)) {
			if (msg->nlmsg_seq != seq || msg->nlmsg_pid != portid)
				continue;
			if (msg->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e =
				    mnl_nlmsg_get_payload(msg);

				if (msg->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
					return -EBADMSG;
				return e->error;
			}
			if (msg->nlmsg_type != RTM_NEWNSID)
				continue;
			mnl_attr_for_each(attr, msg, sizeof(struct rtgenmsg)) {
				if (mnl_attr_get_type(attr) == NETNSA_NSID &&
				    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
					*nsid = (int)mnl_attr_get_u32(attr);
			}
		}
	}
}

int
netns_nsid(int fd, int *nsid, struct tb_error *err)
{
	struct mnl_socket *sock;
	int r;

	*nsid = NETNSA_NSID_NOT_ASSIGNED;
	sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (sock == NULL)
		return tb_error_set(err, -errno, "netns: opening a rtnetlink "
		    "socket to name the namespace: %s", strerror(errno));
	if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = tb_error_set(err, -errno, "netns: binding a rtnetlink "
		    "socket to name the namespace: %s", strerror(errno));
		goto out;
	}
	r = nsid_request(sock, RTM_GETNSID, fd, nsid);
	if (r == 0 && *nsid < 0) {
		/* Someone else may name it first: EEXIST is no failure. */
		r = nsid_request(sock, RTM_NEWNSID, fd, nsid);
		if (r == 0 || r == -EEXIST)
			r = nsid_request(sock, RTM_GETNSID, fd, nsid);
	}
	if (r == 0 && *nsid < 0)
		r = -ENOENT;
	if (r != 0)
		tb_error_set(err, r, "netns: giving the namespace an id "
		    "(RTM_NEWNSID): %s", strerror(-r));
out:
	mnl_socket_close(sock);
	return r;
}

/* What a dump of the ids collects. */
struct nsid_list {
	int *ids;
	size_t n, cap;
};

static int
nsid_list_add(struct nsid_list *l, int id)
{
	if (array_reserve(&l->ids, &l->cap, l->n + 1, sizeof(*l->ids), 16) != 0)
		return -ENOMEM;
	l->ids[l->n++] = id;
	return 0;
}

/* One buffer of the dump: 1 once it is done, or a negative errno. */
static int
nsid_dump_batch(const char *buf, int len, uint32_t portid,
    struct nsid_list *l)
{
	const struct nlmsghdr *msg;
	const struct nlattr *attr;
	int r;

	for (msg = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(msg, len);
	    msg = mnl_nlmsg_next(msg, &len)) {
		if (msg->nlmsg_pid != portid)
			continue;
		if (msg->nlmsg_type == NLMSG_DONE)
			return 1;
		if (msg->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(msg);

			if (msg->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				return -EBADMSG;
			return e->error != 0 ? e->error : 1;
		}
		if (msg->nlmsg_type != RTM_NEWNSID ||
		    msg->nlmsg_len < mnl_nlmsg_size(sizeof(struct rtgenmsg)))
			continue;
		mnl_attr_for_each(attr, msg, sizeof(struct rtgenmsg)) {
			if (mnl_attr_get_type(attr) != NETNSA_NSID ||
			    mnl_attr_validate(attr, MNL_TYPE_U32) != 0 ||
			    (int)mnl_attr_get_u32(attr) < 0)
				continue;
			if ((r = nsid_list_add(l,
			    (int)mnl_attr_get_u32(attr))) != 0)
				return r;
		}
	}
	return 0;
}

int
netns_list_nsids(int **ids, size_t *n, struct tb_error *err)
{
	char buf[16384] __attribute__((aligned(8)));
	struct nsid_list l = { .ids = NULL };
	struct mnl_socket *sock;
	struct nlmsghdr *nlh;
	struct rtgenmsg *g;
	ssize_t got;
	int r = 0;

	*ids = NULL;
	*n = 0;
	sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (sock == NULL || mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto out;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNSID;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = 1;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	while (r == 0) {
		if ((got = mnl_socket_recvfrom(sock, buf, sizeof(buf))) < 0) {
			r = -errno;
			break;
		}
		r = nsid_dump_batch(buf, (int)got,
		    mnl_socket_get_portid(sock), &l);
	}
out:
	if (sock != NULL)
		mnl_socket_close(sock);
	if (r < 0) {
		free(l.ids);
		return tb_error_set(err, r, "listing the ids of other network "
		    "namespaces: %s", strerror(-r));
	}
	*ids = l.ids;
	*n = l.n;
	return 0;
}

int
netns_self_nsid(int *nsid)
{
	struct mnl_socket *sock;
	int fd, r;

	*nsid = NETNSA_NSID_NOT_ASSIGNED;
	if ((fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (sock == NULL || mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0)
		r = -errno;
	else
		r = nsid_request(sock, RTM_GETNSID, fd, nsid);
	if (sock != NULL)
		mnl_socket_close(sock);
	close(fd);
	return r;
}
