/* plan.h: lab plans: a topology and a list of steps (renewals, upgrades,
 * verify-mode changes, faults, writes, waits) with expectations, checked
 * offline against the model (`ekulab plan check`) or run live (`ekulab
 * plan run`); and the exploration of upgrade/renewal orderings (`ekulab
 * plan explore`). docs/plans.md describes the format. Example:
 *
 *   topology: ../three-node.yaml     # path relative to the plan, or a mapping
 *   steps:
 *     - write: 200
 *     - renew: {node: node2, profile: server-only}  # ca:, days:, via:
 *     - upgrade: {node: node3, version: X15.4}
 *     - verify: {mode: permissive}                        # node: for one
 *     - fault: {kind: partition, shape: isolate, node: node3, name: cut3}
 *     - heal: cut3                                        # or all
 *     - wait: 2
 *     - expect: {link: [node1, node2], state: down, code: client-purpose}
 *     - expect: {replicating: all}
 *
 * Three parts: parsing (plan_parse.c, plan_steps.c, plan_yaml.c), the
 * model's walk through the steps (plan_check.c: plan_apply,
 * plan_expect_eval, the partition shapes), and the ordering search
 * (plan_explore.c). `plan run` (the lab runtime) uses plan_load, plan_sim,
 * plan_apply, plan_partition_cuts and plan_expect_eval on observations
 * shaped as a lab_prediction.
 */
#ifndef EKULAB_PLAN_H
#define EKULAB_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/labmodel.h"
#include "model/topology.h"

#define PLAN_NAME_MAX  63  /* a fault name */
#define PLAN_TEXT_MAX  160 /* a step as text */
#define PLAN_MAX_STEPS 1000

enum plan_step_kind {
	PLAN_WRITE = 0, /* acknowledged writes on the primary */
	PLAN_RENEW,	/* new certificate for a node */
	PLAN_UPGRADE,	/* new software version for a node */
	PLAN_VERIFY,	/* verify mode of the cluster or one node */
	PLAN_FAULT,	/* a node, partition or link fault */
	PLAN_HEAL,	/* end one fault or all */
	PLAN_WAIT,	/* let the lab settle */
	PLAN_EXPECT,	/* an expectation on links and replication */
};
/* "write" "renew" "upgrade" "verify" "fault" "heal" "wait" "expect" */
const char *plan_step_kind_name(enum plan_step_kind k);

/* How a renew step puts the certificate on the node. */
enum plan_via {
	PLAN_VIA_UPLOAD = 0, /* the web UI: the upload rule may refuse it */
	PLAN_VIA_SCP,	     /* copied to /persistent/Certs: the notice's
				workaround, never refused */
};
/* "upload" "scp"; parse returns 0 or EKL_EINVAL. */
const char *plan_via_name(enum plan_via v);
int plan_via_parse(const char *s, enum plan_via *out);

enum plan_fault_kind {
	PLAN_F_KILL = 0,   /* node stops (SIGKILL); heal restarts it */
	PLAN_F_PAUSE,	   /* node freezes (SIGSTOP); heal resumes it */
	PLAN_F_RESUME,	   /* node continues: ends its kill/pause faults */
	PLAN_F_RESTART,	   /* node restarts: ends its kill/pause faults */
	PLAN_F_PARTITION,  /* directed cuts from a shape */
	PLAN_F_DOWN,	   /* link faults on [a, b], both directions: */
	PLAN_F_BLACKHOLE,  /*   connections hang (cut in the model) */
	PLAN_F_RESET,	   /*   connections are reset (cut) */
	PLAN_F_LATENCY,	   /*   delay `ms` (the model ignores timing) */
	PLAN_F_BANDWIDTH,  /*   at most `kbps` (ignored by the model) */
	PLAN_F_SLOW_CLOSE, /*  closes arrive `ms` late (link stays up) */
	PLAN_F_TIMEOUT,	   /*  nothing moves; closed after `ms` (cut) */
	PLAN_F_SLICER,	   /*  bytes in small pieces (link stays up) */
	PLAN_F_LIMIT_DATA, /*  closed after `bytes` (cut) */
};
/* "kill" "pause" "resume" "restart" "partition" "down" "blackhole"
 * "reset" "latency" "bandwidth" "slow_close" "timeout" "slicer"
 * "limit_data"; parse returns 0 or EKL_EINVAL. */
