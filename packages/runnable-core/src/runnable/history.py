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

import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runnable.errors import RunnableError

if TYPE_CHECKING:
    from runnable.models.graph import Graph
    from runnable.models.run_log import DataCatalog, RunLog, StepLog
    from runnable.services.catalog import BaseCatalog
    from runnable.services.run_log_store import BaseRunLogStore

COMPOSITE_TYPES = frozenset({"parallel", "map", "conditional", "loop", "composite"})
TERMINAL_TYPES = frozenset({"success", "fail"})
# Branch keys of these composite steps are items/iterations: shown as train[3] rather than train.3.
_INDEXED_TYPES = frozenset({"map", "loop"})
REUSED_PREFIX = "reused from run "
_EXECUTION_LOG = ".execution.log"
_ATTEMPT = re.compile(r"\.attempt-(\d+)\.execution\.log$")


# --- names ------------------------------------------------------------------------------------------------


def display_name(run_log: RunLog, internal_name: str) -> str:
    """How a person reads a step's place: ``checks.nb.train[3]`` for step ``train``... of map items.

    Internal names alternate step and branch (``fan.3.fit``); a branch of a map or loop is written as an index
    (``fan[3].fit``), a branch of a parallel or conditional step as a dotted name (``both.left.fit``).
    """
    parts = internal_name.split(".")
    if len(parts) < 3:
        return internal_name
    shown = [parts[0]]
    steps = run_log.steps
    for depth in range(0, len(parts) - 1, 2):
        composite = steps.get(".".join(parts[: depth + 1]))
        key = parts[depth + 1]
        indexed = composite is not None and composite.step_type in _INDEXED_TYPES
        shown.append(f"[{key}]" if indexed else f".{key}")
        if depth + 2 < len(parts):
            shown.append(f".{parts[depth + 2]}")
        branch = composite.branches.get(".".join(parts[: depth + 2])) if composite is not None else None
        steps = branch.steps if branch is not None else {}
    return "".join(shown)


def internal_name_of(name: str) -> str:
    """The dotted internal name for a name written either way (``fan[3].fit`` or ``fan.3.fit``)."""
    return re.sub(r"\[([^\]]*)\]", r".\1", name)


# --- what a run's record says -----------------------------------------------------------------------------


def is_reused(step: StepLog) -> bool:
    """A retry's step that did not run again: its outputs came from the original run."""
    return step.message.startswith(REUSED_PREFIX)


def task_steps(run_log: RunLog) -> Iterator[StepLog]:
    """Every step record except the terminal success/fail records of (sub-)graphs."""
    return (s for s in run_log.iter_steps() if s.step_type not in TERMINAL_TYPES)


def innermost_failure(run_log: RunLog) -> StepLog | None:
    """The step a person should look at first: the first failed step that is not a composite step, else the
    deepest failed composite step (a reducer failed, a map had nothing to iterate on)."""
    failed = [s for s in task_steps(run_log) if s.status == "FAIL"]
    leaves = [s for s in failed if s.step_type not in COMPOSITE_TYPES]
    if leaves:
        return leaves[0]
    if failed:
        return max(failed, key=lambda s: s.internal_name.count("."))
    return None


def first_line(message: str, step: StepLog | None = None) -> str:
    """The message's first line, without the ``step 'x': `` prefix that the display name already says."""
    line = ((message or "").strip().splitlines() or ["failed"])[0]
    if step is not None:
        prefix = f"step {step.name!r}: "
        if line.startswith(prefix):
            line = line[len(prefix) :]
    return line


def execution_logs(step: StepLog) -> list[DataCatalog]:
    """The step's captured output, one catalog item per attempt, first attempt first."""
    entries = [e for e in step.data_catalog if e.name.endswith(_EXECUTION_LOG)]
    return sorted(entries, key=attempt_of)


def attempt_of(entry: DataCatalog) -> int:
    """``train.attempt-2.execution.log`` is attempt 2; the first attempt's name has no number."""
    match = _ATTEMPT.search(entry.name)
    return int(match.group(1)) if match else 1


def catalog_path(entry: DataCatalog) -> str:
    """Where a catalog item is, as a person would open it (``.catalog/<run>/train.execution.log``)."""
    location = entry.catalog_handler_location.rstrip("/")
    return f"{location}/{entry.catalog_relative_path}" if location else entry.catalog_relative_path


