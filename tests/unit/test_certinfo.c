/* test_certinfo.c: certificate facts from real certificates (lab PKI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ekulab/x509/certinfo.h"
#include "ekulab/core/err.h"
#include "ekulab/x509/pki.h"
#include "testutil.h"

/* One PKI made before the suite runs, shared read-only by every test. */
static char dir[512];	/* main PKI */
static char other[600]; /* a second, unrelated PKI */

#define T_NB INT64_C(1735689600) /* 2025-01-01T00:00:00Z */
#define T_NA INT64_C(1767225599) /* 2025-12-31T23:59:59Z */

static const char *path(const char *base, const char *name)
{
	static char buf[4][800];
	static int n;
	char *p = buf[n++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", base, name);
	return p;
}

static void issue(const char *base, const char *name, enum pki_profile prof,
		  enum pki_ca ca)
{
	struct pki_leaf_opts o;
	char err[EKL_ERRLEN] = "";
	int rc;

	memset(&o, 0, sizeof(o));
	o.name = name;
	o.profile = prof;
	o.ca = ca;
	rc = pki_issue(base, &o, err);
	if (rc != 0) {
		fprintf(stderr, "pki_issue %s: %s\n", name, err);
		exit(EXIT_FAILURE);
	}
}

static void make_pki(void)
{
	struct pki_leaf_opts o;
	char err[EKL_ERRLEN] = "";
	const char *t = tu_tmpdir("certinfo");

	if (t == NULL) {
		fprintf(stderr, "no temporary directory\n");
		exit(EXIT_FAILURE);
	}
	snprintf(dir, sizeof(dir), "%s", t);
	snprintf(other, sizeof(other), "%s/other", dir);
	if (pki_init(dir, false, err) != 0 ||
	    pki_init(other, false, err) != 0) {
		fprintf(stderr, "pki_init: %s\n", err);
		exit(EXIT_FAILURE);
	}
	issue(dir, "both", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED);
	issue(dir, "srv", PKI_PROFILE_SERVER_ONLY, PKI_CA_UNRESTRICTED);
	issue(dir, "cli", PKI_PROFILE_CLIENT_ONLY, PKI_CA_UNRESTRICTED);
	issue(dir, "noeku", PKI_PROFILE_NO_EKU, PKI_CA_UNRESTRICTED);
	issue(dir, "anyeku", PKI_PROFILE_ANY_EKU, PKI_CA_UNRESTRICTED);
	issue(dir, "under-srv", PKI_PROFILE_COMBINED, PKI_CA_SERVER_ONLY);
	issue(dir, "under-both", PKI_PROFILE_SERVER_ONLY, PKI_CA_COMBINED);
	issue(other, "stranger", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED);

	/* Fixed validity (long expired: the chain still anchors) and names. */
	memset(&o, 0, sizeof(o));
	o.name = "multi";
	o.profile = PKI_PROFILE_COMBINED;
	o.sans[0] = "node1.lab.test";
	o.sans[1] = "192.0.2.7";
	o.sans[2] = "node2.lab.test";
	o.sans[3] = "2001:db8::7";
	o.n_sans = 4;
	o.not_before = T_NB;
	o.not_after = T_NA;
	if (pki_issue(dir, &o, err) != 0) {
		fprintf(stderr, "pki_issue multi: %s\n", err);
		exit(EXIT_FAILURE);
	}
	memset(&o, 0, sizeof(o));
	o.name = "selfie";
	o.profile = PKI_PROFILE_COMBINED;
	o.self_signed = true;
	if (pki_issue(dir, &o, err) != 0) {
		fprintf(stderr, "pki_issue selfie: %s\n", err);
		exit(EXIT_FAILURE);
	}
}

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static X509 *load_leaf(const char *p)
{
	char err[EKL_ERRLEN] = "";
	STACK_OF(X509) *extra = NULL;
	X509 *leaf = NULL;

	ck_assert_msg(certinfo_load_chain(p, &leaf, &extra, err) == 0, "%s",
		      err);
	sk_X509_pop_free(extra, X509_free);
	return leaf;
}

static X509_STORE *load_store(const char *p)
{
	char err[EKL_ERRLEN] = "";
	X509_STORE *s = NULL;

	ck_assert_msg(certinfo_load_store(p, &s, err) == 0, "%s", err);
	ck_assert_ptr_nonnull(s);
	return s;
}

static void chain_of(const char *name, const char *bundle, struct pol_chain *ch)
{
	char err[EKL_ERRLEN] = "";
	X509_STORE *s = load_store(bundle);

	ck_assert_msg(certinfo_chain_file(path(dir, name), s, ch, err) == 0,
		      "%s: %s", name, err);
	X509_STORE_free(s);
}

/* An unsigned in-memory certificate with the given extensions (enough for
 * the extension readers). Any of the arguments may be NULL. */
static X509 *mem_cert(const char *cn, const char *san, const char *eku)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);
	X509_EXTENSION *e;

	if (cn != NULL)
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
					   (const unsigned char *)cn, -1, -1,
					   0);
	if (san != NULL) {
		e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
		ck_assert_ptr_nonnull(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	if (eku != NULL) {
		e = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage, eku);
		ck_assert_ptr_nonnull(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	return x;
}

/* ---- certinfo_eku ---- */

START_TEST(eku_profiles)
{
	static const struct {
		const char *file;
		unsigned want;
	} rows[] = {
	    {"both.crt", POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT},
	    {"srv.crt", POL_EKU_EXT | POL_EKU_SERVER},
	    {"cli.crt", POL_EKU_EXT | POL_EKU_CLIENT},
	    {"noeku.crt", 0},
	    {"anyeku.crt", POL_EKU_EXT | POL_EKU_ANY},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		X509 *x = load_leaf(path(dir, rows[i].file));

		ck_assert_msg(certinfo_eku(x) == rows[i].want,
			      "%s: got 0x%x want 0x%x", rows[i].file,
			      certinfo_eku(x), rows[i].want);
		X509_free(x);
	}
}
END_TEST

START_TEST(eku_other_and_cas)
{
	X509 *x = mem_cert("x", NULL, "codeSigning,serverAuth");

	ck_assert_uint_eq(certinfo_eku(x),
			  POL_EKU_EXT | POL_EKU_OTHER | POL_EKU_SERVER);
	X509_free(x);
	x = mem_cert("x", NULL, "emailProtection");
	ck_assert_uint_eq(certinfo_eku(x), POL_EKU_EXT | POL_EKU_OTHER);
	X509_free(x);

	/* The issuing CAs of the lab PKI. */
	x = load_leaf(path(dir, "ca-unrestricted.crt"));
	ck_assert_uint_eq(certinfo_eku(x), 0);
	X509_free(x);
	x = load_leaf(path(dir, "ca-server-only.crt"));
	ck_assert_uint_eq(certinfo_eku(x), POL_EKU_EXT | POL_EKU_SERVER);
	X509_free(x);
	x = load_leaf(path(dir, "ca-combined.crt"));
	ck_assert_uint_eq(certinfo_eku(x),
			  POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT);
	X509_free(x);
}
END_TEST

/* ---- certinfo_identity ---- */

START_TEST(identity)
{
	char out[POL_NAME_LEN];
	X509 *x;

	/* A DNS SAN wins even when an IP SAN comes first. */
	x = mem_cert("cn.lab.test", "IP:192.0.2.1,DNS:a.lab.test,DNS:b", NULL);
	certinfo_identity(x, out, sizeof(out));
	ck_assert_str_eq(out, "a.lab.test");
	X509_free(x);

	x = mem_cert("cn.lab.test", "IP:2001:db8::5,IP:192.0.2.1", NULL);
	certinfo_identity(x, out, sizeof(out));
	ck_assert_str_eq(out, "2001:db8::5");
	X509_free(x);

	x = mem_cert("cn.lab.test", "email:a@lab.test", NULL);
	certinfo_identity(x, out, sizeof(out));
	ck_assert_str_eq(out, "cn.lab.test");
	X509_free(x);

	x = mem_cert(NULL, NULL, NULL);
	strcpy(out, "junk");
	certinfo_identity(x, out, sizeof(out));
	ck_assert_str_eq(out, "");
	X509_free(x);

	x = load_leaf(path(dir, "multi.crt"));
	certinfo_identity(x, out, sizeof(out));
	ck_assert_str_eq(out, "node1.lab.test");
	X509_free(x);
}
END_TEST

/* ---- certinfo_chain ---- */

START_TEST(chain_anchored)
{
	struct pol_chain ch;
	int64_t now = (int64_t)time(NULL);
	int i;

	chain_of("both.crt", path(dir, "ca.crt"), &ch);
	ck_assert(ch.anchored);
	ck_assert_int_eq(ch.len, 3); /* leaf, issuing CA, root */
	ck_assert_uint_eq(ch.certs[0].eku,
			  POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT);
	ck_assert_uint_eq(ch.certs[1].eku, 0);
	ck_assert_uint_eq(ch.certs[2].eku, 0);
	for (i = 0; i < 3; i++) {
		ck_assert(ch.certs[i].not_before <= now);
		ck_assert(ch.certs[i].not_after > now);
	}
	/* The root lives 20 years (pki.h), the leaf 365 days by default. */
	ck_assert(ch.certs[2].not_after - now > 19 * 365 * INT64_C(86400));
	ck_assert(ch.certs[0].not_after - now < 366 * INT64_C(86400));
	ck_assert_int_eq(ch.n_dns, 1);
	ck_assert_str_eq(ch.dns[0], "both");
	ck_assert_int_eq(ch.n_ip, 0);
	ck_assert_str_eq(ch.cn, "both");

	/* The issuing CA's EKU is part of the facts. */
	chain_of("under-srv.crt", path(dir, "ca.crt"), &ch);
	ck_assert(ch.anchored);
	ck_assert_int_eq(ch.len, 3);
	ck_assert_uint_eq(ch.certs[1].eku, POL_EKU_EXT | POL_EKU_SERVER);
	chain_of("under-both.crt", path(dir, "ca.crt"), &ch);
	ck_assert_uint_eq(ch.certs[0].eku, POL_EKU_EXT | POL_EKU_SERVER);
	ck_assert_uint_eq(ch.certs[1].eku,
			  POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT);
}
END_TEST

START_TEST(chain_not_anchored)
{
	char err[EKL_ERRLEN] = "";
	struct pol_chain ch;
	X509_STORE *s;
	X509 *leaf;

	/* Issued under a second, unrelated root: only what was presented. */
	chain_of(path("other", "stranger.crt"), path(dir, "ca.crt"), &ch);
	ck_assert(!ch.anchored);
	ck_assert_int_eq(ch.len, 2);
	ck_assert_uint_eq(ch.certs[0].eku,
			  POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT);
	ck_assert_str_eq(ch.dns[0], "stranger");

	/* ...and the other way round. */
	chain_of("both.crt", path(other, "ca.crt"), &ch);
	ck_assert(!ch.anchored);
	ck_assert_int_eq(ch.len, 2);

	/* Both roots in one bundle: both anchor. */
	{
		char bundle[900];
		char cmd[3000];

		snprintf(bundle, sizeof(bundle), "%s/both-roots.pem", dir);
		snprintf(cmd, sizeof(cmd), "cat '%s/ca.crt' '%s/ca.crt' > '%s'",
			 dir, other, bundle);
		ck_assert_int_eq(system(cmd), 0);
		chain_of(path("other", "stranger.crt"), bundle, &ch);
		ck_assert(ch.anchored);
		ck_assert_int_eq(ch.len, 3);
		chain_of("both.crt", bundle, &ch);
		ck_assert(ch.anchored);
	}

	/* A self-signed leaf: untrusted unless it is in the store itself. */
	chain_of("selfie.crt", path(dir, "ca.crt"), &ch);
	ck_assert(!ch.anchored);
	ck_assert_int_eq(ch.len, 1);
	chain_of("selfie.crt", path(dir, "selfie.crt"), &ch);
	ck_assert(ch.anchored);
	ck_assert_int_eq(ch.len, 1);

	/* No store: nothing anchors. No leaf: empty chain. */
	leaf = load_leaf(path(dir, "both.crt"));
	ck_assert_int_eq(certinfo_chain(leaf, NULL, NULL, &ch, err), 0);
	ck_assert(!ch.anchored);
	ck_assert_int_eq(ch.len, 1);
	/* The leaf alone cannot reach the root without its issuing CA. */
	s = load_store(path(dir, "ca.crt"));
	ck_assert_int_eq(certinfo_chain(leaf, NULL, s, &ch, err), 0);
	ck_assert(!ch.anchored);
	ck_assert_int_eq(ch.len, 1);
	memset(&ch, 0x5a, sizeof(ch));
	ck_assert_int_eq(certinfo_chain(NULL, NULL, s, &ch, err), 0);
	ck_assert_int_eq(ch.len, 0);
	ck_assert(!ch.anchored);
	ck_assert_int_eq(ch.n_dns, 0);
	X509_STORE_free(s);
	X509_free(leaf);
}
END_TEST

START_TEST(chain_names_and_validity)
{
	struct pol_chain ch;

	/* Expired long ago: time is not part of path building. */
	chain_of("multi.crt", path(dir, "ca.crt"), &ch);
	ck_assert(ch.anchored);
	ck_assert_int_eq(ch.len, 3);
	ck_assert_int_eq(ch.certs[0].not_before, T_NB);
	ck_assert_int_eq(ch.certs[0].not_after, T_NA);
	ck_assert_int_eq(ch.n_dns, 2);
	ck_assert_str_eq(ch.dns[0], "node1.lab.test");
	ck_assert_str_eq(ch.dns[1], "node2.lab.test");
	ck_assert_int_eq(ch.n_ip, 2);
	ck_assert_str_eq(ch.ip[0], "192.0.2.7");
	ck_assert_str_eq(ch.ip[1], "2001:db8::7");
	ck_assert_str_eq(ch.cn, "multi");
	ck_assert(pol_name_matches(&ch, "NODE2.lab.test"));
	ck_assert(pol_name_matches(&ch, "2001:db8:0::7"));
	ck_assert(!pol_name_matches(&ch, "multi")); /* SANs: no CN */
}
END_TEST

START_TEST(chain_feeds_policy)
{
	struct pol_rules cli = {true, true, true, POL_EKU_CLIENT, 0};
	struct pol_rules srv = {true, true, true, POL_EKU_SERVER, 0};
	const char *names[] = {"under-srv"};
	struct pol_chain ch;
	int64_t now = (int64_t)time(NULL);
	int d;

	/* A3: combined leaf under a serverAuth-only issuing CA. */
	chain_of("under-srv.crt", path(dir, "ca.crt"), &ch);
	ck_assert_int_eq(pol_check_chain(&cli, &ch, names, 1, now, &d),
			 POL_CLIENT_PURPOSE);
	ck_assert_int_eq(d, 1);
	ck_assert_int_eq(pol_check_chain(&srv, &ch, names, 1, now, &d), POL_OK);
	chain_of("anyeku.crt", path(dir, "ca.crt"), &ch);
	ck_assert_int_eq(pol_check_chain(&srv, &ch, NULL, 0, now, &d),
			 POL_SERVER_PURPOSE);
	ck_assert_int_eq(d, 0);
	chain_of("multi.crt", path(dir, "ca.crt"), &ch);
	ck_assert_int_eq(pol_check_chain(&srv, &ch, NULL, 0, now, &d),
			 POL_EXPIRED);
	ck_assert_int_eq(d, 0);
	chain_of(path("other", "stranger.crt"), path(dir, "ca.crt"), &ch);
	ck_assert_int_eq(pol_check_chain(&srv, &ch, NULL, 0, now, &d),
			 POL_UNTRUSTED);
	ck_assert_int_eq(d, 1);
}
END_TEST

/* ---- certinfo_load_store / certinfo_load_chain / certinfo_chain_file ---- */

START_TEST(load_chain_parts)
{
	char err[EKL_ERRLEN] = "";
	STACK_OF(X509) *extra = NULL;
	X509 *leaf = NULL;
	char cn[64];

	ck_assert_int_eq(
	    certinfo_load_chain(path(dir, "srv.crt"), &leaf, &extra, err), 0);
	ck_assert_ptr_nonnull(leaf);
	ck_assert_int_eq(sk_X509_num(extra), 1);
	X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName,
				  cn, sizeof(cn));
	ck_assert_str_eq(cn, "srv");
	X509_free(leaf);
	sk_X509_pop_free(extra, X509_free);

	ck_assert_int_eq(
	    certinfo_load_chain(path(dir, "selfie.crt"), &leaf, &extra, err),
	    0);
	ck_assert_int_eq(sk_X509_num(extra), 0);
	X509_free(leaf);
	sk_X509_pop_free(extra, X509_free);
}
END_TEST

/* Every loader refuses `p` with `code` and names the file. */
static void refuses(const char *p, int code, const char *needle)
{
	char err[EKL_ERRLEN] = "";
	STACK_OF(X509) *extra = (void *)1;
	X509_STORE *s = (void *)1;
	X509 *leaf = (void *)1;
	struct pol_chain ch;

	ck_assert_int_eq(certinfo_load_store(p, &s, err), code);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, p) != NULL, "no path in '%s'", err);
	ck_assert_msg(strstr(err, "trust bundle") != NULL, "%s", err);
	ck_assert_msg(strstr(err, needle) != NULL, "'%s' not in '%s'", needle,
		      err);
	err[0] = '\0';
	ck_assert_int_eq(certinfo_load_chain(p, &leaf, &extra, err), code);
	ck_assert_ptr_null(leaf);
	ck_assert_ptr_null(extra);
	ck_assert_msg(strstr(err, p) != NULL, "no path in '%s'", err);
	ck_assert_msg(strstr(err, needle) != NULL, "'%s' not in '%s'", needle,
		      err);
	ck_assert_int_eq(certinfo_chain_file(p, NULL, &ch, err), code);
	ck_assert_int_eq(ch.len, 0);
	/* Never any key material or PEM payload in a message. */
	ck_assert_ptr_null(strstr(err, "PRIVATE"));
	ck_assert_ptr_null(strstr(err, "MII"));
}

