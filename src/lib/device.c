/*
 * Asynchronous packet devices: one TUN/TAP queue descriptor on the caller's
 * libevent loop, read in bounded batches per wakeup, written at once or
 * through a bounded queue, shut down by a call or an interrupt, and freed
 * without waiting for the kernel's slow last close.
 *
 * Every user callback runs from an event of the loop, never from inside a
 * library call, and may free the device: callbacks run between
 * device_enter() and device_leave(), and a free from inside one releases
 * the descriptor at once but the memory only when the outermost returns.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include <net/if.h>
#include <linux/if_tun.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "internal.h"

#define DEVICE_DEFAULT_BUDGET	64
#define DEVICE_MAX_BUDGET	65536
#define DEVICE_DEFAULT_MTU	65536
#define DEVICE_MIN_MTU		64
#define DEVICE_MAX_MTU		(16 * 1024 * 1024)
#define DEVICE_DEFAULT_QUEUE	256
#define DEVICE_MAX_QUEUE	(1 << 20)

/* A packet waiting in the send queue: a copy the device owns. */
struct queued_packet {
	STAILQ_ENTRY(queued_packet) entry;
	size_t len;
	unsigned char data[];
};
STAILQ_HEAD(packet_queue, queued_packet);

/* A one-shot readiness wait the caller asked for. */
struct device_wait {
	struct tunclient_device *dev;
	struct event *ev;
	void (*cb)(struct tunclient_device *, void *);
	void *arg;
};

struct tunclient_device {
	struct event_base *base;
	int fd;			/* -1 once released */
	enum tunclient_ownership ownership;
	int saved_flags;	/* fd's file status flags before we came */
	bool flags_changed;	/* we added O_NONBLOCK */
	struct tunclient_device_info info;
	struct tunclient_device_callbacks cbs;
	void *arg;

	unsigned char *buf;	/* receive buffer of mtu bytes */
	size_t mtu;
	unsigned budget;
	bool receiving;		/* read_ev is live; checked per packet */

	struct packet_queue queue;
	size_t queued, queue_limit;
	bool writable_wanted;	/* a send said -ENOBUFS */

	struct event *read_ev;	/* persistent; NULL without packet cb */
	struct event *write_ev;	/* persistent while packets wait */
	struct event *deadline_ev;	/* a FLUSH shutdown's deadline */
	struct event *notify_ev;	/* runs the error, shutdown cbs */
	struct event *intr_ev;	/* one-shot on an interrupt's fd */
	enum tunclient_shutdown_mode intr_mode;
	int intr_deadline_ms;
	struct device_wait wait_readable, wait_writable;

	int error;		/* what stopped the device, 0 while fine */
	bool shutdown_begun, shutdown_finished;
	bool error_pending, shutdown_pending;	/* notify_ev owes these */
	size_t unsent;		/* packets a shutdown dropped */

	unsigned in_callback;	/* our callbacks on the stack */
	bool free_pending;	/* freed from inside one of them */
};

/*
 * Whether a read or write error means the descriptor no longer reaches a
 * device: EBADFD once the interface is deleted (or the queue detached),
 * EBADF if a borrowed descriptor was closed behind our back.  EIO is not
 * among them: a write gets it while the interface is merely down.
 */
static bool
errno_is_fatal(int err)
{
	return err == EBADFD || err == EBADF || err == ENODEV || err == ENXIO;
}

/*
 * Asks the kernel what fd is: an attached TUN/TAP queue, or why not.
 * ifindex (0: unknown) is the device's as a lease says, so that the
 * offloads are not read from another interface of the same name.
 */
