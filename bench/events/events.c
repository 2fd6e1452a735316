/*
 * events: hold STREAMS open GET /v1/events streams while posting calls,
 * and measure how long after each change its event reaches the streams.
 *
 *   events --port P --token-file F [--streams N] [--rate R] [--seconds S]
 *          [--conns K] [--body JSON]
 *
 * The poster keeps K keep-alive connections, one request in flight on
 * each, and sends BODY (default: a `soon` command `true`, which starts and
 * finishes) R times a second (0: as fast as replies come back) for S
 * seconds. Every event line `data: {...,"t":T,...}` carries the wall time
 * of the change (before its commit): its delay is the time it is read
 * minus T. Prints one JSON line: posted, ok (201), rate (replies/s),
 * post_ms {p50, p99}, events (read, all streams), event_ms {p50, p99,
 * max}, and the events expected (3 per call and stream for the default
 * body) for checking that none went missing.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/bc.h"

#define MAX_SAMPLES 4000000

struct poster {
	int fd;
	int busy;
	double t_sent;
	struct bc_resp resp;
};

struct stream {
	int fd;
	char carry[4096];		/* a line cut by a read (or a chunk) */
	size_t clen;
	int header_done;
	int chunked;			/* Transfer-Encoding: chunked */
	long chunk_left;		/* data bytes left in this chunk; -1: its size line */
	int skip;			/* the CRLF after a chunk's data */
	long size;			/* the size line, as read so far */
};

static double *ev_lat;
static size_t n_ev_lat, n_events;

/* Unix time now, in seconds. */
static double
unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One complete line of a stream (chunk-size lines and comments pass). */
static void
stream_line(const char *line, size_t n, double now)
{
	const char *t;

	if (n < 6 || strncmp(line, "data: ", 6) != 0)
		return;
	n_events++;
	if ((t = memmem(line, n, "\"t\":", 4)) != NULL && n_ev_lat < MAX_SAMPLES)
		ev_lat[n_ev_lat++] = (now - strtod(t + 4, NULL)) * 1e3;
}

/* Body bytes of a stream: split into lines, keep the cut one. */
static void
stream_lines(struct stream *s, const char *p, size_t n, double now)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			stream_line(s->carry, s->clen, now);
			s->clen = 0;
		} else if (s->clen < sizeof(s->carry))
			s->carry[s->clen++] = p[i];
	}
}

/* Bytes read from a stream (chunked): the chunks' data to stream_lines,
 * so a line cut by a chunk boundary is read whole. */
static void
stream_feed(struct stream *s, const char *p, size_t n, double now)
{
	if (!s->chunked) {
		stream_lines(s, p, n, now);
		return;
	}
	while (n > 0) {
		if (s->skip > 0) {
			s->skip--;
			p++, n--;
		} else if (s->chunk_left < 0) {
			char c = *p++;
			n--;
			if (c == '\n') {
				s->chunk_left = s->size;
				s->size = 0;
			} else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			    (c >= 'A' && c <= 'F'))
				s->size = s->size * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
		} else {
			size_t k = (size_t)s->chunk_left < n ? (size_t)s->chunk_left : n;
			stream_lines(s, p, k, now);
			p += k, n -= k;
			if ((s->chunk_left -= (long)k) == 0) {
				s->chunk_left = -1;
				s->skip = 2;	/* CRLF */
			}
		}
	}
}

/* Print the quantiles of v (n values, sorted here) as a JSON object. */
static void
quantiles(double *v, size_t n)
{
	bc_sort(v, n);
	printf("{\"p50\":");
	bc_jnum(n ? bc_pct(v, n, 0.5) : -1, 3);
	printf(",\"p99\":");
	bc_jnum(n ? bc_pct(v, n, 0.99) : -1, 3);
	printf(",\"max\":");
	bc_jnum(n ? v[n - 1] : -1, 3);
	printf("}");
}

