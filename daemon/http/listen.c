/*
 * listen: the server's listening sockets. See listen.h.
 */
#include "daemon/http/listen.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/util/addr.h"
#include "daemon/util/secret.h"

#define BACKLOG 1024
#define PEM_MAX (1 << 20)	/* a certificate chain or key, at most */

/* Listen on a Unix socket at path (mode 0660: the file mode is the access
 * control). The fd or -1. */
static int
listen_unix(const char *addr, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, e;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	unlink(path);
	old = umask(0117);
	e = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (e == -1 || listen(fd, BACKLOG) == -1) {
		log_warn("listen %s", addr);
		close(fd);
		return -1;
	}
	log_info("listening on unix:%s", path);
	return fd;
}

/* Listen on TCP host:port. The fd or -1. */
static int
listen_tcp(const char *addr, const struct addr_listen *a, int tls)
{
	struct addrinfo hints, *res = NULL;
	char url[300];
	int fd = -1, one = 1, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(a->host, a->port, &hints, &res)) != 0) {
		log_warnx("listen %s: %s", addr, gai_strerror(e));
		return -1;
	}
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 || listen(fd, BACKLOG) == -1 ||
	    listen_url(fd, NULL, tls, url, sizeof(url)) == -1) {
		log_warn("listen %s", addr);
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	log_info("listening on %s", url);
	return fd;
}

int
listen_open(const char *addr, int tls, int *is_unix, char **unix_path)
{
	struct addr_listen a;
	const char *why;
	int fd;

	*is_unix = 0;
	*unix_path = NULL;
	if (addr_parse_listen(addr, &a, &why) == -1) {
		log_warnx("listen %s: %s", addr, why);
		return -1;
	}
	if (!a.is_unix)
		return listen_tcp(addr, &a, tls);
	if ((fd = listen_unix(addr, a.path)) == -1)
		return -1;
	*is_unix = 1;
	*unix_path = strdup(a.path);
	return fd;
}

int
listen_inherit(int fd, int *is_unix)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int flags;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
		log_warn("inherited socket %d", fd);
		return -1;
	}
	*is_unix = ss.ss_family == AF_UNIX;
	if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("inherited socket %d", fd);
		return -1;
	}
	log_info("listening on socket %d from the service manager (%s)", fd,
	    *is_unix ? "unix" : "tcp");
	return 0;
}

int
listen_url(int fd, const char *unix_path, int tls, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const char *scheme = tls ? "https" : "http";
	char a[INET6_ADDRSTRLEN];

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *su = (struct sockaddr_un *)&ss;
		snprintf(buf, cap, "unix:%s", su->sun_path[0] ? su->sun_path :
		    unix_path != NULL ? unix_path : "?");
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, cap, "%s://[%s]:%u", scheme, a, ntohs(s6->sin6_port));
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, cap, "%s://%s:%u", scheme, a, ntohs(s4->sin_port));
	} else
		return -1;
	return 0;
}

char *
listen_read_pem(const char *path)
{
	char *pem = secret_read_all(path, PEM_MAX, NULL);

	if (pem == NULL)
		log_warn("%s: not a PEM file of a reasonable size", path);
	return pem;
}
