/* cmd_plan_explore.c: `ekulab plan explore`: how many orderings of an
 * upgrade and renewal campaign keep the cluster safe, where the others
 * fail first, and a safe order to follow. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd_plan.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/mem.h"
#include "model/plan/plan.h"

/* snprintf that says nothing about truncation (names are short; a cut
 * line is better than a failed build). */
static void textf(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void textf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

static int goal_of(const struct plan_args *a, struct plan_goal *g)
{
	memset(g, 0, sizeof(*g));
	if (a->goal_version == NULL || a->goal_cert == NULL) {
		cli_fail("plan explore: --goal-version and --goal-cert are "
			 "required");
		return 2;
	}
	g->version = a->goal_version;
	if (pki_profile_parse(a->goal_cert, &g->profile) != 0) {
		cli_fail("plan explore: --goal-cert '%s': use combined, "
			 "server-only, client-only, no-eku or any-eku",
			 a->goal_cert);
		return 2;
	}
	if (a->goal_ca != NULL) {
		if (pki_ca_parse(a->goal_ca, &g->ca) != 0) {
			cli_fail("plan explore: --goal-ca '%s': use "
				 "unrestricted, server-only or combined",
				 a->goal_ca);
			return 2;
		}
		g->has_ca = true;
	}
	if (a->criterion != NULL &&
	    labmodel_criterion_parse(a->criterion, &g->criterion) != 0) {
		cli_fail("plan explore: --criterion '%s': use primary or mesh",
			 a->criterion);
		return 2;
	}
	return 0;
}

static void step_text(const struct topo *t, const struct plan_xstep *s,
		      char *buf, size_t len)
{
	textf(buf, len, "%s %s to %s", s->upgrade ? "upgrade" : "renew",
	      t->nodes[s->node].name, s->to);
}

/* "link node1-node2 down (client-purpose)" / "node2 not replicating
 * (...)". */
static void failure_text(const struct topo *t, const struct plan_goal *g,
			 const struct plan_xfailure *f, char *buf, size_t len)
{
	const char *why = labmodel_why_name(&f->why);

	if (g->criterion == LAB_CRIT_PRIMARY && f->node >= 0)
		textf(buf, len, "%s stops replicating: link %s-%s down (%s)",
		      t->nodes[f->node].name, t->nodes[f->a].name,
		      t->nodes[f->b].name, why);
	else if (f->a >= 0)
		textf(buf, len, "link %s-%s down (%s)", t->nodes[f->a].name,
		      t->nodes[f->b].name, why);
	else
		textf(buf, len, "unsafe");
}

static void done_text(const struct topo *t, const struct plan_explore *x,
		      uint32_t done, char *buf, size_t len)
{
	char one[200];
	size_t k, l;
	bool any = false;

	textf(buf, len, "{");
	for (k = 0; k < x->n_steps; k++) {
		if (!((done >> k) & 1u))
			continue;
		step_text(t, &x->steps[k], one, sizeof(one));
		l = strlen(buf);
		textf(buf + l, len - l, "%s%s", any ? ", " : "", one);
		any = true;
	}
	l = strlen(buf);
	textf(buf + l, len - l, "}");
}

static void print_text(const struct topo *t, const struct plan_goal *g,
		       const struct plan_explore *x)
{
	char a[200], b[2048];
	size_t k;

	printf("explore %s: goal %s with %s certificates", t->name, g->version,
	       pki_profile_name(g->profile));
	if (g->has_ca)
		printf(" from the %s CA", pki_ca_name(g->ca));
	printf("; criterion %s (%s)\n", labmodel_criterion_name(g->criterion),
	       g->criterion == LAB_CRIT_PRIMARY
		   ? "every node replicates from the primary"
		   : "every pair of nodes linked");
	printf("steps (%zu):\n", x->n_steps);
	for (k = 0; k < x->n_steps; k++) {
		step_text(t, &x->steps[k], a, sizeof(a));
		printf("  %2zu  %s\n", k + 1, a);
	}
	if (!x->start_safe) {
		failure_text(t, g, &x->start_failure, a, sizeof(a));
		printf("the start state is already unsafe: %s\n"
		       "orderings %llu, safe 0\n",
		       a, (unsigned long long)x->orderings);
		return;
	}
	printf("orderings %llu, safe %llu (%.1f%%)\n",
	       (unsigned long long)x->orderings, (unsigned long long)x->safe,
	       x->orderings ? 100.0 * (double)x->safe / (double)x->orderings
			    : 0.0);
	if (x->n_failures > 0)
		printf("where unsafe orderings first fail (%llu distinct "
		       "states; the most common):\n",
		       (unsigned long long)x->unsafe_subsets);
	for (k = 0; k < x->n_failures; k++) {
		const struct plan_xfailure *f = &x->failures[k];

		done_text(t, x, f->done, b, sizeof(b));
		failure_text(t, g, f, a, sizeof(a));
		printf("  %12llu  after %s: %s\n", (unsigned long long)f->count,
		       b, a);
	}
	if (x->safe == 0) {
		printf("no ordering is safe at every step\n");
		return;
	}
	printf("recommended safe ordering:\n");
	for (k = 0; k < x->n_steps; k++) {
		step_text(t, &x->steps[x->recommended[k]], a, sizeof(a));
		printf("  %2zu. %s\n", k + 1, a);
	}
}

static void json_step(struct json *j, const struct topo *t,
		      const struct plan_xstep *s)
{
	json_obj_begin(j);
	json_key(j, "node");
	json_str(j, t->nodes[s->node].name);
	json_key(j, "step");
	json_str(j, s->upgrade ? "upgrade" : "renew");
	json_key(j, "to");
	json_str(j, s->to);
	json_obj_end(j);
}

static void json_failure(struct json *j, const struct topo *t,
			 const struct plan_explore *x,
			 const struct plan_xfailure *f)
{
	size_t k;

	json_obj_begin(j);
	json_key(j, "after");
	json_arr_begin(j);
	for (k = 0; k < x->n_steps; k++)
		if ((f->done >> k) & 1u)
			json_step(j, t, &x->steps[k]);
	json_arr_end(j);
	json_key(j, "count");
	json_int(j, (int64_t)f->count);
	json_key(j, "node");
	json_str(j, f->node >= 0 ? t->nodes[f->node].name : NULL);
	json_key(j, "link");
	if (f->a >= 0) {
		json_arr_begin(j);
		json_str(j, t->nodes[f->a].name);
		json_str(j, t->nodes[f->b].name);
		json_arr_end(j);
	} else {
		json_null(j);
	}
	json_key(j, "reason");
	json_str(j, labmodel_why_name(&f->why));
	json_obj_end(j);
}

static int print_json(const struct topo *t, const struct plan_goal *g,
		      const struct plan_explore *x)
{
	struct json j;
	const char *out;
	size_t k;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "topology");
	json_str(&j, t->name);
	json_key(&j, "goal");
	json_obj_begin(&j);
	json_key(&j, "version");
	json_str(&j, g->version);
	json_key(&j, "cert");
	json_str(&j, pki_profile_name(g->profile));
	json_key(&j, "ca");
	json_str(&j, g->has_ca ? pki_ca_name(g->ca) : NULL);
	json_obj_end(&j);
	json_key(&j, "criterion");
	json_str(&j, labmodel_criterion_name(g->criterion));
	json_key(&j, "steps");
	json_arr_begin(&j);
	for (k = 0; k < x->n_steps; k++)
		json_step(&j, t, &x->steps[k]);
	json_arr_end(&j);
	json_key(&j, "start_safe");
	json_bool(&j, x->start_safe);
	json_key(&j, "orderings");
	/* n! for n <= 20 fits int64. */
	json_int(&j, (int64_t)x->orderings);
	json_key(&j, "safe");
	json_int(&j, (int64_t)x->safe);
	json_key(&j, "recommended");
	json_arr_begin(&j);
	for (k = 0; x->safe > 0 && k < x->n_steps; k++)
		json_step(&j, t, &x->steps[x->recommended[k]]);
	json_arr_end(&j);
	json_key(&j, "failures");
	json_arr_begin(&j);
	if (!x->start_safe)
		json_failure(&j, t, x, &x->start_failure);
	for (k = 0; k < x->n_failures; k++)
		json_failure(&j, t, x, &x->failures[k]);
	json_arr_end(&j);
	json_obj_end(&j);
	out = json_finish(&j);
	if (out == NULL) {
		json_close(&j);
		cli_fail("plan explore: out of memory");
		return 2;
	}
	printf("%s\n", out);
	json_close(&j);
	return 0;
}

