/* plan_check.c: walk the model through a plan: partition shapes, applying
 * steps to a lab state, judging expectations, and `plan check`'s run.
 */
#include "plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"

/* ---- partition shapes ---- */

static void cut_both(struct lab_cuts *c, size_t a, size_t b)
{
	labmodel_cuts_set(c, a, b, true);
	labmodel_cuts_set(c, b, a, true);
}

/* Cut every a<->b between the first ceil(k/2) of `idx` and the rest. */
static void cut_halves(struct lab_cuts *c, const size_t *idx, size_t k)
{
	size_t half = (k + 1) / 2;
	size_t i, j;

	for (i = 0; i < half; i++)
		for (j = half; j < k; j++)
			cut_both(c, idx[i], idx[j]);
}

static bool node_ok(const struct topo *t, int i)
{
	return i >= 0 && (size_t)i < t->n_nodes;
}

int plan_partition_cuts(const struct topo *t, const struct plan_partition *p,
			struct lab_cuts *out, char *err)
{
	size_t idx[TOPO_MAX_NODES];
	size_t n = t->n_nodes < TOPO_MAX_NODES ? t->n_nodes : TOPO_MAX_NODES;
	size_t i, j, k;

	labmodel_cuts_clear(out);
	switch (p->shape) {
	case PLAN_SHAPE_ISOLATE:
		if (!node_ok(t, p->node))
			return ekl_errf(err, EKL_EINVAL,
					"partition isolate: which node?");
		for (i = 0; i < n; i++)
			if (i != (size_t)p->node)
				cut_both(out, (size_t)p->node, i);
		return 0;
	case PLAN_SHAPE_HALVES:
		if (n < 2)
			return ekl_errf(err, EKL_EINVAL,
					"partition halves needs 2 nodes or "
					"more");
		for (i = 0; i < n; i++)
			idx[i] = i;
		cut_halves(out, idx, n);
		return 0;
	case PLAN_SHAPE_RING:
		for (i = 0; i < n; i++) {
			for (j = 0; j < n; j++) {
				if (i == j || j == (i + 1) % n ||
				    i == (j + 1) % n)
					continue;
				labmodel_cuts_set(out, i, j, true);
			}
		}
		return 0;
	case PLAN_SHAPE_BRIDGE:
		if (!node_ok(t, p->node))
			return ekl_errf(err, EKL_EINVAL,
					"partition bridge: which node?");
		if (n < 3)
			return ekl_errf(err, EKL_EINVAL,
					"partition bridge needs 3 nodes or "
					"more");
		for (i = 0, k = 0; i < n; i++)
			if (i != (size_t)p->node)
				idx[k++] = i;
		cut_halves(out, idx, k);
		return 0;
	case PLAN_SHAPE_ONE_WAY:
		if (!node_ok(t, p->from) || !node_ok(t, p->to) ||
		    p->from == p->to)
			return ekl_errf(err, EKL_EINVAL,
					"partition one-way: from and to must "
					"be two different nodes");
		labmodel_cuts_set(out, (size_t)p->from, (size_t)p->to, true);
		return 0;
	}
	return ekl_errf(err, EKL_EINVAL, "unknown partition shape");
}

/* ---- applying steps ---- */

void plan_sim_init(struct plan_sim *s, const struct plan *p, int64_t at)
{
	memset(s, 0, sizeof(*s));
	labmodel_init(&s->lab, &p->topo, at != 0 ? at : p->at);
}

int plan_sim_load_files(struct plan_sim *s, struct x509_store_st *store,
			char *err)
{
	return labmodel_load_files(&s->lab, store, err);
}

void plan_sim_free(struct plan_sim *s)
{
	if (s != NULL)
		labmodel_free(&s->lab);
}

void plan_fault_init(struct plan_fault *f, enum plan_fault_kind k)
{
	memset(f, 0, sizeof(*f));
	f->kind = k;
	f->node = f->link[0] = f->link[1] = -1;
	f->part.node = f->part.from = f->part.to = -1;
	f->direction = PLAN_DIR_BOTH;
	f->toxicity = 1.0;
}

