"""The conformance kit: abstract pytest suites a plugin's tests subclass, one per kind of plugin.

A plugin proves its backend by subclassing the suite of its kind and providing one fixture that returns a
configured instance (plus, for some kinds, one fixture describing what the backend holds)::

    import pytest
    from runnable.testing import CatalogSuite

    from my_plugin import MyCatalog


    class TestMyCatalog(CatalogSuite):
        @pytest.fixture
        def catalog(self, tmp_path):
            return MyCatalog(root=str(tmp_path / "store"))

===========================  ===================================================  ==========================
suite                        fixtures the subclass provides                       for
===========================  ===================================================  ==========================
``CatalogSuite``             ``catalog``                                          catalogs
``RunLogStoreSuite``         ``run_log_store``                                    run log stores
``SecretsManagerSuite``      ``secrets_manager``, ``known_secrets``               secrets managers
``ExperimentTrackerSuite``   ``experiment_tracker``, ``tracked_run_reader``       experiment trackers
``RenderingExecutorSuite``   ``pipeline_executor``                                executors that render
``JobExecutorSuite``         ``job_executor``                                     job executors
===========================  ===================================================  ==========================

Helpers for a plugin's own tests: :func:`run_workers` runs a function in threads, forked or spawned
processes at once (as parallel branches do), :func:`credential_values` finds the credentials in a backend's
configuration, :func:`rebuilt` builds a second instance from the same settings.

This package imports pytest; ``import runnable`` never imports it. Install it with ``runnable-core[testing]``.
"""

from __future__ import annotations

from runnable.testing.catalog import CatalogSuite
from runnable.testing.commands import StepCommand, find_commands
from runnable.testing.executors import JobExecutorSuite, RenderingExecutorSuite
from runnable.testing.harness import START_METHODS, Workspace, credential_values, rebuilt, run_workers, unique_run_id
from runnable.testing.run_log_store import RunLogStoreSuite
from runnable.testing.secrets import SecretsManagerSuite
from runnable.testing.tracking import ExperimentTrackerSuite, TrackedRun, TrackedRunReader, read_from_run_log

__all__ = [
    "START_METHODS",
    "CatalogSuite",
    "ExperimentTrackerSuite",
    "JobExecutorSuite",
    "RenderingExecutorSuite",
    "RunLogStoreSuite",
    "SecretsManagerSuite",
    "StepCommand",
    "TrackedRun",
    "TrackedRunReader",
    "Workspace",
    "credential_values",
    "find_commands",
    "read_from_run_log",
    "rebuilt",
    "run_workers",
    "unique_run_id",
]
