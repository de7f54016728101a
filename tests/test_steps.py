"""The backward pass step by step (engine/pictures/steps.py): `backward_steps` as data, `explain` as a transcript.

Oracles: `backward()` itself (the final gradients must be the same floats), the
graph's reversed topological order (the order of the steps), each node's
forward function by central finite differences (the local derivatives), and
a replay of the contributions (each parent's total after each step).
"""

from __future__ import annotations

import math
import random
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import backward_gradients, central_differences, micrograd_expression

import engine
import nn
from engine import Value, backward_steps, draw_dot, explain, topological_order
from engine.pictures.naming import computing_order, format_number, node_names
from engine.pictures.steps import Step, final_gradients, tangent_steps

# ---------------------------------------------------------------- graphs


def shared_subexpressions() -> Value:
    """A node used by three others and a leaf reached along several paths: gradients must add up."""
    x, y = Value(0.7, label="x"), Value(-1.3, label="y")
    a = x * y
    b = a.tanh() + a * x
    c = (b * a).exp() / (1 + y * y) - (x**3).sigmoid()
    return c.log() if c.data > 0 else (c * c + 1).log()


def square() -> Value:
    """x * x: one node that reads the same leaf twice (two contributions to it in one step)."""
    x = Value(3.0, label="x")
    y = x * x
    y.label = "y"
    return y


def fused_linear() -> Value:
    """engine.linear, the n-ary fused neuron b + w·x, then a smooth activation."""
    w = [Value(v, label=f"w{i}") for i, v in enumerate((0.5, -1.5, 2.0), start=1)]
    x = [Value(v, label=f"x{i}") for i, v in enumerate((1.0, 0.25, -0.5), start=1)]
    b = Value(0.1, label="b")
    return engine.linear(*w, *x, b).tanh() * 2


def mlp_loss(fused: bool = True) -> Value:
    model = nn.MLP(2, [3, 3, 1], activation="tanh", seed=3, fused=fused)
    out = model([0.5, -1.0])
    assert isinstance(out, Value)
    return nn.mse_loss(out, 0.25)


def seed_network_loss() -> Value:
    model = nn.SeedNetwork("sigmoid", seed=0, fused=False)
    return nn.mse_loss(model(Value(0.5, label="x")), Value(1.0, label="y"))


def many_operations() -> Value:
    """Most rows of the operation table at smooth points (no kinks), so finite differences apply."""
    x, y = Value(0.8, label="x"), Value(1.7, label="y")
    terms = [
        x / y,
        x - y,
        -x,
        x**y,
        x ** Value(2.5),
        (x * 3).sqrt(),
        abs(x - y),
        x.sin() * y.cos(),
        x.softplus(),
        (x - 0.2).relu(),
        engine.logsumexp(x, y, x * y),
        2**x,
    ]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


GRAPHS = {
    "micrograd_expression": micrograd_expression,
    "shared_subexpressions": shared_subexpressions,
    "x_times_x": square,
    "fused_linear": fused_linear,
    "mlp_fused": lambda: mlp_loss(True),
    "mlp_elementary": lambda: mlp_loss(False),
    "seed_network": seed_network_loss,
    "many_operations": many_operations,
}


@pytest.fixture(params=list(GRAPHS), ids=list(GRAPHS))
def root(request: pytest.FixtureRequest) -> Value:
    return GRAPHS[request.param]()


def same_float(a: float, b: float) -> bool:
    """The same float: equal bit for bit, except that 0.0 and -0.0 count as the same (backward() adds to 0.0)."""
    if a == 0 and b == 0:
        return True
    return struct.pack("<d", a) == struct.pack("<d", b)


# ---------------------------------------------------------------- backward_steps


def test_final_gradients_are_backwards_bit_for_bit(root: Value) -> None:
    steps = backward_steps(root)
    expected = backward_gradients(root)
    got = final_gradients(root, steps)
    assert set(got) == set(expected)  # every Value is reached
    for v, grad in expected.items():
        assert same_float(got[v], grad), (v, got[v], grad)


