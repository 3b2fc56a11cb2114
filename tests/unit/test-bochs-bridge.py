#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Unit test of lab/bochs-gdbserver's pure parts: RSP framing and decoding, the target
description, and the parsers of Bochs 2.7 debugger output (samples captured from Debian's
Bochs running the lab kernel, values checked by hand against the same output).

    test-bochs-bridge.py PATH-TO-lab/bochs-gdbserver
"""
import importlib.machinery
import importlib.util
import sys
import xml.etree.ElementTree as ET

R_OUT = """CPU1:
rax: 00000000_263eb1cb
rbx: ffffffff_9dab5be0
rcx: 00000000_77edd02d
rdx: 00000000_fdbe75ac
rsp: ffffd0a9_003e3a88
rbp: 00000000_ac3e31a8
rsi: 00000000_7b23f8b3
rdi: 00000000_1a69eb3f
r8 : 00000000_5cdc2ac4
r9 : 00000000_6c6d08f6
r10: 00000000_88481830
r11: ffffd0a9_003e3b70
r12: 00000000_6c6d08f6
r13: 00000000_93b1d951
r14: ffffd0a9_003e3bf0
r15: ffffd0a9_003e3bf0
rip: ffffffff_9cfa8d11
eflags 0x00000282: id vip vif ac vm rf nt IOPL=0 of df IF tf SF zf af pf cf
"""

SREG_OUT = """es:0x0000, dh=0x00001000, dl=0x00000000, valid=0
cs:0x0010, dh=0x00af9b00, dl=0x0000ffff, valid=1
\tCode segment, base=0x00000000, limit=0xffffffff, Execute/Read, Non-Conforming, Accessed, 64-bit
ss:0x0018, dh=0x00cf9300, dl=0x0000ffff, valid=1
\tData segment, base=0x00000000, limit=0xffffffff, Read/Write, Accessed
ds:0x0000, dh=0x00001000, dl=0x00000000, valid=0
fs:0x0000, dh=0x230010a4, dl=0x03c00000, valid=0
gs:0x0000, dh=0xfe0010b0, dl=0x00000000, valid=0
ldtr:0x0000, dh=0x00008200, dl=0x0000ffff, valid=0
tr:0x0040, dh=0x00008b03, dl=0xe0004087, valid=1
gdtr:base=0xfffffe000003c000, limit=0x7f
idtr:base=0xfffffe0000000000, limit=0xfff
"""

CREG_OUT = """CR0=0x80050033: PG cd nw AC WP NE ET ts em MP PE
CR2=page fault laddr=0x0000000023a41730
CR3=0x00000248a005
    PCD=page-level cache disable=0
    PWT=page-level write-through=0
