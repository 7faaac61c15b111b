#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "codec.h"

/* What an attribute holds, for checking its size. */
enum attr_kind {
	KIND_U32 = 1,
	KIND_I32,
	KIND_STRING,
	KIND_ADDR,
	KIND_LEASE,
	KIND_MAC,
	KIND_ROUTE,
	KIND_NETNS,
};

static const struct attr_info {
	const char *name;
	enum attr_kind kind;
	uint16_t max_len;	/* strings: the most bytes, NUL included */
} attr_infos[TB_ATTR_TYPE_MAX + 1] = {
	[TB_ATTR_ERRNO] = { "errno", KIND_I32, 0 },
	[TB_ATTR_ERROR_TEXT] = { "error-text", KIND_STRING, TB_ERROR_TEXT_MAX },
	[TB_ATTR_BROKER_VERSION] = { "broker-version", KIND_STRING,
	    TB_VERSION_TEXT_MAX },
	[TB_ATTR_PROTO_VERSION] = { "protocol-version", KIND_U32, 0 },
	[TB_ATTR_DEVICE_TYPE] = { "device-type", KIND_U32, 0 },
	[TB_ATTR_IFNAME] = { "ifname", KIND_STRING, TB_IFNAME_MAX },
	[TB_ATTR_ADDRESS] = { "address", KIND_ADDR, 0 },
	[TB_ATTR_PEER] = { "peer", KIND_ADDR, 0 },
	[TB_ATTR_MTU] = { "mtu", KIND_U32, 0 },
	[TB_ATTR_IFINDEX] = { "ifindex", KIND_U32, 0 },
	[TB_ATTR_FD_COUNT] = { "fd-count", KIND_U32, 0 },
	[TB_ATTR_LEASE] = { "lease", KIND_LEASE, 0 },
	[TB_ATTR_MAC] = { "mac", KIND_MAC, 0 },
	[TB_ATTR_ROUTE] = { "route", KIND_ROUTE, 0 },
	[TB_ATTR_BRIDGE] = { "bridge", KIND_STRING, TB_IFNAME_MAX },
	[TB_ATTR_QUEUES] = { "queues", KIND_U32, 0 },
	[TB_ATTR_VNET_HDR] = { "vnet-hdr", KIND_U32, 0 },
	[TB_ATTR_OFFLOAD] = { "offload", KIND_U32, 0 },
	[TB_ATTR_TXQUEUELEN] = { "txqueuelen", KIND_U32, 0 },
	[TB_ATTR_NETNS] = { "netns", KIND_NETNS, 0 },
	[TB_ATTR_AUTO_ADDRESS] = { "auto-address", KIND_U32, 0 },
	[TB_ATTR_CURSOR] = { "cursor", KIND_U32, 0 },
};

/* How a message type may use an attribute. */
enum {
	ALLOWED = 1 << 0,
	REQUIRED = 1 << 1,
	REPEATABLE = 1 << 2,
};

static const struct msg_rules {
	const char *name;
	uint8_t max_fds;
	uint16_t fd_attr;	/* if set, fds only come with this attribute */
	uint16_t max_repeat;	/* for REPEATABLE attributes */
	uint8_t attrs[TB_ATTR_TYPE_MAX + 1];
} msg_rules[TB_MSG_TYPE_MAX + 1] = {
	[TB_MSG_PING] = { "PING", 0, 0, 0, { 0 } },
	[TB_MSG_STATUS] = { "STATUS", 0, 0, 0, { 0 } },
	[TB_MSG_CREATE] = { "CREATE", 1, TB_ATTR_NETNS, TB_MAX_ADDRESSES, {
		[TB_ATTR_DEVICE_TYPE] = ALLOWED,
		[TB_ATTR_IFNAME] = ALLOWED,
		[TB_ATTR_ADDRESS] = ALLOWED | REPEATABLE,
		[TB_ATTR_PEER] = ALLOWED,
		[TB_ATTR_MTU] = ALLOWED,
		[TB_ATTR_MAC] = ALLOWED,
		[TB_ATTR_ROUTE] = ALLOWED | REPEATABLE,
		[TB_ATTR_BRIDGE] = ALLOWED,
		[TB_ATTR_QUEUES] = ALLOWED,
		[TB_ATTR_VNET_HDR] = ALLOWED,
		[TB_ATTR_OFFLOAD] = ALLOWED,
		[TB_ATTR_TXQUEUELEN] = ALLOWED,
		[TB_ATTR_NETNS] = ALLOWED,
		[TB_ATTR_AUTO_ADDRESS] = ALLOWED | REPEATABLE,
	} },
	[TB_MSG_LIST] = { "LIST", 0, 0, 0, {
		[TB_ATTR_CURSOR] = ALLOWED,
	} },
	[TB_MSG_RELEASE] = { "RELEASE", 0, 0, 0, {
		[TB_ATTR_IFNAME] = ALLOWED | REQUIRED,
	} },
	[TB_MSG_ERROR] = { "ERROR", 0, 0, 0, {
		[TB_ATTR_ERRNO] = ALLOWED | REQUIRED,
		[TB_ATTR_ERROR_TEXT] = ALLOWED | REQUIRED,
	} },
	[TB_MSG_PONG] = { "PONG", 0, 0, 0, { 0 } },
	[TB_MSG_STATUS_REPLY] = { "STATUS_REPLY", 0, 0, 0, {
		[TB_ATTR_BROKER_VERSION] = ALLOWED | REQUIRED,
		[TB_ATTR_PROTO_VERSION] = ALLOWED | REQUIRED,
	} },
	[TB_MSG_CREATED] = { "CREATED", TB_MSG_MAX_FDS, 0, TB_MAX_ADDRESSES, {
		[TB_ATTR_IFNAME] = ALLOWED | REQUIRED,
		[TB_ATTR_IFINDEX] = ALLOWED | REQUIRED,
		[TB_ATTR_MTU] = ALLOWED | REQUIRED,
		[TB_ATTR_ADDRESS] = ALLOWED | REPEATABLE,
		[TB_ATTR_PEER] = ALLOWED,
		[TB_ATTR_FD_COUNT] = ALLOWED | REQUIRED,
		[TB_ATTR_DEVICE_TYPE] = ALLOWED,
		[TB_ATTR_MAC] = ALLOWED,
		[TB_ATTR_ROUTE] = ALLOWED | REPEATABLE,
		[TB_ATTR_BRIDGE] = ALLOWED,
		[TB_ATTR_QUEUES] = ALLOWED,
		[TB_ATTR_VNET_HDR] = ALLOWED,
		[TB_ATTR_OFFLOAD] = ALLOWED,
		[TB_ATTR_TXQUEUELEN] = ALLOWED,
		[TB_ATTR_NETNS] = ALLOWED,
	} },
	[TB_MSG_LEASES] = { "LEASES", 0, 0, TB_MAX_LEASES, {
		[TB_ATTR_LEASE] = ALLOWED | REPEATABLE,
		[TB_ATTR_CURSOR] = ALLOWED,
	} },
	[TB_MSG_RELEASED] = { "RELEASED", 0, 0, 0, {
		[TB_ATTR_IFNAME] = ALLOWED | REQUIRED,
	} },
};

