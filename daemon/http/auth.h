/*
 * auth: bearer tokens for TCP listeners, each with scopes. The default
 * token comes from token_file, or from STATE_DIR/token, created (mode
 * 0600, 32 random bytes as hex) at first start; it has every scope.
 * More tokens come from tokens_file, one a line, kept as SHA-256 hashes
 * (never the token itself):
 *
 *     NAME sha256:HEX64 SCOPE[,SCOPE...]
 *
 * Only hashes are held in memory too; a presented token is hashed and
 * compared with every entry in the same time wherever they differ.
 */
#ifndef LOOPD_HTTP_AUTH_H
#define LOOPD_HTTP_AUTH_H

#include <stddef.h>

/* Scopes. A route names the scopes of which a token needs one. */
enum auth_scope {
	AUTH_READ = 1 << 0,		/* GET /v1/..., wait, gather, /metrics */
	AUTH_FUTURES = 1 << 1,		/* create, resolve, cancel futures */
	AUTH_CALLS_WEBHOOK = 1 << 2,	/* calls and callbacks that send webhooks */
	AUTH_CALLS_COMMAND = 1 << 3,	/* calls and callbacks that run commands */
	AUTH_ADMIN = 1 << 4,		/* everything */
	AUTH_METRICS = 1 << 5,		/* /metrics only */
};
#define AUTH_CALLS (AUTH_CALLS_WEBHOOK | AUTH_CALLS_COMMAND)
#define AUTH_ALL 0x3fu
#define AUTH_NONE 0u			/* a route open to anyone */

/* Who made a request: its scopes (after implications) and its quota key
 * (1..AUTH_MAX_OWNERS-1, 0 for none: the Unix socket, auth = off). */
struct auth_who {
	unsigned scopes;
	unsigned owner;
	const char *name;		/* the token's name; valid until a reload */
};
#define AUTH_MAX_OWNERS 256

/* Load (or create, when create is set) the default token at token_path,
 * and the scoped tokens of tokens_path (NULL or "": none). Nothing changes
 * unless both load. 0 or -1 (logged, with file:line). */
int auth_load(const char *token_path, int create, const char *tokens_path);
/* Parse the tokens file at tokens_path without loading it (loopd -n):
 * the number of tokens in it, or -1 (every error logged as path:line). */
int auth_check_file(const char *tokens_path);
/* Whether an Authorization header value carries a known token; fills who. */
int auth_check(const char *header, struct auth_who *who);
/* Parse a list of scope names (commas). 0, or -1 with the bad name in err. */
int auth_scopes_parse(const char *list, unsigned *out, char *err, size_t errlen);
/* Scope names of a set, comma-separated, into buf. */
const char *auth_scopes_format(unsigned scopes, char *buf, size_t len);
/* Make a new random token (64 hex characters) and its tokens-file line for
 * name and scopes. 0 or -1. */
int auth_new_entry(const char *name, unsigned scopes, char *token, size_t tlen,
    char *line, size_t llen);
/* Forget every token. */
void auth_free(void);

#endif
