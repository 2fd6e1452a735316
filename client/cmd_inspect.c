/*
 * cmd_inspect: looking without touching -- ls, show, time, status.
 *
 * People get local times (relative within a day: "in 59m", "3m ago"), an
 * OUTCOME column and the newest calls first; scripts get the daemon's
 * objects with --json (loop times as they are), in the same order.
 */
#include <err.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/await.h"
#include "client/wire.h"
#include "client/loopctl.h"
#include "client/output.h"
#include "client/timeparse.h"
#include "proto/units.h"

#define INSPECT_PAGE	1000	/* the largest page_size the daemon takes */
#define INSPECT_DAY	86400.0	/* relative times within a day of now */

enum { IO_STATE = 0x100, IO_PHASE, IO_NAME, IO_LIMIT, IO_FAILED,
    IO_RUNNING, IO_PENDING, IO_SINCE, IO_WAIT, IO_FUTURES };

/* The columns of ls. */
enum { COL_ID, COL_STATE, COL_PHASE, COL_WHEN, COL_OUTCOME, COL_NAME,
    COL_ACTION, NCOLS };

/* The daemon's clocks, read once: loop times become Unix times. */
struct inspect_clock {
	int	 ok;
	double	 loop;		/* loop_time ... */
	double	 unix_;		/* ... and unix_time at the same instant */
};

/* GET the calls at PATH (a /v1/calls query), following next_page_token
 * to the end. Returns a new array, or NULL after an error. */
static json_t *
inspect_calls(struct ctl *ctl, const char *path)
{
	json_t *items = json_array(), *reply = NULL;
	const char *next = NULL;
	char *p;

	for (;;) {
		p = wire_path(path, "", "");
		if (next != NULL)
			wire_query(&p, "page_token", next);
		json_decref(reply);
		if (ctl_request(ctl, "GET", p, NULL, 0, &reply) == -1) {
			free(p);
			json_decref(items);
			return NULL;
		}
		free(p);
		json_array_extend(items, json_object_get(reply, "items"));
		next = json_string_value(json_object_get(reply,
		    "next_page_token"));
		if (next == NULL || *next == '\0')
			break;
	}
	json_decref(reply);
	return items;
}

/* GET the calls at PATH newest first, filtered by the daemon (order=desc
 * and the filters in PATH), reading pages only until LIMIT (0: all)
 * are in. Returns a new array; NULL with *OLD set when the daemon does
 * not know these parameters (an older loopd), or after reporting an
 * error. */
static json_t *
inspect_calls_newest(struct ctl *ctl, const char *path, long limit, int *old)
{
	json_t *items = json_array(), *reply = NULL;
	struct wire_error herr;
	const char *next = NULL;
	char *p;

	*old = 0;
	for (;;) {
		p = wire_path(path, "", "");
		wire_query(&p, "order", "desc");
		if (next != NULL)
			wire_query(&p, "page_token", next);
		json_decref(reply);
		reply = NULL;
		if (ctl_try(ctl, "GET", p, NULL, 0, &reply, &herr) == -1) {
			free(p);
			json_decref(items);
			if (herr.status == 400 && strstr(herr.msg,
			    "unknown query parameter") != NULL)
				*old = 1;
			else
				ctl_report(ctl, &herr);
			return NULL;
		}
		free(p);
		json_array_extend(items, json_object_get(reply, "items"));
		next = json_string_value(json_object_get(reply,
		    "next_page_token"));
		if (next == NULL || *next == '\0' || (limit > 0 &&
		    json_array_size(items) >= (size_t)limit))
			break;
	}
	json_decref(reply);
	return items;
}

/* Read the daemon's clocks into *CK (ck->ok stays 0 if they cannot be). */
static void
inspect_clock(struct ctl *ctl, struct inspect_clock *ck)
{
	json_t *t = NULL;

	memset(ck, 0, sizeof(*ck));
	if (ctl_request(ctl, "GET", "/v1/time", NULL, 0, &t) == 0 &&
	    json_is_number(json_object_get(t, "loop_time")) &&
	    json_is_number(json_object_get(t, "unix_time"))) {
		ck->loop = json_number_value(json_object_get(t, "loop_time"));
		ck->unix_ = json_number_value(json_object_get(t, "unix_time"));
		ck->ok = 1;
	}
	json_decref(t);
}

