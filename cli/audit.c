/* audit.c: `ekulab audit`: certificate inventory, rules and forecast.
 *
 * The happy path of a run: each input is a file (PEM with one or many
 * certificates, DER, PKCS#7), a directory (walked recursively) or a live
 * endpoint (HOST:PORT, the chain the server presents). Each certificate of
 * a source becomes one record: its facts (names, EKU, key, validity), its
 * chain built against the trust store (system roots, --public-ca, --ca)
 * and the class of the root that anchors it, then for every target node
 * the upload verdict (audit_upload, this file's own rule), the ClusterDB
 * verdicts (asked of the policy function), the same on a server-only
 * renewal, the timeline risks and the options of the notice's decision
 * tree.
 *
 * The failure modes: an unreadable file, garbage, a PEM block cut short,
 * a chain out of order, a private key or a request where a certificate was
 * expected, an unreachable or non-TLS endpoint. Each becomes one entry of
 * the run's errors (source and message; key material is never read past
 * its PEM label or printed) and the rest of the inputs is still audited.
 */
#include "audit.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ekulab/certinfo.h"
#include "ekulab/labmodel.h"
#include "ekulab/mem.h"

#define MAX_FILE_BYTES (16L * 1024 * 1024)
#define MAX_DIR_DEPTH  16
#define YEAR	       (365 * AUDIT_DAY)

/* ==== dates ========================================================== */

int64_t audit_date(int year, int month, int day)
{
	/* Days from the civil date (proleptic Gregorian), era-based. */
	int64_t y = year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (era * 146097 + doe - 719468) * AUDIT_DAY;
}

static void format_tm(int64_t t, const char *fmt, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, fmt, &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
}

void audit_format_date(int64_t t, char *buf, size_t len)
{
	format_tm(t, "%Y-%m-%d", buf, len);
}

void audit_format_time(int64_t t, char *buf, size_t len)
{
	format_tm(t, "%Y-%m-%dT%H:%M:%SZ", buf, len);
}

int64_t audit_le_classic_end(void)
{
	return audit_date(2026, 2, 11);
}
int64_t audit_public_no_client(void)
{
	return audit_date(2026, 5, 1);
}
int64_t audit_chrome_in_force(void)
{
	return audit_date(2026, 6, 15);
}

int64_t audit_public_cap_since(int64_t issued)
{
	if (issued >= audit_date(2029, 3, 15))
		return audit_date(2029, 3, 15);
	if (issued >= audit_date(2027, 3, 15))
		return audit_date(2027, 3, 15);
	if (issued >= audit_date(2026, 3, 15))
		return audit_date(2026, 3, 15);
	return 0;
}

int audit_public_max_days(int64_t issued)
{
	if (issued >= audit_date(2029, 3, 15))
		return 47;
	if (issued >= audit_date(2027, 3, 15))
		return 100;
	if (issued >= audit_date(2026, 3, 15))
		return 200;
	return 398;
}

/* ==== trust and roots ================================================ */

const char *audit_root_name(enum audit_root r)
{
	switch (r) {
	case AUDIT_ROOT_UNKNOWN:
		return "unknown";
	case AUDIT_ROOT_PUBLIC:
		return "public";
	case AUDIT_ROOT_PRIVATE:
		return "private";
	}
	return "?";
}

/* Every certificate of a PEM bundle into store (and into `keep` when not
 * NULL, with its own reference). */
static int add_roots(X509_STORE *store, STACK_OF(X509) *keep, const char *path,
		     const char *flag, char *err)
{
	STACK_OF(X509) *extra = NULL;
	X509 *first = NULL;
	char e[EKL_ERRLEN];
	int rc;
	int i;

	rc = certinfo_load_chain(path, &first, &extra, e);
	if (rc != 0)
		return ekl_errf(err, rc, "%s: %s", flag, e);
	/* Put the first one back in front: every certificate is a root. */
	if (!sk_X509_unshift(extra, first)) {
		X509_free(first);
		rc = ekl_errf(err, EKL_ENOMEM, "%s '%s': out of memory", flag,
			      path);
		goto out;
	}
	for (i = 0; i < sk_X509_num(extra); i++) {
		X509 *x = sk_X509_value(extra, i);

		if (X509_STORE_add_cert(store, x) != 1) {
			/* Already there (same root twice) is fine. */
			ERR_clear_error();
		}
		if (keep != NULL) {
			if (!X509_up_ref(x) || !sk_X509_push(keep, x)) {
				rc = ekl_errf(err, EKL_ENOMEM,
					      "%s '%s': out of memory", flag,
					      path);
				goto out;
			}
		}
	}
out:
	sk_X509_pop_free(extra, X509_free);
	return rc;
}

int audit_trust_init(struct audit_trust *t, bool system,
		     const char *const *public_files, size_t n_public,
		     const char *const *private_files, size_t n_private,
		     char *err)
{
	size_t i;
	int rc;

	memset(t, 0, sizeof(*t));
	t->store = X509_STORE_new();
	t->private_roots = sk_X509_new_null();
	if (t->store == NULL || t->private_roots == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "trust store: out of memory");
		goto err;
	}
	if (system && X509_STORE_set_default_paths(t->store) != 1) {
		rc = ekl_errf_ssl(err, EKL_ECRYPTO,
				  "cannot load the system trust store (is "
				  "ca-certificates installed?)");
		goto err;
	}
	for (i = 0; i < n_public; i++)
		if ((rc = add_roots(t->store, NULL, public_files[i],
				    "--public-ca", err)) != 0)
			goto err;
	for (i = 0; i < n_private; i++)
		if ((rc = add_roots(t->store, t->private_roots,
				    private_files[i], "--ca", err)) != 0)
			goto err;
	return 0;
err:
	audit_trust_free(t);
	return rc;
}

void audit_trust_free(struct audit_trust *t)
{
	if (t == NULL)
		return;
	X509_STORE_free(t->store);
	sk_X509_pop_free(t->private_roots, X509_free);
	memset(t, 0, sizeof(*t));
}

static bool is_private_root(const struct audit_trust *t, X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(t->private_roots); i++)
		if (X509_cmp(sk_X509_value(t->private_roots, i), x) == 0)
			return true;
	return false;
}

/* Does store hold this very certificate? */
static bool in_store(X509_STORE *store, X509 *x)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *same = NULL;
	bool found = false;
	int i;

	if (ctx != NULL && X509_STORE_CTX_init(ctx, store, x, NULL) == 1)
		same = X509_STORE_CTX_get1_certs(ctx, X509_get_subject_name(x));
	for (i = 0; i < sk_X509_num(same) && !found; i++)
		found = X509_cmp(sk_X509_value(same, i), x) == 0;
	sk_X509_pop_free(same, X509_free);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return found;
}

int audit_classify(const struct audit_trust *t, X509 *x, STACK_OF(X509) *extra,
		   enum audit_root *root, STACK_OF(X509) **path, char *err)
{
	STACK_OF(X509) *p = NULL;
	int rc;

	*root = AUDIT_ROOT_UNKNOWN;
	if (path != NULL)
		*path = NULL;
	rc = certinfo_path(x, extra, t->store, &p, err);
	if (rc != 0)
		return rc;
	if (p != NULL && sk_X509_num(p) > 0) {
		X509 *anchor = sk_X509_value(p, sk_X509_num(p) - 1);

		*root = is_private_root(t, anchor) ? AUDIT_ROOT_PRIVATE
						   : AUDIT_ROOT_PUBLIC;
	} else if (X509_self_signed(x, 0) == 1) {
		/* Path building can pick another root with the same subject
		 * first: a root of the store itself is public unless given
		 * with --ca; any other self-signed certificate is private. */
		*root = in_store(t->store, x) && !is_private_root(t, x)
			    ? AUDIT_ROOT_PUBLIC
			    : AUDIT_ROOT_PRIVATE;
	}
	ERR_clear_error();
	if (path != NULL)
		*path = p;
	else
		sk_X509_pop_free(p, X509_free);
	return 0;
}

/* ==== the rules ====================================================== */

/* OpenSSL's purpose semantics (behaviour.md A3), applied to an upload: a
 * certificate without an EKU extension serves every purpose; one with the
 * extension serves only what it lists (anyExtendedKeyUsage does not count,
 * as in the policy model). */
static bool serves(unsigned eku, unsigned purpose)
{
	return (eku & POL_EKU_EXT) == 0 || (eku & purpose) != 0;
}

/* The upload rule (behaviour.md A2; not ClusterDB mTLS, so not in the
 * policy function):
 *   pre-X15.4, C or E        clientAuth required (hard-coded in the UI)
 *   X15.4 Expressway-C       clientAuth still required (combined EKU)
 *   X15.4 Expressway-E       server-only accepted with EnableServerEkuUpload
 *                            On, else clientAuth required
 *   X15.5 server slot        server-only accepted
 *   X15.5 client slot        clientAuth required
 * Modelling choice: every server-certificate slot also requires serverAuth
 * (a "server certificate" that cannot serve is refused). */
