/*
 * names: the core's enumerations spelled as words on the wire (future
 * states, call phases, schedule policies): one lookup for all of them.
 */
#ifndef LOOPD_CORE_NAMES_H
#define LOOPD_CORE_NAMES_H

/* The index of s in names[0..n), or -1 (also for a NULL s). */
int names_index(const char *const *names, int n, const char *s);

#endif
