"""The explorer page (engine/pictures/explorer.py) read as a file: self-contained, with the right data and SVG.

What the page does in a browser is tests/test_explorer_browser.py's job; here the
page is read as text: the inline JSON (the values and the steps) is compared
with backward(), backward_steps() and explain(), and the SVG with draw_dot.
"""

from __future__ import annotations

import fnmatch
import html
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import graphviz
import pytest
from conftest import backward_gradients, micrograd_expression

import engine
import nn
from engine import Explorer, Value, backward_steps, draw_dot, explain, explore, save_diagram
from engine.pictures.explorer import SCRIPT_PARTS, STANDALONE_ID
from engine.pictures.naming import computing_order, format_number
from engine.pictures.steps import tangent_steps

REPO = Path(__file__).resolve().parents[1]


# The page's picture is drawn by Graphviz's `dot`: without it these tests skip, and under CI they fail.
pytestmark = pytest.mark.usefixtures("dot_program")


# ---------------------------------------------------------------- graphs and reading the page


def seed_network_loss() -> tuple[Value, dict[str, Value]]:
    model = nn.SeedNetwork("sigmoid", seed=0)
    loss = nn.mse_loss(model(Value(0.5, label="x")), Value(1.0, label="y"))
    loss.label = "L"
    return loss, dict(model.named_parameters())


def mlp_loss() -> Value:
    model = nn.MLP(2, [3, 1], activation="tanh", seed=0)
    out = model([0.5, -1.0])
    assert isinstance(out, Value)
    return nn.mse_loss(out, 0.25)


GRAPHS = {"expression": micrograd_expression, "seed_network": lambda: seed_network_loss()[0], "mlp": mlp_loss}


def page_data(page: str) -> dict[str, Any]:
    """The JSON the page's script reads."""
    match = re.search(r'<script type="application/json" class="vg-data">(.*?)</script>', page, re.S)
    assert match, "no data block"
    return json.loads(match.group(1))


# ---------------------------------------------------------------- a file that needs nothing else


@pytest.mark.parametrize("graph", ["expression", "seed_network", "mlp"])
def test_page_is_one_self_contained_file(graph: str) -> None:
    root = GRAPHS[graph]()
    page = explore(root).html()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"(?i)\b(?:https?|ftp|wss?):", page)  # no address on any server
    assert not re.search(r"(?i)\bsrc\s*=", page)  # no script, image or frame loaded from elsewhere
    assert re.findall(r'(?i)\bhref\s*=\s*"([^"]*)"', page) == ["data:,"]  # only the empty favicon, inline
    assert not re.search(r"(?i)@import|url\(|fetch\(|XMLHttpRequest|import\(|<link rel=\"stylesheet", page)
    assert len(re.findall(r"<script\b", page)) == 2  # the data block and the inline script
    assert "default-src 'none'" in page  # the browser itself refuses any request the page might make
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page


def test_data_holds_every_value_and_the_steps_of_one_forward_and_one_backward_pass() -> None:
    root = micrograd_expression()
    order = computing_order(root)
    steps = backward_steps(root)
    data = page_data(explore(root).html())
    assert [v["id"] for v in data["values"]] == [f"v{i}" for i in range(len(order))]
    assert [v["data"] for v in data["values"]] == [format_number(v.data) for v in order]
    assert [v["name"] for v in data["values"]] == [v.label for v in order]  # all labelled here
    forward, backward = data["steps"][: len(order)], data["steps"][len(order) :]
    assert [(s["phase"], s["value"]) for s in forward] == [("forward", i) for i in range(len(order))]
    assert [s["phase"] for s in backward] == ["backward"] * (1 + len(steps))
    index = {v: i for i, v in enumerate(order)}
    assert backward[0]["value"] == index[root] and backward[0]["grad"] == "1" and backward[0]["parents"] == []
    for page_step, step in zip(backward[1:], steps):
        assert page_step["value"] == index[step.node]
        assert page_step["grad"] == format_number(step.grad)
        assert page_step["parents"] == [[index[p.parent], format_number(p.total)] for p in step.contributions]
    # The lines, in order, are explain()'s transcript.
    assert [line for s in backward for line in s["lines"]] == explain(root).splitlines()


