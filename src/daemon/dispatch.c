#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "dispatch.h"
#include "log.h"
#include "tun.h"

/* The kernel's bounds on an interface MTU that we let clients choose. */
#define MTU_MIN		68
#define MTU_MAX		65535
#define MTU_MIN_IPV6	1280

static void
reply_error(struct reply *reply, uint32_t seq, const struct tb_error *err)
{
	if (tb_encode_error(&reply->msg, seq, err) != 0)
		reply->close_connection = true;
}

void
reply_release(struct reply *reply)
{
	tb_builder_release(&reply->msg);
	/* The client may have closed its copy already: ours is the last. */
	while (reply->nfds > 0)
		closer_close(reply->closer, reply->fds[--reply->nfds]);
}

/* Writes the request's addresses as "a/p,b/q" into buf, for logs. */
static const char *
format_addrs(const struct tb_addr *addrs, size_t n, char *buf, size_t size)
{
	char one[TB_ADDR_TEXT_MAX];
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++) {
		int w = snprintf(buf + used, size - used, "%s%s",
		    i > 0 ? "," : "",
		    tb_addr_format(&addrs[i], true, one, sizeof(one)));
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return n == 0 ? "-" : buf;
}

/* The address the peer pairs with: the first one of the peer's family. */
static const struct tb_addr *
peer_partner(const struct tb_create_request *req)
{
	size_t i;

	for (i = 0; i < req->naddrs; i++) {
		if (req->addrs[i].family == req->peer.family)
			return &req->addrs[i];
	}
	return NULL;
}

/*
 * Checks what the kernel would refuse late, so that we refuse it early,
 * and refuses a name that is already an interface even before TUNSETIFF
 * (whose IFF_TUN_EXCL stays the guard against a race).
 */
static int
validate_create(const struct tb_create_request *req, struct tb_error *err)
{
	char text[TB_ADDR_TEXT_MAX];
	unsigned ifindex;
	size_t i;
	int r;

	if (req->name[0] != '\0') {
		if ((r = policy_check_name(req->name, err)) != 0)
			return r;
		if (strstr(req->name, "%d") == NULL &&
		    (ifindex = if_nametoindex(req->name)) != 0)
			return tb_error_set(err, -EEXIST,
			    "name %s is taken: an interface of that name exists "
			    "(ifindex %u)", req->name, ifindex);
	}
	if (req->device_type != TB_DEVICE_TUN)
		return tb_error_set(err, -EOPNOTSUPP,
		    "device-type %u: only TUN devices are served so far",
		    req->device_type);
	if (req->has_mac || req->nroutes > 0 || req->bridge[0] != '\0' ||
	    req->queues != 0 || req->vnet_hdr != 0 || req->offload != 0 ||
	    req->txqueuelen != 0 || req->has_netns || req->auto_inet ||
	    req->auto_inet6)
		return tb_error_set(err, -EOPNOTSUPP,
		    "this broker does not serve device options yet");
	if (req->mtu != 0 && (req->mtu < MTU_MIN || req->mtu > MTU_MAX))
		return tb_error_set(err, -EINVAL,
		    "mtu %u is outside %u to %u", req->mtu, MTU_MIN, MTU_MAX);
	for (i = 0; req->mtu != 0 && i < req->naddrs; i++) {
		if (req->addrs[i].family == AF_INET6 &&
		    req->mtu < MTU_MIN_IPV6)
			return tb_error_set(err, -EINVAL,
			    "mtu %u is below the %u that IPv6 address %s needs",
			    req->mtu, MTU_MIN_IPV6,
			    tb_addr_format(&req->addrs[i], true, text,
			    sizeof(text)));
	}
	if (req->has_peer && peer_partner(req) == NULL)
		return tb_error_set(err, -EINVAL,
		    "peer %s has no local address of its family to pair with",
		    tb_addr_format(&req->peer, false, text, sizeof(text)));
	return 0;
}

/*
 * Applies the owner's label, addresses, MTU and link state to a fresh
 * device.  The label (interface alias) is how a restarted broker knows
 * the device is its own and whose it is.
 */
static int
configure_device(struct broker *b, unsigned ifindex, uid_t uid,
    const struct tb_create_request *req, struct tb_error *err)
{
	const struct tb_addr *partner = req->has_peer ? peer_partner(req) :
	    NULL;
	char alias[TB_IFALIAS_MAX];
	size_t i;
	int r;

	lease_alias_format(uid, alias, sizeof(alias));
	if ((r = netlink_set_alias(b->nl, ifindex, alias, err)) != 0)
		return r;
	if (req->mtu != 0 &&
	    (r = netlink_set_mtu(b->nl, ifindex, req->mtu, err)) != 0)
		return r;
	/* Up first: Linux drops the route to an IPv6 peer otherwise. */
	if ((r = netlink_set_up(b->nl, ifindex, err)) != 0)
		return r;
	for (i = 0; i < req->naddrs; i++) {
		r = netlink_add_address(b->nl, ifindex, &req->addrs[i],
		    &req->addrs[i] == partner ? &req->peer : NULL, err);
		if (r != 0)
			return r;
	}
	return 0;
}

