/*
 * cmd_ui: loopctl ui - print the web console's URL, and open it in a
 * browser when there is a display to open it on.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "client/loopctl.h"
#include "proto/defaults.h"

extern char **environ;

/* Open url with xdg-open, without waiting for the browser. 0 or -1. */
static int
ui_open(const char *url)
{
	char prog[] = "xdg-open", *arg = strdup(url);
	char *argv[] = { prog, arg, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	if (arg == NULL || posix_spawn_file_actions_init(&fa) != 0) {
		free(arg);
		return -1;
	}
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(arg);
	/* xdg-open hands the URL to the browser and exits. */
	return rc == 0 && waitpid(pid, &rc, 0) == pid && WIFEXITED(rc) &&
	    WEXITSTATUS(rc) == 0 ? 0 : -1;
}

int
cmd_ui(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-open", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *base = ctl->url, *d = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
	char url[1200];
	int ch, open_it = 1;
	size_t n;

	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		if (ch == 'n')
			open_it = 0;
		else
			ctl_usage(ctl, NULL);
	}
	if (optind != argc)
		ctl_usage(ctl, "too many arguments");
	if (strncmp(base, "unix:", 5) == 0) {
		/* A browser cannot reach a Unix socket: the console is on
		 * loopd's TCP listener. */
		ctl_warnx("loopctl reaches loopd over %s; a browser needs its TCP address "
		    "(give it with --url or LOOP_URL): assuming %s", base, LOOPD_DEFAULT_URL);
		base = LOOPD_DEFAULT_URL;
	}
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	snprintf(url, sizeof(url), "%.*s/ui/", (int)n, base);
	printf("%s\n", url);
	fflush(stdout);
	if (open_it && ((d != NULL && *d != '\0') || (w != NULL && *w != '\0')) &&
	    ui_open(url) == -1)
		ctl_warnx("could not open a browser (xdg-open); open the URL above");
	return CTL_EXIT_OK;
}
