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
# three ways: on (the default: read cache, reads planned across VMs), noplan
# (KVMDCI_READ_PLAN=0) and off (no plan, KVMDCI_READ_CACHE=0), BENCH_RUNS times each (rounds
# interleaved). From each tool's "stats" (packets sent to the stub, bytes received, seconds of
# the walk, discovery excluded) and /usr/bin/time (wall of the whole command, max RSS) it
# prints a table (walk seconds: median and min..max of the runs), the per-VM slopes between
# the counts and the cache's packet ratio.
# With BENCH_DUMP=1 it also writes an ELF dump of the lab at the largest count, VMs parked
# (kvmdci-lab dump), stops the lab and runs both tools on core://DUMP (one warm-up run, then
# BENCH_RUNS timed runs): the walk's seconds (stats) and the whole command's CPU (user +
# system), and checks the dump's answers are the live ones (JSON without stats and target).
#
# Usage: bench/walk-scale.sh [N...]         (VM counts, at most 1000; default 1 10 100)
# The lab gets 1 GiB up to 50 VMs, 2 GiB up to 200, 4 GiB above (BENCH_LAB_MEMORY=MB sets it);
# the seconds each count took to park are printed (VM creation under TCG is slow: ~14
# minutes for 1000).
# Env:   BENCH_RUNS=N runs of each tool and mode (default 3); BENCH_DUMP=1 the dump's walks
#        (needs free space in the work dir for the lab's memory); BENCH_KEEP=1 keeps the work
#        dir (the dump too); BENCH_WORK=DIR uses DIR (must not exist).
# Needs: a built tree (ninja -C build), jq, python3, GNU time, what kvmdci-lab needs.
# Goals: linear in VMs (issue 8, P4); 1000 VMs walked in < 0.5 s live and < 0.1 s on a dump
# (issue 17, goal 6). A benchmark, not a test: it exits 0 whenever it measured.
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
RUNS=${BENCH_RUNS:-3}
case $RUNS in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive integer, not '$RUNS'" ;; esac
DUMP_ON=${BENCH_DUMP:-0}
case $DUMP_ON in 0 | 1) ;; *) die "BENCH_DUMP must be 0 or 1, not '$DUMP_ON'" ;; esac
bench_init
MAXN=$(printf '%s\n' $COUNTS | sort -n | tail -n 1)
MEM=1024
[ "$MAXN" -le 50 ] || MEM=2048 # 100 VMs' page tables and vCPU pages need more than 1 GiB
[ "$MAXN" -le 200 ] || MEM=4096
MEM=${BENCH_LAB_MEMORY:-$MEM}
DUMP=$WORK/lab.elf
if [ "$DUMP_ON" = 1 ]; then # the ELF dump holds all of the lab's memory
	free=$(df -Pm "$WORK" | awk 'NR == 2 { print $4 }')
	[ "$free" -gt $((MEM + 512)) ] || die "BENCH_DUMP=1: $free MB free in $WORK, the dump needs ~$MEM MB"
fi
lab_start --memory "$MEM"

