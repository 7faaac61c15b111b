#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "addr.h"
#include "netlink.h"

/*
 * Requests here are a few hundred bytes and acks are capped, so a page is
 * plenty; MNL_SOCKET_BUFFER_SIZE is not a constant expression.
 */
#define NETLINK_BUFFER_SIZE	8192

/* A batch is sent when it holds this many requests or bytes. */
#define NETLINK_BATCH_MAX	64
#define NETLINK_BATCH_SIZE	16384
#define NETLINK_STEP_MAX	160

struct netlink {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	/* Holds the request until it is sent, then the reply. */
	char buf[NETLINK_BUFFER_SIZE] __attribute__((aligned(8)));
	/* Between netlink_batch_begin() and _end(): requests not yet sent. */
	bool batching;
	size_t batch_len;
	size_t batch_last;		/* offset of the last request */
	unsigned batch_count;
	uint32_t batch_first_seq;
	char batch[NETLINK_BATCH_SIZE] __attribute__((aligned(8)));
	char steps[NETLINK_BATCH_MAX][NETLINK_STEP_MAX];
};

/* Binds nl->sock and asks for the conveniences; 0 or a negative errno. */
static int
netlink_setup(struct netlink *nl, struct tb_error *err)
{
	int one = 1, rc;

	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) == -1) {
		rc = -errno;
		return tb_error_set(err, rc, "binding a rtnetlink socket: %s",
		    strerror(-rc));
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	/*
	 * Both are conveniences (the kernel's reason in words; acks without
	 * a copy of the request), so a kernel without them is no failure.
	 */
	(void)mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one,
	    sizeof(one));
	(void)mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one,
	    sizeof(one));
	return 0;
}

int
netlink_open(struct netlink **out, struct tb_error *err)
{
	struct netlink *nl;
	int rc;

	*out = NULL;
	if ((nl = calloc(1, sizeof(*nl))) == NULL)
		return tb_error_set(err, -ENOMEM,
		    "opening a rtnetlink socket: %s", strerror(ENOMEM));
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl->sock == NULL) {
		rc = -errno;
		tb_error_set(err, rc, "opening a rtnetlink socket: %s",
		    strerror(-rc));
		goto fail;
	}
	if ((rc = netlink_setup(nl, err)) != 0)
		goto fail;
	*out = nl;
	return 0;
fail:
	netlink_close(nl);
	return rc;
}

int
netlink_open_fd(int fd, struct netlink **out, struct tb_error *err)
{
	struct netlink *nl;
	int rc;

	*out = NULL;
	if ((nl = calloc(1, sizeof(*nl))) == NULL) {
		close(fd);
		return tb_error_set(err, -ENOMEM,
		    "adopting a rtnetlink socket: %s", strerror(ENOMEM));
	}
	if ((nl->sock = mnl_socket_fdopen(fd)) == NULL) {
		rc = -errno;
		close(fd);
		tb_error_set(err, rc, "adopting a rtnetlink socket: %s",
		    strerror(-rc));
		goto fail;
	}
	if ((rc = netlink_setup(nl, err)) != 0)
		goto fail;
	*out = nl;
	return 0;
fail:
	netlink_close(nl);
	return rc;
}

void
netlink_close(struct netlink *nl)
{
	if (nl == NULL)
		return;
	if (nl->sock != NULL)
		mnl_socket_close(nl->sock);
	free(nl);
}

/*
 * Reads an NLMSG_ERROR message: returns its (0 or negative) errno and
 * points *extack at the kernel's message text, if it sent one.
 */
static int
netlink_parse_ack(const struct nlmsghdr *msg, const char **extack)
{
	const struct nlmsgerr *e;
	struct nlattr *attr;
	size_t offset;

	*extack = NULL;
	if (msg->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return -EBADMSG;
	e = mnl_nlmsg_get_payload(msg);
	if (e->error > 0 || e->error < -4095)
		return -EPROTO;
	if (e->error == 0 || (msg->nlmsg_flags & NLM_F_ACK_TLVS) == 0)
		return e->error;

	/* The TLVs follow the request's copy, unless the ack was capped. */
	offset = sizeof(*e);
	if ((msg->nlmsg_flags & NLM_F_CAPPED) == 0) {
		if (e->msg.nlmsg_len < sizeof(struct nlmsghdr))
			return e->error;
		offset += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	}
	if (offset > mnl_nlmsg_get_payload_len(msg))
		return e->error;
	mnl_attr_for_each(attr, msg, offset) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			*extack = mnl_attr_get_str(attr);
	}
	return e->error;
}

