/*
 * The wire codec and address text: every kind of malformed message is
 * refused with its own detail code, an errno and a sentence naming the
 * offending field; every encoder round-trips through its decoder.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "codec.h"
#include "testlib.h"

/*
 * A message written byte by byte, so that malformed cases are exactly what
 * they claim to be: nothing here fixes lengths or padding behind the test.
 */
struct raw {
	uint8_t buf[4096];
	size_t len;
};

static void
raw_bytes(struct raw *r, const void *data, size_t len)
{
	ck_assert_uint_le(r->len + len, sizeof(r->buf));
	if (len > 0)
		memcpy(r->buf + r->len, data, len);
	r->len += len;
}

static void
raw_u8(struct raw *r, uint8_t v)
{
	raw_bytes(r, &v, sizeof(v));
}

static void
raw_u16(struct raw *r, uint16_t v)
{
	raw_bytes(r, &v, sizeof(v));
}

static void
raw_u32(struct raw *r, uint32_t v)
{
	raw_bytes(r, &v, sizeof(v));
}

/* Starts r with a header of every field given; length is sealed later. */
static void
raw_header_full(struct raw *r, uint32_t magic, uint8_t version, uint8_t type,
    uint16_t flags, uint32_t seq)
{
	memset(r, 0, sizeof(*r));
	raw_u32(r, magic);
	raw_u8(r, version);
	raw_u8(r, type);
	raw_u16(r, flags);
	raw_u32(r, seq);
	raw_u32(r, 0);
}

static void
raw_header(struct raw *r, uint8_t type)
{
	raw_header_full(r, TB_PROTO_MAGIC, TB_PROTO_VERSION, type, 0, 7);
}

/*
 * Appends an attribute whose len field is len_field, with the payload
 * given and zero padding to 4 bytes after the payload.
 */
static void
raw_attr_len(struct raw *r, uint16_t len_field, uint16_t type,
    const void *payload, size_t payload_len)
{
	static const uint8_t zeros[4];

	raw_u16(r, len_field);
	raw_u16(r, type);
	raw_bytes(r, payload, payload_len);
	raw_bytes(r, zeros, TB_ALIGN(payload_len) - payload_len);
}

static void
raw_attr(struct raw *r, uint16_t type, const void *payload, size_t len)
{
	raw_attr_len(r, (uint16_t)(TB_ATTR_HEADER_SIZE + len), type, payload,
	    len);
}

static void
raw_attr_u32(struct raw *r, uint16_t type, uint32_t v)
{
	raw_attr(r, type, &v, sizeof(v));
}

static void
raw_attr_string(struct raw *r, uint16_t type, const char *s)
{
	raw_attr(r, type, s, strlen(s) + 1);
}

static void
raw_attr_addr(struct raw *r, uint16_t type, const struct tb_addr *a)
{
	raw_attr(r, type, a, sizeof(*a));
}

/* Writes length into the header: what the datagram size should be. */
static void
raw_set_length(struct raw *r, uint32_t length)
{
	memcpy(r->buf + offsetof(struct tb_header, length), &length,
	    sizeof(length));
}

static void
raw_seal(struct raw *r)
{
	raw_set_length(r, (uint32_t)r->len);
}

/* Parses and asserts the exact errno, detail and a word of the sentence. */
#define ck_assert_rejected(buf, len, nfds, ecode, edetail, word) do {	\
	struct tb_msg m_;						\
	struct tb_error e_;						\
	int r_;								\
									\
	memset(&e_, 0, sizeof(e_));					\
	r_ = tb_msg_parse(&m_, (buf), (len), (nfds), &e_);		\
	ck_assert_msg(r_ == (ecode),					\
	    "tb_msg_parse returned %d, expected %d (%s)", r_, (ecode),	\
	    e_.text);							\
	ck_assert_int_eq(e_.code, (ecode));				\
	ck_assert_msg(e_.detail == (edetail),				\
	    "detail %d, expected %d (%s)", e_.detail, (int)(edetail),	\
	    e_.text);							\
	ck_assert_msg(strstr(e_.text, (word)) != NULL,			\
	    "error text \"%s\" does not name \"%s\"", e_.text, (word));\
} while (0)

#define ck_assert_raw_rejected(r, nfds, ecode, edetail, word)		\
	ck_assert_rejected((r)->buf, (r)->len, (nfds), (ecode), (edetail), \
	    (word))

/* Parses what must be accepted and fails with the sentence otherwise. */
static void
parse_ok(struct tb_msg *msg, const void *buf, size_t len, size_t nfds)
{
	struct tb_error err;
	int r;

	memset(&err, 0, sizeof(err));
	r = tb_msg_parse(msg, buf, len, nfds, &err);
	ck_assert_msg(r == 0, "tb_msg_parse: %d (detail %d): %s", r,
	    err.detail, err.text);
}

static struct tb_addr
addr_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t prefixlen)
{
	struct tb_addr addr;

	memset(&addr, 0, sizeof(addr));
	addr.family = AF_INET;
	addr.prefixlen = prefixlen;
	addr.addr[0] = a;
	addr.addr[1] = b;
	addr.addr[2] = c;
	addr.addr[3] = d;
	return addr;
}

/* 2001:db8::<last>/prefixlen */
static struct tb_addr
addr_v6(uint8_t last, uint8_t prefixlen)
{
	struct tb_addr addr;

	memset(&addr, 0, sizeof(addr));
	addr.family = AF_INET6;
	addr.prefixlen = prefixlen;
	addr.addr[0] = 0x20;
	addr.addr[1] = 0x01;
	addr.addr[2] = 0x0d;
	addr.addr[3] = 0xb8;
	addr.addr[15] = last;
	return addr;
}

static void
assert_addr_eq(const struct tb_addr *a, const struct tb_addr *b)
{
	ck_assert_uint_eq(a->family, b->family);
	ck_assert_uint_eq(a->prefixlen, b->prefixlen);
	ck_assert_mem_eq(a->reserved, b->reserved, sizeof(a->reserved));
	ck_assert_mem_eq(a->addr, b->addr, sizeof(a->addr));
}

/* --- the header */

START_TEST(test_short_header)
{
	uint8_t buf[TB_HEADER_SIZE];
	struct tb_msg msg;
	struct tb_error err;

	memset(buf, 0, sizeof(buf));
	ck_assert_rejected(buf, 0, 0, -EBADMSG, TB_DECODE_SHORT_HEADER,
	    "0 bytes");
	ck_assert_rejected(buf, TB_HEADER_SIZE - 1, 0, -EBADMSG,
	    TB_DECODE_SHORT_HEADER, "15 bytes");
	/* Too short to read a sequence number to echo. */
	ck_assert_int_eq(tb_msg_parse(&msg, buf, 15, 0, &err), -EBADMSG);
	ck_assert(!msg.header_ok);
}
END_TEST

START_TEST(test_bad_magic)
{
	struct raw r;
	struct tb_msg msg;
	struct tb_error err;

	raw_header_full(&r, 0x12345678u, TB_PROTO_VERSION, TB_MSG_PING, 0,
	    4242);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EPROTO, TB_DECODE_BAD_MAGIC,
	    "0x12345678");
	/* The header was readable: a reply can echo its seq. */
	ck_assert_int_eq(tb_msg_parse(&msg, r.buf, r.len, 0, &err), -EPROTO);
	ck_assert(msg.header_ok);
	ck_assert_uint_eq(msg.hdr.seq, 4242);

	/* The magic in the other byte order is just as wrong. */
	raw_header_full(&r, __builtin_bswap32(TB_PROTO_MAGIC),
	    TB_PROTO_VERSION, TB_MSG_PING, 0, 1);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EPROTO, TB_DECODE_BAD_MAGIC, "magic");
}
END_TEST

START_TEST(test_unsupported_version)
{
	struct raw r;

	raw_header_full(&r, TB_PROTO_MAGIC, 2, TB_MSG_PING, 0, 1);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EPROTONOSUPPORT,
	    TB_DECODE_BAD_VERSION, "version 2");

	raw_header_full(&r, TB_PROTO_MAGIC, 0, TB_MSG_PING, 0, 1);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EPROTONOSUPPORT,
	    TB_DECODE_BAD_VERSION, "version 0");
}
END_TEST

START_TEST(test_length_bigger_than_datagram)
{
	struct raw r;

	raw_header(&r, TB_MSG_PING);
	raw_set_length(&r, 20);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_LENGTH_MISMATCH,
	    "20");
}
END_TEST

START_TEST(test_length_smaller_than_datagram)
{
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_u32(&r, TB_ATTR_MTU, 1400);
	raw_set_length(&r, TB_HEADER_SIZE);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_LENGTH_MISMATCH,
	    "24");
}
END_TEST