void audit_upload(const struct audit_target *t, enum audit_slot slot,
		  unsigned eku, struct audit_upload *out)
{
	bool server = serves(eku, POL_EKU_SERVER);
	bool client = serves(eku, POL_EKU_CLIENT);

	if (slot == AUDIT_SLOT_CLIENT) {
		if (t->vclass != POL_V_X155) {
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
	switch (t->vclass) {
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
		if (t->role == TOPO_ROLE_E && t->server_eku_upload) {
			out->accept = true;
			out->reason = "X15.4 Expressway-E with "
				      "EnableServerEkuUpload: On accepts "
				      "server-only certificates";
		} else if (t->role == TOPO_ROLE_E) {
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

enum pol_code audit_clusterdb(const struct pol_chain *ch, enum pol_vclass peer,
			      enum pol_side owner, int64_t at, int *depth)
{
	struct pol_node node;
	struct pol_rules rules;
	enum pol_side peer_side = owner == POL_SIDE_INITIATOR
				      ? POL_SIDE_ACCEPTOR
				      : POL_SIDE_INITIATOR;

	memset(&node, 0, sizeof(node));
	node.version = peer;
	node.mode = POL_ENFORCE;
	node.client_eku_check = true;
	pol_rules(&node, peer_side, POL_SVC_CLUSTERDB, &rules);
	return pol_check_chain(&rules, ch, NULL, 0, at, depth);
}

/* The facts of a certificate with these EKU bits, valid [nb, na]. */
static struct pol_cert cert_of(unsigned eku, int64_t nb, int64_t na)
{
	struct pol_cert c;

	c.eku = eku;
	c.not_before = nb;
	c.not_after = na;
	return c;
}

static void copy_names(const struct pol_chain *from, struct pol_chain *to)
{
	to->n_dns = from->n_dns;
	to->n_ip = from->n_ip;
	memcpy(to->dns, from->dns, sizeof(to->dns));
	memcpy(to->ip, from->ip, sizeof(to->ip));
	memcpy(to->cn, from->cn, sizeof(to->cn));
}

void audit_renewed_chain(const struct pol_chain *orig, enum audit_renewal how,
			 int64_t start, struct pol_chain *out)
{
	unsigned leaf = POL_EKU_EXT | POL_EKU_SERVER;
	unsigned issuing = POL_EKU_EXT | POL_EKU_SERVER;
	int64_t days = audit_public_max_days(start);

	memset(out, 0, sizeof(*out));
	if (orig != NULL)
		copy_names(orig, out);
	switch (how) {
	case AUDIT_RENEW_SERVER_ONLY:
		break;
	case AUDIT_RENEW_ALTERNATE_ROOT:
		leaf |= POL_EKU_CLIENT;
		issuing |= POL_EKU_CLIENT;
		break;
	case AUDIT_RENEW_PRIVATE:
		leaf |= POL_EKU_CLIENT;
		issuing = 0;
		days = 365;
		break;
	}
	out->anchored = true;
	out->len = 3;
	out->certs[0] = cert_of(leaf, start, start + days * AUDIT_DAY);
	out->certs[1] = cert_of(issuing, start - YEAR, start + 10 * YEAR);
	out->certs[2] = cert_of(0, start - 10 * YEAR, start + 20 * YEAR);
}

/* Does a certificate renewed `how` at `start` pass everything on target
 * t (upload, ClusterDB both ways)? *why names the first failure. */
static bool renewal_works(const struct audit_facts *f,
			  const struct audit_target *t, enum audit_renewal how,
			  int64_t start, const char **why)
{
	struct pol_chain ch;
	struct audit_upload up;
	int depth;

	audit_renewed_chain(&f->chain, how, start, &ch);
	audit_upload(t, AUDIT_SLOT_SERVER, ch.certs[0].eku, &up);
	if (!up.accept) {
		*why = up.reason;
		return false;
	}
	if (audit_clusterdb(&ch, t->vclass, POL_SIDE_INITIATOR, start,
			    &depth) != POL_OK) {
		*why = "ClusterDB peers in Enforce reject it when it initiates";
		return false;
	}
	if (audit_clusterdb(&ch, t->vclass, POL_SIDE_ACCEPTOR, start, &depth) !=
	    POL_OK) {
		*why = "ClusterDB peers in Enforce reject it when it accepts";
		return false;
	}
	*why = NULL;
	return true;
}

static int64_t renewal_date(const struct audit_facts *f, int64_t at)
{
	return f->not_after > at ? f->not_after : at;
}

void audit_evaluate_target(const struct audit_facts *f,
			   const struct audit_target *t, int64_t at,
			   struct audit_target_result *out)
{
	struct pol_chain renewed;
	int64_t r = renewal_date(f, at);
	int depth;

	memset(out, 0, sizeof(*out));
	out->target = *t;
	audit_upload(t, AUDIT_SLOT_SERVER, f->eku, &out->upload);
	if (t->vclass == POL_V_X155) {
		out->has_client_slot = true;
		audit_upload(t, AUDIT_SLOT_CLIENT, f->eku, &out->upload_client);
	}
	out->as_client =
	    audit_clusterdb(&f->chain, t->vclass, POL_SIDE_INITIATOR, at,
			    &out->as_client_depth);
	out->as_server = audit_clusterdb(
	    &f->chain, t->vclass, POL_SIDE_ACCEPTOR, at, &out->as_server_depth);

	audit_renewed_chain(&f->chain, AUDIT_RENEW_SERVER_ONLY, r, &renewed);
	audit_upload(t, AUDIT_SLOT_SERVER, renewed.certs[0].eku,
		     &out->renewed_upload);
	out->renewed_as_client =
	    audit_clusterdb(&renewed, t->vclass, POL_SIDE_INITIATOR, r, &depth);
	out->renewed_as_server =
	    audit_clusterdb(&renewed, t->vclass, POL_SIDE_ACCEPTOR, r, &depth);
	out->breaks_when_renewed = !out->renewed_upload.accept ||
				   out->renewed_as_client != POL_OK ||
				   out->renewed_as_server != POL_OK;
}

const char *audit_risk_name(enum audit_risk_code c)
{
	switch (c) {
	case AUDIT_RISK_LE_CLASSIC:
		return "lets-encrypt-classic";
	case AUDIT_RISK_NO_CLIENT_AUTH:
		return "public-no-client-auth";
	case AUDIT_RISK_VALIDITY_CAP:
		return "validity-cap";
	case AUDIT_RISK_CHROME:
		return "chrome-policy";
	}
	return "?";
}

static size_t add_risk(struct audit_risk *out, size_t n, size_t max,
		       enum audit_risk_code code, int64_t date, const char *fmt,
		       ...) __attribute__((format(printf, 6, 7)));

static size_t add_risk(struct audit_risk *out, size_t n, size_t max,
		       enum audit_risk_code code, int64_t date, const char *fmt,
		       ...)
{
	va_list ap;

	if (n >= max)
		return n;
	out[n].code = code;
	out[n].date = date;
	va_start(ap, fmt);
	vsnprintf(out[n].text, sizeof(out[n].text), fmt, ap);
	va_end(ap);
	return n + 1;
}

/* Timeline risks (behaviour.md A1), for a public end-entity certificate
 * renewed at R = max(notAfter, at):
 *   lets-encrypt-classic   issued by Let's Encrypt with clientAuth and
 *                          R >= 2026-02-11: the classic profile drops it
 *   public-no-client-auth  clientAuth and R >= 2026-05-01: public CAs
 *                          issue no clientAuth any more
 *   validity-cap           R >= 2026-03-15: the renewal lasts at most
 *                          200/100/47 days
 *   chrome-policy          lists clientAuth and is valid on or after
 *                          2026-06-15, when Chrome's policy is in force */
size_t audit_risks(const struct audit_facts *f, int64_t at,
		   struct audit_risk *out, size_t max)
{
	int64_t r = renewal_date(f, at);
	bool client = serves(f->eku, POL_EKU_CLIENT);
	char rd[16], d[16], na[16];
	size_t n = 0;

	if (f->root != AUDIT_ROOT_PUBLIC || f->ca)
		return 0;
	audit_format_date(r, rd, sizeof(rd));
	audit_format_date(f->not_after, na, sizeof(na));
	if (f->lets_encrypt && client && r >= audit_le_classic_end())
		n = add_risk(out, n, max, AUDIT_RISK_LE_CLASSIC,
			     audit_le_classic_end(),
			     "renewed by Let's Encrypt's classic ACME profile "
			     "(due %s), it will carry no clientAuth: the "
			     "profile drops it from 2026-02-11",
			     rd);
	if (client && r >= audit_public_no_client())
		n = add_risk(out, n, max, AUDIT_RISK_NO_CLIENT_AUTH,
			     audit_public_no_client(),
			     "public CAs issue no clientAuth from May 2026: "
			     "its renewal (due %s) will be server-only",
			     rd);
	if (audit_public_cap_since(r) != 0) {
		audit_format_date(audit_public_cap_since(r), d, sizeof(d));
		n = add_risk(out, n, max, AUDIT_RISK_VALIDITY_CAP,
			     audit_public_cap_since(r),
			     "its renewal (due %s) will last at most %d days "
			     "(public TLS certificates: 200 days from "
			     "2026-03-15, 100 from 2027-03-15, 47 from "
			     "2029-03-15; this cap since %s)",
			     rd, audit_public_max_days(r), d);
	}
	if ((f->eku & POL_EKU_CLIENT) != 0 &&
	    f->not_after >= audit_chrome_in_force())
		n = add_risk(out, n, max, AUDIT_RISK_CHROME,
			     audit_chrome_in_force(),
			     "Chrome Root Program policy in force from "
			     "2026-06-15: public certificates with clientAuth "
			     "may no longer be trusted by Chrome, and this one "
			     "is valid until %s",
			     na);
	return n;
}

const char *audit_opt_name(enum audit_opt o)
{
	switch (o) {
	case AUDIT_OPT_NO_ACTION:
		return "no-action";
	case AUDIT_OPT_CLASSIFY:
		return "classify-root";
	case AUDIT_OPT_MONITOR:
		return "monitor";
	case AUDIT_OPT_ALTERNATE_ROOT:
		return "alternate-root";
	case AUDIT_OPT_RENEW_EARLY:
		return "renew-before-deadline";
	case AUDIT_OPT_PRIVATE_PKI:
		return "private-pki";
	case AUDIT_OPT_UPGRADE_X154:
		return "upgrade-x15.4";
	case AUDIT_OPT_UPGRADE_X155:
		return "upgrade-x15.5";
	case AUDIT_OPT_PERMISSIVE:
		return "permissive";
	}
	return "?";
}

static size_t add_option(struct audit_option *out, size_t n, size_t max,
			 enum audit_opt code, int64_t before, const char *fmt,
			 ...) __attribute__((format(printf, 6, 7)));

static size_t add_option(struct audit_option *out, size_t n, size_t max,
			 enum audit_opt code, int64_t before, const char *fmt,
			 ...)
{
	va_list ap;

	if (n >= max)
		return n;
	out[n].code = code;
	out[n].before = before;
	va_start(ap, fmt);
	vsnprintf(out[n].text, sizeof(out[n].text), fmt, ap);
	va_end(ap);
	return n + 1;
}

/* Does renewing `how` keep every breaking target working (every target
 * when none breaks; only role-C targets when c_only)? */
static bool fixes_all(const struct audit_facts *f,
		      const struct audit_target_result *tr, size_t n,
		      enum audit_renewal how, bool c_only, int64_t at)
{
	const char *why;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!tr[i].breaks_when_renewed)
			continue;
		if (c_only && tr[i].target.role != TOPO_ROLE_C)
			continue;
		if (!renewal_works(f, &tr[i].target, how, renewal_date(f, at),
				   &why))
			return false;
	}
	return true;
}

/* The lowest version class from which a server-only renewal works on
 * every breaking target (X15.4 Expressway-E with EnableServerEkuUpload
 * On), or -1 when none does. *why154 says why X15.4 is not enough. */
static int upgrade_needed(const struct audit_facts *f,
			  const struct audit_target_result *tr, size_t n,
			  int64_t at, const char **why154)
{
	int need = POL_V_PRE154;
	const char *why;
	size_t i;

	*why154 = NULL;
	for (i = 0; i < n; i++) {
		struct audit_target t = tr[i].target;
		int v;

		if (!tr[i].breaks_when_renewed)
			continue;
		for (v = (int)t.vclass; v <= POL_V_X155; v++) {
			t.vclass = (enum pol_vclass)v;
			t.server_eku_upload = true;
			if (renewal_works(f, &t, AUDIT_RENEW_SERVER_ONLY,
					  renewal_date(f, at), &why))
				break;
			if (v == POL_V_X154 && *why154 == NULL)
				*why154 = why;
		}
		if (v > POL_V_X155)
			return -1;
		if (v > need)
			need = v;
	}
	return need;
}

size_t audit_options(const struct audit_facts *f,
		     const struct audit_target_result *tr, size_t n_targets,
		     int64_t at, struct audit_option *out, size_t max)
{
	bool breaking = false;
	bool any_c = n_targets == 0;
	const char *why154 = NULL;
	char d[16];
	size_t n = 0;
	size_t i;
	int need;

	if (f->ca)
		return 0;
	if (f->root == AUDIT_ROOT_PRIVATE)
		return add_option(out, n, max, AUDIT_OPT_NO_ACTION, 0,
				  "private PKI or self-signed: not affected by "
				  "the public CA policy; keep issuing combined "
				  "EKU (serverAuth+clientAuth) from it");
	if (f->root == AUDIT_ROOT_UNKNOWN)
		return add_option(out, n, max, AUDIT_OPT_CLASSIFY, 0,
				  "the chain does not reach a known root: put "
				  "the issuing chain in the file, or give the "
				  "private root with --ca, to tell whether the "
				  "public CA policy applies");
	for (i = 0; i < n_targets; i++) {
		breaking |= tr[i].breaks_when_renewed;
		any_c |= tr[i].target.role == TOPO_ROLE_C;
	}
	if (n_targets > 0 && !breaking)
		return add_option(out, n, max, AUDIT_OPT_MONITOR, 0,
				  "a server-only renewal keeps every target "
				  "working: minimal impact; monitor future "
				  "changes");

	/* A: combined EKU from an alternate root. */
	if (fixes_all(f, tr, n_targets, AUDIT_RENEW_ALTERNATE_ROOT, false, at))
		n = add_option(out, n, max, AUDIT_OPT_ALTERNATE_ROOT, 0,
			       "Option A: ask the CA for combined EKU from an "
			       "alternate root not in Chrome's store "
			       "(IdenTrust Public Sector Root CA 1, DigiCert "
			       "Assured ID Root G2) and make every peer trust "
			       "that root; no immediate upgrade needed");
	/* B: renew before a deadline, while combined EKU is still issued. */
	if (f->lets_encrypt && at < audit_le_classic_end()) {
		n = add_option(out, n, max, AUDIT_OPT_RENEW_EARLY,
			       audit_le_classic_end(),
			       "Option B: renew before 2026-02-11, as close to "
			       "it as possible, then disable the ACME "
			       "scheduler so that no server-only certificate "
			       "replaces it; buys time until it expires");
	} else if (!f->lets_encrypt && at < audit_public_no_client()) {
		int64_t before = at < audit_date(2026, 3, 15)
				     ? audit_date(2026, 3, 15)
				     : audit_public_no_client();

		audit_format_date(before, d, sizeof(d));
		n = add_option(out, n, max, AUDIT_OPT_RENEW_EARLY, before,
			       "Option B: renew with combined EKU before %s "
			       "(%s); buys time until that certificate "
			       "expires",
			       d,
			       before == audit_date(2026, 3, 15)
				   ? "the last day for 398-day validity"
				   : "public CAs stop issuing clientAuth in "
				     "May 2026");
	}
	/* C: private PKI, Expressway-C only. */
	if (any_c && fixes_all(f, tr, n_targets, AUDIT_RENEW_PRIVATE, true, at))
		n = add_option(out, n, max, AUDIT_OPT_PRIVATE_PKI, 0,
			       "Option C: move Expressway-C to a private PKI "
			       "issuing combined EKU and give its root to "
			       "every peer; not for Expressway-E, which needs "
			       "a public certificate");
	/* D: upgrade. */
	if (n_targets == 0) {
		n = add_option(out, n, max, AUDIT_OPT_UPGRADE_X154, 0,
			       "Option D: urgent need: upgrade to X15.4 "
			       "(ClusterDB skips the clientAuth check; "
			       "Expressway-E accepts server-only uploads with "
			       "EnableServerEkuUpload: On)");
		n = add_option(out, n, max, AUDIT_OPT_UPGRADE_X155, 0,
			       "Option D: complete fix: upgrade to X15.5 "
			       "(separate server and client certificates); "
			       "Expressway-C and -E on the same version");
		return n;
	}
	need = upgrade_needed(f, tr, n_targets, at, &why154);
	if (need == POL_V_X154)
		n = add_option(
		    out, n, max, AUDIT_OPT_UPGRADE_X154, 0,
		    "Option D: upgrade to X15.4 (ClusterDB skips "
		    "the clientAuth check; Expressway-E accepts "
		    "server-only uploads with EnableServerEkuUpload: "
		    "On), then X15.5 for the complete fix; "
		    "Expressway-C and -E on the same version");
	else if (need == POL_V_X155)
		n = add_option(
		    out, n, max, AUDIT_OPT_UPGRADE_X155, 0,
		    "Option D: upgrade to X15.5 (separate server and "
		    "client certificates); X15.4 is not enough: %s",
		    why154 != NULL ? why154 : "see the targets");
	return n;
}

/* ==== small helpers ================================================== */

static int strv_push(struct audit_strv *v, const char *s)
{
	char **nv = ekl_realloc(v->v, (v->n + 1) * sizeof(*nv));

	if (nv == NULL)
		return EKL_ENOMEM;
	v->v = nv;
	v->v[v->n] = ekl_strdup(s);
	if (v->v[v->n] == NULL)
		return EKL_ENOMEM;
	v->n++;
	return 0;
}

static void strv_free(struct audit_strv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		ekl_free(v->v[i]);
	ekl_free(v->v);
	v->v = NULL;
	v->n = 0;
}

/* Replace what is not printable UTF-8 with '?', in place. */
static void clean_utf8(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p != '\0') {
		int len = 0;
		int k;

		if (*p < 0x20 || *p == 0x7f) {
			*p++ = '?';
			continue;
		}
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0)
			len = 2;
		else if ((*p & 0xf0) == 0xe0)
			len = 3;
		else if ((*p & 0xf8) == 0xf0)
			len = 4;
		for (k = 1; k < len; k++)
			if ((p[k] & 0xc0) != 0x80)
				break;
		if (len == 0 || k < len) {
			*p++ = '?';
			continue;
		}
		p += len;
	}
}

static void add_error(struct audit_run *r, const char *source, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

static void add_error(struct audit_run *r, const char *source, const char *fmt,
		      ...)
{
	struct audit_error *e;
	va_list ap;

	if (r->n_errors == r->cap_errors) {
		size_t cap = r->cap_errors ? r->cap_errors * 2 : 16;
		struct audit_error *ne =
		    ekl_realloc(r->errors, cap * sizeof(*ne));

		if (ne == NULL) {
			r->oom = true;
			return;
		}
		r->errors = ne;
		r->cap_errors = cap;
	}
	e = &r->errors[r->n_errors++];
	snprintf(e->source, sizeof(e->source), "%s", source);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	clean_utf8(e->source);
	clean_utf8(e->message);
}

/* The most specific OpenSSL reason queued, then the queue cleared. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e;

	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		const char *r = ERR_reason_error_string(e);

		snprintf(buf, len, "%s", r != NULL ? r : "unknown error");
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "no detail");
	return buf;
}

/* ==== one certificate ================================================ */

static void name_text(const X509_NAME *name, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = 0;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0)
		n = BIO_read(b, out, (int)len - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(b);
	clean_utf8(out);
}

static int64_t asn1_epoch(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static bool issued_by_lets_encrypt(X509 *x)
{
	X509_NAME *iss = X509_get_issuer_name(x);
	int i = -1;

	while ((i = X509_NAME_get_index_by_NID(iss, NID_organizationName, i)) >=
	       0) {
		ASN1_STRING *s =
		    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(iss, i));
		const char *le = "Let's Encrypt";

		if (ASN1_STRING_length(s) == (int)strlen(le) &&
		    memcmp(ASN1_STRING_get0_data(s), le, strlen(le)) == 0)
			return true;
	}
	return false;
}

static int sans_of(X509 *x, struct audit_strv *out)
{
	GENERAL_NAMES *gens =
	    X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char buf[POL_NAME_LEN + 16];
	int rc = 0;
	int i;

	for (i = 0; i < sk_GENERAL_NAME_num(gens) && rc == 0; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s = NULL;
		const char *prefix = NULL;

		switch (g->type) {
		case GEN_DNS:
			prefix = "DNS";
			s = g->d.dNSName;
			break;
		case GEN_EMAIL:
			prefix = "email";
			s = g->d.rfc822Name;
			break;
		case GEN_URI:
			prefix = "URI";
			s = g->d.uniformResourceIdentifier;
			break;
		case GEN_IPADD:
			prefix = "IP";
			break;
		default:
			prefix = "other";
			break;
		}
		if (g->type == GEN_IPADD) {
			const unsigned char *d =
			    ASN1_STRING_get0_data(g->d.iPAddress);
			int n = ASN1_STRING_length(g->d.iPAddress);
			char ip[64] = "?";

			if (n == 4 || n == 16)
				inet_ntop(n == 4 ? AF_INET : AF_INET6, d, ip,
					  sizeof(ip));
			snprintf(buf, sizeof(buf), "IP:%s", ip);
		} else if (s != NULL) {
			int n = ASN1_STRING_length(s);

			if (n > POL_NAME_LEN)
				n = POL_NAME_LEN;
			snprintf(buf, sizeof(buf), "%s:%.*s", prefix, n,
				 (const char *)ASN1_STRING_get0_data(s));
		} else {
			snprintf(buf, sizeof(buf), "%s", prefix);
		}
		clean_utf8(buf);
		rc = strv_push(out, buf);
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	return rc;
}

static int eku_names(X509 *x, struct audit_cert *c)
{
	EXTENDED_KEY_USAGE *eku;
	char buf[96];
	int crit = -1;
	int rc = 0;
	int i;

	eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	c->has_eku = eku != NULL || crit != -1;
	for (i = 0; i < sk_ASN1_OBJECT_num(eku) && rc == 0; i++) {
		ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
		int nid = OBJ_obj2nid(o);

		if (nid != NID_undef)
			snprintf(buf, sizeof(buf), "%s", OBJ_nid2sn(nid));
		else if (OBJ_obj2txt(buf, sizeof(buf), o, 1) <= 0)
			snprintf(buf, sizeof(buf), "?");
		rc = strv_push(&c->eku, buf);
	}
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	ERR_clear_error();
	return rc;
}

static void key_info(X509 *x, struct audit_cert *c)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	char group[64];
	size_t glen = 0;
	const char *name;
	int id;

	snprintf(c->key_type, sizeof(c->key_type), "unknown");
	if (pk == NULL) {
		ERR_clear_error();
		return;
	}
	id = EVP_PKEY_get_base_id(pk);
	switch (id) {
	case EVP_PKEY_RSA:
		name = "RSA";
		break;
	case EVP_PKEY_RSA_PSS:
		name = "RSA-PSS";
		break;
	case EVP_PKEY_EC:
		name = "EC";
		break;
	case EVP_PKEY_ED25519:
		name = "Ed25519";
		break;
	case EVP_PKEY_ED448:
		name = "Ed448";
		break;
	case EVP_PKEY_DSA:
		name = "DSA";
		break;
	default:
		name = OBJ_nid2sn(id);
	}
	snprintf(c->key_type, sizeof(c->key_type), "%s",
		 name != NULL ? name : "unknown");
	c->key_bits = EVP_PKEY_get_bits(pk);
	if (id == EVP_PKEY_EC &&
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
					   group, sizeof(group), &glen) == 1) {
		const char *nist = EC_curve_nid2nist(OBJ_sn2nid(group));

		snprintf(c->key_curve, sizeof(c->key_curve), "%.31s",
			 nist != NULL ? nist : group);
	}
	ERR_clear_error();
}

static void digest_info(X509 *x, struct audit_cert *c)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	unsigned int i;
	size_t off;
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(c->serial, sizeof(c->serial), "%s", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
	c->sha256[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &n) == 1)
		for (i = 0, off = 0; i < n && off + 4 <= sizeof(c->sha256); i++)
			off += (size_t)snprintf(c->sha256 + off,
						sizeof(c->sha256) - off,
						"%s%02X", i ? ":" : "", md[i]);
	ERR_clear_error();
}

