/* test_repl.c: replication on an in-memory transport (a fake struct
 * repl_io), with real SQLite stores: flow control, ordering, exactly-once
 * apply, refusals, epochs, --ack all, snapshots. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "ekulab.pb-c.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/frame.h"
#include "ekulab/x509/policy.h"
#include "repl/repl.h"
#include "repl/repl_int.h"
#include "store/store.h"
#include "testutil.h"

/* ---- the fake network: N nodes, one channel end per ordered pair ---- */

#define N	 3
#define MAX_MSGS 100000
#define PRIMARY	 0

static const char *const names[N] = {"n1", "n2", "n3"};

/* One end of a connection between two nodes, as repl sees it. */
struct repl_chan {
	int self;
	int other;
	bool up;
	bool close_pending; /* repl asked to close it: report later */
	char close_code[32];
	char close_message[256];
	int closes;
};

struct msg {
	int from;
	int to;
	uint8_t *buf; /* owned: the packed envelope */
	size_t len;
	Ekl__Envelope__MsgCase kind;
};

/* A write handed to repl_write, as the test sees its answer. */
struct wr {
	int done; /* times answered: must end at exactly 1 */
	bool ok;
	char body[512];
};

struct fnode {
	struct repl_io io;
	struct repl *r;
	char dir[512];
	char version[16];
	struct repl_chan chan[N]; /* chan[j]: our end towards node j */
};

static struct ev_loop *loop;
static struct fnode nodes[N];
static struct msg *queue; /* FIFO, [qhead, qtail) */
static size_t qhead, qtail;
/* Messages from i to j wait while hold[i][j] is HOLD_ALL or their kind. */
#define HOLD_ALL (-1)
static int hold[N][N];
static int sent[N][N][16];	/* envelopes sent, by kind */
static int too_big;		/* messages over the frame maximum */
static int delivered[N][N][16]; /* envelopes handed to repl, by kind */

/* Node i's peer number for node j, and back. */
static int peer_of(int i, int j)
{
	return j < i ? j : j - 1;
}

static int node_of(int i, int peer)
{
	return peer < i ? peer : peer + 1;
}

static struct fnode *fnode_of(struct repl_io *io)
{
	return io->data;
}

static int self_of(struct repl_io *io)
{
	return (int)(fnode_of(io) - nodes);
}

static const char *io_peer_name(struct repl_io *io, int peer)
{
	return names[node_of(self_of(io), peer)];
}

static struct repl_chan *io_carrier(struct repl_io *io, int peer)
{
	struct repl_chan *ch = &fnode_of(io)->chan[node_of(self_of(io), peer)];

	return ch->up ? ch : NULL;
}

static bool io_chan_up(struct repl_io *io, struct repl_chan *ch)
{
	(void)io;
	return ch->up && !ch->close_pending;
}

static const char *io_chan_version(struct repl_io *io, struct repl_chan *ch)
{
	(void)io;
	return nodes[ch->other].version;
}

static void io_close(struct repl_io *io, struct repl_chan *ch, const char *code,
		     const char *message);

static int io_send(struct repl_io *io, struct repl_chan *ch,
		   const Ekl__Envelope *env)
{
	struct msg *m;

	(void)io;
	if (!ch->up || ch->close_pending)
		return EKL_ECLOSED;
	/* The real transport's limit (conn_send): a message over the frame
	 * maximum cannot be sent and costs the link. */
	if (ekl__envelope__get_packed_size(env) > FRAME_MAX_DEFAULT) {
		too_big++;
		io_close(io, ch, "protocol", "cannot send a message: too big");
		return EKL_ETOOBIG;
	}
	ck_assert_msg(qtail < MAX_MSGS, "message queue full");
	m = &queue[qtail++];
	m->from = ch->self;
	m->to = ch->other;
	m->kind = env->msg_case;
	m->len = ekl__envelope__get_packed_size(env);
	m->buf = ekl_malloc(m->len ? m->len : 1);
	ck_assert_ptr_nonnull(m->buf);
	ck_assert_uint_eq(ekl__envelope__pack(env, m->buf), m->len);
	sent[ch->self][ch->other][env->msg_case]++;
	return 0;
}

static void io_send_all(struct repl_io *io, int peer, const Ekl__Envelope *env)
{
	struct repl_chan *ch = io_carrier(io, peer);

	if (ch != NULL)
		io_send(io, ch, env);
}

static void io_close(struct repl_io *io, struct repl_chan *ch, const char *code,
		     const char *message)
{
	(void)io;
	if (ch->close_pending || !ch->up)
		return;
	ch->close_pending = true;
	ch->closes++;
	snprintf(ch->close_code, sizeof(ch->close_code), "%s", code);
	snprintf(ch->close_message, sizeof(ch->close_message), "%s", message);
}

static const char *io_down_reason(struct repl_io *io, int peer)
{
	(void)io;
	(void)peer;
	return "link-down";
}

static void io_write_done(struct repl_io *io, void *reply, bool ok,
			  const char *body)
{
	struct wr *w = reply;

	(void)io;
	w->done++;
	w->ok = ok;
	snprintf(w->body, sizeof(w->body), "%s", body != NULL ? body : "");
}

/* ---- the test's hands on the network ---- */

static void drop_between(int i, int j)
{
	size_t k;

	for (k = qhead; k < qtail; k++)
		if ((queue[k].from == i && queue[k].to == j) ||
		    (queue[k].from == j && queue[k].to == i))
			queue[k].to = -1; /* lost with the connection */
}

/* Both ends up; each node hears of it as node.c would tell it. */
static void link_up(int i, int j)
{
	int e;

	for (e = 0; e < 2; e++) {
		int a = e == 0 ? i : j, b = e == 0 ? j : i;
		struct repl_chan *ch = &nodes[a].chan[b];

		ch->up = true;
		ch->close_pending = false;
		repl_conn_up(nodes[a].r, peer_of(a, b), ch);
		repl_link_changed(nodes[a].r, peer_of(a, b));
	}
}

static void link_down(int i, int j)
{
	nodes[i].chan[j].up = nodes[j].chan[i].up = false;
	nodes[i].chan[j].close_pending = nodes[j].chan[i].close_pending = false;
	drop_between(i, j);
	repl_link_changed(nodes[i].r, peer_of(i, j));
	repl_link_changed(nodes[j].r, peer_of(j, i));
}

/* Closes repl asked for take effect now, from "the loop". */
static void process_closes(void)
{
	int i, j;

	for (i = 0; i < N; i++)
		for (j = 0; j < N; j++)
			if (i != j && nodes[i].chan[j].close_pending)
				link_down(i, j);
}

/* Deliver queued messages in order, except held ones; returns how many. */
static int deliver(void)
{
	int n = 0;
	size_t k;

	for (k = qhead; k < qtail; k++) {
		struct msg *m = &queue[k];
		Ekl__Envelope *env;
		int to = m->to;

		if (to < 0 || m->buf == NULL)
			continue;
		if (hold[m->from][to] == HOLD_ALL ||
		    hold[m->from][to] == (int)m->kind)
			continue;
		if (nodes[to].chan[m->from].up &&
		    !nodes[m->from].chan[to].close_pending) {
			env = ekl__envelope__unpack(NULL, m->len, m->buf);
			ck_assert_ptr_nonnull(env);
			repl_on_frame(nodes[to].r, peer_of(to, m->from),
				      &nodes[to].chan[m->from], env);
			ekl__envelope__free_unpacked(env, NULL);
			delivered[m->from][to][m->kind]++;
			n++;
		}
		ekl_free(m->buf);
		m->buf = NULL;
		process_closes();
	}
	while (qhead < qtail &&
	       (queue[qhead].buf == NULL || queue[qhead].to < 0)) {
		ekl_free(queue[qhead].buf);
		queue[qhead].buf = NULL;
		qhead++;
	}
	return n;
}

/* Queued messages from i to j of one kind (held or not). */
static int queued(int i, int j, Ekl__Envelope__MsgCase kind)
{
	int n = 0;
	size_t k;

	for (k = qhead; k < qtail; k++)
		if (queue[k].buf != NULL && queue[k].from == i &&
		    queue[k].to == j && queue[k].kind == kind)
			n++;
	return n;
}

static void tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
}

/* Run the loop (group commits, the syncer's answers, timers) and the
 * network until pred(arg) or `seconds` pass. */
