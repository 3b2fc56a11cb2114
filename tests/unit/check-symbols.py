#!/usr/bin/env python3
"""Every symbol libkvmdci.so exports is in lib/libkvmdci.sym and has a doc comment in the
public header, and every symbol in the version script is exported."""
import re
import subprocess
import sys

src, so = sys.argv[1], sys.argv[2]
listed = set(re.findall(r"^\s+(kvmdci_\w+);", open(f"{src}/lib/libkvmdci.sym").read(), re.M))
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
    m = re.search(r"/\*\*(?:(?!\*/).)*?\b" + s + r"\b(?:(?!\*/).)*\*/\s*[^;]*\b" + s + r"\(",
                  header, re.S)
    if not m:
        print(f"FAIL no doc comment in libkvmdci.h: {s}")
        bad += 1
print(f"{len(listed) * 2 - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
