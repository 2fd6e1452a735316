/*
 * fuzz_api: libFuzzer over the request decoder and the routes. An input is
 * "METHOD PATH\n" then a body; it is dispatched as the HTTP layer would
 * (api_dispatch) against the real core, with actions that settle at once
 * instead of spawning. Whatever the bytes, nothing may crash, leak or
 * trip a sanitizer, and every reply must be a status with a body.
 *
 * A command policy and a webhook network policy are in force (commands are
 * checked, resolved and refused as in loopd, but never spawned); every
 * input's first 16 bytes are also judged as an IPv6 and its first 4 as an
 * IPv4 destination; and an input "CONFIG KEY\nVALUE" sets config key KEY
 * (the policy parsers: command_rlimits, webhook_deny, ...). Whole files go
 * through their parsers too: "TOKENS -\nTEXT" is a tokens file (auth's
 * parser, as loopd -n reads it), "CONFFILE -\nTEXT" a configuration file,
 * whose command and network policies are then put in force and checked
 * against a request before the fuzz policy comes back. Every body is also
 * read the short way of a wait or gather body (proto/waitbody), whose
 * answer, whenever it gives one, must be the long way's.
 *
 *   make fuzz FUZZ_TIME=600     run for ten minutes
 */
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>

#include "daemon/action/action.h"
#include "daemon/action/cmdpolicy.h"
#include "daemon/exec/netpolicy.h"
#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/core/sched.h"
#include "daemon/core/schedule.h"
#include "daemon/http/api.h"
#include "daemon/http/auth.h"
#include "daemon/log.h"
#include "proto/codec.h"
#include "proto/waitbody.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static struct config cfg, conf2;

/* Settle a call at once, as if its action ran instantly. */
static void
stub_start(void *arg, struct future *c)
{
	sched_started(c);
	sched_finish(c, strdup("{\"exit_code\":0}"), 0);
}

static void
stub_abort(void *arg, struct future *c)
{
	sched_finish(c, NULL, 0);
}

static int
stub_interrupted(void *arg, struct future *c)
{
	return 1;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* The real admission (the command policy), stub executors. */
	struct sched_actions ops = {
		.admit = action_admit, .start = stub_start, .abort = stub_abort,
		.interrupted = stub_interrupted,
	};
	struct future_limits fl = { 20000, 1000000, 0 };

	log_set_level(LOG_LEVEL_ERROR);
	if (config_defaults(&cfg) == -1 || config_set(&cfg, "auth", "off", "fuzz") == -1 ||
	    config_set(&cfg, "max_wait", "1s", "fuzz") == -1 ||
	    config_set(&cfg, "command_allow", "/bin/echo, true, ./tool", "fuzz") == -1 ||
	    config_set(&cfg, "command_cwd_allow", "/tmp, /srv/jobs", "fuzz") == -1 ||
	    config_set(&cfg, "command_env_allow", "FOO, APP_*, PATH", "fuzz") == -1 ||
	    config_set(&cfg, "command_max_argv", "4K", "fuzz") == -1 ||
	    config_set(&cfg, "webhook_deny", "loopback, private, link-local, reserved",
	    "fuzz") == -1 || cmdpolicy_set(&cfg) == -1 ||
	    netpolicy_set(cfg.webhook_allow, cfg.webhook_deny) == -1 ||
	    config_defaults(&conf2) == -1)
		abort();
	base = event_base_new();
	clock_start(-1, 0);
	if (base == NULL || future_init(base, &fl) == -1 ||
	    schedule_init(NULL, &(struct schedule_limits){ 100, 1000000 }) == -1 ||
	    sched_init(base, &ops, cfg.horizon) == -1)
		abort();
	schedule_recover();	/* installs the scheduler's gate */
	api_configure(base, &cfg);
	return 0;
}

/* The text as a file (a memfd) whose path goes in path. The fd, or -1. */
static int
fuzz_file(const uint8_t *text, size_t len, char *path, size_t plen)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd == -1)
		abort();
	if (len > 0 && write(fd, text, len) != (ssize_t)len)
		abort();
	snprintf(path, plen, "/proc/self/fd/%d", fd);
	return fd;
}

/* A whole configuration file: parsed over the defaults, checked, and its
 * policies put in force for one request, then the fuzz policy again. */
