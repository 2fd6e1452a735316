/*
 * await: the long-poll loop shared by "await" and "schedule --wait".
 *
 * GET /v1/futures/{id}?wait=S returns the object as it stands after at most
 * S seconds, S capped by the daemon's max_wait; so the loop asks again with
 * what is left of the caller's timeout until the object is done.
 *
 * A wait survives a restart of loopd: a request that finds nobody there,
 * or a 502/503/504 (loopd shutting down answers held requests so), is
 * sent again with backoff until it is answered, for as long as the wait's
 * timeout allows (AWAIT_RECONNECT_MAX seconds of failing without one).
 * The calls and futures are durable, so the wait goes on where it was.
 */
#include "client/await.h"

#include <err.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/wire.h"
#include "client/loopctl.h"
#include "client/progress.h"

int
await_done(const json_t *obj)
{
	const char *state = json_string_value(json_object_get(obj, "state"));

	/* An object without a state cannot be waited on: take it as it is. */
	return state == NULL || strcmp(state, "pending") != 0;
}

double
await_hold(double timeout, double deadline)
{
	double left = deadline - ctl_now();

	if (timeout < 0 || left > AWAIT_HOLD)
		return AWAIT_HOLD;
	return left > 0 ? left : 0;
}

void
await_retry_init(struct await_retry *r, double timeout, double deadline)
{
	r->backoff = AWAIT_BACKOFF_MIN;
	r->give_up = timeout >= 0 ? deadline : -1;
	r->timeout = timeout;
	r->said = 0;
}

int
await_request(struct ctl *ctl, const char *method, const char *path,
    json_t *body, double hold, struct await_retry *r, json_t **reply)
{
	struct wire_error err;
	struct timespec ts;
	double pause;

	if (ctl_try(ctl, method, path, json_incref(body), hold, reply,
	    &err) == 0) {
		if (r->said && ctl_progress(ctl))
			ctl_warnx("loopd answers again; still waiting");
		r->said = 0;
		r->backoff = AWAIT_BACKOFF_MIN;
		if (r->timeout < 0)
			r->give_up = -1;
		return 0;
	}
	/* Without a timeout, AWAIT_RECONNECT_MAX from the first failure. */
	if (r->give_up < 0)
		r->give_up = ctl_now() + AWAIT_RECONNECT_MAX;
	if (!ctl_transient(&err) || ctl_now() >= r->give_up) {
		if (ctl_transient(&err) && r->timeout >= 0)
			return AWAIT_TIMEOUT;
		ctl_report(ctl, &err);
		return AWAIT_ERROR;
	}
	/* A person is told once; a script sees only the outcome. */
	if (!r->said++ && ctl_progress(ctl))
		ctl_warnx("%s; trying again (the wait goes on)", err.msg);
	pause = fmin(r->backoff, r->give_up - ctl_now());
	if (pause > 0) {
		ts.tv_sec = (time_t)pause;
		ts.tv_nsec = (long)((pause - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
	r->backoff = fmin(r->backoff * 2, AWAIT_BACKOFF_MAX);
	return AWAIT_RETRY;
}

int
await_future(struct ctl *ctl, const char *id, double timeout, json_t **out)
{
	struct await_retry retry;
	struct progress pg;
	double deadline = ctl_now() + timeout, hold;
	char *path, *q;
	json_t *obj = NULL, *next = NULL;
	int rc;

	path = wire_path("/v1/futures/", id, "");
	await_retry_init(&retry, timeout, deadline);
	progress_start(&pg, ctl);
	while ((rc = await_request(ctl, "GET", path, NULL, 0, &retry,
	    &obj)) == AWAIT_RETRY)
		;
	if (rc != 0)
		goto out;
	while (!await_done(obj)) {
		if ((hold = await_hold(timeout, deadline)) == 0) {
			rc = AWAIT_TIMEOUT;
			goto out;
		}
		hold = progress_follow(&pg, obj, hold);
		if (asprintf(&q, "%s?wait=%.3f", path, hold) == -1)
			err(1, "asprintf");
		rc = await_request(ctl, "GET", q, NULL, hold, &retry, &next);
		free(q);
		if (rc == AWAIT_RETRY)
			continue;
		if (rc != 0)
			goto out;
		json_decref(obj);
		obj = next;
	}
	rc = AWAIT_DONE;
out:
	progress_stop(&pg);
	if (rc == AWAIT_ERROR) {
		json_decref(obj);
		obj = NULL;
	}
	*out = obj;
	free(path);
	return rc;
}

int
await_status(const json_t *call, int fallback)
{
	const json_t *exc = json_object_get(call, "exception"), *v;
	const char *type = json_string_value(json_object_get(exc, "type"));

	if (exc == NULL || json_object_get(call, "command") == NULL)
		return fallback;
	/* A timeout as timeout(1) reports it, a signal as a shell does. */
	if (type != NULL && strcmp(type, "TimeoutError") == 0)
		return CTL_EXIT_TIMEOUT;
	if (json_is_integer(v = json_object_get(exc, "signal")))
		return 128 + (int)json_integer_value(v);
	if (json_is_integer(v = json_object_get(exc, "exit_code")) &&
	    json_integer_value(v) != 0)
		return (int)json_integer_value(v);
	return CTL_EXIT_BROKEN;
}
