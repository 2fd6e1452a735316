/*
 * cmdpolicy: the command policy (see cmdpolicy.h).
 *
 * Programs. With command_allow set, argv[0] must be written as one of
 * three forms and is resolved to an absolute path, the one that runs:
 * - an absolute path, plain (no ".", "..", "//" or trailing "/"),
 * - a bare name, looked up in loopd's own PATH (the one posix_spawnp
 *   would use; a request's env cannot change it),
 * - a relative path ("./tool", "bin/tool"), only when command_cwd_allow
 *   fixes the directories it may be relative to and the call names its
 *   cwd; it is joined to that cwd.
 * It is allowed when its text is an entry of command_allow, or when it
 * resolves to the path an entry resolves to, or to the same file (device
 * and inode: /bin/echo and /usr/bin/echo on a merged-/usr system). The
 * call's stored argv[0] becomes that absolute path, so what runs is fixed
 * when the call is accepted.
 *
 * Environment. A name is refused when it is loopd's own (LOOP_CALL_*,
 * LOOP_FUTURE_*; LOOP_URL and the other loopctl variables pass), when it
 * matches command_env_deny (loader and interpreter variables by default:
 * LD_*, GCONV_PATH, BASH_FUNC_*, PYTHON*, ...), when it is not a portable
 * name (letters, digits, _; not starting with a digit), or when
 * command_env_allow is set and it matches none of it. Patterns are names,
 * or a prefix followed by "*".
 *
 * Resource limits (command_rlimits) are exec/rlimits'.
 */
#include "daemon/action/cmdpolicy.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/exec/rlimits.h"
#include "daemon/util/strv.h"
#include "proto/codec.h"
#include "proto/units.h"

static struct {
	int commands;
	char **allow;		/* NULL: any program */
	char **env_allow;	/* NULL: any name not denied */
	char **env_deny;
	char **cwd_allow;	/* NULL: any directory */
	uint64_t max_argv, max_env, max_stdin;
	int64_t max_timeout;
} policy;

void
cmdpolicy_free(void)
{
	strv_free(policy.allow);
	strv_free(policy.env_allow);
	strv_free(policy.env_deny);
	strv_free(policy.cwd_allow);
	memset(&policy, 0, sizeof(policy));
	rlimits_free();
}

int
cmdpolicy_set(const struct config *cfg)
{
	char **allow = NULL, **env_allow = NULL, **env_deny = NULL, **cwd_allow = NULL;
	if (strv_copy(cfg->command_allow, &allow) == -1 ||
	    strv_copy(cfg->command_env_allow, &env_allow) == -1 ||
	    strv_copy(cfg->command_env_deny, &env_deny) == -1 ||
	    strv_copy(cfg->command_cwd_allow, &cwd_allow) == -1 ||
	    rlimits_set(cfg->command_rlimits) == -1)
		goto fail;
	strv_free(policy.allow);
	strv_free(policy.env_allow);
	strv_free(policy.env_deny);
	strv_free(policy.cwd_allow);
	policy.commands = cfg->commands;
	policy.allow = allow;
	policy.env_allow = env_allow;
	policy.env_deny = env_deny;
	policy.cwd_allow = cwd_allow;
	policy.max_argv = cfg->command_max_argv;
	policy.max_env = cfg->command_max_env;
	policy.max_stdin = cfg->command_max_stdin;
	policy.max_timeout = cfg->command_max_timeout;
	return 0;
fail:
	strv_free(allow);
	strv_free(env_allow);
	strv_free(env_deny);
	strv_free(cwd_allow);
	return -1;
}

/* Fill ref and return -1. */
static int __attribute__((format(printf, 3, 4)))
refuse(struct cmdpolicy_refusal *ref, int status, const char *fmt, ...)
{
	va_list ap;

	ref->status = status;
	va_start(ap, fmt);
	vsnprintf(ref->detail, sizeof(ref->detail), fmt, ap);
	va_end(ap);
	return -1;
}

/* Whether name matches a pattern: equal, or starting with what comes
 * before a final "*". */
static int
pattern_match(const char *pat, const char *name)
{
	size_t n = strlen(pat);

	if (n > 0 && pat[n - 1] == '*')
		return strncmp(pat, name, n - 1) == 0;
	return strcmp(pat, name) == 0;
}

