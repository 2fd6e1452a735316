/*
 * cmd_schedule: "schedule" and "on-done" -- build a call from options
 * (a trigger, and a command or a webhook), post it, and optionally await it
 * with the command's output and exit status passed through, as ssh and
 * docker run do.
 */
#include <err.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/await.h"
#include "client/wire.h"
#include "client/loopctl.h"
#include "client/output.h"
#include "client/progress.h"
#include "client/timeparse.h"

#define SCHED_STDIN_MAX	(64 * 1024 * 1024)

/* What a command takes of the caller's environment. */
#define SCHED_ENV_SOME	0	/* the allow-list below (the default) */
#define SCHED_ENV_ALL	1	/* --env-all */
#define SCHED_ENV_NONE	2	/* --no-env */

/* The variables a command gets from the caller by default: where to find
 * programs, who and where the user is, language and zone. Shell prefixes
 * end in '*'. Anything else (tokens, passwords, agent sockets) stays with
 * the caller unless --env-all or --env K=V send it. */
static const char *sched_env_allow[] = {
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE",
	"LC_*", "TZ", "TMPDIR", "TERM",
};

extern char **environ;

enum {
	SO_SOON = 0x100, SO_AFTER, SO_AT,
	SO_NAME, SO_IDEMPOTENCY_KEY, SO_TIMEOUT, SO_RETRY, SO_BACKOFF,
	SO_MAX_BACKOFF, SO_ENV, SO_CWD, SO_STDIN_FILE, SO_WEBHOOK, SO_DATA,
	SO_HEADER, SO_METHOD, SO_WAIT, SO_WAIT_TIMEOUT, SO_ALLOW_PAST,
	SO_ENV_ALL, SO_NO_ENV, SO_NO_CWD,
};

/* The trigger options come first: on-done takes the table without them. */
#define SCHED_NTRIGGERS	4
static const struct option sched_opts[] = {
	{ "soon", no_argument, NULL, SO_SOON },
	{ "after", required_argument, NULL, SO_AFTER },
	{ "at", required_argument, NULL, SO_AT },
	{ "allow-past", no_argument, NULL, SO_ALLOW_PAST },
	{ "name", required_argument, NULL, SO_NAME },
	{ "idempotency-key", required_argument, NULL, SO_IDEMPOTENCY_KEY },
	{ "timeout", required_argument, NULL, SO_TIMEOUT },
	{ "retry", required_argument, NULL, SO_RETRY },
	{ "backoff", required_argument, NULL, SO_BACKOFF },
	{ "max-backoff", required_argument, NULL, SO_MAX_BACKOFF },
	{ "env", required_argument, NULL, SO_ENV },
	{ "cwd", required_argument, NULL, SO_CWD },
	{ "env-all", no_argument, NULL, SO_ENV_ALL },
	{ "no-env", no_argument, NULL, SO_NO_ENV },
	{ "no-cwd", no_argument, NULL, SO_NO_CWD },
	{ "stdin-file", required_argument, NULL, SO_STDIN_FILE },
	{ "webhook", required_argument, NULL, SO_WEBHOOK },
	{ "data", required_argument, NULL, SO_DATA },
	{ "header", required_argument, NULL, SO_HEADER },
	{ "method", required_argument, NULL, SO_METHOD },
	{ "wait", no_argument, NULL, SO_WAIT },
	{ "wait-timeout", required_argument, NULL, SO_WAIT_TIMEOUT },
	{ NULL, 0, NULL, 0 },
};

/* What the options asked for. */
struct sched {
	json_t		*body;		/* the call: trigger, name, retry... */
	json_t		*action;	/* command or webhook fields but argv/url */
	json_t		*retry;
	const char	*webhook;
	int		 triggers;
	int		 command_only;	/* an option only a command takes */
	int		 webhook_only;	/* an option only a webhook takes */
	int		 wait;
	double		 wait_timeout;	/* < 0: none */
	const char	*cwd;		/* --cwd as given, or NULL */
	int		 no_cwd;
	int		 env_mode;	/* SCHED_ENV_* */
	const char	*at;		/* --at as given, or NULL */
	double		 at_unix;
	int		 allow_past;
};

/* The object at KEY of OBJ, created empty if missing. */
static json_t *
sched_object(json_t *obj, const char *key)
{
	json_t *o = json_object_get(obj, key);

	if (o == NULL) {
		o = json_object();
		json_object_set_new(obj, key, o);
	}
	return o;
}

