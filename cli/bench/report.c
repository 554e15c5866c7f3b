/* report.c: the bench's report, as text or JSON, from its figures. Three
 * shapes: the default run, the snapshot run (--snapshot-rows) and the lab
 * timings (--lab). Every rate of the default run also appears as a ratio
 * to local SQLite in the same run. */
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"

/* a / b, or 0 when b is not positive. */
static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* A ratio as JSON: a number with three decimals. */
static void json_ratio(struct json *j, const char *key, double v)
{
	json_key(j, key);
	json_fixed(j, v, 3);
}

/* CPU per write of the writer runs, when they were measured. */
static void text_cpu(const struct bench_result *b, FILE *f)
{
	int i, a;

	if (b->cpu_us[0][0][0] <= 0)
		return;
	fprintf(f, "\nCPU per acknowledged write, us (the primary + both "
		   "peers; all their threads)\n");
	fprintf(f, "  %-8s %21s %21s\n", "writers", "--ack primary",
		"--ack all");
	for (i = 0; i < BENCH_WRITER_RUNS; i++) {
		fprintf(f, "  %-8d", bench_writer_counts[i]);
		for (a = 0; a < 2; a++)
			fprintf(f, "       %6.1f + %6.1f", b->cpu_us[i][a][0],
				b->cpu_us[i][a][1]);
		fputc('\n', f);
	}
}

static void json_cpu(struct json *j, const char *key, const double cpu[2])
{
	if (cpu[0] <= 0)
		return;
	json_key(j, key);
	json_obj_begin(j);
	json_key(j, "primary");
	json_fixed(j, cpu[0], 1);
	json_key(j, "peers");
	json_fixed(j, cpu[1], 1);
	json_obj_end(j);
}

static void text_floors(const struct bench_result *b, FILE *f)
{
	fprintf(f,
		"floors on this machine (medians)\n"
		"  one fdatasync (4 KiB overwrite)      %8.0f us\n"
		"  one round trip, loopback TCP         %8.1f us\n"
		"  one round trip, Unix socket          %8.1f us\n\n",
		b->floors.fdatasync_us, b->floors.tcp_rtt_us,
		b->floors.unix_rtt_us);
}

static void text_nodes(const struct bench_result *b, FILE *f, bool snap)
{
	int i;

	fprintf(f, "memory (RSS)\n");
	for (i = 0; i < BENCH_NODES; i++)
		fprintf(f, "  %-6s idle %6.1f MiB   peak %6.1f MiB\n",
			b->nodes[i].name, b->nodes[i].idle_rss_kib / 1024.0,
			(snap ? b->nodes[i].snap_peak_rss_kib
			      : b->nodes[i].peak_rss_kib) /
			    1024.0);
}

static void text_lab(const struct bench_result *b, FILE *f)
{
	static const char *const names[2] = {"processes", "containers"};
	int i;

	fprintf(f, "lab up of %d nodes, until every link is up\n",
		BENCH_LAB_NODES);
	for (i = 0; i < 2; i++) {
		if (b->lab_up_s[i] >= 0)
			fprintf(f, "  %-10s %6.2f s\n", names[i],
				b->lab_up_s[i]);
		else
			fprintf(f, "  %-10s failed: %s\n", names[i],
				b->lab_err[i]);
	}
}

static void text_snapshot(const struct bench_result *b, FILE *f)
{
	fprintf(f,
		"ekulab bench: 3 ekunode processes, enforce, mTLS (TLS 1.3) on "
		"loopback, WAL + synchronous=FULL\n\n");
	text_floors(b, f);
	fprintf(f,
		"snapshot catch-up of a peer that missed %ld rows of %d "
		"bytes\n",
		b->snapshot_rows, b->value_bytes);
	fprintf(f, "  writing them on the primary      %10.1f s\n",
		b->snap_write_seconds);
	fprintf(f,
		"  snapshot into the peer           %10.0f rows/s (%.1f s); "
		"%.0f%% of local batched inserts (%.0f rows/s)\n\n",
		b->snap_rate, b->snap_seconds,
		100.0 * ratio(b->snap_rate, b->snap_sqlite), b->snap_sqlite);
	text_nodes(b, f, true);
}

void bench_report_text(const struct bench_result *b, FILE *f)
{
	int i;

	if (b->lab) {
		text_lab(b, f);
		return;
	}
	if (b->snapshot_rows > 0) {
		text_snapshot(b, f);
		return;
	}
	fprintf(f,
		"ekulab bench: 3 ekunode processes, enforce, mTLS (TLS 1.3) on "
		"loopback, WAL + synchronous=FULL\n\n");
	text_floors(b, f);
	fprintf(f, "local SQLite reference (same durability)\n");
	fprintf(f, "  single-row commits          %10.0f commits/s\n",
		b->sqlite_commits);
	fprintf(f, "  batched inserts (1000/txn)  %10.0f rows/s\n\n",
		b->sqlite_batched);
	fprintf(f,
		"acknowledged writes/s (each writer keeps one write in "
		"flight, %.0f s each; x = vs local single-row commits)\n",
		b->seconds);
	fprintf(f, "  %-8s %21s %21s\n", "writers", "--ack primary",
		"--ack all");
	for (i = 0; i < BENCH_WRITER_RUNS; i++)
		fprintf(f, "  %-8d %12.0f (%5.2fx) %12.0f (%5.2fx)\n",
			bench_writer_counts[i], b->wps[i][0],
			ratio(b->wps[i][0], b->sqlite_commits), b->wps[i][1],
			ratio(b->wps[i][1], b->sqlite_commits));
	text_cpu(b, f);
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
		100.0 * ratio(b->catchup_rate, b->sqlite_batched));
	text_nodes(b, f, false);
}

