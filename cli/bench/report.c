/* report.c: the bench's report, as text or JSON, from its figures. */
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"

void bench_report_text(const struct bench_result *b, FILE *f)
{
	int i;

	fprintf(f,
		"ekulab bench: 3 ekunode processes, enforce, mTLS (TLS 1.3) on "
		"loopback, WAL + synchronous=FULL\n\n");
	fprintf(f, "local SQLite reference (same durability)\n");
	fprintf(f, "  single-row commits          %10.0f commits/s\n",
		b->sqlite_commits);
	fprintf(f, "  batched inserts (1000/txn)  %10.0f rows/s\n\n",
		b->sqlite_batched);
	fprintf(f,
		"acknowledged writes/s (each writer keeps one write in "
		"flight, %.0f s each)\n",
		b->seconds);
	fprintf(f, "  %-8s %14s %14s\n", "writers", "--ack primary",
		"--ack all");
	for (i = 0; i < BENCH_WRITER_RUNS; i++)
		fprintf(f, "  %-8d %14.0f %14.0f\n", bench_writer_counts[i],
			b->wps[i][0], b->wps[i][1]);
	fprintf(f,
		"\nreplication latency, commit on primary -> applied on both "
		"peers (--ack all, 16 writers, %ld samples)\n",
		b->lat_count);
	fprintf(f, "  p50 %.3f ms   p99 %.3f ms\n\n", b->lat_p50 / 1000.0,
		b->lat_p99 / 1000.0);
	fprintf(f, "catch-up of a peer that missed %ld changes\n", b->catchup);
	fprintf(f, "  pipelined writes on the primary  %10.0f writes/s\n",
		b->pipelined_wps);
	fprintf(f,
		"  catch-up                         %10.0f changes/s (%.1f s); "
		"%.0f%% of local batched inserts\n\n",
		b->catchup_rate, b->catchup_seconds,
		100.0 * b->catchup_rate / b->sqlite_batched);
	fprintf(f, "memory (RSS)\n");
	for (i = 0; i < BENCH_NODES; i++)
		fprintf(f, "  %-6s idle %6.1f MiB   peak %6.1f MiB\n",
			b->nodes[i].name, b->nodes[i].idle_rss_kib / 1024.0,
			b->nodes[i].peak_rss_kib / 1024.0);
}

int bench_report_json(const struct bench_result *b, FILE *f)
{
	struct json j;
	int i;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "sqlite_commits_per_s");
	json_int(&j, (int64_t)b->sqlite_commits);
	json_key(&j, "sqlite_batched_rows_per_s");
	json_int(&j, (int64_t)b->sqlite_batched);
	json_key(&j, "writes_per_s");
	json_arr_begin(&j);
	for (i = 0; i < BENCH_WRITER_RUNS; i++) {
		json_obj_begin(&j);
		json_key(&j, "writers");
		json_int(&j, bench_writer_counts[i]);
		json_key(&j, "ack_primary");
		json_int(&j, (int64_t)b->wps[i][0]);
		json_key(&j, "ack_all");
		json_int(&j, (int64_t)b->wps[i][1]);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_key(&j, "latency_p50_us");
	json_int(&j, b->lat_p50);
	json_key(&j, "latency_p99_us");
	json_int(&j, b->lat_p99);
	json_key(&j, "catchup_changes");
	json_int(&j, b->catchup);
	json_key(&j, "catchup_per_s");
	json_int(&j, (int64_t)b->catchup_rate);
	json_key(&j, "pipelined_writes_per_s");
	json_int(&j, (int64_t)b->pipelined_wps);
	json_key(&j, "nodes");
	json_arr_begin(&j);
	for (i = 0; i < BENCH_NODES; i++) {
		json_obj_begin(&j);
		json_key(&j, "node");
		json_str(&j, b->nodes[i].name);
		json_key(&j, "idle_rss_kib");
		json_int(&j, b->nodes[i].idle_rss_kib);
		json_key(&j, "peak_rss_kib");
		json_int(&j, b->nodes[i].peak_rss_kib);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	if (json_finish(&j) == NULL) {
		json_close(&j);
		return EKL_ENOMEM;
	}
	fprintf(f, "%s\n", json_finish(&j));
	json_close(&j);
	return 0;
}
