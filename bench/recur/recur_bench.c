/*
 * recur_bench: how fast recur/next finds fire times, and how much a
 * parsed spec and a loaded zone weigh.
 *
 *   bench/build/recur_bench [-s SCHEDULES] [-z ZONES] [-r ROUNDS]
 *
 * SCHEDULES specs (default 10,000: a mix of cron, calendar and every
 * specs) are spread over ZONES zones (default 50, taken evenly from
 * zone1970.tab). Two measures:
 *   chained  each round advances every schedule to its next fire time,
 *            as a scheduler does after each occurrence;
 *   random   next fire time after a random instant from 2000 to 2040.
 * Memory: sizeof(struct recur_spec), and the heap a zone takes once
 * loaded (shared by all the schedules in that zone). One line of JSON on
 * stdout; bench/recur/bench.py runs it for bench/run.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "recur/next.h"
#include "recur/spec.h"
#include "recur/tzfile.h"

struct sched {
	struct recur_spec	 spec;
	const struct tz_zone	*zone;
	int64_t			 t;
};

static uint64_t rng = 0x2545F4914F6CDD1DULL;

/* xorshift64: deterministic numbers for the spec mix. */
static uint64_t
rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

/* Seconds on the monotonic clock. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A random spec text of the mix into BUF; its kind in *KIND. */
static void
spec_text(char *buf, size_t len, enum recur_kind *kind)
{
	int m = (int)rnd(60), h = (int)rnd(24), d = 1 + (int)rnd(28);

	*kind = RECUR_CRON;
	switch (rnd(14)) {
	case 0: snprintf(buf, len, "%d %d * * *", m, h); break;
	case 1: snprintf(buf, len, "*/%d * * * *", 1 + (int)rnd(30)); break;
	case 2: snprintf(buf, len, "%d */2 * * 1-5", m); break;
	case 3: snprintf(buf, len, "0 %d 1,15 * *", h); break;
	case 4: snprintf(buf, len, "@hourly"); break;
	case 5: snprintf(buf, len, "%d %d %d * * *", (int)rnd(60), m, h); break;
	case 6: snprintf(buf, len, "%d %d %d * 1", m, h, d); break;
	case 7: snprintf(buf, len, "%d %d %d 2 *", m, h, d); break;
	case 8:
		*kind = RECUR_CALENDAR;
		snprintf(buf, len, "Mon *-*-01..07 %02d:%02d", h, m);
		break;
	case 9:
		*kind = RECUR_CALENDAR;
		snprintf(buf, len, "*-*~01 %02d:00", h);
		break;
	case 10:
		*kind = RECUR_CALENDAR;
		snprintf(buf, len, "Fri *-*-13 %02d:%02d", h, m);
		break;
	case 11:
		*kind = RECUR_CALENDAR;
		snprintf(buf, len, "Mon..Fri *-*-* %02d:%02d:30", h, m);
		break;
	case 12:
		*kind = RECUR_CALENDAR;
		snprintf(buf, len, "quarterly");
		break;
	default:
		*kind = RECUR_EVERY;
		snprintf(buf, len, "%ds", 1 + (int)rnd(3600));
		break;
	}
}

/* ZONES zone names taken evenly from zone1970.tab. */
static char **
zone_names(int want, int *got)
{
	FILE *f = fopen(TZ_ROOT_DEFAULT "/zone1970.tab", "r");
	char line[512], **all = NULL, **out;
	int n = 0, cap = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *t1, *t2;

		if (line[0] == '#' || (t1 = strchr(line, '\t')) == NULL ||
		    (t2 = strchr(t1 + 1, '\t')) == NULL)
			continue;
		t2[1 + strcspn(t2 + 1, "\t\n")] = '\0';
		if (n == cap)
			all = realloc(all, (size_t)(cap = cap ? cap * 2 : 64) * sizeof(*all));
		all[n++] = strdup(t2 + 1);
	}
	if (f != NULL)
		fclose(f);
	if (n == 0) {
		*got = 0;
		return NULL;
	}
	if (want > n)
		want = n;
	out = calloc((size_t)want, sizeof(*out));
	for (int i = 0; i < want; i++)
		out[i] = strdup(all[(size_t)i * (size_t)n / (size_t)want]);
	for (int i = 0; i < n; i++)
		free(all[i]);
	free(all);
	*got = want;
	return out;
}

int
main(int argc, char **argv)
{
	int nsched = 10000, nzones = 50, rounds = 20, ch, got;
	struct tz_cache *cache;
	const struct tz_zone **zones;
	struct sched *s;
	char **names, text[128], err[256];
	enum recur_kind kind;
	size_t heap0, heap1;
	double t0, chained, random;
	long long calls = 0;
	int64_t out, sum = 0;

	while ((ch = getopt(argc, argv, "s:z:r:")) != -1) {
		switch (ch) {
		case 's': nsched = atoi(optarg); break;
		case 'z': nzones = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: recur_bench [-s N] [-z N] [-r N]\n");
			return 2;
		}
	}
	names = zone_names(nzones, &got);
	if (got == 0 || nsched < 1 || rounds < 1) {
		fprintf(stderr, "recur_bench: no zones or bad counts\n");
		return 1;
	}
	nzones = got;
	heap0 = mallinfo2().uordblks;
	cache = tz_cache_new(NULL);
	zones = calloc((size_t)nzones, sizeof(*zones));
	for (int i = 0; i < nzones; i++)
		if ((zones[i] = tz_cache_get(cache, names[i], err, sizeof(err))) == NULL) {
			fprintf(stderr, "recur_bench: %s\n", err);
			return 1;
		}
	heap1 = mallinfo2().uordblks;
	s = calloc((size_t)nsched, sizeof(*s));
	for (int i = 0; i < nsched; i++) {
		spec_text(text, sizeof(text), &kind);
		if (recur_parse(kind, text, &s[i].spec, err, sizeof(err)) == -1) {
			fprintf(stderr, "recur_bench: %s: %s\n", text, err);
			return 1;
		}
		s[i].zone = zones[i % nzones];
		s[i].t = 1798761600LL * RECUR_US;	/* 2027-01-01 */
	}

	/* Chained: every schedule to its next fire, ROUNDS times. */
	t0 = now();
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < nsched; i++) {
			if (recur_next(&s[i].spec, s[i].zone, s[i].t, &out) == 0)
				s[i].t = out;
			calls++;
		}
	chained = (double)calls / (now() - t0);

	/* Random instants. */
	calls = 0;
	t0 = now();
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < nsched; i++) {
			int64_t at = (946684800LL + (int64_t)rnd(40ULL * 365 * 86400)) *
			    RECUR_US;

			if (recur_next(&s[i].spec, s[i].zone, at, &out) == 0)
				sum += (out / RECUR_US) & 1;
			calls++;
		}
	random = (double)calls / (now() - t0);

	printf("{\"schedules\": %d, \"zones\": %d, \"rounds\": %d,"
	    " \"next_per_sec_chained\": %.0f, \"next_per_sec_random\": %.0f,"
	    " \"bytes_per_spec\": %zu, \"bytes_per_zone\": %.0f, \"check\": %lld}\n",
	    nsched, nzones, rounds, chained, random, sizeof(struct recur_spec),
	    (double)(heap1 - heap0) / nzones, (long long)sum);
	tz_cache_free(cache);
	free(zones);
	free(s);
	for (int i = 0; i < nzones; i++)
		free(names[i]);
	free(names);
	return 0;
}
