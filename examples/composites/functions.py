"""Task code for the composite-steps example: plain functions, no runnable imports."""


def make_grid() -> tuple[list[float], list[int]]:
    return [0.01, 0.1, 0.3], [1, 2]


def train(learning_rate: float, depth: int) -> float:
    # a stand-in for real training: a score that peaks at learning_rate=0.1, depth=2
    return round(1 - abs(learning_rate - 0.1) - abs(depth - 2) * 0.05, 4)


def summarise(scores: list) -> tuple[float, str]:
    best = max(max(row) for row in scores)
    return best, "deploy" if best > 0.9 else "discard"


def improve(round: int, quality: float = 0.5) -> tuple[float, bool]:
    quality = min(1.0, quality + 0.2)
    return quality, quality >= 0.9
