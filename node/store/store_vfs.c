/* store_vfs.c: the store's VFS: SQLite's own, with a transaction's WAL
 * frames written in one write.
 *
 * SQLite appends a transaction to the WAL one frame at a time, and each
 * frame in two writes: its 24-byte header, then the page. A one-row
 * commit of the store (a change-log page and a config leaf) is four
 * pwrite()s; a peer applying a batch of k changes makes 2k + 2. On the
 * machines we measure on, a system call costs more than the bytes it
 * copies (docs/benchmarks.md), so this VFS gathers the frames of a
 * transaction in memory and writes them with one pwrite() when the
 * commit frame is complete.
 *
 * What makes that safe, and the whole of the rule (wal_write):
 *   - Only WAL files are wrapped (SQLITE_OPEN_WAL), and only when their
 *     database file is this VFS's (db_hook); the database, its journal
 *     and the WAL index are SQLite's "unix" files, untouched, but for one
 *     watch on the database file's shared-memory locks (below).
 *   - Only appended frames are gathered: a 24-byte write at a frame
 *     boundary (the page size is read from the WAL's header) where this
 *     file's last write ended, then the page right after it. Anything
 *     else (the WAL's own header, a page SQLite overwrites in place in a
 *     large transaction, the frame headers it then rewrites below the end
 *     of the WAL, padding) writes what is gathered first, then itself.
 *   - The commit frame (a frame header whose "database size after commit"
 *     field is not zero: the WAL format, sqlite.org/fileformat2.html)
 *     ends the gathering: the write of its page writes everything, and
 *     returns that write's result. SQLite publishes a transaction (the
 *     WAL index, then the release of the writer's lock) only after that
 *     call returned, so no reader, checkpointer or fdatasync ever meets a
 *     frame the file does not hold, and a failed write fails the commit
 *     as a failed pwrite() of SQLite's own would.
 *   - Every other method of a WAL file (read, sync, truncate, size,
 *     close) writes what is gathered first and returns that error if it
 *     fails; what is gathered never outgrows VFS_WRITE_MAX.
 *   - A failed write of gathered frames that SQLite was already told were
 *     written (a large transaction spills pages to the WAL before its
 *     commit) breaks the file: every later read or write of it fails
 *     until the transaction ends, so nothing is read from, or written
 *     beyond, the bytes that were lost, and the transaction cannot commit.
 *   - The end of a write transaction is the release of the WAL's writer
 *     lock on the database file (xShmLock, WAL_WRITE_LOCK = slot 0). A
 *     committed transaction has nothing gathered by then; a rolled-back
 *     one may (spilled frames): they are dropped, never written later
 *     over what another connection may have committed meanwhile. The
 *     store never uses locking_mode=EXCLUSIVE (which takes no such lock).
 *
 * Durability is unchanged: SQLite writes the same bytes at the same
 * offsets before the commit returns; the node's fdatasync follows it
 * (repl/sync.c), as before.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/be32.h"
#include "store_int.h"

/* Bytes gathered at most: SQLite's unix VFS writes no more than this in
 * one call (seekAndWriteFd masks the length to 17 bits, and a longer
 * write fails with SQLITE_FULL). A catch-up batch of a thousand changes,
 * a few MiB, is written in pieces of this size. */
#define VFS_WRITE_MAX  0x1ffff
#define WAL_HDR	       32 /* the WAL's own header */
#define WAL_FRAME_HDR  24
#define WAL_WRITE_LOCK 0 /* its slot among the WAL index's locks */

struct wal_file;

/* Kept after a database file of this VFS (which is the base VFS's own,
 * opened in place): its WAL, while open. */
struct db_ext {
	struct wal_file *wal; /* not owned */
};

struct wal_file {
	sqlite3_file base;  /* our methods */
	sqlite3_file *real; /* the base VFS's file, right after us */
	struct db_ext *db;  /* not owned: its database file's; NULL = no
			       gathering (write through) */
	unsigned char *buf; /* owned: gathered bytes */
	size_t len, cap;    /* bytes in buf, its size */
	sqlite3_int64 off;  /* file offset of buf[0] */
	sqlite3_int64 end;  /* where this file's last write ended */
	int64_t page;	    /* page size from the WAL header; 0 = unknown */
	bool want_page;	    /* the last write gathered was a frame header:
			       its page comes next */
	bool commit;	    /* ...and it was a commit frame's */
	bool broken;	    /* gathered frames were lost: fail until the
			       transaction ends */
};

