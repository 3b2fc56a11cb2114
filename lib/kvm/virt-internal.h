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
	int ncpus;
	void *data;
};

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
