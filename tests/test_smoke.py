"""The command-line self-check runs and passes on the installed build."""

import subprocess
import sys


def test_main_command_passes_its_self_check():
    proc = subprocess.run(
        [sys.executable, "-m", "logitloss"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-check passed" in proc.stdout
    assert "simd:" in proc.stdout
