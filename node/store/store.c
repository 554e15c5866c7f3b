/* store.c: the node's configuration database (SQLite, WAL) and change log.
 *
 * The happy path: store_open() checks an existing DIR/clusterdb.sqlite3
 * (quick_check, tables, meta) or builds a new one under a temporary name
 * and links it into place, then prepares every statement once. Each
 * mutation is one BEGIN IMMEDIATE ... COMMIT transaction on the main
 * connection; the rows, the change log and meta (written once, at commit)
 * change together. The committed state is cached in s->st and replaced
 * only after COMMIT succeeded, so a failed call leaves the cache as it was
 * (invariant 4). A write group keeps its working state in s->gst; a put
 * that is refused writes nothing, so the group goes on, and an SQLite
 * error after a put wrote rolls the whole group back (store_write.c).
 *
 * The failure modes: any SQLite error rolls the transaction back and is
 * returned as EKL_EIO (EKL_ENOMEM for SQLITE_NOMEM) with the file and
 * sqlite3_errmsg(); bad input is EKL_EINVAL (local writes) or EKL_EPROTO
 * (what a peer sent). A damaged or foreign file is refused by store_open()
 * before anything writes to it (no pragma that writes, no checkpoint on
 * close; the checkpointer of store_ckpt.c can only be started on a store
 * that store_open() returned).
 *
 * The code is split by what it holds: this file opens, checks and closes
 * the database and owns transactions and meta; store_write.c the write
 * groups, apply, epochs and compaction; store_read.c get, list and the
 * change log; store_snap.c snapshots; store_ckpt.c WAL checkpoints on a
 * thread; store_digest.c the row hash behind the digest; store_int.h what
 * they share.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ekulab/core/err.h"
#include "ekulab/core/utf8.h"
#include "ekulab/x509/sslerr.h"
#include "ekulab/core/mem.h"
#include "store_int.h"

#define STORE_FILE_NAME "clusterdb.sqlite3"

/* The text of each enum store_sql statement (store_int.h). */
static const char *const store_sql_text[SQL_COUNT] = {
    [SQL_BEGIN] = "BEGIN IMMEDIATE",
    [SQL_COMMIT] = "COMMIT",
    [SQL_ROLLBACK] = "ROLLBACK",
    [SQL_GET] = "SELECT value FROM config WHERE path = ?1",
    [SQL_SET] = "INSERT INTO config(path, value) VALUES(?1, ?2) "
		"ON CONFLICT(path) DO UPDATE SET value = excluded.value",
    [SQL_DEL] = "DELETE FROM config WHERE path = ?1",
    [SQL_LIST] = "SELECT path, value FROM config ORDER BY path",
    [SQL_LOG_ADD] = "INSERT INTO changelog(rev, epoch, path, value, digest) "
		    "VALUES(?1, ?2, ?3, ?4, ?5)",
    [SQL_LOG_READ] = "SELECT rev, epoch, path, value FROM changelog "
		     "WHERE rev > ?1 AND rev <= ?2 ORDER BY rev LIMIT ?3",
    [SQL_LOG_EPOCH] = "SELECT epoch FROM changelog WHERE rev = ?1",
    [SQL_LOG_DROP] = "DELETE FROM changelog WHERE rev < ?1",
    [SQL_LOG_CLEAR] = "DELETE FROM changelog",
    [SQL_META_SET] = "INSERT OR REPLACE INTO meta(k, v) VALUES(?1, ?2)",
    [SQL_STAGE_CLEAR] = "DELETE FROM snap_config",
    [SQL_STAGE_ADD] = "INSERT INTO snap_config(path, value) "
		      "VALUES(?1, ?2)",
};

/* The schema of a new file, created in one transaction with its meta. */
static const char store_schema[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY NOT NULL, v) WITHOUT ROWID;"
    "CREATE TABLE config" STORE_SQL_CONFIG_COLUMNS ";"
    "CREATE TABLE changelog(rev INTEGER PRIMARY KEY,"
    " epoch INTEGER NOT NULL, path TEXT NOT NULL, value TEXT, digest BLOB);"
    "CREATE TABLE snap_config" STORE_SQL_CONFIG_COLUMNS ";"
    "INSERT INTO meta(k, v) VALUES ('schema_version', 2), ('epoch', 0),"
    " ('primary', ''), ('revision', 0), ('rev_epoch', 0),"
    " ('log_first', 1), ('digest', zeroblob(32));";

