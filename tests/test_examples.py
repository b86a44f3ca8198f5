"""Runs every script in examples/ in a subprocess, as a user would.

An example whose extra dependency (``pip install "logitloss[examples]"``,
or torch) or whose logitloss function is missing is skipped with the reason,
never counted as passing.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import logitloss

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# script -> (third-party modules, logitloss names, extra arguments, output that must appear)
CASES = {
    "train_digits.py": (
        ["sklearn", "matplotlib", "tqdm"],
        ["cross_entropy_value_and_grad"],
        ["--out", "{tmp}"],
        "test accuracy:",
    ),
    "multilabel_bce.py": (
        ["sklearn"],
        ["binary_cross_entropy_with_logits_value_and_grad"],
        [],
        "macro F1",
    ),
    "next_token_linear.py": (
        [],
        ["linear_cross_entropy_value_and_grad"],
        ["--tokens", "300000", "--vocab", "5000", "--steps", "20", "--batch", "1024"],
        "perplexity fell from",
    ),
    "torch_parity.py": (
        ["torch"],
        ["CrossEntropyLoss", "BCEWithLogitsLoss"],
        [],
        "examples match torch",
    ),
}

# Examples whose own test module runs them.
TESTED_ELSEWHERE = {
    "boosting_objectives.py": "tests/test_objectives.py",
    "dask_zarr_eval.py": "tests/test_dask.py",
}


def test_every_example_is_run():
    if not EXAMPLES.is_dir():
        pytest.skip(f"no examples/ next to {Path(__file__).parent} (installed tests only)")
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    untested = scripts - set(CASES) - set(TESTED_ELSEWHERE)
    assert not untested, f"examples without a test: {sorted(untested)}"
    assert set(CASES) <= scripts


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs(script, tmp_path):
    modules, names, extra_args, expected = CASES[script]
    path = EXAMPLES / script
    if not path.is_file():
        pytest.skip(f"{path} is not here (tests run without the source tree)")
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{script} needs {', '.join(missing)} (pip install 'logitloss[examples]')")
    absent = [n for n in names if not hasattr(logitloss, n)]
    if absent:
        pytest.skip(f"{script} needs logitloss.{', logitloss.'.join(absent)}, not in this build")
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra_args]
    proc = subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{output}"
    assert expected in proc.stdout, output
    if script == "train_digits.py":
        png = tmp_path / "digits_loss_curve.png"
        assert png.is_file()
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