int
main(int argc, char **argv)
{
	const char *token_file = NULL, *body = "{\"soon\":true,\"command\":{\"argv\":[\"true\"]}}";
	long n_streams = 100, conns = 8, posted = 0, replied = 0, ok = 0;
	double rate = 1000, seconds = 10, t0, now, *post_lat;
	size_t n_post_lat = 0, cap_post;
	int port = 0, ep;
	char host_port[64], *token, *req;
	size_t req_len;
	struct poster *ps;
	struct stream *ss;
	struct epoll_event evs[512];

	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			bc_die("events: %s needs a value", a);
		if (strcmp(a, "--port") == 0)
			port = atoi(v);
		else if (strcmp(a, "--token-file") == 0)
			token_file = v;
		else if (strcmp(a, "--streams") == 0)
			n_streams = atol(v);
		else if (strcmp(a, "--rate") == 0)
			rate = atof(v);
		else if (strcmp(a, "--seconds") == 0)
			seconds = atof(v);
		else if (strcmp(a, "--conns") == 0)
			conns = atol(v);
		else if (strcmp(a, "--body") == 0)
			body = v;
		else
			bc_die("events: unknown option %s", a);
	}
	if (port <= 0 || token_file == NULL || conns <= 0 || n_streams < 0)
		bc_die("usage: events --port P --token-file F [--streams N] [--rate R] ...");
	if ((token = bc_read_token(token_file)) == NULL)
		bc_die("events: cannot read %s", token_file);
	snprintf(host_port, sizeof(host_port), "127.0.0.1:%d", port);
	bc_raise_nofile((unsigned long)(n_streams + conns + 64));
	cap_post = (size_t)((rate > 0 ? rate : 50000) * seconds * 1.2) + 1024;
	ps = calloc((size_t)conns, sizeof(*ps));
	ss = calloc((size_t)n_streams + 1, sizeof(*ss));
	post_lat = calloc(cap_post, sizeof(*post_lat));
	ev_lat = calloc(MAX_SAMPLES, sizeof(*ev_lat));
	if (ps == NULL || ss == NULL || post_lat == NULL || ev_lat == NULL ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		bc_die("events: out of memory");

	/* The streams first; each must answer 200 before posting starts. */
	req = bc_request("GET", "/v1/events", host_port, token, NULL, &req_len);
	for (long i = 0; i < n_streams; i++) {
		char buf[4096], *rest;
		ssize_t m;
		double until = bc_now() + 10;
		if ((ss[i].fd = bc_connect_wait("127.0.0.1", port, 10)) == -1 ||
		    bc_write_all(ss[i].fd, req, req_len, 10) == -1)
			bc_die("events: cannot open stream %ld", i);
		/* Read up to the end of the headers (and whatever follows). */
		while (!ss[i].header_done && bc_now() < until) {
			m = recv(ss[i].fd, buf, sizeof(buf) - 1, 0);
			if (m == 0)
				bc_die("events: stream %ld closed (max_event_streams?)", i);
			if (m < 0) {
				usleep(1000);
				continue;
			}
			buf[m] = '\0';
			if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
				bc_die("events: stream %ld refused: %.60s", i, buf);
			ss[i].header_done = 1;
			ss[i].chunk_left = -1;
			ss[i].chunked = strcasestr(buf, "\r\nTransfer-Encoding: chunked") != NULL;
			if ((rest = strstr(buf, "\r\n\r\n")) != NULL)
				stream_feed(&ss[i], rest + 4, (size_t)(buf + m - rest - 4), unix_now());
		}
		if (!ss[i].header_done)
			bc_die("events: stream %ld: no reply", i);
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)(conns + i) };
		epoll_ctl(ep, EPOLL_CTL_ADD, ss[i].fd, &ev);
	}
	free(req);
	for (long c = 0; c < conns; c++) {
		if ((ps[c].fd = bc_connect_wait("127.0.0.1", port, 10)) == -1)
			bc_die("events: cannot connect");
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)c };
		epoll_ctl(ep, EPOLL_CTL_ADD, ps[c].fd, &ev);
	}
	req = bc_request("POST", "/v1/calls", host_port, token, body, &req_len);

	t0 = bc_now();
	for (;;) {
		now = bc_now();
		int posting = now - t0 < seconds;
		/* Paced: as many requests as the rate allows by now. */
		for (long c = 0; posting && c < conns; c++) {
			if (ps[c].busy || (rate > 0 && (double)posted >= rate * (now - t0)))
				continue;
			bc_resp_reset(&ps[c].resp);
			ps[c].t_sent = now;
			if (bc_write_all(ps[c].fd, req, req_len, 10) == -1)
				bc_die("events: write failed");
			ps[c].busy = 1;
			posted++;
		}
		if (!posting && replied == posted && now - t0 > seconds + 2)
			break;		/* 2 s for the last events to arrive */
		int n = epoll_wait(ep, evs, 512, 1);
		for (int i = 0; i < n; i++) {
			uint64_t k = evs[i].data.u64;
			char buf[65536];
			ssize_t m;
			if (k >= (uint64_t)conns) {
				struct stream *s = &ss[k - (uint64_t)conns];
				while ((m = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
					stream_feed(s, buf, (size_t)m, unix_now());
				if (m == 0)
					bc_die("events: a stream ended");
				continue;
			}
			struct poster *p = &ps[k];
			int done = 0;
			while (!done && (m = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
				int e = bc_resp_feed(&p->resp, buf, (size_t)m);
				if (e == -1)
					bc_die("events: unparsable reply");
				done = e == 1;
			}
			if (done) {
				if (n_post_lat < cap_post)
					post_lat[n_post_lat++] = (bc_now() - p->t_sent) * 1e3;
				replied++;
				ok += p->resp.status == 201;
				p->busy = 0;
			} else if (m == 0)
				bc_die("events: the server closed a connection");
		}
	}
	printf("{\"streams\":%ld,\"posted\":%ld,\"ok\":%ld,\"rate\":", n_streams, posted, ok);
	bc_jnum((double)replied / seconds, 1);
	printf(",\"post_ms\":");
	quantiles(post_lat, n_post_lat);
	printf(",\"events\":%zu,\"event_ms\":", n_events);
	quantiles(ev_lat, n_ev_lat);
	printf("}\n");
	return 0;
}
