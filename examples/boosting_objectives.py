"""Train XGBoost and LightGBM with logitloss's native custom objectives.
=====================================================================

Part 1, parity: multiclass on scikit-learn's bundled digits (10 classes),
binary on the bundled breast-cancer data: each library trains once with its
built-in objective and once with the logitloss objective (same parameters,
same rounds), and the validation log-losses are compared.

Part 2, imbalance: the breast-cancer data subsampled to 5 % positives
(malignant), 8 random subsamples split in halves, 100 rounds; each library trains with
its built-in logistic objective and with logitloss's focal objective
(alpha 0.25, gamma 2, the defaults) and the held-out average precision is
compared. The focal loss's Hessians are (1 - p_t)^gamma times smaller than
the log-loss's, so both runs of a library use tree limits that let them grow
(XGBoost min_child_weight 0.01; LightGBM min_data_in_leaf 5) and L2
regularisation (lambda 1) so that Newton steps stay bounded where the Hessians
are tiny. No downloads.

A custom objective gives the library no prior to start from, so the logitloss
runs start from the class log-priors (base_margin / init_score), which is what
the built-in objectives compute for themselves.

:Run:  python examples/boosting_objectives.py
:Needs: pip install "logitloss[boosting]"  (xgboost, lightgbm, scikit-learn)
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.metrics import average_precision_score, log_loss
from sklearn.model_selection import train_test_split

import logitloss
import logitloss.objectives as objectives

ROUNDS = 150
# One thread per library: deterministic, and OpenMP spin-waits make more threads
# slower than one on a busy shared machine.
TOLERANCE = 0.01  # the logitloss run must be within 1 % of the built-in one
POSITIVE_SHARE = 0.05  # the imbalanced run's minority share
SUBSAMPLES = 8
IMBALANCED_ROUNDS = 100


def prior_margins(y: np.ndarray, n_rows: int, n_classes: int) -> np.ndarray:
    """Log class priors (multiclass) or the prior's logit (binary), per row."""
    prior = np.bincount(y, minlength=max(n_classes, 2)) / len(y)
    if n_classes == 1:
        return np.full(n_rows, np.log(prior[1] / prior[0]))
    return np.tile(np.log(prior), (n_rows, 1))


def probabilities(margins: np.ndarray, binary: bool) -> np.ndarray:
    if binary:
        return logitloss.softmax(np.stack([np.zeros_like(margins), margins], axis=1), axis=1)[:, 1]
    return logitloss.softmax(margins, axis=1)


