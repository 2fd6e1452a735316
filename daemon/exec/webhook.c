/*
 * webhook: curl multi + libevent.
 *
 * A request passes two queues of ours before curl sees it. Past
 * max_running started requests it waits, not started, in start order
 * (`queued`). Once admitted it is started (hooks.started) and joins its
 * host's FIFO (`waiting`); it is handed to curl only while the host has
 * fewer than max_per_host requests in curl. So curl's own pending list
 * stays empty: curl 7.88 walks it on every removal, which took 40% of the
 * loop with 20,000 requests due at once to one host. A host is the URL's
 * lower-case host name and port, the key of curl's connection cache, so
 * curl never has to hold one back and hosts never wait on each other
 * (CURLMOPT_MAX_HOST_CONNECTIONS stays set as a backstop, for a proxy).
 *
 * An attempt's timeout counts from its start, time spent waiting for a
 * connection included, as when curl held it; curl gets what is left. A
 * request that runs out of time while waiting fails then, with a timeout,
 * without being sent.
 *
 * Callbacks (started, done) run only where this file holds no pointer
 * it still needs afterwards; a request that cannot be handed to curl is
 * reported on the next loop turn.
 */
#include "daemon/exec/webhook.h"

#include <sys/queue.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "daemon/exec/netpolicy.h"
#include "daemon/core/clock.h"
#include "daemon/core/idmap.h"
#include "daemon/log.h"
#include "daemon/util/outbuf.h"

#define DONE_SLICE_US 2000	/* finished transfers are collected this long a turn */
/* Transfers handed to curl per loop turn: curl's next pass (its timer or a
 * socket's) connects every new one at once, so 256 new ones (many hosts)
 * made one pass of tens of ms. The rest wait for a zero timer. */
#define SEND_SLICE 32

enum hook_state {
	HOOK_QUEUED,		/* in webhooks.queued: not started */
	HOOK_WAITING,		/* in its host's waiting list: started */
	HOOK_SENDING,		/* in webhooks.sending and in curl */
	HOOK_FAILED,		/* in webhooks.failed: reported next turn */
};

struct host;

struct hook {
	TAILQ_ENTRY(hook) link;		/* in the list of its state */
	uint64_t id;
	enum hook_state state;
	struct webhook_spec *spec;
	struct host *host;		/* waiting or sending */
	struct event *deadline_ev;	/* waiting: its timeout */
	CURL *easy;
	struct curl_slist *headers;
	struct webhook_result res;
	char errbuf[CURL_ERROR_SIZE];
	int64_t t_start;
};
TAILQ_HEAD(hook_list, hook);

/* Requests started to one host and port; freed when it has none. */
struct host {
	LIST_ENTRY(host) link;		/* webhooks.host_list */
	struct host *next;		/* another key with the same hash */
	uint64_t hash;
	struct hook_list waiting;	/* in start order */
	size_t n_sending;		/* in curl */
	char key[];
};

/* One socket curl asked us to watch. */
struct sock {
	struct event *ev;
};

static struct {
	struct event_base *base;
	struct webhook_limits limits;
	struct webhook_hooks hooks;
	char *proxy;			/* NULL: no proxy, whatever the environment */
	CURLM *multi;
	struct event *timer_ev;
	struct event *kick_ev;		/* reports failures, admits: next turn */
	struct event *done_ev;		/* more finished transfers: a later turn */
	struct event *pump_ev;		/* the next turn's sends (SEND_SLICE) */
	size_t sent_turn;		/* handed to curl this turn */
	struct idmap by_id;		/* id -> hook */
	struct idmap hosts;		/* hash of key -> first host with it */
	LIST_HEAD(, host) host_list;
	struct hook_list queued, sending, failed;
	size_t n_queued, n_waiting, n_sending;
} webhooks;

static void webhook_check_done(void);
static void webhook_done_soon(void);
static void webhook_admit(void);

/* Free the result's owned memory. */
static void
result_clear(struct webhook_result *r)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->body.data);
	memset(r, 0, sizeof(*r));
}

