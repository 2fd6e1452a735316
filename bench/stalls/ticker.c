/*
 * ticker: how long loopd's loop goes without answering. One keep-alive
 * connection sends GET /healthz every GAP seconds for DURATION seconds (or
 * until stdin closes); each reply's latency (send to last byte) is how late
 * a timer due at the moment of sending would have run, give or take a
 * loopback round trip. Prints one JSON line: count, p50/p99/p999/max in ms,
 * how many replies took over 1 ms and over 5 ms, and the longest (ms) with
 * its offset from the start (s).
 *
 * A 2xx reply made while changes wait for their commit is held until that
 * commit (the store's group commit), so with --path /healthz the figure
 * includes the commit under way; --path /loop-tick --status 404 (a reply
 * no commit holds) measures the loop alone.
 *
 *   ticker --port P [--host H] [--duration 10] [--gap 0.001]
 *          [--path /healthz] [--status 200]
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/bc.h"

int
main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *path = "/healthz";
	int port = 0, fd, status = 200;
	double duration = 10, gap = 0.001, t0, worst = 0, worst_at = 0;
	size_t n = 0, cap = 1 << 16, over1 = 0, over5 = 0;
	double *lat;
	char host_port[64], *req;
	size_t len;
	struct bc_resp r = { 0 };

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--host") == 0)
			host = argv[i + 1];
		else if (strcmp(argv[i], "--duration") == 0)
			duration = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--gap") == 0)
			gap = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--path") == 0)
			path = argv[i + 1];
		else if (strcmp(argv[i], "--status") == 0)
			status = atoi(argv[i + 1]);
		else
			bc_die("ticker: unknown option %s", argv[i]);
	}
	if (port <= 0)
		bc_die("usage: ticker --port P [--duration S] [--gap S]");
	if ((lat = malloc(cap * sizeof(*lat))) == NULL)
		bc_die("ticker: out of memory");
	snprintf(host_port, sizeof(host_port), "%s:%d", host, port);
	req = bc_request("GET", path, host_port, NULL, NULL, &len);
	if ((fd = bc_connect_wait(host, port, 10)) == -1)
		bc_die("ticker: cannot connect to %s", host_port);
	/* Tell the runner we are measuring. */
	fprintf(stderr, "ticker: started\n");
	t0 = bc_now();
	while (bc_now() - t0 < duration) {
		struct pollfd in = { 0, POLLIN, 0 };
		double t = bc_now(), d;
		bc_resp_reset(&r);
		if (bc_roundtrip(fd, req, len, &r, 30) == -1 || r.status != status)
			bc_die("ticker: no reply (status %d)", r.status);
		d = (bc_now() - t) * 1e3;
		if (n == cap && (lat = realloc(lat, (cap *= 2) * sizeof(*lat))) == NULL)
			bc_die("ticker: out of memory");
		lat[n++] = d;
		over1 += d > 1.0;
		over5 += d > 5.0;
		if (d > worst) {
			worst = d;
			worst_at = t - t0;
		}
		/* stdin closed (or a line): the runner has seen enough. */
		if (poll(&in, 1, 0) == 1 && (in.revents & (POLLIN | POLLHUP)))
			break;
		nanosleep(&(struct timespec){ 0, (long)(gap * 1e9) }, NULL);
	}
	bc_sort(lat, n);
	printf("{\"count\": %zu, \"p50\": ", n);
	bc_jnum(bc_pct(lat, n, 0.5), 3);
	printf(", \"p99\": ");
	bc_jnum(bc_pct(lat, n, 0.99), 3);
	printf(", \"p999\": ");
	bc_jnum(bc_pct(lat, n, 0.999), 3);
	printf(", \"max\": ");
	bc_jnum(worst, 3);
	printf(", \"max_at_s\": ");
	bc_jnum(worst_at, 3);
	printf(", \"over_1ms\": %zu, \"over_5ms\": %zu, \"elapsed_s\": ", over1, over5);
	bc_jnum(bc_now() - t0, 3);
	printf("}\n");
	bc_resp_free(&r);
	free(req);
	free(lat);
	close(fd);
	return 0;
}
