/* test_topology.c: the topology file: a good file, merging, every error
 * with its line:column and key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "model/topology.h"
#include "testutil.h"

static char dir[512];

/* Write `text` to dir/name and return the path (static buffer). */
static const char *put(const char *name, const char *text)
{
	static char path[700];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

static void setup(void)
{
	const char *t = tu_tmpdir("topology");

	ck_assert_ptr_nonnull(t);
	snprintf(dir, sizeof(dir), "%s", t);
}

/* The example, verbatim. */
static const char three_node[] =
    "name: three-node\n"
    "cluster:\n"
    "  verify: enforce          # enforce | permissive\n"
    "  primary: node1\n"
    "  dial: both               # both | lower-name | primary\n"
    "defaults:\n"
    "  version: X15.3.2\n"
    "  role: c                  # c | e\n"
    "  cert: {profile: combined, ca: unrestricted}\n"
    "nodes:\n"
    "  node1: {}\n"
    "  node2: {cert: {profile: server-only}}\n"
    "  node3: {version: X15.4, client_cert: {profile: client-only}, "
    "client_eku_check: off}\n";

START_TEST(test_load_example)
{
	char err[EKL_ERRLEN] = "";
	struct topo t;
	const struct topo_node *n;

	ck_assert_int_eq(topo_load(put("three.yaml", three_node), &t, err), 0);
	ck_assert_str_eq(t.name, "three-node");
	ck_assert_int_eq(t.verify, POL_ENFORCE);
	ck_assert_str_eq(t.primary, "node1");
	ck_assert_int_eq(t.dial, TOPO_DIAL_BOTH);
	ck_assert_int_eq(t.link, TOPO_LINK_BOTH); /* the default */
	ck_assert(!topo_is_deployment(&t)); /* one cluster, nothing else */
	ck_assert_uint_eq(t.n_nodes, 3);
	ck_assert_str_eq(t.nodes[0].name, "node1");
	ck_assert_str_eq(t.nodes[1].name, "node2");
	ck_assert_str_eq(t.nodes[2].name, "node3");

	n = topo_find(&t, "node1");
	ck_assert_ptr_eq(n, &t.nodes[0]);
	ck_assert_str_eq(n->version, "X15.3.2");
	ck_assert_int_eq(n->vclass, POL_V_PRE154);
	ck_assert_int_eq(n->role, TOPO_ROLE_C);
	ck_assert_int_eq(n->cert.profile, PKI_PROFILE_COMBINED);
	ck_assert_int_eq(n->cert.ca, PKI_CA_UNRESTRICTED);
	ck_assert_int_eq(n->cert.days, 0);
	ck_assert_int_eq(n->cert.root, TOPO_ROOT_PRIVATE); /* the default */
	ck_assert_ptr_null(n->cert.file);
	ck_assert(!n->has_client_cert);
	ck_assert(n->client_eku_check);
	ck_assert(!n->server_eku_upload); /* the default */
	ck_assert_int_eq(n->line, 11);

	/* Per-key merge: node2 sets the profile, keeps the default CA. */
	n = topo_find(&t, "node2");
	ck_assert_int_eq(n->cert.profile, PKI_PROFILE_SERVER_ONLY);
	ck_assert_int_eq(n->cert.ca, PKI_CA_UNRESTRICTED);
	ck_assert_str_eq(n->version, "X15.3.2");

	n = topo_find(&t, "node3");
	ck_assert_str_eq(n->version, "X15.4");
	ck_assert_int_eq(n->vclass, POL_V_X154);
	ck_assert(n->has_client_cert);
	ck_assert_int_eq(n->client_cert.profile, PKI_PROFILE_CLIENT_ONLY);
	ck_assert_int_eq(n->client_cert.ca, PKI_CA_UNRESTRICTED);
	ck_assert(!n->client_eku_check);
	ck_assert_int_eq(n->cert.profile, PKI_PROFILE_COMBINED);

	ck_assert_ptr_null(topo_find(&t, "node4"));
	topo_free(&t);
	ck_assert_uint_eq(t.n_nodes, 0);
	ck_assert_ptr_null(t.nodes);
	topo_free(&t); /* twice is harmless */
	topo_free(NULL);
}
END_TEST

START_TEST(test_load_defaults_and_files)
{
	char err[EKL_ERRLEN] = "";
	char want[800];
	struct topo t;
	const char *path;

	path = put("my-lab.yml",
		   "cluster: {verify: permissive, dial: lower-name, "
		   "link: either}\n"
		   "defaults:\n"
		   "  version: X15.5\n"
		   "  role: e\n"
		   "  cert: {ca: server-only, days: 90, root: public}\n"
		   "  client_cert: {profile: combined}\n"
		   "  client_eku_check: 'no'\n"
		   "  server_eku_upload: true\n"
		   "  log_level: warn\n"
		   "nodes:\n"
		   "  b.2: {cert: {file: certs/b.crt}, client_cert: none,\n"
		   "        log_level: debug}\n"
		   "  a_1:\n"
		   "  c-3: {role: c, client_eku_check: on, server_eku_upload: "
		   "false,\n"
		   "        cert: {file: /abs/c.pem, profile: no-eku}}\n");
	ck_assert_int_eq(topo_load(path, &t, err), 0);
	ck_assert_str_eq(t.name, "my-lab"); /* the file stem */
	ck_assert_int_eq(t.verify, POL_PERMISSIVE);
	ck_assert_int_eq(t.dial, TOPO_DIAL_LOWER_NAME);
	ck_assert_int_eq(t.link, TOPO_LINK_EITHER);
	ck_assert_str_eq(t.primary, "b.2"); /* the first node */
	ck_assert_uint_eq(t.n_nodes, 3);

	ck_assert_int_eq(t.nodes[0].role, TOPO_ROLE_E);
	ck_assert_int_eq(t.nodes[0].vclass, POL_V_X155);
	ck_assert_int_eq(t.nodes[0].cert.profile, PKI_PROFILE_COMBINED);
	ck_assert_int_eq(t.nodes[0].cert.ca, PKI_CA_SERVER_ONLY);
	ck_assert_int_eq(t.nodes[0].cert.days, 90);
	ck_assert_int_eq(t.nodes[0].cert.root, TOPO_ROOT_PUBLIC);
	snprintf(want, sizeof(want), "%s/certs/b.crt", dir);
	ck_assert_str_eq(t.nodes[0].cert.file, want);
	ck_assert(!t.nodes[0].has_client_cert); /* none beats the default */
	ck_assert(!t.nodes[0].client_eku_check);
	ck_assert(t.nodes[0].server_eku_upload);  /* from defaults */
	ck_assert(!t.nodes[2].server_eku_upload); /* its own */
	ck_assert_str_eq(t.nodes[0].log_level, "debug");
	ck_assert_str_eq(t.nodes[1].log_level, "warn"); /* the default's */

	/* `a_1:` with no value takes every default. */
	ck_assert(t.nodes[1].has_client_cert);
	ck_assert_int_eq(t.nodes[1].client_cert.profile, PKI_PROFILE_COMBINED);
	ck_assert_ptr_null(t.nodes[1].cert.file);

	ck_assert_int_eq(t.nodes[2].role, TOPO_ROLE_C);
	ck_assert(t.nodes[2].client_eku_check);
	ck_assert_str_eq(t.nodes[2].cert.file, "/abs/c.pem");
	ck_assert_int_eq(t.nodes[2].cert.profile, PKI_PROFILE_NO_EKU);
	topo_free(&t);
}
END_TEST

/* placement: per node, from defaults, per cluster of a deployment; a
 * node's own replaces the default's as a whole. */
START_TEST(test_load_placement)
{
	char err[EKL_ERRLEN] = "";
	struct topo t;
	const char *path;

	path = put("placed.yaml",
		   "defaults: {version: X15.4, placement: {labels: {zone: "
		   "lan}}}\n"
		   "nodes:\n"
		   "  n1: {placement: {host: dmz-1.example}}\n"
		   "  n2: {placement: {host: h2, labels: {zone: dmz, rack: "
		   "r_1}}}\n"
		   "  n3: {}\n");
	ck_assert_int_eq(topo_load(path, &t, err), 0);
	ck_assert_str_eq(t.nodes[0].placement.host, "dmz-1.example");
	ck_assert_uint_eq(t.nodes[0].placement.n_labels, 0);
	ck_assert_str_eq(t.nodes[1].placement.host, "h2");
	ck_assert_uint_eq(t.nodes[1].placement.n_labels, 2);
	ck_assert_str_eq(t.nodes[1].placement.label_key[0], "zone");
	ck_assert_str_eq(t.nodes[1].placement.label_value[0], "dmz");
	ck_assert_str_eq(t.nodes[1].placement.label_key[1], "rack");
	ck_assert_str_eq(t.nodes[1].placement.label_value[1], "r_1");
	ck_assert_str_eq(t.nodes[2].placement.host, ""); /* the default's */
	ck_assert_uint_eq(t.nodes[2].placement.n_labels, 1);
	ck_assert_str_eq(t.nodes[2].placement.label_value[0], "lan");
	topo_free(&t);

	path = put("placed-dep.yaml",
		   "defaults: {version: X15.4}\n"
		   "clusters:\n"
		   "  core: {role: c, placement: {host: lan1}, nodes: {c1: "
		   "{}}}\n"
		   "  edge: {role: e, nodes: {e1: {placement: {host: "
		   "dmz1}}, e2: {}}}\n");
	ck_assert_int_eq(topo_load(path, &t, err), 0);
	ck_assert_str_eq(t.nodes[0].placement.host, "lan1");
	ck_assert_str_eq(t.nodes[1].placement.host, "dmz1");
	ck_assert_str_eq(t.nodes[2].placement.host, "");
	topo_free(&t);
}
END_TEST

/* Each bad file: its error must name FILE:LINE:COLUMN and the key. */
struct bad {
	const char *yaml;
	const char *where; /* "LINE:COLUMN" */
	const char *key;   /* the key as the message names it, or NULL */
	const char *says;  /* another fragment of the message */
};

static const struct bad bads[] = {
    {"nodse:\n  n1: {version: X15.4}\n", "1:1", "nodse", "unknown key"},
    {"nodes:\n  n1: {version: X15.4, cert: {profle: combined}}\n", "2:31",
     "nodes.n1.cert.profle", "expected one of: profile, ca, days, root, file"},
    {"cluster:\n  verify: enforse\nnodes:\n  n1: {version: X15.4}\n", "2:11",
     "cluster.verify", "'enforse' is not a verify mode"},
    {"cluster:\n  dial: everyone\nnodes:\n  n1: {version: X15.4}\n", "2:9",
     "cluster.dial", "use both, lower-name or primary"},
    {"cluster:\n  link: any\nnodes:\n  n1: {version: X15.4}\n", "2:9",
     "cluster.link", "'any' is not a link rule; use both"},
    {"cluster:\n  link: [both]\nnodes:\n  n1: {version: X15.4}\n", "2:9",
     "cluster.link", "expected a single value"},
    {"cluster:\n  primary: node9\nnodes:\n  n1: {version: X15.4}\n", "2:12",
     "cluster.primary", "'node9' is not one of the nodes"},
    {"cluster:\n  prim: n1\nnodes:\n  n1: {version: X15.4}\n", "2:3",
     "cluster.prim", "unknown key"},
    {"nodes:\n  n1: {version: X15.4, log_level: loud}\n", "2:35",
     "nodes.n1.log_level", "'loud' is not a log level"},
    {"nodes:\n  n1: {version: X15.4, placement: dmz1}\n", "2:35",
     "nodes.n1.placement", "expected a mapping of host and labels"},
    {"nodes:\n  n1: {version: X15.4, placement: {}}\n", "2:35",
     "nodes.n1.placement", "gives neither host nor labels"},
    {"nodes:\n  n1: {version: X15.4, placement: {host: 'a b'}}\n", "2:42",
     "nodes.n1.placement.host", "'a b' is not a host name"},
    {"nodes:\n  n1: {version: X15.4, placement: {hots: h1}}\n", "2:36",
     "nodes.n1.placement.hots", "unknown key"},
    {"nodes:\n  n1: {version: X15.4, placement: {labels: {zone: 'd z'}}}\n",
     "2:51", "nodes.n1.placement.labels.zone", "'d z' is not a label value"},
    {"nodes:\n  n1: {version: X15.4, placement: {labels: [dmz]}}\n", "2:44",
     "nodes.n1.placement.labels", "expected a mapping of node labels"},
    {"nodes:\n  n1: {version: X16.1}\n", "2:17", "nodes.n1.version",
     "'X16.1' is not a known version"},
    {"defaults:\n  version: 15.4\nnodes:\n  n1: {}\n", "2:12",
     "defaults.version", "not a known version"},
    {"nodes:\n  n1: {version: X15.4, cert: {profile: both}}\n", "2:40",
     "nodes.n1.cert.profile", "'both' is not a profile"},
    {"nodes:\n  n1: {version: X15.4, cert: {ca: public}}\n", "2:35",
     "nodes.n1.cert.ca", "'public' is not an issuing CA"},
    {"nodes:\n  n1: {version: X15.4, cert: {days: 0}}\n", "2:37",
     "nodes.n1.cert.days", "not a number of days"},
    {"nodes:\n  n1: {version: X15.4, role: x}\n", "2:30", "nodes.n1.role",
     "'x' is not a role"},
    {"nodes:\n  n1: {version: X15.4, client_eku_check: maybe}\n", "2:42",
     "nodes.n1.client_eku_check", "'maybe' is not on or off"},
    {"nodes:\n  n1: {version: X15.4, cert: {root: corporate}}\n", "2:37",
     "nodes.n1.cert.root", "'corporate' is not a root; use private"},
    {"nodes:\n  n1: {version: X15.4, server_eku_upload: 1}\n", "2:43",
     "nodes.n1.server_eku_upload", "'1' is not on or off (true/false"},
    {"nodes:\n  n1: {version: X15.4, client_cert: some}\n", "2:37",
     "nodes.n1.client_cert", "or none"},
    {"nodes:\n  n1: {version: X15.4, cert: [combined]}\n", "2:30",
     "nodes.n1.cert", "found a list"},
    {"nodes:\n  n1: {version: X15.4}\n  bad/name: {version: X15.4}\n", "3:3",
     "nodes.bad/name", "not a valid node name"},
    {"nodes:\n  ..: {version: X15.4}\n", "2:3", "nodes...",
     "not a valid node name"},
    {"nodes:\n  n1: {version: X15.4}\n  n1: {version: X15.5}\n", "3:3",
     "nodes.n1", "duplicate node (first at line 2)"},
    {"nodes:\n  Node1: {version: X15.4}\n  node1: {version: X15.5}\n", "3:3",
     "nodes.node1", "differs from 'Node1' (line 2) only in case"},
    {"name: a\nname: b\nnodes:\n  n1: {version: X15.4}\n", "2:1", "name",
     "duplicate key (first at line 1)"},
    {"nodes:\n  n1: {version: X15.4, version: X15.5}\n", "2:24",
     "nodes.n1.version", "duplicate key"},
    {"name: lab\nnodes:\n  n1: {}\n", "3:3", "nodes",
     "node 'n1' has no version"},
    {"name: lab\nnodes: {}\n", "2:8", "nodes", "no node"},
    {"name: lab\n", "1:1", "nodes", "missing"},
    {"name: lab\nnodes: [n1, n2]\n", "2:8", "nodes", "expected a mapping"},
    {"name: 'my lab'\nnodes:\n  n1: {version: X15.4}\n", "1:7", "name",
     "not a valid cluster name"},
    {"- n1\n- n2\n", "1:1", "(top)", "expected a mapping"},
    {"nodes:\n  n1: {version: X15.4\n", "3:1", NULL, "YAML syntax error"},
    {"nodes:\n  n1: {version: X15.4}\n---\nnodes: {}\n", "4:1", NULL,
     "a second YAML document"},
    {"nodes:\n  n1: {version: X15.4, cert: {file: ''}}\n", "2:37",
     "nodes.n1.cert.file", "the value is empty"},
    {"", NULL, NULL, "the topology is empty"},
    /* clusters:, externals:, zones: */
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "nodes:\n  n1: {version: X15.4}\n",
     "1:1", "clusters", "use either cluster: and nodes: (one cluster)"},
    {"clusters:\n  core: {nodes: {c1: {version: X15.4}}}\n", "2:9",
     "clusters.core.role", "missing; say role: c (Expressway-C"},
    {"clusters:\n  core: {role: x, nodes: {c1: {version: X15.4}}}\n", "2:16",
     "clusters.core.role", "'x' is not a role"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4, role: e}}}"
     "\n",
     NULL, "clusters.core.nodes.c1.role", "a cluster's nodes share its role"},
    {"clusters:\n  core: {role: c, primary: e1, nodes: {c1: {version: "
     "X15.4}}}\n",
     "2:28", "clusters.core.primary", "'e1' is not one of the nodes of core"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "  edge: {role: e, nodes: {c1: {version: X15.4}}}\n",
     "3:27", "clusters.edge.nodes.c1", "duplicate node (first at line 2)"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "  Core: {role: e, nodes: {e1: {version: X15.4}}}\n",
     "3:3", "clusters.Core", "'Core' is already a cluster (line 2)"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "externals:\n  c1: {kind: cucm}\n",
     "4:3", "externals.c1", "duplicate node (first at line 2)"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "externals:\n  x: {kind: router}\n",
     "4:13", "externals.x.kind", "'router' is not an external kind"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "externals:\n  x: {kind: expressway}\n",
     "4:13", "externals.x.kind", "an Expressway is a node of a cluster"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "externals:\n  x: {checks_client_eku: true}\n",
     "4:6", "externals.x.kind", "missing; say what the peer is"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "zones:\n  - {type: traversal, client: core, server: nope}\n",
     "4:45", "zones[1].server", "'nope' is not a cluster or an external"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "  edge: {role: e, nodes: {e1: {version: X15.4}}}\n"
     "zones:\n  - {type: traversal, client: edge, server: core}\n",
     "5:5", "zones[1]",
     "the client of a traversal zone is an Expressway-C "
     "cluster (role c); edge is role e"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "  c2: {role: c, nodes: {c3: {version: X15.4}}}\n"
     "zones:\n  - {type: traversal, client: core, server: c2}\n",
     "5:5", "zones[1]",
     "the server of a traversal zone is an Expressway-E "
     "cluster (role e); c2 is role c"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "externals:\n  p: {kind: b2b-peer}\n"
     "zones:\n  - {type: neighbour, from: core, to: p}\n",
     "6:5", "zones[1]",
     "p is a b2b-peer peer, which takes no part in "
     "neighbour zones"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "zones:\n  - {type: mra, from: core, to: core}\n",
     "4:12", "zones[1].type", "MRA runs over a traversal zone: mra: true"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "externals:\n  u: {kind: cucm}\n"
     "zones:\n  - {type: neighbour, from: core, to: c1}\n",
     "6:39", "zones[1].to", "'c1' is a node; a zone joins clusters"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "zones:\n  - {type: neighbour, from: core, to: core}\n",
     "4:5", "zones[1]", "joins cluster core to itself"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "externals:\n  u: {kind: cucm}\n"
     "zones:\n  - {type: neighbour, from: core, to: u, mra: true}\n",
     "6:42", "zones[1].mra", "unknown key"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "externals:\n  cl: {kind: cloud}\n"
     "zones:\n  - {type: cloud, from: cl, to: core}\n",
     "6:5", "zones[1]", "a cloud zone goes from an Expressway cluster"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "externals:\n  a: {kind: cucm}\n  b: {kind: cucm}\n"
     "zones:\n  - {type: neighbour, from: a, to: b}\n",
     "7:5", "zones[1]", "both ends are externals"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "zones:\n  - {type: neighbour, from: core}\n",
     "4:5", "zones[1].to", "missing; name a cluster or an external"},
    {"clusters:\n  core: {role: c, nodes: {c1: {version: X15.4}}}\n"
     "zones: {type: traversal}\n",
     "3:8", "zones", "expected a list"},
    {"defaults: {verify: sometimes}\nnodes:\n  n1: {version: X15.4}\n", "1:20",
     "defaults.verify", "'sometimes' is not a verify mode"},
};

