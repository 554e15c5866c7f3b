/* test_sslerr.c: detail messages that carry the OpenSSL error queue. */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ekulab/x509/sslerr.h"
#include "testutil.h"

/* Queue a real OpenSSL error: PEM-read a certificate from garbage. */
static void provoke_ssl_error(void)
{
	static const char junk[] = "this is not PEM\n";
	BIO *b = BIO_new_mem_buf(junk, (int)sizeof(junk) - 1);
	X509 *x;

	ck_assert_ptr_nonnull(b);
	ERR_clear_error();
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	ck_assert_ptr_null(x);
	BIO_free(b);
	ck_assert_uint_ne(ERR_peek_error(), 0);
}

/* ---- ekl_errf_ssl ---- */

START_TEST(errf_ssl_appends_reason)
{
	char err[EKL_ERRLEN];
	int rc;

	provoke_ssl_error();
	rc = ekl_errf_ssl(err, EKL_ETLS, "cert %s", "node.pem");
	ck_assert_int_eq(rc, EKL_ETLS);
	ck_assert_msg(strncmp(err, "cert node.pem (", 15) == 0, "got '%s'",
		      err);
	ck_assert_msg(strstr(err, "no start line") != NULL, "got '%s'", err);
	ck_assert_int_eq(err[strlen(err) - 1], ')');
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(errf_ssl_empty_queue)
{
	char err[EKL_ERRLEN];

	ERR_clear_error();
	ck_assert_int_eq(ekl_errf_ssl(err, EKL_ECRYPTO, "sign %d", 3),
			 EKL_ECRYPTO);
	ck_assert_str_eq(err, "sign 3");
}
END_TEST

START_TEST(errf_ssl_null_err_clears)
{
	provoke_ssl_error();
	ck_assert_int_eq(ekl_errf_ssl(NULL, EKL_ETLS, "x"), EKL_ETLS);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(errf_ssl_long_message)
{
	char err[EKL_ERRLEN];
	char big[EKL_ERRLEN];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	provoke_ssl_error();
	ck_assert_int_eq(ekl_errf_ssl(err, EKL_ETLS, "%s", big), EKL_ETLS);
	ck_assert_uint_eq(strlen(err), EKL_ERRLEN - 1);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

static Suite *sslerr_suite(void)
{
	Suite *s = suite_create("sslerr");
	TCase *tc;

	tc = tcase_create("ekl_errf_ssl");
	tcase_add_test(tc, errf_ssl_appends_reason);
	tcase_add_test(tc, errf_ssl_empty_queue);
	tcase_add_test(tc, errf_ssl_null_err_clears);
	tcase_add_test(tc, errf_ssl_long_message);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(sslerr_suite());
}
