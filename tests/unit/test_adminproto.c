/* test_adminproto.c: the admin protocol's limits, request lines and the
 * incremental reply reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/adminproto.h"
#include "testutil.h"

static void teardown(void)
{
	ekl_mem_fail_after(-1);
}

/* n copies of c; free() it. */
static char *fill(size_t n, char c)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* 'xConfiguration PATH: "VALUE"' with a path and value of these sizes. */
static char *config_write(size_t path, size_t value, bool quoted)
{
	char *p = fill(path, 'p'), *v = fill(value, 'v');
	size_t n = path + value + 64;
	char *s = malloc(n);

	ck_assert_ptr_nonnull(s);
	snprintf(s, n, "xConfiguration %s: %s%s%s", p, quoted ? "\"" : "", v,
		 quoted ? "\"" : "");
	free(p);
	free(v);
	return s;
}

/* ---- limits ---- */

START_TEST(limits_values)
{
	/* The figures docs/node.md states. */
	ck_assert_int_eq(ADMINPROTO_KEY_MAX, 512);
	ck_assert_int_eq(ADMINPROTO_VALUE_MAX, 65536);
	ck_assert_int_eq(ADMINPROTO_LINE_MAX, 66132);
	ck_assert_uint_eq(ADMINPROTO_BODY_MAX, 256u << 20);
}
END_TEST

/* A maximal path and value, quoted, with the longest prefix ever
 * formatted, fit a line and survive parsing unchanged. */
START_TEST(limits_max_value_round_trips)
{
	struct adminproto_opts o = {ADMINPROTO_JSON, true, 3600000};
	struct adminproto_request rq;
	char *cmd =
	    config_write(ADMINPROTO_KEY_MAX, ADMINPROTO_VALUE_MAX, true);
	char err[EKL_ERRLEN], *line = NULL;
	size_t len = 0;

	ck_assert_int_eq(adminproto_request_new(&o, cmd, &line, &len, err), 0);
	ck_assert_uint_le(len - 1, ADMINPROTO_LINE_MAX);
	ck_assert_int_eq(line[len - 1], '\n');
	line[len - 1] = '\0';
	ck_assert_int_eq(adminproto_request_parse(line, &rq, err), 0);
	ck_assert_int_eq(rq.opts.format, ADMINPROTO_JSON);
	ck_assert(rq.opts.ack_all);
	ck_assert_uint_eq(rq.opts.timeout_ms, 3600000);
	ck_assert(rq.has_options);
	ck_assert_str_eq(rq.command, cmd);
	ekl_free(line);
	free(cmd);
}
END_TEST

/* A line made to be exactly the limit is accepted; one byte more is
 * refused, naming the limit. */
START_TEST(limits_line_edge)
{
	char *cmd = fill(ADMINPROTO_LINE_MAX - 5, 'c'); /* "text " + cmd */
	char err[EKL_ERRLEN], *line = NULL, *cmd2;
	size_t len = 0;

	ck_assert_int_eq(adminproto_line_new("text", cmd, &line, &len, err), 0);
	ck_assert_uint_eq(len, ADMINPROTO_LINE_MAX + 1);
	ekl_free(line);
	cmd2 = fill(ADMINPROTO_LINE_MAX - 4, 'c');
	ck_assert_int_eq(adminproto_line_new("text", cmd2, &line, &len, err),
			 EKL_ETOOBIG);
	ck_assert_ptr_null(line);
	ck_assert_ptr_nonnull(strstr(err, "66132"));
	free(cmd);
	free(cmd2);
}
END_TEST

/* ---- request lines ---- */

