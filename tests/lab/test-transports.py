#!/usr/bin/env python3
"""Transports and dump formats end to end on the lab, on one parked moment of the workload.

 - serial://: `kvmdci-lab pty` bridges a pseudo-terminal to the gdbstub; kvmdci-iobus and
   kvmdci-vcpu over it answer exactly as over gdb+unix:// (minus "stats" and "target"), and
   the lab guest still runs afterwards (the bridge holds the stub only while a client does);
 - kdump-compressed dumps of the same parked moment: QEMU's flattened zlib output as written,
   the same unflattened with `makedumpfile -R`, and rewritten with snappy pages
   (kdump-recompress.py: Debian's QEMU has no lzo/snappy) answer as the ELF dump does;
 - corrupt dumps: every truncation (61-byte steps) and 1500 bit flips of a small real
   kdump file (its first 64 pages, plain and flattened) are opened and read through the
   library in one process: no crash, and every refusal names the file.
"""
import os
import shutil
import subprocess
import sys

from e2e import TOOLS, TestLab, answer_doc, check, finish, run_tool

HERE = os.path.dirname(os.path.abspath(__file__))
RECOMPRESS = os.path.join(HERE, "kdump-recompress.py")
CORRUPT = os.path.join(HERE, "kdump-corrupt.py")


def sanitizer_preload(libpath):
    """The sanitizer build's library loaded into python (ctypes) needs the ASan/UBSan runtimes
    loaded first; python's own leaks at exit are not ours (LSan off in that process)."""
    env = dict(os.environ)
    ldd = subprocess.run(["ldd", libpath], capture_output=True, text=True).stdout
    rt = [ln.split("=>")[1].split()[0] for ln in ldd.splitlines()
          if "=>" in ln and ("libasan" in ln or "libubsan" in ln)]
    if rt:
        env["LD_PRELOAD"] = " ".join(rt)
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    return env


def answers(t, env, label):
    out = {}
    for name in ("kvmdci-iobus", "kvmdci-vcpu"):
        out[name] = answer_doc(label, name, *run_tool(name, ["--json"], env, timeout=600))
    return out


def main():
    with TestLab() as t:
        t.parked_workload("w1", "--vms 2 --vcpus 2")
        live = answers(t, t.tool_env, "gdb+unix")

        # serial: a pty bridged to the gdbstub
        r = t.lab._call(["pty"], timeout=30)
        uri = r.stdout.strip()
        check("kvmdci-lab pty prints a serial:// URI", uri.startswith("serial:///"), uri)
        serial = answers(t, dict(t.tool_env, KVMDCI_TARGET=uri), "serial")
        for name in live:
            check(f"{name}: serial:// answers exactly as gdb+unix://",
                  serial[name] == live[name] and live[name].get("vms"))
        st, out = t.run("echo still-running", timeout=30)
        check("the lab guest runs after the serial sessions", "still-running" in out, out)
        rc, so, se = run_tool("kvmdci-iobus", ["--json", "-t", uri + "?baud=12345"], t.tool_env)
        check("serial:// with a non-standard baud: exit 1, one clear line",
              rc == 1 and "baud" in se and len(se.strip().splitlines()) == 1, se.strip())
        t.lab._call(["pty", "--stop"], timeout=30)

        # dumps of the parked moment
        elf = os.path.join(t.dir, "w1.elf")
        zflat = os.path.join(t.dir, "w1.kdump-zlib")
        t.lab.dump(elf)
        t.lab._call(["dump", "--format", "kdump-zlib", zflat], timeout=330)
        dumps = {"ELF": elf, "kdump zlib (QEMU's flattened output)": zflat}
        zraw = os.path.join(t.dir, "w1.kdump-zlib-raw")
        if shutil.which("makedumpfile"):
            with open(zflat, "rb") as fi:  # it refuses an existing output file
                r = subprocess.run(["makedumpfile", "-R", zraw], stdin=fi,
                                   capture_output=True, text=True)
            check("makedumpfile -R unflattens QEMU's kdump output", r.returncode == 0,
                  r.stderr.strip()[-200:])
            dumps["kdump zlib (unflattened)"] = zraw
            snappy = os.path.join(t.dir, "w1.kdump-snappy")
            r = subprocess.run([sys.executable, RECOMPRESS, zraw, snappy, "snappy"],
                               capture_output=True, text=True)
            check("kdump-recompress.py rewrites the pages with snappy", r.returncode == 0,
                  (r.stdout + r.stderr).strip()[-200:])
            dumps["kdump snappy"] = snappy
        else:
            check("makedumpfile is installed (scripts/install-deps.sh)", False)
        ans = {label: answers(t, dict(t.tool_env, KVMDCI_TARGET="core://" + p), label)
               for label, p in dumps.items()}
        for label in dumps:
            if label == "ELF":
                continue
            for name in live:
                check(f"{name}: {label} answers exactly as the ELF dump",
                      ans[label][name] == ans["ELF"][name] and ans["ELF"][name].get("vms"))
        for name in live:
            check(f"{name}: the ELF dump answers as the live parked target",
                  ans["ELF"][name] == live[name])
        for p in (elf, zflat):
            os.unlink(p)

        # corrupt and truncated dumps: a small real kdump file
        if os.path.exists(zraw):
            small = os.path.join(t.dir, "small.kdump")
            r = subprocess.run([sys.executable, RECOMPRESS, zraw, small, "shrink", "64"],
                               capture_output=True, text=True)
            check("kdump-recompress.py shrink: a small real kdump file", r.returncode == 0,
                  (r.stdout + r.stderr).strip()[-200:])
            libpath = os.path.join(os.path.dirname(os.path.abspath(TOOLS)), "libkvmdci.so")
            env = sanitizer_preload(libpath)
            for mode in ("raw", "flat"):
                r = subprocess.run([sys.executable, CORRUPT, libpath, small, mode],
                                   capture_output=True, text=True, timeout=600, env=env)
                last = (r.stdout.strip().splitlines() or [""])[-1]
                check(f"corrupt {mode} kdump files: no crash, every refusal names the file",
                      r.returncode == 0 and "no file name" not in r.stdout,
                      f"rc={r.returncode} {last} {r.stderr.strip()[-300:]}")
        t.signal("w1")
        t.wait_state("w1", "done", 300)
    finish()


if __name__ == "__main__":
    main()
