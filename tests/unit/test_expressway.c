/* test_expressway.c: the Expressway model: civil dates, the public CA
 * policy's timeline and validity caps, EKU purposes and the upload rule of
 * each release. */
#include <stdio.h>
#include <string.h>

#include "model/expressway.h"
#include "testutil.h"

#define E_S   (POL_EKU_EXT | POL_EKU_SERVER)
#define E_C   (POL_EKU_EXT | POL_EKU_CLIENT)
#define E_SC  (POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT)
#define E_ANY (POL_EKU_EXT | POL_EKU_ANY)

static struct xpw_node node(enum topo_role role, const char *version,
			    bool setting)
{
	struct xpw_node n;

	memset(&n, 0, sizeof(n));
	n.role = role;
	ck_assert_int_eq(pol_version_parse(version, &n.vclass), 0);
	n.server_eku_upload = setting;
	return n;
}

/* ---- xpw_date ---- */

START_TEST(test_date)
{
	ck_assert_int_eq(xpw_date(1970, 1, 1), 0);
	ck_assert_int_eq(xpw_date(2026, 2, 11), INT64_C(1770768000));
	ck_assert_int_eq(xpw_date(2000, 3, 1) - xpw_date(2000, 2, 28),
			 2 * XPW_DAY); /* 2000 is a leap year */
	ck_assert_int_eq(xpw_date(1900, 3, 1) - xpw_date(1900, 2, 28),
			 XPW_DAY); /* 1900 is not */
	ck_assert_int_eq(xpw_date(1969, 12, 31), -XPW_DAY);
}
END_TEST

/* ---- the timeline ---- */

START_TEST(test_timeline)
{
	ck_assert_int_eq(xpw_le_classic_end(), xpw_date(2026, 2, 11));
	ck_assert_int_eq(xpw_public_first_cap(), xpw_date(2026, 3, 15));
	ck_assert_int_eq(xpw_public_no_client(), xpw_date(2026, 5, 1));
	ck_assert_int_eq(xpw_chrome_in_force(), xpw_date(2026, 6, 15));
}
END_TEST

START_TEST(test_caps)
{
	ck_assert_int_eq(xpw_public_max_days(xpw_date(2026, 3, 14)), 398);
	ck_assert_int_eq(xpw_public_max_days(xpw_date(2026, 3, 15)), 200);
	ck_assert_int_eq(xpw_public_max_days(xpw_date(2027, 3, 14)), 200);
	ck_assert_int_eq(xpw_public_max_days(xpw_date(2027, 3, 15)), 100);
	ck_assert_int_eq(xpw_public_max_days(xpw_date(2029, 3, 14)), 100);
	ck_assert_int_eq(xpw_public_max_days(xpw_date(2029, 3, 15)), 47);
	ck_assert_int_eq(xpw_public_cap_since(xpw_date(2026, 1, 1)), 0);
	ck_assert_int_eq(xpw_public_cap_since(xpw_date(2026, 4, 1)),
			 xpw_date(2026, 3, 15));
	ck_assert_int_eq(xpw_public_cap_since(xpw_date(2028, 1, 1)),
			 xpw_date(2027, 3, 15));
	ck_assert_int_eq(xpw_public_cap_since(xpw_date(2030, 1, 1)),
			 xpw_date(2029, 3, 15));
}
END_TEST

/* ---- xpw_eku_serves ---- */

START_TEST(test_eku_serves)
{
	ck_assert(xpw_eku_serves(0, POL_EKU_SERVER)); /* no extension */
	ck_assert(xpw_eku_serves(0, POL_EKU_CLIENT));
	ck_assert(xpw_eku_serves(E_S, POL_EKU_SERVER));
	ck_assert(!xpw_eku_serves(E_S, POL_EKU_CLIENT));
	ck_assert(xpw_eku_serves(E_SC, POL_EKU_CLIENT));
	ck_assert(!xpw_eku_serves(E_ANY, POL_EKU_SERVER));
	ck_assert(!xpw_eku_serves(E_ANY, POL_EKU_CLIENT));
}
END_TEST

/* ---- xpw_upload ---- */

struct upload_case {
	enum topo_role role;
	const char *version;
	bool setting;
	enum xpw_slot slot;
	unsigned eku;
	bool accept;
	enum xpw_rule rule;
};

