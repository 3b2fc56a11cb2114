// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Run control over the GDB remote protocol: continue, the stop reply, interrupt, stepping one
 * CPU past a breakpoint, detach.
 */
#include "target/rsp-internal.h"
#include "target/transport.h"

static void fill_stop(struct rsp *t, const struct rsp_stop *st, struct kvmdci_stop *out)
{
	memset(out, 0, sizeof(*out));
	out->signal = st->signal;
	out->cpu = st->thread[0] ? rsp_cpu_of_thread(t, st->thread) : -1;
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

int rsp_resume(struct rsp *t)
{
	int r;

	if (!t->connected)
		return -ENOTCONN;
	if (t->running)
		return 0;
	if (t->have_pending)
		return 0; /* a stop is already waiting to be reported */
	if ((r = rsp_queue_pkt(t, t->vcont ? "vCont;c" : "c")) < 0 || (r = rsp_flush(t)) < 0)
		return r;
	t->running = t->ran = true;
	return 0;
}

int rsp_wait(struct rsp *t, int timeout_ms, struct kvmdci_stop *stop)
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
		int r = rsp_recv_pkt_wait(t, timeout_ms, true);
		if (t->p_owed &&
		    (r == -ENODATA || (r > 0 && (!strcmp(t->dec.buf, "OK") || rsp_reply_is_error(t))))) {
			/* the reply to rsp_step_over's P (OK, Enn, or "" for a stub without P); if
			 * rip could not be moved past the no-op, the CPU runs into the breakpoint
			 * again and its hit would be seen twice: an error instead */
			t->p_owed = false;
			if (r == -ENODATA || strcmp(t->dec.buf, "OK") != 0) {
				kvmdci_err(t->ctx, "%s: cannot set rip of CPU %d past the breakpoint at "
						   "0x%llx: '%.20s'", t->uri, t->p_owed_cpu,
					   (unsigned long long)t->p_owed_addr, t->dec.buf);
				return -EIO;
			}
			continue;
		}
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

int rsp_interrupt(struct rsp *t)
{
	char c = 0x03;
	int r;

	if (!t->running)
		return 0;
	if ((r = transport_write(t->tr, &c, 1)) < 0) {
		rsp_mark_broken(t, t->tr->why, r);
		return rsp_broken_err(t);
	}
	return 0;
}

int rsp_is_running(struct rsp *t)
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

int rsp_step_over(struct rsp *t, int cpu, uint64_t addr)
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
		struct reg_desc *rip = rsp_find_reg(t, "rip");
		uint8_t bytes[8];
		char hex[17];
		uint64_t v = addr + (uint64_t)skip;
		if (!rip)
			return -ENOENT;
		if ((r = rsp_select_cpu(t, cpu)) < 0)
			return r;
		memcpy(bytes, &v, 8);
		rsp_hex_encode(bytes, 8, hex);
		/* pipelined: P and continue in one write. P's reply is not waited for: the stub
		 * answers in order, so it comes before the stop, and rsp_wait reads it there (a
		 * round trip less per hit; nothing is written while the target runs) */
		if ((r = rsp_queue_pkt(t, "P%x=%s", rip->regnum, hex)) < 0 ||
		    (r = rsp_queue_pkt(t, t->vcont ? "vCont;c" : "c")) < 0 || (r = rsp_flush(t)) < 0)
			return r;
		t->p_owed = true;
		t->p_owed_cpu = cpu;
		t->p_owed_addr = addr;
		t->running = t->ran = true;
		return 0;
	}
	for (int k = 0; k <= 1; k++)
		if (rsp_bp_find(t, k, addr, 1) >= 0)
			kind = k;
	if (kind >= 0 && (r = rsp_bp_packet(t, 'z', kind, addr, 1)) < 0)
		return r;
	/* step only this CPU; the others stay stopped */
	if (t->vcont)
		r = rsp_queue_pkt(t, "vCont;s:%s", t->threads[cpu]);
	else if ((r = rsp_command(t, "Hc%s", t->threads[cpu])) >= 0)
		r = rsp_queue_pkt(t, "s");
	if (r < 0 || (r = rsp_flush(t)) < 0)
		return r;
	t->running = t->ran = true;
	/* a signal may end one wait early: the step's stop is still to come */
	uint64_t step_deadline = kvmdci_now_ms() + CMD_TIMEOUT_MS, now;
	do {
		now = kvmdci_now_ms();
		r = rsp_wait(t, now < step_deadline ? (int)(step_deadline - now) : 0, &st);
	} while (r == 0 && kvmdci_now_ms() < step_deadline);
	if (r <= 0) {
		if (r == 0)
			kvmdci_err(t->ctx, "%s: single-step of CPU %d did not stop", t->uri, cpu);
		return r < 0 ? r : -ETIMEDOUT;
	}
	if (kind >= 0 && (r = rsp_bp_packet(t, 'Z', kind, addr, 1)) < 0)
		return r;
	if (st.reason != KVMDCI_STOP_SIGNAL || st.cpu != cpu) {
		t->pending = st; /* something else happened during the step: report it */
		t->have_pending = true;
		return 0;
	}
	return rsp_resume(t);
}