const char *plan_fault_kind_name(enum plan_fault_kind k);
int plan_fault_kind_parse(const char *s, enum plan_fault_kind *out);

/* A link fault: down .. limit_data (it takes link:, direction:,
 * toxicity:). */
bool plan_fault_is_link(enum plan_fault_kind k);

/* Which bytes of each connection of the link a link fault acts on. */
enum plan_direction {
	PLAN_DIR_BOTH = 0,   /* both ways (the default) */
	PLAN_DIR_UPSTREAM,   /* what the dialling node sends */
	PLAN_DIR_DOWNSTREAM, /* what the dialled node sends back */
};
/* "both" "upstream" "downstream"; parse returns 0 or EKL_EINVAL. */
const char *plan_direction_name(enum plan_direction d);
int plan_direction_parse(const char *s, enum plan_direction *out);

enum plan_shape {
	PLAN_SHAPE_ISOLATE = 0, /* node: every link to and from it */
	PLAN_SHAPE_HALVES,	/* first ceil(n/2) nodes (file order) | rest */
	PLAN_SHAPE_RING,	/* each node reaches only its ring neighbours */
	PLAN_SHAPE_BRIDGE,	/* node reaches both halves of the others,
				   which do not reach each other */
	PLAN_SHAPE_ONE_WAY,	/* connections from `from` to `to` fail */
};
/* "isolate" "halves" "ring" "bridge" "one-way"; parse: 0 or EKL_EINVAL. */
const char *plan_shape_name(enum plan_shape s);
int plan_shape_parse(const char *s, enum plan_shape *out);

struct plan_partition {
	enum plan_shape shape;
	int node; /* isolate, bridge; else -1 */
	int from; /* one-way; else -1 */
	int to;
};

/* The directed cuts of a partition over t's nodes (indices as in
 * t->nodes), the one definition the model and the live runtime share:
 *   isolate N: N->x and x->N for every other x.
 *   halves:    A = the first ceil(n/2) nodes in file order, B = the rest;
 *              every a->b and b->a.
 *   ring:      nodes in file order on a ring; i reaches i-1 and i+1 (mod
 *              n) only; every other directed pair is cut (nothing for n<=3).
 *   bridge N:  the others in file order split as for halves; cut between
 *              the two halves both ways; N keeps every link.
 *   one-way F T: F->T only (connections F initiates to T fail; T->F
 *              works).
 * Returns 0, or EKL_EINVAL (err says why) when a node index the shape
 * needs is missing or out of range, or a shape needs more nodes. */
int plan_partition_cuts(const struct topo *t, const struct plan_partition *p,
			struct lab_cuts *out, char *err);

struct plan_fault {
	char name[PLAN_NAME_MAX + 1]; /* given, or "<kind>-<step number>" */
	enum plan_fault_kind kind;
	int node;		    /* kill, pause, resume, restart; else -1 */
	struct plan_partition part; /* partition */
	int link[2];		    /* link faults; else -1 */
	int ms; /* latency: delay (optional jitter_ms); slow_close:
		   delay of the close; timeout: close after (0:
		   never) */
	int jitter_ms;
	int kbps;	    /* bandwidth */
	int average_size;   /* slicer: piece size +- size_variation, */
	int size_variation; /* delay_us between pieces */
	int delay_us;
	long long bytes;	       /* limit_data */
	enum plan_direction direction; /* link faults */
	/* link faults: the share of connections it acts on, 0-1 (default
	 * 1). A fault that cuts (plan_fault_cuts) takes only 0 or 1 in a
	 * plan: with anything between, some connections are cut and others
	 * not, which the model cannot predict. */
	double toxicity;
};

