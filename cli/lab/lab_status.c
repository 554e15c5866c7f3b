/* lab_status.c: the link matrix and replication of a running lab, as
 * text, JSON, DOT and SVG. */
#include "lab_status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/mem.h"
#include "lab_runtime.h"

/* What node i said about itself and its peers. */
static void fill(const struct lab *l, struct lab_node_status *ns,
		 const struct node_status *st)
{
	size_t k;

	snprintf(ns->primary, sizeof(ns->primary), "%s",
		 st->primary[0] ? st->primary : "-");
	ns->revision = st->revision;
	for (k = 0; k < st->n_peers; k++) {
		const struct node_peer_status *p = &st->peers[k];
		int j = lab_node_index(l, p->name);
		struct lab_peer_status *o;

		if (j < 0)
			continue;
		o = &ns->peers[j];
		o->link_up = p->link_up;
		memcpy(o->out, p->out, sizeof(o->out));
		memcpy(o->in, p->in, sizeof(o->in));
		memcpy(o->repl, p->repl, sizeof(o->repl));
		memcpy(o->reason, p->reason, sizeof(o->reason));
		o->applied = p->applied;
		o->lag = p->lag;
	}
}

static bool is_paused(const struct lab *l, size_t i)
{
	int k;

	for (k = 0; k < l->n_faults; k++)
		if (strcmp(l->faults[k].kind, "pause") == 0 &&
		    strcmp(l->faults[k].node, l->nodes[i].name) == 0)
			return true;
	return false;
}

int lab_status_collect(const struct lab *l, struct lab_status *s, char *err)
{
	size_t i, n = l->topo.n_nodes;

	s->n = n;
	s->nodes = ekl_calloc(n, sizeof(*s->nodes));
	if (s->nodes == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		struct lab_node_status *ns = &s->nodes[i];
		struct node_status st;
		char e[EKL_ERRLEN];
		int fd;

		ns->peers = ekl_calloc(n, sizeof(*ns->peers));
		if (ns->peers == NULL)
			return ekl_errf(err, EKL_ENOMEM, "out of memory");
		ns->running = l->rt->node_running(l, (int)i);
		ns->paused = is_paused(l, i);
		ns->revision = -1;
		if (!ns->running || ns->paused)
			continue;
		fd = lab_node_connect(l, (int)i, e);
		if (fd < 0)
			continue;
		if (node_status_get(fd, &st, e) == 0) {
			ns->answers = true;
			fill(l, ns, &st);
		}
		node_status_free(&st);
		close(fd);
	}
	return 0;
}

void lab_status_free(struct lab_status *s)
{
	size_t i;

	for (i = 0; s->nodes != NULL && i < s->n; i++)
		ekl_free(s->nodes[i].peers);
	ekl_free(s->nodes);
	s->nodes = NULL;
}

const char *lab_status_cell(const struct lab *l, const struct lab_status *s,
			    size_t from, size_t to)
{
	size_t n = l->topo.n_nodes;
	const struct lab_node_status *a = &s->nodes[from];

	if (l->route_port[from * n + to] <= 0)
		return "-";
	if (!a->running || !s->nodes[to].running)
		return "stopped";
	if (a->paused || s->nodes[to].paused)
		return "paused";
	if (!a->answers)
		return "?";
	if (strcmp(a->peers[to].out, "up") == 0)
		return "ok";
	if (strcmp(a->peers[to].out, "-") == 0)
		return "pending";
	return a->peers[to].out;
}

bool lab_status_linked(const struct lab_status *s, size_t i, size_t j)
{
	return (s->nodes[i].answers && s->nodes[i].peers[j].link_up) ||
	       (s->nodes[j].answers && s->nodes[j].peers[i].link_up);
}

/* Replication of node i as the primary sees it (or as i sees itself). */
static const struct lab_peer_status *
repl_of(const struct lab *l, const struct lab_status *s, size_t i, int *primary)
{
	*primary = lab_node_index(l, l->topo.primary);
	if (*primary < 0 || (size_t)*primary == i)
		return NULL;
	if (s->nodes[*primary].answers)
		return &s->nodes[*primary].peers[i];
	if (s->nodes[i].answers)
		return &s->nodes[i].peers[*primary];
	return NULL;
}

