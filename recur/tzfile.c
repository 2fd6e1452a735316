/*
 * tzfile: a reader of TZif zone files (RFC 8536, version 2 and later) and
 * of the POSIX TZ rule in their footer, with answers in both directions
 * (UTC to local, local to UTC) and a cache of loaded zones.
 *
 * Only the 64-bit data of a file is used. Before the first transition the
 * zone is in its first time type; from the last transition on, the footer
 * rule decides (as glibc does), or the last type when there is none.
 * Zone files with leap seconds ("right/...") are refused: their times are
 * not Unix times.
 */
#include "recur/tzfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_FILE_MAX	(512 * 1024)
#define TZ_FOOTER_MAX	128
#define TZ_UTOFF_MIN	(-89999)	/* RFC 8536 section 3.2 */
#define TZ_UTOFF_MAX	93599
#define TZ_RULE_TIME_MAX (167 * 3600)	/* RFC 8536 section 3.3.1 */
#define TZ_SCAN_MAX	64		/* offset-preserving transitions skipped */

/* One local time type of the file. */
struct tz_type {
	int32_t		 utoff;
	int		 isdst;
	char		 abbr[TZ_ABBR_MAX];
};

/* A date of a POSIX rule: Jn, n or Mm.w.d, and the local time of day. */
struct tz_rdate {
	char		 kind;		/* 'J', 'N' or 'M' */
	int		 n;		/* J: 1..365, N: 0..365 */
	int		 m, w, d;	/* M: month, week 1..5, weekday */
	int32_t		 time;		/* seconds after local midnight */
};

/* A POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3"). */
struct tz_posix {
	int		 present;
	int		 has_dst;
	int32_t		 std_off;	/* seconds east of UTC */
	int32_t		 dst_off;
	char		 std_abbr[TZ_ABBR_MAX];
	char		 dst_abbr[TZ_ABBR_MAX];
	struct tz_rdate	 start, end;
};

struct tz_zone {
	char		 name[TZ_NAME_MAX + 1];
	size_t		 n;		/* transitions */
	int64_t		*times;
	unsigned char	*idx;
	size_t		 ntypes;
	struct tz_type	*types;
	struct tz_posix	 rule;
	char		 footer[TZ_FOOTER_MAX];
};

struct tz_cache {
	char		*root;
	struct tz_zone	**zones;	/* sorted by name */
	size_t		 n, cap;
};

/* Floor division for possibly negative A. */
static int64_t
tz_fdiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The modulo that goes with tz_fdiv: in [0, B) for B > 0. */
static int64_t
tz_fmod(int64_t a, int64_t b)
{
	return a - tz_fdiv(a, b) * b;
}

