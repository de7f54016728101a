"""Watch backpropagation: explorer pages and a transcript for the seed's network 1.1 and a small MLP.

python -m demos.explorer    # writes, under out/:
    seed_network_explorer.html              network 1.1 (sigmoid, fused neurons), with the seed's formulas
    seed_network_forward_mode_explorer.html the same, with forward mode along w1 beside the backward pass
    seed_network_elementary_explorer.html   the same network, every multiply and add its own node
    mlp_2_3_1_explorer.html                 a 2-3-1 tanh MLP on one sample
    mlp_2_16_16_1_explorer.html             the 2-16-16-1 relu MLP of demos.diagram, one neuron at a time
    seed_network_transcript.txt             engine.explain for network 1.1, with the seed's formulas
    seed_network_forward_mode_transcript.txt  forward mode along w1: explain(loss, mode="forward", wrt=w1)

Open a page in a browser (it needs no server and no network): Next or ArrowRight
steps through the forward pass, then through the backward pass one chain-rule
step at a time. At the steps that reach w1, b1, ..., b3 of network 1.1 the page
shows the seed's formula for that derivative as written, and the correction
(docs/seed-errata.md): nn.SeedNetwork's parameters carry them as notes. The
forward-mode page also fills in each value's derivative along w1 as the forward
pass computes it, and says how many sweeps each mode takes. A page
follows the steps at a readable scale, each step's node and the inputs that fit
beside it (i shows them all); Fit (the key 0) shows the whole graph, -, + and
1:1 zoom, and dragging pans.
"""

from __future__ import annotations

import time
from pathlib import Path

import nn
from demos.diagram import mlp_loss as wide_mlp_loss
from demos.diagram import seed_network_loss as elementary_seed_network_loss
from engine import Explorer, Value, explain, explore


def seed_network_loss() -> Value:
    """The seed's network 1.1 with g = sigmoid on one sample, fused neurons: the network names its values.

    u1 = w1 x + b1, h1 = g(u1), u2 = w2 h1 + b2, h2 = g(u2), ŷ = w3 h2 + b3, L = (y - ŷ)²; its
    parameters carry the seed's formulas as notes.
    """
    return seed_network_loss_and_w1()[0]


def seed_network_loss_and_w1() -> tuple[Value, Value]:
    """Network 1.1's loss as in seed_network_loss, and its first weight w1, for forward mode along it."""
    model = nn.SeedNetwork("sigmoid", seed=0)
    return model.loss(0.5, 1.0), dict(model.named_parameters())["w1"]


def mlp_loss() -> Value:
    """A 2-3-1 tanh MLP (fused neurons) on one sample, with squared error."""
    model = nn.MLP(2, [3, 1], activation="tanh", seed=0)
    out = model([0.5, -1.0])
    assert isinstance(out, Value)
    loss = nn.mse_loss(out, 0.25)
    loss.label = "L"
    return loss


def pages() -> list[tuple[str, Explorer]]:
    """The demo's explorer pages, each with the name of its file under out/."""
    seed = seed_network_loss()
    forward, w1 = seed_network_loss_and_w1()
    elementary = elementary_seed_network_loss()
    pages = [
        (seed, "seed_network_explorer.html", "The seed's network 1.1: backpropagation step by step"),
        (
            forward,
            "seed_network_forward_mode_explorer.html",
            "The seed's network 1.1: forward mode along w1, then backpropagation",
        ),
        (
            elementary,
            "seed_network_elementary_explorer.html",
            "The seed's network 1.1, every multiply and add a node of its own",
        ),
        (mlp_loss(), "mlp_2_3_1_explorer.html", "A 2-3-1 tanh MLP: backpropagation step by step"),
        (
            wide_mlp_loss(),
            "mlp_2_16_16_1_explorer.html",
            "The 2-16-16-1 relu MLP of the diagrams: 0 shows the whole graph, drag to pan",
        ),
    ]
    # Top to bottom, except the wide MLP: its 16 weights a neuron stack up better than side by side (91,610 pt wide).
    rankdirs = {"mlp_2_16_16_1_explorer.html": "LR"}
    wrts = {"seed_network_forward_mode_explorer.html": w1}
    return [
        (name, explore(root, title=title, rankdir=rankdirs.get(name, "TB"), wrt=wrts.get(name)))
        for root, name, title in pages
    ]


def main(out: Path = Path("out")) -> list[Path]:
    start = time.perf_counter()
    written = []
    for name, explorer in pages():
        written.append(explorer.save(out / name))
        print(f"{explorer.n_steps:3d} steps: {written[-1]}")
    transcript = explain(seed_network_loss())
    written.append(out / "seed_network_transcript.txt")
    written[-1].write_text(transcript + "\n", encoding="utf-8")
    print(f"network 1.1's backward pass, the first lines of {written[-1]}:")
    for line in transcript.splitlines()[:7]:
        print("   ", line)
    loss, w1 = seed_network_loss_and_w1()
    forward = explain(loss, mode="forward", wrt=w1)
    written.append(out / "seed_network_forward_mode_transcript.txt")
    written[-1].write_text(forward + "\n", encoding="utf-8")
    print(f"and forward mode along w1, the end of {written[-1]}:")
    for line in [line for line in forward.splitlines() if not line.startswith(" ")][-3:]:
        print("   ", line)
    print(f"explorer pages written in {time.perf_counter() - start:.1f} s; open them in a browser (no server needed)")
    return written


if __name__ == "__main__":
    main()
