#!/usr/bin/env python3
"""Types from DWARF (libdw) against types from BTF, on the same Debian kernel.

For the members libkvmdci uses, tests/btf/btf-probe answers once from the lab kernel's BTF
(vmlinux .BTF and the modules' split BTF) and once from DWARF (the -dbg package's vmlinux and
kvm, kvm-amd, kvm-intel module debug files): with an empty name-index cache (cold), with the
index that run wrote (warm), with that index damaged, and with no index. Offsets, bitfield
sizes, sizes and compiled capture programs must be identical. A truncated DWARF file must give
an error naming it, not a crash.
The DWARF vmlinux is extracted from the -dbg package first (kvmdci-lab build --dwarf-vmlinux,
cached; about 20 s the first time).
Usage: test-dwarf-btf.py BTF_PROBE [KERNEL]
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

from queries import EXPRS, QUERIES, SIZES

probe = sys.argv[1]
kernel = sys.argv[2] if len(sys.argv) > 2 else "6.1"
lab = os.environ.get("KVMDCI_LAB", "kvmdci-lab")
kdir = subprocess.run([lab, "build", "--kernel", kernel, "--dwarf-vmlinux"], check=True,
                      capture_output=True, text=True).stdout.strip()
ddir = os.path.join(kdir, "debug")
dwarf_vmlinux = os.path.join(ddir, "vmlinux")
print(f"kernel {os.path.basename(kdir)}", flush=True)
if not os.path.isfile(dwarf_vmlinux):
    print(f"FAIL: kvmdci-lab build --dwarf-vmlinux left no DWARF vmlinux at {dwarf_vmlinux}")
    print("0 passed, 1 failed")
    sys.exit(1)

args = ([f"member:{m or '-'}:{t}:{p}" for m, t, p in QUERIES] +
        [f"size:{m or '-'}:{t}" for m, t in SIZES] + [f"expr:{e}" for e in EXPRS])


def run(source, vmlinux, moddir, qargs, env_extra=None):
    """btf-probe's exit code, answer lines and stderr."""
    env = dict(os.environ, KVMDCI_TYPES=source, **(env_extra or {}))
    p = subprocess.run([probe, vmlinux, moddir] + qargs, capture_output=True, text=True,
                       env=env)
    return p.returncode, p.stdout.splitlines(), p.stderr


def run_timed(source, vmlinux, moddir, qargs, env_extra=None):
    """Exit code, wall time and peak RSS (KiB, from os.wait4) of one probe run."""
    env = dict(os.environ, KVMDCI_TYPES=source, **(env_extra or {}))
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.execve(probe, [probe, vmlinux, moddir] + qargs, env)
    _, status, ru = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), time.monotonic() - t0, ru.ru_maxrss


def damage_indexes(d):
    """Point every entry of the on-disk name indexes 7 bytes off, and the resume point too."""
    for f in os.listdir(d):
        with open(os.path.join(d, f), "r+b") as fh:
            b = bytearray(fh.read())
            struct.pack_into("<Q", b, 16, 12345)
            pos = 32
            while pos + 11 <= len(b):
                struct.pack_into("<Q", b, pos, struct.unpack_from("<Q", b, pos)[0] + 7)
                pos += 11 + struct.unpack_from("<H", b, pos + 9)[0]
            fh.seek(0)
            fh.write(b)


failures = 0
checked = 0


def check(ok, what):
    global failures, checked
    checked += 1
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {what}", flush=True)


