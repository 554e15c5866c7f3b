/* repl_send.c: the primary's side of each peer: batches, the window,
 * snapshots, the repl_pump, where a stream starts, the peer's acks.
 *
 * The happy path: the primary pumps each peer (repl_pump): batches of up
 * to BATCH_MAX changes and FRAME_ROWS_BYTES of rows read from the change
 * log, at most WINDOW batches unacknowledged. Each ReplAck (repl_on_ack)
 * slides the window and pumps again.
 *
 * The failure modes: a peer whose revision the log no longer holds, or
 * whose history diverged (it has revisions the primary lacks, or of
 * another epoch), gets a snapshot (start_snapshot): SnapBegin, chunks of
 * at most SNAP_ROWS rows and FRAME_ROWS_BYTES of rows, at most WINDOW
 * unacknowledged, SnapEnd; once the
 * peer acknowledges the snapshot's revision the stream resumes from there.
 * A carrier change restarts the stream from the last acknowledged revision
 * (repl_start_stream, from repl_link_changed).
 */
#include <stdint.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "repl_int.h"
#include "store/store.h"

/* Batches sent to p and not yet covered by its acknowledgements. */
int repl_batches_out(struct repl_peer *p)
{
	int k = 0;

	while (k < p->n_out && p->out_last[k] <= p->applied)
		k++;
	if (k > 0) {
		memmove(p->out_last, p->out_last + k,
			(size_t)(p->n_out - k) * sizeof(p->out_last[0]));
		p->n_out -= k;
	}
	return p->n_out;
}

void repl_batch_sent(struct repl_peer *p, int64_t last)
{
	if (p->n_out < WINDOW)
		p->out_last[p->n_out++] = last;
	p->sent = last;
	if (last > p->sent_high)
		p->sent_high = last;
}

int64_t repl_ack_bound(const struct repl_peer *p)
{
	return p->sent > p->sent_high ? p->sent : p->sent_high;
}

ProtobufCBinaryData repl_wire_bytes(const char *s)
{
	ProtobufCBinaryData b;

	b.len = strlen(s);
	b.data = (uint8_t *)(uintptr_t)s;
	return b;
}

/* Collects log entries into a batch; strings are copied. */
struct batch_build {
	Ekl__Change *changes; /* owned */
	Ekl__Change **ptrs;   /* owned */
	size_t n;
	size_t cap;
	int64_t last;
	bool oom;
};

static int batch_add(void *arg, const struct store_change *c)
{
	struct batch_build *b = arg;
	char *path, *value;
	Ekl__Change *ch;

	if (b->n == b->cap)
		return 1; /* full: stop reading */
	ch = &b->changes[b->n];
	ekl__change__init(ch);
	ch->rev = (uint64_t)c->rev;
	ch->epoch = (uint64_t)c->epoch;
	ch->deleted = c->value == NULL;
	path = ekl_strdup(c->path);
	value = ekl_strdup(c->value != NULL ? c->value : "");
	if (path == NULL || value == NULL) {
		ekl_free(path);
		ekl_free(value);
		b->oom = true;
		return EKL_ENOMEM;
	}
	ch->path = repl_wire_bytes(path);
	ch->value = repl_wire_bytes(value);
	b->ptrs[b->n++] = ch;
	b->last = c->rev;
	return 0;
}

static void batch_free(struct batch_build *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		ekl_free(b->changes[i].path.data);
		ekl_free(b->changes[i].value.data);
	}
	ekl_free(b->changes);
	ekl_free(b->ptrs);
}

/* Send the next batch to peer. Returns 1 when sent, 0 when nothing to
 * send, EKL_ENOENT when the log no longer holds what the peer needs. */
static int send_batch(struct repl *r, int peer)
{
	struct repl_peer *p = &r->peers[peer];
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplBatch batch = EKL__REPL_BATCH__INIT;
	struct batch_build b;
	struct store_state st;
	char err[EKL_ERRLEN];
	size_t want;
	int rv;

	memset(&b, 0, sizeof(b));
	store_state(r->store, &st);
	if (st.revision <= p->sent) {
		/* nothing new; but the log may not hold p->sent + 1 */
		if (p->sent + 1 < st.log_first && p->sent < st.revision)
			return EKL_ENOENT;
		return 0;
	}
	want = st.revision - p->sent < BATCH_MAX
		   ? (size_t)(st.revision - p->sent)
		   : BATCH_MAX;
	b.changes = ekl_calloc(want, sizeof(*b.changes));
	b.ptrs = ekl_calloc(want, sizeof(*b.ptrs));
	if (b.changes == NULL || b.ptrs == NULL) {
		batch_free(&b);
		return EKL_ENOMEM;
	}
	b.cap = want;
	rv = store_log_read(r->store, p->sent, want, FRAME_ROWS_BYTES,
			    batch_add, &b, err);
	if (rv < 0) {
		if (rv != EKL_ENOENT)
			ekl_warn("replication to %s: %s",
				 r->io->peer_name(r->io, peer), err);
		batch_free(&b);
		return rv == EKL_ENOENT ? EKL_ENOENT : rv;
	}
	if (b.n == 0) {
		batch_free(&b);
		return 0;
	}
	store_state(r->store, &st);
	batch.epoch = (uint64_t)st.epoch;
	batch.n_changes = b.n;
	batch.changes = b.ptrs;
	batch.primary_revision = (uint64_t)st.revision;
	/* Acknowledge soon: a write waits for it, more follows, or an
	 * earlier batch is still unacknowledged (a stream: lazy acks would
	 * fill the window and hold it back). */
	batch.ack_now =
	    r->waits != NULL || b.last < st.revision || repl_batches_out(p) > 0;
	env.msg_case = EKL__ENVELOPE__MSG_BATCH;
	env.batch = &batch;
	rv = r->io->send(r->io, p->carrier, &env);
	if (rv == 0)
		repl_batch_sent(p, b.last);
	batch_free(&b);
	return rv == 0 ? 1 : rv;
}

