/*
 * await: long-poll a future (or call) until it is done, as "await fut".
 */
#ifndef CLIENT_AWAIT_H
#define CLIENT_AWAIT_H

#include <jansson.h>

struct ctl;

#define AWAIT_ERROR	-1	/* reported on stderr */
#define AWAIT_DONE	0
#define AWAIT_TIMEOUT	1

/* How long loopctl asks the daemon to hold one poll; the daemon may cap it
 * lower (max_wait), and loopctl then asks again. */
#define AWAIT_HOLD	300.0

/* Backoff between attempts while loopd does not answer a wait, and how
 * long a wait without a timeout keeps trying. */
#define AWAIT_BACKOFF_MIN	0.05
#define AWAIT_BACKOFF_MAX	2.0
#define AWAIT_RECONNECT_MAX	600.0

/* How a wait's requests are tried again while loopd does not answer. */
struct await_retry {
	double	 backoff;	/* the next pause */
	double	 give_up;	/* local time; < 0: not failing now */
	double	 timeout;	/* the wait's (< 0: none) */
	int	 said;		/* a person was told */
};

#define AWAIT_RETRY	2	/* loopd did not answer: ask again */

/* Start trying for a wait with TIMEOUT (none if negative) that ends at
 * local time DEADLINE. */
void	 await_retry_init(struct await_retry *, double, double);

/* Send METHOD PATH with BODY (not stolen; may be NULL), held HOLD.
 * Returns 0 with *REPLY set; AWAIT_RETRY after a pause (backoff) when
 * loopd did not answer (restarting: no connection, 502/503/504) and the
 * wait may go on, the caller then asking again with what is left;
 * AWAIT_TIMEOUT once its deadline passed so; AWAIT_ERROR after reporting
 * anything else. */
int	 await_request(struct ctl *, const char *, const char *, json_t *,
	    double, struct await_retry *, json_t **);

/* The exit status of a done call CALL whose command failed, as --wait
 * gives it: its exit status, 128+N for signal N, 124 for a timeout, 125
 * if it could not run; FALLBACK for anything else. */
int	 await_status(const json_t *, int);

/* Poll future ID until it is done or TIMEOUT seconds pass (no limit if
 * negative), showing progress to a person, across restarts of loopd.
 * Stores the last object seen in *OBJ (the caller owns it; NULL on
 * AWAIT_ERROR, and on AWAIT_TIMEOUT if loopd never answered). Returns
 * AWAIT_*. */
int	 await_future(struct ctl *, const char *, double, json_t **);

/* How long to ask the daemon to hold the next poll of a wait that ends
 * at local time DEADLINE (if TIMEOUT is not negative): what is left, at
 * most AWAIT_HOLD; 0 once the deadline has passed. */
double	 await_hold(double, double);

/* Whether OBJ, a future or call object, is done. */
int	 await_done(const json_t *);

#endif
