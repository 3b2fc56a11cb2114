// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * VMs and vCPUs: kvm:vm_list (struct kvm.vm_list), each VM's vCPUs from the vcpu_array xarray
 * (5.17+) or the vcpus[] array (<= 5.15), bounded by online_vcpus. Which one exists is decided
 * by the type info, never by the kernel version (docs/kernel-facts.md "VMs and vCPUs").
 */
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kernel/kernel-view.h"
#include "kvm/kvm-internal.h"
#include "target/target-internal.h"

#define MAX_VMS KVM_LAYOUT_MAX_VMS
#define MAX_VCPUS_PER_VM KVM_LAYOUT_MAX_VCPUS

int kvm_layout_get(struct kvmdci_kernel *k, struct kvm_layout *l)
{
	bool has_array;
	int r;

	memset(l, 0, sizeof(*l));
	if (kvmdci_kernel_symbol(k, "kvm:vm_list", &l->vm_list) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(k),
			   "kvm.ko is not loaded on the target (no kvm:vm_list)");
		return -ENODEV;
	}
	const struct kernel_field f[] = {
		KERNEL_FIELD("struct kvm", "vm_list", &l->kvm_vm_list),
		KERNEL_FIELD("struct kvm", "online_vcpus", &l->kvm_online_vcpus),
		KERNEL_FIELD("struct kvm", "userspace_pid", &l->kvm_userspace_pid),
		KERNEL_FIELD("struct kvm_vcpu", "vcpu_id", &l->vcpu_id),
		KERNEL_FIELD("struct kvm_vcpu", "cpu", &l->vcpu_cpu),
		KERNEL_FIELD("struct kvm_vcpu", "kvm", &l->vcpu_kvm),
		KERNEL_FIELD("struct kvm_vcpu", "stat.exits", &l->vcpu_stat_exits),
		KERNEL_FIELD_OPT("struct kvm_vcpu", "vcpu_idx", &l->vcpu_idx, NULL,
				 &l->has_vcpu_idx),
		KERNEL_FIELD_OPT("struct kvm", "created_vcpus", &l->kvm_created_vcpus, NULL,
				 &l->has_created_vcpus),
		KERNEL_FIELD_OPT("struct kvm", "stats_id", &l->kvm_stats_id, &l->kvm_stats_id_size,
				 &l->has_stats_id),
		KERNEL_FIELD_OPT("struct kvm", "vcpu_array", &l->kvm_vcpu_array, NULL, &l->xarray),
		KERNEL_FIELD_OPT("struct kvm", "vcpus", &l->kvm_vcpus, &l->vcpus_max, &has_array),
	};
	if ((r = kernel_fields_resolve(k, NULL, f, ARRAY_SIZE(f))) < 0)
		return r;
	if (l->xarray) {
		uint64_t slots_size = 0;
		const struct kernel_field xa[] = {
			KERNEL_FIELD("struct xarray", "xa_head", &l->xa_head),
			KERNEL_FIELD("struct xa_node", "shift", &l->xa_node_shift),
			{ .type = "struct xa_node", .path = "slots", .off = &l->xa_node_slots,
			  .size = &slots_size },
		};
		l->kvm_vcpus = l->vcpus_max = 0;
		if ((r = kernel_fields_resolve(k, NULL, xa, ARRAY_SIZE(xa))) < 0)
			return r;
		/* XA_CHUNK_SHIFT (6, 4 with CONFIG_BASE_SMALL): the slots array has 2^shift pointers */
		for (l->xa_chunk_shift = 1; l->xa_chunk_shift < 8 &&
					    (8ULL << l->xa_chunk_shift) != slots_size;
		     l->xa_chunk_shift++)
			;
		if (l->xa_chunk_shift == 8) {
			kvmdci_err(kvmdci_kernel_get_ctx(k), "type info: struct xa_node.slots is %llu "
					   "bytes, not a power-of-two number of pointers",
				   (unsigned long long)slots_size);
			return -EINVAL;
		}
		return 0;
	}
	if (has_array) {
		l->vcpus_max /= 8; /* bytes: pointers */
		return 0;
	}
	kvmdci_err(kvmdci_kernel_get_ctx(k),
		   "type info: struct kvm has neither vcpu_array nor vcpus[]");
	return -ENOENT;
}

