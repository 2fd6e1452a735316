/*
 * loopctl: the command-line client of loopd.
 *
 * main() finds the daemon and the token, then dispatches on a declarative
 * table of one- and two-word commands (as OpenSMTPD's smtpctl does). Each
 * handler parses its own options through ctl_getopt(), which also takes the
 * global options wherever they appear, and returns the exit status.
 */
#include "client/loopctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/wire.h"
#include "daemon/util/secret.h"
#include "proto/defaults.h"
#include "proto/units.h"

/* Global options: values outside any command's option range. */
#define CTL_OPT_URL		0x1000
#define CTL_OPT_TOKEN_FILE	0x1001
#define CTL_OPT_JSON		0x1002
#define CTL_OPT_SHOW_SECRETS	0x1003
#define CTL_OPT_VERSION		0x1004

#define CTL_TOKEN_MAX		4096
#define CTL_SYSTEM_SOCKET	"/run/loopd/loopd.sock"

static const struct ctl_cmd ctl_cmds[] = {
	{ "schedule", NULL, cmd_schedule,
	  "(--soon | --after DUR | --at TIME) [options]\n"
	  "\t(--webhook URL [--data JSON] [--header K:V]... [--method M] |"
	  " -- CMD [ARG...])",
	  "  --soon                run on the next loop iteration (the"
	  " default with --wait)\n"
	  "  --after DUR           run DUR from now (0.5, 500ms, 2m, 1h30m)\n"
	  "  --at TIME             run at TIME: 10:00, 10:00 tomorrow, monday"
	  " 9am,\n"
	  "                        2026-12-05 09:05 (local), now + 5 minutes,"
	  " RFC 3339,\n"
	  "                        a Unix time\n"
	  "  --allow-past          a TIME already past runs at once (else"
	  " refused)\n"
	  "  --name N              a label for the call\n"
	  "  --idempotency-key K   repeat-safe scheduling\n"
	  "  --timeout DUR         limit for the command or webhook\n"
	  "  --retry N             attempts in all\n"
	  "  --backoff DUR         first pause between attempts\n"
	  "  --max-backoff DUR     longest pause between attempts\n"
	  "  --cwd DIR             command working directory (default: the"
	  " current one;\n"
	  "                        a relative DIR is resolved against it)\n"
	  "  --no-cwd              run in the daemon's directory instead\n"
	  "  --env K=V             command environment (repeatable)\n"
	  "  --env-all             pass this whole environment (but"
	  " LOOP_TOKEN)\n"
	  "  --no-env              pass none of it; by default PATH, HOME,"
	  " USER,\n"
	  "                        LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ,"
	  " TMPDIR, TERM\n"
	  "  --stdin-file F|-      command input\n"
	  "  --webhook URL         send a request instead of running a command\n"
	  "  --data JSON           webhook body\n"
	  "  --header K:V          webhook header (repeatable)\n"
	  "  --method M            webhook method (default POST)\n"
	  "  --wait                await the call; pass its output and exit"
	  " status through\n"
	  "  --wait-timeout DUR    give up waiting after DUR (exit 124)\n"
	  "\nWith --wait the exit status is the command's; 128+N if signal N"
	  " killed it;\n124 if it or the wait timed out; 125 if it was"
	  " cancelled or could not run.\nA webhook exits 0 on success, 1 on"
	  " failure.\n",
	  "schedule a command or webhook; prints the call id" },
	{ "cancel", NULL, cmd_cancel, "ID... | --name N",
	  "  --name N      every pending call named N\n"
	  "\nExits 1 if nothing was cancelled (all already done, or an"
	  " error).\n",
	  "cancel calls (or futures)" },
	{ "ls", NULL, cmd_ls,
	  "[--failed | --running | --pending] [--name N] [--since T]"
	  " [--limit N] [-q] [--futures]",
	  "  --failed      finished with an exception (exit status, signal,"
	  " HTTP error...)\n"
	  "  --running     running now\n"
	  "  --pending     not done yet (scheduled, waiting or running)\n"
	  "  --name N      calls with this name\n"
	  "  --since T     created since T: 1h (ago), today 09:00,"
	  " 2026-12-05 09:00\n"
	  "  --limit N     the N newest\n"
	  "  -q            ids only\n"
	  "  --state S     pending, finished or cancelled\n"
	  "  --phase P     scheduled, waiting, running or done\n"
	  "  --futures     list plain futures instead of calls\n"
	  "\nNewest first. WHEN is when a call is due, started or finished"
	  " (local time);\nOUTCOME its exit status, signal, HTTP status or"
	  " exception.\n",
	  "list calls, newest first" },
	{ "show", NULL, cmd_show, "ID", NULL, "show a call or a future" },
	{ "ui", NULL, cmd_ui, "[--no-open]",
	  "  --no-open     only print the URL\n"
	  "\nPrints the web console's URL; opens it with xdg-open when DISPLAY or\n"
	  "WAYLAND_DISPLAY is set. The console asks for the API token.\n",
	  "the web console's URL (and open it)" },
	{ "time", NULL, cmd_time, "", NULL, "show the loop time" },
	{ "status", NULL, cmd_status, "[--wait DUR]",
	  "  --wait DUR    wait up to DUR for the daemon to answer (a script"
	  " that\n                just started it)\n",
	  "check that the daemon is up; what it holds" },
	{ "logs", NULL, cmd_logs, "[-f] [-n N]",
	  "  -f, --follow  wait for more runs, across restarts of loopd"
	  " (Ctrl-C stops)\n"
	  "  -n N          the last N runs kept (default: all; 10 with -f)\n"
	  "\nOne line per start and end of a run: when, the call, what it ran,"
	  " its exit\nor HTTP status, duration and error. --json prints the"
	  " records as JSON lines.\n",
	  "show the daemon's recent runs" },
	{ "future", "new", cmd_future_new, "[--name N] [--timeout DUR]",
	  "  --name N        a label for the future\n"
	  "  --timeout DUR   cancel it if still pending after DUR\n",
	  "create a future; prints its id" },
	{ "future", "set", cmd_future_set, "ID JSON", NULL,
	  "finish a future with a result" },
	{ "future", "fail", cmd_future_fail, "ID TYPE MESSAGE", NULL,
	  "finish a future with an exception" },
	{ "future", "cancel", cmd_future_cancel, "ID", NULL,
	  "cancel a future" },
	{ "await", NULL, cmd_await, "ID [--timeout DUR]",
	  "  --timeout DUR   give up after DUR (exit 124)\n",
	  "wait for a future or call; print its result" },
	{ "on-done", NULL, cmd_on_done,
	  "ID [options] (--webhook URL [--data JSON] [--header K:V]..."
	  " [--method M] |\n\t-- CMD [ARG...])",
	  "  the action options of schedule, without a trigger\n",
	  "add a done-callback; prints its call id" },
	{ "wait", NULL, cmd_wait,
	  "[--any | --all | --first-exception] ID... [--timeout DUR]",
	  "  --any               until one is done\n"
	  "  --all               until all are done (the default)\n"
	  "  --first-exception   until one fails, or all are done\n"
	  "  --timeout DUR       give up after DUR (exit 124)\n",
	  "wait for futures; print which are done" },
	{ "gather", NULL, cmd_gather,
	  "ID... [--return-exceptions] [--timeout DUR]",
	  "  --return-exceptions   exceptions are results, not failures\n"
	  "  --timeout DUR         give up after DUR (exit 124)\n",
	  "wait for futures; print their results in order" },
	{ "cron", "next", cmd_cron_next,
	  "SPEC [--cron | --calendar | --every] [--tz ZONE] [-n N] [--from TIME]",
	  "  --cron, --calendar, --every   the kind of SPEC (else guessed)\n"
	  "  --tz ZONE       IANA zone of a cron or calendar spec (default UTC)\n"
	  "  -n N            how many fire times (default 10)\n"
	  "  --from TIME     fire times after TIME (RFC 3339 or Unix; default"
	  " now)\n"
	  "  --skip-gap      a time in a spring-forward gap does not fire\n"
	  "\nOffline: reads the zone files (TZDIR, else /usr/share/zoneinfo).\n",
	  "show the next fire times of a schedule spec" },
	{ "cron", "add", cmd_cron_add,
	  "(--every DUR | --cron SPEC | --calendar SPEC) [--tz ZONE] [policies]\n"
	  "\t[action options] (--webhook URL ... | -- CMD [ARG...])",
	  "  --every DUR         every DUR of real elapsed time (30s, 1h30m)\n"
	  "  --cron SPEC         5 or 6 cron fields, or @daily and the like\n"
	  "  --calendar SPEC     systemd OnCalendar= subset (Mon *-*-01..07 09:00)\n"
	  "  --tz ZONE           IANA zone of a cron or calendar spec (default UTC)\n"
	  "  --start TIME, --end TIME   bounds (RFC 3339 or Unix seconds)\n"
	  "  --count N           at most N occurrences\n"
	  "  --catchup skip|latest|all  missed runs after downtime or a pause\n"
	  "  --catchup-window DUR       a run at most this late still runs (60s)\n"
	  "  --overlap skip|buffer_one|buffer_all|cancel_other|allow_all\n"
	  "  --jitter DUR        delay each run by a fixed amount in [0, DUR]\n"
	  "  --pause-on-failure  pause the schedule when a run fails\n"
	  "  and the action options of schedule (--name, --retry, --env...)\n",
	  "create a recurring schedule; prints its id" },
	{ "cron", "ls", cmd_cron_ls, "[--paused | --active] [--name N]", NULL,
	  "list schedules" },
	{ "cron", "show", cmd_cron_show, "ID", NULL,
	  "show a schedule: next fires, last runs with outcome and lateness" },
	{ "cron", "pause", cmd_cron_pause, "ID", NULL, "pause a schedule" },
	{ "cron", "resume", cmd_cron_resume, "ID", NULL,
	  "resume a schedule (missed runs per its catchup)" },
	{ "cron", "trigger", cmd_cron_trigger, "ID", NULL,
	  "run one occurrence now; prints its call id" },
	{ "cron", "rm", cmd_cron_rm, "ID", NULL, "delete a schedule" },
};

