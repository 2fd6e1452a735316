/*
 * cmd_future: the asyncio side -- create and finish futures, cancel calls
 * and futures, await one, wait for several, gather their results.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/await.h"
#include "client/wire.h"
#include "client/loopctl.h"
#include "client/output.h"
#include "client/progress.h"

enum {
	FO_NAME = 0x100, FO_TIMEOUT, FO_ANY, FO_ALL, FO_FIRST_EXCEPTION,
	FO_RETURN_EXCEPTIONS,
};

/* Post BODY (stolen) to PATH (freed); print the reply with --json, and
 * else its field FIELD if it has one. Returns the exit status. */
static int
future_post(struct ctl *ctl, char *path, json_t *body, const char *field)
{
	json_t *reply = NULL, *v;
	int rc = CTL_EXIT_FAIL;

	if (ctl_request(ctl, "POST", path, body, 0, &reply) == 0) {
		if (ctl->json)
			output_json(reply);
		else if (field != NULL &&
		    (v = json_object_get(reply, field)) != NULL) {
			output_value(stdout, v);
			putchar('\n');
		}
		rc = CTL_EXIT_OK;
	}
	json_decref(reply);
	free(path);
	return rc;
}

int
cmd_future_new(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, FO_NAME },
		{ "timeout", required_argument, NULL, FO_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	json_t *body = json_object();
	int ch;

	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case FO_NAME:
			json_object_set_new(body, "name", ctl_string(ctl,
			    "--name", optarg));
			break;
		case FO_TIMEOUT:
			json_object_set_new(body, "timeout", json_real(
			    ctl_duration(ctl, "--timeout", optarg)));
			break;
		default:
			ctl_usage(ctl, NULL);
		}
	}
	if (optind != argc)
		ctl_usage(ctl, "too many arguments");
	return future_post(ctl, wire_path("/v1/futures", "", ""), body, "id");
}

int
cmd_future_set(struct ctl *ctl, int argc, char **argv)
{
	int i = ctl_args(ctl, argc, argv, "+", 2, 2);
	json_t *result = ctl_json_arg(ctl, "result", argv[i + 1]);

	return future_post(ctl, wire_path("/v1/futures/", argv[i], "/result"),
	    json_pack("{s:o}", "result", result), NULL);
}

int
cmd_future_fail(struct ctl *ctl, int argc, char **argv)
{
	int i = ctl_args(ctl, argc, argv, "+", 3, 3);
	json_t *type = ctl_string(ctl, "TYPE", argv[i + 1]);
	json_t *msg = ctl_string(ctl, "MESSAGE", argv[i + 2]);

	return future_post(ctl, wire_path("/v1/futures/", argv[i],
	    "/exception"), json_pack("{s:o,s:o}", "type", type, "message",
	    msg), NULL);
}

/* Cancel with METHOD PATH; say whether it was cancelled. Exit 0 either way,
 * as Task.cancel() returns False without raising. */
static int
future_cancel(struct ctl *ctl, const char *method, char *path)
{
	json_t *reply = NULL;
	int rc = CTL_EXIT_FAIL;

	if (ctl_request(ctl, method, path, NULL, 0, &reply) == 0) {
		if (ctl->json)
			output_json(reply);
		else if (json_is_true(json_object_get(reply, "cancelled")))
			printf("cancelled\n");
		else
			printf("not cancelled: already done\n");
		rc = CTL_EXIT_OK;
	}
	json_decref(reply);
	free(path);
	return rc;
}

int
cmd_future_cancel(struct ctl *ctl, int argc, char **argv)
{
	int i = ctl_args(ctl, argc, argv, "", 1, 1);

	return future_cancel(ctl, "POST", wire_path("/v1/futures/", argv[i],
	    "/cancel"));
}

/* Cancel call or future ID: 1 if it was cancelled, 0 if it was already
 * done, -1 after an error. With --json its reply goes to OUT. */
