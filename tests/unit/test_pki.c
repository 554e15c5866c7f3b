/* test_pki.c: the lab PKI, inspected back with the OpenSSL API. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/pki.h"
#include "testutil.h"

/* ---- helpers ---- */

static char *path_of(const char *dir, const char *file)
{
	static char buf[4][600];
	static int i;

	i = (i + 1) % 4;
	if (snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, file) >=
	    (int)sizeof(buf[i]))
		ck_abort_msg("path too long: %s/%s", dir, file);
	return buf[i];
}

static bool exists(const char *dir, const char *file)
{
	struct stat st;

	return stat(path_of(dir, file), &st) == 0;
}

static unsigned mode_of(const char *dir, const char *file)
{
	struct stat st;

	ck_assert_int_eq(stat(path_of(dir, file), &st), 0);
	return (unsigned)(st.st_mode & 0777);
}

/* Every certificate of a PEM file, in order. */
static STACK_OF(X509) *load_certs(const char *dir, const char *file)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_file(path_of(dir, file), "r");
	X509 *x;

	ck_assert_ptr_nonnull(sk);
	ck_assert_msg(b != NULL, "cannot open %s/%s", dir, file);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	ERR_clear_error();
	BIO_free(b);
	return sk;
}

static X509 *load_one(const char *dir, const char *file)
{
	STACK_OF(X509) *sk = load_certs(dir, file);
	X509 *x;

	ck_assert_int_ge(sk_X509_num(sk), 1);
	x = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	return x;
}

static EVP_PKEY *load_key(const char *dir, const char *file)
{
	BIO *b = BIO_new_file(path_of(dir, file), "r");
	EVP_PKEY *k;

	ck_assert_ptr_nonnull(b);
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	ck_assert_ptr_nonnull(k);
	return k;
}

static char *slurp(const char *dir, const char *file)
{
	FILE *f = fopen(path_of(dir, file), "r");
	char *buf = calloc(1, 65536);

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_gt(fread(buf, 1, 65535, f), 0);
	fclose(f);
	return buf;
}

static void cn_of(X509_NAME *n, char *out, int len)
{
	out[0] = '\0';
	X509_NAME_get_text_by_NID(n, NID_commonName, out, len);
}

/* The EKU OIDs (as NIDs) in order; -1 for "no extension". Returns count. */
static int eku_nids(X509 *x, int *nids, int max)
{
	EXTENDED_KEY_USAGE *eku =
	    X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	int i;
	int n;

	if (eku == NULL)
		return -1;
	n = sk_ASN1_OBJECT_num(eku);
	for (i = 0; i < n && i < max; i++)
		nids[i] = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i));
	EXTENDED_KEY_USAGE_free(eku);
	return n;
}

static void assert_eku(X509 *x, int n_expect, const int *expect)
{
	int nids[8];
	int n = eku_nids(x, nids, 8);
	int i;

	if (n_expect < 0) {
		ck_assert_int_eq(n, -1);
		ck_assert(!(X509_get_extension_flags(x) & EXFLAG_XKUSAGE));
		ck_assert_uint_eq(X509_get_extended_key_usage(x), UINT32_MAX);
		return;
	}
	ck_assert(X509_get_extension_flags(x) & EXFLAG_XKUSAGE);
	ck_assert_int_eq(n, n_expect);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(nids[i], expect[i]);
}

/* X509_verify_cert of leaf + untrusted against the trust bundle dir/bundle
 * with a purpose (0: none). Returns X509_V_OK or the first error; *depth
 * gets its depth. */
static int verify_with(const char *dir, const char *bundle, X509 *leaf,
		       STACK_OF(X509) *untrusted, int purpose, int *depth)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc;

	ck_assert_ptr_nonnull(store);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(X509_STORE_load_file(store, path_of(dir, bundle)), 1);
	ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, leaf, untrusted), 1);
	if (purpose != 0)
		X509_STORE_CTX_set_purpose(ctx, purpose);
	rc = X509_verify_cert(ctx) == 1 ? X509_V_OK
					: X509_STORE_CTX_get_error(ctx);
	if (depth != NULL)
		*depth = X509_STORE_CTX_get_error_depth(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

static int verify(const char *dir, X509 *leaf, STACK_OF(X509) *untrusted,
		  int purpose, int *depth)
{
	return verify_with(dir, "ca.crt", leaf, untrusted, purpose, depth);
}

static const char *init_pki(void)
{
	const char *dir = tu_tmpdir("pki");
	char err[EKL_ERRLEN] = "";

	ck_assert_ptr_nonnull(dir);
	ck_assert_msg(pki_init(dir, false, err) == 0, "pki_init: %s", err);
	return dir;
}

static int issue(const char *dir, const char *name, enum pki_profile p,
		 enum pki_ca ca, char *err)
{
	struct pki_leaf_opts o = {
	    .name = name, .profile = p, .ca = ca, .key = PKI_KEY_EC_P256};

	return pki_issue(dir, &o, err);
}

/* No "*.tmp" file left in dir. */
static void assert_no_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		ck_assert_msg(n < 4 || strcmp(e->d_name + n - 4, ".tmp") != 0,
			      "temporary %s left behind", e->d_name);
	}
	closedir(d);
}

/* ---- names ---- */

