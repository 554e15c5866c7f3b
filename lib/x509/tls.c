/* tls.c: OpenSSL configured from the policy rules; non-blocking handshakes.
 *
 * The happy path: tls_ctx_new loads one node's certificates and trust
 * bundle into two SSL_CTX (server side for accepting, client side for
 * initiating) and asks pol_rules() what each side enforces. tls_conn_new
 * wraps a socket; tls_handshake is called until TLS_IO_OK. During the
 * handshake OpenSSL's X509_verify_cert calls verify_cb() for every error
 * and with ok=1 for every depth from the root down to the leaf; verify_cb
 * records what it sees, applies the rules, and checks the peer identity at
 * the final (depth 0, ok=1) call, so the check order is pol_check_chain's:
 * untrusted, purpose (leaf up), validity (root down), identity.
 *
 * The failure modes:
 *   - we reject: verify_cb sets a canonical X509 error so OpenSSL sends an
 *     alert that names the policy code (canonical_x509, tls_alert_code);
 *   - the peer rejects: its alert reaches info_cb; in TLS 1.3 a server's
 *     rejection of the client certificate arrives after the client's
 *     handshake completed, on the client's next read;
 *   - the acceptor gets no certificate: OpenSSL aborts with
 *     SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE (alert certificate_required
 *     in TLS 1.3, handshake_failure in TLS 1.2);
 *   - anything else (socket errors, EOF, protocol errors) is kept as text.
 * Every failure detail is captured when it happens (capture_failure): the
 * OpenSSL error queue is per thread and is cleared around every call.
 *
 * A chain received in a message (MRA's SIP SERVICE) goes through the same
 * callback logic (vrun_step) from tls_verify_chain: X509_verify_cert with
 * the rules' purpose, then, for a pre-X15.4 Expressway-C, a second pass
 * with the clientAuth purpose that only looks at purpose errors.
 */
#include "ekulab/x509/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ekulab/x509/certinfo.h"
#include "ekulab/core/err.h"
#include "ekulab/x509/sslerr.h"
#include "ekulab/core/mem.h"

/* TLS alert descriptions (RFC 8446 6.2) that carry a policy code. They are
 * what OpenSSL 3.0's ssl_x509err2alert() sends for the canonical errors
 * below (measured by tests/unit/test_tls.c). */
#define ALERT_HANDSHAKE_FAILURE	      40
#define ALERT_BAD_CERTIFICATE	      42
#define ALERT_UNSUPPORTED_CERTIFICATE 43
#define ALERT_CERTIFICATE_EXPIRED     45
#define ALERT_CERTIFICATE_UNKNOWN     46
#define ALERT_UNKNOWN_CA	      48
#define ALERT_CERTIFICATE_REQUIRED    116

struct tls_ctx {
	SSL_CTX *server;	       /* owned: used when accepting */
	SSL_CTX *client;	       /* owned: used when initiating */
	struct pol_rules server_rules; /* what we enforce as acceptor */
	struct pol_rules client_rules; /* what we enforce as initiator */
	char **peer_names;	       /* owned, n_peer_names strings */
	size_t n_peer_names;
};

/* One verification in progress: a handshake's (inside a tls_conn) or that
 * of a chain received in a message (tls_verify_chain). */
struct vrun {
	const struct pol_rules *rules; /* not owned */
	unsigned purpose;	       /* the purpose this pass checks */
	bool purpose_only; /* the also_purpose pass: only purpose errors */
	const char *const *names; /* identities accepted; none = no check */
	size_t n_names;
	struct tls_verify *v; /* the record being filled */
	bool recorded;	      /* v->code/depth hold the first error seen */
};

struct tls_conn {
	struct tls_ctx *ctx; /* not owned */
	SSL *ssl;	     /* owned */
	enum pol_side side;
	char *expect; /* owned; initiator only, or NULL */
	struct tls_verify verify;
	struct vrun run; /* rules point into ctx, names into expect or ctx */
	/* Failure details, captured when they happen. */
	bool failed;
	int read_alert;	   /* fatal alert received, or -1 */
	int write_alert;   /* fatal alert sent, or -1 */
	bool no_peer_cert; /* SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE */
	char reason[160];  /* OpenSSL reason or errno text */
};

/* ---- the SSL ex_data slot that leads from an SSL to its tls_conn ---- */

static pthread_once_t conn_index_once = PTHREAD_ONCE_INIT;
static int conn_index = -1; /* set once, then read-only */

