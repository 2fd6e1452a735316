/*
 * waitbody: a POST /v1/wait or /v1/gather body read without a JSON tree.
 *
 * jansson took 2.5-5 ms to parse 10,000 ids (a string object each, then
 * as long again to free them), all of it in one loop turn (issue 13).
 * Those bodies have a plain shape: an object of a few members, the ids
 * as proto_id_format writes them. proto_wait_scan reads that shape in
 * one pass over the bytes, and leaves anything else - escapes, non-ASCII,
 * nesting, an id that is not one, a duplicate key, bad JSON - to
 * proto_parse and proto_decode_wait, so the answer (and every 400 and
 * its detail) is always theirs.
 */
#ifndef PROTO_WAITBODY_H
#define PROTO_WAITBODY_H

#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"

/* A body's ids in the order given. */
struct proto_wait_ids {
	size_t n;
	uint64_t *id;		/* proto_id_parse's value */
	char *kind;		/* 'c' or 'f' */
};

/* Decode body as proto_parse(body, len, max_depth) then
 * proto_decode_wait(gather) would, when it has the plain shape: an
 * object whose member names are printable ASCII with no escape, whose
 * "futures" is an array of at most max_ids valid ids with no escape, and
 * whose other values are numbers, true, false, null or printable ASCII
 * strings with no escape. 1: decoded, *req filled (req->futures NULL)
 * and *ids too (free with proto_wait_ids_free); -1: the request is
 * refused, err as proto_decode_wait gives it; 0: not of that shape, or
 * out of memory - decode it the long way. */
int proto_wait_scan(const char *body, size_t len, int gather, size_t max_depth, size_t max_ids,
    struct proto_wait_req *req, struct proto_wait_ids *ids, struct proto_error *err);
/* Free what ids holds (not ids). Accepts NULL. */
void proto_wait_ids_free(struct proto_wait_ids *ids);

#endif
