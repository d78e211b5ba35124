"""The secrets manager suite: values reach a task's environment, and nothing else.

A task lists the secrets it needs; while it runs they are environment variables, and they never reach the
run log, the catalog or what runnable prints. A missing secret fails the step with a message naming the
secret and the manager. The suite runs real pipelines with the manager under test and searches everything
persisted and printed for the values.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from typing import Any

import pytest

from runnable.errors import SecretNotFoundError
from runnable.models.graph import Graph
from runnable.services.secrets import BaseSecretsManager
from runnable.testing import tasks
from runnable.testing.harness import (
    ServiceSuite,
    Workspace,
    credential_values,
    leaked,
    missing_fixture,
    run_workers,
)

MIN_LENGTH = 6


def look_up_many(index: int, barrier: Any, manager: BaseSecretsManager, names: list[str]) -> dict[str, str]:
    """A branch's task asking for its secrets, a few times over."""
    barrier.wait(timeout=60)
    found: dict[str, str] = {}
    for _ in range(3):
        found = {name: manager.get(name) for name in names}
    return found


def _leaks(values: list[str], **places: str) -> list[str]:
    """``"<place> contains the value of secret #<i>"`` for every value found (never the value itself)."""
    return [
        f"{place} contains secret #{i}" for place, text in places.items() for i, v in enumerate(values) if v in text
    ]


