"""Exact comparison of two emulators' scores, with the first differing events."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Comparison:
    a: str
    b: str
    events: int
    equal: int
    bit_exact: bool
    max_abs_diff: float | None = None
    examples: list[dict[str, float]] = field(default_factory=list)

    def line(self) -> str:
        text = f"{self.a} vs {self.b}: {self.equal} of {self.events} events equal"
        return text if self.bit_exact else text + f"; first differences: {self.examples}"


def compare(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray, show: int = 5) -> Comparison:
    """Compare two score arrays value by value (no tolerance)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return Comparison(name_a, name_b, int(max(len(a), len(b))), 0, False,
                          examples=[{"shape_" + name_a: float(len(a)), "shape_" + name_b: float(len(b))}])
    diff = np.flatnonzero(a != b)
    c = Comparison(name_a, name_b, int(len(a)), int(len(a) - len(diff)), bool(len(diff) == 0))
    if len(diff):
        c.max_abs_diff = float(np.max(np.abs(a[diff] - b[diff])))
        c.examples = [{"event": int(i), name_a: float(a[i]), name_b: float(b[i])} for i in diff[:show]]
    return c
