/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The GDB remote-protocol backend's state and the functions its files share: rsp-packet.c
 * (packets: queue, flush, receive, command), rsp-tdesc.c (the target description: registers
 * by name), rsp-cpu.c (threads, registers, memory), rsp-bp.c (breakpoints, watchpoints),
 * rsp-run.c (run control) and rsp.c (attach, the backend's operations).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "target/rsp-proto.h"
#include "target/target-internal.h"

#define MAX_CPUS 512
#define MAX_REGS 256
#define MAX_BPS 4096
#define REPLY_CAP (1 << 20)
#define CMD_TIMEOUT_MS 5000
#define ATTACH_TIMEOUT_MS 3000 /* the first reply, to qSupported, from a stub that is silent */
#define RESYNC_MS 200 /* after a reply of the wrong shape: how long the real one may lag */
/* Limits on what a stub may send (docs/transports.md, "What the client does not trust"). */
#define TDESC_MAX_BYTES (1 << 20) /* the target description, every file together */
#define TDESC_MAX_FILES 32	  /* target.xml and what it includes */
#define TDESC_MAX_DEPTH 4	  /* xi:include nesting */
#define TDESC_MAX_BITS 4096	  /* one register */
#define TDESC_MAX_REGNUM 4095

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
	int broken_err; /* why (-errno): what every call returns once broken */
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
	size_t tdesc_bytes; /* read so far, every file together */
	int tdesc_files;
	struct bp *bps;
	int nbps;
	bool have_pending;
	struct kvmdci_stop pending;
	bool held;       /* the machine was stopped by a debugger and left so before we attached */
	bool ran;        /* we let it run (continue or step) since we attached */
	int detach_mode; /* enum kvmdci_detach_mode */
	struct rsp_decoder dec;
	char inbuf[65536];
	size_t inlen, inpos;
	char *out;
	size_t outlen, outcap;
	struct kvmdci_target_stats stats;
	bool buffered_only; /* rsp_drain: decode what is buffered, read nothing */
	bool resync; /* a reply had the wrong shape: wait for stragglers before the next command */
	unsigned int acks_received, bad_checksums, long_packets, async_packets, stray_packets;
	uint64_t nop_cache_addr[16];
	int8_t nop_cache_len[16];
	int nop_cache_n;
	/* rsp_step_over wrote P (rip past a no-op) and the continue in one write and did not wait
	 * for P's reply: it comes before the next stop, and rsp_wait reads it there */
	bool p_owed;
	int p_owed_cpu;
	uint64_t p_owed_addr;
};

/* ---- packets (rsp-packet.c) ---- */

int rsp_queue_raw(struct rsp *t, const char *data, size_t len);
/* Queue one packet; a pending ack for the last received packet goes first. */
int rsp_queue_pkt(struct rsp *t, const char *fmt, ...);
/*
 * The transport failed (@err: its -errno): the connection is gone (logged once, with its
 * cause). Every later call fails with the first cause's errno, so that a caller who retries
 * with another read reports the same: -ENODEV when the device went away, else -EPIPE.
 */
void rsp_mark_broken(struct rsp *t, const char *why, int err);
/* Broken, with @err (-ETIMEDOUT: the stub stopped answering), reported by the caller. */
void rsp_set_broken(struct rsp *t, int err);
/* What a call on a broken connection returns (rsp_mark_broken()'s @err). */
static inline int rsp_broken_err(const struct rsp *t)
{
	return t->broken_err ? t->broken_err : -EPIPE;
}
/* Write what is queued, in one write. */
int rsp_flush(struct rsp *t);
/*
 * Receive one packet within @timeout_ms (-1 forever). Returns its length (payload in
 * t->dec.buf), 0 when the timeout expired or (only when @interruptible) a signal ended the
 * wait, -ENODATA for an empty packet, or -errno.
 */
int rsp_recv_pkt_wait(struct rsp *t, int timeout_ms, bool interruptible);
int rsp_recv_pkt(struct rsp *t, int timeout_ms);
/* A command's reply (console output skipped); 0: an empty ("unsupported") reply. */
int rsp_recv_reply(struct rsp *t, const char *what);
/* The packet in t->dec is asynchronous (console output, a stop reply): logged, to be dropped. */
bool rsp_is_async(struct rsp *t, bool stop_expected);
/* Drop what came in that answers no command (waits RESYNC_MS after a wrong-shaped reply). */
int rsp_drain(struct rsp *t);
/* The reply to @what is not @expected: log it, resynchronise before the next command;
 * returns -EPROTO. */
