"""Where the front doors (SDK, YAML, CLI) meet the engine: one function runs a graph, and a context variable
says what the command that imported a pipeline file wants of it.

A Python pipeline file follows the convention of the original runnable: it defines ``main()``, which builds
the pipeline, calls ``execute()`` and returns the pipeline. To run such a file, or only to rebuild its graph
(an executor preparing a step in a container), the file is imported and ``main()`` called while a
:class:`FrontDoor` is active; ``Pipeline.execute()`` consults it, so the CLI's options win over the
arguments written in the file, and in *define only* mode nothing runs at all.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runnable.models.graph import Graph
    from runnable.models.run_log import RunLog


def pipeline_module_name(path: Path) -> str:
    """The module name a pipeline file is imported under, whoever runs it: ``python pipeline.py`` (where its
    functions live in ``__main__``) and ``runnable execute pipeline.py`` must name its commands alike, or the
    two give different dag hashes and one cannot retry or draw the other's run."""
    return f"runnable_pipeline_{path.stem.replace('-', '_')}"


@dataclass
class FrontDoor:
    pipeline_file: str = ""
    configuration_file: str = ""
    parameters_file: str = ""
    run_id: str = ""
    tag: str = ""
    define_only: bool = False
    pipeline: Any = None  # the Pipeline (or job) main() built
    run_log: RunLog | None = None


_current: contextvars.ContextVar[FrontDoor | None] = contextvars.ContextVar("runnable_front_door", default=None)


def current() -> FrontDoor | None:
    return _current.get()


@contextmanager
def front_door(door: FrontDoor) -> Iterator[FrontDoor]:
    token = _current.set(door)
    try:
        yield door
    finally:
        _current.reset(token)


def run_graph(
    graph: Graph,
    *,
    configuration_file: str = "",
    parameters_file: str = "",
    run_id: str = "",
    tag: str = "",
    pipeline_file: str = "",
    job: bool = False,
) -> RunLog:
    """Prepare a run of ``graph`` and hand it to the configured executor (the job executor for a job).

    The console reporter is the front door's observer of the run: the engine itself prints nothing.
    """
    from runnable.engine.prepare import prepare
    from runnable.reporting import ConsoleReporter

    context = prepare(
        graph,
        configuration_file=configuration_file,
        parameters_file=parameters_file,
        run_id=run_id,
        tag=tag,
        pipeline_file=pipeline_file,
        job=job,
    )
    context.observers.append(ConsoleReporter(context))
    if job:
        return context.executor.execute_job(context)  # type: ignore[union-attr]
    return context.executor.execute_pipeline(context)  # type: ignore[union-attr]
