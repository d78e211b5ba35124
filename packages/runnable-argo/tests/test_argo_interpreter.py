"""The test interpreter itself follows Argo's rules on small hand-written manifests: retries, failure paths,
fan-out over an output parameter, ``when``, recursion (parity with local runs relies on it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from argo_interpreter import Interpreter, ManifestError
from manifest_checks import check

COUNT = 'n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; echo "{0} $n" >> log; '


def workflow(*templates: dict[str, Any]) -> dict[str, Any]:
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "t-"},
        "spec": {"entrypoint": templates[0]["name"], "templates": list(templates)},
    }
    check(manifest)
    return manifest


def shell(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, **extra, "container": {"image": "i", "command": ["sh", "-c"], "args": [script]}}


def dag(name: str, *tasks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, **extra, "dag": {"failFast": False, "tasks": list(tasks)}}


@pytest.mark.parametrize(("limit", "phase", "runs"), [(2, "Succeeded", 3), (1, "Failed", 2)])
def test_retry_strategy_retries_exit_3_up_to_its_limit(tmp_path: Path, limit: int, phase: str, runs: int) -> None:
    retry = {"limit": str(limit), "retryPolicy": "Always", "expression": "asInt(lastRetry.exitCode) == 3"}
    flaky = shell("flaky", COUNT.format("c") + '[ "$n" -ge 3 ] || exit 3', retryStrategy=retry)
    assert Interpreter(workflow(flaky), tmp_path).run() == phase
    assert (tmp_path / "c").read_text().strip() == str(runs)


def test_exit_1_is_not_retried_by_the_exit_3_expression(tmp_path: Path) -> None:
    retry = {"limit": "5", "retryPolicy": "Always", "expression": "asInt(lastRetry.exitCode) == 3"}
    assert Interpreter(workflow(shell("boom", COUNT.format("c") + "exit 1", retryStrategy=retry)), tmp_path).run()
    assert (tmp_path / "c").read_text().strip() == "1"


def test_failure_paths_omit_the_success_path_and_decide_the_phase(tmp_path: Path) -> None:
    main = dag(
        "main",
        {"name": "a", "template": "fails"},
        {"name": "b", "template": "ok-b", "depends": "a.Succeeded"},
        {"name": "c", "template": "ok-c", "depends": "a.Failed"},
        {"name": "d", "template": "ok-d", "depends": "b.Succeeded || c.Succeeded"},
    )
    templates = [main, shell("fails", "exit 1"), *(shell(f"ok-{x}", COUNT.format(x)) for x in "bcd")]
    assert Interpreter(workflow(*templates), tmp_path).run() == "Succeeded"  # the failure was handled
    assert (tmp_path / "log").read_text().split() == ["c", "1", "d", "1"]
    main["dag"]["tasks"][2]["template"] = "fails"  # the failure path fails too: a failed leaf fails the DAG
    (tmp_path / "log").unlink()
    assert Interpreter(workflow(*templates), tmp_path).run() == "Failed"


def test_with_param_when_and_recursion(tmp_path: Path) -> None:
    """A countdown: each call writes the keys it plans (an output parameter), runs them, and calls itself
    until a counter file says three rounds ran."""
    plan = shell(
        "plan",
        COUNT.format("rounds") + 'if [ "$n" -gt 3 ]; then echo "[]" > /tmp/out/keys; echo true > /tmp/out/done; '
        'else echo "[\\"a$n\\", \\"b$n\\"]" > /tmp/out/keys; echo false > /tmp/out/done; fi',
        outputs={
            "parameters": [
                {"name": "keys", "valueFrom": {"path": "/tmp/out/keys"}},
                {"name": "done", "valueFrom": {"path": "/tmp/out/done"}},
            ]
        },
    )
    plan["container"]["args"] = [
        plan["container"]["args"][0].replace("/tmp/out/keys", "$0").replace("/tmp/out/done", "$1")
    ]
    plan["container"]["args"] += ["/tmp/out/keys", "/tmp/out/done"]
    work = shell("work", 'echo "work {{inputs.parameters.key}}" >> log', inputs={"parameters": [{"name": "key"}]})
    loop = dag(
        "loop",
        {"name": "plan", "template": "plan"},
        {
            "name": "each",
            "template": "work",
            "depends": "plan.Succeeded",
            "withParam": "{{tasks.plan.outputs.parameters.keys}}",
            "when": "{{tasks.plan.outputs.parameters.done}} == false",
            "arguments": {"parameters": [{"name": "key", "value": "{{item}}"}]},
        },
        {"name": "again", "template": "loop", "depends": "each.Succeeded"},
    )
    assert Interpreter(workflow(loop, plan, work), tmp_path).run() == "Succeeded"
    worked = [line for line in (tmp_path / "log").read_text().splitlines() if line.startswith("work")]
    assert worked == ["work a1", "work b1", "work a2", "work b2", "work a3", "work b3"]


def test_what_it_does_not_understand_is_an_error(tmp_path: Path) -> None:
    fast = dag("main", {"name": "a", "template": "ok"})
    fast["dag"]["failFast"] = True
    with pytest.raises(ManifestError, match="failFast"):
        Interpreter(workflow(fast, shell("ok", "true")), tmp_path).run()
    with pytest.raises(ManifestError, match="no template"):
        Interpreter(
            {"spec": {"entrypoint": "main", "templates": [dag("main", {"name": "a", "template": "x"})]}}, tmp_path
        ).run()