START_TEST(test_too_big)
{
	const size_t len = TB_MSG_MAX_SIZE + 1;
	struct tb_header hdr = {
		.magic = TB_PROTO_MAGIC,
		.version = TB_PROTO_VERSION,
		.type = TB_MSG_PING,
		.length = TB_MSG_MAX_SIZE + 1,
	};
	uint8_t *buf = calloc(1, len);

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, &hdr, sizeof(hdr));
	ck_assert_rejected(buf, len, 0, -EMSGSIZE, TB_DECODE_TOO_BIG,
	    "65537");
	free(buf);
}
END_TEST

/* The largest message there can be is accepted whole. */
START_TEST(test_max_size_accepted)
{
	const size_t payload = TB_MSG_MAX_SIZE - TB_HEADER_SIZE -
	    TB_ATTR_HEADER_SIZE;
	struct tb_header hdr = {
		.magic = TB_PROTO_MAGIC,
		.version = TB_PROTO_VERSION,
		.type = TB_MSG_PING,
		.length = TB_MSG_MAX_SIZE,
	};
	struct tb_attr attr = {
		.len = (uint16_t)(TB_ATTR_HEADER_SIZE + payload),
		.type = 999 | TB_ATTR_F_OPTIONAL,
	};
	uint8_t *buf = calloc(1, TB_MSG_MAX_SIZE);
	struct tb_msg msg;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), &attr, sizeof(attr));
	parse_ok(&msg, buf, TB_MSG_MAX_SIZE, 0);
	ck_assert_uint_eq(msg.hdr.length, TB_MSG_MAX_SIZE);
	free(buf);
}
END_TEST

START_TEST(test_bad_flags)
{
	struct raw r;

	raw_header_full(&r, TB_PROTO_MAGIC, TB_PROTO_VERSION, TB_MSG_PING, 1,
	    1);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_BAD_FLAGS,
	    "0x0001");

	raw_header_full(&r, TB_PROTO_MAGIC, TB_PROTO_VERSION, TB_MSG_PING,
	    0x8000, 1);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_BAD_FLAGS,
	    "0x8000");
}
END_TEST

START_TEST(test_unknown_type)
{
	struct raw r;

	raw_header(&r, 200);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_UNKNOWN_TYPE,
	    "200");

	/* Inside the request range but never assigned. */
	raw_header(&r, 6);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_UNKNOWN_TYPE,
	    "type 6");

	raw_header(&r, 0);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_UNKNOWN_TYPE,
	    "type 0");

	raw_header(&r, TB_MSG_TYPE_MAX);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_UNKNOWN_TYPE,
	    "127");
}
END_TEST

/* --- attributes */

START_TEST(test_attr_len_beyond_message)
{
	struct raw r;
	uint32_t mtu = 1400;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_len(&r, 100, TB_ATTR_MTU, &mtu, sizeof(mtu));
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_OVERRUN,
	    "100");

	/* One byte too many, hidden by the padding it would need. */
	raw_header(&r, TB_MSG_CREATE);
	raw_attr_len(&r, 9, TB_ATTR_MTU, &mtu, sizeof(mtu));
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_OVERRUN,
	    "9 bytes");
}
END_TEST

START_TEST(test_attr_len_below_header)
{
	struct raw r;
	uint32_t mtu = 1400;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_len(&r, 3, TB_ATTR_MTU, &mtu, sizeof(mtu));
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_OVERRUN,
	    "claims 3 bytes");

	/* len 0 must not make the parser spin in place. */
	raw_header(&r, TB_MSG_CREATE);
	raw_attr_len(&r, 0, TB_ATTR_MTU, &mtu, sizeof(mtu));
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_OVERRUN,
	    "claims 0 bytes");
}
END_TEST

START_TEST(test_attr_trailing_bytes)
{
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_u32(&r, TB_ATTR_MTU, 1400);
	raw_u16(&r, 0);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_OVERRUN,
	    "2 stray bytes");
}
END_TEST

START_TEST(test_string_unterminated)
{
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr(&r, TB_ATTR_IFNAME, "tun0", 4);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_UNTERMINATED,
	    "ifname");

	/* No payload at all is not even the empty string. */
	raw_header(&r, TB_MSG_CREATE);
	raw_attr(&r, TB_ATTR_IFNAME, NULL, 0);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_UNTERMINATED,
	    "ifname");
}
END_TEST

START_TEST(test_string_embedded_nul)
{
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr(&r, TB_ATTR_IFNAME, "tu\0n0", 6);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_UNTERMINATED,
	    "ifname");

	raw_header(&r, TB_MSG_ERROR);
	raw_attr_u32(&r, TB_ATTR_ERRNO, (uint32_t)-EPERM);
	raw_attr(&r, TB_ATTR_ERROR_TEXT, "no\0\0", 4);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_UNTERMINATED,
	    "error-text");
}
END_TEST

START_TEST(test_attr_wrong_size)
{
	struct tb_addr addr = addr_v4(198, 18, 0, 1, 24);
	uint8_t eight[8] = { 0 };
	struct raw r;
	struct tb_msg msg;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr(&r, TB_ATTR_MTU, "\xdc\x05\x00", 3);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_SIZE, "mtu");

	raw_header(&r, TB_MSG_CREATE);
	raw_attr(&r, TB_ATTR_MTU, eight, sizeof(eight));
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_SIZE, "mtu");

	raw_header(&r, TB_MSG_ERROR);
	raw_attr(&r, TB_ATTR_ERRNO, "\xff\xff", 2);
	raw_attr_string(&r, TB_ATTR_ERROR_TEXT, "x");
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_SIZE, "errno");

	raw_header(&r, TB_MSG_CREATE);
	raw_attr(&r, TB_ATTR_ADDRESS, &addr, sizeof(addr) - 1);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_SIZE,
	    "address");

	/* 16 characters and the NUL do not fit IFNAMSIZ... */
	raw_header(&r, TB_MSG_CREATE);
	raw_attr_string(&r, TB_ATTR_IFNAME, "abcdefghijklmnop");
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_SIZE,
	    "ifname");

	/* ...15 do. */
	raw_header(&r, TB_MSG_CREATE);
	raw_attr_string(&r, TB_ATTR_IFNAME, "abcdefghijklmno");
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, 0);
	ck_assert_str_eq(tb_msg_string(&msg, TB_ATTR_IFNAME),
	    "abcdefghijklmno");
}
END_TEST

START_TEST(test_attr_repeated)
{
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_string(&r, TB_ATTR_IFNAME, "tun0");
	raw_attr_u32(&r, TB_ATTR_MTU, 1400);
	raw_attr_string(&r, TB_ATTR_IFNAME, "tun1");
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_REPEATED, "ifname");

	/* The optional bit does not make a known attribute repeatable. */
	raw_header(&r, TB_MSG_CREATE);
	raw_attr_u32(&r, TB_ATTR_MTU, 1400);
	raw_attr_u32(&r, TB_ATTR_MTU | TB_ATTR_F_OPTIONAL, 1500);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_REPEATED, "mtu");
}
END_TEST

START_TEST(test_attr_unknown_mandatory)
{
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_string(&r, TB_ATTR_IFNAME, "tun0");
	raw_attr_u32(&r, 999, 1);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EOPNOTSUPP, TB_DECODE_UNKNOWN_ATTR,
	    "999");

	/* Type 0 is never valid. */
	raw_header(&r, TB_MSG_PING);
	raw_attr_u32(&r, TB_ATTR_UNSPEC, 1);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EOPNOTSUPP, TB_DECODE_UNKNOWN_ATTR,
	    "(0)");
}
END_TEST

START_TEST(test_attr_unknown_optional_skipped)
{
	struct tb_create_request req;
	struct tb_error err;
	struct tb_msg msg;
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_string(&r, TB_ATTR_IFNAME, "tun0");
	raw_attr(&r, 999 | TB_ATTR_F_OPTIONAL, "whatever", 9);
	raw_attr_u32(&r, TB_ATTR_MTU, 1400);
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, 0);
	ck_assert(!tb_msg_has(&msg, 999));
	ck_assert_int_eq(tb_decode_create(&msg, &req, &err), 0);
	ck_assert_str_eq(req.name, "tun0");
	ck_assert_uint_eq(req.mtu, 1400);
	ck_assert_uint_eq(req.device_type, TB_DEVICE_TUN);

	/* A later broker's extra reply attribute does not break a client. */
	raw_header(&r, TB_MSG_PONG);
	raw_attr_u32(&r, 1234 | TB_ATTR_F_OPTIONAL, 5);
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, 0);
}
END_TEST

