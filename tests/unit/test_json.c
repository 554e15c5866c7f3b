/* test_json.c: the small JSON writer. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ekulab/core/json.h"
#include "ekulab/core/mem.h"
#include "testutil.h"

static void teardown(void)
{
	ekl_mem_fail_after(-1);
}

/* ---- objects and keys ---- */

START_TEST(obj_flat)
{
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "a");
	json_int(&j, 1);
	json_key(&j, "b");
	json_str(&j, "two");
	json_key(&j, "c");
	json_bool(&j, true);
	json_key(&j, "d");
	json_null(&j);
	json_obj_end(&j);
	ck_assert_str_eq(json_finish(&j),
			 "{\"a\":1,\"b\":\"two\",\"c\":true,\"d\":null}");
	json_close(&j);
}
END_TEST

/* Fixed decimals for ratios; JSON has no NaN or infinity: null. */
START_TEST(fixed_numbers)
{
	struct json j;

	json_init(&j);
	json_arr_begin(&j);
	json_fixed(&j, 0.7254, 3);
	json_fixed(&j, 12.0, 1);
	json_fixed(&j, -2.5, 0);
	json_fixed(&j, INFINITY, 3);
	json_fixed(&j, NAN, 3);
	json_arr_end(&j);
	ck_assert_str_eq(json_finish(&j), "[0.725,12.0,-2,null,null]");
	json_close(&j);
}
END_TEST

START_TEST(obj_nested)
{
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "node");
	json_obj_begin(&j);
	json_key(&j, "name");
	json_str(&j, "c1");
	json_key(&j, "peers");
	json_arr_begin(&j);
	json_obj_begin(&j);
	json_key(&j, "up");
	json_bool(&j, false);
	json_obj_end(&j);
	json_obj_begin(&j);
	json_obj_end(&j);
	json_arr_end(&j);
	json_obj_end(&j);
	json_key(&j, "after");
	json_int(&j, 0);
	json_obj_end(&j);
	ck_assert_str_eq(json_finish(&j),
			 "{\"node\":{\"name\":\"c1\",\"peers\":[{\"up\":false},"
			 "{}]},\"after\":0}");
	json_close(&j);
}
END_TEST

START_TEST(raw_values)
{
	struct json j;

	/* Another writer's text goes in as a value, commas as for any. */
	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "a");
	json_raw(&j, "{\"x\":[1,2]}");
	json_key(&j, "b");
	json_arr_begin(&j);
	json_raw(&j, "1");
	json_raw(&j, "{}");
	json_arr_end(&j);
	json_obj_end(&j);
	ck_assert_str_eq(json_finish(&j), "{\"a\":{\"x\":[1,2]},\"b\":[1,{}]}");
	json_close(&j);
}
END_TEST

START_TEST(obj_empty)
{
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_obj_end(&j);
	ck_assert_str_eq(json_finish(&j), "{}");
	json_close(&j);
}
END_TEST

START_TEST(key_escaped)
{
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "a\"b");
	json_int(&j, 1);
	json_obj_end(&j);
	ck_assert_str_eq(json_finish(&j), "{\"a\\\"b\":1}");
	json_close(&j);
}
END_TEST

/* ---- arrays ---- */

START_TEST(arr_values)
{
	struct json j;

	json_init(&j);
	json_arr_begin(&j);
	json_int(&j, 1);
	json_str(&j, "x");
	json_bool(&j, false);
	json_null(&j);
	json_str(&j, NULL);
	json_arr_begin(&j);
	json_arr_end(&j);
	json_arr_begin(&j);
	json_int(&j, 2);
	json_int(&j, 3);
	json_arr_end(&j);
	json_arr_end(&j);
	ck_assert_str_eq(json_finish(&j), "[1,\"x\",false,null,null,[],[2,3]]");
	json_close(&j);
}
END_TEST

START_TEST(arr_empty)
{
	struct json j;

	json_init(&j);
	json_arr_begin(&j);
	json_arr_end(&j);
	ck_assert_str_eq(json_finish(&j), "[]");
	json_close(&j);
}
END_TEST

/* ---- json_str ---- */

START_TEST(str_escaping)
{
	struct json j;

	json_init(&j);
	json_str(&j, "q\" b\\ n\n r\r t\t \x01\x1f\x7f é");
	ck_assert_str_eq(json_finish(&j), "\"q\\\" b\\\\ n\\n r\\r t\\t "
					  "\\u0001\\u001f\x7f é\"");
	json_close(&j);
}
END_TEST

START_TEST(str_null_and_empty)
{
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "n");
	json_str(&j, NULL);
	json_key(&j, "e");
	json_str(&j, "");
	json_obj_end(&j);
	ck_assert_str_eq(json_finish(&j), "{\"n\":null,\"e\":\"\"}");
	json_close(&j);
}
END_TEST

START_TEST(str_long_grows)
{
	struct json j;
	char big[5000];
	const char *out;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	json_init(&j);
	json_arr_begin(&j);
	json_str(&j, big);
	json_str(&j, big);
	json_arr_end(&j);
	out = json_finish(&j);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(strlen(out), 2 * (sizeof(big) - 1 + 2) + 3);
	ck_assert_int_eq(out[0], '[');
	ck_assert_int_eq(out[1 + sizeof(big) + 1], ',');
	json_close(&j);
}
END_TEST

/* ---- json_int ---- */

