#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Which VM owns this ioeventfd? Every ioeventfd registered at an address (a port or an MMIO
address), with its VM, the VMM's pid, the bus, length and datamatch.

    ioeventfd-owner.py 0x1000 [-t URI]

Walks each VM's I/O buses (struct kvm.buses[]) with the devices decoded by the library.
"""
import os
import sys

import kvmdci

args = sys.argv[1:]
target = os.environ.get("KVMDCI_TARGET")
if "-t" in args:
    i = args.index("-t")
    target = args[i + 1] if i + 1 < len(args) else None
    del args[i:i + 2]
if len(args) != 1 or not target:
    sys.exit("usage: ioeventfd-owner.py ADDRESS [-t URI] (or set KVMDCI_TARGET)")
want = int(args[0], 0)
found = 0
with kvmdci.open(target) as k:
    for vm in k.vms():
        for bus in vm.io_buses():
            for r in bus.ranges:
                ev = r.get("ioeventfd")
                if not ev or not ev.address <= want < ev.address + max(ev.length, 1):
                    continue
                found += 1
                match = "any value" if ev.wildcard else f"datamatch {ev.datamatch:#x}"
                print(f"{bus.name} {ev.address:#x} length {ev.length} ({match}): VM "
                      f"{vm.vm:#x}, VMM pid {vm.vm_pid}, _ioeventfd {r.object:#x}")
if not found:
    sys.exit(f"no ioeventfd at {want:#x} on any VM")
