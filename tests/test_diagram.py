"""Diagrams (engine/pictures/diagram.py): what a person must see in the DOT text and in the rendered picture.

The DOT text is read back with a small parser below (the graphviz package writes
one statement per line); rendered SVG is read with xml.etree, so there Graphviz
itself tells us which nodes, texts and edges the picture holds.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz
import pytest

import engine
import nn
from engine import Value, save_diagram
from engine.pictures.diagram import KINDS, draw_dot
from engine.pictures.size import DEFAULT_MAX_NODES

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- reading DOT text


@dataclass
class Node:
    name: str
    attrs: str
    cluster: str  # innermost enclosing subgraph, "" at top level
    texts: list[str] = field(default_factory=list)  # what the label shows, cell by cell

    @property
    def label(self) -> str:
        """The Value's label (first cell) or the operation's name."""
        return self.texts[0]


@dataclass
class Dot:
    nodes: dict[str, Node]
    edges: list[tuple[str, str]]
    clusters: dict[str, str]  # cluster name -> enclosing cluster name ("" at top level)

    def values(self) -> list[Node]:
        return [n for n in self.nodes.values() if re.fullmatch(r"v\d+", n.name)]

    def ops(self) -> list[Node]:
        return [n for n in self.nodes.values() if re.fullmatch(r"op\d+", n.name)]

    def named(self, label: str) -> Node:
        """The one Value node whose label is `label`."""
        found = [n for n in self.values() if n.texts and n.texts[0] == label]
        assert len(found) == 1, f"expected one node labelled {label!r}, found {len(found)}"
        return found[0]

    def field(self, node: Node, name: str) -> str:
        """The text after `name` ("data" or "grad") in the node's label."""
        (cell,) = [t for t in node.texts if t.startswith(name + " ")]
        return cell.split(" ", 1)[1]

    def op_between(self, inputs: list[Node], output: Node) -> Node:
        """The op node with edges from exactly `inputs` (in order) and to `output`."""
        (op_name,) = [tail for tail, head in self.edges if head == output.name]
        assert [tail for tail, head in self.edges if head == op_name] == [n.name for n in inputs]
        return self.nodes[op_name]


def _unquote(name: str) -> str:
    return name[1:-1] if name.startswith('"') else name


def _label_texts(attrs: str) -> list[str]:
    html_label = re.match(r"label=<(.*)>(?: |$)", attrs)
    if html_label:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", html_label.group(1))
        return [_html_text(cell) for cell in cells]
    plain = re.match(r'label=("(?:[^"\\]|\\.)*"|\S+)', attrs)
    assert plain, attrs
    return [_unquote(plain.group(1))]


def _html_text(cell: str) -> str:
    text = re.sub(r"<[^>]+>", "", cell)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")


def parse_dot(source: str) -> Dot:
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    clusters: dict[str, str] = {}
    open_clusters: list[str] = []
    for line in source.splitlines():
        line = line.strip()
        if re.fullmatch(r"digraph \S+ \{", line):
            open_clusters.append("")
        elif m := re.fullmatch(r"subgraph (\S+) \{", line):
            clusters[_unquote(m.group(1))] = open_clusters[-1]
            open_clusters.append(_unquote(m.group(1)))
        elif line == "}":
            open_clusters.pop()
        elif m := re.fullmatch(r"(\S+) -> (\S+)", line):
            edges.append((m.group(1), m.group(2)))
        elif (m := re.fullmatch(r"(\S+) \[(.*)\]", line)) and m.group(1) not in ("graph", "node", "edge"):
            nodes[m.group(1)] = Node(m.group(1), m.group(2), open_clusters[-1], _label_texts(m.group(2)))
    assert not open_clusters, "unbalanced braces"
    return Dot(nodes, edges, clusters)


