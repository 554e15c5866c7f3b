/* store.h: the node's configuration database (SQLite, WAL) and change log.
 *
 * One file, DATA/clusterdb.sqlite3, per node. Tables:
 *   meta(k PRIMARY KEY, v)            schema_version, epoch, primary,
 *                                     revision, rev_epoch, digest, log_first
 *   config(path PRIMARY KEY, value)   the configuration rows
 *   changelog(rev PRIMARY KEY, epoch, path, value, digest)   value NULL =
 *                                     delete; digest = the store's digest
 *                                     after this change
 *   snap_config(path PRIMARY KEY, value)   staging for a snapshot being
 *                                     received; empty otherwise
 *   config_retired_N(path PRIMARY KEY, value)   the rows a snapshot
 *                                     replaced, renamed aside by the swap
 *                                     and deleted in small steps
 *                                     (store_trash_step); in no one's view
 *
 * Invariants (checked by store_check in tests):
 *   1. revision is the number of the last change applied; changes are
 *      applied in order, exactly once: revision only grows (a snapshot may
 *      set it to any value, with the rows of that revision).
 *   2. changelog holds revisions log_first..revision with no gap (empty
 *      when log_first > revision), each with the epoch it was made in;
 *      rev_epoch is the epoch of revision's change (0 when revision is 0).
 *   3. digest is the sum mod 2^256 of SHA-256(len(path) path len(value)
 *      value) over config rows (lengths as 4-byte big-endian): two stores
 *      have equal digests exactly when their rows are equal (up to hash
 *      collisions). It is updated in the same transaction as the rows.
 *   4. Every mutation (a write group, an applied batch, a snapshot swap, an
 *      epoch change) is one transaction, committed with synchronous=FULL:
 *      when a function returns 0 its effect survives kill -9 and power
 *      loss; when it returns an error nothing of it is applied.
 *   5. A snapshot being received lives only in snap_config until
 *      store_snap_finish swaps it in with one transaction, so a crash in
 *      the middle leaves the previous rows and revision intact.
 *   6. A write group or an applied batch does not write meta: revision,
 *      rev_epoch and digest are those of the change log's last entry
 *      when it is newer than meta's revision, else meta's (schema 2; a
 *      commit writes two pages, the row's and the log's, not three).
 *      Compaction, a snapshot swap and an epoch change write meta whole.
 *   7. A checkpoint (SQLite's, or store_ckpt's thread or caller) copies
 *      only committed frames, syncs the WAL before and the database
 *      after, and frames count as copied only once that sync returned:
 *      every commit is in the synced database or in the WAL, a failed
 *      checkpoint loses none. With store_ckpt the WAL holds at most
 *      2 x cap frames and one transaction's (unless a snapshot reader
 *      pins older frames, which keeps it from restarting).
 *   8. The main connection writes a transaction's WAL frames in one
 *      write (store_vfs.c) before the commit returns, with the result of
 *      that write; a commit that returned 0 is in the WAL file as with
 *      SQLite's own VFS (in deferred mode it is durable once the WAL is
 *      fdatasync'd).
 */
#ifndef EKUNODE_STORE_H
#define EKUNODE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekulab/wire/adminproto.h"

#define STORE_SCHEMA_VERSION 2
#define STORE_DIGEST_LEN     32
/* The admin protocol's limits: a maximal row fits one request line. */
#define STORE_PATH_MAX	ADMINPROTO_KEY_MAX   /* bytes of a path */
#define STORE_VALUE_MAX ADMINPROTO_VALUE_MAX /* bytes of a value */
#define STORE_NAME_MAX	64

struct store;

struct store_state {
	int64_t epoch; /* current cluster epoch known to this node */
	char primary[STORE_NAME_MAX]; /* primary of that epoch ("" = none) */
	int64_t revision;	      /* last change applied */
	int64_t rev_epoch;	      /* epoch of that change */
	int64_t log_first; /* oldest revision still in the change log */
	uint8_t digest[STORE_DIGEST_LEN];
	int64_t rows; /* number of config rows */
};

/* One change. Pointers are borrowed (valid for the duration of a call or
 * callback). value NULL = delete the row. */
struct store_change {
	int64_t rev;
	int64_t epoch;
	const char *path;
	const char *value;
};

/* Open or create DIR/clusterdb.sqlite3 (dir must exist). An existing file
 * is checked first (PRAGMA quick_check, schema_version, meta complete); a
 * damaged or foreign file is refused with EKL_EIO / EKL_ECONFIG and an
 * error naming the file and what to do, and is never modified. */
