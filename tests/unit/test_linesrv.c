/* test_linesrv.c: the line server on a real libev loop, over socketpairs
 * and a Unix socket: ordering of late replies, pipelining, over-long
 * lines, backpressure, clients that leave. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/linesrv.h"
#include "testutil.h"

/* ---- the fixture: a server whose handler knows a few commands ----
 *
 *   echo TEXT      ok TEXT, now
 *   later N TEXT   ok TEXT, completed N pump rounds later
 *   fail TEXT      err TEXT
 *   big N          ok with N bytes of 'b'
 *   huge           a body over ADMINPROTO_BODY_MAX (announced, not real)
 *   json           ok "json" when the request asked for JSON
 */

#define MAX_LATER 64

struct later {
	struct linesrv_reply *r;
	int rounds;
	char text[64];
};

static struct {
	struct ev_loop *loop;
	struct linesrv *srv;
	struct later later[MAX_LATER];
	size_t n_later;
	size_t handled;
} F;

static void handler(void *arg, struct adminproto_request *rq,
		    struct linesrv_reply *r)
{
	char *cmd = rq->command;

	(void)arg;
	F.handled++;
	if (strncmp(cmd, "echo ", 5) == 0) {
		linesrv_reply_done(r, true, cmd + 5);
	} else if (strncmp(cmd, "fail ", 5) == 0) {
		linesrv_reply_done(r, false, cmd + 5);
	} else if (strncmp(cmd, "later ", 6) == 0) {
		struct later *l = &F.later[F.n_later++];
		char *sp;

		ck_assert_uint_le(F.n_later, MAX_LATER);
		l->r = r;
		l->rounds = (int)strtol(cmd + 6, &sp, 10);
		snprintf(l->text, sizeof(l->text), "%s", sp + 1);
	} else if (strncmp(cmd, "big ", 4) == 0) {
		size_t n = strtoul(cmd + 4, NULL, 10);
		char *b = ekl_malloc(n + 1);

		ck_assert_ptr_nonnull(b);
		memset(b, 'b', n);
		b[n] = '\0';
		linesrv_reply_take(r, true, b, n);
	} else if (strcmp(cmd, "huge") == 0) {
		char *b = ekl_strdup("x");

		linesrv_reply_take(r, true, b, ADMINPROTO_BODY_MAX + 1);
	} else if (strcmp(cmd, "json") == 0) {
		linesrv_reply_done(r, rq->opts.format == ADMINPROTO_JSON,
				   "json");
	} else {
		linesrv_reply_done(r, false, "unknown");
	}
}

/* Complete the late replies whose time has come. */
static void tick(void)
{
	size_t i = 0;

	while (i < F.n_later) {
		struct later *l = &F.later[i];

		if (--l->rounds > 0) {
			i++;
			continue;
		}
		linesrv_reply_done(l->r, true, l->text);
		*l = F.later[--F.n_later];
	}
}

static void setup(void)
{
	char err[EKL_ERRLEN];

	signal(SIGPIPE, SIG_IGN);
	ekl_log_set_level(EKL_LOG_ERROR);
	memset(&F, 0, sizeof(F));
	F.loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(F.loop);
	ck_assert_int_eq(linesrv_new(F.loop, handler, NULL, &F.srv, err), 0);
}

static void teardown(void)
{
	size_t i;

	linesrv_free(F.srv);
	/* Whoever holds a reply completes it, also after the server is
	 * gone: that only frees it. */
	for (i = 0; i < F.n_later; i++)
		linesrv_reply_done(F.later[i].r, true, "late");
	ev_loop_destroy(F.loop);
	ekl_mem_fail_after(-1);
}

/* ---- the test's side of a connection ---- */

struct cli {
	int fd;
	char *out; /* owned: bytes still to send */
	size_t out_len;
	size_t out_off;
	struct adminproto_reader rd;
	struct adminproto_reply got[8192];
	size_t n_got;
	bool eof;
};

