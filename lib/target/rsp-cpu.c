// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A CPU's threads, registers and memory over the GDB remote protocol: one thread per CPU,
 * registers read pipelined by number, virtual reads through the selected CPU and physical
 * ones through QEMU's PhyMemMode.
 */
#include <stdlib.h>

#include "target/rsp-internal.h"

int rsp_cpu_of_thread(struct rsp *t, const char *tid)
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

/*
 * The stub's thread list: qfThreadInfo, then qsThreadInfo until 'l'. The stub decides how
 * long that goes on: more than MAX_CPUS threads, or an 'm' reply that names none, is an
 * error that says so (a stub that never says 'l' would keep us here for ever).
 */
int rsp_read_threads(struct rsp *t)
{
	int r = rsp_command(t, "qfThreadInfo");

	t->ncpu = 0;
	while (r > 0 && t->dec.buf[0] == 'm') {
		char *s = t->dec.buf + 1, *save = NULL;
		int before = t->ncpu;
		for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (t->ncpu >= MAX_CPUS) {
				kvmdci_err(t->ctx, "%s: the stub lists more than %d threads (the limit "
						   "of CPUs this library handles); a stub whose "
						   "qsThreadInfo never answers 'l'?", t->uri, MAX_CPUS);
				return -E2BIG;
			}
			if (strlen(tok) >= sizeof(t->threads[0])) {
				kvmdci_err(t->ctx, "%s: the stub lists a thread id longer than %zu "
						   "characters: '%.40s...'", t->uri,
					   sizeof(t->threads[0]) - 1, tok);
				return -EPROTO;
			}
			strcpy(t->threads[t->ncpu++], tok);
		}
		if (t->ncpu == before) {
			kvmdci_err(t->ctx, "%s: the stub answered the thread list with an 'm' that "
					   "names no thread", t->uri);
			return -EPROTO;
		}
		r = rsp_command(t, "qsThreadInfo");
	}
	if (r < 0)
		return r;
	if (r > 0 && t->dec.buf[0] != 'l' && !rsp_reply_is_error(t)) {
		kvmdci_err(t->ctx, "%s: unexpected reply to the thread list: '%.40s'", t->uri,
			   t->dec.buf);
		return -EPROTO;
	}
	if (t->ncpu == 0) { /* a stub without thread support: one CPU */
		strcpy(t->threads[0], t->multiprocess ? "p1.1" : "1");
		t->ncpu = 1;
	}
	return 0;
}

int rsp_select_cpu(struct rsp *t, int cpu)
{
	int r;

	if (cpu < 0 || cpu >= t->ncpu)
		return -EINVAL;
	if (t->gthread == cpu)
		return 0;
	r = rsp_command(t, "Hg%s", t->threads[cpu]);
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

/* The register descriptions of @names (at most 16), or -ENOENT naming the one missing. */
static int regs_find(struct rsp *t, const char *const *names, int n, struct reg_desc **rd)
{
	if (n <= 0 || n > 16)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		rd[i] = rsp_find_reg(t, names[i]);
		if (!rd[i] || rd[i]->bits > 64) {
			kvmdci_err(t->ctx, "%s: no register '%s' in the target description", t->uri,
				   names[i]);
			return -ENOENT;
		}
	}
	return 0;
}

/* Queue a 'p' per register: pipelined, the replies come in order. */
static int regs_queue(struct rsp *t, struct reg_desc **rd, int n)
{
	int r;

	for (int i = 0; i < n; i++)
		if ((r = rsp_queue_pkt(t, "p%x", rd[i]->regnum)) < 0)
			return r;
	return 0;
}