START_TEST(request_parse_forms)
{
	struct adminproto_request rq;
	char err[EKL_ERRLEN], line[128];

	snprintf(line, sizeof(line), "text xStatus Cluster");
	ck_assert_int_eq(adminproto_request_parse(line, &rq, err), 0);
	ck_assert_int_eq(rq.opts.format, ADMINPROTO_TEXT);
	ck_assert(!rq.has_options);
	ck_assert(!rq.opts.ack_all);
	ck_assert_uint_eq(rq.opts.timeout_ms, 0);
	ck_assert_str_eq(rq.command, "xStatus Cluster");

	snprintf(line, sizeof(line), "json,timeout=500,ack=all help");
	ck_assert_int_eq(adminproto_request_parse(line, &rq, err), 0);
	ck_assert_int_eq(rq.opts.format, ADMINPROTO_JSON);
	ck_assert(rq.opts.ack_all);
	ck_assert_uint_eq(rq.opts.timeout_ms, 500);
	ck_assert_str_eq(rq.command, "help");

	snprintf(line, sizeof(line), "text,ack=all,ack=primary x");
	ck_assert_int_eq(adminproto_request_parse(line, &rq, err), 0);
	ck_assert(!rq.opts.ack_all);
	ck_assert(rq.has_options);

	snprintf(line, sizeof(line), "text ");
	ck_assert_int_eq(adminproto_request_parse(line, &rq, err), 0);
	ck_assert_str_eq(rq.command, "");
}
END_TEST

START_TEST(line_check_text)
{
	char err[EKL_ERRLEN] = "";

	ck_assert_int_eq(adminproto_line_check("text help", 9, err), 0);
	ck_assert_int_eq(adminproto_line_check(
			     "text xConfiguration a: \xe2\x82\xac", 26, err),
			 0);
	ck_assert_int_eq(adminproto_line_check("", 0, err), 0);
	/* NUL: the line would end there for a C server. */
	ck_assert_int_eq(adminproto_line_check("text x: a\0b", 12, err),
			 EKL_EINVAL);
	ck_assert_msg(strstr(err, "NUL byte (byte 10)") != NULL, "%s", err);
	/* Not UTF-8, wherever it is; the first bad byte is named. */
	ck_assert_int_eq(adminproto_line_check("text x: \xff", 9, err),
			 EKL_EINVAL);
	ck_assert_msg(strstr(err, "not UTF-8 (byte 9 is 0xff)") != NULL, "%s",
		      err);
	ck_assert_int_eq(adminproto_line_check("\xc3", 1, err), EKL_EINVAL);
	ck_assert_int_eq(adminproto_line_check("a\xed\xa0\x80", 4, err),
			 EKL_EINVAL);
	/* The client refuses before sending, too. */
	{
		struct adminproto_opts o = {ADMINPROTO_TEXT, false, 0};
		char *line = NULL;
		size_t len = 0;

		ck_assert_int_eq(adminproto_request_new(&o,
							"xConfiguration "
							"a: \xff",
							&line, &len, err),
				 EKL_EINVAL);
		ck_assert_ptr_null(line);
		ck_assert_msg(strstr(err, "not UTF-8") != NULL, "%s", err);
	}
}
END_TEST

START_TEST(request_parse_refusals)
{
	static const struct {
		const char *line;
		const char *want;
	} bad[] = {
	    {"", "text|json"},
	    {"xStatus", "text|json"},
	    {"xml routes", "unknown format 'xml'"},
	    {"ack=all,text x", "unknown format 'ack=all'"},
	    {"text,ack=some x", "unknown option 'ack=some'"},
	    {"text,,ack=all x", "unknown option ''"},
	    {"text,timeout=0 x", "1-3600000"},
	    {"text,timeout=3600001 x", "1-3600000"},
	    {"text,timeout=12a x", "timeout=12a"},
	    {"text,timeout= x", "timeout="},
	    {"text,timeout=-5 x", "timeout=-5"},
	    {"text,timeout=999999999999 x", "1-3600000"},
	    {"text,ack=all,ack=all,ack=all,ack=all,ack=all,ack=all,ack=all,"
	     "ack=all x",
	     "over 64 bytes"},
	};
	struct adminproto_request rq;
	char err[EKL_ERRLEN], line[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "%s", bad[i].line);
		ck_assert_msg(adminproto_request_parse(line, &rq, err) ==
				  EKL_EINVAL,
			      "'%s' accepted", bad[i].line);
		ck_assert_msg(strstr(err, bad[i].want) != NULL,
			      "'%s': '%s' lacks '%s'", bad[i].line, err,
			      bad[i].want);
	}
}
END_TEST

