/*
 * units: parsing and formatting of durations and sizes.
 */
#include "proto/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DURATION_MAX_US 9.0e18

/* Microseconds per unit suffix, or 0 for an unknown suffix. */
static double
unit_scale(const char *u, size_t n)
{
	static const struct { const char *name; double us; } units[] = {
		{ "us", 1 }, { "ms", 1e3 }, { "s", 1e6 }, { "m", 60e6 },
		{ "h", 3600e6 }, { "d", 86400e6 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].name) == n && strncmp(u, units[i].name, n) == 0)
			return units[i].us;
	return 0;
}

int
units_parse_duration(const char *s, int64_t *out_us)
{
	double total = 0;
	const char *p = s;
	int terms = 0;

	if (s == NULL || *s == '\0')
		return -1;
	while (*p != '\0') {
		char *end;
		double v;
		const char *u;

		/* strtod accepts hex, inf and nan: allow plain decimals only. */
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		errno = 0;
		v = strtod(p, &end);
		if (end == p || errno != 0 || !isfinite(v) || v < 0)
			return -1;
		for (const char *q = p; q < end; q++)
			if (!isdigit((unsigned char)*q) && *q != '.')
				return -1;
		u = end;
		while (isalpha((unsigned char)*end))
			end++;
		if (end == u) {
			/* A bare number is seconds, and only as the whole string. */
			if (terms > 0 || *end != '\0')
				return -1;
			total = v * 1e6;
		} else {
			double scale = unit_scale(u, (size_t)(end - u));
			if (scale == 0)
				return -1;
			total += v * scale;
		}
		terms++;
		p = end;
	}
	if (!(total <= DURATION_MAX_US))
		return -1;
	*out_us = (int64_t)llround(total);
	return 0;
}

int
units_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t scale = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 'K': case 'k': scale = 1ULL << 10; break;
		case 'M': case 'm': scale = 1ULL << 20; break;
		case 'G': case 'g': scale = 1ULL << 30; break;
		default: return -1;
		}
		end++;
		if (*end == 'B' || *end == 'b' || *end == 'i')
			end++;
		if (*end == 'B')
			end++;
		if (*end != '\0')
			return -1;
	}
	if (v > UINT64_MAX / scale)
		return -1;
	*out = v * scale;
	return 0;
}

char *
units_format_duration(int64_t us, char *buf, size_t len)
{
	const char *sign = "";

	if (us < 0) {
		sign = "-";
		us = -us;
	}
	if (us < 1000)
		snprintf(buf, len, "%s%lldus", sign, (long long)us);
	else if (us < 1000000)
		snprintf(buf, len, "%s%.3gms", sign, (double)us / 1e3);
	else if (us < 60000000)
		snprintf(buf, len, "%s%.3gs", sign, (double)us / 1e6);
	else {
		long long s = us / 1000000, h = s / 3600, m = (s % 3600) / 60;
		s %= 60;
		if (h > 0)
			snprintf(buf, len, "%s%lldh%02lldm%02llds", sign, h, m, s);
		else
			snprintf(buf, len, "%s%lldm%02llds", sign, m, s);
	}
	return buf;
}
