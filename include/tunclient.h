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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libevent's loop; the asynchronous calls take the caller's own. */
struct event_base;

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

/* A live device the broker tracks, as tunclient_list() reports it. */
struct tunclient_lease_info {
	char name[16];			/* IFNAMSIZ, NUL-terminated */
	unsigned ifindex;
	uid_t uid;			/* its owner */
};

/*
 * The caller's live devices (the broker's every device, for root): on
 * success *out is an array of *n entries (NULL when *n is 0) that the
 * caller frees with tunclient_lease_info_free().  On failure *out is NULL
 * and *n is 0.
 */
int tunclient_list(struct tunclient_conn *conn,
    struct tunclient_lease_info **out, size_t *n);
void tunclient_lease_info_free(struct tunclient_lease_info *list);

/*
 * Asks the broker to delete the device called name, which must be one of
 * the caller's (root: any device the broker tracks); -ENOENT, naming it,
 * otherwise.  Whoever holds its descriptors sees the device go.
 */
int tunclient_release(struct tunclient_conn *conn, const char *name);

/*
 * A description of the device wanted, built up call by call and then
 * passed to tunclient_request().  Builder calls check their argument at
 * once and return -EINVAL (-E2BIG for a 65th address), with a sentence in
 * tunclient_request_error(), for a bad one.
 */
struct tunclient_request;

enum tunclient_device_type {
	TUNCLIENT_TUN = 1,	/* layer 3: IP packets */
	TUNCLIENT_TAP = 2,	/* layer 2: Ethernet frames */
};

/*
 * Offloads a device with a virtio-net header may get (see
 * tunclient_request_set_offload()); the same bits as the protocol's.
 */
enum tunclient_offload {
	TUNCLIENT_OFFLOAD_CSUM = 1u << 0,	/* partial checksums */
	TUNCLIENT_OFFLOAD_TSO4 = 1u << 1,	/* TCP segmentation, IPv4 */
	TUNCLIENT_OFFLOAD_TSO6 = 1u << 2,	/* TCP segmentation, IPv6 */
	TUNCLIENT_OFFLOAD_TSO_ECN = 1u << 3,	/* TSO with ECN/CWR */
	TUNCLIENT_OFFLOAD_USO4 = 1u << 4,	/* UDP segmentation, IPv4 */
	TUNCLIENT_OFFLOAD_USO6 = 1u << 5,	/* UDP segmentation, IPv6 */
};

/* The most queues one device may have, and routes one request may hold. */
#define TUNCLIENT_MAX_QUEUES	16
#define TUNCLIENT_MAX_ROUTES	64

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
 * A TAP's Ethernet address ("02:00:5e:10:00:01"): unicast, not all zero.
 * Without one the kernel gives the TAP a random locally administered one.
 */
int tunclient_request_set_mac(struct tunclient_request *req, const char *mac);

/*
 * Adds a route through the device: a network ("198.18.4.0/24"; "0.0.0.0/0"
 * or "::/0" for a default route) and a metric (0: the kernel's default).
 * The route goes when the device goes.  Up to TUNCLIENT_MAX_ROUTES.
 */
int tunclient_request_add_route(struct tunclient_request *req,
    const char *cidr, unsigned metric);

/*
 * Makes the TAP a port of the existing bridge called name.  It takes the
 * bridge's MTU unless tunclient_request_set_mtu() gave one.
 */
int tunclient_request_set_bridge(struct tunclient_request *req,
    const char *name);

/*
 * Asks for a multi-queue device with queues queues (1 to
 * TUNCLIENT_MAX_QUEUES): the lease then has one descriptor per queue.
 * Without it the device is single-queue.
 */
int tunclient_request_set_queues(struct tunclient_request *req,
    unsigned queues);

/*
 * Puts a virtio-net header of size bytes (10, or 12 with num_buffers)
 * before every packet; 0 turns it off (the default).
 */
int tunclient_request_set_vnet_hdr(struct tunclient_request *req,
    unsigned size);

/*
 * The offloads (enum tunclient_offload bits) the device accepts; they
 * need a virtio-net header.  Segmentation offloads need CSUM, TSO_ECN
 * needs TSO4 or TSO6, and USO4 and USO6 go together (the kernel's rules):
 * this call refuses other combinations at once, the broker an offload
 * without a header (the two calls may come in either order).
 */
int tunclient_request_set_offload(struct tunclient_request *req,
    unsigned offloads);

