/* test_err.c: error code text and detail-message formatting. */
#include <string.h>

#include "ekulab/core/err.h"
#include "testutil.h"

static const int all_codes[] = {
#define EKL_ERR_CODE(name, value, text) name,
    EKL_ERRORS(EKL_ERR_CODE)
#undef EKL_ERR_CODE
};
#define NCODES (sizeof(all_codes) / sizeof(all_codes[0]))

/* ---- ekl_strerror ---- */

START_TEST(strerror_distinct)
{
	size_t i, k;

	ck_assert_uint_ge(NCODES, 15);
	for (i = 0; i < NCODES; i++) {
		const char *t = ekl_strerror(all_codes[i]);

		ck_assert_ptr_nonnull(t);
		ck_assert_int_lt(all_codes[i], 0);
		ck_assert_str_ne(t, "unknown error");
		ck_assert_str_ne(t, "success");
		ck_assert_uint_gt(strlen(t), 0);
		for (k = 0; k < i; k++) {
			ck_assert_int_ne(all_codes[k], all_codes[i]);
			ck_assert_str_ne(ekl_strerror(all_codes[k]), t);
		}
	}
}
END_TEST

START_TEST(strerror_known_and_unknown)
{
	ck_assert_str_eq(ekl_strerror(0), "success");
	ck_assert_str_eq(ekl_strerror(EKL_ENOMEM), "out of memory");
	ck_assert_str_eq(ekl_strerror(EKL_ETOOBIG),
			 "frame larger than the maximum");
	ck_assert_str_eq(ekl_strerror(-9999), "unknown error");
	ck_assert_str_eq(ekl_strerror(1), "unknown error");
}
END_TEST

/* ---- ekl_errf ---- */

START_TEST(errf_formats)
{
	char err[EKL_ERRLEN];
	int rc;

	memset(err, 'z', sizeof(err));
	rc = ekl_errf(err, EKL_ENOENT, "file '%s' line %d: %s", "a.conf", 12,
		      "missing");
	ck_assert_int_eq(rc, EKL_ENOENT);
	ck_assert_str_eq(err, "file 'a.conf' line 12: missing");
}
END_TEST

START_TEST(errf_null_err)
{
	ck_assert_int_eq(ekl_errf(NULL, EKL_EIO, "x %d", 1), EKL_EIO);
	ck_assert_int_eq(ekl_errf(NULL, 0, "fine"), 0);
}
END_TEST

START_TEST(errf_truncates)
{
	char err[EKL_ERRLEN + 16];
	char big[EKL_ERRLEN * 2];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(err, 'z', sizeof(err));
	ck_assert_int_eq(ekl_errf(err, EKL_EINVAL, "%s", big), EKL_EINVAL);
	ck_assert_uint_eq(strlen(err), EKL_ERRLEN - 1);
	/* Nothing past the EKL_ERRLEN bytes was touched. */
	ck_assert_int_eq(err[EKL_ERRLEN], 'z');
}
END_TEST

static Suite *err_suite(void)
{
	Suite *s = suite_create("err");
	TCase *tc;

	tc = tcase_create("ekl_strerror");
	tcase_add_test(tc, strerror_distinct);
	tcase_add_test(tc, strerror_known_and_unknown);
	suite_add_tcase(s, tc);

	tc = tcase_create("ekl_errf");
	tcase_add_test(tc, errf_formats);
	tcase_add_test(tc, errf_null_err);
	tcase_add_test(tc, errf_truncates);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return tu_run(err_suite());
}