/* The issuer of x among `pool`, not already in `used`, or NULL. */
static X509 *issuer_in(X509 *x, STACK_OF(X509) *pool, X509 **used, int n_used)
{
	int i;
	int k;

	if (X509_self_signed(x, 0) == 1)
		return NULL;
	for (i = 0; i < sk_X509_num(pool); i++) {
		X509 *cand = sk_X509_value(pool, i);

		for (k = 0; k < n_used; k++)
			if (used[k] == cand)
				break;
		if (k == n_used && X509_check_issued(cand, x) == X509_V_OK)
			return cand;
	}
	return NULL;
}

static int chain_subjects(X509 *x, STACK_OF(X509) *extra,
			  STACK_OF(X509) *path, struct audit_cert *c)
{
	X509 *used[POL_MAX_CHAIN];
	char buf[512];
	int n = 0;
	int rc = 0;
	int i;

	if (path != NULL) {
		for (i = 0; i < sk_X509_num(path) && rc == 0; i++) {
			name_text(X509_get_subject_name(sk_X509_value(path, i)),
				  buf, sizeof(buf));
			rc = strv_push(&c->chain, buf);
		}
		return rc;
	}
	/* Not anchored: what the source itself links, leaf first. */
	while (x != NULL && n < POL_MAX_CHAIN && rc == 0) {
		used[n++] = x;
		name_text(X509_get_subject_name(x), buf, sizeof(buf));
		rc = strv_push(&c->chain, buf);
		x = issuer_in(x, extra, used, n);
	}
	return rc;
}

