/* matrix.c: the live truth table: real handshakes vs the policy model.
 *
 * Every case is one directed connection between an initiator and an
 * acceptor, each configured like an ekunode (version, verify mode, X15.5
 * settings) or like an external peer (kind, verify, checks_client_eku),
 * with certificates from a lab PKI made for the run. The prediction comes
 * from pol_decide() fed with certificate facts read back from the very
 * files (certinfo); the observation comes from a real TLS handshake over
 * loopback TCP through the daemon's own TLS code (tls.h). A case agrees
 * when both say the same: ok, or the same rejecting side, code and (for
 * purpose errors) depth, and the other side learned that same code from
 * the TLS alert, as a node's link table would show it.
 *
 * MRA cases run the traversal handshake and then the SIP SERVICE exchange
 * over it: E sends its certificate chain (its PEM file) in a message, C
 * checks it with tls_verify_chain() under pol_rules(C, initiator, mra) and
 * answers with the code, which is how E learns it.
 *
 * Who dials in a zone service is the policy's (pol_may_initiate): the
 * generators ask it which directions exist, and every case is checked
 * against it before it runs.
 */
#include "matrix.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/x509.h>

#include "ekulab/x509/certinfo.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/tls.h"

#define MX_INI_NAME "initiator"
#define MX_ACC_NAME "acceptor"

static const char *const versions[] = {"X14.3.7", "X15.3.2", "X15.4", "X15.5"};
static const enum pki_profile leaf_profiles[] = {
    PKI_PROFILE_COMBINED, PKI_PROFILE_SERVER_ONLY, PKI_PROFILE_CLIENT_ONLY,
    PKI_PROFILE_NO_EKU};
static const enum pki_ca issuing[] = {PKI_CA_UNRESTRICTED, PKI_CA_SERVER_ONLY};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- case list ---------------------------------------------------- */

struct case_list {
	struct mx_case *v;
	size_t n;
	size_t cap;
};

static int push(struct case_list *l, const struct mx_case *c)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		struct mx_case *nv = ekl_realloc(l->v, cap * sizeof(*nv));

		if (nv == NULL)
			return EKL_ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = *c;
	return 0;
}

/* An Expressway-C node (kind and role zero) with the switch on. */
static struct mx_side side(const char *version, enum pol_mode mode,
			   enum pki_profile p, enum pki_ca ca)
{
	struct mx_side s;

	memset(&s, 0, sizeof(s));
	s.kind = POL_KIND_EXPRESSWAY;
	s.version = version;
	s.mode = mode;
	s.client_eku_check = true;
	s.profile = p;
	s.ca = ca;
	return s;
}

/* An external peer that verifies (enforce). */
static struct mx_side ext_side(enum pol_kind kind, bool checks,
			       enum pki_profile p, enum pki_ca ca)
{
	struct mx_side s;

	memset(&s, 0, sizeof(s));
	s.kind = kind;
	s.mode = POL_ENFORCE;
	s.checks_client_eku = checks;
	s.profile = p;
	s.ca = ca;
	return s;
}

static struct mx_case mkcase(const char *group, struct mx_side ini,
			     struct mx_side acc, enum pol_service svc)
{
	struct mx_case c;

	memset(&c, 0, sizeof(c));
	c.group = group;
	c.ini = ini;
	c.acc = acc;
	c.service = svc;
	c.ini_expects = MX_ACC_NAME;
	return c;
}

/* The cross product the issue asks for: version x version x mode x leaf
 * profile x issuing CA, for each side. One flat index, decoded digit by
 * digit (mixed radix), keeps the seven dimensions readable. */
static int gen_cross(struct case_list *l)
{
	static const enum pol_mode modes[] = {POL_ENFORCE, POL_PERMISSIVE};
	const size_t nv = ARRAY_LEN(versions), np = ARRAY_LEN(leaf_profiles),
		     nc = ARRAY_LEN(issuing);
	size_t total = ARRAY_LEN(modes) * nv * nv * np * nc * np * nc, i;
	int rv;

	for (i = 0; i < total; i++) {
		size_t k = i, ac, ap, ic, ip, av, iv, m;
		struct mx_case c;

		ac = k % nc, k /= nc;
		ap = k % np, k /= np;
		ic = k % nc, k /= nc;
		ip = k % np, k /= np;
		av = k % nv, k /= nv;
		iv = k % nv, k /= nv;
		m = k;
		c = mkcase("cross",
			   side(versions[iv], modes[m], leaf_profiles[ip],
				issuing[ic]),
			   side(versions[av], modes[m], leaf_profiles[ap],
				issuing[ac]),
			   POL_SVC_CLUSTERDB);
		if ((rv = push(l, &c)) != 0)
			return rv;
	}
	return 0;
}

/* X15.5: client certificate absent or present (several profiles), the
 * acceptor's client EKU check on or off, for ClusterDB and for the
 * traversal zone, C to E (where the switch is what matters). */
static int gen_x155(struct case_list *l)
{
	static const int clients[] = {-1, PKI_PROFILE_CLIENT_ONLY,
				      PKI_PROFILE_COMBINED,
				      PKI_PROFILE_SERVER_ONLY};
	static const char *const acc_versions[] = {"X15.3.2", "X15.4", "X15.5"};
	static const enum pki_profile servers[] = {PKI_PROFILE_COMBINED,
						   PKI_PROFILE_SERVER_ONLY};
	static const enum pol_service svcs[] = {POL_SVC_CLUSTERDB,
						POL_SVC_TRAVERSAL};
	const size_t nav = ARRAY_LEN(acc_versions), ncl = ARRAY_LEN(clients),
		     ns = ARRAY_LEN(servers), nsv = ARRAY_LEN(svcs);
	size_t total = nav * ncl * ns * ns * 2 * nsv, i;
	int rv;

	for (i = 0; i < total; i++) {
		size_t k = i, sv, chk, as, is, cl, av;
		struct mx_side ini, acc;
		struct mx_case c;

		sv = k % nsv, k /= nsv;
		chk = k % 2, k /= 2;
		as = k % ns, k /= ns;
		is = k % ns, k /= ns;
		cl = k % ncl, k /= ncl;
		av = k;
		ini = side("X15.5", POL_ENFORCE, servers[is],
			   PKI_CA_UNRESTRICTED);
		acc = side(acc_versions[av], POL_ENFORCE, servers[as],
			   PKI_CA_UNRESTRICTED);
		if (clients[cl] >= 0) {
			ini.has_client = true;
			ini.client_profile = (enum pki_profile)clients[cl];
		}
		acc.client_eku_check = chk == 0;
		if (svcs[sv] == POL_SVC_TRAVERSAL)
			acc.role = POL_ROLE_E;
		c = mkcase("x15.5", ini, acc, svcs[sv]);
		if ((rv = push(l, &c)) != 0)
			return rv;
	}
	return 0;
}

/* Every other code, live: untrusted, expired, not-yet-valid,
 * name-mismatch, no-certificate, anyExtendedKeyUsage, the combined CA. */
#define EDGE_CASES 14

