/*
 * schedule: the request body of POST /v1/schedules (API.md section 10),
 * decoded strictly. The schedule's own members are taken out; what is
 * left is the action, decoded as a done-callback's body is (a command or
 * a webhook, args, retry, name, on_restart; no trigger). The spec text is
 * only checked for type here: loopd parses it (recur/) and names the
 * field when it is wrong.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"

/* Set the detail; returns -1. */
static int __attribute__((format(printf, 2, 3)))
fail(struct proto_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long long
days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
proto_time_parse(const char *s, double *out)
{
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
	double frac = 0;
	char sign;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19)
		return -1;
	s += n;
	if (*s == '.') {
		double scale = 0.1;
		if (s[1] < '0' || s[1] > '9')
			return -1;
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if ((*s == '+' || *s == '-') && sscanf(s, "%c%2d:%2d%n", &sign, &oh, &om, &n) == 3 &&
	    n == 6) {
		if (oh > 23 || om > 59)
			return -1;
		if (sign == '-')
			oh = -oh, om = -om;
		s += n;
	} else
		return -1;
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	*out = (double)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	    (oh * 3600 + om * 60)) + frac;
	return 0;
}

/* A time member: RFC 3339 text or Unix seconds. */
static int
decode_time(json_t *v, const char *name, int *has, double *out, struct proto_error *err)
{
	if (v == NULL)
		return 0;
	*has = 1;
	if (json_is_string(v)) {
		if (proto_time_parse(json_string_value(v), out) == -1)
			return fail(err, "%s: must be an RFC 3339 time "
			    "(2027-03-28T02:30:00+01:00) or Unix seconds", name);
	} else if (json_is_number(v))
		*out = json_number_value(v);
	else
		return fail(err, "%s: must be an RFC 3339 string or a number", name);
	if (!isfinite(*out) || *out < 0 || *out > 253402300799.0)
		return fail(err, "%s: out of range", name);
	return 0;
}

/* A number of seconds >= 0 (at most max). */
static int
decode_seconds(json_t *v, const char *name, double max, int *has, double *out,
    struct proto_error *err)
{
	if (v == NULL)
		return 0;
	*has = 1;
	if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
		return fail(err, "%s: must be a number >= 0", name);
	if ((*out = json_number_value(v)) > max)
		return fail(err, "%s: out of range (at most %.0f)", name, max);
	return 0;
}

static const char *const spec_keys[] = { "every", "cron", "calendar" };

