/*
 * loopctl: what the command modules share -- the invocation context, the
 * option parser that also takes the global options, and the exit statuses.
 */
#ifndef CLIENT_LOOPCTL_H
#define CLIENT_LOOPCTL_H

#include <getopt.h>
#include <stdint.h>

#include <jansson.h>

/* Exit statuses (API.md section 8). */
#define CTL_EXIT_OK		0
#define CTL_EXIT_FAIL		1	/* the daemon or the network said no */
#define CTL_EXIT_USAGE		2
#define CTL_EXIT_TIMEOUT	124	/* a wait timed out */
#define CTL_EXIT_BROKEN		125	/* loopctl or the daemon failed while waiting */

struct wire;
struct ctl_cmd;

/* One invocation of loopctl. */
struct ctl {
	const char		*url;
	const char		*token_file;	/* --token-file, or NULL */
	int			 json;		/* --json: print the daemon's objects */
	int			 show_secrets;	/* --show-secrets: no redaction */
	const struct ctl_cmd	*cmd;		/* the command being run */
	struct wire		*http;		/* opened on first use */
};

/* A command: one or two words, a handler and its help. */
struct ctl_cmd {
	const char	*word;
	const char	*word2;		/* subcommand, or NULL */
	int		(*run)(struct ctl *, int, char **);
	const char	*args;		/* synopsis after the words */
	const char	*help;		/* option lines, or NULL */
	const char	*about;		/* one line for the command list */
};

/* loopctl.c */

/* getopt_long() over the command's OPTS plus the global options, which it
 * handles itself along with --help. Returns what getopt_long() returns for
 * the command's own options, or -1; exits 2 on an unknown option. */
int	 ctl_getopt(struct ctl *, int, char **, const char *,
	    const struct option *);

/* For a command with no options of its own: parse the global ones and
 * check that MIN to MAX (-1: any number) arguments remain. Returns the
 * index of the first. */
int	 ctl_args(struct ctl *, int, char **, const char *, int, int);

/* Say what is wrong (FMT may be NULL), show the synopsis, exit 2. */
void	 ctl_usage(struct ctl *, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

/* "loopctl: " and the message on stderr. */
void	 ctl_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));

/* "loopctl: ID: TYPE: MESSAGE" for the exception object EXC. */
void	 ctl_warn_exception(const char *, const json_t *);

/* The HTTP client, opened with the URL and token on first use. */
struct wire *ctl_http(struct ctl *);

/* Where the token came from, or why there is none (after ctl_http). */
const char *ctl_token_source(void);

/* Send a request, stealing BODY (may be NULL); HOLD is how long the daemon
 * may hold it. Returns 0 with *REPLY set, or -1 after reporting why. */
int	 ctl_request(struct ctl *, const char *, const char *, json_t *,
	    double, json_t **);

/* ctl_request without the report: the reason stays in *ERR. */
struct wire_error;
int	 ctl_try(struct ctl *, const char *, const char *, json_t *, double,
	    json_t **, struct wire_error *);

/* Report ERR on stderr as ctl_request does. */
void	 ctl_report(const struct ctl *, const struct wire_error *);

/* Whether ERR may pass if asked again: no connection or reply (loopd
 * restarting), or 502, 503, 504. */
int	 ctl_transient(const struct wire_error *);

/* Seconds in duration S given to option OPT; a bad one is a usage error. */
double	 ctl_duration(struct ctl *, const char *, const char *);

/* The argument S given as WHAT as a JSON string; text that is not UTF-8
 * is a usage error. */
json_t	*ctl_string(struct ctl *, const char *, const char *);

/* JSON text S given as WHAT, parsed; bad JSON is a usage error. */
json_t	*ctl_json_arg(struct ctl *, const char *, const char *);

/* Unless --show-secrets: replace the values of environment variables and
 * headers named like secrets (*TOKEN*, *SECRET*, *PASSWORD*, *PASSWD*,
 * *API_KEY*, *APIKEY*, *COOKIE*, Authorization) in call object OBJ, or in
 * each call of an array of them, with "(redacted)". */
void	 ctl_redact(const struct ctl *, json_t *);

/* Seconds on the local monotonic clock. */
double	 ctl_now(void);

/* The Unix time now, from the system clock. */
double	 ctl_unix_now(void);

/* Whether a person watches: no --json and both stdout and stderr are
 * terminals. Then waits show what they wait for on stderr. */
int	 ctl_progress(const struct ctl *);

/* cmd_schedule.c */
int	 cmd_schedule(struct ctl *, int, char **);
int	 cmd_on_done(struct ctl *, int, char **);

/* cmd_inspect.c */
int	 cmd_ls(struct ctl *, int, char **);
int	 cmd_show(struct ctl *, int, char **);
int	 cmd_time(struct ctl *, int, char **);
int	 cmd_status(struct ctl *, int, char **);
int	 cmd_ui(struct ctl *, int, char **);

/* cmd_future.c */
int	 cmd_future_new(struct ctl *, int, char **);
int	 cmd_future_set(struct ctl *, int, char **);
int	 cmd_future_fail(struct ctl *, int, char **);
int	 cmd_future_cancel(struct ctl *, int, char **);
int	 cmd_cancel(struct ctl *, int, char **);
int	 cmd_await(struct ctl *, int, char **);
int	 cmd_wait(struct ctl *, int, char **);
int	 cmd_gather(struct ctl *, int, char **);

/* cmd_cron.c */
int	 cmd_cron_next(struct ctl *, int, char **);
int	 cmd_logs(struct ctl *, int, char **);
int	 cmd_cron_add(struct ctl *, int, char **);
int	 cmd_cron_ls(struct ctl *, int, char **);
int	 cmd_cron_show(struct ctl *, int, char **);
int	 cmd_cron_pause(struct ctl *, int, char **);
int	 cmd_cron_resume(struct ctl *, int, char **);
int	 cmd_cron_trigger(struct ctl *, int, char **);
int	 cmd_cron_rm(struct ctl *, int, char **);

/* cmd_schedule.c: the action options of on-done (a command after --, or
 * --webhook URL, and --name, --retry...) as a request body. */
json_t	*sched_action_body(struct ctl *, int, char **);

#endif