int store_open(const char *dir, struct store **out, char *err);
/* Accepts NULL. Any open write group is rolled back. */
void store_close(struct store *s);

/* The one set of row rules, for what an admin writes and what a peer
 * sends alike: NULL when path and value (NULL: a delete, no value) may be
 * stored, else why not: an empty path, a path over STORE_PATH_MAX or a
 * value over STORE_VALUE_MAX bytes, a NUL, CR or LF byte, or bytes that
 * are not UTF-8. Lengths are explicit, so a NUL inside is seen. */
const char *store_row_invalid(const char *path, size_t path_len,
			      const char *value, size_t value_len);

/* Durability of commits. FULL (the default): every commit fsyncs before
 * it returns. Deferred: commits write the WAL without fsync
 * (synchronous=NORMAL); the caller makes them durable by syncing the WAL
 * file (store_wal_path; see sync.h) before it acknowledges anything, so
 * invariant 4 then holds for what has been synced. */
int store_set_deferred_sync(struct store *s, bool deferred, char *err);
/* DIR/clusterdb.sqlite3-wal. */
const char *store_wal_path(struct store *s);

/* The committed state (cached: no query). */
void store_state(const struct store *s, struct store_state *out);
/* Lower-case hex of a digest into buf (2*STORE_DIGEST_LEN+1 bytes). */
void store_digest_hex(const uint8_t *digest, char *buf);

/* ---- writes on the primary: a group commit ---- */

/* Start a write group (BEGIN IMMEDIATE). At most one group is open. */
int store_group_begin(struct store *s, char *err);
/* Inside a group: set (value non-NULL) or delete (value NULL) path as the
 * next revision in the current epoch; *rev gets it. A delete of a missing
 * path is EKL_ENOENT and consumes no revision. Paths and values are
 * validated (non-empty path, no newline, lengths) with EKL_EINVAL. Those
 * refusals write nothing and leave the group usable. Any other failure
 * (an SQLite error) rolls the whole group back: every later put and
 * store_group_commit return that error, and nothing of the group is
 * applied. */
int store_group_put(struct store *s, const char *path, const char *value,
		    int64_t *rev, char *err);
/* Commit (durable on return) or roll back the group. */
int store_group_commit(struct store *s, char *err);
void store_group_rollback(struct store *s);
bool store_group_open(const struct store *s);

/* ---- reads ---- */

/* *value is owned by the caller (ekl_free); EKL_ENOENT when missing.
 * Reads see an open write group's changes. */
int store_get(struct store *s, const char *path, char **value, char *err);
/* Calls cb for every row in path order; a non-zero cb return stops and is
 * returned. */
int store_list(struct store *s,
	       int (*cb)(void *arg, const char *path, const char *value),
	       void *arg, char *err);

/* ---- the change log ---- */

/* Calls cb for changes after revision `after`, in order, up to max_changes
 * or until about max_bytes of path+value have been passed. Returns the
 * number of changes passed (>= 0) or a negative code. EKL_ENOENT when
 * after+1 < log_first (the log no longer holds it: send a snapshot). */
int store_log_read(struct store *s, int64_t after, size_t max_changes,
		   size_t max_bytes,
		   int (*cb)(void *arg, const struct store_change *c),
		   void *arg, char *err);
/* The epoch of the change at revision rev, if the log holds it: 0 and
 * *epoch set, or EKL_ENOENT. rev == 0 gives epoch 0. */
int store_log_epoch(struct store *s, int64_t rev, int64_t *epoch, char *err);
/* Drop log entries so that at most keep remain (oldest first). */
int store_compact(struct store *s, int64_t keep, char *err);

/* ---- peers: apply what the primary sends ---- */

/* Apply n changes in one transaction. They must be consecutive, the first
 * being revision+1; anything else (a gap, a repeat) is EKL_EPROTO with
 * nothing applied. Each change keeps its own epoch. */
int store_apply(struct store *s, const struct store_change *c, size_t n,
		char *err);

/* Adopt (epoch, primary) when epoch is newer than ours, or set it on the
 * primary when it is promoted. Refuses an older epoch (EKL_EINVAL). */
int store_set_epoch(struct store *s, int64_t epoch, const char *primary,
		    char *err);

/* ---- snapshots ---- */

/* Sending: a consistent read of the rows at one revision, on a second
 * connection, while writes go on. */
