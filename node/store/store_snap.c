/* store_snap.c: the store's snapshots: a consistent reader, staging, swap. */
#include "store.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "store_int.h"

struct store_snap_reader {
	sqlite3 *db;		       /* owned: a read-only connection */
	sqlite3_stmt *next;	       /* owned */
	bool done;		       /* every row has been passed */
	char last[STORE_PATH_MAX + 1]; /* path of the last row passed */
	char file[STORE_FILE_MAX];
};

/* ---- snapshots: sending ---- */

int store_snap_open(struct store *s, struct store_snap_reader **out,
		    struct store_state *at, char *err)
{
	struct store_snap_reader *r;
	struct store_meta m;
	int rc, ret;

	*out = NULL;
	r = ekl_calloc(1, sizeof(*r));
	if (r == NULL)
		return ekl_errf(err, EKL_ENOMEM,
				"%s: snapshot reader: out of "
				"memory",
				s->file);
	memcpy(r->file, s->file, sizeof(r->file));
	rc = sqlite3_open_v2(r->file, &r->db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(r->db, STORE_BUSY_MS);
	/* BEGIN is deferred: the first SELECT (meta) pins the snapshot. */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		ret = store_sql_fail(r->db, r->file, rc, "opening a snapshot",
				     err);
		goto err_after_open;
	}
	ret = store_meta_load(r->db, r->file, &m, err);
	if (ret == 0 && m.found != META_ALL)
		ret = ekl_errf(err, EKL_EIO, "%s: meta is incomplete", r->file);
	/* The rows are counted only when the snapshot is not the committed
	 * state this connection keeps (it always is: both are in this
	 * process, and a group in progress is invisible to the reader).
	 * count(*) reads every row: seconds for a table of gigabytes, on
	 * the loop, long enough for the links to time out. */
	if (ret == 0 && m.st.revision == s->st.revision &&
	    m.st.epoch == s->st.epoch &&
	    memcmp(m.st.digest, s->st.digest, STORE_DIGEST_LEN) == 0)
		m.st.rows = s->st.rows;
	else if (ret == 0)
		ret = store_query_int(r->db, r->file,
				      "SELECT count(*) FROM config", &m.st.rows,
				      err);
	if (ret != 0)
		goto err_after_open;
	rc = sqlite3_prepare_v3(r->db,
				"SELECT path, value FROM config "
				"WHERE path > ?1 ORDER BY path LIMIT ?2",
				-1, SQLITE_PREPARE_PERSISTENT, &r->next, NULL);
	if (rc != SQLITE_OK) {
		ret = store_sql_fail(r->db, r->file, rc, "opening a snapshot",
				     err);
		goto err_after_open;
	}
	if (at != NULL)
		*at = m.st;
	*out = r;
	return 0;

err_after_open:
	store_snap_close(r);
	return ret;
}

