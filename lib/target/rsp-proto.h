/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GDB remote serial protocol: framing, escaping, checksums, hex and stop replies (pure code). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Frame @data as "$data#cc" into @out (escaping '#', '$', '}', '*'); returns its length or
 * -ENOSPC. */
int rsp_frame(const char *data, size_t len, char *out, size_t outsz);

/* Decoder state for incoming bytes: feeds bytes, yields whole packets. */
struct rsp_decoder {
	int state; /* 0 idle, 1 in packet, 2 escape, 3 checksum 1, 4 checksum 2 */
	uint8_t sum;
	uint8_t want;
	size_t len;
	size_t cap;
	char *buf; /* decoded payload (escapes and run-length expanded), NUL terminated */
	int bad_checksum;
	int overflow;
};

/* Feed one byte. Returns 1 when a whole packet is in d->buf (d->len bytes), 2 for an 0x03
 * or ack byte outside packets ('+' or '-'), 0 otherwise. A bad checksum sets bad_checksum. */
int rsp_decoder_feed(struct rsp_decoder *d, uint8_t c);
void rsp_decoder_reset(struct rsp_decoder *d);
/* Inside a packet (state 1): take the plain payload bytes of @p (up to the first '#', '}' or
 * '*', and as many as d->buf holds) at once, as rsp_decoder_feed would one by one. Returns
 * how many were taken (0 outside a packet); the rest goes to rsp_decoder_feed. */
size_t rsp_decoder_feed_plain(struct rsp_decoder *d, const uint8_t *p, size_t n);

/* Hex helpers: returns bytes decoded or -EINVAL. */
int rsp_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outsz);
void rsp_hex_encode(const uint8_t *in, size_t len, char *out);
int rsp_parse_hex_u64(const char *s, size_t len, uint64_t *val);

/* A parsed stop reply ("T05thread:p01.02;watch:ffff...;", "S05", "W00", "X09"). */
struct rsp_stop {
	char kind;          /* 'T', 'S', 'W', 'X' */
	int signal;
	char thread[32];    /* thread id as sent ("p01.02"), "" if none */
	int watch;          /* 0 none, 2 write, 3 read, 4 access */
	uint64_t watch_addr;
	int swbreak;
	int hwbreak;
};
/* Returns 0, or -EINVAL for a malformed reply. */
int rsp_parse_stop(const char *pkt, size_t len, struct rsp_stop *stop);

/* Parse "p1f.2a" / "2a" into process and thread numbers (process -1 when absent). */
int rsp_parse_thread_id(const char *s, long *pid, long *tid);
