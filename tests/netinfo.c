#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/ethtool.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "addr.h"
#include "netinfo.h"

/* Large enough for one dump message batch of the kernel. */
#define NETINFO_BUFFER_SIZE	32768

struct netinfo_query {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	char buf[NETINFO_BUFFER_SIZE] __attribute__((aligned(8)));
};

/* Sends the request in q->buf and feeds every reply to cb until done. */
static int
netinfo_talk(struct netinfo_query *q, struct nlmsghdr *nlh, mnl_cb_t cb,
    void *data)
{
	ssize_t n;
	int rc;

	nlh->nlmsg_seq = ++q->seq;
	if (mnl_socket_sendto(q->sock, nlh, nlh->nlmsg_len) == -1)
		return -errno;
	do {
		n = mnl_socket_recvfrom(q->sock, q->buf, sizeof(q->buf));
		if (n == -1)
			return -errno;
		rc = mnl_cb_run(q->buf, (size_t)n, q->seq, q->portid, cb, data);
		if (rc == MNL_CB_ERROR)
			return -errno;
	} while (rc > MNL_CB_STOP && (nlh->nlmsg_flags & NLM_F_DUMP) != 0);
	return 0;
}

/* Reads one attribute of the tun driver's IFLA_INFO_DATA. */
static void
netinfo_parse_tun(const struct nlattr *d, struct netinfo_link *l)
{
	bool u8 = mnl_attr_validate(d, MNL_TYPE_U8) == 0;
	bool u32 = mnl_attr_validate(d, MNL_TYPE_U32) == 0;

	switch (mnl_attr_get_type(d)) {
	case IFLA_TUN_TYPE:
		if (u8)
			l->tun_type = mnl_attr_get_u8(d);
		break;
	case IFLA_TUN_OWNER:
		if ((l->has_owner = u32))
			l->owner = mnl_attr_get_u32(d);
		break;
	case IFLA_TUN_GROUP:
		if ((l->has_group = u32))
			l->group = mnl_attr_get_u32(d);
		break;
	case IFLA_TUN_VNET_HDR:
		l->vnet_hdr = u8 && mnl_attr_get_u8(d) != 0;
		break;
	case IFLA_TUN_MULTI_QUEUE:
		l->multi_queue = u8 && mnl_attr_get_u8(d) != 0;
		break;
	case IFLA_TUN_NUM_QUEUES:
		if ((l->has_num_queues = u32))
			l->num_queues = mnl_attr_get_u32(d);
		break;
	case IFLA_TUN_NUM_DISABLED_QUEUES:
		if (u32)
			l->num_disabled_queues = mnl_attr_get_u32(d);
		break;
	}
}

/* Reads the tun driver's IFLA_INFO_DATA: owner, group, queues, header. */
static void
netinfo_parse_linkinfo(const struct nlattr *linkinfo, struct netinfo_link *l)
{
	const struct nlattr *a, *d;

	mnl_attr_for_each_nested(a, linkinfo) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_INFO_KIND:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(l->kind, sizeof(l->kind), "%s",
				    mnl_attr_get_str(a));
			break;
		case IFLA_INFO_DATA:
			if (strcmp(l->kind, "tun") != 0)
				break;
			mnl_attr_for_each_nested(d, a)
				netinfo_parse_tun(d, l);
			break;
		}
	}
}

static int
netinfo_link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct netinfo_link *l = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return MNL_CB_OK;
	l->ifindex = (unsigned)ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(l->name, sizeof(l->name), "%s",
				    mnl_attr_get_str(a));
			break;
		case IFLA_MTU:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				l->mtu = mnl_attr_get_u32(a);
			break;
		case IFLA_MASTER:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				l->master = mnl_attr_get_u32(a);
			break;
		case IFLA_TXQLEN:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				l->txqueuelen = mnl_attr_get_u32(a);
			break;
		case IFLA_ADDRESS:
			if (mnl_attr_get_payload_len(a) == sizeof(l->mac)) {
				memcpy(l->mac, mnl_attr_get_payload(a),
				    sizeof(l->mac));
				l->has_mac = true;
			}
			break;
		case IFLA_LINKINFO:
			netinfo_parse_linkinfo(a, l);
			break;
		}
	}
	return MNL_CB_OK;
}

