/*
 * Writes the seed corpus of fuzz_decode: valid messages of every type and
 * near-valid ones that each break one rule of the decoder.  Each file is
 * one byte of descriptor count, then the datagram (see fuzz_decode.c).
 * The seeds are committed; run this again only to change them:
 *
 *   cc -Isrc/proto -o /tmp/make-seeds fuzz/make-seeds.c \
 *       src/proto/codec.c src/proto/addr.c src/proto/error.c
 *   /tmp/make-seeds fuzz/corpus/decode
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static const char *outdir;

static void
write_seed(const char *name, uint8_t nfds, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(&nfds, 1, 1, f) != 1 ||
	    (len > 0 && fwrite(buf, len, 1, f) != 1) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Writes what b holds and releases it. */
static void
write_built(const char *name, uint8_t nfds, struct tb_builder *b)
{
	if (tb_builder_finish(b) != 0) {
		fprintf(stderr, "make-seeds: %s: cannot build\n", name);
		exit(1);
	}
	write_seed(name, nfds, b->buf, b->len);
	tb_builder_release(b);
}

static void
start(struct tb_builder *b, uint8_t type)
{
	if (tb_builder_init(b, type, 7) != 0)
		exit(1);
}

static struct tb_addr
addr(int family, const char *text, uint8_t prefixlen)
{
	struct tb_addr a;

	memset(&a, 0, sizeof(a));
	a.family = (uint8_t)family;
	a.prefixlen = prefixlen;
	if (inet_pton(family, text, a.addr) != 1)
		exit(1);
	return a;
}

/* Patches the header field at off of the message b holds. */
static void
patch(struct tb_builder *b, size_t off, const void *val, size_t len)
{
	memcpy(b->buf + off, val, len);
}

static void
simple_messages(void)
{
	static const struct { const char *name; uint8_t type; } simple[] = {
		{ "ping", TB_MSG_PING }, { "status", TB_MSG_STATUS },
		{ "list", TB_MSG_LIST }, { "release-any", TB_MSG_RELEASE },
		{ "pong", TB_MSG_PONG }, { "leases", TB_MSG_LEASES },
		{ "released", TB_MSG_RELEASED },
	};
	struct tb_builder b;
	size_t i;

	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		start(&b, simple[i].type);
		write_built(simple[i].name, 0, &b);
	}
	start(&b, TB_MSG_RELEASE);
	tb_builder_put_string(&b, TB_ATTR_IFNAME, "tb0");
	write_built("release-tb0", 0, &b);
	start(&b, TB_MSG_PING);
	write_built("bad-ping-with-fd", 1, &b);
}

