"""How many Values a picture takes: a diagram, a transcript or an explorer page of a bigger graph is refused.

Beyond a few thousand Values a picture can neither be read nor laid out quickly; every picture refuses such
a graph before any work, with advice (`check_size`), and takes `max_nodes=` to raise the limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.core.value import Value

DEFAULT_MAX_NODES = 2000


def check_size(order: Sequence[Value], max_nodes: int, caller: str) -> None:
    """Refuse a graph with more Values than `max_nodes` (ValueError), with advice: draw_dot's limit, shared."""
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"{caller}: max_nodes must be a positive whole number, got {max_nodes!r}")
    if len(order) > max_nodes:
        raise ValueError(
            f"{caller}: the graph has {len(order):,} Values, more than max_nodes={max_nodes}: too many to read "
            f"in one picture or to lay out quickly. Draw a smaller piece ({caller}(v) for an intermediate Value v, "
            "e.g. one neuron's output), group each neuron into one node (nn models with fused=True), or raise "
            f"the limit: {caller}(root, max_nodes={len(order)})."
        )
