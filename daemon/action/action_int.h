/*
 * action_int: what the action layer's files share. Not for use outside
 * daemon/action/.
 */
#ifndef LOOPD_ACTION_INT_H
#define LOOPD_ACTION_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct config;
struct event_base;
struct future;

/* Call c's spec, parsed (read back from the store if it waits there);
 * NULL if it cannot be had. The caller decrefs it. */
json_t *action_spec(const struct future *c);
/* Finish call id with JSON value o (consumed). */
void action_finish(uint64_t id, json_t *o, int is_exc);
/* Fail call c with an exception of type and message. */
void action_fail(struct future *c, const char *type, const char *msg);
/* If c's retry policy (or default_attempts when it has none) allows
 * another attempt after this failure, keep the failure as its last error
 * and arm the retry (after delay_us, or the backoff when delay_us < 0);
 * returns 1 if so. */
int action_retry(struct future *c, const json_t *failure, int default_attempts,
    int64_t delay_us);
/* Invalid UTF-8 replaced by U+FFFD: a JSON string; NULL on ENOMEM. */
json_t *action_utf8_string(const char *b, size_t len);

/* Commands (action_command.c). */
int action_command_init(struct event_base *base, const struct config *cfg);
void action_command_configure(const struct config *cfg);
/* Run call c's command; spec is its parsed stored spec (borrowed). */
void action_command_start(struct future *c, json_t *spec);
int action_command_abort(uint64_t id);
/* A claim the command executor waited for holds: start what may. */
void action_command_claimed(void);
void action_command_shutdown(void);

/* Webhooks (action_webhook.c). */
int action_webhook_init(struct event_base *base, const struct config *cfg);
int action_webhook_configure(const struct config *cfg);
/* Send call c's webhook; spec is its parsed stored spec (borrowed). */
void action_webhook_start(struct future *c, json_t *spec);
int action_webhook_abort(uint64_t id);
void action_webhook_shutdown(void);

#endif
