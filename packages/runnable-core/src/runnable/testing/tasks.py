"""Task functions the conformance pipelines run.

They live in an importable module (not in the suites' test methods) so the same pipelines work when a step
runs in another process, and so their dotted paths (``runnable.testing.tasks.produce``) are stable.
Task code never imports runnable; neither does this module, beyond the standard library.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

# What ``produce`` writes under its data folder: nested folders, an empty file, bytes that are not text.
PRODUCED: dict[str, bytes] = {
    "data/table.csv": b"a,b\n1,2\n3,4\n",
    "data/nested/deep/values.json": b'{"x": [1, 2, 3]}\n',
    "data/nested/empty.txt": b"",
    "data/blob.bin": bytes(range(256)) * 64,
}


def produce(rows: int) -> tuple[int, dict[str, list[int]]]:
    """Write :data:`PRODUCED` into the working directory; return a json value and an object."""
    for name, content in PRODUCED.items():
        path = Path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return rows * 2, {"weights": list(range(rows))}


# Where the consuming step's catalog ``get`` puts the files (its ``compute_data_folder``).
FETCHED = "fetched"


def consume(doubled: int, model: dict[str, list[int]]) -> int:
    """Check the files the catalog brought back are byte for byte what ``produce`` wrote."""
    for name, content in PRODUCED.items():
        found = (Path(FETCHED) / name).read_bytes()
        assert found == content, f"{name}: the catalog gave back different bytes"
    assert model == {"weights": list(range(doubled // 2))}, "the pickled object did not survive the catalog"
    return len(PRODUCED)


def fingerprint_secrets(secret_names: list[str]) -> str:
    """A SHA-256 over the secret values this task sees in its environment: proves delivery, reveals nothing."""
    digest = hashlib.sha256()
    for name in secret_names:
        digest.update(os.environ[name].encode())
        digest.update(b"\0")
    print(f"the task received {len(secret_names)} secrets")
    return digest.hexdigest()


def fingerprint(values: list[str]) -> str:
    """What :func:`fingerprint_secrets` returns for ``values``, computed by the test itself."""
    digest = hashlib.sha256()
    for value in values:
        digest.update(value.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def train(learning_rate: float) -> tuple[int, float]:
    """Returns a json parameter and a metric."""
    return 3, round(0.5 + learning_rate, 6)


def evaluate(epochs: int) -> tuple[float, float]:
    """Returns two metrics, one of them the same name ``train`` used."""
    return 0.9, 0.25 * epochs


def fail() -> None:
    raise RuntimeError("this task fails on purpose")


def noop() -> None:
    """Does nothing: steps that only need to exist."""


def write_job_output(size: int) -> tuple[int, float]:
    """A job: writes a file to keep and returns a json value and a metric."""
    Path("job-output").mkdir(exist_ok=True)
    Path("job-output/result.txt").write_text("x" * size)
    return size * 10, size / 10


# --- the pipelines a rendering executor's artifact is run with (RenderingExecutorSuite) -------------------


def setup_values() -> tuple[list[int], str, int]:
    return [1, 2, 3], "sweet", 10


def scale(item: int, factor: int) -> int:
    return item * factor


def refuse_two(item: int) -> int:
    """Fails for the item 2: its branch follows the step's on_failure."""
    if item == 2:
        raise ValueError("two is refused")
    return item


def count_rounds(round: int) -> tuple[int, bool]:
    """Loop body: done after the second round."""
    return round + 1, round >= 1


def flaky_once() -> int:
    """Fails the first time it runs in a folder, succeeds the second (a step with max_attempts: 2)."""
    from pathlib import Path

    marker = Path("flaky-once.marker")
    if not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError("the first attempt fails")
    return 2
