/* topology.h: the lab's cluster topology file (YAML), read with libyaml.
 *
 * One file describes a cluster (or a deployment, below): its name, the
 * cluster-wide verify mode, the primary, who dials whom, node defaults and
 * the nodes. `ekulab audit --cluster` forecasts it; `ekulab lab` runs it.
 * The file format (every key, its meaning and default) is documented in
 * docs/lab.md, "Topology reference" (also the man page ekulab-topology(5)).
 *
 * A deployment (docs/lab.md, "Deployments") replaces cluster: and nodes:
 * with clusters: and adds external peers and zones:
 *
 *   defaults: {version: X15.3.2, verify: enforce}
 *   clusters:
 *     core: {role: c, primary: c1, nodes: {c1: {}, c2: {}}}
 *     edge: {role: e, server_eku_upload: true, nodes: {e1: {}, e2: {}}}
 *   externals:
 *     cucm: {kind: cucm, checks_client_eku: true, cert: {profile: combined}}
 *   zones:
 *     - {type: traversal, client: core, server: edge, mra: true}
 *     - {type: neighbour, from: core, to: cucm, tls_verify: true}
 *
 * Cluster keys: role (required), primary, verify, dial, link, nodes, and
 * any node key as the cluster's default (over defaults:). defaults.verify
 * is every cluster's verify mode unless it sets its own. External keys:
 * kind (required), checks_client_eku (default true), verify (default
 * enforce), cert, client_cert. Zones: traversal {client: a role-c cluster,
 * server: a role-e cluster, mra}; neighbour, b2b, federation {from, to,
 * tls_verify (default true)}; cloud {from: a cluster, to: a cloud
 * external}. The single-cluster form is one cluster named `name`, which
 * zones may name.
 *
 * Every error names FILE:LINE:COLUMN and the key (as a dotted path, e.g.
 * nodes.node2.cert.profile). Unknown and duplicate keys are errors.
 */
#ifndef EKULAB_TOPOLOGY_H
#define EKULAB_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

#include "ekulab/x509/pki.h"
#include "ekulab/x509/policy.h"

enum topo_dial {
	TOPO_DIAL_BOTH = 0,   /* every node dials every other node */
	TOPO_DIAL_LOWER_NAME, /* of each pair, only the lower name dials */
	TOPO_DIAL_PRIMARY,    /* only the primary dials, to every other node */
};
enum topo_role { TOPO_ROLE_C = 0, TOPO_ROLE_E };
/* The link rule (docs/model.md, a modelling choice): when is a pair of
 * nodes linked, given the directions its dial mode makes? */
enum topo_link {
	TOPO_LINK_BOTH = 0, /* every dialled direction works (the default:
			       the field notice's ClusterDB behaviour) */
	TOPO_LINK_EITHER,   /* one working direction carries the link */
};

/* "both" "lower-name" "primary"; parse returns 0 or EKL_EINVAL. */
const char *topo_dial_name(enum topo_dial d);
int topo_dial_parse(const char *s, enum topo_dial *out);
/* "both" "either"; parse returns 0 or EKL_EINVAL. */
const char *topo_link_name(enum topo_link l);
int topo_link_parse(const char *s, enum topo_link *out);
/* "c" "e"; parse returns 0 or EKL_EINVAL. */
const char *topo_role_name(enum topo_role r);
int topo_role_parse(const char *s, enum topo_role *out);

#define TOPO_NAME_MAX	 63 /* longest node or cluster name */
#define TOPO_VERSION_MAX 31 /* longest version string */
#define TOPO_MAX_NODES	 64

/* A name usable as a file stem: 1-63 of [A-Za-z0-9._-], not "." or "..".
 * Two node names of a topology may not differ only in case: names compare
 * case-insensitively wherever an order matters (lower-name dial, carrier),
 * as certificate names and ekunode do. */
bool topo_name_valid(const char *s);

/* Which kind of CA a lab certificate stands for (`audit --cluster` only:
 * public certificates are renewed server-only at expiry, private ones like
 * for like; the lab and plans issue every certificate from the lab's
 * PKI). */