#define CTL_NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

/* Where the token came from, or why there is none: told on a 401. */
static char ctl_token_note[1024];

/* Print the command list to F. */
static void
ctl_list(FILE *f)
{
	char words[32];

	fprintf(f, "usage: loopctl [--url URL] [--token-file FILE] [--json]"
	    " [--show-secrets]\n               COMMAND [ARG...]\n"
	    "       loopctl --version\n\ncommands:\n");
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		snprintf(words, sizeof(words), "%s%s%s", ctl_cmds[i].word,
		    ctl_cmds[i].word2 != NULL ? " " : "",
		    ctl_cmds[i].word2 != NULL ? ctl_cmds[i].word2 : "");
		fprintf(f, "  %-16s%s\n", words, ctl_cmds[i].about);
	}
	fprintf(f, "\nloopctl COMMAND --help tells more. LOOP_URL, LOOP_TOKEN"
	    " and LOOP_TOKEN_FILE\nstand in for --url and --token-file."
	    " Without them loopctl tries\n$XDG_RUNTIME_DIR/loopd/loopd.sock"
	    " (systemd --user), /run/loopd/loopd.sock,\nthen %s.\n",
	    LOOPD_DEFAULT_URL);
}

/* Print the synopsis of the current command to F. */
static void
ctl_synopsis(const struct ctl *ctl, FILE *f)
{
	const struct ctl_cmd *c = ctl->cmd;

	fprintf(f, "usage: loopctl %s%s%s%s%s\n", c->word,
	    c->word2 != NULL ? " " : "", c->word2 != NULL ? c->word2 : "",
	    *c->args != '\0' ? " " : "", c->args);
}