static void
create_messages(void)
{
	struct tb_create_request req;
	struct tb_addr v4 = addr(AF_INET, "198.18.0.1", 24);
	struct tb_addr v6 = addr(AF_INET6, "2001:db8::1", 64);
	struct tb_addr bad;
	struct tb_builder b;
	uint32_t zero = 0;
	size_t i;

	memset(&req, 0, sizeof(req));
	if (tb_encode_create(&b, 1, &req) != 0)
		exit(1);
	write_built("create-empty", 0, &b);

	req.device_type = TB_DEVICE_TUN;
	snprintf(req.name, sizeof(req.name), "vpn%%d");
	req.addrs[0] = v4;
	req.addrs[1] = v6;
	req.naddrs = 2;
	req.peer = addr(AF_INET, "198.18.0.2", 32);
	req.has_peer = true;
	req.mtu = 1400;
	if (tb_encode_create(&b, 2, &req) != 0)
		exit(1);
	write_built("create-full", 0, &b);

	req.device_type = TB_DEVICE_TAP;
	snprintf(req.name, sizeof(req.name), "tap-fifteen-chr");
	req.naddrs = TB_MAX_ADDRESSES;
	for (i = 0; i < req.naddrs; i++)
		req.addrs[i] = (i % 2) ? v6 : v4;
	req.has_peer = false;
	if (tb_encode_create(&b, 3, &req) != 0)
		exit(1);
	write_built("create-tap-64-addrs", 0, &b);

	/* Every device option at once, and the namespace descriptor. */
	memset(&req, 0, sizeof(req));
	req.device_type = TB_DEVICE_TAP;
	req.has_mac = true;
	memcpy(req.mac, "\x02\x00\x5e\x10\x00\x01", TB_MAC_LEN);
	req.routes[0].dst = addr(AF_INET, "0.0.0.0", 0);
	req.routes[1].dst = addr(AF_INET6, "2001:db8:5::", 48);
	req.routes[1].metric = 7;
	req.nroutes = 2;
	snprintf(req.bridge, sizeof(req.bridge), "br0");
	req.queues = 4;
	req.vnet_hdr = TB_VNET_HDR_SIZE_MRG;
	req.offload = TB_OFFLOAD_CSUM | TB_OFFLOAD_TSO4 | TB_OFFLOAD_TSO6;
	req.txqueuelen = 1000;
	req.has_netns = true;
	req.auto_inet = req.auto_inet6 = true;
	if (tb_encode_create(&b, 4, &req) != 0)
		exit(1);
	write_built("create-options-netns", 1, &b);

	/* One rule broken at a time. */
	start(&b, TB_MSG_CREATE);
	for (i = 0; i <= TB_MAX_ADDRESSES; i++)
		tb_builder_put_addr(&b, TB_ATTR_ADDRESS, &v4);
	write_built("bad-create-65-addrs", 0, &b);
	start(&b, TB_MSG_CREATE);
	tb_builder_put_u32(&b, TB_ATTR_DEVICE_TYPE, 3);
	write_built("bad-create-type-3", 0, &b);
	start(&b, TB_MSG_CREATE);
	tb_builder_put_u32(&b, TB_ATTR_MTU, 0);
	write_built("bad-create-mtu-0", 0, &b);
	start(&b, TB_MSG_CREATE);
	tb_builder_put_u32(&b, TB_ATTR_MTU, 1280);
	tb_builder_put_u32(&b, TB_ATTR_MTU, 1500);
	write_built("bad-create-mtu-twice", 0, &b);
	start(&b, TB_MSG_CREATE);
	tb_builder_put(&b, TB_ATTR_MTU, &zero, 2);
	write_built("bad-create-mtu-short", 0, &b);
	start(&b, TB_MSG_CREATE);
	tb_builder_put_string(&b, TB_ATTR_IFNAME, "");
	write_built("bad-create-ifname-empty", 0, &b);
	start(&b, TB_MSG_CREATE);
	tb_builder_put(&b, TB_ATTR_IFNAME, "tun0", 4);
	write_built("bad-create-ifname-unterminated", 0, &b);
	start(&b, TB_MSG_CREATE);
	tb_builder_put(&b, TB_ATTR_IFNAME, "tu\0n0", 6);
	write_built("bad-create-ifname-inner-nul", 0, &b);
	start(&b, TB_MSG_CREATE);
	tb_builder_put_string(&b, TB_ATTR_IFNAME, "sixteen-chars-xx");
	write_built("bad-create-ifname-long", 0, &b);
	start(&b, TB_MSG_CREATE);
	bad = v4;
	bad.prefixlen = 33;
	tb_builder_put_addr(&b, TB_ATTR_ADDRESS, &bad);
	write_built("bad-create-prefix-33", 0, &b);
	start(&b, TB_MSG_CREATE);
	bad = v4;
	bad.family = 7;
	tb_builder_put_addr(&b, TB_ATTR_PEER, &bad);
	write_built("bad-create-peer-family", 0, &b);
	start(&b, TB_MSG_CREATE);
	bad = v4;
	bad.reserved[1] = 1;
	tb_builder_put_addr(&b, TB_ATTR_ADDRESS, &bad);
	write_built("bad-create-addr-reserved", 0, &b);
	start(&b, TB_MSG_CREATE);
	bad = v4;
	bad.addr[15] = 1;
	tb_builder_put_addr(&b, TB_ATTR_ADDRESS, &bad);
	write_built("bad-create-addr-padding", 0, &b);
	start(&b, TB_MSG_CREATE);
	tb_builder_put_u32(&b, 200 | TB_ATTR_F_OPTIONAL, 1);
	tb_builder_put_u32(&b, TB_ATTR_MTU, 1500);
	write_built("create-optional-unknown", 0, &b);
	start(&b, TB_MSG_CREATE);
	tb_builder_put_u32(&b, 200, 1);
	write_built("bad-create-unknown-attr", 0, &b);
	start(&b, TB_MSG_CREATE);
	tb_builder_put_u32(&b, TB_ATTR_IFINDEX, 1);
	write_built("bad-create-wrong-attr", 0, &b);
	start(&b, TB_MSG_CREATE);
	tb_builder_put_u32(&b, TB_ATTR_UNSPEC | TB_ATTR_F_OPTIONAL, 1);
	write_built("bad-create-unspec", 0, &b);
}

