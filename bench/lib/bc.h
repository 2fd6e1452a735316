/*
 * bc: what the bench tools share. Monotonic time, non-blocking sockets to
 * 127.0.0.1, a tiny HTTP/1.1 reply parser (Content-Length bodies only, as
 * loopd and nginx send them), percentiles, /proc reads.
 */
#ifndef BENCH_BC_H
#define BENCH_BC_H

#include <stddef.h>
#include <sys/types.h>

/* Seconds on CLOCK_MONOTONIC. */
double bc_now(void);

/* Print a message and exit 2. */
void bc_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Raise RLIMIT_NOFILE (soft and, if we may, hard) to at least want. */
void bc_raise_nofile(unsigned long want);

/* Start a non-blocking TCP connect to host:port. Returns the fd or -1. */
int bc_connect(const char *host, int port);

/* A connected, non-blocking socket; waits (bounded) for the connect. */
int bc_connect_wait(const char *host, int port, double timeout);

/* Close with RST (SO_LINGER 0): no TIME_WAIT left behind on our side. */
void bc_close_rst(int fd);

/* One HTTP reply being read. */
struct bc_resp {
	char *buf;
	size_t len, cap;
	size_t hdr_len;		/* bytes of the header block, 0 until seen */
	long clen;		/* Content-Length, -1 until seen */
	int status;
	int keep_alive;		/* 0 when the server said Connection: close */
};

void bc_resp_reset(struct bc_resp *r);
void bc_resp_free(struct bc_resp *r);
/* Add bytes read. Returns 1 when the reply is complete, 0 if more is
 * needed, -1 if it cannot be parsed. */
int bc_resp_feed(struct bc_resp *r, const char *p, size_t n);
/* The body of a complete reply (NUL-terminated). */
const char *bc_resp_body(const struct bc_resp *r);

/* Write all of buf to a non-blocking socket (waits with poll, bounded). */
int bc_write_all(int fd, const char *buf, size_t len, double timeout);

/* Send req on fd and read one reply into r (bounded). 0 or -1. */
int bc_roundtrip(int fd, const char *req, size_t len, struct bc_resp *r, double timeout);

/* Build a request: "METHOD PATH" with optional token and JSON body. The
 * result is malloc'd; *len gets its length. */
char *bc_request(const char *method, const char *path, const char *host_port,
    const char *token, const char *body, size_t *len);

/* The value of an unlabelled sample `name value` in Prometheus text, or
 * -1 if absent. */
double bc_metric(const char *text, const char *name);

/* The string value of "key":"..." in a JSON text (first match), copied
 * into out. 0 or -1. */
int bc_json_str(const char *json, const char *key, char *out, size_t outlen);

/* VmRSS of pid in KiB, or -1. */
long bc_rss_kb(pid_t pid);

/* Read a token file (first line). Returns a malloc'd string or NULL. */
char *bc_read_token(const char *path);

/* Print v as a JSON number (%.*f), or null when it is not finite. */
void bc_jnum(double v, int prec);

/* Sort v and return the nearest-rank q-quantile (0 < q <= 1). */
void bc_sort(double *v, size_t n);
double bc_pct(const double *sorted, size_t n, double q);

#endif
