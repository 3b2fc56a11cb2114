/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The base every memory-dump backend (core.c, kdump.c, kcore.c) is built on: the file, its
 * notes (CPUs, VMCOREINFO), the error helper, and the target operations that are the same
 * for every dump with CPU notes. A backend's state starts with a struct dump_base, so these
 * operations take the backend's pointer as it is.
 */
#pragma once

#include "internal.h"
#include "target/dump-notes.h"

struct dump_base {
	struct kvmdci_ctx *ctx;
	char *path;
	int fd; /* -1 when not open */
	struct dump_notes notes;
	const struct dump_cpu *cpus; /* into notes (dump_cpus) */
	int ncpus;
	char *vmcoreinfo;	/* from elsewhere (libkdumpfile) when no note carried it */
	phys_read_fn read_phys; /* the backend's physical reader, under virtual reads */
};

/*
 * A backend's zeroed state of @size bytes, which starts with a struct dump_base, set up for
 * the dump at @path (no file open yet); NULL when out of memory.
 */
void *dump_base_new(size_t size, struct kvmdci_ctx *ctx, const char *path, phys_read_fn read_phys);
/* Close and free what the base holds (not the state itself). */
void dump_base_fini(struct dump_base *b);
/* Log "<path>: <message>" as an error and return @err. */
int dump_fail(struct dump_base *b, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * Read @len bytes at file offset @off, across short reads and EINTR. Returns 0, -ENODATA at
 * the end of the file, or -errno; @done (may be NULL) gets the bytes read before a failure.
 */
int dump_pread(int fd, void *buf, size_t len, uint64_t off, size_t *done);
/* Take the CPUs from the notes: the QEMU ones, else NT_PRSTATUS (dump_cpus). */
void dump_base_take_cpus(struct dump_base *b);

/* Target operations shared by the dumps with CPU notes (@p: the backend's state). */
int dump_op_cpu_count(void *p);
int dump_op_regs_read(void *p, int cpu, const char *const *names, uint64_t *vals, int n);
int dump_op_read_virt(void *p, int cpu, uint64_t addr, void *buf, size_t len);
/* The VMCOREINFO of the notes, else the one found elsewhere, else NULL. */
const char *dump_op_vmcoreinfo(void *p);
