/* frame.c: u32 big-endian length + protobuf-c Envelope, incremental decoder. */
#include "ekulab/wire/frame.h"

#include <string.h>

#include "ekulab/core/be32.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"

/*
 * Decoder invariants:
 *  1. buf[off..off+len) holds the unconsumed bytes; buf[off] is always the
 *     first byte of a frame header. Taking a frame only moves off on, so
 *     many small frames in one read cost no copying (moving what remains
 *     to the front after every frame made that quadratic); the remaining
 *     bytes move to the front only when a feed needs the room.
 *  2. cap <= FRAME_HDR + max: a header announcing more than max is refused
 *     before anything is allocated for its payload.
 *  3. Once err is not FRAME_NEED_MORE it never changes back; feed and next
 *     keep reporting it until frame_dec_close.
 */

/* Below this the buffer is kept between frames; above it, it is released
 * once empty so one large frame does not pin memory for the link's life. */
#define FRAME_KEEP_CAP 4096u

int frame_pack(const Ekl__Envelope *env, size_t max, uint8_t **out, size_t *len)
{
	size_t size;
	size_t packed;
	uint8_t *buf;

	size = ekl__envelope__get_packed_size(env);
	if (size == 0)
		return EKL_EPROTO; /* an empty Envelope means nothing */
	if (size > max || size > UINT32_MAX)
		return EKL_ETOOBIG;
	buf = ekl_malloc(FRAME_HDR + size);
	if (buf == NULL)
		return EKL_ENOMEM;
	packed = ekl__envelope__pack(env, buf + FRAME_HDR);
	if (packed != size)
		goto err_after_alloc;
	ekl_put_be32(buf, (uint32_t)size);
	*out = buf;
	*len = FRAME_HDR + size;
	return 0;

err_after_alloc:
	ekl_free(buf);
	return EKL_EPROTO;
}

void frame_dec_init(struct frame_dec *d, size_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = max > UINT32_MAX ? UINT32_MAX : max;
	d->err = FRAME_NEED_MORE;
}

void frame_dec_close(struct frame_dec *d)
{
	if (d == NULL)
		return;
	ekl_free(d->buf);
	d->buf = NULL;
	d->off = 0;
	d->len = 0;
	d->cap = 0;
}

/* Judge an announced payload length: NEED_MORE when acceptable. */
static enum frame_res check_len(const struct frame_dec *d, uint32_t n)
{
	if (n == 0)
		return FRAME_ERR_ZERO;
	if (n > d->max)
		return FRAME_ERR_TOO_BIG;
	return FRAME_NEED_MORE;
}

/* Enter the sticky error state; the buffered bytes are no longer needed. */
static enum frame_res fail(struct frame_dec *d, enum frame_res r)
{
	d->err = r;
	frame_dec_close(d);
	return r;
}

static int res_code(enum frame_res r)
{
	return r == FRAME_ERR_TOO_BIG ? EKL_ETOOBIG : EKL_EPROTO;
}

int frame_dec_feed(struct frame_dec *d, const void *data, size_t len)
{
	const uint8_t *in = data;
	size_t limit = FRAME_HDR + d->max;
	size_t need;
	uint8_t *nb;
	size_t cap;

	if (d->err != FRAME_NEED_MORE)
		return res_code(d->err);
	if (len == 0)
		return 0;
	/* Judge the pending header as soon as it is complete, before any
	 * allocation for its payload. */
	if (d->len < FRAME_HDR && d->len + len >= FRAME_HDR) {
		uint8_t hdr[FRAME_HDR];
		enum frame_res r;

		if (d->len > 0)
			memcpy(hdr, d->buf + d->off, d->len);
		memcpy(hdr + d->len, in, FRAME_HDR - d->len);
		r = check_len(d, ekl_get_be32(hdr));
		if (r != FRAME_NEED_MORE)
			return res_code(fail(d, r));
	}
	/* The unconsumed bytes never exceed one maximal frame; a caller that
	 * drains with frame_dec_next before each feed stays under it unless a
	 * single read is larger than the room left. */
	if (len > limit - d->len)
		return res_code(fail(d, FRAME_ERR_TOO_BIG));
	need = d->len + len;
	if (d->off > 0 && d->off + need > d->cap) {
		/* Make room at the end: the unconsumed bytes go to the front
		 * (at most one partial frame, once per feed). */
		memmove(d->buf, d->buf + d->off, d->len);
		d->off = 0;
	}
	if (d->off + need > d->cap) {
		cap = d->cap ? d->cap : 256;
		while (cap < need)
			cap = cap > limit / 2 ? limit : cap * 2;
		if (cap > limit)
			cap = limit;
		nb = ekl_realloc(d->buf, cap);
		if (nb == NULL)
			return EKL_ENOMEM;
		d->buf = nb;
		d->cap = cap;
	}
	memcpy(d->buf + d->off + d->len, in, len);
	d->len = need;
	return 0;
}

enum frame_res frame_dec_next(struct frame_dec *d, Ekl__Envelope **env)
{
	Ekl__Envelope *e;
	enum frame_res r;
	size_t whole;
	uint32_t n;

	*env = NULL;
	if (d->err != FRAME_NEED_MORE)
		return d->err;
	if (d->len < FRAME_HDR)
		return FRAME_NEED_MORE;
	n = ekl_get_be32(d->buf + d->off);
	r = check_len(d, n);
	if (r != FRAME_NEED_MORE)
		return fail(d, r);
	whole = FRAME_HDR + (size_t)n;
	if (d->len < whole)
		return FRAME_NEED_MORE;
	e = ekl__envelope__unpack(NULL, n, d->buf + d->off + FRAME_HDR);
	if (e == NULL)
		return fail(d, FRAME_ERR_DECODE);
	if (e->msg_case == EKL__ENVELOPE__MSG__NOT_SET) {
		ekl__envelope__free_unpacked(e, NULL);
		return fail(d, FRAME_ERR_DECODE);
	}
	d->len -= whole;
	d->off += whole;
	if (d->len == 0) {
		d->off = 0;
		if (d->cap > FRAME_KEEP_CAP)
			frame_dec_close(d);
	}
	*env = e;
	return FRAME_READY;
}

const char *frame_res_name(enum frame_res r)
{
	switch (r) {
	case FRAME_NEED_MORE: return "need-more";
	case FRAME_READY: return "ready";
	case FRAME_ERR_TOO_BIG: return "too-big";
	case FRAME_ERR_ZERO: return "zero-length";
	case FRAME_ERR_DECODE: return "undecodable";
	}
	return "unknown";
}
