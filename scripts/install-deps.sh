#!/bin/sh
# Install every Debian package libkvmdci needs to build, test and run its lab (Debian 12).
# Runs apt-get only when something is missing. Must run as root (or with sudo available).
set -eu

PKGS="build-essential meson ninja-build pkg-config libelf-dev libdw-dev libjansson-dev
libusb-1.0-0-dev libbpf-dev check scdoc qemu-system-x86 busybox-static cpio lz4 xz-utils zstd
python3 python3-dev python3-drgn python3-jsonschema bpftool gdb ca-certificates libkdumpfile-dev
makedumpfile libsnappy1v5
umockdev libumockdev-dev valgrind tmux
bochs bochsbios vgabios bochs-term isolinux syslinux-common genisoimage
debhelper dpkg-dev fakeroot lintian man-db"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present" >&2
	exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing:$missing" >&2
$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