static int
future_cancel_one(struct ctl *ctl, const char *id, json_t *out)
{
	char *path;
	json_t *reply = NULL;
	int rc = -1;

	/* Plain futures are cancelled through their own route. */
	if (strncmp(id, "f_", 2) == 0)
		path = wire_path("/v1/futures/", id, "/cancel");
	else
		path = wire_path("/v1/calls/", id, "");
	if (ctl_request(ctl, strncmp(id, "f_", 2) == 0 ? "POST" : "DELETE",
	    path, NULL, 0, &reply) == 0) {
		rc = json_is_true(json_object_get(reply, "cancelled"));
		json_object_set_new(reply, "id", json_string(id));
		json_array_append(out, reply);
	}
	json_decref(reply);
	free(path);
	return rc;
}

int
cmd_cancel(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, FO_NAME },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	json_t *ids = json_array(), *out = json_array(), *calls = NULL, *v;
	char *path, *base;
	size_t i;
	int ch, r, cancelled = 0, errors = 0, n;

	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		if (ch != FO_NAME)
			ctl_usage(ctl, NULL);
		name = optarg;
	}
	if (optind == argc && name == NULL)
		ctl_usage(ctl, "give an ID or --name N");
	for (int k = optind; k < argc; k++)
		json_array_append_new(ids, json_string(argv[k]));
	/* --name: every pending call of that name. */
	if (name != NULL) {
		base = wire_path("/v1/calls?state=pending&page_size=1000&name=",
		    name, "");
		path = strdup(base);
		for (;;) {
			json_decref(calls);
			if (path == NULL)
				err(1, "strdup");
			if (ctl_request(ctl, "GET", path, NULL, 0, &calls) == -1) {
				errors++;
				break;
			}
			json_array_foreach(json_object_get(calls, "items"), i,
			    v)
				json_array_append(ids, json_object_get(v, "id"));
			if (json_string_length(json_object_get(calls,
			    "next_page_token")) == 0)
				break;
			free(path);
			if ((path = strdup(base)) == NULL)
				err(1, "strdup");
			wire_query(&path, "page_token", json_string_value(
			    json_object_get(calls, "next_page_token")));
		}
		json_decref(calls);
		free(path);
		free(base);
		if (json_array_size(ids) == 0 && errors == 0)
			ctl_warnx("no pending call is named '%s'", name);
	}
	n = (int)json_array_size(ids);
	json_array_foreach(ids, i, v) {
		const char *id = json_string_value(v);

		if (id == NULL || (r = future_cancel_one(ctl, id, out)) == -1) {
			errors++;
			continue;
		}
		cancelled += r;
		if (ctl->json)
			continue;
		if (n > 1 || name != NULL)
			printf("%s: ", id);
		printf("%s\n", r ? "cancelled" : "not cancelled: already done");
	}
	if (ctl->json && n == 1 && name == NULL && json_array_size(out) == 1) {
		/* One id: the daemon's reply, as it was. */
		json_object_del(json_array_get(out, 0), "id");
		output_json(json_array_get(out, 0));
	} else if (ctl->json)
		output_json(out);
	json_decref(ids);
	json_decref(out);
	/* Nothing cancelled is a failure, as kill(1) with no process is. */
	return cancelled > 0 && errors == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

int
cmd_await(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, FO_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	const char *id, *state;
	double timeout = -1;
	json_t *obj = NULL, *exc;
	int ch, rc = CTL_EXIT_FAIL;

	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		if (ch != FO_TIMEOUT)
			ctl_usage(ctl, NULL);
		timeout = ctl_duration(ctl, "--timeout", optarg);
	}
	if (argc - optind != 1)
		ctl_usage(ctl, "give one ID");
	id = argv[optind];

	switch (await_future(ctl, id, timeout, &obj)) {
	case AWAIT_TIMEOUT:
		if (ctl->json && obj != NULL)
			output_json(obj);
		ctl_warnx("timed out waiting for %s", id);
		rc = CTL_EXIT_TIMEOUT;
		break;
	case AWAIT_DONE:
		state = json_string_value(json_object_get(obj, "state"));
		exc = json_object_get(obj, "exception");
		ctl_redact(ctl, obj);
		if (ctl->json)
			output_json(obj);
		if (state != NULL && strcmp(state, "cancelled") == 0)
			ctl_warnx("%s was cancelled", id);
		else if (exc != NULL) {
			/* A failed command's status passes through, as with
			 * schedule --wait: a plain exit status needs no words. */
			rc = await_status(obj, CTL_EXIT_FAIL);
			if (rc == CTL_EXIT_FAIL || json_object_get(exc,
			    "signal") != NULL || rc == CTL_EXIT_TIMEOUT ||
			    rc == CTL_EXIT_BROKEN)
				ctl_warn_exception(id, exc);
		} else {
			if (!ctl->json)
				output_json(json_object_get(obj, "result"));
			rc = CTL_EXIT_OK;
		}
		break;
	}
	json_decref(obj);
	return rc;
}