void
webhook_spec_free(struct webhook_spec *spec)
{
	if (spec == NULL)
		return;
	free(spec->url);
	free(spec->method);
	for (size_t i = 0; spec->headers != NULL && spec->headers[i] != NULL; i++)
		free(spec->headers[i]);
	free(spec->headers);
	free(spec->body);
	free(spec);
}

/* Free a hook (its easy handle must be out of the multi handle). */
static void
hook_free(struct hook *h)
{
	if (h->deadline_ev != NULL)
		event_free(h->deadline_ev);
	if (h->easy != NULL)
		curl_easy_cleanup(h->easy);
	curl_slist_free_all(h->headers);
	webhook_spec_free(h->spec);
	result_clear(&h->res);
	free(h);
}

/* Socket activity: hand it to curl. */
static void
sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	int running, action = (what & EV_READ ? CURL_CSELECT_IN : 0) |
	    (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(webhooks.multi, fd, action, &running);
	webhook_done_soon();
}

/* curl's timeout fired. */
static void
timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	int running;

	curl_multi_socket_action(webhooks.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	webhook_done_soon();
}

/* CURLMOPT_SOCKETFUNCTION: watch (or stop watching) a socket. */
static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct sock *sk = socketp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL) {
			event_free(sk->ev);
			free(sk);
		}
		curl_multi_assign(webhooks.multi, s, NULL);
		return 0;
	}
	kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	    (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (sk == NULL) {
		if ((sk = calloc(1, sizeof(*sk))) == NULL)
			return -1;
		curl_multi_assign(webhooks.multi, s, sk);
	} else
		event_free(sk->ev);
	if ((sk->ev = event_new(webhooks.base, s, kind, sock_event_cb, NULL)) == NULL ||
	    event_add(sk->ev, NULL) == -1)
		return -1;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: (re)arm curl's one timer. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(webhooks.timer_ev);
		return 0;
	}
	tv = clock_timeval((int64_t)timeout_ms * 1000);
	evtimer_add(webhooks.timer_ev, &tv);
	return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: the address is known; apply the policy. */
static curl_socket_t
opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct hook *h = arg;

	if (!netpolicy_permits(&a->addr)) {
		h->res.refused = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* CURLOPT_PREREQFUNCTION: a request is about to go out on a connection,
 * new or reused; check the address it is connected to once more (a
 * reload may have changed the policy since it was opened). */
static int
prereq_cb(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	struct hook *h = arg;
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sa4 = { .sin_family = AF_INET };
	const struct sockaddr *sa = NULL;

	if (inet_pton(AF_INET, ip, &sa4.sin_addr) == 1)
		sa = (const struct sockaddr *)&sa4;
	else if (inet_pton(AF_INET6, ip, &sa6.sin6_addr) == 1)
		sa = (const struct sockaddr *)&sa6;
	if (sa != NULL && netpolicy_permits(sa))
		return CURL_PREREQFUNC_OK;
	h->res.refused = 1;
	return CURL_PREREQFUNC_ABORT;
}

/* CURLOPT_WRITEFUNCTION: keep the reply body up to the cap. */
static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct hook *h = arg;
	size_t len = size * n;

	/* Out of memory: 0 aborts the transfer. */
	return outbuf_append(&h->res.body, data, len, webhooks.limits.max_output) == -1 ? 0 : len;
}

/* Trim blanks and CR/LF at both ends of [s, s+len). */
static void
trim_span(const char **s, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* CURLOPT_HEADERFUNCTION: collect the final reply's headers. */
static size_t
header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct hook *h = arg;
	size_t len = size * n, nlen, vlen;
	const char *colon = memchr(data, ':', len), *name = data, *value;
	struct webhook_header *v;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new status line (after 100 Continue, say): start over. */
		for (size_t i = 0; i < h->res.n_headers; i++) {
			free(h->res.headers[i].name);
			free(h->res.headers[i].value);
		}
		h->res.n_headers = 0;
		return len;
	}
	if (colon == NULL || h->res.n_headers >= 100)
		return len;
	nlen = (size_t)(colon - data);
	value = colon + 1;
	vlen = len - nlen - 1;
	trim_span(&name, &nlen);
	trim_span(&value, &vlen);
	if ((v = realloc(h->res.headers, (h->res.n_headers + 1) * sizeof(*v))) == NULL)
		return len;
	h->res.headers = v;
	v = &v[h->res.n_headers];
	if ((v->name = strndup(name, nlen)) == NULL || (v->value = strndup(value, vlen)) == NULL) {
		free(v->name);
		return len;
	}
	for (char *p = v->name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	h->res.n_headers++;
	return len;
}

