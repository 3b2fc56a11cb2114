#!/usr/bin/env python3
"""The command line of every kvmdci-* tool, without a target:
- output that cannot be written (stdout on /dev/full, or a pipe whose reader is gone) is never
  a success: --help, --version and kvmdci-catalog list/show exit non-zero then;
- --version (and --version --json) names the tool, the library's version and its features;
- an unknown option is one line and a hint, exit 2 (not the whole help);
- a malformed -t URI is bad usage: exit 2;
- numeric options refuse nan, inf, negatives, overflow and trailing text (exit 2), and take
  good values (the run then fails later, on the unreachable target: exit 1).
Usage: test-tools-cli.py SRCDIR TOOLSDIR VERSION"""
import glob
import json
import os
import subprocess
import sys

src, tools, version = sys.argv[1:4]
bad = checked = 0
NO_TARGET = "gdb+unix:///nonexistent/kvmdci-test.sock"
# every C tool (from the source tree, so a new one cannot be forgotten) and kvmdci-lab
C_TOOLS = sorted(os.path.basename(p)[:-2] for p in glob.glob(f"{src}/tools/kvmdci-*.c"))
ALL_TOOLS = C_TOOLS + ["kvmdci-lab"]
# what makes a tool talk to a target (kvmdci-catalog: its check command)
TARGET_ARGS = {"kvmdci-catalog": ["check"], "kvmdci-trace": ["--bp", "kvm_io_bus_write"],
               "kvmdci-dci": None, "kvmdci-lab": None}


def check(ok, what, p=None):
    global bad, checked
    checked += 1
    if not ok:
        bad += 1
        detail = f"\n  rc={p.returncode} stdout={(p.stdout or '')[:300]!r} stderr={p.stderr[:600]!r}" if p else ""
        print(f"FAIL {what}{detail}")


def run(tool, args, stdout=subprocess.PIPE):
    env = dict(os.environ)
    env.pop("KVMDCI_TARGET", None)
    return subprocess.run([f"{tools}/{tool}"] + args, stdout=stdout, stderr=subprocess.PIPE,
                          text=True, errors="replace", timeout=60, env=env)


def closed_pipe_run(tool, args):
    r, w = os.pipe()
    os.close(r)
    try:
        return run(tool, args, stdout=w)
    finally:
        os.close(w)


def lost_output(tool, args, label):
    with open("/dev/full", "w") as full:
        p = run(tool, args, stdout=full)
    check(p.returncode == 1 and "write error" in p.stderr and "No space left" in p.stderr,
          f"{tool} {label} >/dev/full: exit 1 with 'write error ... No space left'", p)
    p = closed_pipe_run(tool, args)
    # coreutils: a reader that went away ends the writer quietly (by SIGPIPE, or exit 1)
    check(p.returncode != 0 and "rror" not in p.stderr,
          f"{tool} {label} into a pipe nobody reads: non-zero exit, nothing said", p)


for tool in ALL_TOOLS:
    p = run(tool, ["--help"])
    check(p.returncode == 0 and "--help" in p.stdout, f"{tool} --help: exit 0, the help", p)
    lost_output(tool, ["--help"], "--help")
    lost_output(tool, ["--version"], "--version")

    p = run(tool, ["--version"])
    first = p.stdout.splitlines()[0] if p.stdout else ""
    check(p.returncode == 0 and first == f"{tool} {version}", f"{tool} --version: '{tool} {version}'", p)
    if tool in C_TOOLS:
        check(f"libkvmdci {version}" in p.stdout and "libusb" in p.stdout and
              "libkdumpfile" in p.stdout and "dwarf" in p.stdout,
              f"{tool} --version: the library's version and features", p)
        for args in (["--version", "--json"], ["-j", "-V"]):
            p = run(tool, args)
            try:
                doc = json.loads(p.stdout)
            except ValueError:
                doc = {}
            check(p.returncode == 0 and doc.get("tool") == tool and
                  doc.get("library_version") == version and
                  {"libusb", "libkdumpfile", "dwarf", "btf"} <= set(doc.get("features", [])),
                  f"{tool} {' '.join(args)}: one JSON object with version and features", p)

    p = run(tool, ["--no-such-option"])
    lines = p.stderr.strip().splitlines()
    if tool == "kvmdci-lab":  # argparse: its usage line, then the error
        ok = len(lines) <= 3 and "no-such-option" in p.stderr
    else:
        ok = len(lines) == 2 and "no-such-option" in lines[0] and \
            lines[1] == f"Try '{tool} --help' for more information."
    check(p.returncode == 2 and ok and not p.stdout,
          f"{tool} --no-such-option: exit 2, the error and a hint only", p)

    targs = TARGET_ARGS.get(tool, [])
    if targs is not None:
        for uri in ("bogus://x", "gdb://", "gdb://host:notaport", "core://relative"):
            p = run(tool, targs + ["-t", uri])
            check(p.returncode == 2 and "invalid target URI" in p.stderr and
                  f"Try '{tool} --help'" in p.stderr,
                  f"{tool} -t {uri}: bad usage, exit 2", p)

