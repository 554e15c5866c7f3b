/* report_html.c: a plan run as a standalone HTML timeline: one row per
 * step with its time, a small matrix of the directed connections in the
 * colours of `lab graph`, who replicates, and the result; the step where
 * replication breaks and the one where it heals marked, a summary at the
 * top, and a row whose prediction and observation differ flagged. Read
 * from the steps' predicted_json and observed_json (plan check --json's
 * form), so it shows exactly what the JSON report says. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/jsonr.h"
#include "ekulab/core/mem.h"
#include "plan_run.h"

#define COL_OK	 "#2ca02c"
#define COL_BAD	 "#d62728"
#define COL_GREY "#999999"

static void html_text(FILE *f, const char *s)
{
	for (; s != NULL && *s; s++)
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
}

/* One side of a step, parsed (NULL members when the step did not get
 * that far). */
struct side {
	struct jsonr_doc *doc;
	const struct jsonr_value *links;
	const struct jsonr_value *repl;
};

static void side_parse(const char *text, struct side *s)
{
	char err[EKL_ERRLEN];

	memset(s, 0, sizeof(*s));
	if (text == NULL || jsonr_parse(text, strlen(text), &s->doc, err) != 0)
		return;
	s->links = jsonr_get(jsonr_root(s->doc), "links");
	s->repl = jsonr_get(jsonr_root(s->doc), "replication");
}

/* The result of from -> to ("ok", a code, "cut", "not-running", ...), or
 * NULL when the dial mode does not make that connection. */
static const char *dir_result(const struct side *s, const char *from,
			      const char *to)
{
	const struct jsonr_value *l, *d;

	for (l = jsonr_first(s->links); l != NULL; l = l->next)
		for (d = jsonr_first(jsonr_get(l, "directions")); d != NULL;
		     d = d->next) {
			const char *a = jsonr_get_str(d, "from");
			const char *b = jsonr_get_str(d, "to");

			if (a != NULL && b != NULL && strcmp(a, from) == 0 &&
			    strcmp(b, to) == 0) {
				const char *r = jsonr_get_str(d, "result");

				return r != NULL &&
					       strcmp(r, "not-dialled") == 0
					   ? NULL
					   : r;
			}
		}
	return NULL;
}