/* xa_load() on target memory (lib/xarray.c): internal node pointers have the low bits 10. */
static int xa_load(struct kvmdci_kernel *k, const struct kvm_layout *l, uint64_t xa,
		   uint64_t index, uint64_t *entry)
{
	uint64_t e;
	int r = kvmdci_kernel_read_u64(k, xa + l->xa_head, &e);

	if (r < 0)
		return r;
	for (int depth = 0; depth < 12; depth++) {
		if ((e & 3) != 2 || e <= 4096) { /* a plain entry */
			*entry = depth == 0 && index != 0 ? 0 : e;
			return 0;
		}
		uint64_t node = e - 2;
		uint8_t shift;
		if ((r = kvmdci_kernel_read(k, node + l->xa_node_shift, &shift, 1)) < 0)
			return r;
		unsigned cs = l->xa_chunk_shift;
		if (shift >= 64 || shift % cs) {
			kvmdci_err(kvmdci_kernel_get_ctx(k), "xarray node at 0x%llx: bad shift %u",
				   (unsigned long long)node, shift);
			return -EINVAL;
		}
		if (depth == 0 && (index >> shift) >= (1ULL << cs)) {
			*entry = 0;
			return 0;
		}
		uint64_t slot = (index >> shift) & ((1ULL << cs) - 1);
		if ((r = kvmdci_kernel_read_u64(k, node + l->xa_node_slots + slot * 8, &e)) < 0)
			return r;
		if (shift == 0) {
			*entry = (e & 3) == 2 ? 0 : e;
			return 0;
		}
	}
	kvmdci_err(kvmdci_kernel_get_ctx(k), "xarray at 0x%llx: too deep", (unsigned long long)xa);
	return -ELOOP;
}

int kvm_vcpu_info_read(struct kvmdci_kernel *k, const struct kvm_layout *l, uint64_t vcpu,
		       struct kvmdci_vcpu_info *vi)
{
	uint8_t b[4];
	int r;

	vi->vcpu = vcpu;
	if ((r = kvmdci_kernel_read(k, vcpu + l->vcpu_id, b, 4)) < 0)
		return r;
	vi->vcpu_id = (int32_t)le32(b);
	vi->vcpu_idx = -1;
	if (l->has_vcpu_idx && kvmdci_kernel_read(k, vcpu + l->vcpu_idx, b, 4) == 0)
		vi->vcpu_idx = (int32_t)le32(b);
	if (kvmdci_kernel_read(k, vcpu + l->vcpu_cpu, b, 4) == 0)
		vi->cpu = (int32_t)le32(b);
	if ((r = kvmdci_kernel_read_u64(k, vcpu + l->vcpu_kvm, &vi->vm)) < 0)
		return r;
	vi->vm_pid = -1;
	if (kvmdci_kernel_read(k, vi->vm + l->kvm_userspace_pid, b, 4) == 0)
		vi->vm_pid = (int32_t)le32(b);
	vi->stat_exits_addr = vcpu + l->vcpu_stat_exits;
	return 0;
}

/* How far from the vm_list link a field of struct kvm may lie to be read with it. */
#define LINK_REACH 256

/*
 * The bytes of each struct kvm that kvm_vm_list reads with its vm_list link: [*lo, *hi), the
 * link and, with planned reads, the fields of struct kvm the walks read next that lie within
 * LINK_REACH of it (online_vcpus, created_vcpus, the vcpu_array head: next to vm_list since
 * 5.17). The chain's round trip is paid anyway; a few more bytes in it save a packet per VM.
 */
static void link_window(struct kvmdci_kernel *k, const struct kvm_layout *l, uint64_t *lo,
			uint64_t *hi)
{
	uint64_t offs[4] = { l->kvm_online_vcpus, 0, 0, 0 }, lens[4] = { 4, 0, 0, 0 };
	int m = 1;

	*lo = l->kvm_vm_list;
	*hi = l->kvm_vm_list + 8;
	if (!kernel_plan_enabled(k))
		return;
	if (l->has_created_vcpus) {
		offs[m] = l->kvm_created_vcpus;
		lens[m++] = 4;
	}
	if (l->xarray) {
		offs[m] = l->kvm_vcpu_array + l->xa_head;
		lens[m++] = 8;
	}
	offs[m] = l->kvm_userspace_pid;
	lens[m++] = 4;
	for (int j = 0; j < m; j++) {
		if (offs[j] + LINK_REACH < l->kvm_vm_list || offs[j] > l->kvm_vm_list + LINK_REACH)
			continue;
		if (offs[j] < *lo)
			*lo = offs[j];
		if (offs[j] + lens[j] > *hi)
			*hi = offs[j] + lens[j];
	}
}

