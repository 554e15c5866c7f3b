/* audit.h: `ekulab audit`: the certificate inventory the field notice makes
 * the first mandatory step, and the cluster forecast.
 *
 * Three layers:
 *   1. rule functions, pure and unit-tested: the timeline risks and the
 *      options of the notice's decision tree. ClusterDB verdicts are never
 *      decided here: audit_clusterdb() asks pol_rules() and
 *      pol_check_chain(); the upload rule, the timeline's dates and the
 *      public validity caps are the Expressway model's
 *      (model/expressway.h).
 *   2. the run: read files, directories and live endpoints, build each
 *      certificate's chain against the trust store, classify its root and
 *      evaluate it for every target (audit_run).
 *   3. the forecast: renew each node's certificate server-only at expiry
 *      and find, with pol_decide(), the first date a link goes down and
 *      what prevents it (audit_forecast_run).
 * docs/audit.md describes the rules and which of them are modelling choices.
 */
#ifndef EKULAB_CLI_AUDIT_H
#define EKULAB_CLI_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/x509.h>

#include "ekulab/core/err.h"
#include "ekulab/x509/policy.h"
#include "model/expressway.h"
#include "model/topology.h"

/* ---- dates ---- */

/* "YYYY-MM-DD" / "YYYY-MM-DDTHH:MM:SSZ" (UTC). Dates themselves, and the
 * timeline of the public CA policy, come from model/expressway.h. */
void audit_format_date(int64_t t, char *buf, size_t len);
void audit_format_time(int64_t t, char *buf, size_t len);

/* ---- trust and roots ---- */

enum audit_root {
	AUDIT_ROOT_UNKNOWN = 0,
	AUDIT_ROOT_PUBLIC,
	AUDIT_ROOT_PRIVATE
};
/* "unknown" "public" "private" */
const char *audit_root_name(enum audit_root r);

struct audit_trust {
	X509_STORE *store;	       /* every root: builds the chains */
	STACK_OF(X509) *private_roots; /* the --ca roots: anchor => private */
};

/* The system store (when `system`), plus roots treated as public
 * (--public-ca files) and private roots (--ca files), each a PEM bundle.
 * Caller frees with audit_trust_free (accepts a zeroed trust). */
int audit_trust_init(struct audit_trust *t, bool system,
		     const char *const *public_files, size_t n_public,
		     const char *const *private_files, size_t n_private,
		     char *err);
void audit_trust_free(struct audit_trust *t);

/* Where the chain of x (its issuers looked up in `extra` and the store)
 * ends: anchored at a --ca root => private; at another root of the store
 * => public; not anchored => unknown, except a self-signed x => private.
 * *path (when not NULL) gets the built path (leaf first) or NULL; the
 * caller frees it with sk_X509_pop_free. */
int audit_classify(const struct audit_trust *t, X509 *x, STACK_OF(X509) *extra,
		   enum audit_root *root, STACK_OF(X509) **path, char *err);

/* ---- targets and the rules ---- */

/* A node the certificate is meant for: `--role R --version V`. */
struct audit_target {
	enum topo_role role;
	char version[TOPO_VERSION_MAX + 1];
	enum pol_vclass vclass;
	bool server_eku_upload; /* X15.4 Expressway-E: EnableServerEkuUpload */
};

/* ClusterDB in Enforce, asked of the policy: would a peer running `peer`
 * accept chain `ch` presented by its owner on side `owner` (INITIATOR:
 * the peer is the acceptor and checks client purpose with its version's
 * bypass; ACCEPTOR: the peer initiates and checks server purpose)? No
 * identity check. Returns POL_OK or the code; *depth as pol_check_chain. */
enum pol_code audit_clusterdb(const struct pol_chain *ch, enum pol_vclass peer,
			      enum pol_side owner, int64_t at, int *depth);