/* The transmit queue length, 1 to 65536.  Without it the kernel's (500). */
int tunclient_request_set_txqueuelen(struct tunclient_request *req,
    unsigned len);

/*
 * Places the device in the network namespace fd refers to (an open
 * /proc/PID/ns/net, or a bind mount of one), which the caller must own;
 * the request keeps its own copy of fd, so the caller may close fd at
 * once.  -1 puts it back in the broker's namespace.
 */
int tunclient_request_set_netns_fd(struct tunclient_request *req, int fd);

/*
 * Asks for a free subnet of a pool the policy names, of family AF_INET
 * (a /30 or /31) or AF_INET6 (a /64); the lease's addresses say which.
 */
int tunclient_request_add_auto_address(struct tunclient_request *req,
    int family);

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

enum tunclient_device_type tunclient_lease_type(
    const struct tunclient_lease *lease);

/* A TAP's Ethernet address as text; -ENOENT for a TUN. */
int tunclient_lease_mac(const struct tunclient_lease *lease, char *buf,
    size_t size);

/* The routes the broker added through the device. */
size_t tunclient_lease_route_count(const struct tunclient_lease *lease);

/*
 * Writes route i's network as text into buf and its metric into *metric
 * (if not NULL).  -ERANGE if there is no route i, -ENOSPC if buf is too
 * small (64 bytes always suffice).
 */
int tunclient_lease_route(const struct tunclient_lease *lease, size_t i,
    char *buf, size_t size, unsigned *metric);

/* The bridge the TAP joined, or NULL. */
const char *tunclient_lease_bridge(const struct tunclient_lease *lease);

/* Whether the device is multi-queue (its queues are the descriptors). */
bool tunclient_lease_multi_queue(const struct tunclient_lease *lease);

/* The virtio-net header size, 0 without one. */
unsigned tunclient_lease_vnet_hdr(const struct tunclient_lease *lease);

/* The offloads (enum tunclient_offload bits) the broker set. */
unsigned tunclient_lease_offload(const struct tunclient_lease *lease);

unsigned tunclient_lease_txqueuelen(const struct tunclient_lease *lease);

/*
 * The network namespace the device lives in, as the st_dev and st_ino
 * that fstat() of its /proc/PID/ns/net shows; -ENOENT when it is the
 * broker's own.
 */
int tunclient_lease_netns(const struct tunclient_lease *lease, uint64_t *dev,
    uint64_t *ino);


/*
 * ---------------------------------------------------------------------
 * Interrupts
 *
 * An interrupt is a flag with a pollable descriptor (an eventfd) that one
 * party raises and others wait on: the blocking calls below return -EINTR
 * when it is raised, and devices attached to it shut down.  Once
 * triggered it stays triggered until reset.
 *
 * Thread and signal safety: tunclient_interrupt_trigger(),
 * tunclient_interrupt_trigger_value(), tunclient_interrupt_is_triggered()
 * and tunclient_interrupt_value() are async-signal-safe and may be called
 * from any thread at any time while the interrupt exists; everything else
 * is thread-safe but not async-signal-safe.  A trigger that races
 * tunclient_interrupt_reset() may or may not survive it; if it survives
 * with its value lost to the reset, its value reads as 1.
 * ---------------------------------------------------------------------
 */
struct tunclient_interrupt;

int tunclient_interrupt_new(struct tunclient_interrupt **out);
/* Frees intr.  Nothing may still use it: no device, no waiting call. */
void tunclient_interrupt_free(struct tunclient_interrupt *intr);

/* Raises intr with the value 1. */
int tunclient_interrupt_trigger(struct tunclient_interrupt *intr);
/*
 * Raises intr with a non-zero value (-EINVAL for 0), for example a signal
 * number.  The first value raised since the last reset is the one kept.
 */
int tunclient_interrupt_trigger_value(struct tunclient_interrupt *intr,
    uint64_t value);
/* Lowers intr again: not triggered, value 0, its descriptor not readable. */
int tunclient_interrupt_reset(struct tunclient_interrupt *intr);
bool tunclient_interrupt_is_triggered(const struct tunclient_interrupt *intr);
/* The value intr was triggered with, or 0 while it is not triggered. */
uint64_t tunclient_interrupt_value(const struct tunclient_interrupt *intr);
/*
 * A descriptor that is readable (POLLIN) exactly while intr is triggered,
 * for poll(2), epoll(7) or any event loop.  Owned by intr: do not read
 * from it or close it.
 */