START_TEST(test_names_round_trip)
{
	enum pki_ca ca;
	enum pki_profile p;
	enum pki_key k;
	int i;

	for (i = PKI_CA_UNRESTRICTED; i <= PKI_CA_COMBINED; i++) {
		ck_assert_int_eq(pki_ca_parse(pki_ca_name(i), &ca), 0);
		ck_assert_int_eq(ca, i);
	}
	for (i = PKI_PROFILE_COMBINED; i <= PKI_PROFILE_ANY_EKU; i++) {
		ck_assert_int_eq(pki_profile_parse(pki_profile_name(i), &p), 0);
		ck_assert_int_eq(p, i);
	}
	for (i = PKI_KEY_EC_P256; i <= PKI_KEY_RSA_2048; i++) {
		ck_assert_int_eq(pki_key_parse(pki_key_name(i), &k), 0);
		ck_assert_int_eq(k, i);
	}
	ck_assert_str_eq(pki_ca_name(PKI_CA_SERVER_ONLY), "server-only");
	ck_assert_str_eq(pki_profile_name(PKI_PROFILE_NO_EKU), "no-eku");
	ck_assert_str_eq(pki_profile_name(PKI_PROFILE_ANY_EKU), "any-eku");
	ck_assert_str_eq(pki_key_name(PKI_KEY_RSA_2048), "rsa-2048");
}
END_TEST

START_TEST(test_names_reject)
{
	enum pki_ca ca;
	enum pki_profile p;
	enum pki_key k;

	ck_assert_int_eq(pki_ca_parse("Combined", &ca), EKL_EINVAL);
	ck_assert_int_eq(pki_ca_parse("", &ca), EKL_EINVAL);
	ck_assert_int_eq(pki_profile_parse("server_only", &p), EKL_EINVAL);
	ck_assert_int_eq(pki_profile_parse("unrestricted", &p), EKL_EINVAL);
	ck_assert_int_eq(pki_key_parse("rsa", &k), EKL_EINVAL);
	ck_assert_int_eq(pki_key_parse(NULL, &k), EKL_EINVAL);
}
END_TEST

/* ---- pki_parse_time ---- */

START_TEST(test_time_good)
{
	int64_t t;

	ck_assert_int_eq(pki_parse_time("1970-01-01", &t), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(pki_parse_time("2026-06-15", &t), 0);
	ck_assert_int_eq(t, 1781481600);
	ck_assert_int_eq(pki_parse_time("2026-06-15T12:34:56Z", &t), 0);
	ck_assert_int_eq(t, 1781526896);
	ck_assert_int_eq(pki_parse_time("2024-02-29", &t), 0);
	ck_assert_int_eq(t, 1709164800);
	ck_assert_int_eq(pki_parse_time("@0", &t), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(pki_parse_time("@1781481600", &t), 0);
	ck_assert_int_eq(t, 1781481600);
	ck_assert_int_eq(pki_parse_time("9999-12-31T23:59:59Z", &t), 0);
	ck_assert_int_eq(t, INT64_C(253402300799));
}
END_TEST

START_TEST(test_time_bad)
{
	static const char *const bad[] = {
	    "",
	    "2026-6-15",
	    "2026-06-15T12:34:56",
	    "2026-06-15 12:34:56Z",
	    "2026-06-15T24:00:00Z",
	    "2026-06-15T12:60:00Z",
	    "2026-06-15Z",
	    "2025-02-29",
	    "2026-13-01",
	    "2026-00-10",
	    "2026-04-31",
	    "1969-12-31",
	    "@",
	    "@-5",
	    "@12a",
	    "@999999999999999",
	    "tomorrow",
	    "2026-06-15T12:34:56+01:00",
	};
	int64_t t = 42;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(pki_parse_time(bad[i], &t) == EKL_EINVAL,
			      "'%s' accepted", bad[i]);
	ck_assert_int_eq(t, 42);
	ck_assert_int_eq(pki_parse_time(NULL, &t), EKL_EINVAL);
}
END_TEST

/* ---- pki_init ---- */

START_TEST(test_init_files)
{
	static const char *const keys[] = {"root.key", "ca-unrestricted.key",
					   "ca-server-only.key",
					   "ca-combined.key"};
	static const char *const crts[] = {"ca.crt", "ca-unrestricted.crt",
					   "ca-server-only.crt",
					   "ca-combined.crt"};
	const char *base = tu_tmpdir("pki-init");
	char dir[600];
	char err[EKL_ERRLEN] = "";
	struct stat st;
	size_t i;

	/* A directory that does not exist yet is created 0700. */
	snprintf(dir, sizeof(dir), "%s/new", base);
	umask(0);
	ck_assert_msg(pki_init(dir, false, err) == 0, "%s", err);
	umask(022);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	for (i = 0; i < 4; i++) {
		ck_assert_msg(mode_of(dir, keys[i]) == 0600, "%s mode %o",
			      keys[i], mode_of(dir, keys[i]));
		ck_assert(exists(dir, crts[i]));
	}
	assert_no_tmp(dir);
}
END_TEST

START_TEST(test_init_refuses_second)
{
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "";
	char *before = slurp(dir, "ca.crt");
	char *after;

	ck_assert_int_eq(pki_init(dir, false, err), EKL_EEXIST);
	ck_assert_msg(strstr(err, "--force") != NULL, "%s", err);
	after = slurp(dir, "ca.crt");
	ck_assert_str_eq(before, after);
	free(after);
	ck_assert_int_eq(pki_init(dir, true, err), 0);
	after = slurp(dir, "ca.crt");
	ck_assert_str_ne(before, after);
	ck_assert_uint_eq(mode_of(dir, "root.key"), 0600);
	free(after);
	free(before);
}
END_TEST

START_TEST(test_init_root_and_cas)
{
	static const char *const files[] = {
	    "ca-unrestricted.crt", "ca-server-only.crt", "ca-combined.crt"};
	static const char *const cns[] = {"ca-unrestricted", "ca-server-only",
					  "ca-combined"};
	static const int srv[] = {NID_server_auth};
	static const int both[] = {NID_server_auth, NID_client_auth};
	const char *dir = init_pki();
	X509 *root = load_one(dir, "ca.crt");
	EVP_PKEY *rk = load_key(dir, "root.key");
	char cn[128];
	int pday;
	int psec;
	size_t i;

	cn_of(X509_get_subject_name(root), cn, sizeof(cn));
	ck_assert_str_eq(cn, "ekulab lab root");
	ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(root),
				       X509_get_issuer_name(root)),
			 0);
	ck_assert_int_eq(X509_check_private_key(root, rk), 1);
	ck_assert_int_eq(X509_verify(root, rk), 1);
	ck_assert_int_eq(X509_check_ca(root), 1);
	ck_assert(X509_get_extension_flags(root) & EXFLAG_BCONS);
	ck_assert_uint_eq(X509_get_key_usage(root),
			  KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(root));
	assert_eku(root, -1, NULL);
	ck_assert_int_eq(EVP_PKEY_get_base_id(rk), EVP_PKEY_EC);
	/* now-1 day .. now+20 years */
	ck_assert_int_eq(ASN1_TIME_diff(&pday, &psec, X509_get0_notBefore(root),
					X509_get0_notAfter(root)),
			 1);
	ck_assert_int_eq(pday, 7305 + 1);
	ck_assert_int_eq(psec, 0);
	ck_assert_int_lt(ASN1_TIME_cmp_time_t(X509_get0_notBefore(root),
					      time(NULL) - 86400 + 60),
			 0);

	for (i = 0; i < 3; i++) {
		X509 *ca = load_one(dir, files[i]);
		int depth;

		cn_of(X509_get_subject_name(ca), cn, sizeof(cn));
		ck_assert_str_eq(cn, cns[i]);
		ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(ca),
					       X509_get_subject_name(root)),
				 0);
		ck_assert_int_eq(X509_verify(ca, rk), 1);
		ck_assert_int_eq(X509_check_ca(ca), 1);
		ck_assert_int_eq(X509_get_pathlen(ca), 0);
		ck_assert_uint_eq(X509_get_key_usage(ca),
				  KU_KEY_CERT_SIGN | KU_CRL_SIGN);
		ck_assert_int_eq(
		    ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(ca),
					  X509_get0_subject_key_id(root)),
		    0);
		ck_assert_ptr_nonnull(X509_get0_subject_key_id(ca));
		if (i == PKI_CA_UNRESTRICTED)
			assert_eku(ca, -1, NULL);
		else if (i == PKI_CA_SERVER_ONLY)
			assert_eku(ca, 1, srv);
		else
			assert_eku(ca, 2, both);
		ck_assert_int_eq(verify(dir, ca, NULL, 0, &depth), X509_V_OK);
		X509_free(ca);
	}
	EVP_PKEY_free(rk);
	X509_free(root);
}
END_TEST

