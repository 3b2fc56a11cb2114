#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench/startup.sh (P5) - CPU time of a tool's whole run on a lab dump with BTF files: the
# fixed start (System.map, vmlinux BTF, module BTF, kallsyms of the KVM modules) dominates it.
#
# Boots its own lab, parks a workload of a few VMs (workload --window), writes an ELF dump
# (kvmdci-lab dump) and stops the lab. Then, for kvmdci-iobus --json and kvmdci-vcpu --json on
# core://DUMP with the lab's KVMDCI_VMLINUX, KVMDCI_SYSTEM_MAP and KVMDCI_MODULES, measures
# user+sys CPU (getrusage of the child, microseconds):
#   cold   one run with an empty cache directory (XDG_CACHE_HOME of its own): it parses the
#          files and writes the kernel cache (lib/kernel/file-cache.c)
#   warm   one untimed warm-up, then BENCH_RUNS (3) runs: median, best and worst
#   off    KVMDCI_KERNEL_CACHE=0: the same runs without the cache
#   prev   the same runs of another build's tools, when BENCH_PREV=DIR names one (a build
#          tree, e.g. of the commit before the cache: its tools/ are used)
#   drgn   bench/drgn_iobus.py (the same walk, DWARF) when python3-drgn is installed; not
#          installed by this script (bench/first-answer.sh does that)
# The answers of all kvmdci runs must be the same (JSON without "stats"). Prints PASS/MISS
# for the goal: the warm median <= 20 ms CPU for each tool; ratios against off, prev, drgn.
#
# Usage: bench/startup.sh [VMS]        (VMs of the parked workload; default 4)
# Env:   BENCH_RUNS=N (default 3), BENCH_PREV=BUILD_DIR, BENCH_KEEP=1, BENCH_WORK=DIR,
#        BENCH_BUILD=DIR (the build measured; default build/)
# A benchmark, not a test: it exits 0 whenever it measured.
set -eu
set -o pipefail

PROG=startup
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

