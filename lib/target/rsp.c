// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The GDB remote-protocol backend of a target: attach, threads (one per CPU), registers by
 * name from the stub's target description, virtual and physical reads, breakpoints and
 * watchpoints, run control. QEMU gdbstub traps handled here come from
 * docs/transports.md, "QEMU 7.2's gdbstub" (from QEMU 7.2's gdbstub sources):
 *  - `?` removes all breakpoints: it is sent once, at attach;
 *  - any byte sent while the guest runs pauses it; only 0x03 gets a stop reply: nothing but
 *    0x03 is ever written while running (acks ride on the next command instead);
 *  - plain `D` fails under multiprocess: `D;1`;
 *  - continuing from a breakpoint re-triggers it: step the stopped CPU alone past it;
 *  - `p`/`P` work only after target.xml was read.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "rsp-proto.h"
#include "target/target-internal.h"
#include "target/transport.h"
#include "uri.h"

#define MAX_CPUS 512
#define MAX_REGS 256
#define MAX_BPS 4096
#define REPLY_CAP (1 << 20)
#define CMD_TIMEOUT_MS 5000

struct rsp;
static int rsp_detach(struct rsp *t);

struct reg_desc {
	char name[24];
	int regnum;
	int bits;
	int g_offset; /* byte offset in the 'g' reply */
};

struct bp {
	int kind;
	uint64_t addr;
	unsigned int len;
};

struct rsp {
	int refcount;
	struct kvmdci_ctx *ctx;
	char *uri;
	struct transport *tr;
	bool connected;
	bool running;
	bool broken;
	bool noack;
	bool ack_pending;
	bool qemu;
	bool multiprocess;
	bool vcont;
	bool xml;
	bool phys_supported;
	int phys_mode; /* -1 unknown, 0 virtual, 1 physical */
	size_t packet_size;
	int ncpu;
	char threads[MAX_CPUS][24];
	int gthread; /* CPU selected with Hg, -1 unknown */
	struct reg_desc *regs;
	int nregs;
	struct bp *bps;
	int nbps;
	bool have_pending;
	struct kvmdci_stop pending;
	struct rsp_decoder dec;
	char inbuf[65536];
	size_t inlen, inpos;
	char *out;
	size_t outlen, outcap;
	struct kvmdci_target_stats stats;
	uint64_t nop_cache_addr[16];
	int8_t nop_cache_len[16];
	int nop_cache_n;
};


static int now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* ---- output: packets are queued and written in one write per batch ---- */

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

static int queue_raw(struct rsp *t, const char *data, size_t len)
{
	if (out_reserve(t, len) < 0)
		return -ENOMEM;
	memcpy(t->out + t->outlen, data, len);
	t->outlen += len;
	return 0;
}

/* Queue one packet; a pending ack for the last received packet goes first. */
static int queue_pkt(struct rsp *t, const char *fmt, ...)
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
		if ((r = queue_raw(t, "+", 1)) < 0)
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

static void mark_broken(struct rsp *t, const char *why)
{
	if (!t->broken) {
		kvmdci_err(t->ctx, "connection to %s lost: %s", t->uri, why);
		kvmdci_set_cause(t->ctx, "connection to %s lost: %s", t->uri, why);
	}
	t->broken = true;
	t->running = false;
}

static int flush(struct rsp *t)
{
	int r;

	if (t->broken)
		return -EPIPE;
	if (t->outlen && (r = transport_write(t->tr, t->out, t->outlen)) < 0) {
		mark_broken(t, t->tr->why);
		t->outlen = 0;
		return r == -ENODEV ? r : -EPIPE;
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
static int recv_pkt_wait(struct rsp *t, int timeout_ms, bool interruptible)
{
	int deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;

	if (t->broken)
		return -EPIPE;
	for (;;) {
		while (t->inpos < t->inlen) {
			int r = rsp_decoder_feed(&t->dec, (uint8_t)t->inbuf[t->inpos++]);
			if (r != 1)
				continue;
			t->stats.packets_received++;
			if (t->dec.bad_checksum || t->dec.overflow) {
				kvmdci_warn(t->ctx, "%s: dropping a packet with a bad checksum or "
						    "too long", t->uri);
				if (!t->noack && queue_raw(t, "-", 1) == 0)
					flush(t);
				continue;
			}
			if (!t->noack)
				t->ack_pending = true;
			kvmdci_dbg(t->ctx, "<- %.200s", t->dec.buf);
			return (int)t->dec.len > 0 ? (int)t->dec.len : -ENODATA;
		}
		int wait = -1;
		if (timeout_ms >= 0) {
			wait = deadline - now_ms();
			if (wait <= 0)
				return 0;
		}
		ssize_t n = transport_read(t->tr, t->inbuf, sizeof(t->inbuf), wait);
		if (n == 0) {
			if (interruptible)
				return 0;
			continue; /* a signal: the deadline above still ends the wait */
		}
		if (n < 0) {
			mark_broken(t, t->tr->why);
			return n == -ENODEV ? -ENODEV : -EPIPE;
		}
		t->stats.bytes_received += (uint64_t)n;
		t->inlen = (size_t)n;
		t->inpos = 0;
	}
}

static int recv_pkt(struct rsp *t, int timeout_ms)
{
	return recv_pkt_wait(t, timeout_ms, false);
}

/* An empty packet is a valid "unsupported" reply; recv_pkt reports it as -ENODATA. */
static int recv_reply(struct rsp *t, const char *what)
{
	for (;;) {
		int r = recv_pkt(t, CMD_TIMEOUT_MS);
		if (r == -ENODATA)
			return 0;
		if (r == 0) {
			if (t->broken)
				return -EPIPE;
			kvmdci_err(t->ctx, "%s: no reply to '%s' within %d s", t->uri, what,
				   CMD_TIMEOUT_MS / 1000);
			kvmdci_set_cause(t->ctx, "%s: no reply to '%s' within %d s", t->uri, what,
					 CMD_TIMEOUT_MS / 1000);
			t->broken = true;
			return -ETIMEDOUT;
		}
		if (r < 0)
			return r;
		/* console output ("O" + hex) arrives before some replies */
		if (t->dec.buf[0] == 'O' && t->dec.len > 1 && t->dec.len % 2 == 1 &&
		    strcmp(t->dec.buf, "OK") != 0)
			continue;
		return r;
	}
}

/* Send one command and wait for its reply; returns the reply length (0: empty reply). */
static int command(struct rsp *t, const char *fmt, ...)
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
	if ((r = queue_pkt(t, "%s", body)) < 0 || (r = flush(t)) < 0)
		return r;
	return recv_reply(t, body);
}

static int reply_is_error(struct rsp *t)
{
	return t->dec.len == 3 && t->dec.buf[0] == 'E';
}

/* ---- threads / CPUs ---- */

static int cpu_of_thread(struct rsp *t, const char *tid)
{
	for (int i = 0; i < t->ncpu; i++)
		if (!strcmp(t->threads[i], tid))
			return i;
	/* "p1.2" vs "p01.02": compare numerically */
	long p1, t1, p2, t2;
	if (rsp_parse_thread_id(tid, &p1, &t1) < 0)
		return -1;
	for (int i = 0; i < t->ncpu; i++)
		if (rsp_parse_thread_id(t->threads[i], &p2, &t2) == 0 && t1 == t2 &&
		    (p1 < 0 || p2 < 0 || p1 == p2))
			return i;
	return -1;
}

static int read_threads(struct rsp *t)
{
	int r = command(t, "qfThreadInfo");

	t->ncpu = 0;
	while (r > 0 && t->dec.buf[0] == 'm') {
		char *s = t->dec.buf + 1, *save = NULL;
		for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (t->ncpu >= MAX_CPUS || strlen(tok) >= sizeof(t->threads[0]))
				break;
			strcpy(t->threads[t->ncpu++], tok);
		}
		r = command(t, "qsThreadInfo");
	}
	if (r < 0)
		return r;
	if (t->ncpu == 0) { /* a stub without thread support: one CPU */
		strcpy(t->threads[0], t->multiprocess ? "p1.1" : "1");
		t->ncpu = 1;
	}
	return 0;
}

static int select_cpu(struct rsp *t, int cpu)
{
	int r;

	if (cpu < 0 || cpu >= t->ncpu)
		return -EINVAL;
	if (t->gthread == cpu)
		return 0;
	r = command(t, "Hg%s", t->threads[cpu]);
	if (r < 0)
		return r;
	if (strcmp(t->dec.buf, "OK") != 0) {
		kvmdci_err(t->ctx, "%s: the stub refused to select CPU %d (thread %s): %s", t->uri,
			   cpu, t->threads[cpu], r ? t->dec.buf : "unsupported");
		return -EIO;
	}
	t->gthread = cpu;
	return 0;
}

/* ---- target description (registers) ---- */

static int xfer_read(struct rsp *t, const char *annex, char **out, size_t *outlen)
{
	size_t len = 0, cap = 0, chunk = t->packet_size > 64 ? t->packet_size - 32 : 1000;
	char *buf = NULL;

	for (int rounds = 0; rounds < 4096; rounds++) {
		int r = command(t, "qXfer:features:read:%s:%zx,%zx", annex, len, chunk);
		if (r <= 0 || (t->dec.buf[0] != 'm' && t->dec.buf[0] != 'l')) {
			free(buf);
			return r < 0 ? r : -ENOENT;
		}
		size_t n = (size_t)r - 1;
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		memcpy(buf + len, t->dec.buf + 1, n);
		len += n;
		buf[len] = '\0';
		if (t->dec.buf[0] == 'l')
			break;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static const char *xml_attr(const char *tag, const char *tag_end, const char *name, char *val,
			    size_t valsz)
{
	size_t nl = strlen(name);
	for (const char *p = tag; p && p + nl + 2 < tag_end; p++) {
		if (!strncmp(p, name, nl) && p[nl] == '=' && (p[nl + 1] == '"' || p[nl + 1] == '\'') &&
		    (p == tag || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n')) {
			char q = p[nl + 1];
			const char *s = p + nl + 2, *e = memchr(s, q, (size_t)(tag_end - s));
			if (!e || (size_t)(e - s) >= valsz)
				return NULL;
			memcpy(val, s, (size_t)(e - s));
			val[e - s] = '\0';
			return val;
		}
	}
	return NULL;
}

/* Collect <reg> elements in document order, following <xi:include>. */
static int parse_tdesc(struct rsp *t, const char *annex, int depth, int *next_regnum)
{
	char *xml;
	size_t len;
	int r;

	if (depth > 4)
		return -ELOOP;
	if ((r = xfer_read(t, annex, &xml, &len)) < 0)
		return r;
	for (const char *p = xml; (p = strchr(p, '<'));) {
		const char *end = strchr(p, '>');
		char val[256];
		if (!end)
			break;
		/* QEMU's i386-64bit.xml comments out <reg>s (cs_base ... es_base): skip comments */
		if (!strncmp(p, "<!--", 4)) {
			const char *c = strstr(p + 4, "-->");
			if (!c)
				break;
			p = c + 3;
			continue;
		}
		if (!strncmp(p, "<xi:include", 11) && xml_attr(p, end, "href", val, sizeof(val))) {
			r = parse_tdesc(t, val, depth + 1, next_regnum);
			if (r < 0 && r != -ENOENT) {
				free(xml);
				return r;
			}
		} else if (!strncmp(p, "<reg ", 5) && t->nregs < MAX_REGS) {
			struct reg_desc *rd = &t->regs[t->nregs];
			char num[32];
			if (!xml_attr(p, end, "name", rd->name, sizeof(rd->name)) ||
			    !xml_attr(p, end, "bitsize", num, sizeof(num))) {
				p = end;
				continue;
			}
			rd->bits = atoi(num);
			if (xml_attr(p, end, "regnum", num, sizeof(num)))
				*next_regnum = atoi(num);
			rd->regnum = (*next_regnum)++;
			t->nregs++;
		}
		p = end;
	}
	free(xml);
	return 0;
}

static int load_registers(struct rsp *t)
{
	int next = 0, r;

	t->regs = calloc(MAX_REGS, sizeof(*t->regs));
	if (!t->regs)
		return -ENOMEM;
	if (!t->xml) {
		kvmdci_err(t->ctx, "%s: the stub offers no target description (qXfer:features)",
			   t->uri);
		return -EOPNOTSUPP;
	}
	r = parse_tdesc(t, "target.xml", 0, &next);
	if (r < 0) {
		kvmdci_err(t->ctx, "%s: cannot read the target description: %s", t->uri,
			   strerror(-r));
		return r;
	}
	/* 'g' packet offsets follow regnum order */
	int off = 0;
	for (int n = 0; n < next; n++)
		for (int i = 0; i < t->nregs; i++)
			if (t->regs[i].regnum == n) {
				t->regs[i].g_offset = off;
				off += t->regs[i].bits / 8;
			}
	kvmdci_dbg(t->ctx, "%d registers in the target description", t->nregs);
	return t->nregs ? 0 : -ENOENT;
}

static struct reg_desc *find_reg(struct rsp *t, const char *name)
{
	for (int i = 0; i < t->nregs; i++)
		if (!strcmp(t->regs[i].name, name))
			return &t->regs[i];
	return NULL;
}

/* ---- attach ---- */

static void parse_supported(struct rsp *t, const char *s)
{
	char *copy = strdup(s), *save = NULL;
	if (!copy)
		return;
	for (char *f = strtok_r(copy, ";", &save); f; f = strtok_r(NULL, ";", &save)) {
		if (!strncmp(f, "PacketSize=", 11))
			t->packet_size = strtoul(f + 11, NULL, 16);
		else if (!strcmp(f, "qXfer:features:read+"))
			t->xml = true;
		else if (!strcmp(f, "multiprocess+"))
			t->multiprocess = true;
		else if (!strcmp(f, "QStartNoAckMode+"))
			t->noack = true; /* tentative: confirmed below */
		else if (!strcmp(f, "vContSupported+"))
			t->vcont = true;
	}
	free(copy);
}

static int attach(struct rsp *t)
{
	int r;
	bool want_noack;

	t->connected = true;
	/* A peer that is not a gdbstub: nothing or garbage comes back in time. */
	if ((r = queue_raw(t, "+", 1)) < 0 ||
	    (r = queue_pkt(t, "qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+;"
			      "xmlRegisters=i386")) < 0 ||
	    (r = flush(t)) < 0)
		return r;
	/* QEMU pauses a running VM when a debugger connects and may announce that with a stop
	 * reply (T02) before it answers qSupported: skip stop replies here. */
	struct rsp_stop early;
	for (int i = 0; i < 4; i++) {
		r = recv_pkt(t, 3000);
		if (r <= 0 || rsp_parse_stop(t->dec.buf, t->dec.len, &early) < 0 ||
		    early.kind != 'T')
			break;
	}
	if (r == 0 || r == -ENODATA || r == -EPIPE) {
		kvmdci_err(t->ctx, "%s: no GDB remote-protocol reply to qSupported within 3 s "
				   "(is this a gdbstub?)", t->uri);
		return -EPROTO;
	}
	if (r < 0)
		return r;
	parse_supported(t, t->dec.buf);
	if (t->packet_size < 64 || t->packet_size > REPLY_CAP)
		t->packet_size = 400;
	want_noack = t->noack;
	t->noack = false;
	if (want_noack) {
		r = command(t, "QStartNoAckMode");
		if (r < 0)
			return r;
		if (!strcmp(t->dec.buf, "OK")) {
			t->noack = true;
			t->ack_pending = false;
		}
	}
	/* '?' once: QEMU removes all breakpoints on it (a previous client's leftovers too). */
	r = command(t, "?");
	if (r < 0)
		return r;
	struct rsp_stop st;
	if (r == 0 || rsp_parse_stop(t->dec.buf, t->dec.len, &st) < 0) {
		kvmdci_err(t->ctx, "%s: unexpected reply to '?': '%.40s' (is this a gdbstub?)",
			   t->uri, t->dec.buf);
		return -EPROTO;
	}
	if (st.kind == 'W' || st.kind == 'X') {
		kvmdci_err(t->ctx, "%s: the target has exited", t->uri);
		return -ESRCH;
	}
	r = command(t, "qqemu.Supported");
	if (r < 0)
		return r;
	if (r > 0 && !reply_is_error(t)) {
		t->qemu = true;
		t->phys_supported = strstr(t->dec.buf, "PhyMemMode") != NULL;
	}
	t->phys_mode = t->qemu ? 0 : -1;
	if ((r = read_threads(t)) < 0)
		return r;
	if ((r = load_registers(t)) < 0)
		return r;
	t->gthread = -1;
	if (st.thread[0])
		t->gthread = t->qemu ? cpu_of_thread(t, st.thread) : -1;
	kvmdci_info(t->ctx, "attached to %s: %d CPUs, %d registers%s%s", t->uri, t->ncpu, t->nregs,
		    t->qemu ? ", QEMU gdbstub" : "", t->phys_supported ? ", physical reads" : "");
	return 0;
}

static void rsp_free(struct rsp *t)
{
	if (t->connected)
		rsp_detach(t);
	transport_close(t->tr);
	kvmdci_ctx_unref(t->ctx);
	free(t->uri);
	free(t->dec.buf);
	free(t->bps);
	free(t->regs);
	free(t->out);
	free(t);
}

/* Open a GDB remote-protocol target (gdb://, gdb+unix://, serial:// or usb://). */
int rsp_target_open(struct kvmdci_ctx *ctx, const char *uri, const struct target_uri *u,
		    void **ret)
{
	struct rsp *t;
	int r;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->refcount = 1;
	t->ctx = kvmdci_ctx_ref(ctx);
	t->uri = strdup(uri);
	t->gthread = -1;
	t->dec.cap = REPLY_CAP;
	t->dec.buf = malloc(REPLY_CAP);
	t->bps = calloc(MAX_BPS, sizeof(*t->bps));
	if (!t->uri || !t->dec.buf || !t->bps) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = transport_open(ctx, u, &t->tr)) < 0)
		goto fail;
	if ((r = attach(t)) < 0)
		goto fail;
	*ret = t;
	return 0;
fail:
	if (t->tr && !t->broken && r != -EPROTO) {
		/* leave the target running: it was paused by our connection */
		t->running = false;
		queue_pkt(t, t->multiprocess ? "D;1" : "D");
		flush(t);
	}
	t->connected = false;
	rsp_free(t);
	return r;
}

static int rsp_cpu_count(struct rsp *t)
{
	return t->ncpu;
}

static void rsp_get_stats(struct rsp *t,
					   struct kvmdci_target_stats *stats)
{
	*stats = t->stats;
}

/* ---- registers ---- */

static int rsp_regs_read(struct rsp *t, int cpu, const char *const *names,
					  uint64_t *vals, int n)
{
	struct reg_desc *rd[16];
	int r;

	if (n <= 0 || n > 16)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		rd[i] = find_reg(t, names[i]);
		if (!rd[i] || rd[i]->bits > 64) {
			kvmdci_err(t->ctx, "%s: no register '%s' in the target description", t->uri,
				   names[i]);
			return -ENOENT;
		}
	}
	if ((r = select_cpu(t, cpu)) < 0)
		return r;
	/* pipelined: all 'p' packets in one write, then the replies in order */
	for (int i = 0; i < n; i++)
		if ((r = queue_pkt(t, "p%x", rd[i]->regnum)) < 0)
			return r;
	if ((r = flush(t)) < 0)
		return r;
	int err = 0;
	for (int i = 0; i < n; i++) {
		uint8_t bytes[8] = { 0 };
		r = recv_reply(t, "p");
		if (r < 0)
			return r;
		if (r == 0 || reply_is_error(t) || t->dec.buf[0] == 'x' ||
		    rsp_hex_decode(t->dec.buf, (size_t)r > 16 ? 16 : (size_t)r, bytes, 8) < 0) {
			err = -EIO;
			continue;
		}
		vals[i] = le64(bytes);
		if (rd[i]->bits < 64)
			vals[i] &= (1ULL << rd[i]->bits) - 1;
	}
	if (err)
		kvmdci_err(t->ctx, "%s: reading registers of CPU %d failed", t->uri, cpu);
	return err;
}

static int rsp_reg_write(struct rsp *t, int cpu, const char *name,
					  uint64_t val)
{
	struct reg_desc *rd = find_reg(t, name);
	uint8_t bytes[8];
	char hex[17];
	int r;

	if (!rd || rd->bits > 64 || rd->bits % 8) {
		kvmdci_err(t->ctx, "%s: no writable register '%s'", t->uri, name);
		return -ENOENT;
	}
	if ((r = select_cpu(t, cpu)) < 0)
		return r;
	memcpy(bytes, &val, 8);
	rsp_hex_encode(bytes, (size_t)rd->bits / 8, hex);
	r = command(t, "P%x=%s", rd->regnum, hex);
	if (r < 0)
		return r;
	if (strcmp(t->dec.buf, "OK") != 0) {
		kvmdci_err(t->ctx, "%s: writing register %s of CPU %d failed: '%s'", t->uri, name,
			   cpu, r ? t->dec.buf : "unsupported");
		return -EIO;
	}
	return 0;
}

/* ---- memory ---- */

static int set_phys_mode(struct rsp *t, int on)
{
	int r;

	if (t->phys_mode == on)
		return 0;
	if (!t->phys_supported)
		return on ? -EOPNOTSUPP : 0;
	r = command(t, "Qqemu.PhyMemMode:%d", on);
	if (r < 0)
		return r;
	if (strcmp(t->dec.buf, "OK") != 0)
		return -EIO;
	t->phys_mode = on;
	return 0;
}

static int read_mem(struct rsp *t, uint64_t addr, void *buf, size_t len)
{
	size_t chunk = (t->packet_size - 16) / 2;
	uint8_t *p = buf;

	if (chunk > 2000)
		chunk = 2000;
	while (len > 0) {
		size_t n = len < chunk ? len : chunk;
		int r = command(t, "m%llx,%zx", (unsigned long long)addr, n);
		if (r < 0)
			return r;
		if (r == 0 || reply_is_error(t)) {
			kvmdci_set_error(t->ctx, "cannot read %zu bytes at 0x%llx", n,
					 (unsigned long long)addr);
			return -EFAULT;
		}
		int got = rsp_hex_decode(t->dec.buf, (size_t)r, p, n);
		if (got <= 0) {
			kvmdci_err(t->ctx, "%s: malformed memory reply at 0x%llx", t->uri,
				   (unsigned long long)addr);
			return -EPROTO;
		}
		if ((size_t)got < n) { /* a partial read ends at an unreadable page */
			kvmdci_set_error(t->ctx, "cannot read 0x%llx", (unsigned long long)addr + (unsigned)got);
			return -EFAULT;
		}
		p += n;
		addr += n;
		len -= n;
	}
	return 0;
}

static int rsp_read_virt(struct rsp *t, int cpu, uint64_t addr,
					  void *buf, size_t len)
{
	int r;

	if ((r = select_cpu(t, cpu)) < 0 || (r = set_phys_mode(t, 0)) < 0)
		return r;
	return read_mem(t, addr, buf, len);
}

/* Several small reads in one round trip: every 'm' in one write, then the replies in order.
 * Each request gets its own result; a read longer than one packet goes alone. */
static int rsp_read_virt_many(struct rsp *t, int cpu, struct target_read *rq, int n)
{
	size_t chunk = (t->packet_size - 16) / 2;
	int r, queued = 0;

	if ((r = select_cpu(t, cpu)) < 0 || (r = set_phys_mode(t, 0)) < 0)
		return r;
	if (!t->connected)
		return -ENOTCONN;
	if (t->running)
		return -EBUSY;
	for (int i = 0; i < n; i++) {
		rq[i].result = -EAGAIN;
		if (rq[i].len == 0 || rq[i].len > chunk || rq[i].len > 2000)
			continue;
		if ((r = queue_pkt(t, "m%llx,%zx", (unsigned long long)rq[i].addr, rq[i].len)) < 0)
			return r;
		rq[i].result = 1; /* queued */
		queued++;
	}
	if (queued && (r = flush(t)) < 0)
		return r;
	for (int i = 0; i < n; i++) {
		if (rq[i].result != 1)
			continue;
		r = recv_reply(t, "m");
		if (r < 0)
			return r; /* the connection is gone: the other replies with it */
		if (r == 0 || reply_is_error(t) ||
		    rsp_hex_decode(t->dec.buf, (size_t)r, rq[i].buf, rq[i].len) != (int)rq[i].len) {
			kvmdci_set_error(t->ctx, "cannot read %zu bytes at 0x%llx", rq[i].len,
					 (unsigned long long)rq[i].addr);
			rq[i].result = -EFAULT;
		} else {
			rq[i].result = 0;
		}
	}
	/* the long ones, after every queued reply is in */
	for (int i = 0; i < n; i++)
		if (rq[i].result == -EAGAIN)
			rq[i].result = read_mem(t, rq[i].addr, rq[i].buf, rq[i].len);
	return 0;
}

static int rsp_read_phys(struct rsp *t, uint64_t addr, void *buf,
					  size_t len)
{
	int r = set_phys_mode(t, 1);

	if (r < 0) {
		if (r == -EOPNOTSUPP)
			kvmdci_set_error(t->ctx, "%s: the stub offers no physical memory access",
					 t->uri);
		return r;
	}
	return read_mem(t, addr, buf, len);
}

/* ---- breakpoints ---- */

static int bp_find(struct rsp *t, int kind, uint64_t addr, unsigned int len)
{
	for (int i = 0; i < t->nbps; i++)
		if (t->bps[i].kind == kind && t->bps[i].addr == addr && t->bps[i].len == len)
			return i;
	return -1;
}

static int bp_packet(struct rsp *t, char op, int kind, uint64_t addr, unsigned int len)
{
	int r = command(t, "%c%d,%llx,%x", op, kind, (unsigned long long)addr, len);

	if (r < 0)
		return r;
	if (r == 0) {
		kvmdci_set_error(t->ctx, "%s: the stub does not support Z%d", t->uri, kind);
		return -EOPNOTSUPP;
	}
	if (strcmp(t->dec.buf, "OK") != 0) {
		kvmdci_set_error(t->ctx, "%s: %c%d at 0x%llx failed: %s", t->uri, op, kind,
				 (unsigned long long)addr, t->dec.buf);
		return -EIO;
	}
	return 0;
}

static int rsp_bp_insert(struct rsp *t, enum kvmdci_bp_kind kind,
					  uint64_t addr, unsigned int len)
{
	int r;

	if (bp_find(t, (int)kind, addr, len) >= 0)
		return 0;
	if (t->nbps >= MAX_BPS)
		return -ENOSPC;
	if ((r = bp_packet(t, 'Z', (int)kind, addr, len)) < 0)
		return r;
	t->bps[t->nbps++] = (struct bp){ (int)kind, addr, len };
	return 0;
}

static int rsp_bp_remove(struct rsp *t, enum kvmdci_bp_kind kind,
					  uint64_t addr, unsigned int len)
{
	int i = bp_find(t, (int)kind, addr, len), r;

	if (i < 0)
		return -ENOENT;
	r = bp_packet(t, 'z', (int)kind, addr, len);
	if (r < 0 && r != -EIO)
		return r;
	t->bps[i] = t->bps[--t->nbps];
	return r;
}

static int rsp_bp_remove_all(struct rsp *t)
{
	int first_err = 0;

	while (t->nbps > 0) {
		struct bp b = t->bps[t->nbps - 1];
		int r = rsp_bp_remove(t, (enum kvmdci_bp_kind)b.kind, b.addr, b.len);
		if (r < 0 && !first_err)
			first_err = r;
		if (r < 0 && (t->broken || !t->connected))
			break;
	}
	return first_err;
}

static int rsp_bp_count(struct rsp *t)
{
	return t->nbps;
}

/* ---- run control ---- */

static void fill_stop(struct rsp *t, const struct rsp_stop *st, struct kvmdci_stop *out)
{
	memset(out, 0, sizeof(*out));
	out->signal = st->signal;
	out->cpu = st->thread[0] ? cpu_of_thread(t, st->thread) : -1;
	if (st->kind == 'W' || st->kind == 'X') {
		out->reason = KVMDCI_STOP_EXITED;
		return;
	}
	if (st->watch) {
		out->reason = KVMDCI_STOP_WATCHPOINT;
		out->addr = st->watch_addr;
	} else if (st->signal == 5) {
		out->reason = KVMDCI_STOP_SIGNAL;
		/* a breakpoint is recognised by the caller from rip; see exits.c */
	} else {
		out->reason = KVMDCI_STOP_SIGNAL;
	}
	/* QEMU makes the stopped CPU the current one for 'g'/'m' (gdb_vm_state_change). */
	t->gthread = t->qemu ? out->cpu : -1;
}

static int rsp_resume(struct rsp *t)
{
	int r;

	if (!t->connected)
		return -ENOTCONN;
	if (t->running)
		return 0;
	if (t->have_pending)
		return 0; /* a stop is already waiting to be reported */
	if ((r = queue_pkt(t, t->vcont ? "vCont;c" : "c")) < 0 || (r = flush(t)) < 0)
		return r;
	t->running = true;
	return 0;
}

static int rsp_wait(struct rsp *t, int timeout_ms,
				     struct kvmdci_stop *stop)
{
	struct rsp_stop st;

	if (t->have_pending) {
		*stop = t->pending;
		t->have_pending = false;
		return 1;
	}
	if (!t->running)
		return -EINVAL;
	for (;;) {
		int r = recv_pkt_wait(t, timeout_ms, true);
		if (r == -ENODATA)
			continue;
		if (r <= 0)
			return r;
		if (t->dec.buf[0] == 'O' && strcmp(t->dec.buf, "OK") != 0)
			continue; /* console output */
		if (rsp_parse_stop(t->dec.buf, t->dec.len, &st) < 0) {
			kvmdci_warn(t->ctx, "%s: ignoring unexpected packet while running: '%.40s'",
				    t->uri, t->dec.buf);
			continue;
		}
		t->running = false;
		fill_stop(t, &st, stop);
		if (stop->reason == KVMDCI_STOP_EXITED) {
			t->connected = false;
			kvmdci_err(t->ctx, "%s: the target exited", t->uri);
		}
		return 1;
	}
}

static int rsp_interrupt(struct rsp *t)
{
	char c = 0x03;

	if (!t->running)
		return 0;
	if (transport_write(t->tr, &c, 1) < 0) {
		mark_broken(t, t->tr->why);
		return -EPIPE;
	}
	return 0;
}

static int rsp_is_running(struct rsp *t)
{
	return t->running ? 1 : 0;
}

/* Length of leading instructions at @addr that do nothing, so RIP may skip them: the 5-byte
 * NOP that ftrace leaves at a function's __fentry__ call site (0f 1f 44 00 00). */
static int nop_len(struct rsp *t, int cpu, uint64_t addr)
{
	static const uint8_t nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	uint8_t b[5];
	int len = 0;

	for (int i = 0; i < t->nop_cache_n; i++)
		if (t->nop_cache_addr[i] == addr)
			return t->nop_cache_len[i];
	if (rsp_read_virt(t, cpu, addr, b, 5) == 0 && !memcmp(b, nop5, 5))
		len = 5;
	if (t->nop_cache_n < (int)ARRAY_SIZE(t->nop_cache_addr)) {
		t->nop_cache_addr[t->nop_cache_n] = addr;
		t->nop_cache_len[t->nop_cache_n++] = (int8_t)len;
	}
	return len;
}

static int rsp_step_over(struct rsp *t, int cpu, uint64_t addr)
{
	struct kvmdci_stop st;
	int kind = -1, r, skip;

	if (!t->connected)
		return -ENOTCONN;
	if (cpu < 0 || cpu >= t->ncpu)
		return -EINVAL;
	skip = nop_len(t, cpu, addr);
	if (skip > 0) {
		/* The cheap way: move rip past the no-op; no single-step stop needed. */
		struct reg_desc *rip = find_reg(t, "rip");
		uint8_t bytes[8];
		char hex[17];
		uint64_t v = addr + (uint64_t)skip;
		if (!rip)
			return -ENOENT;
		if ((r = select_cpu(t, cpu)) < 0)
			return r;
		memcpy(bytes, &v, 8);
		rsp_hex_encode(bytes, 8, hex);
		/* pipelined: P and continue in one write; P's reply is read before the stop */
		if ((r = queue_pkt(t, "P%x=%s", rip->regnum, hex)) < 0 ||
		    (r = queue_pkt(t, t->vcont ? "vCont;c" : "c")) < 0 || (r = flush(t)) < 0)
			return r;
		r = recv_reply(t, "P rip");
		if (r < 0)
			return r;
		if (strcmp(t->dec.buf, "OK") != 0) {
			kvmdci_err(t->ctx, "%s: cannot set rip of CPU %d: '%s'", t->uri, cpu,
				   t->dec.buf);
			/* the continue was sent anyway: the CPU re-hits the breakpoint */
		}
		t->running = true;
		return 0;
	}
	for (int k = 0; k <= 1; k++)
		if (bp_find(t, k, addr, 1) >= 0)
			kind = k;
	if (kind >= 0 && (r = bp_packet(t, 'z', kind, addr, 1)) < 0)
		return r;
	/* step only this CPU; the others stay stopped */
	if (t->vcont)
		r = queue_pkt(t, "vCont;s:%s", t->threads[cpu]);
	else if ((r = command(t, "Hc%s", t->threads[cpu])) >= 0)
		r = queue_pkt(t, "s");
	if (r < 0 || (r = flush(t)) < 0)
		return r;
	t->running = true;
	/* a signal may end one wait early: the step's stop is still to come */
	int step_deadline = now_ms() + CMD_TIMEOUT_MS;
	do
		r = rsp_wait(t, step_deadline - now_ms() > 0 ? step_deadline - now_ms() : 0, &st);
	while (r == 0 && now_ms() < step_deadline);
	if (r <= 0) {
		if (r == 0)
			kvmdci_err(t->ctx, "%s: single-step of CPU %d did not stop", t->uri, cpu);
		return r < 0 ? r : -ETIMEDOUT;
	}
	if (kind >= 0 && (r = bp_packet(t, 'Z', kind, addr, 1)) < 0)
		return r;
	if (st.reason != KVMDCI_STOP_SIGNAL || st.cpu != cpu) {
		t->pending = st; /* something else happened during the step: report it */
		t->have_pending = true;
		return 0;
	}
	return rsp_resume(t);
}

static int rsp_detach(struct rsp *t)
{
	struct kvmdci_stop st;
	int r = 0;

	if (!t->connected || t->broken) {
		t->connected = false;
		return t->broken ? -EPIPE : 0;
	}
	if (t->running) {
		rsp_interrupt(t);
		r = rsp_wait(t, 3000, &st);
		if (r <= 0) {
			kvmdci_err(t->ctx, "%s: the target did not stop for detach", t->uri);
			t->connected = false;
			return r < 0 ? r : -ETIMEDOUT;
		}
	}
	t->have_pending = false;
	r = rsp_bp_remove_all(t);
	if (t->phys_mode == 1)
		set_phys_mode(t, 0);
	if (command(t, t->multiprocess ? "D;1" : "D") < 0 && !r)
		r = -EIO;
	t->connected = false;
	return r;
}

/* ---- the backend's operations ---- */

static void op_free(void *p)
{
	rsp_free(p);
}
static int op_cpu_count(void *p)
{
	return rsp_cpu_count(p);
}
static void op_get_stats(void *p, struct kvmdci_target_stats *st)
{
	rsp_get_stats(p, st);
}
static int op_regs_read(void *p, int cpu, const char *const *names, uint64_t *vals, int n)
{
	return rsp_regs_read(p, cpu, names, vals, n);
}
static int op_reg_write(void *p, int cpu, const char *name, uint64_t val)
{
	return rsp_reg_write(p, cpu, name, val);
}
static int op_read_virt(void *p, int cpu, uint64_t addr, void *buf, size_t len)
{
	return rsp_read_virt(p, cpu, addr, buf, len);
}
static int op_read_virt_many(void *p, int cpu, struct target_read *rq, int n)
{
	return rsp_read_virt_many(p, cpu, rq, n);
}
static int op_read_phys(void *p, uint64_t addr, void *buf, size_t len)
{
	return rsp_read_phys(p, addr, buf, len);
}
static int op_bp_insert(void *p, enum kvmdci_bp_kind kind, uint64_t addr, unsigned int len)
{
	return rsp_bp_insert(p, kind, addr, len);
}
static int op_bp_remove(void *p, enum kvmdci_bp_kind kind, uint64_t addr, unsigned int len)
{
	return rsp_bp_remove(p, kind, addr, len);
}
static int op_bp_remove_all(void *p)
{
	return rsp_bp_remove_all(p);
}
static int op_bp_count(void *p)
{
	return rsp_bp_count(p);
}
static int op_resume(void *p)
{
	return rsp_resume(p);
}
static int op_step_over(void *p, int cpu, uint64_t addr)
{
	return rsp_step_over(p, cpu, addr);
}
static int op_wait(void *p, int timeout_ms, struct kvmdci_stop *stop)
{
	return rsp_wait(p, timeout_ms, stop);
}
static int op_interrupt(void *p)
{
	return rsp_interrupt(p);
}
static int op_is_running(void *p)
{
	return rsp_is_running(p);
}
static int op_detach(void *p)
{
	return rsp_detach(p);
}

static uint32_t op_link_rate(void *p)
{
	struct rsp *t = p;
	return t->tr ? t->tr->bytes_per_s : 0;
}

const struct target_ops rsp_target_ops = {
	.name = "gdb-remote",
	.free = op_free,
	.cpu_count = op_cpu_count,
	.get_stats = op_get_stats,
	.regs_read = op_regs_read,
	.reg_write = op_reg_write,
	.read_virt = op_read_virt,
	.read_virt_many = op_read_virt_many,
	.read_phys = op_read_phys,
	.bp_insert = op_bp_insert,
	.bp_remove = op_bp_remove,
	.bp_remove_all = op_bp_remove_all,
	.bp_count = op_bp_count,
	.resume = op_resume,
	.step_over = op_step_over,
	.wait = op_wait,
	.interrupt = op_interrupt,
	.is_running = op_is_running,
	.detach = op_detach,
	.link_rate = op_link_rate,
};
