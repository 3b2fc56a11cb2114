#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench/attach.sh (P6) - debuginfo-less live attach against the file-based one, same lab, same
# run: how long until the kernel view is ready (connect, kvmdci_kernel_open) with no kernel
# files at all (vmlinux symbols from the kernel's kallsyms tables, types from its .BTF, the KVM
# modules' from memory) and with the lab's vmlinux, System.map and modules.
#
# Boots its own lab (kvmdci-lab start --vcpus 2: the default workload, two busy vCPUs, as the
# lab tests run it), builds bench/attach.c against build/, runs each mode once untimed, then
# BENCH_RUNS (3) rounds of both, alternating. Prints per mode the median and spread (min..max)
# of the seconds, the packets sent and bytes received over the attach, and PASS/MISS for the
# goal: the debuginfo-less median <= 0.5 s. With BENCH_PREV=BUILD_DIR another build's library
# (e.g. of the commit before this work) is measured too, in the same rounds. Every attach must
# give the same answer (KASLR offset, kvm's vm_list, release); a failed attach is tried again
# (up to 3 times) and counted in the report.
#
# Usage: bench/attach.sh
# Env:   BENCH_RUNS=N (default 3), BENCH_PREV=BUILD_DIR, BENCH_KEEP=1, BENCH_WORK=DIR,
#        BENCH_BUILD=DIR (the build measured; default build/)
# A benchmark, not a test: it exits 0 whenever it measured.
set -eu
set -o pipefail

PROG=attach
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

bench_vms_runs 1
GOAL_S=0.5
bench_init cc
PREV=${BENCH_PREV:-}
if [ -n "$PREV" ]; then
	case $PREV in /*) ;; *) PREV=$PWD/$PREV ;; esac
	[ -e "$PREV/libkvmdci.so" ] || die "BENCH_PREV=$PREV has no libkvmdci.so"
fi
say "building bench/attach"
cc -O2 -o "$WORK/attach" "$ROOT/bench/attach.c" -I"$ROOT/include" -L"$BUILD" -lkvmdci \
	-Wl,-rpath,"$BUILD" || die "building bench/attach.c failed"
lab_start --vcpus 2

MODES="none files"
[ -z "$PREV" ] || MODES="$MODES prev-none"
declare -A A_SECS A_PKTS A_BYTES ANSWER FAILS
# one MODE I: one attach; I = 0 is untimed
one() {
	local mode=$1 i=$2 out=$WORK/$1.$2.out
	local -a cmd=(env)
	case $mode in
	none | prev-none) cmd+=(-u KVMDCI_VMLINUX -u KVMDCI_SYSTEM_MAP -u KVMDCI_MODULES) ;;
	esac
	if [ "$mode" = prev-none ]; then
		# the same program, the other build's library (its rpath names build/: preload)
		cmd+=(LD_PRELOAD="$PREV/libkvmdci.so.0")
	fi
	local try
	for try in 1 2 3; do
		"${cmd[@]}" "$WORK/attach" >"$out" 2>"$WORK/$mode.$i.err" && break
		# counted and said: a failed attach (the library before this work gave up when
		# no CPU was in the host kernel at the stop) is tried again, up to 3 times
		FAILS[$mode]=$((${FAILS[$mode]:-0} + 1))
		say "$mode run $i failed (try $try): $(tail -n 1 "$WORK/$mode.$i.err")"
		[ "$try" -lt 3 ] || die "attach ($mode, run $i) failed 3 times"
	done
	local SECONDS_ PACKETS BYTES KASLR VM_LIST RELEASE SYMS TYPES
	eval "$(cat "$out")"
	ANSWER[$mode.$i]="$KASLR $VM_LIST $RELEASE"
	say "$mode run $i: ${SECONDS_} s, $PACKETS packets, $BYTES bytes ($SYMS, $TYPES)"
	[ "$i" = 0 ] && return
	A_SECS[$mode]="${A_SECS[$mode]:-} $SECONDS_"
	A_PKTS[$mode]="${A_PKTS[$mode]:-} $PACKETS"
	A_BYTES[$mode]="${A_BYTES[$mode]:-} $BYTES"
}

for m in $MODES; do one "$m" 0; done
for i in $(seq 1 "$RUNS"); do
	for m in $MODES; do one "$m" "$i"; done
done

# ---- report ----------------------------------------------------------------------------------
SAME=yes
for k in "${!ANSWER[@]}"; do [ "${ANSWER[$k]}" = "${ANSWER[files.0]}" ] || SAME=no; done
med() { printf '%s\n' $1 | best_median | cut -d' ' -f2; }
spread() { printf '%s\n' $1 | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { print a ".." b }'; }
{
	echo
	echo "P6: live attach until the kernel view is ready, debuginfo-less vs files ($RUNS rounds)"
	machine_note
	echo
	printf '%-40s %9s %14s %9s %11s\n' mode median_s spread_s packets bytes
	declare -A LABEL=([none]="debuginfo-less (kallsyms + BTF in memory)"
		[files]="files (vmlinux, System.map, modules)"
		[prev-none]="debuginfo-less, BENCH_PREV's library")
	for m in $MODES; do
		printf '%-40s %9s %14s %9s %11s\n' "${LABEL[$m]}" "$(med "${A_SECS[$m]}")" \
			"$(spread "${A_SECS[$m]}")" "$(med "${A_PKTS[$m]}")" "$(med "${A_BYTES[$m]}")"
	done
	echo
	echo "answers the same in every attach (KASLR offset, kvm's vm_list, release): $SAME"
	for m in $MODES; do
		echo "${LABEL[$m]}: $((${FAILS[$m]:-0})) failed attach(es), tried again (not timed)"
	done
	n=$(med "${A_SECS[none]}")
	echo "debuginfo-less attach ${n} s <= ${GOAL_S} s: $(awk -v v="$n" -v g="$GOAL_S" \
		'BEGIN { print (v <= g ? "PASS" : "MISS") }'); debuginfo-less/files" \
		"$(ratio "$n" "$(med "${A_SECS[files]}")")x$([ -z "$PREV" ] ||
			echo "; previous/now $(ratio "$(med "${A_SECS[prev-none]}")" "$n")x")"
} | tee "$WORK/report.txt"
[ "$SAME" = yes ] || say "warning: the answers differ between attaches (see $WORK/*.out)"
OK=1
