/*
 * server: libmicrohttpd daemons on the loop, requests (struct http_req,
 * private here: handlers use the accessors of server.h), replies, held
 * requests, replies waiting for a commit, streams. The listening sockets
 * themselves are opened by listen.c.
 *
 * A request goes through MHD's handler in steps: access_begin (headers
 * in; refuse what must not be read), access_upload (each piece of the
 * body), access_dispatch (the routes' answer: a reply, a reply held for
 * its commit by access_wait_commit, a stream, or a hold by access_hold),
 * then, once released or resumed, req_send; http_completed ends it.
 *
 * Connections are kept in one list, oldest first, each in a state:
 * receiving a request (or none yet), busy with one (handled, held,
 * replying) or idle between requests. A request must be in within
 * request_timeout of its first byte (a sweep every SWEEP_US cuts slower
 * ones); near max_connections new TCP connections push out idle ones,
 * then the slowest senders. MHD 0.9.75 has no call to close a connection,
 * so we shut its socket down and MHD closes it on its next run. Unix
 * sockets are counted apart (max_unix_connections), and so are TCP
 * connections served past a limit for an admin token
 * (max_admin_connections): whatever holds the TCP budget, an operator
 * gets in.
 */
#include "daemon/http/server.h"

#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <linux/tcp.h>		/* struct tcp_info with tcpi_bytes_received */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <microhttpd.h>

#include "daemon/core/clock.h"
#include "daemon/core/idmap.h"
#include "daemon/http/listen.h"
#include "daemon/log.h"
#include "proto/codec.h"

#define MAX_LISTENERS 8
/* MHD's own hard limits sit this far above ours, so that a connection over
 * our limit is still accepted and told why (503), not silently dropped. */
#define CONNECTION_SLACK 64
/* Replies resumed per loop turn (see kick_cb): the first slice, and the
 * bounds of the slice sized to take about SLICE_US. */
#define RESUME_SLICE 32
#define SLICE_MIN 32
#define SLICE_MAX 2048
#define SLICE_US 300
/* One MHD run dispatches requests for at most this long: MHD serves every
 * ready request in a run, and a burst of 100 POSTs took 4.4 ms of one
 * turn, while timers waited (issue 18). The first request of a run is
 * always dispatched; the others once the time is up stay in MHD, whole,
 * for its next run on the next loop turn (see access_defer). */
#define RUN_US 1000
/* How often connections are checked against request_timeout. */
#define SWEEP_US 500000
/* A sweep looks at its connections a slice a turn, SWEEP_SLICE_US at
 * most (to the next timeout), the clock read every SWEEP_CHECK: one pass
 * over 10,000 connections, a TCP_INFO each, held the loop for 4.8 ms
 * (issue 18: timers late while waiters were woken). */
#define SWEEP_SLICE_US 300
#define SWEEP_CHECK 16
/* A connection still receiving its request after this long may be closed
 * to make room for a new one when the server is full (and one admitted
 * over a limit, only to be told 503, is closed then): a client that means
 * to be served sends its request in far less. */
#define EVICT_AFTER_US 500000

/* A request's stage. STAGE_COMMIT: its 2xx waits for a commit, its
 * connection left blocked in MHD (see http_access); STAGE_RELEASED: the
 * commit came, the reply goes on MHD's next call; STAGE_GONE: MHD closed
 * the connection meanwhile, the commit queue frees it. */
enum { STAGE_NEW, STAGE_HELD, STAGE_COMMIT, STAGE_RELEASED, STAGE_REPLIED, STAGE_GONE };

/* A request, from its headers to its completion. Handlers reach it through
 * the accessors in server.h. */
struct http_req {
	struct MHD_Connection *conn;	/* NULL: detached (the fuzzer's) */
	struct http_listener *listener;
	char *method;
	char *path;
	char *body;
	size_t body_len;
	int too_large;
	int stage;			/* STAGE_* */
	int status;			/* the reply, once set */
	char *reply;
	const char *reply_type;
	char allow[64];			/* Allow header for a 405, or empty */
	unsigned retry_after;		/* Retry-After seconds, or 0 */
	int auth_challenge;		/* send WWW-Authenticate: Bearer */
	int close;			/* send Connection: close */
	const char *route;		/* the matched route pattern, for metrics */
	unsigned scopes;		/* what its token may do (auth.h) */
	unsigned owner;			/* its token's quota key, 0: none */
	const char *token_name;		/* its token's name, NULL without one */
	const char *csp;		/* Content-Security-Policy to send, or NULL */
	/* A held request: cleanup runs when the request goes away, whether
	 * replied to or not (client gone, shutdown); on shutdown `expire`
	 * is asked for a final reply first. */
	void *hold;
	void (*hold_expire)(struct http_req *r);
	void (*hold_cleanup)(struct http_req *r);
	int held;			/* on server.held */
	LIST_ENTRY(http_req) hold_link;
	struct http_conn *hc;		/* its connection, while held */
	STAILQ_ENTRY(http_req) commit_link;	/* waiting for the store's commit */
	uint64_t commit_seq;		/* ... this one */
	int created;			/* it made an object (http_set_created) */
	int resume_queued;		/* on server.resume */
	TAILQ_ENTRY(http_req) resume_link;
	/* A streamed reply (http_stream). */
	ssize_t (*stream_read)(struct http_req *r, char *buf, size_t max);
	const char *stream_type;
	int stream_sleeping;		/* suspended until http_stream_wake */
	int stream_end;			/* drain or hang-up: end after the rest */
	int streaming;			/* on server.streams */
	LIST_ENTRY(http_req) stream_link;
	int http11;			/* HTTP/1.1 */
	int64_t wire_len;		/* request bytes on the wire, -1: unknown */
	int detached;			/* held on a detached connection, */
	struct http_conn *dconn;	/* ... this one */
	/* method and path point here when they fit (no allocation). */
	char method_buf[8];
	char path_buf[56];
	/* Its headers, read once when they are in (header_scan_cb): the
	 * first Content-Length, whether there is a Transfer-Encoding, and
	 * a filter of the names (hdr_bit) so that asking for a header it
	 * has not got costs no search (each MHD lookup walks them all).
	 * hdr_all: the filter holds every name. */
	const char *content_length;
	int has_te;
	const char *hdr_bad;		/* a header with a NUL byte, or NULL */
	int hdr_all;
	uint64_t hdr_names;
};

LIST_HEAD(req_list, http_req);
STAILQ_HEAD(req_fifo, http_req);
TAILQ_HEAD(req_queue, http_req);
TAILQ_HEAD(conn_list, http_conn);

struct http_listener {
	struct MHD_Daemon *mhd;
	int fd;
	int is_unix;
	int inherited;			/* from systemd: not ours to unlink */
	char *unix_path;
	struct event *io_ev;		/* MHD's epoll fd is readable */
	struct event *timer_ev;		/* MHD's own timeouts */
};

static struct {
	struct event_base *base;
	struct http_limits limits;
	struct http_hooks hooks;
	struct http_listener listeners[MAX_LISTENERS];
	size_t n;
	struct event *kick_ev;		/* run MHD on the next turn */
	int gone_fd;			/* epoll set: held clients hanging up */
	struct event *gone_ev;
	char *tls_cert, *tls_key;	/* PEM text, kept while MHD runs */
	struct req_list held;		/* held requests */
	struct req_fifo commit;		/* replies waiting for a commit, in order */
	struct req_queue resume;	/* answered, to hand back to MHD, in order */
	size_t n_held;
	size_t slice;			/* resumes per kick, sized to SLICE_US */
	size_t n_blocked;		/* STAGE_COMMIT: left blocked in MHD */
	int released;			/* replies released since the last kick */
	size_t n_live;			/* requests between start and completion */
	size_t n_conns;			/* open connections, all listeners */
	int draining;			/* http_quiesce was called */
	struct idmap per_addr;		/* client address hash -> open connections */
	struct conn_list conns;		/* every connection, oldest first */
	size_t n_tcp, n_unix;		/* open, per kind of listener */
	size_t n_admin;			/* served past a limit for an admin token */
	size_t n_tcp_cut;		/* TCP ones we shut down, not yet closed */
	struct event *sweep_ev;		/* request_timeout, every SWEEP_US */
	struct event *sweep_more_ev;	/* the next slice of a sweep */
	int sweeping;			/* a sweep is under way: */
	struct http_conn *sweep_next;	/* ... the next one it looks at */
	uint64_t n_cut_slow;		/* closed: request_timeout passed */
	uint64_t n_evicted_idle;	/* closed: idle, to make room */
	uint64_t n_evicted_slow;	/* closed: still sending, to make room */
	struct req_list streams;	/* open streamed replies */
	size_t n_streams;
	struct http_conn *adopt;	/* going back to MHD (conn_opened) */
	int adopted;			/* ... since the last kick */
	int64_t run_until;		/* the current MHD run's budget ends, loop time (0: none) */
	size_t run_served;		/* requests it dispatched */
	int run_deferred;		/* and left some for the next run */
} server = { .gone_fd = -1 };

