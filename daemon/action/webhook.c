/*
 * webhook: curl multi + libevent.
 */
#include "daemon/action/webhook.h"

#include <sys/queue.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "daemon/action/netpolicy.h"
#include "daemon/core/clock.h"
#include "daemon/log.h"

struct hook {
	TAILQ_ENTRY(hook) link;
	uint64_t id;
	struct webhook_spec *spec;
	CURL *easy;
	struct curl_slist *headers;
	struct webhook_result res;
	char errbuf[CURL_ERROR_SIZE];
	int64_t t_start;
};
TAILQ_HEAD(hook_list, hook);

/* One socket curl asked us to watch. */
struct sock {
	struct event *ev;
};

static struct {
	struct event_base *base;
	struct webhook_limits limits;
	struct webhook_hooks hooks;
	CURLM *multi;
	struct event *timer_ev;
	struct hook_list running, queued;
	size_t n_running, n_queued;
} ws;

static void webhook_check_done(void);
static void webhook_start(struct hook *h);
static void webhook_start_queued(void);

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

	curl_multi_socket_action(ws.multi, fd, action, &running);
	webhook_check_done();
}

/* curl's timeout fired. */
static void
timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	int running;

	curl_multi_socket_action(ws.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	webhook_check_done();
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
		curl_multi_assign(ws.multi, s, NULL);
		return 0;
	}
	kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	    (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (sk == NULL) {
		if ((sk = calloc(1, sizeof(*sk))) == NULL)
			return -1;
		curl_multi_assign(ws.multi, s, sk);
	} else
		event_free(sk->ev);
	if ((sk->ev = event_new(ws.base, s, kind, sock_event_cb, NULL)) == NULL ||
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
		evtimer_del(ws.timer_ev);
		return 0;
	}
	tv = clock_timeval((int64_t)timeout_ms * 1000);
	evtimer_add(ws.timer_ev, &tv);
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

/* CURLOPT_WRITEFUNCTION: keep the reply body up to the cap. */
static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct hook *h = arg;
	struct command_output *b = &h->res.body;
	size_t len = size * n, take = len;

	if (b->len >= ws.limits.max_output)
		take = 0;
	else if (take > ws.limits.max_output - b->len)
		take = ws.limits.max_output - b->len;
	if (take < len)
		b->truncated = 1;
	if (take > 0) {
		char *d = realloc(b->data, b->len + take + 1);
		if (d == NULL)
			return 0;	/* aborts the transfer */
		memcpy(d + b->len, data, take);
		b->data = d;
		b->len += take;
		d[b->len] = '\0';
	}
	return len;
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
			int64_t us = ((int64_t)t * CLOCK_US_PER_S) - clock_unix_now();
			return us < 0 ? 0 : us;
		}
	}
	return -1;
}

/* Collect what curl says is finished. */
static void
webhook_check_done(void)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(ws.multi, &left)) != NULL) {
		struct hook *h = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&h);
		curl_multi_remove_handle(ws.multi, h->easy);
		TAILQ_REMOVE(&ws.running, h, link);
		ws.n_running--;
		h->res.duration = clock_loop_now() - h->t_start;
		if (msg->data.result == CURLE_OK) {
			curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &h->res.status);
			h->res.retry_after = retry_after(&h->res);
		} else {
			h->res.error = (int)msg->data.result;
			h->res.message = h->res.refused ?
			    "the destination address is refused by the webhook network policy" :
			    *h->errbuf ? h->errbuf : curl_easy_strerror(msg->data.result);
			h->res.retry_after = -1;
		}
		ws.hooks.done(h->id, &h->res, ws.hooks.arg);
		hook_free(h);
		webhook_start_queued();
	}
}

