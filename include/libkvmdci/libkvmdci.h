/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libkvmdci - debug KVM from below the operating system.
 *
 * Layers: a target (GDB remote stub: memory, CPUs, breakpoints) -> the kernel view (symbols,
 * KASLR, modules, BTF types) -> the KVM model (VMs, vCPUs, exit tracing driven by the
 * breakpoint catalog). All functions that can fail return >= 0 on success and a negative errno
 * on failure; constructors hand the object back through their last argument, which is left
 * untouched on failure. The library never prints: it logs through the context's log function.
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
 * kvmdci_ctx_new - create a library context.
 * The default log function prints errors to stderr; $KVMDCI_LOG (err, warning, info, debug)
 * sets the initial priority.
 */
int kvmdci_ctx_new(struct kvmdci_ctx **ret);
/** kvmdci_ctx_ref - take a reference. */
struct kvmdci_ctx *kvmdci_ctx_ref(struct kvmdci_ctx *ctx);
/** kvmdci_ctx_unref - drop a reference; frees on the last. NULL is accepted; returns NULL. */
struct kvmdci_ctx *kvmdci_ctx_unref(struct kvmdci_ctx *ctx);
/** kvmdci_ctx_set_log_fn - replace the log function (NULL restores the default). */
void kvmdci_ctx_set_log_fn(struct kvmdci_ctx *ctx, kvmdci_log_fn fn, void *data);
/** kvmdci_ctx_get_log_data - the data pointer given to kvmdci_ctx_set_log_fn. */
void *kvmdci_ctx_get_log_data(struct kvmdci_ctx *ctx);
/** kvmdci_ctx_set_log_priority - messages below this priority are dropped. */
void kvmdci_ctx_set_log_priority(struct kvmdci_ctx *ctx, int priority);
/** kvmdci_ctx_get_log_priority - the current log priority. */
int kvmdci_ctx_get_log_priority(struct kvmdci_ctx *ctx);
/**
 * kvmdci_ctx_last_error - a one-line description of the last failure in this context
 * (what failed, on which address, symbol or file), or "" when none.
 */
const char *kvmdci_ctx_last_error(struct kvmdci_ctx *ctx);

/* ---- target: memory + CPUs + run control --------------------------------------------------- */

struct kvmdci_target;

/**
 * kvmdci_target_open - attach to a target.
 * @uri: `gdb://HOST:PORT` or `gdb+unix:///path/to/socket` (a GDB remote-protocol stub such as
 * QEMU's gdbstub). The target is stopped while attached (a whole-machine stub stops every CPU).
 */
int kvmdci_target_open(struct kvmdci_ctx *ctx, const char *uri, struct kvmdci_target **ret);
/**
 * kvmdci_target_unref - drop a reference. The last one removes every breakpoint this library
 * inserted and detaches, leaving the target running. NULL is accepted; returns NULL.
 */
struct kvmdci_target *kvmdci_target_unref(struct kvmdci_target *t);
/** kvmdci_target_ref - take a reference. */
struct kvmdci_target *kvmdci_target_ref(struct kvmdci_target *t);
/** kvmdci_target_get_uri - the URI the target was opened with. */
const char *kvmdci_target_get_uri(struct kvmdci_target *t);
/** kvmdci_target_cpu_count - number of CPUs (threads of the stub). */
int kvmdci_target_cpu_count(struct kvmdci_target *t);
/**
 * kvmdci_target_reg_read - read a register of CPU @cpu (0-based) by its name in the stub's
 * target description (rip, rdi, cr3, cr4, efer, ...). The target must be stopped.
 */
int kvmdci_target_reg_read(struct kvmdci_target *t, int cpu, const char *name, uint64_t *val);
/**
 * kvmdci_target_regs_read - read up to 16 registers of one CPU in one round trip (the
 * requests are pipelined).
 */
int kvmdci_target_regs_read(struct kvmdci_target *t, int cpu, const char *const *names,
			    uint64_t *vals, int n);
/** kvmdci_target_reg_write - write a register of CPU @cpu by name. */
int kvmdci_target_reg_write(struct kvmdci_target *t, int cpu, const char *name, uint64_t val);
/**
 * kvmdci_target_read_virt - read virtual memory through CPU @cpu's current paging.
 * Returns -EFAULT when the stub cannot read the address.
 */
