/* certinfo.h: read certificates and turn them into policy facts. */
#ifndef EKULAB_CERTINFO_H
#define EKULAB_CERTINFO_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "policy.h"

/* Is this X509_V_ERR_* a failure to build a chain to a trusted root (the
 * policy's "untrusted")? One list, for certinfo and the TLS code. */
bool certinfo_is_chain_error(int x509_err);

/* EKU bits (POL_EKU_*) of one certificate. */
unsigned certinfo_eku(X509 *x);

/* The identity a leaf claims: its first DNS SAN, else its first IP SAN,
 * else its subject CN, else "". Writes at most len bytes (NUL included). */
void certinfo_identity(X509 *x, char *out, size_t len);

/* Does the leaf name `name`, as the handshake's identity check reads it?
 * OpenSSL's matcher with the policy's identity rules (pol_name_matches):
 * an IP literal against IP SANs; "*." wildcards for a whole left-most
 * label only; the subject CN only when the leaf has neither DNS nor IP
 * SANs (OpenSSL alone would also consult it next to IP SANs). The TLS
 * code and ekunode's start-up check use it. */
bool certinfo_names(X509 *leaf, const char *name);

/* Fill ch from a presented chain (leaf first; `extra` may be NULL) as a
 * verifier holding trust store `store` would build it: anchored when a path
 * to a root in store exists, ignoring time and purpose; the facts then
 * cover that whole path including the root, else only what was presented.
 * leaf NULL gives an empty chain (len 0). Returns 0 or a negative code. */
int certinfo_chain(X509 *leaf, STACK_OF(X509) *extra, X509_STORE *store,
		   struct pol_chain *ch, char *err);

/* The path a verifier holding `store` would build from leaf (leaf first,
 * the root of store last; `extra` may be NULL), ignoring time and purpose
 * as certinfo_chain does. *path is NULL when no path to a root of store
 * exists; otherwise a new stack the caller frees with sk_X509_pop_free.
 * Returns 0 or a negative code. */
int certinfo_path(X509 *leaf, STACK_OF(X509) *extra, X509_STORE *store,
		  STACK_OF(X509) **path, char *err);

/* Load a trust bundle (PEM, one or more certificates) into a new store.
 * Caller frees with X509_STORE_free. */
int certinfo_load_store(const char *path, X509_STORE **out, char *err);

/* Load a PEM certificate file: the first certificate is the leaf, the rest
 * go into *extra (a new stack, possibly empty). Caller frees both (leaf with
 * X509_free, extra with OSSL_STACK_OF_X509_free / sk_X509_pop_free). */
int certinfo_load_chain(const char *path, X509 **leaf, STACK_OF(X509) **extra,
			char *err);

/* Convenience: certinfo_load_chain + certinfo_chain. */
int certinfo_chain_file(const char *path, X509_STORE *store,
			struct pol_chain *ch, char *err);

#endif
