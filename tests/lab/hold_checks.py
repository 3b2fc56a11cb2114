"""Hold and continue, on either lab engine: "bp ENTRY, g, Breakpoint 0 hit", then look around.

run_hold(t, entry) is called from a test that has booted a lab (tests/lab/test-trace.py on
qemu, tests/lab/test-vmx.py on bochs), with the vendor's exit handler as @entry:
 - a workload runs 2 vCPUs; `kvmdci-trace --bp ENTRY --hold` reports one hit and exits 0 with
   the machine held: `kvmdci-lab status` says "held" (asked through QEMU's monitor or the
   bridge's stub, `info status` = "paused (debug)");
 - KVM's exit counters read from memory while held, with our own raw GDB client (no '?', no
   'D'): each vCPU's kvm_vcpu.stat.exits at the vCPU address kvmdci-vcpu gives, the offset
   from bpftool's dump of the lab's kvm.ko BTF (an independent reader);
 - kvmdci-iobus, kvmdci-vcpu, kvmdci-vmcs and kvmdci-stack (the held CPU), --json, twice:
   identical answers; the held CPU stands at the breakpoint (its stack's first frame is ENTRY+0
   at the address the hit reported); the exit counters are the same before and after both
   rounds; the machine is still held after them (every tool left it stopped);
 - `kvmdci-lab continue`: status "running", KVM's exit count (debugfs, through the lab's
   console) is above the count read while held, and no breakpoint is left in the target.
"""
import json
import os
import re
import subprocess
import time

from e2e import Raw, check, check_target_clean, kvm_exits, run_tool

TOOLS_ROUNDS = (("kvmdci-iobus", []), ("kvmdci-vcpu", []), ("kvmdci-vmcs", []))


def stat_exits_offset(env):
    """Byte offset of stat.exits in struct kvm_vcpu, from bpftool's raw dump of kvm.ko."""
    out = subprocess.run(["bpftool", "-B", env["KVMDCI_VMLINUX"], "btf", "dump", "file",
                          os.path.join(env["KVMDCI_MODULES"], "kvm.ko"), "format", "raw"],
                         check=True, capture_output=True, text=True).stdout
    out += subprocess.run(["bpftool", "btf", "dump", "file", env["KVMDCI_VMLINUX"], "format",
                           "raw"], check=True, capture_output=True, text=True).stdout
    structs, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^\[(\d+)\] (\w+) '([^']*)'", line)
        if m:
            cur = None
            if m[2] == "STRUCT" and m[3] not in structs:
                cur = structs[m[3]] = {}
            continue
        m = re.match(r"^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)", line)
        if m and cur is not None:
            cur[m[1]] = int(m[3])
    return (structs["kvm_vcpu"]["stat"] + structs["kvm_vcpu_stat"]["exits"]) // 8


def held_exits(gdb_sock, cpu, vcpus, off):
    """Sum of stat.exits over @vcpus, read through the stub on the held machine with a raw
    client: Hg to the held CPU (in the kernel: its page tables map every vCPU), 'm', then a
    close without 'D' (which would let the machine run)."""
    r = Raw(gdb_sock)
    try:
        r.command(f"Hg{cpu + 1:x}")
        total = 0
        for v in vcpus:
            rep = r.command(f"m{int(v, 16) + off:x},8")
            if not rep or len(rep) != 16:
                return None
            total += int.from_bytes(bytes.fromhex(rep), "little")
        return total
    finally:
        r.s.close()


def answers(env, cpu):
    """One round of the tools' JSON answers, their run statistics dropped."""
    docs = {}
    for name, args in TOOLS_ROUNDS + (("kvmdci-stack", ["--cpu", str(cpu)]),):
        rc, out, err = run_tool(name, ["--json"] + args, env, timeout=900)
        try:
            doc = json.loads(out) if rc == 0 else {"rc": rc, "err": err.strip()[-300:]}
        except ValueError:
            doc = {"rc": rc, "out": out[:300]}
        if isinstance(doc, dict):
            doc.pop("stats", None)
            doc.pop("target", None)
        docs[name] = doc
    return docs


def run_hold(t, entry):
    """Hold the lab machine at catalog entry @entry, look at it twice, continue it."""
    env, sock = t.tool_env, t.tool_env["KVMDCI_TARGET"].split("://", 1)[1]
    label = f"hold at {entry}"
    pid, _ = t.lab.run_bg("workload --vcpus 2 --seconds 0 --quiet")
    # hold a host whose vCPUs are exiting already (Bochs on a loaded machine takes a while)
    first, deadline = kvm_exits(t), time.monotonic() + 300
    while True:
        time.sleep(2)
        before = kvm_exits(t)
        if before > first or time.monotonic() > deadline:
            break
    rc, out, err = run_tool("kvmdci-trace", ["--bp", entry, "--hold", "--json", "--duration",
                                             "600"], env, timeout=900)
    lines = [json.loads(l) for l in out.splitlines() if l.strip().startswith("{")]
    summ = ([l for l in lines if l.get("type") == "summary"] or [{}])[0]
    held = summ.get("held") or {}
    ok = check(f"{label}: kvmdci-trace --hold exits 0 with one hit held",
               rc == 0 and summ.get("reported") == 1 and held.get("entry") == entry,
               f"rc={rc} held={held} {err.strip()[-300:]}")
    if not ok:
        t.run(f"kill {pid}")
        return
    cpu, addr = held["cpu"], held["address"]
    st = t.lab.status().get("state")
    check(f"{label}: kvmdci-lab status says held", st == "held", f"state {st!r}")

    off = stat_exits_offset(env)
    vcpus_doc = json.loads(run_tool("kvmdci-vcpu", ["--json"], env, timeout=900)[1] or "{}")
    vcpus = [v["vcpu"] for vm in vcpus_doc.get("vms", []) for v in vm["vcpus"]]
    e0 = held_exits(sock, cpu, vcpus, off)
    r1 = answers(env, cpu)
    r2 = answers(env, cpu)
    e1 = held_exits(sock, cpu, vcpus, off)
    for name in r1:
        check(f"{label}: {name} --json answers the same twice while held",
              "rc" not in r1[name] and r1[name] == r2[name],
              str(r1[name])[:300] if "rc" in r1[name] else "")
    frames = (r1["kvmdci-stack"].get("stack") or {}).get("frames") or [{}]
    check(f"{label}: the held CPU {cpu} stands at the breakpoint (first frame {entry}+0 at "
          f"{addr})", frames[0].get("ip") == addr and frames[0].get("function") == entry and
          frames[0].get("offset") == 0, f"{frames[0]}")
    check(f"{label}: KVM's exit counters (stat.exits of {len(vcpus)} vCPUs, read from memory) "
          f"do not move while held", e0 is not None and e0 == e1 and e0 >= before,
          f"debugfs before the hold {before}, held {e0} -> {e1}")
    st = t.lab.status().get("state")
    check(f"{label}: still held after 9 tool runs", st == "held", f"state {st!r}")

    t.lab.cont()
    st = t.lab.status().get("state")
    check(f"{label}: kvmdci-lab continue: the machine runs", st == "running", f"state {st!r}")
    time.sleep(2)
    after = kvm_exits(t)
    check(f"{label}: KVM's exit count grows again after continue", e1 is not None and after > e1,
          f"held {e1}, after continue {after}")
    check_target_clean(t, label, sock)
    t.run(f"kill {pid}")