/* The deployment, verbatim. */
static const char mra_lab[] =
    "name: mra-lab\n"
    "defaults: {version: X15.3.2, verify: enforce, cert: {profile: "
    "combined, ca: unrestricted}}\n"
    "clusters:\n"
    "  core: {role: c, primary: c1, nodes: {c1: {}, c2: {}}}\n"
    "  edge: {role: e, primary: e1, server_eku_upload: true, nodes: {e1: "
    "{}, e2: {}}}\n"
    "externals:\n"
    "  cucm: {kind: cucm, checks_client_eku: true, cert: {profile: "
    "combined}}\n"
    "zones:\n"
    "  - {type: traversal, client: core, server: edge, mra: true}\n"
    "  - {type: neighbour, from: core, to: cucm, tls_verify: true}\n";

START_TEST(test_load_deployment)
{
	char err[EKL_ERRLEN] = "";
	struct topo t;

	ck_assert_msg(topo_load(put("mra.yaml", mra_lab), &t, err) == 0, "%s",
		      err);
	ck_assert(t.multi);
	ck_assert(topo_is_deployment(&t));
	ck_assert_uint_eq(t.n_clusters, 2);
	ck_assert_uint_eq(t.n_nodes, 4);
	ck_assert_str_eq(t.clusters[0].name, "core");
	ck_assert_int_eq(t.clusters[0].role, TOPO_ROLE_C);
	ck_assert_uint_eq(t.clusters[0].first, 0);
	ck_assert_uint_eq(t.clusters[0].count, 2);
	ck_assert_uint_eq(t.clusters[1].primary, 2);
	ck_assert_int_eq(t.clusters[1].role, TOPO_ROLE_E);
	/* Cluster keys are the cluster's node defaults. */
	ck_assert(t.nodes[2].server_eku_upload);
	ck_assert(!t.nodes[0].server_eku_upload);
	ck_assert_int_eq(t.nodes[3].role, TOPO_ROLE_E);
	ck_assert_uint_eq(t.nodes[3].cluster, 1);
	ck_assert_str_eq(t.nodes[3].version, "X15.3.2");
	ck_assert(topo_is_primary(&t, 0));
	ck_assert(!topo_is_primary(&t, 1));
	ck_assert(topo_is_primary(&t, 2));
	ck_assert_str_eq(t.primary, "c1");
	ck_assert_uint_eq(t.n_externals, 1);
	ck_assert_int_eq(t.externals[0].kind, POL_KIND_CUCM);
	ck_assert(t.externals[0].checks_client_eku);
	ck_assert_int_eq(t.externals[0].verify, POL_ENFORCE);
	ck_assert_uint_eq(topo_endpoints(&t), 5);
	ck_assert_int_eq(topo_endpoint_index(&t, "cucm"), 4);
	ck_assert_str_eq(topo_endpoint_name(&t, 4), "cucm");
	ck_assert_ptr_nonnull(topo_endpoint_external(&t, 4));
	ck_assert_ptr_null(topo_endpoint_external(&t, 3));
	ck_assert_uint_eq(t.n_zones, 2);
	ck_assert_int_eq(t.zones[0].type, POL_SVC_TRAVERSAL);
	ck_assert(t.zones[0].mra);
	ck_assert(!t.zones[0].a.external);
	ck_assert_uint_eq(t.zones[0].b.index, 1);
	ck_assert_int_eq(t.zones[1].type, POL_SVC_NEIGHBOUR);
	ck_assert(t.zones[1].b.external);
	ck_assert(t.zones[1].tls_verify);
	ck_assert(topo_zone_end_has(&t, &t.zones[1].a, 1));
	ck_assert(!topo_zone_end_has(&t, &t.zones[1].a, 2));
	ck_assert(topo_zone_end_has(&t, &t.zones[1].b, 4));
	ck_assert_str_eq(topo_zone_end_name(&t, &t.zones[0].b), "edge");
	topo_free(&t);

	/* The single-cluster form is one cluster named after the topology,
	 * and a zone may name it. */
	ck_assert_msg(topo_load(put("one.yaml",
				    "name: solo\n"
				    "defaults: {version: X15.4, verify: "
				    "permissive}\n"
				    "nodes: {n1: {}, n2: {}}\n"
				    "externals: {cm: {kind: cucm, "
				    "checks_client_eku: false}}\n"
				    "zones: [{type: neighbour, from: solo, to: "
				    "cm, tls_verify: false}]\n"),
				&t, err) == 0,
		      "%s", err);
	ck_assert(!t.multi);
	ck_assert(topo_is_deployment(&t)); /* an external makes it one */
	ck_assert_uint_eq(t.n_clusters, 1);
	ck_assert_str_eq(t.clusters[0].name, "solo");
	ck_assert_uint_eq(t.clusters[0].count, 2);
	ck_assert_int_eq(t.verify, POL_PERMISSIVE);
	ck_assert(!t.zones[0].tls_verify);
	ck_assert(!t.externals[0].checks_client_eku);
	topo_free(&t);
}
END_TEST

