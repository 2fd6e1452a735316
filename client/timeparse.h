/*
 * timeparse: the wall-clock times users write for --at, and how loopctl
 * shows times back (local zone, relative).
 */
#ifndef CLIENT_TIMEPARSE_H
#define CLIENT_TIMEPARSE_H

#include <stddef.h>

/* Parse a time as `at` and `date -d` users write it into seconds since the
 * epoch, NOW (a Unix time) being the present and the zone TZ's:
 *   1795000000.25                      a Unix time
 *   2030-01-02T03:04:05.5+01:00        RFC 3339 (seconds optional)
 *   2026-12-05 09:05, 2026-12-05T09:05 a local date and time
 *   10:00, 10:00:30, 10am, 3:15pm, noon, midnight
 *                                      the next such local time
 *   10:00 tomorrow, tomorrow 10:00, today 10:00, monday 09:00, mon 9am,
 *   2026-12-05 10:00                   that local time on that day
 *   now, now + 5 minutes, now+90s, in 1h30m
 * A weekday is the next one whose time is not past (today if so). A local
 * time the clocks skip is refused; one they repeat is the earlier. A day
 * word alone ("tomorrow") is refused: it needs a time. Returns 0, or -1
 * with a reason in ERR. */
int	 timeparse_at(const char *, double, double *, char *, size_t);

/* Format Unix time T as RFC 3339 in UTC with milliseconds into BUF.
 * Returns BUF. */
char	*timeparse_format(double, char *, size_t);

/* Format Unix time T in the local zone, "2026-12-05 10:00:00.250 CET"
 * (milliseconds only when there are some). Returns BUF. */
char	*timeparse_local(double, char *, size_t);

/* SECS from now as people say it: "in 59m", "3m ago", "now" (coarse:
 * two units at most). Returns BUF. */
char	*timeparse_relative(double, char *, size_t);

#endif
