#!/usr/bin/env python3
"""Debuginfo-less mode end to end: with no kernel files at all (no KVMDCI_VMLINUX, _SYSTEM_MAP,
_MODULES), the library reads vmlinux symbols from the kernel's kallsyms tables, types from its
.BTF and the kvm modules' BTF from memory. On the lab booted with KASLR on, for each kernel
(6.1 and 6.12; KVMDCI_TEST_KERNELS="6.1" to run one):
 - the KASLR offset equals the one found with System.map (linux_banner search), and is not 0;
 - every checked symbol resolves to System.map's address + that offset: a fixed set
   (linux_banner, modules, init_task, __start_BTF, ...), kvm module symbols (vm_list,
   kvm_amd:svm_handle_exit) against the files mode, and a sample of System.map's global symbols;
 - kvmdci-kernel says where each piece came from (kallsyms / BTF in memory), and each kvm
   module's type count is what bpftool counts in its split BTF, from the file or from memory;
 - files still win, and mixing works (System.map but no vmlinux);
 - kvmdci-exits with no files: its IOIO count equals the window's io_exits (KVM's own stat);
 - a dump of the lab (core://): the same addresses, located through VMCOREINFO;
 - the kvm modules' kallsyms cache (module_checks.py): /proc/kallsyms's addresses cold, warm,
   damaged and stale.
"""
import json
import os
import signal
import subprocess
import tempfile
import time

from e2e import TestLab, Tool, check, finish, run_tool, window_deltas
from module_checks import module_syms_cache_checks

FIXED = ["linux_banner", "modules", "init_task", "__start_BTF", "__stop_BTF", "_text",
         "_stext", "startup_64", "btf_modules", "init_top_pgt"]
MODULE_SYMS = ["vm_list", "kvm:kvm_io_bus_write", "kvm_amd:svm_handle_exit",
               "kvm_amd:svm_vcpu_run"]
IOIO = 0x7B


class KernelLab(TestLab):
    def __init__(self, kernel):
        super().__init__()
        self.kernel = kernel

    def __enter__(self):
        t0 = time.monotonic()
        self.env = self.lab.start(kernel=self.kernel)
        print(f"lab booted in {time.monotonic() - t0:.1f} s "
              f"(kernel {self.env.get('KVMDCI_KERNEL_RELEASE')}, KASLR on)", flush=True)
        self.tool_env = dict(os.environ)
        self.tool_env.update(self.env)
        return self


