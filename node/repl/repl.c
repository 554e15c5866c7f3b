/* repl.c: ClusterDB replication: lifecycle, epochs, link changes, status.
 *
 * Replication runs in four files sharing repl_int.h: repl_write.c commits
 * admin writes in groups on the primary and answers them (--ack all
 * included), repl_send.c is the primary's side of each peer's stream
 * (batches, snapshots), repl_recv.c takes frames as they arrive and is the
 * peer's side (apply, stage snapshots, acknowledge); this file starts and
 * stops replication, moves epochs, follows carrier changes and reports
 * status. Each file describes its happy path and failure modes; repl.h
 * holds the per-peer state machine.
 *
 * Epochs: the primary of the highest epoch wins. ReplState carries
 * (epoch, primary); a node adopts a newer one (a demoted primary stops
 * taking writes) and tells a node with an older one.
 *
 * Carrier changes: a carrier change restarts the stream from the last
 * acknowledged revision; the peer skips changes it already has, so each is
 * applied exactly once. A write waiting for --ack all fails when a peer it
 * waits for loses its link. Both ends of a link agree on its carrier (the
 * lower name's dial when both directions are up), and replication data
 * travels only on it: the primary sends on its carrier, a peer takes
 * batches and snapshot messages from its carrier only and drops what
 * still arrives on another channel (stale: sent before the primary moved
 * the stream), so a snapshot restarted on a new channel is never mixed
 * with the chunks of the one it replaced. A peer's ReplState says which
 * snapshot it is staging, so the primary restarts one the peer dropped.
 *
 * The outside: peers, channels and write replies only through r->io
 * (struct repl_io, repl.h); the store and the loop directly.
 *
 * Invariants:
 *   1. peers[i] is the state of the io's peer i; peers[i].carrier is what
 *      io->carrier(i) returned when repl_link_changed(i) last ran.
 *   2. Every write handed to repl_write() is answered exactly once
 *      (io->write_done), at the latest by repl_stop().
 *   3. On the primary, a peer's window holds at most WINDOW batches, and
 *      what it holds is in revision order (out_last ascending).
 */
#include "repl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "repl_int.h"
#include "store/store.h"
#include "sync.h"

static int64_t next_epoch(const struct repl *r, int64_t epoch, bool promoted,
			  char *err);

void repl_reply(struct repl *r, void *reply, bool ok, const char *body)
{
	r->io->write_done(r->io, reply, ok, body);
}

struct store *repl_store(struct repl *r)
{
	return r->store;
}

bool repl_is_primary(const struct repl *r)
{
	struct store_state st;

	store_state(r->store, &st);
	return st.primary[0] != '\0' && strcasecmp(st.primary, r->name) == 0;
}

/* Idle: delete the rows an installed snapshot replaced, for at most a
 * few milliseconds per turn, so the loop never blocks for long (the swap
 * itself only renamed their table aside: store_snap_finish). */
#define TRASH_STEP_S 0.004

static void on_trash_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct repl *r = w->data;
	char err[EKL_ERRLEN];

	(void)revents;
	if (store_trash_step(r->store, TRASH_STEP_S, err) != 0) {
		/* Retried on the next snapshot or start; the rows are in
		 * nobody's view meanwhile. */
		ekl_warn("deleting the rows a snapshot replaced: %s", err);
		ev_idle_stop(loop, w);
		return;
	}
	if (!store_trash_pending(r->store)) {
		ekl_info("the rows a snapshot replaced are deleted");
		ev_idle_stop(loop, w);
	}
}

void repl_trash_later(struct repl *r)
{
	r->trash_w.data = r;
	if (store_trash_pending(r->store))
		ev_idle_start(r->cfg.loop, &r->trash_w);
}

