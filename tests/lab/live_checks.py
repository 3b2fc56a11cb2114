"""kvmdci-exits while it runs: --interval (JSON lines), --vm/--vcpu, and --live in a real
terminal (tmux), against the workload's marked windows (KVM's own counters at both ends of a
window in which the vCPUs run; parked outside KVM_RUN before and after it).

 - interval_window: `--interval 0.5 --json --vm PID --vcpu 1` over a window: the interval
   records' deltas add up, reason by reason, to the closing report's counts; only vCPU 1 is
   counted and its coverage is KVM's own count of vCPU 1 over the window (exits, io_exits,
   halt_exits from KVM_GET_STATS_FD), not the VM's.
 - live_window: `--live` in a tmux pane over a window: once the window is over (no exit
   until the workload is signalled again), the screen's total is the window's exits delta and
   its IOIO/HLT rows the window's io_exits/halt_exits; `s` re-sorts (the footer says by what),
   `r` sets the counts to zero on screen, `q` quits with status 0 and the usual report (its
   coverage again the window's delta) on the normal screen.
 - closed_terminal: the tmux session is killed under a running --live view (SIGHUP, then a
   terminal that is gone) with the break trigger on a busy host: the tool ends within 10 s and
   leaves no breakpoint in the target.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from e2e import TOOLS, Tool, check, check_target_clean, window_deltas
from svm_truth import HLT, IOIO, LATE, VCPUS

TOTAL_RE = re.compile(r"^(\d+) exits in ")
ROW_RE = re.compile(r"^ (\S+)\s+0x([0-9a-f]+)\s+(\d+)\s+[\d.]+%\s+(\d+)\s+[\d.]+\s*$")


def vm_pid(t):
    """The pid of the only VM on the host (the window's), from kvmdci-vcpu."""
    out = subprocess.run([os.path.join(TOOLS, "kvmdci-vcpu"), "--json"], env=t.tool_env,
                         capture_output=True, text=True, timeout=120).stdout
    vms = json.loads(out).get("vms", []) if out.strip() else []
    return vms[0]["vm_pid"] if len(vms) == 1 else None


def interval_window(t, name="i1", iterations=64):
    t.window_start(name, VCPUS, iterations)
    pid = vm_pid(t)
    if not check("--interval: the window's VM is the only one", pid is not None):
        return
    tool = Tool("kvmdci-exits", ["--json", "--trigger", "watch", "--interval", "0.5", "--vm",
                                 str(pid), "--vcpu", "1"], t.tool_env)
    tool.wait_line("tracing", 120)
    t0 = time.monotonic()
    t.signal(name)
    t.wait_state(name, "window-done", 900)
    secs = time.monotonic() - t0
    rc, out, err = tool.stop()
    recs = [json.loads(line) for line in out.splitlines() if line.strip()]
    check("--interval --json: exit 0, interval records then one summary",
          rc == 0 and len(recs) >= 2 and recs[-1].get("type") == "summary" and
          all(r.get("type") == "interval" for r in recs[:-1]), f"rc={rc} {err[-300:]}")
    if not recs:
        return
    iv, summary = recs[:-1], recs[-1]
    per, _ = window_deltas(t.result(name))
    truth = per.get(1, {})
    print(f"--interval: {len(iv)} records over {secs:.1f} s of window; vCPU 1 of VM pid {pid}: "
          f"{summary.get('total')} exits, KVM's {truth.get('exits')}", flush=True)
    check("--interval: a record per 0.5 s (at least half of them on a loaded machine)",
          len(iv) >= secs, f"{len(iv)} records in {secs:.1f} s")
    running, ok = 0, True
    for r in iv:
        running += r["delta"]
        ok = ok and r["total"] == running
    sums = {}
    for r in iv:
        for x in r["reasons"]:
            sums[x["code"]] = sums.get(x["code"], 0) + x["delta"]
    counts = {x["code"]: x["count"] for x in summary.get("reasons", [])}
    check("--interval: the deltas add up, record by record and reason by reason, to the report",
          ok and running == summary.get("total") and sums == counts,
          f"sum {running} vs {summary.get('total')}; {sums} vs {counts}")
    cov = summary.get("coverage") or {}
    check("--vm/--vcpu: only vCPU 1 of that VM, in the report and in every record",
          [(v["vm_pid"], v["vcpu_id"]) for v in summary.get("vcpus", [])] == [(pid, 1)] and
          all(v["vcpu_id"] == 1 for r in iv for v in r["vcpus"]), f"{summary.get('vcpus')}")
    check("--vcpu 1: coverage == KVM's exits of vCPU 1 over the window, all counted",
          truth and cov.get("vcpus") == 1 and cov.get("kvm_exits") == truth["exits"] and
          cov.get("counted") == truth["exits"] == summary.get("total"), f"{cov} vs {truth}")
    check(f"--vcpu 1: IOIO == vCPU 1's io_exits, HLT == its halt_exits (+-{LATE})",
          truth and abs(counts.get(IOIO, 0) - truth["io_exits"]) <= LATE and
          abs(counts.get(HLT, 0) - truth["halt_exits"]) <= LATE,
          f"{counts.get(IOIO, 0)}/{truth.get('io_exits')}, {counts.get(HLT, 0)}/"
          f"{truth.get('halt_exits')}")
    t.signal(name)
    t.wait_state(name, "done", 300)


class Pane:
    """A tmux server of its own with one 100x40 pane running @argv with @env."""

    def __init__(self, argv, env, name):
        self.dir = tempfile.mkdtemp(prefix="kvmdci-live-")
        self.sock = os.path.join(self.dir, "tmux.sock")
        self.status = os.path.join(self.dir, "status")
        self.pidfile = os.path.join(self.dir, "pid")
        script = os.path.join(self.dir, "run.sh")
        with open(script, "w") as f:
            for k, v in env.items():
                if k.startswith("KVMDCI_") or k in ("PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS",
                                                     "LSAN_OPTIONS"):
                    f.write(f"export {k}='{v}'\n")
            f.write(f"echo $$ > {self.pidfile}\n")
            f.write(" ".join(argv) + f" 2>{self.dir}/stderr\n")
            f.write(f"echo $? > {self.status}\nsleep 600\n")
        self.tmux("new-session", "-d", "-s", name, "-x", "100", "-y", "40", f"sh {script}")
        self.name = name

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), capture_output=True,
                              text=True, timeout=30)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", self.name).stdout

    def wait_screen(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.3)
        return None

    def keys(self, *keys):
        self.tmux("send-keys", "-t", self.name, *keys)

    def exit_status(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.status) as f:
                    return int(f.read().strip())
            except (OSError, ValueError):
                time.sleep(0.3)
        return None

    def stderr(self):
        try:
            with open(os.path.join(self.dir, "stderr")) as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        self.tmux("kill-server")
        shutil.rmtree(self.dir, ignore_errors=True)


