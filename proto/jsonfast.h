/*
 * jsonfast: a quick parse of plain JSON request bodies into jansson
 * values, or NULL for the caller to parse with jansson (proto_parse).
 */
#ifndef PROTO_JSONFAST_H
#define PROTO_JSONFAST_H

#include <stddef.h>

#include <jansson.h>

/* The object or array in s[0..len), as json_loadb(s, len,
 * JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL) would make it, with the depth
 * of its deepest nesting in *depth (json_depth's count); NULL when the
 * text is not plain enough for this parser, or not JSON: jansson is to
 * decide then. */
json_t *jsonfast_parse(const char *s, size_t len, size_t *depth);

/* The scanning steps both quick readers use (this one, proto/waitbody):
 * where the JSON white space from p stops (at most end). */
const char *jsonfast_ws(const char *p, const char *end);
/* A string without escapes or bytes over 0x7f, p on its opening quote:
 * its bytes (between the quotes) in *s and *n, and where it ends (past
 * the closing quote); NULL for anything else. */
const char *jsonfast_plain_string(const char *p, const char *end, const char **s, size_t *n);

#endif