/* Says err: the step, the errno's text and the kernel's explanation. */
static int
netlink_fail(int rc, const char *step, const char *extack,
    struct tb_error *err)
{
	if (extack != NULL && *extack != '\0')
		return tb_error_set(err, rc, "%s: %s (kernel: %s)", step,
		    strerror(-rc), extack);
	return tb_error_set(err, rc, "%s: %s", step, strerror(-rc));
}

/*
 * Sends the len bytes of requests at buf, whose sequence numbers run from
 * first for count requests, and reads until the last is answered.  Only
 * the last asks for an ack (NLM_F_ACK): the kernel handles a write's
 * requests in order and reports any that fails whether or not it was
 * asked to, so a batch that works costs one read.  When link is not NULL
 * the last request is an RTM_GETLINK, answered by the link itself, which
 * goes to *link.  Messages that are not answers to these (an ack of an
 * earlier request whose caller gave up) are skipped.  Returns 0 or the
 * first failure, described with steps[i] for the request at first + i.
 */
static int
netlink_exchange(struct netlink *nl, const void *buf, size_t len,
    uint32_t first, unsigned count, char (*steps)[NETLINK_STEP_MAX],
    struct netlink_link *link, struct tb_error *err)
{
	const char *extack = NULL;
	const struct nlmsghdr *msg;
	const uint32_t last = count - 1;
	bool answered = false;
	int n, rc, result = 0;

	if (mnl_socket_sendto(nl->sock, buf, len) == -1) {
		rc = -errno;
		return netlink_fail(rc, steps[0], NULL, err);
	}
	while (!answered) {
		n = (int)mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = -errno;
			return result != 0 ? result :
			    netlink_fail(rc, steps[last], NULL, err);
		}
		for (msg = (const struct nlmsghdr *)nl->buf;
		    mnl_nlmsg_ok(msg, n); msg = mnl_nlmsg_next(msg, &n)) {
			uint32_t i = msg->nlmsg_seq - first;

			if (i >= count || msg->nlmsg_pid != nl->portid)
				continue;
			if (msg->nlmsg_type != NLMSG_ERROR) {
				if (i == last && link != NULL &&
				    msg->nlmsg_type == RTM_NEWLINK) {
					rc = netlink_parse_link(msg, link);
					answered = true;
					if (rc != 0 && result == 0)
						result = netlink_fail(rc,
						    steps[i], NULL, err);
				}
				continue;
			}
			answered = answered || i == last;
			rc = netlink_parse_ack(msg, &extack);
			if (rc != 0 && result == 0)
				result = netlink_fail(rc, steps[i], extack,
				    err);
		}
	}
	return result;
}

/*
 * Sends the batch gathered so far, the last request asking for the ack,
 * and reads what it answers (with link, as netlink_exchange()).
 */
static int
netlink_batch_flush(struct netlink *nl, struct netlink_link *link,
    struct tb_error *err)
{
	struct nlmsghdr *last;
	int rc;

	if (nl->batch_count == 0)
		return 0;
	last = (struct nlmsghdr *)(nl->batch + nl->batch_last);
	if (link == NULL)
		last->nlmsg_flags |= NLM_F_ACK;
	rc = netlink_exchange(nl, nl->batch, nl->batch_len,
	    nl->batch_first_seq, nl->batch_count, nl->steps, link, err);
	nl->batch_len = 0;
	nl->batch_count = 0;
	return rc;
}

void
netlink_batch_begin(struct netlink *nl)
{
	nl->batching = true;
	nl->batch_len = 0;
	nl->batch_count = 0;
}

int
netlink_batch_end(struct netlink *nl, struct tb_error *err)
{
	int rc = netlink_batch_flush(nl, NULL, err);

	nl->batching = false;
	return rc;
}

/* Link messages carry the index as an int; 0 would mean "by name". */
static bool
netlink_ifindex_valid(unsigned ifindex)
{
	return ifindex > 0 && ifindex <= INT_MAX;
}

/* Starts an RTM_*LINK request for ifindex in nl->buf. */
static struct nlmsghdr *
netlink_link_request(struct netlink *nl, uint16_t type, unsigned ifindex)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = type;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	return nlh;
}

/*
 * Sends the request built in nl->buf and waits for its ack, or, inside a
 * batch, adds it to the batch (sending the batch first when it is full)
 * and returns 0: the batch's end reports how it went.  On failure, err
 * gets the sentence fmt describes, the errno text and the kernel's
 * explanation.
 */
