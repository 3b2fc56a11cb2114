#!/usr/bin/env python3
"""The on-disk cache of parsed kernel files (lib/kernel/file-cache.c): System.map tables
(sysmap-v2-DEV-INO.idx) and vmlinux's BTF name index (btf-v3-BUILDID.idx).

On the lab kernel's real System.map and vmlinux (fetched by `kvmdci-lab build`), through
tests/btf/cache-probe: the symbol table is exactly the System.map's lines (ground truth: this
script parses the file itself), and the table, the lookups and the type ids are the same with
the cache off, cold (files written), warm (files read), and after each way of spoiling a
cache file (truncated, a flipped byte, garbage, another System.map's, another build's index):
such a file is ignored, never trusted, and written anew. A System.map table is checked block
by block as lookups read it: a damaged block that a lookup reads makes the table be read from
the System.map instead (the right address, never the damaged one).
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "lab"))
from symcache_file import spoil_address  # noqa: E402 - tests/lab/symcache_file.py

probe = sys.argv[1]
kernel = sys.argv[2] if len(sys.argv) > 2 else "6.1"
lab = os.environ.get("KVMDCI_LAB", "kvmdci-lab")
kdir = subprocess.run([lab, "build", "--kernel", kernel], check=True, capture_output=True,
                      text=True).stdout.strip()
work = tempfile.mkdtemp(prefix="kvmdci-kcache-")
# a copy of System.map of our own: its inode and times are ours to change
sysmap = os.path.join(work, "System.map")
shutil.copyfile(os.path.join(kdir, "System.map"), sysmap)
vmlinux = os.path.join(kdir, "vmlinux")
xdg = os.path.join(work, "xdg")
cdir = os.path.join(xdg, "libkvmdci")
TYPES = ["struct kvm", "struct kvm_vcpu", "struct module", "struct task_struct", "list_head",
         "u64", "enum kvm_bus", "union kvm_mmu_page_role", "struct no_such_type_here"]
failed = 0


def check(name, ok, detail=""):
    global failed
    if not ok:
        failed += 1
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}",
          flush=True)


def run(extra=None, lookups=False):
    env = dict(os.environ, XDG_CACHE_HOME=xdg)
    env.pop("KVMDCI_KERNEL_CACHE", None)
    env.update(extra or {})
    r = subprocess.run([probe] + (["--lookups"] if lookups else []) + [sysmap, vmlinux] + TYPES,
                       capture_output=True, text=True, env=env, timeout=300)
    if r.returncode != 0:
        check("cache-probe runs", False, r.stderr[-500:])
        sys.exit(1)
    return r.stdout, r.stderr


def cache_file(prefix):
    names = [f for f in os.listdir(cdir) if f.startswith(prefix)] if os.path.isdir(cdir) else []
    return os.path.join(cdir, names[0]) if len(names) == 1 else None


# ground truth: the System.map's own lines, as (address, type, name)
with open(sysmap) as f:
    truth = sorted((int(a, 16), t, n) for a, t, n in (line.split()[:3] for line in f))

off, err = run({"KVMDCI_KERNEL_CACHE": "0"})
check("KVMDCI_KERNEL_CACHE=0 writes nothing", not os.path.isdir(cdir))
table = [ln.split(" ", 2) for ln in off.splitlines() if not ln.startswith(("sym ", "type ",
                                                                           "added "))]
check(f"the table is the System.map's {len(truth)} lines, no more, no less",
      sorted((int(a, 16), t, n) for a, t, n in table) == truth)
check("the table is sorted by name", [n for _, _, n in table] == sorted(n for _, _, n in table))
want_banner = next(a for a, t, n in truth if n == "linux_banner")
check("linux_banner found at its System.map address",
      f"sym linux_banner {want_banner:x}" in off.splitlines())
check("an unknown symbol is not found", "sym no_such_symbol_at_all -2" in off)
check("types found, an unknown one not",
      "type struct kvm -" not in off and "type struct no_such_type_here -2" in off)
check("a symbol added to the table is found", "added 1234" in off)

cold, err = run()
sm, bi = cache_file("sysmap-"), cache_file("btf-")
check("a cold run writes sysmap-v2-DEV-INO.idx and btf-v3-BUILDID.idx", sm and bi, str(
    os.listdir(cdir) if os.path.isdir(cdir) else None))
check("cold: the same output as with the cache off", cold == off)
warm, err = run()
check("warm: the System.map table comes from the cache", "symbol cache " + sm in err, err[-300:])
check("warm: the BTF name index comes from the cache", "BTF name index " + bi in err, err[-300:])
check("warm: the same output as with the cache off", warm == off)
check("a warm run leaves no temporary file behind", sorted(os.listdir(cdir)) ==
      sorted([os.path.basename(sm), os.path.basename(bi)]))


def spoil(path, how):
    data = open(path, "rb").read()
    if how == "truncated":
        data = data[:len(data) // 2]
    elif how == "short":
        data = data[:20]
    elif how == "flipped":
        i = len(data) * 3 // 4
        data = data[:i] + bytes([data[i] ^ 0x40]) + data[i + 1:]
    elif how == "garbage":
        data = os.urandom(len(data))
    elif how == "empty":
        data = b""
    elif how == "foreign":  # another build: the build id (bytes 16..) or the device (16..)
        data = data[:16] + bytes([data[16] ^ 1]) + data[17:]
    with open(path, "wb") as f:
        f.write(data)


for how in ("truncated", "short", "flipped", "garbage", "empty", "foreign"):
    for path, what in ((sm, "symbol cache"), (bi, "BTF name index")):
        spoil(path, how)
        out, err = run()
        check(f"{what} {how}: ignored, the same output", out == off and
              f"ignoring the {what} {path}" in err, err[-300:])
        out, err = run()
        check(f"{what} {how}: written anew, read at the next start",
              out == off and f"{what} {path}" in err and "ignoring" not in err, err[-300:])

# A damaged block that a lookup reads, in a file whose header and block sums are right (a disk
# error, or a write of ours gone wrong): linux_banner's own entry, its address changed. The
# lookups alone (--lookups) read the table from the cache without checking it whole: the
# block's checksum shows it, the table is read from the System.map, the right address.
run()
sm = cache_file("sysmap-")
check("linux_banner's entry found in the symbol cache", spoil_address(sm, "linux_banner"))
out, err = run(lookups=True)
check("a damaged block that a lookup reads: the System.map's address, not the damaged one",
      f"sym linux_banner {want_banner:x}" in out.splitlines() and
      f"ignoring the symbol cache {sm}: damaged" in err, out[:300] + err[-300:])
out, err = run(lookups=True)
check("a damaged block: the file written anew, read at the next start",
      f"sym linux_banner {want_banner:x}" in out.splitlines() and f"symbol cache {sm}" in err
      and "ignoring" not in err, err[-300:])
out, err = run()
check("a damaged block: the whole table the same as with the cache off", out == off, err[-300:])

# The BTF index also holds the offset of every type in vmlinux's type section (the BTF is
# read in place with them, no walk of its ~100k types). Offsets that do not fit the file,
# in a file whose checksum is right (as a bug of ours, or a vmlinux changed in place under the
# same build id and sizes, would leave them): still the same answers.
IX_HEADER = 120  # struct ix_header (lib/kernel/btf.c)
BLOCK = 4096  # FILE_CACHE_BLOCK (lib/kernel/file-cache.h)


def fsum(b):
    """lib/kernel/file-cache.c file_cache_sum()"""
    k, m = 0x9e3779b97f4a7c15, (1 << 64) - 1
    n = len(b) // 8
    w = struct.unpack(f"<{n}Q", b[:n * 8])
    h = [1, 2, 3, 4]
    i = 0
    while i + 4 <= n:
        for j in range(4):
            h[j] = ((h[j] ^ w[i + j]) * k) & m
        i += 4
    while i < n:
        h[0] = ((h[0] ^ w[i]) * k) & m
        i += 1
    x = (((h[0] ^ (h[1] >> 7)) * k) & m) ^ (h[2] >> 13)
    return ((x * k) & m) ^ h[3] ^ len(b)


def ix_layout(data):
    """type_cnt, mask and the body's offset of a BTF index file's bytes @data"""
    type_cnt, _, mask = struct.unpack_from("<III", data, 88)
    return type_cnt, mask, struct.unpack_from("<Q", data, IX_HEADER - 16)[0]


def respoil_offsets(path, change):
    data = bytearray(open(path, "rb").read())
    type_cnt, mask, body = ix_layout(data)
    base = body + (mask + 1) * 4
    offs = list(struct.unpack_from(f"<{type_cnt - 1}I", data, base))
    change(offs)
    struct.pack_into(f"<{type_cnt - 1}I", data, base, *offs)
    # every block's sum, and the header's sum of them, as the library writes them
    sums = [fsum(bytes(data[o:min(o + BLOCK, len(data))])) for o in range(body, len(data), BLOCK)]
    struct.pack_into(f"<{len(sums)}Q", data, IX_HEADER, *sums)
    struct.pack_into("<Q", data, IX_HEADER - 8, fsum(struct.pack(f"<{len(sums)}Q", *sums)))
    with open(path, "wb") as f:
        f.write(data)


run()
bi = cache_file("btf-")
ids = {ln.split()[1] + " " + ln.split()[2]: int(ln.split()[3]) for ln in off.splitlines()
       if ln.startswith("type struct ") and " size " in ln}
kvm_id = ids["struct kvm"]


def not_increasing(offs):
    offs[len(offs) // 2] = offs[len(offs) // 2 - 1]


def shifted_tail(offs):
    for i in range(len(offs) // 2, len(offs)):
        offs[i] += 4


def struct_kvm_moved(offs):
    offs[kvm_id - 1] += 4  # still increasing: only its own record shows it


for change, refused in ((not_increasing, True), (shifted_tail, True),
                        (struct_kvm_moved, False)):
    respoil_offsets(bi, change)
    out, err = run()
    if refused:
        check(f"BTF type offsets {change.__name__} (right checksum): ignored, the same output",
              out == off and f"ignoring the BTF name index {bi}: its type offsets do not fit"
              in err, err[-300:])
        out, err = run()
        check(f"BTF type offsets {change.__name__}: written anew, read at the next start",
              out == off and f"BTF name index {bi}" in err and "ignoring" not in err,
              err[-300:])
    else:
        check(f"BTF type offsets {change.__name__} (right checksum, accepted at the start): "
              "the type's record shows it, the offsets are walked, the same output",
              out == off, err[-300:])
        os.unlink(bi)
        run()

# A damaged block of the index's slots that a lookup reads (its header and block sums right):
# the slot of struct kvm's name hash (lib/kernel/btf.c name_hash(), FNV-1a) points to
# another type. The block's checksum shows it: the index is built anew, the same answers.
def fnv1a(name):
    h = 2166136261
    for c in name.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


run()
bi = cache_file("btf-")
data = bytearray(open(bi, "rb").read())
type_cnt, mask, body = ix_layout(data)
h = fnv1a("kvm") & mask
while struct.unpack_from("<I", data, body + 4 * h)[0] != kvm_id:
    h = (h + 1) & mask
struct.pack_into("<I", data, body + 4 * h, kvm_id + 1)
with open(bi, "wb") as f:
    f.write(data)
out, err = run()
check("BTF name index, a damaged block of slots that a lookup reads: built anew, the same output",
      out == off and f"ignoring the BTF name index {bi}: damaged (a block's checksum)" in err,
      err[-300:])
out, err = run()
check("BTF name index, a damaged block of slots: written anew, read at the next start",
      out == off and f"BTF name index {bi}" in err and "ignoring" not in err, err[-300:])

# another version of the System.map at the same place: its change time moves
os.utime(sysmap, None)
out, err = run()
check("a System.map touched since: its cache is stale, ignored",
      out == off and "another System.map or an older version" in err, err[-300:])
# a different System.map (one symbol's address changed) written over the file
with open(sysmap) as f:
    lines = f.readlines()
i = next(j for j, ln in enumerate(lines) if ln.split()[2] == "linux_banner")
a, t, n = lines[i].split()
lines[i] = f"{int(a, 16) + 0x40:016x} {t} {n}\n"
with open(sysmap, "w") as f:
    f.writelines(lines)
out, err = run()
check("a System.map rewritten with another address: the new address, not the cached one",
      f"sym linux_banner {want_banner + 0x40:x}" in out.splitlines(), err[-300:])

# bounded: twelve copies of the System.map (twelve identities) leave the 8 newest tables
orig = sysmap
for k in range(12):
    sysmap = os.path.join(work, f"System.map.{k}")
    shutil.copyfile(orig, sysmap)
    run()
kept = sorted(f for f in os.listdir(cdir) if f.startswith("sysmap-"))
st = os.stat(sysmap)
last = f"sysmap-v2-{st.st_dev:x}-{st.st_ino:x}.idx"
check("the cache keeps the 8 newest System.map tables, the last one among them",
      len(kept) == 8 and last in kept, f"{last} {kept}")
sysmap = orig

shutil.rmtree(work)
print(f"{'FAILED' if failed else 'passed'}", flush=True)
sys.exit(1 if failed else 0)