int64_t
tz_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = tz_fdiv(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
tz_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = tz_fdiv(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int
tz_weekday(int64_t days)
{
	return (int)tz_fmod(days + 4, 7);
}

/* Whether Y is a leap year. */
static int
tz_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
tz_month_days(int64_t y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && tz_leap(y) ? 29 : days[m - 1];
}

int
tz_name_valid(const char *name)
{
	size_t len = strlen(name), comp = 0;
	const char *c, *start = name;

	if (len == 0 || len > TZ_NAME_MAX || name[0] == '/')
		return 0;
	for (c = name; ; c++) {
		if (*c == '/' || *c == '\0') {
			comp = (size_t)(c - start);
			/* No empty, "." or ".." component, nor a hidden file. */
			if (comp == 0 || start[0] == '.')
				return 0;
			if (*c == '\0')
				break;
			start = c + 1;
			continue;
		}
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		    (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' ||
		    *c == '+' || *c == '.'))
			return 0;
	}
	return 1;
}

/* A big-endian 64-bit integer of the file. */
static int64_t
tz_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

/* A big-endian 32-bit integer of the file. */
static int32_t
tz_be32(const unsigned char *p)
{
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

/* Parse the abbreviation of a POSIX TZ string at *P into OUT. */
static int
tz_posix_abbr(const char **p, char *out)
{
	const char *s = *p;
	size_t n = 0;

	if (*s == '<') {
		for (s++; *s != '>'; s++) {
			if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			    (*s >= '0' && *s <= '9') || *s == '+' || *s == '-') ||
			    n + 1 >= TZ_ABBR_MAX)
				return -1;
			out[n++] = *s;
		}
		s++;
	} else {
		for (; (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'); s++) {
			if (n + 1 >= TZ_ABBR_MAX)
				return -1;
			out[n++] = *s;
		}
	}
	out[n] = '\0';
	if (n < 3)
		return -1;
	*p = s;
	return 0;
}

/* Parse [+-]hh[:mm[:ss]] at *P, hh at most MAXH; seconds in *OUT. */
static int
tz_posix_time(const char **p, int maxh, int32_t *out)
{
	const char *s = *p;
	int sign = 1, part[3] = { 0, 0, 0 }, i, digits;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	for (i = 0; i < 3; i++) {
		if (i > 0) {
			if (*s != ':')
				break;
			s++;
		}
		for (digits = 0; *s >= '0' && *s <= '9' && digits < 3; digits++)
			part[i] = part[i] * 10 + (*s++ - '0');
		if (digits == 0 || (i > 0 && (digits != 2 || part[i] > 59)))
			return -1;
	}
	if (part[0] > maxh)
		return -1;
	*out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	*p = s;
	return 0;
}

/* Parse a number of 1..3 digits in [lo, hi] at *P. */
static int
tz_posix_num(const char **p, int lo, int hi, int *out)
{
	int v = 0, digits = 0;

	while (**p >= '0' && **p <= '9' && digits < 3) {
		v = v * 10 + (*(*p)++ - '0');
		digits++;
	}
	if (digits == 0 || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Parse a rule date and its optional /time at *P. */
static int
tz_posix_rdate(const char **p, struct tz_rdate *r)
{
	memset(r, 0, sizeof(*r));
	r->time = 7200;
	if (**p == 'J') {
		(*p)++;
		r->kind = 'J';
		if (tz_posix_num(p, 1, 365, &r->n) == -1)
			return -1;
	} else if (**p == 'M') {
		(*p)++;
		r->kind = 'M';
		if (tz_posix_num(p, 1, 12, &r->m) == -1 || *(*p)++ != '.' ||
		    tz_posix_num(p, 1, 5, &r->w) == -1 || *(*p)++ != '.' ||
		    tz_posix_num(p, 0, 6, &r->d) == -1)
			return -1;
	} else {
		r->kind = 'N';
		if (tz_posix_num(p, 0, 365, &r->n) == -1)
			return -1;
	}
	if (**p == '/') {
		(*p)++;
		if (tz_posix_time(p, 167, &r->time) == -1)
			return -1;
	}
	return 0;
}

/* Parse POSIX TZ string S into R; 0 or -1. An empty string is no rule. */
static int
tz_posix_parse(const char *s, struct tz_posix *r)
{
	int32_t off;

	memset(r, 0, sizeof(*r));
	if (*s == '\0')
		return 0;
	if (tz_posix_abbr(&s, r->std_abbr) == -1 ||
	    tz_posix_time(&s, 24, &off) == -1)
		return -1;
	r->std_off = -off;
	r->present = 1;
	if (*s == '\0')
		return 0;
	if (tz_posix_abbr(&s, r->dst_abbr) == -1)
		return -1;
	r->has_dst = 1;
	r->dst_off = r->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if (tz_posix_time(&s, 24, &off) == -1)
			return -1;
		r->dst_off = -off;
	}
	if (*s == '\0') {
		/* No rule: the US one, as glibc assumes. */
		r->start = (struct tz_rdate){ 'M', 0, 3, 2, 0, 7200 };
		r->end = (struct tz_rdate){ 'M', 0, 11, 1, 0, 7200 };
		return 0;
	}
	if (*s++ != ',' || tz_posix_rdate(&s, &r->start) == -1 ||
	    *s++ != ',' || tz_posix_rdate(&s, &r->end) == -1 || *s != '\0')
		return -1;
	return 0;
}

/* Day number (since 1970) of rule date R in year Y. */
static int64_t
tz_rdate_day(const struct tz_rdate *r, int64_t y)
{
	int64_t jan1 = tz_days_from_civil(y, 1, 1), first;
	int day;

	switch (r->kind) {
	case 'J':
		/* 1..365, February 29 never counted. */
		return jan1 + r->n - 1 + (tz_leap(y) && r->n >= 60);
	case 'N':
		return jan1 + r->n;
	default:
		first = tz_days_from_civil(y, r->m, 1);
		day = 1 + (r->d - tz_weekday(first) + 7) % 7 + (r->w - 1) * 7;
		while (day > tz_month_days(y, r->m))
			day -= 7;
		return first + day - 1;
	}
}

/* The Unix times DST starts (*S) and ends (*E) in year Y under rule R. */
static void
tz_posix_year(const struct tz_posix *r, int64_t y, int64_t *s, int64_t *e)
{
	*s = tz_rdate_day(&r->start, y) * 86400 + r->start.time - r->std_off;
	*e = tz_rdate_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
}

/* The year of Unix time T on the rule's standard-time calendar. */
static int64_t
tz_posix_yearof(const struct tz_posix *r, int64_t t)
{
	int64_t y;
	int m, d;

	tz_civil_from_days(tz_fdiv(t + r->std_off, 86400), &y, &m, &d);
	return y;
}

/* Whether DST is in effect at T under rule R (which has DST). */
static int
tz_posix_isdst(const struct tz_posix *r, int64_t t)
{
	int64_t y = tz_posix_yearof(r, t), s, e;

	tz_posix_year(r, y, &s, &e);
	if (s < e)
		return t >= s && t < e;
	return !(t >= e && t < s);
}

/* The first rule change strictly after T (-1 if R has no DST). */
static int
tz_posix_next(const struct tz_posix *r, int64_t t, int64_t *out)
{
	int64_t y = tz_posix_yearof(r, t), s, e, best = INT64_MAX;

	if (!r->has_dst)
		return -1;
	for (int64_t yy = y - 1; yy <= y + 2; yy++) {
		tz_posix_year(r, yy, &s, &e);
		if (s > t && s < best)
			best = s;
		if (e > t && e < best)
			best = e;
	}
	*out = best;
	return 0;
}

/* The last rule change at or before T (-1 if R has no DST). */
static int
tz_posix_prev(const struct tz_posix *r, int64_t t, int64_t *out)
{
	int64_t y = tz_posix_yearof(r, t), s, e, best = INT64_MIN;

	if (!r->has_dst)
		return -1;
	for (int64_t yy = y - 2; yy <= y + 1; yy++) {
		tz_posix_year(r, yy, &s, &e);
		if (s <= t && s > best)
			best = s;
		if (e <= t && e > best)
			best = e;
	}
	*out = best;
	return 0;
}

/* Whether the footer rule decides at T. */
static int
tz_use_rule(const struct tz_zone *z, int64_t t)
{
	return z->rule.present && (z->n == 0 || t >= z->times[z->n - 1]);
}

/* The time type in the table at T (the rule aside). */
static const struct tz_type *
tz_table_type(const struct tz_zone *z, int64_t t)
{
	size_t lo = 0, hi = z->n;

	if (z->n == 0 || t < z->times[0])
		return &z->types[0];
	/* The last transition at or before t. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return &z->types[z->idx[lo]];
}

void
tz_lookup(const struct tz_zone *z, int64_t t, struct tz_info *info)
{
	const struct tz_type *type;
	int dst;

	if (tz_use_rule(z, t)) {
		dst = z->rule.has_dst && tz_posix_isdst(&z->rule, t);
		info->utoff = dst ? z->rule.dst_off : z->rule.std_off;
		info->isdst = dst;
		snprintf(info->abbr, sizeof(info->abbr), "%s",
		    dst ? z->rule.dst_abbr : z->rule.std_abbr);
		return;
	}
	type = tz_table_type(z, t);
	info->utoff = type->utoff;
	info->isdst = type->isdst;
	memcpy(info->abbr, type->abbr, sizeof(info->abbr));
}

int32_t
tz_offset(const struct tz_zone *z, int64_t t)
{
	if (tz_use_rule(z, t)) {
		if (z->rule.has_dst && tz_posix_isdst(&z->rule, t))
			return z->rule.dst_off;
		return z->rule.std_off;
	}
	return tz_table_type(z, t)->utoff;
}

/* The first transition of the file or rule strictly after T, whether or
 * not the offset changes. */
static int
tz_raw_next(const struct tz_zone *z, int64_t t, int64_t *out)
{
	size_t lo = 0, hi = z->n;

	if (z->n > 0 && t < z->times[z->n - 1]) {
		/* The first index whose time is > t. */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (z->times[mid] <= t)
				lo = mid + 1;
			else
				hi = mid;
		}
		*out = z->times[lo];
		return 0;
	}
	if (!z->rule.present)
		return -1;
	return tz_posix_next(&z->rule, t, out);
}

/* The last transition at or before T, offset changed or not. */
static int
tz_raw_prev(const struct tz_zone *z, int64_t t, int64_t *out)
{
	size_t lo = 0, hi = z->n;
	int64_t r;

	if (tz_use_rule(z, t) && tz_posix_prev(&z->rule, t, &r) == 0 &&
	    (z->n == 0 || r >= z->times[z->n - 1])) {
		*out = r;
		return 0;
	}
	if (z->n == 0 || t < z->times[0])
		return -1;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	*out = z->times[lo];
	return 0;
}

int
tz_next_transition(const struct tz_zone *z, int64_t t, struct tz_transition *tr)
{
	int64_t at;

	for (int i = 0; i < TZ_SCAN_MAX; i++) {
		if (tz_raw_next(z, t, &at) == -1)
			return -1;
		tr->at = at;
		tr->before = tz_offset(z, at - 1);
		tr->after = tz_offset(z, at);
		if (tr->before != tr->after)
			return 0;
		t = at;
	}
	return -1;
}

int
tz_prev_transition(const struct tz_zone *z, int64_t t, struct tz_transition *tr)
{
	int64_t at;

	for (int i = 0; i < TZ_SCAN_MAX; i++) {
		if (tz_raw_prev(z, t, &at) == -1)
			return -1;
		tr->at = at;
		tr->before = tz_offset(z, at - 1);
		tr->after = tz_offset(z, at);
		if (tr->before != tr->after)
			return 0;
		t = at - 1;
	}
	return -1;
}

/*
 * The Unix times t with t + offset(t) == local are found segment by
 * segment (spans of constant offset) over a window wide enough for any
 * offset; none means a gap, found as the transition jumping over it.
 */
void
tz_resolve(const struct tz_zone *z, int64_t local, struct tz_resolution *res)
{
	const int64_t wide = 30 * 3600;
	struct tz_transition tr;
	int64_t a = local - wide, t;
	int32_t o = tz_offset(z, a);
	int found = 0, has_next, gap = 0;

	memset(res, 0, sizeof(*res));
	for (;;) {
		has_next = tz_next_transition(z, a, &tr) == 0 &&
		    tr.at <= local + wide;
		t = local - o;
		if (t >= a && (!has_next || t < tr.at)) {
			if (found < 2)
				res->utc[found] = t;
			else
				res->utc[1] = t;
			found++;
		}
		if (!has_next)
			break;
		if (tr.after > tr.before && local >= tr.at + tr.before &&
		    local < tr.at + tr.after && !gap) {
			gap = 1;
			res->before = tr.before;
			res->after = tr.after;
			res->utc[0] = tr.at;
		}
		a = tr.at;
		o = tr.after;
	}
	if (found == 0 && gap)
		res->kind = TZ_GAP;
	else if (found >= 2)
		res->kind = TZ_OVERLAP;
	else {
		res->kind = TZ_UNIQUE;
		if (found == 0)
			res->utc[0] = local - o;
	}
}

/* Check the counts of a TZif header at P, filling C; 0 or -1. */
static int
tz_header(const unsigned char *p, size_t left, uint32_t c[6])
{
	if (left < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	for (int i = 0; i < 6; i++)
		c[i] = (uint32_t)tz_be32(p + 20 + 4 * i);
	return 0;
}

struct tz_zone *
tz_zone_parse(const char *name, const unsigned char *buf, size_t len,
    char *err, size_t errlen)
{
	struct tz_zone *z = NULL;
	uint32_t c[6];	/* isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
	const unsigned char *p = buf, *types, *chars, *end = buf + len, *nl;
	size_t v1, need;
	const char *why = "not a TZif file";

	if (tz_header(p, len, c) == -1)
		goto bad;
	if (p[4] < '2') {
		why = "version 1 zone files are not supported";
		goto bad;
	}
	v1 = (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 +
	    c[1] + c[0];
	if (v1 > len - 44) {
		why = "truncated zone file";
		goto bad;
	}
	p += 44 + v1;
	if (tz_header(p, (size_t)(end - p), c) == -1) {
		why = "truncated zone file";
		goto bad;
	}
	p += 44;
	need = (size_t)c[3] * 9 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 12 +
	    c[1] + c[0];
	if (need > (size_t)(end - p) || c[4] == 0 || c[4] > 256 ||
	    (c[0] != 0 && c[0] != c[4]) || (c[1] != 0 && c[1] != c[4])) {
		why = "bad zone file";
		goto bad;
	}
	if (c[2] != 0) {
		why = "zone files with leap seconds are not supported";
		goto bad;
	}
	if ((z = calloc(1, sizeof(*z))) == NULL ||
	    (z->times = calloc(c[3] + 1, sizeof(*z->times))) == NULL ||
	    (z->idx = calloc(c[3] + 1, 1)) == NULL ||
	    (z->types = calloc(c[4], sizeof(*z->types))) == NULL) {
		why = "out of memory";
		goto bad;
	}
	snprintf(z->name, sizeof(z->name), "%s", name);
	z->n = c[3];
	z->ntypes = c[4];
	for (size_t i = 0; i < z->n; i++) {
		z->times[i] = tz_be64(p + 8 * i);
		if (i > 0 && z->times[i] <= z->times[i - 1]) {
			why = "zone file transitions out of order";
			goto bad;
		}
	}
	p += 8 * z->n;
	for (size_t i = 0; i < z->n; i++) {
		z->idx[i] = p[i];
		if (p[i] >= z->ntypes) {
			why = "bad zone file";
			goto bad;
		}
	}
	p += z->n;
	types = p;
	chars = p + 6 * z->ntypes;
	for (size_t i = 0; i < z->ntypes; i++) {
		const unsigned char *ty = types + 6 * i;
		size_t ai = ty[5], al;

		z->types[i].utoff = tz_be32(ty);
		z->types[i].isdst = ty[4] != 0;
		if (z->types[i].utoff < TZ_UTOFF_MIN ||
		    z->types[i].utoff > TZ_UTOFF_MAX || ai >= c[5]) {
			why = "bad zone file";
			goto bad;
		}
		al = strnlen((const char *)chars + ai, c[5] - ai);
		if (al >= TZ_ABBR_MAX)
			al = TZ_ABBR_MAX - 1;
		memcpy(z->types[i].abbr, chars + ai, al);
	}
	p += need - (size_t)z->n * 9;
	/* The footer: "\nTZ string\n". */
	if (p < end) {
		if (*p != '\n' || (nl = memchr(p + 1, '\n', (size_t)(end - p - 1))) == NULL ||
		    (size_t)(nl - p - 1) >= sizeof(z->footer)) {
			why = "bad zone file footer";
			goto bad;
		}
		memcpy(z->footer, p + 1, (size_t)(nl - p - 1));
		if (tz_posix_parse(z->footer, &z->rule) == -1) {
			why = "bad TZ rule in the zone file footer";
			goto bad;
		}
	}
	return z;
bad:
	snprintf(err, errlen, "%s: %s", name, why);
	tz_zone_free(z);
	return NULL;
}

/* A built-in UTC for systems without zone files. */
static struct tz_zone *
tz_zone_utc(char *err, size_t errlen)
{
	static const unsigned char utc[] = {
		'T', 'Z', 'i', 'f', '2', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4,
		0, 0, 0, 0, 0, 0, 'U', 'T', 'C', 0,
		'T', 'Z', 'i', 'f', '2', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4,
		0, 0, 0, 0, 0, 0, 'U', 'T', 'C', 0,
		'\n', 'U', 'T', 'C', '0', '\n',
	};

	return tz_zone_parse("UTC", utc, sizeof(utc), err, errlen);
}

struct tz_zone *
tz_zone_load(const char *root, const char *name, char *err, size_t errlen)
{
	char path[4096];
	unsigned char *buf = NULL;
	struct tz_zone *z = NULL;
	struct stat st;
	ssize_t r;
	size_t len = 0;
	int fd = -1;

	if (!tz_name_valid(name)) {
		snprintf(err, errlen, "invalid time zone name");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", root != NULL ? root : TZ_ROOT_DEFAULT,
	    name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (strcmp(name, "UTC") == 0)
			z = tz_zone_utc(err, errlen);
		else
			snprintf(err, errlen, "unknown time zone: %s", name);
		goto out;
	}
	if (st.st_size > TZ_FILE_MAX) {
		snprintf(err, errlen, "%s: zone file too large", name);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	while (len < (size_t)st.st_size + 1) {
		r = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "%s: %s", name, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	z = tz_zone_parse(name, buf, len, err, errlen);
out:
	if (fd != -1)
		close(fd);
	free(buf);
	return z;
}

void
tz_zone_free(struct tz_zone *z)
{
	if (z == NULL)
		return;
	free(z->times);
	free(z->idx);
	free(z->types);
	free(z);
}

const char *
tz_zone_name(const struct tz_zone *z)
{
	return z->name;
}

const char *
tz_zone_footer(const struct tz_zone *z)
{
	return z->footer;
}

struct tz_cache *
tz_cache_new(const char *root)
{
	struct tz_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if ((c->root = strdup(root != NULL ? root : TZ_ROOT_DEFAULT)) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void
tz_cache_free(struct tz_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		tz_zone_free(c->zones[i]);
	free(c->zones);
	free(c->root);
	free(c);
}

/* The index of NAME in the cache, or where it would go (*FOUND tells). */
static size_t
tz_cache_find(const struct tz_cache *c, const char *name, int *found)
{
	size_t lo = 0, hi = c->n;
	int cmp;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((cmp = strcmp(c->zones[mid]->name, name)) == 0) {
			*found = 1;
			return mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct tz_zone *
tz_cache_get(struct tz_cache *c, const char *name, char *err, size_t errlen)
{
	struct tz_zone *z, **nz;
	size_t at;
	int found;

	at = tz_cache_find(c, name, &found);
	if (found)
		return c->zones[at];
	if ((z = tz_zone_load(c->root, name, err, errlen)) == NULL)
		return NULL;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;

		if ((nz = realloc(c->zones, cap * sizeof(*nz))) == NULL) {
			snprintf(err, errlen, "out of memory");
			tz_zone_free(z);
			return NULL;
		}
		c->zones = nz;
		c->cap = cap;
	}
	memmove(&c->zones[at + 1], &c->zones[at], (c->n - at) * sizeof(*c->zones));
	c->zones[at] = z;
	c->n++;
	return z;
}

int
tz_cache_reload(struct tz_cache *c, char *err, size_t errlen)
{
	struct tz_zone *fresh, tmp;
	char why[512];
	int failed = 0;

	for (size_t i = 0; i < c->n; i++) {
		if ((fresh = tz_zone_load(c->root, c->zones[i]->name, why,
		    sizeof(why))) == NULL) {
			if (failed++ == 0)
				snprintf(err, errlen, "%s", why);
			continue;
		}
		/* Swap the contents: pointers handed out stay valid. */
		tmp = *c->zones[i];
		*c->zones[i] = *fresh;
		*fresh = tmp;
		tz_zone_free(fresh);
	}
	return failed;
}
