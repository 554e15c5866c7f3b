/* lab_graph.c: a topology or a plan drawn as the model predicts it (see
 * lab_graph.h): groups for clusters and externals, ClusterDB inside a
 * cluster, zone services between groups; DOT, SVG and Mermaid.
 *
 * The happy path: lab_graph_offline() reads the file (a plan when its
 * top-level mapping has `steps:`, else a topology), walks the plan's
 * steps up to --step with plan_apply (as `plan check` does), predicts
 * with labmodel_predict and writes each format asked. lab_graph_write()
 * lays the groups out (clusters in a row, C before E, apart by the widest
 * zone label; each external below, under the first cluster it has a zone
 * with), then draws: zone arrows straight between neighbouring clusters,
 * arcs over the row between clusters with another between them,
 * vertical (or slanted) between a cluster and an external.
 *
 * The failure modes: a file that is neither (its topology's or plan's
 * error, exit 2), --step out of range or on a topology (exit 2), an
 * output file that cannot be written (exit 1, the others still written).
 */
#include "lab_graph.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "lab.h"
#include "model/plan/plan.h"
#include "model/yamlfile.h"

#define MAX_GROUPS (TOPO_MAX_CLUSTERS + TOPO_MAX_EXTERNALS)
#define NODE_W	   200.0
#define NODE_H	   76.0
#define GREEN	   "#2ca02c"
#define RED	   "#d62728"
#define GREY	   "#999999"

/* ---- what is drawn, independent of the format ---- */

struct group {
	bool external;
	size_t index; /* cluster or external */
	double x, y, w, h, r;
};

/* The connections of one zone's service from one group to another. */
struct bundle {
	size_t zone;
	enum pol_service service;
	size_t from, to; /* groups */
	size_t total, ok;
	const struct lab_zone_conn *first_bad; /* rejected first, else any */
	size_t k, m; /* its place among the bundles of the same two groups */
};

struct graph {
	const struct lab_state *s;
	const struct lab_prediction *p;
	const struct topo *t;
	struct group g[MAX_GROUPS];
	size_t ng;
	size_t group_of[TOPO_MAX_NODES]; /* endpoint -> group */
	struct bundle b[TOPO_MAX_ZONES * 8];
	size_t nb;
	double ex[TOPO_MAX_NODES], ey[TOPO_MAX_NODES]; /* endpoint centres */
	double w, h;
};

static const char *version_colour(enum pol_vclass v)
{
	switch (v) {
	case POL_V_PRE154: return "#f6c38b";
	case POL_V_X154: return "#9ecae1";
	case POL_V_X155: return "#a1d99b";
	}
	return "#dddddd";
}

static const char *vclass_css(enum pol_vclass v)
{
	return v == POL_V_PRE154 ? "pre154" : v == POL_V_X154 ? "x154" : "x155";
}

/* A direction's word: "ok", a certificate code, "cut", "not-running". */
static const char *dir_word(const struct lab_dir *d)
{
	struct lab_why w;

	labmodel_dir_why(d, &w);
	return labmodel_why_name(&w);
}

static const char *dir_colour(const struct lab_dir *d)
{
	return d->state == LAB_DIR_OK	      ? GREEN
	       : d->state == LAB_DIR_REJECTED ? RED
					      : GREY;
}

static bool ep_running(const struct lab_state *s, size_t e)
{
	return s->nodes[e].running;
}

static const char *cert_label(const struct lab_cert *c, char *buf, size_t len)
{
	if (c->file != NULL && c->file_facts != NULL)
		snprintf(buf, len, "file");
	else
		snprintf(buf, len, "%s/%s", pki_profile_name(c->profile),
			 pki_ca_name(c->ca));
	return buf;
}

/* Who rejects a refused connection from -> to. */
static const char *rejecter(const struct graph *G, const struct lab_dir *d,
			    size_t from, size_t to)
{
	return topo_endpoint_name(G->t,
				  d->v.side == POL_SIDE_ACCEPTOR ? to : from);
}

static void bundle_label(const struct graph *G, const struct bundle *b,
			 char *buf, size_t len)
{
	const struct topo_zone *z = &G->t->zones[b->zone];
	size_t n;

	if (b->ok == b->total)
		snprintf(buf, len, "%s: ok (%zu)", pol_service_name(b->service),
			 b->total);
	else if (b->first_bad->d.state == LAB_DIR_REJECTED)
		snprintf(buf, len, "%s: %s, %zu of %zu (%s rejects)",
			 pol_service_name(b->service),
			 dir_word(&b->first_bad->d), b->total - b->ok, b->total,
			 rejecter(G, &b->first_bad->d, b->first_bad->from,
				  b->first_bad->to));
	else
		snprintf(buf, len, "%s: %s, %zu of %zu",
			 pol_service_name(b->service),
			 dir_word(&b->first_bad->d), b->total - b->ok,
			 b->total);
	n = strlen(buf);
	if (!z->tls_verify && z->type != POL_SVC_TRAVERSAL && n < len)
		snprintf(buf + n, len - n, " [TLS verify off]");
	n = strlen(buf);
	if (G->p->zones.mismatch[b->zone] && n < len)
		snprintf(buf + n, len - n, " [C and E versions differ]");
}

static const char *bundle_colour(const struct bundle *b)
{
	if (b->ok == b->total)
		return GREEN;
	return b->first_bad->d.state == LAB_DIR_REJECTED ? RED : GREY;
}

