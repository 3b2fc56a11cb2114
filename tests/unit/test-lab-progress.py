#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""kvmdci-lab's download of the kernel packages and its progress line.

    test-lab-progress.py PATH-OF-KVMDCI-LAB

download_files() of the script, in a child process, fetches a file of random bytes from a real
HTTP server on 127.0.0.1 (python's http.server, sending it in slices with pauses so that the
transfer lasts about 1.5 s). What it must do comes from the file itself: its size, its SHA-256
(hashlib). With stderr on a pseudo-terminal the progress line is redrawn in place and its last
state is the file's exact size (in MB, as the line shows it) at 100%; with stderr a pipe there
is nothing at all; KVMDCI_PROGRESS=1/0 forces it on a pipe / off a terminal. A size or hash
that differs from the file's, and a missing file, are one-line errors that leave no file.
"""
import hashlib
import http.server
import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

fails = 0
SIZE = 6_543_210           # not a round number: its MB form (6.5) comes from the real size
SLICE = 512 * 1024
PAUSE = 0.12


def check(what, ok, detail=""):
    global fails
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        fails += 1


class Slow(http.server.SimpleHTTPRequestHandler):
    """Serves the directory's files in SLICE pieces with PAUSE between them (at once when the
    URL has a query ?fast)."""

    def copyfile(self, source, outputfile):
        slow = "?fast" not in self.path
        while True:
            b = source.read(SLICE)
            if not b:
                break
            outputfile.write(b)
            outputfile.flush()
            if slow:
                time.sleep(PAUSE)

    def log_message(self, *a):
        pass


CHILD = r"""
import importlib.machinery, importlib.util, json, sys
loader = importlib.machinery.SourceFileLoader("kvmdci_lab", sys.argv[1])
spec = importlib.util.spec_from_loader("kvmdci_lab", loader)
lab = importlib.util.module_from_spec(spec)
loader.exec_module(lab)
try:
    n = lab.download_files(json.loads(sys.argv[2]), sys.argv[3])
    print(n)
except lab.LabError as e:
    print("LabError: " + str(e))
