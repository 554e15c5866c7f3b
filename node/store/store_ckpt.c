/* store_ckpt.c: the store's WAL checkpoints, on a thread of their own.
 *
 * The happy path: store_ckpt_start() opens a second connection to the
 * database (synchronous=FULL, so that a checkpoint fdatasyncs the WAL
 * before it copies and the database after, as the main connection's own
 * checkpoint does) and a thread that owns it, and replaces SQLite's
 * autocheckpoint on the main connection by a WAL hook. After each commit
 * the hook (on the caller's thread: the node's event loop) records the
 * WAL's frame count; from `frames` frames on, and then every
 * `frames`/8 frames more, it asks the thread for a PASSIVE checkpoint.
 * A PASSIVE checkpoint copies what is committed and never takes the
 * writer's lock, so commits go on meanwhile. Once every frame is copied,
 * the next commit restarts the WAL from its start (SQLite does that
 * itself when a write begins with the WAL wholly backfilled).
 *
 * The bound: under sustained writes a commit lands while every checkpoint
 * runs, the thread is always a little behind and the WAL never restarts.
 * So when the WAL holds `cap` frames, the loop checkpoints itself, on the
 * main connection, in the hook: it asks the thread not to start another
 * run and, once the thread is idle (at a later commit: it does not wait
 * for the thread's run), copies the residue the thread has not copied
 * yet (what was committed during its last run) and the next commit
 * restarts the WAL. Should the WAL reach twice the cap while the
 * thread's run goes on (a slow disk), the loop waits for that run to end
 * and then checkpoints: the WAL never holds more than 2 x cap frames and
 * one transaction's, and with the thread held (tests) no more than cap
 * and one transaction's.
 * A reader that pins an older snapshot (a snapshot being sent) keeps
 * frames from being copied and the WAL from restarting, as before; the
 * loop then tries again only every `frames` frames more.
 *
 * The failure modes: SQLITE_BUSY (another checkpoint, or a reader on the
 * frames) is not a failure: the next request tries again. Any other error
 * of the thread's checkpoint is logged and counted; the thread tries
 * again once the WAL has grown by `frames` more frames, and meanwhile the
 * loop's own checkpoint at the cap still bounds the WAL. An error of the
 * loop's checkpoint is logged and counted too, and it tries again
 * `frames` frames later. A failed checkpoint loses nothing: SQLite marks
 * frames copied only after the database file was synced, so every commit
 * stays in the WAL (and is read from there, and replayed at the next
 * open) until a checkpoint succeeds; the WAL grows meanwhile. The hook
 * always returns SQLITE_OK: its error would make the commit that called
 * it look failed although it is committed.
 *
 * Locking: mu guards the fields marked so; the thread's connection is
 * used only by the thread between start and stop. `running` is held by
 * whoever checkpoints (the thread or the loop), so the two never run at
 * once and the loop never waits for the thread.
 */
#include "store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "store_int.h"

struct store_ckpt {
	struct store *s; /* not owned: the store this checkpoints */
	sqlite3 *db;	 /* owned: the thread's connection */
	int64_t frames;	 /* ask the thread from this many frames on */
	int64_t cap;	 /* the loop checkpoints from this many on */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Guarded by mu. */
	int64_t wal;	  /* the WAL's frames after the last commit */
	int64_t next_ask; /* ask the thread when wal reaches this */
	int64_t loop_at;  /* the loop checkpoints when wal reaches this */
	uint64_t asked;	  /* requests made by the hook */
	uint64_t served;  /* requests the thread has taken */
	bool running;	  /* a checkpoint runs (the thread's or the loop's) */
	bool loop_wants;  /* the cap is passed: no new run on the thread */
	bool hold;	  /* test hook: the thread starts no run */
	bool stop;	  /* store_ckpt_stop() was called */
	struct store_ckpt_stats st;
};

/* Call with mu held: the hook saw the WAL at n frames. */
static void ckpt_note_frames(struct store_ckpt *c, int64_t n)
{
	if (n < c->wal) {
		/* The WAL restarted (every frame had been copied). */
		c->st.restarts++;
		c->next_ask = c->frames;
		c->loop_at = c->cap;
	}
	c->wal = n;
	if (n > c->st.wal_max)
		c->st.wal_max = n;
}

/* The loop's checkpoint of the residue, on the main connection (inside
 * the hook, after a commit: SQLite's own autocheckpoint runs there). */