START_TEST(test_init_memfail)
{
	char err[EKL_ERRLEN];
	int failed = 0;
	long n;

	for (n = 0; n < 40; n++) {
		const char *dir = tu_tmpdir("pki-initfail");
		int rc;

		ekl_mem_fail_after(n);
		rc = pki_init(dir, false, err);
		ekl_mem_fail_after(-1);
		if (rc == 0)
			break;
		failed++;
		ck_assert_int_eq(rc, EKL_ENOMEM);
		ck_assert(!exists(dir, "ca.crt"));
		ck_assert(!exists(dir, "root.key"));
		ck_assert(!exists(dir, "ca-combined.key"));
		assert_no_tmp(dir);
	}
	ck_assert_int_lt(n, 40);
	ck_assert_int_ge(failed, 3);
}
END_TEST

/* ---- pki_issue ---- */

START_TEST(test_issue_profiles)
{
	static const int both[] = {NID_server_auth, NID_client_auth};
	static const int srv[] = {NID_server_auth};
	static const int cli[] = {NID_client_auth};
	static const int any[] = {NID_anyExtendedKeyUsage};
	static const struct {
		enum pki_profile p;
		int n;
		const int *nids;
		uint32_t xku;
	} cases[] = {
	    {PKI_PROFILE_COMBINED, 2, both, XKU_SSL_SERVER | XKU_SSL_CLIENT},
	    {PKI_PROFILE_SERVER_ONLY, 1, srv, XKU_SSL_SERVER},
	    {PKI_PROFILE_CLIENT_ONLY, 1, cli, XKU_SSL_CLIENT},
	    {PKI_PROFILE_NO_EKU, -1, NULL, UINT32_MAX},
	    {PKI_PROFILE_ANY_EKU, 1, any, XKU_ANYEKU},
	};
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "";
	char name[64];
	char file[80];
	char cn[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *x;
		EVP_PKEY *k;
		GENERAL_NAMES *gens;
		const GENERAL_NAME *gn;

		snprintf(name, sizeof(name), "leaf-%s",
			 pki_profile_name(cases[i].p));
		ck_assert_msg(
		    issue(dir, name, cases[i].p, PKI_CA_UNRESTRICTED, err) == 0,
		    "%s: %s", name, err);
		snprintf(file, sizeof(file), "%s.crt", name);
		x = load_one(dir, file);
		assert_eku(x, cases[i].n, cases[i].nids);
		ck_assert_uint_eq(X509_get_extended_key_usage(x), cases[i].xku);
		/* CA:FALSE, present */
		ck_assert(X509_get_extension_flags(x) & EXFLAG_BCONS);
		ck_assert(!(X509_get_extension_flags(x) & EXFLAG_CA));
		ck_assert_int_eq(X509_check_ca(x), 0);
		ck_assert_uint_eq(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
		ck_assert_ptr_nonnull(X509_get0_subject_key_id(x));
		ck_assert_ptr_nonnull(X509_get0_authority_key_id(x));
		cn_of(X509_get_subject_name(x), cn, sizeof(cn));
		ck_assert_str_eq(cn, name);
		/* Default SAN: DNS:name only. */
		gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
		ck_assert_ptr_nonnull(gens);
		ck_assert_int_eq(sk_GENERAL_NAME_num(gens), 1);
		gn = sk_GENERAL_NAME_value(gens, 0);
		ck_assert_int_eq(gn->type, GEN_DNS);
		ck_assert_str_eq(
		    (const char *)ASN1_STRING_get0_data(gn->d.dNSName), name);
		GENERAL_NAMES_free(gens);
		/* Key: PKCS#8 PEM, 0600, EC P-256, matching. */
		snprintf(file, sizeof(file), "%s.key", name);
		ck_assert_uint_eq(mode_of(dir, file), 0600);
		{
			char *pem = slurp(dir, file);

			ck_assert(strncmp(pem, "-----BEGIN PRIVATE KEY-----",
					  27) == 0);
			free(pem);
		}
		k = load_key(dir, file);
		ck_assert_int_eq(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
		ck_assert_int_eq(EVP_PKEY_get_bits(k), 256);
		ck_assert_int_eq(X509_check_private_key(x, k), 1);
		EVP_PKEY_free(k);
		X509_free(x);
	}
}
END_TEST

START_TEST(test_issue_sans)
{
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "";
	struct pki_leaf_opts o = {.name = "n1",
				  .profile = PKI_PROFILE_COMBINED,
				  .sans = {"node1.lab", "10.1.2.3", "::1"},
				  .n_sans = 3};
	static const unsigned char v4[] = {10, 1, 2, 3};
	static const unsigned char v6[16] = {[15] = 1};
	GENERAL_NAMES *gens;
	const GENERAL_NAME *gn;
	X509 *x;

	ck_assert_msg(pki_issue(dir, &o, err) == 0, "%s", err);
	x = load_one(dir, "n1.crt");
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	ck_assert_ptr_nonnull(gens);
	ck_assert_int_eq(sk_GENERAL_NAME_num(gens), 3);
	gn = sk_GENERAL_NAME_value(gens, 0);
	ck_assert_int_eq(gn->type, GEN_DNS);
	ck_assert_str_eq((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
			 "node1.lab");
	gn = sk_GENERAL_NAME_value(gens, 1);
	ck_assert_int_eq(gn->type, GEN_IPADD);
	ck_assert_int_eq(ASN1_STRING_length(gn->d.iPAddress), 4);
	ck_assert(memcmp(ASN1_STRING_get0_data(gn->d.iPAddress), v4, 4) == 0);
	gn = sk_GENERAL_NAME_value(gens, 2);
	ck_assert_int_eq(gn->type, GEN_IPADD);
	ck_assert_int_eq(ASN1_STRING_length(gn->d.iPAddress), 16);
	ck_assert(memcmp(ASN1_STRING_get0_data(gn->d.iPAddress), v6, 16) == 0);
	/* Identity checks as a verifier would make them. */
	ck_assert_int_eq(X509_check_host(x, "node1.lab", 0, 0, NULL), 1);
	ck_assert_int_eq(X509_check_ip_asc(x, "10.1.2.3", 0), 1);
	ck_assert_int_eq(X509_check_host(x, "n1", 0, 0, NULL), 0);
	GENERAL_NAMES_free(gens);
	X509_free(x);

	/* A SAN with a space or comma is refused. */
	o.name = "n2";
	o.sans[0] = "a b";
	o.n_sans = 1;
	ck_assert_int_eq(pki_issue(dir, &o, err), EKL_EINVAL);
	ck_assert_msg(strstr(err, "a b") != NULL, "%s", err);
	ck_assert(!exists(dir, "n2.crt"));
}
END_TEST

/* openssl's spelling, DNS:NAME and IP:ADDR, names the kind: "DNS:node2"
 * used to be written as the DNS name "DNS:node2" (DNS:DNS:node2). */
START_TEST(test_issue_sans_openssl_spelling)
{
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "";
	struct pki_leaf_opts o = {
	    .name = "n1",
	    .profile = PKI_PROFILE_COMBINED,
	    .sans = {"DNS:node2", "IP:10.0.0.2", "IP:::1", "DNS:10.0.0.3"},
	    .n_sans = 4};
	static const unsigned char v4[] = {10, 0, 0, 2};
	GENERAL_NAMES *gens;
	const GENERAL_NAME *gn;
	X509 *x;

	ck_assert_msg(pki_issue(dir, &o, err) == 0, "%s", err);
	x = load_one(dir, "n1.crt");
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	ck_assert_ptr_nonnull(gens);
	ck_assert_int_eq(sk_GENERAL_NAME_num(gens), 4);
	gn = sk_GENERAL_NAME_value(gens, 0);
	ck_assert_int_eq(gn->type, GEN_DNS);
	ck_assert_str_eq((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
			 "node2");
	gn = sk_GENERAL_NAME_value(gens, 1);
	ck_assert_int_eq(gn->type, GEN_IPADD);
	ck_assert_int_eq(ASN1_STRING_length(gn->d.iPAddress), 4);
	ck_assert(memcmp(ASN1_STRING_get0_data(gn->d.iPAddress), v4, 4) == 0);
	gn = sk_GENERAL_NAME_value(gens, 2);
	ck_assert_int_eq(gn->type, GEN_IPADD);
	ck_assert_int_eq(ASN1_STRING_length(gn->d.iPAddress), 16);
	/* DNS: says DNS even for what looks like an address. */
	gn = sk_GENERAL_NAME_value(gens, 3);
	ck_assert_int_eq(gn->type, GEN_DNS);
	ck_assert_int_eq(X509_check_host(x, "node2", 0, 0, NULL), 1);
	ck_assert_int_eq(X509_check_host(x, "DNS:node2", 0, 0, NULL), 0);
	ck_assert_int_eq(X509_check_ip_asc(x, "10.0.0.2", 0), 1);
	GENERAL_NAMES_free(gens);
	X509_free(x);
}
END_TEST

/* A colon in a DNS name, another kind, or IP: without an address: refused,
 * nothing written. */
START_TEST(test_issue_sans_refused)
{
	static const struct {
		const char *san;
		const char *says;
	} bad[] = {
	    {"DNS:DNS:node2", "without spaces, commas or colons"},
	    {"node2:7001", "without spaces, commas or colons"},
	    {"email:a@b.example", "DNS:NAME"},
	    {"URI:https://x", "IP:ADDR"},
	    {"IP:node2", "'node2' is not an IPv4 or IPv6 address"},
	    {"IP:", "is not an IPv4 or IPv6 address"},
	    {"DNS:", "give a DNS name"},
	};
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "";
	struct pki_leaf_opts o = {
	    .name = "n3", .profile = PKI_PROFILE_COMBINED, .n_sans = 1};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.sans[0] = bad[i].san;
		ck_assert_int_eq(pki_issue(dir, &o, err), EKL_EINVAL);
		ck_assert_msg(strstr(err, bad[i].san) != NULL, "%s", err);
		ck_assert_msg(strstr(err, bad[i].says) != NULL, "%s: %s",
			      bad[i].san, err);
		ck_assert(!exists(dir, "n3.crt"));
		ck_assert(!exists(dir, "n3.key"));
	}
}
END_TEST

START_TEST(test_issue_each_ca)
{
	static const char *const files[] = {
	    "ca-unrestricted.crt", "ca-server-only.crt", "ca-combined.crt"};
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "";
	char name[64];
	char file[80];
	int i;

	for (i = PKI_CA_UNRESTRICTED; i <= PKI_CA_COMBINED; i++) {
		STACK_OF(X509) *sk;
		X509 *leaf;
		X509 *ca;
		int depth;

		snprintf(name, sizeof(name), "via-%s", pki_ca_name(i));
		ck_assert_msg(issue(dir, name, PKI_PROFILE_COMBINED, i, err) ==
				  0,
			      "%s", err);
		snprintf(file, sizeof(file), "%s.crt", name);
		sk = load_certs(dir, file);
		ck_assert_int_eq(sk_X509_num(sk), 2);
		leaf = sk_X509_shift(sk);
		/* the second certificate is the issuing CA, not the root */
		ca = load_one(dir, files[i]);
		ck_assert_int_eq(X509_cmp(sk_X509_value(sk, 0), ca), 0);
		ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(leaf),
					       X509_get_subject_name(ca)),
				 0);
		ck_assert_int_eq(
		    ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf),
					  X509_get0_subject_key_id(ca)),
		    0);
		ck_assert_int_eq(verify(dir, leaf, sk, 0, &depth), X509_V_OK);
		/* Without the issuing CA the chain does not build. */
		ck_assert_int_ne(verify(dir, leaf, NULL, 0, &depth), X509_V_OK);
		X509_free(ca);
		X509_free(leaf);
		sk_X509_pop_free(sk, X509_free);
	}
}
END_TEST