# numeric options: one parser; each bad value is exit 2 with a line naming the option
NUMERIC = [
    ("kvmdci-exits", "--duration", ["nan", "inf", "-1", "1e400", "5x", "", " 5", "0", "0x10"], "2"),
    ("kvmdci-exits", "--count", ["-1", "18446744073709551616", "1x", "0", " 3", "+3", ""], "3"),
    ("kvmdci-exits", "--interval", ["0", "0.05", "3601", "nan", "1x", ""], "0.5"),
    ("kvmdci-exits", "--vcpu", ["-1", "2147483648", "1x"], "1"),
    ("kvmdci-exits", "--vm", ["0", "-5", "0xzz", "12x"], "0xffff888003a1c000"),
    ("kvmdci-trace", "--count", ["-1", "18446744073709551616", "1.5", "0"], "3"),
    ("kvmdci-trace", "--duration", ["nan", "-inf", "-2", "1e999", "3s"], "0.5"),
    ("kvmdci-stack", "--cpu", ["-1", "65536", "1x", "99999999999999999999"], "1"),
    ("kvmdci-stack", "--pid", ["-1", "2147483648", "pid"], "1"),
    ("kvmdci-stack", "--task", ["-1", "0", "xyz", "0x"], "ffff888003a1c000"),
    ("kvmdci-vcpu", "--vcpu", ["-1", "2147483648", "1x"], "0"),
    ("kvmdci-vmcs", "--vcpu", ["-1", "4294967296", "nan"], "0"),
]
for tool, opt, values, good in NUMERIC:
    extra = TARGET_ARGS.get(tool, [])
    for v in values:
        p = run(tool, extra + [opt, v, "-t", NO_TARGET])
        check(p.returncode == 2 and opt in p.stderr and f"Try '{tool} --help'" in p.stderr,
              f"{tool} {opt} {v!r}: refused, exit 2", p)
    # a good value passes the parser: the run then fails on the missing target (exit 1)
    p = run(tool, extra + [opt, good, "-t", NO_TARGET])
    check(p.returncode == 1 and "nonexistent" in p.stderr, f"{tool} {opt} {good}: taken", p)

# kvmdci-exits --live draws on a terminal: refused with a pipe on stdout or JSON, and
# --interval with --counters (no trigger), each with a line that says what to use instead
for args, says in ((["--live"], "needs a terminal"), (["--live", "--json"], "--interval S"),
                   (["--live", "--counters"], "--interval S"),
                   (["--interval", "1", "--counters"], "needs a trigger")):
    p = run("kvmdci-exits", args + ["-t", NO_TARGET])
    check(p.returncode == 2 and says in p.stderr and not p.stdout and
          len(p.stderr.strip().splitlines()) == 1, f"kvmdci-exits {' '.join(args)}: exit 2", p)

# a tool's own output (not help text): kvmdci-catalog needs no target
for args in (["list"], ["list", "--json"], ["show", "svm_handle_exit"]):
    lost_output("kvmdci-catalog", ["--catalog", f"{src}/catalog"] + args, " ".join(args))

# a catalog error is said once, and as a JSON error document even when the message holds bytes
# that are not UTF-8 (a file name in another encoding)
for args in (["list"], ["show", "x"]):
    bad_name = os.fsdecode(b"/nonexistent/caf\xe9-\xff.json")
    p = run("kvmdci-catalog", ["--catalog", bad_name] + args)
    check(p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and
          "caf" in p.stderr, f"kvmdci-catalog {args[0]} on a missing catalog: one error line", p)
    p = subprocess.run([f"{tools}/kvmdci-catalog", "--json", "--catalog", bad_name] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = {}
    check(p.returncode == 1 and "cannot open catalog" in doc.get("error", "") and
          "caf\\xe9-\\xff.json" in doc.get("error", "") and doc.get("errno") == 2,
          f"kvmdci-catalog --json {args[0]}: the error document, bad bytes as \\xNN", p)

print(f"{checked - bad}/{checked} checks passed")
sys.exit(1 if bad else 0)
