"""The file-system run log store: atomic JSON, an append-only journal while running, replay after a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from core_helpers import run_log, write
from runnable import Pipeline, PythonTask
from runnable.defaults.chunked_run_log import ChunkedFileSystemRunLogStore
from runnable.defaults.file_system_run_log import FileSystemRunLogStore
from runnable.errors import RunnableError
from runnable.models.parameters import JsonParameter
from runnable.models.run_log import RunLog, StepLog


def test_a_crashed_run_is_readable_from_json_plus_journal(tmp_path):
    store = FileSystemRunLogStore(log_folder=str(tmp_path))
    store.create_run_log(RunLog(run_id="r", status="PROCESSING"))
    store.put_step_log("r", StepLog(name="a", internal_name="a", status="SUCCESS"))
    store.put_parameters("r", {"x": JsonParameter(value=1)})
    store.put_step_log("r", StepLog(name="b", internal_name="b", status="PROCESSING"))
    # the process dies mid-append: a torn last line
    with open(tmp_path / "r.journal", "a") as journal:
        journal.write('{"step": {"name": "c", "inter')

    reader = FileSystemRunLogStore(log_folder=str(tmp_path))
    log = reader.get_run_log("r")
    assert list(log.steps) == ["a", "b"]
    assert log.steps["b"].status == "PROCESSING"
    assert log.parameters["x"].value == 1
    json.loads((tmp_path / "r.json").read_text())  # the main file is always whole


def test_finish_compacts_the_journal_atomically(tmp_path):
    store = FileSystemRunLogStore(log_folder=str(tmp_path))
    run = RunLog(run_id="r", status="PROCESSING")
    store.create_run_log(run)
    step = StepLog(name="a", internal_name="a", status="SUCCESS")
    store.put_step_log("r", step)
    run.put_step(step)
    run.status = "SUCCESS"
    store.finish_run_log(run)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no journal, no temporary files left
    assert store.get_run_log("r").steps["a"].status == "SUCCESS"
    assert store.list_run_ids() == ["r"]


def test_per_step_writes_do_not_rewrite_the_run_log(tmp_path):
    """Each step appends a record; the JSON file is written at the start and at the end only."""
    store = FileSystemRunLogStore(log_folder=str(tmp_path))
    store.create_run_log(RunLog(run_id="r"))
    before = (tmp_path / "r.json").stat().st_mtime_ns
    sizes = []
    for index in range(50):
        store.put_step_log("r", StepLog(name=f"s{index}", internal_name=f"s{index}", status="SUCCESS"))
        sizes.append((tmp_path / "r.journal").stat().st_size)
    growth = [b - a for a, b in zip(sizes, sizes[1:], strict=False)]
    assert max(growth) - min(growth) <= 4  # constant-size appends (digits of the index aside)
    assert (tmp_path / "r.json").stat().st_mtime_ns == before


def _composite_with_branches(store: FileSystemRunLogStore, run: RunLog) -> StepLog:
    fan = StepLog(name="fan", internal_name="fan", status="PROCESSING", step_type="map")
    run.put_step(fan)
    store.put_step_log("r", fan)
    for key in ("a", "b"):
        for name in ("work", "success"):
            step = StepLog(name=name, internal_name=f"fan.{key}.{name}", status="PROCESSING")
            run.put_step(step)
            store.put_step_log("r", step)
            step.status = "SUCCESS"
            store.put_step_log("r", step)
    fan.status = "SUCCESS"
    return fan


def test_a_composite_record_does_not_repeat_the_branch_steps_the_journal_holds(tmp_path):
    """A map's fan-in record names its branches' steps instead of repeating them (13 MB at 10,000 items); a
    reader replaying the journal sees exactly what the writer holds."""
    store = FileSystemRunLogStore(log_folder=str(tmp_path))
    run = RunLog(run_id="r", status="PROCESSING")
    store.create_run_log(run)
    fan = _composite_with_branches(store, run)
    store.put_step_log("r", fan)
    last = json.loads((tmp_path / "r.journal").read_text().splitlines()[-1])
    assert "steps" not in last["step"]["branches"]["fan.a"]
    assert last["kept"] == {"fan.a": ["fan.a.work", "fan.a.success"], "fan.b": ["fan.b.work", "fan.b.success"]}
    reread = FileSystemRunLogStore(log_folder=str(tmp_path)).get_run_log("r")
    assert reread.model_dump(mode="json") == run.model_dump(mode="json")


def test_a_composite_record_holding_branch_steps_not_written_as_they_are_repeats_them(tmp_path):
    """A branch step changed without being put again, or replaced by another record: the composite's record
    carries its branches whole, so the store keeps what it was given."""
    store = FileSystemRunLogStore(log_folder=str(tmp_path))
    run = RunLog(run_id="r", status="PROCESSING")
    store.create_run_log(run)
    fan = _composite_with_branches(store, run)
    fan.branches["fan.a"].steps["fan.a.work"] = StepLog(name="work", internal_name="fan.a.work", status="FAIL")
    store.put_step_log("r", fan)
    last = json.loads((tmp_path / "r.journal").read_text().splitlines()[-1])
    assert "kept" not in last and "steps" in last["step"]["branches"]["fan.a"]
    reread = FileSystemRunLogStore(log_folder=str(tmp_path)).get_run_log("r")
    assert reread.search_step("fan.a.work").status == "FAIL"
    assert reread.model_dump(mode="json") == run.model_dump(mode="json")


_SEEN: dict[str, dict] = {}


def _peek() -> None:
    """A step after the composites: what a reader of the running run sees (journal replayed over the JSON)."""
    _SEEN["log"] = FileSystemRunLogStore().get_run_log("peeked").model_dump(mode="json")


def _item(x: int) -> int:
    return x + 1


def _one() -> int:
    return 1


def _count(i: int) -> tuple[int, bool]:
    return i, i >= 2


def _flaky(x: int) -> int:
    if x == 2:
        raise ValueError("two")
    return x


def test_a_reader_of_a_running_run_sees_every_step_of_nested_composites(scratch):
    """Composites in composites, a loop fanned out round after round, a map whose item failed and went on to
    its on_failure step: the journal replayed mid-run says what the writer holds."""
    from runnable import Loop, Map, Parallel

    def inner() -> Pipeline:
        return Pipeline(
            steps=[
                Map(
                    name="inner",
                    iterate_on="xs",
                    iterate_as="x",
                    branch=Pipeline(steps=[PythonTask(name="inc", function=_item, returns=["y"])]),
                )
            ]
        )

    recover = Pipeline(steps=[PythonTask(name="recover", function=_one, returns=["f"])])
    flaky = PythonTask(name="flaky", function=_flaky, returns=["f"], on_failure=recover)
    pipeline = Pipeline(
        steps=[
            Parallel(
                name="both",
                branches={
                    "left": inner(),
                    "right": Pipeline(steps=[PythonTask(name="one", function=_one, returns=["z"])]),
                },
            ),
            Map(name="outer", iterate_on="xs", iterate_as="x", branch=inner()),
            Loop(
                name="rounds",
                max_iterations=5,
                break_on="done",
                index_as="i",
                branch=Pipeline(steps=[PythonTask(name="tick", function=_count, returns=["n", "done"])]),
            ),
            Map(
                name="mixed",
                iterate_on="xs",
                iterate_as="x",
                branch=Pipeline(steps=[flaky]),
            ),
            PythonTask(name="peek", function=_peek),
        ]
    )
    write(scratch / "params.yaml", "xs: [1, 2, 3]\n")
    log = pipeline.execute(parameters_file="params.yaml", run_id="peeked")
    final = log.model_dump(mode="json")
    seen = _SEEN.pop("log")
    assert list(seen["steps"]) == ["both", "outer", "rounds", "mixed", "peek"]
    assert len(seen["steps"]["rounds"]["branches"]) == 3
    assert seen["steps"]["mixed"]["branches"]["mixed.2"]["steps"]["mixed.2.flaky"]["status"] == "FAIL"
    for name in ("both", "outer", "rounds", "mixed"):
        assert seen["steps"][name] == final["steps"][name]


def test_git_code_identity_is_recorded(scratch):
    subprocess.run(["git", "init", "-q"], cwd=scratch, check=True)
    write(scratch / "tracked.py", "x = 1\n")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "add", "tracked.py"], cwd=scratch, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=scratch, check=True)
    subprocess.run(["git", "remote", "add", "origin", "https://example.com/repo.git"], cwd=scratch, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=scratch, capture_output=True, text=True).stdout.strip()

    def noop():
        pass

    Pipeline(steps=[PythonTask(name="noop", function=noop)]).execute(run_id="clean")
    identity = run_log(scratch, "clean")["steps"]["noop"]["code_identities"][0]
    assert identity["code_identifier"] == head and identity["code_identifier_type"] == "git"
    assert identity["code_identifier_dependable"] is True
    assert identity["code_identifier_url"] == "https://example.com/repo.git"

    write(scratch / "tracked.py", "x = 2\n")
    Pipeline(steps=[PythonTask(name="noop", function=noop)]).execute(run_id="dirty")
    identity = run_log(scratch, "dirty")["steps"]["noop"]["code_identities"][0]
    assert identity["code_identifier_dependable"] is False
    assert "tracked.py" in identity["code_identifier_message"]


# --- issue 14: corrupt records, power cuts, a shared folder, run ids claimed once ----------------------------------


def _stores(tmp_path):
    return [
        FileSystemRunLogStore(log_folder=str(tmp_path / "fs")),
        ChunkedFileSystemRunLogStore(log_folder=str(tmp_path / "chunked")),
    ]


def test_a_corrupt_run_log_is_a_one_line_error_and_others_still_list(tmp_path):
    for store in _stores(tmp_path):
        for run_id in ("good-1", "broken", "good-2"):
            store.create_run_log(RunLog(run_id=run_id, status="SUCCESS"))
        header = Path(store.log_folder) / (
            "broken.json" if isinstance(store, FileSystemRunLogStore) else "broken/RunLog.json"
        )
        header.write_text('{"run_id": "broken", "status": ')  # truncated by a disk fault
        assert sorted(store.list_run_ids()) == ["broken", "good-1", "good-2"], "listing never reads a run's content"
        with pytest.raises(RunnableError) as raised:
            store.get_run_log("broken")
        assert "unreadable" in str(raised.value) and "'broken'" in str(raised.value) and "\n" not in str(raised.value)
        assert store.get_run_log("good-2").status == "SUCCESS"


def test_an_empty_chunk_left_by_a_power_cut_is_skipped(tmp_path, caplog):
    store = ChunkedFileSystemRunLogStore(log_folder=str(tmp_path))
    store.create_run_log(RunLog(run_id="r", status="PROCESSING"))
    store.put_step_log("r", StepLog(name="a", internal_name="a", status="SUCCESS"))
    store.put_step_log("r", StepLog(name="b", internal_name="b", status="SUCCESS"))
    chunks = sorted((tmp_path / "r").glob("StepLog-*"))
    chunks[0].write_bytes(b"")  # renamed into place, its bytes never reached the disk
    (tmp_path / "r" / chunks[1].name.replace("StepLog", "Parameters")).write_bytes(b'{"x": {"kind"')
    log = store.get_run_log("r")
    assert list(log.steps) == ["b"]
    assert "skipped the unreadable record" in caplog.text


def test_a_journal_ending_in_zeros_after_a_power_cut_keeps_every_whole_record(tmp_path):
    store = FileSystemRunLogStore(log_folder=str(tmp_path))
    store.create_run_log(RunLog(run_id="r", status="PROCESSING"))
    store.put_step_log("r", StepLog(name="a", internal_name="a", status="SUCCESS"))
    with open(tmp_path / "r.journal", "ab") as journal:
        journal.write(b"\x00" * 64 + b"\n")
    assert list(FileSystemRunLogStore(log_folder=str(tmp_path)).get_run_log("r").steps) == ["a"]


def test_the_chunked_store_leaves_a_catalog_sharing_its_folder_alone(tmp_path):
    """Catalog items at <folder>/<run_id>/... (json files, folders) are neither read as chunks nor deleted."""
    from runnable.defaults.file_system_catalog import FileSystemCatalog

    store = ChunkedFileSystemRunLogStore(log_folder=str(tmp_path))
    catalog = FileSystemCatalog(catalog_location=str(tmp_path))
    run = RunLog(run_id="shared", status="PROCESSING")
    store.create_run_log(run)
    catalog.put_bytes("shared", "metrics.json", b'{"not": "a step"}')
    catalog.put_bytes("shared", "StepLog-notes.json", b"a user's file with an unlucky name")
    catalog.put_bytes("shared", "data/nested/table.csv", b"a,b\n")
    step = StepLog(name="a", internal_name="a", status="SUCCESS")
    store.put_step_log("shared", step)
    assert list(store.get_run_log("shared").steps) == ["a"]
    run.put_step(step)
    run.status = "SUCCESS"
    store.finish_run_log(run)
    kept = set(catalog.list_files("shared", "**")) - {"RunLog.json"}  # the store's own record, listed too
    assert kept == {"StepLog-notes.json", "data/nested/table.csv", "metrics.json"}
    assert store.list_run_ids() == ["shared"]


@pytest.mark.parametrize("run_id", ["../x", "a/b", ".hidden", ""])
def test_a_run_id_that_is_not_one_name_is_refused_by_the_stores(tmp_path, run_id):
    for store in _stores(tmp_path):
        with pytest.raises(RunnableError):
            store.create_run_log(RunLog(run_id=run_id))
    assert not (tmp_path / "x").exists()


def test_two_runs_started_at_once_with_one_run_id_exactly_one_runs(scratch):
    """Two ``runnable execute --run-id same`` at the same instant: one runs, the other is a one-line error."""
    write(scratch / "tasks_claim.py", "import time\n\ndef slow():\n    time.sleep(1)\n")
    write(
        scratch / "pipeline.yaml",
        """
        dag:
          start_at: slow
          steps:
            slow: {type: task, command: tasks_claim.slow, next: success}
            success: {type: success}
            fail: {type: fail}
        """,
    )
    for store in ("file-system", "chunked-fs"):
        write(scratch / f"{store}.yaml", f"run-log-store:\n  type: {store}\n  config: {{log_folder: runs-{store}}}\n")
        command = [
            sys.executable,
            "-m",
            "runnable",
            "execute",
            "pipeline.yaml",
            "-c",
            f"{store}.yaml",
            "--run-id",
            "same",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")} | {
            "COLUMNS": "200",
            "PYTHONPATH": str(scratch),
        }
        processes = [
            subprocess.Popen(command, cwd=scratch, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outcomes = [(p.wait(timeout=120), *p.communicate()) for p in processes]
        codes = sorted(code for code, _, _ in outcomes)
        assert codes[0] == 0 and codes[1] != 0, f"{store}: {outcomes}"
        loser = next(err + out for code, out, err in outcomes if code != 0)
        assert "already exists" in loser and "same" in loser, loser
        assert "Traceback" not in loser
        error_lines = [line for line in loser.splitlines() if "already exists" in line]
        assert len(error_lines) == 1
