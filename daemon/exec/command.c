/*
 * command: posix_spawn, pipes, reaping, timeouts and the concurrency cap.
 */
#include "daemon/exec/command.h"

#include <sys/queue.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/exec/rlimits.h"
#include "daemon/log.h"
#include "daemon/util/strv.h"

/* How long to keep reading pipes that a grandchild holds open after the
 * child itself has exited. */
#define DRAIN_US 250000

/* A spawn that failed for want of a resource (EMFILE, ENFILE, EAGAIN,
 * ENOMEM) is tried again after SPAWN_RETRY_US, doubling up to
 * SPAWN_RETRY_MAX_US, at most SPAWN_TRIES times in all (about two
 * minutes) before the call fails with SpawnError. */
#define SPAWN_RETRY_US 50000
#define SPAWN_RETRY_MAX_US 5000000
#define SPAWN_TRIES 30

extern char **environ;

struct child;

/* One output pipe being read. */
struct pipe_in {
	int fd;
	struct event *ev;
	struct outbuf buf;
	struct child *c;
};

struct child {
	TAILQ_ENTRY(child) link;
	uint64_t id;
	struct command_spec *spec;
	pid_t pid;
	int running;
	int exited;
	int status;
	int in_fd;
	size_t in_off;
	struct event *in_ev;
	struct pipe_in out, err;
	struct event *timer_ev;		/* timeout, then SIGKILL, then drain */
	int stage;			/* what timer_ev does next */
	struct command_result res;
	int64_t t_start;
	int spawn_tries;		/* failed spawns so far */
};
TAILQ_HEAD(child_list, child);

enum { STAGE_TIMEOUT, STAGE_KILL, STAGE_DRAIN, STAGE_SPAWN, STAGE_NONE };

static struct {
	struct event_base *base;
	struct command_limits limits;
	struct command_hooks hooks;
	struct event *sigchld_ev;
	struct child_list running, queued;
	struct child_list backoff;	/* waiting to try a failed spawn again */
	size_t n_running, n_queued, n_backoff;
} commands;

static void command_sigchld_cb(evutil_socket_t, short, void *);
static void command_start(struct child *c);
static void command_maybe_done(struct child *c);
static void command_start_queued(void);

int
command_init(struct event_base *base, const struct command_limits *limits,
    const struct command_hooks *hooks)
{
	memset(&commands, 0, sizeof(commands));
	commands.base = base;
	commands.limits = *limits;
	commands.hooks = *hooks;
	TAILQ_INIT(&commands.running);
	TAILQ_INIT(&commands.queued);
	TAILQ_INIT(&commands.backoff);
	commands.sigchld_ev = evsignal_new(base, SIGCHLD, command_sigchld_cb, NULL);
	if (commands.sigchld_ev == NULL || event_add(commands.sigchld_ev, NULL) == -1)
		return -1;
	return 0;
}

void
command_set_limits(const struct command_limits *limits)
{
	commands.limits = *limits;
	command_start_queued();
}

void
command_spec_free(struct command_spec *spec)
{
	if (spec == NULL)
		return;
	strv_free(spec->argv);
	strv_free(spec->env);
	free(spec->cwd);
	free(spec->stdin_data);
	free(spec);
}

