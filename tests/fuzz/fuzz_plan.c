/* fuzz_plan.c: plan YAML (model/plan/plan_parse.c, plan_steps.c, with the
 * topology it names or holds inline) and `plan check`'s walk of the model
 * through its steps (plan_check.c).
 *
 * Input: the plan file's content. It is written next to the example
 * topologies the example plans name (cluster-x15.3.yaml and
 * cluster-x15.4.yaml from examples/plans, mra-lab.yaml and switch-lab.yaml
 * from examples/deployment, copied at start), so `topology:
 * cluster-x15.3.yaml` loads a real topology.
 *
 * Properties checked on every input:
 *  - a refusal comes with a message naming the plan file;
 *  - a loaded plan has at most PLAN_MAX_STEPS steps, each of a known kind,
 *    naming nodes or externals of its topology only, with its text and line
 * set; fault names are unique among the faults;
 *  - plan check runs on every loaded plan (at a fixed time) and either
 *    predicts every step (one result per step, expectations counted) or
 *    refuses with a message; the break step, when there is one, is a step;
 *  - no sanitizer report, no leak, no hang (libFuzzer -timeout).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "fuzzutil.h"
#include "model/plan/plan.h"
#include "model/topology.h"

#define AT 1767225600 /* 2026-01-01: a fixed evaluation time */

static void copy_example(const char *dir, const char *name)
{
	char from[1024], to[600];
	static char buf[1 << 16];
	size_t n;
	FILE *f;

	snprintf(from, sizeof(from), "%s/examples/%s/%s", EKL_SOURCE_DIR, dir,
		 name);
	f = fopen(from, "rb");
	if (f == NULL) {
		perror(from);
		abort();
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	fz_write_file(name, buf, n, to, sizeof(to));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	copy_example("plans", "cluster-x15.3.yaml");
	copy_example("plans", "cluster-x15.4.yaml");
	copy_example("deployment", "mra-lab.yaml");
	copy_example("deployment", "switch-lab.yaml");
	return 0;
}

static bool node_ok(const struct plan *p, int node)
{
	/* Nodes, then externals (topo_endpoints). */
	return node >= -1 && node < (int)topo_endpoints(&p->topo);
}

static void check_steps(const struct plan *p)
{
	size_t i, j;

	FZ_CHECK(p->n_steps <= PLAN_MAX_STEPS, "%zu steps", p->n_steps);
	FZ_CHECK(p->topo.n_nodes >= 1, "a plan without nodes");
	for (i = 0; i < p->n_steps; i++) {
		const struct plan_step *st = &p->steps[i];

		FZ_CHECK(st->kind >= PLAN_WRITE && st->kind <= PLAN_EXPECT,
			 "step %zu: kind %d", i, (int)st->kind);
		FZ_CHECK(st->text[0] != '\0' && st->line >= 1,
			 "step %zu: no text or line", i);
		FZ_CHECK(node_ok(p, st->node), "step %zu: node %d", i,
			 st->node);
		if (st->kind == PLAN_FAULT) {
			FZ_CHECK(node_ok(p, st->fault.node) &&
				     node_ok(p, st->fault.link[0]) &&
				     node_ok(p, st->fault.link[1]),
				 "step %zu: fault names node %d / link %d-%d",
				 i, st->fault.node, st->fault.link[0],
				 st->fault.link[1]);
			for (j = 0; j < i; j++)
				FZ_CHECK(p->steps[j].kind != PLAN_FAULT ||
					     strcmp(p->steps[j].fault.name,
						    st->fault.name) != 0,
					 "fault name '%s' twice",
					 st->fault.name);
		}
		if (st->kind == PLAN_EXPECT) {
			char text[512];

			plan_expect_text(&st->expect, &p->topo, text,
					 sizeof(text));
			FZ_CHECK(text[0] != '\0', "step %zu: no expect text",
				 i);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[EKL_ERRLEN] = "";
	char path[600];
	struct plan_check c;
	struct plan p;
	size_t i, n_expect = 0;
	int rc;

	fz_write_file("plan.yaml", data, size, path, sizeof(path));
	rc = plan_load(path, &p, err);
	if (rc == EKL_ENOMEM)
		abort();
	if (rc != 0) {
		FZ_CHECK(strstr(err, "plan.yaml") != NULL ||
			     strstr(err, "cluster-x15") != NULL,
			 "the refusal does not name the file: %s", err);
		return 0;
	}
	check_steps(&p);
	memset(&c, 0, sizeof(c));
	rc = plan_check_run(&p, AT, NULL, &c, err);
	if (rc == EKL_ENOMEM)
		abort();
	if (rc == 0) {
		FZ_CHECK(c.n_steps == p.n_steps, "%zu results for %zu steps",
			 c.n_steps, p.n_steps);
		for (i = 0; i < p.n_steps; i++)
			n_expect += p.steps[i].kind == PLAN_EXPECT;
		FZ_CHECK(c.n_expect == n_expect && c.n_disagree <= n_expect,
			 "%zu expectations counted of %zu (%zu disagree)",
			 c.n_expect, n_expect, c.n_disagree);
		FZ_CHECK(c.break_step >= -1 && c.break_step < (long)p.n_steps,
			 "break at step %ld of %zu", c.break_step, p.n_steps);
		FZ_CHECK(c.start != NULL, "no prediction before step 1");
	} else {
		FZ_CHECK(err[0] != '\0', "plan check refused (%d) silently",
			 rc);
	}
	plan_check_free(&c);
	plan_free(&p);
	return 0;
}
