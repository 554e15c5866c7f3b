/* test_planrun.c: the reports of a plan run (cli/plan/report.c,
 * report_html.c): the step table, the summary, JSON and the HTML timeline,
 * each from a struct plan_run_report (no lab). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan_run.h"
#include "testutil.h"

/* Everything f got, as a string (freed by the caller). */
struct capture {
	char *buf;
	size_t len;
	FILE *f;
};

static void cap_open(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->f = open_memstream(&c->buf, &c->len);
	ck_assert_ptr_nonnull(c->f);
}

static char *cap_close(struct capture *c)
{
	ck_assert_int_eq(fclose(c->f), 0);
	return c->buf;
}

static struct plan_step_report steps[3];

/* A run of three steps: a good write, a renewal that deviated, an expect
 * that failed; one write lost. */
static struct plan_run_report sample(void)
{
	struct plan_run_report r;

	memset(steps, 0, sizeof(steps));
	snprintf(steps[0].text, sizeof(steps[0].text), "write 20");
	steps[0].t_start = 0.5;
	steps[0].t_end = 1.25;
	steps[0].applied = steps[0].matched = steps[0].converged = true;
	snprintf(steps[0].predicted, sizeof(steps[0].predicted),
		 "all links up, all replicating");
	snprintf(steps[0].observed, sizeof(steps[0].observed),
		 "all links up, all replicating");
	snprintf(steps[1].text, sizeof(steps[1].text),
		 "renew node2 server-only/unrestricted");
	steps[1].t_start = 1.25;
	steps[1].t_end = 4.0;
	steps[1].applied = steps[1].converged = true;
	snprintf(steps[1].predicted, sizeof(steps[1].predicted),
		 "node1-node2 down (client-purpose)");
	snprintf(steps[1].observed, sizeof(steps[1].observed),
		 "all links up, all replicating");
	snprintf(steps[1].detail, sizeof(steps[1].detail),
		 "observed links differ: <node1> & node2");
	steps[1].deviated = true;
	snprintf(steps[2].text, sizeof(steps[2].text),
		 "expect link node1-node2 up");
	steps[2].t_start = 4.0;
	steps[2].t_end = 4.0;
	steps[2].applied = steps[2].matched = steps[2].converged = true;
	steps[2].is_expect = true;
	steps[2].expect_ok = false;
	steps[2].expect_model_ok = false;
	snprintf(steps[2].detail, sizeof(steps[2].detail),
		 "expectation failed (as the model predicts): "
		 "client-purpose");
	memset(&r, 0, sizeof(r));
	r.plan = "plans/x.yaml";
	r.steps = steps;
	r.n_steps = 3;
	r.deviations = 3;
	r.expectations_failed = 1;
	r.dial = "both";
	r.link = "both";
	r.writes.attempted = 120;
	r.writes.acknowledged = 110;
	r.writes.lost = 1;
	r.writes.unexpected = 0;
	r.writes.never_read = 4;
	r.writes.recovered = 6;
	return r;
}

/* ---- plan_report_step ---- */

START_TEST(test_step_ok)
{
	struct plan_run_report r = sample();
	struct capture c;
	char *s;

	cap_open(&c);
	plan_report_step(&r.steps[0], 0, c.f);
	s = cap_close(&c);
	ck_assert_ptr_nonnull(strstr(s, "  1 write 20"));
	ck_assert_ptr_nonnull(strstr(s, "  0.8s  ok\n"));
	ck_assert_ptr_nonnull(
	    strstr(s, "      predicted: all links up, all replicating\n"));
	ck_assert_ptr_null(strstr(s, "observed"));
	free(s);
}
END_TEST

START_TEST(test_step_deviation)
{
	struct plan_run_report r = sample();
	struct capture c;
	char *s;

	cap_open(&c);
	plan_report_step(&r.steps[1], 1, c.f);
	s = cap_close(&c);
	ck_assert_ptr_nonnull(strstr(s, "  2 renew node2"));
	ck_assert_ptr_nonnull(strstr(s, "DEVIATION\n"));
	ck_assert_ptr_nonnull(
	    strstr(s, "      observed:  all links up, all replicating\n"));
	ck_assert_ptr_nonnull(
	    strstr(s, "      why:       observed links differ: <node1>"));
	free(s);
	/* An expectation that fails live as in the model: not a deviation,
	 * but said. */
	cap_open(&c);
	plan_report_step(&r.steps[2], 2, c.f);
	s = cap_close(&c);
	ck_assert_ptr_nonnull(strstr(s, "EXPECTATION FAILED\n"));
	ck_assert_ptr_null(strstr(s, "DEVIATION"));
	ck_assert_ptr_nonnull(strstr(s, "as the model predicts"));
	free(s);
}
END_TEST

