/*
 * store: SQLite, one row per object, group commit per loop turn.
 */
#include "daemon/store/store.h"

#include <sys/eventfd.h>
#include <sys/file.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/core/sched.h"
#include "daemon/core/schedule.h"
#include "daemon/log.h"
#include "daemon/store/checkpoint.h"

#define SCHEMA_VERSION 2
#define RETRY_US 1000000	/* retry a failed commit this often */
#define ANCHOR_US 1000000	/* refresh the loop-time anchor this often */
#define FILL_SLICE 2048		/* rows snapshotted per loop turn */
#define SLICE_US 1000		/* ... and at most this long (checked */
#define SLICE_CHECK 64		/* every SLICE_CHECK rows) */
/* Gathering the next batch (store.gather_*): after a commit of at least
 * GATHER_MIN_ROWS rows, the next one waits up to GATHER_MAX_US (at most
 * half the slowest recent commit) for as many changes again. */
#define GATHER_MIN_ROWS 8
#define GATHER_MAX_US 300
/* Rows of a finished commit taken care of per loop turn (marked stored,
 * claims handed to the scheduler, freed): STORE_DONE_SLICE, store.h. */
_Static_assert(2 * ANCHOR_US <= CLOCK_RUN_PAST_ANCHOR_US, "clock.h assumes a run goes on "
    "at most CLOCK_RUN_PAST_ANCHOR_US past its last anchor");

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
	/* 1 -> 2: schedules (issue 15); an occurrence carries its schedule
	 * and nominal time, at most one call per pair. */
	"ALTER TABLE objects ADD COLUMN schedule INTEGER;"
	"ALTER TABLE objects ADD COLUMN scheduled_for INTEGER;"
	"CREATE UNIQUE INDEX objects_occurrence ON objects (schedule, scheduled_for)"
	"  WHERE schedule IS NOT NULL;"
	"CREATE TABLE schedules ("
	"  id INTEGER PRIMARY KEY, state INTEGER NOT NULL, kind INTEGER NOT NULL,"
	"  spec TEXT NOT NULL, tz TEXT, name TEXT, action TEXT NOT NULL,"
	"  start INTEGER NOT NULL, end INTEGER NOT NULL, count INTEGER NOT NULL,"
	"  fired INTEGER NOT NULL, catchup INTEGER NOT NULL, catchup_window INTEGER NOT NULL,"
	"  overlap INTEGER NOT NULL, pause_on_failure INTEGER NOT NULL,"
	"  jitter INTEGER NOT NULL, created INTEGER NOT NULL, mark INTEGER NOT NULL);",
};

/* store_load's query names these by number. */
_Static_assert(FUTURE_CALL == 1 && FUTURE_PENDING == 0 && CALL_SCHEDULED == 0 &&
    CALL_WAITING == 1, "store_load: enum values changed");

/* Bits of the flags column. F_CLAIM: claimed to start (sched.h). */
enum { F_EXCEPTION = 1, F_LATE = 2, F_CANCEL = 4, F_CLAIM = 8 };

static struct {
	sqlite3 *db;			/* the writer's */
	sqlite3 *rdb;			/* the loop's, to read specs back */
	int lock_fd;
	sqlite3_stmt *upsert, *delete, *meta, *spec;
	sqlite3_stmt *sched_upsert, *sched_delete;
	sqlite3_stmt *claim_spec;	/* the writer's: a claimed call's spec */
	sqlite3_stmt *begin, *commit;
	/* The meta values the last successful commit left in the file (bit
	 * i of meta_known: meta_last[i] is known), so that a commit writes
	 * only those that changed: most commits change next_id and
	 * lease_end, not the anchor. The writer's, like store.db. */
	int64_t meta_last[6];
	unsigned meta_known;
	/* What store.upsert's parameters hold (SQLite keeps them across
	 * sqlite3_reset): bit i of up_known, parameter i is the integer
	 * up_v[i], or NULL with bit i of up_null. Most columns of a new
	 * call's row are those of the last one (state, phase, attempts, 0s,
	 * NULLs): they are not bound again. The writer's, like store.db. */
	int64_t up_v[22];
	uint32_t up_known, up_null;
	uint64_t *dirty;		/* ids changed since the last commit */
	size_t n_dirty, cap_dirty;
	struct event *flush_ev;		/* priority 0: runs first next turn */
	struct event *timer_ev;		/* retry after a fault; anchor refresh */
	store_commit_fn commit_fn;
	void *commit_arg;
	const char *fault;		/* NULL when writable */
	int anchor_due;			/* the anchor needs writing */
	int renew_due;			/* ... to renew the lease */
	int64_t slow_us;		/* the slowest recent commit, decaying */
	int64_t handed;			/* when the writer's batch was handed over */
	int64_t lease_end_recovered;	/* the last run's, from meta */
	int64_t lease_max;		/* the latest lease end handed to a batch */
	/* A batch is filled over several turns (FILL_SLICE rows each) so
	 * that 100,000 changes do not stop the loop: dirty[0 .. fill_target)
	 * go into it, fill_done of them so far; ids changed meanwhile are
	 * appended past fill_target and wait for the next batch. */
	int filling;
	size_t fill_target, fill_done;
	/* A finished commit is taken care of over several turns too
	 * (STORE_DONE_SLICE rows each): done_at rows so far. The writer
	 * stays busy meanwhile, so the batch is not refilled under it. */
	int completing;
	size_t done_at;
	struct event *done_more_ev;	/* the next slice, after I/O */
	/* The next batch is being gathered: handed over once gather_rows
	 * changes wait or at gather_until (loop time), whichever is first;
	 * gather_until 0: not gathering. Clients answered by a commit send
	 * their next requests a moment later; handed over at once, the next
	 * batch held only those that came during the commit, and those
	 * clients waited for the one after it. Measured with 64 connections
	 * posting calls on one core (bench/RESULTS.md, session 5): 25 -> 30
	 * rows a commit, 24,500-26,700 -> 29,700-29,800 requests/s, p99 6.6
	 * -> 5.9 ms. A change that comes after a small commit (fewer than
	 * GATHER_MIN_ROWS rows) is not delayed. */
	int64_t gather_until;
	size_t gather_rows;
	struct store_stats stats;
} store = { .lock_fd = -1 };