/* How a certificate is renewed in a hypothesis. */
enum audit_renewal {
	AUDIT_RENEW_SERVER_ONLY = 0, /* public CA, 2026 hierarchy: leaf and
					issuing CA serverAuth only */
	AUDIT_RENEW_ALTERNATE_ROOT,  /* public alternate root: combined EKU */
	AUDIT_RENEW_PRIVATE,	     /* private PKI: combined, 365 days */
	AUDIT_RENEW_LIKE, /* like for like: the leaf's and issuing CA's EKU
			     and the leaf's validity span kept (a private
			     root, which the policy change does not touch) */
};

/* The chain `orig` renewed at `start` the `how` way: leaf, issuing CA and
 * root, anchored, leaf names kept; public renewals last
 * xpw_public_max_days(start), LIKE as long as orig's leaf (at least a
 * day). */
void audit_renewed_chain(const struct pol_chain *orig, enum audit_renewal how,
			 int64_t start, struct pol_chain *out);

/* The facts the rules need about one certificate. */
struct audit_facts {
	enum audit_root root;
	bool ca;	   /* basicConstraints CA:TRUE */
	bool lets_encrypt; /* issued by Let's Encrypt (issuer O) */
	unsigned eku;	   /* POL_EKU_* */
	int64_t not_before;
	int64_t not_after;
	struct pol_chain chain; /* as a peer holding the trust store sees it */
};

/* ---- zone services ----
 *
 * Beyond ClusterDB, every zone service the target's role takes part in
 * (docs/audit.md, a modelling choice): Expressway-C: traversal (it is
 * always the client), neighbour, cloud; Expressway-E: traversal (the
 * server), mra (its certificate in the SIP SERVICE message), neighbour,
 * b2b, federation. Each is asked of pol_decide() over every direction
 * pol_may_initiate() allows, against a peer assumed to check the client
 * EKU and to hold a combined certificate: an Expressway on the target's
 * version (C and E run the same version), or an external peer of the
 * zone's kind. The audited certificate is the node's server certificate
 * and it has no X15.5 client certificate. */
#define AUDIT_MAX_SERVICES 6

struct audit_service {
	enum pol_service service;
	enum pol_code now;     /* this certificate at `at` */
	bool now_by_peer;      /* the peer rejects (else this node) */
	enum pol_code renewed; /* renewed server-only from a public CA */
	bool renewed_by_peer;
	char fix[240]; /* when either fails: what fixes it */
};

/* The zone services of role r (above); returns how many. */
size_t audit_role_services(enum topo_role r, enum pol_service *out);

/* Service s with chain ch as target t's server certificate, at `at`:
 * POL_OK or the first rejection; *by_peer says who rejects. */
enum pol_code audit_service(const struct pol_chain *ch,
			    const struct audit_target *t, enum pol_service s,
			    int64_t at, bool *by_peer);

struct audit_target_result {
	struct audit_target target;
	struct xpw_upload upload;	 /* the (server) certificate slot */
	bool has_client_slot;		 /* X15.5 */
	struct xpw_upload upload_client; /* when has_client_slot */
	enum pol_code as_client;	 /* clusterdb_as_client */
	int as_client_depth;
	enum pol_code as_server; /* clusterdb_as_server */
	int as_server_depth;
	/* The same checks on this certificate renewed server-only from a
	 * public CA at max(not_after, at). */
	struct xpw_upload renewed_upload;
	enum pol_code renewed_as_client;
	enum pol_code renewed_as_server;
	bool breaks_when_renewed; /* upload or ClusterDB */
	struct audit_service services[AUDIT_MAX_SERVICES];
	size_t n_services;
	bool service_fails; /* a zone service fails now or when renewed */
};

void audit_evaluate_target(const struct audit_facts *f,
			   const struct audit_target *t, int64_t at,
			   struct audit_target_result *out);

enum audit_risk_code {
	AUDIT_RISK_LE_CLASSIC = 0, /* Let's Encrypt classic profile */
	AUDIT_RISK_NO_CLIENT_AUTH, /* public CAs: no clientAuth from May 2026 */
	AUDIT_RISK_VALIDITY_CAP,   /* 200/100/47-day validity */
	AUDIT_RISK_CHROME,	   /* Chrome Root Program policy */
};
/* "lets-encrypt-classic" "public-no-client-auth" "validity-cap"
 * "chrome-policy" */
