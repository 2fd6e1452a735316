/*
 * view: core objects as the JSON objects of the contract (API.md §3-4),
 * for the HTTP API and for actions that hand a future to a callback.
 */
#ifndef LOOPD_VIEW_H
#define LOOPD_VIEW_H

#include <jansson.h>

struct future;

struct jsonbuf;

/* Append the call or future object as JSON text. If a call's spec cannot
 * be read back from the store, b is marked failed: never a call object
 * without its action. */
void view_write(struct jsonbuf *b, const struct future *f);
/* The object as JSON text (the caller frees it); NULL on ENOMEM or when
 * the store cannot be read. */
char *view_text(const struct future *f);
/* The object as a JSON value; NULL as for view_text. */
json_t *view_object(const struct future *f);
/* The id string of f ("c_…" or "f_…") into buf (19 bytes). */
char *view_id(const struct future *f, char *buf);
/* Parse stored opaque text back to JSON (any value); NULL if it is not. */
json_t *view_load(const char *text);

#endif
