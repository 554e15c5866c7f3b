/* tls.h: OpenSSL configured from the policy rules; non-blocking handshakes.
 *
 * A tls_ctx holds one node's TLS identity and its verification settings,
 * which it takes from pol_rules() (never from its own copy of the rules).
 * A tls_conn is one TLS session over a connected, non-blocking socket.
 *
 * Verification is OpenSSL's own (X509_verify_cert with the ssl_client /
 * ssl_server purpose). A verify callback applies the rules: it records the
 * first error as a policy code, skips purpose errors when the rules say so,
 * never rejects in permissive mode, and checks the peer identity against
 * the expected names once the chain has verified. When it rejects, it sets
 * the error OpenSSL reports so that the TLS alert tells the peer exactly
 * which code (see tls_alert_code()).
 */
#ifndef EKULAB_TLS_H
#define EKULAB_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct tls_config {
	enum pol_vclass version;
	enum pol_mode mode;
	bool client_eku_check;	  /* X15.5 only */
	enum pol_service service; /* POL_SVC_CLUSTERDB for ekunode */
	const char *ca_file;	  /* trust bundle */
	const char *cert_file;	  /* server certificate chain (PEM) */
	const char *key_file;
	const char *client_cert_file; /* X15.5 client certificate, or NULL */
	const char *client_key_file;
	bool no_cert; /* test hook: present no certificate when
			 initiating (cert_file may then be NULL) */
	bool at_set;  /* evaluate certificates at `at`, not now */
	int64_t at;
	/* Identities accepted from inbound callers (configured peer names).
	 * Copied by tls_ctx_new. */
	const char *const *peer_names;
	size_t n_peer_names;
};

struct tls_ctx;

/* Build a context: loads and checks the certificates and keys (key matches
 * certificate; key file not readable by group or others), the trust bundle,
 * and the rules for both sides. On error, err names the file and what to do.
 * Caller frees with tls_ctx_free (accepts NULL). */
int tls_ctx_new(const struct tls_config *cfg, struct tls_ctx **out, char *err);
void tls_ctx_free(struct tls_ctx *ctx);

/* What our verification of the peer saw during one handshake. */
struct tls_verify {
	bool have_cert;		    /* the peer presented a certificate */
	enum pol_code code;	    /* first error seen (POL_OK if none) */
	int depth;		    /* its depth, or -1 */
	bool rejected;		    /* code was enforced: the handshake fails */
	int x509_err;		    /* OpenSSL's X509_V_ERR_* for code */
	char claimed[POL_NAME_LEN]; /* leaf identity (certinfo_identity) */
	char subject[256];	    /* leaf subject, one line */
	unsigned eku;		    /* leaf POL_EKU_* bits */
};

enum tls_io {
	TLS_IO_OK = 0,	   /* done (handshake complete / bytes moved) */
	TLS_IO_WANT_READ,  /* wait for the socket to be readable, call again */
	TLS_IO_WANT_WRITE, /* wait for the socket to be writable, call again */
	TLS_IO_CLOSED,	   /* orderly close by the peer */
	TLS_IO_FATAL,	   /* failed; see tls_conn_failure() */
};

struct tls_conn;

/* Wrap a connected non-blocking socket (not owned: the caller closes fd).
 * side: POL_SIDE_INITIATOR (TLS client) or POL_SIDE_ACCEPTOR (TLS server).
 * expect: for an initiator, the identity expected in the acceptor's
 * certificate (copied); ignored for an acceptor, which accepts the ctx's
 * peer names. Caller frees with tls_conn_free (accepts NULL). */
int tls_conn_new(struct tls_ctx *ctx, int fd, enum pol_side side,
		 const char *expect, struct tls_conn **out, char *err);
void tls_conn_free(struct tls_conn *c);

/* Drive the handshake; call again on WANT_READ/WANT_WRITE. */
enum tls_io tls_handshake(struct tls_conn *c);
/* Read/write up to len bytes; *n gets the count moved on TLS_IO_OK. */
enum tls_io tls_read(struct tls_conn *c, void *buf, size_t len, size_t *n);
enum tls_io tls_write(struct tls_conn *c, const void *buf, size_t len,
		      size_t *n);
/* Bytes already decrypted and buffered inside OpenSSL. */
size_t tls_pending(struct tls_conn *c);
/* Send close_notify (best effort, non-blocking). */
void tls_shutdown(struct tls_conn *c);

/* Why a session failed, from either end's point of view. */
struct tls_failure {
	enum pol_side side; /* who rejected: us or the peer; NONE when the
			       failure is not a certificate rejection */
	enum pol_code code; /* POL_OK when not a certificate rejection */
	int depth;	    /* -1 when unknown (e.g. learned from an alert) */
	char message[256];  /* human text: OpenSSL reason, alert, errno */
};

/* After TLS_IO_FATAL (or CLOSED): fill f. When we rejected the peer, from our
 * verify record; when the peer rejected us, from its alert. */
void tls_conn_failure(struct tls_conn *c, struct tls_failure *f);

const struct tls_verify *tls_conn_verify(const struct tls_conn *c);
/* After a handshake: does the peer's certificate name `name` (the same
 * DNS/IP matching as the handshake's identity check)? False when the peer
 * presented no certificate. */
bool tls_conn_peer_matches(const struct tls_conn *c, const char *name);
enum pol_side tls_conn_side(const struct tls_conn *c);
const char *tls_conn_version(const struct tls_conn *c); /* "TLSv1.3" */
const char *tls_conn_cipher(const struct tls_conn *c);

/* The policy code a rejecting peer signals with TLS alert `alert`, given
 * which side sent it; POL_OK when the alert names no certificate problem. */
enum pol_code tls_alert_code(int alert, enum pol_side sender);

#endif
