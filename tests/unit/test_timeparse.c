/*
 * Unit tests for client/timeparse: the times "loopctl schedule --at" takes,
 * as golden cases run in the zone each names and at a fixed "now".
 *
 * A case is a folder tests/golden/timeparse/CASE/ holding `input` (the
 * text, one line), `tz` (the zone, set as TZ in this process's
 * environment), `now` (an RFC 3339 time) and either `output` (the result
 * as RFC 3339 UTC with milliseconds) or `error` (words the reason must
 * contain). The cases cover several zones and both daylight-saving
 * changes (a skipped hour refused, a repeated one taken at its first).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "client/timeparse.h"

#define GOLDEN_DIR "tests/golden/timeparse"

/* The first line of file DIR/NAME into BUF, without its newline; "" and
 * 0 if there is no such file. Returns whether there was. */
static int
read_line(const char *dir, const char *name, char *buf, size_t len)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*buf = '\0';
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, (int)len, f) == NULL)
		*buf = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return 1;
}

/* Run the case in folder DIR. */
static void
run_case(const char *dir)
{
	char input[256], tz[128], now_s[64], want[128], got[128], err[256];
	double now, t;
	int rc, has_out, has_err;

	read_line(dir, "input", input, sizeof(input));
	read_line(dir, "tz", tz, sizeof(tz));
	read_line(dir, "now", now_s, sizeof(now_s));
	setenv("TZ", tz, 1);
	tzset();
	if (!check_result(timeparse_at(now_s, 0, &now, err, sizeof(err)) == 0,
	    dir, 0, "reading `now`"))
		return;
	has_out = read_line(dir, "output", want, sizeof(want));
	if (!has_out)
		has_err = read_line(dir, "error", want, sizeof(want));
	else
		has_err = read_line(dir, "error", got, sizeof(got));
	if (!check_result(has_out != has_err, dir, 0, "one of output/error"))
		return;
	rc = timeparse_at(input, now, &t, err, sizeof(err));
	if (has_out) {
		if (rc != 0)
			fprintf(stderr, "%s: '%s' in %s refused: %s\n", dir,
			    input, tz, err);
		else if (strcmp(timeparse_format(t, got, sizeof(got)), want))
			fprintf(stderr, "%s: '%s' in %s: got %s, want %s\n",
			    dir, input, tz, got, want);
		check_result(rc == 0 && strcmp(got, want) == 0, dir, 0,
		    "output");
	} else {
		if (rc == 0)
			fprintf(stderr, "%s: '%s' in %s: got %s, want an error"
			    " with '%s'\n", dir, input, tz, timeparse_format(t,
			    got, sizeof(got)), want);
		else if (strstr(err, want) == NULL)
			fprintf(stderr, "%s: error '%s' lacks '%s'\n", dir,
			    err, want);
		check_result(rc == -1 && strstr(err, want) != NULL, dir, 0,
		    "error");
	}
}

/* Every case folder, in name order. */
static void
test_golden(void)
{
	struct dirent **names;
	char dir[1024];
	int n;

	n = scandir(GOLDEN_DIR, &names, NULL, alphasort);
	if (!CHECK(n > 2))
		return;
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(dir, sizeof(dir), "%s/%s", GOLDEN_DIR,
			    names[i]->d_name);
			run_case(dir);
		}
		free(names[i]);
	}
	free(names);
}

/* Local rendering and relative times. */
static void
test_formats(void)
{
	char buf[64];

	setenv("TZ", "Europe/Paris", 1);
	tzset();
	CHECK_STR_EQ(timeparse_local(1796464800, buf, sizeof(buf)),
	    "2026-12-05 11:00:00 CET");
	CHECK_STR_EQ(timeparse_local(1796464800.25, buf, sizeof(buf)),
	    "2026-12-05 11:00:00.250 CET");
	CHECK_STR_EQ(timeparse_local(1783936800, buf, sizeof(buf)),
	    "2026-07-13 12:00:00 CEST");
	CHECK_STR_EQ(timeparse_relative(3599.5, buf, sizeof(buf)), "in 59m");
	CHECK_STR_EQ(timeparse_relative(-180, buf, sizeof(buf)), "3m ago");
	CHECK_STR_EQ(timeparse_relative(0.2, buf, sizeof(buf)), "now");
	CHECK_STR_EQ(timeparse_relative(42, buf, sizeof(buf)), "in 42s");
	CHECK_STR_EQ(timeparse_relative(-5400, buf, sizeof(buf)),
	    "1h30m ago");
	CHECK_STR_EQ(timeparse_relative(7200, buf, sizeof(buf)), "in 2h");
	CHECK_STR_EQ(timeparse_relative(-90000, buf, sizeof(buf)),
	    "1d1h ago");
}

int
main(void)
{
	test_golden();
	test_formats();
	return check_summary();
}
