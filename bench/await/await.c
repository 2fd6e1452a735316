/*
 * await: wake latency of N long-polls on one future.
 *
 *   await --port P --pid LOOPD_PID --waiters N [--host H] [--token-file F]
 *         [--wait S] [--timeout S] [--connecting K] [--timers T]
 *
 * Creates a future, opens N keep-alive connections (at most K connecting at
 * once), each sending GET /v1/futures/ID?wait=S, waits until loopd's
 * /metrics says loopd_waiters >= N, reads loopd's VmRSS, then sends
 * POST /v1/futures/ID/result on a separate connection. t_send is when that
 * POST was written, t0 when its reply was read. Every waiter's reply time
 * is taken when its reply is complete; the figures are reply - t0 and
 * reply - t_send, in ms. One epoll loop, no threads. Prints one JSON line.
 *
 * With --timers T (issue 18), just before the result is set, T futures
 * are created at once (one connection each) with timeouts spread from
 * TIMER_LEAD to TIMER_LEAD + TIMER_SPAN s: loopd's timers falling due
 * while it wakes the waiters. Each one's lateness is its `finished` minus
 * its `timeout_at` (loopd's own loop times); the figures are those of the
 * timers due between the POST and the last waiter's reply, and each
 * lateness is printed too (timer_late_all_ms) for pooling across runs.
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

#define TIMER_LEAD 0.02
#define TIMER_SPAN 0.5

/* The number after "key": in a JSON text, or NAN. */
static double
json_num(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((p = strstr(json, pat)) == NULL)
		return NAN;
	return strtod(p + strlen(pat), NULL);
}

enum { W_IDLE, W_CONNECTING, W_SENT, W_DONE, W_FAILED };

struct waiter {
	int fd;
	int state;
	double t_reply;
	struct bc_resp resp;
};

static const char *host = "127.0.0.1";
static char host_port[64];
static int port;
static char *token;

static void
usage(void)
{
	bc_die("usage: await --port P --pid PID --waiters N [--host H] [--token-file F] "
	    "[--wait S] [--timeout S] [--connecting K] [--timers T]");
}

/* One request on the control connection; dies on failure. */
static void
ctl(int fd, const char *method, const char *path, const char *body, struct bc_resp *r)
{
	size_t len;
	char *req = bc_request(method, path, host_port, token, body, &len);

	if (bc_roundtrip(fd, req, len, r, 30) == -1)
		bc_die("await: %s %s: no reply", method, path);
	free(req);
}

static double
metric_now(int fd, const char *name)
{
	struct bc_resp r = { 0 };
	double v;

	ctl(fd, "GET", "/metrics", NULL, &r);
	if (r.status != 200)
		bc_die("await: GET /metrics: %d", r.status);
	v = bc_metric(bc_resp_body(&r), name);
	bc_resp_free(&r);
	return v;
}