static int __attribute__((format(printf, 4, 5)))
netlink_request(struct netlink *nl, struct nlmsghdr *nlh,
    struct tb_error *err, const char *fmt, ...)
{
	char step[1][NETLINK_STEP_MAX];
	va_list ap;
	int rc;

	if (nl->batching && (nl->batch_count == NETLINK_BATCH_MAX ||
	    nl->batch_len + nlh->nlmsg_len > sizeof(nl->batch)) &&
	    (rc = netlink_batch_flush(nl, NULL, err)) != 0)
		return rc;
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	nlh->nlmsg_seq = ++nl->seq;
	va_start(ap, fmt);
	vsnprintf(nl->batching ? nl->steps[nl->batch_count] : step[0],
	    NETLINK_STEP_MAX, fmt, ap);
	va_end(ap);
	if (!nl->batching) {
		nlh->nlmsg_flags |= NLM_F_ACK;
		return netlink_exchange(nl, nlh, nlh->nlmsg_len, nl->seq, 1,
		    step, NULL, err);
	}
	if (nl->batch_count == 0)
		nl->batch_first_seq = nl->seq;
	nl->batch_last = nl->batch_len;
	memcpy(nl->batch + nl->batch_len, nlh, nlh->nlmsg_len);
	nl->batch_len += MNL_ALIGN(nlh->nlmsg_len);
	nl->batch_count++;
	return 0;
}

int
netlink_batch_end_link(struct netlink *nl, unsigned ifindex,
    struct netlink_link *link, struct tb_error *err)
{
	struct nlmsghdr *nlh;
	int rc;

	memset(link, 0, sizeof(*link));
	if (!netlink_ifindex_valid(ifindex)) {
		netlink_batch_end(nl, err);
		return tb_error_set(err, -EINVAL,
		    "reading ifindex %u: invalid ifindex", ifindex);
	}
	nlh = netlink_link_request(nl, RTM_GETLINK, ifindex);
	/* Counters are all we do not read, and summing them costs. */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	rc = netlink_request(nl, nlh, err, "reading back link ifindex %u",
	    ifindex);
	if (rc == 0)
		rc = netlink_batch_flush(nl, link, err);
	nl->batching = false;
	return rc;
}


/* Starts an RTM_NEWROUTE to dst through ifindex in nl->buf. */
static struct nlmsghdr *
netlink_route_request(struct netlink *nl, unsigned ifindex,
    const struct tb_addr *dst, uint8_t protocol, uint32_t priority)
{
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = dst->family;
	rtm->rtm_dst_len = dst->prefixlen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = protocol;
	/* No gateway: the destination is on the link itself. */
	rtm->rtm_scope = dst->family == AF_INET ? RT_SCOPE_LINK :
	    RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	if (dst->prefixlen > 0)
		mnl_attr_put(nlh, RTA_DST, tb_addr_len(dst), dst->addr);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	if (priority != 0)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, priority);
	return nlh;
}

/*
 * Routes peer's network (its address masked to its prefix) through the
 * link ifindex, as the kernel's own prefix route for an address would.
 */
static int
netlink_add_peer_route(struct netlink *nl, unsigned ifindex,
    const struct tb_addr *peer, struct tb_error *err)
{
	char text[TB_ADDR_TEXT_MAX];
	struct tb_addr net = *peer;
	struct nlmsghdr *nlh;

	tb_addr_mask(&net);
	/* The metric the kernel gives its own prefix routes. */
	nlh = netlink_route_request(nl, ifindex, &net, RTPROT_KERNEL, 256);
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	return netlink_request(nl, nlh, err,
	    "adding the route to peer %s through ifindex %u",
	    tb_addr_format(&net, true, text, sizeof(text)), ifindex);
}

int
netlink_add_route(struct netlink *nl, unsigned ifindex,
    const struct tb_route *route, struct tb_error *err)
{
	char text[TB_ADDR_TEXT_MAX];
	struct nlmsghdr *nlh;

	tb_addr_format(&route->dst, true, text, sizeof(text));
	if (tb_addr_validate(&route->dst) != 0)
		return tb_error_set(err, -EINVAL, "adding route %s: invalid "
		    "prefix", text);
	if (tb_addr_has_host_bits(&route->dst))
		return tb_error_set(err, -EINVAL, "adding route %s: it has "
		    "host bits set", text);
	if (!netlink_ifindex_valid(ifindex))
		return tb_error_set(err, -EINVAL, "adding route %s to ifindex "
		    "%u: invalid ifindex", text, ifindex);
	nlh = netlink_route_request(nl, ifindex, &route->dst, RTPROT_STATIC,
	    route->metric);
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	return netlink_request(nl, nlh, err,
	    "adding route %s metric %u through ifindex %u", text,
	    route->metric, ifindex);
}