/* POST BODY to PATH until DONE says the reply is final or TIMEOUT seconds
 * (none if negative) pass, each time asking the daemon to hold it for what
 * is left: it may hold less (max_wait). WHAT is shown to a person; ARG goes
 * to DONE. Returns AWAIT_* with the last reply in *OUT. */
static int
future_hold(struct ctl *ctl, const char *path, json_t *body, double timeout,
    int (*done)(struct ctl *, const json_t *, const char *), const char *arg,
    const char *what, json_t **out)
{
	struct await_retry retry;
	struct progress pg;
	double deadline = ctl_now() + timeout, hold;
	json_t *reply = NULL, *next = NULL;
	int rc = AWAIT_ERROR, r;

	await_retry_init(&retry, timeout, deadline);
	progress_start(&pg, ctl);
	progress_set(&pg, what);
	for (;;) {
		hold = await_hold(timeout, deadline);
		json_object_set_new(body, "timeout", json_real(hold));
		r = await_request(ctl, "POST", path, body, hold, &retry, &next);
		if (r == AWAIT_RETRY)
			continue;
		if (r == AWAIT_TIMEOUT) {
			rc = AWAIT_TIMEOUT;
			break;
		}
		if (r != 0) {
			json_decref(reply);
			reply = NULL;
			break;
		}
		json_decref(reply);
		reply = next;
		if (done(ctl, reply, arg)) {
			rc = AWAIT_DONE;
			break;
		}
		if (timeout >= 0 && ctl_now() >= deadline) {
			rc = AWAIT_TIMEOUT;
			break;
		}
	}
	progress_stop(&pg);
	*out = reply;
	return rc;
}

/* Whether future ID finished with an exception. */
static int
future_failed(struct ctl *ctl, const char *id)
{
	char *path = wire_path("/v1/futures/", id, "");
	json_t *obj = NULL;
	int failed;

	failed = ctl_request(ctl, "GET", path, NULL, 0, &obj) == 0 &&
	    json_object_get(obj, "exception") != NULL;
	json_decref(obj);
	free(path);
	return failed;
}

/* Whether a /v1/wait reply meets RETURN_WHEN, rather than the daemon having
 * let go at max_wait. */
static int
future_wait_done(struct ctl *ctl, const json_t *reply, const char *when)
{
	const json_t *done = json_object_get(reply, "done"), *v;
	size_t i;

	if (json_array_size(json_object_get(reply, "pending")) == 0)
		return 1;
	if (json_array_size(done) == 0 || strcmp(when, "ALL_COMPLETED") == 0)
		return 0;
	if (strcmp(when, "FIRST_COMPLETED") == 0)
		return 1;
	/* FIRST_EXCEPTION: the reply does not say which one failed. */
	json_array_foreach(done, i, v)
		if (json_is_string(v) && future_failed(ctl,
		    json_string_value(v)))
			return 1;
	return 0;
}

/* Print the ids in the array at KEY of REPLY as "KEY: id id". */
static void
future_print_ids(const json_t *reply, const char *key)
{
	const json_t *v;
	size_t i;

	printf("%s:", key);
	json_array_foreach(json_object_get(reply, key), i, v)
		printf(" %s", json_is_string(v) ? json_string_value(v) : "?");
	putchar('\n');
}

