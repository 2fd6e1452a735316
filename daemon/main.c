/*
 * loopd: a daemon that lends an asyncio-style event loop over HTTP.
 *
 * main wires the modules together: config, the loop clock, futures and the
 * scheduler, the action executors, the HTTP server; then runs one libevent
 * loop until SIGTERM or SIGINT. SIGHUP reloads the config.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "daemon/action/action.h"
#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/events.h"
#include "daemon/core/future.h"
#include "daemon/core/sched.h"
#include "daemon/core/schedule.h"
#include "daemon/core/waitset.h"
#include "daemon/http/api.h"
#include "daemon/http/auth.h"
#include "daemon/http/server.h"
#include "daemon/log.h"
#include "daemon/store/store.h"

#define DEFAULT_CONFIG "/etc/loopd/loopd.conf"

/* A key set on the command line, applied over the file on every load. */
struct override {
	char *key;
	char *value;
};

static struct {
	const char *config_path;
	int config_given;
	struct override *ov;
	size_t n_ov;
	struct config cfg;
	struct event_base *base;
	struct event *status_ev;	/* STATUS= for systemctl status */
	struct event *watchdog_ev;	/* WATCHDOG=1 when WatchdogSec= is set */
	int64_t watchdog_us;
	unsigned reloads;
	struct event *drain_ev;		/* polls the drain on SIGTERM */
	int64_t drain_until;
} loopd;

#define DRAIN_POLL_US 20000

#define STATUS_US (5 * CLOCK_US_PER_S)

static void status_cb(evutil_socket_t, short, void *);
static void reload_mark(void);

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: loopd [--config FILE] [--listen HOST:PORT] [--state-dir DIR]\n"
	    "             [--token-file FILE] [-o KEY=VALUE]... [-n] [-d]\n"
	    "       loopd [-c FILE] [-o KEY=VALUE]... token add NAME SCOPE[,SCOPE...]\n"
	    "\n"
	    "  -c, --config FILE      config file (default " DEFAULT_CONFIG ", if present)\n"
	    "  -l, --listen ADDR      HOST:PORT, [ADDR]:PORT or unix:PATH (port 0: any free)\n"
	    "  -s, --state-dir DIR    where the token and the store live\n"
	    "  -t, --token-file FILE  bearer token file\n"
	    "  -o KEY=VALUE           set any config key (see etc/loopd.conf)\n"
	    "  -n                     check the configuration and exit\n"
	    "  -d, --debug            log_level = debug\n"
	    "  -h, --help             this text\n");
}

/* Remember a command-line setting. */
static void
override_add(const char *key, const char *value)
{
	struct override *ov = realloc(loopd.ov, (loopd.n_ov + 1) * sizeof(*ov));

	if (ov == NULL || (ov[loopd.n_ov].key = strdup(key)) == NULL ||
	    (ov[loopd.n_ov].value = strdup(value)) == NULL)
		fatalx("out of memory");
	loopd.ov = ov;
	loopd.n_ov++;
}

/* Build a config from defaults, the file and the overrides. Returns the
 * number of errors (all reported). */
static int
config_build(struct config *cfg)
{
	int errors;

	if (config_defaults(cfg) == -1) {
		fprintf(stderr, "loopd: out of memory\n");
		return 1;
	}
	errors = config_load(cfg, loopd.config_path, !loopd.config_given);
	for (size_t i = 0; i < loopd.n_ov; i++)
		if (config_set(cfg, loopd.ov[i].key, loopd.ov[i].value, "command line") == -1)
			errors++;
	if (errors == 0)
		errors += config_check(cfg);
	return errors;
}

/* Create dir and its parents (mode 0700 for the last). */
static int
mkdir_p(const char *dir)
{
	char buf[4096];

	if (strlen(dir) >= sizeof(buf))
		return -1;
	strcpy(buf, dir);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) == -1 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(buf, 0700) == -1 && errno != EEXIST ? -1 : 0;
}

/* Load the token named by the config (creating the default one). */
static int
token_setup(const struct config *cfg)
{
	char path[4200];

	if (!cfg->auth)
		return 0;
	if (*cfg->token_file != '\0')
		return auth_load(cfg->token_file, 0, cfg->tokens_file);
	snprintf(path, sizeof(path), "%s/token", cfg->state_dir);
	return auth_load(path, 1, cfg->tokens_file);
}

