/*
 * Unit tests for the retry backoff (daemon/action/outcome: outcome_backoff):
 * the delay before attempt n + 1 is between half and all of
 * backoff * 2^(n-1), capped at max_backoff (API.md §3), for every share
 * the random draw can pick, with no overflow for large n.
 */
#include <stdint.h>
#include <stdio.h>

#include "daemon/action/outcome.h"
#include "tests/unit/check.h"

#define SEC 1000000LL

/* The draw's ends and middle: half, just over 3/4, nearly all. */
static void
test_shares(void)
{
	/* backoff 1 s, first retry (n = 1): 2^0 = 1 s. */
	CHECK_INT_EQ(outcome_backoff(1, 300, 1, 0), SEC / 2);
	CHECK_INT_EQ(outcome_backoff(1, 300, 1, 1u << 31), SEC * 3 / 4);
	CHECK(outcome_backoff(1, 300, 1, UINT32_MAX) < SEC);
	CHECK(outcome_backoff(1, 300, 1, UINT32_MAX) >= SEC - 1);
	/* A fractional backoff. */
	CHECK_INT_EQ(outcome_backoff(0.25, 300, 1, 0), SEC / 8);
	CHECK_INT_EQ(outcome_backoff(0.25, 300, 3, 0), SEC / 2);
}

/* It doubles per attempt until the cap, then stays there. */
static void
test_doubling_and_cap(void)
{
	int64_t prev = 0;

	for (uint32_t n = 1; n <= 8; n++) {
		int64_t lo = outcome_backoff(2, 1e9, n, 0);
		int64_t hi = outcome_backoff(2, 1e9, n, UINT32_MAX);

		/* 2 s * 2^(n-1): half of it at the low end. */
		CHECK_INT_EQ(lo, (SEC << (n - 1)));
		CHECK(hi > lo && hi <= 2 * lo);
		if (n > 1)
			CHECK_INT_EQ(lo, 2 * prev);
		prev = lo;
	}
	/* 1 s * 2^9 = 512 s is past a 300 s cap: between 150 and 300 s. */
	CHECK_INT_EQ(outcome_backoff(1, 300, 10, 0), 150 * SEC);
	CHECK(outcome_backoff(1, 300, 10, UINT32_MAX) <= 300 * SEC);
	CHECK(outcome_backoff(1, 300, 10, UINT32_MAX) > 299 * SEC);
	/* Exactly at the cap. */
	CHECK_INT_EQ(outcome_backoff(1, 4, 3, 0), 2 * SEC);
	CHECK_INT_EQ(outcome_backoff(1, 4, 4, 0), 2 * SEC);
	/* A cap below the backoff caps the first retry too. */
	CHECK_INT_EQ(outcome_backoff(10, 1, 1, 0), SEC / 2);
}

/* Large attempt numbers: no overflow, no negative delay, still capped. */
static void
test_large_n(void)
{
	uint32_t ns[] = { 30, 60, 61, 64, 1000, UINT32_MAX };

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		int64_t lo = outcome_backoff(1, 300, ns[i], 0);
		int64_t hi = outcome_backoff(1, 300, ns[i], UINT32_MAX);

		if (!CHECK(lo == 150 * SEC && hi > lo && hi <= 300 * SEC))
			fprintf(stderr, "  n = %u: %lld .. %lld\n", ns[i],
			    (long long)lo, (long long)hi);
	}
}

/* Every draw lands in [half, all] of the uncapped or capped delay. */
static void
test_random_draws(void)
{
	int bad = 0;

	check_srand(11);
	for (int i = 0; i < 100000; i++) {
		double backoff = 0.001 + (double)check_rand(100000) / 1000.0;
		double cap = 0.001 + (double)check_rand(1000000) / 1000.0;
		uint32_t n = 1 + (uint32_t)check_rand(70);
		uint32_t r = (uint32_t)check_rand(1ULL << 32);
		double full = backoff;
		int64_t d = outcome_backoff(backoff, cap, n, r);

		for (uint32_t k = 1; k < n && full < cap; k++)
			full *= 2;
		if (full > cap)
			full = cap;
		/* Truncation to whole microseconds: 1 µs below at most. */
		if (d < (int64_t)(full * SEC / 2) - 1 || d > (int64_t)(full * SEC)) {
			if (bad++ < 5)
				fprintf(stderr, "backoff %g cap %g n %u r %u: %lld\n",
				    backoff, cap, n, r, (long long)d);
		}
	}
	CHECK_INT_EQ(bad, 0);
}

int
main(void)
{
	test_shares();
	test_doubling_and_cap();
	test_large_n();
	test_random_draws();
	return check_summary();
}