/* Close one pipe end and its event. */
static void
pipe_close(int *fd, struct event **ev)
{
	if (*ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/* Free a child and everything it owns. */
static void
child_free(struct child *c)
{
	pipe_close(&c->in_fd, &c->in_ev);
	pipe_close(&c->out.fd, &c->out.ev);
	pipe_close(&c->err.fd, &c->err.ev);
	if (c->timer_ev != NULL)
		event_free(c->timer_ev);
	free(c->out.buf.data);
	free(c->err.buf.data);
	command_spec_free(c->spec);
	free(c);
}

/* Finish c: report and free it, then start the next queued command. */
static void
child_finish(struct child *c)
{
	c->res.out = c->out.buf;
	c->res.err = c->err.buf;
	if (c->running) {
		TAILQ_REMOVE(&commands.running, c, link);
		commands.n_running--;
		c->res.duration = clock_loop_now() - c->t_start;
	}
	commands.hooks.done(c->id, &c->res, commands.hooks.arg);
	child_free(c);
	command_start_queued();
}

/* Arm c's timer for stage after us microseconds. */
static void
child_timer(struct child *c, int stage, int64_t us)
{
	struct timeval tv = clock_timeval(us);

	c->stage = stage;
	/* libevent adds tv to the time cached at the start of this loop
	 * turn; a spawn may have taken a while since: count from now. */
	event_base_update_cache_time(commands.base);
	evtimer_add(c->timer_ev, &tv);
}

/* Signal c's process group, if c has not been reaped (after that the
 * group id may belong to someone else). */
static void
child_signal(struct child *c, int sig)
{
	if (c->exited)
		return;
	if (kill(-c->pid, sig) == -1 && errno != ESRCH)
		log_warn("kill %d", (int)c->pid);
}

/* Start ending c: SIGTERM now, SIGKILL after the grace period. */
static void
child_terminate(struct child *c)
{
	if (c->exited || c->stage == STAGE_KILL)
		return;
	child_signal(c, SIGTERM);
	child_timer(c, STAGE_KILL, commands.limits.kill_grace);
}

/* c's timer: the command timed out, the grace period ended, or the pipes
 * were drained long enough. */
static void
child_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	switch (c->stage) {
	case STAGE_TIMEOUT:
		c->res.timed_out = 1;
		child_terminate(c);
		break;
	case STAGE_KILL:
		child_signal(c, SIGKILL);
		c->stage = STAGE_NONE;
		break;
	case STAGE_DRAIN:
		pipe_close(&c->out.fd, &c->out.ev);
		pipe_close(&c->err.fd, &c->err.ev);
		command_maybe_done(c);
		break;
	case STAGE_SPAWN:
		/* Try again now if a slot is free, else first in the queue. */
		TAILQ_REMOVE(&commands.backoff, c, link);
		commands.n_backoff--;
		c->stage = STAGE_NONE;
		if (commands.n_running < commands.limits.max_running)
			command_start(c);
		else {
			TAILQ_INSERT_HEAD(&commands.queued, c, link);
			commands.n_queued++;
		}
		break;
	}
}

/* Data on stdout or stderr: keep up to the cap, count the rest as cut. */
static void
child_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipe_in *p = arg;
	char tmp[16384];
	ssize_t n;

	for (;;) {
		n = read(p->fd, tmp, sizeof(tmp));
		if (n > 0) {
			outbuf_append(&p->buf, tmp, (size_t)n, commands.limits.max_output);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		break;		/* EOF or error */
	}
	pipe_close(&p->fd, &p->ev);
	command_maybe_done(p->c);
}

/* The child's stdin is writable: feed it the next chunk. */
static void
child_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	size_t left = c->spec->stdin_len - c->in_off;
	ssize_t n = left > 0 ? write(c->in_fd, c->spec->stdin_data + c->in_off, left) : 0;

	if (n > 0)
		c->in_off += (size_t)n;
	if ((n == -1 && errno != EAGAIN && errno != EINTR) || c->in_off == c->spec->stdin_len)
		pipe_close(&c->in_fd, &c->in_ev);	/* done, or EPIPE: stop */
}

/* Report c if it has been reaped and its output is complete. */
static void
command_maybe_done(struct child *c)
{
	int st = c->status;

	if (!c->exited)
		return;
	if (c->out.fd != -1 || c->err.fd != -1) {
		if (c->stage != STAGE_DRAIN)
			child_timer(c, STAGE_DRAIN, DRAIN_US);
		return;
	}
	if (WIFEXITED(st)) {
		c->res.exit_code = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		c->res.exit_code = -1;
		c->res.signal = WTERMSIG(st);
	}
	child_finish(c);
}

/* Reap every child that has exited. */
static void
command_sigchld_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		TAILQ_FOREACH(c, &commands.running, link)
			if (c->pid == pid)
				break;
		if (c == NULL)
			continue;
		c->exited = 1;
		c->status = st;
		pipe_close(&c->in_fd, &c->in_ev);
		if (c->stage != STAGE_DRAIN)
			evtimer_del(c->timer_ev);
		c->stage = STAGE_NONE;
		command_maybe_done(c);
	}
}

/* Environment for the child: loopd's own, with spec->env replacing or
 * adding entries. Returns a vector of borrowed strings, or NULL. */