/* Copies a raw address attribute into a tb_addr of family and prefix. */
static bool
netinfo_put_addr(struct tb_addr *out, const struct nlattr *a, uint8_t family,
    uint8_t prefixlen)
{
	size_t len = family == AF_INET ? 4 : 16;

	if (a == NULL || mnl_attr_get_payload_len(a) != len)
		return false;
	memset(out, 0, sizeof(*out));
	out->family = family;
	out->prefixlen = prefixlen;
	memcpy(out->addr, mnl_attr_get_payload(a), len);
	return true;
}

struct netinfo_addr_dump {
	struct netinfo_link *link;
	int rc;
};

static int
netinfo_addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct netinfo_addr_dump *dump = data;
	struct netinfo_link *l = dump->link;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *local = NULL, *address = NULL;
	struct netinfo_addr addr;
	uint8_t full;

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa) ||
	    ifa->ifa_index != l->ifindex ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(a) == IFA_LOCAL)
			local = a;
		else if (mnl_attr_get_type(a) == IFA_ADDRESS)
			address = a;
	}
	if (local == NULL) {
		/* IPv6 without a peer sends only IFA_ADDRESS. */
		local = address;
		address = NULL;
	}
	full = ifa->ifa_family == AF_INET ? 32 : 128;
	memset(&addr, 0, sizeof(addr));
	if (!netinfo_put_addr(&addr.local, local, ifa->ifa_family,
	    ifa->ifa_prefixlen))
		return MNL_CB_OK;
	if (ifa->ifa_family == AF_INET6 && addr.local.addr[0] == 0xfe &&
	    (addr.local.addr[1] & 0xc0) == 0x80) {
		l->nlinklocal++;
		return MNL_CB_OK;
	}
	if (address != NULL && (mnl_attr_get_payload_len(address) !=
	    mnl_attr_get_payload_len(local) ||
	    memcmp(mnl_attr_get_payload(address), mnl_attr_get_payload(local),
	    mnl_attr_get_payload_len(local)) != 0)) {
		addr.has_peer = netinfo_put_addr(&addr.peer, address,
		    ifa->ifa_family, ifa->ifa_prefixlen);
		addr.local.prefixlen = full;
	}
	if (l->naddrs == NETINFO_ADDRS_MAX) {
		dump->rc = -E2BIG;
		return MNL_CB_OK;
	}
	l->addrs[l->naddrs] = addr;
	l->naddrs++;
	return MNL_CB_OK;
}

/* A query with its socket bound, or NULL with errno set. */
static struct netinfo_query *
netinfo_open(void)
{
	struct netinfo_query *q;
	int saved;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if ((q->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC)) == NULL)
		goto fail;
	if (mnl_socket_bind(q->sock, 0, MNL_SOCKET_AUTOPID) == -1)
		goto fail;
	q->portid = mnl_socket_get_portid(q->sock);
	return q;
fail:
	saved = errno;
	if (q->sock != NULL)
		mnl_socket_close(q->sock);
	free(q);
	errno = saved;
	return NULL;
}

static void
netinfo_close(struct netinfo_query *q)
{
	mnl_socket_close(q->sock);
	free(q);
}

struct netinfo_route_dump {
	unsigned ifindex;
	struct netinfo_route *out;
	size_t max, n;
	int rc;
};

