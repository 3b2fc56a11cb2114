/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libkvmdci - debug KVM from below the operating system.
 *
 * Layers: a target (GDB remote stub: memory, CPUs, breakpoints) -> the kernel view (symbols,
 * KASLR, modules, BTF types) -> the KVM model (VMs, vCPUs, exit tracing driven by the
 * breakpoint catalog). All functions that can fail return >= 0 on success and a negative errno
 * on failure; constructors hand the object back through their last argument, which is left
 * untouched on failure. The library never prints: it logs through the context's log function.
 *
 * Each function's comment names its parameters ("(out):" for those it fills), what it returns
 * (which negative errno values mean what), who owns what it hands back, and "Since: X.Y": the
 * version node LIBKVMDCI_X.Y of lib/libkvmdci.sym that exports it (docs/conventions.md).
 */
#ifndef LIBKVMDCI_H
#define LIBKVMDCI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- context ---------------------------------------------------------------------------- */

struct kvmdci_ctx;

/** Log priorities (syslog numbers). */
enum kvmdci_log_priority {
	KVMDCI_LOG_ERR = 3,
	KVMDCI_LOG_WARNING = 4,
	KVMDCI_LOG_INFO = 6,
	KVMDCI_LOG_DEBUG = 7,
};

/** A log function: receives every message at or above the context's priority. */
typedef void (*kvmdci_log_fn)(struct kvmdci_ctx *ctx, int priority, const char *file, int line,
			      const char *fn, const char *format, va_list args);

/**
 * kvmdci_ctx_new:
 * @ret: (out): the new context
 *
 * Create a library context: the log function, log priority and last error shared by every handle
 * made from it. The default log function prints errors on stderr; $KVMDCI_LOG (err, warning, info,
 * debug, or a number) sets the initial priority. The caller owns one reference; drop it with
 * kvmdci_ctx_unref().
 *
 * Returns: 0, or -ENOMEM (@ret is left untouched).
 *
 * Since: 0.1
 */
int kvmdci_ctx_new(struct kvmdci_ctx **ret);

/**
 * kvmdci_ctx_ref:
 * @ctx: context
 *
 * Take a reference on @ctx.
 *
 * Returns: @ctx.
 *
 * Since: 0.1
 */
struct kvmdci_ctx *kvmdci_ctx_ref(struct kvmdci_ctx *ctx);

/**
 * kvmdci_ctx_unref:
 * @ctx: context, or NULL
 *
 * Drop a reference on @ctx; the last one frees it. Every handle made from @ctx holds its own
 * reference, so the context lives until the last of them is gone.
 *
 * Returns: NULL.
 *
 * Since: 0.1
 */
struct kvmdci_ctx *kvmdci_ctx_unref(struct kvmdci_ctx *ctx);

/**
 * kvmdci_ctx_set_log_fn:
 * @ctx: context
 * @fn: log function, or NULL for the default (stderr)
 * @data: pointer handed back by kvmdci_ctx_get_log_data()
 *
 * Replace the log function. It receives every message at or above the context's priority.
 *
 * Since: 0.1
 */
void kvmdci_ctx_set_log_fn(struct kvmdci_ctx *ctx, kvmdci_log_fn fn, void *data);

/**
 * kvmdci_ctx_get_log_data:
 * @ctx: context
 *
 * The data pointer given to kvmdci_ctx_set_log_fn().
 *
 * Returns: the pointer, NULL when none was set.
 *
 * Since: 0.1
 */
void *kvmdci_ctx_get_log_data(struct kvmdci_ctx *ctx);

/**
 * kvmdci_ctx_set_log_priority:
 * @ctx: context
 * @priority: enum kvmdci_log_priority (a syslog number)
 *
 * Set the log priority: messages below it (numerically above) are dropped.
 *
 * Since: 0.1
 */
void kvmdci_ctx_set_log_priority(struct kvmdci_ctx *ctx, int priority);

/**
 * kvmdci_ctx_get_log_priority:
 * @ctx: context
 *
 * The current log priority.
 *
 * Returns: an enum kvmdci_log_priority value.
 *
 * Since: 0.1
 */
int kvmdci_ctx_get_log_priority(struct kvmdci_ctx *ctx);

/**
 * kvmdci_ctx_last_error:
 * @ctx: context
 *
 * A one-line description of the last failure in this context: what failed, on which address, symbol
 * or file; after a lost connection, also why it was lost. Each public function that can fail
 * clears it when called (calls the library makes to its own functions do not), so it always
 * belongs to the last call: read it right after the call that failed.
 *
 * Returns: the description, or "" when none; owned by @ctx, valid until the next call on a handle
 * of @ctx.
 *
 * Since: 0.1
 */
const char *kvmdci_ctx_last_error(struct kvmdci_ctx *ctx);

/**
 * kvmdci_ctx_interrupt:
 * @ctx: context
 *
 * Ask every wait of @ctx's targets to end soon: to be called from a SIGINT or SIGTERM handler
 * (it is async-signal-safe). From then on, a wait for a stub's answer or for a connection
 * lasts at most half a second more; one that ends without the answer fails with -EINTR and
 * leaves that connection broken (later calls on it fail at once). A stub that still answers
 * in that time keeps working, so that breakpoints can be removed and the target resumed. A
 * program that stops its own polling loop on a signal (kvmdci_trace_poll() returns early on any
 * signal) need not call this for the first one: the kvmdci tools call it for a signal outside
 * such a loop or a second one. The request stays for the life of @ctx.
 *
 * Since: 0.10
 */
void kvmdci_ctx_interrupt(struct kvmdci_ctx *ctx);

/**
 * kvmdci_version:
 *
 * The version of the library that is loaded (which may differ from the one a program was built
 * against).
 *
 * Returns: a static string such as "0.13.0".
 *
 * Since: 0.10
 */
const char *kvmdci_version(void);

/**
 * kvmdci_features:
 *
 * What this build of the library can do, as space-separated words: "libusb" (usb:// targets),
 * "libkdumpfile" (kdump-compressed dumps), "dwarf" (types and symbols from DWARF debug info),
 * "btf" (types from BTF).
 *
 * Returns: a static string.
 *
 * Since: 0.10
 */
const char *kvmdci_features(void);

/**
 * kvmdci_ctx_target_lost:
 * @ctx: context
 *
 * Whether the connection to a target opened in @ctx was lost (the stub closed it, stopped
 * answering, or the device went away) since the last kvmdci_target_open(). Every read after
 * that fails, so a walk that was under way could not finish: a program checks this once at
 * the end, not after each call, and reports its output as incomplete. Every call on the lost
 * connection fails with the errno of the loss: -EPIPE (closed; what the functions' "-EPIPE
 * when the connection was lost" means), -ENODEV (a USB device unplugged) or -ETIMEDOUT (no
 * reply within the timeout), the same for the call that met it and every one after.
 *
 * Returns: why the connection was lost ("connection to URI lost: ..."), or NULL when it was
 * not; owned by @ctx, valid until the next kvmdci_target_open() in @ctx.
 *
 * Since: 0.10
 */
const char *kvmdci_ctx_target_lost(struct kvmdci_ctx *ctx);

/**
 * enum kvmdci_tunable - settings of the library, set on a context with
 * kvmdci_ctx_set_tunable(). One not set there takes its default from the environment variable
 * kvmdci_tunable_env() names (read at each use), else the library's own default. Values are
 * text, as in the environment; libkvmdci(3) lists each one's values.
 *
 * Since: 0.8
 */
enum kvmdci_tunable {
	KVMDCI_TUNABLE_READ_CACHE,      /* "read_cache", KVMDCI_READ_CACHE: 0, 1 or fill bytes */
	KVMDCI_TUNABLE_READ_PLAN,       /* "read_plan", KVMDCI_READ_PLAN: 0 turns planning off */
	KVMDCI_TUNABLE_MAX_WATCHPOINTS, /* "max_watchpoints", KVMDCI_MAX_WATCHPOINTS: default 64 */
	KVMDCI_TUNABLE_TYPES,           /* "types", KVMDCI_TYPES: dwarf or btf */
	KVMDCI_TUNABLE_DWARF_INDEX,     /* "dwarf_index", KVMDCI_DWARF_INDEX: 0 turns it off */
	KVMDCI_TUNABLE_KALLSYMS,        /* "kallsyms", KVMDCI_KALLSYMS: scan */
	KVMDCI_TUNABLE_FORCE,           /* "force", KVMDCI_FORCE: 1 accepts a foreign vmlinux */
	KVMDCI_TUNABLE_CATALOG,         /* "catalog", KVMDCI_CATALOG: the default catalog */
	KVMDCI_TUNABLE_VMLINUX,         /* "vmlinux", KVMDCI_VMLINUX */
	KVMDCI_TUNABLE_SYSTEM_MAP,      /* "system_map", KVMDCI_SYSTEM_MAP */
	KVMDCI_TUNABLE_MODULES,         /* "modules", KVMDCI_MODULES: module files' directory */
	KVMDCI_TUNABLE_ON_DETACH,       /* "on_detach", KVMDCI_ON_DETACH: auto, resume or stay */
	KVMDCI_TUNABLE_KERNEL_CACHE,    /* "kernel_cache", KVMDCI_KERNEL_CACHE: 0 turns it off */
	KVMDCI_TUNABLE_COUNT,           /* the number of tunables, not one */
};

/**
 * kvmdci_ctx_set_tunable:
 * @ctx: context
 * @t: the tunable
 * @value: its value (copied), or NULL to go back to the environment's default
 *
 * Set a tunable for every object made from @ctx afterwards (each reads its tunables when it is
 * made or at its first use).
 *
 * Returns: 0, or -EINVAL for an unknown @t, -ENOMEM.
 *
 * Since: 0.8
 */
int kvmdci_ctx_set_tunable(struct kvmdci_ctx *ctx, enum kvmdci_tunable t, const char *value);

/**
 * kvmdci_ctx_get_tunable:
 * @ctx: context
 * @t: the tunable
 *
 * The value in effect: the one set on @ctx, else its environment variable's.
 *
 * Returns: the value, owned by @ctx (valid until the tunable is set again) or by the
 * environment; NULL when neither gives one (the library's default applies) or @t is unknown.
 *
 * Since: 0.8
 */
const char *kvmdci_ctx_get_tunable(struct kvmdci_ctx *ctx, enum kvmdci_tunable t);

/**
 * kvmdci_tunable_name:
 * @t: the tunable
 *
 * The name of a tunable ("read_cache", ...).
 *
 * Returns: a static string, or NULL for an unknown @t.
 *
 * Since: 0.8
 */
const char *kvmdci_tunable_name(enum kvmdci_tunable t);

/**
 * kvmdci_tunable_env:
 * @t: the tunable
 *
 * The environment variable that gives a tunable's default ("KVMDCI_READ_CACHE", ...).
 *
 * Returns: a static string, or NULL for an unknown @t.
 *
 * Since: 0.8
 */
const char *kvmdci_tunable_env(enum kvmdci_tunable t);

/**
 * kvmdci_tunable_from_name:
 * @name: a name as kvmdci_tunable_name() gives it
 *
 * The tunable called @name, for programs that take name=value settings from their users.
 *
 * Returns: an enum kvmdci_tunable value, or -ENOENT.
 *
 * Since: 0.8
 */
int kvmdci_tunable_from_name(const char *name);

/* ---- target: memory + CPUs + run control --------------------------------------------------- */

struct kvmdci_target;

/**
 * kvmdci_target_open:
 * @ctx: context
 * @uri: where the target is: `gdb://HOST:PORT`, `gdb+unix:///path`, `serial:///dev/ttyX[?baud=N]`,
 *   `usb://VID:PID[?serial=S&if=N]`, `usb://class=CC/SS/PP`, `core:///path`, `kcore:` or
 *   `kcore:///path` (see libkvmdci(3), TARGET URIS)
 * @ret: (out): the new target
 *
 * Attach to a target. A live target is stopped while attached (a whole-machine stub stops every
 * CPU). Takes a reference on @ctx; the caller owns one reference on the target.
 *
 * Returns: 0, or a negative errno: -EINVAL for a malformed URI, -ENOENT for a missing file or
 * socket, -ECONNREFUSED, -EACCES, -EBUSY (a tty or USB interface held by another program), -ENODEV
 * (no such USB device), -EPROTO (the other end does not speak the GDB remote protocol), -ETIMEDOUT,
 * -ENOMEM. @ret is left untouched on failure.
 *
 * Since: 0.1
 */
int kvmdci_target_open(struct kvmdci_ctx *ctx, const char *uri, struct kvmdci_target **ret);

/**
 * kvmdci_target_unref:
 * @t: target, or NULL
 *
 * Drop a reference on @t. The last one removes every breakpoint and watchpoint this handle inserted
 * and detaches, leaving a live target running, then frees the handle.
 *
 * Returns: NULL.
 *
 * Since: 0.1
 */
struct kvmdci_target *kvmdci_target_unref(struct kvmdci_target *t);

/**
 * kvmdci_target_ref:
 * @t: target
 *
 * Take a reference on @t.
 *
 * Returns: @t.
 *
 * Since: 0.1
 */
struct kvmdci_target *kvmdci_target_ref(struct kvmdci_target *t);

/**
 * kvmdci_target_get_uri:
 * @t: target
 *
 * The URI the target was opened with.
 *
 * Returns: the URI; owned by @t, valid while @t lives.
 *
 * Since: 0.1
 */
const char *kvmdci_target_get_uri(struct kvmdci_target *t);

/**
 * kvmdci_target_cpu_count:
 * @t: target
 *
 * The number of CPUs: the stub's threads, or the CPUs recorded in a dump.
 *
 * Returns: the count (1 for /proc/kcore, which has no CPU registers: one view of kernel memory).
 *
 * Since: 0.1
 */
int kvmdci_target_cpu_count(struct kvmdci_target *t);

/**
 * kvmdci_target_reg_read:
 * @t: target
 * @cpu: CPU index, 0-based
 * @name: register name in the stub's target description: rip, rdi, cr3, cr4, efer, fs_base, ...
 * @val: (out): the value
 *
 * Read one register of a CPU. The target must be stopped.
 *
 * Returns: 0, or -ENOENT for a register the target does not have, -EINVAL for a CPU out of range,
 * -EIO when the stub refused the read; -EBUSY while the target runs, -ENOTCONN after
 * kvmdci_target_detach(), -EPIPE when the connection was lost.
 *
 * Since: 0.1
 */
int kvmdci_target_reg_read(struct kvmdci_target *t, int cpu, const char *name, uint64_t *val);

/**
 * kvmdci_target_regs_read:
 * @t: target
 * @cpu: CPU index, 0-based
 * @names: register names, as for kvmdci_target_reg_read()
 * @vals: (out): @n values, in the order of @names
 * @n: 1 to 16
 *
 * Read up to 16 registers of one CPU in one round trip (the requests are pipelined). The target
 * must be stopped.
 *
 * Returns: 0, or -EINVAL for @n out of range or a bad CPU, -ENOENT for an unknown register, -EIO
 * when the stub refused one of the reads (the others are filled); -EBUSY while the target runs,
 * -ENOTCONN after kvmdci_target_detach(), -EPIPE when the connection was lost.
 *
 * Since: 0.1
 */
int kvmdci_target_regs_read(struct kvmdci_target *t, int cpu, const char *const *names,
			    uint64_t *vals, int n);

/**
 * kvmdci_target_reg_write:
 * @t: target
 * @cpu: CPU index, 0-based
 * @name: register name in the stub's target description
 * @val: the new value
 *
 * Write one register of a stopped CPU.
 *
 * Returns: 0, or -ENOENT for a register that cannot be written, -EOPNOTSUPP on a dump or
 * /proc/kcore, -EIO when the stub refused; -EBUSY while the target runs, -ENOTCONN after
 * kvmdci_target_detach(), -EPIPE when the connection was lost.
 *
 * Since: 0.1
 */
int kvmdci_target_reg_write(struct kvmdci_target *t, int cpu, const char *name, uint64_t val);

/**
 * kvmdci_target_read_virt:
 * @t: target
 * @cpu: CPU index whose current paging translates @addr
 * @addr: virtual address
 * @buf: (out): @len bytes
 * @len: bytes to read
 *
 * Read virtual memory through a CPU's current paging (a CPU stopped in a guest translates through
 * the guest's paging: to read the host kernel use kvmdci_kernel_read()).
 *
 * Returns: 0, or -EFAULT when the address cannot be read, -EINVAL for a bad CPU; -EBUSY while the
 * target runs, -ENOTCONN after kvmdci_target_detach(), -EPIPE when the connection was lost.
 *
 * Since: 0.1
 */
int kvmdci_target_read_virt(struct kvmdci_target *t, int cpu, uint64_t addr, void *buf,
			    size_t len);

/**
 * kvmdci_target_read_phys:
 * @t: target
 * @addr: physical address
 * @buf: (out): @len bytes
 * @len: bytes to read
 *
 * Read physical memory.
 *
 * Returns: 0, or -EFAULT when the address cannot be read, -EOPNOTSUPP where the stub has no
 * physical mode; -EBUSY while the target runs, -ENOTCONN after kvmdci_target_detach(), -EPIPE when
 * the connection was lost.
 *
 * Since: 0.1
 */
int kvmdci_target_read_phys(struct kvmdci_target *t, uint64_t addr, void *buf, size_t len);

/** Kinds of breakpoints and watchpoints (the Z packet types). */
enum kvmdci_bp_kind {
	KVMDCI_BP_SW = 0,
	KVMDCI_BP_HW = 1,
	KVMDCI_WATCH_WRITE = 2,
	KVMDCI_WATCH_READ = 3,
	KVMDCI_WATCH_ACCESS = 4,
};

/**
 * kvmdci_target_bp_insert:
 * @t: target
 * @kind: breakpoint or watchpoint kind
 * @addr: address (virtual; a watchpoint's address as the stub takes it)
 * @len: 1 for breakpoints, the watched length for watchpoints
 *
 * Insert a breakpoint or watchpoint. Inserting one that is already in is a no-op. The handle
 * remembers it, so that kvmdci_target_bp_remove_all(), kvmdci_target_detach() and the last
 * kvmdci_target_unref() take it out again.
 *
 * Returns: 0, or -EOPNOTSUPP when the stub does not support @kind (and on dumps), -ENOSPC when the
 * handle's table is full, -EIO when the stub refused; -EBUSY while the target runs, -ENOTCONN after
 * kvmdci_target_detach(), -EPIPE when the connection was lost.
 *
 * Since: 0.1
 */
