/*
 * error: how the core says why it refused something. The first error set
 * wins; the HTTP layer maps the code to a status.
 */
#ifndef LOOPD_CORE_ERROR_H
#define LOOPD_CORE_ERROR_H

enum core_code {
	CORE_OK = 0,
	CORE_EINVAL,		/* bad argument: 400 */
	CORE_EDENIED,		/* refused by a policy: 403 */
	CORE_ENOTFOUND,		/* no such object: 404 */
	CORE_ESTATE,		/* wrong state, e.g. result on a done future: 409 */
	CORE_EMISMATCH,		/* idempotency key reused with another body: 422 */
	CORE_EFULL,		/* a configured cap is reached: 429 */
	CORE_ENOMEM,		/* out of memory: 503 */
};

struct core_error {
	enum core_code code;
	char msg[512];
};

/* Record an error unless one is already set. Returns -1 for convenience. */
int core_error_set(struct core_error *err, enum core_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