int kvmdci_target_read_virt(struct kvmdci_target *t, int cpu, uint64_t addr, void *buf,
			    size_t len);
/** kvmdci_target_read_phys - read physical memory (-EOPNOTSUPP where the stub cannot). */
int kvmdci_target_read_phys(struct kvmdci_target *t, uint64_t addr, void *buf, size_t len);

/** Kinds of breakpoints and watchpoints (the Z packet types). */
enum kvmdci_bp_kind {
	KVMDCI_BP_SW = 0,
	KVMDCI_BP_HW = 1,
	KVMDCI_WATCH_WRITE = 2,
	KVMDCI_WATCH_READ = 3,
	KVMDCI_WATCH_ACCESS = 4,
};

/** kvmdci_target_bp_insert - insert a breakpoint or watchpoint (@len: 1 for breakpoints). */
int kvmdci_target_bp_insert(struct kvmdci_target *t, enum kvmdci_bp_kind kind, uint64_t addr,
			    unsigned int len);
/** kvmdci_target_bp_remove - remove a breakpoint or watchpoint inserted before. */
int kvmdci_target_bp_remove(struct kvmdci_target *t, enum kvmdci_bp_kind kind, uint64_t addr,
			    unsigned int len);
/** kvmdci_target_bp_remove_all - remove every breakpoint and watchpoint this handle inserted. */
int kvmdci_target_bp_remove_all(struct kvmdci_target *t);
/** kvmdci_target_bp_count - how many breakpoints and watchpoints are inserted. */
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

/** kvmdci_target_resume - continue all CPUs. */
int kvmdci_target_resume(struct kvmdci_target *t);
/**
 * kvmdci_target_step_over - continue all CPUs after a breakpoint stop of @cpu at @addr:
 * steps that CPU alone past the breakpoint (which would otherwise trigger again) and resumes
 * every CPU. Returns once the target runs.
 */
int kvmdci_target_step_over(struct kvmdci_target *t, int cpu, uint64_t addr);
/**
 * kvmdci_target_wait - wait up to @timeout_ms (-1: forever) for the target to stop.
 * Returns 1 with @stop filled, 0 on timeout, or a negative errno.
 */
int kvmdci_target_wait(struct kvmdci_target *t, int timeout_ms, struct kvmdci_stop *stop);
/** kvmdci_target_interrupt - ask a running target to stop; kvmdci_target_wait() reports it. */
int kvmdci_target_interrupt(struct kvmdci_target *t);
/** kvmdci_target_is_running - 1 when resumed and not yet stopped, 0 otherwise. */
int kvmdci_target_is_running(struct kvmdci_target *t);
/**
 * kvmdci_target_detach - stop if running, remove every breakpoint, detach and let the target
 * run. Further calls on @t fail with -ENOTCONN.
 */
