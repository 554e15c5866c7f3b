/* sync.h: make committed WAL frames durable on a thread, off the loop.
 *
 * In deferred mode a store commits without fsync (synchronous=NORMAL) and
 * the node asks the syncer to fdatasync the WAL. Because the WAL is
 * written in commit order, one fdatasync makes every earlier commit
 * durable, so requests coalesce: the thread syncs up to the newest
 * sequence number asked for, and the loop hears back through an ev_async
 * with the sequence number now durable. Nothing that waits for durability
 * (a write's reply, a peer's ack) is released before that.
 */
#ifndef EKUNODE_SYNC_H
#define EKUNODE_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

struct syncer;

/* done(arg, seq) runs on the loop thread: everything requested up to seq
 * is durable. */
int syncer_start(struct ev_loop *loop, const char *wal_path,
		 void (*done)(void *arg, uint64_t seq), void *arg,
		 struct syncer **out, char *err);
/* Ask for everything committed so far, tagged seq, to become durable. */
void syncer_request(struct syncer *s, uint64_t seq);

/* Make everything committed so far, tagged seq, durable right here, on
 * the loop's thread, and call done(arg, seq) before returning true: only
 * when the thread is idle (no sync running or asked for) and recent
 * fdatasyncs were quick (syncer_set_here_max; a slower disk would block
 * the loop too long). A lone write then needs no hand-off to the
 * thread and back. Returns false, having done nothing
 * durable, when it did not try (ask with syncer_request instead) or when
 * the fdatasync failed (then, as on the thread, the loop is told to stop
 * and no later sync is made: what waited is never released). */
bool syncer_sync_here(struct syncer *s, uint64_t seq);
/* syncer_sync_here only while fdatasyncs take under ns on average
 * (default 400 us; 0: never). */
void syncer_set_here_max(struct syncer *s, uint64_t ns);
/* How many fdatasyncs ran here (syncer_sync_here) and on the thread. */
void syncer_counts(struct syncer *s, uint64_t *here, uint64_t *thread);

/* Sync what is pending, join the thread, free. Returns the sequence
 * number durable at the end: the last one requested, or less when an
 * fdatasync failed. Accepts NULL (returns 0). */
uint64_t syncer_stop(struct syncer *s);

#endif