int kvmdci_target_bp_insert(struct kvmdci_target *t, enum kvmdci_bp_kind kind, uint64_t addr,
			    unsigned int len);

/**
 * kvmdci_target_bp_remove:
 * @t: target
 * @kind: as inserted
 * @addr: as inserted
 * @len: as inserted
 *
 * Remove a breakpoint or watchpoint inserted before through this handle.
 *
 * Returns: 0, or -ENOENT when no such one was inserted, -EOPNOTSUPP on dumps; -EBUSY while the
 * target runs, -ENOTCONN after kvmdci_target_detach(), -EPIPE when the connection was lost.
 *
 * Since: 0.1
 */
int kvmdci_target_bp_remove(struct kvmdci_target *t, enum kvmdci_bp_kind kind, uint64_t addr,
			    unsigned int len);

/**
 * kvmdci_target_bp_remove_all:
 * @t: target
 *
 * Remove every breakpoint and watchpoint this handle inserted.
 *
 * Returns: 0, or a negative errno from the stub (-EBUSY while running, -EPIPE when the connection
 * was lost).
 *
 * Since: 0.1
 */
int kvmdci_target_bp_remove_all(struct kvmdci_target *t);

/**
 * kvmdci_target_bp_count:
 * @t: target
 *
 * How many breakpoints and watchpoints this handle has inserted.
 *
 * Returns: the count.
 *
 * Since: 0.1
 */
int kvmdci_target_bp_count(struct kvmdci_target *t);

/** Why the target stopped. */
enum kvmdci_stop_reason {
	KVMDCI_STOP_NONE = 0,
	KVMDCI_STOP_SIGNAL,     /* interrupt, step or an unspecified trap */
	KVMDCI_STOP_BREAKPOINT, /* a breakpoint at @addr */
	KVMDCI_STOP_WATCHPOINT, /* a watchpoint on @addr */
	KVMDCI_STOP_EXITED,     /* the target is gone */
};

/** A stop event, filled by kvmdci_target_wait(). */
struct kvmdci_stop {
	enum kvmdci_stop_reason reason;
	int cpu;       /* the CPU that stopped (0-based), -1 if unknown */
	int signal;    /* the signal number the stub reported */
	uint64_t addr; /* breakpoint address (its rip) or watched address */
	uint64_t reserved[4];
};

/**
 * kvmdci_target_resume:
 * @t: target
 *
 * Continue every CPU of a stopped target.
 *
 * Returns: 0, or -EOPNOTSUPP on dumps and /proc/kcore, -ENOTCONN after kvmdci_target_detach(),
 * -EPIPE when the connection was lost.
 *
 * Since: 0.1
 */
int kvmdci_target_resume(struct kvmdci_target *t);

/**
 * kvmdci_target_step_over:
 * @t: target
 * @cpu: the CPU that stopped at the breakpoint
 * @addr: the breakpoint's address
 *
 * Continue every CPU after a breakpoint stop: steps @cpu alone past the breakpoint at @addr (which
 * would otherwise trigger again at once) and resumes all CPUs. Returns once the target runs.
 *
 * Returns: 0, or -ENOENT when no breakpoint of this handle is at @addr, -EINVAL for a bad CPU or a
 * target that is not stopped, -EOPNOTSUPP on dumps, -ENOTCONN, -EPIPE.
 *
 * Since: 0.1
 */
int kvmdci_target_step_over(struct kvmdci_target *t, int cpu, uint64_t addr);

/**
 * kvmdci_target_wait:
 * @t: target
 * @timeout_ms: how long to wait, -1 for ever
 * @stop: (out): the stop event
 *
 * Wait for a running target to stop (after kvmdci_target_resume(), kvmdci_target_step_over() or
 * kvmdci_target_interrupt()).
 *
 * Returns: 1 with @stop filled, 0 on timeout or when a signal interrupted the wait, or -EINVAL when
 * the target is not running, -EOPNOTSUPP on dumps, -EPIPE when the connection was lost.
 *
 * Since: 0.1
 */
int kvmdci_target_wait(struct kvmdci_target *t, int timeout_ms, struct kvmdci_stop *stop);

/**
 * kvmdci_target_interrupt:
 * @t: target
 *
 * Ask a running target to stop; kvmdci_target_wait() reports the stop. Nothing happens when the
 * target is stopped already.
 *
 * Returns: 0, or -EPIPE when the connection was lost.
 *
 * Since: 0.1
 */
int kvmdci_target_interrupt(struct kvmdci_target *t);

/**
 * kvmdci_target_is_running:
 * @t: target
 *
 * Whether the target was resumed and has not reported a stop yet.
 *
 * Returns: 1 when running, 0 otherwise.
 *
 * Since: 0.1
 */
int kvmdci_target_is_running(struct kvmdci_target *t);

/**
 * kvmdci_target_has_run_control:
 * @t: target
 *
 * Whether the target can run, stop and take breakpoints and watchpoints: a live stub can; a
 * dump and /proc/kcore are read-only snapshots. A tool that needs run control asks this first
 * and refuses a read-only target with one clear message.
 *
 * Returns: 1 when it can, 0 when it is read-only.
 *
 * Since: 0.10
 */
int kvmdci_target_has_run_control(struct kvmdci_target *t);

/**
 * kvmdci_target_detach:
 * @t: target
 *
 * Stop the target if it runs, remove every breakpoint and watchpoint this handle inserted, detach
 * and let the target run. Further calls that need the connection fail with -ENOTCONN; @t must still
 * be unreferenced.
 *
 * Returns: 0, or a negative errno when the stub could not be told (the connection is closed
 * anyway).
 *
 * Since: 0.1
 */
int kvmdci_target_detach(struct kvmdci_target *t);

/**
 * enum kvmdci_detach_mode - what kvmdci_target_detach() (and the last unref) leaves behind
 * @KVMDCI_DETACH_AUTO: the target as it was found: left stopped when it was held at attach
 *   (kvmdci_target_was_held()) and this handle never let it run (continue or step: that ends
 *   the hold), else let run. The default, unless the tunable "on_detach" (KVMDCI_ON_DETACH)
 *   says otherwise.
 * @KVMDCI_DETACH_RESUME: let the target run (a held one too)
 * @KVMDCI_DETACH_STAY: leave the target stopped, held for the next debugger
 *
 * Since: 0.10
 */
enum kvmdci_detach_mode {
	KVMDCI_DETACH_AUTO,
	KVMDCI_DETACH_RESUME,
	KVMDCI_DETACH_STAY,
};

/**
 * kvmdci_target_set_detach_mode:
 * @t: a live target
 * @mode: what the detach leaves behind
 *
 * Choose whether kvmdci_target_detach() (and the last kvmdci_target_unref()) lets the target
 * run or leaves it stopped. Either way every breakpoint and watchpoint this handle inserted is
 * taken out first. Leaving it stopped closes the connection without the protocol's detach
 * packet (a GDB stub resumes the machine on `D`); QEMU's gdbstub and the lab's Bochs bridge then
 * keep the machine stopped for the next client. See libkvmdci(3), HELD TARGETS.
 *
 * Returns: 0, or -EINVAL for an unknown @mode, -EOPNOTSUPP on a dump or /proc/kcore.
 *
 * Since: 0.10
 */
int kvmdci_target_set_detach_mode(struct kvmdci_target *t, enum kvmdci_detach_mode mode);

/**
 * kvmdci_target_was_held:
 * @t: a live target
 *
 * Whether the machine was already stopped by a debugger, and left so, when @t attached: the stub
 * answered the monitor command `info status` with `VM status: paused (debug)` (QEMU's wording,
 * which the lab's Bochs bridge gives too). A machine that ran until this connection stopped it
 * answers `VM status: paused`. A stub without that command cannot tell: 0, and the tunable
 * "on_detach" (KVMDCI_ON_DETACH=stay) is the way to keep such a machine stopped.
 *
 * Returns: 1 when held at attach, 0 when running or unknown, -EOPNOTSUPP on a dump or
 * /proc/kcore.
 *
 * Since: 0.10
 */
int kvmdci_target_was_held(struct kvmdci_target *t);
/** Statistics of the transport: packets sent, round trips, bytes. */
struct kvmdci_target_stats {
	uint64_t packets_sent;
	uint64_t packets_received;
	uint64_t writes;
	uint64_t bytes_sent;
	uint64_t bytes_received;
	uint64_t reserved[3];
};

/**
 * kvmdci_target_get_stats:
 * @t: target
 * @stats: (out): the statistics
 *
 * Copy the transport statistics: packets, writes and bytes so far (all zero on dumps).
 *
 * Since: 0.1
 */
void kvmdci_target_get_stats(struct kvmdci_target *t, struct kvmdci_target_stats *stats);

/**
 * kvmdci_target_vmcoreinfo:
 * @t: target
 *
 * The VMCOREINFO text the target carries: the note of an ELF core or a kdump-compressed dump
 * ("OSRELEASE=...\nPAGESIZE=...\n...", as the kernel wrote it), or the one of /proc/kcore.
 * A live link (a GDB stub, DCI, a serial line) carries none.
 *
 * Returns: the text, NUL-terminated, owned by @t and valid while it lives; NULL when the target
 * carries none.
 *
 * Since: 0.12
 */
const char *kvmdci_target_vmcoreinfo(struct kvmdci_target *t);

/* ---- kernel view: symbols, KASLR, modules, types ---------------------------------------------- */

struct kvmdci_kernel;

/** Where kernel knowledge comes from; NULL members are looked up in $KVMDCI_* variables. */
struct kvmdci_kernel_files {
	const char *vmlinux;    /* ELF with .BTF (and maybe .symtab): $KVMDCI_VMLINUX */
	const char *system_map; /* System.map: $KVMDCI_SYSTEM_MAP */
	const char *modules;    /* directory with kvm.ko, kvm-amd.ko, ...: $KVMDCI_MODULES */
	const void *reserved[5];
};

/**
 * kvmdci_kernel_open:
 * @t: a stopped target
 * @files: kernel files, or NULL: NULL members are taken from $KVMDCI_VMLINUX, $KVMDCI_SYSTEM_MAP
 *   and $KVMDCI_MODULES, and what is still missing is read from the target's memory
 * @ret: (out): the kernel view
 *
 * Build the kernel view of a target: vmlinux symbols (System.map, the vmlinux symbol table, or the
 * kernel's kallsyms in memory), the KASLR offset (VMCOREINFO, or linux_banner found in memory), the
 * loaded modules and their symbols (each struct module's kallsyms), and types (BTF or DWARF of
 * vmlinux, the modules' split BTF; from files or from memory). A vmlinux whose build id is not the
 * running kernel's is refused unless $KVMDCI_FORCE=1. Takes a reference on @t; the caller owns one
 * reference on the view.
 *
 * Returns: 0, or a negative errno: -ENOENT when symbols, types or linux_banner cannot be found
 * (kvmdci_ctx_last_error() says which and what to give), -EINVAL for an unreadable or mismatched
 * file, -EFAULT when target memory cannot be read, -ENOMEM; the target's errors (-EBUSY when it
 * runs, -EPIPE). @ret is left untouched on failure.
 *
 * Since: 0.1
 */
int kvmdci_kernel_open(struct kvmdci_target *t, const struct kvmdci_kernel_files *files,
		       struct kvmdci_kernel **ret);

/**
 * kvmdci_kernel_unref:
 * @k: kernel view, or NULL
 *
 * Drop a reference on @k; the last one frees it and drops its reference on the target.
 *
 * Returns: NULL.
 *
 * Since: 0.1
 */
struct kvmdci_kernel *kvmdci_kernel_unref(struct kvmdci_kernel *k);

/**
 * kvmdci_kernel_ref:
 * @k: kernel view, or NULL
 *
 * Take a reference on @k; each reference is dropped with kvmdci_kernel_unref().
 *
 * Returns: @k.
 *
 * Since: 0.8
 */
struct kvmdci_kernel *kvmdci_kernel_ref(struct kvmdci_kernel *k);

/**
 * kvmdci_kernel_get_target:
 * @k: kernel view
 *
 * The target the view reads.
 *
 * Returns: the target; no new reference is taken.
 *
 * Since: 0.1
 */
struct kvmdci_target *kvmdci_kernel_get_target(struct kvmdci_kernel *k);

/**
 * kvmdci_kernel_kaslr_offset:
 * @k: kernel view
 *
 * The virtual KASLR offset found on the target.
 *
 * Returns: the offset (0 without KASLR).
 *
 * Since: 0.1
 */
uint64_t kvmdci_kernel_kaslr_offset(struct kvmdci_kernel *k);

/**
 * kvmdci_kernel_release:
 * @k: kernel view
 *
 * The kernel release ("6.1.0-27-cloud-amd64") read from the target's linux_banner.
 *
 * Returns: the release; owned by @k, valid while @k lives.
 *
 * Since: 0.1
 */
const char *kvmdci_kernel_release(struct kvmdci_kernel *k);

/**
 * kvmdci_kernel_symbol:
 * @k: kernel view
 * @name: "name" (vmlinux first, then the loaded modules) or "module:name"
 *   ("kvm_amd:svm_handle_exit"; "vmlinux:name" for the kernel image)
 * @addr: (out): the symbol's run-time address (KASLR applied)
 *
 * Look a symbol up.
 *
 * Returns: 0, or -ENOENT when there is no such symbol, -ENODEV when the module is not loaded, -EIO
 * when the module's symbols cannot be read, -EINVAL for a module name that is too long.
 *
 * Since: 0.1
 */
int kvmdci_kernel_symbol(struct kvmdci_kernel *k, const char *name, uint64_t *addr);

/**
 * kvmdci_kernel_has_module:
 * @k: kernel view
 * @module: module name, e.g. "kvm_amd"
 *
 * Whether a module is loaded on the target.
 *
 * Returns: 1 when loaded, 0 otherwise.
 *
 * Since: 0.1
 */
int kvmdci_kernel_has_module(struct kvmdci_kernel *k, const char *module);

/**
 * kvmdci_kernel_read:
 * @k: kernel view
 * @addr: kernel virtual address
 * @buf: (out): @len bytes
 * @len: bytes to read
 *
 * Read kernel virtual memory. This keeps working while CPUs run a nested guest: reads go through a
 * CPU seen in the host kernel, else through physical memory and the kernel's own page tables. On a
 * live target, reads within one stop may be served from a cache ($KVMDCI_READ_CACHE).
 *
 * Returns: 0, or -EFAULT when the address cannot be read; the target's errors (-EBUSY while it
 * runs, -EPIPE).
 *
 * Since: 0.1
 */
int kvmdci_kernel_read(struct kvmdci_kernel *k, uint64_t addr, void *buf, size_t len);

/**
 * kvmdci_kernel_read_u64:
 * @k: kernel view
 * @addr: kernel virtual address
 * @val: (out): the value
 *
 * Read one little-endian 64-bit value of kernel memory.
 *
 * Returns: as kvmdci_kernel_read().
 *
 * Since: 0.1
 */
int kvmdci_kernel_read_u64(struct kvmdci_kernel *k, uint64_t addr, uint64_t *val);

/**
 * kvmdci_kernel_note_stop:
 * @k: kernel view
 * @stop: ignored (may be NULL)
 *
 * Not needed any more: the kernel view notices each stop of its target itself (kvmdci_target_wait()
 * records it): the read cache starts anew and a CPU that stopped in the host kernel serves the
 * reads. Kept for callers of 0.1; calling it does no harm.
 *
 * Since: 0.1
 */
void kvmdci_kernel_note_stop(struct kvmdci_kernel *k, const struct kvmdci_stop *stop);

/** A member's place in a type, from BTF. */
struct kvmdci_member {
	uint64_t bit_offset;   /* from the start of the outer type */
	uint32_t bitfield_size; /* 0 when not a bitfield */
	uint32_t size;          /* bytes of the member's type */
	uint32_t reserved[4];
};

/**
 * kvmdci_kernel_type_size:
 * @k: kernel view
 * @module: NULL for vmlinux then the loaded modules, or a module name
 * @type: "struct kvm", "union x", "u64", a typedef name
 * @size: (out): bytes
 *
 * The size of a type, from the target's type info.
 *
 * Returns: 0, or -ENOENT when there is no such type, -EINVAL for a type without a size.
 *
 * Since: 0.1
 */
int kvmdci_kernel_type_size(struct kvmdci_kernel *k, const char *module, const char *type,
			    uint64_t *size);

/**
 * kvmdci_kernel_member:
 * @k: kernel view
 * @module: NULL for vmlinux then the loaded modules, or a module name
 * @type: the outer type, e.g. "struct kvm_vcpu"
 * @path: member path: "stat.exits", "control.exit_code", "range[2].dev"
 * @member: (out): offset, bitfield size and size
 *
 * Locate a member in a type. Members of anonymous structs and unions are found by name; array
 * indexes are allowed.
 *
 * Returns: 0, or -ENOENT when the type or a member is not there, -EINVAL for a malformed path or an
 * index on a member that is not an array.
 *
 * Since: 0.1
 */
int kvmdci_kernel_member(struct kvmdci_kernel *k, const char *module, const char *type,
			 const char *path, struct kvmdci_member *member);

/** Where a piece of kernel knowledge came from. */
enum kvmdci_source_kind {
	KVMDCI_SOURCE_NONE = 0, /* not loaded */
	KVMDCI_SOURCE_FILE,     /* a file the user gave (path) */
	KVMDCI_SOURCE_MEMORY    /* read from the target's memory (addr, size) */
};
/** A source of symbols or types, see kvmdci_kernel_symbols_source(). */
struct kvmdci_kernel_source {
	enum kvmdci_source_kind kind;
	const char *format; /* "System.map", "ELF symtab", "kallsyms", "module kallsyms", "BTF" */
	const char *path;   /* the file (FILE), else NULL */
	uint64_t addr;      /* where in target memory (MEMORY): the table or data read */
	uint64_t size;      /* bytes read, 0 when not known */
	uint64_t count;     /* symbols, or BTF types */
	uint64_t reserved[4];
};

/**
 * kvmdci_kernel_symbols_source:
 * @k: kernel view
 * @module: NULL for vmlinux, or a loaded module's name
 * @src: (out): the source
 *
 * Where the symbols of vmlinux or of a module came from: a file or target memory, in which format,
 * how many.
 *
 * Returns: 0, or -ENODEV for a module that is not loaded. The strings in @src are owned by @k and
 * valid while it lives.
 *
 * Since: 0.3
 */
int kvmdci_kernel_symbols_source(struct kvmdci_kernel *k, const char *module,
				 struct kvmdci_kernel_source *src);

