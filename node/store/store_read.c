/* store_read.c: the store's reads: get, list and the change log. */
#include "store.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include <sqlite3.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "store_int.h"

/* ---- reads ---- */

int store_get(struct store *s, const char *path, char **value, char *err)
{
	sqlite3_stmt *stmt = s->sql[SQL_GET];
	int rc, r = 0;

	*value = NULL;
	if (path == NULL)
		return ekl_errf(err, EKL_EINVAL, "no path given");
	rc = sqlite3_bind_text(stmt, 1, path, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(stmt, 0);
		size_t n = (size_t)sqlite3_column_bytes(stmt, 0);

		*value = v != NULL ? ekl_malloc(n + 1) : NULL;
		if (*value == NULL) {
			r = ekl_errf(err, EKL_ENOMEM,
				     "reading \"%.80s\": out "
				     "of memory",
				     path);
		} else {
			memcpy(*value, v, n);
			(*value)[n] = '\0';
		}
	} else if (rc == SQLITE_DONE) {
		r = ekl_errf(err, EKL_ENOENT, "no configuration row \"%.80s\"",
			     path);
	} else {
		r = store_fail(s, rc, "reading a row", err);
	}
	(void)sqlite3_reset(stmt);
	return r;
}

int store_list(struct store *s,
	       int (*cb)(void *arg, const char *path, const char *value),
	       void *arg, char *err)
{
	sqlite3_stmt *stmt = s->sql[SQL_LIST];
	int rc, r = 0;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(stmt, 0);
		const char *v = (const char *)sqlite3_column_text(stmt, 1);

		if (p == NULL || v == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		r = cb(arg, p, v);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_fail(s, rc, "listing rows", err);
	(void)sqlite3_reset(stmt);
	return r;
}

/* ---- the change log ---- */

/* A non-zero cb return stops the read and is returned (like store_list).
 * At least one change is passed when one is available, whatever
 * max_bytes. Only committed changes are read, even inside a group. */
int store_log_read(struct store *s, int64_t after, size_t max_changes,
		   size_t max_bytes,
		   int (*cb)(void *arg, const struct store_change *c),
		   void *arg, char *err)
{
	sqlite3_stmt *stmt = s->sql[SQL_LOG_READ];
	size_t bytes = 0;
	int64_t limit;
	int n = 0, rc, r = 0;

	if (after < 0)
		return ekl_errf(err, EKL_EINVAL,
				"revision %" PRId64 " is negative", after);
	if (after >= s->st.revision || max_changes == 0)
		return 0;
	if (after + 1 < s->st.log_first)
		return ekl_errf(err, EKL_ENOENT,
				"%s: revision %" PRId64
				" is no longer in the change log (it starts "
				"at %" PRId64 "): send a snapshot",
				s->file, after + 1, s->st.log_first);
	limit = max_changes > INT_MAX ? INT_MAX : (int64_t)max_changes;
	rc = sqlite3_bind_int64(stmt, 1, after);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(stmt, 2, s->st.revision);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(stmt, 3, limit);
	while ((rc == SQLITE_OK || rc == SQLITE_ROW) &&
	       (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_change c;
		size_t len;

		c.rev = sqlite3_column_int64(stmt, 0);
		c.epoch = sqlite3_column_int64(stmt, 1);
		c.path = (const char *)sqlite3_column_text(stmt, 2);
		len = (size_t)sqlite3_column_bytes(stmt, 2);
		c.value = (const char *)sqlite3_column_text(stmt, 3);
		len += (size_t)sqlite3_column_bytes(stmt, 3);
		if (c.path == NULL ||
		    (c.value == NULL &&
		     sqlite3_column_type(stmt, 3) != SQLITE_NULL)) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (c.rev != after + 1 + n) {
			r = ekl_errf(err, EKL_EIO,
				     "%s: the change log misses revision "
				     "%" PRId64,
				     s->file, after + 1 + n);
			break;
		}
		if (n > 0 && bytes + len > max_bytes) {
			rc = SQLITE_DONE;
			break;
		}
		bytes += len;
		n++;
		r = cb(arg, &c);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_fail(s, rc, "reading the change log", err);
	(void)sqlite3_reset(stmt);
	return r != 0 ? r : n;
}

/* Also answers for revision itself when the log no longer holds it (after
 * a snapshot or a full compaction): its epoch is rev_epoch. */
int store_log_epoch(struct store *s, int64_t rev, int64_t *epoch, char *err)
{
	sqlite3_stmt *stmt = s->sql[SQL_LOG_EPOCH];
	int rc, r = 0;

	if (rev == 0 || rev == s->st.revision) {
		*epoch = rev == 0 ? 0 : s->st.rev_epoch;
		return 0;
	}
	if (rev < s->st.log_first || rev > s->st.revision)
		return ekl_errf(err, EKL_ENOENT,
				"revision %" PRId64 " is not in the change "
				"log (%" PRId64 "..%" PRId64 ")",
				rev, s->st.log_first, s->st.revision);
	rc = sqlite3_bind_int64(stmt, 1, rev);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*epoch = sqlite3_column_int64(stmt, 0);
	else if (rc == SQLITE_DONE)
		r = ekl_errf(err, EKL_EIO,
			     "%s: the change log misses revision "
			     "%" PRId64,
			     s->file, rev);
	else
		r = store_fail(s, rc, "reading the change log", err);
	(void)sqlite3_reset(stmt);
	return r;
}
