"""Secrets reach a task's environment only while it runs, and never the run log, catalog or output."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from core_helpers import write
from runnable import Pipeline, PythonTask, ShellTask

SECRET = "s3cr3t-value-9f8e7d"


def _everything_persisted(folder):
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_dotenv_secret_is_present_only_during_the_task(scratch, capsys):
    write(scratch / ".env", f"API_TOKEN={SECRET}\n")
    write(scratch / "config.yaml", "secrets:\n  type: dotenv\n  config: {location: .env}\n")
    seen = {}

    def use_secret():
        seen["during"] = os.environ.get("API_TOKEN")
        print(f"token is {os.environ['API_TOKEN']}")
        return os.environ["API_TOKEN"][:3]

    def after():
        seen["after"] = os.environ.get("API_TOKEN")

    Pipeline(
        steps=[
            PythonTask(name="use", function=use_secret, secrets=["API_TOKEN"], returns=["prefix"]),
            ShellTask(name="shell", command='echo "shell sees $API_TOKEN"', secrets=["API_TOKEN"]),
            PythonTask(name="after", function=after),
        ]
    ).execute(configuration_file="config.yaml", run_id="sec")
    assert seen == {"during": SECRET, "after": None}
    assert "API_TOKEN" not in os.environ
    persisted = _everything_persisted(scratch / ".run_log_store") + _everything_persisted(scratch / ".catalog")
    assert SECRET not in persisted and SECRET not in capsys.readouterr().out
    assert "token is ********" in (scratch / ".catalog" / "sec" / "use.execution.log").read_text()
    assert "shell sees ********" in (scratch / ".catalog" / "sec" / "shell.execution.log").read_text()


def test_env_secrets_reads_the_process_environment(scratch, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", SECRET)

    def connect():
        assert os.environ["DB_PASSWORD"] == SECRET

    log = Pipeline(steps=[PythonTask(name="connect", function=connect, secrets=["DB_PASSWORD"])]).execute(run_id="e")
    assert log.status == "SUCCESS"
    assert os.environ["DB_PASSWORD"] == SECRET  # a variable that was already set is restored, not removed


# ---------------------------------------------------------------------------------------------------------------
# The canary, as a hostile task would try it, through the command line (the descriptors are the real ones there).
# ---------------------------------------------------------------------------------------------------------------


CANARY = "canary-7c1e-secret-4b2d"
MULTILINE = "first-line-9a7b\nsecond-line-3c4d"

LEAKS = """
import logging
import os
import subprocess
import sys

# made before any step runs, holding the process's real stderr: masking must not depend on sys.stderr
LOG = logging.getLogger("leaky")
LOG.addHandler(logging.StreamHandler(sys.stderr))
LOG.setLevel(logging.INFO)


def in_pieces():
    token = os.environ["CANARY"]
    for char in token:
        print(char, end="", flush=True)
    print()
    sys.stderr.write(token[:7])
    sys.stderr.write(token[7:] + "\\n")


def through_logging():
    LOG.info("logged %s", os.environ["CANARY"])


def from_a_subprocess():
    subprocess.run(["sh", "-c", 'printf "child %s\\\\n" "$CANARY"; printf "%s" "$CANARY" >&2'], check=True)
    os.system('echo "system $CANARY"')


def returns_it():
    return os.environ["CANARY"], {"nested": ["x", os.environ["CANARY"]]}


def receives(token, deep):
    print("received", token, deep)
"""

CANARY_PIPELINE = """
dag:
  start_at: pieces
  steps:
    pieces:
      type: task
      command: leaks.in_pieces
      secrets: [CANARY]
      next: logging
    logging:
      type: task
      command: leaks.through_logging
      secrets: [CANARY]
      next: child
    child:
      type: task
      command: leaks.from_a_subprocess
      secrets: [CANARY]
      next: shell
    shell:
      type: task
      command_type: shell
      command: |
        printf '%s' "${CANARY:0:9}"; sleep 0.2; printf '%s\\n' "${CANARY:9}"
        printf 'multi: %s\\n' "$MULTI"
        echo "$CANARY" 1>&2
      secrets: [CANARY, MULTI]
      next: returns
    returns:
      type: task
      command: leaks.returns_it
      secrets: [CANARY]
      returns: [token, deep]
      next: receives
    receives:
      type: task
      command: leaks.receives
      next: success
