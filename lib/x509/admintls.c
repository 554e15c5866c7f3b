/* admintls.c: the network admin channel's TLS (admintls.h): contexts that
 * apply the admin rule, and the relay between a plain stream socket and a
 * TLS session.
 *
 * The relay's happy path: the handshake (the rule is checked by OpenSSL's
 * verification with the admin CA as the only trust anchor, then by
 * verify_rule at depth 0), then a plain side is attached and bytes move
 * both ways through two buffers. The failure modes: a handshake that fails
 * (FAILED, with the verify error or the alert in words), a socket error on
 * either side (FAILED). The end: the plain side's end of stream is passed
 * on as close_notify (DONE once everything before it was written), the TLS
 * side's close_notify as a shutdown of the plain side's writing.
 *
 * Invariants:
 *  1. Bytes move only after the handshake succeeded, and only once a plain
 *     side is attached.
 *  2. to_plain[off..len) holds bytes read from TLS not yet written to the
 *     plain side; TLS is not read while it holds any (backpressure), and
 *     likewise to_tls for the other direction.
 */
#include "ekulab/x509/admintls.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/sslerr.h"

#define RELAY_BUF (16u << 10)

struct admintls_relay {
	SSL *ssl;
	int net;   /* owned */
	int plain; /* owned; -1 until attached */
	bool server;
	bool up;
	bool tls_eof;	/* the peer sent close_notify (or closed) */
	bool plain_eof; /* the plain side will send nothing more */
	bool plain_shut;
	char to_plain[RELAY_BUF];
	size_t tp_off, tp_len;
	char to_tls[RELAY_BUF];
	size_t tt_off, tt_len;
	char peer[128];
	char why[300];
};

/* ---- the rule ---- */

/* OpenSSL has verified the chain up to the admin CA (the only anchor);
 * at depth 0 the leaf's EKU must be present and name our peer's side. */
static int verify_rule(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
	    xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	X509 *leaf;
	uint32_t want;

	if (!ok || ssl == NULL || X509_STORE_CTX_get_error_depth(xs) != 0)
		return ok;
	leaf = X509_STORE_CTX_get_current_cert(xs);
	want = SSL_is_server(ssl) ? XKU_SSL_CLIENT : XKU_SSL_SERVER;
	if (leaf == NULL ||
	    (X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) == 0 ||
	    (X509_get_extended_key_usage(leaf) & want) == 0 ||
	    sk_X509_num(X509_STORE_CTX_get0_chain(xs)) != 2) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_INVALID_PURPOSE);
		return 0;
	}
	return 1;
}

