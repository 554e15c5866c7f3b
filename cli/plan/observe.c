/* observe.c: what the live lab looks like, in the model's terms (the
 * observation of lab/lab_status.h), how that differs from the model's,
 * and whether the replicas have caught up with the primary (revision and
 * digest). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/node_status.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "lab/lab_interrupt.h"
#include "lab/lab_status.h"
#include "plan_int.h"

/* The lab's live state in the shape of a prediction: the observation
 * lab_status builds with the model's precedence of reasons. */
int prun_observe(const struct lab *l, struct lab_prediction *obs,
		 struct lab_status *st, char *err)
{
	int rv = lab_status_collect(l, st, err);

	if (rv != 0) {
		lab_status_free(st);
		return rv;
	}
	*obs = *st->obs;
	return 0;
}

bool prun_matches(const struct lab_prediction *pred,
		  const struct lab_prediction *obs, const struct lab *l,
		  char *why, size_t len)
{
	return lab_status_matches(pred, obs, l, why, len);
}

void prun_summarize(const struct lab_prediction *p, const struct lab *l,
		    char *buf, size_t len)
{
	lab_status_summarize(p, l, buf, len);
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

/* Every node the model says replicates reaches its primary's revision
 * and digest (the writer paused); each cluster of a deployment against
 * its own primary. */
bool prun_converge(struct run *r, char *why, size_t len)
{
	return prun_converge_clusters(r, NULL, why, len);
}

bool prun_converge_clusters(struct run *r, bool *ok, char *why, size_t len)
{
	double end = prun_now() + PRUN_CONVERGE_SECONDS;
	bool cl[TOPO_MAX_CLUSTERS];
	size_t i, c;

	for (c = 0; ok != NULL && c < TOPO_MAX_CLUSTERS; c++)
		ok[c] = false;
	if (!lab_sleep(0.3)) /* let in-flight writes land */
		return false;
	while (prun_now() < end) {
		bool all = true;

		for (c = 0; c < TOPO_MAX_CLUSTERS; c++)
			cl[c] = true;
		/* Without ok, the first node behind ends the look. */
		for (i = 0; i < r->lab.topo.n_nodes && (all || ok != NULL);
		     i++) {
			size_t p = labmodel_primary_of(r->pred, i);
			size_t k = r->lab.topo.nodes[i].cluster;
			long long prev, rv;
			char pd[80], d[80];

			if (p == i || !r->pred->running[p] ||
			    !r->pred->repl[i].replicating)
				continue;
			if (!db_state(r, (int)p, &prev, pd, sizeof(pd))) {
				all = false;
				snprintf(why, len, "primary %s does not answer",
					 r->lab.nodes[p].name);
			} else if (!db_state(r, (int)i, &rv, d, sizeof(d)) ||
				   rv != prev || strcmp(d, pd) != 0) {
				all = false;
				snprintf(why, len,
					 "%s at revision %lld, primary %s at "
					 "%lld",
					 r->lab.nodes[i].name, rv,
					 r->lab.nodes[p].name, prev);
			} else {
				continue;
			}
			if (k < TOPO_MAX_CLUSTERS)
				cl[k] = false;
		}
		for (c = 0; ok != NULL && c < TOPO_MAX_CLUSTERS; c++)
			ok[c] = cl[c];
		if (all)
			return true;
		if (!lab_sleep(0.1))
			return false;
	}
	return false;
}