declare -A PK SEC WALL RSS BY PARK ANS SECS
SAME=yes
ROWS=""
DUMPED=0
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
	for run in $(seq 1 "$RUNS"); do
		for tool in iobus vcpu; do
			for cache in on noplan off; do
				key=$tool.$n.$cache
				out=$WORK/$key.$run.json
				case $cache in
				off) timed "$out" "$WORK/$key.err" env KVMDCI_READ_CACHE=0 KVMDCI_READ_PLAN=0 "$TOOLS/kvmdci-$tool" --json ;;
				noplan) timed "$out" "$WORK/$key.err" env KVMDCI_READ_PLAN=0 "$TOOLS/kvmdci-$tool" --json ;;
				*) timed "$out" "$WORK/$key.err" "$TOOLS/kvmdci-$tool" --json ;;
				esac
				[ "$T_RC" = 0 ] || { cat "$WORK/$key.err" >&2; die "kvmdci-$tool --json failed ($n VMs, cache $cache)"; }
				a=$(jq -cS 'del(.stats)' "$out" | md5sum | cut -c1-12)
				[ -n "${ANS[$tool.$n]:-}" ] || ANS[$tool.$n]=$a
				[ "$a" = "${ANS[$tool.$n]}" ] || SAME=no
				got=$(jq '.vms | length' "$out")
				[ "$got" -ge "$n" ] || say "warning: kvmdci-$tool saw $got VMs, $n parked"
				# packets and bytes: the first run's (the same in every run of a parked lab)
				[ "$run" -gt 1 ] || PK[$key]=$(jq -r .stats.packets_sent "$out")
				[ "$run" -gt 1 ] || BY[$key]=$(jq -r .stats.bytes_received "$out")
				SECS[$key]="${SECS[$key]:-} $(jq -r '.stats.seconds | . * 1000 | round / 1000' "$out")"
				WALL[$key]="${WALL[$key]:-} $T_WALL"
				[ "${RSS[$key]:-0}" -ge "$T_RSS" ] || RSS[$key]=$T_RSS
			done
		done
	done
	for key in "${!SECS[@]}"; do
		case $key in *".$n."*) SEC[$key]=$(printf '%s\n' ${SECS[$key]} | spread) ;; esac
	done
	ROWS="$ROWS $n"
	if [ "$DUMP_ON" = 1 ] && [ "$n" = "$MAXN" ] && [ "$DUMPED" = 0 ]; then
		say "dumping the lab ($MEM MB) with $n VMs parked"
		t0=$SECONDS
		"$LAB" dump "$DUMP" >"$WORK/dump.log" 2>&1 || { cat "$WORK/dump.log" >&2; die "kvmdci-lab dump failed"; }
		DUMPED=1
		say "dump written in $((SECONDS - t0)) s ($(du -h "$DUMP" | cut -f1))"
	fi
	for w in $names; do wl_release "$w"; done
done

# ---- the dump's walks, the lab stopped ---------------------------------------------------------
declare -A DSEC DCPU DWALL DRSS
DSAME=-
if [ "$DUMPED" = 1 ]; then
	lab_stop
	DSAME=yes
	for run in $(seq 0 "$RUNS"); do # run 0: the warm-up (page cache), not counted
		for tool in iobus vcpu; do
			out=$WORK/$tool.dump.$run.json
			timed "$out" "$WORK/$tool.dump.err" "$TOOLS/kvmdci-$tool" --json -t "core://$DUMP"
			[ "$T_RC" = 0 ] || { cat "$WORK/$tool.dump.err" >&2; die "kvmdci-$tool --json on the dump failed"; }
			a=$(jq -cS 'del(.stats, .target)' "$out" | md5sum | cut -c1-12)
			b=$(jq -cS 'del(.stats, .target)' "$WORK/$tool.$MAXN.on.1.json" | md5sum | cut -c1-12)
			[ "$a" = "$b" ] || DSAME=no
			[ "$run" -gt 0 ] || continue
			DSEC[$tool]="${DSEC[$tool]:-} $(jq -r '.stats.seconds | . * 1000 | round / 1000' "$out")"
			DCPU[$tool]="${DCPU[$tool]:-} $T_CPU"
			DWALL[$tool]="${DWALL[$tool]:-} $T_WALL"
			[ "${DRSS[$tool]:-0}" -ge "$T_RSS" ] || DRSS[$tool]=$T_RSS
		done
	done
	[ -n "${BENCH_KEEP:-}" ] || rm -f "$DUMP"
fi

