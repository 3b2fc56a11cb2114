"""What the workload registered on each VM's io buses and vCPUs, compared with kvmdci-iobus's and
kvmdci-vcpu's JSON: shared by the lab tests of both engines (test-iobus.py, test-vmx.py)."""

from e2e import check

BUS_IDX = {"mmio": 0, "pio": 1}


def expected(vm):
    """{(bus, addr, len): spec} from the workload's "devices" of one VM."""
    want = {}
    for d in vm["devices"]:
        if d["type"] == "ioeventfd":
            want[(d["bus"], int(d["addr"], 16), d["len"])] = ("ioeventfd", d)
        elif d["type"] == "coalesced_mmio":
            want[("pio" if d["pio"] else "mmio", int(d["addr"], 16), d["size"])] = \
                ("coalesced_mmio", d)
        else:  # irqchip, pit: named ranges
            for r in d["ranges"]:
                want[(r["bus"], int(r["addr"], 16), r["len"])] = (r["name"], r)
    return want


def decoded_ok(kind, spec, r):
    """Does a range's decoded device say what the workload registered?"""
    if r.get("error"):
        return False
    if kind == "ioeventfd":
        e = r.get("ioeventfd") or {}
        dm = spec["datamatch"]
        return (int(e.get("address", "0x0"), 16) == int(spec["addr"], 16) and
                e.get("length") == spec["len"] and e.get("bus_idx") == BUS_IDX[spec["bus"]] and
                e.get("wildcard") == (dm is None) and
                (dm is None and e.get("datamatch") is None or
                 dm is not None and e.get("datamatch") == dm))
    if kind == "coalesced_mmio":
        z = r.get("zone") or {}
        return (int(z.get("address", "0x0"), 16) == int(spec["addr"], 16) and
                z.get("length") == spec["size"] and z.get("pio") == spec["pio"])
    if kind == "ioapic":
        return (r.get("ioapic") or {}).get("address") == spec["addr"]
    return r.get("object") is not None  # PIC/PIT: the owner found through container_of


def compare_iobus(label, ground, doc):
    """Exact comparison of kvmdci-iobus --json with the workload's JSON."""
    pid = ground["pid"]
    tvms = [v for v in doc["vms"] if v["vm_pid"] == pid]
    n = len(ground["vms"])
    if not check(f"{label}: kvmdci-iobus lists the workload's {n} VMs (pid {pid})",
                 len(tvms) == n, f"{len(tvms)} found"):
        return
    bad = []
    for i, gvm in enumerate(ground["vms"]):
        tvm = tvms[n - 1 - i]  # vm_list: newest first
        want = expected(gvm)
        got = {}
        for b in tvm["buses"]:
            if b.get("error"):
                bad.append(f"VM {i} bus {b['name']}: {b['error']}")
            nev = 0
            for r in b["ranges"]:
                got[(b["name"], int(r["address"], 16), r["length"])] = r
                nev += r["kind"] == "ioeventfd"
            wn = sum(1 for k in want if k[0] == b["name"])
            wev = sum(1 for k, (kind, _) in want.items() if k[0] == b["name"] and
                      kind == "ioeventfd")
            if b["dev_count"] != wn or b["ioeventfd_count"] != wev or nev != wev:
                bad.append(f"VM {i} bus {b['name']}: dev_count {b['dev_count']} ioeventfd_count "
                           f"{b['ioeventfd_count']}, want {wn}/{wev}")
        for key in sorted(set(want) | set(got)):
            if key not in got:
                bad.append(f"VM {i}: missing {key[0]} 0x{key[1]:x} len {key[2]}")
            elif key not in want:
                bad.append(f"VM {i}: unexpected {key[0]} 0x{key[1]:x} len {key[2]} "
                           f"{got[key]['kind']}")
            else:
                kind, spec = want[key]
                r = got[key]
                if r["kind"] != kind or not decoded_ok(kind, spec, r):
                    bad.append(f"VM {i}: {key[0]} 0x{key[1]:x}: want {kind} {spec}, got {r}")
                # an ioeventfd's ops are kvm's ioeventfd_ops (virt/kvm/eventfd.c)
                elif kind == "ioeventfd" and r.get("ops_symbol") != "kvm!ioeventfd_ops+0x0":
                    bad.append(f"VM {i}: {key[0]} 0x{key[1]:x}: ops {r.get('ops_symbol')}, "
                               "want kvm!ioeventfd_ops+0x0")
    nranges = sum(len(expected(v)) for v in ground["vms"])
    check(f"{label}: every VM's buses hold exactly the {nranges} registered ranges, decoded",
          not bad, "; ".join(bad[:5]) + (f" (+{len(bad) - 5})" if len(bad) > 5 else ""))


def compare_vcpu(label, t, ground, doc):
    pid = ground["pid"]
    tvms = [v for v in doc["vms"] if v["vm_pid"] == pid]
    n = len(ground["vms"])
    if not check(f"{label}: kvmdci-vcpu lists the workload's {n} VMs", len(tvms) == n,
                 f"{len(tvms)} found"):
        return
    st, out = t.run(f"ls /proc/{pid}/task")
    threads = {int(x) for x in out.split()} - {pid}
    bad, seen = [], set()
    for i, gvm in enumerate(ground["vms"]):
        tvm = tvms[n - 1 - i]
        ids = sorted(v["vcpu_id"] for v in tvm["vcpus"])
        if ids != list(range(gvm["vcpus"])) or tvm["online_vcpus"] != gvm["vcpus"]:
            bad.append(f"VM {i}: vcpu ids {ids}, online {tvm['online_vcpus']}, "
                       f"want 0..{gvm['vcpus'] - 1}")
        for v in tvm["vcpus"]:
            where = f"VM {i} vCPU {v['vcpu_id']}"
            if v["pid"] not in threads or v["pid"] in seen:
                bad.append(f"{where}: thread {v['pid']} not a distinct workload thread")
            seen.add(v["pid"])
            if v["vcpu_idx"] != v["vcpu_id"] or v["mode"] != "outside_guest":
                bad.append(f"{where}: idx {v['vcpu_idx']} mode {v['mode']}")
            if doc["vendor"] == "svm" and v["not_cached"]:
                bad.append(f"{where}: not cached on SVM: {v['not_cached']}")
            rdx = v["regs"]["rdx"]
            if rdx is None or int(rdx, 16) & 0xffff != 0x3f8:
                bad.append(f"{where}: rdx {rdx}, want 0x3f8 (last exit: out to 0x3f8)")
    check(f"{label}: vCPU ids, idx, threads, mode and registers as the workload has them",
          not bad, "; ".join(bad[:5]))