static void collect_bundles(struct graph *G)
{
	size_t i, j;

	for (i = 0; i < G->p->zones.n; i++) {
		const struct lab_zone_conn *c = &G->p->zones.c[i];
		size_t gf = G->group_of[c->from], gt = G->group_of[c->to];
		struct bundle *b = NULL;

		for (j = 0; j < G->nb; j++)
			if (G->b[j].zone == c->zone &&
			    G->b[j].service == (enum pol_service)c->service &&
			    G->b[j].from == gf && G->b[j].to == gt)
				b = &G->b[j];
		if (b == NULL) {
			if (G->nb == sizeof(G->b) / sizeof(G->b[0]))
				continue;
			b = &G->b[G->nb++];
			memset(b, 0, sizeof(*b));
			b->zone = c->zone;
			b->service = (enum pol_service)c->service;
			b->from = gf;
			b->to = gt;
		}
		b->total++;
		if (c->d.state == LAB_DIR_OK)
			b->ok++;
		else if (b->first_bad == NULL ||
			 (b->first_bad->d.state != LAB_DIR_REJECTED &&
			  c->d.state == LAB_DIR_REJECTED))
			b->first_bad = c;
	}
	/* Bundles between the same two groups (either way) sit side by
	 * side. */
	for (i = 0; i < G->nb; i++) {
		struct bundle *b = &G->b[i];

		for (j = 0; j < G->nb; j++) {
			const struct bundle *o = &G->b[j];
			bool same = (o->from == b->from && o->to == b->to) ||
				    (o->from == b->to && o->to == b->from);

			if (!same)
				continue;
			b->m++;
			if (j < i)
				b->k++;
		}
	}
}

/* ---- layout ---- */

static double cluster_radius(size_t k)
{
	return k <= 1 ? 0 : 45 + 38 * (double)k;
}

/* A group's title, as the SVG writes it. */
static void group_title(const struct topo *t, const struct group *g, char *buf,
			size_t len)
{
	if (g->external) {
		const struct topo_external *x = &t->externals[g->index];

		snprintf(buf, len, "external %s (%s)", x->name,
			 pol_kind_name(x->kind));
	} else {
		const struct topo_cluster *c = &t->clusters[g->index];

		snprintf(buf, len,
			 "cluster %s (Expressway-%s): verify %s, dial %s, link "
			 "%s",
			 c->name, c->role == TOPO_ROLE_C ? "C" : "E",
			 pol_mode_name(c->verify), topo_dial_name(c->dial),
			 topo_link_name(c->link));
	}
}

/* The groups in drawing order (clusters, role C first, then E, file
 * order within; then the externals) and each endpoint's group. */
static void assign_groups(struct graph *G)
{
	const struct topo *t = G->t;
	size_t c, e, i, pass;

	G->ng = 0;
	for (pass = 0; pass < 2; pass++)
		for (c = 0; c < t->n_clusters; c++) {
			const struct topo_cluster *cl = &t->clusters[c];

			if ((pass == 0) != (cl->role == TOPO_ROLE_C))
				continue;
			G->g[G->ng].external = false;
			G->g[G->ng].index = c;
			for (i = cl->first; i < cl->first + cl->count; i++)
				G->group_of[i] = G->ng;
			G->ng++;
		}
	for (e = 0; e < t->n_externals; e++) {
		G->g[G->ng].external = true;
		G->g[G->ng].index = e;
		G->group_of[t->n_nodes + e] = G->ng;
		G->ng++;
	}
}

/* Two clusters with another between them in the row: their arrows arc
 * over the row. */
static bool arcs_over(const struct graph *G, const struct bundle *b)
{
	return !G->g[b->from].external && !G->g[b->to].external &&
	       (b->from > b->to ? b->from - b->to : b->to - b->from) > 1;
}

/* Label widths: 12 px bold, about 7.4 px a character. */
#define LABEL_PX 7.4

static void layout(struct graph *G)
{
	const struct topo *t = G->t;
	double x = 40, row0 = 70, row0_h = 0, last = -1e9, label_w = 0;
	char buf[200];
	size_t e, i, k, arc_m = 0;

	for (i = 0; i < G->nb; i++) {
		bundle_label(G, &G->b[i], buf, sizeof(buf));
		if (LABEL_PX * (double)strlen(buf) > label_w)
			label_w = LABEL_PX * (double)strlen(buf);
		if (arcs_over(G, &G->b[i]) && G->b[i].m > arc_m)
			arc_m = G->b[i].m;
	}
	if (arc_m > 0)
		row0 += 60 + 30 * (double)arc_m;
	/* Clusters in a row, far enough apart for the labels between. */
	for (i = 0; i < G->ng; i++) {
		struct group *g = &G->g[i];
		const struct topo_cluster *cl;

		if (g->external)
			continue;
		cl = &t->clusters[g->index];
		group_title(t, g, buf, sizeof(buf));
		g->r = cluster_radius(cl->count);
		g->w = 2 * g->r + NODE_W + 90;
		if (g->w < 30 + 6.8 * (double)strlen(buf))
			g->w = 30 + 6.8 * (double)strlen(buf);
		g->h = 2 * g->r + NODE_H + 80;
		g->x = x;
		g->y = row0;
		x += g->w + (label_w + 60 > 300 ? label_w + 60 : 300);
		if (g->h > row0_h)
			row0_h = g->h;
	}
	G->w = x - (label_w + 60 > 300 ? label_w + 60 : 300) + 40;
	/* Externals below, each under the first cluster it has a zone
	 * with, their centres far enough apart for a label on each side of
	 * their arrows. */
	for (i = 0; i < G->ng; i++) {
		struct group *g = &G->g[i];
		double want = -1, gap = 2 * label_w + 80;

		if (!g->external)
			continue;
		e = g->index;
		for (k = 0; k < t->n_zones && want < 0; k++) {
			const struct topo_zone *z = &t->zones[k];
			const struct topo_zone_end *other = NULL;
			size_t j;

			if (z->a.external && z->a.index == e)
				other = &z->b;
			else if (z->b.external && z->b.index == e)
				other = &z->a;
			if (other != NULL && !other->external)
				for (j = 0; j < G->ng; j++)
					if (!G->g[j].external &&
					    G->g[j].index == other->index)
						want =
						    G->g[j].x + G->g[j].w / 2;
		}
		group_title(t, g, buf, sizeof(buf));
		g->r = 0;
		g->w = NODE_W + 60;
		if (g->w < 30 + 6.8 * (double)strlen(buf))
			g->w = 30 + 6.8 * (double)strlen(buf);
		g->h = NODE_H + 80;
		if (gap < g->w + 60)
			gap = g->w + 60;
		if (want < 0)
			want = 40 + g->w / 2;
		if (want < last + gap)
			want = last + gap;
		if (want - g->w / 2 < 40)
			want = 40 + g->w / 2;
		last = want;
		g->x = want - g->w / 2;
		g->y = row0 + row0_h + 170;
		if (g->x + g->w + 40 > G->w)
			G->w = g->x + g->w + 40;
	}
	if (G->w < 900)
		G->w = 900;
	G->h =
	    row0 + row0_h + (t->n_externals > 0 ? 170 + NODE_H + 80 : 0) + 170;
	/* Endpoints: a cluster's nodes on a circle in its box. */
	for (i = 0; i < G->ng; i++) {
		const struct group *g = &G->g[i];
		double cx = g->x + g->w / 2, cy = g->y + 28 + (g->h - 28) / 2;

		if (g->external) {
			G->ex[t->n_nodes + g->index] = cx;
			G->ey[t->n_nodes + g->index] = cy;
			continue;
		}
		{
			const struct topo_cluster *cl = &t->clusters[g->index];

			for (k = 0; k < cl->count; k++) {
				double a = -M_PI / 2 + 2 * M_PI * (double)k /
							   (double)cl->count;

				G->ex[cl->first + k] = cx + g->r * cos(a);
				G->ey[cl->first + k] = cy + g->r * sin(a);
			}
		}
	}
}

