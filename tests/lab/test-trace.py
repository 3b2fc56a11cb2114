#!/usr/bin/env python3
"""The breakpoint catalog and kvmdci-trace on the lab, against the workload's own counts.

- kvmdci-catalog check resolves >= 95% of the entries that apply to the lab's kernel and
  vendor (prints the unresolved ones with their reasons).
- kvm_io_bus_write traced over a marked window with --when 'PIO bus && port 0x700' reports
  exactly as many hits as the workload's ioeventfd on port 0x700 was signalled, each with
  addr 0x700 and len 1 (the ioeventfd's registration in the workload's JSON).
- write_exit_mmio over a window: one hit per MMIO exit to user space (the workload's
  mmio_to_user), all at the workload's unmapped MMIO address 0xa2000 (lab/workload/guest.S).
- kvm_arch_vcpu_create while the workload starts 3 vCPUs: 3 hits with vcpu_id 0, 1, 2, and
  the same struct kvm pointer, as a "0x..." address string.
- kvmdci-trace --folded: the stacks of 20 hits at io_interception, each counted once under
  the line its own JSON stack gives, all from the syscall entry through KVM_RUN's ioctl.
- kvmdci-trace --hold at svm_handle_exit, the tools twice on the held machine, then
  kvmdci-lab continue (tests/lab/hold_checks.py).
"""
import collections
import json
import os
import signal
import tempfile

from e2e import TestLab, Tool, check, finish, run_tool
from hold_checks import run_hold
from trace_truth import io_bus_write_check, jsonl, traced_window


def fold_of(stack):
    """The folded-stack line kvmdci-trace(1) documents for one hit's JSON stack: frames root
    first, module!function, "[unknown]" unsymbolized, "[stack cut: END]" first when the
    unwinder stopped early."""
    parts = [] if stack.get("end") in ("end_of_stack", "user_mode") else \
        [f"[stack cut: {stack.get('end')}]"]
    for f in reversed(stack.get("frames", [])):
        parts.append(f"{f['module']}!{f['function']}" if "function" in f else "[unknown]")
    return ";".join(parts)


