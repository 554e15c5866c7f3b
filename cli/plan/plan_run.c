/* plan_run.c: `ekulab plan run`: a plan executed live on a lab.
 *
 * The happy path: bring the plan's topology up as a lab (its own state
 * directory), start a background writer on the primary, then for each
 * step: apply it to the model (plan_apply) and to the lab (lab faults),
 * wait until the observed links and replication equal the prediction
 * (bounded), pause the writer and wait until every node the model says
 * replicates has the primary's revision and digest, resume. Expect steps
 * are checked against the observation. At the end: stop the writer, let
 * the replicas converge, read every row back and check the writes set-wise
 * (lost, unexpected, never-read), take the lab down.
 *
 * The failure modes: a step that cannot be applied, an observation that
 * does not reach the prediction in time, replicas that do not converge, an
 * expectation that fails, a lost or unexpected write: each is a deviation,
 * reported and counted; the run goes on to the end and exits 1.
 */
#include "plan_run.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/admin_client.h"
#include "client/node_status.h"
#include "cmd.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "model/labmodel.h"
#include "ekulab/core/mem.h"
#include "model/plan/plan.h"
#include "lab/lab.h"
#include "lab/lab_fault.h"
#include "lab/lab_runtime.h"
#include "lab/lab_status.h"

#define SETTLE_SECONDS	 20.0 /* bound on waiting for links to match */
#define CONVERGE_SECONDS 20.0

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the background writer ------------------------------------------------
 */

static volatile sig_atomic_t writer_stop;

static void on_term(int sig)
{
	(void)sig;
	writer_stop = 1;
}

/* The child's state: the write log and the numbers of writes. */
struct lwriter {
	int lfd;   /* the write log */
	long next; /* number of the next write */
	long base; /* number of this connection's first write */
};

static int lw_next(void *arg, char *buf, size_t len)
{
	struct lwriter *w = arg;
	char rec[32];
	int rl;

	if (writer_stop)
		return 0;
	rl = snprintf(rec, sizeof(rec), "S %ld\n", w->next);
	if (write(w->lfd, rec, (size_t)rl) != rl)
		return 0;
	snprintf(buf, len, "text xConfiguration Plan Load %ld Value: v%ld",
		 w->next, w->next);
	w->next++;
	return 1;
}

static void lw_done(void *arg, size_t index, bool ok, const char *body)
{
	struct lwriter *w = arg;
	char rec[32];
	int rl;

	(void)body;
	if (!ok)
		return;
	rl = snprintf(rec, sizeof(rec), "K %ld\n", w->base + (long)index);
	if (write(w->lfd, rec, (size_t)rl) != rl)
		writer_stop = 1;
}

static bool lw_cancel(void *arg)
{
	(void)arg;
	return writer_stop != 0;
}

/* The child: keep up to 8 writes in flight on the primary; log "S N"
 * before sending write N and "K N" once acknowledged. Reconnects when the
 * primary goes away. */
static void writer_main(const char *sock, const char *log)
{
	struct lwriter w = {-1, 0, 0};
	struct admin_pipeline pl = {lw_next, lw_done, &w, 8, lw_cancel};

	w.lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	signal(SIGTERM, on_term);
	signal(SIGPIPE, SIG_IGN);
	while (!writer_stop) {
		char err[EKL_ERRLEN];
		int fd = admin_client_connect(sock, err);

		if (fd < 0) {
			usleep(100000);
			continue;
		}
		w.base = w.next;
		(void)admin_client_pipeline(fd, &pl, err);
		close(fd);
		usleep(50000);
	}
	close(w.lfd);
	_exit(0);
}

/* ---- observing ------------------------------------------------------------
 */

/* The lab's live state in the shape of a prediction. */
static int observe(const struct lab *l, struct lab_prediction *obs,
		   struct lab_status *st, char *err)
{
	const char *names[TOPO_MAX_NODES];
	size_t i, j, n = l->topo.n_nodes;
	int p = lab_node_index(l, l->topo.primary);
	int rv;

