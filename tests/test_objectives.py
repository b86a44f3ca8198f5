"""logitloss.objectives: the boosting objectives against float64 NumPy
references of each library's convention, layouts, errors, and (when the
libraries are installed) training parity with XGBoost's and LightGBM's
built-in objectives."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss
import logitloss.objectives as obj

HESSIANS = ("xgboost", "lightgbm", "exact")


# ------------------------------------------------------------ references


def softmax_reference(x, labels, w=None, hessian="xgboost"):
    """The convention's formulas in float64, written as the libraries write them."""
    x = np.asarray(x, np.float64)
    n, k = x.shape
    e = np.exp(x - x.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    w = np.ones(n) if w is None else np.asarray(w, np.float64)
    onehot = np.zeros_like(p)
    onehot[np.arange(n), np.asarray(labels, np.int64)] = 1
    grad = (p - onehot) * w[:, None]
    if hessian == "xgboost":  # multi:softprob
        hess = np.maximum(2.0 * p * (1.0 - p) * w[:, None], 1e-16)
    elif hessian == "lightgbm":  # multiclass
        hess = k / (k - 1.0) * p * (1.0 - p) * w[:, None]
    else:
        hess = p * (1.0 - p) * w[:, None]
    return grad, hess


def logistic_reference(x, y, w=None):
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    p = 0.5 * (1.0 + np.tanh(0.5 * x))  # sigmoid without overflow
    # p (1 - p) would cancel for large |x| (1e-10 relative at |x| ~ 16, which
    # failed a 1e-12 tolerance); e / (1 + e)^2 with e = exp(-|x|) does not.
    e = np.exp(-np.abs(x))
    w = np.ones_like(x) if w is None else np.asarray(w, np.float64)
    return (p - y) * w, np.maximum(e / (1.0 + e) ** 2, 1e-16) * w


def tolerances(dtype):
    # float32: a few ulps of each value relative to O(1) gradients.
    return dict(rtol=1e-12, atol=1e-15) if dtype == np.float64 else dict(rtol=2e-6, atol=2e-7)


rng = np.random.default_rng(0)


# ------------------------------------------------------------------ softmax


SHAPES = [(0, 3), (1, 2), (3, 7), (17, 16), (1023, 17), (4099, 3), (5, 1)]
CASES = [(h, n, k) for h in HESSIANS for n, k in SHAPES if not (h == "lightgbm" and k == 1)]


@pytest.mark.parametrize(("hessian", "n", "k"), CASES)  # lightgbm's K/(K-1) needs K >= 2
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_matches_reference(hessian, dtype, n, k, weighted):
    x = (rng.standard_normal((n, k)) * 3).astype(dtype)
    labels = rng.integers(0, k, n)
    w = rng.uniform(0, 2, n) if weighted else None
    grad, hess = obj.softmax(x, labels, w, hessian=hessian)
    assert grad.dtype == dtype
    assert hess.dtype == dtype
    assert grad.shape == x.shape
    assert hess.shape == x.shape
    ref_g, ref_h = softmax_reference(x, labels, w, hessian)
    np.testing.assert_allclose(grad, ref_g, **tolerances(dtype))
    np.testing.assert_allclose(hess, ref_h, **tolerances(dtype))


def test_softmax_default_is_xgboost_convention():
    x = rng.standard_normal((9, 4))
    labels = rng.integers(0, 4, 9)
    default = obj.softmax(x, labels)[1]
    np.testing.assert_array_equal(default, obj.softmax(x, labels, hessian="xgboost")[1])
    np.testing.assert_allclose(default, 2 * obj.softmax(x, labels, hessian="exact")[1])


def test_softmax_gradient_rows_sum_to_zero_and_scale_with_weight():
    x = rng.standard_normal((200, 6))
    labels = rng.integers(0, 6, 200)
    g, _ = obj.softmax(x, labels)
    np.testing.assert_allclose(g.sum(axis=1), 0, atol=1e-15)
    w = rng.uniform(0, 3, 200)
    gw, hw = obj.softmax(x, labels, w, hessian="exact")
    g1, h1 = obj.softmax(x, labels, hessian="exact")
    np.testing.assert_allclose(gw, g1 * w[:, None], rtol=1e-15)
    np.testing.assert_allclose(hw, h1 * w[:, None], rtol=1e-15)


def test_softmax_xgboost_floor_applies_after_the_weight():
    # XGBoost: max(2 p (1 - p) w, 1e-16): a zero weight leaves the floor.
    g, h = obj.softmax([[0.0, 1.0]], [0], [0.0])
    np.testing.assert_array_equal(g, [[0.0, 0.0]])
    np.testing.assert_array_equal(h, [[1e-16, 1e-16]])


def test_softmax_confident_rows_keep_relative_accuracy():
    """Note [Boosting objectives]: q = 1 - p is not formed by cancellation."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    x = np.array([[40.0, 0.0, -3.0], [0.0, 60.0, 1.0], [5.0, 5.0, -100.0]])
    labels = [0, 1, 2]
    g, h = obj.softmax(x, labels, hessian="exact")
    for i, row in enumerate(x):
        e = [mpmath.exp(mpmath.mpf(v)) for v in row]
        total = sum(e)
        for j in range(3):
            p = e[j] / total
            q = (total - e[j]) / total
            want_g = float(p - 1) if j == labels[i] else float(p)
            assert h[i, j] == pytest.approx(float(p * q), rel=1e-14)
            assert g[i, j] == pytest.approx(want_g, rel=1e-14)
    # float32: the max entry's hessian is tiny but correct, not 0.
    _g32, h32 = obj.softmax(x.astype(np.float32), labels, hessian="exact")
    assert h32[0, 0] == pytest.approx(float(sum(mpmath.exp(v) for v in (-40, -43))), rel=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_softmax_half_precision_returns_input_dtype(dtype):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    dt = np.dtype(getattr(ml_dtypes, dtype) if dtype == "bfloat16" else dtype)
    x = rng.standard_normal((33, 5)).astype(dt)
    labels = rng.integers(0, 5, 33)
    g, h = obj.softmax(x, labels)
    assert g.dtype == dt
    assert h.dtype == dt
    ref_g, ref_h = softmax_reference(x.astype(np.float64), labels)
    tol = 8e-3 if dtype == "bfloat16" else 1e-3
    np.testing.assert_allclose(g.astype(np.float64), ref_g, atol=tol)
    np.testing.assert_allclose(h.astype(np.float64), ref_h, atol=tol)


def test_integer_margins_promote_to_float64():
    g, _h = obj.softmax([[0, 1], [2, 2]], [1, 0])
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, softmax_reference([[0, 1], [2, 2]], [1, 0])[0], rtol=1e-15)


@pytest.mark.parametrize("layout", ["fortran", "strided_rows", "strided_classes", "transposed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_any_memory_layout(layout, dtype):
    base = (rng.standard_normal((90, 22)) * 2).astype(dtype)
    if layout == "fortran":
        x = np.asfortranarray(base[:45, :11])
    elif layout == "strided_rows":
        x = base[::2, :11]
    elif layout == "strided_classes":
        x = base[:45, ::2]
    else:
        x = base[:11, :45].T  # class-major memory, like LightGBM's flat layout
    labels = rng.integers(0, x.shape[1], x.shape[0])
    w = rng.uniform(0.5, 1.5, x.shape[0])
    for hessian in HESSIANS:
        g, h = obj.softmax(x, labels, w, hessian=hessian)
        ref_g, ref_h = softmax_reference(x, labels, w, hessian)
        np.testing.assert_allclose(g, ref_g, **tolerances(dtype))
        np.testing.assert_allclose(h, ref_h, **tolerances(dtype))


def test_inputs_are_not_modified_and_read_only_inputs_work():
    x = rng.standard_normal((50, 4))
    labels = rng.integers(0, 4, 50).astype(np.float32)
    w = rng.uniform(0, 1, 50)
    for a in (x, labels, w):
        a.setflags(write=False)
    copies = [a.copy() for a in (x, labels, w)]
    obj.softmax(x, labels, w)
    obj.logistic(x[:, 0], (labels > 1).astype(np.float64), w)
    for a, c in zip((x, labels, w), copies):
        np.testing.assert_array_equal(a, c)


def test_non_finite_rows_are_nan():
    x = np.array([[np.nan, 0.0], [np.inf, 0.0], [-np.inf, -np.inf], [-np.inf, 0.0]])
    g, h = obj.softmax(x, [0, 0, 0, 0])
    assert np.isnan(g[:3]).all()
    assert np.isnan(h[:3]).all()
    # A -inf entry next to a finite max is just a zero probability.
    np.testing.assert_array_equal(g[3], [-1.0, 1.0])
    np.testing.assert_array_equal(h[3], [1e-16, 1e-16])


def test_results_do_not_depend_on_thread_count():
    x = rng.standard_normal((20000, 7)).astype(np.float32)
    labels = rng.integers(0, 7, 20000)
    y01 = (labels > 3).astype(np.float32)
    before = logitloss.get_num_threads()
    try:
        logitloss.set_num_threads(1)
        one = obj.softmax(x, labels) + obj.logistic(x[:, 0], y01)
        logitloss.set_num_threads(2)
        two = obj.softmax(x, labels) + obj.logistic(x[:, 0], y01)
    finally:
        logitloss.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- logistic


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 8, 15, 16, 17, 1023, 40000])
def test_logistic_matches_reference(dtype, n):
    x = (rng.standard_normal(n) * 5).astype(dtype)
    y = rng.integers(0, 2, n)
    w = rng.uniform(0, 2, n)
    for weight in (None, w):
        g, h = obj.logistic(x, y, weight)
        assert g.dtype == dtype
        assert g.shape == (n,)
        ref_g, ref_h = logistic_reference(x, y, weight)
        np.testing.assert_allclose(g, ref_g, **tolerances(dtype))
        np.testing.assert_allclose(h, ref_h, **tolerances(dtype))


def test_logistic_soft_labels_and_strided_inputs():
    x = rng.standard_normal(300) * 4
    y = rng.uniform(0, 1, 300)
    g, h = obj.logistic(x[::3], y[::3])
    ref_g, ref_h = logistic_reference(x[::3], y[::3])
    np.testing.assert_allclose(g, ref_g, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h, ref_h, rtol=1e-12)


def test_logistic_extreme_margins_are_stable_and_accurate():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    x = np.array([-1000.0, -40.0, -20.0, 20.0, 30.0, 700.0, np.inf, -np.inf])
    y = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    g, h = obj.logistic(x, y)
    assert np.isfinite(g).all()
    assert np.isfinite(h).all()
    for xi, yi, gi, hi in zip(x[:6], y[:6], g, h):
        p = 1 / (1 + mpmath.exp(-mpmath.mpf(xi)))
        assert gi == pytest.approx(float(p - yi), rel=1e-14, abs=1e-300)
        assert hi == pytest.approx(max(float(p * (1 - p)), 1e-16), rel=1e-14)
    np.testing.assert_array_equal(g[6:], [0.0, 0.0])
    np.testing.assert_array_equal(h[6:], [1e-16, 1e-16])
    assert np.isnan(obj.logistic([np.nan], [1.0])[0]).all()


# ------------------------------------------------------------------- errors


def test_softmax_label_errors_name_value_and_class_count():
    x = np.zeros((3, 5))
    with pytest.raises(IndexError, match=r"objectives.softmax: label 7 is out of range for 5 cl"):
        obj.softmax(x, [0, 7, 1])
    with pytest.raises(IndexError, match=r"label -1 is out of range for 5 classes"):
        obj.softmax(x, np.array([0.0, -1.0, 1.0], np.float32))
    with pytest.raises(ValueError, match=r"labels holds 1.5"):
        obj.softmax(x, [0.0, 1.5, 1.0])
    with pytest.raises(ValueError, match=r"labels holds nan"):
        obj.softmax(x, [0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match=r"labels has shape \(2,\)"):
        obj.softmax(x, [0, 1])
    with pytest.raises(TypeError, match=r"labels has dtype"):
        obj.softmax(x, ["a", "b", "c"])
    with pytest.raises(TypeError, match=r"labels has dtype bool"):
        obj.softmax(x, [True, False, True])


def test_softmax_argument_errors():
    with pytest.raises(ValueError, match=r"hessian must be one of"):
        obj.softmax(np.zeros((2, 2)), [0, 1], hessian="newton")
    with pytest.raises(ValueError, match=r"margins has shape \(4,\); expected \(N, K\)"):
        obj.softmax(np.zeros(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"margins has 0 classes"):
        obj.softmax(np.zeros((2, 0)), [0, 0])
    with pytest.raises(ValueError, match=r"hessian='lightgbm' needs at least 2 classes"):
        obj.softmax(np.zeros((2, 1)), [0, 0], hessian="lightgbm")
    with pytest.raises(TypeError, match=r"margins has unsupported dtype complex128"):
        obj.softmax(np.zeros((2, 2), complex), [0, 1])
    with pytest.raises(TypeError, match=r"margins must be an array, not None"):
        obj.softmax(None, [0, 1])


@pytest.mark.parametrize("func", ["softmax", "logistic"])
def test_sample_weight_errors(func):
    x = np.zeros((3, 2)) if func == "softmax" else np.zeros(3)
    f = getattr(obj, func)
    y = [0, 1, 1]
    with pytest.raises(ValueError, match=r"sample_weight must be finite and non-negative"):
        f(x, y, [1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match=r"sample_weight must be finite and non-negative"):
        f(x, y, [1.0, np.nan, 1.0])
    with pytest.raises(ValueError, match=r"sample_weight has shape \(2,\)"):
        f(x, y, [1.0, 1.0])
    with pytest.raises(TypeError, match=r"sample_weight has unsupported dtype"):
        f(x, y, np.ones(3, complex))


def test_logistic_errors():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        obj.logistic([0.0, 1.0], [0.0, 2.0])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        obj.logistic([0.0, 1.0], [0.0, np.nan])
    with pytest.raises(ValueError, match=r"margins has shape \(2, 2\); expected \(N,\)"):
        obj.logistic(np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match=r"labels has shape \(3,\)"):
        obj.logistic([0.0, 1.0], [0, 1, 1])
    with pytest.raises(TypeError, match=r"labels has unsupported dtype"):
        obj.logistic([0.0, 1.0], ["a", "b"])


@pytest.mark.parametrize("factory", [obj.xgboost_objective, obj.lightgbm_objective])
def test_adapter_names_are_checked(factory):
    with pytest.raises(ValueError, match=r"name must be one of 'softmax', 'logistic', 'focal', "
                                         r"'softmax_focal', not 'softprob'"):
        factory("softprob")


# ------------------------------------------------------ library adapters

def _digits():
    datasets = pytest.importorskip("sklearn.datasets")
    return datasets.load_digits(return_X_y=True)


def _breast_cancer():
    datasets = pytest.importorskip("sklearn.datasets")
    return datasets.load_breast_cancer(return_X_y=True)


class _FakeDataset:
    """What the adapters read from a DMatrix / lgb.Dataset."""

    def __init__(self, labels, weight):
        self.labels, self.weight = labels, weight

    def get_label(self):
        return self.labels

    def get_weight(self):
        return self.weight


def test_adapters_handle_every_layout_without_the_libraries():
    x = rng.standard_normal((40, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 40).astype(np.float32)
    w = rng.uniform(0.5, 2, 40).astype(np.float32)
    ref_x = softmax_reference(x, labels, w, "xgboost")
    ref_l = softmax_reference(x, labels, w, "lightgbm")
    xg = obj.xgboost_objective("softmax")
    for predt in (x, x.reshape(-1)):  # (N, K) and XGBoost < 2's flat row-major
        g, h = xg(predt, _FakeDataset(labels, w))
        assert g.shape == predt.shape
        np.testing.assert_allclose(g.reshape(40, 4), ref_x[0], rtol=2e-6, atol=2e-7)
        np.testing.assert_allclose(h.reshape(40, 4), ref_x[1], rtol=2e-6, atol=2e-7)
    g, h = xg(labels, x, sample_weight=w)  # scikit-learn API: (y_true, y_pred)
    np.testing.assert_allclose(h, ref_x[1], rtol=2e-6, atol=2e-7)
    g, _ = xg(x, _FakeDataset(labels, np.empty(0, np.float32)))  # no weights: empty
    np.testing.assert_allclose(g, softmax_reference(x, labels)[0], rtol=2e-6, atol=2e-7)
    lg = obj.lightgbm_objective("softmax")
    x64 = x.astype(np.float64)
    g, h = lg(x64, _FakeDataset(labels, w))  # LightGBM >= 4: (N, K)
    np.testing.assert_allclose(h, ref_l[1], rtol=1e-6)
    flat = np.ascontiguousarray(x64.T).reshape(-1)  # LightGBM < 4: class-major
    g, h = lg(flat, _FakeDataset(labels, w))
    assert g.shape == flat.shape
    np.testing.assert_allclose(g.reshape(4, 40).T, ref_l[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h.reshape(4, 40).T, ref_l[1], rtol=1e-6)
    g, h = lg(labels, x64, w)  # scikit-learn API: (y_true, y_pred, weight)
    np.testing.assert_allclose(h, ref_l[1], rtol=1e-6)
    gl, _hl = obj.lightgbm_objective("logistic")(x64[:, 0], _FakeDataset(labels > 1, None))
    ref = logistic_reference(x64[:, 0], labels > 1)[0]
    np.testing.assert_allclose(gl, ref, rtol=1e-12, atol=1e-15)
    gx, _ = obj.xgboost_objective("logistic")(x[:, :1], _FakeDataset(labels > 1, None))
    assert gx.shape == (40, 1)


def test_xgboost_custom_objective_matches_builtin():
    xgb = pytest.importorskip("xgboost")
    X, y = _digits()
    # A zero base margin removes the only difference: the built-in
    # objective's fitted intercept.
    d = xgb.DMatrix(X, y, base_margin=np.zeros((len(y), 10)))
    params = {"num_class": 10, "max_depth": 3, "eta": 0.3, "nthread": 1}
    builtin = xgb.train({**params, "objective": "multi:softprob"}, d, 4)
    custom = xgb.train(
        {**params, "disable_default_eval_metric": 1}, d, 4, obj=obj.xgboost_objective("softmax")
    )
    m_builtin = builtin.predict(d, output_margin=True)
    m_custom = custom.predict(d, output_margin=True)
    np.testing.assert_allclose(m_custom, m_builtin, atol=1e-5)

    Xb, yb = _breast_cancer()
    w = np.linspace(0.5, 1.5, len(yb))
    db = xgb.DMatrix(Xb, yb, weight=w, base_margin=np.zeros(len(yb)))
    params = {"max_depth": 3, "eta": 0.3, "nthread": 1}
    builtin = xgb.train({**params, "objective": "binary:logistic"}, db, 4)
    custom = xgb.train(
        {**params, "disable_default_eval_metric": 1}, db, 4, obj=obj.xgboost_objective("logistic")
    )
    np.testing.assert_allclose(
        custom.predict(db, output_margin=True), builtin.predict(db, output_margin=True), atol=1e-5
    )


def test_lightgbm_custom_objective_matches_builtin():
    lgb = pytest.importorskip("lightgbm")
    X, y = _digits()
    params = {"num_class": 10, "num_leaves": 7, "learning_rate": 0.3, "verbose": -1,
              "num_threads": 1, "deterministic": True}
    builtin = lgb.train({**params, "objective": "multiclass"}, lgb.Dataset(X, y), 4)
    # The built-in objective starts from the log class priors
    # (boost_from_average); a custom objective starts from init_score.
    init = np.tile(np.log(np.bincount(y, minlength=10) / len(y)), (len(y), 1))
    custom = lgb.train(
        {**params, "objective": obj.lightgbm_objective("softmax")},
        lgb.Dataset(X, y, init_score=init),
        4,
    )
    np.testing.assert_allclose(
        custom.predict(X, raw_score=True) + init, builtin.predict(X, raw_score=True), atol=1e-9
    )

    Xb, yb = _breast_cancer()
    params = {"num_leaves": 7, "learning_rate": 0.3, "verbose": -1, "num_threads": 1,
              "deterministic": True}
    w = np.linspace(0.5, 1.5, len(yb))
    builtin = lgb.train({**params, "objective": "binary"}, lgb.Dataset(Xb, yb, weight=w), 4)
    prior = np.average(yb, weights=w)
    init = np.full(len(yb), np.log(prior / (1 - prior)))
    custom = lgb.train(
        {**params, "objective": obj.lightgbm_objective("logistic")},
        lgb.Dataset(Xb, yb, weight=w, init_score=init),
        4,
    )
    np.testing.assert_allclose(
        custom.predict(Xb, raw_score=True) + init, builtin.predict(Xb, raw_score=True), atol=1e-9
    )


def test_xgboost_sklearn_estimator_accepts_the_objective():
    xgb = pytest.importorskip("xgboost")
    X, y = _digits()
    w = np.linspace(0.5, 1.5, 1200)
    model = xgb.XGBClassifier(objective=obj.xgboost_objective("softmax"), n_estimators=20,
                              max_depth=3, n_jobs=1)
    model.fit(X[:1200], y[:1200], sample_weight=w)
    raw = model.predict(X[1200:], output_margin=True)
    assert raw.shape == (len(X) - 1200, 10)
    assert (raw.argmax(axis=1) == y[1200:]).mean() > 0.85


def test_lightgbm_sklearn_estimator_accepts_the_objective():
    lgb = pytest.importorskip("lightgbm")
    X, y = _digits()
    model = lgb.LGBMClassifier(
        objective=obj.lightgbm_objective("softmax"), n_estimators=20, num_leaves=7,
        verbose=-1, n_jobs=1,
    ).fit(X[:1200], y[:1200])
    raw = model.predict(X[1200:], raw_score=True)
    assert raw.shape == (len(X) - 1200, 10)
    accuracy = (raw.argmax(axis=1) == y[1200:]).mean()
    assert accuracy > 0.85


def test_every_simd_level_agrees_with_baseline():
    from logitloss import _core

    x = (rng.standard_normal((301, 13)) * 4).astype(np.float32)
    x64 = x.astype(np.float64)
    xt = np.asfortranarray(x)
    labels = rng.integers(0, 13, 301)
    w = rng.uniform(0, 2, 301)
    level = _core.simd_level()
    results = {}
    try:
        for name in _core.simd_levels_supported():
            assert _core.set_simd_level(name)
            results[name] = [
                *obj.softmax(x, labels, w),
                *obj.softmax(xt, labels, w, hessian="lightgbm"),
                *obj.logistic(x[:, 0], labels > 5, w),
                *obj.softmax_focal(x64, labels, w),
                *obj.softmax_focal(x[:, :4], labels % 4, alpha=0.3, gamma=1.5),
                *obj.softmax_focal(x64[:, :3].T.copy().T, labels % 3, gamma=0.5),  # row blocks
                *obj.focal(x64[:, 0], labels > 5, w, gamma=1.5),
            ]
    finally:
        _core.set_simd_level(level)
    for name, arrays in results.items():
        for a, b in zip(arrays, results["baseline"]):
            tol = dict(rtol=1e-6, atol=1e-7) if a.dtype == np.float32 else dict(rtol=1e-12,
                                                                                 atol=1e-15)
            np.testing.assert_allclose(a, b, err_msg=name, **tol)


def test_boosting_example_reaches_the_builtin_log_loss():
    for name in ("xgboost", "lightgbm", "sklearn"):
        pytest.importorskip(name)
    import pathlib
    import subprocess
    import sys

    script = pathlib.Path(__file__).parents[1] / "examples" / "boosting_objectives.py"
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: every logitloss objective within 1 %" in proc.stdout


def test_properties_hold_for_arbitrary_margins():
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    finite = st.floats(-60, 60, allow_nan=False, width=64)

    @settings(max_examples=60, deadline=None)
    @given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1,
                                                   max_side=20), elements=finite),
           st.data())
    def check(x, data):
        n, k = x.shape
        labels = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
        shift = data.draw(st.floats(-30, 30))
        g, h = obj.softmax(x, labels, hessian="exact")
        gs, hs = obj.softmax(x + shift, labels, hessian="exact")
        np.testing.assert_allclose(g.sum(axis=1), 0, atol=1e-14)  # rows sum to 0
        assert np.all(h >= 0)
        assert np.all(h <= 0.25 + 1e-16)
        np.testing.assert_allclose(gs, g, atol=1e-12)  # softmax is shift-invariant
        np.testing.assert_allclose(hs, h, rtol=1e-9, atol=1e-300)
        hx = obj.softmax(x, labels)[1]
        np.testing.assert_array_equal(hx, np.maximum(2 * h, 1e-16))  # xgboost = 2 exact
        p = np.where(np.arange(k) == labels[:, None], g + 1, g)  # p from the gradient
        np.testing.assert_allclose(h, p * (1 - p), atol=1e-15)

    check()


def test_objectives_is_a_lazy_attribute_of_logitloss():
    """API.md: `logitloss.objectives` works after `import logitloss` alone, and
    importing either never imports XGBoost or LightGBM."""
    import subprocess
    import sys

    code = ("import sys, logitloss; f = logitloss.objectives.focal; "
            "assert logitloss.objectives is sys.modules['logitloss.objectives']; "
            "assert 'xgboost' not in sys.modules and 'lightgbm' not in sys.modules; "
            "logitloss.no_such_name")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert "AttributeError: module 'logitloss' has no attribute 'no_such_name'" in proc.stderr
    assert proc.stdout == ""

