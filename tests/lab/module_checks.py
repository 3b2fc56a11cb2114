"""Module files against the loaded modules, by build id (lab tests; ground truth from the
guest kernel's own /sys/module/NAME/notes/.note.gnu.build-id, and from binutils' readelf for
the files):
- kvmdci-kernel reports each loaded module's build id as the kernel keeps it;
- a kvm-amd.ko whose build id differs (a copy with one byte of its build-id note changed: the
  same release, another build) is not used for kvm_amd's types, and the warning names the file
  and both ids;
- the kvm modules' kallsyms cached per build id (modsyms-BUILDID.idx, lib/kernel/modules.c):
  module symbols at the guest's /proc/kallsyms addresses cold, warm, with a damaged entry in
  the cache file and with a cache file made for another place in memory.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

from e2e import check, run_tool
from symcache_file import spoil_address


def sysfs_build_ids(t, names):
    """{module: hex id} from the guest's sysfs note files (parsed here: Elf note headers)."""
    cmd = "; ".join(f"echo {n}; od -An -tx1 -v /sys/module/{n}/notes/.note.gnu.build-id"
                    for n in names)
    rc, out = t.run(cmd)
    ids, cur, data = {}, None, []

    def flush():
        b = bytes.fromhex("".join(data))
        off = 0
        while cur and off + 12 <= len(b):
            namesz, descsz, typ = (int.from_bytes(b[off + i:off + i + 4], "little")
                                   for i in (0, 4, 8))
            name = off + 12
            desc = name + ((namesz + 3) & ~3)
            if typ == 3 and b[name:name + namesz] == b"GNU\0":
                ids[cur] = b[desc:desc + descsz].hex()
                return
            off = desc + ((descsz + 3) & ~3)

    for line in out.splitlines():
        if line.strip() in names:
            flush()
            cur, data = line.strip(), []
        else:
            data += line.split()
    flush()
    return ids


def readelf_build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else None


def build_id_checks(t, label, vendor_module="kvm_amd", vendor_file="kvm-amd.ko"):
    env = t.tool_env
    truth = sysfs_build_ids(t, ["kvm", vendor_module])
    rc, out, err = run_tool("kvmdci-kernel", ["--json"], env, timeout=300)
    got = {}
    if rc == 0:
        got = {m["name"]: m.get("build_id") for m in json.loads(out)["modules"]}
    check(f"{label}: kvmdci-kernel's build ids of kvm and {vendor_module} are the guest's "
          f"(/sys/module/*/notes)", len(truth) == 2 and
          all(got.get(n) == i for n, i in truth.items()), f"tool {got} guest {truth} {err[-200:]}")
    check(f"{label}: the lab's own module files raise no build-id warning",
          "build id" not in err, err.strip()[-300:])

    mods = env.get("KVMDCI_MODULES", "")
    src = os.path.join(mods, vendor_file)
    fid = readelf_build_id(src) if os.path.exists(src) else None
    if not fid or vendor_module not in truth:
        check(f"{label}: {src} has a build-id note (readelf)", False, str(fid))
        return
    with tempfile.TemporaryDirectory(prefix="kvmdci-buildid-") as d:
        for f in os.listdir(mods):
            if f.endswith(".ko"):
                shutil.copy(os.path.join(mods, f), d)
        data = open(src, "rb").read()
        old = bytes.fromhex(fid)
        new = bytes([old[0] ^ 0xFF]) + old[1:]
        with open(os.path.join(d, vendor_file), "wb") as f:
            f.write(data.replace(old, new, 1))
        other = readelf_build_id(os.path.join(d, vendor_file))
        rc, out, err = run_tool("kvmdci-vmcs", [], dict(env, KVMDCI_MODULES=d), timeout=300)
        want = (f"{d}/{vendor_file} has build id {other}, the target's module {vendor_module} "
                f"has {truth[vendor_module]}")
        check(f"{label}: a {vendor_file} of another build (build id {other}) is not used for "
              f"{vendor_module}'s types; the warning names the file and both ids",
              other == new.hex() and want in err and
              f"not used for module {vendor_module}'s types" in err,
              f"rc={rc} {err.strip()[-400:]!r}")


