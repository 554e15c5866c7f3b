/* fuzz_linesrv.c: the line server (lib/wire/linesrv.c) behind the node's
 * admin socket and the lab proxy's control socket, on a real libev loop
 * and a real socketpair, fed whatever a local client may write.
 *
 * Input: the bytes the client writes, with one expansion so that short
 * inputs reach the long-line paths: 0xFF HI LO C stands for
 * (HI * 256 + LO) * 4 copies of byte C, C not a newline (the stream is
 * cut at 96 KiB; a flood of lines is cheaper to test in the unit test).
 * The client writes as much as the socket takes and reads only when it
 * cannot write more (so the server's output piles up, as with a client
 * that pipelines); after writing everything it half-closes and reads to
 * the end.
 *
 * The handler answers a request whose command starts with 'L' later (all
 * such pending replies are completed after each loop turn, newest first),
 * one starting with 'B' with a 128 KiB body (so output backpressure
 * engages), and any other at once; each body starts with "#N:" where N
 * counts the requests the handler saw.
 *
 * Properties checked on every input:
 *  - every response is well formed (the client's reader accepts it);
 *  - the handler's responses arrive in request order (N counts up by 1);
 *  - there is exactly one response per line: each newline-terminated line
 *    gets one (a line over ADMINPROTO_LINE_MAX gets one err), and an
 *    unterminated last line gets one only when it is over the limit;
 *  - the server finishes: after the half-close it answers everything and
 *    closes the client (no stall), and no sanitizer report or leak.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/adminproto.h"
#include "ekulab/wire/linesrv.h"
#include "fuzzutil.h"

#define STREAM_MAX (96u << 10)
#define BIG_BODY   (128u << 10)
#define MAX_LATER  4096

static struct ev_loop *loop;
static unsigned char *stream;
static char *big;
static struct linesrv_reply *later[MAX_LATER];
static char *later_body[MAX_LATER];
static size_t n_later;
static unsigned long seen; /* requests the handler saw */

static void handler(void *arg, struct adminproto_request *rq,
		    struct linesrv_reply *reply)
{
	char head[32];
	size_t hl;
	char *body;

	(void)arg;
	FZ_CHECK(strlen(rq->command) <= ADMINPROTO_LINE_MAX,
		 "a command of %zu bytes", strlen(rq->command));
	hl = (size_t)snprintf(head, sizeof(head), "#%lu:", seen++);
	if (rq->command[0] == 'B') {
		memcpy(big, head, hl);
		linesrv_reply_done(reply, true, big);
		return;
	}
	if (rq->command[0] == 'L' && n_later < MAX_LATER) {
		body = ekl_malloc(hl + 1);
		if (body == NULL)
			abort();
		memcpy(body, head, hl + 1);
		later_body[n_later] = body;
		later[n_later++] = reply;
		return;
	}
	linesrv_reply_done(reply, rq->opts.format == ADMINPROTO_TEXT, head);
}

static void complete_later(void)
{
	while (n_later > 0) {
		n_later--;
		linesrv_reply_take(later[n_later], true, later_body[n_later],
				   strlen(later_body[n_later]));
	}
}

/* Expand the input; returns the stream's length. */
static size_t expand(const uint8_t *data, size_t size)
{
	size_t i = 0, n = 0;

	while (i < size && n < STREAM_MAX) {
		if (data[i] == 0xff && i + 3 < size && data[i + 3] != '\n') {
			size_t count =
			    ((size_t)data[i + 1] << 8 | data[i + 2]) * 4;

			if (count > STREAM_MAX - n)
				count = STREAM_MAX - n;
			memset(stream + n, data[i + 3], count);
			n += count;
			i += 4;
		} else {
			stream[n++] = data[i++];
		}
	}
	return n;
}

/* Responses the server owes for stream[0..n). */
static size_t expected(const unsigned char *s, size_t n)
{
	size_t count = 0, start = 0;
	const unsigned char *nl;

	while ((nl = memchr(s + start, '\n', n - start)) != NULL) {
		count++;
		start = (size_t)(nl - s) + 1;
	}
	if (n - start > ADMINPROTO_LINE_MAX + 1)
		count++;
	return count;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	loop = ev_loop_new(EVFLAG_AUTO);
	stream = malloc(STREAM_MAX);
	big = malloc(BIG_BODY + 1);
	if (loop == NULL || stream == NULL || big == NULL)
		abort();
	memset(big, 'b', BIG_BODY);
	big[BIG_BODY] = '\0';
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adminproto_reader rd;
	struct adminproto_reply rep;
	enum adminproto_res res;
	struct linesrv *srv = NULL;
	char err[EKL_ERRLEN] = "";
	size_t len, off = 0, replies = 0, want;
	unsigned long next_seq = 0;
	bool shut = false, eof = false;
	char buf[65536];
	int sv[2];
	int turns;

	len = expand(data, size);
	want = expected(stream, len);
	seen = 0;
	n_later = 0;
	if (linesrv_new(loop, handler, NULL, &srv, err) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	if (linesrv_adopt(srv, sv[0], err) != 0)
		abort();
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
	adminproto_reader_init(&rd, 0);

	for (turns = 0; !eof; turns++) {
		ssize_t n;

		FZ_CHECK(turns < 100000,
			 "the server stalled: %zu of %zu responses, %zu of "
			 "%zu bytes written",
			 replies, want, off, len);
		bool wrote = false;

		if (off < len) {
			n = send(sv[1], stream + off, len - off, MSG_NOSIGNAL);
			if (n > 0) {
				off += (size_t)n;
				wrote = true;
			}
		} else if (!shut) {
			shutdown(sv[1], SHUT_WR);
			shut = true;
		}
		ev_run(loop, EVRUN_NOWAIT);
		complete_later();
		ev_run(loop, EVRUN_NOWAIT);
		if (wrote)
			continue; /* read only when stuck, or at the end */
		while ((n = read(sv[1], buf, sizeof(buf))) > 0) {
			FZ_CHECK(adminproto_reader_feed(&rd, buf, (size_t)n) ==
				     0,
				 "the server's output is not responses");
			while ((res = adminproto_reader_next(&rd, &rep)) ==
			       ADMINPROTO_REPLY) {
				unsigned long k;

				if (rep.body[0] == '#') {
					k = strtoul(rep.body + 1, NULL, 10);
					FZ_CHECK(k == next_seq,
						 "response #%lu where #%lu was "
						 "due",
						 k, next_seq);
					next_seq++;
				}
				replies++;
				ekl_free(rep.body);
			}
			FZ_CHECK(res == ADMINPROTO_NEED_MORE, "reader: %s",
				 adminproto_res_name(res));
		}
		if (n == 0)
			eof = true;
		else
			FZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK,
				 "read: %s", strerror(errno));
	}
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr,
			"fuzz_linesrv: %zu bytes, %zu responses, %d turns\n",
			len, replies, turns);
	FZ_CHECK(adminproto_reader_need(&rd) == 1 && rd.len == rd.off,
		 "a response cut short at the close");
	FZ_CHECK(replies == want, "%zu responses for %zu lines", replies, want);
	FZ_CHECK(next_seq == seen, "%lu of the handler's %lu responses",
		 next_seq, seen);
	FZ_CHECK(linesrv_clients(srv) == 0, "the client is still served");
	adminproto_reader_close(&rd);
	linesrv_free(srv);
	close(sv[1]);
	return 0;
}