static bool run_until(bool (*pred)(void *arg), void *arg, double seconds)
{
	ev_timer t;
	double end = ev_time() + seconds;

	ev_timer_init(&t, tick, 0.002, 0.002);
	ev_timer_start(loop, &t);
	for (;;) {
		ev_run(loop, EVRUN_NOWAIT);
		while (deliver() > 0)
			ev_run(loop, EVRUN_NOWAIT);
		if (pred(arg) || ev_time() >= end)
			break;
		ev_run(loop, EVRUN_ONCE);
	}
	ev_timer_stop(loop, &t);
	return pred(arg);
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static void run_for(double seconds)
{
	(void)run_until(never, NULL, seconds);
}

static bool answered(void *arg)
{
	return ((struct wr *)arg)->done > 0;
}

static void state_of(int i, struct store_state *st)
{
	store_state(repl_store(nodes[i].r), st);
}

/* Nodes in mask hold exactly what the primary holds, nothing in flight. */
static bool converged_mask(unsigned mask)
{
	struct store_state p, st;
	int i;

	state_of(PRIMARY, &p);
	for (i = 0; i < N; i++) {
		if (!(mask & (1u << i)) || i == PRIMARY)
			continue;
		state_of(i, &st);
		if (st.revision != p.revision ||
		    memcmp(st.digest, p.digest, STORE_DIGEST_LEN) != 0)
			return false;
	}
	return true;
}

static bool all_converged(void *arg)
{
	(void)arg;
	return converged_mask((1u << N) - 1);
}

static unsigned conv_mask;

static bool some_converged(void *arg)
{
	(void)arg;
	return converged_mask(conv_mask);
}

static int64_t ack_target;

/* The primary heard every peer in conv_mask acknowledge ack_target. */
static bool peers_acked(void *arg)
{
	int j;

	(void)arg;
	for (j = 0; j < N; j++) {
		int64_t applied = -1;

		if (j == PRIMARY || !(conv_mask & (1u << j)))
			continue;
		if (!repl_peer_view(nodes[PRIMARY].r, peer_of(PRIMARY, j),
				    &(const char *){NULL},
				    &(const char *){NULL}, &applied,
				    &(int64_t){0}) ||
		    applied < ack_target)
			return false;
	}
	return true;
}

static void wait_acked(int64_t rev, unsigned mask)
{
	ack_target = rev;
	conv_mask = mask;
	ck_assert_msg(run_until(peers_acked, NULL, 10),
		      "peers did not acknowledge revision %lld",
		      (long long)rev);
}

static void check_store(int i)
{
	char err[EKL_ERRLEN] = "";

	ck_assert_msg(store_check(repl_store(nodes[i].r), err) == 0, "%s: %s",
		      names[i], err);
}

/* ---- fixtures ---- */

static int64_t log_keep = 100000;
static bool skew_strict;
static int sync_here_max_us; /* 0: the node's default */

static void start_node(int i)
{
	struct repl_config rc;
	struct fnode *f = &nodes[i];
	char err[EKL_ERRLEN] = "";
	int j;

	f->io.data = f;
	f->io.n_peers = N - 1;
	f->io.peer_name = io_peer_name;
	f->io.carrier = io_carrier;
	f->io.chan_up = io_chan_up;
	f->io.chan_version = io_chan_version;
	f->io.send = io_send;
	f->io.send_all = io_send_all;
	f->io.close = io_close;
	f->io.down_reason = io_down_reason;
	f->io.write_done = io_write_done;
	for (j = 0; j < N; j++) {
		memset(&f->chan[j], 0, sizeof(f->chan[j]));
		f->chan[j].self = i;
		f->chan[j].other = j;
	}
	memset(&rc, 0, sizeof(rc));
	rc.loop = loop;
	rc.name = names[i];
	rc.vclass = POL_V_PRE154;
	rc.log_keep = log_keep;
	rc.skew_strict = skew_strict;
	rc.ack_timeout_ms = 5000;
	rc.sync_here_max_us = sync_here_max_us;
	ck_assert_msg(
	    repl_start(&rc, &f->io, f->dir, names[PRIMARY], &f->r, err) == 0,
	    "%s", err);
}

static void setup(void)
{
	const char *base = tu_tmpdir("repl");
	char cmd[1200];
	int i;

	ck_assert_ptr_nonnull(base);
	loop = ev_loop_new(EVFLAG_AUTO);
	queue = ekl_calloc(MAX_MSGS, sizeof(*queue));
	ck_assert_ptr_nonnull(queue);
	qhead = qtail = 0;
	memset(hold, 0, sizeof(hold));
	memset(sent, 0, sizeof(sent));
	memset(delivered, 0, sizeof(delivered));
	too_big = 0;
	for (i = 0; i < N; i++) {
		memset(&nodes[i], 0, sizeof(nodes[i]));
		snprintf(nodes[i].dir, sizeof(nodes[i].dir), "%s/%s", base,
			 names[i]);
		snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", nodes[i].dir);
		ck_assert_int_eq(system(cmd), 0);
		snprintf(nodes[i].version, sizeof(nodes[i].version), "X15.3.2");
	}
}

static void start_all(void)
{
	int i;

	for (i = 0; i < N; i++)
		start_node(i);
}

static void teardown(void)
{
	int i;

	for (i = 0; i < N; i++)
		repl_stop(nodes[i].r);
	while (qhead < qtail)
		ekl_free(queue[qhead++].buf);
	ekl_free(queue);
	ev_loop_destroy(loop);
	log_keep = 100000;
	skew_strict = false;
	sync_here_max_us = 0;
}

static void write_kv(int i, struct wr *w, const char *path, const char *value,
		     bool ack_all, int timeout_ms)
{
	memset(w, 0, sizeof(*w));
	repl_write(nodes[i].r, w, path, value, ack_all, timeout_ms);
}

/* Write `count` rows in one group on the primary and wait for the answers.
 */
static void write_group(const char *prefix, int count)
{
	struct wr *w = ekl_calloc((size_t)count, sizeof(*w));
	char path[64], value[64];
	int k;

	ck_assert_ptr_nonnull(w);
	for (k = 0; k < count; k++) {
		snprintf(path, sizeof(path), "%s/%05d", prefix, k);
		snprintf(value, sizeof(value), "v%d", k);
		repl_write(nodes[PRIMARY].r, &w[k], path, value, false, 0);
	}
	ck_assert(run_until(answered, &w[count - 1], 30));
	for (k = 0; k < count; k++)
		ck_assert_msg(w[k].done == 1 && w[k].ok, "%d: %s", k,
			      w[k].body);
	ekl_free(w);
}

static const char *view(int i, int j, int64_t *applied, int64_t *lag)
{
	const char *state = NULL, *reason = NULL;
	int64_t a = -1, l = -1;

	if (!repl_peer_view(nodes[i].r, peer_of(i, j), &state, &reason, &a, &l))
		return NULL;
	if (applied != NULL)
		*applied = a;
	if (lag != NULL)
		*lag = l;
	return state;
}

/* A row for a crafted Change (borrowed). */
static ProtobufCBinaryData bytes_of(const char *s, size_t len)
{
	ProtobufCBinaryData b;

	b.len = len;
	b.data = (uint8_t *)(uintptr_t)s;
	return b;
}

/* Node i closed its channel to j as "protocol", saying why. */
static void assert_refused(int i, int j, const char *why)
{
	ck_assert_str_eq(nodes[i].chan[j].close_code, "protocol");
	ck_assert_msg(strstr(nodes[i].chan[j].close_message, why) != NULL, "%s",
		      nodes[i].chan[j].close_message);
}

static void all_links_up(void)
{
	link_up(0, 1);
	link_up(0, 2);
	link_up(1, 2);
}

/* ---- streaming: order, convergence, status ---- */

START_TEST(test_stream_in_order)
{
	struct wr w[40];
	struct store_state st;
	char path[32], value[32];
	int64_t applied, lag;
	int k;

	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	/* Writes in separate groups and within one: each answer names its
	 * revision, in the order the writes were made. */
	for (k = 0; k < 40; k++) {
		snprintf(path, sizeof(path), "a/%02d", k);
		snprintf(value, sizeof(value), "value %d", k);
		write_kv(PRIMARY, &w[k], path, value, false, 0);
		if (k % 10 == 9)
			ck_assert(run_until(answered, &w[k], 10));
	}
	for (k = 0; k < 40; k++) {
		char want[32];

		snprintf(want, sizeof(want), "revision %d", k + 1);
		ck_assert_int_eq(w[k].done, 1);
		ck_assert(w[k].ok);
		ck_assert_str_eq(w[k].body, want);
	}
	write_kv(PRIMARY, &w[0], "a/07", NULL, false, 0); /* a delete */
	ck_assert(run_until(answered, &w[0], 10));
	ck_assert(run_until(all_converged, NULL, 10));
	state_of(2, &st);
	ck_assert_int_eq(st.revision, 41);
	ck_assert_int_eq(st.rows, 39);
	wait_acked(41, 7);
	for (k = 0; k < N; k++)
		check_store(k);
	/* Every batch went out in revision order and was applied once. */
	ck_assert_int_eq(nodes[1].chan[0].closes + nodes[2].chan[0].closes, 0);
	ck_assert_str_eq(view(0, 1, &applied, &lag), "replicating");
	ck_assert_int_eq(applied, 41);
	ck_assert_int_eq(lag, 0);
	ck_assert_str_eq(view(1, 0, &applied, &lag), "replicating");
	ck_assert_int_eq(applied, 41);
	/* Two peers of the primary do not replicate with each other. */
	ck_assert_ptr_null(view(1, 2, NULL, NULL));
	ck_assert_int_eq(sent[1][2][EKL__ENVELOPE__MSG_BATCH], 0);
}
END_TEST

START_TEST(test_write_on_peer_refused)
{
	struct wr w;

	start_all();
	all_links_up();
	write_kv(1, &w, "a", "1", false, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert_int_eq(w.done, 1);
	ck_assert(!w.ok);
	ck_assert_msg(strstr(w.body, "send writes to n1, the primary of epoch "
				     "1") != NULL,
		      "%s", w.body);
}
END_TEST

/* ---- flow control: at most WINDOW (4) batches unacknowledged ---- */

START_TEST(test_window)
{
	struct store_state st;
	int max_seen = 0, rounds = 0;
	int64_t last_rev = 0;

	start_all();
	link_up(0, 1);
	run_for(0.1);
	/* n2 gets no batch for now. */
	hold[0][1] = EKL__ENVELOPE__MSG_BATCH;
	write_group("w", 6500); /* 7 batches of at most 1000 changes */
	run_for(0.2);
	ck_assert_int_eq(queued(0, 1, EKL__ENVELOPE__MSG_BATCH), 4);
	ck_assert_str_eq(view(0, 1, NULL, NULL), "catching-up");
	/* Let one batch through at a time: each ack opens the window by
	 * one, never more than 4 wait. */
	while (!converged_mask(3) && rounds++ < 100) {
		size_t k;
		int n;

		for (k = qhead; k < qtail; k++)
			if (queue[k].buf != NULL && queue[k].from == 0 &&
			    queue[k].to == 1 &&
			    queue[k].kind == EKL__ENVELOPE__MSG_BATCH) {
				Ekl__Envelope *env = ekl__envelope__unpack(
				    NULL, queue[k].len, queue[k].buf);

				ck_assert_ptr_nonnull(env);
				/* In order: each starts after the last. */
				ck_assert_int_eq(env->batch->changes[0]->rev,
						 last_rev + 1);
				last_rev =
				    (int64_t)env->batch
					->changes[env->batch->n_changes - 1]
					->rev;
				ck_assert_uint_le(env->batch->n_changes, 1000);
				repl_on_frame(nodes[1].r, peer_of(1, 0),
					      &nodes[1].chan[0], env);
				ekl__envelope__free_unpacked(env, NULL);
				ekl_free(queue[k].buf);
				queue[k].buf = NULL;
				break;
			}
		run_for(0.05);
		n = queued(0, 1, EKL__ENVELOPE__MSG_BATCH);
		if (n > max_seen)
			max_seen = n;
		ck_assert_int_le(n, 4);
	}
	ck_assert_int_eq(max_seen, 4);
	ck_assert_int_eq(last_rev, 6500);
	conv_mask = 3;
	ck_assert(run_until(some_converged, NULL, 10));
	state_of(1, &st);
	ck_assert_int_eq(st.revision, 6500);
	ck_assert_int_eq(sent[0][1][EKL__ENVELOPE__MSG_BATCH], 7);
	check_store(1);
}
END_TEST

/* ---- exactly once: repeats are skipped, a gap closes the link ---- */

/* Capture (copy) the next message from i to j of a kind. */
static Ekl__Envelope *peek(int i, int j, Ekl__Envelope__MsgCase kind)
{
	size_t k;

	for (k = qhead; k < qtail; k++)
		if (queue[k].buf != NULL && queue[k].from == i &&
		    queue[k].to == j && queue[k].kind == kind)
			return ekl__envelope__unpack(NULL, queue[k].len,
						     queue[k].buf);
	return NULL;
}

static bool n2_acked_1(void *arg)
{
	int64_t applied = 0;

	(void)arg;
	return view(0, 1, &applied, NULL) != NULL && applied == 1;
}

START_TEST(test_repeat_batch_applied_once)
{
	struct store_state before, after;
	Ekl__Envelope *batch;
	struct wr w;

	start_all();
	link_up(0, 1);
	run_for(0.1);
	hold[0][1] = EKL__ENVELOPE__MSG_BATCH;
	write_kv(PRIMARY, &w, "x", "1", false, 0);
	ck_assert(run_until(answered, &w, 10));
	batch = peek(0, 1, EKL__ENVELOPE__MSG_BATCH);
	ck_assert_ptr_nonnull(batch);
	hold[0][1] = 0;
	conv_mask = 3;
	ck_assert(run_until(some_converged, NULL, 10));
	ck_assert(run_until(n2_acked_1, NULL, 10));
	state_of(1, &before);
	ck_assert_int_eq(before.revision, 1);
	ck_assert_int_eq(sent[1][0][EKL__ENVELOPE__MSG_ACK], 1);
	/* The same batch again (a stream restarted after a carrier change
	 * resends what was not yet acknowledged): skipped, acknowledged, the
	 * link stays up. */
	repl_on_frame(nodes[1].r, peer_of(1, 0), &nodes[1].chan[0], batch);
	run_for(0.1);
	state_of(1, &after);
	ck_assert_int_eq(after.revision, 1);
	ck_assert(memcmp(before.digest, after.digest, STORE_DIGEST_LEN) == 0);
	ck_assert_int_eq(nodes[1].chan[0].closes, 0);
	ck_assert(nodes[1].chan[0].up);
	ck_assert_int_eq(sent[1][0][EKL__ENVELOPE__MSG_ACK], 2);
	check_store(1);
	ekl__envelope__free_unpacked(batch, NULL);
}
END_TEST

START_TEST(test_restart_after_carrier_change)
{
	int i;

	struct store_state st;
	Ekl__Envelope *batch;

	start_all();
	link_up(0, 1);
	write_group("r", 100);
	wait_acked(100, 3);
	hold[1][0] = EKL__ENVELOPE__MSG_ACK; /* lost with the link */
	write_group("s", 200);
	ck_assert(run_until(some_converged, NULL, 10)); /* applied: 300 */
	link_down(0, 1);
	hold[1][0] = 0;
	/* The new carrier: the primary restarts from the last acknowledged
	 * revision (100) at once; n2 already has 101..300. */
	link_up(0, 1);
	ck_assert_int_eq(queued(0, 1, EKL__ENVELOPE__MSG_BATCH), 1);
	batch = peek(0, 1, EKL__ENVELOPE__MSG_BATCH);
	ck_assert_ptr_nonnull(batch);
	ck_assert_int_eq(batch->batch->changes[0]->rev, 101);
	ck_assert_int_eq(
	    batch->batch->changes[batch->batch->n_changes - 1]->rev, 300);
	ekl__envelope__free_unpacked(batch, NULL);
	run_for(0.2);
	ck_assert(converged_mask(3));
	state_of(1, &st);
	ck_assert_int_eq(st.revision, 300);
	ck_assert_int_eq(nodes[1].chan[0].closes, 0);
	for (i = 0; i < 2; i++)
		check_store(i);
}
END_TEST

START_TEST(test_gap_closes_link)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplBatch b = EKL__REPL_BATCH__INIT;
	Ekl__Change c = EKL__CHANGE__INIT, *cs[1] = {&c};
	struct store_state st;

	start_all();
	link_up(0, 1);
	write_group("g", 5);
	conv_mask = 3;
	ck_assert(run_until(some_converged, NULL, 10));
	/* Revision 7 after 5: revision 6 is missing. */
	c.rev = 7;
	c.epoch = 1;
	c.path = bytes_of("g/late", 6);
	c.value = bytes_of("v", 1);
	b.epoch = 1;
	b.n_changes = 1;
	b.changes = cs;
	b.primary_revision = 7;
	env.msg_case = EKL__ENVELOPE__MSG_BATCH;
	env.batch = &b;
	repl_on_frame(nodes[1].r, peer_of(1, 0), &nodes[1].chan[0], &env);
	ck_assert_int_eq(nodes[1].chan[0].closes, 1);
	assert_refused(1, 0, "change 7 follows revision 5: a gap");
	state_of(1, &st);
	ck_assert_int_eq(st.revision, 5); /* nothing applied */
	check_store(1);
}
END_TEST

START_TEST(test_batch_from_non_primary_refused)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplBatch b = EKL__REPL_BATCH__INIT;
	Ekl__Change c = EKL__CHANGE__INIT, *cs[1] = {&c};
	struct store_state st;

	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	c.rev = 1;
	c.epoch = 1;
	c.path = bytes_of("p", 1);
	c.value = bytes_of("v", 1);
	b.epoch = 1;
	b.n_changes = 1;
	b.changes = cs;
	env.msg_case = EKL__ENVELOPE__MSG_BATCH;
	env.batch = &b;
	/* n3 streams to n2, but n1 is the primary of epoch 1. */
	repl_on_frame(nodes[1].r, peer_of(1, 2), &nodes[1].chan[2], &env);
	assert_refused(1, 2, "batch from n3, but the primary of epoch 1 is n1");
	state_of(1, &st);
	ck_assert_int_eq(st.revision, 0);
}
END_TEST

