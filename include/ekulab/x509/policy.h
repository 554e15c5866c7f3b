/* policy.h: the one pure function that decides every EKU outcome.
 *
 * A connection has an initiator (TLS client) and an acceptor (TLS server),
 * each an Expressway node or an external peer (struct pol_node), and a
 * service (ClusterDB or a zone service). pol_decide() says whether it
 * succeeds or which side rejects and why; pol_decide_mra() does the same
 * for MRA's SIP SERVICE certificate check, which is a message, not a
 * handshake. The live TLS code (tls.h) does not re-implement these rules:
 * it asks pol_rules() what a verifier enforces and configures OpenSSL from
 * that, and `ekulab matrix` proves on real handshakes that both agree.
 * Who opens a service's connections is policy too (pol_service_dialer,
 * pol_may_initiate): topology and lab code ask, never hard-code.
 *
 * Predicting a zone of a deployment: describe every node and external as a
 * struct pol_node (kind, role, version, mode, switches, chains); for each
 * pair (a, b) across the zone and each service s of the zone, when
 * pol_may_initiate(s, &a, &b), pol_decide() the connection a -> b. For MRA,
 * pol_decide() with POL_SVC_MRA over each C -> E traversal pair gives the
 * outcome end to end (handshake, then E's certificate in the SIP SERVICE
 * message). Live, a tls_ctx per endpoint and service (tls.h) and
 * tls_verify_chain() for the message run the same rules.
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

/* The services a connection can belong to: ClusterDB and the zone services
 * of an Expressway deployment (docs/model.md, "Services"). The names are a
 * contract (plans, JSON, the matrix). Columns: enum, name, who opens the
 * connection (enum pol_dialer below).
 *
 *   clusterdb   cluster replication between the peers of one cluster
 *   traversal   (UC) traversal zone: Expressway-C opens it to Expressway-E
 *   mra         MRA's SIP SERVICE certificate check: not a handshake but a
 *               message E sends over the traversal connection, which C
 *               validates (pol_decide_mra)
 *   neighbour   SIP neighbour zone with TLS verify on (Unified CM, Unity,
 *               CUBE, Meeting Server, or another Expressway)
 *   b2b         business-to-business SIP
 *   federation  SIP IM&P and XMPP federation
 *   cloud       Cisco cloud connection: the Expressway opens it */
#define POL_SERVICES(X)                                                        \
	X(POL_SVC_CLUSTERDB, "clusterdb", POL_DIALS_EITHER)                    \
	X(POL_SVC_TRAVERSAL, "traversal", POL_DIALS_CLIENT_CLUSTER)            \
	X(POL_SVC_MRA, "mra", POL_DIALS_CLIENT_CLUSTER)                        \
	X(POL_SVC_NEIGHBOUR, "neighbour", POL_DIALS_EITHER)                    \
	X(POL_SVC_B2B, "b2b", POL_DIALS_EITHER)                                \
	X(POL_SVC_FEDERATION, "federation", POL_DIALS_EITHER)                  \
	X(POL_SVC_CLOUD, "cloud", POL_DIALS_EXPRESSWAY)

enum pol_service {
#define POL_SVC_ENUM(name, text, dialer) name,
	POL_SERVICES(POL_SVC_ENUM)
#undef POL_SVC_ENUM
	    POL_SVC_COUNT
};

/* "clusterdb" "traversal" "mra" "neighbour" "b2b" "federation" "cloud";
 * "?" out of range. parse returns 0 or EKL_EINVAL (exact, lower case). */
const char *pol_service_name(enum pol_service s);
int pol_service_parse(const char *s, enum pol_service *out);

/* Who opens a service's connections (F17-F19).
 *   EITHER          either end may dial (ClusterDB: every peer dials every
 *                   other; neighbour, b2b, federation: either side)
 *   CLIENT_CLUSTER  the traversal client, Expressway-C, dials the traversal
 *                   server, Expressway-E (traversal; mra rides on that
 *                   connection, E sends the message, C checks it)
 *   EXPRESSWAY      the Expressway dials the external peer, never the
 *                   reverse (cloud) */
enum pol_dialer {
	POL_DIALS_EITHER = 0,
	POL_DIALS_CLIENT_CLUSTER,
	POL_DIALS_EXPRESSWAY
};
enum pol_dialer pol_service_dialer(enum pol_service s);
/* "either" "client-cluster" "expressway" */
const char *pol_dialer_name(enum pol_dialer d);

