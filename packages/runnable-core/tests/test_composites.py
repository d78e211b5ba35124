"""Parallel, map, conditional and loop steps: semantics, nesting, YAML forms, run log shape."""

from __future__ import annotations

import json
import logging

import pytest
from core_helpers import write
from runnable import Conditional, Loop, Map, Parallel, Pipeline, PythonTask, ShellTask, Stub, metric, pickled
from runnable.entrypoints import load_graph, run_graph
from runnable.sdk import ExecutionFailedError


def double(x: int) -> int:
    return 2 * x


def square(x: int) -> int:
    return x * x


def _branch(*steps) -> Pipeline:
    return Pipeline(steps=list(steps))


def _params(scratch, text: str) -> str:
    write(scratch / "params.yaml", text)
    return "params.yaml"


def test_map_default_reduction_is_a_list_in_iteration_order(scratch):
    log = Pipeline(
        steps=[
            Map(
                name="each",
                iterate_on="xs",
                iterate_as="x",
                branch=_branch(
                    PythonTask(name="double", function=double, returns=["doubled"]),
                    PythonTask(name="square", function=square, returns=[metric("squared")]),
                ),
            )
        ]
    ).execute(parameters_file=_params(scratch, "xs: [3, 1, 2]\n"), run_id="m")
    assert log.parameters["doubled"].value == [6, 2, 4]
    assert log.parameters["squared"].kind == "metric" and log.parameters["squared"].value == [9, 1, 4]
    each = log.steps["each"]
    assert list(each.branches) == ["each.3", "each.1", "each.2"]
    assert each.branches["each.1"].steps["each.1.double"].attempts[0].input_parameters["x"].value == 1
    assert each.branches["each.1"].status == "SUCCESS"


def test_map_custom_reducer_and_object_returns(scratch):
    def model(x: int):
        return {"weights": [x] * x}

    def pick(models: list, best: int):
        assert [len(m["weights"]) for m in models] == [1, 2, 3] and best == 9

    log = Pipeline(
        steps=[
            Map(
                name="train",
                iterate_on="xs",
                iterate_as="x",
                reducer="lambda *x: max(x)",
                branch=_branch(PythonTask(name="sq", function=square, returns=["best"])),
            ),
            Map(
                name="fit",
                iterate_on="xs",
                iterate_as="x",
                branch=_branch(PythonTask(name="model", function=model, returns=[pickled("models")])),
            ),
            PythonTask(name="pick", function=pick),
        ]
    ).execute(parameters_file=_params(scratch, "xs: [1, 2, 3]\n"), run_id="r")
    assert log.status == "SUCCESS"
    assert log.parameters["best"].value == 9
    assert log.parameters["models"].kind == "object"
    catalog = scratch / ".catalog" / "r"
    assert (catalog / "fit.2.models.pickle").is_file() and (catalog / "models.pickle").is_file()


def test_parallel_merges_returns_and_warns_on_clashes(scratch, caplog):
    def a() -> tuple:
        return 1, "from a"

    def b() -> tuple:
        return 2, "from b"

    with caplog.at_level(logging.WARNING, logger="runnable"):
        log = Pipeline(
            steps=[
                Parallel(
                    name="both",
                    branches={
                        "left": _branch(PythonTask(name="a", function=a, returns=["only_a", "shared"])),
                        "right": _branch(PythonTask(name="b", function=b, returns=["only_b", "shared"])),
                    },
                )
            ]
        ).execute(run_id="p")
    assert log.parameters["only_a"].value == 1 and log.parameters["only_b"].value == 2
    assert log.parameters["shared"].value == "from b"  # the later branch wins
    assert "parameter 'shared' returned by branches 'both.left' and 'both.right'" in caplog.text
    assert "the later wins" in log.steps["both"].message
    assert set(log.steps["both"].branches) == {"both.left", "both.right"}


def test_branches_see_a_copy_of_the_parameters(scratch):
    def bump(n: int) -> int:
        return n + 1

    log = Pipeline(
        steps=[
            Map(
                name="m",
                iterate_on="xs",
                iterate_as="x",
                branch=_branch(
                    PythonTask(name="bump", function=bump, returns=["n"]),
                    PythonTask(name="again", function=lambda n: n, returns=["bumped"]),
                ),
            ),
        ]
    ).execute(parameters_file=_params(scratch, "n: 10\nxs: [a, b]\n"), run_id="c")
    # n was returned inside the map, so it is reduced like any return; each iteration saw the original 10
    assert log.parameters["n"].value == [11, 11]
    assert log.parameters["bumped"].value == [11, 11]


