#!/bin/sh
# Build the libFuzzer harnesses with clang, ASan and UBSan, and run each for SECONDS (default
# 600) from the seed corpora in fuzz/corpus (real lab packets, catalog files, URIs, the head
# of a QEMU dump). New inputs go to build-fuzz/corpus-NAME; crashes to build-fuzz/crash-*.
#   fuzz/run.sh [SECONDS] [NAME...]
set -eu
cd "$(dirname "$0")/.."
secs=${1:-600}
[ $# -gt 0 ] && shift
names=${*:-rsp rsp-session uri catalog expr core btf}
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Dlab=false -Dtests=false -Dman=false \
		-Dtools=false -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C build-fuzz
status=0
for f in $names; do
	mkdir -p "build-fuzz/corpus-$f"
	echo "== fuzz-$f for $secs s" >&2
	(cd build-fuzz && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
		"fuzz/fuzz-$f" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="crash-$f-" \
		"corpus-$f" "../fuzz/corpus/$f") >"build-fuzz/fuzz-$f.log" 2>&1 || status=1
	grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY" "build-fuzz/fuzz-$f.log" >&2 || true
done
exit $status
