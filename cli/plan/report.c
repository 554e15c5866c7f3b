/* report.c: a plan run's reports: the step table as it runs (text), and
 * JSON and HTML once it is over, all from a struct plan_run_report. */
#include <stdint.h>
#include <stdio.h>

#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "plan_run.h"

/* A step's predicted or observed side: the structured object, or, when
 * the step did not get that far, {"text": ...} alone. */
static void report_side(struct json *j, const char *obj, const char *text)
{
	if (obj != NULL) {
		json_raw(j, obj);
		return;
	}
	json_obj_begin(j);
	json_key(j, "text");
	json_str(j, text);
	json_obj_end(j);
}

int plan_report_json(const struct plan_run_report *r, FILE *out)
{
	const struct plan_run_writes *w = &r->writes;
	struct json j;
	size_t k;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "plan");
	json_str(&j, r->plan);
	json_key(&j, "dial");
	json_str(&j, r->dial);
	json_key(&j, "link_rule");
	json_str(&j, r->link);
	json_key(&j, "deviations");
	json_int(&j, (int64_t)r->deviations);
	json_key(&j, "expectations_failed");
	json_int(&j, (int64_t)r->expectations_failed);
	json_key(&j, "steps");
	json_arr_begin(&j);
	for (k = 0; k < r->n_steps; k++) {
		const struct plan_step_report *s = &r->steps[k];

		json_obj_begin(&j);
		json_key(&j, "step");
		json_int(&j, (int64_t)k + 1);
		json_key(&j, "text");
		json_str(&j, s->text);
		json_key(&j, "start_ms");
		json_int(&j, (int64_t)(s->t_start * 1000 + 0.5));
		json_key(&j, "duration_ms");
		json_int(&j, (int64_t)((s->t_end - s->t_start) * 1000 + 0.5));
		json_key(&j, "applied");
		json_bool(&j, s->applied);
		json_key(&j, "matches_prediction");
		json_bool(&j, s->matched);
		json_key(&j, "converged");
		json_bool(&j, s->converged);
		json_key(&j, "deviated");
		json_bool(&j, s->deviated);
		json_key(&j, "past_deadline");
		json_bool(&j, s->past_deadline);
		json_key(&j, "interrupted");
		json_bool(&j, s->interrupted);
		if (s->is_expect) {
			json_key(&j, "expectation_met");
			json_bool(&j, s->expect_ok);
			json_key(&j, "expectation_predicted");
			json_bool(&j, s->expect_model_ok);
		}
		json_key(&j, "predicted");
		report_side(&j, s->predicted_json, s->predicted);
		json_key(&j, "observed");
		report_side(&j, s->observed_json, s->observed);
		json_key(&j, "detail");
		json_str(&j, s->detail[0] ? s->detail : NULL);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_key(&j, "writes");
	json_obj_begin(&j);
	json_key(&j, "attempted");
	json_int(&j, w->attempted);
	json_key(&j, "acknowledged");
	json_int(&j, w->acknowledged);
	json_key(&j, "lost");
	json_int(&j, w->lost);
	json_key(&j, "unexpected");
	json_int(&j, w->unexpected);
	json_key(&j, "never_read");
	json_int(&j, w->never_read);
	json_key(&j, "recovered");
	json_int(&j, w->recovered);
	json_key(&j, "clusters");
	json_arr_begin(&j);
	for (k = 0; k < w->n_clusters; k++) {
		const struct plan_run_cluster_writes *c = &w->clusters[k];

		json_obj_begin(&j);
		json_key(&j, "cluster");
		json_str(&j, c->cluster);
		json_key(&j, "writer");
		json_str(&j, c->writer);
		json_key(&j, "attempted");
		json_int(&j, c->attempted);
		json_key(&j, "acknowledged");
		json_int(&j, c->acknowledged);
		json_key(&j, "lost");
		json_int(&j, c->lost);
		json_key(&j, "unexpected");
		json_int(&j, c->unexpected);
		json_key(&j, "never_read");
		json_int(&j, c->never_read);
		json_key(&j, "recovered");
		json_int(&j, c->recovered);
		json_key(&j, "converged");
		json_bool(&j, c->converged);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_obj_end(&j);
	if (json_finish(&j) == NULL) {
		json_close(&j);
		return EKL_ENOMEM;
	}
	fprintf(out, "%s\n", json_finish(&j));
	json_close(&j);
	return 0;
}

void plan_report_step(const struct plan_step_report *s, size_t k, FILE *f)
{
	fprintf(f, "%3zu %-44s %5.1fs  %s\n", k + 1, s->text,
		s->t_end - s->t_start,
		s->deviated			? "DEVIATION"
		: s->is_expect && !s->expect_ok ? "EXPECTATION FAILED"
						: "ok");
	fprintf(f, "      predicted: %s\n", s->predicted);
	if (s->detail[0])
		fprintf(f, "      observed:  %s\n      why:       %s\n",
			s->observed, s->detail);
	fflush(f);
}

void plan_report_summary(const struct plan_run_report *r, FILE *f)
{
	const struct plan_run_writes *w = &r->writes;
	size_t k;

	fprintf(f,
		"\nwrites: %ld attempted, %ld acknowledged; lost %ld, "
		"unexpected %ld, never-read %ld, recovered %ld\n",
		w->attempted, w->acknowledged, w->lost, w->unexpected,
		w->never_read, w->recovered);
	/* A deployment: each cluster's writer on its own. */
	for (k = 0; w->n_clusters > 1 && k < w->n_clusters; k++)
		fprintf(f,
			"  %s (writer on %s): %ld acknowledged; lost %ld, "
			"unexpected %ld; %s\n",
			w->clusters[k].cluster, w->clusters[k].writer,
			w->clusters[k].acknowledged, w->clusters[k].lost,
			w->clusters[k].unexpected,
			w->clusters[k].converged ? "converged"
						 : "did not converge");
	fprintf(f, "%zu deviation%s\n", r->deviations,
		r->deviations == 1 ? "" : "s");
	if (r->expectations_failed > 0)
		fprintf(f,
			"%zu expectation%s failed, as the model predicts "
			"(the plan's expectation is wrong, not the lab)\n",
			r->expectations_failed,
			r->expectations_failed == 1 ? "" : "s");
}