int tunclient_interrupt_fd(const struct tunclient_interrupt *intr);

/*
 * Blocking receive of one packet from a TUN/TAP descriptor fd (blocking
 * or not) into buf.  Waits until a packet arrives, intr (may be NULL) is
 * triggered, or timeout_ms milliseconds pass (-1: no limit; 0: take only
 * what is ready now).  A packet longer than len is truncated, as read(2)
 * on a TUN device does.  Returns the
 * packet's length, -EINTR if intr is or becomes triggered, -ETIMEDOUT, or
 * another negative errno (-EBADFD or -EIO once the device is gone).
 */
ssize_t tunclient_recv(int fd, void *buf, size_t len,
    struct tunclient_interrupt *intr, int timeout_ms);

/* The same for sending one packet; returns len on success. */
ssize_t tunclient_send(int fd, const void *buf, size_t len,
    struct tunclient_interrupt *intr, int timeout_ms);

/*
 * ---------------------------------------------------------------------
 * Asynchronous packet devices on libevent
 *
 * A device wraps one TUN/TAP queue descriptor and runs on the caller's
 * struct event_base; all its calls and callbacks happen on that loop's
 * thread.  Programs with another loop can instead poll
 * tunclient_device_fd() for POLLIN/POLLOUT and call try_recv / try_send,
 * and poll tunclient_interrupt_fd() for POLLIN to learn of an interrupt.
 * ---------------------------------------------------------------------
 */
struct tunclient_device;

/* Who closes the descriptor. */
enum tunclient_ownership {
	/* The device owns fd from the moment tunclient_device_new()
	 * succeeds and closes it when freed, off the caller's loop. */
	TUNCLIENT_OWN = 1,
	/*
	 * The device never closes fd.  SAFETY CONTRACT: the caller keeps fd
	 * open, and refers to the same device, until tunclient_device_free()
	 * returns; closing or reusing fd before then is undefined behaviour
	 * (the device would read and write whatever the number then names).
	 * The device puts fd's file status flags (O_NONBLOCK) back as they
	 * were when it is freed.
	 */
	TUNCLIENT_BORROW = 2,
};

/*
 * What the kernel says the descriptor is, when the device is made: type,
 * name and flags from TUNGETIFF, the header size from TUNGETVNETHDRSZ.
 *
 * The kernel cannot tell a queue's holder its offloads (there is no
 * TUNGETOFFLOAD), and what the broker set is only where they started:
 * any holder of a queue may change them with TUNSETOFFLOAD, without
 * privilege.  So offload is read from the kernel's active features of the
 * interface (SIOCETHTOOL, which needs no privilege), looked up by name in
 * the caller's network namespace; a device made from a lease must also
 * have the lease's ifindex there.  When the interface cannot be found
 * there (the device lives in another namespace), offload_known is false
 * and offload 0: tunclient_lease_offload() still says what the broker
 * set.  USO4 and USO6 are one feature in the kernel and show together.
 */
struct tunclient_device_info {
	enum tunclient_device_type type;	/* TUN or TAP */
	char name[16];
	bool vnet_hdr;		/* packets carry a virtio-net header */
	bool multi_queue;	/* one of the device's queues (IFF_MULTI_QUEUE) */
	unsigned flags;		/* the raw IFF_* flags TUNGETIFF reported */
	/*
	 * The virtio-net header's size (10 or 12) in front of every packet
	 * read or written, 0 without vnet_hdr.
	 */
	unsigned vnet_hdr_size;
	unsigned offload;	/* enum tunclient_offload bits active */
	bool offload_known;	/* false: the interface is not in our view */
};

/* Why a device's shutdown callback ran. */
enum tunclient_shutdown_mode {
	/* Send what is queued, up to the deadline, then stop. */
	TUNCLIENT_SHUTDOWN_FLUSH = 1,
	/* Drop what is queued and stop at once. */
	TUNCLIENT_SHUTDOWN_DROP = 2,
};

