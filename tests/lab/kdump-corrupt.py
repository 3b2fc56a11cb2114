#!/usr/bin/env python3
"""Open and read corrupted copies of a small kdump file through libkvmdci, in one process.

    kdump-corrupt.py LIBKVMDCI.so SMALL.kdump raw|flat

Cases: every truncation in 61-byte steps, then 1500 single-bit flips (seeded; every other one
in the first 16 KiB, where the headers, notes, bitmaps and page descriptors are). "flat"
wraps the file in makedumpfile's flattened format first (as QEMU writes it). Each case is
opened as core://, its first 64 pages read, each CPU's registers and a kernel address read.
A crash kills this process (the caller sees the signal; with V=1 the last case is on
stderr). A refusal whose last error does not name the file is printed as "no file name" and
makes the exit status 1.
"""
import ctypes
import os
import random
import struct
import sys
import tempfile


def flatten(d):
    out = bytearray(b"makedumpfile".ljust(16, b"\0") + struct.pack(">qq", 1, 1))
    out += bytes(4096 - len(out))
    for o in range(0, len(d), 4096):
        c = d[o:o + 4096]
        out += struct.pack(">qq", o, len(c)) + c
    return out + struct.pack(">qq", -1, -1)


def main():
    lib = ctypes.CDLL(sys.argv[1])
    with open(sys.argv[2], "rb") as f:
        src = f.read()
    if sys.argv[3] == "flat":
        src = bytes(flatten(src))
    lib.kvmdci_ctx_last_error.restype = ctypes.c_char_p
    ctx = ctypes.c_void_p()
    lib.kvmdci_ctx_new(ctypes.byref(ctx))
    lib.kvmdci_ctx_set_log_priority(ctx, 0)
    rnd = random.Random(7)
    cases = [("truncated at", n, src[:n]) for n in range(0, len(src), 61)]
    for i in range(1500):
        b = bytearray(src)
        off = rnd.randrange(min(len(b), 16384) if i % 2 else len(b))
        b[off] ^= 1 << rnd.randrange(8)
        cases.append(("bit flip at", off, bytes(b)))
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "case.kdump")
    stats = {"opened": 0, "refused": 0}
    bad = 0
    buf = ctypes.create_string_buffer(4096)
    for kind, arg, data in cases:
        if os.environ.get("V"):
            print(kind, arg, file=sys.stderr, flush=True)
        with open(path, "wb") as f:
            f.write(data)
        t = ctypes.c_void_p()
        r = lib.kvmdci_target_open(ctx, ("core://" + path).encode(), ctypes.byref(t))
        if r == 0:
            stats["opened"] += 1
            for pa in range(0, 64 * 4096, 4096):
                lib.kvmdci_target_read_phys(t, ctypes.c_uint64(pa), buf, ctypes.c_size_t(4096))
            val = ctypes.c_uint64()
            for c in range(min(lib.kvmdci_target_cpu_count(t), 4)):
                lib.kvmdci_target_reg_read(t, c, b"cr3", ctypes.byref(val))
                lib.kvmdci_target_read_virt(t, c, ctypes.c_uint64(0xffffffff81000000), buf,
                                            ctypes.c_size_t(64))
            lib.kvmdci_target_unref(t)
            continue
        stats["refused"] += 1
        err = (lib.kvmdci_ctx_last_error(ctx) or b"").decode(errors="replace")
        if path not in err:
            bad += 1
            print(f"no file name: {kind} {arg}: {err}")
    os.unlink(path)
    os.rmdir(tmp)
    print(f"{len(cases)} cases: {stats['opened']} opened and read, {stats['refused']} refused "
          f"with the file named{'' if not bad else f', {bad} without'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
