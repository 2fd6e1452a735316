/*
 * Unit tests for recur/tzfile: zone names, the zone cache and its reload
 * from an injected root, local-to-UTC resolution, and an oracle: glibc's
 * localtime_r, run in a child process with TZ set (one fork per zone),
 * must agree with tz_lookup on offset, daylight saving and abbreviation
 * at many instants over three centuries and at every transition. The
 * POSIX footer parser is checked the same way, against glibc parsing the
 * same TZ strings (from 1970 on, where glibc applies them as POSIX says).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "recur/tzfile.h"
#include "tests/unit/check.h"

/* Zones the issue names, plus a spread of others. */
static const char *const named_zones[] = {
	"Australia/Lord_Howe", "America/Asuncion", "America/Havana",
	"Asia/Beirut", "Europe/Berlin", "America/New_York", "Pacific/Apia",
	"America/Nuuk", "Africa/Cairo", "Africa/Casablanca", "Asia/Tehran",
	"Asia/Kathmandu", "Pacific/Chatham", "Antarctica/Troll",
	"America/Santiago", "Pacific/Kiritimati", "Europe/Dublin",
	"America/Sao_Paulo", "Asia/Gaza", "UTC", "Etc/GMT+5",
};

/* One answer of the oracle. */
struct oracle_row {
	int32_t		 utoff;
	int32_t		 isdst;
	char		 abbr[TZ_ABBR_MAX];
};

/* Write all of LEN bytes; 0 or -1. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t r = write(fd, p, len);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Read all of LEN bytes; 0 or -1. */
static int
read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t r = read(fd, p, len);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/*
 * Ask glibc, in a child with TZ=TZVAL, what localtime_r says at each of
 * the N instants TS; answers in ROWS. One fork for all of them. Returns 0
 * or -1 if the child failed.
 */
static int
oracle(const char *tzval, const int64_t *ts, size_t n, struct oracle_row *rows)
{
	int fd[2], status, rc = 0;
	pid_t pid;

	if (pipe(fd) == -1)
		return -1;
	fflush(NULL);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		/* The answers go in batches: a write per row costs more
		 * (system calls, switches to the reader) than the rows. */
		struct oracle_row batch[1024];
		size_t k = 0;
		struct tm tm;

		close(fd[0]);
		setenv("TZ", tzval, 1);
		tzset();
		for (size_t i = 0; i < n; i++) {
			time_t t = (time_t)ts[i];
			struct oracle_row *row = &batch[k++];

			memset(row, 0, sizeof(*row));
			if (localtime_r(&t, &tm) == NULL)
				_exit(3);
			row->utoff = (int32_t)tm.tm_gmtoff;
			row->isdst = tm.tm_isdst > 0;
			snprintf(row->abbr, sizeof(row->abbr), "%s", tm.tm_zone);
			if (k < sizeof(batch) / sizeof(batch[0]) && i + 1 < n)
				continue;
			if (write_all(fd[1], batch, k * sizeof(batch[0])) == -1)
				_exit(4);
			k = 0;
		}
		_exit(0);
	}
	close(fd[1]);
	if (read_all(fd[0], rows, n * sizeof(rows[0])) == -1)
		rc = -1;
	close(fd[0]);
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		rc = -1;
	return rc;
}

/* Compare zone Z with glibc under TZVAL at N instants; returns mismatches. */
static size_t
compare(const struct tz_zone *z, const char *tzval, const int64_t *ts, size_t n)
{
	struct oracle_row *rows = calloc(n, sizeof(*rows));
	struct tz_info info;
	size_t bad = 0;

	if (!CHECK(rows != NULL))
		return 1;
	if (!CHECK(oracle(tzval, ts, n, rows) == 0)) {
		free(rows);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		tz_lookup(z, ts[i], &info);
		if (info.utoff != rows[i].utoff || info.isdst != rows[i].isdst ||
		    strcmp(info.abbr, rows[i].abbr) != 0) {
			if (bad++ < 5)
				fprintf(stderr, "%s at %lld: got %d %d %s, glibc %d %d %s\n",
				    tzval, (long long)ts[i], info.utoff, info.isdst,
				    info.abbr, rows[i].utoff, rows[i].isdst, rows[i].abbr);
		}
		if (tz_offset(z, ts[i]) != info.utoff && bad++ < 5)
			fprintf(stderr, "%s: tz_offset disagrees with tz_lookup\n", tzval);
	}
	free(rows);
	return bad;
}

