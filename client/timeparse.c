/*
 * timeparse: the times users write for "loopctl schedule --at", and the
 * way loopctl shows times back.
 *
 * RFC 3339 and Unix times carry their own zone: the civil-to-days
 * arithmetic for them is done here rather than with timegm() so that the
 * result depends on neither TZ nor the C library. Everything else ("10:00",
 * "tomorrow 10:00", "2026-12-05 09:05", "monday 9am") is a local time in
 * the zone TZ names, put on the time line with mktime(), tried as standard
 * and as daylight time: a time that comes back unchanged from localtime()
 * exists; when both do (the clocks went back) the earlier wins, when none
 * does (the clocks went forward) the time is refused rather than moved.
 * "now" is a parameter, so that tests fix it.
 */
#include "client/timeparse.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/units.h"

/* Read exactly N digits at *P into *OUT and advance. Returns 0 or -1. */
static int
timeparse_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* Consume the character C at *P. Returns 0 or -1. */
static int
timeparse_char(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

/* Days from 1970-01-01 to the proleptic Gregorian date Y-M-D. */
static int64_t
timeparse_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Days in month M of year Y. */
static int
timeparse_mdays(int y, int m)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

/* Parse an RFC 3339 date-time (with its zone). Returns 0 or -1. */
static int
timeparse_rfc3339(const char *p, double *out)
{
	int y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0;
	double frac = 0, scale = 0.1;

	if (timeparse_digits(&p, 4, &y) == -1 || timeparse_char(&p, '-') ||
	    timeparse_digits(&p, 2, &mo) == -1 || timeparse_char(&p, '-') ||
	    timeparse_digits(&p, 2, &d) == -1)
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (timeparse_digits(&p, 2, &h) == -1 || timeparse_char(&p, ':') ||
	    timeparse_digits(&p, 2, &mi) == -1)
		return -1;
	/* Seconds may be left out ("2026-12-05T09:05Z"), as date -d allows. */
	s = 0;
	if (*p == ':' && (p++, timeparse_digits(&p, 2, &s) == -1))
		return -1;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		for (; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (timeparse_digits(&p, 2, &oh) == -1 ||
		    timeparse_char(&p, ':') ||
		    timeparse_digits(&p, 2, &om) == -1)
			return -1;
	} else
		return -1;
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 ||
	    d > timeparse_mdays(y, mo) || h > 23 || mi > 59 || s > 60 ||
	    oh > 23 || om > 59)
		return -1;
	/* A leap second (:60) is taken as the first second of the next minute. */
	*out = (double)(timeparse_days(y, mo, d) * 86400 + h * 3600 + mi * 60 +
	    s) + frac - sign * (oh * 3600 + om * 60);
	return 0;
}

/* The date DAYS after 1970-01-01 into *Y, *M, *D (the inverse of
 * timeparse_days). */
