#!/usr/bin/env bash
# Builds logitloss with AddressSanitizer + UndefinedBehaviorSanitizer into a
# throw-away venv and runs the test suite under it; any report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
[ -n "${SANITIZE_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

python -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install -q scikit-build-core pybind11
# Kernels this CPU cannot run are not worth sanitizing (nor compiling).
avx512=ON
grep -qw avx512f /proc/cpuinfo 2>/dev/null || avx512=OFF
"$work/venv/bin/pip" install -q --no-build-isolation \
  -C cmake.define.LOGITLOSS_SANITIZE=ON -C cmake.define.LOGITLOSS_AVX512=$avx512 \
  -C build-dir="$work/build" .

asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
# CPython's own allocations look like leaks at exit: leak checking is off.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The sanitized build is slow: skip the subprocess and timing-heavy tests
# (the pool-resize stress test runs 300 large calls in a subprocess), the
# > 2**31-element tests (3 minutes here; the plain run has them), the memory
# accounting tests (ASan's quarantine holds freed memory by design), and the
# tests that run examples, doctests, mypy or the Python-only integrations
# (dask graphs, boosting libraries) rather than new kernel paths; the fuzz
# tests run 400 examples per family instead of 1500.
cd "$work"
# -s: a sanitizer report goes to stderr and exits at once; with pytest's
# output capture it would vanish.
LOGITLOSS_FUZZ_EXAMPLES=400 LD_PRELOAD="$asan $ubsan" "$work/venv/bin/python" -m pytest -q -s -p no:cacheprovider \
  -o addopts="" "$OLDPWD/tests" \
  --ignore="$OLDPWD/tests/test_large.py" --ignore="$OLDPWD/tests/test_memory.py" \
  --ignore="$OLDPWD/tests/test_examples.py" --ignore="$OLDPWD/tests/test_doctests.py" \
  --ignore="$OLDPWD/tests/test_stub.py" --ignore="$OLDPWD/tests/test_dask.py" \
  -k "not test_main_command and not environment and not resizing_the_pool and not example \
       and not xgboost and not lightgbm" "$@"
