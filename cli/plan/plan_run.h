/* plan_run.h: `ekulab plan run`: a plan executed live on a lab, checked
 * step by step against the model, with a background write workload and a
 * set check of every acknowledged write at the end. */
#ifndef EKULAB_CLI_PLAN_RUN_H
#define EKULAB_CLI_PLAN_RUN_H

/* argv[0] is "run". Returns the exit status: 0 no deviation, 1 a
 * deviation or a lost/unexpected write, 2 usage or plan errors. */
int plan_run_main(int argc, char **argv);

#endif
