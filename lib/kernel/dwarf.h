/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel types from DWARF (libdw), converted lazily into an in-memory BTF so that everything
 * above lib/kernel keeps speaking BTF. Only looked-up types (and what they reference) are
 * converted; names are found by a lazy scan of the top-level DIEs of each CU, remembered on
 * disk per build id.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct btf;
struct kvmdci_ctx;
struct ktypes_dwarf;

/* Which type sections an ELF file has (a raw BTF file: neither, not an ELF). */
int ktypes_dwarf_probe(const char *path, bool *has_btf, bool *has_dwarf);
/* Open @path's DWARF (a vmlinux or a module .ko debug file); types go to a new empty BTF. */
int ktypes_dwarf_open(struct kvmdci_ctx *ctx, const char *path, struct ktypes_dwarf **ret);
/* Write the name index to the disk cache if it grew, and free everything (the BTF too). */
void ktypes_dwarf_free(struct ktypes_dwarf *d);
/* The BTF the types are converted into (owned by @d). */
struct btf *ktypes_dwarf_btf(struct ktypes_dwarf *d);
/* Find "struct x" / "union x" / "enum x" / a type name, converting it: its BTF id in *id. */
int ktypes_dwarf_find(struct ktypes_dwarf *d, const char *type, int32_t *id);