int repl_start(const struct repl_config *cfg, struct repl_io *io,
	       const char *data_dir, const char *primary, struct repl **out,
	       char *err)
{
	struct store_state st;
	struct repl *r;
	int rv;

	if (io->n_peers < 0 || io->n_peers > REPL_MAX_PEERS)
		return ekl_errf(err, EKL_EINVAL,
				"%d peers: replication handles at most %d",
				io->n_peers, REPL_MAX_PEERS);
	r = ekl_calloc(1, sizeof(*r));
	if (r == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	r->io = io;
	r->cfg = *cfg;
	snprintf(r->name, sizeof(r->name), "%s", cfg->name);
	r->cfg.name = r->name;
	r->queue_tail = &r->queue;
	r->peers = ekl_calloc(io->n_peers > 0 ? (size_t)io->n_peers : 1,
			      sizeof(*r->peers));
	if (r->peers == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto err_after_alloc;
	}
	rv = store_open(data_dir, &r->store, err);
	if (rv != 0)
		goto err_after_alloc;
	store_state(r->store, &st);
	/* --primary seeds epoch 1; a store that already knows an epoch keeps
	 * it (a later ClusterPrimary command may have moved the primary). */
	if (st.epoch == 0 && primary != NULL && primary[0] != '\0') {
		rv = store_set_epoch(r->store, 1, primary, err);
		if (rv != 0)
			goto err_after_store;
	} else if (st.epoch > 0 && strcasecmp(st.primary, r->name) == 0) {
		/* Every start of the primary opens a new epoch, so changes it
		 * sent but never made durable (repl_write.c: send_group_early)
		 * can be told apart from what it writes next: the next of its
		 * own in its band (REPL_EPOCH_BAND), below any promotion's. */
		int64_t e = next_epoch(r, st.epoch, false, err);

		rv = e < 0 ? EKL_EINVAL
			   : store_set_epoch(r->store, e, st.primary, err);
		if (rv != 0)
			goto err_after_store;
	}
	r->durables_tail = &r->durables;
	/* Commits write the WAL; a thread fsyncs it (sync.h). */
	if (store_set_deferred_sync(r->store, true, err) == 0 &&
	    syncer_start(cfg->loop, store_wal_path(r->store), repl_on_synced, r,
			 &r->syncer, err) != 0) {
		ekl_warn("%s; every commit will fsync on the loop", err);
		r->syncer = NULL;
		(void)store_set_deferred_sync(r->store, false, err);
	}
	/* Checkpoints on a thread of their own, the loop's only past the
	 * cap (store.h); without it, SQLite's own inside a commit. */
	if (store_ckpt_start(r->store, STORE_CKPT_FRAMES, STORE_CKPT_CAP,
			     err) != 0)
		ekl_warn("%s; WAL checkpoints stay on the loop", err);
	if (r->syncer != NULL && cfg->sync_here_max_us != 0)
		syncer_set_here_max(
		    r->syncer, cfg->sync_here_max_us < 0
				   ? 0
				   : (uint64_t)cfg->sync_here_max_us * 1000u);
	ev_prepare_init(&r->commit_w, repl_on_prepare);
	ev_prepare_start(cfg->loop, &r->commit_w);
	ev_init(&r->wait_timer, repl_on_wait_timer);
	r->wait_timer.repeat = 0.1;
	ev_init(&r->lazy_timer, repl_on_lazy_timer);
	ev_idle_init(&r->trash_w, on_trash_idle);
	/* Rows a snapshot replaced before the node stopped. */
	repl_trash_later(r);
	*out = r;
	return 0;

err_after_store:
	store_close(r->store);
err_after_alloc:
	ekl_free(r->peers);
	ekl_free(r);
	return rv;
}

void repl_peer_reset(struct repl_peer *p)
{
	store_snap_close(p->snap);
	p->snap = NULL;
	p->phase = REPL_IDLE;
	p->inflight = 0;
	p->n_out = 0;
	p->snap_done = false;
}

void repl_stop(struct repl *r)
{
	int i;

	if (r == NULL)
		return;
	ev_prepare_stop(r->cfg.loop, &r->commit_w);
	ev_idle_stop(r->cfg.loop, &r->trash_w);
	ev_timer_stop(r->cfg.loop, &r->wait_timer);
	ev_timer_stop(r->cfg.loop, &r->lazy_timer);
	/* What the syncer made durable is answered; what it could not (its
	 * fdatasync failed) is answered with an error. Without a syncer
	 * every commit was synchronous. */
	if (r->syncer != NULL) {
		uint64_t durable;

		if (r->lazy_due != 0)
			syncer_request(r->syncer, r->lazy_due);
		durable = syncer_stop(r->syncer);

		r->syncer = NULL;
		repl_on_synced(r, durable);
		repl_fail_unsynced(r);
	}
	while (r->queue != NULL) {
		struct pending_write *w = r->queue;

		r->queue = w->next;
		repl_reply(r, w->reply, false, "node stopping");
		repl_write_free(w);
	}
	while (r->waits != NULL) {
		struct ack_wait *w = r->waits;

		r->waits = w->next;
		repl_reply(r, w->reply, false,
			   "node stopping before peers confirmed");
		ekl_free(w);
	}
	for (i = 0; i < r->io->n_peers; i++)
		repl_peer_reset(&r->peers[i]);
	store_close(r->store);
	ekl_free(r->peers);
	ekl_free(r->lat);
	ekl_free(r);
}

/* ---- epochs ---------------------------------------------------------- */

int64_t repl_epoch_promoted(int64_t epoch, int rank)
{
	if (epoch < 0 || epoch > REPL_EPOCH_MAX)
		return -1;
	return (epoch / REPL_EPOCH_BAND + 1) * REPL_EPOCH_BAND + rank;
}

int64_t repl_epoch_restarted(int64_t epoch, int rank)
{
	int64_t next = epoch + 1;

	if (epoch < 0 || epoch > REPL_EPOCH_MAX)
		return -1;
	return next + ((rank - next % REPL_EPOCH_STRIDE) + REPL_EPOCH_STRIDE) %
			  REPL_EPOCH_STRIDE;
}

/* This node's rank among the cluster's members: how many of its peers'
 * names sort before its own (REPL_EPOCH_STRIDE). */
static int rank(const struct repl *r)
{
	int i, n = 0;

	for (i = 0; i < r->io->n_peers; i++)
		if (strcasecmp(r->io->peer_name(r->io, i), r->name) < 0)
			n++;
	return n;
}

/* The epoch this node opens after `epoch`, promoted or starting as the
 * primary; -1 with err set when there is none. */
static int64_t next_epoch(const struct repl *r, int64_t epoch, bool promoted,
			  char *err)
{
	int64_t e = promoted ? repl_epoch_promoted(epoch, rank(r))
			     : repl_epoch_restarted(epoch, rank(r));

	if (e < 0)
		ekl_errf(err, EKL_EINVAL,
			 "%s: epoch %lld: no later epoch to open (the largest "
			 "is %lld)",
			 r->name, (long long)epoch, (long long)REPL_EPOCH_MAX);
	return e;
}

/* Our ReplState: (epoch, primary, revision, rev_epoch), and on a peer the
 * revision of the snapshot it is staging. */
static void fill_state(struct repl *r, Ekl__ReplState *rs,
		       struct store_state *st)
{
	int i;

	store_state(r->store, st);
	rs->epoch = (uint64_t)st->epoch;
	rs->primary = st->primary;
	rs->revision = (uint64_t)st->revision;
	rs->rev_epoch = (uint64_t)st->rev_epoch;
	if (repl_is_primary(r))
		return;
	for (i = 0; i < r->io->n_peers; i++)
		if (r->peers[i].phase == REPL_SNAPSHOT)
			rs->staging = (uint64_t)r->peers[i].snap_revision;
}

void repl_send_state(struct repl *r, struct repl_chan *ch)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplState rs = EKL__REPL_STATE__INIT;
	struct store_state st;

	fill_state(r, &rs, &st);
	env.msg_case = EKL__ENVELOPE__MSG_REPL_STATE;
	env.repl_state = &rs;
	r->io->send(r->io, ch, &env);
}

