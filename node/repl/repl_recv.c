/* repl_recv.c: replication frames as they arrive, and the peer's side:
 * ReplState, batches applied, snapshot staging, acks.
 *
 * The happy path: a peer applies each batch in one transaction, then
 * acknowledges it once it is durable (ack_when_durable: with the syncer,
 * after the WAL fsync, in repl_on_synced). ReplState frames say what each
 * side holds (epoch, primary, revision); from a peer's, the primary starts
 * its stream (repl_start_stream).
 *
 * The failure modes: a revision gap, a batch from a node that is not the
 * primary of our epoch, or a row that breaks the row rules (a NUL byte,
 * invalid UTF-8, a line break, over the admin protocol's limits: the same
 * rules as for an admin write, store_row_invalid) is refused: the channel
 * is closed with "protocol" and the reason (io->close), nothing of the
 * batch or chunk applied. On the primary, an acknowledgement that cannot
 * be true (a newer epoch than ours, a revision above the highest one sent
 * to that peer in this epoch) is refused the same way and never counts;
 * one from an older epoch was sent before the peer heard of ours and is
 * dropped. A batch from an
 * older epoch (a demoted primary) is not applied either; we answer with
 * our ReplState so that it learns the new epoch. Changes the peer already
 * has (a stream restarted after a carrier change) are skipped, so each is
 * applied exactly once. A snapshot is staged from SnapBegin and installed
 * by SnapEnd; a chunk or end that fails aborts the staging and closes the
 * channel.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "repl_int.h"
#include "store/store.h"
#include "sync.h"

/* Acknowledge revision `rev` (durable here) to the primary. */
void repl_send_ack_rev(struct repl *r, struct repl_chan *ch, int64_t rev)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplAck ack = EKL__REPL_ACK__INIT;
	struct store_state st;

	store_state(r->store, &st);
	ack.epoch = (uint64_t)st.epoch;
	ack.revision = (uint64_t)rev;
	env.msg_case = EKL__ENVELOPE__MSG_ACK;
	env.ack = &ack;
	r->io->send(r->io, ch, &env);
}

/* After applying changes: acknowledge them once they are durable (on ch
 * now, or on the carrier of that moment from repl_on_synced). When the
 * primary wants the acknowledgement soon (now) and the batch was small and
 * left us caught up, the loop syncs at the end of this turn
 * (repl_on_prepare: every batch read in the turn shares that fdatasync,
 * and the batches that arrive during it wait in the socket for the next
 * one), without the two thread wake-ups a hand-off costs. Otherwise, when
 * more follows (a catch-up), the sync is asked of the thread at once: it
 * folds every request made while it syncs into its next fdatasync, so the
 * sync overlaps with applying the batches that follow (asking only at the
 * end of the loop's turn serialised the two and cost a third of the
 * catch-up rate). Batches nobody waits for (--ack primary writes) are
 * synced at most LAZY_SYNC_S later (lazy_timer) and share one fdatasync
 * instead of costing one each. Either way the acknowledgement follows the
 * sync, never precedes it. */
static void ack_when_durable(struct repl *r, int peer, struct repl_chan *ch,
			     bool now, bool small)
{
	struct repl_peer *p = &r->peers[peer];
	struct store_state st;

	store_state(r->store, &st);
	if (r->syncer == NULL) {
		repl_send_ack_rev(r, ch, st.revision);
		return;
	}
	p->ack_due = true;
	p->ack_rev = st.revision;
	p->ack_seq = ++r->commit_seq;
	if (now) {
		/* It covers what waited lazily too. */
		if (small)
			r->here_due = p->ack_seq;
		else
			syncer_request(r->syncer, p->ack_seq);
		r->lazy_due = 0;
		ev_timer_stop(r->cfg.loop, &r->lazy_timer);
		return;
	}
	r->lazy_due = p->ack_seq;
	if (!ev_is_active(&r->lazy_timer)) {
		ev_timer_set(&r->lazy_timer, LAZY_SYNC_S, 0.);
		ev_timer_start(r->cfg.loop, &r->lazy_timer);
	}
}

