#!/usr/bin/env python3
"""kvmdci-catalog list: one column each for name, vendor, module, hit, in line on every row
(the vendor column starts at the same place on each row, whatever the longest name is).
Usage: check-catalog-list.py KVMDCI_CATALOG_TOOL CATALOG_DIR"""
import json
import os
import re
import subprocess
import sys

tool, catdir = sys.argv[1:3]
r = subprocess.run([tool, "list", "--catalog", catdir], capture_output=True, text=True)
rows = r.stdout.splitlines()
names = [e["name"] for f in sorted(os.listdir(catdir)) if f.endswith(".json") and
         "schema" not in f for e in json.load(open(os.path.join(catdir, f)))["entries"]]
cols = {m.start() for l in rows for m in [re.search(r" (any|svm|vmx) ", l)] if m}
ok = r.returncode == 0 and len(rows) == len(names) and len(cols) == 1 and \
    cols == {max(len(n) for n in names)}
print(f"{len(rows)} rows for {len(names)} entries, vendor column at {sorted(cols)}, "
      f"longest name {max(len(n) for n in names)}")
sys.exit(0 if ok else 1)