static sqlite3_vfs *base_vfs; /* not owned: "unix" */
static sqlite3_vfs store_vfs;
static size_t db_ext_at; /* offset of struct db_ext in a database file */
/* A database file's methods: the base VFS's, but xShmLock (db_shm_lock).
 * Filled at the first database file opened; another file whose base
 * methods differ is left as it is, and its WAL written through. */
static pthread_mutex_t db_mu = PTHREAD_MUTEX_INITIALIZER;
static const sqlite3_io_methods *db_base_methods;
static sqlite3_io_methods db_methods;
static const sqlite3_io_methods wal_methods;

/* Write what is gathered. On failure nothing stays gathered and the file
 * is broken until the transaction ends. */
static int gather_flush(struct wal_file *f)
{
	int rc;

	if (f->len == 0)
		return SQLITE_OK;
	rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->off);
	f->len = 0;
	f->want_page = false;
	if (rc != SQLITE_OK)
		f->broken = true;
	return rc;
}

/* Before any other use of the file: what is gathered is written. */
static int wal_settle(struct wal_file *f, int broken_rc)
{
	return f->broken ? broken_rc : gather_flush(f);
}

static int gather_room(struct wal_file *f, size_t more)
{
	size_t cap = f->cap > 0 ? f->cap : 8192;
	unsigned char *b;

	while (cap < f->len + more)
		cap *= 2;
	if (cap == f->cap)
		return 0;
	b = realloc(f->buf, cap);
	if (b == NULL)
		return -1;
	f->buf = b;
	f->cap = cap;
	return 0;
}

/* Append data to what is gathered (which ends at f->end). */
static int gather(struct wal_file *f, const void *data, int amt)
{
	if (f->len + (size_t)amt > VFS_WRITE_MAX ||
	    gather_room(f, (size_t)amt) != 0)
		return -1;
	if (f->len == 0)
		f->off = f->end;
	memcpy(f->buf + f->len, data, (size_t)amt);
	f->len += (size_t)amt;
	f->end += amt;
	return 0;
}

/* The page size of a WAL header (0 when it is not one). */
static int64_t header_page(const unsigned char *hdr)
{
	uint32_t page = ekl_get_be32(hdr + 8);

	return page >= 512 && page <= 65536 && (page & (page - 1)) == 0
		   ? (int64_t)page
		   : 0;
}

/* The WAL's page size, read from its header once. */
static int64_t wal_page(struct wal_file *f)
{
	unsigned char hdr[WAL_HDR];

	if (f->page == 0 &&
	    f->real->pMethods->xRead(f->real, hdr, WAL_HDR, 0) == SQLITE_OK)
		f->page = header_page(hdr);
	return f->page;
}

/* The rule of the file's comment: gather a frame header that continues
 * this file's last write, then its page; write anything else through,
 * after what is gathered. */
static int wal_write(sqlite3_file *file, const void *data, int amt,
		     sqlite3_int64 off)
{
	struct wal_file *f = (struct wal_file *)file;
	bool append = off == f->end;
	int rc;

	if (f->broken)
		return SQLITE_IOERR_WRITE;
	if (f->want_page && append && amt == f->page) {
		f->want_page = false;
		/* A commit frame's page ends the transaction: write it. */
		if (gather(f, data, amt) == 0)
			return f->commit ? gather_flush(f) : SQLITE_OK;
	} else if (!f->want_page && append && amt == WAL_FRAME_HDR &&
		   f->db != NULL && off >= WAL_HDR && wal_page(f) > 0 &&
		   (off - WAL_HDR) % (WAL_FRAME_HDR + f->page) == 0 &&
		   gather(f, data, amt) == 0) {
		f->want_page = true;
		f->commit = ekl_get_be32((const uint8_t *)data + 4) != 0;
		return SQLITE_OK;
	}
	if ((rc = gather_flush(f)) != SQLITE_OK)
		return rc;
	if (off == 0 && amt == WAL_HDR)
		f->page = header_page(data); /* the WAL restarts */
	rc = f->real->pMethods->xWrite(f->real, data, amt, off);
	f->end = off + amt;
	return rc;
}

/* The write transaction ended (committed: nothing is gathered; rolled
 * back: what is gathered is dropped). */
static void wal_txn_end(struct wal_file *f)
{
	if (f->len > 0)
		f->end = f->off;
	f->len = 0;
	f->want_page = false;
	f->broken = false;
}

