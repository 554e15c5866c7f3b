/* plan_explore.c: count the orderings of upgrade and renewal steps that
 * keep a cluster safe at every intermediate state, each step happening
 * only when it can (a renewal the node's upload rule accepts at its
 * version then, or an SCP copy when allowed; an upgrade to a released
 * version).
 *
 * The state after a set of steps depends only on the set (each step sets
 * a different thing: one node's version or one node's certificate), and
 * whether step s may follow set S depends only on S (a renewal's upload
 * verdict depends on whether its node's upgrade is in S), so with k steps
 * there are 2^k states, each evaluated once by the model. Then, by
 * dynamic programming over subsets S (bit i: step i done), with
 * allowed(S, s) the edge S -> S+{s}:
 *
 *   reach[S] = sum over s in S, allowed(S-{s}, s), of ways[S-{s}]
 *              (orderings of S whose proper prefixes are all safe and
 *              whose steps could all happen; reach[{}] = 1)
 *   ways[S]  = safe(S) ? reach[S] : 0
 *   safe orderings K = ways[all]
 *   orderings whose first unsafe prefix is exactly S (S unsafe)
 *            = reach[S] * (k - |S|)!
 *   orderings refused first by step s after S (S safe, s not allowed)
 *            = ways[S] * (k - |S| - 1)!
 *
 * and these three kinds add up to k! (checked). Backwards,
 * comp[T] = safe(T) ? sum over allowed s not in T of comp[T+{s}] : 0 with
 * comp[all] = safe(all), the number of safe completions from T;
 * comp[{}] == ways[all] is checked as an independent second count. The
 * recommended ordering follows the allowed step with the most safe
 * completions.
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

bool plan_explore_allowed(const struct lab_state *s, const struct plan_goal *g,
			  const struct plan_explore *x, size_t k,
			  struct xpw_upload *up)
{
	const struct plan_xstep *st = &x->steps[k];
	struct xpw_upload u;
	enum pol_vclass vc;

	if (st->upgrade)
		return pol_version_parse(st->version, &vc) == 0 &&
		       xpw_released(vc, s->at);
	labmodel_upload(s, (size_t)st->node, false, st->profile, &u);
	if (up != NULL)
		*up = u;
	return u.accept || g->allow_scp;
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
	const struct lab_zone_conn *zc;
	size_t i, j, pr;

	f->a = f->b = f->node = f->service = -1;
	memset(&f->why, 0, sizeof(f->why));
	if (c == LAB_CRIT_PRIMARY || c == LAB_CRIT_SERVICES) {
		for (i = 0; i < p->n; i++) {
			if (p->repl[i].replicating)
				continue;
			pr = labmodel_primary_of(p, i);
			f->node = (int)i;
			f->why = p->repl[i].why;
			f->a = (int)(i < pr ? i : pr);
			f->b = (int)(i < pr ? pr : i);
			return;
		}
		if (c == LAB_CRIT_SERVICES &&
		    (zc = labmodel_services_first_down(p)) != NULL) {
			f->service = zc->service;
			f->a = zc->from;
			f->b = zc->to;
			labmodel_dir_why(&zc->d, &f->why);
		}
		return;
	}
	for (i = 0; i < p->n; i++) {
		for (j = i + 1; j < p->n; j++) {
			if (p->pair[i][j].linked ||
			    !labmodel_same_cluster(p, i, j))
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
	const struct plan_goal *goal;
	enum lab_criterion crit;
	/* Whether each step may happen: an upgrade always (`ok_before`) or
	 * never; a renewal depending on its node's upgrade step (`upg`, or
	 * -1) being done. */
	int upg[PLAN_EXPLORE_MAX_STEPS];
	bool ok_before[PLAN_EXPLORE_MAX_STEPS];
	bool ok_after[PLAN_EXPLORE_MAX_STEPS];
};

static bool allowed(const struct xwork *w, uint32_t S, size_t s)
{
	int u = w->upg[s];

	if (u >= 0 && ((S >> u) & 1u))
		return w->ok_after[s];
	return w->ok_before[s];
}

/* Fill upg, ok_before and ok_after from the base state and, for each
 * renewal whose node is upgraded, the state after that upgrade. */
static void edges(struct xwork *w)
{
	const struct plan_explore *x = w->x;
	size_t s, u;

	for (s = 0; s < x->n_steps; s++) {
		w->upg[s] = -1;
		for (u = 0; u < x->n_steps; u++)
			if (!x->steps[s].upgrade && x->steps[u].upgrade &&
			    x->steps[u].node == x->steps[s].node)
				w->upg[s] = (int)u;
		w->ok_before[s] =
		    plan_explore_allowed(w->base, w->goal, x, s, NULL);
		w->ok_after[s] = w->ok_before[s];
		if (w->upg[s] >= 0) {
			*w->s = *w->base;
			plan_explore_apply(w->s, x->steps, x->n_steps,
					   UINT32_C(1) << w->upg[s]);
			w->ok_after[s] =
			    plan_explore_allowed(w->s, w->goal, x, s, NULL);
		}
	}
}

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
		if (f->refused >= 0) {
			/* The refused renewal's verdict in that state. */
			f->a = f->b = f->node = f->service = -1;
			memset(&f->why, 0, sizeof(f->why));
			(void)plan_explore_allowed(w->s, w->goal, w->x,
						   (size_t)f->refused,
						   &f->upload);
		} else {
			describe(w->pred, w->crit, f);
		}
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
	if (a->done != b->done)
		return a->done < b->done;
	return a->refused < b->refused;
}

