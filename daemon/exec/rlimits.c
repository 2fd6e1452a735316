/*
 * rlimits: the resource limits of commands (command_rlimits), parsed once
 * and applied with prlimit(2) right after a child starts: before its
 * program's main() normally runs, but a guard against runaways, not a
 * sandbox (the unit's own limits and sandboxing are).
 */
#include "daemon/exec/rlimits.h"

#include <sys/resource.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/units.h"

struct rlim {
	int resource;
	rlim_t value;
};

static struct {
	struct rlim *v;
	size_t n;
} rlimits;

/* The resources command_rlimits may name. */
static const struct {
	const char *name;
	int resource;
	int is_size;		/* a size (64M) rather than a count */
} rlimit_names[] = {
	{ "as", RLIMIT_AS, 1 },
	{ "core", RLIMIT_CORE, 1 },
	{ "cpu", RLIMIT_CPU, 0 },		/* seconds */
	{ "data", RLIMIT_DATA, 1 },
	{ "fsize", RLIMIT_FSIZE, 1 },
	{ "memlock", RLIMIT_MEMLOCK, 1 },
	{ "nofile", RLIMIT_NOFILE, 0 },
	{ "nproc", RLIMIT_NPROC, 0 },
	{ "stack", RLIMIT_STACK, 1 },
};

/* Parse one "name=value" of command_rlimits; 0 or -1. */
static int
rlimit_parse(const char *s, struct rlim *out)
{
	const char *eq = strchr(s, '=');
	uint64_t n;
	char *end;

	if (eq == NULL || eq[1] == '\0')
		return -1;
	for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++) {
		if (strlen(rlimit_names[i].name) != (size_t)(eq - s) ||
		    strncmp(rlimit_names[i].name, s, (size_t)(eq - s)) != 0)
			continue;
		if (rlimit_names[i].is_size) {
			if (units_parse_size(eq + 1, &n) == -1)
				return -1;
		} else {
			if (!isdigit((unsigned char)eq[1]))
				return -1;
			errno = 0;
			n = strtoull(eq + 1, &end, 10);
			if (errno != 0 || *end != '\0')
				return -1;
		}
		out->resource = rlimit_names[i].resource;
		out->value = (rlim_t)n;
		return 0;
	}
	return -1;
}

int
rlimits_valid(char **list, const char **bad)
{
	struct rlim r;

	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (rlimit_parse(list[i], &r) == -1) {
			*bad = list[i];
			return 0;
		}
	return 1;
}

int
rlimits_set(char **list)
{
	struct rlim *v = NULL;
	size_t n = 0;

	while (list != NULL && list[n] != NULL)
		n++;
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (rlimit_parse(list[i], &v[i]) == -1) {
			free(v);
			return -1;
		}
	free(rlimits.v);
	rlimits.v = v;
	rlimits.n = n;
	return 0;
}

void
rlimits_free(void)
{
	free(rlimits.v);
	rlimits.v = NULL;
	rlimits.n = 0;
}

int
rlimits_apply(pid_t pid)
{
	for (size_t i = 0; i < rlimits.n; i++) {
		__rlimit_resource_t res = (__rlimit_resource_t)rlimits.v[i].resource;
		struct rlimit old, r = { rlimits.v[i].value, rlimits.v[i].value };
		/* Never above the hard limit loopd has itself (EPERM). */
		if (prlimit(pid, res, NULL, &old) == 0 && old.rlim_max != RLIM_INFINITY &&
		    r.rlim_max > old.rlim_max)
			r.rlim_cur = r.rlim_max = old.rlim_max;
		if (prlimit(pid, res, &r, NULL) == -1)
			return errno;
	}
	return 0;
}
