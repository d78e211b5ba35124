"""The run log store suite: every increment the engine sends is kept, read back whole, and never lost.

The engine writes a run in increments (a new run, one record per step, parameter updates, the final record)
and ``runnable runs show`` or a retry read it back, possibly from another process while the run goes. The
concurrency tests are generic: a store whose class sets ``supports_concurrent_writers = True`` (a chunked
store, a database) is also run with several processes writing steps of the same run at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from runnable.errors import RunLogNotFoundError, RunnableError
from runnable.models.parameters import JsonParameter, MetricParameter, ObjectParameter, Parameter
from runnable.models.run_log import CodeIdentity, DataCatalog, RunLog, Status, StepAttempt, StepLog
from runnable.services.run_log_store import BaseRunLogStore
from runnable.testing import tasks
from runnable.testing.harness import (
    ServiceSuite,
    Workspace,
    credential_values,
    leaked,
    missing_fixture,
    rebuilt,
    run_workers,
    unique_run_id,
)

START = datetime(2024, 5, 6, 7, 8, 9, 123456)
WRITERS = 4
STEPS_PER_WRITER = 20
CLAIMANTS = 8


def sample_run(run_id: str) -> RunLog:
    """A new run as the engine creates it: parameters of every kind and an effective configuration."""
    parameters: dict[str, Parameter] = {
        "alpha": JsonParameter(value={"nested": [1, 2.5, "three", None]}),
        "model": ObjectParameter(value="model"),
        "score": MetricParameter(value=0.5),
    }
    return RunLog(
        run_id=run_id,
        dag_hash="3f786850e387550fdab836ed7e6dc881de23001b",
        tag="conformance",
        status="PROCESSING",
        pipeline_name="conformance pipeline",
        start_time=START,
        initial_parameters=dict(parameters),
        parameters=dict(parameters),
        run_config={"catalog": {"type": "file-system", "config": {"catalog_location": ".catalog"}}, "n": [1, 2]},
    )


def long_message(label: str, attempt: int) -> str:
    """A message as a failing task leaves it: several lines, well over 255 characters, unicode and quotes."""
    lines = [
        f"{label}: attempt {attempt} failed — ValueError: données invalides ✗ (模型 {attempt}) 🚀",
        'Traceback (most recent call last):\n  File "train.py", line 42, in <module>\n    fit(x, y)',
        "\t" + "x" * 300 + f" end of attempt {attempt}",
        "quotes \" ' \\ and a NUL-free control \x1b[31mred\x1b[0m",
    ]
    return "\n".join(lines)


def sample_step(internal_name: str, status: Status = "SUCCESS", message: str = "", step_type: str = "task") -> StepLog:
    """A step record with every field filled, as the engine writes it after a task ran three times.

    The first two attempts failed with long multi-line unicode messages; the last ended with ``status``.
    """
    run_id = "r"
    attempts = [
        StepAttempt(
            attempt_number=number,
            start_time=START + timedelta(seconds=10 * number),
            end_time=START + timedelta(seconds=10 * number + 1, microseconds=5),
            status=status if number == 3 else "FAIL",
            message=message if number == 3 else long_message(internal_name, number),
            input_parameters={"alpha": JsonParameter(value=1), "note": JsonParameter(value="é\n✓")},
            output_parameters={"score": MetricParameter(value=0.25 * number)} if number == 3 else {},
            user_defined_metrics={"score": 0.25 * number},
        )
        for number in (1, 2, 3)
    ]
    return StepLog(
        name=internal_name.rsplit(".", 1)[-1],
        internal_name=internal_name,
        status=status,
        step_type=step_type,
        message=message,
        code_identities=[
            CodeIdentity(
                code_identifier="0123456789abcdef0123456789abcdef01234567",
                code_identifier_type="git",
                code_identifier_dependable=False,
                code_identifier_url="https://example.com/repo.git",
                code_identifier_message="modified: données.py\nuntracked: 新しい.ipynb",
            )
        ],
        attempts=attempts,
        data_catalog=[
            DataCatalog(
                name="data/table.csv",
                data_hash="ab" * 32,
                catalog_relative_path=f"{run_id}/data/table.csv",
                catalog_handler_location=".catalog",
                stage="put",
            )
        ],
    )


def as_json(record: Any) -> Any:
    return record.model_dump(mode="json")


def _read_while(write: Callable[[], None], read: Callable[[], None]) -> int:
    """Run ``write`` in a thread and ``read`` in a loop until it is done (and once more); returns the reads."""
    failures: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:
        try:
            write()
        except BaseException as error:  # re-raised below, in the test's thread
            failures.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=writer, name="conformance-writer")
    thread.start()
    reads = 0
    try:
        while True:
            finished = done.is_set()
            read()
            reads += 1
            if finished:
                break
            time.sleep(0)  # let the writer have the GIL: a reader hogging it would starve the writer
    finally:
        thread.join()
    if failures:
        raise AssertionError(f"the writer failed: {failures[0]!r}") from failures[0]
    return reads


def write_branch_steps(index: int, barrier: Any, store: BaseRunLogStore, run_id: str, count: int) -> int:
    """One writer (a forked branch, or a process building its own store): the steps of its own branches.

    Like a map iteration, each step is written twice (PROCESSING, then SUCCESS), and the writer ends with a
    parameter of its own.
    """
    barrier.wait(timeout=120)
    for step in range(count):
        name = f"fan.w{index}-{step}.work"
        store.put_step_log(run_id, sample_step(name, status="PROCESSING"))
        store.put_step_log(run_id, sample_step(name, status="SUCCESS"))
    store.put_parameters(run_id, {f"from_writer_{index}": JsonParameter(value=index)})
    return index


def claim_run_id(index: int, barrier: Any, store: BaseRunLogStore, run_id: str) -> str:
    """One of several runs started at the same instant with the same id: ``won`` or the error's text."""
    barrier.wait(timeout=60)
    try:
        store.create_run_log(sample_run(run_id).model_copy(update={"tag": f"claimant-{index}"}))
    except RunnableError as error:
        return f"refused: {error}"
    return "won"


