#!/usr/bin/env python3
"""kvmdci-iobus and kvmdci-vcpu end to end on the lab, against what the workload registered.

The workload (lab/workload) creates VMs with KVM_CREATE_IRQCHIP (PIC 0x20, 0xa0, 0x4d0 on PIO;
IOAPIC 0xfec00000/0x100 on MMIO), KVM_CREATE_PIT2 with KVM_PIT_SPEAKER_DUMMY (0x40, 0x61),
three ioeventfds and a coalesced MMIO zone, and lists them in its JSON "devices". In --window
mode it parks every vCPU thread outside KVM_RUN at "window-done", so the tools see a quiet
machine. For every VM of the workload:
 - each bus holds exactly the registered ranges (no more, no fewer), each classified by its
   ops symbol and decoded: ioeventfd addr/length/datamatch/wildcard/bus_idx, the coalesced
   zone, the IOAPIC base; dev_count and ioeventfd_count match;
 - the VM's userspace_pid is the workload's pid; VMs are matched by order too: kvm:vm_list is
   newest first (list_add in kvm_create_vm), so the tools list workload VM i at n-1-i;
 - its vCPUs have ids 0..vcpus-1, each thread pid is a distinct thread of the workload
   (/proc/PID/task), mode outside_guest; on SVM all registers are cached, and the last exit
   was the iteration's `out %al, (%dx)` to 0x3f8 (guest.S), so dx is 0x3f8.
Scale: 50 VMs, 200 more ioeventfds on VM 0: exact again; the number of target packets and
the time are printed, and the packets must stay within a linear bound of VMs and ranges.
kvmdci-stat against KVM's debugfs files (stat_truth.py): on the parked VMs live and in the dump
of that moment (exact: nothing moves), and on a busy VM live (bracketed by debugfs reads).
"""
import json
import os
import shutil
import tempfile

from e2e import TestLab, check, exits_grow, finish, run_tool
from iobus_truth import compare_iobus, compare_vcpu, expected
from stat_truth import compare_stat

def tool_json(label, t, name, args, timeout=600):
    rc, out, err = run_tool(name, ["--json"] + args, t.tool_env, timeout=timeout)
    check(f"{label}: {' '.join([name] + args)} exits 0 with no warnings",
          rc == 0 and not err.strip(),
          f"rc={rc} {err.strip()[-300:]}")
    return json.loads(out) if rc == 0 else {"vms": [], "vendor": None}


