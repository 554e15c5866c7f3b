/* steps_live.c: one plan step on the live lab: the model first
 * (plan_apply, labmodel_predict), then the lab (a lab fault, writes on
 * the primary, a wait), then the observation until it matches the
 * prediction (bounded), the expectation, and the replicas' convergence
 * with the writer paused. Whatever differs is a deviation, recorded in
 * the step's report; the run goes on. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/admin_client.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/mem.h"
#include "lab/lab_fault.h"
#include "lab/lab_interrupt.h"
#include "lab/lab_status.h"
#include "plan_int.h"

/* A write step: N acknowledged writes on the primary, pipelined, never
 * waiting for ever: a write with no answer for PRUN_WRITE_SILENCE_S (a
 * paused primary accepts the connection and never answers) ends the step
 * as a timeout, and so do the step's deadline and a signal. */
struct wgen {
	long step;
	long i, n, acked, answered, refused;
	double last;	 /* when the last answer came (or the start) */
	double deadline; /* the step's */
	bool silent;	 /* ended: no answer within PRUN_WRITE_SILENCE_S */
	bool late;	 /* ended: the step's deadline */
	char first_err[160];
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
	g->answered++;
	g->last = prun_now();
	if (ok) {
		g->acked++;
	} else {
		g->refused++;
		if (g->first_err[0] == '\0')
			snprintf(g->first_err, sizeof(g->first_err), "%.150s",
				 body != NULL ? body : "");
	}
}

static bool wgen_cancel(void *arg)
{
	struct wgen *g = arg;
	double now = prun_now();

	if (lab_interrupted())
		return true;
	if (now > g->deadline)
		g->late = true;
	else if (now - g->last > PRUN_WRITE_SILENCE_S)
		g->silent = true;
	return g->late || g->silent;
}

/* The step's writes; *outcome is what happened to them, in the model's
 * words (applied, refused, timeout), or "failed" for anything else (err
 * says what). Returns 0 when every write was acknowledged. */
static int do_writes(struct run *r, size_t k, long n, const char **outcome,
		     char *err)
{
	struct wgen g;
	struct admin_pipeline pl = {wgen_next, wgen_done, &g, 64, wgen_cancel};
	char sock[LAB_ADMIN_TARGET_MAX], perr[EKL_ERRLEN];
	int fd, rv;

	memset(&g, 0, sizeof(g));
	g.step = (long)k + 1;
	g.n = n;
	g.last = prun_now();
	g.deadline = r->step_deadline;
	prun_primary_sock(r, sock, sizeof(sock));
	r->step_attempts += n;
	fd = admin_client_connect(sock, perr);
	if (fd < 0) {
		*outcome = "refused";
		return ekl_errf(err, EKL_EIO, "refused: %s", perr);
	}
	rv = admin_client_pipeline(fd, &pl, perr);
	close(fd);
	r->step_writes += g.acked;
	if (rv == 0 && g.acked == n) {
		*outcome = "applied";
		return 0;
	}
	if (g.silent) {
		*outcome = "timeout";
		return ekl_errf(err, EKL_ETIMEDOUT,
				"timeout: no answer from the primary within "
				"%.0f s (%ld of %ld writes acknowledged)",
				PRUN_WRITE_SILENCE_S, g.acked, n);
	}
	*outcome = "failed";
	if (g.late)
		return ekl_errf(err, EKL_ETIMEDOUT,
				"the writes ran past the step's deadline (%ld "
				"of %ld acknowledged)",
				g.acked, n);
	if (lab_interrupted())
		return ekl_errf(err, EKL_EINTR, "interrupted by %s",
				lab_interrupt_name());
	if (g.refused > 0)
		return ekl_errf(err, EKL_EIO,
				"%ld of %ld writes refused, e.g. %s", g.refused,
				n, g.first_err);
	return ekl_errf(err, rv != 0 ? rv : EKL_EIO,
			"only %ld of %ld writes were acknowledged%s%s", g.acked,
			n, rv != 0 ? ": " : "", rv != 0 ? perr : "");
}

/* What the model says a write step does now (plan_write_predict):
 * "applied", "refused" or "timeout". */
static const char *write_expected(const struct run *r)
{
	struct plan_write w;

	plan_write_predict(&r->sim.lab, r->pred, &w);
	return plan_write_result_name(w.result);
}

/* A write step: the writes, and their outcome against the model's. A
 * refusal or a timeout the model predicts is not an error. */
