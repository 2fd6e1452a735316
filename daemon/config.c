/*
 * config: a table of keys, each parsed by its type from a default string,
 * the file, and overrides alike, so the defaults go through the same
 * checks as user input.
 */
#include "daemon/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/exec/netpolicy.h"
#include "daemon/exec/rlimits.h"
#include "daemon/log.h"
#include "daemon/util/addr.h"
#include "daemon/util/strv.h"
#include "proto/defaults.h"
#include "proto/units.h"

enum ctype { C_STRING, C_LISTEN, C_BOOL, C_SIZE, C_COUNT, C_DURATION, C_LIST, C_NETS,
    C_LEVEL, C_RLIMITS };

struct key {
	const char *name;
	enum ctype type;
	size_t off;
	const char *def;	/* NULL: computed (state_dir) */
};

/* Loader and interpreter variables: what makes a program run code that is
 * not the program. */
#define COMMAND_ENV_DENY "LD_* GCONV_PATH GLIBC_TUNABLES LOCPATH NLSPATH MALLOC_* " \
	"HOSTALIASES RES_OPTIONS RESOLV_HOST_CONF BASH_FUNC_* BASH_ENV ENV SHELLOPTS " \
	"BASHOPTS PS4 IFS CDPATH PYTHON* PERL5* PERLLIB PERLIO* RUBYLIB RUBYOPT " \
	"NODE_OPTIONS NODE_PATH JAVA_TOOL_OPTIONS _JAVA_OPTIONS JDK_JAVA_OPTIONS " \
	"LUA_INIT* LUA_PATH* LUA_CPATH* TCLLIBPATH GIT_* OPENSSL_CONF OPENSSL_ENGINES"

#define K(n, t, d) { #n, t, offsetof(struct config, n), d }
static const struct key keys[] = {
	K(listen, C_LISTEN, "127.0.0.1:7700"),
	K(state_dir, C_STRING, NULL),
	K(token_file, C_STRING, ""),
	K(tokens_file, C_STRING, ""),
	K(auth, C_BOOL, "on"),
	K(metrics_auth, C_BOOL, "on"),
	K(commands, C_BOOL, "on"),
	K(command_allow, C_LIST, ""),
	K(command_env_allow, C_LIST, ""),
	K(command_env_deny, C_LIST, COMMAND_ENV_DENY),
	K(command_cwd_allow, C_LIST, ""),
	K(command_max_argv, C_SIZE, "256K"),
	K(command_max_env, C_SIZE, "64K"),
	K(command_max_stdin, C_SIZE, "1M"),
	K(command_rlimits, C_RLIMITS, ""),
	K(command_max_timeout, C_DURATION, "0"),
	K(signing_secret_file, C_STRING, ""),
	K(max_body, C_SIZE, "1M"),
	K(max_json_depth, C_COUNT, "64"),
	K(max_wait, C_DURATION, "300s"),
	K(retention, C_DURATION, "24h"),
	K(horizon, C_DURATION, "3653d"),
	K(claim_ahead, C_DURATION, "1s"),
	K(max_output, C_SIZE, "1M"),
	K(max_commands, C_COUNT, "64"),
	K(max_webhooks, C_COUNT, "256"),
	K(webhook_max_per_host, C_COUNT, "16"),
	K(webhook_attempts, C_COUNT, "5"),
	K(webhook_timeout, C_DURATION, "30s"),
	K(webhook_allow, C_NETS, ""),
	K(webhook_deny, C_NETS, ""),
	K(webhook_proxy, C_STRING, ""),
	K(kill_grace, C_DURATION, "5s"),
	K(drain_grace, C_DURATION, "30s"),
	K(retry_backoff, C_DURATION, "1s"),
	K(retry_max_backoff, C_DURATION, "5m"),
	K(max_retry_after, C_DURATION, "5m"),
	K(max_pending, C_COUNT, "10000000"),
	K(max_pending_per_token, C_COUNT, "0"),
	K(max_waiters, C_COUNT, "100000"),
	K(max_schedules, C_COUNT, "10000"),
	K(schedule_min_interval, C_DURATION, "1s"),
	K(max_connections, C_COUNT, "1024"),
	K(max_connections_per_ip, C_COUNT, "256"),
	K(idle_timeout, C_DURATION, "60s"),
	K(request_timeout, C_DURATION, "10s"),
	K(max_unix_connections, C_COUNT, "64"),
	K(max_admin_connections, C_COUNT, "16"),
	K(tls_cert, C_STRING, ""),
	K(tls_key, C_STRING, ""),
	K(log_level, C_LEVEL, "info"),
	K(console, C_STRING, "on"),
	K(max_event_streams, C_COUNT, "64"),
	K(event_keepalive, C_DURATION, "15s"),
	K(event_ring, C_COUNT, "4096"),
	K(log_runs_per_second, C_COUNT, "100"),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Split a list value on commas and blanks. NULL for an empty list. */
static int
parse_list(const char *s, char ***out)
{
	char **v = NULL, *copy, *tok, *save = NULL;
	size_t n = 0;

	*out = NULL;
	if ((copy = strdup(s)) == NULL)
		return -1;
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		char **nv = realloc(v, (n + 2) * sizeof(*v));
		if (nv == NULL || (nv[n] = strdup(tok)) == NULL) {
			free(nv ? nv : v);
			free(copy);
			return -1;
		}
		v = nv;
		v[++n] = NULL;
	}
	free(copy);
	*out = v;
	return 0;
}