/* The first pattern of list that name matches, or NULL. */
static const char *
list_match(char **list, const char *name)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (pattern_match(list[i], name))
			return list[i];
	return NULL;
}

int
cmdpolicy_env_reserved(const char *name)
{
	/* LOOP_URL, LOOP_TOKEN_FILE and the like are loopctl's: a command
	 * may be given them. */
	return strncmp(name, "LOOP_CALL_", 10) == 0 || strncmp(name, "LOOP_FUTURE_", 12) == 0;
}

/* Whether name is a portable variable name. */
static int
env_name_ok(const char *name)
{
	if (*name == '\0' || isdigit((unsigned char)*name))
		return 0;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

/* Whether path is absolute and plain: no empty, "." or ".." component,
 * no trailing "/" (the root itself excepted). */
static int
path_plain(const char *path)
{
	const char *p = path;

	if (*p != '/')
		return 0;
	if (p[1] == '\0')
		return 1;
	while (*p == '/') {
		const char *c = p + 1;
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		p = c + n;
	}
	return 1;
}

/* Whether dir is an entry of command_cwd_allow or beneath one. */
static int
cwd_allowed(const char *dir)
{
	for (size_t i = 0; policy.cwd_allow[i] != NULL; i++) {
		const char *a = policy.cwd_allow[i];
		size_t n = strlen(a);
		while (n > 1 && a[n - 1] == '/')
			n--;
		if (strncmp(dir, a, n) == 0 && (dir[n] == '\0' || dir[n] == '/' ||
		    (n == 1 && a[0] == '/')))
			return 1;
	}
	return 0;
}

/* Whether path names an executable regular file. */
static int
executable(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

/* The absolute path prog stands for (a plain absolute path; a bare name
 * found in loopd's PATH; a relative path joined to cwd), malloc'd; NULL
 * when it cannot be had (not found, not plain, relative without cwd). */
static char *
resolve(const char *prog, const char *cwd)
{
	const char *path, *p;
	char *out = NULL;

	if (*prog == '/')
		return path_plain(prog) ? strdup(prog) : NULL;
	if (strchr(prog, '/') != NULL) {
		while (prog[0] == '.' && prog[1] == '/')	/* ./tool */
			prog += 2;
		if (cwd == NULL || asprintf(&out, "%s%s%s", cwd,
		    cwd[strlen(cwd) - 1] == '/' ? "" : "/", prog) == -1)
			return NULL;
		if (!path_plain(out)) {
			free(out);
			return NULL;
		}
		return out;
	}
	if ((path = getenv("PATH")) == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p += strcspn(p, ":") + 1) {
		size_t n = strcspn(p, ":");
		if (n > 0 && *p == '/' && asprintf(&out, "%.*s/%s", (int)n, p, prog) != -1) {
			if (path_plain(out) && executable(out))
				return out;
			free(out);
			out = NULL;
		}
		if (p[n] == '\0')
			break;
	}
	return NULL;
}

/* Whether a and b are the same file. */
static int
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	    sa.st_ino == sb.st_ino;
}

/* Check argv[0] against command_allow; *argv0 gets the path to run. */
static int
check_program(const char *prog, const char *cwd, char **argv0, struct cmdpolicy_refusal *ref)
{
	char *path;
	int ok = 0;

	if (*prog != '/' && strchr(prog, '/') != NULL && (policy.cwd_allow == NULL || cwd == NULL))
		return refuse(ref, 403, "command.argv[0]: a relative path runs whatever file the "
		    "working directory holds; it is allowed only with command_cwd_allow set "
		    "and a cwd in the call");
	if (*prog == '/' && !path_plain(prog))
		return refuse(ref, 403, "command.argv[0]: must be a plain absolute path (no ., .. "
		    "or //) when command_allow is set");
	if ((path = resolve(prog, cwd)) == NULL)
		return refuse(ref, 403, "command.argv[0]: %s is not in command_allow (not found "
		    "in loopd's PATH)", prog);
	for (size_t i = 0; !ok && policy.allow[i] != NULL; i++) {
		char *a;
		if (strcmp(policy.allow[i], prog) == 0 || strcmp(policy.allow[i], path) == 0)
			ok = 1;
		else if ((a = resolve(policy.allow[i], cwd)) != NULL) {
			ok = strcmp(a, path) == 0 || same_file(a, path);
			free(a);
		}
	}
	if (!ok) {
		free(path);
		return refuse(ref, 403, "command.argv[0]: this executable is not in command_allow");
	}
	*argv0 = path;
	return 0;
}

/* Check the environment's names and size. */
static int
check_env(const json_t *env, struct cmdpolicy_refusal *ref)
{
	const char *k, *pat;
	json_t *v;
	uint64_t size = 0;

	json_object_foreach((json_t *)(uintptr_t)env, k, v) {
		if (cmdpolicy_env_reserved(k))
			return refuse(ref, 403, "command.env.%s: LOOP_CALL_* and LOOP_FUTURE_* "
			    "variables are set by loopd and cannot be given", k);
		if ((pat = list_match(policy.env_deny, k)) != NULL)
			return refuse(ref, 403, "command.env.%s: refused by command_env_deny (%s)",
			    k, pat);
		if (!env_name_ok(k))
			return refuse(ref, 403, "command.env.%.200s: not a variable name (letters, "
			    "digits and _, not starting with a digit)", k);
		if (policy.env_allow != NULL && list_match(policy.env_allow, k) == NULL)
			return refuse(ref, 403, "command.env.%s: not in command_env_allow", k);
		size += strlen(k) + json_string_length(v) + 2;
	}
	if (policy.max_env > 0 && size > policy.max_env)
		return refuse(ref, 400, "command.env: %llu bytes, more than command_max_env "
		    "(%llu)", (unsigned long long)size, (unsigned long long)policy.max_env);
	return 0;
}

/* Check the size of argv with the call's args. */
static int
check_argv_size(const json_t *argv, const json_t *args, struct cmdpolicy_refusal *ref)
{
	uint64_t size = 0;
	size_t i;
	json_t *a;

	json_array_foreach((json_t *)(uintptr_t)argv, i, a)
		size += json_string_length(a) + 1;
	if (policy.max_argv > 0 && size > policy.max_argv)
		return refuse(ref, 400, "command.argv: %llu bytes, more than command_max_argv "
		    "(%llu)", (unsigned long long)size, (unsigned long long)policy.max_argv);
	json_array_foreach((json_t *)(uintptr_t)args, i, a)
		size += (json_is_string(a) ? json_string_length(a) :
		    json_dumpb(a, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY)) + 1;
	if (policy.max_argv > 0 && size > policy.max_argv)
		return refuse(ref, 400, "args: argv with args is %llu bytes, more than "
		    "command_max_argv (%llu)", (unsigned long long)size,
		    (unsigned long long)policy.max_argv);
	return 0;
}

int
cmdpolicy_check(const struct proto_command *pc, const json_t *args, char **argv0,
    struct cmdpolicy_refusal *ref)
{
	const char *prog = json_string_value(json_array_get(pc->argv, 0));

	*argv0 = NULL;
	if (!policy.commands)
		return refuse(ref, 403, "command: commands are switched off on this daemon "
		    "(commands = off)");
	if (prog == NULL)
		return refuse(ref, 400, "command.argv[0]: must be a string");
	if (policy.cwd_allow != NULL && pc->cwd != NULL &&
	    (!path_plain(pc->cwd) || !cwd_allowed(pc->cwd)))
		return refuse(ref, 403, "command.cwd: %s is not in command_cwd_allow (a plain "
		    "absolute path in or beneath one of its directories)", pc->cwd);
	if (pc->env != NULL && check_env(pc->env, ref) == -1)
		return -1;
	if (check_argv_size(pc->argv, args, ref) == -1)
		return -1;
	if (policy.max_stdin > 0 && pc->stdin_data != NULL && pc->stdin_len > policy.max_stdin)
		return refuse(ref, 400, "command.stdin: %zu bytes, more than command_max_stdin "
		    "(%llu)", pc->stdin_len, (unsigned long long)policy.max_stdin);
	if (policy.allow != NULL && check_program(prog, pc->cwd, argv0, ref) == -1)
		return -1;
	return 0;
}

int64_t
cmdpolicy_timeout(int64_t asked)
{
	if (policy.max_timeout > 0 && (asked <= 0 || asked > policy.max_timeout))
		return policy.max_timeout;
	return asked;
}
