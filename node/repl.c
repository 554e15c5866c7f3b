/* repl.c: ClusterDB replication: group commits on the primary, streaming to
 * peers over the link's carrier connection, snapshots, --ack all.
 *
 * The happy path: admin writes queue up during one loop iteration; the
 * prepare watcher commits them as one transaction (fsync'd) and answers
 * them (or, with --ack all, waits for the peers). The primary then pumps
 * each peer: batches of up to BATCH_MAX changes read from the change log,
 * at most WINDOW batches unacknowledged. A peer applies each batch in one
 * transaction, then acknowledges it.
 *
 * The failure modes: a peer whose revision the log no longer holds, or
 * whose history diverged (it has revisions the primary lacks, or of
 * another epoch), gets a snapshot. A revision gap or a batch from a stale
 * epoch is refused: the link is closed with the reason, nothing applied.
 * A carrier change restarts the stream from the last acknowledged
 * revision; the peer skips changes it already has, so each is applied
 * exactly once. A write waiting for --ack all fails when a peer it waits
 * for loses its link or the timeout passes; it stays committed on the
 * primary and replicates when that peer comes back.
 *
 * Epochs: the primary of the highest epoch wins. ReplState carries
 * (epoch, primary); a node adopts a newer one (a demoted primary stops
 * taking writes) and tells a node with an older one.
 */
#include "repl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "conn.h"
#include "ekulab/err.h"
#include "ekulab/json.h"
#include "ekulab/log.h"
#include "ekulab/mem.h"
#include "link.h"
#include "node.h"
#include "store.h"
#include "sync.h"

#define container_of(ptr, type, member)                                        \
	((type *)((char *)(ptr)-offsetof(type, member)))

#define BATCH_MAX   1000	/* changes per batch */
#define BATCH_BYTES (256 << 10) /* path+value bytes per batch */
#define WINDOW	    4		/* unacknowledged batches per peer */
#define SNAP_ROWS   1000	/* rows per snapshot chunk */

struct pending_write {
	struct admin_reply *reply; /* not owned: completed once */
	char *path;		   /* owned */
	char *value;		   /* owned; NULL = delete */
	bool ack_all;
	int timeout_ms;
	int64_t rev; /* assigned in the group commit */
	struct pending_write *next;
};

/* A committed group whose WAL frames are not yet synced. */
struct durable {
	uint64_t seq;
	struct pending_write *writes; /* owned */
	ev_tstamp committed;
	struct durable *next;
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

#define LAT_MAX 65536

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents);
static void on_synced(void *arg, uint64_t seq);
static void on_wait_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void pump(struct repl *r, struct link *l);

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
		 * sent but never made durable (see send_group_early) can be
		 * told apart from what it writes next. */
		rv = store_set_epoch(r->store, st.epoch + 1, st.primary, err);
		if (rv != 0)
			goto err_after_store;
	}
	r->durables_tail = &r->durables;
	/* Commits write the WAL; a thread fsyncs it (sync.h). */
	if (store_set_deferred_sync(r->store, true, err) == 0 &&
	    syncer_start(n->loop, store_wal_path(r->store), on_synced, r,
			 &r->syncer, err) != 0) {
		ekl_warn("%s; every commit will fsync on the loop", err);
		r->syncer = NULL;
		(void)store_set_deferred_sync(r->store, false, err);
	}
	ev_prepare_init(&r->commit_w, on_prepare);
	ev_prepare_start(n->loop, &r->commit_w);
	ev_init(&r->wait_timer, on_wait_timer);
	r->wait_timer.repeat = 0.1;
	*out = r;
	return 0;

err_after_store:
	store_close(r->store);
err_after_alloc:
	ekl_free(r);
	return rv;
}

static void write_free(struct pending_write *w)
{
	ekl_free(w->path);
	ekl_free(w->value);
	ekl_free(w);
}

