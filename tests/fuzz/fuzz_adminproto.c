/* fuzz_adminproto.c: the admin protocol (lib/wire/adminproto.c): the
 * request-line parser every admin and proxy control request goes through,
 * and the response reader every client reads a server with.
 *
 * Input: the first line (up to '\n') is a request line; everything after
 * it is a response stream.
 *
 * Properties checked on every input:
 *  - a parsed request has a known format, a timeout within
 *    1..ADMINPROTO_TIMEOUT_MAX (or 0), a command inside the line; the
 *    request written back from its options (adminproto_request_new) parses
 *    to the same options and command; a refusal has a message;
 *  - the reader gives the same replies and the same end whether the
 *    stream arrives in random pieces or is read as a blocking client does
 *    (exactly adminproto_reader_need() bytes at a time), and in the latter
 *    case it never holds a byte of the next response after a reply;
 *  - bodies are NUL-terminated with len bytes; errors are sticky; no leak.
 */
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/adminproto.h"
#include "fuzzutil.h"

#define MAX_REPLIES 256
#define READER_MAX  (1u << 20)

struct replies {
	size_t n;
	size_t len[MAX_REPLIES];
	bool ok[MAX_REPLIES];
	uint32_t sum[MAX_REPLIES];
	enum adminproto_res end;
};

static uint32_t checksum(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

static void request(const uint8_t *data, size_t size)
{
	struct adminproto_request rq, rq2;
	char err[EKL_ERRLEN] = "";
	char *line = fz_strndup(data, size);
	char *again = NULL;
	size_t len = 0, n = strlen(line);
	int rc;

	rc = adminproto_request_parse(line, &rq, err);
	if (rc != 0) {
		FZ_CHECK(rc == EKL_EINVAL && err[0] != '\0',
			 "refusal %d without a message", rc);
		ekl_free(line);
		return;
	}
	FZ_CHECK(rq.opts.format == ADMINPROTO_TEXT ||
		     rq.opts.format == ADMINPROTO_JSON,
		 "format %d", (int)rq.opts.format);
	FZ_CHECK(rq.opts.timeout_ms <= ADMINPROTO_TIMEOUT_MAX, "timeout %u",
		 rq.opts.timeout_ms);
	FZ_CHECK(rq.command > line && rq.command <= line + n,
		 "command outside the line");
	rc = adminproto_request_new(&rq.opts, rq.command, &again, &len, err);
	if (rc == EKL_ENOMEM)
		abort();
	if (rc == 0) {
		FZ_CHECK(len > 0 && again[len - 1] == '\n', "no newline");
		again[len - 1] = '\0';
		rc = adminproto_request_parse(again, &rq2, err);
		FZ_CHECK(rc == 0, "our own request line is refused: %s", err);
		FZ_CHECK(rq2.opts.format == rq.opts.format &&
			     rq2.opts.ack_all == rq.opts.ack_all &&
			     rq2.opts.timeout_ms == rq.opts.timeout_ms,
			 "options changed in a round trip");
		FZ_CHECK(strcmp(rq2.command, rq.command) == 0,
			 "command changed in a round trip");
	} else {
		FZ_CHECK(rc == EKL_ETOOBIG || rc == EKL_EINVAL,
			 "request_new: %d", rc);
	}
	ekl_free(again);
	ekl_free(line);
}

static void take(struct adminproto_reply *rep, struct replies *out)
{
	FZ_CHECK(rep->body != NULL && rep->body[rep->len] == '\0',
		 "a body not NUL-terminated");
	if (out->n < MAX_REPLIES) {
		out->len[out->n] = rep->len;
		out->ok[out->n] = rep->ok;
		out->sum[out->n] = checksum(rep->body, rep->len);
	}
	out->n++;
	ekl_free(rep->body);
}

/* Drain replies; returns the reader's state after. */
static enum adminproto_res drain(struct adminproto_reader *r,
				 struct replies *out, bool blocking)
{
	struct adminproto_reply rep;
	enum adminproto_res res;

	while ((res = adminproto_reader_next(r, &rep)) == ADMINPROTO_REPLY) {
		take(&rep, out);
		if (blocking)
			FZ_CHECK(r->len - r->off == 0,
				 "holds %zu bytes of the next response",
				 r->len - r->off);
	}
	FZ_CHECK(res != ADMINPROTO_ERR_NOMEM, "out of memory");
	FZ_CHECK(rep.body == NULL, "a body with %s", adminproto_res_name(res));
	return res;
}

static void read_stream(const uint8_t *data, size_t size, uint32_t seed,
			bool blocking, struct replies *out)
{
	struct adminproto_reader r;
	enum adminproto_res res = ADMINPROTO_NEED_MORE;
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	/* 1 MiB rather than the default 256 MiB: the same code, but a header
	 * announcing a huge body does not make every run allocate it. */
	adminproto_reader_init(&r, READER_MAX);
	while (off < size) {
		size_t n;
		int rc;

		if (blocking) {
			n = adminproto_reader_need(&r);
			FZ_CHECK(n > 0, "need 0 with nothing to take");
		} else {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 300;
		}
		if (n > size - off)
			n = size - off;
		rc = adminproto_reader_feed(&r, data + off, n);
		FZ_CHECK(rc != EKL_ENOMEM, "out of memory");
		off += n;
		res = drain(&r, out, blocking);
		if (res != ADMINPROTO_NEED_MORE || rc != 0) {
			struct adminproto_reply rep;

			FZ_CHECK(res != ADMINPROTO_NEED_MORE,
				 "feed refused (%d), next says need-more", rc);
			FZ_CHECK(adminproto_reader_feed(&r, "x", 1) != 0,
				 "feed accepted after %s",
				 adminproto_res_name(res));
			FZ_CHECK(adminproto_reader_next(&r, &rep) == res,
				 "the error did not stay");
			FZ_CHECK(adminproto_reader_need(&r) == 0,
				 "need > 0 after an error");
			break;
		}
	}
	out->end = res;
	adminproto_reader_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct replies a, b;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t first = nl != NULL ? (size_t)(nl - data) : size;
	size_t i;

	request(data, first);
	if (nl == NULL)
		return 0;
	data += first + 1;
	size -= first + 1;
	read_stream(data, size, 0, true, &a);
	read_stream(data, size, (uint32_t)size, false, &b);
	FZ_CHECK(a.end == b.end, "blocking ends in %s, pieces in %s",
		 adminproto_res_name(a.end), adminproto_res_name(b.end));
	FZ_CHECK(a.n == b.n, "blocking read %zu replies, pieces %zu", a.n, b.n);
	for (i = 0; i < a.n && i < MAX_REPLIES; i++)
		FZ_CHECK(a.len[i] == b.len[i] && a.ok[i] == b.ok[i] &&
			     a.sum[i] == b.sum[i],
			 "reply %zu differs", i);
	return 0;
}
