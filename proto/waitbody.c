/*
 * waitbody: the plain shape of a wait or gather body, read in one pass.
 *
 * The scan builds no string per id: each id goes straight into two
 * arrays. The few other members are parsed by jansson one value at a
 * time and put, with a stand-in "futures" (empty when the real one is,
 * else its first id), into a small object in the order given, which
 * proto_decode_wait then judges: the members' names, types and order are
 * those of the body and every id was valid, so its verdict is the one the
 * whole body would get. Whatever the scan does not know for certain it
 * leaves to the long way (return 0).
 */
#include "proto/waitbody.h"

#include <stdlib.h>
#include <string.h>

#include "proto/jsonfast.h"

/* More members than a wait body has: the long way judges those. */
#define SCAN_MEMBERS 8
/* An id as proto_id_format writes it: c_ or f_ and 16 hex digits. */
#define ID_LEN 18

struct scan {
	const char *p, *end;
};

/* One member as given: its name, and its value (the ids: NULL). */
struct member {
	const char *name;
	size_t name_len;
	json_t *value;
};

/* Skip JSON white space. */
static void
scan_ws(struct scan *s)
{
	s->p = jsonfast_ws(s->p, s->end);
}

/* A string with no escape and no byte over 0x7f, s->p on its quote: its
 * bytes in [*start, *start + *len), s->p past the closing quote. 0, or -1
 * if it is not one. */
static int
scan_plain_string(struct scan *s, const char **start, size_t *len)
{
	const char *q = jsonfast_plain_string(s->p, s->end, start, len);

	if (q == NULL)
		return -1;
	s->p = q;
	return 0;
}

/* The value of a hex digit, or -1. */
static int
scan_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* An id string at s->p (proto_id_parse's grammar, not 0): appended to ids
 * (cap grown as needed, never past max_ids). 0, or -1 if it is not one or
 * memory ran out. */
static int
scan_id(struct scan *s, struct proto_wait_ids *ids, size_t *cap, size_t max_ids)
{
	const char *q = s->p;
	uint64_t v = 0;

	if (s->end - q < ID_LEN + 2 || q[0] != '"' || (q[1] != 'c' && q[1] != 'f') ||
	    q[2] != '_' || q[ID_LEN + 1] != '"')
		return -1;
	for (int i = 3; i < ID_LEN + 1; i++) {
		int d = scan_hex((unsigned char)q[i]);
		if (d < 0)
			return -1;
		v = v * 16 + (unsigned)d;
	}
	if (v == 0)
		return -1;
	if (ids->n == *cap) {
		/* The first time, room for as many ids as the rest of the
		 * body can hold (20 bytes each at least): one allocation,
		 * not a doubling one (fresh pages cost ~9 us each here). */
		size_t ncap = *cap ? *cap * 2 : (size_t)(s->end - q) / (ID_LEN + 2) + 1;
		uint64_t *id;
		char *kind;

		if (ncap > max_ids)
			ncap = max_ids;
		if ((id = realloc(ids->id, ncap * sizeof(*id))) == NULL)
			return -1;
		ids->id = id;
		if ((kind = realloc(ids->kind, ncap)) == NULL)
			return -1;
		ids->kind = kind;
		*cap = ncap;
	}
	ids->id[ids->n] = v;
	ids->kind[ids->n++] = q[1];
	s->p += ID_LEN + 2;
	return 0;
}

/* The ids array at s->p ('['). 0, or -1 if it is not a plain one. */
static int
scan_ids(struct scan *s, size_t max_ids, struct proto_wait_ids *ids)
{
	size_t cap = 0;

	s->p++;
	scan_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (;;) {
		if (ids->n == max_ids || scan_id(s, ids, &cap, max_ids) == -1)
			return -1;
		scan_ws(s);
		if (s->p == s->end)
			return -1;
		if (*s->p == ']') {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return -1;
		s->p++;
		scan_ws(s);
	}
}

/* A scalar value at s->p, parsed by jansson alone. NULL if it is not a
 * plain one (or jansson refuses it: the long way says why). */
static json_t *
scan_scalar(struct scan *s)
{
	const char *b = s->p, *str;
	size_t len;
	json_error_t je;

	if (s->p < s->end && *s->p == '"') {
		if (scan_plain_string(s, &str, &len) == -1)
			return NULL;
		return json_stringn(str, len);
	}
	while (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') ||
	    (*s->p >= 'a' && *s->p <= 'z') || (*s->p >= 'A' && *s->p <= 'Z') ||
	    *s->p == '-' || *s->p == '+' || *s->p == '.'))
		s->p++;
	if (s->p == b)
		return NULL;
	return json_loadb(b, (size_t)(s->p - b), JSON_DECODE_ANY, &je);
}

/* The members of the body's object, in order, into m; the ids into ids.
 * The count, or -1 if the body is not of the plain shape. */
static int
scan_members(struct scan *s, size_t max_ids, struct member *m, struct proto_wait_ids *ids)
{
	int n = 0;

	scan_ws(s);
	if (s->p == s->end || *s->p != '{')
		return -1;
	s->p++;
	scan_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		goto tail;
	}
	for (;;) {
		if (n == SCAN_MEMBERS || scan_plain_string(s, &m[n].name, &m[n].name_len) == -1)
			return -1;
		for (int i = 0; i < n; i++)
			if (m[i].name_len == m[n].name_len &&
			    memcmp(m[i].name, m[n].name, m[n].name_len) == 0)
				return -1;	/* a duplicate: jansson's error */
		n++;
		scan_ws(s);
		if (s->p == s->end || *s->p != ':')
			return -1;
		s->p++;
		scan_ws(s);
		if (m[n - 1].name_len == 7 && memcmp(m[n - 1].name, "futures", 7) == 0 &&
		    s->p < s->end && *s->p == '[') {
			if (scan_ids(s, max_ids, ids) == -1)
				return -1;
		} else if ((m[n - 1].value = scan_scalar(s)) == NULL)
			return -1;
		scan_ws(s);
		if (s->p == s->end)
			return -1;
		if (*s->p == '}') {
			s->p++;
			break;
		}
		if (*s->p != ',')
			return -1;
		s->p++;
		scan_ws(s);
	}
tail:
	scan_ws(s);
	return s->p == s->end ? n : -1;
}

