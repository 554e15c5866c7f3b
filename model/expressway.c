/* expressway.c: Expressway's upload rule and the policy change's dates. */
#include "model/expressway.h"

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

void xpw_upload(const struct xpw_node *n, enum xpw_slot slot, unsigned eku,
		struct xpw_upload *out)
{
	bool server = xpw_eku_serves(eku, POL_EKU_SERVER);
	bool client = xpw_eku_serves(eku, POL_EKU_CLIENT);

	if (slot == XPW_SLOT_CLIENT) {
		if (n->vclass != POL_V_X155) {
			out->accept = false;
			out->reason = "only X15.5 has a separate client "
				      "certificate slot";
		} else if (client) {
			out->accept = true;
			out->reason = "X15.5 client certificate: carries "
				      "clientAuth, as its upload requires";
		} else {
			out->accept = false;
			out->reason = "X15.5 validates that a client "
				      "certificate carries clientAuth";
		}
		return;
	}
	if (!server) {
		out->accept = false;
		out->reason = "a server certificate must carry serverAuth "
			      "(ekulab's rule for every server slot)";
		return;
	}
	switch (n->vclass) {
	case POL_V_PRE154:
		out->accept = client;
		out->reason = client
				  ? "pre-X15.4 upload requires clientAuth: "
				    "present"
				  : "pre-X15.4 upload rejects a certificate "
				    "without clientAuth (hard-coded; copying "
				    "it by SCP bypasses the check)";
		return;
	case POL_V_X154:
		if (n->role == TOPO_ROLE_E && n->server_eku_upload) {
			out->accept = true;
			out->reason = "X15.4 Expressway-E with "
				      "EnableServerEkuUpload: On accepts "
				      "server-only certificates";
		} else if (n->role == TOPO_ROLE_E) {
			out->accept = client;
			out->reason =
			    client ? "X15.4 Expressway-E upload: clientAuth "
				     "present"
				   : "X15.4 Expressway-E rejects it unless "
				     "xConfiguration Certificate XCP TLS CVS "
				     "EnableServerEkuUpload: On "
				     "(--server-eku-upload)";
		} else {
			out->accept = client;
			out->reason = client
					  ? "X15.4 Expressway-C upload "
					    "requires combined EKU: present"
					  : "X15.4 Expressway-C upload still "
					    "requires combined EKU "
					    "(serverAuth+clientAuth)";
		}
		return;
	case POL_V_X155:
		out->accept = true;
		out->reason = "X15.5 server certificate: serverAuth is enough";
		return;
	}
	out->accept = false;
	out->reason = "unknown version";
}
