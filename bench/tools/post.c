/*
 * post: send COUNT requests over CONNS keep-alive connections, one in flight
 * per connection, and count the replies by status.
 *
 *   post --port P --count N [--conns K] [--path /v1/calls] [--method POST]
 *        [--body TEMPLATE] [--base B --step S] [--expect 201]
 *        [--host H] [--token-file F] [--timeout S]
 *
 * In TEMPLATE, {i} is the request's number (0..N-1) and {at} is B + i*S
 * printed with 6 decimals (a loop time for "at"); in TEMPLATE and the path,
 * {fid} is the future id f_ + 16 hex digits of FID_BASE + i (--fid-base). Prints one JSON line:
 * count, ok (replies with the expected status), statuses, errors
 * (connections lost mid-request), elapsed_s, rate (replies/s) and
 * latency_ms (send to reply, per request). Exit 1 if any reply was not
 * the expected status.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/bc.h"

struct conn {
	int fd;
	int busy;
	double t_sent;
	struct bc_resp resp;
};

static const char *host = "127.0.0.1";
static char host_port[64];
static int port;
static char *token;
static const char *tmpl = "";
static double base, step;
static unsigned long long fid_base;

/* Template t for request i. */
static char *
expand(const char *t, long i)
{
	size_t cap = strlen(t) + 64, len = 0;
	char *out = malloc(cap);
	const char *p = t;

	if (out == NULL)
		bc_die("post: out of memory");
	while (*p != '\0') {
		char num[48];
		const char *add = NULL;
		size_t skip = 1;
		if (strncmp(p, "{at}", 4) == 0) {
			snprintf(num, sizeof(num), "%.6f", base + (double)i * step);
			add = num;
			skip = 4;
		} else if (strncmp(p, "{fid}", 5) == 0) {
			snprintf(num, sizeof(num), "f_%016llx", fid_base + (unsigned long long)i);
			add = num;
			skip = 5;
		} else if (strncmp(p, "{i}", 3) == 0) {
			snprintf(num, sizeof(num), "%ld", i);
			add = num;
			skip = 3;
		}
		size_t alen = add ? strlen(add) : 1;
		if (len + alen + 1 > cap) {
			cap = (len + alen + 1) * 2;
			if ((out = realloc(out, cap)) == NULL)
				bc_die("post: out of memory");
		}
		if (add != NULL)
			memcpy(out + len, add, alen);
		else
			out[len] = *p;
		len += alen;
		p += skip;
	}
	out[len] = '\0';
	return out;
}

