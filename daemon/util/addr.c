/*
 * addr: listen addresses parsed once for the config check and the
 * listeners.
 */
#include "daemon/util/addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
addr_parse_listen(const char *s, struct addr_listen *out, const char **why)
{
	const char *port, *close, *colon;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	*why = "expected HOST:PORT, [ADDR]:PORT or unix:/PATH";
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] != '/' || strlen(s + 5) >= sizeof(out->path)) {
			*why = "unix: needs an absolute path shorter than 108 bytes";
			return -1;
		}
		out->is_unix = 1;
		snprintf(out->path, sizeof(out->path), "%s", s + 5);
		return 0;
	}
	if (s[0] == '[') {
		if ((close = strchr(s, ']')) == NULL || close[1] != ':')
			return -1;
		hlen = (size_t)(close - s - 1);
		port = close + 2;
		s++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL || colon == s)
			return -1;
		hlen = (size_t)(colon - s);
		port = colon + 1;
	}
	if (hlen >= sizeof(out->host) || *port == '\0' || strlen(port) > 5 ||
	    strspn(port, "0123456789") != strlen(port) || strtoul(port, NULL, 10) > 65535)
		return -1;
	snprintf(out->host, sizeof(out->host), "%.*s", (int)hlen, s);
	snprintf(out->port, sizeof(out->port), "%s", port);
	return 0;
}