	memset(st, 0, sizeof(*st));
	rv = lab_status_collect(l, st, err);
	if (rv != 0)
		return rv;
	memset(obs, 0, sizeof(*obs));
	obs->n = n;
	obs->primary = (size_t)p;
	for (i = 0; i < n; i++) {
		names[i] = l->nodes[i].name;
		obs->running[i] = st->nodes[i].running && !st->nodes[i].paused;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			struct lab_dir *d = &obs->dir[i][j];
			const char *c;
			enum pol_code code;

			if (i == j)
				continue;
			c = lab_status_cell(l, st, i, j);
			d->v.depth = -1;
			if (strcmp(c, "-") == 0) {
				d->state = LAB_DIR_NOT_DIALLED;
			} else if (!obs->running[i] || !obs->running[j]) {
				d->state = LAB_DIR_NOT_RUNNING;
			} else if (strcmp(c, "ok") == 0) {
				d->state = LAB_DIR_OK;
				d->v.ok = true;
			} else if (pol_code_parse(c, &code) == 0) {
				d->state = LAB_DIR_REJECTED;
				d->v.code = code;
			} else {
				/* connect-failed, timeout, closed, pending:
				 * the connection does not happen. */
				d->state = LAB_DIR_CUT;
			}
		}
	labmodel_derive(obs, names);
	/* Replication as the nodes report it, not as links suggest. */
	for (i = 0; i < n; i++) {
		const struct lab_peer_status *r;

		if ((int)i == p || p < 0)
			continue;
		r = st->nodes[p].answers ? &st->nodes[p].peers[i] : NULL;
		obs->repl[i].replicating =
		    r != NULL && obs->running[i] &&
		    (strcmp(r->repl, "replicating") == 0 ||
		     strcmp(r->repl, "catching-up") == 0 ||
		     strcmp(r->repl, "snapshot") == 0);
		if (!obs->repl[i].replicating && r != NULL &&
		    labmodel_why_parse(r->reason, &obs->repl[i].why) != 0)
			obs->repl[i].why.kind = LAB_WHY_CUT;
	}
	return 0;
}

/* Do the observed links and replication equal the prediction? */
static bool matches(const struct lab_prediction *pred,
		    const struct lab_prediction *obs, const struct lab *l,
		    char *why, size_t len)
{
	size_t i, j, n = pred->n;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			const struct lab_dir *a = &pred->dir[i][j],
					     *b = &obs->dir[i][j];

			if (i == j || a->state == LAB_DIR_NOT_DIALLED)
				continue;
			if (a->state != b->state ||
			    (a->state == LAB_DIR_REJECTED &&
			     a->v.code != b->v.code)) {
				snprintf(
				    why, len,
				    "%s -> %s: predicted %s, observed %s",
				    l->nodes[i].name, l->nodes[j].name,
				    a->state == LAB_DIR_OK ? "ok"
				    : a->state == LAB_DIR_REJECTED
					? pol_code_name(a->v.code)
				    : a->state == LAB_DIR_CUT ? "cut"
							      : "not-running",
				    b->state == LAB_DIR_OK ? "ok"
				    : b->state == LAB_DIR_REJECTED
					? pol_code_name(b->v.code)
				    : b->state == LAB_DIR_CUT ? "no connection"
							      : "not-running");
				return false;
			}
		}
	for (i = 0; i < n; i++) {
		if (i == pred->primary || !pred->running[i])
			continue;
		if (pred->repl[i].replicating != obs->repl[i].replicating) {
			snprintf(why, len, "%s: predicted %s, observed %s",
				 l->nodes[i].name,
				 pred->repl[i].replicating ? "replicating"
							   : "not replicating",
				 obs->repl[i].replicating ? "replicating"
							  : "not replicating");
			return false;
		}
	}
	return true;
}

/* ---- the run --------------------------------------------------------------
 */

struct step_report {
	char text[PLAN_TEXT_MAX];
	double t_start;
	double t_end;
	bool applied;	/* the step could be carried out */
	bool matched;	/* observed = predicted (within the bound) */
	bool converged; /* replicas caught up (when checked) */
	bool is_expect;
	bool expect_ok;
	char detail[320];
	char predicted[512];
	char observed[512];
};