START_TEST(test_attr_not_allowed_here)
{
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_string(&r, TB_ATTR_IFNAME, "tun0");
	raw_attr_u32(&r, TB_ATTR_ERRNO, (uint32_t)-EPERM);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EOPNOTSUPP, TB_DECODE_UNKNOWN_ATTR,
	    "errno");
	ck_assert_raw_rejected(&r, 0, -EOPNOTSUPP, TB_DECODE_UNKNOWN_ATTR,
	    "CREATE");

	/* PING takes no attributes at all. */
	raw_header(&r, TB_MSG_PING);
	raw_attr_string(&r, TB_ATTR_IFNAME, "tun0");
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EOPNOTSUPP, TB_DECODE_UNKNOWN_ATTR,
	    "ifname");
}
END_TEST

START_TEST(test_attr_missing_required)
{
	struct raw r;

	raw_header(&r, TB_MSG_CREATED);
	raw_attr_string(&r, TB_ATTR_IFNAME, "tun0");
	raw_attr_u32(&r, TB_ATTR_MTU, 1500);
	raw_attr_u32(&r, TB_ATTR_FD_COUNT, 1);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 1, -EINVAL, TB_DECODE_MISSING_ATTR,
	    "ifindex");

	raw_header(&r, TB_MSG_ERROR);
	raw_attr_string(&r, TB_ATTR_ERROR_TEXT, "no");
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EINVAL, TB_DECODE_MISSING_ATTR,
	    "errno");
}
END_TEST

START_TEST(test_unexpected_fds)
{
	struct tb_msg msg;
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_string(&r, TB_ATTR_IFNAME, "tun0");
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 1, -EBADMSG, TB_DECODE_UNEXPECTED_FDS,
	    "CREATE");
	ck_assert_raw_rejected(&r, 1, -EBADMSG, TB_DECODE_UNEXPECTED_FDS,
	    "descriptors");

	/* CREATED carries up to TB_MSG_MAX_FDS, not one more. */
	raw_header(&r, TB_MSG_CREATED);
	raw_attr_string(&r, TB_ATTR_IFNAME, "tun0");
	raw_attr_u32(&r, TB_ATTR_IFINDEX, 5);
	raw_attr_u32(&r, TB_ATTR_MTU, 1500);
	raw_attr_u32(&r, TB_ATTR_FD_COUNT, TB_MSG_MAX_FDS);
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, TB_MSG_MAX_FDS);
	ck_assert_raw_rejected(&r, TB_MSG_MAX_FDS + 1, -EBADMSG,
	    TB_DECODE_UNEXPECTED_FDS, "65");
}
END_TEST

START_TEST(test_address_count)
{
	struct tb_create_request req;
	struct tb_error err;
	struct tb_msg msg;
	struct tb_addr a;
	struct raw r;
	unsigned i;

	raw_header(&r, TB_MSG_CREATE);
	for (i = 0; i < TB_MAX_ADDRESSES; i++) {
		a = addr_v4(10, 0, (uint8_t)i, 1, 24);
		raw_attr_addr(&r, TB_ATTR_ADDRESS, &a);
	}
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, 0);
	ck_assert_int_eq(tb_decode_create(&msg, &req, &err), 0);
	ck_assert_uint_eq(req.naddrs, TB_MAX_ADDRESSES);
	for (i = 0; i < TB_MAX_ADDRESSES; i++) {
		a = addr_v4(10, 0, (uint8_t)i, 1, 24);
		assert_addr_eq(&req.addrs[i], &a);
	}

	a = addr_v4(10, 0, 200, 1, 24);
	raw_attr_addr(&r, TB_ATTR_ADDRESS, &a);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -E2BIG, TB_DECODE_BAD_VALUE, "address");
	ck_assert_raw_rejected(&r, 0, -E2BIG, TB_DECODE_BAD_VALUE, "64");
}
END_TEST

/* Each bad address, as ADDRESS and as PEER, is refused by name. */
static void
assert_address_refused(const struct tb_addr *bad)
{
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_addr(&r, TB_ATTR_ADDRESS, bad);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EINVAL, TB_DECODE_BAD_VALUE,
	    "address");

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_addr(&r, TB_ATTR_PEER, bad);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EINVAL, TB_DECODE_BAD_VALUE, "peer");
}

START_TEST(test_address_invalid_values)
{
	struct tb_addr a;
	struct tb_msg msg;
	struct raw r;

	a = addr_v4(198, 18, 0, 1, 24);
	a.family = 3;
	assert_address_refused(&a);
	a.family = 0;
	assert_address_refused(&a);

	a = addr_v4(198, 18, 0, 1, 33);
	assert_address_refused(&a);

	a = addr_v6(1, 129);
	assert_address_refused(&a);

	a = addr_v4(198, 18, 0, 1, 24);
	a.addr[4] = 1;
	assert_address_refused(&a);
	a = addr_v4(198, 18, 0, 1, 24);
	a.addr[15] = 0xff;
	assert_address_refused(&a);

	a = addr_v4(198, 18, 0, 1, 24);
	a.reserved[0] = 1;
	assert_address_refused(&a);
	a = addr_v6(1, 64);
	a.reserved[1] = 0x80;
	assert_address_refused(&a);

	/* The full prefix lengths are fine. */
	raw_header(&r, TB_MSG_CREATE);
	a = addr_v4(198, 18, 0, 1, 32);
	raw_attr_addr(&r, TB_ATTR_ADDRESS, &a);
	a = addr_v6(1, 128);
	raw_attr_addr(&r, TB_ATTR_ADDRESS, &a);
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, 0);
}
END_TEST

/* --- typed decoders */

START_TEST(test_decode_create_bad_values)
{
	struct tb_create_request req;
	struct tb_error err;
	struct tb_msg msg;
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_u32(&r, TB_ATTR_DEVICE_TYPE, 7);
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, 0);
	ck_assert_int_eq(tb_decode_create(&msg, &req, &err), -EINVAL);
	ck_assert_int_eq(err.detail, TB_DECODE_BAD_VALUE);
	ck_assert_ptr_nonnull(strstr(err.text, "device-type 7"));

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_u32(&r, TB_ATTR_MTU, 0);
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, 0);
	ck_assert_int_eq(tb_decode_create(&msg, &req, &err), -EINVAL);
	ck_assert_int_eq(err.detail, TB_DECODE_BAD_VALUE);
	ck_assert_ptr_nonnull(strstr(err.text, "mtu 0"));

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_string(&r, TB_ATTR_IFNAME, "");
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, 0);
	ck_assert_int_eq(tb_decode_create(&msg, &req, &err), -EINVAL);
	ck_assert_int_eq(err.detail, TB_DECODE_BAD_VALUE);
	ck_assert_ptr_nonnull(strstr(err.text, "ifname"));

	/* A decoder refuses a message of another type. */
	raw_header(&r, TB_MSG_PING);
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, 0);
	ck_assert_int_eq(tb_decode_create(&msg, &req, &err), -EBADMSG);
	ck_assert_int_eq(err.detail, TB_DECODE_UNKNOWN_TYPE);
	ck_assert_ptr_nonnull(strstr(err.text, "PING"));
}
END_TEST

START_TEST(test_decode_create_defaults)
{
	struct tb_create_request req;
	struct tb_error err;
	struct tb_msg msg;
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, 0);
	ck_assert_int_eq(tb_decode_create(&msg, &req, &err), 0);
	ck_assert_uint_eq(req.device_type, TB_DEVICE_TUN);
	ck_assert_str_eq(req.name, "");
	ck_assert_uint_eq(req.naddrs, 0);
	ck_assert(!req.has_peer);
	ck_assert_uint_eq(req.mtu, 0);
}
END_TEST

START_TEST(test_decode_created_fd_count)
{
	struct tb_created_reply rep;
	struct tb_error err;
	struct tb_msg msg;
	struct raw r;

	raw_header(&r, TB_MSG_CREATED);
	raw_attr_string(&r, TB_ATTR_IFNAME, "tun0");
	raw_attr_u32(&r, TB_ATTR_IFINDEX, 5);
	raw_attr_u32(&r, TB_ATTR_MTU, 1500);
	raw_attr_u32(&r, TB_ATTR_FD_COUNT, 2);
	raw_seal(&r);

	parse_ok(&msg, r.buf, r.len, 1);
	ck_assert_int_eq(tb_decode_created(&msg, &rep, &err), -EBADMSG);
	ck_assert_int_eq(err.detail, TB_DECODE_BAD_VALUE);
	ck_assert_ptr_nonnull(strstr(err.text, "announces 2"));
	ck_assert_ptr_nonnull(strstr(err.text, "carried 1"));

	parse_ok(&msg, r.buf, r.len, 3);
	ck_assert_int_eq(tb_decode_created(&msg, &rep, &err), -EBADMSG);
	ck_assert_int_eq(err.detail, TB_DECODE_BAD_VALUE);

	parse_ok(&msg, r.buf, r.len, 2);
	ck_assert_int_eq(tb_decode_created(&msg, &rep, &err), 0);
	ck_assert_uint_eq(rep.fd_count, 2);
}
END_TEST

