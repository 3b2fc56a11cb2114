#!/usr/bin/env python3
"""Intel VMX, live: the tools against a real kvm_intel host (the lab's bochs engine).

Bochs emulates an Intel CPU with VMX (EPT, unrestricted guest, VPID); the lab's kernel loads
kvm_intel on it, and our workload runs its real-mode VMs there. One boot (about 1.5 to several
minutes) serves every check. With a kernel series as argument (lab-vmx-6.12: VMX on from
module load, so VMXON's life cycle checks every CPU on before any VM) the same checks run on
that kernel, but for nested VMX, the hold and kvmdci-dci (the CPU is the same):
 - the lab: engine bochs, vendor intel, kvm_intel loaded with unrestricted_guest and EPT on
   (the workload's real-mode guest runs natively only with unrestricted guest);
 - kvmdci-exits, both triggers (watch on KVM's exits counter, break on
   kvm_intel:vmx_handle_exit), over a marked window of the workload (its vCPUs parked outside
   KVM_RUN at both ends, KVM_GET_STATS_FD read there: exact ground truth):
   total == the exits delta (vcpu_enter_guest counts each exit once; VMX's fastpath handles
   only MSR writes and the preemption timer, which this real-mode guest never uses);
   IO_INSTRUCTION (30) == io_exits (handle_io counts each); HLT (12) == halt_exits
   (kvm_emulate_halt); EPT_VIOLATION (48) + EPT_MISCONFIG (49) == the window's MMIO accesses
   as the workload saw them: each guest MMIO access exits through EPT (an MMIO access faults
   on its first touch, EPT_VIOLATION, and on a misconfigured "MMIO" EPT entry after that) and
   is then either signalled on the MMIO ioeventfd, put in the coalesced ring, or handed to
   user space (mmio_exits, which must equal the workload's own KVM_EXIT_MMIO count);
   the names are the ones the target's VMX exit table gives;
 - VMXON where the kernel does it (vmxon_lifecycle): before any VM every CPU is off (6.1
   switches virtualization on at the first VM), kvmdci-trace on the VMXON instruction
   (vmxon_instruction, found by decoding the enable function on the target) stops when the
   first VM is created, its operand the VMXON region kvmdci-vmxon then shows for that CPU,
   every CPU with CR4.VMXE set and KVM the owner; after the last VM is gone every CPU is off
   again, the regions kept;
 - kvmdci-iobus and kvmdci-vcpu on parked VMs: exactly the ranges the workload registered,
   its threads, ids, and rdx = 0x3f8 (the last exit was the OUT to 0x3f8; on VMX KVM saves
   every GPR but RSP at each exit);
 - kvmdci-vmxon: with VMs alive every online CPU has CR4.VMXE and KVM owns it (a CPU the guest
   kernel did not bring up, as 5.10's second Bochs CPU, is off); its VMXON region;
 - kvmdci-vmcs: each parked vCPU's loaded_vmcs is its vmcs01, launched, on a CPU of the
   machine; the VMCS header's revision id equals IA32_VMX_BASIC bits 30:0 as the CPU reports
   it (read in the guest through /dev/cpu/0/msr), bit 31 (shadow) clear; the cached exit is
   the workload's OUT (IO_INSTRUCTION, port 0x3f8, size 1, out);
 - kvmdci-catalog check: every VMX entry resolves, at the address the target's /proc/kallsyms
   gives (or is absent, and then none of its symbols is in kallsyms: on 6.1 kvm_cpu_vmxon is
   inlined into vmx_hardware_enable);
 - kvmdci-trace --stack on a CPU stopped in vmx_handle_exit: the host stack from kvm_intel
   down into kvm;
 - a CPU stopped inside the VMX guest (guest_stack): the usual workload's guest runs a handful
   of instructions between exits while each exit costs the host thousands (vmx_l1d_flush
   alone reads 64 KiB), so stops land in host code; workload --spin loops in the guest with
   interrupts masked, and kvmdci-cpus then reports that CPU as "guest", its task the vCPU
   thread, and the host's stack from KVM's saved host state (vmx_vmexit, HOST_RSP and the
   frame __vmx_vcpu_run left above it) down to KVM_RUN's entry from user mode;
 - kvmdci-dci on the lab's Intel CPU (packed into the guest with kvmdci-lab start --tool):
   vendor, SDBG, MSR 0xC80 of each CPU and the USB stack as the guest kernel reads them, the
   verdict "not possible" (no SDBG) and exit status 3.
Each check is printed with the values compared.
"""
import json
import subprocess
import sys
import time

