/* observe.c: what the live lab looks like, in the model's terms: the
 * links and replication as a prediction (from every node's status), how
 * that differs from the model's, and whether the replicas have caught up
 * with the primary (revision and digest). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/node_status.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "lab/lab_status.h"
#include "plan_int.h"

/* The lab's live state in the shape of a prediction. */
int prun_observe(const struct lab *l, struct lab_prediction *obs,
		 struct lab_status *st, char *err)
{
	const char *names[TOPO_MAX_NODES];
	size_t i, j, n = l->topo.n_nodes;
	int p = lab_node_index(l, l->topo.primary);
	int rv;

	memset(st, 0, sizeof(*st));
	rv = lab_status_collect(l, st, err);
	if (rv != 0)
		return rv;
	memset(obs, 0, sizeof(*obs));
	obs->n = n;
	obs->primary = (size_t)p;
	obs->link = l->topo.link; /* the rule labmodel_derive applies */
	for (i = 0; i < n; i++) {
		names[i] = l->nodes[i].name;
		obs->running[i] = st->nodes[i].running && !st->nodes[i].paused;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			struct lab_dir *d = &obs->dir[i][j];
			const char *c;
			enum pol_code code;

			if (i == j)
				continue;
			c = lab_status_cell(l, st, i, j);
			d->v.depth = -1;
			if (strcmp(c, "-") == 0) {
				d->state = LAB_DIR_NOT_DIALLED;
			} else if (!obs->running[i] || !obs->running[j]) {
				d->state = LAB_DIR_NOT_RUNNING;
			} else if (strcmp(c, "ok") == 0) {
				d->state = LAB_DIR_OK;
				d->v.ok = true;
			} else if (pol_code_parse(c, &code) == 0) {
				d->state = LAB_DIR_REJECTED;
				d->v.code = code;
			} else {
				/* connect-failed, timeout, closed, pending:
				 * the connection does not happen. */
				d->state = LAB_DIR_CUT;
			}
		}
	labmodel_derive(obs, names);
	/* Replication as the nodes report it, not as links suggest. */
	for (i = 0; i < n; i++) {
		const struct lab_peer_status *r;

		if ((int)i == p || p < 0)
			continue;
		r = st->nodes[p].answers ? &st->nodes[p].peers[i] : NULL;
		obs->repl[i].replicating =
		    r != NULL && obs->running[i] &&
		    (strcmp(r->repl, "replicating") == 0 ||
		     strcmp(r->repl, "catching-up") == 0 ||
		     strcmp(r->repl, "snapshot") == 0);
		if (!obs->repl[i].replicating && r != NULL &&
		    labmodel_why_parse(r->reason, &obs->repl[i].why) != 0)
			obs->repl[i].why.kind = LAB_WHY_CUT;
	}
	return 0;
}

/* Do the observed links and replication equal the prediction? */
bool prun_matches(const struct lab_prediction *pred,
		  const struct lab_prediction *obs, const struct lab *l,
		  char *why, size_t len)
{
	size_t i, j, n = pred->n;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			const struct lab_dir *a = &pred->dir[i][j],
					     *b = &obs->dir[i][j];

			if (i == j || a->state == LAB_DIR_NOT_DIALLED)
				continue;
			if (a->state != b->state ||
			    (a->state == LAB_DIR_REJECTED &&
			     a->v.code != b->v.code)) {
				snprintf(
				    why, len,
				    "%s -> %s: predicted %s, observed %s",
				    l->nodes[i].name, l->nodes[j].name,
				    a->state == LAB_DIR_OK ? "ok"
				    : a->state == LAB_DIR_REJECTED
					? pol_code_name(a->v.code)
				    : a->state == LAB_DIR_CUT ? "cut"
							      : "not-running",
				    b->state == LAB_DIR_OK ? "ok"
				    : b->state == LAB_DIR_REJECTED
					? pol_code_name(b->v.code)
				    : b->state == LAB_DIR_CUT ? "no connection"
							      : "not-running");
				return false;
			}
		}
	for (i = 0; i < n; i++) {
		if (i == pred->primary || !pred->running[i])
			continue;
		if (pred->repl[i].replicating != obs->repl[i].replicating) {
			snprintf(why, len, "%s: predicted %s, observed %s",
				 l->nodes[i].name,
				 pred->repl[i].replicating ? "replicating"
							   : "not replicating",
				 obs->repl[i].replicating ? "replicating"
							  : "not replicating");
			return false;
		}
	}
	return true;
}

void prun_summarize(const struct lab_prediction *p, const struct lab *l,
		    char *buf, size_t len)
{
	size_t i, j, n = p->n, off = 0;
	bool any = false;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++) {
			const struct lab_pair *pr = labmodel_pair(p, i, j);

			if (pr->linked || off + 80 > len)
				continue;
			off += (size_t)snprintf(
			    buf + off, len - off, "%s%s-%s down (%s)",
			    any ? ", " : "", l->nodes[i].name, l->nodes[j].name,
			    labmodel_why_name(&pr->why));
			any = true;
		}
	for (i = 0; i < n; i++) {
		if (i == p->primary || p->repl[i].replicating || off + 80 > len)
			continue;
		off += (size_t)snprintf(buf + off, len - off,
					"%s%s not replicating (%s)",
					any ? "; " : "", l->nodes[i].name,
					labmodel_why_name(&p->repl[i].why));
		any = true;
	}
	if (!any)
		snprintf(buf, len, "all links up, all replicating");
}

/* Revision and digest of node i, or false. */
static bool db_state(const struct run *r, int i, long long *rev, char *digest,
		     size_t len)
{
	struct node_database db;
	char err[EKL_ERRLEN];
	int fd = lab_node_connect(&r->lab, i, err), rv;

	*rev = -1;
	digest[0] = '\0';
	if (fd < 0)
		return false;
	rv = node_database_get(fd, &db, err);
	close(fd);
	if (rv != 0)
		return false;
	*rev = db.revision;
	snprintf(digest, len, "%s", db.digest);
	return true;
}

/* Every node the model says replicates reaches the primary's revision and
 * digest (the writer paused). */
bool prun_converge(struct run *r, char *why, size_t len)
{
	int p = lab_node_index(&r->lab, r->lab.topo.primary);
	double end = prun_now() + PRUN_CONVERGE_SECONDS;
	size_t i;

	if (!r->pred->running[p])
		return true; /* nothing to converge on */
	usleep(300000);	     /* let in-flight writes land */
	while (prun_now() < end) {
		long long prev, rv;
		char pd[80], d[80];
		bool all = true;

		if (!db_state(r, p, &prev, pd, sizeof(pd))) {
			usleep(100000);
			continue;
		}
		for (i = 0; i < r->lab.topo.n_nodes && all; i++) {
			if ((int)i == p || !r->pred->repl[i].replicating)
				continue;
			if (!db_state(r, (int)i, &rv, d, sizeof(d)) ||
			    rv != prev || strcmp(d, pd) != 0) {
				all = false;
				snprintf(why, len,
					 "%s at revision %lld, primary at %lld",
					 r->lab.nodes[i].name, rv, prev);
			}
		}
		if (all)
			return true;
		usleep(100000);
	}
	return false;
}
