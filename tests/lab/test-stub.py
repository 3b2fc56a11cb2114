#!/usr/bin/env python3
"""The debug stub is untrusted input: every tool against a stub bent one way at a time.

tests/lab/hostile_stub.py serves a real lab dump over the GDB remote protocol, faithfully or
with one misbehaviour (MODES there). Every tool runs against each: it must end by itself (or
within 5 s of a SIGINT), without a sanitizer report, with bounded memory (peak RSS), and
honestly: where the misbehaviour is one the protocol allows (run-length encoding, escapes,
console packets, unrequested stop replies...) the answer equals the one the faithful stub
gives, which must equal what the tool reads from the dump file itself (the ground truth);
where it is not, the tool exits 1 and its message names what went wrong.

The dump: $KVMDCI_STUB_DUMP (the kernel files from $KVMDCI_VMLINUX etc.), or the one
lab-hostile made inside its own lab boot and left at $KVMDCI_STUB_FROM_LAB (with the kernel
files in FILE.json; both removed here after use). Tools: $KVMDCI_STUB_TOOLS, else
$KVMDCI_TOOLS; $KVMDCI_STUB_ONLY=tool,tool limits the tools. The tools of one mode run at
the same time (the stub serves each connection in a thread).
    test-stub.py [MODE...]
"""
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hostile_stub  # noqa: E402

BUILD = os.environ.get("MESON_BUILD_ROOT") or os.path.join(HERE, "..", "..", "build")
TOOLS = (os.environ.get("KVMDCI_STUB_TOOLS") or os.environ.get("KVMDCI_TOOLS") or
         os.path.join(BUILD, "tools"))
RSS_LIMIT_KB = 400 * 1024
RUN_LIMIT_S = 25

failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(what)


TOOL_RUNS = [
    ("kvmdci-cpus", []),
    ("kvmdci-iobus", []),
    ("kvmdci-vcpu", []),
    ("kvmdci-kernel", []),
    ("kvmdci-stack", ["-c", "0"]),
    ("kvmdci-vmcs", []),
]

# misbehaviours the protocol allows: the answer must be the faithful one
SAME = {"rle", "escape", "console", "stray-stop", "early-ok", "garbage", "slow"}
# the faithful answer, or (the stray packet taken for one command's reply, which is that
# command's error) exit 1 naming it; never a different answer with exit 0
SAME_OR_FAIL = {"stray-ok": r"not .* but 'OK'|stray", "short-p": None, "long-p": None,
                # a tool that needs no more than the kernel is done before the close
                "close-late": r"lost|closed"}
EXPECT_FAIL_IF_RC1 = {}
# the others: exit 1, and the message must match (case-insensitive)
EXPECT = {
    "bitsize-neg": r"bitsize",
    "bitsize-huge": r"bitsize",
    "bitsize-odd": r"bitsize",
    "regnum-huge": r"regnum",
    "regnum-max": r"regnum",
    "xml-endless": r"target description.*(limit|larger)",
    "xml-fanout": r"xi:include|includ",
    "threads-endless": r"thread",
    "short-p": r"register \w+ of CPU \d+: the stub sent",
    "long-p": r"register \w+ of CPU \d+: the stub sent",
    "mem-e01": r"read",
    "mem-malformed": r"malformed",
    "mem-zero": r"(zero|read|build-id|banner)",
    "mem-short": r"(read|short)",
    "close-at-once": r"closed",
    "silent": r"silent|no reply",
    "close-mid": r"lost|closed",
    "bad-checksum": r"checksum",
    "noack-misuse": r"checksum",
    "huge-packet": r"too long|packet",
    "nul-bytes": r"malformed",
    "delay": r"no reply",
}


