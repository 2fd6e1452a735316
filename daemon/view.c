/*
 * view: encoding of calls and futures.
 */
#include "daemon/view.h"

#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "proto/codec.h"

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

/* Set key to a loop time in seconds. */
static int
set_time(json_t *o, const char *key, int64_t us)
{
	return json_object_set_new(o, key, json_real(clock_to_seconds(us)));
}

json_t *
view_object(const struct future *f)
{
	json_t *o = json_object(), *spec;
	char id[20];
	int e = 0;

	if (o == NULL)
		return NULL;
	e |= json_object_set_new(o, "id", json_string(view_id(f, id)));
	e |= json_object_set_new(o, "kind", json_string(f->kind == FUTURE_CALL ? "call" : "future"));
	e |= json_object_set_new(o, "state", json_string(future_state_name(f->state)));
	if (f->name != NULL)
		e |= json_object_set_new(o, "name", json_string(f->name));
	e |= set_time(o, "created", f->created);
	if (f->kind == FUTURE_CALL) {
		e |= json_object_set_new(o, "phase", json_string(call_phase_name(f->phase)));
		e |= json_object_set_new(o, "trigger", json_string(call_trigger_name(f->trigger)));
		if (f->trigger == TRIGGER_ON_DONE)
			e |= json_object_set_new(o, "on_done",
			    json_string(proto_id_format(f->target,
			    f->target_kind == FUTURE_CALL ? 'c' : 'f', id)));
		if (f->trigger != TRIGGER_ON_DONE || f->phase != CALL_WAITING) {
			e |= set_time(o, "due", f->due);
			e |= json_object_set_new(o, "due_unix", json_real(f->due_unix / 1e6));
		}
		if (f->started != 0)
			e |= set_time(o, "started", f->started);
		e |= json_object_set_new(o, "attempts", json_integer(f->attempts));
		if (f->late)
			e |= json_object_set_new(o, "late", json_true());
		if ((spec = view_load(f->spec)) != NULL)
			e |= json_object_update(o, spec);
		json_decref(spec);
	} else if (f->due != 0 && f->state == FUTURE_PENDING)
		e |= set_time(o, "timeout_at", f->due);
	if (f->state != FUTURE_PENDING)
		e |= set_time(o, "finished", f->finished);
	if (f->state == FUTURE_FINISHED)
		e |= json_object_set_new(o, f->has_exception ? "exception" : "result",
		    f->outcome ? view_load(f->outcome) : json_null());
	else if (f->state == FUTURE_PENDING && f->outcome != NULL)
		e |= json_object_set_new(o, "last_error", view_load(f->outcome));
	if (e != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
