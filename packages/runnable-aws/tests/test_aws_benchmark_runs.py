"""benchmarks/s3_run_log.py runs end to end (tiny sizes). It asserts the results are complete, not their values:
benchmarks measure, tests check behaviour."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "s3_run_log.py"


def test_the_s3_run_log_benchmark_runs(tmp_path: Path) -> None:
    """It starts its own moto server (next to this interpreter, like the session's)."""
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--steps", "2", "4", "--repeats", "1", "--json", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())
    assert [r["steps"] for r in results["store"]] == [2, 4] and [r["steps"] for r in results["pipeline"]] == [2, 4]
    assert all(value > 0 for r in results["store"] for key, value in r.items() if key.endswith("_ms"))
    assert "| N=4 |" in done.stdout
