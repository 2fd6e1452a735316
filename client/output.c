/*
 * output: JSON for scripts, and the little formatting people need.
 */
#include "client/output.h"

#include <err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/units.h"

void
output_json(const json_t *j)
{
	size_t flags = JSON_ENCODE_ANY;

	flags |= isatty(STDOUT_FILENO) ? JSON_INDENT(2) : JSON_COMPACT;
	json_dumpf(j, stdout, flags);
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
		json_dumpf(j, f, JSON_ENCODE_ANY | JSON_COMPACT);
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