class RunLogStoreSuite(ServiceSuite):
    """Subclass it and provide a ``run_log_store`` fixture returning a configured, empty store::

        class TestMyStore(RunLogStoreSuite):
            @pytest.fixture
            def run_log_store(self, tmp_path):
                return MyStore(database=str(tmp_path / "runs.db"))

    Stores whose class sets ``supports_concurrent_writers = True`` also run the multi-process tests.
    """

    # Seconds a writer process may take before the suite calls it hung.
    concurrency_timeout: float = 120.0

    @pytest.fixture
    def run_log_store(self) -> BaseRunLogStore:
        missing_fixture(type(self).__name__, "run_log_store", "the run log store instance under test")
        raise AssertionError  # unreachable: missing_fixture fails the test

    @pytest.fixture
    def backend_credentials(self, run_log_store: BaseRunLogStore) -> list[str]:
        """The credentials in the store's own configuration; override if yours are elsewhere."""
        return credential_values(run_log_store)

    # --- round trips ----------------------------------------------------------------------------------------

    def test_is_a_run_log_store(self, run_log_store: BaseRunLogStore) -> None:
        assert isinstance(run_log_store, BaseRunLogStore)
        assert isinstance(type(run_log_store).service_name, str) and type(run_log_store).service_name

    def test_a_new_run_reads_back_unchanged(self, run_log_store: BaseRunLogStore, run_id: str) -> None:
        run = sample_run(run_id)
        run_log_store.create_run_log(run)
        assert as_json(run_log_store.get_run_log(run_id)) == as_json(run)

    def test_a_missing_run_is_run_log_not_found(self, run_log_store: BaseRunLogStore) -> None:
        with pytest.raises(RunLogNotFoundError):
            run_log_store.get_run_log(unique_run_id("never-created"))

    def test_creating_an_existing_run_is_refused(self, run_log_store: BaseRunLogStore, run_id: str) -> None:
        run_log_store.create_run_log(sample_run(run_id))
        run_log_store.put_step_log(run_id, sample_step("kept"))
        impostor = RunLog(run_id=run_id, tag="impostor")
        with pytest.raises(RunnableError):
            run_log_store.create_run_log(impostor)
        stored = run_log_store.get_run_log(run_id)
        assert stored.tag == "conformance" and list(stored.steps) == ["kept"], "the first run must be untouched"

    def test_step_records_read_back_unchanged_and_in_order(self, run_log_store: BaseRunLogStore, run_id: str) -> None:
        run_log_store.create_run_log(sample_run(run_id))
        steps = [sample_step(name, message=f"message of {name}") for name in ("first", "second step", "third")]
        for step in steps:
            run_log_store.put_step_log(run_id, step)
        stored = run_log_store.get_run_log(run_id)
        assert list(stored.steps) == ["first", "second step", "third"], "steps must keep the order they ran in"
        for step in steps:
            assert as_json(stored.steps[step.internal_name]) == as_json(step)

    def test_putting_a_step_again_replaces_it(self, run_log_store: BaseRunLogStore, run_id: str) -> None:
        """The engine writes each step when it starts and again when it ends: one record, the latest."""
        run_log_store.create_run_log(sample_run(run_id))
        run_log_store.put_step_log(run_id, sample_step("a", status="PROCESSING"))
        run_log_store.put_step_log(run_id, sample_step("b", status="PROCESSING"))
        run_log_store.put_step_log(run_id, sample_step("a", status="SUCCESS"))
        run_log_store.put_step_log(run_id, sample_step("a", status="SUCCESS"))
        stored = run_log_store.get_run_log(run_id)
        assert list(stored.steps) == ["a", "b"]
        assert as_json(stored.steps["a"]) == as_json(sample_step("a", status="SUCCESS"))

    def test_steps_inside_branches_are_kept_under_their_dotted_names(
        self, run_log_store: BaseRunLogStore, run_id: str
    ) -> None:
        run_log_store.create_run_log(sample_run(run_id))
        run_log_store.put_step_log(run_id, sample_step("fan", status="PROCESSING", step_type="parallel"))
        names = ["fan.left.work", "fan.right.work", "fan.left.check"]
        for name in names:
            run_log_store.put_step_log(run_id, sample_step(name))
        stored = run_log_store.get_run_log(run_id)
        assert sorted(stored.steps["fan"].branches) == ["fan.left", "fan.right"]
        for name in names:
            assert as_json(stored.search_step(name)) == as_json(sample_step(name))

    def test_parameter_updates_merge_into_the_current_parameters(
        self, run_log_store: BaseRunLogStore, run_id: str
    ) -> None:
        run = sample_run(run_id)
        run_log_store.create_run_log(run)
        run_log_store.put_parameters(run_id, {"beta": JsonParameter(value=[1, 2])})
        run_log_store.put_parameters(run_id, {"model": ObjectParameter(value="model-2"), "gamma": JsonParameter()})
        run_log_store.put_parameters(run_id, {"score": MetricParameter(value=0.9)})
        stored = run_log_store.get_run_log(run_id)
        expected = {
            "alpha": run.parameters["alpha"],
            "model": ObjectParameter(value="model-2"),
            "score": MetricParameter(value=0.9),
            "beta": JsonParameter(value=[1, 2]),
            "gamma": JsonParameter(),
        }
        assert {k: as_json(v) for k, v in stored.parameters.items()} == {k: as_json(v) for k, v in expected.items()}
        assert as_json(stored)["initial_parameters"] == as_json(run)["initial_parameters"], "initial values stay"

    def test_a_finished_run_reads_back_unchanged(self, run_log_store: BaseRunLogStore, run_id: str) -> None:
        run = sample_run(run_id)
        run_log_store.create_run_log(run)
        for name in ("a", "b"):
            step = sample_step(name)
            run_log_store.put_step_log(run_id, step)
            run.put_step(step)
        run.parameters["beta"] = JsonParameter(value=2)
        run_log_store.put_parameters(run_id, {"beta": run.parameters["beta"]})
        run.status, run.end_time = "SUCCESS", START + timedelta(minutes=3)
        run_log_store.finish_run_log(run)
        assert as_json(run_log_store.get_run_log(run_id)) == as_json(run)
        assert as_json(rebuilt(run_log_store).get_run_log(run_id)) == as_json(run)

    def test_a_job_record_is_kept(self, run_log_store: BaseRunLogStore, run_id: str) -> None:
        run = sample_run(run_id)
        run_log_store.create_run_log(run)
        run.job = sample_step("job", step_type="job")
        run.status = "SUCCESS"
        run_log_store.finish_run_log(run)
        assert as_json(run_log_store.get_run_log(run_id).job) == as_json(run.job)

    def test_a_job_record_is_stored_once(self, run_log_store: BaseRunLogStore, run_id: str) -> None:
        """A job's single record is ``run_log.job``; it is not also a step (a store writing ``iter_steps()``
        into its step table reads it back twice)."""
        run = sample_run(run_id)
        run_log_store.create_run_log(run)
        run.job = sample_step("job", step_type="job")
        run.status = "SUCCESS"
        run_log_store.finish_run_log(run)
        for reader in (run_log_store, rebuilt(run_log_store)):
            stored = reader.get_run_log(run_id)
            assert stored.steps == {}, f"the job's record is also stored as steps {list(stored.steps)}"
            assert [step.internal_name for step in stored.iter_steps()] == ["job"]
            assert as_json(stored) == as_json(run)

    def test_returned_records_are_copies_not_the_stores_own(self, run_log_store: BaseRunLogStore, run_id: str) -> None:
        """Callers change what they get (the engine mutates its run log): the store's copy must not change
        with it, nor with the objects it was given."""
        run = sample_run(run_id)
        run_log_store.create_run_log(run)
        step = sample_step("a")
        run_log_store.put_step_log(run_id, step)
        parameters = {"beta": JsonParameter(value=[1, 2])}
        run_log_store.put_parameters(run_id, parameters)
        expected = as_json(run_log_store.get_run_log(run_id))

        run.tag, run.parameters["alpha"] = "changed after create", JsonParameter(value="changed")
        step.status, step.attempts[0].message = "FAIL", "changed after put"
        parameters["beta"].value.append(3)
        first = run_log_store.get_run_log(run_id)
        assert as_json(first) == expected, "the store kept a reference to an object it was given"
        first.tag = "changed by a reader"
        first.steps["a"].attempts[0].message = "changed by a reader"
        first.steps["a"].attempts.clear()
        first.parameters.clear()
        first.steps.clear()
        assert as_json(run_log_store.get_run_log(run_id)) == expected, "a reader changed the store's own record"

    def test_each_increment_is_readable_at_once_by_another_instance(
        self, run_log_store: BaseRunLogStore, run_id: str
    ) -> None:
        """``runnable runs show`` in another process, or a crash, must find every increment made so far."""
        run_log_store.create_run_log(sample_run(run_id))
        run_log_store.put_step_log(run_id, sample_step("done"))
        run_log_store.put_step_log(run_id, sample_step("running", status="PROCESSING"))
        run_log_store.put_parameters(run_id, {"beta": JsonParameter(value="b")})
        reader = rebuilt(run_log_store)
        stored = reader.get_run_log(run_id)
        assert list(stored.steps) == ["done", "running"] and stored.steps["running"].status == "PROCESSING"
        assert stored.parameters["beta"].value == "b"

    def test_listing_runs_shows_every_run_newest_first(self, run_log_store: BaseRunLogStore) -> None:
        older, newer = unique_run_id("older"), unique_run_id("newer")
        run_log_store.create_run_log(sample_run(older))
        time.sleep(0.05)  # so stores ordering by a clock see two different times
        run_log_store.create_run_log(sample_run(newer))
        listed = run_log_store.list_run_ids()
        assert older in listed and newer in listed
        assert listed.index(newer) < listed.index(older), "runs are listed newest first"
        assert len(listed) == len(set(listed)), "each run is listed once"

    # --- while a run is being written ----------------------------------------------------------------------

    def test_a_reader_sees_a_whole_record_while_a_writer_is_busy(
        self, run_log_store: BaseRunLogStore, run_id: str
    ) -> None:
        """A thread writes many steps while this one reads: each read is a valid record that only grows (no
        torn read, no step disappearing or out of order)."""
        count = 60
        run_log_store.create_run_log(sample_run(run_id))

        def write() -> None:
            for index in range(count):
                step = sample_step(f"step-{index:03d}", status="PROCESSING", message="x" * 100)
                run_log_store.put_step_log(run_id, step)
                run_log_store.put_step_log(run_id, step.model_copy(update={"status": "SUCCESS"}))
                if index % 10 == 0:
                    run_log_store.put_parameters(run_id, {f"p{index}": JsonParameter(value=index)})
                time.sleep(0)  # let the reader in: a fast store could otherwise finish before the first read

        seen = 0

        def check(stored: RunLog) -> None:
            nonlocal seen
            names = list(stored.steps)
            assert names == [f"step-{i:03d}" for i in range(len(names))], "steps out of order or missing"
            assert len(names) >= seen, f"a reader saw steps disappear ({seen} then {len(names)})"
            seen = len(names)

        _read_while(write, lambda: check(run_log_store.get_run_log(run_id)))
        check(run_log_store.get_run_log(run_id))
        assert seen == count

    def test_a_reader_sees_a_whole_record_while_runs_finish(self, run_log_store: BaseRunLogStore) -> None:
        """Finishing a run (compacting, moving, rewriting what was appended) never hides a step from a
        reader, not even for an instant: ``runnable runs show`` may be looking at that moment."""
        steps = 3
        for _ in range(30):  # the window is short: try it on many runs
            run = sample_run(unique_run_id("finishing"))
            run_log_store.create_run_log(run)
            for index in range(steps):
                step = sample_step(f"step-{index:03d}")
                run_log_store.put_step_log(run.run_id, step)
                run.put_step(step)
            run.status = "SUCCESS"

            def check(run_id: str = run.run_id) -> None:
                found = len(run_log_store.get_run_log(run_id).steps)
                assert found == steps, f"while the run finished a reader saw {found} of its {steps} steps"

            _read_while(lambda run=run: run_log_store.finish_run_log(run), check)
            check()

    @pytest.mark.parametrize("method", ["fork", "spawn"])
    def test_concurrent_writers_lose_nothing(self, run_log_store: BaseRunLogStore, run_id: str, method: str) -> None:
        """Several processes (parallel or map branches) write distinct steps of one run at the same time.

        ``fork``: children inherit the very instance the parent used, as ``enable_parallel`` runs branches (a
        connection, a lock or a background thread inherited across fork hangs or corrupts here); ``spawn``:
        each process builds its own store from the settings, as a container would.
        """
        if not type(run_log_store).supports_concurrent_writers:
            pytest.skip(f"{type(run_log_store).__name__} does not set supports_concurrent_writers")
        run_log_store.create_run_log(sample_run(run_id))
        run_log_store.put_step_log(run_id, sample_step("fan", status="PROCESSING", step_type="map"))
        run_log_store.get_run_log(run_id)  # the parent has used every path of the store before forking
        run_workers(
            method,
            WRITERS,
            write_branch_steps,
            run_log_store,
            run_id,
            STEPS_PER_WRITER,
            timeout=self.concurrency_timeout,
        )
        stored = run_log_store.get_run_log(run_id)
        self._assert_every_writer_kept(stored)
        stored.status = "SUCCESS"
        run_log_store.finish_run_log(stored)
        self._assert_every_writer_kept(run_log_store.get_run_log(run_id))

    @pytest.mark.parametrize("method", ["thread", "fork"])
    def test_one_run_id_is_claimed_by_exactly_one_run(self, run_log_store: BaseRunLogStore, method: str) -> None:
        """Runs started at the same instant with one ``--run-id``: exactly one gets it, the others a one-line
        :class:`RunnableError`, and the stored run is the winner's."""
        run_id = unique_run_id("claimed")
        run_log_store.list_run_ids()  # used by the parent before forking
        outcomes = run_workers(method, CLAIMANTS, claim_run_id, run_log_store, run_id, timeout=self.concurrency_timeout)
        winners = [index for index, outcome in enumerate(outcomes) if outcome == "won"]
        assert len(winners) == 1, f"{len(winners)} of {CLAIMANTS} runs claimed the id {run_id!r} at once"
        for outcome in outcomes:
            assert outcome == "won" or ("\n" not in outcome and run_id in outcome), f"not a one-line error: {outcome}"
        assert run_log_store.get_run_log(run_id).tag == f"claimant-{winners[0]}", "a loser overwrote the winner"

    @staticmethod
    def _assert_every_writer_kept(stored: RunLog) -> None:
        expected = {f"fan.w{w}-{i}" for w in range(WRITERS) for i in range(STEPS_PER_WRITER)}
        branches = stored.steps["fan"].branches
        lost = sorted(expected - set(branches))
        assert not lost, f"{len(lost)} of {len(expected)} steps written concurrently were lost, e.g. {lost[:3]}"
        unfinished = [name for name in expected if branches[name].steps[f"{name}.work"].status != "SUCCESS"]
        assert not unfinished, f"steps whose last write was lost: {sorted(unfinished)[:3]}"
        missing = [w for w in range(WRITERS) if f"from_writer_{w}" not in stored.parameters]
        assert not missing, f"parameters written concurrently were lost (writers {missing})"

    # --- in a real pipeline ----------------------------------------------------------------------------------

    def test_records_a_real_run(self, run_log_store: BaseRunLogStore, workspace: Workspace, run_id: str) -> None:
        from runnable import Pipeline, PythonTask, metric

        graph = Pipeline(
            steps=[
                PythonTask(name="train", function=tasks.train, returns=["epochs", metric("accuracy")]),
                PythonTask(name="evaluate", function=tasks.evaluate, returns=[metric("accuracy"), metric("loss")]),
            ]
        ).return_dag()
        returned = workspace.run(graph, run_log_store, parameters={"learning_rate": 0.25}, run_id=run_id)
        assert returned.status == "SUCCESS"
        stored = run_log_store.get_run_log(run_id)
        assert as_json(stored) == as_json(returned)
        assert list(stored.steps) == ["train", "evaluate", "success"]
        assert stored.parameters["epochs"].value == 3 and stored.initial_parameters["learning_rate"].value == 0.25
        assert run_id in run_log_store.list_run_ids()

    def test_a_real_job_is_recorded_once(
        self, run_log_store: BaseRunLogStore, workspace: Workspace, run_id: str
    ) -> None:
        from runnable import PythonJob

        graph = PythonJob(function=tasks.train, returns=["epochs"]).return_dag()
        returned = workspace.run(graph, run_log_store, parameters={"learning_rate": 0.25}, run_id=run_id, job=True)
        assert returned.status == "SUCCESS", returned.job and returned.job.message
        stored = run_log_store.get_run_log(run_id)
        assert as_json(stored) == as_json(returned)
        assert stored.steps == {} and stored.job is not None and stored.job.status == "SUCCESS"

    def test_its_own_credentials_never_reach_a_run_log(
        self, run_log_store: BaseRunLogStore, workspace: Workspace, run_id: str, backend_credentials: list[str]
    ) -> None:
        """The store's own config (a database password, a token) must not be in any run log it writes:
        ``run_config`` records ``masked_config()`` of every service, the store included."""
        from runnable import Pipeline, PythonTask

        if not backend_credentials:
            pytest.skip("the store's configuration holds no credential (no SecretStr, no password-like field)")
        graph = Pipeline(
            steps=[PythonTask(name="train", function=tasks.train, returns=["epochs", "accuracy"])]
        ).return_dag()
        returned = workspace.run(graph, run_log_store, parameters={"learning_rate": 0.25}, run_id=run_id)
        stored = run_log_store.get_run_log(run_id)
        leaks = leaked(
            backend_credentials,
            stored_run_log=stored.model_dump_json(),
            returned_run_log=returned.model_dump_json(),
            persisted_files=workspace.persisted_text(),
        )
        assert not leaks, leaks
