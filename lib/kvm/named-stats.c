// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * KVM's own statistics of VMs (struct kvm's stat, struct kvm_vm_stat) and vCPUs (struct
 * kvm_vcpu's stat, struct kvm_vcpu_stat), named and typed as KVM itself names them in debugfs
 * and in its binary stats file descriptors.
 *
 * From 5.14 KVM describes every stat in two arrays of its own, kvm_vm_stats_desc and
 * kvm_vcpu_stats_desc (struct _kvm_stats_desc: flags with the type, unit and base, exponent,
 * size in 64-bit values, byte offset into the stats struct, bucket size, name), counted by
 * kvm_vm_stats_header / kvm_vcpu_stats_header's num_desc. We read those arrays from the
 * target's memory, their layout from the type info: the names are debugfs's file names, and
 * the type tells counters (cumulative) from gauges (instant, peak) and histograms. Before
 * 5.14 there are no descriptors; x86's debugfs_entries[] (name, offset from struct kvm or
 * struct kvm_vcpu, VM or vCPU) then gives debugfs's names, of unknown type. Without either,
 * every 64-bit member of the stats structs is a stat named by its member
 * (docs/kernel-facts.md, "KVM's named stats").
 */
#include <bpf/btf.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kvm/kvm-internal.h"

#define MAX_DESC 512
#define MAX_STAT_BYTES 65536

/*
 * The flags word of struct kvm_stats_desc (the kernel's UAPI, include/uapi/linux/kvm.h, an
 * ABI that does not change): type in bits 3:0, unit in 7:4, base in 11:8
 * (docs/kernel-facts.md, "KVM's named stats").
 */
#define STATS_TYPE_MASK 0xfu
#define STATS_UNIT_SHIFT 4
#define STATS_UNIT_MASK 0xfu
#define STATS_BASE_SHIFT 8
#define STATS_BASE_MASK 0xfu

struct named_stat {
	char name[64];
	struct kvmdci_kvm_stat_desc d;
};

struct stat_scope {
	uint64_t stat_off; /* of struct kvm's or struct kvm_vcpu's stat */
	uint32_t size;     /* of the stats struct */
	int n, nvalues;
	struct named_stat *s;
};

struct kvmdci_kvm_stats {
	int refcount;
	const char *source; /* "kvm-descriptors", "kvm-debugfs-entries", "type-info" */
	struct stat_scope scope[2];
};

static const char *const kind_names[] = {
	[KVMDCI_KVM_STAT_CUMULATIVE] = "cumulative", [KVMDCI_KVM_STAT_INSTANT] = "instant",
	[KVMDCI_KVM_STAT_PEAK] = "peak",	     [KVMDCI_KVM_STAT_LINEAR_HIST] = "linear_hist",
	[KVMDCI_KVM_STAT_LOG_HIST] = "log_hist",     [KVMDCI_KVM_STAT_UNKNOWN] = "unknown",
};

static const char *const unit_names[] = {"none", "bytes", "seconds", "cycles", "boolean"};