/* Replies by (route, method, status), for /metrics. Few combinations
 * exist, so a short array searched linearly does. */
#define MAX_COUNTS 256
static struct reply_count {
	const char *route;
	char method[8];
	int status;
	uint64_t n;
} counts[MAX_COUNTS];
static size_t n_counts;

/* Count one reply. */
static void
count_reply(const struct http_req *r)
{
	const char *route = r->route ? r->route : "unmatched";
	size_t i;

	for (i = 0; i < n_counts; i++)
		if (counts[i].route == route && counts[i].status == r->status &&
		    strcmp(counts[i].method, r->method) == 0)
			break;
	if (i == n_counts) {
		if (n_counts == MAX_COUNTS)
			return;
		counts[i].route = route;
		snprintf(counts[i].method, sizeof(counts[i].method), "%s",
		    strlen(r->method) < sizeof(counts[i].method) ? r->method : "OTHER");
		counts[i].status = r->status;
		n_counts++;
	}
	counts[i].n++;
}

void
http_foreach_count(void (*fn)(const char *, const char *, int, uint64_t, void *), void *arg)
{
	for (size_t i = 0; i < n_counts; i++)
		fn(counts[i].route, counts[i].method, counts[i].status, counts[i].n, arg);
}

size_t
http_connections(void)
{
	return server.n_conns;
}

/* Where a connection is in its life, for request_timeout and eviction. */
enum conn_state {
	CONN_RECEIVING,			/* a request is coming in (or none yet) */
	CONN_BUSY,			/* its request is in: handled, held, replied */
	CONN_IDLE,			/* kept alive between requests */
};

/* What we know of one connection. */
struct http_conn {
	uint64_t addr;			/* hash of the client address; 0: Unix */
	const char *over;		/* why it is over a limit, or NULL */
	int fd;
	int registered;			/* in server.gone_fd's set */
	int armed;			/* ... and not fired since (one-shot) */
	struct http_req *held;		/* the request held on it, or NULL */
	struct http_req *stream;	/* the stream it carries, or NULL */
	TAILQ_ENTRY(http_conn) link;	/* server.conns */
	int is_unix;
	int admin;			/* past a limit, for an admin token */
	int cut;			/* shut down by us; MHD closes it next */
	enum conn_state state;
	int64_t since;			/* when state began (monotonic us) */
	uint64_t rx_base;		/* CONN_IDLE: bytes received by the first
					 * sweep that saw it idle */
	int rx_sampled;			/* ... rx_base is taken */
	/* Requests read from it so far, in bytes on the wire (to tell
	 * whether MHD holds pipelined bytes); rx_unknown: not countable. */
	uint64_t rx_used;
	int rx_unknown;
	/* Detached (see access_detach): MHD closed its side, fd is ours. */
	int detached;
	int input;			/* ... data came meanwhile */
	int mhd;			/* MHD has a connection for it */
	struct http_req *dreq;		/* ... its request until the reply is out */
	struct http_listener *listener;	/* ... where it goes back */
	struct sockaddr_storage peer;	/* ... for MHD_add_connection */
	socklen_t peer_len;
	char *out;			/* ... a reply not yet all written */
	size_t out_len, out_off;
};

/* Monotonic microseconds. */
static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Bytes received on a TCP socket so far (0 if unknown). */
static uint64_t
tcp_rx(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return 0;
	return ti.tcpi_bytes_received;
}

/* The connection context of conn, or NULL. */
static struct http_conn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Enter state st (no change of `since` if it is already there). */
static void
conn_set_state(struct http_conn *hc, enum conn_state st)
{
	if (hc == NULL || hc->state == st)
		return;
	hc->state = st;
	hc->since = mono_us();
	if (st == CONN_IDLE)
		hc->rx_sampled = 0;	/* the sweep takes rx_base (below) */
}

/* Close hc from our side: MHD sees the end of the stream on its next run
 * and closes the connection (there is no call to close one directly). */
static void
conn_cut(struct http_conn *hc)
{
	if (hc->cut)
		return;
	hc->cut = 1;
	if (!hc->is_unix && !hc->admin)
		server.n_tcp_cut++;
	shutdown(hc->fd, SHUT_RDWR);
}

/* Make room for a new TCP connection: close the one idle longest, or,
 * with none (or if only_idle is 0 and none idle), the one that has been
 * receiving its request longest, if that is longer than EVICT_AFTER_US.
 * 1 if one was closed. */
static int
conn_evict(struct http_conn *except, int only_idle, int64_t now)
{
	struct http_conn *hc, *idle = NULL, *slow = NULL;

	TAILQ_FOREACH(hc, &server.conns, link) {
		if (hc == except || hc->cut || hc->is_unix || hc->admin)
			continue;
		if (hc->state == CONN_IDLE && (idle == NULL || hc->since < idle->since))
			idle = hc;
		else if (hc->state == CONN_RECEIVING && now - hc->since > EVICT_AFTER_US &&
		    (slow == NULL || hc->since < slow->since))
			slow = hc;
	}
	if (idle != NULL) {
		conn_cut(idle);
		server.n_evicted_idle++;
		return 1;
	}
	if (slow != NULL && !only_idle) {
		conn_cut(slow);
		server.n_evicted_slow++;
		return 1;
	}
	return 0;
}

/* The sweep's look at one connection: cut it if its request is not in
 * after request_timeout; notice an idle one that started a new request. */
static void
sweep_one(struct http_conn *hc, int64_t now)
{
	int64_t limit = server.limits.request_timeout;

	if (hc->cut || hc->is_unix)
		return;
	if (hc->detached && hc->dreq == NULL && hc->out == NULL &&
	    server.limits.idle_timeout > 0 &&
	    now - hc->since > (int64_t)server.limits.idle_timeout * 1000000) {
		conn_cut(hc);	/* idle_timeout, as MHD would */
		return;
	}
	/* A detached one's next request is seen by its epoll registration
	 * (detached_event): no TCP_INFO to read. */
	if (limit <= 0 || hc->detached)
		return;
	if (hc->state == CONN_IDLE && !hc->rx_sampled) {
		/* Taken here, not when the reply went out: that was a
		 * getsockopt per request (issue 18). A request begun before
		 * this sweep and then left unfinished is seen once its next
		 * byte comes, or closed by idle_timeout (and it goes first as
		 * idle when room is needed). */
		hc->rx_base = tcp_rx(hc->fd);
		hc->rx_sampled = 1;
	} else if (hc->state == CONN_IDLE && tcp_rx(hc->fd) != hc->rx_base) {
		hc->state = CONN_RECEIVING;	/* the next request began */
		hc->since = now;
	} else if (hc->state == CONN_RECEIVING && hc->over != NULL &&
	    now - hc->since > EVICT_AFTER_US) {
		conn_cut(hc);		/* its 503 is all it would get */
		server.n_evicted_slow++;
	} else if (hc->state == CONN_RECEIVING && now - hc->since > limit) {
		log_debug("http: closing a connection whose request was not in "
		    "after request_timeout");
		conn_cut(hc);
		server.n_cut_slow++;
	}
}

/* Every SWEEP_US a sweep over the connections starts (unless one is under
 * way); its slices follow on a zero timer, so timers and I/O run between
 * them. A connection that goes meanwhile moves sweep_next on
 * (conn_forget); one that comes is looked at if the sweep reaches it. */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval zero = { 0, 0 };
	int64_t now = mono_us(), until = clock_slice_end(SWEEP_SLICE_US);
	struct http_conn *hc;
	size_t n = 0;

	if (!server.sweeping) {
		server.sweeping = 1;
		server.sweep_next = TAILQ_FIRST(&server.conns);
	}
	while ((hc = server.sweep_next) != NULL) {
		if (n > 0 && n % SWEEP_CHECK == 0 && clock_loop_now() > until) {
			evtimer_add(server.sweep_more_ev, &zero);
			return;
		}
		server.sweep_next = TAILQ_NEXT(hc, link);
		sweep_one(hc, now);
		n++;
	}
	server.sweeping = 0;
}

void
http_conn_counts(uint64_t *cut_slow, uint64_t *evicted_idle, uint64_t *evicted_slow)
{
	*cut_slow = server.n_cut_slow;
	*evicted_idle = server.n_evicted_idle;
	*evicted_slow = server.n_evicted_slow;
}

/* Run one listener's MHD and re-arm its timer. */
static void
listener_run(struct http_listener *l)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (l->mhd == NULL)
		return;
	server.run_until = clock_slice_end(RUN_US);
	server.run_served = 0;
	server.run_deferred = 0;
	MHD_run(l->mhd);
	server.run_until = 0;
	if (MHD_get_timeout(l->mhd, &ms) == MHD_YES) {
		struct timeval tv;

		/* see listener_cb; a request left for the next run goes on
		 * the next turn (MHD says 0: it is on its ready list) */
		if (ms == 0 && server.n_blocked > 0 && !server.run_deferred)
			ms = 1;
		tv.tv_sec = (time_t)(ms / 1000);
		tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
		evtimer_add(l->timer_ev, &tv);
	} else
		evtimer_del(l->timer_ev);
}

