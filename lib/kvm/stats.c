// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * KVM's own per-vCPU counters (struct kvm_vcpu_stat: exits, io_exits, halt_exits, ...; from
 * 5.14 with the generic ones in its first member), read straight from memory: the counter
 * names and offsets come from the type info, every u64 member, nested structs flattened.
 * Reading them costs no breakpoint: kvmdci-exits --counters uses this.
 */
#include <bpf/btf.h>
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kvm/kvm-internal.h"

#define MAX_STATS 256

/* Collect every 8-byte integer member under @id (recursing into structs). */
int kvm_stats_collect(struct kbtf *btf, int32_t id, uint32_t base, struct stat_field *out, int n,
		      int max, int depth)
{
	const struct btf_type *t = kbtf_type_by_id(btf, (uint32_t)ktypes_skip_mods(btf, id));
	const struct btf_member *m;

	if (!t || depth > 4 || !btf_is_struct(t))
		return n;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t) && n < max; i++, m++) {
		int32_t mt = ktypes_skip_mods(btf, (int32_t)m->type);
		const struct btf_type *tt = kbtf_type_by_id(btf, (uint32_t)mt);
		uint32_t off = base + btf_member_bit_offset(t, (uint32_t)i) / 8;
		if (!tt)
			continue;
		if (btf_is_struct(tt)) {
			n = kvm_stats_collect(btf, mt, off, out, n, max, depth + 1);
		} else if ((btf_is_int(tt) && tt->size == 8) && !btf_member_bitfield_size(t, (uint32_t)i)) {
			const char *name = kbtf_name_by_offset(btf, m->name_off);
			snprintf(out[n].name, sizeof(out[n].name), "%s", name ? name : "?");
			out[n++].offset = off;
		}
	}
	return n;
}

struct kvmdci_vcpu_stats_layout {
	int refcount;
	uint64_t stat_off; /* of kvm_vcpu.stat */
	uint32_t size;     /* of struct kvm_vcpu_stat */
	int n;
	struct stat_field f[MAX_STATS];
};

KVMDCI_EXPORT int kvmdci_kvm_vcpu_stats_layout(struct kvmdci_kernel *k,
					       struct kvmdci_vcpu_stats_layout **ret)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct kvmdci_vcpu_stats_layout *l;
	uint64_t off, size;
	struct kbtf *btf;
	int32_t id;
	int r;

	if ((r = kernel_member_offset(k, NULL, "struct kvm_vcpu", "stat", &off, &size)) < 0 ||
	    (r = kernel_type(k, NULL, "struct kvm_vcpu_stat", &btf, &id)) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(k), "%s",
			   kvmdci_ctx_last_error(kvmdci_kernel_get_ctx(k)));
		return r;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->refcount = 1;
	l->stat_off = off;
	l->size = size;
	l->n = kvm_stats_collect(btf, id, 0, l->f, 0, MAX_STATS, 0);
	if (l->n == 0 || l->size == 0 || l->size > 8192) {
		kvmdci_err(kvmdci_kernel_get_ctx(k),
			   "type info: struct kvm_vcpu_stat has no 64-bit counters");
		free(l);
		return -ENOENT;
	}
	*ret = l;
	return 0;
}

KVMDCI_EXPORT struct kvmdci_vcpu_stats_layout *
kvmdci_kvm_vcpu_stats_layout_ref(struct kvmdci_vcpu_stats_layout *l)
{
	if (l)
		l->refcount++;
	return l;
}

KVMDCI_EXPORT struct kvmdci_vcpu_stats_layout *
kvmdci_kvm_vcpu_stats_layout_unref(struct kvmdci_vcpu_stats_layout *l)
{
	if (l && --l->refcount == 0)
		free(l);
	return NULL;
}

/* The name of 0.1, kept: the same as kvmdci_kvm_vcpu_stats_layout_unref(). */
KVMDCI_EXPORT void kvmdci_kvm_vcpu_stats_layout_free(struct kvmdci_vcpu_stats_layout *l)
{
	kvmdci_kvm_vcpu_stats_layout_unref(l);
}

KVMDCI_EXPORT int kvmdci_kvm_vcpu_stats_count(const struct kvmdci_vcpu_stats_layout *l)
{
	return l->n;
}

KVMDCI_EXPORT const char *kvmdci_kvm_vcpu_stats_name(const struct kvmdci_vcpu_stats_layout *l,
						     int i)
{
	return i >= 0 && i < l->n ? l->f[i].name : NULL;
}

KVMDCI_EXPORT int kvmdci_kvm_vcpu_stats_read(struct kvmdci_kernel *k,
					     const struct kvmdci_vcpu_stats_layout *l,
					     uint64_t vcpu, uint64_t *values)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	uint8_t buf[8192];
	int r = kvmdci_kernel_read(k, vcpu + l->stat_off, buf, l->size);

	if (r < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(k), "cannot read kvm_vcpu.stat of vCPU 0x%llx",
			   (unsigned long long)vcpu);
		return r;
	}
	for (int i = 0; i < l->n; i++)
		values[i] = le64(buf + l->f[i].offset);
	return 0;
}
