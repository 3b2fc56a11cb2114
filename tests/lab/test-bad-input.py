#!/usr/bin/env python3
"""kvmdci-exits on bad input: one clear line on stderr, exit 1 (2 for bad usage), and the lab
left running and untouched: its KVM keeps counting exits of a free-running workload
(debugfs kvm/exits grows) and no breakpoint is left (the next tool run attaches and traces).
Also: module files of another build (by build id), --vm/--vcpu that match nothing (kvmdci-vmcs, kvmdci-vcpu, kvmdci-iobus), and a dump
given to the tools that need run control, by core:// or by its bare path, or a directory.
And `kvmdci-lab dump`'s progress: with stderr on a pseudo-terminal its line ends at 100% of the
guest memory that QEMU wrote (the PT_LOAD segments of the ELF dump); with stderr a pipe, none.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

import elfcore
from e2e import TestLab, check, exits_grow, finish, run_tool
from module_checks import build_id_checks


def exits_now(t):
    st, out = t.run("cat /sys/kernel/debug/kvm/exits")
    return int(out.strip())


def one_line(err):
    """One line; for bad usage, followed by the hint "Try 'kvmdci-exits --help' ..."."""
    lines = [l for l in err.strip().splitlines() if l]
    if len(lines) == 2 and lines[1].startswith("Try 'kvmdci-exits --help'"):
        lines.pop()
    return len(lines) == 1


DUMP_FRAME = re.compile(r"kvmdci-lab: dumping the lab machine to (\S+): (\d+)% \(([\d.]+) of "
                        r"([\d.]+) MB of guest memory\), (\d+) s$")


def lab_dump(t, path, on_pty):
    """`kvmdci-lab dump PATH` with stderr on a pseudo-terminal or a pipe (KVMDCI_PROGRESS
    unset): (exit status, stdout, stderr, seconds)."""
    env = t.lab._environ()
    env.pop("KVMDCI_PROGRESS", None)
    argv = [t.lab.script, "dump", "--timeout", "300", path]
    if t.lab.script.endswith(".py"):
        argv.insert(0, sys.executable)
    t0 = time.monotonic()
    if not on_pty:
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=330)
        return r.returncode, r.stdout, r.stderr, time.monotonic() - t0
    master, slave = os.openpty()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    err = b""
    while True:
        try:
            d = os.read(master, 65536)
        except OSError:         # EIO: kvmdci-lab closed its side
            break
        if not d:
            break
        err += d
    out = p.communicate(timeout=330)[0]
    os.close(master)
    # the terminal writes a newline as CR LF (onlcr): back to LF, a lone CR is a redraw
    return (p.returncode, out.decode(), err.decode(errors="replace").replace("\r\n", "\n"),
            time.monotonic() - t0)


def dump_progress_checks(t, d):
    """The dump's progress line on a terminal, and none on a pipe."""
    path = os.path.join(d, "progress.elf")
    rc, out, err, secs = lab_dump(t, path, on_pty=True)
    with open(path, "rb") as f:
        def read(off, n):
            f.seek(off)
            return f.read(n)
        segs, _ = elfcore.parse(read)
    total = sum(s[1] for s in segs)
    mb = f"{total / 1e6:.1f}"
    frames = [f[:-3] for f in err.split("\r") if f.endswith("\x1b[K") and len(f) > 3]
    parsed = [DUMP_FRAME.match(f) for f in frames]
    print(f"     a dump of {total} bytes of guest memory ({len(segs)} PT_LOAD) in {secs:.1f} s, "
          f"{len(frames)} progress states", flush=True)
    check("dump on a pty: exit 0, the path on stdout", rc == 0 and out.strip() == path,
          "" if rc == 0 else f"rc={rc} {out!r} {err[-300:]!r}")
    check("dump on a pty: every redraw is a dump progress line naming the file",
          frames and all(m and m.group(1) == path for m in parsed),
          f"{[f for f, m in zip(frames, parsed) if not m][:3]}" if not all(parsed) else "")
    parsed = [m for m in parsed if m]
    last = parsed[-1] if parsed else None
    check(f"dump on a pty: the last state is 100%, {mb} of {mb} MB: the sum of the ELF dump's "
          "PT_LOAD segments", last and last.group(2, 3, 4) == ("100", mb, mb),
          f"{frames[-1:]} vs {total} bytes" if not last or last.group(4) != mb else "")
    check("dump on a pty: every state has that total, percent and bytes only grow",
          parsed and all(m.group(4) == mb for m in parsed) and
          [int(m.group(2)) for m in parsed] == sorted(int(m.group(2)) for m in parsed) and
          [float(m.group(3)) for m in parsed] == sorted(float(m.group(3)) for m in parsed),
          f"{len(parsed)} states: {[m.group(2, 3) for m in parsed][:3]}...")
    lines = [l for l in err.split("\r")[-1].replace("\x1b[K", "").splitlines() if l]
    check("dump on a pty: the line is erased, then the one-line summary",
          err.split("\r")[-1].startswith("\x1b[K") and len(lines) == 1 and
          lines[0].startswith("kvmdci-lab: dumped ") and path in lines[0],
          "" if len(lines) == 1 else repr(err[-200:]))
    os.unlink(path)
    rc, out, err, _ = lab_dump(t, path, on_pty=False)
    check("dump with stderr a pipe: no progress, the one-line summary alone",
          rc == 0 and "\r" not in err and "\x1b" not in err and
          len(err.strip().splitlines()) == 1 and err.startswith("kvmdci-lab: dumped ") and
          os.path.getsize(path) > total, "" if rc == 0 and "\r" not in err else repr(err[-300:]))
    os.unlink(path)


