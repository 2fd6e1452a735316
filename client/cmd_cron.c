/*
 * cmd_cron: recurring schedules from the command line. `cron next` works
 * offline, like `systemd-analyze calendar --iterations`: it parses a spec
 * with loopd's own parser and prints its next fire times in UTC and in
 * the spec's zone, read from the system's zone files (TZDIR overrides
 * where they are).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/loopctl.h"
#include "client/output.h"
#include "client/timeparse.h"
#include "recur/next.h"
#include "recur/spec.h"
#include "recur/tzfile.h"

enum {
	CO_CRON = 0x100, CO_CALENDAR, CO_EVERY, CO_TZ, CO_FROM, CO_SKIP_GAP,
};

#define CRON_NEXT_MAX	1000

/* Format Unix microseconds US at offset OFF into BUF: "Sun 2027-03-28
 * 03:00:00" (ISO=0) or "2027-03-28T03:00:00+02:00" (ISO=1; "Z" for UTC
 * when Z is set). Fractions of a second only when there are any. */
static char *
cron_time(char *buf, size_t len, int64_t us, int32_t off, int iso, int z)
{
	static const char *const wd[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	int64_t t = us / RECUR_US - (us % RECUR_US < 0);
	int64_t frac = us - t * RECUR_US, L = t + off;
	int64_t days = L / 86400 - (L % 86400 < 0), sod = L - days * 86400, y;
	char fr[16] = "", zone[16] = "";
	int m, d;

	tz_civil_from_days(days, &y, &m, &d);
	if (frac != 0) {
		snprintf(fr, sizeof(fr), ".%06lld", (long long)frac);
		for (size_t n = strlen(fr); fr[n - 1] == '0'; n--)
			fr[n - 1] = '\0';
	}
	if (iso && z)
		snprintf(zone, sizeof(zone), "Z");
	else if (iso)
		snprintf(zone, sizeof(zone), "%c%02d:%02d", off < 0 ? '-' : '+',
		    abs(off) / 3600, abs(off) / 60 % 60);
	if (iso)
		snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d%s%s", (long long)y,
		    m, d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
		    fr, zone);
	else
		snprintf(buf, len, "%s %04lld-%02d-%02d %02d:%02d:%02d%s",
		    wd[tz_weekday(days)], (long long)y, m, d, (int)(sod / 3600),
		    (int)(sod / 60 % 60), (int)(sod % 60), fr);
	return buf;
}

/* Unix microseconds as seconds with as many decimals as needed. */
static void
cron_unix(char *buf, size_t len, int64_t us)
{
	if (us % RECUR_US == 0)
		snprintf(buf, len, "%lld", (long long)(us / RECUR_US));
	else {
		snprintf(buf, len, "%.6f", (double)us / RECUR_US);
		for (size_t n = strlen(buf); buf[n - 1] == '0'; n--)
			buf[n - 1] = '\0';
	}
}

int
cmd_cron_next(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cron", no_argument, NULL, CO_CRON },
		{ "calendar", no_argument, NULL, CO_CALENDAR },
		{ "every", no_argument, NULL, CO_EVERY },
		{ "tz", required_argument, NULL, CO_TZ },
		{ "from", required_argument, NULL, CO_FROM },
		{ "skip-gap", no_argument, NULL, CO_SKIP_GAP },
		{ NULL, 0, NULL, 0 },
	};
	enum recur_kind kind = 0;
	const char *tzname = "UTC";
	char text[2048] = "", err[256], a[64], b[64], u[32];
	struct recur_spec spec;
	struct tz_zone *zone = NULL;
	struct tz_info info;
	struct timespec now;
	char why[200];
	int64_t t, next;
	json_t *list = NULL;
	long n = 10;
	int ch, skip = 0, found = 0, rc = CTL_EXIT_USAGE;
	double from;
	char *end;

	clock_gettime(CLOCK_REALTIME, &now);
	t = (int64_t)now.tv_sec * RECUR_US + now.tv_nsec / 1000;
	while ((ch = ctl_getopt(ctl, argc, argv, "n:", opts)) != -1) {
		switch (ch) {
		case CO_CRON:
		case CO_CALENDAR:
		case CO_EVERY:
			kind = ch == CO_CRON ? RECUR_CRON : ch == CO_CALENDAR ?
			    RECUR_CALENDAR : RECUR_EVERY;
			break;
		case CO_TZ:
			tzname = optarg;
			break;
		case CO_FROM:
			if (timeparse_at(optarg, (double)t / 1e6, &from, why,
			    sizeof(why)) == -1)
				ctl_usage(ctl, "--from: bad time '%s': %s", optarg, why);
			t = llround(from * 1e6);
			break;
		case CO_SKIP_GAP:
			skip = 1;
			break;
		case 'n':
			n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || n < 1 || n > CRON_NEXT_MAX)
				ctl_usage(ctl, "-n: a number from 1 to %d", CRON_NEXT_MAX);
			break;
		default:
			ctl_usage(ctl, NULL);
		}
	}
	if (optind >= argc)
		ctl_usage(ctl, "no spec");
	/* The spec may come as one argument or as several words. */
	for (int i = optind; i < argc; i++) {
		size_t at = strlen(text);

		if (at + strlen(argv[i]) + 2 > sizeof(text))
			ctl_usage(ctl, "spec too long");
		snprintf(text + at, sizeof(text) - at, "%s%s", at ? " " : "", argv[i]);
	}
	if (kind == 0)
		kind = recur_guess(text);
	if (recur_parse(kind, text, &spec, err, sizeof(err)) == -1) {
		ctl_warnx("%s", err);
		goto out;
	}
	if (skip)
		spec.flags |= RECUR_SKIP_GAP;
	if ((zone = tz_zone_load(getenv("TZDIR"), tzname, err, sizeof(err))) == NULL) {
		ctl_warnx("--tz: %s", err);
		goto out;
	}
	rc = CTL_EXIT_OK;
	if (ctl->json)
		list = json_array();
	else
		printf("%s %s (%s)\n  zone: %s\n", recur_kind_name(kind), text,
		    recur_describe(&spec, err, sizeof(err)), tzname);
	for (long i = 0; i < n; i++) {
		if (recur_next(&spec, zone, t, &next) == -1)
			break;
		found++;
		t = next;
		tz_lookup(zone, next / RECUR_US - (next % RECUR_US < 0), &info);
		cron_unix(u, sizeof(u), next);
		if (list != NULL) {
			json_array_append_new(list, json_pack("{s:f, s:s, s:s, s:s}",
			    "unix", (double)next / RECUR_US,
			    "utc", cron_time(a, sizeof(a), next, 0, 1, 1),
			    "local", cron_time(b, sizeof(b), next, info.utoff, 1, 0),
			    "abbr", info.abbr));
			continue;
		}
		printf("  %s %-6s %s UTC  %s\n", cron_time(b, sizeof(b), next,
		    info.utoff, 0, 0), info.abbr, cron_time(a, sizeof(a), next, 0, 0,
		    0), u);
	}
	if (list != NULL)
		output_json(list);
	if (found == 0) {
		ctl_warnx("%s %s: never fires again", recur_kind_name(kind), text);
		rc = CTL_EXIT_FAIL;
	}
out:
	json_decref(list);
	tz_zone_free(zone);
	return rc;
}