static void print_text(const struct lab *l, const struct lab_status *s)
{
	size_t i, j, n = l->topo.n_nodes;
	int p;

	printf("lab %s (%s runtime), verify %s, primary %s, dial %s\n\n",
	       l->topo.name, l->rt->name, pol_mode_name(l->topo.verify),
	       l->topo.primary, topo_dial_name(l->topo.dial));
	printf("connections (row dials column: ok, or why it fails)\n%-14s",
	       "");
	for (j = 0; j < n; j++)
		printf(" %-15s", l->nodes[j].name);
	printf("\n");
	for (i = 0; i < n; i++) {
		printf("%-14s", l->nodes[i].name);
		for (j = 0; j < n; j++)
			printf(" %-15s",
			       i == j ? "" : lab_status_cell(l, s, i, j));
		printf("\n");
	}
	printf("\n%-14s %-8s %-13s %-9s %-26s %-10s %s\n", "node", "version",
	       "certificate", "process", "replication", "revision", "lag");
	for (i = 0; i < n; i++) {
		const struct lab_node_status *ns = &s->nodes[i];
		const struct lab_peer_status *r = repl_of(l, s, i, &p);
		char cert[40], state[96];

		snprintf(cert, sizeof(cert), "%s/%s",
			 pki_profile_name(l->nodes[i].profile),
			 l->nodes[i].ca == PKI_CA_UNRESTRICTED	? "u"
			 : l->nodes[i].ca == PKI_CA_SERVER_ONLY ? "so"
								: "c");
		if (p >= 0 && (size_t)p == i)
			snprintf(state, sizeof(state), "primary");
		else if (r == NULL)
			snprintf(state, sizeof(state), "unknown");
		else if (strcmp(r->reason, "-") != 0)
			snprintf(state, sizeof(state), "%s (%s)", r->repl,
				 r->reason);
		else
			snprintf(state, sizeof(state), "%s", r->repl);
		char rev[24], lag[24];

		snprintf(rev, sizeof(rev), "%lld", (long long)ns->revision);
		snprintf(lag, sizeof(lag), "%lld",
			 r != NULL ? (long long)r->lag : 0LL);
		printf("%-14s %-8s %-13s %-9s %-26s %-10s %s\n",
		       l->nodes[i].name, l->nodes[i].version, cert,
		       !ns->running ? "stopped"
		       : ns->paused ? "paused"
				    : "running",
		       state, ns->revision >= 0 ? rev : "-",
		       r != NULL && ns->revision >= 0 ? lag : "-");
	}
}

static void print_json(const struct lab *l, const struct lab_status *s)
{
	size_t i, j, n = l->topo.n_nodes;
	struct json js;
	int p;

	json_init(&js);
	json_obj_begin(&js);
	json_key(&js, "lab");
	json_str(&js, l->topo.name);
	json_key(&js, "runtime");
	json_str(&js, l->rt->name);
	json_key(&js, "primary");
	json_str(&js, l->topo.primary);
	json_key(&js, "links");
	json_arr_begin(&js);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			const char *c;

			if (i == j || l->route_port[i * n + j] <= 0)
				continue;
			c = lab_status_cell(l, s, i, j);
			json_obj_begin(&js);
			json_key(&js, "from");
			json_str(&js, l->nodes[i].name);
			json_key(&js, "to");
			json_str(&js, l->nodes[j].name);
			json_key(&js, "state");
			json_str(&js, strcmp(c, "ok") == 0 ? "up" : "down");
			json_key(&js, "code");
			json_str(&js, strcmp(c, "ok") == 0 ? NULL : c);
			json_obj_end(&js);
		}
	json_arr_end(&js);
	json_key(&js, "pairs");
	json_arr_begin(&js);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++) {
			json_obj_begin(&js);
			json_key(&js, "nodes");
			json_arr_begin(&js);
			json_str(&js, l->nodes[i].name);
			json_str(&js, l->nodes[j].name);
			json_arr_end(&js);
			json_key(&js, "linked");
			json_bool(&js, lab_status_linked(s, i, j));
			json_obj_end(&js);
		}
	json_arr_end(&js);
	json_key(&js, "nodes");
	json_arr_begin(&js);
	for (i = 0; i < n; i++) {
		const struct lab_node_status *ns = &s->nodes[i];
		const struct lab_peer_status *r = repl_of(l, s, i, &p);

		json_obj_begin(&js);
		json_key(&js, "name");
		json_str(&js, l->nodes[i].name);
		json_key(&js, "version");
		json_str(&js, l->nodes[i].version);
		json_key(&js, "certificate");
		json_str(&js, pki_profile_name(l->nodes[i].profile));
		json_key(&js, "ca");
		json_str(&js, pki_ca_name(l->nodes[i].ca));
		json_key(&js, "verify");
		json_str(&js, pol_mode_name(l->nodes[i].verify));
		json_key(&js, "process");
		json_str(&js, !ns->running ? "stopped"
			      : ns->paused ? "paused"
					   : "running");
		json_key(&js, "revision");
		json_int(&js, ns->revision);
		json_key(&js, "replication");
		if (p >= 0 && (size_t)p == i) {
			json_str(&js, "primary");
		} else if (r == NULL) {
			json_null(&js);
		} else {
			json_obj_begin(&js);
			json_key(&js, "state");
			json_str(&js, r->repl);
			json_key(&js, "reason");
			json_str(&js,
				 strcmp(r->reason, "-") ? r->reason : NULL);
			json_key(&js, "applied_revision");
			json_int(&js, r->applied);
			json_key(&js, "lag");
			json_int(&js, r->lag);
			json_obj_end(&js);
		}
		json_obj_end(&js);
	}
	json_arr_end(&js);
	json_obj_end(&js);
	if (json_finish(&js) != NULL)
		puts(json_finish(&js));
	json_close(&js);
}