from e2e import (TestLab, Tool, check, check_exit_totals, finish, hlt_gap, in_order,
                 reason_counters, run_tool, window_deltas)
from hold_checks import run_hold
import iobus_truth as iobus
from nested_checks import run_nested
from catalog_truth import catalog_check, stack_in_handler


# VMX basic exit reasons (Intel SDM vol. 3, appendix C)
HLT, IO_INSTRUCTION, EPT_VIOLATION, EPT_MISCONFIG = 12, 30, 48, 49
EXTERNAL_INTERRUPT, INTERRUPT_WINDOW, NMI_WINDOW = 1, 7, 8
# KVM's counters that count one exit reason each (vmx.c's handlers increment them)
REASON_COUNTERS = {IO_INSTRUCTION: "io_exits", HLT: "halt_exits", EXTERNAL_INTERRUPT: "irq_exits",
                   INTERRUPT_WINDOW: "irq_window_exits", NMI_WINDOW: "nmi_window_exits"}
NAMES = {HLT: "HLT", IO_INSTRUCTION: "IO_INSTRUCTION", EPT_VIOLATION: "EPT_VIOLATION",
         EPT_MISCONFIG: "EPT_MISCONFIG"}
# Bochs runs ~10x slower than QEMU TCG: small windows
VCPUS, ITERATIONS = 2, 32
CR4_VMXE = 1 << 13


def lab_facts(t, ncpu=2):
    st = t.lab.status()
    check("status: engine bochs, vendor intel",
          st.get("engine") == "bochs" and st.get("vendor") == "intel", f"{st}")
    check("env: KVMDCI_LAB_ENGINE=bochs, KVMDCI_LAB_VENDOR=intel",
          t.env.get("KVMDCI_LAB_ENGINE") == "bochs" and t.env.get("KVMDCI_LAB_VENDOR") == "intel",
          f"{t.env.get('KVMDCI_LAB_ENGINE')} {t.env.get('KVMDCI_LAB_VENDOR')}")
    rc, out = t.run("grep -c '^flags.* vmx' /proc/cpuinfo; lsmod | cut -d' ' -f1 | "
                    "grep -x kvm_intel; cd /sys/module/kvm_intel/parameters && "
                    "cat unrestricted_guest ept")
    words = out.split()
    online = online_cpus(t)
    if len(online) < ncpu:
        # Debian's 5.10 starts the second Bochs CPU, which runs its first code and then never
        # reports alive ("Brought up 1 node, 1 CPU"; the same with count=1:2:1): its checks
        # below expect it off, as the guest kernel sees it
        print(f"     the guest kernel brought up CPUs {sorted(online)} of {ncpu}", flush=True)
    check("guest: every online CPU has vmx, kvm_intel loaded with unrestricted_guest=Y ept=Y",
          rc == 0 and online and words == [str(len(online)), "kvm_intel", "Y", "Y"],
          out.strip())


def online_cpus(t):
    """The CPU numbers the guest kernel has online (/sys/devices/system/cpu/online: "0-1")."""
    rc, out = t.run("cat /sys/devices/system/cpu/online")
    cpus = set()
    for part in out.strip().split(","):
        lo, _, hi = part.partition("-")
        if lo.isdigit():
            cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus if rc == 0 else set()