/* ---- SVG ---- */

static void xml_text(FILE *f, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
}

static void svg_cluster_dirs(const struct graph *G, FILE *f)
{
	const struct lab_prediction *p = G->p;
	size_t i, j;

	for (i = 0; i < p->n; i++)
		for (j = 0; j < p->n; j++) {
			const struct lab_dir *d = &p->dir[i][j];
			double dx, dy, len, nx, ny, sx, sy, ex, ey, mx, my, lx,
			    ly, t = 0.24;
			bool ok = d->state == LAB_DIR_OK;

			if (i == j || d->state == LAB_DIR_NOT_DIALLED ||
			    !labmodel_same_cluster(p, i, j))
				continue;
			dx = G->ex[j] - G->ex[i];
			dy = G->ey[j] - G->ey[i];
			len = sqrt(dx * dx + dy * dy);
			if (len < 1)
				continue;
			nx = -dy / len;
			ny = dx / len;
			sx = G->ex[i] + dx / len * 76 + nx * 9;
			sy = G->ey[i] + dy / len * 40 + ny * 9;
			ex = G->ex[j] - dx / len * 76 + nx * 9;
			ey = G->ey[j] - dy / len * 40 + ny * 9;
			mx = (sx + ex) / 2 + nx * 40;
			my = (sy + ey) / 2 + ny * 40;
			fprintf(f,
				"<path d=\"M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f\" "
				"stroke=\"%s\" stroke-width=\"%s\" "
				"fill=\"none\"%s marker-end=\"url(#m%s)\">"
				"<title>ClusterDB %s -&gt; %s: %s</title>"
				"</path>\n",
				sx, sy, mx, my, ex, ey, dir_colour(d),
				ok ? "2.5" : "1.8",
				ok ? "" : " stroke-dasharray=\"6,4\"",
				ok			       ? "g"
				: d->state == LAB_DIR_REJECTED ? "r"
							       : "x",
				topo_endpoint_name(G->t, i),
				topo_endpoint_name(G->t, j), dir_word(d));
			if (ok)
				continue;
			lx = (1 - t) * (1 - t) * sx + 2 * (1 - t) * t * mx +
			     t * t * ex + nx * 10;
			ly = (1 - t) * (1 - t) * sy + 2 * (1 - t) * t * my +
			     t * t * ey + ny * 10;
			fprintf(f,
				"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
				"fill=\"%s\" text-anchor=\"middle\" "
				"stroke=\"white\" stroke-width=\"3\" "
				"paint-order=\"stroke\">%s",
				lx, ly, dir_colour(d), dir_word(d));
			if (d->state == LAB_DIR_REJECTED)
				fprintf(f, " (%s rejects)",
					rejecter(G, d, i, j));
			fprintf(f, "</text>\n");
		}
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* One zone bundle's arrow and label. Three shapes: between clusters next
 * to each other in the row, a straight line between their facing sides
 * (bundles 30 px apart, labels above their lines); between clusters with
 * another between them, an arc over the row; between a cluster and an
 * external (rows apart), a vertical line above the external (bundles
 * 30 px apart, labels beside them, outwards). */
static void svg_bundle(const struct graph *G, const struct bundle *b, FILE *f)
{
	const struct group *ga = &G->g[b->from], *gb = &G->g[b->to];
	double off = ((double)b->k - ((double)b->m - 1) / 2) * 30;
	double sx, sy, ex, ey, cx = 0, cy = 0, lx, ly;
	const char *anchor = "middle", *col = bundle_colour(b);
	bool ok = b->ok == b->total, arc = arcs_over(G, b);
	char label[200];

	bundle_label(G, b, label, sizeof(label));
	if (arc) {
		/* Over the row: from the top of one to the top of the
		 * other; the bundles of a pair stacked in height. */
		sx = ga->x + ga->w / 2 + off;
		ex = gb->x + gb->w / 2 + off;
		sy = ga->y;
		ey = gb->y - 2;
		cx = (sx + ex) / 2;
		cy = ga->y - 70 - 30 * (double)b->k;
		lx = cx;
		ly = (sy + ey) / 4 + cy / 2 - 6;
	} else if (ga->y != gb->y) {
		/* Rows apart: vertical, above the external. */
		const struct group *x = ga->external ? ga : gb;
		const struct group *top = ga->y < gb->y ? ga : gb;
		const struct group *bot = top == ga ? gb : ga;
		double vx = x->x + x->w / 2 + off;
		bool left = off < 0;

		vx = clamp(vx, top->x + 16, top->x + top->w - 16);
		vx = clamp(vx, bot->x + 16, bot->x + bot->w - 16);
		sx = ex = vx;
		/* Boxes that share no column (an external with zones to
		 * two clusters): a slanted line from the middles. */
		bool slant = top->x + top->w < bot->x + 16 ||
			     bot->x + bot->w < top->x + 16;

		if (slant) {
			sx = ga->x + ga->w / 2 + off;
			ex = gb->x + gb->w / 2 + off;
		}
		sy = ga == top ? ga->y + ga->h : ga->y;
		ey = gb == top ? gb->y + gb->h + 2 : gb->y - 2;
		if (slant) {
			/* Labels on the line, each at its own distance. */
			double lt = 0.3 + 0.4 * (double)b->k /
					      (double)(b->m > 1 ? b->m - 1 : 1);

			if (ga != top)
				lt = 1 - lt;
			lx = sx + (ex - sx) * lt;
			ly = sy + (ey - sy) * lt - 6;
		} else {
			anchor = left ? "end" : "start";
			lx = vx + (left ? -8 : 8);
			ly =
			    (sy + ey) / 2 + 4 +
			    (left ? -1 : 1) * 16 * floor(fabs(off) / 30 + 0.01);
		}
	} else {
		/* Side by side: between the facing sides. */
		const struct group *l = ga->x < gb->x ? ga : gb;
		const struct group *r = l == ga ? gb : ga;
		double y =
		    clamp(l->y + l->h / 2, r->y + 30, r->y + r->h - 30) + off;

		sx = ga == l ? l->x + l->w : r->x;
		ex = gb == l ? l->x + l->w + 2 : r->x - 2;
		sy = ey = y;
		lx = (sx + ex) / 2;
		ly = y - 6;
	}
	if (arc)
		fprintf(f, "<path d=\"M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f\" ", sx,
			sy, cx, cy, ex, ey);
	else
		fprintf(f, "<path d=\"M%.1f,%.1f L%.1f,%.1f\" ", sx, sy, ex,
			ey);
	fprintf(f,
		"fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s "
		"marker-end=\"url(#M%s)\"><title>zone %s %s -&gt; %s: ",
		col, ok ? "4" : "3", ok ? "" : " stroke-dasharray=\"9,5\"",
		ok					    ? "g"
		: b->first_bad->d.state == LAB_DIR_REJECTED ? "r"
							    : "x",
		pol_service_name(G->t->zones[b->zone].type),
		topo_zone_end_name(G->t, &G->t->zones[b->zone].a),
		topo_zone_end_name(G->t, &G->t->zones[b->zone].b));
	xml_text(f, label);
	fprintf(f,
		"</title></path>\n<text x=\"%.1f\" y=\"%.1f\" "
		"font-size=\"12\" font-weight=\"bold\" fill=\"%s\" "
		"text-anchor=\"%s\" stroke=\"white\" stroke-width=\"4\" "
		"paint-order=\"stroke\">",
		lx, ly, col, anchor);
	xml_text(f, label);
	fprintf(f, "</text>\n");
}

static void svg_bundles(const struct graph *G, FILE *f)
{
	size_t i;

	for (i = 0; i < G->nb; i++)
		svg_bundle(G, &G->b[i], f);
}

static void svg_groups(const struct graph *G, FILE *f)
{
	const struct topo *t = G->t;
	size_t i;

	for (i = 0; i < G->ng; i++) {
		const struct group *g = &G->g[i];
		char title[200];

		group_title(t, g, title, sizeof(title));
		fprintf(f,
			"<g class=\"%s\"><rect x=\"%.1f\" y=\"%.1f\" "
			"width=\"%.1f\" height=\"%.1f\" rx=\"16\" "
			"fill=\"%s\" stroke=\"%s\" "
			"stroke-dasharray=\"8,5\"/>\n<text x=\"%.1f\" "
			"y=\"%.1f\" font-size=\"12\" fill=\"#5a6b80\">",
			g->external ? "external" : "cluster", g->x, g->y, g->w,
			g->h, g->external ? "#fbf7f2" : "#f4f7fb",
			g->external ? "#b8a48a" : "#9aa7b8", g->x + 12,
			g->y + 20);
		xml_text(f, title);
		fprintf(f, "</text></g>\n");
	}
}

static void svg_endpoints(const struct graph *G, FILE *f)
{
	const struct topo *t = G->t;
	const struct lab_state *s = G->s;
	size_t e, n = topo_endpoints(t);

	for (e = 0; e < n; e++) {
		const struct topo_external *x = topo_endpoint_external(t, e);
		const struct lab_node_state *ns = &s->nodes[e];
		bool prim = x == NULL && labmodel_is_primary(G->p, e);
		bool run = ep_running(s, e);
		char c1[64], l2[96], l3[96];
		double cx = G->ex[e], cy = G->ey[e];

		cert_label(&ns->cert, c1, sizeof(c1));
		if (x != NULL) {
			snprintf(l2, sizeof(l2), "%s, %s clientAuth",
				 pol_kind_name(x->kind),
				 ns->client_eku_check ? "checks" : "skips");
			snprintf(l3, sizeof(l3), "%s, %s", c1,
				 pol_mode_name(ns->verify));
		} else {
			snprintf(l2, sizeof(l2), "%s%s", ns->version,
				 prim ? " (primary)" : "");
			snprintf(l3, sizeof(l3), "%s, %s", c1,
				 pol_mode_name(ns->verify));
		}
		fprintf(f,
			"<g class=\"node\"><rect x=\"%.1f\" y=\"%.1f\" "
			"width=\"%.0f\" height=\"%.0f\" rx=\"10\" "
			"fill=\"%s\" stroke=\"#333\" stroke-width=\"%s\"%s/>\n"
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
			"text-anchor=\"middle\" font-weight=\"bold\">%s%s"
			"</text>\n"
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
			"text-anchor=\"middle\">%s</text>\n"
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
			"text-anchor=\"middle\">%s</text></g>\n",
			cx - NODE_W / 2, cy - NODE_H / 2, NODE_W, NODE_H,
			x != NULL ? "#e7e1f5" : version_colour(ns->vclass),
			prim ? "3.5" : "1",
			run ? "" : " stroke-dasharray=\"5,3\" opacity=\"0.6\"",
			cx, cy - 14, topo_endpoint_name(t, e),
			run ? "" : " (stopped)", cx, cy + 6, l2, cx, cy + 24,
			l3);
	}
}

static void svg_legend(const struct graph *G, FILE *f)
{
	double ly = G->h - 130;

	fprintf(f,
		"<g class=\"legend\" font-size=\"12\"><rect x=\"20\" "
		"y=\"%.1f\" width=\"%.1f\" height=\"116\" rx=\"8\" "
		"fill=\"#fafafa\" stroke=\"#ddd\"/>\n",
		ly, G->w - 40);
	fprintf(f,
		"<rect x=\"34\" y=\"%.1f\" width=\"18\" height=\"12\" "
		"fill=\"#f6c38b\" stroke=\"#333\"/><text x=\"58\" "
		"y=\"%.1f\">pre-X15.4</text>"
		"<rect x=\"140\" y=\"%.1f\" width=\"18\" height=\"12\" "
		"fill=\"#9ecae1\" stroke=\"#333\"/><text x=\"164\" "
		"y=\"%.1f\">X15.4</text>"
		"<rect x=\"230\" y=\"%.1f\" width=\"18\" height=\"12\" "
		"fill=\"#a1d99b\" stroke=\"#333\"/><text x=\"254\" "
		"y=\"%.1f\">X15.5</text>"
		"<rect x=\"320\" y=\"%.1f\" width=\"18\" height=\"12\" "
		"fill=\"#e7e1f5\" stroke=\"#333\"/><text x=\"344\" "
		"y=\"%.1f\">external peer</text>"
		"<rect x=\"460\" y=\"%.1f\" width=\"18\" height=\"12\" "
		"fill=\"white\" stroke=\"#333\" stroke-width=\"3.5\"/>"
		"<text x=\"484\" y=\"%.1f\">a cluster's primary</text>"
		"<rect x=\"640\" y=\"%.1f\" width=\"18\" height=\"12\" "
		"fill=\"white\" stroke=\"#333\" stroke-dasharray=\"5,3\"/>"
		"<text x=\"664\" y=\"%.1f\">stopped</text>\n",
		ly + 14, ly + 25, ly + 14, ly + 25, ly + 14, ly + 25, ly + 14,
		ly + 25, ly + 14, ly + 25, ly + 14, ly + 25);
	fprintf(f,
		"<path d=\"M34,%.1f L74,%.1f\" stroke=\"" GREEN
		"\" stroke-width=\"2.5\" marker-end=\"url(#mg)\"/><text "
		"x=\"82\" y=\"%.1f\">ClusterDB connection up (inside a "
		"cluster)</text>"
		"<path d=\"M400,%.1f L440,%.1f\" stroke=\"" RED
		"\" stroke-width=\"1.8\" stroke-dasharray=\"6,4\" "
		"marker-end=\"url(#mr)\"/><text x=\"448\" y=\"%.1f\">refused: "
		"the code and the node that rejects, near the dialling "
		"node</text>\n",
		ly + 48, ly + 48, ly + 52, ly + 48, ly + 48, ly + 52);
	fprintf(f,
		"<path d=\"M34,%.1f L74,%.1f\" stroke=\"" GREEN
		"\" stroke-width=\"4\" marker-end=\"url(#Mg)\"/><text "
		"x=\"82\" y=\"%.1f\">a zone's service between groups: "
		"SERVICE: ok (connections), or the first failure, how many "
		"of how many fail, who rejects</text>\n"
		"<path d=\"M34,%.1f L74,%.1f\" stroke=\"" GREY
		"\" stroke-width=\"1.8\" stroke-dasharray=\"6,4\" "
		"marker-end=\"url(#mx)\"/><text x=\"82\" y=\"%.1f\">not "
		"running or cut; arrows point from the side that dials</text>"
		"</g>\n",
		ly + 74, ly + 74, ly + 78, ly + 100, ly + 100, ly + 104);
}

static void write_svg(struct graph *G, const char *title, FILE *f)
{
	static const struct {
		const char *id, *col;
		int size;
	} mk[] = {{"mg", GREEN, 8}, {"mr", RED, 8}, {"mx", GREY, 8},
		  {"Mg", GREEN, 5}, {"Mr", RED, 5}, {"Mx", GREY, 5}};
	size_t k;

	/* Room for the title (18 px type: about 10 px a character). */
	if (G->w < 40 + 10.0 * (double)strlen(title))
		G->w = 40 + 10.0 * (double)strlen(title);
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"font-family=\"Helvetica,Arial,sans-serif\">\n<title>",
		G->w, G->h, G->w, G->h);
	xml_text(f, title);
	fprintf(f, "</title>\n<defs>\n");
	for (k = 0; k < sizeof(mk) / sizeof(mk[0]); k++)
		fprintf(f,
			"<marker id=\"%s\" viewBox=\"0 0 10 10\" refX=\"10\" "
			"refY=\"5\" markerWidth=\"%d\" markerHeight=\"%d\" "
			"orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" "
			"fill=\"%s\"/></marker>\n",
			mk[k].id, mk[k].size, mk[k].size, mk[k].col);
	fprintf(f, "</defs>\n<rect width=\"100%%\" height=\"100%%\" "
		   "fill=\"white\"/>\n<text x=\"20\" y=\"34\" "
		   "font-size=\"18\">");
	xml_text(f, title);
	fprintf(f, "</text>\n");
	svg_groups(G, f);
	svg_cluster_dirs(G, f);
	svg_bundles(G, f);
	svg_endpoints(G, f);
	svg_legend(G, f);
	fprintf(f, "</svg>\n");
}