static int write_step(struct run *r, size_t k, char *err)
{
	const char *want = write_expected(r), *got = "failed";
	char e[EKL_ERRLEN];
	int rv = do_writes(r, k, r->plan.steps[k].count, &got, e);

	snprintf(r->write_outcome, sizeof(r->write_outcome), "%s", got);
	if (rv == EKL_EINTR)
		return ekl_errf(err, rv, "%s", e);
	if (strcmp(want, got) == 0)
		return 0;
	if (rv == 0)
		return ekl_errf(err, EKL_EIO,
				"the writes were applied; the model predicts "
				"%s",
				want);
	return ekl_errf(err, rv, "%s; the model predicts %s", e, want);
}

int prun_apply_live(struct run *r, const struct plan_step *s, size_t k,
		    const struct plan_outcome *oc, char *err)
{
	struct lab *l = &r->lab;
	const struct plan_fault *f = &s->fault;

	switch (s->kind) {
	case PLAN_WRITE: return write_step(r, k, err);
	case PLAN_WAIT:
		if (!lab_sleep((double)s->wait_ms / 1000.0))
			return ekl_errf(err, EKL_EINTR, "interrupted by %s",
					lab_interrupt_name());
		return 0;
	case PLAN_EXPECT: return 0;
	case PLAN_RENEW: {
		/* The model asked the upload rule (plan_apply_outcome): a
		 * refused upload leaves the node as it is; an accepted one,
		 * or an SCP copy, is put in place by hand (--force: the rule
		 * has been asked already). */
		enum pki_ca ca = s->has_ca ? s->ca : l->nodes[s->node].ca;

		if (oc->renew && oc->result == PLAN_RENEW_REFUSED)
			return 0;
		if (s->client)
			return lab_fault_renew_client(
			    l, s->node, s->profile,
			    s->has_ca ? s->ca
			    : l->nodes[s->node].has_client
				? l->nodes[s->node].client_ca
				: PKI_CA_UNRESTRICTED,
			    err);
		return lab_fault_renew(l, s->node, s->profile, ca, true, err);
	}
	case PLAN_UPGRADE:
		return lab_fault_upgrade(l, s->node, s->version, err);
	case PLAN_VERIFY: return lab_fault_verify(l, s->mode, s->node, err);
	case PLAN_HEAL: {
		/* A fault no longer in force (a restart or resume ended it)
		 * is ignored, as the model does. */
		int rv = lab_fault_heal(l, s->heal[0] ? s->heal : "all", err);

		return rv == EKL_ENOENT ? 0 : rv;
	}
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
	default: return lab_fault_plan_link(l, f, err);
	}
}

static void note_detail(struct plan_step_report *sr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Add to the step's detail ("; "-separated). */
static void note_detail(struct plan_step_report *sr, const char *fmt, ...)
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
}

static void deviation(struct run *r, struct plan_step_report *sr,
		      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void deviation(struct run *r, struct plan_step_report *sr,
		      const char *fmt, ...)
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
	sr->deviated = true;
	r->deviations++;
}

/* {"text": ..., "links": [...], "replication": [...]}: plan check --json's
 * form of a prediction or an observation (owned by the caller; NULL when
 * out of memory, and the report then gives the text alone). */
static char *prediction_json(const struct topo *t,
			     const struct lab_prediction *p, const char *text)
{
	struct json j;
	const char *s;
	char *out = NULL;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "text");
	json_str(&j, text);
	pshow_json_prediction(&j, t, p);
	json_obj_end(&j);
	s = json_finish(&j);
	if (s != NULL)
		out = ekl_strdup(s);
	json_close(&j);
	return out;
}

