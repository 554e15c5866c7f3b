/* test_jsonr.c: the strict JSON reader and its lookups. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/jsonr.h"
#include "ekulab/core/mem.h"
#include "testutil.h"

static void teardown(void)
{
	ekl_mem_fail_after(-1);
}

static struct jsonr_doc *parse_ok(const char *text)
{
	struct jsonr_doc *d = NULL;
	char err[EKL_ERRLEN] = "";

	ck_assert_msg(jsonr_parse(text, strlen(text), &d, err) == 0, "'%s': %s",
		      text, err);
	ck_assert_ptr_nonnull(d);
	return d;
}

/* text is refused with a message containing want. */
static void parse_bad(const char *text, size_t len, const char *want)
{
	struct jsonr_doc *d = (struct jsonr_doc *)1;
	char err[EKL_ERRLEN] = "";

	ck_assert_msg(jsonr_parse(text, len, &d, err) == EKL_EPROTO,
		      "'%.*s' accepted", (int)len, text);
	ck_assert_ptr_null(d);
	ck_assert_msg(strstr(err, want) != NULL, "'%.*s': '%s' lacks '%s'",
		      (int)len, text, err, want);
}

static void parse_bads(const char *text, const char *want)
{
	parse_bad(text, strlen(text), want);
}

/* ---- values ---- */

START_TEST(values_scalars)
{
	struct jsonr_doc *d;
	int64_t i;
	bool b;

	d = parse_ok(" 42 ");
	ck_assert(jsonr_int(jsonr_root(d), &i));
	ck_assert_int_eq(i, 42);
	jsonr_free(d);
	d = parse_ok("-9223372036854775808");
	ck_assert(jsonr_int(jsonr_root(d), &i));
	ck_assert(i == INT64_MIN);
	jsonr_free(d);
	d = parse_ok("9223372036854775807");
	ck_assert(jsonr_int(jsonr_root(d), &i));
	ck_assert(i == INT64_MAX);
	jsonr_free(d);
	/* Too big for int64: a number, not an integer. */
	d = parse_ok("9223372036854775808");
	ck_assert(!jsonr_int(jsonr_root(d), &i));
	ck_assert(jsonr_is(jsonr_root(d), JSONR_NUMBER));
	ck_assert(jsonr_root(d)->u.num.d > 9.2e18);
	jsonr_free(d);
	d = parse_ok("-0.5e+2");
	ck_assert(!jsonr_int(jsonr_root(d), &i));
	ck_assert(fabs(jsonr_root(d)->u.num.d + 50.0) < 1e-9);
	jsonr_free(d);
	d = parse_ok("1E3");
	ck_assert(fabs(jsonr_root(d)->u.num.d - 1000.0) < 1e-9);
	jsonr_free(d);
	d = parse_ok("true");
	ck_assert(jsonr_bool(jsonr_root(d), &b) && b);
	jsonr_free(d);
	d = parse_ok("\tfalse\r\n");
	ck_assert(jsonr_bool(jsonr_root(d), &b) && !b);
	jsonr_free(d);
	d = parse_ok("null");
	ck_assert(jsonr_is(jsonr_root(d), JSONR_NULL));
	ck_assert_ptr_null(jsonr_str(jsonr_root(d)));
	jsonr_free(d);
}
END_TEST