static void keep_failure(struct plan_explore *x, uint32_t done, int refused,
			 uint64_t count)
{
	struct plan_xfailure f;
	size_t i;

	memset(&f, 0, sizeof(f));
	f.done = done;
	f.count = count;
	f.refused = refused;
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
static void recommend(const struct xwork *w, struct plan_explore *x,
		      const uint64_t *comp)
{
	uint32_t done = 0;
	size_t pos, s;

	for (pos = 0; pos < x->n_steps; pos++) {
		int best = -1;

		for (s = 0; s < x->n_steps; s++) {
			uint32_t next = done | (UINT32_C(1) << s);

			if ((done >> s) & 1u || comp[next] == 0 ||
			    !allowed(w, done, s))
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
	uint64_t unsafe = 0;
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
		size_t rest = k - (size_t)__builtin_popcount(S);

		for (s = 0; s < k; s++) {
			uint32_t prev = S & ~(UINT32_C(1) << s);

			if ((S >> s) & 1u && allowed(w, prev, s))
				reach += ways[prev];
		}
		ways[S] = safe[S] ? reach : 0;
		if (!safe[S] && reach > 0) {
			x->unsafe_subsets++;
			unsafe += reach * factorial(rest);
			keep_failure(x, S, -1, reach * factorial(rest));
		}
		for (s = 0; ways[S] > 0 && s < k; s++) {
			if ((S >> s) & 1u || allowed(w, S, s))
				continue;
			x->refused += ways[S] * factorial(rest - 1);
			keep_failure(x, S, (int)s,
				     ways[S] * factorial(rest - 1));
		}
		if (S == full)
			break;
	}
	for (S = full;; S--) {
		uint64_t c = S == full ? 1 : 0;

		for (s = 0; s < k; s++)
			if (!((S >> s) & 1u) && allowed(w, S, s))
				c += comp[S | (UINT32_C(1) << s)];
		comp[S] = safe[S] ? c : 0;
		if (S == 0)
			break;
	}
	x->safe = ways[full];
	if (comp[0] != ways[full] ||
	    x->safe + unsafe + x->refused != x->orderings)
		return ekl_errf(
		    err, EKL_EINVAL,
		    "explore: the counts do not add up (forward "
		    "%llu, backward %llu, unsafe %llu, refused "
		    "%llu, of %llu); please report this",
		    (unsigned long long)ways[full], (unsigned long long)comp[0],
		    (unsigned long long)unsafe, (unsigned long long)x->refused,
		    (unsigned long long)x->orderings);
	return 0;
}

/* Why no ordering can reach the goal, whatever the order: an upgrade to
 * a version not out yet, or a renewal refused both before and after its
 * node's upgrade. */
static void blockage(struct xwork *w, struct plan_explore *x, int64_t at)
{
	struct plan_xblock *b = &x->block;
	enum pol_vclass goal = POL_V_PRE154;
	bool upgrades = false;
	size_t s;

	memset(b, 0, sizeof(*b));
	b->step = -1;
	for (s = 0; s < x->n_steps; s++)
		upgrades |= x->steps[s].upgrade;
	(void)pol_version_parse(w->goal->version, &goal);
	if (upgrades && !xpw_released(goal, at)) {
		b->blocked = b->release = true;
		return;
	}
	for (s = 0; s < x->n_steps; s++) {
		const struct plan_xstep *st = &x->steps[s];

		if (st->upgrade || w->ok_before[s] || w->ok_after[s])
			continue;
		/* The verdict at the version the node ends on. */
		*w->s = *w->base;
		if (w->upg[s] >= 0)
			plan_explore_apply(w->s, x->steps, x->n_steps,
					   UINT32_C(1) << w->upg[s]);
		(void)plan_explore_allowed(w->s, w->goal, x, s, &b->upload);
		labmodel_xpw_node(w->s, (size_t)st->node, &b->node);
		xpw_unblock(&b->node, XPW_SLOT_SERVER,
			    labmodel_profile_eku(st->profile), at, b->unblock,
			    sizeof(b->unblock));
		b->blocked = true;
		b->step = (int)s;
		return;
	}
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
	w.goal = goal;
	w.crit = goal->criterion;
	edges(&w);
	blockage(&w, out, base->at);

	out->start_failure.refused = -1;
	if ((rc = eval(&w, 0, &ok, &out->start_failure, err)) != 0)
		goto out;
	out->start_safe = ok;
	if (!ok) {
		/* Every ordering starts unsafe. */
		out->start_failure.count = out->orderings;
		goto out;
	}
	memset(&out->start_failure, 0, sizeof(out->start_failure));
	out->start_failure.refused = -1;
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
		recommend(&w, out, comp);
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
