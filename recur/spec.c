/*
 * spec: parsers of every, cron and calendar specs, and their normalised
 * description. See spec.h for the forms and docs/schedules.md for the
 * calendar subset.
 */
#include "recur/spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "recur/next.h"
#include "recur/tzfile.h"

#define RECUR_WHY_MAX	160
#define RECUR_TEXT_MAX	1024

/* One field: its name, its range, its names (index v - lo), and where
 * its bits start (bit v - base). */
struct recur_field {
	const char		*name;
	int			 lo, hi;
	const char *const	*names;
	int			 base;
};

static const char *const recur_mon_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
	"nov", "dec",
};
static const char *const recur_dow_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun",
};
/* Calendar weekdays are Monday first, as systemd counts them. */
static const char *const recur_cal_dow[] = {
	"mon", "tue", "wed", "thu", "fri", "sat", "sun",
};
static const char *const recur_cal_dow_long[] = {
	"monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
	"sunday",
};

static const struct recur_field recur_cron_fields[] = {
	{ "second", 0, 59, NULL, 0 },
	{ "minute", 0, 59, NULL, 0 },
	{ "hour", 0, 23, NULL, 0 },
	{ "day-of-month", 1, 31, NULL, 0 },
	{ "month", 1, 12, recur_mon_names, 0 },
	{ "day-of-week", 0, 7, recur_dow_names, 0 },
};

static const struct recur_field recur_cal_year = {
	"year", RECUR_YEAR_MIN, RECUR_YEAR_MAX, NULL, RECUR_YEAR_MIN };
static const struct recur_field recur_cal_month = { "month", 1, 12, NULL, 0 };
static const struct recur_field recur_cal_day = { "day", 1, 31, NULL, 0 };
static const struct recur_field recur_cal_hour = { "hour", 0, 23, NULL, 0 };
static const struct recur_field recur_cal_minute = { "minute", 0, 59, NULL, 0 };
static const struct recur_field recur_cal_second = { "second", 0, 59, NULL, 0 };
static const struct recur_field recur_cal_weekday = {
	"weekday", 0, 6, recur_cal_dow, 0 };

/* How a list is written: cron ("1-5/2") or calendar ("1..5/2"). */
struct recur_syntax {
	const char	*range;		/* "-" or ".." */
	int		 down;		/* calendar ~ days: steps count down */
};

/* Set bit B of the 256-bit set BITS. */
static void
recur_bit_set(uint64_t *bits, int b)
{
	bits[b / 64] |= 1ULL << (b % 64);
}

/* Whether bit B of BITS is set. */
static int
recur_bit_get(const uint64_t *bits, int b)
{
	return (bits[b / 64] >> (b % 64)) & 1;
}

/* Parse a value of field F at *P (a number or one of its names): 0, or -1
 * with WHY. */
static int
recur_value(const char **p, const char *end, const struct recur_field *f,
    int *out, char *why)
{
	const char *s = *p;
	long v = 0;
	size_t n;

	if (s < end && isdigit((unsigned char)*s)) {
		for (; s < end && isdigit((unsigned char)*s); s++) {
			v = v * 10 + (*s - '0');
			if (v > 100000)
				v = 100000;
		}
	} else if (s < end && isalpha((unsigned char)*s) && f->names != NULL) {
		for (n = 0; s + n < end && isalpha((unsigned char)s[n]); n++)
			;
		v = -1;
		for (int i = 0; i <= f->hi - f->lo && v == -1; i++) {
			if ((n == 3 && strncasecmp(s, f->names[i], 3) == 0) ||
			    (f->names == recur_cal_dow && strlen(
			    recur_cal_dow_long[i]) == n && strncasecmp(s,
			    recur_cal_dow_long[i], n) == 0))
				v = f->lo + i;
		}
		if (v == -1) {
			snprintf(why, RECUR_WHY_MAX, "unknown name \"%.*s\"", (int)n, s);
			return -1;
		}
		s += n;
	} else {
		if (s >= end)
			snprintf(why, RECUR_WHY_MAX, "missing value");
		else
			snprintf(why, RECUR_WHY_MAX, "unexpected \"%c\"", *s);
		return -1;
	}
	if (v < f->lo || v > f->hi) {
		snprintf(why, RECUR_WHY_MAX, "%ld out of range %d-%d", v, f->lo, f->hi);
		return -1;
	}
	*out = (int)v;
	*p = s;
	return 0;
}