struct tunclient_device_callbacks {
	/*
	 * One received packet.  data is a view into the device's buffer,
	 * valid only until the callback returns: copy what you keep.  May
	 * be NULL for a device that only sends, or whose caller drives
	 * receiving with try_recv.
	 */
	void (*packet)(struct tunclient_device *dev, const void *data,
	    size_t len, void *arg);
	/* After a send returned -ENOBUFS: the queue has room again. */
	void (*writable)(struct tunclient_device *dev, void *arg);
	/*
	 * The device failed for good: its interface was deleted (-EBADFD) or
	 * its descriptor stopped working.  Called once; the device has
	 * stopped and only tunclient_device_free() is left to do.  (A link
	 * that is merely down is not a failure: sends return -EIO.)
	 */
	void (*error)(struct tunclient_device *dev, int err, void *arg);
	/*
	 * A shutdown finished: receiving stopped and the send queue was
	 * flushed or dropped (unsent counts packets dropped).  Called once,
	 * from the loop, never from inside tunclient_device_shutdown();
	 * freeing the device here is allowed.  If the device fails during a
	 * flush, error runs first, then shutdown.
	 */
	void (*shutdown)(struct tunclient_device *dev, size_t unsent,
	    void *arg);
};

/*
 * Wraps fd, which must be an attached TUN/TAP queue (-ENOTTY for a pipe,
 * socket or file; -EBADFD for a tun fd not attached to a device), as a
 * device on base.  cbs is copied and any of its callbacks may be NULL; arg
 * is passed to every callback.  Receiving starts at once when cbs->packet
 * is set.  On failure an OWN fd is left to the caller.
 */
int tunclient_device_new(struct event_base *base, int fd,
    enum tunclient_ownership ownership,
    const struct tunclient_device_callbacks *cbs, void *arg,
    struct tunclient_device **out);

/*
 * Takes queue i of lease (tunclient_lease_take_fd) into an OWN device.  On
 * failure the descriptor is back in the lease.
 *
 * A multi-queue lease has one descriptor per queue: make one device of
 * each, each on its own event_base (and so its own thread) if wanted; the
 * kernel spreads the packets it sends to the device over the queues by
 * flow, and a packet written to any queue enters the same interface.
 */
int tunclient_device_from_lease(struct event_base *base,
    struct tunclient_lease *lease, size_t i,
    const struct tunclient_device_callbacks *cbs, void *arg,
    struct tunclient_device **out);

/*
 * Stops the device and frees it, at once: queued packets are dropped.  An
 * OWN descriptor is closed on a short-lived thread of its own, because the
 * kernel's last close of a device blocks for tens of milliseconds.  May be
 * called from the device's own callbacks.
 */
void tunclient_device_free(struct tunclient_device *dev);

const struct tunclient_device_info *tunclient_device_info(
    const struct tunclient_device *dev);
int tunclient_device_fd(const struct tunclient_device *dev);

/* Packets delivered per wakeup at most (default 64, 1 to 65536). */
int tunclient_device_set_budget(struct tunclient_device *dev,
    unsigned packets);
/*
 * Receive buffer size: the largest packet delivered (default 65536, 64 to
 * 16 MiB); a longer packet is truncated.  Called from the packet callback,
 * it ends the current view.
 */
int tunclient_device_set_mtu(struct tunclient_device *dev, size_t bytes);
/* Packets the send queue holds at most (default 256, 1 to 1 << 20). */
int tunclient_device_set_queue_limit(struct tunclient_device *dev,
    size_t packets);
/* Packets now waiting in the send queue. */
size_t tunclient_device_queued(const struct tunclient_device *dev);

/*
 * Sends one packet: written at once when the kernel takes it, otherwise a
 * copy is queued and sent when the device is writable.  Returns 0, or
 * -ENOBUFS when the queue is full (the writable callback follows once
 * there is room), -ESHUTDOWN after a shutdown began, or the error that
 * stopped the device.
 */
int tunclient_device_send(struct tunclient_device *dev, const void *data,
    size_t len);
/* The same for a packet gathered from iovcnt pieces. */
int tunclient_device_sendv(struct tunclient_device *dev,
    const struct iovec *iov, int iovcnt);

/*
 * Non-blocking I/O for callers that drive the device themselves: the
 * packet's length, -EAGAIN when there is nothing to read / no room, or
 * another negative errno.  try_send never queues, and says -EAGAIN while
 * packets wait in the send queue, so that nothing overtakes them.
 */
ssize_t tunclient_device_try_recv(struct tunclient_device *dev, void *buf,
    size_t len);
ssize_t tunclient_device_try_recvv(struct tunclient_device *dev,
    const struct iovec *iov, int iovcnt);
