/* plan_int.h: what the cli/plan files share; callers use plan_run.h and
 * plan_show.h, but for the soak (cli/soak), which drives a lab with the
 * same pieces: the run's state, the writers, the observation, the live
 * step and the set check. */
#ifndef EKULAB_CLI_PLAN_INT_H
#define EKULAB_CLI_PLAN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "lab/lab.h"
#include "model/labmodel.h"
#include "model/plan/plan.h"
#include "plan_run.h"

/* snprintf that says nothing about truncation (names are short; a cut
 * line is better than a failed build). */
void pshow_textf(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "links": [...] and "replication": [...] of a prediction (or of an
 * observation in the same form) as keys of the object j is in: plan
 * check --json's form, also plan run's predicted and observed. */
struct json;
void pshow_json_prediction(struct json *j, const struct topo *t,
			   const struct lab_prediction *p);

/* ---- a live run (run.c) ---- */

#define PRUN_SETTLE_SECONDS   20.0 /* bound on waiting for links to match */
#define PRUN_CONVERGE_SECONDS 20.0
/* A write with no answer for this long ends its step as a timeout (the
 * model's bound, PLAN_WRITE_TIMEOUT_MS: a paused primary never answers). */
#define PRUN_WRITE_SILENCE_S (PLAN_WRITE_TIMEOUT_MS / 1000.0)
/* Every step has a deadline (prun_step_budget): carrying it out (a node
 * restart waits up to 15 s), settling and converging, plus its wait and
 * 10 ms per write. A step that runs past it is reported so. */
#define PRUN_STEP_BASE_SECONDS 60.0

/* A background writer (writer.c): a child process that keeps up to 8
 * writes in flight on the primary, rows "Plan TAG N Value" = "vN", and
 * logs "S N" before sending write N and "K N" once acknowledged. */
struct prun_writer {
	pid_t pid; /* 0: none */
	char log[LAB_PATH_MAX + 32];
	char tag[16]; /* "Load" for plan run */
	bool ack_all; /* each write with ack=all (else ack=primary) */
	int rate;     /* writes per second at most; 0: no bound */
	/* When set: the file that names the primary's admin socket, read
	 * again on every reconnect (the soak moves the primary); else
	 * the primary's socket at the start. */
	char primary_file[LAB_PATH_MAX + 32];
};

/* What a set check counts (setcheck.c). When `lost_out` is set (not
 * owned), each node's lost writes are listed there too, one line per run
 * of numbers: "NODE TAG FIRST-LAST" (the soak keeps it as evidence). */
struct prun_tally {
	long attempted, acked, lost, unexpected, never_read, recovered;
	FILE *lost_out;
};

/* One run of a plan. The lab is up from lab_start_all() in plan_run() to
 * lab_stop_all() at its end; the writer (a child process) runs between
 * prun_writer_start() and prun_writer_stop_wait(). */
struct run {
	struct plan plan;
	struct lab lab;
	struct plan_sim sim;
	struct lab_prediction *pred;  /* owned: the model, after the step */
	struct lab_prediction *obs;   /* owned: the lab, observed */
	struct plan_step_report *rep; /* owned, one per step */
	double step_deadline;	/* the current step's, on prun_now()'s clock */
	char write_outcome[16]; /* the last write step's: applied, refused,
				   timeout or failed */
	/* The background writers: one per cluster, on its primary (each
	 * cluster has a database of its own); n_w of them. */
	struct prun_writer w[TOPO_MAX_CLUSTERS];
	size_t n_w;
	long step_writes; /* acknowledged by write steps */
	long step_attempts;
	size_t deviations;
	size_t expect_failed; /* held neither live nor in the model */
	/* set check */
	long lost, unexpected, never_read, recovered, acked, attempted;
	/* ... of writer k alone, and whether its cluster's replicas
	 * converged at the end (the final prun_converge_clusters) */
	struct prun_tally wt[TOPO_MAX_CLUSTERS];
	bool w_converged[TOPO_MAX_CLUSTERS];
	double t0;
};

/* CLOCK_MONOTONIC in seconds. */
double prun_now(void);
/* The seconds step s may take (PRUN_STEP_BASE_SECONDS, its wait, 10 ms
 * per write, the settle and convergence bounds). */
double prun_step_budget(const struct plan_step *s);
/* The primary's admin socket into buf; returns the primary's index. */
int prun_primary_sock(const struct run *r, char *buf, size_t len);
/* Cluster k's primary (its lab node index; the topology's primary for a
 * topology without clusters), or -1. */
int prun_cluster_primary(const struct run *r, size_t k);

/* ---- the background writer (writer.c) ---- */

/* Fork plan run's writers, one per cluster on its primary (ack primary;
 * tag "Load" and log STATE/writes.log for the first cluster, "LoadK" and
 * STATE/writes-K.log for cluster K > 0). */
void prun_writer_start(struct run *r);
/* SIGSTOP / SIGCONT them (nothing when there is none). */
void prun_writer_signal(struct run *r, int sig);
/* Stop them and wait for them (nothing when there is none). */
void prun_writer_stop_wait(struct run *r);
/* Is any of them running? */
bool prun_writer_running(const struct run *r);
/* Fork writer w (its tag, ack mode, rate, log and primary_file set) on
 * the admin socket `sock` (or primary_file's). Returns 0 or EKL_EIO. */
int prun_writer_fork(struct prun_writer *w, const char *sock, char *err);
void prun_writer_kill(struct prun_writer *w, int sig);
void prun_writer_wait(struct prun_writer *w);

/* ---- observing the lab (observe.c) ---- */

/* The lab's live state in the shape of a prediction; st is filled and
 * must be freed with lab_status_free on 0. */
struct lab_status;
int prun_observe(const struct lab *l, struct lab_prediction *obs,
		 struct lab_status *st, char *err);
/* Do the observed links and replication equal the prediction? *why says
 * the first difference. */
bool prun_matches(const struct lab_prediction *pred,
		  const struct lab_prediction *obs, const struct lab *l,
		  char *why, size_t len);
/* "node1-node2 down (client-purpose); node3 not replicating (...)", or
 * "all links up, all replicating". */
void prun_summarize(const struct lab_prediction *p, const struct lab *l,
		    char *buf, size_t len);
/* Every node the model says replicates reaches the primary's revision and
 * digest within PRUN_CONVERGE_SECONDS (the writer paused). */
bool prun_converge(struct run *r, char *why, size_t len);
/* The same, and ok[k] (TOPO_MAX_CLUSTERS of them) says whether cluster
 * k's replicas reached its primary (at the last look, when the bound ran
 * out): each cluster judged on its own. */
bool prun_converge_clusters(struct run *r, bool *ok, char *why, size_t len);

/* ---- a step, live (steps_live.c) ---- */

/* Apply step k to the model and to the lab, wait for the observation to
 * match, check an expectation, wait for the replicas; fills r->rep[k] and
 * counts deviations. */
void prun_step(struct run *r, size_t k);

/* Carry step s (step k of the plan: a write step's writes are numbered
 * by it) out on the lab: a lab fault, a heal, a renewal, upgrade or
 * verify change, writes on the primary, a wait. `oc` is what the model
 * did with it (plan_apply_outcome: a renewal the upload rule refused
 * changes nothing). The one translation of a step into lab calls, which
 * plan run and the soak (cli/soak) use. Returns 0 or an error. */
int prun_apply_live(struct run *r, const struct plan_step *s, size_t k,
		    const struct plan_outcome *oc, char *err);

/* ---- the set check (setcheck.c) ---- */

/* Read the writer's log and every row of each node that replicates at the
 * end: count attempted, acknowledged, lost, unexpected, never-read and
 * recovered writes. */
void prun_set_check(struct run *r);
/* The set check of n writers on the nodes `check` selects (bit i: node
 * i; a node that cannot be read counts every acknowledged write as lost):
 * every write a writer logged as acknowledged is on each; a row of a
 * writer's tag with a number it never sent or another value is
 * unexpected, and so is, when `strict`, any row no writer made. Writes
 * sent and never acknowledged are counted on `primary` as recovered or
 * never read. Adds to *t. */
void prun_set_check_writers(const struct lab *l, uint64_t check, int primary,
			    const struct prun_writer *w, size_t n, bool strict,
			    struct prun_tally *t);

#endif