int plan_explore_main(int argc, char **argv)
{
	struct plan_explore *x;
	struct plan_goal g;
	char err[EKL_ERRLEN] = "";
	struct plan_args a;
	struct topo t;
	int64_t at;
	int rc;

	if ((rc = plan_parse_args(argc, argv, &a)) != 0)
		return rc < 0 ? 0 : rc;
	if (optind != argc - 1) {
		cli_fail("plan explore: give exactly one topology file");
		plan_usage(stderr);
		return 2;
	}
	if (a.ca != NULL) {
		cli_fail("plan explore: --ca belongs to plan check");
		return 2;
	}
	if ((rc = plan_parse_at("explore", a.at, &at)) != 0 ||
	    (rc = goal_of(&a, &g)) != 0)
		return rc;
	if (topo_load(argv[optind], &t, err) != 0) {
		cli_fail("plan explore: %s", err);
		return 2;
	}
	x = ekl_calloc(1, sizeof(*x));
	if (x == NULL) {
		cli_fail("plan explore: out of memory");
		topo_free(&t);
		return 2;
	}
	if (plan_explore_run(&t, &g, at, x, err) != 0) {
		cli_fail("plan explore: %s", err);
		rc = 2;
	} else if (a.json) {
		rc = print_json(&t, &g, x);
	} else {
		print_text(&t, &g, x);
	}
	if (rc == 0)
		rc = x->safe > 0 ? 0 : 1;
	if (rc <= 1 && a.verify_live > 0 &&
	    plan_explore_verify_live(argv[optind], &t, &g, x, at,
				     a.verify_live) != 0)
		rc = 1;
	ekl_free(x);
	topo_free(&t);
	return rc;
}
