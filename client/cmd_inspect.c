/*
 * cmd_inspect: looking without touching -- ls, show, time, status.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/http.h"
#include "client/loopctl.h"
#include "client/output.h"
#include "client/timeparse.h"

#define INSPECT_PAGE	1000	/* the largest page_size the daemon takes */

enum { IO_STATE = 0x100, IO_PHASE, IO_NAME, IO_LIMIT };

/* The columns of ls. */
enum { COL_ID, COL_STATE, COL_PHASE, COL_WHEN, COL_NAME, COL_ACTION, NCOLS };

/* GET the calls at PATH (a /v1/calls query), following next_page_token,
 * until LIMIT items (0: all). Returns a new array, or NULL after an error. */
static json_t *
inspect_calls(struct ctl *ctl, const char *path, size_t limit)
{
	json_t *items = json_array(), *reply = NULL;
	const char *next = NULL;
	char *p;

	for (;;) {
		p = http_path(path, "", "");
		if (next != NULL)
			http_query(&p, "page_token", next);
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
		if (next == NULL || *next == '\0' ||
		    (limit > 0 && json_array_size(items) >= limit))
			break;
	}
	json_decref(reply);
	while (limit > 0 && json_array_size(items) > limit)
		json_array_remove(items, json_array_size(items) - 1);
	return items;
}

/* The daemon's loop time, or -1 if it cannot be read. */
static double
inspect_loop_time(struct ctl *ctl)
{
	json_t *t = NULL;
	double now = -1;

	if (ctl_request(ctl, "GET", "/v1/time", NULL, 0, &t) == 0 &&
	    json_is_number(json_object_get(t, "loop_time")))
		now = json_number_value(json_object_get(t, "loop_time"));
	json_decref(t);
	return now;
}

/* The WHEN column of CALL at loop time NOW: when a scheduled call is due,
 * what a waiting one waits for, or when the call started. */
static void
inspect_when(const json_t *call, double now, char *buf, size_t len)
{
	const json_t *due = json_object_get(call, "due");
	const json_t *started = json_object_get(call, "started");
	const char *phase = json_string_value(json_object_get(call, "phase"));
	const char *on = json_string_value(json_object_get(call, "on_done"));
	char d[32];
	double t;

	if (phase == NULL)
		phase = "";
	snprintf(buf, len, "-");
	if (strcmp(phase, "waiting") == 0 && on != NULL)
		snprintf(buf, len, "after %s", on);
	else if (now < 0)
		return;
	else if (strcmp(phase, "scheduled") == 0 && json_is_number(due)) {
		t = json_number_value(due) - now;
		snprintf(buf, len, "%s%s%s", t >= 0 ? "in " : "due ",
		    output_duration(t >= 0 ? t : -t, d, sizeof(d)),
		    t >= 0 ? "" : " ago");
	} else if (json_is_number(started)) {
		t = now - json_number_value(started);
		snprintf(buf, len, "%s ago", output_duration(t, d, sizeof(d)));
	}
}

/* Print ITEMS as a table, columns as wide as their widest cell. */
static void
inspect_table(const json_t *items, double now)
{
	static const char *heads[NCOLS] = { "ID", "STATE", "PHASE", "WHEN",
	    "NAME", "ACTION" };
	static const char *keys[NCOLS] = { "id", "state", "phase", NULL,
	    "name", NULL };
	size_t n = json_array_size(items), i, c;
	int width[NCOLS];
	char **cells, when[64];
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
		inspect_when(call, now, when, sizeof(when));
		row[COL_WHEN] = strdup(when);
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

int
cmd_ls(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, IO_STATE },
		{ "phase", required_argument, NULL, IO_PHASE },
		{ "name", required_argument, NULL, IO_NAME },
		{ "limit", required_argument, NULL, IO_LIMIT },
		{ NULL, 0, NULL, 0 },
	};
	char *path = http_path("/v1/calls", "", ""), *end, size[32];
	json_t *items, *all;
	long limit = 0;
	int ch, rc = CTL_EXIT_FAIL;

	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case IO_STATE:
			http_query(&path, "state", optarg);
			break;
		case IO_PHASE:
			http_query(&path, "phase", optarg);
			break;
		case IO_NAME:
			http_query(&path, "name", optarg);
			break;
		case IO_LIMIT:
			limit = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || limit < 1)
				ctl_usage(ctl, "--limit: bad count '%s'",
				    optarg);
			break;
		default:
			ctl_usage(ctl, NULL);
		}
	}
	if (optind != argc)
		ctl_usage(ctl, "too many arguments");
	snprintf(size, sizeof(size), "%ld",
	    limit > 0 && limit < INSPECT_PAGE ? limit : INSPECT_PAGE);
	http_query(&path, "page_size", size);

	if ((items = inspect_calls(ctl, path, (size_t)limit)) != NULL) {
		if (ctl->json) {
			all = json_pack("{s:O}", "items", items);
			output_json(all);
			json_decref(all);
		} else
			inspect_table(items, inspect_loop_time(ctl));
		rc = CTL_EXIT_OK;
	}
	json_decref(items);
	free(path);
	return rc;
}