/* The Unix time of loop time T. */
static double
inspect_unix(const struct inspect_clock *ck, double t)
{
	return t - ck->loop + ck->unix_;
}

/* Unix time U for a person, seen at Unix time NOW: relative within a day
 * ("in 59m", "3m ago"), else a local date and time. */
static void
inspect_when_text(double u, double now, char *buf, size_t len)
{
	time_t secs = (time_t)u;
	struct tm tm;

	if (fabs(u - now) < INSPECT_DAY)
		timeparse_relative(u - now, buf, len);
	else if (localtime_r(&secs, &tm) != NULL)
		strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
	else
		snprintf(buf, len, "?");
}

/* The WHEN column of CALL: when a scheduled call is due, what a waiting
 * one waits for, when a running one started, when a done one finished. */
static void
inspect_when(const json_t *call, const struct inspect_clock *ck, char *buf,
    size_t len)
{
	const char *phase = json_string_value(json_object_get(call, "phase"));
	const char *on = json_string_value(json_object_get(call, "on_done"));
	const json_t *t = NULL;

	if (phase == NULL)
		phase = "";
	snprintf(buf, len, "-");
	if (strcmp(phase, "waiting") == 0 && on != NULL) {
		snprintf(buf, len, "after %s", on);
		return;
	}
	if (strcmp(phase, "scheduled") == 0)
		t = json_object_get(call, "due");
	else if (strcmp(phase, "running") == 0)
		t = json_object_get(call, "started");
	else if ((t = json_object_get(call, "finished")) == NULL)
		t = json_object_get(call, "created");
	if (ck->ok && json_is_number(t))
		inspect_when_text(inspect_unix(ck, json_number_value(t)),
		    ck->unix_, buf, len);
}

/* The OUTCOME column of CALL: "exit 3", "SIGKILL", "HTTP 503", the
 * exception's type, "cancelled", or "-" while it has none. */
static void
inspect_outcome(const json_t *call, char *buf, size_t len)
{
	const char *state = json_string_value(json_object_get(call, "state"));
	const json_t *res = json_object_get(call, "result");
	const json_t *exc = json_object_get(call, "exception");
	const json_t *out = res != NULL ? res : exc, *v;
	const char *type = json_string_value(json_object_get(exc, "type"));
	const char *sig;

	snprintf(buf, len, "-");
	if (state != NULL && strcmp(state, "cancelled") == 0 && out == NULL)
		snprintf(buf, len, "cancelled");
	else if (type != NULL && strcmp(type, "CommandFailed") != 0 &&
	    strcmp(type, "WebhookFailed") != 0)
		snprintf(buf, len, "%s", type);	/* TimeoutError, SpawnError */
	else if (json_is_integer(v = json_object_get(out, "signal"))) {
		sig = sigabbrev_np((int)json_integer_value(v));
		if (sig != NULL)
			snprintf(buf, len, "SIG%s", sig);
		else
			snprintf(buf, len, "signal %lld",
			    (long long)json_integer_value(v));
	}
	else if (json_is_integer(v = json_object_get(out, "exit_code")))
		snprintf(buf, len, "exit %lld", (long long)json_integer_value(v));
	else if (json_is_integer(v = json_object_get(out, "status")))
		snprintf(buf, len, "HTTP %lld", (long long)json_integer_value(v));
	else if (type != NULL)
		snprintf(buf, len, "%s", type);
	else if (res != NULL)
		snprintf(buf, len, "ok");
}

/* What waits on a pending ITEM: "2 waiters, 1 callback", or "-". */
static void
inspect_waiting(const json_t *item, char *buf, size_t len)
{
	json_int_t w = json_integer_value(json_object_get(item, "waiters"));
	json_int_t c = json_integer_value(json_object_get(item, "callbacks"));

	if (w == 0 && c == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld waiter%s, %lld callback%s", (long long)w,
		    w == 1 ? "" : "s", (long long)c, c == 1 ? "" : "s");
}

/* Print ITEMS as a table, columns as wide as their widest cell. Plain
 * futures (FUTURES) have no action: their last column is what waits on
 * them. */
