/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the VMX/SVM decoders read through: the kernel view of a target, or, in tests, memory
 * images laid out from real type info with fake symbols and registers.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "libkvmdci/libkvmdci.h"

struct virt_env {
	struct kvmdci_kernel *k; /* types and context (always set) */
	int (*read)(void *data, uint64_t addr, void *buf, size_t len);
	int (*symbol)(void *data, const char *name, uint64_t *addr);
	/* one register of one CPU by the stub's name; -ENOENT when the target has no such one */
	int (*reg)(void *data, int cpu, const char *name, uint64_t *val);
	/* 1: the CPU is stopped inside a guest, 0: in the host, -1: cannot tell */
	int (*in_guest)(void *data, int cpu, char *why, size_t whylen);
	/* kernel virtual to physical address; NULL where the environment cannot translate */
	int (*v2p)(void *data, uint64_t va, uint64_t *pa);
	int ncpus;
	void *data;
};

/* Read integer member @path (up to 8 bytes, little-endian) of struct @type of @module at
 * @base into @v; -ENOENT when the type info has no such member. */
int virt_member_read(const struct virt_env *e, const char *module, const char *type, uint64_t base,
		     const char *path, uint64_t *v);

/* KVM's per-CPU SVM data of one CPU (kvm_amd's svm_data, struct svm_cpu_data). */
struct svm_percpu {
	uint64_t svm_data;     /* the struct's address, 0 when unknown */
	uint64_t save_area;    /* struct page * of the host save area (0: absent) */
	uint64_t save_area_pa; /* its physical address, where the kernel keeps it (0: absent) */
	uint64_t current_vmcb;
};
/* Is svm_data a pointer (DEFINE_PER_CPU(struct svm_cpu_data *, ...) through 6.0) or the
 * struct (6.1+)? Decided by type info. 1, 0, or -ENOENT without kvm_amd's types. */
int svm_data_is_pointer(struct kvmdci_kernel *k);
/* Read svm_data of the CPU whose per-CPU offset is @pcpu (@sym_svm: kvm_amd:svm_data,
 * @is_pointer: svm_data_is_pointer()). */
int svm_percpu_read(const struct virt_env *e, uint64_t sym_svm, int is_pointer, uint64_t pcpu,
		    struct svm_percpu *out);
/* The physical address of the host save area in @sd: its save_area_pa, or the struct page
 * that save_area points to, through vmemmap_base (kernels without save_area_pa: 5.10). */
int svm_save_area_pa(struct kvmdci_kernel *k, const struct svm_percpu *sd, uint64_t *pa);
/* The host's rip and rsp saved by VMRUN on Linux CPU @lcpu, from KVM's host save area. */
int svm_host_state(struct kvmdci_kernel *k, int lcpu, uint64_t *rip, uint64_t *rsp);
/* What @cpu executes (host kernel, user space or a guest), from its registers and paging, with
 * the evidence in @why: the one answer of kvmdci-cpus and kvmdci-vmxon (cpus.c). */
int kvm_cpu_mode(struct kvmdci_kernel *k, int cpu, enum kvmdci_cpu_mode *mode, char *why,
		 size_t whylen);
/* The host's rip and rsp at the next VM exit on Linux CPU @lcpu, which runs a VMX guest:
 * kvm_intel's vmx_vmexit and the vCPU's loaded_vmcs->host_state.rsp. -ENOENT when no vCPU
 * of kvm_intel is in guest mode on that CPU. */
int vmx_host_state(struct kvmdci_kernel *k, int lcpu, uint64_t *rip, uint64_t *rsp);
/* The rbp to unwind vmx_vmexit with: __vmx_vcpu_run's frame, found on the stack above
 * @host_rsp (vmx_host_state); 0 when not found. */
uint64_t vmx_entry_rbp(struct kvmdci_unwinder *u, uint64_t host_rsp);

/* The environment of a kernel view on a live target or dump. */
void virt_env_kernel(struct virt_env *e, struct kvmdci_kernel *k);

int vmx_vcpu_read(const struct virt_env *e, uint64_t vcpu, struct kvmdci_vmx_vcpu *out);
int vmx_vmcs12_read(const struct virt_env *e, uint64_t addr, uint32_t *revision,
		    struct kvmdci_field *out, int max);
int svm_vcpu_read(const struct virt_env *e, uint64_t vcpu, struct kvmdci_svm_vcpu *out);
int svm_vmcb_read(const struct virt_env *e, uint64_t addr, struct kvmdci_vmcb *out);
int svm_vmcb12_read(const struct virt_env *e, uint64_t vcpu, struct kvmdci_vmcb *out);
int svm_vmcb_fields_read(const struct virt_env *e, uint64_t addr, struct kvmdci_field *out,
			 int max);
int virt_cpus_read(const struct virt_env *e, enum kvmdci_vendor vendor,
		   struct kvmdci_cpu_virt *out, int max);
/* Set c->owner and c->reason from cpu_on, in_guest and kvm_on. */
void virt_verdict(struct kvmdci_cpu_virt *c, const char *cpu_why);
/* Read the members of struct @type (module @module) at @addr into fields, flattened. */
int virt_struct_fields(const struct virt_env *e, const char *module, const char *type,
		       uint64_t addr, size_t max_size, struct kvmdci_field *out, int max);
