/*
 * Unit tests for proto/units: the durations and sizes users type.
 */
#include "proto/units.h"
#include "tests/unit/check.h"

/* Check that s parses as a duration of want microseconds. */
#define DURATION_OK(s, want) do {					\
	int64_t us_ = -7;						\
	if (CHECK(units_parse_duration((s), &us_) == 0))		\
		CHECK_INT_EQ(us_, (want));				\
} while (0)

/* Check that s is refused and *out left alone. */
#define DURATION_BAD(s) do {						\
	int64_t us_ = -7;						\
	CHECK(units_parse_duration((s), &us_) == -1);			\
	CHECK_INT_EQ(us_, -7);						\
} while (0)

#define SIZE_OK(s, want) do {						\
	uint64_t n_ = 7;						\
	if (CHECK(units_parse_size((s), &n_) == 0))			\
		CHECK((n_) == (uint64_t)(want));			\
} while (0)

#define SIZE_BAD(s) do {						\
	uint64_t n_ = 7;						\
	CHECK(units_parse_size((s), &n_) == -1);			\
	CHECK(n_ == 7);							\
} while (0)

static void
test_durations(void)
{
	DURATION_OK("0", 0);
	DURATION_OK("0.5", 500000);
	DURATION_OK("10", 10000000);
	DURATION_OK(".25", 250000);
	DURATION_OK("500ms", 500000);
	DURATION_OK("2m", 120000000);
	DURATION_OK("1h30m", 5400000000LL);
	DURATION_OK("1.5s", 1500000);
	DURATION_OK("250us", 250);
	DURATION_OK("1d", 86400000000LL);
	DURATION_OK("1h", 3600000000LL);
	DURATION_OK("1m30s", 90000000);
	DURATION_OK("2h45m30s500ms", 9930500000LL);
	DURATION_OK("0s", 0);
	DURATION_OK("0.000001s", 1);
	DURATION_OK("1.5ms", 1500);
	/* About 292,000 years is the ceiling; 100,000 days is fine. */
	DURATION_OK("100000d", 8640000000000000LL);
}

static void
test_durations_rejected(void)
{
	DURATION_BAD(NULL);
	DURATION_BAD("");
	DURATION_BAD("-1");
	DURATION_BAD("-1s");
	DURATION_BAD("+1");
	DURATION_BAD("1x");
	DURATION_BAD("abc");
	DURATION_BAD("1e3");
	DURATION_BAD("1E3");
	DURATION_BAD("1e3s");
	DURATION_BAD("nan");
	DURATION_BAD("inf");
	DURATION_BAD("infinity");
	DURATION_BAD("0x10");
	DURATION_BAD("0x10s");
	DURATION_BAD("1h-30m");
	DURATION_BAD("5 s");
	DURATION_BAD(" 5s");
	DURATION_BAD("5s ");
	DURATION_BAD("s");
	DURATION_BAD("ms");
	DURATION_BAD(".");
	DURATION_BAD(".s");
	DURATION_BAD("1..5s");
	DURATION_BAD("1.5.5s");
	DURATION_BAD("1h30");		/* a bare number only as the whole string */
	DURATION_BAD("30 ");
	DURATION_BAD("1hh");
	DURATION_BAD("1sec");
	DURATION_BAD("1y");
	/* Past ~292,000 years (int64 microseconds). */
	DURATION_BAD("300000000000000");
	DURATION_BAD("200000000d");
	DURATION_BAD("99999999999999999999999999999h");
}

static void
test_format(void)
{
	char buf[32];

	CHECK_STR_EQ(units_format_duration(0, buf, sizeof(buf)), "0us");
	CHECK_STR_EQ(units_format_duration(250, buf, sizeof(buf)), "250us");
	CHECK_STR_EQ(units_format_duration(500000, buf, sizeof(buf)), "500ms");
	CHECK_STR_EQ(units_format_duration(2500000, buf, sizeof(buf)), "2.5s");
	CHECK_STR_EQ(units_format_duration(5400000000LL, buf, sizeof(buf)), "1h30m00s");
	CHECK_STR_EQ(units_format_duration(-1500000, buf, sizeof(buf)), "-1.5s");
}

static void
test_sizes(void)
{
	SIZE_OK("0", 0);
	SIZE_OK("65536", 65536);
	SIZE_OK("64K", 65536);
	SIZE_OK("64k", 65536);
	SIZE_OK("1M", 1048576);
	SIZE_OK("1G", 1073741824);
	SIZE_OK("2G", 2147483648ULL);
	SIZE_OK("16G", 17179869184ULL);
	SIZE_OK("18446744073709551615", UINT64_MAX);
	SIZE_OK("17179869183G", 17179869183ULL << 30);
}

static void
test_sizes_rejected(void)
{
	SIZE_BAD(NULL);
	SIZE_BAD("");
	SIZE_BAD("K");
	SIZE_BAD("-1");
	SIZE_BAD("+1");
	SIZE_BAD(" 1");
	SIZE_BAD("1 ");
	SIZE_BAD("1 K");
	SIZE_BAD("1.5M");
	SIZE_BAD("1T");
	SIZE_BAD("1X");
	SIZE_BAD("1KK");
	SIZE_BAD("abc");
	SIZE_BAD("0x10");
	SIZE_BAD("1e3");
	/* Overflow. */
	SIZE_BAD("18446744073709551616");
	SIZE_BAD("99999999999999999999999");
	SIZE_BAD("17179869184G");
	SIZE_BAD("18014398509481984K");
}

int
main(void)
{
	test_durations();
	test_durations_rejected();
	test_format();
	test_sizes();
	test_sizes_rejected();
	return check_summary();
}