ssize_t tunclient_device_try_send(struct tunclient_device *dev,
    const void *data, size_t len);
ssize_t tunclient_device_try_sendv(struct tunclient_device *dev,
    const struct iovec *iov, int iovcnt);

/*
 * One-shot waits: cb runs once, on the loop, when the device is readable
 * (or writable).  A new wait replaces the pending one; cb NULL cancels it.
 */
int tunclient_device_wait_readable(struct tunclient_device *dev,
    void (*cb)(struct tunclient_device *dev, void *arg), void *arg);
int tunclient_device_wait_writable(struct tunclient_device *dev,
    void (*cb)(struct tunclient_device *dev, void *arg), void *arg);

/*
 * Shuts the device down on its loop: it stops receiving and, in FLUSH
 * mode, sends what is queued for up to deadline_ms (negative: no limit),
 * then drops the rest; in DROP mode it drops the queue at once.  The
 * shutdown callback runs exactly once when done.  -EALREADY if a shutdown
 * already began; on a device that already failed, its error (and no
 * callback follows: count errors too when counting shutdowns).
 */
int tunclient_device_shutdown(struct tunclient_device *dev,
    enum tunclient_shutdown_mode mode, int deadline_ms);

/*
 * Makes intr shut the device down as tunclient_device_shutdown(dev, mode,
 * deadline_ms) would, as soon as it is triggered, from any thread or a
 * signal handler (at once if it already is).  Attach one interrupt to
 * many devices to stop them all with one trigger.  Attaching again
 * replaces the previous interrupt; NULL detaches.  intr must outlive the
 * device.
 */
int tunclient_device_attach_interrupt(struct tunclient_device *dev,
    struct tunclient_interrupt *intr, enum tunclient_shutdown_mode mode,
    int deadline_ms);

/*
 * ---------------------------------------------------------------------
 * Asynchronous requests to the broker
 * ---------------------------------------------------------------------
 */
struct tunclient_async;
struct tunclient_pending;

/*
 * The outcome of an asynchronous request.  On success result is 0 and
 * lease a new lease the callback now owns; otherwise result is a negative
 * errno (-ECANCELED when the connection was freed first), lease is NULL
 * and error the broker's sentence (valid during the callback).
 */
typedef void (*tunclient_lease_cb)(int result, struct tunclient_lease *lease,
    const char *error, void *arg);

/*
 * Connects to the broker at path (NULL: as tunclient_connect) on base.
 * Every call on the connection, and every callback, happens on base's
 * thread.  A callback may call any tunclient_async_* function, including
 * tunclient_async_free() on its own connection.
 */
int tunclient_async_connect(struct event_base *base, const char *path,
    struct tunclient_async **out);

/*
 * Closes the connection.  Requests still pending complete with
 * -ECANCELED before this returns; devices they would have created are
 * closed.  Called again from one of those callbacks, it does nothing, and
 * a request made there fails with -ESHUTDOWN.
 */
void tunclient_async_free(struct tunclient_async *conn);

/*
 * Sends req (copied at once) without waiting; cb (not NULL) runs on the
 * loop with the reply, never from inside this call.  Requests may be
 * pipelined; replies are matched by sequence number.  A request the socket
 * cannot take yet waits in a queue of up to 1024.  *pending (if not NULL)
 * identifies the request for tunclient_async_cancel() until cb runs.
 * Returns 0, -ENOBUFS when the queue is full, -ECONNRESET once the broker
 * has closed the connection (requests still pending then complete on the
 * loop: with the replies the broker sent before closing, the rest with
 * -ECONNRESET, or -EPROTO after a malformed reply), or -ESHUTDOWN during
 * tunclient_async_free().
 *
 * The broker drops a client whose unread replies fill its socket buffer:
 * run the loop while many requests are in flight.
 */
int tunclient_async_request(struct tunclient_async *conn,
    const struct tunclient_request *req, tunclient_lease_cb cb, void *arg,
    struct tunclient_pending **pending);

/*
 * Cancels a request: cb will not run, and the device the broker may still
 * create for it is closed when its reply arrives.
 */
void tunclient_async_cancel(struct tunclient_pending *pending);

/*
 * Requests made whose replies have not arrived: queued, sent, and
 * cancelled ones that were already sent.
 */
size_t tunclient_async_in_flight(const struct tunclient_async *conn);

#ifdef __cplusplus
}
#endif

#endif /* TUNCLIENT_H */