/* Microseconds asked by a Retry-After header (seconds or an HTTP date),
 * or -1. */
static int64_t
retry_after(const struct webhook_result *r)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		const char *v = r->headers[i].value;
		char *end;
		long long s;
		time_t t;

		if (strcmp(r->headers[i].name, "retry-after") != 0)
			continue;
		s = strtoll(v, &end, 10);
		if (end != v && *end == '\0')
			return s < 0 ? 0 : s > 86400 ? 86400 * CLOCK_US_PER_S : s * CLOCK_US_PER_S;
		if ((t = curl_getdate(v, NULL)) != -1) {
			/* Capped like the seconds form (and by the caller). */
			int64_t us, now_s = clock_unix_now() / CLOCK_US_PER_S;
			if ((int64_t)t - now_s > 86400)
				return 86400 * CLOCK_US_PER_S;
			us = ((int64_t)t * CLOCK_US_PER_S) - clock_unix_now();
			return us < 0 ? 0 : us;
		}
	}
	return -1;
}

/* The host key of url: its lower-case host name and port (the default of
 * its scheme when it names none), as curl's connection cache keys
 * connections; "" when curl cannot parse it (curl then fails the request
 * itself). NULL when out of memory. */
static char *
host_key(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *key = NULL;
	CURLUcode rc;

	if (u == NULL)
		return NULL;
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME);
#ifdef CURLU_PUNYCODE
	/* An IDN host goes to curl's cache as punycode. */
	if (rc == CURLUE_OK && curl_url_get(u, CURLUPART_HOST, &host, CURLU_PUNYCODE) != CURLUE_OK)
		host = NULL;
#endif
	if (rc == CURLUE_OK && host == NULL)
		rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	if (rc == CURLUE_OUT_OF_MEMORY)
		key = NULL;
	else if (rc != CURLUE_OK)
		key = strdup("");
	else if (asprintf(&key, "%s:%s", host, port) == -1)
		key = NULL;
	for (char *p = key; p != NULL && *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return key;
}

/* The hash table key of a host key (never 0, which idmap reserves). */
static uint64_t
host_hash(const char *key)
{
	uint64_t hash = idmap_hash_bytes(key, strlen(key));

	return hash != 0 ? hash : 1;
}

/* The host for key, made when there is none; NULL when out of memory. */
static struct host *
host_get(const char *key)
{
	uint64_t hash = host_hash(key);
	struct host *first = idmap_get(&webhooks.hosts, hash), *hs;
	size_t len = strlen(key);

	for (hs = first; hs != NULL; hs = hs->next)
		if (strcmp(hs->key, key) == 0)
			return hs;
	if ((hs = calloc(1, sizeof(*hs) + len + 1)) == NULL)
		return NULL;
	memcpy(hs->key, key, len + 1);
	hs->hash = hash;
	TAILQ_INIT(&hs->waiting);
	if (first != NULL) {
		hs->next = first->next;
		first->next = hs;
	} else if (idmap_put(&webhooks.hosts, hash, hs) == -1) {
		free(hs);
		return NULL;
	}
	LIST_INSERT_HEAD(&webhooks.host_list, hs, link);
	return hs;
}