enum topo_root { TOPO_ROOT_PRIVATE = 0, TOPO_ROOT_PUBLIC };
/* "private" "public"; parse returns 0 or EKL_EINVAL. */
const char *topo_root_name(enum topo_root r);
int topo_root_parse(const char *s, enum topo_root *out);

struct topo_cert {
	enum pki_profile profile;
	enum pki_ca ca;
	enum topo_root root; /* default private (the lab's PKI) */
	int days;   /* validity in days; 0 = not given (the PKI default) */
	char *file; /* owned; an existing certificate to use, or NULL */
};

/* Where a node runs when a runtime spans hosts (the swarm runtime,
 * docs/docker.md): `placement: {host: NAME, labels: {KEY: VALUE}}`, a
 * host name and node labels the host must carry. Empty: not given. */
#define TOPO_PLACE_LABELS   8
#define TOPO_PLACE_TEXT_MAX 63
#define TOPO_PLACE_HOST_MAX 253
struct topo_placement {
	char host[TOPO_PLACE_HOST_MAX + 1];
	size_t n_labels;
	char label_key[TOPO_PLACE_LABELS][TOPO_PLACE_TEXT_MAX + 1];
	char label_value[TOPO_PLACE_LABELS][TOPO_PLACE_TEXT_MAX + 1];
};

struct topo_node {
	char name[TOPO_NAME_MAX + 1];
	char version[TOPO_VERSION_MAX + 1]; /* as written, e.g. "X15.3.2" */
	enum pol_vclass vclass;		    /* pol_version_parse(version) */
	enum topo_role role;
	struct topo_cert cert;
	bool has_client_cert;	      /* X15.5 client certificate */
	struct topo_cert client_cert; /* valid when has_client_cert */
	bool client_eku_check;	      /* X15.5 setting; default true */
	/* X15.4 Expressway-E: xConfiguration Certificate XCP TLS CVS
	 * EnableServerEkuUpload (the upload rule, model/expressway.h);
	 * default false, as on a fresh system. */
	bool server_eku_upload;
	char log_level[8]; /* the node's --log-level (debug, info, warn,
			      error), or "" for its default (info) */
	struct topo_placement placement; /* the swarm runtime's; may be empty */
	int line;			 /* 1-based line of the node's key */
	size_t cluster;			 /* index into topo->clusters */
};

#define TOPO_MAX_CLUSTERS  8
#define TOPO_MAX_EXTERNALS 16
#define TOPO_MAX_ZONES	   16
/* Connections all zones make together, at most (LAB_MAX_ZONE_CONNS). */
#define TOPO_MAX_ZONE_CONNS 512

/* One cluster of Expressways: its nodes are topo->nodes[first ..
 * first + count) (file order). The single-cluster form makes one, named
 * after the topology. */
struct topo_cluster {
	char name[TOPO_NAME_MAX + 1];
	enum topo_role role; /* every node of the cluster has it */
	enum pol_mode verify;
	size_t primary; /* index into topo->nodes */
	enum topo_dial dial;
	enum topo_link link;
	size_t first;
	size_t count;
	int line;
};

/* An external peer of a zone (Unified CM, Unity, CUBE, Meeting Server, a
 * B2B or federation peer, the Cisco cloud): a TLS endpoint with its own
 * verify setting and its own client-EKU check as acceptor. */
struct topo_external {
	char name[TOPO_NAME_MAX + 1];
	enum pol_kind kind;	/* never POL_KIND_EXPRESSWAY */
	enum pol_mode verify;	/* default enforce */
	bool checks_client_eku; /* as acceptor; default true */
	struct topo_cert cert;
	bool has_client_cert; /* presented when it initiates, else cert */
	struct topo_cert client_cert;
	int line;
};

/* One end of a zone: a cluster or an external. */
struct topo_zone_end {
	bool external;
	size_t index; /* into clusters[] or externals[] */
};