def sample(system_map, n=120):
    """Global symbols of the kernel image with one address per name, spread over the map."""
    seen, dup, rows = set(), set(), []
    with open(system_map) as f:
        for line in f:
            a, t, name = line.split()[:3]
            if name in seen:
                dup.add(name)
            seen.add(name)
            # kallsyms leaves out its own tables (scripts/kallsyms.c ignores kallsyms_*)
            if (t in "TDRB" and int(a, 16) >= 0xffffffff81000000 and
                    not name.startswith(("__", "kallsyms_"))):
                rows.append(name)
    rows = [r for r in rows if r not in dup]
    step = max(1, len(rows) // n)
    return rows[::step][:n]


def kernel_json(env, target, syms, extra=()):
    args = ["--json"] + (["-t", target] if target else []) + list(extra)
    for s in syms:
        args += ["--symbol", s]
    t0 = time.monotonic()
    rc, out, err = run_tool("kvmdci-kernel", args, env, timeout=180)
    took = time.monotonic() - t0
    doc = json.loads(out) if out.strip() else {}
    return rc, doc, err, took


def no_files(env):
    return {k: v for k, v in env.items()
            if k not in ("KVMDCI_VMLINUX", "KVMDCI_SYSTEM_MAP", "KVMDCI_MODULES")}


def compare(tag, want, got):
    bad = {s: (want.get(s), got.get(s)) for s in want if want.get(s) != got.get(s)}
    check(f"{tag}: {len(want)} symbols at System.map + KASLR offset", not bad and want,
          f"{len(bad)} differ: {dict(list(bad.items())[:5])}")


def one_kernel(kernel, dump_dir):
    with KernelLab(kernel) as t:
        env = t.tool_env
        smap = env["KVMDCI_SYSTEM_MAP"]
        link = {}
        with open(smap) as f:
            for line in f:
                a, _, name = line.split()[:3]
                link.setdefault(name, int(a, 16))
        syms = [s for s in FIXED if s in link] + sample(smap)

        # files: System.map + vmlinux + modules, KASLR by the banner search
        rc, files, err, took_f = kernel_json(env, None, syms + MODULE_SYMS)
        check(f"{kernel} files: kvmdci-kernel works", rc == 0, err.strip()[-300:])
        kaslr = int(files.get("kaslr_offset", "0x0"), 16)
        check(f"{kernel}: the lab runs with KASLR on", kaslr != 0, hex(kaslr))
        want = {s: hex(link[s] + kaslr) for s in syms}

        # each kvm module's type count: the types its split BTF adds, as bpftool counts them
        # (kvmdci-kernel said 0 for a module whose BTF came from the modules directory)
        fmods = {m["name"]: m for m in files.get("modules", [])}
        for name, ko in (("kvm", "kvm.ko"), ("kvm_amd", "kvm-amd.ko")):
            r = subprocess.run(["bpftool", "-B", env["KVMDCI_VMLINUX"], "btf", "dump", "file",
                                os.path.join(env["KVMDCI_MODULES"], ko)],
                               capture_output=True, text=True)
            want_n = sum(1 for l in r.stdout.splitlines() if l.startswith("["))
            got = (fmods.get(name, {}).get("types") or {})
            check(f"{kernel} files: module {name}: its BTF type count is bpftool's",
                  r.returncode == 0 and want_n > 0 and got.get("count") == want_n,
                  f"{got.get('count')} vs bpftool {want_n} {r.stderr.strip()[-100:]}")

        module_syms_cache_checks(t, kernel)

        # nothing but the target
        noenv = no_files(env)
        rc, mem, err, took_m = kernel_json(noenv, None, syms + MODULE_SYMS)
        print(f"{kernel}: kvmdci-kernel with files {took_f:.2f} s, debuginfo-less {took_m:.2f} s",
              flush=True)
        check(f"{kernel} no files: kvmdci-kernel works", rc == 0, err.strip()[-300:])
        if "resolved" not in mem:
            return
        check(f"{kernel} no files: same KASLR offset", int(mem["kaslr_offset"], 16) == kaslr,
              f"{mem['kaslr_offset']} ({mem['kaslr_source']}) vs {hex(kaslr)}")
        check(f"{kernel} no files: release from linux_banner",
              mem["release"] == env["KVMDCI_KERNEL_RELEASE"], mem["release"])
        compare(f"{kernel} no files", want, mem["resolved"])
        mw = {s: files["resolved"][s] for s in MODULE_SYMS}
        check(f"{kernel} no files: module symbols as with files",
              all(mw.values()) and mw == {s: mem["resolved"][s] for s in MODULE_SYMS},
              str({s: mem["resolved"][s] for s in MODULE_SYMS}))
        ss, ts = mem["symbols"], mem["types"]
        check(f"{kernel} no files: symbols from kallsyms in memory",
              ss["from"] == "memory" and ss["format"] == "kallsyms" and ss["count"] > 50000,
              json.dumps(ss))
        check(f"{kernel} no files: types from BTF in memory",
              ts["from"] == "memory" and ts["format"] == "BTF" and ts["count"] > 50000,
              json.dumps(ts))
        mods = {m["name"]: m for m in mem["modules"]}
        for name in ("kvm", "kvm_amd"):
            m = mods.get(name, {})
            check(f"{kernel} no files: module {name}: symbols and BTF from memory",
                  (m.get("symbols") or {}).get("from") == "memory" and
                  (m.get("types") or {}).get("from") == "memory", json.dumps(m))
            check(f"{kernel} no files: module {name}: as many types from memory as from the file",
                  (m.get("types") or {}).get("count") ==
                  ((fmods.get(name) or {}).get("types") or {}).get("count"), json.dumps(m))

        # files win, and mixing: System.map but no vmlinux, no modules dir
        mixed = dict(noenv, KVMDCI_SYSTEM_MAP=smap)
        rc, mix, err, _ = kernel_json(mixed, None, syms)
        check(f"{kernel} System.map only: symbols from the file, types from memory",
              rc == 0 and mix["symbols"]["format"] == "System.map" and
              mix["types"]["from"] == "memory", err.strip()[-200:])
        if rc == 0:
            compare(f"{kernel} System.map only", want, mix["resolved"])

        # kvmdci-exits with no files on a marked window
        name = "k1"
        t.window_start(name, 1, 100)
        tool = Tool("kvmdci-exits", ["--json", "--trigger", "watch", "-v"], noenv)
        line = tool.wait_line("tracing", 180)
        if check(f"{kernel} no files: kvmdci-exits started tracing", line is not None,
                 "" if line else "".join(tool.err).strip()[-300:]):
            t.signal(name)
            t.wait_state(name, "window-done", 600)
            rc, out, err = tool.stop(signal.SIGINT)
            doc = json.loads(out) if out.strip() else {}
            _, total = window_deltas(t.result(name))
            counts = {r["code"]: r["count"] for r in doc.get("reasons", [])}
            check(f"{kernel} no files: kvmdci-exits IOIO == io_exits delta",
                  rc == 0 and counts.get(IOIO, 0) == total["io_exits"] > 0,
                  f"rc={rc} {counts.get(IOIO, 0)} vs {total['io_exits']}")
            check(f"{kernel} no files: -v says where the kernel knowledge came from",
                  "kernel knowledge:" in err and "kallsyms in memory" in err,
                  "".join([l for l in err.splitlines() if "kernel knowledge" in l][:1]))
        else:
            tool.stop()
        t.signal(name)
        t.wait_state(name, "done", 300)

        # a dump: the tables through VMCOREINFO (qemu_fw_cfg), and the scan too
        path = t.lab.dump(os.path.join(dump_dir, f"lab-{kernel}.elf"))
        try:
            for how, extra_env in (("VMCOREINFO", {}), ("scan", {"KVMDCI_KALLSYMS": "scan"})):
                rc, d, err, took = kernel_json(dict(noenv, **extra_env), "core://" + path,
                                               syms + MODULE_SYMS)
                check(f"{kernel} dump, {how}: kvmdci-kernel works in {took:.2f} s",
                      rc == 0 and how in d.get("kaslr_source", ""),
                      f"{d.get('kaslr_source')} {err.strip()[-200:]}")
                if rc == 0:
                    compare(f"{kernel} dump, {how}", want, d["resolved"])
                    check(f"{kernel} dump, {how}: module symbols as live",
                          {s: d["resolved"][s] for s in MODULE_SYMS} == mw)
        finally:
            os.unlink(path)


def main():
    kernels = os.environ.get("KVMDCI_TEST_KERNELS", "6.1 6.12").split()
    with tempfile.TemporaryDirectory(prefix="kvmdci-kernel-test-") as d:
        for k in kernels:
            one_kernel(k, d)
    finish()


if __name__ == "__main__":
    main()
