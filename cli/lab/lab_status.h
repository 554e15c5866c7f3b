/* lab_status.h: what a running lab looks like, in the model's terms: the
 * directional link matrix, the pairs under the link rule and replication
 * per node, from each node's admin socket, the runtime and the proxy.
 *
 * The observation is built with the model's own functions
 * (labmodel_dir_resolve, labmodel_link_decide, labmodel_repl_decide), from
 * facts the lab knows: which directions the dial mode makes, which nodes
 * run (killed and paused ones do not), which routes a fault cuts (the
 * proxy's route state), and how each handshake ended (the dialling node's
 * link table). So the live lab and the model give the same state and the
 * same words for the same facts: a killed node is `not-running`, a cut
 * connection `cut`, never a certificate or TLS code.
 */
#ifndef EKULAB_CLI_LAB_STATUS_H
#define EKULAB_CLI_LAB_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client/node_status.h"
#include "client/proxy_client.h"
#include "lab.h"
#include "model/labmodel.h"

/* One peer as a node sees it (from its `xStatus Cluster` JSON). */
struct lab_peer_status {
	bool link_up;
	char out[NODE_STATUS_CODE_MAX]; /* "up", a failure code, "-" */
	char in[NODE_STATUS_CODE_MAX];
	int out_depth; /* -1: unknown */
	int in_depth;
	char out_by[16]; /* who rejected: initiator, acceptor or "" */
	char in_by[16];
	char out_unenforced[NODE_STATUS_CODE_MAX]; /* "" when none */
	char in_unenforced[NODE_STATUS_CODE_MAX];
	/* replicating | catching-up | snapshot | stopped | - */
	char repl[NODE_STATUS_CODE_MAX];
	char reason[NODE_STATUS_CODE_MAX];
	int64_t applied;
	int64_t lag;
};

struct lab_node_status {
	bool running; /* the process runs */
	bool answers; /* its admin socket answered */
	bool paused;
	char primary[TOPO_NAME_MAX + 1];
	char verify[NODE_STATUS_CODE_MAX]; /* as it reports it, else lab.conf's
					    */
	int64_t revision;
	int64_t pid;	   /* as it reports it, or -1 */
	int64_t uptime_ms; /* as it reports it, or -1 */
	char host[256];	   /* the host it runs on (swarm runtime), or "" */
	struct lab_peer_status *peers;	    /* owned; indexed like lab nodes */
	char version[NODE_STATUS_NAME_MAX]; /* as it reports it, else
					       lab.conf's */
	/* Its zone connections as it reports them (owned, n_zones). */
	struct node_zone_status *zones;
	size_t n_zones;
};

struct lab_status {
	size_t n;  /* Expressway nodes (ClusterDB) */
	size_t ne; /* endpoints: the nodes, then the externals (lab_n) */
	struct lab_node_status *nodes; /* owned, ne entries */
	/* The proxy (none when the lab is direct): each route's state
	 * (open, down, blackhole, reset) at [from * ne + to], "" without a
	 * route; the link faults in force. */
	bool proxy_answers;
	char (*route_state)[16];	  /* owned */
	struct proxy_fault_info *lfaults; /* owned, n_lfaults */
	size_t n_lfaults;
	/* The observation in the model's terms (dir, pair, repl, running). */
	struct lab_prediction *obs; /* owned */
	/* Not observed: the model's prediction for a lab that is not up
	 * (lab_status_predicted); the pictures say so. */
	bool predicted;
};

/* Collect everything and build the observation. On error s is still
 * freed by lab_status_free. */
int lab_status_collect(const struct lab *l, struct lab_status *s, char *err);
void lab_status_free(struct lab_status *s);

/* The directed connection from -> to, in the observation's words: "ok",
 * a certificate code, "cut", "not-running", "-" (the dial mode does not
 * make it), or, dialled between running nodes with no route cut but no
 * handshake yet, the transport code the node reports ("connect-failed",
 * "timeout", ...) or "pending". */
const char *lab_status_cell(const struct lab *l, const struct lab_status *s,
			    size_t from, size_t to);
/* A zone connection from -> to (endpoints) in the observation's words,
 * like lab_status_cell; "-" when the lab has none. */
const char *lab_status_zone_cell(const struct lab *l,
				 const struct lab_status *s,
				 enum pol_service service, size_t from,
				 size_t to);
/* The pair i-j is linked under the topology's link rule. */
bool lab_status_linked(const struct lab_status *s, size_t i, size_t j);

/* What a lab that is not up would look like: the model's prediction of
 * its topology as written, in the form of an observation (s->predicted;
 * no node answers, no proxy). On error s is still freed by
 * lab_status_free. */
int lab_status_predicted(const struct lab *l, struct lab_status *s, char *err);
void lab_status_print(const struct lab *l, const struct lab_status *s,
		      bool json);
/* The same to out. */
void lab_status_fprint(const struct lab *l, const struct lab_status *s,
		       bool json, FILE *out);
/* The pictures of `lab graph` for a lab that is up. A deployment
 * (topo_is_deployment) is drawn as lab_graph.h draws it: a group per
 * cluster and per external, the zones between them, from the observation
 * s->obs; a one-cluster lab as its nodes and every directed connection,
 * each cell in lab_status_cell's words. */
void lab_status_dot(const struct lab *l, const struct lab_status *s, FILE *f);
void lab_status_svg(const struct lab *l, const struct lab_status *s, FILE *f);
/* A Mermaid flowchart (for Markdown pages): nodes, the directed
 * connections labelled and coloured by outcome. */
void lab_status_mermaid(const struct lab *l, const struct lab_status *s,
			FILE *f);

/* ---- comparing with the model ---- */

/* Do the observed directions and replication equal the prediction? (Every
 * dialled direction: the same state, and for a refusal the same code;
 * every running node: replicating or not as predicted.) When not, *why
 * says the first difference. */
bool lab_status_matches(const struct lab_prediction *pred,
			const struct lab_prediction *obs, const struct lab *l,
			char *why, size_t len);
/* "node1-node2 down (client-purpose); node3 not replicating (...)", or
 * "all links up, all replicating". */
void lab_status_summarize(const struct lab_prediction *p, const struct lab *l,
			  char *buf, size_t len);

/* The model's state of the lab as it is now (what lab_status_predict
 * predicts from): its topology, the nodes' and externals' current
 * versions, certificates and verify modes, the node faults and, with s,
 * the proxy's cuts. st needs no labmodel_free. */
int lab_status_state(const struct lab *l, const struct lab_status *s,
		     struct lab_state *st, char *err);

/* The model's prediction for the lab as it is now: its topology, the
 * nodes' current versions, certificates and verify modes (lab.conf), the
 * node faults (kill, pause) and the proxy's cuts. */
int lab_status_predict(const struct lab *l, const struct lab_status *s,
		       struct lab_prediction *pred, char *err);

/* `lab up` waits for this: until the observation equals the model's
 * prediction of the lab as it is (lab_status_predict), at most `seconds`.
 * Returns 0, EKL_ETIMEDOUT (err says the last difference) or EKL_EINTR. */
int lab_status_settle(const struct lab *l, double seconds, char *err);

#endif
