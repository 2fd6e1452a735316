/*
 * names: a word's index in a table of names (see names.h).
 */
#include "daemon/core/names.h"

#include <string.h>

int
names_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; s != NULL && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}
