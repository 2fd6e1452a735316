/*
 * Unit tests for recur/spec and recur/next: golden spec cases, the
 * daylight-saving rule at every transition of zones with unusual rules,
 * next() against a brute-force reading of the rule minute by minute, and
 * the property next(t) == next(start) for every t in [start, next(start)).
 *
 * A golden case is a folder tests/golden/recur/CASE/ holding `input`:
 *
 *   KIND SPEC                   every, cron or calendar, then the spec text
 *   tz ZONE                     optional, default UTC
 *   from YYYY-MM-DDTHH:MM:SSZ   optional, default 2026-01-01T00:00:00Z
 *   n N                         optional, default 5
 *   gap skip                    optional: RECUR_SKIP_GAP
 *
 * and either `output` (the spec's normalised form, then one line per fire
 * time: UTC and local, RFC 3339, and the zone's abbreviation) or `error`
 * (the parse error exactly), each with a newline at the end. With
 * GOLDEN_UPDATE=1 the expected files are (re)written; review them by hand.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recur/next.h"
#include "recur/spec.h"
#include "recur/tzfile.h"
#include "tests/unit/check.h"

#define GOLDEN_DIR "tests/golden/recur"

static struct tz_cache *cache;

/* A zone from the cache, or NULL after a failed check. */
static const struct tz_zone *
zone(const char *name)
{
	char err[256];
	const struct tz_zone *z = tz_cache_get(cache, name, err, sizeof(err));

	if (z == NULL)
		fprintf(stderr, "%s\n", err);
	return z;
}

/* Civil seconds of Y-M-D H:M:S. */
static int64_t
civil(int64_t y, int m, int d, int h, int mi, int s)
{
	return tz_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s;
}

/* Format civil seconds L with offset OFF ("Z" when OFF is -1 and UTC). */
static void
fmt_time(char *buf, size_t len, int64_t us, int32_t off, int utc)
{
	int64_t t = us / RECUR_US - (us % RECUR_US < 0), frac = us - t * RECUR_US;
	int64_t L = t + (utc ? 0 : off), days = L / 86400 - (L % 86400 < 0), y;
	int64_t sod = L - days * 86400;
	int m, d, n;
	char fr[16] = "";

	tz_civil_from_days(days, &y, &m, &d);
	if (frac != 0)
		snprintf(fr, sizeof(fr), ".%06lld", (long long)frac);
	n = snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d%s", (long long)y, m,
	    d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), fr);
	if (utc)
		snprintf(buf + n, len - (size_t)n, "Z");
	else
		snprintf(buf + n, len - (size_t)n, "%c%02d:%02d", off < 0 ? '-' : '+',
		    abs(off) / 3600, abs(off) / 60 % 60);
}

/* Parse "YYYY-MM-DDTHH:MM:SSZ" into Unix seconds; 0 or -1. */
static int
parse_utc(const char *s, int64_t *t)
{
	int y, m, d, h, mi, sec;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &y, &m, &d, &h, &mi, &sec) != 6)
		return -1;
	*t = civil(y, m, d, h, mi, sec);
	return 0;
}