static void
inspect_table(const json_t *items, const struct inspect_clock *ck, int futures)
{
	const char *heads[NCOLS] = { "ID", "STATE", "PHASE", "WHEN",
	    "OUTCOME", "NAME", futures ? "WAITING" : "ACTION" };
	static const char *keys[NCOLS] = { "id", "state", "phase", NULL,
	    NULL, "name", NULL };
	size_t n = json_array_size(items), i, c;
	int width[NCOLS];
	char **cells, cell[64];
	const char *s;

	if ((cells = calloc((n + 1) * NCOLS, sizeof(*cells))) == NULL)
		err(1, "calloc");
	for (c = 0; c < NCOLS; c++)
		cells[c] = strdup(heads[c]);
	for (i = 0; i < n; i++) {
		const json_t *call = json_array_get(items, i);
		char **row = cells + (i + 1) * NCOLS;

		for (c = 0; c < NCOLS; c++) {
			if (keys[c] == NULL)
				continue;
			s = json_string_value(json_object_get(call, keys[c]));
			row[c] = strdup(s != NULL ? s : "-");
		}
		inspect_when(call, ck, cell, sizeof(cell));
		row[COL_WHEN] = strdup(cell);
		inspect_outcome(call, cell, sizeof(cell));
		row[COL_OUTCOME] = strdup(cell);
		if (futures) {
			inspect_waiting(call, cell, sizeof(cell));
			row[COL_ACTION] = strdup(cell);
		} else
			row[COL_ACTION] = output_action(call);
	}
	for (c = 0; c < NCOLS; c++) {
		width[c] = 0;
		for (i = 0; i <= n; i++) {
			if (cells[i * NCOLS + c] == NULL)
				err(1, "strdup");
			if ((int)strlen(cells[i * NCOLS + c]) > width[c])
				width[c] = (int)strlen(cells[i * NCOLS + c]);
		}
	}
	for (i = 0; i <= n; i++) {
		for (c = 0; c < NCOLS - 1; c++)
			printf("%-*s  ", width[c], cells[i * NCOLS + c]);
		printf("%s\n", cells[i * NCOLS + c]);
	}
	for (i = 0; i < (n + 1) * NCOLS; i++)
		free(cells[i]);
	free(cells);
}

/* Whether CALL ended with an exception (a failure, not a cancellation). */
static int
inspect_failed(const json_t *call)
{
	const char *state = json_string_value(json_object_get(call, "state"));

	return json_object_get(call, "exception") != NULL && state != NULL &&
	    strcmp(state, "finished") == 0;
}

