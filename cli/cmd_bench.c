/* cmd_bench.c: `ekulab bench`: replication throughput, latency, catch-up
 * and memory of a real 3-node enforce cluster on loopback, side by side
 * with local SQLite at the same durability settings.
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
 *   - idle and peak RSS of each node.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "client/admin_client.h"
#include "client/node_status.h"
#include "cmd.h"
#include "ekulab/core/addr.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/pki.h"
#include "lab/lab_runtime.h"

#define NODES 3

struct bnode {
	char name[16];
	char sock[300];
	char data[300];
	int port;
	pid_t pid;
	long idle_rss_kb;
	long peak_rss_kb;
};

struct bench {
	char dir[256];
	char ekunode[PATH_MAX];
	struct bnode n[NODES];
	double seconds; /* per writer run */
	long catchup;	/* changes the stopped peer misses */
	/* results */
	double sqlite_commits;
	double sqlite_batched;
	double wps[3][2]; /* [1,16,64 writers][ack primary, all] */
	long lat_count, lat_p50, lat_p99;
	double pipelined_wps;
	double catchup_rate;
	double catchup_seconds;
};

static const int writer_counts[3] = {1, 16, 64};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long rss_kb(pid_t pid, const char *field)
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

static int start_node(struct bench *b, int i)
{
	struct bnode *nd = &b->n[i];
	char listen[64], peers[NODES - 1][96], cert[400], key[400], ca[400],
	    logf[400];
	char *argv[40];
	int a = 0, k, p = 0;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", nd->port);
	for (k = 0; k < NODES; k++)
		if (k != i)
			snprintf(peers[p++], sizeof(peers[0]),
				 "%s=127.0.0.1:%d", b->n[k].name, b->n[k].port);
	snprintf(cert, sizeof(cert), "%s/pki/%s.crt", b->dir, nd->name);
	snprintf(key, sizeof(key), "%s/pki/%s.key", b->dir, nd->name);
	snprintf(ca, sizeof(ca), "%s/pki/ca.crt", b->dir);
	snprintf(logf, sizeof(logf), "%s/%s.log", b->dir, nd->name);
	argv[a++] = b->ekunode;
	argv[a++] = "--name";
	argv[a++] = nd->name;
	argv[a++] = "--cluster";
	argv[a++] = "bench";
	argv[a++] = "--listen";
	argv[a++] = listen;
	for (k = 0; k < NODES - 1; k++) {
		argv[a++] = "--peer";
		argv[a++] = peers[k];
	}
	argv[a++] = "--cert";
	argv[a++] = cert;
	argv[a++] = "--key";
	argv[a++] = key;
	argv[a++] = "--ca";
	argv[a++] = ca;
	argv[a++] = "--version";
	argv[a++] = "X15.3.2";
	argv[a++] = "--role";
	argv[a++] = "c";
	argv[a++] = "--verify";
	argv[a++] = "enforce";
	argv[a++] = "--data";
	argv[a++] = nd->data;
	argv[a++] = "--admin";
	argv[a++] = nd->sock;
	argv[a++] = "--primary";
	argv[a++] = b->n[0].name;
	argv[a++] = "--log-keep";
	argv[a++] = "4000000";
	argv[a++] = "--ack-timeout-ms";
	argv[a++] = "30000";
	argv[a] = NULL;
	nd->pid = fork();
	if (nd->pid < 0)
		return -1;
	if (nd->pid == 0) {
		int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return 0;
}

static void stop_node(struct bnode *nd)
{
	int st;

	if (nd->pid <= 0)
		return;
	kill(nd->pid, SIGTERM);
	waitpid(nd->pid, &st, 0);
	nd->pid = 0;
}

/* The node's database revision, or -1. */
static long db_revision(const char *sock)
{
	struct node_database db;
	char err[EKL_ERRLEN];
	int fd = admin_client_connect(sock, err), rv;

	if (fd < 0)
		return -1;
	rv = node_database_get(fd, &db, err);
	close(fd);
	return rv == 0 ? (long)db.revision : -1;
}

/* `xStatus Latency` of the primary (reset first when reset). */
static int latency(const char *sock, bool reset, struct node_latency *lat)
{
	char err[EKL_ERRLEN];
	int fd = admin_client_connect(sock, err), rv;

	if (fd < 0)
		return fd;
	rv = reset ? node_latency_reset(fd, err)
		   : node_latency_get(fd, lat, err);
	close(fd);
	return rv;
}

/* Wait until the primary replicates to both peers. */
static int wait_ready(struct bench *b, double timeout)
{
	double end = now_s() + timeout;

	while (now_s() < end) {
		struct node_status st;
		char err[EKL_ERRLEN];
		int fd = admin_client_connect(b->n[0].sock, err);
		size_t i, replicating = 0;

		if (fd >= 0 && node_status_get(fd, &st, err) == 0) {
			for (i = 0; i < st.n_peers; i++)
				replicating += strcmp(st.peers[i].repl,
						      "replicating") == 0;
			node_status_free(&st);
		}
		if (fd >= 0)
			close(fd);
		if (replicating >= NODES - 1)
			return 0;
		usleep(50000);
	}
	return -1;
}

/* ---- local SQLite reference ---------------------------------------------- */

static int sqlite_reference(struct bench *b, char *err)
{
	char path[400];
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	double t0, t;
	long i, n;
	int rc;

	snprintf(path, sizeof(path), "%s/reference.sqlite3", b->dir);
	rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db,
				  "PRAGMA journal_mode=WAL; PRAGMA "
				  "synchronous=FULL; CREATE TABLE config(path "
				  "TEXT PRIMARY KEY, value TEXT NOT NULL);",
				  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db,
					"INSERT OR REPLACE INTO config VALUES "
					"(?, ?)",
					-1, &ins, NULL);
	if (rc != SQLITE_OK) {
		ekl_errf(err, EKL_EIO, "reference database: %s",
			 sqlite3_errmsg(db));
		sqlite3_finalize(ins);
		sqlite3_close(db);
		return -1;
	}
	/* One row per fsync'd commit. */
	t0 = now_s();
	for (n = 0; (t = now_s()) - t0 < b->seconds; n++) {
		char p[64];

		snprintf(p, sizeof(p), "Ref Single %ld Name", n);
		sqlite3_bind_text(ins, 1, p, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 2, "value", -1, SQLITE_STATIC);
		sqlite3_step(ins);
		sqlite3_reset(ins);
	}
	b->sqlite_commits = (double)n / (t - t0);
	/* Batched: 1000 rows per transaction, like a replication batch. */
	t0 = now_s();
	for (i = 0; i < b->catchup; i += 1000) {
		long k;

		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		for (k = i; k < i + 1000 && k < b->catchup; k++) {
			char p[64], v[32];

			snprintf(p, sizeof(p), "Ref Batch %ld Name", k);
			snprintf(v, sizeof(v), "v%ld", k);
			sqlite3_bind_text(ins, 1, p, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(ins, 2, v, -1, SQLITE_TRANSIENT);
			sqlite3_step(ins);
			sqlite3_reset(ins);
		}
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	b->sqlite_batched = (double)b->catchup / (now_s() - t0);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return 0;
}

/* ---- concurrent writers
 * ------------------------------------------------------ */

struct writer {
	struct admin_conn c;
	long seq;
	bool waiting;
};

static int writer_send(struct writer *w, int id,
		       const struct adminproto_opts *o)
{
	char cmd[160], err[EKL_ERRLEN];

	snprintf(cmd, sizeof(cmd),
		 "xConfiguration Bench W%d Item %ld Value: v%ld", id,
		 w->seq % 1000, w->seq);
	w->seq++;
	w->waiting = true;
	return admin_conn_send(&w->c, o, cmd, err);
}

/* Returns the number of complete "ok" responses consumed; -1 on error
 * (an "err" response too). */
static int writer_read(struct writer *w)
{
	struct adminproto_reply r;
	char err[EKL_ERRLEN];
	int got = 0, rv;

	if (admin_conn_read(&w->c, err) != 0)
		return -1;
	while ((rv = admin_conn_next(&w->c, &r, err)) == 1) {
		ekl_free(r.body);
		if (!r.ok)
			return -1;
		w->waiting = false;
		got++;
	}
	return rv < 0 ? -1 : got;
}

static double run_writers(struct bench *b, int count, bool ack_all, char *err)
{
	struct writer *ws = ekl_calloc((size_t)count, sizeof(*ws));
	struct pollfd *pf = ekl_calloc((size_t)count, sizeof(*pf));
	const struct adminproto_opts pfx = {ADMINPROTO_TEXT, ack_all, 0};
	long done = 0;
	double t0, t = 0;
	int i;

	if (ws == NULL || pf == NULL) {
		ekl_free(ws);
		ekl_free(pf);
		ekl_errf(err, EKL_ENOMEM, "out of memory");
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (admin_conn_open(&ws[i].c, b->n[0].sock, err) != 0) {
			admin_conn_close(&ws[i].c);
			count = i;
			done = -1;
			goto out;
		}
	}
	t0 = now_s();
	for (i = 0; i < count; i++)
		writer_send(&ws[i], i, &pfx);
	while ((t = now_s()) - t0 < b->seconds) {
		for (i = 0; i < count; i++) {
			pf[i].fd = ws[i].c.fd;
			pf[i].events = POLLIN;
		}
		if (poll(pf, (nfds_t)count, 1000) <= 0)
			continue;
		for (i = 0; i < count; i++) {
			int got;

			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = writer_read(&ws[i]);
			if (got < 0) {
				ekl_errf(err, EKL_EIO,
					 "writer %d: a write failed or the "
					 "node closed the connection",
					 i);
				done = -1;
				goto out;
			}
			done += got;
			if (!ws[i].waiting)
				writer_send(&ws[i], i, &pfx);
		}
	}
out:
	for (i = 0; i < count; i++)
		admin_conn_close(&ws[i].c);
	ekl_free(ws);
	ekl_free(pf);
	return done < 0 ? -1 : (double)done / (t - t0);
}

/* ---- catch-up
 * ------------------------------------------------------------------ */

struct gen {
	long i, n;
};

static int gen_next(void *arg, char *buf, size_t len)
{
	struct gen *g = arg;

	if (g->i >= g->n)
		return 0;
	snprintf(buf, len, "text xConfiguration Catchup %ld Name: value-%ld",
		 g->i, g->i);
	g->i++;
	return 1;
}

static void gen_done(void *arg, size_t index, bool ok, const char *body)
{
	(void)arg;
	(void)index;
	if (!ok)
		fprintf(stderr, "ekulab: bench: a catch-up write failed: %s\n",
			body);
}

static int catchup(struct bench *b, char *err)
{
	struct admin_pipeline p;
	struct gen g = {0, b->catchup};
	long target, start_rev;
	double t0, end;
	int fd, rv;

	stop_node(&b->n[2]);
	fd = admin_client_connect(b->n[0].sock, err);
	if (fd < 0)
		return -1;
	p.next = gen_next;
	p.done = gen_done;
	p.arg = &g;
	p.window = 4096;
	p.cancel = NULL;
	t0 = now_s();
	rv = admin_client_pipeline(fd, &p, err);
	close(fd);
	if (rv != 0)
		return -1;
	b->pipelined_wps = (double)b->catchup / (now_s() - t0);
	target = db_revision(b->n[0].sock);
	if (start_node(b, 2) != 0)
		return ekl_errf(err, EKL_EIO, "cannot restart node3");
	/* Wait for its admin socket, then time until it has everything. */
	end = now_s() + 30;
	while ((start_rev = db_revision(b->n[2].sock)) < 0 && now_s() < end)
		usleep(2000);
	t0 = now_s();
	end = t0 + 600;
	while (db_revision(b->n[2].sock) < target) {
		if (now_s() > end)
			return ekl_errf(err, EKL_EIO,
					"node3 did not catch up within 600 s");
		usleep(5000);
	}
	b->catchup_seconds = now_s() - t0;
	b->catchup_rate = (double)(target - start_rev) / b->catchup_seconds;
	return 0;
}

/* ---- driver -------------------------------------------------------------- */

static int setup(struct bench *b, char *err)
{
	char tmpl[] = "/tmp/ekulab-bench.XXXXXX";
	char pki[320];
	int i, rv;

	if (lab_find_program("ekunode", "EKUNODE", b->ekunode,
			     sizeof(b->ekunode)) != 0)
		return ekl_errf(err, EKL_ENOENT,
				"cannot find ekunode next to ekulab; set "
				"EKUNODE=/path/to/ekunode");
	if (mkdtemp(tmpl) == NULL)
		return ekl_errf(err, EKL_EIO, "mkdtemp: %s", strerror(errno));
	snprintf(b->dir, sizeof(b->dir), "%s", tmpl);
	snprintf(pki, sizeof(pki), "%s/pki", b->dir);
	if ((rv = pki_init(pki, false, err)) != 0)
		return rv;
	for (i = 0; i < NODES; i++) {
		struct pki_leaf_opts o;
		struct bnode *nd = &b->n[i];

		snprintf(nd->name, sizeof(nd->name), "node%d", i + 1);
		snprintf(nd->sock, sizeof(nd->sock), "%s/node%d.sock", tmpl,
			 i + 1);
		snprintf(nd->data, sizeof(nd->data), "%s/node%d-data", tmpl,
			 i + 1);
		nd->port = addr_free_port();
		memset(&o, 0, sizeof(o));
		o.name = nd->name;
		o.profile = PKI_PROFILE_COMBINED;
		o.ca = PKI_CA_UNRESTRICTED;
		if ((rv = pki_issue(pki, &o, err)) != 0)
			return rv;
	}
	for (i = 0; i < NODES; i++)
		if (start_node(b, i) != 0)
			return ekl_errf(err, EKL_EIO, "fork: %s",
					strerror(errno));
	if (wait_ready(b, 30) != 0)
		return ekl_errf(err, EKL_EIO,
				"the cluster did not come up in 30 s (logs in "
				"%s)",
				b->dir);
	return 0;
}

static void teardown(struct bench *b, bool keep)
{
	char cmd[400];
	int i;

	for (i = 0; i < NODES; i++)
		stop_node(&b->n[i]);
	if (!keep && b->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "ekulab: could not remove %s\n",
				b->dir);
	}
}

static void print_text(const struct bench *b)
{
	int i;

	printf("ekulab bench: 3 ekunode processes, enforce, mTLS (TLS 1.3) on "
	       "loopback, WAL + synchronous=FULL\n\n");
	printf("local SQLite reference (same durability)\n");
	printf("  single-row commits          %10.0f commits/s\n",
	       b->sqlite_commits);
	printf("  batched inserts (1000/txn)  %10.0f rows/s\n\n",
	       b->sqlite_batched);
	printf("acknowledged writes/s (each writer keeps one write in "
	       "flight, %.0f s each)\n",
	       b->seconds);
	printf("  %-8s %14s %14s\n", "writers", "--ack primary", "--ack all");
	for (i = 0; i < 3; i++)
		printf("  %-8d %14.0f %14.0f\n", writer_counts[i], b->wps[i][0],
		       b->wps[i][1]);
	printf("\nreplication latency, commit on primary -> applied on both "
	       "peers (--ack all, 16 writers, %ld samples)\n",
	       b->lat_count);
	printf("  p50 %.3f ms   p99 %.3f ms\n\n", b->lat_p50 / 1000.0,
	       b->lat_p99 / 1000.0);
	printf("catch-up of a peer that missed %ld changes\n", b->catchup);
	printf("  pipelined writes on the primary  %10.0f writes/s\n",
	       b->pipelined_wps);
	printf("  catch-up                         %10.0f changes/s (%.1f s); "
	       "%.0f%% of local batched inserts\n\n",
	       b->catchup_rate, b->catchup_seconds,
	       100.0 * b->catchup_rate / b->sqlite_batched);
	printf("memory (RSS)\n");
	for (i = 0; i < NODES; i++)
		printf("  %-6s idle %6.1f MiB   peak %6.1f MiB\n", b->n[i].name,
		       b->n[i].idle_rss_kb / 1024.0,
		       b->n[i].peak_rss_kb / 1024.0);
}

static void print_json(const struct bench *b)
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
	for (i = 0; i < 3; i++) {
		json_obj_begin(&j);
		json_key(&j, "writers");
		json_int(&j, writer_counts[i]);
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
	for (i = 0; i < NODES; i++) {
		json_obj_begin(&j);
		json_key(&j, "node");
		json_str(&j, b->n[i].name);
		json_key(&j, "idle_rss_kib");
		json_int(&j, b->n[i].idle_rss_kb);
		json_key(&j, "peak_rss_kib");
		json_int(&j, b->n[i].peak_rss_kb);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	if (json_finish(&j) != NULL)
		puts(json_finish(&j));
	json_close(&j);
}

int cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"seconds", required_argument, NULL, 's'},
	    {"catchup", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"keep", no_argument, NULL, 'k'},
	    {"writers-only", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bench b;
	struct node_latency lat;
	char err[EKL_ERRLEN] = "", *end;
	bool json = false, keep = false, writers_only = false;
	int opt, i, w, a, rv = 1;

	memset(&b, 0, sizeof(b));
	b.seconds = 3;
	b.catchup = 1000000;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			b.seconds = strtod(optarg, &end);
			if (*end != '\0' || b.seconds < 0.2 ||
			    b.seconds > 600) {
				cli_fail("bench: --seconds '%s': 0.2-600",
					 optarg);
				return 2;
			}
			break;
		case 'c':
			b.catchup = strtol(optarg, &end, 10);
			if (*end != '\0' || b.catchup < 1000 ||
			    b.catchup > 3000000) {
				cli_fail("bench: --catchup '%s': 1000-3000000",
					 optarg);
				return 2;
			}
			break;
		case 'j': json = true; break;
		case 'k': keep = true; break;
		case 'w':
			snprintf(b.n[0].sock, sizeof(b.n[0].sock), "%s",
				 optarg);
			writers_only = true;
			break;
		case 'h':
			printf(
			    "usage: ekulab bench [--seconds S] [--catchup N] "
			    "[--json] [--keep]\n"
			    "  Starts 3 ekunode processes on loopback and "
			    "prints the figures (see docs/benchmarks.md).\n"
			    "  --seconds S  per writer run (default 3)\n"
			    "  --catchup N  changes a stopped peer misses "
			    "(default 1000000)\n"
			    "  --keep       keep the work directory and logs\n"
			    "  --writers-only SOCKET  only the writer runs, "
			    "against the primary\n"
			    "               serving SOCKET\n");
			return 0;
		default:
			cli_fail("bench: unknown option or missing value: %s",
				 argv[optind - 1]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (writers_only) {
		/* Only the writer runs, against a running primary. */
		for (w = 0; w < 3; w++)
			for (a = 0; a < 2; a++) {
				memset(&lat, 0, sizeof(lat));
				latency(b.n[0].sock, true, &lat);
				b.wps[w][a] = run_writers(&b, writer_counts[w],
							  a == 1, err);
				latency(b.n[0].sock, false, &lat);
				printf("%2d writers --ack %-7s %8.0f writes/s  "
				       "count %lld p50_us %lld p99_us %lld "
				       "max_us %lld groups %lld writes %lld\n",
				       writer_counts[w], a ? "all" : "primary",
				       b.wps[w][a], (long long)lat.count,
				       (long long)lat.p50_us,
				       (long long)lat.p99_us,
				       (long long)lat.max_us,
				       (long long)lat.groups,
				       (long long)lat.writes);
			}
		return 0;
	}
	if (setup(&b, err) != 0)
		goto out;
	usleep(300000);
	for (i = 0; i < NODES; i++)
		b.n[i].idle_rss_kb = rss_kb(b.n[i].pid, "VmRSS:");
	fprintf(stderr, "ekulab bench: local SQLite reference...\n");
	if (sqlite_reference(&b, err) != 0)
		goto out;
	for (w = 0; w < 3; w++)
		for (a = 0; a < 2; a++) {
			fprintf(stderr,
				"ekulab bench: %d writers, --ack %s...\n",
				writer_counts[w], a ? "all" : "primary");
			if (a == 1 && w == 1)
				latency(b.n[0].sock, true, &lat);
			b.wps[w][a] =
			    run_writers(&b, writer_counts[w], a == 1, err);
			if (b.wps[w][a] < 0)
				goto out;
			if (a == 1 && w == 1 &&
			    latency(b.n[0].sock, false, &lat) == 0) {
				b.lat_count = (long)lat.count;
				b.lat_p50 = (long)lat.p50_us;
				b.lat_p99 = (long)lat.p99_us;
			}
		}
	fprintf(stderr, "ekulab bench: catch-up of %ld changes...\n",
		b.catchup);
	if (catchup(&b, err) != 0)
		goto out;
	for (i = 0; i < NODES; i++)
		b.n[i].peak_rss_kb = rss_kb(b.n[i].pid, "VmHWM:");
	if (json)
		print_json(&b);
	else
		print_text(&b);
	rv = 0;
out:
	if (rv != 0)
		cli_fail("bench: %s", err);
	teardown(&b, keep || rv != 0);
	if (rv != 0 && b.dir[0])
		fprintf(stderr, "ekulab: bench: logs kept in %s\n", b.dir);
	return rv;
}
