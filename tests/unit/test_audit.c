/* test_audit.c: the audit's rule functions (ClusterDB verdicts asked of
 * the policy, timeline risks, root classification, options and their
 * order) and the cluster forecast on small topologies. The upload rule and
 * the timeline's dates are the Expressway model's (test_expressway.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/x509.h>

#include "audit/audit.h"
#include "ekulab/x509/certinfo.h"
#include "ekulab/core/err.h"
#include "ekulab/core/jsonr.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/pki.h"
#include "testutil.h"

#define E_S   (POL_EKU_EXT | POL_EKU_SERVER)
#define E_C   (POL_EKU_EXT | POL_EKU_CLIENT)
#define E_SC  (POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT)
#define E_ANY (POL_EKU_EXT | POL_EKU_ANY)

static struct audit_target target(enum topo_role role, const char *version,
				  bool setting)
{
	struct audit_target t;

	memset(&t, 0, sizeof(t));
	t.role = role;
	snprintf(t.version, sizeof(t.version), "%s", version);
	ck_assert_int_eq(pol_version_parse(version, &t.vclass), 0);
	t.server_eku_upload = setting;
	return t;
}

/* ---- audit_format_date, audit_format_time ---- */

START_TEST(test_dates)
{
	char buf[32];

	audit_format_date(xpw_date(2029, 3, 15), buf, sizeof(buf));
	ck_assert_str_eq(buf, "2029-03-15");
	audit_format_time(xpw_date(2026, 6, 15) + 3661, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-06-15T01:01:01Z");
}
END_TEST

/* ---- audit_clusterdb: the policy's answer ---- */

static const enum pki_profile profiles[] = {
    PKI_PROFILE_COMBINED, PKI_PROFILE_SERVER_ONLY, PKI_PROFILE_CLIENT_ONLY,
    PKI_PROFILE_NO_EKU, PKI_PROFILE_ANY_EKU};
static const enum pki_ca cas[] = {PKI_CA_UNRESTRICTED, PKI_CA_SERVER_ONLY,
				  PKI_CA_COMBINED};
static const char *const versions[] = {"X14.3.7", "X15.3.2", "X15.4", "X15.5"};

/* For every lab chain and version, audit_clusterdb must say what
 * pol_decide() says about a directed connection between that chain's
 * owner and a peer of the version with a combined certificate. */
START_TEST(test_clusterdb_agrees_with_pol_decide)
{
	int64_t now = xpw_date(2026, 7, 1);
	struct pol_chain mine, peer_chain;
	struct pol_node me, peer;
	struct pol_conn c;
	struct pol_verdict v;
	enum pol_code code;
	size_t p, k, ver;
	int depth;

	audit_lab_chain(PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED, now, 0,
			"peer", &peer_chain);
	for (p = 0; p < sizeof(profiles) / sizeof(profiles[0]); p++)
		for (k = 0; k < sizeof(cas) / sizeof(cas[0]); k++)
			for (ver = 0; ver < 4; ver++) {
				audit_lab_chain(profiles[p], cas[k], now, 0,
						"me", &mine);
				memset(&me, 0, sizeof(me));
				memset(&peer, 0, sizeof(peer));
				ck_assert_int_eq(
				    pol_version_parse(versions[ver],
						      &peer.version),
				    0);
				me.version = peer.version;
				me.mode = peer.mode = POL_ENFORCE;
				me.client_eku_check = peer.client_eku_check =
				    true;
				me.server_chain = &mine;
				peer.server_chain = &peer_chain;
				memset(&c, 0, sizeof(c));
				c.service = POL_SVC_CLUSTERDB;
				c.initiator_time = c.acceptor_time = now;

				/* Owner initiates: the peer accepts and judges.
				 */
				c.initiator = &me;
				c.acceptor = &peer;
				pol_decide(&c, &v);
				code = audit_clusterdb(&mine, peer.version,
						       POL_SIDE_INITIATOR, now,
						       &depth);
				ck_assert_int_eq(code, v.code);
				ck_assert_int_eq(depth, v.depth);

				/* Owner accepts: the peer initiates and judges.
				 */
				c.initiator = &peer;
				c.acceptor = &me;
				pol_decide(&c, &v);
				code = audit_clusterdb(&mine, peer.version,
						       POL_SIDE_ACCEPTOR, now,
						       &depth);
				ck_assert_int_eq(code, v.code);
			}
}
END_TEST

START_TEST(test_clusterdb_examples)
{
	int64_t now = xpw_date(2026, 7, 1);
	struct pol_chain ch;
	int depth;

	/* Server-only leaf: pre-X15.4 peers refuse it as a client. */
	audit_lab_chain(PKI_PROFILE_SERVER_ONLY, PKI_CA_UNRESTRICTED, now, 0,
			"n", &ch);
	ck_assert_int_eq(
	    audit_clusterdb(&ch, POL_V_PRE154, POL_SIDE_INITIATOR, now, &depth),
	    POL_CLIENT_PURPOSE);
	ck_assert_int_eq(depth, 0);
	ck_assert_int_eq(
	    audit_clusterdb(&ch, POL_V_X154, POL_SIDE_INITIATOR, now, &depth),
	    POL_OK);
	ck_assert_int_eq(
	    audit_clusterdb(&ch, POL_V_PRE154, POL_SIDE_ACCEPTOR, now, &depth),
	    POL_OK);
	/* A 2026-style issuing CA: depth 1 even under a combined leaf. */
	audit_lab_chain(PKI_PROFILE_COMBINED, PKI_CA_SERVER_ONLY, now, 0, "n",
			&ch);
	ck_assert_int_eq(
	    audit_clusterdb(&ch, POL_V_PRE154, POL_SIDE_INITIATOR, now, &depth),
	    POL_CLIENT_PURPOSE);
	ck_assert_int_eq(depth, 1);
	/* Client-only leaf fails as a server, at every version. */
	audit_lab_chain(PKI_PROFILE_CLIENT_ONLY, PKI_CA_UNRESTRICTED, now, 0,
			"n", &ch);
	ck_assert_int_eq(
	    audit_clusterdb(&ch, POL_V_X155, POL_SIDE_ACCEPTOR, now, &depth),
	    POL_SERVER_PURPOSE);
	/* Validity and trust come from the same checks. */
	ck_assert_int_eq(audit_clusterdb(&ch, POL_V_X155, POL_SIDE_INITIATOR,
					 now + 400 * XPW_DAY, &depth),
			 POL_EXPIRED);
	ch.anchored = false;
	ck_assert_int_eq(
	    audit_clusterdb(&ch, POL_V_X155, POL_SIDE_INITIATOR, now, &depth),
	    POL_UNTRUSTED);
}
END_TEST

START_TEST(test_renewed_chain)
{
	int64_t start = xpw_date(2027, 6, 1);
	struct pol_chain orig, r;

	audit_lab_chain(PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED, start, 0,
			"host.example", &orig);
	audit_renewed_chain(&orig, AUDIT_RENEW_SERVER_ONLY, start, &r);
	ck_assert(r.anchored);
	ck_assert_int_eq(r.len, 3);
	ck_assert_uint_eq(r.certs[0].eku, E_S);
	ck_assert_uint_eq(r.certs[1].eku, E_S);
	ck_assert_uint_eq(r.certs[2].eku, 0);
	ck_assert_int_eq(r.certs[0].not_after - r.certs[0].not_before,
			 100 * XPW_DAY);
	ck_assert_str_eq(r.dns[0], "host.example");
	audit_renewed_chain(&orig, AUDIT_RENEW_ALTERNATE_ROOT, start, &r);
	ck_assert_uint_eq(r.certs[0].eku, E_SC);
	audit_renewed_chain(&orig, AUDIT_RENEW_PRIVATE, start, &r);
	ck_assert_uint_eq(r.certs[0].eku, E_SC);
	ck_assert_uint_eq(r.certs[1].eku, 0);
	ck_assert_int_eq(r.certs[0].not_after - r.certs[0].not_before,
			 365 * XPW_DAY);
	/* Like for like: the same EKU, on the leaf and the issuing CA, and
	 * the same span. */
	audit_lab_chain(PKI_PROFILE_SERVER_ONLY, PKI_CA_SERVER_ONLY, start, 90,
			"host.example", &orig);
	audit_renewed_chain(&orig, AUDIT_RENEW_LIKE, start + 90 * XPW_DAY, &r);
	ck_assert_uint_eq(r.certs[0].eku, E_S);
	ck_assert_uint_eq(r.certs[1].eku, E_S);
	ck_assert_int_eq(r.certs[0].not_before, start + 90 * XPW_DAY);
	ck_assert_int_eq(
	    (r.certs[0].not_after - r.certs[0].not_before) / XPW_DAY,
	    (orig.certs[0].not_after - orig.certs[0].not_before) / XPW_DAY);
	ck_assert_str_eq(r.dns[0], "host.example");
}
END_TEST

/* ---- audit_risks ---- */

static struct audit_facts public_facts(unsigned eku, int64_t not_after, bool le)
{
	struct audit_facts f;

	memset(&f, 0, sizeof(f));
	f.root = AUDIT_ROOT_PUBLIC;
	f.eku = eku;
	f.lets_encrypt = le;
	f.not_before = not_after - 90 * XPW_DAY;
	f.not_after = not_after;
	audit_renewed_chain(NULL, AUDIT_RENEW_ALTERNATE_ROOT, f.not_before,
			    &f.chain);
	f.chain.certs[0].eku = eku;
	f.chain.certs[0].not_after = not_after;
	return f;
}

static bool has_risk(const struct audit_risk *r, size_t n,
		     enum audit_risk_code code, int64_t date)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i].code == code && r[i].date == date)
			return true;
	return false;
}

