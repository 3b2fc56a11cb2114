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
#        BENCH_ROUNDS=N bench/exits-rate.sh  repeats every method N times: each round an
#        undisturbed window, the watch / bare-loop pair and the gdb / break pair (each pair back
#        to back, order alternating: the workload's exit rate drifts, a busy host adds noise);
#        the table sums the rounds, break / gdb is printed per round (goal >= 2 in every one)
#        with the observer effect (the workload's exits/s and host-interrupt share per method)
# Needs: a built tree (ninja -C build; the script does not rebuild), cc, gdb (Debian's gdb 13 connects to the unix socket
# with `target remote PATH`; socat is NOT needed), jq, python3. Run from anywhere.
# Env: BENCH_BUILD=DIR measures the tools of the build tree DIR instead of build/.
# BENCH_KEEP=1 keeps the work dir (logs, JSON, gdb command file) - it is kept anyway
# when something failed; BENCH_WORK=DIR uses DIR (must not exist) for it.
#
# It is a benchmark, not a test: it prints PASS/MISS against the goals (kvmdci-exits watch
# >= 10x gdb, >= 0.8x the bare loop; break >= 2x gdb in every round) and exits 0 whenever it
# could measure.
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

# KVM's total exit counter and its host-interrupt exits (all VMs; the workload's is the only
# VM) via the serial console: "EXITS IRQ_EXITS". irq_exits counts the exits for a host
# interrupt (SVM INTR 0x60: intr_interception; VMX EXTERNAL_INTERRUPT 1), which breakpoint
# stops multiply (docs/lab-facts.md): the observer effect is read from the two.
kvm_counts() {
	local v
	v=$("$LAB" run --timeout 30 'cat /sys/kernel/debug/kvm/exits /sys/kernel/debug/kvm/irq_exits' |
		tr -d '\r' | tail -n 2 | tr '\n' ' ') ||
		die "could not read /sys/kernel/debug/kvm/{exits,irq_exits} in the guest"
	case $v in *[!0-9\ ]* | ' ' | '') die "unexpected /sys/kernel/debug/kvm/{exits,irq_exits}: '$v'" ;; esac
	local e i rest
	read -r e i rest <<<"$v"
	{ [ -n "$i" ] && [ -z "$rest" ]; } || die "unexpected /sys/kernel/debug/kvm/{exits,irq_exits}: '$v'"
	echo "$e $i"
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
# Per method and round (key METHOD.ROUND): H hits, S seconds, X the workload's exits in the
# client's exact window (kvmdci-exits: KVM's own count from its coverage; gdb, raw loop: the
# stat.exits delta they read; undisturbed: KVM Δ), I its host-interrupt exits (the client's
# tally of that reason; undisturbed: KVM's irq_exits Δ), K KVM Δ around the whole command.
declare -A H S X I K NOTE REPEATS COST
METHODS="idle watch raw gdb break"
# the host-interrupt exit code: SVM INTR 0x60 (APM vol. 2 appendix C), VMX EXTERNAL_INTERRUPT 1
# (SDM vol. 3 appendix C); gdb_tally and raw-loop print codes in hex
if [ "$VENDOR" = vmx ]; then INTR_CODE=1; else INTR_CODE=96; fi
INTR_HEX=$(printf '0x%x' "$INTR_CODE")
# the count of code INTR_HEX in a "0xCODE:N 0xCODE:N ..." tally (0 when absent)
intr_of() { tr ' ' '\n' <<<"$1" | awk -F: -v c="$INTR_HEX" '$1 == c { n = $2 } END { print n + 0 }'; }