const char *
tb_msg_type_name(unsigned type)
{
	if (type > TB_MSG_TYPE_MAX || msg_rules[type].name == NULL)
		return "unknown";
	return msg_rules[type].name;
}

static bool
attr_known(unsigned type)
{
	return type <= TB_ATTR_TYPE_MAX && attr_infos[type].name != NULL;
}

const char *
tb_attr_type_name(unsigned type)
{
	return attr_known(type) ? attr_infos[type].name : "unknown";
}

/* Records a decode failure: the errno for programs, detail for tests. */
#define reject(err, code, detail, ...) \
	tb_error_set_detail((err), (code), (int)(detail), __VA_ARGS__)

int
tb_builder_init(struct tb_builder *b, uint8_t type, uint32_t seq)
{
	struct tb_header hdr = {
		.magic = TB_PROTO_MAGIC,
		.version = TB_PROTO_VERSION,
		.type = type,
		.seq = seq,
		.length = TB_HEADER_SIZE,
	};

	memset(b, 0, sizeof(*b));
	b->cap = 256;
	b->buf = malloc(b->cap);
	if (b->buf == NULL) {
		b->error = -ENOMEM;
		return -ENOMEM;
	}
	memcpy(b->buf, &hdr, sizeof(hdr));
	b->len = sizeof(hdr);
	return 0;
}

void
tb_builder_put(struct tb_builder *b, uint16_t type, const void *data,
    size_t len)
{
	struct tb_attr attr;
	size_t need, padded;
	uint8_t *grown;

	if (b->error != 0)
		return;
	if (b->buf == NULL) {		/* released, or never started */
		b->error = -EINVAL;
		return;
	}
	if (len > TB_MSG_MAX_SIZE - TB_ATTR_HEADER_SIZE) {
		b->error = -EMSGSIZE;
		return;
	}
	padded = TB_ALIGN(TB_ATTR_HEADER_SIZE + len);
	need = b->len + padded;
	if (need > TB_MSG_MAX_SIZE) {
		b->error = -EMSGSIZE;
		return;
	}
	if (need > b->cap) {
		size_t cap = b->cap;

		while (cap < need)
			cap *= 2;
		grown = realloc(b->buf, cap);
		if (grown == NULL) {
			b->error = -ENOMEM;
			return;
		}
		b->buf = grown;
		b->cap = cap;
	}
	attr.len = (uint16_t)(TB_ATTR_HEADER_SIZE + len);
	attr.type = type;
	memcpy(b->buf + b->len, &attr, sizeof(attr));
	if (len > 0)
		memcpy(b->buf + b->len + sizeof(attr), data, len);
	memset(b->buf + b->len + sizeof(attr) + len, 0,
	    padded - sizeof(attr) - len);
	b->len = need;
}

void
tb_builder_put_u32(struct tb_builder *b, uint16_t type, uint32_t value)
{
	tb_builder_put(b, type, &value, sizeof(value));
}

void
tb_builder_put_i32(struct tb_builder *b, uint16_t type, int32_t value)
{
	tb_builder_put(b, type, &value, sizeof(value));
}

void
tb_builder_put_string(struct tb_builder *b, uint16_t type, const char *value)
{
	tb_builder_put(b, type, value, strlen(value) + 1);
}

