/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel view's own state: private to lib/kernel. lib/kvm and lib/catalog use the
 * functions of kernel/kernel-internal.h, never these fields.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/kernel-internal.h"
#include "kernel/ktypes.h"
#include "kernel/symtab.h"

/* Where a piece of kernel knowledge came from, for kvmdci-kernel and the -v line. */
struct ksource {
	enum kvmdci_source_kind kind;
	char format[32]; /* "System.map", "ELF symtab", "kallsyms", "BTF", ... */
	char path[512];  /* the file, when kind is FILE */
	uint64_t addr;   /* in target memory, when kind is MEMORY */
	uint64_t size;   /* bytes (BTF), 0 when unknown */
	uint64_t count;  /* symbols or types */
};

struct kmodule {
	char name[64];
	uint64_t addr; /* struct module * */
	struct symtab syms;
	int syms_loaded;
	struct ksource syms_src;
	struct ksource types_src;
};

/*
 * The read cache: 4 KiB pages of kernel virtual memory, filled by 1 KiB sectors, valid for
 * one stop of a live target (an entry belongs to one epoch; a new stop or a resume starts the
 * next). Not used for dumps (their reads are a memcpy) nor /proc/kcore (live memory without
 * stops). See kernel.c.
 */
#define KCACHE_PAGE 4096u
#define KCACHE_SECTOR 1024u /* default fill: one `m` packet of QEMU's stub (<= ~2 KB) */
#define KCACHE_SECTOR_MIN 64u
#define KCACHE_PAGES 64     /* 256 KiB, allocated once, at the first cached read */
#define KCACHE_TOUCH_BITS 10 /* sectors read once (exactly) this epoch: filled at the next touch */

struct kcache_page {
	uint64_t page; /* page address */
	uint64_t epoch;
	uint64_t used;      /* LRU tick */
	uint64_t valid; /* bit i: sector i holds data */
	uint8_t data[KCACHE_PAGE];
};

struct kcache_touch {
	uint64_t addr; /* sector address */
	uint64_t epoch;
	bool failed; /* a whole-sector read failed this epoch: exact reads only */
};

struct kcache {
	struct kcache_page pages[KCACHE_PAGES];
	struct kcache_touch touch[1 << KCACHE_TOUCH_BITS];
	uint64_t tick;
	int last; /* index of the last page found */
};

#define MAX_MODULES 4096

struct kvmdci_kernel {
	int refcount;
	struct kvmdci_ctx *ctx;
	struct kvmdci_target *target;
	struct symtab vsyms;
	struct ktypes types;
	uint64_t kaslr;
	uint64_t banner_addr;
	char banner[16];
	char release[128];
	int reader;
	bool reader_valid;
	bool no_reader; /* no CPU showed the host kernel since the last stop */
	uint64_t stop_gen; /* the target stop (its generation) the reader was picked after */
	uint64_t kcr3;
	bool la57;
	bool have_kcr3;
	struct kmodule *mods;
	int nmods;
	char modules_dir[512];
	struct ksource syms_src;
	struct ksource types_src;
	char kaslr_how[64]; /* how the KASLR offset was found */
	/* the linux_banner search's reads: how many, how many failed, how many read zeros, and
	 * the first failure, so that a failed search says what failed before what it suspects */
	unsigned int banner_reads, banner_read_errors, banner_zeros;
	uint64_t banner_first_bad;
	char banner_first_error[160];
	bool banner_first_efault;
	/* while kallsyms_load decodes the tables: the copy of kernel memory its scan read (through
	 * the reader); kvmdci_kernel_read serves what lies in it from there */
	const uint8_t *snap;
	uint64_t snap_addr;
	size_t snap_len;
	/* planned reads (kernel_plan_read): what a walk will read, read pipelined ahead for the
	 * current stop; kvmdci_kernel_read serves reads lying in one entry from there */
	struct kplan {
		uint64_t epoch; /* cache_epoch when filled; another: empty */
		struct kplan_entry {
			uint64_t addr;
			size_t len, off; /* bytes at data + off */
		} *e;
		size_t n, cap;
		uint8_t *data;
		size_t dlen, dcap;
		bool sorted;
	} plan;
	/* member offsets and enumerators found (types.c), allocated at the first lookup */
	struct ktypes_memo *memo;
	/* the io-bus walk's offsets and kvm.ko ops symbols (lib/kvm/iobus.c, malloc'd, opaque
	 * here), kept while the target's generation is iobus_gen - 1: a walk of N VMs asks for
	 * them 6N times */
	void *iobus_layout;
	uint64_t iobus_gen;
	/* read cache (see struct kcache) */
	struct kcache *cache;
	int cache_mode;       /* -1 not decided yet, 0 off, 1 on */
	unsigned int cache_sector; /* bytes per fill (KVMDCI_READ_CACHE) */
	uint64_t cache_epoch; /* bumped at each stop and whenever the target's generation moved */
	uint64_t cache_tgen;  /* the target generation cache_epoch belongs to */
	struct kcache_stats {
		uint64_t hits, fills, fill_failures, exact;
	} cache_stats;
};

