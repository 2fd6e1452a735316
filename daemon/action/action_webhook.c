/*
 * action_webhook: a call's webhook: its spec turned into a request (the
 * body of API.md §3, Loop-Call-Id, and the Standard Webhooks signature
 * when a secret is set) and the reply turned into a result or a
 * WebhookFailed exception. Connection errors, timeouts, 408, 429 and 5xx
 * are retried, honouring Retry-After; other replies are final.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "daemon/action/kind.h"
#include "daemon/action/outcome.h"
#include "daemon/exec/netpolicy.h"
#include "daemon/exec/sign.h"
#include "daemon/exec/webhook.h"
#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/sched.h"
#include "daemon/util/strv.h"
#include "daemon/view.h"
#include "proto/codec.h"
#include "proto/jsonbuf.h"
#include "proto/spec.h"

static struct {
	int64_t timeout;		/* when the call sets none */
	int attempts;			/* when the call has no retry policy */
	int64_t max_retry_after;	/* cap on a receiver's Retry-After */
} webhook_defaults;

/* "Name: value" */
static char *
header_line(const char *name, const char *value)
{
	char *s;

	return asprintf(&s, "%s: %s", name, value) == -1 ? NULL : s;
}

/* The request body: the call's own, or {"call", ["future",] "args"}. */
static char *
webhook_body(struct future *c, const struct proto_spec *spec)
{
	const struct proto_webhook *pw = &spec->webhook;
	struct future *target;
	struct jsonbuf b;
	char id[20], *view = NULL;

	if (pw->body != NULL)
		return proto_encode(pw->body);
	/* The target's view is written once, as text, and spliced in (it is
	 * left out if it cannot be had, as its spec unreadable). */
	if (c->trigger == TRIGGER_ON_DONE && (target = future_find(future_target(c))) != NULL)
		view = view_text(target);
	jsonbuf_init(&b);
	jsonbuf_raw(&b, "{\"call\":", 8);
	view_id(c, id);
	jsonbuf_string(&b, id, strlen(id));
	jsonbuf_raw(&b, ",\"args\":", 8);
	if (spec->args != NULL)
		jsonbuf_value(&b, spec->args, 0);
	else
		jsonbuf_raw(&b, "[]", 2);
	if (view != NULL) {
		jsonbuf_raw(&b, ",\"future\":", 10);
		jsonbuf_raw(&b, view, strlen(view));
	}
	jsonbuf_char(&b, '}');
	free(view);
	return jsonbuf_finish(&b);
}

/* Whether the user's headers name this one (case-insensitively). */
static int
has_header(const json_t *headers, const char *name)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)(uintptr_t)headers, k, v)
		if (strcasecmp(k, name) == 0)
			return 1;
	return 0;
}

/* Build the executor's request for call c from its decoded spec. NULL
 * with *why set. */
static struct webhook_spec *
webhook_from_spec(struct future *c, const struct proto_spec *spec, const char **why)
{
	json_t *v;
	const struct proto_webhook *pw = &spec->webhook;
	struct webhook_spec *ws = calloc(1, sizeof(*ws));
	size_t n = 0;
	const char *k;
	char id[20], ts[24], *sig;
	int64_t now_s = clock_unix_now() / CLOCK_US_PER_S;

	*why = "out of memory";
	if (ws == NULL)
		goto fail;
	if ((ws->url = strdup(pw->url)) == NULL || (ws->method = strdup(pw->method)) == NULL ||
	    (ws->body = webhook_body(c, spec)) == NULL)
		goto fail;
	ws->body_len = strlen(ws->body);
	ws->timeout = pw->timeout > 0 ? clock_from_seconds(pw->timeout) : webhook_defaults.timeout;
	view_id(c, id);
	if (pw->headers != NULL)
		json_object_foreach(pw->headers, k, v)
			if (strv_push(&ws->headers, &n, header_line(k,
			    json_string_value(v))) == -1)
				goto fail;
	if ((!has_header(pw->headers, "Content-Type") && strv_push(&ws->headers, &n,
	    strdup("Content-Type: application/json")) == -1) ||
	    strv_push(&ws->headers, &n, header_line("Loop-Call-Id", id)) == -1 ||
	    strv_push(&ws->headers, &n, strdup("Expect:")) == -1)
		goto fail;
	if (sign_enabled()) {
		/* webhook-id is the call id: the same on every attempt and after a
		 * restart, so receivers can drop repeats. */
		snprintf(ts, sizeof(ts), "%lld", (long long)now_s);
		if ((sig = sign_signature(id, now_s, ws->body, ws->body_len)) == NULL ||
		    strv_push(&ws->headers, &n, header_line("webhook-id", id)) == -1 ||
		    strv_push(&ws->headers, &n, header_line("webhook-timestamp", ts)) == -1 ||
		    strv_push(&ws->headers, &n, header_line("webhook-signature", sig)) == -1) {
			free(sig);
			goto fail;
		}
		free(sig);
	}
	return ws;
fail:
	webhook_spec_free(ws);
	return NULL;
}

/* The reply's headers as an object (repeated names joined with ", "). */
static json_t *
headers_object(const struct webhook_result *r)
{
	json_t *o = json_object(), *old;
	char *joined;

	for (size_t i = 0; o != NULL && i < r->n_headers; i++) {
		const char *name = r->headers[i].name, *value = r->headers[i].value;
		if ((old = json_object_get(o, name)) != NULL &&
		    asprintf(&joined, "%s, %s", json_string_value(old), value) != -1) {
			json_object_set_new(o, name, outcome_utf8(joined, strlen(joined)));
			free(joined);
		} else
			json_object_set_new(o, name, outcome_utf8(value, strlen(value)));
	}
	return o;
}