/* docs/model.md F20: purpose checks on our hierarchy match the measured
 * table (error 26 = X509_V_ERR_INVALID_PURPOSE, first error's depth). */
START_TEST(test_issue_purpose_table)
{
	static const struct {
		enum pki_ca ca;
		enum pki_profile p;
		int client; /* -1 ok, else depth of error 26 */
		int server;
	} t[] = {
	    {PKI_CA_UNRESTRICTED, PKI_PROFILE_COMBINED, -1, -1},
	    {PKI_CA_UNRESTRICTED, PKI_PROFILE_SERVER_ONLY, 0, -1},
	    {PKI_CA_UNRESTRICTED, PKI_PROFILE_CLIENT_ONLY, -1, 0},
	    {PKI_CA_UNRESTRICTED, PKI_PROFILE_NO_EKU, -1, -1},
	    {PKI_CA_UNRESTRICTED, PKI_PROFILE_ANY_EKU, 0, 0},
	    {PKI_CA_SERVER_ONLY, PKI_PROFILE_COMBINED, 1, -1},
	    {PKI_CA_SERVER_ONLY, PKI_PROFILE_NO_EKU, 1, -1},
	    {PKI_CA_SERVER_ONLY, PKI_PROFILE_SERVER_ONLY, 0, -1},
	    {PKI_CA_SERVER_ONLY, PKI_PROFILE_CLIENT_ONLY, 1, 0},
	    {PKI_CA_SERVER_ONLY, PKI_PROFILE_ANY_EKU, 0, 0},
	    {PKI_CA_COMBINED, PKI_PROFILE_COMBINED, -1, -1},
	    {PKI_CA_COMBINED, PKI_PROFILE_SERVER_ONLY, 0, -1},
	    {PKI_CA_COMBINED, PKI_PROFILE_CLIENT_ONLY, -1, 0},
	};
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "";
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		STACK_OF(X509) *sk;
		X509 *leaf;
		int rc;
		int depth;

		snprintf(name, sizeof(name), "t%zu", i);
		ck_assert_msg(issue(dir, name, t[i].p, t[i].ca, err) == 0, "%s",
			      err);
		strcat(name, ".crt");
		sk = load_certs(dir, name);
		leaf = sk_X509_shift(sk);
		rc = verify(dir, leaf, sk, X509_PURPOSE_SSL_CLIENT, &depth);
		if (t[i].client < 0) {
			ck_assert_msg(rc == X509_V_OK, "row %zu client: %d", i,
				      rc);
		} else {
			ck_assert_msg(rc == X509_V_ERR_INVALID_PURPOSE &&
					  depth == t[i].client,
				      "row %zu client: %d depth %d", i, rc,
				      depth);
		}
		rc = verify(dir, leaf, sk, X509_PURPOSE_SSL_SERVER, &depth);
		if (t[i].server < 0) {
			ck_assert_msg(rc == X509_V_OK, "row %zu server: %d", i,
				      rc);
		} else {
			ck_assert_msg(rc == X509_V_ERR_INVALID_PURPOSE &&
					  depth == t[i].server,
				      "row %zu server: %d depth %d", i, rc,
				      depth);
		}
		X509_free(leaf);
		sk_X509_pop_free(sk, X509_free);
	}
}
END_TEST