int
cmd_ls(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, IO_STATE },
		{ "phase", required_argument, NULL, IO_PHASE },
		{ "name", required_argument, NULL, IO_NAME },
		{ "limit", required_argument, NULL, IO_LIMIT },
		{ "failed", no_argument, NULL, IO_FAILED },
		{ "running", no_argument, NULL, IO_RUNNING },
		{ "pending", no_argument, NULL, IO_PENDING },
		{ "since", required_argument, NULL, IO_SINCE },
		{ "futures", no_argument, NULL, IO_FUTURES },
		{ NULL, 0, NULL, 0 },
	};
	char *path = wire_path("/v1/calls", "", ""), *newest = NULL, *end;
	char size[32], why[256];
	const char *state = NULL, *phase = NULL;
	struct inspect_clock ck;
	json_t *items = NULL, *all, *shown, *v, *t;
	double since = 0, now = ctl_unix_now();
	int64_t us;
	long limit = 0;
	int ch, rc = CTL_EXIT_FAIL, failed = 0, quiet = 0, have_since = 0, futures = 0, old;
	size_t i;

	while ((ch = ctl_getopt(ctl, argc, argv, "q", opts)) != -1) {
		switch (ch) {
		case IO_STATE:
		case IO_PENDING:
		case IO_FAILED:
			if (state != NULL)
				ctl_usage(ctl, "give one of --state, --pending"
				    " and --failed");
			state = ch == IO_STATE ? optarg : ch == IO_PENDING ?
			    "pending" : "finished";
			failed = ch == IO_FAILED;
			break;
		case IO_PHASE:
		case IO_RUNNING:
			if (phase != NULL)
				ctl_usage(ctl, "give --phase or --running, not"
				    " both");
			phase = ch == IO_PHASE ? optarg : "running";
			break;
		case IO_NAME:
			wire_query(&path, "name", optarg);
			break;
		case IO_LIMIT:
			limit = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || limit < 1)
				ctl_usage(ctl, "--limit: bad count '%s'",
				    optarg);
			break;
		case IO_SINCE:
			/* A duration ago ("1h") or a time ("09:00", "today
			 * 09:00", "2026-12-05 09:00"). */
			if (units_parse_duration(optarg, &us) == 0)
				since = now - (double)us / 1e6;
			else if (timeparse_at(optarg, now, &since, why,
			    sizeof(why)) == -1)
				ctl_usage(ctl, "--since: bad time '%s': %s (try"
				    " 1h, 30m, today 09:00)", optarg, why);
			/* "09:00" or "monday 09:00" mean the last one. */
			else if (since > now)
				since -= since - now <= INSPECT_DAY ?
				    INSPECT_DAY : 7 * INSPECT_DAY;
			have_since = 1;
			break;
		case IO_FUTURES:
			/* Plain futures (GET /v1/futures) instead of calls. */
			free(path);
			path = wire_path("/v1/futures", "", "");
			futures = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			ctl_usage(ctl, NULL);
		}
	}
	if (optind != argc)
		ctl_usage(ctl, "too many arguments");
	if (futures && phase != NULL)
		ctl_usage(ctl, "--futures: futures have no phase (--running, --phase)");
	if (state != NULL && !failed)
		wire_query(&path, "state", state);
	if (phase != NULL)
		wire_query(&path, "phase", phase);
	inspect_clock(ctl, &ck);
	if (have_since && !ck.ok) {
		ctl_warnx("--since: the daemon's clock cannot be read");
		goto out;
	}

	/* The daemon lists newest first and filters by outcome and creation
	 * time too; an older one lists oldest first and filters by state,
	 * phase and name only, the rest being done here over all pages. */
	newest = path;
	path = wire_path(newest, "", "");
	if (failed)
		wire_query(&newest, "outcome", "failed");
	if (have_since) {
		snprintf(size, sizeof(size), "%.6f", fmax(0, since - ck.unix_ +
		    ck.loop));
		wire_query(&newest, "since", size);
	}
	snprintf(size, sizeof(size), "%ld", limit > 0 && limit < INSPECT_PAGE ?
	    limit : INSPECT_PAGE);
	wire_query(&newest, "page_size", size);
	items = inspect_calls_newest(ctl, newest, limit, &old);
	if (items == NULL && !old)
		goto out;
	if (items == NULL) {
		if (failed)
			wire_query(&path, "state", "finished");
		snprintf(size, sizeof(size), "%d", INSPECT_PAGE);
		wire_query(&path, "page_size", size);
		if ((items = inspect_calls(ctl, path)) == NULL)
			goto out;
		/* Oldest first: newest first, as the daemon now lists. */
		all = json_array();
		for (i = json_array_size(items); i-- > 0;)
			json_array_append(all, json_array_get(items, i));
		json_decref(items);
		items = all;
	}
	shown = json_array();
	json_array_foreach(items, i, v) {
		if (failed && !inspect_failed(v))
			continue;
		t = json_object_get(v, "created");
		if (have_since && (!json_is_number(t) ||
		    inspect_unix(&ck, json_number_value(t)) < since))
			continue;
		json_array_append(shown, v);
		if (limit > 0 && json_array_size(shown) >= (size_t)limit)
			break;
	}
	ctl_redact(ctl, shown);
	if (quiet) {
		json_array_foreach(shown, i, v)
			printf("%s\n", json_string_value(json_object_get(v,
			    "id")) != NULL ? json_string_value(json_object_get(v,
			    "id")) : "?");
	} else if (ctl->json) {
		all = json_pack("{s:O}", "items", shown);
		output_json(all);
		json_decref(all);
	} else
		inspect_table(shown, &ck, futures);
	json_decref(shown);
	rc = CTL_EXIT_OK;
out:
	json_decref(items);
	free(newest);
	free(path);
	return rc;
}