static void conn_index_init(void)
{
	conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int conn_index_get(void)
{
	pthread_once(&conn_index_once, conn_index_init);
	return conn_index;
}

/* ---- policy codes and X509 errors ---- */

/* The policy code of an OpenSSL verification error seen while checking
 * `purpose` (POL_EKU_SERVER or POL_EKU_CLIENT). Unknown errors fall back to
 * the strict answer: untrusted. */
static enum pol_code code_of_x509(int e, unsigned purpose)
{
	if (certinfo_is_chain_error(e))
		return POL_UNTRUSTED;
	switch (e) {
	case X509_V_ERR_CERT_HAS_EXPIRED: return POL_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID: return POL_NOT_YET_VALID;
	case X509_V_ERR_INVALID_PURPOSE:
		return purpose == POL_EKU_SERVER ? POL_SERVER_PURPOSE
						 : POL_CLIENT_PURPOSE;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH: return POL_NAME_MISMATCH;
	}
	return POL_UNTRUSTED;
}

/* The error we report to OpenSSL when rejecting with `code`: chosen so that
 * ssl_x509err2alert() sends an alert naming the code (tls_alert_code). For
 * a name mismatch OpenSSL's own errors give bad_certificate (42, taken by
 * not-yet-valid) and X509_V_ERR_APPLICATION_VERIFICATION gives
 * handshake_failure (40), which OpenSSL also sends when no cipher is shared
 * and, in TLS 1.2, for a missing client certificate. We use
 * X509_V_ERR_SUBJECT_ISSUER_MISMATCH, which X509_verify_cert no longer
 * reports itself (OpenSSL >= 1.1.0) and which OpenSSL's table sends as
 * certificate_unknown (46). The error only names the alert: the verify
 * record keeps OpenSSL's original error. */
static int canonical_x509(enum pol_code code)
{
	switch (code) {
	case POL_EXPIRED: return X509_V_ERR_CERT_HAS_EXPIRED;
	case POL_NOT_YET_VALID: return X509_V_ERR_CERT_NOT_YET_VALID;
	case POL_NAME_MISMATCH: return X509_V_ERR_SUBJECT_ISSUER_MISMATCH;
	case POL_SERVER_PURPOSE:
	case POL_CLIENT_PURPOSE: return X509_V_ERR_INVALID_PURPOSE;
	case POL_OK:
	case POL_UNTRUSTED:
	case POL_NO_CERTIFICATE:
	case POL_CODE_COUNT: break;
	}
	return X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
}

enum pol_code tls_alert_code(int alert, enum pol_side sender)
{
	switch (alert) {
	case ALERT_UNKNOWN_CA: return POL_UNTRUSTED;
	case ALERT_CERTIFICATE_EXPIRED: return POL_EXPIRED;
	case ALERT_BAD_CERTIFICATE: return POL_NOT_YET_VALID;
	case ALERT_CERTIFICATE_UNKNOWN: return POL_NAME_MISMATCH;
	case ALERT_UNSUPPORTED_CERTIFICATE:
		return sender == POL_SIDE_INITIATOR ? POL_SERVER_PURPOSE
						    : POL_CLIENT_PURPOSE;
	case ALERT_CERTIFICATE_REQUIRED: return POL_NO_CERTIFICATE;
	}
	return POL_OK;
}

/* ---- verification ---- */

static bool is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

/* Does the leaf match `name`? (certinfo_names: the one matcher.) */
static bool leaf_matches(X509 *leaf, const char *name)
{
	return certinfo_names(leaf, name);
}

/* The peer identity check: any of the run's names (the initiator's one
 * expected name, the acceptor's peer names, a message's expected sender);
 * no names = nothing to check. */
static bool identity_ok(const struct vrun *r, X509 *leaf, int *x509_err)
{
	size_t i;

	if (r->n_names == 0)
		return true;
	*x509_err = r->n_names == 1 && is_ip_literal(r->names[0])
			? X509_V_ERR_IP_ADDRESS_MISMATCH
			: X509_V_ERR_HOSTNAME_MISMATCH;
	for (i = 0; i < r->n_names; i++)
		if (leaf_matches(leaf, r->names[i]))
			return true;
	return false;
}

static void record_leaf(struct tls_verify *v, X509 *leaf)
{
	if (v->have_cert || leaf == NULL)
		return;
	v->have_cert = true;
	certinfo_identity(leaf, v->claimed, sizeof(v->claimed));
	X509_NAME_oneline(X509_get_subject_name(leaf), v->subject,
			  sizeof(v->subject));
	v->eku = certinfo_eku(leaf);
}

static void record_first(struct vrun *r, enum pol_code code, int depth,
			 int x509_err)
{
	if (r->recorded)
		return;
	r->recorded = true;
	r->v->code = code;
	r->v->depth = depth;
	r->v->x509_err = x509_err;
}

static int reject(struct vrun *r, X509_STORE_CTX *xs, enum pol_code code,
		  int depth, int x509_err)
{
	r->recorded = true;
	r->v->rejected = true;
	r->v->code = code;
	r->v->depth = depth;
	r->v->x509_err = x509_err;
	X509_STORE_CTX_set_error(xs, canonical_x509(code));
	return 0;
}

/* One call of OpenSSL's verify callback, for either kind of run. */
static int vrun_step(struct vrun *r, int ok, X509_STORE_CTX *xs)
{
	const struct pol_rules *rules = r->rules;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	int depth = X509_STORE_CTX_get_error_depth(xs);
	int e;
	enum pol_code code;

	record_leaf(r->v, leaf);

	if (ok == 0) {
		e = X509_STORE_CTX_get_error(xs);
		/* The second purpose pass: the first one saw everything else.
		 */
		if (r->purpose_only && e != X509_V_ERR_INVALID_PURPOSE)
			return 1;
		code = code_of_x509(e, r->purpose);
		record_first(r, code, depth, e);
		if (!rules->verify)
			return 1; /* permissive: record only */
		if (e == X509_V_ERR_INVALID_PURPOSE && !rules->check_purpose)
			return 1; /* skipped, at any depth */
		return reject(r, xs, code, depth, e);
	}

	/* ok=1 at depth 0 is OpenSSL's last call: the whole chain, times
	 * included, verified or was overridden. Now the identity. */
	if (depth != 0 || leaf == NULL || r->purpose_only)
		return 1;
	e = X509_V_OK;
	if (identity_ok(r, leaf, &e))
		return 1;
	if (!rules->verify) {
		record_first(r, POL_NAME_MISMATCH, 0, e);
		return 1;
	}
	return reject(r, xs, POL_NAME_MISMATCH, 0, e);
}

static int verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
	    xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_conn *c;

	if (ssl == NULL)
		return ok;
	c = SSL_get_ex_data(ssl, conn_index_get());
	if (c == NULL)
		return ok;
	return vrun_step(&c->run, ok, xs);
}

