/* bench_int.h: what the cli/bench files share; callers use bench.h. */
#ifndef EKULAB_CLI_BENCH_INT_H
#define EKULAB_CLI_BENCH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bench.h"
#include "lab/lab.h"

#define NODES BENCH_NODES

struct bnode {
	char name[16];
	char sock[LAB_PATH_MAX + 80]; /* its admin socket */
	long idle_rss_kb;
	long peak_rss_kb;
	long snap_peak_rss_kb;
};

/* One benchmark. The lab is up from bench_run()'s setup to its
 * teardown; its nodes are node1 (the primary), node2 and node3. */
struct bench {
	struct lab lab;		/* borrows topo */
	struct topo topo;	/* owned */
	bool up;		/* lab prepared: its state directory exists */
	char dir[LAB_PATH_MAX]; /* the lab's state directory */
	struct bnode n[NODES];
	double seconds; /* per writer run */
	long catchup;	/* changes the stopped peer misses */
	/* results */
	double sqlite_commits;
	double sqlite_batched;
	double wps[3][2]; /* [1,16,64 writers][ack primary, all] */
	/* CPU time per acknowledged write of those runs, microseconds:
	 * [run][ack][0] the primary, [1] both peers together; -1 unknown */
	double cpu_us[3][2][2];
	long lat_count, lat_p50, lat_p99;
	double pipelined_wps;
	double catchup_rate;
	double catchup_seconds;
	double fdatasync_us, tcp_rtt_us, unix_rtt_us;
	/* snapshot run */
	long snapshot_rows;
	int value_bytes;
	double snap_rate, snap_seconds, snap_write_seconds, snap_sqlite;
	/* --lab */
	double lab_up_s[2];
	char lab_err[2][256];
};

/* CLOCK_MONOTONIC in seconds. */
double bench_now(void);
/* A "VmRSS:" / "VmHWM:" line of /proc/PID/status, KiB, or -1. */
long bench_rss_kb(pid_t pid, const char *field);
/* CPU time the process has used so far, every thread of it (the sum of
 * /proc/PID/task/TID/schedstat's first field), nanoseconds, or -1. */
long long bench_cpu_ns(pid_t pid);
/* node1..nodeN, X15.3.2 Expressway-C, enforce, combined certificates from
 * the unrestricted CA, node1 primary. */
int bench_make_topo(struct topo *t, int nodes, char *err);
/* Peers the node serving sock replicates to ("replicating"), or -1. */
int bench_replicating(const char *sock);

/* ---- floors.c ---- */
void bench_floors(struct bench *b);

/* ---- snapshot.c ---- */
/* Stop node3, write b->snapshot_rows rows of b->value_bytes, start node3
 * and time its snapshot; then local SQLite with the same rows. */
int bench_snapshot(struct bench *b, char *err);

/* ---- labup.c ---- */
/* Time `lab up` of BENCH_LAB_NODES nodes with processes and containers. */
int bench_lab(struct bench *b, FILE *progress);

/* ---- talking to the nodes (load.c) ---- */

/* The node's database revision, or -1. */
long bench_db_revision(const char *sock);
/* `xStatus Latency` of the primary (reset first when reset). */
struct node_latency;
int bench_latency(const char *sock, bool reset, struct node_latency *lat);
/* Wait until the primary replicates to both peers. */
int bench_wait_ready(struct bench *b, double timeout);
/* count writers, each keeping one write in flight on the primary, for
 * b->seconds; acknowledged writes/s, or -1 with err set. *writes gets
 * how many were acknowledged. */
double bench_run_writers(struct bench *b, int count, bool ack_all, long *writes,
			 char *err);
/* Stop node3, pipeline b->catchup writes on the primary, restart node3
 * and time how long it takes to catch up. */
int bench_catchup(struct bench *b, char *err);

/* ---- local SQLite (sqlite_ref.c) ---- */

/* Single-row commits/s and batched rows/s of SQLite in b->dir, with the
 * durability a node uses (WAL, synchronous=FULL). */
int bench_sqlite_reference(struct bench *b, char *err);

#endif