/* Set up h's easy handle and add it to the multi handle. */
static void
webhook_start(struct hook *h)
{
	struct webhook_spec *s = h->spec;
	CURL *e;
	long ms = (long)(s->timeout / 1000);

	h->t_start = clock_loop_now();
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
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms > 0 ? ms : 1L);
	if (strcmp(s->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(s->method, "GET") != 0 || s->body != NULL)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, s->method);
	if (s->body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->body);
	}
	if (curl_multi_add_handle(ws.multi, e) != CURLM_OK)
		goto fail;
	TAILQ_INSERT_TAIL(&ws.running, h, link);
	ws.n_running++;
	ws.hooks.started(h->id, ws.hooks.arg);
	return;
fail:
	h->res.error = CURLE_OUT_OF_MEMORY;
	h->res.message = "out of memory";
	h->res.retry_after = -1;
	ws.hooks.done(h->id, &h->res, ws.hooks.arg);
	hook_free(h);
}

/* Start queued requests while slots are free, in start order. */
static void
webhook_start_queued(void)
{
	while (ws.n_queued > 0 && ws.n_running < ws.limits.max_running) {
		struct hook *h = TAILQ_FIRST(&ws.queued);
		TAILQ_REMOVE(&ws.queued, h, link);
		ws.n_queued--;
		webhook_start(h);
	}
}

void
webhook_run(uint64_t id, struct webhook_spec *spec)
{
	struct hook *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		struct webhook_result r = { .error = CURLE_OUT_OF_MEMORY,
		    .message = "out of memory", .retry_after = -1 };
		webhook_spec_free(spec);
		ws.hooks.done(id, &r, ws.hooks.arg);
		return;
	}
	h->id = id;
	h->spec = spec;
	if (ws.n_running < ws.limits.max_running) {
		webhook_start(h);
		return;
	}
	TAILQ_INSERT_TAIL(&ws.queued, h, link);
	ws.n_queued++;
}

int
webhook_abort(uint64_t id)
{
	struct hook *h;

	TAILQ_FOREACH(h, &ws.queued, link)
		if (h->id == id) {
			TAILQ_REMOVE(&ws.queued, h, link);
			ws.n_queued--;
			hook_free(h);
			return 1;
		}
	TAILQ_FOREACH(h, &ws.running, link)
		if (h->id == id) {
			curl_multi_remove_handle(ws.multi, h->easy);
			TAILQ_REMOVE(&ws.running, h, link);
			ws.n_running--;
			hook_free(h);
			return 1;
		}
	return 0;
}

int
webhook_init(struct event_base *base, const struct webhook_limits *limits,
    const struct webhook_hooks *hooks)
{
	memset(&ws, 0, sizeof(ws));
	ws.base = base;
	ws.hooks = *hooks;
	TAILQ_INIT(&ws.running);
	TAILQ_INIT(&ws.queued);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (ws.multi = curl_multi_init()) == NULL ||
	    (ws.timer_ev = evtimer_new(base, timer_event_cb, NULL)) == NULL)
		return -1;
	curl_multi_setopt(ws.multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(ws.multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	webhook_set_limits(limits);
	return 0;
}

void
webhook_set_limits(const struct webhook_limits *limits)
{
	ws.limits = *limits;
	curl_multi_setopt(ws.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)limits->max_per_host);
	/* Idle connections kept for reuse. */
	curl_multi_setopt(ws.multi, CURLMOPT_MAXCONNECTS, (long)limits->max_running);
	webhook_start_queued();
}

void
webhook_shutdown(void)
{
	struct hook *h;

	while ((h = TAILQ_FIRST(&ws.queued)) != NULL) {
		TAILQ_REMOVE(&ws.queued, h, link);
		hook_free(h);
	}
	while ((h = TAILQ_FIRST(&ws.running)) != NULL) {
		curl_multi_remove_handle(ws.multi, h->easy);
		TAILQ_REMOVE(&ws.running, h, link);
		hook_free(h);
	}
	if (ws.multi != NULL)
		curl_multi_cleanup(ws.multi);
	if (ws.timer_ev != NULL)
		event_free(ws.timer_ev);
	curl_global_cleanup();
	memset(&ws, 0, sizeof(ws));
}

size_t
webhook_running(void)
{
	return ws.n_running;
}

size_t
webhook_queued(void)
{
	return ws.n_queued;
}
