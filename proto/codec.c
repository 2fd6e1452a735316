/*
 * codec: strict, table-driven decoding of request bodies, canonical
 * encoding, problem documents and ids.
 */
#include "proto/codec.h"
#include "proto/jsonbuf.h"
#include "proto/jsonfast.h"
#include "proto/spec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* Record the first error. Returns -1 for convenience. */
static int __attribute__((format(printf, 2, 3)))
fail(struct proto_error *err, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && err->detail[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Depth of the deepest nesting in v (a scalar is 0). Stops counting at
 * limit + 1, so it costs at most what the limit allows. */
static size_t
json_depth(json_t *v, size_t limit)
{
	size_t max = 0, d, i;
	const char *k;
	json_t *m;

	if (limit == 0 && (json_is_object(v) || json_is_array(v)))
		return 1;
	if (json_is_object(v)) {
		json_object_foreach(v, k, m)
			if ((d = json_depth(m, limit - 1)) > max)
				max = d;
		return max + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			if ((d = json_depth(m, limit - 1)) > max)
				max = d;
		return max + 1;
	}
	return 0;
}

json_t *
proto_parse(const char *body, size_t len, size_t max_depth, struct proto_error *err)
{
	json_error_t je;
	json_t *v;
	size_t depth;

	if (len == 0) {
		fail(err, "body: empty, expected a JSON object");
		return NULL;
	}
	/* Plain bodies the quick way; the rest, and every error, jansson's. */
	if ((v = jsonfast_parse(body, len, &depth)) != NULL) {
		if (max_depth > 0 && depth > max_depth) {
			json_decref(v);
			fail(err, "body: nested deeper than %zu levels", max_depth);
			return NULL;
		}
		return v;
	}
	v = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (v == NULL) {
		fail(err, "body: invalid JSON at line %d column %d: %s", je.line, je.column,
		    je.text);
		return NULL;
	}
	if (max_depth > 0 && json_depth(v, max_depth) > max_depth) {
		json_decref(v);
		fail(err, "body: nested deeper than %zu levels", max_depth);
		return NULL;
	}
	return v;
}

/* What a field may hold. F_STRING never holds a NUL byte (a C string is
 * cut there); F_BYTES may (command stdin). */
enum ftype { F_STRING, F_NUMBER, F_OBJECT, F_ARRAY, F_ANY, F_BOOL, F_INT, F_BYTES };

struct field {
	const char *name;
	enum ftype type;
	json_t **val;		/* where to put the member; untouched if absent */
};

static const char *ftype_names[] = {
	"a string", "a number", "an object", "an array", "any JSON", "a boolean",
	"an integer", "a string",
};

/* Whether a JSON string holds a NUL byte. */
static int
has_nul(const json_t *s)
{
	return strlen(json_string_value(s)) != json_string_length(s);
}

/* Check obj against a table of fields: every member must be known and of
 * its type. path prefixes field names in errors ("command."). */
static int
decode_fields(json_t *obj, const char *path, const struct field *fields, size_t n,
    struct proto_error *err)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return fail(err, "%s: must be an object", *path ? path : "body");
	json_object_foreach(obj, key, v) {
		size_t i;
		int ok;

		for (i = 0; i < n; i++)
			if (strcmp(key, fields[i].name) == 0)
				break;
		if (i == n)
			return fail(err, "%s%s: unknown field", path, key);
		switch (fields[i].type) {
		case F_STRING:
			if ((ok = json_is_string(v)) && has_nul(v))
				return fail(err, "%s%s: contains a NUL byte", path, key);
			break;
		case F_BYTES: ok = json_is_string(v); break;
		case F_NUMBER: ok = json_is_number(v); break;
		case F_INT: ok = json_is_integer(v); break;
		case F_OBJECT: ok = json_is_object(v); break;
		case F_ARRAY: ok = json_is_array(v); break;
		case F_BOOL: ok = json_is_boolean(v); break;
		default: ok = 1; break;
		}
		if (!ok)
			return fail(err, "%s%s: must be %s", path, key,
			    ftype_names[fields[i].type]);
		*fields[i].val = v;
	}
	return 0;
}

/* A number of seconds >= 0, or an error naming the field. */
static int
seconds(json_t *v, const char *path, const char *name, double *out, struct proto_error *err)
{
	double d;

	if (v == NULL)
		return 0;
	d = json_number_value(v);
	if (!isfinite(d) || d < 0)
		return fail(err, "%s%s: must be a number >= 0", path, name);
	if (d > 1e12)
		return fail(err, "%s%s: out of range", path, name);
	*out = d;
	return 0;
}

/* An object whose members are all strings without NUL; with header = 1,
 * names must be HTTP tokens and values free of CR and LF. */
static int
string_map(json_t *obj, const char *path, int header, struct proto_error *err)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		if (!json_is_string(v))
			return fail(err, "%s.%s: must be a string", path, k);
		if (has_nul(v) || *k == '\0' || (!header && strchr(k, '=') != NULL))
			return fail(err, "%s.%s: %s", path, k, *k == '\0' ? "empty name" :
			    has_nul(v) ? "contains a NUL byte" : "name contains '='");
		if (header) {
			for (const char *p = k; *p; p++)
				if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-.^_`|~", *p) == NULL)
					return fail(err, "%s.%s: not a valid header name", path, k);
			if (strpbrk(json_string_value(v), "\r\n") != NULL)
				return fail(err, "%s.%s: contains a line break", path, k);
		}
	}
	return 0;
}

int
proto_decode_command(json_t *obj, struct proto_command *out, struct proto_error *err)
{
	json_t *argv = NULL, *env = NULL, *cwd = NULL, *in = NULL, *timeout = NULL, *a;
	const struct field fields[] = {
		{ "argv", F_ARRAY, &argv }, { "env", F_OBJECT, &env },
		{ "cwd", F_STRING, &cwd }, { "stdin", F_BYTES, &in },
		{ "timeout", F_NUMBER, &timeout },
	};
	size_t i;

	memset(out, 0, sizeof(*out));
	if (decode_fields(obj, "command.", fields, 5, err) == -1)
		return -1;
	if (argv == NULL)
		return fail(err, "command.argv: required");
	if (json_array_size(argv) == 0)
		return fail(err, "command.argv: must not be empty");
	json_array_foreach(argv, i, a) {
		if (!json_is_string(a))
			return fail(err, "command.argv[%zu]: must be a string", i);
		if (has_nul(a))
			return fail(err, "command.argv[%zu]: contains a NUL byte", i);
	}
	if (json_string_length(json_array_get(argv, 0)) == 0)
		return fail(err, "command.argv[0]: must not be empty");
	if (env != NULL && string_map(env, "command.env", 0, err) == -1)
		return -1;
	if (cwd != NULL && json_string_length(cwd) == 0)
		return fail(err, "command.cwd: must not be empty");
	if (seconds(timeout, "command.", "timeout", &out->timeout, err) == -1)
		return -1;
	out->argv = argv;
	out->env = env;
	out->cwd = cwd ? json_string_value(cwd) : NULL;
	if (in != NULL) {
		out->stdin_data = json_string_value(in);
		out->stdin_len = json_string_length(in);
	}
	return 0;
}

/* Whether url is an absolute http(s) URL with a host. */
static int
url_ok(const char *url, const char **why)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int ok = 0;

	*why = "not a valid URL";
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			goto out;
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
		*why = "scheme must be http or https";
		goto out;
	}
	/* curl reads "http:///x" as host "x"; a URL must name its host. */
	if (strstr(url, ":///") != NULL ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || *host == '\0') {
		*why = "has no host";
		goto out;
	}
	ok = 1;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

int
proto_decode_webhook(json_t *obj, struct proto_webhook *out, struct proto_error *err)
{
	json_t *url = NULL, *method = NULL, *headers = NULL, *body = NULL, *timeout = NULL;
	const struct field fields[] = {
		{ "url", F_STRING, &url }, { "method", F_STRING, &method },
		{ "headers", F_OBJECT, &headers }, { "body", F_ANY, &body },
		{ "timeout", F_NUMBER, &timeout },
	};
	const char *why = "not a valid URL";

	memset(out, 0, sizeof(*out));
	if (decode_fields(obj, "webhook.", fields, 5, err) == -1)
		return -1;
	if (url == NULL)
		return fail(err, "webhook.url: required");
	if (!url_ok(json_string_value(url), &why))
		return fail(err, "webhook.url: %s", why);
	out->url = json_string_value(url);
	out->method = "POST";
	if (method != NULL) {
		const char *m = json_string_value(method);
		size_t len = json_string_length(method);
		if (len == 0 || len > 16 || strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != len)
			return fail(err, "webhook.method: must be an upper-case HTTP method");
		out->method = m;
	}
	if (headers != NULL && string_map(headers, "webhook.headers", 1, err) == -1)
		return -1;
	out->headers = headers;
	out->body = body;
	return seconds(timeout, "webhook.", "timeout", &out->timeout, err);
}

int
proto_decode_retry(json_t *obj, struct proto_retry *out, struct proto_error *err)
{
	json_t *attempts = NULL, *backoff = NULL, *max_backoff = NULL;
	const struct field fields[] = {
		{ "attempts", F_INT, &attempts }, { "backoff", F_NUMBER, &backoff },
		{ "max_backoff", F_NUMBER, &max_backoff },
	};

	memset(out, 0, sizeof(*out));
	if (decode_fields(obj, "retry.", fields, 3, err) == -1)
		return -1;
	if (attempts != NULL) {
		json_int_t n = json_integer_value(attempts);
		if (n < 1 || n > 1000)
			return fail(err, "retry.attempts: must be from 1 to 1000");
		out->attempts = (int)n;
	}
	if (seconds(backoff, "retry.", "backoff", &out->backoff, err) == -1 ||
	    seconds(max_backoff, "retry.", "max_backoff", &out->max_backoff, err) == -1)
		return -1;
	out->has_backoff = backoff != NULL;
	out->has_max_backoff = max_backoff != NULL;
	return 0;
}

int
proto_decode_call(json_t *body, int trigger_allowed, struct proto_call_req *out,
    struct proto_error *err)
{
	json_t *soon = NULL, *after = NULL, *at = NULL, *at_unix = NULL, *on_done = NULL;
	json_t *command = NULL, *webhook = NULL, *args = NULL, *name = NULL, *idem = NULL;
	json_t *retry = NULL, *on_restart = NULL;
	const struct field fields[] = {
		{ "soon", F_BOOL, &soon }, { "after", F_NUMBER, &after },
		{ "at", F_NUMBER, &at }, { "at_unix", F_NUMBER, &at_unix },
		{ "on_done", F_STRING, &on_done },
		{ "command", F_OBJECT, &command }, { "webhook", F_OBJECT, &webhook },
		{ "args", F_ARRAY, &args }, { "name", F_STRING, &name },
		{ "idempotency_key", F_STRING, &idem }, { "retry", F_OBJECT, &retry },
		{ "on_restart", F_STRING, &on_restart },
	};
	int triggers;

	memset(out, 0, sizeof(*out));
	if (decode_fields(body, "", fields, sizeof(fields) / sizeof(fields[0]), err) == -1)
		return -1;

	triggers = (soon != NULL) + (after != NULL) + (at != NULL) + (at_unix != NULL) +
	    (on_done != NULL);
	if (!trigger_allowed && triggers > 0)
		return fail(err, "%s: a callback takes no trigger (on_done is implied)",
		    soon ? "soon" : after ? "after" : at ? "at" : at_unix ? "at_unix" : "on_done");
	if (trigger_allowed && triggers == 0)
		return fail(err, "trigger: one of soon, after, at, at_unix or on_done is required");
	if (triggers > 1)
		return fail(err, "trigger: only one of soon, after, at, at_unix and on_done may be given");
	if (soon != NULL) {
		if (!json_is_true(soon))
			return fail(err, "soon: must be true");
		out->trigger = PROTO_SOON;
	} else if (after != NULL) {
		out->trigger = PROTO_AFTER;
		if (seconds(after, "", "after", &out->when, err) == -1)
			return -1;
	} else if (at != NULL || at_unix != NULL) {
		out->trigger = at ? PROTO_AT : PROTO_AT_UNIX;
		out->when = json_number_value(at ? at : at_unix);
		if (!isfinite(out->when) || fabs(out->when) > 1e12)
			return fail(err, "%s: out of range", at ? "at" : "at_unix");
	} else if (on_done != NULL) {
		out->trigger = PROTO_ON_DONE;
		out->on_done = json_string_value(on_done);
		if (proto_id_parse(out->on_done, NULL) == 0)
			return fail(err, "on_done: not a future id");
	}

	if (command != NULL && webhook != NULL)
		return fail(err, "action: only one of command and webhook may be given");
	if (command != NULL) {
		if (proto_decode_command(command, &out->command, err) == -1)
			return -1;
		out->action = PROTO_COMMAND;
		out->action_obj = command;
	} else if (webhook != NULL) {
		if (proto_decode_webhook(webhook, &out->webhook, err) == -1)
			return -1;
		out->action = PROTO_WEBHOOK;
		out->action_obj = webhook;
	} else
		return fail(err, "action: one of command or webhook is required");

	out->args = args;
	if (args != NULL && out->action == PROTO_COMMAND) {
		size_t i;
		json_t *a;
		json_array_foreach(args, i, a)
			if (json_is_string(a) && has_nul(a))
				return fail(err, "args[%zu]: contains a NUL byte", i);
	}
	if (name != NULL) {
		if (json_string_length(name) > 256)
			return fail(err, "name: longer than 256 bytes");
		out->name = json_string_value(name);
	}
	if (idem != NULL) {
		size_t len = json_string_length(idem);
		if (len == 0 || len > 256)
			return fail(err, "idempotency_key: must be 1 to 256 bytes");
		out->idempotency_key = json_string_value(idem);
	}
	if (retry != NULL && proto_decode_retry(retry, &out->retry, err) == -1)
		return -1;
	out->retry_obj = retry;
	out->on_restart = "fail";
	if (on_restart != NULL) {
		out->on_restart = json_string_value(on_restart);
		if (strcmp(out->on_restart, "fail") != 0 && strcmp(out->on_restart, "rerun") != 0)
			return fail(err, "on_restart: must be \"fail\" or \"rerun\"");
	}
	return 0;
}

int
proto_decode_future(json_t *body, struct proto_future_req *out, struct proto_error *err)
{
	json_t *name = NULL, *timeout = NULL;
	const struct field fields[] = {
		{ "name", F_STRING, &name }, { "timeout", F_NUMBER, &timeout },
	};

	memset(out, 0, sizeof(*out));
	if (body == NULL)
		return 0;
	if (decode_fields(body, "", fields, 2, err) == -1)
		return -1;
	if (name != NULL) {
		if (json_string_length(name) > 256)
			return fail(err, "name: longer than 256 bytes");
		out->name = json_string_value(name);
	}
	return seconds(timeout, "", "timeout", &out->timeout, err);
}

int
proto_decode_result(json_t *body, json_t **result, struct proto_error *err)
{
	json_t *r = NULL;
	const struct field fields[] = { { "result", F_ANY, &r } };

	if (decode_fields(body, "", fields, 1, err) == -1)
		return -1;
	if (r == NULL)
		return fail(err, "result: required");
	*result = r;
	return 0;
}

int
proto_decode_exception(json_t *body, struct proto_exception_req *out,
    struct proto_error *err)
{
	json_t *type = NULL, *message = NULL;
	const struct field fields[] = {
		{ "type", F_STRING, &type }, { "message", F_STRING, &message },
	};

	memset(out, 0, sizeof(*out));
	if (decode_fields(body, "", fields, 2, err) == -1)
		return -1;
	if (type == NULL || json_string_length(type) == 0)
		return fail(err, "type: required, a non-empty string");
	out->type = json_string_value(type);
	out->message = message ? json_string_value(message) : "";
	return 0;
}

int
proto_decode_wait(json_t *body, int gather, struct proto_wait_req *out,
    struct proto_error *err)
{
	json_t *futures = NULL, *timeout = NULL, *rw = NULL, *rx = NULL, *id;
	const struct field fields[] = {
		{ "futures", F_ARRAY, &futures }, { "timeout", F_NUMBER, &timeout },
		{ gather ? "return_exceptions" : "return_when", gather ? F_BOOL : F_STRING,
		    gather ? &rx : &rw },
	};
	size_t i;

	memset(out, 0, sizeof(*out));
	out->timeout = -1;
	if (decode_fields(body, "", fields, 3, err) == -1)
		return -1;
	if (futures == NULL || json_array_size(futures) == 0)
		return fail(err, "futures: required, a non-empty array of ids");
	json_array_foreach(futures, i, id)
		if (!json_is_string(id) || has_nul(id) ||
		    proto_id_parse(json_string_value(id), NULL) == 0)
			return fail(err, "futures[%zu]: not a future id", i);
	out->futures = futures;
	if (seconds(timeout, "", "timeout", &out->timeout, err) == -1)
		return -1;
	out->return_when = PROTO_ALL_COMPLETED;
	if (rw != NULL) {
		const char *s = json_string_value(rw);
		if (strcmp(s, "FIRST_COMPLETED") == 0)
			out->return_when = PROTO_FIRST_COMPLETED;
		else if (strcmp(s, "FIRST_EXCEPTION") == 0)
			out->return_when = PROTO_FIRST_EXCEPTION;
		else if (strcmp(s, "ALL_COMPLETED") != 0)
			return fail(err, "return_when: must be FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED");
	}
	out->return_exceptions = rx != NULL && json_is_true(rx);
	return 0;
}

static const char *trigger_keys[] = { NULL, "soon", "after", "at", "at_unix", "on_done" };

json_t *
proto_call_spec(const struct proto_call_req *req)
{
	json_t *spec = json_object(), *action = json_deep_copy(req->action_obj);

	if (spec == NULL || action == NULL)
		goto fail;
	if (req->action == PROTO_WEBHOOK && json_object_get(action, "method") == NULL &&
	    json_object_set_new(action, "method", json_string("POST")) == -1)
		goto fail;
	if (json_object_set_new(spec, req->action == PROTO_COMMAND ? "command" : "webhook",
	    action) == -1)
		goto fail_spec;
	action = NULL;
	if (json_object_set_new(spec, "args", req->args ? json_deep_copy(req->args) :
	    json_array()) == -1 ||
	    (req->retry_obj != NULL &&
	    json_object_set_new(spec, "retry", json_deep_copy(req->retry_obj)) == -1) ||
	    json_object_set_new(spec, "on_restart", json_string(req->on_restart)) == -1)
		goto fail_spec;
	return spec;
fail:
	json_decref(action);
fail_spec:
	json_decref(spec);
	return NULL;
}

char *
proto_call_spec_text(const struct proto_call_req *req)
{
	struct proto_spec spec;
	char *text = NULL;

	if (proto_spec_of_call(req, &spec) == 0)
		text = proto_spec_encode(&spec);
	proto_spec_free(&spec);
	return text;
}

/* Make every integer in v a real, so 1 and 1.0 (the same JSON number)
 * have one canonical form. Returns 0 or -1. */
static int
canon_numbers(json_t *v)
{
	const char *k;
	json_t *m;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, m) {
			if (json_is_integer(m)) {
				if (json_object_set_new(v, k,
				    json_real((double)json_integer_value(m))) == -1)
					return -1;
			} else if (canon_numbers(m) == -1)
				return -1;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if (json_is_integer(m)) {
				if (json_array_set_new(v, i,
				    json_real((double)json_integer_value(m))) == -1)
					return -1;
			} else if (canon_numbers(m) == -1)
				return -1;
		}
	}
	return 0;
}

json_t *
proto_call_canonical(const struct proto_call_req *req)
{
	json_t *c = proto_call_spec(req), *t = NULL;

	if (c == NULL || canon_numbers(c) == -1) {
		json_decref(c);
		return NULL;
	}
	switch (req->trigger) {
	case PROTO_SOON: t = json_true(); break;
	case PROTO_ON_DONE: t = json_string(req->on_done); break;
	case PROTO_TRIGGER_NONE: break;
	default: t = json_real(req->when); break;
	}
	if ((t != NULL && json_object_set_new(c, trigger_keys[req->trigger], t) == -1) ||
	    (req->name != NULL && json_object_set_new(c, "name", json_string(req->name)) == -1)) {
		json_decref(c);
		return NULL;
	}
	return c;
}

const char *
proto_problem_type(int status)
{
	switch (status) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 409: return "InvalidStateError";
	case 413: return "PayloadTooLarge";
	case 422: return "IdempotencyMismatch";
	case 429: return "TooManyRequests";
	case 501: return "NotImplemented";
	case 503: return "Unavailable";
	default: return status >= 500 ? "InternalError" : "Error";
	}
}

/* The reason phrase for a status. */
static const char *
problem_title(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

json_t *
proto_problem(int status, const char *type, const char *detail)
{
	return json_pack("{s:s, s:s, s:i, s:s}", "type", type ? type : proto_problem_type(status),
	    "title", problem_title(status), "status", status, "detail", detail ? detail : "");
}

unsigned long long
proto_id_parse(const char *s, char *kind)
{
	unsigned long long v = 0;

	if (s == NULL || (s[0] != 'c' && s[0] != 'f') || s[1] != '_' || strlen(s) != 18)
		return 0;
	for (const char *p = s + 2; *p; p++) {
		int d = isdigit((unsigned char)*p) ? *p - '0' :
		    (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10 : -1;
		if (d < 0)
			return 0;
		v = v * 16 + (unsigned)d;
	}
	if (kind != NULL)
		*kind = s[0];
	return v;
}

char *
proto_id_format(unsigned long long id, char kind, char *buf)
{
	static const char hex[] = "0123456789abcdef";

	buf[0] = kind;
	buf[1] = '_';
	for (int i = 17; i >= 2; i--, id >>= 4)
		buf[i] = hex[id & 15];
	buf[18] = '\0';
	return buf;
}

char *
proto_dump(const json_t *v)
{
	struct jsonbuf b;

	jsonbuf_init(&b);
	jsonbuf_value(&b, v, 1);
	return jsonbuf_finish_fit(&b);
}

char *
proto_encode(const json_t *v)
{
	struct jsonbuf b;

	jsonbuf_init(&b);
	jsonbuf_value(&b, v, 0);
	return jsonbuf_finish(&b);
}
