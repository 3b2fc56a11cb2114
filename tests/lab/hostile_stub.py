#!/usr/bin/env python3
"""A GDB remote-protocol stub of our own that serves a real lab dump, faithfully or bent one
way at a time: the untrusted peer the RSP client (lib/target/rsp*.c) must survive.

Faithful behaviour follows QEMU 7.2's gdbstub as docs/transports.md describes it: one thread
per CPU (p01.NN), a target description with QEMU's register numbers, `p`/`P`, `m` through the
selected CPU's page tables (CR3, 4-level paging; 5-level when CR4.LA57), `Qqemu.PhyMemMode` for
physical reads. Registers come from the dump's QEMU notes (QEMUCPUState: general registers,
segments, control registers; layout as lib/target/dump-notes.c reads it), memory from its
PT_LOAD segments. A dump has no EFER: it is served as LME|LMA|SCE|NXE when CR0.PG and CR4.PAE
are set (the lab's CPUs all run a 64-bit kernel), else 0.

    hostile_stub.py DUMP SOCKET [MODE]      (MODE: see MODES; default "faithful")

The stub serves each connection in a thread of its own until killed. It is also imported by
test-stub.py.
"""
import mmap
import os
import socket
import struct
import sys
import threading
import time

import elfcore

# name, regnum, bitsize (QEMU's gdb-xml/i386-64bit.xml numbering; docs/transports.md)
REGS = ([(n, i, 64) for i, n in enumerate(
    "rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip".split())] +
    [("eflags", 17, 32)] + [(n, 18 + i, 32) for i, n in enumerate("cs ss ds es fs gs".split())] +
    [("fs_base", 24, 64), ("gs_base", 25, 64), ("k_gs_base", 26, 64), ("cr0", 27, 64),
     ("cr2", 28, 64), ("cr3", 29, 64), ("cr4", 30, 64), ("cr8", 31, 64), ("efer", 32, 64)])

MODES = {
    "faithful": "serve the dump as QEMU's gdbstub would",
    "rle": "every reply run-length encoded wherever a run allows it",
    "escape": "every reply byte that may be escaped is escaped",
    "console": "an O (console output) packet before every reply, also before qSupported's",
    "stray-stop": "an unrequested stop reply (T05) after the 12th reply",
    "stray-ok": "an extra OK after the 12th reply",
    "early-ok": "an OK before the reply to qSupported",
    "bitsize-neg": "target.xml: rip has bitsize -8",
    "bitsize-huge": "target.xml: rip has bitsize 100000",
    "bitsize-odd": "target.xml: rip has bitsize 12",
    "regnum-huge": "target.xml: a register numbered 2000000000",
    "regnum-max": "target.xml: a register numbered 2147483647",
    "xml-endless": "qXfer target.xml never ends (m chunks forever)",
    "xml-fanout": "target.xml includes itself-like files 16 wide, 5 deep",
    "threads-endless": "qsThreadInfo answers m... forever",
    "short-p": "register replies (p) one byte long",
    "long-p": "register replies (p) 16 bytes long",
    "mem-e01": "every memory read answers E01",
    "mem-malformed": "every memory read answers non-hex",
    "mem-zero": "every memory read answers zeros",
    "mem-short": "memory replies half as long as asked",
    "close-at-once": "accept and close",
    "silent": "accept and never answer",
    "slow": "answer qSupported after 4 s",
    "close-mid": "close the connection after 200 packets (while the kernel is looked at)",
    "close-late": "close the connection after $HOSTILE_STUB_CLOSE_AFTER packets (default 650: "
                  "in the walk, after the kernel was found)",
    "bad-checksum": "every reply with a wrong checksum",
    "noack-misuse": "offer and accept QStartNoAckMode, then keep sending + acks and "
                    "bad checksums",
    "huge-packet": "a 2 MiB reply to the 12th command",
    "nul-bytes": "NUL bytes inside replies to memory reads",
    "delay": "the 30th reply after 7 s (past the client's command timeout)",
    "garbage": "random noise between packets",
}


# $HOSTILE_STUB_RECORD: append what the stub sends to that file, as fuzzer seed chunks
RECORD = open(os.environ["HOSTILE_STUB_RECORD"], "ab") if os.environ.get(
    "HOSTILE_STUB_RECORD") else None


CLOSE_AFTER = int(os.environ.get("HOSTILE_STUB_CLOSE_AFTER", "650"))


def checksum(b):
    return b"%02x" % (sum(b) & 0xFF)