START_TEST(test_risks)
{
	struct audit_risk r[AUDIT_MAX_RISKS];
	struct audit_facts f;
	int64_t at = xpw_date(2026, 1, 1);
	size_t n;

	/* Let's Encrypt, combined, renewed 2026-03-01: LE only. */
	f = public_facts(E_SC, xpw_date(2026, 3, 1), true);
	n = audit_risks(&f, at, r, AUDIT_MAX_RISKS);
	ck_assert_uint_eq(n, 1);
	ck_assert(has_risk(r, n, AUDIT_RISK_LE_CLASSIC, xpw_date(2026, 2, 11)));
	ck_assert_str_eq(audit_risk_name(r[0].code), "lets-encrypt-classic");

	/* Renewed before 2026-02-11: no LE risk yet. */
	f = public_facts(E_SC, xpw_date(2026, 2, 10), true);
	ck_assert_uint_eq(audit_risks(&f, at, r, AUDIT_MAX_RISKS), 0);

	/* Another CA, combined, renewed 2026-06-20: all but LE. */
	f = public_facts(E_SC, xpw_date(2026, 6, 20), false);
	n = audit_risks(&f, at, r, AUDIT_MAX_RISKS);
	ck_assert_uint_eq(n, 3);
	ck_assert(
	    has_risk(r, n, AUDIT_RISK_NO_CLIENT_AUTH, xpw_date(2026, 5, 1)));
	ck_assert(
	    has_risk(r, n, AUDIT_RISK_VALIDITY_CAP, xpw_date(2026, 3, 15)));
	ck_assert(has_risk(r, n, AUDIT_RISK_CHROME, xpw_date(2026, 6, 15)));
	ck_assert_ptr_nonnull(strstr(r[1].text, "200 days"));

	/* Server-only, renewed 2028: only the (100-day) cap. */
	f = public_facts(E_S, xpw_date(2028, 1, 10), false);
	n = audit_risks(&f, at, r, AUDIT_MAX_RISKS);
	ck_assert_uint_eq(n, 1);
	ck_assert(
	    has_risk(r, n, AUDIT_RISK_VALIDITY_CAP, xpw_date(2027, 3, 15)));
	ck_assert_ptr_nonnull(strstr(r[0].text, "100 days"));

	/* Expired long ago: the renewal is due now (at), 47 days in 2030. */
	f = public_facts(E_S, xpw_date(2020, 1, 1), false);
	n = audit_risks(&f, xpw_date(2030, 1, 1), r, AUDIT_MAX_RISKS);
	ck_assert(
	    has_risk(r, n, AUDIT_RISK_VALIDITY_CAP, xpw_date(2029, 3, 15)));

	/* Private, unknown roots and CA certificates carry none. */
	f = public_facts(E_SC, xpw_date(2026, 6, 20), true);
	f.root = AUDIT_ROOT_PRIVATE;
	ck_assert_uint_eq(audit_risks(&f, at, r, AUDIT_MAX_RISKS), 0);
	f.root = AUDIT_ROOT_UNKNOWN;
	ck_assert_uint_eq(audit_risks(&f, at, r, AUDIT_MAX_RISKS), 0);
	f.root = AUDIT_ROOT_PUBLIC;
	f.ca = true;
	ck_assert_uint_eq(audit_risks(&f, at, r, AUDIT_MAX_RISKS), 0);
}
END_TEST

/* ---- audit_options ---- */

static size_t options_for(const struct audit_facts *f,
			  const struct audit_target *t, size_t nt, int64_t at,
			  struct audit_option *out)
{
	struct audit_target_result tr[AUDIT_MAX_TARGETS];
	size_t i;

	for (i = 0; i < nt; i++)
		audit_evaluate_target(f, &t[i], at, &tr[i]);
	return audit_options(f, tr, nt, at, out, AUDIT_MAX_OPTIONS);
}

static void expect_options(const struct audit_option *o, size_t n,
			   const enum audit_opt *want, size_t n_want)
{
	size_t i;

	ck_assert_uint_eq(n, n_want);
	for (i = 0; i < n; i++)
		ck_assert_msg(o[i].code == want[i], "option %zu is %s, not %s",
			      i, audit_opt_name(o[i].code),
			      audit_opt_name(want[i]));
}