START_TEST(int_values)
{
	struct json j;

	json_init(&j);
	json_arr_begin(&j);
	json_int(&j, 0);
	json_int(&j, -1);
	json_int(&j, 7001);
	json_int(&j, INT64_MAX);
	json_int(&j, INT64_MIN);
	json_arr_end(&j);
	ck_assert_str_eq(json_finish(&j), "[0,-1,7001,9223372036854775807,"
					  "-9223372036854775808]");
	json_close(&j);
}
END_TEST

START_TEST(double_values)
{
	struct json j;

	json_init(&j);
	json_arr_begin(&j);
	json_double(&j, 0.25);
	json_double(&j, 1.0);
	json_double(&j, -2.5e-7);
	json_double(&j, NAN);
	json_double(&j, INFINITY);
	json_double(&j, 123.456);
	json_arr_end(&j);
	/* NaN and infinity are not JSON: null. */
	ck_assert_str_eq(json_finish(&j),
			 "[0.25,1,-2.5e-07,null,null,123.456]");
	json_close(&j);
}
END_TEST

/* ---- json_bool / json_null at top level ---- */

START_TEST(scalars_top_level)
{
	struct json j;

	json_init(&j);
	json_bool(&j, true);
	ck_assert_str_eq(json_finish(&j), "true");
	json_close(&j);
	json_init(&j);
	json_null(&j);
	ck_assert_str_eq(json_finish(&j), "null");
	json_close(&j);
}
END_TEST

/* ---- json_finish ---- */

START_TEST(finish_empty_writer)
{
	struct json j;
	const char *out;

	json_init(&j);
	out = json_finish(&j);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "");
	json_close(&j);
	/* close leaves a reusable, empty writer and accepts a second call */
	ck_assert_ptr_null(j.buf);
	json_close(&j);
}
END_TEST

START_TEST(finish_oom_first_alloc)
{
	struct json j;

	json_init(&j);
	ekl_mem_fail_after(0);
	json_obj_begin(&j);
	json_key(&j, "k");
	json_int(&j, 1);
	json_obj_end(&j);
	ekl_mem_fail_after(-1);
	ck_assert_ptr_null(json_finish(&j));
	json_close(&j);
}
END_TEST

START_TEST(finish_oom_on_growth)
{
	struct json j;
	char big[600];

	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	json_init(&j);
	json_arr_begin(&j); /* first allocation succeeds */
	ekl_mem_fail_after(0);
	json_str(&j, big); /* growing past 256 fails */
	ekl_mem_fail_after(-1);
	json_int(&j, 1); /* would fit again: must stay failed */
	json_arr_end(&j);
	ck_assert_ptr_null(json_finish(&j));
	json_close(&j);
}
END_TEST

START_TEST(finish_oom_empty_writer)
{
	struct json j;

	json_init(&j);
	ekl_mem_fail_after(0);
	ck_assert_ptr_null(json_finish(&j));
	ekl_mem_fail_after(-1);
	json_close(&j);
}
END_TEST

/* Nesting as deep as the reader accepts keeps every comma (a writer that
 * lost them past 32 levels wrote [[...[1,2]...]] as [[...[12]...]]); one
 * level more is refused rather than written wrong. Found by fuzz_jsonr
 * (tests/fuzz/corpus/fuzz_jsonr/regress-depth-40-commas). */
static const char *nested(struct json *j, int depth)
{
	int i;

	json_init(j);
	for (i = 0; i < depth; i++)
		json_arr_begin(j);
	json_int(j, 1);
	json_int(j, 2);
	for (i = 0; i < depth; i++)
		json_arr_end(j);
	return json_finish(j);
}

START_TEST(finish_deep_keeps_commas)
{
	char want[2 * JSON_DEPTH_MAX + 8];
	struct json j;
	int i, n = 0;

	for (i = 0; i < JSON_DEPTH_MAX; i++)
		want[n++] = '[';
	memcpy(want + n, "1,2", 3);
	n += 3;
	for (i = 0; i < JSON_DEPTH_MAX; i++)
		want[n++] = ']';
	want[n] = '\0';
	ck_assert_str_eq(nested(&j, JSON_DEPTH_MAX), want);
	json_close(&j);
}
END_TEST

START_TEST(finish_too_deep_refused)
{
	struct json j;

	ck_assert_ptr_null(nested(&j, JSON_DEPTH_MAX + 1));
	json_close(&j);
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc;

	tc = tcase_create("json_obj");
	tcase_add_test(tc, obj_flat);
	tcase_add_test(tc, fixed_numbers);
	tcase_add_test(tc, obj_nested);
	tcase_add_test(tc, raw_values);
	tcase_add_test(tc, obj_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("json_key");
	tcase_add_test(tc, key_escaped);
	suite_add_tcase(s, tc);

	tc = tcase_create("json_arr");
	tcase_add_test(tc, arr_values);
	tcase_add_test(tc, arr_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("json_str");
	tcase_add_test(tc, str_escaping);
	tcase_add_test(tc, str_null_and_empty);
	tcase_add_test(tc, str_long_grows);
	suite_add_tcase(s, tc);

	tc = tcase_create("json_int");
	tcase_add_test(tc, int_values);
	tcase_add_test(tc, double_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("json_bool_null");
	tcase_add_test(tc, scalars_top_level);
	suite_add_tcase(s, tc);

	tc = tcase_create("json_finish");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, finish_empty_writer);
	tcase_add_test(tc, finish_oom_first_alloc);
	tcase_add_test(tc, finish_oom_on_growth);
	tcase_add_test(tc, finish_oom_empty_writer);
	tcase_add_test(tc, finish_deep_keeps_commas);
	tcase_add_test(tc, finish_too_deep_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(json_suite());
}
