/* soak.c: `ekulab soak`: random faults on a live lab, then the checker.
 *
 * The happy path: read the topology into a plan with no steps (the run
 * state of cli/plan, so the lab, the model walk, the writers, the live
 * step and the set check are plan run's own), bring the lab up, start two
 * writers (ack=all and ack=primary, each at SOAK_WRITE_RATE writes a
 * second), then for each of the N faults: draw a kind and its target from
 * the seed (draw_fault), apply it to the model (plan_apply) and to the lab
 * (prun_apply_live: the lab fault functions), hold it a drawn while, and
 * heal one fault in force when two are (or by a draw). A primary move
 * first heals everything and waits until every node is on the primary's
 * digest with the writers paused (60 s at most, else an error; the
 * modelling choice of
 * docs/replication.md: the new primary's history wins, so a move from an
 * unconverged cluster may discard ack=primary writes by design), moves
 * it, and resumes the writers only once every node follows the new
 * primary (all_follow: the old one takes writes until it hears of the new
 * epoch, and what it acknowledges then is discarded). At the
 * end: heal all, stop the writers, wait until the links match the model
 * and every node has the primary's revision and digest, check every row
 * against the writers' logs, stop the lab and look for any process left
 * that runs from its state directory. A run that fails keeps its state
 * directory (with lost.txt, each node's lost writes) and says where.
 *
 * The failure modes: a fault the lab cannot apply is counted (errors) and
 * the run goes on; a lab that does not come up ends the run; Ctrl-C or
 * SIGTERM (lab_interrupt.h) stops the writers, the nodes and the proxy and
 * removes the state directory.
 */
#include "soak.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/node_status.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "lab/lab_fault.h"
#include "lab/lab_interrupt.h"
#include "lab/lab_status.h"
#include "plan/plan_int.h"

#define SOAK_WRITE_RATE	      100   /* writes a second, per writer */
#define SOAK_LOG_KEEP	      2000  /* a node further behind: a snapshot */
#define SOAK_SETTLE_SECONDS   60.0  /* links match the model at the end */
#define SOAK_CONVERGE_SECONDS 120.0 /* digests equal at the end */

/* A failed run's lost writes, in its state directory. */
#define SOAK_LOST_FILE "lost.txt"

bool soak_passed(const struct soak_result *r)
{
	return r->lost == 0 && r->unexpected == 0 && r->converged &&
	       r->left_behind == 0 && r->errors == 0;
}