/*
 * Creates and configures the device; on success *fd is its queue and rep
 * describes it.  On failure nothing of it is left.
 */
static int
create_device(struct broker *b, const struct peer_identity *who,
    const struct tb_create_request *req, struct tb_created_reply *rep,
    int *fd, struct tb_error *err)
{
	struct tb_error ignored;
	unsigned ifindex;
	int r;

	if ((r = validate_create(req, err)) != 0)
		return r;
	r = policy_check_create(&b->config, who, req,
	    lease_table_count_uid(b->leases, who->uid), err);
	if (r != 0)
		return r;
	r = tun_create(req->name[0] != '\0' ? req->name : NULL, who->uid,
	    who->gid, fd, rep->name, &ifindex, err);
	if (r != 0)
		return r;
	if ((r = configure_device(b, ifindex, who->uid, req, err)) != 0 ||
	    (r = tun_get_mtu(rep->name, &rep->mtu, err)) != 0) {
		/* Delete at once rather than leave it to the last close. */
		netlink_delete_link(b->nl, ifindex, &ignored);
		close(*fd);
		*fd = -1;
		return r;
	}
	rep->ifindex = ifindex;
	if ((r = lease_table_add(b->leases, who->uid, ifindex, rep->name)) != 0) {
		netlink_delete_link(b->nl, ifindex, &ignored);
		close(*fd);
		*fd = -1;
		return tb_error_set(err, r, "recording the lease of %s: %s",
		    rep->name, strerror(-r));
	}
	memcpy(rep->addrs, req->addrs, req->naddrs * sizeof(req->addrs[0]));
	rep->naddrs = req->naddrs;
	rep->peer = req->peer;
	rep->has_peer = req->has_peer;
	rep->fd_count = 1;
	return 0;
}

static void
handle_create(struct broker *b, const struct peer_identity *who,
    const struct tb_msg *msg, const int *fds, struct reply *reply)
{
	char addrs[512];
	struct tb_create_request req = { .device_type = 0 };
	struct tb_created_reply rep = { .mtu = 0 };
	struct tb_error err = { 0 };
	int fd = -1, r;

	(void)fds;
	if ((r = tb_decode_create(msg, &req, &err)) == 0)
		r = create_device(b, who, &req, &rep, &fd, &err);
	if (r != 0) {
		log_client(LOG_INFO, who, req.name[0] != '\0' ? req.name : NULL,
		    "refuse", "refuse uid=%u pid=%d create name=%s: %s",
		    (unsigned)who->uid, (int)who->pid,
		    req.name[0] != '\0' ? req.name : "-", err.text);
		reply_error(reply, msg->hdr.seq, &err);
		return;
	}
	if (tb_encode_created(&reply->msg, msg->hdr.seq, &rep) != 0) {
		close(fd);
		reply->close_connection = true;
		return;
	}
	reply->fds[0] = fd;
	reply->nfds = 1;
	reply->closer = b->closer;
	log_client(LOG_INFO, who, rep.name, "grant",
	    "grant uid=%u pid=%d create %s ifindex=%u addresses=%s mtu=%u",
	    (unsigned)who->uid, (int)who->pid, rep.name, rep.ifindex,
	    format_addrs(rep.addrs, rep.naddrs, addrs, sizeof(addrs)),
	    rep.mtu);
}

static void
handle_status(const struct tb_msg *msg, struct reply *reply)
{
	struct tb_status_reply rep = { .proto_version = TB_PROTO_VERSION };

	snprintf(rep.broker_version, sizeof(rep.broker_version), "%s",
	    PACKAGE_VERSION);
	if (tb_encode_status_reply(&reply->msg, msg->hdr.seq, &rep) != 0)
		reply->close_connection = true;
}

/* Root sees every lease; anyone else sees their own. */
static bool
lease_visible(const struct peer_identity *who, const struct lease *l)
{
	return who->uid == 0 || l->uid == who->uid;
}

