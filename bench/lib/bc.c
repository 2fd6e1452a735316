/*
 * bc: shared pieces of the bench tools (see bc.h).
 */
#include "bc.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

double
bc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
bc_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void
bc_raise_nofile(unsigned long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want) {
		struct rlimit up = { want, want };
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;	/* root may raise the hard limit */
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int
bc_connect(const char *host, int port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

int
bc_connect_wait(const char *host, int port, double timeout)
{
	int fd = bc_connect(host, port), err = 0;
	socklen_t el = sizeof(err);
	struct pollfd pfd;

	if (fd == -1)
		return -1;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, (int)(timeout * 1000)) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1 || err != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void
bc_close_rst(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

void
bc_resp_reset(struct bc_resp *r)
{
	r->len = 0;
	r->hdr_len = 0;
	r->clen = -1;
	r->status = 0;
	r->keep_alive = 1;
	if (r->buf != NULL)
		r->buf[0] = '\0';
}

void
bc_resp_free(struct bc_resp *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/* Parse the header block once it is all there. */
static int
parse_head(struct bc_resp *r)
{
	char *end = strstr(r->buf, "\r\n\r\n"), *line;

	if (end == NULL)
		return 0;
	r->hdr_len = (size_t)(end - r->buf) + 4;
	if (strncmp(r->buf, "HTTP/1.", 7) != 0 || r->buf[8] != ' ')
		return -1;
	r->status = atoi(r->buf + 9);
	for (line = strstr(r->buf, "\r\n"); line != NULL && line < end;
	    line = strstr(line + 2, "\r\n")) {
		const char *h = line + 2;
		if (strncasecmp(h, "Content-Length:", 15) == 0)
			r->clen = strtol(h + 15, NULL, 10);
		else if (strncasecmp(h, "Connection:", 11) == 0) {
			const char *v = h + 11;
			while (*v == ' ')
				v++;
			if (strncasecmp(v, "close", 5) == 0)
				r->keep_alive = 0;
		}
	}
	if (r->clen < 0)
		return -1;	/* we only read Content-Length replies */
	return 1;
}

int
bc_resp_feed(struct bc_resp *r, const char *p, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 512;
		while (cap < r->len + n + 1)
			cap *= 2;
		char *b = realloc(r->buf, cap);
		if (b == NULL)
			return -1;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	r->buf[r->len] = '\0';
	if (r->hdr_len == 0) {
		int e = parse_head(r);
		if (e <= 0)
			return e;
	}
	if (r->len >= r->hdr_len + (size_t)r->clen) {
		if (r->len > r->hdr_len + (size_t)r->clen)
			return -1;	/* no pipelining here */
		return 1;
	}
	return 0;
}

const char *
bc_resp_body(const struct bc_resp *r)
{
	return r->buf ? r->buf + r->hdr_len : "";
}

int
bc_write_all(int fd, const char *buf, size_t len, double timeout)
{
	double until = bc_now() + timeout;

	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		struct pollfd pfd = { fd, POLLOUT, 0 };
		double left = until - bc_now();
		if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) == -1)
			return -1;
	}
	return 0;
}

int
bc_roundtrip(int fd, const char *req, size_t len, struct bc_resp *r, double timeout)
{
	double until = bc_now() + timeout;
	char buf[65536];

	bc_resp_reset(r);
	if (bc_write_all(fd, req, len, timeout) == -1)
		return -1;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0) {
			int e = bc_resp_feed(r, buf, (size_t)n);
			if (e != 0)
				return e == 1 ? 0 : -1;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		struct pollfd pfd = { fd, POLLIN, 0 };
		double left = until - bc_now();
		if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) == -1)
			return -1;
	}
}

char *
bc_request(const char *method, const char *path, const char *host_port, const char *token,
    const char *body, size_t *len)
{
	char auth[300] = "";
	char *out = NULL;
	int n;

	if (token != NULL && *token != '\0')
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", token);
	if (body != NULL)
		n = asprintf(&out, "%s %s HTTP/1.1\r\nHost: %s\r\n%s"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		    method, path, host_port, auth, strlen(body), body);
	else
		n = asprintf(&out, "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", method, path,
		    host_port, auth);
	if (n < 0)
		bc_die("out of memory");
	*len = (size_t)n;
	return out;
}

double
bc_metric(const char *text, const char *name)
{
	size_t nl = strlen(name);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, nl) == 0 && p[nl] == ' ')
			return strtod(p + nl + 1, NULL);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

int
bc_json_str(const char *json, const char *key, char *out, size_t outlen)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if ((p = strstr(json, pat)) == NULL)
		return -1;
	p += strlen(pat);
	if ((e = strchr(p, '"')) == NULL || (size_t)(e - p) >= outlen)
		return -1;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return 0;
}

long
bc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

char *
bc_read_token(const char *path)
{
	char buf[512];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return strdup(buf);
}

void
bc_jnum(double v, int prec)
{
	if (isfinite(v))
		printf("%.*f", prec, v);
	else
		fputs("null", stdout);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void
bc_sort(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
}

double
bc_pct(const double *sorted, size_t n, double q)
{
	size_t k;

	if (n == 0)
		return NAN;
	k = (size_t)ceil(q * (double)n - 1e-9);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return sorted[k - 1];
}