/* A CREATE holding one u32 attribute, decoded: its result and sentence. */
static int
decode_create_u32(uint16_t type, uint32_t value, struct tb_error *err)
{
	struct tb_create_request req;
	struct tb_msg msg;
	struct raw r;

	raw_header(&r, TB_MSG_CREATE);
	raw_attr_u32(&r, type, value);
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, 0);
	memset(err, 0, sizeof(*err));
	return tb_decode_create(&msg, &req, err);
}

START_TEST(test_queues_vnet_hdr_offload)
{
	struct tb_create_request in, out;
	struct tb_created_reply rin, rout;
	struct tb_builder b;
	struct tb_error err;
	struct tb_msg msg;

	/* Round trips at the limits. */
	memset(&in, 0, sizeof(in));
	in.queues = TB_MAX_QUEUES;
	in.vnet_hdr = TB_VNET_HDR_SIZE_MRG;
	in.offload = TB_OFFLOAD_ALL;
	ck_assert_int_eq(tb_encode_create(&b, 5, &in), 0);
	parse_ok(&msg, b.buf, b.len, 0);
	ck_assert_int_eq(tb_decode_create(&msg, &out, &err), 0);
	ck_assert_uint_eq(out.queues, TB_MAX_QUEUES);
	ck_assert_uint_eq(out.vnet_hdr, TB_VNET_HDR_SIZE_MRG);
	ck_assert_uint_eq(out.offload, TB_OFFLOAD_ALL);
	tb_builder_release(&b);

	memset(&rin, 0, sizeof(rin));
	strcpy(rin.name, "mq0");
	rin.queues = 4;
	rin.fd_count = 4;
	rin.vnet_hdr = TB_VNET_HDR_SIZE;
	rin.offload = TB_OFFLOAD_CSUM | TB_OFFLOAD_TSO4;
	ck_assert_int_eq(tb_encode_created(&b, 6, &rin), 0);
	parse_ok(&msg, b.buf, b.len, 4);
	ck_assert_int_eq(tb_decode_created(&msg, &rout, &err), 0);
	ck_assert_uint_eq(rout.queues, 4);
	ck_assert_uint_eq(rout.fd_count, 4);
	ck_assert_uint_eq(rout.vnet_hdr, TB_VNET_HDR_SIZE);
	ck_assert_uint_eq(rout.offload, rin.offload);
	tb_builder_release(&b);
	/* FD_COUNT is the number of queues. */
	rin.fd_count = 3;
	ck_assert_int_eq(tb_encode_created(&b, 7, &rin), 0);
	parse_ok(&msg, b.buf, b.len, 3);
	ck_assert_int_eq(tb_decode_created(&msg, &rout, &err), -EBADMSG);
	ck_assert_str_eq(err.text,
	    "reply describes 4 queues but announces 3 descriptors");
	tb_builder_release(&b);

	/* Values out of range, each with its sentence. */
	ck_assert_int_eq(decode_create_u32(TB_ATTR_QUEUES, 0, &err), -EINVAL);
	ck_assert_int_eq(err.detail, TB_DECODE_BAD_VALUE);
	ck_assert_str_eq(err.text, "queues 0 is outside 1 to 16");
	ck_assert_int_eq(decode_create_u32(TB_ATTR_QUEUES, 17, &err), -EINVAL);
	ck_assert_str_eq(err.text, "queues 17 is outside 1 to 16");
	ck_assert_int_eq(decode_create_u32(TB_ATTR_QUEUES, 16, &err), 0);
	ck_assert_int_eq(decode_create_u32(TB_ATTR_VNET_HDR, 11, &err),
	    -EINVAL);
	ck_assert_str_eq(err.text, "vnet-hdr 11 is neither 10 nor 12");
	ck_assert_int_eq(decode_create_u32(TB_ATTR_VNET_HDR, 0, &err),
	    -EINVAL);
	ck_assert_int_eq(decode_create_u32(TB_ATTR_OFFLOAD, 0x41, &err),
	    -EINVAL);
	ck_assert_str_eq(err.text, "offload csum,0x40 has unknown bits 0x40");
	ck_assert_int_eq(decode_create_u32(TB_ATTR_OFFLOAD, 0x80000000u,
	    &err), -EINVAL);
	ck_assert_str_eq(err.text,
	    "offload 0x80000000 has unknown bits 0x80000000");
	ck_assert_int_eq(decode_create_u32(TB_ATTR_OFFLOAD, TB_OFFLOAD_ALL,
	    &err), 0);
}
END_TEST

START_TEST(test_offload_format)
{
	char buf[TB_OFFLOAD_TEXT_MAX];

	ck_assert_str_eq(tb_offload_format(0, buf, sizeof(buf)), "none");
	ck_assert_str_eq(tb_offload_format(TB_OFFLOAD_CSUM | TB_OFFLOAD_TSO4,
	    buf, sizeof(buf)), "csum,tso4");
	ck_assert_str_eq(tb_offload_format(TB_OFFLOAD_TSO_ECN | 0x100, buf,
	    sizeof(buf)), "tso-ecn,0x100");
	ck_assert_str_eq(tb_offload_format(0xffffffffu, buf, sizeof(buf)),
	    "csum,tso4,tso6,tso-ecn,uso4,uso6,0xffffffc0");
	/* A short buffer is cut, never overrun. */
	ck_assert_str_eq(tb_offload_format(TB_OFFLOAD_ALL, buf, 8), "csum,ts");
}
END_TEST

/* An ERROR with errno value as sent, decoded. */
static int
decode_error_errno(uint32_t value, struct tb_error *out)
{
	struct tb_msg msg;
	struct raw r;

	raw_header(&r, TB_MSG_ERROR);
	raw_attr_u32(&r, TB_ATTR_ERRNO, value);
	raw_attr_string(&r, TB_ATTR_ERROR_TEXT, "the sentence");
	raw_seal(&r);
	parse_ok(&msg, r.buf, r.len, 0);
	memset(out, 0, sizeof(*out));
	return tb_decode_error(&msg, out);
}

START_TEST(test_decode_error_clamps_errno)
{
	static const int32_t absurd[] = {
		0, 1, EPERM, INT32_MAX, -4096, -100000, INT32_MIN,
	};
	struct tb_error out;
	size_t i;

	for (i = 0; i < sizeof(absurd) / sizeof(absurd[0]); i++) {
		ck_assert_msg(decode_error_errno((uint32_t)absurd[i], &out) ==
		    -EPROTO, "errno %d was not clamped", absurd[i]);
		ck_assert_int_eq(out.code, -EPROTO);
		ck_assert_str_eq(out.text, "the sentence");
	}
	ck_assert_int_eq(decode_error_errno((uint32_t)-EACCES, &out),
	    -EACCES);
	ck_assert_int_eq(out.code, -EACCES);
	ck_assert_int_eq(out.detail, 0);
	ck_assert_int_eq(decode_error_errno((uint32_t)-4095, &out), -4095);
}
END_TEST

/* --- round trips */

/* Encodings are whole, aligned messages whose header tells their size. */
static void
assert_encoded(const struct tb_builder *b, uint8_t type, uint32_t seq)
{
	struct tb_header hdr;

	ck_assert_uint_ge(b->len, TB_HEADER_SIZE);
	ck_assert_uint_le(b->len, TB_MSG_MAX_SIZE);
	ck_assert_uint_eq(b->len % 4, 0);
	memcpy(&hdr, b->buf, sizeof(hdr));
	ck_assert_uint_eq(hdr.magic, TB_PROTO_MAGIC);
	ck_assert_uint_eq(hdr.version, TB_PROTO_VERSION);
	ck_assert_uint_eq(hdr.type, type);
	ck_assert_uint_eq(hdr.flags, 0);
	ck_assert_uint_eq(hdr.seq, seq);
	ck_assert_uint_eq(hdr.length, b->len);
}