KVMDCI_EXPORT const char *kvmdci_kvm_stat_kind_name(enum kvmdci_kvm_stat_kind kind)
{
	return (unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[kind]
		       ? kind_names[kind]
		       : NULL;
}

/* What each scope is called in the kernel: the owner and its stats struct, the descriptors. */
static const struct {
	const char *owner, *stat_type, *desc_sym, *header_sym;
} scope_names[2] = {
	[KVMDCI_KVM_STAT_SCOPE_VM] = {"struct kvm", "struct kvm_vm_stat", "kvm:kvm_vm_stats_desc",
				      "kvm:kvm_vm_stats_header"},
	[KVMDCI_KVM_STAT_SCOPE_VCPU] = {"struct kvm_vcpu", "struct kvm_vcpu_stat",
					"kvm:kvm_vcpu_stats_desc", "kvm:kvm_vcpu_stats_header"},
};

/* The members of the descriptors that we read, resolved once. */
struct desc_layout {
	uint64_t num_desc, flags, exponent, size, offset, bucket_size, name, name_size;
	uint64_t stride; /* the size of one descriptor */
};

/*
 * The descriptor's type: in 6.1, struct _kvm_stats_desc wraps the UAPI struct kvm_stats_desc
 * (whose name[] is a flexible array) as "desc", the name after it; 6.12 and 7.2 give struct
 * kvm_stats_desc itself a sized name in the kernel and have no wrapper (docs/kernel-facts.md, "KVM's named stats"). Whichever the type info has.
 */
static const struct {
	const char *type, *prefix;
} desc_types[] = {{"struct _kvm_stats_desc", "desc."}, {"struct kvm_stats_desc", ""}};

/* 1 with @dl filled when the kernel has descriptors (symbols and types), 0 when it has none. */
static int desc_layout(struct kvmdci_kernel *k, struct desc_layout *dl, uint64_t syms[2][2])
{
	for (int s = 0; s < 2; s++)
		if (kvmdci_kernel_symbol(k, scope_names[s].desc_sym, &syms[s][0]) < 0 ||
		    kvmdci_kernel_symbol(k, scope_names[s].header_sym, &syms[s][1]) < 0)
			return 0;
	if (kernel_member_offset(k, NULL, "struct kvm_stats_header", "num_desc", &dl->num_desc,
				 NULL) < 0)
		return 0;
	for (size_t t = 0; t < sizeof(desc_types) / sizeof(desc_types[0]); t++) {
		const char *ty = desc_types[t].type, *pre = desc_types[t].prefix;
		char p[6][32];
		uint64_t *offs[6] = {&dl->flags,  &dl->exponent,    &dl->size,
				     &dl->offset, &dl->bucket_size, &dl->name};
		static const char *const names[6] = {"flags",  "exponent",    "size",
						     "offset", "bucket_size", "name"};
		/* the widths scope_from_desc reads (UAPI struct kvm_stats_desc: __u32 flags,
		 * __s16 exponent, __u16 size, __u32 offset, __u32 bucket_size): the type info
		 * must say the same */
		static const uint64_t widths[5] = {4, 2, 2, 4, 4};
		bool ok = true;
		uint64_t size, w;

		for (int i = 0; i < 6 && ok; i++) {
			snprintf(p[i], sizeof(p[i]), "%s%s", i == 5 ? "" : pre, names[i]);
			ok = kernel_member_offset(k, NULL, ty, p[i], offs[i],
						  i == 5 ? &dl->name_size : &w) == 0 &&
			     (i == 5 || w == widths[i]);
		}
		/* every member inside one descriptor, or the type info is not what we read */
		if (ok && dl->name_size > 0 && kvmdci_kernel_type_size(k, NULL, ty, &size) == 0 &&
		    dl->flags + 4 <= size && dl->exponent + 2 <= size && dl->size + 2 <= size &&
		    dl->offset + 4 <= size && dl->bucket_size + 4 <= size &&
		    dl->name + dl->name_size <= size) {
			dl->stride = size;
			return 1;
		}
	}
	return 0;
}

/* A little-endian 16-bit member. */
static uint16_t le16_at(const uint8_t *buf, uint64_t off)
{
	return (uint16_t)(buf[off] | buf[off + 1] << 8);
}

/* The stats of one scope from KVM's descriptor array. */
static int scope_from_desc(struct kvmdci_kernel *k, int s, const struct desc_layout *dl,
			   const uint64_t syms[2], struct stat_scope *sc)
{
	struct kvmdci_ctx *ctx = kvmdci_kernel_get_ctx(k);
	uint8_t hdr[64];
	uint8_t *buf;
	int r, n, values = 0;

	if (dl->num_desc + 4 > sizeof(hdr) || dl->stride < 16 || dl->stride > 4096)
		return kvmdci_err(ctx, "type info: KVM's stats descriptor has an unexpected layout"),
		       -EINVAL;
	if ((r = kvmdci_kernel_read(k, syms[1] + dl->num_desc, hdr, 4)) < 0) {
		kvmdci_err(ctx, "cannot read %s at 0x%llx", scope_names[s].header_sym,
			   (unsigned long long)syms[1]);
		return r;
	}
	n = (int)le32(hdr);
	if (n <= 0 || n > MAX_DESC) {
		kvmdci_err(ctx, "%s at 0x%llx says %d stats (expected 1 to %d): not KVM's stats header",
			   scope_names[s].header_sym, (unsigned long long)syms[1], n, MAX_DESC);
		return -EINVAL;
	}
	buf = malloc((size_t)n * dl->stride);
	sc->s = calloc((size_t)n, sizeof(*sc->s));
	if (!buf || !sc->s) {
		free(buf);
		return -ENOMEM;
	}
	if ((r = kvmdci_kernel_read(k, syms[0], buf, (size_t)n * dl->stride)) < 0) {
		kvmdci_err(ctx, "cannot read %d stats descriptors of %s at 0x%llx", n,
			   scope_names[s].desc_sym, (unsigned long long)syms[0]);
		free(buf);
		return r;
	}
	for (int i = 0; i < n; i++) {
		const uint8_t *d = buf + (size_t)i * dl->stride;
		struct named_stat *ns = &sc->s[i];
		uint32_t flags = le32(d + dl->flags);
		unsigned type = flags & STATS_TYPE_MASK;
		unsigned unit = (flags >> STATS_UNIT_SHIFT) & STATS_UNIT_MASK;
		unsigned base = (flags >> STATS_BASE_SHIFT) & STATS_BASE_MASK;
		size_t nlen = dl->name_size < sizeof(ns->name) ? dl->name_size : sizeof(ns->name) - 1;

		memcpy(ns->name, d + dl->name, nlen);
		ns->name[nlen] = 0;
		ns->d.name = ns->name;
		ns->d.kind = type <= KVMDCI_KVM_STAT_LOG_HIST ? (enum kvmdci_kvm_stat_kind)type
							       : KVMDCI_KVM_STAT_UNKNOWN;
		ns->d.unit = unit < sizeof(unit_names) / sizeof(unit_names[0]) ? unit_names[unit]
									      : NULL;
		ns->d.base = base == 0 ? 10 : base == 1 ? 2 : 0;
		ns->d.exponent = (int16_t)le16_at(d, dl->exponent);
		ns->d.size = le16_at(d, dl->size);
		ns->d.offset = le32(d + dl->offset);
		ns->d.bucket_size = le32(d + dl->bucket_size);
		ns->d.index = (uint32_t)values;
		if (!ns->name[0] || ns->d.size == 0 || ns->d.offset % 8 ||
		    (uint64_t)ns->d.offset + 8ull * ns->d.size > sc->size) {
			kvmdci_err(ctx,
				   "%s[%d] at 0x%llx (\"%.48s\": offset %u, %u values) lies outside "
				   "%s (%u bytes): not KVM's stats descriptors",
				   scope_names[s].desc_sym, i,
				   (unsigned long long)(syms[0] + (uint64_t)i * dl->stride), ns->name,
				   ns->d.offset, ns->d.size, scope_names[s].stat_type, sc->size);
			free(buf);
			return -EINVAL;
		}
		values += (int)ns->d.size;
	}
	free(buf);
	sc->n = n;
	sc->nvalues = values;
	return 0;
}

/* The stats of one scope from the type info alone: every 64-bit member, one value each. */
static int scope_from_types(struct kvmdci_kernel *k, int s, struct stat_scope *sc)
{
	struct stat_field f[MAX_DESC];
	struct kbtf *btf;
	int32_t id;
	int r, n;

	if ((r = kernel_type(k, NULL, scope_names[s].stat_type, &btf, &id)) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(k), "%s",
			   kvmdci_ctx_last_error(kvmdci_kernel_get_ctx(k)));
		return r;
	}
	n = kvm_stats_collect(btf, id, 0, f, 0, MAX_DESC, 0);
	sc->s = calloc((size_t)n + 1, sizeof(*sc->s));
	if (!sc->s)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		struct named_stat *ns = &sc->s[i];
		snprintf(ns->name, sizeof(ns->name), "%.63s", f[i].name);
		ns->d = (struct kvmdci_kvm_stat_desc){.name = ns->name,
						      .kind = KVMDCI_KVM_STAT_UNKNOWN,
						      .offset = f[i].offset,
						      .size = 1,
						      .index = (uint32_t)i};
	}
	sc->n = sc->nvalues = n;
	return 0;
}