/* Print the help of the current command, or the command list, and exit 0. */
static __attribute__((noreturn)) void
ctl_help(const struct ctl *ctl)
{
	if (ctl->cmd == NULL)
		ctl_list(stdout);
	else {
		ctl_synopsis(ctl, stdout);
		printf("\n%s.\n", ctl->cmd->about);
		if (ctl->cmd->help != NULL)
			printf("\n%s", ctl->cmd->help);
		printf("\nglobal options: --url URL, --token-file FILE,"
		    " --json, --show-secrets\n");
	}
	exit(CTL_EXIT_OK);
}

void
ctl_usage(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, "loopctl: ");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	if (ctl->cmd != NULL)
		ctl_synopsis(ctl, stderr);
	else
		fprintf(stderr, "usage: loopctl [--url URL] [--token-file FILE]"
		    " [--json] COMMAND [ARG...]\n(loopctl help lists the"
		    " commands)\n");
	exit(CTL_EXIT_USAGE);
}

void
ctl_warnx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "loopctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
ctl_warn_exception(const char *id, const json_t *exc)
{
	const char *type = json_string_value(json_object_get(exc, "type"));
	const char *msg = json_string_value(json_object_get(exc, "message"));

	ctl_warnx("%s: %s: %s", id, type != NULL ? type : "Exception",
	    msg != NULL ? msg : "(no message)");
}