static char **
child_env(struct command_spec *spec)
{
	size_t n = 0, extra = 0, k = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	while (spec->env != NULL && spec->env[extra] != NULL)
		extra++;
	if ((env = calloc(n + extra + 1, sizeof(*env))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t klen = strcspn(environ[i], "=");
		int overridden = 0;
		for (size_t j = 0; j < extra && !overridden; j++)
			overridden = strncmp(spec->env[j], environ[i], klen + 1) == 0;
		if (!overridden)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < extra; j++)
		env[k++] = spec->env[j];
	return env;
}

/* Spawn c's process with its pipes. Returns 0, or an errno. */
static int
child_spawn(struct child *c)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, in[2] = { -1, -1 };
	char **env = NULL;
	int e = 0, rl;

	if (pipe2(out, O_CLOEXEC) == -1 || pipe2(err, O_CLOEXEC) == -1 ||
	    (c->spec->stdin_data != NULL && pipe2(in, O_CLOEXEC) == -1) ||
	    (env = child_env(c->spec)) == NULL) {
		e = errno ? errno : ENOMEM;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	if (in[0] != -1)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	if (c->spec->cwd != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, c->spec->cwd);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	/* The child starts with no blocked signals and default dispositions
	 * (loopd ignores SIGPIPE; its children must not). */
	sigemptyset(&none);
	sigfillset(&defaults);
	sigdelset(&defaults, SIGKILL);
	sigdelset(&defaults, SIGSTOP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	e = posix_spawnp(&c->pid, c->spec->argv[0], &fa, &attr, c->spec->argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (e != 0)
		goto out;
	if ((rl = rlimits_apply(c->pid)) != 0 && rl != ESRCH)
		log_warnx("command: resource limits (command_rlimits) not applied to "
		    "process %ld: %s", (long)c->pid, strerror(rl));

	c->out.fd = out[0];
	c->err.fd = err[0];
	c->in_fd = in[1];
	out[0] = err[0] = in[1] = -1;
	fcntl(c->out.fd, F_SETFL, O_NONBLOCK);
	fcntl(c->err.fd, F_SETFL, O_NONBLOCK);
	c->out.ev = event_new(commands.base, c->out.fd, EV_READ | EV_PERSIST, child_read_cb, &c->out);
	c->err.ev = event_new(commands.base, c->err.fd, EV_READ | EV_PERSIST, child_read_cb, &c->err);
	if (c->out.ev != NULL)
		event_add(c->out.ev, NULL);
	if (c->err.ev != NULL)
		event_add(c->err.ev, NULL);
	if (c->in_fd != -1) {
		fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
		if ((c->in_ev = event_new(commands.base, c->in_fd, EV_WRITE | EV_PERSIST,
		    child_write_cb, c)) != NULL)
			event_add(c->in_ev, NULL);
	}
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] != -1)
			close(out[i]);
		if (err[i] != -1)
			close(err[i]);
		if (in[i] != -1)
			close(in[i]);
	}
	free(env);
	return e;
}

/* Start c now (a slot is free). */
static void
command_start(struct child *c)
{
	int e;

	c->t_start = clock_loop_now();
	if ((e = child_spawn(c)) != 0) {
		if ((e == EMFILE || e == ENFILE || e == EAGAIN || e == ENOMEM) &&
		    ++c->spawn_tries < SPAWN_TRIES) {
			int64_t us = SPAWN_RETRY_US << (c->spawn_tries < 8 ? c->spawn_tries - 1 : 7);
			log_warnx("command: cannot spawn %s (%s); trying again in %lld ms",
			    c->spec->argv[0], strerror(e),
			    (long long)((us < SPAWN_RETRY_MAX_US ? us : SPAWN_RETRY_MAX_US) / 1000));
			TAILQ_INSERT_TAIL(&commands.backoff, c, link);
			commands.n_backoff++;
			child_timer(c, STAGE_SPAWN, us < SPAWN_RETRY_MAX_US ? us : SPAWN_RETRY_MAX_US);
			return;
		}
		c->res.spawn_error = e;
		child_finish(c);
		return;
	}
	c->running = 1;
	TAILQ_INSERT_TAIL(&commands.running, c, link);
	commands.n_running++;
	if (c->spec->timeout > 0)
		child_timer(c, STAGE_TIMEOUT, c->spec->timeout);
	commands.hooks.started(c->id, c->t_start, commands.hooks.arg);
}

/* Start queued commands while slots are free, in start order. All that
 * fit in the free slots are asked may_start first, so that their answers
 * (claims, for the glue) come in one go; then the head starts while it
 * may. */