static void ckpt_on_loop(struct store_ckpt *c, sqlite3 *db, int64_t n)
{
	int log = -1, done = -1;
	int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
					   &log, &done);
	bool failed = rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY;

	if (failed)
		ekl_error("%s: checkpoint on the loop at %lld WAL frames "
			  "failed: %s; every commit stays in the WAL, which "
			  "grows until a checkpoint succeeds (the next try in "
			  "%lld frames)",
			  c->s->file, (long long)n, sqlite3_errmsg(db),
			  (long long)c->frames);
	pthread_mutex_lock(&c->mu);
	c->running = false;
	c->loop_wants = false;
	/* Whatever happened, not again before `frames` more frames (or a
	 * restart, which resets it). */
	c->loop_at = n + c->frames;
	if (rc == SQLITE_OK) {
		c->st.loop_ckpts++;
		c->st.copied = done;
	} else if (failed) {
		c->st.failures++;
	} else {
		c->st.busy++;
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* The main connection's WAL hook: after each commit, on its thread. */
static int ckpt_hook(void *arg, sqlite3 *db, const char *name, int n)
{
	struct store_ckpt *c = arg;
	bool here = false;

	(void)name;
	pthread_mutex_lock(&c->mu);
	ckpt_note_frames(c, n);
	if (n >= c->next_ask) {
		c->next_ask = n + (c->frames / 8 > 0 ? c->frames / 8 : 1);
		c->asked++;
		pthread_cond_broadcast(&c->cv);
	}
	if (n >= c->loop_at) {
		c->loop_wants = true;
		/* Twice the cap (the thread's run is slow): wait for it
		 * to end, then copy the residue. */
		while (c->running && n >= c->loop_at + c->cap)
			pthread_cond_wait(&c->cv, &c->mu);
		if (!c->running) {
			c->running = true;
			here = true;
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (here)
		ckpt_on_loop(c, db, n);
	return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
	struct store_ckpt *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		int log = -1, done = -1, rc;
		bool failed;
		int64_t n;

		while (!c->stop && (c->hold || c->loop_wants || c->running ||
				    c->asked == c->served))
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->served = c->asked;
		c->running = true;
		n = c->wal;
		pthread_mutex_unlock(&c->mu);
		rc = sqlite3_wal_checkpoint_v2(
		    c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		failed = rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY;
		if (failed)
			ekl_error("%s: checkpoint at %lld WAL frames failed: "
				  "%s; every commit stays in the WAL, the "
				  "thread tries again in %lld frames and the "
				  "loop checkpoints at %lld",
				  c->s->file, (long long)n,
				  sqlite3_errmsg(c->db), (long long)c->frames,
				  (long long)c->cap);
		pthread_mutex_lock(&c->mu);
		c->running = false;
		if (rc == SQLITE_OK) {
			c->st.thread_ckpts++;
			c->st.copied = done;
		} else if (failed) {
			c->st.failures++;
			/* Not again before `frames` more (or a restart). */
			c->served = c->asked;
			c->next_ask = n + c->frames;
		} else {
			c->st.busy++;
		}
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* The thread's connection: same file, synchronous=FULL, never a
 * checkpoint on close, the WAL opened (a read) so that it can
 * checkpoint. */
static int ckpt_open_db(struct store *s, sqlite3 **out, char *err)
{
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(s->file, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1,
				       NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(db, STORE_BUSY_MS);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL,
				  NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master",
				  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = store_sql_fail(db, s->file, rc,
				       "opening the checkpointer's connection",
				       err);

		sqlite3_close(db);
		return r;
	}
	*out = db;
	return 0;
}

int store_ckpt_start(struct store *s, int64_t frames, int64_t cap, char *err)
{
	struct store_ckpt *c;
	int r;

	if (s->ckpt != NULL)
		return ekl_errf(err, EKL_EINVAL,
				"%s: the checkpointer is already running",
				s->file);
	if (frames < 1 || cap < frames || cap > INT32_MAX)
		return ekl_errf(err, EKL_EINVAL,
				"checkpoints every %lld frames with a cap of "
				"%lld: need 1 <= frames <= cap",
				(long long)frames, (long long)cap);
	c = ekl_calloc(1, sizeof(*c));
	if (c == NULL)
		return ekl_errf(err, EKL_ENOMEM,
				"%s: checkpointer: out of memory", s->file);
	c->s = s;
	c->frames = frames;
	c->cap = cap;
	c->next_ask = frames;
	c->loop_at = cap;
	r = ckpt_open_db(s, &c->db, err);
	if (r != 0)
		goto err_after_alloc;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
		r = ekl_errf(err, EKL_EIO,
			     "%s: cannot start the checkpointer thread",
			     s->file);
		goto err_after_sync;
	}
	/* From here on the hook, not SQLite's autocheckpoint. */
	(void)sqlite3_wal_hook(s->db, ckpt_hook, c);
	s->ckpt = c;
	return 0;

err_after_sync:
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	sqlite3_close(c->db);
err_after_alloc:
	ekl_free(c);
	return r;
}

void store_ckpt_stop(struct store *s)
{
	struct store_ckpt *c = s != NULL ? s->ckpt : NULL;

	if (c == NULL)
		return;
	/* SQLite's autocheckpoint again (it also removes our hook). */
	(void)sqlite3_wal_autocheckpoint(s->db, STORE_CKPT_FRAMES);
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	/* No statement was prepared on it: this cannot be SQLITE_BUSY. */
	(void)sqlite3_close(c->db);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	ekl_free(c);
	s->ckpt = NULL;
}

void store_ckpt_stats(struct store *s, struct store_ckpt_stats *out)
{
	struct store_ckpt *c = s->ckpt;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	out->wal = c->wal;
	out->idle = !c->running && c->asked == c->served;
	pthread_mutex_unlock(&c->mu);
}

void store_ckpt_hold(struct store *s, bool hold)
{
	struct store_ckpt *c = s->ckpt;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->hold = hold;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}
