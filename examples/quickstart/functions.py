"""Plain task code: nothing here imports runnable."""

import csv
from pathlib import Path

from pydantic import BaseModel


class Sampling(BaseModel):
    rows: int
    seed: int = 7


def generate(sampling: Sampling) -> int:
    """Write a small CSV of measurements and say how many rows it has."""
    Path("data").mkdir(exist_ok=True)
    with open("data/measurements.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "value"])
        for i in range(sampling.rows):
            writer.writerow([i, (i * sampling.seed) % 11])
    print(f"wrote {sampling.rows} rows to data/measurements.csv")
    return sampling.rows


def summarise(mean: float, verdict: str) -> dict:
    print(f"mean={mean:.3f} verdict={verdict}")
    return {"mean": mean, "verdict": verdict}
