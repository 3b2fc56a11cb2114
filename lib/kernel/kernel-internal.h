/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel view's internals, shared with lib/kvm and lib/catalog. */
#pragma once

#include <stdbool.h>
#include <unistd.h>

#include "kernel/ktypes.h"
#include "kernel/symtab.h"

struct kmodule {
	char name[64];
	uint64_t addr; /* struct module * */
	struct symtab syms;
	int syms_loaded;
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
