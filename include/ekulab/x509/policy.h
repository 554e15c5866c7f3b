/* policy.h: the one pure function that decides every EKU outcome.
 *
 * A connection has an initiator (TLS client) and an acceptor (TLS server).
 * pol_decide() says whether it succeeds or which side rejects and why. The
 * live TLS code (tls.h) does not re-implement these rules: it asks
 * pol_rules() what a verifier enforces and configures OpenSSL from that, and
 * `ekulab matrix` proves on real handshakes that both agree.
 *
 * Everything here is pure: no I/O, no clock, no allocation. Times are
 * seconds since the Unix epoch (UTC).
 */
#ifndef EKULAB_POLICY_H
#define EKULAB_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Software version classes (docs/model.md, F7). X14.* and X15.0-X15.3.* are
 * the pre-X15.4 class. */
enum pol_vclass { POL_V_PRE154 = 0, POL_V_X154, POL_V_X155 };

/* Parse a version string ("X14.3.7", "X15.3.2", "X15.4", "X15.5.1"...).
 * Returns 0 or EKL_EVERSION for anything else. */
int pol_version_parse(const char *s, enum pol_vclass *out);
/* "pre-X15.4", "X15.4", "X15.5". */
const char *pol_vclass_name(enum pol_vclass v);

enum pol_mode { POL_ENFORCE = 0, POL_PERMISSIVE };
/* "enforce" | "permissive"; returns 0 or EKL_EINVAL. */
int pol_mode_parse(const char *s, enum pol_mode *out);
const char *pol_mode_name(enum pol_mode m);

/* Which mTLS service the connection belongs to. ekunode speaks ClusterDB;
 * POL_SVC_MTLS stands for the appliance's other mTLS services (SIP neighbour
 * zone, B2B...), where X15.4 still checks client EKU. */
enum pol_service { POL_SVC_CLUSTERDB = 0, POL_SVC_MTLS };
const char *pol_service_name(enum pol_service s);

/* Outcome codes: a contract, also used in JSON output. */
#define POL_CODES(X)                                                           \
	X(POL_OK, "ok")                                                        \
	X(POL_UNTRUSTED, "untrusted")                                          \
	X(POL_EXPIRED, "expired")                                              \
	X(POL_NOT_YET_VALID, "not-yet-valid")                                  \
	X(POL_NAME_MISMATCH, "name-mismatch")                                  \
	X(POL_SERVER_PURPOSE, "server-purpose")                                \
	X(POL_CLIENT_PURPOSE, "client-purpose")                                \
	X(POL_NO_CERTIFICATE, "no-certificate")

enum pol_code {
#define POL_CODE_ENUM(name, text) name,
	POL_CODES(POL_CODE_ENUM)
#undef POL_CODE_ENUM
	    POL_CODE_COUNT
};

const char *pol_code_name(enum pol_code c);
/* Returns 0 or EKL_EINVAL. */
int pol_code_parse(const char *s, enum pol_code *out);

/* Extended key usage facts of one certificate. */
#define POL_EKU_EXT    0x01u /* the certificate has an EKU extension at all */
#define POL_EKU_SERVER 0x02u /* id-kp-serverAuth 1.3.6.1.5.5.7.3.1 */
#define POL_EKU_CLIENT 0x04u /* id-kp-clientAuth 1.3.6.1.5.5.7.3.2 */
#define POL_EKU_ANY    0x08u /* anyExtendedKeyUsage 2.5.29.37.0 */
#define POL_EKU_OTHER  0x10u /* any other OID */

#define POL_MAX_CHAIN 8
#define POL_MAX_NAMES 8
#define POL_NAME_LEN  256
#define POL_IP_LEN    46

struct pol_cert {
	unsigned eku; /* POL_EKU_* bits */
	int64_t not_before;
	int64_t not_after;
};

