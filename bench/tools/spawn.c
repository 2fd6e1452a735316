/*
 * spawn: the ceiling for loopd's command throughput. Runs COUNT processes
 * of argv (default /bin/true) with posix_spawn, keeping CONC in flight
 * (a new one as soon as one is reaped), as a plain C loop would.
 *
 *   spawn --count N [--conc K] [--] [argv...]
 *
 * The children get /dev/null as stdin, stdout and stderr (loopd gives
 * them pipes, which it reads: that is part of what it costs). The parent
 * blocks in waitpid(-1). Prints one JSON line: count, conc, elapsed_s
 * (first spawn to last reap), rate (processes/s), failed (spawn errors or
 * exit status not 0). Exit 1 if any failed.
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/bc.h"

extern char **environ;

static posix_spawn_file_actions_t null_fa;

int
main(int argc, char **argv)
{
	long count = 0, conc = 64, started = 0, reaped = 0, failed = 0, running = 0;
	static char true_path[] = "/bin/true";
	char *dflt[] = { true_path, NULL };
	char **cmd = dflt;
	double t0, t1;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (i + 1 >= argc)
			bc_die("spawn: %s needs a value", a);
		if (strcmp(a, "--count") == 0)
			count = atol(argv[++i]);
		else if (strcmp(a, "--conc") == 0)
			conc = atol(argv[++i]);
		else
			bc_die("spawn: unknown option %s", a);
	}
	if (i < argc)
		cmd = argv + i;
	if (count <= 0 || conc <= 0)
		bc_die("usage: spawn --count N [--conc K] [--] [argv...]");
	posix_spawn_file_actions_init(&null_fa);
	posix_spawn_file_actions_addopen(&null_fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&null_fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&null_fa, 2, "/dev/null", O_WRONLY, 0);

	t0 = bc_now();
	while (reaped < count) {
		while (running < conc && started < count) {
			pid_t pid;
			int e = posix_spawn(&pid, cmd[0], &null_fa, NULL, cmd, environ);
			started++;
			if (e != 0) {
				failed++;
				reaped++;
				continue;
			}
			running++;
		}
		if (running == 0)
			continue;
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p == -1) {
			if (errno == EINTR)
				continue;
			bc_die("spawn: waitpid: %s", strerror(errno));
		}
		running--;
		reaped++;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	t1 = bc_now();
	printf("{\"count\":%ld,\"conc\":%ld,\"failed\":%ld,\"elapsed_s\":%.4f,\"rate\":%.1f}\n",
	    count, conc, failed, t1 - t0, (double)count / (t1 - t0));
	posix_spawn_file_actions_destroy(&null_fa);
	return failed == 0 ? 0 : 1;
}