/* ---- DOT ---- */

static void dot_label(FILE *f, const struct graph *G, size_t e)
{
	const struct lab_node_state *ns = &G->s->nodes[e];
	const struct topo_external *x = topo_endpoint_external(G->t, e);
	char c1[64];

	cert_label(&ns->cert, c1, sizeof(c1));
	if (x != NULL)
		fprintf(f, "%s\\n%s\\n%s, verify %s",
			topo_endpoint_name(G->t, e), pol_kind_name(x->kind), c1,
			pol_mode_name(ns->verify));
	else
		fprintf(f, "%s\\n%s%s\\n%s, %s", topo_endpoint_name(G->t, e),
			ns->version,
			labmodel_is_primary(G->p, e) ? " (primary)" : "", c1,
			pol_mode_name(ns->verify));
}

static void write_dot(const struct graph *G, const char *title, FILE *f)
{
	const struct topo *t = G->t;
	size_t i, j, e;

	fprintf(f,
		"digraph \"%s\" {\n  compound=true;\n  rankdir=LR;\n"
		"  labelloc=t;\n  label=\"",
		t->name);
	for (const char *c = title; *c != '\0'; c++)
		fputs(*c == '"' ? "\\\"" : (char[2]){*c, 0}, f);
	fprintf(f, "\";\n  node [shape=box, style=\"rounded,filled\", "
		   "fontname=\"Helvetica\"];\n");
	for (i = 0; i < G->ng; i++) {
		const struct group *g = &G->g[i];

		if (g->external) {
			const struct topo_external *x = &t->externals[g->index];

			fprintf(
			    f,
			    "  subgraph cluster_g%zu {\n    label=\"external "
			    "%s (%s)\";\n    style=\"rounded,dashed\";\n",
			    i, x->name, pol_kind_name(x->kind));
		} else {
			const struct topo_cluster *c = &t->clusters[g->index];

			fprintf(
			    f,
			    "  subgraph cluster_g%zu {\n    label=\"cluster "
			    "%s (Expressway-%s), verify %s\";\n    "
			    "style=\"rounded,dashed\";\n",
			    i, c->name, c->role == TOPO_ROLE_C ? "C" : "E",
			    pol_mode_name(c->verify));
		}
		for (e = 0; e < topo_endpoints(t); e++) {
			if (G->group_of[e] != i)
				continue;
			fprintf(f, "    e%zu [label=\"", e);
			dot_label(f, G, e);
			fprintf(f, "\", fillcolor=\"%s\"%s%s];\n",
				topo_endpoint_external(t, e) != NULL
				    ? "#e7e1f5"
				    : version_colour(G->s->nodes[e].vclass),
				e < t->n_nodes && labmodel_is_primary(G->p, e)
				    ? ", penwidth=3"
				    : "",
				ep_running(G->s, e)
				    ? ""
				    : ", style=\"rounded,filled,dashed\"");
		}
		fprintf(f, "  }\n");
	}
	for (i = 0; i < G->p->n; i++)
		for (j = 0; j < G->p->n; j++) {
			const struct lab_dir *d = &G->p->dir[i][j];

			if (i == j || d->state == LAB_DIR_NOT_DIALLED ||
			    !labmodel_same_cluster(G->p, i, j))
				continue;
			fprintf(
			    f,
			    "  e%zu -> e%zu [color=\"%s\", fontcolor=\"%s\", "
			    "label=\"%s\"%s];\n",
			    i, j, dir_colour(d), dir_colour(d),
			    d->state == LAB_DIR_OK ? "" : dir_word(d),
			    d->state == LAB_DIR_OK ? ", penwidth=2"
						   : ", style=dashed");
		}
	for (i = 0; i < G->nb; i++) {
		const struct bundle *b = &G->b[i];
		char label[200];
		size_t ea = 0, eb = 0;

		for (e = topo_endpoints(t); e-- > 0;) {
			if (G->group_of[e] == b->from)
				ea = e;
			if (G->group_of[e] == b->to)
				eb = e;
		}
		bundle_label(G, b, label, sizeof(label));
		fprintf(
		    f,
		    "  e%zu -> e%zu [ltail=cluster_g%zu, lhead=cluster_g%zu, "
		    "color=\"%s\", fontcolor=\"%s\", penwidth=3, "
		    "label=\"%s\"%s];\n",
		    ea, eb, b->from, b->to, bundle_colour(b), bundle_colour(b),
		    label, b->ok == b->total ? "" : ", style=dashed");
	}
	fprintf(f, "}\n");
}

