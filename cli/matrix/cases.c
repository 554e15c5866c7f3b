/* cases.c: the matrix's case list: the ClusterDB cross product, the X15.5
 * and edge cases, and the zone services (every service in each direction
 * pol_may_initiate() allows, MRA, the zone edge cases), in the order the
 * reports lay them out (report.c groups consecutive cases into grids). */
#include <stdio.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "matrix_int.h"

static const char *const versions[] = {"X14.3.7", "X15.3.2", "X15.4", "X15.5"};
static const enum pki_profile leaf_profiles[] = {
    PKI_PROFILE_COMBINED, PKI_PROFILE_SERVER_ONLY, PKI_PROFILE_CLIENT_ONLY,
    PKI_PROFILE_NO_EKU};
static const enum pki_ca issuing[] = {PKI_CA_UNRESTRICTED, PKI_CA_SERVER_ONLY};

/* ---- case list ---------------------------------------------------- */

static int push(struct mx_case_list *l, const struct mx_case *c)
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
static int gen_cross(struct mx_case_list *l)
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
static int gen_x155(struct mx_case_list *l)
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

static int gen_edge(struct mx_case_list *l)
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
static int gen_node_block(struct mx_case_list *l, enum pol_service svc)
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
static int gen_to_external(struct mx_case_list *l, enum pol_service svc,
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
static int gen_from_external(struct mx_case_list *l, enum pol_service svc,
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
static int gen_services(struct mx_case_list *l)
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
static int gen_mra(struct mx_case_list *l)
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

static int gen_zone_edge(struct mx_case_list *l)
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

int mx_cases_build(struct mx_case_list *l)
{
	int rv;

	if ((rv = gen_cross(l)) || (rv = gen_x155(l)) || (rv = gen_edge(l)) ||
	    (rv = gen_services(l)) || (rv = gen_mra(l)) ||
	    (rv = gen_zone_edge(l)))
		return rv;
	return 0;
}
