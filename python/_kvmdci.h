/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the files of the kvmdci._kvmdci extension. */
#pragma once

#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include <libkvmdci/libkvmdci.h>

typedef struct {
	PyObject_HEAD
	struct kvmdci_ctx *ctx;     /* NULL once closed */
	struct kvmdci_target *target;
	struct kvmdci_kernel *kernel;
	struct kvmdci_unwinder *unwinder; /* made at the first cpus() or stack() */
	struct kvmdci_catalog *catalog;   /* loaded at the first catalog() or trace() */
	char *uri, *vmlinux, *system_map, *modules;
	bool busy;     /* a trace runs with the GIL released */
	bool detached; /* a finished trace detached the target: attach again at the next use */
} KernelObject;

extern PyTypeObject KernelType;
extern PyObject *kvmdci_Error;
extern PyObject *kvmdci_FaultError;

PyObject *kd_raise(struct kvmdci_ctx *ctx, int r, const char *what, ...)
	__attribute__((format(printf, 3, 4)));
PyObject *kd_raise_fault(struct kvmdci_ctx *ctx, int r, uint64_t addr, const char *what);
int kd_set(PyObject *d, const char *key, PyObject *v);
int kd_set_u64(PyObject *d, const char *key, uint64_t v);
int kd_set_i64(PyObject *d, const char *key, int64_t v);
int kd_set_str(PyObject *d, const char *key, const char *s);
int kd_set_bool(PyObject *d, const char *key, int v);
int kd_set_none(PyObject *d, const char *key);
int kd_set_errno(PyObject *d, const char *key, int err);
int kernel_ready(KernelObject *self);

/* kvm.c: the KVM model's methods of Kernel */
PyObject *Kernel_vms(KernelObject *self, PyObject *args, PyObject *kw);
PyObject *Kernel_vcpus(KernelObject *self, PyObject *args, PyObject *kw);
PyObject *Kernel_vcpu_state(KernelObject *self, PyObject *args);
PyObject *Kernel_io_buses(KernelObject *self, PyObject *args);
PyObject *Kernel_vmx(KernelObject *self, PyObject *args);
PyObject *Kernel_vmcs12(KernelObject *self, PyObject *args);
PyObject *Kernel_svm(KernelObject *self, PyObject *args);
PyObject *Kernel_vmcb(KernelObject *self, PyObject *args);
PyObject *Kernel_vmcb_fields(KernelObject *self, PyObject *args);
PyObject *Kernel_vmxon(KernelObject *self, PyObject *unused);
PyObject *Kernel_cpus(KernelObject *self, PyObject *args, PyObject *kw);
PyObject *Kernel_task_stack(KernelObject *self, PyObject *args);
PyObject *Kernel_task(KernelObject *self, PyObject *args);
PyObject *Kernel_catalog(KernelObject *self, PyObject *args, PyObject *kw);
PyObject *Kernel_trace(KernelObject *self, PyObject *args, PyObject *kw);
PyObject *kd_exit_reason_name(PyObject *m, PyObject *args);
PyObject *kd_vmcs_field(PyObject *m, PyObject *args);
int kd_types_ready(void);
int kd_types_add(PyObject *m);
int kernel_load_catalog(KernelObject *self);

#define KD_KVM_METHODS_DOC_VMS                                                                     \
	"vms(vm_pid=None)\n--\n\nThe VMs on kvm:vm_list (the kernel's order): dicts with vm "       \
	"(the struct kvm address), vm_pid (kvm->userspace_pid), online_vcpus, created_vcpus (None where the " \
	"member does not exist), stats_id, and error when part of the VM was unreadable. vm_pid "    \
	"keeps the VMs of one VMM process."

