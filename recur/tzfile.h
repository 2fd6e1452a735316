/*
 * tzfile: time zones read from the system's zone files (TZif, RFC 8536),
 * without setenv("TZ") and without localtime_r.
 *
 * A zone answers two questions: what the clock on the wall says at a
 * Unix time (offset, daylight saving, abbreviation), and which Unix times
 * show a given wall-clock time (one; none, in a spring-forward gap; two,
 * in a fall-back overlap). Past the zone file's last transition the POSIX
 * TZ rule in its footer is followed; it is parsed here, not by libc.
 *
 * Local times are "civil seconds": the wall-clock date and time counted
 * as if it were UTC (local = utc + offset).
 *
 * A cache holds loaded zones by name; its pointers stay valid until the
 * cache is freed, and a reload replaces their data in place. Zones are
 * read-only once loaded; the cache is not thread-safe (one loop owns it).
 */
#ifndef RECUR_TZFILE_H
#define RECUR_TZFILE_H

#include <stddef.h>
#include <stdint.h>

#define TZ_ROOT_DEFAULT	"/usr/share/zoneinfo"
#define TZ_NAME_MAX	255
#define TZ_ABBR_MAX	16

struct tz_zone;
struct tz_cache;

/* What the wall clock says at one instant. */
struct tz_info {
	int32_t		 utoff;		/* seconds east of UTC */
	int		 isdst;
	char		 abbr[TZ_ABBR_MAX];
};

/* A change of offset: from at (UTC) on, utoff is after, before it before. */
struct tz_transition {
	int64_t		 at;
	int32_t		 before;
	int32_t		 after;
};

enum tz_kind {
	TZ_UNIQUE,	/* the local time happens once: utc[0] */
	TZ_GAP,		/* never (spring forward): the gap ends at utc[0] */
	TZ_OVERLAP,	/* twice (fall back): utc[0] < utc[1] */
};

/* Which Unix times show a local time. */
struct tz_resolution {
	enum tz_kind	 kind;
	int64_t		 utc[2];
	int32_t		 before;	/* TZ_GAP: offsets around the gap */
	int32_t		 after;
};

/* Whether NAME may name a zone: relative, no "." or ".." component, no
 * empty component, [A-Za-z0-9._+-] only, at most TZ_NAME_MAX bytes. */
int	 tz_name_valid(const char *);

/* Load zone NAME from ROOT (NULL: TZ_ROOT_DEFAULT). "UTC" works even
 * without a zone file. Returns the zone, or NULL with the reason in ERR. */
struct tz_zone *tz_zone_load(const char *, const char *, char *, size_t);

/* A zone from TZif data in memory (BUF, LEN), named NAME. */
struct tz_zone *tz_zone_parse(const char *, const unsigned char *, size_t,
	    char *, size_t);

/* Free a zone; NULL is fine. */
void	 tz_zone_free(struct tz_zone *);

/* The zone's name. */
const char *tz_zone_name(const struct tz_zone *);

/* The POSIX TZ footer of the zone's file ("" if none). */
const char *tz_zone_footer(const struct tz_zone *);

/* Fill INFO with what the wall clock says at Unix time T. */
void	 tz_lookup(const struct tz_zone *, int64_t, struct tz_info *);

/* Seconds east of UTC at Unix time T. */
int32_t	 tz_offset(const struct tz_zone *, int64_t);

/* The first change of offset strictly after T: 0, or -1 if none. */
int	 tz_next_transition(const struct tz_zone *, int64_t,
	    struct tz_transition *);

/* The last change of offset at or before T: 0, or -1 if none. */
int	 tz_prev_transition(const struct tz_zone *, int64_t,
	    struct tz_transition *);

/* Which Unix times show local time LOCAL (civil seconds). */
void	 tz_resolve(const struct tz_zone *, int64_t, struct tz_resolution *);

/* A cache of zones read from ROOT (NULL: TZ_ROOT_DEFAULT). */
struct tz_cache *tz_cache_new(const char *);

/* Free the cache and its zones; NULL is fine. */
void	 tz_cache_free(struct tz_cache *);

/* The zone NAME, loaded on first use; NULL with the reason in ERR. The
 * zone belongs to the cache. */
const struct tz_zone *tz_cache_get(struct tz_cache *, const char *, char *,
	    size_t);

/* Read every cached zone again (updated zone data). A zone that no longer
 * loads keeps its old data. Returns how many failed, with the first
 * reason in ERR. */
int	 tz_cache_reload(struct tz_cache *, char *, size_t);

/* Civil-time helpers shared with the schedule code. */

/* Days since 1970-01-01 of the proleptic Gregorian date Y-M-D. */
int64_t	 tz_days_from_civil(int64_t, int, int);

/* The date of day number DAYS since 1970-01-01. */
void	 tz_civil_from_days(int64_t, int64_t *, int *, int *);

/* Day of the week of day number DAYS: 0 Sunday .. 6 Saturday. */
int	 tz_weekday(int64_t);

/* Days in month M of year Y. */
int	 tz_month_days(int64_t, int);

#endif
