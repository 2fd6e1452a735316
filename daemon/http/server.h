/*
 * server: libmicrohttpd inside the libevent loop.
 *
 * Each listener is one MHD daemon in external epoll mode: its epoll fd is a
 * persistent libevent read event, a timer follows MHD_get_timeout, and
 * MHD_run runs after every wake-up and after every resume. Handlers never
 * answer on MHD's first call for a request (0.9.75 would then close a
 * keep-alive connection). A handler either replies at once or holds the
 * request and replies later: a held request's connection is taken from
 * MHD when nothing else is pending on it (its reply is then one write on
 * the socket, and the connection goes back to MHD with its next request),
 * else suspended in MHD.
 */
#ifndef LOOPD_HTTP_SERVER_H
#define LOOPD_HTTP_SERVER_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct MHD_Connection;
struct http_req;

struct http_limits {
	size_t max_body;
	size_t max_json_depth;
	size_t max_connections;
	size_t max_connections_per_ip;
	unsigned idle_timeout;		/* seconds */
	const char *tls_cert;		/* PEM files: TLS on TCP listeners; NULL: */
	const char *tls_key;		/* plain HTTP */
	int64_t request_timeout;	/* microseconds from a request's first byte
					 * to its body's last; 0: none */
	size_t max_unix_connections;	/* Unix sockets' own budget */
	size_t max_admin_connections;	/* TCP connections past max_connections
					 * (and the per-address cap) served for
					 * a token with the admin scope */
};

/* A request (opaque): handlers see it between dispatch and reply, through
 * the accessors below. */

/* What the server calls: dispatch routes a request (a reply with
 * http_reply_*, or a hold); commit_pending gives the number of the store
 * commit that will make the current state durable (0: it is) - a 2xx made
 * then is held until http_commit_done() reports that commit, and
 * commit_why says why one failed. The commit hooks may be NULL (nothing
 * to wait for). */
struct http_hooks {
	void (*dispatch)(struct http_req *r);
	uint64_t (*commit_pending)(void);
	const char *(*commit_why)(void);
	/* Optional: whether an Authorization header value (or NULL) carries
	 * a token with the admin scope (max_admin_connections). */
	int (*admin)(const char *authorization);
};

/* Connections closed by us: their request was not in after
 * request_timeout; evicted while idle, or while still sending, to make
 * room for a new one at max_connections. For /metrics. */
void http_conn_counts(uint64_t *cut_slow, uint64_t *evicted_idle, uint64_t *evicted_slow);

/* Listen on each address of listen (HOST:PORT, [V6]:PORT, unix:PATH;
 * port 0 picks a free one), logging "listening on http://HOST:PORT" - or,
 * when nfds > 0, on the listening sockets fds handed over by the service
 * manager instead. No request is served before the loop runs. 0 or -1. */
int http_start(struct event_base *base, char **listen, const int *fds, size_t nfds,
    const struct http_limits *limits, const struct http_hooks *hooks);
/* Stop accepting connections and answer every held request now; later
 * requests on open connections get 503 and a close. */
void http_quiesce(void);
/* Answer every held request (hold_expire), flush, and stop listening. */
void http_stop(void);
void http_set_limits(const struct http_limits *limits);
const struct http_limits *http_limits(void);