static void peer_reset(struct repl_peer *p)
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
	on_synced(r, r->commit_seq);
	while (r->queue != NULL) {
		struct pending_write *w = r->queue;

		r->queue = w->next;
		admin_reply_done(w->reply, false, "node stopping");
		write_free(w);
	}
	while (r->waits != NULL) {
		struct ack_wait *w = r->waits;

		r->waits = w->next;
		admin_reply_done(w->reply, false,
				 "node stopping before peers confirmed");
		ekl_free(w);
	}
	for (i = 0; r->node->links != NULL && i < r->node->cfg.n_peers; i++)
		peer_reset(&r->node->links[i].rp);
	store_close(r->store);
	ekl_free(r->lat);
	ekl_free(r);
}

/* ---- sending ---------------------------------------------------------- */

/* Batches sent to p and not yet covered by its acknowledgements. */
static int batches_out(struct repl_peer *p)
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

static void batch_sent(struct repl_peer *p, int64_t last)
{
	if (p->n_out < WINDOW)
		p->out_last[p->n_out++] = last;
	p->sent = last;
}

static void send_state(struct repl *r, struct conn *c)
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

/* Acknowledge revision `rev` (durable here) to the primary. */
static void send_ack_rev(struct repl *r, struct conn *c, int64_t rev)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplAck ack = EKL__REPL_ACK__INIT;
	struct store_state st;

	store_state(r->store, &st);
	ack.epoch = (uint64_t)st.epoch;
	ack.revision = (uint64_t)rev;
	env.msg_case = EKL__ENVELOPE__MSG_ACK;
	env.ack = &ack;
	conn_send(c, &env);
}

/* After applying changes: acknowledge them once they are durable. */
static void ack_when_durable(struct repl *r, struct link *l, struct conn *c)
{
	struct store_state st;

	store_state(r->store, &st);
	if (r->syncer == NULL) {
		send_ack_rev(r, c, st.revision);
		return;
	}
	l->rp.ack_due = true;
	l->rp.ack_rev = st.revision;
	l->rp.ack_seq = ++r->commit_seq;
	syncer_request(r->syncer, l->rp.ack_seq);
}

static void broadcast_state(struct repl *r)
{
	int i;

	for (i = 0; i < r->node->cfg.n_peers; i++) {
		struct link *l = &r->node->links[i];

		if (l->out != NULL && l->out->state == CONN_UP)
			send_state(r, l->out);
		if (l->in != NULL && l->in->state == CONN_UP)
			send_state(r, l->in);
	}
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
	Ekl__Change *ch;

	if (b->n == b->cap)
		return 1; /* full: stop reading */
	ch = &b->changes[b->n];
	ekl__change__init(ch);
	ch->rev = (uint64_t)c->rev;
	ch->epoch = (uint64_t)c->epoch;
	ch->path = ekl_strdup(c->path);
	ch->deleted = c->value == NULL;
	ch->value = ekl_strdup(c->value != NULL ? c->value : "");
	if (ch->path == NULL || ch->value == NULL) {
		ekl_free(ch->path);
		ekl_free(ch->value);
		b->oom = true;
		return EKL_ENOMEM;
	}
	b->ptrs[b->n++] = ch;
	b->last = c->rev;
	return 0;
}

static void batch_free(struct batch_build *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		ekl_free(b->changes[i].path);
		ekl_free(b->changes[i].value);
	}
	ekl_free(b->changes);
	ekl_free(b->ptrs);
}

/* Send the next batch to l. Returns 1 when sent, 0 when nothing to send,
 * EKL_ENOENT when the log no longer holds what the peer needs. */
