"""What a run's record says, for people: step names as they are read (``train[3].fit``), the failure that
ended a run, where a step's output is, which steps a retry reused and which never ran.

Pure functions of the run log (and, for :func:`not_run`, of the graph); :func:`read_output` reads the catalog.
Used by the console summary, the HTML report, the CLI and :mod:`runnable.history`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runnable.errors import RunnableError

if TYPE_CHECKING:
    from runnable.models.graph import Graph
    from runnable.models.run_log import DataCatalog, RunLog, StepLog
    from runnable.services.catalog import BaseCatalog

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


def had_failure(run_log: RunLog) -> bool:
    return run_log.status != "SUCCESS" or any(s.status == "FAIL" for s in task_steps(run_log))


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


def node_at(graph: Graph, internal_name: str) -> Any:
    """The graph node a step record belongs to (``fan.3.fit`` -> step ``fit`` of map ``fan``'s branch), or
    None when the graph has no such step."""
    from runnable.models.graph import CompositeNode, ConditionalNode, ParallelNode

    parts = internal_name.split(".")
    current = graph
    for depth in range(0, len(parts), 2):
        node = current.nodes.get(parts[depth])
        if node is None or depth + 1 >= len(parts):
            return node
        if not isinstance(node, CompositeNode):
            return None
        if isinstance(node, (ParallelNode, ConditionalNode)):
            current = node.branches.get(parts[depth + 1])
            if current is None:
                return None
        else:
            current = next(iter(node.branch_graphs().values()))
    return None