/* The reply body: parsed when the reply says it is JSON (and is whole),
 * else a string. */
static json_t *
body_value(const struct webhook_result *r)
{
	const char *data = r->body.data ? r->body.data : "";
	json_t *v = NULL;

	for (size_t i = 0; i < r->n_headers; i++)
		if (strcmp(r->headers[i].name, "content-type") == 0 &&
		    strstr(r->headers[i].value, "json") != NULL && !r->body.truncated)
			v = json_loadb(data, r->body.len, JSON_DECODE_ANY, NULL);
	return v != NULL ? v : outcome_utf8(data, r->body.len);
}

/* Result or WebhookFailed for a reply; *retryable tells whether another
 * attempt may succeed. */
static json_t *
webhook_outcome(const struct webhook_result *r, const char *url, int *is_exc, int *retryable)
{
	json_t *o;
	char msg[600];

	*is_exc = 1;
	*retryable = 0;
	if (r->error != 0) {
		*retryable = !r->refused;
		return json_pack("{s:s, s:n, s:s, s:f}", "type", "WebhookFailed", "status",
		    "message", r->message ? r->message : "request failed",
		    "duration", clock_to_seconds(r->duration));
	}
	if (r->status >= 200 && r->status < 300) {
		*is_exc = 0;
		o = json_pack("{s:i, s:o, s:o, s:f}", "status", (json_int_t)r->status,
		    "headers", headers_object(r), "body", body_value(r),
		    "duration", clock_to_seconds(r->duration));
	} else {
		*retryable = r->status == 408 || r->status == 429 || r->status >= 500;
		snprintf(msg, sizeof(msg), "%s answered HTTP %ld", url, r->status);
		o = json_pack("{s:s, s:i, s:s, s:o, s:f}", "type", "WebhookFailed",
		    "status", (json_int_t)r->status, "message", msg, "body", body_value(r),
		    "duration", clock_to_seconds(r->duration));
	}
	if (o != NULL && r->body.truncated)
		json_object_set_new(o, "body_truncated", json_true());
	return o;
}

/* A request of call id went out. */
static void
webhook_started_hook(uint64_t id, void *arg)
{
	struct future *c = future_find(id);

	if (c != NULL)
		sched_started(c);
}

/* A request of call id got its reply (or failed). */
static void
webhook_done_hook(uint64_t id, struct webhook_result *r, void *arg)
{
	struct future *c = future_find(id);
	struct outcome_run *run;
	json_t *o;
	int is_exc, retryable;
	char url[512] = "the webhook";

	if (c == NULL)
		return;
	if (r->error == 0 && (r->status < 200 || r->status >= 300)) {
		/* Only a refusing reply's message names the URL. */
		if ((run = outcome_find(id)) != NULL && run->decoded)
			snprintf(url, sizeof(url), "%s", run->spec.webhook.url);
	}
	o = webhook_outcome(r, url, &is_exc, &retryable);
	/* A receiver's delay is honoured up to max_retry_after, never more:
	 * a far date must not leave the call pending for good. */
	if (r->retry_after > webhook_defaults.max_retry_after)
		r->retry_after = webhook_defaults.max_retry_after;
	if (is_exc && retryable && o != NULL && outcome_retry(c, o, webhook_defaults.attempts, r->retry_after)) {
		json_decref(o);
		return;
	}
	outcome_finish(id, o, is_exc);
}

/* action_kind.start */
static void
webhook_start(struct future *c, const struct proto_spec *spec)
{
	struct webhook_spec *ws;
	const char *why;

	if ((ws = webhook_from_spec(c, spec, &why)) == NULL) {
		outcome_fail(c, "WebhookFailed", why);
		return;
	}
	webhook_run(c->id, ws);
}

/* The executor limits from the config. */
static struct webhook_limits
webhook_limits_of(const struct config *cfg)
{
	return (struct webhook_limits){ cfg->max_webhooks, cfg->webhook_max_per_host,
	    cfg->max_output };
}

/* action_kind.configure */
static int
webhook_configure(const struct config *cfg)
{
	struct webhook_limits limits = webhook_limits_of(cfg);
	int rc = 0;

	webhook_defaults.timeout = cfg->webhook_timeout;
	webhook_defaults.attempts = (int)cfg->webhook_attempts;
	webhook_defaults.max_retry_after = cfg->max_retry_after;
	webhook_set_limits(&limits);
	if (webhook_set_proxy(cfg->webhook_proxy) == -1)
		rc = -1;
	if (netpolicy_set(cfg->webhook_allow, cfg->webhook_deny) == -1)
		rc = -1;
	if (sign_load(cfg->signing_secret_file) == -1)
		rc = -1;
	return rc;
}

/* action_kind.init */
static int
webhook_kind_init(struct event_base *base, const struct config *cfg)
{
	struct webhook_hooks hooks = { webhook_started_hook, webhook_done_hook, NULL };
	struct webhook_limits limits = webhook_limits_of(cfg);

	if (webhook_init(base, &limits, &hooks) == -1)
		return -1;
	return webhook_configure(cfg);
}

/* action_kind.shutdown */
static void
webhook_kind_shutdown(void)
{
	webhook_shutdown();
	netpolicy_free();
	sign_free();
}

/* An aborted request ends here: the executor does not report it. */
const struct action_kind action_webhook_kind = {
	.action = PROTO_WEBHOOK,
	.fail_type = "WebhookFailed",
	.init = webhook_kind_init,
	.configure = webhook_configure,
	.start = webhook_start,
	.abort = webhook_abort,
	.claimed = NULL,
	.shutdown = webhook_kind_shutdown,
};
