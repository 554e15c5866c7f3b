/* repl_write.c: group commit of admin writes on the primary, durability via
 * the syncer, --ack all waits, latency.
 *
 * The happy path: admin writes queue up during one loop iteration
 * (repl_write); the prepare watcher commits them as one transaction
 * (group_commit) and answers them (io->write_done) once they are durable
 * (complete_writes), or, with --ack all, waits for the peers (struct
 * ack_wait). With the syncer (sync.h), a commit only writes the WAL and the
 * answers wait until a thread has fsync'd it (repl_on_synced), or, for a
 * lone write while that thread is idle and syncs are quick, until the loop
 * itself has (syncer_sync_here); without the syncer each commit fsyncs on
 * the loop. After the commit the change log may be
 * compacted (repl_maybe_compact) and every peer is pumped (repl_send.c); a
 * group goes to caught-up peers from memory while it is being synced
 * (send_group_early).
 *
 * The failure modes: a write on a node that is not the primary fails,
 * naming the primary. Without memory for the record that makes a group's
 * answers wait for the sync, the group is refused before anything is
 * committed: no write is ever answered before fdatasync made it durable
 * (if the sync fails, the node stops and repl_stop answers what was not
 * synced with an error). A failed commit fails the group's writes (nothing
 * of it went to peers: they get a group only once it is committed). A
 * write waiting for --ack all fails when a peer it waits for loses its link
 * or the timeout passes; it stays committed on the primary and replicates
 * when that peer comes back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/container_of.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "repl_int.h"
#include "store/store.h"
#include "sync.h"

/* A committed group whose WAL frames are not yet synced. */
struct durable {
	uint64_t seq;
	struct pending_write *writes; /* owned */
	ev_tstamp committed;
	int64_t epoch; /* the epoch the group was committed in */
	struct durable *next;
};

void repl_write_free(struct pending_write *w)
{
	ekl_free(w->path);
	ekl_free(w->value);
	ekl_free(w);
}

/* ---- latency ---------------------------------------------------------- */