/* The replies of regs_queue(), in order. */
static int regs_recv(struct rsp *t, int cpu, struct reg_desc **rd, uint64_t *vals, int n)
{
	int err = 0, r;

	for (int i = 0; i < n; i++) {
		uint8_t bytes[8] = { 0 };
		size_t want = (size_t)rd[i]->bits / 4;
		r = rsp_recv_reply(t, "p");
		if (r < 0)
			return r;
		if (r == 0 || rsp_reply_is_error(t) || (r == (int)want && t->dec.buf[0] == 'x')) {
			/* unavailable (an error, or all 'x'): this register only */
			kvmdci_set_error(t->ctx, "%s: the stub cannot read register %s of CPU %d: "
						 "'%.20s'", t->uri, rd[i]->name, cpu, t->dec.buf);
			if (!err)
				err = -EIO;
			continue;
		}
		if ((size_t)r != want || rsp_hex_decode(t->dec.buf, want, bytes, 8) < 0) {
			kvmdci_err(t->ctx, "%s: register %s of CPU %d: the stub sent %d characters "
					   "'%.40s', the target description says %d bits (%zu hex "
					   "digits)", t->uri, rd[i]->name, cpu, r, t->dec.buf,
				   rd[i]->bits, want);
			t->resync = true;
			err = -EPROTO;
			continue;
		}
		vals[i] = le64(bytes);
	}
	if (err == -EIO)
		kvmdci_err(t->ctx, "%s: reading registers of CPU %d failed (%s)", t->uri, cpu,
			   kvmdci_ctx_last_error(t->ctx));
	return err;
}

int rsp_regs_read(struct rsp *t, int cpu, const char *const *names, uint64_t *vals, int n)
{
	struct reg_desc *rd[16];
	int r;

	if ((r = regs_find(t, names, n, rd)) < 0 || (r = rsp_select_cpu(t, cpu)) < 0 ||
	    (r = rsp_drain(t)) < 0 || (r = regs_queue(t, rd, n)) < 0 || (r = rsp_flush(t)) < 0)
		return r;
	return regs_recv(t, cpu, rd, vals, n);
}

int rsp_reg_write(struct rsp *t, int cpu, const char *name, uint64_t val)
{
	struct reg_desc *rd = rsp_find_reg(t, name);
	uint8_t bytes[8];
	char hex[17];
	int r;

	if (!rd || rd->bits > 64 || rd->bits % 8) {
		kvmdci_err(t->ctx, "%s: no writable register '%s'", t->uri, name);
		return -ENOENT;
	}
	if ((r = rsp_select_cpu(t, cpu)) < 0)
		return r;
	memcpy(bytes, &val, 8);
	rsp_hex_encode(bytes, (size_t)rd->bits / 8, hex);
	r = rsp_command(t, "P%x=%s", rd->regnum, hex);
	if (r < 0)
		return r;
	if (strcmp(t->dec.buf, "OK") != 0) {
		kvmdci_err(t->ctx, "%s: writing register %s of CPU %d failed: '%s'", t->uri, name,
			   cpu, r ? t->dec.buf : "unsupported");
		return -EIO;
	}
	return 0;
}

int rsp_set_phys_mode(struct rsp *t, int on)
{
	int r;

	if (t->phys_mode == on)
		return 0;
	if (!t->phys_supported)
		return on ? -EOPNOTSUPP : 0;
	r = rsp_command(t, "Qqemu.PhyMemMode:%d", on);
	if (r < 0)
		return r;
	if (strcmp(t->dec.buf, "OK") != 0)
		return -EIO;
	t->phys_mode = on;
	return 0;
}

/*
 * A read of @len bytes in packets of at most ~2 KB (QEMU answers no more per 'm'), pipelined:
 * up to READ_WINDOW requests are in flight, the next one written as each reply comes in, so a
 * long read costs the stub's work per packet, not a round trip each (refilling the window
 * half at a time instead made no measurable difference on the loaded lab). The first failing
 * packet decides the result; the replies to the requests already sent are read and dropped.
 */
