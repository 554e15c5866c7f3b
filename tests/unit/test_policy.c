/* test_policy.c: every rule and every outcome code of the policy model:
 * versions, services (ClusterDB, the zone services, MRA), Expressway and
 * external peers, the X15.5 switch per service, and who dials. */
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/x509/policy.h"
#include "testutil.h"

/* ---- fixtures ---- */

#define NOW INT64_C(1750000000) /* 2025-06-15 */
#define DAY INT64_C(86400)

#define EKU_NONE 0u
#define EKU_SRV	 (POL_EKU_EXT | POL_EKU_SERVER)
#define EKU_CLI	 (POL_EKU_EXT | POL_EKU_CLIENT)
#define EKU_BOTH (POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT)
#define EKU_ANY	 (POL_EKU_EXT | POL_EKU_ANY)

/* An anchored chain with no certificates yet. */
static void chain_init(struct pol_chain *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->anchored = true;
}

/* Append a certificate valid from NOW-1 day to NOW+1 year. */
static void chain_add(struct pol_chain *ch, unsigned eku)
{
	struct pol_cert *c = &ch->certs[ch->len++];

	c->eku = eku;
	c->not_before = NOW - DAY;
	c->not_after = NOW + 365 * DAY;
}

static void chain_dns(struct pol_chain *ch, const char *name)
{
	strcpy(ch->dns[ch->n_dns++], name);
}

static void chain_ip(struct pol_chain *ch, const char *ip)
{
	strcpy(ch->ip[ch->n_ip++], ip);
}

/* leaf (eku) <- issuing CA (ca_eku) <- root (no EKU), DNS SAN `name`. */
static void chain3(struct pol_chain *ch, unsigned leaf_eku, unsigned ca_eku,
		   const char *name)
{
	chain_init(ch);
	chain_add(ch, leaf_eku);
	chain_add(ch, ca_eku);
	chain_add(ch, EKU_NONE);
	if (name != NULL)
		chain_dns(ch, name);
}

static struct pol_rules rules(bool verify, bool check_purpose, unsigned purpose)
{
	struct pol_rules r;

	memset(&r, 0, sizeof(r));
	r.verify = verify;
	r.require_cert = verify;
	r.check_purpose = check_purpose;
	r.purpose = purpose;
	return r;
}

static struct pol_node node(enum pol_vclass v, enum pol_mode m,
			    const struct pol_chain *server,
			    const struct pol_chain *client)
{
	struct pol_node n;

	memset(&n, 0, sizeof(n));
	n.version = v;
	n.mode = m;
	n.client_eku_check = true;
	n.server_chain = server;
	n.client_chain = client;
	return n;
}

/* A connection "a" (initiator) -> "b" (acceptor), both at NOW, where the
 * initiator expects "b" and the acceptor accepts "a". */
static const char *const accepts_a[] = {"a"};

static struct pol_conn conn(const struct pol_node *ini,
			    const struct pol_node *acc, enum pol_service svc)
{
	struct pol_conn c = {ini, acc, svc, "b", accepts_a, 1, NOW, NOW};

	return c;
}

static enum pol_code check(const struct pol_rules *r,
			   const struct pol_chain *ch, const char *name,
			   int *depth)
{
	const char *names[1] = {name};

	return pol_check_chain(r, ch, names, name != NULL ? 1 : 0, NOW, depth);
}

/* ---- pol_version_parse ---- */

START_TEST(version_good)
{
	static const struct {
		const char *s;
		enum pol_vclass v;
	} ok[] = {
	    {"X14.0", POL_V_PRE154},   {"X14.0.0", POL_V_PRE154},
	    {"X14.3.7", POL_V_PRE154}, {"X14.99.1.2", POL_V_PRE154},
	    {"X15.0", POL_V_PRE154},   {"X15.0.1", POL_V_PRE154},
	    {"X15.1", POL_V_PRE154},   {"X15.2.3", POL_V_PRE154},
	    {"X15.3", POL_V_PRE154},   {"X15.3.2", POL_V_PRE154},
	    {"X15.4", POL_V_X154},     {"X15.4.0", POL_V_X154},
	    {"X15.4.1.7", POL_V_X154}, {"X15.5", POL_V_X155},
	    {"X15.5.1", POL_V_X155},   {"X15.5.10", POL_V_X155},
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		enum pol_vclass v = (enum pol_vclass)99;

		ck_assert_msg(pol_version_parse(ok[i].s, &v) == 0, "%s",
			      ok[i].s);
		ck_assert_msg(v == ok[i].v, "%s -> %d", ok[i].s, (int)v);
	}
}
END_TEST

START_TEST(version_bad)
{
	static const char *const bad[] = {
	    "",	      "X",	"X14",	   "X15",     "X15.",	  "X15.4.",
	    "X15..4", "X15.6",	"X15.9.1", "X13.2",   "X16.0",	  "15.4",
	    "x15.4",  "X15.40", "X15.4a",  "X15.4 ",  " X15.4",	  "X15.-4",
	    "X15.+4", "X015.4", "X15.04",  "X14.3.x", "X14.3.7-", "XX15.4",
	    "X1.5.4", "Y15.4",	"X15,4",   "X14.a",   "X15.4.1.",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum pol_vclass v = POL_V_X155;

		ck_assert_msg(pol_version_parse(bad[i], &v) == EKL_EVERSION,
			      "'%s' accepted", bad[i]);
		ck_assert_int_eq(v, POL_V_X155); /* untouched */
	}
	ck_assert_int_eq(pol_version_parse(NULL, NULL), EKL_EVERSION);
}
END_TEST

/* ---- name tables ---- */

START_TEST(names_codes)
{
	static const char *const want[POL_CODE_COUNT] = {
	    "ok",
	    "untrusted",
	    "expired",
	    "not-yet-valid",
	    "name-mismatch",
	    "server-purpose",
	    "client-purpose",
	    "no-certificate",
	};
	enum pol_code c;
	int i;

	ck_assert_int_eq(POL_CODE_COUNT, 8);
	for (i = 0; i < POL_CODE_COUNT; i++) {
		ck_assert_str_eq(pol_code_name((enum pol_code)i), want[i]);
		c = POL_CODE_COUNT;
		ck_assert_int_eq(pol_code_parse(want[i], &c), 0);
		ck_assert_int_eq(c, i);
	}
	ck_assert_int_eq(pol_code_parse("OK", &c), EKL_EINVAL);
	ck_assert_int_eq(pol_code_parse("", &c), EKL_EINVAL);
	ck_assert_int_eq(pol_code_parse("expired ", &c), EKL_EINVAL);
	ck_assert_int_eq(pol_code_parse(NULL, &c), EKL_EINVAL);
	ck_assert_str_eq(pol_code_name(POL_CODE_COUNT), "?");
}
END_TEST

START_TEST(names_others)
{
	enum pol_mode m = POL_PERMISSIVE;

	ck_assert_int_eq(pol_mode_parse("enforce", &m), 0);
	ck_assert_int_eq(m, POL_ENFORCE);
	ck_assert_int_eq(pol_mode_parse("permissive", &m), 0);
	ck_assert_int_eq(m, POL_PERMISSIVE);
	ck_assert_int_eq(pol_mode_parse("Enforce", &m), EKL_EINVAL);
	ck_assert_int_eq(pol_mode_parse("strict", &m), EKL_EINVAL);
	ck_assert_int_eq(pol_mode_parse(NULL, &m), EKL_EINVAL);
	ck_assert_str_eq(pol_mode_name(POL_ENFORCE), "enforce");
	ck_assert_str_eq(pol_mode_name(POL_PERMISSIVE), "permissive");

	ck_assert_str_eq(pol_vclass_name(POL_V_PRE154), "pre-X15.4");
	ck_assert_str_eq(pol_vclass_name(POL_V_X154), "X15.4");
	ck_assert_str_eq(pol_vclass_name(POL_V_X155), "X15.5");

	ck_assert_str_eq(pol_side_name(POL_SIDE_NONE), "none");
	ck_assert_str_eq(pol_side_name(POL_SIDE_INITIATOR), "initiator");
	ck_assert_str_eq(pol_side_name(POL_SIDE_ACCEPTOR), "acceptor");
}
END_TEST