/* ---- plan_report_summary ---- */

START_TEST(test_summary)
{
	struct plan_run_report r = sample();
	struct capture c;
	char *s;

	cap_open(&c);
	plan_report_summary(&r, c.f);
	s = cap_close(&c);
	ck_assert_str_eq(s, "\nwrites: 120 attempted, 110 acknowledged; lost "
			    "1, unexpected 0, never-read 4, recovered 6\n"
			    "3 deviations\n"
			    "1 expectation failed, as the model predicts "
			    "(the plan's expectation is wrong, not the "
			    "lab)\n");
	free(s);
	r.deviations = 1;
	cap_open(&c);
	plan_report_summary(&r, c.f);
	s = cap_close(&c);
	ck_assert_ptr_nonnull(strstr(s, "\n1 deviation\n"));
	free(s);
}
END_TEST

/* ---- plan_report_json ---- */

START_TEST(test_json)
{
	struct plan_run_report r = sample();
	struct capture c;
	char *s, *step3;

	cap_open(&c);
	ck_assert_int_eq(plan_report_json(&r, c.f), 0);
	s = cap_close(&c);
	ck_assert_ptr_nonnull(strstr(s, "{\"plan\":\"plans/x.yaml\","
					"\"dial\":\"both\",\"link_rule\":"
					"\"both\",\"deviations\":3,"
					"\"expectations_failed\":1,"
					"\"steps\":["));
	ck_assert_ptr_nonnull(strstr(s, "\"deviated\":true"));
	ck_assert_ptr_nonnull(strstr(s, "\"past_deadline\":false"));
	ck_assert_ptr_nonnull(strstr(s, "\"expectation_predicted\":false"));
	/* Milliseconds: 0.5 s to 1.25 s. */
	ck_assert_ptr_nonnull(
	    strstr(s, "{\"step\":1,\"text\":\"write 20\",\"start_ms\":500,"
		      "\"duration_ms\":750,"));
	/* A step without the structured sides: their text alone. */
	ck_assert_ptr_nonnull(
	    strstr(s, "\"predicted\":{\"text\":\"node1-node2 down "
		      "(client-purpose)\"},\"observed\":{\"text\":"));
	ck_assert_ptr_nonnull(strstr(s, "\"detail\":null"));
	/* Only an expect step says whether its expectation was met. */
	step3 = strstr(s, "{\"step\":3,");
	ck_assert_ptr_nonnull(step3);
	ck_assert_ptr_nonnull(strstr(step3, "\"expectation_met\":false"));
	ck_assert_ptr_null(strstr(s, "\"expectation_met\":true"));
	ck_assert_int_eq(strstr(s, "\"expectation_met\"") - s,
			 strstr(step3, "\"expectation_met\"") - s);
	ck_assert_ptr_nonnull(strstr(
	    s, "\"writes\":{\"attempted\":120,\"acknowledged\":110,\"lost\":1,"
	       "\"unexpected\":0,\"never_read\":4,\"recovered\":6,"
	       "\"clusters\":[]}}\n"));
	free(s);
}
END_TEST

/* A deployment's two writers: each cluster's counts and convergence in
 * the JSON after the totals (which keep their keys), and a line each in
 * the summary; a single cluster's writer gets no extra line. */
static void two_clusters(struct plan_run_report *r)
{
	struct plan_run_cluster_writes *c = r->writes.clusters;

	snprintf(c[0].cluster, sizeof(c[0].cluster), "core");
	snprintf(c[0].writer, sizeof(c[0].writer), "c1");
	c[0].attempted = 70;
	c[0].acknowledged = 65;
	c[0].lost = 1;
	c[0].never_read = 2;
	c[0].recovered = 3;
	c[0].converged = true;
	snprintf(c[1].cluster, sizeof(c[1].cluster), "edge");
	snprintf(c[1].writer, sizeof(c[1].writer), "e1");
	c[1].attempted = 50;
	c[1].acknowledged = 45;
	c[1].unexpected = 2;
	c[1].converged = false;
	r->writes.n_clusters = 2;
}