/* ---- Mermaid ---- */

static void write_mermaid(const struct graph *G, const char *title, FILE *f)
{
	const struct topo *t = G->t;
	size_t i, j, e;
	int k = 0;

	fprintf(f, "---\ntitle: \"");
	for (const char *c = title; *c != '\0'; c++)
		fputs(*c == '"' ? "'" : (char[2]){*c, 0}, f);
	fprintf(f, "\"\n---\nflowchart LR\n");
	for (i = 0; i < G->ng; i++) {
		const struct group *g = &G->g[i];

		if (g->external)
			fprintf(f, "  subgraph g%zu[\"external %s\"]\n", i,
				t->externals[g->index].name);
		else
			fprintf(f,
				"  subgraph g%zu[\"cluster %s "
				"(Expressway-%s), verify %s\"]\n",
				i, t->clusters[g->index].name,
				t->clusters[g->index].role == TOPO_ROLE_C ? "C"
									  : "E",
				pol_mode_name(t->clusters[g->index].verify));
		for (e = 0; e < topo_endpoints(t); e++) {
			const struct lab_node_state *ns = &G->s->nodes[e];
			const struct topo_external *x =
			    topo_endpoint_external(t, e);
			char c1[64];

			if (G->group_of[e] != i)
				continue;
			cert_label(&ns->cert, c1, sizeof(c1));
			if (x != NULL)
				fprintf(
				    f,
				    "    e%zu[\"%s<br/>%s<br/>%s\"]:::ext%s\n",
				    e, x->name, pol_kind_name(x->kind), c1,
				    ep_running(G->s, e) ? "" : "_stopped");
			else
				fprintf(
				    f,
				    "    e%zu[\"%s<br/>%s<br/>%s%s\"]:::%s%s\n",
				    e, topo_endpoint_name(t, e), ns->version,
				    c1,
				    labmodel_is_primary(G->p, e)
					? "<br/>(primary)"
					: "",
				    vclass_css(ns->vclass),
				    ep_running(G->s, e) ? "" : "_stopped");
		}
		fprintf(f, "  end\n");
	}
	for (i = 0; i < G->p->n; i++)
		for (j = 0; j < G->p->n; j++) {
			const struct lab_dir *d = &G->p->dir[i][j];

			if (i == j || d->state == LAB_DIR_NOT_DIALLED ||
			    !labmodel_same_cluster(G->p, i, j))
				continue;
			fprintf(f, "  e%zu %s|%s| e%zu\n", i,
				d->state == LAB_DIR_OK ? "==>" : "-.->",
				dir_word(d), j);
			fprintf(f, "  linkStyle %d stroke:%s,color:%s\n", k++,
				dir_colour(d), dir_colour(d));
		}
	for (i = 0; i < G->nb; i++) {
		const struct bundle *b = &G->b[i];
		char label[200];

		bundle_label(G, b, label, sizeof(label));
		fprintf(f, "  g%zu %s|\"%s\"| g%zu\n", b->from,
			b->ok == b->total ? "==>" : "-.->", label, b->to);
		fprintf(f,
			"  linkStyle %d stroke:%s,color:%s,stroke-width:3px\n",
			k++, bundle_colour(b), bundle_colour(b));
	}
	fprintf(f, "  classDef pre154 fill:#f6c38b,stroke:#333\n"
		   "  classDef x154 fill:#9ecae1,stroke:#333\n"
		   "  classDef x155 fill:#a1d99b,stroke:#333\n"
		   "  classDef ext fill:#e7e1f5,stroke:#333\n"
		   "  classDef pre154_stopped fill:#f6c38b,stroke:#333,"
		   "stroke-dasharray:4\n"
		   "  classDef x154_stopped fill:#9ecae1,stroke:#333,"
		   "stroke-dasharray:4\n"
		   "  classDef x155_stopped fill:#a1d99b,stroke:#333,"
		   "stroke-dasharray:4\n"
		   "  classDef ext_stopped fill:#e7e1f5,stroke:#333,"
		   "stroke-dasharray:4\n");
}

