/* fuzz_topology.c: topology YAML (model/yamlfile.c, model/topology.c), the
 * file every lab, plan and audit forecast starts from, and the lab model's
 * prediction of the topology it describes (model/labmodel.c).
 *
 * Input: the file's content.
 *
 * Properties checked on every input:
 *  - a refusal comes with a message; a loaded topology has 1 to
 *    TOPO_MAX_NODES nodes with valid, distinct names (case-insensitive
 *    distinct too, since they name files and certificates), a known
 *    version class, and a primary that is one of them;
 *  - its prediction is consistent: a pair is linked exactly as the link
 *    rule says (both: some direction dialled and every dialled one
 *    connects; either: a dialled direction connects), and the carrier is
 *    a direction that connects;
 *    the primary replicates while it runs;
 *  - the same text read from a file (yamlfile_load) gives the same result;
 *  - no sanitizer report, no leak, no time bomb (libFuzzer -timeout).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "fuzzutil.h"
#include "model/labmodel.h"
#include "model/topology.h"
#include "model/yamlfile.h"

/* Not a directory that exists: relative `file:` paths lead nowhere. */
#define NAME "/nonexistent-ekl-fuzz/topology.yaml"
#define AT   1767225600 /* 2026-01-01: a fixed evaluation time */

struct ctx {
	struct topo *t;
	char *err;
};

static int walk(void *arg, yaml_document_t *doc)
{
	struct ctx *c = arg;

	return topo_load_node(NAME, "", doc, yaml_document_get_root_node(doc),
			      c->t, c->err);
}

static void check_prediction(const struct topo *t)
{
	static struct lab_prediction p;
	struct lab_state s;
	char err[EKL_ERRLEN] = "";
	size_t i, j;

	labmodel_init(&s, t, AT);
	if (labmodel_predict(&s, &p, err) != 0)
		abort(); /* out of memory */
	FZ_CHECK(p.n == t->n_nodes, "%zu nodes predicted of %zu", p.n,
		 t->n_nodes);
	FZ_CHECK(strcmp(t->nodes[p.primary].name, t->primary) == 0,
		 "predicted primary %zu is not %s", p.primary, t->primary);
	for (i = 0; i < p.n; i++)
		for (j = i + 1; j < p.n; j++) {
			const struct lab_pair *pr = labmodel_pair(&p, i, j);
			bool ij = p.dir[i][j].state == LAB_DIR_OK;
			bool ji = p.dir[j][i].state == LAB_DIR_OK;
			bool dij = p.dir[i][j].state != LAB_DIR_NOT_DIALLED;
			bool dji = p.dir[j][i].state != LAB_DIR_NOT_DIALLED;
			/* The link rule (labmodel.h, labmodel_link_decide). */
			bool want =
			    p.link == TOPO_LINK_EITHER
				? (ij || ji)
				: (dij || dji) && (!dij || ij) && (!dji || ji);

			FZ_CHECK(pr->linked == want,
				 "%s-%s linked %d under rule %s, directions "
				 "%d %d (dialled %d %d)",
				 t->nodes[i].name, t->nodes[j].name, pr->linked,
				 topo_link_name(p.link), ij, ji, dij, dji);
			if (pr->linked)
				FZ_CHECK(p.dir[pr->carrier_from][pr->carrier_to]
						 .state == LAB_DIR_OK,
					 "carried by a direction that fails");
		}
	FZ_CHECK(p.repl[p.primary].replicating == p.running[p.primary],
		 "the running primary does not replicate");
	labmodel_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[EKL_ERRLEN] = "", err2[EKL_ERRLEN] = "";
	char path[600];
	struct topo t, t2;
	struct ctx c = {&t, err};
	size_t i, j;
	int rc, rc2;

	memset(&t, 0, sizeof(t));
	rc = yamlfile_load_mem(NAME, data, size, "topology", walk, &c, err);
	if (rc == EKL_ENOMEM)
		abort();
	/* The same bytes from a file. */
	fz_write_file("topology.yaml", data, size, path, sizeof(path));
	rc2 = topo_load(path, &t2, err2);
	FZ_CHECK(rc == rc2, "memory gives %d (%s), the file %d (%s)", rc, err,
		 rc2, err2);
	if (rc != 0) {
		FZ_CHECK(err[0] != '\0', "refusal %d without a message", rc);
		return 0;
	}
	FZ_CHECK(t.n_nodes >= 1 && t.n_nodes <= TOPO_MAX_NODES, "%zu nodes",
		 t.n_nodes);
	FZ_CHECK(t2.n_nodes == t.n_nodes, "file and memory differ");
	FZ_CHECK(topo_find(&t, t.primary) != NULL, "primary %s is no node",
		 t.primary);
	for (i = 0; i < t.n_nodes; i++) {
		FZ_CHECK(topo_name_valid(t.nodes[i].name), "node name '%s'",
			 t.nodes[i].name);
		FZ_CHECK(strcmp(t.nodes[i].name, t2.nodes[i].name) == 0 &&
			     strcmp(t.nodes[i].version, t2.nodes[i].version) ==
				 0,
			 "file and memory differ at node %zu", i);
		for (j = 0; j < i; j++)
			FZ_CHECK(strcasecmp(t.nodes[i].name, t.nodes[j].name) !=
				     0,
				 "nodes '%s' and '%s'", t.nodes[j].name,
				 t.nodes[i].name);
	}
	check_prediction(&t);
	topo_free(&t);
	topo_free(&t2);
	return 0;
}