def dci_on_the_cpu(t, ncpu=2):
    """kvmdci-dci run on the lab's (Bochs's) Intel CPU: the lab packed the tool into the guest
    (kvmdci-lab start --tool kvmdci-dci), since it examines the machine it runs on. Ground
    truth from the guest kernel, which reads the same CPU on its own: the vendor and the flags
    in /proc/cpuinfo (the kernel lists "sdbg" when CPUID.1:ECX[11] is set), and MSR 0xC80 of
    each CPU through /dev/cpu/N/msr (file offset 0xC80 = 400 blocks of 8; Bochs answers that
    read rather than raising #GP). Without SDBG the verdict is "not possible", exit status 3,
    whatever the MSR holds."""
    rc, out = t.run("grep -m1 '^vendor_id' /proc/cpuinfo | cut -d: -f2; "
                    "grep -c '^flags.* sdbg' /proc/cpuinfo; for c in 0 1; do "
                    "dd if=/dev/cpu/$c/msr bs=8 count=1 skip=400 2>/dev/null | od -An -tx8; "
                    "done; [ -d /sys/bus/usb/devices ] && echo usb || echo no-usb")
    words = out.split()
    ok = rc == 0 and len(words) == 3 + ncpu
    check("guest: the CPU's vendor, SDBG flags, MSR 0xC80 of each CPU, USB stack",
          ok and words[1] == "0", out.strip())
    if not ok:
        return
    vendor, msr, usb = words[0], [int(w, 16) for w in words[2:2 + ncpu]], words[-1] == "usb"
    rc, out = t.run("ASAN_OPTIONS=detect_leaks=0 kvmdci-dci --json; echo rc=$?")
    lines = out.strip().splitlines()
    doc = {}
    try:
        doc = json.loads(next(ln for ln in lines if ln.startswith("{")))
    except (StopIteration, ValueError):
        pass
    status = lines[-1] if lines else ""
    check("kvmdci-dci in the guest: exit status 3 (DCI not possible)", status == "rc=3",
          out.strip()[-300:])
    check("kvmdci-dci: the CPU's vendor as the kernel has it, SDBG clear, state not_possible",
          doc.get("cpu_vendor") == vendor and doc.get("sdbg") is False and
          doc.get("state") == "not_possible" and doc.get("exit_status") == 3,
          f"{doc.get('cpu_vendor')} vs {vendor}, sdbg {doc.get('sdbg')}, {doc.get('state')}")
    check("kvmdci-dci: the verdict names the missing SDBG",
          "no IA32_DEBUG_INTERFACE" in doc.get("verdict", "") and
          "SDBG is clear" in doc.get("verdict", ""), doc.get("verdict"))
    cpus = doc.get("cpus", [])
    got = [int(c.get("raw", "-1"), 16) if "raw" in c else None for c in cpus]
    check("kvmdci-dci: MSR 0xC80 of every CPU as the kernel's msr driver reads it",
          doc.get("cpus_readable") == ncpu and got == msr,
          f"{[hex(g) if g is not None else None for g in got]} vs {[hex(m) for m in msr]}")
    check("kvmdci-dci: the USB stack as the guest has it, no debug-class device",
          doc.get("usb_stack") is usb and doc.get("usb_debug_devices") == [],
          f"usb_stack {doc.get('usb_stack')} vs {usb}: {doc.get('usb')}")


def traced_window(t, name, trigger):
    """kvmdci-exits over one marked window; returns its reasons {code: count}."""
    t.window_start(name, VCPUS, ITERATIONS)
    ts = time.monotonic()
    tool = Tool("kvmdci-exits", ["--json", "--trigger", trigger], t.tool_env)
    line = tool.wait_line("tracing", 300)
    print(f"     {trigger}: kvmdci-exits tracing after {time.monotonic() - ts:.0f} s",
          flush=True)
    if not check(f"{trigger}: kvmdci-exits started tracing", line is not None,
                 tool.text().strip()[-300:]):
        tool.stop()
        return None
    t0 = time.monotonic()
    t.signal(name)
    t.wait_state(name, "window-done", 900)
    secs = time.monotonic() - t0
    ts = time.monotonic()
    rc, out, err = tool.stop()
    print(f"     {trigger}: kvmdci-exits stopped in {time.monotonic() - ts:.0f} s", flush=True)
    check(f"{trigger}: exit status 0 after SIGINT", rc == 0, f"rc={rc} {err.strip()[-300:]}")
    doc = json.loads(out) if rc == 0 and out.strip() else {"reasons": [], "vcpus": []}
    ground = t.result(name)
    per, total = window_deltas(ground)
    win = ground["vms"][0]["window"]
    counts = {r["code"]: r["count"] for r in doc["reasons"]}
    names = {r["code"]: r["name"] for r in doc["reasons"]}
    print(f"{trigger}: {doc.get('total')} exits traced over {secs:.1f} s; KVM window: exits "
          f"{total['exits']} io_exits {total['io_exits']} halt_exits {total['halt_exits']} "
          f"mmio_exits {total['mmio_exits']}; histogram "
          f"{[(r['name'], r['count']) for r in doc['reasons']]}", flush=True)
    check(f"{trigger}: vendor vmx", doc.get("vendor", "vmx") == "vmx", f"{doc.get('vendor')}")
    check(f"{trigger}: no exit missed by the trigger", doc.get("missed") == 0,
          f"missed {doc.get('missed')}")
    # the break trigger cannot see HLT exits KVM re-enters in its fastpath (6.12 on): then every
    # other exit must be counted exactly, and the HLT count may only fall short
    gap, fast = hlt_gap(t, trigger, counts.get(HLT, 0), total)
    check_exit_totals(trigger, doc, per, total, gap, fast)
    check(f"{trigger}: IO_INSTRUCTION == io_exits delta",
          counts.get(IO_INSTRUCTION, 0) == total["io_exits"],
          f"{counts.get(IO_INSTRUCTION, 0)} vs {total['io_exits']}")
    check(f"{trigger}: HLT == halt_exits delta{fast}", gap >= 0 and
          counts.get(HLT, 0) == total["halt_exits"] - gap,
          f"{counts.get(HLT, 0)} vs {total['halt_exits']}")
    # the report's reason counters; with the watch trigger the interrupt and window exits
    # counted must equal them too
    reason_counters(trigger, doc, total, counts, REASON_COUNTERS,
                    exact=(EXTERNAL_INTERRUPT, INTERRUPT_WINDOW, NMI_WINDOW)
                    if trigger == "watch" else ())
    # every MMIO access of the window: MMIO ioeventfd signals + coalesced entries + exits to
    # user space (KVM's mmio_exits, which is the workload's own KVM_EXIT_MMIO count)
    mmio_ev = sum(s["count"] for s in win["ioeventfd_signals"] if s["bus"] == "mmio")
    to_user = sum(v["mmio_to_user"] for v in win["vcpus"])
    check(f"{trigger}: KVM's mmio_exits == the workload's KVM_EXIT_MMIO count",
          total["mmio_exits"] == to_user, f"{total['mmio_exits']} vs {to_user}")
    ept = counts.get(EPT_VIOLATION, 0) + counts.get(EPT_MISCONFIG, 0)
    accesses = mmio_ev + win["coalesced_entries"] + total["mmio_exits"]
    check(f"{trigger}: EPT_VIOLATION + EPT_MISCONFIG == MMIO accesses (ioeventfd {mmio_ev} + "
          f"coalesced {win['coalesced_entries']} + mmio_exits {total['mmio_exits']})",
          ept == accesses, f"{ept} vs {accesses}")
    check(f"{trigger}: names from the target's VMX exit table",
          all(names.get(c, n) == n for c, n in NAMES.items()) and
          all(c in names for c in (IO_INSTRUCTION, EPT_MISCONFIG)),
          f"{ {c: names.get(c) for c in NAMES} }")
    ts = time.monotonic()
    t.signal(name)
    t.wait_state(name, "done", 600)
    print(f"     {trigger}: the workload's VMs gone {time.monotonic() - ts:.0f} s after the "
          f"window", flush=True)
    return counts