/* ---- snapshots -------------------------------------------------------- */

struct chunk_build {
	ProtobufCBinaryData *paths;  /* owned, and each data */
	ProtobufCBinaryData *values; /* owned, and each data */
	size_t n;
};

static int chunk_add(void *arg, const char *path, const char *value)
{
	struct chunk_build *c = arg;
	char *p = ekl_strdup(path), *v = ekl_strdup(value);

	if (p == NULL || v == NULL) {
		ekl_free(p);
		ekl_free(v);
		return EKL_ENOMEM;
	}
	c->paths[c->n] = repl_wire_bytes(p);
	c->values[c->n] = repl_wire_bytes(v);
	c->n++;
	return 0;
}

static void chunk_free(struct chunk_build *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		ekl_free(c->paths[i].data);
		ekl_free(c->values[i].data);
	}
	ekl_free(c->paths);
	ekl_free(c->values);
}

/* Send the next snapshot chunk, or SnapEnd after the last one. */
static int send_chunk(struct repl *r, int peer)
{
	struct repl_peer *p = &r->peers[peer];
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__SnapChunk chunk = EKL__SNAP_CHUNK__INIT;
	Ekl__SnapEnd end = EKL__SNAP_END__INIT;
	struct chunk_build c;
	char err[EKL_ERRLEN];
	int rv;

	memset(&c, 0, sizeof(c));
	c.paths = ekl_calloc(SNAP_ROWS, sizeof(*c.paths));
	c.values = ekl_calloc(SNAP_ROWS, sizeof(*c.values));
	if (c.paths == NULL || c.values == NULL) {
		chunk_free(&c);
		return EKL_ENOMEM;
	}
	rv = store_snap_next(p->snap, SNAP_ROWS, FRAME_ROWS_BYTES, chunk_add,
			     &c, err);
	if (rv < 0) {
		ekl_warn("snapshot to %s: %s", r->io->peer_name(r->io, peer),
			 err);
		chunk_free(&c);
		return rv;
	}
	if (c.n == 0) {
		env.msg_case = EKL__ENVELOPE__MSG_SNAP_END;
		env.snap_end = &end;
		p->snap_done = true;
	} else {
		chunk.n_paths = chunk.n_values = c.n;
		chunk.paths = c.paths;
		chunk.values = c.values;
		env.msg_case = EKL__ENVELOPE__MSG_SNAP_CHUNK;
		env.snap_chunk = &chunk;
	}
	rv = r->io->send(r->io, p->carrier, &env);
	if (rv == 0) {
		p->inflight++;
		/* After SnapEnd it acknowledges the snapshot's revision. */
		if (p->snap_done && p->snap_revision > p->sent_high)
			p->sent_high = p->snap_revision;
	}
	chunk_free(&c);
	return rv;
}

static void start_snapshot(struct repl *r, int peer)
{
	struct repl_peer *p = &r->peers[peer];
	const char *name = r->io->peer_name(r->io, peer);
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__SnapBegin b = EKL__SNAP_BEGIN__INIT;
	struct store_state at;
	char err[EKL_ERRLEN];

	repl_peer_reset(p);
	if (store_snap_open(r->store, &p->snap, &at, err) != 0) {
		ekl_warn("snapshot to %s: %s", name, err);
		return;
	}
	ekl_info("replication to %s: sending a snapshot at revision %lld "
		 "(%lld rows)",
		 name, (long long)at.revision, (long long)at.rows);
	b.epoch = (uint64_t)at.epoch;
	b.revision = (uint64_t)at.revision;
	b.rev_epoch = (uint64_t)at.rev_epoch;
	b.digest.data = at.digest;
	b.digest.len = STORE_DIGEST_LEN;
	b.rows = (uint64_t)at.rows;
	env.msg_case = EKL__ENVELOPE__MSG_SNAP_BEGIN;
	env.snap_begin = &b;
	if (r->io->send(r->io, p->carrier, &env) != 0) {
		repl_peer_reset(p);
		return;
	}
	p->phase = REPL_SNAPSHOT;
	p->snap_revision = at.revision;
	p->snapshots++;
}