START_TEST(test_json_clusters)
{
	struct plan_run_report r = sample();
	struct capture c;
	char *s;

	two_clusters(&r);
	cap_open(&c);
	ck_assert_int_eq(plan_report_json(&r, c.f), 0);
	s = cap_close(&c);
	ck_assert_ptr_nonnull(strstr(
	    s, "\"writes\":{\"attempted\":120,\"acknowledged\":110,\"lost\":1,"
	       "\"unexpected\":0,\"never_read\":4,\"recovered\":6,"
	       "\"clusters\":[{\"cluster\":\"core\",\"writer\":\"c1\","
	       "\"attempted\":70,\"acknowledged\":65,\"lost\":1,"
	       "\"unexpected\":0,\"never_read\":2,\"recovered\":3,"
	       "\"converged\":true},{\"cluster\":\"edge\",\"writer\":\"e1\","
	       "\"attempted\":50,\"acknowledged\":45,\"lost\":0,"
	       "\"unexpected\":2,\"never_read\":0,\"recovered\":0,"
	       "\"converged\":false}]}}\n"));
	free(s);
}
END_TEST

START_TEST(test_summary_clusters)
{
	struct plan_run_report r = sample();
	struct capture c;
	char *s;

	two_clusters(&r);
	cap_open(&c);
	plan_report_summary(&r, c.f);
	s = cap_close(&c);
	ck_assert_ptr_nonnull(
	    strstr(s, "recovered 6\n"
		      "  core (writer on c1): 65 acknowledged; lost 1, "
		      "unexpected 0; converged\n"
		      "  edge (writer on e1): 45 acknowledged; lost 0, "
		      "unexpected 2; did not converge\n"
		      "3 deviations\n"));
	free(s);
	r.writes.n_clusters = 1;
	cap_open(&c);
	plan_report_summary(&r, c.f);
	s = cap_close(&c);
	ck_assert_ptr_null(strstr(s, "writer on"));
	free(s);
}
END_TEST

/* Two nodes as plan check --json gives them: node2 -> node1 refused
 * (client-purpose) or up, node2 replicating or not. */
static char *side_json(bool refused, const char *reason)
{
	static char buf[4][800];
	static int k;
	char *b = buf[k++ % 4];

	snprintf(b, 800,
		 "{\"text\":\"t\",\"links\":[{\"a\":\"node1\",\"b\":"
		 "\"node2\",\"state\":\"%s\",\"reason\":%s,\"carrier\":null,"
		 "\"directions\":[{\"from\":\"node1\",\"to\":\"node2\","
		 "\"result\":\"ok\",\"rejected_by\":null,\"depth\":null},"
		 "{\"from\":\"node2\",\"to\":\"node1\",\"result\":\"%s\","
		 "\"rejected_by\":null,\"depth\":null}]}],\"replication\":["
		 "{\"node\":\"node1\",\"primary\":true,\"running\":true,"
		 "\"replicating\":true,\"reason\":null},{\"node\":\"node2\","
		 "\"primary\":false,\"running\":true,\"replicating\":%s,"
		 "\"reason\":%s%s%s}]}",
		 refused ? "down" : "up",
		 refused ? "\"client-purpose\"" : "null",
		 refused ? "client-purpose" : "ok", refused ? "false" : "true",
		 refused ? "\"" : "", refused ? reason : "null",
		 refused ? "\"" : "");
	return b;
}

START_TEST(test_json_structured)
{
	struct plan_run_report r = sample();
	struct capture c;
	char *s;

	steps[1].predicted_json = side_json(true, "client-purpose");
	steps[1].observed_json = side_json(false, "");
	cap_open(&c);
	ck_assert_int_eq(plan_report_json(&r, c.f), 0);
	s = cap_close(&c);
	/* The objects go in as they are, in plan check --json's form. */
	ck_assert_ptr_nonnull(strstr(s, "\"predicted\":{\"text\":\"t\","
					"\"links\":[{\"a\":\"node1\""));
	ck_assert_ptr_nonnull(strstr(s, "\"observed\":{\"text\":\"t\","
					"\"links\":[{\"a\":\"node1\",\"b\":"
					"\"node2\",\"state\":\"up\""));
	free(s);
}
END_TEST

/* ---- plan_report_html ---- */

