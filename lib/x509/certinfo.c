/* certinfo.c: read certificates and turn them into policy facts. */
#include "ekulab/x509/certinfo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ekulab/core/err.h"
#include "ekulab/core/file.h"
#include "ekulab/x509/sslerr.h"

/* ---- one certificate ---- */

static bool has_ip_san(X509 *x)
{
	GENERAL_NAMES *gens =
	    X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;
	int i;

	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++)
		if (sk_GENERAL_NAME_value(gens, i)->type == GEN_IPADD)
			found = true;
	GENERAL_NAMES_free(gens);
	return found;
}

bool certinfo_names(X509 *leaf, const char *name)
{
	unsigned flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;
	unsigned char buf[16];

	if (leaf == NULL || name[0] == '\0')
		return false;
	if (inet_pton(AF_INET, name, buf) == 1 ||
	    inet_pton(AF_INET6, name, buf) == 1)
		return X509_check_ip_asc(leaf, name, 0) == 1;
	if (has_ip_san(leaf))
		flags |= X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
	return X509_check_host(leaf, name, 0, flags, NULL) == 1;
}

unsigned certinfo_eku(X509 *x)
{
	EXTENDED_KEY_USAGE *eku;
	unsigned bits = 0;
	int crit = -1;
	int i;

	eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL) {
		/* crit is -1 when the extension is absent; otherwise it is
		 * present but unreadable, which OpenSSL treats as granting no
		 * purpose: report an EKU extension with no known usage. */
		ERR_clear_error();
		return crit == -1 ? 0 : POL_EKU_EXT;
	}
	bits = POL_EKU_EXT;
	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		switch (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i))) {
		case NID_server_auth: bits |= POL_EKU_SERVER; break;
		case NID_client_auth: bits |= POL_EKU_CLIENT; break;
		case NID_anyExtendedKeyUsage: bits |= POL_EKU_ANY; break;
		default: bits |= POL_EKU_OTHER;
		}
	}
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return bits;
}

/* Copy an IA5String (a DNS SAN) into out; false when it holds a NUL or
 * does not fit. */
static bool ia5_copy(const ASN1_STRING *s, char *out, size_t len)
{
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int n = ASN1_STRING_length(s);

	if (d == NULL || n <= 0 || (size_t)n >= len ||
	    memchr(d, '\0', (size_t)n) != NULL)
		return false;
	memcpy(out, d, (size_t)n);
	out[n] = '\0';
	return true;
}

/* Format an iPAddress SAN (4 or 16 octets) as text. */
static bool ip_copy(const ASN1_OCTET_STRING *s, char *out, size_t len)
{
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int n = ASN1_STRING_length(s);
	int family;

	if (n == 4)
		family = AF_INET;
	else if (n == 16)
		family = AF_INET6;
	else
		return false;
	return inet_ntop(family, d, out, (socklen_t)len) != NULL;
}

/* The first subject CN as UTF-8, or "" (also when it holds a NUL or does
 * not fit). */
static void cn_copy(X509 *x, char *out, size_t len)
{
	X509_NAME *subject = X509_get_subject_name(x);
	X509_NAME_ENTRY *e;
	unsigned char *utf8 = NULL;
	int i;
	int n;

	out[0] = '\0';
	i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
	if (i < 0)
		return;
	e = X509_NAME_get_entry(subject, i);
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	if (n > 0 && (size_t)n < len && memchr(utf8, '\0', (size_t)n) == NULL) {
		memcpy(out, utf8, (size_t)n);
		out[n] = '\0';
	}
	OPENSSL_free(utf8);
}

void certinfo_identity(X509 *x, char *out, size_t len)
{
	GENERAL_NAMES *sans;
	GENERAL_NAME *g;
	int i;

	if (len == 0)
		return;
	out[0] = '\0';
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		g = sk_GENERAL_NAME_value(sans, i);
		if (g->type == GEN_DNS && ia5_copy(g->d.dNSName, out, len))
			goto done;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		g = sk_GENERAL_NAME_value(sans, i);
		if (g->type == GEN_IPADD && ip_copy(g->d.iPAddress, out, len))
			goto done;
	}
	cn_copy(x, out, len);
done:
	GENERAL_NAMES_free(sans);
	ERR_clear_error();
}

/* All DNS and IP SANs of the leaf (up to POL_MAX_NAMES each) and its CN. */
static void leaf_names(X509 *x, struct pol_chain *ch)
{
	GENERAL_NAMES *sans;
	GENERAL_NAME *g;
	int i;

	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		g = sk_GENERAL_NAME_value(sans, i);
		if (g->type == GEN_DNS && ch->n_dns < POL_MAX_NAMES &&
		    ia5_copy(g->d.dNSName, ch->dns[ch->n_dns], POL_NAME_LEN))
			ch->n_dns++;
		else if (g->type == GEN_IPADD && ch->n_ip < POL_MAX_NAMES &&
			 ip_copy(g->d.iPAddress, ch->ip[ch->n_ip], POL_IP_LEN))
			ch->n_ip++;
	}
	GENERAL_NAMES_free(sans);
	cn_copy(x, ch->cn, sizeof(ch->cn));
	ERR_clear_error();
}

