/* audit_trust.c: the audit's trust store and the class of a chain's root. */
#include "audit.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "ekulab/x509/certinfo.h"
#include "ekulab/x509/sslerr.h"

/* ==== trust and roots ================================================ */

const char *audit_root_name(enum audit_root r)
{
	switch (r) {
	case AUDIT_ROOT_UNKNOWN: return "unknown";
	case AUDIT_ROOT_PUBLIC: return "public";
	case AUDIT_ROOT_PRIVATE: return "private";
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
