// SPDX-License-Identifier: LGPL-2.1-or-later
/* --vm and --vcpu checked against what the target has, before a tool prints anything. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vm-select.h"

/* Append to @buf what printf would print, keeping the text cut at the buffer's end. */
static void add(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

static void say_vm(char *msg, size_t size, const struct kvmdci_vm_select *sel)
{
	if (sel->vm)
		add(msg, size, "--vm 0x%" PRIx64, sel->vm);
	else
		add(msg, size, "--vm %" PRId64, sel->pid);
}

int tool_check_selection(struct tool *tool, struct kvmdci_kernel *k,
			 const struct kvmdci_vm_select *sel)
{
	struct kvmdci_vm_select vm_only = *sel;
	struct kvmdci_vm_list *all = NULL, *chosen = NULL;
	struct kvmdci_vcpu_list *vcpus = NULL;
	const struct kvmdci_vm_info *vm;
	const struct kvmdci_vcpu_info *vc;
	bool want_vm = sel->vm || sel->pid > 0;
	char msg[1024] = "";
	int r, status = 0;

	if (!want_vm && sel->vcpu_id < 0)
		return 0;
	if ((r = kvmdci_vm_list_new(k, NULL, &all)) < 0 ||
	    (r = kvmdci_vm_list_new(k, sel, &chosen)) < 0) {
		status = tool_fail(tool, r, NULL);
		goto out;
	}
	if (want_vm && kvmdci_vm_list_count(chosen) == 0) {
		say_vm(msg, sizeof(msg), sel);
		add(msg, sizeof(msg), ": no VM with that %s; ",
		    sel->vm ? "struct kvm address" : "pid (kvm->userspace_pid)");
		if (kvmdci_vm_list_count(all) == 0)
			add(msg, sizeof(msg), "the target has no VMs");
		else
			add(msg, sizeof(msg), "the VMs are");
		for (int i = 0; (vm = kvmdci_vm_list_get(all, i)); i++)
			add(msg, sizeof(msg), "%s 0x%" PRIx64 " (pid %d, %d vCPUs)", i ? "," : "",
			    vm->vm, vm->userspace_pid, vm->online_vcpus);
		status = tool_fail_msg(tool, -ENOENT, msg);
		goto out;
	}
	if (sel->vcpu_id < 0)
		goto out;
	vm_only.vcpu_id = -1;
	if ((r = kvmdci_vcpu_list_new(k, &vm_only, &vcpus)) < 0) {
		status = tool_fail(tool, r, NULL);
		goto out;
	}
	for (int i = 0; (vc = kvmdci_vcpu_list_get(vcpus, i)); i++)
		if (vc->vcpu_id == sel->vcpu_id)
			goto out;
	add(msg, sizeof(msg), "--vcpu %d: no vCPU with that id", (int)sel->vcpu_id);
	if (want_vm) {
		add(msg, sizeof(msg), " in ");
		say_vm(msg, sizeof(msg), sel);
	}
	if (kvmdci_vcpu_list_count(vcpus) == 0) {
		add(msg, sizeof(msg), "; the target has no vCPUs");
	} else {
		add(msg, sizeof(msg), "; the vCPUs are");
		for (int i = 0; (vc = kvmdci_vcpu_list_get(vcpus, i)); i++)
			add(msg, sizeof(msg), "%s %d (VM 0x%" PRIx64 ")", i ? "," : "", vc->vcpu_id,
			    vc->vm);
	}
	status = tool_fail_msg(tool, -ENOENT, msg);
out:
	kvmdci_vcpu_list_unref(vcpus);
	kvmdci_vm_list_unref(chosen);
	kvmdci_vm_list_unref(all);
	return status;
}