/* MHD has work (socket readiness or a timeout). A request whose 2xx
 * waits for its commit is left blocked inside MHD (http_access returns
 * without a reply): MHD keeps such a connection on its ready list, calls
 * the handler again on each run and so reports a zero timeout. Running
 * it again at once would spin until the commit, so while requests are
 * blocked a zero timeout becomes 1 ms: the commit's kick runs MHD (and
 * any socket event does), and whatever else MHD had ready without a new
 * socket event (the rest of a large body, say) waits 1 ms at most, even
 * while a failed commit keeps replies waiting for its retry. */
static void
listener_cb(evutil_socket_t fd, short what, void *arg)
{
	listener_run(arg);
}

static void req_free(struct http_req *r);
static void detached_reply(struct http_req *r);
static void detached_event(struct http_conn *hc, uint32_t events);
static int conn_forget(struct http_conn *hc);

/* Queue a suspended request whose reply is ready for resuming. */
static void
resume_later(struct http_req *r)
{
	if (r->resume_queued)
		return;
	r->resume_queued = 1;
	TAILQ_INSERT_TAIL(&server.resume, r, resume_link);
	event_active(server.kick_ev, 0, 0);
}

/* Hand queued requests back: a detached one's reply is written now
 * (detached_reply), a suspended one is resumed for MHD's next run. At
 * most max (0: all), and no more once `until` (loop time, 0: never)
 * has passed. Returns how many were handed back; *in_mhd says whether
 * one of them was resumed in MHD (which then needs a run). */
static size_t
resume_some(size_t max, int64_t until, int *in_mhd)
{
	struct http_req *r;
	size_t n;

	*in_mhd = 0;
	for (n = 0; (r = TAILQ_FIRST(&server.resume)) != NULL && (max == 0 || n < max); n++) {
		if (until != 0 && n > 0 && clock_loop_now() >= until)
			break;
		TAILQ_REMOVE(&server.resume, r, resume_link);
		r->resume_queued = 0;
		if (r->detached)
			detached_reply(r);
		else {
			MHD_resume_connection(r->conn);
			*in_mhd = 1;
		}
	}
	return n;
}

/* Resume a slice of the queued replies and run every listener (MHD does
 * not notice resumes alone). A result that wakes ten thousand waiters is
 * answered a slice at a time, each slice on its own loop turn, so that
 * timers and new requests are served between slices: a slice ends after
 * SLICE_US (a detached reply is written in the slice), and holds at most
 * RESUME_SLICE resumes at first, then as many as took about SLICE_US with
 * MHD's run after them (a suspended one's reply is written by MHD then). */
static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	size_t done, slice = server.slice ? server.slice : RESUME_SLICE;
	int64_t t0, took;
	int in_mhd;

	if (server.released || server.adopted) {
		/* Replies a commit released go first, ahead of any slice of
		 * woken waiters: MHD calls a blocked request's handler from its
		 * ready list on one run and writes the reply it queued (outside
		 * MHD's read path) on the next. Connections given back to MHD
		 * (detached_readopt) are served by the same runs. */
		server.released = server.adopted = 0;
		for (int run = 0; run < 2; run++)
			for (size_t i = 0; i < server.n; i++)
				listener_run(&server.listeners[i]);
	}
	if (TAILQ_EMPTY(&server.resume))
		return;
	t0 = clock_loop_now();
	done = resume_some(slice, clock_slice_end(SLICE_US), &in_mhd);
	/* A slice of detached replies only is all written: MHD has nothing
	 * new from it (a connection given back to MHD kicks again). */
	for (size_t i = 0; in_mhd && i < server.n; i++)
		listener_run(&server.listeners[i]);
	/* Size the next slice so that one takes about SLICE_US: a due timer
	 * waits for at most one slice. */
	took = clock_loop_now() - t0;
	if (done >= SLICE_MIN && took > 0) {
		size_t fit = (size_t)((int64_t)done * SLICE_US / took);
		server.slice = fit < SLICE_MIN ? SLICE_MIN : fit > SLICE_MAX ? SLICE_MAX : fit;
	}
	/* The next slice on a zero timer, not event_active: libevent runs
	 * what a callback activates in the same pass, before timers and I/O,
	 * so ten thousand replies would go out with timers held back. */
	if (!TAILQ_EMPTY(&server.resume)) {
		struct timeval zero = { 0, 0 };
		evtimer_add(server.kick_ev, &zero);
	}
}

/* Queue r's reply on its connection. */
static enum MHD_Result
req_send(struct http_req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char ra[16];

	r->stage = STAGE_REPLIED;
	conn_set_state(conn_of(r->conn), CONN_BUSY);
	resp = MHD_create_response_from_buffer(r->reply ? strlen(r->reply) : 0, r->reply,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(r->reply);
		r->reply = NULL;
		return MHD_NO;
	}
	r->reply = NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->reply_type);
	if (r->allow[0] != '\0')
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r->csp != NULL) {
		MHD_add_response_header(resp, "Content-Security-Policy", r->csp);
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	}
	if (r->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (r->auth_challenge)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"loopd\"");
	if (r->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%u", r->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	count_reply(r);
	ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	log_debug("%s %s -> %d", r->method, r->path, r->status);
	return ret;
}

/* Take r off the held list and stop watching its socket for a hang-up
 * (no system call: the one-shot registration stays with the connection,
 * see held_watch). */
static void
held_unlink(struct http_req *r)
{
	if (r->hc != NULL) {
		r->hc->held = NULL;
		r->hc = NULL;
	}
	if (!r->held)
		return;
	LIST_REMOVE(r, hold_link);
	r->held = 0;
	server.n_held--;
}

/* A held client closed its end. MHD does not watch suspended sockets, so
 * we do: release the hold now (its waiter and timer go with the request)
 * instead of keeping them until the wait times out. */
static void
held_gone(struct http_req *r)
{
	log_debug("%s %s: client hung up while held", r->method, r->path);
	if (r->hold_cleanup != NULL) {
		r->hold_cleanup(r);
		r->hold_cleanup = NULL;
		r->hold_expire = NULL;
	}
	http_reply_problem(r, 503, NULL, "the client hung up");
	http_resume(r);		/* MHD then fails the write and closes */
}

/* Hang-ups on held connections (server.gone_fd is readable). */
static void
gone_cb(evutil_socket_t fd, short what, void *arg)
{
	struct epoll_event ev[64];
	int n = epoll_wait(server.gone_fd, ev, 64, 0);

	for (int i = 0; i < n; i++) {
		struct http_conn *hc = ev[i].data.ptr;
		if (hc->detached) {
			detached_event(hc, ev[i].events);
			continue;
		}
		hc->armed = 0;
		if (hc->held != NULL)
			held_gone(hc->held);
		else if (hc->stream != NULL) {
			hc->stream->stream_end = 1;
			http_stream_wake(hc->stream);
		}
	}
}

/* Watch a held request's socket for the client hanging up. Hang-ups are
 * watched in an epoll set of our own, one-shot, and a connection stays
 * in it until it closes: holding again costs no system call while the
 * registration is armed, and releasing a hold never costs one, which
 * keeps waking ten thousand waiters to a send each. */
static void
held_watch(struct http_req *r)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *hc = ci ? ci->socket_context : NULL;
	struct epoll_event ev = { .events = EPOLLRDHUP | EPOLLONESHOT };

	if (hc == NULL || hc->fd < 0 || server.gone_fd < 0)
		return;
	hc->held = r;
	r->hc = hc;
	if (hc->armed)
		return;
	ev.data.ptr = hc;
	if (epoll_ctl(server.gone_fd, hc->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, hc->fd,
	    &ev) == 0)
		hc->registered = hc->armed = 1;
}

