/* test_frame.c: frame packing and the incremental decoder. */
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/wire/frame.h"
#include "ekulab/core/mem.h"
#include "testutil.h"

/* Envelope builders: the pieces live in the caller's storage. */
struct msgs {
	Ekl__Hello hello;
	Ekl__Heartbeat hb;
	Ekl__Bye bye;
	Ekl__Envelope env;
};

static Ekl__Envelope *mk_hello(struct msgs *m)
{
	ekl__hello__init(&m->hello);
	ekl__envelope__init(&m->env);
	m->hello.proto_version = 3;
	m->hello.cluster = "lab";
	m->hello.node = "exp-c1.example.com";
	m->hello.version = "X15.3.2";
	m->hello.role = "c";
	m->env.msg_case = EKL__ENVELOPE__MSG_HELLO;
	m->env.hello = &m->hello;
	return &m->env;
}

static Ekl__Envelope *mk_hb(struct msgs *m, uint64_t seq)
{
	ekl__heartbeat__init(&m->hb);
	ekl__envelope__init(&m->env);
	m->hb.seq = seq;
	m->env.msg_case = EKL__ENVELOPE__MSG_HEARTBEAT;
	m->env.heartbeat = &m->hb;
	return &m->env;
}

static Ekl__Envelope *mk_bye(struct msgs *m, const char *code, const char *msg)
{
	ekl__bye__init(&m->bye);
	ekl__envelope__init(&m->env);
	m->bye.code = (char *)code;
	m->bye.message = (char *)msg;
	m->env.msg_case = EKL__ENVELOPE__MSG_BYE;
	m->env.bye = &m->bye;
	return &m->env;
}

/* A string of n 'x' characters; caller frees with free(). */
static char *xs(size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, 'x', n);
	s[n] = '\0';
	return s;
}

/* Pack env with the default maximum, asserting success. */
static uint8_t *pack_ok(const Ekl__Envelope *env, size_t *len)
{
	uint8_t *buf = NULL;

	ck_assert_int_eq(frame_pack(env, FRAME_MAX_DEFAULT, &buf, len), 0);
	ck_assert_ptr_nonnull(buf);
	return buf;
}

/* Feed a whole buffer and take exactly one frame from it. */
static Ekl__Envelope *roundtrip(const Ekl__Envelope *env)
{
	struct frame_dec d;
	Ekl__Envelope *out = NULL;
	uint8_t *buf;
	size_t len;

	buf = pack_ok(env, &len);
	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	ck_assert_int_eq(frame_dec_feed(&d, buf, len), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(d.len, 0);
	ck_assert_int_eq(frame_dec_next(&d, &(Ekl__Envelope *){NULL}),
			 FRAME_NEED_MORE);
	frame_dec_close(&d);
	ekl_free(buf);
	return out;
}

static void teardown(void)
{
	ekl_mem_fail_after(-1);
}

/* ---- frame_pack ---- */

START_TEST(pack_header_big_endian)
{
	struct msgs m;
	uint8_t *buf;
	size_t len;
	char *s;

	/* Envelope{bye{message}}: 1+3 bytes of envelope tag/length, 1+3 of
	 * bye field tag/length, then the string: 0x010203 = 8 + 66043. */
	s = xs(66043);
	mk_bye(&m, "", s);
	ck_assert_uint_eq(ekl__envelope__get_packed_size(&m.env), 0x010203);
	buf = pack_ok(&m.env, &len);
	ck_assert_uint_eq(len, FRAME_HDR + 0x010203);
	ck_assert_uint_eq(buf[0], 0x00);
	ck_assert_uint_eq(buf[1], 0x01);
	ck_assert_uint_eq(buf[2], 0x02);
	ck_assert_uint_eq(buf[3], 0x03);
	ck_assert_uint_eq(buf[4], 0x1a); /* field 3 (bye), length-delimited */
	ekl_free(buf);
	free(s);
}
END_TEST

START_TEST(pack_small_header)
{
	struct msgs m;
	uint8_t *buf;
	size_t len;

	/* Heartbeat{seq=1}: 12 02 08 01 */
	buf = pack_ok(mk_hb(&m, 1), &len);
	ck_assert_uint_eq(len, 8);
	ck_assert_mem_eq(buf, "\x00\x00\x00\x04\x12\x02\x08\x01", 8);
	ekl_free(buf);
}
END_TEST

START_TEST(pack_too_big)
{
	struct msgs m;
	uint8_t *buf = NULL;
	size_t len = 0;
	size_t size;

	mk_hello(&m);
	size = ekl__envelope__get_packed_size(&m.env);
	ck_assert_int_eq(frame_pack(&m.env, size - 1, &buf, &len), EKL_ETOOBIG);
	ck_assert_ptr_null(buf);
	ck_assert_int_eq(frame_pack(&m.env, size, &buf, &len), 0);
	ck_assert_uint_eq(len, FRAME_HDR + size);
	ekl_free(buf);
}
END_TEST

START_TEST(pack_empty_envelope)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	uint8_t *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(frame_pack(&env, FRAME_MAX_DEFAULT, &buf, &len),
			 EKL_EPROTO);
	ck_assert_ptr_null(buf);
}
END_TEST