struct kmodule *kernel_module(struct kvmdci_kernel *k, const char *name);
int kernel_module_load_syms(struct kvmdci_kernel *k, struct kmodule *m);
/* The build id of loaded module @m as the kernel keeps it (the .note.gnu.build-id section it
 * loaded, found through the module's sysfs notes attributes). 0; -ENOENT when the kernel
 * keeps no notes attributes for it (no sysfs or kallsyms) or has no such note; other errors
 * when the memory cannot be read or is implausible. Nothing logged. */
int kernel_module_build_id(struct kvmdci_kernel *k, const struct kmodule *m, uint8_t *id,
			   size_t idsz, size_t *len);
/* Read through @cpu from now on (remembering its page-table root); -1: our own page walk. */
void kernel_use_reader(struct kvmdci_kernel *k, int cpu);
/*
 * Planned reads: read every request of @rq (n of them) ahead, pipelined across objects (as the
 * tracer plans a hit's reads), and keep what came back for the current stop: later
 * kvmdci_kernel_read calls that lie inside one of them are answered from it, with no packet.
 * For a walk over many objects that reads level by level (all VMs' bus arrays, then all buses,
 * then all devices). Only on a live target with run control (a dump reads without cost);
 * results are per request (rq[i].result), and a failed one is simply read again later.
 * KVMDCI_READ_PLAN=0 turns it off (for comparisons). Returns 0, or -ENOMEM.
 */
int kernel_plan_read(struct kvmdci_kernel *k, struct target_read *rq, int n);
/* Whether kernel_plan_read reads at all here (a live target with run control, and not
 * KVMDCI_READ_PLAN=0): a walk that must read something itself to plan the next level asks
 * first, so that without a plan it reads nothing twice. */
bool kernel_plan_enabled(struct kvmdci_kernel *k);
/* Keep @len bytes at @addr, just read by the caller in this stop, with the planned reads (a
 * list's links, read one by one, for the walks that follow it again). 0 or -ENOMEM. */
int kernel_plan_note(struct kvmdci_kernel *k, uint64_t addr, const void *buf, size_t len);
/* Use VMCOREINFO's init_top_pgt + phys_base for our own page walk; -ENOENT without them. */
int kernel_vmcoreinfo_pgt(struct kvmdci_kernel *k);
/* A "KEY=value" line of a VMCOREINFO text. */
bool kernel_vmcoreinfo_value(const char *vmci, const char *key, int base, uint64_t *val);
/* Free what kernel_member and kernel_enum_value kept (types.c). */
void kernel_memo_free(struct kvmdci_kernel *k);
/* Forget everything the read cache holds (memory may have changed). */
void kernel_cache_invalidate(struct kvmdci_kernel *k);

/* memory.c */
/* Take note of a stop of the target since the last look (see memory.c). */
void kernel_notice_stop(struct kvmdci_kernel *k);
/* Read kernel virtual memory with our own page walk from the kernel's page-table root. */
int kernel_read_physwalk(struct kvmdci_kernel *k, uint64_t addr, void *buf, size_t len);
/* Remember the kernel's page-table root (and paging depth) that @cpu shows. */
void kernel_remember_page_root(struct kvmdci_kernel *k, int cpu);
/* kaslr.c */
/* Does "Linux version " read back at @addr through @cpu (-1: our own page walk)? */
bool kernel_banner_at(struct kvmdci_kernel *k, int cpu, uint64_t addr);
/* Find the KASLR offset from linux_banner's linked address; errors are logged. */
int kernel_find_kaslr(struct kvmdci_kernel *k, uint64_t linked_banner);
/* No CPU in the kernel half of a live target: let it run a moment (up to 40 times) until one
 * is. true when one is now; false when one was already (nothing ran), or none came. */
bool kernel_run_until_in_kernel(struct kvmdci_kernel *k);
/* modules.c */
/* Read the kernel's module list into k->mods; errors are logged. */
int kernel_modules_walk(struct kvmdci_kernel *k);
/* kernel.c */
/* A source that is a file. */
void kernel_file_source(struct ksource *s, const char *format, const char *path);
/* unwind.c */
/* The module whose ORC table covers @addr (module text), or NULL. */
struct kvmdci_unwinder;
const char *unwinder_module_at(struct kvmdci_unwinder *u, uint64_t addr);
