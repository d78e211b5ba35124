"""The benchmark runner works: one quick run at tiny sizes, in a subprocess, as a user would start it.

Nothing here looks at a timing. Benchmarks measure and tests check behaviour; a busy CI machine must not fail
the suite, and the numbers of a one-repeat run at N=5 mean nothing anyway. What is checked is that every
workload runs end to end (the runner itself refuses a run whose result is wrong), that the table is printed
and that the JSON the README is written from has everything in it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cli_helpers import REPO

RUNNER = REPO / "benchmarks" / "run.py"
HEADER = "| workload | size | median | min | max | baseline median | overhead per step/item | ratio |"


def test_quick_run_prints_the_table_and_writes_the_json(tmp_path: Path) -> None:
    target = tmp_path / "out" / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--quick", "--json", str(target)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    # the markdown table, one row per case, and the growth and target tables after it
    lines = done.stdout.splitlines()
    assert HEADER in lines
    rows = [line for line in lines if line.startswith("| W")]
    for workload, size in [("W1", "N=5"), ("W1", "N=20"), ("W2", "M=5"), ("W2", "M=50"), ("W3", "1 MB")]:
        assert any(row.startswith(f"| {workload} ") and f"| {size} |" in row for row in rows), (workload, size)
    assert sum(row.startswith("| W4 ") for row in rows) >= 2  # `import runnable`, `runnable --help`
    assert any("excess over linear" in line for line in lines)
    assert f"results written to {target}" in done.stdout

    document = json.loads(target.read_text())
    assert document["settings"]["quick"] is True
    assert document["settings"]["repeats"] == 1
    results = document["results"]
    assert {r["workload"] for r in results} == {"W1", "W2", "W3", "W4"}
    for result in results:
        assert len(result["times_s"]) == len(result["baseline_times_s"]) == 1
        assert result["min_s"] <= result["median_s"] <= result["max_s"]
        assert result["baseline_median_s"] > 0
    assert [g["workload"] for g in document["growth"]] == ["W1", "W2"]
    assert {g["to"] for g in document["growth"]} == {"N=20", "M=50"}
    assert document["targets"] and all(isinstance(t["met"], bool) for t in document["targets"])
    assert document["markdown"].startswith(HEADER)
