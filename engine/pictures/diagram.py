"""Draw a Value's computation graph with Graphviz, in the style of micrograd's trace_graph.

    from engine import draw_dot
    draw_dot(loss)                        # a graphviz.Digraph: shows inline in Jupyter
    (`engine.save_diagram` writes it to a file: engine/pictures/files.py)

Every Value is a box showing its label (when it has one), its data and its
grad (and, with `wrt=w1`, between them its derivative along the leaf w1 by
forward mode, `d/dw1 ...`). The operation that produced a Value is a small oval with its name (`+`,
`*`, `tanh`, `**2`, ...); edges run from the inputs to the oval and from the
oval to the result. Fill colours tell the kinds of Value apart (see `KINDS`);
nan and inf get a red border and red text, zero gradients grey text.

Values made by nn modules carry a dotted `scope` ("layer1.neuron3"); they are
drawn inside nested Graphviz clusters, one per module, so a network reads
layer by layer and neuron by neuron.

Node names come from each Value's position in the computing order (each
leaf just before the first Value that reads it, inputs before results, found
without recursion), so the same graph always gives the same DOT text: v0, v1,
... for Values and op<i> for the operation that made v<i>
(engine/pictures/naming.py: the explorer's page and transcript use the same names).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

import graphviz

from engine.core.value import Value
from engine.derivatives.forward import forward_tangents
from engine.pictures.naming import check_wrt, computing_order, format_number, node_names, op_id, value_id
from engine.pictures.size import DEFAULT_MAX_NODES, check_size

__all__ = ["DEFAULT_MAX_NODES", "KINDS", "draw_dot", "render"]

RANKDIRS = ("LR", "TB", "RL", "BT")

# Kind of Value -> Graphviz node attributes that mark it.
KINDS: dict[str, dict[str, str]] = {
    "input / parameter": {"fillcolor": "#d5efcf"},  # a leaf with a label
    "constant": {"fillcolor": "#f2f2f2", "style": "filled,dashed"},  # a leaf without a label
    "intermediate": {"fillcolor": "#dce8f8"},
    "output": {"fillcolor": "#ffd88a", "penwidth": "2"},  # the root that was drawn
}
NON_FINITE = {"color": "red", "penwidth": "2.5"}
BAD_TEXT, ZERO_GRAD_TEXT = "red", "grey55"
OP_STYLE = {
    "shape": "ellipse",
    "style": "filled",
    "fillcolor": "white",
    "fontsize": "10",
    "height": "0.2",
    "margin": "0.03",
}
CLUSTER_STYLE = {"style": "rounded", "color": "grey60", "fontcolor": "grey35", "labeljust": "l"}


def draw_dot(
    root: Value,
    rankdir: str = "LR",
    *,
    cluster: bool | None = None,
    legend: bool = True,
    max_nodes: int = DEFAULT_MAX_NODES,
    format: str = "svg",
    grads: Mapping[Value, float] | None = None,
    wrt: Value | None = None,
) -> graphviz.Digraph:
    """The computation graph that produced `root`, as a `graphviz.Digraph`.

    rankdir: "LR" (inputs on the left, the default), "TB", "RL" or "BT".
    cluster: draw one cluster per module scope (Value.scope, nested by dots).
        None (default) means: cluster when some Value in the graph has a scope,
        i.e. when the graph comes from nn modules. Parameters go into the cluster
        named by their label's prefix ("layer1.neuron3.w2" -> "layer1.neuron3"),
        unlabelled constants into their consumers' cluster when all consumers
        share one; other leaves (inputs, labels without a dot) stay outside.
    legend: add a small key to the colours used.
    max_nodes: refuse graphs with more Values than this (ValueError), before
        anything reaches Graphviz.
    format: the Digraph's default output format for `.render()` / `.pipe()`.
    grads: the gradient to show for each Value instead of its `.grad` (the
        explorer shows the gradients of one pass); Values left out show `.grad`.
    wrt: a leaf of the graph (an input or a parameter): each box also shows its
        derivative along it, by forward mode (tangent 1 on wrt, 0 on the other
        leaves), in a cell `d/dw1 ...` between data and grad.
    """
    _check_options(root, rankdir, cluster, legend)
    if grads is not None and not isinstance(grads, Mapping):
        raise TypeError(f"draw_dot: grads must be a mapping from Value to gradient, got {type(grads).__name__}")
    order = computing_order(root)
    check_size(order, max_nodes, "draw_dot")
    grad_of = {v: v.grad for v in order} if grads is None else {v: grads.get(v, v.grad) for v in order}
    tangent = None
    if wrt is not None:
        check_wrt(order, wrt, "draw_dot")
        tangent = (f"d/d{node_names(order)[wrt]}", forward_tangents(order, {wrt: 1.0}))
    index = {v: i for i, v in enumerate(order)}
    if cluster is None:
        cluster = any(v.scope for v in order)
    scopes = _cluster_of(order) if cluster else dict.fromkeys(order, "")

    graph = graphviz.Digraph(
        "valuegrad",
        format=format,
        graph_attr={"rankdir": rankdir, "nodesep": "0.12", "ranksep": "0.3", "fontname": "Helvetica", "fontsize": "11"},
        node_attr={
            "shape": "box",
            "style": "filled",
            "height": "0.2",
            "margin": "0.04",
            "fontname": "Helvetica",
            "fontsize": "11",
        },
        edge_attr={"arrowsize": "0.6", "color": "grey35"},
    )
    # Nodes first, grouped by scope: a Value and the op that made it go to the same cluster.
    nodes_in: dict[str, list[tuple[str, dict[str, str]]]] = {"": []}
    for i, v in enumerate(order):
        nodes = nodes_in.setdefault(scopes[v], [])
        along = None if tangent is None else (tangent[0], tangent[1][v])
        nodes.append((value_id(i), _value_node(v, _kind(v, root), grad_of[v], along)))
        if v.op is not None:
            nodes.append((op_id(i), {"label": graphviz.nohtml(v.op.name), **OP_STYLE}))
    for name, attrs in nodes_in[""]:
        graph.node(name, **attrs)
    _add_clusters(graph, "", _scope_tree(nodes_in), nodes_in)
    for i, v in enumerate(order):
        for parent in v.parents:  # one edge per input, so x * x shows two
            graph.edge(value_id(index[parent]), op_id(i))
        if v.op is not None:
            graph.edge(op_id(i), value_id(i))
    if legend:
        graph.node("legend", _legend(order, root, grad_of, tangent), shape="plaintext", style="")
    return graph


def render(graph: graphviz.Digraph, fmt: str, what: str) -> bytes:
    """Run Graphviz's `dot` on `graph`; when it is missing, a RuntimeError that says how to install it."""
    try:
        return graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound as error:
        raise RuntimeError(
            f"{what} needs Graphviz's `dot` program, which is not on PATH. "
            "Install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; Fedora: sudo dnf install graphviz; "
            "macOS: brew install graphviz; conda: conda install -c conda-forge graphviz; "
            "Windows: https://graphviz.org/download/), or save a .dot file, which needs no Graphviz."
        ) from error


