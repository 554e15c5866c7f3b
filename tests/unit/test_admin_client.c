/* test_admin_client.c: the admin protocol's client (one call, pipelines,
 * polled connections) against a real linesrv on a libev loop in a thread.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "client/admin_client.h"
#include "ekulab/core/addr.h"
#include "ekulab/x509/pki.h"
#include "ekulab/core/container_of.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/linesrv.h"
#include "testutil.h"

/* ---- the server: echo TEXT, fail TEXT, later MS TEXT ---- */

struct later {
	ev_timer t;
	struct linesrv_reply *r;
	char text[64];
	struct later *next, *prev; /* on S.pending */
};

static struct {
	struct ev_loop *loop;
	struct linesrv *srv;
	ev_async stop;
	pthread_t th;
	char path[600];
	atomic_size_t handled;
	struct later *pending; /* late replies not completed yet */
} S;

static void later_done(struct later *l, const char *text)
{
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		S.pending = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	linesrv_reply_done(l->r, true, text);
	free(l);
}

static void on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct later *l = container_of(w, struct later, t);

	(void)loop;
	(void)revents;
	later_done(l, l->text);
}

static void handler(void *arg, struct adminproto_request *rq,
		    struct linesrv_reply *r)
{
	char *cmd = rq->command;

	(void)arg;
	atomic_fetch_add(&S.handled, 1);
	if (strncmp(cmd, "echo ", 5) == 0) {
		linesrv_reply_done(r, true, cmd + 5);
	} else if (strncmp(cmd, "fail ", 5) == 0) {
		linesrv_reply_done(r, false, cmd + 5);
	} else if (strncmp(cmd, "later ", 6) == 0) {
		struct later *l = calloc(1, sizeof(*l));
		char *sp;
		long ms = strtol(cmd + 6, &sp, 10);

		ck_assert_ptr_nonnull(l);
		l->r = r;
		snprintf(l->text, sizeof(l->text), "%s", sp + 1);
		ev_timer_init(&l->t, on_later, (double)ms / 1000.0, 0);
		ev_timer_start(S.loop, &l->t);
		l->next = S.pending;
		if (S.pending != NULL)
			S.pending->prev = l;
		S.pending = l;
	} else {
		linesrv_reply_done(r, false, "unknown");
	}
}

static void on_stop(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void *serve(void *arg)
{
	(void)arg;
	ev_run(S.loop, 0);
	return NULL;
}

static void setup(void)
{
	const char *dir = tu_tmpdir("admin_client");
	char err[EKL_ERRLEN];

	signal(SIGPIPE, SIG_IGN);
	ekl_log_set_level(EKL_LOG_ERROR);
	ck_assert_ptr_nonnull(dir);
	memset(&S, 0, sizeof(S));
	snprintf(S.path, sizeof(S.path), "%s/admin.sock", dir);
	S.loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_int_eq(linesrv_new(S.loop, handler, NULL, &S.srv, err), 0);
	ck_assert_msg(linesrv_listen(S.srv, S.path, "--admin", "test", err) ==
			  0,
		      "%s", err);
	ev_async_init(&S.stop, on_stop);
	ev_async_start(S.loop, &S.stop);
	ck_assert_int_eq(pthread_create(&S.th, NULL, serve, NULL), 0);
}

static void teardown(void)
{
	ev_async_send(S.loop, &S.stop);
	pthread_join(S.th, NULL);
	linesrv_free(S.srv);
	/* Whoever holds a late reply completes it, also after the server
	 * went: that only frees it. */
	while (S.pending != NULL) {
		ev_timer_stop(S.loop, &S.pending->t);
		later_done(S.pending, "late");
	}
	ev_async_stop(S.loop, &S.stop);
	ev_loop_destroy(S.loop);
}

static int conn(void)
{
	char err[EKL_ERRLEN];
	int fd = admin_client_connect(S.path, err);

	ck_assert_msg(fd >= 0, "%s", err);
	return fd;
}

/* ---- one call ---- */

START_TEST(call_ok_err)
{
	static const struct adminproto_opts o = {ADMINPROTO_TEXT, false, 0};
	char err[EKL_ERRLEN], *body = NULL;
	bool ok = false;
	int fd = conn();

	ck_assert_int_eq(
	    admin_client_call(fd, "text", "echo hi", &ok, &body, err), 0);
	ck_assert(ok);
	ck_assert_str_eq(body, "hi");
	ekl_free(body);
	ck_assert_int_eq(
	    admin_client_request(fd, &o, "fail nope", &ok, &body, err), 0);
	ck_assert(!ok);
	ck_assert_str_eq(body, "nope");
	ekl_free(body);
	/* Not one line: refused here. */
	ck_assert_int_eq(admin_client_get(fd, &o, "echo a\nb", &body, err),
			 EKL_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "one line"));
	/* Only ok will do. */
	ck_assert_int_eq(
	    admin_client_get(fd, &o, "fail no such row", &body, err),
	    EKL_EINVAL);
	ck_assert_str_eq(err, "'fail no such row': no such row");
	ck_assert_ptr_null(body);
	ck_assert_int_eq(admin_client_get(fd, &o, "later 20 x", &body, err), 0);
	ck_assert_str_eq(body, "x");
	ekl_free(body);
	close(fd);
}
END_TEST

