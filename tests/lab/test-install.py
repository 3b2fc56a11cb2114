#!/usr/bin/env python3
"""An installed libkvmdci and its tools, from the install prefix alone.

The build is installed with `meson install --destdir` into a temporary directory (so its
prefix, DESTDIR/usr/local, is neither /usr nor /usr/local), then:
 - pkg-config (its sysroot the destdir) names the installed include directory itself, and an outside C program that includes the documented
   <libkvmdci/libkvmdci.h> compiles and links with `pkg-config --cflags --libs libkvmdci` and
   runs against the installed library;
 - the kvmdci-lab of a build dir outside the source tree (the build's script copied elsewhere)
   still finds the guest's /init in the source tree it was built from;
 - the installed kvmdci-lab finds /init, the workload and the Bochs bridge under the prefix,
   nothing in the build or source tree, and boots the lab from there: the installed
   kvmdci-vcpu sees the VM the installed workload made (its pid, its 2 vCPUs);
 - where the Python module is built ($KVMDCI_PYTHON: its interpreter), the installed package
   imports from the prefix alone (its extension and the installed library, the version the
   .pc file gives) and its vms() sees the same VM.
Usage: test-install.py SOURCE_DIR BUILD_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from e2e import check, check_json_log, finish
from lablib import Lab



def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def main():
    src, build = (os.path.abspath(a) for a in sys.argv[1:3])
    tmp = tempfile.mkdtemp(prefix="kvmdci-install-test-")
    try:
        dest = os.path.join(tmp, "dest")
        r = run(["meson", "install", "-C", build, "--destdir", dest, "--no-rebuild", "--quiet"])
        if not check("meson install --destdir: exit 0", r.returncode == 0, r.stderr[-300:]):
            finish()
        pcs = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs
               if f == "libkvmdci.pc"]
        check("libkvmdci.pc installed", len(pcs) == 1, str(pcs))
        libdir = os.path.dirname(os.path.dirname(pcs[0]))
        with open(pcs[0]) as f:
            pc_prefix = [l.split("=", 1)[1].strip() for l in f if l.startswith("prefix=")][0]
        prefix = dest + pc_prefix
        incdir = os.path.join(prefix, "include")
        # bash completion: under each installed command's name, each registering all of them
        bins = sorted(f for f in os.listdir(os.path.join(prefix, "bin")) if f.startswith("kvmdci-"))
        compdir = os.path.join(prefix, "share", "bash-completion", "completions")
        comps = sorted(os.listdir(compdir)) if os.path.isdir(compdir) else []
        reg = subprocess.run(["bash", "-c", 'source "$1"; complete -p | grep -c "_kvmdci "',
                              "bash", os.path.join(compdir, "kvmdci-trace")],
                             capture_output=True, text=True, timeout=30).stdout.strip()
        check("bash completion installed for every installed command",
              bins and comps == bins and reg == str(len(bins)), f"{comps} vs {bins}, {reg}")
        # the tools' JSON schemas: installed for every installed tool; this test's documents
        # are checked against the installed copies (finish())
        sdir = os.path.join(prefix, "share", "kvmdci", "schemas")
        schemas = sorted(os.listdir(sdir)) if os.path.isdir(sdir) else []
        check("a JSON schema installed for every installed command",
              bins and all(b + ".schema.json" in schemas for b in bins), f"{schemas} vs {bins}")
        os.environ["KVMDCI_SCHEMAS"] = sdir
        # the sysroot is how pkg-config reads a tree installed with --destdir
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]),
                   PKG_CONFIG_SYSROOT_DIR=dest)
        r = run(["pkg-config", "--cflags", "--libs", "libkvmdci"], env=env)
        flags = r.stdout.split()
        check("pkg-config --cflags names the installed include directory itself",
              r.returncode == 0 and "-I" + incdir in flags and
              not any(f.endswith("/include/libkvmdci") for f in flags), r.stdout + r.stderr)
        prog_c = os.path.join(src, "tests", "data", "outside-program.c")
        prog = os.path.join(tmp, "outside")
        r = run(["cc", "-o", prog, prog_c] + flags)
        check("an outside program with #include <libkvmdci/libkvmdci.h> compiles and links "
              "with pkg-config's flags", r.returncode == 0, r.stderr.strip()[-400:])
        if r.returncode == 0:
            r = run([prog], env=dict(os.environ, LD_LIBRARY_PATH=libdir))
            check("it runs against the installed library (a missing dump: -ENOENT, named)",
                  r.returncode == 0 and "/nonexistent/vmcore" in r.stdout,
                  (r.stdout + r.stderr).strip())

        # the Python module, from the prefix alone: its site directory on PYTHONPATH, the
        # installed library first (the extension's run path is the final prefix's)
        pyexe = os.environ.get("KVMDCI_PYTHON")
        pyenv = None
        if pyexe:
            pkgs = [d for d, _, fs in os.walk(dest) if os.path.basename(d) == "kvmdci" and
                    any(f.startswith("_kvmdci.") for f in fs)]
            check("the Python package is installed once, under the prefix",
                  len(pkgs) == 1 and pkgs[0].startswith(prefix + "/") and
                  os.path.isfile(os.path.join(pkgs[0], "__init__.py")), str(pkgs))
            with open(pcs[0]) as f:
                pc_version = [l.split(":", 1)[1].strip() for l in f
                              if l.startswith("Version:")][0]
            pyenv = dict(os.environ, PYTHONPATH=os.path.dirname(pkgs[0]) if pkgs else "",
                         LD_LIBRARY_PATH=libdir)
            r = run([pyexe, "-c", "import kvmdci; print(kvmdci.__file__); "
                     "print(kvmdci._kvmdci.__file__); print(kvmdci.version())"],
                    env=pyenv, cwd=tmp)
            lines = r.stdout.split()
            check("python3 -c 'import kvmdci': the installed package and extension, the "
                  "installed library's version",
                  r.returncode == 0 and len(lines) == 3 and
                  all(p.startswith(prefix + "/") for p in lines[:2]) and
                  lines[2] == pc_version, (r.stdout + r.stderr).strip()[-400:])

        # a build dir anywhere: its kvmdci-lab still knows the source tree
        elsewhere = os.path.join(tmp, "elsewhere", "build", "tools")
        os.makedirs(elsewhere)
        shutil.copy(os.path.join(build, "tools", "kvmdci-lab"), elsewhere)
        r = run([os.path.join(elsewhere, "kvmdci-lab"), "paths", "--json"])
        doc = json.loads(r.stdout) if r.returncode == 0 else {}
        check("kvmdci-lab of a build dir outside the source tree finds lab/init",
              doc.get("init") == os.path.join(src, "lab", "init"), (r.stdout + r.stderr)[-300:])

        # the installed kvmdci-lab: its files from the prefix, nothing from the trees
        bindir = os.path.join(prefix, "bin")
        lab_script = os.path.join(bindir, "kvmdci-lab")
        r = run([lab_script, "paths", "--json"])
        doc = json.loads(r.stdout) if r.returncode == 0 else {}
        print(f"     installed paths: {json.dumps(doc)}", flush=True)
        for what in ("init", "workload", "bochs_bridge"):
            p = doc.get(what) or ""
            check(f"installed kvmdci-lab: {what} under the prefix",
                  p.startswith(prefix + "/") and os.path.isfile(p), p)
        check("installed kvmdci-lab: its prefix is the install prefix, no source tree",
              doc.get("installed_prefix") == prefix and doc.get("source_dir") is None, str(doc))

        labdir = os.path.join(tmp, "lab")
        os.mkdir(labdir, 0o700)
        lab = Lab(labdir, script=lab_script)
        try:
            lab_env = lab.start(vms=1, vcpus=2)
            check("installed kvmdci-lab: the lab boots with the installed workload", True)
            st, out = lab.run("pidof workload")
            pid = int(out.split()[0]) if st == 0 and out.split() else -1
            tenv = dict(os.environ, LD_LIBRARY_PATH=libdir)
            tenv.update(lab_env)
            r = run([os.path.join(bindir, "kvmdci-vcpu"), "--json"], env=tenv, timeout=120)
            doc = json.loads(r.stdout) if r.returncode == 0 else {}
            vms = doc.get("vms", [])
            check("installed kvmdci-vcpu: the workload's VM (its pid) with its 2 vCPUs",
                  len(vms) == 1 and vms[0].get("vm_pid") == pid and
                  len(vms[0].get("vcpus", [])) == 2,
                  f"pid {pid}: {json.dumps(vms)[:300]} {r.stderr.strip()[-300:]}")
            if pyenv:
                r = run([pyexe, "-c", "import kvmdci, os\n"
                         "k = kvmdci.open(os.environ['KVMDCI_TARGET'])\n"
                         "print([(v.vm_pid, len(v.vcpus())) for v in k.vms()])"],
                        env=dict(pyenv, **lab_env), cwd=tmp, timeout=120)
                check("the installed Python module: vms() sees the workload's VM, 2 vCPUs",
                      r.returncode == 0 and r.stdout.strip() == str([(pid, 2)]),
                      f"pid {pid}: {(r.stdout + r.stderr).strip()[-300:]}")
        finally:
            lab.stop()
        check_json_log()  # with the installed schemas, before they are removed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
