/*
 * units: the quantities users write, shared by loopd's config and loopctl.
 *
 * Durations are "0.5" (seconds), "500ms", "2m", "1h30m", "1.5s", "250us";
 * sizes are "65536", "64K", "1M", "1G" (powers of 1024).
 */
#ifndef PROTO_UNITS_H
#define PROTO_UNITS_H

#include <stdint.h>
#include <stddef.h>

/* Parse a duration into microseconds. Rejects negatives, empty strings,
 * trailing junk and values above ~292,000 years. Returns 0 or -1. */
int units_parse_duration(const char *s, int64_t *out_us);

/* Parse a size in bytes. Returns 0 or -1. */
int units_parse_size(const char *s, uint64_t *out);

/* Format microseconds as the shortest readable duration ("1h30m", "500ms",
 * "2.5s") into buf. Returns buf. */
char *units_format_duration(int64_t us, char *buf, size_t len);

#endif
