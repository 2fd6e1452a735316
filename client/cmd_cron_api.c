/*
 * cmd_cron_api: the schedule commands that talk to loopd -- cron add, ls,
 * show, pause, resume, trigger, rm (API.md section 10). `cron next`
 * (offline) is in cmd_cron.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/wire.h"
#include "client/loopctl.h"
#include "client/output.h"
#include "client/timeparse.h"

/* The options of cron add that are the schedule's own, taken out of
 * everything before "--"; the rest (the action's) go to
 * sched_action_body. */
static const struct cron_opt {
	const char *name;
	const char *key;		/* body member */
	char type;			/* s string, d duration, t time, n count, b flag */
} cron_opts[] = {
	{ "every", "every", 'd' }, { "cron", "cron", 's' },
	{ "calendar", "calendar", 's' }, { "tz", "tz", 's' },
	{ "start", "start", 't' }, { "end", "end", 't' },
	{ "count", "count", 'n' }, { "catchup", "catchup", 's' },
	{ "catchup-window", "catchup_window", 'd' }, { "overlap", "overlap", 's' },
	{ "jitter", "jitter", 'd' }, { "pause-on-failure", "pause_on_failure", 'b' },
};
#define NCRON_OPTS (sizeof(cron_opts) / sizeof(cron_opts[0]))

/* Set the member of body an option stands for, from its text value. */
static void
cron_set(struct ctl *ctl, json_t *body, const struct cron_opt *o, const char *v)
{
	char opt[64], why[200], *end;
	double d;
	long long n;

	snprintf(opt, sizeof(opt), "--%s", o->name);
	switch (o->type) {
	case 'b':
		json_object_set_new(body, o->key, json_true());
		break;
	case 'd':
		json_object_set_new(body, o->key, json_real(ctl_duration(ctl, opt, v)));
		break;
	case 't':
		if (timeparse_at(v, ctl_unix_now(), &d, why, sizeof(why)) == -1)
			ctl_usage(ctl, "%s: bad time '%s': %s", opt, v, why);
		json_object_set_new(body, o->key, json_real(d));
		break;
	case 'n':
		n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 1)
			ctl_usage(ctl, "%s: a number >= 1", opt);
		json_object_set_new(body, o->key, json_integer(n));
		break;
	default:
		json_object_set_new(body, o->key, ctl_string(ctl, opt, v));
	}
}

int
cmd_cron_add(struct ctl *ctl, int argc, char **argv)
{
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	json_t *own = json_object(), *body, *v, *reply = NULL;
	const char *key, *id;
	int n = 0, rc = CTL_EXIT_FAIL, i;

	if (rest == NULL || own == NULL)
		ctl_usage(ctl, "out of memory");
	/* Take the schedule's options out, up to the command. */
	rest[n++] = argv[0];
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq;
		size_t len;
		size_t k;

		if (strcmp(a, "--") == 0)
			break;
		/* Values of the action's options pass through as they are. */
		if (a[0] != '-' || a[1] != '-') {
			rest[n++] = argv[i];
			continue;
		}
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		for (k = 0; k < NCRON_OPTS; k++)
			if (strlen(cron_opts[k].name) == len &&
			    strncmp(a + 2, cron_opts[k].name, len) == 0)
				break;
		if (k == NCRON_OPTS) {
			rest[n++] = argv[i];
			continue;
		}
		if (cron_opts[k].type == 'b')
			cron_set(ctl, own, &cron_opts[k], NULL);
		else if (eq != NULL)
			cron_set(ctl, own, &cron_opts[k], eq + 1);
		else if (i + 1 < argc)
			cron_set(ctl, own, &cron_opts[k], argv[++i]);
		else
			ctl_usage(ctl, "--%s needs a value", cron_opts[k].name);
	}
	for (; i < argc; i++)
		rest[n++] = argv[i];
	if (json_object_get(own, "every") == NULL && json_object_get(own, "cron") == NULL &&
	    json_object_get(own, "calendar") == NULL)
		ctl_usage(ctl, "give one of --every DUR, --cron SPEC and --calendar SPEC");
	body = sched_action_body(ctl, n, rest);
	json_object_foreach(own, key, v)
		json_object_set(body, key, v);
	json_decref(own);
	free(rest);
	if (ctl_request(ctl, "POST", "/v1/schedules", body, 0, &reply) == 0) {
		if (ctl->json) {
			ctl_redact(ctl, reply);
			output_json(reply);
		} else if ((id = json_string_value(json_object_get(reply, "id"))) != NULL)
			printf("%s\n", id);
		rc = CTL_EXIT_OK;
	}
	json_decref(reply);
	return rc;
}