@pytest.mark.parametrize("graph", ["expression", "seed_network", "mlp"])
def test_final_gradients_shown_are_backwards(graph: str) -> None:
    root = GRAPHS[graph]()
    data = page_data(explore(root).html())
    expected = backward_gradients(root)
    order = computing_order(root)
    assert [v["grad"] for v in data["values"]] == [format_number(expected[v]) for v in order]
    # Replaying every step gives each Value that gradient, as the script does.
    grads: dict[int, str] = {}
    for step in data["steps"]:
        if step["phase"] == "backward":
            grads[step["value"]] = step["grad"]
            grads.update({parent: total for parent, total in step["parents"]})
    assert [grads[i] for i in range(len(order))] == [format_number(expected[v]) for v in order]


def test_svg_groups_are_named_by_page_and_dot_name() -> None:
    root = micrograd_expression()
    order = computing_order(root)
    page = explore(root).html()
    final = backward_gradients(root)
    dot_names = [
        n for n in re.findall(r"^\t(\S+) \[", draw_dot(root).source, re.M) if n not in ("graph", "node", "edge")
    ]
    assert len(dot_names) == 2 * len(order) - 4 + 1  # values, the ops of the 3 interior ones, the legend
    for name in dot_names:
        assert page.count(f'<g id="{STANDALONE_ID}-{name}" class="node">\n<title>{name}</title>') == 1, name
    for i, v in enumerate(order):
        group = page.split(f'<g id="{STANDALONE_ID}-v{i}" class="node">', 1)[1].split("</g>", 1)[0]
        texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", group)]
        # The cells the script rewrites, drawn with this pass's final gradients.
        assert texts[-2:] == [f"data {format_number(v.data)}", f"grad {format_number(final[v])}"]
    assert f'id="{STANDALONE_ID}-v0-&gt;op' in page  # edges too: tail->head


def test_boxes_are_drawn_for_the_final_gradients_of_this_pass() -> None:
    root = micrograd_expression()
    order = computing_order(root)
    (a,) = [v for v in order if v.label == "a"]
    a.grad = 123.0  # stale: the page shows this pass alone, as backward() after zero_grad()
    page = explore(root).html()
    assert a.grad == 123.0  # nothing changed
    group = page.split(f'<g id="{STANDALONE_ID}-v{order.index(a)}" class="node">', 1)[1].split("</g>", 1)[0]
    assert ">grad 6</text>" in group  # dL/da = f b = (-2)(-3), so the box is laid out for that number


def test_draw_dot_can_show_given_gradients() -> None:
    root = micrograd_expression()
    source = draw_dot(root, grads={root: 0.5}).source
    assert "grad 0.5" in source and "grad 1" not in source
    with pytest.raises(TypeError, match="grads must be a mapping"):
        draw_dot(root, grads=[1.0])  # type: ignore[arg-type]


# ---------------------------------------------------------------- notes


def given_notes(params: dict[str, Value]) -> dict[Value, str]:
    return {params[name]: f"seed's formula for {name}" for name in ("w1", "b1", "w2", "b2", "w3", "b3")}


def test_notes_are_shown_at_the_steps_that_reach_their_value() -> None:
    root, params = seed_network_loss()
    index = {v: i for i, v in enumerate(computing_order(root))}
    data = page_data(explore(root, notes=given_notes(params)).html())
    for name, param in params.items():
        reaching = [s for s in data["steps"] if s["phase"] == "backward" and index[param] in dict(s["parents"])]
        assert reaching, name
        for step in reaching:
            assert f"{name}: seed's formula for {name}" in step["notes"]
    noted = {index[v] for v in params.values()}
    others = [s for s in data["steps"] if not noted & {parent for parent, _ in s.get("parents", [])}]
    assert others and all(s["notes"] == [] for s in others)


def test_a_seed_networks_own_notes_are_shown_without_being_passed() -> None:
    root, params = seed_network_loss()
    index = {v: i for i, v in enumerate(computing_order(root))}
    steps = [s for s in page_data(explore(root).html())["steps"] if s["phase"] == "backward"]
    for name, param in params.items():
        reaching = [s for s in steps if index[param] in dict(s["parents"])]
        assert reaching and all(f"{name}: {param.note}" in s["notes"] for s in reaching), name
        assert param.note.startswith(f"the seed writes ∂L/∂{name} = ")
    assert sum(len(s["notes"]) for s in steps) == len(params)  # one step reaches each parameter
    hidden = page_data(explore(root, notes=dict.fromkeys(params.values(), "")).html())
    assert all(s.get("notes", []) == [] for s in hidden["steps"])


