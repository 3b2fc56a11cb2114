# SPDX-License-Identifier: LGPL-2.1-or-later
"""kvmwalk - the KVM walks the drgn examples share: VMs, vCPUs, one VM by pid or address, and
the Program of --target (kvmdci.drgn.program()). Plain drgn over the kernel's own types (the
DWARF of kvm.ko): nothing here knows an offset or a kernel version."""

import argparse
import os
import sys

import drgn
from drgn.helpers.linux.list import list_for_each_entry

import kvmdci
import kvmdci.drgn


def vms(prog):
    """Every struct kvm * on vm_list (newest first, as KVM adds them)."""
    return list(list_for_each_entry("struct kvm", prog["vm_list"].address_of_(), "vm_list"))


def vcpus(kvm):
    """The struct kvm_vcpu * of a VM, in index order. 5.16 moved them from an array into an
    xarray; the kernel's type says which it has."""
    prog = kvm.prog_
    n = kvm.online_vcpus.counter.value_()
    if prog.type("struct kvm").has_member("vcpu_array"):
        from drgn.helpers.linux.xarray import xa_load
        return [drgn.cast("struct kvm_vcpu *", xa_load(kvm.vcpu_array.address_of_(), i))
                for i in range(n)]
    return [kvm.vcpus[i] for i in range(n)]


def vm_pid(kvm):
    """The pid of the process that made the VM (KVM's userspace_pid)."""
    return kvm.userspace_pid.value_()


def find_vm(prog, spec):
    """The VM a --vm argument names: a pid (the process's only VM) or a struct kvm address."""
    all_vms = vms(prog)
    n = int(spec, 0)
    by_addr = [k for k in all_vms if k.value_() == n]
    if by_addr:
        return by_addr[0]
    mine = [k for k in all_vms if vm_pid(k) == n]
    if len(mine) == 1:
        return mine[0]
    if mine:
        sys.exit(f"pid {n} has {len(mine)} VMs: name one by address "
                 f"({', '.join(hex(k.value_()) for k in mine)})")
    listed = ", ".join(f"{k.value_():#x} pid {vm_pid(k)}" for k in all_vms)
    sys.exit(f"no VM of pid {n} and no struct kvm at {n:#x} on vm_list "
             f"({len(all_vms)} VMs: {listed})")


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("-t", "--target", default=os.environ.get("KVMDCI_TARGET"),
                   help="target URI (default $KVMDCI_TARGET): gdb+unix:///path, "
                   "core:///dump, ...")
    p.add_argument("--debug-info", nargs="+", metavar="FILE",
                   help="DWARF vmlinux and modules (default: found next to $KVMDCI_VMLINUX)")
    return p


def program(args):
    """The drgn Program of --target; exits with one line when it cannot be made."""
    if not args.target:
        sys.exit("no target: give --target URI or set $KVMDCI_TARGET")
    try:
        return kvmdci.drgn.program(args.target, debug_info=args.debug_info)
    except (kvmdci.Error, ValueError, drgn.MissingDebugInfoError) as e:
        sys.exit(f"{args.target}: {e}")