def tool_json(label, t, name, args, timeout=600):
    rc, out, err = run_tool(name, ["--json"] + args, t.tool_env, timeout=timeout)
    check(f"{label}: {' '.join([name] + args)} exits 0", rc == 0, f"rc={rc} {err.strip()[-300:]}")
    try:
        return json.loads(out) if rc == 0 else {}
    except ValueError:
        return {}


def vmx_basic(t):
    """IA32_VMX_BASIC (MSR 0x480) of CPU 0, read in the guest through /dev/cpu/0/msr (the
    lab's init loads msr.ko): the file offset is the MSR number, reads are 8 bytes."""
    rc, out = t.run("dd if=/dev/cpu/0/msr bs=8 count=1 skip=144 2>/dev/null | od -An -tx8")
    try:
        return int(out.split()[0], 16) if rc == 0 else None
    except (IndexError, ValueError):
        return None


def vmx_rows(label, doc, ncpu):
    cpus = doc.get("cpus", [])
    check(f"kvmdci-vmxon {label}: vendor vmx, one row per CPU",
          doc.get("vendor") == "vmx" and len(cpus) == ncpu, f"{doc.get('vendor')} {len(cpus)}")
    return {c["cpu"]: c for c in cpus}


def kvm_vms(t):
    """How many VMs KVM lists in its debugfs (one PID-FD directory each; kvm_destroy_vm
    removes it)."""
    rc, out = t.run("ls /sys/kernel/debug/kvm | grep -c -e '^[0-9]*-[0-9]*$'")
    return int(out.split()[0]) if out.split() else None