"""


def _cli(*args, cwd, env=None, **kwargs):
    full = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "runnable", *args], cwd=cwd, env=full, **kwargs)


def _all_text(*folders: Path) -> str:
    return "".join(_everything_persisted(folder) for folder in folders if folder.exists())


def _leaked(text: str) -> bool:
    return CANARY in text or "first-line-9a7b" in text and "second-line-3c4d" in text and MULTILINE in text


@pytest.fixture
def hostile(scratch):
    tmp = scratch / "tmp"
    tmp.mkdir()
    write(scratch / "leaks.py", LEAKS)
    return scratch, {"CANARY": CANARY, "MULTI": MULTILINE, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}


def test_canary_every_way_out_of_a_task_is_masked(hostile):
    scratch, env = hostile
    write(scratch / "pipeline.yaml", CANARY_PIPELINE)
    done = _cli("execute", "pipeline.yaml", "--run-id", "canary", cwd=scratch, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = done.stdout + done.stderr
    persisted = _all_text(scratch / ".run_log_store", scratch / ".catalog", scratch / "tmp")
    assert CANARY not in shown and CANARY not in persisted
    assert MULTILINE not in shown and MULTILINE not in persisted
    logs = {p.name: p.read_text() for p in (scratch / ".catalog" / "canary").glob("*.execution.log")}
    # masked, not dropped: each way out still reaches the step's execution log
    assert logs["pieces.execution.log"].count("********") == 2
    assert "logged ********" in logs["logging.execution.log"]
    assert "child ********" in logs["child.execution.log"] and "system ********" in logs["child.execution.log"]
    assert "********\nmulti: ********" in logs["shell.execution.log"]
    assert "received ******** {'nested': ['x', '********']}" in logs["receives.execution.log"]
    run_log = json.loads((scratch / ".run_log_store" / "canary.json").read_text())
    assert run_log["parameters"]["token"]["value"] == "********"


def test_a_secret_shorter_than_four_characters_is_refused(hostile):
    scratch, env = hostile
    write(
        scratch / "pipeline.yaml",
        """
        dag:
          start_at: pin
          steps:
            pin:
              type: task
              command: leaks.through_logging
              secrets: [PIN]
              next: success
        """,
    )
    done = _cli(
        "execute",
        "pipeline.yaml",
        "--run-id",
        "pin",
        cwd=scratch,
        env={**env, "PIN": "123"},
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    step = json.loads((scratch / ".run_log_store" / "pin.json").read_text())["steps"]["pin"]
    assert step["status"] == "FAIL"
    assert "3 character(s) long" in step["message"] and "shorter than 4" in step["message"]
    assert "123" not in step["message"]


NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "import os, time\nprint('nb sees', os.environ['CANARY'])\nopen('nb-started', 'w').close()\n"
            "os.environ['CANARY']",
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "time.sleep(float(os.environ.get('NB_SLEEP', '0')))",
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}

NOTEBOOK_PIPELINE = """
dag:
  start_at: nb
  steps:
    nb:
      type: task
      command_type: notebook
      command: leaky.ipynb
      secrets: [CANARY]
      next: success
