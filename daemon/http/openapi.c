/*
 * openapi: GET /openapi.json serves proto/openapi.json, embedded in the
 * binary at build time so the daemon always serves the contract it was
 * built with.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/http/api.h"

__asm__(
    "	.section .rodata\n"
    "	.balign 16\n"
    "loopd_openapi_json:\n"
    "	.incbin \"proto/openapi.json\"\n"
    "	.byte 0\n"
    "	.previous\n");
extern const char loopd_openapi_json[] __asm__("loopd_openapi_json");

/* GET /openapi.json */
void
api_openapi(struct http_req *r, struct api_args *a)
{
	http_reply_text(r, 200, "application/json", strdup(loopd_openapi_json));
}