CR4=0x003306b0: pks cet pke SMAP SMEP keylock osxsave PCID FSGSBASE smx vmx la57 umip OSXMMEXCPT OSFXSR pce PGE mce PAE PSE de tsd pvi vme
CR8: 0x1
EFER=0x00000d01: ffxsr NXE LMA LME SCE
XCR0=0x000000e7: cet_s cet_u pkru HI_ZMM ZMM_HI256 OPMASK bndcfg bndregs YMM SSE FPU
"""

STOP_OUT = """c
(1) Breakpoint 3, 0xffffffffc0a1b2c0 in ?? ()
(0) Caught write watch point at 0x00000123a048
"""

fails = 0


def check(what, got, want):
    global fails
    if got != want:
        fails += 1
        print(f"FAIL {what}: got {got!r}, want {want!r}")
    else:
        print(f"ok   {what}")


def main():
    path = sys.argv[1]
    loader = importlib.machinery.SourceFileLoader("bochs_gdbserver", path)
    spec = importlib.util.spec_from_loader("bochs_gdbserver", loader)
    m = importlib.util.module_from_spec(spec)
    loader.exec_module(m)

    # framing: GDB manual's example checksum, escapes of '#$}*'
    check("frame OK", m.rsp_frame("OK"), b"$OK#9a")
    check("frame escapes", m.rsp_frame("a#b$c}d*"), b"$a}\x03b}\x04c}]d}\x0a#" +
          b"%02x" % (sum(b"a}\x03b}\x04c}]d}\x0a") & 0xFF))
    d = m.RspDecoder()
    evs = d.feed(b"+$qSupported:multiprocess+#c6\x03$m1")
    check("decode packet + ^C", evs, [("pkt", "qSupported:multiprocess+"), ("intr",)])
    check("decode partial", d.feed(b"0,8#3"), [])
    check("decode rest", d.feed(b"2"), [("pkt", "m10,8")])
    check("decode bad checksum", m.RspDecoder().feed(b"$g#00"), [("bad",)])
    check("decode escape", m.RspDecoder().feed(m.rsp_frame("X}#")), [("pkt", "X}#")])
    check("decode run-length", m.RspDecoder().feed(b"$0* #" + b"%02x" % (sum(b"0* ") & 0xFF)),
          [("pkt", "0000")])

    # target description: what libkvmdci's RSP client and gdb need
    root = ET.fromstring(m.target_xml())
    regs = [(r.get("name"), int(r.get("bitsize")), int(r.get("regnum")))
            for r in root.iter("reg")]
    names = [r[0] for r in regs]
    check("regnums in order", [r[2] for r in regs], list(range(len(regs))))
    for n in ("rax", "rip", "eflags", "cs", "fs_base", "gs_base", "k_gs_base", "cr0", "cr3",
              "cr4", "efer", "st0", "fop", "xmm15", "mxcsr"):
        check(f"register {n} described", n in names, True)
    check("rip is register 16", names.index("rip"), 16)
    features = [f.get("name") for f in root.iter("feature")]
    check("gdb's core and sse features", features[:2], ["org.gnu.gdb.i386.core",
                                                        "org.gnu.gdb.i386.sse"])

    # debugger output parsers (values read off the samples)
    r = m.parse_r(R_OUT)
    check("r: rax", r["rax"], 0x263eb1cb)
    check("r: r8", r["r8"], 0x5cdc2ac4)
    check("r: rsp", r["rsp"], 0xffffd0a9003e3a88)
    check("r: rip", r["rip"], 0xffffffff9cfa8d11)
    check("r: eflags", r["eflags"], 0x282)
    check("r: 18 registers", len(r), 18)
    s = m.parse_sreg(SREG_OUT)
    check("sreg", s, {"es": 0, "cs": 0x10, "ss": 0x18, "ds": 0, "fs": 0, "gs": 0})
    c = m.parse_creg(CREG_OUT)
    check("creg", c, {"cr0": 0x80050033, "cr2": 0x23a41730, "cr3": 0x248a005,
                      "cr4": 0x3306b0, "cr8": 1, "efer": 0xd01})

    class FakeLog:
        def __call__(self, msg):
            pass
        debug = __call__

    class Args:
        socket = "/nonexistent"
    br = m.Bridge(Args(), ["bochs", "-q"], FakeLog())
    check("stops parsed", br.parse_stops(STOP_OUT), [(1, "bp", 3), (0, "w", 0x123a048)])
    br.watches = [{"type": "w", "addr": 0xffff8f0a23a48048, "len": 8,
                   "pieces": [(0x123a048, 8)]}]
    br.bps = {0xffffffffc0a1b2c0: [3, True, None]}
    check("watch stop reply", br.stop_reply((0, "w", 0x123a048)),
          "T05thread:1;watch:ffff8f0a23a48048;")
    check("access below the range maps to it", br.watch_of("w", 0x123a040) is not None, True)
    check("read hit is not a write watch", br.watch_of("r", 0x123a048), None)
    check("breakpoint stop reply", br.stop_reply((1, "bp", 3)), "T05thread:2;")
    check("pending stop valid", br.stop_valid((1, "bp", 3)), True)
    br.bps[0xffffffffc0a1b2c0][1] = False
    check("pending stop of a removed breakpoint", br.stop_valid((1, "bp", 3)), False)

    # a shadow breakpoint (A+5, after a fentry NOP at A) hit on a CPU the client had placed
    # at A+5: an interrupt taken there returned with iretq when its frame (RIP, CS, RFLAGS,
    # RSP, SS under the 16-byte aligned RSP) is still in memory; Bochs's own state cannot be
    # made to take an interrupt at that instant on demand, so the CPU's registers and stack
    # are given here
    import struct
    a = 0xffffffffc03c6974
    br.bps = {a: [11, True, 12]}
    rsp = 0xffffcd078051bd48
    mem = {}

    def frame(rip, saved_rsp, cs=0x10):
        mem.clear()
        base = (rsp & ~0xF) - 40
        mem[base] = struct.pack("<5Q", rip, cs, 0x246, saved_rsp, 0x18)
    br.regs = lambda cpu, names: [rsp if n == "rsp" else None for n in names]
    br.read_linear = lambda cpu, addr, n: mem.get(addr)
    br.log = FakeLog()
    br.placed = {1: a + 5}
    frame(a + 5, rsp)
    check("shadow hit after an interrupt's return to A+5: dropped",
          br.spurious_shadow((1, "bp", 12)), True)
    check("the same stop of the main breakpoint: kept", br.spurious_shadow((1, "bp", 11)), False)
    check("a CPU the client did not place at A+5: kept", br.spurious_shadow((0, "bp", 12)), False)
    frame(a + 5, rsp + 0x40)
    check("a stale frame of another stack depth: kept", br.spurious_shadow((1, "bp", 12)), False)
    frame(a + 5, rsp, cs=0x33)
    check("a frame from user mode: kept", br.spurious_shadow((1, "bp", 12)), False)
    frame(a + 9, rsp)
    check("a frame of another instruction: kept", br.spurious_shadow((1, "bp", 12)), False)
    mem.clear()
    check("no readable frame: kept", br.spurious_shadow((1, "bp", 12)), False)

    # a stop whose prompt is already buffered (interrupt() read it while it waited for the
    # echo of 'c', so the fd is not readable any more) is still reported: the client's ^C had
    # come with its vCont;c, and Bochs stopped at a watchpoint at that moment
    import os as _os
    rd, wr = _os.pipe()
    _os.set_blocking(rd, False)
    b = m.Bochs.__new__(m.Bochs)
    b.fd, b.buf, b.running, b.c_unseen = rd, b"c\n(0) Caught write watch point at 0x23fb0c8\n" \
        b"<bochs:12> ", True, False
    seen = []
    br.bochs, br.on_machine_stopped = b, seen.append
    br.bochs_output(False)
    check("a buffered stop is handled without new output", seen,
          ["c\n(0) Caught write watch point at 0x23fb0c8\n"])
    seen.clear()
    br.bochs_output(False)
    check("nothing buffered, nothing readable: nothing handled", seen, [])
    _os.close(rd)
    _os.close(wr)
    del br.on_machine_stopped

    # 'monitor info status' in QEMU's words (hmp_info_status): how a client learns that the
    # machine was held before it connected; the reply goes out as O packets, then OK
    class FakeBochs:
        running = False
    sent = []
    br.bochs, br.reply = FakeBochs(), sent.append

    def status():
        del sent[:]
        r = br.monitor("info status")
        return "".join(bytes.fromhex(p[1:]).decode() for p in sent), r
    for running, state, want in ((True, "running", "VM status: running\n"),
                                 (False, "paused", "VM status: paused\n"),
                                 (False, "debug", "VM status: paused (debug)\n")):
        br.bochs.running, br.runstate = running, state
        check(f"info status, {state}", status(), (want, "OK"))
    br.cleanup_tmp()
    print(f"{fails} failure(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