def run_tool(sock, tool, args):
    """Run one tool; SIGINT after RUN_LIMIT_S, SIGKILL 5 s later. Returns rc, out, err,
    peak RSS (KiB), hung (True when it outlived the SIGINT by 5 s)."""
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    env.pop("KVMDCI_LOG", None)
    outf = open(os.path.join(WORK, tool + ".out"), "w+")
    errf = open(os.path.join(WORK, tool + ".err"), "w+")
    p = subprocess.Popen([os.path.join(TOOLS, tool), "-t", f"gdb+unix://{sock}", "--json"] +
                         args, env=env, stdout=outf, stderr=errf)
    hung = False
    t0 = time.monotonic()
    sigint_at = None
    while True:
        pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            status = (st, ru)
            break
        now = time.monotonic()
        if sigint_at is None and now - t0 > RUN_LIMIT_S:
            p.send_signal(signal.SIGINT)
            sigint_at = now
        elif sigint_at is not None and now - sigint_at > 5:
            hung = True
            p.kill()
        time.sleep(0.05)
    p.returncode = os.waitstatus_to_exitcode(status[0])
    outf.seek(0)
    errf.seek(0)
    return p.returncode, outf.read(), errf.read(), status[1].ru_maxrss, hung


def comparable(out):
    try:
        doc = json.loads(out)
    except ValueError:
        return None
    if isinstance(doc, dict):
        doc.pop("target", None)
        doc.pop("stats", None)
        doc.pop("kaslr_source", None)  # how the offset was found differs by target kind
    return doc


def differences(truth, got, path=""):
    """Where @got differs from @truth; a value the dump cannot know (null there, e.g. whether
    a CPU has virtualization enabled, which only a live stub's registers tell) is skipped."""
    if truth is None:
        return []
    if isinstance(truth, dict) and isinstance(got, dict):
        out = []
        for k, v in truth.items():
            out += differences(v, got.get(k), f"{path}.{k}")
        return out
    if isinstance(truth, list) and isinstance(got, list) and len(truth) == len(got):
        return [d for i, (a, b) in enumerate(zip(truth, got))
                for d in differences(a, b, f"{path}[{i}]")]
    return [] if truth == got else [f"{path}: {truth!r} != {got!r}"]


def differences_but_errors(truth, got):
    """Differences other than an entry replaced by {"cpu": N, "error": ...}."""
    if isinstance(truth, dict) and isinstance(got, dict):
        if "error" in got and "error" not in truth:
            return []
        return [d for k, v in truth.items() for d in differences_but_errors(v, got.get(k))]
    if isinstance(truth, list) and isinstance(got, list) and len(truth) == len(got):
        return [d for a, b in zip(truth, got) for d in differences_but_errors(a, b)]
    return [] if truth == got else [(truth, got)]


def start_stub(dump_path, mode, env=None, stderr=None):
    sock = os.path.join(WORK, f"{mode}.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "hostile_stub.py"), dump_path,
                          sock, mode], env=dict(os.environ, **(env or {})), stderr=stderr)
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    return p, sock


def main():
    dump = os.environ.get("KVMDCI_STUB_DUMP")
    from_lab = None if dump else os.environ.get("KVMDCI_STUB_FROM_LAB")
    if from_lab:
        dump = from_lab
        if os.path.exists(from_lab + ".json"):
            with open(from_lab + ".json") as f:
                os.environ.update(json.load(f))
    if not dump or not os.path.exists(dump):
        print(f"FAIL no dump at {dump}: lab-hostile makes it (run the lab suite in order), "
              "or set KVMDCI_STUB_DUMP to a dump from `kvmdci-lab dump FILE`")
        return 1
    try:
        return run_all(dump)
    finally:
        if from_lab:
            for f in (from_lab, from_lab + ".json"):
                if os.path.exists(f):
                    os.unlink(f)


