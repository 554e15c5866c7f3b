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
 * broken connection drops the writes in flight (they stay "S" only).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
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
	int lfd;   /* the write log */
	long next; /* number of the next write */
	long base; /* number of this connection's first write */
};

static int lw_next(void *arg, char *buf, size_t len)
{
	struct lwriter *w = arg;
	char rec[32];
	int rl;

	if (writer_stop)
		return 0;
	rl = snprintf(rec, sizeof(rec), "S %ld\n", w->next);
	if (write(w->lfd, rec, (size_t)rl) != rl)
		return 0;
	snprintf(buf, len, "text xConfiguration Plan Load %ld Value: v%ld",
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
	if (!ok)
		return;
	rl = snprintf(rec, sizeof(rec), "K %ld\n", w->base + (long)index);
	if (write(w->lfd, rec, (size_t)rl) != rl)
		writer_stop = 1;
}

static bool lw_cancel(void *arg)
{
	(void)arg;
	return writer_stop != 0;
}

/* The child: keep up to 8 writes in flight on the primary; log "S N"
 * before sending write N and "K N" once acknowledged. Reconnects when the
 * primary goes away. */
static void writer_main(const char *sock, const char *log)
{
	struct lwriter w = {-1, 0, 0};
	struct admin_pipeline pl = {lw_next, lw_done, &w, 8, lw_cancel};

	w.lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	/* Ctrl-C reaches the whole process group: the writer stops as on
	 * SIGTERM, and the run stops the rest. */
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGHUP, on_term);
	signal(SIGPIPE, SIG_IGN);
	while (!writer_stop) {
		char err[EKL_ERRLEN];
		int fd = admin_client_connect(sock, err);

		if (fd < 0) {
			usleep(100000);
			continue;
		}
		w.base = w.next;
		(void)admin_client_pipeline(fd, &pl, err);
		close(fd);
		usleep(50000);
	}
	close(w.lfd);
	_exit(0);
}

int prun_primary_sock(const struct run *r, char *buf, size_t len)
{
	int p = lab_node_index(&r->lab, r->lab.topo.primary);

	lab_path(&r->lab, r->lab.nodes[p].name, "admin.sock", buf, len);
	return p;
}

void prun_writer_start(struct run *r)
{
	char sock[LAB_PATH_MAX + 80];

	prun_primary_sock(r, sock, sizeof(sock));
	lab_path(&r->lab, NULL, "writes.log", r->writer_log,
		 sizeof(r->writer_log));
	fflush(NULL);
	r->writer = fork();
	if (r->writer == 0)
		writer_main(sock, r->writer_log);
}

void prun_writer_signal(struct run *r, int sig)
{
	if (r->writer > 0)
		kill(r->writer, sig);
}

void prun_writer_stop_wait(struct run *r)
{
	int st;

	if (r->writer <= 0)
		return;
	kill(r->writer, SIGCONT);
	kill(r->writer, SIGTERM);
	waitpid(r->writer, &st, 0);
	r->writer = 0;
}
