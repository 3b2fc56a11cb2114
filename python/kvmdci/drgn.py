# SPDX-License-Identifier: LGPL-2.1-or-later
"""kvmdci.drgn - a drgn Program for the target's kernel, its memory read through libkvmdci.

    import kvmdci.drgn
    prog = kvmdci.drgn.program("gdb+unix:///tmp/lab/gdb.sock")
    from drgn.helpers.linux.pid import for_each_task
    for task in for_each_task(prog):
        print(task.pid.value_(), task.comm.string_().decode())

drgn reads /proc/kcore, crash dumps and live processes; this module gives it any target
libkvmdci opens (a whole-machine GDB stub, a DCI GDB server, the USB DbC cable, a serial line,
a dump, /proc/kcore). drgn's own helpers then work as on a dump: for_each_task(),
prog["init_task"].comm, the kvm structures by name (with the modules' DWARF).

How (docs/python-drgn.md): the drgn of Debian 12 (python3-drgn 0.0.22) makes a Linux-kernel
Program only from a core file that carries a VMCOREINFO note (drgn_program_set_core_dump() in
its libdrgn/program.c is the one place that sets its IS_LINUX_KERNEL flag; its Python API has
no other way). So this module hands drgn a core file of about 4 KiB that holds the kernel's
VMCOREINFO and nothing else (no memory), made in memory (memfd), and then adds memory segments
served by libkvmdci: physical RAM (the kernel's iomem "System RAM" ranges), the kernel image at
phys_base and the direct map; drgn's own page-table walker translates every other virtual
address (so an unmapped one is a fault drgn handles: a Python read callback cannot raise one).
drgn 0.0.27 takes the VMCOREINFO as Program(vmcoreinfo=...), and drgn 0.1.0 has
Program.set_linux_kernel_custom(vmcoreinfo, is_live) for exactly this (a custom memory
transport): with it the core file is not needed.

The VMCOREINFO (kvmdci.drgn.vmcoreinfo()) is, in this order: the note of a dump (core://) or
/proc/kcore; the kernel's own copy in its memory (the vmcoreinfo_data buffer, which the kernel
fills at boot: crash_save_vmcoreinfo_init() in kernel/crash_core.c of 6.1); or, for a kernel
without it, one built from what the kernel view found (the release, the KASLR offset, phys_base,
swapper_pg_dir's address).

A live target stays stopped while its kvmdci.Kernel is open (kvmdci.open() attaches and stops
the machine). kvmdci.drgn.resume(prog) detaches and lets it run (reads through the Program then
fail), kvmdci.drgn.stop(prog) attaches again with the same Program (its debug info is kept):
e.g. read counters, let the machine run 10 s, read them again.

drgn 0.0.22 needs DWARF (it reads no BTF): the -dbg package's vmlinux and modules
(`kvmdci-lab build --dwarf-vmlinux` extracts them next to the lab's vmlinux, in debug/).
"""

import errno
import os
import struct
import sys

import drgn

import kvmdci

__all__ = ["program", "vmcoreinfo", "built_vmcoreinfo", "kernel", "resume", "stop",
           "core_file", "debug_info_files", "ram_ranges", "CACHE_MEMORY_MAP",
           "CACHE_KERNEL", "CACHE_VMCOREINFO_SOURCE"]

#: prog.cache key of the kvmdci.Kernel a Program reads through
CACHE_KERNEL = "kvmdci.kernel"
#: prog.cache key saying where the VMCOREINFO came from: "target", "memory", "built" or
#: "given"
CACHE_VMCOREINFO_SOURCE = "kvmdci.vmcoreinfo_source"
#: prog.cache key saying where the RAM ranges came from: "iomem" (the kernel's iomem_resource)
#: or "none" (all physical addresses offered)
CACHE_MEMORY_MAP = "kvmdci.memory_map"
# [the Kernel the reads go to, its URI, its files]: stop() swaps the Kernel
_CACHE_HOLDER = "kvmdci.holder"