/* `loopd token add NAME SCOPES`: a new random token, its hash appended
 * to tokens_file (created 0600); the token itself is printed once, on
 * stdout, and kept nowhere. Exit status. */
static int
token_add(const struct config *cfg, int argc, char **argv)
{
	char token[128], line[512], err[160];
	unsigned scopes;
	int fd, rc = 1;

	if (argc != 4 || strcmp(argv[1], "add") != 0) {
		fprintf(stderr, "usage: loopd [-c FILE] [-o KEY=VALUE]... token add NAME "
		    "SCOPE[,SCOPE...]\n");
		return 2;
	}
	if (*cfg->tokens_file == '\0') {
		fprintf(stderr, "loopd: token add: set tokens_file in the configuration "
		    "(or -o tokens_file=PATH)\n");
		return 1;
	}
	if (auth_scopes_parse(argv[3], &scopes, err, sizeof(err)) == -1) {
		fprintf(stderr, "loopd: token add: %s\n", err);
		return 2;
	}
	if (strlen(argv[2]) == 0 || strlen(argv[2]) > 64 || strspn(argv[2],
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
	    strlen(argv[2])) {
		fprintf(stderr, "loopd: token add: NAME: 1 to 64 of A-Z a-z 0-9 _ . -\n");
		return 2;
	}
	if (auth_new_entry(argv[2], scopes, token, sizeof(token), line, sizeof(line)) == -1) {
		fprintf(stderr, "loopd: token add: cannot make a token\n");
		return 1;
	}
	if ((fd = open(cfg->tokens_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) == -1)
		fprintf(stderr, "loopd: %s: %s\n", cfg->tokens_file, strerror(errno));
	else if (write(fd, line, strlen(line)) != (ssize_t)strlen(line) || fsync(fd) == -1)
		fprintf(stderr, "loopd: write %s: %s\n", cfg->tokens_file, strerror(errno));
	else if (printf("%s\n", token) < 0 || fflush(stdout) == EOF)
		fprintf(stderr, "loopd: cannot print the token\n");
	else {
		fprintf(stderr, "loopd: token \"%s\" (%s) added to %s; reload loopd to use it\n",
		    argv[2], argv[3], cfg->tokens_file);
		rc = 0;
	}
	if (fd != -1)
		close(fd);
	explicit_bzero(token, sizeof(token));
	return rc;
}

/* Limits of each module, from the config. */
static struct future_limits
future_limits_of(const struct config *cfg)
{
	return (struct future_limits){ .max_pending = cfg->max_pending,
	    .max_pending_per_owner = cfg->max_pending_per_token, .retention = cfg->retention };
}

static struct http_limits
http_limits_of(const struct config *cfg)
{
	return (struct http_limits){ cfg->max_body, cfg->max_json_depth, cfg->max_connections,
	    cfg->max_connections_per_ip, (unsigned)(cfg->idle_timeout / CLOCK_US_PER_S),
	    *cfg->tls_cert ? cfg->tls_cert : NULL, *cfg->tls_key ? cfg->tls_key : NULL,
	    cfg->request_timeout, cfg->max_unix_connections,
	    cfg->auth ? cfg->max_admin_connections : 0 };	/* no tokens, no admin */
}

/* A reload is over, applied or not. */
static void
reload_done(void)
{
	reload_mark();
	sd_notify(0, "READY=1");
	if (loopd.status_ev != NULL)
		status_cb(-1, 0, NULL);
}

/* SIGHUP: read the config again and apply what can change live. A bad
 * config is reported and the running one kept. */
static void
reload(void)
{
	struct config next;
	struct future_limits fl;
	struct http_limits hl;

	sd_notify(0, "RELOADING=1");
	log_info("reloading %s", loopd.config_path);
	if (config_build(&next) != 0) {
		log_warnx("reload: configuration has errors; keeping the running one");
		config_free(&next);
		reload_done();
		return;
	}
	if (strcmp(next.state_dir, loopd.cfg.state_dir) != 0)
		log_warnx("reload: state_dir changes need a restart");
	if (next.auth && token_setup(&next) == -1) {
		log_warnx("reload: a token file is unreadable or wrong; keeping the running "
		    "configuration");
		config_free(&next);
		reload_done();
		return;
	}
	config_free(&loopd.cfg);
	loopd.cfg = next;
	log_set_level((enum log_level)loopd.cfg.log_level);
	fl = future_limits_of(&loopd.cfg);
	hl = http_limits_of(&loopd.cfg);
	future_set_limits(&fl);
	sched_set_horizon(loopd.cfg.horizon);
	sched_set_claim_ahead(loopd.cfg.claim_ahead);
	schedule_set_limits(&(struct schedule_limits){ loopd.cfg.max_schedules,
	    loopd.cfg.schedule_min_interval });
	{
		char zerr[256];
		if (schedule_reload_zones(zerr, sizeof(zerr)) == -1)
			log_warnx("reload: zone data: %s (the zone keeps its old data)", zerr);
	}
	if (action_configure(&loopd.cfg) == -1)
		log_warnx("reload: the signing secret could not be read; keeping the old one");
	http_set_limits(&hl);
	api_configure(loopd.base, &loopd.cfg);
	reload_done();
	log_info("reloaded");
}

/* Draining: stop once nothing runs any more, or the grace is over. */
static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = clock_timeval(DRAIN_POLL_US);
	size_t running = sched_count_dispatched();

	if (running == 0 || clock_loop_now() >= loopd.drain_until) {
		if (running > 0)
			log_warnx("drain: %zu calls still running after drain_grace; stopping "
			    "them", running);
		event_base_loopbreak(loopd.base);
		return;
	}
	evtimer_add(loopd.drain_ev, &tv);
}

/* SIGTERM, SIGINT and SIGHUP, delivered through the loop. SIGTERM and
 * SIGINT drain (see drain_grace); a second one stops at once. */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		reload();
		return;
	}
	if (loopd.drain_ev != NULL) {
		log_info("received SIG%s again: stopping now", sigabbrev_np((int)sig));
		event_base_loopbreak(loopd.base);
		return;
	}
	log_info("received SIG%s: draining (%zu calls running), then stopping",
	    sigabbrev_np((int)sig), sched_count_dispatched());
	sd_notify(0, "STOPPING=1");
	http_quiesce();
	sched_pause();
	loopd.drain_until = clock_loop_now() + loopd.cfg.drain_grace;
	if ((loopd.drain_ev = evtimer_new(loopd.base, drain_cb, NULL)) == NULL) {
		event_base_loopbreak(loopd.base);
		return;
	}
	drain_cb(-1, 0, NULL);
}