static void
timeparse_civil(int64_t days, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* What the words of a local time said. */
struct timeparse_spec {
	int		 have_time;
	int		 h, mi, s;
	double		 frac;
	int		 ampm;		/* the time took "am"/"pm" already */
	int		 day;		/* TP_DAY_* */
	int		 wday;		/* 0 = Sunday, for TP_DAY_WEEKDAY */
	int		 y, mo, d;	/* for TP_DAY_DATE */
};

enum { TP_DAY_NONE, TP_DAY_TODAY, TP_DAY_TOMORROW, TP_DAY_WEEKDAY,
    TP_DAY_DATE };

#define TP_WORDS	8
#define TP_TEXT		128

/* Apply "am" or "pm" (AMPM, 'a' or 'p') to the hour of SP. Returns 0, or
 * -1 for an hour that cannot take it. */
static int
timeparse_ampm(struct timeparse_spec *sp, char ampm)
{
	if (sp->ampm || sp->h < 1 || sp->h > 12)
		return -1;
	if (ampm == 'a')
		sp->h = sp->h == 12 ? 0 : sp->h;
	else
		sp->h = sp->h == 12 ? 12 : sp->h + 12;
	sp->ampm = 1;
	return 0;
}

/* Parse the time of day W ("10:00", "10:00:30.5", "9am", "3:15pm", "noon")
 * into SP. Returns 0, or -1 if W is not one. */
static int
timeparse_clock(const char *w, struct timeparse_spec *sp)
{
	const char *p = w;
	double scale = 0.1;
	int colon = 0;

	if (strcmp(w, "noon") == 0 || strcmp(w, "midnight") == 0) {
		sp->h = *w == 'n' ? 12 : 0;
		sp->mi = sp->s = 0;
		sp->frac = 0;
		return 0;
	}
	if (!isdigit((unsigned char)*p))
		return -1;
	sp->h = *p++ - '0';
	if (isdigit((unsigned char)*p))
		sp->h = sp->h * 10 + (*p++ - '0');
	sp->mi = sp->s = 0;
	sp->frac = 0;
	sp->ampm = 0;
	if (*p == ':') {
		p++;
		colon = 1;
		if (timeparse_digits(&p, 2, &sp->mi) == -1)
			return -1;
		if (*p == ':') {
			p++;
			if (timeparse_digits(&p, 2, &sp->s) == -1)
				return -1;
			if (*p == '.') {
				if (!isdigit((unsigned char)*++p))
					return -1;
				for (; isdigit((unsigned char)*p); p++,
				    scale /= 10)
					sp->frac += (*p - '0') * scale;
			}
		}
	}
	if ((strcmp(p, "am") == 0 || strcmp(p, "pm") == 0) &&
	    timeparse_ampm(sp, *p) == 0)
		p += 2;
	else if (!colon)
		return -1;	/* "10" alone is no time of day */
	if (*p != '\0' || sp->h > 23 || sp->mi > 59 || sp->s > 59)
		return -1;
	return 0;
}

/* The weekday named by W ("monday", "mon"), 0 = Sunday, or -1. */
static int
timeparse_weekday(const char *w)
{
	static const char *names[] = { "sunday", "monday", "tuesday",
	    "wednesday", "thursday", "friday", "saturday" };

	for (int i = 0; i < 7; i++)
		if (strcmp(w, names[i]) == 0 || (strlen(w) == 3 &&
		    strncmp(w, names[i], 3) == 0))
			return i;
	return -1;
}

/* Parse the date W ("2026-12-05") into SP. Returns 0 or -1. */
static int
timeparse_date(const char *w, struct timeparse_spec *sp)
{
	const char *p = w;

	if (timeparse_digits(&p, 4, &sp->y) == -1 || timeparse_char(&p, '-') ||
	    timeparse_digits(&p, 2, &sp->mo) == -1 ||
	    timeparse_char(&p, '-') || timeparse_digits(&p, 2, &sp->d) == -1 ||
	    *p != '\0' || sp->mo < 1 || sp->mo > 12 || sp->d < 1 ||
	    sp->d > timeparse_mdays(sp->y, sp->mo))
		return -1;
	return 0;
}

/* Seconds in the amount NUM of UNIT ("5", "minutes"); UNIT may be glued
 * to NUM ("5min") or NULL. Returns 0 or -1. */
static int
timeparse_amount(const char *num, const char *unit, double *out)
{
	static const struct { const char *word; double secs; } units[] = {
		{ "s", 1 }, { "sec", 1 }, { "secs", 1 }, { "second", 1 },
		{ "seconds", 1 }, { "m", 60 }, { "min", 60 }, { "mins", 60 },
		{ "minute", 60 }, { "minutes", 60 }, { "h", 3600 },
		{ "hr", 3600 }, { "hrs", 3600 }, { "hour", 3600 },
		{ "hours", 3600 }, { "d", 86400 }, { "day", 86400 },
		{ "days", 86400 }, { "w", 604800 }, { "week", 604800 },
		{ "weeks", 604800 },
	};
	int64_t us;
	char *end;
	double n;

	/* "90s", "1h30m": a duration as --after takes it. */
	if (unit == NULL && units_parse_duration(num, &us) == 0) {
		*out = (double)us / 1e6;
		return 0;
	}
	if (!isdigit((unsigned char)*num))
		return -1;
	n = strtod(num, &end);
	if (unit == NULL)
		unit = end;
	else if (*end != '\0')
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(unit, units[i].word) == 0 && isfinite(n)) {
			*out = n * units[i].secs;
			return 0;
		}
	return -1;
}

/* Split the lower-cased text S into words in BUF: blanks and commas part
 * them, a '+' is a word of its own, and a local "DATEtTIME" is two words.
 * Returns how many (at most TP_WORDS), or -1 if there are more. */
static int
timeparse_words(const char *s, char *buf, char **words)
{
	char *p = buf, *q;
	int n = 0;

	for (; *s != '\0' && p < buf + TP_TEXT * 2 - 4; s++) {
		if (*s == '+') {
			*p++ = ' ';
			*p++ = '+';
			*p++ = ' ';
		} else if (*s == ',' || isspace((unsigned char)*s))
			*p++ = ' ';
		else
			*p++ = (char)tolower((unsigned char)*s);
	}
	*p = '\0';
	for (q = strtok_r(buf, " ", &p); q != NULL; q = strtok_r(NULL, " ",
	    &p)) {
		if (n == TP_WORDS)
			return -1;
		words[n++] = q;
		/* "2026-12-05t09:05" (no zone: RFC 3339 did not take it). */
		if (strlen(q) > 11 && q[10] == 't' && isdigit((unsigned char)q[11])) {
			q[10] = '\0';
			if (n == TP_WORDS)
				return -1;
			words[n++] = q + 11;
		}
	}
	return n;
}

