#!/bin/sh
# Quick start (a): install what is missing, build, boot the lab (a real KVM host under QEMU's
# gdbstub) with our workload running 2 vCPUs, and run the tools against it.
# KEEP_LAB=1 leaves the lab running afterwards (stop it with build/tools/kvmdci-lab stop).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
LAB=build/tools/kvmdci-lab
if $LAB status >/dev/null 2>&1; then
	echo "demo: a lab is already running; restarting it" >&2
	$LAB stop
fi
$LAB start --vcpus 2 >/dev/null
eval "$($LAB env)"
echo
echo "== kvmdci-exits: VM exits of the lab's workload for 10 s (watchpoints on stat.exits) =="
build/tools/kvmdci-exits --duration 10 --per-vcpu
echo
echo "== kvmdci-exits --trigger break: the same through a breakpoint on svm_handle_exit, 5 s =="
build/tools/kvmdci-exits --trigger break --duration 5
echo
echo "== kvmdci-exits --sample 10%/500ms: the trigger in for 10% of the time, coverage from KVM's counter =="
build/tools/kvmdci-exits --sample 10%/500ms --duration 5
echo
echo "== kvmdci-iobus: every VM's io buses, decoded =="
build/tools/kvmdci-iobus
echo
echo "== kvmdci-vcpu: the vCPUs =="
build/tools/kvmdci-vcpu
echo
echo "== kvmdci-stat: KVM's own stats of each VM and its vCPUs (what its debugfs shows) =="
build/tools/kvmdci-stat
echo
echo "== kvmdci-trace: 5 hits of kvm_io_bus_write on the PIO bus =="
build/tools/kvmdci-trace --bp kvm_io_bus_write --when '$arg1 == 1' --count 5
echo
if [ "${KEEP_LAB:-0}" = 1 ]; then
	echo "demo: the lab keeps running; try: eval \"\$($LAB env)\"; build/tools/kvmdci-exits --help"
else
	$LAB stop
fi
