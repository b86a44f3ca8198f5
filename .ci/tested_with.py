"""Prints the versions the test suite ran with; given a pins file (name==X
lines), fails unless each pinned package is installed at exactly X."""

from __future__ import annotations

import importlib.metadata as md
import sys

from packaging.version import Version

names = ["numpy", "scipy", "pytest", "hypothesis", "mpmath", "ml_dtypes"]
print("tested with", ", ".join(f"{n} {md.version(n)}" for n in names))
for line in open(sys.argv[1]).read().split() if len(sys.argv) > 1 else []:
    name, want = line.split("==")
    if Version(md.version(name)) != Version(want):
        sys.exit(f"tested_with.py: {name} {md.version(name)} is installed, not {want}")