/* Edge case k on top of two combined-certificate sides. */
static void edge_case(int k, struct mx_side *ini, struct mx_side *acc,
		      enum pol_service *svc, const char **expects)
{
	switch (k) {
	case 0: ini->other_pki = true; break;
	case 1: acc->other_pki = true; break;
	case 2: ini->expired = true; break;
	case 3: acc->expired = true; break;
	case 4: ini->not_yet = true; break;
	case 5: acc->not_yet = true; break;
	case 6: *expects = "someone-else"; break;
	case 7: ini->no_cert = true; break;
	case 8: ini->profile = PKI_PROFILE_ANY_EKU; break;
	case 9: acc->profile = PKI_PROFILE_ANY_EKU; break;
	case 10:
		ini->profile = PKI_PROFILE_SERVER_ONLY;
		ini->ca = PKI_CA_COMBINED;
		break;
	case 11:
		acc->profile = PKI_PROFILE_CLIENT_ONLY;
		acc->ca = PKI_CA_COMBINED;
		break;
	case 12:
		/* A neighbour zone between two Expressways: X15.4 still
		 * checks client EKU there. */
		ini->profile = PKI_PROFILE_SERVER_ONLY;
		*svc = POL_SVC_NEIGHBOUR;
		break;
	case 13:
		/* Two problems: the initiator's check comes first. */
		ini->profile = PKI_PROFILE_SERVER_ONLY;
		acc->profile = PKI_PROFILE_CLIENT_ONLY;
		break;
	}
}

static int gen_edge(struct case_list *l)
{
	static const char *const vs[] = {"X15.3.2", "X15.4"};
	static const enum pol_mode modes[] = {POL_ENFORCE, POL_PERMISSIVE};
	size_t total = ARRAY_LEN(modes) * ARRAY_LEN(vs) * EDGE_CASES, i;
	int rv;

	for (i = 0; i < total; i++) {
		int k = (int)(i % EDGE_CASES);
		size_t v = (i / EDGE_CASES) % ARRAY_LEN(vs);
		size_t m = i / EDGE_CASES / ARRAY_LEN(vs);
		struct mx_side ini = side(vs[v], modes[m], PKI_PROFILE_COMBINED,
					  PKI_CA_UNRESTRICTED);
		struct mx_side acc = side(vs[v], modes[m], PKI_PROFILE_COMBINED,
					  PKI_CA_UNRESTRICTED);
		enum pol_service svc = POL_SVC_CLUSTERDB;
		const char *expects = MX_ACC_NAME;
		struct mx_case c;

		edge_case(k, &ini, &acc, &svc, &expects);
		c = mkcase("edge", ini, acc, svc);
		c.ini_expects = expects;
		if ((rv = push(l, &c)) != 0)
			return rv;
	}
	return 0;
}

/* ---- the zone services -------------------------------------------- */

/* Versions of the zone grids: one per class. */
static const char *const zone_versions[] = {"X15.3.2", "X15.4", "X15.5"};

/* A certificate in the zone grids: leaf profile, issuing CA, and whether
 * an X15.5 client certificate (client-only) comes with it. */
struct cert_opt {
	const char *label;
	enum pki_profile profile;
	enum pki_ca ca;
	bool client;
};

/* What an initiator presents: combined, server-only, the 2026 public
 * hierarchy (combined leaf, server-only issuing CA), and server-only with
 * a separate client certificate. Externals take the first three. */
static const struct cert_opt ini_certs[] = {
    {"combined/u", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED, false},
    {"server-only/u", PKI_PROFILE_SERVER_ONLY, PKI_CA_UNRESTRICTED, false},
    {"combined/so", PKI_PROFILE_COMBINED, PKI_CA_SERVER_ONLY, false},
    {"server-only/u+client", PKI_PROFILE_SERVER_ONLY, PKI_CA_UNRESTRICTED,
     true},
};
#define EXT_CERTS 3

/* An Expressway acceptor: its version, and X15.5 with the client EKU
 * switch off for the case's service only (a per-service override). */
struct acc_opt {
	const char *label;
	const char *version;
	bool ignore;
};
static const struct acc_opt node_accs[] = {
    {"X15.3.2", "X15.3.2", false},
    {"X15.4", "X15.4", false},
    {"X15.5", "X15.5", false},
    {"X15.5 off", "X15.5", true},
};

/* What E presents in the MRA grid. */
static const struct cert_opt mra_certs[] = {
    {"combined/u", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED, false},
    {"server-only/u", PKI_PROFILE_SERVER_ONLY, PKI_CA_UNRESTRICTED, false},
    {"client-only/u", PKI_PROFILE_CLIENT_ONLY, PKI_CA_UNRESTRICTED, false},
    {"no-eku/u", PKI_PROFILE_NO_EKU, PKI_CA_UNRESTRICTED, false},
    {"combined/so", PKI_PROFILE_COMBINED, PKI_CA_SERVER_ONLY, false},
    {"server-only/so", PKI_PROFILE_SERVER_ONLY, PKI_CA_SERVER_ONLY, false},
};

#define BLOCK_NODES    "Expressway-C initiates (rows), Expressway-E accepts"
#define BLOCK_TO_EXT   "Expressway initiates (rows), the external peer accepts"
#define BLOCK_FROM_EXT "the external peer initiates (rows), Expressway accepts"
#define BLOCK_MRA                                                              \
	"E's certificate in the SIP SERVICE message (rows: E), checked by C "  \
	"over the traversal connection"

static struct mx_side node_ini(const char *version, enum pol_role role,
			       const struct cert_opt *o)
{
	struct mx_side s = side(version, POL_ENFORCE, o->profile, o->ca);

	s.role = role;
	if (o->client) {
		s.has_client = true;
		s.client_profile = PKI_PROFILE_CLIENT_ONLY;
	}
	return s;
}

static struct mx_side node_acc(const struct acc_opt *o, enum pol_role role,
			       enum pol_service svc)
{
	struct mx_side s = side(o->version, POL_ENFORCE, PKI_PROFILE_COMBINED,
				PKI_CA_UNRESTRICTED);

	s.role = role;
	if (o->ignore)
		s.client_eku_service[svc] = POL_SW_IGNORE;
	return s;
}

/* The external kind that stands for svc: the first that serves it. */
static enum pol_kind external_for(enum pol_service svc)
{
	int k;

	for (k = 0; k < POL_KIND_COUNT; k++)
		if (pol_kind_external((enum pol_kind)k) &&
		    pol_kind_serves((enum pol_kind)k, svc))
			return (enum pol_kind)k;
	return POL_KIND_EXPRESSWAY;
}

/* The facts pol_may_initiate() looks at, for the generators' questions. */
static struct pol_node probe(enum pol_kind kind, enum pol_role role)
{
	struct pol_node n;

	memset(&n, 0, sizeof(n));
	n.kind = kind;
	n.role = role;
	return n;
}

