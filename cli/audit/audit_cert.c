/* audit_cert.c: one certificate of an audited source becomes one record. */
#include "audit_int.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ekulab/x509/certinfo.h"
#include "ekulab/core/mem.h"

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
	audit_clean_utf8(out);
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
		case GEN_IPADD: prefix = "IP"; break;
		default: prefix = "other"; break;
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
		audit_clean_utf8(buf);
		rc = audit_strv_push(out, buf);
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
		rc = audit_strv_push(&c->eku, buf);
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
	case EVP_PKEY_RSA: name = "RSA"; break;
	case EVP_PKEY_RSA_PSS: name = "RSA-PSS"; break;
	case EVP_PKEY_EC: name = "EC"; break;
	case EVP_PKEY_ED25519: name = "Ed25519"; break;
	case EVP_PKEY_ED448: name = "Ed448"; break;
	case EVP_PKEY_DSA: name = "DSA"; break;
	default: name = OBJ_nid2sn(id);
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

static int chain_subjects(X509 *x, STACK_OF(X509) *extra, STACK_OF(X509) *path,
			  struct audit_cert *c)
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
			rc = audit_strv_push(&c->chain, buf);
		}
		return rc;
	}
	/* Not anchored: what the source itself links, leaf first. */
	while (x != NULL && n < POL_MAX_CHAIN && rc == 0) {
		used[n++] = x;
		name_text(X509_get_subject_name(x), buf, sizeof(buf));
		rc = audit_strv_push(&c->chain, buf);
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
	size_t i, k;

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
		for (k = 0; k < t->n_services; k++)
			if (t->services[k].now != POL_OK)
				add_finding(
				    c, "zone_%s:%s/%s:%s",
				    pol_service_name(t->services[k].service), r,
				    t->target.version,
				    pol_code_name(t->services[k].now));
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

void audit_analyse(struct audit_run *r, const struct audit_opts *o,
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
	audit_clean_utf8(c->source);
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
		audit_add_error(r, source, "certificate #%d: %s", index, err);
		sk_X509_pop_free(path, X509_free);
		r->n_certs--;
		audit_strv_free(&c->sans);
		audit_strv_free(&c->eku);
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
	c->days_left = (c->f.not_after - o->at) / XPW_DAY;
	if (c->f.not_after < o->at && (c->f.not_after - o->at) % XPW_DAY)
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