# 0. undisturbed: nothing attached, KVM's counters over D seconds (the free workload)
run_idle() {
	local r=$1 c0 c1
	say "undisturbed: ${D} s with nothing attached"
	c0=$(kvm_counts)
	t0=$(date +%s.%N)
	sleep "$D"
	t1=$(date +%s.%N)
	c1=$(kvm_counts)
	K[idle.$r]=$((${c1% *} - ${c0% *}))
	X[idle.$r]=${K[idle.$r]}
	I[idle.$r]=$((${c1#* } - ${c0#* }))
	H[idle.$r]=-
	S[idle.$r]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	NOTE[idle]="KVM exits/s (window incl. 2 serial reads)"
}

# 1, 2. kvmdci-exits
run_exits() {
	local trig=$1 r=$2 c0 c1
	local json=$WORK/$trig.$r.json
	say "kvmdci-exits --trigger $trig: ${D} s"
	c0=$(kvm_counts)
	local verbose=()
	# the break trigger says with -v where a hit's time goes (stopped / running, per stop)
	[ "$trig" != break ] || verbose=(-v)
	"$EXITS" "${verbose[@]}" --duration "$D" --json --trigger "$trig" >"$json" 2>"$WORK/$trig.err" ||
		{ cat "$WORK/$trig.err" >&2; die "kvmdci-exits --trigger $trig failed"; }
	[ "$trig" != break ] ||
		COST[$r]=$(sed -n 's/.*: \([0-9]* stops stepped over: .*\)/\1/p' "$WORK/$trig.err" | head -n 1)
	c1=$(kvm_counts)
	H[$trig.$r]=$(jq -r .total "$json")
	S[$trig.$r]=$(jq -r .duration_s "$json")
	X[$trig.$r]=$(jq -r '.coverage.kvm_exits // "-"' "$json")
	I[$trig.$r]=$(jq -r --argjson c "$INTR_CODE" '[.reasons[] | select(.code == $c) | .count] | add // 0' "$json")
	K[$trig.$r]=$((${c1% *} - ${c0% *}))
	NOTE[$trig]=$(jq -r '[.reasons[:4][] | "\(.name) \(.count)"] | join(", ")' "$json")
	# QEMU may report one watchpoint write many times: each repeat is a stop that counts
	# nothing (kvmdci-exits ignores it); many of them lower the rate
	REPEATS[$trig]="${REPEATS[$trig]:+${REPEATS[$trig]}; }$(jq -r '"repeated reports \(.repeated_reports_ignored), missed \(.missed), coverage \(.coverage.counted)/\(.coverage.kvm_exits)"' "$json")"
	check_alive "kvmdci-exits --trigger $trig"
}

# 3. gdb: breakpoint on svm_handle_exit, CLI commands decode ((struct vcpu_svm *)$rdi)->vmcb->
#    control.exit_code (VMX: ((struct vcpu_vmx *)$rdi)->exit_reason on vmx_handle_exit) from
#    raw offsets (the vmlinux has no DWARF), tally in Python, continue
#    until D seconds are over; then detach (never quit attached: `k` would end QEMU).
run_gdb() {
	local r=$1 c0 c1
	say "gdb: ${D} s"
	GDBCMD=$WORK/exits.gdb
	if [ "$VENDOR" = vmx ]; then
		DECODE="set \$code = *(unsigned int *)(\$rdi + $EXIT_CODE_OFF) & 0xffff"
	else
		DECODE="set \$vmcb = *(unsigned long long *)(\$rdi + $VMCB_OFF)
  set \$code = *(unsigned int *)(\$vmcb + $EXIT_CODE_OFF)"
	fi
	cat >"$GDBCMD" <<GDB
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
GDB
	c0=$(kvm_counts)
	gdb_rc=0
	timeout -k 5 "$(awk -v d="$D" 'BEGIN { print int(d) + 60 }')" \
		gdb -nx -batch -x "$GDBCMD" </dev/null >"$WORK/gdb.$r.log" 2>&1 || gdb_rc=$?
	c1=$(kvm_counts)
	grep -q '^GDB_RESULT ' "$WORK/gdb.$r.log" ||
		{ tail -n 20 "$WORK/gdb.$r.log" >&2; die "gdb gave no result (exit status $gdb_rc)"; }
	grep -q 'detached' "$WORK/gdb.$r.log" || say "warning: gdb did not report a detach (see $WORK/gdb.$r.log)"
	line=$(grep '^GDB_RESULT ' "$WORK/gdb.$r.log")
	H[gdb.$r]=$(sed -n 's/.* hits=\([0-9]*\).*/\1/p' <<<"$line")
	S[gdb.$r]=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$line")
	K[gdb.$r]=$((${c1% *} - ${c0% *}))
	sb=$(awk '$1 == "GDB_STAT" && $2 == "before" { print $3 }' "$WORK/gdb.$r.log")
	sa=$(awk '$1 == "GDB_STAT" && $2 == "after" { print $3 }' "$WORK/gdb.$r.log")
	if [ -n "$sb" ] && [ -n "$sa" ] && [ "$sb" -ge 0 ] && [ "$sa" -ge 0 ]; then
		X[gdb.$r]=$((sa - sb))
	else
		X[gdb.$r]=-
	fi
	NOTE[gdb]=$(sed -n 's/.* reasons=//p' <<<"$line")
	I[gdb.$r]=$(intr_of "${NOTE[gdb]}")
	check_alive "gdb"
}

# 4. the bare raw-packet loop
run_raw() {
	local r=$1 c0 c1 sd
	say "bench/raw-loop: ${D} s"
	args=()
	for i in $(seq 0 $((NVCPUS - 1))); do
		v=VCPU_$i s=STAT_EXITS_$i
		args+=("${!v}:${!s}")
	done
	c0=$(kvm_counts)
	"$WORK/raw-loop" "$SOCK" "$D" "$VMCB_OFF" "$EXIT_CODE_OFF" "${args[@]}" >"$WORK/raw.$r.out" 2>"$WORK/raw.err" ||
		{ cat "$WORK/raw.err" >&2; check_alive "raw-loop"; die "raw-loop failed"; }
	c1=$(kvm_counts)
	line=$(grep '^RAW_RESULT ' "$WORK/raw.$r.out")
	sd=$(sed -n 's/.* stat_delta=\(-\{0,1\}[0-9]*\).*/\1/p' <<<"$line")
	[ "$sd" != -1 ] || sd=-
	H[raw.$r]=$(sed -n 's/.* hits=\([0-9]*\).*/\1/p' <<<"$line")
	S[raw.$r]=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$line")
	X[raw.$r]=$sd
	K[raw.$r]=$((${c1% *} - ${c0% *}))
	NOTE[raw]=$(sed -n 's/.* reasons=//p' <<<"$line")
	I[raw.$r]=$(intr_of "${NOTE[raw]}")
	RAW_END=$(sed -n 's/.* \(end=[a-z]* max_gap_ms=[0-9.]*\).*/\1/p' <<<"$line")
	if [ -s "$WORK/raw.err" ]; then
		say "raw-loop said: $(tr '\n' ' ' <"$WORK/raw.err")"
	fi
	check_alive "raw-loop"
}

# Each round: the undisturbed window, then the watch / bare-loop pair and the gdb / break pair,
# each pair back to back and in alternating order (the workload's exit rate drifts)
for r in $(seq 1 "$ROUNDS"); do
	[ "$ROUNDS" = 1 ] || say "round $r of $ROUNDS"
	run_idle "$r"
	if [ $((r % 2)) = 1 ]; then
		run_exits watch "$r"
		run_raw "$r"
		run_gdb "$r"
		run_exits break "$r"
	else
		run_exits break "$r"
		run_gdb "$r"
		run_raw "$r"
		run_exits watch "$r"
	fi
done

# ---- report ----------------------------------------------------------------------------------
rate() { awk -v h="$1" -v s="$2" 'BEGIN { if (h == "-" || s <= 0) print "-"; else printf "%.1f", h / s }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b <= 0) print "-"; else printf "%.1f%%", 100 * a / b }'; }
# a method's sum over the rounds of one of H S X I K ("-" if any round has none)
sum() {
	local -n arr=$1
	local v out=0
	for r in $(seq 1 "$ROUNDS"); do
		v=${arr[$2.$r]:-"-"}
		out=$(awk -v a="$out" -v b="$v" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.6g", a + b }')
	done
	echo "$out"
}
# "MEDIAN (MIN..MAX)" of numbers on stdin ("-" entries ignored)
med_range() {
	grep -v '^-$' | sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2f (%.2f..%.2f)\n", m, v[1], v[NR] }'
}
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
declare -A SH SS SX SI SK
for m in $METHODS; do
	SH[$m]=$(sum H "$m") SS[$m]=$(sum S "$m") SX[$m]=$(sum X "$m") SI[$m]=$(sum I "$m") SK[$m]=$(sum K "$m")
done
R_WATCH=$(rate "${SH[watch]}" "${SS[watch]}")
R_GDB=$(rate "${SH[gdb]}" "${SS[gdb]}")
R_RAW=$(rate "${SH[raw]}" "${SS[raw]}")
VS_GDB=$(ratio "$R_WATCH" "$R_GDB")
VS_RAW=$(ratio "$R_WATCH" "$R_RAW")
pf() { awk -v v="$1" -v g="$2" 'BEGIN { if (v == "-") print "n/a"; else print (v >= g ? "PASS" : "MISS") }'; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
	echo
	echo "VM-exit decoding rate, ${D} s per method, one lab, one workload (1 VM x 1 vCPU)"
	[ "$ROUNDS" = 1 ] || echo "$ROUNDS rounds of every method (${D} s each), summed below (reasons: last round)"
	if [ "$ENGINE" = bochs ]; then
		echo "machine: $(nproc) CPUs ($cpu), bochs engine: $(dpkg-query -W -f '${Package} ${Version}' bochs 2>/dev/null || echo Bochs) through lab/bochs-gdbserver, kvm_intel"
	else
		echo "machine: $(nproc) CPUs ($cpu), $(qemu-system-x86_64 --version | head -n 1)"
	fi
	echo "         $(gdb --version | head -n 1), guest kernel ${KVMDCI_KERNEL_RELEASE:-?}, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "host load: 1-min load average $LOAD0 at the start, $(cut -d' ' -f1 /proc/loadavg) at the end;" \
		"$OTHER_QEMU other QEMU process(es) were running (each costs this TCG lab CPU time)"
	echo
	printf '%-30s %9s %8s %9s %10s %10s %7s  %s\n' method hits seconds hits/s "KVM Δ" "stat Δ" "intr" "top reasons"
	for m in $METHODS; do
		if [ "$m" = idle ]; then
			r=$(rate "${SK[idle]}" "${SS[idle]}")
			sd=-
		else
			r=$(rate "${SH[$m]}" "${SS[$m]}")
			sd=${SX[$m]}
		fi
		s=$(awk -v s="${SS[$m]}" 'BEGIN { printf "%.3f", s }')
		printf '%-30s %9s %8s %9s %10s %10s %7s  %s\n' "${LABEL[$m]}" "${SH[$m]}" "$s" "$r" \
			"${SK[$m]}" "$sd" "$(pct "${SI[$m]}" "${SX[$m]}")" "${NOTE[$m]}"
	done
	echo
	echo "KVM Δ:  /sys/kernel/debug/kvm/exits after - before, read over the serial console around"
	echo "        the whole command (attach, discovery, detach and the serial reads included: the"
	echo "        VM runs freely there, so it exceeds the hits). undisturbed: hits/s column = KVM Δ/s."
	echo "stat Δ: the workload's exits in the client's exact window: the vCPU's stat.exits read by"
	echo "        gdb and raw-loop while stopped at their start and end; KVM's count from"
	echo "        kvmdci-exits' coverage. A count is exact when hits = stat Δ."
	echo "intr:   host-interrupt exits ($INTR_HEX) / stat Δ (undisturbed: KVM's irq_exits Δ / KVM Δ)"
	echo "bare loop: ${RAW_END:-?} (how the last round ended; longest wait for a stop while the VM ran)"
	echo "kvmdci-exits watch: ${REPEATS[watch]:-?}"
	echo "kvmdci-exits break: ${REPEATS[break]:-?}"
	echo
	echo "observer effect: the workload's exits/s and host-interrupt share, per round"
	printf '%-6s' round
	for m in $METHODS; do printf ' %22s' "$m"; done
	echo
	for r in $(seq 1 "$ROUNDS"); do
		printf '%-6s' "$r"
		for m in $METHODS; do
			printf ' %22s' "$(rate "${X[$m.$r]}" "${S[$m.$r]}")/s $(pct "${I[$m.$r]}" "${X[$m.$r]}")"
		done
		echo
	done
	for m in watch gdb break; do
		slow=$(for r in $(seq 1 "$ROUNDS"); do
			ratio "$(rate "${X[idle.$r]}" "${S[idle.$r]}")" "$(rate "${X[$m.$r]}" "${S[$m.$r]}")"
			echo
		done | med_range)
		echo "  under $m: the workload makes 1/$slow of its undisturbed exits per second" \
			"(median (min..max) of the rounds); host-interrupt exits $(pct "${SI[$m]}" "${SX[$m]}")" \
			"of its exits against $(pct "${SI[idle]}" "${SX[idle]}") undisturbed"
	done
	echo
	pass=0
	for r in $(seq 1 "$ROUNDS"); do
		rb=$(rate "${H[break.$r]}" "${S[break.$r]}")
		rg=$(rate "${H[gdb.$r]}" "${S[gdb.$r]}")
		v=$(ratio "$rb" "$rg")
		[ "$(pf "$v" 2)" != PASS ] || pass=$((pass + 1))
		echo "round $r: break $rb hits/s, gdb $rg hits/s: break / gdb = $v   goal >= 2   $(pf "$v" 2)"
	done
	vb=$(for r in $(seq 1 "$ROUNDS"); do
		ratio "$(rate "${H[break.$r]}" "${S[break.$r]}")" "$(rate "${H[gdb.$r]}" "${S[gdb.$r]}")"
		echo
	done | med_range)
	for r in $(seq 1 "$ROUNDS"); do
		echo "round $r, where a break hit's time went: ${COST[$r]:-?}"
	done
	echo "kvmdci-exits(break) / gdb       = $vb   goal >= 2 in every round: $pass of $ROUNDS   $([ "$pass" = "$ROUNDS" ] && echo PASS || echo MISS)"
	if [ "$ENGINE" = qemu ] && [ "$pass" != "$ROUNDS" ]; then
		echo "  (QEMU before 10.2 throws away all its translated code at every breakpoint stop, gdb's"
		echo "  and ours alike: docs/lab-facts.md, \"Debugging through QEMU's gdbstub\")"
	fi
	echo "kvmdci-exits(watch) / gdb       = $VS_GDB   goal >= 10    $(pf "$VS_GDB" 10)"
	echo "kvmdci-exits(watch) / bare loop = $VS_RAW   goal >= 0.8   $(pf "$VS_RAW" 0.8)"
} | tee "$WORK/report.txt"
OK=1
exit 0
