/*
 * Encoding and decoding tunbroker messages (see protocol.h).
 *
 * The decoder sees bytes from hostile peers: it checks the header, every
 * attribute's length and alignment, string termination, repetition and
 * the attributes each message type allows, and reports each kind of
 * violation with its own detail code.  Typed encoders and decoders turn the
 * messages into the plain structs the rest of the code passes around.
 */
#ifndef TUNBROKER_CODEC_H
#define TUNBROKER_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "protocol.h"

/* Why a message was rejected: tb_error.detail after a failed decode. */
enum tb_decode_error {
	TB_DECODE_OK = 0,
	TB_DECODE_SHORT_HEADER,		/* fewer bytes than a header */
	TB_DECODE_BAD_MAGIC,
	TB_DECODE_BAD_VERSION,		/* a protocol version we do not speak */
	TB_DECODE_LENGTH_MISMATCH,	/* header length != datagram size */
	TB_DECODE_TOO_BIG,		/* over TB_MSG_MAX_SIZE */
	TB_DECODE_BAD_FLAGS,		/* header flags we do not define */
	TB_DECODE_UNKNOWN_TYPE,		/* message type unknown here */
	TB_DECODE_ATTR_OVERRUN,		/* an attribute runs past the end */
	TB_DECODE_UNTERMINATED,		/* a string without its NUL */
	TB_DECODE_ATTR_SIZE,		/* wrong size for the attribute's type */
	TB_DECODE_REPEATED,		/* a single attribute given twice */
	TB_DECODE_UNKNOWN_ATTR,		/* unknown and not flagged optional */
	TB_DECODE_MISSING_ATTR,		/* a required attribute is absent */
	TB_DECODE_UNEXPECTED_FDS,	/* descriptors where none are allowed */
	TB_DECODE_CTRUNC,		/* ancillary data was truncated */
	TB_DECODE_BAD_VALUE,		/* well-formed, but the value is invalid */
};

/* A message under construction; its buffer grows up to TB_MSG_MAX_SIZE. */
struct tb_builder {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int error;		/* sticky: -ENOMEM or -EMSGSIZE */
};

/* Starts a message of type with sequence number seq; 0 or -ENOMEM. */
int tb_builder_init(struct tb_builder *b, uint8_t type, uint32_t seq);
/* Appends one attribute; failures are kept for tb_builder_finish(). */
void tb_builder_put(struct tb_builder *b, uint16_t type, const void *data,
    size_t len);
void tb_builder_put_u32(struct tb_builder *b, uint16_t type, uint32_t value);
void tb_builder_put_i32(struct tb_builder *b, uint16_t type, int32_t value);
void tb_builder_put_string(struct tb_builder *b, uint16_t type,
    const char *value);
void tb_builder_put_addr(struct tb_builder *b, uint16_t type,
    const struct tb_addr *addr);
/* Seals the header's length; 0 or the first error met while building. */
int tb_builder_finish(struct tb_builder *b);
void tb_builder_release(struct tb_builder *b);

/*
 * A decoded message.  It points into the buffer it was parsed from, which
 * must outlive it.
 */
struct tb_msg {
	struct tb_header hdr;		/* valid when header_ok */
	bool header_ok;			/* the header could be read (for seq) */
	const uint8_t *data;
	size_t len;
	size_t nfds;			/* descriptors that came with it */
	const struct tb_attr *first[TB_ATTR_TYPE_MAX + 1];
	uint16_t count[TB_ATTR_TYPE_MAX + 1];
};

/*
 * Validates the len bytes at buf, which arrived with nfds descriptors,
 * against the rules of its message type.  Returns 0, or a negative errno
 * with err->detail an enum tb_decode_error and err->text a sentence.
 */
int tb_msg_parse(struct tb_msg *msg, const void *buf, size_t len,
    size_t nfds, struct tb_error *err);

/* Accessors for attributes tb_msg_parse() accepted. */
bool tb_msg_has(const struct tb_msg *msg, uint16_t type);
uint32_t tb_msg_u32(const struct tb_msg *msg, uint16_t type);
int32_t tb_msg_i32(const struct tb_msg *msg, uint16_t type);
const char *tb_msg_string(const struct tb_msg *msg, uint16_t type);
/* Iterates over every occurrence of type: pass NULL first, then the last. */
const struct tb_attr *tb_msg_next(const struct tb_msg *msg, uint16_t type,
    const struct tb_attr *prev);
void tb_attr_get_addr(const struct tb_attr *attr, struct tb_addr *out);

