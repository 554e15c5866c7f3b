/* audit_input.c: the audit's inputs: files, directories and live endpoints. */
#include "audit_int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ekulab/core/file.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/sslerr.h"

#define MAX_FILE_BYTES (16L * 1024 * 1024)
#define MAX_DIR_DEPTH  16

/* The most specific OpenSSL reason queued, then the queue cleared. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e;

	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		const char *r = ERR_reason_error_string(e);

		snprintf(buf, len, "%s", r != NULL ? r : "unknown error");
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "no detail");
	return buf;
}

/* ==== sources ======================================================== */

/* A bundle whose certificates form one issuance path (each issued by the
 * next one found in the bundle) must list it leaf first, then each
 * issuer. Bundles of unrelated certificates are not checked. Returns
 * false and describes the order found when it is wrong. */
static bool order_ok(STACK_OF(X509) *certs, char *msg, size_t len)
{
	int n = sk_X509_num(certs);
	int issuer[64];
	int issues[64];
	int bottom = -1;
	int edges = 0;
	int pos;
	int i, j;
	size_t off;

	if (n < 2 || n > 64)
		return true;
	for (i = 0; i < n; i++) {
		issuer[i] = -1;
		issues[i] = 0;
	}
	for (i = 0; i < n; i++) {
		X509 *x = sk_X509_value(certs, i);

		if (X509_self_signed(x, 0) == 1)
			continue;
		for (j = 0; j < n; j++) {
			if (j != i && X509_check_issued(sk_X509_value(certs, j),
							x) == X509_V_OK) {
				issuer[i] = j;
				issues[j]++;
				edges++;
				break;
			}
		}
	}
	ERR_clear_error();
	/* One path through every certificate: n-1 links, nobody issues
	 * two of them, exactly one issues none (the leaf). */
	if (edges != n - 1)
		return true;
	for (i = 0; i < n; i++) {
		if (issues[i] > 1)
			return true;
		if (issues[i] == 0) {
			if (bottom >= 0)
				return true;
			bottom = i;
		}
	}
	if (bottom < 0)
		return true;
	for (i = bottom, pos = 0; i >= 0 && pos < n; i = issuer[i], pos++)
		if (i != pos)
			break;
	if (i < 0 || pos == n)
		return true;
	off = (size_t)snprintf(msg, len, "the chain is out of order: it runs ");
	for (i = bottom, pos = 0; i >= 0 && pos < n && off < len;
	     i = issuer[i], pos++)
		off += (size_t)snprintf(msg + off, len - off, "%s#%d",
					pos ? " -> " : "", i);
	if (off < len)
		snprintf(msg + off, len - off,
			 " (leaf first); list the leaf first, then each "
			 "issuer in turn");
	return false;
}

static void audit_source(struct audit_run *r, const struct audit_opts *o,
			 const char *source, STACK_OF(X509) *certs,
			 bool ordered)
{
	STACK_OF(X509) *others;
	char msg[EKL_ERRLEN];
	int i, j;

	if (ordered && !order_ok(certs, msg, sizeof(msg)))
		audit_add_error(r, source, "%s", msg);
	for (i = 0; i < sk_X509_num(certs); i++) {
		others = sk_X509_new_null();
		if (others == NULL) {
			r->oom = true;
			return;
		}
		for (j = 0; j < sk_X509_num(certs); j++)
			if (j != i &&
			    !sk_X509_push(others, sk_X509_value(certs, j)))
				r->oom = true;
		audit_analyse(r, o, source, i, sk_X509_value(certs, i), others);
		sk_X509_free(others); /* the certificates belong to certs */
	}
}