START_TEST(pack_oom)
{
	struct msgs m;
	uint8_t *buf = NULL;
	size_t len = 0;

	ekl_mem_fail_after(0);
	ck_assert_int_eq(
	    frame_pack(mk_hello(&m), FRAME_MAX_DEFAULT, &buf, &len),
	    EKL_ENOMEM);
	ck_assert_ptr_null(buf);
	ekl_mem_fail_after(-1);
}
END_TEST

/* ---- frame_dec_feed ---- */

START_TEST(feed_oversize_refused_before_alloc)
{
	static const uint8_t hdr[] = {0x7f, 0xff, 0xff, 0xff};
	struct frame_dec d;
	Ekl__Envelope *out;

	frame_dec_init(&d, 1024);
	ck_assert_int_eq(frame_dec_feed(&d, hdr, sizeof(hdr)), EKL_ETOOBIG);
	ck_assert_uint_eq(d.cap, 0);
	ck_assert_ptr_null(d.buf);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_TOO_BIG);
	ck_assert_ptr_null(out);
	frame_dec_close(&d);
}
END_TEST

START_TEST(feed_oversize_split_header)
{
	static const uint8_t hdr[] = {0x00, 0x10, 0x00, 0x01};
	struct frame_dec d;
	Ekl__Envelope *out;
	uint8_t junk[512];

	/* Announced 1 MiB + 1 arrives two bytes at a time; the decoder must
	 * never make room for the payload. */
	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	ck_assert_int_eq(frame_dec_feed(&d, hdr, 2), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_NEED_MORE);
	ck_assert_int_eq(frame_dec_feed(&d, hdr + 2, 2), EKL_ETOOBIG);
	ck_assert_uint_le(d.cap, 256);
	memset(junk, 0, sizeof(junk));
	ck_assert_int_eq(frame_dec_feed(&d, junk, sizeof(junk)), EKL_ETOOBIG);
	ck_assert_uint_le(d.cap, 256);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_TOO_BIG);
	frame_dec_close(&d);
}
END_TEST

START_TEST(feed_steady_state_does_not_grow)
{
	struct frame_dec d;
	struct msgs m;
	Ekl__Envelope *out;
	uint8_t *buf;
	size_t len;
	size_t cap0 = 0;
	int i;

	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	for (i = 0; i < 2000; i++) {
		buf = pack_ok(mk_hb(&m, (uint64_t)i + 1000000), &len);
		/* Split each frame across two feeds to keep a partial one. */
		ck_assert_int_eq(frame_dec_feed(&d, buf, 3), 0);
		ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_NEED_MORE);
		ck_assert_int_eq(frame_dec_feed(&d, buf + 3, len - 3), 0);
		ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
		ck_assert_uint_eq(out->heartbeat->seq, (uint64_t)i + 1000000);
		ekl__envelope__free_unpacked(out, NULL);
		ekl_free(buf);
		if (i == 0)
			cap0 = d.cap;
		ck_assert_uint_eq(d.cap, cap0);
	}
	ck_assert_uint_le(cap0, 256);
	frame_dec_close(&d);
}
END_TEST

/* Many small frames in one feed (one socket read) are taken in order, and
 * taking one does not move the rest: the unconsumed bytes stay where they
 * are until a feed needs the room (taking each frame used to move all the
 * others, quadratic in the frames per read). */