static const struct jsonr_value *repl_of(const struct side *s, const char *node)
{
	const struct jsonr_value *r;

	for (r = jsonr_first(s->repl); r != NULL; r = r->next) {
		const char *n = jsonr_get_str(r, "node");

		if (n != NULL && strcmp(n, node) == 0)
			return r;
	}
	return NULL;
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Do the two sides give the same result for every direction and the same
 * replication (and reason) for every node? */
static bool sides_agree(const struct side *p, const struct side *o,
			const char *const *names, size_t n)
{
	size_t i, j;

	if (p->doc == NULL || o->doc == NULL)
		return true; /* nothing to compare */
	for (i = 0; i < n; i++) {
		const struct jsonr_value *a = repl_of(p, names[i]);
		const struct jsonr_value *b = repl_of(o, names[i]);
		bool ra = false, rb = false;

		jsonr_get_bool(a, "replicating", &ra);
		jsonr_get_bool(b, "replicating", &rb);
		if (ra != rb || !same_str(jsonr_get_str(a, "reason"),
					  jsonr_get_str(b, "reason")))
			return false;
		for (j = 0; j < n; j++)
			if (i != j &&
			    !same_str(dir_result(p, names[i], names[j]),
				      dir_result(o, names[i], names[j])))
				return false;
	}
	return true;
}

/* Non-primary running nodes that do not replicate; the first one's name
 * and reason into *node, *why. */
static size_t not_replicating(const struct side *s, const char **node,
			      const char **why)
{
	const struct jsonr_value *r;
	size_t n = 0;

	for (r = jsonr_first(s->repl); r != NULL; r = r->next) {
		bool prim = false, run = false, rep = false;

		jsonr_get_bool(r, "primary", &prim);
		jsonr_get_bool(r, "running", &run);
		jsonr_get_bool(r, "replicating", &rep);
		if (prim || !run || rep)
			continue;
		if (n++ == 0) {
			*node = jsonr_get_str(r, "node");
			*why = jsonr_get_str(r, "reason");
		}
	}
	return n;
}

static const char *cell_colour(const char *r)
{
	if (r == NULL)
		return "#ffffff";
	if (strcmp(r, "ok") == 0)
		return COL_OK;
	if (strcmp(r, "cut") == 0 || strcmp(r, "not-running") == 0)
		return COL_GREY;
	return COL_BAD;
}

/* The letter in a cell: nothing for ok, C/S for the purpose codes, the
 * code's first letter otherwise. */
static char cell_letter(const char *r)
{
	if (r == NULL || strcmp(r, "ok") == 0)
		return ' ';
	if (strcmp(r, "client-purpose") == 0)
		return 'C';
	if (strcmp(r, "server-purpose") == 0)
		return 'S';
	if (strcmp(r, "not-running") == 0)
		return '-';
	if (strcmp(r, "cut") == 0)
		return 'x';
	return (char)(r[0] >= 'a' && r[0] <= 'z' ? r[0] - 'a' + 'A' : r[0]);
}

static void print_matrix(FILE *f, const struct side *o, const struct side *p,
			 const char *const *names, size_t n)
{
	size_t i, j;

	fputs("<table class=\"m\">", f);
	for (i = 0; i < n; i++) {
		fputs("<tr>", f);
		for (j = 0; j < n; j++) {
			const char *ro, *rp;

			if (i == j) {
				fputs("<td class=\"self\"></td>", f);
				continue;
			}
			ro = dir_result(o, names[i], names[j]);
			rp = dir_result(p, names[i], names[j]);
			fprintf(f,
				"<td class=\"%s\" style=\"background:%s\" "
				"title=\"",
				same_str(ro, rp) ? "c" : "c diff",
				cell_colour(ro));
			html_text(f, names[i]);
			fputs(" &rarr; ", f);
			html_text(f, names[j]);
			fputs(": ", f);
			html_text(f, ro != NULL ? ro : "not dialled");
			if (!same_str(ro, rp)) {
				fputs(" (predicted ", f);
				html_text(f, rp != NULL ? rp : "not dialled");
				fputs(")", f);
			}
			fprintf(f, "\">%c</td>", cell_letter(ro));
		}
		fputs("</tr>", f);
	}
	fputs("</table>", f);
}

static void print_repl(FILE *f, const struct side *o, const char *const *names,
		       size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct jsonr_value *r = repl_of(o, names[i]);
		bool prim = false, run = false, rep = false;
		const char *why = jsonr_get_str(r, "reason");

		jsonr_get_bool(r, "primary", &prim);
		jsonr_get_bool(r, "running", &run);
		jsonr_get_bool(r, "replicating", &rep);
		fprintf(f, "<span class=\"n %s\" title=\"",
			!run	      ? "stopped"
			: prim || rep ? "rep"
				      : "norep");
		html_text(f, names[i]);
		fputs(prim ? ": the primary" : !run ? ": not running" : "", f);
		if (!prim && run) {
			fputs(rep ? ": replicating" : ": not replicating (", f);
			if (!rep) {
				html_text(f, why != NULL ? why : "?");
				fputs(")", f);
			}
		}
		fputs("\">", f);
		html_text(f, names[i]);
		fputs(prim ? " &#9733;" : "", f);
		fputs("</span> ", f);
	}
}

/* A deployment: each cluster's writer on its own, as the summary lists
 * them (one cluster: the totals say it all). */
static void html_cluster_writes(const struct plan_run_writes *w, FILE *f)
{
	size_t k;

	if (w->n_clusters < 2)
		return;
	fputs("<ul class=\"writers\">\n", f);
	for (k = 0; k < w->n_clusters; k++) {
		const struct plan_run_cluster_writes *c = &w->clusters[k];
		bool bad = c->lost > 0 || c->unexpected > 0 || !c->converged;

		fputs("<li>", f);
		html_text(f, c->cluster);
		fputs(" (writer on ", f);
		html_text(f, c->writer);
		fprintf(f,
			"): %ld acknowledged; <span class=\"%s\">lost %ld, "
			"unexpected %ld; %s</span></li>\n",
			c->acknowledged, bad ? "bad" : "ok", c->lost,
			c->unexpected,
			c->converged ? "converged" : "did not converge");
	}
	fputs("</ul>\n", f);
}

