/* plan_generate.h: `ekulab plan generate`: a random plan, reproducible from
 * its seed, with its topology inline: random versions, roles, profiles,
 * issuing CAs, client certificates, server_eku_upload, verify mode, dial
 * mode and link rule, then random steps of every kind (writes, renewals of
 * the server or client certificate via upload or scp, upgrades, verify
 * changes, every fault kind and partition shape, heals, waits) with
 * expectations the model predicts after some of them. `plan run` of such a
 * plan compares every step with the model; scripts/random-plans.sh runs
 * many seeds. */
#ifndef EKULAB_CLI_PLAN_GENERATE_H
#define EKULAB_CLI_PLAN_GENERATE_H

#include <stdint.h>
#include <stdio.h>

#define PLAN_GEN_MAX_NODES 8
#define PLAN_GEN_MAX_STEPS 200

struct plan_gen_opts {
	uint64_t seed;
	int nodes; /* 2-PLAN_GEN_MAX_NODES; 0: 3 or 4, from the seed */
	int steps; /* actions (expectations come on top); 0: 8-16 */
	FILE *out;
};

/* Write the plan for o->seed to o->out. The plan is read back with
 * plan_load and walked through the model before it is printed (that is
 * where the expectations come from), so what is printed always loads.
 * Returns 0, or a negative code with err (a temporary file that cannot be
 * written, or a generated plan that does not load: a bug). */
int plan_generate(const struct plan_gen_opts *o, char *err);

#endif
