"""The benchmark workloads: each is a runnable pipeline and the same work done in plain Python.

Every workload comes as a pair so that results read as ratios on any machine: the plain-Python *baseline*
does exactly the work the tasks do (the same function calls, the same pickling, the same interpreter
start), and whatever the pipeline takes on top of it is runnable's cost. The task functions are trivial on
purpose: the less work they do, the more the measurement is about the engine around them.

A timed call covers everything a user waits for, from ``Pipeline(...)`` to the returned run log: building
the graph (about 0.01 ms a step), creating the run log, every step record, the console reporter's lines and
summary table, and closing the run log. Nothing is cached between runs: each starts in an empty folder.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ---- task functions (module level: they are what the steps and the baselines call) ---------------------


def increment(x: int) -> int:
    """W1's step: take the int the previous step returned, return it plus one."""
    return x + 1


def square(item: int) -> int:
    """W2's branch: one call per map item."""
    return item * item


#: W2's reducer, as a pipeline author writes it (a lambda in a string); the baseline evaluates the same text.
REDUCER = "lambda *y: sum(y)"

_OBJECT: bytes = b""


def produce() -> bytes:
    """W3's first step: hand over a ready-made object, so that only moving it is measured, not making it."""
    return _OBJECT


def consume(blob: bytes) -> int:
    """W3's second step: receive the object (unpickled from the catalog) and touch it."""
    return len(blob)


# ---- cases -----------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One row of the results: a workload at one size, with its plain-Python twin.

    ``run`` and ``baseline`` are timed; both return a value that must equal ``expected`` (checked outside the
    timer), so a benchmark that silently did less work than it claims fails instead of looking fast.
    """

    workload: str  # "W1" ... "W4"
    title: str  # what the workload is, for the table
    size: str  # the size as shown in the table: "N=100", "50 MB", "`import runnable`"
    units: int  # what the overhead is divided by: steps, items, objects, commands
    unit: str  # "step", "item", "object", "run"
    run: Callable[[], Any]
    baseline: Callable[[], Any]
    expected: Any
    # Set in os.environ around every run and baseline (untimed), e.g. the initial parameters.
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[], None] | None = None  # called once before the case's first run (untimed)
    teardown: Callable[[], None] | None = None
    # The same run with the console reporter switched off (W1, W2): timed right after ``run`` in each round,
    # so (run - quiet) is what the live output and the end-of-run summary cost.
    quiet: Callable[[], Any] | None = None
    baseline_label: str = ""  # what the baseline is, when it is not the same work in plain Python


class _NoConsole:
    """Stands in for the console reporter: an observer with no hooks, so the run prints nothing at all."""

    def __init__(self, context: Any) -> None:
        pass


def without_console(call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` with the front door's console reporter replaced by :class:`_NoConsole` for its duration.

    The front door imports the reporter class when a run starts, so swapping the module attribute is enough;
    everything else (engine, run log, catalog) is the same run.
    """

    def quiet() -> Any:
        import runnable.reporting as reporting

        real = reporting.ConsoleReporter
        reporting.ConsoleReporter = _NoConsole  # type: ignore[assignment,misc]
        try:
            return call()
        finally:
            reporting.ConsoleReporter = real  # type: ignore[misc]

    return quiet


def chain_case(steps: int) -> Case:
    """W1: a chain of ``steps`` python steps, each binding the int ``x`` and returning ``x + 1``."""

    def run() -> int:
        from runnable import Pipeline, PythonTask

        pipeline = Pipeline(
            steps=[PythonTask(name=f"step{i}", function=increment, returns=["x"]) for i in range(steps)]
        )
        log = pipeline.execute()
        assert log is not None
        return log.parameters["x"].value

    def baseline() -> int:
        x = 0
        for _ in range(steps):
            x = increment(x)
        return x

    return Case(
        workload="W1",
        title="chain of python steps",
        size=f"N={steps}",
        units=steps,
        unit="step",
        run=run,
        baseline=baseline,
        expected=steps,
        env={"RUNNABLE_PRM_x": "0"},
        quiet=without_console(run),
    )