def run_all(dump):
    global WORK
    WORK = tempfile.mkdtemp(prefix="kvmdci-stub-")
    os.environ["KVMDCI_JSON_LOG"] = os.path.join(WORK, "json-documents")
    modes = sys.argv[1:] or list(hostile_stub.MODES)
    only = os.environ.get("KVMDCI_STUB_ONLY")
    if only:
        TOOL_RUNS[:] = [tr for tr in TOOL_RUNS if tr[0] in only.split(",")]
    t_start = time.monotonic()
    # the ground truth: each tool on the dump file itself
    truth = {}
    for tool, args in TOOL_RUNS:
        r = subprocess.run([os.path.join(TOOLS, tool), "-t", f"core://{dump}", "--json"] + args,
                           capture_output=True, text=True, timeout=120)
        truth[tool] = comparable(r.stdout) if r.returncode == 0 else None
    # how many packets finding the kernel takes (kvmdci-kernel does no more): close-late
    # closes the connection a few packets later, in the middle of every other tool's walk
    with open(os.path.join(WORK, "count"), "w+") as cf:
        stub, sock = start_stub(dump, "faithful", {"HOSTILE_STUB_VERBOSE": "1"}, cf)
        run_tool(sock, "kvmdci-kernel", [])
        time.sleep(0.5)
        stub.kill()
        stub.wait()
        cf.seek(0)
        m = re.search(r"(\d+) packets served", cf.read())
    kernel_packets = int(m.group(1)) if m else 650
    print(f"finding the kernel takes {kernel_packets} packets", flush=True)
    faithful = {}
    for mode in ["faithful"] + [m for m in modes if m != "faithful"]:
        stub, sock = start_stub(dump, mode,
                                {"HOSTILE_STUB_CLOSE_AFTER": str(kernel_packets + 5)})
        try:
            results = {}

            def one(tool, args):
                t0 = time.monotonic()
                results[tool] = run_tool(sock, tool, args) + (time.monotonic() - t0,)
            threads = [threading.Thread(target=one, args=tr) for tr in TOOL_RUNS]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            for tool, args in TOOL_RUNS:
                label = f"{mode}: {tool}"
                rc, out, err, rss, hung, took = results[tool]
                last = err.strip().splitlines()[-1] if err.strip() else ""
                check(f"{label}: ends by itself or within 5 s of SIGINT", not hung,
                      f"still running 5 s after SIGINT at {RUN_LIMIT_S} s")
                check(f"{label}: no sanitizer report",
                      not re.search(r"AddressSanitizer|LeakSanitizer|runtime error", err),
                      err[-1500:])
                check(f"{label}: peak RSS {rss // 1024} MiB within {RSS_LIMIT_KB // 1024}",
                      rss < RSS_LIMIT_KB)
                doc = comparable(out)
                if mode == "faithful":
                    faithful[tool] = doc
                    diff = differences(truth[tool], doc)
                    check(f"{label}: exits 0 and answers as the dump file does",
                          rc == 0 and doc is not None and not diff,
                          f"rc={rc} {last} {diff[:3]}")
                elif mode in SAME_OR_FAIL and rc == 0 and SAME_OR_FAIL[mode]:
                    check(f"{label}: exits 0 with the faithful answer", doc == faithful.get(tool),
                          f"rc={rc} {last}")
                elif mode in SAME_OR_FAIL and rc == 0:
                    # a register the walk did not need may be unreadable: never a wrong value
                    check(f"{label}: exits 0 without a register value the stub mangled",
                          doc == faithful.get(tool) or (
                              re.search(EXPECT[mode], err, re.I) and
                              not differences_but_errors(faithful.get(tool), doc)),
                          f"rc={rc} {err.strip()[-300:]}")
                elif mode in SAME:
                    check(f"{label}: exits 0 with the faithful answer",
                          rc == 0 and doc == faithful.get(tool), f"rc={rc} {last}")
                else:
                    pat = EXPECT.get(mode) or SAME_OR_FAIL.get(mode) or "."
                    check(f"{label}: exits 1 naming the cause (/{pat}/)",
                          rc == 1 and re.search(pat, err, re.I) is not None,
                          f"rc={rc} took {took:.1f}s: {err.strip()[-400:]}")
                    check(f"{label}: a JSON error document",
                          rc != 1 or (isinstance(doc, dict) and "error" in doc),
                          out[-300:])
                    if mode == "close-late" and isinstance(doc, dict) and set(doc) - {
                            "format", "error", "errno"}:
                        check(f"{label}: what was read before the loss says incomplete",
                              doc.get("incomplete") is True, out[-300:])
        finally:
            stub.kill()
            stub.wait()
    # every JSON document the tools printed, against its schema (kvmdci-json(7))
    import json_schemas
    docs, tools, bad = json_schemas.check_log(os.environ["KVMDCI_JSON_LOG"])
    check(f"{docs} JSON documents of {len(tools)} tools match their schemas", docs and not bad,
          "; ".join(bad[:5]))
    took = time.monotonic() - t_start
    print(f"{len(modes)} modes x {len(TOOL_RUNS)} tools in {took:.0f} s; "
          f"{len(failures)} failures")
    shutil.rmtree(WORK, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