int
ctl_getopt(struct ctl *ctl, int argc, char **argv, const char *shortopts,
    const struct option *opts)
{
	static const struct option globals[] = {
		{ "url", required_argument, NULL, CTL_OPT_URL },
		{ "token-file", required_argument, NULL, CTL_OPT_TOKEN_FILE },
		{ "json", no_argument, NULL, CTL_OPT_JSON },
		{ "show-secrets", no_argument, NULL, CTL_OPT_SHOW_SECRETS },
		{ "version", no_argument, NULL, CTL_OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
	};
	struct option all[48];
	char so[32];
	size_t n = 0;
	int ch;

	for (; opts != NULL && opts[n].name != NULL; n++)
		all[n] = opts[n];
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++)
		all[n++] = globals[i];
	memset(&all[n], 0, sizeof(all[n]));
	snprintf(so, sizeof(so), "%sh", shortopts);

	for (;;) {
		switch ((ch = getopt_long(argc, argv, so, all, NULL))) {
		case CTL_OPT_URL:
			ctl->url = optarg;
			break;
		case CTL_OPT_TOKEN_FILE:
			ctl->token_file = optarg;
			break;
		case CTL_OPT_JSON:
			ctl->json = 1;
			break;
		case CTL_OPT_SHOW_SECRETS:
			ctl->show_secrets = 1;
			break;
		case CTL_OPT_VERSION:
			printf("loopctl %s\n", LOOPD_VERSION);
			exit(CTL_EXIT_OK);
		case 'h':
			ctl_help(ctl);
		case '?':
			/* getopt has said what is wrong. */
			ctl_usage(ctl, NULL);
		default:
			return ch;
		}
	}
}

int
ctl_args(struct ctl *ctl, int argc, char **argv, const char *shortopts,
    int min, int max)
{
	int n;

	if (ctl_getopt(ctl, argc, argv, shortopts, NULL) != -1)
		ctl_usage(ctl, NULL);
	n = argc - optind;
	if (n < min)
		ctl_usage(ctl, "too few arguments");
	if (max >= 0 && n > max)
		ctl_usage(ctl, "too many arguments");
	return optind;
}

/* Read the token from PATH into BUF; strips the trailing newline.
 * Returns 0, or -1 with errno set (ENODATA for an empty file). */
static int
ctl_read_token(const char *path, char *buf, size_t len)
{
	ssize_t got = secret_read(path, buf, len);
	size_t n;

	if (got == -1)
		return -1;
	n = (size_t)got;
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (n == 0) {
		errno = ENODATA;
		return -1;
	}
	return 0;
}

/* Find the token: --token-file, LOOP_TOKEN, LOOP_TOKEN_FILE, then the
 * daemon's default. Fills BUF and returns it, or NULL if there is none. */
static const char *
ctl_token(const struct ctl *ctl, char *buf, size_t len)
{
	char dir[512], path[600];
	const char *from, *file, *v;

	if (ctl->token_file != NULL) {
		from = "--token-file";
		file = ctl->token_file;
	} else if ((v = getenv("LOOP_TOKEN")) != NULL && *v != '\0') {
		snprintf(ctl_token_note, sizeof(ctl_token_note),
		    "the token came from LOOP_TOKEN");
		snprintf(buf, len, "%s", v);
		return buf;
	} else if ((v = getenv("LOOP_TOKEN_FILE")) != NULL && *v != '\0') {
		from = "LOOP_TOKEN_FILE";
		file = v;
	} else if (defaults_state_dir(dir, sizeof(dir)) == 0) {
		from = "the default";
		snprintf(path, sizeof(path), "%s/token", dir);
		file = path;
	} else {
		snprintf(ctl_token_note, sizeof(ctl_token_note),
		    "no token: no state directory is known");
		return NULL;
	}
	if (ctl_read_token(file, buf, len) == -1) {
		snprintf(ctl_token_note, sizeof(ctl_token_note),
		    "no token: %s %s: %s", from, file, strerror(errno));
		return NULL;
	}
	snprintf(ctl_token_note, sizeof(ctl_token_note),
	    "the token came from %s %s", from, file);
	return buf;
}