/* Forget host hs if nothing is started to it any more. */
static void
host_put(struct host *hs)
{
	struct host *first, **pp;

	if (hs->n_sending > 0 || !TAILQ_EMPTY(&hs->waiting))
		return;
	first = idmap_get(&webhooks.hosts, hs->hash);
	if (first == hs) {
		/* Delete, then put: the put after a delete never grows the
		 * table, so it cannot fail. */
		idmap_del(&webhooks.hosts, hs->hash);
		if (hs->next != NULL)
			idmap_put(&webhooks.hosts, hs->hash, hs->next);
	} else {
		for (pp = &first->next; *pp != hs; pp = &(*pp)->next)
			;
		*pp = hs->next;
	}
	LIST_REMOVE(hs, link);
	free(hs);
}

/* Whether host hs may have one more request in curl. */
static int
host_has_room(const struct host *hs)
{
	/* 0 is no cap, as for curl. */
	return webhooks.limits.max_per_host == 0 || hs->n_sending < webhooks.limits.max_per_host;
}

/* Set h aside as failed with curl error code and msg (which may be
 * h->errbuf); it is reported on the next loop turn. */
static void
hook_fail(struct hook *h, int code, const char *msg)
{
	h->state = HOOK_FAILED;
	h->host = NULL;
	h->res.error = code;
	h->res.message = msg;
	h->res.retry_after = -1;
	h->res.duration = clock_loop_now() - h->t_start;
	TAILQ_INSERT_TAIL(&webhooks.failed, h, link);
	event_active(webhooks.kick_ev, EV_TIMEOUT, 0);
}

/* Fill h's result: its time ran out while it waited for a connection. */
static void
hook_timed_out(struct hook *h)
{
	h->res.error = CURLE_OPERATION_TIMEDOUT;
	h->res.duration = clock_loop_now() - h->t_start;
	h->res.retry_after = -1;
	snprintf(h->errbuf, sizeof(h->errbuf), "Timed out after %lld milliseconds waiting "
	    "for a connection to the host (webhook_max_per_host = %zu)",
	    (long long)(h->res.duration / 1000), webhooks.limits.max_per_host);
	h->res.message = h->errbuf;
}

/* Report how h ended to its owner, and free it. */
static void
hook_report(struct hook *h)
{
	if (idmap_get(&webhooks.by_id, h->id) == h)
		idmap_del(&webhooks.by_id, h->id);
	webhooks.hooks.done(h->id, &h->res, webhooks.hooks.arg);
	hook_free(h);
}

/* Hand waiting h to curl for host hs with what is left of its time: its
 * easy handle is made now. On failure h is set aside (hook_fail). */
static void
hook_send(struct hook *h, struct host *hs)
{
	struct webhook_spec *s = h->spec;
	int64_t left = h->t_start + s->timeout - clock_loop_now();
	long ms = left > 0 ? (long)((left + 999) / 1000) : 1;
	CURL *e;

	if (h->deadline_ev != NULL) {
		/* It waited: its time may be up before its timer said so. */
		event_free(h->deadline_ev);
		h->deadline_ev = NULL;
		if (left <= 0) {
			hook_timed_out(h);
			hook_fail(h, h->res.error, h->res.message);
			return;
		}
	}
	if ((e = h->easy = curl_easy_init()) == NULL)
		goto fail;
	for (size_t i = 0; s->headers != NULL && s->headers[i] != NULL; i++) {
		struct curl_slist *l = curl_slist_append(h->headers, s->headers[i]);
		if (l == NULL)
			goto fail;
		h->headers = l;
	}
	curl_easy_setopt(e, CURLOPT_URL, s->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)h);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "loopd/1");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, h);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, h);
	/* curl reads *_proxy from the environment by itself: only the
	 * configured proxy is used ("" turns proxies off). */
	curl_easy_setopt(e, CURLOPT_PROXY, webhooks.proxy != NULL ? webhooks.proxy : "");
	curl_easy_setopt(e, CURLOPT_NOPROXY, webhooks.proxy != NULL ? "" : "*");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms);
	if (strcmp(s->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(s->method, "GET") != 0 || s->body != NULL)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, s->method);
	if (s->body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->body);
	}
	if (curl_multi_add_handle(webhooks.multi, e) != CURLM_OK)
		goto fail;
	if (webhooks.sent_turn++ == 0 && webhooks.pump_ev != NULL) {
		/* The turn ends with the next pass: it counts from 0 again. */
		static const struct timeval zero = { 0, 0 };
		evtimer_add(webhooks.pump_ev, &zero);
	}
	h->state = HOOK_SENDING;
	h->host = hs;
	hs->n_sending++;
	TAILQ_INSERT_TAIL(&webhooks.sending, h, link);
	webhooks.n_sending++;
	return;
