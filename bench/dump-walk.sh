#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench/dump-walk.sh (P4, the dump half) - the io-bus and vCPU walks of a dump, on a quiet
# machine and beside CPU-bound loops, against another build.
#
# Runs kvmdci-iobus --json and kvmdci-vcpu --json on core://DUMP, output to a file (one
# warm-up run each, then BENCH_RUNS timed runs, the builds interleaved), first with nothing
# else started, then with BENCH_SPIN CPU-bound shell loops running beside (default: one per
# CPU, so that the tool shares every CPU). For each tool, build and load it prints the walk's
# seconds (the tool's stats: reading the VMs, decoding them and printing their JSON) and the
# whole command's CPU (user + system, discovery included), median (min..max); the walk's
# ratio against BENCH_PREV's build; and PASS/MISS for the dump half of issue 17's goal 6
# (1000 VMs walked in < 0.1 s on a dump) under each load. Every run's answer must be the same
# (JSON without stats and target), or it says which differs.
#
# Usage: bench/dump-walk.sh DUMP
#   DUMP: an ELF or kdump-compressed dump of a KVM host: `kvmdci-lab dump FILE`, or 1000
#   parked VMs from `BENCH_DUMP=1 BENCH_KEEP=1 bench/walk-scale.sh 1000` (its work dir keeps
#   lab.elf). The kernel's files come from the environment as for the tools (KVMDCI_VMLINUX,
#   KVMDCI_SYSTEM_MAP, KVMDCI_MODULES: `eval "$(kvmdci-lab env)"` of the lab it came from).
# Env:   BENCH_RUNS=N timed runs (default 5), BENCH_SPIN=N loops beside (default nproc; 0: the
#        quiet runs only), BENCH_PREV=BUILD_DIR (another build tree: its tools/ are measured
#        too), BENCH_BUILD=DIR (the build measured; default build/), BENCH_KEEP=1, BENCH_WORK=DIR
# Needs: a built tree (ninja -C build), jq, GNU time. A benchmark, not a test: it exits 0
# whenever it measured.
set -eu
set -o pipefail

PROG=dump-walk # used by common.sh (say, die)
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

