/* snapshot.c: the bench's snapshot catch-up: a peer that missed a whole
 * database (--snapshot-rows rows of --value-bytes bytes) receives it as a
 * snapshot, not from the change log; rows/s against local SQLite's
 * batched inserts of the same rows, and the peak RSS of every node.
 *
 * The happy path (on a lab of its own whose nodes keep a change log of
 * a tenth of the rows, so node3 cannot stream what it missed):
 * node3 is stopped; the rows are written on node1 (pipelined) and
 * replicate to node2; node3 starts, and the time until its revision equals
 * the primary's is the catch-up. VmHWM is read at the end: node3's covers
 * exactly its catch-up (it was started for it), the others' the writes and
 * the snapshot node1 sent. Then the same rows go into local SQLite, 1000
 * per transaction.
 *
 * The failure modes: a node that does not come back, a write that fails,
 * node3 not caught up within SNAP_TIMEOUT_S: the phase stops (-1, err).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench_int.h"
#include "client/admin_client.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "lab/lab_runtime.h"

#define SNAP_WINDOW    256 /* writes in flight: bounded memory per row size */
#define SNAP_TIMEOUT_S 1800

struct snap_gen {
	long i, n;
	int value_bytes;
	const char *value; /* value_bytes of filler */
};

/* Row i: "Snap i Value" = "v<i>" padded to value_bytes. */
static int row_value(char *buf, size_t len, long i, const char *filler,
		     int value_bytes)
{
	int k = snprintf(buf, len, "v%ld-", i);

	if (k < 0 || (size_t)k >= len)
		return -1;
	if (k < value_bytes) {
		memcpy(buf + k, filler, (size_t)(value_bytes - k));
		k = value_bytes;
	}
	buf[k] = '\0';
	return k;
}

static int snap_next(void *arg, char *buf, size_t len)
{
	struct snap_gen *g = arg;
	int k;

	if (g->i >= g->n)
		return 0;
	k = snprintf(buf, len, "text xConfiguration Snap %ld Value: ", g->i);
	if (k < 0 || (size_t)k >= len ||
	    row_value(buf + k, len - (size_t)k, g->i, g->value,
		      g->value_bytes) < 0)
		return -1;
	g->i++;
	return 1;
}

static void snap_done(void *arg, size_t index, bool ok, const char *body)
{
	(void)arg;
	if (!ok)
		fprintf(stderr,
			"ekulab: bench: snapshot write %zu failed: %s\n", index,
			body);
}

/* Local SQLite: the same rows, 1000 per transaction; rows/s or -1. */
static double sqlite_rows(const struct bench *b, const char *filler)
{
	char path[LAB_PATH_MAX + 40], p[64];
	char *v = ekl_malloc((size_t)b->value_bytes + 32);
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	double t0, rate = -1;
	long i;
	int rc;

	if (v == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/reference-snapshot.sqlite3", b->dir);
	rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db,
				  "PRAGMA journal_mode=WAL; PRAGMA "
				  "synchronous=FULL; CREATE TABLE config(path "
				  "TEXT PRIMARY KEY, value TEXT NOT NULL) "
				  "WITHOUT ROWID;",
				  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "INSERT INTO config VALUES (?, ?)",
					-1, &ins, NULL);
	if (rc != SQLITE_OK)
		goto out;
	t0 = bench_now();
	for (i = 0; i < b->snapshot_rows && rc == SQLITE_OK; i++) {
		if (i % 1000 == 0)
			rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		snprintf(p, sizeof(p), "xConfiguration Snap %ld Value", i);
		row_value(v, (size_t)b->value_bytes + 32, i, filler,
			  b->value_bytes);
		sqlite3_bind_text(ins, 1, p, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 2, v, -1, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			rc = SQLITE_ERROR;
		sqlite3_reset(ins);
		if (rc == SQLITE_OK &&
		    (i % 1000 == 999 || i + 1 == b->snapshot_rows))
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK)
		rate = (double)b->snapshot_rows / (bench_now() - t0);
out:
	sqlite3_finalize(ins);
	sqlite3_close(db);
	unlink(path);
	strcat(path, "-wal");
	unlink(path);
	path[strlen(path) - 4] = '\0';
	strcat(path, "-shm");
	unlink(path);
	ekl_free(v);
	return rate;
}

int bench_snapshot(struct bench *b, char *err)
{
	struct admin_pipeline p;
	struct snap_gen g;
	char *filler;
	long target, rev;
	double t0, end;
	int fd, rv, i;

	filler = ekl_malloc((size_t)b->value_bytes + 1);
	if (filler == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	for (i = 0; i < b->value_bytes; i++)
		filler[i] = (char)('a' + i % 26);
	filler[b->value_bytes] = '\0';

	/* node3 misses everything; the lab's log is short
	 * (a tenth of the rows), so it gets a snapshot. */
	b->lab.rt->stop_node(&b->lab, 2, err);
	fd = admin_client_connect(b->n[0].sock, err);
	if (fd < 0) {
		rv = fd;
		goto out;
	}
	g.i = 0;
	g.n = b->snapshot_rows;
	g.value_bytes = b->value_bytes;
	g.value = filler;
	p.next = snap_next;
	p.done = snap_done;
	p.arg = &g;
	p.window = SNAP_WINDOW;
	p.cancel = NULL;
	t0 = bench_now();
	rv = admin_client_pipeline(fd, &p, err);
	close(fd);
	if (rv != 0)
		goto out;
	b->snap_write_seconds = bench_now() - t0;
	target = bench_db_revision(b->n[0].sock);

	if ((rv = b->lab.rt->start_node(&b->lab, 2, err)) != 0)
		goto out;
	end = bench_now() + 30;
	while (bench_db_revision(b->n[2].sock) < 0 && bench_now() < end)
		usleep(2000);
	t0 = bench_now();
	end = t0 + SNAP_TIMEOUT_S;
	while ((rev = bench_db_revision(b->n[2].sock)) < target) {
		if (bench_now() > end) {
			rv = ekl_errf(err, EKL_EIO,
				      "node3 did not receive the snapshot "
				      "within %d s (at revision %ld of %ld)",
				      SNAP_TIMEOUT_S, rev, target);
			goto out;
		}
		usleep(5000);
	}
	b->snap_seconds = bench_now() - t0;
	b->snap_rate = (double)b->snapshot_rows / b->snap_seconds;
	for (i = 0; i < NODES; i++)
		b->n[i].snap_peak_rss_kb =
		    bench_rss_kb(b->lab.nodes[i].pid, "VmHWM:");
	b->snap_sqlite = sqlite_rows(b, filler);
	rv = 0;
out:
	ekl_free(filler);
	return rv;
}
