#!/bin/sh
# Quick start (b): install what is missing, build, fetch the lab kernel, run every test suite
# (unit: codecs and tables; btf: real Debian kernel types; package: the Debian packages; lab:
# boots the lab and checks the tools against KVM's own counters). Exit status is meson test's.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# the kernel packages (cached in ~/.cache/kvmdci-lab) for the btf and lab suites: 6.1 (the
# default), and 5.10, 6.12 and 7.2 for lab-kernel-* (each image and -dbg package: 280-390 MB)
for k in 6.1 5.10 6.12 7.2; do
	t0=$(date +%s)
	build/tools/kvmdci-lab build --kernel "$k" >/dev/null
	echo "kernel $k ready in $(($(date +%s) - t0)) s"
done
status=0
# the release build: the fast suites (the lab suites run once, below, with the sanitizer build)
meson test -C build --print-errorlogs --num-processes 1 --suite unit --suite btf "$@" ||
	status=$?
# installing: pkg-config, the documented include, an installed kvmdci-lab booting the lab
meson test -C build --print-errorlogs --logbase testlog-install --suite install || status=$?
# the Debian packages: build, lintian, install, check from /usr, purge (root: CI runs as root)
meson test -C build --print-errorlogs --logbase testlog-package --suite package || status=$?
# the unit tests under valgrind (definite leaks and memory errors fail)
meson test -C build --print-errorlogs --setup valgrind --logbase testlog-valgrind unit json-stream || status=$?
# the fast suites again in the developer build: -Werror, address + undefined sanitizers
if [ ! -f build-dev/build.ninja ]; then
	meson setup --native-file build-dev.ini build-dev
fi
ninja -C build-dev
meson test -C build-dev --print-errorlogs --suite unit --suite btf || status=$?
# the lab suites, once, with the sanitizer-built tools: every tool run of every lab test
# (hostile memory, clean exits, traces, dumps, transports, every kernel, VMX on Bochs) fails
# on a leak or UB
meson test -C build-dev --print-errorlogs --num-processes 1 --logbase testlog-lab \
	--suite lab --suite lab-vmx || status=$?
# one closing line for people and CI
python3 - build/meson-logs/testlog.json build/meson-logs/testlog-install.json \
	build/meson-logs/testlog-package.json build/meson-logs/testlog-valgrind-valgrind.json \
	build-dev/meson-logs/testlog.json \
	build-dev/meson-logs/testlog-lab.json <<'PY' || true
import json, os, sys
res = [json.loads(l)["result"] for f in sys.argv[1:] if os.path.exists(f)
       for l in open(f) if l.strip()]
ok = sum(r == "OK" for r in res)
skip = sum(r == "SKIP" for r in res)
print(f"{ok} passed, {len(res) - ok - skip} failed, {skip} skipped")
PY
exit $status
