/*
 * next: when a schedule fires next, in a zone, with the daylight-saving
 * rule of API.md section 10:
 *   - a local time that does not exist (spring gap) fires once, at the end
 *     of the gap (the transition), unless the spec has RECUR_SKIP_GAP;
 *   - a local time that happens twice (fall overlap) fires once, at its
 *     first pass, when the spec fixes the hour; when the hour is * or a
 *     step it fires at both passes, so such a spec follows real elapsed
 *     time (cronie's rule: a minutely job neither pauses nor doubles).
 *
 * The search walks spans of constant offset and, inside each, skips
 * field by field (year, month, day, hour, minute, second): a yearly spec
 * costs about as much as a minutely one.
 */
#ifndef RECUR_NEXT_H
#define RECUR_NEXT_H

#include <stdint.h>

#include "recur/spec.h"
#include "recur/tzfile.h"

#define RECUR_US	1000000LL
#define RECUR_T_MAX	253402300799LL	/* 9999-12-31T23:59:59Z */

/* The first fire time of SPEC strictly after AFTER (Unix microseconds),
 * in ZONE (NULL: UTC; ignored by every), into *NEXT (Unix microseconds;
 * whole seconds for cron and calendar). Returns 0, or -1 if it never
 * fires again (a calendar spec whose years are past) or AFTER is beyond
 * +-RECUR_T_MAX seconds. */
int	 recur_next(const struct recur_spec *, const struct tz_zone *, int64_t,
	    int64_t *);

/* The first local time (civil seconds) at or after FROM and at or before
 * LIMIT that SPEC matches, into *OUT. Returns 0, or -1 if none. */
int	 recur_next_local(const struct recur_spec *, int64_t, int64_t,
	    int64_t *);

/* Whether the date Y-M-D matches the day fields of SPEC. */
int	 recur_day_match(const struct recur_spec *, int64_t, int, int);

#endif
