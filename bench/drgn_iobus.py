#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/drgn_iobus.py - the io-bus walk of kvmdci-iobus, done by drgn (python3-drgn 0.0.22),
for bench/first-answer.sh (P2).

Usage: drgn_iobus.py DUMP VMLINUX MODULE.ko...
Opens the ELF dump, loads DWARF from VMLINUX and the kvm module debug files, and walks
vm_list -> kvm.buses[] -> kvm_io_bus.range[] -> dev->ops (kind from the ops symbol), like
kvmdci-iobus. Prints one JSON line: VMs, ranges, seconds per phase.

QEMU dump traps (docs/transports.md, "Memory dumps") and what this does about them:
- the ELF header says EM_386 when CPU 0 was not in long mode at dump time (it ran the nested
  real-mode guest): drgn then takes the dump for a 32-bit one. The file is not touched (it is
  1 GB): when e_machine is 3 the script gives drgn a private copy-on-write view of it,
  /proc/self/fd of a memfd holding only a patched header is not possible with one file, so it
  makes a sparse copy of the header and reflinks/copies the rest (a full copy: reported).
- a plain (non -p) dump records no virtual addresses (p_vaddr 0): drgn 0.0.22 walks the page
  tables from swapper_pg_dir (VMCOREINFO) but reads that table through its *virtual* address,
  which no segment maps ("recursive address translation; page table may be missing from core
  dump"). The script adds one virtual segment: the kernel image mapping
  [__START_KERNEL_map, +KERNEL_IMAGE_SIZE) onto physical memory at phys_base (both from
  VMCOREINFO), read through drgn's own physical reads. Everything else (direct map, vmalloc,
  modules) then translates through the page tables.
"""
import json
import os
import shutil
import sys
import tempfile
import time

t_start = time.monotonic()
import drgn  # noqa: E402
from drgn.helpers.linux.list import list_for_each_entry  # noqa: E402

EM_386, EM_X86_64 = 3, 62


def fixed_dump(path):
    """path itself, or a copy whose header says EM_X86_64 (and the copy's path)."""
    with open(path, "rb") as f:
        hdr = f.read(20)
    if hdr[:4] != b"\x7fELF" or int.from_bytes(hdr[18:20], "little") != EM_386:
        return path, None
    if hdr[4] != 2:
        sys.exit(f"{path}: a 32-bit ELF (EI_CLASS {hdr[4]}), not a QEMU x86_64 dump")
    tmp = tempfile.NamedTemporaryFile(prefix="drgn-dump.", suffix=".elf", delete=False,
                                      dir=os.environ.get("TMPDIR", "/tmp"))
    tmp.close()
    shutil.copyfile(path, tmp.name)
    with open(tmp.name, "r+b") as f:
        f.seek(18)
        f.write(EM_X86_64.to_bytes(2, "little"))
    return tmp.name, tmp.name


START_KERNEL_MAP = 0xffffffff80000000


def map_kernel_image(prog):
    vmci = {}
    raw = vmcoreinfo_text(prog)
    for line in raw.splitlines():
        k, _, v = line.partition("=")
        vmci[k] = v
    phys_base = int(vmci["NUMBER(phys_base)"])
    size = int(vmci.get("NUMBER(KERNEL_IMAGE_SIZE)", str(1 << 30)))

    def read(address, count, offset, physical):
        return prog.read(phys_base + offset, count, True)

    prog.add_memory_segment(START_KERNEL_MAP, size, read, False)


def vmcoreinfo_text(prog):
    # the VMCOREINFO note of the dump (drgn 0.0.22 has no API for it: read the ELF notes)
    with open(prog_dump_path, "rb") as f:
        hdr = f.read(64)
        phoff = int.from_bytes(hdr[32:40], "little")
        phentsize = int.from_bytes(hdr[54:56], "little")
        phnum = int.from_bytes(hdr[56:58], "little")
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            ph = f.read(phentsize)
            if int.from_bytes(ph[0:4], "little") != 4:  # PT_NOTE
                continue
            off = int.from_bytes(ph[8:16], "little")
            size = int.from_bytes(ph[32:40], "little")
            f.seek(off)
            notes = f.read(size)
            p = 0
            while p + 12 <= len(notes):
                nsz, dsz, _typ = (int.from_bytes(notes[p + 4 * k:p + 4 * k + 4], "little")
                                  for k in range(3))
                name = notes[p + 12:p + 12 + nsz].rstrip(b"\0")
                d = p + 12 + ((nsz + 3) & ~3)
                if name == b"VMCOREINFO":
                    return notes[d:d + dsz].decode(errors="replace")
                p = d + ((dsz + 3) & ~3)
    sys.exit("no VMCOREINFO note in the dump: drgn cannot treat it as a kernel dump")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.split("\n\n")[1])
    dump, vmlinux, mods = sys.argv[1], sys.argv[2], sys.argv[3:]
    t0 = time.monotonic()
    path, tmp = fixed_dump(dump)
    global prog_dump_path
    prog_dump_path = path
    try:
        prog = drgn.Program()
        prog.set_core_dump(path)
        map_kernel_image(prog)
        t1 = time.monotonic()
        prog.load_debug_info([vmlinux] + mods)
        t2 = time.monotonic()
        vms = ranges = 0
        kinds = {}
        names = {}
        for kvm in list_for_each_entry("struct kvm", prog["vm_list"].address_of_(), "vm_list"):
            vms += 1
            for i in range(len(kvm.buses)):
                bus = kvm.buses[i]
                if not bus:
                    continue
                for j in range(bus.dev_count.value_()):
                    r = bus.range[j]
                    ops = r.dev.ops.value_()
                    if ops not in names:
                        try:
                            names[ops] = prog.symbol(ops).name
                        except LookupError:
                            names[ops] = hex(ops)
                    kinds[names[ops]] = kinds.get(names[ops], 0) + 1
                    ranges += 1
        t3 = time.monotonic()
    finally:
        if tmp:
            os.unlink(tmp)
    print(json.dumps({"vms": vms, "ranges": ranges, "kinds": kinds,
                      "em386_copy": tmp is not None,
                      "seconds": {"import": round(t0 - t_start, 3), "open": round(t1 - t0, 3),
                                  "debug_info": round(t2 - t1, 3), "walk": round(t3 - t2, 3),
                                  "total": round(t3 - t_start, 3)}}))


if __name__ == "__main__":
    main()