# x86-64 ELF (the only architecture libkvmdci reads): e_machine EM_X86_64, 4 KiB base pages
# (the architecture's, not a kernel choice)
_EM_X86_64 = 62
_START_KERNEL_MAP = 0xffffffff80000000  # where x86-64 links the kernel image (the ABI's)
_PAGE_SIZE = 4096
_ET_CORE = 4
_PT_NOTE = 4
# the kernel's vmcoreinfo_data buffer is one page (VMCOREINFO_BYTES, include/linux/crash_core.h
# of 6.1); a larger size read from the target is not believed
_VMCOREINFO_MAX = 1 << 16
# drgn's vmcoreinfo parser refuses a VMCOREINFO without these (drgn 0.0.22,
# libdrgn/drgn_program_parse_vmcoreinfo.inc.strswitch)
_REQUIRED = ("OSRELEASE", "PAGESIZE", "SYMBOL(swapper_pg_dir)")


def _note(name, ntype, desc):
    n = name.encode() + b"\0"
    return (struct.pack("<III", len(n), len(desc), ntype) + n + b"\0" * (-len(n) % 4) + desc +
            b"\0" * (-len(desc) % 4))


def core_file(vmcoreinfo):
    """The bytes of an x86-64 ELF core file holding one PT_NOTE with the VMCOREINFO note
    @vmcoreinfo (bytes) and no memory (no PT_LOAD): what drgn 0.0.22's set_core_dump() needs
    to make a Linux-kernel Program. The Program's memory comes from segments added after."""
    if not isinstance(vmcoreinfo, (bytes, bytearray)):
        raise TypeError(f"vmcoreinfo must be bytes, not {type(vmcoreinfo).__name__}")
    notes = _note("VMCOREINFO", 0, bytes(vmcoreinfo))
    ehsize, phentsize = 64, 56
    ident = b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9  # ELFCLASS64, little endian, EV_CURRENT
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", _ET_CORE, _EM_X86_64, 1, 0, ehsize, 0, 0,
                               ehsize, phentsize, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", _PT_NOTE, 0, ehsize + phentsize, 0, 0, len(notes), 0, 4)
    return ehdr + phdr + notes


def _missing(text):
    keys = {line.partition("=")[0] for line in text.decode(errors="replace").splitlines()
            if "=" in line}
    return [k for k in _REQUIRED if k not in keys]


def _symbol(k, name):
    """The address of symbol @name, or None when the kernel has no such symbol."""
    try:
        return k.symbol(name)
    except LookupError:
        return None
    except kvmdci.Error as e:
        if e.errno in (errno.ENOENT, errno.ENODEV):
            return None
        raise


def _u64(k, address):
    return struct.unpack("<Q", k.read(address, 8))[0]


def _from_memory(k):
    """The kernel's own VMCOREINFO (vmcoreinfo_data, vmcoreinfo_size), or None when the kernel
    has none (no such symbols: a kernel without CONFIG_CRASH_CORE) or it is not readable."""
    data_sym, size_sym = _symbol(k, "vmcoreinfo_data"), _symbol(k, "vmcoreinfo_size")
    if data_sym is None or size_sym is None:
        return None
    try:
        data, size = _u64(k, data_sym), _u64(k, size_sym)
    except kvmdci.FaultError:
        return None
    if not data or not 0 < size <= _VMCOREINFO_MAX:
        return None
    try:
        text = k.read(data, size)
    except kvmdci.FaultError:
        return None
    return text if not _missing(text) else None