START_TEST(test_roundtrip_simple)
{
	static const uint8_t types[] = {
		TB_MSG_PING, TB_MSG_PONG, TB_MSG_STATUS,
	};
	struct tb_builder b;
	struct tb_msg msg;
	size_t i;

	for (i = 0; i < sizeof(types); i++) {
		ck_assert_int_eq(tb_encode_simple(&b, types[i],
		    0xdeadbeefu - (uint32_t)i), 0);
		assert_encoded(&b, types[i], 0xdeadbeefu - (uint32_t)i);
		ck_assert_uint_eq(b.len, TB_HEADER_SIZE);
		parse_ok(&msg, b.buf, b.len, 0);
		ck_assert(msg.header_ok);
		ck_assert_uint_eq(msg.hdr.type, types[i]);
		ck_assert_uint_eq(msg.hdr.seq, 0xdeadbeefu - (uint32_t)i);
		tb_builder_release(&b);
	}
}
END_TEST

START_TEST(test_roundtrip_create)
{
	struct tb_create_request in, out;
	struct tb_builder b;
	struct tb_error err;
	struct tb_msg msg;

	memset(&in, 0, sizeof(in));
	in.device_type = TB_DEVICE_TUN;
	strcpy(in.name, "vpn%d");
	in.addrs[0] = addr_v4(198, 18, 0, 1, 24);
	in.addrs[1] = addr_v6(1, 64);
	in.naddrs = 2;
	in.peer = addr_v4(198, 18, 0, 2, 32);
	in.has_peer = true;
	in.mtu = 1280;

	ck_assert_int_eq(tb_encode_create(&b, 99, &in), 0);
	assert_encoded(&b, TB_MSG_CREATE, 99);
	parse_ok(&msg, b.buf, b.len, 0);
	ck_assert_int_eq(tb_decode_create(&msg, &out, &err), 0);
	ck_assert_uint_eq(out.device_type, in.device_type);
	ck_assert_str_eq(out.name, in.name);
	ck_assert_uint_eq(out.naddrs, 2);
	assert_addr_eq(&out.addrs[0], &in.addrs[0]);
	assert_addr_eq(&out.addrs[1], &in.addrs[1]);
	ck_assert(out.has_peer);
	assert_addr_eq(&out.peer, &in.peer);
	ck_assert_uint_eq(out.mtu, in.mtu);
	tb_builder_release(&b);

	/* An all-default request stays all-default. */
	memset(&in, 0, sizeof(in));
	ck_assert_int_eq(tb_encode_create(&b, 100, &in), 0);
	assert_encoded(&b, TB_MSG_CREATE, 100);
	parse_ok(&msg, b.buf, b.len, 0);
	ck_assert_int_eq(tb_decode_create(&msg, &out, &err), 0);
	ck_assert_uint_eq(out.device_type, TB_DEVICE_TUN);
	ck_assert_str_eq(out.name, "");
	ck_assert_uint_eq(out.naddrs, 0);
	ck_assert(!out.has_peer);
	ck_assert_uint_eq(out.mtu, 0);
	tb_builder_release(&b);
}
END_TEST

START_TEST(test_roundtrip_created)
{
	struct tb_created_reply in, out;
	struct tb_builder b;
	struct tb_error err;
	struct tb_msg msg;

	memset(&in, 0, sizeof(in));
	strcpy(in.name, "abcdefghijklmno");
	in.ifindex = 4711;
	in.mtu = 1400;
	in.addrs[0] = addr_v6(2, 64);
	in.addrs[1] = addr_v4(10, 1, 2, 3, 8);
	in.addrs[2] = addr_v4(0, 0, 0, 0, 0);
	in.naddrs = 3;
	in.peer = addr_v6(3, 128);
	in.has_peer = true;
	in.fd_count = 1;

	ck_assert_int_eq(tb_encode_created(&b, 12, &in), 0);
	assert_encoded(&b, TB_MSG_CREATED, 12);
	parse_ok(&msg, b.buf, b.len, 1);
	ck_assert_int_eq(tb_decode_created(&msg, &out, &err), 0);
	ck_assert_str_eq(out.name, in.name);
	ck_assert_uint_eq(out.ifindex, in.ifindex);
	ck_assert_uint_eq(out.mtu, in.mtu);
	ck_assert_uint_eq(out.naddrs, in.naddrs);
	assert_addr_eq(&out.addrs[0], &in.addrs[0]);
	assert_addr_eq(&out.addrs[1], &in.addrs[1]);
	assert_addr_eq(&out.addrs[2], &in.addrs[2]);
	ck_assert(out.has_peer);
	assert_addr_eq(&out.peer, &in.peer);
	ck_assert_uint_eq(out.fd_count, 1);
	tb_builder_release(&b);
}
END_TEST

/* The TAP, MAC, route, bridge and txqueuelen attributes survive a trip. */
START_TEST(test_roundtrip_device_options)
{
	static const uint8_t mac[TB_MAC_LEN] = { 0x02, 0x00, 0x5e, 0x10, 0x00,
	    0x01 };
	struct tb_create_request in, out;
	struct tb_created_reply rin, rout;
	struct tb_builder b;
	struct tb_error err;
	struct tb_msg msg;
	size_t i;

	memset(&in, 0, sizeof(in));
	in.device_type = TB_DEVICE_TAP;
	memcpy(in.mac, mac, sizeof(mac));
	in.has_mac = true;
	in.routes[0] = (struct tb_route){ addr_v4(198, 18, 4, 0, 24), 10 };
	in.routes[1] = (struct tb_route){ addr_v4(0, 0, 0, 0, 0), 0 };
	in.routes[2] = (struct tb_route){ addr_v6(0, 48), 4000000000u };
	memset(&in.routes[3], 0, sizeof(in.routes[3]));
	in.routes[3].dst.family = AF_INET6;	/* ::/0 */
	in.nroutes = 4;
	strcpy(in.bridge, "abcdefghijklmno");
	in.txqueuelen = 65536;
	ck_assert_int_eq(tb_encode_create(&b, 5, &in), 0);
	parse_ok(&msg, b.buf, b.len, 0);
	ck_assert_uint_eq(msg.count[TB_ATTR_ROUTE], 4);
	ck_assert_int_eq(tb_decode_create(&msg, &out, &err), 0);
	ck_assert_uint_eq(out.device_type, TB_DEVICE_TAP);
	ck_assert(out.has_mac);
	ck_assert_mem_eq(out.mac, mac, sizeof(mac));
	ck_assert_uint_eq(out.nroutes, 4);
	for (i = 0; i < 4; i++) {
		assert_addr_eq(&out.routes[i].dst, &in.routes[i].dst);
		ck_assert_uint_eq(out.routes[i].metric, in.routes[i].metric);
	}
	ck_assert_str_eq(out.bridge, "abcdefghijklmno");
	ck_assert_uint_eq(out.txqueuelen, 65536);
	tb_builder_release(&b);

	/* The reply carries the same, and the device type. */
	memset(&rin, 0, sizeof(rin));
	strcpy(rin.name, "tap0");
	rin.ifindex = 3;
	rin.mtu = 1400;
	rin.fd_count = 1;
	rin.device_type = TB_DEVICE_TAP;
	memcpy(rin.mac, mac, sizeof(mac));
	rin.has_mac = true;
	memcpy(rin.routes, in.routes, sizeof(rin.routes));
	rin.nroutes = 4;
	strcpy(rin.bridge, "br0");
	rin.txqueuelen = 1000;
	ck_assert_int_eq(tb_encode_created(&b, 6, &rin), 0);
	parse_ok(&msg, b.buf, b.len, 1);
	ck_assert_int_eq(tb_decode_created(&msg, &rout, &err), 0);
	ck_assert_uint_eq(rout.device_type, TB_DEVICE_TAP);
	ck_assert(rout.has_mac);
	ck_assert_mem_eq(rout.mac, mac, sizeof(mac));
	ck_assert_uint_eq(rout.nroutes, 4);
	for (i = 0; i < 4; i++) {
		assert_addr_eq(&rout.routes[i].dst, &rin.routes[i].dst);
		ck_assert_uint_eq(rout.routes[i].metric, rin.routes[i].metric);
	}
	ck_assert_str_eq(rout.bridge, "br0");
	ck_assert_uint_eq(rout.txqueuelen, 1000);
	tb_builder_release(&b);

	/* Without them, nothing of them is sent or decoded. */
	memset(&in, 0, sizeof(in));
	ck_assert_int_eq(tb_encode_create(&b, 7, &in), 0);
	parse_ok(&msg, b.buf, b.len, 0);
	ck_assert(!tb_msg_has(&msg, TB_ATTR_MAC));
	ck_assert(!tb_msg_has(&msg, TB_ATTR_ROUTE));
	ck_assert(!tb_msg_has(&msg, TB_ATTR_BRIDGE));
	ck_assert(!tb_msg_has(&msg, TB_ATTR_TXQUEUELEN));
	ck_assert_int_eq(tb_decode_create(&msg, &out, &err), 0);
	ck_assert(!out.has_mac);
	ck_assert_uint_eq(out.nroutes, 0);
	ck_assert_str_eq(out.bridge, "");
	ck_assert_uint_eq(out.txqueuelen, 0);
	tb_builder_release(&b);
}
END_TEST