/* Replies. json/text are consumed. */
void http_reply_json(struct http_req *r, int status, json_t *json);
void http_reply_text(struct http_req *r, int status, const char *type, char *text);
void http_reply_problem(struct http_req *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Hold r: nothing is sent on its connection until http_resume. */
void http_hold(struct http_req *r, void *hold, void (*expire)(struct http_req *),
    void (*cleanup)(struct http_req *));
/* r has its reply: send it. */
void http_resume(struct http_req *r);

/* Answer r with a stream of type (text/event-stream) instead of one
 * reply: read() fills buf with up to max bytes that are ready, returning
 * how many, 0 when none are (the connection sleeps until
 * http_stream_wake), or -1 to end the stream. arg and cleanup are kept as
 * for a hold (cleanup runs when the request goes away). On drain
 * (http_quiesce), and when the client hangs up, a stream ends once read()
 * has nothing more. Streams are not held requests: they count in
 * http_streams(), not http_held(). */
void http_stream(struct http_req *r, const char *type,
    ssize_t (*read)(struct http_req *r, char *buf, size_t max), void *arg,
    void (*cleanup)(struct http_req *r));
/* r's stream has something to send: wake it if it sleeps. */
void http_stream_wake(struct http_req *r);
/* Open streams. */
size_t http_streams(void);

/* Header and query lookups (NULL when absent). */
const char *http_header(struct http_req *r, const char *name);
const char *http_query(struct http_req *r, const char *name);
/* The first query argument not in the NULL-terminated list, or NULL. */
const char *http_query_unknown(struct http_req *r, const char *const *known);
/* Whether r came over a Unix socket (no token needed). */
int http_is_local_socket(struct http_req *r);

/* The request made an object (a call, a future, a schedule): should its
 * commit fail, the object is dropped and the reply is a 503, whatever
 * its status (a 201 says so too). */
void http_set_created(struct http_req *r);

/* The store's commit number seq is over: send the 2xx replies held for
 * it or an earlier one; ok = 0 turns those of requests that created
 * something into a 503. */
void http_commit_done(int ok, uint64_t seq);

/* Replies sent so far, by route, method and status: fn is called once
 * per combination. */
void http_foreach_count(void (*fn)(const char *route, const char *method, int status,
    uint64_t n, void *arg), void *arg);
/* Open connections. */
size_t http_connections(void);

/* Call fn with the URL of each listening socket as bound (unix:PATH,
 * http://HOST:PORT with the port a :0 got). */
void http_foreach_listener(void (*fn)(const char *url, void *arg), void *arg);

/* What the request is. The body is NUL-terminated (NULL when empty). */
const char *http_method(const struct http_req *r);
const char *http_path(const struct http_req *r);
const char *http_body(const struct http_req *r, size_t *len);

/* Who sent it, as the routes decided: its token's scopes (auth.h), quota
 * key (0: none) and name (NULL without a token). */
void http_set_who(struct http_req *r, unsigned scopes, unsigned owner, const char *token_name);
unsigned http_scopes(const struct http_req *r);
unsigned http_owner(const struct http_req *r);
const char *http_token_name(const struct http_req *r);
/* The route pattern it matched, for the reply counts (a static string). */
void http_set_route(struct http_req *r, const char *pattern);

/* Headers of the reply to come: Allow (a 405), Retry-After in seconds,
 * WWW-Authenticate: Bearer, and a Content-Security-Policy (static). */
void http_set_allow(struct http_req *r, const char *allow);
void http_set_retry_after(struct http_req *r, unsigned seconds);
void http_set_auth_challenge(struct http_req *r);
void http_set_csp(struct http_req *r, const char *csp);

/* The argument given to http_hold or http_stream (NULL: none);
 * http_hold_take also forgets it (for a cleanup that frees it). */
void *http_hold_arg(const struct http_req *r);
void *http_hold_take(struct http_req *r);
/* Whether r has a client connection (a detached one has none). */
int http_has_connection(const struct http_req *r);

/* A request without a connection (the fuzzer's): no headers, no query.
 * Dispatch it with the routes, look at the outcome with
 * http_reply_status (the status of its reply, 0 when none) and
 * http_hold_arg, and end it with http_detached_free (which runs a hold's
 * cleanup, as when a client goes away). NULL if out of memory. */
struct http_req *http_detached(const char *method, size_t method_len, const char *path,
    size_t path_len, const char *body, size_t body_len);
int http_reply_status(const struct http_req *r);
void http_detached_free(struct http_req *r);

/* Number of held requests. */
size_t http_held(void);

#endif
