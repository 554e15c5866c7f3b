/* generate.c: `ekulab plan generate`: a random plan from a seed.
 *
 * The happy path: a splitmix64 stream from the seed picks the topology
 * (nodes, versions, roles, certificates, the X15.4 Expressway-E upload
 * setting, verify mode, dial mode, link rule, primary) and the actions
 * (every step kind, renewals of either slot via upload or scp, every fault
 * kind and partition shape, heals of faults in force); the plan so far is
 * written to a temporary file, read back with plan_load (so it is valid by the
 * parser's own rules) and walked through the model (plan_apply,
 * labmodel_predict); after some actions an expectation the model predicts
 * is added (who replicates, a pair, a direction). The same seed and
 * options give the same plan on every machine.
 *
 * The failure modes: a temporary file that cannot be written; a plan
 * that plan_load refuses (a bug here: the message names the seed).
 */
#include "plan_generate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "lab/lab.h"
#include "model/labmodel.h"
#include "model/plan/plan.h"

/* ---- a portable random stream ---- */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* 0 .. n-1 */
static int pick(struct rng *r, int n)
{
	return n <= 1 ? 0 : (int)(rng_next(r) % (uint64_t)n);
}

/* true with probability pct / 100 */
static bool chance(struct rng *r, int pct)
{
	return pick(r, 100) < pct;
}

/* ---- growing text ---- */

struct text {
	char *s;
	size_t len, cap;
	bool oom;
};