/* Writes into r a CREATE holding one raw attribute. */
static void
create_with_attr(struct raw *r, uint16_t type, const void *payload,
    size_t len)
{
	raw_header(r, TB_MSG_CREATE);
	raw_attr(r, type, payload, len);
	raw_seal(r);
}

/* Parses r and decodes it as CREATE; returns the decoder's answer. */
static int
decode_raw_create(struct raw *r, struct tb_error *err)
{
	static struct tb_create_request req;
	struct tb_msg msg;

	parse_ok(&msg, r->buf, r->len, 0);
	memset(err, 0, sizeof(*err));
	return tb_decode_create(&msg, &req, err);
}

START_TEST(test_device_options_checked)
{
	struct tb_route route = { addr_v4(198, 18, 4, 0, 24), 1 };
	uint8_t seven[7] = { 2, 0, 0x5e, 0x10, 0, 1, 0 };
	struct tb_error err;
	struct raw r;
	int i;

	/* MAC: exactly six bytes, once. */
	create_with_attr(&r, TB_ATTR_MAC, seven, 5);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_SIZE, "mac");
	create_with_attr(&r, TB_ATTR_MAC, seven, 7);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_SIZE,
	    "has 7 bytes, not 6");
	raw_header(&r, TB_MSG_CREATE);
	raw_attr(&r, TB_ATTR_MAC, seven, 6);
	raw_attr(&r, TB_ATTR_MAC, seven, 6);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_REPEATED, "mac");

	/* Route: a struct tb_route holding a valid prefix. */
	create_with_attr(&r, TB_ATTR_ROUTE, &route, sizeof(route) - 4);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_SIZE, "route");
	route.dst.prefixlen = 33;
	create_with_attr(&r, TB_ATTR_ROUTE, &route, sizeof(route));
	ck_assert_raw_rejected(&r, 0, -EINVAL, TB_DECODE_BAD_VALUE,
	    "invalid prefix (family 2, prefix length 33)");
	route.dst.prefixlen = 24;
	route.dst.family = 7;
	create_with_attr(&r, TB_ATTR_ROUTE, &route, sizeof(route));
	ck_assert_raw_rejected(&r, 0, -EINVAL, TB_DECODE_BAD_VALUE,
	    "invalid prefix");
	route.dst.family = AF_INET;
	route.dst.reserved[1] = 1;
	create_with_attr(&r, TB_ATTR_ROUTE, &route, sizeof(route));
	ck_assert_raw_rejected(&r, 0, -EINVAL, TB_DECODE_BAD_VALUE, "route");
	route.dst.reserved[1] = 0;
	route.dst.addr[4] = 1;	/* past an IPv4 address */
	create_with_attr(&r, TB_ATTR_ROUTE, &route, sizeof(route));
	ck_assert_raw_rejected(&r, 0, -EINVAL, TB_DECODE_BAD_VALUE, "route");
	route.dst.addr[4] = 0;

	/* At most TB_MAX_ROUTES of them. */
	raw_header(&r, TB_MSG_CREATE);
	for (i = 0; i < TB_MAX_ROUTES; i++)
		raw_attr(&r, TB_ATTR_ROUTE, &route, sizeof(route));
	raw_seal(&r);
	ck_assert_int_eq(decode_raw_create(&r, &err), 0);
	raw_header(&r, TB_MSG_CREATE);
	for (i = 0; i <= TB_MAX_ROUTES; i++)
		raw_attr(&r, TB_ATTR_ROUTE, &route, sizeof(route));
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -E2BIG, TB_DECODE_BAD_VALUE,
	    "more than 64 route");

	/* Bridge: a name, neither empty nor longer than IFNAMSIZ allows. */
	create_with_attr(&r, TB_ATTR_BRIDGE, "", 1);
	ck_assert_int_eq(decode_raw_create(&r, &err), -EINVAL);
	ck_assert_int_eq(err.detail, TB_DECODE_BAD_VALUE);
	ck_assert_str_eq(err.text, "bridge is empty");
	create_with_attr(&r, TB_ATTR_BRIDGE, "abcdefghijklmnop", 17);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_SIZE,
	    "bridge");
	create_with_attr(&r, TB_ATTR_BRIDGE, "br0", 3);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_UNTERMINATED,
	    "bridge");

	/* Transmit queue length: a u32, not 0. */
	create_with_attr(&r, TB_ATTR_TXQUEUELEN, "\1\0", 2);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_SIZE,
	    "txqueuelen");
	raw_header(&r, TB_MSG_CREATE);
	raw_attr_u32(&r, TB_ATTR_TXQUEUELEN, 0);
	raw_seal(&r);
	ck_assert_int_eq(decode_raw_create(&r, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.text, "txqueuelen 0"));

	/* Device type: TAP is 2, 3 is nothing. */
	raw_header(&r, TB_MSG_CREATE);
	raw_attr_u32(&r, TB_ATTR_DEVICE_TYPE, TB_DEVICE_TAP);
	raw_seal(&r);
	ck_assert_int_eq(decode_raw_create(&r, &err), 0);
	raw_header(&r, TB_MSG_CREATE);
	raw_attr_u32(&r, TB_ATTR_DEVICE_TYPE, 3);
	raw_seal(&r);
	ck_assert_int_eq(decode_raw_create(&r, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.text, "device-type 3"));
}
END_TEST

START_TEST(test_roundtrip_status_reply)
{
	struct tb_status_reply in, out;
	struct tb_builder b;
	struct tb_error err;
	struct tb_msg msg;

	memset(&in, 0, sizeof(in));
	strcpy(in.broker_version, "0.1.0");
	in.proto_version = TB_PROTO_VERSION;
	ck_assert_int_eq(tb_encode_status_reply(&b, 3, &in), 0);
	assert_encoded(&b, TB_MSG_STATUS_REPLY, 3);
	parse_ok(&msg, b.buf, b.len, 0);
	ck_assert_int_eq(tb_decode_status_reply(&msg, &out, &err), 0);
	ck_assert_str_eq(out.broker_version, "0.1.0");
	ck_assert_uint_eq(out.proto_version, TB_PROTO_VERSION);
	tb_builder_release(&b);
}
END_TEST

START_TEST(test_roundtrip_leases_and_release)
{
	struct tb_lease in[3] = {
		{ .ifindex = 7, .uid = 1000, .name = "tun0" },
		{ .ifindex = 8, .uid = 0, .name = "abcdefghijklmno" },
		{ .ifindex = 9, .uid = 65534, .name = "vpn3" },
	}, out[3];
	char name[TB_IFNAME_MAX];
	struct tb_builder b;
	struct tb_error err;
	struct tb_msg msg;
	size_t n;

	ck_assert_int_eq(tb_encode_leases(&b, 4, in, 3, 0), 0);
	assert_encoded(&b, TB_MSG_LEASES, 4);
	parse_ok(&msg, b.buf, b.len, 0);
	ck_assert_uint_eq(msg.count[TB_ATTR_LEASE], 3);
	ck_assert_int_eq(tb_decode_leases(&msg, out, 3, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(in, out, sizeof(in));
	tb_builder_release(&b);

	/* No lease at all is a LEASES without attributes. */
	ck_assert_int_eq(tb_encode_leases(&b, 5, NULL, 0, 0), 0);
	ck_assert_uint_eq(b.len, TB_HEADER_SIZE);
	tb_builder_release(&b);
	ck_assert_int_eq(tb_encode_leases(&b, 5, in, TB_MAX_LEASES + 1, 0),
	    -E2BIG);

	ck_assert_int_eq(tb_encode_release(&b, TB_MSG_RELEASE, 6, "tun0"), 0);
	assert_encoded(&b, TB_MSG_RELEASE, 6);
	parse_ok(&msg, b.buf, b.len, 0);
	ck_assert_int_eq(tb_decode_release(&msg, name, &err), 0);
	ck_assert_str_eq(name, "tun0");
	tb_builder_release(&b);
	ck_assert_int_eq(tb_encode_release(&b, TB_MSG_RELEASED, 6, "tun0"), 0);
	parse_ok(&msg, b.buf, b.len, 0);
	ck_assert_int_eq(tb_decode_release(&msg, name, &err), 0);
	tb_builder_release(&b);
}
END_TEST

START_TEST(test_lease_attr_checked)
{
	struct tb_lease lease = { .ifindex = 7, .uid = 1000 };
	struct raw r;

	/* RELEASE must say what to release. */
	raw_header(&r, TB_MSG_RELEASE);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EINVAL, TB_DECODE_MISSING_ATTR,
	    "ifname");

	raw_header(&r, TB_MSG_LEASES);
	raw_attr(&r, TB_ATTR_LEASE, &lease, sizeof(lease) - 4);
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_ATTR_SIZE, "lease");

	/* An empty name, then one without its NUL. */
	raw_header(&r, TB_MSG_LEASES);
	raw_attr(&r, TB_ATTR_LEASE, &lease, sizeof(lease));
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_UNTERMINATED,
	    "lease");
	memset(lease.name, 'a', sizeof(lease.name));
	raw_header(&r, TB_MSG_LEASES);
	raw_attr(&r, TB_ATTR_LEASE, &lease, sizeof(lease));
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EBADMSG, TB_DECODE_UNTERMINATED,
	    "lease");

	/* A lease is a reply's: a request may not carry one. */
	lease.name[0] = '\0';
	strcpy(lease.name, "tun0");
	raw_header(&r, TB_MSG_LIST);
	raw_attr(&r, TB_ATTR_LEASE, &lease, sizeof(lease));
	raw_seal(&r);
	ck_assert_raw_rejected(&r, 0, -EOPNOTSUPP, TB_DECODE_UNKNOWN_ATTR,
	    "lease");
}
END_TEST

