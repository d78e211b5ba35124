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
    """Where run logs are kept. The full contract is in ``docs/writing-a-plugin.md``; in short:

    * every call is durable on its own when it returns (a crash after it loses nothing it wrote), as far as
      the backend's storage promises (say how far in your docs);
    * records read back exactly as written: every attempt, messages of any length and any unicode;
    * what a store returns is the caller's to change, and what it was given it copies (no aliasing);
    * an instance is used from several threads and from processes forked after it was used (``enable_parallel``
      forks branches): hold no connection, lock or thread a fork would share, or reopen them in the child;
    * errors users can cause are :mod:`runnable.errors` exceptions with one-line messages.

    ``runnable.testing.RunLogStoreSuite`` checks all of it.
    """

    service_kind: ClassVar[str] = "run-log-store"
    # True when several processes may write step records of the same run at once (parallel branches).
    supports_concurrent_writers: ClassVar[bool] = False

    @abstractmethod
    def create_run_log(self, run_log: RunLog) -> None:
        """Persist a new run, steps and job record included if it has any.

        Claims ``run_log.run_id`` atomically: if the id exists, or another run claims it at the same instant,
        exactly one call succeeds and the others raise :class:`runnable.errors.RunnableError` (one line naming
        the id) and change nothing.
        """

    @abstractmethod
    def get_run_log(self, run_id: str) -> RunLog:
        """The whole run as last written: the created record, then every step and parameter increment since,
        or the final record once finished. A new object the caller may change. A reader never sees a torn
        record, not even while other processes write or the run finishes.

        Raises :class:`runnable.errors.RunLogNotFoundError` for an unknown id and
        :class:`runnable.errors.RunnableError` (one line) for a record that exists but cannot be read.
        """

    @abstractmethod
    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        """Record (or replace) one step, addressed by its dotted ``internal_name`` (``map.item.step``).

        The latest write of a name wins and keeps the place of the first, so steps read back in the order
        they started. Costs the same whatever the size of the run (no whole-run rewrite). With
        ``supports_concurrent_writers``, processes writing different steps of one run at once lose nothing.
        """

    @abstractmethod
    def put_parameters(self, run_id: str, parameters: dict[str, Parameter]) -> None:
        """Merge these parameters into the run's current parameters (names not given keep their values)."""

    @abstractmethod
    def finish_run_log(self, run_log: RunLog) -> None:
        """Write the final record of a run (status, end time, steps, a job's record in ``run_log.job`` only)
        and compact whatever was appended. Steps written by other processes stay. Afterwards
        :meth:`get_run_log` returns exactly this record."""

    @abstractmethod
    def list_run_ids(self) -> list[str]:
        """Ids of all runs in the store, newest first, each once. Reads no run's content, so one corrupt run
        never hides the others."""
