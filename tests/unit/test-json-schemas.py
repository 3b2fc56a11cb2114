#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The tools' JSON schemas (schemas/, kvmdci-json(7)) without a target.

    test-json-schemas.py SOURCE-ROOT TOOLS-DIR

Every schema is a valid draft 2020-12 schema and every tool of the build has one; the documents
a tool prints without a target (--version, an error, kvmdci-vmcs --field, kvmdci-catalog list)
match it, "format" first; KVMDCI_JSON_LOG holds exactly what the tools printed; and the
schemas reject the vocabulary this format replaced (pid for a VM's pid, addr, len,
base_address, an untyped trace record) and a document of another format, so that the lab
tests' check of every document (tests/lab/e2e.py) can fail. The documents of a live target
are checked by the lab tests.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

fails = 0


def check(what, ok, detail=""):
    global fails
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        fails += 1


def main():
    src, tools = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(src, "tests", "lab"))
    import json_schemas
    c = json_schemas.Checker()  # check_schema() of each: raises on an invalid schema
    check("every schema is a valid draft 2020-12 schema", True)
    cmds = sorted(f for f in os.listdir(tools) if f.startswith("kvmdci-") and
                  os.access(os.path.join(tools, f), os.X_OK) and
                  not os.path.isdir(os.path.join(tools, f)))
    missing = [t for t in cmds if t not in c.schemas]
    check(f"a schema for each of the {len(cmds)} tools", cmds and not missing, str(missing))
    ids = {s["$id"] for s in c.schemas.values()}
    check("each schema's $id is urn:libkvmdci:schema:1:NAME",
          ids == {json_schemas.URN + n for n in c.schemas}, str(sorted(ids)))

    log = os.path.join(tempfile.mkdtemp(prefix="kvmdci-json-schemas."), "log")
    env = dict(os.environ, KVMDCI_JSON_LOG=log)
    env.pop("KVMDCI_TARGET", None)
    runs = [[t, "--version", "--json"] for t in cmds if t != "kvmdci-lab"] + [
        ["kvmdci-iobus", "-t", "core:///nonexistent/dump", "--json"],
        ["kvmdci-exits", "-t", "core:///nonexistent/dump", "--json"],
        ["kvmdci-vmcs", "--field", "0x4402", "--json"],
        ["kvmdci-vmcs", "--field", "GUEST_RIP", "--json"],
        ["kvmdci-catalog", "list", "--json"],
    ]
    printed = []
    for argv in runs:
        r = subprocess.run([os.path.join(tools, argv[0])] + argv[1:], capture_output=True,
                           text=True, timeout=60, env=env)
        doc = json.loads(r.stdout) if r.stdout.strip() else None
        printed.append((argv[0], doc))
        errs = c.errors(argv[0], doc) if doc is not None else ["no JSON on stdout"]
        check(f"{' '.join(argv)}: matches {argv[0]}.schema.json", not errs,
              f"rc={r.returncode} {errs[:3]} {r.stderr.strip()[-200:]}")
    with open(log) as f:
        logged = [(t, json.loads(d)) for t, d in (l.rstrip("\n").split("\t", 1) for l in f)]
    check("KVMDCI_JSON_LOG: one line per document printed, the same documents",
          logged == printed, f"{len(logged)} logged, {len(printed)} printed")

    # what the schemas must reject
    def rejects(what, tool, doc):
        check(f"rejected: {what}", bool(c.errors(tool, doc)), json.dumps(doc)[:200])

    vm = {"vm": "0xffff9a0c81234000", "vm_pid": 111, "online_vcpus": 1, "buses": [
        {"name": "pio", "index": 1, "bus": "0xffff9a0c81235000", "dev_count": 1,
         "ioeventfd_count": 0, "ranges": [
             {"address": "0xfec00000", "length": 256, "kind": "ioapic",
              "dev": "0xffff9a0c81236000", "ops": "0xffffffffc05e6970",
              "ioapic": {"address": "0xfec00000"}}]}]}
    good = {"format": 1, "target": "core:///tmp/lab.elf", "vms": [vm]}
    check("accepted: an io-bus document in this vocabulary", not c.errors("kvmdci-iobus", good),
          str(c.errors("kvmdci-iobus", good)))
    for what, change in [
            ("a VM's pid as pid", lambda d: d["vms"][0].update(pid=d["vms"][0].pop("vm_pid"))),
            ("a range's addr", lambda d: d["vms"][0]["buses"][0]["ranges"][0].update(
                addr=d["vms"][0]["buses"][0]["ranges"][0].pop("address"))),
            ("a range's len", lambda d: d["vms"][0]["buses"][0]["ranges"][0].update(
                len=d["vms"][0]["buses"][0]["ranges"][0].pop("length"))),
            ("the IOAPIC's base_address", lambda d: d["vms"][0]["buses"][0]["ranges"][0].update(
                base_address="0xfec00000")),
            ("an address as a number", lambda d: d["vms"][0].update(vm=18446637305432621056)),
            ("an address in upper case", lambda d: d["vms"][0].update(vm="0xFFFF9A0C81234000")),
            ("format 2", lambda d: d.update(format=2)),
            ("no format", lambda d: d.pop("format")),
            ("format not first", lambda d: d.update(format=d.pop("format")))]:
        bad = copy.deepcopy(good)
        change(bad)
        rejects(what, "kvmdci-iobus", bad)
    hit = {"format": 1, "type": "hit", "seq": 1, "entry": "kvm_io_bus_write", "cpu": 0,
           "address": "0xffffffffc056eed0", "captures": {"addr": 1016, "len": 1}}
    check("accepted: a trace hit (captures keep the catalog's names)",
          not c.errors("kvmdci-trace", hit), str(c.errors("kvmdci-trace", hit)))
    untyped = {k: v for k, v in hit.items() if k != "type"}
    rejects("a trace hit without its type", "kvmdci-trace", untyped)
    rejects("a trace summary as \"summary\": true", "kvmdci-trace",
            {"format": 1, "summary": True, "duration_s": 1.0, "reported": 0,
             "target_reads": 0, "entries": [], "held": None})
    cat = next(d for t, d in printed if t == "kvmdci-catalog" and "entries" in (d or {}))
    bad = copy.deepcopy(cat)
    del bad["entries"][0]["symbols"]
    rejects("a catalog entry without symbols (the catalog's own schema)", "kvmdci-catalog", bad)
    rejects("the catalog list as a bare array", "kvmdci-catalog", cat["entries"])
    print(f"{'FAILED' if fails else 'passed'}: {fails} failure(s)")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
