// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Choosing VMs and vCPUs the way people name them (a struct kvm address or the pid of the VMM
 * that created the VM, and a vCPU id), and lists of them that the library sizes itself: the
 * caller gets a count and an accessor instead of guessing how large an array to pass.
 */
#include <stdlib.h>
#include <strings.h>

#include "internal.h"
#include "kvm/kvm-internal.h"

/*
 * A first guess at the list length; a longer list costs one more walk, which on a dump repeats
 * every read (no planned reads there: 1000 VMs walked twice). The array's pages are touched
 * only as entries are filled (an allocation this large is mapped lazily), so the guess costs
 * address space only: as many as kvm_vm_list lists, so that the VMs always take one walk (and
 * a host's vCPUs up to that many).
 */
#define FIRST_GUESS KVM_LAYOUT_MAX_VMS

/* Both lists are one array of selected entries, of one type or the other. */
struct list {
	int refcount;
	void *items;
	size_t size;
	int n;
};

struct kvmdci_vm_list {
	struct list l;
};

struct kvmdci_vcpu_list {
	struct list l;
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

static int keep_vm(const struct kvmdci_vm_select *sel, const void *item)
{
	return kvmdci_vm_select_vm(sel, item);
}

static int keep_vcpu(const struct kvmdci_vm_select *sel, const void *item)
{
	return kvmdci_vm_select_vcpu(sel, item);
}

/* Read a whole list into @l and keep the entries @sel wants, in order. */
static int list_read(struct kvmdci_kernel *k, size_t size,
		     int (*list)(struct kvmdci_kernel *k, void *out, int max),
		     int (*keep)(const struct kvmdci_vm_select *sel, const void *item),
		     const struct kvmdci_vm_select *sel, struct list *l)
{
	void *all = NULL;
	int n = list_all(k, size, list, &all);

	if (n < 0)
		return n;
	*l = (struct list){.refcount = 1, .items = all, .size = size};
	for (int i = 0; i < n; i++) {
		const char *item = (const char *)all + (size_t)i * size;
		if (keep(sel, item))
			memmove((char *)all + (size_t)l->n++ * size, item, size);
	}
	return 0;
}

static void *list_get(const struct list *l, int i)
{
	return i >= 0 && i < l->n ? (char *)l->items + (size_t)i * l->size : NULL;
}

/* Drop a reference; true when it was the last (the caller frees its wrapper). */
static bool list_put(struct list *l)
{
	if (--l->refcount > 0)
		return false;
	free(l->items);
	return true;
}

KVMDCI_EXPORT int kvmdci_vm_list_new(struct kvmdci_kernel *k, const struct kvmdci_vm_select *sel,
				     struct kvmdci_vm_list **ret)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct kvmdci_vm_list *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	if ((r = list_read(k, sizeof(struct kvmdci_vm_info), list_vms, keep_vm, sel, &v->l)) < 0) {
		free(v);
		return r;
	}
	*ret = v;
	return 0;
}

KVMDCI_EXPORT struct kvmdci_vm_list *kvmdci_vm_list_ref(struct kvmdci_vm_list *l)
{
	if (l)
		l->l.refcount++;
	return l;
}

KVMDCI_EXPORT struct kvmdci_vm_list *kvmdci_vm_list_unref(struct kvmdci_vm_list *l)
{
	if (l && list_put(&l->l))
		free(l);
	return NULL;
}

KVMDCI_EXPORT int kvmdci_vm_list_count(const struct kvmdci_vm_list *l)
{
	return l->l.n;
}

KVMDCI_EXPORT const struct kvmdci_vm_info *kvmdci_vm_list_get(const struct kvmdci_vm_list *l, int i)
{
	return list_get(&l->l, i);
}

KVMDCI_EXPORT int kvmdci_vcpu_list_new(struct kvmdci_kernel *k, const struct kvmdci_vm_select *sel,
				       struct kvmdci_vcpu_list **ret)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct kvmdci_vcpu_list *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	if ((r = list_read(k, sizeof(struct kvmdci_vcpu_info), list_vcpus, keep_vcpu, sel, &v->l)) <
	    0) {
		free(v);
		return r;
	}
	*ret = v;
	return 0;
}

KVMDCI_EXPORT struct kvmdci_vcpu_list *kvmdci_vcpu_list_ref(struct kvmdci_vcpu_list *l)
{
	if (l)
		l->l.refcount++;
	return l;
}

KVMDCI_EXPORT struct kvmdci_vcpu_list *kvmdci_vcpu_list_unref(struct kvmdci_vcpu_list *l)
{
	if (l && list_put(&l->l))
		free(l);
	return NULL;
}

KVMDCI_EXPORT int kvmdci_vcpu_list_count(const struct kvmdci_vcpu_list *l)
{
	return l->l.n;
}

KVMDCI_EXPORT const struct kvmdci_vcpu_info *kvmdci_vcpu_list_get(const struct kvmdci_vcpu_list *l,
								  int i)
{
	return list_get(&l->l, i);
}