int
netlink_add_address(struct netlink *nl, unsigned ifindex,
    const struct tb_addr *addr, const struct tb_addr *peer,
    struct tb_error *err)
{
	char local_text[TB_ADDR_TEXT_MAX], peer_text[TB_ADDR_TEXT_MAX];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	size_t len;
	int rc;

	if (tb_addr_validate(addr) != 0)
		return tb_error_set(err, -EINVAL, "adding an address to "
		    "ifindex %u: invalid address (family %u, prefix length %u)",
		    ifindex, addr->family, addr->prefixlen);
	/* With a peer, the local address stands alone, without a prefix. */
	tb_addr_format(addr, peer == NULL, local_text, sizeof(local_text));
	if (peer != NULL && tb_addr_validate(peer) != 0)
		return tb_error_set(err, -EINVAL, "adding address %s to "
		    "ifindex %u: invalid peer address (family %u, prefix "
		    "length %u)", local_text, ifindex, peer->family,
		    peer->prefixlen);
	if (peer != NULL)
		tb_addr_format(peer, true, peer_text, sizeof(peer_text));
	if (peer != NULL && peer->family != addr->family)
		return tb_error_set(err, -EINVAL, "adding address %s peer %s "
		    "to ifindex %u: the peer is not of the address's family",
		    local_text, peer_text, ifindex);
	if (!netlink_ifindex_valid(ifindex))
		return tb_error_set(err, -EINVAL, "adding address %s to "
		    "ifindex %u: invalid ifindex", local_text, ifindex);

	len = tb_addr_len(addr);
	nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = addr->family;
	ifa->ifa_prefixlen = peer != NULL ? peer->prefixlen : addr->prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, len, addr->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len,
	    peer != NULL ? peer->addr : addr->addr);
	if (addr->family == AF_INET6) {
		/*
		 * A TUN has no neighbours to ask; DAD would only delay use.
		 * With a peer, the kernel's own prefix route is not to be
		 * trusted: when the carrier's delayed link event arrives, IPv6
		 * re-installs the prefix route of the local address instead of
		 * the peer's (seen on 6.18, about 1 time in 14), so the route
		 * to the peer is added explicitly below.
		 */
		uint32_t flags = IFA_F_NODAD |
		    (peer != NULL ? IFA_F_NOPREFIXROUTE : 0);

		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put_u32(nlh, IFA_FLAGS, flags);
	}

	if (peer == NULL)
		return netlink_request(nl, nlh, err,
		    "adding address %s to ifindex %u", local_text, ifindex);
	rc = netlink_request(nl, nlh, err,
	    "adding address %s peer %s to ifindex %u", local_text, peer_text,
	    ifindex);
	if (rc == 0 && addr->family == AF_INET6)
		rc = netlink_add_peer_route(nl, ifindex, peer, err);
	return rc;
}

/*
 * Writes " (mtu 1400, mac ..., bridge ifindex 5, txqueuelen 2000)" for
 * the values cfg sets, so a refusal names the value the kernel refused.
 */
static const char *
netlink_describe_config(const struct netlink_link_config *cfg, char *buf,
    size_t size)
{
	char mac[TB_MAC_TEXT_MAX] = "", mtu[24] = "", master[32] = "",
	    txq[32] = "";

	if (cfg->mtu == 0 && cfg->mac == NULL && cfg->master == 0 &&
	    cfg->txqueuelen == 0) {
		buf[0] = '\0';
		return buf;
	}
	if (cfg->mac != NULL)
		tb_mac_format(cfg->mac, mac, sizeof(mac));
	if (cfg->mtu != 0)
		snprintf(mtu, sizeof(mtu), "mtu %u", cfg->mtu);
	if (cfg->master != 0)
		snprintf(master, sizeof(master), "bridge ifindex %u",
		    cfg->master);
	if (cfg->txqueuelen != 0)
		snprintf(txq, sizeof(txq), "txqueuelen %u", cfg->txqueuelen);
	snprintf(buf, size, " (%s%s%s%s%s%s%s%s)", mtu,
	    mtu[0] != '\0' && (mac[0] != '\0' || master[0] != '\0' ||
	    txq[0] != '\0') ? ", " : "",
	    mac[0] != '\0' ? "mac " : "", mac,
	    mac[0] != '\0' && (master[0] != '\0' || txq[0] != '\0') ? ", " : "",
	    master, master[0] != '\0' && txq[0] != '\0' ? ", " : "", txq);
	return buf;
}

