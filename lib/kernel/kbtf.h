/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A BTF as the kernel view reads it: raw BTF read in place (a .BTF section mapped from its file,
 * or a buffer read from the target's memory), or a libbpf BTF (the one DWARF is converted into,
 * kernel/dwarf.h). libbpf's btf__new() copies its input into fresh memory and walks every type
 * before the first lookup; for vmlinux's 4-5 MB that was the largest part of a tool's start
 * (bench/README.md, P5). In place, nothing is copied: the types are walked once to find where
 * each one starts (their offsets can come from the disk cache instead, btf.c) and the pages a
 * run never looks at are never touched.
 *
 * The accessors answer as libbpf 1.1's functions of the same names do (id 0 is void, an id past
 * the end is NULL, a split BTF answers for its base's ids and strings too); the inline helpers
 * of <bpf/btf.h> (btf_kind(), btf_members(), ...) work on the types they return.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct btf;
struct btf_type;

struct kbtf;

/*
 * Raw BTF at @data (@size bytes, little-endian as the host), split on @base when not NULL.
 * Not copied: @data must stay until kbtf_free(); with @own the kbtf owns it (@map_len > 0: an
 * mmap() of @map_len bytes at @map to unmap, else a malloc()ed @map to free; @map is the
 * start of what to release, @data lies in it). @offs, when not NULL, are the types' offsets
 * in the type section (from a cache the caller checked), used instead of a walk; they are
 * checked anyway. Returns NULL with errno set: EINVAL for a malformed BTF (with *@why, a
 * static string, saying what), ENOMEM.
 */
struct kbtf *kbtf_new(const void *data, uint32_t size, const struct kbtf *base, void *map,
		      size_t map_len, bool own, const uint32_t *offs, uint32_t noffs,
		      const char **why);
/* A libbpf BTF; @own: freed with the kbtf. */
struct kbtf *kbtf_wrap(struct btf *btf, bool own);
void kbtf_free(struct kbtf *b);

/* The libbpf BTF a wrapped kbtf holds (the DWARF converter's), else NULL. */
struct btf *kbtf_libbpf(const struct kbtf *b);
const struct kbtf *kbtf_base(const struct kbtf *b);
/* Ids are 1 .. kbtf_type_cnt() - 1 (a split BTF's own ids follow its base's). */
uint32_t kbtf_type_cnt(const struct kbtf *b);
const struct btf_type *kbtf_type_by_id(const struct kbtf *b, uint32_t id);
const char *kbtf_name_by_offset(const struct kbtf *b, uint32_t off);
/* The size of type @id in bytes through typedefs, modifiers and arrays; < 0 when it has none. */
long kbtf_resolve_size(const struct kbtf *b, uint32_t id);
/* The lowest id named @name of @kind (-1: any kind), searching the base too; -ENOENT. */
int32_t kbtf_find_by_name_kind(const struct kbtf *b, const char *name, int kind);
/* The in-place header's section sizes and the offsets table (NULL for a wrapped kbtf). */
bool kbtf_sections(const struct kbtf *b, uint32_t *type_len, uint32_t *str_len);
const uint32_t *kbtf_offsets(const struct kbtf *b, uint32_t *n);