/* A stable key for the client's address (without the port). */
static uint64_t
conn_addr_key(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET)
		return idmap_hash_bytes(&((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    4) | 1;
	if (sa->sa_family == AF_INET6)
		return idmap_hash_bytes(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    16) | 1;
	return 0;
}

/* A connection opened on listener l: count it in total and per client
 * address, make room for it or mark it over a limit. */
static struct http_conn *
conn_opened(struct http_listener *l, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	struct http_conn *hc;
	int64_t now = mono_us();
	uintptr_t n;
	size_t live;

	if ((hc = server.adopt) != NULL) {
		/* A detached connection coming back (detached_readopt): it is
		 * counted already. */
		server.adopt = NULL;
		hc->mhd = 1;
		hc->state = CONN_RECEIVING;
		hc->since = now;
		return hc;
	}
	if ((hc = calloc(1, sizeof(*hc))) == NULL)
		return NULL;
	hc->mhd = 1;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	hc->fd = ci ? ci->connect_fd : -1;
	hc->is_unix = l != NULL && l->is_unix;
	hc->state = CONN_RECEIVING;
	hc->since = now;
	TAILQ_INSERT_TAIL(&server.conns, hc, link);
	server.n_conns++;
	if (hc->is_unix) {
		/* The Unix socket has a budget of its own: an operator gets in
		 * however busy TCP is. */
		if (++server.n_unix > server.limits.max_unix_connections)
			hc->over = "too many connections on the Unix socket "
			    "(max_unix_connections)";
		return hc;
	}
	server.n_tcp++;
	/* Near the limit, idle keep-alive connections go first; at it, the
	 * one slowest to send its request. */
	live = server.n_tcp - server.n_tcp_cut - server.n_admin;
	if (live > server.limits.max_connections - server.limits.max_connections / 10)
		conn_evict(hc, 1, now);
	live = server.n_tcp - server.n_tcp_cut - server.n_admin;
	if (live > server.limits.max_connections && !conn_evict(hc, 0, now))
		hc->over = "too many connections (max_connections)";
	if ((hc->addr = conn_addr_key(conn)) != 0) {
		n = (uintptr_t)idmap_get(&server.per_addr, hc->addr) + 1;
		if (idmap_put(&server.per_addr, hc->addr, (void *)n) == -1)
			hc->addr = 0;
		else if (server.limits.max_connections_per_ip != 0 &&
		    n > server.limits.max_connections_per_ip)
			hc->over = "too many connections from your address "
			    "(max_connections_per_ip)";
	}
	return hc;
}

/* Forget hc and uncount it (its descriptor is closed by whoever owns
 * it). Returns 0. */
static int
conn_forget(struct http_conn *hc)
{
	uintptr_t n;

	if (hc->held != NULL)
		hc->held->hc = NULL;
	hc->stream = NULL;
	if (hc->registered)
		epoll_ctl(server.gone_fd, EPOLL_CTL_DEL, hc->fd, NULL);
	server.n_conns--;
	if (server.sweep_next == hc)
		server.sweep_next = TAILQ_NEXT(hc, link);
	if (hc->admin)
		server.n_admin--;
	if (hc->is_unix)
		server.n_unix--;
	else {
		server.n_tcp--;
		if (hc->cut && !hc->admin)
			server.n_tcp_cut--;
	}
	TAILQ_REMOVE(&server.conns, hc, link);
	if (hc->addr != 0) {
		n = (uintptr_t)idmap_get(&server.per_addr, hc->addr);
		if (n <= 1)
			idmap_del(&server.per_addr, hc->addr);
		else
			idmap_put(&server.per_addr, hc->addr, (void *)(n - 1));
	}
	free(hc->out);
	free(hc);
	return 0;
}

/* MHD closed a connection: forget it, unless it was detached from MHD
 * (access_detach), which only ends MHD's side. */
static void
conn_closed(struct http_conn *hc)
{
	hc->mhd = 0;
	if (!hc->detached)
		conn_forget(hc);
}

/* MHD tells us of each connection opening and closing. */
static void
http_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		*socket_context = conn_opened(cls, conn);
	else if (*socket_context != NULL) {
		conn_closed(*socket_context);
		*socket_context = NULL;
	}
}

/* Why conn is over a connection limit, or NULL. A TCP connection over
 * one whose request carries a token with the admin scope is served in
 * the admin budget while it has room (the token is checked only then). */
static const char *
conn_over(struct MHD_Connection *conn)
{
	struct http_conn *hc = conn_of(conn);

	if (hc == NULL || hc->over == NULL)
		return NULL;
	/* Served in the admin budget, it leaves the TCP one: it is not
	 * evicted to make room there, nor counted. */
	if (!hc->is_unix && !hc->cut && server.n_admin < server.limits.max_admin_connections &&
	    server.hooks.admin != NULL && server.hooks.admin(MHD_lookup_connection_value(conn,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION))) {
		hc->over = NULL;
		hc->admin = 1;
		server.n_admin++;
	}
	return hc->over;
}

/* MHD_get_connection_values_n: note a header whose name or value holds a
 * NUL byte. */
/* A header name's bit in http_req.hdr_names: from its length and its
 * first letter, whatever their case. */
static uint64_t
hdr_bit(const char *name, size_t len)
{
	unsigned c = (unsigned char)name[0] | 0x20;

	return (uint64_t)1 << ((c * 7 + len) & 63);
}

/* One header of a request that just came in (MHD_get_connection_values_n):
 * note it in r; stop at one with a NUL byte (r->hdr_all stays 0 then). */
static enum MHD_Result
header_scan_cb(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
    const char *value, size_t value_size)
{
	struct http_req *r = cls;
	int nul = (key != NULL && strlen(key) != key_size) ||
	    (value != NULL && strlen(value) != value_size);

#if MHD_VERSION <= 0x00097500
	/* MHD 0.9.75 cuts a header at a NUL byte and reports the cut length
	 * (a token followed by NUL and anything passed as the token). The
	 * line still lies in MHD's read buffer, its CR and LF overwritten
	 * with NULs: a byte other than NUL just past the value's terminator
	 * means the line went on past a NUL byte (or ended in a bare LF,
	 * which is refused with it). */
	if (value != NULL && value[value_size] == '\0' && value[value_size + 1] != '\0')
		nul = 1;
#endif
	if (nul) {
		r->hdr_bad = key;
		return MHD_NO;
	}
	if (key == NULL || key_size == 0)
		return MHD_YES;
	r->hdr_names |= hdr_bit(key, key_size);
	if (key_size == 14 && r->content_length == NULL &&
	    strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		r->content_length = value;
	else if (key_size == 17 && strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		r->has_te = 1;
	return MHD_YES;
}

/* Read r's headers once (header_scan_cb). */
static void
header_scan(struct http_req *r)
{
	MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, header_scan_cb, r);
	if (r->hdr_bad == NULL)
		r->hdr_all = 1;
	else {
		/* Cut short: ask MHD for these two. */
		r->content_length = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		r->has_te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
	}
}

/* Why the request's headers are refused before anything else, or NULL:
 * a NUL byte in a header, or Content-Length together with
 * Transfer-Encoding (RFC 9112 §6.3: a message that a proxy in front of
 * loopd might frame differently, the root of request smuggling). */
static const char *
request_framing_bad(const struct http_req *r)
{
	static char why[200];

	if (r->hdr_bad != NULL) {
		snprintf(why, sizeof(why), "%.80s: a header must not contain a NUL byte (and "
		    "must end with CR LF)", r->hdr_bad);
		return why;
	}
	if (r->content_length != NULL && r->has_te)
		return "Content-Length: must not come with Transfer-Encoding";
	return NULL;
}

/* MHD asks a stream for its next bytes: what read() has, the end, or
 * nothing now (the connection sleeps until http_stream_wake). */
static ssize_t
stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_req *r = cls;
	ssize_t n = r->stream_read(r, buf, max);

	if (n > 0)
		return n;
	if (n < 0 || r->stream_end)
		return MHD_CONTENT_READER_END_OF_STREAM;
	r->stream_sleeping = 1;
	MHD_suspend_connection(r->conn);
	return 0;
}

/* Start r's streamed reply: headers now, the body as read() has it. The
 * connection's hang-up is watched like a held one's. */
static enum MHD_Result
stream_send(struct http_req *r)
{
	struct http_conn *hc = conn_of(r->conn);
	struct epoll_event ev = { .events = EPOLLRDHUP | EPOLLONESHOT };
	struct MHD_Response *resp;
	enum MHD_Result ret;

	r->stage = STAGE_REPLIED;
	r->status = 200;
	conn_set_state(hc, CONN_BUSY);
	if ((resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
	    stream_reader, r, NULL)) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->stream_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	count_reply(r);
	ret = MHD_queue_response(r->conn, 200, resp);
	MHD_destroy_response(resp);
	LIST_INSERT_HEAD(&server.streams, r, stream_link);
	r->streaming = 1;
	server.n_streams++;
	if (hc != NULL && hc->fd >= 0 && server.gone_fd >= 0 && hc->held == NULL) {
		hc->stream = r;
		ev.data.ptr = hc;
		if (!hc->armed && epoll_ctl(server.gone_fd, hc->registered ? EPOLL_CTL_MOD :
		    EPOLL_CTL_ADD, hc->fd, &ev) == 0)
			hc->registered = hc->armed = 1;
	}
	log_debug("%s %s -> 200 (stream)", r->method, r->path);
	return ret;
}

/* End every stream once it has sent what it has (drain, stop). */
static void
streams_end(void)
{
	struct http_req *r;

	LIST_FOREACH(r, &server.streams, stream_link) {
		r->stream_end = 1;
		http_stream_wake(r);
	}
}

/* s kept in r's own buffer buf (cap bytes) when it fits, else copied:
 * NULL when out of memory. */
