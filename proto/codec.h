/*
 * codec: the wire format, decoded strictly and encoded canonically. Pure:
 * no I/O, never exits. Shared by loopd (requests in) and loopctl (requests
 * out, replies in).
 *
 * Decoders borrow from the json_t they were given: the struct is valid for
 * as long as that value is. Errors name the field ("command.argv[1]: must
 * be a string") so a 400 tells the client exactly what to fix.
 */
#ifndef PROTO_CODEC_H
#define PROTO_CODEC_H

#include <stddef.h>
#include <jansson.h>

#define PROTO_DETAIL_MAX 256

struct proto_error {
	char detail[PROTO_DETAIL_MAX];
};

enum proto_trigger {
	PROTO_TRIGGER_NONE, PROTO_SOON, PROTO_AFTER, PROTO_AT, PROTO_AT_UNIX, PROTO_ON_DONE,
};
enum proto_action { PROTO_ACTION_NONE, PROTO_COMMAND, PROTO_WEBHOOK };

struct proto_command {
	json_t *argv;		/* non-empty array of strings without NUL */
	json_t *env;		/* object of strings, or NULL */
	const char *cwd;	/* or NULL */
	const char *stdin_data;	/* or NULL; may hold NUL bytes */
	size_t stdin_len;
	double timeout;		/* seconds; 0: none */
};

struct proto_webhook {
	const char *url;	/* http:// or https:// with a host */
	const char *method;	/* default "POST" */
	json_t *headers;	/* object of strings, or NULL */
	json_t *body;		/* any JSON, or NULL */
	double timeout;		/* seconds; 0: the daemon's default */
};

struct proto_retry {
	int attempts;		/* total attempts, >= 1; 0: not given */
	double backoff;		/* seconds */
	double max_backoff;	/* seconds */
	int has_backoff;	/* backoff was given (else the daemon's default) */
	int has_max_backoff;
};

/* POST /v1/calls, or an action body for POST /v1/futures/{id}/callbacks. */
struct proto_call_req {
	enum proto_trigger trigger;
	double when;		/* after/at/at_unix */
	const char *on_done;	/* on_done: the future id */
	enum proto_action action;
	json_t *action_obj;	/* the "command" or "webhook" object */
	struct proto_command command;	/* it, decoded (PROTO_COMMAND) */
	struct proto_webhook webhook;	/* it, decoded (PROTO_WEBHOOK) */
	json_t *args;		/* array, or NULL */
	const char *name;
	const char *idempotency_key;
	const char *on_restart;	/* "fail" (default) or "rerun" */
	json_t *retry_obj;	/* or NULL */
	struct proto_retry retry;
};

/* POST /v1/futures */
struct proto_future_req {
	const char *name;
	double timeout;		/* 0: none */
};

/* POST /v1/futures/{id}/exception */
struct proto_exception_req {
	const char *type;
	const char *message;
};

enum proto_return_when { PROTO_ALL_COMPLETED, PROTO_FIRST_COMPLETED, PROTO_FIRST_EXCEPTION };

/* POST /v1/wait and POST /v1/gather */
struct proto_wait_req {
	json_t *futures;	/* non-empty array of id strings */
	double timeout;		/* seconds; < 0: none given */
	enum proto_return_when return_when;
	int return_exceptions;
};

/* Parse a body as JSON: invalid UTF-8, duplicate keys, trailing data and
 * nesting deeper than max_depth are errors. NUL escapes are allowed (and
 * refused later where a command cannot take them). NULL on error. */
json_t *proto_parse(const char *body, size_t len, size_t max_depth,
    struct proto_error *err);

/* Decode a call request. With trigger_allowed = 0 (a callback body) a
 * trigger is an error and on_done is implied by the caller. 0 or -1. */
int proto_decode_call(json_t *body, int trigger_allowed, struct proto_call_req *out,
    struct proto_error *err);
