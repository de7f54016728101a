"""What every picture calls a node and how it writes a number: diagrams, transcripts and the explorer agree.

Node names come from a Value's position in the topological order (inputs before results):
`v0`, `v1`, ... for Values and `op<i>` for the operation that made `v<i>`. A transcript calls a
Value by its label when no other Value of the graph has the same one, else by its node name.
Numbers have 4 significant digits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from engine.core.value import Value


def value_id(i: int) -> str:
    """The node name of the Value at position i of the topological order: v0, v1, ..."""
    return f"v{i}"


def op_id(i: int) -> str:
    """The node name of the operation that made the Value at position i: op0, op1, ..."""
    return f"op{i}"


def node_names(order: Sequence[Value]) -> dict[Value, str]:
    """What the transcript and the explorer call each Value: its label if no other Value shares it, else v<i>."""
    used = Counter(v.label for v in order)
    return {v: v.label if v.label and used[v.label] == 1 else value_id(i) for i, v in enumerate(order)}


def format_number(x: float) -> str:
    """4 significant digits, as every picture shows a number; nan, inf and -inf spelled out."""
    return "0" if x == 0 else f"{x:.4g}"