/**
 * kvmdci_kernel_types_source:
 * @k: kernel view
 * @module: NULL for vmlinux, or a loaded module's name
 * @src: (out): the source
 *
 * Where the types of vmlinux or of a module came from. Module types are loaded when first needed,
 * so a module may show KVMDCI_SOURCE_NONE.
 *
 * Returns: 0, or -ENODEV for a module that is not loaded. The strings in @src are owned by @k and
 * valid while it lives.
 *
 * Since: 0.3
 */
int kvmdci_kernel_types_source(struct kvmdci_kernel *k, const char *module,
			       struct kvmdci_kernel_source *src);

/**
 * kvmdci_kernel_kaslr_source:
 * @k: kernel view
 *
 * How the KASLR offset was found, in words for people ("VMCOREINFO", "linux_banner", ...).
 *
 * Returns: a string owned by @k, valid while it lives.
 *
 * Since: 0.3
 */
const char *kvmdci_kernel_kaslr_source(struct kvmdci_kernel *k);

/**
 * kvmdci_kernel_module_count:
 * @k: kernel view
 *
 * The number of modules on the target's module list.
 *
 * Returns: the count.
 *
 * Since: 0.3
 */
int kvmdci_kernel_module_count(struct kvmdci_kernel *k);

/**
 * kvmdci_kernel_module:
 * @k: kernel view
 * @i: index, 0 .. kvmdci_kernel_module_count() - 1 (list order)
 * @name: (out): the module's name, owned by @k, valid while it lives
 * @addr: (out): its struct module address
 *
 * One module of the target's module list.
 *
 * Returns: 0, or -ERANGE past the end.
 *
 * Since: 0.3
 */
int kvmdci_kernel_module(struct kvmdci_kernel *k, int i, const char **name, uint64_t *addr);

/**
 * kvmdci_kernel_module_build_id:
 * @k: kernel view
 * @module: a loaded module's name ("kvm_amd")
 * @hex: (out): the module's GNU build id in lower-case hex, NUL-terminated
 * @hexsz: size of @hex (41 bytes hold the usual 20-byte id)
 *
 * The build id of a loaded module as the target's kernel keeps it: the .note.gnu.build-id
 * section it loaded, found through the module's sysfs notes attributes (what
 * /sys/module/NAME/notes/.note.gnu.build-id shows on the target). Module files given to the
 * kernel view are checked against it: a file of another build is not used for types.
 *
 * Returns: 0; -ENOENT when there is no such module or the kernel keeps no notes for it
 * (built without sysfs or kallsyms), -ERANGE when @hexsz is too small, -EINVAL for
 * implausible memory, or the error of a failed read.
 *
 * Since: 0.10
 */
int kvmdci_kernel_module_build_id(struct kvmdci_kernel *k, const char *module, char *hex,
				  size_t hexsz);

/**
 * kvmdci_kernel_virt_to_phys:
 * @k: kernel view
 * @addr: kernel virtual address
 * @phys: (out): the physical address it maps to
 *
 * Translate a kernel virtual address through the kernel's page tables (those of a CPU seen in
 * the host kernel, else VMCOREINFO's init_top_pgt).
 *
 * Returns: 0, or -EFAULT when @addr is not mapped, -ENXIO when no kernel page-table root is
 * known (no CPU shows the host kernel and the target carries no VMCOREINFO), or the target's
 * read errors (-EOPNOTSUPP where the stub has no physical mode, -EBUSY while it runs, -EPIPE).
 *
 * Since: 0.12
 */
int kvmdci_kernel_virt_to_phys(struct kvmdci_kernel *k, uint64_t addr, uint64_t *phys);

/**
 * kvmdci_kernel_phys_base:
 * @k: kernel view
 * @phys_base: (out): the kernel's phys_base
 *
 * The x86-64 kernel's phys_base: where the kernel image was loaded in physical memory, less
 * its linked place (__pa_symbol(x) is x - __START_KERNEL_map + phys_base, __START_KERNEL_map
 * being 0xffffffff80000000 by the x86-64 ABI). Taken from VMCOREINFO's NUMBER(phys_base) when
 * the target carries one, else computed by translating the address of the symbol _text with
 * kvmdci_kernel_virt_to_phys(). What a VMCOREINFO built for another reader (drgn) needs.
 *
 * Returns: 0, or -ENOENT when the kernel has no _text symbol, or the errors of
 * kvmdci_kernel_virt_to_phys().
 *
 * Since: 0.12
 */
int kvmdci_kernel_phys_base(struct kvmdci_kernel *k, uint64_t *phys_base);

/* ---- KVM model ---------------------------------------------------------------------------- */

/** One vCPU as found in memory. */
struct kvmdci_vcpu_info {
	uint64_t vm;   /* struct kvm * */
	uint64_t vcpu; /* struct kvm_vcpu * */
	int32_t vcpu_id;
	int32_t vcpu_idx;
	int32_t cpu;   /* last physical CPU */
	int32_t vm_pid; /* kvm->userspace_pid */
	uint64_t stat_exits_addr; /* &vcpu->stat.exits */
	uint64_t reserved[4];
};

/**
 * kvmdci_kvm_vcpus:
 * @k: kernel view
 * @out: (out): up to @max entries
 * @max: size of @out
 *
 * List every vCPU of every VM: kvm:vm_list, then each VM's vcpu_array xarray or vcpus[] array
 * (whichever the type info has), bounded by online_vcpus.
 *
 * Returns: the number of vCPUs found, which may exceed @max (only @max are filled), or a negative
 * errno: -ENOENT when kvm is not loaded or a type is missing, -EFAULT, -ENOMEM.
 *
 * Since: 0.1
 */
int kvmdci_kvm_vcpus(struct kvmdci_kernel *k, struct kvmdci_vcpu_info *out, int max);

/** The layout of KVM's per-vCPU counters (struct kvm_vcpu_stat) on this kernel. */
struct kvmdci_vcpu_stats_layout;

/**
 * kvmdci_kvm_vcpu_stats_layout:
 * @k: kernel view
 * @ret: (out): the layout
 *
 * Find every 64-bit counter of struct kvm_vcpu_stat in the type info, nested structs such as
 * "generic" flattened. The caller owns the layout's first reference; drop it with
 * kvmdci_kvm_vcpu_stats_layout_unref(). It does not refer to @k.
 *
 * Returns: 0, or -ENOENT when the type info has no struct kvm_vcpu_stat, -ENOMEM.
 *
 * Since: 0.2
 */
int kvmdci_kvm_vcpu_stats_layout(struct kvmdci_kernel *k, struct kvmdci_vcpu_stats_layout **ret);

/**
 * kvmdci_kvm_vcpu_stats_layout_free:
 * @l: layout, or NULL
 *
 * The same as kvmdci_kvm_vcpu_stats_layout_unref(): the name of 0.2, kept for the programs that
 * use it.
 *
 * Since: 0.2
 */
void kvmdci_kvm_vcpu_stats_layout_free(struct kvmdci_vcpu_stats_layout *l);

/**
 * kvmdci_kvm_vcpu_stats_layout_ref:
 * @l: layout, or NULL
 *
 * Take a reference on @l; each reference is dropped with kvmdci_kvm_vcpu_stats_layout_unref().
 *
 * Returns: @l.
 *
 * Since: 0.8
 */
struct kvmdci_vcpu_stats_layout *
kvmdci_kvm_vcpu_stats_layout_ref(struct kvmdci_vcpu_stats_layout *l);

/**
 * kvmdci_kvm_vcpu_stats_layout_unref:
 * @l: layout, or NULL
 *
 * Drop a reference on @l; the last one frees it.
 *
 * Returns: NULL.
 *
 * Since: 0.8
 */
struct kvmdci_vcpu_stats_layout *
kvmdci_kvm_vcpu_stats_layout_unref(struct kvmdci_vcpu_stats_layout *l);

/**
 * kvmdci_kvm_vcpu_stats_count:
 * @l: layout
 *
 * The number of counters.
 *
 * Returns: the count.
 *
 * Since: 0.2
 */
int kvmdci_kvm_vcpu_stats_count(const struct kvmdci_vcpu_stats_layout *l);

/**
 * kvmdci_kvm_vcpu_stats_name:
 * @l: layout
 * @i: counter index
 *
 * The name of a counter ("exits", "io_exits", ...).
 *
 * Returns: the name, owned by @l; NULL for @i out of range.
 *
 * Since: 0.2
 */
const char *kvmdci_kvm_vcpu_stats_name(const struct kvmdci_vcpu_stats_layout *l, int i);

/**
 * kvmdci_kvm_vcpu_stats_read:
 * @k: kernel view
 * @l: layout from kvmdci_kvm_vcpu_stats_layout()
 * @vcpu: a struct kvm_vcpu address
 * @values: (out): kvmdci_kvm_vcpu_stats_count() values
 *
 * Read every counter of one vCPU in a single memory read. It costs no breakpoint.
 *
 * Returns: 0, or -EFAULT when the memory cannot be read; the target's errors.
 *
 * Since: 0.2
 */
int kvmdci_kvm_vcpu_stats_read(struct kvmdci_kernel *k, const struct kvmdci_vcpu_stats_layout *l,
			       uint64_t vcpu, uint64_t *values);

/* ---- KVM's named stats of VMs and vCPUs (lib/kvm/named-stats.c) -------------------------- */

/** Whose stats: a VM's (struct kvm's stat) or a vCPU's (struct kvm_vcpu's stat). */
enum kvmdci_kvm_stat_scope { KVMDCI_KVM_STAT_SCOPE_VM = 0, KVMDCI_KVM_STAT_SCOPE_VCPU = 1 };

/**
 * What a stat's value is, as KVM's stats descriptors say (the type in their flags): a counter
 * that only grows (CUMULATIVE), a gauge (INSTANT), the highest value seen (PEAK), a histogram
 * (LINEAR_HIST, LOG_HIST: several values). UNKNOWN where the kernel has no descriptors (before
 * 5.14) or a type this library does not know.
 */
enum kvmdci_kvm_stat_kind {
	KVMDCI_KVM_STAT_CUMULATIVE = 0,
	KVMDCI_KVM_STAT_INSTANT = 1,
	KVMDCI_KVM_STAT_PEAK = 2,
	KVMDCI_KVM_STAT_LINEAR_HIST = 3,
	KVMDCI_KVM_STAT_LOG_HIST = 4,
	KVMDCI_KVM_STAT_UNKNOWN = 15
};

/** One stat of a VM or a vCPU. */
struct kvmdci_kvm_stat_desc {
	const char *name; /* debugfs's file name ("exits", "pages_4k"); owned by the stats */
	enum kvmdci_kvm_stat_kind kind;
	const char *unit;     /* "none", "bytes", "seconds", "cycles", "boolean"; NULL: unknown */
	int32_t base;         /* 10 or 2: the value times base^exponent is in unit; 0: unknown */
	int32_t exponent;
	uint32_t offset;      /* byte offset into struct kvm_vm_stat or struct kvm_vcpu_stat */
	uint32_t size;        /* number of 64-bit values: 1, or a histogram's buckets */
	uint32_t bucket_size; /* of a linear histogram, else 0 */
	uint32_t index;       /* its first value in kvmdci_kvm_stats_read()'s array */
	uint64_t reserved[4];
};

/** KVM's stats of VMs and vCPUs on one kernel: names, kinds and where each value lies. */
struct kvmdci_kvm_stats;

/**
 * kvmdci_kvm_stats_new:
 * @k: kernel view
 * @ret: (out): the stats, owned by the caller (kvmdci_kvm_stats_unref()); untouched on failure
 *
 * Learn KVM's stats of VMs and vCPUs on this kernel. Where KVM describes its stats (5.14 and
 * later: the arrays kvm_vm_stats_desc and kvm_vcpu_stats_desc in the kvm module), they are read
 * from the target's memory, their layout from the type info: the names, kinds, units and
 * offsets are KVM's own, the ones debugfs shows under /sys/kernel/debug/kvm. Before 5.14 the
 * names come from x86's debugfs_entries[] (kinds unknown); without it, every 64-bit member of
 * struct kvm_vm_stat and struct kvm_vcpu_stat is a stat of unknown kind named by its member
 * (kvmdci_kvm_stats_source() says which). The result does not refer to @k. It costs no
 * breakpoint.
 *
 * Returns: 0, or -ENOENT when kvm is not loaded or a type is missing, -EINVAL when the
 * descriptors or debugfs_entries[] make no sense (the error names their address), -EFAULT,
 * -ENOMEM.
 *
 * Since: 0.11
 */
int kvmdci_kvm_stats_new(struct kvmdci_kernel *k, struct kvmdci_kvm_stats **ret);

/**
 * kvmdci_kvm_stats_ref:
 * @s: stats, or NULL
 *
 * Take a reference on @s; each reference is dropped with kvmdci_kvm_stats_unref().
 *
 * Returns: @s.
 *
 * Since: 0.11
 */
struct kvmdci_kvm_stats *kvmdci_kvm_stats_ref(struct kvmdci_kvm_stats *s);

/**
 * kvmdci_kvm_stats_unref:
 * @s: stats, or NULL
 *
 * Drop a reference on @s; the last one frees it.
 *
 * Returns: NULL.
 *
 * Since: 0.11
 */
struct kvmdci_kvm_stats *kvmdci_kvm_stats_unref(struct kvmdci_kvm_stats *s);

/**
 * kvmdci_kvm_stats_source:
 * @s: stats
 *
 * Where the stats' names come from: "kvm-descriptors" (KVM's stats descriptors, 5.14 and
 * later: names and kinds as KVM gives them), "kvm-debugfs-entries" (x86's debugfs_entries[]
 * before 5.14: debugfs's names, kinds unknown) or "type-info" (the stats structs' members,
 * kinds unknown).
 *
 * Returns: a static string.
 *
 * Since: 0.11
 */
const char *kvmdci_kvm_stats_source(const struct kvmdci_kvm_stats *s);

/**
 * kvmdci_kvm_stats_count:
 * @s: stats
 * @scope: VM or vCPU
 *
 * The number of stats of a VM or of a vCPU.
 *
 * Returns: the count (>= 0), or -EINVAL for an unknown @scope.
 *
 * Since: 0.11
 */
int kvmdci_kvm_stats_count(const struct kvmdci_kvm_stats *s, enum kvmdci_kvm_stat_scope scope);

/**
 * kvmdci_kvm_stats_values:
 * @s: stats
 * @scope: VM or vCPU
 *
 * The number of 64-bit values that kvmdci_kvm_stats_read() fills: the sum of the stats' sizes
 * (a histogram has several).
 *
 * Returns: the count (>= 0), or -EINVAL for an unknown @scope.
 *
 * Since: 0.11
 */
int kvmdci_kvm_stats_values(const struct kvmdci_kvm_stats *s, enum kvmdci_kvm_stat_scope scope);

/**
 * kvmdci_kvm_stats_desc:
 * @s: stats
 * @scope: VM or vCPU
 * @i: 0 .. kvmdci_kvm_stats_count() - 1
 * @out: (out): the stat; its strings are owned by @s, valid while @s lives
 *
 * Describe stat @i.
 *
 * Returns: 0, -ERANGE when @i is past the end, -EINVAL for an unknown @scope.
 *
 * Since: 0.11
 */
int kvmdci_kvm_stats_desc(const struct kvmdci_kvm_stats *s, enum kvmdci_kvm_stat_scope scope,
			  int i, struct kvmdci_kvm_stat_desc *out);

/**
 * kvmdci_kvm_stats_find:
 * @s: stats
 * @scope: VM or vCPU
 * @name: a stat's name ("exits")
 *
 * Find a stat by name.
 *
 * Returns: its index, -ENOENT when there is none of that name, -EINVAL for an unknown @scope.
 *
 * Since: 0.11
 */
int kvmdci_kvm_stats_find(const struct kvmdci_kvm_stats *s, enum kvmdci_kvm_stat_scope scope,
			  const char *name);

/**
 * kvmdci_kvm_stats_read:
 * @k: kernel view (of the kernel @s was made for)
 * @s: stats
 * @scope: VM (@addr is a struct kvm) or vCPU (@addr is a struct kvm_vcpu)
 * @addr: the struct kvm or struct kvm_vcpu address
 * @values: (out): kvmdci_kvm_stats_values() values; stat i's are at its desc's index
 *
 * Read every stat of one VM or one vCPU in a single memory read. It costs no breakpoint.
 *
 * Returns: 0, -EINVAL for an unknown @scope, -ENOMEM, or the read's error (-EFAULT when the
 * memory cannot be read; the error names the address).
 *
 * Since: 0.11
 */
int kvmdci_kvm_stats_read(struct kvmdci_kernel *k, const struct kvmdci_kvm_stats *s,
			  enum kvmdci_kvm_stat_scope scope, uint64_t addr, uint64_t *values);

/**
 * kvmdci_kvm_stat_kind_name:
 * @kind: a stat kind
 *
 * The kind's name: "cumulative", "instant", "peak", "linear_hist", "log_hist", "unknown".
 *
 * Returns: a static string, or NULL for a value outside the enum.
 *
 * Since: 0.11
 */
const char *kvmdci_kvm_stat_kind_name(enum kvmdci_kvm_stat_kind kind);

/** Hardware virtualization vendors. */
enum kvmdci_vendor { KVMDCI_VENDOR_NONE = 0, KVMDCI_VENDOR_VMX, KVMDCI_VENDOR_SVM };

/**
 * kvmdci_kvm_vendor:
 * @k: kernel view
 *
 * Which of kvm_intel and kvm_amd is loaded.
 *
 * Returns: KVMDCI_VENDOR_VMX, KVMDCI_VENDOR_SVM, or KVMDCI_VENDOR_NONE when neither is.
 *
 * Since: 0.1
 */
enum kvmdci_vendor kvmdci_kvm_vendor(struct kvmdci_kernel *k);

/**
 * kvmdci_exit_reason_name:
 * @vendor: whose exit codes
 * @code: exit reason (VMX basic reason) or exit code (SVM)
 *
 * The name of an exit reason, as the kernel's VMX_EXIT_REASONS and SVM_EXIT_REASONS spell it.
 *
 * Returns: a static string, or NULL for an unknown code.
 *
 * Since: 0.1
 */
const char *kvmdci_exit_reason_name(enum kvmdci_vendor vendor, uint64_t code);

/** One VM as found in memory (kvm:vm_list). */
struct kvmdci_vm_info {
	uint64_t vm;           /* struct kvm * */
	int32_t userspace_pid; /* thread id of the creator, -1 when unreadable */
	int32_t online_vcpus;
	int32_t created_vcpus; /* -1 where the member does not exist */
	int32_t error;         /* 0, or -errno: part of struct kvm was unreadable */
	char stats_id[48];     /* "kvm-PID" (5.14+), "" where the member does not exist */
	uint64_t reserved[4];
};