START_TEST(names_services)
{
	static const char *const svc[POL_SVC_COUNT] = {
	    "clusterdb", "traversal",  "mra",	"neighbour",
	    "b2b",	 "federation", "cloud",
	};
	static const char *const kinds[POL_KIND_COUNT] = {
	    "expressway", "cucm",     "unity",		 "cube",
	    "cms",	  "b2b-peer", "federation-peer", "cloud",
	};
	enum pol_service sv;
	enum pol_kind k;
	enum pol_role r = POL_ROLE_E;
	int i;

	/* The names are a contract (plans, JSON). */
	ck_assert_int_eq(POL_SVC_COUNT, 7);
	for (i = 0; i < POL_SVC_COUNT; i++) {
		ck_assert_str_eq(pol_service_name((enum pol_service)i), svc[i]);
		sv = POL_SVC_COUNT;
		ck_assert_int_eq(pol_service_parse(svc[i], &sv), 0);
		ck_assert_int_eq(sv, i);
	}
	/* The old catch-all "mtls" is gone; no plan or example used it. */
	ck_assert_int_eq(pol_service_parse("mtls", &sv), EKL_EINVAL);
	ck_assert_int_eq(pol_service_parse("Traversal", &sv), EKL_EINVAL);
	ck_assert_int_eq(pol_service_parse("", &sv), EKL_EINVAL);
	ck_assert_int_eq(pol_service_parse(NULL, &sv), EKL_EINVAL);
	ck_assert_str_eq(pol_service_name(POL_SVC_COUNT), "?");

	ck_assert_int_eq(POL_KIND_COUNT, 8);
	for (i = 0; i < POL_KIND_COUNT; i++) {
		ck_assert_str_eq(pol_kind_name((enum pol_kind)i), kinds[i]);
		k = POL_KIND_COUNT;
		ck_assert_int_eq(pol_kind_parse(kinds[i], &k), 0);
		ck_assert_int_eq(k, i);
		ck_assert(pol_kind_external(k) == (i != 0));
	}
	ck_assert_int_eq(pol_kind_parse("b2b", &k), EKL_EINVAL);
	ck_assert_int_eq(pol_kind_parse(NULL, &k), EKL_EINVAL);
	ck_assert_str_eq(pol_kind_name(POL_KIND_COUNT), "?");

	ck_assert_str_eq(pol_role_name(POL_ROLE_C), "c");
	ck_assert_str_eq(pol_role_name(POL_ROLE_E), "e");
	ck_assert_int_eq(pol_role_parse("c", &r), 0);
	ck_assert_int_eq(r, POL_ROLE_C);
	ck_assert_int_eq(pol_role_parse("e", &r), 0);
	ck_assert_int_eq(r, POL_ROLE_E);
	ck_assert_int_eq(pol_role_parse("C", &r), EKL_EINVAL);
	ck_assert_int_eq(pol_role_parse(NULL, &r), EKL_EINVAL);

	ck_assert_str_eq(pol_dialer_name(POL_DIALS_EITHER), "either");
	ck_assert_str_eq(pol_dialer_name(POL_DIALS_CLIENT_CLUSTER),
			 "client-cluster");
	ck_assert_str_eq(pol_dialer_name(POL_DIALS_EXPRESSWAY), "expressway");
}
END_TEST

/* ---- who dials ---- */

START_TEST(dialers)
{
	/* F17-F19 and B: who opens each service's connections. */
	static const enum pol_dialer want[POL_SVC_COUNT] = {
	    POL_DIALS_EITHER,	      /* clusterdb: every peer dials */
	    POL_DIALS_CLIENT_CLUSTER, /* traversal: C dials E */
	    POL_DIALS_CLIENT_CLUSTER, /* mra rides on traversal */
	    POL_DIALS_EITHER,	      /* neighbour */
	    POL_DIALS_EITHER,	      /* b2b */
	    POL_DIALS_EITHER,	      /* federation */
	    POL_DIALS_EXPRESSWAY,     /* cloud */
	};
	int i;

	for (i = 0; i < POL_SVC_COUNT; i++)
		ck_assert_msg(pol_service_dialer((enum pol_service)i) ==
				  want[i],
			      "%s", pol_service_name((enum pol_service)i));
	ck_assert_int_eq(pol_service_handshake(POL_SVC_MRA), POL_SVC_TRAVERSAL);
	for (i = 0; i < POL_SVC_COUNT; i++)
		if (i != POL_SVC_MRA)
			ck_assert_int_eq(
			    pol_service_handshake((enum pol_service)i), i);
}
END_TEST

static struct pol_node peer(enum pol_kind k, enum pol_role r)
{
	struct pol_node n = node(POL_V_X155, POL_ENFORCE, NULL, NULL);

	n.kind = k;
	n.role = r;
	return n;
}

START_TEST(may_initiate)
{
	struct pol_node c = peer(POL_KIND_EXPRESSWAY, POL_ROLE_C);
	struct pol_node c2 = peer(POL_KIND_EXPRESSWAY, POL_ROLE_C);
	struct pol_node e = peer(POL_KIND_EXPRESSWAY, POL_ROLE_E);
	struct pol_node cucm = peer(POL_KIND_CUCM, POL_ROLE_C);
	struct pol_node cms = peer(POL_KIND_CMS, POL_ROLE_C);
	struct pol_node b2b = peer(POL_KIND_B2B_PEER, POL_ROLE_C);
	struct pol_node fed = peer(POL_KIND_FEDERATION_PEER, POL_ROLE_C);
	struct pol_node cloud = peer(POL_KIND_CLOUD, POL_ROLE_C);

	/* ClusterDB: Expressway peers, both ways (cluster membership is the
	 * topology's); never an external. */
	ck_assert(pol_may_initiate(POL_SVC_CLUSTERDB, &c, &c2));
	ck_assert(pol_may_initiate(POL_SVC_CLUSTERDB, &c2, &c));
	ck_assert(pol_may_initiate(POL_SVC_CLUSTERDB, &e, &e));
	ck_assert(!pol_may_initiate(POL_SVC_CLUSTERDB, &c, &cucm));
	ck_assert(!pol_may_initiate(POL_SVC_CLUSTERDB, &cloud, &c));

	/* Traversal and MRA: C always initiates to E (F18). */
	ck_assert(pol_may_initiate(POL_SVC_TRAVERSAL, &c, &e));
	ck_assert(!pol_may_initiate(POL_SVC_TRAVERSAL, &e, &c));
	ck_assert(!pol_may_initiate(POL_SVC_TRAVERSAL, &c, &c2));
	ck_assert(!pol_may_initiate(POL_SVC_TRAVERSAL, &c, &cucm));
	ck_assert(pol_may_initiate(POL_SVC_MRA, &c, &e));
	ck_assert(!pol_may_initiate(POL_SVC_MRA, &e, &c));

	/* Neighbour, B2B, federation: either side (F19), with externals of
	 * a kind that serves the service, or another Expressway. */
	ck_assert(pol_may_initiate(POL_SVC_NEIGHBOUR, &c, &cucm));
	ck_assert(pol_may_initiate(POL_SVC_NEIGHBOUR, &cucm, &c));
	ck_assert(pol_may_initiate(POL_SVC_NEIGHBOUR, &e, &cms));
	ck_assert(pol_may_initiate(POL_SVC_NEIGHBOUR, &c, &e));
	ck_assert(!pol_may_initiate(POL_SVC_NEIGHBOUR, &cucm, &cms));
	ck_assert(!pol_may_initiate(POL_SVC_NEIGHBOUR, &c, &b2b));
	ck_assert(pol_may_initiate(POL_SVC_B2B, &e, &b2b));
	ck_assert(pol_may_initiate(POL_SVC_B2B, &b2b, &e));
	ck_assert(!pol_may_initiate(POL_SVC_B2B, &e, &fed));
	ck_assert(pol_may_initiate(POL_SVC_FEDERATION, &e, &fed));
	ck_assert(pol_may_initiate(POL_SVC_FEDERATION, &fed, &e));
	ck_assert(!pol_may_initiate(POL_SVC_FEDERATION, &fed, &cucm));

	/* Cloud: the Expressway initiates, never the cloud (F19). */
	ck_assert(pol_may_initiate(POL_SVC_CLOUD, &c, &cloud));
	ck_assert(pol_may_initiate(POL_SVC_CLOUD, &e, &cloud));
	ck_assert(!pol_may_initiate(POL_SVC_CLOUD, &cloud, &c));
	ck_assert(!pol_may_initiate(POL_SVC_CLOUD, &c, &e));
	ck_assert(!pol_may_initiate(POL_SVC_CLOUD, &c, &cucm));

	ck_assert(!pol_may_initiate(POL_SVC_COUNT, &c, &cucm));
	ck_assert(!pol_may_initiate(POL_SVC_NEIGHBOUR, NULL, &cucm));
	ck_assert(!pol_may_initiate(POL_SVC_NEIGHBOUR, &c, NULL));
}
END_TEST

START_TEST(kind_serves)
{
	int k, s;

	for (k = 0; k < POL_KIND_COUNT; k++)
		for (s = 0; s < POL_SVC_COUNT; s++) {
			bool want;

			switch ((enum pol_kind)k) {
			case POL_KIND_EXPRESSWAY: want = true; break;
			case POL_KIND_CUCM:
			case POL_KIND_UNITY:
			case POL_KIND_CUBE:
			case POL_KIND_CMS: want = s == POL_SVC_NEIGHBOUR; break;
			case POL_KIND_B2B_PEER: want = s == POL_SVC_B2B; break;
			case POL_KIND_FEDERATION_PEER:
				want = s == POL_SVC_FEDERATION;
				break;
			case POL_KIND_CLOUD: want = s == POL_SVC_CLOUD; break;
			default: want = false; break;
			}
			ck_assert_msg(pol_kind_serves((enum pol_kind)k,
						      (enum pol_service)s) ==
					  want,
				      "%s %s", pol_kind_name((enum pol_kind)k),
				      pol_service_name((enum pol_service)s));
		}
	ck_assert(!pol_kind_serves(POL_KIND_EXPRESSWAY, POL_SVC_COUNT));
}
END_TEST

