/* The request builder: a CREATE message's contents, checked as they come. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "internal.h"

/* The library's offload bits are the protocol's. */
_Static_assert((unsigned)TUNCLIENT_OFFLOAD_CSUM == (unsigned)TB_OFFLOAD_CSUM &&
    (unsigned)TUNCLIENT_OFFLOAD_TSO4 == (unsigned)TB_OFFLOAD_TSO4 &&
    (unsigned)TUNCLIENT_OFFLOAD_TSO6 == (unsigned)TB_OFFLOAD_TSO6 &&
    (unsigned)TUNCLIENT_OFFLOAD_TSO_ECN == (unsigned)TB_OFFLOAD_TSO_ECN &&
    (unsigned)TUNCLIENT_OFFLOAD_USO4 == (unsigned)TB_OFFLOAD_USO4 &&
    (unsigned)TUNCLIENT_OFFLOAD_USO6 == (unsigned)TB_OFFLOAD_USO6, "offload bits");
_Static_assert(TUNCLIENT_MAX_QUEUES == TB_MAX_QUEUES &&
    TUNCLIENT_MAX_ROUTES == TB_MAX_ROUTES, "limits");

int
tunclient_request_new(struct tunclient_request **out)
{
	struct tunclient_request *req;

	*out = NULL;
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return -ENOMEM;
	req->spec.device_type = TB_DEVICE_TUN;
	req->netns_fd = -1;
	*out = req;
	return 0;
}

void
tunclient_request_free(struct tunclient_request *req)
{
	if (req == NULL)
		return;
	if (req->netns_fd != -1)
		close(req->netns_fd);
	free(req);
}

const char *
tunclient_request_error(const struct tunclient_request *req)
{
	return req->err.text;
}

int
tunclient_request_set_type(struct tunclient_request *req,
    enum tunclient_device_type type)
{
	tb_error_clear(&req->err);
	if (type != TUNCLIENT_TUN && type != TUNCLIENT_TAP)
		return tb_error_set(&req->err, -EINVAL,
		    "device type %d is neither TUNCLIENT_TUN nor TUNCLIENT_TAP",
		    (int)type);
	req->spec.device_type = (uint32_t)type;
	return 0;
}

int
tunclient_request_set_name(struct tunclient_request *req, const char *name)
{
	size_t len = strlen(name);

	tb_error_clear(&req->err);
	if (len == 0 || len >= sizeof(req->spec.name))
		return tb_error_set(&req->err, -EINVAL,
		    "device name \"%s\" must have 1 to %zu bytes", name,
		    sizeof(req->spec.name) - 1);
	memcpy(req->spec.name, name, len + 1);
	return 0;
}

/* Appends a checked address to the request. */
static int
add_address(struct tunclient_request *req, const struct tb_addr *addr,
    const char *text)
{
	if (req->spec.naddrs >= TB_MAX_ADDRESSES)
		return tb_error_set(&req->err, -E2BIG,
		    "address %s: a request holds at most %d addresses", text,
		    TB_MAX_ADDRESSES);
	req->spec.addrs[req->spec.naddrs++] = *addr;
	return 0;
}

int
tunclient_request_add_address(struct tunclient_request *req,
    const char *cidr)
{
	struct tb_addr addr;
	int r;

	tb_error_clear(&req->err);
	if ((r = tb_addr_parse(cidr, false, &addr, &req->err)) != 0)
		return r;
	return add_address(req, &addr, cidr);
}

int
tunclient_request_add_address_bytes(struct tunclient_request *req,
    int family, const void *bytes, unsigned prefixlen)
{
	char text[TB_ADDR_TEXT_MAX];
	struct tb_addr addr = { 0 };

	tb_error_clear(&req->err);
	if (family != AF_INET && family != AF_INET6)
		return tb_error_set(&req->err, -EINVAL,
		    "address family %d is neither AF_INET nor AF_INET6",
		    family);
	addr.family = (uint8_t)family;
	memcpy(addr.addr, bytes, tb_addr_len(&addr));
	if (prefixlen > tb_addr_len(&addr) * 8)
		return tb_error_set(&req->err, -EINVAL,
		    "prefix length %u is over %zu", prefixlen,
		    tb_addr_len(&addr) * 8);
	addr.prefixlen = (uint8_t)prefixlen;
	return add_address(req, &addr,
	    tb_addr_format(&addr, true, text, sizeof(text)));
}

int
tunclient_request_set_peer(struct tunclient_request *req, const char *text)
{
	struct tb_addr addr;
	int r;

	tb_error_clear(&req->err);
	if ((r = tb_addr_parse(text, true, &addr, &req->err)) != 0)
		return r;
	req->spec.peer = addr;
	req->spec.has_peer = true;
	return 0;
}

