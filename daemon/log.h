/*
 * log: levelled messages on stderr, one line each (journald-friendly).
 * log_warn adds strerror(errno); log_warnx does not. fatal/fatalx exit(1)
 * and are for start-up only, never for input from the network or a child.
 */
#ifndef LOOPD_LOG_H
#define LOOPD_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Set the most verbose level printed. */
void log_set_level(enum log_level level);
/* Parse "error", "warn", "info" or "debug". Returns 0 or -1. */
int log_parse_level(const char *s, enum log_level *out);
/* Whether a message at this level would be printed. */
int log_enabled(enum log_level level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