def built_vmcoreinfo(k):
    """A VMCOREINFO (bytes) built from what the kernel view @k (a kvmdci.Kernel) found, for a
    kernel that has none in memory: OSRELEASE (linux_banner), PAGESIZE (x86-64's 4 KiB),
    SYMBOL(swapper_pg_dir), KERNELOFFSET (the KASLR offset), NUMBER(phys_base) and
    NUMBER(pgtable_l5_enabled) where known: what drgn needs to read the kernel, with the
    kernel's own key names and number formats."""
    release = getattr(k, "release", None)
    if not release:
        raise kvmdci.Error(errno.ENOENT, "cannot build a VMCOREINFO for drgn: the kernel "
                           "view knows no release (linux_banner)")
    pgd = _symbol(k, "swapper_pg_dir")
    if pgd is None:
        pgd = _symbol(k, "init_top_pgt")  # swapper_pg_dir is its alias on x86-64
    if pgd is None:
        raise kvmdci.Error(errno.ENOENT, "cannot build a VMCOREINFO for drgn: the kernel has "
                           "neither swapper_pg_dir nor init_top_pgt; give a vmlinux or "
                           "System.map of the running kernel")
    lines = [f"OSRELEASE={release}", f"PAGESIZE={_PAGE_SIZE}", f"SYMBOL(swapper_pg_dir)={pgd:x}",
             f"KERNELOFFSET={k.kaslr_offset:x}"]
    phys_base = getattr(k, "phys_base", None)
    if phys_base is not None:
        # the kernel writes it with %ld: a kernel loaded below its link address has a negative
        # one
        signed = phys_base - (1 << 64) if phys_base >> 63 else phys_base
        lines.append(f"NUMBER(phys_base)={signed}")
    l5 = _symbol(k, "__pgtable_l5_enabled")
    if l5 is not None:
        lines.append(f"NUMBER(pgtable_l5_enabled)={struct.unpack('<I', k.read(l5, 4))[0]}")
    return ("\n".join(lines) + "\n").encode()


def vmcoreinfo(k):
    """The VMCOREINFO text (bytes) for drgn and where it came from: ("target", the note of a
    dump or /proc/kcore), ("memory", the kernel's own vmcoreinfo_data of a live target) or
    ("built", from the kernel view: release, KASLR offset, phys_base, swapper_pg_dir).
    @k: an open kvmdci.Kernel. Returns (bytes, source)."""
    text = getattr(k, "vmcoreinfo", None)
    if text:
        if isinstance(text, str):
            text = text.encode()
        missing = _missing(text)
        if not missing:
            return text, "target"
    text = _from_memory(k)
    if text:
        return text, "memory"
    return built_vmcoreinfo(k), "built"


def _gnu_build_id(notes):
    """The GNU build id (hex) among ELF notes, or None."""
    p = 0
    while p + 12 <= len(notes):
        nsz, dsz, ntype = struct.unpack_from("<III", notes, p)
        d = p + 12 + nsz + (-nsz % 4)
        if ntype == 3 and notes[p + 12:p + 12 + nsz] == b"GNU\0":  # NT_GNU_BUILD_ID
            return notes[d:d + dsz].hex() or None
        p = d + dsz + (-dsz % 4)
    return None


def _elf_info(path):
    """(e_type, has DWARF, GNU build id as hex or None) of the ELF file at @path, or None when
    it is not a 64-bit little-endian ELF file."""
    try:
        with open(path, "rb") as f:
            eh = f.read(64)
            if len(eh) < 64 or eh[:4] != b"\x7fELF" or eh[4] != 2 or eh[5] != 1:
                return None
            e_type, = struct.unpack_from("<H", eh, 16)
            shoff, = struct.unpack_from("<Q", eh, 40)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", eh, 58)
            if not shoff or not shnum or shstrndx >= shnum or shentsize < 64:
                return e_type, False, None
            f.seek(shoff)
            sh = f.read(shentsize * shnum)
            stroff, strsize = struct.unpack_from("<QQ", sh, shstrndx * shentsize + 24)
            f.seek(stroff)
            names = f.read(min(strsize, 1 << 20))
            dwarf, build_id = False, None
            for i in range(shnum):
                o = i * shentsize
                name, = struct.unpack_from("<I", sh, o)
                name = names[name:names.find(b"\0", name)]
                sh_type, = struct.unpack_from("<I", sh, o + 4)
                if name in (b".debug_info", b".zdebug_info"):
                    dwarf = True
                elif sh_type == 7 and build_id is None:  # SHT_NOTE (vmlinux: .notes)
                    off, size = struct.unpack_from("<QQ", sh, o + 24)
                    f.seek(off)
                    build_id = _gnu_build_id(f.read(min(size, 1 << 16)))
            return e_type, dwarf, build_id
    except (OSError, struct.error):
        return None