START_TEST(test_options)
{
	struct audit_option o[AUDIT_MAX_OPTIONS];
	struct audit_target t[2];
	struct audit_facts f = public_facts(E_SC, xpw_date(2026, 9, 1), false);
	int64_t late = xpw_date(2026, 6, 1);
	size_t n;

	/* Pre-X15.4 Expressway-C: A, C, then X15.5 (X15.4 leaves C's upload
	 * requiring clientAuth). No B after May 2026. */
	t[0] = target(TOPO_ROLE_C, "X15.3.2", false);
	n = options_for(&f, t, 1, late, o);
	expect_options(
	    o, n,
	    (enum audit_opt[]){AUDIT_OPT_ALTERNATE_ROOT, AUDIT_OPT_PRIVATE_PKI,
			       AUDIT_OPT_UPGRADE_X155, AUDIT_OPT_ZONES},
	    4);
	ck_assert_ptr_nonnull(strstr(o[2].text, "Expressway-C"));
	/* Renewed server-only, C fails traversal (E checks clientAuth on
	 * every version) and the neighbour and cloud zones it opens. */
	ck_assert_ptr_nonnull(
	    strstr(o[3].text, "Zones of Expressway-C X15.3.2: traversal: "
			      "E checks C's clientAuth on every version"));
	ck_assert_ptr_nonnull(strstr(o[3].text, "; neighbour, cloud: may still "
						"fail on every version"));

	ck_assert_ptr_nonnull(strstr(o[2].text, "X15.5 (released May 2026)"));

	/* Pre-X15.4 Expressway-E: A, then X15.4 is enough; no C. */
	t[0] = target(TOPO_ROLE_E, "X14.3.7", false);
	n = options_for(&f, t, 1, late, o);
	expect_options(o, n,
		       (enum audit_opt[]){AUDIT_OPT_ALTERNATE_ROOT,
					  AUDIT_OPT_UPGRADE_X154,
					  AUDIT_OPT_ZONES},
		       3);
	/* mra: its own pre-X15.4 C rejects a server-only E certificate. */
	ck_assert_ptr_nonnull(strstr(o[2].text,
				     "mra: C before X15.4 requires clientAuth "
				     "on E's certificate"));
	/* Released by then: said so. */
	ck_assert_ptr_nonnull(
	    strstr(o[1].text, "upgrade to X15.4 (released February 2026)"));

	/* Before 2026-03-15, B comes second with that deadline. */
	n = options_for(&f, t, 1, xpw_date(2026, 1, 10), o);
	expect_options(
	    o, n,
	    (enum audit_opt[]){AUDIT_OPT_ALTERNATE_ROOT, AUDIT_OPT_RENEW_EARLY,
			       AUDIT_OPT_UPGRADE_X154, AUDIT_OPT_ZONES},
	    4);
	ck_assert_int_eq(o[1].before, xpw_date(2026, 3, 15));
	/* In January 2026 neither fix is out: the option says when. */
	ck_assert_ptr_nonnull(strstr(o[2].text,
				     "upgrade to X15.4 (due February 2026: "
				     "not out before 2026-03-01)"));
	ck_assert_ptr_nonnull(strstr(o[2].text,
				     "X15.5 (due May 2026: not out before "
				     "2026-06-01)"));

	/* Let's Encrypt before 2026-02-11: B's deadline is that day. */
	f.lets_encrypt = true;
	n = options_for(&f, t, 1, xpw_date(2026, 1, 10), o);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(o[1].code, AUDIT_OPT_RENEW_EARLY);
	ck_assert_int_eq(o[1].before, xpw_date(2026, 2, 11));
	/* ... and none after it. */
	n = options_for(&f, t, 1, xpw_date(2026, 2, 20), o);
	ck_assert_uint_eq(n, 3);
	f.lets_encrypt = false;

	/* Both roles: C's needs decide the upgrade. */
	t[1] = target(TOPO_ROLE_C, "X15.3.2", false);
	n = options_for(&f, t, 2, late, o);
	expect_options(o, n,
		       (enum audit_opt[]){AUDIT_OPT_ALTERNATE_ROOT,
					  AUDIT_OPT_PRIVATE_PKI,
					  AUDIT_OPT_UPGRADE_X155,
					  AUDIT_OPT_ZONES, AUDIT_OPT_ZONES},
		       5);

	/* X15.5 targets: a server-only renewal keeps ClusterDB, but not
	 * the zones C opens (traversal: E checks the client EKU) nor those
	 * E opens to peers that check it: never "monitor" then. */
	t[0] = target(TOPO_ROLE_C, "X15.5", false);
	t[1] = target(TOPO_ROLE_E, "X15.5", false);
	/* (in July: the certificate is valid then) */
	n = options_for(&f, t, 2, xpw_date(2026, 7, 1), o);
	expect_options(o, n,
		       (enum audit_opt[]){AUDIT_OPT_ALTERNATE_ROOT,
					  AUDIT_OPT_PRIVATE_PKI,
					  AUDIT_OPT_ZONES, AUDIT_OPT_ZONES},
		       4);
	ck_assert_ptr_nonnull(
	    strstr(o[2].text, "Zones of Expressway-C X15.5: traversal "
			      "needs E to ignore client EKU, or a client "
			      "certificate"));
	/* E's traversal and MRA pass on X15.5; the zones it opens do not. */
	ck_assert_ptr_null(strstr(o[3].text, "traversal"));
	ck_assert_ptr_null(strstr(o[3].text, "mra"));
	ck_assert_ptr_nonnull(strstr(o[3].text, "neighbour, b2b, federation: "
						"may still fail"));

	/* No targets: the whole tree, in order. */
	n = options_for(&f, t, 0, late, o);
	expect_options(
	    o, n,
	    (enum audit_opt[]){AUDIT_OPT_ALTERNATE_ROOT, AUDIT_OPT_PRIVATE_PKI,
			       AUDIT_OPT_UPGRADE_X154, AUDIT_OPT_UPGRADE_X155},
	    4);

	/* Private and unknown roots; CA certificates get none. */
	f.root = AUDIT_ROOT_PRIVATE;
	n = options_for(&f, t, 1, late, o);
	expect_options(o, n, (enum audit_opt[]){AUDIT_OPT_NO_ACTION}, 1);
	f.root = AUDIT_ROOT_UNKNOWN;
	n = options_for(&f, t, 1, late, o);
	expect_options(o, n, (enum audit_opt[]){AUDIT_OPT_CLASSIFY}, 1);
	f.ca = true;
	ck_assert_uint_eq(options_for(&f, t, 1, late, o), 0);
}
END_TEST

/* The issue's cases: an X15.4 Expressway-E and an X15.5 Expressway-C
 * whose only certificate is server-only. */
