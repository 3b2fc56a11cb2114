#!/usr/bin/env python3
"""Kernel call stacks on the lab: kvmdci-trace --stack, kvmdci-cpus, kvmdci-stack, live and dump.

With the workload running one vCPU (KVM_RUN in a loop):
 - a breakpoint stop on svm_handle_exit (kvmdci-trace --stack) gives a stack that starts in
   kvm_amd!svm_handle_exit and goes down the path into KVM from the workload's KVM_RUN ioctl:
   kvm_arch_vcpu_ioctl_run (and vcpu_run / vcpu_enter_guest where kallsyms lists them: they
   are usually inlined), kvm_vcpu_ioctl, __x64_sys_ioctl, do_syscall_64, entry_SYSCALL_64*,
   ending at the entry from user mode; that CPU's current task is a thread of the workload
   (its tgid is `pidof workload`, its pid one of /proc/PID/task, comm "workload");
 - kvmdci-cpus finds an idle CPU whose stack is the idle loop (do_idle, cpu_startup_entry)
   down to the end of the stack; a CPU stopped inside the nested guest is reported as "guest"
   with the workload as its task (and, from SVM's host save area, the host stack into KVM), and
   one stopped in KVM's VMRUN code (__svm_vcpu_run) unwinds down to the syscall too;
 - kvmdci-stack --pid gives the stack of a sleeping workload thread (from thread.sp);
 - with the machine paused (HMP stop), a dump and the live target give the same CPUs, tasks
   and stacks;
 - held at a breakpoint on svm_vcpu_run (vcpu->mode already IN_GUEST_MODE) and dumped, the
   CPU is in the host kernel for kvmdci-cpus and for kvmdci-vmxon alike;
 - every example of the tools' --help and man pages runs, on the lab and on that dump
   (doc_examples.py).
"""
import json
import os

import doc_examples
from e2e import (TOOLS, Raw, TestLab, check, describe_stall, exits_grow, finish, hmp, in_order,
                 pkt, run_tool)

ENTRY_PATH = ["kvm_vcpu_ioctl", "__x64_sys_ioctl", "do_syscall_64"]


def funcs(stack):
    return [f.get("function", "?") for f in stack["frames"]]


