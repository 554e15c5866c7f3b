/* run.c: `ekulab plan run`: a plan executed live on a lab.
 *
 * The happy path: bring the plan's topology up as a lab (its own state
 * directory), start a background writer on the primary (writer.c), then
 * for each step (steps_live.c): apply it to the model (plan_apply) and to
 * the lab (lab faults), wait until the observed links and replication
 * equal the prediction (bounded; observe.c), pause the writer and wait
 * until every node the model says replicates has the primary's revision
 * and digest, resume. Expect steps are checked against the observation.
 * At the end: stop the writer, let the replicas converge, read every row
 * back and check the writes set-wise (lost, unexpected, never-read;
 * setcheck.c), write the reports (report.c), take the lab down.
 *
 * The failure modes: a step that cannot be applied, an observation that
 * does not reach the prediction in time, replicas that do not converge, an
 * expectation that fails, a lost or unexpected write: each is a deviation,
 * reported and counted; the run goes on to the end and returns 1. A lab
 * that does not come up ends the run at once (1); a plan that cannot be
 * read ends it before anything starts (2).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "lab/lab_interrupt.h"
#include "plan_int.h"

double prun_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

double prun_step_budget(const struct plan_step *s)
{
	double b = PRUN_STEP_BASE_SECONDS + PRUN_SETTLE_SECONDS +
		   PRUN_CONVERGE_SECONDS;

	if (s->kind == PLAN_WAIT)
		b += (double)s->wait_ms / 1000.0;
	if (s->kind == PLAN_WRITE)
		b += (double)s->count * 0.01;
	return b;
}

/* Append one more problem to err ("; "-separated): what fails beside the
 * run does not end it. */
