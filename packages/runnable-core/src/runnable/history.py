"""Reading past runs: the record, the failure that ended a run, and what a run left in its catalog.

Used by the CLI (``runs show``, ``logs``), by the end-of-run summary and, through :func:`get_run`, from a
notebook or script::

    import runnable

    run = runnable.get_run("agile-curie-101500-3f2a")
    run.status, run.parameters, run.metrics
    model = run.load("model")            # an object a step returned as pickled("model")
    run.fetch("data/clean.csv")          # a file a step put in the catalog, copied here

Nothing here changes a run: the record and the catalog are only read.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runnable.errors import RunnableError
from runnable.records import (
    FailureReport,
    display_name,
    explain_failure,
    find_step,
    is_reused,
    read_output,
    task_steps,
)

if TYPE_CHECKING:
    from runnable.models.graph import Graph
    from runnable.models.run_log import RunLog, StepLog
    from runnable.services.catalog import BaseCatalog
    from runnable.services.run_log_store import BaseRunLogStore


def graph_of(run_log: RunLog) -> Graph | None:
    """The graph that ran, rebuilt from the pipeline file when it is still here and unchanged, else None.

    Only worth the cost (a .py pipeline is imported) when a step failed: otherwise every step ran.
    """
    pipeline_file = str(run_log.run_config.get("pipeline_file") or "")
    if not pipeline_file or run_log.job is not None or not Path(pipeline_file).is_file():
        return None
    try:
        from runnable.entrypoints import load_graph

        graph = load_graph(pipeline_file)
    except Exception:  # the file changed into something that does not load: show the record alone
        return None
    return graph if not run_log.dag_hash or graph.dag_hash() == run_log.dag_hash else None


# --- services of a configuration ----------------------------------------------------------------------------


def open_services(configuration_file: str | None = None) -> tuple[BaseRunLogStore, BaseCatalog]:
    """The run log store and the catalog a configuration file names (the defaults without one)."""
    from runnable.config import load_config
    from runnable.plugins import get_registry

    config = load_config(configuration_file)
    registry = get_registry()
    return registry.configured(config, "run-log-store"), registry.configured(config, "catalog")


# --- the public API -----------------------------------------------------------------------------------------


class Run:
    """A past run, read from the run log store and catalog of a configuration (see :func:`get_run`)."""

    def __init__(self, run_log: RunLog, store: BaseRunLogStore, catalog: BaseCatalog) -> None:
        self.record = run_log
        self._store = store
        self._catalog = catalog

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def tag(self) -> str:
        return self.record.tag

    @property
    def retry_of(self) -> str:
        """The failed run this run retried, "" when it is not a retry."""
        return self.record.original_run_id

    @property
    def start_time(self) -> datetime | None:
        return self.record.start_time

    @property
    def duration(self) -> float | None:
        if self.record.start_time is None or self.record.end_time is None:
            return None
        return (self.record.end_time - self.record.start_time).total_seconds()

    @property
    def parameters(self) -> dict[str, Any]:
        """Final parameters, name -> value; an object parameter's value is the name to give :meth:`load`."""
        return {name: p.value for name, p in self.record.parameters.items()}

    @property
    def initial_parameters(self) -> dict[str, Any]:
        return {name: p.value for name, p in self.record.initial_parameters.items()}

    @property
    def metrics(self) -> dict[str, Any]:
        """Metrics the run ended with (map steps collect an item's metric into a list, in item order)."""
        return {name: p.value for name, p in self.record.parameters.items() if p.kind == "metric"}

    def step_metrics(self) -> dict[str, dict[str, Any]]:
        """Metrics per step record (display name -> metrics of its last attempt), for charts over iterations."""
        out: dict[str, dict[str, Any]] = {}
        for step in task_steps(self.record):
            if step.attempts and step.attempts[-1].user_defined_metrics:
                out[display_name(self.record, step.internal_name)] = dict(step.attempts[-1].user_defined_metrics)
        return out

    @property
    def steps(self) -> dict[str, StepLog]:
        """Every step record by display name (``train[3].fit``), in run order."""
        return {display_name(self.record, s.internal_name): s for s in task_steps(self.record)}

    def step(self, name: str) -> StepLog:
        return find_step(self.record, name)

    @property
    def failure(self) -> FailureReport | None:
        return explain_failure(self.record)

    def output(self, step: str, attempt: int | None = None) -> str:
        """What a step printed (and its traceback), every attempt one after the other unless ``attempt``."""
        parts = read_output(self._catalog, self.record, find_step(self.record, step), attempt)
        return "".join(text for _, text in parts)

    def files(self) -> list[str]:
        """Names of everything in this run's catalog (files put by steps, pickled objects, outputs)."""
        return sorted(self._catalog.list_files(self.run_id, "**"))

    def open(self, name: str) -> IO[bytes]:
        """A catalog item opened for reading (binary): ``pandas.read_csv(run.open("data/clean.csv"))``."""
        return self._catalog.open_read(self.run_id, name)

    def fetch(self, name: str, to: str | Path = ".") -> Path:
        """Copy a catalog item into the folder ``to`` (keeping its relative path); return the local path."""
        target = Path(to) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with self.open(name) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out)
        return target

    def load(self, name: str) -> Any:
        """Unpickle an object the run returned as ``pickled(name)``.

        ``name`` is the parameter's name (``"model"``) or, for an object returned inside a branch, its stored
        name (``"train.3.model"``, as listed by :meth:`files` without ``.pickle``).
        """
        from runnable.engine.objects import load_object

        parameter = self.record.parameters.get(name)
        stored = parameter.value if parameter is not None and parameter.kind == "object" else name
        try:
            return load_object(self._catalog, self.run_id, stored)
        except RunnableError:
            objects = [f[: -len(".pickle")] for f in self.files() if f.endswith(".pickle")]
            raise RunnableError(
                f"run {self.run_id!r} has no object {name!r}",
                hint=f"objects: {', '.join(objects[:10])}" if objects else "this run returned no pickled objects",
            ) from None

    @cached_property
    def graph(self) -> Graph | None:
        """The pipeline's graph when its file is still here and unchanged (for the picture with statuses)."""
        return graph_of(self.record)

    def __repr__(self) -> str:
        duration = f"{self.duration:.2f} s" if self.duration is not None else "-"
        retry = f", retry of {self.retry_of!r}" if self.retry_of else ""
        return f"<Run {self.run_id!r} {self.status} in {duration}{retry}>"

    def _repr_html_(self) -> str:
        """Jupyter shows a run as a small table of its steps."""
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(name)}</td><td>{escape(s.status)}</td><td>{'reused' if is_reused(s) else ''}</td></tr>"
            for name, s in list(self.steps.items())[:50]
        )
        return f"<p>{escape(repr(self))}</p><table><tr><th>step</th><th>status</th><th></th></tr>{rows}</table>"


def get_run(run_id: str, configuration_file: str | None = None) -> Run:
    """A past run by id, from the run log store and catalog of ``configuration_file`` (the same ``-c`` the run
    was made with; default: ``RUNNABLE_CONFIGURATION_FILE``, else the embedded defaults)."""
    store, catalog = open_services(configuration_file)
    return Run(store.get_run_log(run_id), store, catalog)


def list_runs(configuration_file: str | None = None) -> list[str]:
    """Run ids in the store of ``configuration_file``, newest first."""
    store, _ = open_services(configuration_file)
    return list(store.list_run_ids())