def assert_shows(dot: Dot, node: Node, data: float, grad: float) -> None:
    """The node shows data and grad to 4 significant digits."""
    for name, expected in (("data", data), ("grad", grad)):
        shown = float(dot.field(node, name))
        assert shown == pytest.approx(expected, rel=5e-4, abs=1e-12), (node.label, name, shown, expected)


def cells(node: Node) -> dict[str, str]:
    """The raw HTML of each cell of a Value's label, by its first word ("data", "grad"; the label cell by its text)."""
    raw = re.findall(r"<td[^>]*>(.*?)</td>", node.attrs)
    return {_html_text(cell).split(" ", 1)[0]: cell for cell in raw}


def box_attrs(node: Node) -> dict[str, str]:
    """The node's Graphviz attributes other than its label, unquoted: fillcolor, color (the border), ..."""
    rest = re.sub(r"^label=(<.*>|\"(?:[^\"\\]|\\.)*\"|\S+) ?", "", node.attrs)
    return {key: _unquote(value) for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', rest)}


def font_colour(cell: str) -> str | None:
    """The colour of the <font> around a cell's text, or None when the text is in the default colour."""
    match = re.fullmatch(r'<font color="([^"]+)">.*</font>', cell)
    return match.group(1) if match else None


def is_grey(colour: str | None) -> bool:
    """A Graphviz grey by name (grey55, gray) or as SVG writes it (#8c8c8c: equal channels, not black or white)."""
    if colour is None:
        return False
    if re.fullmatch(r"gr[ae]y\d*", colour):
        return True
    rgb = re.fullmatch(r"#([0-9a-f]{2})\1\1", colour.lower())
    return rgb is not None and rgb.group(1) not in ("00", "ff")


# ---------------------------------------------------------------- graphs used below


def micrograd_expression() -> dict[str, Value]:
    """micrograd's trace_graph example: L = (a*b + c) * f, after backward()."""
    a, b, c, f = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c"), Value(-2.0, label="f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    L.backward()
    return dict(a=a, b=b, c=c, f=f, e=e, d=d, L=L)


def marked_values() -> dict[str, Value]:
    """A graph with every mark after backward(), each on its own labelled leaf.

    w: finite data, infinite gradient (d/dw of (w x) 1e10 is 1e10 x = 1e310); x: finite both;
    z: data 0, gradient 3; q: data 4, gradient 0 (it is multiplied by 0); p: data 0 and gradient 0.
    """
    w, x = Value(1e-300, label="w"), Value(1e300, label="x")
    z, q, p = Value(0.0, label="z"), Value(4.0, label="q"), Value(0.0, label="p")
    total = (w * x) * 1e10 + z * 3 + q * 0 + p * 0
    total.label = "total"
    total.backward()
    assert math.isinf(w.grad) and math.isfinite(w.data) and (z.grad, q.grad, p.grad) == (3.0, 0.0, 0.0)
    return dict(w=w, x=x, z=z, q=q, p=p, total=total)


def mlp_loss(seed: int = 0) -> tuple[nn.MLP, Value]:
    model = nn.MLP(2, [3, 1], activation="tanh", seed=seed)
    loss = nn.mse_loss(model([0.5, -1.0]), 0.25)
    loss.backward()
    return model, loss


def reachable(root: Value) -> set[Value]:
    """Every Value `root` depends on, through micrograd's `_prev` (an independent walk)."""
    seen, todo = {root}, [root]
    while todo:
        for parent in todo.pop()._prev:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


# ---------------------------------------------------------------- what the DOT text shows


def test_micrograd_expression_shows_labels_data_grads_ops_and_edges():
    v = micrograd_expression()
    graph = draw_dot(v["L"])
    assert isinstance(graph, graphviz.Digraph)
    dot = parse_dot(graph.source)
    a, b, c, f, e, d = (v[k].data for k in "abcfed")
    # Closed-form gradients of L = (a b + c) f.
    grads = {"a": f * b, "b": f * a, "c": f, "f": a * b + c, "e": f, "d": f, "L": 1.0}
    assert len(dot.values()) == 7 and len(dot.ops()) == 3
    for name, grad in grads.items():
        assert_shows(dot, dot.named(name), v[name].data, grad)
    node = dot.named
    assert dot.op_between([node("a"), node("b")], node("e")).label == "*"
    assert dot.op_between([node("e"), node("c")], node("d")).label == "+"
    assert dot.op_between([node("d"), node("f")], node("L")).label == "*"
    assert len(dot.edges) == 9  # 2 inputs + 1 output per operation


def test_every_value_once_every_operation_and_edges_input_to_op_to_output():
    _, loss = mlp_loss()
    values = reachable(loss)
    for i, value in enumerate(sorted(values, key=id)):
        value.label = f"n{i}"  # unique names, so each node can be found by its label
    dot = parse_dot(draw_dot(loss, legend=False).source)
    assert sorted(n.label for n in dot.values()) == sorted(v.label for v in values)
    interior = [v for v in values if v._prev]
    assert sorted(n.label for n in dot.ops()) == sorted(v._op for v in interior)
    for value in interior:
        op = dot.op_between([dot.named(p.label) for p in value.parents], dot.named(value.label))
        assert op.label == value.op.name
    assert len(dot.edges) == sum(len(v.parents) + 1 for v in interior)


def test_an_input_used_twice_gets_two_edges():
    x = Value(3.0, label="x")
    y = x * x
    y.label = "y"
    y.backward()
    dot = parse_dot(draw_dot(y).source)
    assert dot.op_between([dot.named("x"), dot.named("x")], dot.named("y")).label == "*"
    assert_shows(dot, dot.named("x"), 3.0, 6.0)


def test_op_names_from_the_table_including_constant_powers():
    x = Value(0.3, label="x")
    y = (x**2).tanh() + x.sigmoid() - x.exp() / 2
    dot = parse_dot(draw_dot(y).source)
    assert sorted(n.label for n in dot.ops()) == sorted(["**2", "tanh", "sigmoid", "exp", "/", "+", "-"])


def test_numbers_are_compact_four_significant_digits():
    root = Value(3.14159265, label="p") * Value(-123456.0, label="q")
    dot = parse_dot(draw_dot(root).source)
    assert dot.field(dot.named("p"), "data") == "3.142"
    assert dot.field(dot.named("q"), "data") == "-1.235e+05"
    assert dot.field(dot.named("p"), "grad") == "0"


def test_labels_and_op_names_are_escaped():
    angle = engine.defop("<op>", lambda x: x, lambda g, out, x: (g,))
    root = angle(Value(1.0, label="a<b & c>"))
    dot = parse_dot(draw_dot(root).source)
    assert dot.named("a<b & c>")
    assert [n.label for n in dot.ops()] == ["<op>"]


def test_same_graph_twice_gives_identical_source():
    assert draw_dot(micrograd_expression()["L"]).source == draw_dot(micrograd_expression()["L"]).source
    assert draw_dot(mlp_loss()[1]).source == draw_dot(mlp_loss()[1]).source


def test_source_is_identical_across_processes():
    script = "import nn; from engine.pictures.diagram import draw_dot\n" + (
        "m = nn.MLP(2, [3, 1], seed=1); loss = nn.mse_loss(m([0.5, -1.0]), 0.25); loss.backward()\n"
        "print(draw_dot(loss).source)"
    )
    sources = [
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert sources[0] == sources[1] and "linear" in sources[0]


# ---------------------------------------------------------------- kinds, marks and legend


def test_kinds_have_their_own_colours():
    x = Value(2.0, label="x")
    out = (x * 3).tanh()  # 3 becomes an unlabelled constant
    dot = parse_dot(draw_dot(out).source)
    fill = {n.name: re.search(r'fillcolor="([^"]+)"', n.attrs).group(1) for n in dot.values()}
    by_data = {dot.field(n, "data"): n for n in dot.values()}
    kinds = {
        "input / parameter": dot.named("x"),
        "constant": by_data["3"],
        "intermediate": by_data["6"],
        "output": by_data[f"{math.tanh(6.0):.4g}"],
    }
    assert len({fill[n.name] for n in kinds.values()}) == 4
    for kind, node in kinds.items():
        assert fill[node.name] == KINDS[kind]["fillcolor"], kind
    assert "dashed" in by_data["3"].attrs


def test_nan_inf_are_red_and_zero_grads_grey():
    big = Value(math.inf, label="big")
    nan = big * 0  # inf * 0 = nan
    nan.label = "nan"
    out = nan + Value(1.0, label="one")
    zero_grad = Value(5.0, label="unused") * 0
    total = out + zero_grad
    total.backward()
    dot = parse_dot(draw_dot(total).source)
    for name in ("big", "nan"):
        assert "color=red" in dot.named(name).attrs, name
        assert re.search(r'<font color="red"><b>data (nan|inf)</b>', dot.named(name).attrs), name
    assert "color=red" not in dot.named("one").attrs
    assert re.search(r'<font color="grey\d*">grad 0</font>', dot.named("unused").attrs)
    assert re.search(r"<td>grad 1</td>", dot.named("one").attrs)


def test_legend_lists_what_is_used_and_can_be_left_out():
    root = Value(1.0, label="a") * 2
    with_legend = parse_dot(draw_dot(root).source)
    legend = with_legend.nodes["legend"].texts
    assert {"input / parameter", "constant", "output"} <= set(legend) and "intermediate" not in legend
    assert "legend" not in parse_dot(draw_dot(root, legend=False).source).nodes


def test_a_non_finite_gradient_is_red_though_its_data_is_finite():
    dot = parse_dot(draw_dot(marked_values()["total"]).source)
    w = dot.named("w")
    assert box_attrs(w).get("color") == "red"  # the border
    assert font_colour(cells(w)["grad"]) == "red" and "grad inf" in cells(w)["grad"]
    assert font_colour(cells(w)["data"]) is None  # its finite data keeps the default colour
    x = dot.named("x")
    assert "color" not in box_attrs(x) and font_colour(cells(x)["data"]) is None
    assert font_colour(cells(x)["grad"]) is None


def test_zero_gradients_are_grey_and_zero_data_is_not():
    dot = parse_dot(draw_dot(marked_values()["total"]).source)
    shown = {name: cells(dot.named(name)) for name in "zqp"}
    assert shown["z"]["data"] == "data 0" and shown["z"]["grad"] == "grad 3"  # data 0, grad 3: no mark
    assert shown["q"]["data"] == "data 4" and is_grey(font_colour(shown["q"]["grad"]))
    assert shown["p"]["data"] == "data 0" and is_grey(font_colour(shown["p"]["grad"]))
    assert all("color" not in box_attrs(dot.named(name)) for name in "zqp")  # zero is not an error


def _leaf(data: float, backward: bool) -> Value:
    leaf = Value(data, label="a")
    if backward:
        leaf.backward()
    return leaf


def _product(data: float, backward: bool) -> Value:
    root = Value(data, label="a") * 2
    if backward:
        root.backward()
    return root


@pytest.mark.parametrize(
    "root, oval, red, grey",
    [
        (lambda: _product(1.0, backward=True), True, False, False),  # every grad nonzero and finite
        (lambda: _product(1.0, backward=False), True, False, True),  # before backward every grad is 0
        (lambda: _product(math.inf, backward=True), True, True, False),  # inf data; the constant's grad is inf
        (lambda: _product(math.nan, backward=False), True, True, True),
        (lambda: _leaf(1.0, backward=True), False, False, False),  # a leaf as root: no operation drawn
        (lambda: _leaf(1.0, backward=False), False, False, True),
        (lambda: marked_values()["total"], True, True, True),  # only a gradient is inf; some grads are 0
    ],
)
def test_legend_has_the_oval_red_and_grey_rows_only_when_the_picture_uses_them(root, oval, red, grey):
    legend = parse_dot(draw_dot(root()).source).nodes["legend"]
    rows = {_html_text(cell).split(":")[0]: cell for cell in re.findall(r"<td[^>]*>(.*?)</td>", legend.attrs)}
    assert ("oval" in rows, "red" in rows, "grey" in rows) == (oval, red, grey)
    if oval:
        assert _html_text(rows["oval"]) == "oval: operation (+, *, tanh, ...)"
    if red:
        assert font_colour(rows["red"]) == "red" and _html_text(rows["red"]) == "red: nan or inf"
    if grey:
        assert is_grey(font_colour(rows["grey"])) and _html_text(rows["grey"]) == "grey: grad 0"


def test_wrt_adds_each_values_derivative_along_a_leaf_between_data_and_grad():
    v = micrograd_expression()
    a, b, c, f = (v[k].data for k in "abcf")
    along_a = {"a": 1.0, "b": 0.0, "c": 0.0, "f": 0.0, "e": b, "d": b, "L": b * f}  # L = (a b + c) f, by hand
    grads = {"a": f * b, "b": f * a, "c": f, "f": a * b + c, "e": f, "d": f, "L": 1.0}
    dot = parse_dot(draw_dot(v["L"], wrt=v["a"]).source)
    for name, tangent in along_a.items():
        shown = cells(dot.named(name))
        assert list(shown)[-3:] == ["data", "d/da", "grad"], name  # the tangent between data and grad
        assert _html_text(shown["d/da"]) == f"d/da {tangent:.4g}", name
        assert is_grey(font_colour(shown["d/da"])) == (tangent == 0), name  # nothing flows: grey, as a grad 0
        assert_shows(dot, dot.named(name), v[name].data, grads[name])  # data and grad as without wrt
    legend = dot.nodes["legend"].texts
    assert "grey: grad 0 or d/da 0" in legend
    assert not any("d/d" in text for node in parse_dot(draw_dot(v["L"]).source).nodes.values() for text in node.texts)


def test_a_non_finite_tangent_is_red_with_a_red_border():
    marked = marked_values()
    dot = parse_dot(draw_dot(marked["total"], wrt=marked["w"]).source)
    total = dot.named("total")  # d total/dw = x 1e10 = 1e310: inf, where its data and grad are finite
    assert font_colour(cells(total)["d/dw"]) == "red" and "d/dw inf" in cells(total)["d/dw"]
    assert box_attrs(total).get("color") == "red" and font_colour(cells(total)["data"]) is None
    assert "color" not in box_attrs(parse_dot(draw_dot(marked["total"]).source).named("total"))


@pytest.mark.parametrize(
    "wrt, error, message",
    [
        ("a", TypeError, "draw_dot: wrt must be a Value"),
        (Value(1.0), ValueError, "draw_dot: wrt is not in the graph"),
    ],
)
def test_a_bad_wrt_is_refused(wrt, error, message):
    v = micrograd_expression()
    with pytest.raises(error, match=message):
        draw_dot(v["L"], wrt=wrt)
    with pytest.raises(ValueError, match="draw_dot: wrt must be a leaf of the graph .*; d is made by \\+"):
        draw_dot(v["L"], wrt=v["d"])  # forward mode's direction starts at a leaf


# ---------------------------------------------------------------- clusters


def test_one_cluster_per_scope_nested_by_dots_with_the_right_members():
    model, loss = mlp_loss()
    interior = [v for v in reachable(loss) if v._prev]
    for i, value in enumerate(interior):
        value.label = f"n{i}"
    dot = parse_dot(draw_dot(loss).source)
    layer_clusters = {f"cluster_layer{i}": "" for i in (1, 2)}
    neuron_clusters = {f"cluster_layer1.neuron{j}": "cluster_layer1" for j in (1, 2, 3)}
    assert dot.clusters == {**layer_clusters, **neuron_clusters, "cluster_layer2.neuron1": "cluster_layer2"}
    for i, layer in enumerate(model.layers, start=1):
        for j, neuron in enumerate(layer.neurons, start=1):
            inside = [n for n in dot.nodes.values() if n.cluster == f"cluster_layer{i}.neuron{j}"]
            params = {n.label for n in inside if n.name.startswith("v") and n.label.startswith("layer")}
            assert params == {name for name, _ in neuron.named_parameters()}
            ops = ["linear"] if neuron.activation == "linear" else ["linear", neuron.activation]
            assert sorted(n.label for n in inside if n.name.startswith("op")) == sorted(ops)
    for value in interior:
        expected = f"cluster_{value.scope}" if value.scope else ""
        assert dot.named(value.label).cluster == expected
    for layer_cluster in layer_clusters:  # layers hold only their neurons' clusters
        assert not [n for n in dot.nodes.values() if n.cluster == layer_cluster]


def test_inputs_stay_outside_and_constants_join_their_neuron():
    model = nn.MLP(2, [2, 1], seed=0)
    x1, x2 = Value(0.5, label="x1"), Value(-1.0, label="x2")
    out = model([x1, x2])
    dot = parse_dot(draw_dot(out).source)
    assert dot.named("x1").cluster == dot.named("x2").cluster == ""
    # Given plain numbers, the model makes one input Value per number, x1 and x2, outside every cluster.
    dot = parse_dot(draw_dot(model([0.5, -1.0])).source)
    assert dot.named("x1").cluster == dot.named("x2").cluster == ""
    # A neuron called on its own makes its own constant copies, drawn inside its cluster.
    neuron = model.layers[0].neurons[0]
    dot = parse_dot(draw_dot(neuron([0.5, -1.0])).source)
    constants = [n for n in dot.values() if n.texts[0].startswith("data ")]
    assert {n.cluster for n in constants if n.label == "data 0.5"} == {"cluster_layer1.neuron1"}


def test_seed_network_parameters_go_by_their_scope_else_outside():
    model = nn.SeedNetwork("tanh", seed=0, fused=False)
    dot = parse_dot(draw_dot(model(Value(0.5, label="x"))).source)
    assert set(dot.clusters) >= {"cluster_layer1.neuron1", "cluster_layer3.neuron1"}
    assert {n.label for n in dot.ops() if n.cluster == "cluster_layer1.neuron1"} == {"*", "+", "tanh"}
    for name, _ in model.named_parameters():  # labels like w1 name no module: they stay outside
        assert dot.named(name).cluster == "", name
    assert dot.named("x").cluster == ""


def test_cluster_option():
    _, loss = mlp_loss()
    assert "subgraph" not in draw_dot(loss, cluster=False).source
    assert draw_dot(loss, cluster=True).source == draw_dot(loss).source
    plain = micrograd_expression()["L"]  # no scopes: no clusters by default
    assert "subgraph" not in draw_dot(plain).source


# ---------------------------------------------------------------- size limit and bad options


def chain(n: int) -> Value:
    """A graph of exactly n Values: x, -x, --x, ..."""
    v = Value(1.0, label="x")
    for _ in range(n - 1):
        v = -v
    return v


def test_graphs_above_max_nodes_fail_with_a_message_saying_what_to_do():
    assert parse_dot(draw_dot(chain(10), max_nodes=10).source).values()  # exactly at the limit: fine
    with pytest.raises(ValueError, match=r"the graph has 11 Values, more than max_nodes=10") as error:
        draw_dot(chain(11), max_nodes=10)
    for advice in ("smaller piece", "fused=True", "max_nodes="):
        assert advice in str(error.value)
    draw_dot(chain(DEFAULT_MAX_NODES))
    with pytest.raises(ValueError, match=f"max_nodes={DEFAULT_MAX_NODES}"):
        draw_dot(chain(DEFAULT_MAX_NODES + 1))


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: draw_dot([Value(1.0)]), TypeError),  # type: ignore[arg-type]
        (lambda: draw_dot(Value(1.0), "XY"), ValueError),
        (lambda: draw_dot(Value(1.0), max_nodes=0), ValueError),
        (lambda: draw_dot(Value(1.0), max_nodes=2.5), ValueError),  # type: ignore[arg-type]
        (lambda: draw_dot(Value(1.0), cluster="yes"), TypeError),  # type: ignore[arg-type]
    ],
)
def test_bad_options_are_refused(call, error):
    with pytest.raises(error, match="draw_dot"):
        call()