/**
 * kvmdci_kvm_vms:
 * @k: kernel view
 * @out: (out): up to @max entries
 * @max: size of @out
 *
 * List every VM on kvm:vm_list, newest first (the kernel's list order). A list that loops is cut
 * with a warning naming the node; a VM whose struct kvm is partly unreadable is listed with its
 * error set.
 *
 * Returns: the number of VMs found, which may exceed @max (only @max are filled), or a negative
 * errno: -ENOENT when kvm is not loaded or a type is missing, -EFAULT when vm_list cannot be read,
 * -ENOMEM.
 *
 * Since: 0.2
 */
int kvmdci_kvm_vms(struct kvmdci_kernel *k, struct kvmdci_vm_info *out, int max);

/* ---- choosing VMs and vCPUs, lists of them (lib/kvm/select.c) ----------------------------- */

/**
 * struct kvmdci_vm_select - which VMs and vCPUs a caller wants; zero-initialize and set
 * @vcpu_id to -1 for "all" (kvmdci_vm_select_parse() does that).
 */
struct kvmdci_vm_select {
	uint64_t vm;     /* one struct kvm address, or 0 for any */
	int64_t pid;     /* the VMs whose kvm->userspace_pid is this, or <= 0 for any */
	int32_t vcpu_id; /* one vCPU id, or -1 for any (vCPU lists only) */
	int32_t pad;
	uint64_t reserved[2];
};

/**
 * kvmdci_vm_select_parse - read a VM as people give it: a struct kvm address ("0x...", hex)
 * or the pid of the process that created it (decimal).
 * @arg: the text
 * @sel: filled on success (any vCPU); untouched on failure
 *
 * Returns: 0, or -EINVAL for anything else (empty, trailing text, 0, negative, overflow).
 * A pid beyond any real one is accepted: it then matches no VM.
 *
 * Since: 0.7
 */
int kvmdci_vm_select_parse(const char *arg, struct kvmdci_vm_select *sel);
/**
 * kvmdci_vm_select_vm - whether a VM is one @sel wants.
 * @sel: the selection (NULL: all)
 * @vm: the VM
 *
 * Returns: 1 or 0.
 *
 * Since: 0.7
 */
int kvmdci_vm_select_vm(const struct kvmdci_vm_select *sel, const struct kvmdci_vm_info *vm);
/**
 * kvmdci_vm_select_vcpu - whether a vCPU is one @sel wants (its VM and its id).
 * @sel: the selection (NULL: all)
 * @vcpu: the vCPU
 *
 * Returns: 1 or 0.
 *
 * Since: 0.7
 */
int kvmdci_vm_select_vcpu(const struct kvmdci_vm_select *sel, const struct kvmdci_vcpu_info *vcpu);

/** struct kvmdci_vm_list - the VMs on kvm:vm_list a selection wants, read once. */
struct kvmdci_vm_list;
/**
 * kvmdci_vm_list_new - read the VMs (kvmdci_kvm_vms(), the kernel's order) and keep those
 * @sel wants; no cap beyond the kernel's list and the target's memory.
 * @k: the kernel view
 * @sel: the selection (NULL: all)
 * @ret: the list, owned by the caller (kvmdci_vm_list_unref()); untouched on failure
 *
 * Returns: 0 (an empty list when nothing matched), or -errno when kvm:vm_list cannot be read.
 *
 * Since: 0.7
 */
int kvmdci_vm_list_new(struct kvmdci_kernel *k, const struct kvmdci_vm_select *sel,
		       struct kvmdci_vm_list **ret);
/**
 * kvmdci_vm_list_ref - take a reference.
 * @l: the list (NULL accepted)
 *
 * Returns: @l.
 *
 * Since: 0.7
 */
struct kvmdci_vm_list *kvmdci_vm_list_ref(struct kvmdci_vm_list *l);
/**
 * kvmdci_vm_list_unref - drop a reference; the last frees the list.
 * @l: the list (NULL accepted)
 *
 * Returns: NULL.
 *
 * Since: 0.7
 */
struct kvmdci_vm_list *kvmdci_vm_list_unref(struct kvmdci_vm_list *l);
/**
 * kvmdci_vm_list_count - number of VMs in the list.
 * @l: the list
 *
 * Returns: the count (>= 0).
 *
 * Since: 0.7
 */
int kvmdci_vm_list_count(const struct kvmdci_vm_list *l);
/**
 * kvmdci_vm_list_get - VM @i.
 * @l: the list
 * @i: 0 .. kvmdci_vm_list_count() - 1
 *
 * Returns: the VM (valid while @l lives), or NULL past the end.
 *
 * Since: 0.7
 */
const struct kvmdci_vm_info *kvmdci_vm_list_get(const struct kvmdci_vm_list *l, int i);

/** struct kvmdci_vcpu_list - the vCPUs a selection wants, read once. */
struct kvmdci_vcpu_list;
/**
 * kvmdci_vcpu_list_new - read every VM's vCPUs (kvmdci_kvm_vcpus() order) and keep those
 * @sel wants; no cap beyond the kernel's lists and the target's memory.
 * @k: the kernel view
 * @sel: the selection (NULL: all)
 * @ret: the list, owned by the caller (kvmdci_vcpu_list_unref()); untouched on failure
 *
 * Returns: 0 (an empty list when nothing matched), or -errno.
 *
 * Since: 0.7
 */
int kvmdci_vcpu_list_new(struct kvmdci_kernel *k, const struct kvmdci_vm_select *sel,
			 struct kvmdci_vcpu_list **ret);
/**
 * kvmdci_vcpu_list_ref - take a reference.
 * @l: the list (NULL accepted)
 *
 * Returns: @l.
 *
 * Since: 0.7
 */
struct kvmdci_vcpu_list *kvmdci_vcpu_list_ref(struct kvmdci_vcpu_list *l);
/**
 * kvmdci_vcpu_list_unref - drop a reference; the last frees the list.
 * @l: the list (NULL accepted)
 *
 * Returns: NULL.
 *
 * Since: 0.7
 */
struct kvmdci_vcpu_list *kvmdci_vcpu_list_unref(struct kvmdci_vcpu_list *l);
/**
 * kvmdci_vcpu_list_count - number of vCPUs in the list.
 * @l: the list
 *
 * Returns: the count (>= 0).
 *
 * Since: 0.7
 */
int kvmdci_vcpu_list_count(const struct kvmdci_vcpu_list *l);
/**
 * kvmdci_vcpu_list_get - vCPU @i.
 * @l: the list
 * @i: 0 .. kvmdci_vcpu_list_count() - 1
 *
 * Returns: the vCPU (valid while @l lives), or NULL past the end.
 *
 * Since: 0.7
 */
const struct kvmdci_vcpu_info *kvmdci_vcpu_list_get(const struct kvmdci_vcpu_list *l, int i);

/** Register indexes into kvmdci_vcpu_state.regs (the kernel's VCPU_REGS_* order). */
enum kvmdci_vcpu_reg {
	KVMDCI_REG_RAX = 0, KVMDCI_REG_RCX, KVMDCI_REG_RDX, KVMDCI_REG_RBX,
	KVMDCI_REG_RSP, KVMDCI_REG_RBP, KVMDCI_REG_RSI, KVMDCI_REG_RDI,
	KVMDCI_REG_R8, KVMDCI_REG_R9, KVMDCI_REG_R10, KVMDCI_REG_R11,
	KVMDCI_REG_R12, KVMDCI_REG_R13, KVMDCI_REG_R14, KVMDCI_REG_R15,
	KVMDCI_REG_RIP, KVMDCI_REG_CR0, KVMDCI_REG_CR3, KVMDCI_REG_CR4,
	KVMDCI_REG_EFER, KVMDCI_NR_REGS
};

/** A vCPU's scheduling state and the registers KVM keeps in kvm_vcpu_arch. */
struct kvmdci_vcpu_state {
	uint64_t vm;      /* struct kvm * */
	uint64_t vcpu;    /* struct kvm_vcpu * */
	int32_t vcpu_id;
	int32_t vcpu_idx; /* -1 where the member does not exist */
	int32_t cpu;      /* last physical CPU, -1 when never loaded */
	int32_t mode;     /* kvm_vcpu.mode: see kvmdci_vcpu_mode_name() */
	int32_t pid;      /* thread that last ran KVM_RUN (vcpu->pid), -1 when none */
	int32_t vm_pid;   /* kvm->userspace_pid */
	uint32_t regs_avail;
	uint32_t regs_dirty;
	uint64_t regs[KVMDCI_NR_REGS]; /* enum kvmdci_vcpu_reg */
	/*
	 * Bit i set: regs[i] is current. On VMX, RIP, RSP, CR0, CR3 and CR4 are read from the
	 * VMCS lazily; their copy in kvm_vcpu_arch is stale when the VCPU_EXREG bit in
	 * regs_avail is clear ("not cached"). On SVM every value is written back at exit.
	 */
	uint32_t valid;
	int32_t error;    /* 0, or -errno: part of the vCPU was unreadable */
	uint64_t reserved[8];
};

/**
 * kvmdci_kvm_vcpu_state:
 * @k: kernel view
 * @vcpu: a struct kvm_vcpu address (from kvmdci_kvm_vcpus())
 * @out: (out): the vCPU's state
 *
 * Decode one vCPU: ids, physical CPU, mode, thread, and the registers KVM keeps in kvm_vcpu_arch
 * with which of them are current (on VMX the lazily read ones are stale unless regs_avail says so).
 *
 * Returns: 0 (a partly unreadable vCPU has @out->error set), or -ENOENT when a type is missing,
 * -EFAULT when the vCPU cannot be read at all, -EINVAL, -ENOMEM.
 *
 * Since: 0.2
 */
int kvmdci_kvm_vcpu_state(struct kvmdci_kernel *k, uint64_t vcpu,
			  struct kvmdci_vcpu_state *out);

/**
 * kvmdci_vcpu_reg_name:
 * @reg: enum kvmdci_vcpu_reg
 *
 * The name of a register index.
 *
 * Returns: "rax" ... "r15", "rip", "cr0", "cr3", "cr4", "efer" (static strings); NULL out of range.
 *
 * Since: 0.2
 */
const char *kvmdci_vcpu_reg_name(enum kvmdci_vcpu_reg reg);

/**
 * kvmdci_vcpu_mode_name:
 * @mode: kvm_vcpu.mode
 *
 * The name of a vCPU mode.
 *
 * Returns: "outside_guest", "in_guest", "exiting_guest", "reading_spt" (static strings), or
 * "unknown".
 *
 * Since: 0.2
 */
const char *kvmdci_vcpu_mode_name(int mode);

/* ---- I/O buses (struct kvm.buses[]) ------------------------------------------------------- */

/** One bus of a VM. */
struct kvmdci_io_bus_info {
	uint64_t vm;     /* struct kvm * */
	uint64_t bus;    /* struct kvm_io_bus *, 0 when the kernel left it NULL */
	int32_t index;   /* KVM_MMIO_BUS 0, KVM_PIO_BUS 1, KVM_VIRTIO_CCW_NOTIFY_BUS 2, ... */
	int32_t dev_count;
	int32_t ioeventfd_count;
	int32_t error;   /* 0, or -errno: the bus is unreadable or its counts are absurd */
	uint64_t reserved[4];
};

/** What a device on a bus is, from its ops pointer. */
enum kvmdci_io_dev_kind {
	KVMDCI_IO_DEV_UNKNOWN = 0,
	KVMDCI_IO_DEV_PIC_MASTER,
	KVMDCI_IO_DEV_PIC_SLAVE,
	KVMDCI_IO_DEV_PIC_ELCR,
	KVMDCI_IO_DEV_PIT,
	KVMDCI_IO_DEV_SPEAKER,
	KVMDCI_IO_DEV_IOAPIC,
	KVMDCI_IO_DEV_IOEVENTFD,
	KVMDCI_IO_DEV_COALESCED,
};

/** One struct kvm_io_range of a bus, its device classified and decoded. */
struct kvmdci_io_range {
	uint64_t addr;
	int32_t len;
	int32_t kind;      /* enum kvmdci_io_dev_kind */
	uint64_t dev;      /* struct kvm_io_device * */
	uint64_t ops;      /* dev->ops, 0 when unreadable */
	/*
	 * container_of(dev): struct kvm_pic *, kvm_pit *, kvm_ioapic *, _ioeventfd *,
	 * kvm_coalesced_mmio_dev *; 0 for unknown devices.
	 */
	uint64_t object;
	char ops_symbol[96]; /* "kvm!ioeventfd_ops+0x0", "module!symbol+0x10", or "" */
	int32_t error;       /* 0, or -errno: the device could not be read or decoded */
	int32_t decoded;     /* 1 when the kind's fields below were read */
	/* KVMDCI_IO_DEV_IOEVENTFD (struct _ioeventfd) */
	uint64_t ioeventfd_addr;
	uint64_t ioeventfd_datamatch;
	int32_t ioeventfd_length; /* 0: any length */
	uint8_t ioeventfd_bus_idx;
	uint8_t ioeventfd_wildcard; /* 1: no datamatch */
	uint8_t pad[2];
	/* KVMDCI_IO_DEV_COALESCED (kvm_coalesced_mmio_dev.zone) */
	uint64_t zone_addr;
	uint32_t zone_size;
	uint32_t zone_pio;
	/* KVMDCI_IO_DEV_IOAPIC */
	uint64_t ioapic_base;
	uint64_t reserved[8];
};

/**
 * kvmdci_kvm_io_buses:
 * @k: kernel view
 * @vm: a struct kvm address
 * @out: (out): up to @max entries
 * @max: size of @out
 *
 * The I/O buses of a VM: one entry per element of struct kvm.buses[] (KVM_NR_BUSES, from the type
 * info). A NULL bus (left by a failed unregister) has bus 0.
 *
 * Returns: the number of buses, which may exceed @max, or a negative errno: -ENOENT when a type is
 * missing, -EFAULT.
 *
 * Since: 0.2
 */
int kvmdci_kvm_io_buses(struct kvmdci_kernel *k, uint64_t vm, struct kvmdci_io_bus_info *out,
			int max);

/**
 * kvmdci_kvm_io_ranges:
 * @k: kernel view
 * @vm: a struct kvm address
 * @bus: bus index (KVM_MMIO_BUS 0, KVM_PIO_BUS 1, ...)
 * @out: (out): up to @max entries
 * @max: size of @out
 *
 * The ranges of one bus in the kernel's (sorted) order, each device classified by its ops symbol
 * and decoded through container_of. The range array is read in one piece; a device that cannot be
 * decoded has its error set.
 *
 * Returns: dev_count (0 for a NULL bus), which may exceed @max, or a negative errno: -EINVAL for a
 * bus index out of range or an absurd dev_count, -EFAULT when the bus is unreadable, -ENOENT when a
 * type is missing, -ENOMEM.
 *
 * Since: 0.2
 */
int kvmdci_kvm_io_ranges(struct kvmdci_kernel *k, uint64_t vm, int bus,
			 struct kvmdci_io_range *out, int max);

/**
 * kvmdci_kvm_io_prefetch:
 * @k: kernel view
 * @vms: struct kvm addresses
 * @n: how many
 *
 * Read ahead, for the current stop of a live target, what kvmdci_kvm_io_buses() and
 * kvmdci_kvm_io_ranges() of these VMs will read: level by level across all of them (their bus
 * arrays, then every bus's header and first ranges, then every device's ops pointer, then the
 * ioeventfds, coalesced zones and IOAPIC bases), each level's reads pipelined. The walks after
 * it give the same answers from what was read here, with a few round trips in all instead of a
 * few per VM. Nothing is read on a dump, nor with $KVMDCI_READ_PLAN=0; what fails to read here
 * is read again by the walk, which reports it. What was read is valid until the target moves.
 *
 * Returns: 0, or a negative errno: -ENOENT when a type is missing, -ENOMEM.
 *
 * Since: 0.12
 */
int kvmdci_kvm_io_prefetch(struct kvmdci_kernel *k, const uint64_t *vms, int n);

/**
 * kvmdci_kvm_vcpu_prefetch:
 * @k: kernel view
 * @vcpus: struct kvm_vcpu addresses
 * @n: how many
 *
 * Read ahead, for the current stop of a live target, what kvmdci_kvm_vcpu_state() of these
 * vCPUs will read: every vCPU's fields, then every VM's userspace_pid and every vCPU thread's
 * pid number, each level's reads pipelined, as kvmdci_kvm_io_prefetch() does for the I/O
 * buses. Nothing is read on a dump, nor with $KVMDCI_READ_PLAN=0; what fails to read here is
 * read again by kvmdci_kvm_vcpu_state(), which reports it.
 *
 * Returns: 0, or a negative errno: -ENOENT when a type is missing, -EINVAL for a type whose
 * fields span more than 64 KiB, -ENOMEM.
 *
 * Since: 0.12
 */
int kvmdci_kvm_vcpu_prefetch(struct kvmdci_kernel *k, const uint64_t *vcpus, int n);

/**
 * kvmdci_io_bus_name:
 * @bus: bus index
 *
 * The name of a bus index.
 *
 * Returns: "mmio", "pio", "virtio_ccw_notify", "fast_mmio", "iocsr" (the kernel's enum
 * kvm_bus; static strings); NULL otherwise.
 *
 * Since: 0.2
 */
const char *kvmdci_io_bus_name(int bus);

/**
 * kvmdci_io_dev_kind_name:
 * @kind: enum kvmdci_io_dev_kind
 *
 * The name of a device kind.
 *
 * Returns: "pic_master", "pic_slave", "pic_elcr", "pit", "speaker", "ioapic", "ioeventfd",
 * "coalesced_mmio" or "unknown" (static strings).
 *
 * Since: 0.2
 */
const char *kvmdci_io_dev_kind_name(enum kvmdci_io_dev_kind kind);

/* ---- catalog ------------------------------------------------------------------------------ */

struct kvmdci_catalog;

/**
 * kvmdci_catalog_load:
 * @ctx: context
 * @path: a catalog file, a directory of *.json catalog files, or NULL for $KVMDCI_CATALOG, else the
 *   installed catalog directory
 * @ret: (out): the catalog
 *
 * Load and validate a breakpoint catalog (format: kvmdci-catalog(5)). Takes a reference on @ctx.
 * The catalog is not reference-counted: the caller owns it, frees it with kvmdci_catalog_unref(),
 * and keeps it alive while a trace or exit tracer made from it lives.
 *
 * Returns: 0, or -ENOENT when the path does not exist or holds no catalog, -EINVAL for a file that
 * is not valid JSON or breaks the format (the last error names file, entry and field), -ENOMEM.
 * @ret is left untouched on failure.
 *
 * Since: 0.1
 */