def run_xgboost(
    X_tr: np.ndarray, y_tr: np.ndarray, X_va: np.ndarray, y_va: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    binary = n_classes == 1
    params = {"max_depth": 3, "eta": 0.1, "nthread": 1, "seed": 0}
    if binary:
        builtin = {**params, "objective": "binary:logistic"}
    else:
        builtin = {**params, "objective": "multi:softprob", "num_class": n_classes}
    model = xgb.train(builtin, xgb.DMatrix(X_tr, y_tr), ROUNDS)
    p_builtin = model.predict(xgb.DMatrix(X_va))

    custom = {k: v for k, v in builtin.items() if k != "objective"}
    custom["disable_default_eval_metric"] = 1
    name = "logistic" if binary else "softmax"
    base_tr = prior_margins(y_tr, len(y_tr), n_classes)
    base_va = prior_margins(y_tr, len(y_va), n_classes)
    model = xgb.train(
        custom,
        xgb.DMatrix(X_tr, y_tr, base_margin=base_tr),
        ROUNDS,
        obj=objectives.xgboost_objective(name),
    )
    margins = model.predict(xgb.DMatrix(X_va, base_margin=base_va), output_margin=True)
    return p_builtin, probabilities(margins, binary)


def run_lightgbm(
    X_tr: np.ndarray, y_tr: np.ndarray, X_va: np.ndarray, y_va: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    binary = n_classes == 1
    params = {"num_leaves": 15, "learning_rate": 0.1, "num_threads": 1, "verbose": -1, "seed": 0}
    if binary:
        builtin = {**params, "objective": "binary"}
    else:
        builtin = {**params, "objective": "multiclass", "num_class": n_classes}
    model = lgb.train(builtin, lgb.Dataset(X_tr, y_tr), ROUNDS)
    p_builtin = np.asarray(model.predict(X_va))

    name = "logistic" if binary else "softmax"
    custom = {**builtin, "objective": objectives.lightgbm_objective(name)}
    init_tr = prior_margins(y_tr, len(y_tr), n_classes)
    model = lgb.train(custom, lgb.Dataset(X_tr, y_tr, init_score=init_tr), ROUNDS)
    margins = model.predict(X_va, raw_score=True) + prior_margins(y_tr, len(y_va), n_classes)
    return p_builtin, probabilities(margins, binary)


def imbalanced_subsamples(
    X: np.ndarray, y: np.ndarray, count: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """`count` (X_tr, X_te, y_tr, y_te): all negatives and 5 % positives, halved."""
    splits = []
    for seed in range(count):
        rng = np.random.default_rng(seed)
        neg, pos = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
        keep = rng.choice(pos, size=round(len(neg) * POSITIVE_SHARE / (1 - POSITIVE_SHARE)),
                          replace=False)
        idx = np.concatenate([neg, keep])
        splits.append(tuple(train_test_split(X[idx], y[idx], test_size=0.5, random_state=seed,
                                             stratify=y[idx])))
    return splits


def focal_vs_logistic(
    X_tr: np.ndarray, X_te: np.ndarray, y_tr: np.ndarray, y_te: np.ndarray
) -> dict[str, float]:
    """Held-out average precision of each library's built-in logistic
    objective and of logitloss's focal objective (same tree parameters)."""
    prior = prior_margins(y_tr, len(y_tr), 1)
    prior_te = prior_margins(y_tr, len(y_te), 1)
    ap = {}
    params = {"max_depth": 3, "eta": 0.1, "nthread": 1, "seed": 0, "min_child_weight": 0.01}
    rounds = IMBALANCED_ROUNDS
    model = xgb.train({**params, "objective": "binary:logistic"}, xgb.DMatrix(X_tr, y_tr), rounds)
    ap["xgboost logistic"] = average_precision_score(y_te, model.predict(xgb.DMatrix(X_te)))
    model = xgb.train({**params, "disable_default_eval_metric": 1},
                      xgb.DMatrix(X_tr, y_tr, base_margin=prior), rounds,
                      obj=objectives.xgboost_objective("focal"))
    margins = model.predict(xgb.DMatrix(X_te, base_margin=prior_te), output_margin=True)
    ap["xgboost focal"] = average_precision_score(y_te, margins)
    lgb_params = {"num_leaves": 7, "learning_rate": 0.1, "num_threads": 1, "verbose": -1,
                  "seed": 0, "min_data_in_leaf": 5, "lambda_l2": 1.0}
    model = lgb.train({**lgb_params, "objective": "binary"}, lgb.Dataset(X_tr, y_tr), rounds)
    ap["lightgbm logistic"] = average_precision_score(y_te, model.predict(X_te))
    model = lgb.train({**lgb_params, "objective": objectives.lightgbm_objective("focal")},
                      lgb.Dataset(X_tr, y_tr, init_score=prior), rounds)
    ap["lightgbm focal"] = average_precision_score(y_te, model.predict(X_te, raw_score=True))
    return ap


def imbalanced_run() -> None:
    X, benign = load_breast_cancer(return_X_y=True)
    y = 1 - benign  # malignant is the positive (minority) class
    results: dict[str, list[float]] = {}
    for split in imbalanced_subsamples(X, y, SUBSAMPLES):
        for name, value in focal_vs_logistic(*split).items():
            results.setdefault(name, []).append(value)
    print(f"\nimbalanced: breast_cancer with {POSITIVE_SHARE:.0%} positives, "
          f"{SUBSAMPLES} subsamples, held-out average precision (base rate {POSITIVE_SHARE})")
    print(f"{'objective':<18} {'mean AP':>8} {'min':>6} {'max':>6}")
    for name, values in results.items():
        print(f"{name:<18} {np.mean(values):8.3f} {np.min(values):6.3f} {np.max(values):6.3f}")
    # Both objectives must learn the minority class (far above the base rate).
    assert all(np.mean(v) > 0.5 for v in results.values()), results


def main() -> None:
    datasets = {
        "digits (10 classes)": (load_digits(return_X_y=True), 10),
        "breast_cancer (binary)": (load_breast_cancer(return_X_y=True), 1),
    }
    print(f"{'library':<9} {'data':<24} {'built-in':>10} {'logitloss':>10} {'rel. diff':>10}")
    failures = []
    for data_name, ((X, y), n_classes) in datasets.items():
        X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
        labels = None if n_classes == 1 else np.arange(n_classes)
        for lib, run in (("xgboost", run_xgboost), ("lightgbm", run_lightgbm)):
            p_builtin, p_logitloss = run(X_tr, y_tr, X_va, y_va, n_classes)
            loss_builtin = log_loss(y_va, p_builtin, labels=labels)
            loss_logitloss = log_loss(y_va, p_logitloss, labels=labels)
            rel = (loss_logitloss - loss_builtin) / loss_builtin
            print(f"{lib:<9} {data_name:<24} {loss_builtin:10.6f} {loss_logitloss:10.6f} "
                  f"{rel:+10.3%}")
            if loss_logitloss > loss_builtin * (1 + TOLERANCE):
                failures.append(f"{lib} on {data_name}")
    print(f"versions: xgboost {xgb.__version__}, lightgbm {lgb.__version__}, "
          f"logitloss {logitloss.__version__}")
    assert not failures, f"logitloss objective more than 1 % worse on: {', '.join(failures)}"
    print("OK: every logitloss objective within 1 % of the built-in validation log-loss")
    imbalanced_run()


if __name__ == "__main__":
    main()
