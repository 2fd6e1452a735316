/*
 * Unit tests for daemon/exec/netpolicy: every special-purpose range of
 * the IANA IPv4 and IPv6 registries (and multicast, broadcast, site-local)
 * judged under the named lists, and every IPv6 form that carries an IPv4
 * address judged like the IPv4 address it reaches.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/exec/netpolicy.h"
#include "daemon/util/strv.h"
#include "tests/unit/check.h"

/* Verdicts: which named list (or none) an address falls in. The table
 * says, per address, which of these deny lists refuse it. */
enum {
	LO = 1,		/* loopback (or reaches it: unspecified) */
	PRIV = 2,	/* private */
	LL = 4,		/* link-local */
	RES = 8,	/* reserved */
};

struct row {
	const char *addr;
	int in;		/* the lists that must refuse it */
	const char *what;
};

/* One address from every range of the IANA IPv4 and IPv6 special-purpose
 * address registries (and the ranges the registries leave to others),
 * plus global addresses that no list may refuse. */
static const struct row rows[] = {
	/* IPv4 special-purpose address registry */
	{ "0.0.0.0", LO | RES, "0.0.0.0/32 this host on this network" },
	{ "0.1.2.3", LO | RES, "0.0.0.0/8 this network" },
	{ "10.1.2.3", PRIV, "10.0.0.0/8 private-use" },
	{ "100.64.0.1", PRIV, "100.64.0.0/10 shared address space" },
	{ "100.127.255.254", PRIV, "100.64.0.0/10 shared address space, top" },
	{ "127.0.0.1", LO, "127.0.0.0/8 loopback" },
	{ "127.255.255.254", LO, "127.0.0.0/8 loopback, top" },
	{ "169.254.169.254", LL, "169.254.0.0/16 link local (cloud metadata)" },
	{ "172.16.0.1", PRIV, "172.16.0.0/12 private-use" },
	{ "172.31.255.254", PRIV, "172.16.0.0/12 private-use, top" },
	{ "192.0.0.1", RES, "192.0.0.0/24 IETF protocol assignments" },
	{ "192.0.0.2", RES, "192.0.0.0/29 IPv4 service continuity prefix" },
	{ "192.0.0.8", RES, "192.0.0.8/32 IPv4 dummy address" },
	{ "192.0.0.9", RES, "192.0.0.9/32 port control protocol anycast" },
	{ "192.0.0.10", RES, "192.0.0.10/32 traversal using relays around NAT anycast" },
	{ "192.0.0.170", RES, "192.0.0.170/32 NAT64/DNS64 discovery" },
	{ "192.0.0.171", RES, "192.0.0.171/32 NAT64/DNS64 discovery" },
	{ "192.0.2.1", RES, "192.0.2.0/24 documentation (TEST-NET-1)" },
	{ "192.31.196.1", 0, "192.31.196.0/24 AS112-v4 (global)" },
	{ "192.52.193.1", 0, "192.52.193.0/24 AMT (global)" },
	{ "192.88.99.1", RES, "192.88.99.0/24 deprecated 6to4 relay anycast" },
	{ "192.168.1.1", PRIV, "192.168.0.0/16 private-use" },
	{ "192.175.48.1", 0, "192.175.48.0/24 direct delegation AS112 service (global)" },
	{ "198.18.0.1", RES, "198.18.0.0/15 benchmarking" },
	{ "198.19.255.254", RES, "198.18.0.0/15 benchmarking, top" },
	{ "198.51.100.1", RES, "198.51.100.0/24 documentation (TEST-NET-2)" },
	{ "203.0.113.1", RES, "203.0.113.0/24 documentation (TEST-NET-3)" },
	{ "240.0.0.1", RES, "240.0.0.0/4 reserved" },
	{ "255.255.255.255", RES, "255.255.255.255/32 limited broadcast" },
	{ "224.0.0.1", RES, "224.0.0.0/4 multicast" },
	{ "239.255.255.250", RES, "224.0.0.0/4 multicast (SSDP)" },
	/* global IPv4 next to the ranges above */
	{ "8.8.8.8", 0, "global" },
	{ "1.1.1.1", 0, "global" },
	{ "100.63.255.255", 0, "global, below 100.64.0.0/10" },
	{ "100.128.0.0", 0, "global, above 100.64.0.0/10" },
	{ "172.15.255.255", 0, "global, below 172.16.0.0/12" },
	{ "172.32.0.0", 0, "global, above 172.16.0.0/12" },
	{ "169.253.255.255", 0, "global, below 169.254.0.0/16" },
	{ "126.255.255.255", 0, "global, below 127.0.0.0/8" },
	{ "128.0.0.0", 0, "global, above 127.0.0.0/8" },
	{ "1.0.0.0", 0, "global, above 0.0.0.0/8" },
	{ "223.255.255.255", 0, "global, below multicast" },

	/* IPv6 special-purpose address registry */
	{ "::1", LO, "::1/128 loopback" },
	{ "::", LO | RES, "::/128 unspecified (connects to the local host)" },
	{ "::ffff:127.0.0.1", LO, "::ffff:0:0/96 IPv4-mapped loopback" },
	{ "::ffff:0.0.0.0", LO | RES, "::ffff:0:0/96 IPv4-mapped unspecified" },
	{ "::ffff:10.0.0.1", PRIV, "::ffff:0:0/96 IPv4-mapped private" },
	{ "::ffff:169.254.169.254", LL, "::ffff:0:0/96 IPv4-mapped link local" },
	{ "::ffff:8.8.8.8", 0, "::ffff:0:0/96 IPv4-mapped global" },
	{ "64:ff9b::7f00:1", LO, "64:ff9b::/96 IPv4-IPv6 translation of loopback" },
	{ "64:ff9b::a9fe:a9fe", LL, "64:ff9b::/96 translation of link local" },
	{ "64:ff9b::c0a8:101", PRIV, "64:ff9b::/96 translation of private" },
	{ "64:ff9b::808:808", 0, "64:ff9b::/96 translation of global" },
	{ "64:ff9b:1:7f00:1::", LO | RES, "64:ff9b:1::/48 local-use translation, /48 form" },
	{ "64:ff9b:1::a00:1", PRIV | RES, "64:ff9b:1::/48 local-use translation, /96 form" },
	{ "64:ff9b:1:0:a9:fea9:fe00:0", LL | RES, "64:ff9b:1::/48 local-use translation, /56 form" },
	{ "100::1", RES, "100::/64 discard-only" },
	{ "2001::1", RES, "2001::/23 IETF protocol assignments; 2001::/32 TEREDO" },
	{ "2001:0:a00:1::ffff:fffe", PRIV | RES, "2001::/32 TEREDO, server in 10/8" },
	{ "2001:0:808:808::80ff:fffe", LO | RES, "2001::/32 TEREDO, client 127.0.0.1" },
	{ "2001:1::1", RES, "2001:1::1/128 port control protocol anycast" },
	{ "2001:1::2", RES, "2001:1::2/128 TURN anycast" },
	{ "2001:1::3", RES, "2001:1::3/128 DNS-SD service registration protocol anycast" },
	{ "2001:2::1", RES, "2001:2::/48 benchmarking" },
	{ "2001:3::1", RES, "2001:3::/32 AMT" },
	{ "2001:4:112::1", RES, "2001:4:112::/48 AS112-v6" },
	{ "2001:10::1", RES, "2001:10::/28 deprecated ORCHID" },
	{ "2001:20::1", RES, "2001:20::/28 ORCHIDv2" },
	{ "2001:30::1", RES, "2001:30::/28 drone remote ID protocol entity tags" },
	{ "2001:db8::1", RES, "2001:db8::/32 documentation" },
	{ "2002:7f00:1::1", LO, "2002::/16 6to4 of loopback" },
	{ "2002:a00:1::1", PRIV, "2002::/16 6to4 of private" },
	{ "2002:a9fe:a9fe::1", LL, "2002::/16 6to4 of link local" },
	{ "2002:0:0::1", RES, "2002::/16 6to4 of 0.0.0.0" },
	{ "2002:808:808::1", 0, "2002::/16 6to4 of global" },
	{ "2620:4f:8000::1", 0, "2620:4f:8000::/48 direct delegation AS112 (global)" },
	{ "3fff::1", RES, "3fff::/20 documentation" },
	{ "5f00::1", RES, "5f00::/16 segment routing SIDs" },
	{ "fc00::1", PRIV, "fc00::/7 unique-local" },
	{ "fd12:3456::1", PRIV, "fc00::/7 unique-local" },
	{ "fe80::1", LL, "fe80::/10 link-local unicast" },
	{ "febf::1", LL, "fe80::/10 link-local unicast, top" },
	{ "fec0::1", RES, "fec0::/10 deprecated site-local" },
	{ "ff02::1", RES, "ff00::/8 multicast" },
	/* The IPv4 forms the IPv6 registry and RFC 4291/2765 leave over */
	{ "::127.0.0.1", LO, "::/96 IPv4-compatible loopback" },
	{ "::10.0.0.1", PRIV, "::/96 IPv4-compatible private" },
	{ "::2", RES, "::/96 IPv4-compatible 0.0.0.2" },
	{ "::8.8.8.8", 0, "::/96 IPv4-compatible global" },
	{ "::ffff:0:7f00:1", LO, "::ffff:0:0:0/96 SIIT IPv4-translated loopback" },
	{ "::ffff:0:a9fe:a9fe", LL, "::ffff:0:0:0/96 SIIT IPv4-translated link local" },
	/* global IPv6 */
	{ "2606:4700:4700::1111", 0, "global" },
	{ "2a00:1450::1", 0, "global" },
	{ "2001:200::1", 0, "global, above 2001::/23" },
	{ "fbff::1", 0, "global, below fc00::/7" },
};

