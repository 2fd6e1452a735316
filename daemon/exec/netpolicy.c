/*
 * netpolicy: CIDR matching for IPv4 and IPv6.
 *
 * An address is judged with every address it stands for: an IPv6 form
 * that carries an IPv4 address (IPv4-mapped, IPv4-compatible, SIIT, NAT64
 * 64:ff9b::/96 and the local-use 64:ff9b:1::/48 at every RFC 6052 prefix
 * length, 6to4 2002::/16, Teredo's server and client) also stands for
 * that IPv4 address, and an unspecified address (0.0.0.0/8, ::, and
 * ::ffff:0.0.0.0/104) stands for the loopback address Linux connects it to. It is refused if any
 * of them is denied; with an allow list it is admitted if the address
 * itself is allowed or every address it stands for is.
 */
#include "daemon/exec/netpolicy.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct net {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int bits;
};

struct netlist {
	struct net *v;
	size_t n;
};

static struct netlist allow, deny;

/* The networks a name stands for. */
static const struct {
	const char *name;
	const char *nets;
} aliases[] = {
	{ "loopback", "127.0.0.0/8 ::1/128" },
	{ "private", "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 fc00::/7" },
	{ "link-local", "169.254.0.0/16 fe80::/10" },
	/* The rest of the IANA special-purpose registries that is not
	 * globally reachable, with multicast, broadcast and site-local. */
	{ "reserved", "0.0.0.0/8 192.0.0.0/24 192.0.2.0/24 192.88.99.0/24 198.18.0.0/15 "
	    "198.51.100.0/24 203.0.113.0/24 224.0.0.0/4 240.0.0.0/4 "
	    "::/128 64:ff9b:1::/48 100::/64 2001::/23 2001:db8::/32 3fff::/20 5f00::/16 "
	    "fec0::/10 ff00::/8" },
};

/* At most this many addresses stand for one: itself, two Teredo
 * addresses or six RFC 6052 positions, and a loopback for each. */
#define FORMS_MAX 16

struct addr {
	int family;
	unsigned char b[16];
};

/* Parse "ADDR/BITS" or "ADDR". 0 or -1. */
static int
net_parse(const char *s, struct net *out)
{
	char buf[64], *slash;
	int max;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else
		return -1;
	out->bits = max;
	if (slash != NULL) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || b < 0 || b > max)
			return -1;
		out->bits = (int)b;
	}
	return 0;
}

/* The alias entry for name, or -1. */
static int
alias_index(const char *name)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(name, aliases[i].name) == 0)
			return (int)i;
	return -1;
}

int
netpolicy_valid(char **list, const char **bad)
{
	struct net n;

	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (alias_index(list[i]) == -1 && net_parse(list[i], &n) == -1) {
			*bad = list[i];
			return 0;
		}
	return 1;
}

/* Append one network to l. */
static int
list_add(struct netlist *l, const struct net *n)
{
	struct net *v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (v == NULL)
		return -1;
	v[l->n++] = *n;
	l->v = v;
	return 0;
}

/* Build a list from config entries (networks and aliases). */
static int
list_build(struct netlist *l, char **entries)
{
	struct net n;
	int a;

	for (size_t i = 0; entries != NULL && entries[i] != NULL; i++) {
		if ((a = alias_index(entries[i])) != -1) {
			char copy[256], *tok, *save = NULL;
			snprintf(copy, sizeof(copy), "%s", aliases[a].nets);
			for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
				if (net_parse(tok, &n) == -1 || list_add(l, &n) == -1)
					return -1;
		} else if (net_parse(entries[i], &n) == -1 || list_add(l, &n) == -1)
			return -1;
	}
	return 0;
}

int
netpolicy_set(char **allow_list, char **deny_list)
{
	netpolicy_free();
	if (list_build(&allow, allow_list) == -1 || list_build(&deny, deny_list) == -1) {
		netpolicy_free();
		return -1;
	}
	return 0;
}