/* Read a whole file; NULL if it cannot be read. */
static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	if (n < 0 || (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	buf[fread(buf, 1, (size_t)n, fp)] = '\0';
	fclose(fp);
	return buf;
}

/* What a golden input yields: the text of `output` or `error`. */
static void
golden_run(char *input, char *out, size_t len, const char **kind)
{
	char err[256] = "", *line, *save = NULL, *sp, tzname[256] = "UTC";
	struct recur_spec spec;
	const struct tz_zone *z;
	int64_t from = civil(2026, 1, 1, 0, 0, 0) * RECUR_US, t;
	enum recur_kind k;
	int n = 5, skip = 0;
	size_t at;
	char specline[1100] = "";

	*kind = "error";
	for (line = strtok_r(input, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (specline[0] == '\0') {
			snprintf(specline, sizeof(specline), "%s", line);
			continue;
		}
		if (strncmp(line, "tz ", 3) == 0)
			snprintf(tzname, sizeof(tzname), "%s", line + 3);
		else if (strncmp(line, "from ", 5) == 0 && parse_utc(line + 5, &t) == 0)
			from = t * RECUR_US;
		else if (strncmp(line, "n ", 2) == 0)
			n = atoi(line + 2);
		else if (strcmp(line, "gap skip") == 0)
			skip = 1;
		else {
			snprintf(out, len, "(bad input line: %s)\n", line);
			return;
		}
	}
	if ((sp = strchr(specline, ' ')) == NULL) {
		snprintf(out, len, "(no spec)\n");
		return;
	}
	*sp++ = '\0';
	if ((k = recur_kind_from_name(specline)) == 0) {
		snprintf(out, len, "(bad kind %s)\n", specline);
		return;
	}
	if (recur_parse(k, sp, &spec, err, sizeof(err)) == -1) {
		snprintf(out, len, "%s\n", err);
		return;
	}
	if ((z = tz_cache_get(cache, tzname, err, sizeof(err))) == NULL) {
		snprintf(out, len, "%s\n", err);
		return;
	}
	if (skip)
		spec.flags |= RECUR_SKIP_GAP;
	*kind = "output";
	recur_describe(&spec, out, len);
	at = strlen(out);
	snprintf(out + at, len - at, "\n");
	for (int i = 0; i < n; i++) {
		char u[64], l[64];
		struct tz_info info;

		at = strlen(out);
		if (recur_next(&spec, z, from, &t) == -1) {
			snprintf(out + at, len - at, "never\n");
			break;
		}
		tz_lookup(z, t / RECUR_US - (t % RECUR_US < 0), &info);
		fmt_time(u, sizeof(u), t, 0, 1);
		fmt_time(l, sizeof(l), t, info.utoff, 0);
		snprintf(out + at, len - at, "%s %s %s\n", u, l, info.abbr);
		from = t;
	}
}

/* Every case folder of the golden suite. */
static void
test_golden(void)
{
	DIR *d = opendir(GOLDEN_DIR);
	struct dirent *de;
	int update = getenv("GOLDEN_UPDATE") != NULL;
	size_t cases = 0;

	if (!CHECK(d != NULL))
		return;
	while ((de = readdir(d)) != NULL) {
		char path[600], other[600], out[8192], *input, *want;
		const char *kind;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/input", GOLDEN_DIR, de->d_name);
		if ((input = slurp(path)) == NULL) {
			check_result(0, path, 0, "reading the input");
			continue;
		}
		cases++;
		golden_run(input, out, sizeof(out), &kind);
		free(input);
		snprintf(path, sizeof(path), "%s/%s/%s", GOLDEN_DIR, de->d_name, kind);
		snprintf(other, sizeof(other), "%s/%s/%s", GOLDEN_DIR, de->d_name,
		    strcmp(kind, "output") == 0 ? "error" : "output");
		if (update) {
			FILE *f = fopen(path, "wb");

			want = slurp(path);
			if (f != NULL) {
				fputs(out, f);
				fclose(f);
			}
			if (want == NULL || strcmp(want, out) != 0)
				printf("golden: wrote %s\n", path);
			unlink(other);
			free(want);
			check_result(f != NULL, path, 0, "writing");
			continue;
		}
		if ((want = slurp(path)) == NULL) {
			check_result(0, path, 0, "expected file missing");
			fprintf(stderr, "  got %s:\n%s", kind, out);
			continue;
		}
		if (!check_result(strcmp(want, out) == 0, path, 0, "golden case"))
			fprintf(stderr, "  want:\n%s  got:\n%s", want, out);
		free(want);
	}
	closedir(d);
	CHECK(cases >= 40);
}

/* Parse or fail the check. */
static int
parse(enum recur_kind k, const char *text, struct recur_spec *spec)
{
	char err[256];

	if (recur_parse(k, text, spec, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", text, err);
		return -1;
	}
	return 0;
}

/* next() in whole seconds. */
static int64_t
next_s(const struct recur_spec *spec, const struct tz_zone *z, int64_t t)
{
	int64_t out;

	if (recur_next(spec, z, t * RECUR_US, &out) == -1)
		return INT64_MAX;
	return out / RECUR_US;
}

/*
 * Whether SPEC fires at Unix time T in Z, read straight from the rule:
 * the local time matches and is not a second pass (unless the hour is
 * wild), or T ends a spring gap some matching local time fell into.
 */
static int
fires_at(const struct recur_spec *spec, const struct tz_zone *z, int64_t t)
{
	int32_t off = tz_offset(z, t);
	int64_t L = t + off, x;
	struct tz_resolution r;
	struct tz_transition tr;

	if (recur_next_local(spec, L, L, &x) == 0) {
		tz_resolve(z, L, &r);
		if (recur_hour_wild(spec) || r.kind != TZ_OVERLAP || r.utc[0] == t)
			return 1;
	}
	if (!(spec->flags & RECUR_SKIP_GAP) && tz_prev_transition(z, t, &tr) == 0 &&
	    tr.at == t && tr.before < tr.after) {
		for (int64_t l = t + tr.before; l < t + tr.after; l += 60)
			if (recur_next_local(spec, l, l, &x) == 0)
				return 1;
	}
	return 0;
}

static const char *const dst_zones[] = {
	"Australia/Lord_Howe", "America/Asuncion", "America/Havana",
	"Asia/Beirut", "Europe/Berlin", "America/New_York", "Pacific/Apia",
	"America/Nuuk", "Africa/Casablanca", "Pacific/Chatham", "Antarctica/Troll",
	"America/Santiago",
};
#define N_DST_ZONES (sizeof(dst_zones) / sizeof(dst_zones[0]))

/* next() against fires_at(), minute by minute, a day either side of every
 * transition of the DST zones from 2010 to 2030. */
static void
test_brute_force(void)
{
	static const struct {
		enum recur_kind kind;
		const char *text;
		int skip;
	} specs[] = {
		{ RECUR_CRON, "* * * * *", 0 },
		{ RECUR_CRON, "*/7 * * * *", 0 },
		{ RECUR_CRON, "30 2 * * *", 0 },
		{ RECUR_CRON, "30 2 * * *", 1 },
		{ RECUR_CRON, "0 * * * *", 0 },
		{ RECUR_CRON, "15,45 0,1,2,23 * * *", 0 },
		{ RECUR_CRON, "0 0 * * *", 0 },
		{ RECUR_CRON, "0 0 * * *", 1 },
		{ RECUR_CRON, "59 23 * * *", 0 },
		{ RECUR_CRON, "*/20 */2 * * *", 0 },
		{ RECUR_CRON, "0 0-3 * * *", 0 },
		{ RECUR_CALENDAR, "*-*-* *:00/30", 0 },
		{ RECUR_CALENDAR, "Sun,Sat *-*-* 00..03:*", 1 },
	};
	size_t windows = 0, checked = 0;

	for (size_t zi = 0; zi < N_DST_ZONES; zi++) {
		const struct tz_zone *z = zone(dst_zones[zi]);
		struct tz_transition tr;

		if (!CHECK(z != NULL))
			continue;
		for (int64_t t = civil(2010, 1, 1, 0, 0, 0); tz_next_transition(z, t,
		    &tr) == 0 && tr.at < civil(2030, 1, 1, 0, 0, 0); t = tr.at) {
			int64_t w0 = tr.at - 86400, w1 = tr.at + 86400;

			windows++;
			for (size_t si = 0; si < sizeof(specs) / sizeof(specs[0]); si++) {
				struct recur_spec spec;
				int64_t want = w0, got = w0;
				int bad = 0;

				if (parse(specs[si].kind, specs[si].text, &spec) == -1)
					continue;
				if (specs[si].skip)
					spec.flags |= RECUR_SKIP_GAP;
				/* Walk both: fires_at minute by minute, next() jumps. */
				for (;;) {
					for (want += 60; want < w1 && !fires_at(&spec, z, want);
					    want += 60)
						;
					got = next_s(&spec, z, got);
					if (want >= w1 && got >= w1)
						break;
					checked++;
					if (want != got) {
						bad = 1;
						break;
					}
				}
				if (!check_result(!bad, dst_zones[zi], 0, specs[si].text))
					fprintf(stderr, "  near transition %lld: next %lld, rule"
					    " says %lld\n", (long long)tr.at, (long long)got,
					    (long long)want);
			}
		}
	}
	CHECK(windows > 100);
	printf("brute force: %zu transitions, %zu fire times agree\n", windows,
	    checked);
}

/* The daylight-saving rule, spelled out at each transition of the DST
 * zones from 2010 to 2030. */
static void
test_dst_rule(void)
{
	size_t gaps = 0, overlaps = 0;

	for (size_t zi = 0; zi < N_DST_ZONES; zi++) {
		const struct tz_zone *z = zone(dst_zones[zi]);
		struct tz_transition tr;

		if (z == NULL)
			continue;
		for (int64_t t = civil(2010, 1, 1, 0, 0, 0); tz_next_transition(z, t,
		    &tr) == 0 && tr.at < civil(2030, 1, 1, 0, 0, 0); t = tr.at) {
			struct recur_spec fixed, wild, skip;
			char text[64];
			int64_t L, first, n;
			int h, m;

			/* A daily spec at the first local minute of the gap or
			 * of the overlap; an hourly one at the same minute. */
			L = tr.at + (tr.before < tr.after ? tr.before : tr.after);
			L = ((L % 86400) + 86400) % 86400;
			h = (int)(L / 3600);
			m = (int)(L / 60 % 60);
			snprintf(text, sizeof(text), "%d %d * * *", m, h);
			if (parse(RECUR_CRON, text, &fixed) == -1)
				continue;
			skip = fixed;
			skip.flags |= RECUR_SKIP_GAP;
			snprintf(text, sizeof(text), "%d * * * *", m);
			if (parse(RECUR_CRON, text, &wild) == -1)
				continue;
			if (tr.before < tr.after) {
				/* Spring: fires once, when the gap ends. */
				gaps++;
				n = next_s(&fixed, z, tr.at - 3600);
				if (!CHECK_INT_EQ(n, tr.at))
					fprintf(stderr, "  %s gap at %lld\n", dst_zones[zi],
					    (long long)tr.at);
				CHECK(next_s(&fixed, z, n) >= tr.at + 86400 - 7200);
				/* Skipped: the next day (at the gap's end itself
				 * only when the gap is a whole day, as in Apia). */
				n = next_s(&skip, z, tr.at - 3600);
				if (!CHECK((n > tr.at || tr.after - tr.before >= 86400) && n < tr.at + 2 * 86400))
					fprintf(stderr, "  %s skip at %lld: %lld\n", dst_zones[zi],
					    (long long)tr.at, (long long)n);
			} else {
				/* Fall: the fixed spec once, at the first pass;
				 * the hourly one at both. */
				overlaps++;
				first = tr.at - (tr.before - tr.after);
				n = next_s(&fixed, z, first - 1);
				if (!CHECK_INT_EQ(n, first))
					fprintf(stderr, "  %s overlap at %lld\n", dst_zones[zi],
					    (long long)tr.at);
				n = next_s(&fixed, z, first);
				if (!CHECK(n > tr.at + 3600))
					fprintf(stderr, "  %s fired twice at %lld\n",
					    dst_zones[zi], (long long)tr.at);
				CHECK_INT_EQ(next_s(&wild, z, first - 1), first);
				/* An hour of real time later, or the second pass
				 * if that comes sooner (a 30-minute shift). */
				if (!CHECK_INT_EQ(next_s(&wild, z, first),
				    first + 3600 < tr.at ? first + 3600 : tr.at))
					fprintf(stderr, "  %s hourly at %lld\n", dst_zones[zi],
					    (long long)tr.at);
			}
		}
	}
	CHECK(gaps > 50 && overlaps > 50);
	printf("dst rule: %zu gaps, %zu overlaps\n", gaps, overlaps);
}

/* Named cases from the issue. */
static void
test_named(void)
{
	const struct tz_zone *berlin = zone("Europe/Berlin");
	const struct tz_zone *ny = zone("America/New_York");
	struct recur_spec s;
	int64_t t, prev;
	int gaps;

	if (!CHECK(berlin != NULL && ny != NULL))
		return;
	/* 02:30 Berlin on spring-forward day 2027-03-28: once, at 03:00 CEST. */
	if (parse(RECUR_CRON, "30 2 * * *", &s) == 0) {
		t = next_s(&s, berlin, civil(2027, 3, 27, 12, 0, 0));
		CHECK_INT_EQ(t, civil(2027, 3, 28, 1, 0, 0));
		CHECK_INT_EQ(next_s(&s, berlin, t), civil(2027, 3, 29, 0, 30, 0));
		/* Fall back 2027-10-31: 02:30 CEST only (00:30Z). */
		t = next_s(&s, berlin, civil(2027, 10, 30, 12, 0, 0));
		CHECK_INT_EQ(t, civil(2027, 10, 31, 0, 30, 0));
		CHECK_INT_EQ(next_s(&s, berlin, t), civil(2027, 11, 1, 1, 30, 0));
	}
	/* A minutely job at fall-back in New York: every 60 s of real time
	 * for three hours, never silent, never doubled. */
	if (parse(RECUR_CRON, "* * * * *", &s) == 0) {
		int ok = 1;

		prev = civil(2026, 11, 1, 4, 0, 0);
		for (int i = 0; i < 180; i++) {
			t = next_s(&s, ny, prev);
			ok &= t - prev == 60;
			prev = t;
		}
		CHECK(ok);
		/* Spring forward: 01:59 EST then 03:00 EDT, a minute apart. */
		prev = civil(2026, 3, 8, 6, 58, 0);
		gaps = 0;
		for (int i = 0; i < 5; i++) {
			t = next_s(&s, ny, prev);
			gaps += t - prev != 60;
			prev = t;
		}
		CHECK_INT_EQ(gaps, 0);
	}
	/* Hourly in Lord Howe at fall-back (02:00 +11 -> 01:30 +10:30). */
	if (parse(RECUR_CRON, "45 * * * *", &s) == 0) {
		const struct tz_zone *lh = zone("Australia/Lord_Howe");

		if (CHECK(lh != NULL)) {
			/* 2026-04-05 00:45, 01:45 (+11), 01:45 (+10:30), 02:45. */
			t = next_s(&s, lh, civil(2026, 4, 4, 13, 30, 0));
			CHECK_INT_EQ(t, civil(2026, 4, 4, 13, 45, 0));
			t = next_s(&s, lh, t);
			CHECK_INT_EQ(t, civil(2026, 4, 4, 14, 45, 0));
			t = next_s(&s, lh, t);
			CHECK_INT_EQ(t, civil(2026, 4, 4, 15, 15, 0));
			t = next_s(&s, lh, t);
			CHECK_INT_EQ(t, civil(2026, 4, 4, 16, 15, 0));
		}
	}
	/* Apia skipped 2011-12-30: a daily noon fires at the end of the gap. */
	if (parse(RECUR_CALENDAR, "*-*-* 12:00", &s) == 0) {
		const struct tz_zone *apia = zone("Pacific/Apia");

		if (CHECK(apia != NULL)) {
			t = next_s(&s, apia, civil(2011, 12, 29, 22, 30, 0));
			CHECK_INT_EQ(t, civil(2011, 12, 30, 10, 0, 0));
			t = next_s(&s, apia, t);
			CHECK_INT_EQ(t, civil(2011, 12, 30, 22, 0, 0));
		}
	}
	/* every: real time, zone ignored, anchored. */
	if (parse(RECUR_EVERY, "1.5 @100", &s) == 0) {
		int64_t out;

		CHECK(recur_next(&s, berlin, 100 * RECUR_US, &out) == 0 &&
		    out == 101500000);
		CHECK(recur_next(&s, NULL, 99 * RECUR_US, &out) == 0 &&
		    out == 100 * RECUR_US);
		CHECK(recur_next(&s, NULL, -RECUR_US, &out) == 0 && out == -500000);
	}
	/* A calendar spec whose years are over never fires again. */
	if (parse(RECUR_CALENDAR, "2020-01-01", &s) == 0)
		CHECK_INT_EQ(next_s(&s, NULL, civil(2026, 1, 1, 0, 0, 0)), INT64_MAX);
	/* Far apart fires cost little: a leap-day Monday. */
	if (parse(RECUR_CALENDAR, "Mon *-02-29 00:00", &s) == 0) {
		t = next_s(&s, berlin, civil(2026, 1, 1, 0, 0, 0));
		CHECK_INT_EQ(t, civil(2044, 2, 28, 23, 0, 0));
	}
}

/* next(t) == next(start) for t sampled in [start, next(start)). */
static void
test_property(void)
{
	static const struct {
		enum recur_kind kind;
		const char *text;
	} specs[] = {
		{ RECUR_CRON, "* * * * *" }, { RECUR_CRON, "30 2 * * *" },
		{ RECUR_CRON, "0 */3 * * 1-5" }, { RECUR_CRON, "15 1 1,15 * 0" },
		{ RECUR_CRON, "*/10 * * * * *" }, { RECUR_CRON, "@monthly" },
		{ RECUR_CRON, "0 0 29 2 *" }, { RECUR_CRON, "59 23 31 * *" },
		{ RECUR_CALENDAR, "Mon *-*-01..07 09:00" },
		{ RECUR_CALENDAR, "*-*~1 23:30" }, { RECUR_CALENDAR, "quarterly" },
		{ RECUR_CALENDAR, "Sat,Sun *-*-* 00/2:15:30" },
		{ RECUR_EVERY, "90m @7" }, { RECUR_EVERY, "0.25" },
	};
	size_t samples = 0;
	int bad = 0;

	check_srand(15);
	for (size_t zi = 0; zi < N_DST_ZONES; zi++) {
		const struct tz_zone *z = zone(dst_zones[zi]);

		if (z == NULL)
			continue;
		for (size_t si = 0; si < sizeof(specs) / sizeof(specs[0]); si++) {
			struct recur_spec spec;

			if (parse(specs[si].kind, specs[si].text, &spec) == -1)
				continue;
			for (int k = 0; k < 40 && bad < 5; k++) {
				int64_t start = (civil(1995, 1, 1, 0, 0, 0) +
				    (int64_t)check_rand(50ULL * 365 * 86400)) * RECUR_US;
				int64_t n, m;

				start += (int64_t)check_rand(RECUR_US);
				if (recur_next(&spec, z, start, &n) == -1 || n <= start) {
					bad++;
					continue;
				}
				for (int j = 0; j < 30; j++) {
					int64_t t = j == 0 ? n - 1 : start +
					    (int64_t)check_rand((uint64_t)(n - start));

					samples++;
					if (recur_next(&spec, z, t, &m) == -1 || m != n) {
						if (bad++ < 5)
							fprintf(stderr, "%s %s: next(%lld) = %lld,"
							    " next(%lld) = %lld\n", dst_zones[zi],
							    specs[si].text, (long long)start,
							    (long long)n, (long long)t, (long long)m);
					}
				}
				/* And the one after is later. */
				if (recur_next(&spec, z, n, &m) == -1 || m <= n)
					bad++;
			}
		}
	}
	CHECK_INT_EQ(bad, 0);
	printf("property: %zu samples\n", samples);
}

/* Parser details the golden cases do not show well. */
static void
test_parse(void)
{
	struct recur_spec s;
	char err[256];

	CHECK_INT_EQ(sizeof(struct recur_spec), 64);
	CHECK_INT_EQ(recur_guess("30 2 * * *"), RECUR_CRON);
	CHECK_INT_EQ(recur_guess("@daily"), RECUR_CRON);
	CHECK_INT_EQ(recur_guess("*/5 * * * * *"), RECUR_CRON);
	CHECK_INT_EQ(recur_guess("30s"), RECUR_EVERY);
	CHECK_INT_EQ(recur_guess("1h30m @5"), RECUR_EVERY);
	CHECK_INT_EQ(recur_guess("daily"), RECUR_CALENDAR);
	CHECK_INT_EQ(recur_guess("Mon *-*-01..07 09:00"), RECUR_CALENDAR);
	CHECK_INT_EQ(recur_kind_from_name("nope"), 0);
	/* Names and 7 for Sunday. */
	CHECK(recur_parse(RECUR_CRON, "0 0 * JAN-mar SUN,7", &s, err, sizeof(err)) == 0);
	CHECK_INT_EQ(s.mon, 0xe);
	CHECK_INT_EQ(s.dow, 1);
	CHECK(recur_parse(RECUR_CRON, "0 0 * * 5-7", &s, err, sizeof(err)) == 0);
	CHECK_INT_EQ(s.dow, 0x61);
	/* Vixie's rule, including "*" prefixes. */
	CHECK(recur_parse(RECUR_CRON, "0 0 1 * 1", &s, err, sizeof(err)) == 0);
	CHECK(s.flags & RECUR_DOM_OR_DOW);
	CHECK(recur_parse(RECUR_CRON, "0 0 */2 * 1", &s, err, sizeof(err)) == 0);
	CHECK(!(s.flags & RECUR_DOM_OR_DOW));
	/* A long spec is refused whole. */
	{
		char longspec[2000];

		memset(longspec, '1', sizeof(longspec) - 1);
		longspec[sizeof(longspec) - 1] = '\0';
		CHECK(recur_parse(RECUR_CRON, longspec, &s, err, sizeof(err)) == -1);
		CHECK_STR_EQ(err, "cron: longer than 1024 bytes");
	}
}

/* Random text from the specs' alphabet: the parsers never crash, and a
 * cron or every spec that parses fires again (calendar years may be past). */
static void
test_garbage(void)
{
	static const char *const bits[] = {
		"0", "1", "2", "5", "7", "12", "13", "23", "29", "30", "31", "59",
		"60", "2027", "*", "/", "-", ",", "..", "~", ":", " ", "  ", "@",
		"@daily", "Mon", "fri", "jan", "s", "ms", "h", ".", "x", "\t",
	};
	static const enum recur_kind kinds[] = {
		RECUR_EVERY, RECUR_CRON, RECUR_CALENDAR };
	const struct tz_zone *z = zone("America/Santiago");
	size_t parsed = 0;
	int bad = 0;

	check_srand(42);
	for (int i = 0; i < 60000 && z != NULL; i++) {
		char text[128] = "", err[256];
		struct recur_spec spec;
		int64_t out, from = civil(2026, 1, 1, 0, 0, 0) * RECUR_US;
		size_t n = 1 + check_rand(12);

		for (size_t k = 0; k < n; k++)
			strcat(text, bits[check_rand(sizeof(bits) / sizeof(bits[0]))]);
		if (recur_parse(kinds[i % 3], text, &spec, err, sizeof(err)) == -1) {
			bad += strncmp(err, recur_kind_name(kinds[i % 3]),
			    strlen(recur_kind_name(kinds[i % 3]))) != 0;
			continue;
		}
		parsed++;
		if (recur_next(&spec, z, from, &out) == 0)
			bad += out <= from;
		else if (spec.kind != RECUR_CALENDAR) {
			if (bad++ < 5)
				fprintf(stderr, "%s %s parses but never fires\n",
				    recur_kind_name(spec.kind), text);
		}
	}
	CHECK_INT_EQ(bad, 0);
	CHECK(parsed > 1000);
}

int
main(void)
{
	if ((cache = tz_cache_new(NULL)) == NULL)
		return 1;
	test_parse();
	test_golden();
	test_named();
	test_dst_rule();
	test_brute_force();
	test_property();
	test_garbage();
	tz_cache_free(cache);
	return check_summary();
}
