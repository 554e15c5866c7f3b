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
#include "lab/lab_fault.h"
#include "lab/lab_status.h"
#include "plan_int.h"

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

	prun_primary_sock(r, sock, sizeof(sock));
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

/* Carry a step out on the lab; `oc` is what the model did with it. */
static int apply_live(struct run *r, size_t k, const struct plan_outcome *oc,
		      char *err)
{
	const struct plan_step *s = &r->plan.steps[k];
	struct lab *l = &r->lab;
	const struct plan_fault *f = &s->fault;

	switch (s->kind) {
	case PLAN_WRITE: return do_writes(r, k, s->count, err);
	case PLAN_WAIT: usleep((useconds_t)s->wait_ms * 1000); return 0;
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
	r->deviations++;
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
	bool pause_writer;

	snprintf(sr->text, sizeof(sr->text), "%s", s->text);
	sr->t_start = prun_now() - r->t0;
	sr->is_expect = s->kind == PLAN_EXPECT;
	sr->applied = sr->matched = sr->converged = sr->expect_ok = true;
	if (plan_apply_outcome(&r->sim, s, &oc, err) != 0 ||
	    labmodel_predict(&r->sim.lab, r->pred, err) != 0) {
		sr->applied = false;
		deviation(r, sr, "model: %s", err);
		goto out;
	}
	prun_summarize(r->pred, &r->lab, sr->predicted, sizeof(sr->predicted));
	if (oc.renew && oc.result != PLAN_RENEW_UPLOADED) {
		/* Refused or copied, in plan check's words. */
		plan_outcome_text(&oc, &r->lab.topo, s, r->sim.lab.at, true,
				  outcome, sizeof(outcome));
		snprintf(why, sizeof(why), "%.250s", sr->predicted);
		pshow_textf(sr->predicted, sizeof(sr->predicted), "%s; %s",
			    outcome, why);
		why[0] = '\0';
	}
	if (apply_live(r, k, &oc, err) != 0) {
		sr->applied = false;
		deviation(r, sr, "%s", err);
	}
	/* Observed links equal the prediction (bounded wait). */
	end = prun_now() + PRUN_SETTLE_SECONDS;
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
		usleep(200000);
	}
	prun_summarize(r->obs, &r->lab, sr->observed, sizeof(sr->observed));
	if (s->kind == PLAN_EXPECT) {
		sr->expect_ok = plan_expect_eval(&s->expect, &r->lab.topo,
						 r->obs, why, sizeof(why));
		if (!sr->expect_ok)
			deviation(r, sr, "expectation failed: %s", why);
	}
	/* Replicas converge: pause the writer while checking. */
	pause_writer = r->writer > 0;
	if (pause_writer)
		prun_writer_signal(r, SIGSTOP);
	if (!prun_converge(r, why, sizeof(why))) {
		sr->converged = false;
		deviation(r, sr, "replicas did not converge: %s", why);
	}
	if (pause_writer)
		prun_writer_signal(r, SIGCONT);
out:
	sr->t_end = prun_now() - r->t0;
}