struct run {
	struct plan plan;
	struct lab lab;
	struct plan_sim sim;
	struct lab_prediction *pred; /* owned */
	struct lab_prediction *obs;  /* owned */
	struct step_report *rep;     /* owned, one per step */
	pid_t writer;
	char writer_log[LAB_PATH_MAX + 32];
	long step_writes; /* acknowledged by write steps */
	long step_attempts;
	size_t deviations;
	/* set check */
	long lost, unexpected, never_read, recovered, acked, attempted;
	double t0;
};

static void summarize(const struct lab_prediction *p, const struct lab *l,
		      char *buf, size_t len)
{
	size_t i, j, n = p->n, off = 0;
	bool any = false;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++) {
			const struct lab_pair *pr = labmodel_pair(p, i, j);

			if (pr->linked || off + 80 > len)
				continue;
			off += (size_t)snprintf(
			    buf + off, len - off, "%s%s-%s down (%s)",
			    any ? ", " : "", l->nodes[i].name, l->nodes[j].name,
			    labmodel_why_name(&pr->why));
			any = true;
		}
	for (i = 0; i < n; i++) {
		if (i == p->primary || p->repl[i].replicating || off + 80 > len)
			continue;
		off += (size_t)snprintf(buf + off, len - off,
					"%s%s not replicating (%s)",
					any ? "; " : "", l->nodes[i].name,
					labmodel_why_name(&p->repl[i].why));
		any = true;
	}
	if (!any)
		snprintf(buf, len, "all links up, all replicating");
}

static int primary_sock(const struct run *r, char *buf, size_t len)
{
	int p = lab_node_index(&r->lab, r->lab.topo.primary);

	lab_path(&r->lab, r->lab.nodes[p].name, "admin.sock", buf, len);
	return p;
}

static void writer_start(struct run *r)
{
	char sock[LAB_PATH_MAX + 80];

	primary_sock(r, sock, sizeof(sock));
	lab_path(&r->lab, NULL, "writes.log", r->writer_log,
		 sizeof(r->writer_log));
	fflush(NULL);
	r->writer = fork();
	if (r->writer == 0)
		writer_main(sock, r->writer_log);
}

static void writer_signal(struct run *r, int sig)
{
	if (r->writer > 0)
		kill(r->writer, sig);
}

static void writer_stop_wait(struct run *r)
{
	int st;

	if (r->writer <= 0)
		return;
	kill(r->writer, SIGCONT);
	kill(r->writer, SIGTERM);
	waitpid(r->writer, &st, 0);
	r->writer = 0;
}

/* Revision and digest of node i, or false. */
static bool db_state(const struct run *r, int i, long long *rev, char *digest,
		     size_t len)
{
	struct node_database db;
	char err[EKL_ERRLEN];
	int fd = lab_node_connect(&r->lab, i, err), rv;

	*rev = -1;
	digest[0] = '\0';
	if (fd < 0)
		return false;
	rv = node_database_get(fd, &db, err);
	close(fd);
	if (rv != 0)
		return false;
	*rev = db.revision;
	snprintf(digest, len, "%s", db.digest);
	return true;
}

/* Every node the model says replicates reaches the primary's revision and
 * digest (the writer paused). */
static bool converge(struct run *r, char *why, size_t len)
{
	int p = lab_node_index(&r->lab, r->lab.topo.primary);
	double end = now_s() + CONVERGE_SECONDS;
	size_t i;

	if (!r->pred->running[p])
		return true; /* nothing to converge on */
	usleep(300000);	     /* let in-flight writes land */
	while (now_s() < end) {
		long long prev, rv;
		char pd[80], d[80];
		bool all = true;

		if (!db_state(r, p, &prev, pd, sizeof(pd))) {
			usleep(100000);
			continue;
		}
		for (i = 0; i < r->lab.topo.n_nodes && all; i++) {
			if ((int)i == p || !r->pred->repl[i].replicating)
				continue;
			if (!db_state(r, (int)i, &rv, d, sizeof(d)) ||
			    rv != prev || strcmp(d, pd) != 0) {
				all = false;
				snprintf(why, len,
					 "%s at revision %lld, primary at %lld",
					 r->lab.nodes[i].name, rv, prev);
			}
		}
		if (all)
			return true;
		usleep(100000);
	}
	return false;
}

