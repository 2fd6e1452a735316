/*
 * runlog: run records, logged (log_run) and kept in a ring for
 * GET /v1/logs. A record is built once as JSON; its log line is written
 * from the same fields.
 */
#include "daemon/action/runlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/log.h"
#include "proto/codec.h"
#include "proto/spec.h"

struct runlog_rec {
	uint64_t seq;
	char *text;
};

static struct {
	struct runlog_rec ring[RUNLOG_CAP];
	size_t head;			/* index of the oldest record */
	size_t n;
	uint64_t next_seq;
	struct event *flush_ev;		/* tells lines the rate limit dropped */
	void (*notify)(void *);
	void *notify_arg;
} runlog;

/* Try again to tell how many lines were suppressed, until told. */
static void
runlog_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, 200000 };

	if (log_run_flush() > 0)
		evtimer_add(runlog.flush_ev, &tv);
}

int
runlog_init(struct event_base *base)
{
	runlog.next_seq = (uint64_t)clock_unix_now();
	if (runlog.next_seq == 0)
		runlog.next_seq = 1;
	runlog.flush_ev = evtimer_new(base, runlog_flush_cb, NULL);
	return runlog.flush_ev == NULL ? -1 : 0;
}

void
runlog_shutdown(void)
{
	for (size_t i = 0; i < runlog.n; i++)
		free(runlog.ring[(runlog.head + i) % RUNLOG_CAP].text);
	runlog.n = runlog.head = 0;
	if (runlog.flush_ev != NULL)
		event_free(runlog.flush_ev);
	runlog.flush_ev = NULL;
}

void
runlog_set_notify(void (*fn)(void *arg), void *arg)
{
	runlog.notify = fn;
	runlog.notify_arg = arg;
}

uint64_t
runlog_first(void)
{
	return runlog.n ? runlog.ring[runlog.head].seq : 0;
}

uint64_t
runlog_last(void)
{
	return runlog.n ? runlog.ring[(runlog.head + runlog.n - 1) % RUNLOG_CAP].seq : 0;
}

size_t
runlog_after(uint64_t after, size_t max, void (*fn)(const char *text, void *arg), void *arg)
{
	size_t i = 0, sent = 0;

	if (after > runlog_last())
		after = 0;
	/* Records are in seq order: skip to the first one after. */
	while (i < runlog.n && runlog.ring[(runlog.head + i) % RUNLOG_CAP].seq <= after)
		i++;
	for (; i < runlog.n && sent < max; i++, sent++)
		fn(runlog.ring[(runlog.head + i) % RUNLOG_CAP].text, arg);
	return sent;
}

/* Number rec, keep its text in the ring (dropping the oldest when full)
 * and tell the listener. rec is consumed. */
static void
runlog_keep(json_t *rec)
{
	struct runlog_rec *slot;
	char *text;

	if (rec == NULL)
		return;
	json_object_set_new(rec, "seq", json_integer((json_int_t)runlog.next_seq));
	json_object_set_new(rec, "time", json_real(clock_to_seconds(clock_unix_now())));
	text = proto_encode(rec);
	json_decref(rec);
	if (text == NULL)
		return;
	if (runlog.n == RUNLOG_CAP) {
		free(runlog.ring[runlog.head].text);
		runlog.head = (runlog.head + 1) % RUNLOG_CAP;
		runlog.n--;
	}
	slot = &runlog.ring[(runlog.head + runlog.n++) % RUNLOG_CAP];
	slot->seq = runlog.next_seq++;
	slot->text = text;
	if (runlog.notify != NULL)
		runlog.notify(runlog.notify_arg);
}