START_TEST(values_strings)
{
	struct jsonr_doc *d;
	const struct jsonr_value *v;

	d = parse_ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
	ck_assert_str_eq(jsonr_str(jsonr_root(d)), "a\"b\\c/d\b\f\n\r\t");
	jsonr_free(d);
	/* \u escapes: ASCII, two and three bytes, a surrogate pair. */
	d = parse_ok("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"");
	v = jsonr_root(d);
	ck_assert_str_eq(jsonr_str(v), "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	ck_assert_uint_eq(v->u.str.len, 10);
	jsonr_free(d);
	/* Raw UTF-8 passes through. */
	d = parse_ok("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f\"");
	ck_assert_str_eq(jsonr_str(jsonr_root(d)),
			 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f");
	jsonr_free(d);
	d = parse_ok("\"\"");
	ck_assert_str_eq(jsonr_str(jsonr_root(d)), "");
	jsonr_free(d);
}
END_TEST

START_TEST(values_containers)
{
	struct jsonr_doc *d =
	    parse_ok("{\"node\": \"node1\", \"revision\": 17, \"ok\": true,"
		     " \"primary\": null, \"peers\": [ {\"name\": \"node2\"},"
		     " {\"name\": \"node3\", \"lag\": -4} ], \"empty\": {}, "
		     "\"none\": [], \"dup\": 1, \"dup\": 2}");
	const struct jsonr_value *root = jsonr_root(d), *peers, *p;
	int64_t i;
	bool b;

	ck_assert(jsonr_is(root, JSONR_OBJECT));
	ck_assert_uint_eq(jsonr_len(root), 9);
	ck_assert_str_eq(jsonr_get_str(root, "node"), "node1");
	ck_assert(jsonr_get_int(root, "revision", &i));
	ck_assert_int_eq(i, 17);
	ck_assert(jsonr_get_bool(root, "ok", &b) && b);
	ck_assert(jsonr_is(jsonr_get(root, "primary"), JSONR_NULL));
	ck_assert_ptr_null(jsonr_get_str(root, "primary"));
	ck_assert_ptr_null(jsonr_get(root, "missing"));
	ck_assert(!jsonr_get_int(root, "node", &i)); /* wrong type */
	ck_assert(jsonr_get_int(root, "dup", &i));
	ck_assert_int_eq(i, 1); /* the first wins */
	peers = jsonr_get(root, "peers");
	ck_assert_uint_eq(jsonr_len(peers), 2);
	ck_assert_str_eq(jsonr_get_str(jsonr_at(peers, 1), "name"), "node3");
	ck_assert(jsonr_get_int(jsonr_at(peers, 1), "lag", &i));
	ck_assert_int_eq(i, -4);
	ck_assert_ptr_null(jsonr_at(peers, 2));
	p = jsonr_first(peers);
	ck_assert_str_eq(jsonr_get_str(p, "name"), "node2");
	ck_assert_ptr_null(p->key);
	ck_assert_ptr_null(p->next->next);
	ck_assert_uint_eq(jsonr_len(jsonr_get(root, "empty")), 0);
	ck_assert_ptr_null(jsonr_first(jsonr_get(root, "none")));
	/* Members in document order, with their keys. */
	p = jsonr_first(root);
	ck_assert_str_eq(p->key, "node");
	ck_assert_str_eq(p->next->key, "revision");
	/* Lookups on the wrong type or NULL. */
	ck_assert_ptr_null(jsonr_get(peers, "name"));
	ck_assert_ptr_null(jsonr_at(root, 0));
	ck_assert_ptr_null(jsonr_get(NULL, "x"));
	ck_assert_uint_eq(jsonr_len(NULL), 0);
	ck_assert_str_eq(jsonr_type_name(JSONR_OBJECT), "object");
	jsonr_free(d);
	jsonr_free(NULL);
}
END_TEST

/* What our writer writes, our reader reads back. */
START_TEST(values_writer_round_trip)
{
	struct json j;
	struct jsonr_doc *d;
	const struct jsonr_value *root;
	char ctl[40];
	int64_t i;
	int k;

	for (k = 1; k < 32; k++)
		ctl[k - 1] = (char)k;
	ctl[31] = '\0';
	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "ctl \"quoted\"");
	json_str(&j, ctl);
	json_key(&j, "n");
	json_int(&j, -1234567890123LL);
	json_obj_end(&j);
	d = parse_ok(json_finish(&j));
	root = jsonr_root(d);
	ck_assert_str_eq(jsonr_get_str(root, "ctl \"quoted\""), ctl);
	ck_assert(jsonr_get_int(root, "n", &i));
	ck_assert(i == -1234567890123LL);
	jsonr_free(d);
	json_close(&j);
}
END_TEST

/* A large object (a whole configuration list) parses in linear time. */
START_TEST(values_large_object)
{
	struct json j;
	struct jsonr_doc *d;
	const struct jsonr_value *v;
	char path[64], value[64];
	size_t n = 0;
	int i;

	json_init(&j);
	json_obj_begin(&j);
	for (i = 0; i < 200000; i++) {
		snprintf(path, sizeof(path), "Plan Load %d Value", i);
		snprintf(value, sizeof(value), "v%d", i);
		json_key(&j, path);
		json_str(&j, value);
	}
	json_obj_end(&j);
	d = parse_ok(json_finish(&j));
	for (v = jsonr_first(jsonr_root(d)); v != NULL; v = v->next, n++) {
		snprintf(value, sizeof(value), "v%zu", n);
		ck_assert_str_eq(jsonr_str(v), value);
	}
	ck_assert_uint_eq(n, 200000);
	jsonr_free(d);
	json_close(&j);
}
END_TEST

/* ---- refusals ---- */

START_TEST(refuses_syntax)
{
	parse_bads("", "expected a value");
	parse_bads("   ", "expected a value");
	parse_bads("{", "expected a member name");
	parse_bads("{\"a\" 1}", "expected ':'");
	parse_bads("{\"a\":1,}", "expected a member name");
	parse_bads("[1,]", "expected a value");
	parse_bads("[1 2]", "expected ',' or ']'");
	parse_bads("{\"a\":1 \"b\":2}", "expected ',' or '}'");
	parse_bads("{a:1}", "expected a member name");
	parse_bads("'x'", "expected a value");
	parse_bads("tru", "expected a value");
	parse_bads("nul", "expected a value");
	parse_bads("True", "expected a value");
	parse_bads("// c\n1", "expected a value");
	parse_bads("NaN", "expected a value");
}
END_TEST

START_TEST(refuses_trailing)
{
	parse_bads("{} {}", "unexpected text after the value");
	parse_bads("1 x", "at byte 2: unexpected text");
	parse_bads("\"a\"\"b\"", "unexpected text");
	parse_bad("1\0", 2, "unexpected text");
	parse_bads("[1]]", "unexpected text");
}
END_TEST

START_TEST(refuses_numbers)
{
	parse_bads("01", "leading zero");
	parse_bads("-01", "leading zero");
	parse_bads("+1", "expected a value");
	parse_bads("-", "needs a digit");
	parse_bads("1.", "fraction needs a digit");
	parse_bads(".5", "expected a value");
	parse_bads("1e", "exponent needs a digit");
	parse_bads("1e+", "exponent needs a digit");
	parse_bads("0x10", "unexpected text");
}
END_TEST

START_TEST(refuses_strings)
{
	parse_bads("\"abc", "unterminated string");
	parse_bads("\"abc\\\"", "unterminated string");
	parse_bads("\"a\nb\"", "control character");
	parse_bads("\"a\tb\"", "control character");
	parse_bad("\"a\0b\"", 5, "control character");
	parse_bads("\"\\x41\"", "unknown escape");
	parse_bads("\"\\u12\"", "four hex digits");
	parse_bads("\"\\u12g4\"", "four hex digits");
	parse_bads("\"\\u0000\"", "\\u0000 is not supported");
	parse_bads("\"\\ud83d\"", "high surrogate without a low one");
	parse_bads("\"\\ud83dx\"", "high surrogate without a low one");
	parse_bads("\"\\ud83d\\u0041\"", "high surrogate without a low one");
	parse_bads("\"\\ude00\"", "low surrogate without a high one");
}
END_TEST

START_TEST(refuses_bad_utf8)
{
	static const char *bad[] = {
	    "\"\x80\"",		    /* lone continuation byte */
	    "\"\xc3\"",		    /* truncated */
	    "\"\xc3x\"",	    /* bad continuation */
	    "\"\xc0\xaf\"",	    /* overlong '/' */
	    "\"\xc1\xbf\"",	    /* overlong */
	    "\"\xe0\x80\xaf\"",	    /* overlong */
	    "\"\xed\xa0\x80\"",	    /* encoded surrogate */
	    "\"\xf0\x80\x80\xaf\"", /* overlong */
	    "\"\xf4\x90\x80\x80\"", /* over U+10FFFF */
	    "\"\xf5\x80\x80\x80\"", /* no such lead byte */
	    "\"\xff\"",		    /* never valid */
	    "\"\xe2\x82\"",	    /* truncated by the quote */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bads(bad[i], "invalid UTF-8");
	/* Outside strings any non-ASCII byte is an error too. */
	parse_bads("[\xc3\xa9]", "expected a value");
}
END_TEST

START_TEST(refuses_depth)
{
	char deep[2 * JSONR_DEPTH_MAX + 8];
	struct jsonr_doc *d;
	int i;

	for (i = 0; i < JSONR_DEPTH_MAX; i++) {
		deep[i] = '[';
		deep[JSONR_DEPTH_MAX + i] = ']';
	}
	deep[2 * JSONR_DEPTH_MAX] = '\0';
	d = parse_ok(deep); /* exactly the limit */
	jsonr_free(d);
	for (i = 0; i <= JSONR_DEPTH_MAX; i++) {
		deep[i] = '[';
		deep[JSONR_DEPTH_MAX + 1 + i] = ']';
	}
	deep[2 * JSONR_DEPTH_MAX + 2] = '\0';
	parse_bads(deep, "nested deeper than the limit of 64");
	/* Objects count the same way; nothing deep is allocated first. */
	{
		char *s = malloc(1000001);

		ck_assert_ptr_nonnull(s);
		for (i = 0; i < 200000; i++)
			memcpy(s + i * 5, "{\"a\":", 5);
		s[1000000] = '\0';
		parse_bads(s, "nested deeper");
		free(s);
	}
}
END_TEST

/* ---- allocation failures ---- */

START_TEST(alloc_failures)
{
	const char *text = "{\"peers\":[{\"name\":\"node2\",\"lag\":1.5e3}],"
			   "\"s\":\"\\u00e9\"}";
	struct jsonr_doc *d = NULL;
	char err[EKL_ERRLEN];
	long k;
	int rv = EKL_ENOMEM;

	for (k = 0; rv == EKL_ENOMEM && k < 100; k++) {
		ekl_mem_fail_after(k);
		rv = jsonr_parse(text, strlen(text), &d, err);
		ekl_mem_fail_after(-1);
		if (rv == EKL_ENOMEM)
			ck_assert_ptr_null(d);
	}
	ck_assert_int_eq(rv, 0);
	ck_assert_str_eq(jsonr_get_str(jsonr_root(d), "s"), "\xc3\xa9");
	jsonr_free(d);
}
END_TEST

static Suite *jsonr_suite(void)
{
	Suite *s = suite_create("jsonr");
	TCase *tc;

	tc = tcase_create("jsonr_parse");
	tcase_add_test(tc, values_scalars);
	tcase_add_test(tc, values_strings);
	tcase_add_test(tc, values_containers);
	tcase_add_test(tc, values_writer_round_trip);
	tcase_add_test(tc, values_large_object);
	suite_add_tcase(s, tc);

	tc = tcase_create("jsonr_parse_refusals");
	tcase_add_test(tc, refuses_syntax);
	tcase_add_test(tc, refuses_trailing);
	tcase_add_test(tc, refuses_numbers);
	tcase_add_test(tc, refuses_strings);
	tcase_add_test(tc, refuses_bad_utf8);
	tcase_add_test(tc, refuses_depth);
	suite_add_tcase(s, tc);

	tc = tcase_create("jsonr_alloc");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, alloc_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(jsonr_suite());
}