static void record_latency(struct repl *r, double seconds)
{
	if (r->lat == NULL &&
	    (r->lat = ekl_calloc(LAT_MAX, sizeof(*r->lat))) == NULL)
		return;
	r->lat[r->lat_next] = (uint32_t)(seconds * 1e6);
	r->lat_next = (r->lat_next + 1) % LAT_MAX;
	if (r->lat_n < LAT_MAX)
		r->lat_n++;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void repl_latency_text(struct repl *r, char *buf, size_t len)
{
	uint32_t *v;

	if (r->lat_n == 0 || (v = ekl_malloc(r->lat_n * sizeof(*v))) == NULL) {
		snprintf(buf, len, "count 0 groups %llu writes %llu\n",
			 (unsigned long long)r->groups,
			 (unsigned long long)r->grouped);
		return;
	}
	memcpy(v, r->lat, r->lat_n * sizeof(*v));
	qsort(v, r->lat_n, sizeof(*v), cmp_u32);
	snprintf(buf, len,
		 "count %zu p50_us %u p99_us %u max_us %u groups %llu "
		 "writes %llu\n",
		 r->lat_n, v[r->lat_n / 2], v[(r->lat_n * 99) / 100],
		 v[r->lat_n - 1], (unsigned long long)r->groups,
		 (unsigned long long)r->grouped);
	ekl_free(v);
}

void repl_latency_get(struct repl *r, struct repl_latency *out)
{
	uint32_t *v;

	memset(out, 0, sizeof(*out));
	out->groups = r->groups;
	out->writes = r->grouped;
	if (r->lat_n == 0 || (v = ekl_malloc(r->lat_n * sizeof(*v))) == NULL)
		return;
	memcpy(v, r->lat, r->lat_n * sizeof(*v));
	qsort(v, r->lat_n, sizeof(*v), cmp_u32);
	out->count = r->lat_n;
	out->p50_us = v[r->lat_n / 2];
	out->p99_us = v[(r->lat_n * 99) / 100];
	out->max_us = v[r->lat_n - 1];
	ekl_free(v);
}

void repl_latency_reset(struct repl *r)
{
	r->lat_n = 0;
	r->lat_next = 0;
	r->groups = 0;
	r->grouped = 0;
}

/* ---- --ack all -------------------------------------------------------- */

void repl_wait_remove(struct repl *r, struct ack_wait *w)
{
	struct ack_wait **pp;

	for (pp = &r->waits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	ekl_free(w);
	if (r->waits == NULL)
		ev_timer_stop(r->cfg.loop, &r->wait_timer);
}

static void revision_body(char *buf, size_t len, int64_t rev)
{
	snprintf(buf, len, "revision %lld", (long long)rev);
}

/* Resolve waits after a peer acknowledged, or fail those needing a peer
 * whose link went down (gone >= 0). */
void repl_check_waits(struct repl *r, int gone)
{
	struct ack_wait *w = r->waits;

	while (w != NULL) {
		struct ack_wait *next = w->next;
		bool done = true;
		int i;

		for (i = 0; i < r->io->n_peers; i++) {
			if (!w->need[i])
				continue;
			if (i == gone) {
				char msg[256];

				snprintf(
				    msg, sizeof(msg),
				    "committed on the primary at revision "
				    "%lld, but the link to %s went down "
				    "before it confirmed; it will apply it "
				    "when it catches up",
				    (long long)w->rev,
				    r->io->peer_name(r->io, i));
				repl_reply(r, w->reply, false, msg);
				repl_wait_remove(r, w);
				done = false;
				break;
			}
			if (r->peers[i].acked >= w->rev)
				w->need[i] = false;
			else
				done = false;
		}
		if (done) {
			char body[64];

			record_latency(r, ev_time() - w->committed);
			revision_body(body, sizeof(body), w->rev);
			repl_reply(r, w->reply, true, body);
			repl_wait_remove(r, w);
		}
		w = next;
	}
}

void repl_on_wait_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct repl *r = container_of(t, struct repl, wait_timer);
	struct ack_wait *w = r->waits;
	ev_tstamp now = ev_now(loop);

	(void)revents;
	while (w != NULL) {
		struct ack_wait *next = w->next;

		if (now >= w->deadline) {
			char msg[512];
			size_t len;
			int i;

			len = (size_t)snprintf(
			    msg, sizeof(msg),
			    "committed on the primary at revision %lld, "
			    "but not confirmed in time by:",
			    (long long)w->rev);
			for (i = 0; i < r->io->n_peers && len < 400; i++)
				if (w->need[i])
					len += (size_t)snprintf(
					    msg + len, sizeof(msg) - len, " %s",
					    r->io->peer_name(r->io, i));
			snprintf(msg + len, sizeof(msg) - len,
				 "; they will apply it when they catch up");
			repl_reply(r, w->reply, false, msg);
			repl_wait_remove(r, w);
		}
		w = next;
	}
}

/* ---- group commit ----------------------------------------------------- */

static void fail_queue(struct repl *r, const char *msg)
{
	while (r->queue != NULL) {
		struct pending_write *w = r->queue;

		r->queue = w->next;
		repl_reply(r, w->reply, false, msg);
		repl_write_free(w);
	}
	r->queue_tail = &r->queue;
}

/* Peers a --ack all write must wait for: linked, streaming or about to. */
static bool peer_counts(struct repl *r, int peer)
{
	return r->io->carrier(r->io, peer) != NULL &&
	       r->peers[peer].phase != REPL_SKEW;
}

void repl_maybe_compact(struct repl *r)
{
	struct store_state st;
	char err[EKL_ERRLEN];
	int64_t keep = r->cfg.log_keep;
	int i;

	store_state(r->store, &st);
	/* Never drop what a linked peer that is streaming still needs (up to
	 * ten times --log-keep): it would only be forced into a snapshot. */
	for (i = 0; i < r->io->n_peers; i++) {
		const struct repl_peer *p = &r->peers[i];

		if (p->phase == REPL_STREAM && p->carrier != NULL &&
		    st.revision - p->applied > keep)
			keep = st.revision - p->applied;
	}
	if (keep > 10 * r->cfg.log_keep)
		keep = 10 * r->cfg.log_keep;
	if (st.revision - st.log_first + 1 > keep + keep / 8 + 64 &&
	    store_compact(r->store, keep, err) != 0)
		ekl_warn("compaction: %s", err);
}

/* Replicate a group while it is being synced: to each peer that was
 * fully caught up before it (at `before`, the committed state before the
 * group), send the group's changes from memory now, so the peers' fsync
 * runs in parallel with ours. The group is committed (not yet durable):
 * safe because every primary start opens a new epoch (repl_start) and a
 * failed sync stops the primary, so changes a peer holds that the
 * primary never made durable belong to an epoch whose log the next
 * primary does not match, and that peer gets a snapshot. */
static void send_group_early(struct repl *r, struct pending_write *group,
			     const struct store_state *before)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplBatch batch = EKL__REPL_BATCH__INIT;
	Ekl__Change *changes = NULL, **ptrs = NULL;
	struct pending_write *w;
	struct store_state st;
	size_t n = 0, cap = 0, bytes = 0;
	int64_t last = 0;
	bool waited = false;
	int i;

	for (w = group; w != NULL; w = w->next)
		if (w->reply != NULL) {
			cap++;
			bytes += strlen(w->path) +
				 (w->value != NULL ? strlen(w->value) : 0);
		}
	/* Large groups go through the log as usual, in batches that the
	 * log read bounds the same way (BATCH_MAX, FRAME_ROWS_BYTES). */
	if (cap == 0 || cap > BATCH_MAX || bytes > FRAME_ROWS_BYTES)
		return;
	changes = ekl_calloc(cap, sizeof(*changes));
	ptrs = ekl_calloc(cap, sizeof(*ptrs));
	if (changes == NULL || ptrs == NULL)
		goto out;
	st = *before;
	for (w = group; w != NULL; w = w->next) {
		if (w->reply == NULL)
			continue;
		ekl__change__init(&changes[n]);
		changes[n].rev = (uint64_t)w->rev;
		changes[n].epoch = (uint64_t)st.epoch;
		changes[n].path = repl_wire_bytes(w->path);
		changes[n].deleted = w->value == NULL;
		changes[n].value =
		    repl_wire_bytes(w->value != NULL ? w->value : "");
		ptrs[n] = &changes[n];
		last = w->rev;
		n++;
	}
	batch.epoch = (uint64_t)st.epoch;
	batch.n_changes = n;
	batch.changes = ptrs;
	batch.primary_revision = (uint64_t)last;
	env.msg_case = EKL__ENVELOPE__MSG_BATCH;
	env.batch = &batch;
	for (w = group; w != NULL; w = w->next)
		if (w->reply != NULL && w->ack_all)
			waited = true;
	for (i = 0; i < r->io->n_peers; i++) {
		struct repl_peer *p = &r->peers[i];

		if (p->phase != REPL_STREAM || p->carrier == NULL ||
		    !r->io->chan_up(r->io, p->carrier) ||
		    repl_batches_out(p) >= WINDOW || p->sent != st.revision ||
		    repl_hold_back(r, p))
			continue;
		batch.ack_now =
		    waited || r->waits != NULL || repl_batches_out(p) > 0;
		if (r->io->send(r->io, p->carrier, &env) == 0)
			repl_batch_sent(p, last);
	}
out:
	ekl_free(changes);
	ekl_free(ptrs);
}