/* Split "KEY<SEP>VALUE" into OBJ[KEY] = VALUE; a usage error if malformed. */
static void
sched_pair(struct ctl *ctl, json_t *obj, const char *opt, const char *arg,
    char sep)
{
	const char *v = strchr(arg, sep);
	char *key;

	if (v == NULL || v == arg)
		ctl_usage(ctl, "%s: expected KEY%cVALUE, got '%s'", opt, sep,
		    arg);
	/* Checked whole, so that both halves are UTF-8. */
	json_decref(ctl_string(ctl, opt, arg));
	if ((key = strndup(arg, (size_t)(v - arg))) == NULL)
		err(1, "strndup");
	for (v++; sep == ':' && *v == ' '; v++)
		;
	json_object_set_new(obj, key, json_string(v));
	free(key);
}

/* The contents of file PATH ("-" for standard input) as a JSON string. */
static json_t *
sched_stdin(struct ctl *ctl, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL, *p;
	size_t len = 0, cap = 0, n;
	json_t *s;

	if (f == NULL)
		ctl_usage(ctl, "--stdin-file: %s: %s", path, strerror(errno));
	do {
		if (len == cap) {
			cap = cap * 2 + 65536;
			if ((p = realloc(buf, cap)) == NULL)
				err(1, "realloc");
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0 && len <= SCHED_STDIN_MAX);
	if (ferror(f) || len > SCHED_STDIN_MAX) {
		free(buf);
		ctl_usage(ctl, "--stdin-file: %s: %s", path, ferror(f) ?
		    strerror(errno) : "too large");
	}
	if (f != stdin)
		fclose(f);
	s = json_stringn(buf, len);
	free(buf);
	if (s == NULL)
		ctl_usage(ctl, "--stdin-file: %s: not UTF-8 text", path);
	return s;
}

/* Whether variable NAME (LEN bytes) is on the default allow-list. */
static int
sched_env_allowed(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(sched_env_allow) /
	    sizeof(sched_env_allow[0]); i++) {
		const char *a = sched_env_allow[i];
		size_t n = strlen(a);

		if (a[n - 1] == '*' ? len >= n - 1 && strncmp(name, a, n - 1) ==
		    0 : len == n && strncmp(name, a, n) == 0)
			return 1;
	}
	return 0;
}

/* Where the command runs, as the caller sees it: the working directory
 * (absolute; --cwd resolved against it) and the environment (the
 * allow-list, all of it, or none), --env K=V winning over both. */
static void
sched_where(struct ctl *ctl, struct sched *s)
{
	char *here, *dir, *real;
	json_t *env, *v;
	size_t len;

	if (!s->no_cwd) {
		if ((here = getcwd(NULL, 0)) == NULL)
			ctl_usage(ctl, "the current directory: %s (give --cwd"
			    " DIR or --no-cwd)", strerror(errno));
		if (s->cwd == NULL)
			dir = strdup(here);
		else if (*s->cwd == '/')
			dir = strdup(s->cwd);
		else if (asprintf(&dir, "%s/%s", here, s->cwd) == -1)
			dir = NULL;
		if (dir == NULL)
			err(1, "strdup");
		/* Tidy "/a/b/." and "../c" where the directory exists. */
		if ((real = realpath(dir, NULL)) != NULL) {
			free(dir);
			dir = real;
		}
		json_object_set_new(s->action, "cwd", ctl_string(ctl, "--cwd",
		    dir));
		free(dir);
		free(here);
	}
	if (s->env_mode == SCHED_ENV_NONE)
		return;
	env = sched_object(s->action, "env");
	for (char **e = environ; *e != NULL; e++) {
		const char *eq = strchr(*e, '=');

		if (eq == NULL || eq == *e)
			continue;
		len = (size_t)(eq - *e);
		/* loopctl's own credential is never passed on. */
		if (strncmp(*e, "LOOP_TOKEN", 10) == 0)
			continue;
		if (s->env_mode == SCHED_ENV_SOME && !sched_env_allowed(*e, len))
			continue;
		if ((dir = strndup(*e, len)) == NULL)
			err(1, "strndup");
		/* What is not UTF-8 cannot travel in JSON: left out. */
		if (json_object_get(env, dir) == NULL &&
		    (v = json_string(eq + 1)) != NULL)
			json_object_set_new(env, dir, v);
		free(dir);
	}
	if (json_object_size(env) == 0)
		json_object_del(s->action, "env");
}