bench_vms_runs "${1:-}"
GOAL_MS=20
bench_init
PY=/usr/bin/python3
PREV=${BENCH_PREV:-}
if [ -n "$PREV" ]; then
	case $PREV in /*) ;; *) PREV=$PWD/$PREV ;; esac
	[ -x "$PREV/tools/kvmdci-iobus" ] || die "BENCH_PREV=$PREV has no tools/kvmdci-iobus"
fi
HAVE_DRGN=0
"$PY" -c 'import drgn' 2>/dev/null && HAVE_DRGN=1

lab_start
DEBUG=$(dirname "$KVMDCI_VMLINUX")/debug
if [ "$HAVE_DRGN" = 1 ] && ! [ -s "$DEBUG/vmlinux" ]; then
	say "no DWARF vmlinux in $DEBUG (kvmdci-lab build --dwarf-vmlinux): no drgn row"
	HAVE_DRGN=0
fi
say "parking $VMS VM(s), then dumping the lab"
park w --vms "$VMS" --vcpus 1
DUMP=$WORK/lab.elf
"$LAB" dump "$DUMP" >"$WORK/dump.log" 2>&1 || { cat "$WORK/dump.log" >&2; die "kvmdci-lab dump failed"; }
lab_stop
XDG=$WORK/cache

# cpu_one OUT ERR [VAR=VALUE...] -- CMD... : run CMD with the VARs set, sets T_CPU (ms,
# user+sys of the child, from wait4's rusage: microseconds, where GNU time prints hundredths
# of a second) and T_RC. The VARs are set by the measuring process itself: through env(1), its
# own exec would be counted too (3-5 ms of CPU in this project's VM, more than the tools' whole
# start is meant to take)
cpu_one() {
	local out=$1 err=$2
	shift 2
	T_RC=0
	"$PY" -c 'import os, resource, subprocess, sys
args = sys.argv[2:]
cut = args.index("--")
env = dict(os.environ, **dict(a.split("=", 1) for a in args[:cut]))
rc = subprocess.call(args[cut + 1:], env=env, stdout=open(sys.argv[1] + ".out", "w"),
                     stderr=open(sys.argv[1] + ".err", "w"))
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.1f" % ((r.ru_utime + r.ru_stime) * 1000))
sys.exit(rc)' "$WORK/cpu" "$@" >"$WORK/cpu.ms" || T_RC=$?
	mv "$WORK/cpu.out" "$out"
	mv "$WORK/cpu.err" "$err"
	T_CPU=$(cat "$WORK/cpu.ms")
}

declare -A CPUS ANSWER
# run_one ROW TOOL I: one run; I = 0 is untimed
run_one() {
	local row=$1 tool=$2 i=$3 out=$WORK/$1.$2.$3.out err=$WORK/$1.$2.$3.err bin=$TOOLS
	local -a env=(XDG_CACHE_HOME="$XDG")
	case $row in
	off) env+=(KVMDCI_KERNEL_CACHE=0) ;;
	prev) bin=$PREV/tools ;;
	esac
	if [ "$row" = drgn ]; then
		cpu_one "$out" "$err" -- "$PY" "$ROOT/bench/drgn_iobus.py" "$DUMP" "$DEBUG/vmlinux" \
			"$DEBUG/kvm.ko" "$DEBUG/kvm-amd.ko"
	else
		cpu_one "$out" "$err" "${env[@]}" -- "$bin/$tool" --json -t "core://$DUMP"
	fi
	[ "$T_RC" = 0 ] || { tail -n 5 "$err" >&2; die "$row $tool failed (run $i)"; }
	if [ "$row" != drgn ]; then
		ANSWER[$row.$tool]=$(jq -cS 'del(.stats)' "$out" | md5sum | cut -c1-12)
	fi
	[ "$i" = 0 ] || CPUS[$row.$tool]="${CPUS[$row.$tool]:-} $T_CPU"
}

TOOLS_RUN="kvmdci-iobus kvmdci-vcpu"
ROWS="warm off"
[ -z "$PREV" ] || ROWS="$ROWS prev"
say "cold runs (empty cache directory $XDG)"
declare -A COLD
for t in $TOOLS_RUN; do
	rm -rf "$XDG"
	run_one warm "$t" 0
	COLD[$t]=$T_CPU
done
say "warm-up run of each, then $RUNS timed runs, interleaved: $ROWS"
for r in $ROWS; do for t in $TOOLS_RUN; do run_one "$r" "$t" 0; done; done
for i in $(seq 1 "$RUNS"); do
	for r in $ROWS; do for t in $TOOLS_RUN; do run_one "$r" "$t" "$i"; done; done
done
if [ "$HAVE_DRGN" = 1 ]; then
	run_one drgn kvmdci-iobus 0
	for i in $(seq 1 "$RUNS"); do run_one drgn kvmdci-iobus "$i"; done
fi

# ---- report ----------------------------------------------------------------------------------
declare -A BEST MED WORST
for k in "${!CPUS[@]}"; do
	read -r BEST[$k] MED[$k] < <(printf '%s\n' ${CPUS[$k]} | best_median)
	WORST[$k]=$(printf '%s\n' ${CPUS[$k]} | sort -g | tail -n 1)
done
SAME=yes
for t in $TOOLS_RUN; do
	for r in $ROWS; do
		[ "${ANSWER[$r.$t]}" = "${ANSWER[warm.$t]}" ] || SAME=no
	done
done
{
	echo
	echo "P5: CPU time (user+sys) of a tool's run on a lab dump with BTF files ($VMS parked VMs;" \
		"$(du -h "$DUMP" | cut -f1) ELF)"
	machine_note
	echo
	printf '%-14s %-34s %9s %9s %9s\n' tool run median_ms best_ms worst_ms
	for t in $TOOLS_RUN; do
		printf '%-14s %-34s %9s %9s %9s\n' "$t" "cold (empty cache, writes it)" "${COLD[$t]}" - -
		printf '%-14s %-34s %9s %9s %9s\n' "$t" "warm (cache read)" "${MED[warm.$t]}" \
			"${BEST[warm.$t]}" "${WORST[warm.$t]}"
		printf '%-14s %-34s %9s %9s %9s\n' "$t" "KVMDCI_KERNEL_CACHE=0" "${MED[off.$t]}" \
			"${BEST[off.$t]}" "${WORST[off.$t]}"
		[ -z "$PREV" ] || printf '%-14s %-34s %9s %9s %9s\n' "$t" "previous build (BENCH_PREV)" \
			"${MED[prev.$t]}" "${BEST[prev.$t]}" "${WORST[prev.$t]}"
	done
	[ "$HAVE_DRGN" = 0 ] || printf '%-14s %-34s %9s %9s %9s\n' drgn "drgn_iobus.py, DWARF" \
		"${MED[drgn.kvmdci-iobus]}" "${BEST[drgn.kvmdci-iobus]}" "${WORST[drgn.kvmdci-iobus]}"
	echo
	echo "user+sys CPU of the whole command (the child's rusage), $RUNS runs each after a warm-up"
	echo "run (page cache warm); cold: one run with an empty cache directory."
	echo "answers the same in every kvmdci run (JSON without stats): $SAME"
	for t in $TOOLS_RUN; do
		m=${MED[warm.$t]}
		echo "$t: warm ${m} ms <= ${GOAL_MS} ms: $(awk -v v="$m" -v g="$GOAL_MS" 'BEGIN { print (v <= g ? "PASS" : "MISS") }');" \
			"off/warm $(ratio "${MED[off.$t]}" "$m")x" \
			"$([ -z "$PREV" ] || echo "; previous/warm $(ratio "${MED[prev.$t]}" "$m")x")" \
			"$([ "$HAVE_DRGN" = 0 ] || [ "$t" != kvmdci-iobus ] || echo "; drgn/warm $(ratio "${MED[drgn.kvmdci-iobus]}" "$m")x")"
	done
} | tee "$WORK/report.txt"
[ "$SAME" = yes ] || say "warning: the answers differ between runs (see $WORK/*.out)"
OK=1