/* ---- contexts ---- */

static int check_file(const char *what, const char *path, char *err)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		int e = errno;

		return ekl_errf(err, e == ENOENT ? EKL_ENOENT : EKL_EIO,
				"%s %s: %s", what, path, strerror(e));
	}
	if (!S_ISREG(st.st_mode))
		return ekl_errf(err, EKL_EINVAL, "%s %s is not a regular file",
				what, path);
	if (access(path, R_OK) != 0)
		return ekl_errf(err, EKL_EPERM,
				"%s %s is not readable by this user: %s", what,
				path, strerror(errno));
	return 0;
}

/* Never prompt for a passphrase: encrypted keys are refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Read an unencrypted PEM private key that only its owner can read. */
static int read_key(const char *key_file, EVP_PKEY **out, char *err)
{
	struct stat st;
	BIO *bio = NULL;
	int rv;

	*out = NULL;
	rv = check_file("key file", key_file, err);
	if (rv != 0)
		return rv;
	if (stat(key_file, &st) != 0)
		return ekl_errf(err, EKL_EIO, "key file %s: %s", key_file,
				strerror(errno));
	if ((st.st_mode & 077) != 0)
		return ekl_errf(err, EKL_EPERM,
				"key file %s is readable by group or others "
				"(mode %04o); run chmod 600 %s",
				key_file, (unsigned)(st.st_mode & 07777),
				key_file);
	bio = BIO_new_file(key_file, "r");
	if (bio == NULL)
		return ekl_errf_ssl(err, EKL_EIO, "key file %s: cannot open",
				    key_file);
	*out = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (*out == NULL)
		return ekl_errf_ssl(err, EKL_ECRYPTO,
				    "key file %s: not an unencrypted PEM "
				    "private key",
				    key_file);
	return 0;
}

/* Attach key to sc, whose certificate must be the key's. */
static int use_key(SSL_CTX *sc, EVP_PKEY *key, const char *cert_file,
		   const char *key_file, char *err)
{
	if (X509_check_private_key(SSL_CTX_get0_certificate(sc), key) != 1 ||
	    SSL_CTX_use_PrivateKey(sc, key) != 1 ||
	    SSL_CTX_check_private_key(sc) != 1) {
		ERR_clear_error();
		return ekl_errf(
		    err, EKL_ECONFIG,
		    "key %s does not match certificate %s; give the "
		    "key that was issued with it",
		    key_file, cert_file);
	}
	return 0;
}

static int load_key(SSL_CTX *sc, const char *cert_file, const char *key_file,
		    char *err)
{
	EVP_PKEY *key = NULL;
	int rv;

	rv = read_key(key_file, &key, err);
	if (rv == 0)
		rv = use_key(sc, key, cert_file, key_file, err);
	EVP_PKEY_free(key);
	return rv;
}

/* ---- files parsed once for many contexts ---- */

struct tls_file {
	char *path; /* owned */
	/* A certificate chain (leaf, the rest), a key, or a trust bundle. */
	X509 *leaf;
	STACK_OF(X509) *rest;
	EVP_PKEY *key;
	X509_STORE *store;
};

struct tls_files {
	struct tls_file **v; /* owned, n entries, each allocated apart so
				that a pointer to one outlives growth */
	size_t n;
	size_t cap;
};

int tls_files_new(struct tls_files **out, char *err)
{
	*out = ekl_calloc(1, sizeof(**out));
	if (*out == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	return 0;
}

static void file_free(struct tls_file *f)
{
	ekl_free(f->path);
	X509_free(f->leaf);
	sk_X509_pop_free(f->rest, X509_free);
	EVP_PKEY_free(f->key);
	X509_STORE_free(f->store);
	ekl_free(f);
}

void tls_files_free(struct tls_files *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++)
		file_free(f->v[i]);
	ekl_free(f->v);
	ekl_free(f);
}

enum file_kind { FILE_CHAIN, FILE_KEY, FILE_TRUST };

/* A PEM certificate chain as SSL_CTX_use_certificate_chain_file reads it:
 * the leaf, then any number of further certificates. */