static int
query_device(int fd, unsigned ifindex, struct tunclient_device_info *info)
{
	int hdr_size;
	struct ifreq ifr;
	unsigned flags;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		/* Other files refuse an ioctl they do not know with ENOTTY,
		 * some drivers with EINVAL; an unattached tun fd says EBADFD
		 * and a closed one EBADF, which pass through. */
		if (errno == ENOTTY || errno == EINVAL)
			return -ENOTTY;
		return -errno;
	}
	flags = (unsigned short)ifr.ifr_flags;
	memset(info, 0, sizeof(*info));
	if (flags & IFF_TAP)
		info->type = TUNCLIENT_TAP;
	else if (flags & IFF_TUN)
		info->type = TUNCLIENT_TUN;
	else
		return -ENOTTY;
	memcpy(info->name, ifr.ifr_name, sizeof(info->name) - 1);
	info->vnet_hdr = (flags & IFF_VNET_HDR) != 0;
	info->multi_queue = (flags & IFF_MULTI_QUEUE) != 0;
	info->flags = flags;
	if (info->vnet_hdr) {
		if (ioctl(fd, TUNGETVNETHDRSZ, &hdr_size) < 0)
			return -errno;
		info->vnet_hdr_size = (unsigned)hdr_size;
	}
	/* Not fatal: the device works whether or not we can see it. */
	info->offload_known = device_query_offload(info->name, ifindex,
	    &info->offload) == 0;
	return 0;
}

/* Sets O_NONBLOCK, remembering the flags a borrowed fd gets back. */
static int
set_nonblocking(struct tunclient_device *dev)
{
	if ((dev->saved_flags = fcntl(dev->fd, F_GETFL)) < 0)
		return -errno;
	if (dev->saved_flags & O_NONBLOCK)
		return 0;
	if (fcntl(dev->fd, F_SETFL, dev->saved_flags | O_NONBLOCK) < 0)
		return -errno;
	dev->flags_changed = true;
	return 0;
}

static void
restore_flags(struct tunclient_device *dev)
{
	if (dev->flags_changed)
		fcntl(dev->fd, F_SETFL, dev->saved_flags);
	dev->flags_changed = false;
}

static void *
close_thread(void *arg)
{
	close((int)(intptr_t)arg);
	return NULL;
}

/*
 * Closes fd on a detached thread: the kernel's last close of a device
 * waits for an RCU grace period (tens of milliseconds) while using little
 * CPU, which must not stall the caller's loop.  The thread blocks every
 * signal, so none meant for the program lands on it.  Closes inline when no
 * thread can be made.
 */
static void
close_in_background(int fd)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t thread;
	bool started = false;

	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		started = pthread_create(&thread, &attr, close_thread,
		    (void *)(intptr_t)fd) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
	}
	if (!started)
		close(fd);
}

/* Gives the descriptor back (BORROW) or closes it (OWN); once only. */
static void
release_fd(struct tunclient_device *dev)
{
	if (dev->fd < 0)
		return;
	if (dev->ownership == TUNCLIENT_BORROW)
		restore_flags(dev);
	else
		close_in_background(dev->fd);
	dev->fd = -1;
}

static void
queue_pop(struct tunclient_device *dev)
{
	struct queued_packet *p = STAILQ_FIRST(&dev->queue);

	STAILQ_REMOVE_HEAD(&dev->queue, entry);
	dev->queued--;
	free(p);
}

/* Drops every queued packet and says how many there were. */
static size_t
queue_clear(struct tunclient_device *dev)
{
	size_t dropped = dev->queued;

	while (!STAILQ_EMPTY(&dev->queue))
		queue_pop(dev);
	return dropped;
}

/* Removes every event but notify_ev: nothing wakes the device any more. */
static void
stop_events(struct tunclient_device *dev)
{
	dev->receiving = false;
	if (dev->read_ev != NULL)
		event_del(dev->read_ev);
	if (dev->intr_ev != NULL)
		event_del(dev->intr_ev);
	event_del(dev->write_ev);
	event_del(dev->deadline_ev);
	event_del(dev->wait_readable.ev);
	event_del(dev->wait_writable.ev);
	dev->wait_readable.cb = NULL;
	dev->wait_writable.cb = NULL;
}

/* Frees the memory; the descriptor was released before. */
static void
device_destroy(struct tunclient_device *dev)
{
	struct event *events[] = { dev->read_ev, dev->write_ev,
	    dev->deadline_ev, dev->notify_ev, dev->intr_ev,
	    dev->wait_readable.ev, dev->wait_writable.ev };
	size_t i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (events[i] != NULL)
			event_free(events[i]);
	queue_clear(dev);
	free(dev->buf);
	free(dev);
}