int
main(int argc, char **argv)
{
	const char *path = "/v1/calls", *method = "POST", *token_file = NULL;
	long count = 0, conns = 16, next = 0, replied = 0, ok = 0, errors = 0;
	int expect = 201, ep;
	double timeout = 3600, t_start, t_end;
	long statuses[600] = { 0 };
	struct conn *cs;
	double *lat;
	struct epoll_event evs[256];

	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			bc_die("post: %s needs a value", a);
		if (strcmp(a, "--port") == 0)
			port = atoi(v);
		else if (strcmp(a, "--host") == 0)
			host = v;
		else if (strcmp(a, "--count") == 0)
			count = atol(v);
		else if (strcmp(a, "--conns") == 0)
			conns = atol(v);
		else if (strcmp(a, "--fid-base") == 0)
			fid_base = strtoull(v, NULL, 10);
		else if (strcmp(a, "--path") == 0)
			path = v;
		else if (strcmp(a, "--method") == 0)
			method = v;
		else if (strcmp(a, "--body") == 0)
			tmpl = v;
		else if (strcmp(a, "--base") == 0)
			base = atof(v);
		else if (strcmp(a, "--step") == 0)
			step = atof(v);
		else if (strcmp(a, "--expect") == 0)
			expect = atoi(v);
		else if (strcmp(a, "--token-file") == 0)
			token_file = v;
		else if (strcmp(a, "--timeout") == 0)
			timeout = atof(v);
		else
			bc_die("post: unknown option %s", a);
	}
	if (port <= 0 || count <= 0 || conns <= 0)
		bc_die("usage: post --port P --count N [--conns K] [--path P] [--body T] ...");
	if (conns > count)
		conns = count;
	snprintf(host_port, sizeof(host_port), "%s:%d", host, port);
	if (token_file != NULL && (token = bc_read_token(token_file)) == NULL)
		bc_die("post: cannot read %s", token_file);
	bc_raise_nofile((unsigned long)conns + 64);
	cs = calloc((size_t)conns, sizeof(*cs));
	lat = calloc((size_t)count, sizeof(*lat));
	if (cs == NULL || lat == NULL || (ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		bc_die("post: out of memory");

	t_start = bc_now();
	for (long c = 0; c < conns; c++) {
		if ((cs[c].fd = bc_connect_wait(host, port, 10)) == -1)
			bc_die("post: cannot connect to %s", host_port);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)c };
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[c].fd, &ev);
	}
	while (replied + errors < count) {
		/* Give every idle connection its next request. */
		for (long c = 0; c < conns && next < count; c++) {
			struct conn *k = &cs[c];
			if (k->busy)
				continue;
			if (k->fd == -1) {
				if ((k->fd = bc_connect_wait(host, port, 10)) == -1)
					bc_die("post: cannot reconnect to %s", host_port);
				struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
					.data.u64 = (uint64_t)c };
				epoll_ctl(ep, EPOLL_CTL_ADD, k->fd, &ev);
			}
			char *body = expand(tmpl, next), *rpath = expand(path, next);
			size_t len;
			char *req = bc_request(method, rpath, host_port, token,
			    strcmp(method, "GET") == 0 ? NULL : body, &len);
			bc_resp_reset(&k->resp);
			k->t_sent = bc_now();
			if (bc_write_all(k->fd, req, len, 10) == -1)
				bc_die("post: write failed");
			k->busy = 1;
			next++;
			free(req);
			free(body);
			free(rpath);
		}
		int n = epoll_wait(ep, evs, 256, 1000);
		if (bc_now() - t_start > timeout)
			bc_die("post: timed out after %ld of %ld replies", replied, count);
		for (int i = 0; i < n; i++) {
			struct conn *k = &cs[evs[i].data.u64];
			char buf[16384];
			ssize_t m;
			int done = 0;
			if (k->fd == -1)
				continue;
			while (!done && (m = recv(k->fd, buf, sizeof(buf), 0)) > 0) {
				int e = bc_resp_feed(&k->resp, buf, (size_t)m);
				if (e == -1)
					bc_die("post: unparsable reply");
				if (e == 1)
					done = 1;
			}
			if (done) {
				int st = k->resp.status;
				lat[replied++] = (bc_now() - k->t_sent) * 1e3;
				statuses[st >= 0 && st < 600 ? st : 0]++;
				if (st == expect)
					ok++;
				k->busy = 0;
				if (!k->resp.keep_alive) {
					close(k->fd);
					k->fd = -1;
				}
				continue;
			}
			if (m == 0 || (errno != EAGAIN && errno != EINTR)) {
				if (k->busy)
					errors++;
				k->busy = 0;
				close(k->fd);
				k->fd = -1;
			}
		}
	}
	t_end = bc_now();
	bc_sort(lat, (size_t)replied);
	printf("{\"count\":%ld,\"ok\":%ld,\"errors\":%ld,\"statuses\":{", count, ok, errors);
	for (int s = 0, first = 1; s < 600; s++)
		if (statuses[s] > 0) {
			printf("%s\"%d\":%ld", first ? "" : ",", s, statuses[s]);
			first = 0;
		}
	printf("},\"elapsed_s\":%.4f,\"rate\":%.1f,\"latency_ms\":{\"p50\":", t_end - t_start,
	    (double)replied / (t_end - t_start));
	bc_jnum(bc_pct(lat, (size_t)replied, 0.5), 3);
	printf(",\"p99\":");
	bc_jnum(bc_pct(lat, (size_t)replied, 0.99), 3);
	printf(",\"max\":");
	bc_jnum(replied ? lat[replied - 1] : NAN, 3);
	printf("}}\n");
	fflush(stdout);
	for (long c = 0; c < conns; c++) {
		if (cs[c].fd != -1)
			close(cs[c].fd);
		bc_resp_free(&cs[c].resp);
	}
	free(cs);
	free(lat);
	free(token);
	close(ep);
	return ok == count ? 0 : 1;
}
