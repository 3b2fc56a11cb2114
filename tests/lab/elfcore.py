"""An ELF core's PT_LOAD segments and notes, as QEMU's dump-guest-memory writes it (ELF64, or
ELF32 when CPU 0 was not in long mode). Shared by the lab tests that read or serve a dump."""
import struct


def parse(read):
    """read(offset, length) -> bytes of the file. Returns (segments, notes): segments as
    (physical address, file size, file offset) of each PT_LOAD, notes as (name, descriptor)
    with the name's NULs stripped. ValueError for a file that is not ELF."""
    h = read(0, 64)
    if h[:4] != b"\x7fELF":
        raise ValueError("not an ELF core")
    cls = h[4]
    if cls == 2:
        phoff, = struct.unpack_from("<Q", h, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", h, 0x36)
    else:
        phoff, = struct.unpack_from("<I", h, 0x1C)
        phentsize, phnum = struct.unpack_from("<HH", h, 0x2A)
    segs, note_ranges, notes = [], [], []
    for i in range(phnum):
        p = read(phoff + i * phentsize, phentsize)
        if cls == 2:
            ptype, _, off, _, paddr, filesz = struct.unpack_from("<IIQQQQ", p)
        else:
            ptype, off, _, paddr, filesz = struct.unpack_from("<IIIII", p)
        if ptype == 1:
            segs.append((paddr, filesz, off))
        elif ptype == 4:
            note_ranges.append((off, filesz))
    for off, size in note_ranges:
        data = read(off, size)
        pos = 0
        while pos + 12 <= len(data):
            namesz, descsz, _ = struct.unpack_from("<III", data, pos)
            name = data[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            dpos = pos + 12 + (namesz + 3) // 4 * 4
            notes.append((name, data[dpos:dpos + descsz]))
            pos = dpos + (descsz + 3) // 4 * 4
    return segs, notes