static void
device_enter(struct tunclient_device *dev)
{
	dev->in_callback++;
}

/* Ends a callback; the outermost one frees a device freed meanwhile. */
static void
device_leave(struct tunclient_device *dev)
{
	if (--dev->in_callback == 0 && dev->free_pending)
		device_destroy(dev);
}

/* Has notify_ev run the owed callbacks on the next turn of the loop. */
static void
schedule_notify(struct tunclient_device *dev)
{
	event_active(dev->notify_ev, EV_TIMEOUT, 1);
}

/* Ends a shutdown: drops what is still queued, owes the callback. */
static void
finish_shutdown(struct tunclient_device *dev)
{
	if (dev->shutdown_finished)
		return;
	dev->shutdown_finished = true;
	dev->unsent += queue_clear(dev);
	stop_events(dev);
	dev->shutdown_pending = true;
	schedule_notify(dev);
}

/*
 * Stops a device whose descriptor failed for good and owes the error
 * callback; a shutdown under way ends too, so its callback still comes.
 */
static void
device_fail(struct tunclient_device *dev, int err)
{
	if (dev->error != 0)
		return;
	dev->error = err;
	dev->error_pending = true;
	if (dev->shutdown_begun)
		finish_shutdown(dev);
	queue_clear(dev);
	stop_events(dev);
	schedule_notify(dev);
}

/* Runs the error and shutdown callbacks the device owes. */
static void
on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct tunclient_device *dev = arg;

	(void)fd;
	(void)what;
	device_enter(dev);
	if (dev->error_pending) {
		dev->error_pending = false;
		if (dev->cbs.error != NULL)
			dev->cbs.error(dev, dev->error, dev->arg);
	}
	if (dev->shutdown_pending && !dev->free_pending) {
		dev->shutdown_pending = false;
		if (dev->cbs.shutdown != NULL)
			dev->cbs.shutdown(dev, dev->unsent, dev->arg);
	}
	device_leave(dev);
}

/*
 * The receive path, kept tight for throughput: one read(2) a packet into
 * the one buffer, no allocation, at most budget packets a wakeup so a busy
 * device cannot starve the loop (the event is level-triggered, so what is
 * left wakes us again).  Any error but EAGAIN stops the device: a
 * descriptor that polls readable and fails to read would spin the loop.
 */
static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct tunclient_device *dev = arg;
	unsigned i;
	ssize_t n;

	(void)fd;
	(void)what;
	device_enter(dev);
	for (i = 0; i < dev->budget && dev->receiving; i++) {
		n = read(dev->fd, dev->buf, dev->mtu);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				device_fail(dev, -errno);
			break;
		}
		dev->cbs.packet(dev, dev->buf, (size_t)n, dev->arg);
	}
	device_leave(dev);
}

/*
 * Writes queued packets until the kernel pushes back.  A packet the kernel
 * refuses (malformed, or the interface is down) is dropped as a NIC would;
 * a fatal error fails the device.
 */
static void
drain_queue(struct tunclient_device *dev)
{
	struct queued_packet *p;

	while ((p = STAILQ_FIRST(&dev->queue)) != NULL) {
		if (write(dev->fd, p->data, p->len) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			if (errno_is_fatal(errno)) {
				device_fail(dev, -errno);
				return;
			}
			if (dev->shutdown_begun)
				dev->unsent++;
		}
		queue_pop(dev);
	}
}

/* The queue's descriptor is writable: drain it, then tell who waits. */
static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct tunclient_device *dev = arg;

	(void)fd;
	(void)what;
	device_enter(dev);
	drain_queue(dev);
	if (dev->error != 0)
		goto out;
	if (dev->queued == 0) {
		event_del(dev->write_ev);
		if (dev->shutdown_begun) {
			finish_shutdown(dev);
			goto out;
		}
	}
	/* Half empty, so the caller can send a burst before the next
	 * -ENOBUFS. */
	if (dev->writable_wanted && dev->queued <= dev->queue_limit / 2) {
		dev->writable_wanted = false;
		if (dev->cbs.writable != NULL)
			dev->cbs.writable(dev, dev->arg);
	}
