#!/usr/bin/env python3
"""lab-nested: a nested guest on the qemu engine (AMD SVM): vmcb12 as kvmdci-vmcs shows it,
against what the workload's L1 wrote (the checks: tests/lab/nested_checks.py). The Intel
variant runs inside lab-vmx's boot (test-vmx.py); `test-nested.py bochs` runs it alone."""
import sys

from e2e import TestLab, finish
from nested_checks import run_nested


def main():
    engine = sys.argv[1] if len(sys.argv) > 1 else None  # "bochs": the VMX engine
    with (TestLab(engine=engine) if engine else TestLab()) as t:
        run_nested(t)
    finish()


if __name__ == "__main__":
    main()
