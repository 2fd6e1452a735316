/*
 * slowloris: a well-behaved client's GET /v1/time latency while CONNS
 * slow-header connections are held against loopd.
 *
 *   slowloris --port P [--host H] [--token-file F] [--conns 2000]
 *             [--sources 40] [--interval 1] [--burst 200] [--warmup 5]
 *             [--count 500] [--gap 0.01] [--timeout 5]
 *
 * The slow connections come from 127.0.0.2 .. 127.0.0.(SOURCES+1), spread
 * evenly; each sends a request line, then one header byte every INTERVAL
 * seconds, and is opened again (at most BURST a round) when loopd closes
 * it, as an attacker would. After WARMUP seconds, the good client (from
 * 127.0.0.1) sends COUNT requests, each on a new connection, one at a
 * time, GAP seconds apart; a request counts from connect() to the last
 * byte of the reply. A 503 is a failure here (no retry). One JSON line:
 * p50/p99/max in ms, ok, non-200 statuses, no-reply failures, how many
 * slow connections were open at the start and end of the measurement and
 * how many times they were opened again.
 */
#include <sys/epoll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/bc.h"

struct slow {
	int fd;			/* -1: to open again */
};

static struct {
	const char *host;
	int port;
	char *token;
	int conns, sources, burst, count;
	double interval, warmup, gap, timeout;
	int ep;
	struct slow *slow;
	long reopened, open_now;
} o = { "127.0.0.1", 0, NULL, 2000, 40, 200, 500, 1.0, 5.0, 0.01, 5.0, -1, NULL, 0, 0 };

/* Open slow connection i from its source address; send the request line. */
static void
slow_open(int i)
{
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i };
	static const char line[] = "GET /v1/time HTTP/1.1\r\nHost: x\r\n";
	int fd;

	src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i % o.sources));
	dst.sin_port = htons((unsigned short)o.port);
	inet_pton(AF_INET, o.host, &dst.sin_addr);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1 ||
	    (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == -1 && errno != EINPROGRESS) ||
	    epoll_ctl(o.ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		close(fd);
		return;
	}
	/* Loopback connects complete at once; if not, the line goes later. */
	(void)!write(fd, line, sizeof(line) - 1);
	o.slow[i].fd = fd;
	o.open_now++;
}

/* Slow connection i was closed by loopd (or failed). */
static void
slow_drop(int i)
{
	if (o.slow[i].fd == -1)
		return;
	epoll_ctl(o.ep, EPOLL_CTL_DEL, o.slow[i].fd, NULL);
	bc_close_rst(o.slow[i].fd);
	o.slow[i].fd = -1;
	o.open_now--;
	o.reopened++;
}

/* Notice closed slow connections (no waiting). */
static void
slow_poll(void)
{
	struct epoll_event ev[256];
	int n;

	/* Readable means a reply (a 503) or the end: either way it is over. */
	while ((n = epoll_wait(o.ep, ev, 256, 0)) > 0)
		for (int k = 0; k < n; k++)
			slow_drop((int)ev[k].data.u32);
}

/* One trickle round: a byte on each open one, reopen up to burst. */
static void
slow_round(void)
{
	int opened = 0;

	slow_poll();
	for (int i = 0; i < o.conns; i++) {
		if (o.slow[i].fd == -1) {
			if (opened < o.burst) {
				slow_open(i);
				opened++;
			}
		} else if (write(o.slow[i].fd, "X", 1) == -1 && errno != EAGAIN)
			slow_drop(i);
	}
}