int kvm_vm_list(struct kvmdci_kernel *k, const struct kvm_layout *l, uint64_t *vms, int max)
{
	uint64_t next, wlo, whi;
	uint8_t w[2 * LINK_REACH + 16];
	int n = 0;

	link_window(k, l, &wlo, &whi);

	if (kvmdci_kernel_read_u64(k, l->vm_list, &next) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(k), "cannot read kvm:vm_list at 0x%llx",
			   (unsigned long long)l->vm_list);
		return -EFAULT;
	}
	while (next != l->vm_list) {
		uint64_t kvm = next - l->kvm_vm_list;
		/* a cycle that misses the head revisits a node already listed */
		for (int i = 0; i < n; i++)
			if (vms[i] == kvm) {
				kvmdci_warn(kvmdci_kernel_get_ctx(k),
					    "kvm:vm_list loops back to struct kvm at 0x%llx "
					    "after %d VMs; the rest is ignored",
					    (unsigned long long)kvm, n);
				return n;
			}
		if (n >= max) {
			kvmdci_warn(kvmdci_kernel_get_ctx(k),
				    "kvm:vm_list: more than %d VMs; the rest is ignored", max);
			return n;
		}
		vms[n++] = kvm;
		/* a chain cannot be read ahead, but the walks after this one (a longer list
		 * than first guessed, the vCPUs' walk) follow it again in the same stop; the
		 * link alone when its window cannot be read */
		if (kvmdci_kernel_read(k, kvm + wlo, w, whi - wlo) == 0) {
			next = le64(w + l->kvm_vm_list - wlo);
			kernel_plan_note(k, kvm + wlo, w, whi - wlo);
		} else if (whi - wlo == 8 ||
			   kvmdci_kernel_read_u64(k, kvm + l->kvm_vm_list, &next) < 0) {
			kvmdci_warn(kvmdci_kernel_get_ctx(k),
				    "struct kvm at 0x%llx: cannot read its vm_list link at "
				    "0x%llx; the VMs after it are not listed",
				    (unsigned long long)kvm,
				    (unsigned long long)(kvm + l->kvm_vm_list));
			return n;
		}
	}
	return n;
}

/* Planned reads over the VMs @vms (n of them): the members at @offs (sizes @lens, m of them)
 * of each struct kvm, in one request per VM (their span) or one per member, pipelined. */
static void plan_vm_fields(struct kvmdci_kernel *k, const uint64_t *vms, int n,
			   const uint64_t *offs, const uint64_t *lens, int m)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	for (int j = 0; j < m; j++) {
		if (offs[j] < lo)
			lo = offs[j];
		if (offs[j] + lens[j] > hi)
			hi = offs[j] + lens[j];
	}
	if (n <= 0 || m <= 0)
		return;
	bool one = hi - lo <= 2000; /* one packet's worth: the span, else field by field */
	int per = one ? 1 : m;
	struct target_read *rq = calloc((size_t)n * (size_t)per, sizeof(*rq));
	if (!rq)
		return;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < per; j++)
			rq[i * per + j] = one ? (struct target_read){ .addr = vms[i] + lo,
								      .len = hi - lo }
					      : (struct target_read){ .addr = vms[i] + offs[j],
								      .len = lens[j] };
	kernel_plan_read(k, rq, n * per);
	free(rq);
}

/* online_vcpus of the VM at @kvm when plausible, else -1 (kvm_vm_vcpus says why) */
static int32_t vm_online(struct kvmdci_kernel *k, const struct kvm_layout *l, uint64_t kvm)
{
	uint8_t b[4];

	if (kvmdci_kernel_read(k, kvm + l->kvm_online_vcpus, b, 4) < 0)
		return -1;
	int32_t online = (int32_t)le32(b);
	if (online < 0 || online > MAX_VCPUS_PER_VM || (!l->xarray && (uint64_t)online > l->vcpus_max))
		return -1;
	return online;
}