CACHE_SYMS = {"kvm": ["vm_list", "kvm_io_bus_write", "kvm_vcpu_ioctl"],
              "kvm_amd": ["svm_handle_exit", "svm_vcpu_run"]}


def guest_kallsyms(t, mods):
    """{"module:name": "0x..."} from the guest's /proc/kallsyms"""
    rc, out = t.run("grep -E '\\[(" + "|".join(mods) + ")\\]' /proc/kallsyms")
    want = {f"{m}:{n}" for m, names in CACHE_SYMS.items() if m in mods for n in names}
    got = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and f"{f[3].strip('[]')}:{f[2]}" in want:
            got.setdefault(f"{f[3].strip('[]')}:{f[2]}", hex(int(f[0], 16)))
    return got


def module_syms_cache_checks(t, label, vendor_module="kvm_amd"):
    mods = ["kvm", vendor_module]
    truth = guest_kallsyms(t, mods)
    ids = sysfs_build_ids(t, mods)
    check(f"{label}: the guest's /proc/kallsyms has the kvm symbols checked",
          len(truth) == sum(len(CACHE_SYMS[m]) for m in mods) and
          all(int(a, 16) for a in truth.values()) and len(ids) == 2, f"{truth} {ids}")
    if len(ids) != 2:
        return
    with tempfile.TemporaryDirectory(prefix="kvmdci-modsyms-") as xdg:
        env = dict(t.tool_env, XDG_CACHE_HOME=xdg)
        env.pop("KVMDCI_KERNEL_CACHE", None)
        files = {m: os.path.join(xdg, "libkvmdci", f"modsyms-{ids[m]}.idx") for m in mods}

        def resolved(what):
            args = ["-vv", "--json"]
            for s in truth:
                args += ["--symbol", s]
            rc, out, err = run_tool("kvmdci-kernel", args, env, timeout=300)
            got = json.loads(out).get("resolved", {}) if rc == 0 and out.strip() else {}
            check(f"{label} module kallsyms cache, {what}: the addresses of /proc/kallsyms",
                  got == truth, f"rc={rc} {got} vs {truth} {err.strip()[-300:]}")
            return err

        err = resolved("cold")
        check(f"{label} module kallsyms cache, cold: modsyms-BUILDID.idx written for kvm and "
              f"{vendor_module} (their build ids from /sys/module/*/notes)",
              all(f"wrote the symbol cache {files[m]}" in err for m in mods), err[-400:])
        err = resolved("warm")
        check(f"{label} module kallsyms cache, warm: both read from the cache",
              all(f"symbol cache {files[m]}: " in err for m in mods) and "wrote" not in err,
              err[-400:])
        check(f"{label} module kallsyms cache: vm_list's entry found in the file",
              spoil_address(files["kvm"], "vm_list"))
        err = resolved("a damaged entry (its block's checksum)")
        check(f"{label} module kallsyms cache, a damaged entry: ignored, read from memory, "
              "written anew", f"ignoring the symbol cache {files['kvm']}: damaged" in err and
              f"wrote the symbol cache {files['kvm']}" in err, err[-400:])
        # the identity names where the module lies: one for another place is not used
        data = bytearray(open(files[vendor_module], "rb").read())
        data[16 + 6 * 8] ^= 0x40  # id[6]: the struct module's address
        with open(files[vendor_module], "wb") as f:
            f.write(data)
        err = resolved("a file made for another place in memory")
        check(f"{label} module kallsyms cache, made for another place in memory: ignored",
              f"ignoring the symbol cache {files[vendor_module]}: made from another module "
              "kallsyms" in err, err[-400:])
