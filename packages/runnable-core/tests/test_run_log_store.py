"""The file-system run log store: atomic JSON, an append-only journal while running, replay after a crash."""

from __future__ import annotations

import json
import subprocess

from core_helpers import run_log, write
from runnable import Pipeline, PythonTask
from runnable.defaults.file_system_run_log import FileSystemRunLogStore
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