int
netlink_configure_link(struct netlink *nl, unsigned ifindex,
    const struct netlink_link_config *cfg, struct tb_error *err)
{
	char what[128];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (!netlink_ifindex_valid(ifindex))
		return tb_error_set(err, -EINVAL,
		    "configuring ifindex %u: invalid ifindex", ifindex);
	nlh = netlink_link_request(nl, RTM_NEWLINK, ifindex);
	if (cfg->mac != NULL)
		mnl_attr_put(nlh, IFLA_ADDRESS, TB_MAC_LEN, cfg->mac);
	if (cfg->mtu != 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, cfg->mtu);
	if (cfg->master != 0)
		mnl_attr_put_u32(nlh, IFLA_MASTER, cfg->master);
	if (cfg->txqueuelen != 0)
		mnl_attr_put_u32(nlh, IFLA_TXQLEN, cfg->txqueuelen);
	if (cfg->alias != NULL)
		mnl_attr_put_strz(nlh, IFLA_IFALIAS, cfg->alias);
	if (cfg->no_ipv6_link_local) {
		struct nlattr *spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
		struct nlattr *inet6 = mnl_attr_nest_start(nlh, AF_INET6);

		mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE,
		    IN6_ADDR_GEN_MODE_NONE);
		mnl_attr_nest_end(nlh, inet6);
		mnl_attr_nest_end(nlh, spec);
	}
	if (cfg->up) {
		ifi = mnl_nlmsg_get_payload(nlh);
		ifi->ifi_flags = IFF_UP;
		ifi->ifi_change = IFF_UP;
	}
	return netlink_request(nl, nlh, err, "%s ifindex %u%s",
	    cfg->up ? "setting up" : "configuring", ifindex,
	    netlink_describe_config(cfg, what, sizeof(what)));
}

int
netlink_delete_link(struct netlink *nl, unsigned ifindex,
    struct tb_error *err)
{
	struct nlmsghdr *nlh;

	if (!netlink_ifindex_valid(ifindex))
		return tb_error_set(err, -EINVAL,
		    "deleting ifindex %u: invalid ifindex", ifindex);
	nlh = netlink_link_request(nl, RTM_DELLINK, ifindex);
	return netlink_request(nl, nlh, err, "deleting ifindex %u", ifindex);
}

/* Copies a string attribute into buf, truncating; "" if not a string. */
static void
netlink_copy_str(const struct nlattr *attr, char *buf, size_t size)
{
	size_t len = mnl_attr_get_payload_len(attr);
	const char *s = mnl_attr_get_payload(attr);

	if (len >= size)
		len = size - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
}

/* Reads the queue counts out of a TUN's IFLA_INFO_DATA. */
static void
netlink_parse_tun_data(const struct nlattr *data, struct netlink_link *link)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, data) {
		if (mnl_attr_get_type(attr) == IFLA_TUN_TYPE &&
		    mnl_attr_validate(attr, MNL_TYPE_U8) == 0)
			link->tun_type = mnl_attr_get_u8(attr);
		if (mnl_attr_get_type(attr) == IFLA_TUN_PERSIST &&
		    mnl_attr_validate(attr, MNL_TYPE_U8) == 0)
			link->persistent = mnl_attr_get_u8(attr) != 0;
		if (mnl_attr_validate(attr, MNL_TYPE_U32) != 0)
			continue;
		switch (mnl_attr_get_type(attr)) {
		case IFLA_TUN_NUM_QUEUES:
			link->queues = mnl_attr_get_u32(attr);
			link->has_queues = true;
			break;
		case IFLA_TUN_NUM_DISABLED_QUEUES:
			link->disabled_queues = mnl_attr_get_u32(attr);
			break;
		case IFLA_TUN_OWNER:
			link->owner = mnl_attr_get_u32(attr);
			link->has_owner = true;
			break;
		}
	}
}

/* Reads IFLA_LINKINFO: the kind, and for a TUN its queues. */
static void
netlink_parse_linkinfo(const struct nlattr *info, struct netlink_link *link)
{
	const struct nlattr *attr, *data = NULL;

	mnl_attr_for_each_nested(attr, info) {
		if (mnl_attr_get_type(attr) == IFLA_INFO_KIND &&
		    mnl_attr_validate(attr, MNL_TYPE_STRING) == 0) {
			netlink_copy_str(attr, link->kind, sizeof(link->kind));
			link->is_tun = strcmp(link->kind, "tun") == 0;
		} else if (mnl_attr_get_type(attr) == IFLA_INFO_DATA)
			data = attr;
	}
	if (link->is_tun && data != NULL)
		netlink_parse_tun_data(data, link);
}