/* The type info's 64-bit members of a scope's stats struct: {name, offset} (for the checks). */
static int scope_members(struct kvmdci_kernel *k, int s, struct stat_field *f, int max)
{
	struct kbtf *btf;
	int32_t id;

	if (kernel_type(k, NULL, scope_names[s].stat_type, &btf, &id) < 0)
		return 0;
	return kvm_stats_collect(btf, id, 0, f, 0, max, 0);
}

/* A NUL-terminated name of at most @size - 1 bytes at @addr, read without crossing into the
 * next page past its end. */
static int read_name(struct kvmdci_kernel *k, uint64_t addr, char *out, size_t size)
{
	size_t n = size - 1, left = 4096 - (addr & 4095);
	int r;

	if (n > left)
		n = left;
	if ((r = kvmdci_kernel_read(k, addr, out, n)) < 0)
		return r;
	out[n] = 0;
	return 0;
}

/*
 * Before 5.14: x86's debugfs_entries[], one struct kvm_stats_debugfs_item per debugfs file
 * (name, offset, kind), ended by a NULL name. Its offsets count from struct kvm or struct
 * kvm_vcpu (VM_STAT/VCPU_STAT: offsetof(struct kvm, stat.x)); this is checked on the entries
 * whose name is also a member's, so that an offset counted from the stats struct itself is
 * seen too. 1 when read, 0 when the kernel has no such array, < 0 on a bad one.
 */
