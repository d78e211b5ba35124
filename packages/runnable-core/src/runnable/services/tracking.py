"""Experiment trackers: observers of the run lifecycle that send parameters and metrics somewhere.

A tracker implements any of the lifecycle hooks of :mod:`runnable.hookspecs` as methods decorated with
``@hookimpl``; the engine registers the configured tracker with the plugin manager for the duration of a
run, next to any other observers installed as plugins.
"""

from __future__ import annotations

from typing import ClassVar

from runnable.services.base import Service


class BaseExperimentTracker(Service):
    service_kind: ClassVar[str] = "experiment-tracker"