/* Tell systemd what we hold (shown by systemctl status). */
static void
status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = clock_timeval(STATUS_US);

	sd_notifyf(0, "STATUS=%zu calls and %zu futures pending, %zu commands running, "
	    "%zu waiters%s", future_count_pending_kind(FUTURE_CALL),
	    future_count_pending_kind(FUTURE_PLAIN), sched_count_dispatched(), http_held(),
	    store_writable() ? "" : "; store NOT writable");
	evtimer_add(loopd.status_ev, &tv);
}

/* The loop is alive: tell the watchdog, at a third of its period. */
static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = clock_timeval(loopd.watchdog_us / 3);

	sd_notify(0, "WATCHDOG=1");
	evtimer_add(loopd.watchdog_ev, &tv);
}

/* Start the service-manager timers (no-ops without systemd). */
static void
service_start(void)
{
	uint64_t usec;

	if ((loopd.status_ev = evtimer_new(loopd.base, status_cb, NULL)) != NULL)
		status_cb(-1, 0, NULL);
	if (sd_watchdog_enabled(1, &usec) > 0 && usec > 0 &&
	    (loopd.watchdog_ev = evtimer_new(loopd.base, watchdog_cb, NULL)) != NULL) {
		loopd.watchdog_us = (int64_t)usec;
		watchdog_cb(-1, 0, NULL);
	}
}