int rsp_detach_mode_tunable(struct kvmdci_ctx *ctx, int *mode)
{
	const char *v = kvmdci_ctx_get_tunable(ctx, KVMDCI_TUNABLE_ON_DETACH);

	if (!v || !*v || !strcmp(v, "auto"))
		*mode = KVMDCI_DETACH_AUTO;
	else if (!strcmp(v, "resume"))
		*mode = KVMDCI_DETACH_RESUME;
	else if (!strcmp(v, "stay"))
		*mode = KVMDCI_DETACH_STAY;
	else {
		kvmdci_err(ctx, "KVMDCI_ON_DETACH=%s (tunable on_detach): use auto, resume or stay",
			   v);
		return -EINVAL;
	}
	return 0;
}

/*
 * Was the machine stopped by a debugger, and left so, before this connection? The remote
 * protocol has no packet for it ('?' answers "stopped" in all-stop mode whatever happened, and a
 * stub stops a running machine when a client connects). QEMU's monitor tells it: `info status`
 * says "paused (debug)" after a breakpoint, watchpoint or step stopped the VM, and stays so
 * when that client leaves without `D`; a VM that ran until our connection paused it says
 * "paused" (docs/transports.md, "Held machines"). The lab's Bochs bridge answers the same.
 * A stub without the command answers "" or an error: not known, taken as not held.
 */
int rsp_ask_held(struct rsp *t)
{
	static const char cmd[] = "info status";
	char hex[2 * sizeof(cmd) + 1], text[256];
	size_t tlen = 0;
	int r;

	t->held = false;
	rsp_hex_encode((const uint8_t *)cmd, sizeof(cmd) - 1, hex);
	if ((r = rsp_queue_pkt(t, "qRcmd,%s", hex)) < 0 || (r = rsp_flush(t)) < 0)
		return r;
	/* its output comes as 'O' packets before the final OK; at most 64 of them read */
	for (int i = 0; i < 64; i++) {
		r = rsp_recv_pkt(t, CMD_TIMEOUT_MS);
		if (r == -ENODATA)
			break; /* "": no monitor */
		if (r == 0) {
			kvmdci_err(t->ctx, "%s: no reply to 'monitor info status' within %d s",
				   t->uri, CMD_TIMEOUT_MS / 1000);
			rsp_set_broken(t, -ETIMEDOUT);
			return -ETIMEDOUT;
		}
		if (r < 0)
			return r;
		if (t->dec.buf[0] != 'O' || !strcmp(t->dec.buf, "OK") || t->dec.len % 2 != 1)
			break; /* OK, Enn, or the end */
		size_t n = (t->dec.len - 1) / 2, room = sizeof(text) - 1 - tlen;
		r = rsp_hex_decode(t->dec.buf + 1, 2 * (n < room ? n : room),
				   (uint8_t *)text + tlen, room);
		if (r > 0)
			tlen += (size_t)r;
	}
	text[tlen] = 0;
	const char *s = strstr(text, "VM status: ");
	t->held = s && !strncmp(s + 11, "paused (debug)", 14);
	kvmdci_dbg(t->ctx, "%s: monitor 'info status': '%.60s'%s", t->uri, s ? s : "(none)",
		     t->held ? ": held by a debugger" : "");
	return 0;
}

int rsp_detach(struct rsp *t)
{
	struct kvmdci_stop st;
	/* auto: a held machine stays held, unless we let it run (then the hold is over) */
	bool stay = t->detach_mode == KVMDCI_DETACH_STAY ||
		    (t->detach_mode == KVMDCI_DETACH_AUTO && t->held && !t->ran);
	int r = 0;

	if (!t->connected || t->broken) {
		t->connected = false;
		return t->broken ? rsp_broken_err(t) : 0;
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
		rsp_set_phys_mode(t, 0);
	if (stay) {
		/* `D` resumes the machine (QEMU: handle_detach continues the VM once no process is
		 * attached): leaving it stopped means closing without it, which QEMU's gdbstub and
		 * our Bochs bridge take as "stay as you are" (docs/transports.md, "Held
		 * machines") */
		kvmdci_info(t->ctx, "%s: detached, the target left stopped", t->uri);
	} else if (rsp_command(t, t->multiprocess ? "D;1" : "D") < 0 && !r) {
		r = -EIO;
	}
	t->connected = false;
	return r;
}
