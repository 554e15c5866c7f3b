/* setcheck.c: the set check at the end of `plan run`: every write the
 * background writer logged as acknowledged must be on every node that
 * replicates at the end, and no node may hold a row that was never sent
 * (or with another value); writes sent but not acknowledged are counted as
 * recovered (on the primary) or never read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/node_status.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "plan_int.h"

/* A background writer's row, path "Plan TAG N Value" and value "vV":
 * the writer (index into w) with N and V; -1 for any other row. */
static int load_row(const struct prun_writer *w, size_t nw, const char *path,
		    const char *value, long *n, long *v)
{
	static const char pre[] = "Plan ";
	const char *num;
	char *end;
	size_t k, tl = 0;

	if (strncmp(path, pre, sizeof(pre) - 1) != 0)
		return -1;
	for (k = 0; k < nw; k++) {
		tl = strlen(w[k].tag);
		if (strncmp(path + sizeof(pre) - 1, w[k].tag, tl) == 0 &&
		    path[sizeof(pre) - 1 + tl] == ' ')
			break;
	}
	if (k == nw)
		return -1;
	num = path + sizeof(pre) + tl;
	if (*num < '0' || *num > '9')
		return -1;
	*n = strtol(num, &end, 10);
	if (strcmp(end, " Value") != 0 || value[0] != 'v' ||
	    ((value[1] < '0' || value[1] > '9') && value[1] != '-'))
		return -1;
	*v = strtol(value + 1, &end, 10);
	return *end == '\0' ? (int)k : -1;
}

/* One writer's log: which writes it sent and which were acknowledged. */
struct wlog {
	char *acked, *sent, *seen;
	long max;
};

static void wlog_read(const struct prun_writer *w, struct wlog *g)
{
	FILE *f = fopen(w->log, "r");
	char line[64];
	long v;

	memset(g, 0, sizeof(*g));
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line + 2, "%ld", &v) == 1 && v + 1 > g->max)
				g->max = v + 1;
		rewind(f);
	}
	g->acked = calloc((size_t)g->max + 1, 1);
	g->sent = calloc((size_t)g->max + 1, 1);
	g->seen = calloc((size_t)g->max + 1, 1);
	if (g->acked == NULL || g->sent == NULL || g->seen == NULL)
		g->max = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line + 2, "%ld", &v) == 1 && v >= 0 && v < g->max) {
			if (line[0] == 'K')
				g->acked[v] = 1;
			else
				g->sent[v] = 1;
		}
	if (f != NULL)
		fclose(f);
}

static void wlog_free(struct wlog *g)
{
	free(g->acked);
	free(g->sent);
	free(g->seen);
}

void prun_set_check_writers(const struct lab *l, uint64_t check, int primary,
			    const struct prun_writer *w, size_t nw, bool strict,
			    struct prun_tally *t)
{
	struct wlog g[4];
	size_t i, k, n = l->topo.n_nodes;
	long v;

	if (nw > 4)
		nw = 4;
	for (k = 0; k < nw; k++) {
		wlog_read(&w[k], &g[k]);
		for (v = 0; v < g[k].max; v++) {
			/* A write acknowledged was sent, even if a crash of
			 * the writer lost its "S" line: never the case,
			 * but counted once either way. */
			t->attempted += g[k].sent[v] | g[k].acked[v];
			t->acked += g[k].acked[v];
		}
	}
	/* Every node checked must hold every acked row. */
	for (i = 0; i < n; i++) {
		char err[EKL_ERRLEN];
		struct node_rows rows;
		size_t r;
		int fd;

		if (!(check & (UINT64_C(1) << i)))
			continue;
		fd = lab_node_connect(l, (int)i, err);
		if (fd < 0 || node_rows_get(fd, &rows, err) != 0) {
			if (fd >= 0)
				close(fd);
			if (t->lost_out != NULL)
				fprintf(t->lost_out,
					"%s did not answer (every acknowledged "
					"write counted lost): %s\n",
					l->nodes[i].name, err);
			for (k = 0; k < nw; k++)
				for (v = 0; v < g[k].max; v++)
					t->lost += g[k].acked[v];
			continue;
		}
		close(fd);
		for (k = 0; k < nw; k++)
			if (g[k].max > 0)
				memset(g[k].seen, 0, (size_t)g[k].max);
		for (r = 0; r < rows.n; r++) {
			long val;
			int wk = load_row(w, nw, rows.row[r].path,
					  rows.row[r].value, &v, &val);

			if (wk < 0) {
				if (strict)
					t->unexpected++;
				continue;
			}
			if (v < 0 || v >= g[wk].max ||
			    (!g[wk].sent[v] && !g[wk].acked[v]) || val != v)
				t->unexpected++;
			else
				g[wk].seen[v] = 1;
		}
		for (k = 0; k < nw; k++) {
			long first = -1;

			for (v = 0; v < g[k].max; v++) {
				bool gone = g[k].acked[v] && !g[k].seen[v];

				if (gone)
					t->lost++;
				if (gone && first < 0)
					first = v;
				if (first >= 0 && t->lost_out != NULL &&
				    (!gone || v + 1 == g[k].max)) {
					fprintf(t->lost_out, "%s %s %ld-%ld\n",
						l->nodes[i].name, w[k].tag,
						first, gone ? v : v - 1);
				}
				if (!gone)
					first = -1;
				if ((int)i == primary && g[k].sent[v] &&
				    !g[k].acked[v])
					g[k].seen[v] ? t->recovered++
						     : t->never_read++;
			}
		}
		node_rows_free(&rows);
	}
	for (k = 0; k < nw; k++)
		wlog_free(&g[k]);
}

/* plan run: each cluster's writer, on every node of its cluster that
 * replicates at the end (each cluster has a database of its own: its
 * writer's rows are checked on its nodes only, its primary's read counts
 * the writes sent and never acknowledged). */
void prun_set_check(struct run *r)
{
	struct prun_tally t = {0};
	const struct topo *tp = &r->lab.topo;
	size_t i, k;

	for (k = 0; k < r->n_w; k++) {
		int p = prun_cluster_primary(r, k);
		uint64_t check = 0;

		memset(&r->wt[k], 0, sizeof(r->wt[k]));
		if (p < 0)
			continue;
		for (i = 0; i < tp->n_nodes; i++)
			if (r->pred->running[i] &&
			    labmodel_same_cluster(r->pred, i, (size_t)p) &&
			    ((int)i == p || r->pred->repl[i].replicating))
				check |= UINT64_C(1) << i;
		prun_set_check_writers(&r->lab, check, p, &r->w[k], 1, false,
				       &r->wt[k]);
		t.attempted += r->wt[k].attempted;
		t.acked += r->wt[k].acked;
		t.lost += r->wt[k].lost;
		t.unexpected += r->wt[k].unexpected;
		t.never_read += r->wt[k].never_read;
		t.recovered += r->wt[k].recovered;
	}
	r->attempted += t.attempted;
	r->acked += t.acked;
	r->lost += t.lost;
	r->unexpected += t.unexpected;
	r->never_read += t.never_read;
	r->recovered += t.recovered;
}
