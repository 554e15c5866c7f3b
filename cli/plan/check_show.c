/* check_show.c: `ekulab plan check`: every step of a plan predicted from
 * the model alone (no lab), printed as a table (a column per pair of up to
 * MATRIX_MAX_NODES nodes, else the pairs that are down) or as JSON. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/x509/certinfo.h"
#include "plan_int.h"
#include "plan_show.h"

void pshow_textf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

#define MATRIX_MAX_NODES 4 /* up to 6 pairs: one column per pair */

static const char *node_name(const struct topo *t, int i)
{
	return i >= 0 ? topo_endpoint_name(t, (size_t)i) : "?";
}

/* ---- zone services (shared by text and JSON) ---- */

/* Rank of a failing direction in the one precedence (lower first). */
static int dir_rank(const struct lab_dir *d)
{
	switch (d->state) {
	case LAB_DIR_NOT_RUNNING: return 0;
	case LAB_DIR_CUT: return 1;
	case LAB_DIR_REJECTED: return 2;
	default: return 3;
	}
}

/* One zone service as a cell: "up", or "down REASON k/n" (k of its n
 * connections fail; the reason by the one precedence). */
static void service_cell(const struct lab_prediction *p, size_t zone,
			 enum pol_service svc, char *buf, size_t len)
{
	const struct lab_dir *first = NULL;
	size_t i, n = 0, down = 0;
	struct lab_why w;

	for (i = 0; i < p->zones.n; i++) {
		const struct lab_zone_conn *c = &p->zones.c[i];

		if (c->zone != zone || c->service != svc)
			continue;
		n++;
		if (c->d.state == LAB_DIR_OK)
			continue;
		down++;
		if (first == NULL || dir_rank(&c->d) < dir_rank(first))
			first = &c->d;
	}
	if (first == NULL) {
		pshow_textf(buf, len, n ? "up" : "none");
		return;
	}
	labmodel_dir_why(first, &w);
	pshow_textf(buf, len, "down %s %zu/%zu", labmodel_why_name(&w), down,
		    n);
}

static void findings_cell(const struct topo *t, const struct lab_prediction *p,
			  char *buf, size_t len)
{
	size_t i, l;

	buf[0] = '\0';
	for (i = 0; i < t->n_zones && i < TOPO_MAX_ZONES; i++) {
		if (!p->zones.mismatch[i])
			continue;
		l = strlen(buf);
		pshow_textf(buf + l, len - l, "%sversion-mismatch %s-%s",
			    l ? ", " : "",
			    topo_zone_end_name(t, &t->zones[i].a),
			    topo_zone_end_name(t, &t->zones[i].b));
	}
	if (buf[0] == '\0')
		pshow_textf(buf, len, "none");
}

static bool has_traversal(const struct topo *t)
{
	size_t i;

	for (i = 0; i < t->n_zones; i++)
		if (t->zones[i].type == POL_SVC_TRAVERSAL)
			return true;
	return false;
}

/* ---- plan check: text ---- */

static void link_cell(const struct lab_prediction *p, size_t a, size_t b,
		      char *buf, size_t len)
{
	const struct lab_pair *pr = labmodel_pair(p, a, b);

	if (pr->linked)
		pshow_textf(buf, len, "up");
	else
		pshow_textf(buf, len, "down %s", labmodel_why_name(&pr->why));
}

static void repl_cell(const struct topo *t, const struct lab_prediction *p,
		      char *buf, size_t len)
{
	size_t i, l;
	bool any = false;

	buf[0] = '\0';
	for (i = 0; i < p->n; i++) {
		if (labmodel_is_primary(p, i) || !p->repl[i].replicating)
			continue;
		l = strlen(buf);
		pshow_textf(buf + l, len - l, "%s%s", any ? " " : "",
			    t->nodes[i].name);
		any = true;
	}
	if (!any)
		pshow_textf(buf, len, "none");
	for (i = 0; i < p->n; i++) {
		if (p->repl[i].replicating)
			continue;
		l = strlen(buf);
		pshow_textf(buf + l, len - l, "; %s%s: %s", t->nodes[i].name,
			    labmodel_is_primary(p, i) ? " (primary)" : "",
			    labmodel_why_name(&p->repl[i].why));
	}
}