START_TEST(next_many_frames_one_feed)
{
	struct frame_dec d;
	struct msgs m;
	Ekl__Envelope *out;
	uint8_t *all = NULL, *buf;
	size_t len, total = 0, off_before, last = 0;
	int i;

	for (i = 0; i < 5000; i++) {
		buf = pack_ok(mk_hb(&m, (uint64_t)i), &len);
		last = len;
		all = realloc(all, total + len);
		ck_assert_ptr_nonnull(all);
		memcpy(all + total, buf, len);
		total += len;
		ekl_free(buf);
	}
	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	ck_assert_int_eq(frame_dec_feed(&d, all, total), 0);
	for (i = 0; i < 5000; i++) {
		off_before = d.off;
		ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
		ck_assert_uint_eq(out->heartbeat->seq, (uint64_t)i);
		ekl__envelope__free_unpacked(out, NULL);
		if (i < 4999)
			ck_assert_uint_gt(d.off, off_before);
	}
	ck_assert_uint_eq(d.len, 0);
	ck_assert_uint_eq(d.off, 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_NEED_MORE);
	/* A partial frame left at the end moves to the front when the next
	 * feed needs the room, and completes. */
	buf = pack_ok(mk_hb(&m, 7), &len);
	ck_assert_int_eq(frame_dec_feed(&d, all, total - 1), 0);
	for (i = 0; i < 4999; i++) {
		ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
		ekl__envelope__free_unpacked(out, NULL);
	}
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_NEED_MORE);
	ck_assert_uint_eq(d.len, last - 1);
	ck_assert_int_eq(frame_dec_feed(&d, all + total - 1, 1), 0);
	ck_assert_int_eq(frame_dec_feed(&d, buf, len), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
	ck_assert_uint_eq(out->heartbeat->seq, 4999);
	ekl__envelope__free_unpacked(out, NULL);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
	ck_assert_uint_eq(out->heartbeat->seq, 7);
	ekl__envelope__free_unpacked(out, NULL);
	frame_dec_close(&d);
	ekl_free(buf);
	free(all);
}
END_TEST

START_TEST(feed_oom)
{
	struct frame_dec d;
	struct msgs m;
	Ekl__Envelope *out;
	uint8_t *buf;
	size_t len;

	buf = pack_ok(mk_hello(&m), &len);
	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	ekl_mem_fail_after(0);
	ck_assert_int_eq(frame_dec_feed(&d, buf, len), EKL_ENOMEM);
	ekl_mem_fail_after(-1);
	ck_assert_uint_eq(d.len, 0);
	/* Nothing was taken; the decoder is still usable. */
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_NEED_MORE);
	ck_assert_int_eq(frame_dec_feed(&d, buf, len), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
	ck_assert_str_eq(out->hello->node, "exp-c1.example.com");
	ekl__envelope__free_unpacked(out, NULL);
	frame_dec_close(&d);
	ekl_free(buf);
}
END_TEST

START_TEST(feed_more_than_one_max_frame)
{
	struct frame_dec d;
	struct msgs m;
	Ekl__Envelope *out;
	uint8_t two[64];
	uint8_t *buf;
	size_t len;

	/* The unconsumed bytes may not exceed FRAME_HDR + max: two whole
	 * frames of exactly max in one feed are refused. */
	buf = pack_ok(mk_hb(&m, 7), &len);
	ck_assert_uint_le(2 * len, sizeof(two));
	memcpy(two, buf, len);
	memcpy(two + len, buf, len);
	frame_dec_init(&d, len - FRAME_HDR);
	ck_assert_int_eq(frame_dec_feed(&d, two, 2 * len), EKL_ETOOBIG);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_TOO_BIG);
	frame_dec_close(&d);
	ekl_free(buf);
}
END_TEST

/* ---- frame_dec_next ---- */

START_TEST(next_roundtrip_hello)
{
	struct msgs m;
	Ekl__Envelope *out;

	out = roundtrip(mk_hello(&m));
	ck_assert_int_eq(out->msg_case, EKL__ENVELOPE__MSG_HELLO);
	ck_assert_uint_eq(out->hello->proto_version, 3);
	ck_assert_str_eq(out->hello->cluster, "lab");
	ck_assert_str_eq(out->hello->node, "exp-c1.example.com");
	ck_assert_str_eq(out->hello->version, "X15.3.2");
	ck_assert_str_eq(out->hello->role, "c");
	ekl__envelope__free_unpacked(out, NULL);
}
END_TEST