def test_conditional_runs_the_matching_branch(scratch):
    def fast() -> str:
        return "fast path"

    def slow() -> str:
        return "slow path"

    pipeline = Pipeline(
        steps=[
            Conditional(
                name="pick",
                parameter="mode",
                branches={
                    "fast": _branch(PythonTask(name="f", function=fast, returns=["path"])),
                    "slow": _branch(PythonTask(name="s", function=slow, returns=["path"])),
                },
            )
        ]
    )
    log = pipeline.execute(parameters_file=_params(scratch, "mode: slow\n"), run_id="c1")
    assert log.parameters["path"].value == "slow path"
    assert list(log.steps["pick"].branches) == ["pick.slow"]
    with pytest.raises(ExecutionFailedError):
        pipeline.execute(parameters_file=_params(scratch, "mode: medium\n"), run_id="c2")


def test_loop_carries_parameters_until_break_on(scratch):
    def tick(i: int, total: int) -> tuple:
        total += i
        return total, total >= 6

    log = Pipeline(
        steps=[
            Loop(
                name="count",
                max_iterations=10,
                break_on="done",
                index_as="i",
                branch=_branch(PythonTask(name="tick", function=tick, returns=["total", "done"])),
            )
        ]
    ).execute(parameters_file=_params(scratch, "total: 0\n"), run_id="l")
    assert log.parameters["total"].value == 6  # 0 + 0 + 1 + 2 + 3
    assert list(log.steps["count"].branches) == ["count.0", "count.1", "count.2", "count.3"]


def test_loop_stops_at_max_iterations_and_shell_sees_the_index(scratch):
    log = Pipeline(
        steps=[
            Loop(
                name="spin",
                max_iterations=3,
                break_on="never",
                index_as="round",
                branch=_branch(
                    ShellTask(name="say", command='echo "round $round"; export last=$round', returns=["last"])
                ),
            )
        ]
    ).execute(run_id="l2")
    assert log.parameters["last"].value == 2
    assert "round 1" in (scratch / ".catalog" / "l2" / "spin.1.say.execution.log").read_text()


def never_stop() -> tuple[int, bool]:
    import os

    return int(os.environ.get("counter", "-1")), False


def test_loop_index_reaches_python_tasks_as_an_environment_variable_and_max_iterations_counts_rounds(scratch):
    """As in the original runnable's max-iterations example: max_iterations=3 runs rounds 0, 1 and 2, and a
    python task reads the round from the environment variable named by index_as."""
    log = Pipeline(
        steps=[
            Loop(
                name="max_iter_loop",
                max_iterations=3,
                break_on="should_stop",
                index_as="counter",
                branch=_branch(PythonTask(name="never_stop", function=never_stop, returns=["counter", "should_stop"])),
            )
        ]
    ).execute(run_id="l3")
    assert log.parameters["counter"].value == 2 and log.parameters["should_stop"].value is False
    rounds = log.steps["max_iter_loop"].branches
    assert list(rounds) == ["max_iter_loop.0", "max_iter_loop.1", "max_iter_loop.2"]


def test_a_failing_branch_fails_the_composite_and_follows_on_failure(scratch):
    def boom(x: int):
        if x == 2:
            raise RuntimeError("two is bad")

    def recover():
        print("recovered")

    with pytest.raises(ExecutionFailedError):
        Pipeline(
            steps=[
                Map(
                    name="m",
                    iterate_on="xs",
                    iterate_as="x",
                    branch=_branch(PythonTask(name="boom", function=boom)),
                    on_failure=_branch(PythonTask(name="recover", function=recover, terminate_with_failure=True)),
                )
            ]
        ).execute(parameters_file=_params(scratch, "xs: [1, 2, 3]\n"), run_id="f")
    log = json.loads((scratch / ".run_log_store" / "f.json").read_text())
    m = log["steps"]["m"]
    assert m["status"] == "FAIL" and m["branches"]["m.2"]["status"] == "FAIL"
    assert m["branches"]["m.1"]["status"] == "SUCCESS"
    assert m["branches"]["m.2"]["steps"]["m.2.boom"]["message"] == "RuntimeError: two is bad"
    assert log["steps"]["recover"]["status"] == "SUCCESS"