/*
 * Parse the list [S, END) of field F into BITS: items separated by ",",
 * each "*", "V", "V-V" (cron) or "V..V" (calendar), any of them with
 * "/STEP"; "V/STEP" runs to the end of the range. *STAR tells whether
 * the list starts with "*", *STEP whether any item has a step.
 */
static int
recur_list(const char *s, const char *end, const struct recur_field *f,
    const struct recur_syntax *syn, uint64_t *bits, int *star, int *step,
    char *why)
{
	size_t rlen = strlen(syn->range);
	int a, b, st, open;

	*star = s < end && *s == '*';
	*step = 0;
	if (s >= end) {
		snprintf(why, RECUR_WHY_MAX, "empty");
		return -1;
	}
	for (;;) {
		open = 0;
		if (*s == '*') {
			a = f->lo;
			b = f->hi;
			s++;
		} else {
			if (recur_value(&s, end, f, &a, why) == -1)
				return -1;
			b = a;
			if ((size_t)(end - s) >= rlen && strncmp(s, syn->range, rlen) == 0) {
				s += rlen;
				if (recur_value(&s, end, f, &b, why) == -1)
					return -1;
				if (b < a && !syn->down) {
					snprintf(why, RECUR_WHY_MAX,
					    "range %d%s%d is backwards", a, syn->range, b);
					return -1;
				}
			} else
				open = 1;
		}
		st = 1;
		if (s < end && *s == '/') {
			long v = 0;

			s++;
			if (s >= end || !isdigit((unsigned char)*s)) {
				snprintf(why, RECUR_WHY_MAX, "missing step");
				return -1;
			}
			for (; s < end && isdigit((unsigned char)*s); s++)
				v = v * 10 + (*s - '0') > 100000 ? 100000 : v * 10 + (*s - '0');
			if (v < 1 || v > f->hi - f->lo + 1) {
				snprintf(why, RECUR_WHY_MAX, "step %ld out of range 1-%d",
				    v, f->hi - f->lo + 1);
				return -1;
			}
			st = (int)v;
			*step = 1;
			if (open)
				b = syn->down ? f->lo : f->hi;
		}
		if (syn->down && a > b) {
			/* ~ days: from the a-th last day toward the month's end. */
			for (int v = a; v >= b; v -= st)
				recur_bit_set(bits, v - f->base);
		} else {
			for (int v = a; v <= b; v += st)
				recur_bit_set(bits, v - f->base);
		}
		if (s >= end)
			break;
		if (*s != ',') {
			snprintf(why, RECUR_WHY_MAX, "unexpected \"%c\"", *s);
			return -1;
		}
		if (++s >= end) {
			snprintf(why, RECUR_WHY_MAX, "empty list item");
			return -1;
		}
	}
	return 0;
}

/* All bits LO..HI set. */
static uint64_t
recur_all(int lo, int hi)
{
	uint64_t m = 0;

	for (int v = lo; v <= hi; v++)
		m |= 1ULL << v;
	return m;
}

/* Whether SPEC fires at least once in the years it allows; else -1
 * with the reason in ERR. */
static int
recur_check_fires(const struct recur_spec *spec, char *err, size_t errlen)
{
	int64_t from, limit, out;

	if (spec->kind == RECUR_CALENDAR) {
		from = tz_days_from_civil(RECUR_YEAR_MIN, 1, 1) * 86400;
		limit = tz_days_from_civil(RECUR_YEAR_MAX + 1, 1, 1) * 86400 - 1;
	} else {
		/* 400 years: the whole Gregorian cycle of dates and weekdays. */
		from = tz_days_from_civil(2000, 1, 1) * 86400;
		limit = tz_days_from_civil(2400, 1, 1) * 86400 - 1;
	}
	if (recur_next_local(spec, from, limit, &out) == 0)
		return 0;
	snprintf(err, errlen, "%s: never fires: no date matches its day, month%s"
	    " and weekday fields", recur_kind_name(spec->kind),
	    spec->kind == RECUR_CALENDAR ? ", year" : "");
	return -1;
}