START_TEST(test_services)
{
	struct audit_facts f = public_facts(E_S, xpw_date(2026, 9, 1), false);
	struct audit_target_result r;
	struct audit_target t = target(TOPO_ROLE_E, "X15.4", true);
	struct audit_option o[AUDIT_MAX_OPTIONS];
	enum pol_service svc[AUDIT_MAX_SERVICES];
	int64_t at = xpw_date(2026, 7, 1);
	size_t n, i;
	bool by_peer;

	ck_assert_uint_eq(audit_role_services(TOPO_ROLE_C, svc), 3);
	ck_assert_uint_eq(audit_role_services(TOPO_ROLE_E, svc), 5);
	ck_assert_int_eq(svc[1], POL_SVC_MRA);

	audit_evaluate_target(&f, &t, at, &r);
	ck_assert(!r.breaks_when_renewed); /* ClusterDB and upload pass */
	ck_assert(r.service_fails);
	ck_assert_uint_eq(r.n_services, 5);
	/* traversal (C checks E's serverAuth) and mra (X15.4 C: serverAuth
	 * only) pass; every zone E opens to a peer that checks clientAuth
	 * fails, rejected by the peer. */
	ck_assert_int_eq(r.services[0].now, POL_OK);
	ck_assert_int_eq(r.services[1].now, POL_OK);
	for (i = 2; i < 5; i++) {
		ck_assert_int_eq(r.services[i].now, POL_CLIENT_PURPOSE);
		ck_assert(r.services[i].now_by_peer);
		ck_assert_ptr_nonnull(strstr(
		    r.services[i].fix, "may still fail on every version"));
	}
	n = audit_options(&f, &r, 1, at, o, AUDIT_MAX_OPTIONS);
	ck_assert_uint_gt(n, 0);
	for (i = 0; i < n; i++)
		ck_assert_int_ne(o[i].code, AUDIT_OPT_MONITOR);
	ck_assert_int_eq(o[n - 1].code, AUDIT_OPT_ZONES);
	ck_assert_ptr_nonnull(strstr(o[n - 1].text,
				     "Zones of Expressway-E X15.4: neighbour, "
				     "b2b, federation: may still fail"));

	/* X15.5 Expressway-C, server-only, no client certificate. */
	t = target(TOPO_ROLE_C, "X15.5", false);
	audit_evaluate_target(&f, &t, at, &r);
	ck_assert(!r.breaks_when_renewed);
	ck_assert_int_eq(r.services[0].service, POL_SVC_TRAVERSAL);
	ck_assert_int_eq(r.services[0].now, POL_CLIENT_PURPOSE);
	ck_assert(r.services[0].now_by_peer);
	ck_assert_str_eq(r.services[0].fix, "needs E to ignore client EKU, or "
					    "a client certificate");
	n = audit_options(&f, &r, 1, at, o, AUDIT_MAX_OPTIONS);
	ck_assert_int_eq(o[n - 1].code, AUDIT_OPT_ZONES);
	ck_assert_ptr_nonnull(strstr(o[n - 1].text,
				     "traversal needs E to ignore client EKU, "
				     "or a client certificate"));

	/* A combined certificate passes every service now. */
	f = public_facts(E_SC, xpw_date(2026, 9, 1), false);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(
		    audit_service(&f.chain, &t, svc[i], at, &by_peer), POL_OK);
}
END_TEST

START_TEST(test_evaluate_target)
{
	struct audit_target t = target(TOPO_ROLE_E, "X15.5", false);
	struct audit_target_result r;
	struct audit_facts f = public_facts(E_S, xpw_date(2026, 9, 1), false);

	audit_evaluate_target(&f, &t, xpw_date(2026, 7, 1), &r);
	ck_assert(r.upload.accept);
	ck_assert(r.has_client_slot);
	ck_assert(!r.upload_client.accept);
	ck_assert_int_eq(r.as_client, POL_OK); /* X15.5 ClusterDB bypass */
	ck_assert_int_eq(r.as_server, POL_OK);
	ck_assert(!r.breaks_when_renewed);

	t = target(TOPO_ROLE_C, "X15.3.2", false);
	audit_evaluate_target(&f, &t, xpw_date(2026, 7, 1), &r);
	ck_assert(!r.upload.accept);
	ck_assert(!r.has_client_slot);
	ck_assert_int_eq(r.as_client, POL_CLIENT_PURPOSE);
	ck_assert_int_eq(r.as_client_depth, 0);
	ck_assert(r.breaks_when_renewed);
	ck_assert_int_eq(r.renewed_as_client, POL_CLIENT_PURPOSE);
	ck_assert_int_eq(r.renewed_as_server, POL_OK);
}
END_TEST

/* ---- audit_classify, on real certificates ---- */

static char pki[512];
static char other[600];

static void issue(const char *dir, const char *name, enum pki_profile p,
		  bool self_signed)
{
	struct pki_leaf_opts o;
	char err[EKL_ERRLEN] = "";

	memset(&o, 0, sizeof(o));
	o.name = name;
	o.profile = p;
	o.self_signed = self_signed;
	if (pki_issue(dir, &o, err) != 0) {
		fprintf(stderr, "pki_issue %s: %s\n", name, err);
		exit(EXIT_FAILURE);
	}
}

static void make_pkis(void)
{
	char err[EKL_ERRLEN] = "";
	const char *t = tu_tmpdir("audit");

	if (t == NULL) {
		fprintf(stderr, "no temporary directory\n");
		exit(EXIT_FAILURE);
	}
	snprintf(pki, sizeof(pki), "%s/pki", t);
	snprintf(other, sizeof(other), "%s/other", t);
	if (pki_init(pki, false, err) != 0 ||
	    pki_init(other, false, err) != 0) {
		fprintf(stderr, "pki_init: %s\n", err);
		exit(EXIT_FAILURE);
	}
	issue(pki, "leaf", PKI_PROFILE_COMBINED, false);
	issue(pki, "srv", PKI_PROFILE_SERVER_ONLY, false);
	issue(pki, "self", PKI_PROFILE_COMBINED, true);
	issue(other, "stranger", PKI_PROFILE_COMBINED, false);
}

static enum audit_root classify(const struct audit_trust *t, const char *dir,
				const char *name, int *path_len)
{
	STACK_OF(X509) *extra = NULL, *path = NULL;
	char err[EKL_ERRLEN] = "";
	char file[800];
	enum audit_root root;
	X509 *leaf = NULL;

	snprintf(file, sizeof(file), "%s/%s.crt", dir, name);
	ck_assert_int_eq(certinfo_load_chain(file, &leaf, &extra, err), 0);
	ck_assert_int_eq(audit_classify(t, leaf, extra, &root, &path, err), 0);
	*path_len = path != NULL ? sk_X509_num(path) : 0;
	sk_X509_pop_free(path, X509_free);
	sk_X509_pop_free(extra, X509_free);
	X509_free(leaf);
	return root;
}