def _check_options(root: Any, rankdir: Any, cluster: Any, legend: Any) -> None:
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot expects a Value (e.g. a loss), got {type(root).__name__}; draw one Value at a time")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_dot: rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if cluster not in (None, True, False) or not isinstance(legend, bool):
        raise TypeError(
            f"draw_dot: cluster must be None, True or False and legend True or False, got {cluster!r}, {legend!r}"
        )


def _kind(v: Value, root: Value) -> str:
    if v is root:
        return "output"
    if v.parents:
        return "intermediate"
    return "input / parameter" if v.label else "constant"


def _value_node(v: Value, kind: str, grad: float, tangent: tuple[str, float] | None = None) -> dict[str, str]:
    """Graphviz attributes of a Value's box: an HTML-like label `name | data ... | grad ...`.

    `tangent`, when given, is a cell between data and grad: its title (`d/dw1`) and the Value's tangent.
    """
    cells = [f"<b>{html.escape(v.label)}</b>"] if v.label else []
    fields = [("data", v.data), *([] if tangent is None else [(html.escape(tangent[0]), tangent[1])]), ("grad", grad)]
    for field, x in fields:
        text = f"{field} {format_number(x)}"
        if not math.isfinite(x):
            text = f'<font color="{BAD_TEXT}"><b>{text}</b></font>'
        elif field != "data" and x == 0:  # a zero gradient or tangent: nothing flows here
            text = f'<font color="{ZERO_GRAD_TEXT}">{text}</font>'
        cells.append(text)
    row = "".join(f"<td>{cell}</td>" for cell in cells)
    label = f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="3" columns="*"><tr>{row}</tr></table>>'
    attrs = {"label": label, **KINDS[kind]}
    if not all(math.isfinite(x) for _, x in fields):
        attrs.update(NON_FINITE)
    return attrs