START_TEST(test_roundtrip_error)
{
	struct tb_error in, out;
	struct tb_builder b;
	struct tb_msg msg;

	memset(&in, 0, sizeof(in));
	in.code = -EACCES;
	strcpy(in.text,
	    "user alice (uid 1000) is not allowed to request devices");
	ck_assert_int_eq(tb_encode_error(&b, 77, &in), 0);
	assert_encoded(&b, TB_MSG_ERROR, 77);
	parse_ok(&msg, b.buf, b.len, 0);
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(tb_decode_error(&msg, &out), -EACCES);
	ck_assert_int_eq(out.code, -EACCES);
	ck_assert_str_eq(out.text, in.text);
	tb_builder_release(&b);

	/* A text of the longest size still fits and comes back whole. */
	memset(in.text, 'x', sizeof(in.text) - 1);
	in.text[sizeof(in.text) - 1] = '\0';
	ck_assert_int_eq(tb_encode_error(&b, 78, &in), 0);
	parse_ok(&msg, b.buf, b.len, 0);
	ck_assert_int_eq(tb_decode_error(&msg, &out), -EACCES);
	ck_assert_str_eq(out.text, in.text);
	tb_builder_release(&b);

	/* An error without an errno still goes out as a negative one. */
	in.code = 0;
	strcpy(in.text, "something");
	ck_assert_int_eq(tb_encode_error(&b, 79, &in), 0);
	parse_ok(&msg, b.buf, b.len, 0);
	ck_assert_int_lt(tb_msg_i32(&msg, TB_ATTR_ERRNO), 0);
	ck_assert_int_lt(tb_decode_error(&msg, &out), 0);
	tb_builder_release(&b);
}
END_TEST

/* --- the builder */

START_TEST(test_builder_too_big_is_sticky)
{
	const size_t big = 60000;
	uint8_t *blob = calloc(1, 70000);
	struct tb_builder b;

	ck_assert_ptr_nonnull(blob);
	ck_assert_int_eq(tb_builder_init(&b, TB_MSG_PING, 1), 0);
	tb_builder_put(&b, 999 | TB_ATTR_F_OPTIONAL, blob, big);
	tb_builder_put(&b, 999 | TB_ATTR_F_OPTIONAL, blob, 6000);
	/* This one would fit, but the message is already lost. */
	tb_builder_put_u32(&b, TB_ATTR_MTU, 1);
	ck_assert_int_eq(tb_builder_finish(&b), -EMSGSIZE);
	ck_assert_int_eq(tb_builder_finish(&b), -EMSGSIZE);
	tb_builder_release(&b);

	/* A single attribute over what a length field can say. */
	ck_assert_int_eq(tb_builder_init(&b, TB_MSG_PING, 1), 0);
	tb_builder_put(&b, 999 | TB_ATTR_F_OPTIONAL, blob, 70000);
	ck_assert_int_eq(tb_builder_finish(&b), -EMSGSIZE);
	tb_builder_release(&b);
	free(blob);
}
END_TEST

START_TEST(test_builder_exact_max)
{
	const size_t payload = TB_MSG_MAX_SIZE - TB_HEADER_SIZE -
	    TB_ATTR_HEADER_SIZE;
	uint8_t *blob = calloc(1, payload + 1);
	struct tb_builder b;
	struct tb_msg msg;

	ck_assert_ptr_nonnull(blob);
	ck_assert_int_eq(tb_builder_init(&b, TB_MSG_PING, 1), 0);
	tb_builder_put(&b, 999 | TB_ATTR_F_OPTIONAL, blob, payload);
	ck_assert_int_eq(tb_builder_finish(&b), 0);
	ck_assert_uint_eq(b.len, TB_MSG_MAX_SIZE);
	parse_ok(&msg, b.buf, b.len, 0);
	tb_builder_release(&b);

	/* One byte more is padded past the limit. */
	ck_assert_int_eq(tb_builder_init(&b, TB_MSG_PING, 1), 0);
	tb_builder_put(&b, 999 | TB_ATTR_F_OPTIONAL, blob, payload + 1);
	ck_assert_int_eq(tb_builder_finish(&b), -EMSGSIZE);
	tb_builder_release(&b);
	free(blob);
}
END_TEST

/* --- names */

START_TEST(test_type_names)
{
	ck_assert_str_eq(tb_msg_type_name(TB_MSG_PING), "PING");
	ck_assert_str_eq(tb_msg_type_name(TB_MSG_CREATE), "CREATE");
	ck_assert_str_eq(tb_msg_type_name(TB_MSG_ERROR), "ERROR");
	ck_assert_str_eq(tb_msg_type_name(TB_MSG_CREATED), "CREATED");
	ck_assert_str_eq(tb_msg_type_name(TB_MSG_STATUS_REPLY),
	    "STATUS_REPLY");
	ck_assert_str_eq(tb_msg_type_name(0), "unknown");
	ck_assert_str_eq(tb_msg_type_name(6), "unknown");
	ck_assert_str_eq(tb_msg_type_name(TB_MSG_TYPE_MAX), "unknown");
	ck_assert_str_eq(tb_msg_type_name(TB_MSG_TYPE_MAX + 1), "unknown");
	ck_assert_str_eq(tb_msg_type_name(200), "unknown");
	ck_assert_str_eq(tb_msg_type_name(UINT_MAX), "unknown");

	ck_assert_str_eq(tb_attr_type_name(TB_ATTR_ERRNO), "errno");
	ck_assert_str_eq(tb_attr_type_name(TB_ATTR_IFNAME), "ifname");
	ck_assert_str_eq(tb_attr_type_name(TB_ATTR_ADDRESS), "address");
	ck_assert_str_eq(tb_attr_type_name(TB_ATTR_FD_COUNT), "fd-count");
	ck_assert_str_eq(tb_attr_type_name(TB_ATTR_UNSPEC), "unknown");
	ck_assert_str_eq(tb_attr_type_name(TB_ATTR_TYPE_MAX + 1), "unknown");
	ck_assert_str_eq(tb_attr_type_name(999), "unknown");
	ck_assert_str_eq(tb_attr_type_name(UINT_MAX), "unknown");
}
END_TEST

/* --- address text */

START_TEST(test_addr_parse_v4)
{
	static const uint8_t bytes[4] = { 198, 18, 0, 1 };
	struct tb_error err;
	struct tb_addr a;
	size_t i;

	ck_assert_int_eq(tb_addr_parse("198.18.0.1/24", false, &a, &err), 0);
	ck_assert_uint_eq(a.family, AF_INET);
	ck_assert_uint_eq(a.prefixlen, 24);
	ck_assert_mem_eq(a.addr, bytes, sizeof(bytes));
	for (i = sizeof(bytes); i < sizeof(a.addr); i++)
		ck_assert_uint_eq(a.addr[i], 0);
	ck_assert_int_eq(tb_addr_validate(&a), 0);
	ck_assert_uint_eq(tb_addr_len(&a), 4);

	ck_assert_int_eq(tb_addr_parse("0.0.0.0/0", false, &a, &err), 0);
	ck_assert_uint_eq(a.prefixlen, 0);
	ck_assert_int_eq(tb_addr_parse("10.0.0.1/32", false, &a, &err), 0);
	ck_assert_uint_eq(a.prefixlen, 32);
}
END_TEST