def test_steps_follow_reversed_topological_order_one_per_interior_node(root: Value) -> None:
    steps = backward_steps(root)
    assert [s.node for s in steps] == [v for v in reversed(topological_order(root)) if v.parents]
    for step in steps:
        assert isinstance(step, Step)
        assert [part.parent for part in step.contributions] == list(step.node.parents)


def test_no_grad_is_read_or_changed(root: Value) -> None:
    order = topological_order(root)
    rng = random.Random(0)
    before = [rng.uniform(-5, 5) for _ in order]  # arbitrary stale gradients, as after other passes
    for v, g in zip(order, before):
        v.grad = g
    steps = backward_steps(root)
    assert [v.grad for v in order] == before
    fresh = backward_gradients(root)  # the steps ignored the stale gradients: this pass alone
    assert all(same_float(final_gradients(root, steps)[v], fresh[v]) for v in order)


def test_step_gradient_is_complete_and_contributions_add_up(root: Value) -> None:
    steps = backward_steps(root)
    final = final_gradients(root, steps)
    running: dict[Value, float] = {root: 1.0}
    for step in steps:
        # A node's step comes after every contribution to it: its gradient is its final one.
        assert step.grad == running[step.node] == final[step.node]
        for part in step.contributions:  # each total is the parent's gradient right after this contribution
            before = running.get(part.parent)
            expected = part.contribution if before is None else before + part.contribution
            assert part.total == pytest.approx(expected, rel=1e-14, abs=1e-300)
            running[part.parent] = part.total
    assert running == final


def test_contribution_is_gradient_times_local_derivative(root: Value) -> None:
    for step in backward_steps(root):
        for part in step.contributions:
            assert part.contribution == pytest.approx(step.grad * part.local, rel=1e-12, abs=1e-300)


def test_local_derivatives_match_central_finite_differences(root: Value) -> None:
    checked = 0
    for step in backward_steps(root):
        node = step.node
        assert node.op is not None
        inputs = [p.data for p in node.parents]
        numeric = central_differences(node.op.forward, inputs, h=1e-6 * max(1.0, *map(abs, inputs)))
        for i, part in enumerate(step.contributions):
            assert part.local == pytest.approx(numeric[i], rel=1e-5, abs=1e-7), (node.op.name, i)
            checked += 1
    assert checked == sum(len(v.parents) for v in topological_order(root))


# ---------------------------------------------------------------- the order pictures show: computing order


def test_computing_order_moves_only_the_leaves_each_just_before_its_first_reader(root: Value) -> None:
    topological = topological_order(root)
    order = computing_order(root)
    assert sorted(map(id, order)) == sorted(map(id, topological))  # the same Values, each once
    assert [v for v in order if v.parents] == [v for v in topological if v.parents]  # computed ones: same order
    position = {v: i for i, v in enumerate(order)}
    computed = [v for v in order if v.parents]
    for previous, reader in zip([None, *computed], computed):
        # The leaves right before a computed Value are those it is the first to read, in its input order.
        first_read = [p for p in dict.fromkeys(reader.parents) if not p.parents]
        first_read = [p for p in first_read if min(position[c] for c in computed if p in c.parents) == position[reader]]
        start = 0 if previous is None else position[previous] + 1
        assert order[start : position[reader]] == first_read, reader
    for v in order:  # and so a topological order: every Value after its inputs
        assert all(position[p] < position[v] for p in v.parents)


