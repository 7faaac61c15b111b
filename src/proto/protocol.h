/*
 * The tunbroker wire protocol: the one header that holds its version,
 * message types, attribute types and limits.  tunbroker-protocol(7) is the
 * prose specification of what is declared here.
 *
 * Every message is one AF_UNIX SOCK_SEQPACKET datagram: a fixed header,
 * then type-length-value attributes aligned to 4 bytes like netlink
 * attributes.  All integers are in the host's byte order (the socket is
 * local).  Numbers, once given out, are never reused: a retired message or
 * attribute keeps its number and a comment saying so.
 */
#ifndef TUNBROKER_PROTOCOL_H
#define TUNBROKER_PROTOCOL_H

#include <stdint.h>

#define TB_PROTO_MAGIC		0x52424e54u	/* "TNBR" in little-endian memory */
#define TB_PROTO_VERSION	1

/* Limits every peer must respect. */
#define TB_MSG_MAX_SIZE		65536	/* a whole message, header included */
#define TB_MSG_MAX_FDS		64	/* descriptors riding with one message */
#define TB_MAX_ADDRESSES	64	/* addresses in one CREATE */
#define TB_IFNAME_MAX		16	/* IFNAMSIZ: name plus its NUL */
#define TB_ERROR_TEXT_MAX	512	/* an error sentence, NUL included */
#define TB_VERSION_TEXT_MAX	64	/* a version string, NUL included */
#define TB_MAX_LEASES		2048	/* lease attributes in one LEASES */
#define TB_MAC_LEN		6	/* an Ethernet address */

/*
 * Fixed header.  length is the whole message, header included, and must
 * equal the size of the datagram.
 */
struct tb_header {
	uint32_t magic;
	uint8_t version;
	uint8_t type;		/* enum tb_msg_type */
	uint16_t flags;		/* none defined in version 1: must be 0 */
	uint32_t seq;		/* chosen by the client, echoed in the reply */
	uint32_t length;
};

#define TB_HEADER_SIZE		((uint32_t)sizeof(struct tb_header))	/* 16 */

/* Message types, grouped in numbered ranges. */
enum tb_msg_type {
	/* 1-63: requests, client to broker. */
	TB_MSG_PING = 1,
	TB_MSG_STATUS = 2,
	TB_MSG_CREATE = 3,
	TB_MSG_LIST = 4,
	TB_MSG_RELEASE = 5,

	/* 64-127: replies, broker to client; seq echoes the request. */
	TB_MSG_ERROR = 64,
	TB_MSG_PONG = 65,
	TB_MSG_STATUS_REPLY = 66,
	TB_MSG_CREATED = 67,
	TB_MSG_LEASES = 68,
	TB_MSG_RELEASED = 69,
};

#define TB_MSG_TYPE_MAX		127

/*
 * Attribute header.  len counts the header and the payload but not the
 * padding that brings the next attribute to a 4-byte boundary.
 */
struct tb_attr {
	uint16_t len;
	uint16_t type;		/* enum tb_attr_type, maybe | TB_ATTR_F_OPTIONAL */
};

#define TB_ATTR_HEADER_SIZE	((uint16_t)sizeof(struct tb_attr))	/* 4 */
#define TB_ALIGN(len)		(((len) + 3u) & ~3u)

/*
 * An attribute a receiver does not know is an error unless its sender set
 * this bit, in which case the receiver skips it.
 */
#define TB_ATTR_F_OPTIONAL	0x8000u
#define TB_ATTR_TYPE_MASK	0x7fffu

