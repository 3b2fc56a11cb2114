// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Packets of the GDB remote protocol on one connection: queued and written in one write per
 * batch, received and acknowledged, one command and its reply.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "target/rsp-internal.h"
#include "target/transport.h"

static int out_reserve(struct rsp *t, size_t n)
{
	if (t->outlen + n <= t->outcap)
		return 0;
	size_t cap = t->outcap ? t->outcap : 4096;
	while (cap < t->outlen + n)
		cap *= 2;
	char *p = realloc(t->out, cap);
	if (!p)
		return -ENOMEM;
	t->out = p;
	t->outcap = cap;
	return 0;
}

int rsp_queue_raw(struct rsp *t, const char *data, size_t len)
{
	if (out_reserve(t, len) < 0)
		return -ENOMEM;
	memcpy(t->out + t->outlen, data, len);
	t->outlen += len;
	return 0;
}

/* Queue one packet; a pending ack for the last received packet goes first. */
int rsp_queue_pkt(struct rsp *t, const char *fmt, ...)
{
	char body[512];
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -EINVAL;
	if (t->ack_pending) {
		if ((r = rsp_queue_raw(t, "+", 1)) < 0)
			return r;
		t->ack_pending = false;
	}
	if ((r = out_reserve(t, (size_t)n * 2 + 8)) < 0)
		return r;
	r = rsp_frame(body, (size_t)n, t->out + t->outlen, t->outcap - t->outlen);
	if (r < 0)
		return r;
	t->outlen += (size_t)r;
	t->stats.packets_sent++;
	kvmdci_dbg(t->ctx, "-> %s", body);
	return 0;
}

void rsp_set_broken(struct rsp *t, int err)
{
	if (!t->broken)
		t->broken_err = err;
	t->broken = true;
}

void rsp_mark_broken(struct rsp *t, const char *why, int err)
{
	if (!t->broken) {
		/* the cause first: a log function may ask kvmdci_ctx_target_lost() */
		kvmdci_set_cause(t->ctx, "connection to %s lost: %s", t->uri, why);
		kvmdci_err(t->ctx, "connection to %s lost: %s", t->uri, why);
	}
	rsp_set_broken(t, err == -ENODEV ? err : -EPIPE);
	t->running = false;
}

int rsp_flush(struct rsp *t)
{
	int r;

	if (t->broken)
		return rsp_broken_err(t);
	if (t->outlen && (r = transport_write(t->tr, t->out, t->outlen)) < 0) {
		rsp_mark_broken(t, t->tr->why, r);
		t->outlen = 0;
		return rsp_broken_err(t);
	}
	if (t->outlen) {
		t->stats.writes++;
		t->stats.bytes_sent += t->outlen;
	}
	t->outlen = 0;
	return 0;
}

/*
 * Receive one packet within @timeout_ms (-1 forever). Returns its length (payload in
 * t->dec.buf), 0 when the timeout expired or a signal interrupted the wait, or -errno.
 */
/*
 * A signal (the tools' SIGINT/SIGTERM) ends the wait early with 0 only when @interruptible:
 * waiting for a running target's stop may be cut short, waiting for a command's reply may not
 * (a reply taken for a timeout would leave the connection broken and the target stopped).
 */