/* A ReplState naming a primary outside the cluster (here not even UTF-8)
 * closes the channel and is not adopted: the node used to take it as the
 * primary of a new epoch, refuse every write and print it in its status
 * JSON as invalid UTF-8. Found by fuzz_repl
 * (tests/fuzz/corpus/fuzz_repl/regress-primary-not-member). */
START_TEST(test_state_primary_not_member_refused)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplState rs = EKL__REPL_STATE__INIT;
	struct store_state st;

	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	rs.epoch = 4;
	rs.primary = "\xff\xfe";
	env.msg_case = EKL__ENVELOPE__MSG_REPL_STATE;
	env.repl_state = &rs;
	repl_on_frame(nodes[1].r, peer_of(1, 0), &nodes[1].chan[0], &env);
	assert_refused(1, 0, "not a member of the cluster");
	rs.primary = "n9";
	repl_on_frame(nodes[2].r, peer_of(2, 0), &nodes[2].chan[0], &env);
	ck_assert_str_eq(nodes[2].chan[0].close_code, "protocol");
	state_of(1, &st);
	ck_assert_int_eq(st.epoch, 1);
	ck_assert_str_eq(st.primary, "n1");
	state_of(2, &st);
	ck_assert_int_eq(st.epoch, 1);
	ck_assert_str_eq(st.primary, "n1");
	/* Members are compared as names are elsewhere: without case. */
	rs.primary = "N1";
	rs.epoch = 1;
	repl_on_frame(nodes[2].r, peer_of(2, 1), &nodes[2].chan[1], &env);
	ck_assert_int_eq(nodes[2].chan[1].closes, 0);
}
END_TEST

/* A ReplState naming another primary for our own epoch closes the
 * channel: every epoch is opened by one node only, and two histories of
 * one epoch would be judged one. An epoch beyond REPL_EPOCH_MAX (whose
 * successor would overflow) is refused in every message, never adopted. */
START_TEST(test_state_two_primaries_refused)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplState rs = EKL__REPL_STATE__INIT;
	Ekl__ReplBatch b = EKL__REPL_BATCH__INIT;
	struct store_state st;

	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	rs.epoch = 1;
	rs.primary = "n2";
	env.msg_case = EKL__ENVELOPE__MSG_REPL_STATE;
	env.repl_state = &rs;
	repl_on_frame(nodes[2].r, peer_of(2, 1), &nodes[2].chan[1], &env);
	assert_refused(2, 1, "two primaries of one epoch");
	rs.epoch = (uint64_t)REPL_EPOCH_MAX + 1;
	repl_on_frame(nodes[1].r, peer_of(1, 2), &nodes[1].chan[2], &env);
	assert_refused(1, 2, "beyond the largest");
	b.epoch = UINT64_MAX;
	b.primary_revision = 1;
	env.msg_case = EKL__ENVELOPE__MSG_BATCH;
	env.batch = &b;
	repl_on_frame(nodes[1].r, peer_of(1, 0), &nodes[1].chan[0], &env);
	ck_assert_str_eq(nodes[1].chan[0].close_code, "protocol");
	state_of(1, &st);
	ck_assert_int_eq(st.epoch, 1);
	ck_assert_str_eq(st.primary, "n1");
	state_of(2, &st);
	ck_assert_int_eq(st.epoch, 1);
	ck_assert_str_eq(st.primary, "n1");
	ck_assert_int_eq(repl_epoch_promoted(REPL_EPOCH_MAX + 1, 0), -1);
	ck_assert_int_eq(repl_epoch_restarted(REPL_EPOCH_MAX + 1, 0), -1);
	ck_assert_int_eq(repl_epoch_promoted(-1, 0), -1);
	ck_assert_int_gt(repl_epoch_promoted(REPL_EPOCH_MAX, 63),
			 REPL_EPOCH_MAX);
	ck_assert_int_gt(repl_epoch_restarted(REPL_EPOCH_MAX, 63),
			 REPL_EPOCH_MAX);
}
END_TEST

/* A SnapBegin sent to the primary by a peer closes the channel: only the
 * primary of the epoch sends snapshots. The primary used to stage it over
 * that peer's outgoing snapshot state, and the peer's next ack made it
 * send a chunk from a snapshot reader it did not have (a NULL dereference:
 * two frames from a peer with a valid certificate crashed the primary).
 * Found by fuzz_repl (tests/fuzz/corpus/fuzz_repl/regress-snap-to-primary).
 */
START_TEST(test_snapshot_to_primary_refused)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__SnapBegin sb = EKL__SNAP_BEGIN__INIT;
	Ekl__ReplAck ack = EKL__REPL_ACK__INIT;
	uint8_t digest[STORE_DIGEST_LEN] = {0};
	struct store_state st;

	start_all();
	all_links_up();
	write_group("s", 3);
	wait_acked(3, 7);
	sb.epoch = 1;
	sb.revision = 40;
	sb.digest.data = digest;
	sb.digest.len = sizeof(digest);
	env.msg_case = EKL__ENVELOPE__MSG_SNAP_BEGIN;
	env.snap_begin = &sb;
	repl_on_frame(nodes[0].r, peer_of(0, 1), &nodes[0].chan[1], &env);
	assert_refused(0, 1,
		       "snapshot from n2, but the primary of epoch 1 is n1");
	/* Its ack changes nothing and crashes nothing. */
	ack.epoch = 1;
	ack.revision = 3;
	env.msg_case = EKL__ENVELOPE__MSG_ACK;
	env.ack = &ack;
	repl_on_frame(nodes[0].r, peer_of(0, 1), &nodes[0].chan[1], &env);
	state_of(0, &st);
	ck_assert_int_eq(st.epoch, 1);
	ck_assert_str_eq(st.primary, "n1");
	ck_assert_int_eq(st.revision, 3);
	check_store(0);
}
END_TEST

/* ---- epochs: a demoted primary is refused and learns ---- */