/* Down pairs as one cell, for more than MATRIX_MAX_NODES nodes. */
static void down_cell(const struct topo *t, const struct lab_prediction *p,
		      char *buf, size_t len)
{
	size_t a, b, l;
	bool any = false;

	buf[0] = '\0';
	for (a = 0; a < p->n; a++) {
		for (b = a + 1; b < p->n; b++) {
			const struct lab_pair *pr = &p->pair[a][b];

			if (pr->linked || !labmodel_same_cluster(p, a, b))
				continue;
			l = strlen(buf);
			pshow_textf(buf + l, len - l, "%s%s-%s %s",
				    any ? ", " : "down: ", t->nodes[a].name,
				    t->nodes[b].name,
				    labmodel_why_name(&pr->why));
			any = true;
		}
	}
	if (!any)
		pshow_textf(buf, len, "all up");
}

#define MAX_SVC_COLS (2 * TOPO_MAX_ZONES)

struct cols {
	int step;		   /* width of the step text column */
	int pair[TOPO_MAX_NODES];  /* per pair column, matrix mode */
	size_t pa[TOPO_MAX_NODES]; /* the pairs: nodes of one cluster */
	size_t pb[TOPO_MAX_NODES];
	size_t n_pairs;
	bool matrix;
	/* one column per zone service, then the findings */
	size_t sz[MAX_SVC_COLS];
	enum pol_service ss[MAX_SVC_COLS];
	int sw[MAX_SVC_COLS];
	size_t n_svc;
	bool findings;
	int fw;
};

static void svc_header(const struct topo *t, const struct cols *c, size_t k,
		       char *buf, size_t len)
{
	const struct topo_zone *z = &t->zones[c->sz[k]];

	pshow_textf(buf, len, "%s %s-%s", pol_service_name(c->ss[k]),
		    topo_zone_end_name(t, &z->a), topo_zone_end_name(t, &z->b));
}

static void print_row(FILE *f, const struct plan *pl, const struct cols *c,
		      const char *num, const char *text,
		      const struct lab_prediction *p)
{
	const struct topo *t = &pl->topo;
	char cell[2048];
	size_t a, b, k = 0;

	fprintf(f, "%4s  %-*s", num, c->step, text);
	if (c->matrix) {
		for (k = 0; k < c->n_pairs; k++) {
			link_cell(p, c->pa[k], c->pb[k], cell, sizeof(cell));
			fprintf(f, "  %-*s", c->pair[k], cell);
		}
	} else {
		down_cell(t, p, cell, sizeof(cell));
		fprintf(f, "  %s", cell);
	}
	for (k = 0; k < c->n_svc; k++) {
		service_cell(p, c->sz[k], c->ss[k], cell, sizeof(cell));
		fprintf(f, "  %s%-*s", c->matrix ? "" : "| ", c->sw[k], cell);
	}
	if (c->findings) {
		findings_cell(t, p, cell, sizeof(cell));
		fprintf(f, "  %-*s", c->fw, cell);
	}
	repl_cell(t, p, cell, sizeof(cell));
	fprintf(f, "  %s%s\n", c->matrix ? "" : "| replicating: ", cell);
	(void)a;
	(void)b;
}

static void widths(const struct plan *pl, const struct plan_check *ck,
		   struct cols *c)
{
	const struct topo *t = &pl->topo;
	char cell[64];
	size_t a, b, i, k = 0;
	int w;