/* Writes of a group that is now durable on the primary: answer them, or
 * wait for the peers (--ack all). Frees the list. */
static void complete_writes(struct repl *r, struct pending_write *list,
			    ev_tstamp committed)
{
	struct pending_write *w = list;
	int i;

	while (w != NULL) {
		struct pending_write *next = w->next;
		char body[64];

		if (w->reply == NULL) {
			/* failed in the group: already answered */
		} else if (w->ack_all) {
			struct ack_wait *aw = ekl_calloc(1, sizeof(*aw));
			bool any = false;

			if (aw == NULL) {
				repl_reply(r, w->reply, false, "out of memory");
				goto next;
			}
			aw->reply = w->reply;
			aw->rev = w->rev;
			aw->committed = committed;
			aw->deadline =
			    ev_now(r->cfg.loop) + w->timeout_ms / 1000.0;
			for (i = 0; i < r->io->n_peers; i++)
				if (peer_counts(r, i)) {
					aw->need[i] = true;
					any = true;
				}
			if (!any) {
				revision_body(body, sizeof(body), w->rev);
				repl_reply(r, w->reply, true, body);
				ekl_free(aw);
			} else {
				aw->next = r->waits;
				r->waits = aw;
				if (!ev_is_active(&r->wait_timer))
					ev_timer_again(r->cfg.loop,
						       &r->wait_timer);
			}
		} else {
			revision_body(body, sizeof(body), w->rev);
			repl_reply(r, w->reply, true, body);
		}
	next:
		repl_write_free(w);
		w = next;
	}
	repl_check_waits(r, -1); /* the peers may have acknowledged already */
}

