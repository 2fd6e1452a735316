/*
 * fanout: the ceiling for waking N long-polls on this machine. N TCP
 * connections over loopback; one process writes one reply of B bytes to
 * each, one send() apiece from a single thread, as fast as it can; another
 * process reads them with epoll, as bench/build/await does. Nothing else
 * runs: no HTTP parsing, no JSON, no event loop. What loopd does when a
 * result wakes N waiters is that plus its own work, so loopd's figure over
 * this one is how far it is from what the machine allows.
 *
 *   fanout --waiters N [--bytes B]
 *
 * Two processes, so that each holds N descriptors (the reader connects,
 * the writer accepts). t0 is just before the first send; each figure is
 * a reply's arrival (complete, B bytes read) minus t0, in ms. Prints one
 * JSON line: waiters, bytes, send_ms (the writer's loop alone), after_send_ms
 * {min, p50, p90, p99, max}.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/bc.h"

static void
usage(void)
{
	bc_die("usage: fanout --waiters N [--bytes B]");
}

/* Read exactly len bytes from fd (blocking). 0, or -1. */
static int
read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The reader: connect n sockets to port, say so on ready_fd, then read a
 * reply of `bytes` on each; write the arrival times (monotonic seconds)
 * to out_fd. */
static int
reader(int port, long n, long bytes, int ready_fd, int out_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct epoll_event evs[256];
	double *t = calloc((size_t)n, sizeof(*t));
	long *got = calloc((size_t)n, sizeof(*got));
	int *fds = calloc((size_t)n, sizeof(*fds));
	char buf[65536], c = 'r';
	long done = 0;
	int ep = epoll_create1(0);

	if (t == NULL || got == NULL || fds == NULL || ep == -1)
		return 1;
	for (long i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)i };
		if ((fds[i] = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) == -1)
			return 1;
	}
	if (write(ready_fd, &c, 1) != 1)
		return 1;
	while (done < n) {
		int k = epoll_wait(ep, evs, 256, 10000);
		if (k <= 0)
			return 1;	/* ten seconds without a reply */
		for (int j = 0; j < k; j++) {
			long i = (long)evs[j].data.u64;
			ssize_t r = read(fds[i], buf, sizeof(buf));
			if (r <= 0)
				return 1;
			if ((got[i] += r) >= bytes) {
				t[i] = bc_now();
				done++;
				epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
			}
		}
	}
	return write(out_fd, t, (size_t)n * sizeof(*t)) == (ssize_t)((size_t)n * sizeof(*t)) ? 0 : 1;
}

int
main(int argc, char **argv)
{
	long n = 0, bytes = 400;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int lfd, ready[2], out[2], status, one = 1;
	double t0, t_sent, *t, *v;
	char *reply, c;
	pid_t pid;
	int *fds;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--waiters") == 0)
			n = atol(argv[++i]);
		else if (strcmp(argv[i], "--bytes") == 0)
			bytes = atol(argv[++i]);
		else
			usage();
	}
	if (n <= 0 || bytes <= 0 || bytes > 65536)
		usage();
	bc_raise_nofile((unsigned long)n + 64);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 4096) == -1 || getsockname(lfd, (struct sockaddr *)&sa, &sl) == -1 ||
	    pipe(ready) == -1 || pipe(out) == -1)
		bc_die("fanout: cannot listen: %s", strerror(errno));
	if ((pid = fork()) == -1)
		bc_die("fanout: fork: %s", strerror(errno));
	if (pid == 0) {
		close(lfd);
		_exit(reader(ntohs(sa.sin_port), n, bytes, ready[1], out[1]));
	}
	if ((fds = calloc((size_t)n, sizeof(*fds))) == NULL ||
	    (reply = malloc((size_t)bytes)) == NULL ||
	    (t = calloc((size_t)n, sizeof(*t))) == NULL || (v = calloc((size_t)n, sizeof(*v))) == NULL)
		bc_die("fanout: out of memory");
	memset(reply, 'x', (size_t)bytes);
	for (long i = 0; i < n; i++) {
		if ((fds[i] = accept(lfd, NULL, NULL)) == -1)
			bc_die("fanout: accept #%ld: %s", i, strerror(errno));
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (read_all(ready[0], &c, 1) == -1)
		bc_die("fanout: the reader failed to connect");
	t0 = bc_now();
	for (long i = 0; i < n; i++)
		if (send(fds[i], reply, (size_t)bytes, MSG_NOSIGNAL | MSG_DONTWAIT) != bytes)
			bc_die("fanout: send #%ld: short or failed", i);
	t_sent = bc_now();
	if (read_all(out[0], t, (size_t)n * sizeof(*t)) == -1)
		bc_die("fanout: the reader failed");
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bc_die("fanout: the reader failed");
	for (long i = 0; i < n; i++)
		v[i] = (t[i] - t0) * 1e3;
	bc_sort(v, (size_t)n);
	printf("{\"waiters\":%ld,\"bytes\":%ld,\"send_ms\":", n, bytes);
	bc_jnum((t_sent - t0) * 1e3, 4);
	printf(",\"after_send_ms\":{\"min\":");
	bc_jnum(v[0], 4);
	printf(",\"p50\":");
	bc_jnum(bc_pct(v, (size_t)n, 0.5), 4);
	printf(",\"p90\":");
	bc_jnum(bc_pct(v, (size_t)n, 0.9), 4);
	printf(",\"p99\":");
	bc_jnum(bc_pct(v, (size_t)n, 0.99), 4);
	printf(",\"max\":");
	bc_jnum(v[n - 1], 4);
	printf("}}\n");
	return 0;
}