def retry_command(run_log: RunLog) -> str:
    """The exact command that retries this run (with its configuration file, when it had one)."""
    config = str(run_log.run_config.get("configuration_file") or "")
    return f"runnable retry {run_log.run_id}" + (f" -c {config}" if config else "")


@dataclass(frozen=True)
class FailureReport:
    """Everything the end-of-run message says about a failed run."""

    run_id: str
    step: str  # display name, e.g. checks.nb.train[3]
    message: str  # one line
    output: str  # catalog path of the last attempt's output, "" when none was kept
    retry: str  # the command

    def lines(self) -> list[str]:
        out = [f"failed step: {self.step}: {self.message}"]
        if self.output:
            out.append(f"its output: {self.output}  (or: runnable logs {self.run_id} {shlex.quote(self.step)})")
        out.append(f"to retry: {self.retry}")
        return out


def explain_failure(run_log: RunLog) -> FailureReport | None:
    """Why a run failed, for the end-of-run message; None when no step failed."""
    step = innermost_failure(run_log)
    if step is None:
        return None
    logs = execution_logs(step)
    return FailureReport(
        run_id=run_log.run_id,
        step=display_name(run_log, step.internal_name),
        message=first_line(step.message, step),
        output=catalog_path(logs[-1]) if logs else "",
        retry=retry_command(run_log),
    )


def not_run(run_log: RunLog, graph: Graph) -> list[str]:
    """Internal names of the steps of ``graph`` that never started, in graph order: top-level steps, and steps
    of branches that did start (after a handled failure, a branch stops early too)."""
    from runnable.models.graph import ConditionalNode, ParallelNode

    missing: list[str] = []

    def visit(g: Graph, prefix: str, steps: dict[str, StepLog]) -> None:
        for name, node in g.nodes.items():
            if node.is_terminal:
                continue
            internal = f"{prefix}.{name}" if prefix else name
            record = steps.get(internal)
            if record is None:
                missing.append(internal)
                continue
            if not record.branches or record.step_type not in COMPOSITE_TYPES:
                continue
            for branch_name, branch in record.branches.items():
                key = branch_name[len(internal) + 1 :]
                if isinstance(node, (ParallelNode, ConditionalNode)):
                    sub = node.branches.get(key)
                else:
                    sub = getattr(node, "branch", None)
                if sub is not None:
                    visit(sub, branch_name, branch.steps)

    visit(graph, "", run_log.steps)
    return missing


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


def had_failure(run_log: RunLog) -> bool:
    return run_log.status != "SUCCESS" or any(s.status == "FAIL" for s in task_steps(run_log))


# --- services of a configuration ----------------------------------------------------------------------------


def open_services(configuration_file: str | None = None) -> tuple[BaseRunLogStore, BaseCatalog]:
    """The run log store and the catalog a configuration file names (the defaults without one)."""
    from runnable.config import load_config
    from runnable.plugins import get_registry

    config = load_config(configuration_file)
    registry = get_registry()
    store = config.sections["run-log-store"]
    catalog = config.sections["catalog"]
    return (
        registry.create("run-log-store", store.type, store.config, source=config.source),
        registry.create("catalog", catalog.type, catalog.config, source=config.source),
    )


def read_output(
    catalog: BaseCatalog, run_log: RunLog, step: StepLog, attempt: int | None = None
) -> list[tuple[int, str]]:
    """The captured output of ``step``: (attempt number, text) for every attempt, or only ``attempt``."""
    found = []
    for entry in execution_logs(step):
        number = attempt_of(entry)
        if attempt is not None and number != attempt:
            continue
        run_id, _, name = entry.catalog_relative_path.partition("/")
        with catalog.open_read(run_id or run_log.run_id, name or entry.name) as source:
            found.append((number, source.read().decode("utf-8", errors="replace")))
    return found


def find_step(run_log: RunLog, name: str) -> StepLog:
    """A step record by internal or display name, or a one-line error listing what there is."""
    internal = internal_name_of(name)
    for step in run_log.iter_steps():
        if step.internal_name == internal:
            return step
    failed = [display_name(run_log, s.internal_name) for s in task_steps(run_log) if s.status == "FAIL"]
    hint = f"failed steps: {', '.join(failed[:5])}" if failed else "see `runnable runs show " + run_log.run_id + "`"
    raise RunnableError(f"run {run_log.run_id!r} has no step {name!r}", hint=hint)


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
