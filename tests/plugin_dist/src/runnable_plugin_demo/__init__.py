"""A demo runnable plugin: a catalog chosen by ``type: demo-catalog``, an observer of step ends, and a task type
(``command_type: template``).

The catalog keeps items under ``<root>/<run_id>/<name>``; ``root`` is required, so a config file has to say
where. The observer appends ``<run_id> <step> <status>`` to ``observed-steps.txt`` in the working directory
for every finished step, and ``<run_id> run <status>`` when the run ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, ClassVar

from runnable.errors import CatalogError
from runnable.hookspecs import hookimpl
from runnable.services.catalog import BaseCatalog, expand_local_glob
from runnable.services.tasks import BaseTaskType, TaskResult

OBSERVED = "observed-steps.txt"


class DemoCatalog(BaseCatalog):
    service_name: ClassVar[str] = "demo-catalog"

    root: str  # required: where the items go
    max_items: int = 1000

    def _folder(self, run_id: str) -> Path:
        return Path(self.root) / run_id

    def open_write(self, run_id: str, name: str) -> IO[bytes]:
        path = self._folder(run_id) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "wb")

    def open_read(self, run_id: str, name: str) -> IO[bytes]:
        try:
            return open(self._folder(run_id) / name, "rb")
        except FileNotFoundError:
            raise CatalogError(f"demo-catalog: run {run_id!r} has no item {name!r}") from None

    def list_files(self, run_id: str, pattern: str) -> list[str]:
        return expand_local_glob(pattern, self._folder(run_id))[: self.max_items]

    def location(self) -> str:
        return f"demo://{self.root}"


@hookimpl
def register_catalogs() -> list[type]:
    return [DemoCatalog]


def _note(line: str) -> None:
    with open(OBSERVED, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


@hookimpl
def step_finished(run_id: str, step_log: Any) -> None:
    _note(f"{run_id} {step_log.name} {step_log.status}")


@hookimpl
def run_finished(run_log: Any) -> None:
    _note(f"{run_log.run_id} run {run_log.status}")


class TemplateTaskType(BaseTaskType):
    """``command_type: template``: the command is a ``str.format`` template filled from the parameters; it is
    printed, and returned as the step's single return."""

    command_type: ClassVar[str] = "template"

    def run(self, node: Any, values: Mapping[str, Any], env: dict[str, str], result: TaskResult) -> None:
        text = node.command.format_map(values)
        print(text)
        if node.returns:
            result.returned[node.returns[0].name] = text


@hookimpl
def register_task_types() -> list[type]:
    return [TemplateTaskType]
