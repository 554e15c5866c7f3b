/* policy.c: the one pure function that decides every EKU outcome.
 *
 * The rules table (docs/model.md: the field notice's facts F7-F19 and
 * ekulab's modelling choices). "server" = the verifier requires
 * id-kp-serverAuth on the peer chain, "client" = id-kp-clientAuth, "skip" =
 * purpose errors at any depth are ignored. Chain, validity and identity are
 * checked in every enforce row; permissive never rejects (a choice: the
 * certificate is "requested and recorded, never verified").
 *
 *   mode        verifier       side       service       purpose checked
 *   ----------  -------------  ---------  ------------  -------------------
 *   enforce     any            initiator  any handshake server    (F9, F18)
 *   enforce     pre-X15.4      acceptor   any handshake client    (F9)
 *   enforce     X15.4          acceptor   clusterdb     skip      (F10)
 *   enforce     X15.5          acceptor   clusterdb     skip      (F10, F13)
 *   enforce     X15.4          acceptor   zone services client    (F12, F19)
 *   enforce     X15.5          acceptor   zone services client, or skip when
 *                                                       the service's switch
 *                                                       is off      (F13)
 *   enforce     external       acceptor   any           client when
 *                                                       checks_client_eku
 *   permissive  any            any        any           nothing enforced
 *   any         Expressway-C   (message)  mra           server, then also
 *                                                       client pre-X15.4
 *                                                       (F17)
 *
 * Zone services: traversal, neighbour, b2b, federation, cloud. mra is not
 * a handshake: its connection is the traversal one (pol_service_handshake)
 * and its check is C's validation of the chain E sends (pol_decide_mra).
 *
 * What the initiator presents (F13, F14): its client certificate when it
 * is an X15.5 Expressway or an external with one, else its server
 * certificate.
 *
 * Purpose semantics (F20, OpenSSL 3.0): a certificate fails a purpose when it
 * carries an EKU extension that lacks that purpose; anyExtendedKeyUsage does
 * not stand in for it; a certificate without EKU passes. Every certificate
 * of the chain is checked, CAs included.
 *
 * Check order (pol_check_chain, as OpenSSL's X509_verify_cert reports the
 * first error): no certificate; untrusted (depth len-1); purpose (leaf up to
 * the root); validity (root down to the leaf; not-yet-valid before expired
 * for each certificate); then identity (depth 0); then also_purpose (leaf
 * up; the MRA check's second purpose, a second X509_verify_cert pass live).
 * Identity after validity is the contract of policy.h: OpenSSL's own host
 * check (X509_VERIFY_PARAM_set1_host) would run before validity, so the TLS
 * code checks identity itself once the chain has verified.
 */
#include "ekulab/x509/policy.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "ekulab/core/err.h"

/* ---- name tables ---- */

const char *pol_code_name(enum pol_code c)
{
	switch (c) {
#define POL_CODE_TEXT(name, text)                                              \
	case name: return text;
		POL_CODES(POL_CODE_TEXT)
#undef POL_CODE_TEXT
	case POL_CODE_COUNT: break;
	}
	return "?";
}

int pol_code_parse(const char *s, enum pol_code *out)
{
	int i;

	if (s == NULL)
		return EKL_EINVAL;
	for (i = 0; i < POL_CODE_COUNT; i++) {
		if (strcmp(s, pol_code_name((enum pol_code)i)) == 0) {
			*out = (enum pol_code)i;
			return 0;
		}
	}
	return EKL_EINVAL;
}

const char *pol_mode_name(enum pol_mode m)
{
	switch (m) {
	case POL_ENFORCE: return "enforce";
	case POL_PERMISSIVE: return "permissive";
	}
	return "?";
}

int pol_mode_parse(const char *s, enum pol_mode *out)
{
	if (s == NULL)
		return EKL_EINVAL;
	if (strcmp(s, "enforce") == 0) {
		*out = POL_ENFORCE;
		return 0;
	}
	if (strcmp(s, "permissive") == 0) {
		*out = POL_PERMISSIVE;
		return 0;
	}
	return EKL_EINVAL;
}

const char *pol_vclass_name(enum pol_vclass v)
{
	switch (v) {
	case POL_V_PRE154: return "pre-X15.4";
	case POL_V_X154: return "X15.4";
	case POL_V_X155: return "X15.5";
	}
	return "?";
}

const char *pol_service_name(enum pol_service s)
{
	switch (s) {
#define POL_SVC_TEXT(name, text, dialer)                                       \
	case name: return text;
		POL_SERVICES(POL_SVC_TEXT)
#undef POL_SVC_TEXT
	case POL_SVC_COUNT: break;
	}
	return "?";
}