static void
reply_messages(void)
{
	struct tb_created_reply created;
	struct tb_status_reply status;
	struct tb_error e;
	struct tb_builder b;

	memset(&created, 0, sizeof(created));
	snprintf(created.name, sizeof(created.name), "tb0");
	created.ifindex = 42;
	created.mtu = 1500;
	created.addrs[0] = addr(AF_INET6, "fd00::1", 128);
	created.naddrs = 1;
	created.peer = addr(AF_INET6, "fd00::2", 128);
	created.has_peer = true;
	created.fd_count = 1;
	if (tb_encode_created(&b, 2, &created) != 0)
		exit(1);
	write_seed("bad-created-fd-count", 0, b.buf, b.len);
	write_built("created", 1, &b);
	created.fd_count = 4;
	if (tb_encode_created(&b, 2, &created) != 0)
		exit(1);
	write_built("created-4-queues", 4, &b);
	created.device_type = TB_DEVICE_TAP;
	created.has_mac = true;
	memcpy(created.mac, "\x02\x00\x5e\x10\x00\x01", TB_MAC_LEN);
	created.routes[0].dst = addr(AF_INET, "198.18.8.0", 24);
	created.routes[0].metric = 7;
	created.nroutes = 1;
	snprintf(created.bridge, sizeof(created.bridge), "br0");
	created.queues = 4;
	created.vnet_hdr = TB_VNET_HDR_SIZE;
	created.offload = TB_OFFLOAD_CSUM;
	created.txqueuelen = 500;
	created.has_netns = true;
	created.netns.dev = 4;
	created.netns.ino = 4026531840u;
	if (tb_encode_created(&b, 2, &created) != 0)
		exit(1);
	write_built("created-tap-options", 4, &b);
	start(&b, TB_MSG_CREATED);
	tb_builder_put_string(&b, TB_ATTR_IFNAME, "tb0");
	write_built("bad-created-missing", 0, &b);

	memset(&status, 0, sizeof(status));
	snprintf(status.broker_version, sizeof(status.broker_version),
	    "0.1.0");
	status.proto_version = TB_PROTO_VERSION;
	if (tb_encode_status_reply(&b, 3, &status) != 0)
		exit(1);
	write_built("status-reply", 0, &b);

	tb_error_set(&e, -EPERM, "device name \"x\" refused by rule vpn "
	    "(/etc/tunbrokerd.conf:3)");
	if (tb_encode_error(&b, 4, &e) != 0)
		exit(1);
	write_built("error", 0, &b);
	start(&b, TB_MSG_ERROR);
	tb_builder_put_i32(&b, TB_ATTR_ERRNO, 5);
	tb_builder_put_string(&b, TB_ATTR_ERROR_TEXT, "");
	write_built("error-positive-errno", 0, &b);
}

/* Header faults, each on an otherwise valid PING or CREATE. */
static void
header_faults(void)
{
	struct tb_builder b;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8;

	start(&b, TB_MSG_PING);
	write_seed("bad-short-header", 0, b.buf, TB_HEADER_SIZE - 1);
	u32 = 0x54424e52;
	patch(&b, offsetof(struct tb_header, magic), &u32, 4);
	write_built("bad-magic", 0, &b);
	start(&b, TB_MSG_PING);
	u8 = 2;
	patch(&b, offsetof(struct tb_header, version), &u8, 1);
	write_built("bad-version", 0, &b);
	start(&b, TB_MSG_PING);
	u16 = 1;
	patch(&b, offsetof(struct tb_header, flags), &u16, 2);
	write_built("bad-flags", 0, &b);
	start(&b, 99);
	write_built("bad-type-99", 0, &b);
	start(&b, 0);
	write_built("bad-type-0", 0, &b);

	start(&b, TB_MSG_RELEASE);
	tb_builder_put_string(&b, TB_ATTR_IFNAME, "tb0");
	if (tb_builder_finish(&b) != 0)
		exit(1);
	u32 = (uint32_t)b.len + 4;
	patch(&b, offsetof(struct tb_header, length), &u32, 4);
	write_seed("bad-length-mismatch", 0, b.buf, b.len);
	/* The attribute claims more than the message holds. */
	u32 = (uint32_t)b.len;
	patch(&b, offsetof(struct tb_header, length), &u32, 4);
	u16 = 64;
	patch(&b, TB_HEADER_SIZE, &u16, 2);
	write_seed("bad-attr-overrun", 0, b.buf, b.len);
	u16 = 2;
	patch(&b, TB_HEADER_SIZE, &u16, 2);
	write_seed("bad-attr-len-2", 0, b.buf, b.len);
	tb_builder_release(&b);

	/* Two stray bytes after the last attribute. */
	start(&b, TB_MSG_STATUS);
	tb_builder_put(&b, TB_ATTR_UNSPEC, NULL, 0);
	if (tb_builder_finish(&b) != 0)
		exit(1);
	u32 = (uint32_t)b.len - 2;
	patch(&b, offsetof(struct tb_header, length), &u32, 4);
	write_seed("bad-stray-bytes", 0, b.buf, b.len - 2);
	tb_builder_release(&b);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make-seeds DIRECTORY\n");
		return 2;
	}
	outdir = argv[1];
	write_seed("empty", 0, NULL, 0);
	simple_messages();
	create_messages();
	reply_messages();
	header_faults();
	return 0;
}