void lab_status_print(const struct lab *l, const struct lab_status *s,
		      bool json)
{
	if (json)
		print_json(l, s);
	else
		print_text(l, s);
}

/* A colour per version class, as graph nodes. */
static const char *version_colour(const char *version)
{
	enum pol_vclass v;

	if (pol_version_parse(version, &v) != 0)
		return "#dddddd";
	switch (v) {
	case POL_V_PRE154: return "#f6c38b";
	case POL_V_X154: return "#9ecae1";
	case POL_V_X155: return "#a1d99b";
	}
	return "#dddddd";
}

static const char *edge_colour(const char *cell)
{
	if (strcmp(cell, "ok") == 0)
		return "#2ca02c";
	if (strcmp(cell, "stopped") == 0 || strcmp(cell, "paused") == 0 ||
	    strcmp(cell, "pending") == 0 || strcmp(cell, "?") == 0)
		return "#999999";
	return "#d62728";
}

void lab_status_dot(const struct lab *l, const struct lab_status *s, FILE *f)
{
	size_t i, j, n = l->topo.n_nodes;

	fprintf(f,
		"digraph \"%s\" {\n  rankdir=LR;\n  node [shape=box, "
		"style=\"rounded,filled\", fontname=\"Helvetica\"];\n",
		l->topo.name);
	for (i = 0; i < n; i++)
		fprintf(f,
			"  \"%s\" [label=\"%s\\n%s\\n%s/%s%s\", "
			"fillcolor=\"%s\"%s];\n",
			l->nodes[i].name, l->nodes[i].name, l->nodes[i].version,
			pki_profile_name(l->nodes[i].profile),
			pki_ca_name(l->nodes[i].ca),
			strcasecmp(l->nodes[i].name, l->topo.primary) == 0
			    ? "\\n(primary)"
			    : "",
			version_colour(l->nodes[i].version),
			s->nodes[i].running ? ""
					    : ", style=\"rounded,dashed\"");
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			const char *c;

			if (i == j || l->route_port[i * n + j] <= 0)
				continue;
			c = lab_status_cell(l, s, i, j);
			fprintf(f,
				"  \"%s\" -> \"%s\" [color=\"%s\", "
				"fontcolor=\"%s\", label=\"%s\"%s];\n",
				l->nodes[i].name, l->nodes[j].name,
				edge_colour(c), edge_colour(c),
				strcmp(c, "ok") == 0 ? "" : c,
				strcmp(c, "ok") == 0 ? ", penwidth=2"
						     : ", style=dashed");
		}
	fprintf(f, "}\n");
}

/* A self-contained SVG: nodes on a circle, one curved arrow per directed
 * connection (so A->B and B->A do not overlap), coloured by state and
 * labelled with the failure code. */
