#!/usr/bin/env python3
"""Every kernel KVM people run, live on the qemu engine (AMD SVM, kvm_amd): one boot of the
kernel series given as argument (5.10, 6.1, 6.12, 7.2: the newest Debian cloud release of it,
kvmdci-lab --kernel), then the tools against KVM's own counters and what the workload
registered, with the checks the other lab tests use (shared, not copied):
 - kvmdci-exits, both triggers, over a marked window: totals, IOIO and HLT exact against
   KVM's counters (svm_truth.py). Where KVM has no KVM_GET_STATS_FD (before 5.14) the
   workload reads the VM's debugfs sums: the totals are checked, per-vCPU ones cannot be;
 - kvmdci-iobus and kvmdci-vcpu on 2 parked VMs x 2 vCPUs: exactly the registered ranges,
   threads, ids, registers (iobus_truth.py);
 - kvmdci-vmxon and kvmdci-vmcs (VMCB) on the parked vCPUs: EFER.SVME owned by KVM, the
   last exit IOIO on port 0x3f8, intercepts, nested paging (svm_truth.py);
 - the same kvmdci-iobus answer from the target's memory alone (kallsyms and BTF in memory)
   where the kernel keeps module BTF; where it does not (5.10) one clear error naming what
   is missing and the -dbg file that provides it;
 - kvmdci-catalog check against the guest's /proc/kallsyms, every SVM entry; kvmdci-trace
   --stack at the SVM exit handler; kvmdci-cpus (catalog_truth.py);
 - kvmdci-trace on kvm_io_bus_write: one hit per ioeventfd signal (trace_truth.py);
 - kvmdci-stat on the parked VMs: every stat and name as KVM's debugfs has them (KVM's stats
   descriptors from 5.14, the stats structs' members before: stat_truth.py).
Kernel types come from BTF (vmlinux; modules from 5.11) or, for modules without BTF, from
the -dbg package's DWARF module files (the lab's KVMDCI_MODULES says which).
"""
import json
import os
import sys
import time

from e2e import TestLab, check, finish, run_tool
import iobus_truth as iobus
from catalog_truth import catalog_check, stack_in_handler
from svm_truth import svm_parked_checks, traced_window
from trace_truth import io_bus_write_check
from module_checks import build_id_checks
from stat_truth import compare_stat


def lab_facts(t, series):
    rel = t.env.get("KVMDCI_KERNEL_RELEASE", "")
    check(f"the lab runs a {series} kernel", rel.startswith(series + ".") or
          rel.startswith(series + "-"), rel)
    rc, out = t.run("uname -r; lsmod | cut -d' ' -f1 | grep -x kvm_amd; "
                    "cat /sys/module/kvm_amd/parameters/npt")
    words = out.split()
    check("guest: uname -r is the release, kvm_amd loaded, nested paging on",
          rc == 0 and words[:2] == [rel, "kvm_amd"] and words[2:] in (["Y"], ["1"]),
          out.strip())
    mods = t.env.get("KVMDCI_MODULES", "")
    print(f"kernel {rel} (Debian {t.env.get('KVMDCI_KERNEL_SUITE') or '?'}); module types "
          f"from {'the -dbg DWARF files' if mods.endswith('/debug') else 'BTF'}: {mods}",
          flush=True)


def tool_json(label, t, name, args, env=None, timeout=300):
    rc, out, err = run_tool(name, ["--json"] + args, env or t.tool_env, timeout=timeout)
    check(f"{label}: {' '.join([name] + args)} exits 0", rc == 0,
          f"rc={rc} {err.strip()[-300:]}")
    try:
        return json.loads(out) if rc == 0 else {}
    except ValueError:
        return {}


def memory_only(t, ground):
    """kvmdci-iobus with no files: symbols and types from the target's memory."""
    env = {k: v for k, v in t.tool_env.items()
           if k not in ("KVMDCI_VMLINUX", "KVMDCI_SYSTEM_MAP", "KVMDCI_MODULES")}
    rc, out, err = run_tool("kvmdci-iobus", ["--json"], env, timeout=600)
    if t.env.get("KVMDCI_MODULES", "").endswith("/debug"):
        # the image's kvm.ko has no .BTF, so the kernel has none in memory either
        line = [l for l in err.splitlines() if "no BTF of module kvm " in l]
        check("memory only, a kernel without module BTF: one line says so and names the "
              "-dbg file", bool(line) and "linux-image-RELEASE-dbg" in line[0] and
              "btf_modules" in line[0], (line or [err.strip()[-300:]])[0])
        check("memory only, without module BTF: no bus is decoded from guessed types",
              rc != 0 or all(v.get("error") for v in json.loads(out or "{}").get("vms", [])
                             if v.get("vm_pid") == ground["pid"]), f"rc={rc}")
        return
    doc = json.loads(out) if rc == 0 and out.strip() else {}
    check("memory only (kallsyms and BTF from the target): kvmdci-iobus exits 0",
          rc == 0 and bool(doc.get("vms")), f"rc={rc} {err.strip()[-300:]}")
    if doc:
        iobus.compare_iobus("memory only", ground, doc)


def cpus_check(t):
    pid, _ = t.lab.run_bg("workload --vcpus 2 --seconds 0 --quiet")
    time.sleep(3)
    doc = tool_json("busy", t, "kvmdci-cpus", ["--stack"])
    cpus = doc.get("cpus", [])
    ok = len(cpus) == 2
    for c in cpus:
        task = c.get("task") or {}
        frames = (c.get("stack") or {}).get("frames", [])
        if c.get("mode") == "kernel":
            ok = ok and bool(task.get("comm")) and bool(frames)
        elif c.get("mode") not in ("guest", "user"):
            ok = False
    check("kvmdci-cpus --stack: both CPUs, each in the guest, in user space or in the kernel "
          "with its task and a stack", ok,
          str([(c.get("mode"), (c.get("task") or {}).get("comm"),
                len((c.get("stack") or {}).get("frames", []))) for c in cpus]))
    t.run(f"kill {pid}")


def main():
    series = sys.argv[1] if len(sys.argv) > 1 else "6.1"
    t0 = time.monotonic()
    with TestLab(kernel=series) as t:
        lab_facts(t, series)
        build_id_checks(t, series)
        # short windows (one boot per kernel in CI; the guest halts every 16th iteration):
        # the break trigger runs at a few exits/s on a loaded machine, its window is shorter
        traced_window(t, "w1", "watch", iterations=50)
        traced_window(t, "w2", "break", iterations=20)
        ground = t.parked_workload("p1", "--vms 2 --vcpus 2")
        doc = tool_json("parked", t, "kvmdci-iobus", [])
        if doc:
            iobus.compare_iobus("parked (2 VMs x 2 vCPUs)", ground, doc)
        vdoc = tool_json("parked", t, "kvmdci-vcpu", [])
        if vdoc:
            iobus.compare_vcpu("parked (2 VMs x 2 vCPUs)", t, ground, vdoc)
        compare_stat("kvmdci-stat, parked (2 VMs x 2 vCPUs)", t, ground["pid"], t.tool_env,
                     nvms=2)
        svm_parked_checks(t, "p1", 4)
        memory_only(t, ground)
        t.signal("p1")
        t.wait_state("p1", "done", 300)
        io_bus_write_check(t, "t1")
        catalog_check(t, "svm", "kvm_amd")
        stack_in_handler(t, "svm_handle_exit", "kvm_amd", "handle_exit")
        cpus_check(t)
    print(f"lab-kernel-{series} took {time.monotonic() - t0:.0f} s", flush=True)
    finish()


if __name__ == "__main__":
    main()