out:
	device_leave(dev);
}

/* A FLUSH shutdown ran out of time: drop the rest. */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct tunclient_device *dev = arg;

	(void)fd;
	(void)what;
	finish_shutdown(dev);
}

/* Stops receiving and starts flushing or dropping the queue. */
static void
begin_shutdown(struct tunclient_device *dev,
    enum tunclient_shutdown_mode mode, int deadline_ms)
{
	struct timeval tv;

	dev->shutdown_begun = true;
	dev->writable_wanted = false;
	dev->receiving = false;
	if (dev->read_ev != NULL)
		event_del(dev->read_ev);
	if (dev->intr_ev != NULL)
		event_del(dev->intr_ev);
	event_del(dev->wait_readable.ev);
	event_del(dev->wait_writable.ev);
	dev->wait_readable.cb = NULL;
	dev->wait_writable.cb = NULL;
	if (mode == TUNCLIENT_SHUTDOWN_DROP || dev->queued == 0) {
		finish_shutdown(dev);
		return;
	}
	/* write_ev is pending while the queue is not empty. */
	if (deadline_ms >= 0) {
		tv.tv_sec = deadline_ms / 1000;
		tv.tv_usec = (deadline_ms % 1000) * 1000;
		if (evtimer_add(dev->deadline_ev, &tv) != 0)
			finish_shutdown(dev);	/* no timer: no flush */
	}
}

/* The interrupt fired: shut down, unless that already began. */
static void
on_interrupt(evutil_socket_t fd, short what, void *arg)
{
	struct tunclient_device *dev = arg;

	(void)fd;
	(void)what;
	if (!dev->shutdown_begun && dev->error == 0)
		begin_shutdown(dev, dev->intr_mode, dev->intr_deadline_ms);
}

/* Runs a one-shot wait's callback; it may set up the next wait. */
static void
on_wait(evutil_socket_t fd, short what, void *arg)
{
	struct device_wait *w = arg;
	struct tunclient_device *dev = w->dev;
	void (*cb)(struct tunclient_device *, void *) = w->cb;

	(void)fd;
	(void)what;
	w->cb = NULL;
	if (cb == NULL)
		return;
	device_enter(dev);
	cb(dev, w->arg);
	device_leave(dev);
}

/* Makes every event but intr_ev, which attach_interrupt makes. */
static int
make_events(struct tunclient_device *dev)
{
	struct event_base *base = dev->base;
	int fd = dev->fd;

	if (dev->cbs.packet != NULL &&
	    (dev->read_ev = event_new(base, fd, EV_READ | EV_PERSIST,
	    on_readable, dev)) == NULL)
		return -ENOMEM;
	dev->write_ev = event_new(base, fd, EV_WRITE | EV_PERSIST,
	    on_writable, dev);
	dev->deadline_ev = evtimer_new(base, on_deadline, dev);
	dev->notify_ev = event_new(base, -1, 0, on_notify, dev);
	dev->wait_readable.dev = dev;
	dev->wait_readable.ev = event_new(base, fd, EV_READ, on_wait,
	    &dev->wait_readable);
	dev->wait_writable.dev = dev;
	dev->wait_writable.ev = event_new(base, fd, EV_WRITE, on_wait,
	    &dev->wait_writable);
	if (dev->write_ev == NULL || dev->deadline_ev == NULL ||
	    dev->notify_ev == NULL || dev->wait_readable.ev == NULL ||
	    dev->wait_writable.ev == NULL)
		return -ENOMEM;
	return 0;
}

/* Starts receiving when there is a packet callback. */
static int
start_receiving(struct tunclient_device *dev)
{
	if (dev->read_ev == NULL)
		return 0;
	if (event_add(dev->read_ev, NULL) != 0)
		return -ENOMEM;
	dev->receiving = true;
	return 0;
}

