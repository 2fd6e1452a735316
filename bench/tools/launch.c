/*
 * launch: start loopd, time its start-up, keep its log, stop it on request.
 *
 *   launch [--log FILE] [--nofile N] [--timeout S] -- PROGRAM ARG...
 *
 * t=0 is taken just before fork+exec. PROGRAM's stderr goes through a pipe
 * to FILE. JSON lines on stdout, one per event:
 *   {"event":"started","pid":P}
 *   {"event":"listening","host":H,"port":N,"listen_s":S}  the `listening on` line
 *   {"event":"healthz","healthz_s":S}    first 200 from GET /healthz
 *   {"event":"ready","ready_s":S}        the `ready:` line
 *   {"event":"exit","status":N,"signal":N,"stop_s":S}
 * stop_s is from the stop command to the exit (null if none was given).
 * Commands on stdin: `term`, `kill`, `int` (send that signal). When stdin
 * closes (the runner is gone), PROGRAM gets SIGTERM, then SIGKILL after 15 s:
 * it never outlives us. --timeout bounds the wait for the listening line
 * (default 600 s); past it PROGRAM is killed and launch exits 1.
 */
#include <sys/resource.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/bc.h"

static pid_t child;
static double t_exec, t_stop = -1;
static FILE *log_fp;
static char line[8192];
static size_t line_len;
static char lhost[128];
static int lport, listening, ready;

/* {"event":"NAME","NAME_s":S} */
static void
event(const char *name, double v)
{
	printf("{\"event\":\"%s\",\"%s_s\":%.6f}\n", name, name, v);
	fflush(stdout);
}

/* One complete log line from the child. */
static void
log_line(const char *s)
{
	const char *p;

	if (!listening && (p = strstr(s, "listening on http://")) != NULL) {
		char hp[128];
		char *colon;
		snprintf(hp, sizeof(hp), "%s", p + strlen("listening on http://"));
		hp[strcspn(hp, " \r\n/")] = '\0';
		if ((colon = strrchr(hp, ':')) != NULL) {
			*colon = '\0';
			snprintf(lhost, sizeof(lhost), "%s", hp[0] == '[' ? hp + 1 : hp);
			lhost[strcspn(lhost, "]")] = '\0';
			lport = atoi(colon + 1);
			listening = 1;
			printf("{\"event\":\"listening\",\"host\":\"%s\",\"port\":%d,\"listen_s\":%.6f}\n",
			    lhost, lport, bc_now() - t_exec);
			fflush(stdout);
		}
	}
	if (!ready && strstr(s, "ready: ") != NULL) {
		ready = 1;
		event("ready", bc_now() - t_exec);
	}
}

/* Drain the child's stderr. Returns 0 at EOF. */
static int
drain(int fd)
{
	char buf[8192];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (log_fp != NULL) {
			fwrite(buf, 1, (size_t)n, log_fp);
			fflush(log_fp);
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || line_len == sizeof(line) - 1) {
				line[line_len] = '\0';
				log_line(line);
				line_len = 0;
			} else
				line[line_len++] = buf[i];
		}
	}
	if (n == 0)
		return 0;
	return 1;
}

/* One GET /healthz. Returns the status, or 0. */
static int
healthz(void)
{
	struct bc_resp r = { 0 };
	char hp[160];
	size_t len;
	char *req;
	int fd, st = 0;

	snprintf(hp, sizeof(hp), "%s:%d", lhost, lport);
	if ((fd = bc_connect_wait(lhost, lport, 1)) == -1)
		return 0;
	req = bc_request("GET", "/healthz", hp, NULL, NULL, &len);
	if (bc_roundtrip(fd, req, len, &r, 2) == 0)
		st = r.status;
	free(req);
	bc_resp_free(&r);
	close(fd);
	return st;
}

static void
stop(int sig)
{
	if (t_stop < 0)
		t_stop = bc_now();
	kill(child, sig);
}

int
main(int argc, char **argv)
{
	const char *log_path = NULL;
	unsigned long nofile = 0;
	double timeout = 600, kill_at = -1;
	int pfd[2], i, healthy = 0, in_open = 1, out_open = 1, status;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (i + 1 >= argc)
			bc_die("launch: %s needs a value", argv[i]);
		if (strcmp(argv[i], "--log") == 0)
			log_path = argv[++i];
		else if (strcmp(argv[i], "--nofile") == 0)
			nofile = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout = atof(argv[++i]);
		else
			bc_die("usage: launch [--log FILE] [--nofile N] [--timeout S] -- PROGRAM ARG...");
	}
	if (i + 1 >= argc)
		bc_die("launch: no program");
	if (log_path != NULL && (log_fp = fopen(log_path, "a")) == NULL)
		bc_die("launch: %s: %s", log_path, strerror(errno));
	if (pipe2(pfd, O_CLOEXEC) == -1)
		bc_die("launch: pipe: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	t_exec = bc_now();
	if ((child = fork()) == -1)
		bc_die("launch: fork: %s", strerror(errno));
	if (child == 0) {
		if (nofile > 0) {
			struct rlimit rl = { nofile, nofile };
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		signal(SIGPIPE, SIG_DFL);
		dup2(pfd[1], 2);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull != -1)
			dup2(devnull, 0);
		execvp(argv[i + 1], argv + i + 1);
		fprintf(stderr, "launch: %s: %s\n", argv[i + 1], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	printf("{\"event\":\"started\",\"pid\":%ld}\n", (long)child);
	fflush(stdout);

	for (;;) {
		struct pollfd p[2] = { { pfd[0], POLLIN, 0 }, { 0, POLLIN, 0 } };
		int np = in_open ? 2 : 1;
		pid_t w;

		if (!out_open)
			p[0].fd = -1;
		poll(p, (nfds_t)np, (listening && !healthy) || t_stop >= 0 ? 1 : 50);
		if (out_open && (p[0].revents & (POLLIN | POLLHUP)))
			out_open = drain(pfd[0]);
		if (in_open && (p[1].revents & (POLLIN | POLLHUP))) {
			char cmd[64];
			ssize_t n = read(0, cmd, sizeof(cmd) - 1);
			if (n <= 0) {
				in_open = 0;
				stop(SIGTERM);
				kill_at = bc_now() + 15;
			} else {
				cmd[n] = '\0';
				if (strncmp(cmd, "term", 4) == 0)
					stop(SIGTERM);
				else if (strncmp(cmd, "kill", 4) == 0)
					stop(SIGKILL);
				else if (strncmp(cmd, "int", 3) == 0)
					stop(SIGINT);
			}
		}
		if (listening && !healthy && healthz() == 200) {
			healthy = 1;
			event("healthz", bc_now() - t_exec);
		}
		if (!listening && t_stop < 0 && bc_now() - t_exec > timeout) {
			fprintf(stderr, "launch: no `listening on` line after %.0f s\n", timeout);
			stop(SIGKILL);
		}
		if (kill_at > 0 && bc_now() > kill_at) {
			kill(child, SIGKILL);
			kill_at = -1;
		}
		w = waitpid(child, &status, WNOHANG);
		if (w == child)
			break;
	}
	if (out_open)
		drain(pfd[0]);
	printf("{\"event\":\"exit\",\"status\":%d,\"signal\":%d,\"stop_s\":",
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	bc_jnum(t_stop >= 0 ? bc_now() - t_stop : NAN, 6);
	printf("}\n");
	fflush(stdout);
	return listening ? 0 : 1;
}