/* Collect the ids at ARGV[I...] into a new array; at least one. */
static json_t *
future_ids(struct ctl *ctl, int argc, char **argv, int i)
{
	json_t *ids;

	if (i >= argc)
		ctl_usage(ctl, "give at least one ID");
	ids = json_array();
	for (; i < argc; i++)
		json_array_append_new(ids, ctl_string(ctl, "ID", argv[i]));
	return ids;
}

int
cmd_wait(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "any", no_argument, NULL, FO_ANY },
		{ "all", no_argument, NULL, FO_ALL },
		{ "first-exception", no_argument, NULL, FO_FIRST_EXCEPTION },
		{ "timeout", required_argument, NULL, FO_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	const char *when = "ALL_COMPLETED";
	char what[128];
	double timeout = -1;
	json_t *body, *reply = NULL;
	int ch, rc = CTL_EXIT_FAIL;

	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case FO_ANY:
			when = "FIRST_COMPLETED";
			break;
		case FO_ALL:
			when = "ALL_COMPLETED";
			break;
		case FO_FIRST_EXCEPTION:
			when = "FIRST_EXCEPTION";
			break;
		case FO_TIMEOUT:
			timeout = ctl_duration(ctl, "--timeout", optarg);
			break;
		default:
			ctl_usage(ctl, NULL);
		}
	}
	body = json_pack("{s:o,s:s}", "futures", future_ids(ctl, argc, argv,
	    optind), "return_when", when);
	snprintf(what, sizeof(what), "waiting for %d future%s (%s)",
	    argc - optind, argc - optind > 1 ? "s" : "", when);

	switch (future_hold(ctl, "/v1/wait", body, timeout, future_wait_done,
	    when, what, &reply)) {
	case AWAIT_DONE:
		rc = CTL_EXIT_OK;
		break;
	case AWAIT_TIMEOUT:
		rc = CTL_EXIT_TIMEOUT;
		break;
	}
	if (reply != NULL && ctl->json)
		output_json(reply);
	else if (reply != NULL) {
		future_print_ids(reply, "done");
		future_print_ids(reply, "pending");
	}
	json_decref(reply);
	json_decref(body);
	return rc;
}

/* Whether a /v1/gather reply is final: results for all, or an exception. */
static int
future_gather_done(struct ctl *ctl, const json_t *reply, const char *unused)
{
	return json_object_get(reply, "exception") != NULL ||
	    json_array_size(json_object_get(reply, "pending")) == 0;
}

int
cmd_gather(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "return-exceptions", no_argument, NULL, FO_RETURN_EXCEPTIONS },
		{ "timeout", required_argument, NULL, FO_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	const json_t *exc;
	const char *fid;
	char what[128];
	double timeout = -1;
	json_t *body, *reply = NULL;
	int ch, rc = CTL_EXIT_FAIL, retexc = 0;

	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case FO_RETURN_EXCEPTIONS:
			retexc = 1;
			break;
		case FO_TIMEOUT:
			timeout = ctl_duration(ctl, "--timeout", optarg);
			break;
		default:
			ctl_usage(ctl, NULL);
		}
	}
	body = json_pack("{s:o,s:b}", "futures", future_ids(ctl, argc, argv,
	    optind), "return_exceptions", retexc);
	snprintf(what, sizeof(what), "gathering %d future%s", argc - optind,
	    argc - optind > 1 ? "s" : "");

	switch (future_hold(ctl, "/v1/gather", body, timeout,
	    future_gather_done, NULL, what, &reply)) {
	case AWAIT_DONE:
		if (ctl->json)
			output_json(reply);
		if ((exc = json_object_get(reply, "exception")) == NULL) {
			if (!ctl->json)
				output_json(json_object_get(reply, "results"));
			rc = CTL_EXIT_OK;
			break;
		}
		fid = json_string_value(json_object_get(reply, "future"));
		ctl_warn_exception(fid != NULL ? fid : "a future", exc);
		break;
	case AWAIT_TIMEOUT:
		if (ctl->json && reply != NULL)
			output_json(reply);
		else if (reply != NULL)
			future_print_ids(reply, "pending");
		ctl_warnx("timed out gathering");
		rc = CTL_EXIT_TIMEOUT;
		break;
	}
	json_decref(reply);
	json_decref(body);
	return rc;
}