def map_case(items: int) -> Case:
    """W2: a map over ``items`` ints (the initial parameter ``items``), squaring each, reduced by a sum."""

    def run() -> int:
        from runnable import Map, Pipeline, PythonTask

        branch = Pipeline(steps=[PythonTask(name="square", function=square, returns=["y"])])
        pipeline = Pipeline(
            steps=[Map(name="map", branch=branch, iterate_on="items", iterate_as="item", reducer=REDUCER)]
        )
        log = pipeline.execute()
        assert log is not None
        return log.parameters["y"].value

    def baseline() -> int:
        reducer = eval(REDUCER)  # the engine evaluates the reducer once per map step too
        return reducer(*[square(item) for item in range(items)])

    return Case(
        workload="W2",
        title="map + reduce",
        size=f"M={items}",
        units=items,
        unit="item",
        run=run,
        baseline=baseline,
        expected=sum(i * i for i in range(items)),
        env={"RUNNABLE_PRM_items": json.dumps(list(range(items)))},
        quiet=without_console(run),
    )


def object_case(megabytes: int) -> Case:
    """W3: a ``megabytes`` MB object returned as ``pickled("blob")`` by one step and read by the next.

    The object is random bytes: pickling it is little more than a copy, so the comparison is about what
    the catalog adds to writing, reading and unpickling a file, not about pickle itself. Random, so that a
    compressing file system cannot flatter either side.
    """
    size = megabytes * 1024 * 1024

    def setup() -> None:
        global _OBJECT
        _OBJECT = os.urandom(size)

    def teardown() -> None:
        global _OBJECT
        _OBJECT = b""

    def run() -> int:
        from runnable import Pipeline, PythonTask, pickled

        pipeline = Pipeline(
            steps=[
                PythonTask(name="produce", function=produce, returns=[pickled("blob")]),
                PythonTask(name="consume", function=consume, returns=["n"]),
            ]
        )
        log = pipeline.execute()
        assert log is not None
        return log.parameters["n"].value

    def baseline() -> int:
        # A new file, as the catalog writes one per run (overwriting a cached file would be cheaper).
        with open("object.pickle", "wb") as target:
            pickle.dump(produce(), target, protocol=pickle.HIGHEST_PROTOCOL)
        with open("object.pickle", "rb") as source:
            return consume(pickle.load(source))

    return Case(
        workload="W3",
        title="pickled object between two steps",
        size=f"{megabytes} MB",
        units=1,
        unit="object",
        run=run,
        baseline=baseline,
        expected=size,
        setup=setup,
        teardown=teardown,
    )


def subprocess_environment() -> dict[str, str]:
    """What the W4/W5 subprocesses run with: no user runnable settings, and bytecode caching on.

    ``PYTHONDONTWRITEBYTECODE`` (set on some CI machines) makes every start compile every module from source,
    several times what an installed package costs; the warm-up round writes the caches, as an install does.
    """
    drop = ("PYTHONDONTWRITEBYTECODE",)
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("RUNNABLE_")}


def _command(argv: list[str]) -> Callable[[], int]:
    def run() -> int:
        return subprocess.run(argv, stdout=subprocess.DEVNULL, env=subprocess_environment(), check=True).returncode

    return run


def cli_command() -> list[str]:
    """``runnable`` as a user types it: the console script next to this interpreter when installed there,
    else ``python -m runnable`` (which also imports runpy, so it is a little slower)."""
    script = Path(sys.executable).parent / ("runnable.exe" if sys.platform == "win32" else "runnable")
    if script.is_file():
        return [str(script)]  # with PYTHONPATH set, the script imports runnable from there too
    return [sys.executable, "-m", "runnable"]


#: A one-step pipeline file for ``runnable execute-step`` (W4) and the emulator's workloads (W5).
STEP_PIPELINE = """\
from runnable import Map, Pipeline, PythonTask


def increment(x: int) -> int:
    return x + 1


def square(item: int) -> int:
    return item * item


def main():
    kind, size = "{kind}", {size}
    if kind == "map":
        branch = Pipeline(steps=[PythonTask(name="square", function=square, returns=["y"])])
        steps = [Map(name="map", branch=branch, iterate_on="items", iterate_as="item", reducer="lambda *y: sum(y)")]
    else:
        steps = [PythonTask(name=f"step{{i}}", function=increment, returns=["x"]) for i in range(size)]
    pipeline = Pipeline(steps=steps)
    pipeline.execute()
    return pipeline


if __name__ == "__main__":
    main()
"""

EMULATOR_CONFIG = "pipeline-executor:\n  type: emulator\n"


class _Folder:
    """A temporary folder made by a case's setup and removed by its teardown (pipeline files live there)."""

    def __init__(self) -> None:
        self.path = Path()

    def make(self) -> None:
        import tempfile

        self.path = Path(tempfile.mkdtemp(prefix="runnable-bench-files-"))

    def remove(self) -> None:
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)