/* A line over the limit is refused before anything is sent. */
START_TEST(call_too_long)
{
	size_t n = ADMINPROTO_LINE_MAX;
	char *cmd = malloc(n + 1), err[EKL_ERRLEN], *body = NULL;
	bool ok = false;
	int fd = conn();

	ck_assert_ptr_nonnull(cmd);
	memset(cmd, 'c', n);
	cmd[n] = '\0';
	ck_assert_int_eq(admin_client_call(fd, "text", cmd, &ok, &body, err),
			 EKL_ETOOBIG);
	ck_assert_ptr_nonnull(strstr(err, "limit of 66132 bytes"));
	ck_assert_int_eq(
	    admin_client_call(fd, "text", "echo after", &ok, &body, err), 0);
	ck_assert_str_eq(body, "after");
	ck_assert_uint_eq(atomic_load(&S.handled), 1);
	ekl_free(body);
	free(cmd);
	close(fd);
}
END_TEST

/* The server goes away: an error naming it, not a hang. */
START_TEST(call_server_gone)
{
	char err[EKL_ERRLEN], *body = NULL;
	bool ok = false;
	int fd = conn();

	ev_async_send(S.loop, &S.stop);
	pthread_join(S.th, NULL);
	linesrv_free(S.srv);
	S.srv = NULL;
	ck_assert_int_eq(
	    admin_client_call(fd, "text", "echo x", &ok, &body, err), EKL_EIO);
	ck_assert_ptr_null(body);
	close(fd);
	/* teardown joins a thread: run an idle one. */
	ck_assert_int_eq(pthread_create(&S.th, NULL, serve, NULL), 0);
}
END_TEST

/* ---- pipelines ---- */

struct gen {
	size_t i, n;
	size_t done;
	bool in_order;
	size_t local_refusals;
	char *big; /* a command over the limit */
};

static int gen_next(void *arg, char *buf, size_t len)
{
	struct gen *g = arg;

	if (g->i >= g->n)
		return 0;
	if (g->i % 100 == 50)
		snprintf(buf, len, "text echo %s", g->big);
	else if (g->i % 100 == 70)
		snprintf(buf, len, "text echo two\nlines");
	else
		snprintf(buf, len, "text %s %zu",
			 g->i % 3 == 0 ? "later 2" : "echo", g->i);
	g->i++;
	return 1;
}

static void gen_done(void *arg, size_t index, bool ok, const char *body)
{
	struct gen *g = arg;
	char want[32];

	if (index != g->done)
		g->in_order = false;
	g->done++;
	if (index % 100 == 50 || index % 100 == 70) {
		if (!ok && (strstr(body, "limit of 66132") != NULL ||
			    strstr(body, "one line") != NULL))
			g->local_refusals++;
		else
			g->in_order = false;
		return;
	}
	snprintf(want, sizeof(want), "%zu", index);
	if (!ok || strcmp(body, want) != 0)
		g->in_order = false;
}