/* A fault of kind k with every default: no node, no link, both
 * directions, toxicity 1, no parameters. */
void plan_fault_init(struct plan_fault *f, enum plan_fault_kind k);

/* Does the fault cut the link it is on, in the model? down, blackhole,
 * reset, timeout and limit_data with toxicity 1 (whatever their
 * direction: a connection that cannot carry one way cannot carry the
 * link; limit_data ends every connection, so the link cannot stay up);
 * latency, bandwidth, slow_close and slicer never do (the link stays up,
 * slower); a partition cuts what plan_partition_cuts says; node faults
 * cut no link. */
bool plan_fault_cuts(const struct plan_fault *f);

/* The expectation of an expect step; each part is optional, at least one
 * is given. */
struct plan_expect {
	bool has_link; /* link: [a, b] */
	int link[2];
	bool has_state; /* state: up | down */
	bool up;
	bool has_code; /* code: the pair's reason (state down) */
	struct lab_why code;
	bool has_direction; /* direction: [from, to] with result: */
	int dir[2];
	struct lab_why dir_result; /* ok, a code, cut, ... */
	bool has_carrier;	   /* carrier: [from, to] (state up) */
	int carrier[2];
	bool has_replicating; /* replicating: all | none | [names] */
	uint64_t replicating; /* bit i: node i replicates (never the
				 primary: it is the source) */
	bool repl_all;	      /* written as all (for text) */
	/* Zone services (endpoint indices: nodes, then externals):
	 * service: S with between: [a, b] (state:, code: as for a link:
	 * up when every direction the zone may open works) or direction:
	 * [from, to] (code: ok or the reason). service: clusterdb is the
	 * ClusterDB link (link:, direction:). */
	bool has_service;
	enum pol_service service;
	bool has_between;
	int between[2];
	/* finding: version-mismatch, zone: [client, server], present:
	 * true|false; `zone` indexes topo->zones (a traversal zone). */
	bool has_finding;
	int zone;
	bool present;
};

struct plan_step {
	enum plan_step_kind kind;
	int line; /* 1-based position of the step in the plan */
	int column;
	char text[PLAN_TEXT_MAX]; /* e.g. "renew node2 server-only/unrestricted"
				   */
	/* write */
	long count;
	/* wait, in milliseconds */
	long wait_ms;
	/* renew, upgrade, verify (node -1 = every node) */
	int node;
	enum pki_profile profile; /* renew */
	bool has_ca;		  /* else the node's current issuing CA */
	enum pki_ca ca;
	int days;	   /* 0: wide validity in the model, PKI default live */
	bool client;	   /* renew the X15.5 client certificate */
	enum plan_via via; /* renew */
	char version[TOPO_VERSION_MAX + 1]; /* upgrade */
	enum pol_mode mode;		    /* verify */
	/* fault */
	struct plan_fault fault;
	/* heal: a fault name, or "" for all */
	char heal[PLAN_NAME_MAX + 1];
	/* expect */
	struct plan_expect expect;
};

/* Fill st->text from the step (what plan_load writes there; the soak
 * builds steps itself). */
void plan_step_text(const struct topo *t, struct plan_step *st);

struct plan {
	char path[512];		 /* the plan file */
	int64_t at;		 /* `at:` evaluation time, or 0 (now) */
	char topo_path[1024];	 /* the topology file, or "" when inline */
	struct topo topo;	 /* owned */
	struct plan_step *steps; /* owned, n_steps */
	size_t n_steps;
};

/* Read and validate a plan: its topology (file or inline), every step,
 * node names, versions, profiles, CAs, shapes, fault names (unique; heal
 * names an earlier fault). On error *p holds nothing and err reads
 * "PATH:LINE:COLUMN: key 'steps[3].renew.profile': ...". Returns 0,
 * EKL_ECONFIG, EKL_ENOENT / EKL_EPERM / EKL_EIO (a file) or EKL_ENOMEM.
 * Free with plan_free. */
