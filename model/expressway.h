/* expressway.h: what the field notice says about Expressway apart from
 * ClusterDB mTLS (that is the policy function, ekulab/x509/policy.h): the
 * certificate upload rule of each release, and the dates of the public CA
 * policy change the notice follows.
 *
 * Pure functions and constants: no I/O, no allocation. The audit asks them
 * about a certificate and its renewals; the lab asks the upload rule before
 * it renews a node's certificate the way an administrator would (through
 * the web UI). docs/model.md says which parts are modelling choices.
 */
#ifndef EKULAB_MODEL_EXPRESSWAY_H
#define EKULAB_MODEL_EXPRESSWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekulab/x509/policy.h"
#include "model/topology.h"

/* ---- dates ---- */

#define XPW_DAY INT64_C(86400)

/* Seconds since the epoch of YYYY-MM-DD 00:00:00 UTC (proleptic
 * Gregorian; any year). */
int64_t xpw_date(int year, int month, int day);

/* "YYYY-MM-DD" (UTC) into buf. */
void xpw_date_text(int64_t t, char *buf, size_t len);

/* The timeline of the public CA policy change (the notice's dates):
 *   2026-02-11  Let's Encrypt's classic ACME profile stops adding
 *               clientAuth
 *   2026-03-15  the longest validity of a public TLS certificate drops
 *               from 398 to 200 days (100 from 2027-03-15, 47 from
 *               2029-03-15)
 *   2026-05-01  ("May 2026") public CAs stop issuing clientAuth
 *   2026-06-15  the Chrome Root Program policy (server-only roots and
 *               certificates) is fully in force */
int64_t xpw_le_classic_end(void);   /* 2026-02-11 */
int64_t xpw_public_first_cap(void); /* 2026-03-15 */
int64_t xpw_public_no_client(void); /* 2026-05-01 */
int64_t xpw_chrome_in_force(void);  /* 2026-06-15 */
/* Longest validity in days of a public TLS certificate issued at t: 398,
 * 200 from 2026-03-15, 100 from 2027-03-15, 47 from 2029-03-15. */
int xpw_public_max_days(int64_t issued);
/* The date the cap that applies at `issued` took effect (0 for 398 days). */
int64_t xpw_public_cap_since(int64_t issued);

/* ---- releases (F15) ---- */

/* The notice gives the month of each fix: X15.4 (interim) February 2026,
 * X15.5 (complete) May 2026. A month is not a day, so the model counts a
 * release as available from the first day after its month (2026-03-01
 * and 2026-06-01): no advice then names a version before it exists (a
 * modelling choice). Pre-X15.4 versions exist at any time (0). */
int64_t xpw_release(enum pol_vclass v);
/* "February 2026", "May 2026", or NULL for pre-X15.4. */
const char *xpw_release_month(enum pol_vclass v);
/* Does version class v exist at `at`? */
bool xpw_released(enum pol_vclass v, int64_t at);

/* ---- certificate purposes ---- */

/* Does a certificate with these EKU bits (POL_EKU_*) serve `purpose`
 * (POL_EKU_SERVER or POL_EKU_CLIENT), as OpenSSL's purpose check reads it?
 * Without an EKU extension a certificate serves every purpose; with one it
 * serves only what it lists (anyExtendedKeyUsage does not count, as in the
 * policy model). */
bool xpw_eku_serves(unsigned eku, unsigned purpose);

/* ---- the upload rule ---- */

/* A node that receives a certificate through its web UI. */
struct xpw_node {
	enum topo_role role;
	enum pol_vclass vclass;
	bool server_eku_upload; /* X15.4 Expressway-E: EnableServerEkuUpload */
};

enum xpw_slot { XPW_SLOT_SERVER = 0, XPW_SLOT_CLIENT };

/* Which part of the upload rule decided (accepted or refused). */
enum xpw_rule {
	XPW_RULE_SERVER_EKU = 0, /* every server slot needs serverAuth
				    (ekulab's choice) */
	XPW_RULE_PRE154,	 /* pre-X15.4: clientAuth (hard-coded) */
	XPW_RULE_X154_E,	 /* X15.4 Expressway-E: clientAuth unless
				    EnableServerEkuUpload: On */
	XPW_RULE_X154_C,	 /* X15.4 Expressway-C: combined EKU */
	XPW_RULE_X155_SERVER,	 /* X15.5 server slot: serverAuth */
	XPW_RULE_X155_CLIENT,	 /* X15.5 client slot: clientAuth */
	XPW_RULE_NO_CLIENT_SLOT, /* only X15.5 has a client slot */
};
/* "server certificate serverAuth", "pre-X15.4 upload", "X15.4
 * Expressway-E upload", "X15.4 Expressway-C upload", "X15.5 server
 * certificate upload", "X15.5 client certificate upload", "client
 * certificate slot": how every command names the rule. */
const char *xpw_rule_name(enum xpw_rule r);

struct xpw_upload {
	bool accept;
	enum xpw_rule rule;
	const char *reason; /* static text */
};

/* Would the web UI of node n accept a certificate with these EKU bits in
 * this slot? Not ClusterDB mTLS, so not the policy function's business:
 *   pre-X15.4, C or E    clientAuth required (hard-coded in the UI; copying
 *                        the file in by SCP bypasses the check)
 *   X15.4 Expressway-C   clientAuth still required (combined EKU)
 *   X15.4 Expressway-E   server-only accepted with EnableServerEkuUpload On,
 *                        else clientAuth required
 *   X15.5 server slot    server-only accepted
 *   X15.5 client slot    clientAuth required (only X15.5 has that slot)
 * Modelling choice: every server-certificate slot also requires serverAuth
 * (a "server certificate" that cannot serve is refused). Only the leaf's
 * EKU counts (the notice describes a check of the certificate, not of its
 * issuers: another modelling choice). */
void xpw_upload(const struct xpw_node *n, enum xpw_slot slot, unsigned eku,
		struct xpw_upload *out);

/* The one sentence every command prints for an upload the rule refuses
 * (audit, plan check, plan run, plan explore, lab fault renew):
 * "NODE (VERSION, Expressway-C) refuses the upload: REASON". */
void xpw_refusal_text(const char *node, const char *version,
		      const struct xpw_node *n, const struct xpw_upload *up,
		      char *buf, size_t len);

/* What would let a refused upload through, asked of xpw_upload itself,
 * in this order: EnableServerEkuUpload: On (an X15.4 Expressway-E), the
 * first later version whose rule accepts it (with its release month, and
 * whether it is out at `at`: xpw_released), a combined-EKU certificate
 * from an alternate root (when the slot takes one and the certificate is
 * not combined), and an SCP copy to /persistent/Certs, which bypasses the
 * web UI (server slot only). E.g. "X15.5 (released May 2026), a
 * combined-EKU certificate from an alternate root, or an SCP copy to
 * /persistent/Certs (bypasses the web UI)". Empty when the upload is
 * accepted. */
void xpw_unblock(const struct xpw_node *n, enum xpw_slot slot, unsigned eku,
		 int64_t at, char *buf, size_t len);

#endif