def vmxon_lifecycle(t, ncpu=2):
    """VMXON where the kernel does it, seen three ways that do not share code: the CPU's own
    CR4.VMXE (a register the stub reads), KVM's per-CPU state (memory), and a breakpoint on
    the VMXON instruction itself (catalog entry vmxon_instruction: the library finds the
    instruction by decoding the enable function on the target) with its operand, the
    physical address of the VMXON region. Before the first VM, when the kernel switches
    virtualization on at the first VM (kvm_create_vm -> hardware_enable_all; since 6.12 the
    module parameter kvm.enable_virt_at_load says whether it does it at load instead, which
    the target tells), every CPU is off; creating a VM makes every CPU execute VMXON with its
    region; after the last VM is gone every CPU is off again (VMXOFF), the regions kept."""
    rc, out = t.run("cat /sys/module/kvm/parameters/enable_virt_at_load 2>/dev/null || "
                    "echo absent")
    at_load = out.strip() == "Y"
    vms = kvm_vms(t)
    check("VMXON: no VM exists yet (KVM's debugfs)", vms == 0, f"{vms}")
    before = vmx_rows("before any VM", tool_json("before any VM", t, "kvmdci-vmxon", []),
                      ncpu)
    for n, c in sorted(before.items()):
        want_on = at_load
        check(f"kvmdci-vmxon before any VM: cpu {n} {'on' if want_on else 'off'} "
              f"(enable_virt_at_load {out.strip()})",
              c["cpu_on"] is want_on and c["kvm_on"] is want_on and
              c["owner"] == ("kvm" if want_on else "off"),
              f"cpu_on {c['cpu_on']} kvm_on {c['kvm_on']} owner {c['owner']}: {c['reason']}")
    if at_load:
        print("     (virtualization is on since module load: no VMXON at VM creation to "
              "trace)", flush=True)
        return
    # every CPU executes VMXON once when the first VM is created (on_each_cpu); the trace
    # takes the first: under Bochs a CPU that reaches a breakpoint first thing in its time
    # slice passes it (docs/bochs-bridge.md), so a second hit is not certain
    # With one CPU online (5.10) a pass that Bochs lets through leaves no hit at all: the VM
    # then goes (VMXOFF everywhere) and the next first VM makes KVM execute VMXON again; at
    # most three VMs
    for attempt in range(3):
        name = "v0" if not attempt else f"v0-{attempt}"
        tool = Tool("kvmdci-trace", ["--json", "--bp", "vmxon_instruction", "--count", "1",
                                     "--duration", "900"], t.tool_env)
        if not check("kvmdci-trace --bp vmxon_instruction: tracing",
                     tool.wait_line("tracing", 300) is not None, tool.text()[-300:]):
            tool.stop()
            return
        t.parked_workload(name, "--vms 1 --vcpus 1")
        try:
            tool.p.wait(timeout=300)
        except subprocess.TimeoutExpired:
            pass
        rc, out, err = tool.stop()
        hits = [h for h in (json.loads(l) for l in out.splitlines() if l.strip())
                if h.get("type") == "hit"]
        if hits or rc != 0 or attempt == 2:
            break
        print(f"     VMXON passed unseen (a Bochs time slice began there): VM {attempt + 2}",
              flush=True)
        t.signal(name)
        t.wait_state(name, "done", 300)
        deadline = time.monotonic() + 300
        while kvm_vms(t) != 0 and time.monotonic() < deadline:
            time.sleep(2)
        while any(c.get("cpu_on") for c in tool_json("between VMs", t, "kvmdci-vmxon",
                                                     []).get("cpus", [])) and \
                time.monotonic() < deadline:
            time.sleep(5)
    check("kvmdci-trace --bp vmxon_instruction --count 1: exit 0, one hit on a CPU of the "
          "machine", rc == 0 and len(hits) == 1 and hits[0].get("cpu") in range(ncpu),
          f"rc={rc} cpus {[h.get('cpu') for h in hits]} {err.strip()[-300:]}")
    during = vmx_rows("with a VM", tool_json("with a VM", t, "kvmdci-vmxon", []), ncpu)
    online = online_cpus(t)
    for n, c in sorted(during.items()):
        if n not in online:
            # a CPU the guest kernel never brought up takes no part in KVM's on_each_cpu
            check(f"kvmdci-vmxon with a VM: cpu {n} (offline in the guest) off, not KVM's",
                  c["cpu_on"] is False and c["kvm_on"] is False and c["owner"] == "off",
                  f"cpu_on {c['cpu_on']} kvm_on {c['kvm_on']} owner {c['owner']}")
            continue
        check(f"kvmdci-vmxon with a VM: cpu {n} on, owned by KVM, its VMXON region known",
              c["cpu_on"] is True and c["kvm_on"] is True and c["owner"] == "kvm" and
              c.get("vmxon_region_pa") not in (None, "0x0"),
              f"cpu_on {c['cpu_on']} kvm_on {c['kvm_on']} owner {c['owner']} region "
              f"{c.get('vmxon_region_pa')}")
    for h in hits:
        c = during.get(h.get("cpu"), {})
        region = (h.get("captures") or {}).get("vmxon_region")
        check(f"CPU {h.get('cpu')}: the VMXON operand == the VMXON region kvmdci-vmxon finds "
              f"for it, CR4.VMXE set, owned by KVM",
              region is not None and c.get("vmxon_region_pa") is not None and
              int(str(region), 0) == int(c["vmxon_region_pa"], 16) and
              c.get("cpu_on") is True and c.get("owner") == "kvm",
              f"operand {region}, region {c.get('vmxon_region_pa')}, cpu_on "
              f"{c.get('cpu_on')}, owner {c.get('owner')}")
    # the last VM goes: VMXOFF on every CPU. KVM switches virtualization off at the end of
    # kvm_destroy_vm, after its debugfs directory is gone and after RCU grace periods, which
    # take long under Bochs on a loaded machine: wait for the directory, then give the rest
    # of the teardown time (each look is one kvmdci-vmxon; the verdict compares the CPU's own
    # CR4.VMXE with KVM's per-CPU record, two sources that do not share code)
    t.signal(name)
    t.wait_state(name, "done", 300)
    deadline = time.monotonic() + 300
    while kvm_vms(t) != 0 and time.monotonic() < deadline:
        time.sleep(2)
    vms = kvm_vms(t)
    check("the last VM is gone (KVM's debugfs lists none)", vms == 0, f"{vms}")
    deadline = time.monotonic() + 300
    looks = 0
    while True:
        looks += 1
        rc, out, err = run_tool("kvmdci-vmxon", ["--json"], t.tool_env, timeout=600)
        doc = json.loads(out) if rc == 0 and out.strip() else {}
        if all(c.get("cpu_on") is False for c in doc.get("cpus", [{}])) or \
                time.monotonic() > deadline:
            break
        time.sleep(5)
    check(f"after the last VM: kvmdci-vmxon exits 0 ({looks} looks)", rc == 0,
          f"rc={rc} {err.strip()[-300:]}")
    after = vmx_rows("after the last VM", doc, ncpu)
    for n, c in sorted(after.items()):
        check(f"kvmdci-vmxon after the last VM: cpu {n} off again, its VMXON region kept",
              c["cpu_on"] is False and c["kvm_on"] is False and c["owner"] == "off" and
              c.get("vmxon_region_pa") == during.get(n, {}).get("vmxon_region_pa"),
              f"cpu_on {c['cpu_on']} kvm_on {c['kvm_on']} owner {c['owner']} region "
              f"{c.get('vmxon_region_pa')} (with a VM: "
              f"{during.get(n, {}).get('vmxon_region_pa')})")