int pol_service_parse(const char *s, enum pol_service *out)
{
	int i;

	if (s == NULL)
		return EKL_EINVAL;
	for (i = 0; i < POL_SVC_COUNT; i++) {
		if (strcmp(s, pol_service_name((enum pol_service)i)) == 0) {
			*out = (enum pol_service)i;
			return 0;
		}
	}
	return EKL_EINVAL;
}

enum pol_dialer pol_service_dialer(enum pol_service s)
{
	switch (s) {
#define POL_SVC_DIALER(name, text, dialer)                                     \
	case name: return dialer;
		POL_SERVICES(POL_SVC_DIALER)
#undef POL_SVC_DIALER
	case POL_SVC_COUNT: break;
	}
	return POL_DIALS_EITHER;
}

const char *pol_dialer_name(enum pol_dialer d)
{
	switch (d) {
	case POL_DIALS_EITHER: return "either";
	case POL_DIALS_CLIENT_CLUSTER: return "client-cluster";
	case POL_DIALS_EXPRESSWAY: return "expressway";
	}
	return "?";
}

enum pol_service pol_service_handshake(enum pol_service s)
{
	return s == POL_SVC_MRA ? POL_SVC_TRAVERSAL : s;
}

const char *pol_kind_name(enum pol_kind k)
{
	switch (k) {
#define POL_KIND_TEXT(name, text)                                              \
	case name: return text;
		POL_KINDS(POL_KIND_TEXT)
#undef POL_KIND_TEXT
	case POL_KIND_COUNT: break;
	}
	return "?";
}

int pol_kind_parse(const char *s, enum pol_kind *out)
{
	int i;

	if (s == NULL)
		return EKL_EINVAL;
	for (i = 0; i < POL_KIND_COUNT; i++) {
		if (strcmp(s, pol_kind_name((enum pol_kind)i)) == 0) {
			*out = (enum pol_kind)i;
			return 0;
		}
	}
	return EKL_EINVAL;
}

bool pol_kind_external(enum pol_kind k)
{
	return k != POL_KIND_EXPRESSWAY;
}

bool pol_kind_serves(enum pol_kind k, enum pol_service s)
{
	if ((unsigned)s >= POL_SVC_COUNT)
		return false;
	switch (k) {
	case POL_KIND_EXPRESSWAY: return true;
	case POL_KIND_CUCM:
	case POL_KIND_UNITY:
	case POL_KIND_CUBE:
	case POL_KIND_CMS: return s == POL_SVC_NEIGHBOUR;
	case POL_KIND_B2B_PEER: return s == POL_SVC_B2B;
	case POL_KIND_FEDERATION_PEER: return s == POL_SVC_FEDERATION;
	case POL_KIND_CLOUD: return s == POL_SVC_CLOUD;
	case POL_KIND_COUNT: break;
	}
	return false;
}

const char *pol_role_name(enum pol_role r)
{
	switch (r) {
	case POL_ROLE_C: return "c";
	case POL_ROLE_E: return "e";
	}
	return "?";
}

int pol_role_parse(const char *s, enum pol_role *out)
{
	if (s == NULL)
		return EKL_EINVAL;
	if (strcmp(s, "c") == 0) {
		*out = POL_ROLE_C;
		return 0;
	}
	if (strcmp(s, "e") == 0) {
		*out = POL_ROLE_E;
		return 0;
	}
	return EKL_EINVAL;
}

const char *pol_side_name(enum pol_side s)
{
	switch (s) {
	case POL_SIDE_NONE: return "none";
	case POL_SIDE_INITIATOR: return "initiator";
	case POL_SIDE_ACCEPTOR: return "acceptor";
	}
	return "?";
}

/* ---- versions ---- */

/* Length of the decimal component at s (digits only, no leading zero
 * unless the component is "0"), or 0 when s does not start with one. */
static size_t component_len(const char *s)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n > 1 && s[0] == '0')
		return 0;
	return n;
}

/* The grammar is "X" MAJOR "." MINOR { "." N }: uppercase X, decimal
 * components, nothing else. X14.* and X15.0-X15.3 are pre-X15.4 (F7 lists
 * X14.0.0-X14.3.7 and X15.0.0-X15.3.2 as affected; B maps the whole
 * family). X15.4 and X15.5 keep any patch suffix. */
