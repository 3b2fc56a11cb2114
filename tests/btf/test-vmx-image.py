#!/usr/bin/env python3
"""Intel VMX (and the VMCB) decoded from memory images laid out from a Debian kernel's real
kvm-intel.ko / kvm-amd.ko type info (tests/btf/vmx-image.c): BTF, or the -dbg package's DWARF
where the modules have no BTF (5.10). Which of cpus_hardware_enabled,
hardware_enabled or virtualization_enabled the kernel's kvm.ko has is read from its symbol
table (nm), an independent source, and handed to the image test."""
import os
import subprocess
import sys

image, kernel = sys.argv[1], sys.argv[2]
lab = os.environ.get("KVMDCI_LAB", "kvmdci-lab")
kdir = subprocess.run([lab, "build", "--kernel", kernel], check=True, capture_output=True,
                      text=True).stdout.strip()
print(f"kernel {os.path.basename(kdir)}", flush=True)
kvm = os.path.join(kdir, "modules", "kvm.ko")
syms = {l.split()[-1] for l in subprocess.run(["nm", kvm], check=True, capture_output=True,
                                              text=True).stdout.splitlines()}
for name in ("virtualization_enabled", "hardware_enabled", "cpus_hardware_enabled"):
    if name in syms:
        break
else:
    print(f"FAIL kvm.ko of {kernel} has none of the three enabled-CPU symbols")
    sys.exit(1)
print(f"kvm.ko keeps KVM's enabled CPUs in {name}", flush=True)
# the types: the modules' BTF where they have it (a .BTF section, as readelf lists it), else
# DWARF from the -dbg package (5.10's modules have no BTF: kvmdci-lab build --dwarf-vmlinux
# extracts the debug vmlinux next to the module debug files)
sections = subprocess.run(["readelf", "-SW", os.path.join(kdir, "modules", "kvm-intel.ko")],
                          check=True, capture_output=True, text=True).stdout
if " .BTF " in sections:
    args = [os.path.join(kdir, "vmlinux"), os.path.join(kdir, "modules")]
else:
    subprocess.run([lab, "build", "--kernel", kernel, "--dwarf-vmlinux"], check=True,
                   capture_output=True)
    print("kvm-intel.ko has no BTF: types from the -dbg package's DWARF", flush=True)
    args = ["--dwarf", os.path.join(kdir, "debug", "vmlinux"), os.path.join(kdir, "debug")]
r = subprocess.run([image] + args + [name])
sys.exit(r.returncode)
