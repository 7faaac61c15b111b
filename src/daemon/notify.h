/*
 * Telling the service manager how the broker is doing (sd_notify(3)):
 * readiness, reloads, stopping, a STATUS= line with what it serves, and
 * the watchdog keep-alive.  Without $NOTIFY_SOCKET every call is a no-op.
 */
#ifndef TUNBROKER_NOTIFY_H
#define TUNBROKER_NOTIFY_H

#include <event2/event.h>

#include "server.h"

struct notifier {
	struct server *server;		/* its peers and broker's leases */
	struct event *watchdog_ev;	/* WATCHDOG=1 at half the interval */
	struct event *status_ev;	/* STATUS= when it changed, 1/s */
	unsigned last_devices, last_connections;
	bool status_sent;
};

/*
 * Sends READY=1 and a first STATUS=, and starts the watchdog and status
 * timers on base when the service manager asked for them.  0 or a
 * negative errno.
 */
int notify_ready(struct notifier *n, struct event_base *base,
    struct server *s);

/* RELOADING=1 with MONOTONIC_USEC=, before re-reading the configuration. */
void notify_reloading(void);

/* READY=1 again after a reload, whether or not it succeeded. */
void notify_reloaded(struct notifier *n);

/* STOPPING=1, when a signal asks the broker to exit. */
void notify_stopping(void);

/* Stops the timers; n may be zeroed or never readied. */
void notify_close(struct notifier *n);

#endif /* TUNBROKER_NOTIFY_H */