void lab_graph_write(const struct lab_state *s, const struct lab_prediction *p,
		     const char *title, enum lab_graph_format fmt, FILE *f)
{
	struct graph *G = ekl_calloc(1, sizeof(*G));

	if (G == NULL)
		return;
	G->s = s;
	G->p = p;
	G->t = s->topo;
	assign_groups(G);
	collect_bundles(G);
	layout(G);
	if (fmt == LAB_GRAPH_SVG)
		write_svg(G, title, f);
	else if (fmt == LAB_GRAPH_DOT)
		write_dot(G, title, f);
	else
		write_mermaid(G, title, f);
	ekl_free(G);
}

/* ---- lab graph FILE ---- */

/* Does the document's top-level mapping have a `steps` key (a plan)? */
static int find_steps(void *arg, yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	yaml_node_pair_t *pr;

	if (root == NULL || root->type != YAML_MAPPING_NODE)
		return 0;
	for (pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(doc, pr->key);

		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, "steps") == 0)
			*(bool *)arg = true;
	}
	return 0;
}

/* Is a lab of this topology up? (Then `lab graph` draws it as observed.) */
static bool lab_is_up(const char *path, const char *state)
{
	char err[EKL_ERRLEN];
	struct lab l;
	bool up = false;

	if (lab_open(&l, path, state, err) != 0)
		return false;
	up = lab_load(&l, err) == 0 && !lab_up_failed(&l);
	lab_close(&l);
	return up;
}

