# SPDX-License-Identifier: LGPL-2.1-or-later
"""kvmdci: debug KVM from below the operating system, from Python.

A thin layer over libkvmdci (the C extension kvmdci._kvmdci): attach to a target -- a
whole-machine GDB stub (QEMU's gdbstub, a DCI GDB server), a USB DbC cable, a serial line, an
ELF or kdump-compressed dump, /proc/kcore -- and read the kernel's KVM model: VMs, vCPUs and
their registers, I/O buses with their decoded devices, VMX/SVM state, CPUs with their call
stacks, and trace catalog entries live.

    import kvmdci
    with kvmdci.open("gdb+unix:///tmp/lab/gdb.sock") as k:
        for vm in k.vms():
            print(hex(vm.vm), vm.vm_pid, [hex(c.regs.rip or 0) for c in vm.vcpus()])

Values are ints, strs, lists and Records (dicts whose keys are also attributes), with the key
names of the tools' --json output (kvmdci-json(7)); addresses are ints. Errors raise kvmdci.Error (an OSError
with the library's errno and one-line message); unreadable target memory raises
kvmdci.FaultError, whose .address says where. docs/python.md has the whole interface.
"""

from . import _kvmdci
from ._kvmdci import Error, FaultError, Trace, features, version  # noqa: F401
from ._kvmdci import exit_reason_name, vmcs_field  # noqa: F401

__all__ = ["open", "Kernel", "Trace", "Error", "FaultError", "Record", "VM", "version",
           "features", "exit_reason_name", "vmcs_field"]


class Record(dict):
    """A dict whose keys can also be read as attributes (vm.vm_pid == vm["vm_pid"]).

    Nested dicts are Records too, lists of dicts lists of Records. It compares equal to the
    plain dict with the same items.
    """

    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r} "
                                 f"(fields: {', '.join(self)})") from None

    def __dir__(self):
        return list(self) + dir(type(self))

    def __repr__(self):
        return f"{type(self).__name__}({dict.__repr__(self)})"


def _wrap(v, cls=Record):
    if isinstance(v, dict):
        return cls((k, _wrap(x)) for k, x in v.items())
    if isinstance(v, list):
        return [_wrap(x) for x in v]
    return v


class VM(Record):
    """One VM (a struct kvm on kvm:vm_list): vm (its address), vm_pid, online_vcpus, created_vcpus,
    stats_id; .vcpus() and .io_buses() walk it further. Made by Kernel.vms()."""

    __slots__ = ("_kernel",)

    def vcpus(self, vcpu_id=None):
        """This VM's vCPUs (Kernel.vcpus(vm=...)): vcpu, vcpu_id, mode, regs, ..."""
        return self._kernel.vcpus(vm=self["vm"], vcpu_id=vcpu_id)

    def io_buses(self):
        """This VM's I/O buses with their ranges and decoded devices (Kernel.io_buses())."""
        return self._kernel.io_buses(self["vm"])