/* A zone between two ends (docs/lab.md, "Zones"). `type` is the zone's
 * service: POL_SVC_TRAVERSAL, _NEIGHBOUR, _B2B, _FEDERATION or _CLOUD.
 * traversal: a = the client cluster (role c), b = the server cluster
 * (role e), mra = MRA runs over it. Others: a = from, b = to; who dials
 * is pol_may_initiate's to say. tls_verify off: the Expressway ends do
 * not verify the peer in this zone (permissive); traversal always
 * verifies as its nodes do. */
struct topo_zone {
	enum pol_service type;
	struct topo_zone_end a;
	struct topo_zone_end b;
	bool mra;
	bool tls_verify; /* default true */
	int line;
};

struct topo {
	char name[TOPO_NAME_MAX + 1];
	/* The first cluster's settings (the only cluster in the
	 * single-cluster form). */
	enum pol_mode verify;
	char primary[TOPO_NAME_MAX + 1]; /* always names a node after load */
	enum topo_dial dial;
	enum topo_link link;
	struct topo_node *nodes; /* owned; n_nodes entries, in file order */
	size_t n_nodes;
	/* Always at least one after load; nodes[i].cluster indexes it. */
	struct topo_cluster clusters[TOPO_MAX_CLUSTERS];
	size_t n_clusters;
	bool multi; /* written in the clusters: form */
	struct topo_external externals[TOPO_MAX_EXTERNALS];
	size_t n_externals;
	struct topo_zone zones[TOPO_MAX_ZONES];
	size_t n_zones;
};

/* Read and validate `path` into *t (zeroed first). On error *t holds
 * nothing (no need to free) and err reads "PATH:LINE:COLUMN: key 'K': ...".
 * Returns 0, EKL_ECONFIG (content), EKL_ENOENT / EKL_EPERM / EKL_EIO (the
 * file) or EKL_ENOMEM. Caller frees a loaded topology with topo_free. */
int topo_load(const char *path, struct topo *t, char *err);

/* The same from a node of a YAML document the caller loaded (a plan's
 * inline `topology:` mapping). `path` names the file in messages and is
 * the base of relative certificate files and the default cluster name;
 * `prefix` (e.g. "topology", may be NULL) is prepended to every key in
 * messages. The document stays the caller's. */
struct yaml_document_s;
struct yaml_node_s;
int topo_load_node(const char *path, const char *prefix,
		   struct yaml_document_s *doc, struct yaml_node_s *node,
		   struct topo *t, char *err);

/* Free what topo_load allocated and zero *t; accepts NULL and a zeroed t. */
void topo_free(struct topo *t);

/* The node called `name`, or NULL. */
const struct topo_node *topo_find(const struct topo *t, const char *name);

/* A deployment: written in the clusters: form, or with externals or
 * zones (more than one cluster's ClusterDB). */
bool topo_is_deployment(const struct topo *t);

/* Endpoints: every node (indices 0 .. n_nodes-1, as in nodes[]) then every
 * external (n_nodes + k for externals[k]). At most TOPO_MAX_NODES in all
 * (topo_load checks), so a lab_cuts row covers them. */
size_t topo_endpoints(const struct topo *t);
/* The endpoint called `name`, or -1. */
int topo_endpoint_index(const struct topo *t, const char *name);
/* Its name, or "?" out of range. */
const char *topo_endpoint_name(const struct topo *t, size_t i);
/* The external of endpoint i, or NULL for a node. */
const struct topo_external *topo_endpoint_external(const struct topo *t,
						   size_t i);
/* The cluster called `name`, or -1. */
int topo_cluster_index(const struct topo *t, const char *name);
/* Is node i the primary of its cluster? */
bool topo_is_primary(const struct topo *t, size_t i);
/* The zone's end as a name (a cluster's or an external's). */
const char *topo_zone_end_name(const struct topo *t,
			       const struct topo_zone_end *e);
/* Does endpoint i belong to zone end e (a node of the cluster, or the
 * external)? */
bool topo_zone_end_has(const struct topo *t, const struct topo_zone_end *e,
		       size_t i);

#endif