/* The certificates of a PKCS#7 SignedData (up-referenced into out). */
static bool p7_certs(PKCS7 *p7, STACK_OF(X509) *out)
{
	STACK_OF(X509) *certs = NULL;
	int i;

	switch (OBJ_obj2nid(p7->type)) {
	case NID_pkcs7_signed:
		if (p7->d.sign != NULL)
			certs = p7->d.sign->cert;
		break;
	case NID_pkcs7_signedAndEnveloped:
		if (p7->d.signed_and_enveloped != NULL)
			certs = p7->d.signed_and_enveloped->cert;
		break;
	}
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (!X509_up_ref(x))
			return false;
		if (!sk_X509_push(out, x)) {
			X509_free(x);
			return false;
		}
	}
	return true;
}

/* Every PEM block of a file. Certificates go to certs (in order); PKCS#7
 * bundles add theirs and make the order meaningless (*ordered false);
 * anything else is an error naming the block and its label, never its
 * content. Stops at the first corrupt block. */
static void read_pem(struct audit_run *r, const char *path,
		     const unsigned char *data, long len, STACK_OF(X509) *certs,
		     bool *ordered)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	char why[256];
	int block;

	if (bio == NULL) {
		r->oom = true;
		return;
	}
	for (block = 1;; block++) {
		char *name = NULL;
		char *header = NULL;
		unsigned char *der = NULL;
		const unsigned char *p;
		long n = 0;
		unsigned long e;

		ERR_clear_error();
		if (!PEM_read_bio(bio, &name, &header, &der, &n)) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) != ERR_LIB_PEM ||
			    ERR_GET_REASON(e) != PEM_R_NO_START_LINE ||
			    block == 1)
				audit_add_error(
				    r, path,
				    "PEM block %d is cut short or corrupt "
				    "(%s); re-export the file",
				    block, ssl_reason(why, sizeof(why)));
			ERR_clear_error();
			break;
		}
		p = der;
		if (strcmp(name, "CERTIFICATE") == 0 ||
		    strcmp(name, "X509 CERTIFICATE") == 0 ||
		    strcmp(name, "TRUSTED CERTIFICATE") == 0) {
			X509 *x = strcmp(name, "TRUSTED CERTIFICATE") == 0
				      ? d2i_X509_AUX(NULL, &p, n)
				      : d2i_X509(NULL, &p, n);

			if (x == NULL || p != der + n) {
				audit_add_error(
				    r, path,
				    "PEM block %d (%s) is not a valid "
				    "certificate (%s); re-export it",
				    block, name, ssl_reason(why, sizeof(why)));
				X509_free(x);
			} else if (!sk_X509_push(certs, x)) {
				X509_free(x);
				r->oom = true;
			}
		} else if (strcmp(name, "PKCS7") == 0) {
			PKCS7 *p7 = d2i_PKCS7(NULL, &p, n);
			int before = sk_X509_num(certs);

			*ordered = false;
			if (p7 == NULL)
				audit_add_error(
				    r, path,
				    "PEM block %d (PKCS7) is not a valid "
				    "PKCS#7 bundle (%s)",
				    block, ssl_reason(why, sizeof(why)));
			else if (!p7_certs(p7, certs))
				r->oom = true;
			else if (sk_X509_num(certs) == before)
				audit_add_error(r, path,
						"PEM block %d (PKCS7) holds no "
						"certificate",
						block);
			PKCS7_free(p7);
		} else if (audit_ends_with(name, "PRIVATE KEY")) {
			audit_add_error(
			    r, path,
			    "PEM block %d is a private key (%s), not a "
			    "certificate; ekulab neither reads nor "
			    "prints key material: give the certificate "
			    "file instead",
			    block, name);
		} else if (strstr(name, "CERTIFICATE REQUEST") != NULL) {
			audit_add_error(
			    r, path,
			    "PEM block %d is a certificate request, not "
			    "a certificate; audit the certificate the CA "
			    "issued",
			    block);
		} else {
			char label[64];

			snprintf(label, sizeof(label), "%s", name);
			audit_clean_utf8(label);
			audit_add_error(
			    r, path, "PEM block %d (%s) is not a certificate",
			    block, label);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(der, (size_t)n);
	}
	BIO_free(bio);
}

/* A binary file: DER certificate, DER PKCS#7, else an error (a DER
 * private key is recognised and named, never printed). */
