/* test_bench.c: the bench's reports (cli/bench/report.c) from a struct
 * bench_result: the JSON keys scripts rely on, and the text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/bench_int.h"
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
	r.floors.fdatasync_us = 180.4;
	r.floors.tcp_rtt_us = 25.5;
	r.floors.unix_rtt_us = 12;
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

	/* Every key of the first round stays, each rate with its ratio to
	 * local SQLite in the same run beside it. */
	ck_assert_ptr_nonnull(strstr(
	    s, "{\"sqlite_commits_per_s\":1234,"
	       "\"sqlite_batched_rows_per_s\":200000,\"writes_per_s\":["
	       "{\"writers\":1,\"ack_primary\":1000,\"ack_all\":500,"
	       "\"ack_primary_vs_sqlite\":0.810,\"ack_all_vs_sqlite\":0.405},"
	       "{\"writers\":16,\"ack_primary\":2000,\"ack_all\":1000,"
	       "\"ack_primary_vs_sqlite\":1.620,\"ack_all_vs_sqlite\":0.810},"
	       "{\"writers\":64,\"ack_primary\":3000,\"ack_all\":1500,"
	       "\"ack_primary_vs_sqlite\":2.430,\"ack_all_vs_sqlite\":1.215}],"
	       "\"latency_p50_us\":1500,\"latency_p99_us\":4200,"
	       "\"catchup_changes\":1000000,\"catchup_per_s\":100000,"
	       "\"catchup_vs_sqlite_batched\":0.500,"
	       "\"pipelined_writes_per_s\":50000,"
	       "\"floors\":{\"fdatasync_us\":180,\"loopback_rtt_us\":25.5,"
	       "\"unix_rtt_us\":12.0},\"nodes\":["
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
	ck_assert_ptr_nonnull(strstr(s, "one write in flight, 3 s each;"));
	ck_assert_ptr_nonnull(strstr(
	    s, "  64               3000 ( 2.43x)         1500 ( 1.21x)"));
	ck_assert_ptr_nonnull(strstr(s, "16 writers, 99 samples)"));
	ck_assert_ptr_nonnull(strstr(s, "  p50 1.500 ms   p99 4.200 ms"));
	ck_assert_ptr_nonnull(strstr(s, "(10.0 s); 50% of local batched"));
	ck_assert_ptr_nonnull(strstr(s, "one fdatasync (4 KiB overwrite)"
					"           180 us"));
	ck_assert_ptr_nonnull(
	    strstr(s, "  node2  idle    4.0 MiB   peak    8.0 MiB\n"));
	free(s);
}
END_TEST

/* CPU per write: beside each rate in JSON, the primary's and the peers'
 * microseconds; a table of them in the text; neither when not measured
 * (test_json_keys). */
START_TEST(test_cpu_per_write)
{
	struct bench_result r = sample();
	char *s;
	int i;

	for (i = 0; i < BENCH_WRITER_RUNS; i++) {
		r.cpu_us[i][0][0] = 40.0 / (i + 1);
		r.cpu_us[i][0][1] = 20.25 / (i + 1);
		r.cpu_us[i][1][0] = 60.0 / (i + 1);
		r.cpu_us[i][1][1] = 80.0 / (i + 1);
	}
	s = report(&r, true);
	ck_assert_ptr_nonnull(
	    strstr(s, "{\"writers\":1,\"ack_primary\":1000,\"ack_all\":500,"
		      "\"ack_primary_vs_sqlite\":0.810,\"ack_all_vs_sqlite\":"
		      "0.405,\"ack_primary_cpu_us\":{\"primary\":40.0,"
		      "\"peers\":20.2},\"ack_all_cpu_us\":{\"primary\":60.0,"
		      "\"peers\":80.0}}"));
	free(s);
	s = report(&r, false);
	ck_assert_ptr_nonnull(strstr(s, "CPU per acknowledged write, us"));
	ck_assert_ptr_nonnull(
	    strstr(s, "  16"
		      "               20.0 +   10.1         30.0 +   40.0\n"));
	free(s);
}
END_TEST

/* bench_cpu_ns sums every thread of a process and grows as it runs. A
 * process that has not yet been switched out or ticked reads 0 (the
 * kernel updates schedstat then): check's fresh child for this test,
 * under load. */
START_TEST(test_cpu_ns)
{
	long long a = bench_cpu_ns(getpid()), b;
	volatile unsigned long x = 0;
	unsigned long i;

	ck_assert_int_ge(a, 0);
	for (i = 0; i < 50000000UL; i++)
		x += i;
	ck_assert_uint_eq(x, 50000000UL / 2 * (50000000UL - 1));
	b = bench_cpu_ns(getpid());
	ck_assert_int_gt(b, a);
	ck_assert_int_eq(bench_cpu_ns(-1), -1);
}
END_TEST

/* --snapshot-rows: its own figures, the peak RSS during the snapshot. */
START_TEST(test_snapshot_report)
{
	struct bench_result r = sample();
	char *s;
	int i;

	r.snapshot_rows = 1000000;
	r.value_bytes = 2048;
	r.snap_rate = 60000;
	r.snap_seconds = 16.5;
	r.snap_write_seconds = 40;
	r.snap_sqlite = 100000;
	for (i = 0; i < BENCH_NODES; i++)
		r.nodes[i].snap_peak_rss_kib = 30720;
	s = report(&r, true);
	ck_assert_ptr_nonnull(
	    strstr(s, "\"snapshot_rows\":1000000,\"value_bytes\":2048,"
		      "\"snapshot_write_s\":40.000,\"snapshot_s\":16.500,"
		      "\"snapshot_rows_per_s\":60000,"
		      "\"sqlite_batched_rows_per_s\":100000,"
		      "\"snapshot_vs_sqlite_batched\":0.600,\"nodes\":["
		      "{\"node\":\"node1\",\"idle_rss_kib\":2048,"
		      "\"peak_rss_kib\":30720}"));
	ck_assert_ptr_null(strstr(s, "writes_per_s"));
	free(s);
	s = report(&r, false);
	ck_assert_ptr_nonnull(strstr(s, "missed 1000000 rows of 2048 bytes"));
	ck_assert_ptr_nonnull(strstr(s, "60000 rows/s (16.5 s); 60% of local"));
	ck_assert_ptr_nonnull(
	    strstr(s, "  node3  idle    6.0 MiB   peak   30.0 MiB\n"));
	free(s);
}
END_TEST

/* --lab: both runtimes, a failed one as null with its reason. */
START_TEST(test_lab_report)
{
	struct bench_result r = sample();
	char *s;

	r.lab = true;
	r.lab_up_s[0] = 0.8123;
	r.lab_up_s[1] = -1;
	snprintf(r.lab_err[1], sizeof(r.lab_err[1]), "no Docker engine");
	s = report(&r, true);
	ck_assert_str_eq(s, "{\"lab_nodes\":6,\"lab_up_process_s\":0.812,"
			    "\"lab_up_process_error\":null,"
			    "\"lab_up_docker_s\":null,"
			    "\"lab_up_docker_error\":\"no Docker engine\"}\n");
	free(s);
	s = report(&r, false);
	ck_assert_ptr_nonnull(strstr(s, "  processes    0.81 s\n"));
	ck_assert_ptr_nonnull(
	    strstr(s, "  containers failed: no Docker engine\n"));
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
	tcase_add_test(tc, test_cpu_per_write);
	tcase_add_test(tc, test_cpu_ns);
	suite_add_tcase(s, tc);

	tc = tcase_create("bench_report_snapshot");
	tcase_add_test(tc, test_snapshot_report);
	suite_add_tcase(s, tc);

	tc = tcase_create("bench_report_lab");
	tcase_add_test(tc, test_lab_report);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(bench_suite());
}