def expect(t, name, args, rc_want, text, env=None, running=True):
    before = exits_now(t) if running else None
    t0 = time.monotonic()
    rc, out, err = run_tool("kvmdci-exits", args, env or t.tool_env, timeout=60)
    took = time.monotonic() - t0
    check(f"{name}: exit {rc_want}, one line naming the problem",
          rc == rc_want and one_line(err) and text in err,
          f"rc={rc} in {took:.1f} s: {err.strip()!r}")
    if running:
        after = exits_grow(t, before, 30)
        check(f"{name}: target still running", after > before, f"exits {before} -> {after}")


def fake_stub(path, behaviour):
    """A unix-socket peer that is not a gdbstub."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def serve():
        c, _ = srv.accept()
        if behaviour == "http":
            c.recv(1024)
            c.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        time.sleep(8)  # longer than the tool waits for a reply to qSupported (3 s)
        c.close()
        srv.close()

    threading.Thread(target=serve, daemon=True).start()


def main():
    with TestLab() as t:
        t.lab.run_bg("workload --vcpus 1 --seconds 0 --quiet")
        exits_grow(t)  # the workload is in KVM_RUN
        env = t.tool_env
        # module files of another build than the loaded modules (same release)
        build_id_checks(t, "module files")
        # a malformed URI is bad usage (exit 2), as any malformed option value
        expect(t, "malformed URI", ["-t", "gdb:/nowhere"], 2, "invalid target URI")
        expect(t, "unknown scheme", ["-t", "ftp://x:1"], 2, "unknown scheme")
        expect(t, "unreachable socket", ["-t", "gdb+unix:///nonexistent/gdb.sock"], 1,
               "cannot connect to /nonexistent/gdb.sock")
        expect(t, "refused TCP port", ["-t", "gdb://127.0.0.1:1"], 1, "cannot connect")
        with tempfile.TemporaryDirectory() as d:
            for kind in ("silent", "http"):
                path = os.path.join(d, kind + ".sock")
                fake_stub(path, kind)
                expect(t, f"peer that is not a gdbstub ({kind})", ["-t", "gdb+unix://" + path],
                       1, "is this a gdbstub?")
        expect(t, "no type info (missing vmlinux)", ["--vmlinux", "/nonexistent/vmlinux"], 1,
               "cannot read BTF from /nonexistent/vmlinux")
        expect(t, "no type info (a vmlinux without BTF)", ["--vmlinux", "/bin/true"], 1,
               "/bin/true")
        expect(t, "wrong System.map", ["--system-map", "/etc/passwd"], 1, "/etc/passwd")
        # the vmlinux of another kernel (Debian's 6.12 on the 6.1 lab): refused by build id
        other = subprocess.run([os.environ["KVMDCI_LAB"], "build", "--kernel", "6.12"],
                               check=True, capture_output=True, text=True).stdout.strip()
        expect(t, "vmlinux of another kernel", ["--vmlinux", os.path.join(other, "vmlinux")], 1,
               "does not match the running kernel")
        rc, out, err = run_tool("kvmdci-exits", ["--json", "-t", "gdb:/x"], env)
        doc = json.loads(out) if out.strip() else {}
        check("JSON mode: a usage error is also a JSON object", rc == 2 and "error" in doc,
              out.strip())
        rc, out, err = run_tool("kvmdci-exits", ["--json", "-t", "gdb+unix:///nonexistent/s"],
                                env)
        doc = json.loads(out) if out.strip() else {}
        check("JSON mode: a failure is also a JSON object", rc == 1 and "error" in doc,
              out.strip())
        rc, out, err = run_tool("kvmdci-exits", ["--duration", "soon"], env)
        check("bad usage: exit 2", rc == 2 and "--duration" in err, err.strip())
        for bad in ("0%", "150%", "10%/5ms", "10%/2h", "ten", "10%/", "0.1/3x"):
            rc, out, err = run_tool("kvmdci-exits", ["--sample", bad], env)
            check(f"--sample {bad}: exit 2 naming the option", rc == 2 and "--sample" in err and
                  bad in err, err.strip())
        rc, out, err = run_tool("kvmdci-exits", ["--bogus"], env)
        check("unknown option: exit 2", rc == 2, err.strip()[:80])

        # --vm / --vcpu that match nothing: one line that echoes the value and lists what
        # there is (the workload's VM, by its pid), nothing on stdout before it
        st, out = t.run("pidof workload")
        wpid = out.split()[0] if out.split() else "?"
        for tool in ("kvmdci-vmcs", "kvmdci-vcpu", "kvmdci-iobus"):
            rc, out, err = run_tool(tool, ["--vm", "999"], env, timeout=120)
            check(f"{tool} --vm 999: exit 1, one line echoing 999 and listing the VM of pid "
                  f"{wpid}", rc == 1 and one_line(err) and "--vm 999" in err and
                  f"pid {wpid}" in err and not out.strip(), f"rc={rc} {err.strip()!r} {out!r}")
        for tool in ("kvmdci-vmcs", "kvmdci-vcpu"):
            rc, out, err = run_tool(tool, ["--vcpu", "99"], env, timeout=120)
            check(f"{tool} --vcpu 99: exit 1, one line listing vCPU 0, nothing printed before",
                  rc == 1 and one_line(err) and "--vcpu 99" in err and "0 (VM 0x" in err and
                  not out.strip(), f"rc={rc} {err.strip()!r} {out!r}")

        # after all that, the target takes a normal trace (before the dump below: after QEMU's
        # dump-guest-memory the machine, resumed through the gdbstub, made no KVM exit for over
        # a minute on 2026-12-06 while it ran on its own; not understood yet)
        # (the machine resumed by a debugger sometimes makes no KVM exit for a while, also
        # with no dump: an empty count is tried again, at most 3 times, each said)
        for attempt in range(3):
            rc, out, err = run_tool("kvmdci-exits", ["--json", "--duration", "2"], env,
                                    timeout=120)
            doc = json.loads(out) if rc == 0 else {}
            if rc != 0 or doc.get("total", 0) > 0:
                break
            print("     no exit in the window (KVM counted none either): again", flush=True)
        check("a normal trace works afterwards", rc == 0 and doc.get("total", 0) > 0,
              f"rc={rc} total={doc.get('total')} {err.strip()[-200:]}")

        # a dump: tools that need run control refuse it up front with one clear line (the
        # library's error was garbled: "...: cannot set a breakpoint ...: r take breakpoints")
        with tempfile.TemporaryDirectory() as d:
            dump_progress_checks(t, d)
            dump = t.lab.dump(os.path.join(d, "lab.elf"))
            for tool, args in (("kvmdci-exits", []), ("kvmdci-exits", ["--counters"]),
                               ("kvmdci-trace", ["--bp", "svm_handle_exit"])):
                rc, out, err = run_tool(tool, ["-t", "core://" + dump] + args, env, timeout=120)
                check(f"{tool} {' '.join(args)} on a dump: exit 1, one line: read-only, what "
                      f"to use", rc == 1 and one_line(err) and "read-only target" in err and
                      tool in err and "kvmdci-vcpu" in err and err.count(dump) == 1,
                      f"rc={rc} {err.strip()!r}")
            # the bare path of a dump is a dump target (as drgn -c and crash take it)
            rc, out, err = run_tool("kvmdci-vcpu", ["-t", dump, "--json"], env, timeout=120)
            doc = json.loads(out) if rc == 0 else {}
            check("kvmdci-vcpu -t /path/to/dump: the dump, its VM of the workload's pid",
                  rc == 0 and [str(v["vm_pid"]) for v in doc.get("vms", [])] == [wpid],
                  f"rc={rc} {err.strip()[-200:]}")
            rc, out, err = run_tool("kvmdci-vcpu", ["-t", "core://" + d], env, timeout=60)
            check("core:///a/directory: exit 1, says it is a directory",
                  rc == 1 and one_line(err) and "a directory, not a dump file" in err,
                  f"rc={rc} {err.strip()!r}")

        # kvm_amd not loaded
        t.run("killall workload; sleep 1; rmmod kvm_amd")
        st, mods = t.run("lsmod")
        check("kvm_amd unloaded in the lab", "kvm_amd" not in mods, mods.strip())
        expect(t, "kvm_amd not loaded", [], 1, "neither kvm_amd nor kvm_intel is loaded",
               running=False)
        st, out = t.run("echo alive")
        check("kvm_amd not loaded: target still running", out.strip() == "alive", out.strip())
        t.run("insmod /lib/modules/kvm-amd.ko")
    finish()


if __name__ == "__main__":
    main()
