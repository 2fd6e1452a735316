/*
 * Unit tests for the webhook executor (daemon/exec/webhook) on a real event
 * loop against a tiny HTTP listener of the test's own on 127.0.0.1 (a
 * thread, one connection at a time): the request as sent (method, path,
 * headers, body), the reply as kept (status, headers, body, Retry-After),
 * the reply cap, a refused connection, a timeout, and an address the
 * network policy refuses. The loop runs in bounded turns until each
 * outcome arrives; nothing sleeps.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/exec/netpolicy.h"
#include "daemon/exec/webhook.h"
#include "daemon/util/strv.h"
#include "tests/unit/check.h"
#include "tests/unit/evbase.h"

#define MS 1000LL
#define SEC 1000000LL
#define IDS 8

/* The listener: what it answers, and the last request it read. */
enum { REPLY_OK, REPLY_BIG, REPLY_NEVER };
static struct {
	int fd, port, mode;
	pthread_mutex_t lock;
	char request[8192];
	size_t request_len;
	int stop;
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* What the hooks saw, per id. */
static struct {
	int started, done, error, refused, truncated;
	long status;
	int64_t retry_after;
	char *body, *reply_header;
} seen[IDS];
static struct event_base *base;

/* Read one request (headers, then Content-Length bytes of body). */
static size_t
read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0, want = 0;
	char *end;

	while (len < cap - 1) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);

		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");

			want = (size_t)(end + 4 - buf) +
			    (cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
			if (len >= want)
				break;
		}
	}
	buf[len] = '\0';
	return len;
}

/* The listener thread: one connection at a time, answered per srv.mode. */
static void *
serve(void *arg)
{
	static char big[5000];
	char buf[8192], head[256];

	memset(big, 'x', sizeof(big));
	for (;;) {
		int c = accept(srv.fd, NULL, NULL);
		size_t n;
		int mode;

		if (c == -1)
			return NULL;
		n = read_request(c, buf, sizeof(buf));
		pthread_mutex_lock(&srv.lock);
		memcpy(srv.request, buf, n + 1);
		srv.request_len = n;
		mode = srv.mode;
		pthread_mutex_unlock(&srv.lock);
		if (mode == REPLY_OK) {
			const char *body = "{\"ok\":true}";

			snprintf(head, sizeof(head), "HTTP/1.1 201 Created\r\n"
			    "Content-Type: application/json\r\nX-Reply: yes\r\n"
			    "Retry-After: 3\r\nContent-Length: %zu\r\n"
			    "Connection: close\r\n\r\n", strlen(body));
			if (write(c, head, strlen(head)) < 0 ||
			    write(c, body, strlen(body)) < 0)
				perror("test_webhook: write");
		} else if (mode == REPLY_BIG) {
			snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
			    "Content-Length: %zu\r\nConnection: close\r\n\r\n", sizeof(big));
			if (write(c, head, strlen(head)) < 0 ||
			    write(c, big, sizeof(big)) < 0)
				perror("test_webhook: write");
		} else {
			/* Never answer: hold the connection until the client
			 * gives up (it closes; read returns 0). */
			while (read(c, buf, sizeof(buf)) > 0)
				;
		}
		close(c);
	}
}

/* hooks.started */
static void
on_started(uint64_t id, void *arg)
{
	seen[id].started++;
}

/* hooks.done: keep what the checks need (the result is the call's only). */
static void
on_done(uint64_t id, struct webhook_result *res, void *arg)
{
	seen[id].done++;
	seen[id].error = res->error;
	seen[id].refused = res->refused;
	seen[id].status = res->status;
	seen[id].retry_after = res->retry_after;
	seen[id].truncated = res->body.truncated;
	seen[id].body = strdup(res->body.data != NULL ? res->body.data : "");
	for (size_t i = 0; i < res->n_headers; i++)
		if (strcmp(res->headers[i].name, "x-reply") == 0)
			seen[id].reply_header = strdup(res->headers[i].value);
}

/* One turn of the loop, waiting 20 ms at most. */
static void
turn(void)
{
	struct timeval tv = { 0, 20000 };

	event_base_loopexit(base, &tv);
	event_base_loop(base, EVLOOP_ONCE);
}

/* Run the loop until id is done or ms pass; whether it is done. */
static int
run_until_done(uint64_t id, int64_t ms)
{
	int64_t deadline = clock_loop_now() + ms * MS;

	while (!seen[id].done && clock_loop_now() < deadline)
		turn();
	return seen[id].done;
}

/* A spec: method to url, with headers (NULL-terminated) and body. */
static struct webhook_spec *
spec(const char *method, const char *url, const char **headers, const char *body,
    int64_t timeout)
{
	struct webhook_spec *s = calloc(1, sizeof(*s));
	size_t n = 0;

	if (s == NULL)
		exit(2);
	s->method = strdup(method);
	s->url = strdup(url);
	for (; headers != NULL && *headers != NULL; headers++)
		if (strv_push(&s->headers, &n, strdup(*headers)) == -1)
			exit(2);
	if (body != NULL) {
		s->body = strdup(body);
		s->body_len = strlen(body);
	}
	s->timeout = timeout;
	return s;
}

