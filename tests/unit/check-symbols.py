#!/usr/bin/env python3
"""Every symbol libkvmdci.so exports is in lib/libkvmdci.sym and has a doc comment in the
public header whose `Since: X.Y` names the version node LIBKVMDCI_X.Y that exports it, and
every symbol in the version script is exported (docs/conventions.md, "Exports and versions")."""
import re
import subprocess
import sys

src, so = sys.argv[1], sys.argv[2]
sym = open(f"{src}/lib/libkvmdci.sym").read()
listed = set(re.findall(r"^\s+(kvmdci_\w+);", sym, re.M))
node = {}  # symbol -> "X.Y" of the LIBKVMDCI_X.Y block that lists it
for block in re.finditer(r"LIBKVMDCI_(\d+\.\d+)\s*\{(.*?)\}", sym, re.S):
    for s in re.findall(r"^\s+(kvmdci_\w+);", block.group(2), re.M):
        node[s] = block.group(1)
nm = subprocess.run(["nm", "-D", "--defined-only", so], check=True, capture_output=True,
                    text=True).stdout
exported = {l.split()[-1].split("@")[0] for l in nm.splitlines() if " T " in l}
header = open(f"{src}/include/libkvmdci/libkvmdci.h").read()
bad = 0
for s in sorted(exported - listed):
    print(f"FAIL exported but not in libkvmdci.sym: {s}")
    bad += 1
for s in sorted(listed - exported):
    print(f"FAIL in libkvmdci.sym but not exported: {s}")
    bad += 1
for s in sorted(listed):
    # the declaration must follow a /** ... */ comment that names the function
    m = re.search(r"/\*\*((?:(?!\*/).)*?\b" + s + r"\b(?:(?!\*/).)*)\*/\s*[^;]*\b" + s + r"\(",
                  header, re.S)
    if not m:
        print(f"FAIL no doc comment in libkvmdci.h: {s}")
        bad += 1
        continue
    since = re.findall(r"^\s*\*\s*Since:\s*(\S+)\s*$", m.group(1), re.M)
    if since != [node.get(s)]:
        print(f"FAIL {s}: doc comment says Since: {', '.join(since) or '(none)'}, "
              f"but it is exported in LIBKVMDCI_{node.get(s)}")
        bad += 1
print(f"{len(listed) * 3 - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
