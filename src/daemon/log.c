#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"
#include "policy.h"

static bool use_syslog;
static bool use_journal;
static bool verbose;

/*
 * True when our stderr is the stream systemd connected to the journal:
 * $JOURNAL_STREAM names its device and inode (systemd.exec(5)).  A stderr
 * redirected elsewhere by a child of the service does not match.
 */
static bool
stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (env == NULL || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(bool to_syslog, bool be_verbose)
{
	use_syslog = to_syslog;
	use_journal = !to_syslog && stderr_is_journal();
	verbose = be_verbose;
	if (use_syslog)
		openlog("tunbrokerd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

bool
log_verbose(void)
{
	return verbose;
}

/* Appends one "NAME=value" journal field to iov; skipped if out of memory. */
__attribute__((format(printf, 3, 4)))
static void
add_field(struct iovec *iov, int *n, const char *fmt, ...)
{
	va_list ap;
	char *field;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&field, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	iov[*n].iov_base = field;
	iov[*n].iov_len = (size_t)len;
	(*n)++;
}

/*
 * Writes "tunbrokerd: MESSAGE\n" to stderr with one write(2): one system
 * call a line instead of three, and a line is never split or mixed with
 * another process's output on a shared stream.  Nothing is held back, so a
 * crash loses no line already logged.
 */
static void
write_line(const char *fmt, va_list ap)
{
	static const char prefix[] = "tunbrokerd: ";
	char stack[1024], *line = stack;
	size_t size = sizeof(stack), len;
	va_list again;
	int n;

	va_copy(again, ap);
	memcpy(line, prefix, sizeof(prefix) - 1);
	n = vsnprintf(line + sizeof(prefix) - 1, size - sizeof(prefix), fmt,
	    ap);
	if (n < 0) {
		va_end(again);
		return;
	}
	len = sizeof(prefix) - 1 + (size_t)n;
	/* Longer than the stack buffer: the heap, or cut if there is none. */
	if (len + 1 >= size) {
		if ((line = malloc(len + 2)) != NULL) {
			memcpy(line, prefix, sizeof(prefix) - 1);
			vsnprintf(line + sizeof(prefix) - 1, (size_t)n + 1, fmt,
			    again);
		} else {
			line = stack;
			len = size - 2;
		}
	}
	va_end(again);
	line[len++] = '\n';
	/* A short write or a closed stderr is no reason to stop serving. */
	(void)!write(STDERR_FILENO, line, len);
	if (line != stack)
		free(line);
}

/*
 * Writes one line with priority; in the journal with the fields of who,
 * device and result as well, when they are not NULL.
 */
static void
log_vwrite_fields(int priority, const struct peer_identity *who,
    const char *device, const char *result, const char *fmt, va_list ap)
{
	struct iovec iov[6];
	char *text;
	int n = 0, i;

	if (use_syslog) {
		vsyslog(priority, fmt, ap);
		return;
	}
	if (!use_journal) {
		write_line(fmt, ap);
		return;
	}
	if (vasprintf(&text, fmt, ap) < 0)
		return;
	add_field(iov, &n, "MESSAGE=%s", text);
	free(text);
	add_field(iov, &n, "PRIORITY=%d", priority);
	if (who != NULL) {
		add_field(iov, &n, "TUNBROKER_UID=%u", (unsigned)who->uid);
		add_field(iov, &n, "TUNBROKER_PID=%d", (int)who->pid);
	}
	if (device != NULL)
		add_field(iov, &n, "TUNBROKER_DEVICE=%s", device);
	if (result != NULL)
		add_field(iov, &n, "TUNBROKER_RESULT=%s", result);
	if (n > 0)
		(void)sd_journal_sendv(iov, n);
	for (i = 0; i < n; i++)
		free(iov[i].iov_base);
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
	log_vwrite_fields(priority, NULL, NULL, NULL, fmt, ap); \
	va_end(ap);					\
}

LOG_FUNCTION(log_error, LOG_ERR, true)
LOG_FUNCTION(log_warn, LOG_WARNING, true)
LOG_FUNCTION(log_info, LOG_INFO, true)
LOG_FUNCTION(log_debug, LOG_DEBUG, verbose)

void
log_client(int priority, const struct peer_identity *who, const char *device,
    const char *result, const char *fmt, ...)
{
	va_list ap;

	if (priority >= LOG_DEBUG && !verbose)
		return;
	va_start(ap, fmt);
	log_vwrite_fields(priority, who, device, result, fmt, ap);
	va_end(ap);
}
