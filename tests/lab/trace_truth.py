"""kvmdci-trace over a marked window of the workload, against the workload's own counts:
shared by test-trace.py and test-kernels.py."""
import json
import signal

from e2e import Tool, check


def jsonl(out):
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def traced_window(t, name, args, iterations=40, vcpus=1):
    t.window_start(name, vcpus, iterations)
    tool = Tool("kvmdci-trace", ["--json"] + args, t.tool_env)
    if tool.wait_line("tracing", 120) is None:
        tool.stop()
        raise RuntimeError("kvmdci-trace did not start: " + "".join(tool.err))
    t.signal(name)
    t.wait_state(name, "window-done", 600)
    rc, out, err = tool.stop(signal.SIGINT)
    lines = jsonl(out)
    hits = [l for l in lines if l.get("type") == "hit"]
    doc = t.result(name)
    t.signal(name)
    t.wait_state(name, "done", 300)
    return rc, hits, doc, err


def io_bus_write_check(t, name):
    """kvm_io_bus_write traced over window @name with --when 'PIO bus && port 0x700': one hit
    per signal of the workload's ioeventfd on port 0x700, each with its addr and length."""
    rc, hits, w, err = traced_window(
        t, name, ["--bp", "kvm_io_bus_write", "--when", "$arg1 == 1 && $arg2 == 0x700"])
    vm = w["vms"][0]
    dev = [d for d in vm["devices"] if d["type"] == "ioeventfd" and d["addr"] == "0x700"]
    signals = [s["count"] for s in vm["window"]["ioeventfd_signals"] if s["addr"] == "0x700"]
    check("kvm_io_bus_write: exit 0", rc == 0, err.strip()[-200:])
    check("kvm_io_bus_write on PIO 0x700: one hit per ioeventfd signal in the window",
          signals and len(hits) == signals[0], f"{len(hits)} hits vs {signals}")
    check("kvm_io_bus_write: every hit is bus PIO, addr 0x700, the ioeventfd's length",
          dev and all(h["captures"]["bus_idx"] == 1 and h["captures"]["addr"] == 0x700 and
                      h["captures"]["len"] == dev[0]["len"] for h in hits),
          f"registered {dev}")
