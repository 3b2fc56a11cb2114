/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vmlinux symbols from the kernel's own kallsyms tables in target memory. */
#pragma once

#include <stdint.h>

struct kvmdci_kernel;

/* Where the tables are, as runtime addresses (found through VMCOREINFO or by scanning). */
struct kallsyms_tables {
	uint64_t num_syms; /* address of kallsyms_num_syms */
	uint64_t names, token_table, token_index, offsets;
	/* address of kallsyms_relative_base; 0 where the kernel has none and each offset
	 * counts from its own place in kallsyms_offsets (Debian's 7.2) */
	uint64_t relative_base;
	uint32_t count; /* the value of kallsyms_num_syms */
	int cpu;        /* the CPU whose paging showed them, -1: our own walk */
	char how[64];   /* "VMCOREINFO", "scan through CPU 1" */
};

/*
 * Locate the kallsyms tables (VMCOREINFO first, else a scan of the kernel image through a CPU
 * in the host kernel), make that CPU the kernel view's reader, decode every symbol into
 * k->vsyms (runtime address - k->kaslr) and set k->kaslr from _text. Errors are logged.
 */
int kallsyms_load(struct kvmdci_kernel *k, struct kallsyms_tables *tables);

/*
 * Find the tables in @img, a copy of kernel memory starting at virtual address @base (the
 * scan, without target access; exported for tests and fuzzers). 0 or -ENOENT.
 */
int kallsyms_find_in(const uint8_t *img, size_t len, uint64_t base, struct kallsyms_tables *t);