# ---- report ----------------------------------------------------------------------------------
slope() { awk -v a="$1" -v b="$2" -v na="$3" -v nb="$4" 'BEGIN { if (nb == na) print "-"; else printf "%.1f", (b - a) / (nb - na) }'; }
slope_ms() { awk -v a="$1" -v b="$2" -v na="$3" -v nb="$4" 'BEGIN { if (nb == na) print "-"; else printf "%.2f", 1000 * (b - a) / (nb - na) }'; }
{
	echo
	echo "P4: io-bus and vCPU walks as VMs grow (parked 1-vCPU VMs; live gdbstub, one lab)"
	machine_note
	echo
	printf '%-6s %5s %6s %9s %10s %22s %8s %8s   %9s\n' tool VMs cache packets bytes \
		"walk_s med (min..max)" wall_s maxRSS "pk on/off"
	for tool in iobus vcpu; do
		for n in $ROWS; do
			for cache in on noplan off; do
				key=$tool.$n.$cache
				r=-
				[ "$cache" = off ] || r=$(ratio "${PK[$key]}" "${PK[$tool.$n.off]}")
				printf '%-6s %5s %6s %9s %10s %22s %8s %6sMB   %9s\n' "$tool" "$n" "$cache" "${PK[$key]}" \
					"${BY[$key]}" "${SEC[$key]}" "$(printf '%s\n' ${WALL[$key]} | spread | cut -d' ' -f1)" \
					$((RSS[$key] / 1024)) "$r"
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
					line="$line  $prev->$n: $(slope "${PK[$tool.$prev.$cache]}" "${PK[$tool.$n.$cache]}" "$prev" "$n") pk/VM, $(slope_ms "${SEC[$tool.$prev.$cache]%% *}" "${SEC[$tool.$n.$cache]%% *}" "$prev" "$n") ms/VM"
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
	echo "walk_s: median of $RUNS run(s) (min..max); wall_s: median."
	for tool in iobus vcpu; do
		w=${SEC[$tool.$MAXN.on]%% *}
		echo "goal (issue 17, goal 6: 1000 VMs walked in < 0.5 s live): $tool at $MAXN VMs" \
			"$w s: $(awk -v v="$w" 'BEGIN { print (v < 0.5 ? "PASS" : "MISS") }')$([ "$MAXN" -ge 1000 ] ||
				echo " (at $MAXN VMs, not 1000)")"
	done
	if [ "$DUMPED" = 1 ]; then
		echo
		echo "on the dump ($MAXN VMs parked; ELF of $MEM MB, kvmdci-lab dump; the lab stopped;"
		echo "one warm-up run, then $RUNS; median (min..max)): walk_s = the tool's stats, cpu_s ="
		echo "user + system of the whole command (discovery included), wall_s the whole command"
		printf '%-6s %22s %22s %8s %8s\n' tool walk_s cpu_s wall_s maxRSS
		for tool in iobus vcpu; do
			printf '%-6s %22s %22s %8s %6sMB\n' "$tool" "$(printf '%s\n' ${DSEC[$tool]} | spread)" \
				"$(printf '%s\n' ${DCPU[$tool]} | spread)" \
				"$(printf '%s\n' ${DWALL[$tool]} | spread | cut -d' ' -f1)" $((DRSS[$tool] / 1024))
		done
		echo "dump answers the same as live (JSON without stats and target): $DSAME"
		for tool in iobus vcpu; do
			w=$(printf '%s\n' ${DSEC[$tool]} | spread | cut -d' ' -f1)
			echo "goal (issue 17, goal 6: 1000 VMs walked in < 0.1 s on a dump): $tool at $MAXN VMs" \
				"$w s: $(awk -v v="$w" 'BEGIN { print (v < 0.1 ? "PASS" : "MISS") }')$([ "$MAXN" -ge 1000 ] ||
					echo " (at $MAXN VMs, not 1000)")"
		done
	fi
	for n in $ROWS; do printf 'parking %s VM(s) took %s s; ' "$n" "${PARK[$n]}"; done
	echo "lab memory $MEM MB"
} | tee "$WORK/report.txt"
OK=1
exit 0