def _has_dwarf(path):
    info = _elf_info(path)
    return bool(info and info[1])


def debug_info_files(k):
    """The DWARF files drgn can load for @k (a kvmdci.Kernel): the kernel files the view uses
    (k.files) that carry DWARF, and the -dbg files in debug/ next to its vmlinux (the lab's
    layout: vmlinux and kvm*.ko). Returns a list of paths (maybe empty)."""
    files = getattr(k, "files", None) or {}
    used = [files.get("vmlinux")] + list((files.get("modules") or {}).values())
    vmlinux = files.get("vmlinux") or os.environ.get("KVMDCI_VMLINUX")
    found = [p for p in used if p and os.path.isfile(p) and _has_dwarf(p)]
    names = {os.path.basename(p) for p in found}
    d = os.path.join(os.path.dirname(vmlinux), "debug") if vmlinux else None
    if d and os.path.isdir(d):
        for n in sorted(os.listdir(d)):
            p = os.path.join(d, n)
            if ((n == "vmlinux" or n.endswith(".ko")) and n not in names and
                    os.path.isfile(p) and _has_dwarf(p)):
                found.append(p)
                names.add(n)
    return found


def kernel(prog):
    """The kvmdci.Kernel a Program made by program() reads through (close() it to detach)."""
    try:
        return prog.cache[CACHE_KERNEL]
    except (AttributeError, KeyError):
        raise ValueError("this drgn Program was not made by kvmdci.drgn.program()") from None


def _holder(prog):
    kernel(prog)
    return prog.cache[_CACHE_HOLDER]


def resume(prog):
    """Let a live target run: detach (the Kernel is closed, every breakpoint removed). The
    Program keeps its debug info; reads through it fail until stop(prog). A no-op when it
    runs already; ValueError for a dump (it does not run)."""
    k = kernel(prog)
    if k.closed:
        return
    if not k.live:
        raise ValueError(f"{k.uri} is not a live target: it cannot run")
    k.close()


def stop(prog):
    """Stop a target that resume() let run: attach again (a new kvmdci.Kernel on the same URI
    and kernel files, the Program's reads go to it). The Program's debug info and types are
    kept: values read before are not re-read, and a module loaded or unloaded meanwhile is
    not seen. Returns the new Kernel. A no-op when the target is stopped already."""
    h = _holder(prog)
    k = h[0]
    if not k.closed:
        return k
    uri, files = h[1], h[2]
    n = kvmdci.open(uri, vmlinux=files.get("vmlinux"), system_map=files.get("system_map"),
                    modules=files.get("modules_dir"))
    h[0] = n
    prog.cache[CACHE_KERNEL] = n
    return n


def _phys_reader(h, base):
    """A drgn read callback that reads physical memory at @base + the offset in the segment,
    through whichever Kernel the holder @h has now."""
    fault = kvmdci.FaultError

    def read(address, count, offset, physical):
        k = h[0]
        if k.closed:
            raise kvmdci.Error(errno.ENOTCONN, "the target runs (kvmdci.drgn.resume() or its "
                               "Kernel closed): kvmdci.drgn.stop(prog) attaches again")
        pa = (base + offset) & ((1 << 64) - 1)
        try:
            return k.read(pa, count, physical=True)
        except fault as e:
            raise drgn.FaultError(str(e), getattr(e, "address", address)) from None
    return read


def ram_ranges(k):
    """The target's RAM as the kernel lists it: [(start, end)] (end exclusive, merged) of the
    top-level "System RAM" resources under iomem_resource (what /proc/iomem shows), read
    through libkvmdci with the kernel's struct resource layout from its type info. None when
    the kernel has no iomem_resource or the list cannot be read."""
    root = _symbol(k, "iomem_resource")
    if root is None:
        return None
    try:
        off = {m: k.member("struct resource", m)["offset"]
               for m in ("start", "end", "name", "sibling", "child")}
        ranges = []
        p = _u64(k, root + off["child"])
        for _ in range(65536):  # a bound against a corrupt (cyclic) list
            if not p:
                break
            name = k.read(_u64(k, p + off["name"]), 16).split(b"\0")[0]
            if name == b"System RAM":
                start, end = _u64(k, p + off["start"]), _u64(k, p + off["end"])
                if ranges and ranges[-1][1] == start:
                    ranges[-1] = (ranges[-1][0], end + 1)
                else:
                    ranges.append((start, end + 1))
            p = _u64(k, p + off["sibling"])
    except (kvmdci.Error, KeyError):
        return None
    return ranges or None