static const struct upload_case uploads[] = {
    /* pre-X15.4: clientAuth required, both roles, setting irrelevant */
    {TOPO_ROLE_C, "X15.3.2", false, XPW_SLOT_SERVER, E_SC, true,
     XPW_RULE_PRE154},
    {TOPO_ROLE_C, "X15.3.2", false, XPW_SLOT_SERVER, E_S, false,
     XPW_RULE_PRE154},
    {TOPO_ROLE_E, "X14.3.7", true, XPW_SLOT_SERVER, E_S, false,
     XPW_RULE_PRE154},
    {TOPO_ROLE_E, "X14.3.7", false, XPW_SLOT_SERVER, 0, true, XPW_RULE_PRE154},
    {TOPO_ROLE_C, "X15.0", false, XPW_SLOT_SERVER, E_ANY, false,
     XPW_RULE_SERVER_EKU},
    {TOPO_ROLE_C, "X15.3.2", false, XPW_SLOT_SERVER, E_C, false,
     XPW_RULE_SERVER_EKU},
    /* X15.4 E: server-only only with EnableServerEkuUpload On */
    {TOPO_ROLE_E, "X15.4", true, XPW_SLOT_SERVER, E_S, true, XPW_RULE_X154_E},
    {TOPO_ROLE_E, "X15.4", false, XPW_SLOT_SERVER, E_S, false, XPW_RULE_X154_E},
    {TOPO_ROLE_E, "X15.4", false, XPW_SLOT_SERVER, E_SC, true, XPW_RULE_X154_E},
    {TOPO_ROLE_E, "X15.4", true, XPW_SLOT_SERVER, E_C, false,
     XPW_RULE_SERVER_EKU},
    /* X15.4 C: still combined */
    {TOPO_ROLE_C, "X15.4", true, XPW_SLOT_SERVER, E_S, false, XPW_RULE_X154_C},
    {TOPO_ROLE_C, "X15.4", false, XPW_SLOT_SERVER, E_SC, true, XPW_RULE_X154_C},
    /* X15.5: server slot serverAuth, client slot clientAuth */
    {TOPO_ROLE_C, "X15.5", false, XPW_SLOT_SERVER, E_S, true,
     XPW_RULE_X155_SERVER},
    {TOPO_ROLE_E, "X15.5.1", false, XPW_SLOT_SERVER, E_S, true,
     XPW_RULE_X155_SERVER},
    {TOPO_ROLE_C, "X15.5", false, XPW_SLOT_CLIENT, E_C, true,
     XPW_RULE_X155_CLIENT},
    {TOPO_ROLE_C, "X15.5", false, XPW_SLOT_CLIENT, E_S, false,
     XPW_RULE_X155_CLIENT},
    {TOPO_ROLE_E, "X15.5", false, XPW_SLOT_CLIENT, 0, true,
     XPW_RULE_X155_CLIENT},
    {TOPO_ROLE_C, "X15.4", false, XPW_SLOT_CLIENT, E_SC, false,
     XPW_RULE_NO_CLIENT_SLOT},
};

START_TEST(test_upload)
{
	const struct upload_case *u = &uploads[_i];
	struct xpw_node n = node(u->role, u->version, u->setting);
	struct xpw_upload out;

	xpw_upload(&n, u->slot, u->eku, &out);
	ck_assert_msg(out.accept == u->accept, "case %d: %s (%s)", _i,
		      out.accept ? "accept" : "reject", out.reason);
	ck_assert_msg(out.rule == u->rule, "case %d: rule %s", _i,
		      xpw_rule_name(out.rule));
	ck_assert_ptr_nonnull(out.reason);
	ck_assert(strlen(out.reason) > 10);
}
END_TEST

START_TEST(test_upload_reasons)
{
	struct xpw_node e154 = node(TOPO_ROLE_E, "X15.4", false);
	struct xpw_node c154 = node(TOPO_ROLE_C, "X15.4", true);
	struct xpw_node c153 = node(TOPO_ROLE_C, "X15.3.2", false);
	struct xpw_upload out;

	xpw_upload(&e154, XPW_SLOT_SERVER, E_S, &out);
	ck_assert_ptr_nonnull(strstr(out.reason, "EnableServerEkuUpload"));
	xpw_upload(&c154, XPW_SLOT_SERVER, E_S, &out);
	ck_assert_ptr_nonnull(strstr(out.reason, "Expressway-C"));
	xpw_upload(&c153, XPW_SLOT_SERVER, E_S, &out);
	ck_assert_ptr_nonnull(strstr(out.reason, "SCP"));
	xpw_upload(&c154, XPW_SLOT_SERVER, E_C, &out);
	ck_assert_ptr_nonnull(strstr(out.reason, "serverAuth"));
}
END_TEST

/* ---- releases, refusals, what unblocks ---- */

START_TEST(test_release)
{
	ck_assert_int_eq(xpw_release(POL_V_PRE154), 0);
	ck_assert_int_eq(xpw_release(POL_V_X154), xpw_date(2026, 3, 1));
	ck_assert_int_eq(xpw_release(POL_V_X155), xpw_date(2026, 6, 1));
	ck_assert_str_eq(xpw_release_month(POL_V_X154), "February 2026");
	ck_assert_str_eq(xpw_release_month(POL_V_X155), "May 2026");
	ck_assert_ptr_null(xpw_release_month(POL_V_PRE154));
	/* May 2026 is not a day: not out before the month is over. */
	ck_assert(!xpw_released(POL_V_X155, xpw_date(2026, 4, 15)));
	ck_assert(!xpw_released(POL_V_X155, xpw_date(2026, 5, 31)));
	ck_assert(xpw_released(POL_V_X155, xpw_date(2026, 6, 1)));
	ck_assert(xpw_released(POL_V_X154, xpw_date(2026, 3, 1)));
	ck_assert(!xpw_released(POL_V_X154, xpw_date(2026, 2, 20)));
	ck_assert(xpw_released(POL_V_PRE154, 0));
}
END_TEST

