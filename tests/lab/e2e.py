"""Shared helpers of the end-to-end lab tests: a lab of the test's own, the workload's marked
windows, and kvmdci-* tools run as subprocesses. Each check prints "ok"/"FAIL" with the
values compared; finish() prints "N passed, N failed" and exits non-zero on any failure."""

import fcntl
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from lablib import Lab, LabError

TOOLS = os.environ.get("KVMDCI_TOOLS") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build",
    "tools")

_passed = 0
_failed = 0
_json_checked = False
_failures = []  # the FAIL lines, printed again at finish(): a long test's log is cut to its end

# every JSON document a tool prints in this test is checked against its schema at finish()
if not os.environ.get("KVMDCI_JSON_LOG"):
    _json_log_dir = tempfile.mkdtemp(prefix="kvmdci-json-log.")
    os.environ["KVMDCI_JSON_LOG"] = os.path.join(_json_log_dir, "documents")


def check(name, ok, detail=""):
    global _passed, _failed
    if ok:
        _passed += 1
    else:
        _failed += 1
    line = f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}"
    if not ok:
        _failures.append(line if len(line) <= 2000 else line[:2000] + " ...")
    print(line, flush=True)
    return ok


def check_json_log():
    """Every JSON document the tools printed in this test (KVMDCI_JSON_LOG) against its tool's
    schema (schemas/, kvmdci-json(7)); once (finish() calls it unless the test did)."""
    global _json_checked
    if _json_checked:
        return
    _json_checked = True
    import json_schemas
    path = os.environ["KVMDCI_JSON_LOG"]
    try:
        docs, tools, bad = json_schemas.check_log(path)
    except ImportError as e:
        check("JSON documents against the schemas: python3-jsonschema is installed", False, str(e))
        return
    if docs:
        check(f"{docs} JSON documents of {len(tools)} tools match their schemas "
              f"({', '.join(f'{t} {n}' for t, n in sorted(tools.items()))})", not bad,
              "; ".join(bad[:5]) + (f" (+{len(bad) - 5})" if len(bad) > 5 else ""))
    if os.path.dirname(path) == globals().get("_json_log_dir"):
        shutil.rmtree(_json_log_dir, ignore_errors=True)


def finish():
    check_json_log()
    if _failures:
        print("the failed checks again:", *_failures, sep="\n", flush=True)
    print(f"{_passed} passed, {_failed} failed", flush=True)
    raise SystemExit(1 if _failed or not _passed else 0)


# seconds a lab may take to boot, per engine (Bochs boots ~10x slower than QEMU TCG; more on a
# loaded machine)
BOOT_TIMEOUT = {None: 120, "qemu": 120, "bochs": 900}


