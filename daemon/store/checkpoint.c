/*
 * checkpoint: the store's log copied into its database file off the
 * commit path (checkpoint.h says why and how).
 */
#include "daemon/store/checkpoint.h"

#include <pthread.h>
#include <string.h>

#include "daemon/log.h"

static struct {
	sqlite3 *db;			/* the thread's connection */
	sqlite3 *wdb;			/* the writer's, whose hook is ours */
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* work to do, quit, or work done */
	int want, busy, quit;
	int copied;			/* pages of the log copied so far */
	struct checkpoint_stats stats;
} ck = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* Record a checkpoint's outcome; under ck.mu. */
static void
ckpt_done(int rc, int copied, uint64_t *runs)
{
	if (rc == SQLITE_OK) {
		(*runs)++;
		if (copied >= 0)
			ck.copied = copied;
	} else
		ck.stats.failed++;
}

/* The thread: a passive checkpoint each time it is woken. */
static void *
ckpt_main(void *arg)
{
	pthread_mutex_lock(&ck.mu);
	for (;;) {
		int rc, log_pages = -1, copied = -1;

		while (!ck.want && !ck.quit)
			pthread_cond_wait(&ck.cv, &ck.mu);
		if (ck.quit)
			break;
		ck.want = 0;
		ck.busy = 1;
		pthread_mutex_unlock(&ck.mu);
		rc = sqlite3_wal_checkpoint_v2(ck.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages,
		    &copied);
		pthread_mutex_lock(&ck.mu);
		ck.busy = 0;
		ckpt_done(rc, copied, &ck.stats.runs);
		pthread_cond_broadcast(&ck.cv);
	}
	pthread_mutex_unlock(&ck.mu);
	return NULL;
}

/* The writer's WAL hook, after each of its commits: pages are in the log.
 * Wakes the thread once CHECKPOINT_PAGES more than it copied are there;
 * copies the last few itself at CHECKPOINT_LIMIT. */
static int
ckpt_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	int in_writer;

	pthread_mutex_lock(&ck.mu);
	if (pages < ck.copied)
		ck.copied = 0;		/* the log started over */
	if (pages > ck.stats.log_pages_max)
		ck.stats.log_pages_max = pages;
	/* At the limit the thread copies until at most CHECKPOINT_REST
	 * pages are left; the writer copies those, or all that is left once
	 * commits outpace the thread by CHECKPOINT_PAGES. */
	if (!ck.busy && !ck.want && (pages - ck.copied >= CHECKPOINT_PAGES ||
	    (pages >= CHECKPOINT_LIMIT && pages - ck.copied > CHECKPOINT_REST))) {
		ck.want = 1;
		pthread_cond_broadcast(&ck.cv);	/* checkpoint_idle waits on it too */
	}
	/* Busy: the thread holds the checkpoint lock, and the writer's
	 * attempt would fail; the next commit tries again, unless the log
	 * reached twice the limit (a copy slower than CHECKPOINT_LIMIT pages
	 * of commits): then it waits, so that the log stays bounded. */
	while (pages >= 2 * CHECKPOINT_LIMIT && ck.busy)
		pthread_cond_wait(&ck.cv, &ck.mu);
	in_writer = pages >= CHECKPOINT_LIMIT && !ck.busy && !ck.want &&
	    (pages - ck.copied <= CHECKPOINT_REST ||
	    pages >= CHECKPOINT_LIMIT + CHECKPOINT_PAGES);
	pthread_mutex_unlock(&ck.mu);
	if (in_writer) {
		int log_pages = -1, copied = -1;
		int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
		    &log_pages, &copied);

		pthread_mutex_lock(&ck.mu);
		ckpt_done(rc, copied, &ck.stats.writer_runs);
		pthread_mutex_unlock(&ck.mu);
	}
	return SQLITE_OK;	/* the commit happened whatever this did */
}

int
checkpoint_start(sqlite3 *wdb, const char *path)
{
	int rc = -1;

	/* The same durability as the writer's: the log is synced before it
	 * is copied, the database file after. Reading the schema opens the
	 * connection's log. */
	if (sqlite3_open_v2(path, &ck.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK ||
	    sqlite3_exec(ck.db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(ck.db, "SELECT count(*) FROM sqlite_schema", NULL, NULL,
	    NULL) != SQLITE_OK) {
		log_warnx("store: no checkpoint thread: %s: %s", path,
		    ck.db ? sqlite3_errmsg(ck.db) : "out of memory");
		goto out;
	}
	ck.want = ck.busy = ck.quit = ck.copied = 0;
	memset(&ck.stats, 0, sizeof(ck.stats));
	if (pthread_create(&ck.thread, NULL, ckpt_main, NULL) != 0) {
		log_warnx("store: cannot start the checkpoint thread");
		goto out;
	}
	ck.running = 1;
	ck.wdb = wdb;
	sqlite3_wal_hook(wdb, ckpt_hook, NULL);
	rc = 0;
out:
	if (rc == -1) {
		sqlite3_close(ck.db);
		ck.db = NULL;
	}
	return rc;
}

void
checkpoint_stop(void)
{
	if (!ck.running)
		return;
	/* SQLite's own hook back first: no commit wakes the thread now. */
	sqlite3_wal_autocheckpoint(ck.wdb, CHECKPOINT_PAGES);
	pthread_mutex_lock(&ck.mu);
	ck.quit = 1;
	pthread_cond_broadcast(&ck.cv);
	pthread_mutex_unlock(&ck.mu);
	pthread_join(ck.thread, NULL);
	ck.running = 0;
	ck.wdb = NULL;
	sqlite3_close(ck.db);
	ck.db = NULL;
}

void
checkpoint_idle(void)
{
	pthread_mutex_lock(&ck.mu);
	while (ck.running && (ck.want || ck.busy))
		pthread_cond_wait(&ck.cv, &ck.mu);
	pthread_mutex_unlock(&ck.mu);
}

void
checkpoint_stats(struct checkpoint_stats *out)
{
	pthread_mutex_lock(&ck.mu);
	*out = ck.stats;
	pthread_mutex_unlock(&ck.mu);
}