#define KD_KVM_METHODS                                                                             \
	{ "vms", (PyCFunction)(void (*)(void))Kernel_vms, METH_VARARGS | METH_KEYWORDS,           \
	  KD_KVM_METHODS_DOC_VMS },                                                                 \
	{ "vcpus", (PyCFunction)(void (*)(void))Kernel_vcpus, METH_VARARGS | METH_KEYWORDS,       \
	  "vcpus(vm=None, vm_pid=None, vcpu_id=None)\n--\n\nThe vCPUs of every VM, or of one VM "  \
	  "(vm: its struct kvm address), of the VMs of one VMM (vm_pid), one vCPU id: each a dict " \
	  "of kvmdci_kvm_vcpu_state(): vcpu (the struct kvm_vcpu address), vm, vcpu_id, vcpu_idx, cpu, " \
	  "mode (its name), mode_value, pid (the thread that last ran KVM_RUN), vm_pid, regs_avail, "           \
	  "regs_dirty, regs ({'rax': int or None when not cached, ...}), not_cached, error." },    \
	{ "vcpu_state", (PyCFunction)Kernel_vcpu_state, METH_VARARGS,                              \
	  "vcpu_state(vcpu)\n--\n\nThe state of one vCPU (its struct kvm_vcpu address): the dict " \
	  "vcpus() gives." },                                                                       \
	{ "io_buses", (PyCFunction)Kernel_io_buses, METH_VARARGS,                                  \
	  "io_buses(vm)\n--\n\nThe I/O buses of a VM (its struct kvm address), one per element of " \
	  "struct kvm.buses[]: dicts with index, name ('mmio', 'pio', ...), bus (the struct "       \
	  "kvm_io_bus address, None for a NULL bus), dev_count, ioeventfd_count, error, and ranges: each "     \
	  "range's address, length, kind ('ioeventfd', 'pic_master', ..., 'unknown'), dev, ops, "  \
	  "ops_symbol, object (container_of the device), and the kind's decoded fields "            \
	  "(ioeventfd: address, length, datamatch, wildcard; zone; ioapic)." },                                               \
	{ "vmx", (PyCFunction)Kernel_vmx, METH_VARARGS,                                            \
	  "vmx(vcpu)\n--\n\nThe VMX state KVM holds for a vCPU (struct vcpu_vmx): loaded_vmcs, "   \
	  "vmcs, its header (revision_id, abort), the cached exit information, nested state. "     \
	  "Raises Error (ENODEV) without kvm_intel." },                                             \
	{ "vmcs12", (PyCFunction)Kernel_vmcs12, METH_VARARGS,                                      \
	  "vmcs12(address)\n--\n\nDecode KVM's copy of a nested guest's VMCS (struct vmcs12 at "   \
	  "address, e.g. vmx(vcpu)['cached_vmcs12']): {'revision': int, 'fields': [{name, offset, " \
	  "size, value, encoding}]}." },                                                            \
	{ "svm", (PyCFunction)Kernel_svm, METH_VARARGS,                                            \
	  "svm(vcpu)\n--\n\nThe SVM state KVM holds for a vCPU (struct vcpu_svm): the VMCB in use " \
	  "and its physical address, vmcb01, nested state, ASID. Raises Error (ENODEV) without "   \
	  "kvm_amd." },                                                                             \
	{ "vmcb", (PyCFunction)Kernel_vmcb, METH_VARARGS,                                          \
	  "vmcb(address)\n--\n\nThe VMCB fields most asked for at a VMCB's kernel address "        \
	  "(svm(vcpu)['vmcb']), decoded with the target's struct vmcb: intercepts (names), "        \
	  "exit_code, exit_info_1/2, rip, cr0..., segments." },                                     \
	{ "vmcb_fields", (PyCFunction)Kernel_vmcb_fields, METH_VARARGS,                            \
	  "vmcb_fields(address)\n--\n\nEvery member of the target's struct vmcb read at address: "  \
	  "a list of {name, offset, size, value}." },                                               \
	{ "vmxon", (PyCFunction)Kernel_vmxon, METH_NOARGS,                                         \
	  "vmxon()\n--\n\nFor every CPU: hardware virtualization in the CPU (CR4.VMXE / "          \
	  "EFER.SVME) and in KVM's view, KVM's VMXON region or svm_data, the loaded VMCS, and a "   \
	  "verdict on the owner ('off', 'kvm', 'foreign', 'inconsistent', 'unknown')." },           \
	{ "cpus", (PyCFunction)(void (*)(void))Kernel_cpus, METH_VARARGS | METH_KEYWORDS,         \
	  "cpus(stacks=True)\n--\n\nEvery CPU of a stopped target: mode ('kernel', 'user', "       \
	  "'guest'), registers, the current task (pid, tgid, comm, state), where it is, and its "   \
	  "kernel call stack (frames: ip, sp, module, function, offset) unwound with ORC." },      \
	{ "task_stack", (PyCFunction)Kernel_task_stack, METH_VARARGS,                              \
	  "task_stack(task)\n--\n\nThe kernel call stack of a task (its struct task_struct "       \
	  "address): {frames, end, end_detail}." },                                                 \
	{ "task", (PyCFunction)Kernel_task, METH_VARARGS,                                          \
	  "task(pid_or_address)\n--\n\nA task by thread id (an int below 2**32) or struct "         \
	  "task_struct address: {task (its address), pid, tgid, comm, state, on_cpu, cpu}." },                 \
	{ "catalog", (PyCFunction)(void (*)(void))Kernel_catalog, METH_VARARGS | METH_KEYWORDS,   \
	  "catalog(check=True)\n--\n\nThe breakpoint catalog's entries: dicts with name, the "     \
	  "entry's fields (symbol, module, captures, ...), and with check=True the verdict on "    \
	  "this kernel: status ('resolved', 'absent', ...), address, symbol (the alternative that matched), captures_ok, captures_total, reason." },             \
	{ "trace", (PyCFunction)(void (*)(void))Kernel_trace, METH_VARARGS | METH_KEYWORDS,       \
	  "trace(entry, when=None, count=None, duration=None)\n--\n\nTrace catalog entries (a "    \
	  "name or a list of names) on a live target: an iterator of hits (entry, cpu, address, "  \
	  "seq, captures {name: int or None}). when is a capture expression filtering the hits; "  \
	  "the trace ends after count hits or duration seconds, else when the loop ends. Its "     \
	  "breakpoints are removed on every way out: the end, break, an exception, "               \
	  "KeyboardInterrupt, close(), garbage collection; the target is left running." },

#define KD_MODULE_METHODS                                                                          \
	{ "exit_reason_name", kd_exit_reason_name, METH_VARARGS,                                   \
	  "exit_reason_name(vendor, code)\n--\n\nThe name of an exit reason ('vmx' basic reason, " \
	  "'svm' exit code) as the kernel spells it, or None." },                                   \
	{ "vmcs_field", kd_vmcs_field, METH_VARARGS,                                               \
	  "vmcs_field(name_or_encoding)\n--\n\nA VMCS field of the built-in table (Intel SDM vol. " \
	  "3, appendix B) by name ('GUEST_RIP') or encoding: {name, encoding, type, width}." },