int plan_load(const char *path, struct plan *p, char *err);
/* Accepts NULL and a zeroed plan. */
void plan_free(struct plan *p);

/* ---- walking the model through a plan ---- */

#define PLAN_MAX_FAULTS 64

struct plan_active_fault {
	struct plan_fault f;
	struct lab_cuts cuts; /* the directed cuts it makes */
};

/* The model's state while walking a plan: the lab state plus the faults
 * in force (their cuts are unioned into lab.cuts; node faults stop nodes). */
struct plan_sim {
	struct lab_state lab;
	struct plan_active_fault faults[PLAN_MAX_FAULTS];
	size_t n_faults;
};

/* Start: the plan's topology as written, everything running, at `at` (0:
 * the plan's `at:`, else now). */
void plan_sim_init(struct plan_sim *s, const struct plan *p, int64_t at);
/* Read the `file:` certificates that exist against `store` (see
 * labmodel_load_files; NULL: assumed trusted). Returns 0 or an error
 * naming the file. Then free with plan_sim_free (also after an error). */
int plan_sim_load_files(struct plan_sim *s, struct x509_store_st *store,
			char *err);
/* Frees what plan_sim_load_files loaded; accepts NULL. */
void plan_sim_free(struct plan_sim *s);

/* What a renew step did (an outcome, never an error: the plan goes on). */
enum plan_renew_result {
	PLAN_RENEW_UPLOADED = 0, /* via upload, the rule accepted it */
	PLAN_RENEW_REFUSED,	 /* via upload, the rule refused it: the node
				    keeps its certificate */
	PLAN_RENEW_COPIED,	 /* via scp: in place whatever the rule says */
};
/* "uploaded" "refused" "copied" */
const char *plan_renew_result_name(enum plan_renew_result r);

struct plan_outcome {
	bool renew; /* a renew step: the fields below are set */
	enum plan_renew_result result;
	/* The upload rule's verdict on the node at that moment (for scp:
	 * what the web UI would have said), and the node as it saw it. */
	struct xpw_upload upload;
	struct xpw_node node;
	char version[TOPO_VERSION_MAX + 1];
};

/* Apply one step to the model (write, wait and expect change nothing).
 * A renew step asks the upload rule first (labmodel_upload): via upload
 * a refusal changes nothing; via scp the certificate is put in place
 * anyway. `out` (may be NULL) says what happened. No step starts or
 * resumes a node but heal, resume and restart: an upgrade, renewal or
 * verify change of a killed or paused node leaves it not running.
 * Returns 0, or EKL_EINVAL when the step cannot apply (too many faults);
 * a refused renewal is not an error. */
int plan_apply_outcome(struct plan_sim *s, const struct plan_step *st,
		       struct plan_outcome *out, char *err);
/* plan_apply_outcome without the outcome. */
int plan_apply(struct plan_sim *s, const struct plan_step *st, char *err);

/* The outcome as one sentence, the same in `plan check` and `plan run`:
 *   uploaded  "uploaded: X15.5 server certificate: serverAuth is enough"
 *   refused   "refused: node2 (X15.3.2, Expressway-C) refuses the upload:
 *             ...; node2 keeps its certificate (would pass with: ...)"
 *   copied    "copied in by SCP (the upload would have been refused: ...)"
 * `at` dates the alternatives (xpw_unblock); `brief` leaves them out (the
 * words before them are the same). */
void plan_outcome_text(const struct plan_outcome *o, const struct topo *t,
		       const struct plan_step *st, int64_t at, bool brief,
		       char *buf, size_t len);

/* ---- what a write step does ---- */

/* The bound on a write that gets no answer: a paused primary accepts the
 * admin connection (the kernel queues it) but never answers, so the
 * write waits this long, then the step reports a timeout. */
#define PLAN_WRITE_TIMEOUT_MS 5000