/* ---- the pump --------------------------------------------------------- */

/* --ack primary writes from a lone writer would otherwise cost each peer
 * one batch, one transaction and one fdatasync apiece (every batch after
 * the first goes out while the previous one is unacknowledged, so it asks
 * for its sync at once); held back, the peer receives what accumulated
 * while it synced lazily (LAZY_SYNC_S) in one batch. Never when a write
 * waits for the peers (--ack all) or when the peer is catching up (more
 * than HOLD_MAX changes to send: a stream fills its window instead). */
bool repl_hold_back(struct repl *r, struct repl_peer *p)
{
	struct store_state st;

	if (repl_batches_out(p) == 0 || r->waits != NULL ||
	    r->waited_rev > p->sent)
		return false;
	store_state(r->store, &st);
	return st.revision - p->sent < HOLD_MAX;
}

/* Keep the pipe to peer full. */
void repl_pump(struct repl *r, int peer)
{
	struct repl_peer *p = &r->peers[peer];

	if (!repl_is_primary(r) || p->carrier == NULL ||
	    !r->io->chan_up(r->io, p->carrier))
		return;
	for (;;) {
		int rv;

		if (p->phase == REPL_SNAPSHOT) {
			if (p->inflight >= WINDOW || p->snap_done ||
			    send_chunk(r, peer) != 0)
				return;
			continue;
		}
		if (p->phase != REPL_STREAM || repl_batches_out(p) >= WINDOW ||
		    repl_hold_back(r, p))
			return;
		rv = send_batch(r, peer);
		if (rv == EKL_ENOENT) {
			start_snapshot(r, peer);
			continue;
		}
		if (rv <= 0)
			return;
	}
}

/* The primary decides how to bring a peer at (rev, rev_epoch) up to date:
 * stream from rev when our log agrees with its history, else snapshot. */
void repl_start_stream(struct repl *r, int peer)
{
	struct repl_peer *p = &r->peers[peer];
	struct store_state st;
	int64_t epoch = 0;
	char err[EKL_ERRLEN];
	bool agree;

	repl_peer_reset(p);
	if (p->carrier == NULL || !p->known)
		return;
	if (repl_skewed(r, p->carrier)) {
		p->phase = REPL_SKEW;
		return;
	}
	store_state(r->store, &st);
	if (p->applied > st.revision) {
		agree = false; /* it has revisions we never made */
	} else if (p->acked_epoch == st.epoch) {
		agree = true; /* it acknowledged what we sent it this epoch */
	} else if (p->applied == st.revision) {
		agree = p->rev_epoch_seen == st.rev_epoch;
	} else if (store_log_epoch(r->store, p->applied, &epoch, err) == 0) {
		agree = epoch == p->rev_epoch_seen;
	} else {
		agree = false; /* compacted away: cannot check, cannot send */
	}
	if (!agree) {
		/* What it holds is not our history: nothing of it counts
		 * (--ack all, status) until it acknowledges the snapshot. */
		p->applied = 0;
		start_snapshot(r, peer);
	} else {
		p->phase = REPL_STREAM;
		p->sent = p->applied;
		if (p->sent > p->sent_high)
			p->sent_high = p->sent; /* it has those already */
	}
	repl_pump(r, peer);
}

void repl_on_ack(struct repl *r, int peer, int64_t rev)
{
	struct repl_peer *p = &r->peers[peer];
	struct store_state st;

	store_state(r->store, &st);
	if (rev > p->applied)
		p->applied = rev;
	if (rev > p->acked)
		p->acked = rev;
	p->acked_epoch = st.epoch;
	if (p->phase == REPL_SNAPSHOT && p->snap_done &&
	    p->applied >= p->snap_revision) {
		/* SnapEnd applied: stream from the snapshot's revision. */
		store_snap_close(p->snap);
		p->snap = NULL;
		p->snap_done = false;
		p->inflight = 0;
		p->phase = REPL_STREAM;
		p->sent = p->snap_revision;
		ekl_info("replication to %s: snapshot installed at revision "
			 "%lld",
			 r->io->peer_name(r->io, peer),
			 (long long)p->snap_revision);
	}
	repl_check_waits(r, -1);
	repl_pump(r, peer);
}

void repl_on_snap_ack(struct repl *r, int peer)
{
	struct repl_peer *p = &r->peers[peer];

	if (p->inflight > 0)
		p->inflight--;
	repl_pump(r, peer);
}
