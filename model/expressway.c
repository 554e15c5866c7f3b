/* expressway.c: Expressway's upload rule and the policy change's dates. */
#include "model/expressway.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t xpw_date(int year, int month, int day)
{
	/* Days from the civil date (proleptic Gregorian), era-based. */
	int64_t y = year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (era * 146097 + doe - 719468) * XPW_DAY;
}

void xpw_date_text(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
}

int64_t xpw_le_classic_end(void)
{
	return xpw_date(2026, 2, 11);
}

int64_t xpw_public_first_cap(void)
{
	return xpw_date(2026, 3, 15);
}

int64_t xpw_public_no_client(void)
{
	return xpw_date(2026, 5, 1);
}

int64_t xpw_chrome_in_force(void)
{
	return xpw_date(2026, 6, 15);
}

int64_t xpw_public_cap_since(int64_t issued)
{
	if (issued >= xpw_date(2029, 3, 15))
		return xpw_date(2029, 3, 15);
	if (issued >= xpw_date(2027, 3, 15))
		return xpw_date(2027, 3, 15);
	if (issued >= xpw_public_first_cap())
		return xpw_public_first_cap();
	return 0;
}

int xpw_public_max_days(int64_t issued)
{
	if (issued >= xpw_date(2029, 3, 15))
		return 47;
	if (issued >= xpw_date(2027, 3, 15))
		return 100;
	if (issued >= xpw_public_first_cap())
		return 200;
	return 398;
}

bool xpw_eku_serves(unsigned eku, unsigned purpose)
{
	return (eku & POL_EKU_EXT) == 0 || (eku & purpose) != 0;
}

/* ---- releases ---- */

int64_t xpw_release(enum pol_vclass v)
{
	switch (v) {
	case POL_V_PRE154: return 0;
	case POL_V_X154: return xpw_date(2026, 3, 1);
	case POL_V_X155: return xpw_date(2026, 6, 1);
	}
	return 0;
}

const char *xpw_release_month(enum pol_vclass v)
{
	switch (v) {
	case POL_V_PRE154: return NULL;
	case POL_V_X154: return "February 2026";
	case POL_V_X155: return "May 2026";
	}
	return NULL;
}

bool xpw_released(enum pol_vclass v, int64_t at)
{
	return at >= xpw_release(v);
}

/* ---- the upload rule ---- */

const char *xpw_rule_name(enum xpw_rule r)
{
	switch (r) {
	case XPW_RULE_SERVER_EKU: return "server certificate serverAuth";
	case XPW_RULE_PRE154: return "pre-X15.4 upload";
	case XPW_RULE_X154_E: return "X15.4 Expressway-E upload";
	case XPW_RULE_X154_C: return "X15.4 Expressway-C upload";
	case XPW_RULE_X155_SERVER: return "X15.5 server certificate upload";
	case XPW_RULE_X155_CLIENT: return "X15.5 client certificate upload";
	case XPW_RULE_NO_CLIENT_SLOT: return "client certificate slot";
	}
	return "?";
}

static void verdict(struct xpw_upload *out, bool accept, enum xpw_rule rule,
		    const char *reason)
{
	out->accept = accept;
	out->rule = rule;
	out->reason = reason;
}

void xpw_upload(const struct xpw_node *n, enum xpw_slot slot, unsigned eku,
		struct xpw_upload *out)
{
	bool server = xpw_eku_serves(eku, POL_EKU_SERVER);
	bool client = xpw_eku_serves(eku, POL_EKU_CLIENT);