enum plan_write_result {
	PLAN_WRITE_APPLIED = 0, /* the primary runs: every write is
				   acknowledged */
	PLAN_WRITE_REFUSED,	/* the primary is killed: its admin socket
				   refuses the connection */
	PLAN_WRITE_TIMEOUT,	/* the primary is paused: no answer within
				   PLAN_WRITE_TIMEOUT_MS */
};
/* "applied" "refused" "timeout" */
const char *plan_write_result_name(enum plan_write_result r);

struct plan_write {
	enum plan_write_result result;
	/* When applied: bit i set = node i receives the writes (it
	 * replicates from the primary in `p`); never the primary. */
	uint64_t replicas;
};

/* What a write step does in state s with prediction p (labmodel_predict
 * of s): the primary running (links and faults do not matter: writes
 * reach it on its admin socket) -> applied, replicated to the nodes that
 * replicate; killed -> refused; paused -> timeout. */
void plan_write_predict(const struct lab_state *s,
			const struct lab_prediction *p, struct plan_write *out);
/* "applied on node1, replicated to node2, node3" / "refused: node1 is
 * not running (connection refused)" / "times out after 5 s: node1 is
 * paused". */
void plan_write_text(const struct plan_write *w, const struct topo *t,
		     size_t primary, char *buf, size_t len);

/* Does `obs` (a prediction, or a live observation in the same shape) meet
 * the expectation? When not, `why` (len bytes) says what was seen, e.g.
 * "node1-node2 is up (carried by node1 -> node2)". */
bool plan_expect_eval(const struct plan_expect *e, const struct topo *t,
		      const struct lab_prediction *obs, char *why, size_t len);

/* The expectation as text, e.g. "link node1-node2 down (client-purpose)". */
void plan_expect_text(const struct plan_expect *e, const struct topo *t,
		      char *buf, size_t len);

/* ---- plan check ---- */

struct plan_check_step {
	bool changed; /* the prediction differs from the one before */
	/* renew steps: what the upload rule did (outcome.renew is set) */
	struct plan_outcome outcome;
	/* write steps: what the write does */
	struct plan_write write;
	/* After the step; shared with the step before when unchanged. */
	const struct lab_prediction *pred;
	bool agrees;   /* expect steps: the prediction meets it */
	char why[256]; /* when it does not: what the model predicts */
};

struct plan_check {
	int64_t at;			    /* the evaluation time used */
	const struct lab_prediction *start; /* before step 1 */
	struct plan_check_step *steps;	    /* owned: one per plan step */
	struct lab_prediction **preds;	    /* owned: the distinct ones */
	size_t n_preds;
	size_t n_steps;
	size_t n_expect;
	size_t n_disagree;
	size_t n_refused; /* renew steps the upload rule refused */
	/* The first step after which a node that replicated stops: index
	 * into steps, or -1; the node and why. */
	long break_step;
	int break_node;
	struct lab_why break_why;
};

/* Predict every step, at `at` (0: the plan's at:, else now), reading
 * `file:` certificates against `store` (NULL: assumed trusted). Returns 0
 * or a negative code (err). Free with plan_check_free (also after an
 * error). */
int plan_check_run(const struct plan *p, int64_t at,
		   struct x509_store_st *store, struct plan_check *out,
		   char *err);
void plan_check_free(struct plan_check *c);

/* ---- plan explore ---- */

#define PLAN_EXPLORE_MAX_STEPS 20 /* 20! still fits in 64 bits */
#define PLAN_EXPLORE_FAILURES  5

struct plan_goal {
	const char *version;	  /* every node ends on this version */
	enum pki_profile profile; /* ... with a certificate of this profile */
	bool has_ca;		  /* ... from this issuing CA; else its own */
	enum pki_ca ca;
	enum lab_criterion criterion;
	bool allow_scp; /* a renewal the upload rule refuses is copied in by
			   SCP instead (else it blocks the ordering) */
};

struct plan_xstep {
	int node;
	bool upgrade;			    /* else renew */
	char version[TOPO_VERSION_MAX + 1]; /* upgrade: to this version */
	enum pki_profile profile;	    /* renew: to this profile and CA */
	enum pki_ca ca;
	char to[TOPO_VERSION_MAX +
		40]; /* "X15.4" or "server-only/unrestricted" */
};

