/*
 * auth: the default token file, the scoped tokens file (hashes at rest),
 * and a constant-time check against every entry.
 */
#include "daemon/http/auth.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "daemon/log.h"
#include "daemon/util/secret.h"

#define TOKEN_BYTES 32
#define TOKEN_MAX 1024
#define HASH_LEN 32
#define NAME_MAX_LEN 64
#define MAX_TOKENS (AUTH_MAX_OWNERS - 2)

struct entry {
	unsigned char hash[HASH_LEN];
	unsigned scopes;
	unsigned owner;
	char name[NAME_MAX_LEN + 1];
};

/* The tokens in force: the default one first. */
static struct entry *entries;
static size_t n_entries;
/* Quota keys by token name, kept across reloads so that counts held by
 * the core still belong to the same token. Slot 1 is the default token. */
static char *owner_names[AUTH_MAX_OWNERS];
/* The last token that matched, and its entry: a client sends the same
 * token on every request, and its SHA-256 was most of the check (about
 * 5,500 instructions a request). A hit is found by a constant-time
 * compare of the whole token; it says no more than the reply does (that
 * the token is good). The raw token is kept here, as MHD keeps the
 * request's header, only until the next reload or auth_free (which wipe
 * it); tokens longer than the buffer are not kept. */
static struct {
	char token[128];
	size_t len;			/* 0: nothing kept */
	size_t entry;
} last;

static const struct {
	const char *name;
	unsigned bit;
} scope_names[] = {
	{ "read", AUTH_READ }, { "futures", AUTH_FUTURES },
	{ "calls-webhook", AUTH_CALLS_WEBHOOK }, { "calls-command", AUTH_CALLS_COMMAND },
	{ "admin", AUTH_ADMIN }, { "metrics", AUTH_METRICS },
};
#define NSCOPES (sizeof(scope_names) / sizeof(scope_names[0]))

/* What a set of scopes grants: admin is everything, read includes metrics. */
static unsigned
auth_imply(unsigned s)
{
	if (s & AUTH_ADMIN)
		s = AUTH_ALL;
	if (s & AUTH_READ)
		s |= AUTH_METRICS;
	return s;
}

/* SHA-256 of len bytes into out. 0 or -1. */
static int
auth_hash(const char *s, size_t len, unsigned char *out)
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, s, len, out) < 0 ? -1 : 0;
}

/* The quota key of a token name: the same one as before a reload, or a
 * new one. 0 when all are taken (the token then has no quota key). */
static unsigned
auth_owner_of(const char *name)
{
	size_t i;

	for (i = 1; i < AUTH_MAX_OWNERS && owner_names[i] != NULL; i++)
		if (strcmp(owner_names[i], name) == 0)
			return (unsigned)i;
	if (i == AUTH_MAX_OWNERS || (owner_names[i] = strdup(name)) == NULL)
		return 0;
	return (unsigned)i;
}

int
auth_scopes_parse(const char *list, unsigned *out, char *err, size_t errlen)
{
	const char *p = list;
	unsigned s = 0;

	while (*p != '\0') {
		size_t len = strcspn(p, ","), i;
		for (i = 0; i < NSCOPES; i++)
			if (strlen(scope_names[i].name) == len &&
			    strncmp(scope_names[i].name, p, len) == 0)
				break;
		if (i == NSCOPES) {
			snprintf(err, errlen, "unknown scope \"%.*s\" (scopes: read, futures, "
			    "calls-webhook, calls-command, admin, metrics)", (int)(len > 40 ? 40 : len), p);
			return -1;
		}
		s |= scope_names[i].bit;
		p += len;
		if (*p == ',')
			p++;
	}
	if (s == 0) {
		snprintf(err, errlen, "no scope given");
		return -1;
	}
	*out = s;
	return 0;
}

const char *
auth_scopes_format(unsigned scopes, char *buf, size_t len)
{
	size_t at = 0;

	*buf = '\0';
	for (size_t i = 0; i < NSCOPES && at < len; i++)
		if (scopes & scope_names[i].bit)
			at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? "," : "",
			    scope_names[i].name);
	return buf;
}