int kvmdci_catalog_load(struct kvmdci_ctx *ctx, const char *path, struct kvmdci_catalog **ret);

/**
 * kvmdci_catalog_unref:
 * @cat: catalog, or NULL
 *
 * Drop a reference on @cat; the last one frees it.
 *
 * Returns: NULL.
 *
 * Since: 0.1
 */
struct kvmdci_catalog *kvmdci_catalog_unref(struct kvmdci_catalog *cat);

/**
 * kvmdci_catalog_ref:
 * @cat: catalog, or NULL
 *
 * Take a reference on @cat; each reference is dropped with kvmdci_catalog_unref().
 *
 * Returns: @cat.
 *
 * Since: 0.8
 */
struct kvmdci_catalog *kvmdci_catalog_ref(struct kvmdci_catalog *cat);

/**
 * kvmdci_catalog_count:
 * @cat: catalog
 *
 * The number of entries.
 *
 * Returns: the count.
 *
 * Since: 0.1
 */
int kvmdci_catalog_count(struct kvmdci_catalog *cat);

/**
 * kvmdci_catalog_entry_name:
 * @cat: catalog
 * @i: entry index
 *
 * The name of an entry.
 *
 * Returns: the name, owned by @cat; NULL for @i out of range.
 *
 * Since: 0.1
 */
const char *kvmdci_catalog_entry_name(struct kvmdci_catalog *cat, int i);

/**
 * kvmdci_catalog_find:
 * @cat: catalog
 * @name: entry name
 *
 * Find an entry by name.
 *
 * Returns: the entry's index, or -ENOENT.
 *
 * Since: 0.2
 */
int kvmdci_catalog_find(struct kvmdci_catalog *cat, const char *name);

/**
 * kvmdci_catalog_entry_json:
 * @cat: catalog
 * @i: entry index
 *
 * An entry as indented JSON text.
 *
 * Returns: a newly allocated string the caller frees with free(), or NULL for @i out of range or on
 * allocation failure.
 *
 * Since: 0.2
 */
char *kvmdci_catalog_entry_json(struct kvmdci_catalog *cat, int i);

/**
 * kvmdci_catalog_entry_field:
 * @cat: catalog
 * @i: entry index
 * @field: "name", "description", "vendor", "module", "hit", "added" or "removed"
 *
 * A string field of an entry.
 *
 * Returns: the value, owned by @cat; NULL for @i out of range or a field the entry does not have.
 *
 * Since: 0.2
 */
const char *kvmdci_catalog_entry_field(struct kvmdci_catalog *cat, int i, const char *field);

/** How an entry fares on a target. */
enum kvmdci_entry_status {
	KVMDCI_ENTRY_RESOLVED = 0,     /* symbol found, every capture compiles */
	KVMDCI_ENTRY_NOT_APPLICABLE,   /* for the other vendor */
	KVMDCI_ENTRY_MODULE_NOT_LOADED,
	KVMDCI_ENTRY_ABSENT,           /* expected but no symbol: inlined, renamed, removed */
	KVMDCI_ENTRY_CAPTURE_ERROR,    /* resolved, but a capture does not compile */
};

/** The result of checking one catalog entry against a kernel. */
struct kvmdci_entry_check {
	enum kvmdci_entry_status status;
	uint64_t addr;      /* resolved address */
	const char *symbol; /* the symbol alternative that matched (owned by the catalog) */
	int captures_ok;
	int captures_total;
	char reason[256];   /* why not, for people */
	uint64_t reserved[4];
};

/**
 * kvmdci_catalog_check_entry:
 * @cat: catalog
 * @k: kernel view
 * @i: entry index
 * @out: (out): the verdict
 *
 * Check one entry against a kernel: applicability (vendor, module loaded), its symbol alternatives,
 * and its captures compiled against the types. The verdict, with the reason in words, is in
 * @out->status; @out->symbol is owned by @cat.
 *
 * Returns: 0 whatever the verdict, or -EINVAL for @i out of range.
 *
 * Since: 0.2
 */
int kvmdci_catalog_check_entry(struct kvmdci_catalog *cat, struct kvmdci_kernel *k, int i,
			       struct kvmdci_entry_check *out);

/**
 * kvmdci_entry_status_name:
 * @s: status
 *
 * The name of a check status.
 *
 * Returns: "resolved", "not-applicable", "module-not-loaded", "absent", "capture-error" (static
 * strings), or "?".
 *
 * Since: 0.2
 */
const char *kvmdci_entry_status_name(enum kvmdci_entry_status s);

/* ---- tracing catalog entries ---------------------------------------------------------------- */

struct kvmdci_trace;

/** What a capture's value is, from its expression's C type (struct kvmdci_hit.value_kind). */
enum kvmdci_value_kind {
	KVMDCI_VALUE_UNSIGNED = 0, /* an unsigned integer, or a register taken as it is */
	KVMDCI_VALUE_SIGNED = 1,   /* a signed integer, sign-extended to 64 bits */
	KVMDCI_VALUE_POINTER = 2,  /* a pointer: an address */
};

/** One hit of a traced entry, valid during the callback only. */
struct kvmdci_hit {
	int entry;                        /* index from kvmdci_trace_add() */
	int cpu;
	uint64_t addr;                    /* the function's address */
	uint64_t seq;                     /* 1, 2, ... over the trace */
	int ncaptures;
	const char *const *capture_names;
	const uint64_t *values;
	const int *value_ok;              /* 0 where a capture could not be read */
	const int *value_kind;            /* enum kvmdci_value_kind per capture (since 0.10) */
	uint64_t reserved[3];
};

/**
 * Called for each hit; return 0 to go on, < 0 to stop polling, or KVMDCI_HIT_HOLD (since 0.10)
 * to stop polling with the target held at this hit: stopped, the hit's CPU at the breakpoint
 * (not stepped past it).
 */
typedef int (*kvmdci_hit_fn)(struct kvmdci_trace *tr, const struct kvmdci_hit *hit, void *data);

/* A kvmdci_hit_fn's answer: hold the target at this hit (kvmdci_trace_poll()). Since: 0.10 */
#define KVMDCI_HIT_HOLD 1

/**
 * kvmdci_trace_new:
 * @k: kernel view
 * @cat: catalog the entries come from
 * @ret: (out): the tracer
 *
 * Create a tracer of catalog entries on the kernel view's target. Takes a reference on @k and
 * on @cat. The caller owns the tracer's first reference; drop it with kvmdci_trace_unref() after
 * kvmdci_trace_stop().
 *
 * Returns: 0, or -ENOMEM. @ret is left untouched on failure.
 *
 * Since: 0.2
 */
int kvmdci_trace_new(struct kvmdci_kernel *k, struct kvmdci_catalog *cat,
		     struct kvmdci_trace **ret);

/**
 * kvmdci_trace_unref:
 * @tr: tracer, or NULL
 *
 * Drop a reference on @tr; the last one frees the tracer and drops its references on the kernel
 * view and the catalog. Call kvmdci_trace_stop() first: this does not remove breakpoints.
 *
 * Returns: NULL.
 *
 * Since: 0.2
 */
struct kvmdci_trace *kvmdci_trace_unref(struct kvmdci_trace *tr);

/**
 * kvmdci_trace_ref:
 * @tr: tracer, or NULL
 *
 * Take a reference on @tr; each reference is dropped with kvmdci_trace_unref().
 *
 * Returns: @tr.
 *
 * Since: 0.8
 */
struct kvmdci_trace *kvmdci_trace_ref(struct kvmdci_trace *tr);

/**
 * kvmdci_trace_add:
 * @tr: tracer, not started
 * @name: catalog entry name
 * @when: a capture expression: only hits where it is non-zero are reported; NULL or "" for all
 *
 * Add an entry to trace. Its symbol is resolved and its captures and filter are compiled now, so
 * errors come here, not at the first hit.
 *
 * Returns: the entry's index in the trace (for kvmdci_hit.entry), or -ENOENT for an unknown entry
 * or one that does not resolve on this kernel, -EEXIST when the same address is traced already,
 * -EINVAL when a capture or @when does not compile, -ENOSPC when too many entries are traced,
 * -EBUSY once started.
 *
 * Since: 0.2
 */
int kvmdci_trace_add(struct kvmdci_trace *tr, const char *name, const char *when);

/**
 * kvmdci_trace_entry_name:
 * @tr: tracer
 * @i: index from kvmdci_trace_add()
 *
 * The name of a traced entry.
 *
 * Returns: the name, owned by @tr; NULL for @i out of range.
 *
 * Since: 0.2
 */
const char *kvmdci_trace_entry_name(struct kvmdci_trace *tr, int i);

/**
 * kvmdci_trace_entry_stats:
 * @tr: tracer
 * @i: index from kvmdci_trace_add()
 * @hits: (out): hits reported
 * @filtered: (out): hits left out by `when`
 *
 * Hit statistics of a traced entry.
 *
 * Returns: 0, or -EINVAL for @i out of range.
 *
 * Since: 0.2
 */
int kvmdci_trace_entry_stats(struct kvmdci_trace *tr, int i, uint64_t *hits, uint64_t *filtered);

/**
 * kvmdci_trace_reads:
 * @tr: tracer
 *
 * Target memory reads issued so far for the captures and `when` filters. Within one hit, loads
 * through the same pointer of neighbouring fields (up to 256 bytes apart) are one read, and a
 * pointer loaded by several captures is read once. At each stop the reads of the same CPU's
 * last hit are fetched with the registers, in the same round trip; each one the hit then
 * needs counts here once, those it does not need (another vCPU hit) do not.
 *
 * Returns: the count.
 *
 * Since: 0.6
 */
uint64_t kvmdci_trace_reads(struct kvmdci_trace *tr);

/**
 * kvmdci_trace_start:
 * @tr: tracer
 *
 * Insert the breakpoints and resume the target.
 *
 * Returns: 0, or -EALREADY when started before, -EINVAL when nothing was added, or the target's
 * errors (-EOPNOTSUPP on dumps, -ENOSPC, -EIO, -EPIPE).
 *
 * Since: 0.2
 */
int kvmdci_trace_start(struct kvmdci_trace *tr);

/**
 * kvmdci_trace_poll:
 * @tr: a started tracer
 * @timeout_ms: how long to handle hits
 * @fn: called for each reported hit; returning < 0 stops the poll, KVMDCI_HIT_HOLD holds it
 * @data: passed to @fn
 *
 * Handle hits for up to @timeout_ms: at each one read the captures, filter, call @fn, and step the
 * CPU past the breakpoint. When @fn answers < 0 the poll returns at once with the target
 * stopped at that hit, not stepped past it: kvmdci_trace_stop() then detaches from there
 * with no interrupt (so no further hit is counted), and a later poll steps the CPU past the
 * hit first. When @fn answers KVMDCI_HIT_HOLD the poll returns at once with the target
 * stopped at that hit; the tracer is then done but for kvmdci_trace_stop(), which takes the
 * breakpoints out and detaches (choose KVMDCI_DETACH_STAY with
 * kvmdci_target_set_detach_mode() first to leave the machine stopped there for the next tool).
 *
 * Returns: the number of hits reported, the negative value @fn returned, or -EINVAL when not
 * started or after a hold, -EPIPE when the stub went away, or another error of the target.
 *
 * Since: 0.2
 */
int kvmdci_trace_poll(struct kvmdci_trace *tr, int timeout_ms, kvmdci_hit_fn fn, void *data);

/**
 * kvmdci_trace_stop:
 * @tr: tracer
 *
 * Stop the target, remove the breakpoints and detach, leaving the target running (or as the
 * target's detach mode says: kvmdci_target_set_detach_mode()): the target handle cannot run
 * control again afterwards. A hit found at that final stop is counted and goes to the last
 * poll's @fn; when @fn asked to stop (returned < 0 or KVMDCI_HIT_HOLD) the target is already
 * stopped at that hit and no other is counted. Safe to call twice, and before
 * kvmdci_trace_start() (then it does nothing).
 *
 * Returns: 0, or a negative errno of the target.
 *
 * Since: 0.2
 */
int kvmdci_trace_stop(struct kvmdci_trace *tr);

/* ---- exit tracing ------------------------------------------------------------------------- */

struct kvmdci_exits;

/** Triggers for exit tracing. */
enum kvmdci_trigger {
	KVMDCI_TRIGGER_AUTO = 0,  /* the fastest exact one the target offers */
	KVMDCI_TRIGGER_WATCH,     /* write watchpoints on each vCPU's stat.exits */
	KVMDCI_TRIGGER_BREAK,     /* a breakpoint on the vendor's exit handler */
};

/**
 * kvmdci_exits_new:
 * @k: kernel view
 * @cat: catalog holding the exit entries (tag "exit")
 * @trigger: KVMDCI_TRIGGER_AUTO, _WATCH or _BREAK
 * @ret: (out): the exit tracer
 *
 * Prepare exit counting: resolve the catalog's exit entry for the loaded vendor module, compile its
 * exit-reason capture against the target's types, and list the vCPUs (those the watch trigger will
 * watch). Takes a reference on @k and on @cat. The caller owns the
 * tracer's first reference; drop it with kvmdci_exits_unref() after kvmdci_exits_stop().
 *
 * Returns: 0, or -ENODEV when neither kvm_amd nor kvm_intel is loaded, -ENOENT when the catalog has
 * no exit entry or none of its symbols resolves, -EINVAL when its capture does not compile or reads
 * more than the vCPU ($arg0), -ENOMEM, or an error reading the VMs. @ret is left untouched on
 * failure.
 *
 * Since: 0.1
 */
int kvmdci_exits_new(struct kvmdci_kernel *k, struct kvmdci_catalog *cat,
		     enum kvmdci_trigger trigger, struct kvmdci_exits **ret);

/**
 * kvmdci_exits_unref:
 * @e: exit tracer, or NULL
 *
 * Free an exit tracer and drop its reference on the kernel view. Call kvmdci_exits_stop() first:
 * this does not remove the trigger.
 *
 * Returns: NULL.
 *
 * Since: 0.1
 */
struct kvmdci_exits *kvmdci_exits_unref(struct kvmdci_exits *e);

/**
 * kvmdci_exits_ref:
 * @e: exit tracer, or NULL
 *
 * Take a reference on @e; each reference is dropped with kvmdci_exits_unref().
 *
 * Returns: @e.
 *
 * Since: 0.8
 */
struct kvmdci_exits *kvmdci_exits_ref(struct kvmdci_exits *e);

/**
 * kvmdci_exits_trigger_description:
 * @e: exit tracer
 *
 * What trigger kvmdci_exits_start() chose and why, for people.
 *
 * Returns: a string owned by @e, valid while it lives ("" before the start).
 *
 * Since: 0.1
 */
const char *kvmdci_exits_trigger_description(struct kvmdci_exits *e);

/**
 * kvmdci_exits_trigger:
 * @e: exit tracer
 *
 * The trigger chosen by kvmdci_exits_start().
 *
 * Returns: KVMDCI_TRIGGER_WATCH or KVMDCI_TRIGGER_BREAK; KVMDCI_TRIGGER_AUTO before the start.
 *
 * Since: 0.1
 */
enum kvmdci_trigger kvmdci_exits_trigger(struct kvmdci_exits *e);

/**
 * kvmdci_exits_start:
 * @e: exit tracer
 *
 * Choose and insert the trigger, read KVM's counters for the coverage, and resume the target.
 * The watch trigger puts a write watchpoint on each vCPU's stat.exits and follows vCPUs created
 * and destroyed while it runs (kvmdci_exits_follow_stats()), so it works with no vCPU at the
 * start; a vCPU past $KVMDCI_MAX_WATCHPOINTS (default 64) watchpoints is left unwatched, with a
 * warning, and its exits show in the coverage as not counted. KVMDCI_TRIGGER_AUTO takes the
 * watch trigger when the kernel has the points that follow vCPUs, the vCPUs at the start are no
 * more than the limit, and the stub accepts the watchpoints; otherwise a breakpoint on the exit
 * handler.
 *
 * Returns: 0, or -EALREADY when started before, -ENOENT when the watch trigger was asked for
 * and the kernel lacks kvm_arch_vcpu_postcreate or kvm_arch_vcpu_destroy (or the catalog their
 * entries), or the target's errors (-EOPNOTSUPP, -ENOSPC, -EIO, -EPIPE).
 *
 * Since: 0.1
 */
int kvmdci_exits_start(struct kvmdci_exits *e);

/**
 * kvmdci_exits_poll:
 * @e: a started exit tracer
 * @timeout_ms: how long to handle hits
 *
 * Count hits for up to @timeout_ms, or until the kvmdci_exits_stop_after() count is reached. Hits
 * allocate nothing.
 *
 * Returns: the number of hits handled, or -EINVAL when not started or already stopped, -EPIPE when
 * the stub went away, or another error of the target.
 *
 * Since: 0.1
 */
int kvmdci_exits_poll(struct kvmdci_exits *e, int timeout_ms);

/**
 * kvmdci_exits_stop:
 * @e: exit tracer
 *
 * Stop the target, count a last pending hit, read KVM's counters for the coverage, remove the
 * trigger and detach, leaving the target running: the target handle cannot run control again
 * afterwards. Safe to call more than once.
 *
 * Returns: 0, or a negative errno of the target.
 *
 * Since: 0.1
 */
int kvmdci_exits_stop(struct kvmdci_exits *e);

/**
 * kvmdci_exits_stop_after:
 * @e: exit tracer
 * @n: exits to count in all, 0 for no limit
 *
 * Make kvmdci_exits_poll() return as soon as @n exits are counted, so that the caller can stop
 * there. The total is then exactly @n: an exit that races with the stop (the other CPU at the
 * breakpoint, a watchpoint hit at the final stop) is left uncounted, and so is missing from the
 * coverage's counted exits (kvmdci_exits_coverage()).
 *
 * Since: 0.6
 */
void kvmdci_exits_stop_after(struct kvmdci_exits *e, uint64_t n);

/**
 * kvmdci_exits_vendor:
 * @e: exit tracer
 *
 * Whose exit codes are counted.
 *
 * Returns: KVMDCI_VENDOR_VMX or KVMDCI_VENDOR_SVM.
 *
 * Since: 0.1
 */
enum kvmdci_vendor kvmdci_exits_vendor(struct kvmdci_exits *e);

