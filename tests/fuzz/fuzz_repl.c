/* fuzz_repl.c: replication messages from a peer, applied to a real store.
 *
 * One node runs node/repl on a real SQLite store in a scratch directory,
 * reached through an in-memory struct repl_io (as in tests/unit/
 * test_repl.c); the input plays its peers. Every run starts from the same
 * store (a template copied into place), so a run is repeatable.
 *
 * Input: byte 0 chooses the node: bit 0 clear, it is "n2", a peer of the
 * primary "n1" (the input plays n1 and n3); set, it is the primary "n1"
 * in epoch 64 (its start after epoch 1: its rank is 0, repl.h) holding
 * revisions 1..80 of epoch 1 with the change log
 * compacted to the last few, so an old peer gets a snapshot (the input
 * plays n2 and n3). The rest is a stream of frames
 * (u32 length + Envelope, the wire format) read by the real decoder; the
 * first frame that does not decode ends the run. Replication messages go
 * to repl_on_frame from the current sender; the three messages the
 * connection layer keeps for itself steer the run instead:
 *   Hello           the next frames come from the other peer
 *   Bye             the sender's link drops and comes back (a new channel)
 *   Heartbeat seq   seq % 4: 0 run the loop (group commits, durability),
 *                   1 write fz/SEQ on this node (--ack all when seq & 4),
 *                   2 delete fz/(SEQ-8), 3 promote this node.
 * A channel replication asks to close is closed (repl_link_changed) and
 * replaced by a new one, as a peer that redials.
 *
 * Properties checked on every input:
 *  - the replication status (the JSON a node's status carries) is valid
 *    JSON;
 *  - the store's invariants hold after the run (store_check: digest, change
 *    log, revision, meta);
 *  - every write is answered exactly once (by repl_stop at the latest);
 *  - every Envelope replication sends packs into a frame;
 *  - no sanitizer report, no leak.
 *
 * The WAL syncer (node/repl/sync.c) is replaced by the one below, which
 * answers on the next loop turn instead of from a thread: durability is
 * not what this target tests, repeatability is what it needs.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>
#include <sqlite3.h>

#include "ekulab.pb-c.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/jsonr.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/frame.h"
#include "fuzzutil.h"
#include "repl/repl.h"
#include "repl/sync.h"
#include "store/store.h"

/* ---- the syncer, answering from the loop ---- */

struct syncer {
	struct ev_loop *loop;
	ev_timer t;
	void (*done)(void *arg, uint64_t seq);
	void *arg;
	uint64_t want;
};

static void syncer_fire(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct syncer *s = w->data;

	(void)loop;
	(void)revents;
	s->done(s->arg, s->want);
}

int syncer_start(struct ev_loop *loop, const char *wal_path,
		 void (*done)(void *arg, uint64_t seq), void *arg,
		 struct syncer **out, char *err)
{
	struct syncer *s = ekl_calloc(1, sizeof(*s));

