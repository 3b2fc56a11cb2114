#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench/walk-scale.sh (P4) - target reads and time of the io-bus and vCPU walks as VMs grow.
#
# Boots its own lab (kvmdci-lab, QEMU TCG, gdbstub on a unix socket) and, for each VM count
# (default 1 10 100), parks a workload of that many 1-vCPU VMs (workload --window: the VMs
# exist, their vCPUs are parked outside KVM_RUN; one workload holds at most 64, so counts above
# 50 are split into workloads of at most 50: 100 VMs = 2 of 50, 1000 = 20 of 50) and runs, on
# that same parked moment:
#   kvmdci-iobus --json   and   kvmdci-vcpu --json
# once with the kernel view's read cache (the default) and once with KVMDCI_READ_CACHE=0.
# From each tool's "stats" (packets sent to the stub, bytes received, seconds of the walk,
# discovery excluded) and /usr/bin/time (wall of the whole command, max RSS) it prints a
# table, the per-VM slopes between the counts and the cache's packet ratio.
#
# Usage: bench/walk-scale.sh [N...]         (VM counts, at most 1000; default 1 10 100)
# The lab gets 1 GiB up to 50 VMs, 2 GiB up to 200, 4 GiB above (BENCH_LAB_MEMORY=MB sets it);
# the seconds each count took to park are printed (VM creation under TCG is slow).
# Env:   BENCH_KEEP=1 keeps the work dir; BENCH_WORK=DIR uses DIR (must not exist).
# Needs: a built tree (ninja -C build), jq, python3, GNU time, what kvmdci-lab needs.
# Goal (issue 8, P4): linear in VMs. A benchmark, not a test: it exits 0 whenever it measured.
set -eu
set -o pipefail

PROG=walk-scale
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

COUNTS=${*:-1 10 100}
for n in $COUNTS; do
	case $n in '' | *[!0-9]* | 0) die "VM counts must be positive integers, not '$n'" ;; esac
	[ "$n" -le 1000 ] || die "at most 1000 VMs"
done
bench_init
MAXN=$(printf '%s\n' $COUNTS | sort -n | tail -n 1)
MEM=1024
[ "$MAXN" -le 50 ] || MEM=2048 # 100 VMs' page tables and vCPU pages need more than 1 GiB
[ "$MAXN" -le 200 ] || MEM=4096
MEM=${BENCH_LAB_MEMORY:-$MEM}
lab_start --memory "$MEM"

declare -A PK SEC WALL RSS BY PARK ANS
SAME=yes
ROWS=""
for n in $COUNTS; do
	# one workload holds at most 64 VMs: workloads of at most 50 each
	names=""
	nw=$(((n + 49) / 50))
	say "parking $n VM(s) ($nw workload(s))"
	t0=$SECONDS
	for w in $(seq 1 "$nw"); do
		a=$(((n * w) / nw - (n * (w - 1)) / nw))
		park "w${n}_$w" --vms "$a" --vcpus 1
		names="$names w${n}_$w"
	done
	PARK[$n]=$((SECONDS - t0))
	say "parked $n VM(s) in ${PARK[$n]} s"
	for tool in iobus vcpu; do
		for cache in on noplan off; do
			key=$tool.$n.$cache
			out=$WORK/$key.json
			case $cache in
			off) timed "$out" "$WORK/$key.err" env KVMDCI_READ_CACHE=0 KVMDCI_READ_PLAN=0 "$TOOLS/kvmdci-$tool" --json ;;
			noplan) timed "$out" "$WORK/$key.err" env KVMDCI_READ_PLAN=0 "$TOOLS/kvmdci-$tool" --json ;;
			*) timed "$out" "$WORK/$key.err" "$TOOLS/kvmdci-$tool" --json ;;
			esac
			ANS[$key]=$(jq -cS 'del(.stats)' "$out" | md5sum | cut -c1-12)
			[ "${ANS[$key]}" = "${ANS[$tool.$n.on]}" ] || SAME=no
			[ "$T_RC" = 0 ] || { cat "$WORK/$key.err" >&2; die "kvmdci-$tool --json failed ($n VMs, cache $cache)"; }
			got=$(jq '.vms | length' "$out")
			[ "$got" -ge "$n" ] || say "warning: kvmdci-$tool saw $got VMs, $n parked"
			PK[$key]=$(jq -r .stats.packets_sent "$out")
			BY[$key]=$(jq -r .stats.bytes_received "$out")
			SEC[$key]=$(jq -r '.stats.seconds | . * 1000 | round / 1000' "$out")
			WALL[$key]=$T_WALL
			RSS[$key]=$T_RSS
		done
	done
	ROWS="$ROWS $n"
	for w in $names; do wl_release "$w"; done
