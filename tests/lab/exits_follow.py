"""kvmdci-exits --trigger watch started before the VMM (issue 17): the watch trigger follows
vCPUs created and destroyed while it runs (breakpoints on kvm_arch_vcpu_postcreate and
kvm_arch_vcpu_destroy), so every exit of a VMM started after the tool is counted at watch
speed. Used by test-exits.py (the lab-exits suite) on a lab with no VM yet.

Ground truth: the workload's own final report of each vCPU's KVM binary stats
(KVM_GET_STATS_FD, read after its vCPU threads stopped and before the VM is destroyed), which
count from the vCPU's creation:
 - total == the sum of the vCPUs' final stat.exits: the watchpoint goes in at
   kvm_arch_vcpu_postcreate, before the vCPU's first KVM_RUN, so no exit comes before it
   (the tool reports exits_before_watch, which must be 0);
 - the workloads are as long as svm_truth.py's windows (about 1900 exits), for which its LATE
   slack was measured (a run of 2 x 500 iterations once put 4 IOIO exits under NPF);
 - IOIO == io_exits and HLT == halt_exits (+-LATE: a late watchpoint report can put one exit
   under its neighbour's reason, svm_truth.py);
 - the vCPUs found == the workload's, each vCPU's total == its stat.exits;
 - the VM destroyed while tracing: its vCPUs' watchpoints taken out at kvm_arch_vcpu_destroy,
   their final counts kept in the coverage; a second run then attaches cleanly and counts two
   VMs started one after the other (the second one's vCPU may reuse the first one's memory).
At the end no breakpoint or watchpoint is left: a raw client lets the machine run while a new
workload creates and destroys vCPUs, and no stop comes."""
import json
import signal
import time

from e2e import Tool, breakpoints_left, check
from svm_truth import HLT, IOIO, LATE


def final_stats(t, name):
    doc = t.result(name)
    return {v["vcpu_id"]: v["stats"] for v in doc["vms"][0]["final"]["vcpus"]}


def traced_from_start(t, label, workloads):
    """Start the watch trigger with no VM, run each (name, vcpus, iterations) workload to its
    end, one after the other, then stop the tool: (its JSON, [final stats per workload])."""
    tool = Tool("kvmdci-exits", ["--json", "--trigger", "watch", "--duration", "3600"],
                t.tool_env)
    line = tool.wait_line("trigger", 120)
    check(f"{label}: the watch trigger starts with no vCPU on the host",
          line is not None and "trigger watch:" in line and "of 0 vCPUs" in line,
          (line or tool.text()).strip()[-300:])
    tool.wait_line("tracing", 60)
    finals = []
    t0 = time.monotonic()
    for name, vcpus, iterations in workloads:
        st, out = t.run(f"workload --vcpus {vcpus} --warmup 0 --iterations {iterations} "
                        f"--json /tmp/{name}.json --quiet; echo rc=$?", timeout=900)
        check(f"{label}: workload {name} ran to its end under the tool", "rc=0" in out,
              out.strip()[-200:])
        finals.append(final_stats(t, name))
    secs = time.monotonic() - t0
    rc, out, err = tool.stop(signal.SIGINT)
    doc = json.loads(out) if rc == 0 and out.strip() else {}
    check(f"{label}: exit status 0", rc == 0 and doc.get("trigger") == "watch",
          f"rc={rc} {err.strip()[-300:]}")
    print(f"{label}: {doc.get('total')} exits in {secs:.1f} s of workloads "
          f"({doc.get('total', 0) / max(secs, 1e-9):.0f}/s); follow {doc.get('follow')}; "
          f"coverage {doc.get('coverage')}; histogram "
          f"{[(r['name'], r['count']) for r in doc.get('reasons', [])]}", flush=True)
    return doc, finals


def check_counts(label, doc, finals):
    per = [s for f in finals for s in f.values()]
    want = {k: sum(s[k] for s in per) for k in ("exits", "io_exits", "halt_exits")}
    counts = {r["code"]: r["count"] for r in doc.get("reasons", [])}
    fol, cov = doc.get("follow") or {}, doc.get("coverage") or {}
    check(f"{label}: every vCPU followed from its creation to its destruction",
          fol.get("created") == len(per) and fol.get("destroyed") == len(per) and
          fol.get("unwatched") == 0, f"{fol}, the workloads had {len(per)} vCPUs")
    check(f"{label}: no exit before the watchpoint went in (armed before the first KVM_RUN)",
          fol.get("exits_before_watch") == 0, f"{fol.get('exits_before_watch')}")
    check(f"{label}: total == the vCPUs' KVM stat.exits from their creation",
          doc.get("total") == want["exits"], f"{doc.get('total')} vs {want['exits']}")
    check(f"{label}: no exit missed", doc.get("missed") == 0, f"missed {doc.get('missed')}")
    check(f"{label}: IOIO == io_exits (+-{LATE})",
          abs(counts.get(IOIO, 0) - want["io_exits"]) <= LATE,
          f"{counts.get(IOIO, 0)} vs {want['io_exits']}")
    check(f"{label}: HLT == halt_exits (+-{LATE})",
          abs(counts.get(HLT, 0) - want["halt_exits"]) <= LATE,
          f"{counts.get(HLT, 0)} vs {want['halt_exits']}")
    check(f"{label}: coverage: the destroyed vCPUs measured, all of KVM's exits counted",
          cov.get("kvm_exits") == want["exits"] and cov.get("counted") == want["exits"] and
          cov.get("vcpus") == len(per) and cov.get("vcpus_gone") == 0, f"{cov}")


def no_trap_left(t, label, gdb_sock):
    """The machine runs while a new VM's vCPU is created, runs and is destroyed: a
    breakpoint left on kvm_arch_vcpu_postcreate or kvm_arch_vcpu_destroy, or a watchpoint left
    on a freed kvm_vcpu, would stop it."""
    stop, (st, out) = breakpoints_left(
        gdb_sock, wait=1.0,
        during=lambda: t.run("workload --vcpus 1 --iterations 200 --quiet >/dev/null; echo rc=$?"))
    check(f"{label}: no breakpoint or watchpoint left: a VM created and destroyed after the "
          "tool ran to its end without a stop", stop is None and "rc=0" in out,
          f"stop {stop}, workload {out.strip()[-100:]}")


def from_start(t):
    doc, finals = traced_from_start(t, "from the start", [("fs1", 2, 150)])
    check_counts("from the start", doc, finals)
    vcpus = {v["vcpu_id"]: v["total"] for v in doc.get("vcpus", [])}
    want = {i: s["exits"] for i, s in finals[0].items()}
    check("from the start: the vCPUs found are the workload's, each total == its stat.exits",
          vcpus == want, f"{vcpus} vs {want}")
    # the next run attaches cleanly; two VMs one after the other (memory reused)
    doc, finals = traced_from_start(t, "two VMs in turn", [("fs2", 1, 150), ("fs3", 1, 150)])
    check_counts("two VMs in turn", doc, finals)
    no_trap_left(t, "from the start", t.tool_env["KVMDCI_TARGET"].split("://", 1)[1])