static int send_batch(struct repl *r, struct link *l)
{
	struct repl_peer *p = &l->rp;
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
	rv = store_log_read(r->store, p->sent, want, BATCH_BYTES, batch_add, &b,
			    err);
	if (rv < 0) {
		if (rv != EKL_ENOENT)
			ekl_warn("replication to %s: %s", l->peer->name, err);
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
	env.msg_case = EKL__ENVELOPE__MSG_BATCH;
	env.batch = &batch;
	rv = conn_send(p->carrier, &env);
	if (rv == 0)
		batch_sent(p, b.last);
	batch_free(&b);
	return rv == 0 ? 1 : rv;
}

struct chunk_build {
	char **paths;  /* owned */
	char **values; /* owned */
	size_t n;
	size_t bytes;
};

static int chunk_add(void *arg, const char *path, const char *value)
{
	struct chunk_build *c = arg;

	c->paths[c->n] = ekl_strdup(path);
	c->values[c->n] = ekl_strdup(value);
	if (c->paths[c->n] == NULL || c->values[c->n] == NULL) {
		ekl_free(c->paths[c->n]);
		ekl_free(c->values[c->n]);
		return EKL_ENOMEM;
	}
	c->bytes += strlen(path) + strlen(value);
	c->n++;
	return 0;
}

static void chunk_free(struct chunk_build *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		ekl_free(c->paths[i]);
		ekl_free(c->values[i]);
	}
	ekl_free(c->paths);
	ekl_free(c->values);
}

/* Send the next snapshot chunk, or SnapEnd after the last one. */
static int send_chunk(struct repl *r, struct link *l)
{
	struct repl_peer *p = &l->rp;
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__SnapChunk chunk = EKL__SNAP_CHUNK__INIT;
	Ekl__SnapEnd end = EKL__SNAP_END__INIT;
	struct chunk_build c;
	char err[EKL_ERRLEN];
	int rv;

	(void)r;
	memset(&c, 0, sizeof(c));
	c.paths = ekl_calloc(SNAP_ROWS, sizeof(char *));
	c.values = ekl_calloc(SNAP_ROWS, sizeof(char *));
	if (c.paths == NULL || c.values == NULL) {
		chunk_free(&c);
		return EKL_ENOMEM;
	}
	rv = store_snap_next(p->snap, SNAP_ROWS, chunk_add, &c, err);
	if (rv < 0) {
		ekl_warn("snapshot to %s: %s", l->peer->name, err);
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
	rv = conn_send(p->carrier, &env);
	if (rv == 0)
		p->inflight++;
	chunk_free(&c);
	return rv;
}

static void start_snapshot(struct repl *r, struct link *l)
{
	struct repl_peer *p = &l->rp;
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__SnapBegin b = EKL__SNAP_BEGIN__INIT;
	struct store_state at;
	char err[EKL_ERRLEN];

	peer_reset(p);
	if (store_snap_open(r->store, &p->snap, &at, err) != 0) {
		ekl_warn("snapshot to %s: %s", l->peer->name, err);
		return;
	}
	ekl_info("replication to %s: sending a snapshot at revision %lld "
		 "(%lld rows)",
		 l->peer->name, (long long)at.revision, (long long)at.rows);
	b.epoch = (uint64_t)at.epoch;
	b.revision = (uint64_t)at.revision;
	b.rev_epoch = (uint64_t)at.rev_epoch;
	b.digest.data = at.digest;
	b.digest.len = STORE_DIGEST_LEN;
	b.rows = (uint64_t)at.rows;
	env.msg_case = EKL__ENVELOPE__MSG_SNAP_BEGIN;
	env.snap_begin = &b;
	if (conn_send(p->carrier, &env) != 0) {
		peer_reset(p);
		return;
	}
	p->phase = REPL_SNAPSHOT;
	p->snap_revision = at.revision;
	p->snapshots++;
}

/* Keep the pipe to l full. */
static void pump(struct repl *r, struct link *l)
{
	struct repl_peer *p = &l->rp;

	if (!repl_is_primary(r) || p->carrier == NULL ||
	    p->carrier->state != CONN_UP)
		return;
	for (;;) {
		int rv;

		if (p->phase == REPL_SNAPSHOT) {
			if (p->inflight >= WINDOW || p->snap_done ||
			    send_chunk(r, l) != 0)
				return;
			continue;
		}
		if (p->phase != REPL_STREAM || batches_out(p) >= WINDOW)
			return;
		rv = send_batch(r, l);
		if (rv == EKL_ENOENT) {
			start_snapshot(r, l);
			continue;
		}
		if (rv <= 0)
			return;
	}
}

/* The primary decides how to bring a peer at (rev, rev_epoch) up to date:
 * stream from rev when our log agrees with its history, else snapshot. */
static void start_stream(struct repl *r, struct link *l)
{
	struct repl_peer *p = &l->rp;
	struct store_state st;
	int64_t epoch = 0;
	char err[EKL_ERRLEN];
	bool agree;
	enum pol_vclass theirs;

	peer_reset(p);
	if (p->carrier == NULL || !p->known)
		return;
	if (r->cfg.skew_strict &&
	    (pol_version_parse(p->carrier->peer_version, &theirs) != 0 ||
	     theirs != r->node->cfg.vclass)) {
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
		start_snapshot(r, l);
	} else {
		p->phase = REPL_STREAM;
		p->sent = p->applied;
	}
	pump(r, l);
}

/* ---- --ack all ------------------------------------------------------- */

static void wait_remove(struct repl *r, struct ack_wait *w)
{
	struct ack_wait **pp;

	for (pp = &r->waits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	ekl_free(w);
	if (r->waits == NULL)
		ev_timer_stop(r->node->loop, &r->wait_timer);
}

static void revision_body(char *buf, size_t len, int64_t rev)
{
	snprintf(buf, len, "revision %lld", (long long)rev);
}

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

void repl_latency_reset(struct repl *r)
{
	r->lat_n = 0;
	r->lat_next = 0;
	r->groups = 0;
	r->grouped = 0;
}

/* Resolve waits after a peer acknowledged, or fail those needing a peer
 * whose link went down (gone >= 0). */
static void check_waits(struct repl *r, int gone)
{
	struct ack_wait *w = r->waits;

	while (w != NULL) {
		struct ack_wait *next = w->next;
		bool done = true;
		int i;

		for (i = 0; i < r->node->cfg.n_peers; i++) {
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
				    r->node->cfg.peers[i].name);
				admin_reply_done(w->reply, false, msg);
				wait_remove(r, w);
				done = false;
				break;
			}
			if (r->node->links[i].rp.applied >= w->rev)
				w->need[i] = false;
			else
				done = false;
		}
		if (done) {
			char body[64];

			record_latency(r, ev_time() - w->committed);
			revision_body(body, sizeof(body), w->rev);
			admin_reply_done(w->reply, true, body);
			wait_remove(r, w);
		}
		w = next;
	}
}