static const char *const store_tables[] = {"meta", "config", "changelog",
					   "snap_config"};

int store_set_deferred_sync(struct store *s, bool deferred, char *err)
{
	int rc = sqlite3_exec(s->db,
			      deferred ? "PRAGMA synchronous=NORMAL"
				       : "PRAGMA synchronous=FULL",
			      NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return ekl_errf(err, EKL_EIO, "%s: cannot set synchronous: %s",
				s->file, sqlite3_errmsg(s->db));
	return 0;
}

const char *store_wal_path(struct store *s)
{
	snprintf(s->wal, sizeof(s->wal), "%s-wal", s->file);
	return s->wal;
}

/* ---- errors ---- */

static int sql_code(int rc)
{
	return (rc & 0xff) == SQLITE_NOMEM ? EKL_ENOMEM : EKL_EIO;
}

/* The SQLite error rc on db as an EKL code with a message naming file. */
int store_sql_fail(sqlite3 *db, const char *file, int rc, const char *what,
		   char *err)
{
	return ekl_errf(err, sql_code(rc), "%s: %s: %s", file, what,
			db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

int store_fail(struct store *s, int rc, const char *what, char *err)
{
	return store_sql_fail(s->db, s->file, rc, what, err);
}

/* ---- validation ---- */

#define STORE_STR_(x) #x
#define STORE_STR(x)  STORE_STR_(x)

/* The first of NUL, CR or LF in s[0..len), or NULL. memchr is vectorised:
 * three passes cost less than one byte loop (2 KiB rows of a snapshot
 * spent a sixth of the peer's time here). */
static const char *first_forbidden(const char *s, size_t len)
{
	const char *nul = memchr(s, '\0', len);
	const char *cr = memchr(s, '\r', nul != NULL ? (size_t)(nul - s) : len);
	const char *end = cr != NULL ? cr : nul;
	const char *lf = memchr(s, '\n', end != NULL ? (size_t)(end - s) : len);

	return lf != NULL ? lf : end;
}

/* Length of the ASCII prefix of s[0..len), eight bytes at a time. */
static size_t ascii_prefix(const char *s, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		if (w & UINT64_C(0x8080808080808080))
			break;
	}
	while (i < len && (unsigned char)s[i] < 0x80)
		i++;
	return i;
}

/* Why text s[0..len) cannot be stored as `what` ("path", "value"). */
static const char *bad_text(const char *s, size_t len, bool path)
{
	const char *bad;
	size_t a;

	if (path && len > STORE_PATH_MAX)
		return "the path is longer than " STORE_STR(
		    STORE_PATH_MAX) " bytes";
	if (!path && len > STORE_VALUE_MAX)
		return "the value is longer than " STORE_STR(
		    STORE_VALUE_MAX) " bytes";
	bad = first_forbidden(s, len);
	if (bad != NULL && *bad == '\0')
		return path ? "the path contains a NUL byte"
			    : "the value contains a NUL byte";
	if (bad != NULL)
		return path ? "the path contains a line break"
			    : "the value contains a line break";
	a = ascii_prefix(s, len);
	if (a < len && utf8_valid_prefix(s + a, len - a) != len - a)
		return path ? "the path is not valid UTF-8"
			    : "the value is not valid UTF-8";
	return NULL;
}

const char *store_row_invalid(const char *path, size_t path_len,
			      const char *value, size_t value_len)
{
	const char *why;

	if (path == NULL || path_len == 0)
		return "the path is empty";
	why = bad_text(path, path_len, true);
	if (why == NULL && value != NULL)
		why = bad_text(value, value_len, false);
	return why;
}

/* NULL when path (and value, unless NULL) may be stored, else why not. */
const char *store_bad_row(const char *path, const char *value)
{
	return store_row_invalid(path, path != NULL ? strlen(path) : 0, value,
				 value != NULL ? strlen(value) : 0);
}

/* ---- statement helpers ---- */

/* Steps a statement that returns no row and resets it; SQLITE_OK or the
 * error (the message stays in sqlite3_errmsg). */
int store_sql_done(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	(void)sqlite3_reset(stmt); /* repeats step's error, if any */
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

int store_sql_run(struct store *s, enum store_sql i, const char *what,
		  char *err)
{
	int rc = store_sql_done(s->sql[i]);

	return rc == SQLITE_OK ? 0 : store_fail(s, rc, what, err);
}

/* Rolls back the open transaction, if any; errors are moot by then. */
void store_tx_rollback(struct store *s)
{
	if (sqlite3_get_autocommit(s->db) == 0)
		(void)store_sql_done(s->sql[SQL_ROLLBACK]);
}

int store_tx_begin(struct store *s, char *err)
{
	return store_sql_run(s, SQL_BEGIN, "starting a transaction", err);
}

/* Commits; on failure rolls back so nothing of it is applied. */
int store_tx_commit(struct store *s, char *err)
{
	int r = store_sql_run(s, SQL_COMMIT, "committing", err);

	if (r != 0)
		store_tx_rollback(s);
	return r;
}

static int meta_set(struct store *s, const char *k, int type, int64_t i,
		    const void *p, char *err)
{
	sqlite3_stmt *stmt = s->sql[SQL_META_SET];
	int rc = sqlite3_bind_text(stmt, 1, k, -1, SQLITE_STATIC);

	if (rc == SQLITE_OK) {
		if (type == SQLITE_INTEGER)
			rc = sqlite3_bind_int64(stmt, 2, i);
		else if (type == SQLITE_TEXT)
			rc = sqlite3_bind_text(stmt, 2, p, -1, SQLITE_STATIC);
		else
			rc = sqlite3_bind_blob(stmt, 2, p, STORE_DIGEST_LEN,
					       SQLITE_STATIC);
	}
	if (rc == SQLITE_OK)
		rc = store_sql_done(stmt);
	return rc == SQLITE_OK ? 0 : store_fail(s, rc, "writing meta", err);
}

/* Writes the meta keys where ns differs from the committed state, inside
 * the caller's transaction. */
int store_meta_write(struct store *s, const struct store_state *ns, char *err)
{
	const struct store_state *o = &s->mst;
	int r = 0;

	if (r == 0 && ns->epoch != o->epoch)
		r = meta_set(s, "epoch", SQLITE_INTEGER, ns->epoch, NULL, err);
	if (r == 0 && strcmp(ns->primary, o->primary) != 0)
		r = meta_set(s, "primary", SQLITE_TEXT, 0, ns->primary, err);
	if (r == 0 && ns->revision != o->revision)
		r = meta_set(s, "revision", SQLITE_INTEGER, ns->revision, NULL,
			     err);
	if (r == 0 && ns->rev_epoch != o->rev_epoch)
		r = meta_set(s, "rev_epoch", SQLITE_INTEGER, ns->rev_epoch,
			     NULL, err);
	if (r == 0 && ns->log_first != o->log_first)
		r = meta_set(s, "log_first", SQLITE_INTEGER, ns->log_first,
			     NULL, err);
	if (r == 0 && memcmp(ns->digest, o->digest, STORE_DIGEST_LEN) != 0)
		r = meta_set(s, "digest", SQLITE_BLOB, 0, ns->digest, err);
	return r;
}

/* ---- open ---- */

/* The change log's last entry, when newer than meta's revision, gives
 * revision, rev_epoch and digest (invariant 6 of store.h). An entry
 * without a digest of the right size takes META_DIGEST out of m->found:
 * the file is inconsistent. */
static int log_tail(sqlite3 *db, const char *file, struct store_meta *m,
		    char *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db,
				"SELECT rev, epoch, digest FROM changelog "
				"ORDER BY rev DESC LIMIT 1",
				-1, &stmt, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW &&
	    sqlite3_column_int64(stmt, 0) > m->st.revision) {
		const void *d = sqlite3_column_blob(stmt, 2);

		m->st.revision = sqlite3_column_int64(stmt, 0);
		m->st.rev_epoch = sqlite3_column_int64(stmt, 1);
		if (d != NULL &&
		    sqlite3_column_bytes(stmt, 2) == STORE_DIGEST_LEN)
			memcpy(m->st.digest, d, STORE_DIGEST_LEN);
		else
			m->found &= ~(unsigned)META_DIGEST;
	}
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = 0;
	else
		rc =
		    store_sql_fail(db, file, rc, "reading the change log", err);
	sqlite3_finalize(stmt);
	return rc;
}

/* Reads meta into *m, and the change log's last entry when it is newer
 * (invariant 6 of store.h); only SQL errors fail. */
int store_meta_load(sqlite3 *db, const char *file, struct store_meta *m,
		    char *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = sqlite3_prepare_v2(db, "SELECT k, v FROM meta", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_sql_fail(db, file, rc, "reading meta", err);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(stmt, 0);
		int type = sqlite3_column_type(stmt, 1);
		int64_t v = sqlite3_column_int64(stmt, 1);
		bool isint = type == SQLITE_INTEGER && v >= 0;

		if (k == NULL)
			continue;
		if (strcmp(k, "schema_version") == 0 && isint) {
			m->schema = v;
			m->found |= META_SCHEMA;
		} else if (strcmp(k, "epoch") == 0 && isint) {
			m->st.epoch = v;
			m->found |= META_EPOCH;
		} else if (strcmp(k, "revision") == 0 && isint) {
			m->st.revision = v;
			m->found |= META_REVISION;
		} else if (strcmp(k, "rev_epoch") == 0 && isint) {
			m->st.rev_epoch = v;
			m->found |= META_REV_EPOCH;
		} else if (strcmp(k, "log_first") == 0 && isint && v >= 1) {
			m->st.log_first = v;
			m->found |= META_LOG_FIRST;
		} else if (strcmp(k, "primary") == 0 && type == SQLITE_TEXT &&
			   sqlite3_column_bytes(stmt, 1) < STORE_NAME_MAX) {
			const char *p =
			    (const char *)sqlite3_column_text(stmt, 1);

			if (p != NULL) {
				snprintf(m->st.primary, sizeof(m->st.primary),
					 "%s", p);
				m->found |= META_PRIMARY;
			}
		} else if (strcmp(k, "digest") == 0 && type == SQLITE_BLOB &&
			   sqlite3_column_bytes(stmt, 1) == STORE_DIGEST_LEN) {
			const void *p = sqlite3_column_blob(stmt, 1);

			if (p != NULL) {
				memcpy(m->st.digest, p, STORE_DIGEST_LEN);
				m->found |= META_DIGEST;
			}
		}
	}
	if (rc != SQLITE_DONE)
		rc = store_sql_fail(db, file, rc, "reading meta", err);
	else
		rc = 0;
	sqlite3_finalize(stmt);
	m->kept = m->st;
	if (rc == 0 && m->schema >= 2)
		rc = log_tail(db, file, m, err);
	return rc;
}

/* Runs a query returning one integer into *out. */
int store_query_int(sqlite3 *db, const char *file, const char *sql,
		    int64_t *out, char *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(stmt, 0);
			rc = SQLITE_OK;
		}
	}
	if (rc != SQLITE_OK)
		rc = store_sql_fail(db, file, rc, sql, err);
	sqlite3_finalize(stmt);
	return rc;
}