static int write_all(const struct lab_state *s, const struct lab_prediction *p,
		     const char *title, const struct lab_graph_opts *o)
{
	const char *paths[3] = {o->dot, o->svg, o->mermaid};
	static const enum lab_graph_format fmts[3] = {
	    LAB_GRAPH_DOT, LAB_GRAPH_SVG, LAB_GRAPH_MERMAID};
	int k, rv = 0;

	if (o->dot == NULL && o->svg == NULL && o->mermaid == NULL) {
		lab_graph_write(s, p, title, LAB_GRAPH_DOT, stdout);
		return 0;
	}
	for (k = 0; k < 3; k++) {
		bool out = paths[k] != NULL && strcmp(paths[k], "-") == 0;
		FILE *f;

		if (paths[k] == NULL)
			continue;
		f = out ? stdout : fopen(paths[k], "w");
		if (f == NULL) {
			fprintf(stderr, "ekulab: lab graph: %s: %s\n", paths[k],
				strerror(errno));
			rv = 1;
			continue;
		}
		lab_graph_write(s, p, title, fmts[k], f);
		if (!out) {
			if (fclose(f) != 0) {
				fprintf(stderr, "ekulab: lab graph: %s: %s\n",
					paths[k], strerror(errno));
				rv = 1;
			} else {
				fprintf(stderr, "wrote %s\n", paths[k]);
			}
		}
	}
	return rv;
}

