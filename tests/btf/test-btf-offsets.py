#!/usr/bin/env python3
"""BTF member offsets and capture programs of libkvmdci, checked against bpftool.

The lab kernel's real BTF (Debian's 6.1 cloud vmlinux and its kvm, kvm-amd and kvm-intel
modules, fetched by `kvmdci-lab build`) is dumped with bpftool (an independent reader); this
script resolves member paths in that dump itself and compares with what libkvmdci's type code
(through tests/btf/btf-probe) answers. Fails on any difference.
"""
import os
import re
import subprocess
import sys

probe = sys.argv[1]
kernel = sys.argv[2] if len(sys.argv) > 2 else "6.1"
lab = os.environ.get("KVMDCI_LAB", "kvmdci-lab")
kdir = subprocess.run([lab, "build", "--kernel", kernel], check=True, capture_output=True,
                      text=True).stdout.strip()
vmlinux, moddir = os.path.join(kdir, "vmlinux"), os.path.join(kdir, "modules")
print(f"kernel {os.path.basename(kdir)}", flush=True)

# ---- bpftool raw dumps -> {id: type}; each module's split ids start after vmlinux's, so every
# module gets its own table (vmlinux's types plus its own) ------------------------------------
tables = {}
HDR = re.compile(r"^\[(\d+)\] (\w+) '([^']*)'(.*)$")
MEM = re.compile(r"^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)(?: bitfield_size=(\d+))?")


def load(args, module):
    out = subprocess.run(["bpftool"] + args + ["format", "raw"], check=True,
                         capture_output=True, text=True).stdout
    types = dict(tables.get(None, {}))
    tables[module] = types
    cur = None
    for line in out.splitlines():
        m = HDR.match(line)
        if m:
            tid, kind, name, rest = int(m[1]), m[2], m[3], m[4]
            attrs = dict(re.findall(r"(\w+)=(\d+)", rest))
            cur = {"kind": kind, "name": name, "attrs": attrs, "members": [], "module": module}
            types[tid] = cur
            continue
        m = MEM.match(line)
        if m and cur is not None:
            cur["members"].append((m[1], int(m[2]), int(m[3]), int(m[4] or 0)))


load(["btf", "dump", "file", vmlinux], None)
for mod, f in (("kvm", "kvm.ko"), ("kvm_amd", "kvm-amd.ko"), ("kvm_intel", "kvm-intel.ko")):
    load(["-B", vmlinux, "btf", "dump", "file", os.path.join(moddir, f)], mod)

types = tables[None]


def strip(tid):
    while types[tid]["kind"] in ("TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"):
        tid = int(types[tid]["attrs"]["type_id"])
    return tid


def size(tid):
    tid = strip(tid)
    t = types[tid]
    if t["kind"] == "ARRAY":
        return size(int(t["attrs"]["type_id"])) * int(t["attrs"]["nr_elems"])
    if t["kind"] == "PTR":
        return 8
    return int(t["attrs"]["size"])


def find_member(tid, name):
    for mname, mtype, off, bf in types[strip(tid)]["members"]:
        if mname == name:
            return mtype, off, bf
        if mname == "(anon)":
            r = find_member(mtype, name)
            if r:
                return r[0], off + r[1], r[2]
    return None


def resolve(module, type_name, path):
    global types
    kind, name = type_name.split(" ", 1)
    kind = kind.upper()
    types = tables[module]
    tid = min(i for i, t in types.items() if t["kind"] == kind and t["name"] == name)
    bits, bf = 0, 0
    for part in path.split("."):
        idx = None
        m = re.match(r"(\w+)\[(\d+)\]$", part)
        if m:
            part, idx = m[1], int(m[2])
        mtype, off, bf = find_member(tid, part)
        bits += off
        tid = strip(mtype)
        if idx is not None:
            elem = int(types[tid]["attrs"]["type_id"])
            bits += idx * size(elem) * 8
            tid, bf = strip(elem), 0
    return bits, bf, size(tid)


