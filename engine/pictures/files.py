"""`save_diagram(root, path)`: a picture of `root`'s graph in the file format its suffix names.

    save_diagram(loss, "out/loss.svg")    # .svg, .png, .pdf: draw_dot's diagram, rendered by Graphviz's `dot`
    save_diagram(loss, "out/loss.dot")    # the Graphviz source, which needs no Graphviz install
    save_diagram(loss, "out/loss.html")   # the explorer's page (engine/pictures/explorer.py)

This module sits above both the diagram and the explorer, so it picks between them with plain code.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from engine.core.value import Value
from engine.pictures.diagram import draw_dot, render
from engine.pictures.explorer import explore

# Suffix -> what Graphviz writes; ".html" is the explorer's page.
GRAPHVIZ_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot"}
SUFFIXES = (*GRAPHVIZ_FORMATS, ".html")


def save_diagram(root: Value, path: str | PathLike[str], **options: Any) -> Path:
    """Draw `root`'s graph into `path`, the format chosen by its suffix: .svg, .png, .pdf, .dot or .html.

    `.dot` writes the Graphviz source and needs no Graphviz install; the other
    formats run Graphviz's `dot` program and say how to install it when it is
    missing. `.html` writes the explorer page (`engine.explore`: one forward and
    one backward pass, step by step); its options are explore's, e.g. `notes=`.
    Options otherwise go to `draw_dot`. Parent directories are created.
    Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"save_diagram: unsupported file suffix {path.suffix!r} in {str(path)!r}; use one of {', '.join(SUFFIXES)}"
        )
    if suffix == ".html":
        content = explore(root, **options).html().encode("utf-8")
    elif suffix == ".dot":
        content = draw_dot(root, **options).source.encode("utf-8")
    else:
        content = render(draw_dot(root, **options), GRAPHVIZ_FORMATS[suffix], f"save_diagram: writing {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path
