/*
 * sign: HMAC-SHA256 and base64 from GnuTLS (the TLS stack loopd already
 * links through libcurl and libmicrohttpd).
 */
#include "daemon/exec/sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "daemon/log.h"
#include "daemon/util/secret.h"

static unsigned char *key;
static size_t key_len;

int
sign_load(const char *path)
{
	char buf[4096];
	ssize_t n;
	unsigned char *k = NULL;
	size_t klen = 0;

	if (path == NULL || *path == '\0') {
		sign_free();
		return 0;
	}
	if ((n = secret_read(path, buf, sizeof(buf))) == -1) {
		log_warn("signing_secret_file %s", path);
		return -1;
	}
	secret_first_line(buf);
	if (strncmp(buf, "whsec_", 6) == 0) {
		gnutls_datum_t in = { (unsigned char *)buf + 6, (unsigned)strlen(buf + 6) }, out;
		if (gnutls_base64_decode2(&in, &out) < 0) {
			log_warnx("signing_secret_file %s: whsec_ secret is not valid base64", path);
			return -1;
		}
		if ((k = malloc(out.size)) != NULL)
			memcpy(k, out.data, out.size);
		klen = out.size;
		gnutls_free(out.data);
	} else if ((k = (unsigned char *)strdup(buf)) != NULL)
		klen = strlen(buf);
	explicit_bzero(buf, sizeof(buf));
	if (k == NULL || klen < 16) {
		log_warnx("signing_secret_file %s: the secret must be at least 16 bytes", path);
		free(k);
		return -1;
	}
	sign_free();
	key = k;
	key_len = klen;
	return 0;
}

int
sign_enabled(void)
{
	return key != NULL;
}

char *
sign_signature(const char *id, int64_t timestamp, const char *body, size_t len)
{
	unsigned char mac[32];
	char prefix[128], *msg, *sig = NULL;
	size_t plen;
	gnutls_datum_t in, out;

	if (key == NULL)
		return NULL;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s.%lld.", id, (long long)timestamp);
	if (plen >= sizeof(prefix) || (msg = malloc(plen + len)) == NULL)
		return NULL;
	memcpy(msg, prefix, plen);
	memcpy(msg + plen, body, len);
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, key_len, msg, plen + len, mac) == 0) {
		in.data = mac;
		in.size = sizeof(mac);
		if (gnutls_base64_encode2(&in, &out) == 0) {
			if ((sig = malloc(out.size + 4)) != NULL)
				snprintf(sig, out.size + 4, "v1,%.*s", (int)out.size, out.data);
			gnutls_free(out.data);
		}
	}
	free(msg);
	return sig;
}

void
sign_free(void)
{
	if (key != NULL) {
		explicit_bzero(key, key_len);
		free(key);
	}
	key = NULL;
	key_len = 0;
}