bool plan_fault_cuts(const struct plan_fault *f)
{
	switch (f->kind) {
	case PLAN_F_PARTITION: return true;
	case PLAN_F_DOWN:
	case PLAN_F_BLACKHOLE:
	case PLAN_F_RESET:
	case PLAN_F_TIMEOUT:
	case PLAN_F_LIMIT_DATA: return f->toxicity >= 1.0;
	default: return false;
	}
}

static bool stops_node(const struct plan_fault *f)
{
	return f->kind == PLAN_F_KILL || f->kind == PLAN_F_PAUSE;
}

/* The lab's cuts and running flags from the faults in force (a node
 * both paused and killed is killed). */
static void recompute(struct plan_sim *s)
{
	size_t i;

	labmodel_cuts_clear(&s->lab.cuts);
	for (i = 0; i < s->lab.n + s->lab.n_ext; i++)
		labmodel_set_running(&s->lab, i, true);
	for (i = 0; i < s->n_faults; i++) {
		const struct plan_active_fault *a = &s->faults[i];

		labmodel_cuts_add(&s->lab.cuts, &a->cuts);
		if (a->f.kind == PLAN_F_PAUSE)
			labmodel_set_paused(&s->lab, (size_t)a->f.node, true);
	}
	for (i = 0; i < s->n_faults; i++)
		if (s->faults[i].f.kind == PLAN_F_KILL)
			labmodel_set_running(
			    &s->lab, (size_t)s->faults[i].f.node, false);
}

static void remove_fault(struct plan_sim *s, size_t i)
{
	memmove(&s->faults[i], &s->faults[i + 1],
		(s->n_faults - i - 1) * sizeof(s->faults[0]));
	s->n_faults--;
}

static int add_fault(struct plan_sim *s, const struct plan_fault *f, char *err)
{
	const struct topo *t = s->lab.topo;
	struct plan_active_fault *a;
	size_t i;
	int rc;

	if (f->kind == PLAN_F_RESUME || f->kind == PLAN_F_RESTART) {
		/* They end the node's pause (and, restarting, its kill). */
		for (i = s->n_faults; i-- > 0;) {
			const struct plan_fault *g = &s->faults[i].f;

			if (stops_node(g) && g->node == f->node &&
			    (g->kind == PLAN_F_PAUSE ||
			     f->kind == PLAN_F_RESTART))
				remove_fault(s, i);
		}
		return 0;
	}
	if (s->n_faults >= PLAN_MAX_FAULTS)
		return ekl_errf(err, EKL_EINVAL,
				"fault %s: more than %d faults in force; "
				"heal some first",
				f->name, PLAN_MAX_FAULTS);
	a = &s->faults[s->n_faults];
	memset(a, 0, sizeof(*a));
	a->f = *f;
	switch (f->kind) {
	case PLAN_F_PARTITION:
		rc = plan_partition_cuts(t, &f->part, &a->cuts, err);
		if (rc != 0)
			return rc;
		break;
	default:
		if (!plan_fault_is_link(f->kind))
			break; /* kill, pause: recompute */
		if (f->link[0] < 0 || f->link[1] < 0)
			return ekl_errf(err, EKL_EINVAL,
					"fault %s: which link?", f->name);
		if (plan_fault_cuts(f))
			cut_both(&a->cuts, (size_t)f->link[0],
				 (size_t)f->link[1]);
		break; /* latency, bandwidth, slow_close, slicer: no cut */
	}
	s->n_faults++;
	return 0;
}

static void heal(struct plan_sim *s, const char *name)
{
	size_t i;

	if (name[0] == '\0') {
		s->n_faults = 0;
		return;
	}
	for (i = 0; i < s->n_faults; i++) {
		if (strcmp(s->faults[i].f.name, name) == 0) {
			remove_fault(s, i);
			return;
		}
	}
}

const char *plan_renew_result_name(enum plan_renew_result r)
{
	switch (r) {
	case PLAN_RENEW_UPLOADED: return "uploaded";
	case PLAN_RENEW_REFUSED: return "refused";
	case PLAN_RENEW_COPIED: return "copied";
	}
	return "?";
}

/* Ask the upload rule; true when the certificate goes in place. */
static bool renew_allowed(const struct plan_sim *s, const struct plan_step *st,
			  struct plan_outcome *o)
{
	const struct lab_state *l = &s->lab;

