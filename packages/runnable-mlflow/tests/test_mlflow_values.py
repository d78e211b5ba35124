"""How values become MLflow params and metrics, the configuration block, and what importing costs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from runnable.errors import ConfigurationError
from runnable.plugins import get_registry
from runnable_mlflow import values
from runnable_mlflow.tracker import MlflowTracker


def test_parameters_are_flattened_and_written_as_text() -> None:
    assert values.params({"model": {"depth": 3, "kind": "tree", "extra": {}}, "rates": [0.1], "ok": True}) == {
        "model.depth": "3",
        "model.kind": "tree",
        "model.extra": "{}",
        "rates": "[0.1]",
        "ok": "true",
    }


def test_long_values_are_truncated_with_a_marker() -> None:
    (value,) = values.params({"note": "y" * 10_000}).values()
    assert len(value) == values.PARAM_VALUE_LIMIT and value.endswith(values.TRUNCATED)
    assert values.params({"short": "y" * values.PARAM_VALUE_LIMIT}) == {"short": "y" * values.PARAM_VALUE_LIMIT}


@pytest.mark.parametrize(
    ("name", "key"),
    [("accuracy", "accuracy"), ("a b/c:d-e.f", "a b/c:d-e.f"), ("loss(val)", "loss_val_"), ("/x//y/", "x/y"),
     ("../up", "__/up"), ("", "_")],
)  # fmt: skip
def test_keys_are_made_valid(name: str, key: str) -> None:
    assert values.key(name) == key
    assert len(values.key("k" * 300)) == values.KEY_LIMIT


def test_metric_values_are_points() -> None:
    assert values.numbers(3) == [3.0]
    assert values.numbers([0.5, 0.25]) == [0.5, 0.25]
    assert values.numbers(True) == [] and values.numbers("high") == []


def test_the_configuration_block_is_validated() -> None:
    registry = get_registry()
    assert registry.get("experiment-tracker", "mlflow") is MlflowTracker
    with pytest.raises(ConfigurationError, match=r"experiment-tracker.config.tracking_url: unknown key"):
        registry.create("experiment-tracker", "mlflow", {"tracking_url": "http://x"})
    with pytest.raises(ConfigurationError, match=r"experiment-tracker.config.request_retries: invalid value"):
        registry.create("experiment-tracker", "mlflow", {"request_retries": -1})


def test_a_password_in_the_tracking_uri_stays_out_of_the_run_log() -> None:
    tracker = MlflowTracker(tracking_uri="https://me:s3cret@mlflow.example.com:8443/path")
    recorded = tracker.masked_config()["config"]["tracking_uri"]
    assert "s3cret" not in recorded and recorded == "https://me:**********@mlflow.example.com:8443/path"


def test_loading_and_configuring_the_tracker_does_not_import_mlflow() -> None:
    program = """
import sys
import runnable
from runnable.plugins import get_registry
tracker = get_registry().create("experiment-tracker", "mlflow", {"tracking_uri": "http://127.0.0.1:1"})
print(sorted(name for name in sys.modules if name == "mlflow" or name.startswith("mlflow.")))
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("verbose", [False, True])
def test_quiet_calls_leave_the_process_as_they_found_it(verbose: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    import os

    from runnable_mlflow.session import MlflowSession

    for name in ("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")  # the user's own setting wins
    mlflow_logger = logging.getLogger("mlflow")
    before = mlflow_logger.level
    session = MlflowSession("http://127.0.0.1:1", "e", timeout=30, retries=1, verbose=verbose)
    with session.calls():
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "1"
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"
        assert ("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT" in os.environ) is not verbose
        assert (mlflow_logger.level == logging.ERROR) is not verbose
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ and os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"
    assert "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT" not in os.environ
    assert mlflow_logger.level == before