static const struct {
	const char *name;
	const char *fields;
} recur_macros[] = {
	{ "@hourly", "0 * * * *" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@monthly", "0 0 1 * *" },
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
};

/* Parse a cron spec. */
static int
recur_parse_cron(const char *text, struct recur_spec *spec, char *err,
    size_t errlen)
{
	static const struct recur_syntax syn = { "-", 0 };
	const char *f[7], *fe[7], *s = text;
	char why[RECUR_WHY_MAX];
	uint64_t bits[6][4];
	int n = 0, star[6], step[6], first;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '@') {
		for (size_t i = 0; i < sizeof(recur_macros) / sizeof(recur_macros[0]); i++) {
			size_t l = strlen(recur_macros[i].name);

			if (strncasecmp(s, recur_macros[i].name, l) == 0) {
				const char *t = s + l;

				while (isspace((unsigned char)*t))
					t++;
				if (*t == '\0')
					return recur_parse_cron(recur_macros[i].fields,
					    spec, err, errlen);
			}
		}
		snprintf(err, errlen, "cron: unknown macro \"%.*s\"",
		    (int)strcspn(s, " \t\n"), s);
		return -1;
	}
	while (*s != '\0') {
		if (n == 7)
			break;
		f[n] = s;
		while (*s != '\0' && !isspace((unsigned char)*s))
			s++;
		fe[n++] = s;
		while (isspace((unsigned char)*s))
			s++;
	}
	if (n != 5 && n != 6) {
		if (n == 0)
			snprintf(err, errlen, "cron: empty spec");
		else
			snprintf(err, errlen, "cron: expected 5 or 6 fields, got %s%d",
			    n == 7 ? "more than " : "", n == 7 ? 6 : n);
		return -1;
	}
	memset(bits, 0, sizeof(bits));
	first = n == 6 ? 0 : 1;
	if (n == 5) {
		bits[0][0] = 1;	/* second 0 */
		star[0] = step[0] = 0;
	}
	for (int i = 0; i < n; i++) {
		int k = first + i;

		if (recur_list(f[i], fe[i], &recur_cron_fields[k], &syn, bits[k],
		    &star[k], &step[k], why) == -1) {
			snprintf(err, errlen, "cron: field %d (%s): %s", i + 1,
			    recur_cron_fields[k].name, why);
			return -1;
		}
	}
	memset(spec, 0, sizeof(*spec));
	spec->kind = RECUR_CRON;
	spec->sec = bits[0][0];
	spec->min = bits[1][0];
	spec->hour = (uint32_t)bits[2][0];
	spec->dom = (uint32_t)bits[3][0];
	spec->mon = (uint16_t)bits[4][0];
	/* 7 is Sunday too. */
	spec->dow = (uint8_t)((bits[5][0] | bits[5][0] >> 7) & 0x7f);
	spec->flags = RECUR_ALL_YEARS;
	/* Vixie's rule: a field starting with "*" does not restrict. */
	if (!star[3] && !star[5])
		spec->flags |= RECUR_DOM_OR_DOW;
	if (star[2] || step[2])
		spec->flags |= RECUR_HOUR_WILD;
	return recur_check_fires(spec, err, errlen);
}

/* Parse a duration ("1.5", "500ms", "1h30m") at [S, END) into
 * microseconds. */
static int
recur_duration(const char *s, const char *end, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t us;
	} units[] = {
		{ "us", 1 }, { "ms", 1000 }, { "s", RECUR_US },
		{ "m", 60 * RECUR_US }, { "h", 3600 * RECUR_US },
		{ "d", 86400 * RECUR_US }, { "w", 7 * 86400 * RECUR_US },
	};
	int64_t total = 0, whole, frac, scale, us;
	int parts = 0;

	if (s >= end)
		return -1;
	while (s < end) {
		size_t ul;
		int found = -1;

		whole = frac = 0;
		scale = 1;
		if (!isdigit((unsigned char)*s))
			return -1;
		for (; s < end && isdigit((unsigned char)*s); s++)
			if ((whole = whole * 10 + (*s - '0')) > 1000000000LL)
				return -1;
		if (s < end && *s == '.') {
			s++;
			if (s >= end || !isdigit((unsigned char)*s))
				return -1;
			for (; s < end && isdigit((unsigned char)*s); s++) {
				if (scale < 1000000000LL) {
					frac = frac * 10 + (*s - '0');
					scale *= 10;
				}
			}
		}
		for (ul = 0; s + ul < end && isalpha((unsigned char)s[ul]); ul++)
			;
		if (ul == 0) {
			/* A bare number is seconds, and only alone. */
			if (parts > 0 || s != end)
				return -1;
			found = 2;
		} else {
			for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
				if (strlen(units[i].unit) == ul &&
				    strncmp(s, units[i].unit, ul) == 0)
					found = (int)i;
			if (found == -1)
				return -1;
		}
		us = whole * units[found].us + frac * units[found].us / scale;
		if ((total += us) > 100LL * 365 * 86400 * RECUR_US)
			return -1;
		s += ul;
		parts++;
	}
	*out = total;
	return 0;
}

