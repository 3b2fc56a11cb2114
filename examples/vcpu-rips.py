#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Print every vCPU's RIP and mode, VM by VM.

    vcpu-rips.py [-t URI]        (default $KVMDCI_TARGET: a live link or a dump)

RIP is KVM's copy in kvm_vcpu_arch: on VMX it is read from the VMCS lazily, so a vCPU whose
copy is stale says "not cached" (regs_avail), as kvmdci-vcpu does.
"""
import os
import sys

import kvmdci

target = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "-t" else \
    os.environ.get("KVMDCI_TARGET")
if not target:
    sys.exit("usage: vcpu-rips.py [-t URI] (or set KVMDCI_TARGET)")
with kvmdci.open(target) as k:
    for vm in k.vms():
        print(f"VM {vm.vm:#x} (VMM pid {vm.vm_pid}), {vm.online_vcpus} vCPUs")
        for vcpu in vm.vcpus():
            rip = "not cached" if vcpu.regs.rip is None else f"{vcpu.regs.rip:#x}"
            print(f"  vCPU {vcpu.vcpu_id}: rip {rip}, {vcpu.mode}, thread {vcpu.pid}, "
                  f"last on CPU {vcpu.cpu}")
