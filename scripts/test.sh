#!/bin/sh
# Quick start (b): install what is missing, build, fetch the lab kernel, run every test suite
# (unit: codecs and tables; btf: real Debian kernel types; lab: boots the lab and checks the
# tools against KVM's own counters). Exit status is meson test's.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# the kernel packages (cached in ~/.cache/kvmdci-lab) for the btf and lab suites
build/tools/kvmdci-lab build
meson test -C build --print-errorlogs --num-processes 1 "$@"