def frame(screen):
    """(total, {code: (name, total, delta)}) of a --live screen."""
    total, rows = None, {}
    for line in screen.splitlines():
        m = TOTAL_RE.match(line)
        if m:
            total = int(m.group(1))
        m = ROW_RE.match(line)
        if m:
            rows[int(m.group(2), 16)] = (m.group(1), int(m.group(3)), int(m.group(4)))
    return total, rows


def live_window(t, name="l1", iterations=64):
    t.window_start(name, VCPUS, iterations)
    pane = Pane([os.path.join(TOOLS, "kvmdci-exits"), "--live", "--interval", "0.5",
                 "--trigger", "watch"], t.tool_env, "live")
    try:
        first = pane.wait_screen("sorted by total", 120)
        if not check("--live: the view is on the terminal", first is not None,
                     pane.screen() + pane.stderr()):
            return
        t.signal(name)
        t.wait_state(name, "window-done", 900)
        # the vCPUs are parked: wait for two frames that agree
        last, shown = None, None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(1.2)
            cur = frame(pane.screen())
            if cur == last and cur[0] is not None:
                shown = cur
                break
            last = cur
        _, total = window_deltas(t.result(name))
        total_shown, rows = shown or (None, {})
        io_shown = rows.get(IOIO, ("", 0, 0))[1]
        hlt_shown = rows.get(HLT, ("", 0, 0))[1]
        print(f"--live: the screen shows {total_shown} exits (IOIO {io_shown}, HLT {hlt_shown}); "
              f"KVM's window: {total['exits']} ({total['io_exits']}, {total['halt_exits']})",
              flush=True)
        check("--live: the screen's total == the window's exits delta (KVM_GET_STATS_FD)",
              total_shown == total["exits"], f"{total_shown} vs {total['exits']}")
        check(f"--live: its IOIO and HLT rows == io_exits and halt_exits (+-{LATE})",
              abs(io_shown - total["io_exits"]) <= LATE and
              abs(hlt_shown - total["halt_exits"]) <= LATE, f"{rows}")
        check("--live: the rows add up to the total, no delta once the vCPUs are parked",
              sum(r[1] for r in rows.values()) == total_shown and
              all(r[2] == 0 for r in rows.values()), f"{rows}")
        pane.keys("s")
        check("--live: s sorts by delta (said in the footer)",
              pane.wait_screen("sorted by delta", 10) is not None, pane.screen())
        pane.keys("r")
        time.sleep(1.5)
        after = frame(pane.screen())
        check("--live: r resets the counts to zero", after[0] == 0 and not after[1],
              f"{after}")
        pane.keys("q")
        status = pane.exit_status(30)
        screen = pane.screen()
        m = re.search(r"coverage: (\d+) of the (\d+) exits KVM counted", screen)
        check("--live: q quits with status 0, the report on the normal screen with the "
              "window's exits as coverage",
              status == 0 and m and int(m.group(1)) == int(m.group(2)) == total["exits"],
              f"status {status}; {screen[-600:]} {pane.stderr()[-300:]}")
    finally:
        pane.close()
    t.signal(name)
    t.wait_state(name, "done", 300)


def closed_terminal(t):
    """On a busy host (a free-running workload): the terminal goes away under --live."""
    gdb_sock = t.tool_env["KVMDCI_TARGET"][len("gdb+unix://"):]
    pane = Pane([os.path.join(TOOLS, "kvmdci-exits"), "--live", "--trigger", "break"],
                t.tool_env, "closed")
    try:
        up = pane.wait_screen("sorted by total", 120)
        check("closed terminal: the --live view ran (break trigger)", up is not None,
              pane.screen() + pane.stderr())
        with open(pane.pidfile) as f:
            pid = int(f.read().strip())  # the pane's shell: the tool is its child
        tool_pids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                   text=True).stdout.split()
        t0 = time.monotonic()
        pane.tmux("kill-server")
        gone = False
        while time.monotonic() - t0 < 10 and not gone:
            gone = all(not os.path.exists(f"/proc/{p}") for p in tool_pids)
            time.sleep(0.2)
        check("closed terminal: the tool ends within 10 s", tool_pids and gone,
              f"tool pids {tool_pids}; {pane.stderr()[-300:]}")
        print(f"closed terminal: ended in {time.monotonic() - t0:.1f} s; stderr: "
              f"{pane.stderr().strip().splitlines()[-1:]}", flush=True)
        check_target_clean(t, "closed terminal under --live", gdb_sock)
    finally:
        pane.close()