class SecretsManagerSuite(ServiceSuite):
    """Subclass it and provide two fixtures: the manager, and the secrets its backend is known to hold::

        class TestMySecrets(SecretsManagerSuite):
            @pytest.fixture
            def secrets_manager(self, tmp_path):
                (tmp_path / "secrets.txt").write_text("API_TOKEN=tok-8d9f7a\\nDB_PASSWORD=p@ss w0rd=\\n")
                return MySecrets(path=str(tmp_path / "secrets.txt"))

            @pytest.fixture
            def known_secrets(self):
                return {"API_TOKEN": "tok-8d9f7a", "DB_PASSWORD": "p@ss w0rd="}

    Values must be distinctive (at least 6 characters): the suite searches for them in everything persisted.
    Override ``missing_secret_name`` if your backend restricts names.
    """

    # Seconds a look-up in a thread or process may take before the suite calls it hung.
    concurrency_timeout: float = 60.0

    @pytest.fixture
    def secrets_manager(self) -> BaseSecretsManager:
        missing_fixture(type(self).__name__, "secrets_manager", "the secrets manager instance under test")
        raise AssertionError  # unreachable: missing_fixture fails the test

    @pytest.fixture
    def known_secrets(self) -> dict[str, str]:
        missing_fixture(type(self).__name__, "known_secrets", "a dict of secret names to the values the backend holds")
        raise AssertionError  # unreachable

    @pytest.fixture
    def missing_secret_name(self) -> str:
        """A name the backend does not hold."""
        return f"CONFORMANCE_MISSING_{uuid.uuid4().hex[:8].upper()}"

    @pytest.fixture
    def secret_values(self, known_secrets: dict[str, str]) -> list[str]:
        assert known_secrets, "known_secrets must name at least one secret"
        short = [name for name, value in known_secrets.items() if len(value) < MIN_LENGTH]
        assert not short, f"known_secrets {short}: values need {MIN_LENGTH}+ characters to be searched for safely"
        return list(known_secrets.values())

    def _pipeline(self, names: list[str]) -> Graph:
        from runnable import Pipeline, PythonTask

        return Pipeline(
            steps=[
                PythonTask(
                    name="uses secrets",
                    function=tasks.fingerprint_secrets,
                    secrets=names,
                    returns=["fingerprint"],
                )
            ]
        ).return_dag()

    # --- looking secrets up --------------------------------------------------------------------------------

    def test_is_a_secrets_manager(self, secrets_manager: BaseSecretsManager) -> None:
        assert isinstance(secrets_manager, BaseSecretsManager)
        assert isinstance(type(secrets_manager).service_name, str) and type(secrets_manager).service_name

    def test_known_secrets_are_returned_exactly(
        self, secrets_manager: BaseSecretsManager, known_secrets: dict[str, str]
    ) -> None:
        for name, value in known_secrets.items():
            assert secrets_manager.get(name) == value, f"secret {name!r}: wrong value"
            assert secrets_manager.get(name) == value, f"secret {name!r}: a second look-up differs"

    def test_a_missing_secret_is_secret_not_found_naming_it_and_the_manager(
        self, secrets_manager: BaseSecretsManager, missing_secret_name: str, secret_values: list[str]
    ) -> None:
        with pytest.raises(SecretNotFoundError) as raised:
            secrets_manager.get(missing_secret_name)
        message = f"{raised.value} {raised.value.hint}"
        assert missing_secret_name in str(raised.value), "the message must name the missing secret"
        assert type(secrets_manager).service_name in str(raised.value), "the message must name the manager"
        assert not _leaks(secret_values, message=message)

    def test_the_recorded_configuration_holds_no_secret_value(
        self, secrets_manager: BaseSecretsManager, secret_values: list[str]
    ) -> None:
        """``masked_config()`` is written into every run log (``run_config``)."""
        recorded = json.dumps(secrets_manager.masked_config(), default=str)
        assert not _leaks(secret_values, masked_config=recorded)

    @pytest.mark.parametrize("method", ["thread", "fork"])
    def test_look_ups_work_from_threads_and_forked_branches(
        self, secrets_manager: BaseSecretsManager, known_secrets: dict[str, str], method: str
    ) -> None:
        """``enable_parallel`` forks branches after the parent used the manager: a client session, a
        connection pool or a cached token inherited across fork must still give the right values."""
        for name in known_secrets:
            secrets_manager.get(name)  # the parent has a warm client before forking
        names = list(known_secrets)
        for found in run_workers(method, 4, look_up_many, secrets_manager, names, timeout=self.concurrency_timeout):
            assert found == known_secrets, "a concurrent or forked look-up returned other values"

    @pytest.fixture
    def backend_credentials(self, secrets_manager: BaseSecretsManager) -> list[str]:
        """The credentials in the manager's own configuration (a token to its vault); override if elsewhere."""
        return credential_values(secrets_manager)

    def test_its_own_credentials_never_reach_a_run_log_or_catalog_file(
        self,
        secrets_manager: BaseSecretsManager,
        known_secrets: dict[str, str],
        workspace: Workspace,
        backend_credentials: list[str],
    ) -> None:
        if not backend_credentials:
            pytest.skip("the manager's configuration holds no credential (no SecretStr, no token-like field)")
        names = list(known_secrets)
        run_log = workspace.run(self._pipeline(names), secrets_manager, parameters={"secret_names": names})
        assert run_log.status == "SUCCESS", run_log.steps["uses secrets"].message
        leaks = leaked(
            backend_credentials,
            run_log=run_log.model_dump_json(),
            persisted_files=workspace.persisted_text(),
            masked_config=json.dumps(secrets_manager.masked_config(), default=str),
        )
        assert not leaks, leaks

    # --- in a real pipeline ----------------------------------------------------------------------------------

    def test_a_task_sees_its_secrets_only_while_it_runs(
        self, secrets_manager: BaseSecretsManager, known_secrets: dict[str, str], workspace: Workspace
    ) -> None:
        names = list(known_secrets)
        before = {name: os.environ.get(name) for name in names}
        run_log = workspace.run(self._pipeline(names), secrets_manager, parameters={"secret_names": names})
        assert run_log.status == "SUCCESS", run_log.steps["uses secrets"].message
        received = run_log.parameters["fingerprint"].value
        assert received == tasks.fingerprint(list(known_secrets.values())), "the task saw other values"
        after = {name: os.environ.get(name) for name in names}
        assert after == before, "secrets must be in the environment only while their task runs"

    def test_no_secret_value_is_persisted_or_printed(
        self,
        secrets_manager: BaseSecretsManager,
        known_secrets: dict[str, str],
        secret_values: list[str],
        workspace: Workspace,
        capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        names = list(known_secrets)
        run_log = workspace.run(self._pipeline(names), secrets_manager, parameters={"secret_names": names})
        assert run_log.status == "SUCCESS", run_log.steps["uses secrets"].message
        printed = capfd.readouterr()
        leaks = _leaks(
            secret_values,
            run_log=run_log.model_dump_json(),
            run_log_store_and_catalog=workspace.persisted_text(),
            stdout=printed.out,
            stderr=printed.err,
            logging=caplog.text,
        )
        assert not leaks, leaks

    def test_a_missing_secret_fails_its_step_naming_it_and_leaks_nothing(
        self,
        secrets_manager: BaseSecretsManager,
        known_secrets: dict[str, str],
        secret_values: list[str],
        missing_secret_name: str,
        workspace: Workspace,
        capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        names = [*known_secrets, missing_secret_name]
        run_log = workspace.run(self._pipeline(names), secrets_manager, parameters={"secret_names": names})
        step = run_log.steps["uses secrets"]
        assert run_log.status == "FAIL" and step.status == "FAIL"
        assert missing_secret_name in step.message, "the step's message must name the missing secret"
        assert "Traceback" not in step.message
        printed = capfd.readouterr()
        leaks = _leaks(
            secret_values,
            run_log=run_log.model_dump_json(),
            run_log_store_and_catalog=workspace.persisted_text(),
            stdout=printed.out,
            stderr=printed.err,
            logging=caplog.text,
        )
        assert not leaks, leaks