START_TEST(test_refusal_and_unblock)
{
	struct xpw_node c153 = node(TOPO_ROLE_C, "X15.3.2", false);
	struct xpw_node c154 = node(TOPO_ROLE_C, "X15.4", false);
	struct xpw_node e154 = node(TOPO_ROLE_E, "X15.4", false);
	struct xpw_node e153 = node(TOPO_ROLE_E, "X15.3.2", false);
	struct xpw_upload up;
	char buf[800];

	xpw_upload(&c154, XPW_SLOT_SERVER, E_S, &up);
	ck_assert_str_eq(xpw_rule_name(up.rule), "X15.4 Expressway-C upload");
	xpw_refusal_text("node2", "X15.4", &c154, &up, buf, sizeof(buf));
	ck_assert_str_eq(buf, "node2 (X15.4, Expressway-C) refuses the "
			      "upload: X15.4 Expressway-C upload still "
			      "requires combined EKU (serverAuth+clientAuth)");
	/* X15.4-C: X15.5 (dated), combined EKU, SCP. */
	xpw_unblock(&c154, XPW_SLOT_SERVER, E_S, xpw_date(2026, 7, 1), buf,
		    sizeof(buf));
	ck_assert_str_eq(buf, "X15.5 (released May 2026), a combined-EKU "
			      "certificate from an alternate root, or an SCP "
			      "copy to /persistent/Certs (bypasses the web "
			      "UI)");
	xpw_unblock(&c154, XPW_SLOT_SERVER, E_S, xpw_date(2026, 4, 1), buf,
		    sizeof(buf));
	ck_assert_ptr_nonnull(
	    strstr(buf, "X15.5 (due May 2026, not out at the evaluation "
			"time)"));
	/* pre-X15.4 E: X15.4 with the setting comes first. */
	xpw_unblock(&e153, XPW_SLOT_SERVER, E_S, xpw_date(2026, 7, 1), buf,
		    sizeof(buf));
	ck_assert_msg(strncmp(buf,
			      "X15.4 with EnableServerEkuUpload: On "
			      "(released February 2026), ",
			      60) == 0,
		      "%s", buf);
	/* X15.4 E: the setting itself. */
	xpw_unblock(&e154, XPW_SLOT_SERVER, E_S, xpw_date(2026, 7, 1), buf,
		    sizeof(buf));
	ck_assert_msg(strncmp(buf,
			      "xConfiguration Certificate XCP TLS CVS "
			      "EnableServerEkuUpload: On (topology: "
			      "server_eku_upload: true), X15.5",
			      90) == 0,
		      "%s", buf);
	/* No serverAuth: only a certificate that has it, or SCP. */
	xpw_unblock(&c153, XPW_SLOT_SERVER, E_C, 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "a combined-EKU certificate from an alternate "
			      "root or an SCP copy to /persistent/Certs "
			      "(bypasses the web UI)");
	/* The client slot: only X15.5 has one; no SCP alternative. */
	xpw_unblock(&c154, XPW_SLOT_CLIENT, E_C, xpw_date(2026, 7, 1), buf,
		    sizeof(buf));
	ck_assert_str_eq(buf, "X15.5 (released May 2026)");
	/* Accepted: nothing to say. */
	xpw_unblock(&c153, XPW_SLOT_SERVER, E_SC, 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
}
END_TEST

static Suite *expressway_suite(void)
{
	Suite *s = suite_create("expressway");
	TCase *tc;

	tc = tcase_create("xpw_date");
	tcase_add_test(tc, test_date);
	suite_add_tcase(s, tc);

	tc = tcase_create("xpw_timeline");
	tcase_add_test(tc, test_timeline);
	tcase_add_test(tc, test_caps);
	suite_add_tcase(s, tc);

	tc = tcase_create("xpw_eku_serves");
	tcase_add_test(tc, test_eku_serves);
	suite_add_tcase(s, tc);

	tc = tcase_create("xpw_upload");
	tcase_add_loop_test(tc, test_upload, 0,
			    (int)(sizeof(uploads) / sizeof(uploads[0])));
	tcase_add_test(tc, test_upload_reasons);
	tcase_add_test(tc, test_refusal_and_unblock);
	suite_add_tcase(s, tc);

	tc = tcase_create("xpw_release");
	tcase_add_test(tc, test_release);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(expressway_suite());
}
