/* tls.h: OpenSSL configured from the policy rules; non-blocking handshakes.
 *
 * A tls_ctx holds one endpoint's TLS identity and its verification settings
 * for one service, which it takes from pol_rules() (never from its own copy
 * of the rules). The endpoint is an Expressway node or an external peer
 * (CUCM, a federation peer, the cloud...): an external is a verifier with
 * its own rule, configured the same way (tls_config.kind and
 * checks_client_eku). A tls_conn is one TLS session over a connected,
 * non-blocking socket. tls_verify_chain() checks a certificate chain that
 * arrives in a message rather than a handshake (MRA's SIP SERVICE), with
 * the same verification code.
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

#include <openssl/x509.h>

#include "policy.h"

/* The policy fields mirror struct pol_node (policy.h): zero means an
 * Expressway (kind), the node-wide X15.5 switch alone (client_eku_service
 * all POL_SW_DEFAULT), and, for an external, no client EKU check. */
struct tls_config {
	enum pol_vclass version;
	enum pol_mode mode;
	bool client_eku_check; /* X15.5 only: node-wide default */
	/* POL_SVC_CLUSTERDB for ekunode's replication; a context for
	 * POL_SVC_MRA is a traversal one (pol_service_handshake). */
	enum pol_service service;
	enum pol_kind kind;	/* POL_KIND_EXPRESSWAY or an external */
	bool checks_client_eku; /* external acceptor only */
	enum pol_switch client_eku_service[POL_SVC_COUNT]; /* X15.5 only */
	const char *ca_file;				   /* trust bundle */
	const char *cert_file; /* server certificate chain (PEM) */
	const char *key_file;
	/* Client certificate, or NULL: presented when initiating by an X15.5
	 * Expressway or an external (pol_presented). */
	const char *client_cert_file;
	const char *client_key_file;
	bool no_cert; /* test hook: present no certificate when
			 initiating (cert_file may then be NULL) */
	bool at_set;  /* evaluate certificates at `at`, not now */
	int64_t at;
	/* Identities accepted from inbound callers (configured peer names).
	 * Copied by tls_ctx_new. */
	const char *const *peer_names;
	size_t n_peer_names;
	/* Files already parsed, shared between contexts (see
	 * tls_files_new), or NULL: every context reads its files. */
	struct tls_files *files;
};

/* A process that builds many contexts from a few files (the matrix: ~180
 * contexts from ~30 certificates and one trust bundle) parses each file
 * once: the trust bundle becomes one X509_STORE shared by the contexts, a
 * certificate chain and a key are parsed on first use and referenced by
 * every context that presents them. The checks are the same as without
 * (readable regular files, key mode 0600, key matches certificate), made
 * when a file is first parsed. The cache is not thread-safe (one thread
 * builds contexts); contexts keep their own references, so it may be
 * freed before them. */
struct tls_files;
int tls_files_new(struct tls_files **out, char *err);
void tls_files_free(struct tls_files *f);

struct tls_ctx;

/* Build a context: loads and checks the certificates and keys (key matches
 * certificate; key file not readable by group or others), the trust bundle,
 * and the rules for both sides. On error, err names the file and what to do.
 * Caller frees with tls_ctx_free (accepts NULL). */
int tls_ctx_new(const struct tls_config *cfg, struct tls_ctx **out, char *err);
void tls_ctx_free(struct tls_ctx *ctx);

/* What our verification of the peer saw during one handshake (or, from
 * tls_verify_chain, in one message). */
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
/* Let OpenSSL take everything the socket holds in one read() (read-ahead)
 * instead of a record header and then its body: one system call fewer
 * per record received. Only for a caller that calls tls_read until it
 * returns TLS_IO_WANT_READ: records read ahead wait inside OpenSSL, where
 * neither epoll nor tls_pending() sees them. */
void tls_read_ahead(struct tls_conn *c);
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

/* ---- a certificate chain received in a message ---- */

#define TLS_CHAIN_MAX_BYTES 65536 /* larger messages are refused */
#define TLS_CHAIN_MAX_CERTS 10

/* What the verifier of a chain received outside a handshake checks. */
struct tls_chain_check {
	X509_STORE *store; /* the verifier's trust store (not owned) */
	int64_t at;	   /* evaluation time, seconds since the epoch */
	/* The verifier's rules: for MRA's SIP SERVICE message,
	 * pol_rules(C, POL_SIDE_INITIATOR, POL_SVC_MRA, ...). Not owned. */
	const struct pol_rules *rules;
	/* Identities accepted for the leaf (E's configured name); none =
	 * identity not checked. Not owned. */
	const char *const *names;
	size_t n_names;
};

/* Verify the certificate chain in chain[0..len) (PEM: one or more
 * certificates; or DER certificates back to back; the leaf first) with
 * OpenSSL's X509_verify_cert configured from chk->rules: chain to
 * chk->store, rules->purpose, validity at chk->at, identity, then (when
 * rules->also_purpose is set) a second pass for that purpose. The result
 * in *out is the same code and depth as pol_check_chain() gives for the
 * chain's facts (certinfo_chain), with out->rejected when the rules
 * enforce it; len 0 is no-certificate. Returns 0 when the chain was
 * evaluated (out says how), or EKL_EINVAL / EKL_ETOOBIG / EKL_ENOMEM /
 * EKL_ECRYPTO when it could not be (bytes that are no certificate chain,
 * over the limits above); a caller must then treat the message as
 * rejected. Thread-safe; nothing is kept. */
int tls_verify_chain(const struct tls_chain_check *chk, const void *chain,
		     size_t len, struct tls_verify *out, char *err);

/* The trust store ctx verifies peers with (borrowed: valid until
 * tls_ctx_free), for tls_chain_check.store. */
X509_STORE *tls_ctx_store(const struct tls_ctx *ctx);

#endif