/* tunclient_device_new() for a device whose ifindex may be known. */
static int
device_new(struct event_base *base, int fd, unsigned ifindex,
    enum tunclient_ownership ownership,
    const struct tunclient_device_callbacks *cbs, void *arg,
    struct tunclient_device **out)
{
	struct tunclient_device_info info;
	struct tunclient_device *dev;
	int r;

	*out = NULL;
	if (base == NULL || (ownership != TUNCLIENT_OWN &&
	    ownership != TUNCLIENT_BORROW))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	if ((r = query_device(fd, ifindex, &info)) != 0)
		return r;
	if ((dev = calloc(1, sizeof(*dev))) == NULL)
		return -ENOMEM;
	dev->base = base;
	dev->fd = fd;
	dev->ownership = ownership;
	dev->info = info;
	if (cbs != NULL)
		dev->cbs = *cbs;
	dev->arg = arg;
	dev->mtu = DEVICE_DEFAULT_MTU;
	dev->budget = DEVICE_DEFAULT_BUDGET;
	dev->queue_limit = DEVICE_DEFAULT_QUEUE;
	STAILQ_INIT(&dev->queue);
	if ((dev->buf = malloc(dev->mtu)) == NULL)
		r = -ENOMEM;
	if (r == 0)
		r = make_events(dev);
	if (r == 0)
		r = set_nonblocking(dev);
	if (r == 0)
		r = start_receiving(dev);
	if (r != 0) {
		/* An OWN fd stays the caller's on failure. */
		restore_flags(dev);
		device_destroy(dev);
		return r;
	}
	*out = dev;
	return 0;
}

int
tunclient_device_new(struct event_base *base, int fd,
    enum tunclient_ownership ownership,
    const struct tunclient_device_callbacks *cbs, void *arg,
    struct tunclient_device **out)
{
	return device_new(base, fd, 0, ownership, cbs, arg, out);
}

/*
 * On failure the descriptor goes back into the lease, which still owns
 * and closes it: nothing leaks and the caller may try again.
 */
int
tunclient_device_from_lease(struct event_base *base,
    struct tunclient_lease *lease, size_t i,
    const struct tunclient_device_callbacks *cbs, void *arg,
    struct tunclient_device **out)
{
	int fd, r;

	*out = NULL;
	if ((fd = tunclient_lease_take_fd(lease, i)) < 0)
		return fd;
	r = device_new(base, fd, tunclient_lease_ifindex(lease), TUNCLIENT_OWN,
	    cbs, arg, out);
	if (r != 0)
		lease->fds[i] = fd;
	return r;
}

/*
 * The descriptor is released here and now, even from inside a callback,
 * so a borrowed one is the caller's again when this returns; only the
 * memory may wait for the callback to return.
 */
void
tunclient_device_free(struct tunclient_device *dev)
{
	if (dev == NULL)
		return;
	stop_events(dev);
	event_del(dev->notify_ev);
	queue_clear(dev);
	release_fd(dev);
	if (dev->in_callback > 0) {
		dev->free_pending = true;
		return;
	}
	device_destroy(dev);
}

const struct tunclient_device_info *
tunclient_device_info(const struct tunclient_device *dev)
{
	return &dev->info;
}

int
tunclient_device_fd(const struct tunclient_device *dev)
{
	return dev->fd;
}

int
tunclient_device_set_budget(struct tunclient_device *dev, unsigned packets)
{
	if (packets < 1 || packets > DEVICE_MAX_BUDGET)
		return -EINVAL;
	dev->budget = packets;
	return 0;
}

/*
 * A new buffer replaces the old one at once: called from the packet
 * callback, it ends the validity of the packet being delivered.
 */
int
tunclient_device_set_mtu(struct tunclient_device *dev, size_t bytes)
{
	unsigned char *buf;

	if (bytes < DEVICE_MIN_MTU || bytes > DEVICE_MAX_MTU)
		return -EINVAL;
	if ((buf = malloc(bytes)) == NULL)
		return -ENOMEM;
	free(dev->buf);
	dev->buf = buf;
	dev->mtu = bytes;
	return 0;
}

