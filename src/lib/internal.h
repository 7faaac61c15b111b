/* libtunclient's private structures, shared by its source files. */
#ifndef TUNCLIENT_INTERNAL_H
#define TUNCLIENT_INTERNAL_H

#include "codec.h"
#include "tunclient.h"

struct tunclient_conn {
	int sock;
	uint32_t next_seq;
	struct tb_error err;
	uint8_t *buf;		/* TB_MSG_MAX_SIZE bytes for replies */
};

struct tunclient_request {
	struct tb_create_request spec;
	int netns_fd;			/* our copy, or -1 (spec.has_netns) */
	struct tb_error err;
};

struct tunclient_lease {
	struct tb_created_reply info;
	int fds[TB_MSG_MAX_FDS];	/* -1 once taken */
	size_t nfds;
};

/*
 * Builds a lease from a CREATED reply and the descriptors that came with
 * it, which the lease takes over (closing them on failure too).
 */
int lease_new(const struct tb_created_reply *info, int *fds, size_t nfds,
    struct tunclient_lease **out);

/*
 * Opens a SOCK_SEQPACKET socket (close-on-exec, plus the SOCK_* flags
 * given, e.g. SOCK_NONBLOCK) connected to the broker at path (NULL: as
 * tunclient_connect() says).  On success *out is the caller's descriptor.
 */
int client_socket_connect(const char *path, int flags, int *out);

/*
 * Judges a parsed reply to a request that expects a reply of type want:
 * an ERROR becomes its errno with the broker's sentence in err, any other
 * type but want is -EPROTO.  0 when the reply is of type want.
 */
int client_reply_verdict(const struct tb_msg *reply, uint8_t want,
    struct tb_error *err);

/*
 * Turns a CREATED reply, and the nfds descriptors that came with it, into
 * a lease in *out.  The descriptors are consumed, also on failure (-EPROTO
 * with a sentence in err for a reply that breaks the protocol).
 */
int client_lease_from_created(const struct tb_msg *reply, int *fds,
    size_t nfds, struct tb_error *err, struct tunclient_lease **out);

/* Whether reply is the broker's ERROR about the connection (seq 0). */
bool client_refused_connection(const struct tb_msg *reply,
    struct tb_error *err, int *code);

/*
 * Reads the offloads (TUNCLIENT_OFFLOAD_* bits) active on the interface
 * called ifname in the caller's network namespace, from its features.
 * With ifindex not 0 the interface must also have that index (-ENODEV
 * otherwise: the name is another device's here).  Returns 0, or a
 * negative errno (-ENODEV: no such interface here) with *offload 0.
 */
int device_query_offload(const char *ifname, unsigned ifindex,
    unsigned *offload);

#endif /* TUNCLIENT_INTERNAL_H */