#define READ_WINDOW 32
static int rsp_read_mem(struct rsp *t, uint64_t addr, void *buf, size_t len)
{
	size_t chunk = (t->packet_size - 16) / 2;
	uint8_t *p = buf;
	size_t sent = 0, got = 0; /* bytes requested, bytes answered */
	int r, err = 0, inflight = 0;
	/* a stub that wants acks may wait for each before it reads on: one at a time there */
	int window = t->noack ? READ_WINDOW : 1;

	if (chunk > 2000)
		chunk = 2000;
	if (len <= chunk) { /* one packet: a plain command */
		r = rsp_command(t, "m%llx,%zx", (unsigned long long)addr, len);
		if (r < 0)
			return r;
		if (r == 0 || rsp_reply_is_error(t)) {
			kvmdci_set_error(t->ctx, "cannot read %zu bytes at 0x%llx", len,
					 (unsigned long long)addr);
			return -EFAULT;
		}
		int n = rsp_hex_decode(t->dec.buf, (size_t)r, p, len);
		if (n <= 0) {
			char what[64];
			snprintf(what, sizeof(what), "m%llx,%zx", (unsigned long long)addr, len);
			return rsp_wrong_shape(t, what, "memory (malformed hex)");
		}
		if ((size_t)n < len) { /* a partial read ends at an unreadable page */
			kvmdci_set_error(t->ctx, "cannot read 0x%llx",
					 (unsigned long long)addr + (unsigned)n);
			return -EFAULT;
		}
		return 0;
	}
	if (!t->connected)
		return -ENOTCONN;
	if (t->running) {
		kvmdci_err(t->ctx, "%s: the target is running; stop it first", t->uri);
		return -EBUSY;
	}
	if ((r = rsp_drain(t)) < 0)
		return r;
	while (got < len) {
		/* keep the window full (not after a failure: only the replies owed are read) */
		while (!err && sent < len && inflight < window) {
			size_t n = len - sent < chunk ? len - sent : chunk;
			if ((r = rsp_queue_pkt(t, "m%llx,%zx", (unsigned long long)(addr + sent), n)) < 0)
				return r;
			sent += n;
			inflight++;
		}
		if ((r = rsp_flush(t)) < 0)
			return r;
		if (!inflight)
			break;
		size_t n = sent - got < chunk ? sent - got : chunk;
		r = rsp_recv_reply(t, "m");
		inflight--;
		if (r < 0)
			return r; /* the connection is gone */
		if (!err) {
			int d = r > 0 && !rsp_reply_is_error(t) ?
					rsp_hex_decode(t->dec.buf, (size_t)r, p + got, n) : 0;
			if (r > 0 && !rsp_reply_is_error(t) && d <= 0) {
				char what[64];
				snprintf(what, sizeof(what), "m%llx,%zx", (unsigned long long)(addr + got), n);
				err = rsp_wrong_shape(t, what, "memory (malformed hex)");
			} else if (d < (int)n) { /* an error, or a partial read ending at a bad page */
				kvmdci_set_error(t->ctx, "cannot read %zu bytes at 0x%llx", n - (size_t)(d > 0 ? d : 0),
						 (unsigned long long)(addr + got + (size_t)(d > 0 ? d : 0)));
				err = -EFAULT;
			}
		}
		got += n;
	}
	return err;
}

int rsp_read_virt(struct rsp *t, int cpu, uint64_t addr, void *buf, size_t len)
{
	int r;

	if ((r = rsp_select_cpu(t, cpu)) < 0 || (r = rsp_set_phys_mode(t, 0)) < 0)
		return r;
	return rsp_read_mem(t, addr, buf, len);
}

/* Queue an 'm' for each request that fits one packet (result 1); the others get -EAGAIN and
 * are read alone after the replies (reads_recv). */
static int reads_queue(struct rsp *t, struct target_read *rq, int n)
{
	size_t chunk = (t->packet_size - 16) / 2;
	int r;

	for (int i = 0; i < n; i++) {
		rq[i].result = -EAGAIN;
		if (rq[i].len == 0 || rq[i].len > chunk || rq[i].len > 2000)
			continue;
		if ((r = rsp_queue_pkt(t, "m%llx,%zx", (unsigned long long)rq[i].addr, rq[i].len)) < 0)
			return r;
		rq[i].result = 1; /* queued */
	}
	return 0;
}

