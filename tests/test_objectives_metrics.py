"""logitloss.objectives.xgboost_metric / lightgbm_metric: equal to the
libraries' built-in logloss / mlogloss at every round of real training runs,
the focal metric against its definition, and XGBoost and LightGBM training
with every new objective and metric (small data, few rounds)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import logitloss.objectives as obj

ROUNDS = 6
# Each new objective with its metric, on data it fits.
EVERY_OBJECTIVE = [
    ("softmax", "mlogloss", "digits"),
    ("softmax_focal", "focal", "digits"),
    ("logistic", "logloss", "breast_cancer"),
    ("focal", "focal", "breast_cancer"),
]


def _data(kind):
    datasets = pytest.importorskip("sklearn.datasets")
    if kind == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        return X[:900], y[:900]
    X, y = datasets.load_breast_cancer(return_X_y=True)
    return X, y


class _Labels:
    """What the metrics read from a DMatrix / lgb.Dataset."""

    def __init__(self, labels, weight=None):
        self.labels, self.weight = labels, weight

    def get_label(self):
        return self.labels

    def get_weight(self):
        return self.weight


# -------------------------------------------------- definitions, no library


def test_metrics_follow_their_definitions():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((500, 4)) * 3
    t = rng.integers(0, 4, 500)
    w = rng.uniform(0.5, 2, 500)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    pt = p[np.arange(500), t]
    xgb_m = obj.xgboost_metric("mlogloss")
    lgb_m = obj.lightgbm_metric("mlogloss")
    want = np.average(-np.log(pt), weights=w)
    got = xgb_m(z, _Labels(t.astype(np.float32), w))
    assert got == ("mlogloss", pytest.approx(want, rel=1e-13))
    flat = np.ascontiguousarray(z.T).reshape(-1)  # LightGBM < 4: class-major
    assert lgb_m(flat, _Labels(t, w))[1] == pytest.approx(want, rel=1e-13)
    assert lgb_m(z, _Labels(t, w)) == ("multi_logloss", pytest.approx(want, rel=1e-13), False)
    focal_want = np.mean((1 - pt) ** 2 * -np.log(pt))
    assert obj.xgboost_metric("focal")(z, _Labels(t, None))[1] == pytest.approx(focal_want,
                                                                                rel=1e-12)
    # binary: soft labels too, each side clipped as XGBoost does
    zb, yb = z[:, 0], rng.uniform(0, 1, 500)
    pb = 1 / (1 + np.exp(-zb))
    want_b = np.mean(-yb * np.log(pb) - (1 - yb) * np.log(1 - pb))
    assert obj.xgboost_metric("logloss")(zb, _Labels(yb)) == ("logloss",
                                                              pytest.approx(want_b, rel=1e-12))
    yh = (yb > 0.5).astype(float)
    pt_b = np.where(yh == 1, pb, 1 - pb)
    a_t = np.where(yh == 1, 0.25, 0.75)
    focal_b = np.average(a_t * (1 - pt_b) ** 2 * -np.log(pt_b), weights=w)
    assert obj.lightgbm_metric("focal")(zb, _Labels(yh, w))[1] == pytest.approx(focal_b,
                                                                                 rel=1e-12)


def test_metrics_clip_probabilities_like_the_libraries():
    z = np.array([[0.0, 60.0], [0.0, 1.0]])  # row 0: p_label = e^-60 < 1e-16
    t = np.array([0, 0])
    row1 = math.log1p(math.e)
    x_eps, l_eps = float(np.float32(1e-16)), float(np.float32(1e-15))
    assert obj.xgboost_metric("mlogloss")(z, _Labels(t))[1] == pytest.approx(
        (-math.log(x_eps) + row1) / 2, rel=1e-14)
    assert obj.lightgbm_metric("mlogloss")(z, _Labels(t))[1] == pytest.approx(
        (-math.log(l_eps) + row1) / 2, rel=1e-14)
    zb, yb = np.array([-60.0, 60.0, 1.0]), np.array([1.0, 0.0, 1.0])
    assert obj.xgboost_metric("logloss")(zb, _Labels(yb))[1] == pytest.approx(
        (-2 * math.log(x_eps) + math.log1p(math.exp(-1))) / 3, rel=1e-14)


def test_metric_errors():
    with pytest.raises(ValueError, match=r"objectives.xgboost_metric: name must be one of "
                                         r"'logloss', 'mlogloss', 'focal', not 'auc'"):
        obj.xgboost_metric("auc")
    with pytest.raises(ValueError, match=r"objectives.lightgbm_metric: name must be one of"):
        obj.lightgbm_metric(None)
    m = obj.xgboost_metric("mlogloss")
    with pytest.raises(IndexError, match=r"label 3 is out of range for 2 classes"):
        m(np.zeros((2, 2)), _Labels(np.array([0.0, 3.0])))
    with pytest.raises(ValueError, match=r"labels holds 0.5, which is not an integer class id"):
        m(np.zeros((2, 2)), _Labels(np.array([0.0, 0.5])))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        obj.lightgbm_metric("logloss")(np.zeros(2), _Labels(np.array([0.0, 2.0])))
    with pytest.raises(ValueError, match=r"sample_weight must be finite and non-negative"):
        m(np.zeros((2, 2)), _Labels(np.array([0, 1]), np.array([1.0, -1.0])))


# ------------------------------------- equality with the built-ins, per round


@pytest.mark.parametrize("name", ["mlogloss", "logloss"])
def test_xgboost_metric_equals_builtin_at_every_round(name):
    xgb = pytest.importorskip("xgboost")
    multi = name == "mlogloss"
    X, y = _data("digits" if multi else "breast_cancer")
    w = np.linspace(0.5, 1.5, len(y))
    dtrain = xgb.DMatrix(X[::2], y[::2], weight=w[::2])
    dvalid = xgb.DMatrix(X[1::2], y[1::2])
    params = {"max_depth": 3, "eta": 0.5, "nthread": 1, "eval_metric": name, "seed": 0}
    params.update({"objective": "multi:softprob", "num_class": 10} if multi else
                  {"objective": "binary:logistic"})
    history: dict = {}
    booster = xgb.train(params, dtrain, ROUNDS, evals=[(dtrain, "train"), (dvalid, "valid")],
                        evals_result=history, verbose_eval=False)
    metric = obj.xgboost_metric(name)
    for i in range(ROUNDS):
        for d, key in ((dtrain, "train"), (dvalid, "valid")):
            margins = booster.predict(d, output_margin=True, iteration_range=(0, i + 1))
            got_name, got = metric(margins, d)
            assert got_name == name
            # XGBoost computes in float32: agreement to ~1e-7 relative.
            assert got == pytest.approx(history[key][name][i], rel=1e-6)


@pytest.mark.parametrize("name", ["mlogloss", "logloss"])
def test_lightgbm_metric_equals_builtin_at_every_round(name):
    lgb = pytest.importorskip("lightgbm")
    multi = name == "mlogloss"
    X, y = _data("digits" if multi else "breast_cancer")
    w = np.linspace(0.5, 1.5, len(y))
    builtin = "multi_logloss" if multi else "binary_logloss"
    params = {"num_leaves": 7, "learning_rate": 0.3, "verbose": -1, "num_threads": 1,
              "deterministic": True, "metric": builtin}
    params.update({"objective": "multiclass", "num_class": 10} if multi else
                  {"objective": "binary"})
    train = lgb.Dataset(X[::2], y[::2], weight=w[::2])
    valid = lgb.Dataset(X[1::2], y[1::2], reference=train)
    history: dict = {}
    booster = lgb.train(params, train, ROUNDS, valid_sets=[train, valid],
                        valid_names=["train", "valid"],
                        callbacks=[lgb.record_evaluation(history)])
    metric = obj.lightgbm_metric(name)
    for i in range(ROUNDS):
        for Xs, ys, ws, key in ((X[::2], y[::2], w[::2], "train"),
                                (X[1::2], y[1::2], None, "valid")):
            margins = booster.predict(Xs, raw_score=True, num_iteration=i + 1)
            got_name, got, higher_better = metric(margins, _Labels(ys, ws))
            assert (got_name, higher_better) == (builtin, False)
            assert got == pytest.approx(history[key][builtin][i], rel=1e-6)


# ----------------------------- training with every new objective and metric


@pytest.mark.parametrize(("objective", "metric", "data"), EVERY_OBJECTIVE)
def test_xgboost_trains_with_each_objective_and_metric(objective, metric, data):
    xgb = pytest.importorskip("xgboost")
    X, y = _data(data)
    params = {"max_depth": 3, "eta": 0.3, "nthread": 1, "disable_default_eval_metric": 1}
    if data == "digits":
        params["num_class"] = 10
    dtrain = xgb.DMatrix(X, y, weight=np.linspace(0.5, 1.5, len(y)))
    history: dict = {}
    booster = xgb.train(params, dtrain, ROUNDS, obj=obj.xgboost_objective(objective),
                        custom_metric=obj.xgboost_metric(metric),
                        evals=[(dtrain, "train")], evals_result=history, verbose_eval=False)
    curve = history["train"][metric]
    assert len(curve) == ROUNDS
    assert curve[-1] < 0.7 * curve[0]  # training reduces the objective's own metric
    margins = booster.predict(dtrain, output_margin=True)
    # evals_result holds the metric as XGBoost printed it ("%f")
    assert obj.xgboost_metric(metric)(margins, dtrain)[1] == pytest.approx(curve[-1], abs=1e-6)
    pred = margins.argmax(1) if data == "digits" else (margins > 0)
    assert (pred == y).mean() > 0.9


@pytest.mark.parametrize(("objective", "metric", "data"), EVERY_OBJECTIVE)
def test_lightgbm_trains_with_each_objective_and_metric(objective, metric, data):
    lgb = pytest.importorskip("lightgbm")
    X, y = _data(data)
    params = {"num_leaves": 7, "learning_rate": 0.3, "verbose": -1, "num_threads": 1,
              "deterministic": True, "metric": "None",
              "objective": obj.lightgbm_objective(objective)}
    if data == "digits":
        params["num_class"] = 10
    train = lgb.Dataset(X, y, weight=np.linspace(0.5, 1.5, len(y)))
    history: dict = {}
    booster = lgb.train(params, train, ROUNDS, valid_sets=[train], valid_names=["train"],
                        feval=obj.lightgbm_metric(metric),
                        callbacks=[lgb.record_evaluation(history)])
    name = {"mlogloss": "multi_logloss", "logloss": "binary_logloss"}.get(metric, metric)
    curve = history["train"][name]
    assert len(curve) == ROUNDS
    assert curve[-1] < 0.7 * curve[0]
    margins = booster.predict(X, raw_score=True)
    assert obj.lightgbm_metric(metric)(margins, train)[1] == pytest.approx(curve[-1], rel=1e-12)
    pred = margins.argmax(1) if data == "digits" else (margins > 0)
    assert (pred == y).mean() > 0.9


def test_sklearn_estimators_accept_the_focal_objectives_and_metrics():
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    X, y = _data("breast_cancer")
    model = xgb.XGBClassifier(objective=obj.xgboost_objective("focal"), n_estimators=10,
                              max_depth=3, n_jobs=1,
                              eval_metric=obj.xgboost_metric("logloss"))
    model.fit(X, y, eval_set=[(X, y)], verbose=False)
    curve = model.evals_result()["validation_0"]["logloss"]
    assert curve[-1] < curve[0]
    clf = lgb.LGBMClassifier(objective=obj.lightgbm_objective("focal"), n_estimators=10,
                             num_leaves=7, verbose=-1, n_jobs=1)
    clf.fit(X, y, eval_X=(X,), eval_y=(y,), eval_metric=obj.lightgbm_metric("focal"))
    (curves,) = clf.evals_result_.values()
    curve = curves["focal"]
    assert curve[-1] < curve[0]
