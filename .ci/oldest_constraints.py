"""Prints requirements pinning NumPy and the test extras to the lowest
versions pyproject.toml declares (`>=X` becomes `==X`), for CI's
oldest-dependencies run (.ci/oldest_deps.sh): the declared minimums are what
gets tested, so they cannot drift from what is claimed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
requirements = project["dependencies"] + project["optional-dependencies"]["test"]
for requirement in requirements:
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9][0-9.]*)", requirement.replace(" ", ""))
    if match is None:
        sys.exit(f"oldest_constraints.py: cannot pin {requirement!r}: expected 'name>=version'")
    print(f"{match[1]}=={match[2]}")