int pol_version_parse(const char *s, enum pol_vclass *out)
{
	const char *major;
	const char *minor;
	const char *p;
	size_t major_len;
	size_t minor_len;
	size_t n;

	if (s == NULL || s[0] != 'X')
		return EKL_EVERSION;
	major = s + 1;
	major_len = component_len(major);
	if (major_len == 0 || major[major_len] != '.')
		return EKL_EVERSION;
	minor = major + major_len + 1;
	minor_len = component_len(minor);
	if (minor_len == 0)
		return EKL_EVERSION;
	/* Optional further ".N" components, then the end of the string. */
	for (p = minor + minor_len; *p != '\0'; p += n) {
		if (*p != '.')
			return EKL_EVERSION;
		p++;
		n = component_len(p);
		if (n == 0)
			return EKL_EVERSION;
	}

	if (major_len == 2 && strncmp(major, "14", 2) == 0) {
		*out = POL_V_PRE154;
		return 0;
	}
	if (major_len != 2 || strncmp(major, "15", 2) != 0 || minor_len != 1)
		return EKL_EVERSION;
	switch (minor[0]) {
	case '0':
	case '1':
	case '2':
	case '3': *out = POL_V_PRE154; return 0;
	case '4': *out = POL_V_X154; return 0;
	case '5': *out = POL_V_X155; return 0;
	}
	return EKL_EVERSION;
}

/* ---- who dials ---- */

static bool is_expressway(const struct pol_node *n)
{
	return n->kind == POL_KIND_EXPRESSWAY;
}

/* One end of a zone connection: an Expressway, or an external of a kind
 * that serves the service. */
static bool zone_end(const struct pol_node *n, enum pol_service s)
{
	return is_expressway(n) || pol_kind_serves(n->kind, s);
}

bool pol_may_initiate(enum pol_service s, const struct pol_node *from,
		      const struct pol_node *to)
{
	if (from == NULL || to == NULL)
		return false;
	switch (pol_service_dialer(s)) {
	case POL_DIALS_CLIENT_CLUSTER:
		return is_expressway(from) && is_expressway(to) &&
		       from->role == POL_ROLE_C && to->role == POL_ROLE_E;
	case POL_DIALS_EXPRESSWAY:
		return is_expressway(from) && !is_expressway(to) &&
		       pol_kind_serves(to->kind, s);
	case POL_DIALS_EITHER: break;
	}
	if (s == POL_SVC_CLUSTERDB) /* which cluster: the topology's */
		return is_expressway(from) && is_expressway(to);
	if ((unsigned)s >= POL_SVC_COUNT)
		return false;
	return (is_expressway(from) || is_expressway(to)) &&
	       zone_end(from, s) && zone_end(to, s);
}

/* ---- rules ---- */

bool pol_client_eku_check(const struct pol_node *n, enum pol_service s)
{
	if ((unsigned)s < POL_SVC_COUNT) {
		switch (n->client_eku_service[s]) {
		case POL_SW_CHECK: return true;
		case POL_SW_IGNORE: return false;
		case POL_SW_DEFAULT: break;
		}
	}
	return n->client_eku_check;
}

/* Does an enforcing acceptor check clientAuth on the initiator's chain?
 * This is the acceptor rows of the table at the top of this file. */
static bool acceptor_checks_client_purpose(const struct pol_node *v,
					   enum pol_service service)
{
	if (!is_expressway(v))
		return v->checks_client_eku;
	if (service == POL_SVC_CLUSTERDB) {
		switch (v->version) {
		case POL_V_PRE154: return true;
		case POL_V_X154:
		case POL_V_X155: return false;
		}
		return true; /* unknown version: the strict answer */
	}
	/* Zone services: checked on every version (F12, F19), unless the
	 * X15.5 switch is off for this service (F13). */
	return v->version != POL_V_X155 || pol_client_eku_check(v, service);
}

/* MRA (F17): Expressway-C requires serverAuth on E's chain, and clientAuth
 * as well before X15.4. Enforced whatever C's verify mode (a modelling
 * choice: the notice offers no verify-mode workaround for MRA). */
static void mra_rules(const struct pol_node *c, struct pol_rules *out)
{
	out->verify = true;
	out->require_cert = true;
	out->check_purpose = true;
	out->purpose = POL_EKU_SERVER;
	out->also_purpose = c->version == POL_V_X154 || c->version == POL_V_X155
				? 0
				: POL_EKU_CLIENT;
}

void pol_rules(const struct pol_node *verifier, enum pol_side as,
	       enum pol_service service, struct pol_rules *out)
{
	bool enforce = verifier->mode == POL_ENFORCE;

