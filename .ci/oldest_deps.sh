#!/usr/bin/env bash
# The test suite against the oldest dependencies pyproject.toml declares:
# in a venv where the README's command has run (.ci/fresh_venv.sh), NumPy
# and the test extras are replaced by exactly the pinned versions, the
# environment is checked for consistency, and the suite runs again. The
# installed logitloss stays: its build does not involve NumPy (pybind11 finds
# NumPy at run time), so it is the wheel a fresh install would build.
#
# Usage: .ci/oldest_deps.sh VENV PINS
#   VENV  a venv made by .ci/fresh_venv.sh
#   PINS  requirements with exact pins (.ci/oldest_constraints.py writes them)
set -euo pipefail
venv=${1:?usage: oldest_deps.sh VENV PINS}
pins=$(realpath "${2:?usage: oldest_deps.sh VENV PINS}")
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
source "$venv/bin/activate"
echo "$(python --version), pinning:" $(cat "$pins")
pip install -r "$pins"
python -m pip check
python -m pytest
python .ci/tested_with.py "$pins"
