#!/usr/bin/env python3
"""No file of the repository points outside it: the design, the conventions and the researched
facts live in docs/ (docs/conventions.md, "Files and comments"). Fails on any mention of a
shared notes directory or of the notes files that docs/ replaced."""
import os
import re
import sys

src = sys.argv[1]
# the places an outside pointer took before docs/ existed
bad = re.compile(r"\.\./shared/|/work/|\b(?:DESIGN|STYLE)\.md\b|reference/[\w-]+\.md|"
                 r"\b(?:kvm-internals|bochs-vmx)\.md\b")
# outside docs/, a docs file is named with its directory (a bare "lab-facts.md" was the old
# outside notes file)
bare = re.compile(r"(?<![\w/-])(?:lab-facts|transports|kernel-facts)\.md\b")
top = ["lib", "include", "tools", "tests", "lab", "catalog", "man", "bench", "scripts", "fuzz",
       "docs", "meson.build", "meson_options.txt", "README.md", ".clang-format", "build-dev.ini"]
me = os.path.abspath(__file__)
found = 0
for t in top:
    p = os.path.join(src, t)
    files = [p] if os.path.isfile(p) else [os.path.join(d, f) for d, _, fs in os.walk(p) for f in fs]
    for f in sorted(files):
        if os.path.abspath(f) == me:
            continue
        try:
            text = open(f, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue  # binary test data
        for n, line in enumerate(text.splitlines(), 1):
            in_docs = os.path.relpath(f, src).startswith("docs" + os.sep)
            if bad.search(line) or (not in_docs and bare.search(line)):
                print(f"FAIL {os.path.relpath(f, src)}:{n}: points outside the repository: "
                      f"{line.strip()[:100]}")
                found += 1
print(f"{found} outside pointers")
sys.exit(1 if found else 0)
