/*
 * forwarder: joins two TUN/TAP devices in user space: every packet read
 * from one is written to the other.  Ctrl-C (or SIGTERM) stops both
 * cleanly through one interrupt: receiving stops, what is queued is
 * flushed for up to a second, and the counts are printed.
 *
 *   forwarder --fd 3 --fd 4 [--verbose]
 *
 * An example of libtunclient's asynchronous devices: two devices on one
 * libevent loop, back-pressure through -ENOBUFS, and shutdown by interrupt.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "tunclient.h"

#define FLUSH_DEADLINE_MS	1000

/* One side of the join. */
struct side {
	struct tunclient_device *dev;
	struct side *peer;		/* where its packets go */
	int fd;
	unsigned long long forwarded;	/* packets written to peer */
	unsigned long long dropped;	/* packets peer had no room for */
	int *status;
};

/* What the signal handler raises. */
static struct tunclient_interrupt *stop_interrupt;

static void
on_stop_signal(int signo)
{
	tunclient_interrupt_trigger_value(stop_interrupt, (uint64_t)signo);
}

static void
on_packet(struct tunclient_device *dev, const void *data, size_t len,
    void *arg)
{
	struct side *s = arg;
	int err;

	(void)dev;
	if (s->peer->dev == NULL)
		return;
	err = tunclient_device_send(s->peer->dev, data, len);
	if (err == 0)
		s->forwarded++;
	else if (err == -ENOBUFS || err == -ESHUTDOWN)
		s->dropped++;	/* no room, or stopping: drop like a router */
	else
		s->dropped++;	/* the peer's error callback reports it */
}

/* One device failed: report it, and stop the other one too. */
static void
on_error(struct tunclient_device *dev, int err, void *arg)
{
	struct side *s = arg;

	fprintf(stderr, "forwarder: fd %d (%s): %s\n", s->fd,
	    tunclient_device_info(dev)->name, strerror(-err));
	*s->status = 1;
	tunclient_device_free(dev);
	s->dev = NULL;
	if (s->peer->dev != NULL)
		tunclient_device_shutdown(s->peer->dev,
		    TUNCLIENT_SHUTDOWN_FLUSH, FLUSH_DEADLINE_MS);
}

static void
on_shutdown(struct tunclient_device *dev, size_t unsent, void *arg)
{
	struct side *s = arg;

	s->peer->dropped += unsent;	/* packets it was carrying for peer */
	tunclient_device_free(dev);
	s->dev = NULL;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: forwarder --fd N --fd M [--verbose]\n");
}

/* Parses a descriptor number; -1 if text is not one. */
static int
parse_fd(const char *text)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < 0 || v > INT_MAX)
		return -1;
	return (int)v;
}

/* Wraps s->fd as an owned device on base that stops with the interrupt. */
static int
open_side(struct event_base *base, struct side *s)
{
	static const struct tunclient_device_callbacks cbs = {
		.packet = on_packet,
		.error = on_error,
		.shutdown = on_shutdown,
	};
	int err;

	err = tunclient_device_new(base, s->fd, TUNCLIENT_OWN, &cbs, s,
	    &s->dev);
	if (err == 0)
		err = tunclient_device_attach_interrupt(s->dev, stop_interrupt,
		    TUNCLIENT_SHUTDOWN_FLUSH, FLUSH_DEADLINE_MS);
	if (err != 0)
		fprintf(stderr, "forwarder: fd %d: %s\n", s->fd,
		    strerror(-err));
	return err;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "fd", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct side a = { .fd = -1 }, b = { .fd = -1 };
	struct event_base *base = NULL;
	struct sigaction sa;
	bool verbose = false;
	int opt, nfds = 0, status = 0;

	while ((opt = getopt_long(argc, argv, "f:vh", options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (nfds == 2 || parse_fd(optarg) < 0) {
				fprintf(stderr, "forwarder: --fd %s: give two "
				    "descriptor numbers\n", optarg);
				return 2;
			}
			(nfds++ == 0 ? &a : &b)->fd = parse_fd(optarg);
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (nfds != 2 || optind != argc) {
		usage(stderr);
		return 2;
	}
	a.peer = &b;
	b.peer = &a;
	a.status = b.status = &status;

	if ((base = event_base_new()) == NULL ||
	    tunclient_interrupt_new(&stop_interrupt) != 0) {
		fprintf(stderr, "forwarder: out of memory\n");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	if (open_side(base, &a) != 0 || open_side(base, &b) != 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0) {
		status = 1;
		goto out;
	}
	if (verbose)
		fprintf(stderr, "forwarder: joining %s and %s\n",
		    tunclient_device_info(a.dev)->name,
		    tunclient_device_info(b.dev)->name);
	/* Returns once both devices are freed. */
	event_base_dispatch(base);
	printf("forwarded %llu and %llu packets, dropped %llu and %llu\n",
	    a.forwarded, b.forwarded, a.dropped, b.dropped);
out:
	tunclient_device_free(a.dev);
	tunclient_device_free(b.dev);
	event_base_free(base);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	tunclient_interrupt_free(stop_interrupt);
	return status;
}
