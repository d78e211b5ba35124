"""What a person sees while a run goes and when it ends: a line per step and a summary table.

The reporter is just another observer of the lifecycle hooks. On a terminal a spinner names the step that
is running; in a log file (CI) each finished step is one plain line, so long runs stay readable either way.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from runnable.hookspecs import hookimpl

if TYPE_CHECKING:
    from rich.console import Console

    from runnable.engine.context import RunContext
    from runnable.models.run_log import RunLog, StepLog

_STYLE = {"SUCCESS": "green", "FAIL": "bold red", "PROCESSING": "yellow"}
_MARK = {"SUCCESS": "✓", "FAIL": "✗"}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def make_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False)


class ConsoleReporter:
    def __init__(self, context: RunContext) -> None:
        self.context = context
        self.console = make_console()
        self.status: Any = None
        self.finished = 0

    def pause(self) -> None:
        """Stop the spinner (before forking worker processes, which must not inherit its thread's lock)."""
        if self.status is not None:
            self.status.stop()

    def resume(self) -> None:
        if self.status is not None:
            self.status.start()

    @hookimpl
    def run_started(self, run_log: RunLog) -> None:
        name = f" {run_log.pipeline_name}" if run_log.pipeline_name else ""
        self.console.print(f"[bold]runnable[/bold] run [cyan]{run_log.run_id}[/cyan]{name}")
        if self.console.is_terminal:
            self.status = self.console.status("starting", spinner="dots")
            self.status.start()

    @hookimpl
    def step_started(self, run_id: str, step_log: StepLog) -> None:
        if self.status is not None and step_log.step_type not in ("success", "fail"):
            self.status.update(f"running [bold]{step_log.internal_name}[/bold] ({self.finished} done)")

    @hookimpl
    def step_finished(
        self, run_id: str, step_log: StepLog, parameters: dict[str, Any], metrics: dict[str, Any]
    ) -> None:
        if step_log.step_type in ("success", "fail"):
            return
        self.finished += 1
        style = _STYLE.get(step_log.status, "")
        mark = _MARK.get(step_log.status, "·")
        line = f"  [{style}]{mark}[/{style}] {step_log.internal_name}  [dim]{_duration(step_log.duration)}[/dim]"
        if step_log.status == "FAIL" and step_log.message:
            line += f"\n    [red]{_escape(step_log.message)}[/red]"
        self.console.print(line)

    @hookimpl
    def run_finished(self, run_log: RunLog) -> None:
        if self.status is not None:
            self.status.stop()
        print_summary(self.console, run_log, self.context.run_log_store.masked_config())


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_summary(console: Console, run_log: RunLog, store: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_edge=False)
    table.add_column("step")
    table.add_column("status")
    table.add_column("duration", justify="right")
    for step in run_log.iter_steps():
        if step.step_type in ("success", "fail"):
            continue
        style = _STYLE.get(step.status, "")
        table.add_row(step.internal_name, f"[{style}]{step.status}[/{style}]", _duration(step.duration))
    console.print(table)
    total = None
    if run_log.start_time and run_log.end_time:
        total = (run_log.end_time - run_log.start_time).total_seconds()
    style = _STYLE.get(run_log.status, "")
    config = store.get("config", {})
    location = config.get("log_folder") or config.get("location") or ""
    where = f"{store.get('type')}: {location}" if location else str(store.get("type"))
    console.print(
        f"[{style}]{run_log.status}[/{style}] in {_duration(total)} · run log "
        f"[cyan]{run_log.run_id}[/cyan] ({_escape(where)})",
        soft_wrap=True,
    )
