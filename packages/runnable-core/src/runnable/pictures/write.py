"""Writing pictures to files, for the CLI: the suffix of the output picks the format.

Kept apart from the renderers (pure functions of the models) because this is where files, paths and the
user's choices meet, and where an unwritable path must become a one-line error instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from runnable.errors import RunnableError

if TYPE_CHECKING:
    from runnable.models.graph import Graph
    from runnable.models.run_log import RunLog

GRAPH_FORMATS = {".html": "html", ".htm": "html", ".svg": "svg", ".mmd": "mermaid", ".mermaid": "mermaid"}


def graph_text(graph: Graph, fmt: str, title: str = "") -> str:
    """The picture of ``graph`` in ``fmt``: ``html`` (a page with the SVG and the Mermaid), ``svg``, ``mermaid``."""
    from runnable.pictures.mermaid import to_mermaid
    from runnable.pictures.svg import to_html, to_svg

    if fmt == "mermaid":
        return to_mermaid(graph)
    if fmt == "svg":
        return to_svg(graph, title=title)
    return to_html(graph, title=title)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (creating its folder), or raise a one-line error saying why it failed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise RunnableError(f"{path}: cannot write it: {error.strerror or error}") from None
    return path


def draw_pipeline(pipeline_file: Path, output: Path | None = None, *, mermaid: bool = False) -> tuple[str, Path | None]:
    """What ``runnable graph`` does: load the pipeline (nothing runs) and draw it.

    Returns the Mermaid text (when ``mermaid``, else "") and the path of the picture written (None when only
    Mermaid was asked for). The picture goes to ``output``, by default ``<pipeline file stem>.html`` in the
    working directory; its suffix picks the format (.html, .svg or .mmd).
    """
    from runnable.entrypoints import load_graph
    from runnable.pictures.mermaid import to_mermaid

    path = output if output is not None or mermaid else Path(f"{pipeline_file.stem}.html")
    fmt = ""
    if path is not None:
        fmt = GRAPH_FORMATS.get(path.suffix.lower(), "")
        if not fmt:  # checked before loading: importing a .py pipeline may take a while
            raise RunnableError(
                f"{path}: unknown picture format {path.suffix or '(no suffix)'!r}",
                hint="name the output .html (page), .svg (picture) or .mmd (Mermaid text)",
            )
    graph = load_graph(pipeline_file)
    if path is not None:
        write_text(path, graph_text(graph, fmt, title=graph.name or pipeline_file.stem))
    return (to_mermaid(graph) if mermaid else ""), path


def write_run_report(run_log: RunLog, output: Path, *, graph: Graph | None = None) -> Path:
    """Write the HTML report of ``run_log`` to ``output``; return the path written.

    With the ``graph`` that ran, the report also draws the pipeline with each step's status and lists the
    steps that never ran.
    """
    from runnable.pictures.report import run_report_html

    return write_text(output, run_report_html(run_log, graph=graph))
