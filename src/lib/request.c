/* The request builder: a CREATE message's contents, checked as they come. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "internal.h"

int
tunclient_request_new(struct tunclient_request **out)
{
	struct tunclient_request *req;

	*out = NULL;
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return -ENOMEM;
	req->spec.device_type = TB_DEVICE_TUN;
	*out = req;
	return 0;
}

void
tunclient_request_free(struct tunclient_request *req)
{
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
