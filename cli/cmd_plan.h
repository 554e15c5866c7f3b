/* cmd_plan.h: what `ekulab plan`'s subcommand files share: options and
 * usage (cmd_plan.c) and the explore subcommand (cmd_plan_explore.c). */
#ifndef EKULAB_CLI_CMD_PLAN_H
#define EKULAB_CLI_CMD_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct plan_args {
	bool json;
	const char *at;
	const char *ca;
	const char *goal_version;
	const char *goal_cert;
	const char *goal_ca;
	const char *criterion;
	long verify_live; /* explore: orderings to run live (0 = none) */
};

void plan_usage(FILE *f);
/* argv[0] is the subcommand. Returns 0, -1 (help printed) or 2 (usage
 * error, printed). Operands start at optind. */
int plan_parse_args(int argc, char **argv, struct plan_args *a);
/* --at TIME into *at (0 when s is NULL); 0 or 2 (printed). */
int plan_parse_at(const char *cmd, const char *s, int64_t *at);

/* `ekulab plan explore`: argv[0] is "explore". */
int plan_explore_main(int argc, char **argv);

/* explore --verify-live N: run N orderings of x's steps (the recommended
 * one and unsafe ones when they exist) live, each as a generated plan
 * whose expectations are the model's predictions, through `plan run`.
 * Returns 0 when every ordering behaved as predicted, 1 otherwise. */
struct plan_explore;
struct topo;
struct plan_goal;
int plan_explore_verify_live(const char *topo_path, const struct topo *t,
			     const struct plan_goal *g,
			     const struct plan_explore *x, int64_t at, long n);

#endif