/* The refusal of a file we cannot read as a database. */
static int refuse_damaged(const char *file, const char *why, char *err)
{
	return ekl_errf(err, EKL_EIO,
			"%s is damaged (%s); it was left untouched: restore it "
			"from a backup or move it away to start this node "
			"empty",
			file, why);
}

static int refuse_foreign(const char *file, const char *why, char *err)
{
	return ekl_errf(err, EKL_ECONFIG,
			"%s %s; it was left untouched: move it away to start "
			"this node empty, or point --data at this node's own "
			"directory",
			file, why);
}

/* A failure to read the file at all (while `doing`, e.g. "quick_check"):
 * damage, or another holder. */
static int refuse_unreadable(sqlite3 *db, const char *file, int rc,
			     const char *doing, char *err)
{
	char why[EKL_ERRLEN];

	switch (rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		snprintf(why, sizeof(why), "%s: %s", doing, sqlite3_errmsg(db));
		return refuse_damaged(file, why, err);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ekl_errf(err, EKL_EIO,
				"%s is locked (%s): is another ekunode using "
				"this data directory?",
				file, sqlite3_errmsg(db));
	}
	return store_sql_fail(db, file, rc, doing, err);
}

/* PRAGMA quick_check must say "ok". */
static int check_integrity(sqlite3 *db, const char *file, char *err)
{
	sqlite3_stmt *stmt = NULL;
	char why[EKL_ERRLEN] = "";
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		rc = refuse_unreadable(db, file, rc, "quick_check", err);
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(stmt, 0);

		if (why[0] == '\0')
			snprintf(why, sizeof(why), "quick_check: %s",
				 t != NULL ? t : "?");
	}
	if (rc != SQLITE_DONE)
		rc = refuse_unreadable(db, file, rc, "quick_check", err);
	else if (strcmp(why, "quick_check: ok") != 0)
		rc = refuse_damaged(file,
				    why[0] != '\0' ? why
						   : "quick_check: no "
						     "answer",
				    err);
	else
		rc = 0;
