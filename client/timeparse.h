/*
 * timeparse: the wall-clock times users write for --at, and how loopctl
 * shows one back.
 */
#ifndef CLIENT_TIMEPARSE_H
#define CLIENT_TIMEPARSE_H

#include <stddef.h>

/* Parse an RFC 3339 date-time ("2030-01-02T03:04:05.5+01:00") or a Unix
 * time ("1795000000.25") into seconds since the epoch. Returns 0 or -1. */
int	 timeparse_at(const char *, double *);

/* Format Unix time T as RFC 3339 in UTC with milliseconds into BUF.
 * Returns BUF. */
char	*timeparse_format(double, char *, size_t);

#endif
