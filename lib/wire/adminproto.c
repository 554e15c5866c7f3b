/* adminproto.c: the admin protocol's limits, request lines and replies. */
#include "ekulab/wire/adminproto.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/core/utf8.h"

_Static_assert(sizeof("xConfiguration ") - 1 == 15,
	       "ADMINPROTO_LINE_MAX counts 15 bytes of 'xConfiguration '");
_Static_assert(sizeof("json,ack=primary,timeout=3600000") - 1 <=
		   ADMINPROTO_PREFIX_MAX,
	       "the longest prefix we format fits ADMINPROTO_PREFIX_MAX");

#define USAGE "request must be 'text|json[,ack=all][,timeout=MS] COMMAND'"

/* Below this the reader keeps its buffer between responses. */
#define READER_KEEP_CAP (64u << 10)

/* ---- requests ---- */

/* Digits only, 1..ADMINPROTO_TIMEOUT_MAX. */
static bool parse_ms(const char *s, unsigned *out)
{
	unsigned long v = 0;
	size_t i;

	if (s[0] < '1' || s[0] > '9')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 8)
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > ADMINPROTO_TIMEOUT_MAX)
		return false;
	*out = (unsigned)v;
	return true;
}

int adminproto_line_check(const char *line, size_t len, char *err)
{
	const char *nul = memchr(line, '\0', len);
	size_t ok =
	    utf8_valid_prefix(line, nul != NULL ? (size_t)(nul - line) : len);

	if (ok < (nul != NULL ? (size_t)(nul - line) : len))
		return ekl_errf(
		    err, EKL_EINVAL,
		    "the request is not UTF-8 (byte %zu is 0x%02x); "
		    "the admin protocol is UTF-8 text",
		    ok + 1, (unsigned)(unsigned char)line[ok]);
	if (nul != NULL)
		return ekl_errf(err, EKL_EINVAL,
				"the request contains a NUL byte (byte %zu); "
				"the admin protocol is text without NUL",
				(size_t)(nul - line) + 1);
	return 0;
}

int adminproto_request_parse(char *line, struct adminproto_request *rq,
			     char *err)
{
	char *sp = strchr(line, ' ');
	char *opt, *comma;

	memset(rq, 0, sizeof(*rq));
	if (sp == NULL)
		return ekl_errf(err, EKL_EINVAL, USAGE);
	if ((size_t)(sp - line) > ADMINPROTO_PREFIX_MAX)
		return ekl_errf(err, EKL_EINVAL,
				"the request prefix is over %d bytes; " USAGE,
				ADMINPROTO_PREFIX_MAX);
	*sp = '\0';
	rq->command = sp + 1;
	comma = strchr(line, ',');
	if (comma != NULL)
		*comma = '\0';
	if (strcmp(line, "text") == 0)
		rq->opts.format = ADMINPROTO_TEXT;
	else if (strcmp(line, "json") == 0)
		rq->opts.format = ADMINPROTO_JSON;
	else
		return ekl_errf(err, EKL_EINVAL,
				"unknown format '%.40s'; " USAGE, line);
	for (opt = comma != NULL ? comma + 1 : NULL; opt != NULL; opt = comma) {
		comma = strchr(opt, ',');
		if (comma != NULL)
			*comma++ = '\0';
		rq->has_options = true;
		if (strcmp(opt, "ack=all") == 0)
			rq->opts.ack_all = true;
		else if (strcmp(opt, "ack=primary") == 0)
			rq->opts.ack_all = false;
		else if (strncmp(opt, "timeout=", 8) == 0) {
			if (!parse_ms(opt + 8, &rq->opts.timeout_ms))
				return ekl_errf(err, EKL_EINVAL,
						"%.40s: the timeout is "
						"milliseconds, 1-%d",
						opt, ADMINPROTO_TIMEOUT_MAX);
		} else
			return ekl_errf(err, EKL_EINVAL,
					"unknown option '%.40s'; " USAGE, opt);
	}
	return 0;
}

void adminproto_prefix_format(const struct adminproto_opts *o, char *buf,
			      size_t len)
{
	int n = snprintf(buf, len, "%s%s",
			 o->format == ADMINPROTO_JSON ? "json" : "text",
			 o->ack_all ? ",ack=all" : "");

	if (o->timeout_ms > 0 && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ",timeout=%u",
			 o->timeout_ms);
}

