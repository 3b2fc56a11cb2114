#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An exit histogram of one VM for 10 seconds: each exit reason and how many times the VM's
vCPUs left the guest for it.

    exit-histogram.py VMM_PID [--seconds 10] [-t URI]

Traces the vendor's exit handler (catalog entries vmx_handle_exit / svm_handle_exit), keeps
the hits of this VM's vCPUs (their struct kvm_vcpu addresses, read before the trace starts)
and names the reasons with kvmdci.exit_reason_name(). Every exit stops the machine for a
moment: a live link adds latency to each exit (kvmdci-exits --trigger watch is cheaper).
"""
import argparse
import collections
import os
import sys

import kvmdci

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("vm_pid", type=int)
ap.add_argument("--seconds", type=float, default=10)
ap.add_argument("-t", "--target", default=os.environ.get("KVMDCI_TARGET"))
a = ap.parse_args()
if not a.target:
    ap.error("no target: give -t URI or set KVMDCI_TARGET")
with kvmdci.open(a.target) as k:
    vm = k.vm(a.vm_pid)
    vcpus = {v.vcpu for v in vm.vcpus()}
    vendor = k.vendor
    if vendor is None:
        sys.exit("neither kvm_intel nor kvm_amd is loaded")
    hist = collections.Counter()
    for hit in k.trace(f"{vendor}_handle_exit", duration=a.seconds):
        if hit.captures.get("vcpu") in vcpus:
            hist[hit.captures.get("exit_reason")] += 1
total = sum(hist.values())
print(f"VM {vm.vm:#x} (VMM pid {vm.vm_pid}): {total} exits in {a.seconds:g} s")
for reason, n in hist.most_common():
    name = "?" if reason is None else kvmdci.exit_reason_name(vendor, reason & 0xffff) or "?"
    print(f"{n:10d}  {name} ({'unreadable' if reason is None else hex(reason)})")
