/*
 * webhook: outbound HTTP requests on the event loop, through libcurl's
 * multi interface driven by libevent (socket and timer callbacks): many in
 * flight, none blocking the loop, connections reused. Redirects are not
 * followed. Every connection is checked against the network policy on the
 * address it is about to use, and again before each request is sent on it
 * (a reused connection too). No proxy is used unless one is configured
 * (webhook_set_proxy); the policy then sees the proxy's address, which is
 * why the config refuses a proxy together with allow or deny lists. At most `max_running` are started at once;
 * the rest wait in start order. A started request is sent once its host
 * (host and port) has fewer than `max_per_host` in flight, in start order
 * per host; its timeout counts from its start.
 */
#ifndef LOOPD_EXEC_WEBHOOK_H
#define LOOPD_EXEC_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/util/outbuf.h"

struct event_base;

struct webhook_spec {
	char *url;
	char *method;
	char **headers;		/* NULL-terminated "Name: value" */
	char *body;		/* NULL: none */
	size_t body_len;
	int64_t timeout;	/* microseconds, total (connect included) */
};

struct webhook_header {
	char *name;		/* lower case */
	char *value;
};

struct webhook_result {
	int error;		/* 0, or a curl error: no HTTP reply */
	const char *message;	/* what went wrong, when error */
	int refused;		/* the network policy refused the address */
	long status;		/* HTTP status of the reply */
	struct webhook_header *headers;
	size_t n_headers;
	struct outbuf body;
	int64_t retry_after;	/* microseconds from a Retry-After header, or -1 */
	int64_t duration;
};

struct webhook_limits {
	size_t max_running;	/* started at once */
	size_t max_per_host;	/* in flight to one host and port; 0: no cap */
	size_t max_output;	/* reply body bytes kept */
};

struct webhook_hooks {
	void (*started)(uint64_t id, void *arg);
	void (*done)(uint64_t id, struct webhook_result *res, void *arg);
	void *arg;
};

int webhook_init(struct event_base *base, const struct webhook_limits *limits,
    const struct webhook_hooks *hooks);
void webhook_set_limits(const struct webhook_limits *limits);
/* Send requests through proxy (a curl proxy URL, copied); NULL or "":
 * through none, whatever *_proxy variables loopd's environment holds.
 * Applies to requests handed to curl from now on. 0 or -1 (ENOMEM). */
int webhook_set_proxy(const char *proxy);
/* Send spec for id (taking it), now or when a slot frees. */
void webhook_run(uint64_t id, struct webhook_spec *spec);
/* Abort id's request (queued or in flight): done() is not called. 1 if
 * there was one. */
int webhook_abort(uint64_t id);
void webhook_spec_free(struct webhook_spec *spec);
void webhook_shutdown(void);
/* Requests in flight (in curl). */
size_t webhook_running(void);
/* Requests started and waiting for a connection to their host. */
size_t webhook_host_queued(void);
/* Requests not started: past max_running. */
size_t webhook_queued(void);

#endif