int proto_decode_command(json_t *obj, struct proto_command *out, struct proto_error *err);
int proto_decode_webhook(json_t *obj, struct proto_webhook *out, struct proto_error *err);
/* A retry policy object. */
int proto_decode_retry(json_t *obj, struct proto_retry *out, struct proto_error *err);
/* body may be NULL (no body). */
int proto_decode_future(json_t *body, struct proto_future_req *out, struct proto_error *err);
/* The "result" member of a result body (borrowed). */
int proto_decode_result(json_t *body, json_t **result, struct proto_error *err);
int proto_decode_exception(json_t *body, struct proto_exception_req *out,
    struct proto_error *err);
/* gather = 1: return_exceptions allowed, return_when not. */
int proto_decode_wait(json_t *body, int gather, struct proto_wait_req *out,
    struct proto_error *err);

/* The canonical form of a decoded call request: what it means, with
 * defaults filled in, keys sorted. Two requests that mean the same have
 * the same canonical form (the idempotency check compares these). */
json_t *proto_call_canonical(const struct proto_call_req *req);
/* What a call runs as JSON ({"command"|"webhook": ..., "args": [...],
 * "retry": ..., "on_restart": ...}, method filled in): the base of the
 * canonical form. Not the stored text, which proto/spec writes; its dump
 * is that text all the same (test_codec compares them). */
json_t *proto_call_spec(const struct proto_call_req *req);
/* What a call runs, as the text the daemon keeps as the call's spec:
 * proto_spec_encode (proto/spec.h) of the request's spec. NULL on ENOMEM. */
char *proto_call_spec_text(const struct proto_call_req *req);

/* POST /v1/schedules (proto/schedule.c): the schedule's members; the
 * action is in call (decoded from rest, which the request owns). */
struct proto_schedule_req {
	const char *kind;		/* "every", "cron" or "calendar" */
	const char *spec;		/* the spec text */
	char spec_buf[48];		/* every given as a number */
	const char *tz;			/* or NULL (UTC) */
	int has_start, has_end;
	double start, end;		/* Unix seconds */
	unsigned long long count;	/* 0: no limit */
	const char *catchup;		/* or NULL (skip) */
	int has_window;
	double catchup_window;
	const char *overlap;		/* or NULL (skip) */
	int has_jitter;
	double jitter;
	int pause_on_failure;		/* -1: not given */
	json_t *rest;			/* owned: the action's members */
	struct proto_call_req call;	/* the action, trigger-less */
};

/* Decode a schedule request; free it with proto_schedule_req_free (also
 * after an error). 0 or -1. */
int proto_decode_schedule(json_t *body, struct proto_schedule_req *out,
    struct proto_error *err);
void proto_schedule_req_free(struct proto_schedule_req *req);
/* What a decoded schedule request means, defaults filled in. */
json_t *proto_schedule_canonical(const struct proto_schedule_req *req);
/* Parse an RFC 3339 time ("2027-03-28T02:30:00+01:00", "...Z") into
 * Unix seconds. 0 or -1. */
int proto_time_parse(const char *s, double *out);

/* An RFC 9457 problem document. type is a short name ("BadRequest"). */
json_t *proto_problem(int status, const char *type, const char *detail);
/* The short type name for an HTTP status. */
const char *proto_problem_type(int status);

/* Ids: "c_" or "f_" and 16 hex digits. Returns the number, or 0. */
unsigned long long proto_id_parse(const char *s, char *kind);
/* Format an id of kind 'c' or 'f' into buf (at least 19 bytes). */
char *proto_id_format(unsigned long long id, char kind, char *buf);

/* Dump compactly with sorted keys (the canonical form), in an allocation
 * of its own size (stored text); NULL on ENOMEM. */
char *proto_dump(const json_t *v);
/* Dump compactly for the wire: reals with at most 16 significant digits,
 * so loop times read 1234.567891, not 1234.5678910000001. */
char *proto_encode(const json_t *v);

#endif
