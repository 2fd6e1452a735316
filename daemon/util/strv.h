/*
 * strv: NULL-terminated vectors of strings (argv, environments, header
 * lines, lists from the config), each string and the vector malloc'd.
 */
#ifndef LOOPD_UTIL_STRV_H
#define LOOPD_UTIL_STRV_H

#include <stddef.h>

/* Append s (taken: freed on failure too) to the vector *v of *n entries,
 * keeping it NULL-terminated; *v may be NULL with *n 0. A NULL s fails
 * (so strv_push(v, n, strdup(x)) needs no check of its own). 0 or -1. */
int strv_push(char ***v, size_t *n, char *s);
/* Copy v (NULL gives NULL) into *out. 0 or -1 (ENOMEM; *out NULL). */
int strv_copy(char *const *v, char ***out);
/* Entries before the NULL; 0 for NULL. */
size_t strv_len(char *const *v);
/* Free every string and the vector. Accepts NULL. */
void strv_free(char **v);

#endif
