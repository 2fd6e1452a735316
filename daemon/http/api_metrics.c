/*
 * api_metrics: GET /metrics in the Prometheus text format (version 0.0.4).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/exec/command.h"
#include "daemon/exec/webhook.h"
#include "daemon/core/events.h"
#include "daemon/core/future.h"
#include "daemon/core/sched.h"
#include "daemon/http/api.h"
#include "daemon/store/store.h"

/* A growing text buffer; on ENOMEM it stays NULL and output stops. */
struct out {
	char *buf;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3)))
out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->cap > 0 && o->buf == NULL)
		return;		/* an earlier allocation failed */
	for (;;) {
		size_t room = o->cap - o->len;
		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		char *b = realloc(o->buf, o->cap + (size_t)n + 4096);
		if (b == NULL) {
			free(o->buf);
			o->buf = NULL;
			o->cap = 1;
			return;
		}
		o->buf = b;
		o->cap += (size_t)n + 4096;
	}
}

/* One metric family: HELP, TYPE and a single unlabelled sample. */
static void
family(struct out *o, const char *name, const char *type, const char *help, double v)
{
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

/* One sample of loopd_http_requests_total. */
static void
http_sample(const char *route, const char *method, int status, uint64_t n, void *arg)
{
	out_printf(arg, "loopd_http_requests_total{route=\"%s\",method=\"%s\",code=\"%d\"} %llu\n",
	    route, method, status, (unsigned long long)n);
}

/* GET /metrics */
void
api_metrics(struct http_req *r, struct api_args *a)
{
	const struct sched_stats *s = sched_stats();
	struct out o = { NULL, 0, 0 };
	uint64_t cum = 0, cut_slow, evicted_idle, evicted_slow;
	uint64_t opened, refused, emitted, published;
	size_t streams;

	family(&o, "loopd_calls_scheduled_total", "counter", "Calls accepted.",
	    (double)s->scheduled);
	family(&o, "loopd_calls_started_total", "counter", "Calls whose action began.",
	    (double)s->started);
	out_printf(&o, "# HELP loopd_calls_finished_total Calls done, by outcome.\n"
	    "# TYPE loopd_calls_finished_total counter\n"
	    "loopd_calls_finished_total{outcome=\"result\"} %llu\n"
	    "loopd_calls_finished_total{outcome=\"exception\"} %llu\n"
	    "loopd_calls_finished_total{outcome=\"cancelled\"} %llu\n",
	    (unsigned long long)s->finished_result, (unsigned long long)s->finished_exception,
	    (unsigned long long)s->cancelled);
	out_printf(&o, "# HELP loopd_call_lateness_seconds Started minus due, per call.\n"
	    "# TYPE loopd_call_lateness_seconds histogram\n");
	for (size_t i = 0; i < SCHED_LATENESS_BUCKETS; i++) {
		cum += s->lateness[i];
		out_printf(&o, "loopd_call_lateness_seconds_bucket{le=\"%g\"} %llu\n",
		    (double)sched_lateness_bounds[i] / 1e6, (unsigned long long)cum);
	}
	cum += s->lateness[SCHED_LATENESS_BUCKETS];
	out_printf(&o, "loopd_call_lateness_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "loopd_call_lateness_seconds_sum %.9g\nloopd_call_lateness_seconds_count %llu\n",
	    (unsigned long long)cum, s->lateness_sum, (unsigned long long)cum);
	family(&o, "loopd_pending_calls", "gauge", "Calls not done yet.",
	    (double)future_count_pending_kind(FUTURE_CALL));
	family(&o, "loopd_pending_futures", "gauge", "Futures not done yet.",
	    (double)future_count_pending_kind(FUTURE_PLAIN));
	family(&o, "loopd_objects", "gauge", "Calls and futures kept, done or not.",
	    (double)future_count_all());
	family(&o, "loopd_waiters", "gauge", "Requests held: long-polls, wait, gather.",
	    (double)http_held());
	family(&o, "loopd_commands_running", "gauge", "Commands running.",
	    (double)command_running());
	family(&o, "loopd_commands_queued", "gauge", "Commands waiting for a slot.",
	    (double)command_queued());
	family(&o, "loopd_webhooks_running", "gauge", "Webhook requests in flight.",
	    (double)webhook_running());
	family(&o, "loopd_webhooks_host_queued", "gauge",
	    "Webhook requests started and waiting for a connection to their host.",
	    (double)webhook_host_queued());
	family(&o, "loopd_webhooks_queued", "gauge", "Webhook requests waiting for a slot.",
	    (double)webhook_queued());
	family(&o, "loopd_connections", "gauge", "Open HTTP connections.",
	    (double)http_connections());
	family(&o, "loopd_store_writable", "gauge", "1 when the store accepts writes.",
	    store_writable() ? 1 : 0);
	http_conn_counts(&cut_slow, &evicted_idle, &evicted_slow);
	out_printf(&o, "# HELP loopd_http_connections_closed_total Connections loopd closed: "
	    "request not in after request_timeout (slow), or to make room at max_connections "
	    "(idle, sending).\n# TYPE loopd_http_connections_closed_total counter\n"
	    "loopd_http_connections_closed_total{reason=\"slow\"} %llu\n"
	    "loopd_http_connections_closed_total{reason=\"idle\"} %llu\n"
	    "loopd_http_connections_closed_total{reason=\"sending\"} %llu\n",
	    (unsigned long long)cut_slow, (unsigned long long)evicted_idle,
	    (unsigned long long)evicted_slow);
	api_events_counts(&streams, &opened, &refused);
	events_counts(&emitted, &published);
	family(&o, "loopd_event_streams", "gauge", "Open GET /v1/events streams.",
	    (double)streams);
	family(&o, "loopd_event_streams_opened_total", "counter", "Event streams opened.",
	    (double)opened);
	family(&o, "loopd_event_streams_refused_total", "counter",
	    "Event streams refused at max_event_streams.", (double)refused);
	family(&o, "loopd_events_published_total", "counter",
	    "Change events published (durable) to the event streams.", (double)published);
	out_printf(&o, "# HELP loopd_http_requests_total Replies sent, by route and status.\n"
	    "# TYPE loopd_http_requests_total counter\n");
	http_foreach_count(http_sample, &o);
	if (o.buf == NULL) {
		http_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	http_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", o.buf);
}