fail:
	hook_fail(h, CURLE_OUT_OF_MEMORY, "out of memory");
}

/* Take sending h out of curl; returns its host, one request lighter. */
static struct host *
hook_unsend(struct hook *h)
{
	struct host *hs = h->host;

	curl_multi_remove_handle(webhooks.multi, h->easy);
	TAILQ_REMOVE(&webhooks.sending, h, link);
	webhooks.n_sending--;
	hs->n_sending--;
	h->host = NULL;
	return hs;
}

/* Hand host hs's waiting requests to curl while it has room, in start
 * order, SEND_SLICE a turn in all (pump_cb goes on); then forget hs if
 * nothing is left. Calls no callback. */
static void
host_pump(struct host *hs)
{
	struct hook *h;

	while (host_has_room(hs) && webhooks.sent_turn < SEND_SLICE &&
	    (h = TAILQ_FIRST(&hs->waiting)) != NULL) {
		TAILQ_REMOVE(&hs->waiting, h, link);
		webhooks.n_waiting--;
		hook_send(h, hs);
	}
	host_put(hs);
}

/* A waiting request's time ran out before its host had room. */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hook *h = arg;
	struct host *hs = h->host;

	TAILQ_REMOVE(&hs->waiting, h, link);
	webhooks.n_waiting--;
	h->host = NULL;
	host_put(hs);
	hook_timed_out(h);
	hook_report(h);
	webhook_admit();
}

/* Start h (admitted): it joins its host's requests and goes to curl if
 * the host has room; then the owner hears it started. */
static void
webhook_begin(struct hook *h)
{
	uint64_t id = h->id;
	struct host *hs = NULL;
	struct timeval tv;
	char *key;

	h->t_start = clock_loop_now();
	if ((key = host_key(h->spec->url)) == NULL || (hs = host_get(key)) == NULL) {
		free(key);
		hook_fail(h, CURLE_OUT_OF_MEMORY, "out of memory");
		return;
	}
	free(key);
	if (!TAILQ_EMPTY(&hs->waiting) || !host_has_room(hs)) {
		/* Behind others: wait, at most until its time is up. */
		if ((h->deadline_ev = evtimer_new(webhooks.base, deadline_cb, h)) == NULL) {
			host_put(hs);
			hook_fail(h, CURLE_OUT_OF_MEMORY, "out of memory");
			return;
		}
		tv = clock_timeval(h->t_start + h->spec->timeout - clock_loop_now());
		evtimer_add(h->deadline_ev, &tv);
	}
	h->state = HOOK_WAITING;
	h->host = hs;
	TAILQ_INSERT_TAIL(&hs->waiting, h, link);
	webhooks.n_waiting++;
	host_pump(hs);
	webhooks.hooks.started(id, webhooks.hooks.arg);
}

/* Start queued requests in start order while fewer than max_running are
 * started (waiting for their host or sending). */
static void
webhook_admit(void)
{
	struct hook *h;

	while (webhooks.n_waiting + webhooks.n_sending < webhooks.limits.max_running &&
	    (h = TAILQ_FIRST(&webhooks.queued)) != NULL) {
		TAILQ_REMOVE(&webhooks.queued, h, link);
		webhooks.n_queued--;
		webhook_begin(h);
	}
}

/* Next loop turn after a failure or an abort: report the failed, then
 * start what now fits. */
static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hook *h;

	while ((h = TAILQ_FIRST(&webhooks.failed)) != NULL) {
		TAILQ_REMOVE(&webhooks.failed, h, link);
		hook_report(h);
	}
	webhook_admit();
}