const char *audit_risk_name(enum audit_risk_code c);

#define AUDIT_MAX_RISKS 4

struct audit_risk {
	enum audit_risk_code code;
	int64_t date; /* when the rule takes effect */
	char text[320];
};

/* The timeline risks of an end-entity certificate with a public root,
 * renewed at max(not_after, at). Returns how many were written. */
size_t audit_risks(const struct audit_facts *f, int64_t at,
		   struct audit_risk *out, size_t max);

enum audit_opt {
	AUDIT_OPT_NO_ACTION = 0,  /* private PKI: not affected */
	AUDIT_OPT_CLASSIFY,	  /* root unknown: complete the chain */
	AUDIT_OPT_MONITOR,	  /* public, nothing breaks when renewed */
	AUDIT_OPT_ALTERNATE_ROOT, /* option A */
	AUDIT_OPT_RENEW_EARLY,	  /* option B */
	AUDIT_OPT_PRIVATE_PKI,	  /* option C, Expressway-C only */
	AUDIT_OPT_UPGRADE_X154,	  /* option D, urgent */
	AUDIT_OPT_UPGRADE_X155,	  /* option D, complete */
	AUDIT_OPT_PERMISSIVE,	  /* forecast only: insecure last resort */
	AUDIT_OPT_ZONES,	  /* what each failing zone service needs */
};
/* "no-action" "classify-root" "monitor" "alternate-root"
 * "renew-before-deadline" "private-pki" "upgrade-x15.4" "upgrade-x15.5"
 * "permissive" "zones" */
const char *audit_opt_name(enum audit_opt o);

#define AUDIT_MAX_OPTIONS 10

struct audit_option {
	enum audit_opt code;
	int64_t before; /* a deadline, or 0 */
	char text[400];
};

/* The options of the decision tree that apply to an end-entity
 * certificate, in the tree's order (A alternate root, B renew before a
 * deadline, C private PKI, D upgrade), each checked by asking the rules
 * whether it keeps the breaking targets working. With no targets every
 * option is listed. Returns how many were written. */
size_t audit_options(const struct audit_facts *f,
		     const struct audit_target_result *tr, size_t n_targets,
		     int64_t at, struct audit_option *out, size_t max);

/* ---- the run ---- */

#define AUDIT_MAX_TARGETS  8
#define AUDIT_MAX_FINDINGS 24

struct audit_strv {
	char **v; /* owned strings */
	size_t n;
};

struct audit_cert {
	char source[512]; /* file path or host:port */
	int index;	  /* position within the source */
	char subject[512];
	char issuer[512];
	char serial[96];
	char sha256[100];
	struct audit_strv sans; /* "DNS:x", "IP:x", "email:x", "URI:x" */
	struct audit_strv eku;	/* names; empty when has_eku is false */
	bool has_eku;
	struct audit_strv chain; /* subjects, leaf first */
	char root_subject[512];	 /* "" when unknown */
	bool self_signed;
	char key_type[32];
	int key_bits;
	char key_curve[32];
	int64_t days_left;
	enum pol_code validity; /* POL_OK, POL_EXPIRED or POL_NOT_YET_VALID */
	struct audit_facts f;
	struct audit_target_result targets[AUDIT_MAX_TARGETS];
	size_t n_targets;
	struct audit_risk risks[AUDIT_MAX_RISKS];
	size_t n_risks;
	struct audit_option options[AUDIT_MAX_OPTIONS];
	size_t n_options;
	char findings[AUDIT_MAX_FINDINGS][96];
	size_t n_findings;
};

struct audit_error {
	char source[512];
	char message[EKL_ERRLEN];
};

/* ---- the forecast ---- */