/* A client on one end of a socketpair, the server on the other. */
static void cli_pair(struct cli *c)
{
	int sv[2];
	char err[EKL_ERRLEN];

	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(linesrv_adopt(F.srv, sv[1], err), 0);
	c->fd = sv[0];
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	adminproto_reader_init(&c->rd, 0);
}

static void cli_close(struct cli *c)
{
	size_t i;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	for (i = 0; i < c->n_got; i++)
		ekl_free(c->got[i].body);
	c->n_got = 0;
	free(c->out);
	c->out = NULL;
	adminproto_reader_close(&c->rd);
}

static void cli_send(struct cli *c, const char *s, size_t n)
{
	c->out = realloc(c->out, c->out_len + n);
	ck_assert_ptr_nonnull(c->out);
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
}

static void cli_sends(struct cli *c, const char *s)
{
	cli_send(c, s, strlen(s));
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One round: write what the client can, run the server's loop once,
 * read (when reading) what arrived. */
static void round_(struct cli *c, bool reading)
{
	if (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (w > 0)
			c->out_off += (size_t)w;
	}
	ev_run(F.loop, EVRUN_NOWAIT);
	tick();
	while (reading && !c->eof) {
		char buf[65536];
		ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
		enum adminproto_res res;

		if (r == 0)
			c->eof = true;
		if (r <= 0)
			break;
		ck_assert_int_eq(adminproto_reader_feed(&c->rd, buf, (size_t)r),
				 0);
		while ((res = adminproto_reader_next(
			    &c->rd, &c->got[c->n_got])) == ADMINPROTO_REPLY)
			ck_assert_uint_lt(++c->n_got, 8192);
		ck_assert_int_eq(res, ADMINPROTO_NEED_MORE);
	}
	usleep(200);
}

/* Pump until n replies arrived (or EOF), within 10 s. */
static void pump(struct cli *c, size_t n)
{
	double end = now_s() + 10;

	while (c->n_got < n && !c->eof) {
		ck_assert_msg(now_s() < end, "%zu of %zu replies after 10 s",
			      c->n_got, n);
		round_(c, true);
	}
}

static void want(const struct cli *c, size_t i, bool ok, const char *body)
{
	ck_assert_uint_lt(i, c->n_got);
	ck_assert_msg(c->got[i].ok == ok, "reply %zu: %s '%s'", i,
		      c->got[i].ok ? "ok" : "err", c->got[i].body);
	ck_assert_str_eq(c->got[i].body, body);
}

static void want_err_has(const struct cli *c, size_t i, const char *part)
{
	ck_assert_uint_lt(i, c->n_got);
	ck_assert_msg(!c->got[i].ok, "reply %zu is ok", i);
	ck_assert_msg(strstr(c->got[i].body, part) != NULL,
		      "reply %zu '%s' lacks '%s'", i, c->got[i].body, part);
}

/* ---- ordering and pipelining ---- */

/* Replies completed out of order leave in request order. */
START_TEST(order_late_replies)
{
	struct cli c;

	cli_pair(&c);
	cli_sends(&c, "text later 3 first\n"
		      "text later 1 second\n"
		      "text echo third\n"
		      "text later 2 fourth\n"
		      "text fail fifth\n");
	pump(&c, 5);
	want(&c, 0, true, "first");
	want(&c, 1, true, "second");
	want(&c, 2, true, "third");
	want(&c, 3, true, "fourth");
	want(&c, 4, false, "fifth");
	cli_close(&c);
}
END_TEST

/* A reply completed by a prepare watcher (as the node's group commit
 * completes writes, just before the loop waits) leaves in that same turn
 * of the loop: nothing else has to wake the loop up for it. */
static struct linesrv_reply *prep_reply;

static void on_prep(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	if (F.n_later > 0) {
		prep_reply = F.later[0].r;
		F.n_later = 0;
		linesrv_reply_done(prep_reply, true, "from prepare");
	}
}

START_TEST(reply_from_prepare)
{
	struct cli c;
	ev_prepare p;
	struct pollfd pfd;
	int i;

	ev_prepare_init(&p, on_prep);
	ev_prepare_start(F.loop, &p);
	cli_pair(&c);
	cli_sends(&c, "text later 1000 x\n");
	/* The request is read; the reply is completed in the next turn's
	 * prepare phase and must be on the socket after that turn. */
	for (i = 0; i < 4 && F.handled == 0; i++)
		round_(&c, false);
	ck_assert_uint_eq(F.handled, 1);
	ev_run(F.loop, EVRUN_NOWAIT);
	pfd.fd = c.fd;
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	pump(&c, 1);
	want(&c, 0, true, "from prepare");
	ev_prepare_stop(F.loop, &p);
	cli_close(&c);
}
END_TEST

/* Nothing leaves while the head of the line waits. */
START_TEST(order_head_blocks)
{
	struct cli c;
	int i;

	cli_pair(&c);
	cli_sends(&c, "text later 30 slow\ntext echo fast\n");
	for (i = 0; i < 10; i++)
		round_(&c, true);
	ck_assert_uint_eq(c.n_got, 0);
	pump(&c, 2);
	want(&c, 0, true, "slow");
	want(&c, 1, true, "fast");
	cli_close(&c);
}
END_TEST

START_TEST(pipelining_many)
{
	struct cli c;
	char line[64], body[32];
	size_t i;

	cli_pair(&c);
	for (i = 0; i < 5000; i++) {
		snprintf(line, sizeof(line), "%s echo n%zu\n",
			 i % 2 ? "text" : "json,ack=all", i);
		cli_sends(&c, line);
	}
	pump(&c, 5000);
	for (i = 0; i < 5000; i++) {
		snprintf(body, sizeof(body), "n%zu", i);
		want(&c, i, true, body);
	}
	ck_assert_uint_eq(F.handled, 5000);
	cli_close(&c);
}
END_TEST

/* CRLF lines, options reach the handler, bad prefixes get an err and
 * the connection goes on. */
START_TEST(requests_forms)
{
	struct cli c;

	cli_pair(&c);
	cli_sends(&c, "text echo crlf\r\n"
		      "json json\n"
		      "text json\n"
		      "xml echo x\n"
		      "\n"
		      "text,bogus echo x\n"
		      "text nosuch\n"
		      "text echo still here\n");
	pump(&c, 8);
	want(&c, 0, true, "crlf");
	want(&c, 1, true, "json");
	want(&c, 2, false, "json");
	want_err_has(&c, 3, "text|json");
	want_err_has(&c, 4, "text|json");
	want_err_has(&c, 5, "unknown option 'bogus'");
	want(&c, 6, false, "unknown");
	want(&c, 7, true, "still here");
	ck_assert_uint_eq(F.handled, 5);
	cli_close(&c);
}
END_TEST

/* ---- limits ---- */

/* A line of exactly the limit is served; one byte more gets an err naming
 * the limit, and the next request on the connection is served. */
START_TEST(limit_line_edge)
{
	size_t n = ADMINPROTO_LINE_MAX;
	char *line = malloc(n + 2);
	struct cli c;

	ck_assert_ptr_nonnull(line);
	memcpy(line, "text echo ", 10);
	memset(line + 10, 'v', n - 10);
	line[n] = '\n';
	cli_pair(&c);
	cli_send(&c, line, n + 1);
	line[n] = 'v';
	line[n + 1] = '\n';
	cli_send(&c, line, n + 2);
	cli_sends(&c, "text echo next\n");
	pump(&c, 3);
	ck_assert(c.got[0].ok);
	ck_assert_uint_eq(c.got[0].len, n - 10);
	want_err_has(&c, 1, "66132");
	want(&c, 2, true, "next");
	ck_assert_uint_eq(F.handled, 2);
	ck_assert_uint_eq(linesrv_clients(F.srv), 1);
	cli_close(&c);
	free(line);
}
END_TEST

/* An over-long line that arrives slowly, far beyond the limit, is
 * answered once and skipped to its newline. */
START_TEST(limit_long_line_skipped)
{
	char chunk[8192];
	struct cli c;
	int i;

	memset(chunk, 'z', sizeof(chunk));
	cli_pair(&c);
	cli_sends(&c, "text echo before\ntext echo ");
	for (i = 0; i < 40; i++) { /* 320 KiB */
		cli_send(&c, chunk, sizeof(chunk));
		round_(&c, true);
	}
	pump(&c, 2);
	want(&c, 0, true, "before");
	want_err_has(&c, 1, "limit");
	cli_send(&c, chunk, sizeof(chunk));
	cli_sends(&c, "tail\ntext echo after\n");
	pump(&c, 3);
	want(&c, 2, true, "after");
	ck_assert_uint_eq(c.n_got, 3);
	ck_assert_uint_eq(F.handled, 2);
	cli_close(&c);
}
END_TEST

/* A NUL byte or bytes that are not UTF-8: an err naming the byte, the
 * handler never sees the line, the connection goes on. */
START_TEST(limit_not_text)
{
	static const char nul[] = "text echo a\0b\n";
	struct cli c;

	cli_pair(&c);
	cli_send(&c, nul, sizeof(nul) - 1);
	cli_sends(&c, "text echo caf\xc3\xa9\n");
	cli_sends(&c, "text echo \xff\xfe\n");
	cli_sends(&c, "text echo \xc0\x80\r\n");
	cli_sends(&c, "text echo after\n");
	pump(&c, 5);
	want_err_has(&c, 0, "NUL byte (byte 12)");
	want(&c, 1, true, "caf\xc3\xa9");
	want_err_has(&c, 2, "not UTF-8 (byte 11 is 0xff)");
	want_err_has(&c, 3, "not UTF-8");
	want(&c, 4, true, "after");
	ck_assert_uint_eq(F.handled, 2);
	cli_close(&c);
}
END_TEST

/* A body over ADMINPROTO_BODY_MAX becomes an err naming the limit. */
START_TEST(limit_body)
{
	struct cli c;

	cli_pair(&c);
	cli_sends(&c, "text huge\ntext echo ok\n");
	pump(&c, 2);
	want_err_has(&c, 0, "268435456");
	want(&c, 1, true, "ok");
	cli_close(&c);
}
END_TEST

/* ---- backpressure and clients that leave ---- */

/* A client that does not read stops being served once its unread output
 * passes the high-water mark, and catches up when it reads. */
START_TEST(backpressure)
{
	struct cli c;
	size_t i;

	cli_pair(&c);
	for (i = 0; i < 100; i++)
		cli_sends(&c, "text big 100000\n");
	for (i = 0; i < 300; i++)
		round_(&c, false);
	ck_assert_msg(F.handled < 40, "%zu of 100 handled without reading",
		      F.handled);
	ck_assert_uint_gt(F.handled, 0);
	pump(&c, 100);
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(c.got[i].len, 100000);
	ck_assert_uint_eq(F.handled, 100);
	cli_close(&c);
}
END_TEST

/* A client that half-closes gets every answer, late ones too, then EOF. */
START_TEST(half_close)
{
	struct cli c;

	cli_pair(&c);
	cli_sends(&c, "text later 5 a\ntext echo b\ntext echo unterminated");
	round_(&c, true);
	shutdown(c.fd, SHUT_WR);
	pump(&c, 3);
	ck_assert_uint_eq(c.n_got, 2);
	want(&c, 0, true, "a");
	want(&c, 1, true, "b");
	ck_assert(c.eof);
	ck_assert_uint_eq(linesrv_clients(F.srv), 0);
	cli_close(&c);
}
END_TEST

/* A client that goes away with a reply pending: completing it later
 * frees it (ASan watches). */
START_TEST(client_gone_pending)
{
	struct cli c;
	int i;

	cli_pair(&c);
	cli_sends(&c, "text later 20 orphan\ntext echo x\n");
	round_(&c, false);
	round_(&c, false);
	ck_assert_uint_eq(F.n_later, 1);
	close(c.fd);
	c.fd = -1;
	for (i = 0; i < 30; i++)
		round_(&c, false);
	ck_assert_uint_eq(F.n_later, 0);
	ck_assert_uint_eq(linesrv_clients(F.srv), 0);
	cli_close(&c);
}
END_TEST

/* The server goes away with replies pending: they are cut loose and
 * completing them later only frees them (teardown does, ASan watches). */
START_TEST(server_gone_pending)
{
	struct cli c;

	cli_pair(&c);
	cli_sends(&c, "text later 1000 a\ntext later 1000 b\ntext echo c\n");
	round_(&c, false);
	round_(&c, false);
	ck_assert_uint_eq(F.n_later, 2);
	linesrv_free(F.srv);
	F.srv = NULL;
	cli_close(&c);
}
END_TEST

/* Allocation failures while serving never crash; the server goes on. */
START_TEST(alloc_failures)
{
	struct cli c;
	long k;

	for (k = 0; k < 12; k++) {
		cli_pair(&c);
		cli_sends(&c, "text echo one\ntext later 2 two\n");
		ekl_mem_fail_after(k);
		round_(&c, false);
		round_(&c, false);
		round_(&c, false);
		ekl_mem_fail_after(-1);
		pump(&c, 2);
		cli_close(&c);
	}
	cli_pair(&c);
	cli_sends(&c, "text echo fine\n");
	pump(&c, 1);
	want(&c, 0, true, "fine");
	cli_close(&c);
}
END_TEST

/* ---- the Unix socket ---- */

START_TEST(listen_unix)
{
	const char *dir = tu_tmpdir("linesrv");
	char path[600], err[EKL_ERRLEN];
	struct sockaddr_un sun;
	struct linesrv *other = NULL;
	struct stat st;
	struct cli c;

	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/admin.sock", dir);
	ck_assert_msg(linesrv_listen(F.srv, path, "--admin", "node", err) == 0,
		      "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* A second server on the same path is refused. */
	ck_assert_int_eq(linesrv_new(F.loop, handler, NULL, &other, err), 0);
	ck_assert_int_ne(linesrv_listen(other, path, "--admin", "node", err),
			 0);
	ck_assert_ptr_nonnull(strstr(err, "--admin"));
	linesrv_free(other);
	ck_assert_int_eq(stat(path, &st), 0); /* still ours */

	memset(&c, 0, sizeof(c));
	adminproto_reader_init(&c.rd, 0);
	c.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(connect(c.fd, (struct sockaddr *)&sun, sizeof(sun)),
			 0);
	fcntl(c.fd, F_SETFL, O_NONBLOCK);
	cli_sends(&c, "text echo over unix\n");
	pump(&c, 1);
	want(&c, 0, true, "over unix");
	ck_assert_uint_eq(linesrv_clients(F.srv), 1);
	cli_close(&c);
	linesrv_free(F.srv);
	F.srv = NULL;
	ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

static Suite *linesrv_suite(void)
{
	Suite *s = suite_create("linesrv");
	TCase *tc;

	tc = tcase_create("order");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, order_late_replies);
	tcase_add_test(tc, order_head_blocks);
	tcase_add_test(tc, reply_from_prepare);
	tcase_add_test(tc, pipelining_many);
	tcase_add_test(tc, requests_forms);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, limit_line_edge);
	tcase_add_test(tc, limit_long_line_skipped);
	tcase_add_test(tc, limit_not_text);
	tcase_add_test(tc, limit_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("clients");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, backpressure);
	tcase_add_test(tc, half_close);
	tcase_add_test(tc, client_gone_pending);
	tcase_add_test(tc, server_gone_pending);
	tcase_add_test(tc, alloc_failures);
	suite_add_tcase(s, tc);

	tc = tcase_create("linesrv_listen");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, listen_unix);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(linesrv_suite());
}
