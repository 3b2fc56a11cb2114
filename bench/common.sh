# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# bench/common.sh - sourced by the P1-P4 benchmark scripts: their own lab, a work dir,
# cleanup on exit (also on errors and Ctrl-C), parked workloads, timing with /usr/bin/time -v
# and the machine header. The caller sets PROG before sourcing and calls bench_init.

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { say "error: $*"; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# the build tree whose tools are measured: build/, or $BENCH_BUILD (a second build tree, so
# that a bench can run while build/ is rebuilt for tests)
BUILD=${BENCH_BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
LAB=$BUILD/tools/kvmdci-lab
TOOLS=$BUILD/tools
LAB_STARTED=0
OK=0

# shellcheck disable=SC2317 # called by the EXIT trap
bench_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$LAB_STARTED" = 1 ]; then
		"$LAB" stop >/dev/null 2>&1 || say "warning: could not stop the lab ($KVMDCI_LAB_DIR)"
	fi
	if [ "$OK" = 1 ] && [ -z "${BENCH_KEEP:-}" ]; then
		rm -rf "$WORK"
	else
		say "work files kept in $WORK"
	fi
	exit "$rc"
}

# bench_init CMD... : check the build and the commands named, make the work dir, set the trap
# VMS (the parked workload's VMs) from $1, default 4, and RUNS from BENCH_RUNS, default 3;
# both checked (positive integers, at most 64 VMs)
bench_vms_runs() {
	VMS=${1:-4}
	case $VMS in '' | *[!0-9]* | 0) die "VMS must be a positive integer, not '$VMS'" ;; esac
	[ "$VMS" -le 64 ] || die "at most 64 VMs (one workload)"
	RUNS=${BENCH_RUNS:-3}
	case $RUNS in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive integer" ;; esac
}

bench_init() {
	local c
	for c in jq python3 awk "$@"; do
		command -v "$c" >/dev/null || die "'$c' is not installed"
	done
	[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time, Debian package 'time') is not installed"
	if ! [ -x "$LAB" ] || ! [ -x "$TOOLS/kvmdci-iobus" ] || ! [ -e "$BUILD/libkvmdci.so" ]; then
		die "no build in $BUILD: meson setup build && ninja -C build (the script does not build)"
	fi
	if [ -n "${BENCH_WORK:-}" ]; then
		WORK=$BENCH_WORK
		mkdir -m 700 "$WORK" || die "cannot create $WORK"
	else
		WORK=$(mktemp -d /tmp/kvmdci-bench.XXXXXX)
	fi
	# our own lab, never the user's (sockets need a short path)
	export KVMDCI_LAB_DIR=$WORK/lab
	trap bench_cleanup EXIT
	trap 'say "interrupted"; exit 130' INT TERM
	LOAD0=$(cut -d' ' -f1 /proc/loadavg)
}

# lab_start ARGS... : boot the lab (kvmdci-lab start ARGS) and import its environment
lab_start() {
	say "booting the lab in $KVMDCI_LAB_DIR (kvmdci-lab start $*)"
	LAB_STARTED=1
	"$LAB" start "$@" >"$WORK/env" 2>"$WORK/lab-start.log" ||
		{ cat "$WORK/lab-start.log" >&2; die "kvmdci-lab start failed"; }
	eval "$(cat "$WORK/env")"
	export KVMDCI_TARGET KVMDCI_VMLINUX KVMDCI_SYSTEM_MAP KVMDCI_MODULES KVMDCI_KERNEL_RELEASE
}

lab_stop() {
	"$LAB" stop >/dev/null 2>&1 || say "warning: could not stop the lab"
	LAB_STARTED=0
}

# the state word of workload NAME in the guest ("" when none yet)
wl_state() {
	"$LAB" run --timeout 30 "cat /tmp/$1.state 2>/dev/null" 2>/dev/null | tr -d '\r' |
		tail -n 1 | jq -r '.state // empty' 2>/dev/null || true
}