/* Parse an address into a sockaddr; 0 or -1. */
static int
sa_of(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* Whether s is permitted under the current lists. */
static int
permits(const char *s)
{
	struct sockaddr_storage ss;

	if (sa_of(s, &ss) == -1) {
		fprintf(stderr, "bad test address %s\n", s);
		return -1;
	}
	return netpolicy_permits((const struct sockaddr *)&ss);
}

/* A NULL-terminated list of the blank-separated words of s (NULL for
 * NULL); free with strv_free. */
static char **
strv(const char *s)
{
	char **v = calloc(17, sizeof(*v)), *copy, *tok, *save = NULL;
	size_t n = 0;

	if (s == NULL || v == NULL || (copy = strdup(s)) == NULL) {
		free(v);
		return NULL;
	}
	for (tok = strtok_r(copy, " ", &save); tok && n < 16; tok = strtok_r(NULL, " ", &save))
		v[n++] = strdup(tok);
	free(copy);
	return v;
}

/* Set the lists from blank-separated words (NULL: no list). */
static int
set(const char *allow, const char *deny)
{
	char **a = strv(allow), **d = strv(deny);
	int rc = netpolicy_set(a, d);

	strv_free(a);
	strv_free(d);
	return rc;
}

/* Set a deny list of one name; the allow list empty. */
static void
deny_only(const char *name)
{
	CHECK(set(NULL, name) == 0);
}

/* Each row under each named deny list alone, then under all of them. */
static void
test_registry_rows(void)
{
	static const struct {
		const char *name;
		int bit;
	} lists[] = { { "loopback", LO }, { "private", PRIV }, { "link-local", LL },
	    { "reserved", RES } };

	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		deny_only(lists[l].name);
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			int want = !(rows[i].in & lists[l].bit);
			int got = permits(rows[i].addr);
			if (!CHECK(got == want))
				fprintf(stderr, "  deny %s, %s (%s): got %d, want %d\n",
				    lists[l].name, rows[i].addr, rows[i].what, got, want);
		}
	}
	CHECK(set(NULL, "loopback private link-local reserved") == 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int want = rows[i].in == 0;
		if (!CHECK(permits(rows[i].addr) == want))
			fprintf(stderr, "  deny all, %s (%s)\n", rows[i].addr, rows[i].what);
	}
	/* No lists: everything goes. */
	CHECK(set(NULL, NULL) == 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK(permits(rows[i].addr) == 1);
}