struct audit_fnode {
	char name[TOPO_NAME_MAX + 1];
	char version[TOPO_VERSION_MAX + 1];
	enum pol_vclass vclass;
	enum topo_role role;
	bool client_eku_check;
	char cert_label[600]; /* "file PATH" or "lab PROFILE/CA" */
	enum audit_root root;
	struct pol_chain server; /* the current certificate */
	bool has_client;	 /* an X15.5 client certificate */
	struct pol_chain client; /* renewed like for like */
	int64_t renew_at;	 /* max(server leaf notAfter, at) */
	/* SERVER_ONLY for a public (or unknown: assumed public) root, LIKE
	 * for a private one: private roots are never renewed by a public
	 * CA. */
	enum audit_renewal renewal;
	bool server_eku_upload;		  /* the topology's setting */
	struct xpw_upload renewal_upload; /* the renewal, on this node */
	/* Its cluster (ClusterDB joins the nodes of one cluster) and that
	 * cluster's verify mode, dial, link and primary; cprimary "" (nodes
	 * built by hand): the forecast's own. */
	size_t cluster;
	char cprimary[TOPO_NAME_MAX + 1];
	enum pol_mode cverify;
	enum topo_dial cdial;
	enum topo_link clink;
};

struct audit_direction {
	int initiator; /* node indices */
	int acceptor;
	struct pol_verdict v;
};

struct audit_link {
	int a, b; /* node indices, a < b */
	struct audit_direction dirs[2];
	int n_dirs;
	bool up; /* by the cluster's link rule (labmodel_link_decide) */
};

struct audit_step {
	enum audit_opt code;
	bool prevents;	      /* no link goes down any more */
	int64_t before;	      /* do it before this date */
	int64_t postpones_to; /* when it only postpones: the new date */
	/* Every renewal of the step passes its node's upload rule (the web
	 * UI); else `refused_node` (index) and `refused` say the first one
	 * refused, and the step works only with SCP copies. */
	bool upload_ok;
	int refused_node;
	struct xpw_upload refused;
	/* The version the step needs is out by `before` (xpw_release);
	 * `available` is its release, 0 when no version is needed. */
	bool in_time;
	int64_t available;
	char text[700];
};

#define AUDIT_MAX_STEPS 6

/* A zone connection that fails in the forecast. */
struct audit_zone_down {
	enum pol_service service;
	char from[TOPO_NAME_MAX + 1];
	char to[TOPO_NAME_MAX + 1];
	enum pol_code code;
	enum pol_side side; /* who rejects */
};

#define AUDIT_MAX_ZONE_DOWN 32

/* A traversal zone whose two ends run different versions (C and E must
 * run the same version): a finding even when every handshake works. */
struct audit_mismatch {
	char client[TOPO_NAME_MAX + 1]; /* the clusters */
	char server[TOPO_NAME_MAX + 1];
	char client_versions[120]; /* "X15.3.2" or "X15.3.2, X15.4" */
	char server_versions[120];
};

struct audit_forecast {
	char name[TOPO_NAME_MAX + 1];
	enum pol_mode verify;
	enum topo_dial dial;
	enum topo_link link;
	char primary[TOPO_NAME_MAX + 1];
	int64_t at;
	struct audit_fnode *nodes; /* owned */
	size_t n_nodes;
	bool breaks;
	int64_t date;		 /* first date a link is down, when breaks */
	struct audit_link *down; /* owned: the links down on that date */
	size_t n_down;
	char cause[600];
	struct audit_step steps[AUDIT_MAX_STEPS];
	size_t n_steps;
	/* The first step that prevents the break, passes every upload and
	 * can be done in time, or -1. */
	int prevention;
	/* Zones (a topology with zones:), asked of the lab model with the
	 * forecast's certificates: at `at`, and at `later_at`, once every
	 * node has been renewed (its latest renew_at). Identity is not
	 * checked (as for ClusterDB). */
	size_t n_zones;	   /* the topology's zones */
	size_t zone_conns; /* connections the zones make */
	struct audit_zone_down zones_now[AUDIT_MAX_ZONE_DOWN];
	size_t n_zones_now; /* how many fail at `at` (may exceed the
			       array) */
	int64_t later_at;
	struct audit_zone_down zones_later[AUDIT_MAX_ZONE_DOWN];
	size_t n_zones_later;
	struct audit_mismatch mismatch[TOPO_MAX_ZONES];
	size_t n_mismatch;
};