const char *
ctl_token_source(void)
{
	return *ctl_token_note != '\0' ? ctl_token_note : "none needed";
}

struct wire *
ctl_http(struct ctl *ctl)
{
	char token[CTL_TOKEN_MAX];

	if (ctl->http == NULL)
		ctl->http = wire_new(ctl->url, ctl_token(ctl, token,
		    sizeof(token)));
	return ctl->http;
}

int
ctl_try(struct ctl *ctl, const char *method, const char *path, json_t *body,
    double hold, json_t **reply, struct wire_error *err)
{
	int rc;

	rc = wire_request(ctl_http(ctl), method, path, body, hold, reply, err);
	json_decref(body);
	return rc;
}

void
ctl_report(const struct ctl *ctl, const struct wire_error *err)
{
	/* A 401 is most often the wrong token file: say which was used. */
	if (err->status == 401)
		ctl_warnx("%s (%s)", err->msg, ctl_token_note);
	else
		ctl_warnx("%s", err->msg);
	/* Nobody answered: say where loopctl looked. */
	if (err->status == 0 && err->hint[0] != '\0')
		fprintf(stderr, "loopctl: %s\n", err->hint);
}

int
ctl_transient(const struct wire_error *err)
{
	return err->status == 0 || err->status == 502 || err->status == 503 ||
	    err->status == 504;
}

int
ctl_request(struct ctl *ctl, const char *method, const char *path,
    json_t *body, double hold, json_t **reply)
{
	struct wire_error err;
	int rc;

	if ((rc = ctl_try(ctl, method, path, body, hold, reply, &err)) == -1)
		ctl_report(ctl, &err);
	return rc;
}

double
ctl_duration(struct ctl *ctl, const char *opt, const char *s)
{
	int64_t us;

	if (units_parse_duration(s, &us) == -1)
		ctl_usage(ctl, "%s: bad duration '%s' (try 0.5, 500ms, 2m,"
		    " 1h30m)", opt, s);
	return (double)us / 1e6;
}

json_t *
ctl_string(struct ctl *ctl, const char *what, const char *s)
{
	json_t *j;

	if ((j = json_string(s)) == NULL)
		ctl_usage(ctl, "%s: not UTF-8 text, which JSON needs", what);
	return j;
}

json_t *
ctl_json_arg(struct ctl *ctl, const char *what, const char *s)
{
	json_error_t jerr;
	json_t *j;

	j = json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		ctl_usage(ctl, "%s: not JSON: %s", what, jerr.text);
	return j;
}

/* Whether NAME looks like the name of a secret. */
static int
ctl_secret_name(const char *name)
{
	static const char *words[] = { "TOKEN", "SECRET", "PASSWORD",
	    "PASSWD", "API_KEY", "APIKEY", "COOKIE", "AUTHORIZATION" };
	char up[256];
	size_t i;

	for (i = 0; name[i] != '\0' && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)name[i]);
	up[i] = '\0';
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(up, words[i]) != NULL)
			return 1;
	return 0;
}

/* Redact the secret-named members of object OBJ. */
static void
ctl_redact_members(json_t *obj)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
		if (json_is_string(v) && ctl_secret_name(key))
			json_object_set_new(obj, key, json_string("(redacted)"));
}

void
ctl_redact(const struct ctl *ctl, json_t *obj)
{
	json_t *v;
	size_t i;

	if (ctl->show_secrets || obj == NULL)
		return;
	if (json_is_array(obj)) {
		json_array_foreach(obj, i, v)
			ctl_redact(ctl, v);
		return;
	}
	ctl_redact_members(json_object_get(json_object_get(obj, "command"),
	    "env"));
	ctl_redact_members(json_object_get(json_object_get(obj, "webhook"),
	    "headers"));
}

