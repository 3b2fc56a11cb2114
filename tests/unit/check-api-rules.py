#!/usr/bin/env python3
"""The rules of the public API that a reader of lib/ could break without noticing:
- every exported function returning int (it can fail) starts with KVMDCI_API_ENTRY(), so the
  last error is cleared at each call from outside; plain getters that cannot fail are listed
  below;
- the library reads no KVMDCI_* environment variable itself: settings are tunables on the
  context (lib/ctx.c reads the environment, as their default, and KVMDCI_LOG);
- every handle has _ref and _unref."""
import glob
import re
import sys

src = sys.argv[1]
# int getters that cannot fail, and functions without a context to clear
NO_ENTRY = {
    "kvmdci_ctx_new", "kvmdci_ctx_get_log_priority",
    "kvmdci_catalog_count", "kvmdci_target_bp_count", "kvmdci_kernel_module_count",
    "kvmdci_target_is_running", "kvmdci_target_has_run_control", "kvmdci_kernel_has_module", "kvmdci_kvm_vcpu_stats_count",
    "kvmdci_target_cpu_count", "kvmdci_vmcs_field_decode", "kvmdci_vmcs_field_lookup",
    "kvmdci_vmcs_field_count", "kvmdci_vmcs_field_at", "kvmdci_tunable_from_name",
    "kvmdci_counters_count", "kvmdci_counters_vcpu_count", "kvmdci_vm_list_count",
    "kvmdci_vcpu_list_count",
    # no context: the DCI probe reads the machine, not a target; the aggregation and the
    # selection work on what the caller hands in
    "kvmdci_dci_probe", "kvmdci_dci_sdbg", "kvmdci_dci_cpu_count", "kvmdci_dci_cpu",
    "kvmdci_dci_cpus_readable", "kvmdci_dci_usb_stack", "kvmdci_dci_usb_count", "kvmdci_dci_usb",
    "kvmdci_exit_stats_new", "kvmdci_exit_stats_group_count", "kvmdci_exit_stats_group",
    "kvmdci_exit_stats_reason", "kvmdci_vm_select_parse", "kvmdci_vm_select_vm",
    "kvmdci_vm_select_vcpu",
    # KVM's named stats: getters of what kvmdci_kvm_stats_new() found (no context)
    "kvmdci_kvm_stats_count", "kvmdci_kvm_stats_values",
    "kvmdci_kvm_stats_desc", "kvmdci_kvm_stats_find",
}
HANDLES = ["ctx", "target", "kernel", "catalog", "trace", "exits", "unwinder",
           "kvm_vcpu_stats_layout", "counters", "dci", "exit_stats", "vm_list", "vcpu_list", "kvm_stats"]

bad = checked = 0


def fail(msg):
    global bad
    bad += 1
    print(f"FAIL {msg}")


fn = re.compile(r"^KVMDCI_EXPORT int (kvmdci_\w+)\(([^{;]*?)\)\n\{\n([^\n]*)\n", re.M)
for path in sorted(glob.glob(f"{src}/lib/**/*.c", recursive=True)):
    text = open(path).read()
    rel = path[len(src) + 1:]
    for m in fn.finditer(text):
        name, first = m.group(1), m.group(3)
        if name in NO_ENTRY:
            continue
        checked += 1
        if "KVMDCI_API_ENTRY(" not in first:
            fail(f"{rel}: {name} does not start with KVMDCI_API_ENTRY()")
    for m in re.finditer(r"\bgetenv\(([^)]*)\)", text):
        checked += 1
        if rel != "lib/ctx.c" and m.group(1) not in ('"XDG_CACHE_HOME"', '"HOME"'):
            fail(f"{rel}: getenv({m.group(1)}): make it a tunable (kvmdci_ctx_get_tunable)")

header = open(f"{src}/include/libkvmdci/libkvmdci.h").read()
for h in HANDLES:
    for verb in ("ref", "unref"):
        checked += 1
        if not re.search(rf"\bkvmdci_{h}_{verb}\(", header):
            fail(f"handle {h} has no kvmdci_{h}_{verb}()")
print(f"{checked - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