/* A new turn: hand curl the requests that waited for SEND_SLICE. */
static void
pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct host *hs, *next;

	webhooks.sent_turn = 0;
	for (hs = LIST_FIRST(&webhooks.host_list); hs != NULL && webhooks.sent_turn < SEND_SLICE;
	    hs = next) {
		next = LIST_NEXT(hs, link);
		if (!TAILQ_EMPTY(&hs->waiting) && host_has_room(hs))
			host_pump(hs);		/* may free hs, nothing else */
	}
}

/* Finished transfers, once a turn. */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	webhook_check_done();
}

/* Collect finished transfers on this turn's zero timer: once a turn for
 * all sockets, not once per socket event (hundreds can be ready in one
 * pass, and libevent runs them all before it polls again). */
static void
webhook_done_soon(void)
{
	static const struct timeval zero = { 0, 0 };

	if (!evtimer_pending(webhooks.done_ev, NULL))
		evtimer_add(webhooks.done_ev, &zero);
}

/* Collect what curl says is finished, for DONE_SLICE_US at most: each one
 * settles its call and starts the next, and hundreds can finish at once
 * (a closed port): the rest wait in curl for a zero timer, so that timers
 * and I/O get their turn in between. */
static void
webhook_check_done(void)
{
	static const struct timeval zero = { 0, 0 };
	int64_t until = clock_slice_end(DONE_SLICE_US);
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(webhooks.multi, &left)) != NULL) {
		struct hook *h = NULL;
		CURLcode result = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&h);
		h->res.duration = clock_loop_now() - h->t_start;
		if (result == CURLE_OK) {
			curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &h->res.status);
			h->res.retry_after = retry_after(&h->res);
		} else {
			h->res.error = (int)result;
			h->res.message = h->res.refused ?
			    "the destination address is refused by the webhook network policy" :
			    *h->errbuf ? h->errbuf : curl_easy_strerror(result);
			h->res.retry_after = -1;
		}
		/* The host's next request goes before the callback runs. */
		host_pump(hook_unsend(h));
		hook_report(h);
		webhook_admit();
		if (left > 0 && clock_loop_now() > until) {
			evtimer_add(webhooks.done_ev, &zero);
			break;
		}
	}
}

void
webhook_run(uint64_t id, struct webhook_spec *spec)
{
	struct hook *h = calloc(1, sizeof(*h));

	if (h == NULL || idmap_put(&webhooks.by_id, id, h) == -1) {
		struct webhook_result r = { .error = CURLE_OUT_OF_MEMORY,
		    .message = "out of memory", .retry_after = -1 };
		free(h);
		webhook_spec_free(spec);
		webhooks.hooks.done(id, &r, webhooks.hooks.arg);
		return;
	}
	h->id = id;
	h->spec = spec;
	h->state = HOOK_QUEUED;
	TAILQ_INSERT_TAIL(&webhooks.queued, h, link);
	webhooks.n_queued++;
	webhook_admit();
}

int
webhook_abort(uint64_t id)
{
	struct hook *h = idmap_del(&webhooks.by_id, id);
	struct host *hs;

	if (h == NULL)
		return 0;
	switch (h->state) {
	case HOOK_QUEUED:
		TAILQ_REMOVE(&webhooks.queued, h, link);
		webhooks.n_queued--;
		break;
	case HOOK_WAITING:
		hs = h->host;
		TAILQ_REMOVE(&hs->waiting, h, link);
		webhooks.n_waiting--;
		h->host = NULL;
		host_put(hs);
		break;
	case HOOK_SENDING:
		host_pump(hook_unsend(h));
		break;
	case HOOK_FAILED:
		TAILQ_REMOVE(&webhooks.failed, h, link);
		break;
	}
	hook_free(h);
	/* A slot may be free: the next queued one starts next turn. */
	event_active(webhooks.kick_ev, EV_TIMEOUT, 0);
	return 1;
}

