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
#include <stdlib.h>

#include "target/rsp-internal.h"
#include "target/transport.h"
#include "uri.h"

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
	if ((r = rsp_queue_raw(t, "+", 1)) < 0 ||
	    (r = rsp_queue_pkt(t, "qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+;"
			      "xmlRegisters=i386")) < 0)
		return r;
	if ((r = rsp_flush(t)) < 0) {
		/* a socket whose peer is gone: EPIPE or ECONNRESET (transport_fd_write's why) */
		if (strstr(t->tr->why, strerror(EPIPE)) || strstr(t->tr->why, strerror(ECONNRESET)))
			kvmdci_err(t->ctx, "%s: the stub closed the connection at once, before "
					   "qSupported (%s)", t->uri, t->tr->why);
		return r;
	}
	/* QEMU pauses a running VM when a debugger connects and may announce that with a stop
	 * reply (T02) before it answers qSupported: skip stop replies, console output and a
	 * stray OK here (a reply to qSupported names features, never just "OK"). */
	uint64_t deadline = kvmdci_now_ms() + ATTACH_TIMEOUT_MS;
	for (int i = 0; i < 16; i++) {
		uint64_t now = kvmdci_now_ms();
		r = rsp_recv_pkt(t, now < deadline ? (int)(deadline - now) : 0);
		/* the stub took qSupported ('+') and works on it: give it the command timeout */
		if (r == 0 && !t->broken && t->acks_received && deadline < kvmdci_now_ms() + 1) {
			kvmdci_info(t->ctx, "%s: qSupported acknowledged but not answered within "
					    "%d s; waiting up to %d s", t->uri, ATTACH_TIMEOUT_MS / 1000,
				    CMD_TIMEOUT_MS / 1000);
			r = rsp_recv_pkt(t, CMD_TIMEOUT_MS - ATTACH_TIMEOUT_MS);
		}
		if (r <= 0 || (!rsp_is_async(t, false) && strcmp(t->dec.buf, "OK") != 0))
			break;
	}
	if (r == 0 || r == -ENODATA || r == -EPIPE) {
		char note[160];
		const char *why;
		rsp_dropped_note(t, note, sizeof(note));
		if (r == -EPIPE && !t->stats.bytes_received)
			why = "the stub closed the connection without a word";
		else if (r == -EPIPE)
			why = "the stub closed the connection before answering qSupported";
		else if (r == -ENODATA)
			why = "the stub answered qSupported with an empty packet";
		else if (!t->stats.bytes_received)
			why = "the stub stayed silent: not one byte in reply to qSupported within "
			      "3 s";
		else if (t->acks_received && !t->bad_checksums && !t->long_packets)
			why = "the stub acknowledged qSupported but did not answer within 5 s "
			      "(too slow, or stuck)";
		else
			why = "no valid GDB remote-protocol packet in reply to qSupported";
		kvmdci_err(t->ctx, "%s: %s%s (is this a gdbstub?)", t->uri, why, note);
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
		r = rsp_command(t, "QStartNoAckMode");
		if (r < 0)
			return r;
		if (!strcmp(t->dec.buf, "OK")) {
			t->noack = true;
			t->ack_pending = false;
		}
	}
	/* '?' once: QEMU removes all breakpoints on it (a previous client's leftovers too). */
	r = rsp_command(t, "?");
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
	r = rsp_command(t, "qqemu.Supported");
	if (r < 0)
		return r;
	if (r > 0 && !rsp_reply_is_error(t)) {
		t->qemu = true;
		t->phys_supported = strstr(t->dec.buf, "PhyMemMode") != NULL;
	}
	t->phys_mode = t->qemu ? 0 : -1;
	if ((r = rsp_ask_held(t)) < 0)
		return r;
	if ((r = rsp_read_threads(t)) < 0)
		return r;
	if ((r = rsp_load_registers(t)) < 0)
		return r;
	t->gthread = -1;
	if (st.thread[0])
		t->gthread = t->qemu ? rsp_cpu_of_thread(t, st.thread) : -1;
	kvmdci_info(t->ctx, "attached to %s: %d CPUs, %d registers%s%s%s", t->uri, t->ncpu,
		    t->nregs, t->qemu ? ", QEMU gdbstub" : "",
		    t->phys_supported ? ", physical reads" : "",
		    t->held ? ", held (stopped by a debugger before)" : "");
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

static int rsp_open(struct kvmdci_ctx *ctx, const char *uri, const struct target_uri *u,
		    struct transport *tr, void **ret);

/* Open a GDB remote-protocol target (gdb://, gdb+unix://, serial:// or usb://). */
int rsp_target_open(struct kvmdci_ctx *ctx, const char *uri, const struct target_uri *u,
		    void **ret)
{
	return rsp_open(ctx, uri, u, NULL, ret);
}

/* The same over a transport of the caller's (the fuzzer's scripted stub); it owns @tr. */
int rsp_target_open_transport(struct kvmdci_ctx *ctx, const char *uri, struct transport *tr,
			      void **ret)
{
	return rsp_open(ctx, uri, NULL, tr, ret);
}

static int rsp_open(struct kvmdci_ctx *ctx, const char *uri, const struct target_uri *u,
		    struct transport *tr, void **ret)
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
		if (tr)
			transport_close(tr);
		r = -ENOMEM;
		goto fail;
	}
	if (tr)
		t->tr = tr;	/* ours from here: rsp_free() closes it */
	if ((r = rsp_detach_mode_tunable(ctx, &t->detach_mode)) < 0)
		goto fail;
	if (!tr && (r = transport_open(ctx, u, &t->tr)) < 0)
		goto fail;
	if ((r = attach(t)) < 0)
		goto fail;
	*ret = t;
	return 0;
fail:
	if (t->tr && !t->broken && r != -EPROTO && !t->held &&
	    t->detach_mode != KVMDCI_DETACH_STAY) {
		/* leave the target running: it was paused by our connection (a held one stays) */
		t->running = false;
		rsp_queue_pkt(t, t->multiprocess ? "D;1" : "D");
		rsp_flush(t);
	}
	t->connected = false;
	rsp_free(t);
	return r;
}

static int rsp_cpu_count(struct rsp *t)
{
	return t->ncpu;
}

static void rsp_get_stats(struct rsp *t, struct kvmdci_target_stats *stats)
{
	*stats = t->stats;
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
static int op_regs_read_many(void *p, int cpu, const char *const *names, uint64_t *vals, int n,
			     struct target_read *rq, int nrq)
{
	return rsp_regs_read_many(p, cpu, names, vals, n, rq, nrq);
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

static int op_set_detach_mode(void *p, enum kvmdci_detach_mode mode)
{
	struct rsp *t = p;
	t->detach_mode = mode;
	return 0;
}
static int op_was_held(void *p)
{
	struct rsp *t = p;
	return t->held ? 1 : 0;
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
	.regs_read_many = op_regs_read_many,
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
	.set_detach_mode = op_set_detach_mode,
	.was_held = op_was_held,
	.link_rate = op_link_rate,
};
