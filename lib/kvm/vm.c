// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * VMs and vCPUs: kvm:vm_list (struct kvm.vm_list), each VM's vCPUs from the vcpu_array xarray
 * (5.17+) or the vcpus[] array (<= 5.15), bounded by online_vcpus. Which one exists is decided
 * by the type info, never by the kernel version (reference/kvm-internals.md section 2).
 */
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kvm/kvm-internal.h"

#define MAX_VMS 4096
#define MAX_VCPUS_PER_VM 4096

static int off(struct kvmdci_kernel *k, const char *type, const char *path, uint64_t *o,
	       bool required)
{
	struct ktypes_loc loc;
	int r = kernel_member(k, NULL, type, path, &loc);
	if (r < 0) {
		if (required)
			kvmdci_err(k->ctx, "%s", kvmdci_ctx_last_error(k->ctx));
		return r;
	}
	*o = loc.bit_offset / 8;
	return 0;
}

int kvm_layout_get(struct kvmdci_kernel *k, struct kvm_layout *l)
{
	struct ktypes_loc loc;
	int r;

	memset(l, 0, sizeof(*l));
	if (kvmdci_kernel_symbol(k, "kvm:vm_list", &l->vm_list) < 0) {
		kvmdci_err(k->ctx, "kvm.ko is not loaded on the target (no kvm:vm_list)");
		return -ENODEV;
	}
	if ((r = off(k, "struct kvm", "vm_list", &l->kvm_vm_list, true)) < 0 ||
	    (r = off(k, "struct kvm", "online_vcpus", &l->kvm_online_vcpus, true)) < 0 ||
	    (r = off(k, "struct kvm", "userspace_pid", &l->kvm_userspace_pid, true)) < 0 ||
	    (r = off(k, "struct kvm_vcpu", "vcpu_id", &l->vcpu_id, true)) < 0 ||
	    (r = off(k, "struct kvm_vcpu", "cpu", &l->vcpu_cpu, true)) < 0 ||
	    (r = off(k, "struct kvm_vcpu", "kvm", &l->vcpu_kvm, true)) < 0 ||
	    (r = off(k, "struct kvm_vcpu", "stat.exits", &l->vcpu_stat_exits, true)) < 0)
		return r;
	l->has_vcpu_idx = off(k, "struct kvm_vcpu", "vcpu_idx", &l->vcpu_idx, false) == 0;
	if (off(k, "struct kvm", "vcpu_array", &l->kvm_vcpu_array, false) == 0) {
		l->xarray = true;
		if ((r = off(k, "struct xarray", "xa_head", &l->xa_head, true)) < 0 ||
		    (r = off(k, "struct xa_node", "shift", &l->xa_node_shift, true)) < 0 ||
		    (r = off(k, "struct xa_node", "slots", &l->xa_node_slots, true)) < 0)
			return r;
	} else if (kernel_member(k, NULL, "struct kvm", "vcpus", &loc) == 0) {
		l->kvm_vcpus = loc.bit_offset / 8;
		l->vcpus_max = loc.size / 8;
	} else {
		kvmdci_err(k->ctx, "type info: struct kvm has neither vcpu_array nor vcpus[]");
		return -ENOENT;
	}
	return 0;
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
		if (shift > 60 || shift % 6) {
			kvmdci_err(k->ctx, "xarray node at 0x%llx: bad shift %u",
				   (unsigned long long)node, shift);
			return -EINVAL;
		}
		if (depth == 0 && (index >> shift) > 63) {
			*entry = 0;
			return 0;
		}
		uint64_t slot = (index >> shift) & 63;
		if ((r = kvmdci_kernel_read_u64(k, node + l->xa_node_slots + slot * 8, &e)) < 0)
			return r;
		if (shift == 0) {
			*entry = (e & 3) == 2 ? 0 : e;
			return 0;
		}
	}
	kvmdci_err(k->ctx, "xarray at 0x%llx: too deep", (unsigned long long)xa);
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

KVMDCI_EXPORT int kvmdci_kvm_vcpus(struct kvmdci_kernel *k, struct kvmdci_vcpu_info *out, int max)
{
	struct kvm_layout l;
	uint64_t next;
	int r, found = 0, nvms = 0;

	if ((r = kvm_layout_get(k, &l)) < 0)
		return r;
	if ((r = kvmdci_kernel_read_u64(k, l.vm_list, &next)) < 0) {
		kvmdci_err(k->ctx, "cannot read kvm:vm_list at 0x%llx", (unsigned long long)l.vm_list);
		return r;
	}
	while (next != l.vm_list) {
		uint64_t kvm = next - l.kvm_vm_list;
		uint8_t b[4];
		if (++nvms > MAX_VMS) {
			kvmdci_err(k->ctx, "kvm:vm_list: more than %d VMs (a cycle?)", MAX_VMS);
			return -ELOOP;
		}
		if ((r = kvmdci_kernel_read(k, kvm + l.kvm_online_vcpus, b, 4)) < 0) {
			kvmdci_err(k->ctx, "cannot read struct kvm at 0x%llx", (unsigned long long)kvm);
			return r;
		}
		int32_t online = (int32_t)le32(b);
		if (online < 0 || online > MAX_VCPUS_PER_VM ||
		    (!l.xarray && (uint64_t)online > l.vcpus_max)) {
			kvmdci_err(k->ctx, "struct kvm at 0x%llx: implausible online_vcpus %d",
				   (unsigned long long)kvm, online);
			return -EINVAL;
		}
		for (int i = 0; i < online; i++) {
			uint64_t vcpu = 0;
			if (l.xarray)
				r = xa_load(k, &l, kvm + l.kvm_vcpu_array, (uint64_t)i, &vcpu);
			else
				r = kvmdci_kernel_read_u64(k, kvm + l.kvm_vcpus + (uint64_t)i * 8,
							   &vcpu);
			if (r < 0)
				return r;
			if (!vcpu)
				continue;
			if (found < max) {
				memset(&out[found], 0, sizeof(out[found]));
				if ((r = kvm_vcpu_info_read(k, &l, vcpu, &out[found])) < 0) {
					kvmdci_err(k->ctx, "cannot read struct kvm_vcpu at 0x%llx "
							   "(VM 0x%llx)",
						   (unsigned long long)vcpu, (unsigned long long)kvm);
					return r;
				}
			}
			found++;
		}
		if ((r = kvmdci_kernel_read_u64(k, next, &next)) < 0) {
			kvmdci_err(k->ctx, "cannot follow kvm:vm_list at 0x%llx",
				   (unsigned long long)next);
			return r;
		}
	}
	return found;
}

KVMDCI_EXPORT enum kvmdci_vendor kvmdci_kvm_vendor(struct kvmdci_kernel *k)
{
	if (kvmdci_kernel_has_module(k, "kvm_intel"))
		return KVMDCI_VENDOR_VMX;
	if (kvmdci_kernel_has_module(k, "kvm_amd"))
		return KVMDCI_VENDOR_SVM;
	return KVMDCI_VENDOR_NONE;
}