int adminproto_line_too_long(char *err)
{
	return ekl_errf(err, EKL_ETOOBIG,
			"request line over the admin protocol's limit of %d "
			"bytes (a %d-byte path and a %d-byte value fit)",
			ADMINPROTO_LINE_MAX, ADMINPROTO_KEY_MAX,
			ADMINPROTO_VALUE_MAX);
}

int adminproto_line_new(const char *prefix, const char *command, char **line,
			size_t *len, char *err)
{
	size_t p = strlen(prefix), c = strlen(command), n = p + 1 + c;
	char *s;

	*line = NULL;
	if (strpbrk(prefix, "\r\n") != NULL || strpbrk(command, "\r\n"))
		return ekl_errf(err, EKL_EINVAL,
				"an admin request must be one line: '%.80s'",
				command);
	if (n > ADMINPROTO_LINE_MAX)
		return adminproto_line_too_long(err);
	if (adminproto_line_check(prefix, p, err) != 0 ||
	    adminproto_line_check(command, c, err) != 0)
		return EKL_EINVAL;
	s = ekl_malloc(n + 2);
	if (s == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	memcpy(s, prefix, p);
	s[p] = ' ';
	memcpy(s + p + 1, command, c);
	s[n] = '\n';
	s[n + 1] = '\0';
	*line = s;
	*len = n + 1;
	return 0;
}

int adminproto_request_new(const struct adminproto_opts *o, const char *command,
			   char **line, size_t *len, char *err)
{
	char prefix[ADMINPROTO_PREFIX_MAX + 1];

	adminproto_prefix_format(o, prefix, sizeof(prefix));
	return adminproto_line_new(prefix, command, line, len, err);
}

/* ---- responses ---- */

size_t adminproto_reply_header(char *buf, bool ok, size_t body_len)
{
	int n = snprintf(buf, ADMINPROTO_HDR_MAX, "%s %zu\n", ok ? "ok" : "err",
			 body_len);

	return n > 0 ? (size_t)n : 0;
}

void adminproto_reader_init(struct adminproto_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max == 0 ? ADMINPROTO_BODY_MAX : max;
	r->err = ADMINPROTO_NEED_MORE;
}

void adminproto_reader_close(struct adminproto_reader *r)
{
	if (r == NULL)
		return;
	ekl_free(r->buf);
	r->buf = NULL;
	r->off = r->len = r->cap = 0;
}

static enum adminproto_res fail(struct adminproto_reader *r,
				enum adminproto_res res)
{
	r->err = res;
	adminproto_reader_close(r);
	return res;
}

/* Judge the header at buf[off]: NEED_MORE without its newline yet,
 * REPLY with *hdr_len and *body_len set when it is well formed, else the
 * error. */
static enum adminproto_res judge_header(const struct adminproto_reader *r,
					bool *ok, size_t *hdr_len,
					size_t *body_len)
{
	const char *h = r->buf + r->off;
	size_t avail = r->len - r->off, look, i, d;
	const char *nl;
	uint64_t n = 0;

	look = avail < ADMINPROTO_HDR_MAX ? avail : ADMINPROTO_HDR_MAX;
	nl = look > 0 ? memchr(h, '\n', look) : NULL;
	if (nl == NULL)
		return avail >= ADMINPROTO_HDR_MAX ? ADMINPROTO_ERR_HEADER
						   : ADMINPROTO_NEED_MORE;
	if (nl - h > 3 && memcmp(h, "ok ", 3) == 0) {
		*ok = true;
		i = 3;
	} else if (nl - h > 4 && memcmp(h, "err ", 4) == 0) {
		*ok = false;
		i = 4;
	} else {
		return ADMINPROTO_ERR_HEADER;
	}
	/* Decimal, no sign, no leading zero (but "0"), at most 12 digits. */
	if (h[i] == '0' && h + i + 1 != nl)
		return ADMINPROTO_ERR_HEADER;
	for (d = 0; h + i < nl; i++, d++) {
		if (h[i] < '0' || h[i] > '9' || d >= 12)
			return ADMINPROTO_ERR_HEADER;
		n = n * 10 + (uint64_t)(h[i] - '0');
	}
	if (n > r->max)
		return ADMINPROTO_ERR_TOO_BIG;
	*hdr_len = (size_t)(nl - h) + 1;
	*body_len = (size_t)n;
	return ADMINPROTO_REPLY;
}

static int res_code(enum adminproto_res res)
{
	return res == ADMINPROTO_ERR_TOO_BIG ? EKL_ETOOBIG : EKL_EPROTO;
}

/* Room for need unconsumed bytes (need >= those held), compacting
 * first. */
static int reserve(struct adminproto_reader *r, size_t need)
{
	size_t have = r->len - r->off, cap;
	char *nb;

	if (r->off + need <= r->cap)
		return 0;
	if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, have);
		r->len = have;
		r->off = 0;
		if (need <= r->cap)
			return 0;
	}
	cap = r->cap ? r->cap : 4096;
	while (cap < need)
		cap *= 2;
	nb = ekl_realloc(r->buf, cap);
	if (nb == NULL)
		return EKL_ENOMEM;
	r->buf = nb;
	r->cap = cap;
	return 0;
}