def main():
    with TestLab() as t:
        ground = t.parked_workload("w1", "--vms 3 --vcpus 2")
        doc = tool_json("3 VMs", t, "kvmdci-iobus", [])
        compare_iobus("3 VMs", ground, doc)
        vdoc = tool_json("3 VMs", t, "kvmdci-vcpu", [])
        compare_vcpu("3 VMs", t, ground, vdoc)
        print(f"3 VMs: kvmdci-iobus {doc.get('stats')}, kvmdci-vcpu {vdoc.get('stats')}",
              flush=True)
        compare_stat("kvmdci-stat, 3 parked VMs", t, ground["pid"], t.tool_env, nvms=3)

        # selections
        pid = ground["pid"]
        one = tool_json("--vm PID --bus pio", t, "kvmdci-iobus",
                        ["--vm", str(pid), "--bus", "pio"])
        check("--vm PID --bus pio: only PIO buses of that pid",
              len(one["vms"]) == 3 and all(v["vm_pid"] == pid and [b["name"] for b in v["buses"]]
                                           == ["pio"] for v in one["vms"]))
        if doc["vms"]:
            addr = doc["vms"][0]["vm"]
            one = tool_json("--vm ADDR", t, "kvmdci-iobus", ["--vm", addr])
            check("--vm ADDR: that VM alone", [v["vm"] for v in one["vms"]] == [addr])
            one = tool_json("--vm ADDR --vcpu 1", t, "kvmdci-vcpu", ["--vm", addr, "--vcpu", "1"])
            check("kvmdci-vcpu --vm ADDR --vcpu 1: one vCPU",
                  [[c["vcpu_id"] for c in v["vcpus"]] for v in one["vms"]] == [[1]])
        rc, out, err = run_tool("kvmdci-iobus", ["--vm", "999999"], t.tool_env)
        check("--vm of no VM: exit 1 with one error line", rc == 1 and len(err.splitlines()) == 1,
              err.strip())
        rc, out, err = run_tool("kvmdci-iobus", ["--bus", "isa"], t.tool_env)
        check("--bus isa: bad usage, exit 2", rc == 2, err.strip())
        # the read cache changes the packets, never the answer: off, 64-byte and 1 KiB fills
        # (without the reads planned across VMs, which read what the walk needs ahead and
        # leave the cache little to do); and the plan changes the round trips, never the answer
        for name in ("kvmdci-iobus", "kvmdci-vcpu"):
            docs = {}
            for mode in ("0", "64", "1024", "plan"):
                env = (dict(t.tool_env) if mode == "plan" else
                       dict(t.tool_env, KVMDCI_READ_CACHE=mode, KVMDCI_READ_PLAN="0"))
                rc, out, err = run_tool(name, ["--json"], env, timeout=600)
                docs[mode] = json.loads(out) if rc == 0 else {}
            packets = {m: d.get("stats", {}).get("packets_sent") for m, d in docs.items()}
            for d in docs.values():
                d.pop("stats", None)
            check(f"{name}: KVMDCI_READ_CACHE=0, 64 and 1024 give the same answer, fewer "
                  f"packets with the cache", docs["0"].get("vms") and docs["0"] == docs["64"] ==
                  docs["1024"] and packets["1024"] < packets["0"], f"packets {packets}")
            check(f"{name}: the reads planned across VMs (the default) give the same answer "
                  f"as KVMDCI_READ_PLAN=0", docs["plan"].get("vms") and
                  docs["plan"] == docs["1024"], f"packets {packets}")
        rc, out, err = run_tool("kvmdci-iobus", ["--json"],
                                dict(t.tool_env, KVMDCI_READ_CACHE="100"), timeout=600)
        check("KVMDCI_READ_CACHE=100: a warning naming it, the default used",
              rc == 0 and "KVMDCI_READ_CACHE=100" in err, err.strip()[-200:])
        # a dump of the same parked moment gives the same answers (0 packets: no stub)
        dump = os.path.join(t.dir, "w1.elf")
        compare_stat("kvmdci-stat, dump of 3 parked VMs", t, ground["pid"], t.tool_env, nvms=3,
                     dump=dump)
        denv = dict(t.tool_env, KVMDCI_TARGET="core://" + dump)
        for name in ("kvmdci-iobus", "kvmdci-vcpu"):
            rc, out, err = run_tool(name, ["--json"], t.tool_env, timeout=600)
            live = json.loads(out) if rc == 0 else {}
            rc, out, err = run_tool(name, ["--json"], denv, timeout=600)
            dumped = json.loads(out) if rc == 0 else {}
            for d in (live, dumped):
                d.pop("stats", None)
                d.pop("target", None)
            check(f"{name}: the dump of the parked moment answers exactly as the live target",
                  rc == 0 and live == dumped and live.get("vms"),
                  f"rc={rc} {err.strip()[-200:]}")
        # the on-disk cache of parsed kernel files (System.map, vmlinux's BTF name index)
        # changes the start, never the answer: off, cold (written), warm (read), byte for byte
        xdg = tempfile.mkdtemp(prefix="kvmdci-cache-", dir=t.dir)
        for name in ("kvmdci-iobus", "kvmdci-vcpu"):
            outs = {}
            for mode, extra in (("off", {"KVMDCI_KERNEL_CACHE": "0"}), ("cold", {}),
                                ("warm", {})):
                if mode in ("off", "cold"):
                    shutil.rmtree(os.path.join(xdg, "libkvmdci"), ignore_errors=True)
                rc, out, err = run_tool(name, ["--json"],
                                        dict(denv, XDG_CACHE_HOME=xdg, **extra), timeout=600)
                d = json.loads(out) if rc == 0 else {}
                d.pop("stats", None)
                outs[mode] = json.dumps(d, sort_keys=True)
                if mode == "off":
                    check(f"{name}: KVMDCI_KERNEL_CACHE=0 writes no cache",
                          not os.path.isdir(os.path.join(xdg, "libkvmdci")))
            files = sorted(os.listdir(os.path.join(xdg, "libkvmdci")))
            check(f"{name} on the dump: the same answer with the kernel cache off, cold and warm"
                  f" ({files})", outs["off"] == outs["cold"] == outs["warm"] and
                  '"vms": [{' in outs["off"] and
                  any(f.startswith("sysmap-") for f in files) and
                  any(f.startswith("btf-") for f in files))
        shutil.rmtree(xdg)
        os.unlink(dump)
        t.signal("w1")
        t.wait_state("w1", "done", 300)

        # scale: 50 VMs, 200 more ioeventfds on VM 0
        ground = t.parked_workload("w2", "--vms 50 --vcpus 1 --ioeventfds 200")
        doc = tool_json("scale", t, "kvmdci-iobus", [])
        compare_iobus("scale (50 VMs, 200 extra ioeventfds on VM 0)", ground, doc)
        vdoc = tool_json("scale", t, "kvmdci-vcpu", [])
        compare_vcpu("scale", t, ground, vdoc)
        nranges = sum(len(expected(v)) for v in ground["vms"])
        s = doc.get("stats", {})
        print(f"scale: {len(ground['vms'])} VMs, {nranges} ranges: kvmdci-iobus "
              f"{s.get('packets_sent')} packets, {s.get('bytes_received')} bytes in "
              f"{s.get('seconds', 0):.2f} s; kvmdci-vcpu {vdoc.get('stats')}", flush=True)
        # per VM: list link, buses[], 4 headers, per bus its bus pointer, header and range
        # array; per device: its ops pointer and its owner
        bound = 30 * len(ground["vms"]) + 2 * nranges + 50
        check("scale: target packets grow linearly (<= 30 per VM + 2 per range + 50)",
              s.get("packets_sent", 1 << 30) <= bound, f"{s.get('packets_sent')} <= {bound}")
        t.signal("w2")
        t.wait_state("w2", "done", 600)

        # kvmdci-stat on a busy VM: its counters move between the debugfs reads around it
        pid, _ = t.lab.run_bg("workload --vcpus 2 --seconds 0 --quiet")
        exits_grow(t)
        compare_stat("kvmdci-stat, busy VM", t, pid, t.tool_env, nvms=1)
        t.run(f"kill {pid}")
    finish()


if __name__ == "__main__":
    main()