int rsp_recv_pkt_wait(struct rsp *t, int timeout_ms, bool interruptible)
{
	uint64_t deadline = timeout_ms >= 0 ? kvmdci_now_ms() + (uint64_t)timeout_ms : 0;
	bool polled = false;

	if (t->broken)
		return rsp_broken_err(t);
	for (;;) {
		while (t->inpos < t->inlen) {
			/* a packet's plain bytes at once (a long read's hex), the rest one by one */
			t->inpos += rsp_decoder_feed_plain(&t->dec, (const uint8_t *)t->inbuf + t->inpos,
							   t->inlen - t->inpos);
			if (t->inpos == t->inlen)
				break;
			int r = rsp_decoder_feed(&t->dec, (uint8_t)t->inbuf[t->inpos++]);
			if (r == 2 && t->inbuf[t->inpos - 1] == '+')
				t->acks_received++;
			if (r != 1)
				continue;
			t->stats.packets_received++;
			if (t->dec.bad_checksum || t->dec.overflow) {
				if (t->dec.overflow)
					t->long_packets++;
				else
					t->bad_checksums++;
				kvmdci_warn(t->ctx, "%s: dropping a packet %s", t->uri,
					    t->dec.overflow ? "longer than the limit of "
							      "1048576 bytes"
							    : "with a bad checksum");
				if (!t->noack && rsp_queue_raw(t, "-", 1) == 0)
					rsp_flush(t);
				continue;
			}
			if (!t->noack)
				t->ack_pending = true;
			kvmdci_dbg(t->ctx, "<- %.200s", t->dec.buf);
			return (int)t->dec.len > 0 ? (int)t->dec.len : -ENODATA;
		}
		int wait = -1;
		if (timeout_ms >= 0) {
			uint64_t now = kvmdci_now_ms();
			/* a timeout of 0 still looks once at what is there */
			if (now >= deadline && (timeout_ms > 0 || polled))
				return 0;
			wait = now >= deadline ? 0 : (int)(deadline - now); /* <= timeout_ms */
			polled = true;
		}
		if (t->buffered_only)
			return 0;
		ssize_t n = transport_read(t->tr, t->inbuf, sizeof(t->inbuf), wait);
		if (n == 0) {
			if (interruptible)
				return 0;
			continue; /* a signal: the deadline above still ends the wait */
		}
		if (n < 0) {
			rsp_mark_broken(t, t->tr->why, (int)n);
			return rsp_broken_err(t);
		}
		t->stats.bytes_received += (uint64_t)n;
		t->inlen = (size_t)n;
		t->inpos = 0;
	}
}

int rsp_recv_pkt(struct rsp *t, int timeout_ms)
{
	return rsp_recv_pkt_wait(t, timeout_ms, false);
}

/* What was dropped on the way, for a timeout's message: "" or " (3 packets with a bad
 * checksum dropped)". */
const char *rsp_dropped_note(struct rsp *t, char *buf, size_t len)
{
	buf[0] = '\0';
	if (t->bad_checksums || t->long_packets)
		snprintf(buf, len, " (dropped: %u packets with a bad checksum, %u packets longer "
				   "than the limit of %d bytes)", t->bad_checksums, t->long_packets,
			 REPLY_CAP);
	return buf;
}

/*
 * A packet that is nobody's reply: console output ("O" + hex) and stop replies, which the
 * protocol sends on its own (QEMU after a monitor command, or on a debugger's connect).
 * Returns true when @t->dec holds one; it is then logged and dropped.
 */
bool rsp_is_async(struct rsp *t, bool stop_expected)
{
	struct rsp_stop st;
	const char *b = t->dec.buf;

	if (b[0] == 'O' && t->dec.len > 1 && t->dec.len % 2 == 1 && strcmp(b, "OK") != 0) {
		uint8_t text[256];
		size_t n = (t->dec.len - 1) / 2 < sizeof(text) ? t->dec.len - 1 : 2 * sizeof(text);
		int got = rsp_hex_decode(b + 1, n, text, sizeof(text));
		if (got < 0)
			return false;
		kvmdci_dbg(t->ctx, "%s: console output: %.*s", t->uri, got, (const char *)text);
		t->async_packets++;
		return true;
	}
	if (!stop_expected && (b[0] == 'T' || b[0] == 'S') && rsp_parse_stop(b, t->dec.len, &st) == 0) {
		kvmdci_info(t->ctx, "%s: ignoring a stop reply nobody asked for: '%.40s'", t->uri, b);
		t->async_packets++;
		return true;
	}
	return false;
}

/*
 * Before a command: drop what came in since the last reply (a stray packet would otherwise be
 * taken for the next command's reply and shift every later one). After a reply of the wrong
 * shape the real one may still be on its way: wait for it a moment (RESYNC_MS).
 */
