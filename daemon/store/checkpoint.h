/*
 * checkpoint: copies the store's write-ahead log into the database file on
 * a thread and a connection of its own, so that commits do not wait for it.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses 1,000
 * pages of log: that commit, and every reply held for the next ones,
 * waited for the copy and the database file's fsync, 6-13 ms every 0.4 s
 * at full load (issue 18: the POST p99 was those waits). Here the writer's
 * commit only wakes the checkpointer, which copies what is in the log while
 * the writer goes on appending (a passive checkpoint).
 *
 * The log starts over only when a writer begins with all of it copied, and
 * under steady load the writer appends during every copy. So once the log
 * holds CHECKPOINT_LIMIT pages the thread copies until at most
 * CHECKPOINT_REST are left, and the writer copies those: one small copy
 * and an fsync in a commit every CHECKPOINT_LIMIT pages, not a copy of
 * 1,000 pages and an fsync every 1,000. The log starts over at the
 * writer's next commit. Commits that outpace the thread (CHECKPOINT_PAGES
 * past the limit) get the writer to copy all that is left; at twice the
 * limit it waits for the thread's copy first. The log's file keeps its
 * largest size: about CHECKPOINT_LIMIT pages (16 MB of 4 KiB pages), at
 * most twice that.
 */
#ifndef LOOPD_STORE_CHECKPOINT_H
#define LOOPD_STORE_CHECKPOINT_H

#include <stdint.h>

#include <sqlite3.h>

/* Pages of log that wake the thread, and at which the writer copies. */
#define CHECKPOINT_PAGES 1000
#define CHECKPOINT_LIMIT 4000
#define CHECKPOINT_REST 256		/* ... pages left to the writer */

struct checkpoint_stats {
	uint64_t runs;			/* by the thread */
	uint64_t writer_runs;		/* by the writer, at CHECKPOINT_LIMIT */
	uint64_t failed;		/* either, not SQLITE_OK (busy included) */
	int log_pages_max;		/* the most pages seen in the log */
};

/* Check-point the database at path for the writer's connection wdb (its
 * WAL hook is replaced) on a thread of its own. -1 when the thread or its
 * connection cannot be had: SQLite's automatic checkpoint then stays. */
int checkpoint_start(sqlite3 *wdb, const char *path);
/* Stop the thread (after its copy under way, if any) and close its
 * connection; wdb gets SQLite's automatic checkpoint back. Safe when not
 * started. */
void checkpoint_stop(void);
/* Wait until the thread has nothing to do (tests). */
void checkpoint_idle(void);
/* A copy of the counts (any thread). */
void checkpoint_stats(struct checkpoint_stats *out);

#endif
