/* sqlite_ref.c: the bench's reference: local SQLite with the durability
 * a node uses per group commit (WAL, synchronous=FULL), single-row
 * commits and batched inserts of 1000 rows per transaction. */
#include <stdio.h>

#include <sqlite3.h>

#include "bench_int.h"
#include "ekulab/core/err.h"

int bench_sqlite_reference(struct bench *b, char *err)
{
	char path[400];
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	double t0, t;
	long i, n;
	int rc;

	snprintf(path, sizeof(path), "%s/reference.sqlite3", b->dir);
	rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db,
				  "PRAGMA journal_mode=WAL; PRAGMA "
				  "synchronous=FULL; CREATE TABLE config(path "
				  "TEXT PRIMARY KEY, value TEXT NOT NULL);",
				  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db,
					"INSERT OR REPLACE INTO config VALUES "
					"(?, ?)",
					-1, &ins, NULL);
	if (rc != SQLITE_OK) {
		ekl_errf(err, EKL_EIO, "reference database: %s",
			 sqlite3_errmsg(db));
		sqlite3_finalize(ins);
		sqlite3_close(db);
		return -1;
	}
	/* One row per fsync'd commit. */
	t0 = bench_now();
	for (n = 0; (t = bench_now()) - t0 < b->seconds; n++) {
		char p[64];

		snprintf(p, sizeof(p), "Ref Single %ld Name", n);
		sqlite3_bind_text(ins, 1, p, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 2, "value", -1, SQLITE_STATIC);
		sqlite3_step(ins);
		sqlite3_reset(ins);
	}
	b->sqlite_commits = (double)n / (t - t0);
	/* Batched: 1000 rows per transaction, like a replication batch. */
	t0 = bench_now();
	for (i = 0; i < b->catchup; i += 1000) {
		long k;

		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		for (k = i; k < i + 1000 && k < b->catchup; k++) {
			char p[64], v[32];

			snprintf(p, sizeof(p), "Ref Batch %ld Name", k);
			snprintf(v, sizeof(v), "v%ld", k);
			sqlite3_bind_text(ins, 1, p, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(ins, 2, v, -1, SQLITE_TRANSIENT);
			sqlite3_step(ins);
			sqlite3_reset(ins);
		}
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	b->sqlite_batched = (double)b->catchup / (bench_now() - t0);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return 0;
}
