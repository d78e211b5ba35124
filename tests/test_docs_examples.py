"""The examples the docs point at run as written."""

from __future__ import annotations

from cli_helpers import runnable_cli


def test_hello_in_python_and_yaml(with_examples):
    env = {"RUNNABLE_PRM_name": "world"}
    python = runnable_cli("execute", "examples/docs/hello.py", cwd=with_examples, env=env)
    assert python.code == 0, python.out + python.err
    assert "HELLO WORLD" in python.out
    yaml = runnable_cli("execute", "hello.yaml", cwd=with_examples / "examples" / "docs", env=env)
    assert yaml.code == 0, yaml.out + yaml.err
    assert "HELLO WORLD" in yaml.out


def test_composites_example(with_examples):
    result = runnable_cli("execute", "examples/composites/pipeline.py", "--run-id", "comp", cwd=with_examples)
    assert result.code == 0, result.out + result.err
    from cli_helpers import read_run_log

    log = read_run_log(with_examples, "comp")
    params = {name: p["value"] for name, p in log["parameters"].items()}
    assert params["scores"] == [[0.86, 0.91], [0.95, 1.0], [0.75, 0.8]]
    assert params["best"] == 1.0 and params["decision"] == "deploy"
    assert params["quality"] == 1.0 and params["good_enough"] is True
    assert list(log["steps"]["decide"]["branches"]) == ["decide.deploy"]
    assert "shipping model with score 1.0" in result.out
