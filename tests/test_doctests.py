"""Runs the examples in the docstrings of every public module of the
installed package (tests/test_docstrings.py requires an Examples section on
every public name).

Public modules are found with pkgutil over the installed package (names with a
leading underscore are private); a module that cannot be imported for want of
an optional third-party package is skipped with that reason.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import io
import pkgutil
import re
from types import ModuleType

import numpy as np
import pytest

import logitloss

FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


class ScalarReprChecker(doctest.OutputChecker):
    """The examples show NumPy 2's scalar repr, ``np.float64(1.0)``,
    ``np.complex128(1+2j)``; NumPy 1 prints the same scalars as ``1.0`` and
    ``(1+2j)``, which this checker accepts there."""

    _SCALAR = re.compile(r"np\.(?:float|int|uint)\d+\(([^()]*)\)")
    _COMPLEX = re.compile(r"np\.complex\d+\(([^()]*)\)")

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if np.lib.NumpyVersion(np.__version__) < "2.0.0":
            want = self._COMPLEX.sub(r"(\1)", self._SCALAR.sub(r"\1", want))
        return super().check_output(want, got, optionflags)


def _public_modules() -> list[str]:
    found = [
        info.name
        for info in pkgutil.walk_packages(logitloss.__path__, prefix="logitloss.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    return sorted(found)


PUBLIC_MODULES = _public_modules()


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        # A missing optional package, raised directly or wrapped in the
        # module's own ImportError (logitloss.dask names its extra).
        missing = exc if isinstance(exc, ModuleNotFoundError) else exc.__cause__
        optional = isinstance(missing, ModuleNotFoundError) and missing.name
        if optional and not missing.name.startswith("logitloss"):
            pytest.skip(f"{name} needs the optional package {missing.name!r}")
        raise


def test_public_modules_are_found():
    # The log-sum-exp family and the runtime exist on every branch.
    assert {"logitloss.logsumexp", "logitloss.runtime"} <= set(PUBLIC_MODULES)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_module_doctests(name):
    module = _import(name)
    tests = doctest.DocTestFinder().find(module, name)
    runner = doctest.DocTestRunner(checker=ScalarReprChecker(), optionflags=FLAGS)
    report = io.StringIO()
    for test in tests:
        runner.run(test, out=report.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, (
        f"{name}: {result.failed} doctest example(s) failed\n{report.getvalue()}"
    )
    if any(_is_public_function(obj, name) for obj in vars(module).values()):
        assert result.attempted > 0, f"{name} has public functions but no doctest examples"


def _is_public_function(obj: object, module: str) -> bool:
    return (
        inspect.isfunction(obj)
        and obj.__module__ == module
        and not obj.__name__.startswith("_")
    )