static void
fuzz_config_file(const char *path)
{
	static const char body[] = "{\"command\":{\"argv\":[\"true\"],"
	    "\"env\":{\"LD_PRELOAD\":\"x\"},\"cwd\":\"/tmp\"},\"after\":3600}";
	struct config c;
	struct http_req *r;

	if (config_defaults(&c) == -1)
		abort();
	if (config_load(&c, path, 0) == 0 && config_check(&c) == 0 &&
	    cmdpolicy_set(&c) == 0 && netpolicy_set(c.webhook_allow, c.webhook_deny) == 0) {
		if ((r = http_detached("POST", 4, "/v1/calls", 9, body, sizeof(body) - 1)) == NULL)
			abort();
		api_dispatch(r);
		if (http_reply_status(r) == 0 && http_hold_arg(r) == NULL)
			abort();
		http_detached_free(r);
	}
	config_free(&c);
	if (cmdpolicy_set(&cfg) == -1 || netpolicy_set(cfg.webhook_allow, cfg.webhook_deny) == -1)
		abort();
}

/* The short read of a wait or gather body answers as the long one, or
 * leaves it to it. */
static void
fuzz_waitbody(const char *body, size_t len)
{
	for (int gather = 0; gather < 2; gather++) {
		struct proto_wait_req a, b;
		struct proto_wait_ids ids;
		struct proto_error ea = { "" }, eb = { "" };
		int ra = proto_wait_scan(body, len, gather, 64, 10000, &a, &ids, &ea), rb = -1;
		json_t *v = NULL;

		if (ra == 0)
			continue;
		if ((v = proto_parse(body, len, 64, &eb)) != NULL)
			rb = proto_decode_wait(v, gather, &b, &eb);
		if (ra == -1 && (rb != -1 || strcmp(ea.detail, eb.detail) != 0))
			abort();
		if (ra == 1) {
			if (rb != 0 || json_array_size(b.futures) != ids.n ||
			    a.timeout != b.timeout || a.return_when != b.return_when ||
			    a.return_exceptions != b.return_exceptions)
				abort();
			for (size_t i = 0; i < ids.n; i++) {
				char kind;
				if (proto_id_parse(json_string_value(json_array_get(b.futures, i)),
				    &kind) != ids.id[i] || kind != ids.kind[i])
					abort();
			}
		}
		json_decref(v);
		proto_wait_ids_free(&ids);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size), *sp;
	struct http_req *r;
	int status;

	if (size >= 16) {
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
		struct sockaddr_in s4 = { .sin_family = AF_INET };
		memcpy(&s6.sin6_addr, data, 16);
		memcpy(&s4.sin_addr, data, 4);
		(void)netpolicy_permits((const struct sockaddr *)&s6);
		(void)netpolicy_permits((const struct sockaddr *)&s4);
	}
	if (nl == NULL || (sp = memchr(data, ' ', (size_t)(nl - data))) == NULL)
		return 0;
	fuzz_waitbody((const char *)nl + 1, size - (size_t)(nl + 1 - data));
	if (sp - data == 6 && memcmp(data, "CONFIG", 6) == 0) {
		/* One config key: its parser must take any value. */
		char *key = strndup((const char *)sp + 1, (size_t)(nl - sp - 1));
		char *value = strndup((const char *)nl + 1, size - (size_t)(nl + 1 - data));
		if (key == NULL || value == NULL)
			abort();
		(void)config_set(&conf2, key, value, "fuzz");
		free(key);
		free(value);
		return 0;
	}
	if ((sp - data == 6 && memcmp(data, "TOKENS", 6) == 0) ||
	    (sp - data == 8 && memcmp(data, "CONFFILE", 8) == 0)) {
		/* A whole file through its parser. */
		char path[64];
		int fd = fuzz_file(nl + 1, size - (size_t)(nl + 1 - data), path, sizeof(path));
		if (*data == 'T')
			(void)auth_check_file(path);
		else
			fuzz_config_file(path);
		close(fd);
		return 0;
	}
	if ((r = http_detached((const char *)data, (size_t)(sp - data), (const char *)sp + 1,
	    (size_t)(nl - sp - 1), (const char *)nl + 1, size - (size_t)(nl + 1 - data))) == NULL)
		abort();
	api_dispatch(r);
	status = http_reply_status(r);
	if (status == 0 && http_hold_arg(r) == NULL)
		abort();		/* every request gets an answer */
	if (status != 0 && (status < 200 || status > 599))
		abort();
	http_detached_free(r);	/* a hold's cleanup runs: the client went away */
	event_base_loop(base, EVLOOP_NONBLOCK);
	return 0;
}