int
proto_decode_schedule(json_t *body, struct proto_schedule_req *out, struct proto_error *err)
{
	json_t *v;
	const char *key;
	void *tmp;
	int nspec = 0;

	memset(out, 0, sizeof(*out));
	out->pause_on_failure = -1;
	if (!json_is_object(body))
		return fail(err, "body: must be an object");
	for (size_t i = 0; i < 3; i++) {
		if ((v = json_object_get(body, spec_keys[i])) == NULL)
			continue;
		nspec++;
		out->kind = spec_keys[i];
		if (i == 0 && json_is_number(v)) {
			double d = json_number_value(v);
			if (!isfinite(d) || d <= 0 || d > 1e10)
				return fail(err, "every: must be a number of seconds > 0");
			snprintf(out->spec_buf, sizeof(out->spec_buf), "%.6f", d);
			/* "30.000000" -> "30" */
			char *e = out->spec_buf + strlen(out->spec_buf) - 1;
			while (*e == '0')
				*e-- = '\0';
			if (*e == '.')
				*e = '\0';
			out->spec = out->spec_buf;
		} else if (json_is_string(v) && json_string_length(v) > 0 &&
		    strlen(json_string_value(v)) == json_string_length(v) &&
		    json_string_length(v) <= 512)
			out->spec = json_string_value(v);
		else
			return fail(err, "%s: must be %s", spec_keys[i], i == 0 ?
			    "a number of seconds or a duration (\"30s\")" :
			    "a non-empty string of at most 512 bytes");
	}
	if (nspec == 0)
		return fail(err, "spec: one of every, cron or calendar is required");
	if (nspec > 1)
		return fail(err, "spec: only one of every, cron and calendar may be given");
	if ((v = json_object_get(body, "tz")) != NULL) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 255 ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return fail(err, "tz: must be an IANA zone name");
		if (strcmp(out->kind, "every") == 0 && strcmp(json_string_value(v), "UTC") != 0)
			return fail(err, "tz: every counts real elapsed time; a zone has no "
			    "meaning there");
		out->tz = json_string_value(v);
	}
	if (decode_time(json_object_get(body, "start"), "start", &out->has_start,
	    &out->start, err) == -1 ||
	    decode_time(json_object_get(body, "end"), "end", &out->has_end, &out->end,
	    err) == -1)
		return -1;
	if (out->has_start && out->has_end && out->end < out->start)
		return fail(err, "end: before start");
	if ((v = json_object_get(body, "count")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return fail(err, "count: must be an integer >= 1");
		out->count = (unsigned long long)json_integer_value(v);
	}
	if ((v = json_object_get(body, "catchup")) != NULL) {
		if (!json_is_string(v) || (strcmp(json_string_value(v), "skip") != 0 &&
		    strcmp(json_string_value(v), "latest") != 0 &&
		    strcmp(json_string_value(v), "all") != 0))
			return fail(err, "catchup: must be \"skip\", \"latest\" or \"all\"");
		out->catchup = json_string_value(v);
	}
	if ((v = json_object_get(body, "overlap")) != NULL) {
		static const char *const ov[] = { "skip", "buffer_one", "buffer_all",
		    "cancel_other", "allow_all" };
		size_t i;
		for (i = 0; json_is_string(v) && i < 5; i++)
			if (strcmp(json_string_value(v), ov[i]) == 0)
				break;
		if (!json_is_string(v) || i == 5)
			return fail(err, "overlap: must be \"skip\", \"buffer_one\", "
			    "\"buffer_all\", \"cancel_other\" or \"allow_all\"");
		out->overlap = json_string_value(v);
	}
	if (decode_seconds(json_object_get(body, "catchup_window"), "catchup_window", 1e9,
	    &out->has_window, &out->catchup_window, err) == -1 ||
	    decode_seconds(json_object_get(body, "jitter"), "jitter", 1e9, &out->has_jitter,
	    &out->jitter, err) == -1)
		return -1;
	if ((v = json_object_get(body, "pause_on_failure")) != NULL) {
		if (!json_is_boolean(v))
			return fail(err, "pause_on_failure: must be true or false");
		out->pause_on_failure = json_is_true(v);
	}
	if (json_object_get(body, "idempotency_key") != NULL)
		return fail(err, "idempotency_key: a schedule makes its calls itself");

	/* The rest is the action, as a callback's body. */
	if ((out->rest = json_object()) == NULL)
		return fail(err, "out of memory");
	json_object_foreach_safe(body, tmp, key, v) {
		static const char *const own[] = { "every", "cron", "calendar", "tz", "start",
		    "end", "count", "catchup", "catchup_window", "overlap", "jitter",
		    "pause_on_failure" };
		size_t i;
		for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
			if (strcmp(key, own[i]) == 0)
				break;
		if (i == sizeof(own) / sizeof(own[0]) &&
		    json_object_set(out->rest, key, v) == -1)
			return fail(err, "out of memory");
	}
	if (proto_decode_call(out->rest, 0, &out->call, err) == -1) {
		/* A trigger reads better said for a schedule. */
		if (strstr(err->detail, "a callback takes no trigger") != NULL) {
			char *colon = strchr(err->detail, ':');
			if (colon != NULL)
				snprintf(colon, sizeof(err->detail) - (size_t)(colon -
				    err->detail), ": a schedule takes no trigger (its spec "
				    "says when)");
		}
		return -1;
	}
	return 0;
}

void
proto_schedule_req_free(struct proto_schedule_req *req)
{
	json_decref(req->rest);
	req->rest = NULL;
}

json_t *
proto_schedule_canonical(const struct proto_schedule_req *req)
{
	json_t *o = json_object(), *a = proto_call_canonical(&req->call);

	if (o == NULL || a == NULL) {
		json_decref(o);
		json_decref(a);
		return NULL;
	}
	json_object_set_new(o, "action", a);
	json_object_set_new(o, req->kind, json_string(req->spec));
	json_object_set_new(o, "tz", json_string(req->tz ? req->tz : "UTC"));
	if (req->has_start)
		json_object_set_new(o, "start", json_real(req->start));
	if (req->has_end)
		json_object_set_new(o, "end", json_real(req->end));
	if (req->count)
		json_object_set_new(o, "count", json_integer((json_int_t)req->count));
	json_object_set_new(o, "catchup", json_string(req->catchup ? req->catchup : "skip"));
	json_object_set_new(o, "catchup_window", json_real(req->has_window ?
	    req->catchup_window : 60));
	json_object_set_new(o, "overlap", json_string(req->overlap ? req->overlap : "skip"));
	json_object_set_new(o, "jitter", json_real(req->has_jitter ? req->jitter : 0));
	json_object_set_new(o, "pause_on_failure", json_boolean(req->pause_on_failure == 1));
	return o;
}