def guest_stack(t, tries=10):
    """A CPU inside the VMX guest (workload --spin: the guest loops with interrupts masked, so
    a stop lands in VMX non-root mode): the stub shows the guest's registers, and kvmdci-cpus
    must say "guest", name the vCPU thread as the CPU's task and give the host's stack from
    KVM's state: HOST_RIP (vmx_vmexit) and HOST_RSP (loaded_vmcs->host_state.rsp), unwound
    with the frame pointer __vmx_vcpu_run left above HOST_RSP, down through KVM_RUN's ioctl to
    the entry from user mode."""
    # The spinning CPU serves its interrupts only at the guest's exits (Bochs makes none for
    # host interrupts; workload --spin makes one every 2^18 iterations), too late for the
    # serial console's 16-byte FIFO: its interrupt goes to CPU 0, the workload to CPU 1
    rc, out = t.run("irq=$(grep -m1 ttyS /proc/interrupts | cut -d: -f1 | tr -d ' '); "
                    "echo 1 > /proc/irq/$irq/smp_affinity && cat /proc/irq/$irq/smp_affinity")
    check("the serial console's interrupt goes to CPU 0", rc == 0 and out.strip() == "1",
          out.strip())
    t.lab.run_bg("taskset 2 workload --spin --vms 1 --vcpus 1 --seconds 0 "
                 "--state /tmp/s1.state --pid-file /tmp/s1.pid --quiet")
    t.wait_state("s1", "running", 300)
    pid = t.result_pid("s1")
    seen = None
    for attempt in range(tries):
        rc, out, err = run_tool("kvmdci-cpus", ["--stack", "--json"], t.tool_env, timeout=300)
        if not check(f"kvmdci-cpus --stack #{attempt}: exit 0", rc == 0, err.strip()[-300:]):
            break
        seen = next((c for c in json.loads(out)["cpus"] if c["mode"] == "guest"), None)
        if seen:
            break
    if check("a stop caught a CPU inside the VMX guest (workload --spin)", seen is not None,
             f"{tries} stops"):
        c, task = seen, seen.get("task") or {}
        frames = [f.get("function", "?") for f in c["stack"]["frames"]]
        print(f"     guest CPU {c['cpu']}: {c['where']}; host stack: " +
              " <- ".join(f["symbol"] for f in c["stack"]["frames"]), flush=True)
        check("CPU in the VMX guest: not misread as host code",
              not c["rip"].startswith("0xffff"), c["where"])
        check("CPU in the VMX guest: its current task is the workload's vCPU thread",
              task.get("comm") == "workload" and task.get("tgid") == pid, f"{task} pid {pid}")
        want = ["vmx_vmexit", "kvm_arch_vcpu_ioctl_run", "kvm_vcpu_ioctl", "__x64_sys_ioctl",
                "do_syscall_64"]
        check("CPU in the VMX guest: host stack from vmx_vmexit down KVM_RUN's ioctl to the "
              "entry from user mode", in_order(frames, want) and frames[:1] == want[:1] and
              c["stack"]["end"] == "user_mode", f"{frames} end {c['stack']['end']}")
    rc, out = t.run("kill $(cat /tmp/s1.pid)")  # --seconds 0: until SIGTERM
    check("workload --spin: SIGTERM delivered", rc == 0, out.strip())
    t.wait_state("s1", "done", 300)


