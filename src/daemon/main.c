/*
 * tunbrokerd: creates configured TUN devices for unprivileged clients and
 * passes them their descriptors.  See tunbrokerd(8).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "notify.h"
#include "closer.h"
#include "privs.h"
#include "server.h"

#define DEFAULT_SOCKET	"/run/tunbroker/socket"
#define DEFAULT_CONFIG	"/etc/tunbroker/tunbrokerd.conf"

struct options {
	const char *socket_path;
	const char *config_path;
	bool config_given;
	bool check_config;
	bool foreground;
	bool verbose;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: tunbrokerd [--socket PATH] [--config PATH] [--foreground] [--verbose]\n"
	    "       tunbrokerd --check-config [--config PATH]\n"
	    "       tunbrokerd --help | --version\n"
	    "\n"
	    "  -s, --socket PATH   listen on PATH (default " DEFAULT_SOCKET ")\n"
	    "  -c, --config PATH   read the configuration from PATH\n"
	    "                      (default " DEFAULT_CONFIG ")\n"
	    "      --check-config  check the configuration, print it and exit\n"
	    "  -f, --foreground    stay attached and log to stderr\n"
	    "  -v, --verbose       also log connections and every request\n"
	    "  -h, --help          show this help\n"
	    "  -V, --version       show the version\n");
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){
		.socket_path = DEFAULT_SOCKET,
		.config_path = DEFAULT_CONFIG,
	};
	while ((c = getopt_long(argc, argv, "s:c:fvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket_path = optarg;
			break;
		case 'c':
			o->config_path = optarg;
			o->config_given = true;
			break;
		case 'C':
			o->check_config = true;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("tunbrokerd %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tunbrokerd: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(stderr);
		exit(2);
	}
}

/* Reads the configuration; a missing default file means "nobody allowed". */
static int
load_config(const struct options *o, struct broker_config *cfg)
{
	struct tb_error err;
	int r;

	r = conf_load(o->config_path, cfg, &err);
	if (r == -ENOENT && !o->config_given) {
		log_warn("%s does not exist: no client is allowed to request devices",
		    o->config_path);
		conf_init_default(cfg);
		return 0;
	}
	if (r != 0)
		log_error("%s", err.text);
	return r;
}

/*
 * Forks into the background.  The parent waits until the child reports
 * readiness on the returned pipe, then exits 0, or 1 if the child failed.
 */
static int
detach(void)
{
	int pipefd[2];
	char ready;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		log_error("detaching: %s", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(pipefd[1]);
		exit(read(pipefd[0], &ready, 1) == 1 ? 0 : 1);
	}
	close(pipefd[0]);
	setsid();
	return pipefd[1];
}

/* Tells the waiting parent we are ready and drops the terminal. */
static void
finish_detach(int ready_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		close(null);
	}
	log_init(true, log_verbose());
	if (write(ready_fd, "", 1) != 1)
		log_warn("telling the parent we are ready: %s",
		    strerror(errno));
	close(ready_fd);
	if (chdir("/") < 0)
		log_warn("chdir /: %s", strerror(errno));
}

/* What a SIGHUP needs to re-read the policy. */
struct reload {
	const struct options *opts;
	struct broker *broker;
	struct notifier *notifier;
};

/*
 * Re-reads the configuration and swaps it in between two requests; a bad
 * file leaves the policy in force.  Live devices are not touched.
 */
static void
on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	struct reload *reload = arg;
	struct broker_config fresh;

	(void)sig;
	(void)what;
	notify_reloading();
	if (load_config(reload->opts, &fresh) != 0) {
		log_error("reload failed: keeping the policy in force");
		notify_reloaded(reload->notifier);
		return;
	}
	/* Subnets of pools that went keep their holders; new ones are free. */
	if (pool_alloc_configure(lease_table_pools(reload->broker->leases),
	    fresh.pools, fresh.npools) != 0) {
		log_error("reload failed: out of memory; keeping the policy "
		    "in force");
		conf_free(&fresh);
		notify_reloaded(reload->notifier);
		return;
	}
	conf_free(&reload->broker->config);
	reload->broker->config = fresh;
	log_info("reloaded policy: %zu rules from %zu files, %zu pools",
	    fresh.nrules, fresh.nfiles, fresh.npools);
	notify_reloaded(reload->notifier);
}

/*
 * A stop signal: the loop ends once the callback running now returns.  The
 * loop is single-threaded and a reply is sent within the callback that read
 * its request, so no reply is cut short; requests not yet read are dropped
 * with their connections, and clients keep the devices they hold.
 */
