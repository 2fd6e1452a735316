/*
 * api_events: GET /v1/events, the live event stream (Server-Sent Events)
 * that the web console follows.
 *
 * Each stream is a cursor into the core's ring (daemon/core/events): it
 * sends the published events after its cursor, then sleeps until the
 * ring publishes more (events are published once durable) or the
 * keep-alive tick asks for a comment line. A reconnecting client names
 * the last event it saw (Last-Event-ID, or ?last_event_id=); if events it
 * has not seen left the ring, or the number is from an earlier run of
 * the daemon, it gets one `event: reset` first and must list objects
 * afresh. Streams are capped (max_event_streams) below the connection
 * limits, so they never take the API's connection slots, and end cleanly
 * on drain (the server's streams end once they have sent what they have).
 */
#include <sys/queue.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/config.h"
#include "daemon/core/events.h"
#include "daemon/core/future.h"
#include "daemon/http/api.h"
#include "proto/codec.h"

/* One open stream. */
struct api_stream {
	struct http_req *r;
	uint64_t next;			/* the next event to send */
	int reset;			/* send `event: reset` first */
	int hello;			/* send the retry hint first */
	int keepalive;			/* send a comment line */
	int awake;			/* woken, not yet back to sleep */
	char buf[640];			/* an event being sent, in parts */
	size_t len, off;
	LIST_ENTRY(api_stream) link;
};

static void event_format(struct api_stream *s, const struct events_event *e);

/* Events as SSE text, formatted once for every stream: slot seq % size. */
#define TEXT_SLOTS 4096
struct event_text {
	uint64_t seq;
	size_t len;
	char text[sizeof(((struct api_stream *)0)->buf)];
};

/* Streams are woken as soon as events are published, unless the last
 * wake is still being sent (some stream woken then has not gone back to
 * sleep), or ended less than twice the time it took ago, or began less
 * than WAKE_MIN_US ago: the next wake then waits for that, or for WAKE_US
 * after the last one, whichever comes first (a stream whose reader is
 * slow keeps the others waiting no longer than that). Each wake costs
 * every stream a resume, a write and a suspend: so under load the
 * streams take at most about a third of the loop, events published
 * meanwhile go out together in the next wake, and the API keeps its
 * throughput (bench/events); when the loop is idle an event goes out at
 * once. */
#define WAKE_US 5000
#define WAKE_MIN_US 1000

static struct {
	LIST_HEAD(, api_stream) all;
	struct event_text *texts;	/* TEXT_SLOTS, allocated with a stream */
	struct event *wake_ev;		/* a wake is due */
	int64_t last_wake;		/* monotonic us */
	size_t awake;			/* streams woken, not yet asleep again */
	int64_t asleep_at;		/* ... all asleep again since (monotonic us) */
	int64_t cost;			/* how long the last wake took (us) */
	int wanted;			/* published events wait for a wake */
	size_t n;
	uint64_t refused;		/* streams refused at max_event_streams */
	uint64_t opened;
	struct event *tick_ev;		/* keep-alive comments */
	int64_t tick_us;
	int listening;
} streams;

/* Monotonic time in us. */
static int64_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Wake every stream that has something new to send. */
static void
streams_wake_now(evutil_socket_t fd, short what, void *arg)
{
	struct api_stream *s;
	uint64_t end = events_next_seq();

	streams.last_wake = mono_now();
	streams.wanted = 0;
	if (streams.wake_ev != NULL)
		evtimer_del(streams.wake_ev);
	LIST_FOREACH(s, &streams.all, link)
		if (s->next < end || s->keepalive) {
			if (!s->awake) {
				s->awake = 1;
				streams.awake++;
			}
			http_stream_wake(s->r);
		}
}

/* Run streams_wake_now after wait us (0: on the next loop turn, out of
 * the reader that asked). -1 if the timer cannot be made. */
static int
streams_wake_after(int64_t wait)
{
	struct timeval tv = { (time_t)(wait / 1000000), (suseconds_t)(wait % 1000000) };

	if (streams.wake_ev == NULL &&
	    (streams.wake_ev = evtimer_new(api_base, streams_wake_now, NULL)) == NULL)
		return -1;
	return evtimer_add(streams.wake_ev, &tv);
}

/* When the next wake may be: WAKE_US after the last one, or sooner once
 * it has been sent: twice as long after as it took, WAKE_MIN_US after
 * it began at the soonest. */
static int64_t
streams_next_wake(void)
{
	int64_t latest = streams.last_wake + WAKE_US, soon = streams.asleep_at + 2 * streams.cost;

	if (soon < streams.last_wake + WAKE_MIN_US)
		soon = streams.last_wake + WAKE_MIN_US;
	return streams.awake == 0 && soon < latest ? soon : latest;
}