def parked_checks(t, ncpu=2):
    """iobus, vcpu, vmxon and vmcs on VMs whose vCPUs are parked after an OUT to 0x3f8, on a
    lab machine of @ncpu CPUs."""
    ground = t.parked_workload("p1", "--vms 2 --vcpus 2")
    doc = tool_json("parked", t, "kvmdci-iobus", [])
    if doc:
        iobus.compare_iobus("parked (2 VMs x 2 vCPUs)", ground, doc)
    vdoc = tool_json("parked", t, "kvmdci-vcpu", [])
    if vdoc:
        check("kvmdci-vcpu: vendor vmx", vdoc.get("vendor") == "vmx", f"{vdoc.get('vendor')}")
        iobus.compare_vcpu("parked (2 VMs x 2 vCPUs)", t, ground, vdoc)

    xdoc = tool_json("parked", t, "kvmdci-vmxon", [])
    cpus = xdoc.get("cpus", [])
    check("kvmdci-vmxon: vendor vmx, one row per CPU", xdoc.get("vendor") == "vmx" and
          len(cpus) == ncpu, f"{xdoc.get('vendor')} {len(cpus)} (the machine's {ncpu})")
    online = online_cpus(t)
    for c in cpus:
        if c["cpu"] not in online:
            check(f"kvmdci-vmxon: VMs alive: cpu {c['cpu']} (offline in the guest) CR4.VMXE "
                  "clear, not KVM's", c["owner"] == "off" and c["kvm_on"] is False and
                  c["cpu_on"] is False, f"{c['reason']} cr4 {c['cr4']}")
        else:
            check(f"kvmdci-vmxon: VMs alive: cpu {c['cpu']} CR4.VMXE set and owned by KVM",
                  c["owner"] == "kvm" and c["kvm_on"] is True and c["cpu_on"] is True and
                  c["cr4"] is not None and int(c["cr4"], 16) & CR4_VMXE != 0,
                  f"{c['reason']} cr4 {c['cr4']}")
        check(f"kvmdci-vmxon: cpu {c['cpu']}: KVM's VMXON region (vmxarea) found",
              c.get("vmxarea") not in (None, "0x0"), f"vmxarea {c.get('vmxarea')}")

    mdoc = tool_json("parked", t, "kvmdci-vmcs", [])
    mine = [v for v in mdoc.get("vcpus", []) if v.get("vm_pid") == ground["pid"]]
    check("kvmdci-vmcs: the workload's 4 vCPUs", len(mine) == 4, f"{len(mine)}")
    revs = set()
    for v in mine:
        x = v.get("vmx") or {}
        name = f"kvmdci-vmcs: vCPU {v.get('vcpu_id')} of VM {v.get('vm')}"
        hdr = x.get("vmcs_header") or {}
        rev = hdr.get("revision_id")
        revs.add(rev)
        check(f"{name}: loaded_vmcs is vmcs01, launched, on a CPU of the machine",
              x.get("loaded_is_vmcs01") is True and x.get("launched") is True and
              x.get("cpu") in range(ncpu) and x.get("vmcs") not in (None, "0x0"),
              f"vmcs01 {x.get('loaded_is_vmcs01')} launched {x.get('launched')} cpu "
              f"{x.get('cpu')} vmcs {x.get('vmcs')}")
        check(f"{name}: VMCS header: revision id set, not a shadow VMCS, no abort",
              rev not in (None, "0x0") and hdr.get("shadow") is False and
              hdr.get("abort") in (0, "0x0"), f"{hdr}")
        qual = x.get("exit_qualification")
        q = int(qual, 16) if isinstance(qual, str) else qual
        # exit qualification of an I/O instruction (SDM 27.2.1): bits 2:0 size - 1, bit 3
        # direction (1 = in), bits 31:16 port
        check(f"{name}: cached exit: IO_INSTRUCTION, OUT of 1 byte to 0x3f8",
              x.get("exit_reason_basic") == IO_INSTRUCTION and
              x.get("exit_reason_name") == "IO_INSTRUCTION" and q is not None and
              q & 7 == 0 and q & 8 == 0 and q >> 16 == 0x3F8,
              f"{x.get('exit_reason_name')} ({x.get('exit_reason_basic')}) qualification {qual}")
    basic = vmx_basic(t)
    want = None if basic is None else f"0x{basic & 0x7fffffff:x}"
    check("kvmdci-vmcs: every VMCS header's revision id == IA32_VMX_BASIC[30:0] as the CPU "
          "reports it (rdmsr 0x480 in the guest)", revs == {want} and want is not None,
          f"VMCS {revs} vs IA32_VMX_BASIC {basic and hex(basic)}")
    t.signal("p1")
    t.wait_state("p1", "done", 600)


