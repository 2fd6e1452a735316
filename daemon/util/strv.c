/*
 * strv: NULL-terminated string vectors.
 */
#include "daemon/util/strv.h"

#include <stdlib.h>
#include <string.h>

int
strv_push(char ***v, size_t *n, char *s)
{
	char **nv;

	if (s == NULL || (nv = realloc(*v, (*n + 2) * sizeof(**v))) == NULL) {
		free(s);
		return -1;
	}
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

size_t
strv_len(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

int
strv_copy(char *const *v, char ***out)
{
	size_t n = strv_len(v);
	char **c;

	*out = NULL;
	if (v == NULL)
		return 0;
	if ((c = calloc(n + 1, sizeof(*c))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((c[i] = strdup(v[i])) == NULL) {
			strv_free(c);
			return -1;
		}
	*out = c;
	return 0;
}

void
strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}