static char *
req_copy(const char *s, char *buf, size_t cap)
{
	size_t len = strlen(s);

	if (len >= cap)
		return strdup(s);
	memcpy(buf, s, len + 1);
	return buf;
}

/* A request's headers are in (MHD's first call): make its context, and
 * refuse at once what must not be read further. */
static enum MHD_Result
access_begin(struct http_listener *l, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, void **con_cls)
{
	struct http_req *r;
	struct http_conn *hc;
	const char *cl, *why;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->method = req_copy(method, r->method_buf, sizeof(r->method_buf))) == NULL ||
	    (r->path = req_copy(url, r->path_buf, sizeof(r->path_buf))) == NULL) {
		req_free(r);
		return MHD_NO;
	}
	r->conn = conn;
	r->listener = l;
	r->http11 = strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
	r->wire_len = -1;
	*con_cls = r;
	server.n_live++;
	/* The body is still to come. A request that was pipelined behind
	 * the last one starts its clock now. */
	if ((hc = conn_of(conn)) != NULL && hc->state == CONN_IDLE)
		conn_set_state(hc, CONN_RECEIVING);
	header_scan(r);
	/* A declared body over the limit is refused before it is read (the
	 * connection closes, which is what we want then). */
	cl = r->content_length;
	if (cl != NULL && strtoull(cl, NULL, 10) > server.limits.max_body) {
		http_reply_problem(r, 413, NULL, "body: larger than max_body (%zu bytes)",
		    server.limits.max_body);
		return req_send(r);
	}
	if ((why = conn_over(conn)) != NULL) {
		http_reply_problem(r, 503, NULL, "%s", why);
		r->close = 1;
		return req_send(r);
	}
	if ((why = request_framing_bad(r)) != NULL) {
		http_reply_problem(r, 400, NULL, "%s", why);
		r->close = 1;
		return req_send(r);
	}
	return MHD_YES;
}

/* A piece of the body: keep it, up to max_body (past it, the body is
 * dropped and the request gets a 413 once it is in). */
static enum MHD_Result
access_upload(struct http_req *r, const char *upload, size_t n)
{
	char *b;

	if (r->too_large || r->stage != STAGE_NEW)
		return MHD_YES;
	if (r->body_len + n > server.limits.max_body) {
		r->too_large = 1;
		free(r->body);
		r->body = NULL;
		r->body_len = 0;
		return MHD_YES;
	}
	if ((b = realloc(r->body, r->body_len + n + 1)) == NULL)
		return MHD_NO;
	memcpy(b + r->body_len, upload, n);
	r->body = b;
	r->body_len += n;
	b[r->body_len] = '\0';
	return MHD_YES;
}

/* Whether r's 2xx must wait for a store commit; if so, queue it for that
 * commit. The connection is not suspended (that costs two epoll_ctl and a
 * recvfrom per request): returning without a reply leaves it blocked in
 * MHD, which calls us again on each run until http_commit_done releases
 * it. MHD reads no further request from it meanwhile, so pipelined
 * requests keep their order. */
static int
access_wait_commit(struct http_req *r)
{
	if (r->reply == NULL || r->status >= 300 || server.hooks.commit_pending == NULL ||
	    (r->commit_seq = server.hooks.commit_pending()) == 0)
		return 0;
	r->stage = STAGE_COMMIT;
	STAILQ_INSERT_TAIL(&server.commit, r, commit_link);
	server.n_blocked++;
	return 1;
}

static enum MHD_Result access_hold(struct http_req *r);

/*
 * Detached connections (issue 18). A held request on a plain TCP
 * connection is taken from MHD: we keep a duplicate of its socket and
 * make MHD let go of the connection (with MHD_USE_TURBO, MHD closes its
 * descriptor without a shutdown, so the connection lives on in ours).
 * Its reply is then one sendmsg of the whole response, however many wake
 * at once: no resume, no epoll_ctl, no read. The socket then waits in
 * server.gone_fd's set (edge-triggered) for what comes next: a request hands
 * it back to MHD (MHD_add_connection), a hang-up closes it, idle_timeout
 * closes it as MHD would. A request is detached only when MHD holds no
 * byte past it (TCP_INFO's count of bytes received is what the requests
 * so far took), so a pipelined request is never lost; never with TLS
 * (MHD holds the session), on Unix sockets, for HTTP/1.0, HEAD or
 * Connection: close.
 */

static void resume_drop(struct http_req *r);

/* Whether r, about to be held, can be detached from MHD. */
static int
detach_ok(struct http_req *r)
{
	struct http_conn *hc = conn_of(r->conn);
	const char *c;
	uint64_t rx;

	if (hc == NULL || hc->is_unix || hc->cut || hc->rx_unknown || hc->stream != NULL ||
	    r->wire_len < 0 || !r->http11 || server.tls_cert != NULL || server.draining ||
	    server.gone_fd < 0 || strcmp(r->method, "HEAD") == 0)
		return 0;
	c = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);
	if (c != NULL && strcasestr(c, "close") != NULL)
		return 0;
	if ((rx = tcp_rx(hc->fd)) != hc->rx_used + (uint64_t)r->wire_len) {
		log_debug("http: not detached: %llu bytes received, %llu used",
		    (unsigned long long)rx,
		    (unsigned long long)(hc->rx_used + (uint64_t)r->wire_len));
		return 0;
	}
	return 1;
}