int
tunclient_request_set_mtu(struct tunclient_request *req, unsigned mtu)
{
	tb_error_clear(&req->err);
	if (mtu < 68 || mtu > 65535)
		return tb_error_set(&req->err, -EINVAL,
		    "MTU %u is outside 68 to 65535", mtu);
	req->spec.mtu = mtu;
	return 0;
}

int
tunclient_request_set_mac(struct tunclient_request *req, const char *mac)
{
	static const uint8_t zero[TB_MAC_LEN];
	uint8_t parsed[TB_MAC_LEN];
	int r;

	tb_error_clear(&req->err);
	/* Parsed aside, so a bad address leaves the request as it was. */
	if ((r = tb_mac_parse(mac, parsed, &req->err)) != 0)
		return r;
	if (parsed[0] & 1)
		return tb_error_set(&req->err, -EINVAL,
		    "mac %s is a multicast address", mac);
	if (memcmp(parsed, zero, sizeof(zero)) == 0)
		return tb_error_set(&req->err, -EINVAL,
		    "mac %s is all zero", mac);
	memcpy(req->spec.mac, parsed, sizeof(parsed));
	req->spec.has_mac = true;
	return 0;
}

int
tunclient_request_add_route(struct tunclient_request *req, const char *cidr,
    unsigned metric)
{
	struct tb_route route = { .metric = metric };
	int r;

	tb_error_clear(&req->err);
	if ((r = tb_addr_parse(cidr, false, &route.dst, &req->err)) != 0)
		return r;
	if (tb_addr_has_host_bits(&route.dst))
		return tb_error_set(&req->err, -EINVAL,
		    "route %s has host bits set: a route is to a network", cidr);
	if (req->spec.nroutes >= TB_MAX_ROUTES)
		return tb_error_set(&req->err, -E2BIG,
		    "route %s: a request holds at most %d routes", cidr,
		    TB_MAX_ROUTES);
	req->spec.routes[req->spec.nroutes++] = route;
	return 0;
}

int
tunclient_request_set_bridge(struct tunclient_request *req, const char *name)
{
	size_t len = strlen(name);

	tb_error_clear(&req->err);
	if (len == 0 || len >= sizeof(req->spec.bridge))
		return tb_error_set(&req->err, -EINVAL,
		    "bridge name \"%s\" must have 1 to %zu bytes", name,
		    sizeof(req->spec.bridge) - 1);
	memcpy(req->spec.bridge, name, len + 1);
	return 0;
}

int
tunclient_request_set_queues(struct tunclient_request *req, unsigned queues)
{
	tb_error_clear(&req->err);
	if (queues < 1 || queues > TB_MAX_QUEUES)
		return tb_error_set(&req->err, -EINVAL,
		    "queues %u is outside 1 to %d", queues, TB_MAX_QUEUES);
	req->spec.queues = queues;
	return 0;
}

int
tunclient_request_set_vnet_hdr(struct tunclient_request *req, unsigned size)
{
	tb_error_clear(&req->err);
	if (size != 0 && size != TB_VNET_HDR_SIZE &&
	    size != TB_VNET_HDR_SIZE_MRG)
		return tb_error_set(&req->err, -EINVAL,
		    "vnet-hdr size %u is neither %d nor %d", size,
		    TB_VNET_HDR_SIZE, TB_VNET_HDR_SIZE_MRG);
	req->spec.vnet_hdr = size;
	return 0;
}

int
tunclient_request_set_offload(struct tunclient_request *req,
    unsigned offloads)
{
	int r;

	tb_error_clear(&req->err);
	/* The header may come later: the broker checks that one. */
	if ((r = tb_offload_check(offloads, &req->err)) != 0)
		return r;
	req->spec.offload = offloads;
	return 0;
}

int
tunclient_request_set_txqueuelen(struct tunclient_request *req, unsigned len)
{
	tb_error_clear(&req->err);
	if (len < 1 || len > 65536)
		return tb_error_set(&req->err, -EINVAL,
		    "txqueuelen %u is outside 1 to 65536", len);
	req->spec.txqueuelen = len;
	return 0;
}

int
tunclient_request_set_netns_fd(struct tunclient_request *req, int fd)
{
	int copy = -1, r;

	tb_error_clear(&req->err);
	if (fd != -1 && (copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1) {
		r = -errno;
		return tb_error_set(&req->err, r,
		    "netns descriptor %d: %s", fd, strerror(-r));
	}
	if (req->netns_fd != -1)
		close(req->netns_fd);
	req->netns_fd = copy;
	req->spec.has_netns = copy != -1;
	return 0;
}

int
tunclient_request_add_auto_address(struct tunclient_request *req, int family)
{
	tb_error_clear(&req->err);
	if (family == AF_INET)
		req->spec.auto_inet = true;
	else if (family == AF_INET6)
		req->spec.auto_inet6 = true;
	else
		return tb_error_set(&req->err, -EINVAL,
		    "address family %d is neither AF_INET nor AF_INET6",
		    family);
	return 0;
}