void
tb_builder_put_addr(struct tb_builder *b, uint16_t type,
    const struct tb_addr *addr)
{
	tb_builder_put(b, type, addr, sizeof(*addr));
}

int
tb_builder_finish(struct tb_builder *b)
{
	uint32_t length;

	if (b->error != 0)
		return b->error;
	if (b->buf == NULL)
		return -EINVAL;
	length = (uint32_t)b->len;
	memcpy(b->buf + offsetof(struct tb_header, length), &length,
	    sizeof(length));
	return 0;
}

void
tb_builder_release(struct tb_builder *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* A lease's name must be a non-empty string within its array. */
static int
check_lease(const char *name, uint16_t type, const uint8_t *payload,
    size_t len, struct tb_error *err)
{
	struct tb_lease lease;

	if (len != sizeof(lease))
		return reject(err, -EBADMSG, TB_DECODE_ATTR_SIZE,
		    "attribute %s (%u) has %zu bytes, not %zu",
		    name, type, len, sizeof(lease));
	memcpy(&lease, payload, sizeof(lease));
	if (lease.name[0] == '\0' ||
	    memchr(lease.name, '\0', sizeof(lease.name)) == NULL)
		return reject(err, -EBADMSG, TB_DECODE_UNTERMINATED,
		    "attribute %s (%u) holds an empty or unterminated name",
		    name, type);
	return 0;
}

/* Says err when an attribute's payload is not exactly want bytes. */
static int
check_size(const char *name, uint16_t type, size_t len, size_t want,
    struct tb_error *err)
{
	if (len == want)
		return 0;
	return reject(err, -EBADMSG, TB_DECODE_ATTR_SIZE,
	    "attribute %s (%u) has %zu bytes, not %zu", name, type, len, want);
}

/* Checks one attribute's payload against what its type must hold. */
static int
check_attr_payload(const struct attr_info *info, uint16_t type,
    const uint8_t *payload, size_t len, struct tb_error *err)
{
	const char *name = info->name;
	struct tb_route route;
	struct tb_netns netns;
	struct tb_addr addr;
	int r;

	switch (info->kind) {
	case KIND_MAC:
		return check_size(name, type, len, TB_MAC_LEN, err);
	case KIND_ROUTE:
		if ((r = check_size(name, type, len, sizeof(route), err)) != 0)
			return r;
		memcpy(&route, payload, sizeof(route));
		if (tb_addr_validate(&route.dst) != 0)
			return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
			    "attribute %s holds an invalid prefix (family %u, prefix length %u)",
			    name, route.dst.family, route.dst.prefixlen);
		return 0;
	case KIND_NETNS:
		if ((r = check_size(name, type, len, sizeof(netns), err)) != 0)
			return r;
		memcpy(&netns, payload, sizeof(netns));
		if (netns.reserved != 0)
			return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
			    "attribute %s has non-zero reserved bytes", name);
		return 0;
	case KIND_U32:
	case KIND_I32:
		if (len != 4)
			return reject(err, -EBADMSG, TB_DECODE_ATTR_SIZE,
			    "attribute %s (%u) has %zu bytes, not 4",
			    name, type, len);
		return 0;
	case KIND_ADDR:
		if (len != sizeof(struct tb_addr))
			return reject(err, -EBADMSG, TB_DECODE_ATTR_SIZE,
			    "attribute %s (%u) has %zu bytes, not %zu",
			    name, type, len, sizeof(struct tb_addr));
		memcpy(&addr, payload, sizeof(addr));
		if (tb_addr_validate(&addr) != 0)
			return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
			    "attribute %s holds an invalid address (family %u, prefix length %u)",
			    name, addr.family, addr.prefixlen);
		return 0;
	case KIND_LEASE:
		return check_lease(name, type, payload, len, err);
	case KIND_STRING:
		if (len == 0 || payload[len - 1] != '\0' ||
		    memchr(payload, '\0', len) != payload + len - 1)
			return reject(err, -EBADMSG, TB_DECODE_UNTERMINATED,
			    "attribute %s (%u) is not a NUL-terminated string",
			    name, type);
		if (len > info->max_len)
			return reject(err, -EBADMSG, TB_DECODE_ATTR_SIZE,
			    "attribute %s (%u) has %zu bytes, more than %u",
			    name, type, len, info->max_len);
		return 0;
	}
	return reject(err, -EBADMSG, TB_DECODE_UNKNOWN_ATTR,
	    "attribute %u has no known kind", type);
}