/* The service whose handshake rules a connection of `s` uses: traversal for
 * mra (the message travels over the traversal connection), else s. A TLS
 * context built for mra (tls.h) is a traversal context. */
enum pol_service pol_service_handshake(enum pol_service s);

/* What is at one end of a connection: an Expressway node or an external
 * peer. Names are a contract (topology files, JSON). */
#define POL_KINDS(X)                                                           \
	X(POL_KIND_EXPRESSWAY, "expressway")                                   \
	X(POL_KIND_CUCM, "cucm")                                               \
	X(POL_KIND_UNITY, "unity")                                             \
	X(POL_KIND_CUBE, "cube")                                               \
	X(POL_KIND_CMS, "cms")                                                 \
	X(POL_KIND_B2B_PEER, "b2b-peer")                                       \
	X(POL_KIND_FEDERATION_PEER, "federation-peer")                         \
	X(POL_KIND_CLOUD, "cloud")

enum pol_kind {
#define POL_KIND_ENUM(name, text) name,
	POL_KINDS(POL_KIND_ENUM)
#undef POL_KIND_ENUM
	    POL_KIND_COUNT
};

const char *pol_kind_name(enum pol_kind k);	       /* "?" out of range */
int pol_kind_parse(const char *s, enum pol_kind *out); /* 0 or EKL_EINVAL */
/* Every kind but POL_KIND_EXPRESSWAY. */
bool pol_kind_external(enum pol_kind k);
/* Does a peer of kind k take part in service s? An Expressway takes part
 * in every service; cucm, unity, cube and cms in neighbour; b2b-peer in
 * b2b; federation-peer in federation; cloud in cloud. */
bool pol_kind_serves(enum pol_kind k, enum pol_service s);

/* An Expressway's role: c (Expressway-C, the traversal client) or e
 * (Expressway-E, the traversal server). "c" "e"; parse returns 0 or
 * EKL_EINVAL. */
enum pol_role { POL_ROLE_C = 0, POL_ROLE_E };
const char *pol_role_name(enum pol_role r);
int pol_role_parse(const char *s, enum pol_role *out);

/* An X15.5 node's client-EKU switch for one service: the node-wide
 * default, or an override. */
enum pol_switch { POL_SW_DEFAULT = 0, POL_SW_CHECK, POL_SW_IGNORE };

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

/* One end of a connection as far as policy is concerned: an Expressway
 * node or an external peer. Zero-initialised, it is an enforcing pre-X15.4
 * Expressway-C that checks client EKU, with no certificate: set what
 * differs.
 *
 * Expressway (kind POL_KIND_EXPRESSWAY): version, mode (the TLS verify
 * mode; a zone with tls_verify off is permissive for that zone), role, the
 * X15.5 switch (client_eku_check is the node-wide default; any entry of
 * client_eku_service that is not POL_SW_DEFAULT overrides it for that
 * service; both are ignored before X15.5), and its chains.
 *
 * External peer (any other kind): mode (enforce = it verifies the peer,
 * permissive = it does not: a zone's tls_verify off) and checks_client_eku
 * (as acceptor, does it check the initiator's clientAuth? GnuTLS's server,
 * for one, does not by default: F20). version, role and the X15.5 switch
 * are ignored. It presents client_chain when initiating if it has one,
 * else server_chain. */
struct pol_node {
	enum pol_vclass version;
	enum pol_mode mode;
	bool client_eku_check;		      /* X15.5 default; true = check */
	const struct pol_chain *server_chain; /* presented when accepting */
	/* Client certificate (an X15.5 Expressway's, or an external's), or
	 * NULL. */
	const struct pol_chain *client_chain;
	enum pol_kind kind; /* POL_KIND_EXPRESSWAY (zero) or an external */
	enum pol_role role; /* Expressway: POL_ROLE_C (zero) or POL_ROLE_E */
	enum pol_switch client_eku_service[POL_SVC_COUNT]; /* X15.5 */
	bool checks_client_eku; /* external acceptors only */
};

/* The X15.5 switch of n for service s: the override when set, else the
 * node-wide client_eku_check. true = check the peer's client EKU. Only
 * meaningful for an X15.5 Expressway (pol_rules ignores it otherwise). */
bool pol_client_eku_check(const struct pol_node *n, enum pol_service s);