	if (slot == XPW_SLOT_CLIENT) {
		if (n->vclass != POL_V_X155)
			verdict(out, false, XPW_RULE_NO_CLIENT_SLOT,
				"only X15.5 has a separate client "
				"certificate slot");
		else if (client)
			verdict(out, true, XPW_RULE_X155_CLIENT,
				"X15.5 client certificate: carries "
				"clientAuth, as its upload requires");
		else
			verdict(out, false, XPW_RULE_X155_CLIENT,
				"X15.5 validates that a client certificate "
				"carries clientAuth");
		return;
	}
	if (!server) {
		verdict(out, false, XPW_RULE_SERVER_EKU,
			"a server certificate must carry serverAuth "
			"(ekulab's rule for every server slot)");
		return;
	}
	switch (n->vclass) {
	case POL_V_PRE154:
		verdict(out, client, XPW_RULE_PRE154,
			client ? "pre-X15.4 upload requires clientAuth: "
				 "present"
			       : "pre-X15.4 upload rejects a certificate "
				 "without clientAuth (hard-coded; copying it "
				 "by SCP bypasses the check)");
		return;
	case POL_V_X154:
		if (n->role == TOPO_ROLE_E && n->server_eku_upload)
			verdict(out, true, XPW_RULE_X154_E,
				"X15.4 Expressway-E with "
				"EnableServerEkuUpload: On accepts "
				"server-only certificates");
		else if (n->role == TOPO_ROLE_E)
			verdict(out, client, XPW_RULE_X154_E,
				client ? "X15.4 Expressway-E upload: "
					 "clientAuth present"
				       : "X15.4 Expressway-E rejects it unless "
					 "xConfiguration Certificate XCP TLS "
					 "CVS EnableServerEkuUpload: On");
		else
			verdict(out, client, XPW_RULE_X154_C,
				client ? "X15.4 Expressway-C upload requires "
					 "combined EKU: present"
				       : "X15.4 Expressway-C upload still "
					 "requires combined EKU "
					 "(serverAuth+clientAuth)");
		return;
	case POL_V_X155:
		verdict(out, true, XPW_RULE_X155_SERVER,
			"X15.5 server certificate: serverAuth is enough");
		return;
	}
	verdict(out, false, XPW_RULE_SERVER_EKU, "unknown version");
}

static const char *role_long(enum topo_role r)
{
	return r == TOPO_ROLE_E ? "Expressway-E" : "Expressway-C";
}

void xpw_refusal_text(const char *node, const char *version,
		      const struct xpw_node *n, const struct xpw_upload *up,
		      char *buf, size_t len)
{
	snprintf(buf, len, "%s (%s, %s) refuses the upload: %s", node, version,
		 role_long(n->role), up->reason);
}

#define XPW_ALTS 4

void xpw_unblock(const struct xpw_node *n, enum xpw_slot slot, unsigned eku,
		 int64_t at, char *buf, size_t len)
{
	char alts[XPW_ALTS][160];
	struct xpw_node m = *n;
	struct xpw_upload up;
	size_t k = 0, i, l;
	int v;

	if (len == 0)
		return;
	buf[0] = '\0';
	xpw_upload(n, slot, eku, &up);
	if (up.accept)
		return;
	/* The X15.4 Expressway-E setting. */
	m.server_eku_upload = true;
	if (n->role == TOPO_ROLE_E && n->vclass == POL_V_X154 &&
	    !n->server_eku_upload) {
		xpw_upload(&m, slot, eku, &up);
		if (up.accept)
			snprintf(alts[k++], sizeof(alts[0]),
				 "xConfiguration Certificate XCP TLS CVS "
				 "EnableServerEkuUpload: On (topology: "
				 "server_eku_upload: true)");
	}
	/* The first later version whose rule takes it. */
	for (v = (int)n->vclass + 1; v <= (int)POL_V_X155; v++) {
		m.vclass = (enum pol_vclass)v;
		xpw_upload(&m, slot, eku, &up);
		if (!up.accept)
			continue;
		snprintf(alts[k++], sizeof(alts[0]), "%s%s (%s %s%s)",
			 v == POL_V_X154 ? "X15.4" : "X15.5",
			 v == POL_V_X154 && n->role == TOPO_ROLE_E
			     ? " with EnableServerEkuUpload: On"
			     : "",
			 xpw_released((enum pol_vclass)v, at) ? "released"
							      : "due",
			 xpw_release_month((enum pol_vclass)v),
			 xpw_released((enum pol_vclass)v, at)
			     ? ""
			     : ", not out at the evaluation time");
		break;
	}
	/* Combined EKU, e.g. from an alternate root. */
	xpw_upload(n, slot, POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT, &up);
	if (up.accept && (!xpw_eku_serves(eku, POL_EKU_CLIENT) ||
			  !xpw_eku_serves(eku, POL_EKU_SERVER)))
		snprintf(alts[k++], sizeof(alts[0]),
			 "a combined-EKU certificate from an alternate root");
	if (slot == XPW_SLOT_SERVER)
		snprintf(alts[k++], sizeof(alts[0]),
			 "an SCP copy to /persistent/Certs (bypasses the web "
			 "UI)");
	for (i = 0; i < k; i++) {
		l = strlen(buf);
		snprintf(buf + l, len - l, "%s%s",
			 i == 0	     ? ""
			 : i + 1 < k ? ", "
			 : k > 2     ? ", or "
				     : " or ",
			 alts[i]);
	}
}