def program(target, *, vmlinux=None, system_map=None, modules=None, debug_info=None,
            default_debug_info=False, vmcoreinfo=None):
    """A drgn.Program for the kernel of @target, its memory read through libkvmdci.

    @target: a target URI ("gdb+unix:///path", "gdb://HOST:PORT", "core:///path", "kcore:",
      ..., see libkvmdci(3)) opened with kvmdci.open(target, vmlinux, system_map, modules),
      or an open kvmdci.Kernel (then @vmlinux, @system_map and @modules must be None).
    @debug_info: DWARF files for drgn (vmlinux and module .ko of the -dbg package); None: those
      found by debug_info_files() ([] loads none).
    @default_debug_info: also let drgn look in its default places (/usr/lib/debug,
      /lib/modules of the kernel's release).
    @vmcoreinfo: the VMCOREINFO text (bytes) to give drgn instead of the one
      kvmdci.drgn.vmcoreinfo() finds (e.g. built_vmcoreinfo()).

    The Program's prog.cache holds the kvmdci.Kernel (CACHE_KERNEL, see kernel()) and where
    its VMCOREINFO came from (CACHE_VMCOREINFO_SOURCE: "target", "memory", "built" or
    "given"). Raises kvmdci.Error (the target cannot be opened, or no VMCOREINFO can be had),
    TypeError/ValueError for bad arguments (a vmlinux that is not the running kernel's among
    them), and drgn.MissingDebugInfoError when no vmlinux DWARF was loaded (a module without
    DWARF is said on stderr, not raised). A Kernel opened from a URI is closed again when this
    fails.
    """
    if debug_info is not None:
        if isinstance(debug_info, (str, bytes, os.PathLike)):
            raise TypeError("debug_info must be a list of paths, not one path")
        debug_info = [os.fspath(p) for p in debug_info]
        for p in debug_info:
            if not os.path.isfile(p):
                raise ValueError(f"debug_info: {p}: no such file")
    if vmcoreinfo is not None:
        if isinstance(vmcoreinfo, str):
            vmcoreinfo = vmcoreinfo.encode()
        if not isinstance(vmcoreinfo, (bytes, bytearray)):
            raise TypeError(f"vmcoreinfo must be bytes or str, not {type(vmcoreinfo).__name__}")
        missing = _missing(vmcoreinfo)
        if missing:
            raise ValueError(f"vmcoreinfo lacks {', '.join(missing)} (drgn needs them)")
    if isinstance(target, (str, os.PathLike)):
        k = kvmdci.open(os.fspath(target), vmlinux=vmlinux, system_map=system_map,
                        modules=modules)
    elif isinstance(target, kvmdci.Kernel):
        if vmlinux is not None or system_map is not None or modules is not None:
            raise ValueError("vmlinux, system_map and modules are for a URI; this Kernel is "
                             "open already")
        k = target
    else:
        raise TypeError(f"target must be a URI string or a kvmdci.Kernel, not "
                        f"{type(target).__name__}")
    try:
        return _program(k, debug_info, default_debug_info, vmcoreinfo)
    except BaseException:
        if k is not target:
            k.close()
        raise