static void read_der(struct audit_run *r, const char *path,
		     const unsigned char *data, long len, STACK_OF(X509) *certs,
		     bool *ordered)
{
	const unsigned char *p = data;
	X509 *x;
	PKCS7 *p7;
	EVP_PKEY *key;

	x = d2i_X509(NULL, &p, len);
	if (x != NULL && p == data + len) {
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			r->oom = true;
		}
		return;
	}
	X509_free(x);
	p = data;
	p7 = d2i_PKCS7(NULL, &p, len);
	if (p7 != NULL && p == data + len) {
		*ordered = false;
		if (!p7_certs(p7, certs))
			r->oom = true;
		else if (sk_X509_num(certs) == 0)
			audit_add_error(
			    r, path,
			    "a PKCS#7 bundle that holds no certificate");
		PKCS7_free(p7);
		ERR_clear_error();
		return;
	}
	PKCS7_free(p7);
	p = data;
	key = d2i_AutoPrivateKey(NULL, &p, len);
	ERR_clear_error();
	if (key != NULL) {
		EVP_PKEY_free(key);
		audit_add_error(
		    r, path,
		    "a DER private key, not a certificate; ekulab "
		    "neither reads nor prints key material: give the "
		    "certificate file instead");
		return;
	}
	audit_add_error(r, path,
			"not a certificate: no PEM block, and not a DER X.509 "
			"certificate or PKCS#7 bundle");
}

/* The whole file into memory, or an error recorded against it. Never
 * waits on a FIFO for a writer (file_open_read). */
static unsigned char *slurp(struct audit_run *r, const char *path, long *len)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	FILE *fp;
	int fd;
	int en;

	*len = 0;
	en = file_open_read(path, &fd, &st);
	if (en != 0) {
		audit_add_error(r, path, "cannot read: %s%s", strerror(en),
				en == EACCES ? "; make it readable by this user"
					     : "");
		return NULL;
	}
	if (fd < 0) {
		audit_add_error(r, path,
				"not a regular file; give certificate files, "
				"directories or HOST:PORT");
		return NULL;
	}
	fp = fdopen(fd, "rb");
	if (fp == NULL) {
		close(fd);
		r->oom = true;
		return NULL;
	}
	if (st.st_size == 0) {
		audit_add_error(r, path,
				"the file is empty; expected certificates");
		goto out;
	}
	if (st.st_size > MAX_FILE_BYTES) {
		audit_add_error(r, path,
				"larger than %ld MiB; not a certificate file",
				MAX_FILE_BYTES / (1024 * 1024));
		goto out;
	}
	buf = ekl_malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		r->oom = true;
		goto out;
	}
	got = fread(buf, 1, (size_t)st.st_size, fp);
	if (got != (size_t)st.st_size) {
		audit_add_error(r, path, "cannot read: %s",
				ferror(fp) ? strerror(errno) : "file shrank");
		ekl_free(buf);
		buf = NULL;
		goto out;
	}
	buf[got] = '\0';
	*len = (long)got;
out:
	fclose(fp);
	return buf;
}

void audit_data(struct audit_run *r, const struct audit_opts *o,
		const char *source, const unsigned char *data, long len)
{
	STACK_OF(X509) *certs;
	bool ordered = true;

	certs = sk_X509_new_null();
	if (certs == NULL) {
		r->oom = true;
		return;
	}
	if (memmem(data, (size_t)len, "-----BEGIN ", 11) != NULL)
		read_pem(r, source, data, len, certs, &ordered);
	else
		read_der(r, source, data, len, certs, &ordered);
	audit_source(r, o, source, certs, ordered);
	sk_X509_pop_free(certs, X509_free);
}

static void audit_file(struct audit_run *r, const struct audit_opts *o,
		       const char *path)
{
	unsigned char *data;
	long len;

	data = slurp(r, path, &len);
	if (data == NULL)
		return;
	audit_data(r, o, path, data, len);
	/* The buffer may have held a key: wipe it. */
	OPENSSL_cleanse(data, (size_t)len);
	ekl_free(data);
}