double
ctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
ctl_unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
ctl_progress(const struct ctl *ctl)
{
	return !ctl->json && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
}

/* Whether PATH is a socket this user may open. */
static int
ctl_socket_ok(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode) &&
	    access(path, R_OK | W_OK) == 0;
}

/* Where loopd is when LOOP_URL and --url do not say: the user's own
 * daemon (systemd --user: $XDG_RUNTIME_DIR/loopd/loopd.sock), then the
 * system's socket if this user may open it (/run/loopd/loopd.sock, group
 * loopd), then http://127.0.0.1:7700. */
static const char *
ctl_default_url(void)
{
	static char url[600];
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char path[512];

	if (rt != NULL && *rt == '/' && snprintf(path, sizeof(path),
	    "%s/loopd/loopd.sock", rt) < (int)sizeof(path) &&
	    ctl_socket_ok(path)) {
		snprintf(url, sizeof(url), "unix:%s", path);
		return url;
	}
	if (ctl_socket_ok(CTL_SYSTEM_SOCKET))
		return "unix:" CTL_SYSTEM_SOCKET;
	return LOOPD_DEFAULT_URL;
}

/* The command named by the words at ARGV, or NULL. Sets *NWORDS. */
static const struct ctl_cmd *
ctl_find(int argc, char **argv, int *nwords)
{
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		const struct ctl_cmd *c = &ctl_cmds[i];

		if (strcmp(argv[0], c->word) != 0)
			continue;
		if (c->word2 == NULL) {
			*nwords = 1;
			return c;
		}
		if (argc > 1 && strcmp(argv[1], c->word2) == 0) {
			*nwords = 2;
			return c;
		}
	}
	return NULL;
}

/* Say that WORD names no command, or which words may follow it. */
static __attribute__((noreturn)) void
ctl_unknown(struct ctl *ctl, const char *word)
{
	char subs[128] = "";

	for (size_t i = 0; i < CTL_NCMDS; i++)
		if (ctl_cmds[i].word2 != NULL &&
		    strcmp(ctl_cmds[i].word, word) == 0)
			snprintf(subs + strlen(subs), sizeof(subs) -
			    strlen(subs), " %s", ctl_cmds[i].word2);
	if (*subs != '\0')
		ctl_usage(ctl, "%s needs one of:%s", word, subs);
	ctl_usage(ctl, "unknown command '%s'", word);
}

int
main(int argc, char **argv)
{
	static char progname[] = "loopctl";
	struct ctl ctl;
	char prog[64];
	const char *v;
	int nwords, rc;

	memset(&ctl, 0, sizeof(ctl));
	argv[0] = progname;
	v = getenv("LOOP_URL");
	ctl.url = v != NULL && *v != '\0' ? v : ctl_default_url();

	/* Global options stop at the command's name. */
	ctl_getopt(&ctl, argc, argv, "+", NULL);
	argc -= optind;
	argv += optind;
	if (argc == 0)
		ctl_usage(&ctl, NULL);
	if (strcmp(argv[0], "help") == 0) {
		if (argc > 1 && (ctl.cmd = ctl_find(argc - 1, argv + 1,
		    &nwords)) == NULL)
			ctl_unknown(&ctl, argv[1]);
		ctl_help(&ctl);
	}
	if ((ctl.cmd = ctl_find(argc, argv, &nwords)) == NULL)
		ctl_unknown(&ctl, argv[0]);

	/* The handler sees its words as argv[0], as getopt expects, and
	 * getopt's own messages name the command. */
	argc -= nwords - 1;
	argv += nwords - 1;
	snprintf(prog, sizeof(prog), "loopctl %s%s%s", ctl.cmd->word,
	    ctl.cmd->word2 != NULL ? " " : "",
	    ctl.cmd->word2 != NULL ? ctl.cmd->word2 : "");
	argv[0] = prog;
	optind = 0;
	rc = ctl.cmd->run(&ctl, argc, argv);
	wire_free(ctl.http);
	return rc;
}