/* The replies of reads_queue(), in order, then the long reads one by one. */
static int reads_recv(struct rsp *t, struct target_read *rq, int n)
{
	int r;

	for (int i = 0; i < n; i++) {
		if (rq[i].result != 1)
			continue;
		r = rsp_recv_reply(t, "m");
		if (r < 0)
			return r; /* the connection is gone: the other replies with it */
		if (r == 0 || rsp_reply_is_error(t) ||
		    rsp_hex_decode(t->dec.buf, (size_t)r, rq[i].buf, rq[i].len) != (int)rq[i].len) {
			bool wrong = r > 0 && !rsp_reply_is_error(t) &&
				     (r % 2 || (size_t)r > 2 * rq[i].len ||
				      rsp_hex_decode(t->dec.buf, (size_t)r, rq[i].buf, rq[i].len) < 0);
			if (wrong) {
				rsp_wrong_shape(t, "m", "memory (malformed hex)");
				rq[i].result = -EPROTO;
				continue;
			}
			kvmdci_set_error(t->ctx, "cannot read %zu bytes at 0x%llx: '%.8s'",
					 rq[i].len, (unsigned long long)rq[i].addr,
					 r ? t->dec.buf : "unsupported");
			rq[i].result = -EFAULT;
		} else {
			rq[i].result = 0;
		}
	}
	/* the long ones, after every queued reply is in */
	for (int i = 0; i < n; i++)
		if (rq[i].result == -EAGAIN)
			rq[i].result = rsp_read_mem(t, rq[i].addr, rq[i].buf, rq[i].len);
	return 0;
}

/* @cpu selected, virtual reads, nothing stray in the way, the target stopped. */
static int ready_for_reads(struct rsp *t, int cpu)
{
	int r;

	if ((r = rsp_select_cpu(t, cpu)) < 0 || (r = rsp_set_phys_mode(t, 0)) < 0 ||
	    (r = rsp_drain(t)) < 0)
		return r;
	if (!t->connected)
		return -ENOTCONN;
	if (t->running)
		return -EBUSY;
	return 0;
}

/* Several small reads in one round trip: every 'm' in one write, then the replies in order.
 * Each request gets its own result; a read longer than one packet goes alone. */
int rsp_read_virt_many(struct rsp *t, int cpu, struct target_read *rq, int n)
{
	int r;

	if ((r = ready_for_reads(t, cpu)) < 0 || (r = reads_queue(t, rq, n)) < 0)
		return r;
	if ((r = rsp_flush(t)) < 0)
		return r;
	return reads_recv(t, rq, n);
}

int rsp_regs_read_many(struct rsp *t, int cpu, const char *const *names, uint64_t *vals, int n,
		       struct target_read *rq, int nrq)
{
	struct reg_desc *rd[16];
	int r, rr;

	if (nrq == 0)
		return rsp_regs_read(t, cpu, names, vals, n);
	if ((r = regs_find(t, names, n, rd)) < 0 || (r = ready_for_reads(t, cpu)) < 0 ||
	    (r = regs_queue(t, rd, n)) < 0 || (r = reads_queue(t, rq, nrq)) < 0 ||
	    (r = rsp_flush(t)) < 0)
		return r;
	rr = regs_recv(t, cpu, rd, vals, n);
	if (t->broken)
		return rr < 0 ? rr : rsp_broken_err(t);
	/* the replies owed to the reads are read whatever the registers said */
	if ((r = reads_recv(t, rq, nrq)) < 0)
		return r;
	return rr;
}

int rsp_read_phys(struct rsp *t, uint64_t addr, void *buf, size_t len)
{
	int r = rsp_set_phys_mode(t, 1);

	if (r < 0) {
		if (r == -EOPNOTSUPP)
			kvmdci_set_error(t->ctx, "%s: the stub offers no physical memory access",
					 t->uri);
		return r;
	}
	return rsp_read_mem(t, addr, buf, len);
}