static struct mx_case grid_case(const char *group, const char *block,
				struct mx_side ini, struct mx_side acc,
				enum pol_service svc, const char *row,
				const char *col)
{
	struct mx_case c = mkcase(group, ini, acc, svc);

	c.block = block;
	snprintf(c.row, sizeof(c.row), "%s", row);
	snprintf(c.col, sizeof(c.col), "%s", col);
	return c;
}

/* Expressway to Expressway (the traversal zone: C dials E): initiator
 * version x certificate against every acceptor setting. */
static int gen_node_block(struct case_list *l, enum pol_service svc)
{
	size_t v, k, a;
	char row[40];
	int rv;

	for (v = 0; v < ARRAY_LEN(zone_versions); v++)
		for (k = 0; k < ARRAY_LEN(ini_certs); k++) {
			snprintf(row, sizeof(row), "C %s %s", zone_versions[v],
				 ini_certs[k].label);
			for (a = 0; a < ARRAY_LEN(node_accs); a++) {
				struct mx_case c = grid_case(
				    "services", BLOCK_NODES,
				    node_ini(zone_versions[v], POL_ROLE_C,
					     &ini_certs[k]),
				    node_acc(&node_accs[a], POL_ROLE_E, svc),
				    svc, row, node_accs[a].label);

				if ((rv = push(l, &c)) != 0)
					return rv;
			}
		}
	return 0;
}

/* Expressway to an external acceptor that checks client EKU or not. */
static int gen_to_external(struct case_list *l, enum pol_service svc,
			   enum pol_kind kind)
{
	size_t v, k;
	int chk, rv;
	char row[40];

	for (v = 0; v < ARRAY_LEN(zone_versions); v++)
		for (k = 0; k < ARRAY_LEN(ini_certs); k++) {
			snprintf(row, sizeof(row), "%s %s", zone_versions[v],
				 ini_certs[k].label);
			for (chk = 1; chk >= 0; chk--) {
				struct mx_case c = grid_case(
				    "services", BLOCK_TO_EXT,
				    node_ini(zone_versions[v], POL_ROLE_C,
					     &ini_certs[k]),
				    ext_side(kind, chk == 1,
					     PKI_PROFILE_COMBINED,
					     PKI_CA_UNRESTRICTED),
				    svc, row,
				    chk ? "checks EKU" : "ignores EKU");

				if ((rv = push(l, &c)) != 0)
					return rv;
			}
		}
	return 0;
}

/* An external initiator to every Expressway acceptor setting. */
static int gen_from_external(struct case_list *l, enum pol_service svc,
			     enum pol_kind kind)
{
	size_t k, a;
	char row[40];
	int rv;

	for (k = 0; k < EXT_CERTS; k++) {
		snprintf(row, sizeof(row), "%s %s", pol_kind_name(kind),
			 ini_certs[k].label);
		for (a = 0; a < ARRAY_LEN(node_accs); a++) {
			struct mx_case c =
			    grid_case("services", BLOCK_FROM_EXT,
				      ext_side(kind, true, ini_certs[k].profile,
					       ini_certs[k].ca),
				      node_acc(&node_accs[a], POL_ROLE_C, svc),
				      svc, row, node_accs[a].label);

			if ((rv = push(l, &c)) != 0)
				return rv;
		}
	}
	return 0;
}

/* Every zone service in every direction the policy says it is dialled. */
static int gen_services(struct case_list *l)
{
	static const enum pol_service zones[] = {
	    POL_SVC_TRAVERSAL, POL_SVC_NEIGHBOUR, POL_SVC_B2B,
	    POL_SVC_FEDERATION, POL_SVC_CLOUD};
	struct pol_node c_node = probe(POL_KIND_EXPRESSWAY, POL_ROLE_C);
	struct pol_node e_node = probe(POL_KIND_EXPRESSWAY, POL_ROLE_E);
	size_t i;
	int rv;

	for (i = 0; i < ARRAY_LEN(zones); i++) {
		enum pol_service svc = zones[i];
		enum pol_kind kind = external_for(svc);
		struct pol_node ext = probe(kind, POL_ROLE_C);

		/* Expressway to Expressway where only C dials E (a
		 * neighbour zone between Expressways follows the same
		 * acceptor rule as the external-to-Expressway grid). */
		if (pol_service_dialer(svc) == POL_DIALS_CLIENT_CLUSTER &&
		    pol_may_initiate(svc, &c_node, &e_node) &&
		    (rv = gen_node_block(l, svc)) != 0)
			return rv;
		if (kind == POL_KIND_EXPRESSWAY)
			continue;
		if (pol_may_initiate(svc, &c_node, &ext) &&
		    (rv = gen_to_external(l, svc, kind)) != 0)
			return rv;
		if (pol_may_initiate(svc, &ext, &c_node) &&
		    (rv = gen_from_external(l, svc, kind)) != 0)
			return rv;
	}
	return 0;
}

/* MRA: C's version x E's version x E's certificate. C presents a combined
 * certificate, so the traversal handshake only fails on E's serverAuth. */
static int gen_mra(struct case_list *l)
{
	size_t cv, ev, k;
	char row[40];
	char col[24];
	int rv;

	for (ev = 0; ev < ARRAY_LEN(zone_versions); ev++)
		for (k = 0; k < ARRAY_LEN(mra_certs); k++) {
			snprintf(row, sizeof(row), "E %s %s", zone_versions[ev],
				 mra_certs[k].label);
			for (cv = 0; cv < ARRAY_LEN(zone_versions); cv++) {
				struct mx_side e =
				    node_ini(zone_versions[ev], POL_ROLE_E,
					     &mra_certs[k]);
				struct mx_case c;

				snprintf(col, sizeof(col), "C %s",
					 zone_versions[cv]);
				c = grid_case("mra", BLOCK_MRA,
					      node_ini(zone_versions[cv],
						       POL_ROLE_C,
						       &ini_certs[0]),
					      e, POL_SVC_MRA, row, col);
				if ((rv = push(l, &c)) != 0)
					return rv;
			}
		}
	return 0;
}

/* The per-service switch, externals that do not verify, acceptors without
 * serverAuth, and the MRA message's own codes (C permissive, so the
 * handshake lets everything through and the message check decides). */
#define ZONE_EDGE_CASES 19

