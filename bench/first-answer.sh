#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench/first-answer.sh (P2) - time to the first answer on a lab dump: kvmdci-iobus vs drgn
# vs gdb.
#
# Boots its own lab, parks a workload of a few VMs (workload --window: the VMs exist, their
# vCPUs wait outside KVM_RUN), writes an ELF dump of the whole lab machine
# (kvmdci-lab dump) and stops the lab (the timings run on a quiet machine). Then, 3 times
# each (after one untimed warm-up run of each, so all read their files from the page cache),
# interleaved:
#   kvmdci-iobus --json on core://DUMP with
#     btf    the lab's environment: stripped vmlinux with .BTF, System.map, modules with BTF
#     dwarf  KVMDCI_TYPES=dwarf, --vmlinux DEBUG/vmlinux (590 MB of DWARF), --modules DEBUG
#            (the -dbg package's kvm*.ko; `kvmdci-lab build --dwarf-vmlinux` extracts them)
#     none   no KVMDCI_VMLINUX/SYSTEM_MAP/MODULES: symbols and types from the dump's memory
#   drgn     python3-drgn 0.0.22: bench/drgn_iobus.py does the same walk (vm_list -> buses ->
#            ranges -> dev->ops symbol) with the same DWARF vmlinux and module debug files
#   gdb      gdb 13 -batch loading the same DWARF vmlinux (+ kvm.ko) and printing one field
#            offset (&((struct kvm *)0)->buses): what gdb needs before any answer at all
# timed with /usr/bin/time -v (wall clock, max RSS). Prints best and median per method, the
# ratios and PASS/MISS for the goals: dwarf <= 0.5 s and <= 0.5x drgn, btf <= 0.1 s.
#
# Usage: bench/first-answer.sh [VMS]        (VMs of the parked workload; default 4)
# Env:   BENCH_RUNS=N (default 3); BENCH_KEEP=1 keeps the work dir (the 1 GB dump too);
#        BENCH_WORK=DIR uses DIR (must not exist).
# Needs: a built tree (ninja -C build), gdb, jq, python3, GNU time, what kvmdci-lab needs;
# python3-drgn: scripts/install-deps.sh installs it (kvmdci.drgn needs it); this script
# installs it with apt-get when still missing (it says so). A benchmark, not a
# test: it exits 0 whenever it measured.
set -eu
set -o pipefail

PROG=first-answer
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

bench_vms_runs "${1:-}"
bench_init gdb

# drgn: Debian's python3-drgn is for the system python3 (not a pyenv or venv one)
PY=/usr/bin/python3
HAVE_DRGN=1
if ! "$PY" -c 'import drgn' 2>/dev/null; then
	say "python3-drgn is not installed: installing it (apt-get install -y python3-drgn)"
	if ! { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-drgn \
		>"$WORK/apt.log" 2>&1; } || ! "$PY" -c 'import drgn' 2>/dev/null; then
		say "warning: could not install python3-drgn (see $WORK/apt.log): no drgn column"
		HAVE_DRGN=0
	fi
fi
DRGN_VERSION=-
[ "$HAVE_DRGN" = 0 ] || DRGN_VERSION=$("$PY" -c 'import drgn; print(drgn.__version__)')

# the DWARF vmlinux and module debug files (cached by kvmdci-lab)
say "kvmdci-lab build --dwarf-vmlinux (cached after the first time; extracting takes a while)"
"$LAB" build --dwarf-vmlinux >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "kvmdci-lab build --dwarf-vmlinux failed"; }

lab_start
DIR=$(dirname "$KVMDCI_VMLINUX")
DEBUG=$DIR/debug
for f in vmlinux kvm.ko kvm-amd.ko; do
	[ -s "$DEBUG/$f" ] || die "no $DEBUG/$f (kvmdci-lab build --dwarf-vmlinux)"
done
say "parking $VMS VM(s), then dumping the lab"
park w --vms "$VMS" --vcpus 1
DUMP=$WORK/lab.elf
"$LAB" dump "$DUMP" >"$WORK/dump.log" 2>&1 || { cat "$WORK/dump.log" >&2; die "kvmdci-lab dump failed"; }
lab_stop
EM=$(od -An -tu2 -j18 -N2 "$DUMP" | tr -d ' ')
say "dump: $(du -h "$DUMP" | cut -f1), ELF e_machine $EM ($([ "$EM" = 3 ] && echo 'EM_386: the QEMU trap' || echo EM_X86_64))"

# gdb's command: the same DWARF, one answer
GDBCMD=$WORK/field.gdb
cat >"$GDBCMD" <<EOF
set pagination off
set confirm off
add-symbol-file $DEBUG/kvm.ko -o 0
print (long)&((struct kvm *)0)->buses
EOF

