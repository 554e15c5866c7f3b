/* lab_partition.c: partitions by shape, as "down" link faults on the
 * proxy. The shapes are defined once, by plan_partition_cuts, which the
 * model (plan check, explore) uses too. */
#include <stdio.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "model/labmodel.h"
#include "model/plan/plan.h"
#include "lab.h"
#include "lab_fault.h"

int lab_fault_partition(struct lab *l, const char *name, int argc, char **argv,
			char *err)
{
	struct plan_partition p;
	struct lab_cuts cuts;
	int from[TOPO_MAX_NODES * TOPO_MAX_NODES],
	    to[TOPO_MAX_NODES * TOPO_MAX_NODES];
	size_t i, j, n = l->topo.n_nodes;
	int k = 0, need, rv;

	if (argc < 1 || plan_shape_parse(argv[0], &p.shape) != 0)
		return ekl_errf(err, EKL_EINVAL,
				"give a shape: isolate NODE | halves | ring | "
				"bridge NODE | one-way FROM TO");
	p.node = p.from = p.to = -1;
	need = p.shape == PLAN_SHAPE_ISOLATE || p.shape == PLAN_SHAPE_BRIDGE ? 1
	       : p.shape == PLAN_SHAPE_ONE_WAY				     ? 2
					       : 0;
	if (argc - 1 != need)
		return ekl_errf(err, EKL_EINVAL,
				"partition %s takes %d node name%s", argv[0],
				need, need == 1 ? "" : "s");
	for (i = 1; i < (size_t)argc; i++)
		if (lab_node_index(l, argv[i]) < 0)
			return ekl_errf(err, EKL_EINVAL, "no node '%s' in %s",
					argv[i], l->topo_path);
	if (need == 1)
		p.node = lab_node_index(l, argv[1]);
	if (need == 2) {
		p.from = lab_node_index(l, argv[1]);
		p.to = lab_node_index(l, argv[2]);
	}
	rv = plan_partition_cuts(&l->topo, &p, &cuts, err);
	if (rv != 0)
		return rv;
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (labmodel_cuts_has(&cuts, i, j)) {
				from[k] = (int)i;
				to[k] = (int)j;
				k++;
			}
	if (k == 0)
		return ekl_errf(err, EKL_EINVAL,
				"partition %s cuts nothing in a lab of %zu "
				"nodes",
				argv[0], n);
	return lab_fault_links(l, name, "down", from, to, k, "", err);
}