int kvmdci_target_detach(struct kvmdci_target *t);
/** Statistics of the transport: packets sent, round trips, bytes. */
struct kvmdci_target_stats {
	uint64_t packets_sent;
	uint64_t packets_received;
	uint64_t writes;
	uint64_t bytes_sent;
	uint64_t bytes_received;
	uint64_t reserved[3];
};
/** kvmdci_target_get_stats - copy the transport statistics. */
void kvmdci_target_get_stats(struct kvmdci_target *t, struct kvmdci_target_stats *stats);

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
 * kvmdci_kernel_open - build the kernel view of a stopped target: vmlinux symbols, the KASLR
 * offset (found by locating linux_banner in memory), the loaded modules and their symbols
 * (read from each struct module's kallsyms in target memory), and BTF types (vmlinux and the
 * modules' split BTF). Takes a reference on @t.
 */
int kvmdci_kernel_open(struct kvmdci_target *t, const struct kvmdci_kernel_files *files,
		       struct kvmdci_kernel **ret);
/** kvmdci_kernel_unref - drop a reference. NULL is accepted; returns NULL. */
struct kvmdci_kernel *kvmdci_kernel_unref(struct kvmdci_kernel *k);
/** kvmdci_kernel_get_target - the target (no new reference). */
struct kvmdci_target *kvmdci_kernel_get_target(struct kvmdci_kernel *k);
/** kvmdci_kernel_kaslr_offset - virtual KASLR offset found on the target. */
uint64_t kvmdci_kernel_kaslr_offset(struct kvmdci_kernel *k);
/** kvmdci_kernel_release - the kernel release read from the target's linux_banner. */
const char *kvmdci_kernel_release(struct kvmdci_kernel *k);
/**
 * kvmdci_kernel_symbol - address of a symbol: "name" (vmlinux, then modules) or
 * "module:name" (e.g. "kvm_amd:svm_handle_exit"). -ENOENT when absent.
 */
int kvmdci_kernel_symbol(struct kvmdci_kernel *k, const char *name, uint64_t *addr);
/** kvmdci_kernel_has_module - 1 when the module (e.g. "kvm_amd") is loaded on the target. */
int kvmdci_kernel_has_module(struct kvmdci_kernel *k, const char *module);
/** kvmdci_kernel_read - read kernel virtual memory (works while a CPU runs a nested guest). */
int kvmdci_kernel_read(struct kvmdci_kernel *k, uint64_t addr, void *buf, size_t len);
/** kvmdci_kernel_read_u64 - read one little-endian 64-bit value. */
int kvmdci_kernel_read_u64(struct kvmdci_kernel *k, uint64_t addr, uint64_t *val);
/** kvmdci_kernel_note_stop - tell the kernel view the target stopped (drops per-stop state). */
void kvmdci_kernel_note_stop(struct kvmdci_kernel *k, const struct kvmdci_stop *stop);

/** A member's place in a type, from BTF. */
struct kvmdci_member {
	uint64_t bit_offset;   /* from the start of the outer type */
	uint32_t bitfield_size; /* 0 when not a bitfield */
	uint32_t size;          /* bytes of the member's type */
	uint32_t reserved[4];
};
/**
 * kvmdci_kernel_type_size - size in bytes of a type: "struct kvm", "union x", "u64", a
 * typedef name. @module: NULL for vmlinux then loaded modules, or a module name.
 */
int kvmdci_kernel_type_size(struct kvmdci_kernel *k, const char *module, const char *type,
			    uint64_t *size);
/**
 * kvmdci_kernel_member - locate @path ("stat.exits", "control.exit_code", "range[2].dev") in
 * @type ("struct kvm_vcpu"). Members of anonymous structs and unions are found by name.
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
 * kvmdci_kernel_symbols_source - where the symbols of vmlinux (@module NULL) or of a loaded
 * module came from. Pointers stay valid while @k lives. -ENODEV for a module not loaded.
 */
int kvmdci_kernel_symbols_source(struct kvmdci_kernel *k, const char *module,
				 struct kvmdci_kernel_source *src);
/** kvmdci_kernel_types_source - where the types of vmlinux (@module NULL) or a module came from. */
int kvmdci_kernel_types_source(struct kvmdci_kernel *k, const char *module,
			       struct kvmdci_kernel_source *src);
/** kvmdci_kernel_kaslr_source - how the KASLR offset was found, for people ("VMCOREINFO", ...). */
const char *kvmdci_kernel_kaslr_source(struct kvmdci_kernel *k);
/** kvmdci_kernel_module_count - number of modules on the target's module list. */
int kvmdci_kernel_module_count(struct kvmdci_kernel *k);
/**
 * kvmdci_kernel_module - name and struct module address of module @i (list order).
 * -ERANGE past the end. @name stays valid while @k lives.
 */
int kvmdci_kernel_module(struct kvmdci_kernel *k, int i, const char **name, uint64_t *addr);

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
 * kvmdci_kvm_vcpus - list every vCPU of every VM (kvm:vm_list, vcpu_array or vcpus[], bounded
 * by online_vcpus). Fills up to @max entries; returns the number found (may exceed @max).
 */
int kvmdci_kvm_vcpus(struct kvmdci_kernel *k, struct kvmdci_vcpu_info *out, int max);

/** The layout of KVM's per-vCPU counters (struct kvm_vcpu_stat) on this kernel. */
struct kvmdci_vcpu_stats_layout;
/**
 * kvmdci_kvm_vcpu_stats_layout - find every 64-bit counter of struct kvm_vcpu_stat (nested
 * structs such as "generic" flattened) in the type info. Free with
 * kvmdci_kvm_vcpu_stats_layout_free().
 */
int kvmdci_kvm_vcpu_stats_layout(struct kvmdci_kernel *k, struct kvmdci_vcpu_stats_layout **ret);
/** kvmdci_kvm_vcpu_stats_layout_free - free a layout. */
void kvmdci_kvm_vcpu_stats_layout_free(struct kvmdci_vcpu_stats_layout *l);
/** kvmdci_kvm_vcpu_stats_count - number of counters. */
int kvmdci_kvm_vcpu_stats_count(const struct kvmdci_vcpu_stats_layout *l);
/** kvmdci_kvm_vcpu_stats_name - name of counter @i ("exits", "io_exits", ...). */
const char *kvmdci_kvm_vcpu_stats_name(const struct kvmdci_vcpu_stats_layout *l, int i);
/**
 * kvmdci_kvm_vcpu_stats_read - read all counters of the vCPU at @vcpu (struct kvm_vcpu *) in
 * one read; @values has kvmdci_kvm_vcpu_stats_count() entries.
 */
int kvmdci_kvm_vcpu_stats_read(struct kvmdci_kernel *k, const struct kvmdci_vcpu_stats_layout *l,
			       uint64_t vcpu, uint64_t *values);

/** Hardware virtualization vendors. */
enum kvmdci_vendor { KVMDCI_VENDOR_NONE = 0, KVMDCI_VENDOR_VMX, KVMDCI_VENDOR_SVM };
/** kvmdci_kvm_vendor - which of kvm_intel / kvm_amd is loaded (NONE when neither). */
enum kvmdci_vendor kvmdci_kvm_vendor(struct kvmdci_kernel *k);
/** kvmdci_exit_reason_name - name of an exit reason (kernel's VMX/SVM_EXIT_REASONS), or NULL. */
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
 * kvmdci_kvm_vms - list every VM on kvm:vm_list, newest first (the kernel's list order).
 * Fills up to @max entries; returns the number found (may exceed @max). A vm_list that
 * loops is detected and cut with a warning naming the node.
 */
int kvmdci_kvm_vms(struct kvmdci_kernel *k, struct kvmdci_vm_info *out, int max);

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
 * kvmdci_kvm_vcpu_state - decode one struct kvm_vcpu (an address from kvmdci_kvm_vcpus()).
 */
int kvmdci_kvm_vcpu_state(struct kvmdci_kernel *k, uint64_t vcpu,
			  struct kvmdci_vcpu_state *out);
/** kvmdci_vcpu_reg_name - "rax" ... "rip", "cr0", "cr3", "cr4", "efer"; NULL out of range. */
const char *kvmdci_vcpu_reg_name(int reg);
/** kvmdci_vcpu_mode_name - "outside_guest", "in_guest", "exiting_guest", "reading_spt". */
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
	char ops_symbol[96]; /* "kvm:ioeventfd_ops", "module:symbol+0x10", or "" */
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
 * kvmdci_kvm_io_buses - the buses of VM @vm (struct kvm *): one entry per element of
 * struct kvm.buses[] (KVM_NR_BUSES, from type info). Fills up to @max entries; returns the
 * number of buses.
 */
int kvmdci_kvm_io_buses(struct kvmdci_kernel *k, uint64_t vm, struct kvmdci_io_bus_info *out,
			int max);
/**
 * kvmdci_kvm_io_ranges - the ranges of bus @bus of VM @vm, in the kernel's (sorted) order,
 * each device classified by its ops symbol and decoded through container_of. The range array
 * is read in one piece. Fills up to @max entries; returns dev_count (0 for a NULL bus), or a
 * negative errno when the bus is unreadable or its dev_count is absurd.
 */
int kvmdci_kvm_io_ranges(struct kvmdci_kernel *k, uint64_t vm, int bus,
			 struct kvmdci_io_range *out, int max);
/** kvmdci_io_bus_name - "mmio", "pio", "virtio_ccw_notify", "fast_mmio"; NULL otherwise. */
const char *kvmdci_io_bus_name(int bus);
/**
 * kvmdci_io_dev_kind_name - "pic_master", "pic_slave", "pic_elcr", "pit", "speaker",
 * "ioapic", "ioeventfd", "coalesced_mmio", "unknown".
 */
const char *kvmdci_io_dev_kind_name(int kind);

/* ---- catalog ------------------------------------------------------------------------------ */

struct kvmdci_catalog;
/**
 * kvmdci_catalog_load - load a catalog file or a directory of *.json catalog files.
 * NULL loads $KVMDCI_CATALOG or the installed catalog directory.
 */
int kvmdci_catalog_load(struct kvmdci_ctx *ctx, const char *path, struct kvmdci_catalog **ret);
/** kvmdci_catalog_unref - free a catalog. NULL is accepted; returns NULL. */
struct kvmdci_catalog *kvmdci_catalog_unref(struct kvmdci_catalog *cat);
/** kvmdci_catalog_count - number of entries. */
int kvmdci_catalog_count(struct kvmdci_catalog *cat);
/** kvmdci_catalog_entry_name - name of entry @i, or NULL. */
const char *kvmdci_catalog_entry_name(struct kvmdci_catalog *cat, int i);

/** kvmdci_catalog_find - index of the entry named @name, or -ENOENT. */
int kvmdci_catalog_find(struct kvmdci_catalog *cat, const char *name);
/**
 * kvmdci_catalog_entry_json - entry @i as indented JSON text (free() it), or NULL.
 */
char *kvmdci_catalog_entry_json(struct kvmdci_catalog *cat, int i);
/**
 * kvmdci_catalog_entry_field - a string field of entry @i ("name", "description", "vendor",
 * "module", "hit", "added", "removed"), or NULL.
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
 * kvmdci_catalog_check_entry - resolve entry @i against @k: symbol alternatives, captures
 * compiled against the types, applicability (vendor, module loaded).
 */
int kvmdci_catalog_check_entry(struct kvmdci_catalog *cat, struct kvmdci_kernel *k, int i,
			       struct kvmdci_entry_check *out);
/** kvmdci_entry_status_name - "resolved", "absent", ... */
const char *kvmdci_entry_status_name(enum kvmdci_entry_status s);

/* ---- tracing catalog entries ---------------------------------------------------------------- */

struct kvmdci_trace;

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
	uint64_t reserved[4];
};

/** Called for each hit; return < 0 to stop polling. */
typedef int (*kvmdci_hit_fn)(struct kvmdci_trace *tr, const struct kvmdci_hit *hit, void *data);

/** kvmdci_trace_new - a tracer of catalog entries on the kernel's target. */
int kvmdci_trace_new(struct kvmdci_kernel *k, struct kvmdci_catalog *cat,
		     struct kvmdci_trace **ret);
/** kvmdci_trace_unref - free (call kvmdci_trace_stop first). NULL accepted; returns NULL. */
struct kvmdci_trace *kvmdci_trace_unref(struct kvmdci_trace *tr);
/**
 * kvmdci_trace_add - trace entry @name, reporting only hits where @when (a capture
 * expression, or NULL) is non-zero. Resolves and compiles everything now. Returns the entry's
 * index in the trace.
 */
int kvmdci_trace_add(struct kvmdci_trace *tr, const char *name, const char *when);
/** kvmdci_trace_entry_name - name of traced entry @i. */
const char *kvmdci_trace_entry_name(struct kvmdci_trace *tr, int i);
/** kvmdci_trace_entry_stats - hits reported and hits filtered out by `when` for entry @i. */
int kvmdci_trace_entry_stats(struct kvmdci_trace *tr, int i, uint64_t *hits, uint64_t *filtered);
/**
 * kvmdci_trace_reads - target memory reads issued so far for the captures and `when`
 * filters. Within one hit, loads through the same pointer of neighbouring fields (up to 256
 * bytes apart) are one read, and a pointer loaded by several captures is read once.
 */
uint64_t kvmdci_trace_reads(struct kvmdci_trace *tr);
/** kvmdci_trace_start - insert the breakpoints and resume the target. */
int kvmdci_trace_start(struct kvmdci_trace *tr);
/**
 * kvmdci_trace_poll - handle hits for up to @timeout_ms, calling @fn for each reported one.
 * Returns the number of hits, or a negative errno (-EPIPE: the stub went away).
 */
int kvmdci_trace_poll(struct kvmdci_trace *tr, int timeout_ms, kvmdci_hit_fn fn, void *data);
/** kvmdci_trace_stop - stop, remove the breakpoints, let the target run. Safe twice. */
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
 * kvmdci_exits_new - prepare exit tracing: resolves the catalog's exit entry for the loaded
 * vendor module and compiles its exit-reason capture against the target's types.
 */
int kvmdci_exits_new(struct kvmdci_kernel *k, struct kvmdci_catalog *cat,
		     enum kvmdci_trigger trigger, struct kvmdci_exits **ret);
/** kvmdci_exits_unref - free (call kvmdci_exits_stop first). NULL accepted; returns NULL. */
struct kvmdci_exits *kvmdci_exits_unref(struct kvmdci_exits *e);
/** kvmdci_exits_trigger_description - what trigger is used and why, for people. */
const char *kvmdci_exits_trigger_description(struct kvmdci_exits *e);
/** kvmdci_exits_trigger - the trigger chosen. */
enum kvmdci_trigger kvmdci_exits_trigger(struct kvmdci_exits *e);
/** kvmdci_exits_start - insert the trigger and resume the target. */
int kvmdci_exits_start(struct kvmdci_exits *e);
/**
 * kvmdci_exits_poll - handle hits for up to @timeout_ms. Returns the number of hits handled,
 * or a negative errno (-EPIPE when the stub went away).
 */
int kvmdci_exits_poll(struct kvmdci_exits *e, int timeout_ms);
/**
 * kvmdci_exits_stop - stop the target, count a last pending hit, remove the trigger and let
 * the target run again. Safe to call more than once.
 */
int kvmdci_exits_stop(struct kvmdci_exits *e);
/**
 * kvmdci_exits_stop_after - kvmdci_exits_poll returns as soon as @n exits are counted in all
 * (0: no limit), so that a caller can stop there. A hit that races with the stop is still
 * counted, so the total may end one above @n.
 */
void kvmdci_exits_stop_after(struct kvmdci_exits *e, uint64_t n);
/** kvmdci_exits_vendor - vendor whose exit codes are counted. */
enum kvmdci_vendor kvmdci_exits_vendor(struct kvmdci_exits *e);
/** kvmdci_exits_total - all hits counted. */
uint64_t kvmdci_exits_total(struct kvmdci_exits *e);

/**
 * kvmdci_exits_watch_stats - for the watch trigger: stops that repeated the last write (QEMU
 * may report one write several times; they are recognised by the counter not moving and not
 * counted) and writes no stop was seen for (the counter moved by more than one).
 */
void kvmdci_exits_watch_stats(struct kvmdci_exits *e, uint64_t *repeated, uint64_t *missed);

/**
 * kvmdci_exits_sample - sampling instead of every exit: the trigger is in for @duty (0 < duty
 * <= 1) of each @period_ms and out for the rest, when the host runs without stops. Call
 * before kvmdci_exits_start. kvmdci_exits_coverage then says what share of KVM's exits was
 * seen. Returns -EINVAL for a duty outside (0, 1] or a period outside 10 ms..1 h.
 */
int kvmdci_exits_sample(struct kvmdci_exits *e, double duty, int period_ms);

/** What a run covered, measured against KVM's own counters (kvmdci_exits_coverage). */
struct kvmdci_exits_coverage {
	uint64_t counted;   /* hits counted on the vCPUs measured */
	uint64_t kvm_exits; /* the sum of their kvm_vcpu.stat.exits deltas over the run */
	int32_t vcpus;      /* vCPUs measured: listed at the stop (new ones count from 0) */
	int32_t vcpus_gone; /* vCPUs hit but gone at the stop: left out of both figures */
	double duty;        /* the duty cycle asked for (1 without sampling) */
	int32_t period_ms;  /* its period (0 without sampling) */
	double armed_s;     /* time the trigger was in */
	double run_s;       /* time from the start to the stop */
	uint64_t reserved[4];
};
/**
 * kvmdci_exits_coverage - after kvmdci_exits_stop: hits counted against the exits KVM
 * counted over the same run. Without sampling the two are equal when nothing was missed.
 * Returns 0, or -ENODATA when the counters could not be read at the stop (the timing fields
 * are still filled in).
 */
int kvmdci_exits_coverage(struct kvmdci_exits *e, struct kvmdci_exits_coverage *c);

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
 * kvmdci_exits_counts - copy up to @max result rows; returns the number of rows (may exceed
 * @max).
 */
int kvmdci_exits_counts(struct kvmdci_exits *e, struct kvmdci_exit_count *out, int max);

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
 * kvmdci_vmcs_field_decode - take a VMCS field encoding apart and name it. Returns 0, -ENOENT
 * for a well-formed encoding that has no name (@out filled but for the name), -EINVAL when
 * reserved bits are set or a high access names a field that is not 64-bit.
 */
int kvmdci_vmcs_field_decode(uint32_t encoding, struct kvmdci_vmcs_field *out);
/** kvmdci_vmcs_field_lookup - the encoding of a field name (any case; "_HIGH" suffix accepted). */
int kvmdci_vmcs_field_lookup(const char *name, uint32_t *encoding);
/** kvmdci_vmcs_field_count - number of named fields in the table (SDM Appendix B). */
int kvmdci_vmcs_field_count(void);
/** kvmdci_vmcs_field_at - field @i of the table, sorted by encoding; -ERANGE past the end. */
int kvmdci_vmcs_field_at(int i, struct kvmdci_vmcs_field *out);
/** kvmdci_vmcs_type_name - "control", "exit_info", "guest", "host"; NULL otherwise. */
const char *kvmdci_vmcs_type_name(int type);
/** kvmdci_vmcs_width_name - "16", "64", "32", "natural"; NULL otherwise. */
const char *kvmdci_vmcs_width_name(int width);

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
/** kvmdci_vmx_vcpu - decode the VMX state of one vCPU (kvm_intel must be loaded). */
int kvmdci_vmx_vcpu(struct kvmdci_kernel *k, uint64_t vcpu, struct kvmdci_vmx_vcpu *out);
/**
 * kvmdci_vmx_exit_flag_name - name of bit @bit (16..31) of a VMX exit reason:
 * "bus_lock_detected" (26), "enclave_mode" (27), "pending_mtf" (28), "from_vmx_root" (29),
 * "failed_vmentry" (31); NULL for others.
 */
const char *kvmdci_vmx_exit_flag_name(int bit);
/**
 * kvmdci_vmx_vmcs12 - decode KVM's kernel copy of a nested guest's VMCS (struct vmcs12 at
 * @addr, e.g. kvmdci_vmx_vcpu().cached_vmcs12): every member of the target's struct vmcs12
 * with its VMCS encoding, padding left out. @revision gets the header's revision id: KVM
 * writes 0x11e57ed0 (VMCS12_REVISION); another value means this is not a vmcs12 (a warning
 * is logged). Fills up to @max entries; returns the number of fields.
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
/** kvmdci_svm_vcpu - decode the SVM state of one vCPU (kvm_amd must be loaded). */
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
	uint32_t exit_code_hi;
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
/** kvmdci_svm_vmcb - decode the VMCB at @addr (kernel virtual), layout from struct vmcb. */
int kvmdci_svm_vmcb(struct kvmdci_kernel *k, uint64_t addr, struct kvmdci_vmcb *out);
/**
 * kvmdci_svm_vmcb12 - what KVM holds of the VMCB a nested hypervisor (L1) gave to VMRUN for
 * its guest L2 (vmcb12, in L1's memory), for the vCPU at @vcpu: @out->addr is its
 * guest-physical address (svm->nested.vmcb12_gpa: set while L2 runs, 0 after the #VMEXIT to
 * L1); the control area is KVM's copy from L1's last VMRUN (svm->nested.ctl: intercepts,
 * iopm/msrpm, asid, nested_ctl, ...); of the save area only efer, cr0, cr3, cr4, dr6, dr7 and
 * cs (svm->nested.save, 5.17+, cs on some kernels), the rest is left 0. -ENOENT where the
 * kernel keeps no such copy (before 5.10); -ENODEV without kvm_amd.
 */
int kvmdci_svm_vmcb12(struct kvmdci_kernel *k, uint64_t vcpu, struct kvmdci_vmcb *out);
/**
 * kvmdci_svm_vmcb_fields - every member of the target's struct vmcb (control.*, save.*),
 * reserved space left out, read from the VMCB at @addr. Fills up to @max entries; returns
 * the number of fields.
 */
int kvmdci_svm_vmcb_fields(struct kvmdci_kernel *k, uint64_t addr, struct kvmdci_field *out,
			   int max);
/**
 * kvmdci_svm_intercept_name - name of intercept bit @bit of control.intercepts[] (word
 * @bit / 32, bit @bit % 32): "cr0_read", ..., "exception_6", "intr", "ioio_prot", "msr_prot",
 * "vmrun", ... (APM vol. 2 table B-1); NULL for an unnamed bit.
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
	uint64_t reserved[8];
};
/**
 * kvmdci_kvm_cpu_virt - for every CPU of the target: CR4.VMXE / EFER.SVME from the CPU's own
 * registers, KVM's idea of whether it enabled virtualization there (whichever of
 * cpus_hardware_enabled, per-CPU hardware_enabled or virtualization_enabled the kernel has),
 * KVM's per-CPU VMXON region / svm_data, the loaded VMCS, and a verdict. A CPU stopped inside
 * a guest is reported as such (in_guest) instead of with the guest's registers. Fills up to
 * @max entries; returns the number of CPUs.
 */
int kvmdci_kvm_cpu_virt(struct kvmdci_kernel *k, struct kvmdci_cpu_virt *out, int max);
/** kvmdci_virt_owner_name - "unknown", "off", "kvm", "foreign", "inconsistent". */
const char *kvmdci_virt_owner_name(int owner);

/** IA32_DEBUG_INTERFACE (MSR 0xC80) decoded. */
struct kvmdci_debug_interface {
	uint64_t raw;
	int32_t enable;         /* bit 0: debug interface enabled (needed for DCI) */
	int32_t lock;           /* bit 30: locked until reset */
	int32_t debug_occurred; /* bit 31: a debugger was attached since reset */
	int32_t pad;
};
/** kvmdci_debug_interface_decode - decode a raw IA32_DEBUG_INTERFACE value. */
void kvmdci_debug_interface_decode(uint64_t raw, struct kvmdci_debug_interface *out);

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
 * kvmdci_unwinder_new - prepare unwinding on @k's target: ORC tables of vmlinux (from the
 * vmlinux file's .orc_unwind and .orc_unwind_ip sections, else from target memory) and of
 * every loaded module (struct module.arch in target memory), pt_regs and task layouts from
 * type info. Takes a reference on @k.
 */
int kvmdci_unwinder_new(struct kvmdci_kernel *k, struct kvmdci_unwinder **ret);
/** kvmdci_unwinder_unref - free. NULL is accepted; returns NULL. */
struct kvmdci_unwinder *kvmdci_unwinder_unref(struct kvmdci_unwinder *u);
/**
 * kvmdci_unwind_regs - unwind from an exact instruction pointer, stack and frame pointer (a
 * stopped CPU's rip, rsp, rbp). Returns 0 with @out filled, however the unwind ended.
 */
int kvmdci_unwind_regs(struct kvmdci_unwinder *u, uint64_t ip, uint64_t sp, uint64_t bp,
		       struct kvmdci_stack *out);
/**
 * kvmdci_unwind_task - the kernel stack of a task (struct task_struct *): from the registers
 * of the CPU it runs on when it is that CPU's current task, else from its saved context
 * (thread.sp -> struct inactive_task_frame).
 */
int kvmdci_unwind_task(struct kvmdci_unwinder *u, uint64_t task, struct kvmdci_stack *out);
/** kvmdci_unwind_end_name - "end of stack", "user mode", "bad ORC entry", ... */
const char *kvmdci_unwind_end_name(int end);
/**
 * kvmdci_kernel_symbolize - "module!function+0xoff" for a kernel address ("vmlinux!" for the
 * kernel image) into @buf. -ENOENT when no symbol covers it (then @buf holds "0x...").
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
 * kvmdci_unwind_cpu - describe CPU @cpu of a stopped target, and unwind its kernel stack into
 * @stack (NULL: no stack). A CPU running a guest shows the guest's registers: it is reported
 * as KVMDCI_CPU_GUEST with the current task (the vCPU thread) and, where the host state saved
 * at VM entry is found, the host stack that entered the guest.
 */
int kvmdci_unwind_cpu(struct kvmdci_unwinder *u, int cpu, struct kvmdci_cpu_info *info,
		      struct kvmdci_stack *stack);
/** kvmdci_cpu_mode_name - "kernel", "user", "guest", "unknown". */
const char *kvmdci_cpu_mode_name(int mode);

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
/** kvmdci_kernel_task_info - decode a struct task_struct *. */
int kvmdci_kernel_task_info(struct kvmdci_kernel *k, uint64_t task, struct kvmdci_task_info *out);
/**
 * kvmdci_kernel_task_find - the task_struct of thread @pid (every thread of every process on
 * init_task's list, bounded). -ESRCH when none.
 */
int kvmdci_kernel_task_find(struct kvmdci_kernel *k, int pid, uint64_t *task);

#ifdef __cplusplus
}
#endif
#endif