/* ---- pol_rules ---- */

static struct pol_rules rules_of(enum pol_vclass v, enum pol_mode m,
				 bool eku_check, enum pol_side as,
				 enum pol_service svc)
{
	struct pol_node n = node(v, m, NULL, NULL);
	struct pol_rules r;

	n.client_eku_check = eku_check;
	memset(&r, 0xa5, sizeof(r));
	pol_rules(&n, as, svc, &r);
	return r;
}

START_TEST(rules_initiator)
{
	enum pol_vclass v;
	int svc;
	int eku;

	/* Every version, handshake service and setting: server purpose
	 * enforced, nothing else asked of the chain. */
	for (v = POL_V_PRE154; v <= POL_V_X155; v++)
		for (svc = 0; svc < POL_SVC_COUNT; svc++)
			for (eku = 0; eku < 2; eku++) {
				struct pol_rules r;

				if (svc == POL_SVC_MRA)
					continue; /* rules_mra */
				r = rules_of(v, POL_ENFORCE, eku,
					     POL_SIDE_INITIATOR,
					     (enum pol_service)svc);
				ck_assert(r.verify);
				ck_assert(r.require_cert);
				ck_assert(r.check_purpose);
				ck_assert_uint_eq(r.purpose, POL_EKU_SERVER);
				ck_assert_uint_eq(r.also_purpose, 0);
			}
}
END_TEST

START_TEST(rules_acceptor)
{
	/* Does an enforcing Expressway acceptor check clientAuth? One row
	 * per service and version, with the X15.5 switch on (default) and
	 * off node-wide. docs/model.md, the services table. */
	static const struct {
		enum pol_service svc;
		bool pre154, x154, x155_on, x155_off;
	} rows[] = {
	    /* F9, F10: ClusterDB skips from X15.4, whatever the switch. */
	    {POL_SVC_CLUSTERDB, true, false, false, false},
	    /* F12, F18, F19: the zone services check on every version;
	     * only X15.5's switch lifts it (F13). */
	    {POL_SVC_TRAVERSAL, true, true, true, false},
	    {POL_SVC_NEIGHBOUR, true, true, true, false},
	    {POL_SVC_B2B, true, true, true, false},
	    {POL_SVC_FEDERATION, true, true, true, false},
	    {POL_SVC_CLOUD, true, true, true, false},
	};
	size_t i;
	int k;

	ck_assert_uint_eq(sizeof(rows) / sizeof(rows[0]), POL_SVC_COUNT - 1);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const bool want[4] = {rows[i].pre154, rows[i].x154,
				      rows[i].x155_on, rows[i].x155_off};
		const enum pol_vclass vs[4] = {POL_V_PRE154, POL_V_X154,
					       POL_V_X155, POL_V_X155};

		for (k = 0; k < 4; k++) {
			/* The switch off (k == 3), or off on a version that
			 * has no switch: only X15.5 reads it. */
			bool eku = k != 3;
			struct pol_rules r =
			    rules_of(vs[k], POL_ENFORCE, eku, POL_SIDE_ACCEPTOR,
				     rows[i].svc);

			ck_assert(r.verify);
			ck_assert(r.require_cert);
			ck_assert_uint_eq(r.purpose, POL_EKU_CLIENT);
			ck_assert_uint_eq(r.also_purpose, 0);
			ck_assert_msg(r.check_purpose == want[k],
				      "%s column %d",
				      pol_service_name(rows[i].svc), k);
			if (vs[k] != POL_V_X155) {
				r = rules_of(vs[k], POL_ENFORCE, false,
					     POL_SIDE_ACCEPTOR, rows[i].svc);
				ck_assert_msg(r.check_purpose == want[k],
					      "%s: the switch before X15.5",
					      pol_service_name(rows[i].svc));
			}
		}
	}
}
END_TEST

START_TEST(rules_permissive)
{
	enum pol_vclass v;
	int svc;

	for (v = POL_V_PRE154; v <= POL_V_X155; v++)
		for (svc = 0; svc < POL_SVC_COUNT; svc++) {
			struct pol_rules a, i;

			if (svc == POL_SVC_MRA)
				continue; /* rules_mra: not the verify mode */
			a = rules_of(v, POL_PERMISSIVE, true, POL_SIDE_ACCEPTOR,
				     (enum pol_service)svc);
			i = rules_of(v, POL_PERMISSIVE, true,
				     POL_SIDE_INITIATOR, (enum pol_service)svc);
			ck_assert(!a.verify && !a.require_cert &&
				  !a.check_purpose);
			ck_assert(!i.verify && !i.require_cert &&
				  !i.check_purpose);
			/* Still named, so the would-be failure is known. */
			ck_assert_uint_eq(a.purpose, POL_EKU_CLIENT);
			ck_assert_uint_eq(i.purpose, POL_EKU_SERVER);
		}
}
END_TEST

START_TEST(rules_switch_per_service)
{
	struct pol_node n = node(POL_V_X155, POL_ENFORCE, NULL, NULL);
	struct pol_rules r;
	int svc;

	/* Default on, off for the neighbour zone only. */
	n.client_eku_service[POL_SVC_NEIGHBOUR] = POL_SW_IGNORE;
	ck_assert(!pol_client_eku_check(&n, POL_SVC_NEIGHBOUR));
	for (svc = 0; svc < POL_SVC_COUNT; svc++)
		if (svc != POL_SVC_NEIGHBOUR)
			ck_assert(
			    pol_client_eku_check(&n, (enum pol_service)svc));
	pol_rules(&n, POL_SIDE_ACCEPTOR, POL_SVC_NEIGHBOUR, &r);
	ck_assert(!r.check_purpose);
	pol_rules(&n, POL_SIDE_ACCEPTOR, POL_SVC_TRAVERSAL, &r);
	ck_assert(r.check_purpose);
	pol_rules(&n, POL_SIDE_ACCEPTOR, POL_SVC_B2B, &r);
	ck_assert(r.check_purpose);

	/* Default off, back on for traversal: the override wins. */
	n = node(POL_V_X155, POL_ENFORCE, NULL, NULL);
	n.client_eku_check = false;
	n.client_eku_service[POL_SVC_TRAVERSAL] = POL_SW_CHECK;
	pol_rules(&n, POL_SIDE_ACCEPTOR, POL_SVC_TRAVERSAL, &r);
	ck_assert(r.check_purpose);
	pol_rules(&n, POL_SIDE_ACCEPTOR, POL_SVC_FEDERATION, &r);
	ck_assert(!r.check_purpose);
	/* An override cannot bring back ClusterDB's check (F10). */
	n.client_eku_service[POL_SVC_CLUSTERDB] = POL_SW_CHECK;
	pol_rules(&n, POL_SIDE_ACCEPTOR, POL_SVC_CLUSTERDB, &r);
	ck_assert(!r.check_purpose);

	/* Before X15.5 there is no switch: overrides are ignored. */
	n.version = POL_V_X154;
	n.client_eku_service[POL_SVC_NEIGHBOUR] = POL_SW_IGNORE;
	pol_rules(&n, POL_SIDE_ACCEPTOR, POL_SVC_NEIGHBOUR, &r);
	ck_assert(r.check_purpose);
	/* The switch is the acceptor's: an initiator checks serverAuth. */
	n.version = POL_V_X155;
	n.client_eku_check = false;
	pol_rules(&n, POL_SIDE_INITIATOR, POL_SVC_NEIGHBOUR, &r);
	ck_assert(r.check_purpose);
	ck_assert_uint_eq(r.purpose, POL_EKU_SERVER);
	/* Out of range: the node-wide value. */
	ck_assert(!pol_client_eku_check(&n, POL_SVC_COUNT));
}
END_TEST

START_TEST(rules_external)
{
	struct pol_node x = node(POL_V_PRE154, POL_ENFORCE, NULL, NULL);
	struct pol_rules r;
	enum pol_vclass v;
	int svc;
	int k;

	/* An external acceptor checks clientAuth exactly when it says so,
	 * whatever service, "version" or X15.5 switch (F20: GnuTLS's server
	 * does not by default). */
	for (k = POL_KIND_CUCM; k < POL_KIND_COUNT; k++)
		for (v = POL_V_PRE154; v <= POL_V_X155; v++)
			for (svc = 0; svc < POL_SVC_COUNT; svc++) {
				if (svc == POL_SVC_MRA)
					continue;
				x = node(v, POL_ENFORCE, NULL, NULL);
				x.kind = (enum pol_kind)k;
				x.client_eku_check = false;
				x.checks_client_eku = true;
				pol_rules(&x, POL_SIDE_ACCEPTOR,
					  (enum pol_service)svc, &r);
				ck_assert(r.verify && r.require_cert);
				ck_assert(r.check_purpose);
				ck_assert_uint_eq(r.purpose, POL_EKU_CLIENT);
				x.checks_client_eku = false;
				x.client_eku_check = true;
				pol_rules(&x, POL_SIDE_ACCEPTOR,
					  (enum pol_service)svc, &r);
				ck_assert(r.verify && r.require_cert);
				ck_assert(!r.check_purpose);
				/* As initiator: serverAuth, like any client. */
				pol_rules(&x, POL_SIDE_INITIATOR,
					  (enum pol_service)svc, &r);
				ck_assert(r.verify && r.check_purpose);
				ck_assert_uint_eq(r.purpose, POL_EKU_SERVER);
			}

	/* An external that does not verify (a zone's tls_verify off). */
	x = node(POL_V_PRE154, POL_PERMISSIVE, NULL, NULL);
	x.kind = POL_KIND_CUCM;
	x.checks_client_eku = true;
	pol_rules(&x, POL_SIDE_ACCEPTOR, POL_SVC_NEIGHBOUR, &r);
	ck_assert(!r.verify && !r.require_cert && !r.check_purpose);
	pol_rules(&x, POL_SIDE_INITIATOR, POL_SVC_NEIGHBOUR, &r);
	ck_assert(!r.verify && !r.check_purpose);
}
END_TEST

