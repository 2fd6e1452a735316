/*
 * server: listeners, request contexts, replies and held requests.
 *
 * Connections are kept in one list, oldest first, each in a state:
 * receiving a request (or none yet), busy with one (handled, held,
 * replying) or idle between requests. A request must be in within
 * request_timeout of its first byte (a sweep every SWEEP_US cuts slower
 * ones); near max_connections new TCP connections push out idle ones,
 * then the slowest senders. MHD 0.9.75 has no call to close a connection,
 * so we shut its socket down and MHD closes it on its next run. Unix
 * sockets are counted apart (max_unix_connections).
 */
#include "daemon/http/server.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

#include "daemon/core/idmap.h"
#include "daemon/log.h"
#include "proto/codec.h"

#define MAX_LISTENERS 8
/* MHD's own hard limits sit this far above ours, so that a connection over
 * our limit is still accepted and told why (503), not silently dropped. */
#define CONNECTION_SLACK 64
/* Replies resumed per loop turn (see kick_cb): the first slice, and the
 * bounds of the slice sized to take about SLICE_US. */
#define RESUME_SLICE 128
#define SLICE_MIN 32
#define SLICE_MAX 2048
#define SLICE_US 500
/* How often connections are checked against request_timeout. */
#define SWEEP_US 500000
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
	struct http_req *held;		/* doubly-linked list of held requests */
	struct http_req *commit_head;	/* replies waiting for a commit, FIFO */
	struct http_req **commit_tail;
	struct http_req *resume_head;	/* answered, to hand back to MHD, FIFO */
	struct http_req **resume_tail;
	size_t n_held;
	size_t slice;			/* resumes per kick, sized to SLICE_US */
	size_t n_blocked;		/* STAGE_COMMIT: left blocked in MHD */
	int released;			/* replies released since the last kick */
	size_t n_live;			/* requests between start and completion */
	size_t n_conns;			/* open connections, all listeners */
	int draining;			/* http_quiesce was called */
	struct idmap per_addr;		/* client address hash -> open connections */
	struct http_conn *conns;	/* every connection, oldest first */
	struct http_conn **conns_tail;
	size_t n_tcp, n_unix;		/* open, per kind of listener */
	size_t n_tcp_cut;		/* TCP ones we shut down, not yet closed */
	struct event *sweep_ev;		/* request_timeout, every SWEEP_US */
	uint64_t n_cut_slow;		/* closed: request_timeout passed */
	uint64_t n_evicted_idle;	/* closed: idle, to make room */
	uint64_t n_evicted_slow;	/* closed: still sending, to make room */
	struct http_req *streams;	/* open streamed replies */
	size_t n_streams;
} hs = { .gone_fd = -1, .conns_tail = &hs.conns };

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
	return hs.n_conns;
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
	int registered;			/* in hs.gone_fd's set */
	int armed;			/* ... and not fired since (one-shot) */
	struct http_req *held;		/* the request held on it, or NULL */
	struct http_req *stream;	/* the stream it carries, or NULL */
	struct http_conn *next, **prevp;	/* hs.conns */
	int is_unix;
	int cut;			/* shut down by us; MHD closes it next */
	enum conn_state state;
	int64_t since;			/* when state began (monotonic us) */
	uint64_t rx_base;		/* CONN_IDLE: bytes received by the first
					 * sweep that saw it idle */
	int rx_sampled;			/* ... rx_base is taken */
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
	if (!hc->is_unix)
		hs.n_tcp_cut++;
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

	for (hc = hs.conns; hc != NULL; hc = hc->next) {
		if (hc == except || hc->cut || hc->is_unix)
			continue;
		if (hc->state == CONN_IDLE && (idle == NULL || hc->since < idle->since))
			idle = hc;
		else if (hc->state == CONN_RECEIVING && now - hc->since > EVICT_AFTER_US &&
		    (slow == NULL || hc->since < slow->since))
			slow = hc;
	}
	if (idle != NULL) {
		conn_cut(idle);
		hs.n_evicted_idle++;
		return 1;
	}
	if (slow != NULL && !only_idle) {
		conn_cut(slow);
		hs.n_evicted_slow++;
		return 1;
	}
	return 0;
}

