// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer: the RSP client through a whole session against a scripted stub. The input is
 * what the stub sends, as chunks (a 2-byte little-endian length, then that many bytes): each
 * read of the client gets the next chunk, and the end of the input is the stub closing the
 * connection. On that byte stream the client attaches (qSupported, '?', threads, the target
 * description) and then walks the target as the tools do: registers of every CPU, virtual
 * and physical reads (single and pipelined), a breakpoint in and out, a continue, an
 * interrupt and its stop, detach. Seeds: fuzz/corpus/rsp-session (recorded from the faithful
 * stub of tests/lab/hostile_stub.py serving a real lab dump, and each misbehaviour of it).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "target/target-internal.h"
#include "target/transport.h"

struct script {
	const uint8_t *data;
	size_t size, pos;
};

static ssize_t script_read(struct transport *tr, void *buf, size_t len, int timeout_ms)
{
	struct script *s = tr->priv;
	size_t n;

	(void)timeout_ms;
	if (s->pos + 2 > s->size) {
		snprintf(tr->why, sizeof(tr->why), "the script ended");
		return -EPIPE;
	}
	n = (size_t)s->data[s->pos] | (size_t)s->data[s->pos + 1] << 8;
	s->pos += 2;
	if (n > s->size - s->pos)
		n = s->size - s->pos;
	if (n > len)
		n = len;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n; /* 0: a read that timed out */
}

static int script_write(struct transport *tr, const void *buf, size_t len)
{
	(void)tr;
	(void)buf;
	(void)len;
	return 0;
}

static void script_close(struct transport *tr)
{
	(void)tr;
}

static const struct transport_ops script_ops = {
	.name = "script",
	.read = script_read,
	.write = script_write,
	.close = script_close,
};

static void quiet(struct kvmdci_ctx *ctx, int priority, const char *file, int line,
		  const char *fn, const char *format, va_list args)
{
	(void)ctx, (void)priority, (void)file, (void)line, (void)fn, (void)format, (void)args;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const regs[] = { "rip", "rsp", "rbp", "cs", "cr0", "cr3", "gs_base",
					    "k_gs_base", "efer", "eflags" };
	struct script s = { .data = data, .size = size };
	struct kvmdci_ctx *ctx;
	struct kvmdci_target *t;
	struct transport *tr;
	void *priv;

	if (kvmdci_ctx_new(&ctx) < 0)
		return 0;
	kvmdci_ctx_set_log_fn(ctx, quiet, NULL);
	if (transport_new_fd(ctx, &script_ops, -1, &tr) < 0) {
		kvmdci_ctx_unref(ctx);
		return 0;
	}
	tr->priv = &s;
	if (rsp_target_open_transport(ctx, "gdb+fuzz://", tr, &priv) < 0 ||
	    target_wrap(ctx, "gdb+fuzz://", &rsp_target_ops, priv, &t) < 0) {
		kvmdci_ctx_unref(ctx);
		return 0;
	}
	int n = kvmdci_target_cpu_count(t);
	for (int cpu = 0; cpu < n && cpu < 4; cpu++) {
		uint64_t v[ARRAY_SIZE(regs)], cr3 = 0;
		uint8_t buf[4096];
		struct target_read rq[3] = {
			{ .addr = 0xffffffff81000000ULL, .buf = buf, .len = 8 },
			{ .addr = 0xffffffff81001000ULL, .buf = buf + 8, .len = 64 },
			{ .addr = 0xffffffff81002000ULL, .buf = buf + 100, .len = 3000 },
		};
		kvmdci_target_regs_read(t, cpu, regs, v, ARRAY_SIZE(regs));
		kvmdci_target_reg_read(t, cpu, "cr3", &cr3);
		kvmdci_target_read_virt(t, cpu, 0xffffffff81000000ULL, buf, sizeof(buf));
		target_read_virt_many(t, cpu, rq, 3);
		kvmdci_target_read_phys(t, cr3 & ~0xfffULL, buf, 512);
	}
	if (kvmdci_target_bp_insert(t, KVMDCI_BP_SW, 0xffffffff81000000ULL, 1) == 0)
		kvmdci_target_bp_remove(t, KVMDCI_BP_SW, 0xffffffff81000000ULL, 1);
	kvmdci_target_bp_insert(t, KVMDCI_BP_HW, 0xffffffff81000010ULL, 1);
	if (kvmdci_target_resume(t) == 0) {
		struct kvmdci_stop st;
		kvmdci_target_interrupt(t);
		if (kvmdci_target_wait(t, 10, &st) == 1 && st.cpu >= 0)
			kvmdci_target_step_over(t, st.cpu, 0xffffffff81000010ULL);
	}
	kvmdci_target_reg_write(t, 0, "rip", 0xffffffff81000000ULL);
	kvmdci_target_detach(t);
	kvmdci_target_unref(t);
	kvmdci_ctx_unref(ctx);
	return 0;
}
