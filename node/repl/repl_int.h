/* repl_int.h: what the replication files share: struct repl and its parts.
 *
 * Internal to node/repl/repl*.c; everyone else uses repl.h. The files:
 * repl.c (lifecycle, epochs, link changes, status), repl_write.c (group
 * commit, durability, --ack all, latency), repl_send.c (the primary's side
 * of each peer: batches, window, snapshots), repl_recv.c (frames as they
 * arrive, the peer's side: ReplState, batches, snapshot staging, acks).
 *
 * Ownership: struct repl owns the store, the per-peer states (peers[],
 * indexed by the io's peer number), the queued writes and the waits; the
 * io and the channels are borrowed.
 */
#ifndef EKUNODE_REPL_INT_H
#define EKUNODE_REPL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "ekulab/wire/frame.h"
#include "repl.h"
#include "store/store.h"

#define BATCH_MAX 1000	/* changes per batch */
#define WINDOW	  4	/* unacknowledged batches per peer */
#define SNAP_ROWS 1000	/* rows per snapshot chunk */
#define LAT_MAX	  65536 /* latency samples kept */
/* A peer syncs a batch without ack_now at most this long after it applied
 * it, so that batches nobody waits for share one fdatasync (and, on a disk
 * the nodes share, delay the primary's own fdatasyncs less: 2 ms before
 * round 6 of docs/benchmarks.md). */
#define LAZY_SYNC_S 0.010
/* A peer syncs batches the primary waits for on its loop, at the end of
 * the turn that applied them, when they hold at most this many changes. */
#define HERE_MAX_CHANGES 256
/* A caught-up peer with a batch out that nobody waits for gets the next
 * changes when it acknowledges that batch (repl_hold_back), as long as
 * fewer than this many are waiting to be sent. */
#define HOLD_MAX 256

/* Batches and snapshot chunks are bounded by bytes too: rows stop at
 * FRAME_ROWS_BYTES of path+value (or one row alone), so every frame stays
 * under FRAME_MAX_DEFAULT. The overhead of one Change in a ReplBatch is
 * at most 40 bytes (two 10-byte varints, tags and lengths), of one row in
 * a SnapChunk at most 10. */
#define REPL_CHANGE_OVERHEAD 40
#define REPL_ROW_OVERHEAD    10
_Static_assert((FRAME_ROWS_BYTES > STORE_PATH_MAX + STORE_VALUE_MAX
		    ? FRAME_ROWS_BYTES
		    : STORE_PATH_MAX + STORE_VALUE_MAX) +
		       BATCH_MAX * REPL_CHANGE_OVERHEAD + 64 <=
		   FRAME_MAX_DEFAULT,
	       "a full batch fits one frame");
_Static_assert((FRAME_ROWS_BYTES > STORE_PATH_MAX + STORE_VALUE_MAX
		    ? FRAME_ROWS_BYTES
		    : STORE_PATH_MAX + STORE_VALUE_MAX) +
		       SNAP_ROWS * REPL_ROW_OVERHEAD + 64 <=
		   FRAME_MAX_DEFAULT,
	       "a full snapshot chunk fits one frame");

struct syncer;
struct durable; /* repl_write.c */

/* The per-peer phases (the state machine is in repl.h). */
enum repl_phase {
	REPL_IDLE = 0,
	REPL_STREAM,
	REPL_SNAPSHOT,
	REPL_SKEW,
};

/* Replication with one peer, as seen from this node. */
struct repl_peer {
	enum repl_phase phase;
	struct repl_chan *carrier; /* not owned: the channel the stream runs
				      on (io->carrier when last told) */
	/* Handles compared, never dereferenced (they may be gone): */
	struct repl_chan *state_chan; /* primary: where the peer's last
					 ReplState came from */
	struct repl_chan *state_sent; /* the channel our ReplState went to
					 when it came up (repl_conn_up) */
	bool known;		      /* a ReplState has been received */
	int64_t applied; /* peer's applied revision (acked / reported) */
	int64_t acked;	 /* primary: the highest revision the peer acknowledged
			    in this epoch (a ReplAck is sent after its
			    fdatasync); --ack all waits read only this, never
			    `applied`, which a ReplState sets from what the
			    peer committed and may not have synced yet */
	int64_t rev_epoch_seen; /* epoch of that revision, from ReplState */
	int64_t acked_epoch;	/* primary: epoch in which the peer last
				   acknowledged our batches (its history up
				   to `applied` is ours); 0 = unknown */
	int64_t sent;		/* primary: last revision sent */
	int64_t sent_high; /* primary: the highest revision sent to it in this
			      epoch (batches, a snapshot's); an ack above it
			      is a lie */
	int inflight;	   /* primary: snapshot chunks not yet acked */
	int64_t out_last[WINDOW]; /* primary: last revision of each batch
				     sent and not yet acknowledged, oldest
				     first */
	int n_out;
	bool ack_due;	  /* peer: an ack waits for durability */
	uint64_t ack_seq; /* peer: ...of this commit sequence number */
	int64_t ack_rev;  /* peer: revision that ack will carry */
	struct store_snap_reader *snap; /* primary: owned while sending */
	int64_t snap_revision;
	int64_t snap_epoch; /* peer: epoch announced by SnapBegin */
	uint8_t snap_digest[STORE_DIGEST_LEN]; /* peer: from SnapBegin */
	bool snap_done;			       /* primary: every chunk sent */
	int64_t primary_rev; /* peer: primary's revision from its batches */
	int64_t snapshots;   /* snapshots sent / received (status) */
};

struct pending_write {
	void *reply; /* not owned: the caller's token, completed once */
	char *path;  /* owned */
	char *value; /* owned; NULL = delete */
	bool ack_all;
	int timeout_ms;
	int64_t rev; /* assigned in the group commit */
	struct pending_write *next;
};