START_TEST(test_issue_self_signed)
{
	const char *dir = tu_tmpdir("pki-ss"); /* no pki init needed */
	char err[EKL_ERRLEN] = "";
	struct pki_leaf_opts o = {.name = "lonely",
				  .profile = PKI_PROFILE_SERVER_ONLY,
				  .ca = PKI_CA_COMBINED,
				  .self_signed = true};
	static const int srv[] = {NID_server_auth};
	STACK_OF(X509) *sk;
	X509 *x;
	EVP_PKEY *k;

	ck_assert_msg(pki_issue(dir, &o, err) == 0, "%s", err);
	sk = load_certs(dir, "lonely.crt");
	ck_assert_int_eq(sk_X509_num(sk), 1);
	x = sk_X509_value(sk, 0);
	ck_assert_int_eq(
	    X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)),
	    0);
	k = load_key(dir, "lonely.key");
	ck_assert_int_eq(X509_verify(x, k), 1);
	/* Trusted as itself: verifies as a server, not as a client. */
	ck_assert_int_eq(verify_with(dir, "lonely.crt", x, NULL, 0, NULL),
			 X509_V_OK);
	ck_assert_int_eq(verify_with(dir, "lonely.crt", x, NULL,
				     X509_PURPOSE_SSL_SERVER, NULL),
			 X509_V_OK);
	ck_assert_int_eq(verify_with(dir, "lonely.crt", x, NULL,
				     X509_PURPOSE_SSL_CLIENT, NULL),
			 X509_V_ERR_INVALID_PURPOSE);
	ck_assert_int_eq(X509_check_ca(x), 0);
	assert_eku(x, 1, srv);
	ck_assert_uint_eq(mode_of(dir, "lonely.key"), 0600);
	EVP_PKEY_free(k);
	sk_X509_pop_free(sk, X509_free);
}
END_TEST