def main():
    with TestLab() as t:
        env = t.tool_env
        labdir = env["KVMDCI_LAB_DIR"]
        _, wlog = t.lab.run_bg("workload --vms 1 --vcpus 1 --seconds 0 --quiet")
        exits_grow(t)  # the workload runs its vCPU (pidof below needs it started)
        st, out = t.run("pidof workload")
        pid = int(out.split()[0])
        st, out = t.run(f"ls /proc/{pid}/task")
        tids = {int(x) for x in out.split()}
        st, kallsyms = t.run("grep -w -e vcpu_run -e vcpu_enter_guest /proc/kallsyms")
        outlined = [n for n in ("vcpu_run", "vcpu_enter_guest") if n in kallsyms.split()]
        print(f"workload pid {pid}, threads {sorted(tids)}; out of line in kallsyms: "
              f"{outlined or 'none (inlined)'}", flush=True)

        # -- a breakpoint stop on svm_handle_exit ------------------------------------------
        rc, out, err = run_tool("kvmdci-trace", ["--bp", "svm_handle_exit", "--count", "1",
                                                 "--stack", "--json", "--duration", "120"],
                                env, timeout=180)
        hits = [json.loads(l) for l in out.splitlines() if l.strip()]
        hits = [h for h in hits if h.get("type") == "hit"]
        check("kvmdci-trace --stack: exit 0 with a hit", rc == 0 and hits, err.strip()[-300:])
        if hits:
            h = hits[0]
            names = funcs(h["stack"])
            print("     stack: " + " <- ".join(f["symbol"] for f in h["stack"]["frames"]),
                  flush=True)
            check("stack starts at kvm_amd!svm_handle_exit",
                  h["stack"]["frames"][0].get("module") == "kvm_amd" and
                  names[0] == "svm_handle_exit", str(names[:1]))
            want = ["kvm_arch_vcpu_ioctl_run"] + ENTRY_PATH
            check("stack goes svm_handle_exit <- kvm_arch_vcpu_ioctl_run <- kvm_vcpu_ioctl <- "
                  "__x64_sys_ioctl <- do_syscall_64", in_order(names, ["svm_handle_exit"] + want),
                  str(names))
            for n in outlined:
                check(f"stack has {n} (out of line in kallsyms)", n in names, str(names))
            check("stack ends at the syscall entry from user mode",
                  names[-1].startswith("entry_SYSCALL_64") and
                  h["stack"]["end"] == "user_mode", f"{names[-1]}, {h['stack']['end']}")
            check("the stack's modules: kvm_amd, kvm, vmlinux",
                  {f.get("module") for f in h["stack"]["frames"]} == {"kvm_amd", "kvm", "vmlinux"},
                  str({f.get("module") for f in h["stack"]["frames"]}))
            task = h.get("task") or {}
            check("current task of the stopped CPU is a workload thread",
                  task.get("comm") == "workload" and task.get("tgid") == pid and
                  task.get("pid") in tids, f"{task} vs pid {pid} threads {sorted(tids)}")

        # -- every CPU: idle, guest, kernel --------------------------------------------------
        seen_idle = seen_guest = seen_entry = False
        entry_places = set()
        for attempt in range(20):
            rc, out, err = run_tool("kvmdci-cpus", ["--stack", "--json"], env, timeout=120)
            if not check(f"kvmdci-cpus #{attempt}: exit 0", rc == 0, err.strip()[-300:]):
                break
            doc = json.loads(out)
            for c in doc["cpus"]:
                task = c.get("task") or {}
                names = funcs(c["stack"])
                if c["mode"] == "kernel" and task.get("idle") and not seen_idle:
                    seen_idle = True
                    print(f"     idle CPU {c['cpu']}: " + " <- ".join(
                        f["symbol"] for f in c["stack"]["frames"]), flush=True)
                    check("idle CPU: the idle loop (do_idle <- cpu_startup_entry) to the end",
                          in_order(names, ["do_idle", "cpu_startup_entry"]) and
                          c["stack"]["end"] == "end_of_stack", f"{names} {c['stack']['end']}")
                    check("idle CPU: task is swapper (pid 0)",
                          task.get("pid") == 0 and task.get("comm", "").startswith("swapper"),
                          str(task))
                if c["mode"] == "guest" and not seen_guest:
                    seen_guest = True
                    print(f"     guest CPU {c['cpu']}: {c['where']}; host stack: " + " <- ".join(
                        f["symbol"] for f in c["stack"]["frames"]), flush=True)
                    check("CPU in the nested guest: not misread as host code",
                          not c["rip"].startswith("0xffff"), c["where"])
                    check("CPU in the nested guest: its current task is the workload's vCPU",
                          task.get("comm") == "workload" and task.get("tgid") == pid, str(task))
                    check("CPU in the nested guest: host stack from VM entry into KVM_RUN",
                          in_order(names, ["kvm_arch_vcpu_ioctl_run"] + ENTRY_PATH),
                          str(names))
                # a CPU in KVM's VMRUN code just after #VMEXIT (refilling the return stack
                # buffer, rsp below the frame): the host stack from KVM's saved VMRUN state,
                # not one frame and "bad frame"
                # (each place in it seen once: after VMRUN, +0x9c, and the refill later on)
                if (c["mode"] == "kernel" and c["where"].startswith("kvm_amd!__svm_vcpu_run") and
                        c["where"] not in entry_places):
                    entry_places.add(c["where"])
                    seen_entry = len(entry_places) >= 2
                    print(f"     CPU {c['cpu']} in the SVM entry code at {c['where']}: " +
                          " <- ".join(f["symbol"] for f in c["stack"]["frames"]), flush=True)
                    check("CPU in __svm_vcpu_run: its stack goes down to KVM_RUN's syscall",
                          in_order(names, ["kvm_arch_vcpu_ioctl_run"] + ENTRY_PATH) and
                          c["stack"]["end"] == "user_mode", f"{names} {c['stack']['end']}")
            if seen_idle and seen_guest and seen_entry:
                break
        check("an idle CPU was seen", seen_idle)
        print(f"     stops seen in __svm_vcpu_run: {sorted(entry_places) or 'none'} (the refill "
              f"after VMRUN is the case that needed KVM's saved state)", flush=True)
        if not seen_guest:
            print("     (no stop landed inside the guest: that check was not exercised)")

        # -- a sleeping task ---------------------------------------------------------------
        rc, out, err = run_tool("kvmdci-stack", ["--pid", str(pid), "--json"], env, timeout=60)
        doc = json.loads(out) if rc == 0 else {}
        names = funcs(doc["stack"]) if doc else []
        print("     workload main thread: " + " <- ".join(names), flush=True)
        check("kvmdci-stack --pid: the workload's main thread sleeps in the kernel",
              rc == 0 and doc.get("comm") == "workload" and "schedule" in names and
              doc["stack"]["end"] == "user_mode", f"{err.strip()[-200:]} {names}")

        # -- the examples that let the machine run (exits, trace), before any dump: right
        # after QEMU's dump-guest-memory the machine, resumed through the gdbstub, sometimes
        # made no KVM exit for over a minute (seen 2026-12-06; not understood yet)
        src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        doc_examples.run_all(check, src, TOOLS, env, None, pid, which="run",
                             on_stall=lambda: describe_stall(t, pid, wlog))

        # -- the same paused moment, live and from a dump -----------------------------------
        hmp(labdir, "stop")
        dump = os.path.join(t.dir, "paused.elf")
        t.lab.dump(dump)
        denv = dict(env, KVMDCI_TARGET="core://" + dump)
        rc_d, out_d, err_d = run_tool("kvmdci-cpus", ["--stack", "--json"], denv, timeout=120)
        rc_l, out_l, err_l = run_tool("kvmdci-cpus", ["--stack", "--json"], env, timeout=120)
        hmp(labdir, "cont")
        check("kvmdci-cpus on the dump: exit 0", rc_d == 0, err_d.strip()[-300:])
        check("kvmdci-cpus live at the same moment: exit 0", rc_l == 0, err_l.strip()[-300:])
        if rc_d == 0 and rc_l == 0:
            def view(doc):
                return [(c["cpu"], c["mode"], c["rip"], (c.get("task") or {}).get("pid"),
                         (c.get("task") or {}).get("comm"),
                         [f["symbol"] for f in c["stack"]["frames"]], c["stack"]["end"])
                        for c in doc["cpus"]]
            live, dumped = view(json.loads(out_l)), view(json.loads(out_d))
            for c in live:
                print(f"     live CPU {c[0]}: {c[1]} {c[4]} " + " <- ".join(c[5][:6]), flush=True)
            check("dump and live target: same CPUs, tasks and stacks", live == dumped,
                  f"live {live} dump {dumped}")

        # -- kvmdci-cpus and kvmdci-vmxon give one answer: a machine held at a breakpoint on
        # svm_vcpu_run (KVM has set vcpu->mode = IN_GUEST_MODE before it calls it), dumped
        # while held: the CPUs are in the host kernel at that address, and both tools say so
        # (kvmdci-vmxon said "in guest" from vcpu->mode)
        rc, out, err = run_tool("kvmdci-kernel", ["--symbol", "kvm_amd:svm_vcpu_run", "--json"],
                                env, timeout=60)
        addr = int(json.loads(out)["resolved"]["kvm_amd:svm_vcpu_run"], 16) if rc == 0 else 0
        held = os.path.join(t.dir, "held.elf")
        stop = None
        for attempt in range(2):
            raw = Raw(env["KVMDCI_TARGET"][len("gdb+unix://"):])
            raw.command("qSupported:multiprocess+")
            ok_bp = raw.command("Z0,%x,1" % addr) == "OK"
            raw.s.sendall(pkt("c"))
            stop = raw.packet(90)
            if stop:
                t.lab.dump(held)
            else:
                raw.s.sendall(b"\x03")
                raw.packet(5)
            raw.command("z0,%x,1" % addr)
            raw.command("D;1")
            raw.s.close()
            if stop or not ok_bp:
                break
            # the machine made no KVM exit for 90 s: what it looks like (the guest commands of
            # describe_stall have ended such a stall before), then once more
            print("     svm_vcpu_run was not reached in 90 s: the machine made no exit", flush=True)
            describe_stall(t, pid, wlog)
        check("held at svm_vcpu_run and dumped", ok_bp and bool(stop), str(stop))
        if stop:
            henv = dict(env, KVMDCI_TARGET="core://" + held)
            rc_c, out_c, err_c = run_tool("kvmdci-cpus", ["--json"], henv, timeout=120)
            rc_x, out_x, err_x = run_tool("kvmdci-vmxon", ["--json"], henv, timeout=120)
            rc_v, out_v, err_v = run_tool("kvmdci-vcpu", ["--json"], henv, timeout=120)
            if check("kvmdci-cpus, kvmdci-vmxon, kvmdci-vcpu on the held dump: exit 0",
                     rc_c == rc_x == rc_v == 0, (err_c + err_x + err_v).strip()[-300:]):
                cpus = {c["cpu"]: c for c in json.loads(out_c)["cpus"]}
                virt = {c["cpu"]: c for c in json.loads(out_x)["cpus"]}
                vcpus = [v for vm in json.loads(out_v)["vms"] for v in vm["vcpus"]]
                at_bp = [c for c in cpus.values() if int(c["rip"], 16) == addr]
                check("a CPU stopped at svm_vcpu_run, its vCPU IN_GUEST_MODE (the case to "
                      "decide)", at_bp and any(v["mode"] == "in_guest" and
                                               v["cpu"] == at_bp[0]["linux_cpu"] for v in vcpus),
                      f"{[(c['cpu'], c['rip']) for c in cpus.values()]} "
                      f"{[(v['cpu'], v['mode']) for v in vcpus]}")
                for c in at_bp:
                    x = virt.get(c["cpu"], {})
                    check(f"CPU {c['cpu']} at svm_vcpu_run: kvmdci-cpus says kernel, kvmdci-vmxon "
                          f"not in guest, with the evidence",
                          c["mode"] == "kernel" and x.get("in_guest") is False and
                          "host kernel text" in x.get("reason", ""),
                          f"cpus {c['mode']} {c['where']}; vmxon {x.get('in_guest')} "
                          f"{x.get('reason')}")
                for n, c in cpus.items():
                    check(f"CPU {n}: the two tools agree on guest or not",
                          (c["mode"] == "guest") == bool(virt.get(n, {}).get("in_guest")),
                          f"cpus {c['mode']}, vmxon in_guest {virt.get(n, {}).get('in_guest')}")
            os.unlink(held)

        # -- every example of the --help texts and man pages, on this lab and this dump --------
        doc_examples.run_all(check, src, TOOLS, env, dump, pid, which="rest")
        os.unlink(dump)
    finish()


if __name__ == "__main__":
    main()
