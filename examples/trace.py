#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""kvmdci-trace in a few lines of Python: trace catalog entries, one JSON line per hit.

    trace.py kvm_io_bus_write --when '$arg1 == 1 && $arg2 == 0x700' [--count N] [--duration S]

The target is $KVMDCI_TARGET (or -t URI). Ctrl-C ends the trace: the KeyboardInterrupt is
raised inside the loop after the breakpoints were taken out, so the summary below still runs
and the target is left running. Progress goes to stderr, hits to stdout.
"""
import argparse
import json
import os
import sys

import kvmdci


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("entry", nargs="+", help="catalog entry names")
    ap.add_argument("-t", "--target", default=os.environ.get("KVMDCI_TARGET"))
    ap.add_argument("--when", help="capture expression: only the hits where it is non-zero")
    ap.add_argument("--count", type=int, help="stop after N hits")
    ap.add_argument("--duration", type=float, help="stop after S seconds")
    a = ap.parse_args()
    if not a.target:
        ap.error("no target: give -t URI or set KVMDCI_TARGET")
    try:
        k = kvmdci.open(a.target)
    except kvmdci.Error as e:
        sys.exit(f"trace.py: {e.strerror}")
    hits, interrupted = 0, False
    with k:
        trace = k.trace(a.entry, when=a.when, count=a.count, duration=a.duration)
        print(f"trace.py: tracing {', '.join(a.entry)} on {a.target}", file=sys.stderr,
              flush=True)
        try:
            for hit in trace:
                hits += 1
                print(json.dumps(hit), flush=True)
        except KeyboardInterrupt:
            interrupted = True      # the breakpoints are out already
        print(json.dumps({"summary": True, "reported": hits, "interrupted": interrupted,
                          "entries": trace.stats}), flush=True)


if __name__ == "__main__":
    main()
