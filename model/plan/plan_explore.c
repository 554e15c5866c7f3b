/* plan_explore.c: count the orderings of upgrade and renewal steps that
 * keep a cluster safe at every intermediate state.
 *
 * The state after a set of steps depends only on the set (each step sets a
 * different thing: one node's version or one node's certificate), so with
 * k steps there are 2^k states, each evaluated once by the model. Then, by
 * dynamic programming over subsets S (bit i: step i done):
 *
 *   reach[S] = sum over s in S of ways[S \ {s}]   (orderings of S whose
 *              proper prefixes are all safe; reach[{}] = 1)
 *   ways[S]  = safe(S) ? reach[S] : 0
 *   safe orderings K = ways[all]
 *   orderings whose first unsafe prefix is exactly S (S unsafe)
 *            = reach[S] * (k - |S|)!
 *
 * and backwards, comp[T] = safe(T) ? sum over s not in T of comp[T+{s}] :
 * 0 with comp[all] = safe(all), the number of safe completions from T;
 * comp[{}] == ways[all] is checked as an independent second count. The
 * recommended ordering follows the step with the most safe completions.
 */
#include "plan.h"

#include <stdio.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"

int plan_explore_steps(const struct topo *t, const struct plan_goal *goal,
		       struct plan_xstep *steps, size_t *n, char *err)
{
	enum pol_vclass vc;
	size_t i;

	*n = 0;
	if (goal->version == NULL || strlen(goal->version) > TOPO_VERSION_MAX ||
	    pol_version_parse(goal->version, &vc) != 0)
		return ekl_errf(err, EKL_EINVAL,
				"goal version '%s' is not a known version; "
				"use X14.x, X15.0-X15.3.x, X15.4 or X15.5",
				goal->version != NULL ? goal->version : "");
	for (i = 0; i < t->n_nodes; i++) {
		const struct topo_node *tn = &t->nodes[i];
		const struct topo_cert *c = &tn->cert;
		enum pki_ca ca = goal->has_ca ? goal->ca : c->ca;
		bool upgrade = strcmp(tn->version, goal->version) != 0;
		bool renew = c->file != NULL || c->profile != goal->profile ||
			     c->ca != ca;
		struct plan_xstep *x;

		if (*n + (size_t)upgrade + (size_t)renew >
		    PLAN_EXPLORE_MAX_STEPS)
			return ekl_errf(err, EKL_EINVAL,
					"more than %d steps to reach the goal "
					"(%zu nodes); explore counts up to %d",
					PLAN_EXPLORE_MAX_STEPS, t->n_nodes,
					PLAN_EXPLORE_MAX_STEPS);
		if (upgrade) {
			x = &steps[(*n)++];
			memset(x, 0, sizeof(*x));
			x->node = (int)i;
			x->upgrade = true;
			snprintf(x->version, sizeof(x->version), "%s",
				 goal->version);
			snprintf(x->to, sizeof(x->to), "%s", goal->version);
		}
		if (renew) {
			x = &steps[(*n)++];
			memset(x, 0, sizeof(*x));
			x->node = (int)i;
			x->profile = goal->profile;
			x->ca = ca;
			snprintf(x->to, sizeof(x->to), "%s/%s",
				 pki_profile_name(x->profile),
				 pki_ca_name(x->ca));
		}
	}
	return 0;
}

void plan_explore_apply(struct lab_state *s, const struct plan_xstep *steps,
			size_t n, uint32_t done)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct plan_xstep *x = &steps[i];

		if (!((done >> i) & 1u))
			continue;
		if (x->upgrade)
			(void)labmodel_upgrade(s, (size_t)x->node, x->version);
		else
			labmodel_renew(s, (size_t)x->node, x->profile, x->ca,
				       0);
	}
}

static uint64_t factorial(size_t k)
{
	uint64_t f = 1;
	size_t i;

	for (i = 2; i <= k; i++)
		f *= i;
	return f;
}

/* The first thing that makes `p` unsafe, as a failure record. */
static void describe(const struct lab_prediction *p, enum lab_criterion c,
		     struct plan_xfailure *f)
{
	size_t i, j;

	f->a = f->b = f->node = -1;
	memset(&f->why, 0, sizeof(f->why));
	if (c == LAB_CRIT_PRIMARY) {
		for (i = 0; i < p->n; i++) {
			if (p->repl[i].replicating)
				continue;
			f->node = (int)i;
			f->why = p->repl[i].why;
			f->a = (int)(i < p->primary ? i : p->primary);
			f->b = (int)(i < p->primary ? p->primary : i);
			return;
		}
		return;
	}
	for (i = 0; i < p->n; i++) {
		for (j = i + 1; j < p->n; j++) {
			if (p->pair[i][j].linked)
				continue;
			f->a = (int)i;
			f->b = (int)j;
			f->why = p->pair[i][j].why;
			return;
		}
	}
}

struct xwork {
	const struct lab_state *base;
	struct lab_state *s;	     /* scratch */
	struct lab_prediction *pred; /* scratch */
	const struct plan_explore *x;
	enum lab_criterion crit;
};

static int eval(struct xwork *w, uint32_t done, bool *safe,
		struct plan_xfailure *f, char *err)
{
	int rc;

	*w->s = *w->base;
	plan_explore_apply(w->s, w->x->steps, w->x->n_steps, done);
	rc = labmodel_predict(w->s, w->pred, err);
	if (rc != 0)
		return rc;
	*safe = labmodel_safe(w->pred, w->crit);
	if (f != NULL) {
		f->done = done;
		describe(w->pred, w->crit, f);
	}
	return 0;
}

/* Keep the most common failures, largest count first (ties: fewer steps
 * done, then the lower set). */
