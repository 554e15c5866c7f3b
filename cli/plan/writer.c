/* writer.c: `plan run`'s background writer: a child process that keeps
 * writes in flight on the primary for the whole run and logs each one,
 * sent and acknowledged, for the set check at the end (setcheck.c).
 *
 * The happy path: fork after the lab is up; the child connects to the
 * primary's admin socket, keeps 8 writes in flight and appends "S N" /
 * "K N" lines to the log; the run stops it (SIGSTOP) while it waits for
 * the replicas to converge, resumes it (SIGCONT), and ends it with
 * SIGTERM. The failure modes: the primary goes away (a fault): the child
 * reconnects every 100 ms until it answers again; an error reply or a
 * broken connection drops the writes in flight (they stay "S" only) and
 * the child connects again, to the socket the primary file names when it
 * has one (the soak, cli/soak, moves the primary and runs two writers,
 * ack=all and ack=primary, at a bounded rate).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/admin_client.h"
#include "ekulab/core/err.h"
#include "plan_int.h"

static volatile sig_atomic_t writer_stop;

static void on_term(int sig)
{
	(void)sig;
	writer_stop = 1;
}

/* The child's state: the write log and the numbers of writes. */
struct lwriter {
	const struct prun_writer *cfg;
	int lfd;       /* the write log */
	long next;     /* number of the next write */
	long base;     /* number of this connection's first write */
	bool refused;  /* an error reply: reconnect (the primary moved) */
	double t_next; /* with a rate: when the next write may go */
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int lw_next(void *arg, char *buf, size_t len)
{
	struct lwriter *w = arg;
	char rec[32];
	int rl;

	if (writer_stop || w->refused)
		return 0;
	if (w->cfg->rate > 0) {
		double now = now_s();

		if (w->t_next > now)
			usleep((useconds_t)((w->t_next - now) * 1e6));
		if (w->t_next < now - 1.0)
			w->t_next = now; /* no burst after a stall */
		w->t_next += 1.0 / w->cfg->rate;
		if (writer_stop)
			return 0;
	}
	rl = snprintf(rec, sizeof(rec), "S %ld\n", w->next);
	if (write(w->lfd, rec, (size_t)rl) != rl)
		return 0;
	snprintf(buf, len, "text%s xConfiguration Plan %s %ld Value: v%ld",
		 w->cfg->ack_all ? ",ack=all" : ",ack=primary", w->cfg->tag,
		 w->next, w->next);
	w->next++;
	return 1;
}

static void lw_done(void *arg, size_t index, bool ok, const char *body)
{
	struct lwriter *w = arg;
	char rec[32];
	int rl;

	(void)body;
	if (!ok) {
		w->refused = true;
		return;
	}
	rl = snprintf(rec, sizeof(rec), "K %ld\n", w->base + (long)index);
	if (write(w->lfd, rec, (size_t)rl) != rl)
		writer_stop = 1;
}

static bool lw_cancel(void *arg)
{
	struct lwriter *w = arg;

	return writer_stop != 0 || w->refused;
}

/* The admin target to write to: the primary file's line, or `sock`. */
static void primary_sock(const struct prun_writer *cfg, const char *sock,
			 char *buf, size_t len)
{
	FILE *f;

	snprintf(buf, len, "%s", sock);
	if (cfg->primary_file[0] == '\0' ||
	    (f = fopen(cfg->primary_file, "r")) == NULL)
		return;
	if (fgets(buf, (int)len, f) != NULL)
		buf[strcspn(buf, "\n")] = '\0';
	else
		snprintf(buf, len, "%s", sock);
	fclose(f);
}

/* The child: keep up to 8 writes in flight on the primary; log "S N"
 * before sending write N and "K N" once acknowledged. Reconnects when the
 * primary goes away or refuses a write (it is no longer the primary). */
static void writer_main(const struct prun_writer *cfg, const char *sock0)
{
	struct lwriter w = {cfg, -1, 0, 0, false, 0};
	struct admin_pipeline pl = {lw_next, lw_done, &w, 8, lw_cancel};

	w.lfd = open(cfg->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	/* Ctrl-C reaches the whole process group: the writer stops as on
	 * SIGTERM, and the run stops the rest. */
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGHUP, on_term);
	signal(SIGPIPE, SIG_IGN);
	while (!writer_stop) {
		char err[EKL_ERRLEN], sock[LAB_ADMIN_TARGET_MAX];
		int fd;

		primary_sock(cfg, sock0, sock, sizeof(sock));
		fd = admin_client_connect(sock, err);
		if (fd < 0) {
			usleep(100000);
			continue;
		}
		w.base = w.next;
		w.refused = false;
		(void)admin_client_pipeline(fd, &pl, err);
		close(fd);
		usleep(50000);
	}
	close(w.lfd);
	_exit(0);
}

int prun_cluster_primary(const struct run *r, size_t k)
{
	const struct topo *t = &r->lab.topo;

	if (k < t->n_clusters && t->clusters[k].primary < t->n_nodes)
		return lab_node_index(&r->lab,
				      t->nodes[t->clusters[k].primary].name);
	return k == 0 ? lab_node_index(&r->lab, t->primary) : -1;
}

int prun_primary_sock(const struct run *r, char *buf, size_t len)
{
	int p = lab_node_index(&r->lab, r->lab.topo.primary);

	lab_node_admin(&r->lab, p, buf, len);
	return p;
}

int prun_writer_fork(struct prun_writer *w, const char *sock, char *err)
{
	fflush(NULL);
	w->pid = fork();
	if (w->pid < 0) {
		w->pid = 0;
		return ekl_errf(err, EKL_EIO, "fork: %s", strerror(errno));
	}
	if (w->pid == 0)
		writer_main(w, sock);
	return 0;
}

void prun_writer_kill(struct prun_writer *w, int sig)
{
	if (w->pid > 0)
		kill(w->pid, sig);
}

void prun_writer_wait(struct prun_writer *w)
{
	int st;

	if (w->pid <= 0)
		return;
	kill(w->pid, SIGCONT);
	kill(w->pid, SIGTERM);
	waitpid(w->pid, &st, 0);
	w->pid = 0;
}

/* One writer per cluster, each on its own cluster's primary: every
 * cluster's replication carries data (a topology without clusters: one
 * writer on topo.primary). */
void prun_writer_start(struct run *r)
{
	const struct topo *t = &r->lab.topo;
	size_t k, n = t->n_clusters > 0 ? t->n_clusters : 1;

	if (n > TOPO_MAX_CLUSTERS)
		n = TOPO_MAX_CLUSTERS;
	for (k = 0; k < n; k++) {
		struct prun_writer *w = &r->w[k];
		char sock[LAB_ADMIN_TARGET_MAX], err[EKL_ERRLEN], log[32];
		int p = prun_cluster_primary(r, k);

		memset(w, 0, sizeof(*w));
		if (k == 0) {
			snprintf(log, sizeof(log), "writes.log");
			snprintf(w->tag, sizeof(w->tag), "Load");
		} else {
			snprintf(log, sizeof(log), "writes-%u.log",
				 (unsigned)(k & 7));
			snprintf(w->tag, sizeof(w->tag), "Load%u",
				 (unsigned)(k & 7));
		}
		if (p < 0)
			continue;
		lab_node_admin(&r->lab, p, sock, sizeof(sock));
		lab_path(&r->lab, NULL, log, w->log, sizeof(w->log));
		w->ack_all = false;
		w->rate = 0;
		w->primary_file[0] = '\0';
		(void)prun_writer_fork(w, sock, err);
	}
	r->n_w = n;
}

bool prun_writer_running(const struct run *r)
{
	size_t k;

	for (k = 0; k < r->n_w; k++)
		if (r->w[k].pid > 0)
			return true;
	return false;
}

void prun_writer_signal(struct run *r, int sig)
{
	size_t k;

	for (k = 0; k < r->n_w; k++)
		prun_writer_kill(&r->w[k], sig);
}

void prun_writer_stop_wait(struct run *r)
{
	size_t k;

	for (k = 0; k < r->n_w; k++)
		prun_writer_wait(&r->w[k]);
}
