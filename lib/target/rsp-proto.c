// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * GDB remote serial protocol codec. Source: GDB manual, "Remote Protocol" appendix
 * (Overview: framing, escapes with '}' and XOR 0x20, run-length encoding '*' with count
 * char - 29; Stop Reply Packets).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rsp-proto.h"

static const char hexdig[] = "0123456789abcdef";

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int rsp_frame(const char *data, size_t len, char *out, size_t outsz)
{
	size_t o = 0;
	uint8_t sum = 0;

	if (outsz < 4)
		return -ENOSPC;
	out[o++] = '$';
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)data[i];
		if (o + 2 >= outsz - 3)
			return -ENOSPC;
		if (c == '#' || c == '$' || c == '}' || c == '*') {
			out[o++] = '}';
			sum += '}';
			c ^= 0x20;
		}
		out[o++] = (char)c;
		sum += c;
	}
	out[o++] = '#';
	out[o++] = hexdig[sum >> 4];
	out[o++] = hexdig[sum & 15];
	return (int)o;
}

void rsp_decoder_reset(struct rsp_decoder *d)
{
	d->state = 0;
	d->len = 0;
	d->sum = 0;
	d->bad_checksum = 0;
	d->overflow = 0;
}

static void put(struct rsp_decoder *d, char c)
{
	if (d->len + 1 < d->cap)
		d->buf[d->len++] = c;
	else
		d->overflow = 1;
}

size_t rsp_decoder_feed_plain(struct rsp_decoder *d, const uint8_t *p, size_t n)
{
	size_t i = 0;
	uint8_t sum = d->sum;

	if (d->state != 1)
		return 0;
	/* room for the run and the NUL; else byte by byte (put() notes the overflow) */
	if (n > d->cap - d->len - 1)
		n = d->len + 1 < d->cap ? d->cap - d->len - 1 : 0;
	for (; i < n; i++) {
		uint8_t c = p[i];
		if (c == '#' || c == '}' || c == '*')
			break;
		sum += c;
		d->buf[d->len + i] = (char)c;
	}
	d->len += i;
	d->sum = sum;
	return i;
}

int rsp_decoder_feed(struct rsp_decoder *d, uint8_t c)
{
	int v;

	switch (d->state) {
	case 0:
		if (c == '$') {
			d->state = 1;
			d->len = 0;
			d->sum = 0;
			d->bad_checksum = 0;
			d->overflow = 0;
			return 0;
		}
		if (c == '+' || c == '-' || c == 0x03)
			return 2;
		return 0; /* noise between packets */
	case 1:
		if (c == '#') {
			d->state = 3;
			return 0;
		}
		d->sum += c;
		if (c == '}') {
			d->state = 2;
			return 0;
		}
		if (c == '*' && d->len > 0) {
			d->state = 5;
			return 0;
		}
		put(d, (char)c);
		return 0;
	case 2:
		d->sum += c;
		put(d, (char)(c ^ 0x20));
		d->state = 1;
		return 0;
	case 5: {
		/* run-length: repeat the previous char (c - 29) more times */
		int n = (int)c - 29;
		char prev = d->buf[d->len - 1];
		d->sum += c;
		if (n < 0 || n > 126)
			d->overflow = 1;
		for (int i = 0; i < n; i++)
			put(d, prev);
		d->state = 1;
		return 0;
	}
	case 3:
		v = hexval(c);
		d->want = (uint8_t)((v < 0 ? 0 : v) << 4);
		if (v < 0)
			d->bad_checksum = 1;
		d->state = 4;
		return 0;
	case 4:
		v = hexval(c);
		if (v < 0)
			d->bad_checksum = 1;
		else
			d->want |= (uint8_t)v;
		if (d->want != d->sum)
			d->bad_checksum = 1;
		d->buf[d->len] = '\0';
		d->state = 0;
		return 1;
	}
	d->state = 0;
	return 0;
}

/* hexval() of every byte, 0xff for a non-hex one (a long read decodes megabytes) */
static const uint8_t hextab[256] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