static int check_key_mode(const char *path, char *err)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return ekl_errf(err, errno == ENOENT ? EKL_ENOENT : EKL_EIO,
				"admin key file %s: %s", path, strerror(errno));
	if ((st.st_mode & 077) != 0)
		return ekl_errf(err, EKL_EPERM,
				"admin key file %s is readable by group or "
				"others (mode %04o); run chmod 600 %s",
				path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

int admintls_ctx_new(const struct admintls_files *f, bool server, SSL_CTX **out,
		     char *err)
{
	SSL_CTX *sc = NULL;
	X509_STORE *store;
	int rv;

	*out = NULL;
	if (f->ca == NULL || f->cert == NULL || f->key == NULL)
		return ekl_errf(err, EKL_EINVAL,
				"the admin channel needs the admin CA, a "
				"certificate and its key");
	if ((rv = check_key_mode(f->key, err)) != 0)
		return rv;
	sc = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (sc == NULL)
		return ekl_errf_ssl(err, EKL_ECRYPTO, "admin TLS context");
	SSL_CTX_set_min_proto_version(sc, TLS1_3_VERSION);
	SSL_CTX_set_mode(sc, SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* No session tickets: nothing to resume, nothing sent after the
	 * handshake that a client must read. */
	SSL_CTX_set_num_tickets(sc, 0);
	if (SSL_CTX_load_verify_locations(sc, f->ca, NULL) != 1) {
		rv = ekl_errf_ssl(err, EKL_ECONFIG,
				  "admin CA %s: cannot load it as PEM", f->ca);
		goto err;
	}
	/* The admin CA is no root: it is the one anchor (partial chain). */
	store = SSL_CTX_get_cert_store(sc);
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	if (SSL_CTX_use_certificate_chain_file(sc, f->cert) != 1) {
		rv = ekl_errf_ssl(err, EKL_ECONFIG,
				  "admin certificate %s: cannot load it as "
				  "PEM",
				  f->cert);
		goto err;
	}
	if (SSL_CTX_use_PrivateKey_file(sc, f->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(sc) != 1) {
		ERR_clear_error();
		rv = ekl_errf(err, EKL_ECONFIG,
			      "admin key %s does not match certificate %s (or "
			      "is no unencrypted PEM key)",
			      f->key, f->cert);
		goto err;
	}
	SSL_CTX_set_verify(sc,
			   SSL_VERIFY_PEER |
			       (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
			   verify_rule);
	SSL_CTX_set_verify_depth(sc, 2);
	*out = sc;
	return 0;
err:
	SSL_CTX_free(sc);
	return rv;
}

/* ---- the relay ---- */

int admintls_relay_new(SSL_CTX *ctx, int net_fd, bool server,
		       const char *expect, struct admintls_relay **out,
		       char *err)
{
	struct admintls_relay *r = ekl_calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL) {
		close(net_fd);
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	r->net = net_fd;
	r->plain = -1;
	r->server = server;
	r->ssl = SSL_new(ctx);
	if (r->ssl == NULL || SSL_set_fd(r->ssl, net_fd) != 1)
		goto err;
	if (server) {
		SSL_set_accept_state(r->ssl);
	} else {
		if (expect == NULL || expect[0] == '\0' ||
		    SSL_set1_host(r->ssl, expect) != 1)
			goto err;
		SSL_set_connect_state(r->ssl);
	}
	*out = r;
	return 0;
err:
	admintls_relay_free(r);
	return ekl_errf_ssl(err, EKL_ECRYPTO, "admin TLS session");
}

void admintls_relay_attach(struct admintls_relay *r, int plain_fd)
{
	if (r->plain >= 0)
		close(r->plain);
	r->plain = plain_fd;
}

void admintls_relay_free(struct admintls_relay *r)
{
	if (r == NULL)
		return;
	SSL_free(r->ssl);
	if (r->net >= 0)
		close(r->net);
	if (r->plain >= 0)
		close(r->plain);
	ekl_free(r);
}

void admintls_relay_fds(const struct admintls_relay *r, int *net, int *plain)
{
	*net = r->net;
	*plain = r->plain;
}

bool admintls_relay_up(const struct admintls_relay *r)
{
	return r->up;
}

const char *admintls_relay_error(const struct admintls_relay *r)
{
	return r->why[0] != '\0' ? r->why : "no error";
}

const char *admintls_relay_peer(const struct admintls_relay *r)
{
	return r->peer;
}

/* The reason of a failed handshake or read, in words. */
static enum admintls_step fail(struct admintls_relay *r, int ssl_err,
			       const char *step)
{
	long vr = SSL_get_verify_result(r->ssl);
	unsigned long e = ERR_peek_last_error();
	char reason[200] = "";

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	if (!r->up && vr != X509_V_OK)
		snprintf(r->why, sizeof(r->why),
			 "%s: the %s's certificate does not meet the admin "
			 "rule: %s",
			 step, r->server ? "client" : "node",
			 X509_verify_cert_error_string(vr));
	else if (!r->up && r->server &&
		 SSL_get0_peer_certificate(r->ssl) == NULL && e != 0 &&
		 strstr(reason, "peer did not return a certificate") != NULL)
		snprintf(r->why, sizeof(r->why),
			 "%s: the client presented no certificate", step);
	else if (reason[0] != '\0')
		snprintf(r->why, sizeof(r->why), "%s: %s", step, reason);
	else if (ssl_err == SSL_ERROR_SYSCALL && errno != 0)
		snprintf(r->why, sizeof(r->why), "%s: %s", step,
			 strerror(errno));
	else
		snprintf(r->why, sizeof(r->why),
			 "%s: the connection closed during the handshake",
			 step);
	return ADMINTLS_FAILED;
}

static void note_peer(struct admintls_relay *r)
{
	X509 *p = SSL_get0_peer_certificate(r->ssl);

	r->peer[0] = '\0';
	if (p != NULL)
		X509_NAME_get_text_by_NID(X509_get_subject_name(p),
					  NID_commonName, r->peer,
					  sizeof(r->peer));
}

/* One SSL call's WANT_* into poll events; false for anything else. */
static bool want(SSL *ssl, int rc, short *ev, int *e)
{
	*e = SSL_get_error(ssl, rc);
	if (*e == SSL_ERROR_WANT_READ) {
		*ev |= POLLIN;
		return true;
	}
	if (*e == SSL_ERROR_WANT_WRITE) {
		*ev |= POLLOUT;
		return true;
	}
	return false;
}

enum admintls_step admintls_relay_pump(struct admintls_relay *r, short *net_ev,
				       short *plain_ev)
{
	for (;;) {
		bool moved = false;
		size_t n;
		int rc, e;

		*net_ev = *plain_ev = 0;
		if (!r->up) {
			ERR_clear_error();
			errno = 0;
			rc = SSL_do_handshake(r->ssl);
			if (rc != 1) {
				if (want(r->ssl, rc, net_ev, &e))
					return ADMINTLS_AGAIN;
				return fail(r, e, "admin TLS handshake");
			}
			r->up = true;
			note_peer(r);
		}
		if (r->plain < 0)
			return ADMINTLS_AGAIN; /* invariant 1 */
		/* TLS -> plain */
		if (r->tp_len == 0 && !r->tls_eof) {
			ERR_clear_error();
			errno = 0;
			rc = SSL_read_ex(r->ssl, r->to_plain,
					 sizeof(r->to_plain), &n);
			if (rc == 1) {
				r->tp_off = 0;
				r->tp_len = n;
				moved = true;
			} else if (!want(r->ssl, rc, net_ev, &e)) {
				if (e != SSL_ERROR_ZERO_RETURN &&
				    e != SSL_ERROR_SYSCALL)
					return fail(r, e, "admin TLS read");
				ERR_clear_error();
				r->tls_eof = true; /* closed, or reset */
				moved = true;
			}
		}
		if (r->tp_off < r->tp_len) {
			ssize_t w = send(r->plain, r->to_plain + r->tp_off,
					 r->tp_len - r->tp_off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w > 0) {
				r->tp_off += (size_t)w;
				if (r->tp_off == r->tp_len)
					r->tp_off = r->tp_len = 0;
				moved = true;
			} else if (w < 0 &&
				   (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == EINTR)) {
				*plain_ev |= POLLOUT;
			} else {
				/* The plain side is gone: nobody to
				 * deliver to or hear from. */
				return ADMINTLS_DONE;
			}
		}
		if (r->tls_eof && r->tp_len == 0 && !r->plain_shut) {
			shutdown(r->plain, SHUT_WR);
			r->plain_shut = true;
		}
		/* plain -> TLS */
		if (r->tt_len == 0 && !r->plain_eof) {
			ssize_t got = recv(r->plain, r->to_tls,
					   sizeof(r->to_tls), MSG_DONTWAIT);

			if (got > 0) {
				r->tt_off = 0;
				r->tt_len = (size_t)got;
				moved = true;
			} else if (got == 0) {
				r->plain_eof = true;
				moved = true;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK ||
				   errno == EINTR) {
				*plain_ev |= POLLIN;
			} else {
				r->plain_eof = true;
				moved = true;
			}
		}
		if (r->tt_off < r->tt_len) {
			ERR_clear_error();
			errno = 0;
			rc = SSL_write_ex(r->ssl, r->to_tls + r->tt_off,
					  r->tt_len - r->tt_off, &n);
			if (rc == 1) {
				r->tt_off += n;
				if (r->tt_off == r->tt_len)
					r->tt_off = r->tt_len = 0;
				moved = true;
			} else if (!want(r->ssl, rc, net_ev, &e)) {
				if (r->tls_eof)
					return ADMINTLS_DONE;
				return fail(r, e, "admin TLS write");
			}
		}
		if (r->plain_eof && r->tt_len == 0) {
			(void)SSL_shutdown(r->ssl); /* close_notify */
			ERR_clear_error();
			return ADMINTLS_DONE;
		}
		if (!moved)
			return ADMINTLS_AGAIN;
	}
}