static void zone_edge_case(int k, struct mx_case *c)
{
	struct mx_side x155 = side(
	    "X15.5", POL_ENFORCE, PKI_PROFILE_SERVER_ONLY, PKI_CA_UNRESTRICTED);
	struct mx_side e = side("X15.5", POL_ENFORCE, PKI_PROFILE_COMBINED,
				PKI_CA_UNRESTRICTED);
	struct mx_side cucm = ext_side(
	    POL_KIND_CUCM, true, PKI_PROFILE_SERVER_ONLY, PKI_CA_UNRESTRICTED);
	struct mx_side cloud = ext_side(
	    POL_KIND_CLOUD, true, PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED);
	struct mx_side pre = side("X15.3.2", POL_ENFORCE,
				  PKI_PROFILE_SERVER_ONLY, PKI_CA_UNRESTRICTED);
	struct mx_side mc = side("X15.3.2", POL_PERMISSIVE,
				 PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED);
	struct mx_side me = side("X15.3.2", POL_ENFORCE,
				 PKI_PROFILE_SERVER_ONLY, PKI_CA_UNRESTRICTED);

	*c = mkcase("zone-edge", x155, e, POL_SVC_TRAVERSAL);
	e.role = POL_ROLE_E;
	me.role = POL_ROLE_E;
	switch (k) {
	/* The switch, per service: an X15.5 initiator with no client
	 * certificate presents its server-only one (F14). */
	case 0: /* node-wide off, traversal overridden back on */
		e.client_eku_check = false;
		e.client_eku_service[POL_SVC_TRAVERSAL] = POL_SW_CHECK;
		*c = mkcase("zone-edge", x155, e, POL_SVC_TRAVERSAL);
		break;
	case 1: /* off for neighbour only: traversal still checks */
		e.client_eku_service[POL_SVC_NEIGHBOUR] = POL_SW_IGNORE;
		*c = mkcase("zone-edge", x155, e, POL_SVC_TRAVERSAL);
		break;
	case 2: /* node-wide off, no override: traversal skips */
		e.client_eku_check = false;
		*c = mkcase("zone-edge", x155, e, POL_SVC_TRAVERSAL);
		break;
	case 3: /* node-wide off, neighbour back on: CUCM rejected */
		e.role = POL_ROLE_C;
		e.client_eku_check = false;
		e.client_eku_service[POL_SVC_NEIGHBOUR] = POL_SW_CHECK;
		*c = mkcase("zone-edge", cucm, e, POL_SVC_NEIGHBOUR);
		break;
	case 4: /* off for traversal only: the neighbour zone checks */
		e.role = POL_ROLE_C;
		e.client_eku_service[POL_SVC_TRAVERSAL] = POL_SW_IGNORE;
		*c = mkcase("zone-edge", cucm, e, POL_SVC_NEIGHBOUR);
		break;
	case 5: /* ClusterDB skips from X15.4 whatever the switch says */
		e.role = POL_ROLE_C;
		e.client_eku_service[POL_SVC_CLUSTERDB] = POL_SW_CHECK;
		*c = mkcase("zone-edge", x155, e, POL_SVC_CLUSTERDB);
		break;
	/* Externals that do not verify (a zone's tls_verify off). */
	case 6:
		cucm.mode = POL_PERMISSIVE;
		cucm.profile = PKI_PROFILE_COMBINED;
		*c = mkcase("zone-edge", pre, cucm, POL_SVC_NEIGHBOUR);
		break;
	case 7:
		cucm.mode = POL_PERMISSIVE;
		cucm.profile = PKI_PROFILE_COMBINED;
		pre.profile = PKI_PROFILE_CLIENT_ONLY;
		*c = mkcase("zone-edge", cucm, pre, POL_SVC_NEIGHBOUR);
		break;
	case 8:
		cloud.mode = POL_PERMISSIVE;
		*c = mkcase("zone-edge", pre, cloud, POL_SVC_CLOUD);
		break;
	/* The acceptor's certificate lacks serverAuth: every initiator,
	 * Expressway or external, rejects it. */
	case 9:
		e.profile = PKI_PROFILE_CLIENT_ONLY;
		pre.profile = PKI_PROFILE_COMBINED;
		*c = mkcase("zone-edge", pre, e, POL_SVC_TRAVERSAL);
		break;
	case 10:
		cucm.profile = PKI_PROFILE_CLIENT_ONLY;
		pre.profile = PKI_PROFILE_COMBINED;
		*c = mkcase("zone-edge", pre, cucm, POL_SVC_NEIGHBOUR);
		break;
	case 11:
		cucm.profile = PKI_PROFILE_COMBINED;
		pre.profile = PKI_PROFILE_CLIENT_ONLY;
		*c = mkcase("zone-edge", cucm, pre, POL_SVC_NEIGHBOUR);
		break;
	case 12:
		cloud.profile = PKI_PROFILE_CLIENT_ONLY;
		pre.profile = PKI_PROFILE_COMBINED;
		*c = mkcase("zone-edge", pre, cloud, POL_SVC_CLOUD);
		break;
	/* MRA with a permissive C: the message is checked all the same. */
	case 13: *c = mkcase("zone-edge", mc, me, POL_SVC_MRA); break;
	case 14:
		mc.version = "X15.4";
		me.version = "X15.4";
		*c = mkcase("zone-edge", mc, me, POL_SVC_MRA);
		break;
	case 15:
		mc.version = "X15.4";
		me.version = "X15.4";
		me.expired = true;
		*c = mkcase("zone-edge", mc, me, POL_SVC_MRA);
		break;
	case 16:
		me.other_pki = true;
		*c = mkcase("zone-edge", mc, me, POL_SVC_MRA);
		break;
	case 17:
		*c = mkcase("zone-edge", mc, me, POL_SVC_MRA);
		c->ini_expects = "someone-else";
		break;
	case 18: /* both EKUs missing: serverAuth is checked first */
		me.profile = PKI_PROFILE_ANY_EKU;
		*c = mkcase("zone-edge", mc, me, POL_SVC_MRA);
		break;
	}
}

static int gen_zone_edge(struct case_list *l)
{
	int k, rv;

	for (k = 0; k < ZONE_EDGE_CASES; k++) {
		struct mx_case c;

		zone_edge_case(k, &c);
		if ((rv = push(l, &c)) != 0)
			return rv;
	}
	return 0;
}

/* ---- certificates --------------------------------------------------- */

struct mx_env {
	char dir[256];
	char pki[300];
	char other[300];
	char ca_file[320];
	X509_STORE *store;
	int64_t now;
	/* Facts per certificate file, read once; each allocated apart so
	 * that a pointer to one stays valid while the list grows. */
	struct fact {
		char path[400];
		struct pol_chain chain;
	} * *facts;
	size_t n_facts;
	size_t cap_facts;
	/* TLS contexts per side configuration, built once per process. */
	struct ctx_entry {
		char key[600];
		struct tls_ctx *ctx;
	} * ctxs;
	size_t n_ctxs;
	size_t cap_ctxs;
};

void mx_cert_label(const struct mx_side *s, char *buf, size_t len)
{
	static const char *ca_short[] = {"u", "so", "c"};

	snprintf(buf, len, "%s/%s%s%s%s", pki_profile_name(s->profile),
		 ca_short[s->ca], s->other_pki ? "/other-pki" : "",
		 s->expired ? "/expired" : "", s->not_yet ? "/not-yet" : "");
}