	memset(o, 0, sizeof(*o));
	o->renew = true;
	labmodel_upload(l, (size_t)st->node, st->client, st->profile,
			&o->upload);
	labmodel_xpw_node(l, (size_t)st->node, &o->node);
	snprintf(o->version, sizeof(o->version), "%s",
		 l->nodes[st->node].version);
	if (st->via == PLAN_VIA_SCP)
		o->result = PLAN_RENEW_COPIED;
	else
		o->result =
		    o->upload.accept ? PLAN_RENEW_UPLOADED : PLAN_RENEW_REFUSED;
	return o->result != PLAN_RENEW_REFUSED;
}

int plan_apply(struct plan_sim *s, const struct plan_step *st, char *err)
{
	return plan_apply_outcome(s, st, NULL, err);
}

int plan_apply_outcome(struct plan_sim *s, const struct plan_step *st,
		       struct plan_outcome *out, char *err)
{
	struct lab_state *l = &s->lab;
	const struct lab_cert *cur;
	struct plan_outcome o;
	enum pki_ca ca;
	int rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	switch (st->kind) {
	case PLAN_WRITE:
	case PLAN_WAIT:
	case PLAN_EXPECT: return 0;
	case PLAN_RENEW:
		if (st->node < 0 || (size_t)st->node >= l->n + l->n_ext)
			return ekl_errf(err, EKL_EINVAL, "renew: which node?");
		if ((size_t)st->node >= l->n) {
			/* An external peer: no Expressway upload rule. */
			cur = st->client ? &l->nodes[st->node].client_cert
					 : &l->nodes[st->node].cert;
			ca = st->has_ca ? st->ca : cur->ca;
			if (st->client)
				labmodel_renew_client(l, (size_t)st->node,
						      st->profile, ca,
						      st->days);
			else
				labmodel_renew(l, (size_t)st->node, st->profile,
					       ca, st->days);
			return 0;
		}
		if (!renew_allowed(s, st, &o)) {
			if (out != NULL)
				*out = o;
			return 0; /* the node keeps its certificate */
		}
		if (out != NULL)
			*out = o;
		cur = st->client ? &l->nodes[st->node].client_cert
				 : &l->nodes[st->node].cert;
		ca = st->has_ca ? st->ca
		     : (st->client && !l->nodes[st->node].has_client_cert)
			 ? PKI_CA_UNRESTRICTED
			 : cur->ca;
		if (st->client)
			labmodel_renew_client(l, (size_t)st->node, st->profile,
					      ca, st->days);
		else
			labmodel_renew(l, (size_t)st->node, st->profile, ca,
				       st->days);
		return 0;
	case PLAN_UPGRADE:
		if (st->node < 0 || (size_t)st->node >= l->n ||
		    labmodel_upgrade(l, (size_t)st->node, st->version) != 0)
			return ekl_errf(err, EKL_EVERSION,
					"upgrade: '%s' is not a version",
					st->version);
		return 0;
	case PLAN_VERIFY: labmodel_set_verify(l, st->mode, st->node); return 0;
	case PLAN_FAULT:
		rc = add_fault(s, &st->fault, err);
		recompute(s);
		return rc;
	case PLAN_HEAL:
		heal(s, st->heal);
		recompute(s);
		return 0;
	}
	return 0;
}

/* Append to buf (NUL-terminated, len bytes). */
static void cat(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t l = strlen(buf);
	va_list ap;

	if (l >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + l, len - l, fmt, ap);
	va_end(ap);
}

