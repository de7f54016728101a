"""Run every demo and say where its results are: `python -m demos` (what `make demo` does)."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

# In the order a learner meets them: the seed's network and its backward pass step by step, its gradients,
# its training, vanishing gradients (seed 1.2), micrograd's classic demo, second derivatives, then real data and
# a small GPT; last, one page (out/index.html) with all their results.
DEMOS = [
    ("diagram", "the seed's network 1.1 drawn after one backward pass"),
    ("explorer", "watch backpropagation: interactive pages of the seed's network 1.1 and two MLPs"),
    ("seed_gradients", "seed 1.1: hand-derived gradients (as written / corrected) against autograd"),
    ("seed_training", "seed 1.1: network trained on a small regression task"),
    ("vanishing_gradients", "seed 1.2: first-layer gradient against depth, with the bound"),
    ("moons", "micrograd's classic demo: an MLP classifies two moons"),
    ("newton", "higher-order gradients: Newton's method"),
    ("digits", "real data: handwritten digits, valuegrad against scikit-learn's MLPClassifier"),
    ("microgpt", "a tiny GPT (Karpathy's microgpt) trained on names in batches through engine.vectorize"),
    ("report", "one page with every demo's results: out/index.html"),
]


def main(out: Path = Path("out")) -> list[Path]:
    written: list[tuple[str, list[Path]]] = []
    start = time.perf_counter()
    for i, (name, what) in enumerate(DEMOS, start=1):
        print(f"\n=== [{i}/{len(DEMOS)}] demos.{name}: {what}", flush=True)
        began = time.perf_counter()
        paths = importlib.import_module(f"demos.{name}").main(out)
        print(f"--- demos.{name} done in {time.perf_counter() - began:.1f} s", flush=True)
        written.append((name, paths))
    print(f"\nAll {len(DEMOS)} demos finished in {time.perf_counter() - start:.1f} s. Results:")
    for name, paths in written:
        for path in paths:
            print(f"  {name:20s} {path}")
    return [p for _, paths in written for p in paths]


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("out"))