static void audit_dir(struct audit_run *r, const struct audit_opts *o,
		      const char *dir, int depth)
{
	struct dirent **list = NULL;
	int n;
	int i;

	if (depth > MAX_DIR_DEPTH) {
		audit_add_error(r, dir,
				"directories nested deeper than %d levels; "
				"not walked",
				MAX_DIR_DEPTH);
		return;
	}
	n = scandir(dir, &list, NULL, alphasort);
	if (n < 0) {
		audit_add_error(r, dir, "cannot list the directory: %s",
				strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		char path[1024];
		struct stat st;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s%s%s", dir,
			 audit_ends_with(dir, "/") ? "" : "/", name);
		if (lstat(path, &st) != 0) {
			audit_add_error(r, path, "cannot read: %s",
					strerror(errno));
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			audit_dir(r, o, path, depth + 1);
			continue;
		}
		/* Symbolic links: followed to files, never to directories
		 * (no loops). */
		if (S_ISLNK(st.st_mode) &&
		    (stat(path, &st) != 0 || !S_ISREG(st.st_mode)))
			continue;
		if (!S_ISREG(st.st_mode))
			continue;
		if (audit_ends_with(name, ".key")) {
			r->skipped++;
			continue;
		}
		audit_file(r, o, path);
	}
	for (i = 0; i < n; i++)
		free(list[i]); /* scandir allocates with malloc */
	free(list);
}

/* ==== live endpoints ================================================= */

/* "HOST:PORT" or "[V6]:PORT" with a decimal port 1-65535. */
static bool split_endpoint(const char *s, char *host, size_t hlen, char *port,
			   size_t plen)
{
	const char *colon;
	const char *h = s;
	size_t n;
	long v;
	char *end;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return false;
		h = s + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)))
			return false;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hlen || memchr(h, '/', n) != NULL)
		return false;
	v = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || v < 1 ||
	    v > 65535 || strlen(colon + 1) >= plen)
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	snprintf(port, plen, "%s", colon + 1);
	return true;
}

/* Milliseconds on the monotonic clock. */
static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline, 0 when it has passed. */
static int left_ms(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Wait until fd is ready for events or deadline passes: 1 ready, 0 the
 * deadline passed, -1 with errno on error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int n;

	for (;;) {
		int left = left_ms(deadline);

		if (left == 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 0)
			return n < 0 ? -1 : 1;
	}
}

/* A non-blocking socket connected to ai by deadline; returns it, or -1
 * with *en set (ETIMEDOUT when the deadline passed). */