/* Parse an every spec: DURATION [@ANCHOR]. */
static int
recur_parse_every(const char *text, struct recur_spec *spec, char *err,
    size_t errlen)
{
	const char *s = text, *e, *at;
	int64_t period, anchor = 0;
	char *endp;
	double a;

	while (isspace((unsigned char)*s))
		s++;
	at = strchr(s, '@');
	e = at != NULL ? at : s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	if (recur_duration(s, e, &period) == -1) {
		snprintf(err, errlen, "every: \"%.*s\" is not a duration (30, 1.5,"
		    " 500ms, 1h30m)", (int)(e - s), s);
		return -1;
	}
	if (period <= 0) {
		snprintf(err, errlen, "every: must be > 0");
		return -1;
	}
	if (at != NULL) {
		errno = 0;
		a = strtod(at + 1, &endp);
		while (isspace((unsigned char)*endp))
			endp++;
		if (endp == at + 1 || *endp != '\0' || errno != 0 ||
		    !(a > -1e13 && a < 1e13)) {
			snprintf(err, errlen, "every: anchor after @ must be a Unix time");
			return -1;
		}
		anchor = (int64_t)(a * 1e6 + (a < 0 ? -0.5 : 0.5));
	}
	memset(spec, 0, sizeof(*spec));
	spec->kind = RECUR_EVERY;
	spec->u.every.period = period;
	spec->u.every.anchor = anchor;
	return 0;
}

/* Calendar shorthands, as systemd.time(7) defines them. */
static const struct {
	const char *name;
	const char *full;
} recur_shorthands[] = {
	{ "minutely", "*-*-* *:*:00" },
	{ "hourly", "*-*-* *:00:00" },
	{ "daily", "*-*-* 00:00:00" },
	{ "weekly", "Mon *-*-* 00:00:00" },
	{ "monthly", "*-*-01 00:00:00" },
	{ "yearly", "*-01-01 00:00:00" },
	{ "annually", "*-01-01 00:00:00" },
	{ "quarterly", "*-01,04,07,10-01 00:00:00" },
	{ "semiannually", "*-01,07-01 00:00:00" },
};

/* Parse component [S, END) of a calendar spec as field F into BITS, or
 * report it at its column. */
static int
recur_cal_part(const char *text, const char *s, const char *end,
    const struct recur_field *f, int down, uint64_t *bits, int *star,
    int *step, char *err, size_t errlen)
{
	struct recur_syntax syn = { "..", down };
	char why[RECUR_WHY_MAX];

	if (recur_list(s, end, f, &syn, bits, star, step, why) == -1) {
		snprintf(err, errlen, "calendar: %s (column %d): %s", f->name,
		    (int)(s - text) + 1, why);
		return -1;
	}
	return 0;
}

/* Parse the date token [S, END): [Y-]M-D or [Y-]M~D. */
static int
recur_cal_date(const char *text, const char *s, const char *end,
    struct recur_spec *spec, char *err, size_t errlen)
{
	const char *sep[3], *p;
	uint64_t bits[4];
	int nsep = 0, star, step, tilde = 0;

