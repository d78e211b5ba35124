"""Parameters flow between python, shell and notebook tasks as SPEC §6 says."""

from __future__ import annotations

import argparse
import json

import nbformat
import pytest
from core_helpers import run_log, write
from pydantic import BaseModel
from runnable import Catalog, NotebookTask, Pipeline, PythonTask, ShellTask, metric, pickled
from runnable.sdk import ExecutionFailedError


class Config(BaseModel):
    lr: float
    layers: list[int]


class Model:
    def __init__(self, weights):
        self.weights = weights


def test_file_then_environment_overrides(scratch, monkeypatch):
    write(scratch / "params.yaml", "alpha: 1\nname: from-file\nnested: {a: 1}\n")
    monkeypatch.setenv("RUNNABLE_PRM_ALPHA", "2")  # JSON value, name lower-cased
    monkeypatch.setenv("RUNNABLE_PRM_word", "plain text")  # not JSON: kept as a string
    seen = {}

    def look(alpha: int, name: str, nested: dict, word: str):
        seen.update(alpha=alpha, name=name, nested=nested, word=word)

    Pipeline(steps=[PythonTask(name="look", function=look)]).execute(parameters_file="params.yaml", run_id="r")
    assert seen == {"alpha": 2, "name": "from-file", "nested": {"a": 1}, "word": "plain text"}
    log = run_log(scratch, "r")
    assert log["initial_parameters"]["alpha"]["value"] == 2
    assert set(log["steps"]["look"]["attempts"][0]["input_parameters"]) == {"alpha", "name", "nested", "word"}


def test_binding_pydantic_kwargs_defaults_and_return_kinds(scratch):
    write(scratch / "params.yaml", "config: {lr: 0.1, layers: [2, 3]}\nseed: 3\n")
    received = {}

    def train(config: Config, seed: int, epochs: int = 5):
        assert isinstance(config, Config)
        received["train"] = (config.lr, seed, epochs)
        return Model([config.lr] * seed), 0.75, Config(lr=config.lr * 2, layers=config.layers)

    def evaluate(model: Model, accuracy: float, **kwargs):
        received["evaluate"] = (model.weights, accuracy, sorted(kwargs))
        return [accuracy, accuracy / 2]

    Pipeline(
        steps=[
            PythonTask(name="train", function=train, returns=[pickled("model"), metric("accuracy"), "tuned"]),
            PythonTask(name="evaluate", function=evaluate, returns=[metric("curve")]),
        ]
    ).execute(parameters_file="params.yaml", run_id="kinds")

    assert received["train"] == (0.1, 3, 5)
    assert received["evaluate"][0] == [0.1, 0.1, 0.1]
    assert received["evaluate"][2] == ["config", "seed", "tuned"]  # **kwargs gets every other parameter
    log = run_log(scratch, "kinds")
    params = log["parameters"]
    assert params["model"] == {"kind": "object", "value": "model", "description": ""}  # only the name is kept
    assert (scratch / ".catalog" / "kinds" / "model.pickle").is_file()
    assert params["accuracy"]["kind"] == "metric" and params["accuracy"]["value"] == 0.75
    assert params["tuned"]["value"] == {"lr": 0.2, "layers": [2, 3]}  # pydantic returns stored as JSON
    assert log["steps"]["evaluate"]["attempts"][0]["user_defined_metrics"] == {"curve": [0.75, 0.375]}


def test_argparse_namespace_receives_the_parameters_not_bound_by_name(scratch):
    """The original runnable's rule: a function written for argparse runs unchanged as a task."""
    write(scratch / "params.yaml", "integer: 1\nfloater: 3.14\nstringer: hello\nnested: {x: 10}\n")
    seen = {}

    def use_args(integer: int, args: argparse.Namespace):
        seen["integer"] = integer
        seen["args"] = vars(args)

    def with_model(config: Config, opts: argparse.Namespace, epochs: int = 2):
        seen["model"] = (config.lr, epochs, sorted(vars(opts)))

    Pipeline(steps=[PythonTask(name="use", function=use_args)]).execute(parameters_file="params.yaml", run_id="ns")
    assert seen["integer"] == 1
    assert seen["args"] == {"floater": 3.14, "stringer": "hello", "nested": {"x": 10}}

    write(scratch / "params2.yaml", "config: {lr: 0.5, layers: [1]}\nepochs: 4\nseed: 7\n")
    Pipeline(steps=[PythonTask(name="m", function=with_model)]).execute(parameters_file="params2.yaml", run_id="ns2")
    assert seen["model"] == (0.5, 4, ["seed"])  # config and epochs are bound by name, only seed is left


