"""Watch backpropagation happen: `explore(root)`, an interactive page of one forward and one backward pass.

    from engine import explore, save_diagram
    explore(loss)                          # in Jupyter: shows the page inline
    save_diagram(loss, "out/loss.html")    # the same page as one file

The page is draw_dot's diagram with controls (Previous, Next, Play/Pause, a
slider; ArrowLeft, ArrowRight, Home, End) that step through the computation:
first the forward pass, each Value appearing in computing order (a leaf just
before the first Value that reads it: w1, x, b1, u1, h1, ...), then the
backward pass, one step of `engine.backward_steps` at a time: the node whose
step it is and its parents are highlighted, the gradients the step produced
are filled in, and the step's lines of the transcript (`engine.explain`) are
shown. Each box shows its data and grad as they are at the current step, in
the diagrams' number format; a gradient not yet reached is blank. Hovering a
Value shows its operation and inputs. Notes (a Value's `note`, e.g. the
seed's formula for a parameter, or the `notes` given) are shown at the steps
that reach their Value. The page follows the steps at a readable scale:
each step shows its Value and as many of its inputs as fit, never with
text smaller than 11 CSS pixels; the step's text says how many inputs are
out of view, and i shows them all. Fit (0) shows the whole graph; -, + and
1:1 (the keys -, +, 1) zoom and dragging pans. A page at least 900 pixels
wide has the step's text and the transcript beside the diagram.

The file is self-contained: the SVG, the data (JSON), the style and the script
are inline and nothing is requested from any server, so it works offline and
opened from the file system. The page's HTML, CSS and JavaScript are the files
in page/ beside this module (package data); the script comes in four parts,
`SCRIPT_PARTS`, inlined in that order into one function of the page's element.

The gradients shown are those of this one pass, as `backward()` leaves them
after `zero_grad()`; no `.grad` is read or changed.

`explore(root, wrt=w1)` shows forward mode beside it: each box gets a cell
`d/dw1` between data and grad, and as the forward pass reaches a Value it
computes its derivative along the leaf w1 too (tangent 1 on w1, 0 on the other
leaves), with the step's line of `explain(root, mode="forward", wrt=w1)`.
The last forward step says what that one sweep gave (dL/dw1) and how many
sweeps every leaf's derivative takes in forward mode; the last backward step
says what the one backward sweep gave.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Mapping
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

from engine.core.value import Value
from engine.pictures.diagram import draw_dot, render
from engine.pictures.naming import check_wrt, computing_order, format_number, node_names, op_id, value_id
from engine.pictures.size import DEFAULT_MAX_NODES, check_size
from engine.pictures.steps import (
    TangentStep,
    backward_steps,
    final_gradients,
    forward_sweeps_line,
    gather_notes,
    reverse_sweeps_line,
    start_line,
    tangent_line,
    tangent_steps,
    transcript_lines,
)

__all__ = ["Explorer", "explore"]

# Operations written between their operands (x + y) rather than as functions (tanh(x)).
INFIX = ("+", "-", "*", "/", "**")
STANDALONE_ID = "valuegrad-explorer"  # the page element's id in a saved file; notebooks get a fresh one each time
# The page's script, in the order it is inlined: reading the data, drawing a step, the view (follow, zoom, pan),
# the controls (which start the page).
SCRIPT_PARTS = ("explorer-data.js", "explorer-step.js", "explorer-view.js", "explorer-controls.js")

_DOCUMENT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \
script-src 'unsafe-inline'; img-src data:">
<link rel="icon" href="data:,">
<title>{title}</title>
</head>
<body>
{fragment}
</body>
</html>
"""