/* Checks the fixed header; on success msg->hdr is filled. */
static int
parse_header(struct tb_msg *msg, const uint8_t *buf, size_t len,
    struct tb_error *err)
{
	if (len > TB_MSG_MAX_SIZE)
		return reject(err, -EMSGSIZE, TB_DECODE_TOO_BIG,
		    "message of %zu bytes is over the limit of %u",
		    len, TB_MSG_MAX_SIZE);
	if (len < TB_HEADER_SIZE)
		return reject(err, -EBADMSG, TB_DECODE_SHORT_HEADER,
		    "message of %zu bytes is shorter than its %u-byte header",
		    len, TB_HEADER_SIZE);
	memcpy(&msg->hdr, buf, sizeof(msg->hdr));
	msg->header_ok = true;
	if (msg->hdr.magic != TB_PROTO_MAGIC)
		return reject(err, -EPROTO, TB_DECODE_BAD_MAGIC,
		    "bad magic 0x%08x (expected 0x%08x)",
		    msg->hdr.magic, TB_PROTO_MAGIC);
	if (msg->hdr.version != TB_PROTO_VERSION)
		return reject(err, -EPROTONOSUPPORT, TB_DECODE_BAD_VERSION,
		    "protocol version %u is not supported (this side speaks %u)",
		    msg->hdr.version, TB_PROTO_VERSION);
	if (msg->hdr.length != len)
		return reject(err, -EBADMSG, TB_DECODE_LENGTH_MISMATCH,
		    "header says %u bytes but the message has %zu",
		    msg->hdr.length, len);
	if (msg->hdr.flags != 0)
		return reject(err, -EBADMSG, TB_DECODE_BAD_FLAGS,
		    "header flags 0x%04x are not defined", msg->hdr.flags);
	if (msg->hdr.type > TB_MSG_TYPE_MAX ||
	    msg_rules[msg->hdr.type].name == NULL)
		return reject(err, -EBADMSG, TB_DECODE_UNKNOWN_TYPE,
		    "message type %u is unknown", msg->hdr.type);
	return 0;
}

int
tb_msg_parse(struct tb_msg *msg, const void *buf, size_t len, size_t nfds,
    struct tb_error *err)
{
	const uint8_t *data = buf;
	const struct msg_rules *rules;
	size_t off, type;
	int r;

	memset(msg, 0, sizeof(*msg));
	msg->data = data;
	msg->len = len;
	msg->nfds = nfds;
	if ((r = parse_header(msg, data, len, err)) != 0)
		return r;
	rules = &msg_rules[msg->hdr.type];

	for (off = TB_HEADER_SIZE; off < len;) {
		struct tb_attr attr;
		uint16_t atype;
		uint8_t use;

		if (len - off < TB_ATTR_HEADER_SIZE)
			return reject(err, -EBADMSG, TB_DECODE_ATTR_OVERRUN,
			    "%zu stray bytes after the last attribute",
			    len - off);
		memcpy(&attr, data + off, sizeof(attr));
		if (attr.len < TB_ATTR_HEADER_SIZE ||
		    TB_ALIGN((size_t)attr.len) > len - off)
			return reject(err, -EBADMSG, TB_DECODE_ATTR_OVERRUN,
			    "attribute %u at offset %zu claims %u bytes; %zu remain",
			    attr.type & TB_ATTR_TYPE_MASK, off, attr.len,
			    len - off);
		atype = attr.type & TB_ATTR_TYPE_MASK;
		use = atype <= TB_ATTR_TYPE_MAX ? rules->attrs[atype] : 0;
		/*
		 * The optional flag lets a newer peer send what we do not
		 * know; an attribute we know in the wrong message is an error.
		 */
		if (!(use & ALLOWED)) {
			if ((attr.type & TB_ATTR_F_OPTIONAL) &&
			    !attr_known(atype)) {
				off += TB_ALIGN((size_t)attr.len);
				continue;
			}
			return reject(err, -EOPNOTSUPP,
			    TB_DECODE_UNKNOWN_ATTR,
			    "attribute %s (%u) is not known in a %s message",
			    tb_attr_type_name(atype), atype, rules->name);
		}
		if (msg->count[atype] > 0 && !(use & REPEATABLE))
			return reject(err, -EBADMSG, TB_DECODE_REPEATED,
			    "attribute %s (%u) is given more than once",
			    attr_infos[atype].name, atype);
		if (msg->count[atype] >= rules->max_repeat &&
		    (use & REPEATABLE))
			return reject(err, -E2BIG, TB_DECODE_BAD_VALUE,
			    "more than %u %s attributes", rules->max_repeat,
			    attr_infos[atype].name);
		r = check_attr_payload(&attr_infos[atype], atype,
		    data + off + TB_ATTR_HEADER_SIZE,
		    attr.len - TB_ATTR_HEADER_SIZE, err);
		if (r != 0)
			return r;
		if (msg->count[atype]++ == 0)
			msg->first[atype] =
			    (const struct tb_attr *)(const void *)(data + off);
		off += TB_ALIGN((size_t)attr.len);
	}

	for (type = 1; type <= TB_ATTR_TYPE_MAX; type++) {
		if ((rules->attrs[type] & REQUIRED) && msg->count[type] == 0)
			return reject(err, -EINVAL, TB_DECODE_MISSING_ATTR,
			    "a %s message needs attribute %s (%zu)",
			    rules->name, attr_infos[type].name, type);
	}
	if (rules->fd_attr != 0 && msg->count[rules->fd_attr] == 0 && nfds > 0)
		return reject(err, -EBADMSG, TB_DECODE_UNEXPECTED_FDS,
		    "a %s message came with %zu descriptors but no %s attribute",
		    rules->name, nfds, attr_infos[rules->fd_attr].name);
	if (nfds > rules->max_fds)
		return reject(err, -EBADMSG, TB_DECODE_UNEXPECTED_FDS,
		    "a %s message came with %zu descriptors; at most %u are allowed",
		    rules->name, nfds, rules->max_fds);
	return 0;
}

bool
tb_msg_has(const struct tb_msg *msg, uint16_t type)
{
	return type <= TB_ATTR_TYPE_MAX && msg->count[type] > 0;
}

