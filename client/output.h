/*
 * output: how loopctl prints the daemon's JSON, for scripts and for people.
 */
#ifndef CLIENT_OUTPUT_H
#define CLIENT_OUTPUT_H

#include <stdio.h>

#include <jansson.h>

/* Print J on stdout and a newline: indented on a terminal, else on one
 * line. */
void	 output_json(const json_t *);

/* Print J to F: a string as its raw bytes, anything else as compact JSON.
 * NULL prints nothing. */
void	 output_value(FILE *, const json_t *);

/* The number J as the daemon writes it ("0.00509", "3600.0") into BUF.
 * Returns BUF. */
char	*output_number(const json_t *, char *, size_t);

/* One-line summary of the action of call object CALL: the command line
 * shell-quoted, or "METHOD URL" for a webhook. Never NULL; free() it. */
char	*output_action(const json_t *);

/* A duration in seconds, readably ("1.5s", "2m00s", "-300ms"). */
char	*output_duration(double, char *, size_t);

#endif