def test_bad_arguments_are_named() -> None:
    root = micrograd_expression()
    with pytest.raises(TypeError, match="explore expects a Value.*float"):
        explore(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="explore: a note is keyed by a Value that is not in the graph"):
        explore(root, notes={Value(2.0): "elsewhere"})
    with pytest.raises(TypeError, match="explore: title must be a str"):
        explore(root, title=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rankdir must be one of"):
        explore(root, rankdir="diagonal")
    size = len(computing_order(root))
    with pytest.raises(ValueError, match=f"explore: the graph has {size} Values, more than max_nodes=3"):
        explore(root, max_nodes=3)


def test_labels_cannot_break_out_of_the_page() -> None:
    x = Value(1.0, label='</script><script>alert("x")</script>{{data}}')
    root = x * 2
    page = explore(root).html()
    assert len(re.findall(r"<script\b", page)) == 2
    assert "alert(" not in page.replace("alert(&quot;x&quot;)", "").replace('alert(\\"x\\")', "")
    data = page_data(page)
    assert data["values"][0]["name"] == x.label  # the JSON carries the label exactly


# ---------------------------------------------------------------- save_diagram, Jupyter, files


def test_save_diagram_writes_the_explorer_page(tmp_path: Path) -> None:
    root, params = seed_network_loss()
    notes = given_notes(params)
    written = save_diagram(root, tmp_path / "sub" / "graph.html", notes=notes, rankdir="TB", title="Seed 1.1")
    assert written == tmp_path / "sub" / "graph.html"
    page = written.read_text(encoding="utf-8")
    assert page == explore(root, notes, rankdir="TB", title="Seed 1.1").html()
    assert "<title>Seed 1.1</title>" in page
    assert engine.save_diagram(root, tmp_path / "same.HTML").read_text(encoding="utf-8") == explore(root).html()
    assert explore(root).save(tmp_path / "saved.html").read_text(encoding="utf-8") == explore(root).html()
    with pytest.raises(TypeError):
        save_diagram(root, tmp_path / "bad.html", format="svg")  # a draw_dot option the page does not take
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf, \.dot, \.html"):
        save_diagram(root, tmp_path / "graph.jpg")


def test_jupyter_shows_the_page_inline_each_time_with_its_own_id() -> None:
    explorer = explore(micrograd_expression())
    assert isinstance(explorer, Explorer)
    first, second = explorer._repr_html_(), explorer._repr_html_()
    ids = [re.findall(r'<div class="vg-explorer" id="([^"]+)"', f)[0] for f in (first, second)]
    assert ids[0] != ids[1] and all(i.startswith(STANDALONE_ID + "-") for i in ids)
    assert "<html" not in first and "<head" not in first
    assert f'<g id="{ids[0]}-v0" class="node">' in first  # the groups carry the page's own id
    assert f'getElementById("{ids[0]}")' in first
    assert page_data(first) == page_data(explorer.html())  # the same page as the file
    assert repr(explorer) == f"<Explorer of 'Backpropagation through L': {explorer.n_steps} steps>"


def test_missing_graphviz_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dot(*args: Any, **kwargs: Any) -> bytes:
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", no_dot)
    with pytest.raises(RuntimeError, match="explore: drawing the graph needs Graphviz's `dot`") as error:
        explore(micrograd_expression())
    assert "apt-get install graphviz" in str(error.value)


def test_the_script_is_its_four_parts_inlined_in_order() -> None:
    page_dir = REPO / "engine" / "pictures" / "page"
    assert sorted(path.name for path in page_dir.glob("*.js")) == sorted(SCRIPT_PARTS)  # none left out
    page = explore(micrograd_expression()).html()
    texts = [(page_dir / part).read_text(encoding="utf-8") for part in SCRIPT_PARTS]
    positions = [page.index(text) for text in texts]
    assert positions == sorted(positions)  # in the order a reader meets them: data, step, view, controls
    promised = ["function readPage(", "function stepDrawing(", "function diagramView(", "function startExplorer("]
    assert all(name in text for name, text in zip(promised, texts))


def test_page_files_are_package_data() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["engine.pictures"]
    page = REPO / "engine" / "pictures" / "page"
    files = [path.relative_to(page.parent).as_posix() for path in page.iterdir()]
    assert {"page/explorer.html", "page/explorer.css"} <= set(files) and any(f.endswith(".js") for f in files)
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


# ---------------------------------------------------------------- forward mode beside the backward pass (wrt=)


def test_forward_mode_adds_each_values_tangent_to_the_forward_pass_and_leaves_the_backward_pass() -> None:
    root, params = seed_network_loss()
    w1 = params["w1"]
    order = computing_order(root)
    plain = page_data(explore(root).html())
    page = explore(root, wrt=w1)
    data = page_data(page.html())
    assert (plain["wrt"], data["wrt"]) == (None, "w1")
    assert page.n_steps == explore(root).n_steps  # the tangents travel with the values: no step more
    tangents = [step.tangent for step in tangent_steps(root, w1)]
    assert [v["tangent"] for v in data["values"]] == [format_number(t) for t in tangents]
    assert all("tangent" not in v for v in plain["values"])
    forward, backward = data["steps"][: len(order)], data["steps"][len(order) :]
    transcript = explain(root, mode="forward", wrt=w1).splitlines()
    for i, (step, before) in enumerate(zip(forward, plain["steps"])):
        assert step["tangent"] == format_number(tangents[i])
        assert step["lines"] == [*before["lines"], step["tangentLine"]] and step["tangentLine"] == transcript[i]
    # dL/dw1 by the forward sweep is the backward pass's, as the last forward step and the last backward step say.
    grad = backward_gradients(root)[w1]
    assert tangents[-1] == pytest.approx(grad, rel=1e-12) and format_number(grad) == "-0.1206"
    sweeps, note = forward[-1]["notes"]
    assert sweeps == transcript[len(order)] and sweeps.startswith("forward mode: dL/dw1 = -0.1206 in 1 sweep")
    assert "dL/d(leaf) for all 8 leaves: 8 sweeps, one per leaf" in sweeps and note == f"w1: {w1.note}"
    assert backward[:-1] == plain["steps"][len(order) : -1]  # the backward pass as without forward mode
    *notes, reverse = backward[-1]["notes"]
    assert {**backward[-1], "notes": notes} == plain["steps"][-1]
    assert reverse == (
        "reverse mode: dL/d(leaf) for all 8 leaves in 1 backward sweep; dL/dw1 = -0.1206 among them, "
        "as forward mode's sweep gave"
    )
    assert "Transcript so far: forward mode along w1, then the backward pass" in page.html()
    assert "Transcript of the backward pass so far" in explore(root).html()
    assert page.title == "Backpropagation through L, and forward mode along w1"


def test_forward_modes_boxes_have_a_tangent_cell_between_data_and_grad() -> None:
    root = micrograd_expression()
    order = computing_order(root)
    (a,) = [v for v in order if v.label == "a"]
    page = explore(root, wrt=a).html()
    final = backward_gradients(root)
    b, f = (next(v for v in order if v.label == name).data for name in "bf")
    along_a = {"a": 1.0, "b": 0.0, "c": 0.0, "f": 0.0, "e": b, "d": b, "L": b * f}  # L = (a b + c) f, by hand
    for i, v in enumerate(order):
        group = page.split(f'<g id="{STANDALONE_ID}-v{i}" class="node">', 1)[1].split("</g>", 1)[0]
        texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", group)]
        tangent = f"d/da {format_number(along_a[v.label])}"
        assert texts[-3:] == [f"data {format_number(v.data)}", tangent, f"grad {format_number(final[v])}"], v.label


def test_bad_wrt_is_named_by_explore() -> None:
    root = micrograd_expression()
    with pytest.raises(TypeError, match="explore: wrt must be a Value"):
        explore(root, wrt="a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="explore: wrt is not in the graph"):
        explore(root, wrt=Value(2.0))
    with pytest.raises(ValueError, match="explore: wrt must be a leaf of the graph .*; L is made by \\*"):
        explore(root, wrt=root)