static void on_wait_timer(struct ev_loop *loop, ev_timer *t, int revents)
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
			for (i = 0; i < r->node->cfg.n_peers && len < 400; i++)
				if (w->need[i])
					len += (size_t)snprintf(
					    msg + len, sizeof(msg) - len, " %s",
					    r->node->cfg.peers[i].name);
			snprintf(msg + len, sizeof(msg) - len,
				 "; they will apply it when they catch up");
			admin_reply_done(w->reply, false, msg);
			wait_remove(r, w);
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
		admin_reply_done(w->reply, false, msg);
		write_free(w);
	}
	r->queue_tail = &r->queue;
}

/* Peers a --ack all write must wait for: linked, streaming or about to. */
static bool peer_counts(struct repl *r, struct link *l)
{
	(void)r;
	return link_is_up(l) && l->rp.phase != REPL_SKEW;
}

static void maybe_compact(struct repl *r)
{
	struct store_state st;
	char err[EKL_ERRLEN];
	int64_t keep = r->cfg.log_keep;
	int i;

	store_state(r->store, &st);
	/* Never drop what a linked peer that is streaming still needs (up to
	 * ten times --log-keep): it would only be forced into a snapshot. */
	for (i = 0; r->node->links != NULL && i < r->node->cfg.n_peers; i++) {
		const struct repl_peer *p = &r->node->links[i].rp;

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

/* Replicate a group while it is being committed: to each peer that is
 * fully caught up, send the group's changes now, so the peers' fsync runs
 * in parallel with ours. Safe because every primary start opens a new
 * epoch (repl_start) and a failed commit stops the primary: changes a
 * peer holds that the primary never made durable belong to an epoch whose
 * log the next primary does not match, so that peer gets a snapshot. */
static void send_group_early(struct repl *r, struct pending_write *group)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplBatch batch = EKL__REPL_BATCH__INIT;
	Ekl__Change *changes = NULL, **ptrs = NULL;
	struct pending_write *w;
	struct store_state st;
	size_t n = 0, cap = 0;
	int64_t last = 0;
	int i;

	for (w = group; w != NULL; w = w->next)
		if (w->reply != NULL)
			cap++;
	if (cap == 0 || cap > BATCH_MAX)
		return; /* large groups go through the log as usual */
	changes = ekl_calloc(cap, sizeof(*changes));
	ptrs = ekl_calloc(cap, sizeof(*ptrs));
	if (changes == NULL || ptrs == NULL)
		goto out;
	store_state(r->store, &st); /* committed state: before this group */
	for (w = group; w != NULL; w = w->next) {
		if (w->reply == NULL)
			continue;
		ekl__change__init(&changes[n]);
		changes[n].rev = (uint64_t)w->rev;
		changes[n].epoch = (uint64_t)st.epoch;
		changes[n].path = w->path;
		changes[n].deleted = w->value == NULL;
		changes[n].value = w->value != NULL ? w->value : "";
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
	for (i = 0; i < r->node->cfg.n_peers; i++) {
		struct repl_peer *p = &r->node->links[i].rp;

		if (p->phase != REPL_STREAM || p->carrier == NULL ||
		    p->carrier->state != CONN_UP || batches_out(p) >= WINDOW ||
		    p->sent != st.revision)
			continue;
		if (conn_send(p->carrier, &env) == 0) {
			batch_sent(p, last);
			r->sent_early = true;
		}
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
				admin_reply_done(w->reply, false,
						 "out of memory");
				goto next;
			}
			aw->reply = w->reply;
			aw->rev = w->rev;
			aw->committed = committed;
			aw->deadline =
			    ev_now(r->node->loop) + w->timeout_ms / 1000.0;
			for (i = 0; i < r->node->cfg.n_peers; i++)
				if (peer_counts(r, &r->node->links[i])) {
					aw->need[i] = true;
					any = true;
				}
			if (!any) {
				revision_body(body, sizeof(body), w->rev);
				admin_reply_done(w->reply, true, body);
				ekl_free(aw);
			} else {
				aw->next = r->waits;
				r->waits = aw;
				if (!ev_is_active(&r->wait_timer))
					ev_timer_again(r->node->loop,
						       &r->wait_timer);
			}
		} else {
			revision_body(body, sizeof(body), w->rev);
			admin_reply_done(w->reply, true, body);
		}
	next:
		write_free(w);
		w = next;
	}
	check_waits(r, -1); /* the peers may have acknowledged already */
}