START_TEST(rules_mra)
{
	/* F17: serverAuth on every version; clientAuth as well before
	 * X15.4; whatever C's verify mode, switch or the side asked. */
	static const struct {
		enum pol_vclass v;
		unsigned also;
	} rows[] = {
	    {POL_V_PRE154, POL_EKU_CLIENT},
	    {POL_V_X154, 0},
	    {POL_V_X155, 0},
	};
	size_t i;
	int m, side, eku;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (m = 0; m < 2; m++)
			for (side = POL_SIDE_NONE; side <= POL_SIDE_ACCEPTOR;
			     side++)
				for (eku = 0; eku < 2; eku++) {
					struct pol_rules r = rules_of(
					    rows[i].v, (enum pol_mode)m, eku,
					    (enum pol_side)side, POL_SVC_MRA);

					ck_assert(r.verify);
					ck_assert(r.require_cert);
					ck_assert(r.check_purpose);
					ck_assert_uint_eq(r.purpose,
							  POL_EKU_SERVER);
					ck_assert_uint_eq(r.also_purpose,
							  rows[i].also);
				}
	/* An unknown version class gets the strict answer. */
	{
		struct pol_node n =
		    node((enum pol_vclass)9, POL_ENFORCE, NULL, NULL);
		struct pol_rules r;

		pol_rules(&n, POL_SIDE_INITIATOR, POL_SVC_MRA, &r);
		ck_assert_uint_eq(r.also_purpose, POL_EKU_CLIENT);
		pol_rules(&n, POL_SIDE_ACCEPTOR, POL_SVC_CLUSTERDB, &r);
		ck_assert(r.check_purpose);
	}
}
END_TEST

/* ---- pol_presented ---- */

START_TEST(presented)
{
	struct pol_chain srv, cli;
	struct pol_node n;
	enum pol_vclass v;

	chain3(&srv, EKU_SRV, EKU_NONE, "s");
	chain3(&cli, EKU_CLI, EKU_NONE, "c");
	for (v = POL_V_PRE154; v <= POL_V_X155; v++) {
		n = node(v, POL_ENFORCE, &srv, &cli);
		ck_assert_ptr_eq(pol_presented(&n, POL_SIDE_ACCEPTOR), &srv);
		ck_assert_ptr_eq(pol_presented(&n, POL_SIDE_INITIATOR),
				 v == POL_V_X155 ? &cli : &srv);
		n = node(v, POL_ENFORCE, &srv, NULL);
		ck_assert_ptr_eq(pol_presented(&n, POL_SIDE_INITIATOR), &srv);
		ck_assert_ptr_eq(pol_presented(&n, POL_SIDE_ACCEPTOR), &srv);
	}
	n = node(POL_V_X155, POL_ENFORCE, NULL, NULL);
	ck_assert_ptr_null(pol_presented(&n, POL_SIDE_INITIATOR));

	/* An external presents its client certificate when it has one,
	 * whatever its "version" field says. */
	n = node(POL_V_PRE154, POL_ENFORCE, &srv, &cli);
	n.kind = POL_KIND_CUBE;
	ck_assert_ptr_eq(pol_presented(&n, POL_SIDE_INITIATOR), &cli);
	ck_assert_ptr_eq(pol_presented(&n, POL_SIDE_ACCEPTOR), &srv);
	n.client_chain = NULL;
	ck_assert_ptr_eq(pol_presented(&n, POL_SIDE_INITIATOR), &srv);
}
END_TEST

/* ---- pol_name_matches ---- */

START_TEST(names_dns)
{
	struct pol_chain ch;

	chain3(&ch, EKU_BOTH, EKU_NONE, "Node1.Example.COM");
	chain_dns(&ch, "node2.example.com");
	ck_assert(pol_name_matches(&ch, "node1.example.com"));
	ck_assert(pol_name_matches(&ch, "NODE1.EXAMPLE.COM"));
	ck_assert(pol_name_matches(&ch, "node2.example.com"));
	ck_assert(!pol_name_matches(&ch, "node3.example.com"));
	ck_assert(!pol_name_matches(&ch, "node1.example"));
	ck_assert(!pol_name_matches(&ch, "node1.example.com.evil"));
	ck_assert(!pol_name_matches(&ch, "x.node1.example.com"));
	ck_assert(!pol_name_matches(&ch, ""));
	ck_assert(!pol_name_matches(&ch, NULL));
	ck_assert(!pol_name_matches(NULL, "node1.example.com"));
}
END_TEST

START_TEST(names_wildcard)
{
	struct pol_chain ch;

	chain3(&ch, EKU_BOTH, EKU_NONE, "*.lab.example");
	ck_assert(pol_name_matches(&ch, "a.lab.example"));
	ck_assert(pol_name_matches(&ch, "NODE-7.Lab.Example"));
	ck_assert(!pol_name_matches(&ch, "lab.example"));
	ck_assert(!pol_name_matches(&ch, "a.b.lab.example"));
	ck_assert(!pol_name_matches(&ch, ".lab.example"));
	ck_assert(!pol_name_matches(&ch, "a.lab.exampl"));
	/* The literal pattern still equals itself. */
	ck_assert(pol_name_matches(&ch, "*.lab.example"));

	/* Wildcard only as the whole left-most label. */
	chain3(&ch, EKU_BOTH, EKU_NONE, "n*.lab.example");
	ck_assert(!pol_name_matches(&ch, "n1.lab.example"));
	chain3(&ch, EKU_BOTH, EKU_NONE, "a.*.example");
	ck_assert(!pol_name_matches(&ch, "a.lab.example"));
	chain3(&ch, EKU_BOTH, EKU_NONE, "*");
	ck_assert(!pol_name_matches(&ch, "a"));
	/* The wildcard label holds letters, digits and hyphens only. */
	chain3(&ch, EKU_BOTH, EKU_NONE, "*.lab.example");
	ck_assert(!pol_name_matches(&ch, "a_b.lab.example"));
	ck_assert(!pol_name_matches(&ch, "a b.lab.example"));
	/* Like OpenSSL: an invalid wildcard pattern compares literally. */
	chain3(&ch, EKU_BOTH, EKU_NONE, "*.lab_x.example");
	ck_assert(!pol_name_matches(&ch, "a.lab_x.example"));
	ck_assert(pol_name_matches(&ch, "*.LAB_X.example"));
	chain3(&ch, EKU_BOTH, EKU_NONE, "*..example");
	ck_assert(!pol_name_matches(&ch, "a..example"));
	chain3(&ch, EKU_BOTH, EKU_NONE, "*.lab.example.");
	ck_assert(!pol_name_matches(&ch, "a.lab.example."));
	/* Like OpenSSL: "*.tld" (one label after the star) is no wildcard. */
	chain3(&ch, EKU_BOTH, EKU_NONE, "*.example");
	ck_assert(!pol_name_matches(&ch, "a.example"));
}
END_TEST

START_TEST(names_ip)
{
	struct pol_chain ch;

	chain3(&ch, EKU_BOTH, EKU_NONE, "node1.example.com");
	chain_ip(&ch, "192.0.2.10");
	chain_ip(&ch, "2001:db8::1");
	ck_assert(pol_name_matches(&ch, "192.0.2.10"));
	ck_assert(!pol_name_matches(&ch, "192.0.2.11"));
	ck_assert(pol_name_matches(&ch, "2001:db8::1"));
	/* Binary equality: another spelling of the same address. */
	ck_assert(pol_name_matches(&ch, "2001:DB8:0:0:0:0:0:1"));
	ck_assert(!pol_name_matches(&ch, "2001:db8::2"));
	/* A v4-mapped v6 address is a different address. */
	ck_assert(!pol_name_matches(&ch, "::ffff:192.0.2.10"));

	/* An address never matches a DNS SAN or the CN spelling it. */
	chain_init(&ch);
	chain_add(&ch, EKU_BOTH);
	chain_dns(&ch, "192.0.2.10");
	ck_assert(!pol_name_matches(&ch, "192.0.2.10"));
	chain_init(&ch);
	chain_add(&ch, EKU_BOTH);
	strcpy(ch.cn, "192.0.2.10");
	ck_assert(!pol_name_matches(&ch, "192.0.2.10"));
}
END_TEST