def _cluster_of(order: list[Value]) -> dict[Value, str]:
    """The module scope each Value is drawn in ("" = outside every cluster).

    A Value's own scope if it has one; else, for a leaf, the prefix of a dotted
    label ("layer1.neuron3.w2" -> "layer1.neuron3"); else, for an unlabelled
    leaf (a constant a module made, like the copies of the inputs a fused neuron
    reads), the scope shared by all the Values that read it. Labelled leaves
    without a dotted label (inputs such as x) stay outside every cluster.
    """
    consumers_scope: dict[Value, str] = {}
    for v in order:
        for parent in v.parents:
            consumers_scope[parent] = v.scope if consumers_scope.get(parent, v.scope) == v.scope else ""
    scopes = {}
    for v in order:
        if v.scope or v.parents:
            scopes[v] = v.scope
        elif v.label:
            scopes[v] = v.label.rpartition(".")[0]
        else:
            scopes[v] = consumers_scope.get(v, "")
    return scopes


def _scope_tree(scopes: Iterable[str]) -> dict[str, list[str]]:
    """Parent scope -> child scopes in order of first use; "layer1.neuron3" lies under "layer1"."""
    children: dict[str, list[str]] = {}
    for scope in scopes:
        parts = scope.split(".") if scope else []
        for depth in range(1, len(parts) + 1):
            parent, child = ".".join(parts[: depth - 1]), ".".join(parts[:depth])
            siblings = children.setdefault(parent, [])
            if child not in siblings:
                siblings.append(child)
    return children


def _add_clusters(
    graph: graphviz.Digraph,
    scope: str,
    children: dict[str, list[str]],
    nodes_in: dict[str, list[tuple[str, dict[str, str]]]],
) -> None:
    """A `subgraph cluster_<child>` for each child scope of `scope`, holding its nodes and its own children.

    Recursion is fine here: it goes as deep as a scope has dots, not as deep as the graph.
    """
    for child in children.get(scope, []):
        with graph.subgraph(name=f"cluster_{child}") as sub:
            sub.attr(label=child.rpartition(".")[2], **CLUSTER_STYLE)
            for name, attrs in nodes_in.get(child, []):
                sub.node(name, **attrs)
            _add_clusters(sub, child, children, nodes_in)


def _legend(
    order: list[Value],
    root: Value,
    grad_of: Mapping[Value, float],
    tangent: tuple[str, Mapping[Value, float]] | None = None,
) -> str:
    """An HTML-like table naming the colours and marks that this picture uses."""
    tangent_of = {} if tangent is None else tangent[1]
    kinds = {_kind(v, root) for v in order}
    rows = [f'<td bgcolor="{style["fillcolor"]}">{kind}</td>' for kind, style in KINDS.items() if kind in kinds]
    if root.parents:
        rows.append("<td>oval: operation (+, *, tanh, ...)</td>")
    if any(not all(map(math.isfinite, (v.data, grad_of[v], tangent_of.get(v, 0.0)))) for v in order):
        rows.append(f'<td color="{BAD_TEXT}"><font color="{BAD_TEXT}">red: nan or inf</font></td>')
    if any(grad_of[v] == 0 for v in order) or 0 in tangent_of.values():
        grey = "grad 0" if tangent is None else f"grad 0 or {html.escape(tangent[0])} 0"
        rows.append(f'<td><font color="{ZERO_GRAD_TEXT}">grey: {grey}</font></td>')
    body = "".join(f"<tr>{row}</tr>" for row in ["<td><b>legend</b></td>", *rows])
    return f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="3">{body}</table>>'
