/* sync.c: make committed WAL frames durable on a thread, off the loop. */
#include "sync.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ekulab/core/container_of.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"

struct syncer {
	struct ev_loop *loop; /* not owned */
	char *wal_path;	      /* owned */
	int fd;		      /* owned by the thread: the WAL, or -1 */
	ino_t ino;
	void (*done)(void *arg, uint64_t seq);
	void *arg;
	ev_async async;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Guarded by mu. */
	uint64_t requested;
	uint64_t durable;
	bool busy; /* an fdatasync runs (the thread's or syncer_sync_here's):
		      whoever set it owns fd */
	bool stop;
	bool failed;
	uint64_t avg_ns;      /* moving average of one fdatasync's duration */
	uint64_t here_max_ns; /* syncer_sync_here while avg_ns is under it */
	uint64_t n_here;      /* fdatasyncs on the loop (syncer_sync_here) */
	uint64_t n_thread;    /* ...on the thread */
};

/* fdatasync the WAL; reopen it when SQLite replaced the file. Only called
 * after a commit, so the WAL exists: a WAL that is gone (removed under the
 * node's feet) holds commits that can no longer be made durable, and that
 * is a failure, never "nothing to do". The open file, while still
 * linked, is the WAL: an fstat, no path lookup (stat of the path was
 * about 4 % of the primary's CPU for a lone write); only an unlinked one
 * sends us to the path. A checkpoint (on the store's checkpointer thread
 * or on the loop, store_ckpt.c) never replaces the WAL: SQLite restarts it
 * by writing the same file from its start again (no truncation: the store
 * sets no journal_size_limit), so this descriptor stays the WAL; only the
 * store's close removes it, after syncer_stop(). */
static int sync_wal(struct syncer *s)
{
	struct stat st;

	if (s->fd >= 0 && fstat(s->fd, &st) == 0 && st.st_nlink > 0)
		return fdatasync(s->fd);
	if (stat(s->wal_path, &st) != 0)
		return -1;
	if (s->fd < 0 || st.st_ino != s->ino) {
		if (s->fd >= 0)
			close(s->fd);
		s->fd = open(s->wal_path, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0)
			return -1;
		s->ino = st.st_ino;
	}
	return fdatasync(s->fd);
}

/* syncer_sync_here blocks the loop for one fdatasync: only while they
 * take less than this on average. When the disk is slower, the loop's
 * time is worth more than the hand-offs it saves (it reads and commits
 * the next group while the thread syncs). */
#define SYNC_HERE_MAX_NS 400000u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Call with mu held: one more fdatasync took ns. */
static void note_duration(struct syncer *s, uint64_t ns)
{
	s->avg_ns = s->avg_ns - s->avg_ns / 8 + ns / 8;
}

/* fdatasync, and how long it took. */
static int sync_timed(struct syncer *s, uint64_t *ns)
{
	uint64_t t0 = now_ns();
	int rv = sync_wal(s);

	*ns = now_ns() - t0;
	return rv;
}

static void *sync_main(void *arg)
{
	struct syncer *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		uint64_t target;
		uint64_t ns;
		int rv;

		while (!s->stop && !s->failed &&
		       (s->busy || s->requested <= s->durable))
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->failed || (s->requested <= s->durable && s->stop))
			break;
		target = s->requested;
		s->busy = true;
		pthread_mutex_unlock(&s->mu);
		rv = sync_timed(s, &ns);
		pthread_mutex_lock(&s->mu);
		s->busy = false;
		s->n_thread++;
		note_duration(s, ns);
		if (rv != 0) {
			s->failed = true;
			break;
		}
		s->durable = target;
		ev_async_send(s->loop, &s->async);
	}
	pthread_mutex_unlock(&s->mu);
	ev_async_send(s->loop, &s->async);
	return NULL;
}

static void on_async(struct ev_loop *loop, ev_async *w, int revents)
{
	struct syncer *s = container_of(w, struct syncer, async);
	uint64_t durable;
	bool failed;

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&s->mu);
	durable = s->durable;
	failed = s->failed;
	pthread_mutex_unlock(&s->mu);
	if (failed) {
		/* The disk refuses: nothing more can be promised durable. */
		ekl_error("fdatasync %s failed: stopping the node",
			  s->wal_path);
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	s->done(s->arg, durable);
}

int syncer_start(struct ev_loop *loop, const char *wal_path,
		 void (*done)(void *arg, uint64_t seq), void *arg,
		 struct syncer **out, char *err)
{
	struct syncer *s = ekl_calloc(1, sizeof(*s));

	if (s == NULL || (s->wal_path = ekl_strdup(wal_path)) == NULL) {
		ekl_free(s);
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	s->loop = loop;
	s->fd = -1;
	s->here_max_ns = SYNC_HERE_MAX_NS;
	s->done = done;
	s->arg = arg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	ev_async_init(&s->async, on_async);
	ev_async_start(loop, &s->async);
	if (pthread_create(&s->thread, NULL, sync_main, s) != 0) {
		ev_async_stop(loop, &s->async);
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		ekl_free(s->wal_path);
		ekl_free(s);
		return ekl_errf(err, EKL_EIO, "cannot start the sync thread");
	}
	*out = s;
	return 0;
}

void syncer_request(struct syncer *s, uint64_t seq)
{
	pthread_mutex_lock(&s->mu);
	if (seq > s->requested) {
		s->requested = seq;
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
}

bool syncer_sync_here(struct syncer *s, uint64_t seq)
{
	uint64_t ns;
	int rv;

	pthread_mutex_lock(&s->mu);
	if (s->busy || s->failed || s->stop || s->requested > s->durable ||
	    s->avg_ns >= s->here_max_ns) {
		pthread_mutex_unlock(&s->mu);
		return false;
	}
	s->busy = true;
	pthread_mutex_unlock(&s->mu);
	rv = sync_timed(s, &ns);
	pthread_mutex_lock(&s->mu);
	s->busy = false;
	s->n_here++;
	note_duration(s, ns);
	if (rv != 0) {
		/* As on the thread: nothing more is promised durable, the
		 * thread ends and on_async stops the node. */
		s->failed = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		ev_async_send(s->loop, &s->async);
		return false;
	}
	if (seq > s->durable)
		s->durable = seq;
	if (seq > s->requested)
		s->requested = seq;
	pthread_mutex_unlock(&s->mu);
	s->done(s->arg, seq);
	return true;
}

void syncer_set_here_max(struct syncer *s, uint64_t ns)
{
	pthread_mutex_lock(&s->mu);
	s->here_max_ns = ns;
	pthread_mutex_unlock(&s->mu);
}

void syncer_counts(struct syncer *s, uint64_t *here, uint64_t *thread)
{
	pthread_mutex_lock(&s->mu);
	*here = s->n_here;
	*thread = s->n_thread;
	pthread_mutex_unlock(&s->mu);
}

uint64_t syncer_stop(struct syncer *s)
{
	uint64_t durable;

	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	durable = s->durable; /* the thread is gone: no lock needed */
	ev_async_stop(s->loop, &s->async);
	if (s->fd >= 0)
		close(s->fd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	ekl_free(s->wal_path);
	ekl_free(s);
	return durable;
}
