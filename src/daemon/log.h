/*
 * The daemon's log: stderr in the foreground, syslog when detached, and
 * the journal's native protocol, with structured fields, when stderr is a
 * journal stream (systemd's $JOURNAL_STREAM).
 */
#ifndef TUNBROKER_LOG_H
#define TUNBROKER_LOG_H

#include <stdbool.h>

struct peer_identity;

/* to_syslog: write to syslog(3) instead of stderr; verbose: log_debug too. */
void log_init(bool to_syslog, bool verbose);
bool log_verbose(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A line about a request of who's: the same text as log_info() and its
 * kin, and in the journal also the fields TUNBROKER_UID, TUNBROKER_PID,
 * TUNBROKER_RESULT (result: "grant" or "refuse", or NULL) and
 * TUNBROKER_DEVICE (device, or NULL).  priority is a syslog(3) level.
 */
void log_client(int priority, const struct peer_identity *who,
    const char *device, const char *result, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif /* TUNBROKER_LOG_H */