done

# ---- report ----------------------------------------------------------------------------------
slope() { awk -v a="$1" -v b="$2" -v na="$3" -v nb="$4" 'BEGIN { if (nb == na) print "-"; else printf "%.1f", (b - a) / (nb - na) }'; }
slope_ms() { awk -v a="$1" -v b="$2" -v na="$3" -v nb="$4" 'BEGIN { if (nb == na) print "-"; else printf "%.2f", 1000 * (b - a) / (nb - na) }'; }
{
	echo
	echo "P4: io-bus and vCPU walks as VMs grow (parked 1-vCPU VMs; live gdbstub, one lab)"
	machine_note
	echo
	printf '%-6s %5s %6s %9s %10s %8s %8s %8s   %9s\n' tool VMs cache packets bytes walk_s wall_s maxRSS "pk on/off"
	for tool in iobus vcpu; do
		for n in $ROWS; do
			for cache in on noplan off; do
				key=$tool.$n.$cache
				r=-
				[ "$cache" = off ] || r=$(ratio "${PK[$key]}" "${PK[$tool.$n.off]}")
				printf '%-6s %5s %6s %9s %10s %8s %8s %6sMB   %9s\n' "$tool" "$n" "$cache" "${PK[$key]}" \
					"${BY[$key]}" "${SEC[$key]}" "${WALL[$key]}" $((RSS[$key] / 1024)) "$r"
			done
		done
	done
	echo
	echo "per-VM slopes (packets per added VM, walk ms per added VM) between successive counts:"
	for tool in iobus vcpu; do
		for cache in on noplan off; do
			prev=""
			line=""
			for n in $ROWS; do
				if [ -n "$prev" ]; then
					line="$line  $prev->$n: $(slope "${PK[$tool.$prev.$cache]}" "${PK[$tool.$n.$cache]}" "$prev" "$n") pk/VM, $(slope_ms "${SEC[$tool.$prev.$cache]}" "${SEC[$tool.$n.$cache]}" "$prev" "$n") ms/VM"
				fi
				prev=$n
			done
			printf '  %-6s cache %-3s %s\n' "$tool" "$cache" "${line:- (one count only)}"
		done
	done
	echo
	echo "packets: sent to the stub during the walk (tool's --json stats; discovery - symbols,"
	echo "types, modules - excluded); walk_s: the walk's seconds; wall_s and maxRSS: the whole"
	echo "command (/usr/bin/time -v). on = the default (read cache, and the VM, vCPU and io-bus"
	echo "reads planned across VMs: kvmdci_kvm_io_prefetch, ..._vcpu_prefetch); noplan ="
	echo "KVMDCI_READ_PLAN=0 (the default before the plan); off = also KVMDCI_READ_CACHE=0."
	echo "answers the same in every mode (JSON without stats): $SAME"
	echo "Linear = the per-VM"
	echo "slope stays the same from one count to the next (goal P4)."
	for tool in iobus vcpu; do
		w=${SEC[$tool.$MAXN.on]}
		echo "goal (issue 17, goal 6: 1000 VMs walked in < 0.5 s live): $tool at $MAXN VMs" \
			"$w s: $(awk -v v="$w" 'BEGIN { print (v < 0.5 ? "PASS" : "MISS") }')$([ "$MAXN" -ge 1000 ] ||
				echo " (at $MAXN VMs, not 1000)")"
	done
	for n in $ROWS; do printf 'parking %s VM(s) took %s s; ' "$n" "${PARK[$n]}"; done
	echo "lab memory $MEM MB"
} | tee "$WORK/report.txt"
OK=1
exit 0