static void refuse(struct repl *r, int peer, struct repl_chan *ch,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The peer broke the protocol: close ch with the reason. */
static void refuse(struct repl *r, int peer, struct repl_chan *ch,
		   const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ekl_warn("replication from %s: %s", r->io->peer_name(r->io, peer), msg);
	r->io->close(r->io, ch, "protocol", msg);
}

/* name is this node or one of its peers (the cluster's members). */
static bool member(struct repl *r, const char *name)
{
	int i;

	if (strcasecmp(name, r->name) == 0)
		return true;
	for (i = 0; i < r->io->n_peers; i++)
		if (strcasecmp(name, r->io->peer_name(r->io, i)) == 0)
			return true;
	return false;
}

/* A peer's message (`what`) of an epoch above REPL_EPOCH_MAX: refused
 * (no node opens one, and the epochs after it would overflow). */
static bool beyond_epochs(struct repl *r, int peer, struct repl_chan *ch,
			  const char *what, uint64_t epoch)
{
	if (epoch <= (uint64_t)REPL_EPOCH_MAX)
		return false;
	refuse(r, peer, ch, "%s of epoch %llu, beyond the largest one (%lld)",
	       what, (unsigned long long)epoch, (long long)REPL_EPOCH_MAX);
	return true;
}

static void on_state(struct repl *r, int peer, struct repl_chan *ch,
		     const Ekl__ReplState *s)
{
	struct store_state st;
	struct repl_peer *p = &r->peers[peer];

	/* A primary outside the cluster would be adopted, stop every write
	 * and show in the status as given (even as invalid UTF-8). */
	if (s->primary[0] != '\0' && !member(r, s->primary)) {
		refuse(r, peer, ch,
		       "epoch %llu names a primary that is not a member of "
		       "the cluster",
		       (unsigned long long)s->epoch);
		return;
	}
	if (beyond_epochs(r, peer, ch, "a ReplState", s->epoch))
		return;
	store_state(r->store, &st);
	/* Every epoch is opened by one node only (repl.h): two primaries of
	 * one epoch are two histories that agree on nothing, and streaming
	 * between them would judge them one (repl_start_stream). */
	if ((int64_t)s->epoch == st.epoch && s->primary[0] != '\0' &&
	    st.primary[0] != '\0' && strcasecmp(s->primary, st.primary) != 0) {
		refuse(r, peer, ch,
		       "epoch %llu names %s as its primary, but here its "
		       "primary is %s: two primaries of one epoch (does every "
		       "member list the same members, and the same --primary?)",
		       (unsigned long long)s->epoch, s->primary, st.primary);
		return;
	}
	if ((int64_t)s->epoch > st.epoch && s->primary[0] != '\0') {
		repl_adopt_epoch(r, (int64_t)s->epoch, s->primary);
		store_state(r->store, &st);
	} else if ((int64_t)s->epoch < st.epoch) {
		repl_send_state(r, ch); /* it will adopt ours */
	}
	if (p->phase == REPL_SNAPSHOT && ch == p->carrier &&
	    (int64_t)s->epoch == st.epoch &&
	    (int64_t)s->staging == p->snap_revision)
		return; /* it is staging the snapshot we are sending */
	p->known = true;
	p->applied = (int64_t)s->revision;
	p->rev_epoch_seen = (int64_t)s->rev_epoch;
	p->acked_epoch = 0; /* judge its history from what it reports */
	p->state_chan = ch;
	/* The stream starts on the carrier: a ReplState from another
	 * channel waits until that channel carries the link (then
	 * repl_link_changed starts it). */
	if (repl_is_primary(r) && (int64_t)s->epoch == st.epoch &&
	    p->carrier != NULL && ch == p->carrier)
		repl_start_stream(r, peer);
}

/* Rows arrive as protobuf bytes (proto/ekulab.proto): judged with their
 * exact lengths, then copied into one arena as C strings for the store. */
static const char *wire_row(const ProtobufCBinaryData *b)
{
	return b->data != NULL ? (const char *)b->data : "";
}

/* Copy b into *at as a C string; returns it and moves *at on. */
static const char *arena_put(char **at, const ProtobufCBinaryData *b)
{
	char *s = *at;

	if (b->len > 0)
		memcpy(s, b->data, b->len);
	s[b->len] = '\0';
	*at += b->len + 1;
	return s;
}

/* Replication data (batches, snapshot messages) is taken from the
 * carrier only: what arrives on another channel was sent before the
 * primary moved the stream and is dropped. */
static bool stale(struct repl *r, int peer, struct repl_chan *ch,
		  const char *what)
{
	if (ch == r->peers[peer].carrier)
		return false;
	ekl_debug("replication from %s: %s on a channel that no longer "
		  "carries the link: dropped",
		  r->io->peer_name(r->io, peer), what);
	return true;
}

/* Convert a batch to store changes, skipping those already applied. */
static void on_batch(struct repl *r, int peer, struct repl_chan *from,
		     const Ekl__ReplBatch *b)
{
	struct repl_peer *p = &r->peers[peer];
	const char *name = r->io->peer_name(r->io, peer);
	struct store_change *ch;
	struct store_state st;
	char err[EKL_ERRLEN];
	char *arena, *at;
	size_t i, n = 0, size = 1;

	if (stale(r, peer, from, "a batch"))
		return;
	if (beyond_epochs(r, peer, from, "a batch", b->epoch))
		return;
	store_state(r->store, &st);
	if ((int64_t)b->epoch < st.epoch) {
		repl_send_state(r, from); /* a demoted primary: tell it */
		return;
	}
	if ((int64_t)b->epoch > st.epoch) {
		repl_adopt_epoch(r, (int64_t)b->epoch, name);
		store_state(r->store, &st);
	}
	if (strcasecmp(st.primary, name) != 0) {
		refuse(r, peer, from,
		       "batch from %s, but the primary of epoch %lld is %s",
		       name, (long long)st.epoch, st.primary);
		return;
	}
	if (repl_skewed(r, from)) {
		p->phase = REPL_SKEW;
		return;
	}
	if (p->phase == REPL_SNAPSHOT)
		store_snap_abort(r->store);
	p->phase = REPL_STREAM;
	p->primary_rev = (int64_t)b->primary_revision;
	for (i = 0; i < b->n_changes; i++) {
		const Ekl__Change *x = b->changes[i];
		const char *why;

		if (x->rev > (uint64_t)INT64_MAX ||
		    x->epoch > (uint64_t)INT64_MAX) {
			refuse(r, peer, from,
			       "change %" PRIu64 " of epoch %" PRIu64
			       ": out of range",
			       x->rev, x->epoch);
			return;
		}
		if ((int64_t)x->rev <= st.revision)
			continue; /* already applied (a restarted stream) */
		why = store_row_invalid(wire_row(&x->path), x->path.len,
					x->deleted ? NULL : wire_row(&x->value),
					x->value.len);
		if (why != NULL) {
			refuse(r, peer, from,
			       "change %" PRIu64 " (\"%.*s\"): %s; nothing of "
			       "the batch applied",
			       x->rev,
			       (int)(x->path.len < 80 ? x->path.len : 80),
			       wire_row(&x->path), why);
			return;
		}
		size += x->path.len + 1 + (x->deleted ? 0 : x->value.len + 1);
	}
	ch = ekl_calloc(b->n_changes ? b->n_changes : 1, sizeof(*ch));
	arena = ekl_malloc(size);
	if (ch == NULL || arena == NULL) {
		ekl_free(ch);
		ekl_free(arena);
		refuse(r, peer, from, "out of memory applying a batch");
		return;
	}
	at = arena;
	for (i = 0; i < b->n_changes; i++) {
		const Ekl__Change *x = b->changes[i];

		if ((int64_t)x->rev <= st.revision)
			continue;
		ch[n].rev = (int64_t)x->rev;
		ch[n].epoch = (int64_t)x->epoch;
		ch[n].path = arena_put(&at, &x->path);
		ch[n].value = x->deleted ? NULL : arena_put(&at, &x->value);
		n++;
	}
	if (n > 0 && store_apply(r->store, ch, n, err) != 0) {
		ekl_free(ch);
		ekl_free(arena);
		refuse(r, peer, from, "%s", err);
		return;
	}
	ekl_free(ch);
	ekl_free(arena);
	repl_maybe_compact(r);
	store_state(r->store, &st);
	ack_when_durable(r, peer, from, b->ack_now,
			 n <= HERE_MAX_CHANGES &&
			     st.revision >= p->primary_rev);
}

/* ---- snapshot staging -------------------------------------------------- */

static void on_snap_begin(struct repl *r, int peer, struct repl_chan *ch,
			  const Ekl__SnapBegin *b)
{
	struct repl_peer *p = &r->peers[peer];
	const char *name = r->io->peer_name(r->io, peer);
	struct store_state st;
	char err[EKL_ERRLEN];

	if (stale(r, peer, ch, "a snapshot's beginning"))
		return;
	if (beyond_epochs(r, peer, ch, "a snapshot", b->epoch))
		return;
	store_state(r->store, &st);
	if ((int64_t)b->epoch < st.epoch) {
		repl_send_state(r, ch);
		return;
	}
	/* As for batches: only the primary of the snapshot's epoch sends
	 * one (a newer epoch is adopted with its sender as primary). A
	 * primary that took one from a peer staged it over that peer's
	 * outgoing snapshot state and crashed on its next ack. */
	if ((int64_t)b->epoch > st.epoch) {
		repl_adopt_epoch(r, (int64_t)b->epoch, name);
		store_state(r->store, &st);
	}
	if (strcasecmp(st.primary, name) != 0) {
		refuse(r, peer, ch,
		       "snapshot from %s, but the primary of epoch %lld is %s",
		       name, (long long)st.epoch, st.primary);
		return;
	}
	if (b->digest.len != STORE_DIGEST_LEN) {
		refuse(r, peer, ch, "snapshot digest of %zu bytes",
		       b->digest.len);
		return;
	}
	if (store_snap_stage_begin(r->store, err) != 0) {
		refuse(r, peer, ch, "%s", err);
		return;
	}
	ekl_info("replication from %s: receiving a snapshot at revision %lld "
		 "(%llu rows)",
		 r->io->peer_name(r->io, peer), (long long)b->revision,
		 (unsigned long long)b->rows);
	p->phase = REPL_SNAPSHOT;
	p->snap_revision = (int64_t)b->revision;
	p->rev_epoch_seen = (int64_t)b->rev_epoch;
	memcpy(p->snap_digest, b->digest.data, STORE_DIGEST_LEN);
	p->snap_epoch = (int64_t)b->epoch;
	p->primary_rev = (int64_t)b->revision;
	p->snapshots++;
	p->inflight = 0;
}

static void on_snap_chunk(struct repl *r, int peer, struct repl_chan *ch,
			  const Ekl__SnapChunk *k)
{
	struct repl_peer *p = &r->peers[peer];
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__SnapAck ack = EKL__SNAP_ACK__INIT;
	const char **paths = NULL, **values = NULL;
	char err[EKL_ERRLEN];
	char *arena = NULL, *at;
	size_t i, size = 1;
	int rv;

	if (stale(r, peer, ch, "a snapshot chunk"))
		return;
	if (p->phase != REPL_SNAPSHOT || k->n_paths != k->n_values) {
		refuse(r, peer, ch, "snapshot chunk out of place");
		return;
	}
	for (i = 0; i < k->n_paths; i++) {
		const char *why = store_row_invalid(
		    wire_row(&k->paths[i]), k->paths[i].len,
		    wire_row(&k->values[i]), k->values[i].len);

		if (why != NULL) {
			store_snap_abort(r->store);
			p->phase = REPL_IDLE;
			refuse(
			    r, peer, ch,
			    "snapshot row \"%.*s\": %s; the snapshot was "
			    "not applied",
			    (int)(k->paths[i].len < 80 ? k->paths[i].len : 80),
			    wire_row(&k->paths[i]), why);
			return;
		}
		size += k->paths[i].len + k->values[i].len + 2;
	}
	paths = ekl_calloc(k->n_paths ? k->n_paths : 1, sizeof(*paths));
	values = ekl_calloc(k->n_paths ? k->n_paths : 1, sizeof(*values));
	arena = ekl_malloc(size);
	if (paths == NULL || values == NULL || arena == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM,
			      "out of memory staging a snapshot");
	} else {
		at = arena;
		for (i = 0; i < k->n_paths; i++) {
			paths[i] = arena_put(&at, &k->paths[i]);
			values[i] = arena_put(&at, &k->values[i]);
		}
		rv = store_snap_stage_rows(r->store, paths, values, k->n_paths,
					   err);
	}
	ekl_free(paths);
	ekl_free(values);
	ekl_free(arena);
	if (rv != 0) {
		store_snap_abort(r->store);
		p->phase = REPL_IDLE;
		refuse(r, peer, ch, "%s", err);
		return;
	}
	ack.chunks = (uint64_t)++p->inflight;
	env.msg_case = EKL__ENVELOPE__MSG_SNAP_ACK;
	env.snap_ack = &ack;
	r->io->send(r->io, ch, &env);
}

