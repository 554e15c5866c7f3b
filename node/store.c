/* store.c: the node's configuration database (SQLite, WAL) and change log.
 *
 * The happy path: store_open() checks an existing DIR/clusterdb.sqlite3
 * (quick_check, tables, meta) or builds a new one under a temporary name
 * and links it into place, then prepares every statement once. Each
 * mutation is one BEGIN IMMEDIATE ... COMMIT transaction on the main
 * connection; the rows, the change log and meta (written once, at commit)
 * change together. The committed state is cached in s->st and replaced
 * only after COMMIT succeeded, so a failed call leaves the cache as it was
 * (invariant 4). A write group keeps its working state in s->gst; each put
 * runs inside a savepoint so a failed put leaves the group usable.
 *
 * The failure modes: any SQLite error rolls the transaction back and is
 * returned as EKL_EIO (EKL_ENOMEM for SQLITE_NOMEM) with the file and
 * sqlite3_errmsg(); bad input is EKL_EINVAL (local writes) or EKL_EPROTO
 * (what a peer sent). A damaged or foreign file is refused by store_open()
 * before anything writes to it (no pragma that writes, no checkpoint on
 * close).
 *
 * The row hash behind the digest (invariant 3) is SHA-256 through one
 * reused EVP_MD_CTX and a fetched EVP_MD: EVP_Digest() would allocate a
 * context per row, and store_apply() hashes two rows per change.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "ekulab/err.h"
#include "ekulab/mem.h"

#define STORE_FILE_NAME "clusterdb.sqlite3"
#define STORE_FILE_MAX	4096
#define STORE_BUSY_MS	5000

/* The statements prepared once at open (SQLITE_PREPARE_PERSISTENT). */
enum store_sql {
	SQL_BEGIN,
	SQL_COMMIT,
	SQL_ROLLBACK,
	SQL_SAVEPOINT,
	SQL_RELEASE,
	SQL_ROLLBACK_TO,
	SQL_GET,
	SQL_SET,
	SQL_DEL,
	SQL_LIST,
	SQL_LOG_ADD,
	SQL_LOG_READ,
	SQL_LOG_EPOCH,
	SQL_LOG_DROP,
	SQL_LOG_CLEAR,
	SQL_META_SET,
	SQL_STAGE_CLEAR,
	SQL_STAGE_ADD,
	SQL_STAGE_SCAN,
	SQL_CONFIG_CLEAR,
	SQL_CONFIG_SWAP,
	SQL_COUNT
};

static const char *const store_sql_text[SQL_COUNT] = {
    [SQL_BEGIN] = "BEGIN IMMEDIATE",
    [SQL_COMMIT] = "COMMIT",
    [SQL_ROLLBACK] = "ROLLBACK",
    [SQL_SAVEPOINT] = "SAVEPOINT store_put",
    [SQL_RELEASE] = "RELEASE store_put",
    [SQL_ROLLBACK_TO] = "ROLLBACK TO store_put",
    [SQL_GET] = "SELECT value FROM config WHERE path = ?1",
    [SQL_SET] = "INSERT INTO config(path, value) VALUES(?1, ?2) "
		"ON CONFLICT(path) DO UPDATE SET value = excluded.value",
    [SQL_DEL] = "DELETE FROM config WHERE path = ?1",
    [SQL_LIST] = "SELECT path, value FROM config ORDER BY path",
    [SQL_LOG_ADD] = "INSERT INTO changelog(rev, epoch, path, value) "
		    "VALUES(?1, ?2, ?3, ?4)",
    [SQL_LOG_READ] = "SELECT rev, epoch, path, value FROM changelog "
		     "WHERE rev > ?1 AND rev <= ?2 ORDER BY rev LIMIT ?3",
    [SQL_LOG_EPOCH] = "SELECT epoch FROM changelog WHERE rev = ?1",
    [SQL_LOG_DROP] = "DELETE FROM changelog WHERE rev < ?1",
    [SQL_LOG_CLEAR] = "DELETE FROM changelog",
    [SQL_META_SET] = "INSERT OR REPLACE INTO meta(k, v) VALUES(?1, ?2)",
    [SQL_STAGE_CLEAR] = "DELETE FROM snap_config",
    [SQL_STAGE_ADD] = "INSERT INTO snap_config(path, value) "
		      "VALUES(?1, ?2)",
    [SQL_STAGE_SCAN] = "SELECT path, value FROM snap_config",
    [SQL_CONFIG_CLEAR] = "DELETE FROM config",
    [SQL_CONFIG_SWAP] = "INSERT INTO config(path, value) "
			"SELECT path, value FROM snap_config",
};