/* The name of a message type or attribute, for logs and sentences. */
const char *tb_msg_type_name(unsigned type);
const char *tb_attr_type_name(unsigned type);

/* The typed messages. */
struct tb_create_request {
	uint32_t device_type;		/* enum tb_device_type */
	char name[TB_IFNAME_MAX];	/* "" lets the broker choose */
	struct tb_addr addrs[TB_MAX_ADDRESSES];
	size_t naddrs;
	struct tb_addr peer;
	bool has_peer;
	uint32_t mtu;			/* 0: the kernel's default */
	uint8_t mac[TB_MAC_LEN];	/* a TAP's address, when has_mac */
	bool has_mac;
	struct tb_route routes[TB_MAX_ROUTES];
	size_t nroutes;
	char bridge[TB_IFNAME_MAX];	/* "": none */
	uint32_t queues;		/* 0: single-queue; N: multi-queue */
	uint32_t vnet_hdr;		/* 0: none; else the header size */
	uint32_t offload;		/* TB_OFFLOAD_* */
	uint32_t txqueuelen;		/* 0: the kernel's default */
	bool has_netns;			/* the message's descriptor 0 */
	bool auto_inet;			/* a pool subnet of each family */
	bool auto_inet6;
};

struct tb_created_reply {
	char name[TB_IFNAME_MAX];
	uint32_t ifindex;
	uint32_t mtu;
	struct tb_addr addrs[TB_MAX_ADDRESSES];
	size_t naddrs;
	struct tb_addr peer;
	bool has_peer;
	uint32_t fd_count;
	uint32_t device_type;		/* 0 from a broker that does not say */
	uint8_t mac[TB_MAC_LEN];
	bool has_mac;
	struct tb_route routes[TB_MAX_ROUTES];
	size_t nroutes;
	char bridge[TB_IFNAME_MAX];
	uint32_t queues;		/* 0: single-queue */
	uint32_t vnet_hdr;
	uint32_t offload;
	uint32_t txqueuelen;
	bool has_netns;			/* it lives in the namespace netns */
	struct tb_netns netns;
};

struct tb_status_reply {
	char broker_version[TB_VERSION_TEXT_MAX];
	uint32_t proto_version;
};

/*
 * Each encoder starts b and finishes it; release it after use.  On failure
 * b holds nothing (its buf is NULL).
 */
int tb_encode_simple(struct tb_builder *b, uint8_t type, uint32_t seq);
int tb_encode_create(struct tb_builder *b, uint32_t seq,
    const struct tb_create_request *req);
int tb_encode_created(struct tb_builder *b, uint32_t seq,
    const struct tb_created_reply *rep);
int tb_encode_status_reply(struct tb_builder *b, uint32_t seq,
    const struct tb_status_reply *rep);
int tb_encode_error(struct tb_builder *b, uint32_t seq,
    const struct tb_error *e);

/* Each decoder takes a message tb_msg_parse() accepted with its type. */
int tb_decode_create(const struct tb_msg *msg, struct tb_create_request *req,
    struct tb_error *err);
int tb_decode_created(const struct tb_msg *msg, struct tb_created_reply *rep,
    struct tb_error *err);
int tb_decode_status_reply(const struct tb_msg *msg,
    struct tb_status_reply *rep, struct tb_error *err);
/* Turns an ERROR message into out: a negative code and the sentence. */
int tb_decode_error(const struct tb_msg *msg, struct tb_error *out);

/* RELEASE (type TB_MSG_RELEASE) or RELEASED (TB_MSG_RELEASED) of name. */
int tb_encode_release(struct tb_builder *b, uint8_t type, uint32_t seq,
    const char *name);

/*
 * LEASES with n leases (at most TB_MAX_LEASES, else -E2BIG); a non-zero
 * cursor says more follow after that ifindex.
 */
int tb_encode_leases(struct tb_builder *b, uint32_t seq,
    const struct tb_lease *leases, size_t n, uint32_t cursor);

/* The name a RELEASE or RELEASED carries; -EINVAL if it is empty. */
int tb_decode_release(const struct tb_msg *msg, char name[TB_IFNAME_MAX],
    struct tb_error *err);

/*
 * Copies at most max leases of a LEASES message into leases and their
 * number into *n; msg->count[TB_ATTR_LEASE] says how many it holds.
 */
int tb_decode_leases(const struct tb_msg *msg, struct tb_lease *leases,
    size_t max, size_t *n, struct tb_error *err);

#endif /* TUNBROKER_CODEC_H */