/* Print the scalar V of field KEY for a person. */
static void
inspect_scalar(const char *key, const json_t *v)
{
	char buf[64];
	size_t n;

	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		/* Multi-line output reads better escaped on one line. */
		for (n = 0; s[n] != '\0' && (unsigned char)s[n] >= ' '; n++)
			;
		if (n == json_string_length(v))
			fputs(s, stdout);
		else
			json_dumpf(v, stdout, JSON_ENCODE_ANY);
	} else if (json_is_real(v)) {
		snprintf(buf, sizeof(buf), "%.6f", json_real_value(v));
		n = strlen(buf);
		while (buf[n - 1] == '0')
			buf[--n] = '\0';
		if (buf[n - 1] == '.')
			buf[--n] = '\0';
		fputs(buf, stdout);
	} else
		json_dumpf(v, stdout, JSON_ENCODE_ANY | JSON_COMPACT);
	n = strlen(key);
	if (json_is_number(v) && ((n > 5 && strcmp(key + n - 5, "_unix") == 0) ||
	    strcmp(key, "unix_time") == 0))
		printf(" (%s)", timeparse_format(json_number_value(v), buf,
		    sizeof(buf)));
	putchar('\n');
}

/* Print the fields of OBJ as "key: value" lines, keys padded to *WIDTH,
 * nested objects as dotted keys, and after "started" how late the call
 * started; when PRINT is 0, only widen *WIDTH to the longest key. */
static void
inspect_fields(json_t *obj, const char *prefix, int print, int *width)
{
	const char *key;
	char k[256], sub[260];
	json_t *v, *due;

	json_object_foreach(obj, key, v) {
		snprintf(k, sizeof(k), "%s%s", prefix, key);
		if (json_is_object(v) && json_object_size(v) > 0) {
			snprintf(sub, sizeof(sub), "%s.", k);
			inspect_fields(v, sub, print, width);
			continue;
		}
		if (!print) {
			if ((int)strlen(k) > *width)
				*width = (int)strlen(k);
			continue;
		}
		printf("%s:%*s", k, *width - (int)strlen(k) + 1, "");
		inspect_scalar(k, v);
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
	char *path = http_path("/v1/futures/", argv[i], "");
	int width = (int)strlen("lateness"), rc = CTL_EXIT_FAIL;
	json_t *obj = NULL;

	if (ctl_request(ctl, "GET", path, NULL, 0, &obj) == 0) {
		if (ctl->json)
			output_json(obj);
		else {
			inspect_fields(obj, "", 0, &width);
			inspect_fields(obj, "", 1, &width);
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
			inspect_fields(t, "", 1, &width);
		rc = CTL_EXIT_OK;
	}
	json_decref(t);
	return rc;
}

int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	static const char *phases[] = { "scheduled", "waiting", "running" };
	json_t *health = NULL, *items = NULL, *counts = NULL, *v;
	const char *status, *phase;
	int rc = CTL_EXIT_FAIL;
	size_t i, p;

	ctl_args(ctl, argc, argv, "", 0, 0);
	if (ctl_request(ctl, "GET", "/healthz", NULL, 0, &health) == -1)
		goto out;
	status = json_string_value(json_object_get(health, "status"));
	if (status == NULL || strcmp(status, "ok") != 0) {
		ctl_warnx("%s: status %s", ctl->url, status != NULL ? status :
		    "unknown");
		goto out;
	}
	if ((items = inspect_calls(ctl, "/v1/calls?state=pending&page_size="
	    "1000", 0)) == NULL)
		goto out;
	counts = json_object();
	for (p = 0; p < sizeof(phases) / sizeof(phases[0]); p++)
		json_object_set_new(counts, phases[p], json_integer(0));
	json_array_foreach(items, i, v) {
		phase = json_string_value(json_object_get(v, "phase"));
		if (phase != NULL && json_object_get(counts, phase) != NULL)
			json_integer_set(json_object_get(counts, phase),
			    json_integer_value(json_object_get(counts,
			    phase)) + 1);
	}
	if (ctl->json) {
		v = json_pack("{s:s,s:s,s:O}", "url", ctl->url, "status",
		    status, "pending_calls", counts);
		output_json(v);
		json_decref(v);
	} else {
		printf("loopd at %s: %s\n", ctl->url, status);
		printf("pending calls: %zu (", json_array_size(items));
		for (p = 0; p < sizeof(phases) / sizeof(phases[0]); p++)
			printf("%s%lld %s", p > 0 ? ", " : "",
			    json_integer_value(json_object_get(counts,
			    phases[p])), phases[p]);
		printf(")\n");
	}
	rc = CTL_EXIT_OK;
out:
	json_decref(counts);
	json_decref(items);
	json_decref(health);
	return rc;
}
