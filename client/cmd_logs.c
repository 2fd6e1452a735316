/*
 * cmd_logs: `loopctl logs [-f] [-n N]` - the daemon's recent runs (GET
 * /v1/logs), one line each: when, which call, what it ran, how it ended.
 * -f follows with long polls and goes on across restarts of loopd, as the
 * waits do (client/await). --json prints the records as JSON lines.
 */
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

#define LOGS_FOLLOW_TAIL 10	/* -f without -n: the last ten first */

/* One record REC for a person:
 * "2026-12-05 10:00:01  c_...  (name)  failed  command sh: exit 3 ..." */
static void
logs_print(const json_t *rec)
{
	const char *ev = json_string_value(json_object_get(rec, "event"));
	const char *outcome = json_string_value(json_object_get(rec, "outcome"));
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *name = json_string_value(json_object_get(rec, "name"));
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	const char *action = json_string_value(json_object_get(rec, "action"));
	const json_t *v, *err = json_object_get(rec, "error");
	time_t secs = (time_t)json_number_value(json_object_get(rec, "time"));
	char when[32] = "?", num[64], dur[32];
	struct tm tm;

	if (localtime_r(&secs, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%s  %s%s%s%s  %-9s %s %s", when, id != NULL ? id : "?",
	    name != NULL ? " (" : "", name != NULL ? name : "",
	    name != NULL ? ")" : "", ev != NULL && strcmp(ev, "start") == 0 ?
	    "started" : outcome != NULL ? outcome : "?", kind != NULL ? kind : "?",
	    action != NULL ? action : "?");
	if (ev != NULL && strcmp(ev, "start") == 0) {
		printf(", attempt %lld", json_integer_value(json_object_get(rec,
		    "attempt")));
		v = json_object_get(rec, "lateness");
		if (json_is_number(v) && json_number_value(v) >= 0.001)
			printf(", %s late", output_duration(json_number_value(v),
			    dur, sizeof(dur)));
		printf("\n");
		return;
	}
	if ((v = json_object_get(rec, "signal")) != NULL)
		printf(": signal %s", output_number(v, num, sizeof(num)));
	else if ((v = json_object_get(rec, "exit_code")) != NULL)
		printf(": exit %s", output_number(v, num, sizeof(num)));
	else if ((v = json_object_get(rec, "status")) != NULL)
		printf(": HTTP %s", output_number(v, num, sizeof(num)));
	if (json_is_number(v = json_object_get(rec, "duration")))
		printf(" in %s", output_duration(json_number_value(v), dur,
		    sizeof(dur)));
	if (err != NULL)
		printf(": %s: %s", json_string_value(json_object_get(err, "type")) ?
		    json_string_value(json_object_get(err, "type")) : "?",
		    json_string_value(json_object_get(err, "message")) ?
		    json_string_value(json_object_get(err, "message")) : "");
	if ((v = json_object_get(rec, "retry_in")) != NULL && json_is_number(v))
		printf("; retrying in %s", output_duration(json_number_value(v), dur,
		    sizeof(dur)));
	else if ((v = json_object_get(rec, "attempts")) != NULL)
		printf(" (%lld attempt%s)", json_integer_value(v),
		    json_integer_value(v) == 1 ? "" : "s");
	printf("\n");
}

/* Print the records of ITEMS from index FROM. */
static void
logs_show(struct ctl *ctl, const json_t *items, size_t from)
{
	for (size_t i = from; i < json_array_size(items); i++) {
		if (ctl->json) {
			output_value(stdout, json_array_get(items, i));
			fputc('\n', stdout);
		} else
			logs_print(json_array_get(items, i));
	}
	fflush(stdout);
}

int
cmd_logs(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct await_retry retry;
	json_t *reply = NULL, *items;
	unsigned long long after = 0;
	long tail = -1;
	int ch, follow = 0, rc = CTL_EXIT_FAIL, r, first = 1;
	char *path, *end, num[32], hold[32];
	size_t n;

	while ((ch = ctl_getopt(ctl, argc, argv, "fn:", opts)) != -1) {
		switch (ch) {
		case 'f':
			follow = 1;
			break;
		case 'n':
			tail = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || tail < 0)
				ctl_usage(ctl, "-n: bad count '%s'", optarg);
			break;
		default:
			ctl_usage(ctl, NULL);
		}
	}
	if (optind != argc)
		ctl_usage(ctl, "too many arguments");
	if (tail < 0 && follow)
		tail = LOGS_FOLLOW_TAIL;
	snprintf(hold, sizeof(hold), "%g", AWAIT_HOLD);
	await_retry_init(&retry, -1, 0);
	for (;;) {
		path = wire_path("/v1/logs", "", "");
		snprintf(num, sizeof(num), "%llu", after);
		wire_query(&path, "after", num);
		if (follow && !first)
			wire_query(&path, "wait", hold);
		json_decref(reply);
		reply = NULL;
		if (follow)
			r = await_request(ctl, "GET", path, NULL, first ? 0 :
			    AWAIT_HOLD, &retry, &reply);
		else
			r = ctl_request(ctl, "GET", path, NULL, 0, &reply);
		free(path);
		if (r == AWAIT_RETRY)
			continue;
		if (r != 0)
			break;
		items = json_object_get(reply, "items");
		n = json_array_size(items);
		logs_show(ctl, items, first && tail >= 0 && (size_t)tail < n ?
		    n - (size_t)tail : 0);
		after = (unsigned long long)json_integer_value(json_object_get(reply,
		    "next_after"));
		first = 0;
		if (!follow) {
			rc = CTL_EXIT_OK;
			break;
		}
	}
	json_decref(reply);
	return rc;
}
