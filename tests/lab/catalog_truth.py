"""The catalog against the target's own kallsyms, and a stack at the vendor's exit handler:
shared by test-vmx.py (VMX on the bochs engine) and test-kernels.py (SVM, every kernel)."""
import json
import time

from e2e import check, run_tool


def catalog_check(t, vendor, module):
    """kvmdci-catalog check against the target's own /proc/kallsyms: every entry of @vendor
    (vmx, svm) resolves to the address kallsyms gives its symbol, or is reported absent and
    none of its symbols is in kallsyms (a static function inlined by this kernel's compiler,
    or one this kernel does not have), or is not applicable for a reason the target confirms
    (inlined into a caller kallsyms has at the address the reason gives, or outside the
    entry's added/removed range). Every such entry lives in @module (kvm_intel,
    kvm_amd)."""
    V = vendor.upper()
    rc, out, err = run_tool("kvmdci-catalog", ["list", "--json", "--vendor", vendor],
                            t.tool_env)
    try:
        listed = json.loads(out)
        ents = {e["name"]: e["symbols"] for e in listed}
        inl = {e["name"]: e.get("inlined_into", []) for e in listed}
    except (ValueError, KeyError, TypeError):
        ents, inl = {}, {}
    check(f"kvmdci-catalog list --vendor {vendor}: {V} entries listed", rc == 0 and bool(ents),
          f"rc={rc} {err.strip()[-200:]}")
    rc, out, err = run_tool("kvmdci-catalog", ["check", "--all", "--json"], t.tool_env,
                            timeout=600)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    got = {e["name"]: e for e in doc.get("entries", [])}
    syms = sorted({x for v in list(ents.values()) + list(inl.values()) for x in v})
    # every entry is in the vendor module: its text symbols (a fixed-string grep: Bochs is slow)
    st, ks = t.run(f"grep -F '[{module}]' /proc/kallsyms", timeout=300)
    kall = {}
    for line in ks.splitlines():
        w = line.split()
        if len(w) >= 3 and w[1] in ("t", "T") and w[2] in syms:
            kall[w[2]] = int(w[0], 16)
    check(f"the guest's /proc/kallsyms lists {module}'s symbols", st == 0 and bool(kall),
          f"rc={st}, {len(kall)} of the catalog's symbols")
    # a symbol that names its own module ("vmlinux:x86_vmx_enable_virtualization_cpu")
    for q in [x for x in syms if x.startswith("vmlinux:")]:
        st, ks = t.run(f"grep ' [tT] {q.split(':', 1)[1]}$' /proc/kallsyms", timeout=300)
        w = ks.split()
        if st == 0 and len(w) >= 3 and w[2] == q.split(":", 1)[1]:
            kall[q] = int(w[0], 16)
    bad, absent = [], []
    for name, alts in sorted(ents.items()):
        e = got.get(name, {})
        have = [x for x in alts if x in kall]
        if e.get("status") == "resolved":
            if int(e.get("address", "0x0"), 16) != kall.get(e.get("symbol")):
                bad.append(f"{name}: {e.get('symbol')} {e.get('address')} vs kallsyms "
                           f"{hex(kall.get(e.get('symbol'), 0))}")
        elif e.get("status") == "absent" and not have:
            absent.append(name)
        elif e.get("status") == "not-applicable" and not have:
            # inlined: the caller the catalog names is in kallsyms, at the address the
            # reason gives; otherwise the entry's own added/removed range said so
            callers = [x for x in inl.get(name, []) if x in kall]
            why = e.get("reason", "")
            if why.startswith("inlined") and not (
                    callers and f"{module}:{callers[0]} is at {hex(kall[callers[0]])}" in why):
                bad.append(f"{name}: {why}, but kallsyms has none of {inl.get(name)} there")
            else:
                absent.append(name)
        else:
            bad.append(f"{name}: {e.get('status')} ({e.get('reason')}), kallsyms has {have}")
    print(f"catalog: {doc.get('resolved')} of {doc.get('applicable')} applicable entries "
          f"resolved; {V} entries absent from this kernel: {absent}", flush=True)
    check(f"kvmdci-catalog check: every {V} entry resolves at its kallsyms address, or is "
          "absent and so is every symbol it names", bool(got) and not bad,
          f"rc={rc} {bad} {err.strip()[-300:]}")
    check("kvmdci-catalog check: the exit status says whether every applicable entry resolved",
          (rc == 0) == (doc.get("resolved") == doc.get("applicable")) and bool(got),
          f"rc={rc} {doc.get('resolved')} of {doc.get('applicable')}")


def stack_in_handler(t, entry, module, func):
    """kvmdci-trace --stack on a CPU stopped at catalog entry @entry (the vendor's exit
    handler): its first frame is in @module with @func in its name, then kvm."""
    pid, _ = t.lab.run_bg("workload --vcpus 1 --seconds 0 --quiet")
    time.sleep(5)
    rc, out, err = run_tool("kvmdci-trace", ["--bp", entry, "--count", "1",
                                             "--stack", "--json", "--duration", "300"],
                            t.tool_env, timeout=400)
    hits = []
    for line in out.splitlines():
        try:
            h = json.loads(line)
        except ValueError:
            continue
        if h.get("type") == "hit":
            hits.append(h)
    frames = (hits[0].get("stack") or {}).get("frames", []) if hits else []
    names = [f.get("symbol") for f in frames]
    print("     stack: " + " <- ".join(str(n) for n in names), flush=True)
    mods = [f.get("module") for f in frames]
    check(f"kvmdci-trace --stack at {entry}: {module}!{func} first, then kvm",
          rc == 0 and bool(frames) and mods[0] == module and
          func in str(names[0]) and "kvm" in mods,
          f"rc={rc} {list(zip(mods, names))[:6]} {err.strip()[-300:]}")
    t.run(f"kill {pid}")