START_TEST(test_classify)
{
	struct audit_trust t;
	char err[EKL_ERRLEN] = "";
	char ca[800], oca[800];
	const char *files[1];
	int len;

	snprintf(ca, sizeof(ca), "%s/ca.crt", pki);
	snprintf(oca, sizeof(oca), "%s/ca.crt", other);

	/* The lab root as --ca: private; the other PKI: unknown. */
	files[0] = ca;
	ck_assert_int_eq(audit_trust_init(&t, false, NULL, 0, files, 1, err),
			 0);
	ck_assert_int_eq(classify(&t, pki, "leaf", &len), AUDIT_ROOT_PRIVATE);
	ck_assert_int_eq(len, 3);
	ck_assert_int_eq(classify(&t, other, "stranger", &len),
			 AUDIT_ROOT_UNKNOWN);
	ck_assert_int_eq(len, 0);
	/* A self-signed leaf nobody trusts: private. */
	ck_assert_int_eq(classify(&t, pki, "self", &len), AUDIT_ROOT_PRIVATE);
	audit_trust_free(&t);

	/* The same root given as a public root: public. */
	files[0] = oca;
	ck_assert_int_eq(audit_trust_init(&t, false, files, 1, NULL, 0, err),
			 0);
	ck_assert_int_eq(classify(&t, other, "stranger", &len),
			 AUDIT_ROOT_PUBLIC);
	ck_assert_int_eq(classify(&t, pki, "leaf", &len), AUDIT_ROOT_UNKNOWN);
	audit_trust_free(&t);

	/* Two public roots with the same subject (both PKIs name theirs
	 * "ekulab lab root"): each root itself is public. */
	{
		const char *both[2] = {ca, oca};

		ck_assert_int_eq(
		    audit_trust_init(&t, false, both, 2, NULL, 0, err), 0);
		ck_assert_int_eq(classify(&t, pki, "ca", &len),
				 AUDIT_ROOT_PUBLIC);
		ck_assert_int_eq(classify(&t, other, "ca", &len),
				 AUDIT_ROOT_PUBLIC);
		ck_assert_int_eq(classify(&t, other, "stranger", &len),
				 AUDIT_ROOT_PUBLIC);
		audit_trust_free(&t);
	}

	/* With the system store, the lab root is still not public. */
	ck_assert_int_eq(audit_trust_init(&t, true, NULL, 0, NULL, 0, err), 0);
	ck_assert_int_eq(classify(&t, pki, "leaf", &len), AUDIT_ROOT_UNKNOWN);
	audit_trust_free(&t);

	/* A bundle that does not exist names the flag. */
	files[0] = "/nonexistent/roots.pem";
	ck_assert_int_ne(audit_trust_init(&t, false, NULL, 0, files, 1, err),
			 0);
	ck_assert_ptr_nonnull(strstr(err, "--ca"));
	audit_trust_free(&t);
}
END_TEST

/* ---- audit_run on a directory ---- */