/* The request as sent, the reply as kept. */
static void
test_request_and_reply(void)
{
	const char *hdrs[] = { "X-Test: 1", "Content-Type: application/json", NULL };
	char url[64], req[8192];

	srv.mode = REPLY_OK;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook?q=1", srv.port);
	webhook_run(1, spec("PUT", url, hdrs, "{\"k\":[1,2]}", 5 * SEC));
	if (!CHECK(run_until_done(1, 10000)))
		return;
	CHECK_INT_EQ(seen[1].started, 1);
	CHECK_INT_EQ(seen[1].error, 0);
	CHECK_INT_EQ(seen[1].refused, 0);
	CHECK_INT_EQ(seen[1].status, 201);
	CHECK_STR_EQ(seen[1].body, "{\"ok\":true}");
	CHECK_STR_EQ(seen[1].reply_header != NULL ? seen[1].reply_header : "(none)", "yes");
	CHECK_INT_EQ(seen[1].retry_after, 3 * SEC);
	CHECK(!seen[1].truncated);
	pthread_mutex_lock(&srv.lock);
	memcpy(req, srv.request, srv.request_len + 1);
	pthread_mutex_unlock(&srv.lock);
	CHECK(strncmp(req, "PUT /hook?q=1 HTTP/1.1\r\n", 24) == 0);
	CHECK(strstr(req, "\r\nX-Test: 1\r\n") != NULL);
	CHECK(strstr(req, "\r\n\r\n{\"k\":[1,2]}") != NULL);
	CHECK_INT_EQ(webhook_running(), 0);
}

/* A reply body past max_output is cut there and said so. */
static void
test_reply_cap(void)
{
	char url[64];

	srv.mode = REPLY_BIG;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", srv.port);
	webhook_run(2, spec("GET", url, NULL, NULL, 5 * SEC));
	if (!CHECK(run_until_done(2, 10000)))
		return;
	CHECK_INT_EQ(seen[2].status, 200);
	CHECK_INT_EQ(strlen(seen[2].body), 1024);
	CHECK(seen[2].truncated);
}

/* Nobody listening: an error, no status. */
static void
test_refused_connection(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[64];

	/* A port just bound and closed: nobody listens there. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!CHECK(fd != -1 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0))
		return;
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(sa.sin_port));
	webhook_run(3, spec("POST", url, NULL, "x", 5 * SEC));
	if (!CHECK(run_until_done(3, 10000)))
		return;
	CHECK(seen[3].error != 0);
	CHECK_INT_EQ(seen[3].status, 0);
	CHECK_INT_EQ(seen[3].refused, 0);
}

/* A server that never answers: the timeout ends it. */
static void
test_timeout(void)
{
	int64_t t0 = clock_loop_now();
	char url[64];

	srv.mode = REPLY_NEVER;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", srv.port);
	webhook_run(4, spec("POST", url, NULL, "x", 300 * MS));
	if (!CHECK(run_until_done(4, 10000)))
		return;
	CHECK(seen[4].error != 0);
	CHECK_INT_EQ(seen[4].status, 0);
	CHECK(clock_loop_now() - t0 >= 300 * MS - 5 * MS);
	srv.mode = REPLY_OK;
}

/* The network policy refuses loopback: refused, never connected. */
static void
test_policy_refuses(void)
{
	char **deny = NULL, url[64];
	size_t n = 0;

	strv_push(&deny, &n, strdup("loopback"));
	if (!CHECK(netpolicy_set(NULL, deny) == 0))
		return;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", srv.port);
	webhook_run(5, spec("POST", url, NULL, "x", 5 * SEC));
	if (CHECK(run_until_done(5, 10000))) {
		CHECK(seen[5].error != 0);
		CHECK_INT_EQ(seen[5].refused, 1);
		CHECK_INT_EQ(seen[5].status, 0);
	}
	netpolicy_set(NULL, NULL);
	strv_free(deny);
}

int
main(void)
{
	struct webhook_limits lim = { 4, 0, 1024 };
	struct webhook_hooks hooks = { on_started, on_done, NULL };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	pthread_t th;

	signal(SIGPIPE, SIG_IGN);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((srv.fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(srv.fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(srv.fd, 8) == -1 ||
	    getsockname(srv.fd, (struct sockaddr *)&sa, &len) == -1)
		return 2;
	srv.port = ntohs(sa.sin_port);
	if (pthread_create(&th, NULL, serve, NULL) != 0)
		return 2;
	if ((base = evbase_new(0)) == NULL)
		return 2;
	clock_start(-1, 0);
	if (webhook_init(base, &lim, &hooks) == -1)
		return 2;
	test_request_and_reply();
	test_reply_cap();
	test_refused_connection();
	test_timeout();
	test_policy_refuses();
	webhook_shutdown();
	netpolicy_free();
	event_base_free(base);
	for (int i = 0; i < IDS; i++) {
		free(seen[i].body);
		free(seen[i].reply_header);
	}
	/* The listener thread is left blocked in accept: the process ends. */
	return check_summary();
}