/* Every SWEEP_US: cut connections whose request is not in after
 * request_timeout; notice idle ones that started a new request. */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = mono_us(), limit = hs.limits.request_timeout;
	struct http_conn *hc;

	for (hc = hs.conns; hc != NULL && limit > 0; hc = hc->next) {
		if (hc->cut || hc->is_unix)
			continue;
		if (hc->state == CONN_IDLE && !hc->rx_sampled) {
			/* Taken here, not when the reply went out: that was a
			 * getsockopt per request (issue 18). A request begun
			 * before this sweep and then left unfinished is seen
			 * once its next byte comes, or closed by idle_timeout
			 * (and it goes first as idle when room is needed). */
			hc->rx_base = tcp_rx(hc->fd);
			hc->rx_sampled = 1;
		} else if (hc->state == CONN_IDLE && tcp_rx(hc->fd) != hc->rx_base) {
			hc->state = CONN_RECEIVING;	/* the next request began */
			hc->since = now;
		} else if (hc->state == CONN_RECEIVING && hc->over != NULL &&
		    now - hc->since > EVICT_AFTER_US) {
			conn_cut(hc);		/* its 503 is all it would get */
			hs.n_evicted_slow++;
		} else if (hc->state == CONN_RECEIVING && now - hc->since > limit) {
			log_debug("http: closing a connection whose request was not in "
			    "after request_timeout");
			conn_cut(hc);
			hs.n_cut_slow++;
		}
	}
}

void
http_conn_counts(uint64_t *cut_slow, uint64_t *evicted_idle, uint64_t *evicted_slow)
{
	*cut_slow = hs.n_cut_slow;
	*evicted_idle = hs.n_evicted_idle;
	*evicted_slow = hs.n_evicted_slow;
}