# run_one METHOD RUN: sets T_WALL/T_RSS and checks the answer
declare -A WALLS RSSMAX ANSWER
run_one() {
	local m=$1 i=$2 out=$WORK/$1.$2.out err=$WORK/$1.$2.err
	case $m in
	btf) timed "$out" "$err" "$TOOLS/kvmdci-iobus" --json -t "core://$DUMP" ;;
	dwarf) timed "$out" "$err" env -u KVMDCI_SYSTEM_MAP KVMDCI_TYPES=dwarf "$TOOLS/kvmdci-iobus" \
		--json -t "core://$DUMP" --vmlinux "$DEBUG/vmlinux" --modules "$DEBUG" ;;
	none) timed "$out" "$err" env -u KVMDCI_VMLINUX -u KVMDCI_SYSTEM_MAP -u KVMDCI_MODULES \
		"$TOOLS/kvmdci-iobus" --json -t "core://$DUMP" ;;
	drgn) timed "$out" "$err" "$PY" "$ROOT/bench/drgn_iobus.py" "$DUMP" "$DEBUG/vmlinux" \
		"$DEBUG/kvm.ko" "$DEBUG/kvm-amd.ko" ;;
	gdb) timed "$out" "$err" gdb -nx -batch -x "$GDBCMD" "$DEBUG/vmlinux" ;;
	esac
	[ "$T_RC" = 0 ] || { tail -n 5 "$err" >&2; die "$m failed (run $i)"; }
	case $m in
	btf | dwarf | none) a=$(jq -r '"\(.vms | length) VMs, \([.vms[].buses[].ranges | length] | add) ranges"' "$out") ;;
	drgn) a=$(jq -r '"\(.vms) VMs, \(.ranges) ranges"' "$out") ;;
	gdb) a="kvm.buses at +$(sed -n 's/^\$1 = //p' "$out")" ;;
	esac
	ANSWER[$m]=$a
	if [ "$i" -gt 0 ]; then
		WALLS[$m]="${WALLS[$m]:-} $T_WALL"
		[ "${RSSMAX[$m]:-0}" -ge "$T_RSS" ] || RSSMAX[$m]=$T_RSS
	fi
}

METHODS="btf dwarf none"
[ "$HAVE_DRGN" = 0 ] || METHODS="$METHODS drgn"
METHODS="$METHODS gdb"
say "warm-up run of each (page cache), then $RUNS timed runs, interleaved: $METHODS"
for m in $METHODS; do run_one "$m" 0; done
for i in $(seq 1 "$RUNS"); do
	for m in $METHODS; do
		say "run $i: $m"
		run_one "$m" "$i"
	done
done

# ---- report ----------------------------------------------------------------------------------
declare -A BEST MED
for m in $METHODS; do
	read -r BEST[$m] MED[$m] < <(printf '%s\n' ${WALLS[$m]} | best_median)
done
pf() { awk -v v="$1" -v g="$2" 'BEGIN { if (v == "-" || v == "") print "n/a"; else print (v <= g ? "PASS" : "MISS") }'; }
declare -A LABEL=(
	[btf]="kvmdci-iobus, BTF (lab env)"
	[dwarf]="kvmdci-iobus, DWARF"
	[none]="kvmdci-iobus, debuginfo-less"
	[drgn]="drgn $DRGN_VERSION, DWARF"
	[gdb]="gdb, DWARF, one field"
)
{
	echo
	echo "P2: time to first answer on a lab dump ($VMS parked VMs; $(du -h "$DUMP" | cut -f1) ELF, e_machine $EM)"
	machine_note
	echo "         $(gdb --version | head -n 1); DWARF vmlinux $(du -h "$DEBUG/vmlinux" | cut -f1)"
	echo
	printf '%-32s %8s %8s %9s  %s\n' method best_s median_s maxRSS answer
	for m in $METHODS; do
		printf '%-32s %8s %8s %7sMB  %s\n' "${LABEL[$m]}" "${BEST[$m]}" "${MED[$m]}" \
			$((RSSMAX[$m] / 1024)) "${ANSWER[$m]}"
	done
	echo
	echo "wall clock and max RSS of the whole command (/usr/bin/time -v), $RUNS runs each after a"
	echo "warm-up (files in the page cache: warm numbers). drgn's walk: bench/drgn_iobus.py (its"
	echo "QEMU-dump workarounds are described there: EM_386 header, no virtual addresses)."
	echo
	R_DRGN=-
	[ "$HAVE_DRGN" = 0 ] || R_DRGN=$(ratio "${MED[dwarf]}" "${MED[drgn]}")
	echo "kvmdci DWARF / drgn (median)   = $R_DRGN   goal <= 0.5    $(pf "$R_DRGN" 0.5)"
	echo "kvmdci DWARF (median)          = ${MED[dwarf]} s  goal <= 0.5 s  $(pf "${MED[dwarf]}" 0.5)"
	echo "kvmdci BTF (median)            = ${MED[btf]} s  goal <= 0.1 s  $(pf "${MED[btf]}" 0.1)"
	echo "kvmdci DWARF / gdb (median)    = $(ratio "${MED[dwarf]}" "${MED[gdb]}")"
	echo "kvmdci debuginfo-less (median) = ${MED[none]} s"
} | tee "$WORK/report.txt"
OK=1
exit 0