/* Stop them. */
static void
service_stop(void)
{
	if (loopd.status_ev != NULL)
		event_free(loopd.status_ev);
	if (loopd.watchdog_ev != NULL)
		event_free(loopd.watchdog_ev);
	loopd.status_ev = loopd.watchdog_ev = NULL;
}

/* Count a finished reload where ExecReload= can see it:
 * $RUNTIME_DIRECTORY/reloads holds the number of reloads done. */
static void
reload_mark(void)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");
	char path[4200], tmp[4300];
	FILE *f;

	loopd.reloads++;
	if (dir == NULL || *dir == '\0')
		return;
	snprintf(path, sizeof(path), "%.*s/reloads", (int)strcspn(dir, ":"), dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "we")) == NULL) {
		log_warn("%s", tmp);
		return;
	}
	fprintf(f, "%u\n", loopd.reloads);
	if (fclose(f) != 0 || rename(tmp, path) == -1)
		log_warn("%s", path);
}

/* Whether an Authorization header carries a token with the admin scope:
 * served past the TCP connection limits (max_admin_connections). */
static int
token_is_admin(const char *authorization)
{
	struct auth_who who;

	return auth_check(authorization, &who) && (who.scopes & AUTH_ADMIN);
}

/* The store committed (or failed to): release the replies it held. */
static void
commit_done(int ok, uint64_t seq, void *arg)
{
	waitset_commit_done(ok, seq);
	events_commit_done(ok, seq);
	schedule_commit_done(ok, seq);
	http_commit_done(ok, seq);
}