/* Read what fd has for w. Returns 1 when w's reply is complete. */
static int
waiter_read(struct waiter *w)
{
	char buf[4096];

	for (;;) {
		ssize_t n = recv(w->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			int e = bc_resp_feed(&w->resp, buf, (size_t)n);
			if (e == 1) {
				w->t_reply = bc_now();
				w->state = W_DONE;
				return 1;
			}
			if (e == -1) {
				w->state = W_FAILED;
				return 1;
			}
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		w->state = W_FAILED;	/* closed or error before a whole reply */
		return 1;
	}
}

static void
print_stats(const char *name, double *v, size_t n)
{
	bc_sort(v, n);
	printf("\"%s\":{\"min\":", name);
	bc_jnum(n ? v[0] : NAN, 4);
	printf(",\"p50\":");
	bc_jnum(bc_pct(v, n, 0.5), 4);
	printf(",\"p90\":");
	bc_jnum(bc_pct(v, n, 0.9), 4);
	printf(",\"p99\":");
	bc_jnum(bc_pct(v, n, 0.99), 4);
	printf(",\"max\":");
	bc_jnum(n ? v[n - 1] : NAN, 4);
	printf("}");
}

int
main(int argc, char **argv)
{
	const char *token_file = NULL;
	long n = 0, pid = 0, connecting_max = 256, n_timers = 0;
	int *tfd = NULL;
	double *tdue = NULL, loop_off = NAN;
	char (*tid)[64] = NULL;
	double wait_s = 60, timeout = 120;
	struct waiter *ws;
	struct epoll_event evs[1024];
	struct bc_resp r = { 0 };
	char fid[64], path[128];
	size_t greq_len, preq_len;
	char *greq, *preq;
	long opened = 0, connecting = 0, sent = 0, done = 0, failed = 0, early = 0;
	double t_start, t_held, t_send, t0 = NAN, until, waiters_seen;
	long rss_before, rss_held, rss_timers = 0;
	int ep, cfd;

	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			usage();
		if (strcmp(a, "--port") == 0)
			port = atoi(v);
		else if (strcmp(a, "--host") == 0)
			host = v;
		else if (strcmp(a, "--pid") == 0)
			pid = atol(v);
		else if (strcmp(a, "--waiters") == 0)
			n = atol(v);
		else if (strcmp(a, "--token-file") == 0)
			token_file = v;
		else if (strcmp(a, "--wait") == 0)
			wait_s = atof(v);
		else if (strcmp(a, "--timeout") == 0)
			timeout = atof(v);
		else if (strcmp(a, "--connecting") == 0)
			connecting_max = atol(v);
		else if (strcmp(a, "--timers") == 0)
			n_timers = atol(v);
		else
			usage();
	}
	if (port <= 0 || n <= 0 || pid <= 0 || connecting_max <= 0)
		usage();
	snprintf(host_port, sizeof(host_port), "%s:%d", host, port);
	if (token_file != NULL && (token = bc_read_token(token_file)) == NULL)
		bc_die("await: cannot read %s", token_file);
	bc_raise_nofile((unsigned long)n + 64);
	if ((ws = calloc((size_t)n, sizeof(*ws))) == NULL)
		bc_die("await: out of memory");

	if ((cfd = bc_connect_wait(host, port, 5)) == -1)
		bc_die("await: cannot connect to %s", host_port);
	ctl(cfd, "POST", "/v1/futures", "{\"name\":\"bench-await\"}", &r);
	if (r.status != 201 || bc_json_str(bc_resp_body(&r), "id", fid, sizeof(fid)) == -1)
		bc_die("await: POST /v1/futures: %d %s", r.status, bc_resp_body(&r));
	snprintf(path, sizeof(path), "/v1/futures/%s?wait=%g", fid, wait_s);
	greq = bc_request("GET", path, host_port, token, NULL, &greq_len);
	snprintf(path, sizeof(path), "/v1/futures/%s/result", fid);
	preq = bc_request("POST", path, host_port, token, "{\"result\":42}", &preq_len);
	rss_before = bc_rss_kb((pid_t)pid);

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		bc_die("await: epoll_create1: %s", strerror(errno));
	/* Open the waiters, at most connecting_max in flight at once. */
	t_start = bc_now();
	until = t_start + timeout;
	while (sent + failed < n) {
		while (opened < n && connecting < connecting_max) {
			struct waiter *w = &ws[opened];
			struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = (uint64_t)opened };
			if ((w->fd = bc_connect(host, port)) == -1)
				bc_die("await: connect #%ld: %s", opened, strerror(errno));
			if (epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev) == -1)
				bc_die("await: epoll_ctl: %s", strerror(errno));
			w->state = W_CONNECTING;
			bc_resp_reset(&w->resp);
			opened++;
			connecting++;
		}
		int k = epoll_wait(ep, evs, 1024, 100);
		if (bc_now() > until)
			bc_die("await: timed out opening waiters (%ld of %ld sent)", sent, n);
		for (int i = 0; i < k; i++) {
			struct waiter *w = &ws[evs[i].data.u64];
			if (w->state == W_CONNECTING) {
				int err = 0;
				socklen_t el = sizeof(err);
				connecting--;
				getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err != 0 || bc_write_all(w->fd, greq, greq_len, 5) == -1) {
					w->state = W_FAILED;
					failed++;
					continue;
				}
				struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
					.data.u64 = evs[i].data.u64 };
				epoll_ctl(ep, EPOLL_CTL_MOD, w->fd, &ev);
				w->state = W_SENT;
				sent++;
			} else if (w->state == W_SENT && waiter_read(w)) {
				early++;	/* answered before the future was set */
				epoll_ctl(ep, EPOLL_CTL_DEL, w->fd, NULL);
			}
		}
	}
	if (failed > 0)
		bc_die("await: %ld of %ld waiters could not connect or send", failed, n);
	/* Wait until loopd holds them all. */
	for (;;) {
		waiters_seen = metric_now(cfd, "loopd_waiters");
		if (waiters_seen >= (double)(n - early) || early > 0)
			break;
		if (bc_now() > until)
			bc_die("await: loopd holds %.0f of %ld waiters", waiters_seen, n);
		int k = epoll_wait(ep, evs, 1024, 10);
		for (int i = 0; i < k; i++) {
			struct waiter *w = &ws[evs[i].data.u64];
			if (w->state == W_SENT && waiter_read(w)) {
				early++;
				epoll_ctl(ep, EPOLL_CTL_DEL, w->fd, NULL);
			}
		}
	}
	if (early > 0) {
		struct waiter *w = NULL;
		for (long i = 0; i < n && w == NULL; i++)
			if (ws[i].state == W_DONE || ws[i].state == W_FAILED)
				w = &ws[i];
		bc_die("await: %ld waiters answered before the future was set (first: %d %s)",
		    early, w ? w->resp.status : 0, w ? bc_resp_body(&w->resp) : "");
	}
	t_held = bc_now();
	rss_held = bc_rss_kb((pid_t)pid);

	if (n_timers > 0) {
		/* loop time - our clock, from the middle of a GET /v1/time. */
		double a = bc_now(), lt;
		ctl(cfd, "GET", "/v1/time", NULL, &r);
		lt = json_num(bc_resp_body(&r), "loop_time");
		loop_off = lt - (a + bc_now()) / 2;
		if ((tfd = calloc((size_t)n_timers, sizeof(int))) == NULL ||
		    (tdue = calloc((size_t)n_timers, sizeof(double))) == NULL ||
		    (tid = calloc((size_t)n_timers, sizeof(*tid))) == NULL)
			bc_die("await: out of memory");
		for (long i = 0; i < n_timers; i++) {
			char body[96];
			size_t len;
			char *req;
			snprintf(body, sizeof(body), "{\"name\":\"bench-timer\",\"timeout\":%.4f}",
			    TIMER_LEAD + TIMER_SPAN * (double)i / (double)n_timers);
			req = bc_request("POST", "/v1/futures", host_port, token, body, &len);
			if ((tfd[i] = bc_connect_wait(host, port, 5)) == -1 ||
			    bc_write_all(tfd[i], req, len, 5) == -1)
				bc_die("await: cannot create timer %ld", i);
			free(req);
		}
		for (long i = 0; i < n_timers; i++) {
			if (bc_roundtrip(tfd[i], "", 0, &r, 30) == -1 || r.status != 201)
				bc_die("await: timer %ld: %d %s", i, r.status, bc_resp_body(&r));
			tdue[i] = json_num(bc_resp_body(&r), "timeout_at");
			if (bc_json_str(bc_resp_body(&r), "id", tid[i], sizeof(tid[i])) == -1)
				bc_die("await: timer %ld: no id", i);
		}
		/* What the timers' futures and connections took, so that the
		 * RSS per connection after its reply leaves them out. */
		rss_timers = bc_rss_kb((pid_t)pid) - rss_held;
	}

	/* Set the result and time every reply. */
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
		bc_resp_reset(&r);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev) == -1)
			bc_die("await: epoll_ctl: %s", strerror(errno));
	}
	t_send = bc_now();
	if (bc_write_all(cfd, preq, preq_len, 5) == -1)
		bc_die("await: cannot send the result");
	until = t_send + timeout;
	while (done + failed < n || isnan(t0)) {
		int k = epoll_wait(ep, evs, 1024, 100);
		if (bc_now() > until)
			bc_die("await: timed out: %ld of %ld replies", done, n);
		for (int i = 0; i < k; i++) {
			if (evs[i].data.u64 == UINT64_MAX) {
				char buf[4096];
				ssize_t m;
				while ((m = recv(cfd, buf, sizeof(buf), 0)) > 0) {
					int e = bc_resp_feed(&r, buf, (size_t)m);
					if (e == 1)
						t0 = bc_now();
					else if (e == -1)
						bc_die("await: bad reply to the result POST");
				}
				if (m == 0)
					bc_die("await: loopd closed the control connection");
				continue;
			}
			struct waiter *w = &ws[evs[i].data.u64];
			if (w->state == W_SENT && waiter_read(w)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, w->fd, NULL);
				if (w->state == W_DONE)
					done++;
				else
					failed++;
			}
		}
	}
	if (r.status != 200)
		bc_die("await: POST result: %d %s", r.status, bc_resp_body(&r));
	double t_last = t0;
	for (long i = 0; i < n; i++)
		if (ws[i].state == W_DONE && ws[i].t_reply > t_last)
			t_last = ws[i].t_reply;
	/* The timers: how late each one that fell due during the wake fired
	 * (finished - timeout_at, loopd's own times), through its own
	 * connection once it has fired. */
	double *late = calloc((size_t)n_timers + 1, sizeof(double));
	size_t n_late = 0;
	if (late == NULL)
		bc_die("await: out of memory");
	for (long i = 0; i < n_timers; i++) {
		double due_mono = tdue[i] - loop_off, fin = NAN, until2 = bc_now() + 10;
		while (isnan(fin)) {
			char tpath[128];
			size_t len;
			char *req;
			snprintf(tpath, sizeof(tpath), "/v1/futures/%s", tid[i]);
			req = bc_request("GET", tpath, host_port, token, NULL, &len);
			if (bc_roundtrip(tfd[i], req, len, &r, 30) == -1 || r.status != 200)
				bc_die("await: GET timer %s: %d", tid[i], r.status);
			free(req);
			fin = json_num(bc_resp_body(&r), "finished");
			if (isnan(fin)) {
				if (bc_now() > until2)
					bc_die("await: timer %s never fired", tid[i]);
				usleep(20000);
			}
		}
		close(tfd[i]);
		if (due_mono >= t_send && due_mono <= t_last)
			late[n_late++] = (fin - tdue[i]) * 1e3;
	}
	/* What the keep-alive connections cost once they have served a
	 * reply (they are still open). */
	long rss_after = bc_rss_kb((pid_t)pid);

	/* Every reply must be the finished future. */
	long bad = 0;
	int bad_status = 0;
	double *rel0 = calloc((size_t)n, sizeof(double)), *rels = calloc((size_t)n, sizeof(double));
	size_t m = 0;
	if (rel0 == NULL || rels == NULL)
		bc_die("await: out of memory");
	for (long i = 0; i < n; i++) {
		struct waiter *w = &ws[i];
		if (w->state != W_DONE || w->resp.status != 200 ||
		    strstr(bc_resp_body(&w->resp), "\"state\":\"finished\"") == NULL) {
			if (bad++ == 0)
				bad_status = w->resp.status;
			continue;
		}
		rel0[m] = (w->t_reply - t0) * 1e3;
		rels[m] = (w->t_reply - t_send) * 1e3;
		m++;
	}
	printf("{\"waiters\":%ld,\"ok\":%zu,\"bad\":%ld,\"bad_status\":%d,\"future\":\"%s\","
	    "\"open_s\":%.4f,\"post_rtt_ms\":%.4f,", n, m, bad, bad_status, fid,
	    t_held - t_start, (t0 - t_send) * 1e3);
	printf("\"rss_before_kb\":%ld,\"rss_held_kb\":%ld,\"rss_per_waiter_bytes\":",
	    rss_before, rss_held);
	bc_jnum(rss_before > 0 && rss_held > 0 ?
	    (double)(rss_held - rss_before) * 1024.0 / (double)n : NAN, 1);
	printf(",\"rss_after_kb\":%ld,\"rss_timers_kb\":%ld,\"rss_after_per_conn_bytes\":",
	    rss_after, rss_timers);
	bc_jnum(rss_before > 0 && rss_after > 0 ?
	    (double)(rss_after - rss_before - rss_timers) * 1024.0 / (double)n : NAN, 1);
	printf(",\"t_send_mono\":%.6f,", t_send);
	print_stats("after_reply_ms", rel0, m);
	putchar(',');
	print_stats("after_send_ms", rels, m);
	printf(",\"last_reply_after_send_ms\":%.4f,\"timers\":%ld,\"timers_during_wake\":%zu,",
	    (t_last - t_send) * 1e3, n_timers, n_late);
	print_stats("timer_late_ms", late, n_late);
	/* Each one (sorted), so that a runner can pool several runs. */
	printf(",\"timer_late_all_ms\":[");
	for (size_t i = 0; i < n_late; i++) {
		if (i > 0)
			putchar(',');
		bc_jnum(late[i], 4);
	}
	printf("]}\n");
	fflush(stdout);

	for (long i = 0; i < n; i++) {
		if (ws[i].fd > 0)
			bc_close_rst(ws[i].fd);
		bc_resp_free(&ws[i].resp);
	}
	close(cfd);
	close(ep);
	bc_resp_free(&r);
	free(ws);
	free(rel0);
	free(rels);
	free(late);
	free(tfd);
	free(tdue);
	free(tid);
	free(greq);
	free(preq);
	free(token);
	return bad > 0 ? 1 : 0;
}