static bool n1_matches_n2(void *arg)
{
	struct store_state a, b;

	(void)arg;
	state_of(0, &a);
	state_of(1, &b);
	return a.revision == b.revision &&
	       memcmp(a.digest, b.digest, STORE_DIGEST_LEN) == 0;
}

START_TEST(test_stale_epoch_refused)
{
	struct store_state st;
	char err[EKL_ERRLEN] = "";
	struct wr w;
	char *value = NULL;

	start_all();
	all_links_up();
	write_group("e", 3);
	wait_acked(3, 7);
	/* n1 is cut off; n2 becomes the primary of its own epoch of the
	 * next band and n3 follows. */
	link_down(0, 1);
	link_down(0, 2);
	ck_assert_int_eq(repl_promote(nodes[1].r, err), 0);
	run_for(0.1);
	state_of(2, &st);
	ck_assert_int_eq(st.epoch, REPL_EPOCH_BAND + 1); /* n2 ranks 1 */
	ck_assert_str_eq(st.primary, "n2");
	/* n1 still thinks it is the primary and takes a write. */
	write_kv(0, &w, "e/stale", "lost", false, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert(w.ok);
	/* n1 comes back: it streams its epoch-1 batch at once. */
	link_up(0, 2);
	ck_assert_int_eq(queued(0, 2, EKL__ENVELOPE__MSG_BATCH), 1);
	run_for(0.2);
	/* n3 did not apply it, and told n1 the new epoch. */
	ck_assert_int_eq(
	    store_get(repl_store(nodes[2].r), "e/stale", &value, err),
	    EKL_ENOENT);
	state_of(2, &st);
	ck_assert_int_eq(st.revision, 3);
	ck_assert_int_ge(sent[2][0][EKL__ENVELOPE__MSG_REPL_STATE], 1);
	state_of(0, &st);
	ck_assert_int_eq(st.epoch, REPL_EPOCH_BAND + 1);
	ck_assert_str_eq(st.primary, "n2");
	/* n1 now sends writes to n2. */
	write_kv(0, &w, "e/next", "x", false, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert(!w.ok);
	ck_assert_msg(strstr(w.body, "send writes to n2, the primary of "
				     "epoch 1048577") != NULL,
		      "%s", w.body);
	/* Once linked to the new primary, n1 gets its history back (its
	 * own epoch-1 write diverged: a snapshot replaces it). */
	link_up(0, 1);
	ck_assert(run_until(n1_matches_n2, NULL, 10));
	ck_assert_int_eq(delivered[1][0][EKL__ENVELOPE__MSG_SNAP_BEGIN], 1);
	ck_assert_int_eq(
	    store_get(repl_store(nodes[0].r), "e/stale", &value, err),
	    EKL_ENOENT);
	check_store(0);
}
END_TEST

static bool n1_follows_n2(void *arg)
{
	struct store_state st;

	(void)arg;
	state_of(0, &st);
	return strcmp(st.primary, "n2") == 0;
}

/* A primary cut off from a promotion and restarted meanwhile (every start
 * of a primary opens a new epoch) must not end up with the promoted node
 * in one epoch with two primaries: it opens a lower epoch, and follows n2
 * once it hears of it. */
START_TEST(test_restarted_primary_follows_promotion)
{
	struct store_state st;
	char err[EKL_ERRLEN] = "";
	struct wr w;

	start_all();
	all_links_up();
	write_group("r", 2);
	wait_acked(2, 7);
	link_down(0, 1);
	link_down(0, 2);
	ck_assert_int_eq(repl_promote(nodes[1].r, err), 0);
	run_for(0.1);
	repl_stop(nodes[0].r);
	nodes[0].r = NULL;
	start_node(0);
	state_of(0, &st);
	ck_assert_str_eq(st.primary, "n1");
	ck_assert_int_lt(st.epoch, REPL_EPOCH_BAND);
	link_up(0, 1);
	link_up(0, 2);
	ck_assert_msg(run_until(n1_follows_n2, NULL, 10),
		      "n1 did not adopt n2's epoch: two primaries");
	state_of(0, &st);
	ck_assert_int_eq(st.epoch, REPL_EPOCH_BAND + 1);
	/* Writes to n2 reach both peers (--ack all), and n1 refuses them. */
	write_kv(1, &w, "r/after", "x", true, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert_msg(w.ok, "%s", w.body);
	ck_assert(run_until(n1_matches_n2, NULL, 10));
	write_kv(0, &w, "r/n1", "x", false, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert(!w.ok);
}
END_TEST

/* The epochs a member opens: after any epoch, each member's promotion
 * and restart epochs are above it and its own (congruent to its rank), so
 * no two members ever open the same one; a restart stays below every
 * promotion from the same band. */
START_TEST(test_epochs_are_each_members_own)
{
	static const int64_t from[] = {0,
				       1,
				       2,
				       63,
				       64,
				       65,
				       1000,
				       REPL_EPOCH_BAND - REPL_EPOCH_STRIDE - 1,
				       REPL_EPOCH_BAND - 1,
				       REPL_EPOCH_BAND,
				       REPL_EPOCH_BAND + 5,
				       3 * REPL_EPOCH_BAND + 100};
	size_t i;
	int a, b;

	for (i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		int64_t e = from[i];

		for (a = 0; a < REPL_EPOCH_STRIDE; a++) {
			int64_t p = repl_epoch_promoted(e, a);
			int64_t q = repl_epoch_restarted(e, a);

			ck_assert_int_gt(p, e);
			ck_assert_int_gt(q, e);
			ck_assert_int_le(q - e, REPL_EPOCH_STRIDE);
			ck_assert_int_eq(p % REPL_EPOCH_STRIDE, a);
			ck_assert_int_eq(q % REPL_EPOCH_STRIDE, a);
			ck_assert_int_eq(p / REPL_EPOCH_BAND,
					 e / REPL_EPOCH_BAND + 1);
			for (b = 0; b < REPL_EPOCH_STRIDE; b++) {
				if (b != a)
					ck_assert_int_ne(
					    p, repl_epoch_promoted(e, b));
				if (e % REPL_EPOCH_BAND <
				    REPL_EPOCH_BAND - REPL_EPOCH_STRIDE)
					ck_assert_int_lt(
					    q, repl_epoch_promoted(e, b));
			}
		}
	}
	/* The seeded epoch 1, then restarts and a promotion. */
	ck_assert_int_eq(repl_epoch_restarted(1, 0), 64);
	ck_assert_int_eq(repl_epoch_restarted(1, 1), 65);
	ck_assert_int_eq(repl_epoch_restarted(1, 2), 2);
	ck_assert_int_eq(repl_epoch_restarted(64, 0), 128);
	ck_assert_int_eq(repl_epoch_promoted(130, 1), REPL_EPOCH_BAND + 1);
	ck_assert_int_eq(repl_epoch_promoted(REPL_EPOCH_BAND + 1, 2),
			 2 * REPL_EPOCH_BAND + 2);
}
END_TEST

/* Every node follows n3 and holds what n3 holds. */
static bool all_follow_n3(void *arg)
{
	struct store_state p, st;
	int i;

	(void)arg;
	state_of(2, &p);
	for (i = 0; i < N; i++) {
		state_of(i, &st);
		if (strcmp(st.primary, "n3") != 0 || st.epoch != p.epoch ||
		    st.revision != p.revision ||
		    memcmp(st.digest, p.digest, STORE_DIGEST_LEN) != 0)
			return false;
	}
	return true;
}

/* Two nodes promoted on either side of a partition open two different
 * epochs (every epoch a node opens is its own), so once the links are
 * back the higher one wins everywhere, and what the other primary wrote
 * meanwhile is replaced by the winner's history. With one epoch for both,
 * each stayed a primary of it and took writes for good, and a later
 * primary judged their two histories of that epoch the same. */
START_TEST(test_double_promotion_one_winner)
{
	struct store_state a, b;
	char err[EKL_ERRLEN] = "";
	char *value = NULL;
	struct wr w;
	int i;

	start_all();
	all_links_up();
	write_group("d", 2);
	wait_acked(2, 7);
	link_down(0, 1);
	link_down(0, 2);
	link_down(1, 2);
	ck_assert_int_eq(repl_promote(nodes[1].r, err), 0);
	ck_assert_int_eq(repl_promote(nodes[2].r, err), 0);
	run_for(0.1);
	state_of(1, &a);
	state_of(2, &b);
	ck_assert_str_eq(a.primary, "n2");
	ck_assert_str_eq(b.primary, "n3");
	ck_assert_int_ne(a.epoch, b.epoch);
	ck_assert_int_ge(a.epoch, REPL_EPOCH_BAND);
	ck_assert_int_ge(b.epoch, REPL_EPOCH_BAND);
	/* Each takes a write while it is alone. */
	write_kv(1, &w, "d/n2", "lost", false, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert_msg(w.ok, "%s", w.body);
	write_kv(2, &w, "d/n3", "kept", false, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert_msg(w.ok, "%s", w.body);
	/* n3 ranks above n2 among the members: its epoch is the higher. */
	ck_assert_int_gt(b.epoch, a.epoch);
	link_up(0, 1);
	link_up(0, 2);
	link_up(1, 2);
	ck_assert_msg(run_until(all_follow_n3, NULL, 10),
		      "the nodes did not settle on n3: two primaries");
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(
		    store_get(repl_store(nodes[i].r), "d/n2", &value, err),
		    EKL_ENOENT);
		ck_assert_int_eq(
		    store_get(repl_store(nodes[i].r), "d/n3", &value, err), 0);
		ekl_free(value);
		value = NULL;
		check_store(i);
	}
	write_kv(1, &w, "d/after", "x", false, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert(!w.ok);
	ck_assert_msg(strstr(w.body, "send writes to n3") != NULL, "%s",
		      w.body);
}
END_TEST

/* ---- --ack all: the answer waits for every linked peer ---- */

static bool n2_ack_delivered(void *arg)
{
	(void)arg;
	return delivered[1][0][EKL__ENVELOPE__MSG_ACK] > 0;
}

START_TEST(test_ack_all_waits_for_every_peer)
{
	struct wr w;

	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	hold[2][0] = EKL__ENVELOPE__MSG_ACK; /* n3's acks wait */
	write_kv(PRIMARY, &w, "k", "v", true, 0);
	ck_assert(run_until(n2_ack_delivered, NULL, 10));
	/* Committed, n2 confirmed, n3 not yet: no answer. */
	ck_assert_int_eq(w.done, 0);
	ck_assert(converged_mask(7)); /* n3 applied it, its ack waits */
	hold[2][0] = 0;
	ck_assert(run_until(answered, &w, 10));
	ck_assert_int_eq(w.done, 1);
	ck_assert(w.ok);
	ck_assert_str_eq(w.body, "revision 1");
	/* ack=primary answers after the commit alone. */
	hold[1][0] = hold[2][0] = EKL__ENVELOPE__MSG_ACK;
	write_kv(PRIMARY, &w, "k", "w", false, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert(w.ok);
	ck_assert_str_eq(w.body, "revision 2");
}
END_TEST

START_TEST(test_ack_all_peer_lost)
{
	struct wr w;

	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	hold[2][0] = EKL__ENVELOPE__MSG_ACK;
	write_kv(PRIMARY, &w, "k", "v", true, 0);
	run_for(0.3);
	ck_assert_int_eq(w.done, 0);
	link_down(0, 2);
	ck_assert_int_eq(w.done, 1);
	ck_assert(!w.ok);
	ck_assert_msg(strstr(w.body, "the link to n3 went down before it "
				     "confirmed") != NULL,
		      "%s", w.body);
	/* A peer not linked at commit time is not waited for. */
	write_kv(PRIMARY, &w, "k", "w", true, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert(w.ok);
	ck_assert_str_eq(w.body, "revision 2");
}
END_TEST

START_TEST(test_ack_all_timeout)
{
	struct wr w;
	double t0;

	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	hold[2][0] = EKL__ENVELOPE__MSG_ACK;
	t0 = ev_time();
	write_kv(PRIMARY, &w, "k", "v", true, 200);
	ck_assert(run_until(answered, &w, 10));
	ck_assert(!w.ok);
	ck_assert_msg(strstr(w.body, "not confirmed in time by: n3;") != NULL,
		      "%s", w.body);
	/* Not before the timeout (give or take the loop's clock). */
	ck_assert_double_ge(ev_time() - t0, 0.15);
	/* It stays committed: n3 has it, and its ack is welcome later. */
	hold[2][0] = 0;
	ck_assert(run_until(all_converged, NULL, 10));
}
END_TEST

START_TEST(test_stop_answers_waiting_writes)
{
	struct wr queued_w, waiting;

	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	hold[1][0] = EKL__ENVELOPE__MSG_ACK;
	write_kv(PRIMARY, &waiting, "k", "v", true, 0);
	run_for(0.2);
	write_kv(PRIMARY, &queued_w, "k2", "v", false, 0); /* not committed */
	repl_stop(nodes[PRIMARY].r);
	nodes[PRIMARY].r = NULL;
	ck_assert_int_eq(waiting.done, 1);
	ck_assert(!waiting.ok);
	ck_assert_str_eq(waiting.body, "node stopping before peers confirmed");
	ck_assert_int_eq(queued_w.done, 1);
	ck_assert_str_eq(queued_w.body, "node stopping");
}
END_TEST

/* ---- snapshots: a peer behind the compacted log ---- */

START_TEST(test_snapshot_handoff)
{
	struct store_state p, st;
	int64_t applied;
	struct json j;
	int rounds = 0;

	log_keep = 10;
	start_all();
	/* 5100 rows, and compaction leaves ~10 log entries: n2 (at 0) can
	 * only get a snapshot, in 6 chunks of at most 1000 rows. */
	write_group("s", 5000);
	write_group("t", 100);
	state_of(PRIMARY, &p);
	ck_assert_int_gt(p.log_first, 1);
	hold[1][0] = EKL__ENVELOPE__MSG_SNAP_ACK; /* n2's SnapAcks wait */
	link_up(0, 1);
	run_for(0.2);
	ck_assert_int_eq(sent[0][1][EKL__ENVELOPE__MSG_SNAP_BEGIN], 1);
	ck_assert_str_eq(view(0, 1, NULL, NULL), "snapshot");
	ck_assert_str_eq(view(1, 0, NULL, NULL), "snapshot");
	/* At most 4 chunks wait for acknowledgement. */
	ck_assert_int_eq(sent[0][1][EKL__ENVELOPE__MSG_SNAP_CHUNK], 4);
	/* One acknowledgement at a time: never more than 4 in flight. */
	while (!converged_mask(3) && rounds++ < 100) {
		size_t k;

		for (k = qhead; k < qtail; k++)
			if (queue[k].buf != NULL && queue[k].from == 1 &&
			    queue[k].to == 0 &&
			    queue[k].kind == EKL__ENVELOPE__MSG_SNAP_ACK) {
				Ekl__Envelope *env = ekl__envelope__unpack(
				    NULL, queue[k].len, queue[k].buf);

				repl_on_frame(nodes[0].r, peer_of(0, 1),
					      &nodes[0].chan[1], env);
				ekl__envelope__free_unpacked(env, NULL);
				ekl_free(queue[k].buf);
				queue[k].buf = NULL;
				delivered[1][0][EKL__ENVELOPE__MSG_SNAP_ACK]++;
				break;
			}
		run_for(0.02);
		ck_assert_int_le(
		    sent[0][1][EKL__ENVELOPE__MSG_SNAP_CHUNK] +
			sent[0][1][EKL__ENVELOPE__MSG_SNAP_END] -
			delivered[1][0][EKL__ENVELOPE__MSG_SNAP_ACK],
		    4);
	}
	hold[1][0] = 0;
	conv_mask = 3;
	ck_assert(run_until(some_converged, NULL, 10));
	ck_assert_int_eq(sent[0][1][EKL__ENVELOPE__MSG_SNAP_CHUNK], 6);
	ck_assert_int_eq(sent[0][1][EKL__ENVELOPE__MSG_SNAP_END], 1);
	state_of(1, &st);
	ck_assert_int_eq(st.revision, p.revision);
	ck_assert_int_eq(st.rows, 5100);
	check_store(1);
	/* The rows the snapshot replaced were renamed aside by the swap and
	 * are deleted by the loop when it is idle. */
	run_for(0.05);
	ck_assert(!store_trash_pending(repl_store(nodes[1].r)));
	check_store(1);
	/* Then the stream resumes from the snapshot's revision. */
	write_group("u", 3);
	wait_acked(p.revision + 3, 3);
	ck_assert_str_eq(view(0, 1, &applied, NULL), "replicating");
	ck_assert_int_eq(applied, p.revision + 3);
	ck_assert_int_eq(sent[0][1][EKL__ENVELOPE__MSG_SNAP_BEGIN], 1);
	ck_assert_int_gt(sent[0][1][EKL__ENVELOPE__MSG_BATCH], 0);
	ck_assert_int_eq(nodes[1].chan[0].closes, 0);
	/* The status counts it. */
	json_init(&j);
	repl_peer_json(nodes[0].r, peer_of(0, 1), &j);
	ck_assert_ptr_nonnull(json_finish(&j));
	ck_assert_msg(strstr(json_finish(&j), "\"snapshots\":1") != NULL, "%s",
		      json_finish(&j));
	json_close(&j);
}
END_TEST

/* ---- acknowledgements that cannot be true ---- */

/* Deliver env to `to` as if `from` had sent it, then let closes happen. */
static void inject(int from, int to, Ekl__Envelope *env)
{
	repl_on_frame(nodes[to].r, peer_of(to, from), &nodes[to].chan[from],
		      env);
	process_closes();
}

static void inject_ack(int from, int to, uint64_t epoch, uint64_t rev)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplAck ack = EKL__REPL_ACK__INIT;

	ack.epoch = epoch;
	ack.revision = rev;
	env.msg_case = EKL__ENVELOPE__MSG_ACK;
	env.ack = &ack;
	inject(from, to, &env);
}

START_TEST(test_ack_above_sent_refused)
{
	struct wr w;
	int64_t applied = -1;

	start_all();
	all_links_up();
	write_kv(PRIMARY, &w, "k", "v", false, 0);
	ck_assert(run_until(answered, &w, 10));
	wait_acked(1, 7);
	/* n2's real acks wait; an --ack all write waits for n2 and n3. */
	hold[1][0] = EKL__ENVELOPE__MSG_ACK;
	write_kv(PRIMARY, &w, "k", "w", true, 0);
	run_for(0.3);
	ck_assert_int_eq(w.done, 0);
	/* n2 "acknowledges" revision 999999: the link is closed as
	 * protocol and the write does not count it. */
	inject_ack(1, 0, 1, 999999);
	ck_assert_int_eq(nodes[0].chan[1].closes, 1);
	assert_refused(0, 1,
		       "acknowledged revision 999999, but the highest revision "
		       "sent to it in epoch 1 is 2");
	ck_assert_int_eq(w.done, 1);
	ck_assert_msg(!w.ok &&
			  strstr(w.body, "the link to n2 went down") != NULL,
		      "%s", w.body);
	ck_assert_ptr_nonnull(view(0, 1, &applied, NULL));
	ck_assert_int_lt(applied, 999999);
	/* A true ack of what was sent still counts, on a new link. */
	hold[1][0] = 0;
	link_up(0, 1);
	ck_assert(run_until(all_converged, NULL, 10));
	wait_acked(2, 7);
}
END_TEST

START_TEST(test_ack_other_epoch)
{
	struct wr w;
	int64_t applied = -1;

	start_all();
	all_links_up();
	write_kv(PRIMARY, &w, "k", "v", false, 0);
	ck_assert(run_until(answered, &w, 10));
	wait_acked(1, 7);
	hold[1][0] = EKL__ENVELOPE__MSG_ACK;
	write_kv(PRIMARY, &w, "k", "w", true, 0);
	run_for(0.3);
	/* From an older epoch: sent before n2 heard of ours. Dropped: not
	 * counted, the link stays. */
	inject_ack(1, 0, 0, 2);
	ck_assert_int_eq(nodes[0].chan[1].closes, 0);
	ck_assert_int_eq(w.done, 0);
	ck_assert_ptr_nonnull(view(0, 1, &applied, NULL));
	ck_assert_int_eq(applied, 1);
	/* From an epoch this primary never reached: a lie. */
	inject_ack(1, 0, 5, 2);
	ck_assert_int_eq(nodes[0].chan[1].closes, 1);
	assert_refused(
	    0, 1,
	    "acknowledgement from epoch 5, but this primary is in epoch 1");
	ck_assert_int_eq(w.done, 1);
	ck_assert(!w.ok);
	/* A peer acknowledges nothing to a node that is not the primary. */
	inject_ack(0, 1, 1, 1);
	ck_assert_int_eq(nodes[1].chan[0].closes, 0);
}
END_TEST

/* A peer that claims revisions we never made gets a snapshot, and its
 * claim counts for nothing meanwhile. */
START_TEST(test_claimed_revision_not_counted)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplState rs = EKL__REPL_STATE__INIT;
	struct wr w;
	int64_t applied = -1;

	start_all();
	all_links_up();
	write_kv(PRIMARY, &w, "k", "v", false, 0);
	ck_assert(run_until(answered, &w, 10));
	wait_acked(1, 7);
	rs.epoch = 1;
	rs.primary = "n1";
	rs.revision = 999999;
	rs.rev_epoch = 1;
	env.msg_case = EKL__ENVELOPE__MSG_REPL_STATE;
	env.repl_state = &rs;
	inject(1, 0, &env);
	ck_assert_str_eq(view(0, 1, &applied, NULL), "snapshot");
	ck_assert_int_eq(applied, 0);
	/* The snapshot goes through and n2 counts again from its ack. */
	ck_assert(run_until(all_converged, NULL, 10));
	wait_acked(1, 7);
}
END_TEST

/* A ReplState reports what a peer committed, which it may not have synced
 * yet: it never confirms an --ack all write; only a ReplAck (sent after the
 * peer's fdatasync) does. */
START_TEST(test_state_is_not_an_ack)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplState rs = EKL__REPL_STATE__INIT;
	struct store_state st;
	struct wr w, w2;

	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	hold[2][0] = EKL__ENVELOPE__MSG_ACK; /* n3's acks wait */
	write_kv(PRIMARY, &w, "k", "v", true, 0);
	ck_assert(run_until(n2_ack_delivered, NULL, 10));
	ck_assert(converged_mask(7)); /* n3 applied it, its ack waits */
	ck_assert_int_eq(w.done, 0);
	/* n3 reports the revision it holds, as after a reconnection. */
	state_of(2, &st);
	rs.epoch = (uint64_t)st.epoch;
	rs.primary = "n1";
	rs.revision = (uint64_t)st.revision;
	rs.rev_epoch = (uint64_t)st.rev_epoch;
	env.msg_case = EKL__ENVELOPE__MSG_REPL_STATE;
	env.repl_state = &rs;
	inject(2, 0, &env);
	/* n2 acknowledges a later write: the waits are judged again. */
	write_kv(PRIMARY, &w2, "k2", "v", false, 0);
	ck_assert(run_until(answered, &w2, 10));
	wait_acked(2, 3);
	run_for(0.2);
	ck_assert_msg(w.done == 0, "answered on a ReplState: %s", w.body);
	/* Its real acknowledgement confirms the write. */
	hold[2][0] = 0;
	ck_assert(run_until(answered, &w, 10));
	ck_assert_msg(w.ok, "%s", w.body);
	ck_assert_str_eq(w.body, "revision 1");
}
END_TEST

/* ---- byte bounds: every frame under the maximum ---- */

/* count rows of vlen bytes in groups of 100; waits for the answers. */
static void write_big(const char *prefix, int count, size_t vlen)
{
	struct wr *w = ekl_calloc((size_t)count, sizeof(*w));
	char *value = ekl_malloc(vlen + 1);
	char path[64];
	int k;

	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(value);
	for (k = 0; k < count; k++) {
		snprintf(path, sizeof(path), "%s/%05d", prefix, k);
		memset(value, 'a' + k % 26, vlen);
		value[vlen] = '\0';
		repl_write(nodes[PRIMARY].r, &w[k], path, value, false, 0);
		if (k % 100 == 99 || k == count - 1)
			ck_assert(run_until(answered, &w[k], 30));
	}
	for (k = 0; k < count; k++)
		ck_assert_msg(w[k].done == 1 && w[k].ok, "%d: %s", k,
			      w[k].body);
	ekl_free(value);
	ekl_free(w);
}

START_TEST(test_snapshot_large_rows)
{
	struct store_state p, st;

	log_keep = 100;
	start_all();
	/* 1300 rows of 1.5 KiB: 1000 of them would be a 1.5 MiB chunk. */
	write_big("big", 1300, 1536);
	state_of(PRIMARY, &p);
	ck_assert_int_gt(p.log_first, 1); /* n2 can only get a snapshot */
	link_up(0, 1);
	conv_mask = 3;
	ck_assert(run_until(some_converged, NULL, 30));
	ck_assert_int_eq(too_big, 0);
	ck_assert_int_eq(nodes[1].chan[0].closes + nodes[0].chan[1].closes, 0);
	ck_assert_int_eq(sent[0][1][EKL__ENVELOPE__MSG_SNAP_BEGIN], 1);
	/* 2 MiB of rows in chunks of at most FRAME_ROWS_BYTES. */
	ck_assert_int_ge(sent[0][1][EKL__ENVELOPE__MSG_SNAP_CHUNK],
			 (int)(1300 * 1536 / FRAME_ROWS_BYTES));
	state_of(1, &st);
	ck_assert_int_eq(st.rows, 1300);
	check_store(1);
}
END_TEST

START_TEST(test_large_group_bounded)
{
	struct wr w[40];
	char *value = ekl_malloc(60001);
	char path[32];
	int k;

	ck_assert_ptr_nonnull(value);
	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	/* One group of 40 rows of 60 000 bytes (2.4 MB): the peers are
	 * caught up, so it would go to them while being committed. */
	memset(value, 'x', 60000);
	value[60000] = '\0';
	for (k = 0; k < 40; k++) {
		snprintf(path, sizeof(path), "g/%02d", k);
		write_kv(PRIMARY, &w[k], path, value, false, 0);
	}
	ck_assert(run_until(answered, &w[39], 30));
	for (k = 0; k < 40; k++)
		ck_assert_msg(w[k].ok, "%d: %s", k, w[k].body);
	ck_assert(run_until(all_converged, NULL, 30));
	ck_assert_int_eq(too_big, 0);
	ck_assert_int_eq(nodes[1].chan[0].closes + nodes[2].chan[0].closes, 0);
	ekl_free(value);
}
END_TEST

/* ---- rows a peer refuses from the wire ---- */

static void inject_change(int64_t rev, ProtobufCBinaryData path,
			  ProtobufCBinaryData value)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplBatch b = EKL__REPL_BATCH__INIT;
	Ekl__Change c = EKL__CHANGE__INIT, *cs[1] = {&c};

	c.rev = (uint64_t)rev;
	c.epoch = 1;
	c.path = path;
	c.value = value;
	b.epoch = 1;
	b.n_changes = 1;
	b.changes = cs;
	b.primary_revision = (uint64_t)rev;
	env.msg_case = EKL__ENVELOPE__MSG_BATCH;
	env.batch = &b;
	inject(0, 1, &env);
}

START_TEST(test_wire_rows_refused)
{
	static const struct {
		const char *path;
		size_t plen;
		const char *value;
		size_t vlen;
		const char *why;
	} bad[] = {
	    {"p", 1, "a\0b", 3, "the value contains a NUL byte"},
	    {"p\0q", 3, "v", 1, "the path contains a NUL byte"},
	    {"p", 1, "\xff\xfe", 2, "the value is not valid UTF-8"},
	    {"p", 1, "a\nb", 3, "the value contains a line break"},
	};
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__SnapBegin sb = EKL__SNAP_BEGIN__INIT;
	Ekl__SnapChunk sc = EKL__SNAP_CHUNK__INIT;
	ProtobufCBinaryData paths[1], values[1];
	uint8_t digest[STORE_DIGEST_LEN] = {0};
	struct store_state st;
	size_t i;

	start_all();
	link_up(0, 1);
	conv_mask = 3;
	ck_assert(run_until(some_converged, NULL, 10));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nodes[1].chan[0].closes = 0;
		inject_change(1, bytes_of(bad[i].path, bad[i].plen),
			      bytes_of(bad[i].value, bad[i].vlen));
		ck_assert_int_eq(nodes[1].chan[0].closes, 1);
		ck_assert_str_eq(nodes[1].chan[0].close_code, "protocol");
		ck_assert_msg(
		    strstr(nodes[1].chan[0].close_message, bad[i].why) != NULL,
		    "case %zu: %s", i, nodes[1].chan[0].close_message);
		state_of(1, &st);
		ck_assert_int_eq(st.revision, 0); /* nothing applied */
		link_up(0, 1);
	}
	/* The same rule for a snapshot's rows. */
	nodes[1].chan[0].closes = 0;
	sb.epoch = 1;
	sb.revision = 1;
	sb.rev_epoch = 1;
	sb.digest.data = digest;
	sb.digest.len = sizeof(digest);
	sb.rows = 1;
	env.msg_case = EKL__ENVELOPE__MSG_SNAP_BEGIN;
	env.snap_begin = &sb;
	inject(0, 1, &env);
	ck_assert_int_eq(nodes[1].chan[0].closes, 0);
	paths[0] = bytes_of("p", 1);
	values[0] = bytes_of("a\0b", 3);
	sc.n_paths = sc.n_values = 1;
	sc.paths = paths;
	sc.values = values;
	env.msg_case = EKL__ENVELOPE__MSG_SNAP_CHUNK;
	env.snap_chunk = &sc;
	inject(0, 1, &env);
	ck_assert_int_eq(nodes[1].chan[0].closes, 1);
	ck_assert_msg(strstr(nodes[1].chan[0].close_message,
			     "the value contains a NUL byte") != NULL,
		      "%s", nodes[1].chan[0].close_message);
	state_of(1, &st);
	ck_assert_int_eq(st.revision, 0);
	check_store(1);
	/* A good row from the primary is still applied. */
	link_up(0, 1);
	inject_change(1, bytes_of("p", 1), bytes_of("caf\xc3\xa9", 5));
	ck_assert_int_eq(nodes[1].chan[0].closes, 1);
	state_of(1, &st);
	ck_assert_int_eq(st.revision, 1);
}
END_TEST

/* ---- the carrier: data from another connection is stale ---- */

/* A snapshot in progress is not mixed with chunks or batches that arrive
 * on a connection that no longer carries the link (sent before the
 * primary moved the stream): they are dropped, not staged, not refused. */
START_TEST(test_stale_channel_dropped)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__SnapChunk sc = EKL__SNAP_CHUNK__INIT;
	ProtobufCBinaryData paths[1], values[1];
	struct repl_chan old = {1, 0, true, false, "", "", 0};
	struct store_state p, st;
	char *value = NULL;
	char err[EKL_ERRLEN] = "";

	log_keep = 10;
	start_all();
	write_group("s", 3000);
	state_of(PRIMARY, &p);
	hold[0][1] = HOLD_ALL; /* the snapshot waits... */
	link_up(0, 1);
	run_for(0.1);
	ck_assert_int_eq(queued(0, 1, EKL__ENVELOPE__MSG_SNAP_BEGIN), 1);
	{
		/* ...but for its beginning. */
		size_t k;

		for (k = qhead; k < qtail; k++)
			if (queue[k].buf != NULL && queue[k].from == 0 &&
			    queue[k].to == 1 &&
			    queue[k].kind == EKL__ENVELOPE__MSG_SNAP_BEGIN) {
				Ekl__Envelope *b = ekl__envelope__unpack(
				    NULL, queue[k].len, queue[k].buf);

				ck_assert_ptr_nonnull(b);
				repl_on_frame(nodes[1].r, peer_of(1, 0),
					      &nodes[1].chan[0], b);
				ekl__envelope__free_unpacked(b, NULL);
				ekl_free(queue[k].buf);
				queue[k].buf = NULL;
				break;
			}
	}
	ck_assert_str_eq(view(1, 0, NULL, NULL), "snapshot");
	/* A chunk of another snapshot, and a batch, on the old connection. */
	paths[0] = bytes_of("stale/row", 9);
	values[0] = bytes_of("from the old carrier", 20);
	sc.n_paths = sc.n_values = 1;
	sc.paths = paths;
	sc.values = values;
	env.msg_case = EKL__ENVELOPE__MSG_SNAP_CHUNK;
	env.snap_chunk = &sc;
	repl_on_frame(nodes[1].r, peer_of(1, 0), &old, &env);
	{
		Ekl__ReplBatch bt = EKL__REPL_BATCH__INIT;
		Ekl__Change c = EKL__CHANGE__INIT, *cs[1] = {&c};

		c.rev = (uint64_t)p.revision + 1;
		c.epoch = 1;
		c.path = bytes_of("stale/batch", 11);
		c.value = bytes_of("x", 1);
		bt.epoch = 1;
		bt.n_changes = 1;
		bt.changes = cs;
		env.msg_case = EKL__ENVELOPE__MSG_BATCH;
		env.batch = &bt;
		repl_on_frame(nodes[1].r, peer_of(1, 0), &old, &env);
	}
	ck_assert_int_eq(nodes[1].chan[0].closes, 0);
	ck_assert_int_eq(old.closes, 0);
	ck_assert_str_eq(view(1, 0, NULL, NULL), "snapshot");
	/* The real snapshot goes through and holds only the primary's rows. */
	hold[0][1] = 0;
	conv_mask = 3;
	ck_assert(run_until(some_converged, NULL, 10));
	state_of(1, &st);
	ck_assert_int_eq(st.rows, p.rows);
	ck_assert_int_eq(
	    store_get(repl_store(nodes[1].r), "stale/row", &value, err),
	    EKL_ENOENT);
	check_store(1);
}
END_TEST

/* ---- durability: no answer before fdatasync, on every path ---- */

START_TEST(test_oom_group_refused)
{
	struct wr w;
	struct store_state st;

	start_all();
	write_kv(PRIMARY, &w, "k", "v", false, 0);
	/* No memory from here on: the group cannot wait for its sync. */
	ekl_mem_fail_after(0);
	ev_run(loop, EVRUN_NOWAIT);
	ekl_mem_fail_after(-1);
	ck_assert_int_eq(w.done, 1);
	ck_assert_msg(!w.ok && strstr(w.body, "out of memory") != NULL, "%s",
		      w.body);
	state_of(PRIMARY, &st);
	ck_assert_int_eq(st.revision, 0); /* and nothing was committed */
	write_kv(PRIMARY, &w, "k", "v", false, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert(w.ok);
	ck_assert_str_eq(w.body, "revision 1");
}
END_TEST

START_TEST(test_stop_after_failed_sync)
{
	struct wr w1, w2;
	char wal[600];

	start_all();
	write_kv(PRIMARY, &w1, "a", "1", false, 0);
	ck_assert(run_until(answered, &w1, 10));
	ck_assert(w1.ok);
	/* The WAL is removed under the node's feet: SQLite goes on writing
	 * through its open descriptor, but what it writes can no longer be
	 * made durable, and the syncer must say so. */
	snprintf(wal, sizeof(wal), "%s",
		 store_wal_path(repl_store(nodes[PRIMARY].r)));
	ck_assert_int_eq(unlink(wal), 0);
	write_kv(PRIMARY, &w2, "b", "2", false, 0);
	run_for(0.5);
	ck_assert_int_eq(w2.done, 0); /* committed, never synced */
	repl_stop(nodes[PRIMARY].r);
	nodes[PRIMARY].r = NULL;
	ck_assert_int_eq(w2.done, 1);
	ck_assert_msg(!w2.ok && strstr(w2.body, "fdatasync") != NULL, "%s",
		      w2.body);
	unlink(wal);
}
END_TEST

/* The same for a large group (its own batches through the log): none of
 * its writes is ever answered ok once the fdatasync failed. */
START_TEST(test_failed_sync_on_thread)
{
	enum { COUNT = 100 };
	struct wr w1, w[COUNT];
	char wal[600], path[32];
	int i;

	start_all();
	write_kv(PRIMARY, &w1, "a", "1", false, 0);
	ck_assert(run_until(answered, &w1, 10));
	ck_assert(w1.ok);
	snprintf(wal, sizeof(wal), "%s",
		 store_wal_path(repl_store(nodes[PRIMARY].r)));
	ck_assert_int_eq(unlink(wal), 0);
	for (i = 0; i < COUNT; i++) {
		snprintf(path, sizeof(path), "k%d", i);
		write_kv(PRIMARY, &w[i], path, "v", false, 0);
	}
	run_for(0.5);
	for (i = 0; i < COUNT; i++)
		ck_assert_int_eq(w[i].done, 0); /* committed, never synced */
	repl_stop(nodes[PRIMARY].r);
	nodes[PRIMARY].r = NULL;
	for (i = 0; i < COUNT; i++) {
		ck_assert_int_eq(w[i].done, 1);
		ck_assert_msg(!w[i].ok &&
				  strstr(w[i].body, "fdatasync") != NULL,
			      "%s", w[i].body);
	}
	unlink(wal);
}
END_TEST

/* A peer acknowledges only what its own sync made durable: with its WAL
 * gone, a batch is applied but never acknowledged (its sync is asked for
 * at once and fails), so the primary never counts it and --ack all
 * fails. */
START_TEST(test_peer_failed_sync_no_ack)
{
	struct wr w1, w2;
	char wal[600];
	const char *state, *reason;
	int64_t applied = 0, lag;

	start_all();
	all_links_up();
	write_kv(PRIMARY, &w1, "a", "1", true, 0);
	ck_assert(run_until(answered, &w1, 10));
	ck_assert(w1.ok);
	snprintf(wal, sizeof(wal), "%s",
		 store_wal_path(repl_store(nodes[1].r)));
	ck_assert_int_eq(unlink(wal), 0);
	write_kv(PRIMARY, &w2, "b", "2", true, 300);
	ck_assert(run_until(answered, &w2, 10));
	ck_assert_msg(!w2.ok && strstr(w2.body, "n2") != NULL, "%s", w2.body);
	ck_assert(repl_peer_view(nodes[PRIMARY].r, peer_of(PRIMARY, 1), &state,
				 &reason, &applied, &lag));
	ck_assert_int_eq(applied, 1); /* b (revision 2) was never counted */
	unlink(wal);
}
END_TEST

/* A batch nobody waits for (an --ack primary write, nothing else in
 * flight) is acknowledged lazily, yet still only after the peer's own
 * sync: n3 acknowledges it within moments; n2, whose WAL is gone, applies
 * it and never acknowledges it, so the primary never counts it. */
START_TEST(test_lazy_ack_after_sync)
{
	struct wr w1, w2;
	struct store_state st;
	char wal[600];
	const char *state, *reason;
	int64_t applied = 0, lag;

	start_all();
	all_links_up();
	write_kv(PRIMARY, &w1, "a", "1", true, 0);
	ck_assert(run_until(answered, &w1, 10));
	ck_assert(w1.ok);
	snprintf(wal, sizeof(wal), "%s",
		 store_wal_path(repl_store(nodes[1].r)));
	ck_assert_int_eq(unlink(wal), 0);
	write_kv(PRIMARY, &w2, "b", "2", false, 0);
	ck_assert(run_until(answered, &w2, 10));
	ck_assert_msg(w2.ok, "%s", w2.body);
	wait_acked(2, 1u << 2);
	run_for(0.2);
	state_of(1, &st);
	ck_assert_int_eq(st.revision, 2); /* applied on n2 ... */
	ck_assert(repl_peer_view(nodes[PRIMARY].r, peer_of(PRIMARY, 1), &state,
				 &reason, &applied, &lag));
	ck_assert_int_eq(applied, 1); /* ... never acknowledged */
	unlink(wal);
}
END_TEST

/* ---- a lone write synced on the loop: still never answered before ---- */

static uint64_t here_count(int i)
{
	uint64_t here, thread;

	repl_sync_counts(nodes[i].r, &here, &thread);
	return here;
}

static uint64_t thread_count(int i)
{
	uint64_t here, thread;

	repl_sync_counts(nodes[i].r, &here, &thread);
	return thread;
}

/* A lone write is committed, synced and answered in one turn of the
 * loop, without the sync thread; a lone --ack all write is synced the same
 * way by each peer before it acknowledges. */
START_TEST(test_lone_write_synced_here)
{
	struct wr w;
	uint64_t here0, thread0;

	sync_here_max_us = 10000000; /* whatever this disk's speed */
	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	here0 = here_count(PRIMARY);
	thread0 = thread_count(PRIMARY);
	write_kv(PRIMARY, &w, "a", "1", false, 0);
	ev_run(loop, EVRUN_NOWAIT);
	ck_assert_int_eq(w.done, 1);
	ck_assert_msg(w.ok, "%s", w.body);
	ck_assert_str_eq(w.body, "revision 1");
	ck_assert_uint_eq(here_count(PRIMARY), here0 + 1);
	ck_assert_uint_eq(thread_count(PRIMARY), thread0);
	wait_acked(1, 6); /* the peers' lazy syncs are done */
	/* --ack all: each peer syncs its lone change itself, then acks. */
	here0 = here_count(1) + here_count(2);
	write_kv(PRIMARY, &w, "b", "2", true, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert_msg(w.ok, "%s", w.body);
	ck_assert_str_eq(w.body, "revision 2");
	ck_assert_uint_eq(here_count(1) + here_count(2), here0 + 2);
}
END_TEST

/* The loop's own fdatasync fails (the WAL is gone): the write is never
 * answered ok, as on the thread (test_stop_after_failed_sync). */
START_TEST(test_failed_sync_here)
{
	struct wr w1, w2;
	char wal[600];
	uint64_t here0;

	sync_here_max_us = 10000000;
	start_all();
	write_kv(PRIMARY, &w1, "a", "1", false, 0);
	ck_assert(run_until(answered, &w1, 10));
	ck_assert(w1.ok);
	snprintf(wal, sizeof(wal), "%s",
		 store_wal_path(repl_store(nodes[PRIMARY].r)));
	ck_assert_int_eq(unlink(wal), 0);
	here0 = here_count(PRIMARY);
	write_kv(PRIMARY, &w2, "b", "2", false, 0);
	run_for(0.5);
	ck_assert_uint_eq(here_count(PRIMARY), here0 + 1); /* tried here */
	ck_assert_int_eq(w2.done, 0); /* committed, never synced */
	repl_stop(nodes[PRIMARY].r);
	nodes[PRIMARY].r = NULL;
	ck_assert_int_eq(w2.done, 1);
	ck_assert_msg(!w2.ok && strstr(w2.body, "fdatasync") != NULL, "%s",
		      w2.body);
	unlink(wal);
}
END_TEST

/* A peer whose own fdatasync on the loop fails never acknowledges: n
 * --ack all writes committed as one group after its WAL is gone each fail
 * naming it, it tried once (on its loop), and the primary never counts
 * any of them. */
static void peer_failed_sync_here(int n)
{
	struct wr w1, w[3];
	char wal[600], path[8];
	const char *state, *reason;
	int64_t applied = 0, lag;
	uint64_t here0;
	int i;

	ck_assert(n >= 1 && n <= 3);
	sync_here_max_us = 10000000;
	start_all();
	all_links_up();
	write_kv(PRIMARY, &w1, "a", "1", true, 0);
	ck_assert(run_until(answered, &w1, 10));
	ck_assert(w1.ok);
	snprintf(wal, sizeof(wal), "%s",
		 store_wal_path(repl_store(nodes[1].r)));
	ck_assert_int_eq(unlink(wal), 0);
	here0 = here_count(1);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%c", 'b' + i);
		write_kv(PRIMARY, &w[i], path, "2", true, 300);
	}
	for (i = 0; i < n; i++) {
		ck_assert(run_until(answered, &w[i], 10));
		ck_assert_msg(!w[i].ok && strstr(w[i].body, "n2") != NULL, "%s",
			      w[i].body);
	}
	ck_assert_uint_eq(here_count(1), here0 + 1); /* n2 tried on its loop */
	ck_assert(repl_peer_view(nodes[PRIMARY].r, peer_of(PRIMARY, 1), &state,
				 &reason, &applied, &lag));
	ck_assert_int_eq(applied, 1); /* none of the group was counted */
	unlink(wal);
}

START_TEST(test_peer_failed_sync_here_no_ack)
{
	peer_failed_sync_here(1);
}
END_TEST

/* An --ack all group of three writes reaches each peer as one batch, which
 * the peer syncs on its loop at the end of the turn that applied it: one
 * fdatasync there, none on the thread, and the acknowledgement after it. */
START_TEST(test_peer_group_synced_here)
{
	struct wr w[3];
	uint64_t here1, here2, thread1, thread2;
	int i;

	sync_here_max_us = 10000000;
	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	write_kv(PRIMARY, &w[0], "a", "0", false, 0);
	ck_assert(run_until(answered, &w[0], 10));
	wait_acked(1, 6); /* the peers' lazy syncs are done */
	here1 = here_count(1);
	here2 = here_count(2);
	thread1 = thread_count(1);
	thread2 = thread_count(2);
	write_kv(PRIMARY, &w[0], "a", "1", true, 0);
	write_kv(PRIMARY, &w[1], "b", "2", true, 0);
	write_kv(PRIMARY, &w[2], "c", "3", true, 0);
	for (i = 0; i < 3; i++) {
		ck_assert(run_until(answered, &w[i], 10));
		ck_assert_msg(w[i].ok, "%s", w[i].body);
	}
	ck_assert_uint_eq(here_count(1), here1 + 1);
	ck_assert_uint_eq(here_count(2), here2 + 1);
	ck_assert_uint_eq(thread_count(1), thread1);
	ck_assert_uint_eq(thread_count(2), thread2);
}
END_TEST

/* The same for a group of three, which reaches the peer as one batch. */
START_TEST(test_peer_group_failed_sync_here_no_ack)
{
	peer_failed_sync_here(3);
}
END_TEST

/* With the loop's syncs turned off, every sync is the thread's. */
START_TEST(test_sync_here_off)
{
	struct wr w;

	sync_here_max_us = -1;
	start_all();
	all_links_up();
	write_kv(PRIMARY, &w, "a", "1", true, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert_msg(w.ok, "%s", w.body);
	ck_assert_uint_eq(here_count(0) + here_count(1) + here_count(2), 0);
	ck_assert_uint_ge(thread_count(PRIMARY), 1);
}
END_TEST

/* A primary demoted between a group's commit and its fdatasync answers
 * none of the group ok, --ack primary or --ack all: the new primary's
 * history wins. The sync is the thread's (sync_here off), so the group
 * waits for it while the newer epoch is adopted. */
START_TEST(test_demoted_before_sync_not_ok)
{
	struct wr w[2];
	int i;

	sync_here_max_us = -1;
	start_all();
	all_links_up();
	write_kv(PRIMARY, &w[0], "d/a", "1", false, 0);
	write_kv(PRIMARY, &w[1], "d/b", "2", true, 0);
	repl_commit_queued(nodes[PRIMARY].r);
	ck_assert_int_eq(w[0].done + w[1].done, 0); /* committed, not synced */
	repl_adopt_epoch(nodes[PRIMARY].r, REPL_EPOCH_BAND, "n2");
	for (i = 0; i < 2; i++) {
		ck_assert(run_until(answered, &w[i], 10));
		ck_assert_msg(
		    !w[i].ok &&
			strstr(w[i].body, "n2 became the primary") != NULL &&
			strstr(w[i].body, "before it was durable") != NULL,
		    "%s", w[i].body);
	}
}
END_TEST

/* --ack primary writes while a peer's batch is unacknowledged wait and go
 * to it together when it acknowledges; an --ack all write goes at once. */
START_TEST(test_unwaited_batches_held)
{
	struct wr w[10], wa;
	char path[16];
	int k;

	start_all();
	all_links_up();
	ck_assert(run_until(all_converged, NULL, 10));
	hold[1][0] = EKL__ENVELOPE__MSG_ACK; /* n2's acks wait */
	for (k = 0; k < 10; k++) {
		snprintf(path, sizeof(path), "h/%d", k);
		write_kv(PRIMARY, &w[k], path, "v", false, 0);
		ck_assert(run_until(answered, &w[k], 10));
		ck_assert_msg(w[k].ok, "%s", w[k].body);
	}
	run_for(0.05);
	/* The first went at once, the other nine wait for its ack. */
	ck_assert_int_eq(sent[0][1][EKL__ENVELOPE__MSG_BATCH], 1);
	write_kv(PRIMARY, &wa, "h/all", "v", true, 0);
	run_for(0.05);
	ck_assert_int_eq(sent[0][1][EKL__ENVELOPE__MSG_BATCH], 2);
	ck_assert_int_eq(wa.done, 0); /* n2's acks still wait */
	hold[1][0] = 0;
	ck_assert(run_until(answered, &wa, 10));
	ck_assert_msg(wa.ok, "%s", wa.body);
	ck_assert_str_eq(wa.body, "revision 11");
	ck_assert(run_until(all_converged, NULL, 10));
	check_store(1);
}
END_TEST

/* ---- --version-skew strict ---- */

START_TEST(test_version_skew_strict)
{
	struct wr w;
	const char *state = NULL, *reason = NULL;
	int64_t a, l;

	skew_strict = true;
	snprintf(nodes[2].version, sizeof(nodes[2].version), "X15.4.1");
	start_all();
	all_links_up();
	conv_mask = 3;
	ck_assert(run_until(some_converged, NULL, 10));
	ck_assert(
	    repl_peer_view(nodes[0].r, peer_of(0, 2), &state, &reason, &a, &l));
	ck_assert_str_eq(state, "stopped");
	ck_assert_str_eq(reason, "version-skew");
	/* --ack all does not wait for a peer it does not replicate to. */
	write_kv(PRIMARY, &w, "k", "v", true, 0);
	ck_assert(run_until(answered, &w, 10));
	ck_assert(w.ok);
	ck_assert(run_until(some_converged, NULL, 10));
	ck_assert_int_eq(sent[0][2][EKL__ENVELOPE__MSG_BATCH], 0);
}
END_TEST

static Suite *repl_suite(void)
{
	Suite *s = suite_create("repl");
	TCase *tc;

#define ADD(name, fn)                                                          \
	tc = tcase_create(name);                                               \
	tcase_add_checked_fixture(tc, setup, teardown);                        \
	tcase_add_test(tc, fn);                                                \
	suite_add_tcase(s, tc)

	ADD("stream_in_order", test_stream_in_order);
	ADD("write_on_peer_refused", test_write_on_peer_refused);
	ADD("window", test_window);
	ADD("repeat_batch_applied_once", test_repeat_batch_applied_once);
	ADD("restart_after_carrier_change", test_restart_after_carrier_change);
	ADD("gap_closes_link", test_gap_closes_link);
	ADD("batch_from_non_primary_refused",
	    test_batch_from_non_primary_refused);
	ADD("stale_epoch_refused", test_stale_epoch_refused);
	ADD("restarted_primary_follows_promotion",
	    test_restarted_primary_follows_promotion);
	ADD("epochs_are_each_members_own", test_epochs_are_each_members_own);
	ADD("double_promotion_one_winner", test_double_promotion_one_winner);
	ADD("state_primary_not_member_refused",
	    test_state_primary_not_member_refused);
	ADD("state_two_primaries_refused", test_state_two_primaries_refused);
	ADD("snapshot_to_primary_refused", test_snapshot_to_primary_refused);
	ADD("ack_all_waits_for_every_peer", test_ack_all_waits_for_every_peer);
	ADD("state_is_not_an_ack", test_state_is_not_an_ack);
	ADD("ack_all_peer_lost", test_ack_all_peer_lost);
	ADD("ack_all_timeout", test_ack_all_timeout);
	ADD("stop_answers_waiting_writes", test_stop_answers_waiting_writes);
	ADD("snapshot_handoff", test_snapshot_handoff);
	ADD("version_skew_strict", test_version_skew_strict);
	ADD("ack_above_sent_refused", test_ack_above_sent_refused);
	ADD("ack_other_epoch", test_ack_other_epoch);
	ADD("claimed_revision_not_counted", test_claimed_revision_not_counted);
	ADD("snapshot_large_rows", test_snapshot_large_rows);
	ADD("large_group_bounded", test_large_group_bounded);
	ADD("wire_rows_refused", test_wire_rows_refused);
	ADD("stale_channel_dropped", test_stale_channel_dropped);
	ADD("oom_group_refused", test_oom_group_refused);
	ADD("stop_after_failed_sync", test_stop_after_failed_sync);
	ADD("failed_sync_on_thread", test_failed_sync_on_thread);
	ADD("peer_failed_sync_no_ack", test_peer_failed_sync_no_ack);
	ADD("lazy_ack_after_sync", test_lazy_ack_after_sync);
	ADD("lone_write_synced_here", test_lone_write_synced_here);
	ADD("failed_sync_here", test_failed_sync_here);
	ADD("peer_failed_sync_here_no_ack", test_peer_failed_sync_here_no_ack);
	ADD("peer_group_synced_here", test_peer_group_synced_here);
	ADD("peer_group_failed_sync_here_no_ack",
	    test_peer_group_failed_sync_here_no_ack);
	ADD("sync_here_off", test_sync_here_off);
	ADD("demoted_before_sync_not_ok", test_demoted_before_sync_not_ok);
	ADD("unwaited_batches_held", test_unwaited_batches_held);
#undef ADD
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return tu_run(repl_suite());
}