/* Write a run line; arm the timer that will tell suppressed lines. */
static void
runlog_line(int warn, const struct future *c, const char *outcome, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
runlog_line(int warn, const struct future *c, const char *outcome, const char *fmt, ...)
{
	struct timeval tv = { 1, 0 };
	char id[24], msg[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Names, programs and errors come from clients and children: no
	 * control characters, so that a name cannot forge a log line. */
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	proto_id_format(c->id, 'c', id);
	if (log_run(warn, id, future_name(c), outcome, "%s", msg) == -1 &&
	    runlog.flush_ev != NULL && !evtimer_pending(runlog.flush_ev, NULL))
		evtimer_add(runlog.flush_ev, &tv);
}

/* Field key of rec as text, or "?". */
static const char *
runlog_str(const json_t *rec, const char *key)
{
	const char *s = json_string_value(json_object_get(rec, key));

	return s != NULL ? s : "?";
}

void
runlog_describe(const struct proto_spec *spec, int decoded, struct runlog_action *out)
{
	const char *s, *p;
	size_t n;

	snprintf(out->kind, sizeof(out->kind), "%s", spec->action == PROTO_COMMAND ? "command" :
	    spec->action == PROTO_WEBHOOK ? "webhook" : "?");
	snprintf(out->what, sizeof(out->what), "?");
	if (!decoded)
		return;
	if (spec->action == PROTO_COMMAND) {
		s = json_string_value(json_array_get(spec->command.argv, 0));
		snprintf(out->what, sizeof(out->what), "%s", s != NULL ? s : "?");
		return;
	}
	if ((s = spec->webhook.url) == NULL)
		return;
	/* The host (and port) of scheme://[userinfo@]host[:port]/... */
	if ((p = strstr(s, "://")) != NULL)
		s = p + 3;
	n = strcspn(s, "/?#");
	if ((p = memchr(s, '@', n)) != NULL) {
		n -= (size_t)(p + 1 - s);
		s = p + 1;
	}
	snprintf(out->what, sizeof(out->what), "%.*s", (int)n, s);
}

/* The common fields of a record about call c, which runs what (NULL:
 * not known). */
static json_t *
runlog_rec(const struct future *c, const char *event, const struct runlog_action *what)
{
	char id[24];
	const char *name = future_name(c);
	json_t *rec;

	rec = json_pack("{s:s, s:s, s:s, s:s, s:i}", "event", event,
	    "id", proto_id_format(c->id, 'c', id), "kind", what ? what->kind : "?",
	    "action", what ? what->what : "?", "attempt", (json_int_t)c->attempts);
	if (rec != NULL && name != NULL)
		json_object_set_new(rec, "name", json_string(name));
	return rec;
}

void
runlog_start(const struct future *c, const struct runlog_action *what)
{
	json_t *rec = runlog_rec(c, "start", what);
	const char *name = future_name(c);
	int64_t now = clock_loop_now();
	double late = 0;
	char lbuf[48] = "";

	/* Lateness: how long past its due time a timed call starts. */
	if (c->trigger != TRIGGER_SOON && c->trigger != TRIGGER_ON_DONE && c->due > 0 &&
	    now > c->due) {
		late = clock_to_seconds(now - c->due);
		snprintf(lbuf, sizeof(lbuf), ", %.3fs late%s", late,
		    c->late ? " (after a restart)" : "");
	}
	if (rec != NULL) {
		json_object_set_new(rec, "lateness", json_real(late));
		if (c->late)
			json_object_set_new(rec, "late", json_true());
	}
	runlog_line(0, c, "started", "run %s%s%s%s started: %s %s, attempt %u%s",
	    runlog_str(rec, "id"), name ? " (" : "", name ? name : "",
	    name ? ")" : "", runlog_str(rec, "kind"), runlog_str(rec, "action"),
	    c->attempts + 1, lbuf);
	if (rec != NULL)
		json_object_set_new(rec, "attempt", json_integer((json_int_t)c->attempts + 1));
	runlog_keep(rec);
}

/* Describe outcome o (a result or exception) in buf; set the record's
 * status fields. */
static void
runlog_outcome(json_t *rec, const json_t *o, int is_exc, char *buf, size_t len)
{
	const json_t *code = json_object_get(o, "exit_code"), *sig = json_object_get(o, "signal");
	const json_t *status = json_object_get(o, "status"), *dur = json_object_get(o, "duration");
	const char *type = json_string_value(json_object_get(o, "type"));
	const char *msg = json_string_value(json_object_get(o, "message"));
	size_t at = 0;

	buf[0] = '\0';
#define ADD(...) do {								\
	if (at < len)								\
		at += (size_t)snprintf(buf + at, len - at, __VA_ARGS__);	\
} while (0)
	if (json_is_integer(sig)) {
		ADD("signal %lld", (long long)json_integer_value(sig));
		json_object_set_new(rec, "signal", json_deep_copy(sig));
	} else if (json_is_integer(code)) {
		ADD("exit %lld", (long long)json_integer_value(code));
		json_object_set_new(rec, "exit_code", json_deep_copy(code));
	} else if (json_is_integer(status)) {
		ADD("HTTP %lld", (long long)json_integer_value(status));
		json_object_set_new(rec, "status", json_deep_copy(status));
	}
	if (json_is_number(dur)) {
		ADD("%sin %.3fs", at ? " " : "", json_number_value(dur));
		json_object_set_new(rec, "duration", json_deep_copy(dur));
	}
	if (is_exc && type != NULL) {
		ADD("%s%s: %s", at ? ", " : "", type, msg != NULL ? msg : "");
		json_object_set_new(rec, "error", json_pack("{s:s, s:s}", "type", type,
		    "message", msg != NULL ? msg : ""));
	}
#undef ADD
}

void
runlog_end(const struct future *c, const struct runlog_action *what, const json_t *o,
    int is_exc)
{
	const char *outcome = o == NULL ? "cancelled" : is_exc ? "failed" : "ok";
	json_t *rec = runlog_rec(c, "end", what);
	const char *name = future_name(c);
	char desc[1024] = "";

	if (rec != NULL) {
		json_object_set_new(rec, "outcome", json_string(outcome));
		json_object_set_new(rec, "attempts", json_integer((json_int_t)c->attempts));
		json_object_del(rec, "attempt");
		if (o != NULL)
			runlog_outcome(rec, o, is_exc, desc, sizeof(desc));
	}
	runlog_line(is_exc, c, outcome, "run %s%s%s%s %s: %s %s%s%s, %u attempt%s",
	    runlog_str(rec, "id"), name ? " (" : "", name ? name : "",
	    name ? ")" : "", outcome,
	    runlog_str(rec, "kind"),
	    runlog_str(rec, "action"),
	    *desc ? ": " : "", desc, c->attempts, c->attempts == 1 ? "" : "s");
	runlog_keep(rec);
}

void
runlog_retry(const struct future *c, const struct runlog_action *what, const json_t *failure,
    int64_t delay_us)
{
	json_t *rec = runlog_rec(c, "end", what);
	const char *name = future_name(c);
	char desc[1024] = "";

	if (rec != NULL) {
		json_object_set_new(rec, "outcome", json_string("retrying"));
		json_object_set_new(rec, "retry_in", json_real(clock_to_seconds(delay_us)));
		runlog_outcome(rec, failure, 1, desc, sizeof(desc));
	}
	runlog_line(1, c, "retrying", "run %s%s%s%s attempt %u failed: %s %s: %s; "
	    "retrying in %.3fs", runlog_str(rec, "id"), name ? " (" : "",
	    name ? name : "", name ? ")" : "", c->attempts,
	    runlog_str(rec, "kind"),
	    runlog_str(rec, "action"), desc,
	    clock_to_seconds(delay_us));
	runlog_keep(rec);
}
