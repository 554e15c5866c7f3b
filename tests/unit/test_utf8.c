/* test_utf8.c: utf8_valid_prefix against RFC 3629's table. */
#include <string.h>

#include "ekulab/core/utf8.h"
#include "testutil.h"

static size_t prefix(const char *s)
{
	return utf8_valid_prefix(s, strlen(s));
}

START_TEST(test_valid)
{
	ck_assert_uint_eq(utf8_valid_prefix("", 0), 0);
	ck_assert_uint_eq(prefix("plain ASCII ~"), 13);
	ck_assert_uint_eq(prefix("caf\xc3\xa9"), 5);	  /* U+00E9 */
	ck_assert_uint_eq(prefix("\xc2\x80"), 2);	  /* U+0080 */
	ck_assert_uint_eq(prefix("\xdf\xbf"), 2);	  /* U+07FF */
	ck_assert_uint_eq(prefix("\xe0\xa0\x80"), 3);	  /* U+0800 */
	ck_assert_uint_eq(prefix("\xe2\x82\xac"), 3);	  /* U+20AC */
	ck_assert_uint_eq(prefix("\xed\x9f\xbf"), 3);	  /* U+D7FF */
	ck_assert_uint_eq(prefix("\xee\x80\x80"), 3);	  /* U+E000 */
	ck_assert_uint_eq(prefix("\xef\xbf\xbf"), 3);	  /* U+FFFF */
	ck_assert_uint_eq(prefix("\xf0\x90\x80\x80"), 4); /* U+10000 */
	ck_assert_uint_eq(prefix("\xf4\x8f\xbf\xbf"), 4); /* U+10FFFF */
	/* NUL is UTF-8; callers that refuse it look for it. */
	ck_assert_uint_eq(utf8_valid_prefix("a\0b", 3), 3);
}
END_TEST

START_TEST(test_invalid)
{
	/* Where the first bad sequence starts. */
	ck_assert_uint_eq(prefix("ab\x80"), 2);	       /* lone continuation */
	ck_assert_uint_eq(prefix("\xc0\x80"), 0);      /* overlong NUL */
	ck_assert_uint_eq(prefix("\xc1\xbf"), 0);      /* overlong */
	ck_assert_uint_eq(prefix("x\xe0\x9f\xbf"), 1); /* overlong 3 */
	ck_assert_uint_eq(prefix("\xed\xa0\x80"), 0);  /* surrogate */
	ck_assert_uint_eq(prefix("\xed\xbf\xbf"), 0);  /* surrogate */
	ck_assert_uint_eq(prefix("\xf0\x8f\xbf\xbf"), 0); /* overlong 4 */
	ck_assert_uint_eq(prefix("\xf4\x90\x80\x80"), 0); /* > U+10FFFF */
	ck_assert_uint_eq(prefix("\xf5\x80\x80\x80"), 0);
	ck_assert_uint_eq(prefix("\xff"), 0);
	ck_assert_uint_eq(prefix("\xfe\xff"), 0);
	ck_assert_uint_eq(prefix("ok\xc3"), 2);		  /* truncated */
	ck_assert_uint_eq(prefix("ok\xe2\x82"), 2);	  /* truncated */
	ck_assert_uint_eq(prefix("\xe2\x28\xa1"), 0);	  /* bad second byte */
	ck_assert_uint_eq(prefix("\xf0\x90\x28\x80"), 0); /* bad third */
	/* The length is what counts, not a NUL: a truncated sequence at the
	 * end of the given length is invalid even if bytes follow. */
	ck_assert_uint_eq(utf8_valid_prefix("\xc3\xa9", 1), 0);
}
END_TEST

static Suite *utf8_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("utf8_valid_prefix");

	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(utf8_suite());
}
