/*
 * output: JSON for scripts, and the little formatting people need.
 *
 * JSON goes out through proto/jsonbuf, the daemon's own encoder, so a
 * number is printed as the daemon sent it ("duration": 0.00509), not as
 * jansson re-encodes the double it was read into (0.0050899999999999999).
 */
#include "client/output.h"

#include <err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/jsonbuf.h"
#include "proto/units.h"

/* Append J to B indented by DEPTH levels of two spaces, as jansson's
 * JSON_INDENT(2) lays it out; scalars as the daemon writes them. */
static void
output_indent(struct jsonbuf *b, const json_t *j, int depth)
{
	const char *key;
	const json_t *v;
	size_t i, n;

	if (json_is_object(j) && json_object_size(j) > 0) {
		jsonbuf_char(b, '{');
		n = 0;
		/* json_object_foreach takes a non-const object, but only
		 * reads it (as proto/jsonbuf does). */
		json_object_foreach((json_t *)(uintptr_t)j, key, v) {
			jsonbuf_raw(b, n > 0 ? ",\n" : "\n", n > 0 ? 2 : 1);
			n++;
			for (int d = 0; d <= depth; d++)
				jsonbuf_raw(b, "  ", 2);
			jsonbuf_string(b, key, strlen(key));
			jsonbuf_raw(b, ": ", 2);
			output_indent(b, v, depth + 1);
		}
		jsonbuf_char(b, '\n');
		for (int d = 0; d < depth; d++)
			jsonbuf_raw(b, "  ", 2);
		jsonbuf_char(b, '}');
	} else if (json_is_array(j) && json_array_size(j) > 0) {
		jsonbuf_char(b, '[');
		json_array_foreach(j, i, v) {
			jsonbuf_raw(b, i > 0 ? ",\n" : "\n", i > 0 ? 2 : 1);
			for (int d = 0; d <= depth; d++)
				jsonbuf_raw(b, "  ", 2);
			output_indent(b, v, depth + 1);
		}
		jsonbuf_char(b, '\n');
		for (int d = 0; d < depth; d++)
			jsonbuf_raw(b, "  ", 2);
		jsonbuf_char(b, ']');
	} else
		jsonbuf_value(b, j, 0);
}

/* Write J to F, indented or compact. */
static void
output_write(FILE *f, const json_t *j, int indent)
{
	struct jsonbuf b;
	char *text;

	jsonbuf_init(&b);
	if (indent)
		output_indent(&b, j, 0);
	else
		jsonbuf_value(&b, j, 0);
	if ((text = jsonbuf_finish(&b)) == NULL)
		errx(1, "out of memory writing JSON");
	fputs(text, f);
	free(text);
}

void
output_json(const json_t *j)
{
	output_write(stdout, j, isatty(STDOUT_FILENO));
	fputc('\n', stdout);
}

void
output_value(FILE *f, const json_t *j)
{
	if (j == NULL)
		return;
	if (json_is_string(j))
		fwrite(json_string_value(j), 1, json_string_length(j), f);
	else
		output_write(f, j, 0);
}

char *
output_number(const json_t *j, char *buf, size_t len)
{
	struct jsonbuf b;
	char *text;

	jsonbuf_init(&b);
	jsonbuf_value(&b, j, 0);
	text = jsonbuf_finish(&b);
	snprintf(buf, len, "%s", text != NULL ? text : "?");
	free(text);
	return buf;
}

/* Append S to F, single-quoted for a POSIX shell if it needs to be. */
static void
output_quote(FILE *f, const char *s)
{
	const char *safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-./:=@%+,";

	if (*s != '\0' && s[strspn(s, safe)] == '\0') {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

char *
output_action(const json_t *call)
{
	const json_t *cmd, *hook, *v;
	const char *method;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		err(1, "open_memstream");
	cmd = json_object_get(call, "command");
	hook = json_object_get(call, "webhook");
	if (json_is_object(cmd)) {
		json_array_foreach(json_object_get(cmd, "argv"), i, v) {
			if (i > 0)
				fputc(' ', f);
			output_quote(f, json_is_string(v) ?
			    json_string_value(v) : "?");
		}
	} else if (json_is_object(hook)) {
		method = json_string_value(json_object_get(hook, "method"));
		fprintf(f, "%s %s", method != NULL ? method : "POST",
		    json_string_value(json_object_get(hook, "url")) != NULL ?
		    json_string_value(json_object_get(hook, "url")) : "?");
	} else
		fputc('-', f);
	if (fclose(f) != 0)
		err(1, "open_memstream");
	return buf;
}

char *
output_duration(double secs, char *buf, size_t len)
{
	int64_t us = (int64_t)(secs * 1e6);

	if (us == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	return units_format_duration(us, buf, len);
}
