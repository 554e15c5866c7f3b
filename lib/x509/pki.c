/* pki.c: the lab PKI (root, issuing CAs, leaves) made with the OpenSSL API. */
#include "ekulab/x509/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ekulab/core/err.h"
#include "ekulab/x509/sslerr.h"
#include "ekulab/core/mem.h"

/*
 * Files are written in two phases so that a failure never leaves a half PKI
 * or a certificate without its key:
 *   1. stage: each file is written to DIR/FILE.<pid>.tmp, opened with
 *      O_CREAT|O_EXCL and its final mode (0600 for keys), then fsync'd;
 *   2. commit: every temporary is renamed onto its final name, in the order
 *      staged (so the file whose presence means "done" is staged last).
 * On any error the temporaries are unlinked, and files already renamed by a
 * failed commit are unlinked too.
 */

#define ROOT_CN		  "ekulab lab root"
#define DAY		  (INT64_C(86400))
#define CA_BACKDATE	  DAY
#define CA_LIFETIME	  (INT64_C(7305) * DAY) /* 20 years */
#define LEAF_BACKDATE	  INT64_C(3600)
#define LEAF_DEFAULT_DAYS 365
#define TIME_LIMIT	  INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define STAGE_MAX	  8

static const char *const ca_names[] = {"unrestricted", "server-only",
				       "combined"};
/* EKU extension value of each issuing CA; NULL = no EKU extension. */
static const char *const ca_eku[] = {NULL, "serverAuth",
				     "serverAuth,clientAuth"};
static const char *const profile_names[] = {"combined", "server-only",
					    "client-only", "no-eku", "any-eku"};
static const char *const profile_eku[] = {"serverAuth,clientAuth", "serverAuth",
					  "clientAuth", NULL,
					  "anyExtendedKeyUsage"};
static const char *const key_names[] = {"ec-p256", "rsa-2048"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t n, int v)
{
	if (v < 0 || (size_t)v >= n)
		return "?";
	return names[v];
}

static int parse_of(const char *const *names, size_t n, const char *s, int *out)
{
	size_t i;

	if (s == NULL)
		return EKL_EINVAL;
	for (i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return EKL_EINVAL;
}

const char *pki_ca_name(enum pki_ca ca)
{
	return name_of(ca_names, NELEM(ca_names), (int)ca);
}

int pki_ca_parse(const char *s, enum pki_ca *out)
{
	int v;
	int rc = parse_of(ca_names, NELEM(ca_names), s, &v);

	if (rc == 0)
		*out = (enum pki_ca)v;
	return rc;
}

const char *pki_profile_name(enum pki_profile p)
{
	return name_of(profile_names, NELEM(profile_names), (int)p);
}

int pki_profile_parse(const char *s, enum pki_profile *out)
{
	int v;
	int rc = parse_of(profile_names, NELEM(profile_names), s, &v);

	if (rc == 0)
		*out = (enum pki_profile)v;
	return rc;
}

const char *pki_key_name(enum pki_key k)
{
	return name_of(key_names, NELEM(key_names), (int)k);
}

int pki_key_parse(const char *s, enum pki_key *out)
{
	int v;
	int rc = parse_of(key_names, NELEM(key_names), s, &v);

	if (rc == 0)
		*out = (enum pki_key)v;
	return rc;
}

/* ---- time ---- */

/* Exactly n decimal digits at s. */
static int parse_digits(const char *s, int n, int *out)
{
	int v = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30,
				 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian, y >= 1970). */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t yy = m <= 2 ? y - 1 : y;
	int64_t era = yy / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static int parse_epoch(const char *s, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (s[0] == '\0')
		return EKL_EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 12)
			return EKL_EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v > TIME_LIMIT)
		return EKL_EINVAL;
	*out = v;
	return 0;
}

