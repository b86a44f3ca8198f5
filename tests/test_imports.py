"""`import logitloss` imports NumPy and the extension, nothing optional; the
submodules logitloss.objectives and logitloss.dask are attributes of the
package, imported on first use (PEP 562). Each check runs in a fresh
interpreter, where nothing else has imported those packages yet."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

OPTIONAL = ["dask", "distributed", "xgboost", "lightgbm", "torch", "jax", "scipy", "sklearn",
            "zarr"]

PROBE = """
import json, sys
optional = {optional!r}
import logitloss as ll
report = {{"after import": [m for m in optional + ["logitloss.objectives", "logitloss.dask"]
                            if m in sys.modules]}}
report["dir"] = [n for n in ("objectives", "dask") if n in dir(ll)]
namespace = {{}}
exec("from logitloss import *", namespace)
report["star import"] = [m for m in optional if m in sys.modules]
report["objectives.softmax"] = [a.tolist() for a in
                                ll.objectives.softmax([[0.0, 0.0]], [1], hessian="exact")]
report["objectives is the module"] = ll.objectives is sys.modules["logitloss.objectives"]
report["after objectives"] = [m for m in optional if m in sys.modules]
try:
    report["dask"] = ll.dask.__name__, callable(ll.dask.softmax)
except ImportError as exc:
    report["dask"] = str(exc)
report["hasattr nope"] = hasattr(ll, "nope")
try:
    ll.nope
except AttributeError as exc:
    report["nope"] = str(exc)
print(json.dumps(report))
"""


def _probe() -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(optional=OPTIONAL)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_logitloss_loads_no_optional_package_and_submodules_lazily():
    report = _probe()
    assert report["after import"] == []
    assert report["dir"] == ["objectives", "dask"]
    assert report["star import"] == []  # the submodules are not in __all__
    assert report["objectives.softmax"] == [[[0.5, -0.5]], [[0.25, 0.25]]]
    assert report["objectives is the module"]
    assert report["after objectives"] == []  # no boosting library, no Dask
    if importlib.util.find_spec("dask") is not None:
        assert report["dask"] == ["logitloss.dask", True]
    else:  # the module's own ImportError, naming the extra
        assert "pip install 'logitloss[dask]'" in report["dask"]
    assert report["hasattr nope"] is False
    assert report["nope"] == "module 'logitloss' has no attribute 'nope'"