int store_snap_next(struct store_snap_reader *r, size_t max_rows,
		    size_t max_bytes,
		    int (*cb)(void *arg, const char *path, const char *value),
		    void *arg, char *err)
{
	sqlite3_stmt *stmt = r->next;
	int n = 0, rc, ret = 0;
	size_t bytes = 0;
	bool full = false; /* stopped by max_bytes, not by the end */
	int64_t limit;

	if (r->done || max_rows == 0)
		return 0;
	limit = max_rows > INT_MAX ? INT_MAX : (int64_t)max_rows;
	rc = sqlite3_bind_text(stmt, 1, r->last, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(stmt, 2, limit);
	while ((rc == SQLITE_OK || rc == SQLITE_ROW) &&
	       (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(stmt, 0);
		size_t plen = (size_t)sqlite3_column_bytes(stmt, 0);
		const char *v = (const char *)sqlite3_column_text(stmt, 1);
		size_t len = plen + (size_t)sqlite3_column_bytes(stmt, 1);

		if (p == NULL || v == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (plen > STORE_PATH_MAX) {
			ret = ekl_errf(err, EKL_EIO,
				       "%s: a stored path is longer than %d "
				       "bytes",
				       r->file, STORE_PATH_MAX);
			break;
		}
		if (n > 0 && bytes + len > max_bytes) {
			/* This row starts the next call (r->last is the
			 * row before it). */
			full = true;
			rc = SQLITE_DONE;
			break;
		}
		bytes += len;
		/* Copied before the callback: the next batch starts here
		 * (sqlite3_reset below keeps r->last bound, not read). */
		memcpy(r->last, p, plen);
		r->last[plen] = '\0';
		n++;
		ret = cb(arg, p, v);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_sql_fail(r->db, r->file, rc, "reading a snapshot",
				     err);
	(void)sqlite3_reset(stmt);
	if (ret == 0 && !full && (size_t)n < max_rows)
		r->done = true;
	return ret != 0 ? ret : n;
}

void store_snap_close(struct store_snap_reader *r)
{
	if (r == NULL)
		return;
	sqlite3_finalize(r->next);
	if (r->db != NULL && sqlite3_get_autocommit(r->db) == 0)
		(void)sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
	(void)sqlite3_close(r->db);
	ekl_free(r);
}

/* ---- snapshots: receiving ---- */

int store_snap_stage_begin(struct store *s, char *err)
{
	int r = store_no_group(s, "receive a snapshot", err);

	if (r == 0)
		r = store_tx_begin(s, err);
	if (r != 0)
		return r;
	r = store_sql_run(s, SQL_STAGE_CLEAR, "clearing the snapshot staging",
			  err);
	if (r == 0)
		r = store_tx_commit(s, err);
	else
		store_tx_rollback(s);
	s->staging = r == 0;
	memset(s->stage_digest, 0, STORE_DIGEST_LEN);
	s->stage_rows = 0;
	return r;
}

int store_snap_stage_rows(struct store *s, const char *const *paths,
			  const char *const *values, size_t n, char *err)
{
	sqlite3_stmt *stmt = s->sql[SQL_STAGE_ADD];
	uint8_t digest[STORE_DIGEST_LEN];
	int rc, r = 0;

	if (!s->staging)
		return ekl_errf(err, EKL_EINVAL,
				"%s: no snapshot is being received (call "
				"store_snap_stage_begin first)",
				s->file);
	for (size_t i = 0; i < n; i++) {
		const char *why = values[i] == NULL
				      ? "the value is missing"
				      : store_bad_row(paths[i], values[i]);

		if (why != NULL)
			return ekl_errf(
			    err, EKL_EPROTO, "snapshot row \"%.80s\": %s",
			    paths[i] != NULL ? paths[i] : "(null)", why);
	}
	if (n == 0)
		return 0;
	/* The staged rows' digest is summed as they come (the chunk's part
	 * counts once its transaction committed), so the swap need not read
	 * them all again. */
	memcpy(digest, s->stage_digest, STORE_DIGEST_LEN);
	r = store_tx_begin(s, err);
	if (r != 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		size_t plen = strlen(paths[i]), vlen = strlen(values[i]);
		uint8_t h[STORE_DIGEST_LEN];

		rc = sqlite3_bind_text(stmt, 1, paths[i], (int)plen,
				       SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(stmt, 2, values[i], (int)vlen,
					       SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = store_sql_done(stmt);
		if ((rc & 0xff) == SQLITE_CONSTRAINT)
			r = ekl_errf(err, EKL_EPROTO,
				     "snapshot row \"%.80s\" was sent twice",
				     paths[i]);
		else if (rc != SQLITE_OK)
			r = store_fail(s, rc, "staging snapshot rows", err);
		else if ((r = store_row_hash(s, paths[i], plen, values[i], vlen,
					     h, err)) == 0)
			store_digest_add(digest, h);
	}
	if (r == 0)
		r = store_tx_commit(s, err);
	else
		store_tx_rollback(s);
	if (r == 0) {
		memcpy(s->stage_digest, digest, STORE_DIGEST_LEN);
		s->stage_rows += (int64_t)n;
	}
	return r;
}

/* The staged table becomes the live one by renaming it, and the old rows'
 * table is renamed aside (STORE_SQL_SWAP_FMT), all in one transaction: no
 * row is copied and none is deleted, so installing a snapshot costs a few
 * schema changes whatever the sizes (a copy of a 2 GiB snapshot wrote
 * 4 GiB to the WAL in one transaction; dropping a 500 MiB old table inside
 * the swap blocked the loop past the link timeout). The old rows are
 * deleted afterwards in small steps (store_trash_step). The statements
 * prepared on these tables prepare again by themselves (a schema change).
 * The digest was summed while staging.
 *
 * The epoch becomes max(epoch, rev_epoch); a newer one has no known
 * primary yet (""), which store_set_epoch() may then fill in. */
int store_snap_finish(struct store *s, int64_t revision, int64_t rev_epoch,
		      const uint8_t *digest, char *err)
{
	struct store_state ns = s->st;
	char have[2 * STORE_DIGEST_LEN + 1], want[2 * STORE_DIGEST_LEN + 1];
	char swap[512];
	int rc, r;

	r = store_no_group(s, "install a snapshot", err);
	if (r != 0)
		return r;
	if (!s->staging)
		return ekl_errf(err, EKL_EINVAL,
				"%s: no snapshot is being received", s->file);
	if (revision < 0 || rev_epoch < 0 || (revision == 0 && rev_epoch != 0))
		return ekl_errf(err, EKL_EPROTO,
				"snapshot at revision %" PRId64
				" of epoch %" PRId64 " is impossible",
				revision, rev_epoch);
	if (memcmp(s->stage_digest, digest, STORE_DIGEST_LEN) != 0) {
		store_digest_hex(s->stage_digest, have);
		store_digest_hex(digest, want);
		return ekl_errf(err, EKL_EPROTO,
				"snapshot at revision %" PRId64 ": the %" PRId64
				" rows received hash to %s, the "
				"sender announced %s; it was not applied",
				revision, s->stage_rows, have, want);
	}
	r = store_tx_begin(s, err);
	if (r != 0)
		return r;
	snprintf(swap, sizeof(swap), STORE_SQL_SWAP_FMT, s->trash_next);
	rc = sqlite3_exec(s->db, swap, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		r = store_fail(s, rc, "replacing the rows", err);
	if (r == 0)
		r = store_sql_run(s, SQL_LOG_CLEAR, "emptying the change log",
				  err);
	if (r == 0) {
		memcpy(ns.digest, s->stage_digest, STORE_DIGEST_LEN);
		ns.rows = s->stage_rows;
		ns.revision = revision;
		ns.rev_epoch = rev_epoch;
		ns.log_first = revision + 1;
		if (rev_epoch > ns.epoch) {
			ns.epoch = rev_epoch;
			ns.primary[0] = '\0';
		}
		r = store_meta_write(s, &ns, err);
	}
	if (r == 0)
		r = store_tx_commit(s, err);
	else
		store_tx_rollback(s);
	if (r == 0) {
		s->st = s->mst = ns;
		s->staging = false;
		s->trash_tables++;
		s->trash_next++;
	}
	return r;
}

/* Inside a write group this cannot clear anything; store_open() clears
 * what is left. */
void store_snap_abort(struct store *s)
{
	if (s->group || store_tx_begin(s, NULL) != 0)
		return;
	if (store_sql_run(s, SQL_STAGE_CLEAR, "clearing the staging", NULL) ==
		0 &&
	    store_tx_commit(s, NULL) == 0)
		s->staging = false;
	else
		store_tx_rollback(s);
}

/* ---- the rows a snapshot replaced ---- */

bool store_trash_pending(const struct store *s)
{
	return s->trash_tables > 0;
}

int64_t store_trash_tables(const struct store *s)
{
	return s->trash_tables;
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The oldest replaced table's name into name ("" when there is none). */
static int trash_oldest(struct store *s, char *name, size_t len, char *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	name[0] = '\0';
	rc = sqlite3_prepare_v2(
	    s->db,
	    "SELECT name FROM sqlite_master WHERE type = 'table' AND "
	    "name GLOB '" STORE_TRASH_PREFIX "[0-9]*' ORDER BY "
	    "CAST(substr(name, length('" STORE_TRASH_PREFIX "') + 1) AS "
	    "INTEGER) LIMIT 1",
	    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			snprintf(name, len, "%s",
				 (const char *)sqlite3_column_text(st, 0));
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "finding the rows a snapshot replaced",
				  err);
	return 0;
}

/* Deletes rows of the oldest replaced table, STEP_ROWS at a time, in one
 * transaction, until budget_s seconds have passed or the table is empty;
 * an empty table is dropped (cheap: its pages are already free). The
 * rows are in no one's view (not config, not staging, not counted in the
 * digest), so a crash anywhere leaves the store as consistent as before
 * and store_open() finds what is left. */
#define TRASH_STEP_ROWS 16

int store_trash_step(struct store *s, double budget_s, char *err)
{
	char name[128], sql[512];
	sqlite3_stmt *del = NULL;
	double t0 = mono_now();
	bool dropped = false;
	int rc, r;

	if (s->trash_tables == 0 || s->group)
		return 0;
	r = store_tx_begin(s, err);
	if (r != 0)
		return r;
	r = trash_oldest(s, name, sizeof(name), err);
	if (r != 0 || name[0] == '\0') {
		if (r == 0) { /* someone else's doing: nothing left */
			s->trash_tables = 0;
			r = store_tx_commit(s, err);
		} else
			store_tx_rollback(s);
		return r;
	}
	snprintf(sql, sizeof(sql),
		 "DELETE FROM \"%s\" WHERE path IN "
		 "(SELECT path FROM \"%s\" LIMIT %d)",
		 name, name, TRASH_STEP_ROWS);
	rc = sqlite3_prepare_v2(s->db, sql, -1, &del, NULL);
	while (rc == SQLITE_OK) {
		rc = store_sql_done(del);
		if (rc != SQLITE_OK)
			break;
		if (sqlite3_changes(s->db) < TRASH_STEP_ROWS) {
			snprintf(sql, sizeof(sql), "DROP TABLE \"%s\"", name);
			rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
			dropped = rc == SQLITE_OK;
			break;
		}
		if (mono_now() - t0 >= budget_s)
			break;
	}
	sqlite3_finalize(del);
	if (rc != SQLITE_OK) {
		r = store_fail(s, rc, "deleting the rows a snapshot replaced",
			       err);
		store_tx_rollback(s);
		return r;
	}
	r = store_tx_commit(s, err);
	if (r == 0 && dropped)
		s->trash_tables--;
	return r;
}
