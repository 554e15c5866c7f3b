/* labmodel.h: the state of a lab and what the policy model predicts for it.
 *
 * A lab state is a topology (borrowed) plus what changes while the lab
 * runs: each node's version, certificates, verify mode and whether it is
 * running, the directed links that faults cut, and the evaluation time.
 * labmodel_predict() asks pol_decide() about every directed connection the
 * topology's dial mode makes, then derives links (the topology's link
 * rule, `cluster.link`: both or either) and replication (a node replicates
 * when it is linked to the running primary), with the one precedence of
 * reasons below, which the live observation uses too.
 *
 * Plan steps (plan.h) map onto the state-change functions below, so `plan
 * check` and the live `plan run` apply the same transitions. A prediction
 * is also the shape a live observation takes: plan_expect_eval() judges an
 * expectation against either.
 *
 * Nodes are named by their index in topo->nodes (file order). A state is a
 * plain value: assignment copies it. Copies share the file certificate
 * facts labmodel_load_files() loaded; labmodel_free() the original only.
 */
#ifndef EKULAB_LABMODEL_H
#define EKULAB_LABMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekulab/x509/pki.h"
#include "ekulab/x509/policy.h"
#include "expressway.h"
#include "topology.h"

/* X509_STORE without pulling OpenSSL headers into every user. */
struct x509_store_st;

/* ---- shared with `ekulab audit` ---- */

/* The facts of a lab certificate: leaf with the EKU of profile `p`,
 * issued by the lab's issuing CA `ca` (unrestricted: no EKU; server-only:
 * serverAuth; combined: both), under a root without EKU; anchored; DNS SAN
 * and CN `name`. Validity: the leaf from `from` - 1 hour for `days` days,
 * or wide (from - 10 years to from + 100 years) when days <= 0; the CAs
 * from `from` - 1 day for 20 years (or wide, with the leaf). */
void labmodel_lab_chain(enum pki_profile p, enum pki_ca ca, int64_t from,
			int days, const char *name, struct pol_chain *out);

/* The EKU bits (POL_EKU_*) of a lab leaf of profile p, as
 * labmodel_lab_chain issues it. */
unsigned labmodel_profile_eku(enum pki_profile p);

/* Does `from` dial `to` under `dial`? both: always; lower-name: when
 * from's name sorts first (strcasecmp: names compare case-insensitively,
 * as ekunode's do); primary: when from is the primary. */
bool labmodel_dials(enum topo_dial dial, const char *from, const char *to,
		    const char *primary);

/* One side of a connection, for labmodel_decide(). */
struct lab_peer {
	const char *name;
	enum pol_vclass vclass;
	enum pol_mode mode;
	bool client_eku_check;
	const struct pol_chain *server; /* presented when accepting */
	const struct pol_chain *client; /* X15.5 client certificate, or NULL */
};

/* The ClusterDB verdict when `ini` dials `acc`, both evaluating at `at`.
 * With `names`, the initiator expects acc->name and the acceptor accepts
 * the `n_accepts` names of its configured peers (`accepts`); without,
 * identity is not checked (the audit forecast's choice). */
void labmodel_decide(const struct lab_peer *ini, const struct lab_peer *acc,
		     bool names, const char *const *accepts, size_t n_accepts,
		     int64_t at, struct pol_verdict *out);

/* ---- the state ---- */

/* Directed cuts: bit `to` of row[from] set = connections `from` dials to
 * `to` fail (a link fault or a partition). */
struct lab_cuts {
	uint64_t row[TOPO_MAX_NODES];
};

void labmodel_cuts_clear(struct lab_cuts *c);
void labmodel_cuts_set(struct lab_cuts *c, size_t from, size_t to, bool cut);
bool labmodel_cuts_has(const struct lab_cuts *c, size_t from, size_t to);
/* dst |= src */
void labmodel_cuts_add(struct lab_cuts *dst, const struct lab_cuts *src);
size_t labmodel_cuts_count(const struct lab_cuts *c);

