"""The nested-guest checks of the lab tests (run_nested: lab-nested, lab-vmx). kvmdci-vmcs on a nested guest (AMD SVM, the QEMU engine): vmcb12 equal to what L1 wrote.

The workload's --nested mode (lab/workload/nested.S) gives its one vCPU every CPUID leaf KVM
supports and starts an L1 guest that is itself a hypervisor: it sets EFER.SVME and
VM_HSAVE_PA, writes a VMCB (vmcb12) with its own intercepts, I/O and MSR permission maps,
ASID and L2 state, and runs an L2 that does an OUT (intercepted by L1) and a VMMCALL, --rounds
times; then L2's OUT to a port L1 does not intercept exits to the VMM with L2 active, and the
VMM parks the vCPU there. Its JSON holds the vmcb12 page as L1 had written it (read from guest
memory before the first VMRUN), KVM_GET_NESTED_STATE and KVM_GET_REGS at the park: the ground
truth, none of it from our tools. kvmdci-vmcs must show:
 - the vCPU in guest mode: the VMCB in use is vmcb02, vmcb12_gpa is the address L1 gave to
   VMRUN, hsave_msr is L1's VM_HSAVE_PA;
 - vmcb12 (KVM's copy of its control area and of the save fields it keeps) equal to what L1
   wrote: intercept words, IOPM/MSRPM addresses, ASID, TLB control, nested paging off, EFER,
   CR0, CR3, CR4, DR6, DR7, CS;
 - vmcb02: the last exit IOIO on the park port, L2's RIP as KVM_GET_REGS has it, L2's RSP as L1
   wrote it, and KVM's own ASID (not L1's); vmcb01: L1's RAX at VMRUN, the vmcb12 address;
 - the same answers from a dump of the parked machine.
With the argument "bochs" (the Intel engine, kvm_intel) the L1 is a VMX hypervisor instead
(VMXON, VMCS with IA32_VMX_BASIC's revision id, VMLAUNCH/VMRESUME of the same L2 doing OUT and
VMCALL) and kvmdci-vmcs must show: nested VMXON at L1's address, its VMCS current, vmcs02
loaded, KVM's last exit L2's park OUT, vmcs12 with KVM's revision (the one IA32_VMX_BASIC gave
L1), every control and host-state field equal to L1's VMWRITEs (the VMM reads them from the
table L1 wrote them from), guest RIP/RSP/CR3/selectors as L2 has them and the exit information
of the last exit L1 saw (VMCALL, 3 bytes).
"""
import json
import os

from e2e import check, run_tool

ROUNDS = 40
NAME = "nested"


def h(x):
    return int(x, 16) if isinstance(x, str) else x


def vmcs(t, args, env=None):
    rc, out, err = run_tool("kvmdci-vmcs", args, env or t.tool_env, timeout=600)
    check(f"kvmdci-vmcs {' '.join(args)} exits 0 with no warnings",
          rc == 0 and not err.strip(), f"rc={rc} {err.strip()[-300:]}")
    return out if rc == 0 else None


def run_nested(t):
    """Start the nested workload in the lab t, check it against what its L1 wrote, end it."""
    t.lab.run_bg(f"workload --nested --rounds {ROUNDS} --timeout 240 --json /tmp/{NAME}.json "
                 f"--state /tmp/{NAME}.state --pid-file /tmp/{NAME}.pid --quiet")
    t.wait_state(NAME, "parked", 300)
    g = t.result(NAME)
    n = g["nested"]
    ks = n["kvm_nested_state"] or {}
    print(f"workload: {json.dumps(g)}", flush=True)

    check(f"workload: L1 handled {ROUNDS} OUTs and {ROUNDS} calls of L2, then L2 parked "
          f"on port {n['park_port']}",
          n["l2_io_exits"] == ROUNDS and n["l2_call_exits"] == ROUNDS and
          h(n["parked_on_port"]) == h(n["park_port"]),
          f"{n['l2_io_exits']} OUT, {n['l2_call_exits']} calls, port {n['parked_on_port']}")
    check("KVM_GET_NESTED_STATE: guest mode, vmcs12/vmcb12 at the address L1 reported",
          ks.get("guest_mode") is True and h(ks["vmcb12_pa"]) == h(n["l1_vmcb_gpa"]),
          json.dumps(ks))
    if g["vendor"] == "vmx":
        vmx_checks(t, g)
    else:
        svm_checks(t, g)

    st, _ = t.run(f"kill $(cat /tmp/{NAME}.pid); sleep 1; kill -0 $(cat /tmp/{NAME}.pid)")
    check("the workload ends on SIGTERM", st != 0)