START_TEST(names_cn)
{
	struct pol_chain ch;

	/* No SAN at all: the CN is the identity (wildcards too). */
	chain_init(&ch);
	chain_add(&ch, EKU_BOTH);
	strcpy(ch.cn, "Node1.example.com");
	ck_assert(pol_name_matches(&ch, "node1.example.com"));
	ck_assert(!pol_name_matches(&ch, "node2.example.com"));
	strcpy(ch.cn, "*.example.com");
	ck_assert(pol_name_matches(&ch, "node2.example.com"));

	/* With a DNS SAN, the CN is ignored. */
	strcpy(ch.cn, "node1.example.com");
	chain_dns(&ch, "other.example.com");
	ck_assert(!pol_name_matches(&ch, "node1.example.com"));
	ck_assert(pol_name_matches(&ch, "other.example.com"));

	/* With only an IP SAN, the CN is ignored as well. */
	chain_init(&ch);
	chain_add(&ch, EKU_BOTH);
	strcpy(ch.cn, "node1.example.com");
	chain_ip(&ch, "192.0.2.1");
	ck_assert(!pol_name_matches(&ch, "node1.example.com"));

	/* Empty CN never matches. */
	chain_init(&ch);
	chain_add(&ch, EKU_BOTH);
	ck_assert(!pol_name_matches(&ch, "node1.example.com"));
}
END_TEST

/* ---- pol_check_chain ---- */

/* docs/model.md F20 (OpenSSL 3.0 purpose checks, measured): leaf <- issuing CA
 * <- root; every row, both purposes. Expected: the first failing certificate
 * from the leaf up, or -1 = ok. */
START_TEST(check_purpose_table)
{
	static const struct {
		unsigned ca;
		unsigned leaf;
		int client_depth; /* -1: ok */
		int server_depth;
	} rows[] = {
	    {EKU_NONE, EKU_BOTH, -1, -1}, {EKU_NONE, EKU_SRV, 0, -1},
	    {EKU_NONE, EKU_CLI, -1, 0},	  {EKU_NONE, EKU_NONE, -1, -1},
	    {EKU_NONE, EKU_ANY, 0, 0},	  {EKU_SRV, EKU_BOTH, 1, -1},
	    {EKU_SRV, EKU_SRV, 0, -1},	  {EKU_SRV, EKU_CLI, 1, 0},
	    {EKU_SRV, EKU_NONE, 1, -1},	  {EKU_SRV, EKU_ANY, 0, 0},
	    {EKU_BOTH, EKU_BOTH, -1, -1}, {EKU_BOTH, EKU_SRV, 0, -1},
	    {EKU_BOTH, EKU_CLI, -1, 0},	  {EKU_BOTH, EKU_NONE, -1, -1},
	    {EKU_BOTH, EKU_ANY, 0, 0},
	};
	struct pol_rules cli = rules(true, true, POL_EKU_CLIENT);
	struct pol_rules srv = rules(true, true, POL_EKU_SERVER);
	struct pol_chain ch;
	size_t i;
	int d;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		chain3(&ch, rows[i].leaf, rows[i].ca, "n");
		ck_assert_int_eq(check(&cli, &ch, "n", &d),
				 rows[i].client_depth < 0 ? POL_OK
							  : POL_CLIENT_PURPOSE);
		ck_assert_msg(d == rows[i].client_depth, "row %zu client %d", i,
			      d);
		ck_assert_int_eq(check(&srv, &ch, "n", &d),
				 rows[i].server_depth < 0 ? POL_OK
							  : POL_SERVER_PURPOSE);
		ck_assert_msg(d == rows[i].server_depth, "row %zu server %d", i,
			      d);
	}

	/* An EKU on the root counts too; OTHER alone is no purpose. */
	chain3(&ch, EKU_BOTH, EKU_NONE, "n");
	ch.certs[2].eku = EKU_SRV;
	ck_assert_int_eq(check(&cli, &ch, "n", &d), POL_CLIENT_PURPOSE);
	ck_assert_int_eq(d, 2);
	ch.certs[2].eku = POL_EKU_EXT | POL_EKU_OTHER;
	ck_assert_int_eq(check(&srv, &ch, "n", &d), POL_SERVER_PURPOSE);
	ck_assert_int_eq(d, 2);
	ch.certs[2].eku = POL_EKU_EXT | POL_EKU_OTHER | POL_EKU_SERVER;
	ck_assert_int_eq(check(&srv, &ch, "n", &d), POL_OK);
}
END_TEST

START_TEST(check_purpose_skipped)
{
	/* Enforcing without the purpose check: purpose errors at any depth
	 * are skipped and the later checks still run. */
	struct pol_rules r = rules(true, false, POL_EKU_CLIENT);
	struct pol_chain ch;
	int d;

	chain3(&ch, EKU_SRV, EKU_SRV, "n");
	ch.certs[2].eku = EKU_SRV;
	ck_assert_int_eq(check(&r, &ch, "n", &d), POL_OK);
	ck_assert_int_eq(d, -1);
	ck_assert_int_eq(check(&r, &ch, "other", &d), POL_NAME_MISMATCH);
	ck_assert_int_eq(d, 0);
	ch.certs[0].not_after = NOW - 1;
	ck_assert_int_eq(check(&r, &ch, "n", &d), POL_EXPIRED);
	ck_assert_int_eq(d, 0);
	ch.anchored = false;
	ck_assert_int_eq(check(&r, &ch, "n", &d), POL_UNTRUSTED);
}
END_TEST

START_TEST(check_permissive_reports)
{
	/* verify false: the first failure of any kind, purpose included,
	 * with the purpose the rules name (check_purpose is false). */
	struct pol_rules pc = rules(false, false, POL_EKU_CLIENT);
	struct pol_rules ps = rules(false, false, POL_EKU_SERVER);
	struct pol_chain ch;
	int d;

	chain3(&ch, EKU_SRV, EKU_NONE, "n");
	ck_assert_int_eq(check(&pc, &ch, "n", &d), POL_CLIENT_PURPOSE);
	ck_assert_int_eq(d, 0);
	ck_assert_int_eq(check(&ps, &ch, "n", &d), POL_OK);
	ck_assert_int_eq(d, -1);
	ck_assert_int_eq(check(&ps, &ch, "x", &d), POL_NAME_MISMATCH);
	ch.certs[1].not_before = NOW + 1;
	ck_assert_int_eq(check(&ps, &ch, "n", &d), POL_NOT_YET_VALID);
	ck_assert_int_eq(d, 1);
	ck_assert_int_eq(check(&pc, &ch, "n", &d), POL_CLIENT_PURPOSE);
	ch.anchored = false;
	ck_assert_int_eq(check(&pc, &ch, "n", &d), POL_UNTRUSTED);
	ck_assert_int_eq(d, 2);
	ck_assert_int_eq(pol_check_chain(&pc, NULL, NULL, 0, NOW, &d),
			 POL_NO_CERTIFICATE);
	ck_assert_int_eq(d, -1);
}
END_TEST

START_TEST(check_time)
{
	struct pol_rules r = rules(true, true, POL_EKU_SERVER);
	struct pol_chain ch;
	int d;

	/* Exactly at the bounds is valid. */
	chain3(&ch, EKU_BOTH, EKU_NONE, "n");
	ch.certs[0].not_before = NOW;
	ch.certs[0].not_after = NOW;
	ck_assert_int_eq(check(&r, &ch, "n", &d), POL_OK);

	chain3(&ch, EKU_BOTH, EKU_NONE, "n");
	ch.certs[0].not_after = NOW - 1;
	ck_assert_int_eq(check(&r, &ch, "n", &d), POL_EXPIRED);
	ck_assert_int_eq(d, 0);

	chain3(&ch, EKU_BOTH, EKU_NONE, "n");
	ch.certs[0].not_before = NOW + 1;
	ck_assert_int_eq(check(&r, &ch, "n", &d), POL_NOT_YET_VALID);
	ck_assert_int_eq(d, 0);

	/* Root expired. */
	chain3(&ch, EKU_BOTH, EKU_NONE, "n");
	ch.certs[2].not_after = NOW - DAY;
	ck_assert_int_eq(check(&r, &ch, "n", &d), POL_EXPIRED);
	ck_assert_int_eq(d, 2);

	/* Root first: an expired root is reported before an expired or
	 * not-yet-valid leaf, the intermediate before the leaf. */
	ch.certs[0].not_after = NOW - 1;
	ck_assert_int_eq(check(&r, &ch, "n", &d), POL_EXPIRED);
	ck_assert_int_eq(d, 2);
	chain3(&ch, EKU_BOTH, EKU_NONE, "n");
	ch.certs[0].not_after = NOW - 1;
	ch.certs[1].not_before = NOW + 1;
	ck_assert_int_eq(check(&r, &ch, "n", &d), POL_NOT_YET_VALID);
	ck_assert_int_eq(d, 1);

	/* One certificate both not yet valid and expired (inverted
	 * validity): not-yet-valid first. */
	chain3(&ch, EKU_BOTH, EKU_NONE, "n");
	ch.certs[0].not_before = NOW + 1;
	ch.certs[0].not_after = NOW - 1;
	ck_assert_int_eq(check(&r, &ch, "n", &d), POL_NOT_YET_VALID);
	ck_assert_int_eq(d, 0);

	/* The evaluation time is the caller's. */
	chain3(&ch, EKU_BOTH, EKU_NONE, "n");
	ck_assert_int_eq(pol_check_chain(&r, &ch, NULL, 0, NOW + 400 * DAY, &d),
			 POL_EXPIRED);
	ck_assert_int_eq(d, 2);
}
END_TEST