/**
 * kvmdci_exits_total:
 * @e: exit tracer
 *
 * All hits counted so far.
 *
 * Returns: the count.
 *
 * Since: 0.1
 */
uint64_t kvmdci_exits_total(struct kvmdci_exits *e);

/**
 * kvmdci_exits_select:
 * @e: exit tracer, not started yet
 * @sel: which VMs and vCPUs to trace (a struct kvm address, a VM's pid, a vCPU id; see
 *       struct kvmdci_vm_select); copied
 *
 * Trace only the vCPUs @sel wants: the watch trigger puts watchpoints on their counters only
 * (and follows only new vCPUs @sel wants); the break trigger still stops at every exit of
 * every vCPU (one breakpoint for all) but counts only theirs. The coverage
 * (kvmdci_exits_coverage()) is then measured over these vCPUs alone.
 *
 * Returns: the number of vCPUs it keeps of those the target has now (0 is no error: with the
 * watch trigger a VM started later is still followed), -EALREADY after kvmdci_exits_start(),
 * -EINVAL for a NULL @sel.
 *
 * Since: 0.11
 */
int kvmdci_exits_select(struct kvmdci_exits *e, const struct kvmdci_vm_select *sel);

/**
 * kvmdci_exits_watch_stats:
 * @e: exit tracer
 * @repeated: (out): repeated reports
 * @missed: (out): writes missed
 *
 * For the watch trigger: stops that repeated a write already counted (recognised by the counter
 * not moving, and not counted; on QEMU 7.2 mostly a second CPU's report held back while another
 * CPU's stop was reported, its exit counted at that stop: struct
 * kvmdci_exits_coverage.late_counted) and writes no stop was seen for (the counter moved by more
 * than one between two stops, or after a vCPU's last stop before the final stop: struct
 * kvmdci_exits_coverage.missed_at_stop). Without sampling, the hits counted plus @missed are
 * KVM's count.
 *
 * Since: 0.2
 */
void kvmdci_exits_watch_stats(struct kvmdci_exits *e, uint64_t *repeated, uint64_t *missed);

/**
 * kvmdci_exits_sample:
 * @e: exit tracer, not started
 * @duty: share of each period the trigger is in, 0 < duty <= 1
 * @period_ms: the period, 10 ms to 1 h
 *
 * Sample instead of counting every exit: the trigger is in for @duty of each period and out for the
 * rest, when the host runs without stops. kvmdci_exits_coverage() then says what share of KVM's
 * exits was seen.
 *
 * Returns: 0, or -EINVAL for @duty or @period_ms out of range, -EALREADY once started.
 *
 * Since: 0.6
 */
int kvmdci_exits_sample(struct kvmdci_exits *e, double duty, int period_ms);

/** What a run covered, measured against KVM's own counters (kvmdci_exits_coverage). */
struct kvmdci_exits_coverage {
	uint64_t counted;   /* hits counted on the vCPUs measured */
	uint64_t kvm_exits; /* the sum of their kvm_vcpu.stat.exits deltas over the run */
	int32_t vcpus;      /* vCPUs measured: listed at the stop (new ones count from 0), or
			     * followed by the watch trigger until they were destroyed */
	int32_t vcpus_gone; /* vCPUs hit but gone at the stop, not measured: left out of both
			     * figures */
	double duty;        /* the duty cycle asked for (1 without sampling) */
	int32_t period_ms;  /* its period (0 without sampling) */
	double armed_s;     /* time the trigger was in */
	double run_s;       /* time from the start to the stop */
	uint64_t missed_at_stop; /* watch: exits KVM counted as the run stopped, after the last
				  * stop reported for their vCPU (in kvmdci_exits_watch_stats()'s
				  * missed; since 0.10) */
	uint64_t late_counted;   /* watch: exits counted from their vCPU's counter at a stop of
				  * another CPU, their own report still to come (a stub that
				  * holds a second CPU's hit back: QEMU); in counted (since 0.11) */
	uint64_t reserved[2];
};

/**
 * kvmdci_exits_coverage:
 * @e: a stopped exit tracer
 * @c: (out): the coverage
 *
 * After kvmdci_exits_stop(): the hits counted against the exits KVM itself counted
 * (kvm_vcpu.stat.exits) over the same run. Without sampling the two are equal when nothing was
 * missed.
 *
 * Returns: 0, or -ENODATA when the counters could not be read at the start or the stop (the timing
 * fields are still filled in).
 *
 * Since: 0.6
 */
int kvmdci_exits_coverage(struct kvmdci_exits *e, struct kvmdci_exits_coverage *c);

/**
 * KVMDCI_EXIT_CODE_UNSAMPLED - the code of a row of kvmdci_exits_estimates() that holds the
 * exits of reasons without a KVM counter when the sample saw none of them. No vendor uses it.
 *
 * Since: 0.13
 */
#define KVMDCI_EXIT_CODE_UNSAMPLED 0xfffffffffffffffdULL

/** One exit reason's estimated count over a run (kvmdci_exits_estimates). */
struct kvmdci_exit_estimate {
	uint64_t code;          /* exit reason/code (or KVMDCI_EXIT_CODE_UNREADABLE, _UNSAMPLED) */
	uint64_t counted;       /* hits of this reason the trigger counted (the sample) */
	double estimated;       /* exits of this reason over the run */
	double error;           /* half-width of its 95% interval; 0 when exact */
	uint64_t counter_delta; /* the delta of KVM's counter for this reason (when counter[0]) */
	char counter[32];       /* the struct kvm_vcpu_stat member that counts exactly this
				 * reason ("io_exits"), "" when none does */
	uint64_t reserved[2];
};

/**
 * kvmdci_exits_estimates:
 * @e: a stopped exit tracer (kvmdci_exits_stop())
 * @vm: only the vCPUs of this struct kvm, or 0 for every VM
 * @vcpu: only this struct kvm_vcpu, or 0 for every vCPU (of @vm)
 * @out: (out): up to @max rows, largest estimate first
 * @max: size of @out
 *
 * How many exits of each reason the run's vCPUs made (those of kvmdci_exits_coverage(), or
 * the ones of them that @vm and @vcpu name).
 * Without sampling every exit was counted: the estimates are the counts (error 0), and rows
 * of reasons KVM keeps a counter for carry its delta, which equals the count unless exits
 * were missed. With kvmdci_exits_sample() the sample is calibrated to KVM's own counters,
 * read with stat.exits at the start and the stop: a reason that one of them counts exactly
 * (io_exits, halt_exits, irq_exits, irq_window_exits, nmi_window_exits) is that delta,
 * error 0; the exits left (KVM's total less those) are shared among the other reasons in
 * the proportion the sample saw them, with a 95% interval from the spread between the
 * sampling windows (each window's hits are one cluster; for one VM or vCPU, as if the hits
 * were independent). Estimates sum to KVM's total (of the VM or vCPU).
 * Exits that KVM reflects to a nested guest's L1 run no handler and are not in the reason
 * counters (they land in the shared rest). Without the counters in the type info the whole
 * total is shared by the sample.
 *
 * Returns: the number of rows, which may exceed @max; -ENODATA when the coverage was not
 * measured (the target was lost), -EINVAL, -ENOMEM.
 *
 * Since: 0.13
 */
int kvmdci_exits_estimates(struct kvmdci_exits *e, uint64_t vm, uint64_t vcpu,
			   struct kvmdci_exit_estimate *out, int max);

/** vCPUs the watch trigger followed while it ran (kvmdci_exits_follow_stats). */
struct kvmdci_exits_follow {
	int32_t created;      /* vCPUs created while tracing (found at kvm_arch_vcpu_postcreate) */
	int32_t destroyed;    /* vCPUs destroyed while tracing (kvm_arch_vcpu_destroy): their
			       * watchpoint taken out before the memory was freed, their count read
			       * there and kept in the coverage */
	int32_t unwatched;    /* vCPUs left without a watchpoint (the KVMDCI_MAX_WATCHPOINTS limit,
			       * or the stub refused one): KVM counts their exits, the run does not */
	int32_t most_watched; /* the most watchpoints in at once */
	uint64_t exits_before_watch; /* KVM's exits of the created vCPUs before their watchpoint
				      * went in: 0 when it went in before their first KVM_RUN;
				      * outside the coverage (which starts at the watchpoint) */
	uint64_t reserved[4];
};

/**
 * kvmdci_exits_follow_stats:
 * @e: exit tracer
 * @f: (out): what the watch trigger followed
 *
 * The watch trigger follows vCPUs: a breakpoint at the end of KVM_CREATE_VCPU
 * (kvm_arch_vcpu_postcreate, before user space can run the vCPU) puts a watchpoint on the new
 * vCPU's stat.exits, and one at kvm_arch_vcpu_destroy takes it out before the vCPU is freed.
 * So tracing can start before the VMM does. This says what was followed.
 *
 * Returns: 1 with @f filled when the trigger is the watch trigger, else 0 with @f zeroed.
 *
 * Since: 0.10
 */
int kvmdci_exits_follow_stats(struct kvmdci_exits *e, struct kvmdci_exits_follow *f);

/** One row of results: a (vCPU, reason) pair with its count. */
struct kvmdci_exit_count {
	uint64_t vm;      /* struct kvm * */
	uint64_t vcpu;    /* struct kvm_vcpu * */
	int32_t vcpu_id;  /* -1 when unknown */
	int32_t vm_pid;   /* -1 when unknown */
	uint64_t code;    /* exit reason/code */
	uint64_t count;
	uint64_t reserved[2];
};

/**
 * kvmdci_exits_counts:
 * @e: exit tracer
 * @out: (out): up to @max rows
 * @max: size of @out
 *
 * Copy the results: one row per (vCPU, exit reason) pair with its count.
 *
 * Returns: the number of rows, which may exceed @max (only @max are filled).
 *
 * Since: 0.1
 */
int kvmdci_exits_counts(struct kvmdci_exits *e, struct kvmdci_exit_count *out, int max);

/**
 * KVMDCI_EXIT_CODE_UNREADABLE - the code a row of kvmdci_exits_counts() carries for hits
 * whose exit reason could not be read (the capture failed at that stop). No vendor uses it:
 * kvmdci_exit_reason_name() returns NULL for it.
 *
 * Since: 0.7
 */
#define KVMDCI_EXIT_CODE_UNREADABLE 0xfffffffffffffffeULL

/* ---- exit counts aggregated (lib/kvm/exit-stats.c) ----------------------------------------- */

/**
 * struct kvmdci_exit_stats - exit counts summed per reason over a whole run, per VM and per
 * vCPU, from the (vCPU, reason) rows of kvmdci_exits_counts(). Immutable once built.
 */
struct kvmdci_exit_stats;

/** How rows are grouped in a struct kvmdci_exit_stats. */
enum kvmdci_exit_scope {
	KVMDCI_EXIT_SCOPE_ALL = 0, /* one group: every row */
	KVMDCI_EXIT_SCOPE_VM,      /* one group per struct kvm */
	KVMDCI_EXIT_SCOPE_VCPU     /* one group per struct kvm_vcpu */
};

/** One group of a struct kvmdci_exit_stats (kvmdci_exit_stats_group()). */
struct kvmdci_exit_group {
	uint64_t vm;      /* struct kvm * (VM and vCPU groups; 0 in the ALL group) */
	uint64_t vcpu;    /* struct kvm_vcpu * (vCPU groups; 0 otherwise) */
	int32_t vm_pid;   /* the VM's userspace pid as its first row says; -1 when unknown */
	int32_t vcpu_id;  /* vCPU groups: the vCPU id, -1 when unknown; -1 otherwise */
	uint64_t total;   /* exits counted in the group */
	int32_t reasons;  /* distinct exit codes in the group */
	int32_t pad;
	uint64_t reserved[2];
};

/** One exit code of a group with its count (kvmdci_exit_stats_reason()). */
struct kvmdci_exit_reason_count {
	uint64_t code;  /* exit reason/code, or KVMDCI_EXIT_CODE_UNREADABLE */
	uint64_t count;
	uint64_t reserved[2];
};

/**
 * kvmdci_exit_stats_new - aggregate rows of (vCPU, reason) counts.
 * @rows: @n rows, as kvmdci_exits_counts() fills them; read only during the call
 * @n: number of rows (0 gives an empty ALL group)
 * @ret: the new object, one reference owned by the caller (kvmdci_exit_stats_unref());
 *       untouched on failure
 *
 * Groups come in the order their first row appears in @rows; the reasons of a group are
 * sorted by count, largest first, equal counts by code.
 *
 * Returns: 0, -EINVAL (@n < 0, or @rows NULL with @n > 0) or -ENOMEM.
 *
 * Since: 0.7
 */
int kvmdci_exit_stats_new(const struct kvmdci_exit_count *rows, int n,
			  struct kvmdci_exit_stats **ret);
/**
 * kvmdci_exits_stats - aggregate the counts of a tracing run as they are now (usually after
 * kvmdci_exits_stop()).
 * @e: the run
 * @ret: the new object, owned by the caller; untouched on failure
 *
 * Returns: 0 or -ENOMEM.
 *
 * Since: 0.7
 */
int kvmdci_exits_stats(struct kvmdci_exits *e, struct kvmdci_exit_stats **ret);
/**
 * kvmdci_exit_stats_ref - take a reference.
 * @s: the object (NULL accepted)
 *
 * Returns: @s.
 *
 * Since: 0.7
 */
struct kvmdci_exit_stats *kvmdci_exit_stats_ref(struct kvmdci_exit_stats *s);
/**
 * kvmdci_exit_stats_unref - drop a reference; the last one frees the object.
 * @s: the object (NULL accepted)
 *
 * Returns: NULL.
 *
 * Since: 0.7
 */
struct kvmdci_exit_stats *kvmdci_exit_stats_unref(struct kvmdci_exit_stats *s);
/**
 * kvmdci_exit_stats_group_count - number of groups in @scope.
 * @s: the object
 * @scope: ALL (always 1), VM or VCPU
 *
 * Returns: the count, or -EINVAL for an unknown @scope.
 *
 * Since: 0.7
 */
int kvmdci_exit_stats_group_count(const struct kvmdci_exit_stats *s, enum kvmdci_exit_scope scope);
/**
 * kvmdci_exit_stats_group - group @g of @scope.
 * @s: the object
 * @scope: ALL, VM or VCPU
 * @g: 0 .. kvmdci_exit_stats_group_count() - 1
 * @out: filled on success
 *
 * Returns: 0, -ERANGE past the end, -EINVAL for an unknown @scope.
 *
 * Since: 0.7
 */
int kvmdci_exit_stats_group(const struct kvmdci_exit_stats *s, enum kvmdci_exit_scope scope, int g,
			    struct kvmdci_exit_group *out);
/**
 * kvmdci_exit_stats_reason - reason @i of group @g of @scope (largest count first).
 * @s: the object
 * @scope: ALL, VM or VCPU
 * @g: the group
 * @i: 0 .. the group's reasons - 1
 * @out: filled on success
 *
 * Returns: 0, -ERANGE when @g or @i is past the end, -EINVAL for an unknown @scope.
 *
 * Since: 0.7
 */
int kvmdci_exit_stats_reason(const struct kvmdci_exit_stats *s, enum kvmdci_exit_scope scope,
			     int g, int i, struct kvmdci_exit_reason_count *out);

/* ---- KVM's own counters over a window (lib/kvm/counters.c) -------------------------------- */

/**
 * struct kvmdci_counters - KVM's per-vCPU counters (struct kvm_vcpu_stat) read at the start
 * and at the end of a run, without any breakpoint: kvmdci_counters_new() lists the vCPUs,
 * kvmdci_counters_start() reads the counters and resumes the target, kvmdci_counters_stop()
 * stops it and reads them again; the deltas then come by vCPU and counter. vCPUs are those
 * listed at kvmdci_counters_new() (no cap beyond the target's memory).
 */
struct kvmdci_counters;

/**
 * kvmdci_counters_new - prepare a counters window on a stopped target.
 * @k: the kernel view (a reference is taken)
 * @ret: the new object, owned by the caller (kvmdci_counters_unref()); untouched on failure
 *
 * Returns: 0, or -errno when the counters' layout or the vCPU list cannot be read.
 *
 * Since: 0.7
 */
int kvmdci_counters_new(struct kvmdci_kernel *k, struct kvmdci_counters **ret);
/**
 * kvmdci_counters_ref - take a reference.
 * @c: the object (NULL accepted)
 *
 * Returns: @c.
 *
 * Since: 0.7
 */
struct kvmdci_counters *kvmdci_counters_ref(struct kvmdci_counters *c);
/**
 * kvmdci_counters_unref - drop a reference; the last frees the object (the target is left as
 * it is: call kvmdci_counters_stop() first to stop it).
 * @c: the object (NULL accepted)
 *
 * Returns: NULL.
 *
 * Since: 0.7
 */
struct kvmdci_counters *kvmdci_counters_unref(struct kvmdci_counters *c);
/**
 * kvmdci_counters_start - read every vCPU's counters and resume the target.
 * @c: the window (the target is stopped)
 *
 * Returns: 0, -EALREADY when started before, or -errno from the reads or the resume.
 *
 * Since: 0.7
 */
int kvmdci_counters_start(struct kvmdci_counters *c);
/**
 * kvmdci_counters_stop - stop the target and read every vCPU's counters again.
 * @c: a started window
 * @timeout_ms: how long to wait for the target to stop
 *
 * The target stays stopped (kvmdci_target_detach() lets it run).
 *
 * Returns: 0; -EINVAL when not started; -ETIMEDOUT (error "the target did not stop") or
 * another -errno from the stop or the reads.
 *
 * Since: 0.7
 */
int kvmdci_counters_stop(struct kvmdci_counters *c, int timeout_ms);
/**
 * kvmdci_counters_vcpu_count - number of vCPUs in the window.
 * @c: the window
 *
 * Returns: the count (>= 0).
 *
 * Since: 0.7
 */
int kvmdci_counters_vcpu_count(const struct kvmdci_counters *c);
/**
 * kvmdci_counters_vcpu - vCPU @i (in kvmdci_kvm_vcpus() order).
 * @c: the window
 * @i: 0 .. kvmdci_counters_vcpu_count() - 1
 * @out: filled on success
 *
 * Returns: 0 or -ERANGE.
 *
 * Since: 0.7
 */
int kvmdci_counters_vcpu(const struct kvmdci_counters *c, int i, struct kvmdci_vcpu_info *out);
/**
 * kvmdci_counters_count - number of counters per vCPU.
 * @c: the window
 *
 * Returns: the count (>= 0).
 *
 * Since: 0.7
 */
