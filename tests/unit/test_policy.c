/* test_policy.c: every rule and every outcome code of the policy model. */
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
	struct pol_rules r = {verify, verify, check_purpose, purpose};

	return r;
}

static struct pol_node node(enum pol_vclass v, enum pol_mode m,
			    const struct pol_chain *server,
			    const struct pol_chain *client)
{
	struct pol_node n = {v, m, true, server, client};

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

	ck_assert_str_eq(pol_service_name(POL_SVC_CLUSTERDB), "clusterdb");
	ck_assert_str_eq(pol_service_name(POL_SVC_MTLS), "mtls");

	ck_assert_str_eq(pol_side_name(POL_SIDE_NONE), "none");
	ck_assert_str_eq(pol_side_name(POL_SIDE_INITIATOR), "initiator");
	ck_assert_str_eq(pol_side_name(POL_SIDE_ACCEPTOR), "acceptor");
}
END_TEST

/* ---- pol_rules ---- */

static struct pol_rules rules_of(enum pol_vclass v, enum pol_mode m,
				 bool eku_check, enum pol_side as,
				 enum pol_service svc)
{
	struct pol_node n = {v, m, eku_check, NULL, NULL};
	struct pol_rules r;

	memset(&r, 0xa5, sizeof(r));
	pol_rules(&n, as, svc, &r);
	return r;
}

START_TEST(rules_initiator)
{
	enum pol_vclass v;
	int svc;
	int eku;

	/* Every version, service and setting: server purpose enforced. */
	for (v = POL_V_PRE154; v <= POL_V_X155; v++)
		for (svc = 0; svc < 2; svc++)
			for (eku = 0; eku < 2; eku++) {
				struct pol_rules r = rules_of(
				    v, POL_ENFORCE, eku, POL_SIDE_INITIATOR,
				    (enum pol_service)svc);

				ck_assert(r.verify);
				ck_assert(r.require_cert);
				ck_assert(r.check_purpose);
				ck_assert_uint_eq(r.purpose, POL_EKU_SERVER);
			}
}
END_TEST

START_TEST(rules_acceptor)
{
	static const struct {
		enum pol_vclass v;
		enum pol_service svc;
		bool eku_check;
		bool want;
	} rows[] = {
	    {POL_V_PRE154, POL_SVC_CLUSTERDB, true, true},
	    {POL_V_PRE154, POL_SVC_CLUSTERDB, false, true},
	    {POL_V_PRE154, POL_SVC_MTLS, true, true},
	    {POL_V_PRE154, POL_SVC_MTLS, false, true},
	    {POL_V_X154, POL_SVC_CLUSTERDB, true, false},
	    {POL_V_X154, POL_SVC_CLUSTERDB, false, false},
	    {POL_V_X154, POL_SVC_MTLS, true, true},
	    {POL_V_X154, POL_SVC_MTLS, false, true},
	    {POL_V_X155, POL_SVC_CLUSTERDB, true, false},
	    {POL_V_X155, POL_SVC_CLUSTERDB, false, false},
	    {POL_V_X155, POL_SVC_MTLS, true, true},
	    {POL_V_X155, POL_SVC_MTLS, false, false},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct pol_rules r =
		    rules_of(rows[i].v, POL_ENFORCE, rows[i].eku_check,
			     POL_SIDE_ACCEPTOR, rows[i].svc);

		ck_assert(r.verify);
		ck_assert(r.require_cert);
		ck_assert_uint_eq(r.purpose, POL_EKU_CLIENT);
		ck_assert_msg(r.check_purpose == rows[i].want, "row %zu", i);
	}
}
END_TEST

START_TEST(rules_permissive)
{
	enum pol_vclass v;
	int svc;

	for (v = POL_V_PRE154; v <= POL_V_X155; v++)
		for (svc = 0; svc < 2; svc++) {
			struct pol_rules a =
			    rules_of(v, POL_PERMISSIVE, true, POL_SIDE_ACCEPTOR,
				     (enum pol_service)svc);
			struct pol_rules i =
			    rules_of(v, POL_PERMISSIVE, true,
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

	/* ...but other mTLS services still need clientAuth. */
	c.service = POL_SVC_MTLS;
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
	c = conn(&a, &b, POL_SVC_MTLS);
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, true, POL_SIDE_NONE, POL_OK, -1);

	/* Without one, the server-only certificate is reused and the MTLS
	 * acceptor rejects it unless its client EKU check is off. */
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
	c = conn(&a, &b, POL_SVC_MTLS);
	pol_decide(&c, &v);
	ASSERT_VERDICT(v, false, POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0);
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
	suite_add_tcase(s, tc);

	tc = tcase_create("pol_rules");
	tcase_add_test(tc, rules_initiator);
	tcase_add_test(tc, rules_acceptor);
	tcase_add_test(tc, rules_permissive);
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
	suite_add_tcase(s, tc);

	tc = tcase_create("pol_decide");
	tcase_add_test(tc, decide_ok_and_sides);
	tcase_add_test(tc, decide_names);
	tcase_add_test(tc, decide_no_certificate);
	tcase_add_test(tc, decide_permissive_never_rejects);
	tcase_add_test(tc, decide_pre154_needs_combined);
	tcase_add_test(tc, decide_x154);
	tcase_add_test(tc, decide_x155);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(policy_suite());
}
