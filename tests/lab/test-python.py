#!/usr/bin/env python3
"""The kvmdci Python module on the lab, against the C tools and the workload.

One boot. A workload parked outside KVM_RUN (2 vCPUs, 3 PIO ioeventfds at 0x1000 + 4 * i with
datamatch i) and one running freely (exits keep growing), then:
- live: kvmdci.open() on the lab's gdbstub answers what kvmdci-vcpu, kvmdci-iobus,
  kvmdci-vmxon, kvmdci-catalog check and kvmdci-kernel --json answer on the same lab (on the
  keys both have, "0x..." strings as ints; of a running VM, only what does not move), and
  what the workload itself says (its pid, its ioeventfds); read() gives linux_banner, an
  unmapped address a FaultError with that address;
- on a dump (kvmdci-lab dump): the same comparisons with everything frozen (registers, every
  CPU with its stack), VMCOREINFO present, and its phys_base equal to the one computed on the
  live link by translating _text (two independent ways);
- a trace from Python (examples/trace.py) of kvm_io_bus_write on PIO port 0x700 over a
  marked window: as many hits as the workload signalled its ioeventfd there, each with its
  address and length; Ctrl-C ends it with a summary;
- Ctrl-C in the middle of a Python trace that does not catch it (KeyboardInterrupt), a break
  out of a trace loop, a trace dropped unused, close() from another thread while one polls:
  no breakpoint is left (checked through the stub) and KVM's exit counter still grows.
Usage: test-python.py EXAMPLES_DIR ($KVMDCI_PYTHONPATH: the built package's directory)
"""
import json
import re
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.environ["KVMDCI_PYTHONPATH"])
import kvmdci  # noqa: E402

# a sanitizer build preloads the ASan runtime into this Python (tests/meson.build): the
# Python programs started here get it too, the lab and its QEMU do not
PRELOAD = os.environ.pop("LD_PRELOAD", None)

from e2e import (TestLab, Tool, check, check_target_clean, exits_grow, finish,  # noqa: E402
                 run_tool)

# the module spells every key as the tools do (kvmdci-json(7)); a key only one side has is
# not compared (the tools' "format", "type"; the module's extra fields)
RENAMES = {}


def norm(v):
    if isinstance(v, str) and v.startswith("0x"):
        try:
            return int(v, 16)
        except ValueError:
            return v
    return v


def compare(py, tool, path="", skip=()):
    """Differences between a Python value and the tool's JSON value, on the keys both have;
    returns (number of values compared, [differences])."""
    if isinstance(tool, dict) and isinstance(py, dict):
        n, diffs = 0, []
        for k, tv in tool.items():
            if k in skip:
                continue
            pk = k if k in py else RENAMES.get(k)
            if pk not in py:
                continue
            c, d = compare(py[pk], tv, f"{path}.{k}", skip)
            n, diffs = n + c, diffs + d
        return n, diffs
    if isinstance(tool, list) and isinstance(py, list):
        if len(tool) != len(py):
            return 1, [f"{path}: {len(py)} items in Python, {len(tool)} in the tool"]
        n, diffs = 0, []
        for i, (p, t) in enumerate(zip(py, tool)):
            c, d = compare(p, t, f"{path}[{i}]", skip)
            n, diffs = n + c, diffs + d
        return n, diffs
    tv = norm(tool)
    return 1, ([] if tv == py else [f"{path}: Python {py!r}, tool {tool!r}"])


def same(label, py, tool, skip=(), least=1):
    n, diffs = compare(py, tool, "", skip)
    check(f"{label}: Python equals the tool's JSON ({n} values compared)",
          n >= least and not diffs, f"{n} compared; {diffs[:5]}")


def tool_json(name, args, env, label):
    rc, out, err = run_tool(name, ["--json"] + args, env, timeout=300)
    ok = rc == 0 or (name == "kvmdci-catalog" and rc == 1 and out.strip())
    if not check(f"{label}: {name} {' '.join(args)} --json runs", ok,
                 f"rc={rc} {err.strip()[-300:]}"):
        return {}
    return json.loads(out)


