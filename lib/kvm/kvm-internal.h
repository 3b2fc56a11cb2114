/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Offsets of the KVM structures the model walks, taken from type info once per walk. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "libkvmdci/libkvmdci.h"

#define KVM_LAYOUT_MAX_VMS 4096
#define KVM_LAYOUT_MAX_VCPUS 4096

struct kvm_layout {
	uint64_t vm_list; /* address of kvm:vm_list */
	uint64_t kvm_vm_list, kvm_online_vcpus, kvm_userspace_pid;
	bool xarray;
	uint64_t kvm_vcpu_array, xa_head, xa_node_shift, xa_node_slots;
	unsigned xa_chunk_shift; /* log2 of xa_node.slots' length (XA_CHUNK_SHIFT), from its size */
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

/* The @i-th KVM counter (struct kvm_vcpu_stat member) that counts exactly one exit reason of
 * @vendor, and that reason's code (lib/kvm/exit-reasons.c): 0, or -ERANGE past the last. */
int kvm_exit_reason_counter(enum kvmdci_vendor vendor, int i, const char **counter,
			    uint64_t *code);

/* One exit reason's estimate from a sample (lib/kvm/exit-stats.c): @rest exits are shared
 * among the reasons KVM has no counter for, @n of whose @n_u sampled hits were this reason.
 * With @windows >= 2 the sampling windows' sums (@s_nn: of n_k^2, @s_nN: of n_k N_k, @s_NN: of
 * N_k^2, n_k this reason's hits in window k, N_k all of those reasons' hits there) give the
 * share's variance as clusters, else as independent hits. *@est = @rest n / n_u; *@err the
 * half-width of its 95% interval, at least 3 / n_u of @rest (a reason never sampled). */
void kvm_exit_share(double rest, uint64_t n, uint64_t n_u, int windows, double s_nn, double s_nN,
		    double s_NN, double *est, double *err);

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
