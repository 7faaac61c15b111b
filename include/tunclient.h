/*
 * libtunclient: ask tunbrokerd for a configured TUN device and receive its
 * file descriptor.
 *
 * Conventions, for every call below:
 * - A call returns 0 (or a count) on success and a negative errno on
 *   failure.  The library never logs, never exits and keeps no global
 *   state.
 * - Objects are opaque and freed by their own *_free or *_close call, which
 *   accepts NULL.
 * - One object is used by one thread at a time; distinct objects may be
 *   used from distinct threads freely.
 * - Every descriptor the library opens is close-on-exec.
 *
 * See libtunclient(3) and tunbroker-protocol(7).
 */
#ifndef TUNCLIENT_H
#define TUNCLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The path tunbrokerd listens on unless told otherwise. */
#define TUNCLIENT_DEFAULT_SOCKET	"/run/tunbroker/socket"
/* The environment variable that overrides the default path. */
#define TUNCLIENT_SOCKET_ENV		"TUNBROKER_SOCKET"

/* The library's version, e.g. "0.1.0". */
const char *tunclient_version(void);

/*
 * A connection to the broker.
 */
struct tunclient_conn;

/*
 * Connects to the broker listening at path.  A NULL path means the value of
 * $TUNBROKER_SOCKET when it is set and not empty, else
 * TUNCLIENT_DEFAULT_SOCKET.  On success *out is a new connection.
 * Returns 0, or a negative errno (-ENOENT: no broker at path; -EACCES: not
 * allowed to connect to it).
 */
int tunclient_connect(const char *path, struct tunclient_conn **out);

/* Closes the connection.  Leases received through it stay valid. */
void tunclient_close(struct tunclient_conn *conn);

/*
 * The sentence that explains the last failed call on conn: the broker's own
 * words when it refused a request (naming the field, the value and, for a
 * policy refusal, the rule), otherwise a description of the local failure.
 * Valid until the next call on conn; "" when the last call succeeded.
 */
const char *tunclient_conn_error(const struct tunclient_conn *conn);

/*
 * Asks the broker to answer; 0 when it did.  Like every call that talks to
 * the broker, it returns -ECONNRESET once the broker has closed the
 * connection (it restarted, or dropped a misbehaving client).
 */
int tunclient_ping(struct tunclient_conn *conn);

/* What STATUS reports. */
struct tunclient_status {
	char broker_version[64];	/* e.g. "0.1.0" */
	uint32_t protocol_version;
};

/* Fills *status from the broker. */
int tunclient_status(struct tunclient_conn *conn,
    struct tunclient_status *status);

/*
 * A description of the device wanted, built up call by call and then
 * passed to tunclient_request().  Builder calls check their argument at
 * once and return -EINVAL, with a sentence in tunclient_request_error(),
 * for a bad one.
 */
struct tunclient_request;

enum tunclient_device_type {
	TUNCLIENT_TUN = 1,	/* layer 3: IP packets */
	TUNCLIENT_TAP = 2,	/* layer 2: Ethernet frames (not served yet) */
};

/* A new request for a TUN device with no name, address or MTU set. */
int tunclient_request_new(struct tunclient_request **out);
void tunclient_request_free(struct tunclient_request *req);

/* The sentence that explains the last failed builder call on req. */
const char *tunclient_request_error(const struct tunclient_request *req);

int tunclient_request_set_type(struct tunclient_request *req,
    enum tunclient_device_type type);

/*
 * A fixed name ("vpn0") or a template with one "%d" ("vpn%d") that the
 * broker completes.  Without one the broker chooses ("tun%d").  At most 15
 * bytes.
 */
int tunclient_request_set_name(struct tunclient_request *req,
    const char *name);

/*
 * Adds an address with its prefix length, as text ("198.18.0.1/24",
 * "2001:db8::1/64").  Up to 64 addresses, IPv4 and IPv6 mixed.
 */
int tunclient_request_add_address(struct tunclient_request *req,
    const char *cidr);

/*
 * The same from a binary address: family AF_INET with 4 bytes at addr or
 * AF_INET6 with 16, and a prefix length of at most 32 or 128.
 */
int tunclient_request_add_address_bytes(struct tunclient_request *req,
    int family, const void *addr, unsigned prefixlen);

/*
 * Sets the point-to-point peer ("198.18.0.2"; a prefix length is allowed)
 * for the request's address of the same family.
 */
int tunclient_request_set_peer(struct tunclient_request *req,
    const char *addr);

/* Sets the MTU, 68 to 65535.  Without it the kernel's default (1500). */
int tunclient_request_set_mtu(struct tunclient_request *req, unsigned mtu);

/*
 * A device the broker created for this client, with its queue descriptors.
 * The lease owns its descriptors until tunclient_lease_take_fd() hands one
 * over; tunclient_lease_free() closes those still owned.  The device lives
 * as long as some process holds one of its descriptors.
 */
struct tunclient_lease;

/*
 * Sends req to the broker and waits for the device.  On success *out is a
 * new lease.  On failure returns the broker's negative errno (-EACCES,
 * -EBUSY for a name in use, -EINVAL for a bad value, ...) and
 * tunclient_conn_error() gives its sentence.
 */
int tunclient_request(struct tunclient_conn *conn,
    const struct tunclient_request *req, struct tunclient_lease **out);

void tunclient_lease_free(struct tunclient_lease *lease);

/* The device's name as the kernel knows it ("tun0"). */
const char *tunclient_lease_name(const struct tunclient_lease *lease);
unsigned tunclient_lease_ifindex(const struct tunclient_lease *lease);
unsigned tunclient_lease_mtu(const struct tunclient_lease *lease);

/* The number of queue descriptors the lease came with. */
size_t tunclient_lease_fd_count(const struct tunclient_lease *lease);

/*
 * The descriptor of queue i, still owned by the lease; -EBADF once taken,
 * -ERANGE if there is no queue i.
 */
int tunclient_lease_fd(const struct tunclient_lease *lease, size_t i);

/*
 * Hands the descriptor of queue i to the caller, who must close it; the
 * lease forgets it.  -EBADF if it was already taken, -ERANGE if there is no
 * queue i.
 */
int tunclient_lease_take_fd(struct tunclient_lease *lease, size_t i);

/* The number of addresses the broker configured. */
size_t tunclient_lease_address_count(const struct tunclient_lease *lease);

/*
 * Writes address i as text ("198.18.0.1/24") into buf of size bytes.
 * -ERANGE if there is no address i, -ENOSPC if buf is too small (64 bytes
 * always suffice).
 */
int tunclient_lease_address(const struct tunclient_lease *lease, size_t i,
    char *buf, size_t size);

/* The peer address as text, or -ENOENT when none was configured. */
int tunclient_lease_peer(const struct tunclient_lease *lease, char *buf,
    size_t size);

#ifdef __cplusplus
}
#endif

#endif /* TUNCLIENT_H */