void plan_outcome_text(const struct plan_outcome *o, const struct topo *t,
		       const struct plan_step *st, int64_t at, bool brief,
		       char *buf, size_t len)
{
	const char *name = t->nodes[st->node].name;
	char refusal[400], alts[600];
	enum xpw_slot slot = st->client ? XPW_SLOT_CLIENT : XPW_SLOT_SERVER;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (!o->renew)
		return;
	xpw_refusal_text(name, o->version, &o->node, &o->upload, refusal,
			 sizeof(refusal));
	switch (o->result) {
	case PLAN_RENEW_UPLOADED:
		snprintf(buf, len, "uploaded: %s", o->upload.reason);
		return;
	case PLAN_RENEW_REFUSED:
		alts[0] = '\0';
		if (!brief)
			xpw_unblock(&o->node, slot,
				    labmodel_profile_eku(st->profile), at, alts,
				    sizeof(alts));
		snprintf(buf, len,
			 "refused: %s; %s keeps its certificate%s%s%s", refusal,
			 name, alts[0] ? " (would pass with: " : "", alts,
			 alts[0] ? ")" : "");
		return;
	case PLAN_RENEW_COPIED:
		if (o->upload.accept)
			snprintf(buf, len, "copied in by SCP");
		else
			snprintf(buf, len,
				 "copied in by SCP (the upload would have been "
				 "refused: %s)",
				 o->upload.reason);
		return;
	}
}

/* ---- writes ---- */

const char *plan_write_result_name(enum plan_write_result r)
{
	switch (r) {
	case PLAN_WRITE_APPLIED: return "applied";
	case PLAN_WRITE_REFUSED: return "refused";
	case PLAN_WRITE_TIMEOUT: return "timeout";
	}
	return "?";
}

void plan_write_predict(const struct lab_state *s,
			const struct lab_prediction *p, struct plan_write *out)
{
	const struct lab_node_state *pn = &s->nodes[s->primary];
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!pn->running) {
		out->result =
		    pn->paused ? PLAN_WRITE_TIMEOUT : PLAN_WRITE_REFUSED;
		return;
	}
	out->result = PLAN_WRITE_APPLIED;
	for (i = 0; i < p->n && i < 64; i++)
		if (i != p->primary && p->repl[i].replicating &&
		    labmodel_same_cluster(p, i, p->primary))
			out->replicas |= UINT64_C(1) << i;
}

void plan_write_text(const struct plan_write *w, const struct topo *t,
		     size_t primary, char *buf, size_t len)
{
	const char *pn = primary < t->n_nodes ? t->nodes[primary].name : "?";
	bool any = false;
	size_t i;

	if (len == 0)
		return;
	buf[0] = '\0';
	switch (w->result) {
	case PLAN_WRITE_APPLIED:
		cat(buf, len, "applied on %s, replicated to ", pn);
		for (i = 0; i < t->n_nodes && i < 64; i++) {
			if (!((w->replicas >> i) & 1u))
				continue;
			cat(buf, len, "%s%s", any ? ", " : "",
			    t->nodes[i].name);
			any = true;
		}
		if (!any)
			cat(buf, len, "no node");
		return;
	case PLAN_WRITE_REFUSED:
		cat(buf, len, "refused: %s is not running (connection refused)",
		    pn);
		return;
	case PLAN_WRITE_TIMEOUT:
		cat(buf, len, "times out after %d s: %s is paused",
		    PLAN_WRITE_TIMEOUT_MS / 1000, pn);
		return;
	}
}

/* ---- expectations ---- */

static const char *nm(const struct topo *t, int i)
{
	return i >= 0 ? topo_endpoint_name(t, (size_t)i) : "?";
}

static void repl_text(const struct plan_expect *e, const struct topo *t,
		      char *buf, size_t len)
{
	bool any = false;
	size_t i;

	if (e->repl_all) {
		cat(buf, len, "all");
		return;
	}
	for (i = 0; i < t->n_nodes && i < 64; i++) {
		if ((e->replicating >> i) & 1u) {
			cat(buf, len, "%s%s", any ? ", " : "",
			    t->nodes[i].name);
			any = true;
		}
	}
	if (!any)
		cat(buf, len, "none");
}

