/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel type information: BTF, or DWARF converted on demand into BTF (kernel/dwarf.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/kbtf.h"

struct kvmdci_ctx;
struct ktypes_dwarf;
struct ktypes_index;

/* Where types come from; KTYPES_AUTO: $KVMDCI_TYPES (dwarf|btf), else .BTF, else .debug_info. */
enum ktypes_source { KTYPES_AUTO, KTYPES_BTF, KTYPES_DWARF };

struct ktypes {
	struct kbtf *vmlinux;
	struct ktypes_dwarf *vmlinux_dw; /* non-NULL: vmlinux is its BTF, filled from DWARF */
	struct ktypes_index *vmlinux_ix; /* name -> id, built at the first lookup (BTF only) */
	enum ktypes_source source;	 /* set before loading to force a source */
	char vmlinux_path[512];
	struct kvmdci_ctx *ctx; /* the loader's, for the cache's messages */
	/* vmlinux_ix's file in the on-disk cache (btf-v3-BUILDID.idx), "" when none */
	char vmlinux_ix_path[1024];
	uint8_t vmlinux_bid[64];
	size_t vmlinux_bid_len;
	struct {
		char name[64];
		struct kbtf *btf;
		struct ktypes_dwarf *dw;
		struct ktypes_index *ix;
	} mods[16];
	int nmods;
};

/* Where a member sits, and its (modifier-free) type. */
struct ktypes_loc {
	uint64_t bit_offset;
	uint32_t bitfield_size;
	uint32_t size;
	int32_t type_id;
};

int ktypes_load_vmlinux(struct kvmdci_ctx *ctx, struct ktypes *kt, const char *path);
/* The value of @key ("name", "vermagic") in the module file @path's .modinfo. Returns 0, -ENOENT
 * (no such key, or a debug file's empty .modinfo), -EINVAL (not an ELF file, no .modinfo, or a
 * truncated file) or -errno. */
int module_file_modinfo(const char *path, const char *key, char *out, size_t outsz);
/* The GNU build id (NT_GNU_BUILD_ID note) of the ELF file @path into @id (at most @idsz
 * bytes), its length into *@len. Returns 0, -ENOENT (no such note), -EINVAL (not ELF, or an
 * id longer than @idsz) or -errno. */
int module_file_build_id(const char *path, uint8_t *id, size_t idsz, size_t *len);
/* Also checks that @path is module @name (its .modinfo name=): kvm.ko copied over kvm-amd.ko is
 * refused with -EINVAL, not read as kvm_amd's types. */
int ktypes_add_module(struct kvmdci_ctx *ctx, struct ktypes *kt, const char *name,
		      const char *path);
void ktypes_free(struct ktypes *kt);
/* "DWARF" or "BTF": where vmlinux's (module NULL) or a module's types come from; NULL: none. */
const char *ktypes_source_name(const struct ktypes *kt, const char *module);
/* Find "struct x" / "union x" / "enum x" / a type name; module NULL: vmlinux then modules. */
int ktypes_find(struct ktypes *kt, const char *module, const char *type, struct kbtf **btf,
		int32_t *id);
int ktypes_resolve_path(struct kbtf *btf, int32_t id, const char *path, struct ktypes_loc *loc);
int32_t ktypes_skip_mods(struct kbtf *btf, int32_t id);
long ktypes_size(struct kbtf *btf, int32_t id);
