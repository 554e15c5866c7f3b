/* store_write.c: the store's writes: group commit, apply, epochs, compaction.
 */
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "ekulab/core/err.h"
#include "store_int.h"

/* ---- one change to config and the log, inside a transaction ---- */

static int bind_text(sqlite3_stmt *stmt, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(stmt, i);
	return sqlite3_bind_text(stmt, i, v, -1, SQLITE_STATIC);
}

/* Applies change (rev, epoch, path, value) to the tables and to *ns
 * (revision, rev_epoch, digest, rows); the log entry carries the new
 * digest, so the commit needs no meta write (invariant 6 of store.h).
 * Everything that can be refused is judged before the first write: a delete of
 * a missing row is EKL_ENOENT (err is then left to the caller), and the new
 * row's hash is computed first. Only an SQLite error can come after a write;
 * the caller then rolls the whole transaction back (no savepoint per change).
 */
static int change_row(struct store *s, struct store_state *ns, int64_t rev,
		      int64_t epoch, const char *path, const char *value,
		      char *err)
{
	sqlite3_stmt *get = s->sql[SQL_GET];
	sqlite3_stmt *stmt;
	uint8_t digest[STORE_DIGEST_LEN], h[STORE_DIGEST_LEN];
	uint8_t hnew[STORE_DIGEST_LEN];
	size_t plen = strlen(path);
	bool had = false;
	int rc, r = 0;

	memcpy(digest, ns->digest, STORE_DIGEST_LEN);
	rc = sqlite3_bind_text(get, 1, path, (int)plen, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(get);
	if (rc == SQLITE_ROW) {
		const char *old = (const char *)sqlite3_column_text(get, 0);
		size_t olen = (size_t)sqlite3_column_bytes(get, 0);

		had = true;
		if (old == NULL)
			rc = SQLITE_NOMEM;
		else if ((r = store_row_hash(s, path, plen, old, olen, h,
					     err)) == 0)
			store_digest_sub(digest, h);
	}
	(void)sqlite3_reset(get);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, rc, "reading a row", err);
	if (r != 0)
		return r;
	if (value == NULL && !had)
		return EKL_ENOENT;
	if (value != NULL) {
		r = store_row_hash(s, path, plen, value, strlen(value), hnew,
				   err);
		if (r != 0)
			return r;
		store_digest_add(digest, hnew);
	}

	if (value != NULL) {
		stmt = s->sql[SQL_SET];
		rc = sqlite3_bind_text(stmt, 1, path, (int)plen, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = bind_text(stmt, 2, value);
	} else {
		stmt = s->sql[SQL_DEL];
		rc = sqlite3_bind_text(stmt, 1, path, (int)plen, SQLITE_STATIC);
	}
	if (rc == SQLITE_OK)
		rc = store_sql_done(stmt);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "writing a configuration row", err);

	stmt = s->sql[SQL_LOG_ADD];
	rc = sqlite3_bind_int64(stmt, 1, rev);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(stmt, 2, epoch);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(stmt, 3, path, (int)plen, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = bind_text(stmt, 4, value);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(stmt, 5, digest, STORE_DIGEST_LEN,
				       SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = store_sql_done(stmt);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "appending to the change log", err);

	memcpy(ns->digest, digest, STORE_DIGEST_LEN);
	ns->rows += (value != NULL && !had) ? 1 : 0;
	ns->rows -= (value == NULL && had) ? 1 : 0;
	ns->revision = rev;
	ns->rev_epoch = epoch;
	return 0;
}

/* ---- write groups ---- */

int store_no_group(struct store *s, const char *what, char *err)
{
	if (!s->group)
		return 0;
	return ekl_errf(err, EKL_EINVAL,
			"%s: cannot %s while a write group is open", s->file,
			what);
}

int store_group_begin(struct store *s, char *err)
{
	int r = store_no_group(s, "start a write group", err);

	if (r == 0)
		r = store_tx_begin(s, err);
	if (r != 0)
		return r;
	s->group = true;
	s->group_failed = 0;
	s->gst = s->st;
	return 0;
}

bool store_group_open(const struct store *s)
{
	return s->group;
}

/* No savepoint per put (it cost two statements and a statement journal
 * per write): a put that is refused (bad row, a delete of a missing row,
 * an old epoch) is refused before it writes anything, so the group goes
 * on; an SQLite error once a put has written rolls the whole group back,
 * and every later put and the commit report it. */
int store_group_put(struct store *s, const char *path, const char *value,
		    int64_t *rev, char *err)
{
	struct store_state ns;
	const char *why;
	int r;

	if (!s->group)
		return ekl_errf(err, EKL_EINVAL,
				"%s: no write group is open (call "
				"store_group_begin first)",
				s->file);
	if (s->group_failed != 0)
		return ekl_errf(err, s->group_failed,
				"the write group was rolled back: %s",
				s->group_err);
	why = store_bad_row(path, value);
	if (why != NULL)
		return ekl_errf(err, EKL_EINVAL, "cannot store \"%.80s\": %s",
				path != NULL ? path : "(null)", why);
	if (s->gst.epoch < s->gst.rev_epoch)
		return ekl_errf(err, EKL_EINVAL,
				"cannot write in epoch %" PRId64
				": the last change is from epoch %" PRId64,
				s->gst.epoch, s->gst.rev_epoch);
	ns = s->gst;
	r = change_row(s, &ns, s->gst.revision + 1, s->gst.epoch, path, value,
		       err);
	if (r == EKL_ENOENT)
		return ekl_errf(err, r,
				"cannot delete \"%.80s\": there is no such "
				"row",
				path);
	if (r != 0) {
		/* It may have written part of the change: nothing of the
		 * group stays. */
		store_tx_rollback(s);
		s->group_failed = r;
		snprintf(s->group_err, sizeof(s->group_err), "%s", err);
		return r;
	}
	s->gst = ns;
	if (rev != NULL)
		*rev = ns.revision;
	return 0;
}

int store_group_commit(struct store *s, char *err)
{
	int r;

	if (!s->group)
		return ekl_errf(err, EKL_EINVAL, "%s: no write group is open",
				s->file);
	s->group = false;
	if (s->group_failed != 0) {
		r = ekl_errf(err, s->group_failed,
			     "the write group was rolled back: %s",
			     s->group_err);
		s->group_failed = 0;
		return r;
	}
	r = store_tx_commit(s, err);
	if (r == 0)
		s->st = s->gst;
	return r;
}

void store_group_rollback(struct store *s)
{
	if (!s->group)
		return;
	s->group = false;
	s->group_failed = 0;
	store_tx_rollback(s);
}

/* ---- the change log ---- */

int store_compact(struct store *s, int64_t keep, char *err)
{
	sqlite3_stmt *stmt = s->sql[SQL_LOG_DROP];
	struct store_state ns = s->st;
	int rc, r;

	if (keep < 0)
		return ekl_errf(err, EKL_EINVAL,
				"cannot keep %" PRId64 " log entries", keep);
	r = store_no_group(s, "compact the change log", err);
	if (r != 0)
		return r;
	ns.log_first = s->st.revision - keep + 1;
	if (ns.log_first <= s->st.log_first)
		return 0;
	r = store_tx_begin(s, err);
	if (r != 0)
		return r;
	rc = sqlite3_bind_int64(stmt, 1, ns.log_first);
	if (rc == SQLITE_OK)
		rc = store_sql_done(stmt);
	if (rc != SQLITE_OK)
		r = store_fail(s, rc, "compacting the change log", err);
	if (r == 0)
		r = store_meta_write(s, &ns, err);
	if (r == 0)
		r = store_tx_commit(s, err);
	else
		store_tx_rollback(s);
	if (r == 0)
		s->st = s->mst = ns;
	return r;
}

/* ---- peers ---- */

/* Changes must also keep their epochs in order (a change never has an
 * older epoch than the one before it). */
int store_apply(struct store *s, const struct store_change *c, size_t n,
		char *err)
{
	struct store_state ns = s->st;
	int r;

	r = store_no_group(s, "apply changes", err);
	if (r != 0 || n == 0)
		return r;
	r = store_tx_begin(s, err);
	if (r != 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *why = store_bad_row(c[i].path, c[i].value);

		if (c[i].rev != ns.revision + 1)
			r = ekl_errf(err, EKL_EPROTO,
				     "change %" PRId64
				     " follows revision %" PRId64 ": %s",
				     c[i].rev, ns.revision,
				     c[i].rev <= ns.revision ? "a repeat"
							     : "a gap");
		else if (c[i].epoch < ns.rev_epoch)
			r = ekl_errf(err, EKL_EPROTO,
				     "change %" PRId64 " has epoch %" PRId64
				     ", older than epoch %" PRId64
				     " of revision %" PRId64,
				     c[i].rev, c[i].epoch, ns.rev_epoch,
				     ns.revision);
		else if (why != NULL)
			r = ekl_errf(
			    err, EKL_EPROTO,
			    "change %" PRId64 " (\"%.80s\"): %s", c[i].rev,
			    c[i].path != NULL ? c[i].path : "(null)", why);
		else if ((r = change_row(s, &ns, c[i].rev, c[i].epoch,
					 c[i].path, c[i].value, err)) ==
			 EKL_ENOENT)
			r = ekl_errf(err, EKL_EPROTO,
				     "change %" PRId64
				     " deletes \"%.80s\", which this node "
				     "does not have: the stores differ",
				     c[i].rev, c[i].path);
	}
	if (r == 0)
		r = store_tx_commit(s, err);
	else
		store_tx_rollback(s);
	if (r == 0)
		s->st = ns;
	return r;
}

/* The same epoch is accepted again with the same primary, or to name the
 * primary of an epoch learnt without one (from a snapshot). */
int store_set_epoch(struct store *s, int64_t epoch, const char *primary,
		    char *err)
{
	struct store_state ns = s->st;
	int r;

	if (primary == NULL)
		primary = "";
	if (strlen(primary) >= STORE_NAME_MAX)
		return ekl_errf(err, EKL_EINVAL,
				"primary name \"%.80s\" is "
				"too long",
				primary);
	if (epoch < s->st.epoch)
		return ekl_errf(err, EKL_EINVAL,
				"epoch %" PRId64 " is older than ours (%" PRId64
				")",
				epoch, s->st.epoch);
	if (epoch == s->st.epoch) {
		if (strcmp(primary, s->st.primary) == 0)
			return 0;
		if (s->st.primary[0] != '\0')
			return ekl_errf(err, EKL_EINVAL,
					"epoch %" PRId64
					" already has primary %s, not %s",
					epoch, s->st.primary, primary);
	}
	r = store_no_group(s, "change the epoch", err);
	if (r != 0)
		return r;
	ns.epoch = epoch;
	snprintf(ns.primary, sizeof(ns.primary), "%s", primary);
	r = store_tx_begin(s, err);
	if (r != 0)
		return r;
	r = store_meta_write(s, &ns, err);
	if (r == 0)
		r = store_tx_commit(s, err);
	else
		store_tx_rollback(s);
	if (r == 0)
		s->st = s->mst = ns;
	return r;
}
