/*
 * defaults: the state directory both loopd and loopctl agree on.
 */
#include "proto/defaults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
defaults_state_dir(char *buf, size_t len)
{
	const char *v;
	int n;

	if ((v = getenv("STATE_DIRECTORY")) != NULL && *v != '\0') {
		/* systemd may pass several, colon-separated: the first is ours. */
		n = snprintf(buf, len, "%.*s", (int)strcspn(v, ":"), v);
	} else if (geteuid() == 0) {
		n = snprintf(buf, len, "/var/lib/loopd");
	} else if ((v = getenv("XDG_STATE_HOME")) != NULL && *v == '/') {
		n = snprintf(buf, len, "%s/loopd", v);
	} else if ((v = getenv("HOME")) != NULL && *v == '/') {
		n = snprintf(buf, len, "%s/.local/state/loopd", v);
	} else
		return -1;
	return n < 0 || (size_t)n >= len ? -1 : 0;
}
