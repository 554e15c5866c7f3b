/* store_int.h: what the store*.c files share; no other module includes it.
 *
 * struct store, the statements prepared at open and the helpers the files
 * of the store call across one another. See store.h for the invariants and
 * store.c for the happy path and the failure modes.
 */
#ifndef EKUNODE_STORE_INT_H
#define EKUNODE_STORE_INT_H

#include <stdbool.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "ekulab/core/err.h"
#include "store.h"

#define STORE_FILE_MAX 4096
#define STORE_BUSY_MS  5000

/* The VFS of the main connection (store_vfs.c): SQLite's default, with a
 * transaction's WAL frames written in one write. Registered on first
 * use; NULL when it cannot be (the default VFS is then used). */
#define STORE_VFS "ekl-gather"
const char *store_vfs_name(void);

/* The statements prepared once at open (SQLITE_PREPARE_PERSISTENT). */
enum store_sql {
	SQL_BEGIN,
	SQL_COMMIT,
	SQL_ROLLBACK,
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
	SQL_COUNT
};

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
	struct store_state st;	 /* rows not filled; the log's last entry
				    counted in (invariant 6 of store.h) */
	struct store_state kept; /* what the meta table itself holds */
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
	struct store_state mst;	      /* what the meta table holds */
	struct store_state gst;	      /* working state of the open group */
	bool group;		      /* a write group is open */
	int group_failed;	      /* the open group was rolled back:
					 its code, and why: */
	char group_err[EKL_ERRLEN];
	bool staging; /* store_snap_stage_begin() was called */
	uint8_t stage_digest[STORE_DIGEST_LEN]; /* of the rows staged */
	int64_t stage_rows;
	/* Tables of rows a snapshot replaced (config_retired_N), renamed
	 * aside by the swap and deleted later in small steps
	 * (store_trash_step): how many there are, and N for the next. */
	int64_t trash_tables;
	int64_t trash_next;
	struct store_ckpt *ckpt;   /* owned: the checkpointer, or NULL */
	char file[STORE_FILE_MAX]; /* DIR/clusterdb.sqlite3 */
};

/* The snapshot swap (store_snap_finish): the live rows' table is renamed
 * aside as STORE_TRASH_PREFIX N (deleted later by store_trash_step), the
 * staging table becomes config and a new empty staging table is made.
 * Renames only touch the schema: the swap costs the same for 10 rows or
 * 10 million. The schema of both tables is the one in store.c. */
#define STORE_SQL_CONFIG_COLUMNS                                               \
	"(path TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID"
#define STORE_TRASH_PREFIX "config_retired_"
#define STORE_SQL_SWAP_FMT                                                     \
	"ALTER TABLE config RENAME TO " STORE_TRASH_PREFIX "%" PRId64 "; "     \
	"ALTER TABLE snap_config RENAME TO config; "                           \
	"CREATE TABLE snap_config" STORE_SQL_CONFIG_COLUMNS ";"

/* ---- errors (store.c) ---- */

/* The SQLite error rc on db as an EKL code with a message naming file. */
int store_sql_fail(sqlite3 *db, const char *file, int rc, const char *what,
		   char *err);
/* The same on s's main connection. */
int store_fail(struct store *s, int rc, const char *what, char *err);
/* NULL when path (and value, unless NULL) may be stored, else why not. */
const char *store_bad_row(const char *path, const char *value);

/* ---- statements and transactions on the main connection (store.c) ---- */

/* Steps a statement that returns no row and resets it; SQLITE_OK or the
 * error (the message stays in sqlite3_errmsg). */
int store_sql_done(sqlite3_stmt *stmt);
/* store_sql_done() on statement i; 0 or the error, saying `what`. */
int store_sql_run(struct store *s, enum store_sql i, const char *what,
		  char *err);
int store_tx_begin(struct store *s, char *err);
/* Commits; on failure rolls back so nothing of it is applied. */
int store_tx_commit(struct store *s, char *err);
/* Rolls back the open transaction, if any; errors are moot by then. */
void store_tx_rollback(struct store *s);

/* ---- meta (store.c) ---- */

/* Reads meta into *m; only SQL errors fail. */
int store_meta_load(sqlite3 *db, const char *file, struct store_meta *m,
		    char *err);
/* Writes the meta keys where ns differs from what meta holds (s->mst),
 * inside the caller's transaction; the caller sets s->mst = *ns once it
 * has committed. */
int store_meta_write(struct store *s, const struct store_state *ns, char *err);
/* Runs a query returning one integer into *out. */
int store_query_int(sqlite3 *db, const char *file, const char *sql,
		    int64_t *out, char *err);

/* ---- write groups (store_write.c) ---- */

/* 0 when no write group is open, else EKL_EINVAL: cannot `what`. */
int store_no_group(struct store *s, const char *what, char *err);

/* ---- the digest (store_digest.c) ---- */

/* d += h and d -= h, mod 2^256, big-endian. */
void store_digest_add(uint8_t *d, const uint8_t *h);
void store_digest_sub(uint8_t *d, const uint8_t *h);
/* SHA-256(len(path) path len(value) value), lengths 4-byte big-endian. */
int store_row_hash(struct store *s, const char *path, size_t plen,
		   const char *value, size_t vlen, uint8_t *out, char *err);
/* Adds the hash of the row at column 0 (path) and 1 (value) of stmt. */
int store_row_hash_add(struct store *s, sqlite3_stmt *stmt, uint8_t *digest,
		       char *err);

#endif
