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

/* Poll future ID until it is done or TIMEOUT seconds pass (no limit if
 * negative), showing progress to a person. Stores the last object seen in
 * *OBJ (the caller owns it; NULL on AWAIT_ERROR). Returns AWAIT_*. */
int	 await_future(struct ctl *, const char *, double, json_t **);

/* How long to ask the daemon to hold the next poll of a wait that ends
 * at local time DEADLINE (if TIMEOUT is not negative): what is left, at
 * most AWAIT_HOLD; 0 once the deadline has passed. */
double	 await_hold(double, double);

/* Whether OBJ, a future or call object, is done. */
int	 await_done(const json_t *);

#endif
