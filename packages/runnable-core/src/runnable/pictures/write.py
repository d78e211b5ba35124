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


def graph_text(graph: Graph, fmt: str, title: str = "", *, run_log: RunLog | None = None) -> str:
    """The picture of ``graph`` in ``fmt``: ``html`` (a page with the SVG and the Mermaid), ``svg``, ``mermaid``.

    With ``run_log`` (a run of this graph) the SVG and the page show each step's status in that run.
    """
    from runnable.pictures.mermaid import to_mermaid
    from runnable.pictures.status import graph_statuses
    from runnable.pictures.svg import to_html, to_svg

    statuses = graph_statuses(run_log) if run_log is not None else None
    if fmt == "mermaid":
        return to_mermaid(graph)
    if fmt == "svg":
        return to_svg(graph, title=title, statuses=statuses)
    return to_html(graph, title=title, statuses=statuses, run=run_log.run_id if run_log else "")


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (creating its folder), or raise a one-line error saying why it failed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise RunnableError(f"{path}: cannot write it: {error.strerror or error}") from None
    return path


def draw_pipeline(
    pipeline_file: Path, output: Path | None = None, *, mermaid: bool = False, run_log: RunLog | None = None
) -> tuple[str, Path | None]:
    """What ``runnable graph`` does: load the pipeline (nothing runs) and draw it.

    Returns the Mermaid text (when ``mermaid``, else "") and the path of the picture written (None when only
    Mermaid was asked for). The picture goes to ``output``, by default ``<pipeline file stem>.html`` in the
    working directory; its suffix picks the format (.html, .svg or .mmd). With ``run_log``, a run of this
    pipeline, the picture shows each step's status (a changed pipeline is refused: the statuses would lie).
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
    if run_log is not None and run_log.dag_hash and run_log.dag_hash != graph.dag_hash():
        raise RunnableError(
            f"{pipeline_file}: its steps changed since run {run_log.run_id!r}; the statuses would not fit",
            hint="draw the run with the pipeline file as it was, or look at `runnable runs show --html`",
        )
    if path is not None:
        write_text(path, graph_text(graph, fmt, title=graph.name or pipeline_file.stem, run_log=run_log))
    return (to_mermaid(graph) if mermaid else ""), path


def write_run_report(run_log: RunLog, output: Path, *, graph: Graph | None = None) -> Path:
    """Write the HTML report of ``run_log`` to ``output``; return the path written.

    With the ``graph`` that ran, the report also draws the pipeline with each step's status and lists the
    steps that never ran.
    """
    from runnable.pictures.report import run_report_html

    return write_text(output, run_report_html(run_log, graph=graph))
