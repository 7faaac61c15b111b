/*
 * Interrupts: an eventfd that is readable while the interrupt is raised,
 * and the value it was raised with; plus blocking receive and send that an
 * interrupt or a timeout releases.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/*
 * The eventfd is the one source of truth: raised means readable.  The
 * value is kept beside it; a trigger cannot set both at once from a signal
 * handler, so value() only reports it while the descriptor is readable.
 */
struct tunclient_interrupt {
	int fd;			/* eventfd: readable while raised */
	_Atomic uint64_t value;	/* the first value raised since reset */
};

int
tunclient_interrupt_new(struct tunclient_interrupt **out)
{
	struct tunclient_interrupt *intr;

	*out = NULL;
	if ((intr = calloc(1, sizeof(*intr))) == NULL)
		return -ENOMEM;
	intr->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (intr->fd < 0) {
		int r = -errno;

		free(intr);
		return r;
	}
	atomic_init(&intr->value, 0);
	*out = intr;
	return 0;
}

void
tunclient_interrupt_free(struct tunclient_interrupt *intr)
{
	if (intr == NULL)
		return;
	close(intr->fd);
	free(intr);
}

/*
 * Async-signal-safe: an atomic compare-and-swap and one write(2).  The
 * value goes first, so that whoever sees the descriptor readable also sees
 * the value.
 */
int
tunclient_interrupt_trigger_value(struct tunclient_interrupt *intr,
    uint64_t value)
{
	uint64_t expected = 0, one = 1;
	int saved_errno = errno;	/* a signal handler must not change it */
	ssize_t n;

	if (value == 0)
		return -EINVAL;
	atomic_compare_exchange_strong(&intr->value, &expected, value);
	do {
		n = write(intr->fd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
	/* EAGAIN: the counter is saturated, so it is readable anyway. */
	errno = saved_errno;
	return 0;
}

int
tunclient_interrupt_trigger(struct tunclient_interrupt *intr)
{
	return tunclient_interrupt_trigger_value(intr, 1);
}

int
tunclient_interrupt_reset(struct tunclient_interrupt *intr)
{
	uint64_t count;

	/* One read empties an eventfd; the value goes after it. */
	if (read(intr->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -errno;
	atomic_store(&intr->value, 0);
	return 0;
}

/* Async-signal-safe: poll(2) with no wait. */
bool
tunclient_interrupt_is_triggered(const struct tunclient_interrupt *intr)
{
	struct pollfd pfd = { .fd = intr->fd, .events = POLLIN };
	int saved_errno = errno;
	bool raised = poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);

	errno = saved_errno;
	return raised;
}

uint64_t
tunclient_interrupt_value(const struct tunclient_interrupt *intr)
{
	uint64_t value;

	if (!tunclient_interrupt_is_triggered(intr))
		return 0;
	value = atomic_load(&((struct tunclient_interrupt *)(uintptr_t)intr)->value);
	/* A reset that raced the trigger cleared its value, not the trigger. */
	return value != 0 ? value : 1;
}

int
tunclient_interrupt_fd(const struct tunclient_interrupt *intr)
{
	return intr->fd;
}

/* Milliseconds on the monotonic clock. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits until fd is ready for events, intr is raised, or the deadline (-1:
 * none) passes: 0, -EINTR, -ETIMEDOUT, or a poll error.
 */
static int
wait_ready(int fd, short events, struct tunclient_interrupt *intr,
    int64_t deadline)
{
	struct pollfd pfd[2] = {
		{ .fd = fd, .events = events },
		{ .fd = intr != NULL ? intr->fd : -1, .events = POLLIN },
	};
	int timeout, n;

	for (;;) {
		if (intr != NULL && tunclient_interrupt_is_triggered(intr))
			return -EINTR;
		timeout = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			/* Even an expired deadline polls once: ready wins. */
			timeout = left <= 0 ? 0 :
			    left > 1 << 30 ? 1 << 30 : (int)left;
		}
		n = poll(pfd, 2, timeout);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0 && (pfd[1].revents & POLLIN))
			return -EINTR;
		if (n > 0 && pfd[0].revents != 0)
			return 0;	/* ready, or an error read/write reports */
		if (n == 0 && timeout == 0)
			return -ETIMEDOUT;
	}
}

/* One blocking transfer: do_io until it stops saying EAGAIN. */
static ssize_t
blocking_io(int fd, void *buf, size_t len, bool sending,
    struct tunclient_interrupt *intr, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	ssize_t n;
	int r;

	for (;;) {
		/* An interrupt raised before the call wins over ready data. */
		if (intr != NULL && tunclient_interrupt_is_triggered(intr))
			return -EINTR;
		r = wait_ready(fd, sending ? POLLOUT : POLLIN, intr, deadline);
		if (r != 0)
			return r;
		/* MSG_DONTWAIT has no read(2) twin: the fd may be blocking,
		 * but poll said ready, and a TUN queue read then does not
		 * block. */
		n = sending ? write(fd, buf, len) : read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
}

ssize_t
tunclient_recv(int fd, void *buf, size_t len,
    struct tunclient_interrupt *intr, int timeout_ms)
{
	return blocking_io(fd, buf, len, false, intr, timeout_ms);
}

ssize_t
tunclient_send(int fd, const void *buf, size_t len,
    struct tunclient_interrupt *intr, int timeout_ms)
{
	return blocking_io(fd, (void *)(uintptr_t)buf, len, true, intr,
	    timeout_ms);
}
