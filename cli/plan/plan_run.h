/* plan_run.h: `ekulab plan run`: a plan executed live on a lab, checked
 * step by step against the model, with a background write workload and a
 * set check of every acknowledged write at the end; and the run's reports
 * (text as it runs, JSON and HTML at the end). */
#ifndef EKULAB_CLI_PLAN_RUN_H
#define EKULAB_CLI_PLAN_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model/plan/plan.h"

struct plan_run_opts {
	const char *plan;    /* the plan file */
	const char *title;   /* printed in place of the plan's path (a plan
				file the caller removes); NULL: the path */
	const char *runtime; /* "process" or "docker"; NULL: process */
	const char *state;   /* the lab's state directory; NULL: one of its
				own per run, under the lab default */
	bool keep;	     /* keep the lab's state directory afterwards */
	bool workload;	     /* run the background writer */
	/* Run the plan's topology under another dial mode or link rule
	 * (NULL: the topology's own): "both" "lower-name" "primary", "both"
	 * "either". The model is asked about the same topology. */
	const char *dial;
	const char *link;
	const char *json; /* write the JSON report there ("-": stdout) */
	const char *html; /* write the HTML report there */
	FILE *out;	  /* the step table as it runs, and the summary */
};

/* Run o->plan live. Returns 0 when the lab behaved as the model predicts
 * at every step, every expectation held and no write was lost, 1 on a
 * deviation (the live lab differs from the model), a failed expectation,
 * or when the lab failed (err says how), 2 when the plan cannot be read
 * or an override is unknown (err). On 0 and 1
 * err may also hold what failed beside the run (a report that could not
 * be written, a state directory that could not be removed): the caller
 * prints err whenever it is not empty. err must be EKL_ERRLEN long. */
int plan_run(const struct plan_run_opts *o, char *err);

/* ---- the reports ---- */

/* One step as it went. */
struct plan_step_report {
	char text[PLAN_TEXT_MAX];
	double t_start; /* seconds since the run started */
	double t_end;
	bool applied;	/* the step could be carried out */
	bool matched;	/* observed = predicted (within the bound) */
	bool converged; /* replicas caught up (when checked) */
	bool is_expect;
	bool expect_ok;
	bool expect_model_ok; /* the model predicts it holds */
	bool deviated;	      /* the live lab differed from the model */
	bool past_deadline;   /* the step ran past its deadline */
	bool interrupted;     /* a signal ended the run during the step */
	char detail[320];     /* the deviations and a failed expectation,
				 "; "-separated; "" when none */
	char predicted[512];
	char observed[512];
	/* The same as JSON objects {"text", "links", "replication"} (plan
	 * check --json's form); owned by the run, NULL when the step did not
	 * get that far. */
	char *predicted_json;
	char *observed_json;
};

/* One cluster's background writer (a deployment has one per cluster, on
 * its own primary; a single cluster has one): its writes, counted by the
 * set check on that cluster's nodes alone, and whether the cluster's
 * replicas reached its primary's revision and digest at the end. */
struct plan_run_cluster_writes {
	char cluster[TOPO_NAME_MAX + 1]; /* the topology's name for a
					    single cluster */
	char writer[TOPO_NAME_MAX + 1];	 /* the primary it writes on */
	long attempted;
	long acknowledged;
	long lost;
	long unexpected;
	long never_read;
	long recovered;
	bool converged;
};

/* Every write of a run: the write steps' and the background writers'
 * (the totals), and each cluster's writer alone (clusters). */
struct plan_run_writes {
	long attempted;
	long acknowledged;
	long lost;	 /* acknowledged, missing on a node that replicates */
	long unexpected; /* on a node, never sent or with another value */
	long never_read; /* sent, not acknowledged, not on the primary */
	long recovered;	 /* sent, not acknowledged, on the primary */
	struct plan_run_cluster_writes clusters[TOPO_MAX_CLUSTERS];
	size_t n_clusters; /* 0: no background writer ran */
};

/* What a run's reports show. */
struct plan_run_report {
	const char *plan;		      /* the plan file; borrowed */
	const struct plan_step_report *steps; /* borrowed; n_steps */
	size_t n_steps;
	size_t deviations;	    /* the live lab differed from the model */
	size_t expectations_failed; /* expect steps that did not hold, live
				       and in the model alike */
	const char *dial;	    /* the dial mode and link rule run */
	const char *link;
	struct plan_run_writes writes;
};

/* "  3 renew node2 server-only/unrestricted      1.2s  ok" and the
 * predicted (and, on a deviation, observed and why) lines below it; k is
 * 0-based. */
void plan_report_step(const struct plan_step_report *s, size_t k, FILE *f);
/* "writes: ...", one line per cluster's writer when there are two or
 * more, and "N deviations". */
void plan_report_summary(const struct plan_run_report *r, FILE *f);
/* One JSON object and a newline; EKL_ENOMEM when it cannot be built. */
int plan_report_json(const struct plan_run_report *r, FILE *f);
/* A standalone HTML page: a timeline, one row per step with its time, a
 * matrix of the directed connections and who replicates (from the steps'
 * predicted_json/observed_json), the steps where replication breaks and
 * heals marked, a summary at the top, and the rows whose prediction and
 * observation differ flagged (report_html.c). */
void plan_report_html(const struct plan_run_report *r, FILE *f);

#endif