static int from_debugfs_entries(struct kvmdci_kernel *k, struct kvmdci_kvm_stats *st)
{
	struct kvmdci_ctx *ctx = kvmdci_kernel_get_ctx(k);
	uint64_t items, o_name, o_off, o_kind, stride;
	int64_t kinds[2];
	struct kernel_field f[] = {
		KERNEL_FIELD("struct kvm_stats_debugfs_item", "name", &o_name),
		KERNEL_FIELD("struct kvm_stats_debugfs_item", "offset", &o_off),
		KERNEL_FIELD("struct kvm_stats_debugfs_item", "kind", &o_kind),
	};
	struct stat_field *members = NULL;
	int nmem[2], r = 0;

	if (kvmdci_kernel_symbol(k, "kvm:debugfs_entries", &items) < 0 ||
	    !kernel_fields_present(k, NULL, f, sizeof(f) / sizeof(f[0])) ||
	    kvmdci_kernel_type_size(k, NULL, "struct kvm_stats_debugfs_item", &stride) < 0 ||
	    kernel_enum_value(k, "kvm", "enum kvm_stat_kind", "KVM_STAT_VM", &kinds[0]) < 0 ||
	    kernel_enum_value(k, "kvm", "enum kvm_stat_kind", "KVM_STAT_VCPU", &kinds[1]) < 0)
		return 0;
	if (stride > 256 || o_name + 8 > stride || o_off + 4 > stride || o_kind + 4 > stride)
		return 0;
	members = calloc(2 * MAX_DESC, sizeof(*members));
	for (int s = 0; s < 2 && members; s++) {
		nmem[s] = scope_members(k, s, members + s * MAX_DESC, MAX_DESC);
		st->scope[s].s = calloc(MAX_DESC, sizeof(*st->scope[s].s));
		if (!st->scope[s].s)
			r = -ENOMEM;
	}
	if (!members || r < 0) {
		free(members);
		return -ENOMEM;
	}
	int64_t base[2] = {-1, -1}; /* where the offsets count from, per scope */
	for (int i = 0; i < 2 * MAX_DESC; i++) {
		uint64_t at = items + (uint64_t)i * stride, name;
		uint8_t e[256];
		char nm[64];
		int s;

		if ((r = kvmdci_kernel_read(k, at, e, stride)) < 0) {
			kvmdci_err(ctx, "cannot read kvm:debugfs_entries[%d] at 0x%llx", i,
				   (unsigned long long)at);
			goto out;
		}
		if (!(name = le64(e + o_name))) {
			r = 1;
			goto out;
		}
		int32_t off = (int32_t)le32(e + o_off);
		int64_t kind = (int32_t)le32(e + o_kind);
		s = kind == kinds[0] ? 0 : kind == kinds[1] ? 1 : -1;
		if ((r = read_name(k, name, nm, sizeof(nm))) < 0) {
			kvmdci_err(ctx, "cannot read the name of kvm:debugfs_entries[%d] at 0x%llx", i,
				   (unsigned long long)name);
			goto out;
		}
		if (s < 0)
			continue; /* neither a VM's nor a vCPU's: not ours */
		struct stat_scope *sc = &st->scope[s];
		if (sc->n >= MAX_DESC)
			continue;
		if (base[s] < 0)
			for (int m = 0; m < nmem[s]; m++)
				if (!strcmp(members[s * MAX_DESC + m].name, nm))
					base[s] = off - (int64_t)members[s * MAX_DESC + m].offset;
		int64_t rel = off - (base[s] < 0 ? (int64_t)sc->stat_off : base[s]);
		if ((base[s] >= 0 && base[s] != (int64_t)sc->stat_off && base[s] != 0) || rel < 0 ||
		    rel % 8 || rel + 8 > sc->size) {
			kvmdci_err(ctx,
				   "kvm:debugfs_entries[%d] at 0x%llx (\"%s\": offset %d) lies outside "
				   "%s.stat (%u bytes at %llu): not KVM's debugfs table",
				   i, (unsigned long long)at, nm, off, scope_names[s].owner, sc->size,
				   (unsigned long long)sc->stat_off);
			r = -EINVAL;
			goto out;
		}
		struct named_stat *ns = &sc->s[sc->n];
		snprintf(ns->name, sizeof(ns->name), "%s", nm);
		ns->d = (struct kvmdci_kvm_stat_desc){.name = ns->name,
						      .kind = KVMDCI_KVM_STAT_UNKNOWN,
						      .offset = (uint32_t)rel,
						      .size = 1,
						      .index = (uint32_t)sc->n};
		sc->n++;
		sc->nvalues++;
	}
	kvmdci_err(ctx, "kvm:debugfs_entries at 0x%llx has no end within %d entries",
		   (unsigned long long)items, 2 * MAX_DESC);
	r = -EINVAL;
out:
	free(members);
	return r;
}

