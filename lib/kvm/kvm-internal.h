/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Offsets of the KVM structures the model walks, taken from type info once per walk. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define KVM_LAYOUT_MAX_VMS 4096
#define KVM_LAYOUT_MAX_VCPUS 4096

struct kvm_layout {
	uint64_t vm_list; /* address of kvm:vm_list */
	uint64_t kvm_vm_list, kvm_online_vcpus, kvm_userspace_pid;
	bool xarray;
	uint64_t kvm_vcpu_array, xa_head, xa_node_shift, xa_node_slots;
	uint64_t kvm_vcpus, vcpus_max;
	uint64_t vcpu_id, vcpu_idx, vcpu_cpu, vcpu_kvm, vcpu_stat_exits;
	bool has_vcpu_idx;
	uint64_t kvm_created_vcpus, kvm_stats_id, kvm_stats_id_size;
	bool has_created_vcpus, has_stats_id;
};

int kvm_layout_get(struct kvmdci_kernel *k, struct kvm_layout *l);
/* The struct kvm addresses on vm_list (newest first), bounded and cut at a cycle. */
int kvm_vm_list(struct kvmdci_kernel *k, const struct kvm_layout *l, uint64_t *vms, int max);
/* The vCPU pointers of one VM (vcpu_array or vcpus[]), bounded by online_vcpus. */
int kvm_vm_vcpus(struct kvmdci_kernel *k, const struct kvm_layout *l, uint64_t kvm, uint64_t *vcpus,
		 int max);
int kvm_vcpu_info_read(struct kvmdci_kernel *k, const struct kvm_layout *l, uint64_t vcpu,
		       struct kvmdci_vcpu_info *vi);
/* The value (a bit of regs_avail) of enumerator @name of enum kvm_reg, from kvm's types or
 * vmlinux's: -ENOENT when absent, -ERANGE when not a bit number below 32. */
int kvm_reg_bit(struct kvmdci_kernel *k, const char *name);

/* One 64-bit counter found in a stats struct's type info (lib/kvm/stats.c). */
struct stat_field {
	char name[64];
	uint32_t offset; /* from the start of the stats struct */
};
struct kbtf;
/* Every 8-byte integer member under type @id of @btf (nested structs flattened, their
 * offsets from @base), appended to @out[@n..@max): the new count. */
int kvm_stats_collect(struct kbtf *btf, int32_t id, uint32_t base, struct stat_field *out, int n,
		      int max, int depth);