static const void *
attr_payload(const struct tb_attr *attr)
{
	return (const uint8_t *)attr + TB_ATTR_HEADER_SIZE;
}

uint32_t
tb_msg_u32(const struct tb_msg *msg, uint16_t type)
{
	uint32_t v = 0;

	if (tb_msg_has(msg, type))
		memcpy(&v, attr_payload(msg->first[type]), sizeof(v));
	return v;
}

int32_t
tb_msg_i32(const struct tb_msg *msg, uint16_t type)
{
	int32_t v = 0;

	if (tb_msg_has(msg, type))
		memcpy(&v, attr_payload(msg->first[type]), sizeof(v));
	return v;
}

const char *
tb_msg_string(const struct tb_msg *msg, uint16_t type)
{
	if (!tb_msg_has(msg, type))
		return NULL;
	return attr_payload(msg->first[type]);
}

const struct tb_attr *
tb_msg_next(const struct tb_msg *msg, uint16_t type,
    const struct tb_attr *prev)
{
	const uint8_t *p, *end = msg->data + msg->len;
	struct tb_attr attr;

	if (!tb_msg_has(msg, type))
		return NULL;
	if (prev == NULL)
		return msg->first[type];
	memcpy(&attr, prev, sizeof(attr));
	for (p = (const uint8_t *)prev + TB_ALIGN((size_t)attr.len); p < end;
	    p += TB_ALIGN((size_t)attr.len)) {
		memcpy(&attr, p, sizeof(attr));
		if ((attr.type & TB_ATTR_TYPE_MASK) == type)
			return (const struct tb_attr *)(const void *)p;
	}
	return NULL;
}

void
tb_attr_get_addr(const struct tb_attr *attr, struct tb_addr *out)
{
	memcpy(out, attr_payload(attr), sizeof(*out));
}

/* Copies every occurrence of an address attribute into addrs. */
static size_t
collect_addrs(const struct tb_msg *msg, uint16_t type,
    struct tb_addr addrs[TB_MAX_ADDRESSES])
{
	const struct tb_attr *a = NULL;
	size_t n = 0;

	while (n < TB_MAX_ADDRESSES && (a = tb_msg_next(msg, type, a)) != NULL)
		tb_attr_get_addr(a, &addrs[n++]);
	return n;
}