/* Simulate `nodes` from `at`: each node's server certificate is replaced
 * by its renewal (node->renewal) at node->renew_at and renewed again at
 * each expiry; every directed link is decided by pol_decide() at each
 * renewal date, and each pair by the link rule `link`. verify, dial, link
 * and primary are those of nodes without their cluster's (cprimary "");
 * the others use their cluster's. Returns true when
 * a link goes down; *date and the links down then (up to max_down,
 * *n_down) are set. */
bool audit_simulate(const struct audit_fnode *nodes, size_t n,
		    enum pol_mode verify, enum topo_dial dial,
		    enum topo_link link, const char *primary, int64_t at,
		    int64_t *date, struct audit_link *down, size_t max_down,
		    size_t *n_down);

/* The facts of a lab certificate (pki.h profile and issuing CA under the
 * lab root) issued at `from` for `days` (365 when 0), named `name`. */
void audit_lab_chain(enum pki_profile p, enum pki_ca ca, int64_t from, int days,
		     const char *name, struct pol_chain *out);

/* Load a cluster description: a topology file (*.yaml, *.yml) or a list
 * with one node a line, "NAME VERSION CERTFILE [c|e]" ('#' comments).
 * Caller frees with topo_free. */
int audit_cluster_load(const char *path, struct topo *t, char *err);

/* The forecast of a topology: nodes with `file:` certificates use the real
 * certificate (its chain against `trust`), others the lab profile. */
int audit_forecast_run(const struct topo *t, const struct audit_trust *trust,
		       int64_t at, struct audit_forecast *out, char *err);
void audit_forecast_free(struct audit_forecast *f);

/* ---- the whole run ---- */

struct audit_opts {
	const char *const *inputs; /* files, directories, HOST:PORT */
	size_t n_inputs;
	const struct audit_target *targets;
	size_t n_targets;
	const struct audit_trust *trust;
	int64_t at;
	int timeout_ms;	     /* live endpoints: connect and handshake */
	const char *cluster; /* audit_cluster_load path, or NULL */
};

struct audit_run {
	int64_t at;
	struct audit_cert *certs; /* owned */
	size_t n_certs;
	size_t cap_certs;
	struct audit_error *errors; /* owned */
	size_t n_errors;
	size_t cap_errors;
	bool has_forecast;
	struct audit_forecast forecast;
	size_t skipped; /* *.key files skipped in directories */
	bool oom;
};

/* Audit every input; per-item problems become run errors, the rest is
 * still audited. Returns 0, or EKL_ENOMEM (then err says so). Caller frees
 * with audit_run_free (also after an error). */
int audit_run(const struct audit_opts *o, struct audit_run *r, char *err);
void audit_run_free(struct audit_run *r);

/* 2 when any item had an error, else 1 when any certificate has a finding,
 * the forecast breaks, a zone connection fails in it or a traversal zone's
 * ends run different versions, else 0. */
int audit_exit_code(const struct audit_run *r);

/* ---- the reports (audit_report.c) ---- */

/* The JSON contract of docs/audit.md, one object and a newline; EKL_ENOMEM
 * when it cannot be built. */
int audit_report_json(const struct audit_run *r, FILE *f);
/* Every certificate, the forecast, the errors and a summary line. */
void audit_report_text(const struct audit_run *r, FILE *f);

/* `ekulab audit`: the trust store from the files, the run, the report. */
struct audit_show_opts {
	bool system_store;		 /* load the system trust store */
	const char *const *public_files; /* --public-ca PEM bundles */
	size_t n_public;
	const char *const *private_files; /* --ca PEM bundles */
	size_t n_private;
	struct audit_opts run; /* run.trust is set by audit_show */
	bool json;
	FILE *out;
};

/* Returns audit_exit_code() of the run, or 2 with err set when the trust
 * store or the run failed (per-item errors are in the report and make
 * the exit code 2 with err empty). */
int audit_show(const struct audit_show_opts *o, char *err);

#endif