/* Instants to ask about in zone Z: random ones from 1901 to 2400 and
 * both sides of every transition from 1900 to 2100. */
static int64_t *
instants(const struct tz_zone *z, size_t *n)
{
	size_t cap = 8192, k = 0;
	int64_t *ts = malloc(cap * sizeof(*ts)), t;
	struct tz_transition tr;

	*n = 0;
	if (ts == NULL)
		return NULL;
	for (int i = 0; i < 3000; i++)
		ts[k++] = -2147483648LL + (int64_t)check_rand(15000000000ULL);
	for (t = -2208988800LL; tz_next_transition(z, t, &tr) == 0 &&
	    tr.at < 4102444800LL && k + 4 < cap; t = tr.at) {
		ts[k++] = tr.at - 1;
		ts[k++] = tr.at;
		ts[k++] = tr.at + 1;
		/* Transitions found must be changes of offset. */
		if (tr.before == tr.after || tz_offset(z, tr.at - 1) != tr.before ||
		    tz_offset(z, tr.at) != tr.after)
			check_result(0, tz_zone_name(z), 0, "transition offsets");
	}
	*n = k;
	return ts;
}

/* Zone names of zone1970.tab, plus the named ones. */
static char **
zone_list(size_t *n)
{
	FILE *f = fopen(TZ_ROOT_DEFAULT "/zone1970.tab", "r");
	char line[512], **names = NULL;
	size_t k = 0, cap = 0;

	for (size_t i = 0; i < sizeof(named_zones) / sizeof(named_zones[0]); i++) {
		if (k == cap)
			names = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));
		names[k++] = strdup(named_zones[i]);
	}
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *tab1, *tab2, *end;

		if (line[0] == '#' || (tab1 = strchr(line, '\t')) == NULL ||
		    (tab2 = strchr(tab1 + 1, '\t')) == NULL)
			continue;
		end = tab2 + 1 + strcspn(tab2 + 1, "\t\n");
		*end = '\0';
		if (k == cap)
			names = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));
		names[k++] = strdup(tab2 + 1);
	}
	if (f != NULL)
		fclose(f);
	*n = k;
	return names;
}

/* Every zone against glibc. */
static void
test_oracle_zones(void)
{
	size_t nz, zones_bad = 0, total = 0;
	char **names = zone_list(&nz), err[256], tzval[300];

	CHECK(nz >= 100);
	for (size_t i = 0; i < nz; i++) {
		struct tz_zone *z = tz_zone_load(NULL, names[i], err, sizeof(err));
		size_t n = 0, bad;
		int64_t *ts;

		if (!CHECK(z != NULL)) {
			fprintf(stderr, "%s\n", err);
			free(names[i]);
			continue;
		}
		ts = instants(z, &n);
		total += n;
		snprintf(tzval, sizeof(tzval), ":%s", names[i]);
		if ((bad = compare(z, tzval, ts, n)) > 0) {
			fprintf(stderr, "%s: %zu of %zu instants differ from glibc\n",
			    names[i], bad, n);
			zones_bad++;
		}
		free(ts);
		tz_zone_free(z);
		free(names[i]);
	}
	free(names);
	CHECK_INT_EQ(zones_bad, 0);
	printf("oracle: %zu zones, %zu instants compared with glibc\n", nz, total);
}

/* Big-endian helpers for building TZif files. */
static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/*
 * A TZif v2 file with no transitions, one type (UTOFF, ABBR) and FOOTER,
 * into BUF; returns its length.
 */
static size_t
make_tzif(unsigned char *buf, int32_t utoff, const char *abbr, const char *footer)
{
	size_t at = 0, al = strlen(abbr) + 1;

	for (int pass = 0; pass < 2; pass++) {
		memset(buf + at, 0, 44);
		memcpy(buf + at, "TZif2", 5);
		put32(buf + at + 36, 1);		/* typecnt */
		put32(buf + at + 40, (uint32_t)al);	/* charcnt */
		at += 44;
		put32(buf + at, (uint32_t)utoff);
		buf[at + 4] = 0;
		buf[at + 5] = 0;
		at += 6;
		memcpy(buf + at, abbr, al);
		at += al;
	}
	at += (size_t)sprintf((char *)buf + at, "\n%s\n", footer);
	return at;
}