int
netlink_parse_link(const struct nlmsghdr *msg, struct netlink_link *link)
{
	const struct ifinfomsg *ifi;
	const struct nlattr *attr;

	memset(link, 0, sizeof(*link));
	if ((msg->nlmsg_type != RTM_NEWLINK && msg->nlmsg_type != RTM_DELLINK) ||
	    msg->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return -EBADMSG;
	ifi = mnl_nlmsg_get_payload(msg);
	if (ifi->ifi_index <= 0)
		return -EBADMSG;
	link->ifindex = (unsigned)ifi->ifi_index;
	link->up = (ifi->ifi_flags & IFF_UP) != 0;
	mnl_attr_for_each(attr, msg, sizeof(*ifi)) {
		switch (mnl_attr_get_type(attr)) {
		case IFLA_MTU:
		case IFLA_TXQLEN:
		case IFLA_MASTER:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) != 0)
				break;
			*(mnl_attr_get_type(attr) == IFLA_MTU ? &link->mtu :
			    mnl_attr_get_type(attr) == IFLA_TXQLEN ?
			    &link->txqueuelen : &link->master) =
			    mnl_attr_get_u32(attr);
			break;
		case IFLA_ADDRESS:
			if (mnl_attr_get_payload_len(attr) == TB_MAC_LEN) {
				memcpy(link->mac, mnl_attr_get_payload(attr),
				    TB_MAC_LEN);
				link->has_mac = true;
			}
			break;
		case IFLA_IFNAME:
			netlink_copy_str(attr, link->name, sizeof(link->name));
			break;
		case IFLA_IFALIAS:
			netlink_copy_str(attr, link->alias,
			    sizeof(link->alias));
			break;
		case IFLA_LINKINFO:
			netlink_parse_linkinfo(attr, link);
			break;
		case IFLA_CARRIER:
			if (mnl_attr_validate(attr, MNL_TYPE_U8) == 0) {
				link->has_carrier = true;
				link->carrier = mnl_attr_get_u8(attr) != 0;
			}
			break;
		}
	}
	return 0;
}

/*
 * Sends the request nlh built in nl->buf, whose sequence number is seq,
 * and calls each for every answer to it (not the closing NLMSG_DONE or
 * ack) until each returns non-zero; the rest of the answer is still read,
 * so the socket stays in step.  Returns a negative errno, or the value
 * that stopped each (0 if none did).
 */
static int
netlink_dump(struct netlink *nl, struct nlmsghdr *nlh, uint32_t seq,
    int (*each)(const struct nlmsghdr *msg, void *arg), void *arg)
{
	const struct nlmsghdr *msg;
	const char *extack;
	ssize_t n;
	int rc = 0, stop = 0, len;

	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) == -1)
		rc = -errno;
	while (rc == 0) {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = -errno;
			break;
		}
		len = (int)n;
		for (msg = (const struct nlmsghdr *)nl->buf;
		    rc == 0 && mnl_nlmsg_ok(msg, len);
		    msg = mnl_nlmsg_next(msg, &len)) {
			if (msg->nlmsg_seq != seq ||
			    msg->nlmsg_pid != nl->portid)
				continue;
			if (msg->nlmsg_type == NLMSG_DONE)
				rc = 1;
			else if (msg->nlmsg_type == NLMSG_ERROR &&
			    (rc = netlink_parse_ack(msg, &extack)) == 0)
				rc = 1;
			else if (msg->nlmsg_type != NLMSG_ERROR && stop == 0)
				stop = each(msg, arg);
		}
	}
	return rc < 0 ? rc : stop;
}

/* A link callback, and what netlink_dump() hands it. */
struct netlink_link_walk {
	int (*fn)(const struct netlink_link *link, void *arg);
	void *arg;
};

static int
netlink_each_link(const struct nlmsghdr *msg, void *arg)
{
	struct netlink_link_walk *walk = arg;
	struct netlink_link link;

	if (netlink_parse_link(msg, &link) != 0)
		return 0;
	return walk->fn(&link, walk->arg);
}

/*
 * Sends an RTM_GETLINK (a dump with NLM_F_DUMP, else one link by ifindex
 * and an ack) and calls fn for each link in the answer.
 */