static int read_chain(const char *path, struct tls_file *f, char *err)
{
	BIO *bio;
	X509 *x;
	int rv;

	rv = check_file("certificate file", path, err);
	if (rv != 0)
		return rv;
	bio = BIO_new_file(path, "r");
	if (bio == NULL)
		return ekl_errf_ssl(err, EKL_EIO,
				    "certificate file %s: cannot open", path);
	rv = 0;
	f->leaf = PEM_read_bio_X509_AUX(bio, NULL, no_passphrase, NULL);
	f->rest = sk_X509_new_null();
	if (f->leaf == NULL || f->rest == NULL)
		rv = EKL_ECRYPTO;
	while (rv == 0 &&
	       (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL)
		if (sk_X509_push(f->rest, x) == 0) {
			X509_free(x);
			rv = EKL_ENOMEM;
		}
	BIO_free(bio);
	if (rv == 0) {
		unsigned long e = ERR_peek_last_error();

		/* The end of the file is the only way out of the loop. */
		if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM &&
				ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
			rv = EKL_ECRYPTO;
		ERR_clear_error();
	}
	if (rv != 0)
		return ekl_errf_ssl(err, rv,
				    "certificate file %s: cannot load a PEM "
				    "certificate chain",
				    path);
	return 0;
}

static int read_trust(const char *path, struct tls_file *f, char *err)
{
	int rv = check_file("trust bundle", path, err);

	if (rv != 0)
		return rv;
	f->store = X509_STORE_new();
	if (f->store == NULL)
		return ekl_errf_ssl(err, EKL_ENOMEM, "out of memory");
	if (X509_STORE_load_file(f->store, path) != 1)
		return ekl_errf_ssl(err, EKL_ECRYPTO,
				    "trust bundle %s: no PEM certificate could "
				    "be loaded",
				    path);
	return 0;
}

/* The entry for path as kind, parsed on first use. */
static int files_get(struct tls_files *fs, enum file_kind kind,
		     const char *path, const struct tls_file **out, char *err)
{
	struct tls_file *f;
	size_t i;
	int rv;

	for (i = 0; i < fs->n; i++) {
		f = fs->v[i];
		if (strcmp(f->path, path) == 0 &&
		    (kind == FILE_CHAIN ? f->leaf != NULL
		     : kind == FILE_KEY ? f->key != NULL
					: f->store != NULL)) {
			*out = f;
			return 0;
		}
	}
	*out = NULL;
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 32;
		struct tls_file **nv = ekl_realloc(fs->v, cap * sizeof(*nv));

		if (nv == NULL)
			return ekl_errf(err, EKL_ENOMEM, "out of memory");
		fs->v = nv;
		fs->cap = cap;
	}
	f = ekl_calloc(1, sizeof(*f));
	if (f == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	f->path = ekl_strdup(path);
	if (f->path == NULL) {
		ekl_free(f);
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	rv = kind == FILE_CHAIN ? read_chain(path, f, err)
	     : kind == FILE_KEY ? read_key(path, &f->key, err)
				: read_trust(path, f, err);
	if (rv == 0 && ((kind == FILE_CHAIN && f->leaf == NULL) ||
			(kind == FILE_KEY && f->key == NULL)))
		rv = ekl_errf(err, EKL_ECRYPTO, "%s: nothing could be read",
			      path);
	if (rv != 0) {
		file_free(f);
		ERR_clear_error();
		return rv;
	}
	fs->v[fs->n++] = f;
	*out = f;
	return 0;
}

static int load_identity(SSL_CTX *sc, const char *cert_file,
			 const char *key_file, struct tls_files *fs, char *err)
{
	const struct tls_file *c, *k;
	int rv;

	if (fs == NULL) {
		rv = check_file("certificate file", cert_file, err);
		if (rv != 0)
			return rv;
	}
	if (key_file == NULL)
		return ekl_errf(err, EKL_ECONFIG,
				"certificate %s has no key file configured",
				cert_file);
	if (fs == NULL) {
		if (SSL_CTX_use_certificate_chain_file(sc, cert_file) != 1)
			return ekl_errf_ssl(err, EKL_ECRYPTO,
					    "certificate file %s: cannot load "
					    "a PEM certificate chain",
					    cert_file);
		return load_key(sc, cert_file, key_file, err);
	}
	if ((rv = files_get(fs, FILE_CHAIN, cert_file, &c, err)) != 0 ||
	    (rv = files_get(fs, FILE_KEY, key_file, &k, err)) != 0)
		return rv;
	if (SSL_CTX_use_certificate(sc, c->leaf) != 1 ||
	    SSL_CTX_set1_chain(sc, c->rest) != 1)
		return ekl_errf_ssl(err, EKL_ECRYPTO,
				    "certificate file %s: cannot use its chain",
				    cert_file);
	return use_key(sc, k->key, cert_file, key_file, err);
}

/* Settings both contexts share: versions, no compression, no resumption
 * (every handshake verifies), trust bundle, evaluation time. */
static int ctx_common(SSL_CTX *sc, const struct tls_config *cfg, char *err)
{
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(sc);
	static const unsigned char sid_ctx[] = "ekulab";

	if (SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION) != 1)
		return ekl_errf_ssl(err, EKL_ETLS,
				    "cannot set TLS 1.2 minimum");
	SSL_CTX_set_options(sc, SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET |
				    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(sc, 0);
	SSL_CTX_set_session_id_context(sc, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_mode(sc, SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_default_passwd_cb(sc, no_passphrase);
	if (cfg->files != NULL) {
		const struct tls_file *t;
		int rv =
		    files_get(cfg->files, FILE_TRUST, cfg->ca_file, &t, err);

		if (rv != 0)
			return rv;
		SSL_CTX_set1_cert_store(sc, t->store);
	} else if (SSL_CTX_load_verify_file(sc, cfg->ca_file) != 1)
		return ekl_errf_ssl(err, EKL_ECRYPTO,
				    "trust bundle %s: no PEM certificate could "
				    "be loaded",
				    cfg->ca_file);
	if (cfg->at_set)
		X509_VERIFY_PARAM_set_time(param, (time_t)cfg->at);
	return 0;
}

static int copy_names(struct tls_ctx *ctx, const struct tls_config *cfg,
		      char *err)
{
	size_t i;

	if (cfg->n_peer_names == 0)
		return 0;
	ctx->peer_names = ekl_calloc(cfg->n_peer_names, sizeof(char *));
	if (ctx->peer_names == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	for (i = 0; i < cfg->n_peer_names; i++) {
		ctx->peer_names[i] = ekl_strdup(cfg->peer_names[i]);
		if (ctx->peer_names[i] == NULL)
			return ekl_errf(err, EKL_ENOMEM, "out of memory");
		ctx->n_peer_names = i + 1;
	}
	return 0;
}

/* Does the endpoint present its client certificate when initiating? The
 * policy's answer (pol_presented), asked with stand-ins for the chains. */
static bool presents_client_cert(const struct pol_node *n,
				 const struct tls_config *cfg)
{
	static const struct pol_chain server_standin, client_standin;
	struct pol_node q = *n;

	if (cfg->client_cert_file == NULL)
		return false;
	q.server_chain = &server_standin;
	q.client_chain = &client_standin;
	return pol_presented(&q, POL_SIDE_INITIATOR) == &client_standin;
}

int tls_ctx_new(const struct tls_config *cfg, struct tls_ctx **out, char *err)
{
	struct tls_ctx *ctx;
	struct pol_node node;
	enum pol_service hs = pol_service_handshake(cfg->service);
	const char *ccert = NULL;
	const char *ckey = NULL;
	int mode;
	int rv;

	*out = NULL;
	ERR_clear_error();
	if (cfg->ca_file == NULL)
		return ekl_errf(err, EKL_ECONFIG,
				"no trust bundle configured (CA file)");
	if (cfg->cert_file == NULL && !cfg->no_cert)
		return ekl_errf(err, EKL_ECONFIG,
				"no certificate file configured");
	rv = check_file("trust bundle", cfg->ca_file, err);
	if (rv != 0)
		return rv;

	ctx = ekl_calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	memset(&node, 0, sizeof(node));
	node.version = cfg->version;
	node.mode = cfg->mode;
	node.client_eku_check = cfg->client_eku_check;
	node.kind = cfg->kind;
	node.checks_client_eku = cfg->checks_client_eku;
	memcpy(node.client_eku_service, cfg->client_eku_service,
	       sizeof(node.client_eku_service));
	pol_rules(&node, POL_SIDE_ACCEPTOR, hs, &ctx->server_rules);
	pol_rules(&node, POL_SIDE_INITIATOR, hs, &ctx->client_rules);
	rv = copy_names(ctx, cfg, err);
	if (rv != 0)
		goto fail;

	ctx->server = SSL_CTX_new(TLS_server_method());
	ctx->client = SSL_CTX_new(TLS_client_method());
	if (ctx->server == NULL || ctx->client == NULL) {
		rv = ekl_errf_ssl(err, EKL_ENOMEM, "cannot create SSL_CTX");
		goto fail;
	}
	rv = ctx_common(ctx->server, cfg, err);
	if (rv == 0)
		rv = ctx_common(ctx->client, cfg, err);
	if (rv != 0)
		goto fail;

	/* Acceptor: always ask for (and record) the peer certificate. */
	mode = SSL_VERIFY_PEER;
	if (ctx->server_rules.require_cert)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx->server, mode, verify_cb);
	SSL_CTX_set_verify(ctx->client, SSL_VERIFY_PEER, verify_cb);
	X509_VERIFY_PARAM_set_purpose(SSL_CTX_get0_param(ctx->server),
				      X509_PURPOSE_SSL_CLIENT);
	X509_VERIFY_PARAM_set_purpose(SSL_CTX_get0_param(ctx->client),
				      X509_PURPOSE_SSL_SERVER);

	if (cfg->cert_file != NULL) {
		rv = load_identity(ctx->server, cfg->cert_file, cfg->key_file,
				   cfg->files, err);
		if (rv != 0)
			goto fail;
	}
	if (!cfg->no_cert) {
		ccert = cfg->cert_file;
		ckey = cfg->key_file;
		if (presents_client_cert(&node, cfg)) {
			ccert = cfg->client_cert_file;
			ckey = cfg->client_key_file;
		}
		rv = load_identity(ctx->client, ccert, ckey, cfg->files, err);
		if (rv != 0)
			goto fail;
	}
	ERR_clear_error();
	*out = ctx;
	return 0;
fail:
	ERR_clear_error();
	tls_ctx_free(ctx);
	return rv;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
	size_t i;

	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->server);
	SSL_CTX_free(ctx->client);
	for (i = 0; i < ctx->n_peer_names; i++)
		ekl_free(ctx->peer_names[i]);
	ekl_free(ctx->peer_names);
	ekl_free(ctx);
}

/* ---- connections ---- */

/* Alerts in both directions; the first fatal one each way is kept. */
static void info_cb(const SSL *ssl, int where, int ret)
{
	struct tls_conn *c;
	int level = (ret >> 8) & 0xff;

	if ((where & SSL_CB_ALERT) == 0 || level != SSL3_AL_FATAL)
		return;
	c = SSL_get_ex_data(ssl, conn_index_get());
	if (c == NULL)
		return;
	if ((where & SSL_CB_READ) != 0 && c->read_alert < 0)
		c->read_alert = ret & 0xff;
	if ((where & SSL_CB_WRITE) != 0 && c->write_alert < 0)
		c->write_alert = ret & 0xff;
}

int tls_conn_new(struct tls_ctx *ctx, int fd, enum pol_side side,
		 const char *expect, struct tls_conn **out, char *err)
{
	struct tls_conn *c;
	int idx = conn_index_get();
	int rv;

	*out = NULL;
	if (idx < 0)
		return ekl_errf_ssl(err, EKL_ETLS,
				    "cannot allocate an SSL ex_data index");
	if (side != POL_SIDE_INITIATOR && side != POL_SIDE_ACCEPTOR)
		return ekl_errf(err, EKL_EINVAL,
				"TLS connection side must be initiator or "
				"acceptor");
	c = ekl_calloc(1, sizeof(*c));
	if (c == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	c->ctx = ctx;
	c->side = side;
	c->verify.code = POL_OK;
	c->verify.depth = -1;
	c->read_alert = -1;
	c->write_alert = -1;
	c->run.v = &c->verify;
	if (side == POL_SIDE_INITIATOR) {
		c->run.rules = &ctx->client_rules;
		if (expect != NULL) {
			c->expect = ekl_strdup(expect);
			if (c->expect == NULL) {
				rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
				goto fail;
			}
			c->run.names = (const char *const *)&c->expect;
			c->run.n_names = 1;
		}
	} else {
		c->run.rules = &ctx->server_rules;
		c->run.names = (const char *const *)ctx->peer_names;
		c->run.n_names = ctx->n_peer_names;
	}
	c->run.purpose = c->run.rules->purpose;

	ERR_clear_error();
	c->ssl =
	    SSL_new(side == POL_SIDE_INITIATOR ? ctx->client : ctx->server);
	if (c->ssl == NULL) {
		rv = ekl_errf_ssl(err, EKL_ENOMEM, "cannot create SSL");
		goto fail;
	}
	if (SSL_set_fd(c->ssl, fd) != 1 ||
	    SSL_set_ex_data(c->ssl, idx, c) != 1) {
		rv = ekl_errf_ssl(err, EKL_ETLS,
				  "cannot attach TLS to socket %d", fd);
		goto fail;
	}
	SSL_set_info_callback(c->ssl, info_cb);
	if (side == POL_SIDE_INITIATOR) {
		SSL_set_connect_state(c->ssl);
		if (c->expect != NULL && c->expect[0] != '\0' &&
		    !is_ip_literal(c->expect) &&
		    SSL_set_tlsext_host_name(c->ssl, c->expect) != 1) {
			rv =
			    ekl_errf_ssl(err, EKL_ETLS,
					 "cannot set SNI name '%s'", c->expect);
			goto fail;
		}
	} else {
		SSL_set_accept_state(c->ssl);
	}
	*out = c;
	return 0;
fail:
	ERR_clear_error();
	tls_conn_free(c);
	return rv;
}

void tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl);
	ekl_free(c->expect);
	ekl_free(c);
}

/* Keep what explains a failure, then empty the thread's error queue. */
static void capture_failure(struct tls_conn *c, int ssl_err, int sys_errno)
{
	unsigned long e;
	const char *s;

	c->failed = true;
	while ((e = ERR_get_error()) != 0) {
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) ==
			SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
			c->no_peer_cert = true;
		/* The earliest error is the cause; keep the first. */
		if (c->reason[0] == '\0') {
			s = ERR_reason_error_string(e);
			if (s != NULL)
				snprintf(c->reason, sizeof(c->reason), "%s", s);
			else
				ERR_error_string_n(e, c->reason,
						   sizeof(c->reason));
		}
	}
	if (c->reason[0] != '\0')
		return;
	if (ssl_err == SSL_ERROR_SYSCALL && sys_errno != 0)
		snprintf(c->reason, sizeof(c->reason), "%s",
			 strerror(sys_errno));
	else if (ssl_err == SSL_ERROR_SYSCALL ||
		 ssl_err == SSL_ERROR_ZERO_RETURN)
		snprintf(
		    c->reason, sizeof(c->reason), "connection closed by peer%s",
		    SSL_is_init_finished(c->ssl) ? "" : " during handshake");
	else
		snprintf(c->reason, sizeof(c->reason), "TLS error %d", ssl_err);
}

/* The one place SSL_get_error becomes a tls_io. ret is the SSL call's
 * result, sys_errno the errno right after it. */
static enum tls_io io_result(struct tls_conn *c, int ret, int sys_errno)
{
	int e = SSL_get_error(c->ssl, ret);

	switch (e) {
	case SSL_ERROR_NONE: return TLS_IO_OK;
	case SSL_ERROR_WANT_READ: return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE: return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		snprintf(c->reason, sizeof(c->reason),
			 "connection closed by peer");
		return TLS_IO_CLOSED;
	case SSL_ERROR_SYSCALL:
		if (sys_errno == EAGAIN || sys_errno == EWOULDBLOCK ||
		    sys_errno == EINTR) {
			ERR_clear_error();
			return SSL_want_write(c->ssl) ? TLS_IO_WANT_WRITE
						      : TLS_IO_WANT_READ;
		}
		break;
	default: break;
	}
	capture_failure(c, e, sys_errno);
	return TLS_IO_FATAL;
}

/* Facts only known once the handshake is over: a peer that presented no
 * certificate to a verifier that did not require one (permissive). */
static void handshake_done(struct tls_conn *c)
{
	if (SSL_get0_peer_certificate(c->ssl) == NULL && !c->run.recorded) {
		c->run.recorded = true;
		c->verify.code = POL_NO_CERTIFICATE;
		c->verify.depth = -1;
	}
}

enum tls_io tls_handshake(struct tls_conn *c)
{
	enum tls_io io;
	int ret;

	ERR_clear_error();
	errno = 0;
	ret = SSL_do_handshake(c->ssl);
	io = io_result(c, ret, errno);
	if (io == TLS_IO_OK)
		handshake_done(c);
	return io;
}

enum tls_io tls_read(struct tls_conn *c, void *buf, size_t len, size_t *n)
{
	enum tls_io io;
	int ret;

	*n = 0;
	ERR_clear_error();
	errno = 0;
	ret = SSL_read_ex(c->ssl, buf, len, n);
	io = io_result(c, ret, errno);
	if (io != TLS_IO_OK)
		*n = 0;
	return io;
}

enum tls_io tls_write(struct tls_conn *c, const void *buf, size_t len,
		      size_t *n)
{
	enum tls_io io;
	int ret;

	*n = 0;
	ERR_clear_error();
	errno = 0;
	ret = SSL_write_ex(c->ssl, buf, len, n);
	io = io_result(c, ret, errno);
	if (io != TLS_IO_OK)
		*n = 0;
	return io;
}

void tls_read_ahead(struct tls_conn *c)
{
	SSL_set_read_ahead(c->ssl, 1);
}

size_t tls_pending(struct tls_conn *c)
{
	int n = SSL_pending(c->ssl);

	return n > 0 ? (size_t)n : 0;
}

void tls_shutdown(struct tls_conn *c)
{
	if (c == NULL || c->failed || !SSL_is_init_finished(c->ssl))
		return;
	ERR_clear_error();
	(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
}

/* SSL_alert_desc_string_long() of OpenSSL 3.0 predates TLS 1.3's alerts. */
static const char *alert_text(int alert)
{
	switch (alert) {
	case 109: return "missing extension";
	case ALERT_CERTIFICATE_REQUIRED: return "certificate required";
	case 120: return "no application protocol";
	}
	return SSL_alert_desc_string_long(alert);
}

static enum pol_side other_side(enum pol_side s)
{
	return s == POL_SIDE_INITIATOR ? POL_SIDE_ACCEPTOR : POL_SIDE_INITIATOR;
}

void tls_conn_failure(struct tls_conn *c, struct tls_failure *f)
{
	const struct tls_verify *v = &c->verify;
	enum pol_code code;

	f->side = POL_SIDE_NONE;
	f->code = POL_OK;
	f->depth = -1;

	if (v->rejected) {
		f->side = c->side;
		f->code = v->code;
		f->depth = v->depth;
		snprintf(f->message, sizeof(f->message),
			 "we rejected the peer certificate: %s at depth %d",
			 X509_verify_cert_error_string(v->x509_err), v->depth);
		return;
	}
	if (c->read_alert >= 0) {
		code = tls_alert_code(c->read_alert, other_side(c->side));
		/* TLS 1.2 signals a missing client certificate with a plain
		 * handshake_failure: we know whether we sent one. */
		if (code == POL_OK && c->side == POL_SIDE_INITIATOR &&
		    c->read_alert == ALERT_HANDSHAKE_FAILURE &&
		    SSL_get_certificate(c->ssl) == NULL)
			code = POL_NO_CERTIFICATE;
		if (code != POL_OK) {
			f->side = other_side(c->side);
			f->code = code;
			snprintf(f->message, sizeof(f->message),
				 code == POL_NO_CERTIFICATE
				     ? "peer rejected us: we presented no "
				       "certificate (TLS alert %s)"
				     : "peer rejected our certificate (TLS "
				       "alert %s)",
				 alert_text(c->read_alert));
			return;
		}
	}
	if (c->side == POL_SIDE_ACCEPTOR && !v->have_cert && c->no_peer_cert) {
		f->side = POL_SIDE_ACCEPTOR;
		f->code = POL_NO_CERTIFICATE;
		snprintf(f->message, sizeof(f->message),
			 "we rejected the peer: it presented no certificate");
		return;
	}
	if (c->read_alert >= 0)
		snprintf(f->message, sizeof(f->message),
			 "peer sent TLS alert %s (%s)",
			 alert_text(c->read_alert),
			 c->reason[0] != '\0' ? c->reason : "no detail");
	else if (c->reason[0] != '\0' && c->write_alert >= 0)
		snprintf(f->message, sizeof(f->message),
			 "%s (we sent TLS alert %s)", c->reason,
			 alert_text(c->write_alert));
	else if (c->reason[0] != '\0')
		snprintf(f->message, sizeof(f->message), "%s", c->reason);
	else if (c->failed)
		snprintf(f->message, sizeof(f->message),
			 "connection closed by peer during handshake");
	else
		snprintf(f->message, sizeof(f->message), "no failure");
}

const struct tls_verify *tls_conn_verify(const struct tls_conn *c)
{
	return &c->verify;
}

bool tls_conn_peer_matches(const struct tls_conn *c, const char *name)
{
	X509 *peer = SSL_get0_peer_certificate(c->ssl);

	return peer != NULL && leaf_matches(peer, name);
}

enum pol_side tls_conn_side(const struct tls_conn *c)
{
	return c->side;
}

const char *tls_conn_version(const struct tls_conn *c)
{
	return SSL_get_version(c->ssl);
}

const char *tls_conn_cipher(const struct tls_conn *c)
{
	const char *s = SSL_get_cipher_name(c->ssl);

	return s != NULL ? s : "(NONE)";
}

/* ---- a chain received in a message (MRA's SIP SERVICE) ---- */

X509_STORE *tls_ctx_store(const struct tls_ctx *ctx)
{
	return SSL_CTX_get_cert_store(ctx->client);
}

/* Bytes of leading white space, so that a PEM chain starts at its first
 * boundary line (OpenSSL's reader skips a boundary that does not start a
 * line, and with it the leaf). */
static size_t leading_space(const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (i < len &&
	       (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i;
}

static bool looks_pem(const unsigned char *p, size_t len)
{
	static const char tag[] = "-----BEGIN";

	return len >= sizeof(tag) - 1 && memcmp(p, tag, sizeof(tag) - 1) == 0;
}

/* Certificates of a PEM or DER chain, in order, into *out (a new stack the
 * caller frees with sk_X509_pop_free). */
static int parse_chain(const unsigned char *p, size_t len, STACK_OF(X509) **out,
		       char *err)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	const unsigned char *q = p;
	BIO *bio = NULL;
	X509 *x;
	size_t skip;
	int rv;

	if (sk == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	skip = leading_space(p, len);
	if (looks_pem(p + skip, len - skip)) {
		bio = BIO_new_mem_buf(p + skip, (int)(len - skip));
		if (bio == NULL) {
			rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
			goto fail;
		}
		while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase,
					      NULL)) != NULL) {
			if (sk_X509_push(sk, x) <= 0) {
				X509_free(x);
				rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
				goto fail;
			}
		}
		/* The end of the input ends the loop with "no start line";
		 * anything else is a damaged certificate. */
		if (ERR_GET_REASON(ERR_peek_last_error()) !=
			PEM_R_NO_START_LINE ||
		    sk_X509_num(sk) == 0) {
			rv = ekl_errf(err, EKL_EINVAL,
				      "certificate chain: PEM certificate %d "
				      "cannot be read",
				      sk_X509_num(sk) + 1);
			goto fail;
		}
	} else {
		while ((size_t)(q - p) < len) {
			x = d2i_X509(NULL, &q, (long)(len - (size_t)(q - p)));
			if (x == NULL) {
				rv = ekl_errf(err, EKL_EINVAL,
					      "certificate chain: neither PEM "
					      "nor DER (certificate %d at byte "
					      "%zu cannot be read)",
					      sk_X509_num(sk) + 1,
					      (size_t)(q - p));
				goto fail;
			}
			if (sk_X509_push(sk, x) <= 0) {
				X509_free(x);
				rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
				goto fail;
			}
		}
	}
	if (sk_X509_num(sk) > TLS_CHAIN_MAX_CERTS) {
		rv = ekl_errf(err, EKL_ETOOBIG,
			      "certificate chain: %d certificates, at most %d",
			      sk_X509_num(sk), TLS_CHAIN_MAX_CERTS);
		goto fail;
	}
	BIO_free(bio);
	ERR_clear_error();
	*out = sk;
	return 0;
fail:
	BIO_free(bio);
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return rv;
}

static int chain_cb(int ok, X509_STORE_CTX *xs)
{
	struct vrun *r = X509_STORE_CTX_get_app_data(xs);

	return r == NULL ? ok : vrun_step(r, ok, xs);
}

/* One X509_verify_cert pass of `purpose` over leaf + rest. */
static int verify_pass(struct vrun *r, const struct tls_chain_check *chk,
		       X509 *leaf, STACK_OF(X509) *rest, unsigned purpose,
		       char *err)
{
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	int rv = 0;

	if (xs == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	if (X509_STORE_CTX_init(xs, chk->store, leaf, rest) != 1) {
		rv = ekl_errf_ssl(err, EKL_ECRYPTO,
				  "cannot set up certificate verification");
		goto out;
	}
	param = X509_STORE_CTX_get0_param(xs);
	X509_VERIFY_PARAM_set_time(param, (time_t)chk->at);
	X509_STORE_CTX_set_purpose(xs, purpose == POL_EKU_SERVER
					   ? X509_PURPOSE_SSL_SERVER
					   : X509_PURPOSE_SSL_CLIENT);
	X509_STORE_CTX_set_verify_cb(xs, chain_cb);
	X509_STORE_CTX_set_app_data(xs, r);
	r->purpose = purpose;
	/* The verdict is in r (the callback saw every error); the return
	 * value only repeats it. */
	(void)X509_verify_cert(xs);
out:
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
	return rv;
}

int tls_verify_chain(const struct tls_chain_check *chk, const void *chain,
		     size_t len, struct tls_verify *out, char *err)
{
	STACK_OF(X509) *sk = NULL;
	struct vrun r;
	X509 *leaf;
	int rv;

	memset(out, 0, sizeof(*out));
	out->code = POL_OK;
	out->depth = -1;
	if (chk == NULL || chk->store == NULL || chk->rules == NULL)
		return ekl_errf(err, EKL_EINVAL,
				"certificate chain check: no trust store or "
				"rules given");
	if (len == 0) {
		out->code = POL_NO_CERTIFICATE;
		out->rejected = chk->rules->verify && chk->rules->require_cert;
		return 0;
	}
	if (len > TLS_CHAIN_MAX_BYTES)
		return ekl_errf(err, EKL_ETOOBIG,
				"certificate chain: %zu bytes, at most %d", len,
				TLS_CHAIN_MAX_BYTES);
	ERR_clear_error();
	rv = parse_chain(chain, len, &sk, err);
	if (rv != 0)
		return rv;
	leaf = sk_X509_shift(sk);

	memset(&r, 0, sizeof(r));
	r.rules = chk->rules;
	r.names = chk->names;
	r.n_names = chk->names != NULL ? chk->n_names : 0;
	r.v = out;
	rv = verify_pass(&r, chk, leaf, sk, chk->rules->purpose, err);
	/* pol_check_chain's last step: the second purpose, leaf up. */
	if (rv == 0 && chk->rules->also_purpose != 0 && !out->rejected) {
		r.purpose_only = true;
		rv = verify_pass(&r, chk, leaf, sk, chk->rules->also_purpose,
				 err);
	}
	X509_free(leaf);
	sk_X509_pop_free(sk, X509_free);
	return rv;
}