[ $# = 1 ] || die "usage: bench/dump-walk.sh DUMP (the comment at its top says more)"
DUMP=$1
case $DUMP in /*) ;; *) DUMP=$PWD/$DUMP ;; esac
[ -r "$DUMP" ] || die "cannot read the dump $DUMP"
RUNS=${BENCH_RUNS:-5}
case $RUNS in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive integer, not '$RUNS'" ;; esac
SPIN=${BENCH_SPIN:-$(nproc)}
case $SPIN in '' | *[!0-9]*) die "BENCH_SPIN must be a number of loops (0 or more), not '$SPIN'" ;; esac
PREV=${BENCH_PREV:-}
if [ -n "$PREV" ]; then
	case $PREV in /*) ;; *) PREV=$PWD/$PREV ;; esac
	[ -x "$PREV/tools/kvmdci-iobus" ] || die "BENCH_PREV=$PREV has no tools/kvmdci-iobus"
fi
bench_init
unset KVMDCI_TARGET

SPINNERS=()
spin_start() {
	local _
	for _ in $(seq 1 "$1"); do
		sh -c 'while :; do :; done' &
		SPINNERS+=($!)
	done
}
spin_stop() {
	[ ${#SPINNERS[@]} = 0 ] || kill "${SPINNERS[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	SPINNERS=()
}
# the loops go on every exit (the first command of the trap keeps the status for the cleanup)
trap 'rc=$?; spin_stop; (exit $rc); bench_cleanup' EXIT

BUILDS="cur"
[ -z "$PREV" ] || BUILDS="cur prev"
LOADS="quiet"
[ "$SPIN" = 0 ] || LOADS="quiet spin"
declare -A SEC CPU LOADAT
ANSWER=""
SAME=yes
NVMS=-
for load in $LOADS; do
	if [ "$load" = spin ]; then
		spin_start "$SPIN"
		sleep 2 # the loops are running before the first run
	fi
	say "$load: $RUNS runs of each tool and build (one warm-up)"
	LOADAT[$load]=$(cut -d' ' -f1 /proc/loadavg)
	for run in $(seq 0 "$RUNS"); do
		for tool in iobus vcpu; do
			for b in $BUILDS; do
				dir=$BUILD
				[ "$b" = cur ] || dir=$PREV
				out=$WORK/$tool.$b.$load.$run.json
				timed "$out" "$WORK/$tool.err" "$dir/tools/kvmdci-$tool" --json -t "core://$DUMP"
				[ "$T_RC" = 0 ] || { cat "$WORK/$tool.err" >&2; die "$dir/tools/kvmdci-$tool on $DUMP failed"; }
				a=$(jq -cS 'del(.stats, .target)' "$out" | md5sum | cut -c1-12)
				if [ "$tool" = iobus ]; then
					[ "$NVMS" != - ] || NVMS=$(jq '.vms | length' "$out")
					[ -n "$ANSWER" ] || ANSWER=$a
					[ "$a" = "$ANSWER" ] || { SAME=no; say "the answer of $out differs"; }
				fi
				[ "$run" -gt 0 ] || continue
				SEC[$tool.$b.$load]="${SEC[$tool.$b.$load]:-} $(jq -r '.stats.seconds | . * 1000 | round / 1000' "$out")"
				CPU[$tool.$b.$load]="${CPU[$tool.$b.$load]:-} $T_CPU"
				rm -f "$out"
			done
		done
	done
	LOADAT[$load]="${LOADAT[$load]} -> $(cut -d' ' -f1 /proc/loadavg)"
	spin_stop
done

{
	echo
	echo "P4 (dump): io-bus and vCPU walks of $DUMP ($NVMS VMs, $(du -h "$DUMP" | cut -f1))"
	machine_note
	echo "loads: quiet = nothing started beside; spin = $SPIN CPU-bound loop(s) beside."
	echo "1-min load average during each: $(for l in $LOADS; do printf '%s %s; ' "$l" "${LOADAT[$l]}"; done)"
	echo
	printf '%-6s %-6s %-6s %24s %24s %12s\n' tool build load "walk_s med (min..max)" \
		"cpu_s med (min..max)" "walk cur/prev"
	for tool in iobus vcpu; do
		for load in $LOADS; do
			for b in $BUILDS; do
				key=$tool.$b.$load
				r=-
				if [ "$b" = cur ] && [ -n "$PREV" ]; then
					r=$(ratio "$(printf '%s\n' ${SEC[$key]} | spread | cut -d' ' -f1)" \
						"$(printf '%s\n' ${SEC[$tool.prev.$load]} | spread | cut -d' ' -f1)")
				fi
				printf '%-6s %-6s %-6s %24s %24s %12s\n' "$tool" "$b" "$load" \
					"$(printf '%s\n' ${SEC[$key]} | spread)" "$(printf '%s\n' ${CPU[$key]} | spread)" "$r"
			done
		done
	done
	echo
	echo "cur = $BUILD${PREV:+, prev = $PREV}; $RUNS timed runs each, after one warm-up."
	echo "walk_s: the tool's stats.seconds (the VMs read, decoded and their JSON written to a"
	echo "file); cpu_s: user + system of the whole command (GNU time, 10 ms steps)."
	echo "answers the same in every run (JSON without stats and target): $SAME"
	for tool in iobus vcpu; do
		for load in $LOADS; do
			w=$(printf '%s\n' ${SEC[$tool.cur.$load]} | spread | cut -d' ' -f1)
			echo "goal (issue 17, goal 6: 1000 VMs walked in < 0.1 s on a dump): $tool, $load:" \
				"$w s: $(awk -v v="$w" 'BEGIN { print (v < 0.1 ? "PASS" : "MISS") }')$([ "$NVMS" -ge 1000 ] ||
					echo " (at $NVMS VMs, not 1000)")"
		done
	done
} | tee "$WORK/report.txt"
OK=1
exit 0