/* Put local date DAYS (since 1970-01-01) at the clock of SP on the time
 * line into *OUT. Returns 0, or -1 with ERR when the clocks skip it. */
static int
timeparse_localize(int64_t days, const struct timeparse_spec *sp,
    double *out, char *err, size_t errlen)
{
	struct tm tm, back;
	time_t t, best = 0;
	int y, m, d, found = 0;

	timeparse_civil(days, &y, &m, &d);
	for (int dst = 0; dst <= 1; dst++) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = d;
		tm.tm_hour = sp->h;
		tm.tm_min = sp->mi;
		tm.tm_sec = sp->s;
		tm.tm_isdst = dst;
		t = mktime(&tm);
		if (localtime_r(&t, &back) == NULL ||
		    back.tm_year != y - 1900 || back.tm_mon != m - 1 ||
		    back.tm_mday != d || back.tm_hour != sp->h ||
		    back.tm_min != sp->mi || back.tm_sec != sp->s)
			continue;
		if (!found || t < best)
			best = t;
		found = 1;
	}
	if (!found) {
		snprintf(err, errlen, "%04d-%02d-%02d %02d:%02d does not exist"
		    " in the local zone (the clocks skip it)", y, m, d, sp->h,
		    sp->mi);
		return -1;
	}
	*out = (double)best + sp->frac;
	return 0;
}