/*
 * Planned reads of the vCPU pointers of the VMs @vms (n of them; their online_vcpus and
 * vcpu_array.xa_head planned already), for kvm_vm_vcpus: vcpus[0..online) in one request per
 * VM, or the vcpu_array xarray level by level across all VMs: each node's header and the
 * slots that cover the indexes below online_vcpus (at most 64; a node of shift s needs slots
 * up to (online - 1 - base) >> s, never more than online - base), then the nodes those slots
 * point to. One round trip per level for all VMs instead of two per vCPU.
 */
static void plan_vcpu_pointers(struct kvmdci_kernel *k, const struct kvm_layout *l,
			       const uint64_t *vms, int n)
{
	struct xnode {
		uint64_t node, base;
		int32_t online, shift; /* the node's shift as its parent implies, -1 at the root */
	} *cur = NULL, *next = NULL;
	struct target_read *rq = NULL;
	size_t ncur = 0, cap = (size_t)n;

	if (n <= 0 || !kernel_plan_enabled(k) || !(rq = calloc((size_t)n, sizeof(*rq))))
		return;
	if (!l->xarray) {
		int m = 0;
		for (int i = 0; i < n; i++) {
			int32_t online = vm_online(k, l, vms[i]);
			if (online > 0)
				rq[m++] = (struct target_read){ .addr = vms[i] + l->kvm_vcpus,
								.len = (size_t)online * 8 };
		}
		kernel_plan_read(k, rq, m);
		goto out;
	}
	if (!(cur = calloc(cap, sizeof(*cur))))
		goto out;
	for (int i = 0; i < n; i++) {
		int32_t online = vm_online(k, l, vms[i]);
		uint64_t e;
		if (online > 0 &&
		    kvmdci_kernel_read_u64(k, vms[i] + l->kvm_vcpu_array + l->xa_head, &e) == 0 &&
		    (e & 3) == 2 && e > 4096)
			cur[ncur++] = (struct xnode){ .node = e - 2, .online = online, .shift = -1 };
	}
	uint64_t first = l->xa_node_shift < l->xa_node_slots ? l->xa_node_shift : l->xa_node_slots;
	for (int depth = 0; depth < 12 && ncur; depth++) {
		if (ncur > cap) { /* more nodes than VMs: room for them */
			struct target_read *q = realloc(rq, ncur * sizeof(*q));
			if (!q)
				goto out;
			rq = q;
			cap = ncur;
		}
		for (size_t j = 0; j < ncur; j++) {
			uint64_t want = (uint64_t)cur[j].online - cur[j].base;
			if (want > (1ULL << l->xa_chunk_shift))
				want = 1ULL << l->xa_chunk_shift;
			rq[j] = (struct target_read){ .addr = cur[j].node + first,
						      .len = l->xa_node_slots + want * 8 - first };
		}
		kernel_plan_read(k, rq, (int)ncur);
		/* the children the next level needs */
		size_t nnext = 0, ncap = 0;
		for (size_t j = 0; j < ncur; j++) {
			const struct xnode *x = &cur[j];
			uint8_t shift;
			/* a leaf, or a tree xa_load() refuses: no further level (every child is
			 * one chunk shift below its parent, which also bounds the levels and their
			 * nodes) */
			if (kvmdci_kernel_read(k, x->node + l->xa_node_shift, &shift, 1) < 0 ||
			    shift == 0 || shift >= 64 || shift % l->xa_chunk_shift ||
			    (x->shift >= 0 && shift != x->shift))
				continue;
			uint64_t last = ((uint64_t)x->online - 1 - x->base) >> shift;
			for (uint64_t s = 0; s <= last && s < (1ULL << l->xa_chunk_shift); s++) {
				uint64_t e;
				if (kvmdci_kernel_read_u64(k, x->node + l->xa_node_slots + s * 8, &e) < 0 ||
				    (e & 3) != 2 || e <= 4096)
					continue;
				if (nnext == ncap) {
					ncap = ncap ? 2 * ncap : 64;
					struct xnode *t = realloc(next, ncap * sizeof(*t));
					if (!t)
						goto out;
					next = t;
				}
				next[nnext++] = (struct xnode){ .node = e - 2,
								.base = x->base + (s << shift),
								.online = x->online,
								.shift = shift - (int)l->xa_chunk_shift };
			}
		}
		free(cur);
		cur = next;
		ncur = nnext;
		next = NULL;
	}
out:
	free(cur);
	free(next);
	free(rq);
}