# ---- the members libkvmdci uses (reference/kvm-internals.md) --------------------------------
QUERIES = [
    (None, "struct kvm", "vm_list"), (None, "struct kvm", "buses"),
    (None, "struct kvm", "online_vcpus"), (None, "struct kvm", "userspace_pid"),
    (None, "struct kvm", "vcpu_array"), (None, "struct kvm_io_range", "addr"),
    (None, "struct kvm_io_range", "len"), (None, "struct kvm_io_range", "dev"),
    (None, "struct kvm_io_bus", "range[2].dev"), (None, "struct kvm_vcpu", "stat.exits"),
    (None, "struct kvm_vcpu", "stat.io_exits"), (None, "struct kvm_vcpu", "vcpu_id"),
    (None, "struct kvm_vcpu", "vcpu_idx"), (None, "struct kvm_vcpu", "cpu"),
    (None, "struct kvm_vcpu", "kvm"), (None, "struct kvm_vcpu", "arch.regs_avail"),
    (None, "struct module", "list"), (None, "struct module", "name"),
    (None, "struct module", "kallsyms"), (None, "struct mod_kallsyms", "num_symtab"),
    (None, "struct mod_kallsyms", "strtab"), (None, "struct xa_node", "shift"),
    (None, "struct xa_node", "slots"), (None, "struct xarray", "xa_head"),
    ("kvm_amd", "struct vcpu_svm", "vmcb"), ("kvm_amd", "struct vmcb", "control.exit_code"),
    ("kvm_amd", "struct vmcb", "control.exit_info_1"),
    ("kvm_amd", "struct vcpu_svm", "nested.vmcb12_gpa"),
    ("kvm_amd", "struct vcpu_svm", "nested.ctl"),
    ("kvm_amd", "struct vcpu_svm", "nested.ctl.intercepts"),
    ("kvm_amd", "struct vcpu_svm", "nested.ctl.iopm_base_pa"),
    ("kvm_amd", "struct vcpu_svm", "nested.ctl.asid"),
    ("kvm_amd", "struct vcpu_svm", "nested.ctl.tlb_ctl"),
    ("kvm_amd", "struct vcpu_svm", "nested.ctl.nested_ctl"),
    ("kvm_amd", "struct vcpu_svm", "nested.save"),
    ("kvm_amd", "struct vcpu_svm", "nested.save.efer"),
    ("kvm_amd", "struct vcpu_svm", "nested.save.cr3"),
    ("kvm_intel", "struct vcpu_vmx", "exit_reason"),
    ("kvm_intel", "struct vcpu_vmx", "exit_reason.basic"),
    ("kvm_intel", "struct vcpu_vmx", "exit_reason.failed_vmentry"),
    ("kvm_intel", "struct vcpu_vmx", "loaded_vmcs"),
]

args = [f"member:{m or '-'}:{t}:{p}" for m, t, p in QUERIES]
EXPRS = [
    "((struct vcpu_svm *)$arg0)->vmcb->control.exit_code",
    "((struct vcpu_vmx *)$arg0)->exit_reason.basic",
    "((struct vcpu_vmx *)$arg0)->no_such_member",
]
args += [f"expr:{e}" for e in EXPRS]
out = subprocess.run([probe, vmlinux, moddir] + args, check=True, capture_output=True,
                     text=True).stdout.splitlines()

failures = 0
checked = 0
for (m, t, p), line in zip(QUERIES, out):
    want = resolve(m, t, p)
    got = tuple(int(x) for x in line.split()) if line != "missing" else None
    ok = got == want
    checked += 1
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {t}.{p}: libkvmdci {got} bpftool {want}")

# capture programs: the offsets in ADD ops are those bpftool gives
rest = out[len(QUERIES):]
progs, cur = [], []
for line in rest:
    if line == "end":
        progs.append(cur)
        cur = []
    else:
        cur.append(line)
svm_vmcb = resolve("kvm_amd", "struct vcpu_svm", "vmcb")[0] // 8
svm_code = resolve("kvm_amd", "struct vmcb", "control.exit_code")[0] // 8
want_svm = ["REG 0 0", f"ADD {svm_vmcb} 0", "LOAD 8 0", f"ADD {svm_code} 0", "LOAD 4 0"]
b_bits, b_width, _ = resolve("kvm_intel", "struct vcpu_vmx", "exit_reason.basic")
want_vmx = ["REG 0 0", f"ADD {b_bits // 8} 0", f"LOAD {(b_bits % 8 + b_width + 7) // 8} 0",
            f"BITS {b_bits % 8} {b_width}"]
for name, got, want in (("svm exit_code capture", progs[0], want_svm),
                        ("vmx exit_reason.basic capture", progs[1], want_vmx)):
    ok = got == want
    checked += 1
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {got} (expected {want})")
ok = len(progs[2]) == 1 and "has no member no_such_member" in progs[2][0]
checked += 1
failures += not ok
print(f"{'ok  ' if ok else 'FAIL'} a missing member is reported: {progs[2]}")
print(f"{checked - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