static int graph_plan(const char *path, const struct lab_graph_opts *o)
{
	char err[EKL_ERRLEN], title[PLAN_TEXT_MAX + 300];
	struct lab_prediction *pred = NULL;
	struct plan_sim *sim = NULL;
	struct plan p;
	long step = o->step < 0 ? 0 : o->step, i;
	const char *base =
	    strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	int rv;

	if ((rv = plan_load(path, &p, err)) != 0) {
		fprintf(stderr, "ekulab: lab graph: %s\n", err);
		return 2;
	}
	if (step > (long)p.n_steps) {
		fprintf(stderr,
			"ekulab: lab graph: --step %ld: plan %s has %zu "
			"steps; give 0 (before the first) to %zu\n",
			step, path, p.n_steps, p.n_steps);
		plan_free(&p);
		return 2;
	}
	sim = ekl_calloc(1, sizeof(*sim));
	pred = ekl_calloc(1, sizeof(*pred));
	rv = sim == NULL || pred == NULL ? EKL_ENOMEM : 0;
	if (rv == 0) {
		plan_sim_init(sim, &p, 0);
		rv = plan_sim_load_files(sim, NULL, err);
	}
	for (i = 0; rv == 0 && i < step; i++)
		rv = plan_apply(sim, &p.steps[i], err);
	if (rv == 0)
		rv = labmodel_predict(&sim->lab, pred, err);
	if (rv != 0) {
		fprintf(stderr, "ekulab: lab graph: %s: %s\n", path,
			rv == EKL_ENOMEM ? "out of memory" : err);
		rv = 2;
	} else {
		if (step == 0)
			snprintf(title, sizeof(title),
				 "plan %s: %s before its first step "
				 "(the model's prediction)",
				 base, p.topo.name);
		else
			snprintf(title, sizeof(title),
				 "plan %s: %s after step %ld (%s), the model's "
				 "prediction",
				 base, p.topo.name, step,
				 p.steps[step - 1].text);
		rv = write_all(&sim->lab, pred, title, o);
	}
	if (sim != NULL)
		plan_sim_free(sim);
	ekl_free(sim);
	ekl_free(pred);
	plan_free(&p);
	return rv;
}

static int graph_topology(const char *path, const struct lab_graph_opts *o)
{
	char err[EKL_ERRLEN], title[400];
	struct lab_prediction *pred = NULL;
	struct lab_state *st = NULL;
	struct topo t;
	int rv;

	if (topo_load(path, &t, err) != 0) {
		if (o->step >= 0) {
			fprintf(stderr, "ekulab: lab graph: %s\n", err);
			return 2;
		}
		return -1; /* the caller says what is wrong */
	}
	if (o->step >= 0) {
		fprintf(stderr,
			"ekulab: lab graph: --step takes a plan (a file with "
			"steps:); %s is a topology\n",
			path);
		topo_free(&t);
		return 2;
	}
	if (!topo_is_deployment(&t) || lab_is_up(path, o->state)) {
		topo_free(&t);
		return -1;
	}
	fprintf(stderr,
		"ekulab: lab graph: %s is not up: drawing the model's "
		"prediction for %s\n",
		t.name, path);
	st = ekl_calloc(1, sizeof(*st));
	pred = ekl_calloc(1, sizeof(*pred));
	rv = st == NULL || pred == NULL ? EKL_ENOMEM : 0;
	if (rv == 0) {
		labmodel_init(st, &t, 0);
		rv = labmodel_load_files(st, NULL, err);
	}
	if (rv == 0)
		rv = labmodel_predict(st, pred, err);
	if (rv != 0) {
		fprintf(stderr, "ekulab: lab graph: %s: %s\n", path,
			rv == EKL_ENOMEM ? "out of memory" : err);
		rv = 2;
	} else {
		snprintf(title, sizeof(title),
			 "deployment %s: the model's prediction (the lab is "
			 "not up)",
			 t.name);
		rv = write_all(st, pred, title, o);
	}
	if (st != NULL)
		labmodel_free(st);
	ekl_free(st);
	ekl_free(pred);
	topo_free(&t);
	return rv;
}

int lab_graph_offline(const char *path, const struct lab_graph_opts *o)
{
	char err[EKL_ERRLEN];
	struct stat sb;
	bool plan = false;

	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		if (o->step >= 0) {
			fprintf(stderr,
				"ekulab: lab graph: --step takes a plan file; "
				"%s is none\n",
				path);
			return 2;
		}
		return -1; /* a lab's name */
	}
	if (yamlfile_load(path, "file", find_steps, &plan, err) != 0)
		return -1; /* the caller's reading says what is wrong */
	return plan ? graph_plan(path, o) : graph_topology(path, o);
}
