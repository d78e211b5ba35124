"""The ``run-log`` experiment tracker: metrics stay in the run log, where the engine always records them.

It observes nothing on purpose: every step attempt already carries its ``user_defined_metrics``, so the run
log *is* the tracking store. Other trackers (``mlflow``) add a destination on top of that record.
"""

from __future__ import annotations

from typing import ClassVar

from runnable.services.tracking import BaseExperimentTracker


class RunLogTracker(BaseExperimentTracker):
    service_name: ClassVar[str] = "run-log"
