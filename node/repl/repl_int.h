/* repl_int.h: what the replication files share: struct repl and its parts.
 *
 * Internal to node/repl*.c; everyone else uses repl.h. The files:
 * repl.c (lifecycle, epochs, link changes, status), repl_write.c (group
 * commit, durability, --ack all, latency), repl_send.c (the primary's side
 * of each peer: batches, window, snapshots), repl_recv.c (frames as they
 * arrive, the peer's side: ReplState, batches, snapshot staging, acks).
 */
#ifndef EKUNODE_REPL_INT_H
#define EKUNODE_REPL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "config.h"
#include "repl.h"

#define BATCH_MAX   1000	/* changes per batch */
#define BATCH_BYTES (256 << 10) /* path+value bytes per batch */
#define WINDOW	    4		/* unacknowledged batches per peer */
#define SNAP_ROWS   1000	/* rows per snapshot chunk */
#define LAT_MAX	    65536	/* latency samples kept */

struct syncer;
struct durable; /* repl_write.c */

struct pending_write {
	struct admin_reply *reply; /* not owned: completed once */
	char *path;		   /* owned */
	char *value;		   /* owned; NULL = delete */
	bool ack_all;
	int timeout_ms;
	int64_t rev; /* assigned in the group commit */
	struct pending_write *next;
};

/* A committed write waiting for peers (--ack all). */
struct ack_wait {
	struct admin_reply *reply;
	int64_t rev;
	ev_tstamp committed;	     /* when the group commit returned */
	bool need[CONFIG_MAX_PEERS]; /* by link index */
	ev_tstamp deadline;
	struct ack_wait *next;
};

struct repl {
	struct node *node;   /* not owned */
	struct store *store; /* owned */
	struct repl_config cfg;
	struct pending_write *queue; /* owned, FIFO */
	struct pending_write **queue_tail;
	struct ack_wait *waits; /* owned */
	ev_prepare commit_w;
	ev_timer wait_timer;
	/* Latency samples (microseconds), a ring of the most recent. */
	uint32_t *lat; /* owned */
	size_t lat_n;  /* samples held (<= LAT_MAX) */
	size_t lat_next;
	bool sent_early;	  /* the group being committed went to peers */
	struct syncer *syncer;	  /* owned; NULL: every commit fsyncs itself */
	uint64_t commit_seq;	  /* commits that wait for the syncer */
	uint64_t synced_seq;	  /* ...of which durable */
	struct durable *durables; /* owned: committed groups not yet synced */
	struct durable **durables_tail;
	uint64_t groups;  /* group commits since the last reset */
	uint64_t grouped; /* writes in them */
};

/* repl.c */
/* Back to IDLE: drop the snapshot being sent and the window. */
void repl_peer_reset(struct repl_peer *p);
/* Send our (epoch, primary, revision) on c. */
void repl_send_state(struct repl *r, struct conn *c);
/* Adopt a newer (epoch, primary); a demoted primary fails its waits. */
void repl_adopt_epoch(struct repl *r, int64_t epoch, const char *primary);

/* repl_write.c */
void repl_write_free(struct pending_write *w);
/* The commit_w prepare watcher: commit the queued writes as one group. */
void repl_on_prepare(struct ev_loop *loop, ev_prepare *w, int revents);
/* The wait_timer: fail --ack all waits whose deadline passed. */
void repl_on_wait_timer(struct ev_loop *loop, ev_timer *t, int revents);
/* The syncer's callback: every commit up to seq is durable. */
void repl_on_synced(void *arg, uint64_t seq);
void repl_wait_remove(struct repl *r, struct ack_wait *w);
/* Resolve waits after a peer acknowledged, or fail those needing link
 * index gone (>= 0) whose link went down. */
void repl_check_waits(struct repl *r, int gone);
/* Compact the change log, keeping what streaming peers still need. */
void repl_maybe_compact(struct repl *r);

/* repl_send.c */
/* Batches sent to p and not yet covered by its acknowledgements. */
int repl_batches_out(struct repl_peer *p);
/* Record a batch ending at revision last as sent to p. */
void repl_batch_sent(struct repl_peer *p, int64_t last);
/* Keep the pipe to l full (primary only). */
void repl_pump(struct repl *r, struct link *l);
/* Bring a peer at (applied, rev_epoch_seen) up to date: stream or
 * snapshot. */
void repl_start_stream(struct repl *r, struct link *l);
/* A ReplAck / SnapAck from the peer of l. */
void repl_on_ack(struct repl *r, struct link *l, const Ekl__ReplAck *a);
void repl_on_snap_ack(struct repl *r, struct link *l);

/* repl_recv.c */
/* Acknowledge revision rev (durable here) to the primary on c. */
void repl_send_ack_rev(struct repl *r, struct conn *c, int64_t rev);

#endif