/* May `from` open a connection of service s to `to` (F17-F19)? ClusterDB:
 * two Expressways (whether they share a cluster is the topology's to say);
 * traversal and mra: an Expressway-C to an
 * Expressway-E; neighbour, b2b, federation: either way, at least one end
 * an Expressway and every external end of a kind that serves s; cloud: an
 * Expressway to a cloud peer. Topology and lab code ask this instead of
 * hard-coding who dials. */
bool pol_may_initiate(enum pol_service s, const struct pol_node *from,
		      const struct pol_node *to);

/* What a verifier enforces on the chain its peer presents. */
struct pol_rules {
	bool verify;	    /* false in permissive: record, never reject */
	bool require_cert;  /* reject a peer that presents no certificate */
	bool check_purpose; /* false: purpose errors at any depth are skipped */
	unsigned purpose;   /* POL_EKU_SERVER or POL_EKU_CLIENT */
	/* 0, or a second purpose required of every certificate of the chain
	 * once chain, purpose, validity and identity have passed:
	 * POL_EKU_CLIENT in the MRA check of a pre-X15.4 Expressway-C. */
	unsigned also_purpose;
};

enum pol_side { POL_SIDE_NONE = 0, POL_SIDE_INITIATOR, POL_SIDE_ACCEPTOR };
const char *pol_side_name(enum pol_side s); /* "none" "initiator" "acceptor" */

/* The rules `verifier` applies when it is on side `as` of a connection of
 * `service` (docs/model.md, the rules and services tables). Every verifier
 * that verifies (enforce) requires a certificate, a chain to its trust
 * store, validity and identity; purpose:
 *   - an initiator checks serverAuth (every kind, version and service);
 *   - an external acceptor checks clientAuth when checks_client_eku;
 *   - an Expressway acceptor: clusterdb: clientAuth before X15.4, skipped
 *     from X15.4; traversal, neighbour, b2b, federation, cloud: clientAuth
 *     on every version, skipped on X15.5 when pol_client_eku_check() is
 *     false for the service;
 *   - permissive: nothing enforced (verify false), purpose still named.
 * mra (the SIP SERVICE check, whatever `as`): the rules Expressway-C
 * applies to the chain E sends, independent of C's verify mode (a
 * modelling choice): serverAuth, then also clientAuth before X15.4. */
void pol_rules(const struct pol_node *verifier, enum pol_side as,
	       enum pol_service service, struct pol_rules *out);

/* The chain `n` presents on side `as`: an initiator presents its client
 * certificate when it has one (an X15.5 Expressway, or an external), else
 * its server certificate; an acceptor always its server certificate. */
const struct pol_chain *pol_presented(const struct pol_node *n,
				      enum pol_side as);

/* Does the chain's leaf identity match `name` (DNS name, case-insensitive,
 * one leading "*." label wildcard; or an IP address)? CN is consulted only
 * when the leaf has no DNS and no IP SAN. */
bool pol_name_matches(const struct pol_chain *ch, const char *name);

/* Check one presented chain against rules, as OpenSSL orders its checks:
 * no certificate, untrusted, purpose (leaf first, then each CA up to the
 * root), validity (root first, down to the leaf; not-yet-valid before
 * expired for each), then identity (any of `names`), then also_purpose
 * (leaf first). With rules->verify false the first failure is still
 * returned (what a permissive node would record), so callers must look at
 * rules->verify to know if it rejects. *depth is set to the offending
 * certificate's depth, or -1. */
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
 * initiator's, both with the rules of pol_service_handshake(service). A
 * side in permissive mode never rejects. For POL_SVC_MRA the handshake is
 * the traversal one and, when it succeeds, pol_decide_mra() follows: the
 * verdict is MRA's end to end. */
void pol_decide(const struct pol_conn *c, struct pol_verdict *out);

/* MRA's SIP SERVICE certificate check alone (F17): c->initiator is
 * Expressway-C, c->acceptor Expressway-E, which sends its server chain.
 * C checks it with pol_rules(C, POL_SIDE_INITIATOR, POL_SVC_MRA): chain to
 * C's trust store, serverAuth, validity at c->initiator_time, identity =
 * c->initiator_expects (E's configured name), then before X15.4 clientAuth
 * on every certificate of the chain. A rejection is C's: side
 * POL_SIDE_INITIATOR, e.g. client-purpose at depth 0 for a server-only E
 * certificate under a pre-X15.4 C (server-purpose first when both EKUs are
 * missing). c->service is not read. */
void pol_decide_mra(const struct pol_conn *c, struct pol_verdict *out);

#endif
