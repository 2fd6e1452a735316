/*
 * wire: JSON requests to loopd through the libcurl multi interface.
 *
 * The multi interface is used even for one request at a time so that the
 * caller gets a tick while a long poll is held (the countdown on a
 * terminal), and so that the connection is kept alive between the requests
 * of one command (an await is many polls).
 */
#include "client/wire.h"

#include <err.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#define WIRE_CONNECT_MS		10000
#define WIRE_SLACK_S		30.0	/* on top of what the server may hold */
#define WIRE_TICK_MS		100

struct wire {
	CURLM		*multi;
	char		*base;		/* scheme://host:port, no trailing slash */
	char		*socket;	/* Unix socket path, or NULL */
	char		*authz;		/* "Authorization: Bearer ...", or NULL */
	void		(*tick)(void *);
	void		*tick_arg;
};

/* A growing byte buffer for a reply body. */
struct wire_buf {
	char		*data;
	size_t		 len;
	size_t		 cap;
};

static char	*wire_xasprintf(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* asprintf that exits on memory exhaustion, as a command-line tool may. */
static char *
wire_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		err(1, "vasprintf");
	return s;
}

struct wire *
wire_new(const char *url, const char *token)
{
	struct wire *h;
	size_t n;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		errx(1, "curl_global_init failed");
	if ((h = calloc(1, sizeof(*h))) == NULL)
		err(1, "calloc");
	if ((h->multi = curl_multi_init()) == NULL)
		errx(1, "curl_multi_init failed");
	if (strncmp(url, "unix:", 5) == 0) {
		h->socket = wire_xasprintf("%s", url + 5);
		h->base = wire_xasprintf("http://localhost");
	} else
		h->base = wire_xasprintf("%s", url);
	n = strlen(h->base);
	while (n > 0 && h->base[n - 1] == '/')
		h->base[--n] = '\0';
	if (token != NULL)
		h->authz = wire_xasprintf("Authorization: Bearer %s", token);
	return h;
}

void
wire_free(struct wire *h)
{
	if (h == NULL)
		return;
	curl_multi_cleanup(h->multi);
	free(h->base);
	free(h->socket);
	free(h->authz);
	free(h);
	curl_global_cleanup();
}

void
wire_set_tick(struct wire *h, void (*fn)(void *), void *arg)
{
	h->tick = fn;
	h->tick_arg = arg;
}

/* libcurl write callback: append to the reply buffer. */
static size_t
wire_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct wire_buf *b = arg;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->data, cap)) == NULL)
			return 0;	/* curl reports a write error */
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Run the transfer on E to its end, ticking while it is in flight. */
static CURLcode
wire_perform(struct wire *h, CURL *e)
{
	CURLMsg *m;
	CURLcode cc = CURLE_FAILED_INIT;
	int running = 1, left;

	if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
		return cc;
	while (running) {
		if (curl_multi_perform(h->multi, &running) != CURLM_OK)
			break;
		if (running && curl_multi_poll(h->multi, NULL, 0, WIRE_TICK_MS,
		    NULL) != CURLM_OK)
			break;
		if (h->tick != NULL)
			h->tick(h->tick_arg);
	}
	while ((m = curl_multi_info_read(h->multi, &left)) != NULL)
		if (m->msg == CURLMSG_DONE && m->easy_handle == e)
			cc = m->data.result;
	curl_multi_remove_handle(h->multi, e);
	return cc;
}

/* Turn a non-2xx reply into one line: "STATUS TYPE: DETAIL". */
static void
wire_problem(long status, const json_t *body, const struct wire_buf *raw,
    struct wire_error *err)
{
	const char *type = NULL, *detail = NULL;
	size_t n;

	if (json_is_object(body)) {
		type = json_string_value(json_object_get(body, "type"));
		detail = json_string_value(json_object_get(body, "detail"));
		if (detail == NULL || *detail == '\0')
			detail = json_string_value(json_object_get(body,
			    "title"));
	}
	if (type != NULL)
		snprintf(err->type, sizeof(err->type), "%s", type);
	if (type != NULL && detail != NULL)
		snprintf(err->msg, sizeof(err->msg), "%ld %s: %s", status,
		    type, detail);
	else if (type != NULL || detail != NULL)
		snprintf(err->msg, sizeof(err->msg), "%ld %s", status,
		    type != NULL ? type : detail);
	else if (raw->len > 0) {
		/* Not problem+json: show the first line of what came. */
		n = strcspn(raw->data, "\r\n");
		snprintf(err->msg, sizeof(err->msg), "%ld: %.*s", status,
		    (int)(n > 200 ? 200 : n), raw->data);
	} else
		snprintf(err->msg, sizeof(err->msg), "%ld (no detail)", status);
}

/* Say why nobody answered (curl's CC and its text CERR) in ERR, with a
 * hint: whether loopd runs, or whether its socket may be opened. */
static void
wire_unreachable(const struct wire *h, CURLcode cc, const char *cerr,
    struct wire_error *err)
{
	const char *why = *cerr != '\0' ? cerr : curl_easy_strerror(cc);
	struct stat sb;