def test_the_seeds_network_is_shown_in_the_order_one_computes_it_by_hand() -> None:
    for fused, expected in [
        (True, "w1 x b1 u1 h1 w2 b2 u2 h2 w3 b3 ŷ y e L"),
        (False, "w1 x w1x b1 u1 h1 w2 w2h1 b2 u2 h2 w3 w3h2 b3 ŷ y e L"),  # u1 = b1 + w1x, as nn.Neuron adds
    ]:
        loss = nn.SeedNetwork("sigmoid", seed=0, fused=fused).loss(0.5, 1.0)
        order = computing_order(loss)
        assert " ".join(node_names(order)[v] for v in order) == expected, fused
        assert topological_order(loss)[0].label == "y"  # the walk backward() reverses meets the target first


def test_a_leaf_alone_is_its_own_order() -> None:
    x = Value(2.0, label="x")
    assert computing_order(x) == [x] and explain(x) == "dx/dx = 1"


def test_uses_the_one_general_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    walk = engine.pictures.steps.backward_pass

    def spy(*args, **kwargs):
        calls.append(args)
        return walk(*args, **kwargs)

    monkeypatch.setattr(engine.pictures.steps, "backward_pass", spy)
    backward_steps(micrograd_expression())
    assert len(calls) == 1


def test_a_leaf_takes_no_step() -> None:
    x = Value(2.0, label="x")
    assert backward_steps(x) == []
    assert final_gradients(x, []) == {x: 1.0}
    assert explain(x) == "dx/dx = 1"


def test_bad_input_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="backward_steps expects a Value.*float"):
        backward_steps(2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="explain expects a Value.*list"):
        explain([Value(1.0)])  # type: ignore[arg-type]


def test_a_failing_rule_raises_as_backward_does() -> None:
    x = Value(0.0, label="x")
    y = x.sqrt()  # d sqrt(x)/dx = 1 / (2 sqrt(x)): division by zero at 0
    with pytest.raises(ZeroDivisionError, match=r"derivative of sqrt\(x = 0.0\)"):
        backward_steps(y)


# ---------------------------------------------------------------- explain

LINE = re.compile(r"^dL/d(\S+) \+= dL/d(\S+) · ∂(\S+)/∂(\S+) = (\S+) · (\S+) = (\S+)(?:  \(after this step: (\S+)\))?$")


def test_transcript_of_the_seed_network_reads_like_the_issue() -> None:
    model = nn.SeedNetwork("sigmoid", seed=0)  # fused neurons: ŷ = linear(w3, h2, b3), one node
    p = {name: v.data for name, v in model.named_parameters()}
    lines = explain(model.loss(0.5, 1.0)).splitlines()  # the network names u1, h1, u2, h2, ŷ; its loss y and L
    assert lines[0] == "dL/dL = 1"
    # The seed's quantities by hand, from the parameters alone
    x, y = 0.5, 1.0
    h1 = 1 / (1 + math.exp(-(p["w1"] * x + p["b1"])))
    h2 = 1 / (1 + math.exp(-(p["w2"] * h1 + p["b2"])))
    y_hat = p["w3"] * h2 + p["b3"]
    dL_dyhat = -2 * (y - y_hat)
    dL_dh2 = dL_dyhat * p["w3"]
    dL_du2 = dL_dh2 * h2 * (1 - h2)

    def line(parent: str, node: str, g: float, local: float) -> str:
        numbers = f"{format_number(g)} · {format_number(local)} = {format_number(g * local)}"
        return f"dL/d{parent} += dL/d{node} · ∂{node}/∂{parent} = {numbers}"

    for expected in [
        line("w3", "ŷ", dL_dyhat, h2),
        line("h2", "ŷ", dL_dyhat, p["w3"]),
        line("u2", "h2", dL_dh2, h2 * (1 - h2)),
        line("h1", "u2", dL_du2, p["w2"]),
        line("u1", "h1", dL_du2 * p["w2"], h1 * (1 - h1)),
    ]:
        assert expected in lines
    assert "dL/dw3 += dL/dŷ · ∂ŷ/∂w3 = -3.241 · 0.3904 = -1.265" in lines  # the issue's example, to the digit