def folded_check(env, when, n=20):
    """--folded: the hits' stacks folded for a flame graph. Each of the n hits at
    io_interception (an OUT of the workload's vCPU to port 0x700) is counted once, under the
    line its own JSON stack gives; every line goes from the system call's entry (the vCPU
    thread's KVM_RUN ioctl, from user mode) to io_interception, where the breakpoint is."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "io.folded")
        rc, out, err = run_tool("kvmdci-trace", ["--json", "--bp", "io_interception", "--when",
                                                 when, "--count", str(n), "--folded", path],
                                env, timeout=300)
        try:
            with open(path) as f:
                text = f.read()
        except OSError as e:
            text = f"({e})"
    hits = [h for h in jsonl(out) if h.get("type") == "hit"]
    lines = {}
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        lines[stack] = lines.get(stack, 0) + (int(count) if count.isdigit() else -10**9)
    want = collections.Counter(fold_of(h.get("stack") or {}) for h in hits)
    print(f"     folded: {text.strip()[:400]}", flush=True)
    check(f"--folded: {n} hits, their stacks in the file, counted once each",
          rc == 0 and len(hits) == n and sum(lines.values()) == n and dict(want) == lines,
          f"rc={rc} {len(hits)} hits, file {lines} vs the JSON's {dict(want)} "
          f"{err.strip()[-200:]}")
    check("--folded: every stack from the syscall entry through KVM_RUN to io_interception",
          bool(lines) and all(k.split(";")[0] == "vmlinux!entry_SYSCALL_64_after_hwframe" and
                              "kvm!kvm_vcpu_ioctl" in k.split(";") and
                              k.split(";")[-1] == "kvm_amd!io_interception" for k in lines),
          str(list(lines)[:2]))


def main():
    with TestLab() as t:
        env = t.tool_env
        rc, out, err = run_tool("kvmdci-catalog", ["check", "--json"], env, timeout=120)
        doc = json.loads(out)
        unresolved = [(e["name"], e["status"], e.get("reason", "")) for e in doc["entries"]
                      if e["status"] != "resolved"]
        for u in unresolved:
            print(f"     unresolved: {u[0]}: {u[1]}: {u[2]}")
        share = doc["resolved"] / doc["applicable"]
        check("catalog check resolves >= 95% of the applicable entries",
              share >= 0.95, f"{doc['resolved']}/{doc['applicable']} on {doc['kernel']}")

        # kvm_io_bus_write, filtered to the PIO ioeventfd at 0x700
        io_bus_write_check(t, "t1")

        # write_exit_mmio: MMIO that goes to user space
        rc, hits, w, err = traced_window(t, "t2", ["--bp", "write_exit_mmio"])
        to_user = sum(v["mmio_to_user"] for v in w["vms"][0]["window"]["vcpus"])
        gpas = {h["captures"]["gpa"] for h in hits}
        check("write_exit_mmio: one hit per MMIO exit to user space in the window",
              len(hits) == to_user, f"{len(hits)} hits vs mmio_to_user {to_user}")
        check("write_exit_mmio: at the workload's unmapped MMIO address 0xa2000",
              gpas == {0xA2000}, str([hex(g) for g in gpas]))

        # per-CPU variables in captures: the current task of the CPU that runs KVM_RUN
        t.window_start("t4", 1, 200)
        tool = Tool("kvmdci-trace", ["--json", "--bp", "kvm_arch_vcpu_ioctl_run",
                                     "--count", "3"], env)
        tool.wait_line("tracing", 120)
        t.signal("t4")
        tool.p.wait(timeout=300)
        rc, out, err = tool.stop(signal.SIGINT)
        hits = [l for l in jsonl(out) if l.get("type") == "hit"]
        pid = t.result_pid("t4")
        check("percpu(current_task) in a capture: KVM_RUN runs in the workload's process",
              len(hits) == 3 and all(h["captures"]["tgid"] == pid for h in hits),
              f"tgids {[h['captures']['tgid'] for h in hits]} vs workload pid {pid}")
        t.wait_state("t4", "window-done", 600)
        t.signal("t4")
        t.wait_state("t4", "done", 300)

        # one hit's reads are planned: port and in are one field behind one pointer (vmcb),
        # and the filter reads the same field: 2 reads a hit, where the programs compiled one
        # by one need 2 for the filter and 2 for each capture
        t.window_start("t5", 1, 2000)
        t.signal("t5")
        when = "(((struct vcpu_svm *)$arg0)->vmcb->control.exit_info_1 >> 16) == 0x700"
        runs = {}
        for plan in ("1", "0"):
            rc, out, err = run_tool("kvmdci-trace", ["--json", "--bp", "io_interception",
                                                     "--when", when, "--count", "20"],
                                    dict(env, KVMDCI_READ_PLAN=plan), timeout=300)
            lines = jsonl(out)
            hits = [l for l in lines if l.get("type") == "hit"]
            summ = ([l for l in lines if l.get("type") == "summary"] or [{}])[0]
            filtered = sum(e["filtered"] for e in summ.get("entries", []))
            runs[plan] = (len(hits), filtered, summ.get("target_reads"))
            check(f"io_interception --when port 0x700 (KVMDCI_READ_PLAN={plan}): 20 hits, each "
                  f"an out to the workload's ioeventfd port 0x700",
                  rc == 0 and len(hits) == 20 and
                  all(h["captures"] == {"port": 0x700, "in": 0} for h in hits),
                  f"rc={rc} {[h['captures'] for h in hits[:3]]} {err.strip()[-200:]}")
        folded_check(env, when)
        (n1, f1, r1), (n0, f0, r0) = runs["1"], runs["0"]
        check("io_interception: planned, 2 target reads a hit (vmcb, then exit_info_1 once); "
              "one program at a time, 2 a filtered hit and 6 a reported one",
              r1 == 2 * (n1 + f1) and r0 == 2 * f0 + 6 * n0,
              f"(reported, filtered, reads): planned {runs['1']}, unplanned {runs['0']}")
        t.wait_state("t5", "window-done", 600)
        t.signal("t5")
        t.wait_state("t5", "done", 300)

        # vCPU creation
        tool = Tool("kvmdci-trace", ["--json", "--bp", "kvm_arch_vcpu_create"], env)
        tool.wait_line("tracing", 120)
        t.window_start("t3", 3, 10)
        rc, out, err = tool.stop(signal.SIGINT)
        hits = [l for l in jsonl(out) if l.get("type") == "hit"]
        ids = sorted(h["captures"]["vcpu_id"] for h in hits)
        check("kvm_arch_vcpu_create: one hit per vCPU the workload created, ids 0..2",
              ids == [0, 1, 2], f"{ids}")
        # a pointer capture (struct kvm *) is an address: a "0x..." string in the kernel half,
        # as addresses are in all our JSON (it was a negative decimal), the one VM's for all 3
        kvms = [h["captures"].get("kvm") for h in hits]
        check("kvm_arch_vcpu_create: the kvm pointer capture is one \"0x...\" kernel address",
              len(kvms) == 3 and all(isinstance(v, str) and v.startswith("0x") and
                                     int(v, 16) >= 0xffff800000000000 for v in kvms) and
              len(set(kvms)) == 1, str(kvms))
        t.signal("t3")
        t.wait_state("t3", "window-done", 300)
        t.signal("t3")
        t.wait_state("t3", "done", 300)

        # bad input
        rc, out, err = run_tool("kvmdci-trace", ["--bp", "no_such_entry"], env)
        check("unknown entry: exit 2 with a hint", rc == 2 and "kvmdci-catalog list" in err,
              err.strip())
        rc, out, err = run_tool("kvmdci-trace", ["--bp", "kvm_io_bus_write", "--when",
                                                 "$arg1 == ("], env)
        check("malformed --when: exit 1, one line, target running",
              rc == 1 and len(err.strip().splitlines()) == 1 and "--when" in err, err.strip())
        st, out = t.run("echo alive")
        check("target still running", out.strip() == "alive")

        # hold at the exit handler, look twice, continue (tests/lab/hold_checks.py)
        run_hold(t, "svm_handle_exit")
    finish()


if __name__ == "__main__":
    main()