struct lab_cert {
	enum pki_profile profile;
	enum pki_ca ca;
	int days;	    /* > 0: valid `days` from `issued` - 1 h; 0: wide */
	int64_t issued;	    /* when it was issued (the state's `at` then) */
	int64_t not_before; /* explicit validity when both are non-zero */
	int64_t not_after;
	const char *file; /* borrowed from the topology, or NULL */
	/* The file's facts (labmodel_load_files), borrowed from the state's
	 * `facts`; NULL: modelled from profile and ca. */
	const struct pol_chain *file_facts;
};

struct lab_node_state {
	char version[TOPO_VERSION_MAX + 1];
	enum pol_vclass vclass;
	struct lab_cert cert;
	bool has_client_cert; /* X15.5 client certificate */
	struct lab_cert client_cert;
	bool client_eku_check;
	enum pol_mode verify; /* the cluster's mode unless a step changed it */
	bool running;	      /* false: killed or paused */
	bool paused; /* not running because frozen (SIGSTOP), not killed */
};

struct lab_state {
	const struct topo *topo; /* borrowed; outlives the state */
	size_t n;		 /* topo->n_nodes */
	size_t primary;		 /* index of topo->primary (the first
				    cluster's) */
	/* nodes[0 .. n): the nodes; nodes[n .. n + n_ext): the externals
	 * (endpoint indices, topo_endpoints), of which only the
	 * certificates, verify, client_eku_check (the external's
	 * checks_client_eku) and running/paused are used. */
	size_t n_ext; /* topo->n_externals */
	struct lab_node_state nodes[TOPO_MAX_NODES];
	struct lab_cuts cuts;
	int64_t at;		 /* evaluation time */
	struct pol_chain *facts; /* owned by the state that loaded them */
};

/* Every node as the topology says, running, nothing cut, `at` = now
 * (time(NULL)) unless `at` is non-zero. */
void labmodel_init(struct lab_state *s, const struct topo *t, int64_t at);

/* Free the file facts labmodel_load_files() loaded; accepts NULL. */
void labmodel_free(struct lab_state *s);

/* For each `file:` certificate that exists, read its facts
 * (certinfo_chain_file) against `store`; with store NULL the chain is
 * taken as presented and assumed trusted (the lab trusts every root of
 * its PKI). A file that does not exist keeps the profile/ca model. Returns
 * 0, or an error naming the node and file. */
int labmodel_load_files(struct lab_state *s, struct x509_store_st *store,
			char *err);

/* The index of node `name`, or -1. */
int labmodel_index(const struct lab_state *s, const char *name);
/* The endpoint index of node or external `name` (topo_endpoint_index), or
 * -1. The state changes below take endpoint indices where they say so. */
int labmodel_endpoint(const struct lab_state *s, const char *name);

/* State changes; node indices must be < s->n. renew, renew_client,
 * set_verify (one endpoint), set_running, set_paused and cut also take an
 * external's endpoint index (< s->n + s->n_ext). */
/* A new server certificate from the lab PKI, issued at s->at (days 0 =
 * wide validity); a `file:` certificate is replaced. */
void labmodel_renew(struct lab_state *s, size_t node, enum pki_profile p,
		    enum pki_ca ca, int days);
/* A new (or first) X15.5 client certificate. */
void labmodel_renew_client(struct lab_state *s, size_t node, enum pki_profile p,
			   enum pki_ca ca, int days);
/* The node as the upload rule sees it: role and server_eku_upload from
 * the topology, its current version class. */
void labmodel_xpw_node(const struct lab_state *s, size_t node,
		       struct xpw_node *out);
/* Would the node's web UI take a new lab certificate of profile p now
 * (xpw_upload; `client`: the X15.5 client certificate slot)? Steps call
 * it before labmodel_renew / labmodel_renew_client: a refused upload
 * changes nothing (plan.h). */
void labmodel_upload(const struct lab_state *s, size_t node, bool client,
		     enum pki_profile p, struct xpw_upload *out);