/* Detach r's connection from MHD and hold r on our side of it. */
static enum MHD_Result
access_detach(struct http_req *r)
{
	struct http_conn *hc = conn_of(r->conn);
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET };
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	socklen_t len;
	int fd;

	if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return access_hold(r);
	len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	if ((fd = fcntl(hc->fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return access_hold(r);
	ev.data.ptr = hc;
	if (epoll_ctl(server.gone_fd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		close(fd);
		return access_hold(r);
	}
	/* The old descriptor's registration would outlive it (the socket
	 * stays open through ours). */
	if (hc->registered)
		epoll_ctl(server.gone_fd, EPOLL_CTL_DEL, hc->fd, NULL);
	hc->registered = 1;
	hc->armed = 0;
	memcpy(&hc->peer, sa, len);
	hc->peer_len = len;
	hc->fd = fd;
	hc->detached = 1;
	hc->input = 0;
	hc->listener = r->listener;
	hc->rx_used += (uint64_t)r->wire_len;
	r->detached = 1;
	r->dconn = hc;
	r->stage = STAGE_HELD;
	r->held = 1;
	LIST_INSERT_HEAD(&server.held, r, hold_link);
	server.n_held++;
	hc->held = r;
	hc->dreq = r;
	r->hc = hc;
	return MHD_NO;		/* MHD lets go of the connection */
}

/* Close a detached connection, ending what is held on it. */
static void
detached_close(struct http_conn *hc)
{
	struct http_req *r = hc->dreq;

	if (r != NULL) {
		hc->dreq = NULL;
		held_unlink(r);
		if (r->resume_queued)
			resume_drop(r);
		if (r->hold_cleanup != NULL)
			r->hold_cleanup(r);
		req_free(r);
	}
	epoll_ctl(server.gone_fd, EPOLL_CTL_DEL, hc->fd, NULL);
	hc->registered = 0;
	close(hc->fd);
	hc->fd = -1;
	hc->detached = 0;
	if (!hc->mhd)
		conn_forget(hc);	/* else MHD's close does (conn_closed) */
}

/* Give a detached connection back to MHD: a request came on it. */
static void
detached_readopt(struct http_conn *hc)
{
	struct http_listener *l = hc->listener;

	if (hc->mhd) {
		log_warnx("http: a detached connection is still MHD's");
		detached_close(hc);
		return;
	}
	epoll_ctl(server.gone_fd, EPOLL_CTL_DEL, hc->fd, NULL);
	hc->registered = 0;
	hc->detached = 0;
	hc->input = 0;
	server.adopt = hc;
	if (l->mhd == NULL || MHD_add_connection(l->mhd, hc->fd,
	    (const struct sockaddr *)&hc->peer, hc->peer_len) != MHD_YES) {
		/* MHD closed the socket. */
		if (server.adopt == hc) {
			server.adopt = NULL;
			conn_forget(hc);
		}
		return;
	}
	/* MHD learns of it only when it runs next: the kick runs it. */
	server.adopt = NULL;
	server.adopted = 1;
	event_active(server.kick_ev, 0, 0);
}

/* Write what is left of a detached connection's reply. 1 when all of it
 * is written, 0 when the rest waits for EPOLLOUT, -1 on error (closed). */
static int
detached_flush(struct http_conn *hc)
{
	while (hc->out_off < hc->out_len) {
		ssize_t w = send(hc->fd, hc->out + hc->out_off, hc->out_len - hc->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			detached_close(hc);
			return -1;
		}
		hc->out_off += (size_t)w;
	}
	free(hc->out);
	hc->out = NULL;
	hc->out_len = hc->out_off = 0;
	return 1;
}

/* The reply is all out: the connection waits for its next request (or
 * goes back to MHD at once if one came), or closes. */
static void
detached_done(struct http_conn *hc, int close_after)
{
	conn_set_state(hc, CONN_IDLE);
	if (close_after) {
		shutdown(hc->fd, SHUT_WR);
		detached_close(hc);
	} else if (hc->input)
		detached_readopt(hc);
}

/* The Date header's value, taken once per second. */
static const char *
http_date(void)
{
	static char buf[64];
	static time_t last;
	time_t now = time(NULL);
	struct tm tm;

	if (now != last && gmtime_r(&now, &tm) != NULL) {
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return buf;
}

/* The head of r's reply as MHD would write it, into buf. Its length, or
 * 0 if it does not fit. */
static size_t
detached_head(const struct http_req *r, size_t body_len, int close_after, char *buf,
    size_t cap)
{
	const char *reason = MHD_get_reason_phrase_for((unsigned)r->status);
	char allow[96] = "", ra[40] = "";
	int n;

	if (r->allow[0] != '\0')
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", r->allow);
	if (r->retry_after > 0)
		snprintf(ra, sizeof(ra), "Retry-After: %u\r\n", r->retry_after);
	n = snprintf(buf, cap, "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n%s"
	    "X-Content-Type-Options: nosniff\r\n%s%s%s%s%s%sContent-Length: %zu\r\n\r\n",
	    r->status, reason != NULL ? reason : "", http_date(), r->reply_type, allow,
	    r->csp ? "Content-Security-Policy: " : "", r->csp ? r->csp : "",
	    r->csp ? "\r\nReferrer-Policy: no-referrer\r\nCache-Control: no-cache\r\n" : "",
	    close_after ? "Connection: close\r\n" : "",
	    r->auth_challenge ? "WWW-Authenticate: Bearer realm=\"loopd\"\r\n" : "", ra,
	    body_len);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

/* Keep what sendmsg did not take of iov (w bytes went) for EPOLLOUT:
 * the client's window is full. 0, or -1 if it cannot be kept. */
static int
detached_stash(struct http_conn *hc, const struct iovec *iov, size_t w)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	    .data.ptr = hc };
	size_t left = iov[0].iov_len + iov[1].iov_len - w, off = 0;

	if ((hc->out = malloc(left)) == NULL ||
	    epoll_ctl(server.gone_fd, EPOLL_CTL_MOD, hc->fd, &ev) == -1)
		return -1;
	for (int i = 0; i < 2; i++) {
		size_t skip = w < iov[i].iov_len ? w : iov[i].iov_len;
		memcpy(hc->out + off, (const char *)iov[i].iov_base + skip, iov[i].iov_len - skip);
		off += iov[i].iov_len - skip;
		w -= skip;
	}
	hc->out_len = left;
	hc->out_off = 0;
	return 0;
}

/* Send r's reply on its detached connection: one sendmsg, head and body. */
static void
detached_reply(struct http_req *r)
{
	struct http_conn *hc = r->dconn;
	int close_after = r->close || server.draining, err;
	size_t body_len, head_len;
	char head[1024];
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t w;

	if (hc == NULL || hc->dreq != r || hc->fd < 0)
		return;		/* cannot happen */
	hc->dreq = NULL;
	if (r->reply == NULL)
		http_reply_problem(r, 503, NULL, "no reply");
	body_len = r->reply ? strlen(r->reply) : 0;
	if ((head_len = detached_head(r, body_len, close_after, head, sizeof(head))) == 0) {
		r->status = 500;	/* headers too long: say so, plainly */
		r->retry_after = 0;
		r->allow[0] = '\0';
		r->csp = NULL;
		head_len = detached_head(r, body_len, 1, head, sizeof(head));
		close_after = 1;
	}
	iov[0] = (struct iovec){ head, head_len };
	iov[1] = (struct iovec){ r->reply, body_len };
	w = head_len > 0 ? sendmsg(hc->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) : -1;
	err = head_len > 0 ? errno : EINVAL;
	count_reply(r);
	log_debug("%s %s -> %d", r->method, r->path, r->status);
	if (r->hold_cleanup != NULL)
		r->hold_cleanup(r);
	r->hold_cleanup = NULL;
	if (w < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
		req_free(r);
		detached_close(hc);
		return;
	}
	if (w < 0)
		w = 0;
	if ((size_t)w < head_len + body_len) {
		err = detached_stash(hc, iov, (size_t)w);	/* iov holds r's reply */
		req_free(r);
		if (err == -1)
			detached_close(hc);
		else
			hc->input = hc->input || close_after;	/* see detached_event */
		return;
	}
	req_free(r);
	detached_done(hc, close_after);
}

/* Something happened on a detached connection (gone_cb). */
static void
detached_event(struct http_conn *hc, uint32_t events)
{
	int avail = 0;

	if (events & (EPOLLHUP | EPOLLERR)) {
		detached_close(hc);
		return;
	}
	if (events & EPOLLRDHUP) {
		/* The client is done sending: gone, unless a last request came
		 * before its end (then MHD answers it and closes). */
		if (hc->dreq != NULL || hc->out != NULL ||
		    ioctl(hc->fd, FIONREAD, &avail) == -1 || avail <= 0) {
			detached_close(hc);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLRDHUP))
		hc->input = 1;	/* it goes back to MHD once its reply is out */
	if (hc->out != NULL) {
		/* close_after was folded into input: MHD decides then. */
		if ((events & EPOLLOUT) && detached_flush(hc) == 1)
			detached_done(hc, 0);
		return;
	}
	if (hc->dreq == NULL && hc->input)
		detached_readopt(hc);
}

/* Hold r: suspend its connection until http_resume, watching it for a
 * hang-up meanwhile. */
static enum MHD_Result
access_hold(struct http_req *r)
{
	r->stage = STAGE_HELD;
	r->held = 1;
	LIST_INSERT_HEAD(&server.held, r, hold_link);
	server.n_held++;
	held_watch(r);
	MHD_suspend_connection(r->conn);
	return MHD_YES;
}

/* Whether a whole request should wait for MHD's next run: this run has
 * dispatched one already and used its time (RUN_US). Left without a reply,
 * the request stays on MHD's ready list, as one blocked for its commit
 * does, and MHD calls the handler again on its next run (on the next loop
 * turn: listener_run). Its connection's later requests stay behind it. */
static int
access_defer(void)
{
	if (server.run_until == 0 || server.run_served++ == 0 || clock_loop_now() < server.run_until)
		return 0;
	server.run_deferred = 1;
	return 1;
}

/* The whole request is in: dispatch it, then send its reply, wait for
 * the commit its 2xx needs, start its stream or hold it. */
static enum MHD_Result
access_dispatch(struct http_req *r)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	const char *cl = r->content_length;

	/* Its size on the wire, when it can be told (no chunked body). */
	if (ci != NULL && !r->has_te)
		r->wire_len = (int64_t)ci->header_size + (cl ? (int64_t)strtoull(cl, NULL, 10) : 0);
	conn_set_state(conn_of(r->conn), CONN_BUSY);	/* the body is in */
	if (r->too_large)
		http_reply_problem(r, 413, NULL, "body: larger than max_body (%zu bytes)",
		    server.limits.max_body);
	else if (server.draining) {
		http_reply_problem(r, 503, NULL, "loopd is shutting down");
		r->close = 1;
	} else
		server.hooks.dispatch(r);
	if (access_wait_commit(r))
		return MHD_YES;
	if (r->reply == NULL && r->stream_read != NULL)
		return stream_send(r);
	if (r->reply != NULL)
		return req_send(r);
	if (r->hold != NULL)
		return detach_ok(r) ? access_detach(r) : access_hold(r);
	http_reply_problem(r, 500, NULL, "no reply");
	return req_send(r);
}

/* MHD's request handler, called with the headers, with each piece of the
 * body, once the body is in, and again while a reply is pending (after a
 * resume, or while blocked for a commit). */
static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct http_req *r = *con_cls;
	size_t n;

	if (r == NULL)
		return access_begin(cls, conn, url, method, version, con_cls);
	if (*upload_size > 0) {
		n = *upload_size;
		*upload_size = 0;
		return access_upload(r, upload, n);
	}
	switch (r->stage) {
	case STAGE_NEW:
		if (access_defer())
			return MHD_YES;	/* MHD calls again on its next run */
		return access_dispatch(r);
	case STAGE_HELD:
	case STAGE_RELEASED:
		/* Resumed, or released by its commit: the reply is ready. */
		return r->reply != NULL ? req_send(r) : MHD_YES;
	default:
		return MHD_YES;	/* STAGE_COMMIT: still waiting for the commit */
	}
}

/* Take r off the resume queue (MHD closed its connection first). */
static void
resume_drop(struct http_req *r)
{
	TAILQ_REMOVE(&server.resume, r, resume_link);
	r->resume_queued = 0;
}

/* A request is over (replied, or the client went away). */
static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_req *r = *con_cls;
	struct http_conn *hc;

	if (r == NULL)
		return;
	*con_cls = NULL;
	if (r->detached) {
		/* MHD let go of the connection (access_detach): the request
		 * lives on, held on our side of it. */
		r->conn = NULL;
		server.n_live--;
		return;
	}
	if ((hc = conn_of(conn)) != NULL) {
		if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->wire_len >= 0)
			hc->rx_used += (uint64_t)r->wire_len;
		else
			hc->rx_unknown = 1;
	}
	conn_set_state(hc, CONN_IDLE);
	if (r->resume_queued)
		resume_drop(r);
	if (r->streaming) {
		if (hc != NULL && hc->stream == r)
			hc->stream = NULL;
		LIST_REMOVE(r, stream_link);
		r->streaming = 0;
		server.n_streams--;
	}
	held_unlink(r);
	if (r->hold_cleanup != NULL)
		r->hold_cleanup(r);
	server.n_live--;
	if (r->stage == STAGE_COMMIT) {
		/* Closed while waiting for its commit (a hang-up MHD saw, a
		 * timeout): the commit queue still holds it and frees it. */
		r->stage = STAGE_GONE;
		r->conn = NULL;
		server.n_blocked--;
		return;
	}
	req_free(r);
}