static void
copy_string(char *dst, size_t size, const char *src)
{
	size_t len = src != NULL ? strlen(src) : 0;

	if (len >= size)
		len = size - 1;
	if (len > 0)
		memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Finishes b, releasing it on failure so callers have one path. */
static int
finish(struct tb_builder *b)
{
	int r = tb_builder_finish(b);

	if (r != 0)
		tb_builder_release(b);
	return r;
}

int
tb_encode_simple(struct tb_builder *b, uint8_t type, uint32_t seq)
{
	int r = tb_builder_init(b, type, seq);

	return r != 0 ? r : finish(b);
}

/* The options CREATE asks for and CREATED reports in the same form. */
static void
put_device_options(struct tb_builder *b, const struct tb_route *routes,
    size_t nroutes, const char *bridge, uint32_t queues, uint32_t vnet_hdr,
    uint32_t offload, uint32_t txqueuelen)
{
	size_t i;

	for (i = 0; i < nroutes; i++)
		tb_builder_put(b, TB_ATTR_ROUTE, &routes[i], sizeof(routes[i]));
	if (bridge[0] != '\0')
		tb_builder_put_string(b, TB_ATTR_BRIDGE, bridge);
	if (queues != 0)
		tb_builder_put_u32(b, TB_ATTR_QUEUES, queues);
	if (vnet_hdr != 0)
		tb_builder_put_u32(b, TB_ATTR_VNET_HDR, vnet_hdr);
	if (offload != 0)
		tb_builder_put_u32(b, TB_ATTR_OFFLOAD, offload);
	if (txqueuelen != 0)
		tb_builder_put_u32(b, TB_ATTR_TXQUEUELEN, txqueuelen);
}

int
tb_encode_create(struct tb_builder *b, uint32_t seq,
    const struct tb_create_request *req)
{
	size_t i;
	int r;

	if (req->naddrs > TB_MAX_ADDRESSES || req->nroutes > TB_MAX_ROUTES) {
		memset(b, 0, sizeof(*b));
		return -EINVAL;
	}
	if ((r = tb_builder_init(b, TB_MSG_CREATE, seq)) != 0)
		return r;
	if (req->device_type != 0)
		tb_builder_put_u32(b, TB_ATTR_DEVICE_TYPE, req->device_type);
	if (req->name[0] != '\0')
		tb_builder_put_string(b, TB_ATTR_IFNAME, req->name);
	for (i = 0; i < req->naddrs; i++)
		tb_builder_put_addr(b, TB_ATTR_ADDRESS, &req->addrs[i]);
	if (req->has_peer)
		tb_builder_put_addr(b, TB_ATTR_PEER, &req->peer);
	if (req->mtu != 0)
		tb_builder_put_u32(b, TB_ATTR_MTU, req->mtu);
	if (req->has_mac)
		tb_builder_put(b, TB_ATTR_MAC, req->mac, TB_MAC_LEN);
	put_device_options(b, req->routes, req->nroutes, req->bridge,
	    req->queues, req->vnet_hdr, req->offload, req->txqueuelen);
	if (req->has_netns) {
		struct tb_netns ns = { .fd_index = 0 };

		tb_builder_put(b, TB_ATTR_NETNS, &ns, sizeof(ns));
	}
	if (req->auto_inet)
		tb_builder_put_u32(b, TB_ATTR_AUTO_ADDRESS, AF_INET);
	if (req->auto_inet6)
		tb_builder_put_u32(b, TB_ATTR_AUTO_ADDRESS, AF_INET6);
	return finish(b);
}

int
tb_encode_created(struct tb_builder *b, uint32_t seq,
    const struct tb_created_reply *rep)
{
	size_t i;
	int r;

	if (rep->naddrs > TB_MAX_ADDRESSES || rep->nroutes > TB_MAX_ROUTES) {
		memset(b, 0, sizeof(*b));
		return -EINVAL;
	}
	if ((r = tb_builder_init(b, TB_MSG_CREATED, seq)) != 0)
		return r;
	tb_builder_put_string(b, TB_ATTR_IFNAME, rep->name);
	tb_builder_put_u32(b, TB_ATTR_IFINDEX, rep->ifindex);
	tb_builder_put_u32(b, TB_ATTR_MTU, rep->mtu);
	for (i = 0; i < rep->naddrs; i++)
		tb_builder_put_addr(b, TB_ATTR_ADDRESS, &rep->addrs[i]);
	if (rep->has_peer)
		tb_builder_put_addr(b, TB_ATTR_PEER, &rep->peer);
	tb_builder_put_u32(b, TB_ATTR_FD_COUNT, rep->fd_count);
	if (rep->device_type != 0)
		tb_builder_put_u32(b, TB_ATTR_DEVICE_TYPE, rep->device_type);
	if (rep->has_mac)
		tb_builder_put(b, TB_ATTR_MAC, rep->mac, TB_MAC_LEN);
	put_device_options(b, rep->routes, rep->nroutes, rep->bridge,
	    rep->queues, rep->vnet_hdr, rep->offload, rep->txqueuelen);
	if (rep->has_netns)
		tb_builder_put(b, TB_ATTR_NETNS, &rep->netns,
		    sizeof(rep->netns));
	return finish(b);
}

int
tb_encode_status_reply(struct tb_builder *b, uint32_t seq,
    const struct tb_status_reply *rep)
{
	int r;

	if ((r = tb_builder_init(b, TB_MSG_STATUS_REPLY, seq)) != 0)
		return r;
	tb_builder_put_string(b, TB_ATTR_BROKER_VERSION, rep->broker_version);
	tb_builder_put_u32(b, TB_ATTR_PROTO_VERSION, rep->proto_version);
	return finish(b);
}

int
tb_encode_error(struct tb_builder *b, uint32_t seq, const struct tb_error *e)
{
	int r;

	if ((r = tb_builder_init(b, TB_MSG_ERROR, seq)) != 0)
		return r;
	tb_builder_put_i32(b, TB_ATTR_ERRNO, e->code < 0 ? e->code : -EIO);
	tb_builder_put_string(b, TB_ATTR_ERROR_TEXT, e->text);
	return finish(b);
}

/* Says err and fails when msg is not of the type a decoder expects. */
static int
expect_type(const struct tb_msg *msg, uint8_t type, struct tb_error *err)
{
	if (msg->hdr.type == type)
		return 0;
	return reject(err, -EBADMSG, TB_DECODE_UNKNOWN_TYPE,
	    "expected a %s message, got %s (%u)", tb_msg_type_name(type),
	    tb_msg_type_name(msg->hdr.type), msg->hdr.type);
}

/* Reads the options shared by CREATE and CREATED, checking their values. */
static int
get_device_options(const struct tb_msg *msg, struct tb_route *routes,
    size_t *nroutes, char bridge[TB_IFNAME_MAX], uint32_t *queues,
    uint32_t *vnet_hdr, uint32_t *offload, uint32_t *txqueuelen,
    struct tb_error *err)
{
	const struct tb_attr *a = NULL;

	*nroutes = 0;
	while ((a = tb_msg_next(msg, TB_ATTR_ROUTE, a)) != NULL) {
		if (*nroutes == TB_MAX_ROUTES)
			return reject(err, -E2BIG, TB_DECODE_BAD_VALUE,
			    "more than %d route attributes", TB_MAX_ROUTES);
		memcpy(&routes[(*nroutes)++], attr_payload(a),
		    sizeof(routes[0]));
	}
	copy_string(bridge, TB_IFNAME_MAX, tb_msg_string(msg, TB_ATTR_BRIDGE));
	if (tb_msg_has(msg, TB_ATTR_BRIDGE) && bridge[0] == '\0')
		return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
		    "bridge is empty");
	*queues = tb_msg_u32(msg, TB_ATTR_QUEUES);
	if (tb_msg_has(msg, TB_ATTR_QUEUES) &&
	    (*queues == 0 || *queues > TB_MAX_QUEUES))
		return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
		    "queues %u is outside 1 to %d", *queues, TB_MAX_QUEUES);
	*vnet_hdr = tb_msg_u32(msg, TB_ATTR_VNET_HDR);
	if (tb_msg_has(msg, TB_ATTR_VNET_HDR) &&
	    *vnet_hdr != TB_VNET_HDR_SIZE && *vnet_hdr != TB_VNET_HDR_SIZE_MRG)
		return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
		    "vnet-hdr %u is neither %d nor %d", *vnet_hdr,
		    TB_VNET_HDR_SIZE, TB_VNET_HDR_SIZE_MRG);
	*offload = tb_msg_u32(msg, TB_ATTR_OFFLOAD);
	if ((*offload & ~TB_OFFLOAD_ALL) != 0)
		return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
		    "offload %s has unknown bits 0x%x",
		    tb_offload_format(*offload, (char[TB_OFFLOAD_TEXT_MAX]){ 0 },
		    TB_OFFLOAD_TEXT_MAX), *offload & ~TB_OFFLOAD_ALL);
	*txqueuelen = tb_msg_u32(msg, TB_ATTR_TXQUEUELEN);
	if (tb_msg_has(msg, TB_ATTR_TXQUEUELEN) && *txqueuelen == 0)
		return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
		    "txqueuelen 0 is not a queue length");
	return 0;
}