int rsp_wrong_shape(struct rsp *t, const char *what, const char *expected);
/* " (dropped: ...)" when packets were dropped for bad checksums or length, else "". */
const char *rsp_dropped_note(struct rsp *t, char *buf, size_t len);
/* Send one command and wait for its reply; returns the reply length (0: empty reply). */
int rsp_command(struct rsp *t, const char *fmt, ...);
/* The last reply is "Enn". */
int rsp_reply_is_error(struct rsp *t);

/* ---- run control (rsp-run.c) ---- */

/* The detach mode the tunable "on_detach" asks for; -EINVAL (logged) for a bad value. */
int rsp_detach_mode_tunable(struct kvmdci_ctx *ctx, int *mode);
/* At attach: ask the stub whether the machine was held (t->held); 0 or -errno of the link. */
int rsp_ask_held(struct rsp *t);

/* ---- the target description (rsp-tdesc.c) ---- */

/* Read target.xml (and what it includes): each register's number, size and 'g' offset. */
int rsp_load_registers(struct rsp *t);
struct reg_desc *rsp_find_reg(struct rsp *t, const char *name);

/* ---- threads, registers, memory (rsp-cpu.c) ---- */

/* The CPU index of a stub's thread id, -1 when unknown. */
int rsp_cpu_of_thread(struct rsp *t, const char *tid);
/* One thread per CPU, from qfThreadInfo / qsThreadInfo. */
int rsp_read_threads(struct rsp *t);
/* Make @cpu the one 'g', 'p', 'P' and 'm' act on (Hg). */
int rsp_select_cpu(struct rsp *t, int cpu);
int rsp_regs_read(struct rsp *t, int cpu, const char *const *names, uint64_t *vals, int n);
int rsp_reg_write(struct rsp *t, int cpu, const char *name, uint64_t val);
/* QEMU's physical-memory mode for 'm' (@on 1) or virtual (0). */
int rsp_set_phys_mode(struct rsp *t, int on);
int rsp_read_virt(struct rsp *t, int cpu, uint64_t addr, void *buf, size_t len);
/* Several small reads in one round trip; each request gets its own result. */
int rsp_read_virt_many(struct rsp *t, int cpu, struct target_read *rq, int n);
/* Registers of @cpu and several small reads through it in one round trip (all in one write,
 * the replies in order); each read gets its own result. Returns the registers' result. */
int rsp_regs_read_many(struct rsp *t, int cpu, const char *const *names, uint64_t *vals, int n,
		       struct target_read *rq, int nrq);
int rsp_read_phys(struct rsp *t, uint64_t addr, void *buf, size_t len);

/* ---- breakpoints and watchpoints (rsp-bp.c) ---- */

/* Index of an inserted breakpoint, -1 when not inserted. */
int rsp_bp_find(struct rsp *t, int kind, uint64_t addr, unsigned int len);
/* Send one Z (insert) or z (remove) packet: -EOPNOTSUPP when the stub lacks that kind. */
int rsp_bp_packet(struct rsp *t, char op, int kind, uint64_t addr, unsigned int len);
int rsp_bp_insert(struct rsp *t, enum kvmdci_bp_kind kind, uint64_t addr, unsigned int len);
int rsp_bp_remove(struct rsp *t, enum kvmdci_bp_kind kind, uint64_t addr, unsigned int len);
int rsp_bp_remove_all(struct rsp *t);
int rsp_bp_count(struct rsp *t);

/* ---- run control (rsp-run.c) ---- */

int rsp_resume(struct rsp *t);
/* A stop within @timeout_ms: 1 (in @stop), 0 on the timeout or a signal, or -errno. */
int rsp_wait(struct rsp *t, int timeout_ms, struct kvmdci_stop *stop);
int rsp_interrupt(struct rsp *t);
int rsp_is_running(struct rsp *t);
/* Continue after a breakpoint stop of @cpu at @addr: step that CPU alone past it. */
int rsp_step_over(struct rsp *t, int cpu, uint64_t addr);
/* Stop if running, remove every breakpoint, detach (the target runs on). */
int rsp_detach(struct rsp *t);