static int
netlink_get_links(struct netlink *nl, int nsid, unsigned ifindex,
    const char *name, uint16_t flags,
    int (*fn)(const struct netlink_link *link, void *arg), void *arg,
    struct tb_error *err)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	uint32_t seq;
	int rc;

	nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq = ++nl->seq;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	if (name != NULL)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	if (nsid >= 0)
		mnl_attr_put_u32(nlh, IFLA_TARGET_NETNSID, (uint32_t)nsid);
	rc = netlink_dump(nl, nlh, seq, netlink_each_link,
	    &(struct netlink_link_walk){ fn, arg });
	if (rc < 0 && name != NULL)
		return tb_error_set(err, rc, "reading link %s: %s", name,
		    strerror(-rc));
	if (rc < 0 && ifindex != 0)
		return tb_error_set(err, rc, "reading link ifindex %u: %s",
		    ifindex, strerror(-rc));
	if (rc < 0 && nsid >= 0)
		return tb_error_set(err, rc, "listing the links of namespace "
		    "nsid %d: %s", nsid, strerror(-rc));
	if (rc < 0)
		return tb_error_set(err, rc, "listing the links: %s",
		    strerror(-rc));
	return rc;
}

int
netlink_dump_links(struct netlink *nl,
    int (*fn)(const struct netlink_link *link, void *arg), void *arg,
    struct tb_error *err)
{
	return netlink_get_links(nl, -1, 0, NULL, NLM_F_DUMP, fn, arg, err);
}

int
netlink_dump_links_ns(struct netlink *nl, int nsid,
    int (*fn)(const struct netlink_link *link, void *arg), void *arg,
    struct tb_error *err)
{
	return netlink_get_links(nl, nsid, 0, NULL, NLM_F_DUMP, fn, arg, err);
}

/* Keeps the one link a by-index RTM_GETLINK answers with. */
static int
netlink_keep_link(const struct netlink_link *link, void *arg)
{
	*(struct netlink_link *)arg = *link;
	return 0;
}

int
netlink_get_link(struct netlink *nl, unsigned ifindex,
    struct netlink_link *link, struct tb_error *err)
{
	memset(link, 0, sizeof(*link));
	if (!netlink_ifindex_valid(ifindex))
		return tb_error_set(err, -EINVAL,
		    "reading ifindex %u: invalid ifindex", ifindex);
	return netlink_get_links(nl, -1, ifindex, NULL, NLM_F_ACK,
	    netlink_keep_link, link, err);
}

int
netlink_get_link_ns(struct netlink *nl, int nsid, unsigned ifindex,
    struct netlink_link *link, struct tb_error *err)
{
	memset(link, 0, sizeof(*link));
	if (!netlink_ifindex_valid(ifindex))
		return tb_error_set(err, -EINVAL,
		    "reading ifindex %u: invalid ifindex", ifindex);
	return netlink_get_links(nl, nsid, ifindex, NULL, NLM_F_ACK,
	    netlink_keep_link, link, err);
}

int
netlink_ifindex(struct netlink *nl, const char *name, unsigned *ifindex,
    struct tb_error *err)
{
	struct ifreq ifr;
	int rc;

	*ifindex = 0;
	if (name[0] == '\0' || strlen(name) >= sizeof(ifr.ifr_name))
		return tb_error_set(err, -EINVAL,
		    "looking up link \"%s\": invalid name", name);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(mnl_socket_get_fd(nl->sock), SIOCGIFINDEX, &ifr) == -1) {
		rc = -errno;
		return tb_error_set(err, rc, "looking up link %s: %s", name,
		    strerror(-rc));
	}
	*ifindex = (unsigned)ifr.ifr_ifindex;
	return 0;
}

int
netlink_get_link_by_name(struct netlink *nl, const char *name,
    struct netlink_link *link, struct tb_error *err)
{
	memset(link, 0, sizeof(*link));
	if (name[0] == '\0' || strlen(name) >= TB_IFNAME_MAX)
		return tb_error_set(err, -EINVAL,
		    "reading link \"%s\": invalid name", name);
	return netlink_get_links(nl, -1, 0, name, NLM_F_ACK, netlink_keep_link,
	    link, err);
}

/*
 * Reads an RTM_NEWADDR message: its ifindex, local address and, for a
 * point-to-point address, the peer (*has_peer).
 */
static int
netlink_parse_address(const struct nlmsghdr *msg, unsigned *ifindex,
    struct tb_addr *addr, struct tb_addr *peer, bool *has_peer)
{
	const struct ifaddrmsg *ifa;
	const struct nlattr *attr, *local = NULL, *address = NULL;
	size_t len;