START_TEST(check_order)
{
	struct pol_rules r = rules(true, true, POL_EKU_CLIENT);
	struct pol_chain ch;
	int d;

	/* Everything wrong: untrusted wins, at the top presented cert. */
	chain3(&ch, EKU_SRV, EKU_NONE, "n");
	ch.anchored = false;
	ch.len = 2; /* leaf + intermediate as presented, no root */
	ch.certs[0].not_after = NOW - 1;
	ck_assert_int_eq(check(&r, &ch, "x", &d), POL_UNTRUSTED);
	ck_assert_int_eq(d, 1);
	ch.len = 1;
	ck_assert_int_eq(check(&r, &ch, "x", &d), POL_UNTRUSTED);
	ck_assert_int_eq(d, 0);

	/* Purpose before time (even a root's), time before name. */
	chain3(&ch, EKU_SRV, EKU_NONE, "n");
	ch.certs[2].not_after = NOW - 1;
	ck_assert_int_eq(check(&r, &ch, "x", &d), POL_CLIENT_PURPOSE);
	ck_assert_int_eq(d, 0);
	ch.certs[0].eku = EKU_BOTH;
	ck_assert_int_eq(check(&r, &ch, "x", &d), POL_EXPIRED);
	ck_assert_int_eq(d, 2);
	ch.certs[2].not_after = NOW + DAY;
	ck_assert_int_eq(check(&r, &ch, "x", &d), POL_NAME_MISMATCH);
	ck_assert_int_eq(d, 0);
	ck_assert_int_eq(check(&r, &ch, "n", &d), POL_OK);
	ck_assert_int_eq(d, -1);
}
END_TEST

START_TEST(check_names_and_none)
{
	struct pol_rules r = rules(true, true, POL_EKU_SERVER);
	const char *const names[] = {"a", "b", "c"};
	struct pol_chain ch;
	int d = 7;

	/* No certificate, NULL or empty. */
	ck_assert_int_eq(pol_check_chain(&r, NULL, names, 3, NOW, &d),
			 POL_NO_CERTIFICATE);
	ck_assert_int_eq(d, -1);
	chain_init(&ch);
	d = 7;
	ck_assert_int_eq(pol_check_chain(&r, &ch, names, 3, NOW, &d),
			 POL_NO_CERTIFICATE);
	ck_assert_int_eq(d, -1);

	/* Any of the names matches; none -> mismatch; no names -> no check. */
	chain3(&ch, EKU_BOTH, EKU_NONE, "c");
	ck_assert_int_eq(pol_check_chain(&r, &ch, names, 3, NOW, &d), POL_OK);
	ck_assert_int_eq(pol_check_chain(&r, &ch, names, 2, NOW, &d),
			 POL_NAME_MISMATCH);
	ck_assert_int_eq(d, 0);
	ck_assert_int_eq(pol_check_chain(&r, &ch, names, 0, NOW, &d), POL_OK);
	ck_assert_int_eq(pol_check_chain(&r, &ch, NULL, 0, NOW, &d), POL_OK);
	ck_assert_int_eq(d, -1);
}
END_TEST

START_TEST(check_also_purpose)
{
	/* The MRA rules of a pre-X15.4 C: serverAuth, then clientAuth once
	 * chain, validity and identity have passed. */
	struct pol_rules r = rules(true, true, POL_EKU_SERVER);
	struct pol_chain ch;
	int d;

	r.also_purpose = POL_EKU_CLIENT;
	chain3(&ch, EKU_BOTH, EKU_NONE, "e");
	ck_assert_int_eq(check(&r, &ch, "e", &d), POL_OK);
	ck_assert_int_eq(d, -1);
	/* Missing clientAuth: client-purpose, leaf first, then the CAs. */
	chain3(&ch, EKU_SRV, EKU_SRV, "e");
	ck_assert_int_eq(check(&r, &ch, "e", &d), POL_CLIENT_PURPOSE);
	ck_assert_int_eq(d, 0);
	chain3(&ch, EKU_BOTH, EKU_SRV, "e");
	ck_assert_int_eq(check(&r, &ch, "e", &d), POL_CLIENT_PURPOSE);
	ck_assert_int_eq(d, 1);
	chain3(&ch, EKU_NONE, EKU_NONE, "e");
	ck_assert_int_eq(check(&r, &ch, "e", &d), POL_OK);
	/* Both missing: serverAuth is checked first. */
	chain3(&ch, EKU_ANY, EKU_NONE, "e");
	ck_assert_int_eq(check(&r, &ch, "e", &d), POL_SERVER_PURPOSE);
	ck_assert_int_eq(d, 0);
	chain3(&ch, EKU_BOTH, EKU_CLI, "e");
	ck_assert_int_eq(check(&r, &ch, "e", &d), POL_SERVER_PURPOSE);
	ck_assert_int_eq(d, 1);
	/* Validity and identity come before the second purpose. */
	chain3(&ch, EKU_SRV, EKU_NONE, "e");
	ch.certs[0].not_after = NOW - 1;
	ck_assert_int_eq(check(&r, &ch, "e", &d), POL_EXPIRED);
	chain3(&ch, EKU_SRV, EKU_NONE, "e");
	ck_assert_int_eq(check(&r, &ch, "other", &d), POL_NAME_MISMATCH);
	ck_assert_int_eq(pol_check_chain(&r, &ch, NULL, 0, NOW, &d),
			 POL_CLIENT_PURPOSE);
	ch.anchored = false;
	ck_assert_int_eq(check(&r, &ch, "e", &d), POL_UNTRUSTED);
	/* Skipped with the purpose check; reported when permissive. */
	chain3(&ch, EKU_SRV, EKU_NONE, "e");
	r.check_purpose = false;
	ck_assert_int_eq(check(&r, &ch, "e", &d), POL_OK);
	r.verify = false;
	ck_assert_int_eq(check(&r, &ch, "e", &d), POL_CLIENT_PURPOSE);
	ck_assert_int_eq(d, 0);
}
END_TEST

/* ---- pol_decide ---- */

/* Server-only and combined chains for nodes "a" and "b". */
struct pair {
	struct pol_chain a_srv, a_both, a_cli, b_srv, b_both;
};

static void pair_init(struct pair *p)
{
	chain3(&p->a_srv, EKU_SRV, EKU_NONE, "a");
	chain3(&p->a_both, EKU_BOTH, EKU_NONE, "a");
	chain3(&p->a_cli, EKU_CLI, EKU_NONE, "a");
	chain3(&p->b_srv, EKU_SRV, EKU_NONE, "b");
	chain3(&p->b_both, EKU_BOTH, EKU_NONE, "b");
}

#define ASSERT_VERDICT(v, ok_, side_, code_, depth_)                           \
	do {                                                                   \
		ck_assert((v).ok == (ok_));                                    \
		ck_assert_int_eq((v).side, (side_));                           \
		ck_assert_int_eq((v).code, (code_));                           \
		ck_assert_int_eq((v).depth, (depth_));                         \
	} while (0)

START_TEST(decide_ok_and_sides)
{
	struct pair p;
	struct pol_node a, b;
	struct pol_conn c;
	struct pol_verdict v;

	pair_init(&p);
	a = node(POL_V_PRE154, POL_ENFORCE, &p.a_both, NULL);
	b = node(POL_V_PRE154, POL_ENFORCE, &p.b_both, NULL);
	c = conn(&a, &b, POL_SVC_CLUSTERDB);
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);

	/* Both sides would reject: the initiator does first. */
	p.a_both.certs[0].not_after = NOW - 1;
	p.b_both.anchored = false;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_UNTRUSTED, 2);

	/* Only the acceptor rejects. */
	p.b_both.anchored = true;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_EXPIRED, 0);

	/* Each side at its own time. */
	p.a_both.certs[0].not_after = NOW + DAY;
	c.acceptor_time = NOW + 2 * DAY;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_EXPIRED, 0);
	c.acceptor_time = NOW;
	c.initiator_time = NOW - 2 * DAY;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_NOT_YET_VALID, 2);
}
END_TEST

START_TEST(decide_names)
{
	struct pair p;
	struct pol_node a, b;
	struct pol_conn c;
	struct pol_verdict v;
	const char *const accepts[] = {"x", "a"};

	pair_init(&p);
	a = node(POL_V_X155, POL_ENFORCE, &p.a_both, NULL);
	b = node(POL_V_X155, POL_ENFORCE, &p.b_both, NULL);
	c = conn(&a, &b, POL_SVC_CLUSTERDB);

	c.initiator_expects = "c";
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_NAME_MISMATCH, 0);

	c.initiator_expects = "b";
	c.acceptor_accepts = accepts;
	c.n_acceptor_accepts = 1;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_NAME_MISMATCH, 0);
	c.n_acceptor_accepts = 2;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);

	/* No configured names: identity is not checked. */
	c.initiator_expects = NULL;
	c.acceptor_accepts = NULL;
	c.n_acceptor_accepts = 0;
	p.a_both.dns[0][0] = 'z';
	p.b_both.dns[0][0] = 'z';
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);
}
END_TEST