/* Our ReplState on every UP channel to every peer. */
static void broadcast_state(struct repl *r)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplState rs = EKL__REPL_STATE__INIT;
	struct store_state st;
	int i;

	fill_state(r, &rs, &st);
	env.msg_case = EKL__ENVELOPE__MSG_REPL_STATE;
	env.repl_state = &rs;
	for (i = 0; i < r->io->n_peers; i++)
		r->io->send_all(r->io, i, &env);
}

/* Adopt a newer (epoch, primary). A demoted primary stops taking writes:
 * what waits for peers fails with an explanation. */
void repl_adopt_epoch(struct repl *r, int64_t epoch, const char *primary)
{
	bool was_primary = repl_is_primary(r);
	char err[EKL_ERRLEN];
	int i;

	if (store_set_epoch(r->store, epoch, primary, err) != 0) {
		ekl_warn("cannot adopt epoch %lld: %s", (long long)epoch, err);
		return;
	}
	ekl_info("epoch %lld: primary is %s", (long long)epoch, primary);
	for (i = 0; i < r->io->n_peers; i++) {
		/* What we sent, and what was acknowledged, was another
		 * epoch's. */
		r->peers[i].sent_high = 0;
		r->peers[i].acked = 0;
	}
	if (was_primary && !repl_is_primary(r)) {
		while (r->waits != NULL) {
			char msg[256];

			snprintf(msg, sizeof(msg),
				 "committed here at revision %lld, but %s "
				 "became the primary before every peer "
				 "confirmed; the new primary's history wins",
				 (long long)r->waits->rev, primary);
			repl_reply(r, r->waits->reply, false, msg);
			repl_wait_remove(r, r->waits);
		}
	}
	for (i = 0; i < r->io->n_peers; i++)
		repl_peer_reset(&r->peers[i]);
	broadcast_state(r);
}

