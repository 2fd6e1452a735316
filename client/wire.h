/*
 * wire: loopctl's side of the wire -- one JSON request at a time to loopd
 * over libcurl, with the bearer token, problem+json errors turned into one
 * line of text, and a tick for the caller while a long poll is held.
 */
#ifndef CLIENT_WIRE_H
#define CLIENT_WIRE_H

#include <jansson.h>

/* Why a request failed. */
struct wire_error {
	long	status;		/* HTTP status, or 0 if no usable reply came */
	char	type[64];	/* problem type ("NotFound"), or "" */
	char	msg[1024];	/* "404 NotFound: no such call c_..." */
	char	hint[512];	/* what to try when nobody answered, or "" */
};

struct wire;

/* Open a client for URL ("http://host:port" or "unix:/path/to.sock").
 * TOKEN may be NULL: no Authorization header is sent then. */
struct wire	*wire_new(const char *, const char *);

/* Close the client; NULL is fine. */
void		 wire_free(struct wire *);

/* Call FN(ARG) about ten times a second while a request is in flight. */
void		 wire_set_tick(struct wire *, void (*)(void *), void *);

/* Send METHOD PATH with BODY (may be NULL) and wait up to HOLD seconds more
 * than usual for the reply. On a 2xx reply stores the parsed JSON in *REPLY
 * (the caller owns it) and returns 0; otherwise fills ERR and returns -1. */
int		 wire_request(struct wire *, const char *, const char *,
		    json_t *, double, json_t **, struct wire_error *);

/* GET PATH and store its 2xx reply as text in *TEXT (the caller frees
 * it), as for /metrics. Returns 0, or -1 with ERR filled. */
int		 wire_get_text(struct wire *, const char *, char **,
		    struct wire_error *);

/* A path PREFIX + ID + SUFFIX with ID percent-encoded. Never NULL. */
char		*wire_path(const char *, const char *, const char *);

/* Append "?KEY=VALUE" or "&KEY=VALUE" to *PATH, VALUE percent-encoded. */
void		 wire_query(char **, const char *, const char *);

#endif