# ---------------------------------------------------------------- save_diagram without Graphviz


def test_unknown_suffix_names_the_supported_ones(tmp_path):
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf, \.dot"):
        save_diagram(Value(1.0), tmp_path / "graph.jpg")
    assert not list(tmp_path.iterdir())


def test_dot_file_needs_no_graphviz_and_other_formats_say_how_to_install(tmp_path, monkeypatch):
    root = micrograd_expression()["L"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` program anywhere
    written = save_diagram(root, tmp_path / "sub" / "graph.dot")
    assert written == tmp_path / "sub" / "graph.dot"
    assert written.read_text() == draw_dot(root).source
    for suffix in (".svg", ".png", ".pdf"):
        with pytest.raises(RuntimeError, match="apt-get install graphviz") as error:
            save_diagram(root, tmp_path / f"graph{suffix}")
        assert "brew install graphviz" in str(error.value) and ".dot" in str(error.value)
        assert isinstance(error.value.__cause__, graphviz.ExecutableNotFound)
        assert not (tmp_path / f"graph{suffix}").exists()


def test_missing_graphviz_backend_gives_the_same_advice(tmp_path, monkeypatch):
    def no_dot(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", no_dot)
    with pytest.raises(RuntimeError, match="brew install graphviz"):
        save_diagram(Value(1.0), tmp_path / "graph.png")


# ---------------------------------------------------------------- real rendering through `dot`
# Each test takes the `dot_program` fixture (conftest.py): skipped without Graphviz, failed under CI.


SVG = "{http://www.w3.org/2000/svg}"


def svg_picture(path: Path) -> tuple[dict[str, dict[str, Any]], list[str], list[str]]:
    """Nodes (title -> texts and shape colours), edge titles and cluster titles of a rendered SVG."""
    tree = ET.parse(path)
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[str] = []
    clusters: list[str] = []
    for group in tree.iter(f"{SVG}g"):
        kind, title = group.get("class"), group.findtext(f"{SVG}title", default="")
        if kind == "node":
            texts = ["".join(t.itertext()) for t in group.iter(f"{SVG}text")]
            text_fills = {"".join(t.itertext()): t.get("fill") for t in group.iter(f"{SVG}text")}
            strokes = {s.get("stroke") for s in group if s.tag in (f"{SVG}polygon", f"{SVG}path")}
            nodes[title] = {"texts": texts, "text_fills": text_fills, "strokes": strokes}
        elif kind == "edge":
            edges.append(title)
        elif kind == "cluster":
            clusters.append(title)
    return nodes, edges, clusters


def test_rendered_svg_shows_every_value_op_and_edge(dot_program, tmp_path):
    v = micrograd_expression()
    path = save_diagram(v["L"], tmp_path / "expression.svg")
    nodes, edges, _ = svg_picture(path)
    dot = parse_dot(draw_dot(v["L"]).source)
    assert set(nodes) == set(dot.nodes)  # every node of the source is drawn, nothing else
    for name in "abcfedL":
        node = dot.named(name)
        assert nodes[node.name]["texts"] == node.texts  # label, "data ...", "grad ..."
        assert node.texts[0] == name and float(node.texts[1].split()[1]) == pytest.approx(v[name].data, rel=5e-4)
    assert sorted(edges) == sorted(f"{tail}->{head}" for tail, head in dot.edges)
    mul = dot.op_between([dot.named("a"), dot.named("b")], dot.named("e"))
    assert nodes[mul.name]["texts"] == ["*"]


def test_rendered_svg_marks_nan_in_red_and_shows_clusters(dot_program, tmp_path):
    bad = Value(math.inf, label="bad") * 0
    bad.label = "nan"
    _, loss = mlp_loss()
    nodes, _, _ = svg_picture(save_diagram(bad, tmp_path / "nan.svg"))
    (nan_node,) = [n for n in nodes.values() if "nan" in n["texts"]]
    assert "red" in nan_node["strokes"] and nan_node["text_fills"]["data nan"] == "red"
    _, _, clusters = svg_picture(save_diagram(loss, tmp_path / "mlp.svg"))
    assert sorted(clusters) == sorted(parse_dot(draw_dot(loss).source).clusters)


def test_rendered_svg_shows_red_and_grey_marks_where_the_source_puts_them(dot_program, tmp_path):
    nodes, _, _ = svg_picture(save_diagram(marked_values()["total"], tmp_path / "marks.svg"))
    by_label = {n["texts"][0]: n for n in nodes.values() if n["texts"]}
    w = by_label["w"]
    assert "red" in w["strokes"] and w["text_fills"]["grad inf"] == "red"
    assert w["text_fills"]["data 1e-300"] is None
    for name, data, grad in (("z", "data 0", "grad 3"), ("q", "data 4", "grad 0"), ("p", "data 0", "grad 0")):
        fills = by_label[name]["text_fills"]
        assert fills[data] is None and "red" not in by_label[name]["strokes"], name
        assert is_grey(fills[grad]) if grad == "grad 0" else fills[grad] is None, name
    legend = by_label["legend"]["text_fills"]
    assert legend["red: nan or inf"] == "red" and is_grey(legend["grey: grad 0"])
    assert "oval: operation (+, *, tanh, ...)" in legend


def test_escaped_label_renders_as_written(dot_program, tmp_path):
    angle = engine.defop("<op>", lambda x: x, lambda g, out, x: (g,))
    root = angle(Value(1.0, label="a<b & c>"))
    nodes, _, _ = svg_picture(save_diagram(root, tmp_path / "escaped.svg"))
    assert any(n["texts"][:1] == ["a<b & c>"] for n in nodes.values())
    assert any(n["texts"] == ["<op>"] for n in nodes.values())


def test_png_and_pdf_files_are_written(dot_program, tmp_path):
    root = micrograd_expression()["L"]
    assert save_diagram(root, tmp_path / "g.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert save_diagram(root, tmp_path / "g.PDF").read_bytes().startswith(b"%PDF-")
    assert draw_dot(root).pipe(format="svg").lstrip().startswith(b"<?xml")


def test_demo_writes_its_pictures(dot_program, tmp_path):
    from demos import diagram

    written = diagram.main(tmp_path)
    assert [p.name for p in written] == ["seed_network.svg", "seed_network.png", "mlp_2_16_16_1.svg"]
    nodes, _, clusters = svg_picture(tmp_path / "seed_network.svg")
    labels = {n["texts"][0] for n in nodes.values() if n["texts"]}
    assert {"x", "y", "w1", "b1", "w2", "b2", "w3", "b3", "u1", "h1", "u2", "h2", "ŷ", "L"} <= labels
    nodes, _, clusters = svg_picture(tmp_path / "mlp_2_16_16_1.svg")
    assert len(clusters) == 3 + 16 + 16 + 1
    assert "layer2.neuron16.w16" in {n["texts"][0] for n in nodes.values() if n["texts"]}