/* CIDR deny lists reach the embedded and unspecified forms too. */
static void
test_cidr_reaches_forms(void)
{
	CHECK(set(NULL, "127.0.0.1/32 10.0.0.0/8") == 0);
	CHECK(permits("0.0.0.0") == 0);
	CHECK(permits("::ffff:127.0.0.1") == 0);
	CHECK(permits("64:ff9b::a01:203") == 0);
	CHECK(permits("2002:a01:203::") == 0);
	CHECK(permits("127.0.0.2") == 1);
	CHECK(permits("8.8.8.8") == 1);
	CHECK(set(NULL, "::1/128") == 0);
	CHECK(permits("::") == 0);
	CHECK(permits("::1") == 0);
	CHECK(permits("::ffff:127.0.0.1") == 1);	/* an IPv4 address, not ::1 */
}

/* An allow list admits an address in it, or one whose every form is. */
static void
test_allow_list(void)
{
	CHECK(set("10.0.0.0/8", NULL) == 0);
	CHECK(permits("10.1.2.3") == 1);
	CHECK(permits("::ffff:10.1.2.3") == 1);
	CHECK(permits("64:ff9b::a01:203") == 1);
	CHECK(permits("2002:a01:203::1") == 1);
	CHECK(permits("0.0.0.0") == 0);		/* reaches 127.0.0.1 */
	CHECK(permits("::") == 0);
	CHECK(permits("8.8.8.8") == 0);
	CHECK(permits("2001:0:a00:1::f7fe:fffe") == 0);	/* client 8.1.0.1 */
	/* The prefix allowed, the embedded address denied: refused. */
	CHECK(set("64:ff9b::/96", "loopback") == 0);
	CHECK(permits("64:ff9b::808:808") == 1);
	CHECK(permits("64:ff9b::7f00:1") == 0);
}

/* Names and networks the config accepts, and what it does not. */
static void
test_valid(void)
{
	char **good = strv("loopback private link-local reserved ::/0 0.0.0.0/0 64:ff9b::/96");
	char **bad = strv("loopback unspecified-ish");
	const char *which = NULL;

	CHECK(netpolicy_valid(good, &which) == 1);
	CHECK(netpolicy_valid(bad, &which) == 0);
	CHECK_STR_EQ(which, "unspecified-ish");
	strv_free(good);
	strv_free(bad);
}

int
main(void)
{
	test_registry_rows();
	test_cidr_reaches_forms();
	test_allow_list();
	test_valid();
	netpolicy_free();
	return check_summary();
}
