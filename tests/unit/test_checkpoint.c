/*
 * Unit tests for the store's checkpoint thread (issue 18: the POST p99
 * was SQLite's automatic checkpoint inside a commit). A real SQLite
 * database in WAL mode in a temporary directory; this test's thread is
 * the writer:
 *
 *  - the log is copied by the checkpoint thread, not in the commits, and
 *    the writer copies only once the log holds CHECKPOINT_LIMIT pages, so
 *    the log stays bounded and nothing committed is lost;
 *  - checkpoint_stop gives the writer SQLite's automatic checkpoint back
 *    (and stopping twice is harmless: every test's teardown stops).
 */
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "daemon/log.h"
#include "daemon/store/checkpoint.h"
#include "tests/unit/check.h"

#define ROWS_PER_COMMIT 8
#define ROW_BYTES 3000		/* about a page each */
#define PAGE 4096

static struct {
	char dir[64];
	char path[128];
	char wal[128];
	sqlite3 *db;
} fx;

/* A fresh database in WAL mode, as the store opens it but without fsync
 * per commit (the test's speed; checkpoints still sync). */
static int
setup(void)
{
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/loopd-unit-ckpt-XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	snprintf(fx.path, sizeof(fx.path), "%s/test.db", fx.dir);
	snprintf(fx.wal, sizeof(fx.wal), "%s/test.db-wal", fx.dir);
	if (sqlite3_open(fx.path, &fx.db) != SQLITE_OK ||
	    sqlite3_exec(fx.db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
	    "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL);", NULL, NULL,
	    NULL) != SQLITE_OK) {
		fprintf(stderr, "cannot make %s\n", fx.path);
		return -1;
	}
	return 0;
}

static void
teardown(void)
{
	char cmd[128];

	checkpoint_stop();
	sqlite3_close(fx.db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fx.dir);
}

/* Commit n transactions of ROWS_PER_COMMIT new rows, and rewrite some old
 * ones (pages written again, as the store's updates do). */
static int
commit_rows(int n, int64_t *next_id)
{
	char sql[256];

	for (int i = 0; i < n; i++) {
		snprintf(sql, sizeof(sql), "BEGIN; WITH RECURSIVE c(x) AS (SELECT %lld UNION ALL "
		    "SELECT x + 1 FROM c WHERE x < %lld) INSERT INTO t SELECT x, randomblob(%d) "
		    "FROM c; UPDATE t SET v = randomblob(%d) "
		    "WHERE id = %lld; COMMIT;", (long long)*next_id,
		    (long long)*next_id + ROWS_PER_COMMIT - 1, ROW_BYTES, ROW_BYTES,
		    (long long)*next_id / 2);
		if (sqlite3_exec(fx.db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			fprintf(stderr, "commit: %s\n", sqlite3_errmsg(fx.db));
			return -1;
		}
		*next_id += ROWS_PER_COMMIT;
	}
	return 0;
}

/* The size of the log's file, in pages (frames are a page and a header). */
static long
wal_pages(void)
{
	struct stat st;

	return stat(fx.wal, &st) == -1 ? -1 : (long)(st.st_size / (PAGE + 24));
}

/* Rows in the database, read by a connection of its own. */
static long
count_rows(void)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long n = -1;

	if (sqlite3_open_v2(fx.path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			n = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return n;
}

/* 12 x CHECKPOINT_PAGES pages of log: the thread copies them, the writer
 * only at CHECKPOINT_LIMIT, and the log never grows past that and one
 * commit's pages. All rows are there afterwards. */
static void
test_copied_by_the_thread(void)
{
	struct checkpoint_stats st;
	int64_t next_id = 1;
	/* A commit writes its rows' pages, one rewritten and the tree's. */
	int commits = 12 * CHECKPOINT_PAGES / (ROWS_PER_COMMIT + 4);

	if (!CHECK(setup() == 0) || !CHECK(checkpoint_start(fx.db, fx.path) == 0))
		goto out;
	if (!CHECK(commit_rows(commits, &next_id) == 0))
		goto out;
	checkpoint_idle();
	checkpoint_stats(&st);
	printf("# %d commits: %llu copies by the thread, %llu by the writer, %llu failed, "
	    "log at most %d pages\n", commits, (unsigned long long)st.runs,
	    (unsigned long long)st.writer_runs, (unsigned long long)st.failed,
	    st.log_pages_max);
	/* At least one copy a CHECKPOINT_PAGES, most by the thread. */
	CHECK(st.runs >= 3);
	CHECK(st.writer_runs <= st.runs);
	/* Bounded: past the limit only by the commits made during one of
	 * the thread's copies (the writer's copy waits for it), never past
	 * twice the limit and a commit (its rows, the rewritten one and the
	 * tree's pages: fewer than 2 * (ROWS_PER_COMMIT + 8)). */
	CHECK(st.log_pages_max < 2 * CHECKPOINT_LIMIT + 2 * (ROWS_PER_COMMIT + 8));
	CHECK(wal_pages() < 2 * CHECKPOINT_LIMIT + 2 * (ROWS_PER_COMMIT + 8));
	CHECK_INT_EQ(count_rows(), next_id - 1);
out:
	teardown();
}

/* After checkpoint_stop, SQLite's automatic checkpoint is back: 3 x
 * CHECKPOINT_PAGES pages of log leave a log of about CHECKPOINT_PAGES. */
static void
test_stop_gives_back_the_automatic_checkpoint(void)
{
	int64_t next_id = 1;

	if (!CHECK(setup() == 0) || !CHECK(checkpoint_start(fx.db, fx.path) == 0))
		goto out;
	checkpoint_stop();
	if (!CHECK(commit_rows(3 * CHECKPOINT_PAGES / ROWS_PER_COMMIT, &next_id) == 0))
		goto out;
	CHECK(wal_pages() < CHECKPOINT_PAGES + 4 * (ROWS_PER_COMMIT + 8));
	CHECK_INT_EQ(count_rows(), next_id - 1);
out:
	teardown();
}

int
main(void)
{
	log_set_level(LOG_LEVEL_WARN);
	test_copied_by_the_thread();
	test_stop_gives_back_the_automatic_checkpoint();
	return check_summary();
}