class TestLab:
    """A lab in a private state directory, stopped at the end."""

    def __init__(self, kernel=None, engine=None, tools=(), append=None, cpus=None):
        """@engine: None (the default engine), "qemu" or "bochs"; @tools: kvmdci tools to pack
        into the guest (kvmdci-lab start --tool); @append: more kernel command line; @cpus:
        the lab machine's CPUs (None: kvmdci-lab's default, 2)."""
        self.kernel = kernel
        self.cpus = cpus
        self.append = append
        self.engine = engine
        self.tools = tools
        self.dir = tempfile.mkdtemp(prefix="kvmdci-e2e-")  # mode 0700
        self.lab = Lab(os.path.join(self.dir, "lab"))
        os.mkdir(self.lab.dir, 0o700)

    def __enter__(self):
        t0 = time.monotonic()
        try:
            self.env = self.lab.start(kernel=self.kernel, engine=self.engine, tools=self.tools,
                                      timeout=BOOT_TIMEOUT[self.engine], append=self.append,
                                      cpus=self.cpus)
            if self.engine == "bochs" and not self._console_answers():
                # Seen on a loaded machine (2 of 3 boots, 2026-12-06): the guest's serial
                # console stops taking input right after boot (the shell printed its banner,
                # then nothing, not even the echo of what is typed); no command ever runs.
                # One new boot, instead of a whole run of timeouts.
                print("the bochs lab's console does not answer: booting it again", flush=True)
                self.lab.stop()
                self.env = self.lab.start(kernel=self.kernel, engine=self.engine,
                                          tools=self.tools, timeout=BOOT_TIMEOUT[self.engine],
                                          append=self.append, cpus=self.cpus)
                if not self._console_answers():
                    raise RuntimeError("the bochs lab's console does not answer after two "
                                       "boots")
        except BaseException:
            self.__exit__()     # a lab that did not boot leaves no state directory behind
            raise
        print(f"lab booted in {time.monotonic() - t0:.1f} s "
              f"(kernel {self.env.get('KVMDCI_KERNEL_RELEASE')}, engine "
              f"{self.env.get('KVMDCI_LAB_ENGINE')}, vendor {self.env.get('KVMDCI_LAB_VENDOR')})",
              flush=True)
        self.tool_env = dict(os.environ)
        self.tool_env.update(self.env)
        return self

    def _console_answers(self, timeout=240):
        try:
            st, out = self.lab.run("echo console-ok", timeout=timeout)
        except LabError:
            return False
        return st == 0 and "console-ok" in out

    def __exit__(self, *exc):
        try:
            self.lab.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, cmd, timeout=None):
        """A shell command in the guest: (status, output). The default timeout is 120 s, 600 s
        on the bochs engine (a tool holding the machine slows the console further)."""
        return self.lab.run(cmd, timeout=timeout or (600 if self.engine == "bochs" else 120))

    # -- the workload's marked window (lab/workload: --window) ------------------------------
    def window_start(self, name, vcpus, iterations, after=200):
        self.lab.run_bg(f"workload --window --vcpus {vcpus} --iterations {iterations} "
                        f"--after {after} --json /tmp/{name}.json --state /tmp/{name}.state "
                        f"--pid-file /tmp/{name}.pid --quiet")
        self.wait_state(name, "ready", 120)

    def parked_workload(self, name, args):
        """A workload whose VMs exist with their vCPU threads parked outside KVM_RUN (the
        window has run): a still moment for walks and dumps. Returns its JSON report."""
        self.lab.run_bg(f"workload --window --iterations 3 --after 1 {args} "
                        f"--json /tmp/{name}.json --state /tmp/{name}.state "
                        f"--pid-file /tmp/{name}.pid --quiet")
        self.wait_state(name, "ready", 300)
        self.signal(name)
        self.wait_state(name, "window-done", 300)
        return self.result(name)

    def state(self, name):
        st, out = self.run(f"cat /tmp/{name}.state 2>/dev/null")
        try:
            return json.loads(out.strip().splitlines()[-1])["state"]
        except (ValueError, IndexError, KeyError):
            return None

    def wait_state(self, name, want, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.state(name)
            if s == want:
                return True
            time.sleep(1)
        raise RuntimeError(f"workload {name}: state {want!r} not reached in {timeout} s "
                           f"(last: {self.state(name)!r})")

    def signal(self, name):
        st, out = self.run(f"kill -USR1 $(cat /tmp/{name}.pid)")
        if st != 0:
            raise RuntimeError(f"cannot signal workload {name}: {out}")

    def result_pid(self, name):
        st, out = self.run(f"cat /tmp/{name}.pid")
        return int(out.strip())

    def result(self, name):
        st, out = self.run(f"cat /tmp/{name}.json")
        return json.loads(out)


def hlt_fastpath(t):
    """Does the target's KVM handle HLT in its fastpath? From 6.12 (handle_fastpath_hlt, VMX and
    SVM) a HLT whose vCPU has an event pending re-enters the guest at once without calling the
    vendor's exit handler, the function the break trigger stops on, while KVM counts the exit
    in stat.exits and halt_exits: the break trigger cannot see those exits. The guest's own
    kallsyms says whether the kernel has it; on the bochs engine, where the guest takes minutes
    to list its kallsyms on a loaded machine, the symbol table of the kvm module file the lab
    loaded (the function is in kvm.ko, whose kallsyms are that table) says the same."""
    kvm = os.path.join(t.env.get("KVMDCI_MODULES", ""), "kvm.ko")
    if t.engine == "bochs" and os.path.isfile(kvm):
        r = subprocess.run(["nm", kvm], capture_output=True, text=True)
        if r.returncode == 0:
            return "handle_fastpath_hlt" in {l.split()[-1] for l in r.stdout.splitlines()
                                             if l.split()}
    rc, out = t.run("grep -c -w handle_fastpath_hlt /proc/kallsyms")
    return out.strip() not in ("", "0")


def hlt_gap(t, trigger, hlt_count, total):
    """The HLT exits a window's trace may lack: with the break trigger on a kernel with KVM's
    HLT fastpath (hlt_fastpath), halt_exits - the HLT count (checked >= 0 by the caller);
    else 0. Returns (gap, label suffix for the checks)."""
    gap = total["halt_exits"] - hlt_count if trigger == "break" and hlt_fastpath(t) else 0
    return gap, " - HLT exits re-entered in KVM's fastpath" if gap else ""


def check_exit_totals(trigger, doc, per, total, gap, fast, note=""):
    """A window's traced totals against KVM's exits deltas, overall and per vCPU (where @per
    has them), less @gap HLT exits (hlt_gap): a vCPU may lack at most its own halt_exits."""
    check(f"{trigger}: total == KVM's exits delta{fast or note}",
          doc.get("total") == total["exits"] - gap,
          f"{doc.get('total')} vs {total['exits']}{f' - {gap}' if gap else ''}")
    for v in doc["vcpus"] if per else []:
        d = per.get(v["vcpu_id"], {})
        want = d.get("exits")
        check(f"{trigger}: vCPU {v['vcpu_id']} total == its exits delta{fast}",
              v["total"] == want if not gap else
              want is not None and 0 <= want - v["total"] <= d.get("halt_exits", 0),
              f"{v['total']} vs {want} (halt_exits {d.get('halt_exits')})")


def window_deltas(doc):
    """{vcpu_id: delta dict} of VM 0's window, and their sum per counter. On a kernel without
    KVM_GET_STATS_FD (5.10) the workload reads the VM's debugfs sums instead: then per is {}
    (no per-vCPU ground truth exists) and total is the VM's delta."""
    win = doc["vms"][0]["window"]
    if win.get("stats_source") == "debugfs":
        return {}, {k: v for k, v in win["vm_delta"].items() if isinstance(v, int)}
    per = {v["vcpu_id"]: v["delta"] for v in win["vcpus"]}
    total = {}
    for d in per.values():
        for k, v in d.items():
            if isinstance(v, int):
                total[k] = total.get(k, 0) + v
    return per, total


def reason_counters(label, doc, total, counts, counters, exact=(), slack=0):
    """kvmdci-exits' report of KVM's reason counters (estimates[].counter_delta: @counters,
    {exit code: struct kvm_vcpu_stat member}, read by the tool at its start and stop) against
    the window's deltas of the same counters from the workload (KVM_GET_STATS_FD, or debugfs
    on 5.10); for the codes in @exact the exits counted must equal them too (+-@slack)."""
    est = {e["code"]: e for e in doc.get("estimates") or []}
    check(f"{label}: estimates reported", doc.get("estimates") is not None,
          f"{doc.get('estimates')}")
    for code, key in counters.items():
        if key not in total:
            continue
        e = est.get(code) or {}
        # a reason neither seen nor counted by KVM has no row
        got = e.get("counter_delta", 0)
        check(f"{label}: the report's {key} == the window's delta",
              got == total[key] and (not e or e.get("source") == key),
              f"{e} vs {total[key]}")
        if code in exact:
            check(f"{label}: count of exit 0x{code:x} == {key}" + (f" (+-{slack})" if slack else ""),
                  abs(counts.get(code, 0) - total[key]) <= slack,
                  f"{counts.get(code, 0)} vs {total[key]}")


def exits_grew(doc):
    """After the window: (KVM's exits at the window's end, at the workload's end), per vCPU
    where KVM has per-vCPU stats, else the VM's sums (key "vm")."""
    vm = doc["vms"][0]
    if vm["window"].get("stats_source") == "debugfs":
        return {"vm": vm["window"]["vm_end"]["exits"]}, {"vm": vm["final"]["vm_stats"]["exits"]}
    end = {v["vcpu_id"]: v["end"]["exits"] for v in vm["window"]["vcpus"]}
    fin = {v["vcpu_id"]: v["stats"]["exits"] for v in vm["final"]["vcpus"]}
    return end, fin


class Tool:
    """A kvmdci-* tool running in the background; stderr lines are collected."""

    def __init__(self, name, args, env, prefix=()):
        """@prefix: a command the tool runs under (e.g. a testbed)."""
        self.p = subprocess.Popen(list(prefix) + [os.path.join(TOOLS, name)] + args, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.err = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stderr:
            self.err.append(line)
            self.lines.put(line)

    def wait_line(self, text, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.p.poll() is not None and self.lines.empty():
                return None
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if text in line:
                return line

    def text(self):
        return "".join(self.err)

    def stop(self, sig=signal.SIGINT, timeout=60):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        self.p.wait(timeout=timeout)  # JSON output is far below a pipe's buffer
        out = self.p.stdout.read()
        self.t.join(timeout=5)
        return self.p.returncode, out, "".join(self.err)


def answer_doc(label, name, rc, out, err):
    """A walk's JSON made comparable across targets: it must exit 0 and list VMs; the run's
    "stats" and "target" are dropped."""
    doc = json.loads(out) if rc == 0 and out.strip() else {}
    check(f"{label}: {name} exits 0", rc == 0 and bool(doc.get("vms")),
          f"rc={rc} {err.strip()[-300:]}")
    doc.pop("stats", None)
    doc.pop("target", None)
    return doc


def run_tool(name, args, env, timeout=60):
    r = subprocess.run([os.path.join(TOOLS, name)] + args, env=env, capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


# ---- the target checked through the stub itself, without the tools: a raw RSP client that
# does NOT send '?' (QEMU removes all breakpoints on '?') ---------------------------------


def pkt(s):
    b = s.encode()
    return b"$" + b + b"#" + b"%02x" % (sum(b) & 0xFF)


class Raw:
    """A minimal RSP client on the lab's gdbstub."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""

    def packet(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(b"$")
            j = self.buf.find(b"#", i + 1) if i >= 0 else -1
            if i >= 0 and j >= 0 and len(self.buf) >= j + 3:
                p = self.buf[i + 1:j].decode(errors="replace")
                self.buf = self.buf[j + 3:]
                return p
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                d = self.s.recv(4096)
            except socket.timeout:
                return None
            if not d:
                return None
            self.buf += d

    def command(self, s, timeout=5):
        self.s.sendall(pkt(s))
        while True:
            p = self.packet(timeout)
            if p is None or not p.startswith("T"):  # skip QEMU's stop notice on connect
                return p


def breakpoints_left(path, during=None, wait=3.0):
    """The stop reply when the machine stops by itself within @wait s of a continue (no '?'
    sent), else None. @during, when given, runs while the machine runs (e.g. a guest command
    that makes KVM do something a left-over breakpoint would catch); its result is returned
    as well: (stop, result)."""
    r = Raw(path)
    r.command("qSupported:multiprocess+")
    r.s.sendall(pkt("c"))
    result = during() if during else None
    stop = r.packet(wait)
    if stop is None:
        r.s.sendall(b"\x03")
        r.packet(5.0)
    r.command("D;1")
    r.s.close()
    return (stop, result) if during else stop


def in_order(names, want):
    """Every name of want appears in names, in this order (inner to outer)."""
    i = 0
    for n in names:
        if i < len(want) and n == want[i]:
            i += 1
    return i == len(want)


def hmp(labdir, cmd, timeout=60):
    """One HMP command through the lab's monitor socket (as kvmdci-lab does)."""
    with open(os.path.join(labdir, "monitor.lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(os.path.join(labdir, "monitor.sock"))
        try:
            buf = b""
            while not buf.endswith(b"(qemu) "):
                buf += s.recv(4096)
            s.sendall(cmd.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"(qemu) "):
                buf += s.recv(4096)
        finally:
            s.close()
    return buf.decode(errors="replace")


def describe_stall(t, pid, log=None):
    """Print what the lab machine looks like when a test found it making no KVM exit: its run
    state, QEMU's view of each CPU (halted or not, flags, local APIC; a snapshot: an
    interrupt may be pending for a moment in a healthy machine too), where each thread of the
    workload (@pid) is (through the stub, then through the guest's own /proc), the CPUs'
    interrupt counts a second apart, the workload's log @log. Evidence for the note, not a
    check; every step may fail (then it says so). Its guest commands have ended such a stall
    each time it was seen (docs/lab-facts.md): callers try again after it."""
    def say(s):
        for line in str(s).strip().splitlines() or [""]:
            print(f"     stall: {line}", flush=True)
    env = t.tool_env
    try:
        say(f"lab status: {t.lab.status()}")
    except Exception as e:      # noqa: BLE001 - evidence only
        say(f"lab status failed: {e}")
    if t.env.get("KVMDCI_LAB_ENGINE", "qemu") == "qemu":
        # QEMU's own view: run state, each CPU's halt and flags, each local APIC's IRR/ISR
        labdir = env["KVMDCI_LAB_DIR"]
        try:
            say(" ".join(l.strip() for l in hmp(labdir, "info status").splitlines()
                         if "VM status" in l))
            regs = hmp(labdir, "info registers -a")
            say(" | ".join(l.strip()[:100] for l in regs.splitlines()
                           if l.startswith(("CPU#", "RIP=", "RFL=", "EFL="))))
            for n in range(max(1, regs.count("CPU#"))):
                say(f"lapic {n}: " + " | ".join(
                    l.strip() for l in hmp(labdir, f"info lapic {n}").splitlines()
                    if l.startswith(("ISR", "IRR", "PPR", "LVT0", "Timer", "ICR"))))
        except (OSError, ValueError) as e:
            say(f"monitor failed: {e}")
    try:
        st, out = t.run(f"ls /proc/{pid}/task", timeout=60)
        tids = [int(x) for x in out.split()] if st == 0 else []
    except Exception as e:      # noqa: BLE001
        say(f"thread list failed: {e}")
        tids = []
    for tid in tids:
        rc, out, err = run_tool("kvmdci-stack", ["--pid", str(tid), "--json"], env, timeout=60)
        try:
            d = json.loads(out)
            say(f"thread {tid} ({d.get('comm')}): state {d.get('state')}, cpu {d.get('cpu')}: "
                + " <- ".join(f["symbol"] for f in d["stack"]["frames"][:7]))
        except (ValueError, KeyError, TypeError):
            say(f"thread {tid}: kvmdci-stack rc {rc}: {err.strip()[-200:]}")
    cmd = (f"for t in /proc/{pid}/task/*; do echo $t $(cut -d' ' -f3,39 $t/stat) "
           f"$(cat $t/wchan 2>/dev/null); done; grep -e LOC -e RES -e CAL /proc/interrupts; "
           f"sleep 1; grep -e LOC -e RES /proc/interrupts; cat /sys/kernel/debug/kvm/exits; "
           f"ps | grep -e 'sleep' -e taskset | grep -v grep"
           + (f"; tail -n 5 {log}" if log else ""))
    try:
        st, out = t.run(cmd, timeout=60)
        say(out)
    except Exception as e:      # noqa: BLE001
        say(f"guest commands failed: {e}")


def kvm_exits(t):
    st, out = t.run("cat /sys/kernel/debug/kvm/exits")
    return int(out.strip())


def exits_grow(t, since=None, timeout=60):
    """Wait until KVM's exit counter has grown past @since (default: its value now), i.e. a
    workload runs in KVM_RUN; returns the last value read. Instead of a fixed sleep: on a
    loaded machine the guest runs slower, but an unloaded workload makes thousands of exits a
    second, so a counter that does not move in @timeout seconds is a real failure."""
    base = kvm_exits(t) if since is None else since
    deadline = time.monotonic() + timeout
    while True:
        now = kvm_exits(t)
        if now > base or time.monotonic() >= deadline:
            return now
        time.sleep(0.5)


def check_target_clean(t, label, gdb_sock):
    """Check through the stub at @gdb_sock that no breakpoint or watchpoint is left in the
    target (the machine runs 3 s without stopping: a running workload passes the traced
    functions thousands of times a second, so a breakpoint left in would stop it in far less,
    even on a loaded machine) and that KVM's exit counter still grows."""
    before = kvm_exits(t)
    stop = breakpoints_left(gdb_sock)
    check(f"{label}: no breakpoint or watchpoint left in the target (checked through the stub)",
          stop is None, f"the machine stopped by itself: {stop}")
    now = exits_grow(t, before, 30)
    check(f"{label}: KVM's exit counter still grows", now > before, f"{before} -> {now}")
