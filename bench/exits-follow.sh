#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench/exits-follow.sh - exit tracing from a VMM's start: the watch trigger (which follows
# vCPUs created while it runs) against the break trigger, in the same run.
#
# Boots its own lab with no workload. For each trigger (watch, then break): starts
# `kvmdci-exits --trigger T --json` with no vCPU on the host, then runs the same workload
# (`workload --vcpus 1 --warmup 0 --iterations N`: about 6 exits an iteration) in the guest, so every exit of the VM is traced from its
# first; stops the tool after the workload has exited (its VM destroyed). Prints, per trigger,
# the exits counted, KVM's own count of the workload's vCPU (its final KVM_GET_STATS_FD
# exits), the seconds from the workload's start to its end (wall clock, through the console)
# and the hits/s; then the ratio watch / break.
#
# Usage: bench/exits-follow.sh [ITERATIONS]   (default 150)
# Goal: watch from the first exit >= 10x the break trigger's hits/s (the ratio measured for
# vCPUs that exist before the start, docs/lab-facts.md). It exits 0 whenever it could measure.
set -eu
set -o pipefail

PROG=exits-follow
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

N=${1:-150}
case $N in '' | *[!0-9]* | 0) die "ITERATIONS must be a positive integer, not '$N'" ;; esac
bench_init
lab_start

declare -A HITS KVM SECS COV
for trig in watch break; do
	say "$trig: kvmdci-exits started, then a 1-vCPU workload of $N iterations"
	"$TOOLS/kvmdci-exits" --trigger "$trig" --json >"$WORK/$trig.json" 2>"$WORK/$trig.err" &
	pid=$!
	wait_tracing "$pid" "$WORK/$trig.err"
	t0=$(date +%s.%N)
	"$LAB" run --timeout 1800 \
		"workload --vcpus 1 --warmup 0 --iterations $N --json /tmp/$trig.json --quiet" \
		>/dev/null ||
		die "the workload failed under the $trig trigger"
	t1=$(date +%s.%N)
	kill -INT "$pid"
	wait "$pid" || die "kvmdci-exits --trigger $trig failed: $(tail -n 3 "$WORK/$trig.err")"
	"$LAB" run "cat /tmp/$trig.json" | tr -d '\r' | sed -n '/^{/,$p' >"$WORK/$trig.wl.json"
	HITS[$trig]=$(jq .total "$WORK/$trig.json")
	KVM[$trig]=$(jq '[.vms[0].final.vcpus[].stats.exits] | add' "$WORK/$trig.wl.json")
	COV[$trig]=$(jq -c '{coverage, follow, trigger}' "$WORK/$trig.json")
	SECS[$trig]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
done

machine_note
printf '%-7s %10s %12s %9s %10s  %s\n' trigger counted "KVM's exits" seconds "hits/s" "coverage"
for trig in watch break; do
	rate=$(awk -v h="${HITS[$trig]}" -v s="${SECS[$trig]}" 'BEGIN { printf "%.0f", h / s }')
	printf '%-7s %10s %12s %9s %10s  %s\n' "$trig" "${HITS[$trig]}" "${KVM[$trig]}" \
		"${SECS[$trig]}" "$rate" "${COV[$trig]}"
	eval "RATE_$trig=$rate"
done
r=$(ratio "$RATE_watch" "$RATE_break")
verdict=MISS
awk -v r="$r" 'BEGIN { exit !(r >= 10) }' && verdict=PASS
echo "$verdict watch from the first exit: ${r}x the break trigger's hits/s (goal >= 10x)"
[ "${HITS[watch]}" = "${KVM[watch]}" ] || echo "note: watch counted ${HITS[watch]}, KVM ${KVM[watch]}"
OK=1
