/* frame.h: u32 big-endian length + protobuf-c Envelope, decoded incrementally.
 */
#ifndef EKULAB_FRAME_H
#define EKULAB_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "ekulab.pb-c.h"

#define FRAME_MAX_DEFAULT (1u << 20) /* 1 MiB payload */
#define FRAME_HDR	  4u
/* How many bytes of rows (path + value) a sender puts into one frame (a
 * replication batch, a snapshot chunk) before it starts the next one. A
 * quarter of the maximum: the rows' encoding overhead and one row of the
 * largest size the admin protocol allows, sent alone, still fit
 * (static assertions next to the senders check it). */
#define FRAME_ROWS_BYTES (FRAME_MAX_DEFAULT / 4)

/* Pack env into a new buffer: 4-byte length then payload. Refuses a payload
 * over max (EKL_ETOOBIG) or of length 0, i.e. an empty Envelope (EKL_EPROTO).
 * *out is owned by the caller (ekl_free). */
int frame_pack(const Ekl__Envelope *env, size_t max, uint8_t **out,
	       size_t *len);

enum frame_res {
	FRAME_NEED_MORE = 0, /* not a whole frame yet */
	FRAME_READY,	     /* *env holds one decoded message */
	FRAME_ERR_TOO_BIG,   /* announced length over the maximum */
	FRAME_ERR_ZERO,	     /* announced length 0 */
	FRAME_ERR_DECODE,    /* payload is not an Envelope */
};

/* Incremental decoder. The buffer never grows past FRAME_HDR + max. */
struct frame_dec {
	uint8_t *buf; /* owned */
	size_t off;   /* the unconsumed bytes are buf[off..off+len) */
	size_t len;
	size_t cap;
	size_t max;
	enum frame_res err; /* sticky; FRAME_NEED_MORE while healthy */
};

void frame_dec_init(struct frame_dec *d, size_t max);
void frame_dec_close(struct frame_dec *d);
/* Append received bytes. Returns 0, EKL_ENOMEM, or EKL_ETOOBIG when the
 * bytes cannot belong to a frame of at most max (call frame_dec_next to see
 * the frame-level error first). */
int frame_dec_feed(struct frame_dec *d, const void *data, size_t len);
/* Take the next frame. On FRAME_READY, *env is owned by the caller
 * (ekl__envelope__free_unpacked(env, NULL)). After an error the decoder is
 * unusable: close the link. */
enum frame_res frame_dec_next(struct frame_dec *d, Ekl__Envelope **env);
const char *frame_res_name(enum frame_res r);

#endif