int repl_promote(struct repl *r, char *err)
{
	struct store_state st;
	int i, rv;

	store_state(r->store, &st);
	st.epoch = next_epoch(r, st.epoch, true, err);
	if (st.epoch < 0)
		return EKL_EINVAL;
	rv = store_set_epoch(r->store, st.epoch, r->name, err);
	if (rv != 0)
		return rv;
	ekl_info("promoted: primary of epoch %lld", (long long)st.epoch);
	for (i = 0; i < r->io->n_peers; i++) {
		repl_peer_reset(&r->peers[i]);
		r->peers[i].known = false;
		r->peers[i].sent_high = 0;
	}
	broadcast_state(r);
	return 0;
}

/* ---- links ----------------------------------------------------------- */

void repl_conn_up(struct repl *r, int peer, struct repl_chan *ch)
{
	repl_send_state(r, ch);
	r->peers[peer].state_sent = ch;
}

void repl_link_changed(struct repl *r, int peer)
{
	struct repl_peer *p = &r->peers[peer];
	struct repl_chan *carrier = r->io->carrier(r->io, peer);
	bool aborted = false;

	if (carrier == p->carrier)
		return;
	if (p->carrier != NULL && carrier == NULL)
		repl_check_waits(r, peer);
	if (p->phase == REPL_SNAPSHOT && !repl_is_primary(r)) {
		/* It came on the old carrier; the primary restarts it on
		 * the new one. */
		store_snap_abort(r->store);
		aborted = true;
	}
	repl_peer_reset(p);
	p->carrier = carrier;
	if (carrier == NULL)
		return;
	if (repl_is_primary(r)) {
		struct store_state st;

		store_state(r->store, &st);
		/* What we know of the peer is stale unless it acknowledged our
		 * stream in this epoch or said it on this very channel;
		 * otherwise wait for its ReplState, which it sends when its
		 * carrier changes too. */
		if (p->acked_epoch != st.epoch && p->state_chan != carrier)
			p->known = false;
		repl_start_stream(r, peer);
	} else if (carrier != p->state_sent || aborted) {
		/* The primary restarts the stream from what this says (it
		 * got our ReplState when this channel came up, unless we
		 * dropped a snapshot since). */
		repl_send_state(r, carrier);
	}
}