static void add_finding(struct audit_cert *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_finding(struct audit_cert *c, const char *fmt, ...)
{
	va_list ap;

	if (c->n_findings >= AUDIT_MAX_FINDINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(c->findings[c->n_findings], sizeof(c->findings[0]), fmt, ap);
	va_end(ap);
	c->n_findings++;
}

/* Findings (the exit status): the certificate is expired or not yet
 * valid; for an end-entity certificate, any target rejects it (upload or
 * ClusterDB either way) or a timeline risk applies. */
static void findings_of(struct audit_cert *c)
{
	size_t i;

	if (c->validity != POL_OK)
		add_finding(c, "%s", pol_code_name(c->validity));
	if (c->f.ca)
		return;
	for (i = 0; i < c->n_targets; i++) {
		const struct audit_target_result *t = &c->targets[i];
		const char *r = topo_role_name(t->target.role);

		if (!t->upload.accept)
			add_finding(c, "upload:%s/%s", r, t->target.version);
		if (t->as_client != POL_OK)
			add_finding(c, "clusterdb_as_client:%s/%s:%s", r,
				    t->target.version,
				    pol_code_name(t->as_client));
		if (t->as_server != POL_OK)
			add_finding(c, "clusterdb_as_server:%s/%s:%s", r,
				    t->target.version,
				    pol_code_name(t->as_server));
	}
	for (i = 0; i < c->n_risks; i++)
		add_finding(c, "risk:%s", audit_risk_name(c->risks[i].code));
}

static struct audit_cert *new_cert(struct audit_run *r)
{
	struct audit_cert *c;

	if (r->n_certs == r->cap_certs) {
		size_t cap = r->cap_certs ? r->cap_certs * 2 : 8;
		struct audit_cert *nc =
		    ekl_realloc(r->certs, cap * sizeof(*nc));

		if (nc == NULL) {
			r->oom = true;
			return NULL;
		}
		r->certs = nc;
		r->cap_certs = cap;
	}
	c = &r->certs[r->n_certs++];
	memset(c, 0, sizeof(*c));
	return c;
}

static void analyse(struct audit_run *r, const struct audit_opts *o,
		    const char *source, int index, X509 *x,
		    STACK_OF(X509) *others)
{
	STACK_OF(X509) *path = NULL;
	char err[EKL_ERRLEN] = "";
	struct audit_cert *c;
	size_t i;
	int rc;

	c = new_cert(r);
	if (c == NULL)
		return;
	snprintf(c->source, sizeof(c->source), "%s", source);
	clean_utf8(c->source);
	c->index = index;
	name_text(X509_get_subject_name(x), c->subject, sizeof(c->subject));
	name_text(X509_get_issuer_name(x), c->issuer, sizeof(c->issuer));
	digest_info(x, c);
	key_info(x, c);
	c->self_signed = X509_self_signed(x, 0) == 1;
	c->f.ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
	c->f.lets_encrypt = issued_by_lets_encrypt(x);
	c->f.eku = certinfo_eku(x);
	c->f.not_before = asn1_epoch(X509_get0_notBefore(x));
	c->f.not_after = asn1_epoch(X509_get0_notAfter(x));
	if (sans_of(x, &c->sans) != 0 || eku_names(x, c) != 0) {
		r->oom = true;
		return;
	}

	rc = audit_classify(o->trust, x, others, &c->f.root, &path, err);
	if (rc == 0)
		rc = certinfo_chain(x, others, o->trust->store, &c->f.chain,
				    err);
	if (rc != 0) {
		add_error(r, source, "certificate #%d: %s", index, err);
		sk_X509_pop_free(path, X509_free);
		r->n_certs--;
		strv_free(&c->sans);
		strv_free(&c->eku);
		return;
	}
	if (chain_subjects(x, others, path, c) != 0)
		r->oom = true;
	if (path != NULL)
		name_text(X509_get_subject_name(
			      sk_X509_value(path, sk_X509_num(path) - 1)),
			  c->root_subject, sizeof(c->root_subject));
	else if (c->self_signed)
		snprintf(c->root_subject, sizeof(c->root_subject), "%s",
			 c->subject);
	sk_X509_pop_free(path, X509_free);

	if (o->at < c->f.not_before)
		c->validity = POL_NOT_YET_VALID;
	else if (o->at > c->f.not_after)
		c->validity = POL_EXPIRED;
	else
		c->validity = POL_OK;
	/* Floor division: a certificate that expired an hour ago has -1. */
	c->days_left = (c->f.not_after - o->at) / AUDIT_DAY;
	if (c->f.not_after < o->at && (c->f.not_after - o->at) % AUDIT_DAY)
		c->days_left--;

	for (i = 0; i < o->n_targets && i < AUDIT_MAX_TARGETS; i++)
		audit_evaluate_target(&c->f, &o->targets[i], o->at,
				      &c->targets[i]);
	c->n_targets = i;
	c->n_risks = audit_risks(&c->f, o->at, c->risks, AUDIT_MAX_RISKS);
	c->n_options = audit_options(&c->f, c->targets, c->n_targets, o->at,
				     c->options, AUDIT_MAX_OPTIONS);
	findings_of(c);
}

/* ==== sources ======================================================== */

/* A bundle whose certificates form one issuance path (each issued by the
 * next one found in the bundle) must list it leaf first, then each
 * issuer. Bundles of unrelated certificates are not checked. Returns
 * false and describes the order found when it is wrong. */
static bool order_ok(STACK_OF(X509) *certs, char *msg, size_t len)
{
	int n = sk_X509_num(certs);
	int issuer[64];
	int issues[64];
	int bottom = -1;
	int edges = 0;
	int pos;
	int i, j;
	size_t off;

	if (n < 2 || n > 64)
		return true;
	for (i = 0; i < n; i++) {
		issuer[i] = -1;
		issues[i] = 0;
	}
	for (i = 0; i < n; i++) {
		X509 *x = sk_X509_value(certs, i);

		if (X509_self_signed(x, 0) == 1)
			continue;
		for (j = 0; j < n; j++) {
			if (j != i && X509_check_issued(sk_X509_value(certs, j),
							x) == X509_V_OK) {
				issuer[i] = j;
				issues[j]++;
				edges++;
				break;
			}
		}
	}
	ERR_clear_error();
	/* One path through every certificate: n-1 links, nobody issues
	 * two of them, exactly one issues none (the leaf). */
	if (edges != n - 1)
		return true;
	for (i = 0; i < n; i++) {
		if (issues[i] > 1)
			return true;
		if (issues[i] == 0) {
			if (bottom >= 0)
				return true;
			bottom = i;
		}
	}
	if (bottom < 0)
		return true;
	for (i = bottom, pos = 0; i >= 0 && pos < n; i = issuer[i], pos++)
		if (i != pos)
			break;
	if (i < 0 || pos == n)
		return true;
	off = (size_t)snprintf(msg, len, "the chain is out of order: it runs ");
	for (i = bottom, pos = 0; i >= 0 && pos < n && off < len;
	     i = issuer[i], pos++)
		off += (size_t)snprintf(msg + off, len - off, "%s#%d",
					pos ? " -> " : "", i);
	if (off < len)
		snprintf(msg + off, len - off,
			 " (leaf first); list the leaf first, then each "
			 "issuer in turn");
	return false;
}

static void audit_source(struct audit_run *r, const struct audit_opts *o,
			 const char *source, STACK_OF(X509) *certs,
			 bool ordered)
{
	STACK_OF(X509) *others;
	char msg[EKL_ERRLEN];
	int i, j;

	if (ordered && !order_ok(certs, msg, sizeof(msg)))
		add_error(r, source, "%s", msg);
	for (i = 0; i < sk_X509_num(certs); i++) {
		others = sk_X509_new_null();
		if (others == NULL) {
			r->oom = true;
			return;
		}
		for (j = 0; j < sk_X509_num(certs); j++)
			if (j != i &&
			    !sk_X509_push(others, sk_X509_value(certs, j)))
				r->oom = true;
		analyse(r, o, source, i, sk_X509_value(certs, i), others);
		sk_X509_free(others); /* the certificates belong to certs */
	}
}

/* The certificates of a PKCS#7 SignedData (up-referenced into out). */
static bool p7_certs(PKCS7 *p7, STACK_OF(X509) *out)
{
	STACK_OF(X509) *certs = NULL;
	int i;

	switch (OBJ_obj2nid(p7->type)) {
	case NID_pkcs7_signed:
		if (p7->d.sign != NULL)
			certs = p7->d.sign->cert;
		break;
	case NID_pkcs7_signedAndEnveloped:
		if (p7->d.signed_and_enveloped != NULL)
			certs = p7->d.signed_and_enveloped->cert;
		break;
	}
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (!X509_up_ref(x))
			return false;
		if (!sk_X509_push(out, x)) {
			X509_free(x);
			return false;
		}
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s);
	size_t k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Every PEM block of a file. Certificates go to certs (in order); PKCS#7
 * bundles add theirs and make the order meaningless (*ordered false);
 * anything else is an error naming the block and its label, never its
 * content. Stops at the first corrupt block. */
static void read_pem(struct audit_run *r, const char *path,
		     const unsigned char *data, long len,
		     STACK_OF(X509) *certs, bool *ordered)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	char why[256];
	int block;

	if (bio == NULL) {
		r->oom = true;
		return;
	}
	for (block = 1;; block++) {
		char *name = NULL;
		char *header = NULL;
		unsigned char *der = NULL;
		const unsigned char *p;
		long n = 0;
		unsigned long e;

		ERR_clear_error();
		if (!PEM_read_bio(bio, &name, &header, &der, &n)) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) != ERR_LIB_PEM ||
			    ERR_GET_REASON(e) != PEM_R_NO_START_LINE ||
			    block == 1)
				add_error(
				    r, path,
				    "PEM block %d is cut short or corrupt "
				    "(%s); re-export the file",
				    block, ssl_reason(why, sizeof(why)));
			ERR_clear_error();
			break;
		}
		p = der;
		if (strcmp(name, "CERTIFICATE") == 0 ||
		    strcmp(name, "X509 CERTIFICATE") == 0 ||
		    strcmp(name, "TRUSTED CERTIFICATE") == 0) {
			X509 *x = strcmp(name, "TRUSTED CERTIFICATE") == 0
				      ? d2i_X509_AUX(NULL, &p, n)
				      : d2i_X509(NULL, &p, n);

			if (x == NULL || p != der + n) {
				add_error(r, path,
					  "PEM block %d (%s) is not a valid "
					  "certificate (%s); re-export it",
					  block, name,
					  ssl_reason(why, sizeof(why)));
				X509_free(x);
			} else if (!sk_X509_push(certs, x)) {
				X509_free(x);
				r->oom = true;
			}
		} else if (strcmp(name, "PKCS7") == 0) {
			PKCS7 *p7 = d2i_PKCS7(NULL, &p, n);
			int before = sk_X509_num(certs);

			*ordered = false;
			if (p7 == NULL)
				add_error(r, path,
					  "PEM block %d (PKCS7) is not a valid "
					  "PKCS#7 bundle (%s)",
					  block, ssl_reason(why, sizeof(why)));
			else if (!p7_certs(p7, certs))
				r->oom = true;
			else if (sk_X509_num(certs) == before)
				add_error(r, path,
					  "PEM block %d (PKCS7) holds no "
					  "certificate",
					  block);
			PKCS7_free(p7);
		} else if (ends_with(name, "PRIVATE KEY")) {
			add_error(r, path,
				  "PEM block %d is a private key (%s), not a "
				  "certificate; ekulab neither reads nor "
				  "prints key material: give the certificate "
				  "file instead",
				  block, name);
		} else if (strstr(name, "CERTIFICATE REQUEST") != NULL) {
			add_error(r, path,
				  "PEM block %d is a certificate request, not "
				  "a certificate; audit the certificate the CA "
				  "issued",
				  block);
		} else {
			char label[64];

			snprintf(label, sizeof(label), "%s", name);
			clean_utf8(label);
			add_error(r, path,
				  "PEM block %d (%s) is not a certificate",
				  block, label);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(der, (size_t)n);
	}
	BIO_free(bio);
}

