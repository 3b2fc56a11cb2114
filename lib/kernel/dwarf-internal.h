/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DWARF type reader's state, shared by dwarf.c (scan, conversion) and dwarf-index.c (the
 * name table and its on-disk index). */
#pragma once

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdint.h>

enum name_kind { NK_STRUCT = 1, NK_UNION, NK_ENUM, NK_TYPEDEF, NK_BASE, NK_MAX = NK_BASE };

struct name_ent {
	const char *name; /* NULL: empty slot */
	uint64_t off;
	uint32_t hash;
	uint8_t kind;
};

struct memo_ent {
	uint64_t key; /* DIE offset + 1; 0: empty slot */
	int32_t id;
};

struct pending_ptr {
	uint32_t ptr_id;
	uint64_t target;
};

struct ktypes_dwarf {
	struct kvmdci_ctx *ctx;
	char path[512];
	int fd;
	Elf *elf;
	Dwfl *dwfl; /* relocatable module files only */
	Dwarf *dw;
	struct btf *btf;
	int32_t index_type; /* the int BTF arrays are indexed by; 0: not added yet */

	/* name index: first complete definition of each (kind, name) in CU order */
	struct name_ent *names;
	size_t nnames, names_cap;
	char *name_blob;   /* names read from the disk index */
	uint64_t scan_off; /* next CU to scan */
	bool scan_done;
	bool dirty;
	char idx_path[600];
	uint64_t file_size;

	/* DIE offset -> BTF id */
	struct memo_ent *memo;
	size_t nmemo, memo_cap;

	struct pending_ptr *pending;
	size_t npending, pending_cap;
};


/* Remember @off as the definition of (kind, name) unless one was seen first. */
int dwarf_names_add(struct ktypes_dwarf *d, uint8_t kind, const char *name, uint64_t off);
const struct name_ent *dwarf_names_get(struct ktypes_dwarf *d, uint8_t kind, const char *name);
/* Forget every name and the scan position. */
void dwarf_names_reset(struct ktypes_dwarf *d);
/* Where the on-disk index of this file is (by build id; empty when off or unknown). */
void dwarf_index_path(struct ktypes_dwarf *d);
/* Load the disk index if there is one for this build id and file size; anything odd: ignore it. */
void dwarf_index_load(struct ktypes_dwarf *d);
/* Write the index (atomically: a temporary file renamed over it) if it grew. */
void dwarf_index_save(struct ktypes_dwarf *d);
