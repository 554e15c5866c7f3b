/* plan_show.h: `ekulab plan check` and `ekulab plan explore`: the model's
 * answers for a plan, or for a campaign of upgrades and renewals, printed
 * as text or JSON; explore can also run orderings live (explore_live.c). */
#ifndef EKULAB_CLI_PLAN_SHOW_H
#define EKULAB_CLI_PLAN_SHOW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model/plan/plan.h"

struct plan_check_opts {
	const char *plan; /* the plan file */
	const char *ca;	  /* trust bundle for file: certificates, or NULL */
	int64_t at;	  /* evaluation time; 0: the plan's at:, else now */
	bool json;
	FILE *out;
};

/* Predict every step of o->plan from the model alone and print it. Returns
 * 0 when every expectation agrees, 1 when one disagrees, 2 when the plan
 * or the trust bundle cannot be read (err). */
int plan_check_show(const struct plan_check_opts *o, char *err);

struct plan_explore_opts {
	const char *topology; /* the topology file */
	struct plan_goal goal;
	int64_t at; /* 0: now */
	bool json;
	long verify_live; /* orderings to run live; 0: none */
	FILE *out;
};

/* Count the safe orderings of the goal's steps and print them, then run
 * o->verify_live orderings live. Returns 0 when a safe ordering exists
 * (and every live ordering behaved as predicted), 1 otherwise, 2 when the
 * topology cannot be read (err). err may be set on 0 and 1 too (what
 * failed around a live run): the caller prints it when not empty. */
int plan_explore_show(const struct plan_explore_opts *o, char *err);

/* Run n orderings of x's steps (the recommended one, and unsafe ones when
 * they exist) live, each as a generated plan whose expectations are the
 * model's predictions, through plan_run(); the step tables go to out.
 * Returns 0 when every ordering behaved as predicted, 1 otherwise; err
 * says what failed, if anything. */
int plan_explore_live(const char *topo_path, const struct topo *t,
		      const struct plan_goal *g, const struct plan_explore *x,
		      int64_t at, long n, FILE *out, char *err);

#endif
