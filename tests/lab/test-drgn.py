#!/usr/bin/python3
"""drgn over libkvmdci (kvmdci.drgn) on the lab: a live session over the gdbstub (gdb+unix://)
and one on a dump of the lab (core://), each against the guest's own view and the workload.

One boot. A parked workload (2 VMs of 2 vCPUs, lab/workload --window) holds the VMs still; then,
live and on the dump:
 - drgn's for_each_task() against the guest's /proc (every thread, /proc/PID/task/TID/comm),
   listed just before the session and just after it: every task in both lists is in drgn's
   with the same comm, and drgn lists no task that is in neither (the machine is stopped
   while drgn reads it); prog["init_task"] is pid 0, "swapper/0" (init_idle() names the boot
   CPU's idle task so, kernel/sched/core.c);
 - vm_list walked by drgn: each struct kvm's userspace_pid is the workload's pid, online_vcpus
   and the vCPU ids are what it created, the vCPU threads are distinct threads of the workload
   (its /proc/PID/task), each io bus holds as many ranges and ioeventfds as the workload
   registered (iobus_truth.expected); and all of it equals kvmdci-iobus --json and
   kvmdci-vcpu --json (VM addresses, bus addresses, counts, vCPU thread pids);
 - the VMCOREINFO: live, the kernel's own (vmcoreinfo_data in memory); on the dump, its note,
   equal to the kernel's own; the one built from the kernel view (for kernels without one)
   has the kernel's own values for every key it writes, and a Program made with it lists the
   same tasks;
 - after kvmdci.drgn.kernel(prog).close() the machine runs again and a read through the
   Program raises an error (no crash).
Prints how long attaching took (kvmdci.drgn.program(): target, VMCOREINFO, DWARF) live and on
the dump, and the first walk's time. Needs python3-drgn (Debian 12: /usr/bin/python3 only) and
the DWARF files of the -dbg package (kvmdci-lab build --dwarf-vmlinux).
"""
import json
import os
import re
import sys
import time

# a sanitizer build preloads the ASan runtime into this Python (tests/meson.build), for the
# kvmdci module; the lab and its QEMU must not get it: a QEMU daemon with the ASan runtime
# preloaded hung after -daemonize's fork in two clean-clone runs (lab-drgn's lab start, both
# tries); test-python.py keeps it from the lab the same way
os.environ.pop("LD_PRELOAD", None)

from e2e import TestLab, check, finish, run_tool  # noqa: E402
from iobus_truth import expected  # noqa: E402
from stat_truth import read_debugfs  # noqa: E402

try:
    import drgn  # noqa: F401
    from drgn.helpers.linux.list import list_for_each_entry
    from drgn.helpers.linux.pid import find_task, for_each_task
    from drgn.helpers.linux.xarray import xa_load
except ImportError as e:
    print(f"SKIP: drgn is not importable by {sys.executable} ({e}): scripts/install-deps.sh "
          f"installs python3-drgn (Debian's, for /usr/bin/python3)")
    raise SystemExit(77)

import kvmdci
import kvmdci.drgn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "examples", "drgn"))
import exit_histogram  # noqa: E402
import ioeventfd_owner  # noqa: E402
import kvmwalk  # noqa: E402
import vcpu_rip  # noqa: E402

GUEST_LOAD = 0x1000     # where the workload's real-mode guest code runs (lab/workload/guest.S)

GUEST_TASKS = ('for d in /proc/[0-9]*/task/[0-9]*; do read c < $d/comm && echo "T ${d##*/} $c"; '
               'done 2>/dev/null')


def guest_tasks(t):
    st, out = t.run(GUEST_TASKS)
    tasks = {}
    for line in out.splitlines():
        m = re.match(r"T (\d+) (.*)$", line.strip())
        if m:
            tasks[int(m.group(1))] = m.group(2)
    return tasks