def main():
    # argv: [--lean] [KERNEL [APPEND]]
    # KERNEL: a kernel series other than the lab's default (6.1); such a run keeps to what
    # differs between kernels (VMXON's life cycle, exits, walks, VMCS, catalog, stacks) and
    # leaves nested VMX and the hold to the default kernel's run.
    # APPEND: more kernel command line for that kernel (tests/meson.build says why).
    # --lean: CI's run on the other kernels, one Bochs boot of a one-CPU machine (Bochs runs
    # each emulated CPU in turn: one CPU boots and runs about twice as fast; 5.10 brings up
    # only one anyway) that keeps to the exits (both triggers, against KVM's counters) and
    # the checks on the parked VMs of the same boot (iobus, vcpu, vmxon, the VMCS decode);
    # VMXON's life cycle on every CPU, the catalog and the stacks are left to the full run
    # (meson suite lab-vmx-kernels)
    args = sys.argv[1:]
    lean = "--lean" in args
    args = [a for a in args if a != "--lean"]
    kernel = args[0] if args else None
    append = args[1] if len(args) > 1 else None
    t0 = time.monotonic()
    # kvmdci-dci looks at the CPU, the same on every kernel: one run packs and runs it
    ncpu = 1 if lean else 2
    with TestLab(engine="bochs", kernel=kernel, tools=[] if kernel else ["kvmdci-dci"],
                 append=append, cpus=None if ncpu == 2 else ncpu) as t:
        lab_facts(t, ncpu)
        if kernel is None:
            dci_on_the_cpu(t)
        if not lean:
            vmxon_lifecycle(t)  # before any other VM exists
        traced_window(t, "w1", "watch")
        print(f"     ({time.monotonic() - t0:.0f} s: watch window done)", flush=True)
        traced_window(t, "w2", "break")
        print(f"     ({time.monotonic() - t0:.0f} s: break window done)", flush=True)
        parked_checks(t, ncpu)
        print(f"     ({time.monotonic() - t0:.0f} s: parked checks done)", flush=True)
        if not lean:
            catalog_check(t, "vmx", "kvm_intel")
            stack_in_handler(t, "vmx_handle_exit", "kvm_intel", "vmx_handle_exit")
            if len(online_cpus(t)) >= 2:
                guest_stack(t)
            else:
                # the spinning guest needs a CPU of its own: the console's interrupts go to
                # the other one (5.10 brings up one Bochs CPU)
                print("     not run: a CPU inside the VMX guest (needs two online CPUs)",
                      flush=True)
        if kernel is None:
            run_nested(t)  # the workload's L1 runs its own VMX guest: vmcs12
            run_hold(t, "vmx_handle_exit")  # hold, look twice, continue (hold_checks.py)
    print(f"lab-vmx{' ' + kernel if kernel else ''}{' (lean)' if lean else ''} took "
          f"{time.monotonic() - t0:.0f} s", flush=True)
    finish()


if __name__ == "__main__":
    main()