"""


@pytest.mark.notebook
def test_executed_notebook_is_stored_masked_and_its_scratch_folder_removed(hostile):
    scratch, env = hostile
    (scratch / "leaky.ipynb").write_text(json.dumps(NOTEBOOK))
    write(scratch / "pipeline.yaml", NOTEBOOK_PIPELINE)
    done = _cli("execute", "pipeline.yaml", "--run-id", "nb", cwd=scratch, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    executed = next((scratch / ".catalog" / "nb").glob("*_out.ipynb")).read_text()
    assert CANARY not in executed and "nb sees ********" in executed and "'********'" in executed
    assert CANARY not in done.stdout + done.stderr
    assert not list((scratch / "tmp").glob("runnable-*")), "temporary folders must not outlive the step"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.mark.parametrize("pipeline", [pytest.param(NOTEBOOK_PIPELINE, marks=pytest.mark.notebook), "shell"])
def test_a_killed_runner_leaves_no_secret_in_temporary_files(hostile, pipeline):
    scratch, env = hostile
    (scratch / "leaky.ipynb").write_text(json.dumps(NOTEBOOK))
    if pipeline == "shell":
        pipeline = """
        dag:
          start_at: sh
          steps:
            sh:
              type: task
              command_type: shell
              command: echo $$ > bash.pid; echo "started $CANARY"; sleep 2
              secrets: [CANARY]
              next: success
        """
    write(scratch / "pipeline.yaml", pipeline)
    full = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    full.update(env, NB_SLEEP="30")
    runner = subprocess.Popen(
        [sys.executable, "-m", "runnable", "execute", "pipeline.yaml", "--run-id", "killed"],
        cwd=scratch,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        seen = b""
        # the task is inside its step (secret in its environment, temporary files in use) when it says so
        while time.monotonic() < deadline and not (scratch / "nb-started").exists() and b"started" not in seen:
            ready, _, _ = select.select([runner.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(runner.stdout.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
        assert (scratch / "nb-started").exists() or b"started ********" in seen, seen
    finally:
        # Only the runner is killed (as the OOM killer would): the shell command finishes orphaned, its EXIT trap
        # dumps its environment, secrets included, and that must not land in a file.
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        runner.stdout.close()
    if (scratch / "bash.pid").exists():
        orphan = int((scratch / "bash.pid").read_text())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(orphan):
            time.sleep(0.05)
        assert not _alive(orphan)
    try:
        os.killpg(runner.pid, signal.SIGKILL)  # a notebook's kernel, left behind
    except ProcessLookupError:
        pass
    assert CANARY not in _all_text(scratch / "tmp", scratch / ".catalog")


def test_stream_mask_masks_a_secret_however_the_stream_is_cut():
    from runnable.engine.capture import MASK, Redactor

    redact = Redactor({"A": "abcabd-secret", "B": "abcab"})
    text = "xxabcabcabd-secret yy abcab zz abca"
    expected = redact(text)
    assert "secret" not in expected and expected.count(MASK) == 2
    for first in range(len(text) + 1):
        for second in range(first, len(text) + 1):
            stream = redact.stream()
            pieces = (text[:first], text[first:second], text[second:])
            assert "".join(stream.feed(p) for p in pieces) + stream.finish() == expected, (first, second)


def test_short_secrets_are_refused_by_the_masking_layer_itself():
    from runnable.engine.capture import Redactor
    from runnable.errors import RunnableError

    with pytest.raises(RunnableError, match=r"secret 'PIN' is 2 character\(s\) long"):
        Redactor({"PIN": "42"})
    with pytest.raises(RunnableError, match=r"^a secret is 3 character"):
        Redactor(["abc"])
    assert Redactor({"EMPTY": "", "OK": "abcd"}).secrets == ["abcd"]


def test_steps_with_secrets_in_two_threads_take_turns_on_the_descriptors_and_leak_nothing(scratch, capfd, monkeypatch):
    import threading

    for name in ("ALPHA", "BETA"):
        monkeypatch.setenv(name, "")

    def shout(name: str) -> None:
        subprocess.run(["sh", "-c", f'echo "{name} says ${name}"'], check=True)

    logs = {}

    def run(name: str) -> None:
        os.environ[name] = f"{name.lower()}-secret-value-0042"
        pipeline = Pipeline(steps=[PythonTask(name="shout", function=lambda: shout(name), secrets=[name])])
        logs[name] = pipeline.execute(run_id=f"t-{name.lower()}")

    threads = [threading.Thread(target=run, args=(name,)) for name in ("ALPHA", "BETA")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert {name: log.status for name, log in logs.items()} == {"ALPHA": "SUCCESS", "BETA": "SUCCESS"}
    shown = "".join(capfd.readouterr())
    persisted = _all_text(scratch / ".catalog", scratch / ".run_log_store")
    for name in ("ALPHA", "BETA"):
        assert f"{name.lower()}-secret-value-0042" not in shown + persisted
        log = (scratch / ".catalog" / f"t-{name.lower()}" / "shout.execution.log").read_text()
        assert f"{name} says ********" in log
    assert os.fstat(1).st_ino == os.fstat(sys.__stdout__.fileno()).st_ino  # descriptor 1 is back where it was
