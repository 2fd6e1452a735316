/*
 * log: stderr logging with levels. Under systemd (JOURNAL_STREAM set) each
 * line carries a syslog-style <N> prefix so journald keeps the priority.
 * Run lines (log_run) go to the journal natively, with fields, when stderr
 * is the journal's stream, and pass a token bucket so that a flood of
 * calls cannot flood the journal.
 */
#include "daemon/log.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-journal.h>

static enum log_level log_level = LOG_LEVEL_INFO;

void
log_set_level(enum log_level level)
{
	log_level = level;
}

int
log_parse_level(const char *s, enum log_level *out)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

int
log_enabled(enum log_level level)
{
	return level <= log_level;
}

/* Print one line: "loopd: [level] message[: strerror]". */
static void __attribute__((format(printf, 3, 0)))
log_vline(enum log_level level, int err, const char *fmt, va_list ap)
{
	static const char *tags[] = { "error", "warn", "info", "debug" };
	static const int prio[] = { 3, 4, 6, 7 };
	char msg[2048];

	static int journal = -1;
	char pfx[8] = "";

	if (!log_enabled(level))
		return;
	if (journal == -1)
		journal = getenv("JOURNAL_STREAM") != NULL;
	if (journal)
		snprintf(pfx, sizeof(pfx), "<%d>", prio[level]);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err != 0)
		fprintf(stderr, "%sloopd: %s: %s: %s\n", pfx, tags[level], msg,
		    strerror(err));
	else
		fprintf(stderr, "%sloopd: %s: %s\n", pfx, tags[level], msg);
}

#define LOG_BODY(level, err) do {		\
	va_list ap;				\
	va_start(ap, fmt);			\
	log_vline(level, err, fmt, ap);		\
	va_end(ap);				\
} while (0)

void log_warn(const char *fmt, ...) { int e = errno; LOG_BODY(LOG_LEVEL_WARN, e); }
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_WARN, 0); }
void log_info(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_INFO, 0); }
void log_debug(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_DEBUG, 0); }

void
fatal(const char *fmt, ...)
{
	int e = errno;

	LOG_BODY(LOG_LEVEL_ERROR, e);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 0);
	exit(1);
}

/* The run lines' token bucket. */
static struct {
	unsigned rate;			/* tokens a second, and the burst; 0: no limit */
	double tokens;
	double at;			/* monotonic seconds of the last refill */
	unsigned long suppressed;	/* lines refused since the last summary */
	int journal;			/* -1 unknown, 0 stderr, 1 journal */
} run_lines = { 100, 100, 0, 0, -1 };

void
log_run_set_rate(unsigned per_second)
{
	run_lines.rate = per_second;
	if (run_lines.tokens > per_second)
		run_lines.tokens = per_second;
}

/* Whether stderr is the journal's stream ($JOURNAL_STREAM is its
 * device:inode), as systemd tells services to check. */
static int
log_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(2, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Take a token from the bucket: 1 if one was there. */
static int
log_run_token(void)
{
	struct timespec ts;
	double now;

	if (run_lines.rate == 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (run_lines.at > 0)
		run_lines.tokens += (now - run_lines.at) * run_lines.rate;
	if (run_lines.tokens > run_lines.rate)
		run_lines.tokens = run_lines.rate;
	run_lines.at = now;
	if (run_lines.tokens < 1)
		return 0;
	run_lines.tokens -= 1;
	return 1;
}

/* Write one run line: to the journal with its fields, or to stderr (also
 * when the journal refuses it). */
static void
log_run_emit(int warn, const char *call_id, const char *name, const char *outcome,
    const char *msg)
{
	static char ident[] = "SYSLOG_IDENTIFIER=loopd";
	char f_msg[2100], f_pri[16], f_id[64], f_name[600], f_out[64];
	struct iovec iov[6];
	int n = 0;

	if (run_lines.journal == -1)
		run_lines.journal = log_is_journal();
	if (run_lines.journal) {
#define FIELD(buf, ...) do {						\
	snprintf(buf, sizeof(buf), __VA_ARGS__);			\
	iov[n].iov_base = buf;						\
	iov[n++].iov_len = strlen(buf);					\
} while (0)
		FIELD(f_msg, "MESSAGE=%s", msg);
		FIELD(f_pri, "PRIORITY=%d", warn ? 4 : 6);
		if (call_id != NULL)
			FIELD(f_id, "LOOPD_CALL_ID=%s", call_id);
		if (name != NULL)
			FIELD(f_name, "LOOPD_NAME=%s", name);
		if (outcome != NULL)
			FIELD(f_out, "LOOPD_OUTCOME=%s", outcome);
#undef FIELD
		iov[n].iov_base = ident;
		iov[n++].iov_len = sizeof(ident) - 1;
		if (sd_journal_sendv(iov, n) >= 0)
			return;
	}
	if (warn)
		log_warnx("%s", msg);
	else
		log_info("%s", msg);
}

unsigned long
log_run_flush(void)
{
	char msg[96];

	if (run_lines.suppressed == 0 || !log_run_token())
		return run_lines.suppressed;
	snprintf(msg, sizeof(msg), "%lu run lines suppressed (more than %u a second)",
	    run_lines.suppressed, run_lines.rate);
	run_lines.suppressed = 0;
	log_run_emit(1, NULL, NULL, "suppressed", msg);
	return 0;
}

int
log_run(int warn, const char *call_id, const char *name, const char *outcome,
    const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (!log_enabled(warn ? LOG_LEVEL_WARN : LOG_LEVEL_INFO))
		return 0;
	log_run_flush();
	if (!log_run_token()) {
		run_lines.suppressed++;
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_run_emit(warn, call_id, name, outcome, msg);
	return 0;
}
