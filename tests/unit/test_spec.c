/*
 * test_spec: proto/spec, a call's typed spec: the text written from a
 * request is what the codec's dump of it says, and decoding that text
 * gives back the same typed fields and, encoded again, the same text.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/spec.h"
#include "tests/unit/check.h"

#define MAX_DEPTH 64

/* Request body -> spec text -> decoded spec -> text again. */
static void
round_trip(const char *body_text, const char **text_out, struct proto_spec *dec)
{
	struct proto_error err = { "" };
	struct proto_call_req req;
	struct proto_spec spec;
	json_t *body = proto_parse(body_text, strlen(body_text), MAX_DEPTH, &err), *js;
	char *text = NULL, *want = NULL, *again = NULL;

	memset(dec, 0, sizeof(*dec));
	*text_out = NULL;
	if (!CHECK(body != NULL && proto_decode_call(body, 1, &req, &err) == 0)) {
		fprintf(stderr, "  %s: %s\n", body_text, err.detail);
		json_decref(body);
		return;
	}
	CHECK_INT_EQ(proto_spec_of_call(&req, &spec), 0);
	text = proto_spec_encode(&spec);
	js = proto_call_spec(&req);
	want = js != NULL ? proto_dump(js) : NULL;
	CHECK_STR_EQ(text, want);
	proto_spec_free(&spec);
	if (CHECK(text != NULL) && CHECK(proto_spec_decode(text, strlen(text), dec, &err) == 0)) {
		again = proto_spec_encode(dec);
		CHECK_STR_EQ(again, text);
	}
	free(again);
	free(want);
	json_decref(js);
	json_decref(body);
	*text_out = text;
}

/* A command with everything: typed fields, numbers as given. */
static void
test_command(void)
{
	struct proto_spec d;
	const char *text;

	round_trip("{\"soon\":true,\"command\":{\"argv\":[\"/bin/echo\",\"a\"],\"env\":{\"B\":\"1\","
	    "\"A\":\"2\"},\"cwd\":\"/tmp\",\"stdin\":\"x\\u0000y\",\"timeout\":5},"
	    "\"args\":[1,\"s\",{\"k\":2.5}],\"retry\":{\"attempts\":3,\"backoff\":0.5},"
	    "\"on_restart\":\"rerun\"}", &text, &d);
	CHECK_STR_EQ(text, "{\"args\":[1,\"s\",{\"k\":2.5}],\"command\":{\"argv\":[\"/bin/echo\","
	    "\"a\"],\"cwd\":\"/tmp\",\"env\":{\"A\":\"2\",\"B\":\"1\"},\"stdin\":\"x\\u0000y\","
	    "\"timeout\":5},\"on_restart\":\"rerun\",\"retry\":{\"attempts\":3,\"backoff\":0.5}}");
	CHECK_INT_EQ(d.action, PROTO_COMMAND);
	CHECK_INT_EQ(json_array_size(d.command.argv), 2);
	CHECK_STR_EQ(json_string_value(json_array_get(d.command.argv, 0)), "/bin/echo");
	CHECK_STR_EQ(d.command.cwd, "/tmp");
	CHECK_INT_EQ(d.command.stdin_len, 3);
	CHECK(d.command.stdin_data != NULL && memcmp(d.command.stdin_data, "x\0y", 3) == 0);
	CHECK(d.command.timeout == 5.0);
	CHECK_STR_EQ(json_string_value(json_object_get(d.command.env, "A")), "2");
	CHECK_INT_EQ(json_array_size(d.args), 3);
	CHECK_INT_EQ(d.retry.attempts, 3);
	CHECK(d.retry.has_backoff && d.retry.backoff == 0.5);
	CHECK(!d.retry.has_max_backoff);
	CHECK(d.rerun);
	proto_spec_free(&d);
	free((char *)(uintptr_t)text);
}

/* A webhook: the method's default is written out; typed fields. */
static void
test_webhook(void)
{
	struct proto_spec d;
	const char *text;

	round_trip("{\"after\":1,\"webhook\":{\"url\":\"https://u:p@example.com:8443/x?y\","
	    "\"headers\":{\"X-A\":\"1\"},\"body\":{\"z\":[1]},\"timeout\":2.5}}", &text, &d);
	CHECK_STR_EQ(text, "{\"args\":[],\"on_restart\":\"fail\",\"webhook\":{\"body\":{\"z\":[1]},"
	    "\"headers\":{\"X-A\":\"1\"},\"method\":\"POST\",\"timeout\":2.5,"
	    "\"url\":\"https://u:p@example.com:8443/x?y\"}}");
	CHECK_INT_EQ(d.action, PROTO_WEBHOOK);
	CHECK_STR_EQ(d.webhook.url, "https://u:p@example.com:8443/x?y");
	CHECK_STR_EQ(d.webhook.method, "POST");
	CHECK(d.webhook.timeout == 2.5);
	CHECK(json_is_object(d.webhook.body));
	CHECK_STR_EQ(json_string_value(json_object_get(d.webhook.headers, "X-A")), "1");
	CHECK_INT_EQ(d.retry.attempts, 0);
	CHECK(!d.rerun);
	proto_spec_free(&d);
	free((char *)(uintptr_t)text);
	round_trip("{\"soon\":true,\"webhook\":{\"url\":\"http://h/\",\"method\":\"PUT\"},"
	    "\"args\":[\"a\"]}", &text, &d);
	CHECK_STR_EQ(text, "{\"args\":[\"a\"],\"on_restart\":\"fail\",\"webhook\":{\"method\":"
	    "\"PUT\",\"url\":\"http://h/\"}}");
	CHECK_STR_EQ(d.webhook.method, "PUT");
	proto_spec_free(&d);
	free((char *)(uintptr_t)text);
}

/* Text that is not a spec: an error, and the kind it named when any. */
static void
test_invalid(void)
{
	struct proto_error err = { "" };
	struct proto_spec d;
	static const char *bad = "{\"command\":{\"argv\":[]},\"args\":[]}";

	CHECK_INT_EQ(proto_spec_decode("nope", 4, &d, &err), -1);
	CHECK_INT_EQ(d.action, PROTO_ACTION_NONE);
	proto_spec_free(&d);
	CHECK_INT_EQ(proto_spec_decode("{\"args\":[]}", 11, &d, &err), -1);
	CHECK(strstr(err.detail, "no action") != NULL);
	proto_spec_free(&d);
	err.detail[0] = '\0';	/* the first error wins: start again */
	CHECK_INT_EQ(proto_spec_decode(bad, strlen(bad), &d, &err), -1);
	CHECK_INT_EQ(d.action, PROTO_COMMAND);
	if (!CHECK(strstr(err.detail, "argv") != NULL))
		fprintf(stderr, "  %s\n", err.detail);
	proto_spec_free(&d);
	CHECK_INT_EQ(proto_spec_decode("{\"webhook\":{\"url\":\"ftp://h/\"}}", 30, &d, &err), -1);
	CHECK_INT_EQ(d.action, PROTO_WEBHOOK);
	proto_spec_free(&d);
	proto_spec_free(NULL);
}

int
main(void)
{
	test_command();
	test_webhook();
	test_invalid();
	return check_summary();
}