START_TEST(next_roundtrip_heartbeat)
{
	struct msgs m;
	Ekl__Envelope *out;

	out = roundtrip(mk_hb(&m, UINT64_MAX));
	ck_assert_int_eq(out->msg_case, EKL__ENVELOPE__MSG_HEARTBEAT);
	ck_assert(out->heartbeat->seq == UINT64_MAX);
	ekl__envelope__free_unpacked(out, NULL);

	/* seq 0 is the proto3 default: still a non-empty Envelope. */
	out = roundtrip(mk_hb(&m, 0));
	ck_assert_int_eq(out->msg_case, EKL__ENVELOPE__MSG_HEARTBEAT);
	ck_assert(out->heartbeat->seq == 0);
	ekl__envelope__free_unpacked(out, NULL);
}
END_TEST

START_TEST(next_roundtrip_bye)
{
	struct msgs m;
	Ekl__Envelope *out;

	out = roundtrip(mk_bye(&m, "wrong-cluster", "expected \"lab\""));
	ck_assert_int_eq(out->msg_case, EKL__ENVELOPE__MSG_BYE);
	ck_assert_str_eq(out->bye->code, "wrong-cluster");
	ck_assert_str_eq(out->bye->message, "expected \"lab\"");
	ekl__envelope__free_unpacked(out, NULL);
}
END_TEST

START_TEST(next_byte_at_a_time)
{
	struct frame_dec d;
	struct msgs m;
	Ekl__Envelope *out;
	uint8_t *buf;
	size_t len;
	size_t i;

	buf = pack_ok(mk_hello(&m), &len);
	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	for (i = 0; i + 1 < len; i++) {
		ck_assert_int_eq(frame_dec_feed(&d, buf + i, 1), 0);
		ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_NEED_MORE);
		ck_assert_ptr_null(out);
	}
	ck_assert_int_eq(frame_dec_feed(&d, buf + i, 1), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
	ck_assert_str_eq(out->hello->version, "X15.3.2");
	ekl__envelope__free_unpacked(out, NULL);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_NEED_MORE);
	frame_dec_close(&d);
	ekl_free(buf);
}
END_TEST

START_TEST(next_several_frames_one_feed)
{
	struct frame_dec d;
	struct msgs m;
	Ekl__Envelope *out;
	uint8_t *a, *b, *c;
	size_t la, lb, lc;
	uint8_t all[512];

	a = pack_ok(mk_hello(&m), &la);
	b = pack_ok(mk_hb(&m, 42), &lb);
	c = pack_ok(mk_bye(&m, "shutdown", "bye"), &lc);
	ck_assert_uint_le(la + lb + lc, sizeof(all));
	memcpy(all, a, la);
	memcpy(all + la, b, lb);
	memcpy(all + la + lb, c, lc);
	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	/* The third frame arrives without its last byte. */
	ck_assert_int_eq(frame_dec_feed(&d, all, la + lb + lc - 1), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
	ck_assert_int_eq(out->msg_case, EKL__ENVELOPE__MSG_HELLO);
	ekl__envelope__free_unpacked(out, NULL);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
	ck_assert_int_eq(out->msg_case, EKL__ENVELOPE__MSG_HEARTBEAT);
	ck_assert(out->heartbeat->seq == 42);
	ekl__envelope__free_unpacked(out, NULL);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_NEED_MORE);
	ck_assert_uint_eq(d.len, lc - 1);
	ck_assert_int_eq(frame_dec_feed(&d, all + la + lb + lc - 1, 1), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
	ck_assert_int_eq(out->msg_case, EKL__ENVELOPE__MSG_BYE);
	ck_assert_str_eq(out->bye->code, "shutdown");
	ekl__envelope__free_unpacked(out, NULL);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_NEED_MORE);
	frame_dec_close(&d);
	ekl_free(a);
	ekl_free(b);
	ekl_free(c);
}
END_TEST

