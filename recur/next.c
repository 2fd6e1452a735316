/*
 * next: the next fire time of a spec in a zone (see next.h for the
 * daylight-saving rule).
 *
 * The Unix time line is cut into spans of constant UTC offset at the
 * zone's transitions. Inside a span local time runs with Unix time, so
 * the first matching local time of the span is its first fire; across
 * spans the order of Unix time is kept. At a span's start:
 *   - after a spring-forward transition, local times in the gap
 *     [start + before, start + after) that match fire at the start itself;
 *   - after a fall-back transition, local times in
 *     [start + after, start + before) are second passes: skipped when the
 *     spec fixes the hour.
 */
#include "recur/next.h"

#include <string.h>

/* Floor division for possibly negative A. */
static int64_t
recur_fdiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The first set bit of MASK at or above FROM, or -1. */
static int
recur_next_bit(uint64_t mask, int from)
{
	if (from >= 64 || (mask >>= from) == 0)
		return -1;
	return from + __builtin_ctzll(mask);
}

/* Whether year Y is allowed. */
static int
recur_year_ok(const struct recur_spec *spec, int64_t y)
{
	int b;

	if (spec->kind != RECUR_CALENDAR)
		return 1;
	/* Calendar specs live in systemd's years, 1970 to 2199. */
	if (y < RECUR_YEAR_MIN || y > RECUR_YEAR_MAX)
		return 0;
	if (spec->flags & RECUR_ALL_YEARS)
		return 1;
	b = (int)(y - RECUR_YEAR_MIN);
	return (spec->u.years[b / 64] >> (b % 64)) & 1;
}

/* The first allowed year after Y, or -1. */
static int64_t
recur_next_year(const struct recur_spec *spec, int64_t y)
{
	if (spec->kind != RECUR_CALENDAR)
		return y + 1;
	for (y = y < RECUR_YEAR_MIN ? RECUR_YEAR_MIN : y + 1; y <= RECUR_YEAR_MAX; y++)
		if (recur_year_ok(spec, y))
			return y;
	return -1;
}

int
recur_day_match(const struct recur_spec *spec, int64_t y, int m, int d)
{
	int k = d, dm, wm;

	if (spec->flags & RECUR_LAST_DAYS)
		k = tz_month_days(y, m) - d + 1;
	dm = (spec->dom >> k) & 1;
	wm = (spec->dow >> tz_weekday(tz_days_from_civil(y, m, d))) & 1;
	return (spec->flags & RECUR_DOM_OR_DOW) ? dm || wm : dm && wm;
}

int
recur_next_local(const struct recur_spec *spec, int64_t from, int64_t limit,
    int64_t *out)
{
	int64_t days = recur_fdiv(from, 86400), secs = from - days * 86400;
	int64_t y, ly, day0, t;
	int m, d, h, mi, s, ld, md, v;

	if (from > limit)
		return -1;
	tz_civil_from_days(days, &y, &m, &d);
	tz_civil_from_days(recur_fdiv(limit, 86400), &ly, &ld, &ld);
	h = (int)(secs / 3600);
	mi = (int)(secs / 60 % 60);
	s = (int)(secs % 60);
	for (;;) {
		if (y > ly)
			return -1;
		if (!recur_year_ok(spec, y)) {
			if ((y = recur_next_year(spec, y)) == -1)
				return -1;
			m = d = 1;
			h = mi = s = 0;
			continue;
		}
		if ((v = recur_next_bit(spec->mon, m)) == -1) {
			y++;
			m = d = 1;
			h = mi = s = 0;
			continue;
		}
		if (v != m) {
			m = v;
			d = 1;
			h = mi = s = 0;
		}
		md = tz_month_days(y, m);
		while (d <= md && !recur_day_match(spec, y, m, d)) {
			d++;
			h = mi = s = 0;
		}
		if (d > md) {
			if (++m > 12) {
				y++;
				m = 1;
			}
			d = 1;
			h = mi = s = 0;
			continue;
		}
		day0 = tz_days_from_civil(y, m, d) * 86400;
		if (day0 > limit)
			return -1;
		if ((v = recur_next_bit(spec->hour, h)) == -1) {
			d++;
			h = mi = s = 0;
			continue;
		}
		if (v != h) {
			h = v;
			mi = s = 0;
		}
		if ((v = recur_next_bit(spec->min, mi)) == -1) {
			mi = s = 0;
			if (++h > 23) {
				d++;
				h = 0;
			}
			continue;
		}
		if (v != mi) {
			mi = v;
			s = 0;
		}
		if ((v = recur_next_bit(spec->sec, s)) == -1) {
			s = 0;
			if (++mi > 59) {
				mi = 0;
				if (++h > 23) {
					d++;
					h = 0;
				}
			}
			continue;
		}
		s = v;
		t = day0 + h * 3600 + mi * 60 + s;
		if (t > limit)
			return -1;
		*out = t;
		return 0;
	}
}

/* The next fire of an every spec strictly after AFTER. */
static int
recur_next_every(const struct recur_spec *spec, int64_t after, int64_t *next)
{
	int64_t p = spec->u.every.period, a = spec->u.every.anchor;

	*next = a + (recur_fdiv(after - a, p) + 1) * p;
	return 0;
}

int
recur_next(const struct recur_spec *spec, const struct tz_zone *zone,
    int64_t after, int64_t *next)
{
	struct tz_transition pt, nt;
	int64_t t0 = recur_fdiv(after, RECUR_US), t = t0 + 1, L, a = 0, b = 0;
	int64_t horizon, seg_limit, m, y;
	int32_t o = 0, p = 0;
	int has_prev = 0, has_next = 0, hinted = 0, mo, d;

	/* Past the year 9999 nothing is promised (and nothing overflows). */
	if (after < -RECUR_T_MAX * RECUR_US || after > RECUR_T_MAX * RECUR_US)
		return -1;
	if (spec->kind == RECUR_EVERY)
		return recur_next_every(spec, after, next);
	if (zone != NULL) {
		o = tz_offset(zone, t);
		if ((has_prev = tz_prev_transition(zone, t, &pt) == 0)) {
			a = pt.at;
			p = pt.before;
		}
		if ((has_next = tz_next_transition(zone, t, &nt) == 0))
			b = nt.at;
	}
	/* Every valid spec fires within 400 years (the Gregorian cycle). */
	tz_civil_from_days(recur_fdiv(t + o, 86400), &y, &mo, &d);
	horizon = tz_days_from_civil(y + 401, 1, 1) * 86400;
	L = t + o;
	for (;;) {
		seg_limit = has_next ? b + o - 1 : horizon;
		if (has_prev && a > t0 && p < o && !(spec->flags & RECUR_SKIP_GAP) &&
		    recur_next_local(spec, a + p, a + o - 1, &m) == 0) {
			*next = a * RECUR_US;
			return 0;
		}
		if (has_prev && p > o && !(spec->flags & RECUR_HOUR_WILD) && L < a + p)
			L = a + p;
		if (recur_next_local(spec, L, seg_limit, &m) == 0) {
			*next = (m - o) * RECUR_US;
			return 0;
		}
		if (!has_next)
			return -1;
		/* Once: whether it ever matches again (a calendar spec whose
		 * years are past), rather than walking 400 years of spans. */
		if (!hinted++ && recur_next_local(spec, L, horizon, &m) == -1)
			return -1;
		has_prev = 1;
		a = b;
		p = o;
		o = nt.after;
		has_next = tz_next_transition(zone, a, &nt) == 0;
		b = nt.at;
		L = a + o;
		if (L > horizon)
			return -1;
	}
}
