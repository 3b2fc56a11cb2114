/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel view's internals, shared with lib/kvm and lib/catalog. */
#pragma once

#include <stdbool.h>
#include <unistd.h>

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
	uint64_t kcr3;
	bool la57;
	bool have_kcr3;
	struct kmodule *mods;
	int nmods;
	char modules_dir[512];
	struct ksource syms_src;
	struct ksource types_src;
	char kaslr_how[64]; /* how the KASLR offset was found */
};

struct kvmdci_kernel *kvmdci_kernel_ref(struct kvmdci_kernel *k);
int kernel_type(struct kvmdci_kernel *k, const char *module, const char *type, struct btf **btf,
		int32_t *id);
/* Locate a member; on failure the context's last error says what is missing. */
int kernel_member(struct kvmdci_kernel *k, const char *module, const char *type, const char *path,
		  struct ktypes_loc *loc);
struct kmodule *kernel_module(struct kvmdci_kernel *k, const char *name);
int kernel_module_load_syms(struct kvmdci_kernel *k, struct kmodule *m);
void kernel_set_reader(struct kvmdci_kernel *k, int cpu);
/* Read through @cpu from now on (remembering its page-table root); -1: our own page walk. */
void kernel_use_reader(struct kvmdci_kernel *k, int cpu);
/* Use VMCOREINFO's init_top_pgt + phys_base for our own page walk; -ENOENT without them. */
int kernel_vmcoreinfo_pgt(struct kvmdci_kernel *k);
/* A "KEY=value" line of a VMCOREINFO text. */
bool kernel_vmcoreinfo_value(const char *vmci, const char *key, int base, uint64_t *val);