int kvmdci_counters_count(const struct kvmdci_counters *c);
/**
 * kvmdci_counters_name - name of counter @i ("exits", "io_exits", ...).
 * @c: the window
 * @i: 0 .. kvmdci_counters_count() - 1
 *
 * Returns: the name (valid while @c lives), or NULL past the end.
 *
 * Since: 0.7
 */
const char *kvmdci_counters_name(const struct kvmdci_counters *c, int i);
/**
 * kvmdci_counters_delta - how much counter @counter grew over the window.
 * @c: a stopped window
 * @vcpu: the vCPU index, or -1 for the sum over every vCPU
 * @counter: the counter index
 * @delta: the end value less the start value
 *
 * Returns: 0, -ERANGE for an index past the end, -EINVAL when the window has not been stopped.
 *
 * Since: 0.7
 */
int kvmdci_counters_delta(const struct kvmdci_counters *c, int vcpu, int counter,
			  uint64_t *delta);

/* ---- VMX and SVM state (lib/kvm/vmx.c, svm.c, vmcs-fields.c, virt.c) --------------------- */

/** VMCS field types: bits 11:10 of an encoding (Intel SDM vol. 3C, Appendix B). */
enum kvmdci_vmcs_type {
	KVMDCI_VMCS_TYPE_CONTROL = 0,
	KVMDCI_VMCS_TYPE_EXIT_INFO = 1, /* VM-exit information, read-only data */
	KVMDCI_VMCS_TYPE_GUEST = 2,
	KVMDCI_VMCS_TYPE_HOST = 3,
};
/** VMCS field widths: bits 14:13 of an encoding. */
enum kvmdci_vmcs_width {
	KVMDCI_VMCS_WIDTH_16 = 0,
	KVMDCI_VMCS_WIDTH_64 = 1,
	KVMDCI_VMCS_WIDTH_32 = 2,
	KVMDCI_VMCS_WIDTH_NATURAL = 3,
};
/** A VMCS field encoding taken apart. */
struct kvmdci_vmcs_field {
	uint32_t encoding;
	uint32_t index; /* bits 9:1 */
	int32_t type;   /* enum kvmdci_vmcs_type */
	int32_t width;  /* enum kvmdci_vmcs_width */
	int32_t high;   /* bit 0: access to the high 32 bits of a 64-bit field */
	int32_t pad;
	const char *name; /* "GUEST_RIP", "IO_BITMAP_A_HIGH"; NULL for an unnamed encoding */
	uint64_t reserved[2];
};

/**
 * kvmdci_vmcs_field_decode:
 * @encoding: a VMCS field encoding
 * @out: (out): the parts and the name
 *
 * Take a VMCS field encoding apart (Intel SDM vol. 3C, "Structure of VMCS Component Encoding") and
 * name it.
 *
 * Returns: 0, or -ENOENT for a well-formed encoding without a name (@out filled but for the name),
 * -EINVAL when reserved bits are set or a high access names a field that is not 64-bit.
 *
 * Since: 0.4
 */
int kvmdci_vmcs_field_decode(uint32_t encoding, struct kvmdci_vmcs_field *out);

/**
 * kvmdci_vmcs_field_lookup:
 * @name: field name, any case; a "_HIGH" suffix is accepted
 * @encoding: (out): the encoding
 *
 * The encoding of a VMCS field name.
 *
 * Returns: 0, or -ENOENT for an unknown name.
 *
 * Since: 0.4
 */
int kvmdci_vmcs_field_lookup(const char *name, uint32_t *encoding);

/**
 * kvmdci_vmcs_field_count:
 *
 * The number of named fields in the built-in table (SDM Appendix B).
 *
 * Returns: the count.
 *
 * Since: 0.4
 */
int kvmdci_vmcs_field_count(void);

/**
 * kvmdci_vmcs_field_at:
 * @i: index, sorted by encoding
 * @out: (out): the field
 *
 * One field of the built-in table.
 *
 * Returns: 0, or -ERANGE past the end. @out->name is static.
 *
 * Since: 0.4
 */
int kvmdci_vmcs_field_at(int i, struct kvmdci_vmcs_field *out);

/**
 * kvmdci_vmcs_type_name:
 * @type: enum kvmdci_vmcs_type
 *
 * The name of a field type.
 *
 * Returns: "control", "exit_info", "guest", "host" (static strings); NULL otherwise.
 *
 * Since: 0.4
 */
const char *kvmdci_vmcs_type_name(enum kvmdci_vmcs_type type);

/**
 * kvmdci_vmcs_width_name:
 * @width: enum kvmdci_vmcs_width
 *
 * The name of a field width.
 *
 * Returns: "16", "64", "32", "natural" (static strings); NULL otherwise.
 *
 * Since: 0.4
 */
const char *kvmdci_vmcs_width_name(enum kvmdci_vmcs_width width);

/** A named value read from a structure in memory (vmcs12 or VMCB fields). */
struct kvmdci_field {
	char name[64];     /* member path: "guest_rip", "control.exit_code", "save.cs.base" */
	uint32_t offset;   /* bytes from the start of the structure */
	uint32_t size;     /* 1, 2, 4 or 8 */
	uint64_t value;
	uint32_t encoding; /* VMCS encoding of a vmcs12 field, UINT32_MAX when none */
	uint32_t pad;
	uint64_t reserved[2];
};

/** VMX state KVM holds for one vCPU (struct vcpu_vmx). */
struct kvmdci_vmx_vcpu {
	uint64_t vcpu;          /* struct kvm_vcpu * (== struct vcpu_vmx *) */
	uint64_t loaded_vmcs;   /* vmx->loaded_vmcs */
	uint64_t vmcs;          /* loaded_vmcs->vmcs: the VMCS region (kernel virtual) */
	uint64_t shadow_vmcs;   /* loaded_vmcs->shadow_vmcs, 0 when none */
	int32_t cpu;            /* loaded_vmcs->cpu, -1 when not loaded on any CPU */
	int32_t launched;       /* loaded_vmcs->launched */
	int32_t loaded_is_vmcs01; /* 1: vmcs01 (L1) is loaded; 0: another one (vmcs02: L2) */
	int32_t header_ok;      /* 1: the VMCS region's header below was read */
	uint32_t revision_id;   /* VMCS region: bits 30:0 of the first word */
	uint32_t shadow_bit;    /* bit 31: a shadow VMCS */
	uint32_t abort;         /* VMX-abort indicator */
	uint32_t exit_reason;   /* vmx->exit_reason (full 32 bits) */
	uint32_t exit_reason_basic; /* bits 15:0 */
	uint32_t exit_reason_flags; /* bits 31:16; see kvmdci_vmx_exit_flag_name() */
	uint64_t exit_qualification;
	int32_t exit_qualification_valid; /* 1 cached (VCPU_EXREG_EXIT_INFO_1), 0 stale, -1 no field */
	uint32_t exit_intr_info;
	uint32_t idt_vectoring_info;
	int32_t nested_vmxon;   /* vmx->nested.vmxon: L1 executed VMXON */
	uint64_t vmxon_ptr;     /* guest-physical VMXON region of L1 */
	uint64_t current_vmptr; /* guest-physical current vmcs12, UINT64_MAX when none */
	uint64_t cached_vmcs12; /* kernel copy of the current vmcs12, 0 when none */
	uint64_t vmcs01_vmcs;   /* vmx->vmcs01.vmcs */
	uint64_t vmcs02_vmcs;   /* vmx->nested.vmcs02.vmcs, 0 when none */
	int32_t error;          /* 0, or -errno: part of the state was unreadable */
	int32_t pad;
	uint64_t reserved[8];
};

/**
 * kvmdci_vmx_vcpu:
 * @k: kernel view
 * @vcpu: a struct kvm_vcpu address (== its struct vcpu_vmx)
 * @out: (out): the VMX state
 *
 * Decode the VMX state KVM holds for a vCPU: loaded_vmcs, the VMCS region's header, the exit
 * information cached at the last exit, nested state. Parts that cannot be read set @out->error.
 *
 * Returns: 0, or -ENODEV when kvm_intel is not loaded, -ENOENT when a type is missing, -EFAULT.
 *
 * Since: 0.4
 */
int kvmdci_vmx_vcpu(struct kvmdci_kernel *k, uint64_t vcpu, struct kvmdci_vmx_vcpu *out);

/**
 * kvmdci_vmx_exit_flag_name:
 * @bit: bit number, 16 to 31
 *
 * The name of a flag bit of a VMX exit reason.
 *
 * Returns: "bus_lock_detected" (26), "enclave_mode" (27), "pending_mtf" (28), "from_vmx_root" (29),
 * "failed_vmentry" (31) (static strings); NULL for other bits.
 *
 * Since: 0.4
 */
const char *kvmdci_vmx_exit_flag_name(int bit);

/**
 * kvmdci_vmx_vmcs12:
 * @k: kernel view
 * @addr: address of a struct vmcs12, e.g. kvmdci_vmx_vcpu()'s cached_vmcs12
 * @revision: (out): the header's revision id
 * @out: (out): up to @max fields
 * @max: size of @out
 *
 * Decode KVM's kernel copy of a nested guest's VMCS: every member of the target's struct vmcs12
 * with its VMCS encoding, padding left out. KVM writes 0x11e57ed0 (VMCS12_REVISION) as the
 * revision; another value means this is not a vmcs12, and a warning is logged.
 *
 * Returns: the number of fields, which may exceed @max, or -ENODEV when kvm_intel is not loaded,
 * -ENOENT when the type is missing, -EFAULT.
 *
 * Since: 0.4
 */
int kvmdci_vmx_vmcs12(struct kvmdci_kernel *k, uint64_t addr, uint32_t *revision,
		      struct kvmdci_field *out, int max);

/** SVM state KVM holds for one vCPU (struct vcpu_svm). */
struct kvmdci_svm_vcpu {
	uint64_t vcpu;        /* struct kvm_vcpu * (== struct vcpu_svm *) */
	uint64_t vmcb;        /* svm->vmcb: the VMCB in use (kernel virtual) */
	uint64_t vmcb_pa;     /* its physical address (current_vmcb->pa or vmcb_pa) */
	uint64_t vmcb01;      /* svm->vmcb01.ptr: L1's VMCB, 0 where the kernel has none */
	uint64_t vmcb01_pa;
	uint64_t vmcb02;      /* svm->nested.vmcb02.ptr, 0 when none */
	uint64_t vmcb12_gpa;  /* svm->nested.vmcb12_gpa: L1's VMCB for L2 (guest physical) */
	uint64_t hsave_msr;   /* svm->nested.hsave_msr */
	int32_t guest_mode;   /* 1: the VMCB in use is not vmcb01 (L2 runs) */
	int32_t asid;         /* svm->asid, -1 where absent */
	int32_t error;
	int32_t pad;
	uint64_t reserved[8];
};

/**
 * kvmdci_svm_vcpu:
 * @k: kernel view
 * @vcpu: a struct kvm_vcpu address (== its struct vcpu_svm)
 * @out: (out): the SVM state
 *
 * Decode the SVM state KVM holds for a vCPU: the VMCB in use and its physical address, vmcb01,
 * nested state, ASID.
 *
 * Returns: 0, or -ENODEV when kvm_amd is not loaded, -ENOENT when a type is missing, -EFAULT.
 *
 * Since: 0.4
 */
int kvmdci_svm_vcpu(struct kvmdci_kernel *k, uint64_t vcpu, struct kvmdci_svm_vcpu *out);

/** A VMCB segment register (struct vmcb_seg). */
struct kvmdci_vmcb_seg {
	uint16_t selector;
	uint16_t attrib;
	uint32_t limit;
	uint64_t base;
};
/** The VMCB fields most asked for, decoded (AMD APM vol. 2, appendix B). */
struct kvmdci_vmcb {
	uint64_t addr;
	uint32_t intercepts[6]; /* control.intercepts[]: see kvmdci_svm_intercept_name() */
	int32_t nintercepts;    /* words present in the target's type */
	uint16_t pause_filter_thresh;
	uint16_t pause_filter_count;
	uint64_t iopm_base_pa;
	uint64_t msrpm_base_pa;
	uint64_t tsc_offset;
	uint32_t asid;
	uint32_t tlb_ctl;
	uint32_t int_ctl;
	uint32_t int_vector;
	uint32_t int_state;
	uint32_t exit_code;
	uint32_t exit_code_hi; /* EXITCODE bits 63:32 (one u64 exit_code in some kernels) */
	uint32_t exit_int_info;
	uint32_t exit_int_info_err;
	uint32_t event_inj;
	uint32_t event_inj_err;
	uint32_t clean;
	uint64_t exit_info_1;
	uint64_t exit_info_2;
	uint64_t nested_ctl;
	uint64_t nested_cr3;
	uint64_t virt_ext;
	uint64_t next_rip;
	struct kvmdci_vmcb_seg es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr;
	uint32_t cpl;
	uint32_t pad;
	uint64_t efer, cr0, cr2, cr3, cr4, dr6, dr7, rflags, rip, rsp, rax;
	uint64_t reserved[8];
};

/**
 * kvmdci_svm_vmcb:
 * @k: kernel view
 * @addr: kernel virtual address of a VMCB
 * @out: (out): the fields
 *
 * Decode the VMCB fields most asked for, with offsets from the target's struct vmcb.
 *
 * Returns: 0, or -ENODEV when kvm_amd is not loaded, -ENOENT when a type is missing, -EFAULT.
 *
 * Since: 0.4
 */
int kvmdci_svm_vmcb(struct kvmdci_kernel *k, uint64_t addr, struct kvmdci_vmcb *out);

/**
 * kvmdci_svm_vmcb12:
 * @k: kernel view
 * @vcpu: address of the vCPU (struct kvm_vcpu)
 * @out: (out): the fields KVM holds of vmcb12
 *
 * What KVM holds of the VMCB a nested hypervisor (L1) gave to VMRUN for its guest L2 (vmcb12,
 * which lives in L1's memory). @out->addr is its guest-physical address (set while L2 runs, 0
 * after the #VMEXIT to L1); the control area is KVM's copy from L1's last VMRUN (intercepts,
 * iopm/msrpm, asid, nested_ctl, ...); of the save area only efer, cr0, cr3, cr4, dr6, dr7 and
 * cs, where the kernel caches them; the rest is left 0. Offsets from the target's struct
 * vcpu_svm.
 *
 * Returns: 0, -ENOENT where the kernel keeps no such copy, -ENODEV without kvm_amd, -EFAULT.
 *
 * Since: 0.9
 */
int kvmdci_svm_vmcb12(struct kvmdci_kernel *k, uint64_t vcpu, struct kvmdci_vmcb *out);

/**
 * kvmdci_svm_vmcb_fields:
 * @k: kernel view
 * @addr: kernel virtual address of a VMCB
 * @out: (out): up to @max fields
 * @max: size of @out
 *
 * Every member of the target's struct vmcb (control.*, save.*), reserved space left out, read from
 * the VMCB at @addr.
 *
 * Returns: the number of fields, which may exceed @max, or -ENODEV when kvm_amd is not loaded,
 * -ENOENT, -EFAULT.
 *
 * Since: 0.4
 */
int kvmdci_svm_vmcb_fields(struct kvmdci_kernel *k, uint64_t addr, struct kvmdci_field *out,
			   int max);

/**
 * kvmdci_svm_intercept_name:
 * @bit: bit number over control.intercepts[] (word @bit / 32, bit @bit % 32)
 *
 * The name of an SVM intercept bit (AMD APM vol. 2, table B-1).
 *
 * Returns: "cr0_read", ..., "exception_6", "intr", "ioio_prot", "msr_prot", "vmrun", ... (static
 * strings); NULL for an unnamed bit.
 *
 * Since: 0.4
 */
const char *kvmdci_svm_intercept_name(int bit);

/** Who owns hardware virtualization on a CPU. */
enum kvmdci_virt_owner {
	KVMDCI_VIRT_UNKNOWN = 0,      /* the CPU's state could not be read */
	KVMDCI_VIRT_OFF,              /* off, and KVM agrees */
	KVMDCI_VIRT_KVM,              /* on, and KVM enabled it */
	KVMDCI_VIRT_FOREIGN,          /* on, but KVM did not enable it: another hypervisor, a leak */
	KVMDCI_VIRT_INCONSISTENT,     /* KVM thinks it enabled it, but the CPU has it off */
};
/** One CPU's virtualization state: the CPU's view and KVM's. */
struct kvmdci_cpu_virt {
	int32_t cpu;
	int32_t vendor;        /* enum kvmdci_vendor of the loaded KVM module (NONE: no module) */
	int32_t cpu_on;        /* CR4.VMXE (VMX) / EFER.SVME (SVM): 1, 0, -1 unknown */
	int32_t in_guest;      /* 1: stopped inside a guest; its registers are the guest's */
	uint64_t cr4;          /* as read; valid when regs_valid & 1 */
	uint64_t efer;         /* valid when regs_valid & 2 */
	uint32_t regs_valid;
	int32_t kvm_on;        /* KVM enabled virtualization here: 1, 0, -1 unknown */
	char kvm_source[32];   /* "cpus_hardware_enabled", "hardware_enabled", "virtualization_enabled" */
	uint64_t vmxarea;      /* VMX: per-CPU vmxarea (KVM's VMXON region), 0 when none */
	uint64_t current_vmcs; /* VMX: per-CPU current_vmcs (last VMPTRLD), 0 when none */
	uint64_t svm_data;     /* SVM: this CPU's struct svm_cpu_data, 0 when none */
	uint64_t save_area;    /* SVM: svm_data->save_area (host save area, VM_HSAVE_PA) */
	uint64_t save_area_pa; /* SVM: svm_data->save_area_pa, 0 where absent */
	uint64_t svm_current_vmcb; /* SVM: svm_data->current_vmcb */
	int32_t owner;         /* enum kvmdci_virt_owner */
	int32_t pad;
	char reason[160];      /* the verdict in words, with what is unknown and why */
	/* Since 0.9 (in the former reserved space): VMX: the VMXON region's physical address
	 * (what KVM gives VMXON), valid when vmxon_valid & 2; its revision identifier (first 32
	 * bits; VMXON requires IA32_VMX_BASIC[30:0] there), valid when vmxon_valid & 1 */
	uint64_t vmxarea_pa;
	uint32_t vmxon_revision;
	uint32_t vmxon_valid;
	uint64_t reserved[6];
};