int pki_parse_time(const char *s, int64_t *out)
{
	size_t len;
	int y, mo, d, h = 0, mi = 0, sec = 0;

	if (s == NULL)
		return EKL_EINVAL;
	if (s[0] == '@')
		return parse_epoch(s + 1, out);
	len = strlen(s);
	if (len != 10 && len != 20)
		return EKL_EINVAL;
	if (parse_digits(s, 4, &y) != 0 || s[4] != '-' ||
	    parse_digits(s + 5, 2, &mo) != 0 || s[7] != '-' ||
	    parse_digits(s + 8, 2, &d) != 0)
		return EKL_EINVAL;
	if (len == 20 &&
	    (s[10] != 'T' || parse_digits(s + 11, 2, &h) != 0 || s[13] != ':' ||
	     parse_digits(s + 14, 2, &mi) != 0 || s[16] != ':' ||
	     parse_digits(s + 17, 2, &sec) != 0 || s[19] != 'Z'))
		return EKL_EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return EKL_EINVAL;
	*out = days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + sec;
	return 0;
}

/* ---- files ---- */

/* A path built with printf formatting; ekl_free it. NULL when out of memory. */
static char *path_fmt(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static char *path_fmt(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = ekl_malloc((size_t)n + 1);
	if (p == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

static bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Create dir (0700) unless it already is a directory. */
static int ensure_dir(const char *dir, char *err)
{
	struct stat st;

	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return ekl_errf(err, EKL_EINVAL,
					"pki directory %s exists but is not a "
					"directory",
					dir);
		return 0;
	}
	if (errno != ENOENT || mkdir(dir, 0700) != 0)
		return ekl_errf(err, EKL_EIO,
				"cannot create pki directory %s: %s", dir,
				strerror(errno));
	return 0;
}

/* Files staged under temporary names, waiting to be renamed. */
struct stage {
	size_t n;
	struct {
		char *tmp;   /* owned; NULL once renamed */
		char *final; /* owned */
	} f[STAGE_MAX];
};

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Write the contents of memory BIO pem to dir/name under a temporary name
 * with the given mode (set at creation: never chmod'ed afterwards). */
static int stage_pem(struct stage *s, const char *dir, const char *name,
		     mode_t mode, BIO *pem, char *err)
{
	char *tmp = NULL;
	char *final = NULL;
	char *data;
	long len;
	int fd = -1;
	int rc;

	if (s->n >= STAGE_MAX) {
		rc = ekl_errf(err, EKL_EINVAL, "pki: too many files staged");
		goto err;
	}
	final = path_fmt("%s/%s", dir, name);
	tmp = path_fmt("%s/%s.%ld.tmp", dir, name, (long)getpid());
	if (final == NULL || tmp == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "out of memory writing %s/%s",
			      dir, name);
		goto err;
	}
	/* A leftover of a killed run with our pid; the name is ours. */
	if (unlink(tmp) != 0 && errno != ENOENT) {
		rc = ekl_errf(err, EKL_EIO, "cannot remove stale %s: %s", tmp,
			      strerror(errno));
		goto err;
	}
	fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = ekl_errf(err, EKL_EIO, "cannot create %s: %s", tmp,
			      strerror(errno));
		goto err;
	}
	s->f[s->n].tmp = tmp;
	s->f[s->n].final = final;
	s->n++;
	len = BIO_get_mem_data(pem, &data);
	if (len <= 0 || write_all(fd, data, (size_t)len) != 0 ||
	    fsync(fd) != 0) {
		rc = ekl_errf(err, EKL_EIO, "cannot write %s: %s", tmp,
			      len <= 0 ? "nothing to write" : strerror(errno));
		goto err_after_open;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = ekl_errf(err, EKL_EIO, "cannot write %s: %s", tmp,
			      strerror(errno));
		goto err_after_open;
	}
	return 0;

err_after_open:
	/* tmp and final now belong to the stage; stage_abort unlinks. */
	if (fd >= 0)
		close(fd);
	return rc;
err:
	ekl_free(tmp);
	ekl_free(final);
	return rc;
}

/* Unlink what is still temporary and free everything. Safe after commit. */
static void stage_abort(struct stage *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (s->f[i].tmp != NULL)
			unlink(s->f[i].tmp);
		ekl_free(s->f[i].tmp);
		ekl_free(s->f[i].final);
	}
	s->n = 0;
}

