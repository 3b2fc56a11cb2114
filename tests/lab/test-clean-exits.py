#!/usr/bin/env python3
"""Every tool that sets breakpoints leaves none behind, on every way out.

With the lab's workload running freely, kvmdci-exits (both triggers) and kvmdci-trace end by a
normal end, SIGINT, SIGTERM, SIGPIPE (`| head`), and the stub going away (a proxy between the
tool and QEMU's gdbstub is killed mid-trace). After each, the target is checked through the
stub itself with a raw RSP client that does NOT send '?' (QEMU removes all breakpoints on '?'):
it continues the machine and waits 3 s; a leftover breakpoint or watchpoint would stop it
within milliseconds (the workload exits to KVM thousands of times a second). KVM's own exit
counter (debugfs kvm/exits) must keep growing.
"""
import json
import os
import signal
import socket
import subprocess
import threading
import time

from e2e import TestLab, Tool, check, finish, run_tool


def pkt(s):
    b = s.encode()
    return b"$" + b + b"#" + b"%02x" % (sum(b) & 0xFF)


class Raw:
    """A minimal RSP client on the lab's gdbstub."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""

    def packet(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(b"$")
            j = self.buf.find(b"#", i + 1) if i >= 0 else -1
            if i >= 0 and j >= 0 and len(self.buf) >= j + 3:
                p = self.buf[i + 1:j].decode(errors="replace")
                self.buf = self.buf[j + 3:]
                return p
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                d = self.s.recv(4096)
            except socket.timeout:
                return None
            if not d:
                return None
            self.buf += d

    def command(self, s, timeout=5):
        self.s.sendall(pkt(s))
        while True:
            p = self.packet(timeout)
            if p is None or not p.startswith("T"):  # skip QEMU's stop notice on connect
                return p


def breakpoints_left(path):
    """True when the machine stops by itself within 3 s of a continue (no '?' sent)."""
    r = Raw(path)
    r.command("qSupported:multiprocess+")
    r.s.sendall(pkt("c"))
    stop = r.packet(3.0)
    if stop is None:
        r.s.sendall(b"\x03")
        r.packet(5.0)
    r.command("D;1")
    r.s.close()
    return stop


def kvm_exits(t):
    st, out = t.run("cat /sys/kernel/debug/kvm/exits")
    return int(out.strip())


class Proxy:
    """unix socket -> gdb.sock, killable mid-session."""

    def __init__(self, target, path):
        self.target, self.path = target, path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.conns = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        c, _ = self.srv.accept()
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.connect(self.target)
        self.conns = [c, u]

        def pump(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except OSError:
                pass
        threading.Thread(target=pump, args=(c, u), daemon=True).start()
        threading.Thread(target=pump, args=(u, c), daemon=True).start()

    def kill(self):
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        self.srv.close()


def after(t, label, gdb_sock):
    before = kvm_exits(t)
    stop = breakpoints_left(gdb_sock)
    check(f"{label}: no breakpoint or watchpoint left in the target (checked through the stub)",
          stop is None, f"the machine stopped by itself: {stop}")
    time.sleep(1)
    now = kvm_exits(t)
    check(f"{label}: KVM's exit counter still grows", now > before, f"{before} -> {now}")


def main():
    with TestLab() as t:
        env = t.tool_env
        gdb_sock = env["KVMDCI_TARGET"][len("gdb+unix://"):]
        t.lab.run_bg("workload --vcpus 1 --seconds 0 --quiet")
        time.sleep(2)

        for trigger in ("watch", "break"):
            rc, out, err = run_tool("kvmdci-exits", ["--trigger", trigger, "--duration", "2"],
                                    env, timeout=120)
            check(f"exits/{trigger} normal end: exit 0", rc == 0, err.strip()[-200:])
            after(t, f"exits/{trigger} normal end", gdb_sock)
            for sig in (signal.SIGINT, signal.SIGTERM):
                tool = Tool("kvmdci-exits", ["--trigger", trigger, "--json"], env)
                tool.wait_line("tracing", 120)
                time.sleep(1)
                t0 = time.monotonic()
                rc, out, err = tool.stop(sig)
                took = time.monotonic() - t0
                name = signal.Signals(sig).name
                check(f"exits/{trigger} {name}: exit 0 within 5 s with its results",
                      rc == 0 and took < 5 and json.loads(out).get("interrupted") is True,
                      f"rc={rc} in {took:.1f} s")
                after(t, f"exits/{trigger} {name}", gdb_sock)

        # SIGPIPE: a reader that goes away
        t0 = time.monotonic()
        p = subprocess.run(f"{os.environ['KVMDCI_TOOLS']}/kvmdci-trace --bp kvm_io_bus_write "
                           "| head -3", shell=True, env=env, capture_output=True, text=True,
                           timeout=120)
        took = time.monotonic() - t0
        check("trace | head -3: ends by itself after its reader went away",
              len(p.stdout.splitlines()) == 3 and took < 60, f"{took:.1f} s")
        after(t, "trace | head", gdb_sock)

        # the stub goes away mid-trace
        proxy_path = os.path.join(t.dir, "proxy.sock")
        proxy = Proxy(gdb_sock, proxy_path)
        penv = dict(env, KVMDCI_TARGET="gdb+unix://" + proxy_path)
        tool = Tool("kvmdci-exits", ["--trigger", "watch", "--json"], penv)
        tool.wait_line("tracing", 120)
        time.sleep(1)
        proxy.kill()
        t0 = time.monotonic()
        try:
            tool.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        took = time.monotonic() - t0
        rc, out, err = tool.stop(signal.SIGKILL)
        doc = json.loads(out) if out.strip() else {}
        check("stub gone mid-trace: exit 1 within 5 s, one line saying so, partial results",
              rc == 1 and took < 5 and "lost" in err and doc.get("total", 0) > 0 and
              "error" in doc, f"rc={rc} in {took:.1f} s: {err.strip()[-200:]}")
        # QEMU keeps a vanished client's breakpoints and the machine paused: the next tool's
        # attach ('?') clears them and its detach resumes the machine
        rc, out, err = run_tool("kvmdci-exits", ["--duration", "1"], env, timeout=120)
        check("after a lost client the next run recovers the target", rc == 0,
              err.strip()[-200:])
        after(t, "recovered", gdb_sock)
    finish()


if __name__ == "__main__":
    main()