static int wal_close(sqlite3_file *file)
{
	struct wal_file *f = (struct wal_file *)file;
	int rc = wal_settle(f, SQLITE_OK), rc2;

	if (f->db != NULL)
		f->db->wal = NULL;
	rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	f->buf = NULL;
	f->cap = 0;
	return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *file, void *data, int amt, sqlite3_int64 off)
{
	struct wal_file *f = (struct wal_file *)file;
	int rc = wal_settle(f, SQLITE_IOERR_READ);

	return rc != SQLITE_OK
		   ? rc
		   : f->real->pMethods->xRead(f->real, data, amt, off);
}

static int wal_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct wal_file *f = (struct wal_file *)file;
	int rc = wal_settle(f, SQLITE_IOERR_TRUNCATE);

	if (rc == SQLITE_OK &&
	    (rc = f->real->pMethods->xTruncate(f->real, size)) == SQLITE_OK &&
	    f->end > size)
		f->end = size;
	return rc;
}

static int wal_sync(sqlite3_file *file, int flags)
{
	struct wal_file *f = (struct wal_file *)file;
	int rc = wal_settle(f, SQLITE_IOERR_FSYNC);

	return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wal_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct wal_file *f = (struct wal_file *)file;
	int rc = wal_settle(f, SQLITE_IOERR_FSTAT);

	return rc != SQLITE_OK ? rc
			       : f->real->pMethods->xFileSize(f->real, size);
}

/* The rest go straight to the base file: SQLite neither locks nor maps
 * a WAL file, and none of these reads or writes its bytes. */
static int wal_lock(sqlite3_file *file, int lock)
{
	struct wal_file *f = (struct wal_file *)file;

	return f->real->pMethods->xLock(f->real, lock);
}

static int wal_unlock(sqlite3_file *file, int lock)
{
	struct wal_file *f = (struct wal_file *)file;

	return f->real->pMethods->xUnlock(f->real, lock);
}

static int wal_check_reserved(sqlite3_file *file, int *out)
{
	struct wal_file *f = (struct wal_file *)file;

	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int wal_file_control(sqlite3_file *file, int op, void *arg)
{
	struct wal_file *f = (struct wal_file *)file;

	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int wal_sector_size(sqlite3_file *file)
{
	struct wal_file *f = (struct wal_file *)file;

	return f->real->pMethods->xSectorSize(f->real);
}

static int wal_device_chars(sqlite3_file *file)
{
	struct wal_file *f = (struct wal_file *)file;

	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* Version 1: SQLite asks a WAL file for nothing of versions 2-3 (the
 * shared memory belongs to the database file, and a WAL is never mapped). */
static const sqlite3_io_methods wal_methods = {
    .iVersion = 1,
    .xClose = wal_close,
    .xRead = wal_read,
    .xWrite = wal_write,
    .xTruncate = wal_truncate,
    .xSync = wal_sync,
    .xFileSize = wal_file_size,
    .xLock = wal_lock,
    .xUnlock = wal_unlock,
    .xCheckReservedLock = wal_check_reserved,
    .xFileControl = wal_file_control,
    .xSectorSize = wal_sector_size,
    .xDeviceCharacteristics = wal_device_chars,
};

static struct db_ext *db_ext(sqlite3_file *file)
{
	return (struct db_ext *)((char *)file + db_ext_at);
}

/* The database file's shared-memory locks, watched for the end of a
 * write transaction: the release of the WAL's writer lock. */
static int db_shm_lock(sqlite3_file *file, int slot, int n, int flags)
{
	struct db_ext *x = db_ext(file);

	if (slot == WAL_WRITE_LOCK && n == 1 &&
	    flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE) &&
	    x->wal != NULL)
		wal_txn_end(x->wal);
	return db_base_methods->xShmLock(file, slot, n, flags);
}

/* A main database file, opened in place by the base VFS: watch its
 * shared-memory locks (db_shm_lock) when its methods are the ones
 * db_methods copies (always, with "unix"). */
static void db_hook(sqlite3_file *file)
{
	db_ext(file)->wal = NULL;
	pthread_mutex_lock(&db_mu);
	if (db_base_methods == NULL && file->pMethods->iVersion >= 2 &&
	    file->pMethods->xShmLock != NULL) {
		db_base_methods = file->pMethods;
		db_methods = *file->pMethods;
		db_methods.xShmLock = db_shm_lock;
	}
	if (db_base_methods != NULL && file->pMethods == db_base_methods)
		file->pMethods = &db_methods;
	pthread_mutex_unlock(&db_mu);
}

/* A WAL file is wrapped; every other file is the base VFS's own, opened
 * in the memory SQLite gave us (szOsFile covers both). */
static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file,
		    int flags, int *out_flags)
{
	struct wal_file *f = (struct wal_file *)file;
	sqlite3_file *dbf;
	int rc;

	(void)vfs;
	if ((flags & SQLITE_OPEN_WAL) == 0) {
		rc = base_vfs->xOpen(base_vfs, name, file, flags, out_flags);
		if (rc == SQLITE_OK && (flags & SQLITE_OPEN_MAIN_DB) != 0 &&
		    file->pMethods != NULL)
			db_hook(file);
		return rc;
	}
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK) {
		/* SQLite closes a file only when its open succeeded. */
		if (f->real->pMethods != NULL)
			f->real->pMethods->xClose(f->real);
		return rc;
	}
	f->base.pMethods = &wal_methods;
	dbf = name != NULL ? sqlite3_database_file_object(name) : NULL;
	if (dbf != NULL && dbf->pMethods == &db_methods) {
		f->db = db_ext(dbf);
		f->db->wal = f;
	}
	return SQLITE_OK;
}

