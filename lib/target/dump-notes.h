/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a memory dump's ELF notes say about its CPUs and kernel, whatever the container (an
 * ELF core, a kdump-compressed file): each CPU's registers from the "QEMU" notes, else from
 * CORE/NT_PRSTATUS, and the VMCOREINFO text. Virtual reads of a CPU walk its page tables.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libkvmdci/libkvmdci.h"
#include "target/x86-pgwalk.h"

#define DUMP_MAX_CPUS 512

/* Registers we know a dump's notes to hold, by the names of a GDB x86-64 description. */
enum { R_RAX, R_RBX, R_RCX, R_RDX, R_RSI, R_RDI, R_RSP, R_RBP, R_R8, R_R9, R_R10, R_R11,
       R_R12, R_R13, R_R14, R_R15, R_RIP, R_EFLAGS, R_CS, R_SS, R_DS, R_ES, R_FS, R_GS,
       R_FS_BASE, R_GS_BASE, R_CR0, R_CR2, R_CR3, R_CR4, R_K_GS_BASE, R_COUNT };

struct dump_cpu {
	uint64_t reg[R_COUNT];
	uint32_t have; /* bit per register */
};

struct dump_notes {
	struct dump_cpu qemu[DUMP_MAX_CPUS]; /* from "QEMU" notes */
	int nqemu;
	struct dump_cpu prstatus[DUMP_MAX_CPUS]; /* from CORE/NT_PRSTATUS */
	int nprstatus;
	char *vmcoreinfo;
};

/* Take one note (name without its NUL is @name[0..namesz-1]). */
void dump_note(struct dump_notes *d, const char *name, size_t namesz, uint32_t type,
	       const uint8_t *desc, size_t descsz);
/* Walk a raw note area (4-byte aligned Elf64_Nhdr records) of @len bytes. Returns the number
 * of notes, or -EINVAL with the offset of the first bad one in @bad_off. */
int dump_notes_parse(struct dump_notes *d, const uint8_t *buf, size_t len, size_t *bad_off);
/* The CPUs: those of the QEMU notes if any, else NT_PRSTATUS ones. */
const struct dump_cpu *dump_cpus(const struct dump_notes *d, int *n);
void dump_notes_free(struct dump_notes *d);

/* Registers by name from @cpu; -ENOENT (with the last error set) when a dump lacks one. */
int dump_regs_read(struct kvmdci_ctx *ctx, const char *path, const struct dump_cpu *cpu,
		   int cpu_index, const char *const *names, uint64_t *vals, int n);
/* A virtual read through @cpu's page tables (CR0, CR3, CR4) over a physical reader. */
int dump_read_virt(struct kvmdci_ctx *ctx, const char *path, const struct dump_cpu *cpu,
		   int cpu_index, phys_read_fn read_phys, void *data, uint64_t addr, void *buf,
		   size_t len);