/* Write a new random token to path (mode 0600, never replacing a file). */
static int
auth_create(const char *path)
{
	unsigned char raw[TOKEN_BYTES];
	char hex[2 * TOKEN_BYTES + 2];
	int fd;
	ssize_t n;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		log_warn("getrandom");
		return -1;
	}
	for (size_t i = 0; i < TOKEN_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	hex[2 * TOKEN_BYTES] = '\n';
	hex[2 * TOKEN_BYTES + 1] = '\0';
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		log_warn("create token file %s", path);
		return -1;
	}
	n = write(fd, hex, 2 * TOKEN_BYTES + 1);
	if (n != 2 * TOKEN_BYTES + 1 || fsync(fd) == -1) {
		log_warn("write token file %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	log_info("created a new API token in %s (loopctl finds it there)", path);
	return 0;
}

/* Read the default token into e (hashed; every scope). 0 or -1 (logged). */
static int
auth_load_default(const char *path, int create, struct entry *e)
{
	char buf[TOKEN_MAX + 2];
	ssize_t n;
	int rc = -1;

	if ((n = secret_read(path, buf, sizeof(buf))) == -1 && errno == ENOENT && create) {
		if (auth_create(path) == -1)
			return -1;
		n = secret_read(path, buf, sizeof(buf));
	}
	if (n == -1) {
		log_warn("token file %s", path);
		return -1;
	}
	secret_first_line(buf);
	if (strlen(buf) < 16 || strlen(buf) > TOKEN_MAX || strpbrk(buf, " \t") != NULL)
		log_warnx("token file %s: expected one line of 16 to %d characters", path,
		    TOKEN_MAX);
	else if (auth_hash(buf, strlen(buf), e->hash) == -1)
		log_warnx("token file %s: cannot hash the token", path);
	else {
		e->scopes = AUTH_ALL;
		snprintf(e->name, sizeof(e->name), "default");
		rc = 0;
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* Parse one tokens-file line into e. 0, or -1 with why. */
static int
auth_parse_line(char *line, struct entry *e, char *why, size_t wlen)
{
	char *name, *hash, *scopes, *extra, *save = NULL;

	name = strtok_r(line, " \t", &save);
	hash = strtok_r(NULL, " \t", &save);
	scopes = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (name == NULL || hash == NULL || scopes == NULL || extra != NULL) {
		snprintf(why, wlen, "expected NAME sha256:HEX SCOPE[,SCOPE...]");
		return -1;
	}
	if (strlen(name) > NAME_MAX_LEN || strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(name)) {
		snprintf(why, wlen, "name: 1 to %d of A-Z a-z 0-9 _ . -", NAME_MAX_LEN);
		return -1;
	}
	if (strncmp(hash, "sha256:", 7) != 0 || strlen(hash + 7) != 2 * HASH_LEN ||
	    strspn(hash + 7, "0123456789abcdefABCDEF") != 2 * HASH_LEN) {
		snprintf(why, wlen, "hash: expected sha256: and 64 hex digits (the "
		    "SHA-256 of the token, never the token)");
		return -1;
	}
	for (size_t i = 0; i < HASH_LEN; i++) {
		char two[3] = { hash[7 + 2 * i], hash[8 + 2 * i], '\0' };
		e->hash[i] = (unsigned char)strtoul(two, NULL, 16);
	}
	if (auth_scopes_parse(scopes, &e->scopes, why, wlen) == -1)
		return -1;
	snprintf(e->name, sizeof(e->name), "%s", name);
	return 0;
}

/* Append the entries of a tokens file to *v (count *n). 0 or -1 (every
 * error logged as path:line). Entries before hash_from are checked for
 * a name given twice only (their hash is not known). */
static int
auth_load_file(const char *path, struct entry **v, size_t *n, size_t hash_from)
{
	char line[1024], why[160];
	FILE *f;
	int lineno = 0, errors = 0;
	struct stat st;

	if ((f = fopen(path, "re")) == NULL) {
		log_warn("tokens file %s", path);
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0022))
		log_warnx("tokens file %s: writable by others: anyone who can write it can "
		    "add a token", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line;
		struct entry e = { .scopes = 0 }, *nv;
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			log_warnx("%s:%d: line too long", path, lineno);
			errors++;
			for (int c; (c = fgetc(f)) != EOF && c != '\n'; )
				;
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (auth_parse_line(p, &e, why, sizeof(why)) == -1) {
			log_warnx("%s:%d: %s", path, lineno, why);
			errors++;
			continue;
		}
		for (size_t i = 0; i < *n; i++) {
			if (strcmp((*v)[i].name, e.name) == 0) {
				log_warnx("%s:%d: name %s is given twice", path, lineno, e.name);
				errors++;
			} else if (i >= hash_from && memcmp((*v)[i].hash, e.hash, HASH_LEN) == 0) {
				log_warnx("%s:%d: the same token as %s", path, lineno, (*v)[i].name);
				errors++;
			}
		}
		if (*n >= MAX_TOKENS + 1) {
			log_warnx("%s:%d: more than %d tokens", path, lineno, MAX_TOKENS);
			errors++;
			break;
		}
		if ((nv = realloc(*v, (*n + 1) * sizeof(**v))) == NULL) {
			errors++;
			break;
		}
		*v = nv;
		(*v)[(*n)++] = e;
	}
	if (ferror(f)) {
		log_warn("read tokens file %s", path);
		errors++;
	}
	fclose(f);
	return errors ? -1 : 0;
}

int
auth_load(const char *token_path, int create, const char *tokens_path)
{
	struct entry *v = NULL;
	size_t n = 1;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return -1;
	if (auth_load_default(token_path, create, &v[0]) == -1 ||
	    (tokens_path != NULL && *tokens_path != '\0' &&
	    auth_load_file(tokens_path, &v, &n, 0) == -1)) {
		free(v);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		v[i].scopes = auth_imply(v[i].scopes);
		v[i].owner = auth_owner_of(v[i].name);
	}
	auth_free();
	entries = v;
	n_entries = n;
	if (n > 1)
		log_info("tokens: the default one and %zu from %s", n - 1, tokens_path);
	return 0;
}

int
auth_check_file(const char *tokens_path)
{
	struct entry *v;
	size_t n = 1;
	int rc;

	/* The default token's name is taken; its hash is not known here. */
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return -1;
	snprintf(v[0].name, sizeof(v[0].name), "default");
	rc = auth_load_file(tokens_path, &v, &n, 1) == -1 ? -1 : (int)(n - 1);
	explicit_bzero(v, n * sizeof(*v));
	free(v);
	return rc;
}

/* Whether the token of len bytes at t is the one kept in last, in time
 * that depends only on len. */
static int
auth_is_last(const char *t, size_t len)
{
	uint64_t diff = 0, a, b;
	size_t j = 0;

	if (len != last.len)
		return 0;
	/* Eight bytes at a time, then the rest. */
	for (; j + 8 <= len; j += 8) {
		memcpy(&a, last.token + j, 8);
		memcpy(&b, t + j, 8);
		diff |= a ^ b;
	}
	for (; j < len; j++)
		diff |= (unsigned char)(last.token[j] ^ t[j]);
	return diff == 0;
}

int
auth_check(const char *header, struct auth_who *who)
{
	unsigned char h[HASH_LEN];
	size_t len, found = SIZE_MAX;

	if (header == NULL || entries == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return 0;
	len = strlen(header + 7);
	if (len < 16 || len > TOKEN_MAX)
		return 0;
	if (auth_is_last(header + 7, len))
		found = last.entry;
	else {
		if (auth_hash(header + 7, len, h) == -1)
			return 0;
		/* Compare with every entry, every byte: the time taken says
		 * nothing about which entry matched or where the others
		 * differ. */
		for (size_t i = 0; i < n_entries; i++) {
			unsigned char diff = 0;
			for (size_t j = 0; j < HASH_LEN; j++)
				diff |= entries[i].hash[j] ^ h[j];
			if (diff == 0)
				found = i;
		}
		if (found != SIZE_MAX && len <= sizeof(last.token)) {
			memcpy(last.token, header + 7, len);
			last.len = len;
			last.entry = found;
		}
	}
	if (found == SIZE_MAX)
		return 0;
	who->scopes = entries[found].scopes;
	who->owner = entries[found].owner;
	who->name = entries[found].name;
	return 1;
}

int
auth_new_entry(const char *name, unsigned scopes, char *token, size_t tlen,
    char *line, size_t llen)
{
	unsigned char raw[TOKEN_BYTES], h[HASH_LEN];
	char hex[2 * HASH_LEN + 1], sc[128];
	size_t at;

	if (tlen < 2 * TOKEN_BYTES + 1 || getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -1;
	for (size_t i = 0; i < TOKEN_BYTES; i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	if (auth_hash(token, 2 * TOKEN_BYTES, h) == -1)
		return -1;
	for (size_t i = 0; i < HASH_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	at = (size_t)snprintf(line, llen, "%s sha256:%s %s\n", name, hex,
	    auth_scopes_format(scopes, sc, sizeof(sc)));
	return at < llen ? 0 : -1;
}

void
auth_free(void)
{
	if (entries != NULL)
		explicit_bzero(entries, n_entries * sizeof(*entries));
	explicit_bzero(&last, sizeof(last));
	free(entries);
	entries = NULL;
	n_entries = 0;
}
