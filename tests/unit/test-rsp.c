// SPDX-License-Identifier: LGPL-2.1-or-later
/* RSP codec: framing, escaping, checksums, run-length decoding, stop replies, thread ids.
 * Expected bytes follow the GDB manual's "Remote Protocol: Overview" rules and QEMU 7.2's
 * observed replies (docs/transports.md, "QEMU 7.2's gdbstub"). */
#include <stdlib.h>
#include <string.h>

#include "target/rsp-proto.h"
#include "test-common.h"

static int feed_all(struct rsp_decoder *d, const char *s)
{
	int r = 0;
	for (; *s; s++) {
		r = rsp_decoder_feed(d, (uint8_t)*s);
		if (r == 1)
			return 1;
	}
	return r;
}

START_TEST(frame_checksum)
{
	char out[64];
	int n = rsp_frame("m0,4", 4, out, sizeof(out));
	ck_assert_int_eq(n, 8);
	out[n] = '\0';
	/* 'm'+'0'+','+'4' = 0x6d+0x30+0x2c+0x34 = 0xfd */
	ck_assert_str_eq(out, "$m0,4#fd");
	n = rsp_frame("", 0, out, sizeof(out));
	out[n] = '\0';
	ck_assert_str_eq(out, "$#00");
}
END_TEST

START_TEST(frame_escapes)
{
	char out[64];
	/* '#' '$' '}' '*' are sent as '}' followed by the byte XOR 0x20 */
	int n = rsp_frame("a#b$c}d*", 8, out, sizeof(out));
	out[n] = '\0';
	ck_assert_str_eq(out, "$a}\x03"
			      "b}\x04"
			      "c}]d}\x0a#ec");
	ck_assert_int_eq(rsp_frame("abc", 3, out, 6), -ENOSPC);
}
END_TEST

START_TEST(decode_roundtrip)
{
	struct rsp_decoder d = { .cap = 256, .buf = malloc(256) };
	char framed[64];
	int n = rsp_frame("x}y#z", 5, framed, sizeof(framed));
	framed[n] = '\0';
	rsp_decoder_reset(&d);
	ck_assert_int_eq(feed_all(&d, framed), 1);
	ck_assert_int_eq(d.bad_checksum, 0);
	ck_assert_uint_eq(d.len, 5);
	ck_assert_str_eq(d.buf, "x}y#z");
	free(d.buf);
}
END_TEST

START_TEST(decode_run_length)
{
	struct rsp_decoder d = { .cap = 256, .buf = malloc(256) };
	/* "0* " = '0' then ' ' (32): 32 - 29 = 3 more -> "0000" (GDB manual example) */
	const char *payload = "0* ";
	uint8_t sum = 0;
	char pkt[32];
	for (const char *p = payload; *p; p++)
		sum += (uint8_t)*p;
	snprintf(pkt, sizeof(pkt), "$%s#%02x", payload, sum);
	rsp_decoder_reset(&d);
	ck_assert_int_eq(feed_all(&d, pkt), 1);
	ck_assert_int_eq(d.bad_checksum, 0);
	ck_assert_str_eq(d.buf, "0000");
	free(d.buf);
}
END_TEST

START_TEST(decode_bad_checksum_and_acks)
{
	struct rsp_decoder d = { .cap = 256, .buf = malloc(256) };
	rsp_decoder_reset(&d);
	ck_assert_int_eq(rsp_decoder_feed(&d, '+'), 2);
	ck_assert_int_eq(rsp_decoder_feed(&d, '-'), 2);
	ck_assert_int_eq(feed_all(&d, "$OK#00"), 1);
	ck_assert_int_eq(d.bad_checksum, 1);
	ck_assert_int_eq(feed_all(&d, "$OK#9a"), 1);
	ck_assert_int_eq(d.bad_checksum, 0);
	ck_assert_int_eq(feed_all(&d, "$OK#zz"), 1);
	ck_assert_int_eq(d.bad_checksum, 1);
	free(d.buf);
}
END_TEST

START_TEST(decode_overflow)
{
	struct rsp_decoder d = { .cap = 4, .buf = malloc(4) };
	rsp_decoder_reset(&d);
	ck_assert_int_eq(feed_all(&d, "$abcdefgh#00"), 1);
	ck_assert_int_eq(d.overflow, 1);
	ck_assert_uint_lt(d.len, 4);
	free(d.buf);
}
END_TEST

/* rsp_decoder_feed_plain, then rsp_decoder_feed for what it leaves (as rsp-packet.c does) */
static int feed_runs(struct rsp_decoder *d, const char *s)
{
	size_t n = strlen(s), i = 0;
	while (i < n) {
		i += rsp_decoder_feed_plain(d, (const uint8_t *)s + i, n - i);
		if (i < n && rsp_decoder_feed(d, (uint8_t)s[i++]) == 1)
			return 1;
	}
	return 0;
}

