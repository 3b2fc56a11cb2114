#!/bin/sh
# Build libkvmdci's Debian packages (debian/) with dpkg-buildpackage from a clean copy of the
# tree, check them with lintian (an error fails, warnings are printed), install them with
# apt-get and check the installed result from /usr alone (every tool's --version, the catalog,
# man pages, bash completion, an outside C program through pkg-config, kvmdci-lab's files),
# then purge them again: the machine is left with the packages it had.
#
# The copy is the committed tree (git archive HEAD), what CI builds; --worktree builds the
# working tree instead (tracked and untracked files that git does not ignore, as they are on
# disk). Developer build directories (build/, build-dev/, ...) are never part of it.
#
# Usage: scripts/package.sh [--worktree] [--out DIR] [--no-install]
#   --out DIR     keep the packages (.deb, .changes, source) in DIR
#   --no-install  build and lintian only (no root needed)
# Installing needs root (apt-get, dpkg). Exit 0 on success, 1 on a failure, 2 on bad usage.
set -eu
cd "$(dirname "$0")/.."
SRCDIR=$(pwd)

PACKAGES="libkvmdci0 libkvmdci-dev kvmdci-tools"
worktree=0 install=1 out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--worktree) worktree=1 ;;
	--no-install) install=0 ;;
	--out)
		[ $# -ge 2 ] || { echo "package: --out needs a directory" >&2; exit 2; }
		out=$2
		shift ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "package: unknown argument '$1' (usage: scripts/package.sh [--worktree] [--out DIR] [--no-install])" >&2
		exit 2 ;;
	esac
	shift
done

T0=$(date +%s)
say() { echo "package: [$(($(date +%s) - T0)) s] $*" >&2; }
fail() { echo "package: FAIL: $*" >&2; exit 1; }

for t in git dpkg-buildpackage dh lintian meson pkg-config cc man; do
	command -v "$t" >/dev/null 2>&1 ||
		fail "$t not found: run scripts/install-deps.sh (it installs debhelper, dpkg-dev, lintian, ...)"
done
if [ "$install" -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
	fail "installing the packages needs root (apt-get, dpkg): run as root, or with --no-install to build and lintian only"
fi
if ! e=$(git -C "$SRCDIR" rev-parse --verify HEAD 2>&1 >/dev/null); then
	fail "git cannot read HEAD in $SRCDIR ($(echo "$e" | head -n 1)): the packages are built from a git checkout's tracked files"
fi

# the package version is the project's (debian/changelog must follow meson.build)
VERSION=$(meson introspect --projectinfo meson.build |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
DEBVERSION=$(dpkg-parsechangelog -l debian/changelog -S Version)
[ "$VERSION" = "$DEBVERSION" ] ||
	fail "debian/changelog is at $DEBVERSION but meson.build's project version is $VERSION: add a debian/changelog entry for $VERSION"
ARCH=$(dpkg --print-architecture)
# every version node of the library has its line in the symbols file, so that a program built
# against a newer node depends on the package version that brought it
# shellcheck disable=SC2013
for node in $(grep -o '^LIBKVMDCI_[0-9.]*' lib/libkvmdci.sym); do
	grep -q "^ (symver)$node " debian/libkvmdci0.symbols ||
		fail "lib/libkvmdci.sym has the version node $node but debian/libkvmdci0.symbols does not: add ' (symver)$node $VERSION' there (the first package version with that node)"
done

if [ "$install" -eq 1 ]; then
	for p in $PACKAGES; do
		if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "installed"; then
			fail "$p is installed already; this script installs and purges the packages it builds: remove it first (apt-get purge $p)"
		fi
	done
fi

TMP=$(mktemp -d /tmp/kvmdci-package.XXXXXX)
installed() {
	dpkg-query -W -f='${binary:Package} ${Status}\n' | awk '$NF == "installed" {print $1}' |
		sed 's/:.*//' | sort -u
}
# the packages that were not installed before (ours and any dependency apt pulled in)
new_packages() {
	[ -f "$TMP/before" ] || return 0
	installed >"$TMP/after"
	comm -13 "$TMP/before" "$TMP/after" | tr '\n' ' ' | sed 's/^/ /; s/ $//'
}
cleanup() {
	st=$?
	NEW=$(new_packages)
	if [ -n "$NEW" ]; then
		say "purging:$NEW"
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $NEW >"$TMP/purge.log" 2>&1 || {
			st=1
			cat "$TMP/purge.log" >&2
			echo "package: FAIL: apt-get purge$NEW failed: remove them by hand" >&2
		}
	fi
	rm -rf "$TMP"
	exit $st
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- a clean copy of the tree
SRC="$TMP/libkvmdci-$VERSION"
mkdir "$SRC"
if [ "$worktree" -eq 1 ]; then
	say "copying the working tree (tracked and untracked, not ignored) to $SRC"
	git ls-files -z -co --exclude-standard |
		tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$SRC"
else
	if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
		say "note: building HEAD ($(git rev-parse --short HEAD)); uncommitted changes are not in the packages (--worktree builds them)"
	fi
	git archive --format=tar HEAD | tar -xf - -C "$SRC"
fi
[ -f "$SRC/debian/control" ] || fail "no debian/control in the copied tree (is debian/ committed?)"

# ---- build
say "dpkg-buildpackage -us -uc (log: $TMP/build.log)"
if ! (cd "$SRC" && dpkg-buildpackage -us -uc) >"$TMP/build.log" 2>&1; then
	tail -n 60 "$TMP/build.log" >&2
	fail "dpkg-buildpackage failed (the last 60 lines of its log are above)"
fi
CHANGES="$TMP/libkvmdci_${VERSION}_$ARCH.changes"
[ -f "$CHANGES" ] || fail "dpkg-buildpackage made no $CHANGES"
DEBS=""
for p in $PACKAGES; do
	d="$TMP/${p}_${VERSION}_$ARCH.deb"
	[ -f "$d" ] || fail "dpkg-buildpackage made no $(basename "$d")"
	DEBS="$DEBS $d"
done
grep -E "^ *[0-9]+/[0-9]+ .*(OK|FAIL|SKIP|ERROR|TIMEOUT)" "$TMP/build.log" |
	sed 's/^/package: dh_auto_test: /' >&2 || true
say "built:$(for d in $DEBS; do printf ' %s (%s KiB)' "$(basename "$d")" $(($(stat -c %s "$d") / 1024)); done)"

# ---- lintian: errors fail, everything else is shown
say "lintian $(basename "$CHANGES")"
lrc=0
lintian --display-info --fail-on error "$CHANGES" >"$TMP/lintian.log" 2>&1 || lrc=$?
grep -v "running with root privileges" "$TMP/lintian.log" | sed 's/^/lintian: /' >&2 || true
nerr=$(grep -c "^E: " "$TMP/lintian.log" || true)
nwarn=$(grep -c "^W: " "$TMP/lintian.log" || true)
say "lintian: $nerr errors, $nwarn warnings"
if [ "$nerr" -ne 0 ] || [ "$lrc" -ne 0 ]; then
	fail "lintian reports $nerr errors (exit $lrc): fix them or, where the tag is wrong for us, add an override with the reason to debian/*lintian-overrides"
fi

if [ -n "$out" ]; then
	mkdir -p "$out"
	cp "$TMP"/*.deb "$TMP"/*.changes "$TMP"/*.buildinfo "$TMP"/*.dsc "$TMP"/*.tar.* "$out"/
	say "packages copied to $out"
fi
if [ "$install" -eq 0 ]; then
	say "OK (built and lintian-clean; not installed: --no-install)"
	exit 0
fi

# ---- install
# the source copy goes first: nothing installed may fall back to it
rm -rf "$SRC"
installed >"$TMP/before"
say "apt-get install$(for d in $DEBS; do printf ' %s' "$(basename "$d")"; done)"
# no Recommends: what kvmdci-lab recommends (QEMU, ...) is not ours to leave behind
# shellcheck disable=SC2086
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $DEBS \
	>"$TMP/install.log" 2>&1; then
	cat "$TMP/install.log" >&2
	fail "apt-get install of the built packages failed (its output is above)"
fi
say "installed:$(new_packages)"

# ---- the installed result, from /usr alone: a clean environment, outside any tree
mkdir "$TMP/check" "$TMP/home"
cd "$TMP/check"
run() { env -i PATH=/usr/bin:/bin HOME="$TMP/home" LC_ALL=C.UTF-8 "$@"; }
checks=0
ok() { checks=$((checks + 1)); echo "package: ok - $*" >&2; }

# every command meson.build installs, from the installed package
want=$(sed -n "/^kvmdci_commands = \[/,/\]/p" "$SRCDIR/meson.build" | grep -o "'kvmdci-[a-z-]*'" |
	tr -d "'" | sort | tr '\n' ' ')
got=$(dpkg -L kvmdci-tools | sed -n 's|^/usr/bin/||p' | sort | tr '\n' ' ')
if [ -z "$want" ] || [ "$want" != "$got" ]; then
	fail "kvmdci-tools installs [$got] in /usr/bin, meson.build's kvmdci_commands are [$want]"
fi
ok "kvmdci-tools installs every command: $got"

# the library file of libkvmdci0 (ldd may name it through /lib, a link to /usr/lib)
libdir=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib=$(readlink -f "$libdir/libkvmdci.so.0")
dpkg -L libkvmdci0 | grep -qx "$lib" ||
	fail "$libdir/libkvmdci.so.0 resolves to $lib, which is not a file of libkvmdci0"
for t in $got; do
	[ -x "/usr/bin/$t" ] || fail "/usr/bin/$t is not executable"
	v=$(run "/usr/bin/$t" --version 2>&1) || fail "$t --version failed: $v"
	[ "$(echo "$v" | head -n 1)" = "$t $VERSION" ] ||
		fail "$t --version says '$(echo "$v" | head -n 1)', expected '$t $VERSION'"
	if [ "$t" != kvmdci-lab ]; then
		echo "$v" | grep -qx "libkvmdci $VERSION" ||
			fail "$t --version names no 'libkvmdci $VERSION': $v"
		l=$(run ldd "/usr/bin/$t" | awk '$1 == "libkvmdci.so.0" {print $3}')
		if [ -z "$l" ] || [ "$(readlink -f "$l")" != "$lib" ]; then
			fail "$t loads libkvmdci.so.0 from '$l', expected $libdir/libkvmdci.so.0"
		fi
	fi
	man -w 1 "$t" >/dev/null 2>&1 || fail "no man page $t(1) (man -w 1 $t)"
	c=/usr/share/bash-completion/completions/$t
	[ -f "$c" ] || fail "no bash completion $c"
	run bash -c 'source "$1" && complete -p "$2"' bash "$c" "$t" >/dev/null 2>&1 ||
		fail "sourcing $c registers no completion for $t"
done
ok "every tool: --version $VERSION against $libdir/libkvmdci.so.0, man page, bash completion"
for m in "5 kvmdci-catalog" "3 libkvmdci"; do
	# shellcheck disable=SC2086
	man -w $m >/dev/null 2>&1 || fail "no man page ($m) (man -w $m)"
done
ok "man pages kvmdci-catalog(5), libkvmdci(3)"

# the catalog the library loads by default is the installed one: the entry names
# kvmdci-catalog lists are exactly those of /usr/share/libkvmdci/catalog's JSON files
catdir=/usr/share/libkvmdci/catalog
run kvmdci-catalog list --json >"$TMP/catalog.json" 2>"$TMP/catalog.err" ||
	fail "kvmdci-catalog list failed: $(cat "$TMP/catalog.err")"
python3 - "$catdir" "$TMP/catalog.json" <<'PY' || fail "kvmdci-catalog list does not list the installed catalog $catdir"
import glob, json, os, sys
want = sorted(e["name"] for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json")))
              if not f.endswith(".schema.json") for e in json.load(open(f))["entries"])
got = sorted(e["name"] for e in json.load(open(sys.argv[2]))["entries"])
print(f"package: catalog: {len(got)} entries listed, {len(want)} in {sys.argv[1]}", file=sys.stderr)
sys.exit(0 if want and got == want else 1)
PY
ok "kvmdci-catalog list: the entries of $catdir"

# the JSON schema of every installed tool, and the page that explains them
for b in /usr/bin/kvmdci-*; do
	[ -f "/usr/share/kvmdci/schemas/${b##*/}.schema.json" ] ||
		fail "no JSON schema for $b in /usr/share/kvmdci/schemas (kvmdci-tools.install)"
done
[ -f /usr/share/kvmdci/schemas/common.schema.json ] && ls /usr/share/man/man7/kvmdci-json.7* >/dev/null 2>&1 ||
	fail "common.schema.json or kvmdci-json(7) not installed"
ok "a JSON schema for each of $(ls /usr/bin/kvmdci-* | wc -l) tools, kvmdci-json(7)"

# nothing in the packaged library points into the tree it was built from (its source tree's
# catalog was the fallback of a build-dir library: a path under /tmp anyone could create)
! grep -q -a "$TMP" "$lib" ||
	fail "$lib names the build tree $TMP (build with -Dsource_catalog=false)"
ok "$lib names no path of the tree it was built from"

# an outside program: the documented include, pkg-config, the installed library
cp "$SRCDIR/tests/data/outside-program.c" prog.c
flags=$(run pkg-config --cflags --libs libkvmdci) || fail "pkg-config --cflags --libs libkvmdci failed"
# shellcheck disable=SC2086
run cc -Wall -Werror -o prog prog.c $flags >"$TMP/cc.log" 2>&1 ||
	fail "an outside program does not build with pkg-config's flags ($flags): $(cat "$TMP/cc.log")"
r=$(run ./prog) || fail "the outside program failed: $r (expected -ENOENT for a missing dump)"
l=$(run ldd ./prog | awk '$1 == "libkvmdci.so.0" {print $3}')
if [ -z "$l" ] || [ "$(readlink -f "$l")" != "$lib" ]; then
	fail "the outside program loads libkvmdci.so.0 from '$l', expected $libdir/libkvmdci.so.0"
fi
ok "outside C program: <libkvmdci/libkvmdci.h>, pkg-config '$flags', runs ($r)"

# kvmdci-lab finds its guest /init, workload and Bochs bridge under /usr, nothing else
run kvmdci-lab --help >/dev/null 2>&1 || fail "kvmdci-lab --help failed"
run kvmdci-lab paths --json >"$TMP/paths.json" 2>"$TMP/paths.err" ||
	fail "kvmdci-lab paths failed: $(cat "$TMP/paths.err" "$TMP/paths.json")"
python3 - "$TMP/paths.json" <<'PY' || fail "kvmdci-lab does not take its files from /usr"
import json, os, sys
p = json.load(open(sys.argv[1]))
want = {"installed_prefix": "/usr", "source_dir": None, "init": "/usr/share/kvmdci/lab/init",
        "workload": "/usr/libexec/kvmdci/workload",
        "bochs_bridge": "/usr/share/kvmdci/lab/bochs-gdbserver"}
bad = [f"{k}: {p.get(k)!r}, expected {v!r}" for k, v in want.items() if p.get(k) != v]
bad += [f"{f} is not executable" for f in (want["workload"], want["bochs_bridge"])
        if not os.access(f, os.X_OK)]
for b in bad:
    print(f"package: kvmdci-lab paths: {b}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
ok "kvmdci-lab --help; kvmdci-lab paths: /init, workload and Bochs bridge under /usr"

cd /
say "OK: $checks checks of the installed packages passed; lintian $nerr errors, $nwarn warnings"
