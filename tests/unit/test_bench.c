/* test_bench.c: the bench's reports (cli/bench/report.c) from a struct
 * bench_result: the JSON keys scripts rely on, and the text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "testutil.h"

static struct bench_result sample(void)
{
	struct bench_result r;
	int i;

	memset(&r, 0, sizeof(r));
	r.seconds = 3;
	r.sqlite_commits = 1234.7;
	r.sqlite_batched = 200000;
	for (i = 0; i < BENCH_WRITER_RUNS; i++) {
		r.wps[i][0] = 1000.0 * (i + 1);
		r.wps[i][1] = 500.0 * (i + 1);
	}
	r.lat_count = 99;
	r.lat_p50 = 1500;
	r.lat_p99 = 4200;
	r.catchup = 1000000;
	r.pipelined_wps = 50000;
	r.catchup_rate = 100000;
	r.catchup_seconds = 10;
	for (i = 0; i < BENCH_NODES; i++) {
		snprintf(r.nodes[i].name, sizeof(r.nodes[i].name), "node%d",
			 i + 1);
		r.nodes[i].idle_rss_kib = 2048 * (i + 1);
		r.nodes[i].peak_rss_kib = 4096 * (i + 1);
	}
	return r;
}

static char *report(const struct bench_result *r, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	if (json)
		ck_assert_int_eq(bench_report_json(r, f), 0);
	else
		bench_report_text(r, f);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

START_TEST(test_json_keys)
{
	struct bench_result r = sample();
	char *s = report(&r, true);

	ck_assert_ptr_nonnull(
	    strstr(s, "{\"sqlite_commits_per_s\":1234,"
		      "\"sqlite_batched_rows_per_s\":200000,\"writes_per_s\":["
		      "{\"writers\":1,\"ack_primary\":1000,\"ack_all\":500},"
		      "{\"writers\":16,\"ack_primary\":2000,\"ack_all\":1000},"
		      "{\"writers\":64,\"ack_primary\":3000,\"ack_all\":1500}],"
		      "\"latency_p50_us\":1500,\"latency_p99_us\":4200,"
		      "\"catchup_changes\":1000000,\"catchup_per_s\":100000,"
		      "\"pipelined_writes_per_s\":50000,\"nodes\":["
		      "{\"node\":\"node1\",\"idle_rss_kib\":2048,"
		      "\"peak_rss_kib\":4096},"));
	ck_assert_ptr_nonnull(strstr(s, "{\"node\":\"node3\",\"idle_rss_kib\":"
					"6144,\"peak_rss_kib\":12288}]}\n"));
	free(s);
}
END_TEST

START_TEST(test_text)
{
	struct bench_result r = sample();
	char *s = report(&r, false);

	ck_assert_ptr_nonnull(strstr(s, "ekulab bench: 3 ekunode processes"));
	ck_assert_ptr_nonnull(strstr(s, "one write in flight, 3 s each)"));
	ck_assert_ptr_nonnull(strstr(s, "  64                 3000"));
	ck_assert_ptr_nonnull(strstr(s, "16 writers, 99 samples)"));
	ck_assert_ptr_nonnull(strstr(s, "  p50 1.500 ms   p99 4.200 ms"));
	ck_assert_ptr_nonnull(strstr(s, "(10.0 s); 50% of local batched"));
	ck_assert_ptr_nonnull(
	    strstr(s, "  node2  idle    4.0 MiB   peak    8.0 MiB\n"));
	free(s);
}
END_TEST

static Suite *bench_suite(void)
{
	Suite *s = suite_create("bench");
	TCase *tc;

	tc = tcase_create("bench_report_json");
	tcase_add_test(tc, test_json_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("bench_report_text");
	tcase_add_test(tc, test_text);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(bench_suite());
}
