/*
 * store: SQLite, one row per object, group commit per loop turn.
 */
#include "daemon/store/store.h"

#include <sys/file.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/log.h"

#define SCHEMA_VERSION 1
#define RETRY_US 1000000	/* retry a failed commit this often */
#define ANCHOR_US 1000000	/* refresh the loop-time anchor this often */

/* Migrations: migrations[v] takes schema v to v + 1. */
static const char *migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE objects ("
	"  id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, state INTEGER NOT NULL,"
	"  phase INTEGER NOT NULL, trigger INTEGER NOT NULL, flags INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL, created INTEGER NOT NULL, finished INTEGER NOT NULL,"
	"  due INTEGER NOT NULL, due_unix INTEGER NOT NULL, started INTEGER NOT NULL,"
	"  target INTEGER NOT NULL, target_kind INTEGER NOT NULL, name TEXT, spec TEXT,"
	"  outcome TEXT, idem_key TEXT, idem_digest INTEGER NOT NULL);",
};

/* store_load's query names these by number. */
_Static_assert(FUTURE_CALL == 1 && FUTURE_PENDING == 0 && CALL_SCHEDULED == 0 &&
    CALL_WAITING == 1, "store_load: enum values changed");

/* Bits of the flags column. */
enum { F_EXCEPTION = 1, F_LATE = 2, F_CANCEL = 4 };

static struct {
	sqlite3 *db;
	int lock_fd;
	sqlite3_stmt *upsert, *delete, *meta, *spec;
	uint64_t *dirty;		/* ids changed since the last commit */
	size_t n_dirty, cap_dirty;
	struct event *flush_ev;		/* priority 0: runs first next turn */
	struct event *timer_ev;		/* retry after a fault; anchor refresh */
	store_commit_fn commit_fn;
	void *commit_arg;
	const char *fault;		/* NULL when writable */
	int anchor_due;			/* the anchor needs writing */
} st = { .lock_fd = -1 };

