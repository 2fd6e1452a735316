/*
 * api_logs: GET /v1/logs?after=SEQ&wait=S&limit=N - the recent run
 * records (daemon/action/runlog), oldest first, each with its "seq". With
 * wait, a request that finds nothing after SEQ is held until a record
 * comes or the wait (at most max_wait) is over, so `loopctl logs -f`
 * follows the runs with one request at a time.
 */
#include <sys/queue.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/action/runlog.h"
#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/http/api.h"
#include "proto/jsonbuf.h"

/* A held follow request. */
struct log_poll {
	TAILQ_ENTRY(log_poll) link;
	struct http_req *r;
	uint64_t after;
	size_t limit;
	struct event *timer;		/* the wait is over */
};

static struct {
	TAILQ_HEAD(, log_poll) held;
	size_t n;
	struct event *wake_ev;		/* new records: answer on the next turn */
	int ready;
} log_polls;

/* A reply being built. */
struct logs_out {
	struct jsonbuf b;
	size_t n;
};

/* Append one record's text to the reply being built. */
static void
logs_item(const char *text, void *arg)
{
	struct logs_out *o = arg;

	if (o->n++ > 0)
		jsonbuf_char(&o->b, ',');
	jsonbuf_raw(&o->b, text, strlen(text));
}

/* Whether a request for the records after `after` has something to get
 * now: newer records, or (a number from an earlier run, past the newest)
 * any record. */
static int
logs_have(uint64_t after)
{
	uint64_t last = runlog_last();

	return last != 0 && last != after;
}

/* Reply to r with the records after `after`, at most limit of them:
 * {"items": [...], "next_after": SEQ}. Returns how many. */
static size_t
logs_answer(struct http_req *r, uint64_t after, size_t limit)
{
	struct logs_out o = { .n = 0 };
	uint64_t last = runlog_last(), start, next;
	char *text;

	jsonbuf_init(&o.b);
	jsonbuf_raw(&o.b, "{\"items\":[", 10);
	runlog_after(after, limit, logs_item, &o);
	/* Where the next request starts: after what was sent. The records
	 * kept have consecutive numbers; a number from an earlier run (past
	 * the newest) counts as 0. */
	start = after > last ? 0 : after;
	if (o.n > 0)
		next = (start + 1 > runlog_first() ? start + 1 : runlog_first()) + o.n - 1;
	else
		next = start;
	jsonbuf_raw(&o.b, "],\"next_after\":", 15);
	jsonbuf_int(&o.b, (long long)next);
	jsonbuf_char(&o.b, '}');
	if ((text = jsonbuf_finish(&o.b)) == NULL)
		http_reply_problem(r, 503, NULL, "out of memory");
	else
		http_reply_text(r, 200, "application/json", text);
	return o.n;
}

/* Take p off the held list and free it. Accepts NULL. */
static void
logs_poll_free(struct log_poll *p)
{
	if (p == NULL)
		return;
	TAILQ_REMOVE(&log_polls.held, p, link);
	log_polls.n--;
	if (p->timer != NULL)
		event_free(p->timer);
	free(p);
}

/* A held request is done with (replied to, or its client went away). */
static void
logs_cleanup(struct http_req *r)
{
	logs_poll_free(http_hold_take(r));
}

/* Shutdown, or the wait is over: answer with what there is. */
static void
logs_expire(struct http_req *r)
{
	struct log_poll *p = http_hold_arg(r);

	logs_answer(r, p->after, p->limit);
}

/* The wait of a held request is over. */
static void
logs_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct log_poll *p = arg;
	struct http_req *r = p->r;

	logs_answer(r, p->after, p->limit);
	http_resume(r);
}

/* New records came: answer every held request (on the turn after). */
static void
logs_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct log_poll *p, *next;

	for (p = TAILQ_FIRST(&log_polls.held); p != NULL; p = next) {
		next = TAILQ_NEXT(p, link);
		if (logs_have(p->after)) {
			evtimer_del(p->timer);
			logs_answer(p->r, p->after, p->limit);
			http_resume(p->r);
		}
	}
}

/* runlog's listener: a record was added. */
static void
logs_notify(void *arg)
{
	if (log_polls.n > 0 && log_polls.wake_ev != NULL)
		event_active(log_polls.wake_ev, EV_TIMEOUT, 0);
}

/* Set up on first use (the loop is known by then). 0 or -1. */
static int
logs_setup(void)
{
	if (log_polls.ready)
		return 0;
	if ((log_polls.wake_ev = event_new(api_base, -1, 0, logs_wake_cb, NULL)) == NULL)
		return -1;
	TAILQ_INIT(&log_polls.held);
	runlog_set_notify(logs_notify, NULL);
	log_polls.ready = 1;
	return 0;
}

/* Parse a query value as a whole number from lo to hi into *out; 0, or
 * -1 after replying 400. */
static int
logs_query_count(struct http_req *r, const char *name, unsigned long long lo,
    unsigned long long hi, unsigned long long *out)
{
	const char *v = http_query(r, name);
	unsigned long long n;
	char *end;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < lo || n > hi || *v == '-') {
		http_reply_problem(r, 400, NULL, "%s: must be a whole number from %llu to %llu",
		    name, lo, hi);
		return -1;
	}
	*out = n;
	return 0;
}

/* GET /v1/logs?after=SEQ&wait=S&limit=N */
void
api_logs(struct http_req *r, struct api_args *a)
{
	static const char *const known[] = { "after", "wait", "limit", NULL };
	unsigned long long after = 0, limit = RUNLOG_CAP;
	struct timeval tv;
	struct log_poll *p;
	const char *bad;
	double wait = 0;
	int64_t us;

	if ((bad = http_query_unknown(r, known)) != NULL) {
		http_reply_problem(r, 400, NULL, "%.64s: unknown query parameter", bad);
		return;
	}
	if (logs_query_count(r, "after", 0, UINT64_MAX, &after) == -1 ||
	    logs_query_count(r, "limit", 1, RUNLOG_CAP, &limit) == -1 ||
	    api_query_seconds(r, "wait", &wait) == -1)
		return;
	if (wait == 0 || logs_setup() == -1 || log_polls.n >= api_cfg->max_waiters ||
	    logs_have(after)) {
		logs_answer(r, after, (size_t)limit);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->timer = evtimer_new(api_base, logs_timer_cb, p)) == NULL) {
		free(p);
		http_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	p->r = r;
	p->after = after;
	p->limit = (size_t)limit;
	TAILQ_INSERT_TAIL(&log_polls.held, p, link);
	log_polls.n++;
	/* Too long a wait is capped at max_wait, not refused. */
	us = clock_from_seconds(wait);
	if (us > api_cfg->max_wait || us < 0)
		us = api_cfg->max_wait;
	tv = clock_timeval(us);
	evtimer_add(p->timer, &tv);
	http_hold(r, p, logs_expire, logs_cleanup);
}