def drgn_vms(prog):
    """vm_list as drgn sees it: a list of dicts (newest VM first, as the list is)."""
    vms = []
    xarray = prog.type("struct kvm").has_member("vcpu_array")
    for kvm in list_for_each_entry("struct kvm", prog["vm_list"].address_of_(), "vm_list"):
        buses = []
        for i in range(len(kvm.buses)):
            bus = kvm.buses[i].read_()
            if bus:
                buses.append({"index": i, "bus": bus.value_(),
                              "dev_count": bus.dev_count.value_(),
                              "ioeventfd_count": bus.ioeventfd_count.value_()})
        n = kvm.online_vcpus.counter.value_()
        vcpus = []
        for i in range(n):
            # 5.16 moved the vCPUs from an array into an xarray (the type info says which)
            if xarray:
                v = drgn.cast("struct kvm_vcpu *", xa_load(kvm.vcpu_array.address_of_(), i))
            else:
                v = kvm.vcpus[i]
            vcpus.append({"vcpu_id": v.vcpu_id.value_(),
                          "pid": v.pid.read_().numbers[0].nr.value_()})
        vms.append({"vm": kvm.value_(), "pid": kvm.userspace_pid.value_(), "online_vcpus": n,
                    "buses": buses, "vcpus": vcpus})
    return vms


def session(label, uri):
    """One drgn session on @uri: attach (timed), tasks, init_task, vm_list. Returns (the
    Program, its Kernel still open: the caller closes it; tasks {pid: comm}; vm_list; the
    seconds attaching took)."""
    t0 = time.monotonic()
    prog = kvmdci.drgn.program(uri)
    t1 = time.monotonic()
    tasks = {tk.pid.value_(): tk.comm.string_().decode(errors="replace")
             for tk in for_each_task(prog)}
    t2 = time.monotonic()
    vms = drgn_vms(prog)
    t3 = time.monotonic()
    src = prog.cache[kvmdci.drgn.CACHE_VMCOREINFO_SOURCE]
    print(f"{label}: attach (kvmdci.drgn.program: target, VMCOREINFO from {src}, DWARF) "
          f"{t1 - t0:.2f} s, for_each_task {t2 - t1:.2f} s ({len(tasks)} tasks), vm_list walk "
          f"{t3 - t2:.2f} s", flush=True)
    check_stack(label, prog)
    init = prog["init_task"]
    check(f"{label}: init_task is pid 0, swapper/0",
          init.pid.value_() == 0 and init.comm.string_() == b"swapper/0",
          f"{init.pid.value_()} {init.comm.string_()!r}")
    return prog, tasks, vms, t1 - t0


def same_comm(mine, proc):
    """task->comm (@mine) against /proc's comm of the task (@proc): /proc shows a kernel
    thread's full name (task->comm is its first TASK_COMM_LEN - 1 = 15 bytes) and a workqueue
    worker's current work queue after a '-' ("kworker/0:1-events"; proc_task_name() in
    fs/proc/array.c of 6.1)."""
    return mine is not None and (mine == proc or proc.startswith(mine) and
                                 (len(mine) == 15 or proc[len(mine)] == "-"))


def check_stack(label, prog):
    """drgn's stack trace of init (asleep in wait4) against libkvmdci's unwinder
    (kvmdci.Kernel.task_stack): the same return addresses, frame by frame (drgn adds inline
    frames at the same address), then the user-mode address the task entered from. Also
    shows that a read drgn's unwinder makes past the kernel stack is a fault drgn handles."""
    task = find_task(prog, 1)
    try:
        trace = prog.stack_trace(task)
    except Exception as e:  # noqa: BLE001 - shown as the failure
        check(f"{label}: drgn's stack trace of pid 1", False, f"{type(e).__name__}: {e}")
        return
    pcs = []
    for f in trace:
        if not pcs or f.pc != pcs[-1]:
            pcs.append(f.pc)
    st = kvmdci.drgn.kernel(prog).task_stack(task.value_())
    ips = [fr["ip"] for fr in st["frames"]]
    m = re.search(r"at (0x[0-9a-f]+)", st.get("end_detail") or "")
    want = ips + ([int(m.group(1), 16)] if m else [])
    check(f"{label}: drgn's stack trace of pid 1 has kvmdci's frames ({len(ips)}) and its "
          f"user-mode address", len(ips) >= 3 and pcs == want,
          f"drgn {[hex(p) for p in pcs]} kvmdci {[hex(p) for p in want]}")