	if (h->socket == NULL) {
		snprintf(err->msg, sizeof(err->msg), "%s: %s", h->base, why);
		if (cc == CURLE_COULDNT_CONNECT)
			snprintf(err->hint, sizeof(err->hint), "is loopd"
			    " running? LOOP_URL=%s (set LOOP_URL or --url for"
			    " another address)", h->base);
		return;
	}
	/* curl speaks of "localhost port 80" for a Unix socket: say which
	 * socket, and what stands in the way. */
	if (stat(h->socket, &sb) == -1) {
		snprintf(err->msg, sizeof(err->msg), "unix:%s: %s", h->socket,
		    strerror(errno));
		snprintf(err->hint, sizeof(err->hint), "is loopd running?"
		    " LOOP_URL=unix:%s", h->socket);
	} else if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err->msg, sizeof(err->msg), "unix:%s: not a socket",
		    h->socket);
	} else if (access(h->socket, R_OK | W_OK) == -1) {
		snprintf(err->msg, sizeof(err->msg), "unix:%s: %s", h->socket,
		    strerror(errno));
		snprintf(err->hint, sizeof(err->hint), "the socket is for its"
		    " owner and group (ls -l %s): join that group, e.g. sudo"
		    " usermod -aG loopd $USER, then log in again", h->socket);
	} else {
		snprintf(err->msg, sizeof(err->msg), "unix:%s: %s", h->socket,
		    cc == CURLE_COULDNT_CONNECT ? "nobody listens there" : why);
		if (cc == CURLE_COULDNT_CONNECT)
			snprintf(err->hint, sizeof(err->hint), "is loopd"
			    " running? LOOP_URL=unix:%s", h->socket);
	}
}

/* wire_request, or with TEXT set a request whose 2xx reply is kept as
 * text in *TEXT (the caller frees it) rather than parsed. */
static int
wire_do(struct wire *h, const char *method, const char *path,
    json_t *body, double hold, json_t **reply, char **text,
    struct wire_error *err)
{
	struct wire_buf in = { NULL, 0, 0 };
	struct curl_slist *hdrs = NULL;
	char cerr[CURL_ERROR_SIZE] = "";
	char *url, *data = NULL;
	const char *cacert;
	json_error_t jerr;
	json_t *j = NULL;
	long status = 0;
	CURLcode cc;
	CURL *e;
	int rc = -1;

	if (reply != NULL)
		*reply = NULL;
	memset(err, 0, sizeof(*err));
	url = wire_xasprintf("%s%s", h->base, path);
	if ((e = curl_easy_init()) == NULL)
		errx(1, "curl_easy_init failed");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "loopctl");
	/* A daemon with its own certificate (tls_cert): trust its CA. */
	if ((cacert = getenv("LOOP_CACERT")) != NULL && *cacert != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, cacert);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)WIRE_CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	    (long)((hold + WIRE_SLACK_S) * 1000));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, wire_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &in);
	if (h->socket != NULL)
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, h->socket);
	hdrs = curl_slist_append(hdrs,
	    "Accept: application/json, application/problem+json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (h->authz != NULL)
		hdrs = curl_slist_append(hdrs, h->authz);
	if (body != NULL) {
		if ((data = json_dumps(body, JSON_COMPACT)) == NULL)
			errx(1, "json_dumps failed");
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/json");
	}
	if (body != NULL || strcmp(method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, data != NULL ? data : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE,
		    (long)(data != NULL ? strlen(data) : 0));
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);

	cc = wire_perform(h, e);
	if (cc != CURLE_OK) {
		wire_unreachable(h, cc, cerr, err);
		goto out;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (text != NULL && status >= 200 && status <= 299) {
		*text = in.data != NULL ? in.data : strdup("");
		in.data = NULL;
		rc = 0;
		goto out;
	}
	if (in.len > 0)
		j = json_loadb(in.data, in.len, JSON_DECODE_ANY, &jerr);
	if (status < 200 || status > 299) {
		err->status = status;
		wire_problem(status, j, &in, err);
		goto out;
	}
	if (j == NULL) {
		snprintf(err->msg, sizeof(err->msg),
		    "%s %s: the reply (%ld) is not JSON", method, path, status);
		goto out;
	}
	*reply = j;
	j = NULL;
	rc = 0;
out:
	json_decref(j);
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	free(in.data);
	free(data);
	free(url);
	return rc;
}

int
wire_request(struct wire *h, const char *method, const char *path,
    json_t *body, double hold, json_t **reply, struct wire_error *err)
{
	return wire_do(h, method, path, body, hold, reply, NULL, err);
}

int
wire_get_text(struct wire *h, const char *path, char **text,
    struct wire_error *err)
{
	json_t *unused = NULL;

	*text = NULL;
	return wire_do(h, "GET", path, NULL, 0, &unused, text, err);
}

/* S percent-encoded in a new string; RFC 3986 unreserved bytes are kept. */
static char *
wire_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out, *p;

	if ((out = malloc(strlen(s) * 3 + 1)) == NULL)
		err(1, "malloc");
	for (p = out; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL)
			*p++ = (char)c;
		else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

char *
wire_path(const char *prefix, const char *id, const char *suffix)
{
	char *eid = wire_escape(id), *s;

	s = wire_xasprintf("%s%s%s", prefix, eid, suffix);
	free(eid);
	return s;
}

void
wire_query(char **path, const char *key, const char *value)
{
	char *ev = wire_escape(value), *s;

	s = wire_xasprintf("%s%c%s=%s", *path,
	    strchr(*path, '?') == NULL ? '?' : '&', key, ev);
	free(ev);
	free(*path);
	*path = s;
}