static void note(char *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(char *err, const char *fmt, ...)
{
	size_t n = strlen(err);
	va_list ap;

	if (n > 0 && n + 2 < EKL_ERRLEN)
		n += (size_t)snprintf(err + n, EKL_ERRLEN - n, "; ");
	va_start(ap, fmt);
	vsnprintf(err + n, EKL_ERRLEN - n, fmt, ap);
	va_end(ap);
}

/* The run as its reports see it. */
static void report_of(const struct run *r, struct plan_run_report *out)
{
	size_t k;

	memset(out, 0, sizeof(*out));
	out->plan = r->plan.path;
	out->steps = r->rep;
	out->n_steps = r->plan.n_steps;
	out->deviations = r->deviations;
	out->expectations_failed = r->expect_failed;
	out->dial = topo_dial_name(r->plan.topo.dial);
	out->link = topo_link_name(r->plan.topo.link);
	out->writes.attempted = r->attempted + r->step_attempts;
	out->writes.acknowledged = r->acked + r->step_writes;
	out->writes.lost = r->lost;
	out->writes.unexpected = r->unexpected;
	out->writes.never_read = r->never_read;
	out->writes.recovered = r->recovered;
	for (k = 0; k < r->n_w && k < TOPO_MAX_CLUSTERS; k++) {
		struct plan_run_cluster_writes *c = &out->writes.clusters[k];
		const struct topo *t = &r->lab.topo;
		int p = prun_cluster_primary(r, k);

		if (p < 0)
			continue;
		snprintf(c->cluster, sizeof(c->cluster), "%s",
			 k < t->n_clusters && t->multi &&
				 t->clusters[k].name[0] != '\0'
			     ? t->clusters[k].name
			     : t->name);
		snprintf(c->writer, sizeof(c->writer), "%s",
			 r->lab.nodes[p].name);
		c->attempted = r->wt[k].attempted;
		c->acknowledged = r->wt[k].acked;
		c->lost = r->wt[k].lost;
		c->unexpected = r->wt[k].unexpected;
		c->never_read = r->wt[k].never_read;
		c->recovered = r->wt[k].recovered;
		c->converged = r->w_converged[k];
		out->writes.n_clusters++;
	}
}

static void write_reports(const struct run *r, const struct plan_run_opts *o,
			  char *err)
{
	struct plan_run_report rep;

	report_of(r, &rep);
	plan_report_summary(&rep, o->out);
	if (o->json != NULL) {
		FILE *f =
		    strcmp(o->json, "-") == 0 ? stdout : fopen(o->json, "w");

		if (f != NULL) {
			if (plan_report_json(&rep, f) != 0)
				note(err, "--json %s: out of memory", o->json);
			if (f != stdout)
				fclose(f);
		} else {
			note(err, "--json %s: %s", o->json, strerror(errno));
		}
	}
	if (o->html != NULL) {
		FILE *f = fopen(o->html, "w");

		if (f != NULL) {
			plan_report_html(&rep, f);
			fclose(f);
			fprintf(o->out, "report: %s\n", o->html);
		} else {
			note(err, "--html %s: %s", o->html, strerror(errno));
		}
	}
}

int plan_run(const struct plan_run_opts *o, char *err)
{
	char sdir[LAB_PATH_MAX], name[TOPO_NAME_MAX + 24];
	char lerr[EKL_ERRLEN];
	bool up = false;
	struct run *r;
	size_t k;
	int rv = 2;

	err[0] = '\0';
	r = ekl_calloc(1, sizeof(*r));
	if (r == NULL) {
		ekl_errf(err, EKL_ENOMEM, "out of memory");
		return 1;
	}
	r->pred = ekl_calloc(1, sizeof(*r->pred));
	r->obs = ekl_calloc(1, sizeof(*r->obs));
	if (r->pred == NULL || r->obs == NULL) {
		ekl_errf(err, EKL_ENOMEM, "out of memory");
		rv = 1;
		goto out_free;
	}
	if (plan_load(o->plan, &r->plan, err) != 0)
		goto out_free;
	if ((o->dial != NULL &&
	     topo_dial_parse(o->dial, &r->plan.topo.dial) != 0) ||
	    (o->link != NULL &&
	     topo_link_parse(o->link, &r->plan.topo.link) != 0)) {
		ekl_errf(err, EKL_EINVAL,
			 "--dial is both, lower-name or primary; --link is "
			 "both or either");
		goto out_plan;
	}
	if (lab_topo_supported(&r->plan.topo, err) != 0)
		goto out_plan; /* a plan this lab cannot run: exit 2 */
	r->rep =
	    ekl_calloc(r->plan.n_steps ? r->plan.n_steps : 1, sizeof(*r->rep));
	/* A plan's lab has its own state directory, per run: it never
	 * touches a lab of the same topology that is up, nor another run. */
	snprintf(name, sizeof(name), "%s-plan-%d", r->plan.topo.name,
		 (int)getpid());
	lab_default_state(name, sdir, sizeof(sdir));
	if (r->rep == NULL) {
		ekl_errf(err, EKL_ENOMEM, "out of memory");
		rv = 1;
		goto out_plan;
	}
	/* A lab that cannot be made or started: the plan could not run
	 * (exit 2), nothing was measured. */
	if (lab_open_topo(&r->lab, &r->plan.topo, r->plan.path,
			  o->state != NULL ? o->state : sdir, err) != 0)
		goto out_plan;
	if (lab_prepare(&r->lab, o->runtime != NULL ? o->runtime : "process",
			err) != 0) {
		if (!o->keep)
			(void)lab_remove_state(&r->lab, lerr);
		lab_close(&r->lab);
		goto out_plan;
	}
	up = true;
	r->t0 = prun_now();
	fprintf(o->out,
		"plan %s: %zu steps on a lab of %zu nodes, dial %s, link %s "
		"(state %s)\n",
		o->title != NULL ? o->title : r->plan.path, r->plan.n_steps,
		r->lab.topo.n_nodes, topo_dial_name(r->lab.topo.dial),
		topo_link_name(r->lab.topo.link), r->lab.state);
	if (lab_start_all(&r->lab, lerr) != 0) {
		ekl_errf(err, lab_interrupted() ? EKL_EINTR : EKL_EIO,
			 "lab up: %s", lerr);
		rv = 2; /* could not run */
		goto out_lab;
	}
	plan_sim_init(&r->sim, &r->plan, r->plan.at);
	if (labmodel_predict(&r->sim.lab, r->pred, err) != 0) {
		rv = 1;
		goto out_lab;
	}
	if (o->workload)
		prun_writer_start(r);
	for (k = 0; k < r->plan.n_steps && !lab_interrupted(); k++) {
		prun_step(r, k);
		plan_report_step(&r->rep[k], k, o->out);
	}
	prun_writer_stop_wait(r);
	if (lab_interrupted()) {
		/* Ctrl-C or SIGTERM: no final checks; stop everything. */
		ekl_errf(err, EKL_EINTR, "interrupted by %s during step %zu",
			 lab_interrupt_name(), k);
		rv = 1;
		goto out_lab;
	}
	{
		char why[256];

		if (!prun_converge_clusters(r, r->w_converged, why,
					    sizeof(why))) {
			r->deviations++;
			fprintf(o->out, "final convergence failed: %s\n", why);
		}
	}
	prun_set_check(r);
	if (r->lost || r->unexpected)
		r->deviations++;
	err[0] = '\0'; /* from here on, only what fails beside the run */
	write_reports(r, o, err);
	rv = r->deviations > 0 || r->expect_failed > 0 ? 1 : 0;
out_lab:
	prun_writer_stop_wait(r);
	if (up) {
		lab_stop_all(&r->lab);
		if (!o->keep && lab_remove_state(&r->lab, lerr) != 0)
			note(err, "%s", lerr);
		else if (o->keep)
			fprintf(o->out, "lab state kept in %s\n", r->lab.state);
		if (lab_interrupted())
			note(err,
			     "stopped the writer, the %zu nodes and the proxy "
			     "it started%s%s",
			     r->lab.topo.n_nodes,
			     o->keep ? "; kept " : " and removed ",
			     r->lab.state);
	}
	lab_close(&r->lab);
out_plan:
	for (k = 0; r->rep != NULL && k < r->plan.n_steps; k++) {
		ekl_free(r->rep[k].predicted_json);
		ekl_free(r->rep[k].observed_json);
	}
	plan_free(&r->plan);
out_free:
	ekl_free(r->rep);
	ekl_free(r->pred);
	ekl_free(r->obs);
	ekl_free(r);
	return rv;
}
