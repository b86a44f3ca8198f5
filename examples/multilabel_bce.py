"""Multi-label logistic regression with class-imbalance weighting.
===============================================================

Each sample may carry several of C labels, most of them rare. A linear
model is trained with ``logitloss.binary_cross_entropy_with_logits_value_and_grad``
and ``pos_weight`` = (negatives / positives) per label, PyTorch's recipe for
imbalanced multi-label data: a ``(C,)`` ``pos_weight`` applies along the last
(label) axis. Prints the macro-averaged F1 on held-out data next to the best
constant predictor's and exits 1 unless the model beats it.

Run::

    pip install "logitloss[examples]"
    python examples/multilabel_bce.py
"""

from __future__ import annotations

import argparse

import numpy as np
import numpy.typing as npt

import logitloss as ll

Array = npt.NDArray[np.float64]


def macro_f1(predicted: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_]) -> float:
    """Mean over labels of 2 TP / (2 TP + FP + FN) (a label never predicted
    nor present counts as 1)."""
    tp = np.sum(predicted & truth, axis=0)
    fp = np.sum(predicted & ~truth, axis=0)
    fn = np.sum(~predicted & truth, axis=0)
    denom = 2 * tp + fp + fn
    per_label = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 1.0)
    return float(per_label.mean())


def train(
    x: Array, y: Array, pos_weight: Array, epochs: int, lr: float
) -> tuple[Array, Array, list[float]]:
    """Full-batch gradient descent on the weighted mean BCE; returns the
    weights, the biases and the loss per epoch."""
    n_features, n_labels = x.shape[1], y.shape[1]
    w = np.zeros((n_features, n_labels))
    b = np.zeros(n_labels)
    losses: list[float] = []
    for _ in range(epochs):
        logits = x @ w + b
        loss, d_logits = ll.binary_cross_entropy_with_logits_value_and_grad(
            logits, y, pos_weight=pos_weight
        )
        w -= lr * (x.T @ d_logits)
        b -= lr * d_logits.sum(axis=0)
        losses.append(float(loss))
    return w, b, losses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from sklearn.datasets import make_multilabel_classification
    from sklearn.model_selection import train_test_split

    x_all, y_all = make_multilabel_classification(
        n_samples=3000, n_features=40, n_classes=8, n_labels=1, random_state=args.seed
    )
    x_all = np.asarray(x_all, dtype=np.float64)
    y_all = np.asarray(y_all, dtype=np.float64)
    x_train, x_test, y_train, y_test = train_test_split(
        x_all, y_all, test_size=0.3, random_state=args.seed
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-12
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

    positives = y_train.sum(axis=0)
    pos_weight = (len(y_train) - positives) / np.maximum(positives, 1.0)
    print("label frequency:", np.array2string(positives / len(y_train), precision=3))
    print("pos_weight:     ", np.array2string(pos_weight, precision=2))

    w, b, losses = train(x_train, y_train, pos_weight, args.epochs, lr=0.5)
    print(f"weighted BCE: {losses[0]:.4f} (epoch 1) -> {losses[-1]:.4f} (epoch {len(losses)})")

    truth = y_test > 0.5
    model_f1 = macro_f1((x_test @ w + b) > 0.0, truth)
    # The best constant predictor for F1 predicts every label everywhere.
    baseline_f1 = macro_f1(np.ones_like(truth), truth)
    print(f"macro F1 on {len(y_test)} test samples: model {model_f1:.4f}, "
          f"all-positive baseline {baseline_f1:.4f}")
    if not model_f1 > baseline_f1 + 0.05:
        print("FAILED: the model does not beat the trivial baseline")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
