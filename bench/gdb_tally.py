# SPDX-License-Identifier: LGPL-2.1-or-later
# Loaded by gdb (`source bench/gdb_tally.py`) from the command file that bench/exits-rate.sh
# writes. The breakpoint's CLI `commands` decode the exit code into $code; bench_hit() counts
# it per reason and decides whether the loop goes on ($bench_go), so the run ends at a
# breakpoint stop (the target is stopped, nothing is in flight) once the duration is over.
# A fallback timer interrupts the target when no hit arrives at all.
import threading
import time

import gdb

_counts = {}
_hits = 0
_t0 = None
_t1 = None
_duration = 0.0
_fallback = None


def _stop_loop():
    gdb.set_convenience_variable("bench_go", 0)


def bench_start(duration):
    """Called right before the first `continue`."""
    global _t0, _duration, _fallback
    _duration = float(duration)
    gdb.set_convenience_variable("bench_go", 1)

    def nohits():
        # only if the loop never saw a hit near the end: stop the target from gdb's loop
        if _t1 is None:
            gdb.post_event(lambda: gdb.execute("interrupt"))

    _fallback = threading.Timer(_duration + 5.0, nohits)
    _fallback.daemon = True
    _fallback.start()
    _t0 = time.monotonic()


def bench_hit():
    """Called from the breakpoint's commands with $code set."""
    global _hits, _t1
    code = int(gdb.convenience_variable("code"))
    _counts[code] = _counts.get(code, 0) + 1
    _hits += 1
    if time.monotonic() - _t0 >= _duration:
        _t1 = time.monotonic()
        _stop_loop()


def bench_report():
    """Called after the loop: one machine-readable line plus the reasons."""
    t1 = _t1 if _t1 is not None else time.monotonic()
    if _fallback is not None:
        _fallback.cancel()
    secs = t1 - _t0
    reasons = " ".join(f"0x{c:x}:{n}" for c, n in sorted(_counts.items(), key=lambda x: -x[1]))
    print(f"GDB_RESULT hits={_hits} seconds={secs:.6f} reasons={reasons or '-'}")


def bench_stat(label, *addrs):
    """Print `GDB_STAT label N`: the sum of the u64 counters at @addrs (each vCPU's
    stat.exits), read through the first thread (CPU) whose paging maps them; a CPU that runs
    the nested guest reads through the guest's page tables. `GDB_STAT label -1` if none can."""
    inf = gdb.selected_inferior()
    here = gdb.selected_thread()
    threads = ([here] if here is not None else []) + [t for t in inf.threads() if t != here]
    for t in threads:
        try:
            t.switch()
            total = 0
            for a in addrs:
                total += int.from_bytes(bytes(inf.read_memory(a, 8)), "little")
            print(f"GDB_STAT {label} {total}")
            break
        except gdb.error:
            continue
    else:
        print(f"GDB_STAT {label} -1")
    if here is not None and here.is_valid():
        here.switch()