/* A binary file: DER certificate, DER PKCS#7, else an error (a DER
 * private key is recognised and named, never printed). */
static void read_der(struct audit_run *r, const char *path,
		     const unsigned char *data, long len,
		     STACK_OF(X509) *certs, bool *ordered)
{
	const unsigned char *p = data;
	X509 *x;
	PKCS7 *p7;
	EVP_PKEY *key;

	x = d2i_X509(NULL, &p, len);
	if (x != NULL && p == data + len) {
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			r->oom = true;
		}
		return;
	}
	X509_free(x);
	p = data;
	p7 = d2i_PKCS7(NULL, &p, len);
	if (p7 != NULL && p == data + len) {
		*ordered = false;
		if (!p7_certs(p7, certs))
			r->oom = true;
		else if (sk_X509_num(certs) == 0)
			add_error(r, path,
				  "a PKCS#7 bundle that holds no certificate");
		PKCS7_free(p7);
		ERR_clear_error();
		return;
	}
	PKCS7_free(p7);
	p = data;
	key = d2i_AutoPrivateKey(NULL, &p, len);
	ERR_clear_error();
	if (key != NULL) {
		EVP_PKEY_free(key);
		add_error(r, path,
			  "a DER private key, not a certificate; ekulab "
			  "neither reads nor prints key material: give the "
			  "certificate file instead");
		return;
	}
	add_error(r, path,
		  "not a certificate: no PEM block, and not a DER X.509 "
		  "certificate or PKCS#7 bundle");
}

/* The whole file into memory, or an error recorded against it. */
static unsigned char *slurp(struct audit_run *r, const char *path, long *len)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	FILE *fp;

	*len = 0;
	fp = fopen(path, "rb");
	if (fp == NULL) {
		int en = errno;

		add_error(r, path, "cannot read: %s%s", strerror(en),
			  en == EACCES ? "; make it readable by this user"
				       : "");
		return NULL;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		add_error(r, path, "not a regular file");
		goto out;
	}
	if (st.st_size == 0) {
		add_error(r, path, "the file is empty; expected certificates");
		goto out;
	}
	if (st.st_size > MAX_FILE_BYTES) {
		add_error(r, path,
			  "larger than %ld MiB; not a certificate file",
			  MAX_FILE_BYTES / (1024 * 1024));
		goto out;
	}
	buf = ekl_malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		r->oom = true;
		goto out;
	}
	got = fread(buf, 1, (size_t)st.st_size, fp);
	if (got != (size_t)st.st_size) {
		add_error(r, path, "cannot read: %s",
			  ferror(fp) ? strerror(errno) : "file shrank");
		ekl_free(buf);
		buf = NULL;
		goto out;
	}
	buf[got] = '\0';
	*len = (long)got;
