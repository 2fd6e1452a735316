/*
 * spec: the three ways to say when a schedule fires (API.md section 10),
 * parsed into one compact form.
 *
 *   every     "30", "1.5", "500ms", "1h30m", optionally " @ANCHOR" (Unix
 *             seconds): fires at ANCHOR + k * period, real elapsed time
 *   cron      5 fields (minute hour day-of-month month day-of-week) or 6
 *             (seconds first), or an @hourly-style macro
 *   calendar  a subset of systemd's OnCalendar= (docs/schedules.md)
 *
 * cron and calendar become the same sets of seconds, minutes, hours,
 * days, months, weekdays (and years, for calendar) matched against the
 * wall clock of a zone; recur/next.h finds the times they fire.
 * Errors name the part of the spec and the reason:
 *   "cron: field 3 (day-of-month): 32 out of range 1-31"
 * A spec that can never fire (February 30) is an error too.
 */
#ifndef RECUR_SPEC_H
#define RECUR_SPEC_H

#include <stddef.h>
#include <stdint.h>

#define RECUR_YEAR_MIN	1970
#define RECUR_YEAR_MAX	2199

enum recur_kind {
	RECUR_EVERY = 1,
	RECUR_CRON,
	RECUR_CALENDAR,
};

/* Flags of a spec. */
#define RECUR_DOM_OR_DOW	0x01	/* cron: both restricted, either matches */
#define RECUR_HOUR_WILD		0x02	/* hour is * or a step: overlaps by elapsed time */
#define RECUR_LAST_DAYS		0x04	/* calendar ~: dom bit k is the k-th last day */
#define RECUR_ALL_YEARS		0x08	/* no year restriction */
#define RECUR_SKIP_GAP		0x10	/* a time in a spring gap does not fire */

/* A parsed spec: 64 bytes. */
struct recur_spec {
	uint64_t	 sec;		/* bits 0..59 */
	uint64_t	 min;		/* bits 0..59 */
	uint32_t	 hour;		/* bits 0..23 */
	uint32_t	 dom;		/* bits 1..31 */
	uint16_t	 mon;		/* bits 1..12 */
	uint8_t		 dow;		/* bits 0..6, 0 is Sunday */
	uint8_t		 kind;		/* enum recur_kind */
	uint8_t		 flags;
	union {
		struct {
			int64_t	 period;	/* microseconds, > 0 */
			int64_t	 anchor;	/* Unix microseconds */
		} every;
		uint64_t	 years[4];	/* bit y - RECUR_YEAR_MIN */
	} u;
};

/* Parse TEXT as a spec of KIND into SPEC. Returns 0, or -1 with the
 * reason in ERR ("cron: field 3 (day-of-month): 32 out of range 1-31"). */
int	 recur_parse(enum recur_kind, const char *, struct recur_spec *, char *,
	    size_t);

/* The kind named NAME ("every", "cron", "calendar"), or 0. */
enum recur_kind recur_kind_from_name(const char *);

/* The name of KIND. */
const char *recur_kind_name(enum recur_kind);

/* Guess the kind of TEXT: a macro or 5-6 fields is cron, a duration is
 * every, anything else calendar. */
enum recur_kind recur_guess(const char *);

/* Whether the spec's hour is * or a step (the overlap rule, API.md 10). */
int	 recur_hour_wild(const struct recur_spec *);

/* The normalised form of SPEC into BUF ("sec=0 min=30 hour=2 ..."), for
 * tests and diagnostics. Returns BUF. */
char	*recur_describe(const struct recur_spec *, char *, size_t);

#endif