/* Free a request. */
static void
req_free(struct http_req *r)
{
	if (r == NULL)
		return;
	if (r->method != r->method_buf)
		free(r->method);
	if (r->path != r->path_buf)
		free(r->path);
	free(r->body);
	free(r->reply);
	free(r);
}

/* Route MHD's own messages to our log. */
static void __attribute__((format(printf, 2, 0)))
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("microhttpd: %s", msg);
}

/* Serve HTTP on l->fd, a listening socket: MHD in external epoll mode,
 * its epoll fd watched by the loop. */
static int
listener_start(struct http_listener *l, const char *what)
{
	const union MHD_DaemonInfo *info;
	const struct http_limits *lim = &server.limits;
	unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
	    MHD_USE_TURBO;
	int tls = server.tls_cert != NULL && !l->is_unix;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_LISTEN_SOCKET, l->fd, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, NULL },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)http_connection, l },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)((l->is_unix ? lim->max_unix_connections :
		    lim->max_connections + lim->max_admin_connections) + CONNECTION_SLACK), NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		    l->is_unix || lim->max_connections_per_ip == 0 ? 0 :
		    (intptr_t)(lim->max_connections_per_ip + lim->max_admin_connections +
		    CONNECTION_SLACK), NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)lim->idle_timeout, NULL },
		/* Per-connection pool for headers and buffers (bodies are
		 * streamed to us, replies are not copied into it). MHD zeroes
		 * it after every request, so its size is paid per request as
		 * well as per idle connection: 8 KiB, not MHD's 32, was worth
		 * 7% of POST throughput, and still takes 6 KiB of headers. */
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)(8 * 1024), NULL },
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)http_mhd_log, NULL },
		/* TLS (TCP only: a Unix socket's protection is its file mode). */
		{ tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, server.tls_cert },
		{ tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, server.tls_key },
		{ MHD_OPTION_END, 0, NULL },
	};

	if (tls)
		flags |= MHD_USE_TLS;
	l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, http_access, l,
	    MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (l->mhd == NULL) {
		log_warnx("listen %s: cannot start the HTTP server", what);
		return -1;
	}
	info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	l->io_ev = event_new(server.base, info->epoll_fd, EV_READ | EV_PERSIST, listener_cb, l);
	l->timer_ev = evtimer_new(server.base, listener_cb, l);
	/* MHD runs from the loop only (its epoll fd is readable as soon as a
	 * client connects): nothing is served while the daemon still starts. */
	if (l->io_ev == NULL || l->timer_ev == NULL || event_add(l->io_ev, NULL) == -1)
		return -1;
	return 0;
}