	(void)wal_path;
	if (s == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	s->loop = loop;
	s->done = done;
	s->arg = arg;
	ev_timer_init(&s->t, syncer_fire, 0, 0);
	s->t.data = s;
	*out = s;
	return 0;
}

void syncer_request(struct syncer *s, uint64_t seq)
{
	s->want = seq;
	if (!ev_is_active(&s->t))
		ev_timer_start(s->loop, &s->t);
}

/* The loop's own sync (a lone write's): never here, so that every
 * durability goes through the deterministic timer above. */
bool syncer_sync_here(struct syncer *s, uint64_t seq)
{
	(void)s;
	(void)seq;
	return false;
}

void syncer_set_here_max(struct syncer *s, uint64_t ns)
{
	(void)s;
	(void)ns;
}

void syncer_counts(struct syncer *s, uint64_t *here, uint64_t *thread)
{
	(void)s;
	*here = 0;
	*thread = 0;
}

uint64_t syncer_stop(struct syncer *s)
{
	uint64_t want;

	if (s == NULL)
		return 0;
	want = s->want;
	ev_timer_stop(s->loop, &s->t);
	ekl_free(s);
	return want; /* everything asked for is durable here */
}

/* ---- the in-memory io ---- */

#define PEERS	    2
#define MAX_WRITES  128
#define PRIMARY_LOG 3  /* --log-keep of the primary's template */
#define TPL_ROWS    80 /* revisions 1..80 in the primary's template */

struct repl_chan {
	int peer;
	bool up;
	bool close_pending;
};

struct wr {
	int done;
	bool ok;
};

static struct ev_loop *loop;
static struct repl *repl;
static struct repl_io io;
static const char *self_name;
static const char *peer_names[PEERS];
static struct repl_chan chans[PEERS][2]; /* two, used in turn */
static int cur[PEERS];			 /* chans[p][cur[p]] is the live one */
static struct wr writes[MAX_WRITES];
static int n_writes;
static int n_sent;
static bool verbose; /* FUZZ_VERBOSE: print what replication sends */

static const char *io_peer_name(struct repl_io *i, int peer)
{
	(void)i;
	return peer_names[peer];
}

static struct repl_chan *io_carrier(struct repl_io *i, int peer)
{
	struct repl_chan *ch = &chans[peer][cur[peer]];

	(void)i;
	return ch->up ? ch : NULL;
}

static bool io_chan_up(struct repl_io *i, struct repl_chan *ch)
{
	(void)i;
	return ch->up && !ch->close_pending;
}

static const char *io_chan_version(struct repl_io *i, struct repl_chan *ch)
{
	(void)i;
	(void)ch;
	return "X15.3.2";
}

static int io_send(struct repl_io *i, struct repl_chan *ch,
		   const Ekl__Envelope *env)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	(void)i;
	if (!ch->up || ch->close_pending)
		return EKL_ECLOSED;
	rc = frame_pack(env, FRAME_MAX_DEFAULT, &buf, &len);
	if (rc == EKL_ENOMEM)
		abort();
	FZ_CHECK(rc == 0,
		 "replication sent an Envelope that does not pack "
		 "into a frame: %s",
		 ekl_strerror(rc));
	ekl_free(buf);
	n_sent++;
	if (verbose)
		fprintf(
		    stderr, "fuzz_repl: %s -> %s: %s\n", self_name,
		    peer_names[ch->peer],
		    ekl__envelope__descriptor.fields[env->msg_case - 1].name);
	return 0;
}

static void io_send_all(struct repl_io *i, int peer, const Ekl__Envelope *env)
{
	struct repl_chan *ch = io_carrier(i, peer);

	if (ch != NULL)
		io_send(i, ch, env);
}

static void io_close(struct repl_io *i, struct repl_chan *ch, const char *code,
		     const char *message)
{
	(void)i;
	FZ_CHECK(code != NULL && code[0] != '\0' && message != NULL,
		 "a close without a reason");
	if (ch->up)
		ch->close_pending = true;
}

static const char *io_down_reason(struct repl_io *i, int peer)
{
	(void)i;
	(void)peer;
	return "link-down";
}

static void io_write_done(struct repl_io *i, void *reply, bool ok,
			  const char *body)
{
	struct wr *w = reply;

	(void)i;
	FZ_CHECK(body != NULL, "a write answered without a body");
	w->done++;
	w->ok = ok;
}

/* ---- links ---- */

static void link_up(int peer)
{
	struct repl_chan *ch;

	cur[peer] ^= 1;
	ch = &chans[peer][cur[peer]];
	ch->peer = peer;
	ch->up = true;
	ch->close_pending = false;
	repl_conn_up(repl, peer, ch);
	repl_link_changed(repl, peer);
}

static void link_down(int peer)
{
	chans[peer][cur[peer]].up = false;
	chans[peer][cur[peer]].close_pending = false;
	repl_link_changed(repl, peer);
}

