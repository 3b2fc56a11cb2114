#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench/exits-rate.sh - decoded VM-exit hits per second: kvmdci-exits vs gdb vs a bare loop.
#
# Boots its own lab (kvmdci-lab: QEMU TCG, Debian 6.1 kernel, kvm_amd, gdbstub on a unix
# socket) with one VM of 1 vCPU running freely, and measures, one after the other on that
# same target and workload, for D seconds each:
#   1. kvmdci-exits --trigger watch   (write watchpoint on stat.exits, 2 reads per hit)
#   2. kvmdci-exits --trigger break   (breakpoint on svm_handle_exit, step-over)
#   3. gdb 13 -batch                  (breakpoint on svm_handle_exit, CLI `commands` that
#                                      decode the exit code and `continue`)
#   4. bench/raw-loop                 (the watch trigger in ~300 lines of C on a socket)
# plus an undisturbed window (nothing attached) for KVM's own exit rate.
#
# Usage: bench/exits-rate.sh [SECONDS]      (default 20; or $BENCH_DURATION)
#        BENCH_ENGINE=bochs bench/exits-rate.sh  the same on the bochs engine (Intel VMX,
#        kvm_intel, through lab/bochs-gdbserver): breakpoint on vmx_handle_exit, the exit
#        reason read from struct vcpu_vmx
#        BENCH_ROUNDS=N bench/exits-rate.sh  repeats the watch / bare-loop pair N times (order
#        alternating) and sums them: the workload's exit rate drifts, and a busy host adds noise
# Needs: a built tree (ninja -C build; the script does not rebuild), cc, gdb (Debian's gdb 13 connects to the unix socket
# with `target remote PATH`; socat is NOT needed), jq, python3. Run from anywhere.
# Env: BENCH_BUILD=DIR measures the tools of the build tree DIR instead of build/.
# BENCH_KEEP=1 keeps the work dir (logs, JSON, gdb command file) - it is kept anyway
# when something failed; BENCH_WORK=DIR uses DIR (must not exist) for it.
#
# It is a benchmark, not a test: it prints PASS/MISS against the goals (kvmdci-exits watch
# >= 10x gdb, >= 0.8x the bare loop) and exits 0 whenever it could measure.
set -eu
set -o pipefail

PROG=exits-rate
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

D=${1:-${BENCH_DURATION:-20}}
case $D in
'' | *[!0-9.]* | .* | *.*.*) die "SECONDS must be a positive number, not '$D'" ;;
esac
awk -v d="$D" 'BEGIN { exit !(d > 0) }' || die "SECONDS must be positive"
ROUNDS=${BENCH_ROUNDS:-1}
ENGINE=${BENCH_ENGINE:-qemu}
case $ENGINE in qemu | bochs) ;; *) die "BENCH_ENGINE must be qemu or bochs, not '$ENGINE'" ;; esac
case $ROUNDS in '' | *[!0-9]* | 0) die "BENCH_ROUNDS must be a positive integer, not '$ROUNDS'" ;; esac

EXITS=$TOOLS/kvmdci-exits
bench_init cc gdb
[ -x "$EXITS" ] || die "no $EXITS: meson setup build && ninja -C build"

say "building bench/resolve and bench/raw-loop"
CFLAGS="-O2 -Wall -Wextra"
# shellcheck disable=SC2086
cc $CFLAGS -o "$WORK/resolve" "$ROOT/bench/resolve.c" -I"$ROOT/include" -L"$BUILD" -lkvmdci \
	-Wl,-rpath,"$BUILD" || die "building bench/resolve.c failed"
# shellcheck disable=SC2086
cc $CFLAGS -o "$WORK/raw-loop" "$ROOT/bench/raw-loop.c" || die "building bench/raw-loop.c failed"

# KVM's total exit counter (all VMs; the workload's is the only VM) via the serial console
kvm_exits() {
	local v
	v=$("$LAB" run --timeout 30 'cat /sys/kernel/debug/kvm/exits' | tr -d '\r' | tail -n 1) ||
		die "could not read /sys/kernel/debug/kvm/exits in the guest"
	case $v in '' | *[!0-9]*) die "unexpected /sys/kernel/debug/kvm/exits: '$v'" ;; esac
	echo "$v"
}