START_TEST(test_run_directory)
{
	struct audit_target tg = target(TOPO_ROLE_C, "X15.3.2", false);
	struct audit_trust t;
	struct audit_opts o;
	struct audit_run r;
	char err[EKL_ERRLEN] = "";
	char ca[800], junk[800];
	const char *files[1] = {ca};
	const char *inputs[1] = {pki};
	size_t i, leaf = 0, srv = 0;
	FILE *fp;

	snprintf(ca, sizeof(ca), "%s/ca.crt", pki);
	ck_assert_int_eq(audit_trust_init(&t, false, NULL, 0, files, 1, err),
			 0);
	memset(&o, 0, sizeof(o));
	o.inputs = inputs;
	o.n_inputs = 1;
	o.trust = &t;
	o.targets = &tg;
	o.n_targets = 1;
	o.at = xpw_date(2030, 1, 1); /* the leaves (365 days) expired */
	o.timeout_ms = 1000;
	ck_assert_int_eq(audit_run(&o, &r, err), 0);
	ck_assert_uint_eq(r.n_errors, 0);
	ck_assert_uint_eq(r.skipped, 7); /* 4 CA keys + 3 leaf keys */
	/* ca.crt, 3 issuing CAs, 3 leaves with their issuing CA each. */
	ck_assert_uint_eq(r.n_certs, 4 + 2 * 2 + 1);
	for (i = 0; i < r.n_certs; i++) {
		if (strstr(r.certs[i].source, "/leaf.crt") &&
		    r.certs[i].index == 0) {
			leaf = i;
			ck_assert_int_eq(r.certs[i].validity, POL_EXPIRED);
			ck_assert_str_eq(r.certs[i].findings[0], "expired");
		}
		if (strstr(r.certs[i].source, "/srv.crt") &&
		    r.certs[i].index == 0)
			srv = i;
	}
	ck_assert_uint_ne(leaf, 0);
	ck_assert_uint_ne(srv, 0);
	ck_assert(r.certs[srv].days_left < 0);
	ck_assert_int_eq(r.certs[srv].targets[0].as_client, POL_CLIENT_PURPOSE);
	ck_assert_int_eq(audit_exit_code(&r), 1);
	audit_run_free(&r);

	/* A file of garbage: an error for it, the rest still audited. */
	snprintf(junk, sizeof(junk), "%s/junk.pem", pki);
	fp = fopen(junk, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n", fp);
	fclose(fp);
	ck_assert_int_eq(audit_run(&o, &r, err), 0);
	ck_assert_uint_eq(r.n_errors, 1);
	ck_assert_ptr_nonnull(strstr(r.errors[0].source, "junk.pem"));
	ck_assert_uint_eq(r.n_certs, 9);
	ck_assert_int_eq(audit_exit_code(&r), 2);
	audit_run_free(&r);
	remove(junk);
	audit_trust_free(&t);
}
END_TEST

START_TEST(test_run_out_of_memory)
{
	struct audit_target tg = target(TOPO_ROLE_C, "X15.3.2", false);
	struct audit_trust t;
	struct audit_opts o;
	struct audit_run r;
	char err[EKL_ERRLEN] = "";
	char ca[800], leaf[800];
	const char *files[1] = {ca};
	const char *inputs[2] = {leaf, "/nonexistent.pem"};
	int n;
	int rc = EKL_ENOMEM;

	snprintf(ca, sizeof(ca), "%s/ca.crt", pki);
	snprintf(leaf, sizeof(leaf), "%s/leaf.crt", pki);
	ck_assert_int_eq(audit_trust_init(&t, false, NULL, 0, files, 1, err),
			 0);
	memset(&o, 0, sizeof(o));
	o.inputs = inputs;
	o.n_inputs = 2;
	o.trust = &t;
	o.targets = &tg;
	o.n_targets = 1;
	o.at = xpw_date(2027, 1, 1);
	for (n = 0; n < 200 && rc != 0; n++) {
		ekl_mem_fail_after(n);
		rc = audit_run(&o, &r, err);
		ekl_mem_fail_after(-1);
		if (rc != 0) {
			ck_assert_int_eq(rc, EKL_ENOMEM);
			ck_assert_ptr_nonnull(strstr(err, "out of memory"));
		}
		audit_run_free(&r);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_gt(n, 3);
	audit_trust_free(&t);
}
END_TEST

/* ---- the forecast ---- */

static struct audit_fnode fnode(const char *name, const char *version,
				enum pki_profile p, int64_t at, int days)
{
	struct audit_fnode n;

	memset(&n, 0, sizeof(n));
	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.version, sizeof(n.version), "%s", version);
	ck_assert_int_eq(pol_version_parse(version, &n.vclass), 0);
	n.client_eku_check = true;
	audit_lab_chain(p, PKI_CA_UNRESTRICTED, at, days, name, &n.server);
	n.renew_at = n.server.certs[0].not_after;
	n.renewal = AUDIT_RENEW_SERVER_ONLY;
	return n;
}

START_TEST(test_simulate)
{
	int64_t at = xpw_date(2026, 7, 1);
	struct audit_fnode n[3];
	struct audit_link down[4];
	int64_t date = 0;
	size_t nd;

	/* Two pre-X15.4 nodes. Link rule both (the default): down at the
	 * first server-only renewal, whose owner's dial is refused. */
	n[0] = fnode("a", "X15.3.2", PKI_PROFILE_COMBINED, at, 30);
	n[1] = fnode("b", "X15.3.2", PKI_PROFILE_COMBINED, at, 90);
	ck_assert(audit_simulate(n, 2, POL_ENFORCE, TOPO_DIAL_BOTH,
				 TOPO_LINK_BOTH, "a", at, &date, down, 4, &nd));
	ck_assert_int_eq(date, n[0].renew_at);
	ck_assert_uint_eq(nd, 1);
	ck_assert(!down[0].up);
	/* Link rule either: down when the second one goes server-only. */
	ck_assert(audit_simulate(n, 2, POL_ENFORCE, TOPO_DIAL_BOTH,
				 TOPO_LINK_EITHER, "a", at, &date, down, 4,
				 &nd));
	ck_assert_int_eq(date, n[1].renew_at);
	ck_assert_uint_eq(nd, 1);
	ck_assert_int_eq(down[0].a, 0);
	ck_assert_int_eq(down[0].b, 1);
	ck_assert_int_eq(down[0].n_dirs, 2);
	ck_assert_int_eq(down[0].dirs[0].v.side, POL_SIDE_ACCEPTOR);
	ck_assert_int_eq(down[0].dirs[0].v.code, POL_CLIENT_PURPOSE);

	/* One of them on X15.4: b dials a? a (pre) refuses b; a dials b:
	 * b (X15.4) skips the client purpose: the link stays up. */
	n[1] = fnode("b", "X15.4", PKI_PROFILE_COMBINED, at, 90);
	ck_assert(!audit_simulate(n, 2, POL_ENFORCE, TOPO_DIAL_BOTH,
				  TOPO_LINK_EITHER, "a", at, &date, down, 4,
				  &nd));
	/* Under both, b's own renewal takes it down: a refuses b. */
	ck_assert(audit_simulate(n, 2, POL_ENFORCE, TOPO_DIAL_BOTH,
				 TOPO_LINK_BOTH, "a", at, &date, down, 4, &nd));
	ck_assert_int_eq(date, n[1].renew_at);
	/* ... unless only b dials (lower-name with b lower). */
	snprintf(n[1].name, sizeof(n[1].name), "0b");
	ck_assert(audit_simulate(n, 2, POL_ENFORCE, TOPO_DIAL_LOWER_NAME,
				 TOPO_LINK_EITHER, "a", at, &date, down, 4,
				 &nd));
	ck_assert_int_eq(date, n[1].renew_at); /* 0b's renewal, day 90 */
	ck_assert_int_eq(down[0].n_dirs, 1);
	ck_assert_int_eq(down[0].dirs[0].initiator, 1);

	/* Today: a server-only and b combined, both pre-X15.4: with both
	 * dialling, a -> b fails but b -> a works. */
	n[0] = fnode("a", "X15.3.2", PKI_PROFILE_SERVER_ONLY, at, 365);
	n[1] = fnode("b", "X15.3.2", PKI_PROFILE_COMBINED, at, 365);
	n[1].renew_at += 10 * XPW_DAY; /* b renews later */
	ck_assert(audit_simulate(n, 2, POL_ENFORCE, TOPO_DIAL_BOTH,
				 TOPO_LINK_EITHER, "a", at, &date, down, 4,
				 &nd));
	ck_assert_int_eq(date, n[1].renew_at);
	/* ... under both, down from the start, */
	ck_assert(audit_simulate(n, 2, POL_ENFORCE, TOPO_DIAL_BOTH,
				 TOPO_LINK_BOTH, "a", at, &date, down, 4, &nd));
	ck_assert_int_eq(date, at);
	/* ... as when only a dials with lower-name. */
	ck_assert(audit_simulate(n, 2, POL_ENFORCE, TOPO_DIAL_LOWER_NAME,
				 TOPO_LINK_EITHER, "a", at, &date, down, 4,
				 &nd));
	ck_assert_int_eq(date, at);
	/* Permissive never goes down. */
	ck_assert(!audit_simulate(n, 2, POL_PERMISSIVE, TOPO_DIAL_BOTH,
				  TOPO_LINK_BOTH, "a", at, &date, down, 4,
				  &nd));

	/* dial primary: only links with the primary exist. */
	n[0] = fnode("a", "X15.3.2", PKI_PROFILE_COMBINED, at, 365);
	n[1] = fnode("b", "X15.3.2", PKI_PROFILE_SERVER_ONLY, at, 365);
	n[2] = fnode("c", "X15.3.2", PKI_PROFILE_SERVER_ONLY, at, 365);
	/* b-c would fail both ways, but they never dial each other; a dials
	 * both, which accept its combined certificate until a's renewal. */
	ck_assert(audit_simulate(n, 3, POL_ENFORCE, TOPO_DIAL_PRIMARY,
				 TOPO_LINK_BOTH, "a", at, &date, down, 4, &nd));
	ck_assert_int_eq(date, n[0].renew_at);
	ck_assert_uint_eq(nd, 2);
	ck_assert_str_eq(n[down[0].a].name, "a");
	ck_assert(audit_simulate(n, 3, POL_ENFORCE, TOPO_DIAL_BOTH,
				 TOPO_LINK_EITHER, "a", at, &date, down, 4,
				 &nd));
	ck_assert_int_eq(date, at);
	ck_assert_str_eq(n[down[0].a].name, "b");
	ck_assert_str_eq(n[down[0].b].name, "c");
}
END_TEST

static const char *write_file(const char *name, const char *text)
{
	static char path[900];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", pki, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

START_TEST(test_forecast_topology)
{
	struct audit_trust t;
	struct audit_forecast f;
	struct topo topo;
	char err[EKL_ERRLEN] = "";
	int64_t at = xpw_date(2026, 1, 15);
	size_t i;
	bool saw_early = false, saw_permissive = false;

	ck_assert_int_eq(audit_trust_init(&t, false, NULL, 0, NULL, 0, err), 0);
	ck_assert_int_eq(
	    audit_cluster_load(
		write_file("three.yaml",
			   "name: three\n"
			   "cluster: {link: either}\n"
			   "defaults: {version: X15.3.2, cert: {root: "
			   "public}}\n"
			   "nodes:\n"
			   "  node1: {}\n"
			   "  node2: {cert: {profile: server-only}}\n"
			   "  node3: {version: X15.4}\n"),
		&topo, err),
	    0);
	ck_assert_int_eq(audit_forecast_run(&topo, &t, at, &f, err), 0);
	ck_assert(f.breaks);
	ck_assert_int_eq(f.date, at + 365 * XPW_DAY);
	ck_assert_uint_eq(f.n_down, 1);
	ck_assert_str_eq(f.nodes[f.down[0].a].name, "node1");
	ck_assert_str_eq(f.nodes[f.down[0].b].name, "node2");
	ck_assert_ptr_nonnull(strstr(f.cause, "node1"));
	/* The renewal's upload on X15.3.2 fails; on X15.4-C too. */
	ck_assert(!f.nodes[0].renewal_upload.accept);
	ck_assert(!f.nodes[2].renewal_upload.accept);
	ck_assert_int_eq(f.nodes[2].renewal_upload.rule, XPW_RULE_X154_C);
	ck_assert_int_eq(f.nodes[0].renewal, AUDIT_RENEW_SERVER_ONLY);
	/* X15.4 keeps the links up, but Expressway-C's web UI refuses the
	 * server-only renewals: not the prevention. X15.5 (out by then)
	 * is. */
	ck_assert_int_eq(f.steps[0].code, AUDIT_OPT_UPGRADE_X154);
	ck_assert(f.steps[0].prevents);
	ck_assert(!f.steps[0].upload_ok);
	ck_assert(f.steps[0].in_time);
	ck_assert_int_eq(f.steps[0].refused.rule, XPW_RULE_X154_C);
	ck_assert_ptr_nonnull(strstr(f.steps[0].text, "only with SCP copies"));
	ck_assert_ptr_nonnull(strstr(f.steps[0].text,
				     "(X15.4, Expressway-C) refuses the "
				     "upload"));
	ck_assert_int_ge(f.prevention, 0);
	ck_assert_int_eq(f.steps[f.prevention].code, AUDIT_OPT_UPGRADE_X155);
	ck_assert(f.steps[f.prevention].upload_ok);
	ck_assert_int_eq(f.steps[f.prevention].before, f.date);
	for (i = 0; i < f.n_steps; i++) {
		if (f.steps[i].code == AUDIT_OPT_RENEW_EARLY) {
			saw_early = true;
			ck_assert(!f.steps[i].prevents);
			ck_assert_int_gt(f.steps[i].postpones_to, f.date);
		}
		if (f.steps[i].code == AUDIT_OPT_PERMISSIVE) {
			saw_permissive = true;
			ck_assert(f.steps[i].prevents);
			ck_assert_uint_eq(i, f.n_steps - 1); /* last resort */
		}
	}
	ck_assert(saw_early);
	ck_assert(saw_permissive);
	audit_forecast_free(&f);
	topo_free(&topo);

	/* A break before X15.4 and X15.5 are out: no upgrade is advised;
	 * the alternate root is. */
	ck_assert_int_eq(
	    audit_cluster_load(
		write_file("early.yaml",
			   "defaults: {version: X15.3.2, cert: {root: public, "
			   "days: 30}}\n"
			   "nodes: {a: {}, b: {}}\n"),
		&topo, err),
	    0);
	ck_assert_int_eq(audit_forecast_run(&topo, &t, at, &f, err), 0);
	ck_assert(f.breaks);
	ck_assert_int_lt(f.date, xpw_release(POL_V_X154));
	for (i = 0; i < f.n_steps; i++)
		if (f.steps[i].code == AUDIT_OPT_UPGRADE_X154 ||
		    f.steps[i].code == AUDIT_OPT_UPGRADE_X155) {
			ck_assert(!f.steps[i].in_time);
			ck_assert_ptr_nonnull(
			    strstr(f.steps[i].text, "too late"));
		}
	ck_assert_int_ge(f.prevention, 0);
	ck_assert_int_eq(f.steps[f.prevention].code, AUDIT_OPT_ALTERNATE_ROOT);
	audit_forecast_free(&f);
	topo_free(&topo);

	/* Private roots (the default for lab certificates) are renewed like
	 * for like, never server-only by a public CA: nothing breaks. */
	ck_assert_int_eq(
	    audit_cluster_load(write_file("private.yaml",
					  "defaults: {version: X15.3.2}\n"
					  "nodes: {a: {}, b: {}}\n"),
			       &topo, err),
	    0);
	ck_assert_int_eq(audit_forecast_run(&topo, &t, at, &f, err), 0);
	ck_assert(!f.breaks);
	ck_assert_int_eq(f.nodes[0].root, AUDIT_ROOT_PRIVATE);
	ck_assert_int_eq(f.nodes[0].renewal, AUDIT_RENEW_LIKE);
	ck_assert(f.nodes[0].renewal_upload.accept); /* combined again */
	audit_forecast_free(&f);
	topo_free(&topo);

	/* All X15.4: nothing breaks. */
	ck_assert_int_eq(
	    audit_cluster_load(write_file("ok.yaml",
					  "defaults: {version: X15.4}\n"
					  "nodes: {a: {}, b: {}}\n"),
			       &topo, err),
	    0);
	ck_assert_int_eq(audit_forecast_run(&topo, &t, at, &f, err), 0);
	ck_assert(!f.breaks);
	ck_assert_int_eq(f.prevention, -1);
	ck_assert_uint_eq(f.n_steps, 0);
	audit_forecast_free(&f);
	topo_free(&topo);
	audit_trust_free(&t);
}
END_TEST

/* Each cluster of a deployment is forecast with its own verify mode (the
 * first cluster's used to be every cluster's). */
START_TEST(test_forecast_cluster_verify)
{
	static const char *const files[2] = {
	    /* The permissive cluster first: its mode used to hide the
	     * enforcing cluster's break. */
	    "defaults: {version: X15.3.2, cert: {root: public}}\n"
	    "clusters:\n"
	    "  core: {role: c, verify: permissive, nodes: {c1: {}, c2: {cert: "
	    "{profile: server-only}}}}\n"
	    "  edge: {role: e, nodes: {e1: {}, e2: {cert: {profile: "
	    "server-only}}}}\n",
	    /* The enforcing cluster first: its mode used to break the
	     * permissive cluster's links too. */
	    "defaults: {version: X15.3.2, cert: {root: public}}\n"
	    "clusters:\n"
	    "  edge: {role: e, nodes: {e1: {}, e2: {cert: {profile: "
	    "server-only}}}}\n"
	    "  core: {role: c, verify: permissive, nodes: {c1: {}, c2: {cert: "
	    "{profile: server-only}}}}\n"};
	struct audit_trust t;
	struct audit_forecast f;
	struct topo topo;
	char err[EKL_ERRLEN] = "";
	int64_t at = xpw_date(2026, 1, 15);
	size_t i, k;

	ck_assert_int_eq(audit_trust_init(&t, false, NULL, 0, NULL, 0, err), 0);
	for (k = 0; k < 2; k++) {
		ck_assert_msg(
		    audit_cluster_load(write_file("verify.yaml", files[k]),
				       &topo, err) == 0,
		    "%s", err);
		ck_assert_int_eq(audit_forecast_run(&topo, &t, at, &f, err), 0);
		/* edge enforces: its server-only node breaks its link. */
		ck_assert_msg(f.breaks, "file %zu: no break", k);
		ck_assert_uint_eq(f.n_down, 1);
		for (i = 0; i < f.n_nodes; i++)
			ck_assert_int_eq(f.nodes[i].cverify,
					 f.nodes[i].name[0] == 'c'
					     ? POL_PERMISSIVE
					     : POL_ENFORCE);
		for (i = 0; i < f.n_down; i++) {
			ck_assert_str_eq(f.nodes[f.down[i].a].name, "e1");
			ck_assert_str_eq(f.nodes[f.down[i].b].name, "e2");
		}
		audit_forecast_free(&f);
		topo_free(&topo);
	}
	audit_trust_free(&t);
}
END_TEST

START_TEST(test_cluster_list)
{
	struct audit_trust t;
	struct audit_forecast f;
	struct topo topo;
	char err[EKL_ERRLEN] = "";
	char want[900];
	char ca[800];
	const char *files[1] = {ca};
	int64_t now;

	ck_assert_int_eq(
	    audit_cluster_load(
		write_file("nodes.txt", "# name version certificate role\n"
					"leaf X15.3.2 leaf.crt\n"
					"srv  X15.3.2 srv.crt e  # comment\n"),
		&topo, err),
	    0);
	ck_assert_uint_eq(topo.n_nodes, 2);
	ck_assert_str_eq(topo.name, "nodes");
	ck_assert_str_eq(topo.primary, "leaf");
	snprintf(want, sizeof(want), "%s/srv.crt", pki);
	ck_assert_str_eq(topo.nodes[1].cert.file, want);
	ck_assert_int_eq(topo.nodes[1].role, TOPO_ROLE_E);
	ck_assert_int_eq(topo.nodes[0].role, TOPO_ROLE_C);

	/* The real certificates: srv is server-only, leaf combined; both
	 * pre-X15.4: srv -> leaf fails, so under the default link rule
	 * (both) the link is down from the start. */
	snprintf(ca, sizeof(ca), "%s/ca.crt", pki);
	ck_assert_int_eq(audit_trust_init(&t, false, NULL, 0, files, 1, err),
			 0);
	ck_assert_int_eq(topo.link, TOPO_LINK_BOTH);
	now = (int64_t)time(NULL);
	ck_assert_int_eq(audit_forecast_run(&topo, &t, now, &f, err), 0);
	ck_assert_int_eq(f.nodes[0].root, AUDIT_ROOT_PRIVATE);
	ck_assert(f.breaks);
	ck_assert_int_eq(f.date, now);
	audit_forecast_free(&f);
	audit_trust_free(&t);
	topo_free(&topo);

	/* Errors name the line. */
	ck_assert_int_eq(
	    audit_cluster_load(write_file("bad.txt", "a X15.3.2 a.crt\n"
						     "b X9 b.crt\n"),
			       &topo, err),
	    EKL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "bad.txt:2:"));
	ck_assert_ptr_nonnull(strstr(err, "'X9'"));
	ck_assert_int_eq(audit_cluster_load(
			     write_file("bad2.txt", "a X15.3.2\n"), &topo, err),
			 EKL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "NAME VERSION CERTFILE"));
	ck_assert_int_eq(
	    audit_cluster_load(write_file("bad3.txt", "a X15.3.2 a.crt\n"
						      "a X15.4 b.crt\n"),
			       &topo, err),
	    EKL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "unique"));
}
END_TEST