out:
	sqlite3_finalize(stmt);
	return rc;
}

/* The four tables, schema_version and the meta keys. */
static int check_schema(sqlite3 *db, const char *file, struct store_meta *m,
			char *err)
{
	sqlite3_stmt *stmt = NULL;
	bool have[4] = {false, false, false, false};
	char why[256];
	int rc;

	rc = sqlite3_prepare_v2(db,
				"SELECT name FROM sqlite_master "
				"WHERE type = 'table'",
				-1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return refuse_unreadable(db, file, rc, "reading the schema",
					 err);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(stmt, 0);

		for (size_t i = 0; n != NULL && i < 4; i++)
			if (strcmp(n, store_tables[i]) == 0)
				have[i] = true;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return refuse_unreadable(db, file, rc, "reading the schema",
					 err);
	if (!have[0])
		return refuse_foreign(file,
				      "is not an ekunode configuration "
				      "database (it has no meta table)",
				      err);
	rc = store_meta_load(db, file, m, err);
	if (rc != 0)
		return rc;
	if (!(m->found & META_SCHEMA))
		return refuse_foreign(file,
				      "is not an ekunode configuration "
				      "database (meta has no schema_version)",
				      err);
	if (m->schema != STORE_SCHEMA_VERSION && m->schema != 1) {
		snprintf(why, sizeof(why),
			 "has schema version %" PRId64
			 ", this ekunode needs %d",
			 m->schema, STORE_SCHEMA_VERSION);
		return refuse_foreign(file, why, err);
	}
	for (size_t i = 1; i < 4; i++) {
		if (!have[i]) {
			snprintf(why, sizeof(why),
				 "is incomplete (it has no %s table)",
				 store_tables[i]);
			return refuse_foreign(file, why, err);
		}
	}
	if (m->found != META_ALL || m->st.log_first > m->st.revision + 1 ||
	    (m->st.revision == 0 && m->st.rev_epoch != 0))
		return refuse_foreign(file,
				      "has missing or inconsistent meta keys "
				      "(epoch, primary, revision, rev_epoch, "
				      "log_first, digest)",
				      err);
	return 0;
}

static void unlink_db(const char *file)
{
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	char p[STORE_FILE_MAX + 16];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", file, sfx[i]);
		(void)unlink(p);
	}
}