START_TEST(next_exact_max_and_one_over)
{
	struct frame_dec d;
	struct msgs m;
	Ekl__Envelope *out;
	uint8_t *buf;
	size_t len;
	char *s;

	s = xs(1000);
	buf = pack_ok(mk_bye(&m, "x", s), &len);
	/* Payload of exactly max is accepted. */
	frame_dec_init(&d, len - FRAME_HDR);
	ck_assert_int_eq(frame_dec_feed(&d, buf, len), 0);
	ck_assert_uint_le(d.cap, len);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
	ck_assert_str_eq(out->bye->message, s);
	ekl__envelope__free_unpacked(out, NULL);
	frame_dec_close(&d);
	/* One byte over is refused. */
	frame_dec_init(&d, len - FRAME_HDR - 1);
	ck_assert_int_eq(frame_dec_feed(&d, buf, len), EKL_ETOOBIG);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_TOO_BIG);
	ck_assert_ptr_null(out);
	frame_dec_close(&d);
	/* The same, when only the header has been fed. */
	frame_dec_init(&d, len - FRAME_HDR - 1);
	ck_assert_int_eq(frame_dec_feed(&d, buf, FRAME_HDR), EKL_ETOOBIG);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_TOO_BIG);
	frame_dec_close(&d);
	ekl_free(buf);
	free(s);
}
END_TEST

START_TEST(next_oversize_second_frame)
{
	static const uint8_t hdr[] = {0x00, 0x20, 0x00, 0x00};
	struct frame_dec d;
	struct msgs m;
	Ekl__Envelope *out;
	uint8_t *buf;
	size_t len;

	/* A good frame followed by a header announcing 2 MiB in the same
	 * feed: the good frame comes out, then the refusal. */
	buf = pack_ok(mk_hb(&m, 5), &len);
	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	ck_assert_int_eq(frame_dec_feed(&d, buf, len), 0);
	ck_assert_int_eq(frame_dec_feed(&d, hdr, sizeof(hdr)), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
	ekl__envelope__free_unpacked(out, NULL);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_TOO_BIG);
	ck_assert_int_eq(frame_dec_feed(&d, buf, len), EKL_ETOOBIG);
	ck_assert_uint_le(d.cap, 256);
	frame_dec_close(&d);
	ekl_free(buf);
}
END_TEST

START_TEST(next_zero_length)
{
	static const uint8_t z[] = {0, 0, 0, 0, 0x12, 0x00};
	struct frame_dec d;
	Ekl__Envelope *out;

	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	ck_assert_int_lt(frame_dec_feed(&d, z, sizeof(z)), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_ZERO);
	ck_assert_ptr_null(out);
	/* Sticky: the same error again, and no more bytes are taken. */
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_ZERO);
	ck_assert_int_lt(frame_dec_feed(&d, z + 4, 2), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_ZERO);
	frame_dec_close(&d);
}
END_TEST

START_TEST(next_truncated)
{
	struct frame_dec d;
	struct msgs m;
	Ekl__Envelope *out;
	uint8_t *buf;
	size_t len;
	int i;

	buf = pack_ok(mk_hello(&m), &len);
	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	/* Header only. */
	ck_assert_int_eq(frame_dec_feed(&d, buf, FRAME_HDR), 0);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_NEED_MORE);
	/* Then all but the last payload byte. */
	ck_assert_int_eq(
	    frame_dec_feed(&d, buf + FRAME_HDR, len - FRAME_HDR - 1), 0);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_NEED_MORE);
		ck_assert_ptr_null(out);
	}
	ck_assert_uint_eq(d.len, len - 1);
	frame_dec_close(&d);
	ekl_free(buf);
}
END_TEST

START_TEST(next_garbage)
{
	static const uint8_t g[] = {0,	  0,	0,    8,    0xff, 0xff,
				    0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct frame_dec d;
	Ekl__Envelope *out;

	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	ck_assert_int_eq(frame_dec_feed(&d, g, sizeof(g)), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_DECODE);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_DECODE);
	ck_assert_int_eq(frame_dec_feed(&d, g, sizeof(g)), EKL_EPROTO);
	frame_dec_close(&d);
}
END_TEST

START_TEST(next_truncated_submessage)
{
	/* Envelope field 1 (hello) announcing 10 bytes but holding 2. */
	static const uint8_t g[] = {0, 0, 0, 4, 0x0a, 0x0a, 0x08, 0x01};
	struct frame_dec d;
	Ekl__Envelope *out;

	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	ck_assert_int_eq(frame_dec_feed(&d, g, sizeof(g)), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_DECODE);
	frame_dec_close(&d);
}
END_TEST