/* The schema of a new file, created in one transaction with its meta. */
static const char store_schema[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY NOT NULL, v) WITHOUT ROWID;"
    "CREATE TABLE config(path TEXT PRIMARY KEY NOT NULL,"
    " value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE changelog(rev INTEGER PRIMARY KEY,"
    " epoch INTEGER NOT NULL, path TEXT NOT NULL, value TEXT);"
    "CREATE TABLE snap_config(path TEXT PRIMARY KEY NOT NULL,"
    " value TEXT NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta(k, v) VALUES ('schema_version', 1), ('epoch', 0),"
    " ('primary', ''), ('revision', 0), ('rev_epoch', 0),"
    " ('log_first', 1), ('digest', zeroblob(32));";

static const char *const store_tables[] = {"meta", "config", "changelog",
					   "snap_config"};

/* Keys of meta, as bits of struct store_meta.found. */
enum {
	META_SCHEMA = 1 << 0,
	META_EPOCH = 1 << 1,
	META_PRIMARY = 1 << 2,
	META_REVISION = 1 << 3,
	META_REV_EPOCH = 1 << 4,
	META_LOG_FIRST = 1 << 5,
	META_DIGEST = 1 << 6,
	META_ALL = (1 << 7) - 1
};

struct store_meta {
	struct store_state st; /* rows not filled */
	int64_t schema;
	unsigned found; /* META_* of the keys present with a valid value */
};

struct store {
	char wal[STORE_FILE_MAX + 8]; /* DIR/clusterdb.sqlite3-wal */
	sqlite3 *db;		      /* owned */
	sqlite3_stmt *sql[SQL_COUNT]; /* owned, persistent */
	EVP_MD *md;		      /* owned: SHA-256 fetched once */
	EVP_MD_CTX *mdctx;	      /* owned: reused for every row hash */
	struct store_state st;	      /* committed state */
	struct store_state gst;	      /* working state of the open group */
	bool group;		      /* a write group is open */
	bool staging;		      /* store_snap_stage_begin() was called */
	char file[STORE_FILE_MAX];    /* DIR/clusterdb.sqlite3 */
};