class Explorer:
    """One forward and one backward pass through `root`'s graph as an interactive page (see `explore`).

    With `wrt`, the forward pass carries each Value's derivative along that leaf too (forward mode).

    Jupyter shows it inline (`_repr_html_`); `html()` is the page as one
    self-contained file, which `save(path)` and `save_diagram(root, "x.html")`
    write.
    """

    def __init__(
        self,
        root: Value,
        notes: Mapping[Value, str] | None = None,
        *,
        title: str | None = None,
        rankdir: str = "LR",
        cluster: bool | None = None,
        legend: bool = True,
        max_nodes: int = DEFAULT_MAX_NODES,
        wrt: Value | None = None,
    ) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"explore expects a Value (e.g. a loss), got {type(root).__name__}")
        if title is not None and not isinstance(title, str):
            raise TypeError(f"explore: title must be a str, got {type(title).__name__}")
        order = computing_order(root)
        check_size(order, max_nodes, "explore")
        if wrt is not None:
            check_wrt(order, wrt, "explore")
        self.root = root
        self.wrt = wrt
        self.notes = gather_notes(order, notes, "explore")
        self.steps = backward_steps(root)
        self.tangent_steps = [] if wrt is None else tangent_steps(root, wrt)
        grads = final_gradients(root, self.steps)
        graph = draw_dot(root, rankdir, cluster=cluster, legend=legend, max_nodes=max_nodes, grads=grads, wrt=wrt)
        self._svg = _inline_svg(render(graph, "svg", "explore: drawing the graph"))
        name = node_names(order)
        default = f"Backpropagation through {name[root]}"
        if wrt is not None:
            default += f", and forward mode along {name[wrt]}"
        self.title = title if title is not None else default
        self._data = _page_data(order, name, self.steps, grads, self.notes, wrt, self.tangent_steps)

    @property
    def n_steps(self) -> int:
        """How many steps the page has: one per Value (forward), then dL/dL = 1 and one per chain-rule step."""
        return len(self._data["steps"])

    def fragment(self, element_id: str = STANDALONE_ID) -> str:
        """The page without <html> and <head>: what Jupyter shows inline."""
        slots = {
            "id": html.escape(element_id),
            "title": html.escape(self.title),
            "n": str(self.n_steps),
            "lines": str(_text_lines(self._data["steps"])),
            "transcript": html.escape(_transcript_title(self._data["wrt"])),
            "style": _template("explorer.css"),
            "svg": _group_ids(self._svg, element_id),
            "data": _script_json(self._data),
            "script": "\n".join(_template(part) for part in SCRIPT_PARTS),
        }
        template = _template("explorer.html").split("-->", 1)[1].lstrip()  # without the file's own comment
        return re.sub(r"\{\{(\w+)\}\}", lambda match: slots[match.group(1)], template)

    def html(self) -> str:
        """The page as one self-contained HTML document."""
        return _DOCUMENT.format(title=html.escape(self.title), fragment=self.fragment())

    def save(self, path: str | PathLike[str]) -> Path:
        """Write the page to `path` (parent directories are created); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.html(), encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        return self.fragment(f"{STANDALONE_ID}-{uuid.uuid4().hex[:12]}")

    def __repr__(self) -> str:
        return f"<Explorer of {self.title!r}: {self.n_steps} steps>"


def explore(
    root: Value,
    notes: Mapping[Value, str] | None = None,
    *,
    title: str | None = None,
    rankdir: str = "LR",
    cluster: bool | None = None,
    legend: bool = True,
    max_nodes: int = DEFAULT_MAX_NODES,
    wrt: Value | None = None,
) -> Explorer:
    """Watch backpropagation through `root`'s graph, step by step: an object Jupyter shows as a page.

    notes: text per Value, shown at every step that reaches it instead of
        the Value's own `note` ("" hides it). nn.SeedNetwork's parameters
        note the seed's formula for their gradient, as written and corrected.
    title: the page's heading (default: "Backpropagation through L").
    rankdir, cluster, legend, max_nodes: as for `draw_dot`, which draws the
        picture (so Graphviz's `dot` program is needed).
    wrt: a leaf of the graph (an input or a parameter, e.g. w1): the forward
        pass also computes each Value's derivative along it, forward mode
        beside the backward pass, with the lines of
        `explain(root, mode="forward", wrt=w1)`.
    """
    return Explorer(
        root, notes, title=title, rankdir=rankdir, cluster=cluster, legend=legend, max_nodes=max_nodes, wrt=wrt
    )


def _page_data(
    order: list[Value],
    name: dict[Value, str],
    steps: list[Any],
    grads: Mapping[Value, float],
    notes: Mapping[Value, str],
    wrt: Value | None = None,
    tangents: list[TangentStep] | None = None,
) -> dict[str, Any]:
    """What the script needs: every Value, and the page's steps (forward, then backward).

    With `wrt`, each Value's tangent along it too, and each forward step's tangent and its transcript line.
    """
    index = {v: i for i, v in enumerate(order)}
    root = order[-1]
    values = [
        {
            "id": value_id(i),
            "op": op_id(i) if v.op is not None else "",
            "name": name[v],
            "data": format_number(v.data),
            "grad": format_number(grads.get(v, 0.0)),
            "inputs": [index[p] for p in v.parents],
            "hover": _hover(v, name),
        }
        for i, v in enumerate(order)
    ]
    page_steps: list[dict[str, Any]] = [
        {"phase": "forward", "value": i, "title": f"Forward pass: value {i + 1} of {len(order)}", "lines": [line]}
        for i, line in enumerate(_forward_line(v, name) for v in order)
    ]
    if wrt is not None and tangents:
        _add_tangents(values, page_steps, order, name, wrt, tangents, notes)
    page_steps.append(
        {
            "phase": "backward",
            "value": index[root],
            "grad": "1",
            "parents": [],
            "title": f"Backward pass begins: d{name[root]}/d{name[root]} = 1",
            "lines": [start_line(name[root])],
            "notes": [],
        }
    )
    for number, step in enumerate(steps, start=1):
        reached = list(dict.fromkeys(part.parent for part in step.contributions if part.parent in notes))
        page_steps.append(
            {
                "phase": "backward",
                "value": index[step.node],
                "grad": format_number(step.grad),
                "parents": [[index[part.parent], format_number(part.total)] for part in step.contributions],
                "title": f"Backward pass, step {number} of {len(steps)}: {name[step.node]} hands "
                f"d{name[root]}/d{name[step.node]} = {format_number(step.grad)} on to its inputs",
                "lines": transcript_lines(step, name, name[root]),
                "notes": [f"{name[v]}: {notes[v]}" for v in reached],
            }
        )
    for step in page_steps:
        step.setdefault("notes", [])
    if wrt is not None:
        page_steps[-1]["notes"].append(
            reverse_sweeps_line(name[root], order) + f"; d{name[root]}/d{name[wrt]} = "
            f"{format_number(grads[wrt])} among them, as forward mode's sweep gave"
        )
    along = "" if wrt is None else f", each with its derivative along {name[wrt]} (forward mode)"
    return {
        "start": f"Step 0: nothing computed yet. Next (or →) runs the forward pass, one value at a time{along}, "
        f"then the backward pass, one chain-rule step at a time ({len(page_steps)} steps).",
        "wrt": None if wrt is None else name[wrt],
        "values": values,
        "steps": page_steps,
    }


def _add_tangents(
    values: list[dict[str, Any]],
    page_steps: list[dict[str, Any]],
    order: list[Value],
    name: Mapping[Value, str],
    wrt: Value,
    tangents: list[TangentStep],
    notes: Mapping[Value, str],
) -> None:
    """Forward mode in the forward pass: each Value's tangent along `wrt`, and the forward steps' lines for it.

    The last forward step (the root's) says what the sweep gave, with wrt's note (about d(root)/d(wrt)).
    """
    w = name[wrt]
    for value, step, tangent in zip(values, page_steps, tangents):
        value["tangent"] = format_number(tangent.tangent)
        step["tangent"] = value["tangent"]
        step["tangentLine"] = tangent_line(tangent, name, w)
        step["lines"].append(step["tangentLine"])
        step["title"] += f", and its derivative along {w}"
    root = order[-1]
    last = page_steps[len(order) - 1]
    last["notes"] = [forward_sweeps_line(name[root], w, tangents[-1].tangent, order)]
    if wrt in notes:
        last["notes"].append(f"{w}: {notes[wrt]}")


def _transcript_title(wrt: str | None) -> str:
    """The heading of the page's transcript: the backward pass's lines, after forward mode's when there are some."""
    if wrt is None:
        return "Transcript of the backward pass so far"
    return f"Transcript so far: forward mode along {wrt}, then the backward pass"


def _text_lines(steps: list[dict[str, Any]]) -> int:
    """How many lines the longest step's text has: its title, the line on inputs out of view, its lines, its notes.

    A page too narrow to show the text beside the diagram gives it this height (the style caps it).
    """
    return max(2 + len(step["lines"]) + sum(len(note.splitlines()) for note in step["notes"]) for step in steps)


def _formula(v: Value, name: Mapping[Value, str]) -> str:
    """How `v` was computed, in names: `w1 * x`, `tanh(u1)`, `v9**2`, `linear(w1, x, b1)`."""
    assert v.op is not None
    op, args = v.op.name, [name[p] for p in v.parents]
    if op in INFIX and len(args) == 2:
        return f"{args[0]} {op} {args[1]}"
    if op.startswith("**") and len(args) == 1:
        return f"{args[0]}{op}"
    if op == "neg" and len(args) == 1:
        return f"-{args[0]}"
    return f"{op}({', '.join(args)})"


def _forward_line(v: Value, name: Mapping[Value, str]) -> str:
    """`h1 = sigmoid(u1) = 0.5744`, or for a leaf `w1 = 0.5 (input or parameter)`."""
    if v.op is None:
        return f"{name[v]} = {format_number(v.data)}  ({'input or parameter' if v.label else 'constant'})"
    return f"{name[v]} = {_formula(v, name)} = {format_number(v.data)}"


def _hover(v: Value, name: Mapping[Value, str]) -> str:
    """What hovering a Value shows: its operation and inputs, with their data."""
    if v.op is None:
        return _forward_line(v, name) + ": a leaf, made by no operation"
    inputs = ", ".join(f"{name[p]} = {format_number(p.data)}" for p in v.parents)
    return f"{_forward_line(v, name)}  (operation {v.op.name}; inputs {inputs})"


def _inline_svg(svg: bytes) -> str:
    """Graphviz's SVG file as an element for an HTML page: no XML prolog, and no namespace URLs (HTML implies them)."""
    text = svg.decode("utf-8")
    text = text[text.index("<svg") :]
    head, rest = text.split(">", 1)
    head = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", head)
    return head + ">" + rest


def _group_ids(svg: str, prefix: str) -> str:
    """Name each node's and edge's SVG group `<prefix>-<DOT name>` (`valuegrad-explorer-v3`, `...-v3->op4`).

    Graphviz numbers its groups node1, node2, ... and puts the DOT name in the
    group's <title>; the page's script and its tests find a Value's box by id.
    """

    def rename(match: re.Match[str]) -> str:
        kind, title = match.group(1), match.group(2)
        name = html.escape(f"{prefix}-{html.unescape(title)}")
        return f'<g id="{name}" class="{kind}">\n<title>{title}</title>'

    return re.sub(r'<g id="(?:node|edge)\d+" class="(node|edge)">\s*<title>([^<]*)</title>', rename, svg)


def _script_json(data: Any) -> str:
    """JSON for a <script type="application/json"> block: `<`, `>` and `&` escaped, so no text can close it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _template(name: str) -> str:
    """One of the page's files (page/explorer.html, explorer.css, the script's parts), shipped beside this module."""
    return resources.files("engine.pictures").joinpath("page", name).read_text(encoding="utf-8")
