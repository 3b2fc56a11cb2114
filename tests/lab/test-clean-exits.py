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

from e2e import TestLab, Tool, check, check_target_clean, exits_grow, finish, run_tool


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


def main():
    with TestLab() as t:
        env = t.tool_env
        gdb_sock = env["KVMDCI_TARGET"][len("gdb+unix://"):]
        t.lab.run_bg("workload --vcpus 1 --seconds 0 --quiet")
        exits_grow(t)  # the workload is in KVM_RUN

        for trigger in ("watch", "break"):
            rc, out, err = run_tool("kvmdci-exits", ["--trigger", trigger, "--duration", "2"],
                                    env, timeout=120)
            check(f"exits/{trigger} normal end: exit 0", rc == 0, err.strip()[-200:])
            check_target_clean(t, f"exits/{trigger} normal end", gdb_sock)
            for sig in (signal.SIGINT, signal.SIGTERM):
                tool = Tool("kvmdci-exits", ["--trigger", trigger, "--json"], env)
                tool.wait_line("tracing", 120)
                time.sleep(1)
                t0 = time.monotonic()
                rc, out, err = tool.stop(sig)
                # 5 s: the way out is a stop, the coverage reads and a few RSP commands to
                # remove the trigger and resume (well under a second on an idle machine); a
                # tool that waited on its 5 s reply timeout, or hung, takes longer
                took = time.monotonic() - t0
                name = signal.Signals(sig).name
                check(f"exits/{trigger} {name}: exit 0 within 5 s with its results",
                      rc == 0 and took < 5 and json.loads(out).get("interrupted") is True,
                      f"rc={rc} in {took:.1f} s")
                check_target_clean(t, f"exits/{trigger} {name}", gdb_sock)

        # SIGPIPE: a reader that goes away
        t0 = time.monotonic()
        p = subprocess.run(f"{os.environ['KVMDCI_TOOLS']}/kvmdci-trace --bp kvm_io_bus_write "
                           "| head -3", shell=True, env=env, capture_output=True, text=True,
                           timeout=120)
        took = time.monotonic() - t0
        check("trace | head -3: ends by itself after its reader went away",
              len(p.stdout.splitlines()) == 3 and took < 60, f"{took:.1f} s")
        check_target_clean(t, "trace | head", gdb_sock)

        # the stub goes away mid-trace
        proxy_path = os.path.join(t.dir, "proxy.sock")
        proxy = Proxy(gdb_sock, proxy_path)
        penv = dict(env, KVMDCI_TARGET="gdb+unix://" + proxy_path)
        tool = Tool("kvmdci-exits", ["--trigger", "watch", "--json"], penv)
        tool.wait_line("tracing", 120)
        time.sleep(1)
        proxy.kill()
        # 5 s: a closed connection is seen at the next read (the tool polls in 200 ms slices),
        # not at a reply timeout
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
        check_target_clean(t, "recovered", gdb_sock)

        # lost output: every tool that succeeds on the lab fails (exit 1, "write error") when
        # its stdout is full, and the ones with breakpoints still leave none behind
        tools = os.environ["KVMDCI_TOOLS"]
        for name, args in (("kvmdci-kernel", []), ("kvmdci-cpus", []), ("kvmdci-vcpu", []),
                           ("kvmdci-iobus", []), ("kvmdci-stack", []),
                           ("kvmdci-catalog", ["check"]),
                           ("kvmdci-exits", ["--duration", "1"]),
                           ("kvmdci-trace", ["--bp", "svm_handle_exit", "--count", "2"])):
            for mode in ([], ["--json"]):
                label = " ".join([name] + args + mode)
                ok = subprocess.run([f"{tools}/{name}"] + args + mode, env=env,
                                    capture_output=True, text=True, timeout=180)
                with open("/dev/full", "w") as full:
                    p = subprocess.run([f"{tools}/{name}"] + args + mode, env=env, stdout=full,
                                       stderr=subprocess.PIPE, text=True, timeout=180)
                # catalog check exits 1 when an applicable entry does not resolve (some do
                # not on the lab's kernel): its output is the point here
                ran = ok.returncode == 0 or (name == "kvmdci-catalog" and ok.returncode == 1)
                check(f"{label} >/dev/full: exit 1 saying 'write error' (exit {ok.returncode} "
                      f"with {len(ok.stdout)} bytes to a pipe)",
                      ran and ok.stdout and p.returncode == 1 and
                      "write error on standard output" in p.stderr,
                      f"rc={p.returncode} {p.stderr.strip()[-200:]!r}")
            if name in ("kvmdci-exits", "kvmdci-trace"):
                check_target_clean(t, f"{name} >/dev/full", gdb_sock)
    finish()


if __name__ == "__main__":
    main()
