/* repl.h: ClusterDB replication: group commits on the primary, streaming to
 * peers, snapshots, epochs, --ack all.
 *
 * One struct repl per node. It owns the store and its per-peer state, and
 * reaches the peers only through the struct repl_io it is handed, the way
 * canonical/raft's core reaches the network only through struct raft_io:
 * node.c implements it on links and conns, tests on an in-memory
 * transport. Peers are numbered 0..io->n_peers-1 by the io; repl never
 * sees a link or a conn.
 *
 * Per-peer replication state, as seen from this node:
 *
 * On the primary, for each peer:
 *   IDLE      --repl_on_frame(ReplState)--> STREAM or SNAPSHOT
 *   STREAM    --peer needs a compacted rev--> SNAPSHOT   (start_snapshot)
 *   SNAPSHOT  --SnapEnd acked-------------> STREAM     (repl_on_ack)
 *   any       --carrier lost / changed----> IDLE       (repl_link_changed)
 *   any       --version skew (strict)-----> SKEW
 * On a peer, toward the primary:
 *   IDLE      --first ReplBatch-----------> STREAM
 *   IDLE/STREAM --SnapBegin---------------> SNAPSHOT
 *   SNAPSHOT  --SnapEnd applied-----------> STREAM
 * Reported states: "replicating" (STREAM, lag within one batch),
 * "catching-up" (STREAM, further behind), "snapshot", "stopped" (IDLE,
 * SKEW, or the link is down, with the link's reason code).
 */
#ifndef EKUNODE_REPL_H
#define EKUNODE_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "ekulab.pb-c.h"
#include "ekulab/x509/policy.h"

#define REPL_MAX_PEERS 32
/* Epochs come in bands: a promotion (ClusterPrimary) opens an epoch of
 * the next band, a primary's restart the next one of its own band. A
 * primary cut off from a promotion and restarted meanwhile thus opens a
 * lower epoch than the promoted node's, and adopts it when it hears of
 * it. And every epoch a node opens is its own: congruent, modulo
 * REPL_EPOCH_STRIDE, to the node's rank among the cluster's members (its
 * own name and its peers', in strcasecmp order), so two nodes never open
 * the same one: two nodes promoted on either side of a partition open
 * two epochs, and the higher wins everywhere once they meet. With plain
 * "+ 1" for restarts, or one epoch per band for promotions, both opened
 * the same epoch with two primaries, neither ever adopted the other's,
 * and a later primary judged their two histories of it to be one
 * (docs/replication.md). */
#define REPL_EPOCH_BAND	  ((int64_t)1 << 20)
#define REPL_EPOCH_STRIDE 64
_Static_assert(REPL_MAX_PEERS + 1 <= REPL_EPOCH_STRIDE,
	       "every member has a rank below REPL_EPOCH_STRIDE");

/* The largest epoch a node adopts or opens from: a peer's message with a
 * larger one is refused (the arithmetic below must not overflow). */
#define REPL_EPOCH_MAX ((int64_t)1 << 62)

/* The epoch that the member of rank `rank` (0 <= rank <
 * REPL_EPOCH_STRIDE) opens after `epoch`: when promoted, the first of
 * the next band that is its own; when it starts as the primary, the next
 * one after `epoch` that is its own (in the next band only after
 * REPL_EPOCH_BAND / REPL_EPOCH_STRIDE starts without a promotion).
 * Returns -1 for an epoch outside 0..REPL_EPOCH_MAX. */
int64_t repl_epoch_promoted(int64_t epoch, int rank);
int64_t repl_epoch_restarted(int64_t epoch, int rank);

struct store;
struct json;

/* One connection to a peer, as the io knows it. Opaque to repl, which only
 * keeps, compares and hands back these handles (never dereferences). */
struct repl_chan;

/* Everything replication needs from the outside world. The io is not
 * owned by repl and must outlive it; its functions run on the loop thread
 * and must not call back into repl. */
