"""Run log stores: where run logs are kept, and how they are written step by step.

The engine keeps the authoritative run log of a run in memory and sends the store *increments*: one call
when the run is created, one per step record, one per parameter update, one when it ends. A store must
make each increment durable on its own, so that a crash leaves a run log that ``runs show`` can read, and
must never re-read or re-write the whole run per step: that is what keeps per-step cost flat.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from runnable.models.parameters import Parameter
from runnable.models.run_log import RunLog, StepLog
from runnable.services.base import Service


class BaseRunLogStore(Service):
    service_kind: ClassVar[str] = "run-log-store"
    # True when several processes may write step records of the same run at once (parallel branches).
    supports_concurrent_writers: ClassVar[bool] = False

    @abstractmethod
    def create_run_log(self, run_log: RunLog) -> None:
        """Persist a new run; raise if ``run_log.run_id`` already exists."""

    @abstractmethod
    def get_run_log(self, run_id: str) -> RunLog:
        """The whole run as last written, or :class:`runnable.errors.RunLogNotFoundError`."""

    @abstractmethod
    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        """Record (or replace) one step, addressed by its dotted ``internal_name``."""

    @abstractmethod
    def put_parameters(self, run_id: str, parameters: dict[str, Parameter]) -> None:
        """Merge these parameters into the run's current parameters."""

    @abstractmethod
    def finish_run_log(self, run_log: RunLog) -> None:
        """Write the final record of a run (status, end time) and compact whatever was appended."""

    @abstractmethod
    def list_run_ids(self) -> list[str]:
        """Ids of all runs in the store, newest first."""