/* Only one write of the group was committed (the others, if any, were
 * refused). */
static bool lone_write(const struct pending_write *group)
{
	int n = 0;

	for (; group != NULL; group = group->next)
		if (group->reply != NULL && ++n > 1)
			return false;
	return n == 1;
}

static void group_commit(struct repl *r)
{
	struct pending_write *batch = r->queue, *w;
	struct durable *d = NULL;
	struct store_state st;
	char err[EKL_ERRLEN];
	int i, rv;

	if (!repl_is_primary(r)) {
		char msg[256];

		store_state(r->store, &st);
		if (st.primary[0] != '\0')
			snprintf(msg, sizeof(msg),
				 "this node is not the primary; send writes "
				 "to %s, the primary of epoch %lld",
				 st.primary, (long long)st.epoch);
		else
			snprintf(msg, sizeof(msg),
				 "no primary is configured; start the nodes "
				 "with --primary NAME");
		fail_queue(r, msg);
		return;
	}
	/* The record that holds the answers until the WAL is synced, made
	 * before anything is committed: without it nothing is. */
	if (r->syncer != NULL && (d = ekl_calloc(1, sizeof(*d))) == NULL) {
		fail_queue(r, "out of memory: nothing was written; try again");
		return;
	}
	r->queue = NULL;
	r->queue_tail = &r->queue;
	r->groups++;
	for (w = batch; w != NULL; w = w->next)
		r->grouped++;
	rv = store_group_begin(r->store, err);
	for (w = batch; w != NULL && rv == 0; w = w->next) {
		int64_t rev = 0;
		char perr[EKL_ERRLEN];
		int pr;

		pr = store_group_put(r->store, w->path, w->value, &rev, perr);
		if (pr == EKL_EINVAL || pr == EKL_ENOENT) {
			/* Refused before it wrote: the group goes on. */
			repl_reply(r, w->reply, false, perr);
			w->reply = NULL;
			continue;
		}
		if (pr != 0) {
			/* The store rolled the whole group back: every write
			 * of it fails below, with this reason. */
			store_group_rollback(r->store);
			snprintf(err, EKL_ERRLEN, "%s", perr);
			rv = pr;
			ekl_error("group commit failed: %s", err);
			break;
		}
		w->timeout_ms =
		    w->timeout_ms > 0 ? w->timeout_ms : r->cfg.ack_timeout_ms;
		w->rev = rev;
		if (w->ack_all && rev > r->waited_rev)
			r->waited_rev = rev;
	}
	store_state(r->store, &st); /* before this group */
	if (rv == 0 && (rv = store_group_commit(r->store, err)) != 0)
		ekl_error("group commit failed: %s", err);
	if (rv != 0) {
		repl_fail_writes(r, batch, err);
		ekl_free(d);
		return;
	}
	if (d != NULL) {
		/* Replies wait until the WAL is synced (repl_on_synced). For
		 * a group the thread's sync starts first: the peers woken by
		 * the group would otherwise take the CPU between our commit
		 * and our fdatasync. */
		uint64_t seq = ++r->commit_seq;

		d->seq = seq;
		d->writes = batch;
		d->committed = ev_time();
		d->epoch = st.epoch;
		*r->durables_tail = d;
		r->durables_tail = &d->next;
		if (lone_write(batch)) {
			/* A lone write: when nothing else waits, the loop
			 * syncs it itself (no hand-off to the thread and
			 * back) and answers it through repl_on_synced,
			 * which frees the group. The peers get it first,
			 * so that their syncs run with ours. */
			send_group_early(r, batch, &st);
			if (!syncer_sync_here(r->syncer, seq))
				syncer_request(r->syncer, seq);
		} else {
			syncer_request(r->syncer, seq);
			send_group_early(r, batch, &st);
		}
	} else {
		/* No syncer: the commit itself was synchronous=FULL. */
		send_group_early(r, batch, &st);
		complete_writes(r, batch, ev_time());
	}
	repl_maybe_compact(r);
	for (i = 0; i < r->io->n_peers; i++)
		repl_pump(r, i);
}