/* Whether addr (family, bytes) lies in n. */
static int
net_contains(const struct net *n, int family, const unsigned char *addr)
{
	int full = n->bits / 8, rest = n->bits % 8;

	if (n->family != family || memcmp(n->addr, addr, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((n->addr[full] ^ addr[full]) & (0xff << (8 - rest))) == 0;
}

/* Whether the address is in any network of l. */
static int
list_match(const struct netlist *l, int family, const unsigned char *addr)
{
	for (size_t i = 0; i < l->n; i++)
		if (net_contains(&l->v[i], family, addr))
			return 1;
	return 0;
}

/* Add an IPv4 address (4 bytes) to forms; local: the kernel connects to
 * it itself (not a translator far away), so an unspecified one (0.0.0.0/8)
 * stands for the loopback address it reaches too. */
static void
forms_add4(struct addr *f, size_t *n, const unsigned char *v4, int local)
{
	if (*n + 2 > FORMS_MAX)
		return;
	f[*n].family = AF_INET;
	memcpy(f[*n].b, v4, 4);
	(*n)++;
	if (local && v4[0] == 0) {
		static const unsigned char lo[4] = { 127, 0, 0, 1 };
		f[*n].family = AF_INET;
		memcpy(f[*n].b, lo, 4);
		(*n)++;
	}
}

/* The IPv4 address of an RFC 6052 IPv4-embedded IPv6 address with a
 * prefix of plen bits (32, 40, 48, 56, 64 or 96): bits 64..71 are skipped. */
static void
rfc6052_v4(const unsigned char *a, int plen, unsigned char *v4)
{
	int pos = plen / 8;

	for (int i = 0; i < 4; i++) {
		if (pos == 8)
			pos++;
		v4[i] = a[pos++];
	}
}

/* Every address sa stands for (see the top of this file); returns how
 * many, 0 for a family other than IPv4 and IPv6. */
static size_t
addr_forms(const struct sockaddr *sa, struct addr *f)
{
	static const unsigned char zero[16], lo6[16] = { [15] = 1 };
	static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };
	static const unsigned char siit[12] = { [8] = 0xff, [9] = 0xff };
	static const int plens[] = { 32, 40, 48, 56, 64, 96 };
	const unsigned char *a;
	unsigned char v4[4];
	size_t n = 0;

	if (sa->sa_family == AF_INET) {
		forms_add4(f, &n, (const unsigned char *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 1);
		return n;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	f[n].family = AF_INET6;
	memcpy(f[n++].b, a, 16);
	if (memcmp(a, zero, 16) == 0) {
		/* :: connects to the local host. */
		f[n].family = AF_INET6;
		memcpy(f[n++].b, lo6, 16);
	} else if (memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff)
		forms_add4(f, &n, a + 12, 1);		/* ::ffff:0:0/96, mapped */
	else if (memcmp(a, zero, 12) == 0 && memcmp(a, lo6, 16) != 0)
		forms_add4(f, &n, a + 12, 0);		/* ::/96, compatible */
	else if (memcmp(a, siit, 12) == 0)
		forms_add4(f, &n, a + 12, 0);		/* ::ffff:0:0:0/96, SIIT */
	else if (memcmp(a, nat64, 12) == 0)
		forms_add4(f, &n, a + 12, 0);		/* 64:ff9b::/96 */
	else if (memcmp(a, nat64, 4) == 0 && a[4] == 0 && a[5] == 1) {
		/* 64:ff9b:1::/48: the operator chooses the prefix length. */
		for (size_t i = 0; i < sizeof(plens) / sizeof(plens[0]); i++)
			if (plens[i] >= 48) {
				rfc6052_v4(a, plens[i], v4);
				forms_add4(f, &n, v4, 0);
			}
	} else if (a[0] == 0x20 && a[1] == 0x02)
		forms_add4(f, &n, a + 2, 0);		/* 2002::/16, 6to4 */
	else if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
		/* 2001::/32, Teredo: the server, and the client obscured. */
		forms_add4(f, &n, a + 4, 0);
		for (int i = 0; i < 4; i++)
			v4[i] = (unsigned char)~a[12 + i];
		forms_add4(f, &n, v4, 0);
	}
	return n;
}

int
netpolicy_permits(const struct sockaddr *sa)
{
	struct addr f[FORMS_MAX];
	size_t n = addr_forms(sa, f);
	int all_allowed = 1;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (list_match(&deny, f[i].family, f[i].b))
			return 0;
		if (i > 0 && !list_match(&allow, f[i].family, f[i].b))
			all_allowed = 0;
	}
	if (allow.n == 0 || list_match(&allow, f[0].family, f[0].b))
		return 1;
	return n > 1 && all_allowed;
}

void
netpolicy_free(void)
{
	free(allow.v);
	free(deny.v);
	memset(&allow, 0, sizeof(allow));
	memset(&deny, 0, sizeof(deny));
}