/* Turn --at into at_unix; a time in the past is refused unless
 * --allow-past. A person is told when that is, in the local zone. */
static void
sched_at(struct ctl *ctl, struct sched *s)
{
	char why[256], local[64], rel[32];
	double now = ctl_unix_now();

	if (timeparse_at(s->at, now, &s->at_unix, why, sizeof(why)) == -1)
		ctl_usage(ctl, "--at: bad time '%s': %s (try 10:00, tomorrow"
		    " 10:00, monday 9am, 2026-12-05 09:05, now + 5 minutes,"
		    " RFC 3339 or a Unix time)", s->at, why);
	timeparse_local(s->at_unix, local, sizeof(local));
	if (s->at_unix < now && !s->allow_past)
		ctl_usage(ctl, "--at: %s is in the past (%s); --allow-past runs"
		    " it at once", local, timeparse_relative(s->at_unix - now,
		    rel, sizeof(rel)));
	if (ctl_progress(ctl))
		fprintf(stderr, "loopctl: due %s (%s)\n", local,
		    timeparse_relative(s->at_unix - now, rel, sizeof(rel)));
	json_object_set_new(s->body, "at_unix", json_real(s->at_unix));
}

/* Parse the options of schedule (TRIGGERS set) or on-done into S, then the
 * action: --webhook or the command in ARGV[optind...]. */
static void
sched_parse(struct ctl *ctl, int argc, char **argv, int triggers,
    struct sched *s)
{
	json_t *b = s->body, *a = s->action;
	double d;
	char *end;
	long n;
	int ch;

	while ((ch = ctl_getopt(ctl, argc, argv, "+",
	    triggers ? sched_opts : sched_opts + SCHED_NTRIGGERS)) != -1) {
		switch (ch) {
		case SO_SOON:
			json_object_set_new(b, "soon", json_true());
			s->triggers++;
			break;
		case SO_AFTER:
			d = ctl_duration(ctl, "--after", optarg);
			json_object_set_new(b, "after", json_real(d));
			s->triggers++;
			break;
		case SO_AT:
			s->at = optarg;
			s->triggers++;
			break;
		case SO_ALLOW_PAST:
			s->allow_past = 1;
			break;
		case SO_NAME:
			json_object_set_new(b, "name", ctl_string(ctl,
			    "--name", optarg));
			break;
		case SO_IDEMPOTENCY_KEY:
			json_object_set_new(b, "idempotency_key",
			    ctl_string(ctl, "--idempotency-key", optarg));
			break;
		case SO_TIMEOUT:
			d = ctl_duration(ctl, "--timeout", optarg);
			json_object_set_new(a, "timeout", json_real(d));
			break;
		case SO_RETRY:
			n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || n < 1 ||
			    n > 1000000)
				ctl_usage(ctl, "--retry: bad count '%s'",
				    optarg);
			json_object_set_new(s->retry, "attempts",
			    json_integer(n));
			break;
		case SO_BACKOFF:
			d = ctl_duration(ctl, "--backoff", optarg);
			json_object_set_new(s->retry, "backoff", json_real(d));
			break;
		case SO_MAX_BACKOFF:
			d = ctl_duration(ctl, "--max-backoff", optarg);
			json_object_set_new(s->retry, "max_backoff",
			    json_real(d));
			break;
		case SO_ENV:
			sched_pair(ctl, sched_object(a, "env"), "--env", optarg,
			    '=');
			s->command_only = 1;
			break;
		case SO_CWD:
			s->cwd = optarg;
			s->command_only = 1;
			break;
		case SO_NO_CWD:
			s->no_cwd = 1;
			s->command_only = 1;
			break;
		case SO_ENV_ALL:
		case SO_NO_ENV:
			s->env_mode = ch == SO_ENV_ALL ? SCHED_ENV_ALL :
			    SCHED_ENV_NONE;
			s->command_only = 1;
			break;
		case SO_STDIN_FILE:
			json_object_set_new(a, "stdin", sched_stdin(ctl,
			    optarg));
			s->command_only = 1;
			break;
		case SO_WEBHOOK:
			s->webhook = optarg;
			break;
		case SO_DATA:
			json_object_set_new(a, "body", ctl_json_arg(ctl,
			    "--data", optarg));
			s->webhook_only = 1;
			break;
		case SO_HEADER:
			sched_pair(ctl, sched_object(a, "headers"), "--header",
			    optarg, ':');
			s->webhook_only = 1;
			break;
		case SO_METHOD:
			json_object_set_new(a, "method", ctl_string(ctl,
			    "--method", optarg));
			s->webhook_only = 1;
			break;
		case SO_WAIT:
			s->wait = 1;
			break;
		case SO_WAIT_TIMEOUT:
			s->wait_timeout = ctl_duration(ctl, "--wait-timeout",
			    optarg);
			s->wait = 1;
			break;
		default:
			ctl_usage(ctl, NULL);
		}
	}
	/* "schedule --wait -- CMD" runs CMD now and waits, as systemd-run
	 * --wait does; without --wait a trigger must be given. */
	if (triggers && s->triggers == 0 && s->wait) {
		json_object_set_new(b, "soon", json_true());
		s->triggers++;
	}
	if (triggers && s->triggers != 1)
		ctl_usage(ctl, "give one of --soon, --after DUR and --at TIME");
	if (s->at != NULL)
		sched_at(ctl, s);
	if (json_object_size(s->retry) > 0)
		json_object_set(b, "retry", s->retry);

	if (s->webhook != NULL) {
		if (optind < argc)
			ctl_usage(ctl, "give --webhook URL or a command, not"
			    " both");
		if (s->command_only)
			ctl_usage(ctl, "--env, --env-all, --no-env, --cwd,"
			    " --no-cwd and --stdin-file are for commands");
		json_object_set_new(a, "url", ctl_string(ctl, "--webhook",
		    s->webhook));
		json_object_set(b, "webhook", a);
	} else {
		if (optind >= argc)
			ctl_usage(ctl, "no action: give --webhook URL or"
			    " -- CMD [ARG...]");
		if (s->webhook_only)
			ctl_usage(ctl, "--data, --header and --method are for"
			    " webhooks");
		if (s->cwd != NULL && s->no_cwd)
			ctl_usage(ctl, "give --cwd DIR or --no-cwd, not both");
		sched_where(ctl, s);
		json_object_set_new(a, "argv", json_array());
		for (int i = optind; i < argc; i++)
			json_array_append_new(json_object_get(a, "argv"),
			    ctl_string(ctl, "command", argv[i]));
		json_object_set(b, "command", a);
	}
}