/* A lower limit than the queue's length only refuses further packets. */
int
tunclient_device_set_queue_limit(struct tunclient_device *dev,
    size_t packets)
{
	if (packets < 1 || packets > DEVICE_MAX_QUEUE)
		return -EINVAL;
	dev->queue_limit = packets;
	return 0;
}

size_t
tunclient_device_queued(const struct tunclient_device *dev)
{
	return dev->queued;
}

/* The length of the packet iov gathers, or -EINVAL. */
static int
iov_length(const struct iovec *iov, int iovcnt, size_t *len)
{
	int i;

	if (iovcnt < 1 || iovcnt > IOV_MAX)
		return -EINVAL;
	*len = 0;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - *len)
			return -EINVAL;
		*len += iov[i].iov_len;
	}
	return 0;
}

/* One write(2) or writev(2); a fatal error fails the device. */
static ssize_t
write_packet(struct tunclient_device *dev, const struct iovec *iov,
    int iovcnt)
{
	ssize_t n;

	do {
		if (iovcnt == 1)
			n = write(dev->fd, iov[0].iov_base, iov[0].iov_len);
		else
			n = writev(dev->fd, iov, iovcnt);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno_is_fatal(errno)) {
		int err = -errno;

		device_fail(dev, err);
		return err;
	}
	return -errno;
}

/* Queues a copy of the packet; the first one arms write_ev. */
static int
queue_packet(struct tunclient_device *dev, const struct iovec *iov,
    int iovcnt, size_t len)
{
	struct queued_packet *p;
	size_t off = 0;
	int i;

	if (dev->queued >= dev->queue_limit) {
		dev->writable_wanted = true;
		return -ENOBUFS;
	}
	if (len > SIZE_MAX - sizeof(*p) ||
	    (p = malloc(sizeof(*p) + len)) == NULL)
		return -ENOMEM;
	for (i = 0; i < iovcnt; i++) {
		memcpy(p->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	p->len = len;
	if (dev->queued == 0 && event_add(dev->write_ev, NULL) != 0) {
		free(p);
		return -ENOMEM;
	}
	STAILQ_INSERT_TAIL(&dev->queue, p, entry);
	dev->queued++;
	return 0;
}

/* Whether sending is still possible: 0, or why not. */
static int
send_refused(const struct tunclient_device *dev)
{
	if (dev->error != 0)
		return dev->error;
	if (dev->shutdown_begun)
		return -ESHUTDOWN;
	return 0;
}

/*
 * Written at once while nothing is queued (so packets keep their order);
 * queued on EAGAIN.  Other errors (-EINVAL for a malformed packet, -EIO
 * while the interface is down) go back to the caller, the packet unsent.
 */
int
tunclient_device_sendv(struct tunclient_device *dev, const struct iovec *iov,
    int iovcnt)
{
	ssize_t n;
	size_t len;
	int r;

	if ((r = send_refused(dev)) != 0)
		return r;
	if ((r = iov_length(iov, iovcnt, &len)) != 0)
		return r;
	if (dev->queued == 0) {
		n = write_packet(dev, iov, iovcnt);
		if (n >= 0)
			return 0;
		if (n != -EAGAIN)
			return (int)n;
	}
	return queue_packet(dev, iov, iovcnt, len);
}

int
tunclient_device_send(struct tunclient_device *dev, const void *data,
    size_t len)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)data,
	    .iov_len = len };

	return tunclient_device_sendv(dev, &iov, 1);
}

ssize_t
tunclient_device_try_recvv(struct tunclient_device *dev,
    const struct iovec *iov, int iovcnt)
{
	ssize_t n;

	if (dev->error != 0)
		return dev->error;
	if (iovcnt < 1 || iovcnt > IOV_MAX)
		return -EINVAL;
	do {
		n = readv(dev->fd, iov, iovcnt);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno_is_fatal(errno)) {
		int err = -errno;

		device_fail(dev, err);
		return err;
	}
	return -errno;
}