struct store_snap_reader {
	sqlite3 *db;		       /* owned: a read-only connection */
	sqlite3_stmt *next;	       /* owned */
	bool done;		       /* the last batch was short */
	char last[STORE_PATH_MAX + 1]; /* path of the last row passed */
	char file[STORE_FILE_MAX];
};

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
static int sql_fail(sqlite3 *db, const char *file, int rc, const char *what,
		    char *err)
{
	return ekl_errf(err, sql_code(rc), "%s: %s: %s", file, what,
			db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int store_fail(struct store *s, int rc, const char *what, char *err)
{
	return sql_fail(s->db, s->file, rc, what, err);
}

/* ---- validation ---- */

/* NULL when path (and value, unless NULL) may be stored, else why not. */
static const char *bad_row(const char *path, const char *value)
{
	size_t n;

	if (path == NULL || path[0] == '\0')
		return "the path is empty";
	n = strlen(path);
	if (n > STORE_PATH_MAX)
		return "the path is longer than 512 bytes";
	if (strpbrk(path, "\r\n") != NULL)
		return "the path contains a line break";
	if (value == NULL)
		return NULL;
	if (strlen(value) > STORE_VALUE_MAX)
		return "the value is longer than 65536 bytes";
	if (strpbrk(value, "\r\n") != NULL)
		return "the value contains a line break";
	return NULL;
}

/* ---- the digest: a sum of row hashes mod 2^256, big-endian ---- */

static void digest_add(uint8_t *d, const uint8_t *h)
{
	unsigned carry = 0;

	for (int i = STORE_DIGEST_LEN - 1; i >= 0; i--) {
		unsigned v = (unsigned)d[i] + h[i] + carry;
		d[i] = (uint8_t)v;
		carry = v >> 8;
	}
}

static void digest_sub(uint8_t *d, const uint8_t *h)
{
	int borrow = 0;

	for (int i = STORE_DIGEST_LEN - 1; i >= 0; i--) {
		int v = (int)d[i] - h[i] - borrow;
		borrow = v < 0;
		d[i] = (uint8_t)(v + (borrow ? 256 : 0));
	}
}

static void put_be32(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* SHA-256(len(path) path len(value) value), lengths 4-byte big-endian. */
static int row_hash(struct store *s, const char *path, size_t plen,
		    const char *value, size_t vlen, uint8_t *out, char *err)
{
	uint8_t lp[4], lv[4];
	unsigned int n = 0;

	put_be32(lp, plen);
	put_be32(lv, vlen);
	if (EVP_DigestInit_ex2(s->mdctx, s->md, NULL) != 1 ||
	    EVP_DigestUpdate(s->mdctx, lp, sizeof(lp)) != 1 ||
	    EVP_DigestUpdate(s->mdctx, path, plen) != 1 ||
	    EVP_DigestUpdate(s->mdctx, lv, sizeof(lv)) != 1 ||
	    EVP_DigestUpdate(s->mdctx, value, vlen) != 1 ||
	    EVP_DigestFinal_ex(s->mdctx, out, &n) != 1 || n != STORE_DIGEST_LEN)
		return ekl_errf_ssl(err, EKL_ECRYPTO,
				    "%s: hashing a configuration row", s->file);
	return 0;
}

/* Adds the hash of the row at column 0 (path) and 1 (value) of stmt. */
static int row_hash_add(struct store *s, sqlite3_stmt *stmt, uint8_t *digest,
			char *err)
{
	const char *p = (const char *)sqlite3_column_text(stmt, 0);
	size_t plen = (size_t)sqlite3_column_bytes(stmt, 0);
	const char *v = (const char *)sqlite3_column_text(stmt, 1);
	size_t vlen = (size_t)sqlite3_column_bytes(stmt, 1);
	uint8_t h[STORE_DIGEST_LEN];
	int r;

	if (p == NULL || v == NULL)
		return store_fail(s, SQLITE_NOMEM, "reading a row", err);
	r = row_hash(s, p, plen, v, vlen, h, err);
	if (r == 0)
		digest_add(digest, h);
	return r;
}

void store_digest_hex(const uint8_t *digest, char *buf)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < STORE_DIGEST_LEN; i++) {
		buf[2 * i] = hex[digest[i] >> 4];
		buf[2 * i + 1] = hex[digest[i] & 0xf];
	}
	buf[2 * STORE_DIGEST_LEN] = '\0';
}

/* ---- statement helpers ---- */

/* Steps a statement that returns no row and resets it; SQLITE_OK or the
 * error (the message stays in sqlite3_errmsg). */
static int sql_done(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	(void)sqlite3_reset(stmt); /* repeats step's error, if any */
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int sql_run(struct store *s, enum store_sql i, const char *what,
		   char *err)
{
	int rc = sql_done(s->sql[i]);

	return rc == SQLITE_OK ? 0 : store_fail(s, rc, what, err);
}

static int bind_text(sqlite3_stmt *stmt, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(stmt, i);
	return sqlite3_bind_text(stmt, i, v, -1, SQLITE_STATIC);
}

/* Rolls back the open transaction, if any; errors are moot by then. */
static void tx_rollback(struct store *s)
{
	if (sqlite3_get_autocommit(s->db) == 0)
		(void)sql_done(s->sql[SQL_ROLLBACK]);
}

static int tx_begin(struct store *s, char *err)
{
	return sql_run(s, SQL_BEGIN, "starting a transaction", err);
}

/* Commits; on failure rolls back so nothing of it is applied. */
static int tx_commit(struct store *s, char *err)
{
	int r = sql_run(s, SQL_COMMIT, "committing", err);

	if (r != 0)
		tx_rollback(s);
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
		rc = sql_done(stmt);
	return rc == SQLITE_OK ? 0 : store_fail(s, rc, "writing meta", err);
}

/* Writes the meta keys where ns differs from the committed state, inside
 * the caller's transaction. */
static int meta_write(struct store *s, const struct store_state *ns, char *err)
{
	const struct store_state *o = &s->st;
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

/* ---- one change to config and the log, inside a transaction ---- */

/* Applies change (rev, epoch, path, value) to the tables and to *ns
 * (revision, rev_epoch, digest, rows). A delete of a missing row is
 * EKL_ENOENT before anything is written; err is then left to the caller. */
static int change_row(struct store *s, struct store_state *ns, int64_t rev,
		      int64_t epoch, const char *path, const char *value,
		      char *err)
{
	sqlite3_stmt *get = s->sql[SQL_GET];
	sqlite3_stmt *stmt;
	uint8_t digest[STORE_DIGEST_LEN], h[STORE_DIGEST_LEN];
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
		else if ((r = row_hash(s, path, plen, old, olen, h, err)) == 0)
			digest_sub(digest, h);
	}
	(void)sqlite3_reset(get);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, rc, "reading a row", err);
	if (r != 0)
		return r;
	if (value == NULL && !had)
		return EKL_ENOENT;

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
		rc = sql_done(stmt);
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
		rc = sql_done(stmt);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "appending to the change log", err);

	if (value != NULL) {
		r = row_hash(s, path, plen, value, strlen(value), h, err);
		if (r != 0)
			return r;
		digest_add(digest, h);
	}
	memcpy(ns->digest, digest, STORE_DIGEST_LEN);
	ns->rows += (value != NULL && !had) ? 1 : 0;
	ns->rows -= (value == NULL && had) ? 1 : 0;
	ns->revision = rev;
	ns->rev_epoch = epoch;
	return 0;
}

