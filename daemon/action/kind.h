/*
 * kind: the kinds of action (a command, a webhook), each the glue
 * between a call and its executor, as a table action.c walks. Not for
 * use outside daemon/action/.
 */
#ifndef LOOPD_ACTION_KIND_H
#define LOOPD_ACTION_KIND_H

#include <stdint.h>

#include "proto/codec.h"

struct config;
struct core_error;
struct event_base;
struct future;
struct proto_spec;

struct action_kind {
	enum proto_action action;	/* the spec's kind it runs */
	const char *fail_type;		/* the exception of a run that cannot start */
	/* Set up its executor; 0 or -1. */
	int (*init)(struct event_base *base, const struct config *cfg);
	/* A (re)loaded config; 0 or -1 (a file it names cannot be read). */
	int (*configure)(const struct config *cfg);
	/* Optional: admit a request's action (its policy; it may rewrite
	 * req, e.g. a command's program resolved). 0, or -1 with err set. */
	int (*admit)(struct proto_call_req *req, struct core_error *err);
	/* Run call c's action; spec is its run's (outcome.h), borrowed. */
	void (*start)(struct future *c, const struct proto_spec *spec);
	/* Stop id's action: 1 if it ended here and the executor will not
	 * report it, 0 otherwise (not known, or reported later). */
	int (*abort)(uint64_t id);
	/* A claim its executor waited for holds (NULL: none wait). */
	void (*claimed)(void);
	/* Stop everything. */
	void (*shutdown)(void);
};

extern const struct action_kind action_command_kind;	/* action_command.c */
extern const struct action_kind action_webhook_kind;	/* action_webhook.c */

#endif
