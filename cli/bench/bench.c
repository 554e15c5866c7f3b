/* bench.c: `ekulab bench`'s driver: a 3-node lab of its own, the phases
 * in order, the figures into a report.
 *
 * The happy path: make the lab (lab_tmpdir()/ekulab-bench.XXXXXX) on the
 * process runtime with the peers dialling each other directly (no proxy
 * in the path), the node defaults for timers, a log that keeps every
 * change of the catch-up phase and a long --ack all timeout; wait until
 * the primary replicates to both peers; idle RSS; local SQLite; the six
 * writer runs; the catch-up; peak RSS; the report; take the lab down.
 *
 * The failure modes: the lab does not come up, a writer run fails, the
 * peer does not catch up in time: the run stops there (1, err) and the
 * lab's state directory is kept for its logs.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "bench_int.h"
#include "client/node_status.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "lab/lab_interrupt.h"
#include "lab/lab_runtime.h"

const int bench_writer_counts[BENCH_WRITER_RUNS] = {1, 16, 64};

double bench_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

long bench_rss_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, strlen(field)) == 0)
			v = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return v;
}

long long bench_cpu_ns(pid_t pid)
{
	char path[64], tpath[64 + 32 + 256];
	long long sum = 0, ns;
	struct dirent *e;
	DIR *d;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(tpath, sizeof(tpath), "%s/%s/schedstat", path,
			 e->d_name);
		f = fopen(tpath, "r");
		if (f == NULL)
			continue; /* the thread ended meanwhile */
		if (fscanf(f, "%lld", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

/* The CPU each node used, nanoseconds (-1 unknown). */
static void nodes_cpu(struct bench *b, long long ns[NODES])
{
	int i;

	for (i = 0; i < NODES; i++)
		ns[i] = bench_cpu_ns(b->lab.nodes[i].pid);
}

/* One writer run of phases(): writes/s, and the CPU per write of the
 * primary and of the peers together into cpu[2]. */
static double writer_run(struct bench *b, int writers, bool ack_all,
			 double cpu[2], char *err)
{
	long long before[NODES], after[NODES];
	long writes = 0;
	double wps;
	int i;

	nodes_cpu(b, before);
	wps = bench_run_writers(b, writers, ack_all, &writes, err);
	nodes_cpu(b, after);
	cpu[0] = cpu[1] = 0;
	for (i = 0; i < NODES; i++) {
		if (before[i] < 0 || after[i] < 0 || writes <= 0) {
			cpu[0] = cpu[1] = -1;
			break;
		}
		cpu[i == 0 ? 0 : 1] +=
		    (double)(after[i] - before[i]) / 1000.0 / (double)writes;
	}
	return wps;
}

/* The cluster: node1 (primary), node2, ..., X15.3.2 Expressway-C, verify
 * enforce, combined certificates from the unrestricted issuing CA. */
int bench_make_topo(struct topo *t, int nodes, char *err)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	t->nodes = ekl_calloc((size_t)nodes, sizeof(*t->nodes));
	if (t->nodes == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	snprintf(t->name, sizeof(t->name), "bench");
	t->verify = POL_ENFORCE;
	t->dial = TOPO_DIAL_BOTH;
	t->n_nodes = (size_t)nodes;
	for (i = 0; i < (size_t)nodes; i++) {
		struct topo_node *n = &t->nodes[i];

		snprintf(n->name, sizeof(n->name), "node%zu", i + 1);
		snprintf(n->version, sizeof(n->version), "X15.3.2");
		(void)pol_version_parse(n->version, &n->vclass);
		n->role = TOPO_ROLE_C;
		n->cert.profile = PKI_PROFILE_COMBINED;
		n->cert.ca = PKI_CA_UNRESTRICTED;
		n->client_eku_check = true;
	}
	snprintf(t->primary, sizeof(t->primary), "%s", t->nodes[0].name);
	return 0;
}

static int setup(struct bench *b, char *err)
{
	char dir[LAB_PATH_MAX];
	int i, rv;

	if ((rv = bench_make_topo(&b->topo, NODES, err)) != 0)
		return rv;
	snprintf(dir, sizeof(dir), "%s/ekulab-bench.XXXXXX", lab_tmpdir());
	if (mkdtemp(dir) == NULL)
		return ekl_errf(err, EKL_EIO, "mkdtemp %s: %s", dir,
				strerror(errno));
	snprintf(b->dir, sizeof(b->dir), "%s", dir);
	if ((rv = lab_open_topo(&b->lab, &b->topo, "bench", b->dir, err)) != 0)
		return rv;
	b->lab.tune.direct = true;
	b->lab.tune.heartbeat_ms = 0; /* the node's defaults */
	b->lab.tune.dead_ms = 0;
	b->lab.tune.backoff_max_ms = 0;
	/* Every change of the catch-up stays in the log; for the snapshot
	 * run, a tenth of the rows at most (see BENCH_SNAP_LOG_KEEP). */
	b->lab.tune.log_keep = 4000000;
	if (b->snapshot_rows > 0) {
		long keep = b->snapshot_rows / 10;

		b->lab.tune.log_keep = keep < 100 ? 100
				       : keep > BENCH_SNAP_LOG_KEEP
					   ? BENCH_SNAP_LOG_KEEP
					   : keep;
	}
	b->lab.tune.ack_timeout_ms = 30000;
	if ((rv = lab_prepare(&b->lab, "process", err)) != 0)
		return rv;
	b->up = true;
	for (i = 0; i < NODES; i++) {
		struct bnode *nd = &b->n[i];

		snprintf(nd->name, sizeof(nd->name), "%.15s",
			 b->lab.nodes[i].name);
		lab_path(&b->lab, nd->name, "admin.sock", nd->sock,
			 sizeof(nd->sock));
	}
	if ((rv = lab_start_all(&b->lab, err)) != 0)
		return rv;
	if (bench_wait_ready(b, 30) != 0)
		return ekl_errf(err, EKL_EIO,
				"the cluster did not come up in 30 s (logs in "
				"%s)",
				b->dir);
	return 0;
}

/* Stop the lab; remove its state unless keep (a failure to says so in
 * err, unless err holds an error already). Says whether it is kept. */
static bool teardown(struct bench *b, bool keep, char *err)
{
	char rmerr[EKL_ERRLEN];
	bool kept = b->dir[0] != '\0';

	if (b->up)
		lab_stop_all(&b->lab);
	if (!keep && b->dir[0] != '\0') {
		if (lab_remove_dir(b->dir, rmerr) == 0)
			kept = false;
		else if (err[0] == '\0')
			ekl_errf(err, EKL_EIO, "%s", rmerr);
	}
	if (b->lab.nodes != NULL)
		lab_close(&b->lab);
	topo_free(&b->topo);
	return kept;
}

static void result_of(const struct bench *b, struct bench_result *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->seconds = b->seconds;
	r->sqlite_commits = b->sqlite_commits;
	r->sqlite_batched = b->sqlite_batched;
	memcpy(r->wps, b->wps, sizeof(r->wps));
	memcpy(r->cpu_us, b->cpu_us, sizeof(r->cpu_us));
	r->lat_count = b->lat_count;
	r->lat_p50 = b->lat_p50;
	r->lat_p99 = b->lat_p99;
	r->catchup = b->catchup;
	r->pipelined_wps = b->pipelined_wps;
	r->catchup_rate = b->catchup_rate;
	r->catchup_seconds = b->catchup_seconds;
	for (i = 0; i < NODES; i++) {
		snprintf(r->nodes[i].name, sizeof(r->nodes[i].name), "%s",
			 b->n[i].name);
		r->nodes[i].idle_rss_kib = b->n[i].idle_rss_kb;
		r->nodes[i].peak_rss_kib = b->n[i].peak_rss_kb;
		r->nodes[i].snap_peak_rss_kib = b->n[i].snap_peak_rss_kb;
	}
	r->floors.fdatasync_us = b->fdatasync_us;
	r->floors.tcp_rtt_us = b->tcp_rtt_us;
	r->floors.unix_rtt_us = b->unix_rtt_us;
	r->snapshot_rows = b->snapshot_rows;
	r->value_bytes = b->value_bytes;
	r->snap_rate = b->snap_rate;
	r->snap_seconds = b->snap_seconds;
	r->snap_write_seconds = b->snap_write_seconds;
	r->snap_sqlite = b->snap_sqlite;
	memcpy(r->lab_up_s, b->lab_up_s, sizeof(r->lab_up_s));
	memcpy(r->lab_err, b->lab_err, sizeof(r->lab_err));
}

static int report(const struct bench *b, const struct bench_opts *o, char *err)
{
	struct bench_result res;

	result_of(b, &res);
	res.lab = o->lab;
	if (o->json) {
		if (bench_report_json(&res, o->out) != 0)
			return ekl_errf(err, EKL_ENOMEM, "out of memory");
	} else {
		bench_report_text(&res, o->out);
	}
	return 0;
}

/* The snapshot run: its own lab (a short log), the floors, idle RSS, the
 * snapshot catch-up and its local SQLite reference. */
static int snapshot_phases(struct bench *b, const struct bench_opts *o,
			   char *err)
{
	int i;

	if (setup(b, err) != 0)
		return 1;
	usleep(300000);
	for (i = 0; i < NODES; i++)
		b->n[i].idle_rss_kb =
		    bench_rss_kb(b->lab.nodes[i].pid, "VmRSS:");
	fprintf(o->progress, "ekulab bench: floors (fdatasync, round "
			     "trips)...\n");
	bench_floors(b);
	fprintf(o->progress,
		"ekulab bench: snapshot of %ld rows of %d bytes...\n",
		b->snapshot_rows, b->value_bytes);
	if (bench_snapshot(b, err) != 0)
		return 1;
	return report(b, o, err) != 0;
}

/* Only the writer runs, against a running primary. */
static int writers_only(struct bench *b, const struct bench_opts *o, char *err)
{
	struct node_latency lat;
	long writes;
	int w, a;

	snprintf(b->n[0].sock, sizeof(b->n[0].sock), "%s", o->writers_only);
	for (w = 0; w < 3; w++)
		for (a = 0; a < 2; a++) {
			memset(&lat, 0, sizeof(lat));
			bench_latency(b->n[0].sock, true, &lat);
			b->wps[w][a] = bench_run_writers(
			    b, bench_writer_counts[w], a == 1, &writes, err);
			bench_latency(b->n[0].sock, false, &lat);
			fprintf(o->out,
				"%2d writers --ack %-7s %8.0f writes/s  "
				"count %lld p50_us %lld p99_us %lld "
				"max_us %lld groups %lld writes %lld\n",
				bench_writer_counts[w], a ? "all" : "primary",
				b->wps[w][a], (long long)lat.count,
				(long long)lat.p50_us, (long long)lat.p99_us,
				(long long)lat.max_us, (long long)lat.groups,
				(long long)lat.writes);
		}
	err[0] = '\0'; /* a failed run shows as -1 writes/s */
	return 0;
}

static int phases(struct bench *b, const struct bench_opts *o, char *err)
{
	struct node_latency lat;
	int i, w, a;

	if (setup(b, err) != 0)
		return 1;
	if (!lab_sleep(0.3))
		return 1;
	for (i = 0; i < NODES; i++)
		b->n[i].idle_rss_kb =
		    bench_rss_kb(b->lab.nodes[i].pid, "VmRSS:");
	fprintf(o->progress, "ekulab bench: floors (fdatasync, round "
			     "trips)...\n");
	bench_floors(b);
	fprintf(o->progress, "ekulab bench: local SQLite reference...\n");
	if (bench_sqlite_reference(b, err) != 0)
		return 1;
	for (w = 0; w < 3; w++)
		for (a = 0; a < 2; a++) {
			fprintf(o->progress,
				"ekulab bench: %d writers, --ack %s...\n",
				bench_writer_counts[w], a ? "all" : "primary");
			if (a == 1 && w == 1)
				bench_latency(b->n[0].sock, true, &lat);
			b->wps[w][a] = writer_run(b, bench_writer_counts[w],
						  a == 1, b->cpu_us[w][a], err);
			if (b->wps[w][a] < 0)
				return 1;
			if (a == 1 && w == 1 &&
			    bench_latency(b->n[0].sock, false, &lat) == 0) {
				b->lat_count = (long)lat.count;
				b->lat_p50 = (long)lat.p50_us;
				b->lat_p99 = (long)lat.p99_us;
			}
		}
	fprintf(o->progress, "ekulab bench: catch-up of %ld changes...\n",
		b->catchup);
	if (bench_catchup(b, err) != 0)
		return 1;
	for (i = 0; i < NODES; i++)
		b->n[i].peak_rss_kb =
		    bench_rss_kb(b->lab.nodes[i].pid, "VmHWM:");
	return report(b, o, err) != 0;
}

int bench_run(const struct bench_opts *o, char *kept, size_t kept_len,
	      char *err)
{
	struct bench *b = ekl_calloc(1, sizeof(*b));
	int rv;

	kept[0] = '\0';
	err[0] = '\0';
	if (b == NULL) {
		ekl_errf(err, EKL_ENOMEM, "out of memory");
		return 1;
	}
	b->seconds = o->seconds;
	b->catchup = o->catchup;
	b->snapshot_rows = o->snapshot_rows;
	b->value_bytes = o->value_bytes;
	if (o->writers_only != NULL) {
		rv = writers_only(b, o, err);
		ekl_free(b);
		return rv;
	}
	if (o->lab) {
		bench_lab(b, o->progress);
		rv = report(b, o, err) != 0;
		ekl_free(b);
		return rv;
	}
	rv = o->snapshot_rows > 0 ? snapshot_phases(b, o, err)
				  : phases(b, o, err);
	if (rv == 0)
		err[0] = '\0'; /* what callees wrote while they retried */
	if (lab_interrupted()) {
		/* Ctrl-C or SIGTERM: stop and remove everything. */
		ekl_errf(err, EKL_EINTR,
			 "interrupted by %s: stopped the bench's %d nodes and "
			 "removed %s",
			 lab_interrupt_name(), NODES, b->dir);
		rv = 1;
	}
	if (teardown(b, !lab_interrupted() && (o->keep || rv != 0), err))
		snprintf(kept, kept_len, "%s", b->dir);
	ekl_free(b);
	return rv;
}
