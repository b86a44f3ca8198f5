"""Every SIMD level this machine runs agrees with the baseline build, and the
level can be reported, chosen by LOGITLOSS_SIMD and switched."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import logitloss as ll
from logitloss import _core

LEVELS = list(_core.simd_levels_supported())


def run_at(level, fn):
    before = _core.simd_level()
    assert _core.set_simd_level(level)
    try:
        return fn()
    finally:
        _core.set_simd_level(before)


def cases(rng):
    x = rng.standard_normal((13, 37, 21)) * 8
    x[0, 5, 3] = np.inf
    x[1, :, 2] = -np.inf
    x[2, 7, 4] = np.nan
    for dtype in (np.float32, np.float64):
        xs = x.astype(dtype)
        for axis in (0, 1, 2, (0, 2)):
            g = rng.standard_normal(x.shape).astype(dtype)
            yield f"{dtype.__name__}-axis{axis}", lambda xs=xs, axis=axis, g=g: [
                ll.logsumexp(xs, axis=axis),
                ll.softmax(xs, axis=axis),
                ll.log_softmax(xs, axis=axis),
                ll.logsumexp_grad(xs, axis=axis),
                ll.softmax_grad(xs, g, axis=axis),
                ll.log_softmax_grad(xs, g, axis=axis),
            ]
        yield f"{dtype.__name__}-strided", lambda xs=xs: [ll.softmax(xs[:, ::-3, ::2], axis=1)]


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_agrees_with_baseline(level):
    rng = np.random.default_rng(7)
    for name, fn in cases(rng):
        want = run_at("baseline", fn)
        got = run_at(level, fn)
        for g, w in zip(got, want):
            # Same algorithm; only FMA contraction and lane order differ. The
            # vector-Jacobian products cancel (g - sum(g y)), so their float32
            # differences are absolute, at the scale of g (~1).
            tol = (
                dict(rtol=2e-6, atol=2e-7)
                if g.dtype == np.float32
                else dict(rtol=1e-13, atol=1e-14)
            )
            np.testing.assert_allclose(g, w, **tol, err_msg=f"{level} {name}")


def test_build_info_reports_the_levels():
    info = ll.build_info()
    assert info["simd"] in info["simd_supported"]
    assert set(info["simd_supported"]) <= set(info["simd_built"])
    assert info["simd_built"][0] == "baseline"
    assert info["simd"] == info["simd_supported"][-1] or os.environ.get("LOGITLOSS_SIMD")
    assert isinstance(info["version"], str)
    assert info["version"] == ll.__version__
    assert info["num_threads"] == ll.get_num_threads()


def test_set_simd_level_refuses_unknown_levels():
    before = _core.simd_level()
    assert not _core.set_simd_level("avx9000")
    assert _core.simd_level() == before


def _info_in_subprocess(env_value):
    env = dict(os.environ, LOGITLOSS_SIMD=env_value)
    code = "import json, warnings, logitloss as ll; print(json.dumps(ll.build_info()['simd']))"
    proc = subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def test_environment_selects_a_lower_level():
    level, err = _info_in_subprocess("baseline")
    assert level == "baseline"
    assert "LOGITLOSS_SIMD" not in err


def test_environment_with_a_bogus_level_warns_and_keeps_the_best():
    level, err = _info_in_subprocess("sse9")
    assert level == LEVELS[-1]
    assert "LOGITLOSS_SIMD='sse9' is not one of the supported levels" in err