static void
handle_list(struct broker *b, const struct peer_identity *who,
    const struct tb_msg *msg, struct reply *reply)
{
	struct tb_lease *out;
	struct tb_error err;
	const struct lease *l;
	size_t i, n = 0;

	out = calloc(lease_table_count(b->leases) + 1, sizeof(*out));
	if (out == NULL) {
		tb_error_set(&err, -ENOMEM, "listing leases: %s",
		    strerror(ENOMEM));
		reply_error(reply, msg->hdr.seq, &err);
		return;
	}
	/* One reply holds TB_MAX_LEASES; more would need paging. */
	for (i = 0; (l = lease_table_at(b->leases, i)) != NULL &&
	    n < TB_MAX_LEASES; i++) {
		if (!lease_visible(who, l))
			continue;
		out[n].ifindex = l->ifindex;
		out[n].uid = (uint32_t)l->uid;
		snprintf(out[n].name, sizeof(out[n].name), "%s", l->name);
		n++;
	}
	if (tb_encode_leases(&reply->msg, msg->hdr.seq, out, n, 0) != 0)
		reply->close_connection = true;
	free(out);
}

/*
 * Deletes one of the caller's devices (root: any leased device).  The
 * deletion is sent without waiting for the kernel's acknowledgement; the
 * lease ends when the link watch sees the device go.
 */
static void
handle_release(struct broker *b, const struct peer_identity *who,
    const struct tb_msg *msg, struct reply *reply)
{
	char name[TB_IFNAME_MAX] = "";
	const struct lease *l;
	struct tb_error err;
	int r;

	if ((r = tb_decode_release(msg, name, &err)) == 0) {
		l = lease_table_find_by_name(b->leases, name);
		if (l == NULL || !lease_visible(who, l))
			r = tb_error_set(&err, -ENOENT,
			    "ifname %s is not a device of yours", name);
		else if ((r = linkwatch_delete_ns(b->watch, l->nsid,
		    l->ifindex)) != 0)
			tb_error_set(&err, r, "deleting %s (ifindex %u): %s",
			    name, l->ifindex, strerror(-r));
	}
	if (r != 0) {
		log_client(LOG_INFO, who, name[0] != '\0' ? name : NULL,
		    "refuse", "refuse uid=%u pid=%d release %s: %s",
		    (unsigned)who->uid, (int)who->pid,
		    name[0] != '\0' ? name : "-", err.text);
		reply_error(reply, msg->hdr.seq, &err);
		return;
	}
	log_client(LOG_INFO, who, name, "grant",
	    "grant uid=%u pid=%d release %s", (unsigned)who->uid,
	    (int)who->pid, name);
	if (tb_encode_release(&reply->msg, TB_MSG_RELEASED, msg->hdr.seq,
	    name) != 0)
		reply->close_connection = true;
}

void
dispatch_message(struct broker *b, const struct peer_identity *who,
    const struct tb_msg *msg, const int *fds, struct reply *reply)
{
	struct tb_error err;

	memset(reply, 0, sizeof(*reply));
	log_debug("uid=%u pid=%d sent %s seq=%u", (unsigned)who->uid,
	    (int)who->pid, tb_msg_type_name(msg->hdr.type), msg->hdr.seq);
	switch (msg->hdr.type) {
	case TB_MSG_PING:
		if (tb_encode_simple(&reply->msg, TB_MSG_PONG,
		    msg->hdr.seq) != 0)
			reply->close_connection = true;
		break;
	case TB_MSG_STATUS:
		handle_status(msg, reply);
		break;
	case TB_MSG_CREATE:
		handle_create(b, who, msg, fds, reply);
		break;
	case TB_MSG_LIST:
		handle_list(b, who, msg, reply);
		break;
	case TB_MSG_RELEASE:
		handle_release(b, who, msg, reply);
		break;
	default:
		tb_error_set(&err, -EBADMSG,
		    "%s (%u) is not a request a client may send",
		    tb_msg_type_name(msg->hdr.type), msg->hdr.type);
		log_client(LOG_INFO, who, NULL, "refuse",
		    "refuse uid=%u pid=%d: %s", (unsigned)who->uid,
		    (int)who->pid, err.text);
		reply_error(reply, msg->hdr.seq, &err);
		reply->close_connection = true;
		break;
	}
}

void
dispatch_malformed(const struct peer_identity *who, const struct tb_msg *msg,
    const struct tb_error *err, struct reply *reply)
{
	memset(reply, 0, sizeof(*reply));
	log_client(LOG_INFO, who, NULL, "refuse",
	    "refuse uid=%u pid=%d malformed message: %s", (unsigned)who->uid,
	    (int)who->pid, err->text);
	reply_error(reply, msg->header_ok ? msg->hdr.seq : 0, err);
	reply->close_connection = true;
}