/* Run one listener's MHD and re-arm its timer. */
static void
listener_run(struct http_listener *l)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (l->mhd == NULL)
		return;
	MHD_run(l->mhd);
	if (MHD_get_timeout(l->mhd, &ms) == MHD_YES) {
		struct timeval tv;

		if (ms == 0 && hs.n_blocked > 0)
			ms = 1;		/* see listener_cb */
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

/* Queue a suspended request whose reply is ready for resuming. */
static void
resume_later(struct http_req *r)
{
	if (r->resume_queued)
		return;
	r->resume_queued = 1;
	r->resume_next = NULL;
	*hs.resume_tail = r;
	hs.resume_tail = &r->resume_next;
	event_active(hs.kick_ev, 0, 0);
}

/* Hand up to max queued requests back to MHD (0: all). Returns how many
 * are still queued. */
static size_t
resume_some(size_t max)
{
	struct http_req *r;

	for (size_t n = 0; (r = hs.resume_head) != NULL && (max == 0 || n < max); n++) {
		if ((hs.resume_head = r->resume_next) == NULL)
			hs.resume_tail = &hs.resume_head;
		r->resume_next = NULL;
		r->resume_queued = 0;
		MHD_resume_connection(r->conn);
	}
	return hs.resume_head != NULL;
}

/* Resume a slice of the queued replies and run every listener (MHD does
 * not notice resumes alone). A result that wakes ten thousand waiters is
 * sent a slice at a time (RESUME_SLICE first, then as many as take about
 * SLICE_US), each slice on its own loop turn: the first waiters hear at
 * once instead of after the last one is resumed, and timers and new
 * requests are served between slices. */
static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	size_t queued = 0, slice = hs.slice ? hs.slice : RESUME_SLICE;
	int64_t t0, took;
	int more;

	if (hs.released) {
		/* Replies a commit released go first, ahead of any slice of
		 * woken waiters: MHD calls a blocked request's handler from its
		 * ready list on one run and writes the reply it queued (outside
		 * MHD's read path) on the next. */
		hs.released = 0;
		for (int run = 0; run < 2; run++)
			for (size_t i = 0; i < hs.n; i++)
				listener_run(&hs.listeners[i]);
	}
	t0 = mono_us();
	for (struct http_req *q = hs.resume_head; q != NULL && queued < slice; q = q->resume_next)
		queued++;
	if (queued == 0)
		return;
	more = resume_some(slice) > 0;
	for (size_t i = 0; i < hs.n; i++)
		listener_run(&hs.listeners[i]);
	/* Size the next slice so that one takes about SLICE_US: a due timer
	 * waits for at most one slice. */
	took = mono_us() - t0;
	if (queued >= SLICE_MIN && took > 0) {
		size_t fit = (size_t)((int64_t)queued * SLICE_US / took);
		hs.slice = fit < SLICE_MIN ? SLICE_MIN : fit > SLICE_MAX ? SLICE_MAX : fit;
	}
	/* The next slice on a zero timer, not event_active: libevent runs
	 * what a callback activates in the same pass, before timers and I/O,
	 * so ten thousand replies would go out with timers held back. */
	if (more) {
		struct timeval zero = { 0, 0 };
		evtimer_add(hs.kick_ev, &zero);
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
	if (r->hold_prev != NULL)
		r->hold_prev->hold_next = r->hold_next;
	else
		hs.held = r->hold_next;
	if (r->hold_next != NULL)
		r->hold_next->hold_prev = r->hold_prev;
	r->hold_next = r->hold_prev = NULL;
	r->held = 0;
	hs.n_held--;
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

/* Hang-ups on held connections (hs.gone_fd is readable). */
static void
gone_cb(evutil_socket_t fd, short what, void *arg)
{
	struct epoll_event ev[64];
	int n = epoll_wait(hs.gone_fd, ev, 64, 0);

	for (int i = 0; i < n; i++) {
		struct http_conn *hc = ev[i].data.ptr;
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

	if (hc == NULL || hc->fd < 0 || hs.gone_fd < 0)
		return;
	hc->held = r;
	r->hc = hc;
	if (hc->armed)
		return;
	ev.data.ptr = hc;
	if (epoll_ctl(hs.gone_fd, hc->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, hc->fd,
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

/* MHD tells us of each connection opening and closing: count them in
 * total and per client address, and mark the ones over a limit. */
static void
http_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct http_conn *hc = *socket_context;
	const union MHD_ConnectionInfo *ci;
	uintptr_t n;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct http_listener *l = cls;
		int64_t now = mono_us();
		size_t live;

		if ((hc = calloc(1, sizeof(*hc))) == NULL)
			return;
		*socket_context = hc;
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		hc->fd = ci ? ci->connect_fd : -1;
		hc->is_unix = l != NULL && l->is_unix;
		hc->state = CONN_RECEIVING;
		hc->since = now;
		hc->prevp = hs.conns_tail;
		*hs.conns_tail = hc;
		hs.conns_tail = &hc->next;
		hs.n_conns++;
		if (hc->is_unix) {
			/* The Unix socket has a budget of its own: an operator
			 * gets in however busy TCP is. */
			if (++hs.n_unix > hs.limits.max_unix_connections)
				hc->over = "too many connections on the Unix socket "
				    "(max_unix_connections)";
			return;
		}
		hs.n_tcp++;
		/* Near the limit, idle keep-alive connections go first; at
		 * it, the one slowest to send its request. */
		live = hs.n_tcp - hs.n_tcp_cut;
		if (live > hs.limits.max_connections - hs.limits.max_connections / 10)
			conn_evict(hc, 1, now);
		live = hs.n_tcp - hs.n_tcp_cut;
		if (live > hs.limits.max_connections && !conn_evict(hc, 0, now))
			hc->over = "too many connections (max_connections)";
		if ((hc->addr = conn_addr_key(conn)) != 0) {
			n = (uintptr_t)idmap_get(&hs.per_addr, hc->addr) + 1;
			if (idmap_put(&hs.per_addr, hc->addr, (void *)n) == -1)
				hc->addr = 0;
			else if (hs.limits.max_connections_per_ip != 0 &&
			    n > hs.limits.max_connections_per_ip)
				hc->over = "too many connections from your address "
				    "(max_connections_per_ip)";
		}
		return;
	}
	if (hc == NULL)
		return;
	if (hc->held != NULL)
		hc->held->hc = NULL;
	if (hc->stream != NULL)
		hc->stream = NULL;
	if (hc->registered)
		epoll_ctl(hs.gone_fd, EPOLL_CTL_DEL, hc->fd, NULL);
	hs.n_conns--;
	if (hc->is_unix)
		hs.n_unix--;
	else {
		hs.n_tcp--;
		if (hc->cut)
			hs.n_tcp_cut--;
	}
	if ((*hc->prevp = hc->next) != NULL)
		hc->next->prevp = hc->prevp;
	else
		hs.conns_tail = hc->prevp;
	if (hc->addr != 0) {
		n = (uintptr_t)idmap_get(&hs.per_addr, hc->addr);
		if (n <= 1)
			idmap_del(&hs.per_addr, hc->addr);
		else
			idmap_put(&hs.per_addr, hc->addr, (void *)(n - 1));
	}
	free(hc);
	*socket_context = NULL;
}

/* Why conn is over a connection limit, or NULL. */
static const char *
conn_over(struct MHD_Connection *conn)
{
	const struct http_conn *hc = conn_of(conn);

	return hc ? hc->over : NULL;
}

/* MHD_get_connection_values_n: note a header whose name or value holds a
 * NUL byte. */
static enum MHD_Result
header_nul_cb(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
    const char *value, size_t value_size)
{
	const char **bad = cls;
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
		*bad = key;
		return MHD_NO;
	}
	return MHD_YES;
}

/* Why the request's headers are refused before anything else, or NULL:
 * a NUL byte in a header, or Content-Length together with
 * Transfer-Encoding (RFC 9112 §6.3: a message that a proxy in front of
 * loopd might frame differently, the root of request smuggling). */
static const char *
request_framing_bad(struct MHD_Connection *conn)
{
	static char why[200];
	const char *bad = NULL;

	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, header_nul_cb, &bad);
	if (bad != NULL) {
		snprintf(why, sizeof(why), "%.80s: a header must not contain a NUL byte (and "
		    "must end with CR LF)", bad);
		return why;
	}
	if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH) != NULL &&
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
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
	if ((r->stream_next = hs.streams) != NULL)
		hs.streams->stream_prevp = &r->stream_next;
	r->stream_prevp = &hs.streams;
	hs.streams = r;
	hs.n_streams++;
	if (hc != NULL && hc->fd >= 0 && hs.gone_fd >= 0 && hc->held == NULL) {
		hc->stream = r;
		ev.data.ptr = hc;
		if (!hc->armed && epoll_ctl(hs.gone_fd, hc->registered ? EPOLL_CTL_MOD :
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
	for (struct http_req *r = hs.streams; r != NULL; r = r->stream_next) {
		r->stream_end = 1;
		http_stream_wake(r);
	}
}

/* MHD's request handler: collect the body, dispatch on the last call,
 * send a held request's reply when it is resumed. */
static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct http_req *r = *con_cls;
	struct http_conn *hc;

	if (r == NULL) {
		const char *cl, *why;

		if ((r = calloc(1, sizeof(*r))) == NULL ||
		    (r->method = strdup(method)) == NULL || (r->path = strdup(url)) == NULL) {
			if (r != NULL)
				free(r->method);
			free(r);
			return MHD_NO;
		}
		r->conn = conn;
		r->listener = cls;
		*con_cls = r;
		hs.n_live++;
		/* Headers are in; the body is still to come. A request that
		 * was pipelined behind the last one starts its clock now. */
		if ((hc = conn_of(conn)) != NULL && hc->state == CONN_IDLE)
			conn_set_state(hc, CONN_RECEIVING);
		/* A declared body over the limit is refused before it is read
		 * (the connection closes, which is what we want then). */
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > hs.limits.max_body) {
			http_reply_problem(r, 413, NULL, "body: larger than max_body (%zu bytes)",
			    hs.limits.max_body);
			return req_send(r);
		}
		if ((why = conn_over(conn)) != NULL) {
			http_reply_problem(r, 503, NULL, "%s", why);
			r->close = 1;
			return req_send(r);
		}
		if ((why = request_framing_bad(conn)) != NULL) {
			http_reply_problem(r, 400, NULL, "%s", why);
			r->close = 1;
			return req_send(r);
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (r->too_large || r->stage != STAGE_NEW)
			return MHD_YES;
		if (r->body_len + n > hs.limits.max_body) {
			r->too_large = 1;
			free(r->body);
			r->body = NULL;
			r->body_len = 0;
			return MHD_YES;
		}
		char *b = realloc(r->body, r->body_len + n + 1);
		if (b == NULL)
			return MHD_NO;
		memcpy(b + r->body_len, upload, n);
		r->body = b;
		r->body_len += n;
		b[r->body_len] = '\0';
		return MHD_YES;
	}
	switch (r->stage) {
	case STAGE_NEW:
		conn_set_state(conn_of(conn), CONN_BUSY);	/* the body is in */
		if (r->too_large)
			http_reply_problem(r, 413, NULL, "body: larger than max_body (%zu bytes)",
			    hs.limits.max_body);
		else if (hs.draining) {
			http_reply_problem(r, 503, NULL, "loopd is shutting down");
			r->close = 1;
		} else
			hs.hooks.dispatch(r);
		if (r->reply != NULL && r->status < 300 && hs.hooks.commit_pending != NULL &&
		    (r->commit_seq = hs.hooks.commit_pending()) != 0) {
			/* Acknowledge only what is on disk: wait for the commit
			 * that will hold what this request saw or did. The
			 * connection is not suspended (that costs two epoll_ctl
			 * and a recvfrom per request): returning without a reply
			 * leaves it blocked in MHD, which calls us again on each
			 * run until http_commit_done releases it. MHD reads no
			 * further request from it meanwhile, so pipelined
			 * requests keep their order. */
			r->stage = STAGE_COMMIT;
			r->commit_next = NULL;
			*hs.commit_tail = r;
			hs.commit_tail = &r->commit_next;
			hs.n_blocked++;
			return MHD_YES;
		}
		if (r->reply == NULL && r->stream_read != NULL)
			return stream_send(r);
		if (r->reply != NULL)
			return req_send(r);
		if (r->hold != NULL) {
			r->stage = STAGE_HELD;
			r->held = 1;
			r->hold_next = hs.held;
			if (hs.held != NULL)
				hs.held->hold_prev = r;
			hs.held = r;
			hs.n_held++;
			held_watch(r);
			MHD_suspend_connection(conn);
			return MHD_YES;
		}
		http_reply_problem(r, 500, NULL, "no reply");
		return req_send(r);
	case STAGE_HELD:
	case STAGE_RELEASED:
		if (r->reply != NULL)
			return req_send(r);
		return MHD_YES;
	case STAGE_COMMIT:
		return MHD_YES;		/* still waiting for the commit */
	default:
		return MHD_YES;
	}
}

/* Take r off the resume queue (MHD closed its connection first). */
static void
resume_drop(struct http_req *r)
{
	struct http_req **pp = &hs.resume_head;

	while (*pp != NULL && *pp != r)
		pp = &(*pp)->resume_next;
	if (*pp == NULL)
		return;
	if ((*pp = r->resume_next) == NULL)
		hs.resume_tail = pp;
	r->resume_queued = 0;
}

/* A request is over (replied, or the client went away). */
static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_req *r = *con_cls;

	if (r == NULL)
		return;
	*con_cls = NULL;
	conn_set_state(conn_of(conn), CONN_IDLE);
	if (r->resume_queued)
		resume_drop(r);
	if (r->stream_prevp != NULL) {
		struct http_conn *hc = conn_of(conn);
		if (hc != NULL && hc->stream == r)
			hc->stream = NULL;
		if ((*r->stream_prevp = r->stream_next) != NULL)
			r->stream_next->stream_prevp = r->stream_prevp;
		hs.n_streams--;
	}
	held_unlink(r);
	if (r->hold_cleanup != NULL)
		r->hold_cleanup(r);
	hs.n_live--;
	if (r->stage == STAGE_COMMIT) {
		/* Closed while waiting for its commit (a hang-up MHD saw, a
		 * timeout): the commit queue still holds it and frees it. */
		r->stage = STAGE_GONE;
		r->conn = NULL;
		hs.n_blocked--;
		return;
	}
	req_free(r);
}

/* Free a request. */
static void
req_free(struct http_req *r)
{
	free(r->method);
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

/* Open a listening socket for one address. Returns the fd or -1. */
static int
listen_socket(const char *addr, struct http_listener *l)
{
	char host[256], port[16], shown[300];
	struct addrinfo hints, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *colon;
	int fd = -1, one = 1, e;

	if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		const char *path = addr + 5;
		mode_t old;

		if (*path != '/' || strlen(path) >= sizeof(sun.sun_path)) {
			log_warnx("listen %s: need an absolute path shorter than %zu bytes", addr,
			    sizeof(sun.sun_path));
			return -1;
		}
		strcpy(sun.sun_path, path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
			return -1;
		unlink(path);
		old = umask(0117);	/* 0660: the file mode is the access control */
		e = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
		umask(old);
		if (e == -1 || listen(fd, 1024) == -1) {
			log_warn("listen %s", addr);
			close(fd);
			return -1;
		}
		l->is_unix = 1;
		l->unix_path = strdup(path);
		log_info("listening on unix:%s", path);
		return fd;
	}
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - addr - 1) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(end - addr - 1), addr + 1);
		colon = end + 1;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL || (size_t)(colon - addr) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	}
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(port) ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		goto bad;
	snprintf(port, sizeof(port), "%s", colon + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_warnx("listen %s: %s", addr, gai_strerror(e));
		return -1;
	}
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 || listen(fd, 1024) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
		log_warn("listen %s", addr);
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(shown, sizeof(shown), "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(shown, sizeof(shown), "%s:%u", a, ntohs(s4->sin_port));
	}
	log_info("listening on %s://%s", hs.tls_cert != NULL ? "https" : "http", shown);
	return fd;
bad:
	log_warnx("listen %s: expected HOST:PORT, [ADDR]:PORT or unix:PATH", addr);
	return -1;
}