struct plan_xfailure {
	uint32_t done;	/* the steps done (bit k: xsteps[k]) when the state
			   first became unsafe, or before the refused step */
	uint64_t count; /* orderings that fail first there */
	int a, b;	/* the first pair down (node indices), or -1 */
	struct lab_why why;
	int node; /* for the primary criterion: the first node not
		     replicating */
	/* For the services criterion when replication holds: the first zone
	 * connection that fails (service, a -> b as endpoint indices), or
	 * -1. */
	int service;
	/* A refused renewal (>= 0: the step, refused right after `done`;
	 * a, b, why and node unused) rather than an unsafe state. */
	int refused;
	struct xpw_upload upload; /* when refused >= 0 */
};

/* Why no ordering reaches the goal (every one hits a refused renewal or
 * an unreleased version). */
struct plan_xblock {
	bool blocked;
	bool release; /* the goal version is not out at `at` */
	int step;     /* a renewal refused both before and after its node's
			 upgrade (the first), or -1 */
	struct xpw_upload upload; /* its verdict at the goal version */
	struct xpw_node node;	  /* the node as the rule saw it */
	char unblock[600];	  /* what would let it through (xpw_unblock) */
};

struct plan_explore {
	struct plan_xstep steps[PLAN_EXPLORE_MAX_STEPS];
	size_t n_steps;
	bool start_safe;
	uint64_t orderings; /* n_steps! */
	uint64_t safe;	    /* orderings whose every renewal is accepted
			       when it happens (or copied, allow_scp) and
			       that are safe at every intermediate state */
	uint64_t refused;   /* orderings that hit a refused renewal first */
	struct plan_xblock block;
	uint64_t unsafe_subsets;
	struct plan_xfailure failures[PLAN_EXPLORE_FAILURES]; /* most common */
	size_t n_failures;
	int recommended[PLAN_EXPLORE_MAX_STEPS]; /* step indices, when safe>0 */
	/* The start state's failure, when !start_safe. */
	struct plan_xfailure start_failure;
};

/* Count the orderings of the steps from t's state to `goal` that keep the
 * criterion at every state (start included) and whose every step can
 * happen when it comes: a renewal is accepted by the node's upload rule
 * at its version then (an SCP copy with goal->allow_scp), an upgrade
 * needs the goal version released at `at` (xpw_released). By dynamic
 * programming over subsets of steps (the state after a set of steps
 * depends only on the set; whether a step may follow a set depends only
 * on the set). Returns 0, or EKL_EINVAL (more than PLAN_EXPLORE_MAX_STEPS
 * steps, a bad version) or EKL_ENOMEM. */
int plan_explore_run(const struct topo *t, const struct plan_goal *goal,
		     int64_t at, struct plan_explore *out, char *err);

/* The steps from t's nodes to the goal, in node order (upgrade before
 * renew for each node): what plan_explore_run orders. Returns 0, or
 * EKL_EINVAL when there are more than PLAN_EXPLORE_MAX_STEPS or the goal
 * version is unknown. */
int plan_explore_steps(const struct topo *t, const struct plan_goal *goal,
		       struct plan_xstep *steps, size_t *n, char *err);

/* Apply the steps of `done` (bit k: steps[k]) to *s, in index order (the
 * steps touch different things, so the order does not matter). */
void plan_explore_apply(struct lab_state *s, const struct plan_xstep *steps,
			size_t n, uint32_t done);

/* May step k of x follow the steps of `done` (not in it)? `s` is the
 * state after `done` (plan_explore_apply). For a renewal, *up (may be
 * NULL) gets the upload rule's verdict at the node's version then; it may
 * follow when accepted or goal->allow_scp. An upgrade may follow when the
 * goal version is released at s->at. */
bool plan_explore_allowed(const struct lab_state *s, const struct plan_goal *g,
			  const struct plan_explore *x, size_t k,
			  struct xpw_upload *up);

#endif
