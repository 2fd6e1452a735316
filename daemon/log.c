/*
 * log: stderr logging with levels. Under systemd (JOURNAL_STREAM set) each
 * line carries a syslog-style <N> prefix so journald keeps the priority.
 */
#include "daemon/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum log_level log_level = LOG_LEVEL_INFO;

void
log_set_level(enum log_level level)
{
	log_level = level;
}

int
log_parse_level(const char *s, enum log_level *out)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

int
log_enabled(enum log_level level)
{
	return level <= log_level;
}

/* Print one line: "loopd: [level] message[: strerror]". */
static void __attribute__((format(printf, 3, 0)))
log_vline(enum log_level level, int err, const char *fmt, va_list ap)
{
	static const char *tags[] = { "error", "warn", "info", "debug" };
	static const int prio[] = { 3, 4, 6, 7 };
	char msg[2048];

	static int journal = -1;
	char pfx[8] = "";

	if (!log_enabled(level))
		return;
	if (journal == -1)
		journal = getenv("JOURNAL_STREAM") != NULL;
	if (journal)
		snprintf(pfx, sizeof(pfx), "<%d>", prio[level]);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err != 0)
		fprintf(stderr, "%sloopd: %s: %s: %s\n", pfx, tags[level], msg,
		    strerror(err));
	else
		fprintf(stderr, "%sloopd: %s: %s\n", pfx, tags[level], msg);
}

#define LOG_BODY(level, err) do {		\
	va_list ap;				\
	va_start(ap, fmt);			\
	log_vline(level, err, fmt, ap);		\
	va_end(ap);				\
} while (0)

void log_warn(const char *fmt, ...) { int e = errno; LOG_BODY(LOG_LEVEL_WARN, e); }
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_WARN, 0); }
void log_info(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_INFO, 0); }
void log_debug(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_DEBUG, 0); }

void
fatal(const char *fmt, ...)
{
	int e = errno;

	LOG_BODY(LOG_LEVEL_ERROR, e);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 0);
	exit(1);
}