int rsp_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outsz)
{
	const uint8_t *h = (const uint8_t *)hex;
	uint8_t bad = 0;

	if (hexlen % 2)
		return -EINVAL;
	if (hexlen / 2 > outsz)
		return -ENOSPC;
	for (size_t i = 0; i < hexlen / 2; i++) {
		uint8_t hi = hextab[h[2 * i]], lo = hextab[h[2 * i + 1]];
		bad |= hi | lo;
		out[i] = (uint8_t)(hi << 4 | (lo & 15));
	}
	return bad & 0xf0 ? -EINVAL : (int)(hexlen / 2);
}

void rsp_hex_encode(const uint8_t *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hexdig[in[i] >> 4];
		out[2 * i + 1] = hexdig[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int rsp_parse_hex_u64(const char *s, size_t len, uint64_t *val)
{
	uint64_t v = 0;

	if (len == 0 || len > 16)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int h = hexval(s[i]);
		if (h < 0)
			return -EINVAL;
		v = v << 4 | (uint64_t)h;
	}
	*val = v;
	return 0;
}

int rsp_parse_thread_id(const char *s, long *pid, long *tid)
{
	uint64_t a, b;
	const char *dot;

	if (s[0] == 'p') {
		s++;
		dot = strchr(s, '.');
		if (!dot) {
			if (rsp_parse_hex_u64(s, strlen(s), &a) < 0)
				return -EINVAL;
			*pid = (long)a;
			*tid = -1;
			return 0;
		}
		if (rsp_parse_hex_u64(s, (size_t)(dot - s), &a) < 0)
			return -EINVAL;
		if (strcmp(dot + 1, "-1") == 0) {
			*pid = (long)a;
			*tid = -1;
			return 0;
		}
		if (rsp_parse_hex_u64(dot + 1, strlen(dot + 1), &b) < 0)
			return -EINVAL;
		*pid = (long)a;
		*tid = (long)b;
		return 0;
	}
	if (rsp_parse_hex_u64(s, strlen(s), &b) < 0)
		return -EINVAL;
	*pid = -1;
	*tid = (long)b;
	return 0;
}

int rsp_parse_stop(const char *pkt, size_t len, struct rsp_stop *stop)
{
	uint64_t sig;

	memset(stop, 0, sizeof(*stop));
	if (len < 3)
		return -EINVAL;
	stop->kind = pkt[0];
	if (!strchr("TSWX", stop->kind))
		return -EINVAL;
	if (rsp_parse_hex_u64(pkt + 1, 2, &sig) < 0)
		return -EINVAL;
	stop->signal = (int)sig;
	if (stop->kind != 'T')
		return 0;
	/* T AA n1:r1;n2:r2;... */
	const char *p = pkt + 3, *end = pkt + len;
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *colon = memchr(p, ':', (size_t)((semi ? semi : end) - p));
		const char *vend = semi ? semi : end;
		if (!colon) {
			if (!semi)
				break;
			p = semi + 1;
			continue;
		}
		size_t klen = (size_t)(colon - p), vlen = (size_t)(vend - colon - 1);
		const char *v = colon + 1;
		if (klen == 6 && !memcmp(p, "thread", 6)) {
			if (vlen >= sizeof(stop->thread))
				return -EINVAL;
			memcpy(stop->thread, v, vlen);
			stop->thread[vlen] = '\0';
		} else if ((klen == 5 && !memcmp(p, "watch", 5)) ||
			   (klen == 6 && !memcmp(p, "rwatch", 6)) ||
			   (klen == 6 && !memcmp(p, "awatch", 6))) {
			stop->watch = p[0] == 'w' ? 2 : p[0] == 'r' ? 3 : 4;
			if (rsp_parse_hex_u64(v, vlen, &stop->watch_addr) < 0)
				return -EINVAL;
		} else if (klen == 7 && !memcmp(p, "swbreak", 7)) {
			stop->swbreak = 1;
		} else if (klen == 7 && !memcmp(p, "hwbreak", 7)) {
			stop->hwbreak = 1;
		}
		p = vend + 1;
	}
	return 0;
}
