/*
 * config: loopd.conf, `key = value` lines with # comments. Every key has a
 * default (documented in etc/loopd.conf); the file, then -o KEY=VALUE and
 * flags, override it. Errors are reported as file:line: message, all of
 * them, before giving up.
 */
#ifndef LOOPD_CONFIG_H
#define LOOPD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct config {
	char **listen;			/* HOST:PORT, [V6]:PORT or unix:PATH, each */
	char *state_dir;
	char *token_file;		/* empty: STATE_DIR/token */
	char *tokens_file;		/* scoped tokens (hashes); empty: none */
	int auth;
	int metrics_auth;		/* /metrics needs the token on TCP */
	int commands;
	char **command_allow;		/* NULL: any executable */
	char **command_env_allow;	/* NULL: any name not denied */
	char **command_env_deny;
	char **command_cwd_allow;	/* NULL: any directory */
	uint64_t command_max_argv;	/* bytes; 0: no limit */
	uint64_t command_max_env;
	uint64_t command_max_stdin;
	char **command_rlimits;		/* NAME=VALUE */
	int64_t command_max_timeout;	/* 0: no cap */
	char *signing_secret_file;
	uint64_t max_body;
	uint64_t max_json_depth;
	int64_t max_wait;
	int64_t retention;
	int64_t horizon;
	int64_t claim_ahead;		/* claim timed calls this long ahead */
	uint64_t max_output;
	uint64_t max_commands;
	uint64_t max_webhooks;
	uint64_t webhook_max_per_host;
	uint64_t webhook_attempts;
	int64_t webhook_timeout;
	char **webhook_allow;		/* NULL: anywhere not denied */
	char **webhook_deny;
	char *webhook_proxy;		/* empty: no proxy, whatever the environment */
	int64_t kill_grace;
	int64_t drain_grace;
	int64_t retry_backoff;
	int64_t retry_max_backoff;
	int64_t max_retry_after;	/* cap on every receiver-given delay */
	uint64_t max_pending;
	uint64_t max_pending_per_token;	/* each token's share; 0: no cap */
	uint64_t max_waiters;
	uint64_t max_schedules;		/* 0: no cap */
	int64_t schedule_min_interval;	/* shortest `every` */
	uint64_t max_connections;
	uint64_t max_connections_per_ip;
	int64_t idle_timeout;
	int64_t request_timeout;	/* headers and body must be in by then */
	uint64_t max_unix_connections;	/* apart from max_connections */
	uint64_t max_admin_connections;	/* admin tokens past the TCP limits */
	char *tls_cert;
	char *tls_key;
	int log_level;
	char *console;			/* off | read-only | on (config_console) */
	uint64_t max_event_streams;	/* GET /v1/events streams open at once */
	int64_t event_keepalive;	/* comment line on every stream this often */
	uint64_t event_ring;		/* events kept for Last-Event-ID replay */
	uint64_t log_runs_per_second;	/* run lines a second (0: no limit) */
};

enum { CONFIG_CONSOLE_OFF, CONFIG_CONSOLE_READ_ONLY, CONFIG_CONSOLE_ON };

/* Fill cfg with the defaults. 0 or -1 (ENOMEM). */
int config_defaults(struct config *cfg);
/* Read a config file over cfg. Reports every error on stderr; returns
 * the number of errors (0: good). A missing file is an error unless
 * missing_ok. */
int config_load(struct config *cfg, const char *path, int missing_ok);
/* Apply one "key=value" (from -o or a flag); where names the source in
 * errors. Returns 0 or -1 (reported). */
int config_set(struct config *cfg, const char *key, const char *value, const char *where);
/* Cross-key checks (auth = off needs a loopback address, ...). Reports and
 * returns the number of errors. */
int config_check(const struct config *cfg);
/* The console setting: CONFIG_CONSOLE_*, or -1 if it is none of them. */
int config_console(const struct config *cfg);
/* Free what cfg owns. */
void config_free(struct config *cfg);
/* Whether a listen address is on the loopback interface (or a Unix socket). */
int config_listen_is_local(const char *listen);

#endif