/* A write step: N acknowledged writes on the primary, pipelined. */
struct wgen {
	long step;
	long i, n, acked;
};

static int wgen_next(void *arg, char *buf, size_t len)
{
	struct wgen *g = arg;

	if (g->i >= g->n)
		return 0;
	snprintf(buf, len, "text xConfiguration Plan Step %ld Write %ld: w%ld",
		 g->step, g->i, g->i);
	g->i++;
	return 1;
}

static void wgen_done(void *arg, size_t index, bool ok, const char *body)
{
	struct wgen *g = arg;

	(void)index;
	(void)body;
	if (ok)
		g->acked++;
}

static int do_writes(struct run *r, size_t k, long n, char *err)
{
	struct wgen g = {(long)k + 1, 0, n, 0};
	struct admin_pipeline pl = {wgen_next, wgen_done, &g, 64, NULL};
	char sock[LAB_PATH_MAX + 80];
	int fd, rv;

	primary_sock(r, sock, sizeof(sock));
	fd = admin_client_connect(sock, err);
	if (fd < 0)
		return fd;
	rv = admin_client_pipeline(fd, &pl, err);
	close(fd);
	r->step_attempts += n;
	r->step_writes += g.acked;
	if (rv == 0 && g.acked != n)
		return ekl_errf(err, EKL_EIO,
				"only %ld of %ld writes were acknowledged",
				g.acked, n);
	return rv;
}

/* Carry a step out on the lab. */
static int apply_live(struct run *r, size_t k, char *err)
{
	const struct plan_step *s = &r->plan.steps[k];
	struct lab *l = &r->lab;
	const struct plan_fault *f = &s->fault;

	switch (s->kind) {
	case PLAN_WRITE: return do_writes(r, k, s->count, err);
	case PLAN_WAIT: usleep((useconds_t)s->wait_ms * 1000); return 0;
	case PLAN_EXPECT: return 0;
	case PLAN_RENEW: {
		/* Plans put certificates in place by hand (--force): the
		 * upload rule is the audit's business. */
		enum pki_ca ca = s->has_ca ? s->ca : l->nodes[s->node].ca;

		if (s->client)
			return ekl_errf(err, EKL_EINVAL,
					"renewing client certificates live is "
					"not supported by the lab yet");
		return lab_fault_renew(l, s->node, s->profile, ca, true, err);
	}
	case PLAN_UPGRADE:
		return lab_fault_upgrade(l, s->node, s->version, err);
	case PLAN_VERIFY: return lab_fault_verify(l, s->mode, s->node, err);
	case PLAN_HEAL:
		return lab_fault_heal(l, s->heal[0] ? s->heal : "all", err);
	case PLAN_FAULT: break;
	}
	switch (f->kind) {
	case PLAN_F_KILL: return lab_fault_kill(l, f->node, f->name, err);
	case PLAN_F_PAUSE: return lab_fault_pause(l, f->node, f->name, err);
	case PLAN_F_RESUME: return lab_fault_resume(l, f->node, err);
	case PLAN_F_RESTART: return lab_fault_restart(l, f->node, err);
	case PLAN_F_PARTITION: {
		struct lab_cuts cuts;
		int from[TOPO_MAX_NODES * 4], to[TOPO_MAX_NODES * 4], m = 0;
		size_t i, j;
		int rv = plan_partition_cuts(&l->topo, &f->part, &cuts, err);

		if (rv != 0)
			return rv;
		for (i = 0; i < l->topo.n_nodes; i++)
			for (j = 0; j < l->topo.n_nodes; j++)
				if (labmodel_cuts_has(&cuts, i, j) &&
				    m < TOPO_MAX_NODES * 4) {
					from[m] = (int)i;
					to[m++] = (int)j;
				}
		return lab_fault_links(l, f->name, "down", from, to, m, "",
				       err);
	}
	default: {
		int from[2] = {f->link[0], f->link[1]};
		int to[2] = {f->link[1], f->link[0]};
		char params[64] = "";

		if (f->kind == PLAN_F_LATENCY)
			snprintf(params, sizeof(params), "ms=%d jitter=%d",
				 f->ms, f->jitter_ms);
		else if (f->kind == PLAN_F_BANDWIDTH)
			snprintf(params, sizeof(params), "rate=%d",
				 f->kbps * 125);
		return lab_fault_links(l, f->name,
				       plan_fault_kind_name(f->kind), from, to,
				       2, params, err);
	}
	}
}

