"""The built-in task types (python, shell, notebook). The contract they implement, and a plugin's task types
too, is :mod:`runnable.services.tasks`."""

from __future__ import annotations

from runnable.services.tasks import BaseTaskType, TaskResult

__all__ = ["BaseTaskType", "TaskResult"]
