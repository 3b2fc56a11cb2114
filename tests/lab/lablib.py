"""lablib: drive kvmdci-lab from end-to-end tests.

Every call runs the real kvmdci-lab script as a subprocess, so the tests
exercise the tool itself.

    from lablib import Lab
    lab = Lab("/tmp/e2e-lab")          # state dir (KVMDCI_LAB_DIR)
    env = lab.start(vms=1, vcpus=2)    # dict: KVMDCI_TARGET, KVMDCI_VMLINUX, ...
    status, out = lab.run("lsmod")
    lab.dump("/tmp/e2e.elf")
    lab.stop()

The script is found as $KVMDCI_LAB, else build/tools/kvmdci-lab (meson's
copy, which knows the built workload), else tools/kvmdci-lab of this tree.
"""

import json
import os
import subprocess
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(os.path.dirname(_HERE))


def lab_script():
    p = os.environ.get("KVMDCI_LAB")
    if p:
        return p
    for build in (os.environ.get("MESON_BUILD_ROOT"), os.path.join(_ROOT, "build")):
        if build:
            c = os.path.join(build, "tools", "kvmdci-lab")
            if os.access(c, os.X_OK):
                return c
    return os.path.join(_ROOT, "tools", "kvmdci-lab")


class LabError(Exception):
    def __init__(self, msg, status=None, stdout="", stderr=""):
        super().__init__(msg)
        self.status, self.stdout, self.stderr = status, stdout, stderr


class Lab:
    """One lab instance, with its own state directory."""

    def __init__(self, dir, script=None, cache=None):
        self.dir = os.path.abspath(dir)
        self.script = script or lab_script()
        self.cache = cache
        self.boot_seconds = None
        self._env = None

    # -- plumbing ------------------------------------------------------------
    def _environ(self):
        e = dict(os.environ)
        e["KVMDCI_LAB_DIR"] = self.dir
        if self.cache:
            e["KVMDCI_LAB_CACHE"] = self.cache
        return e

    def _call(self, args, timeout=None, check=True):
        try:
            r = subprocess.run([sys.executable, self.script] + args
                               if self.script.endswith(".py") else [self.script] + args,
                               env=self._environ(), capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise LabError(f"kvmdci-lab {' '.join(args)}: no answer in {timeout} s",
                           stdout=e.stdout or "", stderr=e.stderr or "")
        if check and r.returncode != 0:
            raise LabError(f"kvmdci-lab {' '.join(args)} exited {r.returncode}: "
                           f"{r.stderr.strip()}", r.returncode, r.stdout, r.stderr)
        return r

    # -- API -----------------------------------------------------------------
    def build(self, kernel=None, timeout=1800, dwarf_vmlinux=False):
        """`kvmdci-lab build` (and --dwarf-vmlinux: debug/vmlinux); returns the kernel's
        directory."""
        args = ["build"] + (["--kernel", kernel] if kernel else [])
        if dwarf_vmlinux:
            args.append("--dwarf-vmlinux")
        return self._call(args, timeout=timeout).stdout.strip()

    def start(self, workload=None, vcpus=None, vms=None, kernel=None, memory=None,
              cpus=None, nokaslr=False, timeout=120, build_timeout=1800, engine=None,
              tools=(), append=None):
        """Boot the lab; returns env() as a dict. Options as for `kvmdci-lab start`
        (engine: None for the default, qemu, or bochs; tools: names for --tool)."""
        args = ["start", "--json", "--timeout", str(timeout)]
        for name in tools:
            args += ["--tool", name]
        for flag, v in (("--workload", workload), ("--vcpus", vcpus), ("--vms", vms),
                        ("--kernel", kernel), ("--memory", memory), ("--cpus", cpus),
                        ("--engine", engine), ("--append", append)):
            if v is not None:
                args += [flag, str(v)]
        if nokaslr:
            args.append("--nokaslr")
        r = self._call(args, timeout=timeout + build_timeout)
        doc = json.loads(r.stdout)
        self._env = _env_from_json(doc)
        for line in r.stderr.splitlines():
            if "lab ready in " in line:
                try:
                    self.boot_seconds = float(line.split("lab ready in ")[1].split()[0])
                except (IndexError, ValueError):
                    pass
        return dict(self._env)

    def env(self):
        """KVMDCI_* variables of the running lab (KVMDCI_TARGET, KVMDCI_VMLINUX, ...)."""
        r = self._call(["env", "--json"], timeout=30)
        self._env = _env_from_json(json.loads(r.stdout))
        return dict(self._env)

    def environ(self):
        """os.environ plus the lab's KVMDCI_* variables: pass to subprocess(env=...)."""
        e = self._environ()
        e.update(self.env() if self._env is None else self._env)
        return e

    def run(self, cmd, timeout=60):
        """Run a shell command in the guest: (exit status, output). 124 on timeout."""
        r = self._call(["run", "--timeout", str(timeout), "--", cmd],
                       timeout=timeout + 30, check=False)
        # The guest command's own stderr comes back in stdout (it shares the
        # console); anything on stderr except a timeout note is the tool's error.
        err = r.stderr.strip()
        if r.returncode != 0 and err and "timed out" not in err:
            raise LabError(err, r.returncode, r.stdout, r.stderr)
        return r.returncode, r.stdout

    def run_bg(self, cmd):
        """Start cmd in the background in the guest: (pid, log path)."""
        r = self._call(["run", "--", cmd.rstrip().rstrip("&") + " &"], timeout=60)
        w = r.stdout.split()            # "pid N log PATH"
        return int(w[1]), w[3]

    def dump(self, path, timeout=300):
        """Write an ELF dump of the whole lab machine to path; returns its path."""
        self._call(["dump", "--timeout", str(timeout), os.path.abspath(path)],
                   timeout=timeout + 30)
        return os.path.abspath(path)

    def status(self):
        """Parsed `status --json` (running: bool, pid, uptime_seconds, ...)."""
        r = self._call(["status", "--json"], timeout=30, check=False)
        return json.loads(r.stdout)

    def running(self):
        return self.status().get("running", False)

    def cont(self):
        """Let a held machine run again (`kvmdci-lab continue`)."""
        self._call(["continue", "--quiet"], timeout=60)

    def stop(self):
        self._call(["stop"], timeout=60)
        self._env = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.stop()
        except LabError:
            pass


def _env_from_json(doc):
    keys = {"target": "KVMDCI_TARGET", "vmlinux": "KVMDCI_VMLINUX",
            "system_map": "KVMDCI_SYSTEM_MAP", "modules": "KVMDCI_MODULES",
            "kernel_release": "KVMDCI_KERNEL_RELEASE",
            "kernel_suite": "KVMDCI_KERNEL_SUITE", "lab_dir": "KVMDCI_LAB_DIR",
            "engine": "KVMDCI_LAB_ENGINE", "vendor": "KVMDCI_LAB_VENDOR"}
    return {v: doc[k] for k, v in keys.items() if doc.get(k) is not None}
