/*
 * progress: one status line on stderr while loopctl waits on a terminal --
 * what it waits for and, for a timed call, a countdown to its due time.
 */
#ifndef CLIENT_PROGRESS_H
#define CLIENT_PROGRESS_H

#include <jansson.h>

struct ctl;

/* The line being shown. Times are on the local monotonic clock. */
struct progress {
	struct ctl	*ctl;
	int		 on;		/* a person is watching */
	int		 have_skew;
	double		 skew;		/* loop time minus local time */
	double		 drawn;		/* when the line was last drawn */
	double		 at;		/* counted down to or up from */
	int		 mode;		/* PROGRESS_* */
	char		 who[128];	/* what is waited for; "" draws nothing */
	char		 verb[64];	/* what it does: "running", "pending" */
	char		 tail[256];	/* its action, cut first to fit */
};

#define PROGRESS_PLAIN	0	/* no clock */
#define PROGRESS_UNTIL	1	/* "due in 2.5s" */
#define PROGRESS_SINCE	2	/* "running 2.5s" */

/* Start showing progress for CTL if a person watches; reads the loop time
 * once so that due times can be counted down. */
void	 progress_start(struct progress *, struct ctl *);

/* Show WHAT with a clock counting up from now. */
void	 progress_set(struct progress *, const char *);

/* Show what the call or future object OBJ is doing. Returns HOLD, or less
 * if the object should be read again sooner (when it falls due). */
double	 progress_follow(struct progress *, const json_t *, double);

/* TEXT (copied) is written on stderr if SIGINT ends the wait from now on
 * (whether or not a person watches); NULL says nothing again. */
void	 progress_note(const char *);

/* Erase the line and stop. */
void	 progress_stop(struct progress *);

#endif