/* The certificate file a side presents as server, issued on first use. */
static int cert_file(struct mx_env *e, const char *who, enum pki_profile p,
		     enum pki_ca ca, bool other, bool expired, bool not_yet,
		     char *path, size_t len, char *err)
{
	struct pki_leaf_opts o;
	char name[96];
	const char *dir = other ? e->other : e->pki;
	int rv;

	snprintf(name, sizeof(name), "%s-%s-%s%s%s", who, pki_profile_name(p),
		 pki_ca_name(ca), expired ? "-expired" : "",
		 not_yet ? "-notyet" : "");
	snprintf(path, len, "%.200s/%.90s.crt", dir, name);
	if (access(path, R_OK) == 0)
		return 0;
	memset(&o, 0, sizeof(o));
	o.name = name;
	o.profile = p;
	o.ca = ca;
	o.sans[0] = who[0] == 'i' ? MX_INI_NAME : MX_ACC_NAME;
	o.n_sans = 1;
	o.key = PKI_KEY_EC_P256;
	if (expired) {
		o.not_before = e->now - 30 * 86400;
		o.not_after = e->now - 86400;
	} else if (not_yet) {
		o.not_before = e->now + 86400;
		o.not_after = e->now + 30 * 86400;
	}
	rv = pki_issue(dir, &o, err);
	return rv;
}

static int side_files(struct mx_env *e, const struct mx_side *s, bool ini,
		      char *cert, char *client, size_t len, char *err)
{
	int rv;

	cert[0] = client[0] = '\0';
	if (!s->no_cert) {
		rv = cert_file(e, ini ? "i" : "a", s->profile, s->ca,
			       s->other_pki, s->expired, s->not_yet, cert, len,
			       err);
		if (rv != 0)
			return rv;
	}
	if (s->has_client) {
		rv = cert_file(e, "ic", s->client_profile, PKI_CA_UNRESTRICTED,
			       false, false, false, client, len, err);
		if (rv != 0)
			return rv;
	}
	return 0;
}

static void key_of(const char *crt, char *key, size_t len)
{
	size_t n = strlen(crt);

	snprintf(key, len, "%.*s.key", (int)(n - 4), crt);
}

static const struct pol_chain *facts(struct mx_env *e, const char *path,
				     char *err)
{
	static const struct pol_chain empty;
	struct fact *f;
	size_t i;

	if (path[0] == '\0')
		return &empty;
	for (i = 0; i < e->n_facts; i++)
		if (strcmp(e->facts[i]->path, path) == 0)
			return &e->facts[i]->chain;
	if (e->n_facts == e->cap_facts) {
		size_t cap = e->cap_facts ? e->cap_facts * 2 : 64;
		struct fact **nf = ekl_realloc(e->facts, cap * sizeof(*nf));

		if (nf == NULL)
			return NULL;
		e->facts = nf;
		e->cap_facts = cap;
	}
	f = ekl_calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (certinfo_chain_file(path, e->store, &f->chain, err) != 0) {
		ekl_free(f);
		return NULL;
	}
	e->facts[e->n_facts++] = f;
	return &f->chain;
}

/* ---- prediction --------------------------------------------------- */

/* The policy's view of one side (chains left NULL): the same for the
 * prediction and for the rules the live MRA check runs with. */
static int node_of(const struct mx_side *s, struct pol_node *n, char *err)
{
	memset(n, 0, sizeof(*n));
	n->kind = s->kind;
	n->role = s->role;
	n->mode = s->mode;
	n->client_eku_check = s->client_eku_check;
	memcpy(n->client_eku_service, s->client_eku_service,
	       sizeof(n->client_eku_service));
	n->checks_client_eku = s->checks_client_eku;
	if (pol_kind_external(s->kind))
		return 0;
	if (pol_version_parse(s->version, &n->version) != 0)
		return ekl_errf(err, EKL_EVERSION, "bad version '%s' in case",
				s->version != NULL ? s->version : "(none)");
	return 0;
}

static int predict(struct mx_env *e, struct mx_case *c, char *err)
{
	char icert[400], iclient[400], acert[400], aclient[400];
	struct pol_node ini, acc;
	struct pol_conn conn;
	struct pol_verdict v;
	const char *accepts[] = {MX_INI_NAME};
	int rv;

	if ((rv = side_files(e, &c->ini, true, icert, iclient, 400, err)) ||
	    (rv = side_files(e, &c->acc, false, acert, aclient, 400, err)) ||
	    (rv = node_of(&c->ini, &ini, err)) ||
	    (rv = node_of(&c->acc, &acc, err)))
		return rv;
	if (!pol_may_initiate(c->service, &ini, &acc))
		return ekl_errf(err, EKL_EINVAL,
				"case %s/%s: the policy says %s does not "
				"initiate %s to %s",
				c->group, pol_service_name(c->service),
				pol_kind_name(ini.kind),
				pol_service_name(c->service),
				pol_kind_name(acc.kind));
	ini.server_chain = facts(e, icert, err);
	ini.client_chain = c->ini.has_client ? facts(e, iclient, err) : NULL;
	acc.server_chain = facts(e, acert, err);
	if (ini.server_chain == NULL || acc.server_chain == NULL ||
	    (c->ini.has_client && ini.client_chain == NULL))
		return EKL_EIO;
	memset(&conn, 0, sizeof(conn));
	conn.initiator = &ini;
	conn.acceptor = &acc;
	conn.service = c->service;
	conn.initiator_expects = c->ini_expects;
	conn.acceptor_accepts = accepts;
	conn.n_acceptor_accepts = 1;
	conn.initiator_time = e->now;
	conn.acceptor_time = e->now;
	pol_decide(&conn, &v);
	c->predicted.ok = v.ok;
	c->predicted.side = v.side;
	c->predicted.code = v.code;
	c->predicted.depth = v.depth;
	return 0;
}

/* ---- observation ------------------------------------------------------ */

static struct tls_ctx *ctx_for(struct mx_env *e, const struct mx_side *s,
			       bool ini, enum pol_service svc, char *err)
{
	char cert[400], client[400], key[400], ckey[400], k[600], sw[16];
	const char *peers[] = {ini ? MX_ACC_NAME : MX_INI_NAME};
	struct pol_node n;
	struct tls_config tc;
	size_t i;

	if (side_files(e, s, ini, cert, client, 400, err) != 0 ||
	    node_of(s, &n, err) != 0)
		return NULL;
	for (i = 0; i < POL_SVC_COUNT; i++)
		sw[i] = (char)('0' + (int)n.client_eku_service[i]);
	sw[POL_SVC_COUNT] = '\0';
	snprintf(k, sizeof(k), "%d|%d|%d|%d|%d|%s|%d|%d|%.250s|%.250s", ini,
		 n.kind, n.version, n.mode, n.client_eku_check, sw,
		 n.checks_client_eku, svc, cert, client);
	for (i = 0; i < e->n_ctxs; i++)
		if (strcmp(e->ctxs[i].key, k) == 0)
			return e->ctxs[i].ctx;
	if (e->n_ctxs == e->cap_ctxs) {
		size_t cap = e->cap_ctxs ? e->cap_ctxs * 2 : 64;
		struct ctx_entry *nc = ekl_realloc(e->ctxs, cap * sizeof(*nc));

		if (nc == NULL)
			return NULL;
		e->ctxs = nc;
		e->cap_ctxs = cap;
	}
	/* The endpoint's settings as the policy sees them (node_of). */
	memset(&tc, 0, sizeof(tc));
	tc.version = n.version;
	tc.mode = n.mode;
	tc.client_eku_check = n.client_eku_check;
	tc.kind = n.kind;
	tc.checks_client_eku = n.checks_client_eku;
	memcpy(tc.client_eku_service, n.client_eku_service,
	       sizeof(tc.client_eku_service));
	tc.service = svc;
	tc.ca_file = e->ca_file;
	if (s->no_cert) {
		tc.no_cert = true;
		/* A TLS server always needs a certificate: borrow one. */
		if (cert_file(e, "i", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED,
			      false, false, false, cert, sizeof(cert),
			      err) != 0)
			return NULL;
	}
	key_of(cert, key, sizeof(key));
	tc.cert_file = cert;
	tc.key_file = key;
	if (client[0] != '\0') {
		key_of(client, ckey, sizeof(ckey));
		tc.client_cert_file = client;
		tc.client_key_file = ckey;
	}
	tc.peer_names = peers;
	tc.n_peer_names = 1;
	snprintf(e->ctxs[e->n_ctxs].key, sizeof(e->ctxs[0].key), "%s", k);
	if (tls_ctx_new(&tc, &e->ctxs[e->n_ctxs].ctx, err) != 0)
		return NULL;
	return e->ctxs[e->n_ctxs++].ctx;
}