wl_wait() { # NAME STATE TIMEOUT
	local t0=$SECONDS
	while [ "$(wl_state "$1")" != "$2" ]; do
		[ $((SECONDS - t0)) -lt "$3" ] || die "workload $1: state '$2' not reached in $3 s"
		sleep 1
	done
}

# park NAME ARGS... : a workload in --window mode (as tests/lab/test-iobus.py's
# parked_workload): warmup, ready, SIGUSR1, a short window, then its vCPUs stay parked outside
# KVM_RUN with their VMs alive until the next SIGUSR1 (wl_release)
park() {
	local name=$1
	shift
	"$LAB" run --timeout 60 "workload --window --iterations 3 --after 1 $* --json /tmp/$name.json --state /tmp/$name.state --pid-file /tmp/$name.pid --quiet &" >/dev/null ||
		die "could not start the workload $name ($*)"
	wl_wait "$name" ready 600
	"$LAB" run --timeout 30 "kill -USR1 \$(cat /tmp/$name.pid)" >/dev/null || die "cannot signal workload $name"
	wl_wait "$name" window-done 600
}

# let a parked workload finish (its VMs go away)
wl_release() { # NAME
	"$LAB" run --timeout 30 "kill -USR1 \$(cat /tmp/$1.pid)" >/dev/null || die "cannot signal workload $1"
	wl_wait "$1" "done" 600
}

# wait_tracing PID ERR: until the tool PID has said "tracing" on stderr (file ERR); dies if it
# ended first or took two minutes
wait_tracing() {
	for _ in $(seq 1 240); do
		grep -q tracing "$2" && return 0
		kill -0 "$1" 2>/dev/null || { cat "$2" >&2; die "kvmdci-exits ended"; }
		sleep 0.5
	done
	die "kvmdci-exits did not start tracing in 120 s: $(tail -n 3 "$2")"
}

# shellcheck disable=SC2034 # T_WALL, T_CPU, T_RSS, T_RC are for the caller
# timed OUT ERR CMD... : run CMD under /usr/bin/time -v; sets T_WALL (s), T_CPU (user + system
# s), T_RSS (KiB), T_RC
timed() {
	local out=$1 err=$2
	shift 2
	T_RC=0
	/usr/bin/time -v -o "$err.time" "$@" >"$out" 2>"$err" || T_RC=$?
	T_WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); s = 0;
		for (i = 1; i <= n; i++) s = s * 60 + a[i]; printf "%.3f", s }' "$err.time")
	T_CPU=$(awk -F': ' '/(User|System) time \(seconds\)/ { s += $2 } END { printf "%.3f", s }' "$err.time")
	T_RSS=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$err.time")
}

# best and median of numbers on stdin: "BEST MEDIAN"
best_median() {
	sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "- -"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print v[1], m }'
}

# median and range of numbers on stdin: "MEDIAN (MIN..MAX)", or "VALUE" for one, "-" for none
spread() {
	sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		if (NR == 1) print m; else printf "%s (%s..%s)\n", m, v[1], v[NR] }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b <= 0) print "-"; else printf "%.2f", a / b }'; }

# machine header lines (nproc, CPU, QEMU, load, other QEMUs)
machine_note() {
	local cpu others
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	others=$(pgrep -c -x qemu-system-x86 || true)
	others=$((${others:-0} - LAB_STARTED))
	[ "$others" -ge 0 ] || others=0
	echo "machine: $(nproc) CPUs ($cpu), $(free -m | awk '/^Mem:/ { print $2 }') MiB," \
		"$(qemu-system-x86_64 --version | head -n 1)"
	echo "         guest kernel ${KVMDCI_KERNEL_RELEASE:-?}, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "host load: 1-min load average $LOAD0 at the start, $(cut -d' ' -f1 /proc/loadavg) at" \
		"the end; $others other QEMU process(es) running"
}