/* Whether KEY (dotted) names a loop time. */
static int
inspect_loop_key(const char *key)
{
	static const char *keys[] = { "created", "due", "started", "finished",
	    "timeout_at", "loop_time" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return 0;
}

/* Print the scalar V of field KEY for a person: a loop time as a local
 * timestamp, a Unix time with its local one, text escaped only when it
 * spans lines, numbers as the daemon sent them. */
static void
inspect_scalar(const char *key, const json_t *v, const struct inspect_clock *ck)
{
	char buf[64], rel[32];
	size_t n = strlen(key);
	double u;

	if (json_is_number(v) && ck != NULL && ck->ok && inspect_loop_key(key) &&
	    strcmp(key, "loop_time") != 0) {
		u = inspect_unix(ck, json_number_value(v));
		printf("%s (%s)\n", timeparse_local(u, buf, sizeof(buf)),
		    timeparse_relative(u - ck->unix_, rel, sizeof(rel)));
		return;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t k;

		/* Multi-line output reads better escaped on one line. */
		for (k = 0; s[k] != '\0' && (unsigned char)s[k] >= ' '; k++)
			;
		if (k == json_string_length(v))
			fputs(s, stdout);
		else
			json_dumpf(v, stdout, JSON_ENCODE_ANY);
	} else if (json_is_number(v))
		fputs(output_number(v, buf, sizeof(buf)), stdout);
	else
		output_value(stdout, v);
	if (json_is_number(v) && ((n > 5 && strcmp(key + n - 5, "_unix") == 0) ||
	    strcmp(key, "unix_time") == 0))
		printf(" (%s)", timeparse_local(json_number_value(v), buf,
		    sizeof(buf)));
	putchar('\n');
}

/* Print the fields of OBJ as "key: value" lines, keys padded to *WIDTH,
 * nested objects as dotted keys, and after "started" how late the call
 * started; when PRINT is 0, only widen *WIDTH to the longest key. CK
 * turns loop times into local ones (NULL: printed as they are). */
static void
inspect_fields(json_t *obj, const char *prefix, int print, int *width,
    const struct inspect_clock *ck)
{
	const char *key;
	char k[256], sub[260];
	json_t *v, *due;

	json_object_foreach(obj, key, v) {
		snprintf(k, sizeof(k), "%s%s", prefix, key);
		if (json_is_object(v) && json_object_size(v) > 0) {
			snprintf(sub, sizeof(sub), "%s.", k);
			inspect_fields(v, sub, print, width, NULL);
			continue;
		}
		if (!print) {
			if ((int)strlen(k) > *width)
				*width = (int)strlen(k);
			continue;
		}
		printf("%s:%*s", k, *width - (int)strlen(k) + 1, "");
		inspect_scalar(k, v, *prefix == '\0' ? ck : NULL);
		due = json_object_get(obj, "due");
		if (*prefix == '\0' && strcmp(key, "started") == 0 &&
		    json_is_number(v) && json_is_number(due))
			printf("lateness:%*s%.3f ms\n",
			    *width - (int)strlen("lateness") + 1, "",
			    (json_number_value(v) - json_number_value(due)) *
			    1e3);
	}
}

int
cmd_show(struct ctl *ctl, int argc, char **argv)
{
	int i = ctl_args(ctl, argc, argv, "", 1, 1);
	char *path = wire_path("/v1/futures/", argv[i], "");
	int width = (int)strlen("lateness"), rc = CTL_EXIT_FAIL;
	struct inspect_clock ck;
	json_t *obj = NULL;

	if (ctl_request(ctl, "GET", path, NULL, 0, &obj) == 0) {
		ctl_redact(ctl, obj);
		if (ctl->json)
			output_json(obj);
		else {
			inspect_clock(ctl, &ck);
			inspect_fields(obj, "", 0, &width, &ck);
			inspect_fields(obj, "", 1, &width, &ck);
		}
		rc = CTL_EXIT_OK;
	}
	json_decref(obj);
	free(path);
	return rc;
}

int
cmd_time(struct ctl *ctl, int argc, char **argv)
{
	int width = (int)strlen("loop_time"), rc = CTL_EXIT_FAIL;
	json_t *t = NULL;

	ctl_args(ctl, argc, argv, "", 0, 0);
	if (ctl_request(ctl, "GET", "/v1/time", NULL, 0, &t) == 0) {
		if (ctl->json)
			output_json(t);
		else
			inspect_fields(t, "", 1, &width, NULL);
		rc = CTL_EXIT_OK;
	}
	json_decref(t);
	return rc;
}

/* The unlabelled samples of Prometheus text TEXT ("name value" lines) as
 * an object of numbers, written as the daemon wrote them. */
static json_t *
inspect_metrics(const char *text)
{
	json_t *m = json_object();
	const char *line, *sp, *end;
	char name[128];
	json_t *v;
	size_t n;

	for (line = text; *line != '\0'; line = *end != '\0' ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		if (*line == '#' || (sp = memchr(line, ' ', (size_t)(end -
		    line))) == NULL || memchr(line, '{', (size_t)(sp - line)))
			continue;
		n = (size_t)(sp - line);
		if (n >= sizeof(name))
			continue;
		memcpy(name, line, n);
		name[n] = '\0';
		if ((v = json_loadb(sp + 1, (size_t)(end - sp - 1),
		    JSON_DECODE_ANY, NULL)) != NULL && json_is_number(v))
			json_object_set_new(m, name, v);
		else
			json_decref(v);
	}
	return m;
}

/* Print metric NAME of M as the daemon wrote it, or "?". */
static const char *
inspect_metric(const json_t *m, const char *name, char *buf, size_t len)
{
	const json_t *v = json_object_get(m, name);

	if (v == NULL)
		snprintf(buf, len, "?");
	else
		output_number(v, buf, len);
	return buf;
}

/* SECS as "2d 3h", "3h 5m", "5m 12s" or "12s" in BUF. */
static void
inspect_duration(double secs, char *buf, size_t len)
{
	long long t = (long long)secs;

	if (t >= 86400)
		snprintf(buf, len, "%lldd %lldh", t / 86400, t % 86400 / 3600);
	else if (t >= 3600)
		snprintf(buf, len, "%lldh %lldm", t / 3600, t % 3600 / 60);
	else if (t >= 60)
		snprintf(buf, len, "%lldm %llds", t / 60, t % 60);
	else
		snprintf(buf, len, "%llds", t);
}

/* Print what GET /v1/status tells of the daemon: version, uptime,
 * listeners, state directory, store. */
static void
inspect_status_daemon(const json_t *st)
{
	const json_t *listen = json_object_get(st, "listen"), *store, *v;
	const char *s;
	char b[64];
	size_t i;

	v = json_object_get(st, "uptime");
	inspect_duration(json_is_number(v) ? json_number_value(v) : 0, b,
	    sizeof(b));
	s = json_string_value(json_object_get(st, "version"));
	printf("loopd:            %s (pid %lld), up %s\n", s != NULL ? s : "?",
	    json_integer_value(json_object_get(st, "pid")),
	    json_is_number(v) ? b : "?");
	printf("listening on:     ");
	json_array_foreach(listen, i, v)
		printf("%s%s", i > 0 ? ", " : "", json_string_value(v) != NULL ?
		    json_string_value(v) : "?");
	printf("\n");
	s = json_string_value(json_object_get(st, "state_dir"));
	printf("state directory:  %s\n", s != NULL ? s : "?");
	store = json_object_get(st, "store");
	s = json_string_value(json_object_get(store, "fault"));
	if (json_is_true(json_object_get(store, "writable")))
		printf("store:            writable\n");
	else
		printf("store:            NOT WRITABLE (writes get 503): %s\n",
		    s != NULL ? s : "?");
}

int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	static const char *phases[] = { "scheduled", "waiting", "running" };
	json_t *health = NULL, *items = NULL, *counts = NULL, *metrics = NULL;
	json_t *daemon = NULL, *by_phase, *v;
	struct wire_error herr;
	struct inspect_clock ck;
	const char *status, *phase;
	static const struct option opts[] = {
		{ "wait", required_argument, NULL, IO_WAIT },
		{ NULL, 0, NULL, 0 },
	};
	char *text = NULL, b1[32], b2[32];
	struct await_retry retry;
	double wait = 0;
	int rc = CTL_EXIT_FAIL, ch, r;
	size_t i, p, npending = 0;

	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		if (ch != IO_WAIT)
			ctl_usage(ctl, NULL);
		wait = ctl_duration(ctl, "--wait", optarg);
	}
	if (optind != argc)
		ctl_usage(ctl, "too many arguments");
	/* --wait: a script that just started loopd waits for it to answer. */
	await_retry_init(&retry, wait, ctl_now() + wait);
	if (wait == 0)
		r = ctl_request(ctl, "GET", "/healthz", NULL, 0, &health);
	else
		while ((r = await_request(ctl, "GET", "/healthz", NULL, 0,
		    &retry, &health)) == AWAIT_RETRY)
			;
	if (r == AWAIT_TIMEOUT)
		ctl_warnx("%s: no answer within --wait", ctl->url);
	if (r != 0)
		goto out;
	status = json_string_value(json_object_get(health, "status"));
	if (status == NULL || strcmp(status, "ok") != 0) {
		ctl_warnx("%s: status %s", ctl->url, status != NULL ? status :
		    "unknown");
		goto out;
	}
	/* What the daemon says of itself (an older one: 404). */
	if (ctl_try(ctl, "GET", "/v1/status", NULL, 0, &daemon, &herr) == -1) {
		if (herr.status != 404) {
			ctl_report(ctl, &herr);
			goto out;
		}
		daemon = NULL;
	}
	counts = json_object();
	for (p = 0; p < sizeof(phases) / sizeof(phases[0]); p++)
		json_object_set_new(counts, phases[p], json_integer(0));
	by_phase = json_object_get(json_object_get(daemon, "counts"),
	    "pending_calls_by_phase");
	if (json_is_object(by_phase)) {
		/* Counted by the daemon: no need to list them. */
		for (p = 0; p < sizeof(phases) / sizeof(phases[0]); p++) {
			v = json_object_get(by_phase, phases[p]);
			json_integer_set(json_object_get(counts, phases[p]),
			    json_integer_value(v));
			npending += (size_t)json_integer_value(v);
		}
	} else {
		if ((items = inspect_calls(ctl, "/v1/calls?state=pending&"
		    "page_size=1000")) == NULL)
			goto out;
		npending = json_array_size(items);
		json_array_foreach(items, i, v) {
			phase = json_string_value(json_object_get(v, "phase"));
			if (phase != NULL && json_object_get(counts, phase) !=
			    NULL)
				json_integer_set(json_object_get(counts, phase),
				    json_integer_value(json_object_get(counts,
				    phase)) + 1);
		}
	}
	/* The rest is what /metrics tells; an older daemon may not. */
	if (wire_get_text(ctl_http(ctl), "/metrics", &text, &herr) == 0)
		metrics = inspect_metrics(text);
	else
		metrics = json_object();
	inspect_clock(ctl, &ck);
	if (ctl->json) {
		v = json_pack("{s:s,s:s,s:s,s:O,s:O}", "url", ctl->url,
		    "status", status, "loopctl_version", LOOPD_VERSION,
		    "pending_calls", counts, "metrics", metrics);
		if (ck.ok)
			json_object_set_new(v, "loop_time", json_real(ck.loop));
		if (daemon != NULL)
			json_object_set(v, "daemon", daemon);
		output_json(v);
		json_decref(v);
	} else {
		printf("loopd at %s: %s\n", ctl->url, status);
		if (daemon != NULL)
			inspect_status_daemon(daemon);
		printf("loopctl:          %s\n", LOOPD_VERSION);
		if (ck.ok && (v = json_real(ck.loop)) != NULL) {
			printf("loop time:        %s s\n", output_number(v, b1,
			    sizeof(b1)));
			json_decref(v);
		}
		printf("pending calls: %zu (", npending);
		for (p = 0; p < sizeof(phases) / sizeof(phases[0]); p++)
			printf("%s%lld %s", p > 0 ? ", " : "",
			    json_integer_value(json_object_get(counts,
			    phases[p])), phases[p]);
		printf(")\n");
		if (json_object_size(metrics) > 0) {
			printf("pending futures:  %s\n", inspect_metric(metrics,
			    "loopd_pending_futures", b1, sizeof(b1)));
			printf("objects kept:     %s\n", inspect_metric(metrics,
			    "loopd_objects", b1, sizeof(b1)));
			printf("commands:         %s running, %s queued\n",
			    inspect_metric(metrics, "loopd_commands_running",
			    b1, sizeof(b1)), inspect_metric(metrics,
			    "loopd_commands_queued", b2, sizeof(b2)));
			printf("webhooks:         %s running, %s queued\n",
			    inspect_metric(metrics, "loopd_webhooks_running",
			    b1, sizeof(b1)), inspect_metric(metrics,
			    "loopd_webhooks_queued", b2, sizeof(b2)));
			printf("waiters:          %s\n", inspect_metric(metrics,
			    "loopd_waiters", b1, sizeof(b1)));
			if (daemon == NULL)
				printf("store:            %s\n",
				    json_integer_value(json_object_get(metrics,
				    "loopd_store_writable")) == 1 ? "writable" :
				    "NOT WRITABLE (writes get 503)");
		}
		printf("token:            %s\n", ctl_token_source());
	}
	rc = CTL_EXIT_OK;
out:
	free(text);
	json_decref(daemon);
	json_decref(metrics);
	json_decref(counts);
	json_decref(items);
	json_decref(health);
	return rc;
}
