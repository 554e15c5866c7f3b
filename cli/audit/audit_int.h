/* audit_int.h: what the audit engine's files share; callers use audit.h. */
#ifndef EKULAB_CLI_AUDIT_INT_H
#define EKULAB_CLI_AUDIT_INT_H

#include <stdbool.h>

#include <openssl/x509.h>

#include "audit.h"

/* ---- audit.c: the run's records ---- */

/* Append a copy of s; EKL_ENOMEM when out of memory. */
int audit_strv_push(struct audit_strv *v, const char *s);
/* Free the strings and empty v. */
void audit_strv_free(struct audit_strv *v);
/* Replace what is not printable UTF-8 with '?', in place. */
void audit_clean_utf8(char *s);
/* One entry of the run's errors (r->oom when out of memory). */
void audit_add_error(struct audit_run *r, const char *source, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));
bool audit_ends_with(const char *s, const char *suffix);

/* ---- audit_rules.c ---- */

/* The target as the Expressway model's upload rule sees it. */
struct xpw_node audit_xpw_node(const struct audit_target *t);

/* ---- audit_cert.c ---- */

/* The record of certificate x, #index of `source` (others: the rest of
 * the source, to build its chain), added to r; a failure becomes a run
 * error. Borrows x and others. */
void audit_analyse(struct audit_run *r, const struct audit_opts *o,
		   const char *source, int index, X509 *x,
		   STACK_OF(X509) *others);

/* ---- audit_input.c ---- */

/* One input: a file, a directory (walked) or a live HOST:PORT. */
void audit_input(struct audit_run *r, const struct audit_opts *o,
		 const char *in);
/* The certificates of one file's content (PEM blocks, else DER X.509 or
 * PKCS#7) named `source`, audited into r; what is not a certificate
 * becomes a run error. data is borrowed (len bytes; not NUL-terminated
 * necessarily). tests/fuzz/fuzz_audit.c feeds it directly. */
void audit_data(struct audit_run *r, const struct audit_opts *o,
		const char *source, const unsigned char *data, long len);

#endif
