/* soak.h: `ekulab soak`: a long run of random faults on a live lab with a
 * checker at the end.
 *
 * A lab of the topology comes up (the lab engine, process runtime), two
 * background writers write on the primary (plan run's writer: one with
 * ack=all, one with ack=primary), and N faults drawn from a seed are put
 * on it one after the other, each held a little while, at most two in
 * force at once: every kind the lab has (kill -9, pause, restart, the
 * partition shapes, the proxy's link faults down .. limit_data with a
 * direction and a toxicity, a certificate renewal and an upgrade that the
 * model says keep the cluster linked once the faults are healed, a
 * primary move). Then everything is healed, the writers stop, and the
 * checker looks: every acknowledged write on every node (lost), no row
 * that no writer sent (unexpected), every node on the primary's revision
 * and digest (converged), and, once the lab is stopped, no process left
 * that it started.
 *
 * The draws depend on the seed and the model only, never on what the
 * lab did, so a seed replays the same faults (`dry_run` prints them
 * without a lab).
 */
#ifndef EKULAB_CLI_SOAK_H
#define EKULAB_CLI_SOAK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The kinds of fault the soak draws, with their names (by_kind keys). */
#define SOAK_KINDS(X)                                                          \
	X(SOAK_KILL, "kill")                                                   \
	X(SOAK_PAUSE, "pause")                                                 \
	X(SOAK_RESTART, "restart")                                             \
	X(SOAK_PARTITION, "partition")                                         \
	X(SOAK_DOWN, "down")                                                   \
	X(SOAK_BLACKHOLE, "blackhole")                                         \
	X(SOAK_RESET, "reset")                                                 \
	X(SOAK_LATENCY, "latency")                                             \
	X(SOAK_BANDWIDTH, "bandwidth")                                         \
	X(SOAK_SLOW_CLOSE, "slow_close")                                       \
	X(SOAK_TIMEOUT, "timeout")                                             \
	X(SOAK_SLICER, "slicer")                                               \
	X(SOAK_LIMIT_DATA, "limit_data")                                       \
	X(SOAK_RENEW, "renew")                                                 \
	X(SOAK_UPGRADE, "upgrade")                                             \
	X(SOAK_PRIMARY, "primary")

#define SOAK_ENUM(e, s) e,
enum soak_kind { SOAK_KINDS(SOAK_ENUM) SOAK_N_KINDS };
#undef SOAK_ENUM

const char *soak_kind_name(enum soak_kind k);
/* A comma-separated list of kind names into a bit set (bit k: kind k).
 * Returns 0 or EKL_EINVAL naming the unknown kind and listing the known
 * ones. */
int soak_kinds_parse(const char *list, uint32_t *out, char *err);

#define SOAK_MAX_FAULTS 1000000L

struct soak_opts {
	const char *topology; /* the topology file */
	long faults;	      /* how many faults */
	uint64_t seed;
	uint32_t kinds;	     /* bit set of soak_kind; 0: every kind */
	const char *state;   /* the lab's state directory; NULL: a fresh one
				under lab_tmpdir() */
	bool keep;	     /* keep the state directory (a failed run keeps
				it anyway) */
	bool dry_run;	     /* print the faults the seed draws, no lab */
	const char *runtime; /* the lab's runtime; NULL: process */
	FILE *progress;	     /* progress lines (stderr) */
	FILE *out;	     /* dry run: the faults */
};

struct soak_result {
	uint64_t seed;
	long faults; /* put on the lab */
	long by_kind[SOAK_N_KINDS];
	long heals;
	long errors;	    /* faults the lab could not apply */
	long attempted;	    /* writes sent */
	long acked;	    /* acknowledged (both writers) */
	long acked_all;	    /* by the ack=all writer */
	long acked_primary; /* by the ack=primary writer */
	long lost, unexpected, never_read, recovered;
	bool converged; /* every node on the primary's revision and digest */
	double converge_seconds; /* from the final heal to converged */
	long left_behind;	 /* processes of the lab still there */
	double seconds;		 /* the whole run */
	char why[512];		 /* the first problem, or "" */
	/* The state directory left in place (--keep, or a failed run: its
	 * evidence, with lost.txt listing each node's lost writes as
	 * "NODE TAG FIRST-LAST"), or "" when it was removed. */
	char state[256];
};

/* Run the soak. Returns 0 when the run went to its end (res says whether
 * it passed: soak_passed), EKL_EINTR after Ctrl-C or SIGTERM (everything
 * it started is stopped, the state directory removed), or another
 * negative code with err (a topology that cannot be read, a lab that
 * does not come up). */
int soak_run(const struct soak_opts *o, struct soak_result *res, char *err);

/* Nothing lost, nothing unexpected, converged, nothing left behind, every
 * fault applied. */
bool soak_passed(const struct soak_result *r);

/* The summary for people (several lines) and the JSON object (one line:
 * seed, faults, by_kind, heals, errors, attempted, acked,
 * acked_all, acked_primary, lost, unexpected, never_read, recovered,
 * converged, converge_seconds, left_behind, seconds, passed, why, state).
 * soak_json returns 0 or EKL_ENOMEM. */
void soak_summary(const struct soak_result *r, FILE *out);
int soak_json(const struct soak_result *r, FILE *out);

#endif