static void on_snap_end(struct repl *r, int peer, struct repl_chan *ch)
{
	struct repl_peer *p = &r->peers[peer];
	const char *name = r->io->peer_name(r->io, peer);
	struct store_state st;
	char err[EKL_ERRLEN];

	if (stale(r, peer, ch, "a snapshot's end"))
		return;
	if (p->phase != REPL_SNAPSHOT) {
		refuse(r, peer, ch, "snapshot end out of place");
		return;
	}
	if (store_snap_finish(r->store, p->snap_revision, p->rev_epoch_seen,
			      p->snap_digest, err) != 0) {
		store_snap_abort(r->store);
		p->phase = REPL_IDLE;
		refuse(r, peer, ch, "%s", err);
		return;
	}
	store_state(r->store, &st);
	if (p->snap_epoch > st.epoch)
		repl_adopt_epoch(r, p->snap_epoch, name);
	ekl_info("replication from %s: snapshot installed at revision %lld",
		 name, (long long)p->snap_revision);
	repl_trash_later(r);
	p->phase = REPL_STREAM;
	ack_when_durable(r, peer, ch, true, false);
}

/* A ReplAck. Only the primary counts acknowledgements, and only those
 * that can be true (see the failure modes above). */
static void on_ack(struct repl *r, int peer, struct repl_chan *ch,
		   const Ekl__ReplAck *a)
{
	struct repl_peer *p = &r->peers[peer];
	int64_t bound = repl_ack_bound(p);
	struct store_state st;

	if (!repl_is_primary(r))
		return; /* we stream to nobody: nothing to count */
	store_state(r->store, &st);
	if (a->epoch > (uint64_t)st.epoch) {
		refuse(r, peer, ch,
		       "acknowledgement from epoch %" PRIu64
		       ", but this primary is in epoch %" PRId64,
		       a->epoch, st.epoch);
		return;
	}
	if (a->epoch < (uint64_t)st.epoch) {
		ekl_debug("replication from %s: acknowledgement from epoch "
			  "%" PRIu64 " (ours is %" PRId64 ") dropped",
			  r->io->peer_name(r->io, peer), a->epoch, st.epoch);
		return;
	}
	if (a->revision > (uint64_t)bound) {
		refuse(r, peer, ch,
		       "acknowledged revision %" PRIu64
		       ", but the highest revision sent to it in epoch "
		       "%" PRId64 " is %" PRId64,
		       a->revision, st.epoch, bound);
		return;
	}
	repl_on_ack(r, peer, (int64_t)a->revision);
}

void repl_on_frame(struct repl *r, int peer, struct repl_chan *ch,
		   const Ekl__Envelope *env)
{
	switch (env->msg_case) {
	case EKL__ENVELOPE__MSG_REPL_STATE:
		on_state(r, peer, ch, env->repl_state);
		return;
	case EKL__ENVELOPE__MSG_BATCH:
		on_batch(r, peer, ch, env->batch);
		return;
	case EKL__ENVELOPE__MSG_ACK: on_ack(r, peer, ch, env->ack); return;
	case EKL__ENVELOPE__MSG_SNAP_BEGIN:
		on_snap_begin(r, peer, ch, env->snap_begin);
		return;
	case EKL__ENVELOPE__MSG_SNAP_CHUNK:
		on_snap_chunk(r, peer, ch, env->snap_chunk);
		return;
	case EKL__ENVELOPE__MSG_SNAP_END: on_snap_end(r, peer, ch); return;
	case EKL__ENVELOPE__MSG_SNAP_ACK: repl_on_snap_ack(r, peer); return;
	default:
		refuse(r, peer, ch, "unexpected message %d",
		       (int)env->msg_case);
		return;
	}
}
