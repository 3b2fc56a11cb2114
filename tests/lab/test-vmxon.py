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
    doc = vmxon(t)
    for c in doc["cpus"]:
        check(f"VM exists, vCPUs parked: cpu {c['cpu']} EFER.SVME set and owned by KVM",
              c["owner"] == "kvm" and c["kvm_on"] is True and c["cpu_on"] is True
              and int(c["efer"], 16) & (1 << 12) != 0,
              f"{c['reason']} efer {c['efer']}")
        check(f"cpu {c['cpu']}: svm_data and its host save area found",
              int(c["svm_data"], 16) != 0 and int(c["save_area_pa"], 16) != 0,
              f"svm_data {c['svm_data']} save_area_pa {c['save_area_pa']}")

    rc, out, err = run_tool("kvmdci-vmcs", ["--json"], t.tool_env)
    check("kvmdci-vmcs exits 0", rc == 0, err.strip()[-300:])
    vcpus = json.loads(out)["vcpus"] if rc == 0 else []
    st, pids = t.run("cat /tmp/vmxon.pid")
    parked = [v for v in vcpus if str(v["vm_pid"]) == pids.strip()] or vcpus
    check("the window VM's vCPUs are listed", len(parked) == VCPUS, str(len(parked)))
    for v in parked:
        ctl = v.get("vmcb", {}).get("control", {})
        name = f"vCPU {v['vcpu_id']}"
        check(f"{name}: last exit IOIO (0x7b) on port 0x3f8",
              ctl.get("exit_code") == 0x7B and int(ctl.get("exit_info_1", "0"), 16) >> 16 == 0x3F8,
              f"exit_code {ctl.get('exit_code_name')} ({ctl.get('exit_code')}) "
              f"exit_info_1 {ctl.get('exit_info_1')}")
        ic = set(ctl.get("intercepts", []))
        check(f"{name}: intercepts include ioio_prot, hlt, msr_prot, vmrun",
              {"ioio_prot", "hlt", "msr_prot", "vmrun"} <= ic, " ".join(sorted(ic)))
        check(f"{name}: nested paging on (MMIO exits come as NPF)", ctl.get("np_enable") is True,
              ctl.get("nested_ctl"))
        check(f"{name}: VMCB in use is vmcb01 (no nested guest)",
              v["svm"]["guest_mode"] is False and v["svm"]["vmcb"] == v["vmcb"]["addr"], "")
    t.signal("vmxon")
    t.wait_state("vmxon", "window-done", 300)
finish()
