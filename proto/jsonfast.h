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

#endif
