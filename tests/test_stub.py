"""The hand-written stub of the compiled module (logitloss/_core.pyi) must
name exactly what csrc/bindings.cpp exposes: mypy's stubtest compares them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_core_stub_matches_the_extension(tmp_path):
    pytest.importorskip("mypy.stubtest", reason="stubtest comes with mypy (pip install mypy)")
    command = ["-m", "mypy.stubtest", "logitloss._core", "--mypy-config-file", os.devnull]
    proc = subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # the installed package, not a source tree's config
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