START_TEST(test_issue_days)
{
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "";
	struct pki_leaf_opts o = {
	    .name = "d10", .profile = PKI_PROFILE_COMBINED, .days = 10};
	time_t before = time(NULL);
	X509 *x;
	int pday;
	int psec;

	ck_assert_msg(pki_issue(dir, &o, err) == 0, "%s", err);
	x = load_one(dir, "d10.crt");
	ck_assert_int_eq(ASN1_TIME_diff(&pday, &psec, X509_get0_notBefore(x),
					X509_get0_notAfter(x)),
			 1);
	ck_assert_int_eq(pday, 10);
	ck_assert_int_eq(psec, 3600);
	/* starts one hour ago */
	ck_assert_int_ge(
	    ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), before - 3600 - 1), 0);
	ck_assert_int_le(
	    ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), time(NULL) - 3600 + 1),
	    0);
	X509_free(x);

	/* default: 365 days */
	o.name = "d0";
	o.days = 0;
	ck_assert_msg(pki_issue(dir, &o, err) == 0, "%s", err);
	x = load_one(dir, "d0.crt");
	ck_assert_int_eq(ASN1_TIME_diff(&pday, &psec, X509_get0_notBefore(x),
					X509_get0_notAfter(x)),
			 1);
	ck_assert_int_eq(pday, 365);
	X509_free(x);

	o.name = "neg";
	o.days = -1;
	ck_assert_int_eq(pki_issue(dir, &o, err), EKL_EINVAL);
	ck_assert(!exists(dir, "neg.crt"));
}
END_TEST

START_TEST(test_issue_explicit_validity)
{
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "";
	struct pki_leaf_opts o = {
	    .name = "fixed", .profile = PKI_PROFILE_SERVER_ONLY, .days = 3};
	X509 *x;

	ck_assert_int_eq(pki_parse_time("2026-01-01", &o.not_before), 0);
	ck_assert_int_eq(pki_parse_time("2026-07-20T06:07:08Z", &o.not_after),
			 0);
	ck_assert_msg(pki_issue(dir, &o, err) == 0, "%s", err);
	x = load_one(dir, "fixed.crt");
	ck_assert_int_eq(
	    ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), (time_t)o.not_before),
	    0);
	ck_assert_int_eq(
	    ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), (time_t)o.not_after),
	    0);
	X509_free(x);

	/* reversed */
	o.name = "rev";
	o.not_before = o.not_after + 1;
	ck_assert_int_eq(pki_issue(dir, &o, err), EKL_EINVAL);
	ck_assert(!exists(dir, "rev.crt"));
}
END_TEST

