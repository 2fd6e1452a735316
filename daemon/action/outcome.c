/*
 * outcome: a call's run from its dispatch to its end: the spec decoded
 * once, retries with backoff, settling (see outcome.h).
 */
#include "daemon/action/outcome.h"

#include <sys/queue.h>
#include <sys/random.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/core/idmap.h"
#include "daemon/core/sched.h"
#include "proto/codec.h"

/* A run as the table keeps it. */
struct run {
	struct outcome_run r;		/* first: a run is its outcome_run */
	TAILQ_ENTRY(run) link;
};

/* A call waiting to try its action again. */
struct retry {
	TAILQ_ENTRY(retry) link;
	uint64_t id;
	struct event *ev;
};

static struct {
	struct event_base *base;
	void (*rerun)(struct future *c);
	int64_t backoff;		/* defaults for a retry policy */
	int64_t max_backoff;
	struct idmap runs;		/* id -> struct run */
	TAILQ_HEAD(, run) run_list;
	TAILQ_HEAD(, retry) retries;
} outcome;

int
outcome_init(struct event_base *base, void (*rerun)(struct future *c))
{
	outcome.base = base;
	outcome.rerun = rerun;
	idmap_init(&outcome.runs);
	TAILQ_INIT(&outcome.run_list);
	TAILQ_INIT(&outcome.retries);
	return 0;
}

void
outcome_configure(int64_t backoff, int64_t max_backoff)
{
	outcome.backoff = backoff;
	outcome.max_backoff = max_backoff;
}

struct outcome_run *
outcome_find(uint64_t id)
{
	return idmap_get(&outcome.runs, id);
}

struct outcome_run *
outcome_begin(struct future *c)
{
	struct run *run = idmap_get(&outcome.runs, c->id);
	struct proto_error err = { "" };
	const char *text;
	char *tmp;

	if (run != NULL)
		return &run->r;
	if ((run = calloc(1, sizeof(*run))) == NULL)
		return NULL;
	run->r.id = c->id;
	/* The one decoding of the stored text: the run keeps the result. */
	if ((text = future_spec(c, &tmp)) == NULL)
		snprintf(run->r.why, sizeof(run->r.why),
		    "the call's action could not be read back from the store");
	else if (proto_spec_decode(text, strlen(text), &run->r.spec, &err) == -1)
		snprintf(run->r.why, sizeof(run->r.why), "the stored %s is invalid",
		    run->r.spec.action == PROTO_COMMAND ? "command" :
		    run->r.spec.action == PROTO_WEBHOOK ? "webhook" : "spec");
	else
		run->r.decoded = 1;
	free(tmp);
	runlog_describe(&run->r.spec, run->r.decoded, &run->r.what);
	if (idmap_put(&outcome.runs, c->id, run) == -1) {
		proto_spec_free(&run->r.spec);
		free(run);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&outcome.run_list, run, link);
	return &run->r;
}

/* Drop a run. */
static void
run_free(struct run *run)
{
	TAILQ_REMOVE(&outcome.run_list, run, link);
	proto_spec_free(&run->r.spec);
	free(run);
}

void
outcome_forget(uint64_t id)
{
	struct run *run = idmap_del(&outcome.runs, id);

	if (run != NULL)
		run_free(run);
}

