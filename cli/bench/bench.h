/* bench.h: `ekulab bench`: replication throughput, latency, catch-up and
 * memory of a real 3-node enforce cluster on loopback (a lab on the
 * process runtime, peers dialling each other directly), side by side with
 * local SQLite at the same durability settings.
 *
 * Figures, all from one run (these machines are noisy: compare within a
 * run, not across runs):
 *   - local SQLite: single-row commits/s and batched inserts rows/s
 *     (WAL, synchronous=FULL: what a node does per group commit);
 *   - acknowledged writes/s with 1, 16 and 64 concurrent writers (each
 *     writer has one write in flight), for --ack primary and --ack all;
 *   - p50/p99 latency from commit on the primary to applied (durably) on
 *     every peer, measured by the primary for --ack all writes;
 *   - catch-up rate of a peer that missed N changes (default 1 000 000);
 *   - idle and peak RSS of each node;
 *   - the floors: one fdatasync, one loopback and one Unix-socket round
 *     trip.
 * --snapshot-rows N runs the snapshot catch-up instead (snapshot.c), --lab
 * the `lab up` timings (labup.c).
 */
#ifndef EKULAB_CLI_BENCH_H
#define EKULAB_CLI_BENCH_H

#include <stdbool.h>
#include <stdio.h>

#define BENCH_NODES	  3
#define BENCH_WRITER_RUNS 3
#define BENCH_LAB_NODES	  6 /* --lab: nodes of the lab timed */
/* --snapshot-rows N: the change log the nodes keep is N / 10 entries
 * (at least 100, at most this), so that the stopped peer gets a snapshot
 * while the streaming one (which may lag by ten times that) does not */
#define BENCH_SNAP_LOG_KEEP 20000

/* Concurrent writers of each writer run: 1, 16, 64. */
extern const int bench_writer_counts[BENCH_WRITER_RUNS];

struct bench_opts {
	double seconds; /* per writer run (0.2-600) */
	long catchup;	/* changes the stopped peer misses */
	bool keep;	/* keep the lab's state directory and logs */
	bool json;	/* the report as JSON */
	/* Only the writer runs, against the running primary that serves
	 * this admin socket; one line per run to out. NULL: the whole
	 * benchmark on a lab of its own. */
	const char *writers_only;
	/* The snapshot catch-up instead of the default run: a peer misses
	 * snapshot_rows rows of value_bytes each and gets them as a
	 * snapshot. 0: the default run. */
	long snapshot_rows;
	int value_bytes;
	/* Only the `lab up` timings (6 nodes, processes and containers). */
	bool lab;
	FILE *out;	/* the report */
	FILE *progress; /* "ekulab bench: ..." as each phase starts */
};

struct bench_node_result {
	char name[16];
	long idle_rss_kib;
	long peak_rss_kib;
	long snap_peak_rss_kib; /* VmHWM at the end of the snapshot */
};

/* What this machine cannot go below (floors.c), microseconds. */
struct bench_floors {
	double fdatasync_us; /* one fdatasync of a 4 KiB overwrite */
	double tcp_rtt_us;   /* one byte there and back, loopback TCP */
	double unix_rtt_us;  /* ...over a Unix socket (the admin path) */
};

/* The figures of one run. */
struct bench_result {
	double seconds; /* per writer run */
	double sqlite_commits;
	double sqlite_batched;
	double wps[BENCH_WRITER_RUNS][2]; /* [writer run][ack primary, all] */
	/* CPU per acknowledged write, us: [run][ack][0 the primary, 1 both
	 * peers together]; 0 when not measured, -1 when unknown */
	double cpu_us[BENCH_WRITER_RUNS][2][2];
	long lat_count, lat_p50, lat_p99; /* microseconds */
	long catchup;			  /* changes the peer missed */
	double pipelined_wps;
	double catchup_rate;
	double catchup_seconds;
	struct bench_node_result nodes[BENCH_NODES];
	struct bench_floors floors;
	/* The snapshot run (snapshot_rows > 0). */
	long snapshot_rows;
	int value_bytes;
	double snap_rate; /* rows/s into the peer */
	double snap_seconds;
	double snap_write_seconds; /* writing them on the primary */
	double snap_sqlite;	   /* local SQLite, the same rows, 1000/txn */
	/* --lab: seconds to a settled lab [process, docker], -1 = failed */
	bool lab;
	double lab_up_s[2];
	char lab_err[2][256];
};

/* Run the benchmark and print its report (o->json) to o->out. Returns 0,
 * or 1 with err set; err may be set on 0 too (the state directory could
 * not be removed): the caller prints it when not empty. kept gets the
 * lab's state directory when it was kept (o->keep, or after a failure,
 * for its logs), else "" (LAB_PATH_MAX bytes are enough). */
int bench_run(const struct bench_opts *o, char *kept, size_t kept_len,
	      char *err);

void bench_report_text(const struct bench_result *r, FILE *f);
/* One JSON object and a newline; EKL_ENOMEM when it cannot be built.
 * Besides the figures, each is given as a ratio to what local SQLite does
 * in the same run (the *_vs_sqlite keys), so a script compares those
 * directly. */
int bench_report_json(const struct bench_result *r, FILE *f);

#endif