# After each method: the lab must still run. A client that died can leave the VM paused with
# its breakpoints set: attaching and detaching again (resolve does) recovers it.
check_alive() {
	if ! "$LAB" run --timeout 20 true >/dev/null 2>&1; then
		say "warning: the lab did not answer after $1; re-attaching to let it run"
		"$WORK/resolve" >/dev/null 2>&1 || true
		"$LAB" run --timeout 20 true >/dev/null 2>&1 || die "the lab is stuck after $1"
	fi
}

# ---- lab ---------------------------------------------------------------------------------------
if [ "$ENGINE" = bochs ]; then
	lab_start --engine bochs --vcpus 1
else
	lab_start --vcpus 1
fi
SOCK=${KVMDCI_TARGET#gdb+unix://}
[ -S "$SOCK" ] || die "no gdbstub socket at $SOCK (KVMDCI_TARGET=$KVMDCI_TARGET)"

# discovery (libkvmdci): wait until the workload's vCPU exists
NVCPUS=0
WAIT_VCPU=30
[ "$ENGINE" = qemu ] || WAIT_VCPU=300 # Bochs runs the guest ~10x slower
for _ in $(seq 1 "$WAIT_VCPU"); do
	if "$WORK/resolve" >"$WORK/resolve.out" 2>"$WORK/resolve.err"; then
		eval "$(cat "$WORK/resolve.out")"
		[ "$NVCPUS" -ge 1 ] && break
	fi
	sleep 1
done
[ "$NVCPUS" -ge 1 ] || { cat "$WORK/resolve.err" >&2; die "no vCPU found in the lab after $WAIT_VCPU s"; }
# shellcheck disable=SC2153 # VCPUS, STAT_EXITS, VCPU_i, STAT_EXITS_i ... come from resolve
if [ "$VENDOR" = vmx ]; then
	say "vmx_handle_exit=$HANDLE_EXIT vcpu_vmx.exit_reason=+$EXIT_CODE_OFF (u$((EXIT_CODE_SIZE * 8))), $NVCPUS vCPU(s): vcpu $VCPUS stat.exits $STAT_EXITS"
else
	say "svm_handle_exit=$HANDLE_EXIT vcpu_svm.vmcb=+$VMCB_OFF vmcb.control.exit_code=+$EXIT_CODE_OFF (u$((EXIT_CODE_SIZE * 8))), $NVCPUS vCPU(s): vcpu $VCPUS stat.exits $STAT_EXITS"
fi
[ "$EXIT_CODE_SIZE" = 4 ] || die "control.exit_code is $EXIT_CODE_SIZE bytes; the bench decodes a u32"
sleep 2 # let the workload settle after the attach
# other labs or QEMUs on this host compete for its CPUs: count them for the report
# (the kernel truncates process names to 15 characters: qemu-system-x86)
OTHER_QEMU=$(pgrep -c -x qemu-system-x86 || true)
OTHER_QEMU=$((${OTHER_QEMU:-1} - 1))
[ "$OTHER_QEMU" -ge 0 ] || OTHER_QEMU=0

# ---- runs --------------------------------------------------------------------------------------
declare -A HITS SECS KDELTA SDELTA NOTE REPEATS
# add a round's numbers to a method's totals ("-" stays "-")
acc() { # METHOD HITS SECONDS KVM_DELTA STAT_DELTA
	HITS[$1]=$(awk -v a="${HITS[$1]:-0}" -v b="$2" 'BEGIN { print (b == "-") ? "-" : a + b }')
	SECS[$1]=$(awk -v a="${SECS[$1]:-0}" -v b="$3" 'BEGIN { printf "%.6f", a + b }')
	KDELTA[$1]=$((${KDELTA[$1]:-0} + $4))
	SDELTA[$1]=$(awk -v a="${SDELTA[$1]:-0}" -v b="$5" 'BEGIN { print (a == "-" || b == "-") ? "-" : a + b }')
}
METHODS="idle watch raw gdb break"

# 0. undisturbed: nothing attached, KVM's counter over D seconds (rate of the free workload)
run_idle() {
	say "undisturbed: ${D} s with nothing attached"
	k0=$(kvm_exits)
	t0=$(date +%s.%N)
	sleep "$D"
	t1=$(date +%s.%N)
	k1=$(kvm_exits)
	KDELTA[idle]=$((k1 - k0))
	HITS[idle]=-
	SECS[idle]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	SDELTA[idle]=-
	NOTE[idle]="KVM exits/s (window incl. 2 serial reads)"
}

# 1, 2. kvmdci-exits
run_exits() {
	local trig=$1
	local json=$WORK/$trig.$2.json
	say "kvmdci-exits --trigger $trig: ${D} s"
	k0=$(kvm_exits)
	"$EXITS" --duration "$D" --json --trigger "$trig" >"$json" 2>"$WORK/$trig.err" ||
		{ cat "$WORK/$trig.err" >&2; die "kvmdci-exits --trigger $trig failed"; }
	k1=$(kvm_exits)
	acc "$trig" "$(jq -r .total "$json")" "$(jq -r .duration_s "$json")" $((k1 - k0)) -
	NOTE[$trig]=$(jq -r '[.reasons[:4][] | "\(.name) \(.count)"] | join(", ")' "$json")
	# QEMU may report one watchpoint write many times: each repeat is a stop that counts
	# nothing (kvmdci-exits ignores it); many of them lower the rate
	REPEATS[$trig]=$(jq -r '"repeated reports \(.repeated_reports_ignored), missed \(.missed), coverage \(.coverage.counted)/\(.coverage.kvm_exits)"' "$json")
	check_alive "kvmdci-exits --trigger $trig"
}

# 3. gdb: breakpoint on svm_handle_exit, CLI commands decode ((struct vcpu_svm *)$rdi)->vmcb->
#    control.exit_code (VMX: ((struct vcpu_vmx *)$rdi)->exit_reason on vmx_handle_exit) from
#    raw offsets (the vmlinux has no DWARF), tally in Python, continue
#    until D seconds are over; then detach (never quit attached: `k` would end QEMU).
run_gdb() {
	say "gdb: ${D} s"
	GDBCMD=$WORK/exits.gdb
	if [ "$VENDOR" = vmx ]; then
		DECODE="set \$code = *(unsigned int *)(\$rdi + $EXIT_CODE_OFF) & 0xffff"
	else
		DECODE="set \$vmcb = *(unsigned long long *)(\$rdi + $VMCB_OFF)
  set \$code = *(unsigned int *)(\$vmcb + $EXIT_CODE_OFF)"
	fi
	cat >"$GDBCMD" <<EOF
set pagination off
set confirm off
set height 0
set width 0
set print thread-events off
target remote $SOCK
source $ROOT/bench/gdb_tally.py
python bench_stat("before", ${STAT_EXITS// /, })
break *$HANDLE_EXIT
commands
  silent
  $DECODE
  python bench_hit()
  if \$bench_go
    continue
  end
end
python bench_start($D)
continue
python bench_report()
python bench_stat("after", ${STAT_EXITS// /, })
delete
detach
EOF
	k0=$(kvm_exits)
	gdb_rc=0
	timeout -k 5 "$(awk -v d="$D" 'BEGIN { print int(d) + 60 }')" \
		gdb -nx -batch -x "$GDBCMD" </dev/null >"$WORK/gdb.log" 2>&1 || gdb_rc=$?
	k1=$(kvm_exits)
	grep -q '^GDB_RESULT ' "$WORK/gdb.log" ||
		{ tail -n 20 "$WORK/gdb.log" >&2; die "gdb gave no result (exit status $gdb_rc)"; }
	grep -q 'detached' "$WORK/gdb.log" || say "warning: gdb did not report a detach (see $WORK/gdb.log)"
	line=$(grep '^GDB_RESULT ' "$WORK/gdb.log")
	HITS[gdb]=$(sed -n 's/.* hits=\([0-9]*\).*/\1/p' <<<"$line")
	SECS[gdb]=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$line")
	KDELTA[gdb]=$((k1 - k0))
	sb=$(awk '$1 == "GDB_STAT" && $2 == "before" { print $3 }' "$WORK/gdb.log")
	sa=$(awk '$1 == "GDB_STAT" && $2 == "after" { print $3 }' "$WORK/gdb.log")
	if [ -n "$sb" ] && [ -n "$sa" ] && [ "$sb" -ge 0 ] && [ "$sa" -ge 0 ]; then
		SDELTA[gdb]=$((sa - sb))
	else
		SDELTA[gdb]=-
	fi
	NOTE[gdb]=$(sed -n 's/.* reasons=//p' <<<"$line")
	check_alive "gdb"
}

# 4. the bare raw-packet loop
run_raw() {
	say "bench/raw-loop: ${D} s"
	args=()
	for i in $(seq 0 $((NVCPUS - 1))); do
		v=VCPU_$i s=STAT_EXITS_$i
		args+=("${!v}:${!s}")
	done
	k0=$(kvm_exits)
	"$WORK/raw-loop" "$SOCK" "$D" "$VMCB_OFF" "$EXIT_CODE_OFF" "${args[@]}" >"$WORK/raw.$1.out" 2>"$WORK/raw.err" ||
		{ cat "$WORK/raw.err" >&2; check_alive "raw-loop"; die "raw-loop failed"; }
	k1=$(kvm_exits)
	line=$(grep '^RAW_RESULT ' "$WORK/raw.$1.out")
	sd=$(sed -n 's/.* stat_delta=\(-\{0,1\}[0-9]*\).*/\1/p' <<<"$line")
	[ "$sd" != -1 ] || sd=-
	acc raw "$(sed -n 's/.* hits=\([0-9]*\).*/\1/p' <<<"$line")" \
		"$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$line")" $((k1 - k0)) "$sd"
	NOTE[raw]=$(sed -n 's/.* reasons=//p' <<<"$line")
	RAW_END=$(sed -n 's/.* \(end=[a-z]* max_gap_ms=[0-9.]*\).*/\1/p' <<<"$line")
	if [ -s "$WORK/raw.err" ]; then
		say "raw-loop said: $(tr '\n' ' ' <"$WORK/raw.err")"
	fi
	check_alive "raw-loop"
}

# watch and the bare loop back to back: the workload's rate drifts over time
run_idle
for r in $(seq 1 "$ROUNDS"); do
	[ "$ROUNDS" = 1 ] || say "round $r of $ROUNDS"
	if [ $((r % 2)) = 1 ]; then
		run_exits watch "$r"
		run_raw "$r"
	else
		run_raw "$r"
		run_exits watch "$r"
	fi
done
run_gdb
run_exits break 1

# ---- report ----------------------------------------------------------------------------------
rate() { awk -v h="$1" -v s="$2" 'BEGIN { if (h == "-" || s <= 0) print "-"; else printf "%.1f", h / s }'; }
# reason names for the SVM codes seen here (gdb and raw-loop print codes)
names() {
	if [ "$VENDOR" = vmx ]; then # SDM vol. 3 appendix C, in hex as the tally prints them
		sed -e 's/\b0x1e:/io /g; s/\b0x30:/ept_violation /g; s/\b0x31:/ept_misconfig /g' \
			-e 's/\b0xc:/hlt /g; s/\b0x1:/extint /g; s/\b0x12:/vmcall /g; s/\b0x7:/intr_window /g' \
			-e 's/\b0x20:/msr_write /g; s/\b0x1f:/msr_read /g; s/\b0xa:/cpuid /g'
	else
		cat
	fi | sed -e 's/\b0x7b:/io /g; s/\b0x400:/npf /g; s/\b0x60:/intr /g; s/\b0x64:/vintr /g' \
		-e 's/\b0x78:/hlt /g; s/\b0x7f:/shutdown /g; s/\b0x81:/vmmcall /g; s/\b0x72:/cpuid /g' \
		-e 's/\b0x7c:/msr /g; s/\b0x61:/nmi /g' | awk '{ n = 0; out = "";
		for (i = 1; i + 1 <= NF && n < 4; i += 2) { out = out (n ? ", " : "") $i " " $(i + 1); n++ }
		print out }'
}
NOTE[gdb]=$(names <<<"${NOTE[gdb]}")
NOTE[raw]=$(names <<<"${NOTE[raw]}")

declare -A LABEL=(
	[idle]="undisturbed (KVM counter)"
	[watch]="kvmdci-exits --trigger watch"
	[break]="kvmdci-exits --trigger break"
	[gdb]="gdb 13, break + commands"
	[raw]="bare raw-packet loop (watch)"
)
R_WATCH=$(rate "${HITS[watch]}" "${SECS[watch]}")
R_GDB=$(rate "${HITS[gdb]}" "${SECS[gdb]}")
R_RAW=$(rate "${HITS[raw]}" "${SECS[raw]}")
VS_GDB=$(ratio "$R_WATCH" "$R_GDB")
VS_RAW=$(ratio "$R_WATCH" "$R_RAW")
pf() { awk -v v="$1" -v g="$2" 'BEGIN { if (v == "-") print "n/a"; else print (v >= g ? "PASS" : "MISS") }'; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
	echo
	echo "VM-exit decoding rate, ${D} s per method, one lab, one workload (1 VM x 1 vCPU)"
	[ "$ROUNDS" = 1 ] || echo "watch and bare loop: $ROUNDS rounds of ${D} s each, summed (reasons: last round)"
	if [ "$ENGINE" = bochs ]; then
		echo "machine: $(nproc) CPUs ($cpu), bochs engine: $(dpkg-query -W -f '${Package} ${Version}' bochs 2>/dev/null || echo Bochs) through lab/bochs-gdbserver, kvm_intel"
	else
		echo "machine: $(nproc) CPUs ($cpu), $(qemu-system-x86_64 --version | head -n 1)"
	fi
	echo "         $(gdb --version | head -n 1), guest kernel ${KVMDCI_KERNEL_RELEASE:-?}, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "host load: 1-min load average $LOAD0 at the start, $(cut -d' ' -f1 /proc/loadavg) at the end;" \
		"$OTHER_QEMU other QEMU process(es) were running (each costs this TCG lab CPU time)"
	echo
	printf '%-30s %9s %8s %9s %10s %10s  %s\n' method hits seconds hits/s "KVM Δ" "stat Δ" "top reasons"
	for m in $METHODS; do
		if [ "$m" = idle ]; then
			r=$(rate "${KDELTA[idle]}" "${SECS[idle]}")
		else
			r=$(rate "${HITS[$m]}" "${SECS[$m]}")
		fi
		s=$(awk -v s="${SECS[$m]}" 'BEGIN { printf "%.3f", s }')
		printf '%-30s %9s %8s %9s %10s %10s  %s\n' "${LABEL[$m]}" "${HITS[$m]}" "$s" "$r" \
			"${KDELTA[$m]}" "${SDELTA[$m]}" "${NOTE[$m]}"
	done
	echo
	echo "KVM Δ:  /sys/kernel/debug/kvm/exits after - before, read over the serial console around"
	echo "        the whole command (attach, discovery, detach and the serial reads included: the"
	echo "        VM runs freely there, so it exceeds the hits). undisturbed: hits/s column = KVM Δ/s."
	echo "stat Δ: the vCPU's stat.exits read by the client itself while stopped at its start and"
	echo "        end (exact window; gdb and raw-loop only). A watch count is exact when hits = stat Δ."
	echo "bare loop: ${RAW_END:-?} (how it ended; longest wait for a stop while the VM ran)"
	echo "kvmdci-exits watch: ${REPEATS[watch]:-?} (repeats: stops QEMU reported again for one write)"
	echo
	echo "kvmdci-exits(watch) / gdb       = $VS_GDB   goal >= 10    $(pf "$VS_GDB" 10)"
	echo "kvmdci-exits(watch) / bare loop = $VS_RAW   goal >= 0.8   $(pf "$VS_RAW" 0.8)"
} | tee "$WORK/report.txt"
OK=1
exit 0