/* The footer parser against glibc's parsing of the same TZ strings. */
static void
test_oracle_footers(void)
{
	static const char *const rules[] = {
		"CET-1CEST,M3.5.0,M10.5.0/3",
		"<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
		"IST-2IDT,M3.4.4/26,M10.5.0",
		"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
		"AAA3BBB,J60/2,300/3",
		"AAA3BBB,59/2,J59/3",
		"NZST-12NZDT,M9.5.0,M4.1.0/3",
		"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
		"XXX-5:30",
		"<+0545>-5:45",
		"AAA-1BBB-3:30,M2.5.6/167,M11.1.1/-167",
		"WET0WEST,M3.5.0/1,M10.5.0",
		"<-04>4<-03>,M9.1.6/24,M4.1.6/24",
	};
	unsigned char buf[512];
	char err[256];
	int64_t ts[4000];

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		size_t len = make_tzif(buf, 0, "XXX", rules[i]), n = 0;
		struct tz_zone *z = tz_zone_parse("Test/Footer", buf, len, err,
		    sizeof(err));
		struct tz_transition tr;
		int64_t t;

		if (!CHECK(z != NULL)) {
			fprintf(stderr, "%s: %s\n", rules[i], err);
			continue;
		}
		CHECK_STR_EQ(tz_zone_footer(z), rules[i]);
		/* From 1970: glibc applies a TZ string's rule to earlier
		 * years as if they were 1970. */
		for (int k = 0; k < 2000; k++)
			ts[n++] = (int64_t)check_rand(8000000000ULL);
		for (t = 946684800; tz_next_transition(z, t, &tr) == 0 &&
		    tr.at < 2524608000LL && n + 3 < 4000; t = tr.at) {
			ts[n++] = tr.at - 1;
			ts[n++] = tr.at;
			ts[n++] = tr.at + 1;
		}
		if (compare(z, rules[i], ts, n) != 0)
			check_result(0, rules[i], 0, "footer rule against glibc");
		else
			check_result(1, rules[i], 0, "");
		tz_zone_free(z);
	}
	/* DST all year, RFC 8536's own example (glibc 2.36 says EST for
	 * some hours of December 31st, hence no oracle). */
	{
		size_t len = make_tzif(buf, 0, "XXX", "EST5EDT,0/0,J365/25");
		struct tz_zone *z = tz_zone_parse("Test/DST", buf, len, err, sizeof(err));
		struct tz_transition tr;
		int all = 1;

		if (CHECK(z != NULL)) {
			for (int64_t t = 0; t < 4102444800LL; t += 3593)
				all &= tz_offset(z, t) == -14400;
			CHECK(all);
			CHECK(tz_next_transition(z, 0, &tr) == -1);
		}
		tz_zone_free(z);
	}
	/* DST without a rule: the US rule, as glibc's default (which
	 * follows older US rules before 2007, hence no oracle). */
	{
		size_t len = make_tzif(buf, 0, "XXX", "EST5EDT");
		struct tz_zone *z = tz_zone_parse("Test/US", buf, len, err, sizeof(err));

		if (CHECK(z != NULL)) {
			CHECK_INT_EQ(tz_offset(z, 1814400000), -14400);	/* June 2027 */
			CHECK_INT_EQ(tz_offset(z, 1800000000), -18000);	/* January */
		}
		tz_zone_free(z);
	}
	/* Bad rules and files are refused. */
	{
		static const char *const bad[] = {
			"X-1", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0",
			"CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,J0,J365", "CET-25",
			"CET-1CEST,M3.5.0/168,M10.5.0", "CET-1CEST,M3.5.0", "<AB>-1",
			"CET-1:60",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			size_t len = make_tzif(buf, 0, "XXX", bad[i]);
			struct tz_zone *z = tz_zone_parse("Bad", buf, len, err, sizeof(err));

			if (!CHECK(z == NULL))
				fprintf(stderr, "accepted %s\n", bad[i]);
			tz_zone_free(z);
		}
		CHECK(tz_zone_parse("Bad", (const unsigned char *)"TZif", 4, err,
		    sizeof(err)) == NULL);
		CHECK_STR_EQ(err, "Bad: not a TZif file");
	}
}

