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

/* A background writer's row, path "Plan Load N Value" and value "vV":
 * true with N and V; false for any other row. */
static bool load_row(const char *path, const char *value, long *n, long *v)
{
	static const char pre[] = "Plan Load ";
	const char *num = path + sizeof(pre) - 1;
	char *end;

	if (strncmp(path, pre, sizeof(pre) - 1) != 0 || *num < '0' ||
	    *num > '9')
		return false;
	*n = strtol(num, &end, 10);
	if (strcmp(end, " Value") != 0 || value[0] != 'v' ||
	    ((value[1] < '0' || value[1] > '9') && value[1] != '-'))
		return false;
	*v = strtol(value + 1, &end, 10);
	return *end == '\0';
}

/* Read the rows of node i into a set check. */
void prun_set_check(struct run *r)
{
	FILE *f = fopen(r->writer_log, "r");
	char *acked = NULL, *sent = NULL, line[64];
	long max = 0, v;
	size_t i, n = r->lab.topo.n_nodes;
	int p = lab_node_index(&r->lab, r->lab.topo.primary);

	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line + 2, "%ld", &v) == 1 && v + 1 > max)
				max = v + 1;
		rewind(f);
	}
	acked = calloc((size_t)max + 1, 1);
	sent = calloc((size_t)max + 1, 1);
	if (acked == NULL || sent == NULL)
		goto out;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line + 2, "%ld", &v) == 1 && v >= 0 && v < max) {
			if (line[0] == 'K')
				acked[v] = 1;
			else
				sent[v] = 1;
		}
	for (v = 0; v < max; v++) {
		r->attempted += sent[v];
		r->acked += acked[v];
	}
	/* Every node that replicates at the end must hold every acked row. */
	for (i = 0; i < n; i++) {
		char err[EKL_ERRLEN];
		struct node_rows rows;
		char *seen;
		size_t k;
		int fd;

		if (!r->pred->running[i] ||
		    ((int)i != p && !r->pred->repl[i].replicating))
			continue;
		fd = lab_node_connect(&r->lab, (int)i, err);
		if (fd < 0 || node_rows_get(fd, &rows, err) != 0) {
			if (fd >= 0)
				close(fd);
			r->lost += r->acked; /* cannot read: count as lost */
			continue;
		}
		close(fd);
		seen = calloc((size_t)max + 1, 1);
		if (seen == NULL) {
			node_rows_free(&rows);
			continue;
		}
		for (k = 0; k < rows.n; k++) {
			long val;

			if (!load_row(rows.row[k].path, rows.row[k].value, &v,
				      &val))
				continue;
			if (v < 0 || v >= max || !sent[v] || val != v)
				r->unexpected++;
			else
				seen[v] = 1;
		}
		for (v = 0; v < max; v++) {
			if (acked[v] && !seen[v])
				r->lost++;
			if ((int)i == p && sent[v] && !acked[v])
				seen[v] ? r->recovered++ : r->never_read++;
		}
		free(seen);
		node_rows_free(&rows);
	}
out:
	if (f != NULL)
		fclose(f);
	free(acked);
	free(sent);
}