/* Closes replication asked for take effect; the peer redials. */
static void settle_closes(void)
{
	int p;

	for (p = 0; p < PEERS; p++)
		if (chans[p][cur[p]].close_pending) {
			link_down(p);
			link_up(p);
		}
}

static void run_loop(void)
{
	int i;

	for (i = 0; i < 4; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		settle_closes();
	}
}

/* ---- the node and its template store ---- */

static char dir_work[600], dir_tpl[2][600];

static void copy_dir(const char *from, const char *to)
{
	char a[1200], b[1200], buf[65536];
	struct dirent *e;
	DIR *d;

	d = opendir(to);
	if (d != NULL) {
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.') {
				snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
				unlink(b);
			}
		closedir(d);
	}
	d = opendir(from);
	if (d == NULL)
		abort();
	while ((e = readdir(d)) != NULL) {
		int in, outfd;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
		in = open(a, O_RDONLY | O_CLOEXEC);
		outfd = open(b, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (in < 0 || outfd < 0)
			abort();
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(outfd, buf, (size_t)n) != n)
				abort();
		close(in);
		close(outfd);
	}
	closedir(d);
}

static void start(bool primary, const char *dir)
{
	struct repl_config rc;
	char err[EKL_ERRLEN] = "";
	int p;

	self_name = primary ? "n1" : "n2";
	peer_names[0] = primary ? "n2" : "n1";
	peer_names[1] = "n3";
	memset(&io, 0, sizeof(io));
	io.n_peers = PEERS;
	io.peer_name = io_peer_name;
	io.carrier = io_carrier;
	io.chan_up = io_chan_up;
	io.chan_version = io_chan_version;
	io.send = io_send;
	io.send_all = io_send_all;
	io.close = io_close;
	io.down_reason = io_down_reason;
	io.write_done = io_write_done;
	memset(chans, 0, sizeof(chans));
	memset(cur, 0, sizeof(cur));
	memset(&rc, 0, sizeof(rc));
	rc.loop = loop;
	rc.name = self_name;
	rc.vclass = POL_V_PRE154;
	rc.log_keep = primary ? PRIMARY_LOG : 100000;
	rc.ack_timeout_ms = 5000;
	if (repl_start(&rc, &io, dir, "n1", &repl, err) != 0) {
		fprintf(stderr, "fuzz_repl: %s\n", err);
		abort();
	}
	for (p = 0; p < PEERS; p++)
		link_up(p);
}

static void stop(void)
{
	char err[EKL_ERRLEN] = "";
	int i;

	FZ_CHECK(store_check(repl_store(repl), err) == 0,
		 "the store's invariants broke: %s", err);
	repl_stop(repl);
	repl = NULL;
	for (i = 0; i < n_writes; i++)
		FZ_CHECK(writes[i].done == 1, "write %d answered %d times", i,
			 writes[i].done);
}

static void write_row(const char *path, const char *value, bool ack_all)
{
	struct wr *w;

	if (n_writes == MAX_WRITES)
		return;
	w = &writes[n_writes++];
	memset(w, 0, sizeof(*w));
	repl_write(repl, w, path, value, ack_all, 5000);
}

/* The templates: a fresh peer's store, and a primary's with rows whose
 * early changes are compacted away. */
