#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench/rss-trace.sh (P3) - peak memory of kvmdci-exits over long traces: flat in hits?
#
# Boots its own lab (kvmdci-lab start --vcpus 1: one VM with 1 vCPU running the workload
# freely, as bench/exits-rate.sh) and runs `kvmdci-exits --trigger watch --json` for each
# duration (default 10 30 60 s), sampling the tracer's /proc/PID/status (VmRSS, VmHWM) every
# second. Per run it prints the hits decoded, VmRSS at the first sample after tracing began
# and at the last, VmHWM (the peak), and the growth per 1000 hits; then the longest run's peak
# against the shortest's (the two sides) and the goal: <= 64 MB with BTF (the lab's vmlinux
# carries BTF) and flat (the peak does not grow with hits).
# It also runs the longest duration once more with debuginfo-less knowledge (no vmlinux, no
# System.map, no module files: types and symbols from the target's memory), for comparison.
#
# Usage: bench/rss-trace.sh [SECONDS...]    (default 10 30 60)
# Env:   BENCH_KEEP=1 keeps the work dir (JSON, samples); BENCH_WORK=DIR uses DIR.
# Needs: a built tree (ninja -C build), jq, python3, GNU time, what kvmdci-lab needs.
# A benchmark, not a test: it exits 0 whenever it measured.
set -eu
set -o pipefail

PROG=rss-trace
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

DURS=${*:-10 30 60}
for d in $DURS; do
	case $d in '' | *[!0-9]* | 0) die "durations must be positive integers, not '$d'" ;; esac
done
bench_init
lab_start --vcpus 1
sleep 3 # let the workload's VM come up

status_kb() { # PID FIELD -> KiB or empty
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

declare -A HITS HWM RSS0 RSS1 TIMERSS
# run LABEL SECONDS [env assignments...]
run() {
	local label=$1 d=$2
	shift 2
	local out=$WORK/$label.json err=$WORK/$label.err samples=$WORK/$label.samples
	say "kvmdci-exits --trigger watch --duration $d ($label)"
	: >"$samples"
	env "$@" /usr/bin/time -v -o "$err.time" "$TOOLS/kvmdci-exits" --trigger watch --duration "$d" \
		--json >"$out" 2>"$err" &
	local tpid=$! pid="" t=0 rc=0
	# the tracer is /usr/bin/time's child
	while [ -z "$pid" ] && kill -0 "$tpid" 2>/dev/null; do
		pid=$(pgrep -P "$tpid" -x kvmdci-exits || true)
		[ -n "$pid" ] || sleep 0.05
	done
	while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do
		r=$(status_kb "$pid" VmRSS)
		h=$(status_kb "$pid" VmHWM)
		[ -z "$r" ] || echo "$t $r $h" >>"$samples"
		sleep 1
		t=$((t + 1))
	done
	wait "$tpid" || rc=$?
	[ "$rc" = 0 ] || { cat "$err" >&2; die "kvmdci-exits failed ($label)"; }
	HITS[$label]=$(jq -r .total "$out")
	# the first sample after discovery (the tracer has attached: second 2 on), the last one
	RSS0[$label]=$(awk 'NR <= 3 { v = $2 } END { print v }' "$samples")
	RSS1[$label]=$(tail -n 1 "$samples" | awk '{ print $2 }')
	HWM[$label]=$(tail -n 1 "$samples" | awk '{ print $3 }')
	TIMERSS[$label]=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$err.time")
	"$LAB" run --timeout 20 true >/dev/null 2>&1 || die "the lab is stuck after $label"
}

LABELS=""
for d in $DURS; do
	run "btf-$d" "$d"
	LABELS="$LABELS btf-$d"
done
LONG=$(printf '%s\n' $DURS | sort -n | tail -n 1)
SHORT=$(printf '%s\n' $DURS | sort -n | head -n 1)
run "nodebug-$LONG" "$LONG" -u KVMDCI_VMLINUX -u KVMDCI_SYSTEM_MAP -u KVMDCI_MODULES
LABELS="$LABELS nodebug-$LONG"

# ---- report ----------------------------------------------------------------------------------
mb() { awk -v k="$1" 'BEGIN { if (k == "") print "-"; else printf "%.1f", k / 1024 }'; }
{
	echo
	echo "P3: kvmdci-exits --trigger watch memory over long traces (1 VM x 1 vCPU, live gdbstub)"
	machine_note
	echo
	printf '%-14s %8s %9s %9s %9s %9s %9s  %s\n' run seconds hits "RSS@2s" "RSS@end" VmHWM "time-v" "KiB per 1000 hits (end - 2s)"
	for l in $LABELS; do
		g=$(awk -v a="${RSS0[$l]}" -v b="${RSS1[$l]}" -v h="${HITS[$l]}" \
			'BEGIN { if (h <= 0) print "-"; else printf "%.2f", (b - a) / h * 1000 }')
		printf '%-14s %8s %9s %8sM %8sM %8sM %8sM  %s\n' "$l" "${l#*-}" "${HITS[$l]}" "$(mb "${RSS0[$l]}")" \
			"$(mb "${RSS1[$l]}")" "$(mb "${HWM[$l]}")" "$(mb "${TIMERSS[$l]}")" "$g"
	done
	echo
	hs=${HWM[btf-$SHORT]} hl=${HWM[btf-$LONG]}
	echo "peak (VmHWM) ${LONG} s / ${SHORT} s = $(ratio "$hl" "$hs") with $(ratio "${HITS[btf-$LONG]}" "${HITS[btf-$SHORT]}")x the hits"
	flat=$(awk -v a="$hs" -v b="$hl" 'BEGIN { print (b <= a * 1.05 + 1024) ? "PASS" : "MISS" }')
	small=$(awk -v b="$hl" 'BEGIN { print (b <= 64 * 1024) ? "PASS" : "MISS" }')
	echo "goal: peak <= 64 MB with BTF: $(mb "$hl") MB  $small"
	echo "goal: flat in hits (longest peak <= shortest peak + 5% + 1 MB): $flat"
	echo
	echo "RSS@2s: VmRSS sampled 2 s after start (attached, tracing); RSS@end: the last sample;"
	echo "VmHWM: the kernel's peak RSS of the process (last sample); time-v: /usr/bin/time -v's"
	echo "maximum resident set size. btf-*: the lab's environment (vmlinux with BTF, System.map,"
	echo "module files); nodebug-*: none of them (kernel knowledge from the target's memory)."
} | tee "$WORK/report.txt"
OK=1
exit 0