/* Let thousands of long-polls hold a socket each. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "token-file", required_argument, NULL, 't' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct event_config *ecfg;
	struct event *sigs[3];
	static const int signums[3] = { SIGTERM, SIGINT, SIGHUP };
	struct sched_actions ops;
	struct future_limits fl;
	struct http_limits hl;
	struct clock_anchor anchor;
	long restored;
	int nfds, fds[8];
	int ch, check_only = 0;
	char *eq;

	loopd.config_path = DEFAULT_CONFIG;
	if (argc == 2 && strcmp(argv[1], "--version") == 0) return printf("loopd %s\n", LOOPD_VERSION) < 0;
	while ((ch = getopt_long(argc, argv, "c:l:s:t:o:ndh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': loopd.config_path = optarg; loopd.config_given = 1; break;
		case 'l': override_add("listen", optarg); break;
		case 's': override_add("state_dir", optarg); break;
		case 't': override_add("token_file", optarg); break;
		case 'd': override_add("log_level", "debug"); break;
		case 'n': check_only = 1; break;
		case 'o':
			if ((eq = strchr(optarg, '=')) == NULL) {
				fprintf(stderr, "loopd: -o takes KEY=VALUE\n");
				return 2;
			}
			*eq = '\0';
			override_add(optarg, eq + 1);
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc && strcmp(argv[optind], "token") != 0) {
		usage(stderr);
		return 2;
	}
	if (config_build(&loopd.cfg) != 0)
		return 1;
	if (optind != argc) {
		ch = token_add(&loopd.cfg, argc - optind, argv + optind);
		config_free(&loopd.cfg);
		return ch;
	}
	if (check_only) {
		/* The tokens file is read at start and on reload: check it too
		 * (errors as file:line), without holding any token. */
		if (*loopd.cfg.tokens_file != '\0' && auth_check_file(loopd.cfg.tokens_file) == -1) {
			fprintf(stderr, "loopd: tokens_file %s has errors\n", loopd.cfg.tokens_file);
			config_free(&loopd.cfg);
			return 1;
		}
		printf("loopd: configuration OK\n");
		config_free(&loopd.cfg);
		return 0;
	}
	log_set_level((enum log_level)loopd.cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	if (mkdir_p(loopd.cfg.state_dir) == -1)
		fatal("state directory %s", loopd.cfg.state_dir);
	if (token_setup(&loopd.cfg) == -1)
		fatalx("cannot set up the API token");
	if (store_open(loopd.cfg.state_dir, &anchor) == -1)
		fatalx("cannot open the store in %s", loopd.cfg.state_dir);

	/* Precise timers: libevent's default cached clock fires up to a
	 * millisecond early, and a call must never start before its time.
	 * Timers that fall due while a pass runs many callbacks (slices of a
	 * burst, I/O) are not left for the end of it: past 1 ms libevent
	 * polls again, and what is due at priority 0 (timeouts, the store's
	 * batches) runs next (issue 13). */
	if ((ecfg = event_config_new()) == NULL ||
	    event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER) == -1 ||
	    event_config_set_max_dispatch_interval(ecfg, &(struct timeval){ 0, 1000 }, -1,
	    0) == -1 ||
	    (loopd.base = event_base_new_with_config(ecfg)) == NULL ||
	    event_base_priority_init(loopd.base, 2) == -1)
		fatalx("cannot create the event loop");
	event_config_free(ecfg);
	/* Handlers first: a signal that comes while we start is handled once
	 * the loop runs, not by the default action. */
	for (int i = 0; i < 3; i++)
		if ((sigs[i] = evsignal_new(loopd.base, signums[i], signal_cb, NULL)) == NULL ||
		    event_add(sigs[i], NULL) == -1)
			fatalx("cannot handle signals");

	/* Loop time continues from the stored anchor. Then the objects come
	 * back, the scheduler puts pending ones in place (changes from here
	 * on are stored), and only then does anyone get in. */
	clock_resume(&anchor);
	fl = future_limits_of(&loopd.cfg);
	hl = http_limits_of(&loopd.cfg);
	if (future_init(loopd.base, &fl) == -1)
		fatalx("cannot start the scheduler");
	if (schedule_init(NULL, &(struct schedule_limits){ loopd.cfg.max_schedules,
	    loopd.cfg.schedule_min_interval }) == -1)
		fatalx("cannot start the schedules");
	if ((restored = store_load()) == -1)
		fatalx("cannot read the store in %s", loopd.cfg.state_dir);
	if (action_init(loopd.base, &loopd.cfg, &ops) == -1 ||
	    sched_init(loopd.base, &ops, loopd.cfg.horizon) == -1 ||
	    store_start(loopd.base, commit_done, NULL) == -1)
		fatalx("cannot start the scheduler");
	sched_set_claim_ahead(loopd.cfg.claim_ahead);
	sched_recover(store_lease_end());
	schedule_recover();	/* missed occurrences, the next ones */
	waitset_set_durability(store_pending);	/* waitsets end on durable state */
	/* Live events (GET /v1/events), published once durable too; numbered
	 * from the wall clock, so a later run's numbers are higher. */
	if (events_init((size_t)loopd.cfg.event_ring, (uint64_t)clock_unix_now()) == -1)
		fatalx("cannot start the event ring");
	events_set_durability(store_pending);
	schedule_set_durability(store_pending);	/* undone if never stored */
	log_info("store: %ld objects restored, %zu pending", restored, future_count_pending());
	api_configure(loopd.base, &loopd.cfg);
	if ((nfds = sd_listen_fds(1)) < 0)
		fatalx("sockets from the service manager: %s", strerror(-nfds));
	for (int i = 0; i < nfds && i < 8; i++)
		fds[i] = SD_LISTEN_FDS_START + i;
	if (http_start(loopd.base, loopd.cfg.listen, fds, (size_t)(nfds < 8 ? nfds : 8), &hl,
	    &(struct http_hooks){ api_dispatch, store_pending, store_fault, token_is_admin }) == -1)
		fatalx("cannot listen");
	service_start();

	sd_notify(0, "READY=1");
	log_info("ready: state in %s", loopd.cfg.state_dir);
	event_base_dispatch(loopd.base);
	service_stop();
	if (loopd.drain_ev != NULL)
		event_free(loopd.drain_ev);

	store_flush();		/* releases replies waiting for a commit */
	http_stop();
	api_events_shutdown();
	events_shutdown();
	action_shutdown();
	store_close();
	schedule_shutdown();
	sched_shutdown();
	future_shutdown();
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	event_base_free(loopd.base);
	auth_free();
	config_free(&loopd.cfg);
	for (size_t i = 0; i < loopd.n_ov; i++) {
		free(loopd.ov[i].key);
		free(loopd.ov[i].value);
	}
	free(loopd.ov);
	log_info("stopped");
	return 0;
}