/**
 * kvmdci_kvm_cpu_virt:
 * @k: kernel view
 * @out: (out): up to @max CPUs
 * @max: size of @out
 *
 * For every CPU of the target: virtualization on in the CPU (CR4.VMXE or EFER.SVME), in KVM's view
 * (cpus_hardware_enabled, hardware_enabled or virtualization_enabled, whichever the kernel has),
 * KVM's per-CPU VMXON region or svm_data, the loaded VMCS, and a verdict on the owner. A CPU
 * stopped inside a guest is reported as such rather than with the guest's registers.
 *
 * Returns: the number of CPUs, which may exceed @max, or a negative errno of the target.
 *
 * Since: 0.4
 */
int kvmdci_kvm_cpu_virt(struct kvmdci_kernel *k, struct kvmdci_cpu_virt *out, int max);

/**
 * kvmdci_virt_owner_name:
 * @owner: enum kvmdci_virt_owner
 *
 * The name of a verdict.
 *
 * Returns: "unknown", "off", "kvm", "foreign", "inconsistent" (static strings); "unknown" out of
 * range.
 *
 * Since: 0.4
 */
const char *kvmdci_virt_owner_name(enum kvmdci_virt_owner owner);

/** IA32_DEBUG_INTERFACE (MSR 0xC80) decoded. */
struct kvmdci_debug_interface {
	uint64_t raw;
	int32_t enable;         /* bit 0: debug interface enabled (needed for DCI) */
	int32_t lock;           /* bit 30: locked until reset */
	int32_t debug_occurred; /* bit 31: a debugger was attached since reset */
	int32_t pad;
};

/**
 * kvmdci_debug_interface_decode:
 * @raw: the MSR's value
 * @out: (out): its bits
 *
 * Decode a raw IA32_DEBUG_INTERFACE (MSR 0xC80) value: enable, lock, debug occurred.
 *
 * Since: 0.4
 */
void kvmdci_debug_interface_decode(uint64_t raw, struct kvmdci_debug_interface *out);

/* ---- can this machine do Intel DCI? (lib/kvm/dci-probe.c) --------------------------------- */

/**
 * struct kvmdci_dci - what this machine says about Intel DCI debugging: CPUID.1:ECX[11] SDBG
 * (IA32_DEBUG_INTERFACE exists), the MSR on every CPU (read through /dev/cpu/N/msr: root and
 * the msr module) and the USB debug-class devices in sysfs (interface class 0xDC, xHCI DbC
 * 1d6b:0010 or 1d6b:0011). Immutable once probed.
 */
struct kvmdci_dci;

/** The verdict of a DCI probe (kvmdci_dci_state()). */
enum kvmdci_dci_state {
	KVMDCI_DCI_ENABLED = 0,  /* every readable CPU has enable = 1 */
	KVMDCI_DCI_NOT_POSSIBLE, /* no SDBG: the CPU has no IA32_DEBUG_INTERFACE */
	KVMDCI_DCI_UNKNOWN,      /* SDBG, but the MSR cannot be read here */
	KVMDCI_DCI_LOCKED,       /* disabled and locked by firmware on some CPU */
	KVMDCI_DCI_DISABLED      /* disabled, not locked: writing bit 0 enables it */
};

/** One CPU's IA32_DEBUG_INTERFACE (kvmdci_dci_cpu()). */
struct kvmdci_dci_cpu {
	int32_t cpu;
	int32_t error; /* 0, or the errno of opening or reading /dev/cpu/N/msr */
	struct kvmdci_debug_interface msr; /* decoded when @error is 0 */
	uint64_t reserved[2];
};

/** One USB debug-class device (kvmdci_dci_usb()). */
struct kvmdci_dci_usb {
	const char *device; /* its sysfs name ("2-1", "2-1:1.0") */
	const char *kind;   /* "debug-class interface (0xDC)", "xHCI DbC (1d6b:0010)", ... */
	uint64_t reserved[2];
};

/**
 * kvmdci_dci_probe - probe this machine (not a target) for Intel DCI.
 * @root: prefix for /dev and /sys ("" or NULL: the real ones; a directory for tests)
 * @ret: the result, owned by the caller (kvmdci_dci_unref()); untouched on failure
 *
 * CPUs are those sysconf(_SC_NPROCESSORS_CONF) counts; a CPU whose MSR cannot be read is
 * listed with its errno.
 *
 * Returns: 0 or -ENOMEM.
 *
 * Since: 0.7
 */
int kvmdci_dci_probe(const char *root, struct kvmdci_dci **ret);
/**
 * kvmdci_dci_ref - take a reference.
 * @d: the probe (NULL accepted)
 *
 * Returns: @d.
 *
 * Since: 0.7
 */
struct kvmdci_dci *kvmdci_dci_ref(struct kvmdci_dci *d);
/**
 * kvmdci_dci_unref - drop a reference; the last frees the probe.
 * @d: the probe (NULL accepted)
 *
 * Returns: NULL.
 *
 * Since: 0.7
 */
struct kvmdci_dci *kvmdci_dci_unref(struct kvmdci_dci *d);
/**
 * kvmdci_dci_cpu_vendor - the CPUID vendor string ("GenuineIntel", "AuthenticAMD").
 * @d: the probe
 *
 * Returns: the string, valid while @d lives.
 *
 * Since: 0.7
 */
const char *kvmdci_dci_cpu_vendor(const struct kvmdci_dci *d);
/**
 * kvmdci_dci_sdbg - whether CPUID.1:ECX[11] (SDBG) is set.
 * @d: the probe
 *
 * Returns: 1 or 0.
 *
 * Since: 0.7
 */
int kvmdci_dci_sdbg(const struct kvmdci_dci *d);
/**
 * kvmdci_dci_cpu_count - number of CPUs probed.
 * @d: the probe
 *
 * Returns: the count (>= 1).
 *
 * Since: 0.7
 */
int kvmdci_dci_cpu_count(const struct kvmdci_dci *d);
/**
 * kvmdci_dci_cpu - CPU @i's MSR.
 * @d: the probe
 * @i: 0 .. kvmdci_dci_cpu_count() - 1
 * @out: filled on success
 *
 * Returns: 0 or -ERANGE.
 *
 * Since: 0.7
 */
int kvmdci_dci_cpu(const struct kvmdci_dci *d, int i, struct kvmdci_dci_cpu *out);
/**
 * kvmdci_dci_cpus_readable - number of CPUs whose MSR could be read.
 * @d: the probe
 *
 * Returns: the count (>= 0).
 *
 * Since: 0.7
 */
int kvmdci_dci_cpus_readable(const struct kvmdci_dci *d);
/**
 * kvmdci_dci_usb_dir - the sysfs directory the USB devices were looked for in
 * (@root/sys/bus/usb/devices).
 * @d: the probe
 *
 * Returns: the path, valid while @d lives.
 *
 * Since: 0.7
 */
const char *kvmdci_dci_usb_dir(const struct kvmdci_dci *d);
/**
 * kvmdci_dci_usb_stack - whether that directory exists (a USB stack to look at).
 * @d: the probe
 *
 * Returns: 1 or 0.
 *
 * Since: 0.7
 */
int kvmdci_dci_usb_stack(const struct kvmdci_dci *d);
/**
 * kvmdci_dci_usb_count - number of USB debug-class devices found.
 * @d: the probe
 *
 * Returns: the count (>= 0).
 *
 * Since: 0.7
 */
int kvmdci_dci_usb_count(const struct kvmdci_dci *d);
/**
 * kvmdci_dci_usb - USB debug-class device @i (directory order).
 * @d: the probe
 * @i: 0 .. kvmdci_dci_usb_count() - 1
 * @out: filled on success; its strings are valid while @d lives
 *
 * Returns: 0 or -ERANGE.
 *
 * Since: 0.7
 */
int kvmdci_dci_usb(const struct kvmdci_dci *d, int i, struct kvmdci_dci_usb *out);
/**
 * kvmdci_dci_state - the verdict.
 * @d: the probe
 *
 * Returns: the state.
 *
 * Since: 0.7
 */
enum kvmdci_dci_state kvmdci_dci_state(const struct kvmdci_dci *d);
/**
 * kvmdci_dci_state_name - a state as a word.
 * @state: the state
 *
 * Returns: "enabled", "not_possible", "unknown", "locked", "disabled"; NULL for other values.
 *
 * Since: 0.7
 */
const char *kvmdci_dci_state_name(enum kvmdci_dci_state state);
/**
 * kvmdci_dci_verdict - the verdict for people: what is possible, what blocks it and what to
 * do ("not possible: the debug interface is disabled and locked by firmware on ...").
 * @d: the probe
 *
 * Returns: the sentence, valid while @d lives.
 *
 * Since: 0.7
 */
const char *kvmdci_dci_verdict(const struct kvmdci_dci *d);

/* ---- call stacks and CPUs ------------------------------------------------------------------ */

struct kvmdci_unwinder;

/** Why an unwind ended (kvmdci_unwind_end_name() gives the words). */
enum kvmdci_unwind_end {
	KVMDCI_UNWIND_END_OF_STACK = 0, /* the kernel's end-of-stack marker (a task's first frame) */
	KVMDCI_UNWIND_USER_MODE,        /* a pt_regs frame from user mode: syscall or interrupt entry */
	KVMDCI_UNWIND_BAD_ORC,          /* an undefined ORC entry, unknown register or type */
	KVMDCI_UNWIND_BAD_FRAME,        /* not kernel text, stack going the wrong way, no register */
	KVMDCI_UNWIND_UNREADABLE,       /* stack memory unreadable, or the read bound reached */
	KVMDCI_UNWIND_LOOP,             /* a frame repeats an earlier one */
	KVMDCI_UNWIND_DEPTH,            /* KVMDCI_STACK_MAX frames */
	KVMDCI_UNWIND_NO_STACK,         /* nothing to unwind: the CPU runs a guest or user code */
};

/** Frame flags. */
#define KVMDCI_FRAME_REGS 1u  /* reached through pt_regs (interrupt, exception, syscall): exact ip */
#define KVMDCI_FRAME_GUESS 2u /* found by the frame-pointer fallback: no ORC data for its callee */

/** One frame of a kernel call stack. */
struct kvmdci_frame {
	uint64_t ip;       /* return address; the exact ip for the first frame and after pt_regs */
	uint64_t sp;       /* stack pointer of the frame */
	uint64_t offset;   /* ip - the function's address */
	uint32_t flags;    /* KVMDCI_FRAME_* */
	int32_t symbolized; /* 1 when module and function are known */
	char module[64];   /* "vmlinux", "kvm", "kvm_amd", ... */
	char function[128];
	uint64_t reserved[4];
};

/** Bound on the frames of one stack. */
#define KVMDCI_STACK_MAX 64

/** A kernel call stack, innermost frame first. */
struct kvmdci_stack {
	int32_t nframes;
	int32_t end;            /* enum kvmdci_unwind_end */
	char end_detail[160];   /* why, in words */
	uint32_t reads;         /* 8-byte memory reads done */
	uint32_t reserved0;
	struct kvmdci_frame frames[KVMDCI_STACK_MAX];
	uint64_t reserved[4];
};

/**
 * kvmdci_unwinder_new:
 * @k: kernel view
 * @ret: (out): the unwinder
 *
 * Prepare kernel stack unwinding: the ORC tables of vmlinux (from the vmlinux file's .orc_unwind
 * and .orc_unwind_ip sections, else from target memory) and of every loaded module (struct
 * module.arch), and the pt_regs and task layouts from the type info. Takes a reference on @k; the
 * caller owns the unwinder and frees it with kvmdci_unwinder_unref().
 *
 * Returns: 0, or -ENOENT when no ORC table or a needed type is found, -EFAULT, -ENOMEM. @ret is
 * left untouched on failure.
 *
 * Since: 0.5
 */
int kvmdci_unwinder_new(struct kvmdci_kernel *k, struct kvmdci_unwinder **ret);

/**
 * kvmdci_unwinder_unref:
 * @u: unwinder, or NULL
 *
 * Drop a reference on @u; the last one frees the unwinder and drops its reference on the kernel
 * view.
 *
 * Returns: NULL.
 *
 * Since: 0.5
 */
struct kvmdci_unwinder *kvmdci_unwinder_unref(struct kvmdci_unwinder *u);

/**
 * kvmdci_unwinder_ref:
 * @u: unwinder, or NULL
 *
 * Take a reference on @u; each reference is dropped with kvmdci_unwinder_unref().
 *
 * Returns: @u.
 *
 * Since: 0.8
 */
struct kvmdci_unwinder *kvmdci_unwinder_ref(struct kvmdci_unwinder *u);

/**
 * kvmdci_unwind_regs:
 * @u: unwinder
 * @ip: exact instruction pointer
 * @sp: stack pointer
 * @bp: frame pointer
 * @out: (out): the stack
 *
 * Unwind from a stopped CPU's rip, rsp and rbp. The unwind is bounded and ends with a reason
 * (@out->end, @out->end_detail).
 *
 * Returns: 0 with @out filled, however the unwind ended.
 *
 * Since: 0.5
 */
int kvmdci_unwind_regs(struct kvmdci_unwinder *u, uint64_t ip, uint64_t sp, uint64_t bp,
		       struct kvmdci_stack *out);

/**
 * kvmdci_unwind_task:
 * @u: unwinder
 * @task: a struct task_struct address
 * @out: (out): the stack
 *
 * The kernel stack of a task: from the registers of the CPU it runs on when it is that CPU's
 * current task, else from its saved context (thread.sp, struct inactive_task_frame).
 *
 * Returns: 0 with @out filled, or -EFAULT when the task cannot be read, -ENOENT when a type is
 * missing, -ENOMEM.
 *
 * Since: 0.5
 */
int kvmdci_unwind_task(struct kvmdci_unwinder *u, uint64_t task, struct kvmdci_stack *out);

/**
 * kvmdci_unwind_end_name:
 * @end: enum kvmdci_unwind_end
 *
 * Why an unwind ended, in words.
 *
 * Returns: "end of stack", "user mode", "bad ORC entry", ... (static strings), "unknown" out of
 * range.
 *
 * Since: 0.5
 */
const char *kvmdci_unwind_end_name(enum kvmdci_unwind_end end);

/**
 * kvmdci_kernel_symbolize:
 * @k: kernel view
 * @addr: kernel address
 * @buf: (out): the text, NUL-terminated
 * @size: size of @buf
 *
 * Write "module!function+0xoff" for a kernel address into @buf ("vmlinux!" for the kernel image).
 *
 * Returns: 0, or -ENOENT when no symbol covers @addr (then @buf holds "0x...").
 *
 * Since: 0.5
 */
int kvmdci_kernel_symbolize(struct kvmdci_kernel *k, uint64_t addr, char *buf, size_t size);

/** What a CPU was executing when the target stopped. */
enum kvmdci_cpu_mode {
	KVMDCI_CPU_UNKNOWN = 0,
	KVMDCI_CPU_KERNEL, /* the host kernel */
	KVMDCI_CPU_USER,   /* host user space */
	KVMDCI_CPU_GUEST,  /* a guest: its registers are the guest's, not the host's */
};

/** One CPU: where it is, its current task, virtualization. */
struct kvmdci_cpu_info {
	int32_t cpu;        /* the target's CPU index */
	int32_t linux_cpu;  /* the kernel's CPU number (its per-CPU area), -1 when unknown */
	int32_t mode;       /* enum kvmdci_cpu_mode */
	int32_t virt;       /* 1: EFER.SVME or CR4.VMXE set, 0: clear, -1: unknown */
	uint64_t rip, rsp, rbp, cs, cr0, cr3;
	uint64_t task;      /* the per-CPU current task, 0 when unknown */
	int32_t pid;        /* its pid (thread id), -1 when unknown */
	int32_t tgid;
	char comm[16];
	char state[4];      /* "R", "S", "D", "I", ... as in ps */
	int32_t idle;       /* 1: the current task is this CPU's idle task */
	int32_t guest_stack; /* 1: the stack was unwound from the host state saved at VM entry */
	char where[192];    /* "vmlinux!default_idle+0x1e", "in guest: ...", "user mode: ..." */
	uint64_t reserved[8];
};

/**
 * kvmdci_unwind_cpu:
 * @u: unwinder
 * @cpu: target CPU index
 * @info: (out): where the CPU is
 * @stack: (out): its kernel stack, or NULL for none
 *
 * Describe a CPU of a stopped target and unwind its kernel stack. A CPU running a guest shows the
 * guest's registers: it is reported as KVMDCI_CPU_GUEST with its current task (the vCPU thread)
 * and, where the host state saved at VM entry is found, the host stack that entered the guest.
 *
 * Returns: 0 with @info filled (fields that could not be read are marked unknown), or the error of
 * reading the CPU's registers (-EINVAL for a CPU out of range, -EBUSY while the target runs,
 * -EPIPE).
 *
 * Since: 0.5
 */
int kvmdci_unwind_cpu(struct kvmdci_unwinder *u, int cpu, struct kvmdci_cpu_info *info,
		      struct kvmdci_stack *stack);

/**
 * kvmdci_cpu_mode_name:
 * @mode: enum kvmdci_cpu_mode
 *
 * The name of a CPU mode.
 *
 * Returns: "kernel", "user", "guest", "unknown" (static strings; "unknown" out of range too).
 *
 * Since: 0.5
 */
const char *kvmdci_cpu_mode_name(enum kvmdci_cpu_mode mode);

/** A task as read from its struct task_struct. */
struct kvmdci_task_info {
	uint64_t task;
	int32_t pid;
	int32_t tgid;
	char comm[16];
	char state[4];
	int32_t on_cpu;   /* 1 while running on a CPU */
	int32_t cpu;      /* the CPU it last ran on, -1 when unknown */
	uint64_t reserved[4];
};

/**
 * kvmdci_kernel_task_info:
 * @k: kernel view
 * @task: a struct task_struct address
 * @out: (out): the task
 *
 * Decode a task: pid, tgid, comm, state, CPU.
 *
 * Returns: 0, or -ENOENT when a type is missing, -EFAULT when the task cannot be read.
 *
 * Since: 0.5
 */
int kvmdci_kernel_task_info(struct kvmdci_kernel *k, uint64_t task, struct kvmdci_task_info *out);

/**
 * kvmdci_kernel_task_find:
 * @k: kernel view
 * @pid: thread id
 * @task: (out): its struct task_struct address
 *
 * Find a thread by id: every thread of every process on init_task's list, with the walk bounded.
 *
 * Returns: 0, or -ESRCH when there is no such thread, -ENOENT when a type is missing, -EFAULT.
 *
 * Since: 0.5
 */
int kvmdci_kernel_task_find(struct kvmdci_kernel *k, int pid, uint64_t *task);

#ifdef __cplusplus
}
#endif
#endif