def test_deep_nesting_map_in_parallel_in_map(scratch):
    def cell(row: int, col: int) -> int:
        return row * 10 + col

    inner_map = Map(
        name="cols",
        iterate_on="cols",
        iterate_as="col",
        branch=_branch(PythonTask(name="cell", function=cell, returns=["value"])),
    )
    par = Parallel(name="par", branches={"grid": _branch(inner_map), "noop": _branch(Stub(name="nothing"))})
    log = Pipeline(steps=[Map(name="rows", iterate_on="rows", iterate_as="row", branch=_branch(par))]).execute(
        parameters_file=_params(scratch, "rows: [1, 2]\ncols: [1, 2, 3]\n"), run_id="deep"
    )
    assert log.parameters["value"].value == [[11, 12, 13], [21, 22, 23]]
    step = log.search_step("rows.2.par.grid.cols.3.cell")
    assert step.status == "SUCCESS" and step.attempts[0].output_parameters["value"].value == 23


YAML = """
dag:
  start_at: both
  steps:
    both:
      type: parallel
      next: each
      branches:
        left:
          start_at: a
          steps:
            a: {type: task, command: tasks_comp.double, returns: [doubled], next: success}
        right:
          start_at: b
          steps:
            b: {type: stub, next: success}
    each:
      type: map
      iterate_on: xs
      iterate_as: x
      reducer: "lambda *x: sum(x)"
      next: pick
      branch:
        start_at: sq
        steps:
          sq: {type: task, command: tasks_comp.square, returns: [squares], next: success}
    pick:
      type: conditional
      parameter: mode
      next: count
      branches:
        go:
          start_at: s
          steps:
            s: {type: stub, next: success}
    count:
      type: loop
      max_iterations: 2
      break_on: stop
      index_as: i
      next: success
      branch:
        start_at: t
        steps:
          t: {type: stub, next: success}
"""


def _sdk_equivalent():
    import tasks_comp

    return Pipeline(
        steps=[
            Parallel(
                name="both",
                branches={
                    "left": _branch(PythonTask(name="a", function=tasks_comp.double, returns=["doubled"])),
                    "right": _branch(Stub(name="b")),
                },
            ),
            Map(
                name="each",
                iterate_on="xs",
                iterate_as="x",
                reducer="lambda *x: sum(x)",
                branch=_branch(PythonTask(name="sq", function=tasks_comp.square, returns=["squares"])),
            ),
            Conditional(name="pick", parameter="mode", branches={"go": _branch(Stub(name="s"))}),
            Loop(name="count", max_iterations=2, break_on="stop", index_as="i", branch=_branch(Stub(name="t"))),
        ]
    )


def test_yaml_composites_match_the_sdk_and_run(scratch):
    write(
        scratch / "tasks_comp.py",
        "def double(x: int) -> int:\n    return 2 * x\n\n\ndef square(x):\n    return x * x\n",
    )
    write(scratch / "pipeline.yaml", YAML)
    graph = load_graph(scratch / "pipeline.yaml")
    assert graph.name == "pipeline"  # a YAML pipeline is named after its file
    assert graph.model_dump(exclude={"name"}) == _sdk_equivalent().return_dag().model_dump(exclude={"name"})
    log = run_graph(graph, parameters_file=_params(scratch, "x: 4\nxs: [1, 2, 3]\nmode: go\n"), run_id="y")
    assert log.status == "SUCCESS"
    assert log.parameters["doubled"].value == 8 and log.parameters["squares"].value == 14
    assert list(log.steps["count"].branches) == ["count.0", "count.1"]


def test_yaml_branch_errors_name_the_branch(scratch):
    bad = YAML.replace(
        "a: {type: task, command: tasks_comp.double, returns: [doubled], next: success}",
        "a: {type: task, command: tasks_comp.double, next: nowhere}",
    )
    write(scratch / "pipeline.yaml", bad)
    from runnable.errors import PipelineDefinitionError

    with pytest.raises(PipelineDefinitionError, match=r"step 'both', branch 'left': step 'a': next names no step"):
        load_graph(scratch / "pipeline.yaml")


def test_a_step_inside_a_branch_follows_its_own_on_failure(scratch):
    def flaky(x: int):
        if x == 2:
            raise ValueError("bad item")
        return x

    def fallback() -> int:
        return -1

    branch = Pipeline(
        steps=[
            PythonTask(
                name="try",
                function=flaky,
                returns=["value"],
                on_failure=Pipeline(steps=[PythonTask(name="fallback", function=fallback, returns=["value"])]),
            )
        ]
    )
    log = Pipeline(steps=[Map(name="each", iterate_on="xs", iterate_as="x", branch=branch)]).execute(
        parameters_file=_params(scratch, "xs: [1, 2, 3]\n"), run_id="bf"
    )
    assert log.status == "SUCCESS"  # the branch recovered within itself, so the map succeeded
    assert log.parameters["value"].value == [1, -1, 3]
    item = log.steps["each"].branches["each.2"]
    assert item.steps["each.2.try"].status == "FAIL" and item.steps["each.2.fallback"].status == "SUCCESS"