	memset(c, 0, sizeof(*c));
	c->step = 5; /* "start" */
	for (i = 0; i < pl->n_steps; i++) {
		w = (int)strlen(pl->steps[i].text);
		if (pl->steps[i].kind != PLAN_EXPECT && w > c->step)
			c->step = w;
	}
	for (a = 0; a < t->n_zones && c->n_svc + 2 <= MAX_SVC_COLS; a++) {
		c->sz[c->n_svc] = a;
		c->ss[c->n_svc++] = t->zones[a].type;
		if (t->zones[a].type == POL_SVC_TRAVERSAL && t->zones[a].mra) {
			c->sz[c->n_svc] = a;
			c->ss[c->n_svc++] = POL_SVC_MRA;
		}
	}
	c->findings = has_traversal(t);
	for (k = 0; k < c->n_svc; k++) {
		char h[3 * TOPO_NAME_MAX + 16];

		svc_header(t, c, k, h, sizeof(h));
		c->sw[k] = (int)strlen(h);
		for (i = 0; i <= pl->n_steps; i++) {
			const struct lab_prediction *p =
			    i == 0 ? ck->start : ck->steps[i - 1].pred;

			service_cell(p, c->sz[k], c->ss[k], cell, sizeof(cell));
			if ((int)strlen(cell) > c->sw[k])
				c->sw[k] = (int)strlen(cell);
		}
	}
	c->fw = 8; /* "findings" */
	for (i = 0; c->findings && i <= pl->n_steps; i++) {
		char fc[512];
		const struct lab_prediction *p =
		    i == 0 ? ck->start : ck->steps[i - 1].pred;

		findings_cell(t, p, fc, sizeof(fc));
		if ((int)strlen(fc) > c->fw)
			c->fw = (int)strlen(fc);
	}
	k = 0;
	for (a = 0; a < t->n_nodes; a++)
		for (b = a + 1; b < t->n_nodes; b++)
			if (t->nodes[a].cluster == t->nodes[b].cluster)
				k++;
	c->matrix = k <= 6;
	if (!c->matrix)
		return;
	k = 0;
	for (a = 0; a < t->n_nodes; a++) {
		for (b = a + 1; b < t->n_nodes; b++) {
			if (t->nodes[a].cluster != t->nodes[b].cluster)
				continue;
			c->pa[k] = a;
			c->pb[k] = b;
			c->pair[k] = (int)(strlen(t->nodes[a].name) +
					   strlen(t->nodes[b].name) + 1);
			for (i = 0; i <= pl->n_steps; i++) {
				const struct lab_prediction *p =
				    i == 0 ? ck->start : ck->steps[i - 1].pred;

				link_cell(p, a, b, cell, sizeof(cell));
				if ((int)strlen(cell) > c->pair[k])
					c->pair[k] = (int)strlen(cell);
			}
			k++;
		}
	}
	c->n_pairs = k;
}

static void print_header(FILE *f, const struct plan *pl, const struct cols *c)
{
	const struct topo *t = &pl->topo;
	char h[3 * TOPO_NAME_MAX + 16];
	size_t k;

	fprintf(f, "%4s  %-*s", "#", c->step, "step");
	if (c->matrix) {
		for (k = 0; k < c->n_pairs; k++) {
			pshow_textf(h, sizeof(h), "%s-%s",
				    t->nodes[c->pa[k]].name,
				    t->nodes[c->pb[k]].name);
			fprintf(f, "  %-*s", c->pair[k], h);
		}
	} else {
		fprintf(f, "  links");
	}
	for (k = 0; k < c->n_svc; k++) {
		svc_header(t, c, k, h, sizeof(h));
		fprintf(f, "  %s%-*s", c->matrix ? "" : "| ", c->sw[k], h);
	}
	if (c->findings)
		fprintf(f, "  %-*s", c->fw, "findings");
	fprintf(f, "  %s\n", c->matrix ? "replicating" : "");
}