static int fsync_path(const char *path, int flags, char *err)
{
	int fd = open(path, flags | O_CLOEXEC);
	int r = 0;

	if (fd < 0 || fsync(fd) != 0)
		r = ekl_errf(err, EKL_EIO, "%s: syncing: %s", path,
			     strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}

/* Builds a new database as FILE.new (mode 0600, WAL, schema and meta in
 * one transaction), syncs it and links it to FILE, so FILE only ever
 * appears complete. */
static int create_new(struct store *s, const char *dir, char *err)
{
	char tmp[STORE_FILE_MAX + 16], side[STORE_FILE_MAX + 16];
	sqlite3 *db = NULL;
	struct stat sb;
	int fd, rc, r;

	/* A log without its database would be replayed onto the new one. */
	for (int i = 0; i < 2; i++) {
		snprintf(side, sizeof(side), "%s%s", s->file,
			 i == 0 ? "-wal" : "-journal");
		if (lstat(side, &sb) == 0 && sb.st_size > 0)
			return ekl_errf(err, EKL_ECONFIG,
					"%s exists without %s: move it away "
					"too, or put the database back",
					side, s->file);
	}
	snprintf(tmp, sizeof(tmp), "%s.new", s->file);
	unlink_db(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return ekl_errf(err, errno == EACCES ? EKL_EPERM : EKL_EIO,
				"cannot create %s: %s (does the data "
				"directory %s exist and is it writable?)",
				tmp, strerror(errno), dir);
	close(fd);

	rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL,
				  NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL,
				  NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, store_schema, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = store_sql_fail(db, tmp, rc, "creating the database", err);
		goto err_after_create;
	}
	rc = sqlite3_close(db);
	db = NULL;
	if (rc != SQLITE_OK) {
		r = store_sql_fail(NULL, tmp, rc, "closing the new database",
				   err);
		goto err_after_create;
	}
	r = fsync_path(tmp, O_RDONLY, err);
	if (r != 0)
		goto err_after_create;
	if (link(tmp, s->file) != 0) {
		r = ekl_errf(err, EKL_EIO, "cannot link %s to %s: %s", tmp,
			     s->file, strerror(errno));
		goto err_after_create;
	}
	(void)unlink(tmp);
	return fsync_path(dir, O_RDONLY | O_DIRECTORY, err);

err_after_create:
	sqlite3_close(db);
	unlink_db(tmp);
	return r;
}

static int prepare_all(struct store *s, char *err)
{
	for (int i = 0; i < SQL_COUNT; i++) {
		int rc = sqlite3_prepare_v3(s->db, store_sql_text[i], -1,
					    SQLITE_PREPARE_PERSISTENT,
					    &s->sql[i], NULL);

		if (rc != SQLITE_OK) {
			char why[EKL_ERRLEN];

			snprintf(why, sizeof(why),
				 "has an unexpected schema (%s)",
				 sqlite3_errmsg(s->db));
			return refuse_foreign(s->file, why, err);
		}
	}
	return 0;
}

/* Schema 1 wrote meta at every commit; schema 2 (invariant 6 of
 * store.h) keeps the digest in the change log instead. One transaction:
 * the file is either of schema 1, untouched, or of schema 2. */
static int migrate_v1(struct store *s, struct store_meta *m, char *err)
{
	int rc = sqlite3_exec(s->db,
			      "BEGIN IMMEDIATE; "
			      "ALTER TABLE changelog ADD COLUMN digest BLOB; "
			      "UPDATE meta SET v = 2 WHERE k = "
			      "'schema_version'; "
			      "COMMIT",
			      NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return store_fail(s, rc, "updating the schema from version 1",
				  err);
	}
	m->schema = 2;
	return 0;
}

/* Opens s->file, which exists: checks it, then sets it up for use. */
static int open_existing(struct store *s, char *err)
{
	struct store_meta m;
	int64_t staged = 0;
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	rc = sqlite3_open_v2(s->file, &s->db, SQLITE_OPEN_READWRITE,
			     store_vfs_name());
	if (rc != SQLITE_OK)
		return store_sql_fail(s->db, s->file, rc, "opening", err);
	/* Until the file is accepted, closing must not write to it. */
	rc =
	    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "configuring the connection", err);

	r = check_integrity(s->db, s->file, err);
	if (r == 0)
		r = check_schema(s->db, s->file, &m, err);
	if (r == 0 && m.schema == 1)
		r = migrate_v1(s, &m, err);
	if (r == 0)
		r = prepare_all(s, err);
	if (r == 0)
		r = store_query_int(s->db, s->file,
				    "SELECT count(*) FROM config", &m.st.rows,
				    err);
	if (r == 0)
		r = store_query_int(s->db, s->file,
				    "SELECT count(*) FROM snap_config", &staged,
				    err);
	/* Rows a snapshot replaced and the node had not yet deleted when
	 * it stopped: store_trash_step goes on with them. */
	if (r == 0)
		r = store_query_int(
		    s->db, s->file,
		    "SELECT count(*) FROM sqlite_master WHERE "
		    "type = 'table' AND name GLOB '" STORE_TRASH_PREFIX
		    "[0-9]*'",
		    &s->trash_tables, err);
	if (r == 0)
		r = store_query_int(
		    s->db, s->file,
		    "SELECT coalesce(max(CAST(substr(name, "
		    "length('" STORE_TRASH_PREFIX
		    "') + 1) AS INTEGER)), 0) + 1 FROM sqlite_master WHERE "
		    "type = 'table' AND name GLOB '" STORE_TRASH_PREFIX
		    "[0-9]*'",
		    &s->trash_next, err);
	if (r != 0)
		return r;

	/* Accepted: from here on we write. */
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &stmt,
				NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(stmt, 0);

		rc = mode != NULL && strcmp(mode, "wal") == 0 ? SQLITE_OK
							      : SQLITE_ERROR;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_OK)
		return ekl_errf(err, EKL_EIO, "%s: cannot use WAL mode: %s",
				s->file, sqlite3_errmsg(s->db));
	rc = sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, "PRAGMA foreign_keys=OFF", NULL, NULL,
				  NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
				       0, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "configuring the connection", err);
	s->st = m.st;
	s->mst = m.kept;

	/* A snapshot that was being received when the node stopped. */
	if (staged > 0) {
		r = store_tx_begin(s, err);
		if (r == 0)
			r = store_sql_run(s, SQL_STAGE_CLEAR,
					  "clearing an unfinished snapshot",
					  err);
		if (r == 0)
			r = store_tx_commit(s, err);
		else
			store_tx_rollback(s);
	}
	return r;
}

