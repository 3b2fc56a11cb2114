#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Which VM owns this ioeventfd? With drgn over any libkvmdci target.

    PYTHONPATH=build/python /usr/bin/python3 examples/drgn/ioeventfd_owner.py PID FD
    ... ioeventfd_owner.py --all PID        # every eventfd the process holds

An eventfd is named by a process and one of its file descriptors (a VMM's, e.g. QEMU's, or a
vhost backend's that got it over a socket). The file must be an eventfd (its f_op is
eventfd_fops); its struct eventfd_ctx is then looked for on every VM of vm_list: in the VM's
ioeventfds list (struct _ioeventfd: a guest write to addr/len on that bus, matching datamatch,
signals the eventfd) and in its irqfds list (struct kvm_kernel_irqfd: a write to the eventfd
injects that GSI). Both types are kvm.ko's own (virt/kvm/eventfd.c): its DWARF is needed.
"""

import sys

import drgn
from drgn.helpers.linux.fs import fget
from drgn.helpers.linux.list import list_for_each_entry
from drgn.helpers.linux.pid import find_task

import kvmwalk

BUS_NAMES = {}  # enum kvm_bus index -> name, from the kernel's enum (filled on first use)


def bus_name(prog, idx):
    if not BUS_NAMES:
        for e in prog.type("enum kvm_bus").enumerators:
            BUS_NAMES[e.value] = e.name.lower().replace("kvm_", "").replace("_bus", "")
    return BUS_NAMES.get(idx, str(idx))


def eventfd_of(prog, pid, fd):
    """The struct eventfd_ctx * behind file descriptor @fd of process @pid, or a string saying
    why there is none."""
    task = find_task(prog, pid)
    if not task:
        return f"no process {pid}"
    file = fget(task, fd)
    if not file:
        return f"pid {pid} has no file descriptor {fd}"
    if file.f_op.value_() != prog["eventfd_fops"].address_of_().value_():
        return f"pid {pid} fd {fd} is not an eventfd"
    return drgn.cast("struct eventfd_ctx *", file.private_data)


def owners(prog, ctx):
    """[(struct kvm *, what)] of every VM whose ioeventfds or irqfds use @ctx; what is a dict:
    {"kind": "ioeventfd", "bus", "addr", "len", "datamatch" (None: any)} or {"kind": "irqfd",
    "gsi"}."""
    found = []
    for kvm in kvmwalk.vms(prog):
        for p in list_for_each_entry("struct _ioeventfd", kvm.ioeventfds.address_of_(), "list"):
            if p.eventfd.value_() == ctx.value_():
                found.append((kvm, {"kind": "ioeventfd",
                                    "bus": bus_name(prog, p.bus_idx.value_()),
                                    "addr": p.addr.value_(), "len": p.length.value_(),
                                    "datamatch": None if p.wildcard else p.datamatch.value_()}))
        for q in list_for_each_entry("struct kvm_kernel_irqfd", kvm.irqfds.items.address_of_(),
                                     "list"):
            if q.eventfd.value_() == ctx.value_():
                found.append((kvm, {"kind": "irqfd", "gsi": q.gsi.value_()}))
    return found


def eventfds(prog, pid):
    """The file descriptors of process @pid that are eventfds."""
    from drgn.helpers.linux.fs import for_each_file
    task = find_task(prog, pid)
    if not task:
        return []
    fops = prog["eventfd_fops"].address_of_().value_()
    return [fd for fd, f in for_each_file(task) if f.f_op.value_() == fops]


def describe(kvm, what):
    vm = f"VM {kvm.value_():#x} (pid {kvmwalk.vm_pid(kvm)})"
    if what["kind"] == "irqfd":
        return f"{vm}: irqfd, GSI {what['gsi']}"
    dm = "any" if what["datamatch"] is None else f"{what['datamatch']:#x}"
    return (f"{vm}: ioeventfd on {what['bus']} {what['addr']:#x} len {what['len']}, "
            f"datamatch {dm}")


def main():
    p = kvmwalk.parser(__doc__.splitlines()[0])
    p.add_argument("--all", action="store_true", help="every eventfd of PID")
    p.add_argument("pid", type=int)
    p.add_argument("fd", type=int, nargs="?")
    args = p.parse_args()
    if (args.fd is None) != args.all:
        p.error("give PID FD, or --all PID")
    prog = kvmwalk.program(args)
    fds = eventfds(prog, args.pid) if args.all else [args.fd]
    status = 0
    for fd in fds:
        ctx = eventfd_of(prog, args.pid, fd)
        if isinstance(ctx, str):
            print(ctx, file=sys.stderr)
            status = 1
            continue
        found = owners(prog, ctx)
        print(f"pid {args.pid} fd {fd}: eventfd {ctx.value_():#x}: " +
              ("; ".join(describe(k, w) for k, w in found) if found else "no VM uses it"))
    return status


if __name__ == "__main__":
    sys.exit(main())