static void
command_start_queued(void)
{
	size_t free_slots, asked = 0;
	struct child *c;

	if (commands.n_running >= commands.limits.max_running)
		return;
	free_slots = commands.limits.max_running - commands.n_running;
	if (commands.hooks.may_start != NULL)
		TAILQ_FOREACH(c, &commands.queued, link) {
			if (asked++ == free_slots)
				break;
			(void)commands.hooks.may_start(c->id, commands.hooks.arg);
		}
	while (commands.n_queued > 0 && commands.n_running < commands.limits.max_running) {
		c = TAILQ_FIRST(&commands.queued);
		if (commands.hooks.may_start != NULL && !commands.hooks.may_start(c->id, commands.hooks.arg))
			break;
		TAILQ_REMOVE(&commands.queued, c, link);
		commands.n_queued--;
		command_start(c);
	}
}

void
command_kick(void)
{
	command_start_queued();
}

int
command_run(uint64_t id, struct command_spec *spec)
{
	struct child *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		struct command_result res = { .spawn_error = ENOMEM };
		command_spec_free(spec);
		commands.hooks.done(id, &res, commands.hooks.arg);
		return 0;
	}
	c->id = id;
	c->spec = spec;
	c->in_fd = c->out.fd = c->err.fd = -1;
	c->out.c = c->err.c = c;
	c->stage = STAGE_NONE;
	if ((c->timer_ev = evtimer_new(commands.base, child_timer_cb, c)) == NULL) {
		c->res.spawn_error = ENOMEM;
		child_finish(c);
		return 0;
	}
	if (commands.n_queued == 0 && commands.n_running < commands.limits.max_running) {
		command_start(c);
		return 0;
	}
	TAILQ_INSERT_TAIL(&commands.queued, c, link);
	commands.n_queued++;
	return 1;
}

/* The child for id, or NULL; *queued: 0 running, 1 queued, 2 waiting to
 * try its spawn again. */
static struct child *
command_find(uint64_t id, int *queued)
{
	struct child *c;

	*queued = 0;
	TAILQ_FOREACH(c, &commands.running, link)
		if (c->id == id)
			return c;
	*queued = 1;
	TAILQ_FOREACH(c, &commands.queued, link)
		if (c->id == id)
			return c;
	*queued = 2;
	TAILQ_FOREACH(c, &commands.backoff, link)
		if (c->id == id)
			return c;
	return NULL;
}

int
command_abort(uint64_t id)
{
	int queued;
	struct child *c = command_find(id, &queued);

	if (c == NULL)
		return 0;
	c->res.aborted = 1;
	if (queued == 1) {
		TAILQ_REMOVE(&commands.queued, c, link);
		commands.n_queued--;
		child_finish(c);
	} else if (queued == 2) {
		TAILQ_REMOVE(&commands.backoff, c, link);
		commands.n_backoff--;
		child_finish(c);
	} else
		child_terminate(c);
	return 1;
}

void
command_shutdown(void)
{
	struct child *c;
	int64_t deadline;

	while ((c = TAILQ_FIRST(&commands.queued)) != NULL) {
		TAILQ_REMOVE(&commands.queued, c, link);
		child_free(c);
	}
	while ((c = TAILQ_FIRST(&commands.backoff)) != NULL) {
		TAILQ_REMOVE(&commands.backoff, c, link);
		child_free(c);
	}
	/* What still runs gets SIGTERM, a short grace, then SIGKILL. Their
	 * calls stay "running" in the store: the next start settles them. */
	TAILQ_FOREACH(c, &commands.running, link)
		child_signal(c, SIGTERM);
	deadline = clock_loop_now() + (commands.limits.kill_grace < 2000000 ? commands.limits.kill_grace : 2000000);
	TAILQ_FOREACH(c, &commands.running, link)
		while (!c->exited && clock_loop_now() < deadline) {
			if (waitpid(c->pid, NULL, WNOHANG) == c->pid)
				c->exited = 1;
			else
				usleep(10000);
		}
	while ((c = TAILQ_FIRST(&commands.running)) != NULL) {
		TAILQ_REMOVE(&commands.running, c, link);
		child_signal(c, SIGKILL);
		if (!c->exited)
			waitpid(c->pid, NULL, 0);
		child_free(c);
	}
	if (commands.sigchld_ev != NULL)
		event_free(commands.sigchld_ev);
	commands.sigchld_ev = NULL;
	commands.n_running = commands.n_queued = commands.n_backoff = 0;
}

size_t
command_running(void)
{
	return commands.n_running;
}

size_t
command_queued(void)
{
	return commands.n_queued + commands.n_backoff;
}