ssize_t
tunclient_device_try_recv(struct tunclient_device *dev, void *buf,
    size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return tunclient_device_try_recvv(dev, &iov, 1);
}

/* -EAGAIN while packets are queued, so none overtakes them. */
ssize_t
tunclient_device_try_sendv(struct tunclient_device *dev,
    const struct iovec *iov, int iovcnt)
{
	size_t len;
	int r;

	if ((r = send_refused(dev)) != 0)
		return r;
	if ((r = iov_length(iov, iovcnt, &len)) != 0)
		return r;
	if (dev->queued > 0)
		return -EAGAIN;
	return write_packet(dev, iov, iovcnt);
}

ssize_t
tunclient_device_try_send(struct tunclient_device *dev, const void *data,
    size_t len)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)data,
	    .iov_len = len };

	return tunclient_device_try_sendv(dev, &iov, 1);
}

/* Sets up, replaces or (cb NULL) cancels a one-shot wait. */
static int
device_wait(struct tunclient_device *dev, struct device_wait *w,
    void (*cb)(struct tunclient_device *, void *), void *arg)
{
	if (cb == NULL) {
		event_del(w->ev);
		w->cb = NULL;
		return 0;
	}
	if (dev->error != 0)
		return dev->error;
	if (dev->shutdown_begun)
		return -ESHUTDOWN;
	if (event_add(w->ev, NULL) != 0)
		return -ENOMEM;
	w->cb = cb;
	w->arg = arg;
	return 0;
}

int
tunclient_device_wait_readable(struct tunclient_device *dev,
    void (*cb)(struct tunclient_device *dev, void *arg), void *arg)
{
	return device_wait(dev, &dev->wait_readable, cb, arg);
}

int
tunclient_device_wait_writable(struct tunclient_device *dev,
    void (*cb)(struct tunclient_device *dev, void *arg), void *arg)
{
	return device_wait(dev, &dev->wait_writable, cb, arg);
}

/* Checks a shutdown's mode and whether the device can still shut down. */
static int
shutdown_refused(const struct tunclient_device *dev,
    enum tunclient_shutdown_mode mode)
{
	if (mode != TUNCLIENT_SHUTDOWN_FLUSH && mode != TUNCLIENT_SHUTDOWN_DROP)
		return -EINVAL;
	if (dev->error != 0)
		return dev->error;
	if (dev->shutdown_begun)
		return -EALREADY;
	return 0;
}

/* A negative deadline_ms flushes for as long as it takes. */
int
tunclient_device_shutdown(struct tunclient_device *dev,
    enum tunclient_shutdown_mode mode, int deadline_ms)
{
	int r;

	if ((r = shutdown_refused(dev, mode)) != 0)
		return r;
	begin_shutdown(dev, mode, deadline_ms);
	return 0;
}

/*
 * The interrupt's descriptor stays readable until it is reset, so the
 * event is one-shot: a persistent one would fire on every turn of the
 * loop.  Attaching again replaces the previous interrupt; intr NULL
 * detaches it.
 */
int
tunclient_device_attach_interrupt(struct tunclient_device *dev,
    struct tunclient_interrupt *intr, enum tunclient_shutdown_mode mode,
    int deadline_ms)
{
	struct event *ev;
	int r;

	if ((r = shutdown_refused(dev, mode)) != 0)
		return r;
	if (dev->intr_ev != NULL) {
		event_free(dev->intr_ev);
		dev->intr_ev = NULL;
	}
	if (intr == NULL)
		return 0;
	ev = event_new(dev->base, tunclient_interrupt_fd(intr), EV_READ,
	    on_interrupt, dev);
	if (ev == NULL)
		return -ENOMEM;
	if (event_add(ev, NULL) != 0) {
		event_free(ev);
		return -ENOMEM;
	}
	dev->intr_ev = ev;
	dev->intr_mode = mode;
	dev->intr_deadline_ms = deadline_ms;
	return 0;
}