def test_the_readmes_transcript_is_what_its_example_prints(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = r"```python\n([^`]*print\(explain\(loss\)\)\n)```\n\nprints\n\n```text\n([^`]*)```"
    code, shown = re.search(example, readme).groups()  # type: ignore[union-attr]
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out == shown
    assert "dL/dh2 += dL/dŷ" in shown and "v12" not in shown and shown.count("the seed writes") == 6


def test_one_line_per_contribution_with_the_steps_numbers(root: Value) -> None:
    root.label = "L"
    steps = backward_steps(root)
    lines = explain(root).splitlines()
    assert lines[0] == "dL/dL = 1"
    parts = [(step, part) for step in steps for part in step.contributions]
    # Under a line, the note of the Value it reaches (the seed network's parameters have one), indented.
    notes = [line for _, part in parts for line in part.parent.note.splitlines()]
    assert [line.removeprefix("    ") for line in lines if line.startswith("    ")] == notes
    lines = [line for line in lines if not line.startswith("    ")]
    assert len(lines) == 1 + len(parts)
    for line, (step, part) in zip(lines[1:], parts):
        match = LINE.match(line)
        assert match, line
        parent, node, node_again, parent_again, g, local, contribution, total = match.groups()
        assert (node_again, parent_again) == (node, parent)
        numbers = (format_number(step.grad), format_number(part.local), format_number(part.contribution))
        assert (g, local, contribution) == numbers
        assert total == (None if part.total == part.contribution else format_number(part.total))


def test_names_are_labels_else_the_diagrams_node_names() -> None:
    x = Value(1.5, label="x")
    twin_a, twin_b = Value(2.0, label="w"), Value(3.0, label="w")  # a shared label cannot name one Value
    root = (x * twin_a + twin_b).tanh()
    root.label = "out"
    text = explain(root)
    order = computing_order(root)
    source = draw_dot(root).source
    names_used = set(re.findall(r"/d(\S+) ", text)) | set(re.findall(r"∂\S+/∂(\S+) ", text))
    for name in names_used - {"x", "out"}:
        assert re.fullmatch(r"v\d+", name), name
        i = int(name[1:])
        assert f"\t{name} [" in source  # the diagram draws that Value under the same name
        assert order[i].label in ("", "w")
    assert {"v1", "v3"} <= names_used  # the two w's, by position
    assert "x" in names_used


def test_numbers_have_four_significant_digits() -> None:
    x = Value(3.14159265, label="p")
    root = x * Value(-123456.0, label="q")
    root.label = "r"
    assert explain(root).splitlines()[1:] == [
        "dr/dp += dr/dr · ∂r/∂p = 1 · -1.235e+05 = -1.235e+05",
        "dr/dq += dr/dr · ∂r/∂q = 1 · 3.142 = 3.142",
    ]


def test_x_times_x_shows_both_contributions_and_the_total() -> None:
    assert explain(square()).splitlines() == [
        "dy/dy = 1",
        "dy/dx += dy/dy · ∂y/∂x = 1 · 3 = 3",
        "dy/dx += dy/dy · ∂y/∂x = 1 · 3 = 3  (after this step: 6)",
    ]


def test_notes_are_printed_under_each_line_that_reaches_their_value() -> None:
    root = micrograd_expression()
    order = {v.label: v for v in topological_order(root)}
    text = explain(root, notes={order["a"]: "first line\nsecond line", order["d"]: "d note"})
    lines = text.splitlines()
    a_line = next(i for i, line in enumerate(lines) if line.startswith("dL/da +="))
    assert lines[a_line + 1 : a_line + 3] == ["    first line", "    second line"]
    d_line = next(i for i, line in enumerate(lines) if line.startswith("dL/dd +="))
    assert lines[d_line + 1] == "    d note"
    assert len(lines) == 1 + 6 + 3


def test_a_values_own_note_is_shown_unless_notes_replace_it() -> None:
    root = micrograd_expression()
    order = {v.label: v for v in topological_order(root)}
    order["a"].note = "a's own note"
    lines = explain(root).splitlines()
    a_line = next(i for i, line in enumerate(lines) if line.startswith("dL/da +="))
    assert lines[a_line + 1] == "    a's own note" and len(lines) == 1 + 6 + 1
    replaced = explain(root, notes={order["a"]: "given"}).splitlines()
    assert replaced[a_line + 1] == "    given" and "a's own note" not in "\n".join(replaced)
    assert explain(root, notes={order["a"]: ""}) == explain(micrograd_expression())  # "" hides it


def test_notes_change_no_number() -> None:
    """A note is text for people: the steps, the transcript's lines and backward()'s gradients are those without it."""
    plain, noted = seed_network_loss(), seed_network_loss()
    for v in topological_order(plain):
        v.note = ""
    for v in topological_order(noted):
        v.note = v.note or f"a note on {v.label or 'a Value'}\nover two lines"
    transcript = [line for line in explain(noted).splitlines() if not line.startswith("    ")]
    assert transcript == explain(plain).splitlines()
    plain_grads, noted_grads = backward_gradients(plain), backward_gradients(noted)
    assert [noted_grads[v] for v in topological_order(noted)] == [plain_grads[v] for v in topological_order(plain)]


def test_bad_notes_are_named() -> None:
    root = micrograd_expression()
    with pytest.raises(TypeError, match="notes must be a mapping"):
        explain(root, notes=["a"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not in the graph"):
        explain(root, notes={Value(1.0): "elsewhere"})
    with pytest.raises(TypeError, match="note for .* must be a str"):
        explain(root, notes={root: 3})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="keyed by Values"):
        explain(root, notes={"L": "text"})  # type: ignore[dict-item]
    leaf = next(v for v in topological_order(root) if v.label == "a")
    with pytest.raises(TypeError, match="str"):  # a Value's own note is a str or nothing
        leaf.note = 3  # type: ignore[assignment]
    with pytest.raises(TypeError, match="str"):
        leaf.scope = None  # type: ignore[assignment]
    assert (leaf.note, leaf.scope) == ("", "")
    assert "    given" in explain(root, notes={leaf: "given"})  # notes given for it replace it
    assert backward_gradients(root)[leaf] == 6.0  # backward() reads no note: dL/da = b f = (-3)(-2)


def test_a_graph_over_the_limit_gets_draw_dots_refusal() -> None:
    root = mlp_loss()
    size = len(topological_order(root))
    with pytest.raises(ValueError) as refused_draw:
        draw_dot(root, max_nodes=size - 1)
    with pytest.raises(ValueError) as refused_explain:
        explain(root, max_nodes=size - 1)
    assert str(refused_explain.value) == str(refused_draw.value).replace("draw_dot", "explain")
    assert f"max_nodes={size}" in str(refused_explain.value)
    assert explain(root, max_nodes=size).startswith("dv")
    with pytest.raises(ValueError, match="explain: max_nodes must be a positive whole number"):
        explain(root, max_nodes=0)


def test_non_finite_numbers_are_spelled_out() -> None:
    x = Value(math.inf, label="x")
    root = x * Value(2.0, label="two")
    root.label = "r"
    assert "dr/dtwo += dr/dr · ∂r/∂two = 1 · inf = inf" in explain(root)


# ---------------------------------------------------------------- forward mode: tangent_steps, explain(mode="forward")


def leaves_of(root: Value) -> list[Value]:
    return [v for v in computing_order(root) if v.op is None]


def replayed(root: Value) -> tuple[list[Value], Callable[..., list[Any]]]:
    """The leaves of root's graph, and the graph as a function of them: fn(*leaves) -> every computed Value.

    Each node's own operation runs again on what its inputs became, so under engine.jvp the function
    gives forward mode's tangent of every Value of the recorded graph (and on floats, its values).
    """
    order = computing_order(root)
    leaves = [v for v in order if v.op is None]

    def fn(*xs: Any) -> list[Any]:
        now: dict[Value, Any] = dict(zip(leaves, xs))
        for v in order:
            if v.op is not None:
                now[v] = v.op(*[now[p] for p in v.parents])
        return [now[v] for v in order if v.op is not None]

    return leaves, fn


def test_tangents_are_engine_jvps_for_every_value_and_every_leaf(root: Value) -> None:
    leaves, fn = replayed(root)
    computed = [v for v in computing_order(root) if v.op is not None]
    point = [leaf.data for leaf in leaves]
    for wrt in leaves:
        steps = tangent_steps(root, wrt)
        assert [s.value for s in steps] == computing_order(root)
        _, expected = engine.jvp(fn, point, [float(leaf is wrt) for leaf in leaves])
        got = {s.value: s.tangent for s in steps}
        assert [got[v] for v in computed] == pytest.approx(expected, rel=1e-13, abs=1e-300), wrt
        assert all(got[leaf] == float(leaf is wrt) for leaf in leaves)


def test_the_roots_tangent_along_a_leaf_is_the_backward_gradient(root: Value) -> None:
    grads = backward_gradients(root)
    for wrt in leaves_of(root):
        assert tangent_steps(root, wrt)[-1].tangent == pytest.approx(grads[wrt], rel=1e-12, abs=1e-14), wrt


def test_tangents_match_central_finite_differences(root: Value) -> None:
    order = computing_order(root)
    leaves = leaves_of(root)

    def values_at(wrt: Value, data: float) -> list[float]:  # every Value, the graph's forward functions on floats
        now = {v: (data if v is wrt else v.data) for v in leaves}
        for v in order:
            if v.op is not None:
                now[v] = v.op.forward(*[now[p] for p in v.parents])
        return [now[v] for v in order]

    for wrt in leaves[:4]:
        h = 1e-6 * max(1.0, abs(wrt.data))
        up, down = values_at(wrt, wrt.data + h), values_at(wrt, wrt.data - h)
        numeric = [(u - d) / (2 * h) for u, d in zip(up, down)]
        got = [s.tangent for s in tangent_steps(root, wrt)]
        assert got == pytest.approx(numeric, rel=1e-5, abs=1e-7), wrt


def test_terms_are_local_derivative_times_the_inputs_tangent(root: Value) -> None:
    for wrt in leaves_of(root)[:3]:
        tangents = {}
        for step in tangent_steps(root, wrt):
            if step.terms:
                assert [t.parent for t in step.terms] == list(step.value.parents)
                assert [t.tangent for t in step.terms] == [tangents[p] for p in step.value.parents]
                assert step.tangent == pytest.approx(sum(t.local * t.tangent for t in step.terms), rel=1e-12)
            elif step.value.op is not None:  # forward mode skips a Value no input of which depends on wrt
                assert step.tangent == 0 and not any(tangents[p] for p in step.value.parents)
            tangents[step.value] = step.tangent


def test_tangent_steps_change_no_grad(root: Value) -> None:
    order = topological_order(root)
    for v in order:
        v.grad = 0.25
    tangent_steps(root, leaves_of(root)[0])
    assert all(v.grad == 0.25 for v in order)


TANGENT_LINE = re.compile(r"^d(\S+)/d(\S+) = (?:(.+) = (.+) = )?(\S+)(  \(no input of \S+ depends on \S+\))?$")


def test_forward_transcript_has_one_line_per_value_with_the_steps_numbers(root: Value) -> None:
    root.label = "L"
    order = computing_order(root)
    names = node_names(order)
    wrt = leaves_of(root)[-1]
    steps = tangent_steps(root, wrt)
    lines = explain(root, mode="forward", wrt=wrt).splitlines()
    tangent_lines, summary = lines[: len(order)], [line for line in lines[len(order) :] if not line.startswith(" ")]
    for line, step in zip(tangent_lines, steps):
        match = TANGENT_LINE.match(line)
        assert match, line
        value, direction, symbols, numbers, tangent, skipped = match.groups()
        assert (value, direction, tangent) == (names[step.value], names[wrt], format_number(step.tangent))
        assert (symbols is None) == (not step.terms)
        assert (skipped is not None) == (step.value.op is not None and not step.terms)
        if step.terms:
            inputs, w = [names[t.parent] for t in step.terms], names[wrt]
            assert symbols.split(" + ") == [f"∂{value}/∂{p} · d{p}/d{w}" for p in inputs]
            products = [f"{format_number(t.local)} · {format_number(t.tangent)}" for t in step.terms]
            assert numbers.split(" + ") == products
    n = len(leaves_of(root))
    leaves, sweeps = (f"all {n} leaves", f"{n} sweeps") if n > 1 else ("the 1 leaf", "1 sweep")  # x * x: one
    assert summary == [
        f"forward mode: dL/d{names[wrt]} = {format_number(steps[-1].tangent)} in 1 sweep (with every Value's "
        f"d/d{names[wrt]}); dL/d(leaf) for {leaves}: {sweeps}, one per leaf",
        f'reverse mode: dL/d(leaf) for {leaves} in 1 backward sweep (explain without mode="forward")',
    ]


def test_the_seed_networks_forward_transcript_gives_dL_dw1_as_the_backward_pass_does() -> None:
    model = nn.SeedNetwork("sigmoid", seed=0)
    p = {name: v for name, v in model.named_parameters()}
    loss = model.loss(0.5, 1.0)
    lines = explain(loss, mode="forward", wrt=p["w1"]).splitlines()
    # The tangents along w1 by hand, from the parameters alone: each layer's slope times what reaches it.
    w1, b1, w2, b2, w3, b3 = (p[n].data for n in ("w1", "b1", "w2", "b2", "w3", "b3"))
    x, y = 0.5, 1.0
    h1 = 1 / (1 + math.exp(-(w1 * x + b1)))
    h2 = 1 / (1 + math.exp(-(w2 * h1 + b2)))
    y_hat = w3 * h2 + b3
    by_hand = {"u1": x, "h1": h1 * (1 - h1) * x}
    by_hand["u2"] = w2 * by_hand["h1"]
    by_hand["h2"] = h2 * (1 - h2) * by_hand["u2"]
    by_hand["ŷ"] = w3 * by_hand["h2"]
    by_hand["e"] = -by_hand["ŷ"]
    by_hand["L"] = 2 * (y - y_hat) * by_hand["e"]
    tangent_lines = {line.split("/", 1)[0][1:]: line for line in lines if re.match(r"^d\S+/dw1 = ", line)}
    assert list(tangent_lines) == "w1 x b1 u1 h1 w2 b2 u2 h2 w3 b3 ŷ y e L".split()  # computing order
    for name, tangent in by_hand.items():
        assert tangent_lines[name].endswith(f" = {format_number(tangent)}"), name
    assert tangent_lines["w1"] == "dw1/dw1 = 1" and tangent_lines["b1"] == "db1/dw1 = 0"
    assert tangent_lines["h1"] == f"dh1/dw1 = ∂h1/∂u1 · du1/dw1 = {format_number(h1 * (1 - h1))} · 0.5 = " + (
        format_number(by_hand["h1"])
    )
    # The backward pass gives the same dL/dw1: the README's transcript ends its w1 line with -0.1206.
    loss.backward()
    assert by_hand["L"] == pytest.approx(p["w1"].grad, rel=1e-12)
    assert tangent_lines["L"].endswith(f" = {format_number(p['w1'].grad)}") and "-0.1206" in tangent_lines["L"]
    forward, *note, reverse = lines[len(tangent_lines) :]
    assert forward.startswith("forward mode: dL/dw1 = -0.1206 in 1 sweep") and "8 sweeps, one per leaf" in forward
    assert reverse.startswith("reverse mode: dL/d(leaf) for all 8 leaves in 1 backward sweep")
    assert [line.removeprefix("    ") for line in note] == p["w1"].note.splitlines()  # the seed's formula for w1
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"one sweep reaches the same dL/dw1 = {format_number(p['w1'].grad)}" in readme  # its word on forward mode


def test_forward_transcript_of_x_times_x_and_of_values_forward_mode_skips() -> None:
    y = square()
    (x,) = leaves_of(y)
    assert explain(y, mode="forward", wrt=x).splitlines()[:2] == [
        "dx/dx = 1",
        "dy/dx = ∂y/∂x · dx/dx + ∂y/∂x · dx/dx = 3 · 1 + 3 · 1 = 6",
    ]
    model = nn.SeedNetwork("sigmoid", seed=0)
    loss = model.loss(0.5, 1.0)
    lines = explain(loss, mode="forward", wrt=dict(model.named_parameters())["w3"]).splitlines()
    assert "du1/dw3 = 0  (no input of u1 depends on w3)" in lines
    assert "dh2/dw3 = 0  (no input of h2 depends on w3)" in lines
    assert any(line.startswith("dŷ/dw3 = ∂ŷ/∂w3 · dw3/dw3 + ") for line in lines)


def test_a_partial_that_is_not_finite_along_a_direction_not_taken_spoils_nothing() -> None:
    x, y = Value(-2.0, label="x"), Value(3.0, label="y")
    z = x**y  # ∂z/∂y = z log(x) is nan at x < 0; along x it is never needed
    z.label = "z"
    (step,) = [s for s in tangent_steps(z, x) if s.value is z]
    assert step.tangent == 3 * (-2.0) ** 2 == engine.jvp(lambda a, b: a**b, [-2.0, 3.0], [1.0, 0.0])[1]
    assert math.isnan(step.terms[1].local) and step.terms[1].tangent == 0
    line = explain(z, mode="forward", wrt=x).splitlines()[2]
    assert line == "dz/dx = ∂z/∂x · dx/dx + ∂z/∂y · dy/dx = 12 · 1 + nan · 0 = 12"


def test_forward_transcript_uses_forward_modes_one_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    sweep = engine.pictures.steps.forward_tangents

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return sweep(*args, **kwargs)

    monkeypatch.setattr(engine.pictures.steps, "forward_tangents", spy)
    root = micrograd_expression()
    explain(root, mode="forward", wrt=leaves_of(root)[0])
    assert len(calls) == 1


def test_bad_mode_or_wrt_is_named() -> None:
    root = micrograd_expression()
    a = leaves_of(root)[0]
    with pytest.raises(ValueError, match="mode must be 'reverse' or 'forward', got 'sideways'"):
        explain(root, mode="sideways")
    with pytest.raises(ValueError, match="mode='forward' needs wrt="):
        explain(root, mode="forward")
    with pytest.raises(ValueError, match="wrt= is forward mode's direction; pass mode='forward'"):
        explain(root, wrt=a)
    with pytest.raises(TypeError, match="wrt must be a Value, a leaf of the graph.*float"):
        explain(root, mode="forward", wrt=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wrt is not in the graph: w = 1.0"):
        explain(root, mode="forward", wrt=Value(1.0, label="w"))
    interior = next(v for v in computing_order(root) if v.op is not None)
    with pytest.raises(ValueError, match=r"wrt must be a leaf of the graph .*; e is made by \*"):
        explain(root, mode="forward", wrt=interior)
    with pytest.raises(TypeError, match="tangent_steps expects a Value"):
        tangent_steps(1.0, a)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="explain: the graph has"):
        explain(root, mode="forward", wrt=a, max_nodes=2)