/* Whether a listen address has a valid form (util/addr's grammar). */
static int
listen_valid(const char *a)
{
	struct addr_listen al;
	const char *why;

	return addr_parse_listen(a, &al, &why) == 0;
}

/* Parse value for key k into cfg. Returns NULL or a message. */
static const char *
key_set(struct config *cfg, const struct key *k, const char *value)
{
	void *p = (char *)cfg + k->off;
	uint64_t n;
	int64_t us;
	char *end;
	enum log_level lvl;

	switch (k->type) {
	case C_STRING: {
		char *s = strdup(value);
		if (s == NULL)
			return "out of memory";
		free(*(char **)p);
		*(char **)p = s;
		return NULL;
	}
	case C_BOOL:
		if (strcmp(value, "on") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
			*(int *)p = 1;
		else if (strcmp(value, "off") == 0 || strcmp(value, "no") == 0 ||
		    strcmp(value, "false") == 0)
			*(int *)p = 0;
		else
			return "expected on or off";
		return NULL;
	case C_SIZE:
		if (units_parse_size(value, &n) == -1)
			return "expected a size such as 65536, 64K or 1M";
		*(uint64_t *)p = n;
		return NULL;
	case C_COUNT:
		errno = 0;
		if (!isdigit((unsigned char)*value))
			return "expected a whole number";
		n = strtoull(value, &end, 10);
		if (errno != 0 || *end != '\0' || n > (uint64_t)INT32_MAX * 16)
			return "expected a whole number";
		*(uint64_t *)p = n;
		return NULL;
	case C_DURATION:
		if (units_parse_duration(value, &us) == -1)
			return "expected a duration such as 30s, 500ms or 1h30m";
		*(int64_t *)p = us;
		return NULL;
	case C_LIST:
	case C_LISTEN:
	case C_NETS:
	case C_RLIMITS: {
		char **v;
		const char *bad;
		if (parse_list(value, &v) == -1)
			return "out of memory";
		if (k->type == C_LISTEN) {
			size_t i = 0;
			while (v != NULL && v[i] != NULL && listen_valid(v[i]))
				i++;
			if (v == NULL || v[i] != NULL) {
				strv_free(v);
				return "expected HOST:PORT (port 0 to 65535), [ADDR]:PORT or "
				    "unix:/PATH, comma-separated";
			}
		}
		if (k->type == C_NETS && !netpolicy_valid(v, &bad)) {
			strv_free(v);
			return "expected networks such as 10.0.0.0/8, ::1/128, loopback, "
			    "private, link-local or reserved";
		}
		if (k->type == C_RLIMITS && !rlimits_valid(v, &bad)) {
			strv_free(v);
			return "expected NAME=VALUE entries: as, core, data, fsize, memlock, stack "
			    "(sizes such as 64M) or cpu (seconds), nofile, nproc (counts)";
		}
		strv_free(*(char ***)p);
		*(char ***)p = v;
		return NULL;
	}
	case C_LEVEL:
		if (log_parse_level(value, &lvl) == -1)
			return "expected error, warn, info or debug";
		*(int *)p = (int)lvl;
		return NULL;
	}
	return "bad key type";
}

int
config_set(struct config *cfg, const char *key, const char *value, const char *where)
{
	const char *msg;

	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, key) != 0)
			continue;
		if ((msg = key_set(cfg, &keys[i], value)) == NULL)
			return 0;
		fprintf(stderr, "%s: %s: %s\n", where, key, msg);
		return -1;
	}
	fprintf(stderr, "%s: unknown key '%s'\n", where, key);
	return -1;
}

