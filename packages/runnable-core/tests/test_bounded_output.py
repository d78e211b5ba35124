"""A task printing 200 MB keeps the runner's memory bounded: captured output spills to a private temporary file
and is streamed into the catalog, never held whole. Peak RSS is measured in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

OUTPUT_MB = 200
# Well below the output: the spill threshold (1 M characters) plus pipe buffers and interpreter noise.
ALLOWED_GROWTH_MB = 60

MEASURE = textwrap.dedent(
    """
    import json, os, resource, sys
    from pathlib import Path

    from runnable.defaults.file_system_catalog import FileSystemCatalog
    from runnable.engine.capture import Redactor, capture_output
    from runnable.engine.objects import ParameterValues
    from runnable.engine.tasks import TaskResult
    from runnable.engine.tasks.python import PythonTaskType
    from runnable.engine.tasks.shell import ShellTaskType
    from runnable.models.graph import TaskNode

    MB = int(sys.argv[2])
    LINE = "0123456789abcdef" * 64 + "\\n"  # 1025 characters

    def chatter():
        for _ in range(MB * 1024):
            print(LINE, end="")

    kind, secrets = sys.argv[1], json.loads(sys.argv[3])
    if kind == "shell":
        node = TaskNode(name="big", command_type="shell", command=f"yes {LINE.strip()} | head -n {MB * 1024}")
        task = ShellTaskType()
    else:
        node = TaskNode(name="big", command="chatter")
        node._function = chatter
        task = PythonTaskType()
    catalog = FileSystemCatalog(catalog_location=".catalog")
    values = ParameterValues({}, catalog, "r", {})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    os.environ.update(secrets)
    with capture_output(Redactor(secrets)) as output:
        task.run(node, values, secrets, TaskResult())
    entry = output.save(catalog, "r", "big.execution.log")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stored = Path(".catalog/r/big.execution.log").stat().st_size
    print(json.dumps({"growth_kb": peak - before, "stored": stored, "hash": entry.data_hash}), file=sys.stderr)
    """
)


@pytest.mark.parametrize("kind", ["shell", "python"])
@pytest.mark.parametrize("secrets", [{}, {"API_TOKEN": "not-in-the-output-1234"}], ids=["plain", "with-secrets"])
def test_a_task_printing_200_mb_keeps_the_runner_memory_bounded(scratch, kind, secrets):
    script = scratch / "measure.py"
    script.write_text(MEASURE)
    done = subprocess.run(
        [sys.executable, str(script), kind, str(OUTPUT_MB), json.dumps(secrets)],
        cwd=scratch,
        stdout=subprocess.DEVNULL,  # the console side of the tee
        stderr=subprocess.PIPE,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(scratch), "PYTHONPATH": ":".join(sys.path)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["stored"] >= OUTPUT_MB * 1024 * 1024, "everything printed is in the execution log"
    assert result["growth_kb"] < ALLOWED_GROWTH_MB * 1024, f"peak RSS grew {result['growth_kb'] // 1024} MB"
    assert not list(scratch.glob("runnable-out-*")), "the spill file is removed once stored"


END_TO_END = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path

    from runnable import Pipeline, PythonTask, ShellTask

    MB = int(sys.argv[1])
    LINE = "0123456789abcdef" * 64 + "\\n"

    def chatter():
        for _ in range(MB * 1024):
            print(LINE, end="")

    shell = ShellTask(name="shell", command=f"yes {LINE.strip()} | head -n {MB * 1024}")
    pipeline = Pipeline(steps=[shell, PythonTask(name="python", function=chatter)])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pipeline.execute(run_id="big")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sizes = {p.name: p.stat().st_size for p in Path(".catalog/big").glob("*.execution.log")}
    print(json.dumps({"growth_kb": peak - before, "sizes": sizes}), file=sys.stderr)
    """
)


def test_a_pipeline_printing_200_mb_per_step_keeps_the_runner_memory_bounded(scratch):
    script = scratch / "pipeline_big.py"
    script.write_text(END_TO_END)
    done = subprocess.run(
        [sys.executable, str(script), str(OUTPUT_MB)],
        cwd=scratch,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=900,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(scratch), "PYTHONPATH": ":".join(sys.path)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["sizes"]["shell.execution.log"] >= OUTPUT_MB * 1024 * 1024
    assert result["sizes"]["python.execution.log"] >= OUTPUT_MB * 1024 * 1024
    assert result["growth_kb"] < ALLOWED_GROWTH_MB * 1024, f"peak RSS grew {result['growth_kb'] // 1024} MB"
    assert not list(scratch.glob("runnable-out-*")), "spill files are removed once stored"