int
webhook_init(struct event_base *base, const struct webhook_limits *limits,
    const struct webhook_hooks *hooks)
{
	memset(&webhooks, 0, sizeof(webhooks));
	webhooks.base = base;
	webhooks.hooks = *hooks;
	idmap_init(&webhooks.by_id);
	idmap_init(&webhooks.hosts);
	LIST_INIT(&webhooks.host_list);
	TAILQ_INIT(&webhooks.queued);
	TAILQ_INIT(&webhooks.sending);
	TAILQ_INIT(&webhooks.failed);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (webhooks.multi = curl_multi_init()) == NULL ||
	    (webhooks.timer_ev = evtimer_new(base, timer_event_cb, NULL)) == NULL ||
	    (webhooks.kick_ev = event_new(base, -1, 0, kick_cb, NULL)) == NULL ||
	    (webhooks.done_ev = evtimer_new(base, done_cb, NULL)) == NULL ||
	    (webhooks.pump_ev = evtimer_new(base, pump_cb, NULL)) == NULL)
		return -1;
	curl_multi_setopt(webhooks.multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(webhooks.multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	webhook_set_limits(limits);
	return 0;
}

void
webhook_set_limits(const struct webhook_limits *limits)
{
	struct host *hs, *next;

	webhooks.limits = *limits;
	/* A backstop: our own per-host queue keeps curl under it. */
	curl_multi_setopt(webhooks.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)limits->max_per_host);
	/* Idle connections kept for reuse. */
	curl_multi_setopt(webhooks.multi, CURLMOPT_MAXCONNECTS, (long)limits->max_running);
	for (hs = LIST_FIRST(&webhooks.host_list); hs != NULL; hs = next) {
		next = LIST_NEXT(hs, link);
		host_pump(hs);		/* may free hs, nothing else */
	}
	webhook_admit();
}

int
webhook_set_proxy(const char *proxy)
{
	char *p = NULL;

	if (proxy != NULL && *proxy != '\0' && (p = strdup(proxy)) == NULL)
		return -1;
	free(webhooks.proxy);
	webhooks.proxy = p;
	return 0;
}

void
webhook_shutdown(void)
{
	struct host *hs;
	struct hook *h;

	while ((h = TAILQ_FIRST(&webhooks.queued)) != NULL) {
		TAILQ_REMOVE(&webhooks.queued, h, link);
		hook_free(h);
	}
	while ((h = TAILQ_FIRST(&webhooks.failed)) != NULL) {
		TAILQ_REMOVE(&webhooks.failed, h, link);
		hook_free(h);
	}
	while ((h = TAILQ_FIRST(&webhooks.sending)) != NULL) {
		curl_multi_remove_handle(webhooks.multi, h->easy);
		TAILQ_REMOVE(&webhooks.sending, h, link);
		hook_free(h);
	}
	while ((hs = LIST_FIRST(&webhooks.host_list)) != NULL) {
		while ((h = TAILQ_FIRST(&hs->waiting)) != NULL) {
			TAILQ_REMOVE(&hs->waiting, h, link);
			hook_free(h);
		}
		LIST_REMOVE(hs, link);
		free(hs);
	}
	idmap_free(&webhooks.by_id);
	idmap_free(&webhooks.hosts);
	if (webhooks.multi != NULL)
		curl_multi_cleanup(webhooks.multi);
	if (webhooks.timer_ev != NULL)
		event_free(webhooks.timer_ev);
	if (webhooks.kick_ev != NULL)
		event_free(webhooks.kick_ev);
	if (webhooks.done_ev != NULL)
		event_free(webhooks.done_ev);
	if (webhooks.pump_ev != NULL)
		event_free(webhooks.pump_ev);
	curl_global_cleanup();
	free(webhooks.proxy);
	memset(&webhooks, 0, sizeof(webhooks));
}

size_t
webhook_running(void)
{
	return webhooks.n_sending;
}

size_t
webhook_host_queued(void)
{
	return webhooks.n_waiting;
}

size_t
webhook_queued(void)
{
	return webhooks.n_queued;
}