/* Events were published: wake the streams now, or when streams_next_wake
 * says. */
static void
streams_wake(void *arg)
{
	int64_t wait;

	if (LIST_EMPTY(&streams.all) || streams.wanted)
		return;
	wait = streams_next_wake() - mono_now();
	if (wait <= 0) {
		streams_wake_now(-1, 0, NULL);
		return;
	}
	streams.wanted = 1;
	if (streams_wake_after(wait) == -1)
		streams_wake_now(-1, 0, NULL);
}

/* Stream s sent what it had and goes back to sleep. Once the last one of
 * a wake does, the events that wait may go out sooner than WAKE_US. */
static void
stream_asleep(struct api_stream *s)
{
	int64_t now, wait;

	if (!s->awake)
		return;
	s->awake = 0;
	if (--streams.awake > 0)
		return;
	now = mono_now();
	streams.asleep_at = now;
	streams.cost = now - streams.last_wake;
	wait = streams_next_wake() - now;
	/* Always on a timer: this runs inside the reader, before the server
	 * puts the stream to sleep. */
	if (streams.wanted && streams_wake_after(wait > 0 ? wait : 0) == -1)
		streams.wanted = 0;	/* the WAKE_US timer still runs */
}

/* Keep-alive tick: every stream sends a comment line. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_stream *s;

	LIST_FOREACH(s, &streams.all, link)
		s->keepalive = 1;
	streams_wake_now(-1, 0, NULL);
}

/* Put event e's SSE text into s->buf: formatted once, copied for every
 * other stream. */
static void
event_text(struct api_stream *s, const struct events_event *e)
{
	struct event_text *t = streams.texts ? &streams.texts[e->seq % TEXT_SLOTS] : NULL;

	if (t != NULL && t->seq == e->seq && t->len > 0) {
		memcpy(s->buf, t->text, t->len);
		s->len = t->len;
		s->off = 0;
		return;
	}
	event_format(s, e);
	if (t != NULL) {
		memcpy(t->text, s->buf, s->len);
		t->len = s->len;
		t->seq = e->seq;
	}
}

/* Format event e as SSE text into s->buf. */
static void
event_format(struct api_stream *s, const struct events_event *e)
{
	char id[24];
	int call = e->kind <= EVENTS_CALL_CANCELLED;
	int n;

	proto_id_format(e->id, e->kind == EVENTS_SCHEDULE_CHANGED ? 's' : call ? 'c' : 'f', id);
	n = snprintf(s->buf, sizeof(s->buf), "id: %llu\nevent: %s\ndata: {\"id\":\"%s\","
	    "\"kind\":\"%s\",\"t\":%.6f", (unsigned long long)e->seq, events_kind_name(e->kind),
	    id, e->kind == EVENTS_SCHEDULE_CHANGED ? "schedule" : call ? "call" : "future",
	    (double)e->at / 1e6);
	if (e->kind != EVENTS_SCHEDULE_CHANGED && n > 0 && (size_t)n < sizeof(s->buf))
		n += snprintf(s->buf + n, sizeof(s->buf) - (size_t)n, ",\"state\":\"%s\"",
		    future_state_name(e->state));
	if (call && n > 0 && (size_t)n < sizeof(s->buf))
		n += snprintf(s->buf + n, sizeof(s->buf) - (size_t)n, ",\"phase\":\"%s\","
		    "\"attempts\":%u,\"late\":%s,\"due_unix\":%.6f", call_phase_name(e->phase),
		    e->attempts, e->late ? "true" : "false", (double)e->due_unix / 1e6);
	if (e->state == FUTURE_FINISHED && n > 0 && (size_t)n < sizeof(s->buf))
		n += snprintf(s->buf + n, sizeof(s->buf) - (size_t)n, ",\"outcome\":\"%s\"",
		    e->has_exception ? "exception" : "result");
	if (n > 0 && (size_t)n < sizeof(s->buf))
		n += snprintf(s->buf + n, sizeof(s->buf) - (size_t)n, "}\n\n");
	s->len = n > 0 && (size_t)n < sizeof(s->buf) ? (size_t)n : 0;
	s->off = 0;
}

/* The server wants bytes: the part of an event left over, the hello,
 * the reset, events, a keep-alive comment; 0 when there is nothing. */