static void print_topology(FILE *f, const struct plan *pl)
{
	const struct topo *t = &pl->topo;
	size_t i;

	if (!t->multi)
		fprintf(f,
			"plan %s: topology %s%s%s (primary %s, verify %s, dial "
			"%s, link %s)\n",
			pl->path, t->name,
			pl->topo_path[0] ? " from " : " (inline)",
			pl->topo_path, t->primary, pol_mode_name(t->verify),
			topo_dial_name(t->dial), topo_link_name(t->link));
	else
		fprintf(f, "plan %s: topology %s%s%s\n", pl->path, t->name,
			pl->topo_path[0] ? " from " : " (inline)",
			pl->topo_path);
	for (i = 0; t->multi && i < t->n_clusters; i++) {
		const struct topo_cluster *c = &t->clusters[i];

		fprintf(f,
			"  cluster %s: Expressway-%s, primary %s, verify %s, "
			"dial %s, link %s\n",
			c->name, c->role == TOPO_ROLE_E ? "E" : "C",
			t->nodes[c->primary].name, pol_mode_name(c->verify),
			topo_dial_name(c->dial), topo_link_name(c->link));
	}
	for (i = 0; i < t->n_nodes; i++) {
		const struct topo_node *n = &t->nodes[i];

		fprintf(f, "  %-12s %-9s cert %s/%s%s%s%s", n->name, n->version,
			pki_profile_name(n->cert.profile),
			pki_ca_name(n->cert.ca), n->cert.file ? " (file " : "",
			n->cert.file ? n->cert.file : "",
			n->cert.file ? ")" : "");
		if (n->has_client_cert)
			fprintf(f, ", client cert %s/%s",
				pki_profile_name(n->client_cert.profile),
				pki_ca_name(n->client_cert.ca));
		if (!n->client_eku_check)
			fprintf(f, ", client EKU check off");
		if (t->multi)
			fprintf(f, ", cluster %s (role %s)%s",
				t->clusters[n->cluster].name,
				topo_role_name(n->role),
				topo_is_primary(t, i) ? ", primary" : "");
		fprintf(f, "\n");
	}
	for (i = 0; i < t->n_externals; i++) {
		const struct topo_external *x = &t->externals[i];

		fprintf(f,
			"  %-12s %-9s cert %s/%s, verify %s, %s client EKU\n",
			x->name, pol_kind_name(x->kind),
			pki_profile_name(x->cert.profile),
			pki_ca_name(x->cert.ca), pol_mode_name(x->verify),
			x->checks_client_eku ? "checks" : "ignores");
	}
	for (i = 0; i < t->n_zones; i++) {
		const struct topo_zone *z = &t->zones[i];

		fprintf(f, "  zone %s %s %s %s%s%s\n",
			pol_service_name(z->type), topo_zone_end_name(t, &z->a),
			z->type == POL_SVC_TRAVERSAL ? "->" : "-",
			topo_zone_end_name(t, &z->b), z->mra ? " (mra)" : "",
			z->tls_verify ? "" : " (tls_verify off)");
	}
	fprintf(f, "\n");
}

/* Each change of a node's replication, and the first break. */
static void print_replication(FILE *f, const struct plan *pl,
			      const struct plan_check *ck)
{
	const struct topo *t = &pl->topo;
	const struct lab_prediction *prev = ck->start;
	size_t i, j;

	fprintf(f, "\nreplication: ");
	if (ck->break_step < 0) {
		fprintf(f, "no node that replicates stops during the plan\n");
	} else {
		fprintf(f,
			"breaks after step %ld (%s): %s stops replicating "
			"(%s)\n",
			ck->break_step + 1, pl->steps[ck->break_step].text,
			node_name(t, ck->break_node),
			labmodel_why_name(&ck->break_why));
	}
	for (i = 0; i < pl->n_steps; i++) {
		const struct lab_prediction *p = ck->steps[i].pred;

		if (!ck->steps[i].changed)
			continue;
		for (j = 0; j < p->n; j++) {
			if (prev->repl[j].replicating == p->repl[j].replicating)
				continue;
			if (p->repl[j].replicating)
				fprintf(f,
					"  after step %zu (%s): %s replicates "
					"again\n",
					i + 1, pl->steps[i].text,
					t->nodes[j].name);
			else
				fprintf(
				    f, "  after step %zu (%s): %s stops (%s)\n",
				    i + 1, pl->steps[i].text, t->nodes[j].name,
				    labmodel_why_name(&p->repl[j].why));
		}
		prev = p;
	}
}

