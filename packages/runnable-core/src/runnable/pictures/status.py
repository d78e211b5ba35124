"""A run's statuses on its pipeline's picture: step records folded onto the steps of the graph.

A map's thousand item records all belong to one drawn step (``train.fit``), so records are counted per graph
path: the internal name with map items and loop iterations taken out (parallel and conditional branch keys
stay, each branch is drawn). Reused steps of a retry count as successes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runnable.models.run_log import RunLog, StepLog

_INDEXED = frozenset({"map", "loop"})


def graph_path(run_log: RunLog, internal_name: str) -> str:
    """``train.3.fit`` -> ``train.fit`` when ``train`` is a map or loop; ``both.left.fit`` stays."""
    parts = internal_name.split(".")
    kept = [parts[0]]
    steps = run_log.steps
    for depth in range(0, len(parts) - 1, 2):
        composite = steps.get(".".join(parts[: depth + 1]))
        if composite is None or composite.step_type not in _INDEXED:
            kept.append(parts[depth + 1])
        if depth + 2 < len(parts):
            kept.append(parts[depth + 2])
        branch = composite.branches.get(".".join(parts[: depth + 2])) if composite is not None else None
        steps = branch.steps if branch is not None else {}
    return ".".join(kept)


def graph_statuses(run_log: RunLog) -> dict[str, dict[str, int]]:
    """Graph path -> {status: number of records}, over every step record of the run."""
    counts: dict[str, dict[str, int]] = {}
    for step in run_log.iter_steps():
        _add(counts, graph_path(run_log, step.internal_name), step)
    return counts


def _add(counts: dict[str, dict[str, int]], path: str, step: StepLog) -> None:
    bucket = counts.setdefault(path, {})
    bucket[step.status] = bucket.get(step.status, 0) + 1