static int connect_by(const struct addrinfo *ai, int64_t deadline, int *en)
{
	socklen_t sl = sizeof(*en);
	int fd;

	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0) {
		*en = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			*en = errno;
			goto fail;
		}
		switch (wait_fd(fd, POLLOUT, deadline)) {
		case 0: *en = ETIMEDOUT; goto fail;
		case -1: *en = errno; goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, en, &sl) != 0 ||
		    *en != 0)
			goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static bool is_address(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

struct capture {
	STACK_OF(X509) *chain; /* the peer's chain as sent, leaf first */
};

/* Verification off, but the chain as presented is kept even when the
 * handshake fails afterwards (a server that then demands a client
 * certificate). */
static int capture_cb(int ok, X509_STORE_CTX *ctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
	    ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct capture *cap = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	STACK_OF(X509) *sent;

	(void)ok;
	if (cap != NULL && cap->chain == NULL) {
		sent = X509_STORE_CTX_get0_untrusted(ctx);
		if (sent != NULL && sk_X509_num(sent) > 0)
			cap->chain = X509_chain_up_ref(sent);
	}
	return 1;
}

/* The chain endpoint presents. timeout_ms is a deadline for the whole
 * connect and handshake, however the server paces its bytes (a server
 * that drips one byte every few seconds cannot hold the audit past it);
 * name resolution comes before it and is the resolver's. */
static int fetch_chain(const char *endpoint, const char *host, const char *port,
		       int timeout_ms, STACK_OF(X509) **out, char *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct capture cap = {NULL};
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	bool timed_out = false;
	int64_t deadline;
	char why[256];
	int fd = -1;
	int en = 0;
	int rc;

	*out = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return ekl_errf(err, EKL_EADDR, "cannot resolve '%s': %s", host,
				gai_strerror(rc));
	deadline = now_ms() + timeout_ms;
	for (ai = res; ai != NULL && fd < 0 && left_ms(deadline) > 0;
	     ai = ai->ai_next)
		fd = connect_by(ai, deadline, &en);
	freeaddrinfo(res);
	if (fd < 0)
		return ekl_errf(
		    err, EKL_EIO,
		    "unreachable: %s; check the host, the port and any "
		    "firewall",
		    en == ETIMEDOUT || en == 0 ? "no answer within the timeout"
					       : strerror(en));

	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		rc = ekl_errf_ssl(err, EKL_ENOMEM, "TLS: out of memory");
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, capture_cb);
	ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		rc = ekl_errf_ssl(err, EKL_ENOMEM, "TLS: out of memory");
		goto out;
	}
	SSL_set_app_data(ssl, &cap);
	/* SNI for names, not for addresses. */
	if (!is_address(host))
		SSL_set_tlsext_host_name(ssl, host);
	/* The handshake on the non-blocking socket, until it ends, fails,
	 * or the deadline passes. */
	for (;;) {
		short events;
		int w;

		ERR_clear_error();
		rc = SSL_connect(ssl);
		if (rc == 1)
			break;
		switch (SSL_get_error(ssl, rc)) {
		case SSL_ERROR_WANT_READ: events = POLLIN; break;
		case SSL_ERROR_WANT_WRITE: events = POLLOUT; break;
		default: events = 0; break;
		}
		if (events == 0)
			break;
		w = wait_fd(fd, events, deadline);
		if (w <= 0) {
			timed_out = w == 0;
			break;
		}
	}
	if (cap.chain == NULL) {
		if (timed_out)
			rc = ekl_errf(err, EKL_ETLS,
				      "no TLS answer within %d ms (--timeout "
				      "bounds the connection and the whole "
				      "handshake): is it a TLS port?",
				      timeout_ms);
		else
			rc = ekl_errf(err, EKL_ETLS,
				      "TLS handshake failed (%s): is %s a TLS "
				      "endpoint?",
				      ssl_reason(why, sizeof(why)), endpoint);
		goto out;
	}
	*out = cap.chain;
	cap.chain = NULL;
	rc = 0;
out:
	ERR_clear_error();
	sk_X509_pop_free(cap.chain, X509_free);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return rc;
}

static void audit_endpoint(struct audit_run *r, const struct audit_opts *o,
			   const char *endpoint, const char *host,
			   const char *port)
{
	STACK_OF(X509) *chain = NULL;
	char err[EKL_ERRLEN] = "";

	if (fetch_chain(endpoint, host, port, o->timeout_ms, &chain, err) !=
	    0) {
		audit_add_error(r, endpoint, "%s", err);
		return;
	}
	audit_source(r, o, endpoint, chain, true);
	sk_X509_pop_free(chain, X509_free);
}

void audit_input(struct audit_run *r, const struct audit_opts *o,
		 const char *in)
{
	char host[256], port[8];
	struct stat st;
	int en;

	if (stat(in, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			audit_dir(r, o, in, 0);
		else
			audit_file(r, o, in);
		return;
	}
	en = errno;
	if (en == ENOENT &&
	    split_endpoint(in, host, sizeof(host), port, sizeof(port))) {
		audit_endpoint(r, o, in, host, port);
		return;
	}
	audit_add_error(r, in, "cannot read: %s%s", strerror(en),
			en == ENOENT ? " (and not HOST:PORT either)" : "");
}
