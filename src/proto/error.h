/*
 * An error as every layer reports it: a negative errno for programs and a
 * sentence for people, naming what failed and with which value.
 */
#ifndef TUNBROKER_ERROR_H
#define TUNBROKER_ERROR_H

#include "protocol.h"

struct tb_error {
	int code;			/* 0 or a negative errno */
	int detail;			/* finer reason, where a layer defines one */
	char text[TB_ERROR_TEXT_MAX];
};

/*
 * Records code and a printf-style sentence in err (which may be NULL) and
 * returns code, so that a caller can write `return tb_error_set(...)`.
 */
int tb_error_set(struct tb_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The same, with a finer reason (err->detail) for layers that define one. */
int tb_error_set_detail(struct tb_error *err, int code, int detail,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Empties err. */
void tb_error_clear(struct tb_error *err);

#endif /* TUNBROKER_ERROR_H */