void repl_fail_writes(struct repl *r, struct pending_write *list,
		      const char *msg)
{
	while (list != NULL) {
		struct pending_write *next = list->next;

		if (list->reply != NULL)
			repl_reply(r, list->reply, false, msg);
		repl_write_free(list);
		list = next;
	}
}

void repl_fail_unsynced(struct repl *r)
{
	while (r->durables != NULL) {
		struct durable *d = r->durables;
		struct pending_write *w = d->writes;
		char msg[256];

		r->durables = d->next;
		while (w != NULL && w->reply == NULL)
			w = w->next;
		snprintf(
		    msg, sizeof(msg),
		    "committed here at revision %lld, but the node stopped "
		    "before fdatasync made it durable: it may be lost; "
		    "read it back after a restart",
		    w != NULL ? (long long)w->rev : 0LL);
		repl_fail_writes(r, d->writes, msg);
		ekl_free(d);
	}
	r->durables_tail = &r->durables;
}

/* A group that became durable after this node adopted a newer epoch (it
 * was demoted between its commit and its fdatasync): the new primary's
 * history wins, so it is not answered ok. */
static void fail_demoted(struct repl *r, struct durable *d,
			 const struct store_state *st)
{
	const struct pending_write *w = d->writes;
	char msg[320];

	while (w != NULL && w->reply == NULL)
		w = w->next;
	snprintf(msg, sizeof(msg),
		 "committed here at revision %lld, but %s became the primary "
		 "(epoch %lld) before it was durable here; the new primary's "
		 "history wins: it may be lost; read it back from %s",
		 w != NULL ? (long long)w->rev : 0LL, st->primary,
		 (long long)st->epoch, st->primary);
	repl_fail_writes(r, d->writes, msg);
}

/* The syncer made every commit up to seq durable. */
void repl_on_synced(void *arg, uint64_t seq)
{
	struct repl *r = arg;
	struct store_state st;
	int i;

	r->synced_seq = seq;
	store_state(r->store, &st);
	while (r->durables != NULL && r->durables->seq <= seq) {
		struct durable *d = r->durables;

		r->durables = d->next;
		if (r->durables == NULL)
			r->durables_tail = &r->durables;
		if (d->epoch != st.epoch)
			fail_demoted(r, d, &st);
		else
			complete_writes(r, d->writes, d->committed);
		ekl_free(d);
	}
	for (i = 0; i < r->io->n_peers; i++) {
		struct repl_peer *p = &r->peers[i];
		struct repl_chan *ch;

		if (!p->ack_due || p->ack_seq > seq)
			continue;
		p->ack_due = false;
		ch = r->io->carrier(r->io, i);
		if (ch != NULL)
			repl_send_ack_rev(r, ch, p->ack_rev);
	}
}

void repl_commit_queued(struct repl *r)
{
	if (r->queue != NULL)
		group_commit(r);
}

void repl_on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct repl *r = container_of(w, struct repl, commit_w);

	(void)loop;
	(void)revents;
	if (r->queue != NULL)
		group_commit(r);
	/* A peer: what it applied this turn for the primary, which waits for
	 * it (repl_recv.c ack_when_durable); acknowledged by repl_on_synced
	 * once synced, here or by the thread when it is busy. */
	if (r->here_due != 0) {
		uint64_t seq = r->here_due;

		r->here_due = 0;
		if (!syncer_sync_here(r->syncer, seq))
			syncer_request(r->syncer, seq);
	}
}

void repl_on_lazy_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct repl *r = container_of(t, struct repl, lazy_timer);

	(void)loop;
	(void)revents;
	if (r->lazy_due != 0 && r->syncer != NULL)
		syncer_request(r->syncer, r->lazy_due);
	r->lazy_due = 0;
}

void repl_write(struct repl *r, void *reply, const char *path,
		const char *value, bool ack_all, int timeout_ms)
{
	struct pending_write *w = ekl_calloc(1, sizeof(*w));

	if (w == NULL || (w->path = ekl_strdup(path)) == NULL ||
	    (value != NULL && (w->value = ekl_strdup(value)) == NULL)) {
		if (w != NULL)
			repl_write_free(w);
		repl_reply(r, reply, false, "out of memory");
		return;
	}
	w->reply = reply;
	w->ack_all = ack_all;
	w->timeout_ms = timeout_ms;
	*r->queue_tail = w;
	r->queue_tail = &w->next;
}