/* Keep trickling until t (monotonic seconds). */
static void
slow_until(double t, double *next_round)
{
	while (bc_now() < t) {
		if (bc_now() >= *next_round) {
			slow_round();
			*next_round = bc_now() + o.interval;
		}
		slow_poll();
		usleep(2000);
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", 1, NULL, 'h' }, { "port", 1, NULL, 'p' }, { "token-file", 1, NULL, 't' },
		{ "conns", 1, NULL, 'c' }, { "sources", 1, NULL, 's' }, { "interval", 1, NULL, 'i' },
		{ "burst", 1, NULL, 'b' }, { "warmup", 1, NULL, 'w' }, { "count", 1, NULL, 'n' },
		{ "gap", 1, NULL, 'g' }, { "timeout", 1, NULL, 'T' }, { NULL, 0, NULL, 0 },
	};
	struct bc_resp r = { 0 };
	char *req, hp[64];
	size_t len, ok = 0, bad_status = 0, no_reply = 0, nlat = 0;
	double *lat, next_round = 0;
	long open_start;
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1)
		switch (ch) {
		case 'h': o.host = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 't':
			if ((o.token = bc_read_token(optarg)) == NULL)
				bc_die("cannot read %s", optarg);
			break;
		case 'c': o.conns = atoi(optarg); break;
		case 's': o.sources = atoi(optarg); break;
		case 'i': o.interval = atof(optarg); break;
		case 'b': o.burst = atoi(optarg); break;
		case 'w': o.warmup = atof(optarg); break;
		case 'n': o.count = atoi(optarg); break;
		case 'g': o.gap = atof(optarg); break;
		case 'T': o.timeout = atof(optarg); break;
		default: bc_die("usage: see the top of slowloris.c");
		}
	if (o.port <= 0 || o.conns < 0 || o.sources < 1 || o.sources > 250 || o.count < 1)
		bc_die("bad arguments");
	bc_raise_nofile((unsigned long)o.conns + 256);
	if ((o.slow = calloc((size_t)o.conns + 1, sizeof(*o.slow))) == NULL ||
	    (lat = calloc((size_t)o.count, sizeof(*lat))) == NULL ||
	    (o.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		bc_die("out of memory");
	for (int i = 0; i < o.conns; i++)
		o.slow[i].fd = -1;
	snprintf(hp, sizeof(hp), "%s:%d", o.host, o.port);
	req = bc_request("GET", "/v1/time", hp, o.token, NULL, &len);

	slow_until(bc_now() + o.warmup, &next_round);
	open_start = o.open_now;
	for (int k = 0; k < o.count; k++) {
		double t0 = bc_now();
		int fd = bc_connect_wait(o.host, o.port, o.timeout);

		bc_resp_reset(&r);
		if (fd == -1 || bc_roundtrip(fd, req, len, &r, o.timeout) == -1)
			no_reply++;
		else if (r.status != 200)
			bad_status++;
		else {
			ok++;
			lat[nlat++] = (bc_now() - t0) * 1000;
		}
		if (fd != -1)
			bc_close_rst(fd);
		slow_until(bc_now() + o.gap, &next_round);
	}
	bc_sort(lat, nlat);
	printf("{\"conns\":%d,\"sources\":%d,\"count\":%d,\"ok\":%zu,\"non_200\":%zu,"
	    "\"no_reply\":%zu,\"slow_open_start\":%ld,\"slow_open_end\":%ld,\"reopened\":%ld,"
	    "\"p50_ms\":", o.conns, o.sources, o.count, ok, bad_status, no_reply, open_start,
	    o.open_now, o.reopened);
	bc_jnum(nlat ? bc_pct(lat, nlat, 0.5) : 0.0 / 0.0, 3);
	printf(",\"p99_ms\":");
	bc_jnum(nlat ? bc_pct(lat, nlat, 0.99) : 0.0 / 0.0, 3);
	printf(",\"max_ms\":");
	bc_jnum(nlat ? lat[nlat - 1] : 0.0 / 0.0, 3);
	printf("}\n");
	for (int i = 0; i < o.conns; i++)
		if (o.slow[i].fd != -1)
			bc_close_rst(o.slow[i].fd);
	bc_resp_free(&r);
	free(req);
	free(lat);
	free(o.slow);
	free(o.token);
	return 0;
}
