"""Train a small MLP on scikit-learn's bundled digits with logitloss.
==================================================================

Pure NumPy: the forward pass is two matrix products, the loss and its
gradient with respect to the logits come from one fused call,
``logitloss.cross_entropy_value_and_grad(logits, labels)``, and the rest of
the backward pass is written out by hand. Reaches >= 95 % test accuracy in
a few seconds; saves the loss curve as a PNG and exits 1 below 95 %.

Run::

    pip install "logitloss[examples]"
    python examples/train_digits.py --out /tmp/digits
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

import logitloss as ll

Array = npt.NDArray[np.float64]


class MLP:
    """64 -> hidden (ReLU) -> 10, trained with SGD + momentum and L2."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int, rng: np.random.Generator) -> None:
        self.params: dict[str, Array] = {
            "w1": rng.standard_normal((n_in, n_hidden)) * np.sqrt(2.0 / n_in),
            "b1": np.zeros(n_hidden),
            "w2": rng.standard_normal((n_hidden, n_out)) * np.sqrt(1.0 / n_hidden),
            "b2": np.zeros(n_out),
        }
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x: Array) -> tuple[Array, Array]:
        """Logits and the hidden activations (kept for the backward pass)."""
        p = self.params
        hidden = np.maximum(x @ p["w1"] + p["b1"], 0.0)
        return hidden @ p["w2"] + p["b2"], hidden

    def step(
        self, x: Array, labels: npt.NDArray[np.int64], lr: float, momentum: float, l2: float
    ) -> float:
        """One SGD step on a mini-batch; returns its mean cross-entropy."""
        p = self.params
        logits, hidden = self.forward(x)
        loss, d_logits = ll.cross_entropy_value_and_grad(logits, labels)  # 'mean' reduction
        d_hidden = (d_logits @ p["w2"].T) * (hidden > 0)
        grads = {
            "w2": hidden.T @ d_logits + l2 * p["w2"],
            "b2": d_logits.sum(axis=0),
            "w1": x.T @ d_hidden + l2 * p["w1"],
            "b1": d_hidden.sum(axis=0),
        }
        for k, g in grads.items():
            self.velocity[k] = momentum * self.velocity[k] - lr * g
            p[k] += self.velocity[k]
        return float(loss)

    def predict(self, x: Array) -> npt.NDArray[np.intp]:
        classes: npt.NDArray[np.intp] = np.argmax(self.forward(x)[0], axis=1)
        return classes


def save_loss_curve(losses: list[float], test_acc: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(1, len(losses) + 1), losses)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training cross-entropy")
    ax.set_yscale("log")
    ax.set_title(f"digits MLP with logitloss (test accuracy {test_acc:.1%})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="directory for the PNG")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from tqdm import tqdm

    digits = load_digits()
    x = np.asarray(digits.data, dtype=np.float64) / 16.0  # pixels 0..16 -> [0, 1]
    y = np.asarray(digits.target, dtype=np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=args.seed
    )
    mean = x_train.mean(axis=0)
    x_train, x_test = x_train - mean, x_test - mean

    rng = np.random.default_rng(args.seed)
    model = MLP(x.shape[1], 64, 10, rng)
    batch = 32
    losses: list[float] = []
    bar = tqdm(range(args.epochs), desc="training", unit="epoch")
    for _ in bar:
        order = rng.permutation(len(x_train))
        total = 0.0
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            loss = model.step(x_train[idx], y_train[idx], lr=0.05, momentum=0.9, l2=1e-4)
            total += loss * len(idx)
        losses.append(total / len(order))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")

    accuracy = float(np.mean(model.predict(x_test) == y_test))
    out_dir = args.out if args.out is not None else Path(tempfile.mkdtemp(prefix="digits-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "digits_loss_curve.png"
    save_loss_curve(losses, accuracy, png)
    print(f"final training loss: {losses[-1]:.4f}")
    print(f"test accuracy: {accuracy:.4f} ({len(y_test)} test images)")
    print(f"loss curve: {png}")
    if accuracy < 0.95:
        print("FAILED: test accuracy below 95 %")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