static void deviation(struct run *r, struct step_report *sr, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

static void deviation(struct run *r, struct step_report *sr, const char *fmt,
		      ...)
{
	va_list ap;
	size_t n = strlen(sr->detail);

	va_start(ap, fmt);
	if (n + 4 < sizeof(sr->detail)) {
		if (n > 0)
			n += (size_t)snprintf(sr->detail + n,
					      sizeof(sr->detail) - n, "; ");
		vsnprintf(sr->detail + n, sizeof(sr->detail) - n, fmt, ap);
	}
	va_end(ap);
	r->deviations++;
}

static void run_step(struct run *r, size_t k)
{
	const struct plan_step *s = &r->plan.steps[k];
	struct step_report *sr = &r->rep[k];
	char err[EKL_ERRLEN], why[256] = "";
	struct lab_status st;
	double end;
	bool pause_writer;

	snprintf(sr->text, sizeof(sr->text), "%s", s->text);
	sr->t_start = now_s() - r->t0;
	sr->is_expect = s->kind == PLAN_EXPECT;
	sr->applied = sr->matched = sr->converged = sr->expect_ok = true;
	if (plan_apply(&r->sim, s, err) != 0 ||
	    labmodel_predict(&r->sim.lab, r->pred, err) != 0) {
		sr->applied = false;
		deviation(r, sr, "model: %s", err);
		goto out;
	}
	summarize(r->pred, &r->lab, sr->predicted, sizeof(sr->predicted));
	if (apply_live(r, k, err) != 0) {
		sr->applied = false;
		deviation(r, sr, "%s", err);
	}
	/* Observed links equal the prediction (bounded wait). */
	end = now_s() + SETTLE_SECONDS;
	for (;;) {
		if (observe(&r->lab, r->obs, &st, err) == 0) {
			bool ok =
			    matches(r->pred, r->obs, &r->lab, why, sizeof(why));

			lab_status_free(&st);
			if (ok)
				break;
		} else {
			snprintf(why, sizeof(why), "%.250s", err);
		}
		if (now_s() > end) {
			sr->matched = false;
			deviation(r, sr, "observed links differ: %s", why);
			break;
		}
		usleep(200000);
	}
	summarize(r->obs, &r->lab, sr->observed, sizeof(sr->observed));
	if (s->kind == PLAN_EXPECT) {
		sr->expect_ok = plan_expect_eval(&s->expect, &r->lab.topo,
						 r->obs, why, sizeof(why));
		if (!sr->expect_ok)
			deviation(r, sr, "expectation failed: %s", why);
	}
	/* Replicas converge: pause the writer while checking. */
	pause_writer = r->writer > 0;
	if (pause_writer)
		writer_signal(r, SIGSTOP);
	if (!converge(r, why, sizeof(why))) {
		sr->converged = false;
		deviation(r, sr, "replicas did not converge: %s", why);
	}
	if (pause_writer)
		writer_signal(r, SIGCONT);
out:
	sr->t_end = now_s() - r->t0;
}

/* A background writer's row, path "Plan Load N Value" and value "vV":
 * true with N and V; false for any other row. */
static bool load_row(const char *path, const char *value, long *n, long *v)
{
	static const char pre[] = "Plan Load ";
	const char *num = path + sizeof(pre) - 1;
	char *end;

	if (strncmp(path, pre, sizeof(pre) - 1) != 0 || *num < '0' ||
	    *num > '9')
		return false;
	*n = strtol(num, &end, 10);
	if (strcmp(end, " Value") != 0 || value[0] != 'v' ||
	    ((value[1] < '0' || value[1] > '9') && value[1] != '-'))
		return false;
	*v = strtol(value + 1, &end, 10);
	return *end == '\0';
}

/* Read the rows of node i into a set check. */
static void set_check(struct run *r)
{
	FILE *f = fopen(r->writer_log, "r");
	char *acked = NULL, *sent = NULL, line[64];
	long max = 0, v;
	size_t i, n = r->lab.topo.n_nodes;
	int p = lab_node_index(&r->lab, r->lab.topo.primary);

	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line + 2, "%ld", &v) == 1 && v + 1 > max)
				max = v + 1;
		rewind(f);
	}
	acked = calloc((size_t)max + 1, 1);
	sent = calloc((size_t)max + 1, 1);
	if (acked == NULL || sent == NULL)
		goto out;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line + 2, "%ld", &v) == 1 && v >= 0 && v < max) {
			if (line[0] == 'K')
				acked[v] = 1;
			else
				sent[v] = 1;
		}
	for (v = 0; v < max; v++) {
		r->attempted += sent[v];
		r->acked += acked[v];
	}
	/* Every node that replicates at the end must hold every acked row. */
	for (i = 0; i < n; i++) {
		char err[EKL_ERRLEN];
		struct node_rows rows;
		char *seen;
		size_t k;
		int fd;

		if (!r->pred->running[i] ||
		    ((int)i != p && !r->pred->repl[i].replicating))
			continue;
		fd = lab_node_connect(&r->lab, (int)i, err);
		if (fd < 0 || node_rows_get(fd, &rows, err) != 0) {
			if (fd >= 0)
				close(fd);
			r->lost += r->acked; /* cannot read: count as lost */
			continue;
		}
		close(fd);
		seen = calloc((size_t)max + 1, 1);
		if (seen == NULL) {
			node_rows_free(&rows);
			continue;
		}
		for (k = 0; k < rows.n; k++) {
			long val;

			if (!load_row(rows.row[k].path, rows.row[k].value, &v,
				      &val))
				continue;
			if (v < 0 || v >= max || !sent[v] || val != v)
				r->unexpected++;
			else
				seen[v] = 1;
		}
		for (v = 0; v < max; v++) {
			if (acked[v] && !seen[v])
				r->lost++;
			if ((int)i == p && sent[v] && !acked[v])
				seen[v] ? r->recovered++ : r->never_read++;
		}
		free(seen);
		node_rows_free(&rows);
	}