static int
netinfo_route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct netinfo_route_dump *dump = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *dst = NULL;
	struct netinfo_route r;
	unsigned table;

	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	memset(&r, 0, sizeof(r));
	table = rtm->rtm_table;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0 &&
		    mnl_attr_get_type(a) == RTA_OIF)
			r.oif = mnl_attr_get_u32(a);
		else if (mnl_attr_validate(a, MNL_TYPE_U32) == 0 &&
		    mnl_attr_get_type(a) == RTA_PRIORITY)
			r.metric = mnl_attr_get_u32(a);
		else if (mnl_attr_validate(a, MNL_TYPE_U32) == 0 &&
		    mnl_attr_get_type(a) == RTA_TABLE)
			table = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == RTA_DST)
			dst = a;
	}
	if (table != RT_TABLE_MAIN ||
	    (dump->ifindex != 0 && r.oif != dump->ifindex))
		return MNL_CB_OK;
	r.protocol = rtm->rtm_protocol;
	r.dst.family = rtm->rtm_family;
	r.dst.prefixlen = rtm->rtm_dst_len;
	if (dst != NULL && !netinfo_put_addr(&r.dst, dst, rtm->rtm_family,
	    rtm->rtm_dst_len))
		return MNL_CB_OK;
	if (dump->n == dump->max) {
		dump->rc = -E2BIG;
		return MNL_CB_OK;
	}
	dump->out[dump->n++] = r;
	return MNL_CB_OK;
}