out:
	fclose(fp);
	return buf;
}

static void audit_file(struct audit_run *r, const struct audit_opts *o,
		       const char *path)
{
	STACK_OF(X509) *certs;
	unsigned char *data;
	bool ordered = true;
	long len;

	data = slurp(r, path, &len);
	if (data == NULL)
		return;
	certs = sk_X509_new_null();
	if (certs == NULL) {
		r->oom = true;
		goto out;
	}
	if (memmem(data, (size_t)len, "-----BEGIN ", 11) != NULL)
		read_pem(r, path, data, len, certs, &ordered);
	else
		read_der(r, path, data, len, certs, &ordered);
	audit_source(r, o, path, certs, ordered);
	sk_X509_pop_free(certs, X509_free);
out:
	/* The buffer may have held a key: wipe it. */
	OPENSSL_cleanse(data, (size_t)len);
	ekl_free(data);
}

static void audit_dir(struct audit_run *r, const struct audit_opts *o,
		      const char *dir, int depth)
{
	struct dirent **list = NULL;
	int n;
	int i;

	if (depth > MAX_DIR_DEPTH) {
		add_error(r, dir,
			  "directories nested deeper than %d levels; "
			  "not walked",
			  MAX_DIR_DEPTH);
		return;
	}
	n = scandir(dir, &list, NULL, alphasort);
	if (n < 0) {
		add_error(r, dir, "cannot list the directory: %s",
			  strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		char path[1024];
		struct stat st;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s%s%s", dir,
			 ends_with(dir, "/") ? "" : "/", name);
		if (lstat(path, &st) != 0) {
			add_error(r, path, "cannot read: %s", strerror(errno));
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			audit_dir(r, o, path, depth + 1);
			continue;
		}
		/* Symbolic links: followed to files, never to directories
		 * (no loops). */
		if (S_ISLNK(st.st_mode) &&
		    (stat(path, &st) != 0 || !S_ISREG(st.st_mode)))
			continue;
		if (!S_ISREG(st.st_mode))
			continue;
		if (ends_with(name, ".key")) {
			r->skipped++;
			continue;
		}
		audit_file(r, o, path);
	}
	for (i = 0; i < n; i++)
		free(list[i]); /* scandir allocates with malloc */
	free(list);
}

/* ==== live endpoints ================================================= */

/* "HOST:PORT" or "[V6]:PORT" with a decimal port 1-65535. */
static bool split_endpoint(const char *s, char *host, size_t hlen, char *port,
			   size_t plen)
{
	const char *colon;
	const char *h = s;
	size_t n;
	long v;
	char *end;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return false;
		h = s + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)))
			return false;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hlen || memchr(h, '/', n) != NULL)
		return false;
	v = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || v < 1 ||
	    v > 65535 || strlen(colon + 1) >= plen)
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	snprintf(port, plen, "%s", colon + 1);
	return true;
}

/* A blocking connect bounded by timeout_ms; returns the socket or -1
 * with *en set. */
static int connect_timeout(const struct addrinfo *ai, int timeout_ms, int *en)
{
	struct pollfd pfd;
	socklen_t sl = sizeof(*en);
	int fd;
	int fl;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0) {
		*en = errno;
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			*en = errno;
			goto fail;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, timeout_ms) != 1) {
			*en = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, en, &sl) != 0 ||
		    *en != 0)
			goto fail;
	}
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
fail:
	close(fd);
	return -1;
}

static bool is_address(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

struct capture {
	STACK_OF(X509) *chain; /* the peer's chain as sent, leaf first */
};

/* Verification off, but the chain as presented is kept even when the
 * handshake fails afterwards (a server that then demands a client
 * certificate). */
static int capture_cb(int ok, X509_STORE_CTX *ctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
	    ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct capture *cap = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	STACK_OF(X509) *sent;

	(void)ok;
	if (cap != NULL && cap->chain == NULL) {
		sent = X509_STORE_CTX_get0_untrusted(ctx);
		if (sent != NULL && sk_X509_num(sent) > 0)
			cap->chain = X509_chain_up_ref(sent);
	}
	return 1;
}

static int fetch_chain(const char *endpoint, const char *host, const char *port,
		       int timeout_ms, STACK_OF(X509) **out, char *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct capture cap = {NULL};
	struct timeval tv;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	char why[256];
	int fd = -1;
	int en = 0;
	int rc;

	*out = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return ekl_errf(err, EKL_EADDR, "cannot resolve '%s': %s", host,
				gai_strerror(rc));
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = connect_timeout(ai, timeout_ms, &en);
	freeaddrinfo(res);
	if (fd < 0)
		return ekl_errf(
		    err, EKL_EIO,
		    "unreachable: %s%s; check the host, the port and "
		    "any firewall",
		    en == ETIMEDOUT ? "no answer within the timeout"
				    : strerror(en),
		    en == ETIMEDOUT ? "" : "");
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		rc = ekl_errf_ssl(err, EKL_ENOMEM, "TLS: out of memory");
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, capture_cb);
	ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		rc = ekl_errf_ssl(err, EKL_ENOMEM, "TLS: out of memory");
		goto out;
	}
	SSL_set_app_data(ssl, &cap);
	/* SNI for names, not for addresses. */
	if (!is_address(host))
		SSL_set_tlsext_host_name(ssl, host);
	errno = 0;
	rc = SSL_connect(ssl);
	if (cap.chain == NULL) {
		en = errno;
		if (rc != 1 && (en == EAGAIN || en == EWOULDBLOCK))
			rc = ekl_errf(err, EKL_ETLS,
				      "no TLS answer within %d ms: is it a TLS "
				      "port?",
				      timeout_ms);
		else
			rc = ekl_errf(err, EKL_ETLS,
				      "TLS handshake failed (%s): is %s a TLS "
				      "endpoint?",
				      ssl_reason(why, sizeof(why)), endpoint);
		goto out;
	}
	*out = cap.chain;
	cap.chain = NULL;
	rc = 0;
out:
	ERR_clear_error();
	sk_X509_pop_free(cap.chain, X509_free);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return rc;
}

static void audit_endpoint(struct audit_run *r, const struct audit_opts *o,
			   const char *endpoint, const char *host,
			   const char *port)
{
	STACK_OF(X509) *chain = NULL;
	char err[EKL_ERRLEN] = "";

	if (fetch_chain(endpoint, host, port, o->timeout_ms, &chain, err) !=
	    0) {
		add_error(r, endpoint, "%s", err);
		return;
	}
	audit_source(r, o, endpoint, chain, true);
	sk_X509_pop_free(chain, X509_free);
}

