/*
 * test_rlimits: exec/rlimits, the resource limits of commands: which
 * entries are valid, and limits applied to a child (lowered only).
 */
#include <sys/resource.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <string.h>

#include "daemon/exec/rlimits.h"
#include "daemon/util/strv.h"
#include "tests/unit/check.h"

/* A list of copies of the NULL-terminated words (free with strv_free). */
static char **
list_of(const char *const *words)
{
	char **v = NULL;
	size_t n = 0;

	while (*words != NULL && strv_push(&v, &n, strdup(*words)) == 0)
		words++;
	return v;
}

/* NAME=VALUE with a known name; sizes for sizes, counts for counts. */
static void
test_valid(void)
{
	static const char *const good_w[] = { "as=64M", "core=0", "cpu=10", "nofile=256",
	    "nproc=100", "stack=8M", "fsize=1G", "data=512M", "memlock=64K", NULL };
	static const char *const bad_name_w[] = { "nofile=256", "rss=1M", NULL };
	static const char *const bad_count_w[] = { "cpu=10s", NULL };
	static const char *const bad_form_w[] = { "nofile", NULL };
	static const char *const empty_w[] = { "nofile=", NULL };
	char **good = list_of(good_w), **bad_name = list_of(bad_name_w);
	char **bad_count = list_of(bad_count_w), **bad_form = list_of(bad_form_w);
	char **empty = list_of(empty_w);
	const char *bad = NULL;

	CHECK(rlimits_valid(good, &bad));
	CHECK(rlimits_valid(NULL, &bad));
	CHECK(!rlimits_valid(bad_name, &bad));
	CHECK_STR_EQ(bad, "rss=1M");
	CHECK(!rlimits_valid(bad_count, &bad));
	CHECK_STR_EQ(bad, "cpu=10s");
	CHECK(!rlimits_valid(bad_form, &bad));
	CHECK(!rlimits_valid(empty, &bad));
	CHECK_INT_EQ(rlimits_set(bad_name), -1);
	strv_free(good);
	strv_free(bad_name);
	strv_free(bad_count);
	strv_free(bad_form);
	strv_free(empty);
}

/* A child gets the limit set; none set: nothing changes. */
static void
test_apply(void)
{
	static const char *const words[] = { "nofile=64", NULL };
	char **list = list_of(words);
	struct rlimit r;
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	if (!CHECK(pid > 0)) {
		strv_free(list);
		return;
	}
	CHECK_INT_EQ(rlimits_set(NULL), 0);
	CHECK_INT_EQ(rlimits_apply(pid), 0);
	CHECK_INT_EQ(rlimits_set(list), 0);
	CHECK_INT_EQ(rlimits_apply(pid), 0);
	CHECK(prlimit(pid, RLIMIT_NOFILE, NULL, &r) == 0 && r.rlim_cur == 64 && r.rlim_max == 64);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	rlimits_free();
	strv_free(list);
}

int
main(void)
{
	test_valid();
	test_apply();
	return check_summary();
}