def svm_checks(t, g):
    """AMD SVM (the qemu engine): vmcb12 against the VMCB page L1 wrote."""
    n = g["nested"]
    w = n["vmcb12_written"]
    ks = n["kvm_nested_state"] or {}
    check("KVM_GET_NESTED_STATE: vmcb12's control area as L1 wrote it",
          all(ks.get("control", {}).get(k) == w[k] for k in ("intercepts", "iopm_base_pa",
                                                   "msrpm_base_pa", "asid")),
          json.dumps(ks))

    out = vmcs(t, ["--json", "--vm", str(g["pid"])])
    doc = json.loads(out) if out else {"vcpus": []}
    vc = doc["vcpus"]
    if not check("kvmdci-vmcs --vm PID: the workload's one vCPU", len(vc) == 1 and
                 vc[0]["vcpu_id"] == 0 and vc[0]["vm_pid"] == g["pid"], str(len(vc))):
        return
    v = vc[0]
    if "svm" not in v:
        check("kvmdci-vmcs: an svm section", False, json.dumps(v)[:300])
        return
    s = v["svm"]
    check("guest mode: the VMCB in use is vmcb02 (L2 runs)",
          s["guest_mode"] is True and h(s["vmcb"]) == h(s["vmcb02"]) != 0 and
          h(s["vmcb"]) != h(s["vmcb01"]), json.dumps(s))
    check("vmcb12_gpa is the VMCB address L1 gave to VMRUN",
          h(s["vmcb12_gpa"]) == h(n["l1_vmcb_gpa"]),
          f"{s['vmcb12_gpa']} vs {n['l1_vmcb_gpa']}")
    check("hsave_msr is L1's VM_HSAVE_PA (KVM_GET_MSRS)",
          h(s["hsave_msr"]) == h(n["hsave_pa"]) != 0, f"{s['hsave_msr']} vs {n['hsave_pa']}")

    m = v.get("vmcb12")
    if not check("vmcb12 shown", m is not None, v.get("vmcb12_error", "")):
        return
    c, sv = m["control"], m["save"]
    check("vmcb12: at L1's address", h(m["gpa"]) == h(n["l1_vmcb_gpa"]), m["gpa"])
    check("vmcb12: the six intercept words as L1 wrote them",
          [h(x) for x in c["intercept_words"]] == [h(x) for x in w["intercepts"]],
          f"{c['intercept_words']} vs {w['intercepts']}")
    check("vmcb12: intercepts by name: exactly L1's (hlt ioio_prot shutdown vmrun vmmcall)",
          sorted(c["intercepts"]) == ["hlt", "ioio_prot", "shutdown", "vmmcall", "vmrun"],
          str(c["intercepts"]))
    for k in ("iopm_base_pa", "msrpm_base_pa", "nested_ctl"):
        check(f"vmcb12: {k} as L1 wrote it", h(c[k]) == h(w[k]), f"{c[k]} vs {w[k]}")
    for k in ("asid", "tlb_ctl"):
        check(f"vmcb12: {k} as L1 wrote it", c[k] == w[k], f"{c[k]} vs {w[k]}")
    check("vmcb12: nested paging off, as L1 left it", c["np_enable"] is False)
    ws = w["save"]
    for k in ("efer", "cr0", "cr3", "cr4", "dr6", "dr7"):
        check(f"vmcb12 save: {k} as L1 wrote it", h(sv[k]) == h(ws[k]), f"{sv[k]} vs {ws[k]}")
    cs = sv["cs"]
    check("vmcb12 save: cs as L1 wrote it (selector, attrib, limit, base)",
          (cs["selector"], h(cs["attrib"]), h(cs["limit"]), h(cs["base"])) ==
          (h(ws["cs_selector"]), h(ws["cs_attrib"]), h(ws["cs_limit"]), h(ws["cs_base"])),
          f"{cs} vs {ws}")

    cur = v["vmcb"]
    cc = cur["control"]
    check(f"vmcb02: last exit IOIO (0x7b) on the park port {n['park_port']}",
          cc["exit_code"] == 0x7B and h(cc["exit_info_1"]) >> 16 == h(n["park_port"]),
          f"{cc['exit_code_name']} exit_info_1 {cc['exit_info_1']}")
    check("vmcb02: L2's rip as KVM_GET_REGS has it, its rsp as L1 wrote it",
          h(cur["save"]["rip"]) == h(n["l2_regs"]["rip"]) and
          h(cur["save"]["rsp"]) == h(n["l2_regs"]["rsp"]) == h(ws["rsp"]),
          f"rip {cur['save']['rip']} rsp {cur['save']['rsp']} vs {n['l2_regs']} / {ws['rsp']}")
    check("vmcb02: KVM's own ASID, not L1's", cc["asid"] != w["asid"] and cc["asid"] != 0,
          str(cc["asid"]))
    check("vmcb01: L1's RAX at VMRUN is the vmcb12 address",
          h(v["vmcb01"]["save"]["rax"]) == h(n["l1_vmcb_gpa"]),
          v["vmcb01"]["save"]["rax"])

    out = vmcs(t, ["--vm", str(g["pid"])]) or ""
    line = [x for x in out.splitlines() if "vmcb12 at" in x]
    check("text: the vmcb12 line", line and
          f"vmcb12 at guest-physical 0x{h(n['l1_vmcb_gpa']):x} " in line[0],
          (line or [out[-300:]])[0].strip())

    dump = os.path.join(t.dir, "nested.elf")
    t.lab.dump(dump)
    out = vmcs(t, ["--json", "--vm", str(g["pid"])],
               dict(t.tool_env, KVMDCI_TARGET="core://" + dump))
    d = json.loads(out)["vcpus"] if out else []
    check("a dump of the parked machine: the same vmcb12 and svm state",
          len(d) == 1 and d[0].get("vmcb12") == m and d[0]["svm"] == s)
    os.unlink(dump)