START_TEST(decide_no_certificate)
{
	struct pair p;
	struct pol_node a, b;
	struct pol_conn c;
	struct pol_verdict v;

	pair_init(&p);
	a = node(POL_V_PRE154, POL_ENFORCE, NULL, NULL);
	b = node(POL_V_PRE154, POL_ENFORCE, &p.b_both, NULL);
	c = conn(&a, &b, POL_SVC_CLUSTERDB);
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_NO_CERTIFICATE, -1);

	/* An empty presented chain is no certificate either. */
	p.a_both.len = 0;
	a.server_chain = &p.a_both;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_NO_CERTIFICATE, -1);

	/* A permissive acceptor lets it through. */
	b.mode = POL_PERMISSIVE;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);
}
END_TEST

START_TEST(decide_permissive_never_rejects)
{
	struct pol_chain bad;
	struct pol_node a, b;
	struct pol_conn c;
	struct pol_verdict v;
	enum pol_vclass va, vb;
	int svc;

	/* Untrusted, expired, wrong EKU, wrong name: nothing rejects. */
	chain3(&bad, EKU_ANY, EKU_SRV, "nobody");
	bad.anchored = false;
	bad.certs[0].not_after = NOW - DAY;
	for (va = POL_V_PRE154; va <= POL_V_X155; va++)
		for (vb = POL_V_PRE154; vb <= POL_V_X155; vb++)
			for (svc = 0; svc < 2; svc++) {
				a = node(va, POL_PERMISSIVE, &bad, &bad);
				b = node(vb, POL_PERMISSIVE, &bad, NULL);
				c = conn(&a, &b, (enum pol_service)svc);
				pol_decide(&c, &v);
				ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK,
					       -1);
				a.server_chain = NULL;
				a.client_chain = NULL;
				b.server_chain = NULL;
				pol_decide(&c, &v);
				ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK,
					       -1);
			}

	/* One permissive side: only the enforcing side can reject. */
	a = node(POL_V_PRE154, POL_PERMISSIVE, &bad, NULL);
	b = node(POL_V_PRE154, POL_ENFORCE, &bad, NULL);
	c = conn(&a, &b, POL_SVC_CLUSTERDB);
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_UNTRUSTED, 2);
}
END_TEST

START_TEST(decide_pre154_needs_combined)
{
	struct pair p;
	struct pol_node a, b;
	struct pol_conn c;
	struct pol_verdict v;

	pair_init(&p);
	/* A2: pre-X15.4 ClusterDB in Enforce fails when the initiator's
	 * certificate lacks clientAuth. */
	a = node(POL_V_PRE154, POL_ENFORCE, &p.a_srv, NULL);
	b = node(POL_V_PRE154, POL_ENFORCE, &p.b_srv, NULL);
	c = conn(&a, &b, POL_SVC_CLUSTERDB);
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0);

	/* An acceptor with a client-only certificate fails the initiator's
	 * server purpose check, in every version. */
	a.server_chain = &p.a_both;
	b.server_chain = &p.a_cli;
	c.initiator_expects = "a";
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_SERVER_PURPOSE, 0);
	a.version = POL_V_X155;
	b.version = POL_V_X155;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_SERVER_PURPOSE, 0);

	/* A 2026-style issuing CA with serverAuth only (A3): the combined
	 * leaf still fails the client check, at depth 1. */
	a = node(POL_V_PRE154, POL_ENFORCE, &p.a_both, NULL);
	b = node(POL_V_PRE154, POL_ENFORCE, &p.b_both, NULL);
	c = conn(&a, &b, POL_SVC_CLUSTERDB);
	p.a_both.certs[1].eku = EKU_SRV;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 1);
}
END_TEST

START_TEST(decide_x154)
{
	struct pair p;
	struct pol_node a, b;
	struct pol_conn c;
	struct pol_verdict v;

	pair_init(&p);
	/* A2 X15.4: ClusterDB stays Enforce with server-only certificates. */
	a = node(POL_V_X154, POL_ENFORCE, &p.a_srv, NULL);
	b = node(POL_V_X154, POL_ENFORCE, &p.b_srv, NULL);
	c = conn(&a, &b, POL_SVC_CLUSTERDB);
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);

	/* ...but the zone services still need clientAuth (F12, F19). */
	c.service = POL_SVC_NEIGHBOUR;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0);
	c.service = POL_SVC_TRAVERSAL;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0);

	/* The skip covers purpose errors at any depth, nothing else. */
	c.service = POL_SVC_CLUSTERDB;
	p.a_srv.certs[1].eku = EKU_SRV;
	p.a_srv.certs[2].eku = EKU_SRV;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);
	p.a_srv.certs[0].not_before = NOW + 1;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_NOT_YET_VALID, 0);

	/* X15.4 presents its server certificate even with a client one. */
	p.a_srv.certs[0].not_before = NOW - DAY;
	a.client_chain = &p.a_cli;
	a.server_chain = &p.b_srv; /* wrong name: proves it is used */
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_NAME_MISMATCH, 0);
}
END_TEST

START_TEST(decide_x155)
{
	struct pair p;
	struct pol_node a, b;
	struct pol_conn c;
	struct pol_verdict v;

	pair_init(&p);
	/* The X15.5 initiator presents its client certificate. */
	a = node(POL_V_X155, POL_ENFORCE, &p.a_srv, &p.a_cli);
	b = node(POL_V_X155, POL_ENFORCE, &p.b_srv, NULL);
	c = conn(&a, &b, POL_SVC_TRAVERSAL);
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);

	/* Without one, the server-only certificate is reused and the
	 * traversal acceptor (E) rejects it unless its client EKU check is
	 * off (F14). */
	a.client_chain = NULL;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0);
	b.client_eku_check = false;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);

	/* The setting is the acceptor's: the initiator's does nothing. */
	b.client_eku_check = true;
	a.client_eku_check = false;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0);

	/* CN/SAN are still checked with the EKU check off (A2 X15.5). */
	b.client_eku_check = false;
	c.acceptor_accepts = (const char *const[]){"nobody"};
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_NAME_MISMATCH, 0);

	/* ClusterDB skips client purpose whatever the setting. */
	c.acceptor_accepts = accepts_a;
	b.client_eku_check = true;
	c.service = POL_SVC_CLUSTERDB;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);

	/* A client certificate without serverAuth is fine for the acceptor's
	 * client check but a pre-X15.5 initiator never presents it. */
	a = node(POL_V_X154, POL_ENFORCE, &p.a_srv, &p.a_cli);
	b = node(POL_V_X154, POL_ENFORCE, &p.b_srv, NULL);
	c = conn(&a, &b, POL_SVC_NEIGHBOUR);
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0);
}
END_TEST

START_TEST(decide_services)
{
	/* A server-only initiator to an Expressway acceptor of every
	 * version, every handshake service (docs/model.md services table):
	 * only ClusterDB from X15.4 and the X15.5 switch let it through. */
	static const struct {
		enum pol_service svc;
		bool ok[4]; /* pre-X15.4, X15.4, X15.5, X15.5 switch off */
	} rows[] = {
	    {POL_SVC_CLUSTERDB, {false, true, true, true}},
	    {POL_SVC_TRAVERSAL, {false, false, false, true}},
	    {POL_SVC_NEIGHBOUR, {false, false, false, true}},
	    {POL_SVC_B2B, {false, false, false, true}},
	    {POL_SVC_FEDERATION, {false, false, false, true}},
	};
	const enum pol_vclass vs[4] = {POL_V_PRE154, POL_V_X154, POL_V_X155,
				       POL_V_X155};
	struct pair p;
	struct pol_node a, b;
	struct pol_conn c;
	struct pol_verdict v;
	size_t i;
	int k;

	pair_init(&p);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (k = 0; k < 4; k++) {
			a = node(POL_V_X155, POL_ENFORCE, &p.a_srv, NULL);
			b = node(vs[k], POL_ENFORCE, &p.b_both, NULL);
			if (rows[i].svc != POL_SVC_CLUSTERDB)
				b.role = POL_ROLE_E;
			/* The switch off for this service only. */
			if (k == 3)
				b.client_eku_service[rows[i].svc] =
				    POL_SW_IGNORE;
			c = conn(&a, &b, rows[i].svc);
			pol_decide(&c, &v);
			if (rows[i].ok[k])
				ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK,
					       -1);
			else
				ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR,
					       POL_CLIENT_PURPOSE, 0);
		}

	/* With the switch off, CN/SAN are still checked (F13). */
	a = node(POL_V_X155, POL_ENFORCE, &p.a_srv, NULL);
	b = node(POL_V_X155, POL_ENFORCE, &p.b_both, NULL);
	b.client_eku_service[POL_SVC_B2B] = POL_SW_IGNORE;
	c = conn(&a, &b, POL_SVC_B2B);
	c.acceptor_accepts = (const char *const[]){"nobody"};
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_NAME_MISMATCH, 0);
}
END_TEST

