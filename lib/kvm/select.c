// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Choosing VMs and vCPUs the way people name them (a struct kvm address or the pid of the VMM
 * that created the VM, and a vCPU id), and lists of them that the library sizes itself: the
 * caller gets a count and an accessor instead of guessing how large an array to pass.
 */
#include <stdlib.h>
#include <strings.h>

#include "internal.h"

/* A first guess at the list length; a longer list costs one more walk. */
#define FIRST_GUESS 64

struct kvmdci_vm_list {
	int refcount;
	struct kvmdci_vm_info *vms;
	int n;
};

struct kvmdci_vcpu_list {
	int refcount;
	struct kvmdci_vcpu_info *vcpus;
	int n;
};

KVMDCI_EXPORT int kvmdci_vm_select_parse(const char *arg, struct kvmdci_vm_select *sel)
{
	unsigned long long vm = 0;
	long pid = -1;
	char *end;

	if (!arg)
		return -EINVAL;
	errno = 0;
	if (!strncasecmp(arg, "0x", 2))
		vm = strtoull(arg, &end, 16);
	else
		pid = strtol(arg, &end, 10);
	if (*end || end == arg || errno || (!vm && pid <= 0))
		return -EINVAL;
	memset(sel, 0, sizeof(*sel));
	sel->vm = vm;
	sel->pid = pid;
	sel->vcpu_id = -1;
	return 0;
}

KVMDCI_EXPORT int kvmdci_vm_select_vm(const struct kvmdci_vm_select *sel,
				     const struct kvmdci_vm_info *vm)
{
	if (!sel)
		return 1;
	return (!sel->vm || vm->vm == sel->vm) && (sel->pid <= 0 || vm->userspace_pid == sel->pid);
}

KVMDCI_EXPORT int kvmdci_vm_select_vcpu(const struct kvmdci_vm_select *sel,
				       const struct kvmdci_vcpu_info *vcpu)
{
	if (!sel)
		return 1;
	return (!sel->vm || vcpu->vm == sel->vm) && (sel->pid <= 0 || vcpu->vm_pid == sel->pid) &&
	       (sel->vcpu_id < 0 || vcpu->vcpu_id == sel->vcpu_id);
}

/*
 * Fill a growing array through one of the (out, max) listing functions: most lists fit the
 * first guess and take one walk; a longer one is walked again with room for all.
 */
static int list_all(struct kvmdci_kernel *k, size_t size,
		    int (*list)(struct kvmdci_kernel *k, void *out, int max), void **ret)
{
	int cap = FIRST_GUESS, n;
	void *out = NULL;

	for (;;) {
		void *p = realloc(out, (size_t)cap * size);
		if (!p) {
			free(out);
			return -ENOMEM;
		}
		out = p;
		n = list(k, out, cap);
		if (n < 0) {
			free(out);
			return n;
		}
		if (n <= cap)
			break;
		cap = n;
	}
	*ret = out;
	return n;
}

static int list_vms(struct kvmdci_kernel *k, void *out, int max)
{
	return kvmdci_kvm_vms(k, out, max);
}

static int list_vcpus(struct kvmdci_kernel *k, void *out, int max)
{
	return kvmdci_kvm_vcpus(k, out, max);
}

KVMDCI_EXPORT int kvmdci_vm_list_new(struct kvmdci_kernel *k, const struct kvmdci_vm_select *sel,
				    struct kvmdci_vm_list **ret)
{
	struct kvmdci_vm_list *l = calloc(1, sizeof(*l));
	void *all = NULL;
	int n;

	if (!l)
		return -ENOMEM;
	if ((n = list_all(k, sizeof(*l->vms), list_vms, &all)) < 0) {
		free(l);
		return n;
	}
	l->refcount = 1;
	l->vms = all;
	for (int i = 0; i < n; i++)
		if (kvmdci_vm_select_vm(sel, &l->vms[i]))
			l->vms[l->n++] = l->vms[i];
	*ret = l;
	return 0;
}

KVMDCI_EXPORT struct kvmdci_vm_list *kvmdci_vm_list_ref(struct kvmdci_vm_list *l)
{
	if (l)
		l->refcount++;
	return l;
}

KVMDCI_EXPORT struct kvmdci_vm_list *kvmdci_vm_list_unref(struct kvmdci_vm_list *l)
{
	if (!l || --l->refcount > 0)
		return NULL;
	free(l->vms);
	free(l);
	return NULL;
}

KVMDCI_EXPORT int kvmdci_vm_list_count(const struct kvmdci_vm_list *l)
{
	return l->n;
}

KVMDCI_EXPORT const struct kvmdci_vm_info *kvmdci_vm_list_get(const struct kvmdci_vm_list *l,
							     int i)
{
	return i >= 0 && i < l->n ? &l->vms[i] : NULL;
}

KVMDCI_EXPORT int kvmdci_vcpu_list_new(struct kvmdci_kernel *k,
				      const struct kvmdci_vm_select *sel,
				      struct kvmdci_vcpu_list **ret)
{
	struct kvmdci_vcpu_list *l = calloc(1, sizeof(*l));
	void *all = NULL;
	int n;

	if (!l)
		return -ENOMEM;
	if ((n = list_all(k, sizeof(*l->vcpus), list_vcpus, &all)) < 0) {
		free(l);
		return n;
	}
	l->refcount = 1;
	l->vcpus = all;
	for (int i = 0; i < n; i++)
		if (kvmdci_vm_select_vcpu(sel, &l->vcpus[i]))
			l->vcpus[l->n++] = l->vcpus[i];
	*ret = l;
	return 0;
}

KVMDCI_EXPORT struct kvmdci_vcpu_list *kvmdci_vcpu_list_ref(struct kvmdci_vcpu_list *l)
{
	if (l)
		l->refcount++;
	return l;
}

KVMDCI_EXPORT struct kvmdci_vcpu_list *kvmdci_vcpu_list_unref(struct kvmdci_vcpu_list *l)
{
	if (!l || --l->refcount > 0)
		return NULL;
	free(l->vcpus);
	free(l);
	return NULL;
}

KVMDCI_EXPORT int kvmdci_vcpu_list_count(const struct kvmdci_vcpu_list *l)
{
	return l->n;
}

KVMDCI_EXPORT const struct kvmdci_vcpu_info *kvmdci_vcpu_list_get(const struct kvmdci_vcpu_list *l,
								 int i)
{
	return i >= 0 && i < l->n ? &l->vcpus[i] : NULL;
}