	for (p = s; p < end; p++) {
		if (*p == '-' || *p == '~') {
			if (nsep == 2) {
				snprintf(err, errlen, "calendar: date (column %d): too"
				    " many parts", (int)(s - text) + 1);
				return -1;
			}
			sep[nsep++] = p;
		}
	}
	if (nsep == 0 || (nsep == 2 && *sep[0] == '~')) {
		snprintf(err, errlen, "calendar: date (column %d): expected"
		    " [YEAR-]MONTH-DAY", (int)(s - text) + 1);
		return -1;
	}
	tilde = *sep[nsep - 1] == '~';
	p = s;
	memset(spec->u.years, 0, sizeof(spec->u.years));
	if (nsep == 2) {
		if (recur_cal_part(text, s, sep[0], &recur_cal_year, 0,
		    spec->u.years, &star, &step, err, errlen) == -1)
			return -1;
		if (star && !step)
			spec->flags |= RECUR_ALL_YEARS;
		p = sep[0] + 1;
	} else
		spec->flags |= RECUR_ALL_YEARS;
	memset(bits, 0, sizeof(bits));
	if (recur_cal_part(text, p, sep[nsep - 1], &recur_cal_month, 0, bits,
	    &star, &step, err, errlen) == -1)
		return -1;
	spec->mon = (uint16_t)bits[0];
	memset(bits, 0, sizeof(bits));
	if (recur_cal_part(text, sep[nsep - 1] + 1, end, &recur_cal_day, tilde,
	    bits, &star, &step, err, errlen) == -1)
		return -1;
	spec->dom = (uint32_t)bits[0];
	if (tilde)
		spec->flags |= RECUR_LAST_DAYS;
	return 0;
}

/* Parse the time token [S, END): H:M[:S]. */
static int
recur_cal_time(const char *text, const char *s, const char *end,
    struct recur_spec *spec, char *err, size_t errlen)
{
	const struct recur_field *fields[3] = {
		&recur_cal_hour, &recur_cal_minute, &recur_cal_second };
	const char *p = s, *q;
	uint64_t bits[3][4];
	int star, step, n;

	memset(bits, 0, sizeof(bits));
	bits[2][0] = 1;	/* seconds 0 when left out */
	for (n = 0; n < 3 && p <= end; n++) {
		for (q = p; q < end && *q != ':'; q++)
			;
		if (n == 2 && memchr(p, '.', (size_t)(q - p)) != NULL) {
			snprintf(err, errlen, "calendar: second (column %d): fractions"
			    " of a second are not supported", (int)(p - text) + 1);
			return -1;
		}
		if (n == 2)
			bits[2][0] = 0;
		if (recur_cal_part(text, p, q, fields[n], 0, bits[n], &star, &step,
		    err, errlen) == -1)
			return -1;
		if (n == 0 && (star || step))
			spec->flags |= RECUR_HOUR_WILD;
		p = q + 1;
		if (q == end)
			break;
	}
	if (n < 1 || p <= end) {
		snprintf(err, errlen, "calendar: time (column %d): expected"
		    " HOUR:MINUTE[:SECOND]", (int)(s - text) + 1);
		return -1;
	}
	spec->hour = (uint32_t)bits[0][0];
	spec->min = bits[1][0];
	spec->sec = bits[2][0];
	return 0;
}