	if (service == POL_SVC_MRA) {
		mra_rules(verifier, out);
		return;
	}
	out->verify = enforce;
	out->require_cert = enforce;
	out->also_purpose = 0;
	if (as == POL_SIDE_ACCEPTOR) {
		out->purpose = POL_EKU_CLIENT;
		out->check_purpose = enforce && acceptor_checks_client_purpose(
						    verifier, service);
	} else {
		out->purpose = POL_EKU_SERVER;
		out->check_purpose = enforce;
	}
}

const struct pol_chain *pol_presented(const struct pol_node *n,
				      enum pol_side as)
{
	if (as == POL_SIDE_INITIATOR && n->client_chain != NULL &&
	    (!is_expressway(n) || n->version == POL_V_X155))
		return n->client_chain;
	return n->server_chain;
}

/* ---- identity ---- */

static bool ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

/* Is pattern a wildcard OpenSSL honours: "*." then at least two non-empty
 * letter-digit-hyphen labels ("*.com" and "*.a_b.com" are not)? */
static bool valid_wildcard(const char *pattern)
{
	const char *p;
	int labels = 0;
	bool in_label = false;

	if (pattern[0] != '*' || pattern[1] != '.')
		return false;
	for (p = pattern + 2; *p != '\0'; p++) {
		if (*p == '.') {
			if (!in_label)
				return false;
			in_label = false;
		} else if (ldh(*p)) {
			if (!in_label)
				labels++;
			in_label = true;
		} else {
			return false;
		}
	}
	return in_label && labels >= 2;
}

/* One presented DNS name (SAN or CN) against the name we look for, as
 * OpenSSL's X509_check_host does with no flags: case-insensitive; a valid
 * "*." wildcard stands for exactly one non-empty left-most label of
 * letters, digits and hyphens (or a literal "*"); anything else compares
 * literally. */
static bool dns_matches(const char *pattern, const char *name)
{
	const char *dot;
	const char *p;

	if (pattern[0] == '\0' || name[0] == '\0')
		return false;
	if (!valid_wildcard(pattern))
		return strcasecmp(pattern, name) == 0;
	dot = strchr(name, '.');
	if (dot == NULL || dot == name || strcasecmp(dot, pattern + 1) != 0)
		return false;
	if (dot == name + 1 && name[0] == '*')
		return true;
	for (p = name; p < dot; p++)
		if (!ldh(*p))
			return false;
	return true;
}

/* Binary equality of two textual IP addresses of the same family. */
static bool ip_equal(int family, const unsigned char *want, const char *text)
{
	unsigned char got[16];
	size_t n = family == AF_INET ? 4 : 16;

	if (inet_pton(family, text, got) != 1)
		return false;
	return memcmp(want, got, n) == 0;
}

bool pol_name_matches(const struct pol_chain *ch, const char *name)
{
	unsigned char addr[16];
	int family = 0;
	int i;

	if (ch == NULL || name == NULL || name[0] == '\0')
		return false;
	if (inet_pton(AF_INET, name, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, name, addr) == 1)
		family = AF_INET6;

	/* An address is checked against IP SANs only (X509_check_ip_asc). */
	if (family != 0) {
		for (i = 0; i < ch->n_ip && i < POL_MAX_NAMES; i++)
			if (ip_equal(family, addr, ch->ip[i]))
				return true;
		return false;
	}
	for (i = 0; i < ch->n_dns && i < POL_MAX_NAMES; i++)
		if (dns_matches(ch->dns[i], name))
			return true;
	/* Modelling choice (docs/model.md): CN only when the leaf has no SAN.
	 */
	if (ch->n_dns == 0 && ch->n_ip == 0)
		return dns_matches(ch->cn, name);
	return false;
}

/* ---- one chain ---- */

/* F20: an EKU extension that lacks the purpose rejects it; no extension
 * accepts; anyExtendedKeyUsage does not count. */
static bool cert_rejects_purpose(const struct pol_cert *c, unsigned purpose)
{
	return (c->eku & POL_EKU_EXT) != 0 && (c->eku & purpose) == 0;
}

static enum pol_code purpose_code(unsigned purpose)
{
	return purpose == POL_EKU_SERVER ? POL_SERVER_PURPOSE
					 : POL_CLIENT_PURPOSE;
}

/* The first certificate of the chain (leaf up) that rejects `purpose`. */
static int first_purpose_reject(const struct pol_chain *ch, int len,
				unsigned purpose)
{
	int i;

	for (i = 0; i < len; i++)
		if (cert_rejects_purpose(&ch->certs[i], purpose))
			return i;
	return -1;
}

