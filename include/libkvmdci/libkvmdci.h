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
/** kvmdci_exits_vendor - vendor whose exit codes are counted. */
enum kvmdci_vendor kvmdci_exits_vendor(struct kvmdci_exits *e);
/** kvmdci_exits_total - all hits counted. */
uint64_t kvmdci_exits_total(struct kvmdci_exits *e);

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

#ifdef __cplusplus
}
#endif
#endif
