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

/* The words of the upload rule for step k refused with verdict `up`
 * (the node's version at that moment: the goal's after its upgrade). */
static void refusal_text(const struct topo *t, const struct plan_explore *x,
			 int k, uint32_t done, const struct xpw_upload *up,
			 char *buf, size_t len)
{
	const struct plan_xstep *s = &x->steps[k];
	const struct topo_node *tn = &t->nodes[s->node];
	const char *version = tn->version;
	struct xpw_node n;
	size_t u;

	for (u = 0; u < x->n_steps; u++)
		if (x->steps[u].upgrade && x->steps[u].node == s->node &&
		    ((done >> u) & 1u))
			version = x->steps[u].version;
	n.role = tn->role;
	n.server_eku_upload = tn->server_eku_upload;
	if (pol_version_parse(version, &n.vclass) != 0)
		n.vclass = tn->vclass;
	xpw_refusal_text(tn->name, version, &n, up, buf, len);
}

/* "X15.5 is due May 2026 and not out at the evaluation time (ekulab
 * counts it from 2026-06-01)". */
static void release_text(const struct plan_goal *g, char *buf, size_t len)
{
	enum pol_vclass vc = POL_V_PRE154;
	char d[16];

	(void)pol_version_parse(g->version, &vc);
	xpw_date_text(xpw_release(vc), d, sizeof(d));
	pshow_textf(buf, len,
		    "%s is due %s and not out at the evaluation time (ekulab "
		    "counts it from %s)",
		    g->version, xpw_release_month(vc), d);
}

/* plan explore's own ways to the alternatives of xpw_unblock:
 * "server_eku_upload: true on the node, --goal-version X15.5, ... or
 * --allow-scp". */
static void unblock_hints(const struct plan_goal *g, const char *unblock,
			  char *buf, size_t len)
{
	const char *h[4];
	size_t n = 0, i, l;

	if (strstr(unblock, "server_eku_upload") != NULL)
		h[n++] = "server_eku_upload: true on the node";
	if (strstr(unblock, "X15.5") != NULL && strncmp(g->version, "X15.5", 5))
		h[n++] = "--goal-version X15.5";
	if (strstr(unblock, "combined-EKU") != NULL)
		h[n++] = "--goal-cert combined --goal-ca combined";
	if (strstr(unblock, "SCP") != NULL)
		h[n++] = "--allow-scp";
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		l = strlen(buf);
		pshow_textf(buf + l, len - l, "%s%s",
			    i == 0	? ""
			    : i + 1 < n ? ", "
			    : n > 2	? ", or "
					: " or ",
			    h[i]);
	}
}

/* "link node1-node2 down (client-purpose)" / "node2 not replicating
 * (...)" / "renew node2 refused: ...". */