/* ---- the exchange after the handshake ------------------------------- */

/* Every message is a frame: u32 big-endian length, then the payload. A
 * plain case exchanges a ping and a pong, so that a TLS 1.3 initiator
 * learns of the acceptor's rejection. An MRA case plays the SIP SERVICE
 * exchange on the traversal connection: C pings, E answers with its
 * certificate chain, C checks it and answers with the code. */
#define MSG_MAX (TLS_CHAIN_MAX_BYTES + 4)

enum op { OP_SEND, OP_RECV };

static const enum op ini_plain[] = {OP_SEND, OP_RECV};
static const enum op acc_plain[] = {OP_RECV, OP_SEND};
static const enum op ini_mra[] = {OP_SEND, OP_RECV, OP_SEND};
static const enum op acc_mra[] = {OP_RECV, OP_SEND, OP_RECV};

/* One end's progress: handshake, then its script of frames. */
enum end_phase { END_HS, END_IO, END_DONE, END_FAILED };

struct exchange;

struct end {
	int fd;
	struct tls_conn *tls;
	enum end_phase phase;
	bool is_ini;
	const enum op *ops;
	int n_ops;
	int op;
	unsigned char *buf; /* the frame being sent or received */
	size_t len;	    /* its length (send), or bytes wanted (recv) */
	size_t off;	    /* bytes moved so far */
	bool loaded;	    /* buf holds the frame to send */
	short want;	    /* POLLIN / POLLOUT */
	struct exchange *x;
};

/* What the two ends of an MRA case share. */
struct exchange {
	bool mra;
	const unsigned char *chain; /* E's chain (its PEM file) */
	size_t chain_len;
	struct tls_chain_check check; /* C's check of it */
	struct tls_verify msg;	      /* C's result */
	int msg_rv;		      /* 0, or why the chain was unreadable */
	bool checked;		      /* C has checked the message */
	enum pol_code e_learned;      /* the code C answered E with */
	bool answered;
	char err[EKL_ERRLEN];
};

/* The payload an end sends for its current step. */
static void produce(struct end *x, const unsigned char **p, size_t *n)
{
	static const unsigned char ping[] = "p";
	const struct exchange *ex = x->x;
	const char *answer;

	*p = ping;
	*n = 1;
	if (!ex->mra || x->op == 0)
		return;
	if (!x->is_ini) { /* E: the SIP SERVICE message */
		*p = ex->chain;
		*n = ex->chain_len;
		return;
	}
	/* C: its answer to the message names the code ("ok" when it
	 * accepted the chain, "error" when it could not read it). */
	answer = ex->msg_rv != 0    ? "error"
		 : ex->msg.rejected ? pol_code_name(ex->msg.code)
				    : "ok";
	*p = (const unsigned char *)answer;
	*n = strlen(answer);
}

/* A frame has arrived. */
static void consume(struct end *x, const unsigned char *p, size_t n)
{
	struct exchange *ex = x->x;
	char text[32];

	if (!ex->mra || x->op == 0)
		return;
	if (x->is_ini) { /* C checks E's chain */
		ex->msg_rv =
		    tls_verify_chain(&ex->check, p, n, &ex->msg, ex->err);
		ex->checked = true;
		return;
	}
	snprintf(text, sizeof(text), "%.*s", (int)(n < 31 ? n : 31),
		 (const char *)p);
	ex->answered = true;
	if (pol_code_parse(text, &ex->e_learned) != 0)
		ex->e_learned = POL_OK;
}

static void frame_load(struct end *x)
{
	const unsigned char *p;
	size_t n;

	produce(x, &p, &n);
	if (n > MSG_MAX - 4)
		n = MSG_MAX - 4;
	x->buf[0] = (unsigned char)(n >> 24);
	x->buf[1] = (unsigned char)(n >> 16);
	x->buf[2] = (unsigned char)(n >> 8);
	x->buf[3] = (unsigned char)n;
	memcpy(x->buf + 4, p, n);
	x->len = n + 4;
	x->off = 0;
	x->loaded = true;
}

/* One step of the script; true when the step is complete. */
static enum tls_io io_step(struct end *x, bool *complete)
{
	enum tls_io r;
	size_t n = 0;

	*complete = false;
	if (x->ops[x->op] == OP_SEND) {
		if (!x->loaded)
			frame_load(x);
		r = tls_write(x->tls, x->buf + x->off, x->len - x->off, &n);
		if (r != TLS_IO_OK)
			return r;
		x->off += n;
		*complete = x->off == x->len;
		return r;
	}
	if (x->off < 4)
		x->len = 4;
	r = tls_read(x->tls, x->buf + x->off, x->len - x->off, &n);
	if (r != TLS_IO_OK)
		return r;
	x->off += n;
	if (x->off == 4 && x->len == 4) {
		size_t body = (size_t)x->buf[0] << 24 |
			      (size_t)x->buf[1] << 16 | (size_t)x->buf[2] << 8 |
			      x->buf[3];

		if (body > MSG_MAX - 4)
			return TLS_IO_FATAL;
		x->len = 4 + body;
	}
	if (x->off >= 4 && x->off == x->len) {
		consume(x, x->buf + 4, x->len - 4);
		*complete = true;
	}
	return r;
}

static void end_step(struct end *x)
{
	enum tls_io r = TLS_IO_OK;
	bool complete;

	for (;;) {
		switch (x->phase) {
		case END_HS:
			r = tls_handshake(x->tls);
			if (r == TLS_IO_OK)
				x->phase = END_IO;
			break;
		case END_IO:
			r = io_step(x, &complete);
			if (r == TLS_IO_OK && complete) {
				x->loaded = false;
				x->off = 0;
				x->len = 0;
				if (++x->op == x->n_ops)
					x->phase = END_DONE;
			}
			break;
		case END_DONE:
		case END_FAILED: return;
		}
		if (r == TLS_IO_WANT_READ) {
			x->want = POLLIN;
			return;
		}
		if (r == TLS_IO_WANT_WRITE) {
			x->want = POLLOUT;
			return;
		}
		if (r != TLS_IO_OK) {
			x->phase = END_FAILED;
			/* Make sure the other end stops waiting for us. */
			shutdown(x->fd, SHUT_WR);
			return;
		}
	}
}