int
config_defaults(struct config *cfg)
{
	char dir[4096];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].def != NULL && key_set(cfg, &keys[i], keys[i].def) != NULL)
			return -1;
	if (defaults_state_dir(dir, sizeof(dir)) == -1)
		snprintf(dir, sizeof(dir), "/var/lib/loopd");
	return (cfg->state_dir = strdup(dir)) == NULL ? -1 : 0;
}

/* Trim blanks at both ends, in place. */
static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
config_load(struct config *cfg, const char *path, int missing_ok)
{
	FILE *f;
	char *line = NULL, where[4200];
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, errors = 0;

	if ((f = fopen(path, "r")) == NULL) {
		if (missing_ok && errno == ENOENT)
			return 0;
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((len = getline(&line, &cap, f)) != -1) {
		char *s, *eq, *hash, *key, *value;

		lineno++;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if ((size_t)len != strlen(line)) {
			fprintf(stderr, "%s: NUL byte in line\n", where);
			errors++;
			continue;
		}
		/* A comment runs from a # at the start of the line or after a
		 * blank to the end of the line. */
		for (hash = line; (hash = strchr(hash, '#')) != NULL; hash++)
			if (hash == line || isspace((unsigned char)hash[-1])) {
				*hash = '\0';
				break;
			}
		s = trim(line);
		if (*s == '\0')
			continue;
		if ((eq = strchr(s, '=')) == NULL) {
			fprintf(stderr, "%s: expected key = value\n", where);
			errors++;
			continue;
		}
		*eq = '\0';
		key = trim(s);
		value = trim(eq + 1);
		if (config_set(cfg, key, value, where) == -1)
			errors++;
	}
	free(line);
	fclose(f);
	return errors;
}

int
config_listen_is_local(const char *listen)
{
	if (strncmp(listen, "unix:", 5) == 0)
		return 1;
	return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "localhost:", 10) == 0 ||
	    strncmp(listen, "[::1]:", 6) == 0;
}

int
config_console(const struct config *cfg)
{
	if (cfg->console == NULL || strcmp(cfg->console, "on") == 0)
		return CONFIG_CONSOLE_ON;
	if (strcmp(cfg->console, "read-only") == 0)
		return CONFIG_CONSOLE_READ_ONLY;
	if (strcmp(cfg->console, "off") == 0)
		return CONFIG_CONSOLE_OFF;
	return -1;
}

int
config_check(const struct config *cfg)
{
	int errors = 0;


	for (size_t i = 0; !cfg->auth && cfg->listen[i] != NULL; i++)
		if (!config_listen_is_local(cfg->listen[i])) {
			fprintf(stderr, "config: auth = off is refused with the non-loopback "
			    "listen address %s\n", cfg->listen[i]);
			errors++;
		}
	if (cfg->max_commands == 0 || cfg->max_webhooks == 0 || cfg->webhook_attempts == 0) {
		fprintf(stderr, "config: max_commands, max_webhooks and webhook_attempts "
		    "must be at least 1\n");
		errors++;
	}
	if (cfg->max_wait <= 0 || cfg->horizon <= 0) {
		fprintf(stderr, "config: max_wait and horizon must be positive\n");
		errors++;
	}
	if (config_console(cfg) < 0) {
		fprintf(stderr, "config: console must be off, read-only or on\n");
		errors++;
	}
	if (cfg->event_keepalive <= 0 || cfg->event_ring == 0) {
		fprintf(stderr, "config: event_keepalive and event_ring must be positive\n");
		errors++;
	}
	if ((*cfg->tls_cert == '\0') != (*cfg->tls_key == '\0')) {
		fprintf(stderr, "config: tls_cert and tls_key go together\n");
		errors++;
	}
	/* Through a proxy the policy would see only the proxy's address, and
	 * the proxy resolves the name again: the destination cannot be
	 * checked, so a proxy and a policy do not go together. */
	if (*cfg->webhook_proxy != '\0' && (cfg->webhook_allow != NULL ||
	    cfg->webhook_deny != NULL)) {
		fprintf(stderr, "config: webhook_proxy is refused with webhook_allow or "
		    "webhook_deny (the policy cannot see a destination behind a proxy; "
		    "let the proxy enforce it)\n");
		errors++;
	}
	if (*cfg->state_dir == '\0') {
		fprintf(stderr, "config: state_dir must not be empty\n");
		errors++;
	}
	return errors;
}

void
config_free(struct config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++) {
		void *p = (char *)cfg + keys[i].off;
		if (keys[i].type == C_STRING)
			free(*(char **)p);
		else if (keys[i].type == C_LIST || keys[i].type == C_NETS ||
		    keys[i].type == C_LISTEN || keys[i].type == C_RLIMITS)
			strv_free(*(char ***)p);
	}
	memset(cfg, 0, sizeof(*cfg));
}
