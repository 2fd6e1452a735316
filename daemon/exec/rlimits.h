/*
 * rlimits: resource limits for commands' processes (command_rlimits:
 * NAME=VALUE with NAME one of as, core, cpu, data, fsize, memlock,
 * nofile, nproc, stack; sizes like 64M, the others counts).
 */
#ifndef LOOPD_EXEC_RLIMITS_H
#define LOOPD_EXEC_RLIMITS_H

#include <sys/types.h>

/* Whether every entry of list is NAME=VALUE with a known name and a size
 * or count; *bad gets the first that is not. 1 or 0. */
int rlimits_valid(char **list, const char **bad);
/* Take the limits of list (NULL: none). 0, or -1 (invalid or ENOMEM: the
 * old ones are kept). */
int rlimits_set(char **list);
/* Apply them to a process just started. 0, or an errno. */
int rlimits_apply(pid_t pid);
/* Forget them. */
void rlimits_free(void);

#endif