int kvm_vm_vcpus(struct kvmdci_kernel *k, const struct kvm_layout *l, uint64_t kvm, uint64_t *vcpus,
		 int max)
{
	uint8_t b[4];
	int r, n = 0;

	if ((r = kvmdci_kernel_read(k, kvm + l->kvm_online_vcpus, b, 4)) < 0) {
		kvmdci_warn(kvmdci_kernel_get_ctx(k), "cannot read struct kvm at 0x%llx",
			    (unsigned long long)kvm);
		return r;
	}
	int32_t online = (int32_t)le32(b);
	if (online < 0 || online > MAX_VCPUS_PER_VM ||
	    (!l->xarray && (uint64_t)online > l->vcpus_max)) {
		kvmdci_warn(kvmdci_kernel_get_ctx(k),
			    "struct kvm at 0x%llx: implausible online_vcpus %d",
			    (unsigned long long)kvm, online);
		return -EINVAL;
	}
	for (int i = 0; i < online && n < max; i++) {
		uint64_t vcpu = 0;
		if (l->xarray)
			r = xa_load(k, l, kvm + l->kvm_vcpu_array, (uint64_t)i, &vcpu);
		else
			r = kvmdci_kernel_read_u64(k, kvm + l->kvm_vcpus + (uint64_t)i * 8, &vcpu);
		if (r < 0) {
			kvmdci_warn(kvmdci_kernel_get_ctx(k),
				    "struct kvm at 0x%llx: cannot read vCPU pointer %d",
				    (unsigned long long)kvm, i);
			continue;
		}
		if (vcpu)
			vcpus[n++] = vcpu;
	}
	return n;
}

KVMDCI_EXPORT int kvmdci_kvm_vcpus(struct kvmdci_kernel *k, struct kvmdci_vcpu_info *out, int max)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct kvm_layout l;
	uint64_t *vms = NULL, *vcpus = NULL;
	int r, found = 0, nvms;

	if ((r = kvm_layout_get(k, &l)) < 0)
		return r;
	vms = malloc(MAX_VMS * sizeof(*vms));
	vcpus = malloc(MAX_VCPUS_PER_VM * sizeof(*vcpus));
	if (!vms || !vcpus) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = nvms = kvm_vm_list(k, &l, vms, MAX_VMS)) < 0)
		goto out;
	{
		uint64_t offs[3] = { l.kvm_online_vcpus, l.kvm_userspace_pid,
				     l.xarray ? l.kvm_vcpu_array + l.xa_head : l.kvm_vcpus };
		uint64_t lens[3] = { 4, 4, 8 };
		plan_vm_fields(k, vms, nvms, offs, lens, 3);
		plan_vcpu_pointers(k, &l, vms, nvms);
	}
	/* the vCPUs of every VM first, then their fields planned across all of them */
	size_t cap = 0, nall = 0;
	uint64_t *all = NULL, *allvm = NULL;
	for (int v = 0; v < nvms; v++) {
		int n = kvm_vm_vcpus(k, &l, vms[v], vcpus, MAX_VCPUS_PER_VM);
		for (int i = 0; i < n; i++) {
			if (nall == cap) {
				cap = cap ? 2 * cap : 256;
				uint64_t *a = realloc(all, cap * sizeof(*a)), *b;
				if (a)
					all = a;
				if (!a || !(b = realloc(allvm, cap * sizeof(*b)))) {
					free(all);
					free(allvm);
					r = -ENOMEM;
					goto out;
				}
				allvm = b;
			}
			all[nall] = vcpus[i];
			allvm[nall++] = vms[v];
		}
	}
	{
		uint64_t lo = l.vcpu_id, hi = l.vcpu_id + 4;
		uint64_t offs[3] = { l.vcpu_cpu, l.vcpu_kvm, l.has_vcpu_idx ? l.vcpu_idx : l.vcpu_id };
		for (int j = 0; j < 3; j++) {
			if (offs[j] < lo)
				lo = offs[j];
			if (offs[j] + 8 > hi)
				hi = offs[j] + 8;
		}
		struct target_read *rq = hi - lo <= 4096 ? calloc(nall + 1, sizeof(*rq)) : NULL;
		for (size_t i = 0; rq && i < nall && (int)i < max; i++)
			rq[i] = (struct target_read){ .addr = all[i] + lo, .len = hi - lo };
		if (rq)
			kernel_plan_read(k, rq, (int)(nall < (size_t)max ? nall : (size_t)max));
		free(rq);
	}
	for (size_t i = 0; i < nall; i++) {
		if (found < max) {
			memset(&out[found], 0, sizeof(out[found]));
			if (kvm_vcpu_info_read(k, &l, all[i], &out[found]) < 0) {
				kvmdci_warn(kvmdci_kernel_get_ctx(k),
					    "cannot read struct kvm_vcpu at 0x%llx (VM 0x%llx)",
					    (unsigned long long)all[i], (unsigned long long)allvm[i]);
				continue;
			}
		}
		found++;
	}
	free(all);
	free(allvm);
	r = found;