/* Pass the outcome of the finished call CALL through, as ssh does: the
 * command's output and exit status, or the webhook's reply. */
static int
sched_outcome(struct ctl *ctl, const json_t *call)
{
	const char *id = json_string_value(json_object_get(call, "id"));
	const char *state = json_string_value(json_object_get(call, "state"));
	const json_t *res = json_object_get(call, "result");
	const json_t *exc = json_object_get(call, "exception");
	const json_t *out = res != NULL ? res : exc, *v;
	const char *type = json_string_value(json_object_get(exc, "type"));

	if (id == NULL)
		id = "the call";
	if (ctl->json) {
		ctl_redact(ctl, (json_t *)(uintptr_t)call);
		output_json(call);
	}
	if (state != NULL && strcmp(state, "cancelled") == 0) {
		ctl_warnx("%s was cancelled", id);
		return CTL_EXIT_BROKEN;
	}
	if (out == NULL) {
		ctl_warnx("%s is %s without an outcome", id,
		    state != NULL ? state : "done");
		return CTL_EXIT_BROKEN;
	}

	if (json_object_get(call, "webhook") != NULL) {
		v = json_object_get(out, "body");
		if (!ctl->json && v != NULL && json_is_string(v))
			output_value(stdout, v);
		else if (!ctl->json && v != NULL)
			output_json(v);
		if (exc == NULL)
			return CTL_EXIT_OK;
		ctl_warn_exception(id, exc);
		return CTL_EXIT_FAIL;
	}

	if (!ctl->json) {
		output_value(stdout, json_object_get(out, "stdout"));
		fflush(stdout);
		output_value(stderr, json_object_get(out, "stderr"));
	}
	if (json_is_true(json_object_get(out, "stdout_truncated")) ||
	    json_is_true(json_object_get(out, "stderr_truncated")))
		ctl_warnx("%s: the daemon kept only part of the output", id);
	if (exc == NULL)
		return (int)json_integer_value(json_object_get(out,
		    "exit_code"));
	/* A plain exit status needs no words; the rest are said. */
	if ((type != NULL && strcmp(type, "TimeoutError") == 0) ||
	    json_is_integer(json_object_get(out, "signal")) ||
	    !json_is_integer(v = json_object_get(out, "exit_code")) ||
	    json_integer_value(v) == 0)
		ctl_warn_exception(id, exc);
	return await_status(call, CTL_EXIT_BROKEN);
}