static int stage_commit(struct stage *s, char *err)
{
	size_t i;
	size_t j;
	int rc;

	for (i = 0; i < s->n; i++) {
		if (rename(s->f[i].tmp, s->f[i].final) != 0) {
			rc = ekl_errf(err, EKL_EIO,
				      "cannot rename %s to %s: %s", s->f[i].tmp,
				      s->f[i].final, strerror(errno));
			goto err_after_rename;
		}
		ekl_free(s->f[i].tmp);
		s->f[i].tmp = NULL;
	}
	return 0;

err_after_rename:
	/* Files renamed so far are new and belong to the failed set. */
	for (j = 0; j < i; j++)
		unlink(s->f[j].final);
	return rc;
}

/* ---- certificates ---- */

static EVP_PKEY *make_key(enum pki_key k)
{
	if (k == PKI_KEY_RSA_2048)
		return EVP_RSA_gen(2048);
	return EVP_EC_gen("P-256");
}

/* A random positive 128-bit serial (top bit clear, next bit set so the DER
 * encoding is always 16 bytes). */
static int set_serial(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	if (RAND_bytes(b, sizeof(b)) != 1)
		goto out;
	b[0] = (unsigned char)((b[0] & 0x7f) | 0x40);
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (bn == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	ok = 1;
out:
	BN_free(bn);
	return ok;
}

/* What a certificate looks like; make_cert turns it into a signed X509. */
struct cert_spec {
	const char *cn;
	EVP_PKEY *key;	      /* subject key */
	X509 *issuer;	      /* NULL: self-signed */
	EVP_PKEY *issuer_key; /* NULL: self-signed (key signs) */
	int64_t not_before;
	int64_t not_after;
	const char *bc;	    /* basicConstraints */
	const char *ku;	    /* keyUsage */
	const char *eku;    /* extendedKeyUsage; NULL = no extension */
	bool aki;	    /* add authorityKeyIdentifier */
	GENERAL_NAMES *san; /* NULL = no subjectAltName; not owned */
};

/* A fresh v3 certificate with serial, subject CN, key and validity. */
static X509 *new_cert(const struct cert_spec *cs)
{
	X509 *x = X509_new();
	X509_NAME *subj;

	if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
	    !set_serial(x) || X509_set_pubkey(x, cs->key) != 1)
		goto err;
	subj = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
				       (const unsigned char *)cs->cn, -1, -1,
				       0) != 1)
		goto err;
	if (X509_set_issuer_name(x, cs->issuer != NULL
					? X509_get_subject_name(cs->issuer)
					: subj) != 1)
		goto err;
	if (ASN1_TIME_set(X509_getm_notBefore(x), (time_t)cs->not_before) ==
		NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)cs->not_after) == NULL)
		goto err;
	return x;
err:
	X509_free(x);
	return NULL;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

static int sign(X509 *x, EVP_PKEY *key)
{
	return X509_sign(x, key, EVP_sha256()) > 0;
}