void lab_status_svg(const struct lab *l, const struct lab_status *s, FILE *f)
{
	size_t i, j, n = l->topo.n_nodes;
	double cx = 420, cy = 330, rad = n > 1 ? 220 : 0;
	double *x = calloc(n, sizeof(double)), *y = calloc(n, sizeof(double));

	if (x == NULL || y == NULL) {
		free(x);
		free(y);
		return;
	}
	for (i = 0; i < n; i++) {
		double a = -M_PI / 2 + 2 * M_PI * (double)i / (double)n;

		x[i] = cx + rad * cos(a);
		y[i] = cy + rad * sin(a);
	}
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"840\" "
		"height=\"700\" font-family=\"Helvetica,Arial,sans-serif\">\n"
		"<title>ekulab lab %s</title>\n"
		"<defs>\n",
		l->topo.name);
	{
		static const char *const cols[] = {"#2ca02c", "#d62728",
						   "#999999"};
		size_t k;

		for (k = 0; k < 3; k++)
			fprintf(f,
				"<marker id=\"m%zu\" viewBox=\"0 0 10 10\" "
				"refX=\"10\" refY=\"5\" markerWidth=\"8\" "
				"markerHeight=\"8\" orient=\"auto\"><path "
				"d=\"M0,0 L10,5 L0,10 z\" fill=\"%s\"/>"
				"</marker>\n",
				k, cols[k]);
	}
	fprintf(f, "</defs>\n<rect width=\"100%%\" height=\"100%%\" "
		   "fill=\"white\"/>\n");
	fprintf(f,
		"<text x=\"20\" y=\"30\" font-size=\"18\">lab %s: verify "
		"%s, primary %s</text>\n",
		l->topo.name, pol_mode_name(l->topo.verify), l->topo.primary);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			const char *c, *col;
			double dx, dy, len, mx, my, nx, ny, sx, sy, ex, ey;
			int m;

			if (i == j || l->route_port[i * n + j] <= 0)
				continue;
			c = lab_status_cell(l, s, i, j);
			col = edge_colour(c);
			m = strcmp(col, "#2ca02c") == 0	  ? 0
			    : strcmp(col, "#d62728") == 0 ? 1
							  : 2;
			dx = x[j] - x[i];
			dy = y[j] - y[i];
			len = sqrt(dx * dx + dy * dy);
			nx = -dy / len;
			ny = dx / len;
			/* Start and end at the node boxes' edge. */
			sx = x[i] + dx / len * 60;
			sy = y[i] + dy / len * 30;
			ex = x[j] - dx / len * 60;
			ey = y[j] - dy / len * 30;
			mx = (sx + ex) / 2 + nx * 30;
			my = (sy + ey) / 2 + ny * 30;
			fprintf(f,
				"<path d=\"M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f\" "
				"stroke=\"%s\" stroke-width=\"%s\" "
				"fill=\"none\"%s marker-end=\"url(#m%d)\"/>\n",
				sx, sy, mx, my, ex, ey, col,
				m == 0 ? "2.5" : "1.5",
				m == 0 ? "" : " stroke-dasharray=\"6,4\"", m);
			if (m != 0)
				fprintf(f,
					"<text x=\"%.1f\" y=\"%.1f\" "
					"font-size=\"12\" fill=\"%s\" "
					"text-anchor=\"middle\">%s</text>\n",
					mx, my, col, c);
		}
	for (i = 0; i < n; i++)
		fprintf(
		    f,
		    "<g><rect x=\"%.1f\" y=\"%.1f\" width=\"120\" "
		    "height=\"60\" rx=\"10\" fill=\"%s\" stroke=\"#333\" "
		    "stroke-width=\"%s\"%s/>\n"
		    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
		    "text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n"
		    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
		    "text-anchor=\"middle\">%s %s</text>\n"
		    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
		    "text-anchor=\"middle\">%s</text></g>\n",
		    x[i] - 60, y[i] - 30, version_colour(l->nodes[i].version),
		    strcasecmp(l->nodes[i].name, l->topo.primary) == 0 ? "3"
								       : "1",
		    s->nodes[i].running ? "" : " stroke-dasharray=\"4,3\"",
		    x[i], y[i] - 10, l->nodes[i].name, x[i], y[i] + 6,
		    l->nodes[i].version,
		    strcasecmp(l->nodes[i].name, l->topo.primary) == 0
			? "(primary)"
			: "",
		    x[i], y[i] + 21, pki_profile_name(l->nodes[i].profile));
	fprintf(f, "<g font-size=\"12\"><text x=\"20\" y=\"670\">versions: "
		   "<tspan fill=\"#c77a1e\">pre-X15.4</tspan>, <tspan "
		   "fill=\"#3d85c6\">X15.4</tspan>, <tspan "
		   "fill=\"#38a33b\">X15.5</tspan>; arrows: green = connection "
		   "up, red dashed = refused (code), grey = not running</text>"
		   "</g>\n</svg>\n");
	free(x);
	free(y);
}
