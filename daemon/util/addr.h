/*
 * addr: the listen-address grammar of loopd.conf and -l: HOST:PORT,
 * [ADDR]:PORT (IPv6) or unix:/absolute/path. Only the text: no lookup,
 * no socket.
 */
#ifndef LOOPD_UTIL_ADDR_H
#define LOOPD_UTIL_ADDR_H

#define ADDR_PATH_MAX 108	/* sizeof(sockaddr_un.sun_path) */

struct addr_listen {
	int is_unix;
	char path[ADDR_PATH_MAX];	/* unix: the absolute path */
	char host[256];			/* TCP: host or address, no brackets */
	char port[8];			/* TCP: decimal, 0 to 65535 */
};

/* Parse listen address s into *out. 0, or -1 with *why (a static
 * message naming the grammar) set. */
int addr_parse_listen(const char *s, struct addr_listen *out, const char **why);

#endif