START_TEST(test_load_errors)
{
	const struct bad *b = &bads[_i];
	char err[EKL_ERRLEN] = "";
	char want[800];
	struct topo t;
	const char *path = put("bad.yaml", b->yaml);

	ck_assert_int_eq(topo_load(path, &t, err), EKL_ECONFIG);
	if (b->where != NULL) {
		snprintf(want, sizeof(want), "%s:%s: ", path, b->where);
		ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
			      "case %d: '%s' does not start with '%s'", _i, err,
			      want);
	}
	if (b->key != NULL) {
		snprintf(want, sizeof(want), "key '%s': ", b->key);
		ck_assert_msg(strstr(err, want) != NULL,
			      "case %d: '%s' does not name %s", _i, err, want);
	}
	ck_assert_msg(strstr(err, b->says) != NULL,
		      "case %d: '%s' does not say '%s'", _i, err, b->says);
	/* Nothing to free after an error. */
	ck_assert_ptr_null(t.nodes);
	ck_assert_uint_eq(t.n_nodes, 0);
}
END_TEST

/* Every allocation failing in turn: ENOMEM and nothing to free, until
 * enough succeed. */
START_TEST(test_load_out_of_memory)
{
	char err[EKL_ERRLEN] = "";
	struct topo t;
	const char *path =
	    put("oom.yaml", "defaults: {version: X15.4, cert: {file: a}}\n"
			    "nodes:\n"
			    "  n1: {client_cert: {file: b}}\n"
			    "  n2: {}\n");
	int n;
	int rc = EKL_ENOMEM;

	for (n = 0; n < 50 && rc != 0; n++) {
		ekl_mem_fail_after(n);
		rc = topo_load(path, &t, err);
		ekl_mem_fail_after(-1);
		if (rc != 0) {
			ck_assert_int_eq(rc, EKL_ENOMEM);
			ck_assert_ptr_null(t.nodes);
		}
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(n, 6); /* the file, nodes, then three file paths */
	ck_assert_str_eq(t.nodes[1].cert.file + strlen(dir), "/a");
	topo_free(&t);
}
END_TEST

START_TEST(test_load_file_errors)
{
	char err[EKL_ERRLEN] = "";
	char path[700];
	struct topo t;

	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	ck_assert_int_eq(topo_load(path, &t, err), EKL_ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "missing.yaml"));
	ck_assert_int_eq(topo_load(dir, &t, err), EKL_EIO);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
}
END_TEST