START_TEST(test_addr_parse_v6)
{
	struct tb_addr want = addr_v6(1, 64), a;
	struct tb_error err;

	ck_assert_int_eq(tb_addr_parse("2001:db8::1/64", false, &a, &err), 0);
	assert_addr_eq(&a, &want);
	ck_assert_int_eq(tb_addr_validate(&a), 0);
	ck_assert_uint_eq(tb_addr_len(&a), 16);

	ck_assert_int_eq(tb_addr_parse("::/128", false, &a, &err), 0);
	ck_assert_uint_eq(a.family, AF_INET6);
	ck_assert_uint_eq(a.prefixlen, 128);
}
END_TEST

START_TEST(test_addr_parse_missing_prefix)
{
	struct tb_error err;
	struct tb_addr a;

	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(tb_addr_parse("198.18.0.1", false, &a, &err),
	    -EINVAL);
	ck_assert_int_eq(err.code, -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.text, "198.18.0.1"));
	ck_assert_ptr_nonnull(strstr(err.text, "prefix"));

	ck_assert_int_eq(tb_addr_parse("198.18.0.1", true, &a, &err), 0);
	ck_assert_uint_eq(a.family, AF_INET);
	ck_assert_uint_eq(a.prefixlen, 32);

	ck_assert_int_eq(tb_addr_parse("2001:db8::2", true, &a, &err), 0);
	ck_assert_uint_eq(a.family, AF_INET6);
	ck_assert_uint_eq(a.prefixlen, 128);

	ck_assert_int_eq(tb_addr_parse("2001:db8::2", false, &a, &err),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.text, "2001:db8::2"));
}
END_TEST

START_TEST(test_addr_parse_bad_prefix)
{
	static const char *const bad[] = {
		"198.18.0.1/33", "198.18.0.1/", "198.18.0.1/-1",
		"198.18.0.1/1x", "198.18.0.1/+1", "198.18.0.1/ 1",
		"198.18.0.1/24/1", "198.18.0.1/99999999999999999999",
		"2001:db8::1/129", "2001:db8::1/",
	};
	struct tb_error err;
	struct tb_addr a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		ck_assert_msg(tb_addr_parse(bad[i], false, &a, &err) ==
		    -EINVAL, "\"%s\" was accepted", bad[i]);
		ck_assert_int_eq(err.code, -EINVAL);
		ck_assert_msg(strstr(err.text, bad[i]) != NULL,
		    "error text \"%s\" does not name \"%s\"", err.text,
		    bad[i]);
		ck_assert_int_eq(tb_addr_parse(bad[i], true, &a, &err),
		    -EINVAL);
	}
}
END_TEST

START_TEST(test_addr_parse_garbage)
{
	static const char *const bad[] = {
		"", "/24", "nonsense/24", "nonsense", "198.18.0/24",
		"256.0.0.1/8", "198.18.0.1 /24", "2001:db8:::1/64",
		"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:1/64",
		"198.18.0.1.example.org/24",
	};
	struct tb_error err;
	struct tb_addr a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		ck_assert_msg(tb_addr_parse(bad[i], true, &a, &err) ==
		    -EINVAL, "\"%s\" was accepted", bad[i]);
		ck_assert_int_eq(err.code, -EINVAL);
		ck_assert_msg(strstr(err.text, bad[i]) != NULL,
		    "error text \"%s\" does not name \"%s\"", err.text,
		    bad[i]);
	}
}
END_TEST

START_TEST(test_addr_format_roundtrip)
{
	static const char *const texts[] = {
		"198.18.0.1/24", "0.0.0.0/0", "255.255.255.255/32",
		"2001:db8::1/64", "::/0", "fe80::1:2:3:4/128",
	};
	char buf[TB_ADDR_TEXT_MAX];
	struct tb_error err;
	struct tb_addr a, b;
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		ck_assert_int_eq(tb_addr_parse(texts[i], false, &a, &err), 0);
		ck_assert_str_eq(tb_addr_format(&a, true, buf, sizeof(buf)),
		    texts[i]);
		ck_assert_int_eq(tb_addr_parse(buf, false, &b, &err), 0);
		assert_addr_eq(&a, &b);
	}

	/* Formatting gives the canonical spelling. */
	ck_assert_int_eq(tb_addr_parse("2001:DB8:0:0::1/64", false, &a, &err),
	    0);
	ck_assert_str_eq(tb_addr_format(&a, true, buf, sizeof(buf)),
	    "2001:db8::1/64");
	ck_assert_str_eq(tb_addr_format(&a, false, buf, sizeof(buf)),
	    "2001:db8::1");

	/* The longest text fits TB_ADDR_TEXT_MAX. */
	ck_assert_int_eq(tb_addr_parse(
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", false, &a,
	    &err), 0);
	tb_addr_format(&a, true, buf, sizeof(buf));
	ck_assert_str_eq(buf,
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");

	/* An invalid address is shown as "?", never as garbage. */
	a = addr_v4(198, 18, 0, 1, 40);
	ck_assert_str_eq(tb_addr_format(&a, true, buf, sizeof(buf)), "?");
	a.family = 3;
	ck_assert_str_eq(tb_addr_format(&a, false, buf, sizeof(buf)), "?");
}
END_TEST

static Suite *
codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc;

	tc = tcase_create("header");
	tcase_add_test(tc, test_short_header);
	tcase_add_test(tc, test_bad_magic);
	tcase_add_test(tc, test_unsupported_version);
	tcase_add_test(tc, test_length_bigger_than_datagram);
	tcase_add_test(tc, test_length_smaller_than_datagram);
	tcase_add_test(tc, test_too_big);
	tcase_add_test(tc, test_max_size_accepted);
	tcase_add_test(tc, test_bad_flags);
	tcase_add_test(tc, test_unknown_type);
	suite_add_tcase(s, tc);

	tc = tcase_create("attributes");
	tcase_add_test(tc, test_attr_len_beyond_message);
	tcase_add_test(tc, test_attr_len_below_header);
	tcase_add_test(tc, test_attr_trailing_bytes);
	tcase_add_test(tc, test_string_unterminated);
	tcase_add_test(tc, test_string_embedded_nul);
	tcase_add_test(tc, test_attr_wrong_size);
	tcase_add_test(tc, test_attr_repeated);
	tcase_add_test(tc, test_attr_unknown_mandatory);
	tcase_add_test(tc, test_attr_unknown_optional_skipped);
	tcase_add_test(tc, test_attr_not_allowed_here);
	tcase_add_test(tc, test_attr_missing_required);
	tcase_add_test(tc, test_unexpected_fds);
	tcase_add_test(tc, test_address_count);
	tcase_add_test(tc, test_address_invalid_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("decoders");
	tcase_add_test(tc, test_decode_create_bad_values);
	tcase_add_test(tc, test_decode_create_defaults);
	tcase_add_test(tc, test_decode_created_fd_count);
	tcase_add_test(tc, test_queues_vnet_hdr_offload);
	tcase_add_test(tc, test_offload_format);
	tcase_add_test(tc, test_decode_error_clamps_errno);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_add_test(tc, test_roundtrip_simple);
	tcase_add_test(tc, test_roundtrip_create);
	tcase_add_test(tc, test_roundtrip_created);
	tcase_add_test(tc, test_roundtrip_device_options);
	tcase_add_test(tc, test_device_options_checked);
	tcase_add_test(tc, test_roundtrip_status_reply);
	tcase_add_test(tc, test_roundtrip_error);
	tcase_add_test(tc, test_roundtrip_leases_and_release);
	tcase_add_test(tc, test_lease_attr_checked);
	suite_add_tcase(s, tc);

	tc = tcase_create("builder");
	tcase_add_test(tc, test_builder_too_big_is_sticky);
	tcase_add_test(tc, test_builder_exact_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_type_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("addr");
	tcase_add_test(tc, test_addr_parse_v4);
	tcase_add_test(tc, test_addr_parse_v6);
	tcase_add_test(tc, test_addr_parse_missing_prefix);
	tcase_add_test(tc, test_addr_parse_bad_prefix);
	tcase_add_test(tc, test_addr_parse_garbage);
	tcase_add_test(tc, test_addr_format_roundtrip);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return testlib_run(codec_suite(), false);
}
