#!/usr/bin/env python3
"""kvmdci-vmxon and kvmdci-vmcs end to end on the lab (QEMU TCG, AMD SVM, kernel 6.1).

- Before any VM exists, KVM 6.1 has not enabled virtualization (it does so when the first VM
  is created: hardware_enable_all): every CPU must be "off" with KVM agreeing.
- With the workload's window open its vCPUs are parked outside KVM_RUN, so every CPU is in
  the host: EFER.SVME must be set on every CPU and KVM must own it (cpus_hardware_enabled).
- The VMCB of each parked vCPU shows the exit KVM handled last for it: the workload parks
  after its iteration marker, an OUT to port 0x3f8 that goes to user space, i.e. SVM exit
  0x7b (IOIO) with the port in exit_info_1 bits 31:16; the intercepts are the ones the
  workload's exits need (IOIO_PROT, HLT; MMIO arrives as NPF through nested paging:
  np_enable set).
"""
import json

from e2e import TestLab, check, finish, run_tool
from svm_truth import svm_parked_checks

VCPUS = 2


def vmxon(t):
    rc, out, err = run_tool("kvmdci-vmxon", ["--json"], t.tool_env)
    check("kvmdci-vmxon exits 0", rc == 0, err.strip()[-300:])
    return json.loads(out) if rc == 0 else {"cpus": []}


with TestLab() as t:
    doc = vmxon(t)
    check("vendor svm", doc.get("vendor") == "svm", doc.get("vendor"))
    cpus = doc["cpus"]
    check("one row per CPU", len(cpus) == 2, str(len(cpus)))
    for c in cpus:
        check(f"before any VM: cpu {c['cpu']} off, KVM agrees",
              c["owner"] == "off" and c["kvm_on"] is False and c["cpu_on"] is False,
              c["reason"])

    t.window_start("vmxon", VCPUS, 50)
    svm_parked_checks(t, "vmxon", VCPUS)
    t.signal("vmxon")
    t.wait_state("vmxon", "window-done", 300)
finish()
