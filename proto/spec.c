/*
 * spec: a call's spec, typed, with its one encoder and decoder (see
 * spec.h).
 */
#include "proto/spec.h"

#include <stdio.h>
#include <string.h>

#include "proto/jsonbuf.h"

int
proto_spec_of_call(const struct proto_call_req *req, struct proto_spec *out)
{
	memset(out, 0, sizeof(*out));
	out->action = req->action;
	out->action_obj = req->action_obj;
	out->args = req->args;
	out->retry = req->retry;
	out->retry_obj = req->retry_obj;
	out->rerun = req->on_restart != NULL && strcmp(req->on_restart, "rerun") == 0;
	out->command = req->command;
	out->webhook = req->webhook;
	return req->action == PROTO_COMMAND || req->action == PROTO_WEBHOOK ? 0 : -1;
}

/* Append the webhook object o with "method" in its sorted place when it
 * was not given (the default is written out). */
static void
put_webhook(struct jsonbuf *b, json_t *o, const char *method)
{
	json_t *copy;

	if (json_object_get(o, "method") != NULL) {
		jsonbuf_value(b, o, 1);
		return;
	}
	if ((copy = json_copy(o)) == NULL ||
	    json_object_set_new(copy, "method", json_string(method)) == -1)
		jsonbuf_fail(b);
	else
		jsonbuf_value(b, copy, 1);
	json_decref(copy);
}

char *
proto_spec_encode(const struct proto_spec *spec)
{
	const char *on_restart = spec->rerun ? "rerun" : "fail";
	struct jsonbuf b;

	if (spec->action_obj == NULL)
		return NULL;
	/* The keys in byte order: args, command, on_restart, retry, webhook. */
	jsonbuf_init(&b);
	jsonbuf_raw(&b, "{\"args\":", 8);
	if (spec->args != NULL)
		jsonbuf_value(&b, spec->args, 1);
	else
		jsonbuf_raw(&b, "[]", 2);
	if (spec->action == PROTO_COMMAND) {
		jsonbuf_raw(&b, ",\"command\":", 11);
		jsonbuf_value(&b, spec->action_obj, 1);
	}
	jsonbuf_raw(&b, ",\"on_restart\":", 14);
	jsonbuf_string(&b, on_restart, strlen(on_restart));
	if (spec->retry_obj != NULL) {
		jsonbuf_raw(&b, ",\"retry\":", 9);
		jsonbuf_value(&b, spec->retry_obj, 1);
	}
	if (spec->action == PROTO_WEBHOOK) {
		jsonbuf_raw(&b, ",\"webhook\":", 11);
		put_webhook(&b, spec->action_obj, spec->webhook.method ? spec->webhook.method :
		    "POST");
	}
	jsonbuf_char(&b, '}');
	return jsonbuf_finish_fit(&b);	/* kept as the call's spec */
}

int
proto_spec_decode(const char *text, size_t len, struct proto_spec *out,
    struct proto_error *err)
{
	json_t *command, *webhook, *v;
	const char *on_restart;

	memset(out, 0, sizeof(*out));
	if ((out->root = json_loadb(text, len, JSON_ALLOW_NUL, NULL)) == NULL ||
	    !json_is_object(out->root)) {
		snprintf(err->detail, sizeof(err->detail), "the stored spec is not a JSON object");
		return -1;
	}
	command = json_object_get(out->root, "command");
	webhook = json_object_get(out->root, "webhook");
	if (command != NULL) {
		out->action = PROTO_COMMAND;
		out->action_obj = command;
		if (proto_decode_command(command, &out->command, err) == -1)
			return -1;
	} else if (webhook != NULL) {
		out->action = PROTO_WEBHOOK;
		out->action_obj = webhook;
		if (proto_decode_webhook(webhook, &out->webhook, err) == -1)
			return -1;
	} else {
		snprintf(err->detail, sizeof(err->detail), "the stored spec names no action");
		return -1;
	}
	if ((v = json_object_get(out->root, "args")) != NULL) {
		if (!json_is_array(v)) {
			snprintf(err->detail, sizeof(err->detail), "args: must be an array");
			return -1;
		}
		out->args = v;
	}
	if ((v = json_object_get(out->root, "retry")) != NULL) {
		if (proto_decode_retry(v, &out->retry, err) == -1)
			return -1;
		out->retry_obj = v;
	}
	on_restart = json_string_value(json_object_get(out->root, "on_restart"));
	out->rerun = on_restart != NULL && strcmp(on_restart, "rerun") == 0;
	return 0;
}

void
proto_spec_free(struct proto_spec *spec)
{
	if (spec == NULL)
		return;
	json_decref(spec->root);
	memset(spec, 0, sizeof(*spec));
}
