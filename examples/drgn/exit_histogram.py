#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Exit histogram of one VM over 10 seconds, with drgn over a live libkvmdci target.

    PYTHONPATH=build/python /usr/bin/python3 examples/drgn/exit_histogram.py --vm PID [--seconds 10]

KVM counts each vCPU's exits by kind in struct kvm_vcpu_stat (exits, io_exits, mmio_exits,
halt_exits, irq_exits, signal_exits, ...). This reads every counter of that struct whose name
ends in "exits" (the kernel's type says which there are), lets the machine run for the given
time (kvmdci.drgn.resume(): the whole machine was stopped while drgn read it), stops it again
(kvmdci.drgn.stop(), the same Program: no debug info loaded twice) and prints the differences,
per vCPU and for the VM, as a histogram. For exits by VMX/SVM exit reason, use the kvmdci
module's trace or kvmdci-exits (they stop on each exit; this only samples counters).
"""

import sys
import time

import kvmdci.drgn
import kvmwalk


def exit_counters(prog):
    """The names of struct kvm_vcpu_stat's members that count exits, "exits" (all) first."""
    names = [m.name for m in prog.type("struct kvm_vcpu_stat").members
             if m.name and m.name.endswith("exits")]
    return sorted(names, key=lambda n: (n != "exits", n))


def sample(kvm, names):
    """{vcpu_id: {name: value}} of a VM's vCPUs."""
    return {v.vcpu_id.value_(): {n: v.stat.member_(n).value_() for n in names}
            for v in kvmwalk.vcpus(kvm)}


def histogram(prog, kvm, seconds):
    """Let the target run @seconds and return (counter names, {vcpu_id: {name: delta}}, the
    seconds it really ran, the samples at the start and at the end)."""
    names = exit_counters(prog)
    before = sample(kvm, names)
    kvmdci.drgn.resume(prog)
    t0 = time.monotonic()
    try:
        time.sleep(seconds)
    finally:
        kvmdci.drgn.stop(prog)
        ran = time.monotonic() - t0
    after = sample(kvm, names)
    delta = {i: {n: after[i][n] - before.get(i, {}).get(n, 0) for n in names} for i in after}
    return names, delta, ran, before, after


def main():
    p = kvmwalk.parser(__doc__.splitlines()[0])
    p.add_argument("--vm", required=True,
                   help="the VM: its process's pid or its struct kvm address")
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args()
    prog = kvmwalk.program(args)
    if not kvmdci.drgn.kernel(prog).live:
        sys.exit(f"{args.target} is not live: a dump does not run (no histogram over time)")
    kvm = kvmwalk.find_vm(prog, args.vm)
    names, delta, ran, _, _ = histogram(prog, kvm, args.seconds)
    total = {n: sum(d[n] for d in delta.values()) for n in names}
    top = max([total[n] for n in names if n != "exits"] + [1])
    print(f"VM {kvm.value_():#x} (pid {kvmwalk.vm_pid(kvm)}), {len(delta)} vCPUs, "
          f"{ran:.1f} s: {total.get('exits', 0)} exits ({total.get('exits', 0) / ran:.0f}/s)")
    for n in names:
        if n == "exits":
            continue
        bar = "#" * round(40 * total[n] / top)
        per = " ".join(f"{d[n]}" for _, d in sorted(delta.items()))
        print(f"  {n:<20} {total[n]:>10}  {bar:<40}  per vCPU: {per}")
    kvmdci.drgn.resume(prog)  # leave the machine running


if __name__ == "__main__":
    sys.exit(main())
