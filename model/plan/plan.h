/* plan.h: lab plans: a topology and a list of steps (renewals, upgrades,
 * verify-mode changes, faults, writes, waits) with expectations, checked
 * offline against the model (`ekulab plan check`) or run live (`ekulab
 * plan run`); and the exploration of upgrade/renewal orderings (`ekulab
 * plan explore`). docs/plans.md describes the format. Example:
 *
 *   topology: ../three-node.yaml     # path relative to the plan, or a mapping
 *   steps:
 *     - write: 200
 *     - renew: {node: node2, profile: server-only}        # ca:, days:
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

enum plan_fault_kind {
	PLAN_F_KILL = 0,  /* node stops (SIGKILL); heal restarts it */
	PLAN_F_PAUSE,	  /* node freezes (SIGSTOP); heal resumes it */
	PLAN_F_RESUME,	  /* node continues: ends its kill/pause faults */
	PLAN_F_RESTART,	  /* node restarts: ends its kill/pause faults */
	PLAN_F_PARTITION, /* directed cuts from a shape */
	PLAN_F_DOWN,	  /* link faults on [a, b], both directions: */
	PLAN_F_BLACKHOLE, /*   connections hang (cut in the model) */
	PLAN_F_RESET,	  /*   connections are reset (cut) */
	PLAN_F_LATENCY,	  /*   delay `ms` (the model ignores timing) */
	PLAN_F_BANDWIDTH, /*   at most `kbps` (ignored by the model) */
};
/* "kill" "pause" "resume" "restart" "partition" "down" "blackhole"
 * "reset" "latency" "bandwidth"; parse returns 0 or EKL_EINVAL. */
const char *plan_fault_kind_name(enum plan_fault_kind k);
int plan_fault_kind_parse(const char *s, enum plan_fault_kind *out);

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
	int ms;			    /* latency: delay; optional jitter_ms */
	int jitter_ms;
	int kbps; /* bandwidth */
};

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
	int days;    /* 0: wide validity in the model, PKI default live */
	bool client; /* renew the X15.5 client certificate */
	char version[TOPO_VERSION_MAX + 1]; /* upgrade */
	enum pol_mode mode;		    /* verify */
	/* fault */
	struct plan_fault fault;
	/* heal: a fault name, or "" for all */
	char heal[PLAN_NAME_MAX + 1];
	/* expect */
	struct plan_expect expect;
};

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

/* Apply one step to the model (write, wait and expect change nothing).
 * Returns 0, or EKL_EINVAL when the step cannot apply (too many faults). */
int plan_apply(struct plan_sim *s, const struct plan_step *st, char *err);

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
	/* After the step; shared with the step before when unchanged. */
	const struct lab_prediction *pred;
	bool agrees;   /* expect steps: the prediction meets it */
	char why[256]; /* when it does not: what the model predicts */
};

struct plan_check {
	const struct lab_prediction *start; /* before step 1 */
	struct plan_check_step *steps;	    /* owned: one per plan step */
	struct lab_prediction **preds;	    /* owned: the distinct ones */
	size_t n_preds;
	size_t n_steps;
	size_t n_expect;
	size_t n_disagree;
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
			   first became unsafe */
	uint64_t count; /* orderings whose first unsafe prefix is `done` */
	int a, b;	/* the first pair down (node indices), or -1 */
	struct lab_why why;
	int node; /* for the primary criterion: the first node not
		     replicating */
};

struct plan_explore {
	struct plan_xstep steps[PLAN_EXPLORE_MAX_STEPS];
	size_t n_steps;
	bool start_safe;
	uint64_t orderings; /* n_steps! */
	uint64_t safe;	    /* orderings safe at every intermediate state */
	uint64_t unsafe_subsets;
	struct plan_xfailure failures[PLAN_EXPLORE_FAILURES]; /* most common */
	size_t n_failures;
	int recommended[PLAN_EXPLORE_MAX_STEPS]; /* step indices, when safe>0 */
	/* The start state's failure, when !start_safe. */
	struct plan_xfailure start_failure;
};

/* Count the orderings of the steps from t's state to `goal` that keep the
 * criterion at every state (start included), by dynamic programming over
 * subsets of steps (the state after a set of steps depends only on the
 * set). Returns 0, or EKL_EINVAL (more than PLAN_EXPLORE_MAX_STEPS steps,
 * a bad version) or EKL_ENOMEM. */
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

#endif