/* The line under a renew or write step: what it did. */
static void print_outcome(FILE *f, const struct plan *pl,
			  const struct plan_check *ck, size_t i)
{
	const struct plan_step *st = &pl->steps[i];
	const struct plan_check_step *cs = &ck->steps[i];
	char text[1200];

	if (st->kind == PLAN_RENEW && cs->outcome.renew &&
	    cs->outcome.result != PLAN_RENEW_UPLOADED)
		plan_outcome_text(&cs->outcome, &pl->topo, st, ck->at, false,
				  text, sizeof(text));
	else if (st->kind == PLAN_WRITE)
		plan_write_text(&cs->write, &pl->topo, ck->start->primary, text,
				sizeof(text));
	else
		return;
	fprintf(f, "%4s  -> %s\n", "", text);
}

static void print_check_text(FILE *f, const struct plan *pl,
			     const struct plan_check *ck)
{
	struct cols c;
	char num[24];
	size_t i;

	print_topology(f, pl);
	widths(pl, ck, &c);
	print_header(f, pl, &c);
	print_row(f, pl, &c, "0", "start", ck->start);
	for (i = 0; i < pl->n_steps; i++) {
		const struct plan_step *st = &pl->steps[i];
		const struct plan_check_step *cs = &ck->steps[i];

		pshow_textf(num, sizeof(num), "%zu", i + 1);
		if (st->kind != PLAN_EXPECT) {
			print_row(f, pl, &c, num, st->text, cs->pred);
			print_outcome(f, pl, ck, i);
			continue;
		}
		fprintf(f, "%4s  %s  -> %s%s%s\n", num, st->text,
			cs->agrees ? "agrees"
				   : "DISAGREES: the model predicts ",
			cs->agrees ? "" : cs->why, "");
	}
	print_replication(f, pl, ck);
	if (ck->n_refused > 0)
		fprintf(f,
			"renewals: %zu refused by the upload rule (the node "
			"kept its certificate; the plan went on)\n",
			ck->n_refused);
	if (ck->n_expect == 0)
		fprintf(f, "expectations: none\n");
	else if (ck->n_disagree == 0)
		fprintf(f, "expectations: all %zu agree with the model\n",
			ck->n_expect);
	else
		fprintf(f, "expectations: %zu of %zu DISAGREE with the model\n",
			ck->n_disagree, ck->n_expect);
}

/* ---- plan check: JSON ---- */

static const char *dir_result(const struct lab_dir *d)
{
	switch (d->state) {
	case LAB_DIR_OK: return "ok";
	case LAB_DIR_REJECTED: return pol_code_name(d->v.code);
	case LAB_DIR_CUT: return "cut";
	case LAB_DIR_NOT_RUNNING: return "not-running";
	case LAB_DIR_NOT_DIALLED: return "not-dialled";
	}
	return "?";
}

/* The "result", "rejected_by" and "depth" keys of one direction. */
static void json_dir_result(struct json *j, const struct lab_dir *d)
{
	json_key(j, "result");
	json_str(j, dir_result(d));
	json_key(j, "rejected_by");
	if (d->state == LAB_DIR_REJECTED)
		json_str(j, pol_side_name(d->v.side));
	else
		json_null(j);
	json_key(j, "depth");
	if (d->state == LAB_DIR_REJECTED && d->v.depth >= 0)
		json_int(j, d->v.depth);
	else
		json_null(j);
}

static void json_dir(struct json *j, const struct topo *t,
		     const struct lab_prediction *p, size_t from, size_t to)
{
	const struct lab_dir *d = &p->dir[from][to];

	json_obj_begin(j);
	json_key(j, "from");
	json_str(j, t->nodes[from].name);
	json_key(j, "to");
	json_str(j, t->nodes[to].name);
	json_dir_result(j, d);
	json_obj_end(j);
}