def test_argparse_namespace_from_a_yaml_pipeline(scratch):
    write(
        scratch / "tasks_ns.py",
        "import argparse\n\n"
        "def train(lr: float, args: argparse.Namespace):\n"
        "    assert lr == 0.1 and args.epochs == 3 and not hasattr(args, 'lr')\n"
        "    return args.epochs * 2\n",
    )
    write(scratch / "params.yaml", "lr: 0.1\nepochs: 3\n")
    write(
        scratch / "p.yaml",
        "dag:\n  start_at: train\n  steps:\n    train:\n      type: task\n      command: tasks_ns.train\n"
        "      returns: [doubled]\n      next: success\n",
    )
    from runnable.entrypoints import load_graph, run_graph

    log = run_graph(load_graph(scratch / "p.yaml"), parameters_file="params.yaml", run_id="nsy")
    assert log.status == "SUCCESS"
    assert log.parameters["doubled"].value == 6


def test_single_return_name_takes_the_whole_value(scratch):
    def pair():
        return (1, 2)

    Pipeline(steps=[PythonTask(name="pair", function=pair, returns=["both"])]).execute(run_id="w")
    assert run_log(scratch, "w")["parameters"]["both"]["value"] == [1, 2]


def test_non_json_return_is_a_clear_failure(scratch):
    def bad():
        return object()

    with pytest.raises(Exception, match="failed"):
        Pipeline(steps=[PythonTask(name="bad", function=bad, returns=["thing"])]).execute(run_id="nj")
    step = run_log(scratch, "nj")["steps"]["bad"]
    assert step["status"] == "FAIL"
    assert "return 'thing' (object) is not JSON serialisable" in step["message"]


def test_shell_gets_parameters_as_environment_and_exports_returns(scratch):
    write(scratch / "params.yaml", "greeting: hello\ncount: 3\nitems: [1, 2]\n")

    def check(doubled: int, words: str, listing: list):
        assert (doubled, words, listing) == (6, "hello world", [1, 2, 3])

    Pipeline(
        steps=[
            ShellTask(
                name="shell",
                command='echo "got $greeting $count $items"; echo oops >&2\n'
                'export doubled=$((count * 2)); export words="$greeting world"; export listing="[1, 2, 3]"',
                returns=["doubled", "words", "listing"],
            ),
            PythonTask(name="check", function=check),
        ]
    ).execute(parameters_file="params.yaml", run_id="sh")
    log = run_log(scratch, "sh")
    assert log["status"] == "SUCCESS"
    assert log["parameters"]["doubled"]["value"] == 6
    output = (scratch / ".catalog" / "sh" / "shell.execution.log").read_text()
    assert "got hello 3 [1, 2]" in output and "oops" in output