START_TEST(decode_plain_runs)
{
	struct rsp_decoder a = { .cap = 256, .buf = malloc(256) };
	struct rsp_decoder b = { .cap = 256, .buf = malloc(256) };
	/* plain bytes, an escape ("}]" is '}'), a run ("0* " is "0000"), plain again; the
	 * checksum is the sum of every byte between '$' and '#' */
	const char *payload = "ab}]cd0* xyz";
	uint8_t sum = 0;
	char pkt[64];
	for (const char *p = payload; *p; p++)
		sum += (uint8_t)*p;
	snprintf(pkt, sizeof(pkt), "+$%s#%02x", payload, sum);
	rsp_decoder_reset(&a);
	rsp_decoder_reset(&b);
	ck_assert_uint_eq(rsp_decoder_feed_plain(&a, (const uint8_t *)"abc", 3), 0); /* idle */
	ck_assert_int_eq(feed_all(&a, pkt), 1);
	ck_assert_int_eq(feed_runs(&b, pkt), 1);
	ck_assert_str_eq(a.buf, "ab}cd0000xyz");
	ck_assert_str_eq(b.buf, "ab}cd0000xyz");
	ck_assert_int_eq(b.bad_checksum, 0);
	ck_assert_uint_eq(b.len, a.len);
	/* a bad checksum is seen the same way */
	ck_assert_int_eq(feed_runs(&b, "$abcdef#00"), 1);
	ck_assert_int_eq(b.bad_checksum, 1);
	/* more plain bytes than the buffer holds: overflow, as byte by byte */
	struct rsp_decoder c = { .cap = 4, .buf = malloc(4) };
	rsp_decoder_reset(&c);
	ck_assert_int_eq(feed_runs(&c, "$abcdefgh#00"), 1);
	ck_assert_int_eq(c.overflow, 1);
	ck_assert_uint_lt(c.len, 4);
	free(a.buf);
	free(b.buf);
	free(c.buf);
}
END_TEST

START_TEST(hex)
{
	uint8_t b[8];
	char s[17];
	uint64_t v;
	ck_assert_int_eq(rsp_hex_decode("00ff10Ab", 8, b, sizeof(b)), 4);
	ck_assert_uint_eq(b[1], 0xff);
	ck_assert_uint_eq(b[3], 0xab);
	ck_assert_int_eq(rsp_hex_decode("0g", 2, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(rsp_hex_decode("G0", 2, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(rsp_hex_decode("0\xff", 2, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(rsp_hex_decode("9F", 2, b, sizeof(b)), 1);
	ck_assert_uint_eq(b[0], 0x9f);
	ck_assert_int_eq(rsp_hex_decode("abc", 3, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(rsp_hex_decode("000000000000000000", 18, b, sizeof(b)), -ENOSPC);
	rsp_hex_encode((const uint8_t *)"\x01\xfe", 2, s);
	ck_assert_str_eq(s, "01fe");
	ck_assert_int_eq(rsp_parse_hex_u64("ffffffffc073eca0", 16, &v), 0);
	ck_assert_uint_eq(v, 0xffffffffc073eca0ULL);
	ck_assert_int_eq(rsp_parse_hex_u64("12345678901234567", 17, &v), -EINVAL);
}
END_TEST

START_TEST(stop_replies)
{
	struct rsp_stop st;
	const char *qemu_bp = "T05thread:p01.02;";
	ck_assert_int_eq(rsp_parse_stop(qemu_bp, strlen(qemu_bp), &st), 0);
	ck_assert_int_eq(st.kind, 'T');
	ck_assert_int_eq(st.signal, 5);
	ck_assert_str_eq(st.thread, "p01.02");
	ck_assert_int_eq(st.watch, 0);
	const char *qemu_watch = "T05thread:p01.01;watch:ffff895a82f981c0;";
	ck_assert_int_eq(rsp_parse_stop(qemu_watch, strlen(qemu_watch), &st), 0);
	ck_assert_int_eq(st.watch, 2);
	ck_assert_uint_eq(st.watch_addr, 0xffff895a82f981c0ULL);
	const char *aw = "T05awatch:10;hwbreak:;thread:1;";
	ck_assert_int_eq(rsp_parse_stop(aw, strlen(aw), &st), 0);
	ck_assert_int_eq(st.watch, 4);
	ck_assert_int_eq(st.hwbreak, 1);
	ck_assert_str_eq(st.thread, "1");
	ck_assert_int_eq(rsp_parse_stop("S02", 3, &st), 0);
	ck_assert_int_eq(st.signal, 2);
	ck_assert_int_eq(rsp_parse_stop("W00", 3, &st), 0);
	ck_assert_int_eq(st.kind, 'W');
	ck_assert_int_eq(rsp_parse_stop("OK", 2, &st), -EINVAL);
	ck_assert_int_eq(rsp_parse_stop("Tzz", 3, &st), -EINVAL);
	ck_assert_int_eq(rsp_parse_stop("T05watch:xyz;", 13, &st), -EINVAL);
}
END_TEST

START_TEST(thread_ids)
{
	long p, t;
	ck_assert_int_eq(rsp_parse_thread_id("p01.02", &p, &t), 0);
	ck_assert_int_eq(p, 1);
	ck_assert_int_eq(t, 2);
	ck_assert_int_eq(rsp_parse_thread_id("p1.-1", &p, &t), 0);
	ck_assert_int_eq(t, -1);
	ck_assert_int_eq(rsp_parse_thread_id("1f", &p, &t), 0);
	ck_assert_int_eq(p, -1);
	ck_assert_int_eq(t, 0x1f);
	ck_assert_int_eq(rsp_parse_thread_id("pq.1", &p, &t), -EINVAL);
}
END_TEST

static Suite *rsp_suite(void)
{
	Suite *s = suite_create("rsp");
	TCase *tc = tcase_create("codec");
	tcase_add_test(tc, frame_checksum);
	tcase_add_test(tc, frame_escapes);
	tcase_add_test(tc, decode_roundtrip);
	tcase_add_test(tc, decode_run_length);
	tcase_add_test(tc, decode_bad_checksum_and_acks);
	tcase_add_test(tc, decode_overflow);
	tcase_add_test(tc, decode_plain_runs);
	tcase_add_test(tc, hex);
	tcase_add_test(tc, stop_replies);
	tcase_add_test(tc, thread_ids);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(rsp_suite);
