/*
 * netpolicy: CIDR matching for IPv4 and IPv6 (IPv4-mapped IPv6 addresses
 * are matched as IPv4).
 */
#include "daemon/action/netpolicy.h"

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

int
netpolicy_permits(const struct sockaddr *sa)
{
	unsigned char addr[16];
	int family;

	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			family = AF_INET;
			memcpy(addr, a6->s6_addr + 12, 4);
		} else {
			family = AF_INET6;
			memcpy(addr, a6->s6_addr, 16);
		}
	} else
		return 0;
	if (list_match(&deny, family, addr))
		return 0;
	return allow.n == 0 || list_match(&allow, family, addr);
}

void
netpolicy_free(void)
{
	free(allow.v);
	free(deny.v);
	memset(&allow, 0, sizeof(allow));
	memset(&deny, 0, sizeof(deny));
}