NOTEBOOK_CELLS = [
    ("code", "factor = 1  # default", ["parameters"]),
    ("code", "scaled = [x * factor for x in values]\nprint('scaled', scaled)\nscore = sum(scaled) / len(scaled)", []),
]


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    for _kind, source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.mark.notebook
def test_notebook_gets_parameters_and_returns_values(scratch):
    _notebook(scratch / "scale.ipynb", NOTEBOOK_CELLS)
    write(scratch / "params.yaml", "factor: 3\nvalues: [1, 2, 3]\n")

    def after(scaled: list, score: float):
        assert scaled == [3, 6, 9] and score == 6.0

    Pipeline(
        steps=[
            NotebookTask(name="scale", notebook="scale.ipynb", returns=["scaled", metric("score")]),
            PythonTask(name="after", function=after),
        ]
    ).execute(parameters_file="params.yaml", run_id="nb")
    log = run_log(scratch, "nb")
    assert log["status"] == "SUCCESS"
    assert log["parameters"]["score"] == {"kind": "metric", "value": 6.0, "description": ""}
    executed = json.loads((scratch / ".catalog" / "nb" / "scale-scale_out.ipynb").read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert "factor = 3" in "".join(injected[0]["source"])
    assert executed["cells"].index(injected[0]) == 1  # right after the 'parameters' cell
    outputs = [o for c in executed["cells"] for o in c.get("outputs", [])]
    assert any("scaled [3, 6, 9]" in "".join(o.get("text", "")) for o in outputs)
    assert not any("_runnable_pickle" in "".join(c["source"]) for c in executed["cells"])


@pytest.mark.notebook
def test_failing_notebook_keeps_the_executed_notebook(scratch):
    _notebook(scratch / "boom.ipynb", [("code", "print('before')\n1 / 0", [])])
    with pytest.raises(ExecutionFailedError):
        Pipeline(steps=[NotebookTask(name="boom", notebook="boom.ipynb")]).execute(run_id="nbf")
    step = run_log(scratch, "nbf")["steps"]["boom"]
    assert step["status"] == "FAIL"
    assert "ZeroDivisionError" in step["message"] and "boom.ipynb" in step["message"]
    assert (scratch / ".catalog" / "nbf" / "boom-boom_out.ipynb").is_file()
    log_text = (scratch / ".catalog" / "nbf" / "boom.execution.log").read_text()
    assert "before" in log_text and "ZeroDivisionError" in log_text


def test_catalog_files_flow_between_steps(scratch):
    def make():
        (scratch / "out" / "deep").mkdir(parents=True)
        (scratch / "out" / "a.csv").write_text("a")
        (scratch / "out" / "deep" / "b.csv").write_text("b")

    def use():
        assert (scratch / "out" / "deep" / "b.csv").read_text() == "b"

    def wipe():
        import shutil

        shutil.rmtree(scratch / "out")

    Pipeline(
        steps=[
            PythonTask(name="make", function=make, catalog=Catalog(put=["out"])),
            PythonTask(name="wipe", function=wipe),
            PythonTask(name="use", function=use, catalog=Catalog(get=["out/**/*.csv"])),
        ]
    ).execute(run_id="files")
    log = run_log(scratch, "files")
    assert log["status"] == "SUCCESS"
    assert sorted(e["name"] for e in log["steps"]["make"]["data_catalog"]) == ["out/a.csv", "out/deep/b.csv"]


def test_max_attempts_retries_a_flaky_task(scratch):
    write(
        scratch / "pipeline.yaml",
        """
        dag:
          start_at: flaky
          steps:
            flaky:
              type: task
              command: tasks_flaky.flaky
              max_attempts: 3
              returns: [tries]
              next: success
        """,
    )
    write(
        scratch / "tasks_flaky.py",
        """
        from pathlib import Path

        def flaky():
            counter = Path("tries.txt")
            tries = int(counter.read_text()) + 1 if counter.exists() else 1
            counter.write_text(str(tries))
            print("attempt", tries)
            if tries < 3:
                raise RuntimeError(f"flaked on try {tries}")
            return tries
        """,
    )
    from runnable.entrypoints import load_graph, run_graph

    graph = load_graph(scratch / "pipeline.yaml")
    log = run_graph(graph, run_id="retry")
    step = log.steps["flaky"]
    assert log.status == "SUCCESS" and step.status == "SUCCESS"
    assert [a.status for a in step.attempts] == ["FAIL", "FAIL", "SUCCESS"]
    assert step.attempts[0].message == "RuntimeError: flaked on try 1"
    catalog = scratch / ".catalog" / "retry"
    assert "flaked on try 2" in (catalog / "flaky.attempt-2.execution.log").read_text()
    assert log.parameters["tries"].value == 3
