#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The bash completion (completion/kvmdci) against the tools of a build tree.

    test-completion.py SOURCE-ROOT TOOLS-DIR

Each case sets COMP_WORDS/COMP_CWORD as bash does for a <TAB> and calls the completion
function. What it must offer comes from elsewhere than the completion: the catalog entry names
from the catalog files themselves (catalog/*.json), the tools' options from the option tables
(a name the tool accepts), kvmdci-lab's commands from its argparse parser, the fixed value sets
(--trigger, --engine) from the tools' documented choices.
"""
import glob
import json
import os
import subprocess
import sys

fails = 0


def check(what, ok, detail=""):
    global fails
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        fails += 1


def complete(src, tools, words):
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
              '_kvmdci; printf "%s\\n" "${COMPREPLY[@]}"')
    env = dict(os.environ, PATH=tools + os.pathsep + os.environ.get("PATH", ""))
    r = subprocess.run(["bash", "-c", script, "bash", os.path.join(src, "completion", "kvmdci")]
                       + words, capture_output=True, text=True, timeout=60, env=env)
    return [l for l in r.stdout.splitlines() if l], r.stderr


def main():
    src, tools = sys.argv[1], sys.argv[2]
    names = set()
    for f in glob.glob(os.path.join(src, "catalog", "*.json")):
        if f.endswith("schema.json"):
            continue
        names |= {e["name"] for e in json.load(open(f))["entries"]}

    got, err = complete(src, tools, ["kvmdci-trace", "--bp", "kvm_io"])
    want = sorted(n for n in names if n.startswith("kvm_io"))
    check("kvmdci-trace --bp kvm_io<TAB>: the catalog's kvm_io* entries", sorted(got) == want,
          f"{got} vs {want} {err}")
    got, err = complete(src, tools, ["kvmdci-trace", "--bp", "svm_handle_exit,kvm_arch_vcpu_c"])
    want = sorted("svm_handle_exit," + n for n in names if n.startswith("kvm_arch_vcpu_c"))
    check("--bp A,B<TAB> completes the name after the comma", sorted(got) == want,
          f"{got} vs {want}")
    got, err = complete(src, tools, ["kvmdci-catalog", "show", ""])
    check("kvmdci-catalog show <TAB>: every entry", sorted(got) == sorted(names),
          f"{len(got)} vs {len(names)}")

    # options: each offered option is one the tool takes (it does not answer "unrecognized")
    for tool, prefix, must in (("kvmdci-trace", "--", ["--bp", "--count", "--folded", "--hold"]),
                               ("kvmdci-exits", "--tr", ["--trigger"]),
                               ("kvmdci-stack", "--c", ["--cpu", "--catalog"])):
        got, err = complete(src, tools, [tool, prefix])
        bad = []
        for o in got:
            r = subprocess.run([os.path.join(tools, tool), o, "--help"], capture_output=True,
                               text=True, timeout=30)
            if "unrecognized option" in r.stderr or "invalid option" in r.stderr:
                bad.append(o)
        check(f"{tool} {prefix}<TAB>: {must} offered, every offer an option of the tool",
              all(m in got for m in must) and not bad and all(o.startswith(prefix) for o in got),
              f"{got}, refused {bad} {err}")

    lab = os.path.join(tools, "kvmdci-lab")
    # argparse's own list of commands: what it says when given one it does not know
    r = subprocess.run([sys.executable, "-c", "import sys, runpy; sys.argv = [sys.argv[1], "
                        "'no-such-command']; runpy.run_path(sys.argv[0], run_name='__main__')",
                        lab], capture_output=True, text=True, timeout=30)
    choices = set()
    if "choose from" in r.stderr:
        choices = {c.strip(" '") for c in
                   r.stderr.split("choose from", 1)[1].strip().rstrip(")").split(",")}
    got, err = complete(src, tools, ["kvmdci-lab", ""])
    check("kvmdci-lab <TAB>: its commands", choices and set(got) == choices,
          f"{sorted(got)} vs {sorted(choices)}")
    got, err = complete(src, tools, ["kvmdci-lab", "start", "--t"])
    check("kvmdci-lab start --t<TAB>: start's own options", sorted(got) == ["--timeout", "--tool"],
          f"{got}")
    got, err = complete(src, tools, ["kvmdci-lab", "start", "--engine", ""])
    check("--engine <TAB>: qemu, bochs", sorted(got) == ["bochs", "qemu"], f"{got}")
    got, err = complete(src, tools, ["kvmdci-exits", "--trigger", ""])
    check("--trigger <TAB>: auto, watch, break", sorted(got) == ["auto", "break", "watch"],
          f"{got}")
    r = subprocess.run(["bash", "-c", 'source "$1"; complete -p | grep -c "_kvmdci "', "bash",
                        os.path.join(src, "completion", "kvmdci")], capture_output=True,
                       text=True, timeout=30)
    tools_built = sorted(os.path.basename(p) for p in glob.glob(os.path.join(tools, "kvmdci-*"))
                         if os.access(p, os.X_OK) and not os.path.isdir(p))
    check("every tool of the build has the completion", r.stdout.strip() == str(len(tools_built)),
          f"{r.stdout.strip()} registered, {len(tools_built)} tools: {tools_built}")
    print(f"{fails} failure(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
