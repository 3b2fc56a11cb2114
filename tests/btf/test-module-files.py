#!/usr/bin/env python3
"""Module files are checked before their types are used (real .ko files of the lab kernel):
- the right files load;
- kvm.ko copied over kvm-amd.ko is refused, naming both modules (its types were taken as
  kvm_amd's before);
- a truncated kvm-amd.ko is refused as truncated, naming the file (it was dropped silently);
- the module names come from each file's own .modinfo name=, as modinfo(8) reads them.
Usage: test-module-files.py BTF_PROBE [KERNEL]"""
import os
import shutil
import subprocess
import sys
import tempfile

probe = sys.argv[1]
kernel = sys.argv[2] if len(sys.argv) > 2 else "6.1"
lab = os.environ.get("KVMDCI_LAB", "kvmdci-lab")
kdir = subprocess.run([lab, "build", "--kernel", kernel], check=True, capture_output=True,
                      text=True).stdout.strip().splitlines()[-1]
print(f"kernel {os.path.basename(kdir)}", flush=True)
vmlinux, mods = f"{kdir}/vmlinux", f"{kdir}/modules"
QUERY = "size:kvm_amd:struct vcpu_svm"
bad = checked = 0


def check(ok, what, detail=""):
    global bad, checked
    checked += 1
    bad += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f"\n  {detail}" if not ok else ""), flush=True)


def probe_run(moddir):
    return subprocess.run([probe, vmlinux, moddir, QUERY], capture_output=True, text=True,
                          timeout=300)


def modinfo_name(path):
    """name= from .modinfo, read here with objcopy (binutils), not with our code."""
    with tempfile.NamedTemporaryFile() as out:
        subprocess.run(["objcopy", "-O", "binary", "--only-section=.modinfo", path, out.name],
                       check=True)
        for kv in open(out.name, "rb").read().split(b"\0"):
            if kv.startswith(b"name="):
                return kv[5:].decode()
    return None


check(modinfo_name(f"{mods}/kvm.ko") == "kvm" and modinfo_name(f"{mods}/kvm-amd.ko") == "kvm_amd",
      "the lab's kvm.ko and kvm-amd.ko say name=kvm and name=kvm_amd")
p = probe_run(mods)
check(p.returncode == 0 and p.stdout.split() and int(p.stdout.split()[-1]) > 0,
      "the lab's own module files load", f"rc={p.returncode} {p.stdout!r} {p.stderr[-300:]!r}")

with tempfile.TemporaryDirectory(prefix="kvmdci-modfiles-") as d:
    for f in ("kvm.ko", "kvm-amd.ko", "kvm-intel.ko"):
        shutil.copy(f"{mods}/{f}", f"{d}/{f}")
    shutil.copy(f"{mods}/kvm.ko", f"{d}/kvm-amd.ko")
    p = probe_run(d)
    check(p.returncode != 0 and f"{d}/kvm-amd.ko is module kvm, not kvm_amd" in p.stderr,
          "kvm.ko copied over kvm-amd.ko: refused, naming both",
          f"rc={p.returncode} {p.stdout!r} {p.stderr[-400:]!r}")

    data = open(f"{mods}/kvm-amd.ko", "rb").read()
    with open(f"{d}/kvm-amd.ko", "wb") as f:
        f.write(data[:len(data) // 2])
    p = probe_run(d)
    check(p.returncode != 0 and f"{d}/kvm-amd.ko" in p.stderr and "truncated" in p.stderr,
          "a truncated kvm-amd.ko: refused as truncated, naming the file",
          f"rc={p.returncode} {p.stdout!r} {p.stderr[-400:]!r}")

print(f"{checked - bad}/{checked} checks passed")
sys.exit(1 if bad else 0)
