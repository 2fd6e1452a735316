/*
 * api_ui: the web console at /ui/ - static HTML, CSS and JavaScript from
 * ui/, embedded in the binary at build time (like the OpenAPI document),
 * served with a strict Content-Security-Policy. The page holds no data:
 * it reads everything through the /v1 API with the token the user types
 * in, so /ui/ itself needs none. console = off makes it a 404;
 * /ui/console.json tells the page the setting (read-only hides buttons).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/http/api.h"

/* Embed one file of ui/ as a NUL-terminated string named sym. */
#define UI_EMBED(sym, file)						\
	__asm__("	.section .rodata\n"				\
	    "	.balign 16\n"						\
	    #sym ":\n"							\
	    "	.incbin \"" file "\"\n"					\
	    "	.byte 0\n"						\
	    "	.previous\n");						\
	extern const char sym[] __asm__(#sym)

UI_EMBED(loopd_ui_index, "ui/index.html");
UI_EMBED(loopd_ui_css, "ui/app.css");
UI_EMBED(loopd_ui_js, "ui/app.js");

/* The console's files, by path. */
static const struct {
	const char *path;
	const char *type;
	const char *text;
} ui_files[] = {
	{ "/ui", "text/html; charset=utf-8", loopd_ui_index },
	{ "/ui/", "text/html; charset=utf-8", loopd_ui_index },
	{ "/ui/index.html", "text/html; charset=utf-8", loopd_ui_index },
	{ "/ui/app.css", "text/css; charset=utf-8", loopd_ui_css },
	{ "/ui/app.js", "text/javascript; charset=utf-8", loopd_ui_js },
};

/* GET /ui/... */
void
api_ui(struct http_req *r, struct api_args *a)
{
	const char *method = http_method(r), *path = http_path(r);
	int mode = config_console(api_cfg);
	char text[96];

	if (mode == CONFIG_CONSOLE_OFF) {
		http_reply_problem(r, 404, NULL, "the console is off (console = off)");
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		http_set_allow(r, "GET, HEAD");
		http_reply_problem(r, 405, NULL, "%s is not allowed on %.200s (allowed: GET)",
		    method, path);
		return;
	}
	http_set_csp(r, "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
	    "form-action 'none'");
	if (strcmp(path, "/ui/console.json") == 0) {
		snprintf(text, sizeof(text), "{\"console\":\"%s\"}",
		    mode == CONFIG_CONSOLE_ON ? "on" : "read-only");
		http_reply_text(r, 200, "application/json", strdup(text));
		return;
	}
	for (size_t i = 0; i < sizeof(ui_files) / sizeof(ui_files[0]); i++)
		if (strcmp(path, ui_files[i].path) == 0) {
			http_reply_text(r, 200, ui_files[i].type, strdup(ui_files[i].text));
			return;
		}
	http_reply_problem(r, 404, NULL, "no such page: %.200s", path);
}
