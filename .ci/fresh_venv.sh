#!/usr/bin/env bash
# The README's test command, `pip install '.[test]' && python -m pytest`, in a
# fresh venv (no system site packages: NumPy and the test extras come from
# PyPI, and the optional packages -- torch, dask, xgboost, ... -- are absent,
# so their tests must skip cleanly) on one of the pyenv interpreters.
#
# Usage: .ci/fresh_venv.sh VERSION [CONSTRAINTS]
#   VERSION      a CPython minor version, e.g. 3.9: the newest
#                $(pyenv root)/versions/VERSION.* is used
#   CONSTRAINTS  optional pip constraints file (.ci/oldest_constraints.py
#                writes one): the same command with the packages it lists
#                pinned exactly
set -euo pipefail
version=${1:?usage: fresh_venv.sh VERSION [CONSTRAINTS]}
constraints=${2:+$(realpath "$2")}
cd "$(dirname "$0")/.."

root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
interp=$(ls -d "$root"/versions/"$version".* 2>/dev/null | grep -E "/$version\.[0-9]+$" | sort -V | tail -n 1 || true)
if [ -z "$interp" ] || [ ! -x "$interp/bin/python" ]; then
  echo "fresh_venv.sh: FAILED: no CPython $version under $root/versions" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/logitloss-py$version.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$interp/bin/python" -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
if [ -n "$constraints" ]; then
  export PIP_CONSTRAINT="$constraints"
fi
echo "$(python --version) at $interp${constraints:+, constraints $constraints}"

# Exactly the README's command, from the repository root (in a subshell so
# that a failing `pip install` stops the script too: `set -e` ignores the
# left side of `&&`).
(pip install '.[test]' && python -m pytest)

python - <<'PY'
import importlib.metadata as md
names = ["numpy", "scipy", "pytest", "hypothesis", "mpmath", "ml_dtypes"]
print("tested with", ", ".join(f"{n} {md.version(n)}" for n in names))
PY
