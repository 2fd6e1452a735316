/*
 * sign: Standard Webhooks signatures. The secret file holds one line:
 * "whsec_" + base64 of the key (as Standard Webhooks libraries expect), or
 * any other text, used as the key bytes as they are.
 */
#ifndef LOOPD_EXEC_SIGN_H
#define LOOPD_EXEC_SIGN_H

#include <stddef.h>
#include <stdint.h>

/* Load the secret (NULL or "": unsigned). 0 or -1 (logged). */
int sign_load(const char *path);
/* Whether deliveries are signed. */
int sign_enabled(void);
/* The webhook-signature value for (id, timestamp, body): "v1," + base64
 * HMAC-SHA256 of "id.timestamp.body". NULL on error; free() it. */
char *sign_signature(const char *id, int64_t timestamp, const char *body, size_t len);
void sign_free(void);

#endif