ONE_MODEL = "class M(BaseModel): x: int"
ONE_MODEL_CODE = "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int"


def startup_cases() -> list[Case]:
    """W4: interpreter start-ups in subprocesses, each against the start-up it is measured against.

    ``import runnable`` and ``runnable --help`` against ``python -c pass``; what a pipeline file pays to get
    at the SDK against ``import pydantic`` (the SDK is pydantic models); one trivial step run by
    ``runnable execute-step`` in a fresh process (what an orchestrator's container does) against that SDK
    import. One more row is no runnable code at all: a single pydantic model defined, against ``import
    pydantic``. It is the floor of any process that validates a record, so it says how far the two ratios
    above can go together: ``execute-step`` can cost no less than it, and it is already more than 1.5 × 1.5
    times ``import pydantic`` (README, "Start-up").
    """
    python = [sys.executable, "-c"]
    cli = cli_command()
    folder = _Folder()
    counter = iter(range(1_000_000))

    def setup() -> None:
        folder.make()
        (folder.path / "one_step.py").write_text(STEP_PIPELINE.format(kind="chain", size=1))

    def execute_step() -> int:
        argv = [*cli, "execute-step", str(folder.path / "one_step.py"), "step0", "--run-id", f"b{next(counter)}"]
        env = {**subprocess_environment(), "RUNNABLE_PRM_x": "0"}
        return subprocess.run(argv, stdout=subprocess.DEVNULL, env=env, check=True).returncode

    sdk = "from runnable import Pipeline, PythonTask"
    cases = [
        ("`import runnable`", _command([*python, "import runnable"]), "pass", None),
        ("`runnable --help`", _command([*cli, "--help"]), "pass", None),
        (f"`{sdk}`", _command([*python, sdk]), "import pydantic", None),
        (f"one pydantic model (`{ONE_MODEL}`)", _command([*python, ONE_MODEL_CODE]), "import pydantic", None),
        ("`runnable execute-step` (one python step)", execute_step, sdk, (setup, folder.remove)),
    ]
    return [
        Case(
            workload="W4",
            title="start-up (subprocess)",
            size=label,
            units=1,
            unit="run",
            run=run,
            baseline=_command([*python, baseline]),
            expected=0,
            setup=hooks[0] if hooks else None,
            teardown=hooks[1] if hooks else None,
            baseline_label=f'`python -c "{baseline}"`',
        )
        for label, run, baseline, hooks in cases
    ]


def emulator_cases(chain: int, items: int) -> list[Case]:
    """W5: the ``emulator`` executor (one fresh process per step, as an orchestrator runs them) on a chain of
    ``chain`` python steps and a map over ``items`` items, against the same pipeline file on the local
    executor, both started as ``runnable execute FILE``: the difference is what the container path adds."""
    cli = cli_command()
    folder = _Folder()

    def setup() -> None:
        folder.make()
        (folder.path / "chain.py").write_text(STEP_PIPELINE.format(kind="chain", size=chain))
        (folder.path / "map.py").write_text(STEP_PIPELINE.format(kind="map", size=items))
        (folder.path / "emulator.yaml").write_text(EMULATOR_CONFIG)

    def execute(name: str, emulated: bool, env: dict[str, str]) -> Callable[[], int]:
        def run() -> int:
            argv = [*cli, "execute", str(folder.path / name)]
            if emulated:
                argv += ["-c", str(folder.path / "emulator.yaml")]
            merged = {**subprocess_environment(), **env}
            return subprocess.run(argv, stdout=subprocess.DEVNULL, env=merged, check=True).returncode

        return run

    chain_env = {"RUNNABLE_PRM_x": "0"}
    map_env = {"RUNNABLE_PRM_items": json.dumps(list(range(items)))}
    return [
        Case(
            workload="W5",
            title="emulator executor",
            size=f"chain N={chain}",
            units=chain,
            unit="step",
            run=execute("chain.py", True, chain_env),
            baseline=execute("chain.py", False, chain_env),
            expected=0,
            setup=setup,
            baseline_label="the same file on the local executor",
        ),
        Case(
            workload="W5",
            title="emulator executor",
            size=f"map M={items}",
            units=items,
            unit="item",
            run=execute("map.py", True, map_env),
            baseline=execute("map.py", False, map_env),
            expected=0,
            teardown=folder.remove,
            baseline_label="the same file on the local executor",
        ),
    ]