/* Returns 0, or EKL_EVERSION when `version` is not a known version.
 * Changes only the version: a node that is killed or paused stays so (an
 * upgrade never starts or resumes a node; nor does a renewal or a verify
 * change). */
int labmodel_upgrade(struct lab_state *s, size_t node, const char *version);
/* node < 0: every node. */
void labmodel_set_verify(struct lab_state *s, enum pol_mode mode, int node);
/* Running, or killed (paused cleared). */
void labmodel_set_running(struct lab_state *s, size_t node, bool running);
/* Paused (not running, frozen), or running again. */
void labmodel_set_paused(struct lab_state *s, size_t node, bool paused);
void labmodel_cut(struct lab_state *s, size_t from, size_t to, bool cut);

/* ---- the prediction ---- */

/* What one directed connection (i dials j) does. */
enum lab_dir_state {
	LAB_DIR_OK = 0,	     /* it connects */
	LAB_DIR_REJECTED,    /* a side rejects: see the verdict */
	LAB_DIR_CUT,	     /* the directed link is cut */
	LAB_DIR_NOT_RUNNING, /* i or j is not running */
	LAB_DIR_NOT_DIALLED, /* the dial mode never has i dial j */
};

struct lab_dir {
	enum lab_dir_state state;
	struct pol_verdict v; /* when REJECTED (v.ok false) or OK */
};

/* Why a link is down or a node does not replicate. */
enum lab_why_kind {
	LAB_WHY_NONE = 0,     /* up / replicating */
	LAB_WHY_CERT,	      /* a certificate check: `code` */
	LAB_WHY_CUT,	      /* "cut" */
	LAB_WHY_NOT_RUNNING,  /* "not-running": a node of the pair, or this
				 node, is not running */
	LAB_WHY_NOT_DIALLED,  /* "not-dialled": no one dials (dial mode) */
	LAB_WHY_PRIMARY_DOWN, /* "primary-not-running" (replication) */
};

struct lab_why {
	enum lab_why_kind kind;
	enum pol_code code; /* when kind is LAB_WHY_CERT */
};

/* "ok" for NONE, the code's name for CERT, else the words above. */
const char *labmodel_why_name(const struct lab_why *w);
/* The inverse ("ok" gives NONE); returns 0 or EKL_EINVAL. */
int labmodel_why_parse(const char *s, struct lab_why *out);
bool labmodel_why_eq(const struct lab_why *a, const struct lab_why *b);

/* One unordered pair i < j. */
struct lab_pair {
	bool linked; /* by the link rule (labmodel_link_decide) */
	/* When linked, the connection that carries the link: when both
	 * directions work, the one the lower name dials (node/net/link.c
	 * link_carrier). */
	int carrier_from;
	int carrier_to;
	struct lab_why why; /* when not linked */
};

struct lab_repl {
	bool replicating; /* the primary: true while it runs */
	struct lab_why why;
};

/* ---- the one precedence of reasons (docs/model.md) ----
 *
 * The model (labmodel_predict) and the live observation (plan run, lab
 * status) turn what they know into directions, pairs and replication with
 * these three functions, in this order, so the same facts always give the
 * same state and the same words. Outermost cause first: a process that is
 * not running makes no connection, a cut connection never reaches a
 * handshake, and only a handshake can be refused by a certificate check.
 *
 *   direction    not-dialled > not-running > cut > the handshake (ok, or
 *                the certificate code of the side that refused)
 *   pair         not-dialled (no direction dialled) > not-running > cut >
 *                a certificate code (the lower name's dial first), taken
 *                over the dialled directions that are not ok
 *   replication  not-running (this node) > primary-not-running > the
 *                reason of its pair with the primary
 */