START_TEST(decide_externals)
{
	struct pair p;
	struct pol_node x, cucm;
	struct pol_conn c;
	struct pol_verdict v;
	enum pol_vclass ver;

	pair_init(&p);
	/* Expressway (a, server-only) -> CUCM (b): the CUCM decides by its
	 * own setting, whatever the Expressway's version. */
	for (ver = POL_V_PRE154; ver <= POL_V_X155; ver++) {
		x = node(ver, POL_ENFORCE, &p.a_srv, NULL);
		cucm = node(POL_V_PRE154, POL_ENFORCE, &p.b_both, NULL);
		cucm.kind = POL_KIND_CUCM;
		cucm.checks_client_eku = true;
		c = conn(&x, &cucm, POL_SVC_NEIGHBOUR);
		pol_decide(&c, &v);
		ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE,
			       0);
		cucm.checks_client_eku = false;
		pol_decide(&c, &v);
		ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);
		/* Not checking EKU is not "not verifying": the chain, time
		 * and name still count. */
		c.acceptor_accepts = (const char *const[]){"nobody"};
		pol_decide(&c, &v);
		ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_NAME_MISMATCH,
			       0);
		/* A CUCM that does not verify at all (tls_verify off). */
		cucm.mode = POL_PERMISSIVE;
		cucm.checks_client_eku = true;
		pol_decide(&c, &v);
		ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);
	}

	/* An X15.5 Expressway with a client certificate presents it to the
	 * external; F14: without one, its server-only certificate. */
	x = node(POL_V_X155, POL_ENFORCE, &p.a_srv, &p.a_cli);
	cucm = node(POL_V_PRE154, POL_ENFORCE, &p.b_both, NULL);
	cucm.kind = POL_KIND_CMS;
	cucm.checks_client_eku = true;
	c = conn(&x, &cucm, POL_SVC_NEIGHBOUR);
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);

	/* CUCM (a) -> Expressway (b): the Expressway acceptor checks the
	 * CUCM's clientAuth on every version unless X15.5's switch is off
	 * for the neighbour zone. */
	for (ver = POL_V_PRE154; ver <= POL_V_X155; ver++) {
		cucm = node(POL_V_PRE154, POL_ENFORCE, &p.a_srv, NULL);
		cucm.kind = POL_KIND_CUCM;
		x = node(ver, POL_ENFORCE, &p.b_both, NULL);
		c = conn(&cucm, &x, POL_SVC_NEIGHBOUR);
		pol_decide(&c, &v);
		ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE,
			       0);
		x.client_eku_service[POL_SVC_NEIGHBOUR] = POL_SW_IGNORE;
		pol_decide(&c, &v);
		if (ver == POL_V_X155)
			ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);
		else
			ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR,
				       POL_CLIENT_PURPOSE, 0);
	}

	/* An external initiator checks the Expressway's serverAuth like
	 * any TLS client. */
	cucm = node(POL_V_PRE154, POL_ENFORCE, &p.a_both, NULL);
	cucm.kind = POL_KIND_FEDERATION_PEER;
	x = node(POL_V_X155, POL_ENFORCE, &p.a_cli, NULL);
	c = conn(&cucm, &x, POL_SVC_FEDERATION);
	c.initiator_expects = "a";
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_SERVER_PURPOSE, 0);
	cucm.mode = POL_PERMISSIVE;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);

	/* Cloud: the Expressway initiates; the cloud per its setting. */
	x = node(POL_V_X154, POL_ENFORCE, &p.a_srv, NULL);
	cucm = node(POL_V_PRE154, POL_ENFORCE, &p.b_both, NULL);
	cucm.kind = POL_KIND_CLOUD;
	cucm.checks_client_eku = true;
	c = conn(&x, &cucm, POL_SVC_CLOUD);
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0);
	cucm.checks_client_eku = false;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);
}
END_TEST

START_TEST(decide_mra)
{
	struct pair p;
	struct pol_node cn, en;
	struct pol_conn c;
	struct pol_verdict v;

	pair_init(&p);
	/* C (a, combined) dials E (b); E's certificate travels in the SIP
	 * SERVICE message. F17: pre-X15.4 C needs both EKUs on it. */
	cn = node(POL_V_PRE154, POL_ENFORCE, &p.a_both, NULL);
	en = node(POL_V_PRE154, POL_ENFORCE, &p.b_srv, NULL);
	cn.role = POL_ROLE_C;
	en.role = POL_ROLE_E;
	c = conn(&cn, &en, POL_SVC_MRA);
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_CLIENT_PURPOSE, 0);
	pol_decide_mra(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_CLIENT_PURPOSE, 0);
	/* The traversal handshake alone works: the message is what fails. */
	c.service = POL_SVC_TRAVERSAL;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);
	c.service = POL_SVC_MRA;

	/* X15.4+ C: serverAuth only (E's version does not matter). */
	cn.version = POL_V_X154;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);
	cn.version = POL_V_X155;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);
	/* E upgraded and renewed first: pre-X15.4 C still fails MRA. */
	cn.version = POL_V_PRE154;
	en.version = POL_V_X155;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_CLIENT_PURPOSE, 0);

	/* A 2026 public hierarchy: combined leaf, server-only issuing CA. */
	en.server_chain = &p.b_both;
	p.b_both.certs[1].eku = EKU_SRV;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_CLIENT_PURPOSE, 1);
	p.b_both.certs[1].eku = EKU_NONE;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);

	/* Independent of C's verify mode (a modelling choice): a
	 * permissive C lets the handshake through, not the message. */
	cn.mode = POL_PERMISSIVE;
	en.server_chain = &p.b_srv;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_CLIENT_PURPOSE, 0);
	/* Chain, validity and identity (E's configured name) apply. */
	c.initiator_expects = "elsewhere";
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_NAME_MISMATCH, 0);
	c.initiator_expects = "b";
	p.b_srv.certs[0].not_after = NOW - 1;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_EXPIRED, 0);
	p.b_srv.certs[0].not_after = NOW + DAY;
	p.b_srv.anchored = false;
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_UNTRUSTED, 2);
	p.b_srv.anchored = true;

	/* A failing traversal handshake comes first: an enforcing C sees
	 * E's certificate without serverAuth in the handshake. */
	cn.mode = POL_ENFORCE;
	en.server_chain = &p.a_cli;
	c.initiator_expects = "a";
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_INITIATOR, POL_SERVER_PURPOSE, 0);
	/* ...and E (acceptor) checks C's clientAuth on every version. */
	en.server_chain = &p.b_both;
	en.version = POL_V_X154;
	cn.server_chain = &p.a_srv;
	c.initiator_expects = "b";
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0);
	/* pol_decide_mra alone looks at the message only. */
	pol_decide_mra(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc;

	tc = tcase_create("pol_version_parse");
	tcase_add_test(tc, version_good);
	tcase_add_test(tc, version_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("name_tables");
	tcase_add_test(tc, names_codes);
	tcase_add_test(tc, names_others);
	tcase_add_test(tc, names_services);
	suite_add_tcase(s, tc);

	tc = tcase_create("pol_may_initiate");
	tcase_add_test(tc, dialers);
	tcase_add_test(tc, may_initiate);
	tcase_add_test(tc, kind_serves);
	suite_add_tcase(s, tc);

	tc = tcase_create("pol_rules");
	tcase_add_test(tc, rules_initiator);
	tcase_add_test(tc, rules_acceptor);
	tcase_add_test(tc, rules_permissive);
	tcase_add_test(tc, rules_switch_per_service);
	tcase_add_test(tc, rules_external);
	tcase_add_test(tc, rules_mra);
	suite_add_tcase(s, tc);

	tc = tcase_create("pol_presented");
	tcase_add_test(tc, presented);
	suite_add_tcase(s, tc);

	tc = tcase_create("pol_name_matches");
	tcase_add_test(tc, names_dns);
	tcase_add_test(tc, names_wildcard);
	tcase_add_test(tc, names_ip);
	tcase_add_test(tc, names_cn);
	suite_add_tcase(s, tc);

	tc = tcase_create("pol_check_chain");
	tcase_add_test(tc, check_purpose_table);
	tcase_add_test(tc, check_purpose_skipped);
	tcase_add_test(tc, check_permissive_reports);
	tcase_add_test(tc, check_time);
	tcase_add_test(tc, check_order);
	tcase_add_test(tc, check_names_and_none);
	tcase_add_test(tc, check_also_purpose);
	suite_add_tcase(s, tc);

	tc = tcase_create("pol_decide");
	tcase_add_test(tc, decide_ok_and_sides);
	tcase_add_test(tc, decide_names);
	tcase_add_test(tc, decide_no_certificate);
	tcase_add_test(tc, decide_permissive_never_rejects);
	tcase_add_test(tc, decide_pre154_needs_combined);
	tcase_add_test(tc, decide_x154);
	tcase_add_test(tc, decide_x155);
	tcase_add_test(tc, decide_services);
	tcase_add_test(tc, decide_externals);
	tcase_add_test(tc, decide_mra);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(policy_suite());
}
