/* fuzz_frame.c: the frame decoder (lib/wire/frame.c) and the Envelopes it
 * hands out, on any byte stream a peer can send after the handshake.
 *
 * Input: byte 0 picks the read sizes (a seed) and, when its top bit is
 * set, a small maximum payload (so the too-big path is reached with short
 * inputs); the rest is the stream.
 *
 * Properties checked on every input:
 *  - the decoder's buffer never exceeds FRAME_HDR + max;
 *  - once an error is reported it stays: feed and next keep reporting it;
 *  - with the 1 MiB maximum, reading the stream in random pieces gives the
 *    same frames and the same final result as reading it a byte at a time;
 *  - every decoded Envelope packs again (frame_pack), and when what it
 *    packs to decodes, that packs to the same bytes;
 *  - no sanitizer report, no leak.
 */
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/frame.h"
#include "fuzzutil.h"

#define MAX_FRAMES 512

struct run {
	size_t n_frames;
	size_t sizes[MAX_FRAMES]; /* packed size of each frame, re-packed */
	uint32_t sums[MAX_FRAMES];
	enum frame_res end; /* NEED_MORE or the error */
};

/* Touch every field a node reads, the way its handlers do. */
static size_t visit(const Ekl__Envelope *e)
{
	size_t n = 0, i;

	switch (e->msg_case) {
	case EKL__ENVELOPE__MSG_HELLO:
		n += strlen(e->hello->cluster) + strlen(e->hello->node) +
		     strlen(e->hello->version) + strlen(e->hello->role);
		break;
	case EKL__ENVELOPE__MSG_BYE:
		n += strlen(e->bye->code) + strlen(e->bye->message);
		break;
	case EKL__ENVELOPE__MSG_REPL_STATE:
		n += strlen(e->repl_state->primary);
		break;
	case EKL__ENVELOPE__MSG_BATCH:
		for (i = 0; i < e->batch->n_changes; i++)
			n += e->batch->changes[i]->path.len +
			     e->batch->changes[i]->value.len;
		break;
	case EKL__ENVELOPE__MSG_SNAP_BEGIN:
		n += e->snap_begin->digest.len;
		break;
	case EKL__ENVELOPE__MSG_SNAP_CHUNK:
		for (i = 0; i < e->snap_chunk->n_paths; i++)
			n += e->snap_chunk->paths[i].len;
		for (i = 0; i < e->snap_chunk->n_values; i++)
			n += e->snap_chunk->values[i].len;
		break;
	default: break;
	}
	return n;
}

static uint32_t checksum(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Pack e, decode that, pack again: both packs succeed and agree. */
static void repack(const Ekl__Envelope *e, size_t max, struct run *r)
{
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	Ekl__Envelope *again;
	int rc;

	(void)visit(e);
	rc = frame_pack(e, max > FRAME_MAX_DEFAULT ? max : FRAME_MAX_DEFAULT,
			&a, &alen);
	if (rc == EKL_ENOMEM)
		abort();
	FZ_CHECK(rc == 0, "a decoded Envelope does not pack: %d", rc);
	/* protobuf-c 1.4.1 keeps an unknown field whose tag is an over-long
	 * varint of field number 0 and packs it back as a tag it refuses:
	 * only a re-packed Envelope that decodes must be a fixed point.
	 * (ekunode never sends an Envelope it received.) */
	again = ekl__envelope__unpack(NULL, alen - FRAME_HDR, a + FRAME_HDR);
	if (again != NULL) {
		rc = frame_pack(again, FRAME_MAX_DEFAULT, &b, &blen);
		FZ_CHECK(rc == 0, "a re-decoded Envelope does not pack: %d",
			 rc);
		FZ_CHECK(alen == blen && memcmp(a, b, alen) == 0,
			 "pack(unpack(pack(e))) differs from pack(e)");
	}
	if (r->n_frames < MAX_FRAMES) {
		r->sizes[r->n_frames] = alen;
		r->sums[r->n_frames] = checksum(a, alen);
	}
	r->n_frames++;
	ekl__envelope__free_unpacked(again, NULL);
	ekl_free(a);
	ekl_free(b);
}

/* Drain every ready frame; returns the decoder's state after. */
static enum frame_res drain(struct frame_dec *d, struct run *r)
{
	Ekl__Envelope *e;
	enum frame_res res;

	while ((res = frame_dec_next(d, &e)) == FRAME_READY) {
		FZ_CHECK(e != NULL, "FRAME_READY without an Envelope");
		repack(e, d->max, r);
		ekl__envelope__free_unpacked(e, NULL);
	}
	FZ_CHECK(e == NULL, "an Envelope handed out with %s",
		 frame_res_name(res));
	return res;
}

/* Feed data in pieces (sizes from *seed; 1 each when seed is NULL). */
static void decode(const uint8_t *data, size_t size, size_t max, uint32_t *seed,
		   struct run *r)
{
	struct frame_dec d;
	enum frame_res res = FRAME_NEED_MORE;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	frame_dec_init(&d, max);
	while (off < size) {
		size_t n = 1;
		int rc;

		if (seed != NULL) {
			*seed = *seed * 1103515245u + 12345u;
			n = 1 + (*seed >> 16) % 700;
		}
		if (n > size - off)
			n = size - off;
		rc = frame_dec_feed(&d, data + off, n);
		if (rc == EKL_ENOMEM)
			abort();
		off += n;
		FZ_CHECK(d.cap <= FRAME_HDR + d.max,
			 "buffer of %zu bytes for a maximum of %zu", d.cap,
			 d.max);
		res = drain(&d, r);
		if (res != FRAME_NEED_MORE) {
			/* Sticky: both calls keep reporting it. */
			Ekl__Envelope *e;

			FZ_CHECK(frame_dec_feed(&d, "x", 1) != 0,
				 "feed accepted after %s", frame_res_name(res));
			FZ_CHECK(frame_dec_next(&d, &e) == res && e == NULL,
				 "the error %s did not stay",
				 frame_res_name(res));
			break;
		}
		if (rc != 0) {
			/* feed refused (room): next must say why. */
			FZ_CHECK(res != FRAME_NEED_MORE,
				 "feed refused (%d) but next says need-more",
				 rc);
			break;
		}
	}
	r->end = res;
	frame_dec_close(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run a, b;
	uint32_t seed;
	size_t max;

	if (size < 1)
		return 0;
	seed = data[0];
	max = (data[0] & 0x80) ? 16 + (data[0] & 0x7f) : FRAME_MAX_DEFAULT;
	data++;
	size--;
	decode(data, size, max, &seed, &a);
	if (max != FRAME_MAX_DEFAULT)
		return 0;
	decode(data, size, max, NULL, &b);
	FZ_CHECK(a.end == b.end, "pieces end in %s, bytes in %s",
		 frame_res_name(a.end), frame_res_name(b.end));
	FZ_CHECK(a.n_frames == b.n_frames, "pieces gave %zu frames, bytes %zu",
		 a.n_frames, b.n_frames);
	for (size_t i = 0; i < a.n_frames && i < MAX_FRAMES; i++)
		FZ_CHECK(a.sizes[i] == b.sizes[i] && a.sums[i] == b.sums[i],
			 "frame %zu differs between pieces and bytes", i);
	return 0;
}
