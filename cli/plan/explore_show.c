/* explore_show.c: `ekulab plan explore`: how many orderings of an
 * upgrade and renewal campaign keep the cluster safe, where the others
 * fail first, and a safe order to follow; as text or JSON, then (with
 * --verify-live) some orderings run live (explore_live.c). */
#include <stdio.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/mem.h"
#include "plan_int.h"
#include "plan_show.h"

static void step_text(const struct topo *t, const struct plan_xstep *s,
		      char *buf, size_t len)
{
	pshow_textf(buf, len, "%s %s to %s", s->upgrade ? "upgrade" : "renew",
		    t->nodes[s->node].name, s->to);
}

/* "link node1-node2 down (client-purpose)" / "node2 not replicating
 * (...)". */
static void failure_text(const struct topo *t, const struct plan_goal *g,
			 const struct plan_xfailure *f, char *buf, size_t len)
{
	const char *why = labmodel_why_name(&f->why);

	if (g->criterion == LAB_CRIT_PRIMARY && f->node >= 0)
		pshow_textf(buf, len,
			    "%s stops replicating: link %s-%s down (%s)",
			    t->nodes[f->node].name, t->nodes[f->a].name,
			    t->nodes[f->b].name, why);
	else if (f->a >= 0)
		pshow_textf(buf, len, "link %s-%s down (%s)",
			    t->nodes[f->a].name, t->nodes[f->b].name, why);
	else
		pshow_textf(buf, len, "unsafe");
}

static void done_text(const struct topo *t, const struct plan_explore *x,
		      uint32_t done, char *buf, size_t len)
{
	char one[200];
	size_t k, l;
	bool any = false;

	pshow_textf(buf, len, "{");
	for (k = 0; k < x->n_steps; k++) {
		if (!((done >> k) & 1u))
			continue;
		step_text(t, &x->steps[k], one, sizeof(one));
		l = strlen(buf);
		pshow_textf(buf + l, len - l, "%s%s", any ? ", " : "", one);
		any = true;
	}
	l = strlen(buf);
	pshow_textf(buf + l, len - l, "}");
}

static void print_text(FILE *to, const struct topo *t,
		       const struct plan_goal *g, const struct plan_explore *x)
{
	char a[200], b[2048];
	size_t k;

	fprintf(to, "explore %s: goal %s with %s certificates", t->name,
		g->version, pki_profile_name(g->profile));
	if (g->has_ca)
		fprintf(to, " from the %s CA", pki_ca_name(g->ca));
	fprintf(to, "; criterion %s (%s)\n",
		labmodel_criterion_name(g->criterion),
		g->criterion == LAB_CRIT_PRIMARY
		    ? "every node replicates from the primary"
		    : "every pair of nodes linked");
	fprintf(to, "steps (%zu):\n", x->n_steps);
	for (k = 0; k < x->n_steps; k++) {
		step_text(t, &x->steps[k], a, sizeof(a));
		fprintf(to, "  %2zu  %s\n", k + 1, a);
	}
	if (!x->start_safe) {
		failure_text(t, g, &x->start_failure, a, sizeof(a));
		fprintf(to,
			"the start state is already unsafe: %s\n"
			"orderings %llu, safe 0\n",
			a, (unsigned long long)x->orderings);
		return;
	}
	fprintf(to, "orderings %llu, safe %llu (%.1f%%)\n",
		(unsigned long long)x->orderings, (unsigned long long)x->safe,
		x->orderings ? 100.0 * (double)x->safe / (double)x->orderings
			     : 0.0);
	if (x->n_failures > 0)
		fprintf(to,
			"where unsafe orderings first fail (%llu distinct "
			"states; the most common):\n",
			(unsigned long long)x->unsafe_subsets);
	for (k = 0; k < x->n_failures; k++) {
		const struct plan_xfailure *f = &x->failures[k];

		done_text(t, x, f->done, b, sizeof(b));
		failure_text(t, g, f, a, sizeof(a));
		fprintf(to, "  %12llu  after %s: %s\n",
			(unsigned long long)f->count, b, a);
	}
	if (x->safe == 0) {
		fprintf(to, "no ordering is safe at every step\n");
		return;
	}
	fprintf(to, "recommended safe ordering:\n");
	for (k = 0; k < x->n_steps; k++) {
		step_text(t, &x->steps[x->recommended[k]], a, sizeof(a));
		fprintf(to, "  %2zu. %s\n", k + 1, a);
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

static int print_json(FILE *to, const struct topo *t, const struct plan_goal *g,
		      const struct plan_explore *x, char *err)
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
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	fprintf(to, "%s\n", out);
	json_close(&j);
	return 0;
}

int plan_explore_show(const struct plan_explore_opts *o, char *err)
{
	struct plan_explore *x;
	struct topo t;
	int rc = 0;

	err[0] = '\0';
	if (topo_load(o->topology, &t, err) != 0)
		return 2;
	x = ekl_calloc(1, sizeof(*x));
	if (x == NULL) {
		topo_free(&t);
		ekl_errf(err, EKL_ENOMEM, "out of memory");
		return 2;
	}
	if (plan_explore_run(&t, &o->goal, o->at, x, err) != 0)
		rc = 2;
	else if (o->json)
		rc = print_json(o->out, &t, &o->goal, x, err) == 0 ? 0 : 2;
	else
		print_text(o->out, &t, &o->goal, x);
	if (rc == 0) {
		rc = x->safe > 0 ? 0 : 1;
		err[0] = '\0'; /* only a failure says something */
	}
	if (rc <= 1 && o->verify_live > 0 &&
	    plan_explore_live(o->topology, &t, &o->goal, x, o->at,
			      o->verify_live, o->out, err) != 0)
		rc = 1;
	ekl_free(x);
	topo_free(&t);
	return rc;
}