int rsp_drain(struct rsp *t)
{
	int wait = t->resync ? RESYNC_MS : 0;

	/* A USB read cannot look without waiting (libusb's shortest timeout is 1 ms, a cost on
	 * every command): there, only what is already in the buffer unless resynchronising. */
	t->buffered_only = !t->resync && t->tr->fd < 0;
	t->resync = false;
	for (;;) {
		int r = rsp_recv_pkt(t, wait);
		if (r == 0) {
			t->buffered_only = false;
			return t->broken ? rsp_broken_err(t) : 0;
		}
		if (r == -ENODATA)
			r = 0;
		else if (r < 0) {
			t->buffered_only = false;
			return r;
		}
		if (!rsp_is_async(t, false))
			kvmdci_warn(t->ctx, "%s: dropping a packet that answers no command: "
					    "'%.40s'", t->uri, t->dec.buf);
		t->stray_packets++;
		wait = 0;
	}
}

/* Could the packet in t->dec be the reply to some other command (OK, Enn, hex)? Then the
 * real reply may still come; garbage is just garbage. */
static bool could_be_a_reply(struct rsp *t)
{
	if (!strcmp(t->dec.buf, "OK") || rsp_reply_is_error(t))
		return true;
	for (size_t i = 0; i < t->dec.len; i++)
		if (!strchr("0123456789abcdefABCDEFx", t->dec.buf[i]) || !t->dec.buf[i])
			return false;
	return true;
}

int rsp_wrong_shape(struct rsp *t, const char *what, const char *expected)
{
	bool stray = could_be_a_reply(t);

	kvmdci_err(t->ctx, "%s: the reply to '%s' is not %s but '%.40s'%s", t->uri, what, expected,
		   t->dec.buf, stray ? "; a stray packet? (the connection is resynchronised "
				       "before the next command)" : "");
	t->resync = stray;
	return -EPROTO;
}

/* An empty packet is a valid "unsupported" reply; recv_pkt reports it as -ENODATA. */
int rsp_recv_reply(struct rsp *t, const char *what)
{
	for (;;) {
		int r = rsp_recv_pkt(t, CMD_TIMEOUT_MS);
		if (r == -ENODATA)
			return 0;
		if (r == 0) {
			char note[160];
			if (t->broken)
				return rsp_broken_err(t);
			rsp_dropped_note(t, note, sizeof(note));
			kvmdci_set_cause(t->ctx, "%s: no reply to '%s' within %d s%s", t->uri, what,
					 CMD_TIMEOUT_MS / 1000, note);
			kvmdci_err(t->ctx, "%s: no reply to '%s' within %d s%s", t->uri, what,
				   CMD_TIMEOUT_MS / 1000, note);
			rsp_set_broken(t, -ETIMEDOUT);
			return -ETIMEDOUT;
		}
		if (r < 0)
			return r;
		/* console output and stop replies nobody asked for come before some replies */
		if (rsp_is_async(t, !strcmp(what, "?")))
			continue;
		return r;
	}
}

/* Send one command and wait for its reply; returns the reply length (0: empty reply). */
int rsp_command(struct rsp *t, const char *fmt, ...)
{
	char body[512];
	va_list ap;
	int r;

	if (!t->connected)
		return -ENOTCONN;
	if (t->running) {
		kvmdci_err(t->ctx, "%s: the target is running; stop it first", t->uri);
		return -EBUSY;
	}
	va_start(ap, fmt);
	r = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(body))
		return -EINVAL;
	if ((r = rsp_drain(t)) < 0 || (r = rsp_queue_pkt(t, "%s", body)) < 0 ||
	    (r = rsp_flush(t)) < 0)
		return r;
	return rsp_recv_reply(t, body);
}

int rsp_reply_is_error(struct rsp *t)
{
	return t->dec.len == 3 && t->dec.buf[0] == 'E';
}