static int asn1_epoch(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static int cert_facts(X509 *x, int depth, struct pol_cert *out, char *err)
{
	out->eku = certinfo_eku(x);
	if (asn1_epoch(X509_get0_notBefore(x), &out->not_before) != 0 ||
	    asn1_epoch(X509_get0_notAfter(x), &out->not_after) != 0)
		return ekl_errf_ssl(err, EKL_ECRYPTO,
				    "certificate at depth %d: unreadable "
				    "validity dates",
				    depth);
	return 0;
}

/* ---- chains ---- */

/* Path building only: every error but those that mean "no path to a root
 * of the store" is ignored (time and purpose are the policy's business). */
bool certinfo_is_chain_error(int x509_err)
{
	switch (x509_err) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE: return true;
	}
	return false;
}

static int build_only_cb(int ok, X509_STORE_CTX *ctx)
{
	if (ok)
		return 1;
	return certinfo_is_chain_error(X509_STORE_CTX_get_error(ctx)) ? 0 : 1;
}

/* Does a path from leaf to a root of store exist? On success *path is the
 * verified chain (a new reference the caller frees), else NULL. */
static int find_path(X509 *leaf, STACK_OF(X509) *extra, X509_STORE *store,
		     STACK_OF(X509) **path, char *err)
{
	X509_STORE_CTX *ctx;
	int rc = 0;

	*path = NULL;
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL)
		return ekl_errf_ssl(err, EKL_ENOMEM,
				    "certificate chain: "
				    "out of memory");
	if (X509_STORE_CTX_init(ctx, store, leaf, extra) != 1) {
		rc = ekl_errf_ssl(err, EKL_ECRYPTO,
				  "certificate chain: cannot set up "
				  "verification");
		goto out;
	}
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
				    X509_V_FLAG_NO_CHECK_TIME);
	X509_STORE_CTX_set_verify_cb(ctx, build_only_cb);
	if (X509_verify_cert(ctx) == 1) {
		*path = X509_STORE_CTX_get1_chain(ctx);
		if (*path == NULL)
			rc = ekl_errf_ssl(err, EKL_ENOMEM,
					  "certificate chain: out of memory");
	}
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int certinfo_path(X509 *leaf, STACK_OF(X509) *extra, X509_STORE *store,
		  STACK_OF(X509) **path, char *err)
{
	*path = NULL;
	if (leaf == NULL || store == NULL)
		return 0;
	return find_path(leaf, extra, store, path, err);
}

int certinfo_chain(X509 *leaf, STACK_OF(X509) *extra, X509_STORE *store,
		   struct pol_chain *ch, char *err)
{
	STACK_OF(X509) *path = NULL;
	int n;
	int i;
	int rc;

	memset(ch, 0, sizeof(*ch));
	if (leaf == NULL)
		return 0;
	if (store != NULL) {
		rc = find_path(leaf, extra, store, &path, err);
		if (rc != 0)
			return rc;
	}

	if (path != NULL) {
		n = sk_X509_num(path);
		if (n > POL_MAX_CHAIN) {
			rc = ekl_errf(err, EKL_EINVAL,
				      "certificate chain of %d certificates "
				      "is longer than the %d ekulab models; "
				      "shorten the hierarchy",
				      n, POL_MAX_CHAIN);
			goto out;
		}
		ch->anchored = true;
		for (i = 0; i < n; i++) {
			rc = cert_facts(sk_X509_value(path, i), i,
					&ch->certs[i], err);
			if (rc != 0)
				goto out;
		}
		ch->len = n;
	} else {
		/* Not anchored: the facts of what was presented, in order. */
		rc = cert_facts(leaf, 0, &ch->certs[0], err);
		if (rc != 0)
			goto out;
		ch->len = 1;
		for (i = 0; i < sk_X509_num(extra) && ch->len < POL_MAX_CHAIN;
		     i++) {
			rc = cert_facts(sk_X509_value(extra, i), ch->len,
					&ch->certs[ch->len], err);
			if (rc != 0)
				goto out;
			ch->len++;
		}
	}
	leaf_names(leaf, ch);
	rc = 0;
out:
	sk_X509_pop_free(path, X509_free);
	if (rc != 0)
		memset(ch, 0, sizeof(*ch));
	return rc;
}

/* ---- files ---- */