static void audit_input(struct audit_run *r, const struct audit_opts *o,
			const char *in)
{
	char host[256], port[8];
	struct stat st;
	int en;

	if (stat(in, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			audit_dir(r, o, in, 0);
		else
			audit_file(r, o, in);
		return;
	}
	en = errno;
	if (en == ENOENT &&
	    split_endpoint(in, host, sizeof(host), port, sizeof(port))) {
		audit_endpoint(r, o, in, host, port);
		return;
	}
	add_error(r, in, "cannot read: %s%s", strerror(en),
		  en == ENOENT ? " (and not HOST:PORT either)" : "");
}

/* ==== the forecast =================================================== */

void audit_lab_chain(enum pki_profile p, enum pki_ca ca, int64_t from, int days,
		     const char *name, struct pol_chain *out)
{
	/* The lab PKI's default validity when none is given. */
	labmodel_lab_chain(p, ca, from, days > 0 ? days : 365, name, out);
}

/* The server chain node nd presents at time t: its current certificate
 * until renew_at, then its renewal, renewed again at each expiry (the
 * 200/100/47-day cadence for public certificates). */
static void server_at(const struct audit_fnode *nd, int64_t t,
		      struct pol_chain *out)
{
	int64_t start = nd->renew_at;
	int guard;

	if (t < nd->renew_at) {
		*out = nd->server;
		return;
	}
	for (guard = 0; guard < 100000; guard++) {
		audit_renewed_chain(&nd->server, nd->renewal, start, out);
		if (t <= out->certs[0].not_after)
			break;
		start = out->certs[0].not_after;
	}
}

/* A client certificate is renewed like for like: after its expiry the
 * same facts, valid again from t. */
static void client_at(const struct audit_fnode *nd, int64_t t,
		      struct pol_chain *out)
{
	int64_t span;

	*out = nd->client;
	if (out->len > 0 && t > out->certs[0].not_after) {
		span = out->certs[0].not_after - out->certs[0].not_before;
		out->certs[0].not_before = t - 1;
		out->certs[0].not_after = t - 1 + span;
	}
}

/* One directed connection at time t, decided by the lab model's
 * labmodel_decide (pol_decide without the identity check: the forecast
 * is about EKU and validity). */
static void decide(const struct audit_fnode *nodes, int ini, int acc,
		   enum pol_mode verify, int64_t t, struct audit_direction *d)
{
	struct pol_chain is, ic, as;
	struct lab_peer in, an;

	server_at(&nodes[ini], t, &is);
	client_at(&nodes[ini], t, &ic);
	server_at(&nodes[acc], t, &as);
	memset(&in, 0, sizeof(in));
	memset(&an, 0, sizeof(an));
	in.name = nodes[ini].name;
	in.vclass = nodes[ini].vclass;
	in.mode = verify;
	in.client_eku_check = nodes[ini].client_eku_check;
	in.server = &is;
	in.client = nodes[ini].has_client ? &ic : NULL;
	an.name = nodes[acc].name;
	an.vclass = nodes[acc].vclass;
	an.mode = verify;
	an.client_eku_check = nodes[acc].client_eku_check;
	an.server = &as;
	d->initiator = ini;
	d->acceptor = acc;
	labmodel_decide(&in, &an, false, NULL, 0, t, &d->v);
}

/* Every link at time t; the ones down go to `down`. Returns how many are
 * down. */
static size_t links_down(const struct audit_fnode *nodes, size_t n,
			 enum pol_mode verify, enum topo_dial dial,
			 const char *primary, int64_t t,
			 struct audit_link *down, size_t max_down)
{
	struct audit_link l;
	size_t count = 0;
	size_t a, b;
	int k;

	for (a = 0; a < n; a++) {
		for (b = a + 1; b < n; b++) {
			memset(&l, 0, sizeof(l));
			l.a = (int)a;
			l.b = (int)b;
			/* Who dials whom: the lab model's rule. */
			if (labmodel_dials(dial, nodes[a].name, nodes[b].name,
					   primary))
				decide(nodes, l.a, l.b, verify, t,
				       &l.dirs[l.n_dirs++]);
			if (labmodel_dials(dial, nodes[b].name, nodes[a].name,
					   primary))
				decide(nodes, l.b, l.a, verify, t,
				       &l.dirs[l.n_dirs++]);
			if (l.n_dirs == 0)
				continue; /* no link between them */
			for (k = 0; k < l.n_dirs; k++)
				l.up |= l.dirs[k].v.ok;
			if (!l.up) {
				if (count < max_down)
					down[count] = l;
				count++;
			}
		}
	}
	return count;
}

static int cmp_time(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x;
	int64_t b = *(const int64_t *)y;

	return a < b ? -1 : a > b;
}

bool audit_simulate(const struct audit_fnode *nodes, size_t n,
		    enum pol_mode verify, enum topo_dial dial,
		    const char *primary, int64_t at, int64_t *date,
		    struct audit_link *down, size_t max_down, size_t *n_down)
{
	int64_t times[TOPO_MAX_NODES + 1];
	size_t nt = 0;
	size_t i;
	size_t k;

	*n_down = 0;
	times[nt++] = at;
	for (i = 0; i < n && i < TOPO_MAX_NODES; i++)
		if (nodes[i].renew_at > at)
			times[nt++] = nodes[i].renew_at;
	qsort(times, nt, sizeof(times[0]), cmp_time);
	for (i = 0; i < nt; i++) {
		if (i > 0 && times[i] == times[i - 1])
			continue;
		k = links_down(nodes, n, verify, dial, primary, times[i], down,
			       max_down);
		if (k > 0) {
			*date = times[i];
			*n_down = k < max_down ? k : max_down;
			return true;
		}
	}
	return false;
}

/* One node's certificate: a real file (chain against the trust store)
 * or the facts of a lab certificate issued at `at`. */
static int node_cert(const struct topo_node *tn, const struct topo_cert *tc,
		     const struct audit_trust *trust, int64_t at,
		     struct pol_chain *ch, enum audit_root *root, char *label,
		     size_t label_len, char *err)
{
	STACK_OF(X509) *extra = NULL;
	X509 *leaf = NULL;
	char e[EKL_ERRLEN];
	int rc;

	if (tc->file == NULL) {
		audit_lab_chain(tc->profile, tc->ca, at, tc->days, tn->name,
				ch);
		*root = AUDIT_ROOT_PRIVATE;
		snprintf(label, label_len, "lab %s/%s",
			 pki_profile_name(tc->profile), pki_ca_name(tc->ca));
		return 0;
	}
	snprintf(label, label_len, "file %s", tc->file);
	rc = certinfo_load_chain(tc->file, &leaf, &extra, e);
	if (rc == 0)
		rc = audit_classify(trust, leaf, extra, root, NULL, e);
	if (rc == 0)
		rc = certinfo_chain(leaf, extra, trust->store, ch, e);
	X509_free(leaf);
	sk_X509_pop_free(extra, X509_free);
	if (rc != 0)
		return ekl_errf(err, rc, "node %s: %s", tn->name, e);
	return 0;
}

static int fill_nodes(const struct topo *t, const struct audit_trust *trust,
		      int64_t at, struct audit_fnode *nodes, char *err)
{
	struct audit_target tg;
	enum audit_root croot;
	char clabel[600];
	size_t i;
	int rc;

	for (i = 0; i < t->n_nodes; i++) {
		const struct topo_node *tn = &t->nodes[i];
		struct audit_fnode *nd = &nodes[i];

		snprintf(nd->name, sizeof(nd->name), "%s", tn->name);
		snprintf(nd->version, sizeof(nd->version), "%s", tn->version);
		nd->vclass = tn->vclass;
		nd->role = tn->role;
		nd->client_eku_check = tn->client_eku_check;
		rc = node_cert(tn, &tn->cert, trust, at, &nd->server, &nd->root,
			       nd->cert_label, sizeof(nd->cert_label), err);
		if (rc != 0)
			return rc;
		if (tn->has_client_cert) {
			nd->has_client = true;
			rc = node_cert(tn, &tn->client_cert, trust, at,
				       &nd->client, &croot, clabel,
				       sizeof(clabel), err);
			if (rc != 0)
				return rc;
		}
		nd->renew_at =
		    nd->server.len > 0 && nd->server.certs[0].not_after > at
			? nd->server.certs[0].not_after
			: at;
		nd->renewal = AUDIT_RENEW_SERVER_ONLY;
		memset(&tg, 0, sizeof(tg));
		tg.role = tn->role;
		tg.vclass = tn->vclass;
		snprintf(tg.version, sizeof(tg.version), "%s", tn->version);
		tg.server_eku_upload = true;
		audit_upload(&tg, AUDIT_SLOT_SERVER,
			     POL_EKU_EXT | POL_EKU_SERVER, &nd->renewal_upload);
	}
	return 0;
}

/* Which nodes' renewals (by `date`) take part in the links down. */
static void describe_cause(struct audit_forecast *f)
{
	char d[16];
	size_t off = 0;
	size_t i;
	bool any = false;
	bool first = true;
	bool in_down;
	size_t k;

	audit_format_date(f->date, d, sizeof(d));
	for (i = 0; i < f->n_nodes; i++) {
		const struct audit_fnode *nd = &f->nodes[i];

		in_down = false;
		for (k = 0; k < f->n_down; k++)
			in_down |=
			    f->down[k].a == (int)i || f->down[k].b == (int)i;
		if (!in_down || nd->renew_at > f->date ||
		    (nd->renew_at == f->at &&
		     nd->server.certs[0].not_after > f->at))
			continue;
		if (!any)
			off += (size_t)snprintf(
			    f->cause + off, sizeof(f->cause) - off,
			    "renewed server-only from a public CA:");
		any = true;
		if (off < sizeof(f->cause)) {
			char rd[16];

			audit_format_date(nd->renew_at, rd, sizeof(rd));
			off += (size_t)snprintf(
			    f->cause + off, sizeof(f->cause) - off,
			    "%s %s (%s)", first ? "" : ",", nd->name, rd);
			first = false;
		}
	}
	if (!any && f->n_down > 0) {
		const struct audit_direction *dd = &f->down[0].dirs[0];

		snprintf(f->cause, sizeof(f->cause),
			 "the certificates in place on %s already fail: %s -> "
			 "%s is rejected by the %s: %s%s",
			 d, f->nodes[dd->initiator].name,
			 f->nodes[dd->acceptor].name, pol_side_name(dd->v.side),
			 pol_code_name(dd->v.code),
			 dd->v.code == POL_UNTRUSTED
			     ? " (give the roots with --ca or --public-ca)"
			     : "");
	}
}

/* The earliest renewal that takes part in the break (the deadline of
 * steps that change how certificates are renewed). */
static int64_t first_breaking_renewal(const struct audit_forecast *f)
{
	int64_t best = f->date;
	size_t i, k;

	for (k = 0; k < f->n_down; k++) {
		int ends[2] = {f->down[k].a, f->down[k].b};

		for (i = 0; i < 2; i++) {
			int64_t r = f->nodes[ends[i]].renew_at;

			if (r <= f->date && r < best && r > f->at)
				best = r;
		}
	}
	return best;
}

static void add_step(struct audit_forecast *f, struct audit_fnode *trial,
		     enum pol_mode verify, enum audit_opt code, int64_t before,
		     const char *what)
{
	struct audit_step *s;
	struct audit_link one;
	int64_t date2 = 0;
	size_t nd;
	bool breaks;
	char d[16], d2[16];

	if (f->n_steps >= AUDIT_MAX_STEPS)
		return;
	s = &f->steps[f->n_steps++];
	memset(s, 0, sizeof(*s));
	s->code = code;
	s->before = before;
	breaks = audit_simulate(trial, f->n_nodes, verify, f->dial, f->primary,
				f->at, &date2, &one, 1, &nd);
	s->prevents = !breaks;
	audit_format_date(before, d, sizeof(d));
	if (breaks) {
		s->postpones_to = date2 > f->date ? date2 : 0;
		audit_format_date(date2, d2, sizeof(d2));
	}
	snprintf(s->text, sizeof(s->text), "%s before %s: %s%s", what, d,
		 !breaks		? "keeps every link up"
		 : s->postpones_to != 0 ? "only postpones the break to "
					: "does not help: a link still goes "
					  "down on ",
		 breaks ? d2 : "");
	if (f->prevention < 0 && s->prevents && code != AUDIT_OPT_RENEW_EARLY)
		f->prevention = (int)(f->n_steps - 1);
}

static void plan_steps(struct audit_forecast *f, struct audit_fnode *trial)
{
	size_t n = f->n_nodes;
	size_t sz = n * sizeof(*trial);
	int64_t renew_by = first_breaking_renewal(f);
	bool any_pre = false, any_not155 = false, any_c = false;
	size_t i;

	for (i = 0; i < n; i++) {
		any_pre |= f->nodes[i].vclass == POL_V_PRE154;
		any_not155 |= f->nodes[i].vclass != POL_V_X155;
		any_c |= f->nodes[i].role == TOPO_ROLE_C;
	}
	if (any_pre) {
		memcpy(trial, f->nodes, sz);
		for (i = 0; i < n; i++)
			if (trial[i].vclass == POL_V_PRE154)
				trial[i].vclass = POL_V_X154;
		add_step(f, trial, f->verify, AUDIT_OPT_UPGRADE_X154, f->date,
			 "upgrade every node to X15.4 (ClusterDB skips the "
			 "clientAuth check; all nodes on the same version)");
	}
	if (any_not155) {
		memcpy(trial, f->nodes, sz);
		for (i = 0; i < n; i++)
			trial[i].vclass = POL_V_X155;
		add_step(f, trial, f->verify, AUDIT_OPT_UPGRADE_X155, f->date,
			 "upgrade every node to X15.5 (separate server and "
			 "client certificates)");
	}
	memcpy(trial, f->nodes, sz);
	for (i = 0; i < n; i++)
		trial[i].renewal = AUDIT_RENEW_ALTERNATE_ROOT;
	add_step(f, trial, f->verify, AUDIT_OPT_ALTERNATE_ROOT, renew_by,
		 "renew from an alternate root with combined EKU (IdenTrust "
		 "Public Sector Root CA 1, DigiCert Assured ID Root G2) that "
		 "every node trusts");
	if (any_c) {
		memcpy(trial, f->nodes, sz);
		for (i = 0; i < n; i++)
			if (trial[i].role == TOPO_ROLE_C)
				trial[i].renewal = AUDIT_RENEW_PRIVATE;
		add_step(f, trial, f->verify, AUDIT_OPT_PRIVATE_PKI, renew_by,
			 "renew the Expressway-C nodes from a private PKI with "
			 "combined EKU (not for Expressway-E)");
	}
	if (f->at < audit_public_no_client()) {
		memcpy(trial, f->nodes, sz);
		for (i = 0; i < n; i++) {
			struct pol_chain now;

			audit_renewed_chain(&trial[i].server,
					    AUDIT_RENEW_ALTERNATE_ROOT, f->at,
					    &now);
			trial[i].server = now;
			trial[i].renew_at = now.certs[0].not_after;
		}
		add_step(f, trial, f->verify, AUDIT_OPT_RENEW_EARLY,
			 audit_public_no_client(),
			 "renew every node now with combined EKU from a public "
			 "CA, while public CAs still issue it");
	}
	memcpy(trial, f->nodes, sz);
	add_step(f, trial, POL_PERMISSIVE, AUDIT_OPT_PERMISSIVE, f->date,
		 "insecure last resort: set the cluster's TLS verify mode to "
		 "Permissive (peers are no longer authenticated)");
}

int audit_forecast_run(const struct topo *t, const struct audit_trust *trust,
		       int64_t at, struct audit_forecast *out, char *err)
{
	struct audit_fnode *trial = NULL;
	size_t max_links;
	int rc;

	memset(out, 0, sizeof(*out));
	out->prevention = -1;
	snprintf(out->name, sizeof(out->name), "%s", t->name);
	snprintf(out->primary, sizeof(out->primary), "%s", t->primary);
	out->verify = t->verify;
	out->dial = t->dial;
	out->at = at;
	if (t->n_nodes == 0 || t->n_nodes > TOPO_MAX_NODES)
		return ekl_errf(err, EKL_EINVAL,
				"cluster '%s': %zu nodes; "
				"give 1 to %d",
				t->name, t->n_nodes, TOPO_MAX_NODES);
	max_links = t->n_nodes * (t->n_nodes - 1) / 2 + 1;
	out->nodes = ekl_calloc(t->n_nodes, sizeof(*out->nodes));
	out->down = ekl_calloc(max_links, sizeof(*out->down));
	trial = ekl_calloc(t->n_nodes, sizeof(*trial));
	if (out->nodes == NULL || out->down == NULL || trial == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "forecast: out of memory");
		goto err;
	}
	out->n_nodes = t->n_nodes;
	rc = fill_nodes(t, trust, at, out->nodes, err);
	if (rc != 0)
		goto err;
	out->breaks = audit_simulate(out->nodes, out->n_nodes, out->verify,
				     out->dial, out->primary, at, &out->date,
				     out->down, max_links, &out->n_down);
	if (out->breaks) {
		describe_cause(out);
		plan_steps(out, trial);
	}
	ekl_free(trial);
	return 0;
err:
	ekl_free(trial);
	audit_forecast_free(out);
	return rc;
}

