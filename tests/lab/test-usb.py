#!/usr/bin/env python3
"""usb:// end to end without hardware: a USB 3 debug-class cable emulated with umockdev
(tests/usb/dbc-testbed.c: 1d6b:0010, interface DC/02/01, bulk OUT 0x01 / IN 0x81, the usbfs
ioctls libusb issues) whose bulk pipe is bridged to the lab's QEMU gdbstub. The tools run
under umockdev-wrapper as the testbed's child; libusb sees only the emulated device.

`test-usb.py fast` (suite unit, no lab): an empty bus, a serial number that matches nothing,
an interface another program holds (EBUSY), a cable whose far end never answers (read
timeout) or takes nothing (bulk OUT timeout), an unplug while the tool waits for its first
reply, the class URI with a serial number read from the string descriptors, and two cables
(a warning naming the one used; ?serial= picks either).

`test-usb.py` (suite lab), on one parked moment of the workload: kvmdci-iobus and kvmdci-vcpu
over usb://1d6b:0010 answer exactly as over gdb+unix:// (minus "stats" and "target"), the
kernel driver (usb_debug) is detached for the session and given back; then the cable is
pulled mid-session (a clear error and a prompt exit), the far end stops answering
mid-session (an error within a bounded time, the interface released), a fresh usb:// session
and gdb+unix:// then answer as before and the lab guest runs. With the workload running,
kvmdci-exits --trigger watch over usb:// ends cleanly on SIGINT and leaves no watchpoint
behind; the cable pulled mid-trace ends it at once with the results so far, and the next run
recovers the target.

Exact messages, exit codes and JSON errno values are asserted; each case's time is printed.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from e2e import TOOLS, Tool, answer_doc, check, check_target_clean, finish, run_tool

TESTBED = os.environ.get("KVMDCI_DBC_TESTBED") or os.path.join(
    os.path.dirname(os.path.abspath(TOOLS)), "tests", "usb", "dbc-testbed")
WRAPPER = shutil.which("umockdev-wrapper")

DEV = "1d6b:0010 bus 1 device 2"
HINT_ABSENT = ("(is the debug cable plugged in and the target's DbC enabled? lsusb lists "
               "what is there)")
GONE = f"the USB device is gone ({DEV} interface 0 unplugged?)"


class Run:
    """One tool run under the emulated cable: rc, stdout, stderr, report, seconds, doc."""

    def __init__(self, rc, out, err, report, seconds):
        self.rc, self.out, self.err, self.report, self.seconds = rc, out, err, report, seconds
        try:
            self.doc = json.loads(out) if out.strip() else {}
        except ValueError:
            self.doc = {}

    def lines(self):
        return self.err.strip().splitlines()

    def __str__(self):
        return f"rc={self.rc} {self.seconds:.2f} s stderr={self.err.strip()[-400:]!r}"


def dbc(testbed_args, tool, tool_args, env=None, timeout=120):
    tmp = tempfile.mkdtemp(prefix="kvmdci-usb-")
    report = os.path.join(tmp, "report.json")
    cmd = [WRAPPER, TESTBED, "--report", report, "--timeout", str(timeout)] + testbed_args + \
        ["--", os.path.join(TOOLS, tool)] + tool_args
    t0 = time.monotonic()
    r = subprocess.run(cmd, env=env or dict(os.environ), capture_output=True, text=True,
                       timeout=timeout + 30)
    seconds = time.monotonic() - t0
    try:
        with open(report) as f:
            rep = json.load(f)
    except (OSError, ValueError):
        rep = {}
    shutil.rmtree(tmp, ignore_errors=True)
    return Run(r.returncode, r.stdout, r.stderr, rep, seconds)


def brief(report):
    """The report's non-zero entries."""
    return " ".join(f"{k}={v}" for k, v in report.items() if v not in (0, False, None))


def expect_error(label, run, tool, msg, errno, lines=None):
    """Exit 1, stderr exactly `lines` (default: the one error line), the JSON error object."""
    want = lines if lines is not None else [f"{tool}: {msg}"]
    check(f"{label}: exit 1", run.rc == 1, str(run))
    check(f"{label}: stderr is exactly {want!r}", run.lines() == want, str(run))
    check(f"{label}: JSON error and errno {errno}",
          run.doc == {"format": 1, "error": msg, "errno": errno}, run.out.strip()[:300])