struct store_snap_reader;
int store_snap_open(struct store *s, struct store_snap_reader **out,
		    struct store_state *at, char *err);
/* Calls cb for the next rows (path order): up to max_rows, and no more
 * than max_bytes of path+value (at least one row, however long); returns
 * the number passed; 0 at the end. A row held back by max_bytes comes
 * first in the next call. */
int store_snap_next(struct store_snap_reader *r, size_t max_rows,
		    size_t max_bytes,
		    int (*cb)(void *arg, const char *path, const char *value),
		    void *arg, char *err);
void store_snap_close(struct store_snap_reader *r); /* accepts NULL */

/* Receiving: stage rows, then swap them in atomically. */
int store_snap_stage_begin(struct store *s, char *err); /* clears staging */
int store_snap_stage_rows(struct store *s, const char *const *paths,
			  const char *const *values, size_t n, char *err);
/* Swap: the staged rows must have exactly `digest`, else EKL_EPROTO and
 * the live rows are untouched. Sets revision, rev_epoch, epoch/primary (if
 * newer), empties the change log (log_first = revision + 1) and staging. */
int store_snap_finish(struct store *s, int64_t revision, int64_t rev_epoch,
		      const uint8_t *digest, char *err);
void store_snap_abort(struct store *s); /* clears staging */

/* The rows a snapshot replaced. The swap only renames their table aside
 * (config_retired_N), so that installing a snapshot over a large table
 * does not hold the caller (the event loop) for as long as deleting it
 * takes; the caller deletes them later, a step at a time, when it is
 * idle. A store opened after a crash finds what was left. */
bool store_trash_pending(const struct store *s);
int64_t store_trash_tables(const struct store *s); /* tables left */
/* Deletes rows of the oldest replaced table for about budget_s seconds
 * (at least 16 rows), in one transaction, and drops the table once it
 * is empty. Does nothing inside a write group or when nothing is
 * pending. 0, or EKL_EIO with err saying why (nothing of the step is
 * then applied; the next step tries again). */
int store_trash_step(struct store *s, double budget_s, char *err);

/* ---- checkpoints, off the caller's thread (store_ckpt.c) ---- */

/* SQLite's default: a checkpoint every 1000 frames (pages) of WAL. */
#define STORE_CKPT_FRAMES 1000
/* The WAL's bound: the caller checkpoints itself past this many. */
#define STORE_CKPT_CAP (4 * STORE_CKPT_FRAMES)

/* Move WAL checkpoints onto a thread with its own connection to the file
 * (synchronous=FULL: it syncs the WAL before copying and the database
 * after). SQLite's autocheckpoint is replaced by a hook that, after a
 * commit, asks the thread once the WAL holds `frames` frames; when it
 * holds `cap`, the commit's caller copies what the thread has not yet
 * (see store_ckpt.c for why and how). Call after store_open; store_close
 * stops it. A failed checkpoint is logged and tried again later; no
 * commit is lost by it (it stays in the WAL). EKL_EINVAL when already
 * running or frames/cap are out of range; EKL_EIO/ENOMEM otherwise (the
 * store is then unchanged: SQLite's autocheckpoint). */
int store_ckpt_start(struct store *s, int64_t frames, int64_t cap, char *err);
/* Joins the thread, closes its connection, puts SQLite's autocheckpoint
 * back. Accepts NULL and a store without a checkpointer. */
void store_ckpt_stop(struct store *s);

struct store_ckpt_stats {
	uint64_t thread_ckpts; /* checkpoints the thread completed */
	uint64_t loop_ckpts;   /* ...the caller made at the cap */
	uint64_t failures;     /* checkpoints that failed (each logged) */
	uint64_t busy;	       /* ...found busy (tried again later) */
	uint64_t restarts;     /* times the WAL was seen restarted */
	int64_t wal;	       /* the WAL's frames after the last commit */
	int64_t wal_max;       /* the most frames it held */
	int64_t copied; /* frames copied as of the last checkpoint done */
	bool idle;	/* no checkpoint runs or is asked for */
};
/* All zero without a checkpointer. */
void store_ckpt_stats(struct store *s, struct store_ckpt_stats *out);
/* Test helper: hold (true) the thread so that it starts no checkpoint,
 * as if it never caught up; false lets it go on. */
void store_ckpt_hold(struct store *s, bool hold);

/* Test helper: verify the invariants above against the tables (digest
 * recomputed, log contiguous). 0 or EKL_EIO with err saying which. */
int store_check(struct store *s, char *err);

#endif