static void json_prediction(struct json *j, const struct topo *t,
			    const struct lab_prediction *p)
{
	size_t a, b, i;

	json_key(j, "links");
	json_arr_begin(j);
	for (a = 0; a < p->n; a++) {
		for (b = a + 1; b < p->n; b++) {
			const struct lab_pair *pr = &p->pair[a][b];

			if (!labmodel_same_cluster(p, a, b))
				continue;
			json_obj_begin(j);
			json_key(j, "a");
			json_str(j, t->nodes[a].name);
			json_key(j, "b");
			json_str(j, t->nodes[b].name);
			json_key(j, "state");
			json_str(j, pr->linked ? "up" : "down");
			json_key(j, "reason");
			if (pr->linked)
				json_null(j);
			else
				json_str(j, labmodel_why_name(&pr->why));
			json_key(j, "carrier");
			if (pr->linked) {
				json_arr_begin(j);
				json_str(j, node_name(t, pr->carrier_from));
				json_str(j, node_name(t, pr->carrier_to));
				json_arr_end(j);
			} else {
				json_null(j);
			}
			json_key(j, "directions");
			json_arr_begin(j);
			json_dir(j, t, p, a, b);
			json_dir(j, t, p, b, a);
			json_arr_end(j);
			json_obj_end(j);
		}
	}
	json_arr_end(j);
	json_key(j, "replication");
	json_arr_begin(j);
	for (i = 0; i < p->n; i++) {
		json_obj_begin(j);
		json_key(j, "node");
		json_str(j, t->nodes[i].name);
		json_key(j, "primary");
		json_bool(j, labmodel_is_primary(p, i));
		json_key(j, "running");
		json_bool(j, p->running[i]);
		json_key(j, "replicating");
		json_bool(j, p->repl[i].replicating);
		json_key(j, "reason");
		if (p->repl[i].replicating)
			json_null(j);
		else
			json_str(j, labmodel_why_name(&p->repl[i].why));
		json_obj_end(j);
	}
	json_arr_end(j);
	if (t->n_zones == 0)
		return;
	json_key(j, "services");
	json_arr_begin(j);
	for (i = 0; i < p->zones.n; i++) {
		const struct lab_zone_conn *c = &p->zones.c[i];
		const struct topo_zone *z = &t->zones[c->zone];
		const struct lab_dir *d = &c->d;

		json_obj_begin(j);
		json_key(j, "service");
		json_str(j, pol_service_name((enum pol_service)c->service));
		json_key(j, "zone");
		json_arr_begin(j);
		json_str(j, topo_zone_end_name(t, &z->a));
		json_str(j, topo_zone_end_name(t, &z->b));
		json_arr_end(j);
		json_key(j, "from");
		json_str(j, topo_endpoint_name(t, c->from));
		json_key(j, "to");
		json_str(j, topo_endpoint_name(t, c->to));
		json_dir_result(j, d);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "findings");
	json_arr_begin(j);
	for (i = 0; i < t->n_zones && i < TOPO_MAX_ZONES; i++) {
		if (!p->zones.mismatch[i])
			continue;
		json_obj_begin(j);
		json_key(j, "finding");
		json_str(j, "version-mismatch");
		json_key(j, "zone");
		json_arr_begin(j);
		json_str(j, topo_zone_end_name(t, &t->zones[i].a));
		json_str(j, topo_zone_end_name(t, &t->zones[i].b));
		json_arr_end(j);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static void json_outcome(struct json *j, const struct plan *pl,
			 const struct plan_check *ck, size_t i)
{
	const struct plan_step *st = &pl->steps[i];
	const struct plan_check_step *cs = &ck->steps[i];
	char text[1200];
	size_t k;

	json_key(j, "outcome");
	if (st->kind == PLAN_RENEW && cs->outcome.renew) {
		plan_outcome_text(&cs->outcome, &pl->topo, st, ck->at, false,
				  text, sizeof(text));
		json_obj_begin(j);
		json_key(j, "renew");
		json_str(j, plan_renew_result_name(cs->outcome.result));
		json_key(j, "via");
		json_str(j, plan_via_name(st->via));
		json_key(j, "rule");
		json_str(j, xpw_rule_name(cs->outcome.upload.rule));
		json_key(j, "upload");
		json_str(j, cs->outcome.upload.accept ? "accept" : "reject");
		json_key(j, "reason");
		json_str(j, cs->outcome.upload.reason);
		json_key(j, "text");
		json_str(j, text);
		json_obj_end(j);
	} else if (st->kind == PLAN_WRITE) {
		plan_write_text(&cs->write, &pl->topo, ck->start->primary, text,
				sizeof(text));
		json_obj_begin(j);
		json_key(j, "write");
		json_str(j, plan_write_result_name(cs->write.result));
		json_key(j, "replicas");
		json_arr_begin(j);
		for (k = 0; k < pl->topo.n_nodes && k < 64; k++)
			if ((cs->write.replicas >> k) & 1u)
				json_str(j, pl->topo.nodes[k].name);
		json_arr_end(j);
		json_key(j, "timeout_ms");
		json_int(j, PLAN_WRITE_TIMEOUT_MS);
		json_key(j, "text");
		json_str(j, text);
		json_obj_end(j);
	} else {
		json_null(j);
	}
}

/* The clusters, externals and zones of the topology (JSON). */
static void json_topology_parts(struct json *j, const struct topo *t)
{
	size_t i;

	json_key(j, "clusters");
	json_arr_begin(j);
	for (i = 0; i < t->n_clusters; i++) {
		const struct topo_cluster *c = &t->clusters[i];
		size_t k;

		json_obj_begin(j);
		json_key(j, "name");
		json_str(j, c->name);
		json_key(j, "role");
		json_str(j, topo_role_name(c->role));
		json_key(j, "primary");
		json_str(j, t->nodes[c->primary].name);
		json_key(j, "nodes");
		json_arr_begin(j);
		for (k = c->first; k < c->first + c->count; k++)
			json_str(j, t->nodes[k].name);
		json_arr_end(j);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "externals");
	json_arr_begin(j);
	for (i = 0; i < t->n_externals; i++) {
		const struct topo_external *x = &t->externals[i];

		json_obj_begin(j);
		json_key(j, "name");
		json_str(j, x->name);
		json_key(j, "kind");
		json_str(j, pol_kind_name(x->kind));
		json_key(j, "checks_client_eku");
		json_bool(j, x->checks_client_eku);
		json_key(j, "verify");
		json_str(j, pol_mode_name(x->verify));
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "zones");
	json_arr_begin(j);
	for (i = 0; i < t->n_zones; i++) {
		const struct topo_zone *z = &t->zones[i];

		json_obj_begin(j);
		json_key(j, "type");
		json_str(j, pol_service_name(z->type));
		json_key(j, "ends");
		json_arr_begin(j);
		json_str(j, topo_zone_end_name(t, &z->a));
		json_str(j, topo_zone_end_name(t, &z->b));
		json_arr_end(j);
		json_key(j, "mra");
		json_bool(j, z->mra);
		json_key(j, "tls_verify");
		json_bool(j, z->tls_verify);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static int print_check_json(FILE *f, const struct plan *pl,
			    const struct plan_check *ck, char *err)
{
	const struct topo *t = &pl->topo;
	struct json j;
	const char *out;
	size_t i;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "plan");
	json_str(&j, pl->path);
	json_key(&j, "topology");
	json_obj_begin(&j);
	json_key(&j, "name");
	json_str(&j, t->name);
	json_key(&j, "path");
	json_str(&j, pl->topo_path[0] ? pl->topo_path : NULL);
	json_key(&j, "primary");
	json_str(&j, t->primary);
	json_key(&j, "verify");
	json_str(&j, pol_mode_name(t->verify));
	json_key(&j, "dial");
	json_str(&j, topo_dial_name(t->dial));
	json_key(&j, "link");
	json_str(&j, topo_link_name(t->link));
	json_topology_parts(&j, t);
	json_obj_end(&j);
	json_key(&j, "start");
	json_obj_begin(&j);
	json_prediction(&j, t, ck->start);
	json_obj_end(&j);
	json_key(&j, "steps");
	json_arr_begin(&j);
	for (i = 0; i < pl->n_steps; i++) {
		const struct plan_step *st = &pl->steps[i];
		const struct plan_check_step *cs = &ck->steps[i];

		json_obj_begin(&j);
		json_key(&j, "step");
		json_int(&j, (int64_t)i + 1);
		json_key(&j, "line");
		json_int(&j, st->line);
		json_key(&j, "kind");
		json_str(&j, plan_step_kind_name(st->kind));
		json_key(&j, "text");
		json_str(&j, st->text);
		json_key(&j, "changed");
		json_bool(&j, cs->changed);
		json_outcome(&j, pl, ck, i);
		if (st->kind == PLAN_EXPECT) {
			json_key(&j, "agrees");
			json_bool(&j, cs->agrees);
			json_key(&j, "predicted");
			json_str(&j, cs->agrees ? NULL : cs->why);
		}
		json_prediction(&j, t, cs->pred);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_key(&j, "replication_breaks");
	if (ck->break_step < 0) {
		json_null(&j);
	} else {
		json_obj_begin(&j);
		json_key(&j, "step");
		json_int(&j, ck->break_step + 1);
		json_key(&j, "text");
		json_str(&j, pl->steps[ck->break_step].text);
		json_key(&j, "node");
		json_str(&j, node_name(t, ck->break_node));
		json_key(&j, "reason");
		json_str(&j, labmodel_why_name(&ck->break_why));
		json_obj_end(&j);
	}
	json_key(&j, "refused_renewals");
	json_int(&j, (int64_t)ck->n_refused);
	json_key(&j, "expectations");
	json_int(&j, (int64_t)ck->n_expect);
	json_key(&j, "disagreements");
	json_int(&j, (int64_t)ck->n_disagree);
	json_key(&j, "agrees");
	json_bool(&j, ck->n_disagree == 0);
	json_obj_end(&j);
	out = json_finish(&j);
	if (out == NULL) {
		json_close(&j);
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	fprintf(f, "%s\n", out);
	json_close(&j);
	return 0;
}

int plan_check_show(const struct plan_check_opts *o, char *err)
{
	struct plan_check ck;
	X509_STORE *store = NULL;
	char e[EKL_ERRLEN];
	struct plan pl;
	int rc = 0;

	err[0] = '\0';
	if (o->ca != NULL && certinfo_load_store(o->ca, &store, e) != 0) {
		ekl_errf(err, EKL_ECONFIG, "--ca: %s", e);
		return 2;
	}
	if (plan_load(o->plan, &pl, err) != 0) {
		X509_STORE_free(store);
		return 2;
	}
	if (plan_check_run(&pl, o->at, store, &ck, err) != 0) {
		rc = 2;
		goto out;
	}
	if (o->json)
		rc = print_check_json(o->out, &pl, &ck, err) == 0 ? 0 : 2;
	else
		print_check_text(o->out, &pl, &ck);
	if (rc == 0)
		rc = ck.n_disagree > 0 ? 1 : 0;
out:
	if (rc != 2)
		err[0] = '\0'; /* only a failure says something */
	plan_check_free(&ck);
	plan_free(&pl);
	X509_STORE_free(store);
	return rc;
}

/* plan run's predicted and observed, in plan check's form. */
void pshow_json_prediction(struct json *j, const struct topo *t,
			   const struct lab_prediction *p)
{
	json_prediction(j, t, p);
}