/* ---- status ---------------------------------------------------------- */

void repl_status_json(struct repl *r, struct json *j)
{
	struct store_state st;
	char hex[2 * STORE_DIGEST_LEN + 1];

	store_state(r->store, &st);
	store_digest_hex(st.digest, hex);
	json_key(j, "primary");
	json_str(j, st.primary[0] ? st.primary : NULL);
	json_key(j, "epoch");
	json_int(j, st.epoch);
	json_key(j, "revision");
	json_int(j, st.revision);
	json_key(j, "digest");
	json_str(j, hex);
	json_key(j, "rows");
	json_int(j, st.rows);
	json_key(j, "log_first");
	json_int(j, st.log_first);
}

/* --version-skew strict and the peer on ch runs another version class
 * (or one we cannot parse). */
bool repl_skewed(struct repl *r, struct repl_chan *ch)
{
	enum pol_vclass theirs;

	if (!r->cfg.skew_strict || ch == NULL)
		return false;
	return pol_version_parse(r->io->chan_version(r->io, ch), &theirs) !=
		   0 ||
	       theirs != r->cfg.vclass;
}

/* The replication view of one peer: state, reason, applied, lag. Returns
 * false when no replication runs between this node and that peer (two
 * non-primary nodes). */
bool repl_peer_view(struct repl *r, int peer, const char **state,
		    const char **reason, int64_t *applied, int64_t *lag)
{
	const struct repl_peer *p = &r->peers[peer];
	struct repl_chan *carrier = r->io->carrier(r->io, peer);
	struct store_state st;
	bool primary = repl_is_primary(r);

	store_state(r->store, &st);
	if (!primary &&
	    strcasecmp(st.primary, r->io->peer_name(r->io, peer)) != 0)
		return false;
	*reason = NULL;
	if (primary) {
		*applied = p->applied;
		*lag = st.revision - p->applied;
	} else {
		*applied = st.revision;
		*lag = p->primary_rev > st.revision
			   ? p->primary_rev - st.revision
			   : 0;
	}
	if (carrier == NULL) {
		*state = "stopped";
		*reason = r->io->down_reason(r->io, peer);
	} else if (p->phase == REPL_SKEW || repl_skewed(r, carrier)) {
		*state = "stopped";
		*reason = "version-skew";
	} else if (p->phase == REPL_SNAPSHOT) {
		*state = "snapshot";
	} else if (p->phase == REPL_STREAM || (!primary && p->known)) {
		*state = *lag > BATCH_MAX ? "catching-up" : "replicating";
	} else {
		*state = "stopped";
		*reason = "starting";
	}
	if (*lag < 0)
		*lag = 0;
	return true;
}

void repl_peer_json(struct repl *r, int peer, struct json *j)
{
	const char *state, *reason;
	int64_t applied, lag;

	if (!repl_peer_view(r, peer, &state, &reason, &applied, &lag)) {
		json_null(j);
		return;
	}
	json_obj_begin(j);
	json_key(j, "state");
	json_str(j, state);
	json_key(j, "reason");
	json_str(j, reason);
	json_key(j, "applied_revision");
	json_int(j, applied);
	json_key(j, "lag");
	json_int(j, lag);
	json_key(j, "snapshots");
	json_int(j, r->peers[peer].snapshots);
	json_obj_end(j);
}

void repl_peer_text(struct repl *r, int peer, char *buf, size_t len)
{
	const char *state, *reason;
	int64_t applied, lag;

	if (!repl_peer_view(r, peer, &state, &reason, &applied, &lag))
		snprintf(buf, len, "-");
	else if (reason != NULL)
		snprintf(buf, len, "%s (%s)", state, reason);
	else
		snprintf(buf, len, "%s rev %lld lag %lld", state,
			 (long long)applied, (long long)lag);
}

void repl_sync_counts(struct repl *r, uint64_t *here, uint64_t *thread)
{
	*here = 0;
	*thread = 0;
	if (r->syncer != NULL)
		syncer_counts(r->syncer, here, thread);
}