int adminproto_reader_feed(struct adminproto_reader *r, const void *data,
			   size_t len)
{
	enum adminproto_res res;
	size_t hdr, body;
	bool ok;

	if (r->err != ADMINPROTO_NEED_MORE)
		return res_code(r->err);
	if (len == 0)
		return 0;
	if (reserve(r, r->len - r->off + len) != 0)
		return EKL_ENOMEM;
	memcpy(r->buf + r->len, data, len);
	r->len += len;
	/* Judge the pending header now: a bad stream is refused before its
	 * body is buffered, let alone allocated. */
	res = judge_header(r, &ok, &hdr, &body);
	if (res == ADMINPROTO_ERR_HEADER || res == ADMINPROTO_ERR_TOO_BIG)
		return res_code(fail(r, res));
	return 0;
}

enum adminproto_res adminproto_reader_next(struct adminproto_reader *r,
					   struct adminproto_reply *reply)
{
	enum adminproto_res res;
	size_t hdr = 0, body = 0;
	bool ok = false;
	char *b;

	memset(reply, 0, sizeof(*reply));
	if (r->err != ADMINPROTO_NEED_MORE)
		return r->err;
	if (r->buf == NULL)
		return ADMINPROTO_NEED_MORE;
	res = judge_header(r, &ok, &hdr, &body);
	if (res == ADMINPROTO_NEED_MORE)
		return res;
	if (res != ADMINPROTO_REPLY)
		return fail(r, res);
	if (r->len - r->off < hdr + body) {
		/* Make room for the whole response at once (its length is
		 * judged above). */
		if (reserve(r, hdr + body) != 0)
			return ADMINPROTO_ERR_NOMEM;
		return ADMINPROTO_NEED_MORE;
	}
	b = ekl_malloc(body + 1);
	if (b == NULL)
		return ADMINPROTO_ERR_NOMEM;
	memcpy(b, r->buf + r->off + hdr, body);
	b[body] = '\0';
	r->off += hdr + body;
	if (r->off == r->len) {
		r->off = r->len = 0;
		if (r->cap > READER_KEEP_CAP)
			adminproto_reader_close(r);
	}
	reply->ok = ok;
	reply->body = b;
	reply->len = body;
	return ADMINPROTO_REPLY;
}

size_t adminproto_reader_need(const struct adminproto_reader *r)
{
	size_t hdr = 0, body = 0, have;
	bool ok;

	if (r->err != ADMINPROTO_NEED_MORE)
		return 0;
	if (r->buf == NULL)
		return 1;
	switch (judge_header(r, &ok, &hdr, &body)) {
	case ADMINPROTO_NEED_MORE: return 1;
	case ADMINPROTO_REPLY: break;
	default: return 0;
	}
	have = r->len - r->off;
	return have >= hdr + body ? 0 : hdr + body - have;
}

const char *adminproto_res_name(enum adminproto_res res)
{
	switch (res) {
	case ADMINPROTO_NEED_MORE: return "need-more";
	case ADMINPROTO_REPLY: return "reply";
	case ADMINPROTO_ERR_HEADER: return "bad-header";
	case ADMINPROTO_ERR_TOO_BIG: return "too-big";
	case ADMINPROTO_ERR_NOMEM: return "out-of-memory";
	}
	return "unknown";
}