/* Run SQL with no results; logs and returns -1 on error. */
static int
exec_sql(const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st.db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_warnx("store: %s: %s", sql, msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* One integer from a query, or def. */
static int64_t
query_int(const char *sql, int64_t def)
{
	sqlite3_stmt *s;
	int64_t v = def;

	if (sqlite3_prepare_v2(st.db, sql, -1, &s, NULL) != SQLITE_OK)
		return def;
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Bring the schema up to SCHEMA_VERSION. */
static int
store_migrate(void)
{
	int64_t v = query_int("PRAGMA user_version", 0);
	char sql[64];

	if (v > SCHEMA_VERSION) {
		log_warnx("store: schema version %lld is newer than this loopd (%d)",
		    (long long)v, SCHEMA_VERSION);
		return -1;
	}
	for (; v < SCHEMA_VERSION; v++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)v + 1);
		if (exec_sql("BEGIN") == -1 || exec_sql(migrations[v]) == -1 ||
		    exec_sql(sql) == -1 || exec_sql("COMMIT") == -1) {
			exec_sql("ROLLBACK");
			return -1;
		}
		log_info("store: schema migrated to version %lld", (long long)v + 1);
	}
	return 0;
}

int
store_open(const char *state_dir, int64_t *anchor_loop, int64_t *anchor_unix)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/loopd.lock", state_dir);
	if ((st.lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		log_warn("store: %s", path);
		return -1;
	}
	if (flock(st.lock_fd, LOCK_EX | LOCK_NB) == -1) {
		log_warnx("store: another loopd is using %s", state_dir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/loopd.db", state_dir);
	if (sqlite3_open_v2(path, &st.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("store: cannot open %s: %s", path,
		    st.db ? sqlite3_errmsg(st.db) : "out of memory");
		return -1;
	}
	sqlite3_extended_result_codes(st.db, 1);
	/* loopd.lock already keeps every other loopd out, so SQLite need not
	 * take file locks per transaction or share the WAL index in memory:
	 * exclusive mode saves a handful of system calls on every commit. */
	if (sqlite3_busy_timeout(st.db, 5000) != SQLITE_OK ||
	    exec_sql("PRAGMA locking_mode = EXCLUSIVE") == -1 ||
	    exec_sql("PRAGMA journal_mode = WAL") == -1 ||
	    exec_sql("PRAGMA synchronous = FULL") == -1 ||
	    exec_sql("PRAGMA foreign_keys = OFF") == -1 || store_migrate() == -1) {
		log_warnx("store: %s is not usable", path);
		return -1;
	}
	/* A NULL spec never replaces a stored one: the core frees the spec
	 * of a waiting call once it is stored, and writes it again as NULL
	 * (and a spec never changes, so rows already stored get NULL). */
	if (sqlite3_prepare_v2(st.db,
	    "INSERT INTO objects VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
	    "ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, state = excluded.state,"
	    " phase = excluded.phase, trigger = excluded.trigger, flags = excluded.flags,"
	    " attempts = excluded.attempts, created = excluded.created,"
	    " finished = excluded.finished, due = excluded.due, due_unix = excluded.due_unix,"
	    " started = excluded.started, target = excluded.target,"
	    " target_kind = excluded.target_kind, name = excluded.name,"
	    " spec = COALESCE(excluded.spec, spec), outcome = excluded.outcome,"
	    " idem_key = excluded.idem_key, idem_digest = excluded.idem_digest",
	    -1, &st.upsert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st.db, "SELECT spec FROM objects WHERE id = ?", -1, &st.spec,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st.db, "DELETE FROM objects WHERE id = ?", -1, &st.delete,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st.db, "INSERT OR REPLACE INTO meta VALUES (?, ?)", -1,
	    &st.meta, NULL) != SQLITE_OK) {
		log_warnx("store: %s", sqlite3_errmsg(st.db));
		return -1;
	}
	*anchor_loop = query_int("SELECT value FROM meta WHERE key = 'anchor_loop'", -1);
	*anchor_unix = query_int("SELECT value FROM meta WHERE key = 'anchor_unix'", 0);
	return 0;
}

/* A text column as a new string (NULL for NULL). */
static char *
column_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? strdup((const char *)t) : NULL;
}

long
store_load(void)
{
	sqlite3_stmt *s;
	long n = 0;
	int rc;

	future_set_next_id((uint64_t)query_int("SELECT value FROM meta WHERE key = 'next_id'", 1));
	/* The spec of a call waiting for its time or its future stays on
	 * disk (future_spec reads it back when needed): it is most of what
	 * a waiting call weighs, and start-up need not copy it. */
	if (sqlite3_prepare_v2(st.db, "SELECT id, kind, state, phase, trigger, flags,"
	    " attempts, created, finished, due, due_unix, started, target, target_kind, name,"
	    " CASE WHEN kind = 1 AND state = 0 AND phase IN (0, 1) THEN NULL ELSE spec END,"
	    " outcome, idem_key, idem_digest FROM objects ORDER BY id", -1, &s,
	    NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct future t;
		struct future_ext tx;
		int64_t flags = sqlite3_column_int64(s, 5);

		memset(&t, 0, sizeof(t));
		memset(&tx, 0, sizeof(tx));
		t.id = (uint64_t)sqlite3_column_int64(s, 0);
		t.kind = (uint8_t)sqlite3_column_int(s, 1);
		t.state = (uint8_t)sqlite3_column_int(s, 2);
		t.phase = (uint8_t)sqlite3_column_int(s, 3);
		t.trigger = (uint8_t)sqlite3_column_int(s, 4);
		t.has_exception = (flags & F_EXCEPTION) != 0;
		t.late = (flags & F_LATE) != 0;
		t.cancel_requested = (flags & F_CANCEL) != 0;
		t.attempts = (uint32_t)sqlite3_column_int64(s, 6);
		t.created = sqlite3_column_int64(s, 7);
		t.finished = sqlite3_column_int64(s, 8);
		t.due = sqlite3_column_int64(s, 9);
		t.due_unix = sqlite3_column_int64(s, 10);
		t.started = sqlite3_column_int64(s, 11);
		tx.target = (uint64_t)sqlite3_column_int64(s, 12);
		tx.target_kind = (uint8_t)sqlite3_column_int(s, 13);
		tx.name = column_text(s, 14);
		t.spec = column_text(s, 15);
		t.outcome = column_text(s, 16);
		tx.idem_key = column_text(s, 17);
		tx.idem_digest = (uint64_t)sqlite3_column_int64(s, 18);
		if (t.id == 0 || t.kind > FUTURE_CALL || t.state > FUTURE_CANCELLED ||
		    t.phase > CALL_DONE || t.trigger > TRIGGER_ON_DONE ||
		    future_restore(&t, &tx) == NULL) {
			log_warnx("store: object %llu is damaged or memory ran out",
			    (unsigned long long)t.id);
			free(tx.name);
			free(t.spec);
			free(t.outcome);
			free(tx.idem_key);
			sqlite3_finalize(s);
			return -1;
		}
		n++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? n : -1;
}

/* Bind a string or NULL. */
static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* Write one object's row. Returns an SQLite code. */
static int
store_write(const struct future *f)
{
	sqlite3_stmt *s = st.upsert;
	int rc;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)f->id);
	sqlite3_bind_int(s, 2, f->kind);
	sqlite3_bind_int(s, 3, f->state);
	sqlite3_bind_int(s, 4, f->phase);
	sqlite3_bind_int(s, 5, f->trigger);
	sqlite3_bind_int(s, 6, (f->has_exception ? F_EXCEPTION : 0) | (f->late ? F_LATE : 0) |
	    (f->cancel_requested ? F_CANCEL : 0));
	sqlite3_bind_int64(s, 7, f->attempts);
	sqlite3_bind_int64(s, 8, f->created);
	sqlite3_bind_int64(s, 9, f->finished);
	sqlite3_bind_int64(s, 10, f->due);
	sqlite3_bind_int64(s, 11, f->due_unix);
	sqlite3_bind_int64(s, 12, f->started);
	sqlite3_bind_int64(s, 13, (sqlite3_int64)future_target(f));
	sqlite3_bind_int(s, 14, future_target_kind(f));
	bind_text(s, 15, future_name(f));
	bind_text(s, 16, f->stored ? NULL : f->spec);
	bind_text(s, 17, f->outcome);
	bind_text(s, 18, future_idem_key(f));
	sqlite3_bind_int64(s, 19, (sqlite3_int64)future_idem_digest(f));
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* future_persist.load_spec: a stored call's spec, as a new string. */
static char *
store_load_spec(uint64_t id, void *arg)
{
	sqlite3_stmt *s = st.spec;
	char *spec = NULL;
	int rc;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		spec = column_text(s, 0);
	if (spec == NULL)
		log_warnx("store: cannot read back the action of c_%016llx: %s",
		    (unsigned long long)id, rc == SQLITE_ROW ? "out of memory" :
		    rc == SQLITE_DONE ? "not stored" : sqlite3_errstr(rc));
	sqlite3_reset(s);
	return spec;
}

/* Delete a forgotten object's row. */
static int
store_delete(uint64_t id)
{
	int rc;

	sqlite3_bind_int64(st.delete, 1, (sqlite3_int64)id);
	rc = sqlite3_step(st.delete);
	sqlite3_reset(st.delete);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Write one meta value. */
static int
store_meta(const char *key, int64_t v)
{
	int rc;

	sqlite3_bind_text(st.meta, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st.meta, 2, v);
	rc = sqlite3_step(st.meta);
	sqlite3_reset(st.meta);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Write every change in one transaction. Returns an SQLite code. */
static int
store_commit(void)
{
	int rc = SQLITE_OK;

	if (sqlite3_exec(st.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return sqlite3_extended_errcode(st.db);
	for (size_t i = 0; i < st.n_dirty && rc == SQLITE_OK; i++) {
		struct future *f = future_find(st.dirty[i]);
		rc = f != NULL ? store_write(f) : store_delete(st.dirty[i]);
	}
	if (rc == SQLITE_OK)
		rc = store_meta("next_id", (int64_t)future_peek_next_id());
	if (rc == SQLITE_OK)
		rc = store_meta("anchor_loop", clock_loop_now());
	if (rc == SQLITE_OK)
		rc = store_meta("anchor_unix", clock_unix_now());
	if (rc == SQLITE_OK && sqlite3_exec(st.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = sqlite3_extended_errcode(st.db);
	if (rc != SQLITE_OK && !sqlite3_get_autocommit(st.db))
		sqlite3_exec(st.db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* The commit failed: objects never stored were never acknowledged, so
 * they go; the rest stay dirty for the retry. */
static void
store_drop_unsaved(void)
{
	size_t kept = 0, n = st.n_dirty;
	uint64_t *ids = st.dirty;

	for (size_t i = 0; i < n; i++) {
		struct future *f = future_find(ids[i]);
		if (f != NULL && f->stored == 0)
			future_drop(f);
		/* A dropped object stays listed: its (absent) row is deleted
		 * by the next commit, harmlessly. */
		ids[kept++] = ids[i];
	}
	st.n_dirty = kept;
}

/* Schedule the timer for a retry or the next anchor refresh. */
static void
store_timer(int64_t us)
{
	struct timeval tv = clock_timeval(us);

	evtimer_add(st.timer_ev, &tv);
}

/* Commit the turn's changes, then tell the HTTP layer. */
static void
store_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	int rc, was_faulty = st.fault != NULL;

	if (st.n_dirty == 0 && !st.anchor_due) {
		st.commit_fn(1, st.commit_arg);
		return;
	}
	rc = store_commit();
	st.anchor_due = 0;
	if (rc == SQLITE_OK) {
		for (size_t i = 0; i < st.n_dirty; i++) {
			struct future *f = future_find(st.dirty[i]);
			if (f != NULL)
				future_mark_clean(f);
		}
		st.n_dirty = 0;
		if (was_faulty)
			log_info("store: writable again");
		st.fault = NULL;
		st.commit_fn(1, st.commit_arg);
		return;
	}
	if (rc == SQLITE_IOERR_FSYNC || rc == SQLITE_IOERR_DIR_FSYNC || rc == SQLITE_CORRUPT)
		fatalx("store: %s: stopping rather than acknowledge what may not be stored",
		    sqlite3_errstr(rc));
	st.fault = (rc & 0xff) == SQLITE_FULL ? "the disk is full" :
	    (rc & 0xff) == SQLITE_READONLY ? "the store is read-only" :
	    "the store cannot be written";
	if (!was_faulty)
		log_warnx("store: commit failed: %s (%s); writes get 503 until it recovers",
		    sqlite3_errstr(rc), st.fault);
	store_drop_unsaved();
	st.commit_fn(0, st.commit_arg);
	store_timer(RETRY_US);
}

void
store_flush(void)
{
	if (st.flush_ev != NULL)
		store_flush_cb(-1, 0, NULL);
}

/* Retry after a fault; otherwise refresh the loop-time anchor. */
static void
store_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	st.anchor_due = 1;
	event_active(st.flush_ev, 0, 0);
	store_timer(st.fault ? RETRY_US : ANCHOR_US);
}

/* The core reports a changed (or forgotten) object. */
static void
store_changed(uint64_t id, void *arg)
{
	if (st.n_dirty == st.cap_dirty) {
		size_t cap = st.cap_dirty ? st.cap_dirty * 2 : 1024;
		uint64_t *v = realloc(st.dirty, cap * sizeof(*v));
		if (v == NULL)
			fatalx("store: out of memory for the commit list");
		st.dirty = v;
		st.cap_dirty = cap;
	}
	st.dirty[st.n_dirty++] = id;
	if (st.n_dirty == 1)
		event_active(st.flush_ev, 0, 0);
}

int
store_start(struct event_base *base, store_commit_fn fn, void *arg)
{
	struct future_persist p = { store_changed, store_load_spec, NULL };

	st.commit_fn = fn;
	st.commit_arg = arg;
	st.flush_ev = event_new(base, -1, 0, store_flush_cb, NULL);
	st.timer_ev = evtimer_new(base, store_timer_cb, NULL);
	if (st.flush_ev == NULL || st.timer_ev == NULL ||
	    event_priority_set(st.flush_ev, 0) == -1)
		return -1;
	future_set_persist(&p);
	st.anchor_due = 1;
	event_active(st.flush_ev, 0, 0);
	store_timer(ANCHOR_US);
	return 0;
}

void
store_close(void)
{
	if (st.db != NULL && (st.n_dirty > 0 || st.flush_ev != NULL)) {
		int rc = store_commit();
		if (rc != SQLITE_OK)
			log_warnx("store: final commit failed: %s", sqlite3_errstr(rc));
	}
	future_set_persist(NULL);
	if (st.flush_ev != NULL)
		event_free(st.flush_ev);
	if (st.timer_ev != NULL)
		event_free(st.timer_ev);
	sqlite3_finalize(st.upsert);
	sqlite3_finalize(st.delete);
	sqlite3_finalize(st.meta);
	sqlite3_finalize(st.spec);
	sqlite3_close(st.db);
	if (st.lock_fd != -1)
		close(st.lock_fd);
	free(st.dirty);
	memset(&st, 0, sizeof(st));
	st.lock_fd = -1;
}

int
store_dirty(void)
{
	return st.n_dirty > 0 && st.fault == NULL;
}

int
store_writable(void)
{
	return st.fault == NULL;
}

const char *
store_fault(void)
{
	return st.fault ? st.fault : "the store is writable";
}