/* What is known of one directed connection `from` -> `to`. */
struct lab_dir_facts {
	bool dialled;	   /* the dial mode has `from` dial `to`
			      (labmodel_dials) */
	bool from_running; /* neither killed nor paused */
	bool to_running;
	bool cut;	/* a fault in force cuts from -> to (a link fault or
			   a partition) */
	bool handshake; /* a handshake happened and `v` says how it ended;
			   false: the connection never reached one (refused,
			   timed out, still pending) */
	struct pol_verdict v;
};

/* The direction's state from its facts, by the precedence above:
 *   !dialled                         LAB_DIR_NOT_DIALLED
 *   !from_running || !to_running     LAB_DIR_NOT_RUNNING
 *   cut                              LAB_DIR_CUT
 *   !handshake                       LAB_DIR_CUT (no handshake happened)
 *   v.ok                             LAB_DIR_OK
 *   else                             LAB_DIR_REJECTED with v (code, side,
 *                                    depth)
 * out->v is f->v for OK and REJECTED; else zeroed with depth -1. */
void labmodel_dir_resolve(const struct lab_dir_facts *f, struct lab_dir *out);

/* A direction's result in the words of reasons: NONE (ok), CERT with the
 * code, CUT, NOT_RUNNING or NOT_DIALLED. */
void labmodel_dir_why(const struct lab_dir *d, struct lab_why *out);

/* The link rule on one pair (a, b), a != b. `ab` is a's dial to b, `ba`
 * b's dial to a; a direction in state LAB_DIR_NOT_DIALLED is one the dial
 * mode does not make (fill it with labmodel_dir_resolve). `a_lower`: a's
 * name sorts before b's (strcasecmp, as ekunode compares names), which
 * picks the carrier.
 *   rule both    linked when at least one direction is dialled and every
 *                dialled direction is OK (the default: on pre-X15.4
 *                Enforce a node whose certificate lost clientAuth breaks
 *                its own replication, as the field notice's FAQ says)
 *   rule either  linked when a dialled direction is OK
 * When linked, the carrier is the lower name's dial when it is OK, else
 * the other direction (node/net/link.c link_carrier does the same), and
 * why is NONE. When not, carrier_from/to are -1 and why follows the
 * precedence above over the dialled directions that are not OK; with no
 * dialled direction it is not-dialled. */
void labmodel_link_decide(enum topo_link rule, size_t a, size_t b, bool a_lower,
			  const struct lab_dir *ab, const struct lab_dir *ba,
			  struct lab_pair *out);

/* A node's replication: `running` (this node), `primary` (it is the
 * primary), `primary_running`, and its pair with the primary (ignored
 * for the primary itself). The primary replicates (is the source) while
 * it runs; another node while it runs, the primary runs and their pair is
 * linked; why by the precedence above. */
void labmodel_repl_decide(bool running, bool primary, bool primary_running,
			  const struct lab_pair *with_primary,
			  struct lab_repl *out);

/* ---- zone services ----
 *
 * Every zone of the topology predicted connection by connection: for each
 * node or external a at one end and b at the other, and each service of
 * the zone (its type; traversal zones with mra also mra), a -> b is listed
 * when pol_may_initiate says a may open it (and b -> a likewise). Its
 * direction state follows the one precedence (not-running > cut > the
 * handshake); the handshake is pol_decide() with the zone's service
 * (mra: the traversal handshake, then E's certificate in the SIP SERVICE
 * message under pol_decide_mra). An Expressway end of a zone with
 * tls_verify off is permissive in that zone. Identity: the initiator
 * expects the acceptor's name, the acceptor accepts the names of the
 * zone's other end. */
#define LAB_MAX_ZONE_CONNS TOPO_MAX_ZONE_CONNS

struct lab_zone_conn {
	uint8_t zone;	 /* index into topo->zones */
	uint8_t service; /* enum pol_service */
	uint8_t from;	 /* endpoint indices */
	uint8_t to;
	struct lab_dir d;
};

struct lab_zones {
	size_t n;
	struct lab_zone_conn c[LAB_MAX_ZONE_CONNS];
	/* Traversal zones whose two ends run different versions (F: C and
	 * E must run the same version): some node of the client cluster
	 * and some node of the server cluster differ in version class. A
	 * finding even when every handshake succeeds. */
	bool mismatch[TOPO_MAX_ZONES];
};

