/*
 * spec: a call's spec, typed: what it runs (a command: argv, env, cwd,
 * stdin, timeout; or a webhook: url, method, headers, body, timeout), its
 * args, its retry policy and on_restart.
 *
 * The stored text is the spec's persistence format. proto_spec_encode is
 * its one encoder (a call accepted, a schedule's action); proto_spec_decode
 * its one decoder (a call dispatched: the action layer reads the typed
 * fields and never the text).
 *
 * The typed fields borrow from JSON values the spec holds (as the codec's
 * decoders do); the encoder writes those values as they were given, so 5
 * stays 5 and 5.0 stays 5.0 from the request to the store.
 */
#ifndef PROTO_SPEC_H
#define PROTO_SPEC_H

#include <stddef.h>

#include <jansson.h>

#include "proto/codec.h"

struct proto_spec {
	enum proto_action action;	/* PROTO_COMMAND or PROTO_WEBHOOK */
	struct proto_command command;	/* when PROTO_COMMAND */
	struct proto_webhook webhook;	/* when PROTO_WEBHOOK (method filled in) */
	json_t *args;			/* array, or NULL: none */
	struct proto_retry retry;	/* attempts 0: the daemon's default */
	int rerun;			/* on_restart: "rerun" (else "fail") */
	/* What the fields above borrow from, written by the encoder. */
	json_t *action_obj;		/* the "command" or "webhook" object */
	json_t *retry_obj;		/* or NULL */
	json_t *root;			/* owned reference (decoded text), or NULL */
};

/* The spec of a decoded call request (trigger-less fields only), which
 * borrows from it as it borrows from its body. 0, or -1 (req has no
 * action). proto_spec_free it either way. */
int proto_spec_of_call(const struct proto_call_req *req, struct proto_spec *out);
/* The stored text of spec: compact, keys sorted (as proto_dump writes),
 * in an allocation of its own size. NULL on ENOMEM. */
char *proto_spec_encode(const struct proto_spec *spec);
/* Decode stored text (len bytes; it may hold NUL escapes in stdin). 0,
 * or -1 with err set; out->action tells which kind the text named even
 * then (PROTO_ACTION_NONE if none). proto_spec_free it either way. */
int proto_spec_decode(const char *text, size_t len, struct proto_spec *out,
    struct proto_error *err);
/* Release what a spec holds (not the struct). Accepts NULL. */
void proto_spec_free(struct proto_spec *spec);

#endif
