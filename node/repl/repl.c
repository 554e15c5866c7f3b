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
 * waits for loses its link.
 */
#include "repl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "admin/admin.h"
#include "net/conn.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "net/link.h"
#include "node.h"
#include "repl_int.h"
#include "store/store.h"
#include "sync.h"

static int link_index(struct repl *r, const struct link *l)
{
	return (int)(l - r->node->links);
}

struct store *repl_store(struct repl *r)
{
	return r->store;
}

bool repl_is_primary(const struct repl *r)
{
	struct store_state st;

	store_state(r->store, &st);
	return st.primary[0] != '\0' &&
	       strcasecmp(st.primary, r->node->cfg.name) == 0;
}

int repl_start(struct node *n, const char *data_dir, const char *primary,
	       const struct repl_config *cfg, struct repl **out, char *err)
{
	struct store_state st;
	struct repl *r = ekl_calloc(1, sizeof(*r));
	int rv;

	if (r == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	r->node = n;
	r->cfg = *cfg;
	r->queue_tail = &r->queue;
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
	} else if (st.epoch > 0 && strcasecmp(st.primary, n->cfg.name) == 0) {
		/* Every start of the primary opens a new epoch, so changes it
		 * sent but never made durable (repl_write.c: send_group_early)
		 * can be told apart from what it writes next. */
		rv = store_set_epoch(r->store, st.epoch + 1, st.primary, err);
		if (rv != 0)
			goto err_after_store;
	}
	r->durables_tail = &r->durables;
	/* Commits write the WAL; a thread fsyncs it (sync.h). */
	if (store_set_deferred_sync(r->store, true, err) == 0 &&
	    syncer_start(n->loop, store_wal_path(r->store), repl_on_synced, r,
			 &r->syncer, err) != 0) {
		ekl_warn("%s; every commit will fsync on the loop", err);
		r->syncer = NULL;
		(void)store_set_deferred_sync(r->store, false, err);
	}
	ev_prepare_init(&r->commit_w, repl_on_prepare);
	ev_prepare_start(n->loop, &r->commit_w);
	ev_init(&r->wait_timer, repl_on_wait_timer);
	r->wait_timer.repeat = 0.1;
	*out = r;
	return 0;

err_after_store:
	store_close(r->store);
err_after_alloc:
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
	ev_prepare_stop(r->node->loop, &r->commit_w);
	ev_timer_stop(r->node->loop, &r->wait_timer);
	/* Everything committed becomes durable before we answer it. */
	syncer_stop(r->syncer);
	r->syncer = NULL;
	repl_on_synced(r, r->commit_seq);
	while (r->queue != NULL) {
		struct pending_write *w = r->queue;

		r->queue = w->next;
		admin_reply_done(w->reply, false, "node stopping");
		repl_write_free(w);
	}
	while (r->waits != NULL) {
		struct ack_wait *w = r->waits;

		r->waits = w->next;
		admin_reply_done(w->reply, false,
				 "node stopping before peers confirmed");
		ekl_free(w);
	}
	for (i = 0; r->node->links != NULL && i < r->node->cfg.n_peers; i++)
		repl_peer_reset(&r->node->links[i].rp);
	store_close(r->store);
	ekl_free(r->lat);
	ekl_free(r);
}

/* ---- epochs ---------------------------------------------------------- */

void repl_send_state(struct repl *r, struct conn *c)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplState rs = EKL__REPL_STATE__INIT;
	struct store_state st;

	store_state(r->store, &st);
	rs.epoch = (uint64_t)st.epoch;
	rs.primary = st.primary;
	rs.revision = (uint64_t)st.revision;
	rs.rev_epoch = (uint64_t)st.rev_epoch;
	env.msg_case = EKL__ENVELOPE__MSG_REPL_STATE;
	env.repl_state = &rs;
	conn_send(c, &env);
}

static void broadcast_state(struct repl *r)
{
	int i;

	for (i = 0; i < r->node->cfg.n_peers; i++) {
		struct link *l = &r->node->links[i];

		if (l->out != NULL && l->out->state == CONN_UP)
			repl_send_state(r, l->out);
		if (l->in != NULL && l->in->state == CONN_UP)
			repl_send_state(r, l->in);
	}
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
	if (was_primary && !repl_is_primary(r)) {
		while (r->waits != NULL) {
			char msg[256];

			snprintf(msg, sizeof(msg),
				 "committed here at revision %lld, but %s "
				 "became the primary before every peer "
				 "confirmed; the new primary's history wins",
				 (long long)r->waits->rev, primary);
			admin_reply_done(r->waits->reply, false, msg);
			repl_wait_remove(r, r->waits);
		}
	}
	for (i = 0; i < r->node->cfg.n_peers; i++)
		repl_peer_reset(&r->node->links[i].rp);
	broadcast_state(r);
}

