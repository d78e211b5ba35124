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
