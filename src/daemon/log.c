#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "log.h"

static bool use_syslog;
static bool verbose;

void
log_init(bool to_syslog, bool be_verbose)
{
	use_syslog = to_syslog;
	verbose = be_verbose;
	if (use_syslog)
		openlog("tunbrokerd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

bool
log_verbose(void)
{
	return verbose;
}

static void
log_vwrite(int priority, const char *fmt, va_list ap)
{
	if (use_syslog) {
		vsyslog(priority, fmt, ap);
		return;
	}
	fputs("tunbrokerd: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

#define LOG_FUNCTION(name, priority, guard)		\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
							\
	if (!(guard))					\
		return;					\
	va_start(ap, fmt);				\
	log_vwrite(priority, fmt, ap);			\
	va_end(ap);					\
}

LOG_FUNCTION(log_error, LOG_ERR, true)
LOG_FUNCTION(log_warn, LOG_WARNING, true)
LOG_FUNCTION(log_info, LOG_INFO, true)
LOG_FUNCTION(log_debug, LOG_DEBUG, verbose)