def compare_target(label, env, open_kernel, frozen, parked_pid):
    """Python against the tools run with @env on the same target: the tools first (a live
    stub takes one client at a time), then the Kernel open_kernel() gives."""
    docs = {name: tool_json(name, args, env, label) for name, args in (
        ("kvmdci-vcpu", []), ("kvmdci-iobus", []), ("kvmdci-vmxon", []),
        ("kvmdci-catalog", ["check"]), ("kvmdci-kernel", []))}
    if frozen:
        docs["kvmdci-cpus"] = tool_json("kvmdci-cpus", ["--stack"], env, label)
        docs["kvmdci-vmcs"] = tool_json("kvmdci-vmcs", ["--fields"], env, label)
    k = open_kernel()
    # VMs and vCPUs: everything on a frozen target; live, what does not move
    vms = k.vms()
    tvms = {norm(v["vm"]): v
            for v in docs["kvmdci-vcpu"].get("vms", [])}
    check(f"{label}: the same VMs (struct kvm addresses) as kvmdci-vcpu",
          sorted(v.vm for v in vms) == sorted(tvms), f"{[hex(v.vm) for v in vms]}")
    for vm in vms:
        tvm = tvms.get(vm.vm, {})
        moving = not frozen and vm.vm_pid != parked_pid
        skip = ("mode", "mode_value", "cpu", "regs", "regs_avail", "regs_dirty",
                "not_cached") if moving else ()
        py = dict(vm, vcpus=vm.vcpus())
        same(f"{label}: VM of pid {vm.vm_pid}{' (running: ids only)' if moving else ''}",
             py, tvm, skip, least=8)
    # I/O buses with their devices
    for tvm in docs["kvmdci-iobus"].get("vms", []):
        addr = norm(tvm["vm"])
        same(f"{label}: I/O buses of VM {addr:#x}", k.io_buses(addr), tvm.get("buses"),
             least=20)
    # hardware virtualization per CPU: live, a CPU may be in a guest or not at each stop
    skip = () if frozen else ("cpu_on", "in_guest", "cr4", "efer", "owner", "reason",
                              "current_vmcb", "current_vmcs")
    same(f"{label}: vmxon()", k.vmxon(), docs["kvmdci-vmxon"].get("cpus"), skip, least=8)
    # the catalog's verdicts on this kernel
    cat = {e.name: e for e in k.catalog()}
    n, diffs = 0, []
    entries = docs["kvmdci-catalog"].get("entries", [])
    for te in entries:
        c, d = compare(cat.get(te["name"], {}), te, te["name"], skip=("captures",))
        n, diffs = n + c, diffs + d
    check(f"{label}: catalog() verdicts equal kvmdci-catalog check's ({n} values compared)",
          entries and n > 3 * len(entries) and not diffs, str(diffs[:5]))
    # the kernel view
    same(f"{label}: release and KASLR offset",
         {"release": k.release, "kaslr_offset": k.kaslr_offset}, docs["kvmdci-kernel"],
         least=2)
    if frozen and k.vendor == "svm":
        # each vCPU's SVM state and VMCB (decoded, and every field) as kvmdci-vmcs has them
        tv = docs["kvmdci-vmcs"].get("vcpus") or []
        n, diffs = 0, []
        for t in tv:
            s = k.svm(norm(t["vcpu"]))
            vmcb = k.vmcb(s.vmcb)
            for py, tool in ((s, t.get("svm")), (vmcb, t.get("vmcb")),
                             (k.vmcb_fields(s.vmcb), (t.get("vmcb") or {}).get("fields"))):
                c, d = compare(py, tool, f"vcpu {t['vcpu']}", skip=("fields",))
                n, diffs = n + c, diffs + d
        check(f"{label}: svm(), vmcb(), vmcb_fields() equal kvmdci-vmcs's ({n} values compared)",
              tv and n > 100 * len(tv) and not diffs, str(diffs[:5]))
    if frozen:
        cpus = docs["kvmdci-cpus"].get("cpus") or []
        same(f"{label}: cpus() with their stacks", k.cpus(), cpus,
             least=16 * len(cpus) + 6 * sum(len((c.get("stack") or {}).get("frames", []))
                                            for c in cpus))
    return k


def py_env(env):
    """@env for a Python program that imports kvmdci."""
    return dict(env, LD_PRELOAD=PRELOAD) if PRELOAD else env


def python_trace(env, examples, args):
    return Tool(os.path.join(examples, "trace.py"), args, py_env(env), prefix=[sys.executable])