START_TEST(test_html_timeline)
{
	struct plan_run_report r = sample();
	struct capture c;
	char *s, *row2, *row3;

	/* Step 1 all up; step 2 breaks (node2 client-purpose) as predicted;
	 * step 3 heals, but the prediction said it stays broken: flagged. */
	steps[0].predicted_json = steps[0].observed_json = side_json(false, "");
	steps[1].predicted_json = steps[1].observed_json =
	    side_json(true, "client-purpose");
	steps[2].predicted_json = side_json(true, "client-purpose");
	steps[2].observed_json = side_json(false, "");
	cap_open(&c);
	plan_report_html(&r, c.f);
	s = cap_close(&c);
	ck_assert_ptr_nonnull(
	    strstr(s, "Replication breaks after step 2 (renew node2 "
		      "server-only/unrestricted): node2 stops replicating "
		      "(client-purpose); it heals after step 3 (expect link "
		      "node1-node2 up)."));
	ck_assert_ptr_nonnull(
	    strstr(s, "1 step where prediction and observation differ"));
	row2 = strstr(s, "<tr class=\"break\"><td>2</td>");
	ck_assert_ptr_nonnull(row2);
	ck_assert_ptr_nonnull(strstr(row2, "title=\"node2 &rarr; node1: "
					   "client-purpose\">C</td>"));
	row3 = strstr(s, "<tr class=\"heal differs\"><td>3</td>");
	ck_assert_ptr_nonnull(row3);
	/* The cell that differs says what was predicted. */
	ck_assert_ptr_nonnull(strstr(row3, "class=\"c diff\""));
	ck_assert_ptr_nonnull(
	    strstr(row3, "node2 &rarr; node1: ok (predicted client-purpose)"));
	ck_assert_ptr_nonnull(strstr(row3, "predicted and observed differ"));
	free(s);
}
END_TEST

START_TEST(test_html)
{
	struct plan_run_report r = sample();
	struct capture c;
	char *s;

	cap_open(&c);
	plan_report_html(&r, c.f);
	s = cap_close(&c);
	ck_assert_ptr_nonnull(strstr(s, "<!doctype html>"));
	ck_assert_ptr_nonnull(strstr(s, "<table class=\"t\">"));
	ck_assert_ptr_nonnull(strstr(s, "Replication never breaks"));
	ck_assert_ptr_nonnull(strstr(s, "3 deviations</span>"));
	ck_assert_ptr_nonnull(strstr(s, "writes: 110 acknowledged, lost 1"));
	ck_assert_ptr_nonnull(strstr(s, "as predicted"));
	/* Text is escaped. */
	ck_assert_ptr_nonnull(strstr(s, "&lt;node1&gt; &amp; node2"));
	ck_assert_ptr_null(strstr(s, "<node1>"));
	ck_assert_ptr_nonnull(strstr(s, "</html>\n"));
	ck_assert_ptr_null(strstr(s, "writer on")); /* one cluster */
	free(s);
	/* A deployment: a line per cluster's writer, a failing one marked. */
	two_clusters(&r);
	cap_open(&c);
	plan_report_html(&r, c.f);
	s = cap_close(&c);
	ck_assert_ptr_nonnull(
	    strstr(s, "<li>core (writer on c1): 65 acknowledged; <span "
		      "class=\"bad\">lost 1, unexpected 0; converged</span>"));
	ck_assert_ptr_nonnull(
	    strstr(s, "<li>edge (writer on e1): 45 acknowledged; <span "
		      "class=\"bad\">lost 0, unexpected 2; did not "
		      "converge</span>"));
	free(s);
}
END_TEST

static Suite *planrun_suite(void)
{
	Suite *s = suite_create("planrun");
	TCase *tc;

	tc = tcase_create("plan_report_step");
	tcase_add_test(tc, test_step_ok);
	tcase_add_test(tc, test_step_deviation);
	suite_add_tcase(s, tc);

	tc = tcase_create("plan_report_summary");
	tcase_add_test(tc, test_summary);
	tcase_add_test(tc, test_summary_clusters);
	suite_add_tcase(s, tc);

	tc = tcase_create("plan_report_json");
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_json_structured);
	tcase_add_test(tc, test_json_clusters);
	suite_add_tcase(s, tc);

	tc = tcase_create("plan_report_html");
	tcase_add_test(tc, test_html);
	tcase_add_test(tc, test_html_timeline);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(planrun_suite());
}