START_TEST(pipeline_in_order)
{
	struct gen g = {0, 2000, 0, true, 0, NULL};
	struct admin_pipeline p = {gen_next, gen_done, &g, 64, NULL};
	char err[EKL_ERRLEN];
	int fd = conn();

	g.big = malloc(ADMINPROTO_LINE_MAX + 1);
	ck_assert_ptr_nonnull(g.big);
	memset(g.big, 'b', ADMINPROTO_LINE_MAX);
	g.big[ADMINPROTO_LINE_MAX] = '\0';
	ck_assert_msg(admin_client_pipeline(fd, &p, err) == 0, "%s", err);
	ck_assert_uint_eq(g.done, 2000);
	ck_assert(g.in_order);
	ck_assert_uint_eq(g.local_refusals, 40);
	/* The refused lines never reached the server. */
	ck_assert_uint_eq(atomic_load(&S.handled), 2000 - 40);
	free(g.big);
	close(fd);
}
END_TEST

static int forever_next(void *arg, char *buf, size_t len)
{
	(void)arg;
	snprintf(buf, len, "text later 600000 never");
	return 1;
}

static void ignore_done(void *arg, size_t index, bool ok, const char *body)
{
	(void)arg;
	(void)index;
	(void)ok;
	(void)body;
}

static bool after_a_moment(void *arg)
{
	int *polls = arg;

	return ++*polls > 2;
}

/* Cancel abandons the requests in flight, promptly. */
START_TEST(pipeline_cancel)
{
	int polls = 0;
	struct admin_pipeline p = {forever_next, ignore_done, &polls, 8,
				   after_a_moment};
	char err[EKL_ERRLEN];
	struct timespec t0, t1;
	int fd = conn();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(admin_client_pipeline(fd, &p, err), EKL_ECLOSED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_ptr_nonnull(strstr(err, "cancelled after 0 of 8"));
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5);
	close(fd);
}
END_TEST

/* ---- connections polled by the caller ---- */

START_TEST(conn_polled)
{
	static const struct adminproto_opts o = {ADMINPROTO_JSON, true, 250};
	struct admin_conn c;
	struct adminproto_reply r[3];
	char err[EKL_ERRLEN];
	size_t got = 0;
	int spins = 0, rv = 0;

	ck_assert_int_eq(admin_conn_open(&c, S.path, err), 0);
	ck_assert_int_eq(admin_conn_send(&c, &o, "later 30 one", err), 0);
	ck_assert_int_eq(admin_conn_send(&c, &o, "echo two", err), 0);
	ck_assert_int_eq(admin_conn_send(&c, &o, "fail three", err), 0);
	while (got < 3) {
		ck_assert_int_lt(spins++, 5000);
		ck_assert_int_eq(admin_conn_read(&c, err), 0);
		while (got < 3 && (rv = admin_conn_next(&c, &r[got], err)) == 1)
			got++;
		ck_assert_int_ge(rv, 0);
		usleep(1000);
	}
	ck_assert(r[0].ok && strcmp(r[0].body, "one") == 0);
	ck_assert(r[1].ok && strcmp(r[1].body, "two") == 0);
	ck_assert(!r[2].ok && strcmp(r[2].body, "three") == 0);
	for (got = 0; got < 3; got++)
		ekl_free(r[got].body);
	admin_conn_close(&c);
	admin_conn_close(&c); /* twice is fine */
	/* A socket nobody serves. */
	ck_assert_int_eq(admin_conn_open(&c, "/nonexistent/admin.sock", err),
			 EKL_EIO);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/admin.sock"));
	admin_conn_close(&c);
}
END_TEST

/* ---- targets and the TLS transport's failures (accepted and refused
 * handshakes with a real node admin: test_admin.c) ---- */

