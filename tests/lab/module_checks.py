"""Module files against the loaded modules, by build id (lab tests; ground truth from the
guest kernel's own /sys/module/NAME/notes/.note.gnu.build-id, and from binutils' readelf for
the files):
- kvmdci-kernel reports each loaded module's build id as the kernel keeps it;
- a kvm-amd.ko whose build id differs (a copy with one byte of its build-id note changed: the
  same release, another build) is not used for kvm_amd's types, and the warning names the file
  and both ids.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

from e2e import check, run_tool


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