/* The facts of a chain one side presents, as the verifier would build it. */
struct pol_chain {
	int len;       /* certificates in certs[]; 0 = none presented */
	bool anchored; /* the chain reaches a root of the cluster trust store */
	/* certs[0] is the leaf; when anchored, certs[len-1] is the root. */
	struct pol_cert certs[POL_MAX_CHAIN];
	/* Leaf identity: subjectAltName DNS and IP entries, and the subject
	 * CN (used only when the leaf has no DNS or IP SAN). */
	int n_dns;
	char dns[POL_MAX_NAMES][POL_NAME_LEN];
	int n_ip;
	char ip[POL_MAX_NAMES][POL_IP_LEN];
	char cn[POL_NAME_LEN];
};

/* One node's configuration as far as policy is concerned. */
struct pol_node {
	enum pol_vclass version;
	enum pol_mode mode;
	bool client_eku_check; /* X15.5 setting; true (default) = check */
	const struct pol_chain *server_chain; /* presented when accepting */
	const struct pol_chain
	    *client_chain; /* X15.5 client certificate, or NULL */
};

/* What a verifier enforces on the chain its peer presents. */
struct pol_rules {
	bool verify;	    /* false in permissive: record, never reject */
	bool require_cert;  /* reject a peer that presents no certificate */
	bool check_purpose; /* false: purpose errors at any depth are skipped */
	unsigned purpose;   /* POL_EKU_SERVER or POL_EKU_CLIENT */
};

enum pol_side { POL_SIDE_NONE = 0, POL_SIDE_INITIATOR, POL_SIDE_ACCEPTOR };
const char *pol_side_name(enum pol_side s); /* "none" "initiator" "acceptor" */

/* The rules `verifier` applies when it is on side `as` of a connection of
 * `service`. Initiators check server purpose (all versions); acceptors
 * check client purpose before X15.4, skip it for ClusterDB from X15.4, and
 * skip it for every service on X15.5 with client_eku_check off. */
void pol_rules(const struct pol_node *verifier, enum pol_side as,
	       enum pol_service service, struct pol_rules *out);

/* The chain `n` presents on side `as`: an initiator presents its client
 * certificate when it has one (X15.5 only), else its server certificate. */
const struct pol_chain *pol_presented(const struct pol_node *n,
				      enum pol_side as);

/* Does the chain's leaf identity match `name` (DNS name, case-insensitive,
 * one leading "*." label wildcard; or an IP address)? CN is consulted only
 * when the leaf has no DNS and no IP SAN. */
bool pol_name_matches(const struct pol_chain *ch, const char *name);

/* Check one presented chain against rules, as OpenSSL orders its checks:
 * no certificate, untrusted, purpose (leaf first, then each CA up to the
 * root), validity (root first, down to the leaf; not-yet-valid before
 * expired for each), then identity (any of `names`). With rules->verify
 * false the first failure is still returned (what a permissive node would
 * record), so callers must look at rules->verify to know if it rejects.
 * *depth is set to the offending certificate's depth, or -1. */
enum pol_code pol_check_chain(const struct pol_rules *rules,
			      const struct pol_chain *ch,
			      const char *const *names, size_t n_names,
			      int64_t now, int *depth);

struct pol_conn {
	const struct pol_node *initiator;
	const struct pol_node *acceptor;
	enum pol_service service;
	/* Identity the initiator expects of the acceptor (its --peer NAME). */
	const char *initiator_expects;
	/* Identities the acceptor accepts inbound (its configured peers). */
	const char *const *acceptor_accepts;
	size_t n_acceptor_accepts;
	int64_t initiator_time; /* each side evaluates at its own time */
	int64_t acceptor_time;
};

struct pol_verdict {
	bool ok;
	enum pol_side side; /* who rejects; POL_SIDE_NONE when ok */
	enum pol_code code; /* POL_OK when ok */
	int depth;	    /* offending certificate depth, or -1 */
};

/* THE policy function. The initiator verifies the acceptor's certificate
 * first (it receives it first in TLS), then the acceptor verifies the
 * initiator's. A side in permissive mode never rejects. */
void pol_decide(const struct pol_conn *c, struct pol_verdict *out);

#endif