def fast():
    iobus = "kvmdci-iobus"

    # an empty bus: by id and by class
    r = dbc(["--no-device"], iobus, ["--json", "-t", "usb://1d6b:0010"])
    expect_error("no device (usb://1d6b:0010)", r, iobus,
                 f"usb: no USB device 1d6b:0010 {HINT_ABSENT}", 19)
    r = dbc(["--no-device"], iobus, ["--json", "-t", "usb://class=dc/02/01"])
    expect_error("no device (usb://class=dc/02/01)", r, iobus,
                 f"usb: no USB device with an interface of class dc/02/01 {HINT_ABSENT}", 19)

    # the cable is there, its serial number is not the one asked for (string descriptor 3)
    r = dbc(["--mute"], iobus, ["--json", "-t", "usb://1d6b:0010?serial=none-such"])
    expect_error("serial mismatch", r, iobus,
                 f"usb: no USB device 1d6b:0010 serial none-such {HINT_ABSENT}", 19)
    check("serial mismatch: the interface was never claimed",
          r.report.get("claims") == 0 and r.report.get("urbs") == 2, brief(r.report))

    # another program holds the interface: CLAIMINTERFACE -> EBUSY
    r = dbc(["--busy"], iobus, ["--json", "-t", "usb://1d6b:0010"])
    expect_error("interface busy", r, iobus,
                 f"usb: {DEV}: cannot claim interface 0: Resource busy "
                 "(another program holds it)", 16)
    check("interface busy: one refused claim, nothing sent",
          r.report.get("claim_refusals") == 1 and r.report.get("claims") == 0 and
          r.report.get("bytes_out") == 0, brief(r.report))
    print(f"     interface busy: exit after {r.report.get('child_seconds')} s", flush=True)

    # the far end takes the bytes and never answers: the attach's qSupported times out
    r = dbc(["--mute", "--driver", "usb_debug"], iobus,
            ["--json", "-t", "usb://class=dc/02/01?serial=0001&if=0"])
    expect_error("far end mute (class URI, serial 0001)", r, iobus,
                 "usb://class=dc/02/01?serial=0001&if=0: the stub stayed silent: not one byte "
                 "in reply to qSupported within 3 s (is this a gdbstub?)", 71)
    # the testbed marks the wait when it first polls the tool's pending IN transfer, up to a
    # poll after the tool began it: 2.995 s was seen at load 8 for the tool's 3 s
    m = r.report.get("mute_to_exit_seconds")
    check("far end mute: exit 3 s (-0.1 s for the testbed's poll) to 5 s after the tool began "
          "waiting", m is not None and 2.9 <= m <= 5.0, brief(r.report))
    check("far end mute: usb_debug detached for the session and re-attached at exit",
          r.report.get("driver_detaches") == 1 and r.report.get("driver_attaches") == 1 and
          r.report.get("driver_bound_at_end") is True and r.report.get("releases") == 1,
          brief(r.report))
    print(f"     far end mute: exit {m} s after the tool began waiting", flush=True)

    # the far end takes nothing: bulk OUT never completes
    r = dbc(["--nak-out"], iobus, ["--json", "-t", "usb://1d6b:0010"])
    expect_error("bulk OUT refused", r, iobus,
                 f"connection to usb://1d6b:0010 lost: bulk OUT 0x01 of {DEV} interface 0 took "
                 "no data for 5 s (is the debug target's DbC enabled and its agent running?)",
                 32)
    c = r.report.get("child_seconds")
    check("bulk OUT refused: exit 5 to 7 s after the start", c is not None and 5.0 <= c <= 7.0,
          brief(r.report))
    print(f"     bulk OUT refused: exit after {c} s", flush=True)

    # two cables: without ?serial= the one used is named, ?serial= picks either
    mute3 = ("the stub stayed silent: not one byte in reply to qSupported within 3 s "
             "(is this a gdbstub?)")
    r = dbc(["--mute", "--second", "0002"], iobus, ["--json", "-t", "usb://1d6b:0010"])
    lines = r.lines()
    used = [n for n in (2, 3) if lines and lines[0] == (
        f"{iobus}: warning: usb: 2 devices match 1d6b:0010; using 1d6b:0010 bus 1 device {n} "
        "(pick one with ?serial=S)")]
    claims = (r.report.get("claims"), r.report.get("second", {}).get("claims"))
    check("two cables: one warning naming the cable used, then the mute error; that cable "
          "claimed, the other not",
          len(used) == 1 and lines[1:] == [f"{iobus}: usb://1d6b:0010: {mute3}"] and
          claims == ((1, 0) if used[0] == 2 else (0, 1)), f"{lines} claims={claims}")
    for serial, want in (("0001", (1, 0)), ("0002", (0, 1))):
        uri = f"usb://1d6b:0010?serial={serial}"
        r = dbc(["--mute", "--second", "0002"], iobus, ["--json", "-t", uri])
        claims = (r.report.get("claims"), r.report.get("second", {}).get("claims"))
        check(f"two cables, ?serial={serial}: no warning, that cable claimed",
              r.lines() == [f"{iobus}: {uri}: {mute3}"] and claims == want,
              f"{r.lines()} claims={claims}")

    # pulled while the tool waits for its first reply
    r = dbc(["--mute", "--unplug-after", "0"], iobus, ["--json", "-t", "usb://1d6b:0010"])
    expect_error("unplug at attach", r, iobus, f"connection to usb://1d6b:0010 lost: {GONE}",
                 19, lines=[f"{iobus}: connection to usb://1d6b:0010 lost: {GONE}"])
    u = r.report.get("unplug_to_exit_seconds")
    check("unplug at attach: exit within 1 s of the unplug", r.report.get("unplugged") is True
          and u is not None and u < 1.0, brief(r.report))
    print(f"     unplug at attach: exit {u} s after the unplug", flush=True)