struct lab_prediction {
	size_t n;
	size_t primary;
	enum topo_link link; /* the rule labmodel_derive applies */
	/* Clusters: 0 = one cluster with `primary` and `link` (what a live
	 * observation fills); else cluster[i] is node i's cluster, whose
	 * primary is cprimary[] and link rule clink[]. */
	size_t n_clusters;
	size_t cluster[TOPO_MAX_NODES];
	size_t cprimary[TOPO_MAX_CLUSTERS];
	enum topo_link clink[TOPO_MAX_CLUSTERS];
	struct lab_zones zones;
	bool running[TOPO_MAX_NODES];
	/* dir[i][j], i != j: i dials j. */
	struct lab_dir dir[TOPO_MAX_NODES][TOPO_MAX_NODES];
	/* pair[i][j] for i < j. */
	struct lab_pair pair[TOPO_MAX_NODES][TOPO_MAX_NODES];
	struct lab_repl repl[TOPO_MAX_NODES];
};

/* Predict every directed connection, link and replication. `out` is
 * large (about 200 KB): allocate it. Returns 0 or EKL_ENOMEM. */
int labmodel_predict(const struct lab_state *s, struct lab_prediction *out,
		     char *err);

/* Derive pair[] and repl[] from n, primary, link, running[] and dir[]
 * with labmodel_link_decide and labmodel_repl_decide (labmodel_predict
 * does this; a live observer that filled dir[] with labmodel_dir_resolve
 * sets link to the topology's rule and calls it too). `names`: the n node
 * names, for the carrier rule. */
void labmodel_derive(struct lab_prediction *p, const char *const *names);

/* The primary of node i's cluster, and whether i is a primary. */
size_t labmodel_primary_of(const struct lab_prediction *p, size_t i);
bool labmodel_is_primary(const struct lab_prediction *p, size_t i);
/* Are nodes i and j in the same cluster (ClusterDB peers)? */
bool labmodel_same_cluster(const struct lab_prediction *p, size_t i, size_t j);

/* The connection of `service` from endpoint `from` to `to` in any zone,
 * or NULL when no zone has `from` open one to `to`. */
const struct lab_zone_conn *labmodel_zone_dir(const struct lab_prediction *p,
					      enum pol_service service,
					      size_t from, size_t to);
/* A service between two endpoints: false when no zone has a connection of
 * `service` between them either way. Else *out says whether it is up
 * (every direction that may be opened works: the link rule `both`) and,
 * when down, why (the one precedence, a -> b first); carrier unused. */
bool labmodel_service_between(const struct lab_prediction *p,
			      enum pol_service service, size_t a, size_t b,
			      struct lab_pair *out);
/* Does every connection of every zone work? */
bool labmodel_services_ok(const struct lab_prediction *p);
/* The first connection that does not work, or NULL. */
const struct lab_zone_conn *
labmodel_services_first_down(const struct lab_prediction *p);

/* The pair of i and j in either order (i != j). */
const struct lab_pair *labmodel_pair(const struct lab_prediction *p, size_t i,
				     size_t j);

enum lab_criterion {
	LAB_CRIT_PRIMARY = 0, /* every running node linked to the primary */
	LAB_CRIT_MESH,	      /* every pair of nodes linked */
	LAB_CRIT_SERVICES,    /* primary, and every zone connection works */
};
const char *labmodel_criterion_name(enum lab_criterion c);
int labmodel_criterion_parse(const char *s, enum lab_criterion *out);

/* Does the prediction meet the criterion? Per cluster: PRIMARY also
 * needs the primary running; MESH needs every node running and every pair
 * of a cluster linked. SERVICES: PRIMARY, and every connection of every
 * zone works (labmodel_services_ok). */
bool labmodel_safe(const struct lab_prediction *p, enum lab_criterion c);

#endif
