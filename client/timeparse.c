/*
 * timeparse: RFC 3339 and Unix times for "loopctl schedule --at".
 *
 * The civil-to-days arithmetic is done here rather than with timegm() or
 * mktime() so that the result depends on neither TZ nor the C library.
 */
#include "client/timeparse.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Parse an RFC 3339 date-time. Returns 0 or -1. */
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
	    timeparse_digits(&p, 2, &mi) == -1 || timeparse_char(&p, ':') ||
	    timeparse_digits(&p, 2, &s) == -1)
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

int
timeparse_at(const char *s, double *out)
{
	const char *p;
	char *end;
	int dot = 0;

	/* A plain decimal number is a Unix time. */
	for (p = s; isdigit((unsigned char)*p) || (*p == '.' && !dot++); p++)
		;
	if (p != s && *p == '\0' && isdigit((unsigned char)*s)) {
		*out = strtod(s, &end);
		return *end == '\0' && isfinite(*out) ? 0 : -1;
	}
	return timeparse_rfc3339(s, out);
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