void audit_forecast_free(struct audit_forecast *f)
{
	if (f == NULL)
		return;
	ekl_free(f->nodes);
	ekl_free(f->down);
	f->nodes = NULL;
	f->down = NULL;
	f->n_nodes = 0;
	f->n_down = 0;
}

/* "NAME VERSION CERTFILE [c|e]" a line. */
static int load_list(const char *path, struct topo *t, char *err)
{
	char line[2048];
	char dir[512] = "";
	const char *slash = strrchr(path, '/');
	const char *base = slash != NULL ? slash + 1 : path;
	FILE *fp;
	int lineno = 0;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	if (slash != NULL)
		snprintf(dir, sizeof(dir), "%.*s",
			 slash == path ? 1 : (int)(slash - path), path);
	fp = fopen(path, "r");
	if (fp == NULL)
		return ekl_errf(err, errno == ENOENT ? EKL_ENOENT : EKL_EIO,
				"cluster list '%s': %s", path, strerror(errno));
	t->nodes = ekl_calloc(TOPO_MAX_NODES, sizeof(*t->nodes));
	if (t->nodes == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "cluster list: out of memory");
		goto out;
	}
	snprintf(t->name, sizeof(t->name), "%.*s", (int)strcspn(base, "."),
		 base);
	t->verify = POL_ENFORCE;
	t->dial = TOPO_DIAL_BOTH;
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *tok[5];
		char *save = NULL;
		char *hash = strchr(line, '#');
		struct topo_node *nd;
		int nt = 0;
		size_t n;

		lineno++;
		if (hash != NULL)
			*hash = '\0';
		for (tok[nt] = strtok_r(line, " \t\r\n", &save);
		     tok[nt] != NULL && nt < 4;)
			tok[++nt] = strtok_r(NULL, " \t\r\n", &save);
		if (nt == 0)
			continue;
		if (nt < 3 || tok[nt] != NULL) {
			rc = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: expected NAME VERSION CERTFILE "
				      "[c|e]",
				      path, lineno);
			goto out;
		}
		if (t->n_nodes == TOPO_MAX_NODES) {
			rc = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: more than %d nodes", path, lineno,
				      TOPO_MAX_NODES);
			goto out;
		}
		nd = &t->nodes[t->n_nodes];
		if (!topo_name_valid(tok[0]) || topo_find(t, tok[0]) != NULL) {
			rc = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: '%s' is not a valid, unique node "
				      "name (A-Z a-z 0-9 . _ -)",
				      path, lineno, tok[0]);
			goto out;
		}
		if (strlen(tok[1]) > TOPO_VERSION_MAX ||
		    pol_version_parse(tok[1], &nd->vclass) != 0) {
			rc = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: '%s' is not a known version; use "
				      "X14.x, X15.0-X15.3.x, X15.4 or X15.5",
				      path, lineno, tok[1]);
			goto out;
		}
		if (nt == 4 && topo_role_parse(tok[3], &nd->role) != 0) {
			rc = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: '%s' is not a role; use c or e",
				      path, lineno, tok[3]);
			goto out;
		}
		snprintf(nd->name, sizeof(nd->name), "%s", tok[0]);
		snprintf(nd->version, sizeof(nd->version), "%s", tok[1]);
		nd->client_eku_check = true;
		nd->line = lineno;
		n = strlen(dir) + strlen(tok[2]) + 2;
		nd->cert.file = ekl_malloc(n);
		if (nd->cert.file == NULL) {
			rc = ekl_errf(err, EKL_ENOMEM,
				      "cluster list: out of memory");
			goto out;
		}
		if (tok[2][0] == '/' || dir[0] == '\0')
			snprintf(nd->cert.file, n, "%s", tok[2]);
		else
			snprintf(nd->cert.file, n, "%s%s%s", dir,
				 strcmp(dir, "/") == 0 ? "" : "/", tok[2]);
		t->n_nodes++;
	}
	if (t->n_nodes == 0) {
		rc = ekl_errf(err, EKL_ECONFIG,
			      "cluster list '%s': no node; write one line per "
			      "node: NAME VERSION CERTFILE [c|e]",
			      path);
		goto out;
	}
	snprintf(t->primary, sizeof(t->primary), "%s", t->nodes[0].name);
out:
	fclose(fp);
	if (rc != 0)
		topo_free(t);
	return rc;
}

int audit_cluster_load(const char *path, struct topo *t, char *err)
{
	if (ends_with(path, ".yaml") || ends_with(path, ".yml"))
		return topo_load(path, t, err);
	return load_list(path, t, err);
}

/* ==== the run ======================================================== */

int audit_run(const struct audit_opts *o, struct audit_run *r, char *err)
{
	char e[EKL_ERRLEN] = "";
	struct topo t;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->at = o->at;
	for (i = 0; i < o->n_inputs && !r->oom; i++)
		audit_input(r, o, o->inputs[i]);
	if (o->cluster != NULL && !r->oom) {
		if (audit_cluster_load(o->cluster, &t, e) != 0) {
			add_error(r, o->cluster, "%s", e);
		} else {
			if (audit_forecast_run(&t, o->trust, o->at,
					       &r->forecast, e) != 0)
				add_error(r, o->cluster, "%s", e);
			else
				r->has_forecast = true;
			topo_free(&t);
		}
	}
	if (r->oom)
		return ekl_errf(err, EKL_ENOMEM, "audit: out of memory");
	return 0;
}

void audit_run_free(struct audit_run *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_certs; i++) {
		strv_free(&r->certs[i].sans);
		strv_free(&r->certs[i].eku);
		strv_free(&r->certs[i].chain);
	}
	ekl_free(r->certs);
	ekl_free(r->errors);
	audit_forecast_free(&r->forecast);
	memset(r, 0, sizeof(*r));
}

int audit_exit_code(const struct audit_run *r)
{
	size_t i;

	if (r->n_errors > 0 || r->oom)
		return 2;
	if (r->has_forecast && r->forecast.breaks)
		return 1;
	for (i = 0; i < r->n_certs; i++)
		if (r->certs[i].n_findings > 0)
			return 1;
	return 0;
}