enum pol_code pol_check_chain(const struct pol_rules *rules,
			      const struct pol_chain *ch,
			      const char *const *names, size_t n_names,
			      int64_t now, int *depth)
{
	/* Enforcing with the purpose check off skips purpose errors; a
	 * permissive verifier reports what enforcing would have found. */
	bool purpose_counts = rules->check_purpose || !rules->verify;
	bool matched;
	int len;
	int i;
	size_t k;

	*depth = -1;
	if (ch == NULL || ch->len <= 0)
		return POL_NO_CERTIFICATE;
	len = ch->len < POL_MAX_CHAIN ? ch->len : POL_MAX_CHAIN;

	if (!ch->anchored) {
		*depth = len - 1;
		return POL_UNTRUSTED;
	}

	if (purpose_counts) {
		i = first_purpose_reject(ch, len, rules->purpose);
		if (i >= 0) {
			*depth = i;
			return purpose_code(rules->purpose);
		}
	}

	for (i = len - 1; i >= 0; i--) {
		if (now < ch->certs[i].not_before) {
			*depth = i;
			return POL_NOT_YET_VALID;
		}
		if (now > ch->certs[i].not_after) {
			*depth = i;
			return POL_EXPIRED;
		}
	}

	if (names != NULL && n_names > 0) {
		matched = false;
		for (k = 0; k < n_names && !matched; k++)
			matched = pol_name_matches(ch, names[k]);
		if (!matched) {
			*depth = 0;
			return POL_NAME_MISMATCH;
		}
	}

	if (purpose_counts && rules->also_purpose != 0) {
		i = first_purpose_reject(ch, len, rules->also_purpose);
		if (i >= 0) {
			*depth = i;
			return purpose_code(rules->also_purpose);
		}
	}
	return POL_OK;
}

/* ---- the decision ---- */

static void reject(struct pol_verdict *out, enum pol_side side,
		   enum pol_code code, int depth)
{
	out->ok = false;
	out->side = side;
	out->code = code;
	out->depth = depth;
}

static void accept_all(struct pol_verdict *out)
{
	out->ok = true;
	out->side = POL_SIDE_NONE;
	out->code = POL_OK;
	out->depth = -1;
}

void pol_decide(const struct pol_conn *c, struct pol_verdict *out)
{
	enum pol_service hs = pol_service_handshake(c->service);
	struct pol_rules rules;
	const struct pol_chain *ch;
	const char *const expects[1] = {c->initiator_expects};
	enum pol_code code;
	int depth;

	/* 1. The initiator verifies the acceptor's certificate. */
	ch = pol_presented(c->acceptor, POL_SIDE_ACCEPTOR);
	pol_rules(c->initiator, POL_SIDE_INITIATOR, hs, &rules);
	code = pol_check_chain(&rules, ch, expects,
			       c->initiator_expects != NULL ? 1 : 0,
			       c->initiator_time, &depth);
	if (rules.verify && code != POL_OK) {
		reject(out, POL_SIDE_INITIATOR, code, depth);
		return;
	}

	/* 2. The acceptor verifies the initiator's certificate. */
	ch = pol_presented(c->initiator, POL_SIDE_INITIATOR);
	pol_rules(c->acceptor, POL_SIDE_ACCEPTOR, hs, &rules);
	code = pol_check_chain(&rules, ch, c->acceptor_accepts,
			       c->n_acceptor_accepts, c->acceptor_time, &depth);
	if (rules.verify && code != POL_OK) {
		reject(out, POL_SIDE_ACCEPTOR, code, depth);
		return;
	}

	/* 3. MRA: over the working traversal connection, E's message. */
	if (c->service == POL_SVC_MRA) {
		pol_decide_mra(c, out);
		return;
	}
	accept_all(out);
}

void pol_decide_mra(const struct pol_conn *c, struct pol_verdict *out)
{
	struct pol_rules rules;
	const char *const expects[1] = {c->initiator_expects};
	enum pol_code code;
	int depth;

	pol_rules(c->initiator, POL_SIDE_INITIATOR, POL_SVC_MRA, &rules);
	code = pol_check_chain(
	    &rules, pol_presented(c->acceptor, POL_SIDE_ACCEPTOR), expects,
	    c->initiator_expects != NULL ? 1 : 0, c->initiator_time, &depth);
	if (rules.verify && code != POL_OK) {
		reject(out, POL_SIDE_INITIATOR, code, depth);
		return;
	}
	accept_all(out);
}