/* The spec of schedule S as one line: "cron 30 2 * * * Europe/Berlin". */
static void
cron_spec(const json_t *s, char *buf, size_t len)
{
	static const char *const kinds[] = { "every", "cron", "calendar" };
	char num[64];

	snprintf(buf, len, "?");
	for (size_t i = 0; i < 3; i++) {
		const json_t *v = json_object_get(s, kinds[i]);
		if (v == NULL)
			continue;
		if (json_is_number(v))
			snprintf(buf, len, "%s %ss", kinds[i], output_number(v, num,
			    sizeof(num)));
		else
			snprintf(buf, len, "%s %s%s%s", kinds[i], json_string_value(v),
			    i > 0 ? " " : "", i > 0 ? json_string_value(json_object_get(s,
			    "tz")) : "");
	}
}

/* The local time of the first entry of s's "next", or "-". */
static const char *
cron_first_next(const json_t *s)
{
	const json_t *n = json_array_get(json_object_get(s, "next"), 0);
	const char *l = json_string_value(json_object_get(n, "local"));

	return l != NULL ? l : "-";
}

int
cmd_cron_ls(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "paused", no_argument, NULL, 'P' },
		{ "active", no_argument, NULL, 'A' },
		{ "name", required_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	char *path = NULL, spec[600], *q = NULL;
	const char *state = NULL, *name = NULL;
	json_t *all = json_array(), *page = NULL;
	const char *token = "";
	char tok[64] = "";
	int ch, rc = CTL_EXIT_OK;
	size_t i;
	json_t *s;

	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'P': state = "paused"; break;
		case 'A': state = "active"; break;
		case 'N': name = optarg; break;
		default: ctl_usage(ctl, NULL);
		}
	}
	if (optind != argc)
		ctl_usage(ctl, "no arguments");
	do {
		free(q);
		if ((q = strdup("/v1/schedules")) == NULL)
			ctl_usage(ctl, "out of memory");
		wire_query(&q, "page_size", "1000");
		if (state != NULL)
			wire_query(&q, "state", state);
		if (name != NULL)
			wire_query(&q, "name", name);
		if (*tok != '\0')
			wire_query(&q, "page_token", tok);
		free(path);
		path = strdup(q);
		json_decref(page);
		page = NULL;
		if (path == NULL || ctl_request(ctl, "GET", path, NULL, 0, &page) == -1) {
			rc = CTL_EXIT_FAIL;
			break;
		}
		json_array_extend(all, json_object_get(page, "items"));
		token = json_string_value(json_object_get(page, "next_page_token"));
		snprintf(tok, sizeof(tok), "%s", token ? token : "");
	} while (*tok != '\0');
	if (rc == CTL_EXIT_OK) {
		if (ctl->json) {
			ctl_redact(ctl, all);
			output_json(all);
		} else {
			if (json_array_size(all) > 0)
				printf("%-18s  %-6s  %-25s  %-40s  %s\n", "ID", "STATE", "NEXT",
				    "SPEC", "NAME");
			json_array_foreach(all, i, s) {
				cron_spec(s, spec, sizeof(spec));
				printf("%-18s  %-6s  %-25s  %-40s  %s\n",
				    json_string_value(json_object_get(s, "id")),
				    json_string_value(json_object_get(s, "state")),
				    cron_first_next(s), spec,
				    json_string_value(json_object_get(s, "name")) ?
				    json_string_value(json_object_get(s, "name")) : "");
			}
		}
	}
	free(q);
	free(path);
	json_decref(page);
	json_decref(all);
	return rc;
}

/* GET/POST/DELETE on /v1/schedules/ID[SUFFIX]; print the reply (or
 * what: its id). */