int store_open(const char *dir, struct store **out, char *err)
{
	struct store *s;
	struct stat sb;
	int n, r;

	*out = NULL;
	s = ekl_calloc(1, sizeof(*s));
	if (s == NULL)
		return ekl_errf(err, EKL_ENOMEM,
				"opening the store in %s: out "
				"of memory",
				dir);
	n = snprintf(s->file, sizeof(s->file), "%s/%s", dir, STORE_FILE_NAME);
	if (n < 0 || (size_t)n >= sizeof(s->file) - 16) {
		r = ekl_errf(err, EKL_ECONFIG,
			     "data directory path too long: "
			     "%.64s...",
			     dir);
		goto err_after_alloc;
	}
	s->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	s->mdctx = EVP_MD_CTX_new();
	if (s->md == NULL || s->mdctx == NULL) {
		r = ekl_errf_ssl(err, EKL_ECRYPTO, "%s: cannot set up SHA-256",
				 s->file);
		goto err_after_alloc;
	}
	if (stat(s->file, &sb) != 0) {
		if (errno != ENOENT) {
			r = ekl_errf(err, EKL_EIO, "%s: %s", s->file,
				     strerror(errno));
			goto err_after_alloc;
		}
		r = create_new(s, dir, err);
		if (r != 0)
			goto err_after_alloc;
	} else if (!S_ISREG(sb.st_mode)) {
		r = refuse_foreign(s->file, "is not a regular file", err);
		goto err_after_alloc;
	}
	r = open_existing(s, err);
	if (r != 0)
		goto err_after_alloc;
	*out = s;
	return 0;

err_after_alloc:
	store_close(s);
	return r;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->group)
		store_group_rollback(s);
	/* Its thread first: the main connection closes last and, as
	 * before, checkpoints and removes the WAL. */
	store_ckpt_stop(s);
	for (int i = 0; i < SQL_COUNT; i++)
		sqlite3_finalize(s->sql[i]);
	/* Every statement is finalized, so this cannot be SQLITE_BUSY. */
	(void)sqlite3_close(s->db);
	EVP_MD_CTX_free(s->mdctx);
	EVP_MD_free(s->md);
	ekl_free(s);
}