START_TEST(request_format)
{
	struct adminproto_opts o = {ADMINPROTO_TEXT, false, 0};
	char buf[ADMINPROTO_PREFIX_MAX + 1], err[EKL_ERRLEN], *line = NULL;
	size_t len = 0;

	adminproto_prefix_format(&o, buf, sizeof(buf));
	ck_assert_str_eq(buf, "text");
	o.format = ADMINPROTO_JSON;
	o.ack_all = true;
	o.timeout_ms = 250;
	adminproto_prefix_format(&o, buf, sizeof(buf));
	ck_assert_str_eq(buf, "json,ack=all,timeout=250");
	ck_assert_int_eq(
	    adminproto_request_new(&o, "xStatus Cluster", &line, &len, err), 0);
	ck_assert_str_eq(line, "json,ack=all,timeout=250 xStatus Cluster\n");
	ck_assert_uint_eq(len, strlen(line));
	ekl_free(line);
	/* One line only. */
	ck_assert_int_eq(adminproto_line_new("text", "a\nb", &line, &len, err),
			 EKL_EINVAL);
	ck_assert_int_eq(adminproto_line_new("te\rxt", "a", &line, &len, err),
			 EKL_EINVAL);
	ck_assert_ptr_null(line);
}
END_TEST

START_TEST(request_format_oom)
{
	char err[EKL_ERRLEN], *line = NULL;
	size_t len = 0;

	ekl_mem_fail_after(0);
	ck_assert_int_eq(adminproto_line_new("text", "help", &line, &len, err),
			 EKL_ENOMEM);
	ck_assert_ptr_null(line);
}
END_TEST

/* ---- reply headers and the reader ---- */

START_TEST(reply_header_forms)
{
	char h[ADMINPROTO_HDR_MAX];

	ck_assert_uint_eq(adminproto_reply_header(h, true, 0), 5);
	ck_assert_str_eq(h, "ok 0\n");
	adminproto_reply_header(h, false, ADMINPROTO_BODY_MAX);
	ck_assert_str_eq(h, "err 268435456\n");
}
END_TEST

/* Feed the stream one byte at a time: each reply appears exactly when its
 * last byte arrives. */
START_TEST(reader_one_byte_feeds)
{
	static const char stream[] = "ok 5\nhello"
				     "err 0\n"
				     "ok 3\na\nb"
				     "err 12\nno such path";
	static const size_t ends[] = {10, 16, 24, 43};
	struct adminproto_reader r;
	struct adminproto_reply rep;
	size_t i, k = 0;

	adminproto_reader_init(&r, 0);
	for (i = 0; i < sizeof(stream) - 1; i++) {
		enum adminproto_res res;

		ck_assert_int_eq(adminproto_reader_feed(&r, stream + i, 1), 0);
		res = adminproto_reader_next(&r, &rep);
		if (i + 1 != ends[k]) {
			ck_assert_msg(res == ADMINPROTO_NEED_MORE,
				      "byte %zu: %s", i,
				      adminproto_res_name(res));
			continue;
		}
		ck_assert_int_eq(res, ADMINPROTO_REPLY);
		switch (k) {
		case 0:
			ck_assert(rep.ok);
			ck_assert_str_eq(rep.body, "hello");
			break;
		case 1:
			ck_assert(!rep.ok);
			ck_assert_str_eq(rep.body, "");
			break;
		case 2:
			ck_assert(rep.ok);
			ck_assert_uint_eq(rep.len, 3);
			ck_assert_str_eq(rep.body, "a\nb");
			break;
		case 3:
			ck_assert(!rep.ok);
			ck_assert_str_eq(rep.body, "no such path");
			break;
		}
		ekl_free(rep.body);
		ck_assert_int_eq(adminproto_reader_next(&r, &rep),
				 ADMINPROTO_NEED_MORE);
		k++;
	}
	ck_assert_uint_eq(k, 4);
	adminproto_reader_close(&r);
}
END_TEST

/* need says exactly how much completes the pending response. */
START_TEST(reader_need)
{
	struct adminproto_reader r;
	struct adminproto_reply rep;

	adminproto_reader_init(&r, 0);
	ck_assert_uint_eq(adminproto_reader_need(&r), 1);
	ck_assert_int_eq(adminproto_reader_feed(&r, "ok 1", 4), 0);
	ck_assert_uint_eq(adminproto_reader_need(&r), 1);
	ck_assert_int_eq(adminproto_reader_feed(&r, "0\nabc", 5), 0);
	ck_assert_uint_eq(adminproto_reader_need(&r), 7);
	ck_assert_int_eq(adminproto_reader_feed(&r, "defghij", 7), 0);
	ck_assert_uint_eq(adminproto_reader_need(&r), 0);
	ck_assert_int_eq(adminproto_reader_next(&r, &rep), ADMINPROTO_REPLY);
	ck_assert_str_eq(rep.body, "abcdefghij");
	ekl_free(rep.body);
	ck_assert_uint_eq(adminproto_reader_need(&r), 1);
	ck_assert_int_eq(adminproto_reader_feed(&r, "bad\n", 4), EKL_EPROTO);
	ck_assert_uint_eq(adminproto_reader_need(&r), 0);
	adminproto_reader_close(&r);
}
END_TEST