int
netinfo_routes(unsigned ifindex, struct netinfo_route *out, size_t max,
    size_t *n)
{
	struct netinfo_route_dump dump = { .ifindex = ifindex, .out = out,
	    .max = max };
	struct netinfo_query *q;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int rc;

	*n = 0;
	if ((q = netinfo_open()) == NULL)
		return -errno;
	nlh = mnl_nlmsg_put_header(q->buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_UNSPEC;
	rc = netinfo_talk(q, nlh, netinfo_route_cb, &dump);
	netinfo_close(q);
	*n = dump.n;
	return rc != 0 ? rc : dump.rc;
}

/* Sends the RTM_NEWLINK in q->buf with an ack. */
static int
netinfo_newlink(struct netinfo_query *q, struct nlmsghdr *nlh)
{
	nlh->nlmsg_flags |= NLM_F_ACK;
	return netinfo_talk(q, nlh, NULL, NULL);
}

int
netinfo_add_link(const char *name, const char *kind, const char *peer)
{
	struct netinfo_query *q;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nlattr *info, *data, *peer_attr;
	int rc;

	if ((q = netinfo_open()) == NULL)
		return -errno;
	nlh = mnl_nlmsg_put_header(q->buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	if (peer != NULL) {
		/* VETH_INFO_PEER (1): an ifinfomsg, then the peer's name. */
		data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
		peer_attr = mnl_attr_nest_start(nlh, 1);
		ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
		ifi->ifi_family = AF_UNSPEC;
		mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
		mnl_attr_nest_end(nlh, peer_attr);
		mnl_attr_nest_end(nlh, data);
	}
	mnl_attr_nest_end(nlh, info);
	rc = netinfo_newlink(q, nlh);
	netinfo_close(q);
	return rc;
}

int
netinfo_set_link(const char *name, unsigned mtu, const char *master,
    bool up)
{
	struct netinfo_query *q;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	unsigned master_index = 0;
	int rc;

	if (master != NULL && (master_index = if_nametoindex(master)) == 0)
		return -errno;
	if ((q = netinfo_open()) == NULL)
		return -errno;
	nlh = mnl_nlmsg_put_header(q->buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	if (up) {
		ifi->ifi_flags = IFF_UP;
		ifi->ifi_change = IFF_UP;
	}
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu != 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if (master_index != 0)
		mnl_attr_put_u32(nlh, IFLA_MASTER, master_index);
	rc = netinfo_newlink(q, nlh);
	netinfo_close(q);
	return rc;
}

int
netinfo_link_by_name(const char *name, struct netinfo_link *out)
{
	struct netinfo_query *q;
	struct netinfo_addr_dump dump = { .link = out, .rc = 0 };
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct ifaddrmsg *ifa;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strlen(name) >= IFNAMSIZ)
		return -ENODEV;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	if ((q->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC)) == NULL) {
		rc = -errno;
		goto out;
	}
	if (mnl_socket_bind(q->sock, 0, MNL_SOCKET_AUTOPID) == -1) {
		rc = -errno;
		goto out;
	}
	q->portid = mnl_socket_get_portid(q->sock);

	nlh = mnl_nlmsg_put_header(q->buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if ((rc = netinfo_talk(q, nlh, netinfo_link_cb, out)) != 0)
		goto out;
	if (out->ifindex == 0) {
		rc = -ENODEV;
		goto out;
	}

	nlh = mnl_nlmsg_put_header(q->buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	if ((rc = netinfo_talk(q, nlh, netinfo_addr_cb, &dump)) != 0)
		goto out;
	rc = dump.rc;
out:
	if (q->sock != NULL)
		mnl_socket_close(q->sock);
	free(q);
	return rc;
}

bool
netinfo_link_gone_within(const char *name, int ms)
{
	struct netinfo_link link;
	int i;

	for (i = 0; i <= ms / 10; i++) {
		if (netinfo_link_by_name(name, &link) == -ENODEV)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

bool
netinfo_link_has_address(const struct netinfo_link *link, const char *cidr)
{
	char text[TB_ADDR_TEXT_MAX];
	size_t i;

	for (i = 0; i < link->naddrs; i++) {
		tb_addr_format(&link->addrs[i].local, true, text, sizeof(text));
		if (strcmp(text, cidr) == 0)
			return true;
	}
	return false;
}

/* Issues one SIOCETHTOOL request about ifname. */
static int
netinfo_ethtool(int sock, const char *ifname, void *data)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = data;
	return ioctl(sock, SIOCETHTOOL, &ifr) == -1 ? -errno : 0;
}

int
netinfo_feature(const char *ifname, const char *feature, bool *active)
{
	struct {
		struct ethtool_sset_info hdr;
		uint32_t len;
	} info = { .hdr = { .cmd = ETHTOOL_GSSET_INFO,
	    .sset_mask = 1ull << ETH_SS_FEATURES } };
	struct ethtool_gstrings *names = NULL;
	struct ethtool_gfeatures *feats = NULL;
	uint32_t i, n;
	int sock, r;

	if ((sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -errno;
	if ((r = netinfo_ethtool(sock, ifname, &info)) != 0)
		goto out;
	n = info.len;
	names = calloc(1, sizeof(*names) + (size_t)n * ETH_GSTRING_LEN);
	feats = calloc(1, sizeof(*feats) +
	    ((n + 31) / 32) * sizeof(feats->features[0]));
	if (names == NULL || feats == NULL) {
		r = -ENOMEM;
		goto out;
	}
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_FEATURES;
	names->len = n;
	feats->cmd = ETHTOOL_GFEATURES;
	feats->size = (n + 31) / 32;
	if ((r = netinfo_ethtool(sock, ifname, names)) != 0 ||
	    (r = netinfo_ethtool(sock, ifname, feats)) != 0)
		goto out;
	r = -ENOENT;
	for (i = 0; i < n; i++) {
		if (strncmp((const char *)names->data + i * ETH_GSTRING_LEN,
		    feature, ETH_GSTRING_LEN) == 0) {
			*active = (feats->features[i / 32].active >>
			    (i % 32)) & 1;
			r = 0;
			break;
		}
	}
out:
	free(names);
	free(feats);
	close(sock);
	return r;
}

int
netinfo_legacy_offload(const char *ifname, unsigned cmd, bool *on)
{
	struct ethtool_value v = { .cmd = cmd };
	int sock, r;

	if ((sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -errno;
	r = netinfo_ethtool(sock, ifname, &v);
	close(sock);
	if (r == 0)
		*on = v.data != 0;
	return r;
}