void plan_report_html(const struct plan_run_report *r, FILE *f)
{
	const char *names[64];
	struct side *p = NULL, *o = NULL;
	size_t k, n = 0, differ = 0;
	long break_at = -1, heal_at = -1;
	const char *break_node = NULL, *break_why = NULL;
	double total = r->n_steps ? r->steps[r->n_steps - 1].t_end : 1;
	const struct jsonr_value *x;

	p = ekl_calloc(r->n_steps ? r->n_steps : 1, sizeof(*p));
	o = ekl_calloc(r->n_steps ? r->n_steps : 1, sizeof(*o));
	if (p == NULL || o == NULL) {
		ekl_free(p);
		ekl_free(o);
		fputs("<!doctype html><p>out of memory</p>\n", f);
		return;
	}
	for (k = 0; k < r->n_steps; k++) {
		side_parse(r->steps[k].predicted_json, &p[k]);
		side_parse(r->steps[k].observed_json, &o[k]);
		if (n == 0)
			for (x = jsonr_first(p[k].repl); x != NULL && n < 64;
			     x = x->next)
				if (jsonr_get_str(x, "node") != NULL)
					names[n++] = jsonr_get_str(x, "node");
	}
	/* Where replication breaks and heals, as observed (the prediction
	 * where the step has no observation). */
	{
		size_t before = 0;

		for (k = 0; k < r->n_steps; k++) {
			const struct side *s = o[k].doc != NULL ? &o[k] : &p[k];
			const char *nd = NULL, *why = NULL;
			size_t now;

			if (s->doc == NULL)
				continue;
			now = not_replicating(s, &nd, &why);
			if (now > 0 && before == 0 && break_at < 0) {
				break_at = (long)k;
				break_node = nd;
				break_why = why;
			} else if (now == 0 && before > 0 && break_at >= 0 &&
				   heal_at < 0) {
				heal_at = (long)k;
			}
			before = now;
		}
	}
	fprintf(f,
		"<!doctype html><html><head><meta charset=\"utf-8\">"
		"<title>ekulab plan run</title><style>"
		"body{font-family:Helvetica,Arial,sans-serif;margin:24px;"
		"color:#222}"
		"table.t{border-collapse:collapse;width:100%%}"
		".t td,.t th{border-bottom:1px solid #ddd;padding:6px;"
		"vertical-align:middle;font-size:13px;text-align:left}"
		".summary{font-size:17px;padding:10px 14px;border-radius:6px;"
		"background:#f4f4f4}"
		".ok{color:" COL_OK "}.bad{color:" COL_BAD ";font-weight:bold}"
		".warn{color:#b8860b;font-weight:bold}"
		".bar{background:#9ecae1;height:8px;min-width:2px}"
		"table.m{border-collapse:separate;border-spacing:2px}"
		".m td{width:16px;height:16px;padding:0;font-size:10px;"
		"text-align:center;color:white;font-weight:bold;"
		"border-radius:3px}"
		".m td.self{background:#eee}"
		".m td.diff{outline:3px solid #f0b400}"
		".n{display:inline-block;padding:1px 6px;margin:1px;"
		"border-radius:9px;font-size:12px;border:1px solid #ccc}"
		".n.rep{background:#e3f4e3}.n.norep{background:#fbe3e3;"
		"border-color:" COL_BAD "}.n.stopped{background:#eee;"
		"border-style:dashed;color:#777}"
		"tr.break td{border-top:3px solid " COL_BAD "}"
		"tr.heal td{border-top:3px solid " COL_OK "}"
		"tr.differs{background:#fff6d5}"
		".badge{display:inline-block;font-size:11px;padding:1px 5px;"
		"border-radius:4px;color:white;margin-left:6px}"
		".badge.b{background:" COL_BAD "}.badge.h{background:" COL_OK
		"}.badge.d{background:#b8860b}"
		".legend span{margin-right:14px}"
		"</style></head><body>\n<h1>ekulab plan run</h1>\n<p>");
	html_text(f, r->plan);
	fprintf(
	    f, " (dial %s, link rule %s), %zu steps</p>\n<p class=\"summary\">",
	    r->dial, r->link, r->n_steps);
	if (break_at >= 0) {
		fprintf(f, "Replication breaks after step %ld (", break_at + 1);
		html_text(f, r->steps[break_at].text);
		fputs("): ", f);
		html_text(f, break_node);
		fputs(" stops replicating (", f);
		html_text(f, break_why != NULL ? break_why : "?");
		fputs(")", f);
		if (heal_at >= 0) {
			fprintf(f, "; it heals after step %ld (", heal_at + 1);
			html_text(f, r->steps[heal_at].text);
			fputs(")", f);
		} else {
			fputs("; it does not heal by the end", f);
		}
		fputs(".", f);
	} else {
		fputs("Replication never breaks: every running node "
		      "replicates from the primary after every step.",
		      f);
	}
	for (k = 0; k < r->n_steps; k++)
		differ += !sides_agree(&p[k], &o[k], names, n);
	fprintf(f,
		"<br><span class=\"%s\">%zu deviation%s</span>%s; "
		"<span class=\"%s\">%zu step%s where prediction and "
		"observation differ</span>; writes: %ld acknowledged, lost "
		"%ld, unexpected %ld, never-read %ld</p>\n",
		r->deviations ? "bad" : "ok", r->deviations,
		r->deviations == 1 ? "" : "s",
		r->deviations ? ""
			      : ": the live lab behaved as the model "
				"predicts",
		differ ? "warn" : "ok", differ, differ == 1 ? "" : "s",
		r->writes.acknowledged, r->writes.lost, r->writes.unexpected,
		r->writes.never_read);
	html_cluster_writes(&r->writes, f);
	fputs("<p class=\"legend\">connections (row dials column): "
	      "<span><b style=\"color:" COL_OK "\">&#9632;</b> up</span>"
	      "<span><b style=\"color:" COL_BAD "\">&#9632;</b> refused "
	      "(C client-purpose, S server-purpose, ...)</span>"
	      "<span><b style=\"color:" COL_GREY "\">&#9632;</b> not running "
	      "(-) or cut (x)</span>"
	      "<span><b style=\"color:#f0b400\">&#9633;</b> observed differs "
	      "from predicted</span>; nodes: <span class=\"n rep\">"
	      "replicating</span><span class=\"n norep\">not "
	      "replicating</span><span class=\"n stopped\">not "
	      "running</span> &#9733; primary</p>\n",
	      f);
	fputs("<table class=\"t\"><tr><th>#</th><th>step</th><th>time</th>"
	      "<th>connections</th><th>replication</th><th>result</th>"
	      "</tr>\n",
	      f);
	for (k = 0; k < r->n_steps; k++) {
		const struct plan_step_report *s = &r->steps[k];
		const struct side *show = o[k].doc != NULL ? &o[k] : &p[k];
		bool agree = sides_agree(&p[k], &o[k], names, n);
		bool good = !s->deviated && (!s->is_expect || s->expect_ok);

		fprintf(f, "<tr class=\"%s%s\"><td>%zu</td><td>",
			(long)k == break_at  ? "break"
			: (long)k == heal_at ? "heal"
					     : "",
			agree ? "" : " differs", k + 1);
		html_text(f, s->text);
		if ((long)k == break_at)
			fputs("<span class=\"badge b\">replication "
			      "breaks</span>",
			      f);
		if ((long)k == heal_at)
			fputs("<span class=\"badge h\">replication "
			      "heals</span>",
			      f);
		if (!agree)
			fputs("<span class=\"badge d\">predicted and observed "
			      "differ</span>",
			      f);
		fprintf(f,
			"</td><td>%.0f ms<div class=\"bar\" style=\"margin-"
			"left:%.0f%%;width:%.0f%%\"></div></td><td>",
			(s->t_end - s->t_start) * 1000,
			total > 0 ? 100 * s->t_start / total : 0,
			total > 0 ? 100 * (s->t_end - s->t_start) / total : 0);
		if (show->doc != NULL)
			print_matrix(f, show, &p[k], names, n);
		fputs("</td><td>", f);
		if (show->doc != NULL)
			print_repl(f, show, names, n);
		fprintf(f, "</td><td class=\"%s\">",
			!good	? "bad"
			: agree ? "ok"
				: "warn");
		if (!good)
			html_text(f, s->detail[0] ? s->detail
						  : "expectation failed");
		else if (!agree)
			fputs("within the model's bounds, but the reasons "
			      "differ (see the outlined cells)",
			      f);
		else
			fputs("as predicted", f);
		fputs("</td></tr>\n", f);
	}
	fputs("</table></body></html>\n", f);
	for (k = 0; k < r->n_steps; k++) {
		jsonr_free(p[k].doc);
		jsonr_free(o[k].doc);
	}
	ekl_free(p);
	ekl_free(o);
}
