#!/usr/bin/env bash
# The README's test command, `pip install '.[test]' && python -m pytest`, in a
# fresh venv (no system site packages: NumPy and the test extras come from
# PyPI, and the optional packages -- torch, dask, xgboost, ... -- are absent,
# so their tests must skip cleanly) on one of the pyenv interpreters.
#
# Usage: .ci/fresh_venv.sh VERSION VENV
#   VERSION  a CPython minor version, e.g. 3.9: the newest
#            $(pyenv root)/versions/VERSION.* is used
#   VENV     the venv to create (must not exist; the caller removes it, and
#            may reuse it first: .ci/oldest_deps.sh)
set -euo pipefail
version=${1:?usage: fresh_venv.sh VERSION VENV}
venv=${2:?usage: fresh_venv.sh VERSION VENV}
cd "$(dirname "$0")/.."

root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
interp=$(ls -d "$root"/versions/"$version".* 2>/dev/null | grep -E "/$version\.[0-9]+$" | sort -V | tail -n 1 || true)
if [ -z "$interp" ] || [ ! -x "$interp/bin/python" ]; then
  echo "fresh_venv.sh: FAILED: no CPython $version under $root/versions" >&2
  exit 1
fi
[ ! -e "$venv" ] || { echo "fresh_venv.sh: FAILED: $venv exists" >&2; exit 1; }

"$interp/bin/python" -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
echo "$(python --version) at $interp"

# Exactly the README's command, from the repository root (in a subshell so
# that a failing `pip install` stops the script too: `set -e` ignores the
# left side of `&&`).
(pip install '.[test]' && python -m pytest)
python .ci/tested_with.py
