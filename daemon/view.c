/*
 * view: encoding of calls and futures.
 */
#include "daemon/view.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "proto/codec.h"
#include "proto/jsonbuf.h"

char *
view_id(const struct future *f, char *buf)
{
	return proto_id_format(f->id, f->kind == FUTURE_CALL ? 'c' : 'f', buf);
}

json_t *
view_load(const char *text)
{
	return text ? json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
}

/* Append ,"key":<seconds> for a loop time. */
static void
put_time(struct jsonbuf *b, const char *key, int64_t us)
{
	jsonbuf_char(b, ',');
	jsonbuf_key(b, key);
	jsonbuf_seconds(b, us);
}

/* Append a literal of ours (a C string constant: no escaping). */
#define put_lit(b, s) jsonbuf_raw((b), (s), sizeof(s) - 1)

/* Append "word", a word of ours (a state, a phase: nothing to escape),
 * after the literal ,"key": that came before. */
static void
put_word(struct jsonbuf *b, const char *word)
{
	jsonbuf_raw(b, word, strlen(word));
	jsonbuf_char(b, '"');
}

/* Append ,"key":"value". */
static void
put_string(struct jsonbuf *b, const char *key, const char *value)
{
	jsonbuf_char(b, ',');
	jsonbuf_key(b, key);
	jsonbuf_string(b, value, strlen(value));
}

/* Append ,"key":<stored JSON text> (null if there is none). */
static void
put_stored(struct jsonbuf *b, const char *key, const char *text)
{
	jsonbuf_char(b, ',');
	jsonbuf_key(b, key);
	if (text != NULL)
		jsonbuf_raw(b, text, strlen(text));
	else
		jsonbuf_raw(b, "null", 4);
}

/* Append the members of a stored spec object ({"command":...}). The
 * stored text is our own canonical dump, so its members are spliced as
 * they are instead of being parsed and encoded again. */
static void
put_spec(struct jsonbuf *b, const char *spec)
{
	size_t n = spec ? strlen(spec) : 0;

	if (n > 2 && spec[0] == '{' && spec[n - 1] == '}') {
		jsonbuf_char(b, ',');
		jsonbuf_raw(b, spec + 1, n - 2);
	}
}

/* Append ,"waiters":N,"callbacks":M for a pending object: what waits
 * for it (long-polls, wait sets) and the done-callbacks it will start. */
static void
put_waiting(struct jsonbuf *b, const struct future *f)
{
	const struct waiter *w;
	const struct future *cb;
	int64_t nw = 0, ncb = 0;

	if (f->x != NULL) {
		TAILQ_FOREACH(w, &f->x->waiters, link)
			nw++;
		TAILQ_FOREACH(cb, &f->x->callbacks, link)
			ncb++;
	}
	jsonbuf_raw(b, ",\"waiters\":", 11);
	jsonbuf_int(b, nw);
	jsonbuf_raw(b, ",\"callbacks\":", 13);
	jsonbuf_int(b, ncb);
}

void
view_write(struct jsonbuf *b, const struct future *f)
{
	const char *spec;
	char id[20], *tmp;

	/* Ids, kinds, states, phases and triggers are words of ours, written
	 * as they are (jsonbuf_string would find nothing to escape). */
	view_id(f, id);
	put_lit(b, "{\"id\":\"");
	put_word(b, id);
	if (f->kind == FUTURE_CALL)
		put_lit(b, ",\"kind\":\"call\",\"state\":\"");
	else
		put_lit(b, ",\"kind\":\"future\",\"state\":\"");
	put_word(b, future_state_name(f->state));
	if (future_name(f) != NULL)
		put_string(b, "name", future_name(f));
	put_time(b, "created", f->created);
	if (f->kind == FUTURE_CALL) {
		put_lit(b, ",\"phase\":\"");
		put_word(b, call_phase_name(f->phase));
		put_lit(b, ",\"trigger\":\"");
		put_word(b, call_trigger_name(f->trigger));
		if (f->trigger == TRIGGER_ON_DONE)
			put_string(b, "on_done", proto_id_format(future_target(f),
			    future_target_kind(f) == FUTURE_CALL ? 'c' : 'f', id));
		if (f->trigger != TRIGGER_ON_DONE || f->phase != CALL_WAITING) {
			put_time(b, "due", f->due);
			put_time(b, "due_unix", f->due_unix);
		}
		if (f->started != 0)
			put_time(b, "started", f->started);
		jsonbuf_raw(b, ",\"attempts\":", 12);
		jsonbuf_int(b, f->attempts);
		if (f->late)
			jsonbuf_raw(b, ",\"late\":true", 12);
		if (f->x != NULL && f->x->schedule != 0) {
			put_string(b, "schedule", proto_id_format(f->x->schedule, 's', id));
			jsonbuf_char(b, ',');
			jsonbuf_key(b, "scheduled_for");
			jsonbuf_seconds(b, f->x->scheduled_for);
		}
		if ((spec = future_spec(f, &tmp)) == NULL)
			jsonbuf_fail(b);
		put_spec(b, spec);
		free(tmp);
	} else if (f->due != 0 && f->state == FUTURE_PENDING)
		put_time(b, "timeout_at", f->due);
	if (f->state == FUTURE_PENDING)
		put_waiting(b, f);
	else
		put_time(b, "finished", f->finished);
	if (f->state == FUTURE_FINISHED)
		put_stored(b, f->has_exception ? "exception" : "result", f->outcome);
	else if (f->state == FUTURE_PENDING && f->outcome != NULL)
		put_stored(b, "last_error", f->outcome);
	jsonbuf_char(b, '}');
}

char *
view_text(const struct future *f)
{
	struct jsonbuf b;

	jsonbuf_init(&b);
	view_write(&b, f);
	return jsonbuf_finish(&b);
}

json_t *
view_object(const struct future *f)
{
	char *text = view_text(f);
	json_t *o = view_load(text);

	free(text);
	return o;
}
