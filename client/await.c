/*
 * await: the long-poll loop shared by "await" and "schedule --wait".
 *
 * GET /v1/futures/{id}?wait=S returns the object as it stands after at most
 * S seconds, S capped by the daemon's max_wait; so the loop asks again with
 * what is left of the caller's timeout until the object is done.
 */
#include "client/await.h"

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/http.h"
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

int
await_future(struct ctl *ctl, const char *id, double timeout, json_t **out)
{
	struct progress pg;
	double deadline = ctl_now() + timeout, hold;
	char *path, *q;
	json_t *obj = NULL;
	int rc = AWAIT_ERROR;

	path = http_path("/v1/futures/", id, "");
	progress_start(&pg, ctl);
	if (ctl_request(ctl, "GET", path, NULL, 0, &obj) == -1)
		goto out;
	while (!await_done(obj)) {
		if ((hold = await_hold(timeout, deadline)) == 0) {
			rc = AWAIT_TIMEOUT;
			goto out;
		}
		hold = progress_follow(&pg, obj, hold);
		if (asprintf(&q, "%s?wait=%.3f", path, hold) == -1)
			err(1, "asprintf");
		json_decref(obj);
		obj = NULL;
		if (ctl_request(ctl, "GET", q, NULL, hold, &obj) == -1) {
			free(q);
			goto out;
		}
		free(q);
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