out:
	free(vms);
	free(vcpus);
	return r;
}

KVMDCI_EXPORT int kvmdci_kvm_vms(struct kvmdci_kernel *k, struct kvmdci_vm_info *out, int max)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct kvm_layout l;
	uint64_t *vms;
	uint8_t b[4];
	int r, n;

	if ((r = kvm_layout_get(k, &l)) < 0)
		return r;
	if (!(vms = malloc(MAX_VMS * sizeof(*vms))))
		return -ENOMEM;
	n = kvm_vm_list(k, &l, vms, MAX_VMS);
	{
		uint64_t offs[4] = { l.kvm_userspace_pid, l.kvm_online_vcpus, 0, 0 };
		uint64_t lens[4] = { 4, 4, 4, 4 };
		int m = 2;
		if (l.has_created_vcpus)
			offs[m++] = l.kvm_created_vcpus;
		if (l.has_stats_id) {
			offs[m] = l.kvm_stats_id;
			lens[m++] = l.kvm_stats_id_size < sizeof(out->stats_id) ? l.kvm_stats_id_size
									     : sizeof(out->stats_id);
		}
		plan_vm_fields(k, vms, n < max ? n : max, offs, lens, m);
	}
	for (int i = 0; i < n && i < max; i++) {
		struct kvmdci_vm_info *vi = &out[i];
		memset(vi, 0, sizeof(*vi));
		vi->vm = vms[i];
		vi->userspace_pid = vi->online_vcpus = vi->created_vcpus = -1;
		if ((r = kvmdci_kernel_read(k, vms[i] + l.kvm_userspace_pid, b, 4)) == 0)
			vi->userspace_pid = (int32_t)le32(b);
		else
			vi->error = r;
		if ((r = kvmdci_kernel_read(k, vms[i] + l.kvm_online_vcpus, b, 4)) == 0)
			vi->online_vcpus = (int32_t)le32(b);
		else
			vi->error = r;
		if (l.has_created_vcpus) {
			if ((r = kvmdci_kernel_read(k, vms[i] + l.kvm_created_vcpus, b, 4)) == 0)
				vi->created_vcpus = (int32_t)le32(b);
			else
				vi->error = r;
		}
		if (l.has_stats_id) {
			size_t sz = l.kvm_stats_id_size < sizeof(vi->stats_id) ? l.kvm_stats_id_size
									     : sizeof(vi->stats_id);
			if ((r = kvmdci_kernel_read(k, vms[i] + l.kvm_stats_id, vi->stats_id, sz)) < 0)
				vi->error = r;
			vi->stats_id[sizeof(vi->stats_id) - 1] = '\0';
			for (char *c = vi->stats_id; *c; c++) /* target memory: keep it printable */
				if (*c < 0x20 || *c > 0x7e)
					*c = '?';
		}
		if (vi->error)
			kvmdci_warn(kvmdci_kernel_get_ctx(k),
				    "struct kvm at 0x%llx: partly unreadable",
				    (unsigned long long)vms[i]);
	}
	free(vms);
	return n;
}

KVMDCI_EXPORT enum kvmdci_vendor kvmdci_kvm_vendor(struct kvmdci_kernel *k)
{
	const char *m = kernel_kvm_vendor_module(k);

	if (!m)
		return KVMDCI_VENDOR_NONE;
	return !strcmp(m, "kvm_intel") ? KVMDCI_VENDOR_VMX : KVMDCI_VENDOR_SVM;
}