static void why_first(struct soak_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void why_first(struct soak_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->why[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
}

/* ---- the lab side ---- */

struct soak {
	const struct soak_opts *o;
	struct soak_result *res;
	struct run *r; /* NULL in a dry run */
	struct plan_sim *sim;
	struct topo *topo;
	struct prun_writer w[2];
	char primary_file[LAB_PATH_MAX + 32];
	double t0;
};

static void progress(const struct soak *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void progress(const struct soak *s, const char *fmt, ...)
{
	va_list ap;

	if (s->o->progress == NULL)
		return;
	va_start(ap, fmt);
	fprintf(s->o->progress, "soak %7.1fs: ", prun_now() - s->t0);
	vfprintf(s->o->progress, fmt, ap);
	va_end(ap);
	fputc('\n', s->o->progress);
	fflush(s->o->progress);
}

/* Write the primary's admin socket into the writers' primary file
 * (atomically: they read it on every reconnect). */
static int write_primary_file(struct soak *s, char *err)
{
	char sock[LAB_ADMIN_TARGET_MAX], tmp[LAB_PATH_MAX + 40];
	FILE *f;

	prun_primary_sock(s->r, sock, sizeof(sock));
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->primary_file);
	f = fopen(tmp, "w");
	if (f == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", tmp, strerror(errno));
	fprintf(f, "%s\n", sock);
	if (fclose(f) != 0 || rename(tmp, s->primary_file) != 0)
		return ekl_errf(err, EKL_EIO, "%s: %s", s->primary_file,
				strerror(errno));
	return 0;
}

static int start_writers(struct soak *s, char *err)
{
	static const char *const tags[2] = {"All", "Primary"};
	char sock[LAB_ADMIN_TARGET_MAX];
	int k, rv;

	lab_path(&s->r->lab, NULL, "primary", s->primary_file,
		 sizeof(s->primary_file));
	if ((rv = write_primary_file(s, err)) != 0)
		return rv;
	prun_primary_sock(s->r, sock, sizeof(sock));
	for (k = 0; k < 2; k++) {
		struct prun_writer *w = &s->w[k];
		char name[32];

		snprintf(name, sizeof(name), "writes-%s.log", tags[k]);
		lab_path(&s->r->lab, NULL, name, w->log, sizeof(w->log));
		snprintf(w->tag, sizeof(w->tag), "%s", tags[k]);
		w->ack_all = k == 0;
		w->rate = SOAK_WRITE_RATE;
		snprintf(w->primary_file, sizeof(w->primary_file), "%s",
			 s->primary_file);
		if ((rv = prun_writer_fork(w, sock, err)) != 0)
			return rv;
	}
	return 0;
}

static void writers_signal(struct soak *s, int sig)
{
	prun_writer_kill(&s->w[0], sig);
	prun_writer_kill(&s->w[1], sig);
}

static void writers_stop(struct soak *s)
{
	prun_writer_wait(&s->w[0]);
	prun_writer_wait(&s->w[1]);
}

/* Wait until the observed links and replication equal the model's
 * prediction; false with why after `seconds` or a signal. */
static bool settle(struct soak *s, double seconds, char *why, size_t len)
{
	struct run *r = s->r;
	double end = prun_now() + seconds;
	char err[EKL_ERRLEN];

	if (labmodel_predict(&r->sim.lab, r->pred, err) != 0) {
		snprintf(why, len, "model: %.200s", err);
		return false;
	}
	for (;;) {
		struct lab_status st;

		if (prun_observe(&r->lab, r->obs, &st, err) == 0) {
			bool ok =
			    prun_matches(r->pred, r->obs, &r->lab, why, len);

			lab_status_free(&st);
			if (ok)
				return true;
		} else {
			snprintf(why, len, "%.250s", err);
		}
		if (prun_now() > end || !lab_sleep(0.2))
			return false;
	}
}

/* Revision and digest of node i. */
static bool db_of(const struct lab *l, int i, struct node_database *db)
{
	char err[EKL_ERRLEN];
	int fd = lab_node_connect(l, i, err), rv;

	if (fd < 0)
		return false;
	rv = node_database_get(fd, db, err);
	close(fd);
	return rv == 0;
}

/* Does node `name`'s database d differ from the reference node's (ref,
 * named ref_name) in what a wait compares? Then true, with why. */
typedef bool (*soak_differs)(const struct node_database *d, const char *name,
			     const struct node_database *ref,
			     const char *ref_name, char *why, size_t len);

/* Every node answers and none differs from node `ref` (`role` names it in
 * a message), `hits` polls in a row `gap` s apart; false with why after
 * `seconds`. */
static bool all_like(struct soak *s, int ref, const char *role,
		     soak_differs differs, int hits, double gap, double seconds,
		     char *why, size_t len)
{
	const struct lab *l = &s->r->lab;
	double end = prun_now() + seconds;
	int got = 0;
	size_t i;

	for (;;) {
		struct node_database rd, d;
		bool all = db_of(l, ref, &rd);

		if (!all)
			snprintf(why, len, "%s %s does not answer", role,
				 l->nodes[ref].name);
		for (i = 0; i < l->topo.n_nodes && all; i++) {
			if ((int)i == ref)
				continue;
			if (!db_of(l, (int)i, &d)) {
				all = false;
				snprintf(why, len, "%s does not answer",
					 l->nodes[i].name);
			} else if (differs(&d, l->nodes[i].name, &rd,
					   l->nodes[ref].name, why, len)) {
				all = false;
			}
		}
		got = all ? got + 1 : 0;
		if (got >= hits)
			return true;
		if (prun_now() > end || !lab_sleep(gap))
			return false;
	}
}

static bool other_data(const struct node_database *d, const char *name,
		       const struct node_database *ref, const char *ref_name,
		       char *why, size_t len)
{
	if (d->revision == ref->revision && strcmp(d->digest, ref->digest) == 0)
		return false;
	snprintf(why, len,
		 "%s at revision %lld digest %.12s, the primary %s at %lld "
		 "%.12s",
		 name, (long long)d->revision, d->digest, ref_name,
		 (long long)ref->revision, ref->digest);
	return true;
}

/* Every node (whatever the model says) on the primary's revision and
 * digest, twice in a row 0.3 s apart; false with why after `seconds`. */
static bool all_equal(struct soak *s, double seconds, char *why, size_t len)
{
	const struct lab *l = &s->r->lab;

	return all_like(s, lab_node_index(l, l->topo.primary), "the primary",
			other_data, 2, 0.3, seconds, why, len);
}

static bool other_primary(const struct node_database *d, const char *name,
			  const struct node_database *ref, const char *ref_name,
			  char *why, size_t len)
{
	if (d->epoch == ref->epoch && strcasecmp(d->primary, ref->primary) == 0)
		return false;
	snprintf(why, len, "%s in epoch %lld with primary %s, %s in epoch %lld",
		 name, (long long)d->epoch,
		 d->primary[0] ? d->primary : "(none)", ref_name,
		 (long long)ref->epoch);
	return true;
}

/* After ClusterPrimary to node `to`: every node names `to` as the primary
 * of its epoch, the one `to` opened (the old primary above all: until it
 * hears of that epoch it still takes writes, and the `--ack primary`
 * writes it acknowledges meanwhile are discarded, by design, when it
 * rejoins: docs/replication.md). False with why after `seconds`. */
static bool all_follow(struct soak *s, int to, double seconds, char *why,
		       size_t len)
{
	return all_like(s, to, "the new primary", other_primary, 1, 0.05,
			seconds, why, len);
}

/* Heal every fault, in the model and on the lab. */
static int heal_all(struct soak *s, char *err)
{
	struct plan_step st;

	memset(&st, 0, sizeof(st));
	st.kind = PLAN_HEAL;
	snprintf(st.text, sizeof(st.text), "heal all");
	if (plan_apply(s->sim, &st, err) != 0)
		return EKL_EINVAL;
	if (s->r == NULL)
		return 0;
	return prun_apply_live(s->r, &st, 0, NULL, err);
}

/* The primary moves to node `to`: heal everything, pause the writers,
 * wait until every node has the primary's digest, then ClusterPrimary to
 * `to`, the model and the lab follow, the writers go on there. No
 * convergence within 60 s is counted as an error, and the move is made
 * anyway (the draws must not depend on the lab). Returns 0 or an error. */
static int move_primary(struct soak *s, int to, char *err)
{
	struct run *r = s->r;
	char why[400] = "", *body = NULL, cmd[128];
	bool ok = false;
	size_t i;
	int rv;

	if ((rv = heal_all(s, err)) != 0)
		return rv;
	if (r != NULL) {
		writers_signal(s, SIGSTOP);
		if (!settle(s, 30.0, why, sizeof(why)) ||
		    !all_equal(s, 30.0, why, sizeof(why))) {
			/* Healed, writers paused, 60 s: a failure. The move
			 * is made anyway, so the draws stay the seed's. */
			s->res->errors++;
			why_first(s->res,
				  "before moving the primary to %s, with every "
				  "fault healed: not converged in 60 s: %s",
				  s->topo->nodes[to].name, why);
			progress(s, "error: not converged before the move: %s",
				 why);
		}
		snprintf(cmd, sizeof(cmd), "xCommand ClusterPrimary Name: %s",
			 s->topo->nodes[to].name);
		rv = lab_ask(&r->lab, to, "text", cmd, &ok, &body, err);
		if (rv == 0 && !ok)
			rv = ekl_errf(err, EKL_EIO, "%s: %.300s", cmd,
				      body != NULL ? body : "");
		ekl_free(body);
		if (rv != 0) {
			writers_signal(s, SIGCONT);
			return rv;
		}
		/* The writers stay paused until the old primary has stepped
		 * down: resumed earlier, they would write on there (their
		 * connection is to it) and what it acknowledged before
		 * hearing of the new epoch would be discarded. */
		if (!all_follow(s, to, 30.0, why, sizeof(why))) {
			s->res->errors++;
			why_first(s->res,
				  "after moving the primary to %s: not every "
				  "node follows it in 30 s: %s",
				  s->topo->nodes[to].name, why);
			progress(s, "error: not every node follows %s: %s",
				 s->topo->nodes[to].name, why);
		}
	}
	/* The model and the topology (the lab's copy too) name `to`. */
	snprintf(s->topo->primary, sizeof(s->topo->primary), "%s",
		 s->topo->nodes[to].name);
	s->topo->clusters[0].primary = (size_t)to;
	s->sim->lab.primary = (size_t)to;
	if (r == NULL)
		return 0;
	snprintf(r->lab.topo.primary, sizeof(r->lab.topo.primary), "%s",
		 s->topo->nodes[to].name);
	r->lab.topo.clusters[0].primary = (size_t)to;
	for (i = 0; i < r->lab.topo.n_nodes && rv == 0; i++)
		rv = lab_write_node_conf(&r->lab, (int)i, err);
	if (rv == 0)
		rv = lab_save(&r->lab, err);
	if (rv == 0)
		rv = write_primary_file(s, err);
	writers_signal(s, SIGCONT);
	return rv;
}

/* ---- the run ---- */

/* Is pid a zombie child of this process (exited, never reaped)? */
static bool our_zombie(long pid)
{
	char path[64], buf[512], *rp, st;
	long ppid;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp != NULL && sscanf(rp + 1, " %c %ld", &st, &ppid) == 2 &&
	       st == 'Z' && ppid == (long)getpid();
}

/* What the lab left behind: every process whose command line names the
 * state directory (nodes, the proxy), but this one, and every child of
 * this process that exited and was never reaped (a zombie the runtime
 * forgot). The zombies are reaped after they are counted. */
static long left_behind(const char *state)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	long n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[4096];
		size_t len, k;
		FILE *f;
		long pid = strtol(e->d_name, NULL, 10);

		if (pid <= 0 || pid == (long)getpid())
			continue;
		if (our_zombie(pid)) {
			n++;
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (k = 0; k < len; k++)
			if (buf[k] == '\0')
				buf[k] = ' ';
		buf[len] = '\0';
		if (len > 0 && strstr(buf, state) != NULL)
			n++;
	}
	closedir(d);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return n;
}

/* ---- the draws: a portable random stream, the seed's only use ---- */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* 0 .. n-1 */
static int pick(struct rng *r, int n)
{
	return n <= 1 ? 0 : (int)(rng_next(r) % (uint64_t)n);
}

/* lo .. hi */
static int between(struct rng *r, int lo, int hi)
{
	return lo + pick(r, hi - lo + 1);
}

static bool chance(struct rng *r, int pct)
{
	return pick(r, 100) < pct;
}

static const char *const soak_names[] = {
#define SOAK_NAME(e, s) s,
    SOAK_KINDS(SOAK_NAME)
#undef SOAK_NAME
};

const char *soak_kind_name(enum soak_kind k)
{
	return (unsigned)k < SOAK_N_KINDS ? soak_names[k] : "?";
}

int soak_kinds_parse(const char *list, uint32_t *out, char *err)
{
	char buf[512], *tok, *save = NULL, known[400] = "";
	int k;

	*out = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (k = 0; k < SOAK_N_KINDS; k++)
		snprintf(known + strlen(known), sizeof(known) - strlen(known),
			 "%s%s", k ? ", " : "", soak_names[k]);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		for (k = 0; k < SOAK_N_KINDS; k++)
			if (strcmp(tok, soak_names[k]) == 0)
				break;
		if (k == SOAK_N_KINDS)
			return ekl_errf(err, EKL_EINVAL,
					"--kinds: '%s' is not a fault kind; "
					"known: %s",
					tok, known);
		*out |= UINT32_C(1) << k;
	}
	if (*out == 0)
		return ekl_errf(err, EKL_EINVAL,
				"--kinds: name at least one of: %s", known);
	return 0;
}

/* The versions an upgrade draws from (one of each class and an older
 * pre-X15.4). */
static const char *const soak_versions[] = {"X14.3.7", "X15.3.2", "X15.4",
					    "X15.5"};
#define SOAK_NVERS (int)(sizeof(soak_versions) / sizeof(soak_versions[0]))

/* Does every node replicate in the model once every fault is healed and
 * step st (a renewal or an upgrade; NULL: none) is applied, with node
 * `primary` (-1: the current one) as the primary? (A renewal the upload
 * rule refuses does not count.) */
static bool keeps_linked(struct soak *s, struct plan_sim *t,
			 struct lab_prediction *pred,
			 const struct plan_step *st, int primary)
{
	struct plan_step heal;
	struct plan_outcome oc;
	char err[EKL_ERRLEN];
	size_t i;

	*t = *s->sim; /* shares the file facts; never freed */
	memset(&heal, 0, sizeof(heal));
	memset(&oc, 0, sizeof(oc));
	heal.kind = PLAN_HEAL;
	if (primary >= 0)
		t->lab.primary = (size_t)primary;
	if (plan_apply(t, &heal, err) != 0 ||
	    (st != NULL && plan_apply_outcome(t, st, &oc, err) != 0) ||
	    (oc.renew && oc.result == PLAN_RENEW_REFUSED) ||
	    labmodel_predict(&t->lab, pred, err) != 0)
		return false;
	for (i = 0; i < t->lab.n; i++)
		if (i != t->lab.primary && !pred->repl[i].replicating)
			return false;
	return true;
}

/* Draw a renewal or an upgrade among those that keep the cluster linked;
 * false when there is none. */
static bool draw_change(struct soak *s, struct rng *g, bool renew,
			struct plan_step *st)
{
	struct plan_sim *t = ekl_calloc(1, sizeof(*t));
	struct lab_prediction *pred = ekl_calloc(1, sizeof(*pred));
	struct plan_step *c = NULL;
	size_t n = s->topo->n_nodes, m = 0, i;
	int a, b;

	if (t == NULL || pred == NULL)
		goto out;
	c = ekl_calloc(n * 16, sizeof(*c));
	if (c == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		for (a = 0; a < (renew ? 5 : SOAK_NVERS); a++)
			for (b = 0; b < (renew ? 3 : 1); b++) {
				struct plan_step x;

				memset(&x, 0, sizeof(x));
				x.node = (int)i;
				if (renew) {
					x.kind = PLAN_RENEW;
					x.profile = (enum pki_profile)a;
					x.has_ca = true;
					x.ca = (enum pki_ca)b;
					x.via = PLAN_VIA_UPLOAD;
				} else {
					x.kind = PLAN_UPGRADE;
					if (strcmp(s->sim->lab.nodes[i].version,
						   soak_versions[a]) == 0)
						continue;
					snprintf(x.version, sizeof(x.version),
						 "%s", soak_versions[a]);
				}
				if (keeps_linked(s, t, pred, &x, -1))
					c[m++] = x;
			}
	}
	if (m > 0)
		*st = c[pick(g, (int)m)];
out:
	ekl_free(c);
	ekl_free(t);
	ekl_free(pred);
	return m > 0;
}

/* Draw a new primary among the nodes every other node would replicate
 * from (the model, every fault healed); -1 when there is none. */
static int draw_primary(struct soak *s, struct rng *g)
{
	struct plan_sim *t = ekl_calloc(1, sizeof(*t));
	struct lab_prediction *pred = ekl_calloc(1, sizeof(*pred));
	int c[TOPO_MAX_NODES], m = 0, i, n = (int)s->topo->n_nodes;

	for (i = 0; i < n && t != NULL && pred != NULL; i++)
		if (i != (int)s->sim->lab.primary &&
		    keeps_linked(s, t, pred, NULL, i))
			c[m++] = i;
	ekl_free(t);
	ekl_free(pred);
	return m > 0 ? c[pick(g, m)] : -1;
}

/* Draw fault number k of kind `kind` into st (a fault, renew or upgrade
 * step) or *to (a primary move); false when the kind cannot be drawn now
 * (no candidate). Uses the seed's stream and the model only. */
static bool draw_fault(struct soak *s, struct rng *g, enum soak_kind kind,
		       long k, struct plan_step *st, int *to)
{
	static const enum plan_fault_kind link_kind[] = {
	    [SOAK_DOWN] = PLAN_F_DOWN,
	    [SOAK_BLACKHOLE] = PLAN_F_BLACKHOLE,
	    [SOAK_RESET] = PLAN_F_RESET,
	    [SOAK_LATENCY] = PLAN_F_LATENCY,
	    [SOAK_BANDWIDTH] = PLAN_F_BANDWIDTH,
	    [SOAK_SLOW_CLOSE] = PLAN_F_SLOW_CLOSE,
	    [SOAK_TIMEOUT] = PLAN_F_TIMEOUT,
	    [SOAK_SLICER] = PLAN_F_SLICER,
	    [SOAK_LIMIT_DATA] = PLAN_F_LIMIT_DATA,
	};
	int n = (int)s->topo->n_nodes;
	struct plan_fault *f = &st->fault;

	memset(st, 0, sizeof(*st));
	st->kind = PLAN_FAULT;
	switch (kind) {
	case SOAK_KILL:
	case SOAK_PAUSE:
	case SOAK_RESTART:
		plan_fault_init(f, kind == SOAK_KILL	? PLAN_F_KILL
				   : kind == SOAK_PAUSE ? PLAN_F_PAUSE
							: PLAN_F_RESTART);
		f->node = pick(g, n);
		break;
	case SOAK_PARTITION: {
		enum plan_shape shapes[5];
		int m = 0;

		shapes[m++] = PLAN_SHAPE_ISOLATE;
		shapes[m++] = PLAN_SHAPE_HALVES;
		shapes[m++] = PLAN_SHAPE_ONE_WAY;
		if (n >= 3)
			shapes[m++] = PLAN_SHAPE_BRIDGE;
		if (n >= 4)
			shapes[m++] = PLAN_SHAPE_RING;
		plan_fault_init(f, PLAN_F_PARTITION);
		f->part.shape = shapes[pick(g, m)];
		if (f->part.shape == PLAN_SHAPE_ISOLATE ||
		    f->part.shape == PLAN_SHAPE_BRIDGE)
			f->part.node = pick(g, n);
		if (f->part.shape == PLAN_SHAPE_ONE_WAY) {
			f->part.from = pick(g, n);
			f->part.to = (f->part.from + 1 + pick(g, n - 1)) % n;
		}
		break;
	}
	case SOAK_RENEW:
	case SOAK_UPGRADE:
		if (!draw_change(s, g, kind == SOAK_RENEW, st))
			return false;
		plan_step_text(s->topo, st);
		return true;
	case SOAK_PRIMARY:
		if (s->topo->dial == TOPO_DIAL_PRIMARY || n < 2)
			return false; /* routes follow the primary */
		if ((*to = draw_primary(s, g)) < 0)
			return false;
		snprintf(st->text, sizeof(st->text), "primary %s -> %s",
			 s->topo->nodes[s->sim->lab.primary].name,
			 s->topo->nodes[*to].name);
		return true;
	default:
		plan_fault_init(f, link_kind[kind]);
		f->link[0] = pick(g, n);
		f->link[1] = (f->link[0] + 1 + pick(g, n - 1)) % n;
		f->direction = (enum plan_direction)pick(g, 3);
		if (chance(g, 25))
			f->toxicity = between(g, 1, 9) / 10.0;
		switch (f->kind) {
		case PLAN_F_LATENCY:
			f->ms = between(g, 5, 300);
			f->jitter_ms = between(g, 0, f->ms / 2);
			break;
		case PLAN_F_BANDWIDTH: f->kbps = between(g, 16, 4096); break;
		case PLAN_F_SLOW_CLOSE: f->ms = between(g, 100, 3000); break;
		case PLAN_F_TIMEOUT: f->ms = between(g, 0, 3000); break;
		case PLAN_F_SLICER:
			f->average_size = between(g, 1, 512);
			f->size_variation = pick(g, f->average_size);
			f->delay_us = between(g, 0, 500);
			break;
		case PLAN_F_LIMIT_DATA:
			f->bytes = between(g, 100, 500000);
			break;
		default: break;
		}
		break;
	}
	snprintf(f->name, sizeof(f->name), "soak-%ld", k + 1);
	plan_step_text(s->topo, st);
	return true;
}

/* The kinds that can be drawn at all on this topology. */
static uint32_t usable_kinds(const struct soak *s)
{
	uint32_t m =
	    s->o->kinds ? s->o->kinds : (UINT32_C(1) << SOAK_N_KINDS) - 1;

	if (s->topo->dial == TOPO_DIAL_PRIMARY)
		m &= ~(UINT32_C(1) << SOAK_PRIMARY);
	return m;
}

/* ---- one fault ---- */

/* Heal fault `name` (the model's and the lab's). */
static int heal_one(struct soak *s, const char *name, char *err)
{
	struct plan_step st;

	memset(&st, 0, sizeof(st));
	st.kind = PLAN_HEAL;
	snprintf(st.heal, sizeof(st.heal), "%s", name);
	if (plan_apply(s->sim, &st, err) != 0)
		return EKL_EINVAL;
	return s->r != NULL ? prun_apply_live(s->r, &st, 0, NULL, err) : 0;
}

/* Draw and apply fault k, hold it, maybe heal one. Returns 0, or
 * EKL_EINTR. */
static int one_fault(struct soak *s, struct rng *g, long k)
{
	uint32_t usable = usable_kinds(s);
	struct plan_step st;
	struct plan_outcome oc;
	char err[EKL_ERRLEN] = "";
	enum soak_kind kind;
	double hold;
	int to = -1, rv = 0, tries;

	for (tries = 0;; tries++) {
		kind = (enum soak_kind)pick(g, SOAK_N_KINDS);
		if (!(usable & (UINT32_C(1) << kind)))
			continue;
		if (draw_fault(s, g, kind, k, &st, &to))
			break;
		if (tries > 100000) { /* only undrawable kinds selected */
			why_first(
			    s->res,
			    "fault %ld: none of the kinds asked for can "
			    "be drawn now (no renewal, upgrade or primary "
			    "move keeps every node replicating in the "
			    "model); add other kinds to --kinds",
			    k + 1);
			return EKL_EINVAL;
		}
	}
	hold = between(g, 100, 700) / 1000.0;
	s->res->by_kind[kind]++;
	s->res->faults++;
	if (s->r == NULL && s->o->out != NULL)
		fprintf(s->o->out, "%ld %s\n", k + 1, st.text);
	else
		progress(s, "[%ld/%ld] %s", k + 1, s->o->faults, st.text);
	if (kind == SOAK_PRIMARY) {
		rv = move_primary(s, to, err);
	} else if (plan_apply_outcome(s->sim, &st, &oc, err) != 0) {
		rv = EKL_EINVAL;
	} else if (s->r != NULL) {
		rv = prun_apply_live(s->r, &st, 0, &oc, err);
	}
	if (rv != 0) {
		s->res->errors++;
		why_first(s->res, "fault %ld (%s): %s", k + 1, st.text, err);
		progress(s, "error: %s", err);
	}
	if (s->r != NULL && !lab_sleep(hold))
		return EKL_EINTR;
	/* At most two faults in force; one in two times one is healed. */
	if (s->sim->n_faults >= 2 || (s->sim->n_faults > 0 && chance(g, 50))) {
		char name[PLAN_NAME_MAX + 1];

		snprintf(name, sizeof(name), "%s",
			 s->sim->faults[pick(g, (int)s->sim->n_faults)].f.name);
		s->res->heals++;
		if (heal_one(s, name, err) != 0) {
			s->res->errors++;
			why_first(s->res, "heal %s: %s", name, err);
			progress(s, "error: heal %s: %s", name, err);
		}
	}
	return lab_interrupted() ? EKL_EINTR : 0;
}

/* ---- the run ---- */

/* The model at the start: every node must replicate, or the checker's
 * "every node on the same digest" could never hold. */
static int check_start(struct soak *s, struct lab_prediction *pred, char *err)
{
	size_t i;
	int rv = labmodel_predict(&s->sim->lab, pred, err);

	if (rv != 0)
		return rv;
	for (i = 0; i < s->sim->lab.n; i++)
		if (i != s->sim->lab.primary && !pred->repl[i].replicating)
			return ekl_errf(
			    err, EKL_EINVAL,
			    "%s: the model says %s does not replicate from "
			    "the start (%s): the soak needs a topology where "
			    "every node replicates ('ekulab plan check' or "
			    "'ekulab lab graph' show why)",
			    s->o->topology, s->topo->nodes[i].name,
			    labmodel_why_name(&pred->repl[i].why));
	return 0;
}

/* The end: heal, stop the writers, settle, converge, check the rows. */
static void finish(struct soak *s)
{
	struct soak_result *res = s->res;
	struct run *r = s->r;
	struct prun_tally t = {0};
	char err[EKL_ERRLEN] = "", why[512] = "", lost[LAB_PATH_MAX + 32];
	uint64_t all = 0;
	double t_heal;
	size_t i;
	int k;

	progress(s, "healing every fault; stopping the writers");
	if (heal_all(s, err) != 0) {
		res->errors++;
		why_first(res, "heal all: %s", err);
	}
	t_heal = prun_now();
	writers_stop(s);
	if (!settle(s, SOAK_SETTLE_SECONDS, why, sizeof(why)))
		progress(s, "links differ from the model: %s", why);
	res->converged = all_equal(s, SOAK_CONVERGE_SECONDS, why, sizeof(why));
	res->converge_seconds = prun_now() - t_heal;
	if (!res->converged)
		why_first(res, "not converged after %.0f s: %s",
			  res->converge_seconds, why);
	progress(s, "%s after %.1f s; checking every row",
		 res->converged ? "converged" : "NOT converged",
		 res->converge_seconds);
	for (i = 0; i < r->lab.topo.n_nodes; i++)
		all |= UINT64_C(1) << i;
	/* The lost writes, listed for the post-mortem (kept with the state
	 * directory of a failed run). */
	lab_path(&r->lab, NULL, SOAK_LOST_FILE, lost, sizeof(lost));
	t.lost_out = fopen(lost, "w");
	prun_set_check_writers(&r->lab, all,
			       lab_node_index(&r->lab, r->lab.topo.primary),
			       s->w, 2, true, &t);
	if (t.lost_out != NULL && fclose(t.lost_out) == 0 && t.lost == 0)
		unlink(lost);
	res->attempted = t.attempted;
	res->acked = t.acked;
	res->lost = t.lost;
	res->unexpected = t.unexpected;
	res->never_read = t.never_read;
	res->recovered = t.recovered;
	for (k = 0; k < 2; k++) {
		struct prun_tally one = {0};

		prun_set_check_writers(&r->lab, 0, -1, &s->w[k], 1, false,
				       &one);
		if (k == 0)
			res->acked_all = one.acked;
		else
			res->acked_primary = one.acked;
	}
	if (res->lost > 0)
		why_first(res, "%ld acknowledged writes lost", res->lost);
	if (res->unexpected > 0)
		why_first(res, "%ld unexpected rows", res->unexpected);
}

int soak_run(const struct soak_opts *o, struct soak_result *res, char *err)
{
	struct soak s;
	struct run *r;
	struct rng g = {o->seed};
	char sdir[LAB_PATH_MAX], name[TOPO_NAME_MAX + 32], lerr[EKL_ERRLEN];
	bool up = false, failed;
	long k;
	int rv;

	memset(res, 0, sizeof(*res));
	memset(&s, 0, sizeof(s));
	res->seed = o->seed;
	s.o = o;
	s.res = res;
	s.t0 = prun_now();
	r = ekl_calloc(1, sizeof(*r));
	if (r == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	r->pred = ekl_calloc(1, sizeof(*r->pred));
	r->obs = ekl_calloc(1, sizeof(*r->obs));
	if (r->pred == NULL || r->obs == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out_free;
	}
	if ((rv = topo_load(o->topology, &r->plan.topo, err)) != 0)
		goto out_free;
	snprintf(r->plan.path, sizeof(r->plan.path), "%s", o->topology);
	/* One cluster (the dry run too: same draws). The lab runs
	 * deployments, but the soak's faults, writer and checker are about
	 * one cluster's ClusterDB. */
	if ((rv = lab_topo_supported(&r->plan.topo, err)) != 0)
		goto out_plan;
	if (r->plan.topo.multi || r->plan.topo.n_externals > 0 ||
	    r->plan.topo.n_zones > 0) {
		rv = ekl_errf(err, EKL_ECONFIG,
			      "topology %s: soak runs one cluster; a "
			      "deployment (clusters:, externals:, zones:) runs "
			      "with 'ekulab lab up' and 'ekulab plan run'",
			      r->plan.topo.name);
		goto out_plan;
	}
	s.topo = &r->plan.topo;
	s.sim = &r->sim;
	plan_sim_init(&r->sim, &r->plan, 0);
	if ((rv = check_start(&s, r->pred, err)) != 0)
		goto out_plan;
	if (o->dry_run) {
		for (k = 0; k < o->faults && rv == 0; k++)
			rv = one_fault(&s, &g, k);
		if (rv != 0)
			snprintf(err, EKL_ERRLEN, "%s", res->why);
		res->seconds = prun_now() - s.t0;
		goto out_plan;
	}
	/* Its own state directory, per run, like plan run's. */
	snprintf(name, sizeof(name), "%s-soak-%d", r->plan.topo.name,
		 (int)getpid());
	lab_default_state(name, sdir, sizeof(sdir));
	if ((rv = lab_open_topo(&r->lab, &r->plan.topo, o->topology,
				o->state != NULL ? o->state : sdir, err)) != 0)
		goto out_plan;
	r->lab.tune.log_keep = SOAK_LOG_KEEP;
	if ((rv = lab_prepare(&r->lab,
			      o->runtime != NULL ? o->runtime : "process",
			      err)) != 0)
		goto out_lab;
	up = true;
	s.r = r;
	r->t0 = s.t0;
	progress(&s,
		 "%s: %zu nodes, dial %s, link %s; %ld faults, seed %llu; "
		 "state %s",
		 o->topology, r->lab.topo.n_nodes,
		 topo_dial_name(r->lab.topo.dial),
		 topo_link_name(r->lab.topo.link), o->faults,
		 (unsigned long long)o->seed, r->lab.state);
	if ((rv = lab_start_all(&r->lab, lerr)) != 0) {
		rv = ekl_errf(err, lab_interrupted() ? EKL_EINTR : EKL_EIO,
			      "lab up: %s", lerr);
		goto out_lab;
	}
	if ((rv = start_writers(&s, err)) != 0)
		goto out_lab;
	for (k = 0; k < o->faults && rv == 0; k++)
		rv = one_fault(&s, &g, k);
	if (rv != 0 && rv != EKL_EINTR)
		snprintf(err, EKL_ERRLEN, "%s", res->why);
	if (rv == 0 && !lab_interrupted())
		finish(&s);
	if (lab_interrupted())
		rv = ekl_errf(err, EKL_EINTR,
			      "interrupted by %s after %ld faults; stopped the "
			      "writers, the %zu nodes and the proxy",
			      lab_interrupt_name(), res->faults,
			      r->lab.topo.n_nodes);
out_lab:
	writers_stop(&s);
	if (up) {
		lab_stop_all(&r->lab);
		res->left_behind = left_behind(r->lab.state);
		if (res->left_behind > 0)
			why_first(res, "%ld processes left running from %s",
				  res->left_behind, r->lab.state);
		/* A run that went to its end and failed keeps its evidence
		 * (node logs, SQLite files, writer logs, lost.txt), --keep or
		 * not: the next failure in CI must be diagnosable. */
		failed = rv == 0 && !soak_passed(res);
		if ((o->keep || failed) && rv != EKL_EINTR) {
			snprintf(res->state, sizeof(res->state), "%s",
				 r->lab.state);
			progress(&s, "lab state kept in %s%s%s", r->lab.state,
				 failed && !o->keep
				     ? " (the run failed: node logs, SQLite "
				       "files, writer logs"
				     : "",
				 !failed || o->keep ? ""
				 : res->lost > 0    ? ", " SOAK_LOST_FILE
						   "; remove it when done)"
						 : "; remove it when done)");
		} else if (lab_remove_state(&r->lab, lerr) != 0 && rv == 0) {
			rv = ekl_errf(err, EKL_EIO, "%s", lerr);
		}
	}
	res->seconds = prun_now() - s.t0;
	lab_close(&r->lab);
out_plan:
	plan_sim_free(&r->sim);
	plan_free(&r->plan);
out_free:
	ekl_free(r->pred);
	ekl_free(r->obs);
	ekl_free(r);
	return rv;
}