static ssize_t
stream_read(struct http_req *r, char *out, size_t max)
{
	struct api_stream *s = http_hold_arg(r);
	const struct events_event *e;
	size_t done = 0, k;

	for (;;) {
		if (s->off < s->len) {
			k = s->len - s->off < max - done ? s->len - s->off : max - done;
			memcpy(out + done, s->buf + s->off, k);
			s->off += k;
			done += k;
			if (s->off < s->len)
				break;		/* out is full */
		}
		if (done == max)
			break;
		if (s->hello) {
			/* The id of the last event before this stream, so that
			 * a client that hears of no change still reconnects
			 * with a Last-Event-ID and is told what it missed. */
			s->hello = 0;
			s->len = (size_t)snprintf(s->buf, sizeof(s->buf), s->reset ?
			    "retry: 2000\n: loopd events\n\n" : "retry: 2000\nid: %llu\n"
			    ": loopd events\n\n", (unsigned long long)(s->next - 1));
		} else if (s->reset) {
			s->reset = 0;
			s->len = (size_t)snprintf(s->buf, sizeof(s->buf), "id: %llu\nevent: reset\n"
			    "data: {\"next\":%llu}\n\n", (unsigned long long)(s->next - 1),
			    (unsigned long long)s->next);
		} else if (s->next < events_next_seq()) {
			if ((e = events_get(s->next)) == NULL) {
				s->reset = 1;	/* overtaken by the ring */
				s->next = events_next_seq();
				continue;
			}
			s->next++;
			if (e->gone)
				continue;
			event_text(s, e);
		} else if (s->keepalive) {
			s->keepalive = 0;
			s->len = (size_t)snprintf(s->buf, sizeof(s->buf), ": keep-alive\n\n");
		} else
			break;
		s->off = 0;
	}
	if (done == 0)
		stream_asleep(s);
	return (ssize_t)done;
}

/* The stream's request is over. */
static void
stream_cleanup(struct http_req *r)
{
	struct api_stream *s = http_hold_take(r);

	if (s == NULL)
		return;
	stream_asleep(s);
	LIST_REMOVE(s, link);
	streams.n--;
	free(s);
	if (streams.n == 0 && streams.tick_ev != NULL)
		evtimer_del(streams.tick_ev);
}

/* Start the keep-alive tick at the configured period. */
static void
tick_start(void)
{
	int64_t us = api_cfg->event_keepalive > 0 ? api_cfg->event_keepalive : 15000000;
	struct timeval tv = { (time_t)(us / 1000000), (suseconds_t)(us % 1000000) };

	if (streams.tick_ev == NULL &&
	    (streams.tick_ev = event_new(api_base, -1, EV_PERSIST, tick_cb, NULL)) == NULL)
		return;
	if (us != streams.tick_us || !evtimer_pending(streams.tick_ev, NULL)) {
		streams.tick_us = us;
		evtimer_add(streams.tick_ev, &tv);
	}
}

/* GET /v1/events[?last_event_id=N] */
void
api_events(struct http_req *r, struct api_args *a)
{
	static const char *const known[] = { "last_event_id", NULL };
	const char *last = http_header(r, "Last-Event-ID"), *bad;
	struct api_stream *s;
	unsigned long long n = 0;
	char *end;

	if ((bad = http_query_unknown(r, known)) != NULL) {
		http_reply_problem(r, 400, NULL, "%.64s: unknown query parameter", bad);
		return;
	}
	if (last == NULL)
		last = http_query(r, "last_event_id");
	if (last != NULL && *last != '\0') {
		errno = 0;
		n = strtoull(last, &end, 10);
		if (*end != '\0' || errno != 0) {
			http_reply_problem(r, 400, NULL, "Last-Event-ID: must be an event's id");
			return;
		}
	}
	if (streams.n >= api_cfg->max_event_streams) {
		streams.refused++;
		http_reply_problem(r, 503, NULL, "too many event streams (max_event_streams = "
		    "%llu); poll instead", (unsigned long long)api_cfg->max_event_streams);
		http_set_retry_after(r, 5);
		return;
	}
	if (streams.texts == NULL)
		streams.texts = calloc(TEXT_SLOTS, sizeof(*streams.texts));
	if (!http_has_connection(r) || streams.texts == NULL || (s = calloc(1, sizeof(*s))) == NULL) {
		http_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	if (!streams.listening) {
		LIST_INIT(&streams.all);
		events_set_listener(streams_wake, NULL);
		streams.listening = 1;
	}
	s->r = r;
	s->hello = 1;
	s->reset = events_since(n, &s->next) == -1;
	LIST_INSERT_HEAD(&streams.all, s, link);
	streams.n++;
	streams.opened++;
	tick_start();
	http_stream(r, "text/event-stream; charset=utf-8", stream_read, s, stream_cleanup);
}

void
api_events_counts(size_t *open, uint64_t *opened, uint64_t *refused)
{
	*open = streams.n;
	*opened = streams.opened;
	*refused = streams.refused;
}

void
api_events_shutdown(void)
{
	if (streams.tick_ev != NULL)
		event_free(streams.tick_ev);
	if (streams.wake_ev != NULL)
		event_free(streams.wake_ev);
	streams.tick_ev = streams.wake_ev = NULL;
	free(streams.texts);
	streams.texts = NULL;
}