def main():
    examples = sys.argv[1]
    with TestLab() as t:
        env = dict(t.tool_env, PYTHONPATH=os.environ["KVMDCI_PYTHONPATH"])
        uri = env["KVMDCI_TARGET"]
        gdb_sock = uri[len("gdb+unix://"):]
        wl = t.parked_workload("pyparked", "--vcpus 2 --ioeventfds 3")
        parked_pid = t.result_pid("pyparked")
        free, _ = t.lab.run_bg("workload --vcpus 1 --seconds 0 --quiet")
        exits_grow(t)

        # ---- live ----
        t0 = time.monotonic()
        k = kvmdci.open(uri, vmlinux=env["KVMDCI_VMLINUX"], system_map=env["KVMDCI_SYSTEM_MAP"],
                        modules=env["KVMDCI_MODULES"])
        print(f"     kvmdci.open() on the live lab: {time.monotonic() - t0:.2f} s", flush=True)
        check("live: a live target (run control), no VMCOREINFO on the link",
              k.live and k.vmcoreinfo is None)
        banner = k.read(k.symbol("linux_banner"), 64)
        check("live: read(linux_banner) is 'Linux version <release>'",
              banner.startswith(f"Linux version {env['KVMDCI_KERNEL_RELEASE']} ".encode()),
              repr(banner))
        try:
            k.read(0xffff800000000000, 8)
            e = None
        except kvmdci.FaultError as x:
            e = x
        check("live: read() of the unmapped 0xffff800000000000: FaultError with that address",
              e is not None and e.address == 0xffff800000000000 and e.errno == 14, str(e))
        mine = k.vms(vm_pid=parked_pid)
        check("live: vms(vm_pid=) finds the parked workload's one VM, its 2 vCPUs",
              len(mine) == 1 and mine[0].online_vcpus == 2 and
              [c.vcpu_id for c in mine[0].vcpus()] == [0, 1], str(mine))
        want = sorted((norm(d.get("addr", d.get("address"))), d.get("len", d.get("length")),
                       norm(d["datamatch"]))
                      for d in wl["vms"][0].get("devices", [])
                      if d.get("type") == "ioeventfd" and d.get("bus") == "pio")
        got = sorted((r.ioeventfd.address, r.ioeventfd.length, r.ioeventfd.datamatch)
                     for vm in mine for b in vm.io_buses() if b.name == "pio"
                     for r in b.ranges if r.kind == "ioeventfd")
        check("live: the parked VM's PIO ioeventfds are those the workload registered "
              "(with the 3 of --ioeventfds: 0x1000 + 4 * i, length 4, datamatch i)",
              got == want and {(0x1000 + 4 * i, 4, i) for i in range(3)} <= set(got),
              f"{got} (workload: {want})")
        live_phys_base = k.phys_base
        files = k.files
        check("live: files names the vmlinux and kvm's module file",
              files["vmlinux"] == env["KVMDCI_VMLINUX"] and "kvm" in files["modules"],
              str(files))
        k.close()
        compare_target("live", env, lambda: kvmdci.open(uri), False, parked_pid).close()

        # ---- a dump ----
        with tempfile.TemporaryDirectory() as d:
            path = t.lab.dump(os.path.join(d, "lab.core"))
            denv = dict(env, KVMDCI_TARGET="core://" + path)
            k = compare_target("dump", denv, lambda: kvmdci.open("core://" + path), True,
                               parked_pid)
            vmci = k.vmcoreinfo or b""
            check("dump: not live; VMCOREINFO present, naming the release",
                  not k.live and f"OSRELEASE={env['KVMDCI_KERNEL_RELEASE']}\n".encode() in vmci,
                  repr(vmci[:80]))
            # 0 is a valid phys_base (the kernel where it was linked to run), and so is a
            # "negative" one (the note is signed, the module's value a u64): the dump's note,
            # its reading and the live translation agree
            note = re.search(rb"^NUMBER\(phys_base\)=(-?\d+)$", vmci, re.M)
            check("dump: phys_base (VMCOREINFO's) equals the live one (computed by "
                  "translating _text)", note is not None and live_phys_base is not None and
                  k.phys_base == int(note.group(1)) % 2**64 == live_phys_base,
                  f"{k.phys_base} (note {note and note.group(1)}) vs {live_phys_base}")
            try:
                k.trace("kvm_io_bus_write")
                e = None
            except kvmdci.Error as x:
                e = x
            check("dump: trace() is refused (EOPNOTSUPP, 'read-only')",
                  e is not None and e.errno == 95 and "read-only" in str(e), str(e))
            k.close()

        # ---- a trace from Python against the workload's counts ----
        t.run(f"kill {free}")      # it writes to port 0x700 too
        t.window_start("pyw", 1, 40)
        tr = python_trace(env, examples, ["kvm_io_bus_write", "--when",
                                          "$arg1 == 1 && $arg2 == 0x700"])
        started = tr.wait_line("tracing", 120) is not None
        check("trace.py: tracing", started, tr.text()[-300:])
        t.signal("pyw")
        t.wait_state("pyw", "window-done", 600)
        rc, out, err = tr.stop(signal.SIGINT)
        lines = [json.loads(l) for l in out.splitlines() if l.strip()]
        hits = [h for h in lines if not h.get("summary")]
        summary = [h for h in lines if h.get("summary")]
        w = t.result("pyw")
        t.signal("pyw")
        t.wait_state("pyw", "done", 300)
        vm = w["vms"][0]
        dev = [d for d in vm["devices"] if d["type"] == "ioeventfd" and
               norm(d.get("addr", d.get("address"))) == 0x700]
        signals = [s["count"] for s in vm["window"]["ioeventfd_signals"]
                   if norm(s.get("addr", s.get("address"))) == 0x700]
        check("trace.py: Ctrl-C ends it with exit 0 and a summary saying so",
              rc == 0 and summary and summary[0]["interrupted"], f"rc={rc} {err[-300:]}")
        check("trace.py: one hit per signal of the workload's ioeventfd on port 0x700",
              signals and len(hits) == signals[0], f"{len(hits)} hits vs {signals}")
        check("trace.py: every hit is bus PIO, address 0x700, the ioeventfd's length",
              dev and hits and all(h["captures"]["bus_idx"] == 1 and
                                   h["captures"]["addr"] == 0x700 and
                                   h["captures"]["len"] == dev[0].get("len", dev[0].get("length"))
                                   for h in hits), f"registered {dev}")
        t.lab.run_bg("workload --vcpus 1 --seconds 0 --quiet")
        exits_grow(t)
        check_target_clean(t, "trace.py after Ctrl-C", gdb_sock)

        # ---- Ctrl-C that nobody catches, in the middle of a trace ----
        script = ("import kvmdci, os, sys\n"
                  "k = kvmdci.open(os.environ['KVMDCI_TARGET'])\n"
                  "for n, hit in enumerate(k.trace('kvm_io_bus_write')):\n"
                  "    if n == 0:\n"
                  "        print('tracing', file=sys.stderr, flush=True)\n")
        p = Tool(sys.executable, ["-c", script], py_env(env))
        started = p.wait_line("tracing", 120) is not None
        time.sleep(1)
        t0 = time.monotonic()
        rc, out, err = p.stop(signal.SIGINT)
        took = time.monotonic() - t0
        check("uncaught Ctrl-C in a trace: KeyboardInterrupt ends Python within 5 s",
              started and rc == -signal.SIGINT and "KeyboardInterrupt" in err and took < 5,
              f"rc={rc} in {took:.1f} s: {err.strip()[-300:]}")
        check_target_clean(t, "uncaught KeyboardInterrupt", gdb_sock)

        # ---- break out of the loop; a trace dropped unused (garbage collection) ----
        k = kvmdci.open(uri)
        for hit in k.trace("kvm_io_bus_write"):
            break
        check("break out of a trace loop: the hit had its captures",
              set(hit.captures) >= {"bus_idx", "addr", "len"}, str(hit))
        check_target_clean(t, "break out of a trace loop", gdb_sock)
        tr = k.trace("kvm_io_bus_write", count=5)
        del tr
        check_target_clean(t, "a trace dropped unused", gdb_sock)
        # close() from another thread while the loop's thread polls
        tr = k.trace("kvm_io_bus_write")
        got = []
        th = threading.Thread(target=lambda: got.extend(1 for _ in tr), daemon=True)
        th.start()
        time.sleep(1.5)
        tr.close()
        th.join(10)
        check("close() from another thread: the polling thread's loop ends, the trace is "
              "closed", not th.is_alive() and not tr.active and len(got) > 0,
              f"alive {th.is_alive()}, active {tr.active}, {len(got)} hits")
        check_target_clean(t, "close() from another thread", gdb_sock)
        n = len(k.vms())
        check("the Kernel attaches again after its traces and walks", n >= 2, str(n))
        k.close()
    finish()


if __name__ == "__main__":
    main()