static int make_cert(const struct cert_spec *cs, X509 **out, char *err)
{
	X509V3_CTX ctx;
	X509 *x = new_cert(cs);
	X509 *issuer;
	EVP_PKEY *signer = cs->issuer_key != NULL ? cs->issuer_key : cs->key;

	if (x == NULL)
		goto err;
	issuer = cs->issuer != NULL ? cs->issuer : x;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if (!add_ext(x, &ctx, NID_basic_constraints, cs->bc) ||
	    !add_ext(x, &ctx, NID_key_usage, cs->ku) ||
	    !add_ext(x, &ctx, NID_subject_key_identifier, "hash"))
		goto err;
	/* After the SKI: a self-signed AKI reuses the certificate's own. */
	if (cs->aki &&
	    !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
		goto err;
	if (cs->eku != NULL && !add_ext(x, &ctx, NID_ext_key_usage, cs->eku))
		goto err;
	if (cs->san != NULL &&
	    X509_add1_ext_i2d(x, NID_subject_alt_name, cs->san, 0,
			      X509V3_ADD_DEFAULT) != 1)
		goto err;
	if (!sign(x, signer))
		goto err;
	*out = x;
	return 0;
err:
	X509_free(x);
	return ekl_errf_ssl(err, EKL_ECRYPTO,
			    "pki: cannot build the certificate for '%s'",
			    cs->cn);
}

/* PEM of one or two certificates (b may be NULL) in a new memory BIO. */
static BIO *pem_certs(X509 *a, X509 *b)
{
	BIO *m = BIO_new(BIO_s_mem());

	if (m == NULL || PEM_write_bio_X509(m, a) != 1 ||
	    (b != NULL && PEM_write_bio_X509(m, b) != 1)) {
		BIO_free(m);
		return NULL;
	}
	return m;
}

/* PKCS#8 PEM of a private key in a new memory BIO. */
static BIO *pem_key(EVP_PKEY *k)
{
	BIO *m = BIO_new(BIO_s_mem());

	if (m == NULL || PEM_write_bio_PKCS8PrivateKey(m, k, NULL, NULL, 0,
						       NULL, NULL) != 1) {
		BIO_free(m);
		return NULL;
	}
	return m;
}

/* Stage a certificate file (0644) holding a (then b, may be NULL). */
static int stage_certs(struct stage *s, const char *dir, const char *name,
		       X509 *a, X509 *b, char *err)
{
	BIO *m = pem_certs(a, b);
	int rc;

	if (m == NULL)
		return ekl_errf_ssl(err, EKL_ECRYPTO, "pki: cannot encode %s",
				    name);
	rc = stage_pem(s, dir, name, 0644, m, err);
	BIO_free(m);
	return rc;
}

/* Stage a private key file (0600). */
static int stage_key(struct stage *s, const char *dir, const char *name,
		     EVP_PKEY *k, char *err)
{
	BIO *m = pem_key(k);
	int rc;

	if (m == NULL)
		return ekl_errf_ssl(err, EKL_ECRYPTO, "pki: cannot encode %s",
				    name);
	rc = stage_pem(s, dir, name, 0600, m, err);
	BIO_free(m);
	return rc;
}

/* ---- init ---- */

int pki_init(const char *dir, bool force, char *err)
{
	struct stage st = {0};
	EVP_PKEY *root_key = NULL;
	X509 *root = NULL;
	EVP_PKEY *ca_key[NELEM(ca_names)] = {NULL};
	X509 *ca[NELEM(ca_names)] = {NULL};
	char *bundle = NULL;
	char cn[64];
	char file[64];
	int64_t now = (int64_t)time(NULL);
	size_t i;
	int rc;

	rc = ensure_dir(dir, err);
	if (rc != 0)
		goto out;
	bundle = path_fmt("%s/ca.crt", dir);
	if (bundle == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	if (!force && path_exists(bundle)) {
		rc = ekl_errf(err, EKL_EEXIST,
			      "%s already holds a PKI (%s exists); use --force "
			      "to replace it (leaves issued from it will no "
			      "longer verify)",
			      dir, bundle);
		goto out;
	}

	root_key = make_key(PKI_KEY_EC_P256);
	if (root_key == NULL) {
		rc = ekl_errf_ssl(err, EKL_ECRYPTO,
				  "pki: cannot generate the root key");
		goto out;
	}
	rc =
	    make_cert(&(struct cert_spec){.cn = ROOT_CN,
					  .key = root_key,
					  .not_before = now - CA_BACKDATE,
					  .not_after = now + CA_LIFETIME,
					  .bc = "critical,CA:TRUE",
					  .ku = "critical,keyCertSign,cRLSign"},
		      &root, err);
	if (rc != 0)
		goto out;

	for (i = 0; i < NELEM(ca_names); i++) {
		snprintf(cn, sizeof(cn), "ca-%s", ca_names[i]);
		ca_key[i] = make_key(PKI_KEY_EC_P256);
		if (ca_key[i] == NULL) {
			rc =
			    ekl_errf_ssl(err, EKL_ECRYPTO,
					 "pki: cannot generate the %s key", cn);
			goto out;
		}
		rc = make_cert(
		    &(struct cert_spec){.cn = cn,
					.key = ca_key[i],
					.issuer = root,
					.issuer_key = root_key,
					.not_before = now - CA_BACKDATE,
					.not_after = now + CA_LIFETIME,
					.bc = "critical,CA:TRUE,pathlen:0",
					.ku = "critical,keyCertSign,cRLSign",
					.eku = ca_eku[i],
					.aki = true},
		    &ca[i], err);
		if (rc != 0)
			goto out;
	}

	/* Keys first, ca.crt last: its presence means a complete PKI. */
	rc = stage_key(&st, dir, "root.key", root_key, err);
	for (i = 0; rc == 0 && i < NELEM(ca_names); i++) {
		snprintf(file, sizeof(file), "ca-%s.key", ca_names[i]);
		rc = stage_key(&st, dir, file, ca_key[i], err);
		if (rc != 0)
			break;
		snprintf(file, sizeof(file), "ca-%s.crt", ca_names[i]);
		rc = stage_certs(&st, dir, file, ca[i], NULL, err);
	}
	if (rc == 0)
		rc = stage_certs(&st, dir, "ca.crt", root, NULL, err);
	if (rc == 0)
		rc = stage_commit(&st, err);
out:
	stage_abort(&st);
	for (i = 0; i < NELEM(ca_names); i++) {
		X509_free(ca[i]);
		EVP_PKEY_free(ca_key[i]);
	}
	X509_free(root);
	EVP_PKEY_free(root_key);
	ekl_free(bundle);
	return rc;
}

/* ---- the admin CA ---- */

/* Read one PEM object of dir/name: a certificate (crt) or a key. */
static int read_pem(const char *dir, const char *name, X509 **crt,
		    EVP_PKEY **key, char *err)
{
	char *path = path_fmt("%s/%s", dir, name);
	BIO *b = NULL;
	int rc = 0;

	if (path == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	if (!path_exists(path)) {
		rc = ekl_errf(err, EKL_ENOENT,
			      "%s is missing; run `ekulab pki init --dir %s` "
			      "first",
			      path, dir);
		goto out;
	}
	b = BIO_new_file(path, "r");
	if (b == NULL ||
	    (crt != NULL
		 ? (*crt = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL
		 : (*key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) ==
		       NULL))
		rc = ekl_errf_ssl(err, EKL_EIO, "cannot read %s", path);
out:
	BIO_free(b);
	ekl_free(path);
	return rc;
}

int pki_admin_init(const char *dir, char *err)
{
	struct stage st = {0};
	EVP_PKEY *root_key = NULL, *key = NULL;
	X509 *root = NULL, *ca = NULL;
	char *crt_path = path_fmt("%s/ca-admin.crt", dir);
	int64_t now = (int64_t)time(NULL);
	int rc = 0;

	if (crt_path == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	if (path_exists(crt_path))
		goto out;
	if ((rc = read_pem(dir, "ca.crt", &root, NULL, err)) != 0 ||
	    (rc = read_pem(dir, "root.key", NULL, &root_key, err)) != 0)
		goto out;
	if (X509_check_private_key(root, root_key) != 1) {
		rc = ekl_errf_ssl(err, EKL_ECRYPTO,
				  "%s/root.key does not match %s/ca.crt", dir,
				  dir);
		goto out;
	}
	key = make_key(PKI_KEY_EC_P256);
	if (key == NULL) {
		rc = ekl_errf_ssl(err, EKL_ECRYPTO,
				  "pki: cannot generate the ca-admin key");
		goto out;
	}
	rc = make_cert(&(struct cert_spec){.cn = PKI_ADMIN_CA_CN,
					   .key = key,
					   .issuer = root,
					   .issuer_key = root_key,
					   .not_before = now - CA_BACKDATE,
					   .not_after = now + CA_LIFETIME,
					   .bc = "critical,CA:TRUE,pathlen:0",
					   .ku = "critical,keyCertSign,cRLSign",
					   .eku = "serverAuth,clientAuth",
					   .aki = true},
		       &ca, err);
	if (rc == 0)
		rc = stage_key(&st, dir, "ca-admin.key", key, err);
	if (rc == 0)
		rc = stage_certs(&st, dir, "ca-admin.crt", ca, NULL, err);
	if (rc == 0)
		rc = stage_commit(&st, err);
out:
	stage_abort(&st);
	X509_free(ca);
	EVP_PKEY_free(key);
	X509_free(root);
	EVP_PKEY_free(root_key);
	ekl_free(crt_path);
	return rc;
}

/* ---- issue ---- */

/* A leaf name is a file stem: [A-Za-z0-9._-]+, not starting with . or -. */
static bool valid_stem(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
		if (i >= 200)
			return false;
	}
	return true;
}

/* Append one SAN. "DNS:NAME" and "IP:ADDR" (openssl's spelling) say
 * which; a bare value is an IP address when it parses as IPv4/IPv6, else
 * a DNS name. A DNS name has no space, comma or colon (a colon would be
 * "DNS:DNS:node2", or another kind openssl knows but we do not write). */
static int san_push(GENERAL_NAMES *gens, const char *arg, char *err)
{
	unsigned char ip[16];
	int iplen = 0;
	GENERAL_NAME *gn = NULL;
	ASN1_STRING *v = NULL;
	const char *s = arg;
	bool want_ip = false, want_dns = false;
	size_t i;

	if (strncmp(s, "DNS:", 4) == 0) {
		s += 4;
		want_dns = true;
	} else if (strncmp(s, "IP:", 3) == 0) {
		s += 3;
		want_ip = true;
	}
	if (!want_dns) {
		if (inet_pton(AF_INET, s, ip) == 1)
			iplen = 4;
		else if (inet_pton(AF_INET6, s, ip) == 1)
			iplen = 16;
	}
	if (want_ip && iplen == 0)
		return ekl_errf(err, EKL_EINVAL,
				"invalid SAN '%s' (--san): '%s' is not an "
				"IPv4 or IPv6 address",
				arg, s);
	if (iplen == 0) {
		if (s[0] == '\0' || strlen(s) > 253)
			goto bad;
		for (i = 0; s[i] != '\0'; i++)
			if (s[i] <= ' ' || s[i] > '~' || s[i] == ',' ||
			    s[i] == ':')
				goto bad;
	}
	gn = GENERAL_NAME_new();
	v = iplen != 0 ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
	if (gn == NULL || v == NULL)
		goto err;
	if (iplen != 0 ? ASN1_OCTET_STRING_set(v, ip, iplen) != 1
		       : ASN1_STRING_set(v, s, -1) != 1)
		goto err;
	GENERAL_NAME_set0_value(gn, iplen != 0 ? GEN_IPADD : GEN_DNS, v);
	v = NULL;
	if (sk_GENERAL_NAME_push(gens, gn) <= 0)
		goto err;
	return 0;
bad:
	return ekl_errf(err, EKL_EINVAL,
			"invalid SAN '%s' (--san): give a DNS name (NAME or "
			"DNS:NAME, without spaces, commas or colons) or an IP "
			"address (ADDR or IP:ADDR)",
			arg);
err:
	ASN1_STRING_free(v);
	GENERAL_NAME_free(gn);
	return ekl_errf_ssl(err, EKL_ECRYPTO, "pki: cannot add SAN '%s'", arg);
}

static int build_sans(const struct pki_leaf_opts *o, GENERAL_NAMES **out,
		      char *err)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	size_t i;
	int rc = 0;

	if (gens == NULL)
		return ekl_errf_ssl(err, EKL_ENOMEM, "pki: out of memory");
	if (o->n_sans == 0)
		rc = san_push(gens, o->name, err);
	for (i = 0; rc == 0 && i < o->n_sans; i++)
		rc = o->sans[i] == NULL
			 ? ekl_errf(err, EKL_EINVAL, "SAN %zu is NULL", i)
			 : san_push(gens, o->sans[i], err);
	if (rc != 0) {
		GENERAL_NAMES_free(gens);
		return rc;
	}
	*out = gens;
	return 0;
}

/* Load dir/ca-<stem>.crt and .key (stem: an issuing CA's name, or
 * "admin"), checking that they belong together. */
static int load_ca(const char *dir, const char *stem, X509 **crt,
		   EVP_PKEY **key, char *err)
{
	char crt_name[96], key_name[96];
	char *crt_path = path_fmt("%s/ca-%s.crt", dir, stem);
	char *key_path = path_fmt("%s/ca-%s.key", dir, stem);
	int rc = 0;

	*crt = NULL;
	*key = NULL;
	snprintf(crt_name, sizeof(crt_name), "ca-%s.crt", stem);
	snprintf(key_name, sizeof(key_name), "ca-%s.key", stem);
	if (crt_path == NULL || key_path == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	if (!path_exists(crt_path) || !path_exists(key_path)) {
		rc = ekl_errf(err, EKL_ENOENT,
			      "no issuing CA '%s' in %s (%s missing); run "
			      "`ekulab pki init --dir %s` first",
			      stem, dir,
			      path_exists(crt_path) ? key_path : crt_path, dir);
		goto out;
	}
	if ((rc = read_pem(dir, crt_name, crt, NULL, err)) != 0 ||
	    (rc = read_pem(dir, key_name, NULL, key, err)) != 0)
		goto out;
	if (X509_check_private_key(*crt, *key) != 1) {
		rc =
		    ekl_errf_ssl(err, EKL_ECRYPTO,
				 "%s does not match %s; rerun `ekulab pki init "
				 "--dir %s --force`",
				 key_path, crt_path, dir);
		goto out;
	}
out:
	if (rc != 0) {
		X509_free(*crt);
		EVP_PKEY_free(*key);
		*crt = NULL;
		*key = NULL;
	}
	ekl_free(crt_path);
	ekl_free(key_path);
	return rc;
}

static int leaf_validity(const struct pki_leaf_opts *o, int64_t *nb,
			 int64_t *na, char *err)
{
	int64_t now = (int64_t)time(NULL);

	if (o->not_before != 0 && o->not_after != 0) {
		if (o->not_before < 0 || o->not_after > TIME_LIMIT ||
		    o->not_after <= o->not_before)
			return ekl_errf(err, EKL_EINVAL,
					"leaf '%s': not-after must be later "
					"than not-before",
					o->name);
		*nb = o->not_before;
		*na = o->not_after;
		return 0;
	}
	if (o->days < 0 || o->days > 36500)
		return ekl_errf(err, EKL_EINVAL,
				"leaf '%s': days must be 1-36500, got %d",
				o->name, o->days);
	*nb = now - LEAF_BACKDATE;
	*na = now + (int64_t)(o->days != 0 ? o->days : LEAF_DEFAULT_DAYS) * DAY;
	return 0;
}

int pki_issue(const char *dir, const struct pki_leaf_opts *o, char *err)
{
	struct stage st = {0};
	char *crt_path = NULL;
	char *key_path = NULL;
	char *crt_name = NULL;
	char *key_name = NULL;
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;
	GENERAL_NAMES *san = NULL;
	int64_t nb = 0;
	int64_t na = 0;
	int rc;

	if (!valid_stem(o->name)) {
		rc = ekl_errf(err, EKL_EINVAL,
			      "invalid leaf name '%s' (--name): use letters, "
			      "digits, '.', '_' and '-', not starting with '.' "
			      "or '-' (it becomes the file name)",
			      o->name != NULL ? o->name : "(null)");
		goto out;
	}
	if ((int)o->profile < 0 || (size_t)o->profile >= NELEM(profile_names) ||
	    (int)o->ca < 0 || (size_t)o->ca >= NELEM(ca_names) ||
	    (int)o->key < 0 || (size_t)o->key >= NELEM(key_names) ||
	    o->n_sans > PKI_MAX_SANS) {
		rc = ekl_errf(err, EKL_EINVAL,
			      "leaf '%s': bad profile, ca, key or SAN count",
			      o->name);
		goto out;
	}
	if (o->admin && o->self_signed) {
		rc = ekl_errf(err, EKL_EINVAL,
			      "leaf '%s': an admin certificate is issued by "
			      "the admin CA, never self-signed",
			      o->name);
		goto out;
	}
	rc = leaf_validity(o, &nb, &na, err);
	if (rc != 0)
		goto out;
	rc = build_sans(o, &san, err);
	if (rc != 0)
		goto out;

	crt_name = path_fmt("%s.crt", o->name);
	key_name = path_fmt("%s.key", o->name);
	crt_path = path_fmt("%s/%s.crt", dir, o->name);
	key_path = path_fmt("%s/%s.key", dir, o->name);
	if (crt_name == NULL || key_name == NULL || crt_path == NULL ||
	    key_path == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	if (o->self_signed) {
		rc = ensure_dir(dir, err);
		if (rc != 0)
			goto out;
	} else {
		rc = load_ca(dir, o->admin ? "admin" : pki_ca_name(o->ca), &ca,
			     &ca_key, err);
		if (rc != 0)
			goto out;
	}
	if (!o->force && (path_exists(crt_path) || path_exists(key_path))) {
		rc = ekl_errf(err, EKL_EEXIST,
			      "%s already exists; use --force to replace %s "
			      "and %s",
			      path_exists(crt_path) ? crt_path : key_path,
			      crt_path, key_path);
		goto out;
	}

	key = make_key(o->key);
	if (key == NULL) {
		rc = ekl_errf_ssl(err, EKL_ECRYPTO,
				  "pki: cannot generate a %s key for '%s'",
				  pki_key_name(o->key), o->name);
		goto out;
	}
	rc = make_cert(
	    &(struct cert_spec){.cn = o->name,
				.key = key,
				.issuer = ca,
				.issuer_key = ca_key,
				.not_before = nb,
				.not_after = na,
				.bc = "critical,CA:FALSE",
				.ku = o->key == PKI_KEY_RSA_2048
					  ? "critical,digitalSignature,"
					    "keyEncipherment"
					  : "critical,digitalSignature",
				.eku = profile_eku[o->profile],
				.aki = true,
				.san = san},
	    &leaf, err);
	if (rc != 0)
		goto out;

	rc = stage_key(&st, dir, key_name, key, err);
	if (rc == 0)
		rc = stage_certs(&st, dir, crt_name, leaf, ca, err);
	if (rc == 0)
		rc = stage_commit(&st, err);
out:
	stage_abort(&st);
	GENERAL_NAMES_free(san);
	X509_free(leaf);
	EVP_PKEY_free(key);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	ekl_free(crt_name);
	ekl_free(key_name);
	ekl_free(crt_path);
	ekl_free(key_path);
	return rc;
}