void plan_expect_text(const struct plan_expect *e, const struct topo *t,
		      char *buf, size_t len)
{
	const char *sep = "";

	if (len == 0)
		return;
	buf[0] = '\0';
	if (e->has_finding) {
		const struct topo_zone *z = &t->zones[e->zone];

		cat(buf, len, "finding version-mismatch %s-%s %s",
		    topo_zone_end_name(t, &z->a), topo_zone_end_name(t, &z->b),
		    e->present ? "present" : "absent");
		return;
	}
	if (e->has_service) {
		const int *pr = e->has_between ? e->between : e->dir;

		cat(buf, len, "service %s %s%s%s", pol_service_name(e->service),
		    nm(t, pr[0]), e->has_between ? "-" : " -> ", nm(t, pr[1]));
		if (e->has_direction)
			cat(buf, len, " %s", labmodel_why_name(&e->dir_result));
		if (e->has_state || e->has_code)
			cat(buf, len, " %s",
			    e->has_state && e->up ? "up" : "down");
		if (e->has_code)
			cat(buf, len, " (%s)", labmodel_why_name(&e->code));
		return;
	}
	if (e->has_link || e->has_state || e->has_code) {
		const int *pr = e->has_link	   ? e->link
				: e->has_direction ? e->dir
						   : e->carrier;

		cat(buf, len, "link %s-%s", nm(t, pr[0]), nm(t, pr[1]));
		if (e->has_state || e->has_code)
			cat(buf, len, " %s",
			    e->has_state && e->up ? "up" : "down");
		if (e->has_code)
			cat(buf, len, " (%s)", labmodel_why_name(&e->code));
		sep = "; ";
	}
	if (e->has_direction) {
		cat(buf, len, "%s%s -> %s %s", sep, nm(t, e->dir[0]),
		    nm(t, e->dir[1]), labmodel_why_name(&e->dir_result));
		sep = "; ";
	}
	if (e->has_carrier) {
		cat(buf, len, "%scarried by %s -> %s", sep,
		    nm(t, e->carrier[0]), nm(t, e->carrier[1]));
		sep = "; ";
	}
	if (e->has_replicating) {
		cat(buf, len, "%sreplicating: ", sep);
		repl_text(e, t, buf, len);
	}
}

static void pair_text(const struct topo *t, const struct lab_prediction *o,
		      int a, int b, char *buf, size_t len)
{
	const struct lab_pair *p = labmodel_pair(o, (size_t)a, (size_t)b);

	if (p->linked)
		cat(buf, len, "%s-%s is up (carried by %s -> %s)", nm(t, a),
		    nm(t, b), nm(t, p->carrier_from), nm(t, p->carrier_to));
	else
		cat(buf, len, "%s-%s is down (%s)", nm(t, a), nm(t, b),
		    labmodel_why_name(&p->why));
}

static bool eval_pair(const struct plan_expect *e, const struct topo *t,
		      const struct lab_prediction *o, char *why, size_t len)
{
	const int *pr = e->has_link	   ? e->link
			: e->has_direction ? e->dir
					   : e->carrier;
	const struct lab_pair *p =
	    labmodel_pair(o, (size_t)pr[0], (size_t)pr[1]);
	bool ok = true;

	if (e->has_state && p->linked != e->up)
		ok = false;
	if (e->has_code && (p->linked || !labmodel_why_eq(&p->why, &e->code)))
		ok = false;
	if (e->has_carrier && (!p->linked || p->carrier_from != e->carrier[0] ||
			       p->carrier_to != e->carrier[1]))
		ok = false;
	if (!ok)
		pair_text(t, o, pr[0], pr[1], why, len);
	return ok;
}

/* A zone service expectation (e->has_service) or a finding. */
static bool eval_service(const struct plan_expect *e, const struct topo *t,
			 const struct lab_prediction *o, char *why, size_t len)
{
	const struct lab_zone_conn *c;
	struct lab_pair pr;
	struct lab_why got;
	bool ok = true;

	if (e->has_finding) {
		bool have = e->zone >= 0 && e->zone < TOPO_MAX_ZONES &&
			    o->zones.mismatch[e->zone];

		if (have != e->present)
			cat(why, len, "version-mismatch is %s (%s)",
			    have ? "present" : "absent",
			    have ? "the two ends run different versions"
				 : "both ends run the same version");
		return have == e->present;
	}
	if (e->has_direction) {
		c = labmodel_zone_dir(o, e->service, (size_t)e->dir[0],
				      (size_t)e->dir[1]);
		memset(&got, 0, sizeof(got));
		got.kind = LAB_WHY_NOT_DIALLED;
		if (c != NULL)
			labmodel_dir_why(&c->d, &got);
		if (!labmodel_why_eq(&got, &e->dir_result)) {
			cat(why, len, "%s %s -> %s is %s",
			    pol_service_name(e->service), nm(t, e->dir[0]),
			    nm(t, e->dir[1]), labmodel_why_name(&got));
			return false;
		}
		return true;
	}
	if (!labmodel_service_between(o, e->service, (size_t)e->between[0],
				      (size_t)e->between[1], &pr)) {
		cat(why, len, "%s %s-%s: no connection observed",
		    pol_service_name(e->service), nm(t, e->between[0]),
		    nm(t, e->between[1]));
		return false;
	}
	if (e->has_state && pr.linked != e->up)
		ok = false;
	if (e->has_code && (pr.linked || !labmodel_why_eq(&pr.why, &e->code)))
		ok = false;
	if (!ok)
		cat(why, len, "%s %s-%s is %s%s%s%s",
		    pol_service_name(e->service), nm(t, e->between[0]),
		    nm(t, e->between[1]), pr.linked ? "up" : "down",
		    pr.linked ? "" : " (",
		    pr.linked ? "" : labmodel_why_name(&pr.why),
		    pr.linked ? "" : ")");
	return ok;
}