/* Parse a calendar spec (see docs/schedules.md). */
static int
recur_parse_calendar(const char *text, struct recur_spec *spec, char *err,
    size_t errlen)
{
	const char *tok[4], *tend[4], *s = text;
	uint64_t bits[4];
	int n = 0, i = 0, star, step, have_date = 0, have_time = 0;

	while (*s != '\0' && n < 4) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		tok[n] = s;
		while (*s != '\0' && !isspace((unsigned char)*s))
			s++;
		tend[n++] = s;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (n == 0) {
		snprintf(err, errlen, "calendar: empty spec");
		return -1;
	}
	if (n == 1) {
		for (size_t k = 0; k < sizeof(recur_shorthands) /
		    sizeof(recur_shorthands[0]); k++) {
			if ((size_t)(tend[0] - tok[0]) == strlen(recur_shorthands[k].name) &&
			    strncasecmp(tok[0], recur_shorthands[k].name,
			    (size_t)(tend[0] - tok[0])) == 0)
				return recur_parse_calendar(recur_shorthands[k].full,
				    spec, err, errlen);
		}
	}
	memset(spec, 0, sizeof(*spec));
	spec->kind = RECUR_CALENDAR;
	spec->dow = 0x7f;
	spec->mon = (uint16_t)recur_all(1, 12);
	spec->dom = (uint32_t)recur_all(1, 31);
	spec->hour = 1;
	spec->min = 1;
	spec->sec = 1;
	spec->flags = RECUR_ALL_YEARS;
	memset(spec->u.years, 0xff, sizeof(spec->u.years));
	/* Weekdays come first and start with a letter. */
	if (isalpha((unsigned char)*tok[0]) &&
	    memchr(tok[0], ':', (size_t)(tend[0] - tok[0])) == NULL) {
		memset(bits, 0, sizeof(bits));
		if (recur_cal_part(text, tok[0], tend[0], &recur_cal_weekday, 0,
		    bits, &star, &step, err, errlen) == -1)
			return -1;
		/* Monday-first bits to Sunday-first. */
		spec->dow = (uint8_t)(((bits[0] << 1) | (bits[0] >> 6)) & 0x7f);
		i++;
	}
	if (i < n && memchr(tok[i], ':', (size_t)(tend[i] - tok[i])) == NULL &&
	    (memchr(tok[i], '-', (size_t)(tend[i] - tok[i])) != NULL ||
	    memchr(tok[i], '~', (size_t)(tend[i] - tok[i])) != NULL)) {
		spec->flags &= (uint8_t)~RECUR_ALL_YEARS;
		if (recur_cal_date(text, tok[i], tend[i], spec, err, errlen) == -1)
			return -1;
		have_date = 1;
		i++;
	}
	if (i < n && memchr(tok[i], ':', (size_t)(tend[i] - tok[i])) != NULL) {
		if (recur_cal_time(text, tok[i], tend[i], spec, err, errlen) == -1)
			return -1;
		have_time = 1;
		i++;
	}
	if (i < n || *s != '\0')
		goto extra;
	if (!have_date && !have_time && i == 0)
		goto extra;
	if ((spec->flags & RECUR_ALL_YEARS))
		memset(spec->u.years, 0xff, sizeof(spec->u.years));
	return recur_check_fires(spec, err, errlen);
extra:
	if (i < n && (strchr("+-", *tok[i]) != NULL || isalpha((unsigned char)*tok[i]))
	    && i > 0)
		snprintf(err, errlen, "calendar: \"%.*s\" (column %d): time zones"
		    " in the spec are not supported; use the tz field",
		    (int)(tend[i] - tok[i]), tok[i], (int)(tok[i] - text) + 1);
	else if (i < n)
		snprintf(err, errlen, "calendar: \"%.*s\" (column %d): expected"
		    " [WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] or a"
		    " shorthand such as daily", (int)(tend[i] - tok[i]), tok[i],
		    (int)(tok[i] - text) + 1);
	else
		snprintf(err, errlen, "calendar: too many parts (column %d)",
		    (int)(s - text) + 1);
	return -1;
}

int
recur_parse(enum recur_kind kind, const char *text, struct recur_spec *spec,
    char *err, size_t errlen)
{
	if (strlen(text) > RECUR_TEXT_MAX) {
		snprintf(err, errlen, "%s: longer than %d bytes", recur_kind_name(kind),
		    RECUR_TEXT_MAX);
		return -1;
	}
	switch (kind) {
	case RECUR_EVERY:
		return recur_parse_every(text, spec, err, errlen);
	case RECUR_CRON:
		return recur_parse_cron(text, spec, err, errlen);
	case RECUR_CALENDAR:
		return recur_parse_calendar(text, spec, err, errlen);
	}
	snprintf(err, errlen, "unknown kind of spec");
	return -1;
}

enum recur_kind
recur_kind_from_name(const char *name)
{
	if (strcmp(name, "every") == 0)
		return RECUR_EVERY;
	if (strcmp(name, "cron") == 0)
		return RECUR_CRON;
	if (strcmp(name, "calendar") == 0)
		return RECUR_CALENDAR;
	return 0;
}

const char *
recur_kind_name(enum recur_kind kind)
{
	switch (kind) {
	case RECUR_EVERY:
		return "every";
	case RECUR_CRON:
		return "cron";
	case RECUR_CALENDAR:
		return "calendar";
	}
	return "?";
}