static void failure_text(const struct topo *t, const struct plan_goal *g,
			 const struct plan_explore *x,
			 const struct plan_xfailure *f, char *buf, size_t len)
{
	const char *why = labmodel_why_name(&f->why);
	char r[600];

	if (f->refused >= 0 && x->steps[f->refused].upgrade) {
		release_text(g, r, sizeof(r));
		pshow_textf(buf, len, "upgrade %s not possible: %s",
			    t->nodes[x->steps[f->refused].node].name, r);
	} else if (f->refused >= 0) {
		refusal_text(t, x, f->refused, f->done, &f->upload, r,
			     sizeof(r));
		pshow_textf(buf, len, "renew %s refused: %s",
			    t->nodes[x->steps[f->refused].node].name, r);
	} else if (f->service >= 0)
		pshow_textf(buf, len, "%s %s -> %s fails (%s)",
			    pol_service_name((enum pol_service)f->service),
			    topo_endpoint_name(t, (size_t)f->a),
			    topo_endpoint_name(t, (size_t)f->b), why);
	else if (g->criterion != LAB_CRIT_MESH && f->node >= 0)
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

/* Why no ordering reaches the goal, and what would unblock it. */
static void print_block(FILE *to, const struct topo *t,
			const struct plan_goal *g, const struct plan_explore *x,
			int64_t at)
{
	const struct plan_xblock *b = &x->block;
	enum pol_vclass vc = POL_V_PRE154;
	char r[600], d[16], h[200];

	(void)at;
	if (!b->blocked)
		return;
	if (b->release) {
		(void)pol_version_parse(g->version, &vc);
		xpw_date_text(xpw_release(vc), d, sizeof(d));
		release_text(g, r, sizeof(r));
		fprintf(to,
			"no ordering reaches the goal: blocked by the %s "
			"release: %s\n"
			"what would unblock it: an evaluation time (--at) on "
			"or after %s, or an earlier goal version\n",
			g->version, r, d);
		return;
	}
	refusal_text(t, x, b->step, ~UINT32_C(0), &b->upload, r, sizeof(r));
	unblock_hints(g, b->unblock, h, sizeof(h));
	fprintf(to,
		"no ordering reaches the goal: blocked by the %s: %s\n"
		"what would unblock it: %s\n"
		"  (in plan explore: %s)\n",
		xpw_rule_name(b->upload.rule), r, b->unblock, h);
}

static void print_text(FILE *to, const struct topo *t,
		       const struct plan_goal *g, const struct plan_explore *x,
		       int64_t at)
{
	char a[800], b[2048];
	size_t k;

	fprintf(to, "explore %s: goal %s with %s certificates", t->name,
		g->version, pki_profile_name(g->profile));
	if (g->has_ca)
		fprintf(to, " from the %s CA", pki_ca_name(g->ca));
	fprintf(to, "; criterion %s (%s)\n",
		labmodel_criterion_name(g->criterion),
		g->criterion == LAB_CRIT_PRIMARY
		    ? "every node replicates from its primary"
		: g->criterion == LAB_CRIT_SERVICES
		    ? "every node replicates from its primary and every "
		      "zone service works"
		    : "every pair of nodes of a cluster linked");
	fprintf(to, "renewals: %s; link rule %s, dial %s\n",
		g->allow_scp ? "through the web UI, or copied in by SCP when "
			       "its upload rule refuses (--allow-scp)"
			     : "through the web UI: each must pass the node's "
			       "upload rule when it happens",
		topo_link_name(t->link), topo_dial_name(t->dial));
	fprintf(to, "steps (%zu):\n", x->n_steps);
	for (k = 0; k < x->n_steps; k++) {
		step_text(t, &x->steps[k], a, sizeof(a));
		fprintf(to, "  %2zu  %s\n", k + 1, a);
	}
	if (!x->start_safe) {
		failure_text(t, g, x, &x->start_failure, a, sizeof(a));
		fprintf(to,
			"the start state is already unsafe: %s\n"
			"orderings %llu, safe 0\n",
			a, (unsigned long long)x->orderings);
		print_block(to, t, g, x, at);
		return;
	}
	fprintf(to, "orderings %llu, safe %llu (%.1f%%)",
		(unsigned long long)x->orderings, (unsigned long long)x->safe,
		x->orderings ? 100.0 * (double)x->safe / (double)x->orderings
			     : 0.0);
	if (x->refused > 0)
		fprintf(to, "; %llu meet a refused renewal first",
			(unsigned long long)x->refused);
	fprintf(to, "\n");
	if (x->n_failures > 0)
		fprintf(to,
			"where the other orderings first fail (%llu unsafe "
			"states; the most common):\n",
			(unsigned long long)x->unsafe_subsets);
	for (k = 0; k < x->n_failures; k++) {
		const struct plan_xfailure *f = &x->failures[k];

		done_text(t, x, f->done, b, sizeof(b));
		failure_text(t, g, x, f, a, sizeof(a));
		fprintf(to, "  %12llu  after %s: %s\n",
			(unsigned long long)f->count, b, a);
	}
	if (x->block.blocked) {
		print_block(to, t, g, x, at);
		return;
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
			 const struct plan_goal *g,
			 const struct plan_explore *x,
			 const struct plan_xfailure *f)
{
	char r[600], rule[80];
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
	if (f->a >= 0 && f->service < 0) {
		json_arr_begin(j);
		json_str(j, t->nodes[f->a].name);
		json_str(j, t->nodes[f->b].name);
		json_arr_end(j);
	} else {
		json_null(j);
	}
	if (f->service >= 0) {
		json_key(j, "service");
		json_obj_begin(j);
		json_key(j, "service");
		json_str(j, pol_service_name((enum pol_service)f->service));
		json_key(j, "direction");
		json_arr_begin(j);
		json_str(j, topo_endpoint_name(t, (size_t)f->a));
		json_str(j, topo_endpoint_name(t, (size_t)f->b));
		json_arr_end(j);
		json_obj_end(j);
	}
	json_key(j, "reason");
	json_str(j, f->refused < 0		   ? labmodel_why_name(&f->why)
		    : x->steps[f->refused].upgrade ? "not-released"
						   : "upload-refused");
	json_key(j, "refused");
	if (f->refused >= 0) {
		bool up = x->steps[f->refused].upgrade;

		if (up) {
			release_text(g, r, sizeof(r));
			pshow_textf(rule, sizeof(rule), "%s release",
				    g->version);
		} else {
			refusal_text(t, x, f->refused, f->done, &f->upload, r,
				     sizeof(r));
			pshow_textf(rule, sizeof(rule), "%s",
				    xpw_rule_name(f->upload.rule));
		}
		json_obj_begin(j);
		json_key(j, "step");
		json_step(j, t, &x->steps[f->refused]);
		json_key(j, "rule");
		json_str(j, rule);
		json_key(j, "text");
		json_str(j, r);
		json_obj_end(j);
	} else {
		json_null(j);
	}
	json_obj_end(j);
}

static void json_block(struct json *j, const struct topo *t,
		       const struct plan_goal *g, const struct plan_explore *x)
{
	const struct plan_xblock *b = &x->block;
	enum pol_vclass vc = POL_V_PRE154;
	char r[600], d[16], rule[80];

	json_key(j, "blocked_by");
	if (!b->blocked) {
		json_null(j);
		return;
	}
	json_obj_begin(j);
	if (b->release) {
		(void)pol_version_parse(g->version, &vc);
		xpw_date_text(xpw_release(vc), d, sizeof(d));
		pshow_textf(rule, sizeof(rule), "%s release", g->version);
		release_text(g, r, sizeof(r));
		json_key(j, "rule");
		json_str(j, rule);
		json_key(j, "node");
		json_null(j);
		json_key(j, "step");
		json_null(j);
		json_key(j, "text");
		json_str(j, r);
		pshow_textf(r, sizeof(r),
			    "an evaluation time (--at) on or after %s, or an "
			    "earlier goal version",
			    d);
		json_key(j, "unblock");
		json_str(j, r);
		json_obj_end(j);
		return;
	}
	refusal_text(t, x, b->step, ~UINT32_C(0), &b->upload, r, sizeof(r));
	json_key(j, "rule");
	json_str(j, xpw_rule_name(b->upload.rule));
	json_key(j, "node");
	json_str(j, t->nodes[x->steps[b->step].node].name);
	json_key(j, "step");
	json_step(j, t, &x->steps[b->step]);
	json_key(j, "text");
	json_str(j, r);
	json_key(j, "unblock");
	json_str(j, b->unblock);
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
	json_key(&j, "allow_scp");
	json_bool(&j, g->allow_scp);
	json_key(&j, "link");
	json_str(&j, topo_link_name(t->link));
	json_key(&j, "dial");
	json_str(&j, topo_dial_name(t->dial));
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
	json_key(&j, "refused");
	json_int(&j, (int64_t)x->refused);
	json_key(&j, "recommended");
	if (x->safe > 0) {
		json_arr_begin(&j);
		for (k = 0; k < x->n_steps; k++)
			json_step(&j, t, &x->steps[x->recommended[k]]);
		json_arr_end(&j);
	} else {
		json_null(&j);
	}
	json_block(&j, t, g, x);
	json_key(&j, "failures");
	json_arr_begin(&j);
	if (!x->start_safe)
		json_failure(&j, t, g, x, &x->start_failure);
	for (k = 0; k < x->n_failures; k++)
		json_failure(&j, t, g, x, &x->failures[k]);
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
		print_text(o->out, &t, &o->goal, x, o->at);
	if (rc == 0) {
		rc = x->safe > 0 ? 0 : 1;
		err[0] = '\0'; /* only a failure says something */
	}
	if (rc <= 1 && o->verify_live > 0 &&
	    plan_explore_live(o->topology, &t, &o->goal, x, o->at,
			      o->verify_live, o->json ? stderr : o->out,
			      err) != 0)
		rc = 1;
	ekl_free(x);
	topo_free(&t);
	return rc;
}