class Kernel(_kvmdci.Kernel):
    """A target's kernel as libkvmdci sees it; made by kvmdci.open().

    Owns the connection to the target (or the open dump) and the kernel view: symbols, the
    KASLR offset, modules and types. A context manager: the with block closes it (a live target
    is left running with every breakpoint removed). The walks below return Records (dicts
    whose keys are also attributes) with the key names of the tools' --json.
    """

    def vms(self, vm_pid=None):
        """The VMs on kvm:vm_list (the kernel's order) as VM records: vm (the struct kvm's
        address), vm_pid (kvm->userspace_pid), online_vcpus, created_vcpus, stats_id; each with
        .vcpus() and .io_buses(). vm_pid keeps the VMs of one VMM process."""
        out = []
        for d in super().vms(vm_pid=vm_pid):
            vm = _wrap(d, VM)
            vm._kernel = self
            out.append(vm)
        return out

    def vm(self, address_or_pid):
        """One VM by its struct kvm address or by its VMM's pid; raises Error (ENOENT) when
        there is none, ValueError when a pid has several."""
        if address_or_pid < (1 << 32):
            found = self.vms(vm_pid=address_or_pid)
        else:
            found = [v for v in self.vms() if v["vm"] == address_or_pid]
        if not found:
            import errno
            raise Error(errno.ENOENT, f"no VM with address or VMM pid {address_or_pid:#x}"
                        if address_or_pid >= (1 << 32) else
                        f"no VM whose VMM pid is {address_or_pid}")
        if len(found) > 1:
            raise ValueError(f"VMM pid {address_or_pid} has {len(found)} VMs: give the "
                             f"struct kvm address of one")
        return found[0]

    def vcpus(self, vm=None, vm_pid=None, vcpu_id=None):
        return _wrap(super().vcpus(vm=vm, vm_pid=vm_pid, vcpu_id=vcpu_id))
    vcpus.__doc__ = _kvmdci.Kernel.vcpus.__doc__

    def vcpu_state(self, vcpu):
        return _wrap(super().vcpu_state(vcpu))
    vcpu_state.__doc__ = _kvmdci.Kernel.vcpu_state.__doc__

    def io_buses(self, vm):
        return _wrap(super().io_buses(vm))
    io_buses.__doc__ = _kvmdci.Kernel.io_buses.__doc__

    def vmx(self, vcpu):
        return _wrap(super().vmx(vcpu))
    vmx.__doc__ = _kvmdci.Kernel.vmx.__doc__

    def svm(self, vcpu):
        return _wrap(super().svm(vcpu))
    svm.__doc__ = _kvmdci.Kernel.svm.__doc__

    def vmcb(self, address):
        return _wrap(super().vmcb(address))
    vmcb.__doc__ = _kvmdci.Kernel.vmcb.__doc__

    def vmcs12(self, address):
        return _wrap(super().vmcs12(address))
    vmcs12.__doc__ = _kvmdci.Kernel.vmcs12.__doc__

    def vmcs(self, vcpu):
        """The VMCS side of a vCPU on VMX: vmx(vcpu) (the loaded VMCS, its header, the exit
        information KVM cached) with, while a nested guest's vmcs12 is cached, its decoded
        fields under 'vmcs12'. On SVM use vmcb()."""
        d = self.vmx(vcpu)
        if d.get("cached_vmcs12"):
            d["vmcs12"] = self.vmcs12(d["cached_vmcs12"])
        return d

    def vmxon(self):
        return _wrap(super().vmxon())
    vmxon.__doc__ = _kvmdci.Kernel.vmxon.__doc__

    def cpus(self, stacks=True):
        return _wrap(super().cpus(stacks=stacks))
    cpus.__doc__ = _kvmdci.Kernel.cpus.__doc__

    def task(self, pid_or_address):
        return _wrap(super().task(pid_or_address))
    task.__doc__ = _kvmdci.Kernel.task.__doc__

    def task_stack(self, task):
        return _wrap(super().task_stack(task))
    task_stack.__doc__ = _kvmdci.Kernel.task_stack.__doc__

    def catalog(self, check=True):
        return _wrap(super().catalog(check=check))
    catalog.__doc__ = _kvmdci.Kernel.catalog.__doc__

    def trace(self, entry, when=None, count=None, duration=None):
        return _TraceIter(super().trace(entry, when=when, count=count, duration=duration))
    trace.__doc__ = _kvmdci.Kernel.trace.__doc__


class _TraceIter:
    """A Trace whose hits come as Records; close(), stats, active and the with block as
    Trace's. The C Trace underneath removes its breakpoints when this is freed."""

    __slots__ = ("_t",)

    def __init__(self, t):
        self._t = t

    def __iter__(self):
        return self

    def __next__(self):
        return _wrap(next(self._t))

    def close(self):
        """Stop tracing now: remove every breakpoint and let the target run."""
        self._t.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._t.close()
        return False

    @property
    def stats(self):
        """{entry: {'hits', 'filtered'}} so far (final after the end)."""
        return self._t.stats

    @property
    def active(self):
        """True while the breakpoints are in."""
        return self._t.active


def open(uri, vmlinux=None, system_map=None, modules=None):  # noqa: A001 (the module's verb)
    """Attach to a target and build its kernel view; returns a Kernel (a context manager).

    uri: gdb://HOST:PORT, gdb+unix:///path, serial:///dev/ttyX[?baud=N], usb://VID:PID,
    core:///path (an ELF or kdump-compressed dump), kcore: -- as the tools' --target.
    vmlinux, system_map, modules (a directory of .ko files) default to $KVMDCI_VMLINUX,
    $KVMDCI_SYSTEM_MAP, $KVMDCI_MODULES; what is still missing is read from target memory.
    A live target is stopped while attached and left running by close().
    Raises kvmdci.Error (errno and the library's message) when the target or its kernel
    cannot be read.
    """
    return _kvmdci._open_as(Kernel, uri, vmlinux=vmlinux, system_map=system_map,
                            modules=modules)