/* Many replies in one feed come out one by one. */
START_TEST(reader_many_in_one_feed)
{
	struct adminproto_reader r;
	struct adminproto_reply rep;
	char *buf = malloc(1 << 20);
	size_t len = 0, i;

	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < 10000; i++)
		len += (size_t)sprintf(buf + len, "ok %zu\nrevision %zu",
				       strlen("revision ") + (i < 10	 ? 1
							      : i < 100	 ? 2
							      : i < 1000 ? 3
									 : 4),
				       i);
	adminproto_reader_init(&r, 0);
	ck_assert_int_eq(adminproto_reader_feed(&r, buf, len), 0);
	for (i = 0; i < 10000; i++) {
		char want[32];

		ck_assert_int_eq(adminproto_reader_next(&r, &rep),
				 ADMINPROTO_REPLY);
		snprintf(want, sizeof(want), "revision %zu", i);
		ck_assert_str_eq(rep.body, want);
		ekl_free(rep.body);
	}
	ck_assert_int_eq(adminproto_reader_next(&r, &rep),
			 ADMINPROTO_NEED_MORE);
	adminproto_reader_close(&r);
	free(buf);
}
END_TEST

/* A length over the maximum is refused as soon as its header is whole,
 * with nothing allocated for the body; the error sticks. */
START_TEST(reader_too_big)
{
	struct adminproto_reader r;
	struct adminproto_reply rep;

	adminproto_reader_init(&r, 16);
	ck_assert_int_eq(adminproto_reader_feed(&r, "ok 16\n", 6), 0);
	ck_assert_int_eq(adminproto_reader_next(&r, &rep),
			 ADMINPROTO_NEED_MORE);
	ck_assert_int_eq(adminproto_reader_feed(&r, "0123456789abcdef", 16), 0);
	ck_assert_int_eq(adminproto_reader_next(&r, &rep), ADMINPROTO_REPLY);
	ck_assert_str_eq(rep.body, "0123456789abcdef");
	ekl_free(rep.body);
	ck_assert_int_eq(adminproto_reader_feed(&r, "ok 17\n", 6), EKL_ETOOBIG);
	ck_assert_ptr_null(r.buf);
	ck_assert_int_eq(adminproto_reader_next(&r, &rep),
			 ADMINPROTO_ERR_TOO_BIG);
	ck_assert_int_eq(adminproto_reader_feed(&r, "ok 1\nx", 6), EKL_ETOOBIG);
	adminproto_reader_close(&r);

	/* The default maximum, and a length no integer type holds. */
	adminproto_reader_init(&r, 0);
	ck_assert_int_eq(adminproto_reader_feed(&r, "ok 268435457\n", 13),
			 EKL_ETOOBIG);
	adminproto_reader_close(&r);
	adminproto_reader_init(&r, 0);
	ck_assert_int_eq(
	    adminproto_reader_feed(&r, "err 99999999999999999999999\n", 28),
	    EKL_EPROTO);
	ck_assert_int_eq(adminproto_reader_next(&r, &rep),
			 ADMINPROTO_ERR_HEADER);
	adminproto_reader_close(&r);
}
END_TEST