static void group_commit(struct repl *r)
{
	struct pending_write *batch = r->queue, *w;
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
	r->queue = NULL;
	r->queue_tail = &r->queue;
	r->groups++;
	for (w = batch; w != NULL; w = w->next)
		r->grouped++;
	rv = store_group_begin(r->store, err);
	for (w = batch; w != NULL; w = w->next) {
		int64_t rev = 0;
		char perr[EKL_ERRLEN];

		if (rv != 0) {
			admin_reply_done(w->reply, false, err);
			w->reply = NULL;
			continue;
		}
		if (store_group_put(r->store, w->path, w->value, &rev, perr) !=
		    0) {
			admin_reply_done(w->reply, false, perr);
			w->reply = NULL;
			continue;
		}
		w->timeout_ms =
		    w->timeout_ms > 0 ? w->timeout_ms : r->cfg.ack_timeout_ms;
		w->rev = rev;
	}
	if (rv == 0)
		send_group_early(r, batch);
	if (rv == 0 && (rv = store_group_commit(r->store, err)) != 0) {
		if (r->sent_early) {
			/* Peers may hold changes we could not make durable.
			 * Fail-stop: a restarted primary opens a new epoch,
			 * and the peers' divergent tail is replaced. */
			ekl_error("group commit failed after replicating it: "
				  "%s; stopping so that peers stay "
				  "consistent (restart the node)",
				  err);
			fail_queue(r, "primary stopping after a failed commit");
			ev_break(r->node->loop, EVBREAK_ALL);
		} else {
			ekl_error("group commit failed: %s", err);
		}
	}
	r->sent_early = false;
	if (rv != 0) {
		for (w = batch; w != NULL;) {
			struct pending_write *next = w->next;

			if (w->reply != NULL)
				admin_reply_done(w->reply, false, err);
			write_free(w);
			w = next;
		}
		return;
	}
	if (r->syncer != NULL) {
		/* Replies wait until the WAL is synced (on_synced). */
		struct durable *d = ekl_calloc(1, sizeof(*d));

		if (d == NULL) {
			/* Out of memory: sync here, on the loop. */
			char serr[EKL_ERRLEN];

			if (store_set_deferred_sync(r->store, false, serr) == 0)
				(void)store_set_deferred_sync(r->store, true,
							      serr);
			complete_writes(r, batch, ev_time());
		} else {
			d->seq = ++r->commit_seq;
			d->writes = batch;
			d->committed = ev_time();
			*r->durables_tail = d;
			r->durables_tail = &d->next;
			syncer_request(r->syncer, d->seq);
		}
	} else {
		complete_writes(r, batch, ev_time());
	}
	maybe_compact(r);
	for (i = 0; i < r->node->cfg.n_peers; i++)
		pump(r, &r->node->links[i]);
}