void store_state(const struct store *s, struct store_state *out)
{
	*out = s->st;
}

/* ---- checks ---- */

int store_check(struct store *s, char *err)
{
	sqlite3_stmt *stmt = NULL;
	struct store_meta m;
	uint8_t digest[STORE_DIGEST_LEN] = {0};
	int64_t rows = 0, lo = 0, hi = 0, cnt = 0, back = 0, staged = 0, ep;
	const struct store_state *c = &s->st;
	int rc, r;

	r = store_no_group(s, "check the store", err);
	if (r == 0)
		r = store_meta_load(s->db, s->file, &m, err);
	if (r != 0)
		return r;
	if (m.found != META_ALL || m.schema != STORE_SCHEMA_VERSION)
		return ekl_errf(err, EKL_EIO, "%s: meta is incomplete",
				s->file);
	if (m.st.epoch != c->epoch || strcmp(m.st.primary, c->primary) != 0 ||
	    m.st.revision != c->revision || m.st.rev_epoch != c->rev_epoch ||
	    m.st.log_first != c->log_first ||
	    memcmp(m.st.digest, c->digest, STORE_DIGEST_LEN) != 0)
		return ekl_errf(err, EKL_EIO,
				"%s: meta differs from the cached state",
				s->file);

	rc = sqlite3_prepare_v2(s->db, "SELECT path, value FROM config", -1,
				&stmt, NULL);
	while (rc == SQLITE_OK && r == 0 &&
	       (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		r = store_row_hash_add(s, stmt, digest, err);
		rows++;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	if (r != 0)
		return r;
	if (rc != SQLITE_DONE)
		return store_fail(s, rc, "reading the rows", err);
	if (memcmp(digest, c->digest, STORE_DIGEST_LEN) != 0)
		return ekl_errf(err, EKL_EIO,
				"%s: the digest is not the sum of the rows",
				s->file);
	if (rows != c->rows)
		return ekl_errf(err, EKL_EIO,
				"%s: %" PRId64 " rows, the cache says %" PRId64,
				s->file, rows, c->rows);

	r = store_query_int(s->db, s->file,
			    "SELECT coalesce(min(rev), 0) FROM changelog", &lo,
			    err);
	if (r == 0)
		r = store_query_int(
		    s->db, s->file,
		    "SELECT coalesce(max(rev), 0) FROM changelog", &hi, err);
	if (r == 0)
		r = store_query_int(s->db, s->file,
				    "SELECT count(*) FROM changelog", &cnt,
				    err);
	if (r == 0)
		r = store_query_int(s->db, s->file,
				    "SELECT count(*) FROM changelog a JOIN "
				    "changelog b ON b.rev = a.rev + 1 "
				    "WHERE b.epoch < a.epoch",
				    &back, err);
	if (r == 0)
		r = store_query_int(s->db, s->file,
				    "SELECT count(*) FROM snap_config", &staged,
				    err);
	if (r != 0)
		return r;
	if (cnt == 0 ? c->log_first != c->revision + 1
		     : (lo != c->log_first || hi != c->revision ||
			cnt != hi - lo + 1))
		return ekl_errf(
		    err, EKL_EIO,
		    "%s: the change log holds %" PRId64 " entries %" PRId64
		    "..%" PRId64 ", meta says %" PRId64 "..%" PRId64,
		    s->file, cnt, lo, hi, c->log_first, c->revision);
	if (back != 0)
		return ekl_errf(err, EKL_EIO,
				"%s: the change log goes back in epoch",
				s->file);
	if (c->revision == 0 && c->rev_epoch != 0)
		return ekl_errf(err, EKL_EIO,
				"%s: revision 0 has epoch %" PRId64, s->file,
				c->rev_epoch);
	if (cnt > 0) {
		stmt = s->sql[SQL_LOG_EPOCH];
		rc = sqlite3_bind_int64(stmt, 1, c->revision);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(stmt);
		ep = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
		(void)sqlite3_reset(stmt);
		if (ep != c->rev_epoch)
			return ekl_errf(err, EKL_EIO,
					"%s: rev_epoch %" PRId64
					" but the change log says %" PRId64,
					s->file, c->rev_epoch, ep);
	}
	if (staged != 0 && !s->staging)
		return ekl_errf(err, EKL_EIO,
				"%s: %" PRId64 " staged rows and no snapshot "
				"being received",
				s->file, staged);
	r = store_query_int(s->db, s->file,
			    "SELECT count(*) FROM sqlite_master WHERE "
			    "type = 'table' AND name GLOB '" STORE_TRASH_PREFIX
			    "[0-9]*'",
			    &cnt, err);
	if (r != 0)
		return r;
	if (cnt != s->trash_tables)
		return ekl_errf(err, EKL_EIO,
				"%s: %" PRId64 " tables of replaced rows, the "
				"cache says %" PRId64,
				s->file, cnt, s->trash_tables);
	return 0;
}