/* auto-address: each of AF_INET and AF_INET6 at most once. */
static int
get_auto_addresses(const struct tb_msg *msg, struct tb_create_request *req,
    struct tb_error *err)
{
	const struct tb_attr *a = NULL;
	uint32_t family;
	bool *seen;

	while ((a = tb_msg_next(msg, TB_ATTR_AUTO_ADDRESS, a)) != NULL) {
		memcpy(&family, attr_payload(a), sizeof(family));
		if (family == AF_INET)
			seen = &req->auto_inet;
		else if (family == AF_INET6)
			seen = &req->auto_inet6;
		else
			return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
			    "auto-address family %u is neither AF_INET (%d) nor AF_INET6 (%d)",
			    family, AF_INET, AF_INET6);
		if (*seen)
			return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
			    "auto-address family %u is given twice", family);
		*seen = true;
	}
	return 0;
}

int
tb_decode_create(const struct tb_msg *msg, struct tb_create_request *req,
    struct tb_error *err)
{
	int r;

	if ((r = expect_type(msg, TB_MSG_CREATE, err)) != 0)
		return r;
	memset(req, 0, sizeof(*req));
	req->device_type = TB_DEVICE_TUN;
	if (tb_msg_has(msg, TB_ATTR_DEVICE_TYPE)) {
		req->device_type = tb_msg_u32(msg, TB_ATTR_DEVICE_TYPE);
		if (req->device_type != TB_DEVICE_TUN &&
		    req->device_type != TB_DEVICE_TAP)
			return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
			    "device-type %u is neither TUN (%u) nor TAP (%u)",
			    req->device_type, TB_DEVICE_TUN, TB_DEVICE_TAP);
	}
	copy_string(req->name, sizeof(req->name),
	    tb_msg_string(msg, TB_ATTR_IFNAME));
	if (tb_msg_has(msg, TB_ATTR_IFNAME) && req->name[0] == '\0')
		return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
		    "ifname is empty");
	req->naddrs = collect_addrs(msg, TB_ATTR_ADDRESS, req->addrs);
	if (tb_msg_has(msg, TB_ATTR_PEER)) {
		tb_attr_get_addr(msg->first[TB_ATTR_PEER], &req->peer);
		req->has_peer = true;
	}
	req->mtu = tb_msg_u32(msg, TB_ATTR_MTU);
	if (tb_msg_has(msg, TB_ATTR_MTU) && req->mtu == 0)
		return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
		    "mtu 0 is not a valid MTU");
	if ((req->has_mac = tb_msg_has(msg, TB_ATTR_MAC)))
		memcpy(req->mac, attr_payload(msg->first[TB_ATTR_MAC]),
		    TB_MAC_LEN);
	if ((r = get_device_options(msg, req->routes, &req->nroutes,
	    req->bridge, &req->queues, &req->vnet_hdr, &req->offload,
	    &req->txqueuelen, err)) != 0)
		return r;
	if ((r = get_auto_addresses(msg, req, err)) != 0)
		return r;
	if ((req->has_netns = tb_msg_has(msg, TB_ATTR_NETNS))) {
		struct tb_netns ns;

		memcpy(&ns, attr_payload(msg->first[TB_ATTR_NETNS]),
		    sizeof(ns));
		if (ns.fd_index != 0 || ns.dev != 0 || ns.ino != 0)
			return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
			    "netns must name descriptor 0 and no dev or ino");
		if (msg->nfds != 1)
			return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
			    "netns needs the namespace's descriptor with the message");
	}
	return 0;
}

int
tb_decode_created(const struct tb_msg *msg, struct tb_created_reply *rep,
    struct tb_error *err)
{
	int r;

