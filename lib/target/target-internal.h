/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A target is a backend (GDB remote stub, ELF core dump) behind one set of operations. */
#pragma once

#include <stdbool.h>

#include "libkvmdci/libkvmdci.h"
#include "target/uri.h"

/* One of several reads done together (target_read_virt_many). */
struct target_read {
	uint64_t addr;
	void *buf;
	size_t len;
	int result; /* 0, or a negative errno for this read alone */
};

struct target_ops {
	const char *name;
	void (*free)(void *p);
	int (*cpu_count)(void *p);
	void (*get_stats)(void *p, struct kvmdci_target_stats *st);
	int (*regs_read)(void *p, int cpu, const char *const *names, uint64_t *vals, int n);
	int (*reg_write)(void *p, int cpu, const char *name, uint64_t val);
	int (*read_virt)(void *p, int cpu, uint64_t addr, void *buf, size_t len);
	int (*read_phys)(void *p, uint64_t addr, void *buf, size_t len);
	/* optional: several reads in one round trip; per-read results in rq[i].result */
	int (*read_virt_many)(void *p, int cpu, struct target_read *rq, int n);
	/* optional: registers and several reads through @cpu in one round trip */
	int (*regs_read_many)(void *p, int cpu, const char *const *names, uint64_t *vals, int n,
			      struct target_read *rq, int nrq);
	/* run control: NULL where the backend cannot (a dump) */
	int (*bp_insert)(void *p, enum kvmdci_bp_kind kind, uint64_t addr, unsigned int len);
	int (*bp_remove)(void *p, enum kvmdci_bp_kind kind, uint64_t addr, unsigned int len);
	int (*bp_remove_all)(void *p);
	int (*bp_count)(void *p);
	int (*resume)(void *p);
	int (*step_over)(void *p, int cpu, uint64_t addr);
	int (*wait)(void *p, int timeout_ms, struct kvmdci_stop *stop);
	int (*interrupt)(void *p);
	int (*is_running)(void *p);
	int (*detach)(void *p);
	/* what detach leaves behind (enum kvmdci_detach_mode); was the machine held at attach */
	int (*set_detach_mode)(void *p, enum kvmdci_detach_mode mode);
	int (*was_held)(void *p);
	/* bytes/s of a slow link (a serial line), 0: fast or unknown; NULL: 0 */
	uint32_t (*link_rate)(void *p);
	/* the VMCOREINFO text the target carries (a dump's note), or NULL */
	const char *(*vmcoreinfo)(void *p);
};

extern const struct target_ops rsp_target_ops;
extern const struct target_ops core_target_ops;
/* An ELF dump; -EPROTOTYPE (nothing logged) when @path is kdump-compressed instead. */
int core_target_open(struct kvmdci_ctx *ctx, const char *path, void **ret);
/* kdump-compressed (diskdump, also makedumpfile's flattened form) through libkdumpfile. */
extern const struct target_ops kdump_target_ops;
int kdump_target_open(struct kvmdci_ctx *ctx, const char *path, void **ret);
/* /proc/kcore (or a copy of it): the live kernel's memory, read-only, no run control. */
extern const struct target_ops kcore_target_ops;
int kcore_target_open(struct kvmdci_ctx *ctx, const char *path, void **ret);
/*
 * Bumped by resume, step_over, wait and detach: memory read at one generation may differ at
 * the next (the kernel view's read cache compares it).
 */
uint64_t target_generation(struct kvmdci_target *t);
/* The last stop kvmdci_target_wait() reported, and in @gen the generation that began with it
 * (later moves of the generation, a step or a resume, do not clear it); NULL before any. */
const struct kvmdci_stop *target_last_stop(struct kvmdci_target *t, uint64_t *gen);
/* The last stop as the target keeps it, for the run loop to hand over: what the caller learns
 * about it (a breakpoint recognised by its rip) is then what the kernel view sees. */
struct kvmdci_stop *target_stop_record(struct kvmdci_target *t);
/* Can the target run (a live stub)? Dumps and /proc/kcore cannot. */
bool target_has_run_control(struct kvmdci_target *t);
/* Stop a running target (interrupt, wait up to 3 s; lib/target/run.c). Returns 1 with the stop in @st (maybe a
 * breakpoint or watchpoint hit that raced with the interrupt), 0 when it was not running, or
 * < 0 (-ETIMEDOUT: it did not stop; logged). */
int target_halt(struct kvmdci_target *t, struct kvmdci_stop *st);
/* Reads @n requests through @cpu, in one round trip where the backend can; returns < 0 only
 * when the target is lost (each request has its own result). */
int target_read_virt_many(struct kvmdci_target *t, int cpu, struct target_read *rq, int n);
/* @n registers of @cpu and @nrq reads through it, in one round trip where the backend can (a
 * tracer's stop: what the last hit read is fetched with the registers). Returns the
 * registers' result (each read has its own), < 0 also when the target is lost. */
int target_regs_read_many(struct kvmdci_target *t, int cpu, const char *const *names,
			  uint64_t *vals, int n, struct target_read *rq, int nrq);
/* Bytes per second of a slow link to the target (a serial line); 0 when fast or unknown. */
uint32_t target_link_rate(struct kvmdci_target *t);
/* VMCOREINFO of a target, or NULL. */
const char *target_vmcoreinfo(struct kvmdci_target *t);
int rsp_target_open(struct kvmdci_ctx *ctx, const char *uri, const struct target_uri *u,
		    void **ret);
struct transport;
/* A GDB remote-protocol target over a transport the caller made (fuzz/fuzz-rsp-session.c);
 * the target owns @tr from then on, also on failure. */
int rsp_target_open_transport(struct kvmdci_ctx *ctx, const char *uri, struct transport *tr,
			      void **ret);
/* A target handle around a backend's state (@priv, owned from then on). */
int target_wrap(struct kvmdci_ctx *ctx, const char *uri, const struct target_ops *ops,
		void *priv, struct kvmdci_target **ret);