START_TEST(load_errors)
{
	char p[900];

	refuses(path(dir, "no-such.crt"), EKL_ENOENT, "no such file");

	snprintf(p, sizeof(p), "%s/zero.pem", dir);
	write_file(p, "");
	refuses(p, EKL_EINVAL, "file is empty");

	snprintf(p, sizeof(p), "%s/junk.pem", dir);
	write_file(p, "this is not a certificate\n\x01\x02\x03\n");
	refuses(p, EKL_EINVAL, "no PEM certificate");

	/* A key file holds no certificate; its content is never echoed. */
	refuses(path(dir, "srv.key"), EKL_EINVAL, "no PEM certificate");

	snprintf(p, sizeof(p), "%s/broken.pem", dir);
	write_file(p, "-----BEGIN CERTIFICATE-----\nMIIBzzzz!!notbase64\n"
		      "-----END CERTIFICATE-----\n");
	refuses(p, EKL_EINVAL, "not valid PEM");

	refuses(dir, EKL_EIO, "not a regular file");

	/* A FIFO is refused at once (opening it used to wait for a
	 * writer: the test would time out). */
	snprintf(p, sizeof(p), "%s/fifo.pem", dir);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	refuses(p, EKL_EIO, "not a regular file");
}
END_TEST

START_TEST(load_unreadable)
{
	char p[900];

	if (geteuid() == 0)
		return; /* root reads everything */
	snprintf(p, sizeof(p), "%s/locked.crt", dir);
	write_file(p, "x");
	ck_assert_int_eq(chmod(p, 0), 0);
	refuses(p, EKL_EPERM, "permission denied");
}
END_TEST