/* Serve HTTP on l->fd, a listening socket: MHD in external epoll mode,
 * its epoll fd watched by the loop. */
static int
listener_start(struct http_listener *l, const char *what)
{
	const union MHD_DaemonInfo *info;
	const struct http_limits *lim = &hs.limits;
	unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
	    MHD_USE_TURBO;
	int tls = hs.tls_cert != NULL && !l->is_unix;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_LISTEN_SOCKET, l->fd, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, NULL },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)http_connection, l },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)((l->is_unix ? lim->max_unix_connections :
		    lim->max_connections) + CONNECTION_SLACK), NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		    l->is_unix || lim->max_connections_per_ip == 0 ? 0 :
		    (intptr_t)(lim->max_connections_per_ip + CONNECTION_SLACK), NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)lim->idle_timeout, NULL },
		/* Per-connection pool for headers and buffers (bodies are
		 * streamed to us, replies are not copied into it). MHD zeroes
		 * it after every request, so its size is paid per request as
		 * well as per idle connection: 8 KiB, not MHD's 32, was worth
		 * 7% of POST throughput, and still takes 6 KiB of headers. */
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)(8 * 1024), NULL },
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)http_mhd_log, NULL },
		/* TLS (TCP only: a Unix socket's protection is its file mode). */
		{ tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, hs.tls_cert },
		{ tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, hs.tls_key },
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
	l->io_ev = event_new(hs.base, info->epoll_fd, EV_READ | EV_PERSIST, listener_cb, l);
	l->timer_ev = evtimer_new(hs.base, listener_cb, l);
	/* MHD runs from the loop only (its epoll fd is readable as soon as a
	 * client connects): nothing is served while the daemon still starts. */
	if (l->io_ev == NULL || l->timer_ev == NULL || event_add(l->io_ev, NULL) == -1)
		return -1;
	return 0;
}