/* A cluster list that is a FIFO is refused at once (opening it used to
 * wait for a writer: the test would time out). */
START_TEST(test_cluster_list_fifo)
{
	struct topo topo;
	char err[EKL_ERRLEN] = "";
	char path[900];

	snprintf(path, sizeof(path), "%s/nodes.fifo", pki);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(audit_cluster_load(path, &topo, err), EKL_EIO);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
}
END_TEST

/* Bytes that are not UTF-8 (an overlong C0 A7, a surrogate ED A0 80, an
 * F5) in an input reach the JSON report as '?': the report stays JSON a
 * strict reader accepts. The overlong form passed as UTF-8 before (found
 * by fuzz_audit: tests/fuzz/corpus/fuzz_audit/regress-overlong-utf8). */
START_TEST(test_report_json_not_utf8)
{
	struct audit_opts o;
	struct audit_run r;
	struct jsonr_doc *doc = NULL;
	const struct jsonr_value *e;
	char err[EKL_ERRLEN] = "";
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	memset(&o, 0, sizeof(o));
	o.at = (int64_t)time(NULL);
	o.cluster = write_file("odd.txt",
			       "node5 X15.3\xc0\xa7\xed\xa0\x80\xf5.2 a.crt\n");
	ck_assert_int_eq(audit_run(&o, &r, err), 0);
	ck_assert_uint_eq(r.n_errors, 1);
	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	audit_report_json(&r, f);
	fclose(f);
	ck_assert_msg(jsonr_parse(text, len, &doc, err) == 0, "%s", err);
	e = jsonr_at(jsonr_get(jsonr_root(doc), "errors"), 0);
	ck_assert_msg(strstr(jsonr_get_str(e, "message"), "'X15.3??????.2'") !=
			  NULL,
		      "%s", jsonr_get_str(e, "message"));
	jsonr_free(doc);
	free(text);
	audit_run_free(&r);
}
END_TEST

