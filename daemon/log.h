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
/* Run lines (one per start and end of a call's action): at most
 * per_second a second, in bursts of as many (0: no limit). */
void log_run_set_rate(unsigned per_second);
/* Log one run line for call_id (name may be NULL) with outcome ("started",
 * "ok", "failed", ...): at warn priority when warn, else info. Under
 * systemd (stderr is $JOURNAL_STREAM) it goes to the journal with the
 * fields LOOPD_CALL_ID, LOOPD_NAME, LOOPD_OUTCOME; on stderr otherwise.
 * Returns 0, or -1 if it was suppressed by the rate limit. */
int log_run(int warn, const char *call_id, const char *name, const char *outcome,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Say how many run lines were suppressed, if any, once the rate allows
 * a line again. Returns the number still to be told (0: none). */
unsigned long log_run_flush(void);

void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