/* Read a whole PEM file; NULL (logged) on error. */
static char *
read_pem(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, n;

	if (f == NULL) {
		log_warn("%s", path);
		return NULL;
	}
	for (;;) {
		char *b = realloc(buf, len + 4097);
		if (b == NULL)
			break;
		buf = b;
		if ((n = fread(buf + len, 1, 4096, f)) == 0)
			break;
		len += n;
		if (len > 1 << 20)
			break;
	}
	fclose(f);
	if (buf == NULL || len == 0 || len > 1 << 20) {
		log_warnx("%s: not a PEM file of a reasonable size", path);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* Take a listening socket we were handed (systemd socket activation). */
static int
listener_inherit(struct http_listener *l, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int flags;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
		log_warn("inherited socket %d", fd);
		return -1;
	}
	l->is_unix = ss.ss_family == AF_UNIX;
	if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("inherited socket %d", fd);
		return -1;
	}
	l->fd = fd;
	l->inherited = 1;
	log_info("listening on socket %d from the service manager (%s)", fd,
	    l->is_unix ? "unix" : "tcp");
	return 0;
}

int
http_start(struct event_base *base, char **listen, const int *fds, size_t nfds,
    const struct http_limits *limits, const struct http_hooks *hooks)
{
	size_t n = 0;

	memset(&hs, 0, sizeof(hs));
	hs.gone_fd = -1;
	hs.base = base;
	hs.limits = *limits;
	hs.hooks = *hooks;
	hs.commit_tail = &hs.commit_head;
	hs.resume_tail = &hs.resume_head;
	hs.conns_tail = &hs.conns;
	idmap_init(&hs.per_addr);
	if ((hs.sweep_ev = event_new(base, -1, EV_PERSIST, sweep_cb, NULL)) == NULL ||
	    event_add(hs.sweep_ev, &(struct timeval){ 0, SWEEP_US }) == -1 ||
	    (hs.kick_ev = event_new(base, -1, 0, kick_cb, NULL)) == NULL ||
	    (hs.gone_fd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (hs.gone_ev = event_new(base, hs.gone_fd, EV_READ | EV_PERSIST, gone_cb,
	    NULL)) == NULL || event_add(hs.gone_ev, NULL) == -1)
		return -1;
	if (limits->tls_cert != NULL && ((hs.tls_cert = read_pem(limits->tls_cert)) == NULL ||
	    (hs.tls_key = read_pem(limits->tls_key)) == NULL))
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
		struct http_listener *l = &hs.listeners[hs.n];
		char what[32];

		l->fd = -1;
		if (nfds > 0) {
			snprintf(what, sizeof(what), "fd %d", fds[i]);
			if (listener_inherit(l, fds[i]) == -1)
				return -1;
		} else if ((l->fd = listen_socket(listen[i], l)) == -1)
			return -1;
		hs.n++;
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
	hs.limits.max_body = limits->max_body;
	hs.limits.max_json_depth = limits->max_json_depth;
	hs.limits.max_connections = limits->max_connections;
	hs.limits.max_connections_per_ip = limits->max_connections_per_ip;
	hs.limits.request_timeout = limits->request_timeout;
	hs.limits.max_unix_connections = limits->max_unix_connections;
}

const struct http_limits *
http_limits(void)
{
	return &hs.limits;
}

/* Answer every held request with what it would get at its deadline. */
static void
http_expire_held(void)
{
	while (hs.held != NULL) {
		struct http_req *r = hs.held;
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
	hs.draining = 1;
	for (size_t i = 0; i < hs.n; i++) {
		struct http_listener *l = &hs.listeners[i];
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
	/* Every suspended connection gets its answer before MHD stops. */
	http_commit_done(1, UINT64_MAX);
	http_expire_held();
	streams_end();
	resume_some(0);
	for (size_t i = 0; i < hs.n; i++) {
		struct http_listener *l = &hs.listeners[i];
		/* Flush the replies just resumed, a bounded number of turns. */
		for (int turn = 0; l->mhd != NULL && turn < 50 && hs.n_live > 0; turn++) {
			MHD_run(l->mhd);
			if (hs.n_live > 0)
				usleep(2000);
		}
	}
	for (size_t i = 0; i < hs.n; i++) {
		struct http_listener *l = &hs.listeners[i];
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
	if (hs.kick_ev != NULL)
		event_free(hs.kick_ev);
	if (hs.sweep_ev != NULL)
		event_free(hs.sweep_ev);
	if (hs.gone_ev != NULL)
		event_free(hs.gone_ev);
	if (hs.gone_fd != -1)
		close(hs.gone_fd);
	if (hs.tls_key != NULL)
		explicit_bzero(hs.tls_key, strlen(hs.tls_key));
	free(hs.tls_key);
	free(hs.tls_cert);
	idmap_free(&hs.per_addr);
	memset(&hs, 0, sizeof(hs));
	hs.gone_fd = -1;
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
	return hs.n_streams;
}

/* Requests without a connection come from the fuzzer (tests/fuzz/):
 * they have no headers and no query. */

const char *
http_header(struct http_req *r, const char *name)
{
	return r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name) : NULL;
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
	struct http_req *r, *kept = NULL, **kept_tail = &kept;

	/* Commits end in order and requests wait in order. After a failed
	 * commit a 503 must mean "nothing happened": an object created by
	 * the request (a 201, or http_set_created) was dropped, so it gets
	 * one; a change to a stored object stays in memory and the store's
	 * retry writes it, so its reply waits for that commit instead
	 * (issue 12). */
	while ((r = hs.commit_head) != NULL && r->commit_seq <= seq) {
		if ((hs.commit_head = r->commit_next) == NULL)
			hs.commit_tail = &hs.commit_head;
		r->commit_next = NULL;
		if (r->stage == STAGE_GONE) {
			req_free(r);
			continue;
		}
		if (!ok && strcmp(r->method, "GET") != 0) {
			if (r->status != 201 && !r->created) {
				*kept_tail = r;
				kept_tail = &r->commit_next;
				continue;
			}
			http_reply_problem(r, 503, NULL, "the change was not saved: %s",
			    hs.hooks.commit_why ? hs.hooks.commit_why() : "store error");
		}
		/* MHD calls the handler of a blocked request on its next run:
		 * the kick below (one for the whole batch, no system call per
		 * request). */
		r->stage = STAGE_RELEASED;
		hs.n_blocked--;
		hs.released = 1;
	}
	if (hs.released && hs.kick_ev != NULL)
		event_active(hs.kick_ev, 0, 0);
	if (kept != NULL) {
		/* Back at the head, in order: the next commit releases them. */
		*kept_tail = hs.commit_head;
		if (hs.commit_head == NULL)
			hs.commit_tail = kept_tail;
		hs.commit_head = kept;
	}
}

size_t
http_held(void)
{
	return hs.n_held;
}

void
http_foreach_listener(void (*fn)(const char *url, void *arg), void *arg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char url[256], a[INET6_ADDRSTRLEN];
	const char *scheme = hs.tls_cert != NULL ? "https" : "http";

	for (size_t i = 0; i < hs.n; i++) {
		struct http_listener *l = &hs.listeners[i];

		len = sizeof(ss);
		if (l->fd < 0 || getsockname(l->fd, (struct sockaddr *)&ss, &len) == -1)
			continue;
		if (ss.ss_family == AF_UNIX) {
			struct sockaddr_un *su = (struct sockaddr_un *)&ss;
			snprintf(url, sizeof(url), "unix:%s", su->sun_path[0] ? su->sun_path :
			    l->unix_path != NULL ? l->unix_path : "?");
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			snprintf(url, sizeof(url), "%s://[%s]:%u", scheme, a, ntohs(s6->sin6_port));
		} else if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
			snprintf(url, sizeof(url), "%s://%s:%u", scheme, a, ntohs(s4->sin_port));
		} else
			continue;
		fn(url, arg);
	}
}