/* Run SQL with no results; logs and returns -1 on error. */
static int
exec_sql(const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(store.db, sql, NULL, NULL, &msg) != SQLITE_OK) {
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

	if (sqlite3_prepare_v2(store.db, sql, -1, &s, NULL) != SQLITE_OK)
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
store_open(const char *state_dir, struct clock_anchor *anchor)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/loopd.lock", state_dir);
	if ((store.lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		log_warn("store: %s", path);
		return -1;
	}
	if (flock(store.lock_fd, LOCK_EX | LOCK_NB) == -1) {
		log_warnx("store: another loopd is using %s", state_dir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/loopd.db", state_dir);
	/* Created 0600 whatever the umask and the directory's mode; SQLite
	 * gives its -wal and -shm files the database's mode. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) != -1)
		close(fd);
	/* No memory statistics (loopd reads none): each of SQLite's
	 * allocations then takes no global mutex, about 1,000 instructions a
	 * call made. Refused, harmlessly, once SQLite is initialized (a
	 * second store_open in one process). */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (sqlite3_open_v2(path, &store.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("store: cannot open %s: %s", path,
		    store.db ? sqlite3_errmsg(store.db) : "out of memory");
		return -1;
	}
	sqlite3_extended_result_codes(store.db, 1);
	if (sqlite3_busy_timeout(store.db, 5000) != SQLITE_OK ||
	    exec_sql("PRAGMA journal_mode = WAL") == -1 ||
	    exec_sql("PRAGMA synchronous = FULL") == -1 ||
	    exec_sql("PRAGMA foreign_keys = OFF") == -1 || store_migrate() == -1) {
		log_warnx("store: %s is not usable", path);
		return -1;
	}
	/* A NULL spec never replaces a stored one: the core frees the spec
	 * of a waiting call once it is stored, and writes it again as NULL
	 * (and a spec never changes, so rows already stored get NULL). */
	if (sqlite3_prepare_v2(store.db,
	    "INSERT INTO objects VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
	    "ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, state = excluded.state,"
	    " phase = excluded.phase, trigger = excluded.trigger, flags = excluded.flags,"
	    " attempts = excluded.attempts, created = excluded.created,"
	    " finished = excluded.finished, due = excluded.due, due_unix = excluded.due_unix,"
	    " started = excluded.started, target = excluded.target,"
	    " target_kind = excluded.target_kind, name = excluded.name,"
	    " spec = COALESCE(excluded.spec, spec), outcome = excluded.outcome,"
	    " idem_key = excluded.idem_key, idem_digest = excluded.idem_digest,"
	    " schedule = excluded.schedule, scheduled_for = excluded.scheduled_for",
	    -1, &store.upsert, NULL) != SQLITE_OK ||

	    sqlite3_prepare_v2(store.db, "DELETE FROM objects WHERE id = ?", -1, &store.delete,
	    NULL) != SQLITE_OK ||
	    /* An upsert changes the value in place (REPLACE deleted the row
	     * and its key's index entry, then wrote both again). */
	    sqlite3_prepare_v2(store.db, "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO "
	    "UPDATE SET value = excluded.value", -1, &store.meta, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(store.db, "SELECT spec FROM objects WHERE id = ?", -1,
	    &store.claim_spec, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(store.db, "INSERT OR REPLACE INTO schedules VALUES "
	    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &store.sched_upsert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(store.db, "DELETE FROM schedules WHERE id = ?", -1,
	    &store.sched_delete, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(store.db, "BEGIN IMMEDIATE", -1, &store.begin, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(store.db, "COMMIT", -1, &store.commit, NULL) != SQLITE_OK) {
		log_warnx("store: %s", sqlite3_errmsg(store.db));
		return -1;
	}
	/* Specs are read back on the loop thread while the writer thread
	 * commits on store.db, so through a connection of their own (WAL lets
	 * it read every committed row while a write is under way). */
	if (sqlite3_open_v2(path, &store.rdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK || sqlite3_busy_timeout(store.rdb, 5000) != SQLITE_OK ||
	    sqlite3_prepare_v2(store.rdb, "SELECT spec FROM objects WHERE id = ?", -1, &store.spec,
	    NULL) != SQLITE_OK) {
		log_warnx("store: %s: %s", path, store.rdb ? sqlite3_errmsg(store.rdb) :
		    "out of memory");
		return -1;
	}
	/* Without its thread, SQLite's own checkpoints in the commits. */
	(void)checkpoint_start(store.db, path);
	anchor->loop = query_int("SELECT value FROM meta WHERE key = 'anchor_loop'", -1);
	anchor->unix_us = query_int("SELECT value FROM meta WHERE key = 'anchor_unix'", 0);
	anchor->boot = query_int("SELECT value FROM meta WHERE key = 'anchor_boot'", 0);
	anchor->boot_key = query_int("SELECT value FROM meta WHERE key = 'boot_key'", 0);
	store.lease_end_recovered = query_int("SELECT value FROM meta WHERE key = 'lease_end'",
	    anchor->loop + STORE_LEASE_MAX_US);
	return 0;
}

/* A text column as a new string (NULL for NULL). */
static char *
column_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? strdup((const char *)t) : NULL;
}

/* Load the schedules (after the objects); n counts what is loaded. */
static long
store_load_schedules(long n)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(store.db, "SELECT id, state, kind, spec, tz, name, action,"
	    " start, end, count, fired, catchup, catchup_window, overlap, pause_on_failure,"
	    " jitter, created, mark FROM schedules ORDER BY id", -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct schedule_params p;
		struct core_error err = { CORE_OK, "" };
		uint64_t id = (uint64_t)sqlite3_column_int64(s, 0);

		memset(&p, 0, sizeof(p));
		p.kind = (enum recur_kind)sqlite3_column_int(s, 2);
		p.spec = (const char *)sqlite3_column_text(s, 3);
		p.tz = (const char *)sqlite3_column_text(s, 4);
		p.name = (const char *)sqlite3_column_text(s, 5);
		p.action = column_text(s, 6);
		p.start = sqlite3_column_int64(s, 7);
		p.end = sqlite3_column_int64(s, 8);
		p.count = (uint64_t)sqlite3_column_int64(s, 9);
		p.catchup = (enum schedule_catchup)sqlite3_column_int(s, 11);
		p.catchup_window = sqlite3_column_int64(s, 12);
		p.overlap = (enum schedule_overlap)sqlite3_column_int(s, 13);
		p.pause_on_failure = sqlite3_column_int(s, 14);
		p.jitter = sqlite3_column_int64(s, 15);
		if (p.action == NULL || schedule_restore(id, (enum schedule_state)
		    sqlite3_column_int(s, 1), &p, sqlite3_column_int64(s, 16),
		    sqlite3_column_int64(s, 17), (uint64_t)sqlite3_column_int64(s, 10),
		    &err) == NULL) {
			/* A zone that no longer loads must not stop start-up:
			 * the schedule is kept on disk and reported. */
			log_warnx("store: schedule s_%016llx cannot be restored: %s",
			    (unsigned long long)id, p.action ? err.msg : "out of memory");
			free(p.action);
			continue;
		}
		n++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? n : -1;
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
	 * a waiting call weighs, and start-up need not copy it. Which ones
	 * is the core's rule (future_spec_evictable). */
	if (sqlite3_prepare_v2(store.db, "SELECT id, kind, state, phase, trigger, flags,"
	    " attempts, created, finished, due, due_unix, started, target, target_kind, name,"
	    " spec,"
	    " outcome, idem_key, idem_digest, schedule, scheduled_for FROM objects"
	    " ORDER BY id", -1, &s,
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
		t.claimed = (flags & F_CLAIM) != 0;
		t.attempts = (uint32_t)sqlite3_column_int64(s, 6);
		t.created = sqlite3_column_int64(s, 7);
		t.finished = sqlite3_column_int64(s, 8);
		t.due = sqlite3_column_int64(s, 9);
		t.due_unix = sqlite3_column_int64(s, 10);
		t.started = sqlite3_column_int64(s, 11);
		tx.target = (uint64_t)sqlite3_column_int64(s, 12);
		tx.target_kind = (uint8_t)sqlite3_column_int(s, 13);
		tx.name = column_text(s, 14);
		t.spec = future_spec_evictable(&t, 1) ? NULL : column_text(s, 15);
		t.outcome = column_text(s, 16);
		tx.idem_key = column_text(s, 17);
		tx.idem_digest = (uint64_t)sqlite3_column_int64(s, 18);
		tx.schedule = (uint64_t)sqlite3_column_int64(s, 19);
		tx.scheduled_for = sqlite3_column_int64(s, 20);
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
	if (rc != SQLITE_DONE)
		return -1;
	return store_load_schedules(n);
}

static void store_changed(uint64_t id, void *arg);

/* One object's row as it stood when its batch was handed to the writer:
 * the loop goes on changing the object while the row is written. */
struct row {
	uint64_t id;
	int gone;			/* forgotten: delete the row */
	uint8_t kind, state, phase, trigger, flags, target_kind;
	uint32_t attempts;
	int64_t created, finished, due, due_unix, started;
	uint64_t target, idem_digest;
	char *name, *spec, *outcome, *idem_key;
	int want_spec;			/* claimed with its spec on disk */
	char *claim_spec;		/* ... read back by the writer */
	uint64_t schedule;		/* an occurrence: its schedule */
	int64_t scheduled_for;
	struct srow *sched;		/* a schedule's row instead, or NULL */
};

/* A schedule's row (same id space as objects). */
struct srow {
	uint8_t state, kind, catchup, overlap, pause_on_failure;
	char *spec, *tz, *name, *action;
	int64_t start, end, window, jitter, created, mark;
	uint64_t count, fired;
};

/* What one commit writes. */
struct batch {
	struct row *rows;
	size_t n, cap;
	uint64_t seq;			/* commits are numbered from 1 */
	int64_t next_id;
	struct clock_anchor anchor;
	int64_t lease_end;		/* calls may start until then */
	int rc;				/* the writer's SQLite result */
	int renew;			/* written to renew the lease */
};

/* The writer thread and what it shares with the loop. The loop hands it
 * one batch at a time and touches the database only while the writer is
 * idle (start-up, a synchronous flush, close). */
static struct {
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* work to do, or work done */
	int have_work, work_done, quit;
	int efd;			/* eventfd: the loop hears "done" */
	struct event *done_ev;
	struct batch b;
	int busy;			/* b is the writer's */
	uint64_t seq_last;		/* the last batch handed over */
} writer = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .efd = -1 };

/* Bind a string or NULL. */
static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* Bind integer v to the upsert's parameter i, unless it holds it. */
static void
up_int(int i, int64_t v)
{
	uint32_t bit = (uint32_t)1 << i;

	if ((store.up_known & bit) && !(store.up_null & bit) && store.up_v[i] == v)
		return;
	sqlite3_bind_int64(store.upsert, i, v);
	store.up_v[i] = v;
	store.up_known |= bit;
	store.up_null &= ~bit;
}

/* Bind NULL to the upsert's parameter i, unless it holds it. */
static void
up_null(int i)
{
	uint32_t bit = (uint32_t)1 << i;

	if ((store.up_known & bit) && (store.up_null & bit))
		return;
	sqlite3_bind_null(store.upsert, i);
	store.up_known |= bit;
	store.up_null |= bit;
}

/* Bind a string or NULL to the upsert's parameter i (a string always:
 * the text it held is gone). */
static void
up_text(int i, const char *v)
{
	if (v == NULL)
		up_null(i);
	else {
		sqlite3_bind_text(store.upsert, i, v, -1, SQLITE_STATIC);
		store.up_known &= ~((uint32_t)1 << i);
	}
}

/* Write one row. Returns an SQLite code. */
static int
store_write(const struct row *w)
{
	sqlite3_stmt *s = store.upsert;
	int rc;

	up_int(1, (int64_t)w->id);
	up_int(2, w->kind);
	up_int(3, w->state);
	up_int(4, w->phase);
	up_int(5, w->trigger);
	up_int(6, w->flags);
	up_int(7, w->attempts);
	up_int(8, w->created);
	up_int(9, w->finished);
	up_int(10, w->due);
	up_int(11, w->due_unix);
	up_int(12, w->started);
	up_int(13, (int64_t)w->target);
	up_int(14, w->target_kind);
	up_text(15, w->name);
	up_text(16, w->spec);
	up_text(17, w->outcome);
	up_text(18, w->idem_key);
	up_int(19, (int64_t)w->idem_digest);
	if (w->schedule != 0) {
		up_int(20, (int64_t)w->schedule);
		up_int(21, w->scheduled_for);
	} else {
		up_null(20);
		up_null(21);
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Write one schedule's row. Returns an SQLite code. */
static int
store_write_schedule(uint64_t id, const struct srow *r)
{
	sqlite3_stmt *s = store.sched_upsert;
	int rc;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
	sqlite3_bind_int(s, 2, r->state);
	sqlite3_bind_int(s, 3, r->kind);
	bind_text(s, 4, r->spec);
	bind_text(s, 5, r->tz);
	bind_text(s, 6, r->name);
	bind_text(s, 7, r->action);
	sqlite3_bind_int64(s, 8, r->start);
	sqlite3_bind_int64(s, 9, r->end);
	sqlite3_bind_int64(s, 10, (sqlite3_int64)r->count);
	sqlite3_bind_int64(s, 11, (sqlite3_int64)r->fired);
	sqlite3_bind_int(s, 12, r->catchup);
	sqlite3_bind_int64(s, 13, r->window);
	sqlite3_bind_int(s, 14, r->overlap);
	sqlite3_bind_int(s, 15, r->pause_on_failure);
	sqlite3_bind_int64(s, 16, r->jitter);
	sqlite3_bind_int64(s, 17, r->created);
	sqlite3_bind_int64(s, 18, r->mark);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Specs read back lately, by id (one slot each, the id picks it): a
 * client that polls a call (GET /v1/calls/{id}) has its spec read from
 * the store once, not on every request (about 5,000 instructions). A
 * spec never changes and an id is never given twice, so an entry stays
 * right until another takes its slot; store_close empties them (the
 * next store_open may be of another state directory). The loop's. */
#define SPEC_CACHE 64
static struct {
	uint64_t id;
	char *text;
} spec_cache[SPEC_CACHE];

/* Empty the cache of specs. */
static void
spec_cache_clear(void)
{
	for (size_t i = 0; i < SPEC_CACHE; i++) {
		free(spec_cache[i].text);
		spec_cache[i].text = NULL;
		spec_cache[i].id = 0;
	}
}

/* future_persist.load_spec: a stored call's spec, as a new string. */
static char *
store_load_spec(uint64_t id, void *arg)
{
	sqlite3_stmt *s = store.spec;
	char *spec = NULL, *keep;
	int rc;
	size_t slot = (size_t)(id % SPEC_CACHE);

	if (spec_cache[slot].id == id && spec_cache[slot].text != NULL)
		return strdup(spec_cache[slot].text);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		spec = column_text(s, 0);
	if (spec == NULL)
		log_warnx("store: cannot read back the action of c_%016llx: %s",
		    (unsigned long long)id, rc == SQLITE_ROW ? "out of memory" :
		    rc == SQLITE_DONE ? "not stored" : sqlite3_errstr(rc));
	sqlite3_reset(s);
	if (spec != NULL && (keep = strdup(spec)) != NULL) {
		free(spec_cache[slot].text);
		spec_cache[slot].id = id;
		spec_cache[slot].text = keep;
	}
	return spec;
}

/* Delete a forgotten object's row. */
static int
store_delete(uint64_t id)
{
	int rc;

	sqlite3_bind_int64(store.delete, 1, (sqlite3_int64)id);
	rc = sqlite3_step(store.delete);
	sqlite3_reset(store.delete);
	if (rc != SQLITE_DONE)
		return rc;
	/* Schedules share the id space: the id named one or the other. */
	sqlite3_bind_int64(store.sched_delete, 1, (sqlite3_int64)id);
	rc = sqlite3_step(store.sched_delete);
	sqlite3_reset(store.sched_delete);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Meta value i (key) is v in this commit: written unless the last
 * successful commit left it so; *wrote gets bit i when it is. */
static int
store_meta(int i, const char *key, int64_t v, unsigned *wrote)
{
	int rc;

	if ((store.meta_known & (1u << i)) && store.meta_last[i] == v)
		return SQLITE_OK;
	sqlite3_bind_text(store.meta, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(store.meta, 2, v);
	rc = sqlite3_step(store.meta);
	sqlite3_reset(store.meta);
	store.meta_last[i] = v;
	*wrote |= 1u << i;
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Run a prepared statement without results (BEGIN, COMMIT): an SQLite
 * code, extended, as sqlite3_exec's caller would read it. */
static int
store_exec(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE)
		rc = sqlite3_extended_errcode(store.db);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Read a claimed call's spec back for the loop (in the writer's
 * transaction): it starts with no I/O on the loop. A failure leaves it
 * NULL; the loop then reads it itself when the call starts. */
static void
store_read_claim_spec(struct row *w)
{
	sqlite3_stmt *s = store.claim_spec;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)w->id);
	if (sqlite3_step(s) == SQLITE_ROW)
		w->claim_spec = column_text(s, 0);
	sqlite3_reset(s);
}

/* Write a batch in one transaction. Returns an SQLite code. Runs on the
 * writer thread, or on the loop while the writer is idle. */
static int
store_commit(struct batch *b)
{
	int rc = SQLITE_OK;
	unsigned wrote = 0;

	if ((rc = store_exec(store.begin)) != SQLITE_OK)
		return rc;
	/* Deletes first: a forgotten occurrence's row goes before a new
	 * call for the same (schedule, nominal time) is written, whatever
	 * their order in the batch (a failed commit's rows are queued again
	 * behind later ones), so the UNIQUE index is never hit. */
	for (size_t i = 0; i < b->n && rc == SQLITE_OK; i++)
		if (b->rows[i].gone)
			rc = store_delete(b->rows[i].id);
	for (size_t i = 0; i < b->n && rc == SQLITE_OK; i++)
		if (!b->rows[i].gone)
			rc = b->rows[i].sched != NULL ?
			    store_write_schedule(b->rows[i].id, b->rows[i].sched) :
			    store_write(&b->rows[i]);
	for (size_t i = 0; i < b->n && rc == SQLITE_OK; i++)
		if (b->rows[i].want_spec)
			store_read_claim_spec(&b->rows[i]);
	if (rc == SQLITE_OK)
		rc = store_meta(0, "next_id", b->next_id, &wrote);
	if (rc == SQLITE_OK)
		rc = store_meta(1, "anchor_loop", b->anchor.loop, &wrote);
	if (rc == SQLITE_OK)
		rc = store_meta(2, "lease_end", b->lease_end, &wrote);
	if (rc == SQLITE_OK)
		rc = store_meta(3, "anchor_unix", b->anchor.unix_us, &wrote);
	if (rc == SQLITE_OK)
		rc = store_meta(4, "anchor_boot", b->anchor.boot, &wrote);
	if (rc == SQLITE_OK)
		rc = store_meta(5, "boot_key", b->anchor.boot_key, &wrote);
	if (rc == SQLITE_OK)
		rc = store_exec(store.commit);
	if (rc != SQLITE_OK && !sqlite3_get_autocommit(store.db))
		sqlite3_exec(store.db, "ROLLBACK", NULL, NULL, NULL);
	/* What this commit wrote is in the file now, or nothing of it is. */
	if (rc == SQLITE_OK)
		store.meta_known |= wrote;
	else
		store.meta_known &= ~wrote;
	return rc;
}

/* A copy of a string that may be NULL; 0 or -1. */
static int
copy_text(char **to, const char *from)
{
	*to = NULL;
	return from == NULL || (*to = strdup(from)) != NULL ? 0 : -1;
}

/* Free one row's strings. */
static void
row_clear(struct row *w)
{
	free(w->name);
	free(w->spec);
	free(w->outcome);
	free(w->idem_key);
	free(w->claim_spec);
	if (w->sched != NULL) {
		free(w->sched->spec);
		free(w->sched->tz);
		free(w->sched->name);
		free(w->sched->action);
		free(w->sched);
	}
	memset(w, 0, sizeof(*w));
}

/* Free a batch's rows' strings and empty it. */
static void
batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		row_clear(&b->rows[i]);
	b->n = 0;
}

/* How long a lease the next commit grants: 100 ms plus three times the
 * slowest recent commit, at most 2 s (store.h). */
static int64_t
store_lease_len(void)
{
	int64_t len = STORE_LEASE_MIN_US + 3 * store.slow_us;

	return len < STORE_LEASE_MAX_US ? len : STORE_LEASE_MAX_US;
}

/* A schedule's row as it is now, into w. */
static void
batch_fill_schedule(struct row *w, struct schedule *s)
{
	struct srow *r = calloc(1, sizeof(*r));

	if (r == NULL)
		fatalx("store: out of memory for a commit");
	r->state = s->state;
	r->kind = s->kind;
	r->catchup = s->catchup;
	r->overlap = s->overlap;
	r->pause_on_failure = s->pause_on_failure;
	r->start = s->start;
	r->end = s->end;
	r->window = s->catchup_window;
	r->jitter = s->jitter;
	r->created = s->created;
	r->mark = s->mark;
	r->count = s->count;
	r->fired = s->fired;
	w->sched = r;
	if (copy_text(&r->spec, s->spec_text) == -1 || copy_text(&r->tz, s->tz) == -1 ||
	    copy_text(&r->name, s->name) == -1 || copy_text(&r->action, s->action) == -1)
		fatalx("store: out of memory for a commit");
	schedule_mark_saving(s);
}

/* Fill batch b from the dirty list, at most slice rows (and SLICE_US,
 * unless slice is SIZE_MAX) this time: every changed object's row as it
 * is now. Returns 1 once the batch is complete
 * (every id dirty when filling began), 0 if more turns are needed. Memory
 * running out here is fatal: the changes are acknowledged only once
 * written, and could be neither written nor refused. */
static int
batch_fill(struct batch *b, size_t slice)
{
	struct schedule *sch;
	size_t end, i;
	int64_t until = clock_slice_end(SLICE_US);

	if (!store.filling) {
		store.filling = 1;
		store.fill_target = store.n_dirty;
		store.fill_done = 0;
		if (b->cap < store.n_dirty) {
			struct row *v = reallocarray(b->rows, store.n_dirty, sizeof(*v));
			if (v == NULL)
				fatalx("store: out of memory for a commit");
			b->rows = v;
			b->cap = store.n_dirty;
		}
	}
	end = store.fill_target - store.fill_done > slice ? store.fill_done + slice : store.fill_target;
	for (i = store.fill_done; i < end; i++) {
		struct future *f;
		struct row *w;

		if (slice != SIZE_MAX && i > store.fill_done && (i - store.fill_done) % SLICE_CHECK == 0 &&
		    clock_loop_now() > until)
			break;
		f = future_find(store.dirty[i]);
		w = &b->rows[b->n++];

		memset(w, 0, sizeof(*w));
		w->id = store.dirty[i];
		if (f == NULL && (sch = schedule_find(w->id)) != NULL) {
			batch_fill_schedule(w, sch);
			continue;
		}
		if ((w->gone = f == NULL))
			continue;
		w->kind = f->kind;
		w->state = f->state;
		w->phase = f->phase;
		w->trigger = f->trigger;
		w->flags = (uint8_t)((f->has_exception ? F_EXCEPTION : 0) |
		    (f->late ? F_LATE : 0) | (f->cancel_requested ? F_CANCEL : 0) |
		    (f->claimed && !future_done(f) ? F_CLAIM : 0));
		w->want_spec = f->claimed && !f->claim_held && f->spec == NULL && f->stored;
		w->attempts = f->attempts;
		w->created = f->created;
		w->finished = f->finished;
		w->due = f->due;
		w->due_unix = f->due_unix;
		w->started = f->started;
		w->target = future_target(f);
		w->target_kind = future_target_kind(f);
		w->idem_digest = future_idem_digest(f);
		w->schedule = future_schedule(f);
		w->scheduled_for = future_scheduled_for(f);
		/* A spec never changes: once stored it is not written again
		 * (the upsert keeps the stored one for a NULL). */
		if (copy_text(&w->name, future_name(f)) == -1 ||
		    copy_text(&w->spec, f->stored ? NULL : f->spec) == -1 ||
		    copy_text(&w->outcome, f->outcome) == -1 ||
		    copy_text(&w->idem_key, future_idem_key(f)) == -1)
			fatalx("store: out of memory for a commit");
		future_mark_saving(f);
	}
	if ((store.fill_done = i) < store.fill_target)
		return 0;
	/* What changed while filling waits for the next batch. */
	if ((store.n_dirty -= store.fill_target) > 0)
		memmove(store.dirty, store.dirty + store.fill_target, store.n_dirty * sizeof(*store.dirty));
	store.filling = 0;
	b->next_id = (int64_t)future_peek_next_id();
	clock_anchor_now(&b->anchor);
	/* Never less than a lease handed out before: the loop may start
	 * calls until the latest end it heard of, and a crash must find an
	 * end at least that late (the length decays). */
	b->lease_end = b->anchor.loop + store_lease_len();
	if (b->lease_end < store.lease_max)
		b->lease_end = store.lease_max;
	store.lease_max = b->lease_end;
	b->seq = ++writer.seq_last;
	b->renew = store.renew_due;
	store.anchor_due = 0;
	store.renew_due = 0;
	return 1;
}

/* The writer thread: commit each batch handed over, then tell the loop. */
static void *
writer_main(void *arg)
{
	uint64_t one = 1;

	pthread_mutex_lock(&writer.mu);
	for (;;) {
		while (!writer.have_work && !writer.quit)
			pthread_cond_wait(&writer.cv, &writer.mu);
		if (!writer.have_work)
			break;
		pthread_mutex_unlock(&writer.mu);
		writer.b.rc = store_commit(&writer.b);
		pthread_mutex_lock(&writer.mu);
		writer.have_work = 0;
		writer.work_done = 1;
		pthread_cond_broadcast(&writer.cv);
		/* An eventfd write fails only if the counter would overflow. */
		(void)!write(writer.efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&writer.mu);
	return NULL;
}

/* Schedule the timer for a retry or the next anchor refresh. */
static void
store_timer(int64_t us)
{
	struct timeval tv = clock_timeval(us);

	evtimer_add(store.timer_ev, &tv);
}

/* Rows [from, to) of the batch in writer.b, written (ok) or not: update their
 * objects and free the rows. */
static void
batch_done_rows(struct batch *b, int ok, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		struct row *w = &b->rows[i];
		struct future *f = w->gone ? NULL : future_find(w->id);

		if (ok) {
			if (f != NULL) {
				future_mark_clean(f);
				if (w->flags & F_CLAIM) {
					sched_claimed(f, w->claim_spec);
					w->claim_spec = NULL;
				}
			}
		} else {
			/* Objects never stored were never acknowledged: they
			 * go. The rest (and forgotten ones) are written again
			 * by the retry. */
			if (f != NULL && !f->stored)
				future_drop(f);
			if ((f = future_find(w->id)) != NULL)
				future_touch(f);
			else
				store_changed(w->id, NULL);
		}
		row_clear(w);
	}
}

/* Hand the gathered batch over at store.gather_until (flush_ev's timer),
 * or now when that has passed. */
static void
gather_timer(void)
{
	int64_t left = store.gather_until - clock_loop_now();
	struct timeval tv = { 0, 0 };

	if (left > 0)
		tv.tv_usec = (suseconds_t)left;
	evtimer_add(store.flush_ev, &tv);
}

/* The batch in writer.b was written (or not): update the objects, at most
 * slice rows this turn (the rest on a zero timer, so timers and I/O run
 * in between: a 100,000-row commit took 30-47 ms here in one turn), then
 * tell the HTTP layer which replies can go. */
static void
batch_done(size_t slice)
{
	static const struct timeval zero = { 0, 0 };
	struct batch *b = &writer.b;
	int rc = b->rc, was_faulty = store.fault != NULL;
	int64_t until = clock_slice_end(SLICE_US);
	size_t end, cap, nrows;

	if (!store.completing) {
		int64_t took = clock_loop_now() - store.handed;

		/* The slowest recent commit: up at once, down by an eighth a
		 * commit. */
		store.slow_us = took > store.slow_us ? took : store.slow_us - (store.slow_us - took) / 8;
		if (rc != SQLITE_OK && (rc == SQLITE_IOERR_FSYNC ||
		    rc == SQLITE_IOERR_DIR_FSYNC || rc == SQLITE_CORRUPT))
			fatalx("store: %s: stopping rather than acknowledge what may not be "
			    "stored", sqlite3_errstr(rc));
		store.completing = 1;
		store.done_at = 0;
	}
	/* At most slice rows, and SLICE_US unless slice is SIZE_MAX. */
	cap = b->n - store.done_at > slice ? store.done_at + slice : b->n;
	end = store.done_at;
	do {
		size_t to = cap - end > SLICE_CHECK ? end + SLICE_CHECK : cap;
		batch_done_rows(b, rc == SQLITE_OK, end, to);
		end = to;
	} while (end < cap && (slice == SIZE_MAX || clock_loop_now() <= until));
	if (end - store.done_at > store.stats.done_rows_max)
		store.stats.done_rows_max = end - store.done_at;
	store.stats.done_slices++;
	if ((store.done_at = end) < b->n) {
		if (store.done_more_ev != NULL) {
			evtimer_add(store.done_more_ev, &zero);
			return;
		}
		batch_done_rows(b, rc == SQLITE_OK, end, b->n);	/* no loop */
	}
	nrows = b->n;
	b->n = 0;
	store.completing = 0;
	writer.busy = 0;
	if (rc == SQLITE_OK) {
		/* Calls may start until the lease this commit grants. */
		sched_set_lease(b->lease_end);
		if (was_faulty)
			log_info("store: writable again");
		store.fault = NULL;
		store.commit_fn(1, b->seq, store.commit_arg);
	} else {
		store.fault = (rc & 0xff) == SQLITE_FULL ? "the disk is full" :
		    (rc & 0xff) == SQLITE_READONLY ? "the store is read-only" :
		    "the store cannot be written";
		if (!was_faulty)
			log_warnx("store: commit failed: %s (%s); writes get 503 until it "
			    "recovers", sqlite3_errstr(rc), store.fault);
		if (b->renew)
			store.renew_due = 1;
		store.commit_fn(0, b->seq, store.commit_arg);
		store_timer(RETRY_US);
	}
	if (store.fault == NULL && rc == SQLITE_OK && nrows >= GATHER_MIN_ROWS &&
	    !store.renew_due) {
		int64_t gather_us = store.slow_us / 2 < GATHER_MAX_US ? store.slow_us / 2 :
		    GATHER_MAX_US;
		store.gather_until = clock_loop_now() + gather_us;
		store.gather_rows = store.n_dirty + nrows;
		if (store.n_dirty > 0)
			gather_timer();
	} else if ((store.n_dirty > 0 || store.renew_due) && store.fault == NULL)
		event_active(store.flush_ev, 0, 0);
}

/* The next slice of a finished commit. */
static void
batch_done_cb(evutil_socket_t fd, short what, void *arg)
{
	if (store.completing)
		batch_done(STORE_DONE_SLICE);
}

/* The writer finished a batch. */
static void
writer_done_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;
	int done;

	if (read(writer.efd, &n, sizeof(n)) == -1)
		return;
	pthread_mutex_lock(&writer.mu);
	done = writer.work_done;
	writer.work_done = 0;
	pthread_mutex_unlock(&writer.mu);
	if (done && writer.busy && !store.completing)
		batch_done(STORE_DONE_SLICE);
}

/* Wait for the writer to finish its batch, if it has one, and take care
 * of all of it now. */
static void
writer_wait(void)
{
	if (!writer.busy)
		return;
	if (!store.completing) {
		pthread_mutex_lock(&writer.mu);
		while (!writer.work_done)
			pthread_cond_wait(&writer.cv, &writer.mu);
		writer.work_done = 0;
		pthread_mutex_unlock(&writer.mu);
	}
	batch_done(SIZE_MAX);
}

/* Hand the changes to the writer, once a batch is filled (slice rows a
 * turn); without a writer thread (it is stopping), commit them here. The
 * commit runs while the loop goes on: replies wait for their batch's
 * number (store_pending). */
static void
store_flush_now(size_t slice)
{
	static const struct timeval zero = { 0, 0 };

	if (writer.busy || (store.n_dirty == 0 && !store.anchor_due))
		return;	/* a busy writer's done event flushes what waits */
	if (!batch_fill(&writer.b, writer.running ? slice : SIZE_MAX)) {
		/* A zero timer, not event_active: timers and I/O get their
		 * turn between slices. */
		evtimer_add(store.flush_ev, &zero);
		return;
	}
	writer.busy = 1;
	store.handed = clock_loop_now();
	if (store.gather_until != 0) {
		store.gather_until = 0;
		event_del(store.flush_ev);	/* the gather's timer */
	}
	if (!writer.running) {
		writer.b.rc = store_commit(&writer.b);
		batch_done(SIZE_MAX);
		return;
	}
	pthread_mutex_lock(&writer.mu);
	writer.have_work = 1;
	pthread_cond_signal(&writer.cv);
	pthread_mutex_unlock(&writer.mu);
}

/* The flush event: a slice of the next batch, or its hand-over. */
static void
store_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	store_flush_now(FILL_SLICE);
}

void
store_flush(void)
{
	if (store.flush_ev == NULL)
		return;
	writer_wait();
	if (store.n_dirty > 0 || store.anchor_due) {
		store_flush_now(SIZE_MAX);
		writer_wait();
	}
}

/* Retry after a fault; otherwise refresh the loop-time anchor. */
static void
store_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	store.anchor_due = 1;
	event_active(store.flush_ev, 0, 0);
	store_timer(store.fault ? RETRY_US : ANCHOR_US);
}

/* future_persist.renew: commit soon, if only the anchor, for a lease. */
static void
store_renew(void *arg)
{
	if (store.renew_due || store.fault != NULL)
		return;		/* asked already; a fault's retry renews it */
	store.renew_due = store.anchor_due = 1;
	event_active(store.flush_ev, 0, 0);
}

/* The core reports a changed (or forgotten) object. */
static void
store_changed(uint64_t id, void *arg)
{
	if (store.n_dirty == store.cap_dirty) {
		size_t cap = store.cap_dirty ? store.cap_dirty * 2 : 1024;
		uint64_t *v = realloc(store.dirty, cap * sizeof(*v));
		if (v == NULL)
			fatalx("store: out of memory for the commit list");
		store.dirty = v;
		store.cap_dirty = cap;
	}
	store.dirty[store.n_dirty++] = id;
	if (store.flush_ev == NULL)
		return;
	if (store.gather_until != 0) {
		/* Gathering: the first change arms the timer, the last one
		 * expected hands the batch over at once. */
		if (store.n_dirty >= store.gather_rows)
			event_active(store.flush_ev, 0, 0);
		else if (store.n_dirty == 1)
			gather_timer();
	} else if (store.n_dirty == 1)
		event_active(store.flush_ev, 0, 0);
}

int
store_start(struct event_base *base, store_commit_fn fn, void *arg)
{
	struct future_persist p = { store_changed, store_load_spec, store_renew, NULL };

	store.commit_fn = fn;
	store.commit_arg = arg;
	store.flush_ev = event_new(base, -1, 0, store_flush_cb, NULL);
	store.timer_ev = evtimer_new(base, store_timer_cb, NULL);
	store.done_more_ev = evtimer_new(base, batch_done_cb, NULL);
	if (store.flush_ev == NULL || store.timer_ev == NULL || store.done_more_ev == NULL ||
	    event_priority_set(store.flush_ev, 0) == -1)
		return -1;
	/* "done" runs at the default priority: libevent serves one priority
	 * per turn, and two priority-0 events in turn (done, then the flush
	 * it re-arms) could hold timers back under load. */
	if ((writer.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1 ||
	    (writer.done_ev = event_new(base, writer.efd, EV_READ | EV_PERSIST, writer_done_cb,
	    NULL)) == NULL || event_add(writer.done_ev, NULL) == -1 ||
	    pthread_create(&writer.thread, NULL, writer_main, NULL) != 0) {
		log_warn("store: cannot start the writer thread");
		return -1;
	}
	writer.running = 1;
	future_set_persist(&p);
	store.anchor_due = 1;
	event_active(store.flush_ev, 0, 0);
	store_timer(ANCHOR_US);
	return 0;
}

void
store_close(void)
{
	if (writer.running) {
		writer_wait();
		pthread_mutex_lock(&writer.mu);
		writer.quit = 1;
		pthread_cond_signal(&writer.cv);
		pthread_mutex_unlock(&writer.mu);
		pthread_join(writer.thread, NULL);
		writer.running = 0;
	}
	if (store.db != NULL && store.flush_ev != NULL) {
		(void)batch_fill(&writer.b, SIZE_MAX);
		if ((writer.b.rc = store_commit(&writer.b)) != SQLITE_OK)
			log_warnx("store: final commit failed: %s", sqlite3_errstr(writer.b.rc));
		batch_clear(&writer.b);
	}
	future_set_persist(NULL);
	if (store.flush_ev != NULL)
		event_free(store.flush_ev);
	if (store.timer_ev != NULL)
		event_free(store.timer_ev);
	if (store.done_more_ev != NULL)
		event_free(store.done_more_ev);
	if (writer.done_ev != NULL)
		event_free(writer.done_ev);
	if (writer.efd != -1)
		close(writer.efd);
	free(writer.b.rows);
	memset(&writer.b, 0, sizeof(writer.b));
	writer.done_ev = NULL;
	writer.efd = -1;
	writer.busy = writer.have_work = writer.work_done = writer.quit = 0;
	writer.seq_last = 0;
	sqlite3_finalize(store.upsert);
	sqlite3_finalize(store.delete);
	sqlite3_finalize(store.meta);
	sqlite3_finalize(store.spec);
	sqlite3_finalize(store.claim_spec);
	sqlite3_finalize(store.sched_upsert);
	sqlite3_finalize(store.sched_delete);
	sqlite3_finalize(store.begin);
	sqlite3_finalize(store.commit);
	spec_cache_clear();
	checkpoint_stop();
	sqlite3_close(store.db);
	sqlite3_close(store.rdb);
	if (store.lock_fd != -1)
		close(store.lock_fd);
	free(store.dirty);
	memset(&store, 0, sizeof(store));
	store.lock_fd = -1;
}

int64_t
store_lease_end(void)
{
	return store.lease_end_recovered;
}

uint64_t
store_pending(void)
{
	if (store.fault != NULL)
		return 0;
	if (store.n_dirty > 0)		/* the next batch, or the one after the
					 * batch being filled for what it lacks */
		return writer.seq_last + 1 + (store.filling && store.n_dirty > store.fill_target);
	return writer.busy ? writer.seq_last : 0;
}

int
store_writable(void)
{
	return store.fault == NULL;
}

const char *
store_fault(void)
{
	return store.fault ? store.fault : "the store is writable";
}

const struct store_stats *
store_stats(void)
{
	return &store.stats;
}