def _program(k, debug_info, default_debug_info, given):
    text, source = (bytes(given), "given") if given is not None else vmcoreinfo(k)
    fd = os.memfd_create("kvmdci-vmcoreinfo", os.MFD_CLOEXEC)
    try:
        os.write(fd, core_file(text))
        prog = drgn.Program()
        # drgn opens the path itself and keeps its own descriptor
        prog.set_core_dump(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)
    holder = [k, k.uri, dict(k.files or {})]
    prog.cache[CACHE_KERNEL] = k
    prog.cache[_CACHE_HOLDER] = holder
    prog.cache[CACHE_VMCOREINFO_SOURCE] = source
    prog.cache[CACHE_MEMORY_MAP] = _add_segments(prog, k, holder)
    files = debug_info_files(k) if debug_info is None else debug_info
    _check_build_ids(files, text)
    try:
        prog.load_debug_info(files, default=default_debug_info)
    except drgn.MissingDebugInfoError as e:
        missing = e
    else:
        missing = None
    try:
        prog.type("struct task_struct")
    except LookupError:
        raise drgn.MissingDebugInfoError(
            f"no DWARF of the kernel (vmlinux) for drgn among {files or 'no files'}: give "
            f"debug_info=[the -dbg package's vmlinux, kvm.ko, ...] (the lab: kvmdci-lab build "
            f"--dwarf-vmlinux puts them in debug/ next to its vmlinux) or "
            f"default_debug_info=True") from None
    if missing:
        # vmlinux is there: modules without DWARF only lack their types
        print(f"kvmdci.drgn: {missing}", file=sys.stderr)
    return prog


def _add_segments(prog, k, holder):
    """drgn's memory: physical RAM read through libkvmdci, and two linear virtual mappings of
    it; drgn's own page-table walker (from the core file's VMCOREINFO: swapper_pg_dir) does
    every other virtual address. drgn 0.0.22 takes an error raised by a Python read callback
    as an error, never as a fault (drgn_error_from_python() in its libdrgn/python/error.c),
    while its unwinder and helpers treat a fault as "not there" (a stack trace ends at the
    last readable frame): so the callbacks cover only memory that exists, and an unmapped
    address is a fault drgn makes itself (no segment, or a page-table entry not present).
    Segments added later take precedence over the page-table reader. Returns what the RAM
    list came from: "iomem" or "none" (then all of physical memory is offered)."""
    ram = ram_ranges(k)
    for start, end in ram or [(0, (1 << 64) - 1)]:
        prog.add_memory_segment(start, end - start, _phys_reader(holder, start), True)
    # the kernel image, [_text, _end), at phys_base (__pa_symbol(): x - __START_KERNEL_map +
    # phys_base, 0xffffffff80000000 by the x86-64 ABI): it holds swapper_pg_dir, which drgn
    # 0.0.22 reads through its virtual address (without this: "recursive address translation")
    text, end = _symbol(k, "_text"), _symbol(k, "_end")
    phys_base = getattr(k, "phys_base", None)
    if text is not None and end is not None and end > text and phys_base is not None:
        prog.add_memory_segment(text, end - text,
                                _phys_reader(holder, text - _START_KERNEL_MAP + phys_base),
                                False)
    # the direct map (page_offset_base, randomized with KASLR): all RAM, linearly; most kernel
    # objects (slab: tasks, vCPUs) live there, so most reads need no page-table walk
    pob = _symbol(k, "page_offset_base")
    if ram and pob is not None:
        base = _u64(k, pob)
        for start, end in ram:
            prog.add_memory_segment(base + start, end - start, _phys_reader(holder, start),
                                    False)
    return "iomem" if ram else "none"


def _check_build_ids(files, text):
    """drgn 0.0.22 takes any vmlinux: refuse one that is not the running kernel (its build id
    against VMCOREINFO's BUILD-ID, when both have one), before it reads garbage."""
    want = None
    for line in text.decode(errors="replace").splitlines():
        if line.startswith("BUILD-ID="):
            want = line[len("BUILD-ID="):].strip().lower()
    if not want:
        return
    for p in files:
        info = _elf_info(p)
        if info and info[0] == 2 and info[2] and info[2] != want:  # ET_EXEC: a vmlinux
            raise ValueError(f"{p}: build id {info[2]} is not the running kernel's ({want}, "
                             f"its VMCOREINFO): give the -dbg vmlinux of the running kernel")