START_TEST(target_parse)
{
	struct admin_target t;
	char err[EKL_ERRLEN];

	ck_assert_int_eq(admin_target_parse("/run/n1.sock", &t, err), 0);
	ck_assert(!t.tls);
	ck_assert_str_eq(t.path, "/run/n1.sock");
	ck_assert_int_eq(
	    admin_target_parse("tls://10.0.0.2:7443/n1?pki=/s/pki", &t, err),
	    0);
	ck_assert(t.tls);
	ck_assert_str_eq(t.host, "10.0.0.2");
	ck_assert_int_eq(t.port, 7443);
	ck_assert_str_eq(t.name, "n1");
	ck_assert_str_eq(t.pki, "/s/pki");
	ck_assert_int_eq(
	    admin_target_parse("tls://[::1]:7443/n-2?pki=/p", &t, err), 0);
	ck_assert_str_eq(t.host, "::1");
	ck_assert_str_eq(t.name, "n-2");
	/* No pki, no name, no port, a bad port: refused, saying the form. */
	ck_assert_int_eq(admin_target_parse("tls://10.0.0.2:7443/n1", &t, err),
			 EKL_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "tls://HOST:PORT/NODE?pki=DIR"));
	ck_assert_int_eq(
	    admin_target_parse("tls://10.0.0.2:7443/?pki=/p", &t, err),
	    EKL_EINVAL);
	ck_assert_int_eq(
	    admin_target_parse("tls://10.0.0.2/n1?pki=/p", &t, err),
	    EKL_EINVAL);
	ck_assert_int_eq(admin_target_parse("tls://h:70000/n1?pki=/p", &t, err),
			 EKL_EINVAL);
}
END_TEST

START_TEST(tls_failures)
{
	char err[EKL_ERRLEN], target[200];
	const char *dir = tu_tmpdir("admin_client_tls");
	int lfd, port, fd;

	/* No admin files in pki: the error names the file. */
	ck_assert_int_eq(addr_reserve(0, &lfd, &port, err), 0);
	snprintf(target, sizeof(target), "tls://127.0.0.1:%d/n1?pki=%s", port,
		 dir);
	fd = admin_client_connect(target, err);
	ck_assert_int_lt(fd, 0);
	ck_assert_msg(strstr(err, "admin.key") != NULL, "%s", err);
	/* A listener that never answers the handshake (a paused node):
	 * bounded by the timeout. */
	{
		struct pki_leaf_opts o;
		struct admin_target t;

		memset(&o, 0, sizeof(o));
		o.name = "admin";
		o.profile = PKI_PROFILE_CLIENT_ONLY;
		o.admin = true;
		ck_assert_msg(pki_init(dir, false, err) == 0, "%s", err);
		ck_assert_msg(pki_admin_init(dir, err) == 0, "%s", err);
		ck_assert_msg(pki_issue(dir, &o, err) == 0, "%s", err);
		ck_assert_int_eq(admin_target_parse(target, &t, err), 0);
		fd = admin_client_dial(&t, 300, err);
		ck_assert_int_lt(fd, 0);
		ck_assert_msg(strstr(err, "no TLS handshake within") != NULL,
			      "%s", err);
	}
	close(lfd);
	/* Nothing listening: the error names the node and what to check. */
	fd = admin_client_connect(target, err);
	ck_assert_int_lt(fd, 0);
	ck_assert_msg(strstr(err, "is the node running") != NULL, "%s", err);
}
END_TEST

static Suite *admin_client_suite(void)
{
	Suite *s = suite_create("admin_client");
	TCase *tc;

	tc = tcase_create("admin_client_call");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, call_ok_err);
	tcase_add_test(tc, call_too_long);
	tcase_add_test(tc, call_server_gone);
	suite_add_tcase(s, tc);

	tc = tcase_create("admin_client_pipeline");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, pipeline_in_order);
	tcase_add_test(tc, pipeline_cancel);
	suite_add_tcase(s, tc);

	tc = tcase_create("admin_conn");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, conn_polled);
	suite_add_tcase(s, tc);

	tc = tcase_create("admin_target");
	tcase_add_test(tc, target_parse);
	tcase_add_test(tc, tls_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(admin_client_suite());
}