static void addf(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void addf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || t->oom)
		return;
	if (t->len + (size_t)n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		char *ns;

		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		ns = ekl_realloc(t->s, cap);
		if (ns == NULL) {
			t->oom = true;
			return;
		}
		t->s = ns;
		t->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* ---- the generator's own view while it picks ---- */

static const char *const versions[] = {"X15.3.2", "X14.3.7", "X15.4", "X15.5"};
static const char *const profiles[] = {"combined", "server-only", "client-only",
				       "no-eku"};
static const char *const cas[] = {"unrestricted", "server-only", "combined"};

#define NVERS	  (int)(sizeof(versions) / sizeof(versions[0]))
#define NPROFILES (int)(sizeof(profiles) / sizeof(profiles[0]))
#define NCAS	  (int)(sizeof(cas) / sizeof(cas[0]))
#define MAX_ACT	  (PLAN_GEN_MAX_STEPS + 1)

struct gen {
	struct rng r;
	int n;
	int version[PLAN_GEN_MAX_NODES]; /* index into versions */
	char act[MAX_ACT][200];		 /* the actions, as step lines */
	int n_act;
	char fault[64][24]; /* names of faults added (for heal) */
	bool live[64];	    /* still in force, as far as we know */
	int n_fault;
};

static void node_name(int i, char *buf, size_t len)
{
	snprintf(buf, len, "node%d", i + 1);
}

/* Two different nodes. */
static void two(struct gen *g, int *a, int *b)
{
	*a = pick(&g->r, g->n);
	*b = (*a + 1 + pick(&g->r, g->n - 1)) % g->n;
}

static void topology(struct gen *g, uint64_t seed, struct text *t)
{
	static const char *const dials[] = {"both", "lower-name", "primary"};
	char nm[16];
	int i;

	addf(t, "topology:\n  name: random-%llu\n", (unsigned long long)seed);
	node_name(pick(&g->r, g->n), nm, sizeof(nm));
	addf(t,
	     "  cluster: {verify: %s, primary: %s, dial: %s, link: %s}\n"
	     "  nodes:\n",
	     chance(&g->r, 75) ? "enforce" : "permissive", nm,
	     dials[pick(&g->r, 3)], chance(&g->r, 60) ? "both" : "either");
	for (i = 0; i < g->n; i++) {
		g->version[i] = pick(&g->r, NVERS);
		node_name(i, nm, sizeof(nm));
		addf(t, "    %s: {version: %s, role: %s", nm,
		     versions[g->version[i]], chance(&g->r, 70) ? "c" : "e");
		addf(t, ", cert: {profile: %s, ca: %s}",
		     chance(&g->r, 50) ? "combined"
				       : profiles[pick(&g->r, NPROFILES)],
		     chance(&g->r, 60) ? "unrestricted"
				       : cas[pick(&g->r, NCAS)]);
		if (chance(&g->r, 30))
			addf(t, ", client_cert: {profile: %s}",
			     chance(&g->r, 70) ? "client-only" : "combined");
		if (chance(&g->r, 25))
			addf(t, ", client_eku_check: off");
		if (chance(&g->r, 25))
			addf(t, ", server_eku_upload: true");
		addf(t, "}\n");
	}
}

static void add_act(struct gen *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_act(struct gen *g, const char *fmt, ...)
{
	va_list ap;

	if (g->n_act >= MAX_ACT)
		return;
	va_start(ap, fmt);
	vsnprintf(g->act[g->n_act++], sizeof(g->act[0]), fmt, ap);
	va_end(ap);
}

/* A new fault's name, remembered for a later heal. */
static const char *fault_name(struct gen *g)
{
	int k = g->n_fault < 64 ? g->n_fault++ : 63;

	snprintf(g->fault[k], sizeof(g->fault[k]), "f%d", k + 1);
	g->live[k] = true;
	return g->fault[k];
}

static void fault(struct gen *g)
{
	static const char *const links[] = {"down", "blackhole", "reset"};
	char a[16], b[16];
	int i, j, kind = pick(&g->r, 10);

	two(g, &i, &j);
	node_name(i, a, sizeof(a));
	node_name(j, b, sizeof(b));
	switch (kind) {
	case 0:
	case 1:
		add_act(g, "fault: {kind: %s, node: %s, name: %s}",
			kind == 0 ? "kill" : "pause", a, fault_name(g));
		return;
	case 2:
		add_act(g, "fault: {kind: %s, node: %s}",
			chance(&g->r, 50) ? "resume" : "restart", a);
		return;
	case 3:
	case 4: {
		int shape = pick(&g->r, 5);

		if (shape == 0 || (shape == 3 && g->n < 3))
			add_act(g,
				"fault: {kind: partition, shape: isolate, "
				"node: %s, name: %s}",
				a, fault_name(g));
		else if (shape == 1)
			add_act(g,
				"fault: {kind: partition, shape: halves, "
				"name: %s}",
				fault_name(g));
		else if (shape == 2)
			add_act(g,
				"fault: {kind: partition, shape: ring, name: "
				"%s}",
				fault_name(g));
		else if (shape == 3)
			add_act(g,
				"fault: {kind: partition, shape: bridge, "
				"node: %s, name: %s}",
				a, fault_name(g));
		else
			add_act(g,
				"fault: {kind: partition, shape: one-way, "
				"from: %s, to: %s, name: %s}",
				a, b, fault_name(g));
		return;
	}
	case 5:
	case 6:
	case 7:
		add_act(g, "fault: {kind: %s, link: [%s, %s], name: %s}",
			links[kind - 5], a, b, fault_name(g));
		return;
	case 8:
		add_act(g,
			"fault: {kind: latency, link: [%s, %s], ms: %d, "
			"jitter_ms: %d, name: %s}",
			a, b, 10 + pick(&g->r, 150), pick(&g->r, 20),
			fault_name(g));
		return;
	default:
		add_act(g,
			"fault: {kind: bandwidth, link: [%s, %s], kbps: %d, "
			"name: %s}",
			a, b, 64 + pick(&g->r, 4000), fault_name(g));
		return;
	}
}

static void heal(struct gen *g)
{
	int live[64], n = 0, k;

	for (k = 0; k < g->n_fault; k++)
		if (g->live[k])
			live[n++] = k;
	if (n == 0 || chance(&g->r, 20)) {
		add_act(g, "heal: all");
		memset(g->live, 0, sizeof(g->live));
		return;
	}
	k = live[pick(&g->r, n)];
	g->live[k] = false;
	add_act(g, "heal: %s", g->fault[k]);
}

static void action(struct gen *g)
{
	char a[16];
	int i = pick(&g->r, g->n), w = pick(&g->r, 100);

	node_name(i, a, sizeof(a));
	if (w < 14) {
		add_act(g, "write: %d", 1 + pick(&g->r, 40));
	} else if (w < 30) {
		/* The upload rule decides (via upload, the default, may be
		 * refused); via scp always puts the file in place. */
		const char *via = chance(&g->r, 40)   ? ""
				  : chance(&g->r, 50) ? ", via: scp"
						      : ", via: upload";
		const char *slot = chance(&g->r, 20) ? ", cert: client" : "";
		char ca[40] = "";

		if (chance(&g->r, 50))
			snprintf(ca, sizeof(ca), ", ca: %s",
				 cas[pick(&g->r, NCAS)]);
		add_act(g, "renew: {node: %s, profile: %s%s%s%s}", a,
			profiles[pick(&g->r, NPROFILES)], ca, slot, via);
	} else if (w < 42) {
		int v = (g->version[i] + 1 + pick(&g->r, NVERS - 1)) % NVERS;

		g->version[i] = v;
		add_act(g, "upgrade: {node: %s, version: %s}", a, versions[v]);
	} else if (w < 50) {
		const char *m = chance(&g->r, 50) ? "enforce" : "permissive";

		if (chance(&g->r, 50))
			add_act(g, "verify: {mode: %s}", m);
		else
			add_act(g, "verify: {mode: %s, node: %s}", m, a);
	} else if (w < 80) {
		fault(g);
	} else if (w < 94) {
		heal(g);
	} else {
		add_act(g, "wait: %.1f", 0.1 * (1 + pick(&g->r, 5)));
	}
}

/* ---- expectations from the model ---- */

static void names_of(const struct topo *t, uint64_t set, struct text *out)
{
	size_t i;
	bool first = true;

	addf(out, "[");
	for (i = 0; i < t->n_nodes; i++)
		if (set & (UINT64_C(1) << i)) {
			addf(out, "%s%s", first ? "" : ", ", t->nodes[i].name);
			first = false;
		}
	addf(out, "]");
}

/* One expectation that holds in prediction p, written as a step. */
static void expectation(struct gen *g, const struct topo *t,
			const struct lab_prediction *p, struct text *out)
{
	size_t n = t->n_nodes, i;
	int a, b, kind = pick(&g->r, 3);

	two(g, &a, &b);
	if (kind == 0) {
		uint64_t set = 0, all = 0;

		for (i = 0; i < n; i++) {
			if (i == p->primary)
				continue;
			all |= UINT64_C(1) << i;
			if (p->repl[i].replicating)
				set |= UINT64_C(1) << i;
		}
		addf(out, "  - expect: {replicating: ");
		if (set == all)
			addf(out, "all");
		else if (set == 0)
			addf(out, "none");
		else
			names_of(t, set, out);
		addf(out, "}\n");
	} else if (kind == 1) {
		const struct lab_pair *pr =
		    labmodel_pair(p, (size_t)a, (size_t)b);

		if (pr->linked)
			addf(out,
			     "  - expect: {link: [%s, %s], state: up, "
			     "carrier: [%s, %s]}\n",
			     t->nodes[a].name, t->nodes[b].name,
			     t->nodes[pr->carrier_from].name,
			     t->nodes[pr->carrier_to].name);
		else
			addf(out,
			     "  - expect: {link: [%s, %s], state: down, "
			     "code: %s}\n",
			     t->nodes[a].name, t->nodes[b].name,
			     labmodel_why_name(&pr->why));
	} else {
		struct lab_why why;

		labmodel_dir_why(&p->dir[a][b], &why);
		addf(out, "  - expect: {direction: [%s, %s], code: %s}\n",
		     t->nodes[a].name, t->nodes[b].name,
		     labmodel_why_name(&why));
	}
}

/* ---- the whole plan ---- */

static void header(const struct plan_gen_opts *o, const struct gen *g,
		   struct text *t)
{
	char nodes[32] = "", steps[32] = "";

	if (o->nodes > 0)
		snprintf(nodes, sizeof(nodes), " --nodes %d", o->nodes);
	if (o->steps > 0)
		snprintf(steps, sizeof(steps), " --steps %d", o->steps);
	addf(t,
	     "# A random plan (%d nodes, %d actions):\n"
	     "#   ekulab plan generate --seed %llu%s%s\n"
	     "# plan run checks every step against the model; the "
	     "expectations are\n"
	     "# the model's own predictions.\n",
	     g->n, g->n_act, (unsigned long long)o->seed, nodes, steps);
}

int plan_generate(const struct plan_gen_opts *o, char *err)
{
	struct gen *g = ekl_calloc(1, sizeof(*g));
	struct lab_prediction *pred = ekl_calloc(1, sizeof(*pred));
	struct text topo = {0}, body = {0}, out = {0};
	char path[LAB_PATH_MAX + 64];
	struct plan plan;
	struct plan_sim sim;
	int fd = -1, steps, k, rv = 0;
	FILE *f;

	memset(&plan, 0, sizeof(plan));
	if (g == NULL || pred == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	g->r.s = o->seed;
	/* Mix the seed once so that near seeds start far apart. */
	(void)rng_next(&g->r);
	g->n = o->nodes > 0 ? o->nodes : 3 + pick(&g->r, 2);
	steps = o->steps > 0 ? o->steps : 8 + pick(&g->r, 9);
	if (g->n < 2 || g->n > PLAN_GEN_MAX_NODES ||
	    steps > PLAN_GEN_MAX_STEPS) {
		rv = ekl_errf(err, EKL_EINVAL,
			      "--nodes is 2-%d and --steps 1-%d",
			      PLAN_GEN_MAX_NODES, PLAN_GEN_MAX_STEPS);
		goto out;
	}
	topology(g, o->seed, &topo);
	for (k = 0; k < steps; k++)
		action(g);
	add_act(g, "heal: all");
	/* Read the actions back as the parser sees them. */
	snprintf(path, sizeof(path), "%s/ekulab-generate-XXXXXX", lab_tmpdir());
	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		rv = ekl_errf(err, EKL_EIO, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
		goto out;
	}
	fputs(topo.s != NULL ? topo.s : "", f);
	fprintf(f, "steps:\n");
	for (k = 0; k < g->n_act; k++)
		fprintf(f, "  - %s\n", g->act[k]);
	if (fclose(f) != 0 || topo.oom) {
		rv = ekl_errf(err, EKL_EIO, "%s: cannot write", path);
		goto out;
	}
	if ((rv = plan_load(path, &plan, err)) != 0) {
		char e[EKL_ERRLEN];

		snprintf(e, sizeof(e), "%s", err);
		rv = ekl_errf(err, rv,
			      "seed %llu: the generated plan does not load (a "
			      "bug of the generator): %s",
			      (unsigned long long)o->seed, e);
		goto out;
	}
	/* Walk the model and add expectations after some actions. */
	plan_sim_init(&sim, &plan, 0);
	for (k = 0; k < g->n_act && (size_t)k < plan.n_steps; k++) {
		addf(&body, "  - %s\n", g->act[k]);
		if (plan_apply(&sim, &plan.steps[k], err) != 0 ||
		    labmodel_predict(&sim.lab, pred, err) != 0) {
			rv = EKL_EINVAL;
			break;
		}
		if (k == g->n_act - 1 || chance(&g->r, 45))
			expectation(g, &plan.topo, pred, &body);
	}
	plan_sim_free(&sim);
	if (rv != 0)
		goto out;
	header(o, g, &out);
	addf(&out, "%s", topo.s);
	addf(&out, "steps:\n%s", body.s != NULL ? body.s : "");
	if (out.oom || body.oom) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	fputs(out.s, o->out);
out:
	if (fd >= 0)
		unlink(path);
	plan_free(&plan);
	ekl_free(topo.s);
	ekl_free(body.s);
	ekl_free(out.s);
	ekl_free(pred);
	ekl_free(g);
	return rv;
}