class Dump:
    def __init__(self, path):
        self.fd = open(path, "rb")
        self.mm = mmap.mmap(self.fd.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            self.segs, notes = elfcore.parse(lambda off, n: self.mm[off:off + n])
        except ValueError:
            raise SystemExit(f"{path}: not an ELF core")
        self.cpus = [self.qemu_regs(d) for name, d in notes if name == b"QEMU" and len(d) >= 432]
        if not self.cpus:
            raise SystemExit(f"{path}: no QEMU CPU notes")

    @staticmethod
    def qemu_regs(n):
        q = lambda o: struct.unpack_from("<Q", n, o)[0]
        r = {}
        for i, name in enumerate("rax rbx rcx rdx rsi rdi rsp rbp r8 r9 r10 r11 r12 r13 r14 "
                                 "r15 rip eflags".split()):
            r[name] = q(8 + 8 * i)
        for i, name in enumerate("cs ds es fs gs ss".split()):
            r[name] = struct.unpack_from("<I", n, 152 + 24 * i)[0]
        r["fs_base"] = q(152 + 24 * 3 + 16)
        r["gs_base"] = q(152 + 24 * 4 + 16)
        r["cr0"], r["cr2"], r["cr3"], r["cr4"] = q(392), q(408), q(416), q(424)
        r["k_gs_base"] = q(432) if len(n) >= 440 else 0
        r["cr8"] = 0
        r["efer"] = 0xD01 if (r["cr0"] >> 31) & 1 and (r["cr4"] >> 5) & 1 else 0
        return r

    def phys(self, pa, n):
        out = bytearray()
        while n > 0:
            for base, size, off in self.segs:
                if base <= pa < base + size:
                    k = min(n, base + size - pa)
                    out += self.mm[off + pa - base:off + pa - base + k]
                    pa += k
                    n -= k
                    break
            else:
                return None
        return bytes(out)

    def translate(self, cpu, va):
        regs = self.cpus[cpu]
        if not (regs["cr0"] >> 31) & 1:
            return va
        la57 = (regs["cr4"] >> 12) & 1
        table = regs["cr3"] & 0x000FFFFFFFFFF000
        levels = [48, 39, 30, 21, 12] if la57 else [39, 30, 21, 12]
        for lvl, shift in enumerate(levels):
            e = self.phys(table + ((va >> shift) & 511) * 8, 8)
            if e is None:
                return None
            e, = struct.unpack("<Q", e)
            if not e & 1:
                return None
            if shift in (30, 21) and e & 0x80:
                mask = (1 << shift) - 1
                return (e & 0x000FFFFFFFFFF000 & ~mask) | (va & mask)
            table = e & 0x000FFFFFFFFFF000
        return table | (va & 0xFFF)

    def virt(self, cpu, va, n):
        out = bytearray()
        while n > 0:
            pa = self.translate(cpu, va)
            k = min(n, 0x1000 - (va & 0xFFF))
            b = self.phys(pa, k) if pa is not None else None
            if b is None:
                return bytes(out) if out else None
            out += b
            va += k
            n -= k
        return bytes(out)


def reg_bytes(name, bits, val):
    return (val & ((1 << bits) - 1)).to_bytes(bits // 8, "little")


class Session:
    """One client connection."""

    def __init__(self, dump, conn, mode):
        self.d, self.c, self.mode = dump, conn, mode
        self.buf = b""
        self.noack = False
        self.cpu = 0
        self.phys = False
        self.replies = 0
        self.packets = 0
        self.writes = {}
        self.xml_rounds = 0
        self.thread_rounds = 0

    # ---- framing ----
    def encode(self, body):
        if self.mode == "escape":
            out = bytearray()
            for c in body:
                if c in b"#$}*" or c in b"abcdef0123456789":
                    out += bytes([0x7D, c ^ 0x20])
                else:
                    out.append(c)
            return bytes(out)
        out = bytearray()
        for c in body:
            if c in b"#$}*":
                out += bytes([0x7D, c ^ 0x20])
            else:
                out.append(c)
        if self.mode != "rle":
            return bytes(out)
        rle = bytearray()
        i = 0
        while i < len(out):
            j = i
            while j < len(out) and out[j] == out[i] and j - i < 98:
                j += 1
            run = j - i
            # a count char must be printable and not '#' (35 -> 6) or '$' (36 -> 7)
            if run > 3 and out[i] != 0x7D and run - 1 not in (6, 7):
                rle += bytes([out[i], ord("*"), run - 1 + 29])
                i = j
            else:
                rle.append(out[i])
                i += 1
        return bytes(rle)

    def send_raw(self, b):
        self.c.sendall(b)
        if RECORD:
            # the fuzzer's seed format (fuzz/fuzz-rsp-session.c): 2-byte length, bytes
            for i in range(0, len(b), 65535):
                part = b[i:i + 65535]
                RECORD.write(struct.pack("<H", len(part)) + part)
            RECORD.flush()

    def send(self, body):
        if isinstance(body, str):
            body = body.encode()
        self.replies += 1
        m = self.mode
        if m == "console":
            self.frame(b"O" + b"hello from the stub\n".hex().encode())
        if m == "garbage":
            self.send_raw(b"\x00junk\xff+-")
        if m == "delay" and self.replies == 30:
            time.sleep(7)
        if m == "huge-packet" and self.replies == 12:
            body = b"0" * (2 << 20)
        self.frame(body)
        if m == "stray-stop" and self.replies == 12:
            self.frame(b"T05thread:p01.01;")
        if m == "stray-ok" and self.replies == 12:
            self.frame(b"OK")

    def frame(self, body):
        e = self.encode(body)
        cs = checksum(e)
        if self.mode == "bad-checksum" or (self.mode == "noack-misuse" and self.noack):
            cs = b"%02x" % ((int(cs, 16) + 1) & 0xFF)
        self.send_raw(b"$" + e + b"#" + cs)

    def packets_in(self):
        """Yield each command the client sends; acks are sent unless in no-ack mode."""
        while True:
            while True:
                self.buf = self.buf.lstrip(b"+-")
                if self.buf[:1] == b"\x03":
                    self.buf = self.buf[1:]
                    yield "\x03"
                    continue
                i = self.buf.find(b"$")
                j = self.buf.find(b"#", i + 1) if i >= 0 else -1
                if i < 0 or j < 0 or len(self.buf) < j + 3:
                    break
                raw = self.buf[i + 1:j]
                self.buf = self.buf[j + 3:]
                if not self.noack or self.mode == "noack-misuse":
                    self.send_raw(b"+")
                body = bytearray()
                k = 0
                while k < len(raw):
                    if raw[k] == 0x7D and k + 1 < len(raw):
                        body.append(raw[k + 1] ^ 0x20)
                        k += 2
                    else:
                        body.append(raw[k])
                        k += 1
                yield body.decode("latin-1")
            d = self.c.recv(65536)
            if not d:
                return
            self.buf += d

    # ---- the stub ----
    def target_xml(self, annex):
        m = self.mode
        if m == "xml-fanout":
            m_depth = annex.count("x")
            if annex == "target.xml" or m_depth < 5:
                base = "x" * (m_depth + 1) if annex != "target.xml" else "x"
                inc = "".join(f'<xi:include href="{base}{i}.xml"/>' for i in range(16))
                return f'<?xml version="1.0"?><target>{inc}</target>'
            return '<feature name="x"><reg name="zz" bitsize="64"/></feature>'
        if annex == "target.xml":
            return ('<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">'
                    '<target><architecture>i386:x86-64</architecture>'
                    '<xi:include href="core.xml"/></target>')
        if annex != "core.xml":
            return None
        regs = []
        for name, num, bits in REGS:
            if name == "rip" and m.startswith("bitsize-"):
                bits = {"bitsize-neg": -8, "bitsize-huge": 100000, "bitsize-odd": 12}[m]
            regs.append(f'<reg name="{name}" bitsize="{bits}" regnum="{num}"/>')
        if m == "regnum-huge":
            regs.append('<reg name="wild" bitsize="64" regnum="2000000000"/>')
        if m == "regnum-max":
            regs.append('<reg name="wild" bitsize="64" regnum="2147483647"/>')
            regs.append('<reg name="wild2" bitsize="64"/>')
        return ('<?xml version="1.0"?><feature name="org.gnu.gdb.i386.core">' +
                "<!-- <reg name=\"cs_base\" bitsize=\"64\"/> -->" + "".join(regs) +
                "</feature>")

    def reg_val(self, name):
        return self.writes.get((self.cpu, name), self.d.cpus[self.cpu].get(name, 0))

    def handle(self, p):
        m = self.mode
        if p.startswith("qSupported"):
            if m == "slow":
                time.sleep(4)
            if m == "early-ok":
                self.frame(b"OK")
            extra = ";QStartNoAckMode+" if m == "noack-misuse" else ""
            return "PacketSize=1000;qXfer:features:read+;vContSupported+;multiprocess+" + extra
        if p == "QStartNoAckMode":
            self.send("OK")
            self.noack = True
            return None
        if p == "?":
            return "T05thread:p01.01;"
        if p == "qqemu.Supported":
            return "sstepbits;sstep;PhyMemMode"
        if p.startswith("Qqemu.PhyMemMode:"):
            self.phys = p.endswith("1")
            return "OK"
        if p == "qfThreadInfo":
            self.thread_rounds = 0
            return "m" + ",".join("p01.%02x" % (i + 1) for i in range(len(self.d.cpus)))
        if p == "qsThreadInfo":
            if m == "threads-endless":
                self.thread_rounds += 1
                return "mp01.%x" % (0x100 + self.thread_rounds)
            return "l"
        if p.startswith("qXfer:features:read:"):
            annex, rng = p[len("qXfer:features:read:"):].rsplit(":", 1)
            off, ln = (int(x, 16) for x in rng.split(","))
            if m == "xml-endless":
                return "m" + "<!-- more -->" * max(1, ln // 13)
            xml = self.target_xml(annex)
            if xml is None:
                return "E00"
            chunk = xml[off:off + ln]
            return ("l" if off + ln >= len(xml) else "m") + chunk
        if p.startswith("Hg") or p.startswith("Hc"):
            tid = p[2:]
            if p.startswith("Hg") and tid not in ("0", "-1", "p0.0", "p-1.-1"):
                try:
                    self.cpu = int(tid.split(".")[-1], 16) - 1
                except ValueError:
                    return "E22"
                if not 0 <= self.cpu < len(self.d.cpus):
                    self.cpu = 0
                    return "E22"
            return "OK"
        if p.startswith("p"):
            num = int(p[1:], 16)
            for name, n, bits in REGS:
                if n == num:
                    if m == "short-p":
                        return "12"
                    v = reg_bytes(name, bits, self.reg_val(name)).hex()
                    return v + "00" * 8 if m == "long-p" else v
            return "E45"
        if p.startswith("P"):
            num, val = p[1:].split("=")
            for name, n, bits in REGS:
                if n == int(num, 16):
                    self.writes[(self.cpu, name)] = int.from_bytes(bytes.fromhex(val), "little")
                    return "OK"
            return "E45"
        if p.startswith("m"):
            addr, ln = (int(x, 16) for x in p[1:].split(","))
            ln = min(ln, 2048)
            if m == "mem-e01":
                return "E01"
            if m == "mem-malformed":
                return "zz" * ln
            if m == "mem-zero":
                return "00" * ln
            data = self.d.phys(addr, ln) if self.phys else self.d.virt(self.cpu, addr, ln)
            if data is None:
                return "E14"
            if m == "mem-short":
                data = data[:max(1, len(data) // 2)]
            if m == "nul-bytes":
                return data.hex()[:-2] + "\0\0"
            return data.hex()
        if p.startswith("Z") or p.startswith("z"):
            return "OK"
        if p in ("c", "vCont;c") or p.startswith("vCont;s") or p == "s":
            return None  # "runs" until 0x03
        if p == "\x03":
            return "T02thread:p01.01;"
        if p == "vCont?":
            return "vCont;c;C;s;S"
        if p.startswith("D"):
            self.send("OK")
            raise EOFError
        return ""

    def serve(self):
        m = self.mode
        if m == "close-at-once":
            return
        if m == "silent":
            while self.c.recv(4096):
                pass
            return
        try:
            for p in self.packets_in():
                self.packets += 1
                if m == "close-mid" and self.packets > 200:
                    return
                if m == "close-late" and self.packets > CLOSE_AFTER:
                    return
                r = self.handle(p)
                if r is not None:
                    self.send(r)
        except (EOFError, BrokenPipeError, ConnectionResetError):
            return
        finally:
            if os.environ.get("HOSTILE_STUB_VERBOSE"):
                print(f"hostile_stub: {self.packets} packets served", file=sys.stderr)


def serve_forever(dump, path, mode):
    if os.path.exists(path):
        os.unlink(path)
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(4)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve_one, args=(dump, c, mode), daemon=True).start()


def serve_one(dump, c, mode):
    try:
        Session(dump, c, mode).serve()
    finally:
        c.close()


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        for k, v in MODES.items():
            print(f"  {k:16} {v}")
        sys.exit(0 if len(sys.argv) > 1 else 2)
    mode = sys.argv[3] if len(sys.argv) > 3 else "faithful"
    if mode not in MODES:
        raise SystemExit(f"unknown mode {mode}")
    serve_forever(Dump(sys.argv[1]), sys.argv[2], mode)