def vmcs_type(enc):
    """SDM vol. 3C appendix B: bits 11:10 of an encoding: 0 control, 1 exit info, 2 guest
    state, 3 host state."""
    return (enc >> 10) & 3


def vmx_checks(t, g):
    """Intel VMX (the bochs engine): vmcs12 against the VMWRITEs of the L1 (nested.S)."""
    n = g["nested"]
    rev = h(n["vmx_basic"]) & 0x7FFFFFFF
    check("L1 wrote the revision id of IA32_VMX_BASIC (as KVM reports it) into its VMCS",
          h(n["vmcs_revision_written"]) == rev != 0,
          f"{n['vmcs_revision_written']} vs basic {n['vmx_basic']}")
    # what L1 wrote, per field: a 64-bit field's high half (odd encoding) joins its full one
    want = {}
    for e in n["vmcs12_written"]:
        enc, val = h(e["encoding"]), h(e["value"])
        if enc & 1:
            want[enc & ~1] = (want.get(enc & ~1, 0) & 0xFFFFFFFF) | (val << 32)
        else:
            want[enc] = (want.get(enc, 0) & ~0xFFFFFFFF) | val

    out = vmcs(t, ["--json", "--vm", str(g["pid"])])
    doc = json.loads(out) if out else {"vcpus": []}
    vc = doc["vcpus"]
    if not check("kvmdci-vmcs --vm PID: the workload's one vCPU, with a vmx section",
                 len(vc) == 1 and "vmx" in vc[0], str(vc)[:300]):
        return
    x = vc[0]["vmx"]
    check("nested: L1 executed VMXON at the address it gave, its VMCS is current",
          x["nested_vmxon"] is True and h(x["vmxon_ptr"]) == h(n["vmxon_gpa"]) and
          h(x["current_vmptr"]) == h(n["l1_vmcb_gpa"]),
          f"vmxon {x['nested_vmxon']} {x['vmxon_ptr']} vmptr {x['current_vmptr']}")
    check("L2 runs: the loaded VMCS is vmcs02", x["loaded_is_vmcs01"] is False and
          h(x["vmcs"]) == h(x["vmcs02_vmcs"]) != 0, f"{x['vmcs']} vs {x['vmcs02_vmcs']}")
    check("KVM's last exit: IO_INSTRUCTION (30) of L2's park OUT",
          x["exit_reason_basic"] == 30 and (x["exit_qualification"] is None or
                                            h(x["exit_qualification"]) >> 16 ==
                                            h(n["park_port"])),
          f"{x['exit_reason_name']} qualification {x['exit_qualification']}")
    m = x.get("vmcs12")
    if not check("vmcs12 shown", m is not None):
        return
    check("vmcs12 revision: KVM's, the one IA32_VMX_BASIC gave L1",
          h(m["revision"]) == rev and m["revision_ok"] is True, m["revision"])
    got = {}
    for f in m["fields"]:
        if "encoding" in f:
            got[h(f["encoding"])] = (h(f["value"]), f["size"], f["name"])
    bad = []
    checked = 0
    for enc, val in sorted(want.items()):
        if vmcs_type(enc) == 2:
            continue  # guest state: KVM writes L2's state back at each exit to L1
        if enc not in got:
            bad.append(f"0x{enc:04x}: not shown")
            continue
        v, size, name = got[enc]
        mask = (1 << (8 * size)) - 1
        checked += 1
        if v != val & mask:
            bad.append(f"{name} (0x{enc:04x}) 0x{v:x}, L1 wrote 0x{val:x}")
    check(f"vmcs12: every control and host-state field as L1 wrote it ({checked} fields)",
          not bad and checked > 20, "; ".join(bad[:6]))
    regs = n["l2_regs"]
    guest = {0x681C: h(regs["rsp"]), 0x681E: h(regs["rip"]), 0x6802: want.get(0x6802),
             0x0800: want.get(0x0800), 0x0802: want.get(0x0802), 0x0804: want.get(0x0804)}
    for enc, val in guest.items():
        v = got.get(enc, (None, 8, "?"))
        check(f"vmcs12 guest state {v[2]} (0x{enc:04x}): L2's (KVM_GET_NESTED_STATE synced it)",
              v[0] == val, f"0x{v[0] or 0:x} vs 0x{val or 0:x}")
    check("L2's RSP is the one L1 wrote", h(regs["rsp"]) == want.get(0x681C))
    ei = {name: v for v, _, name in got.values()}
    check("vmcs12 exit information: the last exit L1 saw, L2's VMCALL (18), 3 bytes",
          ei.get("vm_exit_reason") == 18 and ei.get("vm_exit_instruction_len") == 3,
          f"{ei.get('vm_exit_reason')} len {ei.get('vm_exit_instruction_len')}")