START_TEST(test_issue_rsa)
{
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "";
	struct pki_leaf_opts o = {.name = "r",
				  .profile = PKI_PROFILE_COMBINED,
				  .key = PKI_KEY_RSA_2048};
	X509 *x;
	EVP_PKEY *k;

	ck_assert_msg(pki_issue(dir, &o, err) == 0, "%s", err);
	x = load_one(dir, "r.crt");
	k = load_key(dir, "r.key");
	ck_assert_int_eq(EVP_PKEY_get_base_id(k), EVP_PKEY_RSA);
	ck_assert_int_eq(EVP_PKEY_get_bits(k), 2048);
	ck_assert_int_eq(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 2048);
	ck_assert_int_eq(X509_check_private_key(x, k), 1);
	ck_assert_uint_eq(X509_get_key_usage(x),
			  KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	ck_assert_uint_eq(mode_of(dir, "r.key"), 0600);
	EVP_PKEY_free(k);
	X509_free(x);
}
END_TEST

START_TEST(test_issue_serials)
{
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "";
	BIGNUM *a;
	BIGNUM *b;
	X509 *x;
	X509 *y;

	ck_assert_int_eq(issue(dir, "s1", PKI_PROFILE_COMBINED, 0, err), 0);
	ck_assert_int_eq(issue(dir, "s2", PKI_PROFILE_COMBINED, 0, err), 0);
	x = load_one(dir, "s1.crt");
	y = load_one(dir, "s2.crt");
	a = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	b = ASN1_INTEGER_to_BN(X509_get0_serialNumber(y), NULL);
	ck_assert(!BN_is_negative(a));
	ck_assert_int_eq(BN_num_bits(a), 127);
	ck_assert_int_ne(BN_cmp(a, b), 0);
	BN_free(a);
	BN_free(b);
	X509_free(x);
	X509_free(y);
}
END_TEST

START_TEST(test_issue_overwrite)
{
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "";
	struct pki_leaf_opts o = {.name = "w", .profile = PKI_PROFILE_COMBINED};
	char *crt0;
	char *key0;
	char *crt1;
	char *key1;

	ck_assert_int_eq(pki_issue(dir, &o, err), 0);
	crt0 = slurp(dir, "w.crt");
	key0 = slurp(dir, "w.key");
	o.profile = PKI_PROFILE_SERVER_ONLY;
	ck_assert_int_eq(pki_issue(dir, &o, err), EKL_EEXIST);
	ck_assert_msg(strstr(err, "--force") != NULL, "%s", err);
	crt1 = slurp(dir, "w.crt");
	key1 = slurp(dir, "w.key");
	ck_assert_str_eq(crt0, crt1);
	ck_assert_str_eq(key0, key1);
	free(crt1);
	free(key1);

	o.force = true;
	ck_assert_msg(pki_issue(dir, &o, err) == 0, "%s", err);
	crt1 = slurp(dir, "w.crt");
	key1 = slurp(dir, "w.key");
	ck_assert_str_ne(crt0, crt1);
	ck_assert_str_ne(key0, key1);
	ck_assert_uint_eq(mode_of(dir, "w.key"), 0600);
	assert_no_tmp(dir);
	free(crt1);
	free(key1);
	free(crt0);
	free(key0);

	/* Only the key left over: still refused without force. */
	ck_assert_int_eq(remove(path_of(dir, "w.crt")), 0);
	o.force = false;
	ck_assert_int_eq(pki_issue(dir, &o, err), EKL_EEXIST);
	ck_assert(!exists(dir, "w.crt"));
}
END_TEST

START_TEST(test_issue_bad_name)
{
	static const char *const bad[] = {"",	 ".hidden", "-x",  "a/b",
					  "a b", "../up",   "n\n", "é"};
	const char *dir = init_pki();
	char err[EKL_ERRLEN];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(issue(dir, bad[i], PKI_PROFILE_COMBINED, 0,
				    err) == EKL_EINVAL,
			      "'%s' accepted", bad[i]);
		ck_assert_msg(strstr(err, "name") != NULL, "%s", err);
	}
	ck_assert_int_eq(issue(dir, "../up", PKI_PROFILE_COMBINED, 0, err),
			 EKL_EINVAL);
	ck_assert_msg(strstr(err, "'../up'") != NULL, "%s", err);
	ck_assert_int_eq(
	    issue(dir, "ok.name_1-x", PKI_PROFILE_COMBINED, 0, err), 0);
}
END_TEST

START_TEST(test_issue_before_init)
{
	const char *dir = tu_tmpdir("pki-empty");
	char err[EKL_ERRLEN] = "";
	char want[700];

	ck_assert_int_eq(issue(dir, "n", PKI_PROFILE_COMBINED, 0, err),
			 EKL_ENOENT);
	snprintf(want, sizeof(want), "ekulab pki init --dir %s", dir);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	ck_assert(!exists(dir, "n.crt"));
	ck_assert(!exists(dir, "n.key"));
}
END_TEST

START_TEST(test_issue_memfail)
{
	const char *dir = init_pki();
	char err[EKL_ERRLEN];
	struct pki_leaf_opts o = {.name = "m",
				  .profile = PKI_PROFILE_COMBINED,
				  .ca = PKI_CA_COMBINED};
	int failed = 0;
	long n;

	for (n = 0; n < 40; n++) {
		int rc;

		ekl_mem_fail_after(n);
		rc = pki_issue(dir, &o, err);
		ekl_mem_fail_after(-1);
		if (rc == 0)
			break;
		failed++;
		ck_assert_msg(rc == EKL_ENOMEM, "N=%ld: %d %s", n, rc, err);
		ck_assert_msg(!exists(dir, "m.crt"), "N=%ld left m.crt", n);
		ck_assert_msg(!exists(dir, "m.key"), "N=%ld left m.key", n);
		assert_no_tmp(dir);
	}
	ck_assert_int_lt(n, 40);
	ck_assert_int_ge(failed, 3);
	ck_assert(exists(dir, "m.crt"));
	ck_assert(exists(dir, "m.key"));
}
END_TEST