/* Zone names: what is valid, what is refused and why. */
static void
test_names(void)
{
	static const char *const good[] = {
		"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires",
		"Etc/GMT+5", "Etc/GMT-14", "EST5EDT", "America/Port-au-Prince",
	};
	static const char *const bad[] = {
		"", "/etc/passwd", "../etc/passwd", "Europe/../UTC", "Europe/./Berlin",
		"Europe//Berlin", "Europe/", ".hidden", "Europe/Berlin ", "a\\b",
		"Europe/Berlin\n",
	};
	char err[256];
	char longname[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(tz_name_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!CHECK(!tz_name_valid(bad[i])))
			fprintf(stderr, "accepted \"%s\"\n", bad[i]);
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(!tz_name_valid(longname));
	CHECK(tz_zone_load(NULL, "../../etc/passwd", err, sizeof(err)) == NULL);
	CHECK_STR_EQ(err, "invalid time zone name");
	CHECK(tz_zone_load(NULL, "Mars/Olympus_Mons", err, sizeof(err)) == NULL);
	CHECK_STR_EQ(err, "unknown time zone: Mars/Olympus_Mons");
	/* A directory is not a zone. */
	CHECK(tz_zone_load(NULL, "Europe", err, sizeof(err)) == NULL);
	CHECK_STR_EQ(err, "unknown time zone: Europe");
	/* UTC works without zone files. */
	{
		struct tz_zone *z = tz_zone_load("/nonexistent", "UTC", err, sizeof(err));
		struct tz_info info;

		if (CHECK(z != NULL)) {
			tz_lookup(z, 1800000000, &info);
			CHECK_INT_EQ(info.utoff, 0);
			CHECK_STR_EQ(info.abbr, "UTC");
		}
		tz_zone_free(z);
	}
}

/* Write a one-rule zone file at ROOT/NAME. */
static int
write_zone(const char *root, const char *name, const char *footer)
{
	unsigned char buf[512];
	char path[512];
	size_t len = make_tzif(buf, 0, "XXX", footer);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	fwrite(buf, 1, len, f);
	return fclose(f);
}

/* The cache, an injected root, and a reload that picks up new data. */
static void
test_cache(void)
{
	char root[] = "/tmp/test_tzfile.XXXXXX", dir[600], path[600], err[256];
	const struct tz_zone *z, *z2;
	struct tz_cache *c;
	struct tz_info info;

	if (!CHECK(mkdtemp(root) != NULL))
		return;
	snprintf(dir, sizeof(dir), "%s/Test", root);
	CHECK(mkdir(dir, 0700) == 0);
	CHECK(write_zone(root, "Test/Zone", "AAA-1") == 0);
	CHECK(write_zone(root, "Other", "BBB5") == 0);
	if (!CHECK((c = tz_cache_new(root)) != NULL))
		return;
	z = tz_cache_get(c, "Test/Zone", err, sizeof(err));
	if (CHECK(z != NULL)) {
		tz_lookup(z, 0, &info);
		CHECK_INT_EQ(info.utoff, 3600);
		CHECK_STR_EQ(info.abbr, "AAA");
	}
	z2 = tz_cache_get(c, "Other", err, sizeof(err));
	CHECK(z2 != NULL && tz_offset(z2, 0) == -18000);
	CHECK(tz_cache_get(c, "Test/Zone", err, sizeof(err)) == z);
	CHECK(tz_cache_get(c, "Europe/Berlin", err, sizeof(err)) == NULL);
	CHECK(tz_cache_get(c, "Test/../Other", err, sizeof(err)) == NULL);
	CHECK_STR_EQ(err, "invalid time zone name");

	/* New data: the same pointer answers anew. */
	CHECK(write_zone(root, "Test/Zone", "CCC-2DDD,M3.5.0,M10.5.0/3") == 0);
	CHECK_INT_EQ(tz_cache_reload(c, err, sizeof(err)), 0);
	if (z != NULL) {
		tz_lookup(z, 1800000000, &info);	/* 2027-01-15 */
		CHECK_INT_EQ(info.utoff, 7200);
		CHECK_STR_EQ(info.abbr, "CCC");
		CHECK_INT_EQ(tz_offset(z, 1814400000), 10800);	/* June 2027 */
	}
	/* A zone that stops loading keeps its data. */
	snprintf(path, sizeof(path), "%s/Other", root);
	CHECK(unlink(path) == 0);
	CHECK_INT_EQ(tz_cache_reload(c, err, sizeof(err)), 1);
	CHECK_STR_EQ(err, "unknown time zone: Other");
	CHECK(z2 != NULL && tz_offset(z2, 0) == -18000);
	tz_cache_free(c);
	tz_cache_free(NULL);
	tz_zone_free(NULL);
	snprintf(path, sizeof(path), "%s/Test/Zone", root);
	unlink(path);
	rmdir(dir);
	rmdir(root);
}

/* Civil seconds of Y-M-D H:M. */
static int64_t
civil(int64_t y, int m, int d, int h, int mi)
{
	return tz_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60;
}

/* Local to UTC: named cases, then round trips at random. */
static void
test_resolve(void)
{
	char err[256];
	struct tz_zone *z = tz_zone_load(NULL, "Europe/Berlin", err, sizeof(err));
	struct tz_zone *ny = tz_zone_load(NULL, "America/New_York", err, sizeof(err));
	struct tz_zone *lh = tz_zone_load(NULL, "Australia/Lord_Howe", err, sizeof(err));
	struct tz_resolution r;
	size_t nz;
	char **names;

	if (!CHECK(z != NULL && ny != NULL && lh != NULL))
		return;
	/* Berlin, 2027-03-28 02:30 does not exist: the gap ends 01:00Z. */
	tz_resolve(z, civil(2027, 3, 28, 2, 30), &r);
	CHECK_INT_EQ(r.kind, TZ_GAP);
	CHECK_INT_EQ(r.utc[0], civil(2027, 3, 28, 1, 0));
	CHECK_INT_EQ(r.before, 3600);
	CHECK_INT_EQ(r.after, 7200);
	/* 2027-10-31 02:30 happens twice: 00:30Z and 01:30Z. */
	tz_resolve(z, civil(2027, 10, 31, 2, 30), &r);
	CHECK_INT_EQ(r.kind, TZ_OVERLAP);
	CHECK_INT_EQ(r.utc[0], civil(2027, 10, 31, 0, 30));
	CHECK_INT_EQ(r.utc[1], civil(2027, 10, 31, 1, 30));
	tz_resolve(z, civil(2027, 7, 1, 12, 0), &r);
	CHECK_INT_EQ(r.kind, TZ_UNIQUE);
	CHECK_INT_EQ(r.utc[0], civil(2027, 7, 1, 10, 0));
	/* New York, 2026-11-01 01:30 twice. */
	tz_resolve(ny, civil(2026, 11, 1, 1, 30), &r);
	CHECK_INT_EQ(r.kind, TZ_OVERLAP);
	CHECK_INT_EQ(r.utc[1] - r.utc[0], 3600);
	/* Lord Howe: 30 minutes forward at 02:00 on 2026-10-04. */
	tz_resolve(lh, civil(2026, 10, 4, 2, 15), &r);
	CHECK_INT_EQ(r.kind, TZ_GAP);
	CHECK_INT_EQ(r.after - r.before, 1800);
	tz_resolve(lh, civil(2026, 10, 4, 2, 30), &r);
	CHECK_INT_EQ(r.kind, TZ_UNIQUE);
	/* And 30 minutes back at 02:00 on 2026-04-05. */
	tz_resolve(lh, civil(2026, 4, 5, 1, 45), &r);
	CHECK_INT_EQ(r.kind, TZ_OVERLAP);
	CHECK_INT_EQ(r.utc[1] - r.utc[0], 1800);
	tz_zone_free(z);
	tz_zone_free(ny);
	tz_zone_free(lh);

	/* Zone data newer than Debian 12's ICU: Cairo's summer time (again
	 * since 2023) and Nuuk's -02 (since 2023), in July 2026. */
	if ((z = tz_zone_load(NULL, "Africa/Cairo", err, sizeof(err))) != NULL)
		CHECK_INT_EQ(tz_offset(z, 1782864000), 10800);
	tz_zone_free(z);
	if ((z = tz_zone_load(NULL, "America/Nuuk", err, sizeof(err))) != NULL) {
		CHECK_INT_EQ(tz_offset(z, 1768435200), -7200);
		CHECK_INT_EQ(tz_offset(z, 1782864000), -3600);
	}
	tz_zone_free(z);

	/* Round trips in the named zones: whatever tz_resolve says holds. */
	names = (char **)(uintptr_t)named_zones;
	nz = sizeof(named_zones) / sizeof(named_zones[0]);
	for (size_t i = 0; i < nz; i++) {
		size_t bad = 0;

		if ((z = tz_zone_load(NULL, names[i], err, sizeof(err))) == NULL)
			continue;
		for (int k = 0; k < 20000; k++) {
			int64_t L = -1000000000LL + (int64_t)check_rand(4000000000ULL);
			int ok;

			tz_resolve(z, L, &r);
			switch (r.kind) {
			case TZ_UNIQUE:
				ok = r.utc[0] + tz_offset(z, r.utc[0]) == L;
				break;
			case TZ_OVERLAP:
				ok = r.utc[0] < r.utc[1] &&
				    r.utc[0] + tz_offset(z, r.utc[0]) == L &&
				    r.utc[1] + tz_offset(z, r.utc[1]) == L;
				break;
			default:
				ok = tz_offset(z, r.utc[0] - 1) == r.before &&
				    tz_offset(z, r.utc[0]) == r.after &&
				    r.utc[0] - 1 + r.before < L && r.utc[0] + r.after > L;
				break;
			}
			if (!ok && bad++ < 3)
				fprintf(stderr, "%s: resolve %lld: kind %d\n", names[i],
				    (long long)L, r.kind);
		}
		/* Every transition's local times resolve as a gap or overlap. */
		{
			struct tz_transition tr;

			for (int64_t t = 0; tz_next_transition(z, t, &tr) == 0 &&
			    tr.at < 2524608000LL; t = tr.at) {
				int64_t L = tr.at + (tr.before < tr.after ? tr.before :
				    tr.after);

				tz_resolve(z, L, &r);
				if (r.kind != (tr.before < tr.after ? TZ_GAP : TZ_OVERLAP) &&
				    bad++ < 3)
					fprintf(stderr, "%s: transition at %lld: kind %d\n",
					    names[i], (long long)tr.at, r.kind);
			}
		}
		if (!CHECK_INT_EQ(bad, 0))
			fprintf(stderr, "  in %s\n", names[i]);
		tz_zone_free(z);
	}
}

/* The civil calendar helpers. */
static void
test_civil(void)
{
	int64_t y;
	int m, d;

	CHECK_INT_EQ(tz_days_from_civil(1970, 1, 1), 0);
	CHECK_INT_EQ(tz_days_from_civil(2000, 3, 1), 11017);
	CHECK_INT_EQ(tz_days_from_civil(1969, 12, 31), -1);
	CHECK_INT_EQ(tz_weekday(0), 4);		/* a Thursday */
	CHECK_INT_EQ(tz_weekday(-1), 3);
	CHECK_INT_EQ(tz_month_days(2024, 2), 29);
	CHECK_INT_EQ(tz_month_days(2100, 2), 28);
	CHECK_INT_EQ(tz_month_days(2000, 2), 29);
	for (int64_t days = -800000; days < 800000; days += 997) {
		tz_civil_from_days(days, &y, &m, &d);
		if (!CHECK_INT_EQ(tz_days_from_civil(y, m, d), days))
			break;
	}
}

/* Damaged zone files: refused or read, never a crash (run it under
 * SANITIZE=address,undefined to see reads out of bounds). */
static void
test_damaged(void)
{
	FILE *f = fopen(TZ_ROOT_DEFAULT "/Europe/Berlin", "rb");
	unsigned char orig[8192], buf[8192];
	size_t len, accepted = 0;
	char err[256];

	if (!CHECK(f != NULL))
		return;
	len = fread(orig, 1, sizeof(orig), f);
	fclose(f);
	check_srand(7);
	for (int i = 0; i < 20000; i++) {
		size_t n = len;
		struct tz_zone *z;

		memcpy(buf, orig, len);
		if (i % 4 == 0)
			n = check_rand(len + 1);
		for (int k = 0, m = 1 + (int)check_rand(4); k < m && n > 0; k++)
			buf[check_rand(n)] = (unsigned char)check_rand(256);
		if ((z = tz_zone_parse("Damaged", buf, n, err, sizeof(err))) != NULL) {
			struct tz_transition tr;
			struct tz_resolution r;
			struct tz_info info;

			accepted++;
			for (int k = 0; k < 20; k++) {
				int64_t t = -4000000000LL + (int64_t)check_rand(12000000000ULL);

				tz_lookup(z, t, &info);
				tz_next_transition(z, t, &tr);
				tz_prev_transition(z, t, &tr);
				tz_resolve(z, t, &r);
			}
			tz_zone_free(z);
		} else
			CHECK(strncmp(err, "Damaged: ", 9) == 0);
	}
	CHECK(accepted > 0);
}

int
main(void)
{
	test_civil();
	test_names();
	test_cache();
	test_resolve();
	test_damaged();
	test_oracle_footers();
	test_oracle_zones();
	return check_summary();
}
