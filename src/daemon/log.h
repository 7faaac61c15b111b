/* The daemon's log: stderr in the foreground, syslog when detached. */
#ifndef TUNBROKER_LOG_H
#define TUNBROKER_LOG_H

#include <stdbool.h>

/* to_syslog: write to syslog(3) instead of stderr; verbose: log_debug too. */
void log_init(bool to_syslog, bool verbose);
bool log_verbose(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* TUNBROKER_LOG_H */