/* The syncer made every commit up to seq durable. */
static void on_synced(void *arg, uint64_t seq)
{
	struct repl *r = arg;
	int i;

	r->synced_seq = seq;
	while (r->durables != NULL && r->durables->seq <= seq) {
		struct durable *d = r->durables;

		r->durables = d->next;
		if (r->durables == NULL)
			r->durables_tail = &r->durables;
		complete_writes(r, d->writes, d->committed);
		ekl_free(d);
	}
	for (i = 0; r->node->links != NULL && i < r->node->cfg.n_peers; i++) {
		struct link *l = &r->node->links[i];
		struct conn *c = link_carrier(l);

		if (!l->rp.ack_due || l->rp.ack_seq > seq)
			continue;
		l->rp.ack_due = false;
		if (c != NULL)
			send_ack_rev(r, c, l->rp.ack_rev);
	}
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct repl *r = container_of(w, struct repl, commit_w);

	(void)loop;
	(void)revents;
	if (r->queue != NULL)
		group_commit(r);
}

void repl_write(struct repl *r, struct admin_reply *reply, const char *path,
		const char *value, bool ack_all, int timeout_ms)
{
	struct pending_write *w = ekl_calloc(1, sizeof(*w));

	if (w == NULL || (w->path = ekl_strdup(path)) == NULL ||
	    (value != NULL && (w->value = ekl_strdup(value)) == NULL)) {
		if (w != NULL)
			write_free(w);
		admin_reply_done(reply, false, "out of memory");
		return;
	}
	w->reply = reply;
	w->ack_all = ack_all;
	w->timeout_ms = timeout_ms;
	*r->queue_tail = w;
	r->queue_tail = &w->next;
}

/* ---- epochs ---------------------------------------------------------------
 */

/* Adopt a newer (epoch, primary). A demoted primary stops taking writes:
 * what waits for peers fails with an explanation. */
static void adopt_epoch(struct repl *r, int64_t epoch, const char *primary)
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
			wait_remove(r, r->waits);
		}
	}
	for (i = 0; i < r->node->cfg.n_peers; i++)
		peer_reset(&r->node->links[i].rp);
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

		peer_reset(&l->rp);
		l->rp.known = false;
	}
	broadcast_state(r);
	return 0;
}

/* ---- receiving ----------------------------------------------------------- */