enum recur_kind
recur_guess(const char *text)
{
	const char *s = text;
	int n = 0;
	int64_t us;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '@')
		return RECUR_CRON;
	for (const char *p = s; *p != '\0'; n++) {
		p += strcspn(p, " \t");
		p += strspn(p, " \t");
	}
	if (n == 5 || n == 6)
		return RECUR_CRON;
	if (recur_duration(s, s + strcspn(s, " \t@"), &us) == 0)
		return RECUR_EVERY;
	return RECUR_CALENDAR;
}

int
recur_hour_wild(const struct recur_spec *spec)
{
	return (spec->flags & RECUR_HOUR_WILD) != 0;
}

/* Append the set bits LO..HI of BITS (offset BASE) as "1-5,7" or "*". */
static void
recur_bits_text(char *buf, size_t len, const uint64_t *bits, int lo, int hi,
    int base, const char *prefix)
{
	size_t at = strlen(buf);
	int v = lo, all = 1, first = 1, end;

	for (int k = lo; k <= hi; k++)
		all &= recur_bit_get(bits, k - base);
	if (all) {
		snprintf(buf + at, len - at, "*");
		return;
	}
	while (v <= hi) {
		if (!recur_bit_get(bits, v - base)) {
			v++;
			continue;
		}
		for (end = v; end + 1 <= hi && recur_bit_get(bits, end + 1 - base); end++)
			;
		at = strlen(buf);
		if (end == v)
			snprintf(buf + at, len - at, "%s%s%d", first ? "" : ",", prefix, v);
		else
			snprintf(buf + at, len - at, "%s%s%d-%s%d", first ? "" : ",",
			    prefix, v, prefix, end);
		first = 0;
		v = end + 1;
	}
	if (first) {
		at = strlen(buf);
		snprintf(buf + at, len - at, "none");
	}
}

/* Append formatted text to BUF. */
static void
recur_cat(char *buf, size_t len, const char *s)
{
	size_t at = strlen(buf);

	snprintf(buf + at, len - at, "%s", s);
}

char *
recur_describe(const struct recur_spec *spec, char *buf, size_t len)
{
	uint64_t b[4] = { 0, 0, 0, 0 };

	buf[0] = '\0';
	if (spec->kind == RECUR_EVERY) {
		snprintf(buf, len, "every=%lld.%06llds anchor=%lld.%06llds",
		    (long long)(spec->u.every.period / RECUR_US),
		    (long long)(spec->u.every.period % RECUR_US),
		    (long long)(spec->u.every.anchor / RECUR_US),
		    (long long)llabs(spec->u.every.anchor % RECUR_US));
		return buf;
	}
	recur_cat(buf, len, "sec=");
	b[0] = spec->sec;
	recur_bits_text(buf, len, b, 0, 59, 0, "");
	recur_cat(buf, len, " min=");
	b[0] = spec->min;
	recur_bits_text(buf, len, b, 0, 59, 0, "");
	recur_cat(buf, len, " hour=");
	b[0] = spec->hour;
	recur_bits_text(buf, len, b, 0, 23, 0, "");
	recur_cat(buf, len, " dom=");
	b[0] = spec->dom;
	recur_bits_text(buf, len, b, 1, 31, 0,
	    (spec->flags & RECUR_LAST_DAYS) ? "~" : "");
	recur_cat(buf, len, " mon=");
	b[0] = spec->mon;
	recur_bits_text(buf, len, b, 1, 12, 0, "");
	recur_cat(buf, len, " dow=");
	b[0] = spec->dow;
	recur_bits_text(buf, len, b, 0, 6, 0, "");
	if (spec->kind == RECUR_CALENDAR) {
		recur_cat(buf, len, " year=");
		if (spec->flags & RECUR_ALL_YEARS)
			recur_cat(buf, len, "*");
		else
			recur_bits_text(buf, len, spec->u.years, RECUR_YEAR_MIN,
			    RECUR_YEAR_MAX, RECUR_YEAR_MIN, "");
	}
	recur_cat(buf, len, (spec->flags & RECUR_DOM_OR_DOW) ? " days=or" : " days=and");
	recur_cat(buf, len, (spec->flags & RECUR_HOUR_WILD) ? " hours=wild" :
	    " hours=fixed");
	return buf;
}