json_t *
outcome_utf8(const char *b, size_t len)
{
	char *out = malloc(len * 3 + 1);
	size_t o = 0, i = 0;
	json_t *s;

	if (out == NULL)
		return NULL;
	while (i < len) {
		unsigned char c = (unsigned char)b[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
		    (c & 0xf8) == 0xf0 ? 4 : 0;
		int ok = n > 0 && i + n <= len;
		uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;

		for (size_t j = 1; ok && j < n; j++) {
			ok = ((unsigned char)b[i + j] & 0xc0) == 0x80;
			cp = (cp << 6) | ((unsigned char)b[i + j] & 0x3f);
		}
		/* No overlong forms, surrogates or values past U+10FFFF. */
		if (ok && ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)))
			ok = 0;
		if (ok) {
			memcpy(out + o, b + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	s = json_stringn(out, o);
	free(out);
	return s;
}

/* What the run log says call id runs (NULL: no run known). */
static const struct runlog_action *
run_what(uint64_t id)
{
	struct outcome_run *run = outcome_find(id);

	return run != NULL ? &run->what : NULL;
}

void
outcome_finish(uint64_t id, json_t *o, int is_exc)
{
	struct future *c = future_find(id);
	char *text = o ? proto_encode(o) : NULL;

	if (c != NULL && !future_done(c))
		runlog_end(c, run_what(id), c->cancel_requested ? NULL : o, is_exc);
	json_decref(o);
	outcome_forget(id);
	if (c == NULL) {
		free(text);
		return;
	}
	if (text == NULL) {
		/* Out of memory while encoding: the call still ends. */
		text = strdup("{\"type\":\"InternalError\",\"message\":\"out of memory\"}");
		is_exc = 1;
	}
	sched_finish(c, text, is_exc);
}

void
outcome_fail(struct future *c, const char *type, const char *msg)
{
	outcome_finish(c->id, json_pack("{s:s, s:s}", "type", type, "message", msg), 1);
}

void
outcome_cancelled(struct future *c)
{
	if (!future_done(c))
		runlog_end(c, run_what(c->id), NULL, 0);
	outcome_forget(c->id);
	sched_finish(c, NULL, 0);	/* cancel_requested: ends cancelled */
}

int64_t
outcome_backoff(double backoff, double max_backoff, uint32_t n, uint32_t r)
{
	double d = backoff * pow(2, n > 60 ? 60 : (double)n - 1);

	if (d > max_backoff)
		d = max_backoff;
	return (int64_t)(d * 1e6 * (0.5 + 0.5 * (r / 4294967296.0)));
}

/* The delay before attempt n + 1: outcome_backoff with a random share. */
static int64_t
retry_delay(double backoff, double max_backoff, uint32_t n)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)random();
	return outcome_backoff(backoff, max_backoff, n, r);
}

/* A retry's backoff is over: try again. */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct retry *rt = arg;
	struct future *c = future_find(rt->id);

	TAILQ_REMOVE(&outcome.retries, rt, link);
	event_free(rt->ev);
	free(rt);
	if (c != NULL && !future_done(c))
		outcome.rerun(c);
}

int
outcome_retry(struct future *c, const json_t *failure, int default_attempts, int64_t delay_us)
{
	struct outcome_run *run = outcome_find(c->id);
	const struct proto_retry *policy = run != NULL && run->decoded ? &run->spec.retry : NULL;
	int attempts = default_attempts;
	double backoff = (double)outcome.backoff / 1e6;
	double max_backoff = (double)outcome.max_backoff / 1e6;
	struct retry *rt = NULL;
	struct timeval tv;
	char *text = NULL;

	if (policy != NULL && policy->attempts > 0)
		attempts = policy->attempts;
	if (c->cancel_requested || (int64_t)c->attempts >= attempts)
		goto no;
	if (policy != NULL && policy->has_backoff)
		backoff = policy->backoff;
	if (policy != NULL && policy->has_max_backoff)
		max_backoff = policy->max_backoff;
	if ((text = proto_encode(failure)) == NULL || (rt = calloc(1, sizeof(*rt))) == NULL ||
	    (rt->ev = evtimer_new(outcome.base, retry_cb, rt)) == NULL)
		goto no;
	rt->id = c->id;
	free(c->outcome);
	c->outcome = text;
	future_touch(c);
	if (delay_us < 0)
		delay_us = retry_delay(backoff, max_backoff, c->attempts);
	runlog_retry(c, run != NULL ? &run->what : NULL, failure, delay_us);
	tv = clock_timeval(delay_us);
	evtimer_add(rt->ev, &tv);
	TAILQ_INSERT_TAIL(&outcome.retries, rt, link);
	return 1;
no:
	free(text);
	free(rt);
	return 0;
}

int
outcome_retry_cancel(uint64_t id)
{
	struct retry *rt;

	TAILQ_FOREACH(rt, &outcome.retries, link)
		if (rt->id == id)
			break;
	if (rt == NULL)
		return 0;
	TAILQ_REMOVE(&outcome.retries, rt, link);
	event_free(rt->ev);
	free(rt);
	return 1;
}

void
outcome_shutdown(void)
{
	struct retry *rt;
	struct run *run;

	while ((rt = TAILQ_FIRST(&outcome.retries)) != NULL)
		outcome_retry_cancel(rt->id);
	while ((run = TAILQ_FIRST(&outcome.run_list)) != NULL) {
		idmap_del(&outcome.runs, run->r.id);
		run_free(run);
	}
	idmap_free(&outcome.runs);
}
