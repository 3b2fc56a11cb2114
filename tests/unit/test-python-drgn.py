#!/usr/bin/python3
"""kvmdci.drgn without a target: the VMCOREINFO-only core file against Debian's drgn itself,
the argument and error paths of kvmdci.drgn.program(), and the build-id check of a DWARF
vmlinux (an executable made here, its build id read back by readelf).

Needs python3-drgn (/usr/bin/python3) and the kvmdci package (PYTHONPATH=build/python).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import drgn
except ImportError as e:
    print(f"SKIP: drgn is not importable by {sys.executable} ({e}): scripts/install-deps.sh "
          f"installs python3-drgn (Debian's, for /usr/bin/python3)")
    raise SystemExit(77)

import kvmdci
import kvmdci.drgn as kd

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + str(detail) if detail else ''}", flush=True)


def raises(name, exc, fn, match=None):
    try:
        fn()
    except exc as e:
        check(name, match is None or re.search(match, str(e)), f"{type(e).__name__}: {e}")
        return e
    except Exception as e:  # noqa: BLE001 - the wrong exception is a failure, shown
        check(name, False, f"{type(e).__name__}: {e}")
        return None
    check(name, False, "no exception")
    return None


def drgn_program_of(core):
    fd = os.memfd_create("test")
    try:
        os.write(fd, core)
        prog = drgn.Program()
        prog.set_core_dump(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)
    return prog


VMCI = (b"OSRELEASE=6.1.0-57-cloud-amd64\nPAGESIZE=4096\n"
        b"SYMBOL(swapper_pg_dir)=ffffffffa7410000\nKERNELOFFSET=24a00000\n")

# the core file: drgn itself takes it for a Linux kernel of x86-64
prog = drgn_program_of(kd.core_file(VMCI))
check("a VMCOREINFO-only core file makes drgn's Program a Linux kernel",
      prog.flags & drgn.ProgramFlags.IS_LINUX_KERNEL and
      not prog.flags & drgn.ProgramFlags.IS_LIVE, prog.flags)
check("... of x86-64", prog.platform.arch == drgn.Architecture.X86_64, prog.platform)
# it has no memory: a read goes to drgn's page-table walker and fails as a fault, not a crash
raises("... with no memory of its own (a read is a FaultError)", drgn.FaultError,
       lambda: prog.read(0xffffffffa7410000, 8))
# drgn's own parser needs what kd._REQUIRED lists
raises("drgn refuses a VMCOREINFO without swapper_pg_dir", Exception,
       lambda: drgn_program_of(kd.core_file(b"OSRELEASE=6.1.0\nPAGESIZE=4096\n")),
       "swapper_pg_dir")
raises("core_file(str): TypeError", TypeError, lambda: kd.core_file("OSRELEASE=x\n"))

# program(): bad arguments, each one clear error before or instead of any target work
raises("program(123): TypeError", TypeError, lambda: kd.program(123))
raises("program(uri, debug_info='one path'): TypeError", TypeError,
       lambda: kd.program("core:///nonexistent.elf", debug_info="/boot/vmlinux"))
raises("program(uri, debug_info=[missing]): ValueError naming it", ValueError,
       lambda: kd.program("core:///nonexistent.elf", debug_info=["/nonexistent/vmlinux"]),
       "/nonexistent/vmlinux")
raises("program(uri, vmcoreinfo=5): TypeError", TypeError,
       lambda: kd.program("core:///nonexistent.elf", vmcoreinfo=5))
raises("program(uri, vmcoreinfo without OSRELEASE and swapper_pg_dir): ValueError naming them",
       ValueError, lambda: kd.program("core:///nonexistent.elf", vmcoreinfo=b"PAGESIZE=4096\n"),
       r"OSRELEASE.*swapper_pg_dir")
tmp = tempfile.mkdtemp(prefix="kvmdci-drgn-")
try:
    missing = os.path.join(tmp, "no-such-dump.elf")
    e = raises("program('core:///missing'): kvmdci.Error, errno ENOENT, naming the file",
               kvmdci.Error, lambda: kd.program("core://" + missing), "no-such-dump")
    check("... errno ENOENT", e is not None and e.errno == 2, getattr(e, "errno", None))
    raises("program('nosuch://x'): kvmdci.Error", kvmdci.Error, lambda: kd.program("nosuch://x"))
    raises("kernel(a Program not made here): ValueError", ValueError,
           lambda: kd.kernel(drgn.Program()))

    # the build-id check of a vmlinux: an executable (ET_EXEC, like vmlinux) made here
    src = os.path.join(tmp, "a.c")
    exe = os.path.join(tmp, "a.out")
    with open(src, "w") as f:
        f.write("int main(void) { return 0; }\n")
    subprocess.run(["cc", "-no-pie", "-g", "-Wl,--build-id=sha1", "-o", exe, src], check=True)
    out = subprocess.run(["readelf", "-n", exe], capture_output=True, text=True,
                         check=True).stdout
    want = re.search(r"Build ID: ([0-9a-f]+)", out).group(1)
    info = kd._elf_info(exe)
    check("an executable's type, DWARF and build id as readelf says", info == (2, True, want),
          f"{info} vs readelf {want}")
    raises("a vmlinux whose build id is not VMCOREINFO's BUILD-ID: ValueError naming both",
           ValueError, lambda: kd._check_build_ids([exe], b"BUILD-ID=" + b"0" * 40 + b"\n"),
           want)
    try:
        kd._check_build_ids([exe], b"BUILD-ID=" + want.encode() + b"\n")
        kd._check_build_ids([exe], b"OSRELEASE=x\n")
        check("the same build id, or a VMCOREINFO without BUILD-ID, passes", True)
    except ValueError as e:
        check("the same build id, or a VMCOREINFO without BUILD-ID, passes", False, e)
    check("a file that is not ELF: no info", kd._elf_info(src) is None)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