out:
	if (f != NULL)
		fclose(f);
	free(acked);
	free(sent);
}

/* ---- reports --------------------------------------------------------------
 */

static void report_json(const struct run *r, FILE *out)
{
	struct json j;
	size_t k;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "plan");
	json_str(&j, r->plan.path);
	json_key(&j, "deviations");
	json_int(&j, (int64_t)r->deviations);
	json_key(&j, "steps");
	json_arr_begin(&j);
	for (k = 0; k < r->plan.n_steps; k++) {
		const struct step_report *s = &r->rep[k];

		json_obj_begin(&j);
		json_key(&j, "step");
		json_int(&j, (int64_t)k + 1);
		json_key(&j, "text");
		json_str(&j, s->text);
		json_key(&j, "start_s");
		json_int(&j, (int64_t)(s->t_start * 1000) / 1000);
		json_key(&j, "seconds");
		json_int(&j, (int64_t)((s->t_end - s->t_start) * 10) / 10);
		json_key(&j, "applied");
		json_bool(&j, s->applied);
		json_key(&j, "matches_prediction");
		json_bool(&j, s->matched);
		json_key(&j, "converged");
		json_bool(&j, s->converged);
		if (s->is_expect) {
			json_key(&j, "expectation_met");
			json_bool(&j, s->expect_ok);
		}
		json_key(&j, "predicted");
		json_str(&j, s->predicted);
		json_key(&j, "observed");
		json_str(&j, s->observed);
		json_key(&j, "detail");
		json_str(&j, s->detail[0] ? s->detail : NULL);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_key(&j, "writes");
	json_obj_begin(&j);
	json_key(&j, "attempted");
	json_int(&j, r->attempted + r->step_attempts);
	json_key(&j, "acknowledged");
	json_int(&j, r->acked + r->step_writes);
	json_key(&j, "lost");
	json_int(&j, r->lost);
	json_key(&j, "unexpected");
	json_int(&j, r->unexpected);
	json_key(&j, "never_read");
	json_int(&j, r->never_read);
	json_key(&j, "recovered");
	json_int(&j, r->recovered);
	json_obj_end(&j);
	json_obj_end(&j);
	if (json_finish(&j) != NULL)
		fprintf(out, "%s\n", json_finish(&j));
	json_close(&j);
}