START_TEST(next_no_message_set)
{
	/* Only an unknown field (5, varint 1): it decodes, but the oneof is
	 * not set, which means nothing. */
	static const uint8_t g[] = {0, 0, 0, 2, 0x28, 0x01};
	struct frame_dec d;
	Ekl__Envelope *out;

	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	ck_assert_int_eq(frame_dec_feed(&d, g, sizeof(g)), 0);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_ERR_DECODE);
	ck_assert_ptr_null(out);
	frame_dec_close(&d);
}
END_TEST

START_TEST(next_large_frame_releases_buffer)
{
	struct frame_dec d;
	struct msgs m;
	Ekl__Envelope *out;
	uint8_t *buf;
	size_t len;
	char *s;

	s = xs(200000);
	buf = pack_ok(mk_bye(&m, "big", s), &len);
	frame_dec_init(&d, FRAME_MAX_DEFAULT);
	ck_assert_int_eq(frame_dec_feed(&d, buf, len), 0);
	ck_assert_uint_ge(d.cap, len);
	ck_assert_uint_le(d.cap, FRAME_HDR + FRAME_MAX_DEFAULT);
	ck_assert_int_eq(frame_dec_next(&d, &out), FRAME_READY);
	ck_assert_uint_eq(strlen(out->bye->message), 200000);
	ekl__envelope__free_unpacked(out, NULL);
	ck_assert_uint_le(d.cap, 4096);
	frame_dec_close(&d);
	ekl_free(buf);
	free(s);
}
END_TEST

/* ---- frame_res_name ---- */

START_TEST(res_names)
{
	ck_assert_str_eq(frame_res_name(FRAME_NEED_MORE), "need-more");
	ck_assert_str_eq(frame_res_name(FRAME_READY), "ready");
	ck_assert_str_eq(frame_res_name(FRAME_ERR_TOO_BIG), "too-big");
	ck_assert_str_eq(frame_res_name(FRAME_ERR_ZERO), "zero-length");
	ck_assert_str_eq(frame_res_name(FRAME_ERR_DECODE), "undecodable");
}
END_TEST

/* ---- frame_dec_close ---- */

START_TEST(close_accepts_null_and_twice)
{
	struct frame_dec d;
	static const uint8_t b[] = {0, 0};

	frame_dec_close(NULL);
	frame_dec_init(&d, 16);
	ck_assert_int_eq(frame_dec_feed(&d, b, sizeof(b)), 0);
	frame_dec_close(&d);
	ck_assert_ptr_null(d.buf);
	frame_dec_close(&d);
}
END_TEST

static Suite *frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc;

	tc = tcase_create("frame_pack");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, pack_header_big_endian);
	tcase_add_test(tc, pack_small_header);
	tcase_add_test(tc, pack_too_big);
	tcase_add_test(tc, pack_empty_envelope);
	tcase_add_test(tc, pack_oom);
	suite_add_tcase(s, tc);

	tc = tcase_create("frame_dec_feed");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, feed_oversize_refused_before_alloc);
	tcase_add_test(tc, feed_oversize_split_header);
	tcase_add_test(tc, feed_steady_state_does_not_grow);
	tcase_add_test(tc, feed_oom);
	tcase_add_test(tc, next_many_frames_one_feed);
	tcase_add_test(tc, feed_more_than_one_max_frame);
	suite_add_tcase(s, tc);

	tc = tcase_create("frame_dec_next");
	tcase_add_test(tc, next_roundtrip_hello);
	tcase_add_test(tc, next_roundtrip_heartbeat);
	tcase_add_test(tc, next_roundtrip_bye);
	tcase_add_test(tc, next_byte_at_a_time);
	tcase_add_test(tc, next_several_frames_one_feed);
	tcase_add_test(tc, next_exact_max_and_one_over);
	tcase_add_test(tc, next_oversize_second_frame);
	tcase_add_test(tc, next_zero_length);
	tcase_add_test(tc, next_truncated);
	tcase_add_test(tc, next_garbage);
	tcase_add_test(tc, next_truncated_submessage);
	tcase_add_test(tc, next_no_message_set);
	tcase_add_test(tc, next_large_frame_releases_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("frame_res_name");
	tcase_add_test(tc, res_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("frame_dec_close");
	tcase_add_test(tc, close_accepts_null_and_twice);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(frame_suite());
}