bool plan_expect_eval(const struct plan_expect *e, const struct topo *t,
		      const struct lab_prediction *obs, char *why, size_t len)
{
	struct lab_why got;
	bool ok = true;
	uint64_t have = 0;
	size_t i;

	if (len > 0)
		why[0] = '\0';
	if (e->has_service || e->has_finding)
		return eval_service(e, t, obs, why, len);
	if ((e->has_state || e->has_code || e->has_carrier) &&
	    !eval_pair(e, t, obs, why, len))
		ok = false;
	if (e->has_direction) {
		labmodel_dir_why(&obs->dir[e->dir[0]][e->dir[1]], &got);
		if (!labmodel_why_eq(&got, &e->dir_result)) {
			cat(why, len, "%s%s -> %s is %s", ok ? "" : "; ",
			    nm(t, e->dir[0]), nm(t, e->dir[1]),
			    labmodel_why_name(&got));
			ok = false;
		}
	}
	if (e->has_replicating) {
		for (i = 0; i < obs->n && i < 64; i++)
			if (!labmodel_is_primary(obs, i) &&
			    obs->repl[i].replicating)
				have |= UINT64_C(1) << i;
		if (have != e->replicating) {
			bool any = false;

			cat(why, len, "%sreplicating:", ok ? "" : "; ");
			for (i = 0; i < obs->n; i++) {
				if (labmodel_is_primary(obs, i) ||
				    !obs->repl[i].replicating)
					continue;
				cat(why, len, " %s", nm(t, (int)i));
				any = true;
			}
			if (!any)
				cat(why, len, " none");
			for (i = 0; i < obs->n; i++) {
				if (labmodel_is_primary(obs, i) ||
				    obs->repl[i].replicating)
					continue;
				cat(why, len, "; %s not (%s)", nm(t, (int)i),
				    labmodel_why_name(&obs->repl[i].why));
			}
			ok = false;
		}
	}
	return ok;
}

/* ---- plan check ---- */

/* Do two predictions differ in anything a reader sees? */
static bool differs(const struct lab_prediction *a,
		    const struct lab_prediction *b)
{
	size_t i, j;

	if (a->zones.n != b->zones.n ||
	    memcmp(a->zones.mismatch, b->zones.mismatch,
		   sizeof(a->zones.mismatch)) != 0)
		return true;
	for (i = 0; i < a->zones.n; i++) {
		const struct lab_dir *x = &a->zones.c[i].d;
		const struct lab_dir *y = &b->zones.c[i].d;

		if (x->state != y->state || x->v.code != y->v.code ||
		    x->v.side != y->v.side || x->v.depth != y->v.depth)
			return true;
	}
	for (i = 0; i < a->n; i++) {
		if (a->running[i] != b->running[i] ||
		    a->repl[i].replicating != b->repl[i].replicating ||
		    !labmodel_why_eq(&a->repl[i].why, &b->repl[i].why))
			return true;
		for (j = 0; j < a->n; j++) {
			const struct lab_dir *x = &a->dir[i][j];
			const struct lab_dir *y = &b->dir[i][j];

			if (i == j)
				continue;
			if (x->state != y->state || x->v.code != y->v.code ||
			    x->v.side != y->v.side || x->v.depth != y->v.depth)
				return true;
			if (i < j && (a->pair[i][j].carrier_from !=
				      b->pair[i][j].carrier_from))
				return true;
		}
	}
	return false;
}