KVMDCI_EXPORT int kvmdci_kvm_stats_new(struct kvmdci_kernel *k, struct kvmdci_kvm_stats **ret)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct kvmdci_ctx *ctx = kvmdci_kernel_get_ctx(k);
	struct kvmdci_kvm_stats *st = calloc(1, sizeof(*st));
	struct desc_layout dl = {0};
	uint64_t syms[2][2];
	int r;

	if (!st)
		return -ENOMEM;
	st->refcount = 1;
	st->source = desc_layout(k, &dl, syms) > 0 ? "kvm-descriptors" : "type-info";
	for (int s = 0; s < 2; s++) {
		struct stat_scope *sc = &st->scope[s];
		uint64_t off, size;
		if ((r = kernel_member_offset(k, NULL, scope_names[s].owner, "stat", &off, &size)) <
		    0) {
			kvmdci_err(ctx, "%s", kvmdci_ctx_last_error(ctx));
			goto fail;
		}
		if (size == 0 || size > MAX_STAT_BYTES) {
			kvmdci_err(ctx, "type info: %s.stat is %llu bytes (expected 1 to %d)",
				   scope_names[s].owner, (unsigned long long)size, MAX_STAT_BYTES);
			r = -EINVAL;
			goto fail;
		}
		sc->stat_off = off;
		sc->size = (uint32_t)size;
	}
	if (!strcmp(st->source, "type-info") && (r = from_debugfs_entries(k, st)) != 0) {
		if (r < 0)
			goto fail;
		st->source = "kvm-debugfs-entries";
	}
	for (int s = 0; s < 2; s++) {
		if (!strcmp(st->source, "kvm-descriptors"))
			r = scope_from_desc(k, s, &dl, syms[s], &st->scope[s]);
		else if (!strcmp(st->source, "type-info"))
			r = scope_from_types(k, s, &st->scope[s]);
		else
			r = 0;
		if (r < 0)
			goto fail;
	}
	*ret = st;
	return 0;