cache = tempfile.mkdtemp(prefix="kvmdci-dwarf-idx-")
try:
    rc, btf_out, err = run("btf", os.path.join(kdir, "vmlinux"),
                                 os.path.join(kdir, "modules"), args)
    check(rc == 0, f"BTF probe runs (rc {rc}) {err.strip()}")
    results = {}
    for name, env in (("cold", {"XDG_CACHE_HOME": cache}), ("warm", {"XDG_CACHE_HOME": cache}),
                      ("damaged", {"XDG_CACHE_HOME": cache}),
                      ("index off", {"KVMDCI_DWARF_INDEX": "0"})):
        if name == "damaged":
            damage_indexes(os.path.join(cache, "libkvmdci"))
        rc, out, err = run("dwarf", dwarf_vmlinux, ddir, args, env)
        check(rc == 0, f"DWARF probe runs, index {name} (rc {rc}) {err.strip()}")
        results[name] = out
    idx = os.listdir(os.path.join(cache, "libkvmdci")) if os.path.isdir(
        os.path.join(cache, "libkvmdci")) else []
    check(len(idx) >= 2, f"name indexes written keyed by build id: {sorted(idx)}")

    labels = ([f"{m or '-'}:{t}.{p}" for m, t, p in QUERIES] +
              [f"sizeof({m or '-'}:{t})" for m, t in SIZES])
    n = len(labels)
    for i, label in enumerate(labels):
        want = btf_out[i] if i < len(btf_out) else None
        check(want not in (None, "missing"), f"BTF knows {label}: {want}")
        for name, out in results.items():
            got = out[i] if i < len(out) else None
            if got != want or name == "cold":
                check(got == want, f"{label}: DWARF ({name}) {got} BTF {want}")

    def progs(out):
        ps, cur = [], []
        for line in out[n:]:
            if line == "end":
                ps.append(cur)
                cur = []
            else:
                cur.append(line)
        return ps
    want = progs(btf_out)
    check(len(want) == len(EXPRS), f"{len(want)} capture programs from BTF")
    for name, out in results.items():
        for e, g, w in zip(EXPRS, progs(out), want):
            check(g == w, f"capture program {e} ({name}): DWARF {g} BTF {w}")

    # time and peak memory to the first answer (struct kvm's buses, as kvmdci-iobus starts)
    first = ["member:-:struct kvm:buses"]
    cold = tempfile.mkdtemp(prefix="kvmdci-dwarf-idx-", dir=cache)
    for name, src, vm, md, env in (
            ("BTF", "btf", os.path.join(kdir, "vmlinux"), os.path.join(kdir, "modules"), None),
            ("DWARF, cold index", "dwarf", dwarf_vmlinux, ddir, {"XDG_CACHE_HOME": cold}),
            ("DWARF, warm index", "dwarf", dwarf_vmlinux, ddir, {"XDG_CACHE_HOME": cache})):
        rc, dt, rss = run_timed(src, vm, md, first, env)
        print(f"info first answer with {name}: {dt:.3f} s, peak RSS {rss // 1024} MiB "
              f"(rc {rc})", flush=True)

    # bad input: truncated copies of the DWARF vmlinux and of a module debug file
    for what, src, size in (("vmlinux", dwarf_vmlinux, 1000000),
                            ("kvm.ko", os.path.join(ddir, "kvm.ko"), 1000000),
                            ("kvm.ko (half)", os.path.join(ddir, "kvm.ko"),
                             os.path.getsize(os.path.join(ddir, "kvm.ko")) // 2)):
        bad_dir = tempfile.mkdtemp(dir=cache)
        for f in ("kvm.ko", "kvm-amd.ko", "kvm-intel.ko"):
            os.symlink(os.path.join(ddir, f), os.path.join(bad_dir, f))
        vm = dwarf_vmlinux
        if what == "vmlinux":
            vm = os.path.join(bad_dir, "vmlinux")
            bad = vm
        else:
            bad = os.path.join(bad_dir, "kvm.ko")
            os.unlink(bad)
        with open(src, "rb") as fi, open(bad, "wb") as fo:
            fo.write(fi.read(size))
        rc, out, err = run("dwarf", vm, bad_dir, ["member:kvm:struct _ioeventfd:addr"],
                                 {"KVMDCI_DWARF_INDEX": "0"})
        check(rc == 1 and bad in err,
              f"truncated {what} ({size} bytes): exit {rc}, {err.strip()[:160]}")
finally:
    shutil.rmtree(cache, ignore_errors=True)

print(f"{checked - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