static void refuse(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void refuse(struct conn *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ekl_warn("replication from %s: %s", c->peer_name, msg);
	conn_close(c, "protocol", msg);
}

static void on_state(struct repl *r, struct link *l, struct conn *c,
		     const Ekl__ReplState *s)
{
	struct store_state st;
	struct repl_peer *p = &l->rp;

	store_state(r->store, &st);
	if ((int64_t)s->epoch > st.epoch && s->primary[0] != '\0') {
		adopt_epoch(r, (int64_t)s->epoch, s->primary);
		store_state(r->store, &st);
	} else if ((int64_t)s->epoch < st.epoch) {
		send_state(r, c); /* it will adopt ours */
	}
	if (p->phase == REPL_SNAPSHOT && c == p->carrier &&
	    (int64_t)s->epoch == st.epoch)
		return; /* a snapshot is on its way to it already */
	p->known = true;
	p->applied = (int64_t)s->revision;
	p->rev_epoch_seen = (int64_t)s->rev_epoch;
	p->acked_epoch = 0; /* judge its history from what it reports */
	if (repl_is_primary(r) && (int64_t)s->epoch == st.epoch &&
	    p->carrier != NULL)
		start_stream(r, l);
}

/* Convert a batch to store changes, skipping those already applied. */
static void on_batch(struct repl *r, struct link *l, struct conn *c,
		     const Ekl__ReplBatch *b)
{
	struct repl_peer *p = &l->rp;
	struct store_change *ch;
	struct store_state st;
	char err[EKL_ERRLEN];
	size_t i, n = 0;
	enum pol_vclass theirs;

	store_state(r->store, &st);
	if ((int64_t)b->epoch < st.epoch) {
		send_state(r, c); /* a demoted primary: tell it */
		return;
	}
	if ((int64_t)b->epoch > st.epoch) {
		adopt_epoch(r, (int64_t)b->epoch, l->peer->name);
		store_state(r->store, &st);
	}
	if (strcasecmp(st.primary, l->peer->name) != 0) {
		refuse(c, "batch from %s, but the primary of epoch %lld is %s",
		       l->peer->name, (long long)st.epoch, st.primary);
		return;
	}
	if (r->cfg.skew_strict &&
	    (pol_version_parse(c->peer_version, &theirs) != 0 ||
	     theirs != r->node->cfg.vclass)) {
		p->phase = REPL_SKEW;
		return;
	}
	if (p->phase == REPL_SNAPSHOT)
		store_snap_abort(r->store);
	p->phase = REPL_STREAM;
	p->primary_rev = (int64_t)b->primary_revision;
	ch = ekl_calloc(b->n_changes ? b->n_changes : 1, sizeof(*ch));
	if (ch == NULL) {
		refuse(c, "out of memory applying a batch");
		return;
	}
	for (i = 0; i < b->n_changes; i++) {
		const Ekl__Change *x = b->changes[i];

		if ((int64_t)x->rev <= st.revision)
			continue; /* already applied (a restarted stream) */
		ch[n].rev = (int64_t)x->rev;
		ch[n].epoch = (int64_t)x->epoch;
		ch[n].path = x->path;
		ch[n].value = x->deleted ? NULL : x->value;
		n++;
	}
	if (n > 0 && store_apply(r->store, ch, n, err) != 0) {
		ekl_free(ch);
		refuse(c, "%s", err);
		return;
	}
	ekl_free(ch);
	maybe_compact(r);
	ack_when_durable(r, l, c);
}

static void on_ack(struct repl *r, struct link *l, const Ekl__ReplAck *a)
{
	struct repl_peer *p = &l->rp;
	struct store_state st;

	store_state(r->store, &st);
	if ((int64_t)a->revision > p->applied)
		p->applied = (int64_t)a->revision;
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
			 l->peer->name, (long long)p->snap_revision);
	}
	check_waits(r, -1);
	pump(r, l);
}

