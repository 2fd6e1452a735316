/*
 * auth: the bearer token for TCP listeners. The token comes from
 * token_file, or from STATE_DIR/token, created (mode 0600, 32 random bytes
 * as hex) at first start. Comparison takes the same time wherever the
 * tokens differ.
 */
#ifndef LOOPD_HTTP_AUTH_H
#define LOOPD_HTTP_AUTH_H

/* Load (or create, when path is the default) the token. 0 or -1 (logged). */
int auth_load(const char *path, int create);
/* Whether an Authorization header value carries the token. */
int auth_check(const char *header);
/* Forget the token. */
void auth_free(void);

#endif
