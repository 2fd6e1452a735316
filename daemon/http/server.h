/*
 * server: libmicrohttpd inside the libevent loop.
 *
 * Each listener is one MHD daemon in external epoll mode: its epoll fd is a
 * persistent libevent read event, a timer follows MHD_get_timeout, and
 * MHD_run runs after every wake-up and after every resume. Handlers never
 * answer on MHD's first call for a request (0.9.75 would then close a
 * keep-alive connection). A handler either replies at once or holds the
 * request (suspending the connection) and replies later.
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
};

/* A request. Handlers see it between dispatch and reply. */
struct http_req {
	struct MHD_Connection *conn;
	struct http_listener *listener;
	char *method;
	char *path;
	char *body;
	size_t body_len;
	int too_large;
	int stage;			/* server-internal */
	int status;			/* the reply, once set */
	char *reply;
	const char *reply_type;
	char allow[64];			/* Allow header for a 405, or empty */
	unsigned retry_after;		/* Retry-After seconds, or 0 */
	int auth_challenge;		/* send WWW-Authenticate: Bearer */
	int close;			/* send Connection: close */
	const char *route;		/* the matched route pattern, for metrics */
	unsigned scopes;		/* what its token may do (auth.h), set by dispatch */
	unsigned owner;			/* its token's quota key, 0: none */
	const char *token_name;		/* its token's name, NULL without one */
	int created;			/* it made an object (http_set_created) */
	/* A held request: cleanup runs when the request goes away, whether
	 * replied to or not (client gone, shutdown); on shutdown `expire`
	 * is asked for a final reply first. */
	void *hold;
	void (*hold_expire)(struct http_req *r);
	void (*hold_cleanup)(struct http_req *r);
	int held;			/* on the server's held list */
	struct http_req *commit_next;	/* waiting for the store's commit */
	uint64_t commit_seq;		/* ... this one */
	struct http_req *resume_next;	/* on the resume queue */
	int resume_queued;
	struct http_conn *hc;		/* its connection, while held */
	struct http_req *hold_next, *hold_prev;
	const char *csp;		/* Content-Security-Policy to send, or NULL */
	/* A streamed reply (http_stream). */
	ssize_t (*stream_read)(struct http_req *r, char *buf, size_t max);
	const char *stream_type;
	int stream_sleeping;		/* suspended until http_stream_wake */
	int stream_end;			/* drain or hang-up: end after the rest */
	struct http_req *stream_next, **stream_prevp;
};

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

/* Hold r: the connection is suspended until http_resume. */
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

/* Number of held requests. */
size_t http_held(void);

#endif