static void html_text(FILE *f, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		default: fputc(*s, f);
		}
}

static void report_html(const struct run *r, FILE *f)
{
	size_t k;
	double total = r->plan.n_steps ? r->rep[r->plan.n_steps - 1].t_end : 1;

	fprintf(f, "<!doctype html><html><head><meta charset=\"utf-8\">"
		   "<title>ekulab plan run</title><style>"
		   "body{font-family:Helvetica,Arial,sans-serif;margin:24px}"
		   "table{border-collapse:collapse;width:100%%}"
		   "td,th{border-bottom:1px solid #ddd;padding:6px;"
		   "vertical-align:top;font-size:13px}"
		   ".ok{color:#2ca02c}.bad{color:#d62728;font-weight:bold}"
		   ".bar{background:#9ecae1;height:10px}"
		   "</style></head><body>\n<h1>ekulab plan run</h1>\n<p>");
	html_text(f, r->plan.path);
	fprintf(f,
		" &mdash; <span class=\"%s\">%zu deviation%s</span>; "
		"writes: %ld acknowledged, lost %ld, unexpected %ld, "
		"never-read %ld</p>\n",
		r->deviations ? "bad" : "ok", r->deviations,
		r->deviations == 1 ? "" : "s", r->acked + r->step_writes,
		r->lost, r->unexpected, r->never_read);
	fprintf(f, "<table><tr><th>#</th><th>step</th><th>time</th>"
		   "<th>predicted</th><th>observed</th><th>result</th></tr>\n");
	for (k = 0; k < r->plan.n_steps; k++) {
		const struct step_report *s = &r->rep[k];
		bool good = s->detail[0] == '\0';

		fprintf(f, "<tr><td>%zu</td><td>", k + 1);
		html_text(f, s->text);
		fprintf(f,
			"</td><td>%.1f s<div class=\"bar\" style=\"margin-"
			"left:%.0f%%;width:%.0f%%\"></div></td><td>",
			s->t_end - s->t_start,
			total > 0 ? 100 * s->t_start / total : 0,
			total > 0 ? 100 * (s->t_end - s->t_start) / total + 1
				  : 0);
		html_text(f, s->predicted);
		fprintf(f, "</td><td>");
		html_text(f, s->observed);
		fprintf(f, "</td><td class=\"%s\">", good ? "ok" : "bad");
		html_text(f, good ? "as predicted" : s->detail);
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table></body></html>\n");
}

static void print_step(const struct run *r, size_t k)
{
	const struct step_report *s = &r->rep[k];

	printf("%3zu %-44s %5.1fs  %s\n", k + 1, s->text, s->t_end - s->t_start,
	       s->detail[0] ? "DEVIATION" : "ok");
	printf("      predicted: %s\n", s->predicted);
	if (s->detail[0])
		printf("      observed:  %s\n      why:       %s\n",
		       s->observed, s->detail);
	fflush(stdout);
}

int plan_run_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", required_argument, NULL, 'j'},
	    {"html", required_argument, NULL, 'H'},
	    {"state", required_argument, NULL, 's'},
	    {"keep", no_argument, NULL, 'k'},
	    {"no-workload", no_argument, NULL, 'n'},
	    {"runtime", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *json = NULL, *html = NULL, *state = NULL;
	const char *runtime = "process";
	char err[EKL_ERRLEN], sdir[LAB_PATH_MAX], name[TOPO_NAME_MAX + 24];
	bool keep = false, workload = true, up = false;
	struct run *r;
	size_t k;
	int opt, rv = 2;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = optarg; break;
		case 'H': html = optarg; break;
		case 's': state = optarg; break;
		case 'k': keep = true; break;
		case 'n': workload = false; break;
		case 'r': runtime = optarg; break;
		case 'h':
			printf("usage: ekulab plan run PLAN [--json FILE|-] "
			       "[--html FILE] [--state DIR] [--keep] "
			       "[--no-workload] [--runtime process|docker]\n");
			return 0;
		default:
			cli_fail(
			    "plan run: unknown option or missing value: %s",
			    argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		cli_fail("plan run: give one PLAN file");
		return 2;
	}
	r = ekl_calloc(1, sizeof(*r));
	if (r == NULL)
		return 1;
	r->pred = ekl_calloc(1, sizeof(*r->pred));
	r->obs = ekl_calloc(1, sizeof(*r->obs));
	if (r->pred == NULL || r->obs == NULL) {
		cli_fail("plan run: out of memory");
		rv = 1;
		goto out_free;
	}
	if (plan_load(argv[optind], &r->plan, err) != 0) {
		cli_fail("plan run: %s", err);
		goto out_free;
	}
	r->rep =
	    ekl_calloc(r->plan.n_steps ? r->plan.n_steps : 1, sizeof(*r->rep));
	/* A plan's lab has its own state directory, per run: it never
	 * touches a lab of the same topology that is up, nor another run. */
	snprintf(name, sizeof(name), "%s-plan-%d", r->plan.topo.name,
		 (int)getpid());
	lab_default_state(name, sdir, sizeof(sdir));
	if (r->rep == NULL ||
	    lab_open_topo(&r->lab, &r->plan.topo, r->plan.path,
			  state != NULL ? state : sdir, err) != 0 ||
	    lab_prepare(&r->lab, runtime, err) != 0) {
		cli_fail("plan run: %s", err);
		rv = 1;
		goto out_plan;
	}
	up = true;
	r->t0 = now_s();
	printf("plan %s: %zu steps on a lab of %zu nodes (state %s)\n",
	       r->plan.path, r->plan.n_steps, r->lab.topo.n_nodes,
	       r->lab.state);
	if (lab_start_all(&r->lab, err) != 0) {
		cli_fail("plan run: lab up: %s", err);
		rv = 1;
		goto out_lab;
	}
	plan_sim_init(&r->sim, &r->plan, r->plan.at);
	if (labmodel_predict(&r->sim.lab, r->pred, err) != 0) {
		cli_fail("plan run: %s", err);
		rv = 1;
		goto out_lab;
	}
	if (workload)
		writer_start(r);
	for (k = 0; k < r->plan.n_steps; k++) {
		run_step(r, k);
		print_step(r, k);
	}
	writer_stop_wait(r);
	{
		char why[256];

		if (!converge(r, why, sizeof(why))) {
			r->deviations++;
			printf("final convergence failed: %s\n", why);
		}
	}
	set_check(r);
	if (r->lost || r->unexpected)
		r->deviations++;
	printf("\nwrites: %ld attempted, %ld acknowledged; lost %ld, "
	       "unexpected %ld, never-read %ld, recovered %ld\n",
	       r->attempted + r->step_attempts, r->acked + r->step_writes,
	       r->lost, r->unexpected, r->never_read, r->recovered);
	printf("%zu deviation%s\n", r->deviations,
	       r->deviations == 1 ? "" : "s");
	if (json != NULL) {
		FILE *f = strcmp(json, "-") == 0 ? stdout : fopen(json, "w");

		if (f != NULL) {
			report_json(r, f);
			if (f != stdout)
				fclose(f);
		} else {
			cli_fail("plan run: --json %s: %s", json,
				 strerror(errno));
		}
	}
	if (html != NULL) {
		FILE *f = fopen(html, "w");

		if (f != NULL) {
			report_html(r, f);
			fclose(f);
			printf("report: %s\n", html);
		} else {
			cli_fail("plan run: --html %s: %s", html,
				 strerror(errno));
		}
	}
	rv = r->deviations > 0 ? 1 : 0;
out_lab:
	writer_stop_wait(r);
	if (up) {
		lab_stop_all(&r->lab);
		if (!keep && lab_remove_state(&r->lab, err) != 0)
			cli_fail("plan run: %s", err);
		else if (keep)
			printf("lab state kept in %s\n", r->lab.state);
	}
	lab_close(&r->lab);
out_plan:
	plan_free(&r->plan);
out_free:
	ekl_free(r->rep);
	ekl_free(r->pred);
	ekl_free(r->obs);
	ekl_free(r);
	return rv;
}