START_TEST(reader_bad_headers)
{
	static const char *bad[] = {
	    "OK 1\nx", "ok\n",	  "ok -1\n", "ok +1\n", "ok 01\n",
	    "ok 1 \n", "ok  1\n", "err x\n", "hello\n", "ok 1\r\nx",
	};
	struct adminproto_reader r;
	struct adminproto_reply rep;
	char nonl[ADMINPROTO_HDR_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		adminproto_reader_init(&r, 0);
		(void)adminproto_reader_feed(&r, bad[i], strlen(bad[i]));
		ck_assert_msg(adminproto_reader_next(&r, &rep) ==
				  ADMINPROTO_ERR_HEADER,
			      "'%s' accepted", bad[i]);
		adminproto_reader_close(&r);
	}
	/* A header that never ends is refused at ADMINPROTO_HDR_MAX. */
	memset(nonl, '1', sizeof(nonl));
	memcpy(nonl, "ok ", 3);
	adminproto_reader_init(&r, 0);
	ck_assert_int_eq(
	    adminproto_reader_feed(&r, nonl, ADMINPROTO_HDR_MAX - 1), 0);
	ck_assert_int_eq(adminproto_reader_next(&r, &rep),
			 ADMINPROTO_NEED_MORE);
	ck_assert_int_eq(adminproto_reader_feed(&r, "1", 1), EKL_EPROTO);
	adminproto_reader_close(&r);
	ck_assert_str_eq(adminproto_res_name(ADMINPROTO_ERR_HEADER),
			 "bad-header");
}
END_TEST

/* A full-size body: a maximal reply in one piece and in pieces. */
START_TEST(reader_large_body)
{
	size_t n = 3u << 20;
	char *body = fill(n, 'b'), hdr[ADMINPROTO_HDR_MAX];
	size_t hl = adminproto_reply_header(hdr, true, n), off;
	struct adminproto_reader r;
	struct adminproto_reply rep;

	adminproto_reader_init(&r, 0);
	ck_assert_int_eq(adminproto_reader_feed(&r, hdr, hl), 0);
	for (off = 0; off < n; off += 65536) {
		ck_assert_int_eq(adminproto_reader_next(&r, &rep),
				 ADMINPROTO_NEED_MORE);
		ck_assert_int_eq(adminproto_reader_feed(&r, body + off, 65536),
				 0);
	}
	ck_assert_int_eq(adminproto_reader_next(&r, &rep), ADMINPROTO_REPLY);
	ck_assert_uint_eq(rep.len, n);
	ck_assert(memcmp(rep.body, body, n) == 0);
	ekl_free(rep.body);
	/* A big buffer is released once empty. */
	ck_assert_ptr_null(r.buf);
	adminproto_reader_close(&r);
	free(body);
}
END_TEST

/* Out of memory while taking a body: report it, lose nothing. */
START_TEST(reader_oom)
{
	struct adminproto_reader r;
	struct adminproto_reply rep;

	adminproto_reader_init(&r, 0);
	ck_assert_int_eq(adminproto_reader_feed(&r, "ok 2\nhi", 7), 0);
	ekl_mem_fail_after(0);
	ck_assert_int_eq(adminproto_reader_next(&r, &rep),
			 ADMINPROTO_ERR_NOMEM);
	ekl_mem_fail_after(-1);
	ck_assert_int_eq(adminproto_reader_next(&r, &rep), ADMINPROTO_REPLY);
	ck_assert_str_eq(rep.body, "hi");
	ekl_free(rep.body);
	adminproto_reader_close(&r);
}
END_TEST

static Suite *adminproto_suite(void)
{
	Suite *s = suite_create("adminproto");
	TCase *tc;

	tc = tcase_create("limits");
	tcase_add_test(tc, limits_values);
	tcase_add_test(tc, limits_max_value_round_trips);
	tcase_add_test(tc, limits_line_edge);
	suite_add_tcase(s, tc);

	tc = tcase_create("adminproto_request_parse");
	tcase_add_test(tc, request_parse_forms);
	tcase_add_test(tc, request_parse_refusals);
	tcase_add_test(tc, line_check_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("adminproto_request_new");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, request_format);
	tcase_add_test(tc, request_format_oom);
	suite_add_tcase(s, tc);

	tc = tcase_create("adminproto_reply_header");
	tcase_add_test(tc, reply_header_forms);
	suite_add_tcase(s, tc);

	tc = tcase_create("adminproto_reader");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, reader_one_byte_feeds);
	tcase_add_test(tc, reader_need);
	tcase_add_test(tc, reader_many_in_one_feed);
	tcase_add_test(tc, reader_too_big);
	tcase_add_test(tc, reader_bad_headers);
	tcase_add_test(tc, reader_large_body);
	tcase_add_test(tc, reader_oom);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(adminproto_suite());
}
