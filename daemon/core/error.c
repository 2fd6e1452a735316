/*
 * error: first-error-wins reporting for the core.
 */
#include "daemon/core/error.h"

#include <stdarg.h>
#include <stdio.h>

int
core_error_set(struct core_error *err, enum core_code code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err->code != CORE_OK)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}