enum tb_attr_type {
	TB_ATTR_UNSPEC = 0,		/* never valid */
	TB_ATTR_ERRNO = 1,		/* i32: a negative errno */
	TB_ATTR_ERROR_TEXT = 2,		/* string: a human sentence */
	TB_ATTR_BROKER_VERSION = 3,	/* string: e.g. "0.1.0" */
	TB_ATTR_PROTO_VERSION = 4,	/* u32: TB_PROTO_VERSION */
	TB_ATTR_DEVICE_TYPE = 5,	/* u32: enum tb_device_type */
	TB_ATTR_IFNAME = 6,		/* string: a name or a template with one %d */
	TB_ATTR_ADDRESS = 7,		/* struct tb_addr, repeatable */
	TB_ATTR_PEER = 8,		/* struct tb_addr: point-to-point peer */
	TB_ATTR_MTU = 9,		/* u32 */
	TB_ATTR_IFINDEX = 10,		/* u32 */
	TB_ATTR_FD_COUNT = 11,		/* u32: descriptors riding with this reply */
	TB_ATTR_LEASE = 12,		/* struct tb_lease, repeatable */
	TB_ATTR_MAC = 13,		/* 6 bytes: a TAP's Ethernet address */
	TB_ATTR_ROUTE = 14,		/* struct tb_route, repeatable */
	TB_ATTR_BRIDGE = 15,		/* string: the bridge a TAP joins */
	TB_ATTR_QUEUES = 16,		/* u32: queues, one fd each */
	TB_ATTR_VNET_HDR = 17,		/* u32: virtio-net header size */
	TB_ATTR_OFFLOAD = 18,		/* u32: TB_OFFLOAD_* bits */
	TB_ATTR_TXQUEUELEN = 19,	/* u32: transmit queue length */
	TB_ATTR_NETNS = 20,		/* struct tb_netns */
	TB_ATTR_AUTO_ADDRESS = 21,	/* u32: a family to take a pool subnet of */
	TB_ATTR_CURSOR = 22,		/* u32: LIST after this ifindex; LEASES: more */
};

#define TB_ATTR_TYPE_MAX	22

enum tb_device_type {
	TB_DEVICE_TUN = 1,
	TB_DEVICE_TAP = 2,
};

/* Most queues (and so descriptors) one device may have. */
#define TB_MAX_QUEUES		16
#define TB_MAX_ROUTES		64	/* routes in one CREATE */

/* Virtio-net header sizes: struct virtio_net_hdr, and with num_buffers. */
#define TB_VNET_HDR_SIZE	10
#define TB_VNET_HDR_SIZE_MRG	12

/* Offloads a device with a virtio-net header may be given (TUNSETOFFLOAD). */
enum tb_offload {
	TB_OFFLOAD_CSUM = 1u << 0,	/* the client may send partial checksums */
	TB_OFFLOAD_TSO4 = 1u << 1,
	TB_OFFLOAD_TSO6 = 1u << 2,
	TB_OFFLOAD_TSO_ECN = 1u << 3,
	TB_OFFLOAD_USO4 = 1u << 4,
	TB_OFFLOAD_USO6 = 1u << 5,
};

#define TB_OFFLOAD_ALL		0x3fu

/*
 * An interface address on the wire.  family is AF_INET (2) or AF_INET6
 * (10); addr holds 4 or 16 bytes, the rest zero; prefixlen is at most 32 or
 * 128.  A peer address carries the full prefix length of its family.
 */
struct tb_addr {
	uint8_t family;
	uint8_t prefixlen;
	uint8_t reserved[2];	/* must be 0 */
	uint8_t addr[16];
};

/*
 * A live device in a LEASES reply.  name is NUL-terminated and not empty;
 * the bytes after its NUL are zero.
 */
struct tb_lease {
	uint32_t ifindex;
	uint32_t uid;		/* the owner */
	char name[TB_IFNAME_MAX];
};

/*
 * A route through the device: dst is the prefix (0.0.0.0/0 or ::/0 is a
 * default route); metric 0 is the kernel's default priority.
 */
struct tb_route {
	struct tb_addr dst;
	uint32_t metric;
};

/*
 * The network namespace of a device.  In CREATE, fd_index names which of
 * the descriptors riding with the message is the namespace (it must be 0,
 * the only one a client may send) and dev/ino are 0.  In CREATED, dev and
 * ino are the namespace's st_dev and st_ino, as fstat() of its nsfs file
 * shows them, and fd_index is 0.
 */
struct tb_netns {
	uint32_t fd_index;
	uint32_t reserved;	/* must be 0 */
	uint64_t dev;
	uint64_t ino;
};

#endif /* TUNBROKER_PROTOCOL_H */