static int loopback_pair(int lfd, int *cfd, int *afd, char *err)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int c, a, one = 1;

	if (getsockname(lfd, (struct sockaddr *)&sin, &sl) != 0)
		return ekl_errf(err, EKL_EIO, "getsockname: %s",
				strerror(errno));
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c < 0)
		return ekl_errf(err, EKL_EIO, "socket: %s", strerror(errno));
	if (connect(c, (struct sockaddr *)&sin, sl) != 0 &&
	    errno != EINPROGRESS) {
		close(c);
		return ekl_errf(err, EKL_EIO, "connect: %s", strerror(errno));
	}
	a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (a < 0) {
		struct pollfd p = {lfd, POLLIN, 0};

		poll(&p, 1, 2000);
		a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	}
	if (a < 0) {
		close(c);
		return ekl_errf(err, EKL_EIO, "accept: %s", strerror(errno));
	}
	/* Small TLS records back and forth: Nagle + delayed ACK would add
	 * 40 ms per handshake. */
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*cfd = c;
	*afd = a;
	return 0;
}

/* The MRA exchange's inputs: E's chain as it sends it (its PEM file), and
 * C's check of it: C's trust bundle, time, expected name and the rules the
 * policy gives C for mra. */
static int mra_setup(struct mx_env *e, const struct mx_case *c,
		     struct exchange *x, unsigned char **chain,
		     struct pol_rules *rules, char *err)
{
	char cert[400], client[400];
	struct pol_node cn;
	FILE *f;
	size_t n;
	int rv;

	if ((rv = side_files(e, &c->acc, false, cert, client, 400, err)) ||
	    (rv = node_of(&c->ini, &cn, err)))
		return rv;
	pol_rules(&cn, POL_SIDE_INITIATOR, POL_SVC_MRA, rules);
	*chain = ekl_malloc(TLS_CHAIN_MAX_BYTES);
	if (*chain == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	f = fopen(cert, "rb");
	if (f == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", cert, strerror(errno));
	n = fread(*chain, 1, TLS_CHAIN_MAX_BYTES, f);
	fclose(f);
	x->mra = true;
	x->chain = *chain;
	x->chain_len = n;
	x->check.store = e->store;
	x->check.at = e->now;
	x->check.rules = rules;
	x->check.names = &c->ini_expects;
	x->check.n_names = 1;
	return 0;
}

static int observe(struct mx_env *e, int lfd, struct mx_case *c, char *err)
{
	struct tls_ctx *ictx = ctx_for(e, &c->ini, true, c->service, err);
	struct tls_ctx *actx =
	    ictx ? ctx_for(e, &c->acc, false, c->service, err) : NULL;
	struct end ends[2];
	struct exchange x;
	struct pol_rules mra_rules;
	unsigned char *chain = NULL;
	struct tls_failure fi, fa;
	const struct tls_verify *vi;
	int rounds, rv, i;

	if (actx == NULL)
		return EKL_ETLS;
	memset(ends, 0, sizeof(ends));
	memset(&x, 0, sizeof(x));
	ends[0].fd = ends[1].fd = -1;
	if (c->service == POL_SVC_MRA &&
	    (rv = mra_setup(e, c, &x, &chain, &mra_rules, err)) != 0)
		goto out;
	for (i = 0; i < 2; i++) {
		ends[i].is_ini = i == 0;
		ends[i].x = &x;
		ends[i].ops = x.mra ? (i == 0 ? ini_mra : acc_mra)
				    : (i == 0 ? ini_plain : acc_plain);
		ends[i].n_ops = x.mra ? 3 : 2;
		ends[i].buf = ekl_malloc(MSG_MAX);
		if (ends[i].buf == NULL) {
			rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
			goto out;
		}
	}
	rv = loopback_pair(lfd, &ends[0].fd, &ends[1].fd, err);
	if (rv != 0)
		goto out;
	if ((rv = tls_conn_new(ictx, ends[0].fd, POL_SIDE_INITIATOR,
			       c->ini_expects, &ends[0].tls, err)) != 0 ||
	    (rv = tls_conn_new(actx, ends[1].fd, POL_SIDE_ACCEPTOR, NULL,
			       &ends[1].tls, err)) != 0)
		goto out;
	for (rounds = 0; rounds < 10000; rounds++) {
		struct pollfd p[2];
		int np = 0;

		for (i = 0; i < 2; i++)
			end_step(&ends[i]);
		/* Finished when each end is done or failed. */
		if ((ends[0].phase >= END_DONE && ends[1].phase >= END_DONE))
			break;
		for (i = 0; i < 2; i++)
			if (ends[i].phase < END_DONE) {
				p[np].fd = ends[i].fd;
				p[np].events = ends[i].want;
				p[np].revents = 0;
				np++;
			}
		if (poll(p, (nfds_t)np, 2000) == 0)
			break; /* stuck: reported as a transport failure */
	}
	vi = tls_conn_verify(ends[0].tls);
	tls_conn_failure(ends[0].tls, &fi);
	tls_conn_failure(ends[1].tls, &fa);
	memset(&c->observed, 0, sizeof(c->observed));
	c->observed.depth = -1;
	c->peer_saw = POL_OK;
	c->detail[0] = '\0';
	if (vi->rejected) {
		c->observed.side = POL_SIDE_INITIATOR;
		c->observed.code = vi->code;
		c->observed.depth = vi->depth;
		c->peer_saw = fa.code;
		snprintf(c->detail, sizeof(c->detail), "%.190s", fi.message);
	} else if (ends[1].phase == END_FAILED &&
		   fa.side == POL_SIDE_ACCEPTOR && fa.code != POL_OK) {
		c->observed.side = POL_SIDE_ACCEPTOR;
		c->observed.code = fa.code;
		c->observed.depth = fa.depth;
		c->peer_saw = fi.code;
		snprintf(c->detail, sizeof(c->detail), "%.190s", fa.message);
	} else if (x.mra && x.checked && x.msg_rv != 0) {
		snprintf(c->detail, sizeof(c->detail),
			 "C could not read E's SIP SERVICE chain: %.150s",
			 x.err);
	} else if (x.mra && x.checked && x.msg.rejected &&
		   ends[0].phase == END_DONE && ends[1].phase == END_DONE) {
		/* C rejected E's certificate in the message; E learned the
		 * code from C's answer. */
		c->observed.side = POL_SIDE_INITIATOR;
		c->observed.code = x.msg.code;
		c->observed.depth = x.msg.depth;
		c->peer_saw = x.answered ? x.e_learned : POL_OK;
		snprintf(c->detail, sizeof(c->detail),
			 "C rejected E's SIP SERVICE certificate: %s at depth "
			 "%d",
			 pol_code_name(x.msg.code), x.msg.depth);
	} else if (ends[0].phase == END_DONE && ends[1].phase == END_DONE) {
		c->observed.ok = true;
	} else {
		snprintf(c->detail, sizeof(c->detail),
			 "transport failure: initiator %.70s / acceptor %.70s",
			 fi.message, fa.message);
	}
out:
	for (i = 0; i < 2; i++) {
		tls_conn_free(ends[i].tls);
		if (ends[i].fd >= 0)
			close(ends[i].fd);
		ekl_free(ends[i].buf);
	}
	ekl_free(chain);
	return rv;
}

static bool verdicts_agree(const struct mx_case *c)
{
	const struct mx_verdict *p = &c->predicted, *o = &c->observed;
	bool purpose =
	    p->code == POL_SERVER_PURPOSE || p->code == POL_CLIENT_PURPOSE;

	if (p->ok || o->ok)
		return p->ok == o->ok;
	return p->side == o->side && p->code == o->code &&
	       (!purpose || p->depth == o->depth) && c->peer_saw == o->code;
}

/* ---- running ------------------------------------------------------- */

static int env_init(struct mx_env *e, char *err)
{
	const char *tmp = getenv("TMPDIR");
	char tmpl[200];
	int rv;

	memset(e, 0, sizeof(*e));
	/* Files only (no Unix sockets): any $TMPDIR that fits will do. */
	if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 150)
		tmp = "/tmp";
	snprintf(tmpl, sizeof(tmpl), "%s/ekulab-matrix.XXXXXX", tmp);
	if (mkdtemp(tmpl) == NULL)
		return ekl_errf(err, EKL_EIO, "mkdtemp %s: %s", tmpl,
				strerror(errno));
	snprintf(e->dir, sizeof(e->dir), "%s", tmpl);
	snprintf(e->pki, sizeof(e->pki), "%s/pki", e->dir);
	snprintf(e->other, sizeof(e->other), "%s/other", e->dir);
	snprintf(e->ca_file, sizeof(e->ca_file), "%s/ca.crt", e->pki);
	e->now = (int64_t)time(NULL);
	if ((rv = pki_init(e->pki, false, err)) != 0 ||
	    (rv = pki_init(e->other, false, err)) != 0)
		return rv;
	return certinfo_load_store(e->ca_file, &e->store, err);
}

static void env_close(struct mx_env *e)
{
	char cmd[400];
	size_t i;

	for (i = 0; i < e->n_ctxs; i++)
		tls_ctx_free(e->ctxs[i].ctx);
	ekl_free(e->ctxs);
	for (i = 0; i < e->n_facts; i++)
		ekl_free(e->facts[i]);
	ekl_free(e->facts);
	X509_STORE_free(e->store);
	if (e->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "ekulab: could not remove %s\n",
				e->dir);
	}
}

