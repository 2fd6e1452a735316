/*
 * check: the unit tests' framework, all of it. CHECK(cond) counts a pass
 * or prints "file:line: CHECK(cond) failed" on stderr and counts a
 * failure; the test goes on either way. A binary ends with
 * `return check_summary();`, which prints "N passed, N failed" on stdout
 * (tests/run-unit reads that line) and gives the exit status.
 *
 * Every CHECK macro evaluates to whether it passed, so a test can stop
 * early when what follows would make no sense: if (!CHECK(p)) return;
 */
#ifndef TESTS_UNIT_CHECK_H
#define TESTS_UNIT_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static unsigned long check_passed, check_failed;

/* Count one result; print where a failure happened (line 0: a data
 * file, no line). Returns ok. */
static inline int
check_result(int ok, const char *file, int line, const char *what)
{
	if (ok)
		check_passed++;
	else {
		check_failed++;
		if (line > 0)
			fprintf(stderr, "%s:%d: %s failed\n", file, line, what);
		else
			fprintf(stderr, "%s: %s failed\n", file, what);
	}
	return ok;
}

/* Like check_result, for two integers that should be equal. */
static inline int
check_int_eq(intmax_t got, intmax_t want, const char *file, int line, const char *what)
{
	if (got != want)
		fprintf(stderr, "%s:%d: got %jd, want %jd\n", file, line, got, want);
	return check_result(got == want, file, line, what);
}

/* Like check_result, for two strings (either may be NULL). */
static inline int
check_str_eq(const char *got, const char *want, const char *file, int line,
    const char *what)
{
	int ok = got != NULL && want != NULL ? strcmp(got, want) == 0 : got == want;

	if (!ok)
		fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", file, line,
		    got ? got : "(null)", want ? want : "(null)");
	return check_result(ok, file, line, what);
}

#define CHECK(cond) check_result(!!(cond), __FILE__, __LINE__, "CHECK(" #cond ")")
#define CHECK_INT_EQ(got, want) check_int_eq((intmax_t)(got), (intmax_t)(want), \
	__FILE__, __LINE__, "CHECK_INT_EQ(" #got ", " #want ")")
#define CHECK_STR_EQ(got, want) check_str_eq((got), (want), __FILE__, __LINE__, \
	"CHECK_STR_EQ(" #got ", " #want ")")

/* Fixed-seed pseudo-random numbers (splitmix64), the same on every
 * machine, so a randomized test that fails fails again. */
static uint64_t check_rng_state = 0x10097dULL;

static inline void
check_srand(uint64_t seed)
{
	check_rng_state = seed;
}

/* A random number in [0, n); n > 0. */
static inline uint64_t
check_rand(uint64_t n)
{
	uint64_t z = (check_rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31)) % n;
}

/* Print the summary line; the binary's exit status (1 if anything failed). */
static inline int
check_summary(void)
{
	printf("%lu passed, %lu failed\n", check_passed, check_failed);
	fflush(stdout);
	return check_failed > 0;
}

#endif
