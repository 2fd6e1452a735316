/*
 * evbase: an event base for the unit tests, made as loopd's main.c makes
 * it, so that they run on loopd's clock.
 */
#ifndef TESTS_UNIT_EVBASE_H
#define TESTS_UNIT_EVBASE_H

#include <event2/event.h>

/* A base with precise timers (with libevent's default coarse clock a
 * timer may run up to a tick, 4 ms, before its time by CLOCK_MONOTONIC,
 * the clock loopd's loop time is read from) and, when priorities > 0,
 * that many priorities (main.c's 2: timeouts ahead of slices). NULL when
 * one cannot be had. */
static inline struct event_base *
evbase_new(int priorities)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	if (cfg == NULL)
		return NULL;
	if (event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == 0)
		base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (base != NULL && priorities > 0 && event_base_priority_init(base, priorities) == -1) {
		event_base_free(base);
		base = NULL;
	}
	return base;
}

#endif