static bool before(const struct plan_xfailure *a, const struct plan_xfailure *b)
{
	int pa = __builtin_popcount(a->done);
	int pb = __builtin_popcount(b->done);

	if (a->count != b->count)
		return a->count > b->count;
	if (pa != pb)
		return pa < pb;
	return a->done < b->done;
}

static void keep_failure(struct plan_explore *x, uint32_t done, uint64_t count)
{
	struct plan_xfailure f;
	size_t i;

	memset(&f, 0, sizeof(f));
	f.done = done;
	f.count = count;
	if (x->n_failures == PLAN_EXPLORE_FAILURES &&
	    !before(&f, &x->failures[x->n_failures - 1]))
		return;
	if (x->n_failures < PLAN_EXPLORE_FAILURES)
		x->n_failures++;
	for (i = x->n_failures - 1; i > 0 && before(&f, &x->failures[i - 1]);
	     i--)
		x->failures[i] = x->failures[i - 1];
	x->failures[i] = f;
}

/* Follow the most safe completions; ties go to upgrades, then to the
 * lower step. */
static void recommend(struct plan_explore *x, const uint64_t *comp)
{
	uint32_t done = 0;
	size_t pos, s;

	for (pos = 0; pos < x->n_steps; pos++) {
		int best = -1;

		for (s = 0; s < x->n_steps; s++) {
			uint32_t next = done | (UINT32_C(1) << s);

			if ((done >> s) & 1u || comp[next] == 0)
				continue;
			if (best < 0 ||
			    comp[next] > comp[done | (1u << best)] ||
			    (comp[next] == comp[done | (1u << best)] &&
			     x->steps[s].upgrade && !x->steps[best].upgrade))
				best = (int)s;
		}
		if (best < 0)
			return; /* cannot happen when comp[done] > 0 */
		x->recommended[pos] = best;
		done |= UINT32_C(1) << best;
	}
}

static int count(struct xwork *w, struct plan_explore *x, uint8_t *safe,
		 uint64_t *ways, uint64_t *comp, char *err)
{
	size_t k = x->n_steps;
	uint32_t full = (uint32_t)((UINT64_C(1) << k) - 1);
	uint32_t S;
	size_t s;
	bool ok;
	int rc;

	for (S = 0;; S++) {
		if ((rc = eval(w, S, &ok, NULL, err)) != 0)
			return rc;
		safe[S] = ok;
		if (S == full)
			break;
	}
	for (S = 0;; S++) {
		uint64_t reach = S == 0 ? 1 : 0;

		for (s = 0; s < k; s++)
			if ((S >> s) & 1u)
				reach += ways[S & ~(UINT32_C(1) << s)];
		ways[S] = safe[S] ? reach : 0;
		if (!safe[S] && reach > 0) {
			x->unsafe_subsets++;
			keep_failure(
			    x, S,
			    reach *
				factorial(k - (size_t)__builtin_popcount(S)));
		}
		if (S == full)
			break;
	}
	for (S = full;; S--) {
		uint64_t c = S == full ? 1 : 0;

		for (s = 0; s < k; s++)
			if (!((S >> s) & 1u))
				c += comp[S | (UINT32_C(1) << s)];
		comp[S] = safe[S] ? c : 0;
		if (S == 0)
			break;
	}
	x->safe = ways[full];
	if (comp[0] != ways[full])
		return ekl_errf(err, EKL_EINVAL,
				"explore: the forward and backward counts "
				"differ (%llu, %llu); please report this",
				(unsigned long long)ways[full],
				(unsigned long long)comp[0]);
	return 0;
}

int plan_explore_run(const struct topo *t, const struct plan_goal *goal,
		     int64_t at, struct plan_explore *out, char *err)
{
	struct lab_state *base = NULL;
	struct xwork w;
	uint8_t *safe = NULL;
	uint64_t *ways = NULL;
	uint64_t *comp = NULL;
	size_t subsets, i;
	bool ok;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	rc = plan_explore_steps(t, goal, out->steps, &out->n_steps, err);
	if (rc != 0)
		return rc;
	out->orderings = factorial(out->n_steps);
	subsets = (size_t)1 << out->n_steps;
	base = ekl_calloc(1, sizeof(*base));
	w.s = ekl_malloc(sizeof(*w.s));
	w.pred = ekl_malloc(sizeof(*w.pred));
	safe = ekl_malloc(subsets);
	ways = ekl_calloc(subsets, sizeof(*ways));
	comp = ekl_calloc(subsets, sizeof(*comp));
	if (base == NULL || w.s == NULL || w.pred == NULL || safe == NULL ||
	    ways == NULL || comp == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "explore: out of memory");
		goto out;
	}
	labmodel_init(base, t, at);
	if ((rc = labmodel_load_files(base, NULL, err)) != 0)
		goto out;
	w.base = base;
	w.x = out;
	w.crit = goal->criterion;

	if ((rc = eval(&w, 0, &ok, &out->start_failure, err)) != 0)
		goto out;
	out->start_safe = ok;
	if (!ok) {
		/* Every ordering starts unsafe. */
		out->start_failure.count = out->orderings;
		goto out;
	}
	memset(&out->start_failure, 0, sizeof(out->start_failure));
	if ((rc = count(&w, out, safe, ways, comp, err)) != 0)
		goto out;
	for (i = 0; i < out->n_failures; i++) {
		uint64_t c = out->failures[i].count;

		if ((rc = eval(&w, out->failures[i].done, &ok,
			       &out->failures[i], err)) != 0)
			goto out;
		out->failures[i].count = c;
	}
	if (out->safe > 0)
		recommend(out, comp);
out:
	ekl_free(comp);
	ekl_free(ways);
	ekl_free(safe);
	ekl_free(w.pred);
	ekl_free(w.s);
	labmodel_free(base);
	ekl_free(base);
	return rc;
}
