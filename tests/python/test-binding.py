#!/usr/bin/env python3
"""The kvmdci Python module without a target: it imports from the build tree, its version is
the project's, errors are kvmdci.Error (an OSError carrying the library's errno and message),
bad arguments are TypeError/ValueError, the VMCS and exit-reason tables answer as the Intel
SDM says, every public callable has a docstring.
Usage: test-binding.py PROJECT_VERSION (PYTHONPATH names the package's directory)."""
import errno
import inspect
import os
import sys
import tempfile

import kvmdci

failed = passed = 0


def check(name, ok, detail=""):
    global failed, passed
    if ok:
        passed += 1
    else:
        failed += 1
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + str(detail) if detail and not ok else ''}",
          flush=True)


def raises(fn, exc):
    try:
        fn()
    except exc as e:
        return e
    except BaseException as e:      # noqa: BLE001
        return f"raised {type(e).__name__}: {e}"
    return "raised nothing"


def main():
    version = sys.argv[1]
    check("kvmdci.version() is the project's version", kvmdci.version() == version,
          kvmdci.version())
    check("the extension comes from the build tree named by PYTHONPATH",
          os.path.dirname(kvmdci._kvmdci.__file__) ==
          os.path.join(os.environ["PYTHONPATH"].split(":")[0], "kvmdci"), kvmdci._kvmdci.__file__)
    check("features() names dwarf and btf", {"dwarf", "btf"} <= set(kvmdci.features().split()),
          kvmdci.features())

    # the exception classes
    check("Error is an OSError, FaultError an Error",
          issubclass(kvmdci.Error, OSError) and issubclass(kvmdci.FaultError, kvmdci.Error))

    # a dump that is not there: ENOENT with the path in the message
    e = raises(lambda: kvmdci.open("core:///nonexistent/vmcore"), kvmdci.Error)
    check("open(core:///nonexistent/vmcore): Error, errno ENOENT, the path in the message",
          isinstance(e, kvmdci.Error) and e.errno == errno.ENOENT and
          "/nonexistent/vmcore" in e.strerror and "\n" not in e.strerror, e)
    # an unknown scheme: EINVAL naming the URI and the schemes there are
    e = raises(lambda: kvmdci.open("bogus://x"), kvmdci.Error)
    check("open(bogus://x): Error EINVAL naming the URI and the known schemes",
          isinstance(e, kvmdci.Error) and e.errno == errno.EINVAL and "bogus://x" in str(e) and
          "gdb+unix://" in str(e), e)
    # a socket nobody listens on
    with tempfile.TemporaryDirectory() as d:
        sock = os.path.join(d, "none.sock")
        e = raises(lambda: kvmdci.open("gdb+unix://" + sock), kvmdci.Error)
        check("open(gdb+unix:// a missing socket): Error ENOENT naming the socket",
              isinstance(e, kvmdci.Error) and e.errno == errno.ENOENT and sock in str(e), e)
        # a file that is not a dump
        junk = os.path.join(d, "junk")
        with open(junk, "wb") as f:
            f.write(b"not an ELF core, not a kdump file\n" * 100)
        e = raises(lambda: kvmdci.open("core://" + junk), kvmdci.Error)
        check("open(core:// a file that is no dump): Error naming the file, not a crash",
              isinstance(e, kvmdci.Error) and e.errno in (errno.EINVAL, errno.EPROTO) and
              junk in str(e), e)
        # a missing vmlinux given as an argument is named (after the target: a missing dump
        # is found first, so give an existing junk dump... the URI fails first): the type
        # of the argument is checked before anything is opened
        e = raises(lambda: kvmdci.open("core://" + junk, vmlinux=123), TypeError)
        check("open(vmlinux=123): TypeError before anything is opened",
              isinstance(e, TypeError), e)
    check("open(''): ValueError", isinstance(raises(lambda: kvmdci.open(""), ValueError),
                                             ValueError))
    check("open(None): TypeError", isinstance(raises(lambda: kvmdci.open(None), TypeError),
                                              TypeError))
    check("Kernel() cannot be made without open()",
          isinstance(raises(lambda: kvmdci.Kernel(), TypeError), TypeError))

    # Error built by hand keeps errno and message like any OSError
    e = kvmdci.FaultError(errno.EFAULT, "cannot read 0x10")
    check("FaultError has errno, strerror and address (None when not set)",
          e.errno == errno.EFAULT and e.strerror == "cannot read 0x10" and e.address is None)

    # the tables, against the Intel SDM (vol. 3, appendix B and C)
    check("exit_reason_name('vmx', 30) is IO_INSTRUCTION (SDM appendix C: 30 = I/O "
          "instruction)", kvmdci.exit_reason_name("vmx", 30) == "IO_INSTRUCTION",
          kvmdci.exit_reason_name("vmx", 30))
    check("exit_reason_name('vmx', 12) is HLT", kvmdci.exit_reason_name("vmx", 12) == "HLT")
    check("exit_reason_name('svm', 0x78) is hlt (AMD APM: VMEXIT_HLT = 78h)",
          kvmdci.exit_reason_name("svm", 0x78) == "hlt", kvmdci.exit_reason_name("svm", 0x78))
    check("exit_reason_name of an unknown code: None",
          kvmdci.exit_reason_name("vmx", 0xffff) is None)
    check("exit_reason_name('arm', 1): ValueError",
          isinstance(raises(lambda: kvmdci.exit_reason_name("arm", 1), ValueError), ValueError))
    f = kvmdci.vmcs_field("GUEST_RIP")
    check("vmcs_field('GUEST_RIP'): encoding 0x681e, guest, natural width (SDM B.4.4)",
          f == {"name": "GUEST_RIP", "encoding": 0x681E, "type": "guest", "width": "natural",
                "high": False}, f)
    f = kvmdci.vmcs_field(0x4402)
    check("vmcs_field(0x4402) is VM_EXIT_REASON, exit_info, 32 bits (SDM B.3.2)",
          f["name"] == "VM_EXIT_REASON" and f["type"] == "exit_info" and f["width"] == "32", f)
    check("vmcs_field('NO_SUCH'): KeyError",
          isinstance(raises(lambda: kvmdci.vmcs_field("NO_SUCH"), KeyError), KeyError))
    check("vmcs_field(2**40): ValueError",
          isinstance(raises(lambda: kvmdci.vmcs_field(2 ** 40), ValueError), ValueError))

    # Record: keys as attributes, equal to the plain dict
    r = kvmdci._wrap({"address": 1, "regs": {"rip": 2}, "l": [{"a": 3}]})
    check("Record: keys as attributes, nested too, equal to the dict",
          r.address == 1 and r.regs.rip == 2 and r.l[0].a == 3 and
          r == {"address": 1, "regs": {"rip": 2}, "l": [{"a": 3}]})
    e = raises(lambda: r.nope, AttributeError)
    check("Record: a missing field is an AttributeError naming the fields there are",
          isinstance(e, AttributeError) and "address" in str(e), e)

    # docstrings on everything public
    missing = []
    for name in kvmdci.__all__:
        obj = getattr(kvmdci, name)
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if inspect.isclass(obj):
            for mname, m in vars(obj).items():
                if not mname.startswith("_") and callable(m) or isinstance(m, property):
                    if not mname.startswith("_") and not (getattr(m, "__doc__", "") or "").strip():
                        missing.append(f"{name}.{mname}")
    for cls in (kvmdci._kvmdci.Kernel, kvmdci.Trace):
        for mname in dir(cls):
            if mname.startswith("_"):
                continue
            if not (getattr(cls, mname).__doc__ or "").strip():
                missing.append(f"{cls.__name__}.{mname}")
    check("every public function, class, method and property has a docstring", not missing,
          missing)

    print(f"{passed} passed, {failed} failed", flush=True)
    raise SystemExit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
