"""Secrets reach a task's environment only while it runs, and never the run log, catalog or output."""

from __future__ import annotations

import os

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