int repl_promote(struct repl *r, char *err)
{
	struct store_state st;
	int i, rv;

	store_state(r->store, &st);
	rv = store_set_epoch(r->store, st.epoch + 1, r->node->cfg.name, err);
	if (rv != 0)
		return rv;
	ekl_info("promoted: primary of epoch %lld", (long long)st.epoch + 1);
	for (i = 0; i < r->node->cfg.n_peers; i++) {
		struct link *l = &r->node->links[i];

		repl_peer_reset(&l->rp);
		l->rp.known = false;
	}
	broadcast_state(r);
	return 0;
}

/* ---- links ----------------------------------------------------------- */

void repl_conn_up(struct repl *r, struct link *l, struct conn *c)
{
	(void)l;
	repl_send_state(r, c);
}

void repl_link_changed(struct repl *r, struct link *l)
{
	struct repl_peer *p = &l->rp;
	struct conn *carrier = link_carrier(l);

	if (carrier == p->carrier)
		return;
	if (p->carrier != NULL && carrier == NULL)
		repl_check_waits(r, link_index(r, l));
	if (p->phase == REPL_SNAPSHOT && !repl_is_primary(r))
		store_snap_abort(r->store);
	repl_peer_reset(p);
	p->carrier = carrier;
	if (carrier == NULL)
		return;
	if (repl_is_primary(r)) {
		struct store_state st;

		store_state(r->store, &st);
		/* What we know of the peer is stale unless it acknowledged our
		 * stream in this epoch; otherwise wait for its ReplState,
		 * which it sends when its carrier changes too. */
		if (p->acked_epoch != st.epoch)
			p->known = false;
		repl_start_stream(r, l);
	} else {
		/* The primary restarts the stream from what this says. */
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

/* --version-skew strict and the peer runs another version class. */
static bool skewed(struct repl *r, const struct link *l)
{
	struct conn *c = link_carrier(l);
	enum pol_vclass theirs;

	if (!r->cfg.skew_strict || c == NULL)
		return false;
	return pol_version_parse(c->peer_version, &theirs) != 0 ||
	       theirs != r->node->cfg.vclass;
}

/* Why a down link stopped replication: a certificate code if either
 * direction has one, else the outbound failure, else the inbound one. */
static const char *down_reason(const struct link *l)
{
	static const char *const cert_codes[] = {
	    "untrusted",      "expired",	"not-yet-valid",
	    "name-mismatch",  "server-purpose", "client-purpose",
	    "no-certificate",
	};
	size_t i;

	for (i = 0; i < sizeof(cert_codes) / sizeof(cert_codes[0]); i++) {
		if (l->out_err_set &&
		    strcmp(l->out_err.code, cert_codes[i]) == 0)
			return cert_codes[i];
		if (l->in_err_set && strcmp(l->in_err.code, cert_codes[i]) == 0)
			return cert_codes[i];
	}
	if (l->out_err_set)
		return l->out_err.code;
	if (l->in_err_set)
		return l->in_err.code;
	return "link-down";
}

/* The replication view of one peer: state, reason, applied, lag. Returns
 * false when no replication runs between this node and that peer (two
 * non-primary nodes). */
bool repl_peer_view(struct repl *r, const struct link *l, const char **state,
		    const char **reason, int64_t *applied, int64_t *lag)
{
	const struct repl_peer *p = &l->rp;
	struct store_state st;
	bool primary = repl_is_primary(r);

	store_state(r->store, &st);
	if (!primary && strcasecmp(st.primary, l->peer->name) != 0)
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
	if (!link_is_up(l)) {
		*state = "stopped";
		*reason = down_reason(l);
	} else if (p->phase == REPL_SKEW || skewed(r, l)) {
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

void repl_peer_json(struct repl *r, const struct link *l, struct json *j)
{
	const char *state, *reason;
	int64_t applied, lag;

	if (!repl_peer_view(r, l, &state, &reason, &applied, &lag)) {
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
	json_int(j, l->rp.snapshots);
	json_obj_end(j);
}

void repl_peer_text(struct repl *r, const struct link *l, char *buf, size_t len)
{
	const char *state, *reason;
	int64_t applied, lag;

	if (!repl_peer_view(r, l, &state, &reason, &applied, &lag))
		snprintf(buf, len, "-");
	else if (reason != NULL)
		snprintf(buf, len, "%s (%s)", state, reason);
	else
		snprintf(buf, len, "%s rev %lld lag %lld", state,
			 (long long)applied, (long long)lag);
}
