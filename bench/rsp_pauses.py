#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/rsp_pauses.py - the control of bench/exits-sample.sh: the stops of kvmdci-exits
--sample D/P without a trigger. Connects to a gdbstub (gdb+unix://PATH or gdb://HOST:PORT),
then every P ms stops the machine twice (where the tool puts the trigger in and takes it out,
D of P apart), each stop answered by a continue at once: nothing read, nothing inserted.
Runs until SIGINT/SIGTERM, leaves the machine running, prints the stops made on stderr.

Usage: rsp_pauses.py URI D/P      (D: 2% or 0.02; P: 500ms)
"""
import signal
import socket
import sys
import time

stop = False


def on_signal(*_):
    global stop
    stop = True


def connect(uri):
    if uri.startswith("gdb+unix://"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(uri[len("gdb+unix://"):])
    elif uri.startswith("gdb://"):
        host, port = uri[len("gdb://"):].rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    else:
        raise SystemExit(f"rsp_pauses.py: {uri}: not a gdb:// or gdb+unix:// URI")
    s.settimeout(10)
    return s


class Rsp:
    def __init__(self, sock):
        self.s, self.buf = sock, b""

    def send(self, body):
        pkt = b"$" + body + b"#%02x" % (sum(body) & 0xFF)
        self.s.sendall(pkt)

    def reply(self):
        """The next packet's body (acknowledged); '+' acks skipped."""
        while True:
            i = self.buf.find(b"$")
            j = self.buf.find(b"#", i) if i >= 0 else -1
            if i >= 0 and j >= 0 and len(self.buf) >= j + 3:
                body, self.buf = self.buf[i + 1:j], self.buf[j + 3:]
                self.s.sendall(b"+")
                return body
            data = self.s.recv(4096)
            if not data:
                raise SystemExit("rsp_pauses.py: the stub closed the connection")
            self.buf += data


def main():
    if len(sys.argv) != 3 or "/" not in sys.argv[2]:
        raise SystemExit(__doc__)
    duty_s, period_s = sys.argv[2].split("/", 1)
    duty = float(duty_s[:-1]) / 100 if duty_s.endswith("%") else float(duty_s)
    period = float(period_s[:-2]) / 1000 if period_s.endswith("ms") else float(period_s)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    r = Rsp(connect(sys.argv[1]))
    r.send(b"?")  # QEMU stops the machine when a client connects: its stop reply
    r.reply()
    r.send(b"c")
    stops, t0 = 0, time.monotonic()
    while not stop:
        for wait in (0.0, duty * period):
            if wait:
                time.sleep(wait)
            r.s.sendall(b"\x03")
            r.reply()  # the stop reply
            r.send(b"c")
            stops += 1
        rest = period - (time.monotonic() - t0) % period
        time.sleep(rest)
    r.s.close()  # the machine runs (QEMU would keep one stopped paused after its client)
    print(f"rsp_pauses.py: {stops} stops", file=sys.stderr)


if __name__ == "__main__":
    main()
