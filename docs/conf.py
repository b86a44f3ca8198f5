"""Sphinx configuration of the logitloss documentation site.

Build it (warnings are errors; this is what CI runs):

    pip install '.[docs]' && python -m sphinx -W -b html docs docs/_build/html

The API reference is generated from the installed package: ``conf.py`` lists
every name in ``logitloss.__all__`` and in the ``__all__`` of the public
submodules (``SUBMODULES``), grouped by the module that defines it, and
autosummary writes one page per function and class. A function added to an
``__all__`` appears without editing anything here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import logitloss

DOCS = Path(__file__).resolve().parent

project = "logitloss"
author = "the logitloss developers"
copyright = "the logitloss developers"
release = logitloss.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

# Prose pages are MyST Markdown (moved from the Markdown README with their
# tables intact); the API index is reST, where autosummary lives.
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "api/_listing.rst", "sg_execution_times.rst"]
templates_path = ["_templates"]
myst_heading_anchors = 3
# Options such as --out and quotes in code-like prose stay as typed.
smartquotes = False
suppress_warnings = ["config.cache"]  # sphinx-gallery's conf holds callables

# --------------------------------------------------------------- the theme

html_theme = "pydata_sphinx_theme"
html_title = f"logitloss {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 7,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# Pages without subpages get no (empty) section navigation.
html_sidebars = {
    page: [] for page in ["index", "getting_started", "integrations", "benchmark", "development"]
}

# ------------------------------------------------- autodoc, autosummary, numpydoc

autosummary_generate = ["api/_listing.rst"]
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc's Parameters sections give the types

# The class pages list their methods themselves (_templates/autosummary/
# class.rst); numpydoc's own member table would repeat them as stubs.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False
numpydoc_xref_param_type = False
# Validated on every documented object (-W makes a finding an error). The
# checks catch documentation that is wrong or renders wrong: no docstring,
# no summary, an Examples section missing, a section misspelt or out of
# order, a documented parameter that does not exist or is out of order, a
# parameter line without a space before its colon (it renders as a name), a
# reST directive without its double colon. Not checked: completeness of the
# Parameters/Returns sections (the *_grad and *_value_and_grad variants
# document only what they add and point to the main function), and style
# (verb mood, summary length, capitalisation, trailing periods, See Also).
numpydoc_validation_checks = {
    "GL06",
    "GL07",
    "GL08",
    "GL10",
    "SS01",
    "PR02",
    "PR03",
    "PR10",
    "RT03",
    "EX01",
}


# The public surface: the package and the submodules that keep their own
# namespace (documented as logitloss.objectives.softmax, logitloss.dask.*).
SUBMODULES = ["logitloss.objectives", "logitloss.dask"]


def _public_names(module: ModuleType) -> list[str]:
    """The documented names of `module`: its __all__ less dunders (__version__)."""
    return [n for n in module.__all__ if not (n.startswith("__") and n.endswith("__"))]


# Section titles of the API index; a module not named here is headed by the
# first sentence of its docstring (the docstring itself follows the title).
TITLES = {
    "logitloss.logsumexp": "Log-sum-exp, softmax, log-softmax",
    "logitloss.cross_entropy": "Cross-entropy and NLL",
    "logitloss.cross_entropy_variants": "Poly-1 cross-entropy and softmax focal loss",
    "logitloss.binary": "Binary cross-entropy (logits and probabilities), focal loss",
    "logitloss.kl_div": "KL divergence",
    "logitloss.divergences": "Divergences of logits (distillation)",
    "logitloss.losses": "Loss objects (torch.nn style)",
    "logitloss.runtime": "Threads and build information",
    "logitloss.objectives": "Gradient-boosting objectives: logitloss.objectives",
    "logitloss.dask": "Dask arrays: logitloss.dask",
}


def _heading(module: ModuleType) -> str:
    if module.__name__ in TITLES:
        return TITLES[module.__name__]
    paragraph = (inspect.getdoc(module) or module.__name__).strip().split("\n\n")[0]
    return " ".join(paragraph.split()).split(". ")[0].rstrip(".:")


def _section(title: str, module: str, prefix: str, names: list[str], index: bool) -> str:
    """A heading, the module's docstring and an autosummary table of `names`.
    The defining modules of logitloss.__all__ are not indexed as modules:
    logitloss.cross_entropy is the function's name, not the module's."""
    entries = "\n".join(f"   {prefix}{n}" for n in names)
    options = "   :no-members:\n" + ("" if index else "   :no-index:\n")
    return (
        f"{title}\n{'-' * len(title)}\n\n"
        f".. automodule:: {module}\n{options}\n"
        ".. currentmodule:: logitloss\n\n"
        f".. autosummary::\n   :toctree: generated\n   :nosignatures:\n\n{entries}\n\n"
    )


def write_api_listing() -> None:
    """api/_listing.rst (included by api/index.rst): one autosummary table per
    defining module of logitloss.__all__, then one per submodule."""
    groups: dict[str, list[str]] = {}
    for name in _public_names(logitloss):
        defined_in = getattr(getattr(logitloss, name), "__module__", "logitloss")
        groups.setdefault(defined_in, []).append(name)
    sections = []
    for module_name, names in groups.items():
        module = importlib.import_module(module_name)
        sections.append(_section(_heading(module), module_name, "", names, index=False))
    for module_name in SUBMODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise RuntimeError(
                f"the API reference documents {module_name}, which needs its extra: "
                f"pip install '.[docs]' ({exc})"
            ) from exc
        short = module_name.split(".", 1)[1]
        sections.append(
            _section(_heading(module), module_name, f"{short}.", _public_names(module), index=True)
        )
    text = "".join(sections)
    # Autosummary writes the pages anew (api/generated/ holds nothing else);
    # a page of a name no longer public would stay behind otherwise.
    shutil.rmtree(DOCS / "api" / "generated", ignore_errors=True)
    listing = DOCS / "api" / "_listing.rst"
    if not listing.is_file() or listing.read_text() != text:
        listing.write_text(text)


write_api_listing()


# ------------------------------------------------------------ sphinx-gallery


class _RunAsScript:
    """Runs each gallery example as `python examples/x.py` would, for scripts
    written as command-line programs (tests/test_examples.py runs them so):

    * ``__doc__`` is the script's docstring (sphinx-gallery sets it to '',
      which breaks ``argparse.ArgumentParser(description=__doc__...)``);
    * ``raise SystemExit(main())`` / ``sys.exit(main())`` with status 0 ends
      the script normally (a SystemExit would otherwise end the whole Sphinx
      run); a non-zero status is reported as the example's failure;
    * figures the script saves and closes stay open until the image scraper
      has copied them onto the page.

    This wraps sphinx-gallery's private ``gen_rst._exec_once``; the version
    range in pyproject.toml's [docs] extra is the one it was written for.
    """

    def __init__(self, exec_once: Any) -> None:
        self.exec_once = exec_once

    def __call__(self) -> None:
        import matplotlib.pyplot as plt

        once = self.exec_once
        namespace = once.fake_main.__dict__
        source = Path(once.code.co_filename)
        if source.is_file() and not namespace.get("__doc__"):
            namespace["__doc__"] = ast.get_docstring(ast.parse(source.read_text()), clean=False)
        close = plt.close
        plt.close = lambda *args, **kwargs: None
        try:
            once()
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise RuntimeError(f"{source.name} exited with status {exc.code!r}") from None
        finally:
            plt.close = close


def _install_script_runner() -> None:
    from sphinx_gallery import gen_rst

    original = gen_rst._exec_once
    if getattr(original, "_logitloss_wrapped", False):
        return

    def exec_once(code: Any, fake_main: ModuleType) -> _RunAsScript:
        return _RunAsScript(original(code, fake_main))

    exec_once._logitloss_wrapped = True  # type: ignore[attr-defined]
    gen_rst._exec_once = exec_once


_install_script_runner()


def _drop_stale_gallery_pages() -> None:
    """sphinx-gallery keeps the generated files of a script that is gone
    (renamed or removed), whose page would then be in no toctree."""
    gallery = DOCS / "auto_examples"
    scripts = {p.stem for p in (DOCS.parent / "examples").glob("*.py")}
    for generated in gallery.glob("*.*"):
        stem = generated.name.split(".", 1)[0]
        if generated.is_file() and stem not in scripts | {"index", "sg_execution_times"}:
            generated.unlink()


_drop_stale_gallery_pages()

# tqdm's progress bar, redrawn with carriage returns, would fill a page's
# captured output with one line per redraw (tqdm reads TQDM_* defaults).
os.environ["TQDM_DISABLE"] = "1"

# Every example is executed: all of them finish in a few seconds each (about
# 15 s together on the 2-core development machine). To show an example
# without running it (a slow one, or one needing a service), add its file
# name to NOT_EXECUTED: its page then has the code and no output.
NOT_EXECUTED: list[str] = []

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": (
        r"/(?!(" + "|".join(n.replace(".", r"\.") for n in NOT_EXECUTED) + r")$)[^/]+\.py$"
        if NOT_EXECUTED
        else r"\.py$"
    ),
    "ignore_pattern": r"__init__\.py$",
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "capture_repr": (),
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 0,
    "abort_on_example_error": True,
}