/* Parse the words of a local time (see timeparse_at) at NOW. */
static int
timeparse_local_words(char **w, int n, double now, double *out, char *err,
    size_t errlen)
{
	struct timeparse_spec sp, clock;
	struct tm tm;
	time_t tnow = (time_t)floor(now);
	int64_t days;
	int wd, i;

	memset(&sp, 0, sizeof(sp));
	memset(&clock, 0, sizeof(clock));
	for (i = 0; i < n; i++) {
		if (strcmp(w[i], "at") == 0)
			continue;
		if (strcmp(w[i], "am") == 0 || strcmp(w[i], "pm") == 0) {
			if (!sp.have_time || timeparse_ampm(&sp, w[i][0]) == -1)
				goto bad;
		} else if (i + 1 < n && strlen(w[i]) <= 2 &&
		    isdigit((unsigned char)w[i][0]) &&
		    (w[i][1] == '\0' || isdigit((unsigned char)w[i][1])) &&
		    (strcmp(w[i + 1], "am") == 0 ||
		    strcmp(w[i + 1], "pm") == 0)) {
			/* "10 am": the hour, then its half of the day. */
			char glued[8];

			snprintf(glued, sizeof(glued), "%s%s", w[i], w[i + 1]);
			if (timeparse_clock(glued, &clock) == -1 ||
			    sp.have_time++)
				goto bad;
			sp.h = clock.h;
			sp.mi = sp.s = 0;
			sp.frac = 0;
			sp.ampm = 1;
			i++;
		} else if (timeparse_clock(w[i], &clock) == 0) {
			if (sp.have_time++)
				goto twice;
			sp.h = clock.h;
			sp.mi = clock.mi;
			sp.s = clock.s;
			sp.frac = clock.frac;
			sp.ampm = clock.ampm;
		} else if (sp.day != TP_DAY_NONE)
			goto twice;
		else if (strcmp(w[i], "today") == 0)
			sp.day = TP_DAY_TODAY;
		else if (strcmp(w[i], "tomorrow") == 0)
			sp.day = TP_DAY_TOMORROW;
		else if ((wd = timeparse_weekday(w[i])) != -1) {
			sp.day = TP_DAY_WEEKDAY;
			sp.wday = wd;
		} else if (timeparse_date(w[i], &sp) == 0)
			sp.day = TP_DAY_DATE;
		else
			goto bad;
	}
	if (!sp.have_time) {
		snprintf(err, errlen, "give a time of day too (10:00, 9am)");
		return -1;
	}
	if (localtime_r(&tnow, &tm) == NULL) {
		snprintf(err, errlen, "the present is out of range");
		return -1;
	}
	days = timeparse_days(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	switch (sp.day) {
	case TP_DAY_DATE:
		days = timeparse_days(sp.y, sp.mo, sp.d);
		break;
	case TP_DAY_TOMORROW:
		days++;
		break;
	case TP_DAY_WEEKDAY:
		days += (sp.wday - tm.tm_wday + 7) % 7;
		break;
	}
	if (timeparse_localize(days, &sp, out, err, errlen) == -1)
		return -1;
	/* A bare time, or a weekday's, is the next one to come. */
	if (*out < now && (sp.day == TP_DAY_NONE || sp.day == TP_DAY_WEEKDAY))
		return timeparse_localize(days + (sp.day == TP_DAY_NONE ? 1 :
		    7), &sp, out, err, errlen);
	return 0;
twice:
	snprintf(err, errlen, "'%s': a time or a day given twice", w[i]);
	return -1;
bad:
	snprintf(err, errlen, "cannot read '%s'", w[0]);
	for (i = 0; i < n; i++)
		if (strcmp(w[i], "at") != 0 && strcmp(w[i], "am") != 0 &&
		    strcmp(w[i], "pm") != 0 && timeparse_clock(w[i], &clock) &&
		    strcmp(w[i], "today") != 0 && strcmp(w[i], "tomorrow") != 0 &&
		    timeparse_weekday(w[i]) == -1 && timeparse_date(w[i],
		    &clock)) {
			snprintf(err, errlen, "cannot read '%s'", w[i]);
			break;
		}
	return -1;
}

int
timeparse_at(const char *s, double now, double *out, char *err,
    size_t errlen)
{
	char buf[TP_TEXT * 2], *w[TP_WORDS], *end;
	const char *p;
	double d;
	int dot = 0, n = 0;

	snprintf(err, errlen, "not a time");
	/* A plain decimal number is a Unix time. */
	for (p = s; isdigit((unsigned char)*p) || (*p == '.' && !dot++); p++)
		;
	if (p != s && *p == '\0' && isdigit((unsigned char)*s)) {
		*out = strtod(s, &end);
		return *end == '\0' && isfinite(*out) ? 0 : -1;
	}
	if (timeparse_rfc3339(s, out) == 0)
		return 0;
	if (strlen(s) >= TP_TEXT || (n = timeparse_words(s, buf, w)) <= 0) {
		snprintf(err, errlen, n == 0 ? "empty" : "too long");
		return -1;
	}
	/* "now", "now + 5 minutes", "in 5 minutes". */
	if (strcmp(w[0], "now") == 0 || strcmp(w[0], "in") == 0) {
		int i = 1;

		if (n == 1 && *w[0] == 'n') {
			*out = now;
			return 0;
		}
		if (*w[0] == 'n' && (n < 2 || strcmp(w[1], "+") != 0))
			goto amount;
		i += *w[0] == 'n';
		if (n - i == 1 && timeparse_amount(w[i], NULL, &d) == 0) {
			*out = now + d;
			return 0;
		}
		if (n - i == 2 && timeparse_amount(w[i], w[i + 1], &d) == 0) {
			*out = now + d;
			return 0;
		}
amount:
		snprintf(err, errlen, "after '%s' give + and an amount (now + 5"
		    " minutes, now + 1h30m)", w[0]);
		return -1;
	}
	return timeparse_local_words(w, n, now, out, err, errlen);
}

char *
timeparse_format(double t, char *buf, size_t len)
{
	time_t secs = (time_t)floor(t);
	int ms = (int)((t - floor(t)) * 1000);
	struct tm tm;

	if (gmtime_r(&secs, &tm) == NULL)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ms);
	return buf;
}

char *
timeparse_local(double t, char *buf, size_t len)
{
	time_t secs = (time_t)floor(t);
	int ms = (int)((t - floor(t)) * 1000);
	char zone[16] = "";
	struct tm tm;

	if (localtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "?");
		return buf;
	}
	strftime(zone, sizeof(zone), "%Z", &tm);
	if (ms > 0)
		snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d %s",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ms, zone);
	else
		snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d %s",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, zone);
	return buf;
}

char *
timeparse_relative(double secs, char *buf, size_t len)
{
	double a = fabs(secs);
	long v = (long)a;
	char amount[32];

	if (a < 1) {
		snprintf(buf, len, "now");
		return buf;
	}
	if (v < 60)
		snprintf(amount, sizeof(amount), "%lds", v);
	else if (v < 3600)
		snprintf(amount, sizeof(amount), "%ldm", v / 60);
	else if (v < 86400 && v % 3600 >= 60)
		snprintf(amount, sizeof(amount), "%ldh%ldm", v / 3600,
		    v % 3600 / 60);
	else if (v < 86400)
		snprintf(amount, sizeof(amount), "%ldh", v / 3600);
	else if (v % 86400 >= 3600)
		snprintf(amount, sizeof(amount), "%ldd%ldh", v / 86400,
		    v % 86400 / 3600);
	else
		snprintf(amount, sizeof(amount), "%ldd", v / 86400);
	snprintf(buf, len, secs > 0 ? "in %s" : "%s ago", amount);
	return buf;
}