/* The object proto_decode_wait is to judge: the members in order, the
 * ids replaced by a stand-in. NULL on ENOMEM. */
static json_t *
scan_object(struct member *m, int n, const struct proto_wait_ids *ids)
{
	json_t *obj = json_object(), *v;
	char name[256], idbuf[ID_LEN + 1];

	if (obj == NULL)
		return NULL;
	for (int i = 0; i < n; i++) {
		if (m[i].name_len >= sizeof(name))
			goto fail;	/* a long name: the long way */
		memcpy(name, m[i].name, m[i].name_len);
		name[m[i].name_len] = '\0';
		if (m[i].value != NULL) {
			v = m[i].value;
			m[i].value = NULL;
		} else if ((v = json_array()) != NULL && ids->n > 0 &&
		    json_array_append_new(v, json_string(proto_id_format(ids->id[0],
		    ids->kind[0], idbuf))) == -1) {
			json_decref(v);
			goto fail;
		}
		if (json_object_set_new(obj, name, v) == -1)
			goto fail;
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

int
proto_wait_scan(const char *body, size_t len, int gather, size_t max_depth, size_t max_ids,
    struct proto_wait_req *req, struct proto_wait_ids *ids, struct proto_error *err)
{
	struct scan s = { body, body + len };
	struct member m[SCAN_MEMBERS];
	json_t *obj = NULL;
	int n, rc = 0;

	memset(m, 0, sizeof(m));
	memset(ids, 0, sizeof(*ids));
	/* The shape nests two deep: a lower cap is the long way's to apply. */
	if (body == NULL || len == 0 || max_depth == 1)
		return 0;
	if ((n = scan_members(&s, max_ids, m, ids)) == -1 || (obj = scan_object(m, n, ids)) == NULL)
		goto out;
	rc = proto_decode_wait(obj, gather, req, err) == -1 ? -1 : 1;
	req->futures = NULL;
out:
	json_decref(obj);
	for (int i = 0; i < SCAN_MEMBERS; i++)
		json_decref(m[i].value);
	if (rc != 1)
		proto_wait_ids_free(ids);
	return rc;
}

void
proto_wait_ids_free(struct proto_wait_ids *ids)
{
	if (ids == NULL)
		return;
	free(ids->id);
	free(ids->kind);
	memset(ids, 0, sizeof(*ids));
}