	if ((r = expect_type(msg, TB_MSG_CREATED, err)) != 0)
		return r;
	memset(rep, 0, sizeof(*rep));
	copy_string(rep->name, sizeof(rep->name),
	    tb_msg_string(msg, TB_ATTR_IFNAME));
	rep->ifindex = tb_msg_u32(msg, TB_ATTR_IFINDEX);
	rep->mtu = tb_msg_u32(msg, TB_ATTR_MTU);
	rep->naddrs = collect_addrs(msg, TB_ATTR_ADDRESS, rep->addrs);
	if (tb_msg_has(msg, TB_ATTR_PEER)) {
		tb_attr_get_addr(msg->first[TB_ATTR_PEER], &rep->peer);
		rep->has_peer = true;
	}
	rep->fd_count = tb_msg_u32(msg, TB_ATTR_FD_COUNT);
	rep->device_type = tb_msg_u32(msg, TB_ATTR_DEVICE_TYPE);
	if ((rep->has_mac = tb_msg_has(msg, TB_ATTR_MAC)))
		memcpy(rep->mac, attr_payload(msg->first[TB_ATTR_MAC]),
		    TB_MAC_LEN);
	if ((r = get_device_options(msg, rep->routes, &rep->nroutes,
	    rep->bridge, &rep->queues, &rep->vnet_hdr, &rep->offload,
	    &rep->txqueuelen, err)) != 0)
		return r;
	if ((rep->has_netns = tb_msg_has(msg, TB_ATTR_NETNS)))
		memcpy(&rep->netns, attr_payload(msg->first[TB_ATTR_NETNS]),
		    sizeof(rep->netns));
	if (rep->fd_count != msg->nfds)
		return reject(err, -EBADMSG, TB_DECODE_BAD_VALUE,
		    "reply announces %u descriptors but carried %zu",
		    rep->fd_count, msg->nfds);
	/* A multi-queue device comes with one descriptor per queue. */
	if (rep->queues != 0 && rep->fd_count != rep->queues)
		return reject(err, -EBADMSG, TB_DECODE_BAD_VALUE,
		    "reply describes %u queues but announces %u descriptors",
		    rep->queues, rep->fd_count);
	return 0;
}

int
tb_decode_status_reply(const struct tb_msg *msg, struct tb_status_reply *rep,
    struct tb_error *err)
{
	int r;

	if ((r = expect_type(msg, TB_MSG_STATUS_REPLY, err)) != 0)
		return r;
	memset(rep, 0, sizeof(*rep));
	copy_string(rep->broker_version, sizeof(rep->broker_version),
	    tb_msg_string(msg, TB_ATTR_BROKER_VERSION));
	rep->proto_version = tb_msg_u32(msg, TB_ATTR_PROTO_VERSION);
	return 0;
}

int
tb_decode_error(const struct tb_msg *msg, struct tb_error *out)
{
	int32_t code;
	int r;

	if ((r = expect_type(msg, TB_MSG_ERROR, out)) != 0)
		return r;
	code = tb_msg_i32(msg, TB_ATTR_ERRNO);
	/* A peer's idea of an errno is only trusted when it is one. */
	if (code >= 0 || code < -4095)
		code = -EPROTO;
	out->code = code;
	out->detail = 0;
	copy_string(out->text, sizeof(out->text),
	    tb_msg_string(msg, TB_ATTR_ERROR_TEXT));
	return code;
}

int
tb_encode_release(struct tb_builder *b, uint8_t type, uint32_t seq,
    const char *name)
{
	int r;

	if ((r = tb_builder_init(b, type, seq)) != 0)
		return r;
	tb_builder_put_string(b, TB_ATTR_IFNAME, name);
	return finish(b);
}

int
tb_encode_leases(struct tb_builder *b, uint32_t seq,
    const struct tb_lease *leases, size_t n, uint32_t cursor)
{
	struct tb_lease one;
	size_t i;
	int r;

	if (n > TB_MAX_LEASES) {
		memset(b, 0, sizeof(*b));
		return -E2BIG;
	}
	if ((r = tb_builder_init(b, TB_MSG_LEASES, seq)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		/* Zero what follows the name: no stray bytes on the wire. */
		memset(&one, 0, sizeof(one));
		one.ifindex = leases[i].ifindex;
		one.uid = leases[i].uid;
		copy_string(one.name, sizeof(one.name), leases[i].name);
		tb_builder_put(b, TB_ATTR_LEASE, &one, sizeof(one));
	}
	if (cursor != 0)
		tb_builder_put_u32(b, TB_ATTR_CURSOR, cursor);
	return finish(b);
}

int
tb_decode_release(const struct tb_msg *msg, char name[TB_IFNAME_MAX],
    struct tb_error *err)
{
	if (msg->hdr.type != TB_MSG_RELEASE && msg->hdr.type != TB_MSG_RELEASED)
		return expect_type(msg, TB_MSG_RELEASE, err);
	copy_string(name, TB_IFNAME_MAX, tb_msg_string(msg, TB_ATTR_IFNAME));
	if (name[0] == '\0')
		return reject(err, -EINVAL, TB_DECODE_BAD_VALUE,
		    "ifname is empty");
	return 0;
}

int
tb_decode_leases(const struct tb_msg *msg, struct tb_lease *leases,
    size_t max, size_t *n, struct tb_error *err)
{
	const struct tb_attr *a = NULL;
	int r;

	*n = 0;
	if ((r = expect_type(msg, TB_MSG_LEASES, err)) != 0)
		return r;
	while (*n < max && (a = tb_msg_next(msg, TB_ATTR_LEASE, a)) != NULL) {
		memcpy(&leases[*n], attr_payload(a), sizeof(leases[*n]));
		(*n)++;
	}
	return 0;
}