#define FORWARD(ret, name, params, args)                                       \
	static ret vfs_##name params                                           \
	{                                                                      \
		(void)vfs;                                                     \
		return base_vfs->x##name args;                                 \
	}

FORWARD(int, Delete, (sqlite3_vfs * vfs, const char *p, int dsync),
	(base_vfs, p, dsync))
FORWARD(int, Access, (sqlite3_vfs * vfs, const char *p, int flags, int *out),
	(base_vfs, p, flags, out))
FORWARD(int, FullPathname, (sqlite3_vfs * vfs, const char *p, int n, char *out),
	(base_vfs, p, n, out))
FORWARD(void *, DlOpen, (sqlite3_vfs * vfs, const char *p), (base_vfs, p))
FORWARD(int, Randomness, (sqlite3_vfs * vfs, int n, char *out),
	(base_vfs, n, out))
FORWARD(int, Sleep, (sqlite3_vfs * vfs, int us), (base_vfs, us))
FORWARD(int, CurrentTime, (sqlite3_vfs * vfs, double *out), (base_vfs, out))
FORWARD(int, GetLastError, (sqlite3_vfs * vfs, int n, char *out),
	(base_vfs, n, out))
FORWARD(int, CurrentTimeInt64, (sqlite3_vfs * vfs, sqlite3_int64 *out),
	(base_vfs, out))

static void vfs_DlError(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	base_vfs->xDlError(base_vfs, n, out);
}

static void (*vfs_DlSym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return base_vfs->xDlSym(base_vfs, h, sym);
}

static void vfs_DlClose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	base_vfs->xDlClose(base_vfs, h);
}

static int register_rc = SQLITE_ERROR;

static void vfs_register(void)
{
	size_t wal_size, db_size;

	base_vfs = sqlite3_vfs_find("unix");
	if (base_vfs == NULL || base_vfs->iVersion < 2)
		return;
	wal_size = sizeof(struct wal_file) + (size_t)base_vfs->szOsFile;
	db_ext_at = ((size_t)base_vfs->szOsFile + _Alignof(struct db_ext) - 1) &
		    ~(_Alignof(struct db_ext) - 1);
	db_size = db_ext_at + sizeof(struct db_ext);
	store_vfs = (sqlite3_vfs){
	    .iVersion = 2,
	    .szOsFile = (int)(wal_size > db_size ? wal_size : db_size),
	    .mxPathname = base_vfs->mxPathname,
	    .zName = STORE_VFS,
	    .xOpen = vfs_open,
	    .xDelete = vfs_Delete,
	    .xAccess = vfs_Access,
	    .xFullPathname = vfs_FullPathname,
	    .xDlOpen = vfs_DlOpen,
	    .xDlError = vfs_DlError,
	    .xDlSym = vfs_DlSym,
	    .xDlClose = vfs_DlClose,
	    .xRandomness = vfs_Randomness,
	    .xSleep = vfs_Sleep,
	    .xCurrentTime = vfs_CurrentTime,
	    .xGetLastError = vfs_GetLastError,
	    .xCurrentTimeInt64 = vfs_CurrentTimeInt64,
	};
	register_rc = sqlite3_vfs_register(&store_vfs, 0);
}

const char *store_vfs_name(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, vfs_register);
	return register_rc == SQLITE_OK ? STORE_VFS : NULL;
}