/* Post S->body to PATH; print the new call's id, or await it. */
static int
sched_submit(struct ctl *ctl, struct sched *s, const char *path)
{
	int fail = s->wait ? CTL_EXIT_BROKEN : CTL_EXIT_FAIL, rc = fail;
	json_t *call = NULL, *done = NULL;
	const char *id, *phase;
	char note[256];

	if (ctl_request(ctl, "POST", path, json_incref(s->body), 0,
	    &call) == -1)
		return fail;
	if ((id = json_string_value(json_object_get(call, "id"))) == NULL)
		ctl_warnx("the daemon's reply has no call id");
	else if (!s->wait) {
		ctl_redact(ctl, call);
		if (ctl->json)
			output_json(call);
		else
			printf("%s\n", id);
		rc = CTL_EXIT_OK;
	} else {
		/* The call is durable: Ctrl-C leaves it to run. Say so, and
		 * how to cancel it; a person is shown its id at once. */
		snprintf(note, sizeof(note), "\nloopctl: %s goes on without"
		    " us; loopctl await %s to wait again, loopctl cancel %s to"
		    " cancel it\n", id, id, id);
		progress_note(note);
		if (ctl_progress(ctl))
			fprintf(stderr, "loopctl: %s (Ctrl-C stops waiting, not"
			    " the call)\n", id);
		switch (await_future(ctl, id, s->wait_timeout, &done)) {
		case AWAIT_DONE:
			rc = sched_outcome(ctl, done);
			break;
		case AWAIT_TIMEOUT:
			if (ctl->json && done != NULL)
				output_json(done);
			phase = json_string_value(json_object_get(done,
			    "phase"));
			ctl_warnx("timed out waiting for %s (%s)", id,
			    phase != NULL ? phase : "pending");
			rc = CTL_EXIT_TIMEOUT;
			break;
		}
		progress_note(NULL);
	}
	json_decref(done);
	json_decref(call);
	return rc;
}

/* Run schedule (TRIGGERS set) or on-done: parse, post to PATH, report. */
static int
sched_run(struct ctl *ctl, int argc, char **argv, int triggers,
    const char *path)
{
	struct sched s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.body = json_object();
	s.action = json_object();
	s.retry = json_object();
	s.wait_timeout = -1;
	sched_parse(ctl, argc, argv, triggers, &s);
	rc = sched_submit(ctl, &s, path);
	json_decref(s.body);
	json_decref(s.action);
	json_decref(s.retry);
	return rc;
}

int
cmd_schedule(struct ctl *ctl, int argc, char **argv)
{
	return sched_run(ctl, argc, argv, 1, "/v1/calls");
}

int
cmd_on_done(struct ctl *ctl, int argc, char **argv)
{
	char *path;
	int rc;

	/* The id comes first, before the options and the command. */
	if (argc < 2 || argv[1][0] == '-') {
		ctl_getopt(ctl, argc, argv, "+", sched_opts + SCHED_NTRIGGERS);
		ctl_usage(ctl, "on-done needs the future's ID first");
	}
	path = wire_path("/v1/futures/", argv[1], "/callbacks");
	argv[1] = argv[0];
	rc = sched_run(ctl, argc - 1, argv + 1, 0, path);
	free(path);
	return rc;
}

json_t *
sched_action_body(struct ctl *ctl, int argc, char **argv)
{
	struct sched s;

	memset(&s, 0, sizeof(s));
	s.body = json_object();
	s.action = json_object();
	s.retry = json_object();
	s.wait_timeout = -1;
	sched_parse(ctl, argc, argv, 0, &s);
	if (s.wait)
		ctl_usage(ctl, "--wait is for one call, not a schedule");
	json_decref(s.action);
	json_decref(s.retry);
	return s.body;
}