def compare_tasks(label, tasks, before, after):
    both = {p: c for p, c in before.items() if after.get(p) == c}
    missing = {p: (c, tasks.get(p)) for p, c in both.items() if not same_comm(tasks.get(p), c)}
    # a task drgn sees that neither listing has must have been born after the first listing
    # (its pid above all of that listing's: pids are handed out upwards) and died before the
    # second (the lab's guest runs short commands of its own, e.g. sleep)
    newest = max(before, default=0)
    extra = {p: c for p, c in tasks.items() if p not in before and p not in after and
             p <= newest}
    check(f"{label}: for_each_task has every task the guest listed before and after "
          f"({len(both)}) with its comm, and none the guest never listed but short-lived ones",
          len(both) > 20 and not missing and not extra,
          f"drgn {len(tasks)} tasks; missing/different {dict(list(missing.items())[:5])}; "
          f"unknown {dict(list(extra.items())[:5])}; short-lived "
          f"{ {p: c for p, c in tasks.items() if p not in before and p not in after} }")


def compare_vms(label, vms, ground, threads, iob, vcp):
    pid = ground["pid"]
    mine = [v for v in vms if v["pid"] == pid]
    n = len(ground["vms"])
    if not check(f"{label}: vm_list has the workload's {n} VMs (userspace_pid {pid})",
                 len(mine) == n, f"{len(mine)} of {len(vms)}"):
        return
    bad = []
    seen = set()
    for i, gvm in enumerate(ground["vms"]):
        v = mine[n - 1 - i]  # newest first
        want = expected(gvm)
        if v["online_vcpus"] != gvm["vcpus"] or \
                sorted(c["vcpu_id"] for c in v["vcpus"]) != list(range(gvm["vcpus"])):
            bad.append(f"VM {i}: online_vcpus {v['online_vcpus']} ids "
                       f"{[c['vcpu_id'] for c in v['vcpus']]}, want {gvm['vcpus']}")
        for c in v["vcpus"]:
            if c["pid"] not in threads or c["pid"] in seen:
                bad.append(f"VM {i} vCPU {c['vcpu_id']}: thread {c['pid']} not a distinct "
                           f"workload thread")
            seen.add(c["pid"])
        for name, idx in (("mmio", 0), ("pio", 1)):
            b = next((b for b in v["buses"] if b["index"] == idx), None)
            wn = sum(1 for key in want if key[0] == name)
            wev = sum(1 for key, (kind, _) in want.items() if key[0] == name and
                      kind == "ioeventfd")
            if not b or b["dev_count"] != wn or b["ioeventfd_count"] != wev:
                bad.append(f"VM {i} {name}: {b}, want dev_count {wn} ioeventfd_count {wev}")
    check(f"{label}: each VM's online_vcpus, vCPU ids and threads, io bus range and ioeventfd "
          f"counts are the workload's", not bad, "; ".join(bad[:4]))
    # the tools' JSON of the same moment: every VM of vm_list, not only the workload's
    tool = [{"vm": int(v["vm"], 16), "pid": v["vm_pid"], "online_vcpus": v["online_vcpus"],
             "buses": [{"index": b["index"], "bus": int(b["bus"], 16),
                        "dev_count": b["dev_count"], "ioeventfd_count": b["ioeventfd_count"]}
                       for b in v["buses"]]} for v in iob["vms"]]
    got = [{k: v[k] for k in ("vm", "pid", "online_vcpus", "buses")} for v in vms]
    check(f"{label}: VMs, pids, online_vcpus, buses and their counts equal kvmdci-iobus --json",
          got == tool, f"drgn {got[:1]} tool {tool[:1]}")
    tv = [sorted((c["vcpu_id"], c["pid"]) for c in v["vcpus"]) for v in vcp["vms"]]
    gv = [sorted((c["vcpu_id"], c["pid"]) for c in v["vcpus"]) for v in vms]
    check(f"{label}: vCPU ids and thread pids equal kvmdci-vcpu --json", gv == tv,
          f"drgn {gv} tool {tv}")