static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: shutting down", (int)sig);
	notify_stopping();
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	struct event *sigint = NULL, *sigterm = NULL, *sighup = NULL;
	struct event_base *base = NULL;
	struct broker broker = { .nl = NULL };
	struct server server;
	struct options opts;
	struct notifier notifier = { .server = NULL };
	struct reload reload = { .opts = &opts, .broker = &broker,
	    .notifier = &notifier };
	struct tb_error err;
	int ready_fd = -1, status = 1, r;

	parse_options(argc, argv, &opts);
	log_init(false, opts.verbose);
	signal(SIGPIPE, SIG_IGN);
	if (load_config(&opts, &broker.config) != 0)
		return 1;
	if (opts.check_config) {
		conf_print(&broker.config, stdout);
		conf_free(&broker.config);
		return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
	}
	if (!opts.foreground)
		ready_fd = detach();

	/* Before anything else is open, and while we still have privilege. */
	if (nsopen_start(&broker.nsopen, &err) != 0)
		log_info("%s", err.text);
	else
		log_debug("namespace helper: pid %d, keeping CAP_SYS_ADMIN and "
		    "CAP_NET_ADMIN", (int)nsopen_pid(broker.nsopen));
	if ((r = netns_self(&broker.home)) != 0) {
		log_error("reading our network namespace: %s", strerror(-r));
		goto out;
	}

	if (netlink_open(&broker.nl, &err) != 0) {
		log_error("%s", err.text);
		goto out;
	}
	if (lease_table_new(&broker.leases) != 0 ||
	    pool_alloc_configure(lease_table_pools(broker.leases),
	    broker.config.pools, broker.config.npools) != 0) {
		log_error("out of memory");
		goto out;
	}
	/* Subscribe before the dump, so that no change falls in between. */
	if (linkwatch_open(&broker.watch, broker.leases, broker.nl, &err) != 0 ||
	    linkwatch_sync(broker.watch, &err) != 0) {
		log_error("%s", err.text);
		goto out;
	}
	if ((base = event_base_new()) == NULL) {
		log_error("cannot create the event loop");
		goto out;
	}
	sigint = evsignal_new(base, SIGINT, on_stop_signal, base);
	sigterm = evsignal_new(base, SIGTERM, on_stop_signal, base);
	sighup = evsignal_new(base, SIGHUP, on_reload_signal, &reload);
	if (sigint == NULL || sigterm == NULL || sighup == NULL ||
	    evsignal_add(sigint, NULL) != 0 || evsignal_add(sigterm, NULL) != 0 ||
	    evsignal_add(sighup, NULL) != 0) {
		log_error("cannot watch signals");
		goto out;
	}
	if (linkwatch_start(broker.watch, base, &err) != 0) {
		log_error("%s", err.text);
		goto out;
	}
	if (server_open(&server, base, &broker, opts.socket_path, &err) != 0) {
		log_error("%s", err.text);
		goto out;
	}
	if (privs_drop(&err) != 0) {
		log_error("%s", err.text);
		server_close(&server);
		goto out;
	}
	log_info("tunbrokerd %s listening on %s", PACKAGE_VERSION,
	    server.path);
	if (ready_fd >= 0)
		finish_detach(ready_fd);

	/* After privs_drop(): a thread keeps the capabilities it started with. */
	if (closer_start(&broker.closer) != 0)
		log_warn("no closing thread: device teardown will block the loop");
	/* RELEASE waits for the closer's reports: without them, no closer. */
	if (closer_watch(broker.closer, base, server_release_done,
	    &server) != 0) {
		log_warn("cannot watch the closing thread: device teardown "
		    "will block the loop");
		closer_stop(broker.closer);
		broker.closer = NULL;
	}
	linkwatch_set_closer(broker.watch, broker.closer);
	linkwatch_set_nsopen(broker.watch, broker.nsopen);
	if (notify_ready(&notifier, base, &server) != 0)
		log_warn("cannot start the watchdog and status timers");
	if (event_base_dispatch(base) < 0)
		log_error("event loop failed");
	else
		status = 0;
	notify_close(&notifier);
	/* Releases in flight are answered before their clients go. */
	closer_stop(broker.closer);
	broker.closer = NULL;
	server_close(&server);
out:
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sighup != NULL)
		event_free(sighup);
	linkwatch_close(broker.watch);	/* its event, before the base */
	if (base != NULL)
		event_base_free(base);
	closer_stop(broker.closer);
	nsopen_stop(broker.nsopen);
	netlink_close(broker.nl);
	lease_table_free(broker.leases);
	conf_free(&broker.config);
	return status;
}
