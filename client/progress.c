/*
 * progress: the status line of a wait, redrawn at about 10 Hz from the
 * HTTP client's tick while a long poll is held, and erased when done.
 */
#include "client/progress.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "client/wire.h"
#include "client/loopctl.h"
#include "client/output.h"

#define PROGRESS_HZ	10

/* Whether a line is on the terminal, for the signal handler. */
static volatile sig_atomic_t progress_shown;

/* What to say if SIGINT ends the wait, and its length (0: nothing). */
static char progress_note_text[512];
static volatile sig_atomic_t progress_note_len;

/* On SIGINT or SIGTERM: erase the line, say what goes on, then die of
 * the signal. */
static void
progress_signal(int sig)
{
	if (progress_shown)
		(void)!write(STDERR_FILENO, "\r\033[K", 4);
	if (sig == SIGINT && progress_note_len > 0)
		(void)!write(STDERR_FILENO, progress_note_text,
		    (size_t)progress_note_len);
	signal(sig, SIG_DFL);
	raise(sig);
}

void
progress_note(const char *text)
{
	progress_note_len = 0;
	if (text == NULL)
		return;
	snprintf(progress_note_text, sizeof(progress_note_text), "%s", text);
	progress_note_len = (sig_atomic_t)strlen(progress_note_text);
	signal(SIGINT, progress_signal);
}

/* Draw the line now: WHO: VERB CLOCK  (TAIL), cut to the terminal's width
 * so that \r can take it back. */
static void
progress_draw(struct progress *p)
{
	struct winsize ws;
	char line[512], d[32];
	double now = ctl_now();
	int width = 80, n;

	if (*p->who == '\0')
		return;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		width = ws.ws_col;
	n = snprintf(line, sizeof(line), "%s: %s", p->who, p->verb);
	if (p->mode == PROGRESS_UNTIL && p->at > now)
		n += snprintf(line + n, sizeof(line) - n, "due in %s",
		    output_duration(p->at - now, d, sizeof(d)));
	else if (p->mode == PROGRESS_UNTIL)
		n += snprintf(line + n, sizeof(line) - n, "due, starting");
	else if (p->mode == PROGRESS_SINCE)
		n += snprintf(line + n, sizeof(line) - n, "%s%s",
		    *p->verb != '\0' ? " " : "",
		    output_duration(now - p->at, d, sizeof(d)));
	if (*p->tail != '\0' && n < (int)sizeof(line))
		snprintf(line + n, sizeof(line) - n, "  (%s)", p->tail);
	fprintf(stderr, "\r%.*s\033[K", width - 1, line);
	fflush(stderr);
	p->drawn = now;
	progress_shown = 1;
}

/* The HTTP tick: redraw if a tenth of a second has passed. */
static void
progress_tick(void *arg)
{
	struct progress *p = arg;

	if (ctl_now() - p->drawn >= 1.0 / PROGRESS_HZ)
		progress_draw(p);
}

void
progress_start(struct progress *p, struct ctl *ctl)
{
	json_t *t = NULL;
	double before;

	memset(p, 0, sizeof(*p));
	p->ctl = ctl;
	if (progress_note_len > 0)
		signal(SIGINT, progress_signal);
	if (!(p->on = ctl_progress(ctl)))
		return;
	before = ctl_now();
	if (ctl_request(ctl, "GET", "/v1/time", NULL, 0, &t) == 0 &&
	    json_is_number(json_object_get(t, "loop_time"))) {
		p->skew = json_number_value(json_object_get(t, "loop_time")) -
		    (before + ctl_now()) / 2;
		p->have_skew = 1;
	}
	json_decref(t);
	signal(SIGINT, progress_signal);
	signal(SIGTERM, progress_signal);
	wire_set_tick(ctl_http(ctl), progress_tick, p);
}

void
progress_set(struct progress *p, const char *who)
{
	if (!p->on)
		return;
	snprintf(p->who, sizeof(p->who), "%s", who);
	*p->verb = *p->tail = '\0';
	p->mode = PROGRESS_SINCE;
	p->at = ctl_now();
	progress_draw(p);
}

double
progress_follow(struct progress *p, const json_t *obj, double hold)
{
	const char *id, *phase, *name, *on;
	const char *key = NULL;
	char *action;
	double until;

	if (!p->on)
		return hold;
	id = json_string_value(json_object_get(obj, "id"));
	name = json_string_value(json_object_get(obj, "name"));
	phase = json_string_value(json_object_get(obj, "phase"));
	on = json_string_value(json_object_get(obj, "on_done"));
	snprintf(p->who, sizeof(p->who), "%s%s%s%s", id != NULL ? id : "?",
	    name != NULL ? " [" : "", name != NULL ? name : "",
	    name != NULL ? "]" : "");
	*p->verb = *p->tail = '\0';
	p->mode = PROGRESS_PLAIN;
	if (phase != NULL) {
		action = output_action(obj);
		snprintf(p->tail, sizeof(p->tail), "%s", action);
		free(action);
	}

	/* A future counts up from its creation, a call from its start or
	 * down to its due time; waiting calls wait for their future. */
	if (phase == NULL) {
		snprintf(p->verb, sizeof(p->verb), "pending");
		key = "created";
		p->mode = PROGRESS_SINCE;
	} else if (strcmp(phase, "scheduled") == 0) {
		key = "due";
		p->mode = PROGRESS_UNTIL;
	} else if (strcmp(phase, "running") == 0) {
		snprintf(p->verb, sizeof(p->verb), "running");
		key = "started";
		p->mode = PROGRESS_SINCE;
	} else if (on != NULL)
		snprintf(p->verb, sizeof(p->verb), "after %s", on);
	else
		snprintf(p->verb, sizeof(p->verb), "%s", phase);
	/* Loop times become local ones through the skew read at the start. */
	if (key == NULL || !p->have_skew ||
	    !json_is_number(json_object_get(obj, key)))
		p->mode = PROGRESS_PLAIN;
	else
		p->at = json_number_value(json_object_get(obj, key)) - p->skew;
	progress_draw(p);

	/* Read a scheduled call again just after it falls due, so that the
	 * line can say it runs; once due, leave it to the long poll. */
	if (p->mode == PROGRESS_UNTIL && (until = p->at - ctl_now()) > 0 &&
	    until + 0.05 < hold)
		hold = until + 0.05;
	return hold;
}

void
progress_stop(struct progress *p)
{
	if (!p->on)
		return;
	wire_set_tick(ctl_http(p->ctl), NULL, NULL);
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		progress_shown = 0;
	}
	if (progress_note_len == 0)
		signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	p->on = 0;
}
