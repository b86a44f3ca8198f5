"""What the documentation site needs from the code, checked without Sphinx.

The API reference (docs/conf.py) has a page for every name in
``logitloss.__all__`` and in the ``__all__`` of the public submodules, built
from its docstring, and the gallery a page for every script in examples/.
These tests fail when a public name lands without a numpydoc docstring
(summary, known sections, an Examples section with ``>>>`` lines; for a
class, its public methods too) or an example without the title line the
gallery needs, and when the README stops being a short landing page.
The build itself (``python -m sphinx -W``) validates more; CI runs both.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

import logitloss

ROOT = Path(__file__).resolve().parent.parent
SUBMODULES = ["logitloss.objectives", "logitloss.dask"]  # as docs/conf.py

SECTIONS = {
    "Parameters",
    "Returns",
    "Yields",
    "Receives",
    "Other Parameters",
    "Raises",
    "Warns",
    "Warnings",
    "See Also",
    "Notes",
    "References",
    "Examples",
    "Attributes",
    "Methods",
}  # numpydoc's section names
_HEADER = re.compile(r"^(\S[^\n]*)\n(-{3,})$", re.MULTILINE)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing = exc if isinstance(exc, ModuleNotFoundError) else exc.__cause__
        if isinstance(missing, ModuleNotFoundError) and missing.name:
            pytest.skip(f"{name} needs the optional package {missing.name!r}")
        raise


def _public(module: ModuleType) -> list[str]:
    return [n for n in module.__all__ if not (n.startswith("__") and n.endswith("__"))]


def _public_names() -> list[str]:
    """'module:name' for logitloss.__all__, and 'module:*' for each submodule
    (its names are listed inside the test, which may skip for want of Dask)."""
    return [f"logitloss:{n}" for n in _public(logitloss)] + [f"{m}:*" for m in SUBMODULES]


def problems(doc: str | None, what: str) -> list[str]:
    """What keeps `doc` from being a numpydoc docstring with examples."""
    if not doc or not doc.strip():
        return [f"{what} has no docstring"]
    found = []
    if not doc.strip().splitlines()[0].strip():
        found.append(f"{what}: the docstring has no summary line")
    headers = {m.group(1).strip(): m for m in _HEADER.finditer(doc)}
    for title, match in headers.items():
        if title not in SECTIONS:
            found.append(f"{what}: unknown section {title!r} (numpydoc knows {sorted(SECTIONS)})")
        elif len(match.group(2)) != len(title):
            found.append(f"{what}: the underline of {title!r} is not as long as the title")
    if "Examples" not in headers:
        found.append(f"{what}: no 'Examples' section (numpydoc: 'Examples' underlined with '-')")
    elif ">>> " not in doc[headers["Examples"].end() :]:
        found.append(f"{what}: the Examples section has no '>>>' lines")
    return found


def _methods(cls: type) -> dict[str, object]:
    """The public methods of `cls` (inherited ones included) and __call__."""
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if (not name.startswith("_") or name == "__call__")
        and getattr(member, "__module__", "").startswith("logitloss")
    }


@pytest.mark.parametrize("entry", _public_names())
def test_public_names_have_numpydoc_docstrings_with_examples(entry):
    module_name, name = entry.split(":")
    module = _import(module_name)
    names = _public(module) if name == "*" else [name]
    assert names, f"{module_name}.__all__ lists nothing"
    found = []
    for n in names:
        obj = getattr(module, n)
        found += problems(inspect.getdoc(obj), f"{module_name}.{n}")
        if inspect.isclass(obj):
            for method, member in _methods(obj).items():
                found += problems(inspect.getdoc(member), f"{module_name}.{n}.{method}")
    assert not found, "\n".join(found)


def test_the_docstring_check_catches_what_it_should():
    good = "Summary.\n\nParameters\n----------\nx : int\n    X.\n\nExamples\n--------\n>>> 1\n1\n"
    assert problems(good, "f") == []
    assert problems(None, "f") == ["f has no docstring"]
    assert any("no 'Examples'" in p for p in problems("Summary.\n", "f"))
    assert any(
        "unknown section 'Example'" in p
        for p in problems("Summary.\n\nExample\n-------\n>>> 1\n", "f")
    )
    assert any(
        "underline" in p
        for p in problems("Summary.\n\nReturns\n---\nint\n\nExamples\n--------\n>>> 1\n", "f")
    )
    assert any("no '>>>'" in p for p in problems("Summary.\n\nExamples\n--------\nf(1)\n", "f"))


EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.skipif(not EXAMPLES, reason="no examples/ next to the tests (installed tests only)")
@pytest.mark.parametrize("script", [p.name for p in EXAMPLES])
def test_examples_have_a_gallery_title(script):
    """sphinx-gallery heads each page with the script docstring's reST title."""
    doc = ast.get_docstring(ast.parse((ROOT / "examples" / script).read_text()), clean=True)
    lines = (doc or "").splitlines()
    assert len(lines) >= 2, f"examples/{script}: no docstring title line"
    assert lines[0].strip(), f"examples/{script}: the docstring starts with a blank line"
    underline = f"examples/{script}: underline the docstring's first line with '=' (as long as it)"
    assert set(lines[1]) == {"="}, underline
    assert len(lines[1]) >= len(lines[0]), underline


def test_readme_is_a_landing_page_with_the_two_commands():
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("no README.md next to the tests (installed tests only)")
    text = readme.read_text()
    assert len(text.splitlines()) <= 250, "README.md is for landing; the details go in docs/"
    section = text.split("## The two commands", 1)[-1].split("\n## ", 1)[0]
    assert "## The two commands" in text
    assert "pip install . && python -m logitloss" in section
    assert "pip install '.[test]' && python -m pytest" in section
    assert "python -m sphinx -W -b html docs docs/_build/html" in text