struct repl_io {
	void *data;  /* the implementation's */
	int n_peers; /* peers are 0..n_peers-1; at most REPL_MAX_PEERS */
	/* The peer's configured name (who it is; compared with primaries). */
	const char *(*peer_name)(struct repl_io *io, int peer);
	/* The channel carrying the link to peer now, or NULL when down. */
	struct repl_chan *(*carrier)(struct repl_io *io, int peer);
	/* Is ch still UP (it may have failed before the io told us)? */
	bool (*chan_up)(struct repl_io *io, struct repl_chan *ch);
	/* The software version the peer announced on ch ("X15.3.2"). */
	const char *(*chan_version)(struct repl_io *io, struct repl_chan *ch);
	/* Queue env on ch: 0, or a negative code when ch cannot take it. */
	int (*send)(struct repl_io *io, struct repl_chan *ch,
		    const Ekl__Envelope *env);
	/* Send env on every UP channel to peer (both directions). */
	void (*send_all)(struct repl_io *io, int peer,
			 const Ekl__Envelope *env);
	/* Close ch, telling the peer code and message; the io reports the
	 * change later (repl_link_changed), never from inside this call. */
	void (*close)(struct repl_io *io, struct repl_chan *ch,
		      const char *code, const char *message);
	/* Status: why the link to peer is down (a failure code). */
	const char *(*down_reason)(struct repl_io *io, int peer);
	/* Complete the write repl_write() was given `reply` for, exactly
	 * once: ok with body "revision N", or an error message. */
	void (*write_done)(struct repl_io *io, void *reply, bool ok,
			   const char *body);
};

struct repl_config {
	struct ev_loop *loop;	/* not owned */
	const char *name;	/* this node's name (copied) */
	enum pol_vclass vclass; /* ours, for --version-skew strict */
	int64_t log_keep;	/* change-log entries kept before compaction */
	bool skew_strict;	/* stop replication across version classes */
	int ack_timeout_ms;	/* default --ack all timeout */
	/* A lone write (or a peer's lone change) is synced on the loop, with
	 * no hand-off to the sync thread, while fdatasyncs average under
	 * this many microseconds; 0: the default (400), < 0: never. */
	int sync_here_max_us;
};

struct repl;

/* Open DATA's store and adopt the configured primary when the store has
 * none yet (epoch 0 -> epoch 1 with that primary); a primary that starts
 * again opens a new epoch. io is kept (not owned). */
int repl_start(const struct repl_config *cfg, struct repl_io *io,
	       const char *data_dir, const char *primary, struct repl **out,
	       char *err);
/* Answer every write still waiting (with an error), make what was committed
 * durable, close the store. Accepts NULL. */
void repl_stop(struct repl *r);

struct store *repl_store(struct repl *r);
bool repl_is_primary(const struct repl *r);

/* The carrier of peer's link appeared, changed or went away: ask
 * io->carrier. */
void repl_link_changed(struct repl *r, int peer);
/* A channel to peer reached UP: send our ReplState on it. */
void repl_conn_up(struct repl *r, int peer, struct repl_chan *ch);
/* A replication frame arrived from peer on ch. A frame that breaks the
 * protocol closes ch (io->close with "protocol") and applies nothing. */
void repl_on_frame(struct repl *r, int peer, struct repl_chan *ch,
		   const Ekl__Envelope *env);

/* Queue a write (value NULL = delete) for the next group commit (the
 * loop's next prepare). reply is the caller's token, handed back once to
 * io->write_done: after the commit is durable (ack_all false), or once
 * every peer linked at commit time has applied it (ack_all), or with an
 * error. */
void repl_write(struct repl *r, void *reply, const char *path,
		const char *value, bool ack_all, int timeout_ms);
/* Commit the queued writes now instead of at the next prepare, so that a
 * read served right after sees them (a client's read pipelined behind its
 * own write). Their answers still wait for fdatasync (and the peers). */
void repl_commit_queued(struct repl *r);
/* fdatasyncs made so far on the loop (a lone write's or a peer's lone
 * change's) and on the sync thread; both 0 without the sync thread. */
void repl_sync_counts(struct repl *r, uint64_t *here, uint64_t *thread);
/* Make this node the primary of a new epoch. */
int repl_promote(struct repl *r, char *err);

/* Latency from group commit to applied on every peer, for --ack all
 * writes: "count N p50_us N p99_us N max_us N". */
void repl_latency_text(struct repl *r, char *buf, size_t len);
void repl_latency_reset(struct repl *r);
/* The same figures, typed; the percentiles are 0 when count is 0. */
struct repl_latency {
	size_t count;
	uint32_t p50_us;
	uint32_t p99_us;
	uint32_t max_us;
	uint64_t groups; /* group commits since the last reset */
	uint64_t writes; /* writes in them */
};
void repl_latency_get(struct repl *r, struct repl_latency *out);

/* Status fields: primary, epoch, revision, digest (into an open object),
 * and one peer's "replication" value. */
void repl_status_json(struct repl *r, struct json *j);
void repl_peer_json(struct repl *r, int peer, struct json *j);
void repl_peer_text(struct repl *r, int peer, char *buf, size_t len);
/* The replication view of one peer; false when no replication runs
 * between this node and that peer (two non-primary nodes). */
bool repl_peer_view(struct repl *r, int peer, const char **state,
		    const char **reason, int64_t *applied, int64_t *lag);

#endif