"""


def download(script, files, dest, on_pty, env_progress=None):
    """Run download_files(files, dest) in a child; stderr on a pty or a pipe.
    Returns (stdout, stderr bytes, seconds)."""
    import json
    env = dict(os.environ, no_proxy="*", http_proxy="")
    env.pop("KVMDCI_PROGRESS", None)
    if env_progress is not None:
        env["KVMDCI_PROGRESS"] = env_progress
    argv = [sys.executable, "-c", CHILD, script, json.dumps(files), dest]
    t0 = time.monotonic()
    if not on_pty:
        r = subprocess.run(argv, capture_output=True, env=env, timeout=120)
        return r.stdout.decode(), r.stderr, time.monotonic() - t0
    master, slave = os.openpty()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    err = b""
    while True:
        try:
            d = os.read(master, 65536)
        except OSError:         # EIO: the child closed its side
            break
        if not d:
            break
        err += d
    out = p.communicate(timeout=120)[0].decode()
    os.close(master)
    return out, err, time.monotonic() - t0


FRAME = re.compile(r"kvmdci-lab: downloading (\S+): ([\d.]+) of ([\d.]+) MB \((\d+)%\), "
                   r"([\d.]+) MB/s(?:, (\d+:\d\d) left)?$")


def frames(err):
    """The states the progress line went through: each redraw is CR, the text, erase-to-EOL."""
    text = err.decode(errors="replace")
    return [f[:-len("\x1b[K")] for f in text.split("\r") if f.endswith("\x1b[K") and
            len(f) > len("\x1b[K")]


PANIC_CONSOLE = """[    0.002041] [Firmware Bug]: TSC_DEADLINE disabled due to Errata
[    0.031993] BUG: kernel NULL pointer dereference, address: 0000000000000010
[    0.032010] #PF: supervisor read access in kernel mode
[    0.034634] RIP: 0010:fpstate_reset+0x1a/0x90
[    0.035936] Call Trace:
[    0.035936]  fpu__init_system_xstate+0xbb5/0xbf0
[    0.035936] RIP: 0010:fpstate_reset+0x1a/0x90
[    0.035936] Kernel panic - not syncing: Attempted to kill the idle task!
"""


def main():
    script = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="kvmdci-progress-") as tmp:
        serve = os.path.join(tmp, "serve")
        dest = os.path.join(tmp, "dest")
        os.mkdir(serve)
        os.mkdir(dest)
        data = os.urandom(SIZE)
        name = "linux-image-test-dbg_1.0_amd64.deb"
        with open(os.path.join(serve, name), "wb") as f:
            f.write(data)
        sha = hashlib.sha256(data).hexdigest()

        def handler(*a, **kw):
            return Slow(*a, directory=serve, **kw)
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{srv.server_address[1]}/{name}"
        files = [[url, name, SIZE, "SHA256:" + sha]]
        mb = f"{SIZE / 1e6:.1f}"

        # stderr on a terminal
        out, err, secs = download(script, files, dest, on_pty=True)
        got = os.path.join(dest, name)
        ok = os.path.isfile(got) and open(got, "rb").read() == data
        check("on a pty: the file arrives whole, its byte count returned",
              ok and out.strip() == str(SIZE), f"{out.strip()!r}")
        fr = frames(err)
        parsed = [FRAME.match(f) for f in fr]
        check("on a pty: every redraw is a download progress line", fr and all(parsed),
              f"{[f for f, m in zip(fr, parsed) if not m][:3]} of {len(fr)}")
        parsed = [m for m in parsed if m]
        check("on a pty: several states while it downloads (5 a second at most)",
              3 <= len(parsed) <= secs * 5 + 2, f"{len(parsed)} in {secs:.1f} s")
        check("each state names the package and the file's total size",
              parsed and all(m.group(1) == "linux-image-test-dbg" and m.group(3) == mb
                             for m in parsed), f"{[m.group(1, 3) for m in parsed][:3]} vs {mb}")
        done = [float(m.group(2)) for m in parsed]
        pct = [int(m.group(4)) for m in parsed]
        check("bytes and percent only grow, never past the total",
              done == sorted(done) and pct == sorted(pct) and max(done, default=0) <= float(mb),
              f"{done} {pct}")
        last = parsed[-1] if parsed else None
        check(f"the last state is the whole file: {mb} of {mb} MB (100%), no time left",
              last and last.group(2) == mb and last.group(4) == "100" and not last.group(6),
              fr[-1:] if fr else "no progress at all")
        check("the states before it are partial, with a time left",
              len(parsed) > 1 and all(int(m.group(4)) < 100 and m.group(6)
                                      for m in parsed[:-1]), fr[:3])
        if last:
            rate = float(last.group(5))
            check(f"the rate of the last state is the size over the time taken "
                  f"({rate} MB/s, {SIZE / 1e6 / rate:.2f} s of {secs:.2f} s)",
                  0 < SIZE / 1e6 / rate <= secs, f"{rate}")
            print(f"     {SIZE} bytes in {secs:.2f} s, the line said {rate} MB/s", flush=True)
        check("on a pty: the line is erased at the end (nothing left after it)",
              err.endswith(b"\r\x1b[K"), repr(err[-30:]))
        os.unlink(got)

        # stderr a pipe: nothing at all
        files = [[url + "?fast", name, SIZE, "SHA256:" + sha]]
        out, err, _ = download(script, files, dest, on_pty=False)
        check("stderr a pipe: the file arrives, stderr stays empty",
              out.strip() == str(SIZE) and err == b"" and open(got, "rb").read() == data,
              f"{out!r} {err[:200]!r}")
        os.unlink(got)
        out, err, _ = download(script, files, dest, on_pty=False, env_progress="1")
        fr = frames(err)
        check("KVMDCI_PROGRESS=1 on a pipe: the progress line anyway, ending at 100%",
              out.strip() == str(SIZE) and fr and FRAME.match(fr[-1]) and
              FRAME.match(fr[-1]).group(2, 4) == (mb, "100"), f"{fr[-1:]}")
        os.unlink(got)
        out, err, _ = download(script, files, dest, on_pty=True, env_progress="0")
        check("KVMDCI_PROGRESS=0 on a pty: nothing", out.strip() == str(SIZE) and err == b"",
              repr(err[:200]))
        os.unlink(got)

        # what the lists say and what came differ: one line, no file left behind
        url += "?fast"
        cases = (("a size one byte short", [[url, name, SIZE - 1, "SHA256:" + sha]],
                  f"more than {SIZE - 1} bytes, but the package lists say {SIZE - 1}"),
                 ("a size one byte long", [[url, name, SIZE + 1, "SHA256:" + sha]],
                  f"{SIZE} bytes, but the package lists say {SIZE + 1}"),
                 ("another hash", [[url, name, SIZE, "SHA256:" + sha[::-1]]],
                  "its SHA256 is not the one the package lists give"),
                 ("a file the server does not have", [[url[:-5] + ".gone", name, SIZE, None]],
                  "HTTP Error 404"))
        for what, fs, want in cases:
            out, err, _ = download(script, fs, dest, on_pty=False)
            check(f"{what}: one line naming the URL and what differs, no file left",
                  out.startswith("LabError: downloading " + fs[0][0]) and want in out and
                  len(out.strip().splitlines()) == 1 and err == b"" and not os.listdir(dest),
                  f"{out.strip()!r} {os.listdir(dest)}")
        srv.shutdown()

    # a guest kernel that panics during boot ends `start` at once with what the oops said (the
    # boot waited out its 900 s before); the console of Debian's 7.2 under Bochs 2.7
    loader = importlib.machinery.SourceFileLoader("kvmdci_lab", script)
    lab = importlib.util.module_from_spec(importlib.util.spec_from_loader("kvmdci_lab", loader))
    loader.exec_module(lab)
    console = PANIC_CONSOLE.replace("\n", "\r\n")
    check("a panic in the console: its BUG line, RIP and panic line",
          lab.guest_panic(console) == "[    0.031993] BUG: kernel NULL pointer dereference, "
          "address: 0000000000000010 | [    0.034634] RIP: 0010:fpstate_reset+0x1a/0x90 | "
          "[    0.035936] Kernel panic - not syncing: Attempted to kill the idle task!",
          repr(lab.guest_panic(console)))
    check("a console without a panic: none",
          lab.guest_panic(console.split("[    0.035936] Kernel panic")[0]) is None)
    print(f"{fails} failure(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