static int listener(int *lfd, char *err)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return ekl_errf(err, EKL_EIO, "socket: %s", strerror(errno));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 16) != 0) {
		close(fd);
		return ekl_errf(err, EKL_EIO, "listen on loopback: %s",
				strerror(errno));
	}
	*lfd = fd;
	return 0;
}

/* What a worker sends back per case. */
struct wire {
	unsigned idx;
	struct mx_verdict observed;
	enum pol_code peer_saw;
	char detail[200];
	int rv;
};

static int run_slice(struct mx_env *e, struct mx_case *cases, size_t n,
		     int jobs, int k, int out_fd, char *err)
{
	int lfd = -1, rv;
	size_t i;

	rv = listener(&lfd, err);
	if (rv != 0)
		return rv;
	for (i = (size_t)k; i < n; i += (size_t)jobs) {
		struct wire w;

		memset(&w, 0, sizeof(w));
		w.rv = observe(e, lfd, &cases[i], err);
		w.idx = (unsigned)i;
		w.observed = cases[i].observed;
		w.peer_saw = cases[i].peer_saw;
		memcpy(w.detail, w.rv ? err : cases[i].detail,
		       sizeof(w.detail) - 1);
		if (out_fd >= 0 && write(out_fd, &w, sizeof(w)) != sizeof(w))
			break;
	}
	close(lfd);
	return 0;
}

int mx_run(struct mx_run *r, int jobs, char *err)
{
	struct case_list l = {NULL, 0, 0};
	struct timespec t0, t1;
	struct mx_env e;
	int pfd[2] = {-1, -1};
	pid_t pids[16];
	size_t i, got = 0;
	int k, rv;

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (jobs < 1)
		jobs = 1;
	if (jobs > 16)
		jobs = 16;
	rv = env_init(&e, err);
	if (rv != 0)
		goto out;
	if ((rv = gen_cross(&l)) || (rv = gen_x155(&l)) ||
	    (rv = gen_edge(&l)) || (rv = gen_services(&l)) ||
	    (rv = gen_mra(&l)) || (rv = gen_zone_edge(&l))) {
		ekl_errf(err, rv, "out of memory");
		goto out;
	}
	/* Predict first: this also issues every certificate, so the workers
	 * only read files. */
	for (i = 0; i < l.n; i++)
		if ((rv = predict(&e, &l.v[i], err)) != 0)
			goto out;
	if (pipe(pfd) != 0) {
		rv = ekl_errf(err, EKL_EIO, "pipe: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	for (k = 0; k < jobs; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			close(pfd[0]);
			rv = run_slice(&e, l.v, l.n, jobs, k, pfd[1], err);
			_exit(rv == 0 ? 0 : 1);
		}
		if (pids[k] < 0) {
			rv =
			    ekl_errf(err, EKL_EIO, "fork: %s", strerror(errno));
			jobs = k;
			break;
		}
	}
	close(pfd[1]);
	pfd[1] = -1;
	for (;;) {
		struct wire w;
		ssize_t n = read(pfd[0], &w, sizeof(w));

		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(w) || w.idx >= l.n)
			break;
		l.v[w.idx].observed = w.observed;
		l.v[w.idx].peer_saw = w.peer_saw;
		memcpy(l.v[w.idx].detail, w.detail, sizeof(w.detail));
		l.v[w.idx].detail[sizeof(w.detail) - 1] = '\0';
		got++;
	}
	for (k = 0; k < jobs; k++)
		waitpid(pids[k], NULL, 0);
	if (rv == 0 && got != l.n)
		rv = ekl_errf(err, EKL_EIO,
			      "only %zu of %zu cases came back from the "
			      "workers",
			      got, l.n);
	if (rv != 0)
		goto out;
	for (i = 0; i < l.n; i++) {
		l.v[i].agree = verdicts_agree(&l.v[i]);
		if (!l.v[i].agree)
			r->disagreements++;
	}
	r->cases = l.v;
	r->n = l.n;
	l.v = NULL;
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	env_close(&e);
	ekl_free(l.v);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->seconds = (double)(t1.tv_sec - t0.tv_sec) +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return rv;
}

void mx_run_free(struct mx_run *r)
{
	ekl_free(r->cases);
	r->cases = NULL;
	r->n = 0;
}
