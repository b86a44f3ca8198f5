"""Train a next-word model on Python's own standard library, logits never formed.
==============================================================================

A word-level language model over a vocabulary of 20 000+ words: the hidden
state of a position is the sum of the embeddings of the two words before it,
and the output layer is a ``(V, D)`` weight with a bias. Every training step
calls ``logitloss.linear_cross_entropy_value_and_grad(hidden, weight,
target, bias)``, which computes the cross-entropy of ``hidden @ weight.T +
bias`` chunk by chunk, so the ``(batch, V)`` logits and their gradient never
exist at once. The corpus is the ``.py`` files of the standard library of the
Python that runs the script: nothing to download.

It prints the held-out perplexity falling and the step's peak memory next to
what the materialised logits would have needed. Runs in under a minute.

Run::

    pip install "logitloss[examples]"
    python examples/next_token_linear.py
"""

from __future__ import annotations

import argparse
import collections
import re
import sysconfig
import time
import tracemalloc
from pathlib import Path

import numpy as np
import numpy.typing as npt

import logitloss as ll

Array = npt.NDArray[np.float32]
WORD = re.compile(r"[A-Za-z_]+|\d+|[^\sA-Za-z_\d]")


def corpus(max_tokens: int) -> list[str]:
    """The standard library's source as a token list (words, numbers, symbols)."""
    tokens: list[str] = []
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or "test" in path.parts:
            continue
        try:
            tokens += WORD.findall(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
        if len(tokens) >= max_tokens:
            break
    return tokens[:max_tokens]


def encode(tokens: list[str], vocab_size: int) -> tuple[npt.NDArray[np.int64], int]:
    """Token ids over the most frequent words; id 0 is every other word."""
    counts = collections.Counter(tokens)
    ids = {w: i + 1 for i, (w, _) in enumerate(counts.most_common(vocab_size - 1))}
    return np.array([ids.get(t, 0) for t in tokens], np.int64), len(ids) + 1


class Model:
    """h = E1[w(t-1)] + E2[w(t-2)]; logits = h @ W.T + b (never formed)."""

    def __init__(self, vocab: int, dim: int, rng: np.random.Generator) -> None:
        scale = 1.0 / np.sqrt(dim)
        self.params: dict[str, Array] = {
            "e1": (rng.standard_normal((vocab, dim)) * scale).astype(np.float32),
            "e2": (rng.standard_normal((vocab, dim)) * scale).astype(np.float32),
            "w": (rng.standard_normal((vocab, dim)) * scale).astype(np.float32),
            "b": np.zeros(vocab, np.float32),
        }
        self.m = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.steps = 0

    def hidden(self, prev1: npt.NDArray[np.int64], prev2: npt.NDArray[np.int64]) -> Array:
        h: Array = self.params["e1"][prev1] + self.params["e2"][prev2]
        return h

    def step(self, prev1: npt.NDArray[np.int64], prev2: npt.NDArray[np.int64],
             target: npt.NDArray[np.int64], lr: float) -> float:
        p = self.params
        loss, (d_h, d_w, d_b) = ll.linear_cross_entropy_value_and_grad(
            self.hidden(prev1, prev2), p["w"], target, p["b"])
        assert d_b is not None  # there is a bias
        grads: dict[str, Array] = {"w": d_w, "b": d_b, "e1": np.zeros_like(p["e1"]),
                                   "e2": np.zeros_like(p["e2"])}
        np.add.at(grads["e1"], prev1, d_h)
        np.add.at(grads["e2"], prev2, d_h)
        self.adam(grads, lr)
        return float(loss)

    def adam(self, grads: dict[str, Array], lr: float, b1: float = 0.9,
             b2: float = 0.999) -> None:
        self.steps += 1
        for k, g in grads.items():
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1**self.steps)
            v_hat = self.v[k] / (1 - b2**self.steps)
            self.params[k] -= (lr * m_hat / (np.sqrt(v_hat) + 1e-8)).astype(np.float32)

    def perplexity(self, ids: npt.NDArray[np.int64]) -> float:
        loss = ll.linear_cross_entropy(self.hidden(ids[1:-1], ids[:-2]), self.params["w"],
                                       ids[2:], self.params["b"])
        return float(np.exp(loss))


def progress(total: int) -> object:
    try:
        from tqdm import tqdm
    except ImportError:  # a plain counter without the [examples] extra
        return None
    return tqdm(total=total, unit="step", leave=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1_500_000)
    parser.add_argument("--vocab", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args()

    start = time.perf_counter()
    ids, vocab = encode(corpus(args.tokens), args.vocab)
    split = int(len(ids) * 0.95)
    train, held_out = ids[:split], ids[split:split + 20_000]
    print(f"corpus: {len(ids):,} tokens of the standard library, vocabulary {vocab:,} words")
    rng = np.random.default_rng(0)
    model = Model(vocab, args.dim, rng)
    first = model.perplexity(held_out)
    print(f"held-out perplexity before training: {first:,.0f} (uniform: {vocab:,})")

    bar = progress(args.steps)
    peak = 0
    for step in range(1, args.steps + 1):
        pos = rng.integers(2, len(train), args.batch)
        tracemalloc.start()
        loss = model.step(train[pos - 1], train[pos - 2], train[pos], args.lr)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        if bar is not None:
            bar.update(1)  # type: ignore[attr-defined]
            bar.set_postfix(loss=f"{loss:.3f}")  # type: ignore[attr-defined]
        if step % 20 == 0:
            print(f"step {step:3d}: held-out perplexity {model.perplexity(held_out):,.0f}")
    if bar is not None:
        bar.close()  # type: ignore[attr-defined]
    last = model.perplexity(held_out)
    logits_bytes = args.batch * vocab * 4
    print(f"peak memory of a training step: {peak / 2**20:.0f} MiB (parameters' gradients "
          f"included); the materialised logits alone would take {logits_bytes / 2**20:.0f} MiB, "
          f"{2 * logits_bytes / 2**20:.0f} MiB with their gradient")
    print(f"perplexity fell from {first:,.0f} to {last:,.0f} in "
          f"{time.perf_counter() - start:.0f} s")
    return 0 if last < first / 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