fail:
	kvmdci_kvm_stats_unref(st);
	return r;
}

KVMDCI_EXPORT struct kvmdci_kvm_stats *kvmdci_kvm_stats_ref(struct kvmdci_kvm_stats *s)
{
	if (s)
		s->refcount++;
	return s;
}

KVMDCI_EXPORT struct kvmdci_kvm_stats *kvmdci_kvm_stats_unref(struct kvmdci_kvm_stats *s)
{
	if (!s || --s->refcount > 0)
		return NULL;
	free(s->scope[0].s);
	free(s->scope[1].s);
	free(s);
	return NULL;
}

KVMDCI_EXPORT const char *kvmdci_kvm_stats_source(const struct kvmdci_kvm_stats *s)
{
	return s->source;
}

static const struct stat_scope *get_scope(const struct kvmdci_kvm_stats *s,
					  enum kvmdci_kvm_stat_scope scope)
{
	return scope == KVMDCI_KVM_STAT_SCOPE_VM || scope == KVMDCI_KVM_STAT_SCOPE_VCPU
		       ? &s->scope[scope]
		       : NULL;
}

KVMDCI_EXPORT int kvmdci_kvm_stats_count(const struct kvmdci_kvm_stats *s,
					 enum kvmdci_kvm_stat_scope scope)
{
	const struct stat_scope *sc = get_scope(s, scope);
	return sc ? sc->n : -EINVAL;
}

KVMDCI_EXPORT int kvmdci_kvm_stats_values(const struct kvmdci_kvm_stats *s,
					  enum kvmdci_kvm_stat_scope scope)
{
	const struct stat_scope *sc = get_scope(s, scope);
	return sc ? sc->nvalues : -EINVAL;
}

KVMDCI_EXPORT int kvmdci_kvm_stats_desc(const struct kvmdci_kvm_stats *s,
					enum kvmdci_kvm_stat_scope scope, int i,
					struct kvmdci_kvm_stat_desc *out)
{
	const struct stat_scope *sc = get_scope(s, scope);
	if (!sc)
		return -EINVAL;
	if (i < 0 || i >= sc->n)
		return -ERANGE;
	*out = sc->s[i].d;
	return 0;
}

KVMDCI_EXPORT int kvmdci_kvm_stats_find(const struct kvmdci_kvm_stats *s,
					enum kvmdci_kvm_stat_scope scope, const char *name)
{
	const struct stat_scope *sc = get_scope(s, scope);
	if (!sc)
		return -EINVAL;
	for (int i = 0; i < sc->n; i++)
		if (!strcmp(sc->s[i].name, name))
			return i;
	return -ENOENT;
}

KVMDCI_EXPORT int kvmdci_kvm_stats_read(struct kvmdci_kernel *k, const struct kvmdci_kvm_stats *s,
					enum kvmdci_kvm_stat_scope scope, uint64_t addr,
					uint64_t *values)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	const struct stat_scope *sc = get_scope(s, scope);
	uint8_t *buf;
	int r;

	if (!sc)
		return -EINVAL;
	if (!(buf = malloc(sc->size)))
		return -ENOMEM;
	if ((r = kvmdci_kernel_read(k, addr + sc->stat_off, buf, sc->size)) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(k), "cannot read %s.stat (%u bytes at 0x%llx) of %s 0x%llx",
			   scope_names[scope].owner, sc->size,
			   (unsigned long long)(addr + sc->stat_off), scope_names[scope].owner,
			   (unsigned long long)addr);
		free(buf);
		return r;
	}
	for (int i = 0; i < sc->n; i++) {
		const struct kvmdci_kvm_stat_desc *d = &sc->s[i].d;
		for (uint32_t j = 0; j < d->size; j++)
			values[d->index + j] = le64(buf + d->offset + 8 * j);
	}
	free(buf);
	return 0;
}