/* Every PEM certificate of `path` into a new stack (at least one). `what`
 * names the file's role in messages. Only the path is ever printed, never
 * the file's content. */
static int read_certs(const char *path, const char *what, STACK_OF(X509) **out,
		      char *err)
{
	STACK_OF(X509) *certs = NULL;
	struct stat st;
	unsigned long e;
	FILE *fp;
	X509 *x;
	int rc;
	int fd;
	int en;

	*out = NULL;
	/* Never waits on a FIFO for a writer (file_open_read). */
	en = file_open_read(path, &fd, &st);
	if (en == ENOENT)
		return ekl_errf(err, EKL_ENOENT,
				"%s '%s': no such file; check the path", what,
				path);
	if (en == EACCES)
		return ekl_errf(err, EKL_EPERM,
				"%s '%s': permission denied; make it readable "
				"by this user",
				what, path);
	if (en != 0)
		return ekl_errf(err, EKL_EIO, "%s '%s': %s", what, path,
				strerror(en));
	if (fd < 0)
		return ekl_errf(err, EKL_EIO, "%s '%s': not a regular file",
				what, path);
	fp = fdopen(fd, "r");
	if (fp == NULL) {
		close(fd);
		return ekl_errf(err, EKL_ENOMEM, "%s '%s': out of memory", what,
				path);
	}
	if (st.st_size == 0) {
		rc = ekl_errf(err, EKL_EINVAL,
			      "%s '%s': file is empty; expected PEM "
			      "certificates",
			      what, path);
		goto err_after_open;
	}
	certs = sk_X509_new_null();
	if (certs == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "%s '%s': out of memory", what,
			      path);
		goto err_after_open;
	}
	ERR_clear_error();
	while ((x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			rc = ekl_errf(err, EKL_ENOMEM, "%s '%s': out of memory",
				      what, path);
			goto err_after_stack;
		}
	}
	/* The loop ends at the end of the file ("no start line") or at a
	 * malformed certificate. */
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) != ERR_LIB_PEM ||
	    ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
		ERR_clear_error();
		rc = ekl_errf(err, EKL_EINVAL,
			      "%s '%s': certificate %d is not valid PEM; "
			      "re-export it",
			      what, path, sk_X509_num(certs) + 1);
		goto err_after_stack;
	}
	ERR_clear_error();
	if (sk_X509_num(certs) == 0) {
		rc = ekl_errf(err, EKL_EINVAL,
			      "%s '%s': holds no PEM certificate (no "
			      "-----BEGIN CERTIFICATE----- block)",
			      what, path);
		goto err_after_stack;
	}
	fclose(fp);
	*out = certs;
	return 0;

err_after_stack:
	sk_X509_pop_free(certs, X509_free);
err_after_open:
	fclose(fp);
	return rc;
}

int certinfo_load_store(const char *path, X509_STORE **out, char *err)
{
	STACK_OF(X509) *certs;
	X509_STORE *store;
	int rc;
	int i;

	*out = NULL;
	rc = read_certs(path, "trust bundle", &certs, err);
	if (rc != 0)
		return rc;
	store = X509_STORE_new();
	if (store == NULL) {
		rc = ekl_errf_ssl(err, EKL_ENOMEM,
				  "trust bundle '%s': out of memory", path);
		goto err_after_read;
	}
	for (i = 0; i < sk_X509_num(certs); i++) {
		if (X509_STORE_add_cert(store, sk_X509_value(certs, i)) != 1) {
			rc = ekl_errf_ssl(err, EKL_ECRYPTO,
					  "trust bundle '%s': cannot add "
					  "certificate %d",
					  path, i + 1);
			goto err_after_store;
		}
	}
	sk_X509_pop_free(certs, X509_free);
	*out = store;
	return 0;

err_after_store:
	X509_STORE_free(store);
err_after_read:
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

int certinfo_load_chain(const char *path, X509 **leaf, STACK_OF(X509) **extra,
			char *err)
{
	STACK_OF(X509) *certs;
	int rc;

	*leaf = NULL;
	*extra = NULL;
	rc = read_certs(path, "certificate file", &certs, err);
	if (rc != 0)
		return rc;
	/* The stack keeps the rest, leaf removed: it becomes *extra. */
	*leaf = sk_X509_shift(certs);
	*extra = certs;
	return 0;
}

int certinfo_chain_file(const char *path, X509_STORE *store,
			struct pol_chain *ch, char *err)
{
	STACK_OF(X509) *extra;
	X509 *leaf;
	int rc;

	memset(ch, 0, sizeof(*ch));
	rc = certinfo_load_chain(path, &leaf, &extra, err);
	if (rc != 0)
		return rc;
	rc = certinfo_chain(leaf, extra, store, ch, err);
	X509_free(leaf);
	sk_X509_pop_free(extra, X509_free);
	return rc;
}
