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

/* Sync what is pending, join the thread, free. Returns the sequence
 * number durable at the end: the last one requested, or less when an
 * fdatasync failed. Accepts NULL (returns 0). */
uint64_t syncer_stop(struct syncer *s);

#endif