static int new_pred(struct plan_check *c, const struct plan_sim *s,
		    struct lab_prediction **out, char *err)
{
	struct lab_prediction *p = ekl_malloc(sizeof(*p));
	int rc;

	*out = NULL; /* set on every path: callers read it only on 0 */
	if (p == NULL)
		return ekl_errf(err, EKL_ENOMEM, "plan check: out of memory");
	rc = labmodel_predict(&s->lab, p, err);
	if (rc != 0) {
		ekl_free(p);
		return rc;
	}
	c->preds[c->n_preds++] = p;
	*out = p;
	return 0;
}

/* Note the first step after which a replicating node stops. */
static void note_break(struct plan_check *c, size_t step,
		       const struct lab_prediction *before,
		       const struct lab_prediction *after)
{
	size_t i;

	if (c->break_step >= 0)
		return;
	for (i = 0; i < after->n; i++) {
		if (before->repl[i].replicating &&
		    !after->repl[i].replicating) {
			c->break_step = (long)step;
			c->break_node = (int)i;
			c->break_why = after->repl[i].why;
			return;
		}
	}
}

int plan_check_run(const struct plan *p, int64_t at,
		   struct x509_store_st *store, struct plan_check *out,
		   char *err)
{
	struct plan_sim *sim;
	struct lab_prediction *pred;
	const struct lab_prediction *prev;
	char e[EKL_ERRLEN];
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	out->break_step = -1;
	out->break_node = -1;
	sim = ekl_calloc(1, sizeof(*sim));
	out->steps =
	    ekl_calloc(p->n_steps ? p->n_steps : 1, sizeof(*out->steps));
	out->preds = ekl_calloc(p->n_steps + 1, sizeof(*out->preds));
	if (sim == NULL || out->steps == NULL || out->preds == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "plan check: out of memory");
		goto out;
	}
	out->n_steps = p->n_steps;
	plan_sim_init(sim, p, at);
	out->at = sim->lab.at;
	if ((rc = plan_sim_load_files(sim, store, err)) != 0)
		goto out;
	if ((rc = new_pred(out, sim, &pred, err)) != 0)
		goto out;
	out->start = prev = pred;
	for (i = 0; i < p->n_steps; i++) {
		const struct plan_step *st = &p->steps[i];
		struct plan_check_step *cs = &out->steps[i];

		cs->pred = prev;
		if (st->kind == PLAN_EXPECT) {
			out->n_expect++;
			cs->agrees =
			    plan_expect_eval(&st->expect, &p->topo, prev,
					     cs->why, sizeof(cs->why));
			if (!cs->agrees)
				out->n_disagree++;
			continue;
		}
		if (st->kind == PLAN_WRITE) {
			plan_write_predict(&sim->lab, prev, &cs->write);
			continue;
		}
		if (st->kind == PLAN_WAIT)
			continue;
		if ((rc = plan_apply_outcome(sim, st, &cs->outcome, e)) != 0) {
			rc = ekl_errf(err, rc, "%s:%d:%d: step %zu: %s",
				      p->path, st->line, st->column, i + 1, e);
			goto out;
		}
		if (cs->outcome.renew &&
		    cs->outcome.result == PLAN_RENEW_REFUSED)
			out->n_refused++;
		if ((rc = new_pred(out, sim, &pred, err)) != 0)
			goto out;
		if (differs(prev, pred)) {
			cs->changed = true;
			note_break(out, i, prev, pred);
			cs->pred = prev = pred;
		} else {
			ekl_free(pred);
			out->preds[--out->n_preds] = NULL;
		}
	}
	rc = 0;
out:
	plan_sim_free(sim);
	ekl_free(sim);
	return rc;
}

void plan_check_free(struct plan_check *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_preds; i++)
		ekl_free(c->preds[i]);
	ekl_free(c->preds);
	ekl_free(c->steps);
	memset(c, 0, sizeof(*c));
	c->break_step = -1;
}