static void on_snap_begin(struct repl *r, struct link *l, struct conn *c,
			  const Ekl__SnapBegin *b)
{
	struct repl_peer *p = &l->rp;
	struct store_state st;
	char err[EKL_ERRLEN];

	store_state(r->store, &st);
	if ((int64_t)b->epoch < st.epoch) {
		send_state(r, c);
		return;
	}
	if (b->digest.len != STORE_DIGEST_LEN) {
		refuse(c, "snapshot digest of %zu bytes", b->digest.len);
		return;
	}
	if (store_snap_stage_begin(r->store, err) != 0) {
		refuse(c, "%s", err);
		return;
	}
	ekl_info("replication from %s: receiving a snapshot at revision %lld "
		 "(%llu rows)",
		 l->peer->name, (long long)b->revision,
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

static void on_snap_chunk(struct repl *r, struct link *l, struct conn *c,
			  const Ekl__SnapChunk *k)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__SnapAck ack = EKL__SNAP_ACK__INIT;
	char err[EKL_ERRLEN];

	if (l->rp.phase != REPL_SNAPSHOT || k->n_paths != k->n_values) {
		refuse(c, "snapshot chunk out of place");
		return;
	}
	if (store_snap_stage_rows(r->store, (const char *const *)k->paths,
				  (const char *const *)k->values, k->n_paths,
				  err) != 0) {
		store_snap_abort(r->store);
		refuse(c, "%s", err);
		return;
	}
	ack.chunks = (uint64_t)++l->rp.inflight;
	env.msg_case = EKL__ENVELOPE__MSG_SNAP_ACK;
	env.snap_ack = &ack;
	conn_send(c, &env);
}

static void on_snap_end(struct repl *r, struct link *l, struct conn *c)
{
	struct repl_peer *p = &l->rp;
	struct store_state st;
	char err[EKL_ERRLEN];

	if (p->phase != REPL_SNAPSHOT) {
		refuse(c, "snapshot end out of place");
		return;
	}
	if (store_snap_finish(r->store, p->snap_revision, p->rev_epoch_seen,
			      p->snap_digest, err) != 0) {
		store_snap_abort(r->store);
		p->phase = REPL_IDLE;
		refuse(c, "%s", err);
		return;
	}
	store_state(r->store, &st);
	if (p->snap_epoch > st.epoch)
		adopt_epoch(r, p->snap_epoch, l->peer->name);
	ekl_info("replication from %s: snapshot installed at revision %lld",
		 l->peer->name, (long long)p->snap_revision);
	p->phase = REPL_STREAM;
	ack_when_durable(r, l, c);
}

void repl_on_frame(struct repl *r, struct link *l, struct conn *c,
		   const Ekl__Envelope *env)
{
	switch (env->msg_case) {
	case EKL__ENVELOPE__MSG_REPL_STATE:
		on_state(r, l, c, env->repl_state);
		return;
	case EKL__ENVELOPE__MSG_BATCH: on_batch(r, l, c, env->batch); return;
	case EKL__ENVELOPE__MSG_ACK: on_ack(r, l, env->ack); return;
	case EKL__ENVELOPE__MSG_SNAP_BEGIN:
		on_snap_begin(r, l, c, env->snap_begin);
		return;
	case EKL__ENVELOPE__MSG_SNAP_CHUNK:
		on_snap_chunk(r, l, c, env->snap_chunk);
		return;
	case EKL__ENVELOPE__MSG_SNAP_END: on_snap_end(r, l, c); return;
	case EKL__ENVELOPE__MSG_SNAP_ACK:
		if (l->rp.inflight > 0)
			l->rp.inflight--;
		pump(r, l);
		return;
	default: refuse(c, "unexpected message %d", (int)env->msg_case); return;
	}
}

/* ---- links ------------------------------------------------------------------
 */

void repl_conn_up(struct repl *r, struct link *l, struct conn *c)
{
	(void)l;
	send_state(r, c);
}

void repl_link_changed(struct repl *r, struct link *l)
{
	struct repl_peer *p = &l->rp;
	struct conn *carrier = link_carrier(l);

	if (carrier == p->carrier)
		return;
	if (p->carrier != NULL && carrier == NULL)
		check_waits(r, link_index(r, l));
	if (p->phase == REPL_SNAPSHOT && !repl_is_primary(r))
		store_snap_abort(r->store);
	peer_reset(p);
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
		start_stream(r, l);
	} else
		send_state(r, carrier); /* the primary restarts from here */
}

/* ---- status -----------------------------------------------------------------
 */

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