void prun_step(struct run *r, size_t k)
{
	const struct plan_step *s = &r->plan.steps[k];
	struct plan_step_report *sr = &r->rep[k];
	char err[EKL_ERRLEN], why[256] = "";
	char outcome[400] = "";
	struct plan_outcome oc;
	struct lab_status st;
	double end;
	bool pause_writer, have_pred = false, have_obs = false;

	snprintf(sr->text, sizeof(sr->text), "%s", s->text);
	sr->t_start = prun_now() - r->t0;
	r->step_deadline = prun_now() + prun_step_budget(s);
	r->write_outcome[0] = '\0';
	sr->is_expect = s->kind == PLAN_EXPECT;
	sr->applied = sr->matched = sr->converged = sr->expect_ok = true;
	if (plan_apply_outcome(&r->sim, s, &oc, err) != 0 ||
	    labmodel_predict(&r->sim.lab, r->pred, err) != 0) {
		sr->applied = false;
		deviation(r, sr, "model: %s", err);
		goto out;
	}
	prun_summarize(r->pred, &r->lab, sr->predicted, sizeof(sr->predicted));
	have_pred = true;
	if (oc.renew && oc.result != PLAN_RENEW_UPLOADED) {
		/* Refused or copied, in plan check's words. */
		plan_outcome_text(&oc, &r->lab.topo, s, r->sim.lab.at, true,
				  outcome, sizeof(outcome));
		snprintf(why, sizeof(why), "%.250s", sr->predicted);
		pshow_textf(sr->predicted, sizeof(sr->predicted), "%s; %s",
			    outcome, why);
		why[0] = '\0';
	}
	if (prun_apply_live(r, s, k, &oc, err) != 0) {
		sr->applied = false;
		deviation(r, sr, "%s", err);
	}
	if (lab_interrupted())
		goto out;
	/* Observed links equal the prediction (bounded wait). */
	end = prun_now() + PRUN_SETTLE_SECONDS;
	if (end > r->step_deadline)
		end = r->step_deadline;
	for (;;) {
		if (prun_observe(&r->lab, r->obs, &st, err) == 0) {
			bool ok = prun_matches(r->pred, r->obs, &r->lab, why,
					       sizeof(why));

			lab_status_free(&st);
			if (ok)
				break;
		} else {
			snprintf(why, sizeof(why), "%.250s", err);
		}
		if (prun_now() > end) {
			sr->matched = false;
			deviation(r, sr, "observed links differ: %s", why);
			break;
		}
		if (!lab_sleep(0.2))
			goto out;
	}
	prun_summarize(r->obs, &r->lab, sr->observed, sizeof(sr->observed));
	have_obs = true;
	if (s->kind == PLAN_WRITE) {
		/* What the writes did, next to what the model says. */
		snprintf(why, sizeof(why), "%.200s", sr->predicted);
		pshow_textf(sr->predicted, sizeof(sr->predicted),
			    "writes %s; %s", write_expected(r), why);
		snprintf(why, sizeof(why), "%.200s", sr->observed);
		pshow_textf(sr->observed, sizeof(sr->observed), "writes %s; %s",
			    r->write_outcome[0] ? r->write_outcome : "-", why);
		why[0] = '\0';
	}
	if (s->kind == PLAN_EXPECT) {
		char mwhy[256];

		sr->expect_ok = plan_expect_eval(&s->expect, &r->lab.topo,
						 r->obs, why, sizeof(why));
		sr->expect_model_ok = plan_expect_eval(
		    &s->expect, &r->lab.topo, r->pred, mwhy, sizeof(mwhy));
		if (!sr->expect_ok && !sr->expect_model_ok) {
			/* The lab agrees with the model: the expectation is
			 * wrong, not the lab. */
			r->expect_failed++;
			note_detail(sr,
				    "expectation failed (as the model "
				    "predicts): %s",
				    why);
		} else if (sr->expect_ok != sr->expect_model_ok) {
			deviation(r, sr,
				  "expectation %s live but %s in the "
				  "model: %s",
				  sr->expect_ok ? "holds" : "fails",
				  sr->expect_model_ok ? "holds" : "fails",
				  sr->expect_ok ? mwhy : why);
		}
	}
	/* Replicas converge: pause the writer while checking. */
	pause_writer = prun_writer_running(r);
	if (pause_writer)
		prun_writer_signal(r, SIGSTOP);
	if (!prun_converge(r, why, sizeof(why)) && !lab_interrupted()) {
		sr->converged = false;
		deviation(r, sr, "replicas did not converge: %s", why);
	}
	if (pause_writer)
		prun_writer_signal(r, SIGCONT);
out:
	if (have_pred)
		sr->predicted_json =
		    prediction_json(&r->lab.topo, r->pred, sr->predicted);
	if (have_obs)
		sr->observed_json =
		    prediction_json(&r->lab.topo, r->obs, sr->observed);
	if (lab_interrupted()) {
		sr->interrupted = true;
		deviation(r, sr, "interrupted by %s", lab_interrupt_name());
	} else if (prun_now() > r->step_deadline) {
		sr->past_deadline = true;
		deviation(r, sr, "the step ran past its deadline of %.0f s",
			  r->step_deadline - r->t0 - sr->t_start);
	}
	sr->t_end = prun_now() - r->t0;
}