START_TEST(load_store_bundle)
{
	char err[EKL_ERRLEN] = "";
	struct pol_chain ch;
	X509_STORE *s = NULL;

	/* A leaf file (two certificates) is a valid bundle too: its issuing
	 * CA is no root, so nothing anchors without PARTIAL_CHAIN. */
	ck_assert_int_eq(certinfo_load_store(path(dir, "both.crt"), &s, err),
			 0);
	ck_assert_int_eq(sk_X509_OBJECT_num(X509_STORE_get0_objects(s)), 2);
	ck_assert_int_eq(certinfo_chain_file(path(dir, "srv.crt"), s, &ch, err),
			 0);
	ck_assert(!ch.anchored);
	X509_STORE_free(s);
}
END_TEST

static Suite *certinfo_suite(void)
{
	Suite *s = suite_create("certinfo");
	TCase *tc;

	tc = tcase_create("certinfo_eku");
	tcase_add_test(tc, eku_profiles);
	tcase_add_test(tc, eku_other_and_cas);
	suite_add_tcase(s, tc);

	tc = tcase_create("certinfo_identity");
	tcase_add_test(tc, identity);
	suite_add_tcase(s, tc);

	tc = tcase_create("certinfo_chain");
	tcase_add_test(tc, chain_anchored);
	tcase_add_test(tc, chain_not_anchored);
	tcase_add_test(tc, chain_names_and_validity);
	tcase_add_test(tc, chain_feeds_policy);
	suite_add_tcase(s, tc);

	tc = tcase_create("certinfo_load");
	tcase_add_test(tc, load_chain_parts);
	tcase_add_test(tc, load_errors);
	tcase_add_test(tc, load_unreadable);
	tcase_add_test(tc, load_store_bundle);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	make_pki();
	return tu_run(certinfo_suite());
}