	if (msg->nlmsg_type != RTM_NEWADDR ||
	    mnl_nlmsg_get_payload_len(msg) < sizeof(*ifa))
		return -EBADMSG;
	ifa = mnl_nlmsg_get_payload(msg);
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return -EAFNOSUPPORT;
	len = ifa->ifa_family == AF_INET ? 4 : 16;
	mnl_attr_for_each(attr, msg, sizeof(*ifa)) {
		if (mnl_attr_get_payload_len(attr) != len)
			continue;
		if (mnl_attr_get_type(attr) == IFA_LOCAL)
			local = attr;
		else if (mnl_attr_get_type(attr) == IFA_ADDRESS)
			address = attr;
	}
	if (local == NULL)
		local = address;
	if (local == NULL || ifa->ifa_prefixlen > len * 8)
		return -EBADMSG;
	memset(addr, 0, sizeof(*addr));
	addr->family = ifa->ifa_family;
	addr->prefixlen = ifa->ifa_prefixlen;
	memcpy(addr->addr, mnl_attr_get_payload(local), len);
	*peer = *addr;
	*has_peer = address != NULL && address != local &&
	    memcmp(mnl_attr_get_payload(address), addr->addr, len) != 0;
	if (*has_peer)
		memcpy(peer->addr, mnl_attr_get_payload(address), len);
	*ifindex = ifa->ifa_index;
	return 0;
}

/* An address callback, and what netlink_dump() hands it. */
struct netlink_address_walk {
	int (*fn)(unsigned ifindex, const struct tb_addr *addr, void *arg);
	void *arg;
};

/* Calls the walk's fn for an address, and again for its peer. */
static int
netlink_each_address(const struct nlmsghdr *msg, void *arg)
{
	struct netlink_address_walk *walk = arg;
	struct tb_addr addr, peer;
	unsigned ifindex;
	bool has_peer;
	int stop;

	if (netlink_parse_address(msg, &ifindex, &addr, &peer, &has_peer) != 0)
		return 0;
	stop = walk->fn(ifindex, &addr, walk->arg);
	if (stop == 0 && has_peer)
		stop = walk->fn(ifindex, &peer, walk->arg);
	return stop;
}

/*
 * One RTM_GETADDR dump of family (AF_UNSPEC: both) in the namespace nsid
 * (-1: this one), calling fn as netlink_dump_addresses() says.
 */
static int
netlink_dump_family(struct netlink *nl, int nsid, uint8_t family,
    int (*fn)(unsigned ifindex, const struct tb_addr *addr, void *arg),
    void *arg)
{
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	uint32_t seq;

	nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq = ++nl->seq;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family;
	if (nsid >= 0)
		mnl_attr_put_u32(nlh, IFA_TARGET_NETNSID, (uint32_t)nsid);
	return netlink_dump(nl, nlh, seq, netlink_each_address,
	    &(struct netlink_address_walk){ fn, arg });
}

int
netlink_dump_addresses(struct netlink *nl,
    int (*fn)(unsigned ifindex, const struct tb_addr *addr, void *arg),
    void *arg, struct tb_error *err)
{
	int r = netlink_dump_family(nl, -1, AF_UNSPEC, fn, arg);

	if (r < 0)
		return tb_error_set(err, r, "listing the addresses: %s",
		    strerror(-r));
	return r;
}

int
netlink_dump_addresses_ns(struct netlink *nl, int nsid,
    int (*fn)(unsigned ifindex, const struct tb_addr *addr, void *arg),
    void *arg, struct tb_error *err)
{
	int on = 1, off = 0, r;

	/* The kernel reads IFA_TARGET_NETNSID of strictly checked dumps. */
	if (mnl_socket_setsockopt(nl->sock, NETLINK_GET_STRICT_CHK, &on,
	    sizeof(on)) != 0)
		return tb_error_set(err, -errno, "listing the addresses of "
		    "namespace nsid %d: strict checking: %s", nsid,
		    strerror(errno));
	r = netlink_dump_family(nl, nsid, AF_INET, fn, arg);
	if (r == 0)
		r = netlink_dump_family(nl, nsid, AF_INET6, fn, arg);
	(void)mnl_socket_setsockopt(nl->sock, NETLINK_GET_STRICT_CHK, &off,
	    sizeof(off));
	if (r < 0)
		return tb_error_set(err, r, "listing the addresses of namespace "
		    "nsid %d: %s", nsid, strerror(-r));
	return r;
}
