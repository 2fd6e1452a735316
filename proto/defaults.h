/*
 * defaults: where loopd listens and keeps its state unless told otherwise.
 * Shared so that loopctl finds a daemon started with no configuration.
 */
#ifndef PROTO_DEFAULTS_H
#define PROTO_DEFAULTS_H

#include <stddef.h>

#define LOOPD_DEFAULT_HOST "127.0.0.1"
#define LOOPD_DEFAULT_PORT 7700
#define LOOPD_DEFAULT_URL  "http://127.0.0.1:7700"

/* The default state directory: $STATE_DIRECTORY (set by systemd), else
 * /var/lib/loopd for root, else $XDG_STATE_HOME/loopd or
 * ~/.local/state/loopd. Writes into buf; returns 0, or -1 if it does not
 * fit or no home is known. */
int defaults_state_dir(char *buf, size_t len);

#endif
