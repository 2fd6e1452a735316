/*
 * listen: the server's listening sockets (private to daemon/http/).
 *
 * Opening one for a listen address (HOST:PORT, [V6]:PORT, unix:PATH),
 * taking one handed over by the service manager, naming one as a URL,
 * and reading the PEM files of TLS. The address grammar is util's
 * (addr_parse_listen), the one config.c checks with.
 */
#ifndef LOOPD_HTTP_LISTEN_H
#define LOOPD_HTTP_LISTEN_H

#include <stddef.h>

/* Open a non-blocking listening socket for addr, logging where it
 * listens (scheme https when tls). *unix_path is set (allocated) for a
 * Unix socket. Returns the fd or -1 (logged). */
int listen_open(const char *addr, int tls, int *is_unix, char **unix_path);
/* Adopt an inherited listening socket: non-blocking, close-on-exec.
 * 0 or -1 (logged). */
int listen_inherit(int fd, int *is_unix);
/* The URL of a listening socket as bound into buf; 0, or -1 if unknown. */
int listen_url(int fd, const char *unix_path, int tls, char *buf, size_t cap);
/* A whole PEM file, NUL-terminated; NULL (logged) on error. */
char *listen_read_pem(const char *path);

#endif