static void make_templates(void)
{
	const char *tmp = fz_tmpdir();
	char path[64];
	int k;

	snprintf(dir_work, sizeof(dir_work), "%s/node", tmp);
	snprintf(dir_tpl[0], sizeof(dir_tpl[0]), "%s/tpl-peer", tmp);
	snprintf(dir_tpl[1], sizeof(dir_tpl[1]), "%s/tpl-primary", tmp);
	if (mkdir(dir_work, 0700) != 0 || mkdir(dir_tpl[0], 0700) != 0 ||
	    mkdir(dir_tpl[1], 0700) != 0)
		abort();
	start(false, dir_tpl[0]);
	stop();
	start(true, dir_tpl[1]);
	n_writes = 0;
	/* Enough revisions for the change log to be compacted (repl_write.c:
	 * repl_maybe_compact keeps log_keep + log_keep / 8 + 64). */
	for (k = 0; k < TPL_ROWS; k++) {
		snprintf(path, sizeof(path), "seed/%d", k);
		write_row(path, k % 2 ? "odd" : "even", false);
		if (k % 8 == 7)
			run_loop();
	}
	run_loop();
	stop();
	n_writes = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	/* Speed only: no per-connection lookaside arena (a large allocation
	 * the sanitizer maps and unmaps on every store_open). */
	sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0);
	loop = ev_loop_new(EVFLAG_AUTO);
	if (loop == NULL)
		abort();
	make_templates();
	return 0;
}

static void control(const Ekl__Envelope *env, int *from)
{
	char path[64], value[64], err[EKL_ERRLEN];
	uint64_t seq;

	switch (env->msg_case) {
	case EKL__ENVELOPE__MSG_HELLO: *from ^= 1; return;
	case EKL__ENVELOPE__MSG_BYE:
		link_down(*from);
		link_up(*from);
		return;
	default: break;
	}
	seq = env->heartbeat->seq;
	switch (seq % 4) {
	case 0: run_loop(); return;
	case 1:
		snprintf(path, sizeof(path), "fz/%llu",
			 (unsigned long long)(seq % 64));
		snprintf(value, sizeof(value), "%llu", (unsigned long long)seq);
		write_row(path, value, (seq & 4) != 0);
		return;
	case 2:
		snprintf(path, sizeof(path), "fz/%llu",
			 (unsigned long long)((seq - 8) % 64));
		write_row(path, NULL, false);
		return;
	case 3: (void)repl_promote(repl, err); return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_dec d;
	Ekl__Envelope *env;
	char err[EKL_ERRLEN];
	struct jsonr_doc *doc = NULL;
	const char *text;
	struct json j;
	bool primary;
	int from = 0, frames = 0;

	if (size < 1)
		return 0;
	primary = data[0] & 1;
	copy_dir(dir_tpl[primary], dir_work);
	n_writes = 0;
	n_sent = 0;
	start(primary, dir_work);
	run_loop();

	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	if (frame_dec_feed(&d, data + 1, size - 1) == 0) {
		while (frames < 256 &&
		       frame_dec_next(&d, &env) == FRAME_READY) {
			frames++;
			switch (env->msg_case) {
			case EKL__ENVELOPE__MSG_HELLO:
			case EKL__ENVELOPE__MSG_BYE:
			case EKL__ENVELOPE__MSG_HEARTBEAT:
				control(env, &from);
				break;
			default:
				if (io_carrier(&io, from) == NULL)
					link_up(from);
				repl_on_frame(repl, from, io_carrier(&io, from),
					      env);
				ev_run(loop, EVRUN_NOWAIT);
				settle_closes();
			}
			ekl__envelope__free_unpacked(env, NULL);
		}
	}
	frame_dec_close(&d);
	run_loop();

	/* The status a node reports over its admin socket. */
	json_init(&j);
	json_obj_begin(&j);
	repl_status_json(repl, &j);
	json_key(&j, "peers");
	json_arr_begin(&j);
	for (int p = 0; p < PEERS; p++) {
		char line[256];

		repl_peer_json(repl, p, &j);
		repl_peer_text(repl, p, line, sizeof(line));
	}
	json_arr_end(&j);
	json_obj_end(&j);
	text = json_finish(&j);
	FZ_CHECK(text != NULL, "no status JSON");
	FZ_CHECK(jsonr_parse(text, strlen(text), &doc, err) == 0,
		 "the status is not JSON: %s: %s", err, text);
	jsonr_free(doc);
	json_close(&j);
	stop();
	return 0;
}