static int
cron_simple(struct ctl *ctl, int argc, char **argv, const char *method,
    const char *suffix, int print_id)
{
	int i = ctl_args(ctl, argc, argv, "", 1, 1), rc = CTL_EXIT_FAIL;
	char *path = wire_path("/v1/schedules/", argv[i], suffix);
	json_t *reply = NULL;

	if (ctl_request(ctl, method, path, NULL, 0, &reply) == 0) {
		ctl_redact(ctl, reply);
		if (ctl->json)
			output_json(reply);
		else if (print_id)
			printf("%s\n", json_string_value(json_object_get(reply, "id")));
		else
			printf("%s %s\n", argv[i], json_string_value(json_object_get(reply,
			    "state")));
		rc = CTL_EXIT_OK;
	}
	json_decref(reply);
	free(path);
	return rc;
}

int
cmd_cron_show(struct ctl *ctl, int argc, char **argv)
{
	int i = ctl_args(ctl, argc, argv, "", 1, 1), rc = CTL_EXIT_FAIL;
	char *path = wire_path("/v1/schedules/", argv[i], "");
	json_t *s = NULL, *e, *v;
	char spec[600], num[64];
	const char *k;
	size_t j;

	if (ctl_request(ctl, "GET", path, NULL, 0, &s) == 0) {
		ctl_redact(ctl, s);
		rc = CTL_EXIT_OK;
		if (ctl->json) {
			output_json(s);
			goto out;
		}
		cron_spec(s, spec, sizeof(spec));
		printf("%-17s %s\n", "id", json_string_value(json_object_get(s, "id")));
		printf("%-17s %s\n", "state", json_string_value(json_object_get(s, "state")));
		printf("%-17s %s\n", "spec", spec);
		if ((v = json_object_get(s, "name")) != NULL)
			printf("%-17s %s\n", "name", json_string_value(v));
		{
			char *a = output_action(s);
			printf("%-17s %s\n", "action", a ? a : "?");
			free(a);
		}
		json_object_foreach(s, k, v) {
			if (strcmp(k, "catchup") == 0 || strcmp(k, "overlap") == 0 ||
			    strcmp(k, "catchup_window") == 0 || strcmp(k, "jitter") == 0 ||
			    strcmp(k, "pause_on_failure") == 0 || strcmp(k, "count") == 0 ||
			    strcmp(k, "fired") == 0) {
				printf("%-17s ", k);
				output_value(stdout, v);
				printf("\n");
			}
		}
		printf("next:\n");
		json_array_foreach(json_object_get(s, "next"), j, e)
			printf("  %s  %s\n", json_string_value(json_object_get(e, "local")),
			    output_number(json_object_get(e, "unix"), num, sizeof(num)));
		if (json_array_size(json_object_get(s, "next")) == 0)
			printf("  (none)\n");
		printf("last runs:\n");
		json_array_foreach(json_object_get(s, "recent"), j, e) {
			const char *st = json_string_value(json_object_get(e, "state"));
			const char *out = json_string_value(json_object_get(e, "outcome"));
			json_t *late = json_object_get(e, "lateness");
			time_t t = (time_t)json_number_value(json_object_get(e, "scheduled_for"));
			char when[64];

			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
			printf("  %s  %s  %-10s", json_string_value(json_object_get(e, "call")),
			    when, out != NULL ? (strcmp(out, "result") == 0 ? "ok" : "failed") :
			    st);
			if (late != NULL)
				printf("  late %s", output_duration(json_number_value(late), num,
				    sizeof(num)));
			printf("\n");
		}
		if (json_array_size(json_object_get(s, "recent")) == 0)
			printf("  (none)\n");
	}
out:
	json_decref(s);
	free(path);
	return rc;
}

int
cmd_cron_pause(struct ctl *ctl, int argc, char **argv)
{
	return cron_simple(ctl, argc, argv, "POST", "/pause", 0);
}

int
cmd_cron_resume(struct ctl *ctl, int argc, char **argv)
{
	return cron_simple(ctl, argc, argv, "POST", "/resume", 0);
}

int
cmd_cron_trigger(struct ctl *ctl, int argc, char **argv)
{
	return cron_simple(ctl, argc, argv, "POST", "/trigger", 1);
}

int
cmd_cron_rm(struct ctl *ctl, int argc, char **argv)
{
	return cron_simple(ctl, argc, argv, "DELETE", "", 0);
}
