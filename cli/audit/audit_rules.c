/* audit_rules.c: the audit's rules: renewals, risks, options.
 *
 * Pure functions. ClusterDB verdicts are asked of the policy function
 * (audit_clusterdb), the upload verdicts and the timeline's dates of
 * the Expressway model (model/expressway.h); neither is decided here. */
#include "audit_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "model/labmodel.h"

#define YEAR (365 * XPW_DAY)

/* ==== dates ========================================================== */

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

/* ==== the rules ====================================================== */

struct xpw_node audit_xpw_node(const struct audit_target *t)
{
	struct xpw_node n;

	n.role = t->role;
	n.vclass = t->vclass;
	n.server_eku_upload = t->server_eku_upload;
	return n;
}

static void upload(const struct audit_target *t, enum xpw_slot slot,
		   unsigned eku, struct xpw_upload *out)
{
	struct xpw_node n = audit_xpw_node(t);

	xpw_upload(&n, slot, eku, out);
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

/* ==== zone services ================================================== */

size_t audit_role_services(enum topo_role r, enum pol_service *out)
{
	static const enum pol_service c[] = {POL_SVC_TRAVERSAL,
					     POL_SVC_NEIGHBOUR, POL_SVC_CLOUD};
	static const enum pol_service e[] = {POL_SVC_TRAVERSAL, POL_SVC_MRA,
					     POL_SVC_NEIGHBOUR, POL_SVC_B2B,
					     POL_SVC_FEDERATION};
	const enum pol_service *v = r == TOPO_ROLE_E ? e : c;
	size_t n = r == TOPO_ROLE_E ? sizeof(e) / sizeof(e[0])
				    : sizeof(c) / sizeof(c[0]);

	memcpy(out, v, n * sizeof(*v));
	return n;
}

/* The external kind a zone of service s joins. */
static enum pol_kind peer_kind(enum pol_service s)
{
	switch (s) {
	case POL_SVC_NEIGHBOUR: return POL_KIND_CUCM;
	case POL_SVC_B2B: return POL_KIND_B2B_PEER;
	case POL_SVC_FEDERATION: return POL_KIND_FEDERATION_PEER;
	case POL_SVC_CLOUD: return POL_KIND_CLOUD;
	default: return POL_KIND_EXPRESSWAY;
	}
}

enum pol_code audit_service(const struct pol_chain *ch,
			    const struct audit_target *t, enum pol_service s,
			    int64_t at, bool *by_peer)
{
	struct pol_node me, peer;
	struct pol_chain pc;
	struct pol_verdict v;
	struct pol_conn c;
	const struct pol_node *ends[2][2] = {{&me, &peer}, {&peer, &me}};
	size_t k;

	*by_peer = false;
	labmodel_lab_chain(PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED, at, 0,
			   "peer", &pc);
	memset(&me, 0, sizeof(me));
	me.kind = POL_KIND_EXPRESSWAY;
	me.version = t->vclass;
	me.mode = POL_ENFORCE;
	me.client_eku_check = true;
	me.role = t->role == TOPO_ROLE_E ? POL_ROLE_E : POL_ROLE_C;
	me.server_chain = ch;
	peer = me;
	peer.server_chain = &pc;
	peer.kind = peer_kind(s);
	peer.checks_client_eku = true;
	peer.role = me.role == POL_ROLE_E ? POL_ROLE_C : POL_ROLE_E;
	for (k = 0; k < 2; k++) {
		if (!pol_may_initiate(s, ends[k][0], ends[k][1]))
			continue;
		memset(&c, 0, sizeof(c));
		c.initiator = ends[k][0];
		c.acceptor = ends[k][1];
		c.service = s;
		c.initiator_time = c.acceptor_time = at;
		pol_decide(&c, &v);
		if (v.ok)
			continue;
		*by_peer = (v.side == POL_SIDE_INITIATOR) == (k == 1);
		return v.code;
	}
	return POL_OK;
}

/* What fixes service s failing with `code` (who rejects: by_peer) on
 * target t, without the service's name ("needs ..." or a clause that
 * follows "NAME: "). */
static void service_fix(const struct audit_target *t, enum pol_service s,
			enum pol_code code, bool by_peer, char *buf, size_t len)
{
	if (code != POL_CLIENT_PURPOSE || !by_peer) {
		snprintf(buf, len, "%s (rejected by %s)", pol_code_name(code),
			 by_peer ? "the peer" : "this node");
		return;
	}
	switch (s) {
	case POL_SVC_TRAVERSAL:
		if (t->vclass == POL_V_X155)
			snprintf(buf, len,
				 "needs E to ignore client EKU, or a client "
				 "certificate");
		else
			snprintf(buf, len,
				 "E checks C's clientAuth on every version "
				 "(X15.4's bypass is ClusterDB only): keep "
				 "clientAuth, or X15.5 with a client "
				 "certificate or E ignoring client EKU");
		return;
	case POL_SVC_MRA:
		snprintf(buf, len,
			 "C before X15.4 requires clientAuth on E's "
			 "certificate in the SIP SERVICE message: upgrade C "
			 "and E to X15.4");
		return;
	default:
		snprintf(buf, len,
			 "may still fail on every version: a peer that checks "
			 "clientAuth rejects it when this node initiates; "
			 "keep clientAuth, or X15.5 with a client "
			 "certificate, or a peer that ignores client EKU");
		return;
	}
}

static void evaluate_services(const struct audit_facts *f,
			      const struct audit_target *t, int64_t at,
			      const struct pol_chain *renewed, int64_t r,
			      struct audit_target_result *out)
{
	enum pol_service svc[AUDIT_MAX_SERVICES];
	size_t i;

	out->n_services = audit_role_services(t->role, svc);
	for (i = 0; i < out->n_services; i++) {
		struct audit_service *a = &out->services[i];

		memset(a, 0, sizeof(*a));
		a->service = svc[i];
		a->now =
		    audit_service(&f->chain, t, svc[i], at, &a->now_by_peer);
		a->renewed =
		    audit_service(renewed, t, svc[i], r, &a->renewed_by_peer);
		/* The renewal's failure names the EKU problem to come; else
		 * today's (a validity problem, say). */
		if (a->renewed != POL_OK)
			service_fix(t, svc[i], a->renewed, a->renewed_by_peer,
				    a->fix, sizeof(a->fix));
		else if (a->now != POL_OK)
			service_fix(t, svc[i], a->now, a->now_by_peer, a->fix,
				    sizeof(a->fix));
		out->service_fails |= a->now != POL_OK || a->renewed != POL_OK;
	}
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
	int64_t days = xpw_public_max_days(start);

	memset(out, 0, sizeof(*out));
	if (orig != NULL)
		copy_names(orig, out);
	switch (how) {
	case AUDIT_RENEW_SERVER_ONLY: break;
	case AUDIT_RENEW_ALTERNATE_ROOT:
		leaf |= POL_EKU_CLIENT;
		issuing |= POL_EKU_CLIENT;
		break;
	case AUDIT_RENEW_PRIVATE:
		leaf |= POL_EKU_CLIENT;
		issuing = 0;
		days = 365;
		break;
	case AUDIT_RENEW_LIKE:
		leaf = orig != NULL && orig->len > 0 ? orig->certs[0].eku : 0;
		issuing =
		    orig != NULL && orig->len > 1 ? orig->certs[1].eku : 0;
		days = orig != NULL && orig->len > 0
			   ? (orig->certs[0].not_after -
			      orig->certs[0].not_before) /
				 XPW_DAY
			   : 365;
		if (days < 1)
			days = 1;
		break;
	}
	out->anchored = true;
	out->len = 3;
	out->certs[0] = cert_of(leaf, start, start + days * XPW_DAY);
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
	struct xpw_upload up;
	int depth;

	audit_renewed_chain(&f->chain, how, start, &ch);
	upload(t, XPW_SLOT_SERVER, ch.certs[0].eku, &up);
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
	upload(t, XPW_SLOT_SERVER, f->eku, &out->upload);
	if (t->vclass == POL_V_X155) {
		out->has_client_slot = true;
		upload(t, XPW_SLOT_CLIENT, f->eku, &out->upload_client);
	}
	out->as_client =
	    audit_clusterdb(&f->chain, t->vclass, POL_SIDE_INITIATOR, at,
			    &out->as_client_depth);
	out->as_server = audit_clusterdb(
	    &f->chain, t->vclass, POL_SIDE_ACCEPTOR, at, &out->as_server_depth);

	audit_renewed_chain(&f->chain, AUDIT_RENEW_SERVER_ONLY, r, &renewed);
	upload(t, XPW_SLOT_SERVER, renewed.certs[0].eku, &out->renewed_upload);
	out->renewed_as_client =
	    audit_clusterdb(&renewed, t->vclass, POL_SIDE_INITIATOR, r, &depth);
	out->renewed_as_server =
	    audit_clusterdb(&renewed, t->vclass, POL_SIDE_ACCEPTOR, r, &depth);
	out->breaks_when_renewed = !out->renewed_upload.accept ||
				   out->renewed_as_client != POL_OK ||
				   out->renewed_as_server != POL_OK;
	evaluate_services(f, t, at, &renewed, r, out);
}

const char *audit_risk_name(enum audit_risk_code c)
{
	switch (c) {
	case AUDIT_RISK_LE_CLASSIC: return "lets-encrypt-classic";
	case AUDIT_RISK_NO_CLIENT_AUTH: return "public-no-client-auth";
	case AUDIT_RISK_VALIDITY_CAP: return "validity-cap";
	case AUDIT_RISK_CHROME: return "chrome-policy";
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

/* Timeline risks (the dates of model/expressway.h), for a public end-entity
 * certificate renewed at R = max(notAfter, at): lets-encrypt-classic   issued
 * by Let's Encrypt with clientAuth and R >= 2026-02-11: the classic profile
 * drops it public-no-client-auth  clientAuth and R >= 2026-05-01: public CAs
 *                          issue no clientAuth any more
 *   validity-cap           R >= 2026-03-15: the renewal lasts at most
 *                          200/100/47 days
 *   chrome-policy          lists clientAuth and is valid on or after
 *                          2026-06-15, when Chrome's policy is in force */
size_t audit_risks(const struct audit_facts *f, int64_t at,
		   struct audit_risk *out, size_t max)
{
	int64_t r = renewal_date(f, at);
	bool client = xpw_eku_serves(f->eku, POL_EKU_CLIENT);
	char rd[16], d[16], na[16];
	size_t n = 0;

	if (f->root != AUDIT_ROOT_PUBLIC || f->ca)
		return 0;
	audit_format_date(r, rd, sizeof(rd));
	audit_format_date(f->not_after, na, sizeof(na));
	if (f->lets_encrypt && client && r >= xpw_le_classic_end())
		n = add_risk(out, n, max, AUDIT_RISK_LE_CLASSIC,
			     xpw_le_classic_end(),
			     "renewed by Let's Encrypt's classic ACME profile "
			     "(due %s), it will carry no clientAuth: the "
			     "profile drops it from 2026-02-11",
			     rd);
	if (client && r >= xpw_public_no_client())
		n = add_risk(out, n, max, AUDIT_RISK_NO_CLIENT_AUTH,
			     xpw_public_no_client(),
			     "public CAs issue no clientAuth from May 2026: "
			     "its renewal (due %s) will be server-only",
			     rd);
	if (xpw_public_cap_since(r) != 0) {
		audit_format_date(xpw_public_cap_since(r), d, sizeof(d));
		n = add_risk(out, n, max, AUDIT_RISK_VALIDITY_CAP,
			     xpw_public_cap_since(r),
			     "its renewal (due %s) will last at most %d days "
			     "(public TLS certificates: 200 days from "
			     "2026-03-15, 100 from 2027-03-15, 47 from "
			     "2029-03-15; this cap since %s)",
			     rd, xpw_public_max_days(r), d);
	}
	if ((f->eku & POL_EKU_CLIENT) != 0 &&
	    f->not_after >= xpw_chrome_in_force())
		n = add_risk(out, n, max, AUDIT_RISK_CHROME,
			     xpw_chrome_in_force(),
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
	case AUDIT_OPT_NO_ACTION: return "no-action";
	case AUDIT_OPT_CLASSIFY: return "classify-root";
	case AUDIT_OPT_MONITOR: return "monitor";
	case AUDIT_OPT_ALTERNATE_ROOT: return "alternate-root";
	case AUDIT_OPT_RENEW_EARLY: return "renew-before-deadline";
	case AUDIT_OPT_PRIVATE_PKI: return "private-pki";
	case AUDIT_OPT_UPGRADE_X154: return "upgrade-x15.4";
	case AUDIT_OPT_UPGRADE_X155: return "upgrade-x15.5";
	case AUDIT_OPT_PERMISSIVE: return "permissive";
	case AUDIT_OPT_ZONES: return "zones";
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

/* " (released February 2026)" or " (due May 2026: not out before
 * 2026-06-01, which ekulab counts as its release)": an option never
 * names a version as if it existed before it does. */
static void release_note(enum pol_vclass v, int64_t at, char *buf, size_t len)
{
	char d[16];

	if (xpw_released(v, at)) {
		snprintf(buf, len, " (released %s)", xpw_release_month(v));
		return;
	}
	audit_format_date(xpw_release(v), d, sizeof(d));
	snprintf(buf, len, " (due %s: not out before %s)", xpw_release_month(v),
		 d);
}

/* One "zones" option per target whose zone services fail: the services
 * grouped by what fixes them, "NAMES: FIX" (or "NAME needs ..."). */
static size_t zone_options(const struct audit_target_result *tr, size_t nt,
			   struct audit_option *out, size_t n, size_t max)
{
	char text[sizeof(out[0].text)];
	bool done[AUDIT_MAX_SERVICES];
	size_t i, k, m, l;

	for (i = 0; i < nt; i++) {
		const struct audit_service *sv = tr[i].services;

		if (!tr[i].service_fails)
			continue;
		memset(done, 0, sizeof(done));
		snprintf(text, sizeof(text), "Zones of %s %s: ",
			 tr[i].target.role == TOPO_ROLE_E ? "Expressway-E"
							  : "Expressway-C",
			 tr[i].target.version);
		for (k = 0; k < tr[i].n_services; k++) {
			if (sv[k].fix[0] == '\0' || done[k])
				continue;
			l = strlen(text);
			if (text[l - 2] != ':')
				snprintf(text + l, sizeof(text) - l, "; ");
			for (m = k; m < tr[i].n_services; m++) {
				if (done[m] ||
				    strcmp(sv[m].fix, sv[k].fix) != 0)
					continue;
				done[m] = true;
				l = strlen(text);
				snprintf(text + l, sizeof(text) - l, "%s%s",
					 m == k ? "" : ", ",
					 pol_service_name(sv[m].service));
			}
			l = strlen(text);
			snprintf(text + l, sizeof(text) - l, "%s%s",
				 strncmp(sv[k].fix, "needs ", 6) == 0 ? " "
								      : ": ",
				 sv[k].fix);
		}
		n = add_option(out, n, max, AUDIT_OPT_ZONES, 0, "%s", text);
	}
	return n;
}

size_t audit_options(const struct audit_facts *f,
		     const struct audit_target_result *tr, size_t n_targets,
		     int64_t at, struct audit_option *out, size_t max)
{
	char r154[80], r155[80];
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
		breaking |= tr[i].breaks_when_renewed || tr[i].service_fails;
		any_c |= tr[i].target.role == TOPO_ROLE_C;
	}
	/* "monitor" only when every service of every target passes, now and
	 * renewed. */
	if (n_targets > 0 && !breaking)
		return add_option(out, n, max, AUDIT_OPT_MONITOR, 0,
				  "a server-only renewal keeps every target "
				  "and every zone service working: minimal "
				  "impact; monitor future changes");

	/* A: combined EKU from an alternate root. */
	if (fixes_all(f, tr, n_targets, AUDIT_RENEW_ALTERNATE_ROOT, false, at))
		n = add_option(out, n, max, AUDIT_OPT_ALTERNATE_ROOT, 0,
			       "Option A: ask the CA for combined EKU from an "
			       "alternate root not in Chrome's store "
			       "(IdenTrust Public Sector Root CA 1, DigiCert "
			       "Assured ID Root G2) and make every peer trust "
			       "that root; no immediate upgrade needed");
	/* B: renew before a deadline, while combined EKU is still issued. */
	if (f->lets_encrypt && at < xpw_le_classic_end()) {
		n = add_option(out, n, max, AUDIT_OPT_RENEW_EARLY,
			       xpw_le_classic_end(),
			       "Option B: renew before 2026-02-11, as close to "
			       "it as possible, then disable the ACME "
			       "scheduler so that no server-only certificate "
			       "replaces it; buys time until it expires");
	} else if (!f->lets_encrypt && at < xpw_public_no_client()) {
		int64_t before = at < xpw_public_first_cap()
				     ? xpw_public_first_cap()
				     : xpw_public_no_client();

		audit_format_date(before, d, sizeof(d));
		n = add_option(out, n, max, AUDIT_OPT_RENEW_EARLY, before,
			       "Option B: renew with combined EKU before %s "
			       "(%s); buys time until that certificate "
			       "expires",
			       d,
			       before == xpw_public_first_cap()
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
	/* D: upgrade, each version no earlier than its release. */
	release_note(POL_V_X154, at, r154, sizeof(r154));
	release_note(POL_V_X155, at, r155, sizeof(r155));
	if (n_targets == 0) {
		n = add_option(out, n, max, AUDIT_OPT_UPGRADE_X154, 0,
			       "Option D: urgent need: upgrade to X15.4%s "
			       "(ClusterDB skips the clientAuth check; "
			       "Expressway-E accepts server-only uploads with "
			       "EnableServerEkuUpload: On; Expressway-C's "
			       "upload still needs combined EKU)",
			       r154);
		n = add_option(out, n, max, AUDIT_OPT_UPGRADE_X155, 0,
			       "Option D: complete fix: upgrade to X15.5%s "
			       "(separate server and client certificates); "
			       "Expressway-C and -E on the same version",
			       r155);
		return n;
	}
	need = upgrade_needed(f, tr, n_targets, at, &why154);
	if (need == POL_V_X154)
		n = add_option(
		    out, n, max, AUDIT_OPT_UPGRADE_X154, 0,
		    "Option D: upgrade to X15.4%s (ClusterDB skips "
		    "the clientAuth check; Expressway-E accepts "
		    "server-only uploads with EnableServerEkuUpload: "
		    "On), then X15.5%s for the complete fix; "
		    "Expressway-C and -E on the same version",
		    r154, r155);
	else if (need == POL_V_X155)
		n = add_option(
		    out, n, max, AUDIT_OPT_UPGRADE_X155, 0,
		    "Option D: upgrade to X15.5%s (separate server and "
		    "client certificates); X15.4 is not enough: %s",
		    r155, why154 != NULL ? why154 : "see the targets");
	return zone_options(tr, n_targets, out, n, max);
}