def answers(env, label, testbed_args=None):
    out, reports = {}, {}
    for name in ("kvmdci-iobus", "kvmdci-vcpu"):
        if testbed_args is None:
            p = subprocess.run([os.path.join(TOOLS, name), "--json"], env=env,
                               capture_output=True, text=True, timeout=600)
            rc, so, se, rep = p.returncode, p.stdout, p.stderr, {}
        else:
            r = dbc(testbed_args, name, ["--json", "-t", "usb://1d6b:0010"], env=env,
                    timeout=600)
            rc, so, se, rep = r.rc, r.out, r.err, r.report
            print(f"     {label}: {name} took {r.seconds:.2f} s ({rep.get('urbs')} URBs, "
                  f"{rep.get('bytes_in')} bytes in, {rep.get('bytes_out')} out)", flush=True)
        out[name] = answer_doc(label, name, rc, so, se)
        reports[name] = rep
    return out, reports


class Traced(Tool):
    """A tool running in the background under the emulated cable; stderr is collected."""

    def __init__(self, testbed_args, tool, tool_args, env):
        self.tmp = tempfile.mkdtemp(prefix="kvmdci-usb-")
        self.rep = os.path.join(self.tmp, "report.json")
        super().__init__(tool, tool_args, env,
                         prefix=[WRAPPER, TESTBED, "--report", self.rep] + testbed_args + ["--"])

    def stop(self, sig, timeout=30):
        """Signal the testbed (it passes SIGINT/SIGTERM on; SIGUSR1 unplugs): rc, JSON, s."""
        t0 = time.monotonic()
        self.p.send_signal(sig)
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        took = time.monotonic() - t0
        out = self.p.stdout.read()
        self.t.join(timeout=5)
        try:
            doc = json.loads(out) if out.strip() else {}
        except ValueError:
            doc = {}
        return self.p.returncode, doc, took

    def report(self):
        try:
            with open(self.rep) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def exits_growing(t, timeout=120):
    """Wait until KVM's exit counter (debugfs) grows: the vCPU is in KVM_RUN."""
    def exits():
        st, out = t.run("cat /sys/kernel/debug/kvm/exits", timeout=60)
        try:
            return int(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None
    deadline = time.monotonic() + timeout
    last = exits()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = exits()
        if last is not None and now is not None and now > last:
            return True
        last = now
    return False


def lab():
    from e2e import TestLab

    iobus = "kvmdci-iobus"
    with TestLab() as t:
        target = t.tool_env["KVMDCI_TARGET"]
        # the kernel cache off: every session reads the KVM modules' symbols over the cable
        # (~130 kB in all; ~60 kB with them cached), so that the unplug and the mute halfway
        # come in the walk, as this test was made for
        t.tool_env["KVMDCI_KERNEL_CACHE"] = "0"
        check("the lab's target is a gdbstub unix socket", target.startswith("gdb+unix://"),
              target)
        stub = target[len("gdb+unix://"):]
        t.parked_workload("w1", "--vms 2 --vcpus 2")
        live, _ = answers(t.tool_env, "gdb+unix")

        cable = ["--stub", stub, "--driver", "usb_debug"]
        usb, reps = answers(t.tool_env, "usb", cable)
        for name in live:
            check(f"{name}: usb://1d6b:0010 answers exactly as gdb+unix://",
                  usb[name] == live[name] and bool(live[name].get("vms")))
            rep = reps[name]
            check(f"{name} over usb: one claim and release, usb_debug detached and re-attached, "
                  "one stub connection",
                  rep.get("claims") == 1 and rep.get("releases") == 1 and
                  rep.get("driver_detaches") == 1 and rep.get("driver_attaches") == 1 and
                  rep.get("driver_bound_at_end") is True and rep.get("stub_connects") == 1,
                  brief(rep))
        whole = reps[iobus].get("bytes_in") or 0
        check("kvmdci-iobus over usb: more than 100 kB came through the bulk IN pipe",
              whole > 100000, str(whole))

        # the cable is pulled halfway through kvmdci-iobus's reads
        half = whole // 2
        r = dbc(cable + ["--unplug-after", str(half)], iobus,
                ["--json", "-t", "usb://1d6b:0010"], env=t.tool_env)
        lines = r.lines()
        check("unplug mid-session: exit 1, JSON errno 19 (ENODEV)",
              r.rc == 1 and r.doc.get("errno") == 19 and bool(r.doc.get("error")), str(r))
        check("unplug mid-session: one error line: the read that failed, and why: the USB "
              "device is gone",
              lines == [f"{iobus}: {r.doc.get('error')}"] and
              r.doc.get("error", "").endswith(f" (connection to usb://1d6b:0010 lost: {GONE})"),
              str(r))
        u = r.report.get("unplug_to_exit_seconds")
        check("unplug mid-session: exit within 1 s of the unplug",
              r.report.get("unplugged") is True and r.report.get("bytes_in") == half and
              u is not None and u < 1.0, brief(r.report))
        print(f"     unplug mid-session (after {half} bytes): exit {u} s after the unplug",
              flush=True)

        # the far end stops answering halfway
        r = dbc(cable + ["--mute-after", str(half)], iobus,
                ["--json", "-t", "usb://1d6b:0010"], env=t.tool_env)
        lines = r.lines()
        check("far end mute mid-session: exit 1, JSON errno 110 (ETIMEDOUT), one error line",
              r.rc == 1 and r.doc.get("errno") == 110 and
              lines == [f"{iobus}: {r.doc.get('error')}"], str(r))
        check("far end mute mid-session: the error says the stub stopped answering",
              "(usb://1d6b:0010: no reply to '" in r.doc.get("error", "") and
              "within 5 s)" in r.doc.get("error", ""), str(r.doc))
        m = r.report.get("mute_to_exit_seconds")
        check("far end mute mid-session: exit 5 s (-0.1 s for the testbed's poll) to 7 s after "
              "the tool began waiting (the RSP reply timeout)",
              m is not None and 4.9 <= m <= 7.0, brief(r.report))
        check("far end mute mid-session: interface released, usb_debug re-attached",
              r.report.get("releases") == 1 and r.report.get("driver_attaches") == 1,
              brief(r.report))
        print(f"     far end mute mid-session (after {half} bytes): exit {m} s after the tool "
              "began waiting", flush=True)

        # the kernel cache on (a first session writes it): the session is shorter and the
        # reads are the read cache's sector fills; a cut in any of them must still say why
        # (ENODEV: the device is gone), not the broken pipe of a read tried after it
        cenv = dict(t.tool_env, XDG_CACHE_HOME=tempfile.mkdtemp(prefix="kvmdci-xdg-", dir=t.dir))
        cenv.pop("KVMDCI_KERNEL_CACHE")
        for run in ("cold", "warm"):
            r = dbc(cable, iobus, ["--json", "-t", "usb://1d6b:0010"], env=cenv)
            check(f"kernel cache {run}: kvmdci-iobus over usb answers as gdb+unix://",
                  r.rc == 0 and answer_doc(run, iobus, r.rc, r.out, r.err) == live[iobus],
                  str(r)[:300])
        warm = r.report.get("bytes_in") or 0
        print(f"     kernel cache warm: kvmdci-iobus read {warm} bytes", flush=True)
        for part in (4, 2, 1.33):
            cut = int(warm / part)
            r = dbc(cable + ["--unplug-after", str(cut)], iobus,
                    ["--json", "-t", "usb://1d6b:0010"], env=cenv)
            check(f"kernel cache warm, unplug after {cut} bytes: exit 1, JSON errno 19 "
                  "(ENODEV), the error says the USB device is gone",
                  r.rc == 1 and r.doc.get("errno") == 19 and
                  r.doc.get("error", "").endswith(f"lost: {GONE})"), str(r)[:400])

        # QEMU keeps a vanished client's machine paused: the next session's attach and
        # detach take it over and resume it
        again, _ = answers(t.tool_env, "usb after the unplug and the mute", cable)
        check("kvmdci-iobus over a fresh usb:// session answers as before",
              again[iobus] == live[iobus])
        after, _ = answers(t.tool_env, "gdb+unix after usb")
        check("kvmdci-iobus over gdb+unix:// answers as before the usb sessions",
              after[iobus] == live[iobus])
        st, out = t.run("echo still-running", timeout=60)
        check("the lab guest runs after the usb sessions", "still-running" in out, out)
        t.signal("w1")
        t.wait_state("w1", "done", 300)

        # a trace over usb:// (watchpoints on KVM's exit counters, the machine running)
        t.lab.run_bg("workload --vcpus 1 --seconds 0 --quiet")
        check("the free-running workload's vCPU takes exits", exits_growing(t), "")
        args = ["--trigger", "watch", "--json", "-t", "usb://1d6b:0010"]
        tr = Traced(cable, "kvmdci-exits", args, t.tool_env)
        check("exits over usb: tracing starts", tr.wait_line("tracing", 120) is not None,
              tr.text())
        time.sleep(3)
        rc, doc, took = tr.stop(signal.SIGINT)
        check("exits over usb, SIGINT: exit 0 within 5 s with its results",
              rc == 0 and took < 5 and doc.get("interrupted") is True and
              doc.get("total", 0) > 0,
              f"rc={rc} in {took:.2f} s, interrupted={doc.get('interrupted')} "
              f"total={doc.get('total')}: {tr.text()[-300:]}")
        rep = tr.report()
        check("exits over usb, SIGINT: interface released, usb_debug re-attached",
              rep.get("releases") == 1 and rep.get("driver_attaches") == 1, brief(rep))
        print(f"     exits over usb, SIGINT: exit {took:.2f} s after the signal", flush=True)
        check_target_clean(t, "exits over usb, SIGINT", stub)

        tr = Traced(cable, "kvmdci-exits", args, t.tool_env)
        check("exits over usb (2): tracing starts", tr.wait_line("tracing", 120) is not None,
              tr.text())
        time.sleep(1)
        rc, doc, took = tr.stop(signal.SIGUSR1)  # the testbed pulls the cable
        lines = tr.text().strip().splitlines()
        check("unplug mid-trace: exit 1 within 2 s with the results so far",
              rc == 1 and took < 2 and doc.get("total", 0) > 0 and
              doc.get("error") == f"connection to usb://1d6b:0010 lost: {GONE}",
              f"rc={rc} in {took:.2f} s: {tr.text()[-300:]}")
        check("unplug mid-trace: stderr says the connection is lost: the USB device is gone",
              f"kvmdci-exits: connection to usb://1d6b:0010 lost: {GONE}" in lines,
              repr(lines))
        u = tr.report().get("unplug_to_exit_seconds")
        print(f"     unplug mid-trace: exit {u} s after the unplug", flush=True)
        rc, out, err = run_tool("kvmdci-exits", ["--duration", "1"], t.tool_env, timeout=120)
        check("after the unplug the next run (gdb+unix://) recovers the target", rc == 0,
              err.strip()[-200:])
        check_target_clean(t, "recovered after the unplug", stub)


def main():
    check("umockdev-wrapper is installed (scripts/install-deps.sh: umockdev)",
          WRAPPER is not None)
    check(f"the testbed is built ({TESTBED})", os.access(TESTBED, os.X_OK))
    if WRAPPER is None or not os.access(TESTBED, os.X_OK):
        finish()
    if sys.argv[1:] == ["fast"]:
        fast()
    else:
        lab()
    finish()


if __name__ == "__main__":
    main()
