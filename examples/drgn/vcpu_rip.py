#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Print every vCPU's RIP and mode, with drgn over any libkvmdci target.

    PYTHONPATH=build/python /usr/bin/python3 examples/drgn/vcpu_rip.py \
        --target gdb+unix:///tmp/lab/gdb.sock

For each VM on vm_list and each of its vCPUs: the vCPU's KVM mode (vcpu->mode: in or outside
the guest), the guest CPU's mode (real, protected, compat or 64-bit, from CR0.PE, EFER.LMA and
CS.L) and RIP. Where the values come from, in order:
 - vcpu->arch.regs[VCPU_REGS_RIP] when KVM's cache holds it (its bit in regs_avail);
 - on AMD (kvm_amd), the guest's save area of its VMCB (svm->vmcb->save: rip, cr0, efer, cs),
   which is plain memory;
 - on Intel the VMCS is not memory with a documented layout: RIP is then "not cached"
   (kvmdci-vcpu and kvmdci-vmcs read it through the CPU).
"""

import sys

from drgn import container_of

import kvmdci.drgn
import kvmwalk

EFER_LMA = 1 << 10
CR0_PE = 1 << 0


def cpu_mode(cr0, efer, cs_long):
    if efer & EFER_LMA:
        return "64-bit" if cs_long else "compat"
    return "protected" if cr0 & CR0_PE else "real"


def vcpu_state(prog, vcpu, vendor):
    """{vcpu_id, kvm_mode, rip (int or None), cpu_mode, source} of one struct kvm_vcpu *;
    @vendor: "svm" (kvm_amd loaded), "vmx" or None (kvmdci.Kernel.vendor)."""
    rip_idx = prog["VCPU_REGS_RIP"].value_()
    # vcpu->mode is an int holding one of an anonymous enum's values (OUTSIDE_GUEST_MODE, ...)
    mode = vcpu.mode.value_()
    names = {e.value: e.name for e in prog.constant("OUTSIDE_GUEST_MODE").type_.enumerators}
    rip = src = None
    if vcpu.arch.regs_avail.value_() >> rip_idx & 1:
        rip, src = vcpu.arch.regs[rip_idx].value_(), "vcpu->arch.regs"
    cr0, efer, cs_long = vcpu.arch.cr0.value_(), vcpu.arch.efer.value_(), 0
    if vendor == "svm":
        save = container_of(vcpu, "struct vcpu_svm", "vcpu").vmcb.save
        if rip is None:
            rip, src = save.rip.value_(), "VMCB save area"
        cr0, efer = save.cr0.value_(), save.efer.value_()
        # the VMCB's packed segment attributes: L is bit 9 (SVM_SELECTOR_L_SHIFT,
        # arch/x86/include/asm/svm.h)
        cs_long = save.cs.attrib.value_() >> 9 & 1
    return {"vcpu_id": vcpu.vcpu_id.value_(), "kvm_mode": names.get(mode, str(mode)),
            "rip": rip, "cpu_mode": cpu_mode(cr0, efer, cs_long), "source": src or "not cached"}


def main():
    args = kvmwalk.parser(__doc__.splitlines()[0]).parse_args()
    prog = kvmwalk.program(args)
    vendor = kvmdci.drgn.kernel(prog).vendor
    for kvm in kvmwalk.vms(prog):
        print(f"VM {kvm.value_():#x} pid {kvmwalk.vm_pid(kvm)}")
        for vcpu in kvmwalk.vcpus(kvm):
            s = vcpu_state(prog, vcpu, vendor)
            rip = f"{s['rip']:#x}" if s["rip"] is not None else "-"
            print(f"  vCPU {s['vcpu_id']}: {s['kvm_mode']:<18} {s['cpu_mode']:<9} rip {rip:<18} "
                  f"({s['source']})")


if __name__ == "__main__":
    sys.exit(main())
