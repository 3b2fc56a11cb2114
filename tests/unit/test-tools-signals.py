#!/usr/bin/env python3
"""SIGINT and SIGTERM end every tool promptly (< 1 s) wherever it waits, without a lab:
- a silent stub (a unix socket that accepts and never answers): each tool that attaches is
  waiting for the stub's reply when the signal comes; it must exit 1 within a second, saying
  it was interrupted (it waited 5 s per pending command before);
- a FIFO given as --vmlinux or --system-map: refused at once (open() blocked on it, again
  after each signal);
- the library itself refuses a FIFO as vmlinux (the unit test 'unit' checks ktypes).
Usage: test-tools-signals.py SRCDIR TOOLSDIR"""
import glob
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

src, tools = sys.argv[1:3]
LIMIT_S = 1.0
bad = checked = 0
# the tools that attach to a target, and what makes them do it
C_TOOLS = sorted(os.path.basename(p)[:-2] for p in glob.glob(f"{src}/tools/kvmdci-*.c"))
ATTACH_ARGS = {"kvmdci-catalog": ["check"], "kvmdci-trace": ["--bp", "kvm_io_bus_write"],
               "kvmdci-exits": ["--duration", "5"]}
NO_TARGET = {"kvmdci-dci"}


def check(ok, what, detail=""):
    global bad, checked
    checked += 1
    if not ok:
        bad += 1
        print(f"FAIL {what}\n  {detail}")
    else:
        print(f"ok   {what}")


class SilentStub:
    """Accepts connections, reads what comes, never writes a byte."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.accepted = threading.Event()
        self.conns = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            self.accepted.set()
            threading.Thread(target=self.drain, args=(c,), daemon=True).start()

    def drain(self, c):
        try:
            while c.recv(4096):
                pass
        except OSError:
            pass


with tempfile.TemporaryDirectory(prefix="kvmdci-signals-") as d:
    sock = f"{d}/silent.sock"
    stub = SilentStub(sock)
    env = dict(os.environ)
    for v in ("KVMDCI_TARGET", "KVMDCI_VMLINUX", "KVMDCI_SYSTEM_MAP", "KVMDCI_MODULES"):
        env.pop(v, None)
    for tool in C_TOOLS:
        if tool in NO_TARGET:
            continue
        for sig in (signal.SIGINT, signal.SIGTERM):
            stub.accepted.clear()
            p = subprocess.Popen([f"{tools}/{tool}", "-t", f"gdb+unix://{sock}"] +
                                 ATTACH_ARGS.get(tool, []), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)
            if not stub.accepted.wait(20):
                p.kill()
                check(False, f"{tool}: connects to the stub")
                continue
            time.sleep(0.3)  # it now waits for the reply to its first packet
            t0 = time.monotonic()
            p.send_signal(sig)
            try:
                out, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            took = time.monotonic() - t0
            check(took < LIMIT_S and p.returncode == 1 and "interrupted" in err,
                  f"{tool}: {sig.name} while waiting for a silent stub: exit 1 in "
                  f"{took:.2f} s (< {LIMIT_S} s)",
                  f"rc={p.returncode} stderr={err[-400:]!r}")

    fifo = f"{d}/fifo"
    os.mkfifo(fifo)
    for opt in ("--vmlinux", "--system-map"):
        t0 = time.monotonic()
        p = subprocess.Popen([f"{tools}/kvmdci-kernel", "-t", f"gdb+unix://{sock}", opt, fifo],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            out, err = p.communicate(timeout=3)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGINT)
            try:
                out, err = p.communicate(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
        took = time.monotonic() - t0
        check(took < LIMIT_S and p.returncode == 1 and "FIFO" in err and fifo in err,
              f"kvmdci-kernel {opt} FIFO: refused at once ({took:.2f} s), naming it",
              f"rc={p.returncode} stderr={err[-400:]!r}")

print(f"{checked - bad}/{checked} checks passed")
sys.exit(1 if bad else 0)
