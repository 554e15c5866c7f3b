/* repl.h: ClusterDB replication: group commits on the primary, streaming to
 * peers over the link's carrier connection, snapshots, --ack all.
 *
 * One struct repl per node; one struct repl_peer inside each link.
 */
#ifndef EKUNODE_REPL_H
#define EKUNODE_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "ekulab.pb-c.h"

struct node;
struct link;
struct conn;
struct store;
struct store_snap_reader;
struct admin_reply;
struct json;

/*
 * Per-peer replication state, as seen from this node.
 *
 * On the primary, for each peer:
 *   IDLE      --repl_on_frame(ReplState)--> STREAM or SNAPSHOT
 *   STREAM    --peer needs a compacted rev--> SNAPSHOT   (start_snapshot)
 *   SNAPSHOT  --SnapEnd acked-------------> STREAM     (on_snap_done)
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
enum repl_phase {
	REPL_IDLE = 0,
	REPL_STREAM,
	REPL_SNAPSHOT,
	REPL_SKEW,
};

struct repl_peer {
	enum repl_phase phase;
	struct conn *carrier;	/* not owned: the conn the stream runs on */
	bool known;		/* a ReplState has been received */
	int64_t applied;	/* peer's applied revision (acked / reported) */
	int64_t rev_epoch_seen; /* epoch of that revision, from ReplState */
	int64_t acked_epoch;	/* primary: epoch in which the peer last
				   acknowledged our batches (its history up
				   to `applied` is ours); 0 = unknown */
	int64_t sent;		/* primary: last revision sent */
	int inflight;		/* primary: snapshot chunks not yet acked */
	int64_t out_last[8];	/* primary: last revision of each batch sent
				   and not yet acknowledged, oldest first */
	int n_out;
	bool ack_due;	  /* peer: an ack waits for durability */
	uint64_t ack_seq; /* peer: ...of this commit sequence number */
	int64_t ack_rev;  /* peer: revision that ack will carry */
	struct store_snap_reader *snap; /* primary: owned while sending */
	int64_t snap_revision;
	int64_t snap_epoch;	 /* peer: epoch announced by SnapBegin */
	uint8_t snap_digest[32]; /* peer: digest announced by SnapBegin */
	bool snap_done;		 /* primary: every chunk sent */
	int64_t primary_rev;	 /* peer: primary's revision from its batches */
	int64_t snapshots;	 /* snapshots sent / received (status) */
};

struct repl_config {
	int64_t log_keep;   /* change-log entries kept before compaction */
	bool skew_strict;   /* stop replication across version classes */
	int ack_timeout_ms; /* default --ack all timeout */
};

struct repl;

/* Open DATA's store and adopt the configured primary when the store has
 * none yet (epoch 0 -> epoch 1 with that primary). */
int repl_start(struct node *n, const char *data_dir, const char *primary,
	       const struct repl_config *cfg, struct repl **out, char *err);
void repl_stop(struct repl *r); /* accepts NULL */

struct store *repl_store(struct repl *r);
bool repl_is_primary(const struct repl *r);

/* A link's carrier appeared, changed or went away. */
void repl_link_changed(struct repl *r, struct link *l);
/* A conn of link l reached UP: send our ReplState on it. */
void repl_conn_up(struct repl *r, struct link *l, struct conn *c);
/* A replication frame arrived on a conn of link l. Returns false when the
 * frame was refused (the caller closes the conn with c's error set). */
void repl_on_frame(struct repl *r, struct link *l, struct conn *c,
		   const Ekl__Envelope *env);

/* Queue a write (value NULL = delete) for the next group commit. The
 * reply is completed after the commit (ack_all false) or once every peer
 * linked at commit time has applied it (ack_all), or with an error. */
void repl_write(struct repl *r, struct admin_reply *reply, const char *path,
		const char *value, bool ack_all, int timeout_ms);
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
void repl_peer_json(struct repl *r, const struct link *l, struct json *j);
void repl_peer_text(struct repl *r, const struct link *l, char *buf,
		    size_t len);
/* The replication view of one peer; false when no replication runs
 * between this node and that peer (two non-primary nodes). */
bool repl_peer_view(struct repl *r, const struct link *l, const char **state,
		    const char **reason, int64_t *applied, int64_t *lag);

#endif