/* ---- open ---- */

/* Reads meta into *m; only SQL errors fail. */
static int meta_load(sqlite3 *db, const char *file, struct store_meta *m,
		     char *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = sqlite3_prepare_v2(db, "SELECT k, v FROM meta", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(db, file, rc, "reading meta", err);
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
		rc = sql_fail(db, file, rc, "reading meta", err);
	else
		rc = 0;
	sqlite3_finalize(stmt);
	return rc;
}

/* Runs a query returning one integer into *out. */
static int query_int(sqlite3 *db, const char *file, const char *sql,
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
		rc = sql_fail(db, file, rc, sql, err);
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
	return sql_fail(db, file, rc, doing, err);
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
	rc = meta_load(db, file, m, err);
	if (rc != 0)
		return rc;
	if (!(m->found & META_SCHEMA))
		return refuse_foreign(file,
				      "is not an ekunode configuration "
				      "database (meta has no schema_version)",
				      err);
	if (m->schema != STORE_SCHEMA_VERSION) {
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
		r = sql_fail(db, tmp, rc, "creating the database", err);
		goto err_after_create;
	}
	rc = sqlite3_close(db);
	db = NULL;
	if (rc != SQLITE_OK) {
		r = sql_fail(NULL, tmp, rc, "closing the new database", err);
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

/* Opens s->file, which exists: checks it, then sets it up for use. */
static int open_existing(struct store *s, char *err)
{
	struct store_meta m;
	int64_t staged = 0;
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	rc = sqlite3_open_v2(s->file, &s->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(s->db, s->file, rc, "opening", err);
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
	if (r == 0)
		r = prepare_all(s, err);
	if (r == 0)
		r = query_int(s->db, s->file, "SELECT count(*) FROM config",
			      &m.st.rows, err);
	if (r == 0)
		r = query_int(s->db, s->file,
			      "SELECT count(*) FROM snap_config", &staged, err);
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

	/* A snapshot that was being received when the node stopped. */
	if (staged > 0) {
		r = tx_begin(s, err);
		if (r == 0)
			r = sql_run(s, SQL_STAGE_CLEAR,
				    "clearing an unfinished snapshot", err);
		if (r == 0)
			r = tx_commit(s, err);
		else
			tx_rollback(s);
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

/* ---- write groups ---- */

static int no_group(struct store *s, const char *what, char *err)
{
	if (!s->group)
		return 0;
	return ekl_errf(err, EKL_EINVAL,
			"%s: cannot %s while a write group is open", s->file,
			what);
}

int store_group_begin(struct store *s, char *err)
{
	int r = no_group(s, "start a write group", err);

	if (r == 0)
		r = tx_begin(s, err);
	if (r != 0)
		return r;
	s->group = true;
	s->gst = s->st;
	return 0;
}

bool store_group_open(const struct store *s)
{
	return s->group;
}

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
	why = bad_row(path, value);
	if (why != NULL)
		return ekl_errf(err, EKL_EINVAL, "cannot store \"%.80s\": %s",
				path != NULL ? path : "(null)", why);
	if (s->gst.epoch < s->gst.rev_epoch)
		return ekl_errf(err, EKL_EINVAL,
				"cannot write in epoch %" PRId64
				": the last change is from epoch %" PRId64,
				s->gst.epoch, s->gst.rev_epoch);
	r = sql_run(s, SQL_SAVEPOINT, "starting a savepoint", err);
	if (r != 0)
		return r;
	ns = s->gst;
	r = change_row(s, &ns, s->gst.revision + 1, s->gst.epoch, path, value,
		       err);
	if (r == EKL_ENOENT)
		ekl_errf(err, r,
			 "cannot delete \"%.80s\": there is no such "
			 "row",
			 path);
	if (r == 0)
		r = sql_run(s, SQL_RELEASE, "releasing a savepoint", err);
	if (r != 0) {
		/* Undo this put only; if even that fails, the whole group. */
		if (sql_done(s->sql[SQL_ROLLBACK_TO]) != SQLITE_OK ||
		    sql_done(s->sql[SQL_RELEASE]) != SQLITE_OK) {
			tx_rollback(s);
			s->group = false;
		}
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
	r = meta_write(s, &s->gst, err);
	if (r == 0)
		r = tx_commit(s, err);
	else
		tx_rollback(s);
	if (r == 0)
		s->st = s->gst;
	return r;
}

void store_group_rollback(struct store *s)
{
	if (!s->group)
		return;
	s->group = false;
	tx_rollback(s);
}

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

int store_compact(struct store *s, int64_t keep, char *err)
{
	sqlite3_stmt *stmt = s->sql[SQL_LOG_DROP];
	struct store_state ns = s->st;
	int rc, r;

	if (keep < 0)
		return ekl_errf(err, EKL_EINVAL,
				"cannot keep %" PRId64 " log entries", keep);
	r = no_group(s, "compact the change log", err);
	if (r != 0)
		return r;
	ns.log_first = s->st.revision - keep + 1;
	if (ns.log_first <= s->st.log_first)
		return 0;
	r = tx_begin(s, err);
	if (r != 0)
		return r;
	rc = sqlite3_bind_int64(stmt, 1, ns.log_first);
	if (rc == SQLITE_OK)
		rc = sql_done(stmt);
	if (rc != SQLITE_OK)
		r = store_fail(s, rc, "compacting the change log", err);
	if (r == 0)
		r = meta_write(s, &ns, err);
	if (r == 0)
		r = tx_commit(s, err);
	else
		tx_rollback(s);
	if (r == 0)
		s->st = ns;
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

	r = no_group(s, "apply changes", err);
	if (r != 0 || n == 0)
		return r;
	r = tx_begin(s, err);
	if (r != 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *why = bad_row(c[i].path, c[i].value);

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
		r = meta_write(s, &ns, err);
	if (r == 0)
		r = tx_commit(s, err);
	else
		tx_rollback(s);
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
	r = no_group(s, "change the epoch", err);
	if (r != 0)
		return r;
	ns.epoch = epoch;
	snprintf(ns.primary, sizeof(ns.primary), "%s", primary);
	r = tx_begin(s, err);
	if (r != 0)
		return r;
	r = meta_write(s, &ns, err);
	if (r == 0)
		r = tx_commit(s, err);
	else
		tx_rollback(s);
	if (r == 0)
		s->st = ns;
	return r;
}

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
		ret = sql_fail(r->db, r->file, rc, "opening a snapshot", err);
		goto err_after_open;
	}
	ret = meta_load(r->db, r->file, &m, err);
	if (ret == 0 && m.found != META_ALL)
		ret = ekl_errf(err, EKL_EIO, "%s: meta is incomplete", r->file);
	if (ret == 0)
		ret = query_int(r->db, r->file, "SELECT count(*) FROM config",
				&m.st.rows, err);
	if (ret != 0)
		goto err_after_open;
	rc = sqlite3_prepare_v3(r->db,
				"SELECT path, value FROM config "
				"WHERE path > ?1 ORDER BY path LIMIT ?2",
				-1, SQLITE_PREPARE_PERSISTENT, &r->next, NULL);
	if (rc != SQLITE_OK) {
		ret = sql_fail(r->db, r->file, rc, "opening a snapshot", err);
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
		    int (*cb)(void *arg, const char *path, const char *value),
		    void *arg, char *err)
{
	sqlite3_stmt *stmt = r->next;
	int n = 0, rc, ret = 0;
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
		ret = sql_fail(r->db, r->file, rc, "reading a snapshot", err);
	(void)sqlite3_reset(stmt);
	if (ret == 0 && (size_t)n < max_rows)
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
	int r = no_group(s, "receive a snapshot", err);

	if (r == 0)
		r = tx_begin(s, err);
	if (r != 0)
		return r;
	r = sql_run(s, SQL_STAGE_CLEAR, "clearing the snapshot staging", err);
	if (r == 0)
		r = tx_commit(s, err);
	else
		tx_rollback(s);
	s->staging = r == 0;
	return r;
}

int store_snap_stage_rows(struct store *s, const char *const *paths,
			  const char *const *values, size_t n, char *err)
{
	sqlite3_stmt *stmt = s->sql[SQL_STAGE_ADD];
	int rc, r = 0;

	if (!s->staging)
		return ekl_errf(err, EKL_EINVAL,
				"%s: no snapshot is being received (call "
				"store_snap_stage_begin first)",
				s->file);
	for (size_t i = 0; i < n; i++) {
		const char *why = values[i] == NULL
				      ? "the value is missing"
				      : bad_row(paths[i], values[i]);

		if (why != NULL)
			return ekl_errf(
			    err, EKL_EPROTO, "snapshot row \"%.80s\": %s",
			    paths[i] != NULL ? paths[i] : "(null)", why);
	}
	if (n == 0)
		return 0;
	r = tx_begin(s, err);
	if (r != 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		rc = sqlite3_bind_text(stmt, 1, paths[i], -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(stmt, 2, values[i], -1,
					       SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sql_done(stmt);
		if ((rc & 0xff) == SQLITE_CONSTRAINT)
			r = ekl_errf(err, EKL_EPROTO,
				     "snapshot row \"%.80s\" was sent twice",
				     paths[i]);
		else if (rc != SQLITE_OK)
			r = store_fail(s, rc, "staging snapshot rows", err);
	}
	if (r == 0)
		r = tx_commit(s, err);
	else
		tx_rollback(s);
	return r;
}

/* The epoch becomes max(epoch, rev_epoch); a newer one has no known
 * primary yet (""), which store_set_epoch() may then fill in. */
int store_snap_finish(struct store *s, int64_t revision, int64_t rev_epoch,
		      const uint8_t *digest, char *err)
{
	sqlite3_stmt *scan = s->sql[SQL_STAGE_SCAN];
	struct store_state ns = s->st;
	char have[2 * STORE_DIGEST_LEN + 1], want[2 * STORE_DIGEST_LEN + 1];
	int rc, r;

	r = no_group(s, "install a snapshot", err);
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
	r = tx_begin(s, err);
	if (r != 0)
		return r;

	memset(ns.digest, 0, STORE_DIGEST_LEN);
	ns.rows = 0;
	while (r == 0 && (rc = sqlite3_step(scan)) == SQLITE_ROW) {
		r = row_hash_add(s, scan, ns.digest, err);
		ns.rows++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_fail(s, rc, "reading the staged snapshot", err);
	(void)sqlite3_reset(scan);
	if (r == 0 && memcmp(ns.digest, digest, STORE_DIGEST_LEN) != 0) {
		store_digest_hex(ns.digest, have);
		store_digest_hex(digest, want);
		r = ekl_errf(err, EKL_EPROTO,
			     "snapshot at revision %" PRId64 ": the %" PRId64
			     " rows received hash to %s, the "
			     "sender announced %s; it was not applied",
			     revision, ns.rows, have, want);
	}
	if (r == 0)
		r = sql_run(s, SQL_CONFIG_CLEAR, "replacing the rows", err);
	if (r == 0)
		r = sql_run(s, SQL_CONFIG_SWAP, "replacing the rows", err);
	if (r == 0)
		r = sql_run(s, SQL_STAGE_CLEAR, "clearing the staging", err);
	if (r == 0)
		r = sql_run(s, SQL_LOG_CLEAR, "emptying the change log", err);
	if (r == 0) {
		ns.revision = revision;
		ns.rev_epoch = rev_epoch;
		ns.log_first = revision + 1;
		if (rev_epoch > ns.epoch) {
			ns.epoch = rev_epoch;
			ns.primary[0] = '\0';
		}
		r = meta_write(s, &ns, err);
	}
	if (r == 0)
		r = tx_commit(s, err);
	else
		tx_rollback(s);
	if (r == 0) {
		s->st = ns;
		s->staging = false;
	}
	return r;
}

/* Inside a write group this cannot clear anything; store_open() clears
 * what is left. */
void store_snap_abort(struct store *s)
{
	if (s->group || tx_begin(s, NULL) != 0)
		return;
	if (sql_run(s, SQL_STAGE_CLEAR, "clearing the staging", NULL) == 0 &&
	    tx_commit(s, NULL) == 0)
		s->staging = false;
	else
		tx_rollback(s);
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

	r = no_group(s, "check the store", err);
	if (r == 0)
		r = meta_load(s->db, s->file, &m, err);
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
		r = row_hash_add(s, stmt, digest, err);
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

	r = query_int(s->db, s->file,
		      "SELECT coalesce(min(rev), 0) FROM changelog", &lo, err);
	if (r == 0)
		r = query_int(s->db, s->file,
			      "SELECT coalesce(max(rev), 0) FROM changelog",
			      &hi, err);
	if (r == 0)
		r = query_int(s->db, s->file, "SELECT count(*) FROM changelog",
			      &cnt, err);
	if (r == 0)
		r = query_int(s->db, s->file,
			      "SELECT count(*) FROM changelog a JOIN "
			      "changelog b ON b.rev = a.rev + 1 "
			      "WHERE b.epoch < a.epoch",
			      &back, err);
	if (r == 0)
		r = query_int(s->db, s->file,
			      "SELECT count(*) FROM snap_config", &staged, err);
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
	return 0;
}