/* A committed write waiting for peers (--ack all). */
struct ack_wait {
	void *reply;
	int64_t rev;
	ev_tstamp committed;	   /* when the group commit returned */
	bool need[REPL_MAX_PEERS]; /* by peer number */
	ev_tstamp deadline;
	struct ack_wait *next;
};

struct repl {
	struct repl_io *io;	     /* not owned */
	struct repl_config cfg;	     /* cfg.name points at name */
	char name[STORE_NAME_MAX];   /* this node's */
	struct store *store;	     /* owned */
	struct repl_peer *peers;     /* owned: io->n_peers entries */
	struct pending_write *queue; /* owned, FIFO */
	struct pending_write **queue_tail;
	struct ack_wait *waits; /* owned */
	int64_t waited_rev;	/* primary: the newest revision committed by
				   an --ack all write (waits for it may not
				   exist yet: they start after our sync) */
	ev_prepare commit_w;
	ev_timer wait_timer;
	/* Latency samples (microseconds), a ring of the most recent. */
	uint32_t *lat; /* owned */
	size_t lat_n;  /* samples held (<= LAT_MAX) */
	size_t lat_next;
	struct syncer *syncer; /* owned; NULL: every commit fsyncs itself */
	uint64_t commit_seq;   /* commits that wait for the syncer */
	uint64_t synced_seq;   /* ...of which durable */
	/* Peer: the last commit applied that nobody waits for, whose sync
	 * lazy_timer asks for (0: none). */
	uint64_t lazy_due;
	ev_timer lazy_timer;
	/* Peer: the last commit applied that the primary waits for, to be
	 * synced on the loop at the end of this turn (0: none). */
	uint64_t here_due;
	struct durable *durables; /* owned: committed groups not yet synced */
	struct durable **durables_tail;
	uint64_t groups;  /* group commits since the last reset */
	uint64_t grouped; /* writes in them */
	/* Deletes the rows an installed snapshot replaced, a few
	 * milliseconds at a time, when the loop has nothing else to do
	 * (store_trash_step). */
	ev_idle trash_w;
};

/* repl.c */
/* Back to IDLE: drop the snapshot being sent and the window. */
void repl_peer_reset(struct repl_peer *p);
/* Send our (epoch, primary, revision) on ch. */
void repl_send_state(struct repl *r, struct repl_chan *ch);
/* Adopt a newer (epoch, primary); a demoted primary fails its waits. */
void repl_adopt_epoch(struct repl *r, int64_t epoch, const char *primary);
/* Complete a write's reply through the io. */
void repl_reply(struct repl *r, void *reply, bool ok, const char *body);
/* --version-skew strict and the peer on ch (non-NULL) runs another version
 * class. */
bool repl_skewed(struct repl *r, struct repl_chan *ch);

/* repl_write.c */
void repl_write_free(struct pending_write *w);
/* Answer every write of list that is not answered yet with msg, free the
 * list. */
void repl_fail_writes(struct repl *r, struct pending_write *list,
		      const char *msg);
/* At stop: answer the committed groups that the syncer never made durable
 * with an error (never "ok" without fdatasync). */
void repl_fail_unsynced(struct repl *r);
/* The commit_w prepare watcher: commit the queued writes as one group; on
 * a peer, sync what this turn applied for the primary (here_due). */
void repl_on_prepare(struct ev_loop *loop, ev_prepare *w, int revents);
/* The lazy_timer: ask for the sync of what a peer applied lazily. */
void repl_on_lazy_timer(struct ev_loop *loop, ev_timer *t, int revents);
/* The wait_timer: fail --ack all waits whose deadline passed. */
void repl_on_wait_timer(struct ev_loop *loop, ev_timer *t, int revents);
/* The syncer's callback: every commit up to seq is durable. */
void repl_on_synced(void *arg, uint64_t seq);

void repl_wait_remove(struct repl *r, struct ack_wait *w);
/* Resolve waits after a peer acknowledged, or fail those needing peer
 * `gone` (>= 0) whose link went down. */
void repl_check_waits(struct repl *r, int gone);
/* Compact the change log, keeping what streaming peers still need. */
void repl_maybe_compact(struct repl *r);
/* Start deleting the rows a snapshot replaced, when idle (repl.c). */
void repl_trash_later(struct repl *r);

/* repl_send.c */
/* A row (path or value) as protobuf bytes, pointing at s (borrowed: s
 * must outlive the message). */
ProtobufCBinaryData repl_wire_bytes(const char *s);
/* Batches sent to p and not yet covered by its acknowledgements. */
int repl_batches_out(struct repl_peer *p);
/* Record a batch ending at revision last as sent to p. */
void repl_batch_sent(struct repl_peer *p, int64_t last);
/* Nobody waits for the changes p has not been sent and p has a batch
 * out: send them together when it acknowledges that batch. */
bool repl_hold_back(struct repl *r, struct repl_peer *p);
/* Keep the pipe to peer full (primary only). */
void repl_pump(struct repl *r, int peer);
/* Bring a peer at (applied, rev_epoch_seen) up to date: stream or
 * snapshot. */
void repl_start_stream(struct repl *r, int peer);
/* The highest revision peer may acknowledge in our epoch. */
int64_t repl_ack_bound(const struct repl_peer *p);
/* A valid ReplAck (repl_recv.c checked it) of revision rev from peer. */
void repl_on_ack(struct repl *r, int peer, int64_t rev);
void repl_on_snap_ack(struct repl *r, int peer);

/* repl_recv.c */
/* Acknowledge revision rev (durable here) to the primary on ch. */
void repl_send_ack_rev(struct repl *r, struct repl_chan *ch, int64_t rev);

#endif
