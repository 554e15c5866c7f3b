/* load.c: the bench's load on the cluster and what it asks of it: admin
 * requests (status, latency), concurrent writers with one write in flight
 * each, and the catch-up of a peer that missed a pipelined batch.
 *
 * The happy path of a writer run: connect count writers to the primary,
 * send one write each, and for b->seconds send the next as soon as the
 * previous one is acknowledged; the rate is what was acknowledged. The
 * failure modes: an error reply or a closed connection ends the run (-1,
 * err says which writer).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_int.h"
#include "client/admin_client.h"
#include "client/node_status.h"
#include "lab/lab_interrupt.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "lab/lab_runtime.h"

/* The node's database revision, or -1. */
long bench_db_revision(const char *sock)
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
int bench_latency(const char *sock, bool reset, struct node_latency *lat)
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

int bench_replicating(const char *sock)
{
	struct node_status st;
	char err[EKL_ERRLEN];
	int fd = admin_client_connect(sock, err), n = -1;
	size_t i;

	if (fd < 0)
		return -1;
	if (node_status_get(fd, &st, err) == 0) {
		n = 0;
		for (i = 0; i < st.n_peers; i++)
			n += strcmp(st.peers[i].repl, "replicating") == 0;
		node_status_free(&st);
	}
	close(fd);
	return n;
}

/* Wait until the primary replicates to both peers. */
int bench_wait_ready(struct bench *b, double timeout)
{
	double end = bench_now() + timeout;

	while (bench_now() < end) {
		if (bench_replicating(b->n[0].sock) >= NODES - 1)
			return 0;
		if (!lab_sleep(0.05))
			return -1;
	}
	return -1;
}

/* ---- local SQLite reference ---------------------------------------------- */

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

double bench_run_writers(struct bench *b, int count, bool ack_all, long *writes,
			 char *err)
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
	t0 = bench_now();
	for (i = 0; i < count; i++)
		writer_send(&ws[i], i, &pfx);
	while ((t = bench_now()) - t0 < b->seconds) {
		if (lab_interrupted()) {
			ekl_errf(err, EKL_EINTR, "interrupted by %s",
				 lab_interrupt_name());
			done = -1;
			goto out;
		}
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
	*writes = done < 0 ? 0 : done;
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

static bool interrupted(void *arg)
{
	(void)arg;
	return lab_interrupted() != 0;
}

int bench_catchup(struct bench *b, char *err)
{
	struct admin_pipeline p;
	struct gen g = {0, b->catchup};
	long target, start_rev;
	double t0, end;
	int fd, rv;

	b->lab.rt->stop_node(&b->lab, 2, err);
	fd = admin_client_connect(b->n[0].sock, err);
	if (fd < 0)
		return -1;
	p.next = gen_next;
	p.done = gen_done;
	p.arg = &g;
	p.window = 4096;
	p.cancel = interrupted;
	t0 = bench_now();
	rv = admin_client_pipeline(fd, &p, err);
	close(fd);
	if (rv != 0)
		return -1;
	b->pipelined_wps = (double)b->catchup / (bench_now() - t0);
	target = bench_db_revision(b->n[0].sock);
	if (b->lab.rt->start_node(&b->lab, 2, err) != 0)
		return ekl_errf(err, EKL_EIO, "cannot restart node3");
	/* Wait for its admin socket, then time until it has everything. */
	end = bench_now() + 30;
	while ((start_rev = bench_db_revision(b->n[2].sock)) < 0 &&
	       bench_now() < end)
		if (!lab_sleep(0.002))
			return ekl_errf(err, EKL_EINTR, "interrupted by %s",
					lab_interrupt_name());
	t0 = bench_now();
	end = t0 + 600;
	while (bench_db_revision(b->n[2].sock) < target) {
		if (bench_now() > end)
			return ekl_errf(err, EKL_EIO,
					"node3 did not catch up within 600 s");
		if (!lab_sleep(0.005))
			return ekl_errf(err, EKL_EINTR, "interrupted by %s",
					lab_interrupt_name());
	}
	b->catchup_seconds = bench_now() - t0;
	b->catchup_rate = (double)(target - start_rev) / b->catchup_seconds;
	return 0;
}

/* ---- driver -------------------------------------------------------------- */