static Suite *audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc;

	tc = tcase_create("audit_format_date");
	tcase_add_test(tc, test_dates);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit_clusterdb");
	tcase_add_test(tc, test_clusterdb_agrees_with_pol_decide);
	tcase_add_test(tc, test_clusterdb_examples);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit_renewed_chain");
	tcase_add_test(tc, test_renewed_chain);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit_services");
	tcase_add_test(tc, test_services);
	suite_add_tcase(s, tc);
	tc = tcase_create("audit_evaluate_target");
	tcase_add_test(tc, test_evaluate_target);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit_risks");
	tcase_add_test(tc, test_risks);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit_options");
	tcase_add_test(tc, test_options);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit_classify");
	tcase_add_unchecked_fixture(tc, make_pkis, NULL);
	tcase_add_test(tc, test_classify);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit_run");
	tcase_add_unchecked_fixture(tc, make_pkis, NULL);
	tcase_add_test(tc, test_run_directory);
	tcase_add_test(tc, test_run_out_of_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit_simulate");
	tcase_add_test(tc, test_simulate);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit_forecast_run");
	tcase_add_unchecked_fixture(tc, make_pkis, NULL);
	tcase_add_test(tc, test_forecast_topology);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit_cluster_load");
	tcase_add_unchecked_fixture(tc, make_pkis, NULL);
	tcase_add_test(tc, test_cluster_list);
	tcase_add_test(tc, test_forecast_cluster_verify);
	tcase_add_test(tc, test_cluster_list_fifo);
	tcase_add_test(tc, test_report_json_not_utf8);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(audit_suite());
}
