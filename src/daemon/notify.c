#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

/* How often STATUS= may change: counting leases is not free. */
#define STATUS_INTERVAL_S	1

/* Sends STATUS= if what it says has changed since the last one. */
static void
notify_status(struct notifier *n)
{
	unsigned devices = lease_table_count(n->server->broker->leases);
	unsigned connections = n->server->npeers;

	if (n->status_sent && devices == n->last_devices &&
	    connections == n->last_connections)
		return;
	n->last_devices = devices;
	n->last_connections = connections;
	n->status_sent = true;
	(void)sd_notifyf(0, "STATUS=serving %u device%s for %u connection%s",
	    devices, devices == 1 ? "" : "s", connections,
	    connections == 1 ? "" : "s");
}

static void
notify_status_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	notify_status(arg);
}

static void
notify_watchdog_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	(void)sd_notify(0, "WATCHDOG=1");
}

/* Starts a persistent timer of usec microseconds on base. */
static int
start_timer(struct event **ev, struct event_base *base, uint64_t usec,
    event_callback_fn fn, void *arg)
{
	struct timeval tv = {
		.tv_sec = (time_t)(usec / 1000000),
		.tv_usec = (suseconds_t)(usec % 1000000),
	};

	if ((*ev = event_new(base, -1, EV_PERSIST, fn, arg)) == NULL)
		return -ENOMEM;
	if (event_add(*ev, &tv) != 0)
		return -ENOMEM;
	return 0;
}

int
notify_ready(struct notifier *n, struct event_base *base, struct server *s)
{
	uint64_t watchdog_usec = 0;
	int r;

	memset(n, 0, sizeof(*n));
	n->server = s;
	/* No manager listening: spare the loop the timers. */
	if (getenv("NOTIFY_SOCKET") == NULL)
		return 0;
	r = sd_watchdog_enabled(0, &watchdog_usec);
	if (r < 0)
		log_warn("ignoring the watchdog settings (WATCHDOG_USEC): %s",
		    strerror(-r));
	if (r > 0) {
		if (watchdog_usec < 2)
			watchdog_usec = 2;
		if ((r = start_timer(&n->watchdog_ev, base, watchdog_usec / 2,
		    notify_watchdog_tick, n)) != 0)
			return r;
		log_debug("watchdog: keep-alive every %llu ms",
		    (unsigned long long)(watchdog_usec / 2000));
	}
	if ((r = start_timer(&n->status_ev, base,
	    STATUS_INTERVAL_S * UINT64_C(1000000), notify_status_tick, n)) != 0)
		return r;
	(void)sd_notify(0, "READY=1");
	notify_status(n);
	if (n->watchdog_ev != NULL)
		(void)sd_notify(0, "WATCHDOG=1");
	return 0;
}

void
notify_reloading(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return;
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
}

void
notify_reloaded(struct notifier *n)
{
	(void)sd_notify(0, "READY=1");
	if (n->server != NULL && n->status_ev != NULL) {
		n->status_sent = false;
		notify_status(n);
	}
}

void
notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void
notify_close(struct notifier *n)
{
	if (n->watchdog_ev != NULL)
		event_free(n->watchdog_ev);
	if (n->status_ev != NULL)
		event_free(n->status_ev);
	memset(n, 0, sizeof(*n));
}
