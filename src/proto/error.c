#include <stdarg.h>
#include <stdio.h>

#include "error.h"

static int
error_vset(struct tb_error *err, int code, int detail, const char *fmt,
    va_list ap)
{
	if (err == NULL)
		return code;
	err->code = code;
	err->detail = detail;
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	return code;
}

int
tb_error_set(struct tb_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, code, 0, fmt, ap);
	va_end(ap);
	return code;
}

int
tb_error_set_detail(struct tb_error *err, int code, int detail,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, code, detail, fmt, ap);
	va_end(ap);
	return code;
}

void
tb_error_clear(struct tb_error *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->detail = 0;
	err->text[0] = '\0';
}