def guest_facts(t, pid):
    """What the guest says about the workload @pid while it runs (drgn stops the machine):
    its eventfd file descriptors and KVM's debugfs values of its VMs (parked: constant)."""
    st, out = t.run(f"ls -l /proc/{pid}/fd")
    fds = sorted(int(m.group(1)) for m in re.finditer(r" (\d+) -> anon_inode:\[eventfd\]", out))
    dbg, _ = read_debugfs(t, pid)
    return fds, dbg


def check_examples(prog, ground, vcp, guest_fds, dbg):
    """examples/drgn on the parked workload, against what it registered, its /proc/PID/fd and
    KVM's debugfs (@guest_fds, @dbg: guest_facts() before the session)."""
    pid = ground["pid"]
    mine = [k for k in kvmwalk.vms(prog) if kvmwalk.vm_pid(k) == pid]
    n = len(ground["vms"])
    vendor = kvmdci.drgn.kernel(prog).vendor
    # vcpu_rip: parked vCPUs are outside the guest, in the guest's real mode, RIP in its code
    tool = {(v["vm"], c["vcpu_id"]): c for v in vcp["vms"] for c in v["vcpus"]}
    bad = []
    for kvm in mine:
        for vcpu in kvmwalk.vcpus(kvm):
            s = vcpu_rip.vcpu_state(prog, vcpu, vendor)
            c = tool.get((f"{kvm.value_():#x}", s["vcpu_id"]), {})
            trip = c.get("regs", {}).get("rip")
            if (s["kvm_mode"] != "OUTSIDE_GUEST_MODE" or c.get("mode") != "outside_guest"
                    or s["cpu_mode"] != "real" or s["rip"] is None or
                    not GUEST_LOAD <= s["rip"] < GUEST_LOAD + 4096 or
                    trip is None or int(trip, 16) != s["rip"]):
                bad.append(f"{kvm.value_():#x} vCPU {s['vcpu_id']}: {s}, kvmdci-vcpu rip "
                           f"{trip} mode {c.get('mode_name')}")
    check("examples/drgn/vcpu_rip: every parked vCPU outside the guest, in real mode, RIP in "
          "the guest code and equal to kvmdci-vcpu's", mine and not bad, "; ".join(bad[:3]))
    # ioeventfd_owner: the workload's eventfds (its /proc/PID/fd) lead to what it registered
    fds = ioeventfd_owner.eventfds(prog, pid)
    check("examples/drgn/ioeventfd_owner: the eventfds drgn finds are the process's own",
          fds == guest_fds and fds, f"drgn {fds} guest {guest_fds}")
    order = {kvm.value_(): n - 1 - i for i, kvm in enumerate(mine)}  # vm_list: newest first
    got = []
    for fd in fds:
        for kvm, w in ioeventfd_owner.owners(prog, ioeventfd_owner.eventfd_of(prog, pid, fd)):
            if w["kind"] == "ioeventfd":
                got.append((order.get(kvm.value_()), w["bus"], w["addr"], w["len"],
                            w["datamatch"]))
    want = []
    for i, gvm in enumerate(ground["vms"]):
        for d in gvm["devices"]:
            if d["type"] == "ioeventfd":
                dm = d["datamatch"]
                want.append((i, d["bus"], int(d["addr"], 16), d["len"],
                             int(dm, 16) if isinstance(dm, str) else dm))
    got, want = sorted(got, key=str), sorted(want, key=str)
    check("examples/drgn/ioeventfd_owner: each eventfd's VM, bus, address, length and "
          "datamatch are what the workload registered", got == want and want,
          f"drgn {got} want {want}")
    # exit_histogram: 1 s of a parked VM is no exit; the counters are KVM's (debugfs sums)
    kvm = mine[-1] if mine else None
    if kvm is None:
        return
    names, delta, ran, before, after = exit_histogram.histogram(prog, kvm, 1.0)
    check("examples/drgn/exit_histogram: a machine resumed and stopped again under the same "
          "Program", kvmdci.drgn.kernel(prog).closed is False and ran >= 1.0, f"{ran:.2f} s")
    first = dbg[min(dbg)] if dbg else {}   # the lowest fd: the first VM, last on vm_list
    sums = {name: sum(a[name] for a in after.values()) for name in names}
    check("examples/drgn/exit_histogram: a parked VM makes no exit in 1 s, and its counters "
          "(summed over vCPUs) are KVM's debugfs values", names and "exits" in names and
          all(v == 0 for d in delta.values() for v in d.values()) and
          all(first.get(name) == sums[name] for name in names if name in first) and
          first.get("exits") == sums["exits"],
          f"delta {delta}; drgn {sums}; debugfs { {k: first.get(k) for k in names} }")