/* A failed forced re-issue leaves the old pair untouched. */
START_TEST(test_issue_memfail_force)
{
	const char *dir = init_pki();
	char err[EKL_ERRLEN];
	struct pki_leaf_opts o = {.name = "f", .profile = PKI_PROFILE_COMBINED};
	char *crt0;
	char *key0;
	long n;

	ck_assert_int_eq(pki_issue(dir, &o, err), 0);
	crt0 = slurp(dir, "f.crt");
	key0 = slurp(dir, "f.key");
	o.force = true;
	for (n = 0; n < 40; n++) {
		char *crt1;
		char *key1;
		int rc;

		ekl_mem_fail_after(n);
		rc = pki_issue(dir, &o, err);
		ekl_mem_fail_after(-1);
		if (rc == 0)
			break;
		crt1 = slurp(dir, "f.crt");
		key1 = slurp(dir, "f.key");
		ck_assert_str_eq(crt0, crt1);
		ck_assert_str_eq(key0, key1);
		free(crt1);
		free(key1);
		assert_no_tmp(dir);
	}
	ck_assert_int_lt(n, 40);
	free(crt0);
	free(key0);
}
END_TEST

/* The admin CA: made on demand under the root, once; it issues admin
 * leaves; a PKI without root.key gets none. */
START_TEST(test_admin_ca)
{
	const char *dir = init_pki();
	char err[EKL_ERRLEN] = "", *first;
	struct pki_leaf_opts o;
	STACK_OF(X509) *sk;
	X509 *root, *admin_ca, *leaf;

	ck_assert_msg(pki_admin_init(dir, err) == 0, "%s", err);
	ck_assert_uint_eq(mode_of(dir, "ca-admin.key"), 0600);
	first = slurp(dir, "ca-admin.crt");
	ck_assert_msg(pki_admin_init(dir, err) == 0, "%s", err);
	{
		char *again = slurp(dir, "ca-admin.crt");

		ck_assert_str_eq(first, again); /* kept, not remade */
		free(again);
	}
	free(first);
	root = load_one(dir, "ca.crt");
	admin_ca = load_one(dir, "ca-admin.crt");
	ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(admin_ca),
				       X509_get_subject_name(root)),
			 0);
	memset(&o, 0, sizeof(o));
	o.name = "admin";
	o.profile = PKI_PROFILE_CLIENT_ONLY;
	o.admin = true;
	ck_assert_msg(pki_issue(dir, &o, err) == 0, "%s", err);
	sk = load_certs(dir, "admin.crt");
	ck_assert_int_eq(sk_X509_num(sk), 2);
	leaf = sk_X509_value(sk, 0);
	ck_assert_int_eq(X509_cmp(sk_X509_value(sk, 1), admin_ca), 0);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(leaf),
				       X509_get_subject_name(admin_ca)),
			 0);
	ck_assert_uint_eq(mode_of(dir, "admin.key"), 0600);
	sk_X509_pop_free(sk, X509_free);
	X509_free(root);
	X509_free(admin_ca);
	/* Never self-signed. */
	o.name = "admin2";
	o.self_signed = true;
	ck_assert_int_eq(pki_issue(dir, &o, err), EKL_EINVAL);
	/* No root key: refused, naming the file. */
	ck_assert_int_eq(unlink(path_of(dir, "ca-admin.crt")), 0);
	ck_assert_int_eq(unlink(path_of(dir, "root.key")), 0);
	ck_assert_int_eq(pki_admin_init(dir, err), EKL_ENOENT);
	ck_assert_msg(strstr(err, "root.key") != NULL, "%s", err);
}
END_TEST

static Suite *pki_suite(void)
{
	Suite *s = suite_create("pki");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_test(tc, test_names_round_trip);
	tcase_add_test(tc, test_names_reject);
	suite_add_tcase(s, tc);

	tc = tcase_create("pki_parse_time");
	tcase_add_test(tc, test_time_good);
	tcase_add_test(tc, test_time_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("pki_init");
	tcase_add_test(tc, test_init_files);
	tcase_add_test(tc, test_init_refuses_second);
	tcase_add_test(tc, test_init_root_and_cas);
	tcase_add_test(tc, test_init_memfail);
	suite_add_tcase(s, tc);

	tc = tcase_create("pki_issue");
	tcase_add_test(tc, test_issue_profiles);
	tcase_add_test(tc, test_issue_sans);
	tcase_add_test(tc, test_issue_sans_openssl_spelling);
	tcase_add_test(tc, test_issue_sans_refused);
	tcase_add_test(tc, test_issue_each_ca);
	tcase_add_test(tc, test_admin_ca);
	tcase_add_test(tc, test_issue_purpose_table);
	tcase_add_test(tc, test_issue_self_signed);
	tcase_add_test(tc, test_issue_days);
	tcase_add_test(tc, test_issue_explicit_validity);
	tcase_add_test(tc, test_issue_rsa);
	tcase_add_test(tc, test_issue_serials);
	tcase_add_test(tc, test_issue_overwrite);
	tcase_add_test(tc, test_issue_bad_name);
	tcase_add_test(tc, test_issue_before_init);
	tcase_add_test(tc, test_issue_memfail);
	tcase_add_test(tc, test_issue_memfail_force);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(pki_suite());
}