START_TEST(test_names)
{
	enum topo_dial d;
	enum topo_role r;
	enum topo_link l;
	enum topo_root rt;
	char long_name[80];

	ck_assert(topo_name_valid("node-1.a_b"));
	ck_assert(!topo_name_valid(""));
	ck_assert(!topo_name_valid("."));
	ck_assert(!topo_name_valid(".."));
	ck_assert(!topo_name_valid("a b"));
	ck_assert(!topo_name_valid("a/b"));
	ck_assert(!topo_name_valid(NULL));
	memset(long_name, 'a', sizeof(long_name));
	long_name[TOPO_NAME_MAX] = '\0';
	ck_assert(topo_name_valid(long_name));
	long_name[TOPO_NAME_MAX] = 'a';
	long_name[TOPO_NAME_MAX + 1] = '\0';
	ck_assert(!topo_name_valid(long_name));

	ck_assert_int_eq(topo_dial_parse("lower-name", &d), 0);
	ck_assert_int_eq(d, TOPO_DIAL_LOWER_NAME);
	ck_assert_str_eq(topo_dial_name(TOPO_DIAL_PRIMARY), "primary");
	ck_assert_int_eq(topo_dial_parse("Both", &d), EKL_EINVAL);
	ck_assert_int_eq(topo_role_parse("e", &r), 0);
	ck_assert_int_eq(r, TOPO_ROLE_E);
	ck_assert_str_eq(topo_role_name(TOPO_ROLE_C), "c");
	ck_assert_int_eq(topo_role_parse("E", &r), EKL_EINVAL);
	ck_assert_int_eq(topo_link_parse("either", &l), 0);
	ck_assert_int_eq(l, TOPO_LINK_EITHER);
	ck_assert_int_eq(topo_link_parse("both", &l), 0);
	ck_assert_int_eq(l, TOPO_LINK_BOTH);
	ck_assert_str_eq(topo_link_name(TOPO_LINK_EITHER), "either");
	ck_assert_str_eq(topo_link_name(TOPO_LINK_BOTH), "both");
	ck_assert_int_eq(topo_link_parse("Either", &l), EKL_EINVAL);
	ck_assert_int_eq(topo_link_parse(NULL, &l), EKL_EINVAL);
	ck_assert_int_eq(topo_root_parse("public", &rt), 0);
	ck_assert_int_eq(rt, TOPO_ROOT_PUBLIC);
	ck_assert_str_eq(topo_root_name(TOPO_ROOT_PRIVATE), "private");
	ck_assert_int_eq(topo_root_parse("Public", &rt), EKL_EINVAL);
}
END_TEST

static Suite *topology_suite(void)
{
	Suite *s = suite_create("topology");
	TCase *tc;

	tc = tcase_create("topo_load");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_load_example);
	tcase_add_test(tc, test_load_defaults_and_files);
	tcase_add_test(tc, test_load_deployment);
	tcase_add_test(tc, test_load_placement);
	tcase_add_loop_test(tc, test_load_errors, 0,
			    (int)(sizeof(bads) / sizeof(bads[0])));
	tcase_add_test(tc, test_load_file_errors);
	tcase_add_test(tc, test_load_out_of_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("topo_names");
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(topology_suite());
}