int
http_start(struct event_base *base, char **listen, const int *fds, size_t nfds,
    const struct http_limits *limits, const struct http_hooks *hooks)
{
	size_t n = 0;

	memset(&server, 0, sizeof(server));
	server.gone_fd = -1;
	server.base = base;
	server.limits = *limits;
	server.hooks = *hooks;
	LIST_INIT(&server.held);
	STAILQ_INIT(&server.commit);
	TAILQ_INIT(&server.resume);
	TAILQ_INIT(&server.conns);
	LIST_INIT(&server.streams);
	idmap_init(&server.per_addr);
	if ((server.sweep_ev = event_new(base, -1, EV_PERSIST, sweep_cb, NULL)) == NULL ||
	    event_add(server.sweep_ev, &(struct timeval){ 0, SWEEP_US }) == -1 ||
	    (server.sweep_more_ev = evtimer_new(base, sweep_cb, NULL)) == NULL ||
	    (server.kick_ev = event_new(base, -1, 0, kick_cb, NULL)) == NULL ||
	    (server.gone_fd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (server.gone_ev = event_new(base, server.gone_fd, EV_READ | EV_PERSIST, gone_cb,
	    NULL)) == NULL || event_add(server.gone_ev, NULL) == -1)
		return -1;
	if (limits->tls_cert != NULL && ((server.tls_cert = listen_read_pem(limits->tls_cert)) ==
	    NULL || (server.tls_key = listen_read_pem(limits->tls_key)) == NULL))
		return -1;
	while (listen != NULL && listen[n] != NULL)
		n++;
	if (nfds > 0)
		n = nfds;	/* sockets handed to us replace the listen key */
	if (n > MAX_LISTENERS) {
		log_warnx("listen: at most %d addresses", MAX_LISTENERS);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct http_listener *l = &server.listeners[server.n];
		char what[32];

		l->fd = -1;
		if (nfds > 0) {
			snprintf(what, sizeof(what), "fd %d", fds[i]);
			if (listen_inherit(fds[i], &l->is_unix) == -1)
				return -1;
			l->fd = fds[i];
			l->inherited = 1;
		} else if ((l->fd = listen_open(listen[i], server.tls_cert != NULL, &l->is_unix,
		    &l->unix_path)) == -1)
			return -1;
		server.n++;
		if (listener_start(l, nfds > 0 ? what : listen[i]) == -1)
			return -1;
	}
	return 0;
}

void
http_set_limits(const struct http_limits *limits)
{
	/* MHD's hard limits are fixed at start; ours (below them) apply
	 * now, to new connections. */
	server.limits.max_body = limits->max_body;
	server.limits.max_json_depth = limits->max_json_depth;
	server.limits.max_connections = limits->max_connections;
	server.limits.max_connections_per_ip = limits->max_connections_per_ip;
	server.limits.request_timeout = limits->request_timeout;
	server.limits.max_unix_connections = limits->max_unix_connections;
	/* MHD's hard limits, fixed at start, leave room for no more. */
	if (limits->max_admin_connections < server.limits.max_admin_connections)
		server.limits.max_admin_connections = limits->max_admin_connections;
}

const struct http_limits *
http_limits(void)
{
	return &server.limits;
}

/* Answer every held request with what it would get at its deadline. */
static void
http_expire_held(void)
{
	struct http_req *r;

	while ((r = LIST_FIRST(&server.held)) != NULL) {
		held_unlink(r);
		if (r->hold_expire != NULL)
			r->hold_expire(r);
		if (r->reply == NULL)
			http_reply_problem(r, 503, NULL, "loopd is shutting down");
		r->stage = STAGE_HELD;
		resume_later(r);
	}
}

void
http_quiesce(void)
{
	server.draining = 1;
	for (size_t i = 0; i < server.n; i++) {
		struct http_listener *l = &server.listeners[i];
		MHD_socket fd = l->mhd ? MHD_quiesce_daemon(l->mhd) : MHD_INVALID_SOCKET;
		if (fd != MHD_INVALID_SOCKET && fd == l->fd) {
			close(l->fd);
			l->fd = -1;
		}
		if (l->unix_path != NULL) {
			unlink(l->unix_path);
			free(l->unix_path);
			l->unix_path = NULL;
		}
	}
	http_expire_held();
	streams_end();
}

void
http_stop(void)
{
	int in_mhd;

	/* Every suspended connection gets its answer before MHD stops. */
	http_commit_done(1, UINT64_MAX);
	http_expire_held();
	streams_end();
	resume_some(0, 0, &in_mhd);
	for (size_t i = 0; i < server.n; i++) {
		struct http_listener *l = &server.listeners[i];
		/* Flush the replies just resumed, a bounded number of turns. */
		for (int turn = 0; l->mhd != NULL && turn < 50 && server.n_live > 0; turn++) {
			MHD_run(l->mhd);
			if (server.n_live > 0)
				usleep(2000);
		}
	}
	for (struct http_conn *hc = TAILQ_FIRST(&server.conns), *next; hc != NULL; hc = next) {
		next = TAILQ_NEXT(hc, link);
		if (hc->detached)
			detached_close(hc);	/* MHD has no part in them */
	}
	for (size_t i = 0; i < server.n; i++) {
		struct http_listener *l = &server.listeners[i];
		if (l->io_ev != NULL)
			event_free(l->io_ev);
		if (l->timer_ev != NULL)
			event_free(l->timer_ev);
		if (l->mhd != NULL)
			MHD_stop_daemon(l->mhd);
		if (l->fd != -1)
			close(l->fd);
		if (l->unix_path != NULL) {
			unlink(l->unix_path);
			free(l->unix_path);
		}
	}
	if (server.kick_ev != NULL)
		event_free(server.kick_ev);
	if (server.sweep_ev != NULL)
		event_free(server.sweep_ev);
	if (server.sweep_more_ev != NULL)
		event_free(server.sweep_more_ev);
	if (server.gone_ev != NULL)
		event_free(server.gone_ev);
	if (server.gone_fd != -1)
		close(server.gone_fd);
	if (server.tls_key != NULL)
		explicit_bzero(server.tls_key, strlen(server.tls_key));
	free(server.tls_key);
	free(server.tls_cert);
	idmap_free(&server.per_addr);
	memset(&server, 0, sizeof(server));
	server.gone_fd = -1;
}

void
http_reply_text(struct http_req *r, int status, const char *type, char *text)
{
	free(r->reply);
	r->status = status;
	r->reply_type = type;
	r->reply = text;
	if (r->reply == NULL) {
		/* Out of memory: an empty 503 is all that can be said. */
		r->status = 503;
		r->reply = strdup("");
	}
}

void
http_reply_json(struct http_req *r, int status, json_t *json)
{
	char *text = json ? proto_encode(json) : NULL;

	json_decref(json);
	http_reply_text(r, status, "application/json", text);
}

void
http_reply_problem(struct http_req *r, int status, const char *type, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	json_t *p;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if ((status == 429 || status == 503) && r->retry_after == 0)
		r->retry_after = 1;	/* a client may always try again later */
	p = proto_problem(status, type, detail);
	http_reply_text(r, status, "application/problem+json",
	    p ? proto_encode(p) : NULL);
	json_decref(p);
}

void
http_hold(struct http_req *r, void *hold, void (*expire)(struct http_req *),
    void (*cleanup)(struct http_req *))
{
	r->hold = hold;
	r->hold_expire = expire;
	r->hold_cleanup = cleanup;
}

void
http_resume(struct http_req *r)
{
	if (!r->held)
		return;
	held_unlink(r);
	resume_later(r);
}

void
http_stream(struct http_req *r, const char *type,
    ssize_t (*read)(struct http_req *, char *, size_t), void *arg,
    void (*cleanup)(struct http_req *))
{
	r->stream_read = read;
	r->stream_type = type;
	r->hold = arg;
	r->hold_cleanup = cleanup;
}

void
http_stream_wake(struct http_req *r)
{
	if (!r->stream_sleeping)
		return;
	r->stream_sleeping = 0;
	resume_later(r);
}

size_t
http_streams(void)
{
	return server.n_streams;
}

const char *
http_method(const struct http_req *r)
{
	return r->method;
}

const char *
http_path(const struct http_req *r)
{
	return r->path;
}

const char *
http_body(const struct http_req *r, size_t *len)
{
	*len = r->body_len;
	return r->body;
}

void
http_set_who(struct http_req *r, unsigned scopes, unsigned owner, const char *token_name)
{
	r->scopes = scopes;
	r->owner = owner;
	r->token_name = token_name;
}

unsigned
http_scopes(const struct http_req *r)
{
	return r->scopes;
}

unsigned
http_owner(const struct http_req *r)
{
	return r->owner;
}

const char *
http_token_name(const struct http_req *r)
{
	return r->token_name;
}

void
http_set_route(struct http_req *r, const char *pattern)
{
	r->route = pattern;
}

void
http_set_allow(struct http_req *r, const char *allow)
{
	snprintf(r->allow, sizeof(r->allow), "%s", allow);
}

void
http_set_retry_after(struct http_req *r, unsigned seconds)
{
	r->retry_after = seconds;
}

void
http_set_auth_challenge(struct http_req *r)
{
	r->auth_challenge = 1;
}

void
http_set_csp(struct http_req *r, const char *csp)
{
	r->csp = csp;
}

void *
http_hold_arg(const struct http_req *r)
{
	return r->hold;
}

void *
http_hold_take(struct http_req *r)
{
	void *hold = r->hold;

	r->hold = NULL;
	return hold;
}

int
http_has_connection(const struct http_req *r)
{
	return r->conn != NULL;
}

struct http_req *
http_detached(const char *method, size_t method_len, const char *path, size_t path_len,
    const char *body, size_t body_len)
{
	struct http_req *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->method = strndup(method, method_len)) == NULL ||
	    (r->path = strndup(path, path_len)) == NULL ||
	    (r->body = malloc(body_len + 1)) == NULL) {
		if (r != NULL)
			req_free(r);
		return NULL;
	}
	memcpy(r->body, body, body_len);
	r->body[body_len] = '\0';
	r->body_len = body_len;
	return r;
}

int
http_reply_status(const struct http_req *r)
{
	return r->reply != NULL ? r->status : 0;
}

void
http_detached_free(struct http_req *r)
{
	if (r == NULL)
		return;
	if (r->hold != NULL && r->hold_cleanup != NULL)
		r->hold_cleanup(r);
	req_free(r);
}

/* Requests without a connection come from the fuzzer (tests/fuzz/):
 * they have no headers and no query. */

const char *
http_header(struct http_req *r, const char *name)
{
	if (r->conn == NULL)
		return NULL;
	/* A name the request has not got: no search. */
	if (r->hdr_all && (r->hdr_names & hdr_bit(name, strlen(name))) == 0)
		return NULL;
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
http_query(struct http_req *r, const char *name)
{
	return r->conn ? MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name) :
	    NULL;
}

struct unknown_arg {
	const char *const *known;
	const char *found;
};

/* MHD_get_connection_values callback: stop at the first unknown name. */
static enum MHD_Result
query_check(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct unknown_arg *u = cls;

	for (size_t i = 0; u->known[i] != NULL; i++)
		if (strcmp(key, u->known[i]) == 0)
			return MHD_YES;
	u->found = key;
	return MHD_NO;
}

const char *
http_query_unknown(struct http_req *r, const char *const *known)
{
	struct unknown_arg u = { known, NULL };

	if (r->conn == NULL)
		return NULL;
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_check, &u);
	return u.found;
}

int
http_is_local_socket(struct http_req *r)
{
	return r->listener == NULL || r->listener->is_unix;
}

void
http_set_created(struct http_req *r)
{
	r->created = 1;
}

void
http_commit_done(int ok, uint64_t seq)
{
	struct req_fifo kept = STAILQ_HEAD_INITIALIZER(kept);
	struct http_req *r;

	/* Commits end in order and requests wait in order. After a failed
	 * commit a 503 must mean "nothing happened": an object created by
	 * the request (its handler said so: http_set_created) was dropped, so it gets
	 * one; a change to a stored object stays in memory and the store's
	 * retry writes it, so its reply waits for that commit instead
	 * (issue 12). */
	while ((r = STAILQ_FIRST(&server.commit)) != NULL && r->commit_seq <= seq) {
		STAILQ_REMOVE_HEAD(&server.commit, commit_link);
		if (r->stage == STAGE_GONE) {
			req_free(r);
			continue;
		}
		if (!ok && strcmp(r->method, "GET") != 0) {
			if (!r->created) {
				STAILQ_INSERT_TAIL(&kept, r, commit_link);
				continue;
			}
			http_reply_problem(r, 503, NULL, "the change was not saved: %s",
			    server.hooks.commit_why ? server.hooks.commit_why() : "store error");
		}
		/* MHD calls the handler of a blocked request on its next run:
		 * the kick below (one for the whole batch, no system call per
		 * request). */
		r->stage = STAGE_RELEASED;
		server.n_blocked--;
		server.released = 1;
	}
	if (server.released && server.kick_ev != NULL)
		event_active(server.kick_ev, 0, 0);
	if (!STAILQ_EMPTY(&kept)) {
		/* Back at the head, in order: the next commit releases them. */
		STAILQ_CONCAT(&kept, &server.commit);
		STAILQ_CONCAT(&server.commit, &kept);
	}
}

size_t
http_held(void)
{
	return server.n_held;
}

void
http_foreach_listener(void (*fn)(const char *url, void *arg), void *arg)
{
	char url[256];

	for (size_t i = 0; i < server.n; i++) {
		struct http_listener *l = &server.listeners[i];

		if (listen_url(l->fd, l->unix_path, server.tls_cert != NULL, url, sizeof(url)) == 0)
			fn(url, arg);
	}
}
