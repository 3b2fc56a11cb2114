"""kvmdci-stat against KVM's own debugfs files in the lab guest (the KVM host).

/sys/kernel/debug/kvm/PID-FD/NAME holds, for every stat of KVM's stats descriptors, the VM's
value (a VM stat) or the sum over the VM's vCPUs (a vCPU stat); for a histogram only its first
bucket (debugfs reads the one 64-bit value at the stat's offset: kvm_stat_data_get ->
kvm_get_stat_per_vm / kvm_get_stat_per_vcpu in virt/kvm/kvm_main.c, 6.1). Counters move while
the host runs, so each check is bracketed: every debugfs file read (A), kvmdci-stat --json (T),
every file read again (B). A cumulative counter (and a peak, and a histogram bucket) only grows:
A <= T <= B, and T == A when A == B. A gauge (instant) may go either way: T == A when A == B,
else between the two. Before 5.14 (no descriptors: the names from x86's debugfs_entries[])
every stat is of unknown kind and gets the gauge's rule.

The names must match debugfs's exactly, but for KNOWN_EXTRA_FILES (debugfs files that are not
stats).

VMs are matched to their directories by pid and order: one process's VMs get increasing file
descriptors in creation order, and kvm:vm_list is newest first (list_add in kvm_create_vm).
"""
import json
import re
import time

from e2e import check, run_tool

# debugfs files of a VM's directory that are not stats: x86's rmap size histogram per memslot
# (kvm_mmu_rmaps_stat, arch/x86/kvm/debugfs.c, 5.15 and later), a text table
KNOWN_EXTRA_FILES = {"mmu_rmaps_stat"}


def read_debugfs(t, pid):
    """{fd: {name: int}} of every debugfs directory of process @pid's VMs (files holding one
    integer; the vcpuN directories and other files are left out), and the other file names."""
    st, out = t.run(f"cd /sys/kernel/debug/kvm && for f in {pid}-*/*; do "
                    f"[ -f \"$f\" ] && echo \"@ $f $(head -c 64 \"$f\" | tr '\\n' ' ')\"; "
                    f"done; echo @end")
    dirs, other = {}, set()
    for line in out.splitlines():
        m = re.match(r"@ (\d+)-(\d+)/(\S+) (.*)$", line.strip())
        if not m:
            continue
        fd, name, val = int(m.group(2)), m.group(3), m.group(4).strip()
        if re.fullmatch(r"\d+", val):
            dirs.setdefault(fd, {})[name] = int(val)
        else:
            other.add(name)
    return dirs, other


def _bracket(kind, a, t_, b):
    if a == b:
        return t_ == a
    if kind in ("cumulative", "peak", "linear_hist", "log_hist"):
        return a <= t_ <= b
    return min(a, b) <= t_ <= max(a, b)


def compare_stat(label, t, pid, env, nvms=None, dump=None):
    """A: debugfs, T: kvmdci-stat --json --vm PID with @env, B: debugfs again; every stat of
    every VM of @pid checked (see the module's comment). With @dump (a path), T is a dump of
    the lab written there between A and B, read by kvmdci-stat afterwards. Returns the tool's
    JSON."""
    t0 = time.monotonic()
    a, other_a = read_debugfs(t, pid)
    if dump:
        t.lab.dump(dump)
        b, _ = read_debugfs(t, pid)
        env = dict(env, KVMDCI_TARGET="core://" + dump)
    rc, out, err = run_tool("kvmdci-stat", ["--json", "--vm", str(pid)], env, timeout=600)
    if not dump:
        b, _ = read_debugfs(t, pid)
    doc = json.loads(out) if rc == 0 and out.strip() else {}
    check(f"{label}: kvmdci-stat --json --vm {pid} exits 0 with no warnings",
          rc == 0 and not err.strip() and doc.get("vms"), f"rc={rc} {err.strip()[-300:]}")
    if not doc.get("vms"):
        return doc
    vms = doc["vms"]
    fds = sorted(a)
    check(f"{label}: as many VMs as debugfs directories of pid {pid}"
          + (f" ({nvms})" if nvms else ""),
          len(vms) == len(fds) == len(b) and (nvms is None or len(vms) == nvms),
          f"tool {len(vms)}, debugfs {fds}")
    kinds = {}
    for scope in ("vm", "vcpu"):
        for d in doc.get("descriptors", {}).get(scope, []):
            kinds[d["name"]] = d["kind"]
    names_tool = set(kinds)
    names_fs = set().union(*(set(d) for d in a.values())) if a else set()
    extra_files = (names_fs - names_tool) | (other_a - names_tool)
    missing = names_tool - names_fs
    unexplained_fs = extra_files - KNOWN_EXTRA_FILES
    unexplained_tool = missing
    check(f"{label}: the stats' names are debugfs's ({len(names_tool)} stats, source "
          f"{doc.get('source')})", not unexplained_fs and not unexplained_tool and
          len(names_tool) >= 20,
          f"only in debugfs {sorted(unexplained_fs)}, only in kvmdci-stat "
          f"{sorted(unexplained_tool)}; not stats {sorted(extra_files & KNOWN_EXTRA_FILES)}")
    bad, exact, moved = [], 0, 0
    for i, fd in enumerate(fds):
        if i >= len(vms) or fd not in b:
            break
        vm = vms[len(vms) - 1 - i]        # vm_list is newest first
        values = dict(vm.get("stats", {}))
        values.update(vm.get("vcpu_stats", {}))
        for name, tv in values.items():
            if name not in a[fd] or name not in b[fd]:
                continue
            tv0 = tv[0] if isinstance(tv, list) else tv
            av, bv = a[fd][name], b[fd][name]
            if av == bv:
                exact += 1
            else:
                moved += 1
            if not _bracket(kinds.get(name, "unknown"), av, tv0, bv):
                bad.append(f"{vm['vm']} ({pid}-{fd}) {name}: debugfs {av} then {bv}, "
                           f"kvmdci-stat {tv0} ({kinds.get(name)})")
        check(f"{label}: VM {vm['vm']} is {pid}-{fd}: every stat between debugfs's reads "
              f"around it, equal where they agree", not bad and vm.get("vm_pid") == pid,
              "; ".join(bad[:8]))
        bad = []
    print(f"{label}: {exact} stats equal to debugfs's unchanged value, {moved} bracketed by "
          f"values that moved ({time.monotonic() - t0:.1f} s with the debugfs reads"
          f"{' and the dump' if dump else ''})", flush=True)
    sums_ok = all(
        all((sum(c["stats"][n][0] if isinstance(c["stats"][n], list) else c["stats"][n]
                 for c in vm["vcpus"]) ==
             (v[0] if isinstance(v, list) else v)) for n, v in vm["vcpu_stats"].items())
        for vm in vms)
    check(f"{label}: each vCPU stat of a VM is the sum of its vCPUs' own",
          sums_ok and all(len(vm["vcpus"]) == vm["vcpus_summed"] for vm in vms))
    return doc
