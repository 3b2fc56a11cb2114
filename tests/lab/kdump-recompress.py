#!/usr/bin/env python3
"""Rewrite a diskdump (kdump-compressed, unflattened) file with its pages in another codec.

    kdump-recompress.py IN OUT snappy
    kdump-recompress.py IN OUT shrink N    # only the first N pages: a small real dump

QEMU 7.2 as Debian builds it writes kdump dumps with zlib only ("kdump-lzo is not available
now"), and makedumpfile cannot take QEMU's ELF dumps as input; this gives the lab a second
codec for the same moment. Layout (makedumpfile diskdump_mod.h, QEMU dump.c): block 0 the
disk_dump_header (status at 424, block_size 428, sub_hdr_size 432, bitmap_blocks 436), the
sub-header blocks (notes, VMCOREINFO), the two bitmaps, the page descriptors {i64 offset,
u32 size, u32 flags, u64 page_flags} (one per bit set in the second bitmap), then page data.
Flags: 1 zlib, 2 lzo, 4 snappy, 0 stored. Only the standard library and libsnappy (ctypes).
"""
import ctypes
import ctypes.util
import struct
import sys
import zlib

DUMP_ZLIB, DUMP_LZO, DUMP_SNAPPY = 1, 2, 4


def snappy_codec():
    lib = ctypes.CDLL(ctypes.util.find_library("snappy") or "libsnappy.so.1")
    lib.snappy_max_compressed_length.restype = ctypes.c_size_t
    lib.snappy_max_compressed_length.argtypes = [ctypes.c_size_t]

    def compress(data):
        n = ctypes.c_size_t(lib.snappy_max_compressed_length(len(data)))
        out = ctypes.create_string_buffer(n.value)
        if lib.snappy_compress(data, ctypes.c_size_t(len(data)), out, ctypes.byref(n)) != 0:
            raise RuntimeError("snappy_compress failed")
        return out.raw[:n.value]
    return DUMP_SNAPPY, compress


def shrink(data, npages):
    """The first npages pages of a diskdump, with its headers and notes: a small real file."""
    status, block, sub_blocks, bitmap_blocks = struct.unpack_from("<IiiI", data, 424)
    bitmap = (1 + sub_blocks) * block
    half = bitmap_blocks * block // 2
    nbytes = (npages + 7) // 8
    if nbytes > block:
        sys.exit("shrink: at most one block of bitmap")
    bm1 = data[bitmap:bitmap + nbytes]
    bm2 = data[bitmap + half:bitmap + half + nbytes]
    ndesc = sum(bin(b).count("1") for b in bm2)
    out = bytearray(data[:bitmap])
    struct.pack_into("<II", out, 436, 2, npages)      # bitmap_blocks, max_mapnr
    version = struct.unpack_from("<i", data, 8)[0]
    if version >= 6:                                   # sub-header: end_pfn_64, max_mapnr_64
        struct.pack_into("<QQQ", out, block + 80, 0, npages, npages)
    struct.pack_into("<Q", out, block + 24, npages)    # end_pfn
    for bm in (bm1, bm2):
        out += bm + bytes(block - len(bm))
    desc0 = len(out)
    odesc0 = (1 + sub_blocks + bitmap_blocks) * block
    out += bytes(24 * ndesc)
    moved = {}
    for i in range(ndesc):
        off, size, flags, pflags = struct.unpack_from("<qIIQ", data, odesc0 + 24 * i)
        if off not in moved:
            moved[off] = len(out)
            out += data[off:off + size]
        struct.pack_into("<qIIQ", out, desc0 + 24 * i, moved[off], size, flags, pflags)
    return out


def main():
    src, dst, codec = sys.argv[1:4]
    with open(src, "rb") as f:
        data = f.read()
    if data[:8] != b"KDUMP   ":
        sys.exit(f"{src}: not an unflattened diskdump (makedumpfile -R OUT < IN first)")
    if codec == "shrink":
        out = shrink(data, int(sys.argv[4]))
        with open(dst, "wb") as f:
            f.write(out)
        print(f"{dst}: {len(out)} bytes")
        return
    if codec != "snappy":
        sys.exit("codecs: snappy (or shrink N)")
    flag, compress = snappy_codec()
    status, block, sub_blocks, bitmap_blocks = struct.unpack_from("<IiiI", data, 424)
    bitmap = (1 + sub_blocks) * block
    half = bitmap_blocks * block // 2
    ndesc = sum(bin(b).count("1") for b in data[bitmap + half:bitmap + 2 * half])
    desc0 = (1 + sub_blocks + bitmap_blocks) * block
    out = bytearray(data[:desc0 + 24 * ndesc])
    struct.pack_into("<I", out, 424, (status & ~7) | flag)
    moved = {}
    for i in range(ndesc):
        off, size, flags, pflags = struct.unpack_from("<qIIQ", data, desc0 + 24 * i)
        if off not in moved:
            page = data[off:off + size]
            if flags & DUMP_ZLIB:
                page = zlib.decompress(page)
            elif flags & (DUMP_LZO | DUMP_SNAPPY):
                sys.exit(f"{src}: page {i} is not zlib or stored (flags {flags})")
            comp = compress(page)
            nflags = flag if len(comp) < len(page) else 0
            comp = comp if nflags else page
            moved[off] = (len(out), len(comp), nflags)
            out += comp
        noff, nsize, nflags = moved[off]
        struct.pack_into("<qIIQ", out, desc0 + 24 * i, noff, nsize, nflags, pflags)
    with open(dst, "wb") as f:
        f.write(out)
    print(f"{dst}: {ndesc} pages, {len(moved)} distinct, {len(out)} bytes")


if __name__ == "__main__":
    main()