def tool_json(t, name, env):
    rc, out, err = run_tool(name, ["--json"], env, timeout=600)
    check(f"{name} --json exits 0", rc == 0, err.strip()[-200:])
    return json.loads(out) if rc == 0 else {"vms": []}


def vmci_dict(text):
    return dict(line.split("=", 1) for line in text.decode().splitlines() if "=" in line)


def main():
    with TestLab() as t:
        t.lab.build(dwarf_vmlinux=True)
        os.environ.update(t.env)
        ground = t.parked_workload("d", "--vms 2 --vcpus 2")
        st, out = t.run(f"ls /proc/{ground['pid']}/task")
        threads = {int(x) for x in out.split() if x.isdigit()} - {ground["pid"]}
        iob = tool_json(t, "kvmdci-iobus", t.tool_env)
        vcp = tool_json(t, "kvmdci-vcpu", t.tool_env)

        # live, over the gdbstub
        uri = t.env["KVMDCI_TARGET"]
        guest_fds, dbg = guest_facts(t, ground["pid"])
        before = guest_tasks(t)
        prog, tasks, vms, live_s = session("live", uri)
        check_examples(prog, ground, vcp, guest_fds, dbg)
        k = kvmdci.drgn.kernel(prog)
        own = kvmdci.drgn.vmcoreinfo(k)
        check("live: the VMCOREINFO is the kernel's own (vmcoreinfo_data)",
              prog.cache[kvmdci.drgn.CACHE_VMCOREINFO_SOURCE] == "memory" and
              own[1] == "memory" and k.vmcoreinfo is None, own[1])
        built = vmci_dict(kvmdci.drgn.built_vmcoreinfo(k))
        mem = vmci_dict(own[0])
        check("live: the built VMCOREINFO has the kernel's own value for each of its keys",
              len(built) >= 5 and all(mem.get(key) == v for key, v in built.items()),
              f"{ {key: (v, mem.get(key)) for key, v in built.items()} }")
        k.close()
        try:
            prog["init_task"].comm.string_()
            ok, what = False, "read after close() succeeded"
        except Exception as e:  # noqa: BLE001 - any error will do; not a crash
            ok, what = True, f"{type(e).__name__}: {e}"
        check("live: a read through the Program after close() raises", ok, what)
        after = guest_tasks(t)   # the console answers: the machine runs again
        check("live: the machine runs again after close()", len(after) > 20, f"{len(after)}")
        compare_tasks("live", tasks, before, after)
        compare_vms("live", vms, ground, threads, iob, vcp)

        # the dump of the same parked moment
        dump = os.path.join(t.dir, "d.elf")
        before = guest_tasks(t)
        t.lab.dump(dump)
        after = guest_tasks(t)
        prog, tasks, vms, dump_s = session("dump", "core://" + dump)
        k = kvmdci.drgn.kernel(prog)
        note = k.vmcoreinfo
        check("dump: the VMCOREINFO is the dump's note, equal to the kernel's own in memory",
              prog.cache[kvmdci.drgn.CACHE_VMCOREINFO_SOURCE] == "target" and note and
              vmci_dict(note) == mem, f"{len(note or b'')} bytes")
        compare_tasks("dump", tasks, before, after)
        compare_vms("dump", vms, ground, threads, iob, vcp)
        prog2 = kvmdci.drgn.program(k, vmcoreinfo=kvmdci.drgn.built_vmcoreinfo(k))
        tasks2 = {tk.pid.value_(): tk.comm.string_().decode(errors="replace")
                  for tk in for_each_task(prog2)}
        check("dump: a Program made with the built VMCOREINFO lists the same tasks",
              tasks2 == tasks, f"{len(tasks2)} vs {len(tasks)}")
        k.close()
        print(f"attach: live {live_s:.2f} s, dump {dump_s:.2f} s", flush=True)
    finish()


if __name__ == "__main__":
    main()