static void json_floors(const struct bench_result *b, struct json *j)
{
	json_key(j, "floors");
	json_obj_begin(j);
	json_key(j, "fdatasync_us");
	json_int(j, (int64_t)b->floors.fdatasync_us);
	json_key(j, "loopback_rtt_us");
	json_fixed(j, b->floors.tcp_rtt_us, 1);
	json_key(j, "unix_rtt_us");
	json_fixed(j, b->floors.unix_rtt_us, 1);
	json_obj_end(j);
}

static void json_nodes(const struct bench_result *b, struct json *j, bool snap)
{
	int i;

	json_key(j, "nodes");
	json_arr_begin(j);
	for (i = 0; i < BENCH_NODES; i++) {
		json_obj_begin(j);
		json_key(j, "node");
		json_str(j, b->nodes[i].name);
		json_key(j, "idle_rss_kib");
		json_int(j, b->nodes[i].idle_rss_kib);
		json_key(j, "peak_rss_kib");
		json_int(j, snap ? b->nodes[i].snap_peak_rss_kib
				 : b->nodes[i].peak_rss_kib);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static void json_lab(const struct bench_result *b, struct json *j)
{
	static const char *const keys[2][2] = {
	    {"lab_up_process_s", "lab_up_process_error"},
	    {"lab_up_docker_s", "lab_up_docker_error"}};
	int i;

	json_key(j, "lab_nodes");
	json_int(j, BENCH_LAB_NODES);
	for (i = 0; i < 2; i++) {
		json_key(j, keys[i][0]);
		if (b->lab_up_s[i] >= 0)
			json_fixed(j, b->lab_up_s[i], 3);
		else
			json_null(j);
		json_key(j, keys[i][1]);
		json_str(j, b->lab_up_s[i] >= 0 ? NULL : b->lab_err[i]);
	}
}

static void json_snapshot(const struct bench_result *b, struct json *j)
{
	json_floors(b, j);
	json_key(j, "snapshot_rows");
	json_int(j, b->snapshot_rows);
	json_key(j, "value_bytes");
	json_int(j, b->value_bytes);
	json_key(j, "snapshot_write_s");
	json_fixed(j, b->snap_write_seconds, 3);
	json_key(j, "snapshot_s");
	json_fixed(j, b->snap_seconds, 3);
	json_key(j, "snapshot_rows_per_s");
	json_int(j, (int64_t)b->snap_rate);
	json_key(j, "sqlite_batched_rows_per_s");
	json_int(j, (int64_t)b->snap_sqlite);
	json_ratio(j, "snapshot_vs_sqlite_batched",
		   ratio(b->snap_rate, b->snap_sqlite));
	json_nodes(b, j, true);
}

static void json_default(const struct bench_result *b, struct json *j)
{
	int i;

	json_key(j, "sqlite_commits_per_s");
	json_int(j, (int64_t)b->sqlite_commits);
	json_key(j, "sqlite_batched_rows_per_s");
	json_int(j, (int64_t)b->sqlite_batched);
	json_key(j, "writes_per_s");
	json_arr_begin(j);
	for (i = 0; i < BENCH_WRITER_RUNS; i++) {
		json_obj_begin(j);
		json_key(j, "writers");
		json_int(j, bench_writer_counts[i]);
		json_key(j, "ack_primary");
		json_int(j, (int64_t)b->wps[i][0]);
		json_key(j, "ack_all");
		json_int(j, (int64_t)b->wps[i][1]);
		json_ratio(j, "ack_primary_vs_sqlite",
			   ratio(b->wps[i][0], b->sqlite_commits));
		json_ratio(j, "ack_all_vs_sqlite",
			   ratio(b->wps[i][1], b->sqlite_commits));
		json_cpu(j, "ack_primary_cpu_us", b->cpu_us[i][0]);
		json_cpu(j, "ack_all_cpu_us", b->cpu_us[i][1]);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "latency_p50_us");
	json_int(j, b->lat_p50);
	json_key(j, "latency_p99_us");
	json_int(j, b->lat_p99);
	json_key(j, "catchup_changes");
	json_int(j, b->catchup);
	json_key(j, "catchup_per_s");
	json_int(j, (int64_t)b->catchup_rate);
	json_ratio(j, "catchup_vs_sqlite_batched",
		   ratio(b->catchup_rate, b->sqlite_batched));
	json_key(j, "pipelined_writes_per_s");
	json_int(j, (int64_t)b->pipelined_wps);
	json_floors(b, j);
	json_nodes(b, j, false);
}

int bench_report_json(const struct bench_result *b, FILE *f)
{
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	if (b->lab)
		json_lab(b, &j);
	else if (b->snapshot_rows > 0)
		json_snapshot(b, &j);
	else
		json_default(b, &j);
	json_obj_end(&j);
	if (json_finish(&j) == NULL) {
		json_close(&j);
		return EKL_ENOMEM;
	}
	fprintf(f, "%s\n", json_finish(&j));
	json_close(&j);
	return 0;
}
